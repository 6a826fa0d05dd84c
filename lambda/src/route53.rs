//! [`Dns`] on Route 53, with throttling retried inside a time budget.

use crate::aws_error;
use crate::dns::{Current, Dns, DnsError};
use crate::limiter::Limiter;
use crate::log;
use crate::retry::{retry, Backoff, Transient};
use aws_sdk_route53::config::http::HttpResponse;
use aws_sdk_route53::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use aws_sdk_route53::Client;
use dyn53::protocol::RecordType;
use std::net::IpAddr;
use std::time::Duration;

/// Route 53 error codes that mean "slow down", retried with backoff. The account-wide
/// limit is 10 requests/s, and a zone with a pending change answers PriorRequestNotComplete.
const THROTTLE_CODES: [&str; 5] = [
    "Throttling",
    "ThrottlingException",
    "PriorRequestNotComplete",
    "RequestLimitExceeded",
    "TooManyRequestsException",
];

/// Route 53 through the AWS SDK (its own retries off: [`retry`] owns the budget).
#[derive(Clone, Debug)]
pub struct Route53 {
    client: Client,
    backoff: Backoff,
    pace: Option<Limiter>,
}

impl Route53 {
    /// Uses `client`; each operation retries within `backoff`.
    pub fn new(client: Client, backoff: Backoff) -> Self {
        Route53 {
            client,
            backoff,
            pace: None,
        }
    }

    /// Books each call a slot of the account-wide schedule first (see [`crate::limiter`]).
    pub fn paced(mut self, limiter: Limiter) -> Self {
        self.pace = Some(limiter);
        self
    }

    /// Waits for this call's slot and returns the retry settings for the rest of the budget;
    /// an error if the schedule is booked beyond the budget. If the table cannot be reached
    /// the call goes unpaced (throttling is still retried).
    async fn wait_turn(&self, what: &str) -> Result<Backoff, DnsError> {
        self.wait_turn_within(what, self.backoff.budget).await
    }

    /// [`Self::wait_turn`], waiting at most `wait` for the slot.
    async fn wait_turn_within(&self, what: &str, wait: Duration) -> Result<Backoff, DnsError> {
        let Some(pace) = &self.pace else {
            return Ok(self.backoff);
        };
        match pace.book(wait).await {
            Ok(Some(wait)) => {
                tokio::time::sleep(wait).await;
                Ok(Backoff {
                    budget: self.backoff.budget.saturating_sub(wait),
                    ..self.backoff
                })
            }
            Ok(None) => Err(DnsError::Throttled(format!(
                "{what}: the account's Route 53 calls are booked more than {} ms ahead ({}/s)",
                self.backoff.budget.as_millis(),
                pace.limit().rate
            ))),
            Err(e) => {
                log::warn(format!("{what}: unpaced Route 53 call: {e}"));
                Ok(self.backoff)
            }
        }
    }

    /// The SDK client (the admin CLI uses it for zone lookups).
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// One failed attempt, classified.
#[derive(Debug)]
struct Attempt {
    throttled: bool,
    transient: bool,
    service: bool,
    detail: String,
}

impl Transient for Attempt {
    fn is_transient(&self) -> bool {
        self.throttled || self.transient
    }
}

impl From<Attempt> for DnsError {
    fn from(a: Attempt) -> Self {
        if a.throttled {
            DnsError::Throttled(a.detail)
        } else if a.transient || !a.service {
            DnsError::Unavailable(a.detail)
        } else {
            DnsError::Rejected(a.detail)
        }
    }
}

fn classify<E>(e: SdkError<E, HttpResponse>) -> Attempt
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = aws_error::detail(&e);
    match &e {
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("");
            let throttled = THROTTLE_CODES.contains(&code);
            let transient = se.raw().status().is_server_error()
                || matches!(
                    code,
                    "ServiceUnavailable" | "InternalFailure" | "InternalError"
                );
            Attempt {
                throttled,
                transient,
                service: true,
                detail,
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Attempt {
                throttled: false,
                transient: true,
                service: false,
                detail,
            }
        }
        _ => Attempt {
            throttled: false,
            transient: false,
            service: false,
            detail,
        },
    }
}

fn rr_type(t: RecordType) -> RrType {
    match t {
        RecordType::A => RrType::A,
        RecordType::Aaaa => RrType::Aaaa,
    }
}

/// Reads what ListResourceRecordSets returned. It lists from the given name and type on,
/// so when the record is missing the answer is the NEXT record: check name and type.
fn current_of(sets: &[ResourceRecordSet], name: &str, rtype: RecordType) -> Current {
    let Some(set) = sets.first() else {
        return Current::Missing;
    };
    let same_name = set.name().trim_end_matches('.').eq_ignore_ascii_case(name);
    if !same_name || *set.r#type() != rr_type(rtype) {
        return Current::Missing;
    }
    if set.alias_target().is_some() || set.set_identifier().is_some() {
        return Current::Foreign;
    }
    Current::Plain {
        values: set
            .resource_records()
            .iter()
            .map(|r| r.value().to_string())
            .collect(),
        ttl: set.ttl().unwrap_or(0),
    }
}

impl Route53 {
    async fn list(
        &self,
        zone_id: &str,
        name: &str,
        rtype: RecordType,
        wait: Duration,
    ) -> Result<Current, DnsError> {
        let backoff = self
            .wait_turn_within("ListResourceRecordSets", wait)
            .await?;
        let (result, _) = retry(backoff, || async {
            self.client
                .list_resource_record_sets()
                .hosted_zone_id(zone_id)
                .start_record_name(format!("{name}."))
                .start_record_type(rr_type(rtype))
                .max_items(1)
                .send()
                .await
                .map_err(classify)
        })
        .await;
        let out = result?;
        Ok(current_of(out.resource_record_sets(), name, rtype))
    }
}

impl Dns for Route53 {
    async fn get(&self, zone_id: &str, name: &str, rtype: RecordType) -> Result<Current, DnsError> {
        self.list(zone_id, name, rtype, self.backoff.budget).await
    }

    async fn peek(
        &self,
        zone_id: &str,
        name: &str,
        rtype: RecordType,
    ) -> Result<Current, DnsError> {
        self.list(zone_id, name, rtype, Duration::ZERO).await
    }

    async fn get_many(
        &self,
        zone_id: &str,
        names: &[String],
        rtype: RecordType,
    ) -> Result<Vec<Current>, DnsError> {
        let mut found: Vec<Option<Current>> = vec![None; names.len()];
        let Some(first) = names.iter().min_by(|a, b| listing_order(a, b)) else {
            return Ok(Vec::new());
        };
        let mut start = (format!("{first}."), rr_type(rtype));
        for _ in 0..MAX_LAN_PAGES {
            let backoff = self.wait_turn("ListResourceRecordSets").await?;
            let (result, _) = retry(backoff, || async {
                self.client
                    .list_resource_record_sets()
                    .hosted_zone_id(zone_id)
                    .start_record_name(&start.0)
                    .start_record_type(start.1.clone())
                    .max_items(PAGE)
                    .send()
                    .await
                    .map_err(classify)
            })
            .await;
            let out = result?;
            for set in out.resource_record_sets() {
                let name = set.name().trim_end_matches('.');
                if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(name)) {
                    if found[i].is_none() && *set.r#type() == rr_type(rtype) {
                        found[i] = Some(current_of(std::slice::from_ref(set), &names[i], rtype));
                    }
                }
            }
            let next = (out.next_record_name(), out.next_record_type());
            match next {
                (Some(n), Some(t)) if out.is_truncated() && found.iter().any(Option::is_none) => {
                    start = (n.to_string(), t.clone());
                }
                _ => break,
            }
        }
        // Not listed (absent, or past the pages read): treated as missing, so the batch
        // UPSERTs it; an UPSERT of the right value is harmless.
        Ok(found
            .into_iter()
            .map(|c| c.unwrap_or(Current::Missing))
            .collect())
    }

    async fn upsert_many(
        &self,
        zone_id: &str,
        records: &[(String, IpAddr)],
        rtype: RecordType,
        ttl: u32,
    ) -> Result<(), DnsError> {
        if records.is_empty() {
            return Ok(());
        }
        let batch = change_batch(records, rtype, ttl)
            .map_err(|e| DnsError::Rejected(format!("building the change: {e}")))?;
        let backoff = self.wait_turn("ChangeResourceRecordSets").await?;
        let (result, _) = retry(backoff, || async {
            self.client
                .change_resource_record_sets()
                .hosted_zone_id(zone_id)
                .change_batch(batch.clone())
                .send()
                .await
                .map_err(classify)
        })
        .await;
        result?;
        Ok(())
    }

    async fn upsert(
        &self,
        zone_id: &str,
        name: &str,
        rtype: RecordType,
        ip: IpAddr,
        ttl: u32,
    ) -> Result<(), DnsError> {
        // One record is a batch of one: the same call, pacing and retries.
        self.upsert_many(zone_id, &[(name.to_string(), ip)], rtype, ttl)
            .await
    }
}

/// One all-or-nothing batch that UPSERTs each `(name, ip)` as a single-value record.
fn change_batch(
    records: &[(String, IpAddr)],
    rtype: RecordType,
    ttl: u32,
) -> Result<ChangeBatch, aws_sdk_route53::error::BuildError> {
    let mut batch = ChangeBatch::builder().comment("dyn53");
    for (name, ip) in records {
        let set = ResourceRecordSet::builder()
            .name(format!("{name}."))
            .r#type(rr_type(rtype))
            .ttl(i64::from(ttl))
            .resource_records(ResourceRecord::builder().value(ip.to_string()).build()?)
            .build()?;
        batch = batch.changes(
            Change::builder()
                .action(ChangeAction::Upsert)
                .resource_record_set(set)
                .build()?,
        );
    }
    batch.build()
}

/// Records per ListResourceRecordSets page (Route 53's maximum).
const PAGE: i32 = 300;

/// Pages read at most for one LAN batch (a home zone fits in one or two).
const MAX_LAN_PAGES: usize = 5;

/// Route 53 lists records by name with the labels reversed (`com.example.www`); the LAN
/// listing starts at the first of its names in that order.
fn listing_order(a: &str, b: &str) -> std::cmp::Ordering {
    let key = |n: &str| {
        n.to_ascii_lowercase()
            .rsplit('.')
            .collect::<Vec<_>>()
            .join(".")
    };
    key(a).cmp(&key(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, t: RrType, values: &[&str]) -> ResourceRecordSet {
        let mut b = ResourceRecordSet::builder().name(name).r#type(t).ttl(60);
        for v in values {
            b = b.resource_records(ResourceRecord::builder().value(*v).build().unwrap());
        }
        b.build().unwrap()
    }

    #[test]
    fn lan_batch_is_one_change_per_record() {
        let recs = [
            (
                "nas.example.com".to_string(),
                "2001:db8::1".parse().unwrap(),
            ),
            (
                "cam.example.com".to_string(),
                "2001:db8::2".parse().unwrap(),
            ),
        ];
        let b = change_batch(&recs, RecordType::Aaaa, 60).unwrap();
        let names: Vec<&str> = b
            .changes()
            .iter()
            .map(|c| c.resource_record_set().unwrap().name())
            .collect();
        assert_eq!(names, ["nas.example.com.", "cam.example.com."]);
        assert!(b
            .changes()
            .iter()
            .all(|c| *c.action() == ChangeAction::Upsert));
        let mut order = [
            "www.example.com",
            "a.b.example.com",
            "nas.example.com",
            "b.example.com",
        ];
        order.sort_by(|a, b| listing_order(a, b));
        assert_eq!(
            order,
            [
                "b.example.com",
                "a.b.example.com",
                "nas.example.com",
                "www.example.com"
            ]
        );
    }

    #[test]
    fn next_record_is_not_ours() {
        let next = [set("other.example.com.", RrType::A, &["192.0.2.1"])];
        assert_eq!(
            current_of(&next, "home.example.com", RecordType::A),
            Current::Missing
        );
        let wrong_type = [set("home.example.com.", RrType::Aaaa, &["2001:db8::1"])];
        assert_eq!(
            current_of(&wrong_type, "home.example.com", RecordType::A),
            Current::Missing
        );
        let ours = [set("Home.Example.com.", RrType::A, &["192.0.2.1"])];
        assert_eq!(
            current_of(&ours, "home.example.com", RecordType::A),
            Current::Plain {
                values: vec!["192.0.2.1".into()],
                ttl: 60
            }
        );
        assert_eq!(
            current_of(&[], "home.example.com", RecordType::A),
            Current::Missing
        );
    }
}
