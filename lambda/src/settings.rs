//! Backend settings from the environment (the SAM template sets them on Lambda).

use crate::handler::Policy;
use crate::host::parse_record_names;
use crate::limiter::{SlotLimit, DEFAULT_BURST, DEFAULT_RATE};
use crate::store::RateLimit;
use std::fmt;
use std::time::Duration;

/// Default time budget for one Route 53 call, retries and slot wait included.
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
            .field("namespace", &self.namespace)
            .field("dns_budget", &self.dns_budget)
            .field("route53_pace", &self.route53_pace)
            .field("policy", &self.policy)
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

    /// Reads settings through `get` (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let table = get("DYN53_TABLE").ok_or_else(|| {
            SettingsError("DYN53_TABLE is not set (the DynamoDB table holding the hosts)".into())
        })?;
        let nonce_key =
            match get("DYN53_NONCE_KEY") {
                Some(k) if k.len() >= 32 => Some(k.into_bytes()),
                Some(_) => return Err(SettingsError(
                    "DYN53_NONCE_KEY must be at least 32 characters (e.g. `openssl rand -hex 32`)"
                        .into(),
                )),
                None => None,
            };
        let limit = |k: &str, default: RateLimit| match get(k) {
            None => Ok(default),
            Some(v) => RateLimit::parse(&v).ok_or_else(|| {
                SettingsError(format!("{k}={v:?} must look like 10/300 (calls/seconds)"))
            }),
        };
        let number = |k: &str, default: u64| match get(k) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map_err(|_| SettingsError(format!("{k}={v:?} must be a whole number"))),
        };
        let rate = match get("DYN53_ROUTE53_RATE") {
            None => DEFAULT_RATE,
            Some(v) => v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| r.is_finite() && (0.0..=1000.0).contains(r))
                .ok_or_else(|| {
                    SettingsError(format!(
                        "DYN53_ROUTE53_RATE={v:?} must be Route 53 calls per second, 0 to 1000 \
                         (0: no pacing)"
                    ))
                })?,
        };
        let burst = number("DYN53_ROUTE53_BURST", u64::from(DEFAULT_BURST))?;
        if burst == 0 || burst > 1000 {
            return Err(SettingsError(format!(
                "DYN53_ROUTE53_BURST={burst} must be 1 to 1000"
            )));
        }
        let route53_pace = (rate > 0.0).then_some(SlotLimit {
            rate,
            burst: burst as u32,
        });
        let d = Policy::default();
        let policy = Policy {
            set_limit: limit("DYN53_RATE_LIMIT", d.set_limit)?,
            change_limit: limit("DYN53_CHANGE_LIMIT", d.change_limit)?,
            notify_quiet: number("DYN53_NOTIFY_QUIET_SECS", d.notify_quiet)?,
            auth_failure_time: Duration::from_millis(number(
                "DYN53_AUTH_FAILURE_MS",
                d.auth_failure_time.as_millis() as u64,
            )?),
            lock_wait: Duration::from_millis(number(
                "DYN53_LOCK_WAIT_MS",
                d.lock_wait.as_millis() as u64,
            )?),
            record_trust: number("DYN53_RECORD_TRUST_SECS", d.record_trust)?,
            record_confirm: number("DYN53_RECORD_CONFIRM_SECS", d.record_confirm)?,
            record_names: match get("DYN53_RECORD_NAMES") {
                None => None,
                Some(v) => Some(
                    parse_record_names(&v)
                        .map_err(|e| SettingsError(format!("DYN53_RECORD_NAMES: {e}")))?,
                ),
            },
            ..d
        };
        Ok(Settings {
            table,
            topic_arn: get("DYN53_TOPIC_ARN"),
            nonce_key,
            namespace: get("DYN53_METRICS_NAMESPACE").unwrap_or_else(|| "dyn53".into()),
            dns_budget: Duration::from_millis(number(
                "DYN53_DNS_BUDGET_MS",
                DEFAULT_DNS_BUDGET_MS,
            )?),
            route53_pace,
            policy,
            max_per_address: number(
                "DYN53_MAX_CONNECTIONS_PER_ADDRESS",
                crate::serve::MAX_PER_ADDRESS as u64,
            )? as usize,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

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
}
