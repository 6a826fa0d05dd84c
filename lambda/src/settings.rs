//! Backend settings from the environment (the SAM template sets them on Lambda).

use crate::handler::Policy;
use crate::host::parse_record_names;
use crate::limiter::SlotLimit;
use crate::settings_table::{self, lookup};
use crate::store::RateLimit;
use std::fmt;
use std::time::Duration;

/// Default time budget for one Route 53 call, retries and slot wait included (the declared
/// default of `DYN53_DNS_BUDGET_MS`; a test keeps the two equal).
pub const DEFAULT_DNS_BUDGET_MS: u64 = 8000;

/// Everything the backend reads from its environment.
#[derive(Clone, PartialEq)]
pub struct Settings {
    /// DynamoDB table (`DYN53_TABLE`, required).
    pub table: String,
    /// SNS topic for notifications (`DYN53_TOPIC_ARN`; none: notifications off).
    pub topic_arn: Option<String>,
    /// Nonce MAC key (`DYN53_NONCE_KEY`, at least 32 characters; none: kept in the table).
    pub nonce_key: Option<Vec<u8>>,
    /// KMS key that seals host secrets (`DYN53_KMS_KEY`; none: plaintext secrets only).
    pub kms_key: Option<String>,
    /// CloudWatch namespace of the EMF metrics (`DYN53_METRICS_NAMESPACE`, default dyn53).
    pub namespace: String,
    /// Time budget for retrying one throttled Route 53 call (`DYN53_DNS_BUDGET_MS`, 8000).
    pub dns_budget: Duration,
    /// Account-wide pacing of Route 53 calls (`DYN53_ROUTE53_RATE`, `DYN53_ROUTE53_BURST`;
    /// none when the rate is 0).
    pub route53_pace: Option<SlotLimit>,
    /// Rate limits and timings of the flow.
    pub policy: Policy,
    /// Most connections one address may hold open on the local service (0: no limit).
    pub max_per_address: usize,
    /// SSM path of the push channels (`DYN53_SSM_PATH`; none: no channels).
    pub ssm_path: Option<String>,
    /// Seconds between silent-host checks in the local service (0: none).
    pub silent_check_secs: u64,
}

// Hand-written so the nonce key never reaches a log.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("table", &self.table)
            .field("topic_arn", &self.topic_arn)
            .field(
                "nonce_key",
                &self.nonce_key.as_ref().map(|_| "<from DYN53_NONCE_KEY>"),
            )
            .field("kms_key", &self.kms_key)
            .field("namespace", &self.namespace)
            .field("dns_budget", &self.dns_budget)
            .field("route53_pace", &self.route53_pace)
            .field("policy", &self.policy)
            .field("ssm_path", &self.ssm_path)
            .field("silent_check_secs", &self.silent_check_secs)
            .finish()
    }
}

/// A setting is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError(pub String);

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SettingsError {}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Settings, SettingsError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `get` (the environment, or a map in tests); every name and
    /// default comes from [`settings_table::SETTINGS`].
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let get = |k: &str| lookup(&get, k);
        let table = required(&get, "DYN53_TABLE")?;
        let nonce_key =
            match get("DYN53_NONCE_KEY") {
                Some(k) if k.len() >= 32 => Some(k.into_bytes()),
                Some(_) => return Err(SettingsError(
                    "DYN53_NONCE_KEY must be at least 32 characters (e.g. `openssl rand -hex 32`)"
                        .into(),
                )),
                None => None,
            };
        let limit = |k: &str| {
            let v = get(k).unwrap_or_default();
            RateLimit::parse(&v).ok_or_else(|| {
                SettingsError(format!("{k}={v:?} must look like 10/300 (calls/seconds)"))
            })
        };
        let number = |k: &str| number(&get, k);
        let rate_text = get("DYN53_ROUTE53_RATE").unwrap_or_default();
        let rate = rate_text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|r| r.is_finite() && (0.0..=1000.0).contains(r))
            .ok_or_else(|| {
                SettingsError(format!(
                    "DYN53_ROUTE53_RATE={rate_text:?} must be Route 53 calls per second, 0 to \
                     1000 (0: no pacing)"
                ))
            })?;
        let burst = number("DYN53_ROUTE53_BURST")?;
        if burst == 0 || burst > 1000 {
            return Err(SettingsError(format!(
                "DYN53_ROUTE53_BURST={burst} must be 1 to 1000"
            )));
        }
        let route53_pace = (rate > 0.0).then_some(SlotLimit {
            rate,
            burst: burst as u32,
        });
        let policy = Policy {
            set_limit: limit("DYN53_RATE_LIMIT")?,
            change_limit: limit("DYN53_CHANGE_LIMIT")?,
            notify_quiet: number("DYN53_NOTIFY_QUIET_SECS")?,
            auth_failure_time: Duration::from_millis(number("DYN53_AUTH_FAILURE_MS")?),
            lock_wait: Duration::from_millis(number("DYN53_LOCK_WAIT_MS")?),
            record_trust: number("DYN53_RECORD_TRUST_SECS")?,
            record_confirm: number("DYN53_RECORD_CONFIRM_SECS")?,
            record_names: record_names(&get)?,
            ..Policy::default()
        };
        Ok(Settings {
            table,
            topic_arn: get("DYN53_TOPIC_ARN"),
            nonce_key,
            kms_key: get("DYN53_KMS_KEY"),
            namespace: get("DYN53_METRICS_NAMESPACE").unwrap_or_default(),
            dns_budget: Duration::from_millis(number("DYN53_DNS_BUDGET_MS")?),
            route53_pace,
            policy,
            max_per_address: number("DYN53_MAX_CONNECTIONS_PER_ADDRESS")? as usize,
            ssm_path: ssm_path(&get)?,
            silent_check_secs: number("DYN53_SILENT_CHECK_SECS")?,
        })
    }
}

/// What the admin commands read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminEnv {
    /// DynamoDB table (`DYN53_TABLE`; every command but `zone-id` needs it).
    pub table: Option<String>,
    /// The stack's RecordNames (`DYN53_RECORD_NAMES`), for the commands that add hosts.
    pub record_names: Option<Vec<String>>,
    /// KMS key that seals the secrets the commands write (`DYN53_KMS_KEY`).
    pub kms_key: Option<String>,
    /// SSM path of the push channels (`DYN53_SSM_PATH`), for `notify`.
    pub ssm_path: Option<String>,
}

impl AdminEnv {
    /// Reads the process environment.
    pub fn from_env() -> Result<AdminEnv, SettingsError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the admin settings through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<AdminEnv, SettingsError> {
        let get = |k: &str| lookup(&get, k);
        Ok(AdminEnv {
            table: get("DYN53_TABLE"),
            record_names: record_names(&get)?,
            kms_key: get("DYN53_KMS_KEY"),
            ssm_path: ssm_path(&get)?,
        })
    }

    /// The table, or the error naming the setting.
    pub fn table(&self) -> Result<&str, SettingsError> {
        self.table.as_deref().ok_or_else(|| not_set("DYN53_TABLE"))
    }
}

/// A required setting, or an error saying what it is.
fn required(get: &dyn Fn(&str) -> Option<String>, k: &str) -> Result<String, SettingsError> {
    get(k).ok_or_else(|| not_set(k))
}

/// `k` is required but unset: the error names it and says what it is.
fn not_set(k: &str) -> SettingsError {
    SettingsError(format!(
        "{k} is not set ({})",
        settings_table::declared(k).help
    ))
}

/// A whole-number setting (always declared with a default).
fn number(get: &dyn Fn(&str) -> Option<String>, k: &str) -> Result<u64, SettingsError> {
    let v = get(k).unwrap_or_default();
    v.trim()
        .parse::<u64>()
        .map_err(|_| SettingsError(format!("{k}={v:?} must be a whole number")))
}

/// `DYN53_SSM_PATH`, checked.
fn ssm_path(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>, SettingsError> {
    match get("DYN53_SSM_PATH") {
        Some(p) if !crate::ssm::valid_path(&p) => Err(SettingsError(format!(
            "DYN53_SSM_PATH={p:?} must look like /dyn53/<stack> (letters, digits, '/', '_', \
             '.', '-'; no trailing '/')"
        ))),
        p => Ok(p),
    }
}

/// `DYN53_RECORD_NAMES`, checked.
fn record_names(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Vec<String>>, SettingsError> {
    get("DYN53_RECORD_NAMES")
        .map(|v| {
            parse_record_names(&v).map_err(|e| SettingsError(format!("DYN53_RECORD_NAMES: {e}")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashMap};

    fn from(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn reads_environment() {
        assert!(from(&[]).is_err());
        let s = from(&[("DYN53_TABLE", "t"), ("DYN53_RATE_LIMIT", "3/60")]).unwrap();
        assert_eq!(s.policy.set_limit, RateLimit { max: 3, window: 60 });
        assert_eq!(s.topic_arn, None);
        assert_eq!(s.namespace, "dyn53");
        assert!(from(&[("DYN53_TABLE", "t"), ("DYN53_NONCE_KEY", "short")]).is_err());
        assert!(from(&[("DYN53_TABLE", "t"), ("DYN53_RATE_LIMIT", "x")]).is_err());
        assert!(from(&[("DYN53_TABLE", "t"), ("DYN53_RECORD_NAMES", "Bad.Name.")]).is_err());
        let s = from(&[("DYN53_TABLE", "t"), ("DYN53_AUTH_FAILURE_MS", "100")]).unwrap();
        assert_eq!(s.policy.auth_failure_time, Duration::from_millis(100));
        let s = from(&[
            ("DYN53_TABLE", "t"),
            ("DYN53_RECORD_NAMES", "a.x.com,*.y.com"),
        ])
        .unwrap();
        assert_eq!(
            s.policy.record_names,
            Some(vec!["a.x.com".to_string(), "*.y.com".to_string()])
        );
        let s = from(&[("DYN53_TABLE", "t"), ("DYN53_NONCE_KEY", &"k".repeat(32))]).unwrap();
        assert!(!format!("{s:?}").contains("kkkk"));
        assert_eq!(s.route53_pace, Some(SlotLimit::default()));
        let s = from(&[("DYN53_TABLE", "t"), ("DYN53_ROUTE53_RATE", "0")]).unwrap();
        assert_eq!(s.route53_pace, None);
        let s = from(&[
            ("DYN53_TABLE", "t"),
            ("DYN53_ROUTE53_RATE", "2.5"),
            ("DYN53_ROUTE53_BURST", "5"),
        ])
        .unwrap();
        assert_eq!(
            s.route53_pace,
            Some(SlotLimit {
                rate: 2.5,
                burst: 5
            })
        );
        assert!(from(&[("DYN53_TABLE", "t"), ("DYN53_ROUTE53_RATE", "-1")]).is_err());
        assert!(from(&[("DYN53_TABLE", "t"), ("DYN53_ROUTE53_BURST", "0")]).is_err());
    }

    #[test]
    fn declared_defaults_are_the_codes_defaults() {
        let s = from(&[("DYN53_TABLE", "t")]).unwrap();
        assert_eq!(s.policy, Policy::default());
        assert_eq!(s.dns_budget, Duration::from_millis(DEFAULT_DNS_BUDGET_MS));
        assert_eq!(s.route53_pace, Some(SlotLimit::default()));
        assert_eq!(s.max_per_address, crate::serve::MAX_PER_ADDRESS);
        assert_eq!((s.topic_arn, s.nonce_key), (None, None));
        let e = from(&[]).unwrap_err().to_string();
        assert_eq!(
            e,
            "DYN53_TABLE is not set (the DynamoDB table holding the hosts)"
        );
    }

    #[test]
    fn the_code_reads_every_declared_setting_and_no_other() {
        let asked = std::sync::Mutex::new(BTreeSet::new());
        let record = |k: &str| {
            asked.lock().unwrap().insert(k.to_string());
            (k == "DYN53_TABLE").then(|| "t".to_string())
        };
        Settings::from_lookup(record).unwrap();
        AdminEnv::from_lookup(record).unwrap();
        let mut asked = asked.into_inner().unwrap();
        // main.rs reads the URL for `host add|rotate` through settings_table::env.
        asked.insert("DYN53_URL".into());
        let declared: BTreeSet<String> = settings_table::SETTINGS
            .iter()
            .map(|s| s.name.to_string())
            .collect();
        assert_eq!(asked, declared);
    }

    #[test]
    fn admin_environment() {
        let a = AdminEnv::from_lookup(|_| None).unwrap();
        assert_eq!(a.record_names, None);
        assert!(a
            .table()
            .unwrap_err()
            .to_string()
            .contains("DYN53_TABLE is not set"));
        let a = AdminEnv::from_lookup(|k| match k {
            "DYN53_TABLE" => Some("t".into()),
            "DYN53_RECORD_NAMES" => Some("a.x.com".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(a.table(), Ok("t"));
        assert_eq!(a.record_names, Some(vec!["a.x.com".to_string()]));
        assert!(
            AdminEnv::from_lookup(|k| (k == "DYN53_RECORD_NAMES").then(|| "Bad.".into())).is_err()
        );
    }
}
