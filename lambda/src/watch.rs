//! Every host watched, and one path for every alert: the scheduled silent-host check (an
//! EventBridge schedule on Lambda, a timer in the local service) and the CloudWatch alarms
//! that reach the function through the stack's SNS topic, forwarded to the push channels.
//!
//! A host with `silent_after` hours is silent when its last check-in (`seen` on its
//! `state#<hostname>` item) is older than that. The item's `silent` attribute marks a
//! silence already alerted (the `seen` it was about), so each silence alerts once, and the
//! return once.

use crate::aws_error;
use crate::clock::now_unix;
use crate::log;
use crate::metrics::{Counts, Metrics};
use crate::notify::{self, Message, Notifier};
use crate::table::{state_pk, HOST_PREFIX, PK, SEEN, SILENT, STATE_PREFIX};
use aws_sdk_dynamodb::types::{AttributeValue, Select};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::future::Future;

/// One host's `silent_after`, `seen` and `silent`, as the scan finds them.
type Row = (Option<u32>, Option<u64>, Option<u64>);

/// What the check knows of one watched host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    /// The host.
    pub host: String,
    /// Its `silent_after` hours.
    pub hours: u32,
    /// Its last check-in (Unix seconds), if it ever checked in.
    pub seen: Option<u64>,
    /// The `seen` of the silence already alerted, if any.
    pub mark: Option<u64>,
}

/// What the check does for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Alert that `host` went silent after `seen`, and mark it.
    Silent {
        /// The host.
        host: String,
        /// Its last check-in.
        seen: u64,
        /// Its `silent_after` hours.
        hours: u32,
    },
    /// Alert that `host` is back (checked in at `seen`), and clear the mark.
    Back {
        /// The host.
        host: String,
        /// Its check-in.
        seen: u64,
    },
}

/// What to do at `now`. A host that never checked in is not judged (there is no time to
/// count from); one that came back and went silent again between two checks alerts anew.
pub fn decide(hosts: &[Watched], now: u64) -> Vec<Action> {
    let mut out = Vec::new();
    for h in hosts {
        let Some(seen) = h.seen else { continue };
        let gone = now.saturating_sub(seen) > u64::from(h.hours) * 3600;
        match (gone, h.mark) {
            (true, Some(m)) if m == seen => {}
            (true, _) => out.push(Action::Silent {
                host: h.host.clone(),
                seen,
                hours: h.hours,
            }),
            (false, Some(_)) => out.push(Action::Back {
                host: h.host.clone(),
                seen,
            }),
            (false, None) => {}
        }
    }
    out
}

/// A non-HTTP Lambda event (the schedule, SNS) and its answer.
pub trait Events: Send + Sync + 'static {
    /// Handles `event` if it is one of these; None if it is not (then it is a request).
    fn event(&self, event: &Value) -> impl Future<Output = Option<Value>> + Send;
}

/// No event handling (the plain request path).
impl Events for () {
    async fn event(&self, _: &Value) -> Option<Value> {
        None
    }
}

/// Whether `v` is an EventBridge (CloudWatch Events) scheduled event.
pub fn is_schedule(v: &Value) -> bool {
    v["source"] == "aws.events" && v["detail-type"] == "Scheduled Event"
}

/// The SNS messages of an SNS event (`Records[].Sns.Message`); None if it is not one.
pub fn sns_messages(v: &Value) -> Option<Vec<&str>> {
    let records = v.get("Records")?.as_array()?;
    if records.is_empty() || records.iter().any(|r| r["EventSource"] != "aws:sns") {
        return None;
    }
    Some(
        records
            .iter()
            .filter_map(|r| r["Sns"]["Message"].as_str())
            .collect(),
    )
}

/// The alert for a CloudWatch alarm notification (the JSON CloudWatch publishes to SNS);
/// None for any other message (a change text dyn53 itself published, a test message).
pub fn alarm_message(text: &str, now: u64) -> Option<Message> {
    let v: Value = serde_json::from_str(text).ok()?;
    let name = v.get("AlarmName")?.as_str()?;
    let new = v.get("NewStateValue")?.as_str()?;
    let old = v["OldStateValue"].as_str().unwrap_or("?");
    let reason = v["NewStateReason"].as_str().unwrap_or("");
    Some(notify::alarm(name, old, new, reason, now))
}

/// The silent-host check and alarm forwarding over the table and the notifiers.
pub struct Watch<N, M> {
    db: aws_sdk_dynamodb::Client,
    table: String,
    /// Every alert path (SNS and channels) for silent hosts.
    alerts: Option<N>,
    /// The channels only, for alarms that came from SNS (never back into it).
    forward: Option<N>,
    metrics: M,
}

impl<N: Notifier, M: Metrics> Watch<N, M> {
    /// The check over `table`; `alerts` reaches SNS and the channels, `forward` only the
    /// channels.
    pub fn new(
        db: aws_sdk_dynamodb::Client,
        table: &str,
        alerts: Option<N>,
        forward: Option<N>,
        metrics: M,
    ) -> Self {
        Watch {
            db,
            table: table.to_string(),
            alerts,
            forward,
            metrics,
        }
    }

    /// Reads every watched host with its last check-in and mark (one Scan).
    pub async fn watched(&self) -> Result<Vec<Watched>, String> {
        // Per host: silent_after hours, seen, silent mark.
        let mut hosts: BTreeMap<String, Row> = BTreeMap::new();
        let mut start = None;
        loop {
            let page = self
                .db
                .scan()
                .table_name(&self.table)
                // SPECIFIC_ATTRIBUTES: the role may scan only these attributes, never a secret.
                .select(Select::SpecificAttributes)
                .projection_expression("#pk, #sa, #se, #si")
                .filter_expression("begins_with(#pk, :h) OR begins_with(#pk, :s)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sa", "silent_after")
                .expression_attribute_names("#se", SEEN)
                .expression_attribute_names("#si", SILENT)
                .expression_attribute_values(":h", AttributeValue::S(HOST_PREFIX.into()))
                .expression_attribute_values(":s", AttributeValue::S(STATE_PREFIX.into()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| format!("cannot scan the table: {}", aws_error::detail(&e)))?;
            for item in page.items() {
                let number = |k: &str| match item.get(k) {
                    Some(AttributeValue::N(v)) => v.parse::<u64>().ok(),
                    _ => None,
                };
                let Some(AttributeValue::S(pk)) = item.get(PK) else {
                    continue;
                };
                if let Some(host) = pk.strip_prefix(HOST_PREFIX) {
                    let hours = number("silent_after").and_then(|h| u32::try_from(h).ok());
                    hosts.entry(host.to_string()).or_default().0 = hours;
                } else if let Some(host) = pk.strip_prefix(STATE_PREFIX) {
                    let e = hosts.entry(host.to_string()).or_default();
                    (e.1, e.2) = (number("seen"), number("silent"));
                }
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        Ok(hosts
            .into_iter()
            .filter_map(|(host, (hours, seen, mark))| {
                Some(Watched {
                    host,
                    hours: hours.filter(|h| *h > 0)?,
                    seen,
                    mark,
                })
            })
            .collect())
    }

    /// Sets (`Some(seen)`) or clears the silence mark on the host's state item.
    async fn mark(&self, host: &str, seen: Option<u64>) -> Result<(), String> {
        let req = self
            .db
            .update_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(state_pk(host)))
            .expression_attribute_names("#si", SILENT);
        let req = match seen {
            Some(s) => req
                .update_expression("SET #si = :s")
                .expression_attribute_values(":s", AttributeValue::N(s.to_string())),
            None => req.update_expression("REMOVE #si"),
        };
        req.send()
            .await
            .map(|_| ())
            .map_err(|e| format!("cannot mark {host}: {}", aws_error::detail(&e)))
    }

    /// One silent-host check at `now`; returns how many alerts it sent or tried.
    pub async fn check(&self, now: u64) -> Result<usize, String> {
        let actions = decide(&self.watched().await?, now);
        for a in &actions {
            let (host, msg, mark) = match a {
                Action::Silent { host, seen, hours } => {
                    (host, notify::silent(host, *seen, *hours, now), Some(*seen))
                }
                Action::Back { host, seen } => (host, notify::back(host, *seen, now), None),
            };
            // Mark first: a failed mark must not turn into the same alert every 15 minutes.
            if let Err(e) = self.mark(host, mark).await {
                log::error(e);
                self.error(host);
                continue;
            }
            log::info(&msg.text);
            if let Some(n) = &self.alerts {
                if let Err(e) = n.send(&msg).await {
                    log::error(format!("{host}: {e}"));
                    self.error(host);
                }
            }
        }
        Ok(actions.len())
    }

    /// Forwards the alarms among `messages` to the channels; returns how many.
    pub async fn forward(&self, messages: &[&str]) -> usize {
        let mut sent = 0;
        for text in messages {
            let Some(msg) = alarm_message(text, now_unix()) else {
                continue;
            };
            sent += 1;
            log::info(&msg.text);
            if let Some(n) = &self.forward {
                if let Err(e) = n.send(&msg).await {
                    log::error(format!("alarm forwarding: {e}"));
                    self.error(crate::metrics::UNKNOWN_HOST);
                }
            }
        }
        sent
    }

    fn error(&self, host: &str) {
        let counts = Counts {
            error: 1,
            ..Counts::default()
        };
        self.metrics.record(host, counts, now_unix() * 1000);
    }
}

impl<N: Notifier + 'static, M: Metrics + 'static> Events for Watch<N, M> {
    async fn event(&self, v: &Value) -> Option<Value> {
        if is_schedule(v) {
            // Never an error to the scheduler: its retries would only repeat the scan.
            return Some(match self.check(now_unix()).await {
                Ok(n) => json!({"silent_check": "done", "alerts": n}),
                Err(e) => {
                    log::error(format!("silent-host check: {e}"));
                    json!({"silent_check": "failed"})
                }
            });
        }
        let messages = sns_messages(v)?;
        let n = self.forward(&messages).await;
        Some(json!({"forwarded": n}))
    }
}

/// Runs the check every `every` seconds until the process ends (the local service).
pub async fn every<N: Notifier, M: Metrics>(watch: &Watch<N, M>, every: u64) {
    let period = std::time::Duration::from_secs(every.max(1));
    // The first check one period after start, not at once.
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = watch.check(now_unix()).await {
            log::error(format!("silent-host check: {e}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(host: &str, seen: Option<u64>, mark: Option<u64>) -> Watched {
        Watched {
            host: host.into(),
            hours: 2,
            seen,
            mark,
        }
    }

    #[test]
    fn once_per_silence_and_once_back() {
        let now = 100_000;
        let old = now - 3 * 3600;
        let fresh = now - 60;
        let hosts = [
            w("never", None, None),
            w("quiet", Some(old), None),
            w("alerted", Some(old), Some(old)),
            w("back", Some(fresh), Some(old)),
            w("fine", Some(fresh), None),
            w("again", Some(old + 1), Some(old)),
        ];
        assert_eq!(
            decide(&hosts, now),
            vec![
                Action::Silent {
                    host: "quiet".into(),
                    seen: old,
                    hours: 2
                },
                Action::Back {
                    host: "back".into(),
                    seen: fresh
                },
                Action::Silent {
                    host: "again".into(),
                    seen: old + 1,
                    hours: 2
                },
            ]
        );
        // Exactly at the limit is not yet silent.
        assert!(decide(&[w("edge", Some(now - 7200), None)], now).is_empty());
    }

    #[test]
    fn event_shapes() {
        let schedule: Value = serde_json::from_str(
            r#"{"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type":"Scheduled Event","source":"aws.events","account":"123456789012",
            "time":"2026-12-01T10:15:00Z","region":"eu-west-1",
            "resources":["arn:aws:events:eu-west-1:123456789012:rule/dyn53-SilentCheck"],
            "detail":{}}"#,
        )
        .unwrap();
        assert!(is_schedule(&schedule));
        assert_eq!(sns_messages(&schedule), None);
        let alarm = json!({"AlarmName": "dyn53-UpdateErrors", "NewStateValue": "ALARM",
            "OldStateValue": "OK", "NewStateReason": "Threshold Crossed: 1 datapoint [2.0]"});
        let sns = json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
            "Sns": {"Type": "Notification", "Subject": "ALARM: \"dyn53-UpdateErrors\"",
                    "Message": alarm.to_string()}}]});
        let msgs = sns_messages(&sns).unwrap();
        let m = alarm_message(msgs[0], 0).unwrap();
        assert_eq!(
            m.text,
            "dyn53: alarm dyn53-UpdateErrors is ALARM: Threshold Crossed: 1 datapoint [2.0] \
             (1970-01-01 00:00 UTC)"
        );
        assert_eq!(alarm_message("dyn53: home A changed", 0), None);
        assert_eq!(sns_messages(&json!({"Records": []})), None);
        assert!(!is_schedule(&json!({"execution_mode": "get"})));
    }
}
