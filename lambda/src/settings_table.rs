//! Every `DYN53_*` setting the backend reads, declared once: `--help`, docs/BACKEND.md's
//! table and the SAM template are checked against this list (tests below).

/// What a setting is when the environment leaves it unset (or empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Nothing works without it.
    Required,
    /// Stays unset; the text says what that means ("" when nothing needs saying).
    Unset(&'static str),
    /// This value, parsed like one from the environment.
    Value(&'static str),
}

/// How the SAM template (lambda/template.yaml) sets a setting on the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// The operator sets it through this template Parameter, whose Default is the code's.
    Parameter(&'static str),
    /// The stack fills it in from its own resources or a fixed value; not for the operator.
    Stack,
    /// Not in the template (local service, admin CLI, or a secret kept out of the stack).
    Absent,
}

/// One `DYN53_*` environment setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The environment variable.
    pub name: &'static str,
    /// Its value when unset.
    pub default: Fallback,
    /// One line for `--help` and the docs.
    pub help: &'static str,
    /// Whether an operator sets it through the template.
    pub template: Template,
}

const fn s(name: &'static str, default: Fallback, help: &'static str, t: Template) -> Setting {
    Setting {
        name,
        default,
        help,
        template: t,
    }
}

use Fallback::{Required, Unset, Value};
use Template::{Absent, Parameter, Stack};

/// The declarations, in the order `--help` and docs/BACKEND.md list them.
pub const SETTINGS: &[Setting] = &[
    s(
        "DYN53_TABLE",
        Required,
        "the DynamoDB table holding the hosts",
        Stack,
    ),
    s(
        "DYN53_TOPIC_ARN",
        Unset("notifications off"),
        "SNS topic for notifications",
        Stack,
    ),
    s(
        "DYN53_NONCE_KEY",
        Unset("key kept in the table"),
        "nonce MAC key, at least 32 characters (kept out of the stack: it is a secret)",
        Absent,
    ),
    s(
        "DYN53_KMS_KEY",
        Unset("host secrets stored in plaintext"),
        "KMS key (ARN or id) whose data key seals host secrets in the table (`host seal`)",
        Stack,
    ),
    s(
        "DYN53_RATE_LIMIT",
        Value("10/300"),
        "set calls allowed per host, as calls/seconds",
        Parameter("RateLimit"),
    ),
    s(
        "DYN53_CHANGE_LIMIT",
        Value("20/3600"),
        "record changes (and so change texts) allowed per host, as changes/seconds",
        Parameter("ChangeLimit"),
    ),
    s(
        "DYN53_NOTIFY_QUIET_SECS",
        Value("3600"),
        "at most one auth-failure and one error notification per host per this many seconds",
        Parameter("NotifyQuietSecs"),
    ),
    s(
        "DYN53_AUTH_FAILURE_MS",
        Value("250"),
        "least time an authentication failure takes to answer (hides which names exist)",
        Absent,
    ),
    s(
        "DYN53_LOCK_WAIT_MS",
        Value("3000"),
        "how long a set waits for another change of the same host (or retries lost races)",
        Absent,
    ),
    s(
        "DYN53_DNS_BUDGET_MS",
        Value("8000"),
        "time budget for retrying one throttled Route 53 call (fits the 20 s Lambda timeout)",
        Stack,
    ),
    s(
        "DYN53_METRICS_NAMESPACE",
        Value("dyn53"),
        "CloudWatch namespace of the CheckIn, Changed, LanChanged, AuthFailure and Error metrics",
        Parameter("MetricsNamespace"),
    ),
    s(
        "DYN53_RECORD_NAMES",
        Unset("any name"),
        "names the function may change (the stack's RecordNames); `host add` refuses others",
        Parameter("RecordNames"),
    ),
    s(
        "DYN53_ROUTE53_RATE",
        Value("8"),
        "Route 53 calls per second across all instances (0: no pacing)",
        Parameter("Route53Rate"),
    ),
    s(
        "DYN53_ROUTE53_BURST",
        Value("40"),
        "Route 53 calls allowed at once before pacing",
        Absent,
    ),
    s(
        "DYN53_RECORD_TRUST_SECS",
        Value("86400"),
        "seconds the table's memory of a record lets a change skip the Route 53 read",
        Absent,
    ),
    s(
        "DYN53_RECORD_CONFIRM_SECS",
        Value("3600"),
        "seconds a confirmed record answers a same-address set without a Route 53 read (0: never)",
        Parameter("RecordConfirmSecs"),
    ),
    s(
        "DYN53_MAX_CONNECTIONS_PER_ADDRESS",
        Value("32"),
        "local service only: connections one address may hold open (0: no limit)",
        Absent,
    ),
    s(
        "DYN53_URL",
        Unset(""),
        "function URL that `host add` and `host rotate` print into client configs",
        Absent,
    ),
    s(
        "DYN53_SSM_PATH",
        Unset("no push channels"),
        "SSM parameter path whose `channels/` parameters are the push alert channels",
        Stack,
    ),
    s(
        "DYN53_SILENT_CHECK_SECS",
        Value("900"),
        "local service only: seconds between two silent-host checks (0: none)",
        Absent,
    ),
];

/// The declaration of `name`. Panics on an undeclared name: a programming error that the
/// unit tests, which run every read, catch.
pub fn declared(name: &str) -> &'static Setting {
    SETTINGS
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{name} is read but not declared in settings_table::SETTINGS"))
}

/// `name`'s value through `get` (empty counts as unset), else its declared default value.
pub fn lookup(get: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    let setting = declared(name);
    match get(name).filter(|v| !v.trim().is_empty()) {
        Some(v) => Some(v),
        None => match setting.default {
            Value(v) => Some(v.to_string()),
            Required | Unset(_) => None,
        },
    }
}

/// `name` from the process environment, else its declared default value.
pub fn env(name: &str) -> Option<String> {
    lookup(&|k| std::env::var(k).ok(), name)
}

/// The environment section of `--help`.
pub fn help_section() -> String {
    let mut out = String::from("Environment (default in brackets):\n");
    for s in SETTINGS {
        let default = match s.default {
            Required => "required".to_string(),
            Unset("") => "unset".to_string(),
            Unset(meaning) => format!("unset: {meaning}"),
            Value(v) => v.to_string(),
        };
        out.push_str(&format!("  {} [{default}]\n      {}\n", s.name, s.help));
    }
    out
}

/// The rows of docs/BACKEND.md's settings table, one per declaration.
pub fn docs_rows() -> Vec<String> {
    SETTINGS
        .iter()
        .map(|s| {
            let default = match s.default {
                Required => "(required)".to_string(),
                Unset("") => "unset".to_string(),
                Unset(meaning) => format!("unset: {meaning}"),
                Value(v) => format!("`{v}`"),
            };
            let template = match s.template {
                Parameter(p) => format!("`{p}`"),
                Stack => "set by the stack".to_string(),
                Absent => "no".to_string(),
            };
            format!("| `{}` | {default} | {} | {template} |", s.name, s.help)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    #[test]
    fn names_are_unique_and_help_is_one_line() {
        let names: BTreeSet<_> = SETTINGS.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), SETTINGS.len(), "a setting is declared twice");
        for s in SETTINGS {
            assert!(s.name.starts_with("DYN53_"), "{}", s.name);
            assert!(
                !s.help.contains('\n') && !s.help.contains('|'),
                "{}",
                s.name
            );
        }
    }

    #[test]
    fn help_lists_every_setting_with_its_default() {
        let usage = crate::cli::usage();
        for s in SETTINGS {
            let line = usage
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("{} [", s.name)))
                .unwrap_or_else(|| panic!("--help lacks {}", s.name));
            if let Value(v) = s.default {
                assert!(line.contains(&format!("[{v}]")), "{line}");
            }
        }
        let listed = usage.matches("\n  DYN53_").count();
        assert_eq!(listed, SETTINGS.len(), "--help lists a setting twice");
    }

    #[test]
    fn backend_doc_table_matches_the_declarations() {
        let doc = include_str!("../../docs/BACKEND.md");
        let rows: Vec<&str> = doc.lines().filter(|l| l.starts_with("| `DYN53_")).collect();
        let want = docs_rows();
        assert_eq!(
            rows,
            want,
            "docs/BACKEND.md's settings table differs from settings_table::SETTINGS; \
             the rows it should hold:\n{}",
            want.join("\n")
        );
    }

    /// The template's top-level Parameters with their Default (None: no default).
    fn template_parameters(yaml: &str) -> BTreeMap<String, Option<String>> {
        let mut params = BTreeMap::new();
        let mut current: Option<String> = None;
        let mut in_params = false;
        for line in yaml.lines() {
            if !line.starts_with(' ') && !line.trim().is_empty() {
                in_params = line.trim_end() == "Parameters:";
                current = None;
                continue;
            }
            if !in_params {
                continue;
            }
            if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':')) {
                if !name.starts_with(' ') {
                    params.insert(name.to_string(), None);
                    current = Some(name.to_string());
                    continue;
                }
            }
            if let (Some(p), Some(d)) = (&current, line.trim().strip_prefix("Default:")) {
                let d = d.trim().trim_matches('"').to_string();
                params.insert(p.clone(), Some(d));
            }
        }
        params
    }

    /// The function's `Environment: Variables:` entries, name to value as written.
    fn template_environment(yaml: &str) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        let mut lines = yaml.lines().skip_while(|l| l.trim() != "Environment:");
        assert_eq!(lines.next().map(str::trim), Some("Environment:"));
        assert_eq!(lines.next().map(str::trim), Some("Variables:"));
        for line in lines {
            let indent = line.len() - line.trim_start().len();
            if indent <= 8 {
                break;
            }
            let (k, v) = line.trim().split_once(':').expect("NAME: value");
            env.insert(k.to_string(), v.trim().to_string());
        }
        assert!(
            yaml.matches("Environment:").count() == 1,
            "one function environment"
        );
        env
    }

    #[test]
    fn template_exposes_the_operator_settings_and_nothing_undeclared() {
        let yaml = include_str!("../template.yaml");
        let params = template_parameters(yaml);
        let env = template_environment(yaml);
        assert!(params.contains_key("HostedZoneIds"), "Parameters not found");
        assert!(env.contains_key("DYN53_TABLE"), "Environment not found");
        for name in env.keys() {
            assert!(name.starts_with("DYN53_"), "{name}");
            let s = SETTINGS.iter().find(|s| s.name == name);
            let s = s.unwrap_or_else(|| panic!("template sets undeclared {name}"));
            assert_ne!(s.template, Absent, "template sets {name}, declared Absent");
        }
        for s in SETTINGS {
            let value = env.get(s.name);
            match s.template {
                Parameter(p) => {
                    let value = value.unwrap_or_else(|| panic!("template lacks {}", s.name));
                    assert!(
                        value == &format!("!Ref {p}") || value.contains(&format!("!Ref {p}]")),
                        "{}: {value} should come from Parameter {p}",
                        s.name
                    );
                    let default = params
                        .get(p)
                        .unwrap_or_else(|| panic!("template lacks Parameter {p}"));
                    match (s.default, default) {
                        (Value(v), Some(d)) => assert_eq!(v, d, "Parameter {p}'s Default"),
                        (Value(v), None) => panic!("Parameter {p} needs Default {v}"),
                        (Required | Unset(_), _) => {}
                    }
                }
                Stack => {
                    let value = value.unwrap_or_else(|| panic!("template lacks {}", s.name));
                    // A fixed value must be the code's default (else declare a Parameter).
                    if let Value(v) = s.default {
                        assert_eq!(value.trim_matches('"'), v, "{}", s.name);
                    }
                }
                Absent => assert!(value.is_none()),
            }
        }
    }

    #[test]
    fn lookup_falls_back_to_the_declared_default() {
        let none = |_: &str| None;
        assert_eq!(lookup(&none, "DYN53_RATE_LIMIT").as_deref(), Some("10/300"));
        assert_eq!(lookup(&none, "DYN53_TABLE"), None);
        let blank = |_: &str| Some("  ".to_string());
        assert_eq!(
            lookup(&blank, "DYN53_LOCK_WAIT_MS").as_deref(),
            Some("3000")
        );
        let set = |_: &str| Some("7/60".to_string());
        assert_eq!(lookup(&set, "DYN53_RATE_LIMIT").as_deref(), Some("7/60"));
    }

    #[test]
    #[should_panic(expected = "not declared")]
    fn undeclared_names_are_refused() {
        lookup(&|_| None, "DYN53_NOT_A_SETTING");
    }
}
