//! A host's configuration: what one DynamoDB host item holds, with defaults and validation.

use crate::lan::LanRecord;
use dyn53::protocol::{normalize_hostname, RecordType};
use std::fmt;

/// Record TTL when the host item does not say.
pub const DEFAULT_TTL: u32 = 60;
/// Largest TTL `host add` accepts (one day); a dynamic record wants a short one.
pub const MAX_TTL: u32 = 86_400;
/// Largest `--silent-after` in hours (30 days).
pub const MAX_SILENT_AFTER: u32 = 720;

/// When the owner wants a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyPrefs {
    /// On every record change.
    pub on_change: bool,
    /// On a failed authentication for this host (throttled).
    pub on_auth_failure: bool,
    /// On a Route 53 or configuration error for this host (throttled).
    pub on_error: bool,
    /// Hours without a check-in after which the host counts as silent (None: not watched).
    pub silent_after: Option<u32>,
}

impl Default for NotifyPrefs {
    fn default() -> Self {
        NotifyPrefs {
            on_change: true,
            on_auth_failure: true,
            on_error: true,
            silent_after: None,
        }
    }
}

/// Which protocols a host accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocols {
    /// The reference design's sha256 token (existing clients).
    pub v1: bool,
    /// dyn53's signed, nonce-bound requests.
    pub v2: bool,
    /// The dyndns2 `/nic/update` endpoint (HTTP Basic, the secret as password); off unless
    /// the owner opts in, since the secret itself then travels in every request.
    pub dyndns2: bool,
}

impl Protocols {
    /// Whether protocol `version` (1 or 2) is accepted.
    pub fn allows(self, version: u8) -> bool {
        match version {
            1 => self.v1,
            2 => self.v2,
            _ => false,
        }
    }

    /// The protocol names as `host add --protocols` takes them.
    pub fn names(self) -> Vec<&'static str> {
        [(self.v1, "1"), (self.v2, "2"), (self.dyndns2, "dyndns2")]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect()
    }
}

impl fmt::Display for Protocols {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.names();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

/// One host's configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct HostConfig {
    /// Normalised hostname (lower case, no trailing dot).
    pub hostname: String,
    /// The shared secret (never logged or printed after `host add`/`rotate`).
    pub secret: String,
    /// Route 53 hosted zone id, without the `/hostedzone/` prefix.
    pub zone_id: String,
    /// The zone's name (no trailing dot), recorded by `host add` to refuse names outside it.
    pub zone_name: Option<String>,
    /// Record TTL in seconds.
    pub ttl: u32,
    /// Record types the host may set (never empty).
    pub types: Vec<RecordType>,
    /// Accepted protocol versions.
    pub protocols: Protocols,
    /// Whether a v2 request may name an explicit address.
    pub allow_explicit_ip: bool,
    /// Whether an explicit address must be public (not private, loopback, link-local, ...).
    pub public_ip_only: bool,
    /// Notification preferences.
    pub notify: NotifyPrefs,
    /// Unix time the host was added, if known.
    pub created: Option<u64>,
    /// AAAA records of devices behind the router, moved when it sends a new LAN prefix.
    pub lan: Vec<LanRecord>,
}

// Hand-written so a debug print can never show the secret.
impl fmt::Debug for HostConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostConfig")
            .field("hostname", &self.hostname)
            .field("secret", &"<redacted>")
            .field("zone_id", &self.zone_id)
            .field("zone_name", &self.zone_name)
            .field("ttl", &self.ttl)
            .field("types", &self.types)
            .field("protocols", &self.protocols)
            .field("allow_explicit_ip", &self.allow_explicit_ip)
            .field("public_ip_only", &self.public_ip_only)
            .field("notify", &self.notify)
            .field("created", &self.created)
            .field("lan", &self.lan)
            .finish()
    }
}

impl HostConfig {
    /// A host with the defaults: TTL 60, type A, protocols 1 and 2 (not dyndns2), no
    /// explicit IP (and only public ones if allowed), all notifications on.
    pub fn new(hostname: &str, zone_id: &str, secret: String) -> Self {
        HostConfig {
            hostname: hostname.to_string(),
            secret,
            zone_id: zone_id.to_string(),
            zone_name: None,
            ttl: DEFAULT_TTL,
            types: vec![RecordType::A],
            protocols: Protocols {
                v1: true,
                v2: true,
                dyndns2: false,
            },
            allow_explicit_ip: false,
            public_ip_only: true,
            notify: NotifyPrefs::default(),
            created: None,
            lan: Vec::new(),
        }
    }

    /// Whether the host may set records of type `t`.
    pub fn allows_type(&self, t: RecordType) -> bool {
        self.types.contains(&t)
    }

    /// Whether the hostname lies inside the recorded zone (true when no zone name is known:
    /// Route 53 itself then refuses a name outside the zone).
    pub fn in_zone(&self) -> bool {
        match &self.zone_name {
            None => true,
            Some(zone) => name_in_zone(&self.hostname, zone),
        }
    }
}

/// Whether `name` is `zone` or a name below it (both normalised, no trailing dot).
pub fn name_in_zone(name: &str, zone: &str) -> bool {
    let zone = zone.trim_end_matches('.');
    name == zone
        || (name.len() > zone.len()
            && name.ends_with(zone)
            && name.as_bytes()[name.len() - zone.len() - 1] == b'.')
}

/// Whether `name` matches a RecordNames pattern the way IAM's `StringLike` does: `*`
/// stands for any run of characters (dots included), `?` for one character.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == b'?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Parses a RecordNames list (`home.example.com,*.dyn.example.com`): lower-case names, a
/// leading `*.` allowed, as the template's `RecordNames` parameter takes them.
pub fn parse_record_names(s: &str) -> Result<Vec<String>, BadSetting> {
    let names: Vec<String> = split_list(s).map(|p| p.trim().to_string()).collect();
    if names.is_empty() {
        return Err(bad("RecordNames is empty"));
    }
    for n in &names {
        let bare = n.strip_prefix("*.").unwrap_or(n);
        if normalize_hostname(bare).ok().as_deref() != Some(bare) {
            return Err(bad(format!(
                "record name {n:?} must be a lower-case name without a trailing dot, \
                 optionally starting with *. (like home.example.com or *.dyn.example.com)"
            )));
        }
    }
    Ok(names)
}

/// Why a host setting is refused (admin input or a hand-edited item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadSetting(pub String);

impl fmt::Display for BadSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(msg: impl Into<String>) -> BadSetting {
    BadSetting(msg.into())
}

/// Validates a hostname for a host item.
pub fn parse_hostname(s: &str) -> Result<String, BadSetting> {
    normalize_hostname(s).map_err(|e| bad(format!("{s:?}: {e}")))
}

/// Accepts `Z123ABC` or `/hostedzone/Z123ABC`; returns the bare id.
pub fn parse_zone_id(s: &str) -> Result<String, BadSetting> {
    let id = s.trim().trim_start_matches("/hostedzone/");
    if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(bad(format!(
            "zone id {s:?} is not a Route 53 hosted zone id (like Z0123456789ABCDEFGHIJ; \
             `dyn53-backend zone-id <domain>` finds it)"
        )));
    }
    Ok(id.to_ascii_uppercase())
}

/// Validates a TTL (1 to 86400 seconds).
pub fn parse_ttl(s: &str) -> Result<u32, BadSetting> {
    match s.trim().parse::<u32>() {
        Ok(t) if (1..=MAX_TTL).contains(&t) => Ok(t),
        _ => Err(bad(format!(
            "ttl {s:?} must be a whole number of seconds from 1 to {MAX_TTL}"
        ))),
    }
}

/// Parses `A`, `AAAA` or `A,AAAA` (any case, no duplicates).
pub fn parse_types<'a>(
    items: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<RecordType>, BadSetting> {
    let mut out = Vec::new();
    for item in items {
        let t: RecordType = item
            .trim()
            .parse()
            .map_err(|_| bad(format!("record type {item:?} must be A or AAAA")))?;
        if out.contains(&t) {
            return Err(bad(format!("record type {t} is given twice")));
        }
        out.push(t);
    }
    if out.is_empty() {
        return Err(bad("at least one record type (A or AAAA) is needed"));
    }
    out.sort();
    Ok(out)
}

/// Parses a list of `1`, `2` and `dyndns2`, e.g. `1,2` or `2,dyndns2`.
pub fn parse_protocols<'a>(
    items: impl IntoIterator<Item = &'a str>,
) -> Result<Protocols, BadSetting> {
    let mut p = Protocols {
        v1: false,
        v2: false,
        dyndns2: false,
    };
    for item in items {
        let name = item.trim();
        let slot = match name.to_ascii_lowercase().as_str() {
            "1" => &mut p.v1,
            "2" => &mut p.v2,
            "dyndns2" => &mut p.dyndns2,
            _ => return Err(bad(format!("protocol {item:?} must be 1, 2 or dyndns2"))),
        };
        if *slot {
            return Err(bad(format!("protocol {name} is given twice")));
        }
        *slot = true;
    }
    if !p.v1 && !p.v2 && !p.dyndns2 {
        return Err(bad("at least one protocol (1, 2 or dyndns2) is needed"));
    }
    Ok(p)
}

/// Longest secret accepted from the owner (`--secret-file`, `import`).
pub const MAX_SECRET: usize = 1024;

/// Shortest secret accepted without a warning (a v1 token is a fast hash of it, so a
/// short one is guessed offline from one captured token).
pub const WEAK_SECRET: usize = 16;

/// Checks a secret the owner brings (a file, an imported deployment). The error never
/// quotes the secret.
pub fn check_secret(secret: &str) -> Result<(), BadSetting> {
    if secret.is_empty() {
        return Err(bad("the secret is empty"));
    }
    if secret.len() > MAX_SECRET {
        return Err(bad(format!("the secret is longer than {MAX_SECRET} bytes")));
    }
    if secret.chars().any(char::is_control) {
        return Err(bad("the secret contains control characters"));
    }
    if secret.trim() != secret {
        return Err(bad("the secret starts or ends with spaces"));
    }
    Ok(())
}

/// A warning for a secret shorter than [`WEAK_SECRET`], if it is.
pub fn weak_secret_warning(secret: &str) -> Option<String> {
    (secret.chars().count() < WEAK_SECRET).then(|| {
        format!(
            "its secret is short ({} characters): a captured v1 token lets anyone guess it \
             offline; run `host rotate` once its routers use dyn53's client",
            secret.chars().count()
        )
    })
}

/// Splits a comma-separated list, as the admin CLI takes `--types A,AAAA`.
pub fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').filter(|p| !p.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_membership() {
        assert!(name_in_zone("home.example.com", "example.com"));
        assert!(name_in_zone("example.com", "example.com."));
        assert!(!name_in_zone("home.badexample.com", "example.com"));
        assert!(!name_in_zone("home.example.org", "example.com"));
        assert!(!name_in_zone("com", "example.com"));
    }

    #[test]
    fn settings() {
        assert_eq!(parse_zone_id("/hostedzone/z12ab").unwrap(), "Z12AB");
        assert!(parse_zone_id("Z12 AB").is_err());
        assert!(parse_zone_id("").is_err());
        assert_eq!(parse_ttl("60").unwrap(), 60);
        assert!(parse_ttl("0").is_err());
        assert!(parse_ttl("86401").is_err());
        assert!(parse_ttl("-1").is_err());
        assert_eq!(
            parse_types(split_list("aaaa,A")).unwrap(),
            vec![RecordType::A, RecordType::Aaaa]
        );
        assert!(parse_types(split_list("A,A")).is_err());
        assert!(parse_types(split_list("CNAME")).is_err());
        assert!(parse_types(split_list("")).is_err());
        assert_eq!(
            parse_protocols(split_list("2")).unwrap(),
            Protocols {
                v1: false,
                v2: true,
                dyndns2: false
            }
        );
        let p = parse_protocols(split_list("1,2,dyndns2")).unwrap();
        assert!(p.v1 && p.v2 && p.dyndns2);
        assert_eq!(p.to_string(), "1,2,dyndns2");
        assert_eq!(
            parse_protocols(split_list("DynDNS2")).unwrap().to_string(),
            "dyndns2"
        );
        assert!(parse_protocols(split_list("dyndns2,dyndns2")).is_err());
        assert!(parse_protocols(split_list("3")).is_err());
        assert!(parse_protocols(split_list("1,1")).is_err());
    }

    #[test]
    fn given_secrets() {
        assert!(check_secret("a-reference-secret").is_ok());
        assert!(check_secret("with inner space").is_ok());
        for bad in [
            "",
            " lead",
            "trail ",
            "tab\there",
            &"x".repeat(MAX_SECRET + 1),
        ] {
            let e = check_secret(bad).unwrap_err();
            assert!(bad.is_empty() || !e.0.contains(bad.trim()), "{e}");
        }
        assert!(weak_secret_warning("short").is_some());
        assert!(weak_secret_warning(&"x".repeat(WEAK_SECRET)).is_none());
    }

    #[test]
    fn record_names_match_like_iam_string_like() {
        let names = parse_record_names("home.example.com, *.dyn.example.com").unwrap();
        let ok = |n: &str| names.iter().any(|p| name_matches(p, n));
        assert!(ok("home.example.com"));
        assert!(ok("nas.dyn.example.com"));
        assert!(ok("a.b.dyn.example.com"));
        assert!(!ok("dyn.example.com"));
        assert!(!ok("example.com"));
        assert!(!ok("www.example.com"));
        assert!(!ok("home.example.com.evil.net"));
        assert!(!ok("xhome.example.com"));
        assert!(name_matches("h?me.example.com", "home.example.com"));
        assert!(parse_record_names("Home.example.com").is_err());
        assert!(parse_record_names("home.example.com.").is_err());
        assert!(parse_record_names("a.*.example.com").is_err());
        assert!(parse_record_names(" , ").is_err());
    }

    #[test]
    fn debug_hides_secret() {
        let h = HostConfig::new("a.example.com", "Z1", "topsecret".into());
        assert!(!format!("{h:?}").contains("topsecret"));
    }
}
