//! [`HostStore`] on one DynamoDB table, plus the item operations the admin CLI needs.
//!
//! One table, partition key `pk` (string), TTL attribute `expires` (Unix seconds):
//! - `host#<hostname>`: a host's config (see [`host_to_item`]);
//! - `nonce#<nonce>`: a spent v2 nonce, until it could no longer be accepted anyway;
//! - `rate#<hostname>#set|change`, `quiet#<hostname>#auth|error`: rate-limit windows;
//! - `lock#<hostname>`: the per-host update lock (a lease);
//! - `record#<hostname>#<type>`: the address dyn53 last wrote or saw in that record;
//! - `dyn53#nonce-key`: the server's nonce MAC key, created on first use;
//! - `dyn53#route53-slots`: the account-wide schedule of Route 53 calls (see `limiter`).

use crate::aws_error;
use crate::host::{
    parse_protocols, parse_types, parse_zone_id, HostConfig, NotifyPrefs, DEFAULT_TTL,
    MAX_SILENT_AFTER, MAX_TTL,
};
use crate::random;
use crate::store::{HostStore, Known, RateLimit, StoreError};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use dyn53::protocol::RecordType;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

/// Partition key attribute.
pub const PK: &str = "pk";
/// TTL attribute (DynamoDB deletes expired items some time after this Unix time).
pub const EXPIRES: &str = "expires";
/// Key of the reserved item that holds the nonce key.
pub const NONCE_KEY_PK: &str = "dyn53#nonce-key";
/// Prefix of host items.
pub const HOST_PREFIX: &str = "host#";
/// Token of the call that wrote a conditional item, so the SDK's repeat of a timed-out
/// attempt that was in fact written is recognised as the same call, not a second one.
pub const TOKEN: &str = "tok";
/// Tokens of the calls counted in a rate-limit window.
pub const IDS: &str = "ids";

type Item = HashMap<String, AttributeValue>;

/// What `host list` reads: every host attribute except the secret, each through an alias
/// so no attribute name can collide with a DynamoDB reserved word.
const LISTED: [(&str, &str); 13] = [
    ("#pk", PK),
    ("#zi", "zone_id"),
    ("#zn", "zone_name"),
    ("#tl", "record_ttl"),
    ("#ty", "types"),
    ("#pr", "protocols"),
    ("#ex", "allow_explicit_ip"),
    ("#po", "public_ip_only"),
    ("#nc", "notify_change"),
    ("#na", "notify_auth_failure"),
    ("#ne", "notify_error"),
    ("#cr", "created"),
    ("#sa", "silent_after"),
];

/// The backend's DynamoDB table.
#[derive(Clone, Debug)]
pub struct Dynamo {
    client: Client,
    table: String,
}

fn unavailable<E: ProvideErrorMetadata + std::error::Error + 'static>(
    e: SdkError<E, HttpResponse>,
) -> StoreError {
    StoreError::Unavailable(aws_error::detail(&e))
}

/// Whether a write failed only because its condition did not hold.
fn conditional_failed<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    e.as_service_error()
        .and_then(|se| se.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

/// A random token naming one store call (see [`TOKEN`]).
fn call_token() -> Result<String, StoreError> {
    random::bytes::<8>()
        .map(|b| random::hex(&b))
        .map_err(|e| StoreError::Unavailable(e.to_string()))
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The item key of a host.
pub fn host_pk(hostname: &str) -> String {
    format!("{HOST_PREFIX}{hostname}")
}

/// The item key of what the table remembers of a record.
pub fn record_pk(hostname: &str, rtype: RecordType) -> String {
    format!("record#{hostname}#{rtype}")
}

/// A host as a table item.
pub fn host_to_item(h: &HostConfig) -> Item {
    let mut item = Item::new();
    item.insert(PK.into(), s(&host_pk(&h.hostname)));
    item.insert("hostname".into(), s(&h.hostname));
    item.insert("secret".into(), s(&h.secret));
    item.insert("zone_id".into(), s(&h.zone_id));
    if let Some(z) = &h.zone_name {
        item.insert("zone_name".into(), s(z));
    }
    item.insert("record_ttl".into(), n(h.ttl));
    item.insert(
        "types".into(),
        AttributeValue::Ss(h.types.iter().map(|t| t.as_str().to_string()).collect()),
    );
    let protocols = h.protocols.names().into_iter().map(String::from).collect();
    item.insert("protocols".into(), AttributeValue::Ss(protocols));
    item.insert(
        "allow_explicit_ip".into(),
        AttributeValue::Bool(h.allow_explicit_ip),
    );
    item.insert(
        "public_ip_only".into(),
        AttributeValue::Bool(h.public_ip_only),
    );
    item.insert(
        "notify_change".into(),
        AttributeValue::Bool(h.notify.on_change),
    );
    item.insert(
        "notify_auth_failure".into(),
        AttributeValue::Bool(h.notify.on_auth_failure),
    );
    item.insert(
        "notify_error".into(),
        AttributeValue::Bool(h.notify.on_error),
    );
    if let Some(c) = h.created {
        item.insert("created".into(), n(c));
    }
    if let Some(hours) = h.notify.silent_after {
        item.insert("silent_after".into(), n(hours));
    }
    item
}

/// Reads a string list attribute: a string set, a list of strings, or a comma-separated
/// string (for items written by hand in the console).
fn strings(v: &AttributeValue) -> Option<Vec<String>> {
    match v {
        AttributeValue::Ss(v) | AttributeValue::Ns(v) => Some(v.clone()),
        AttributeValue::S(v) => Some(v.split(',').map(|p| p.trim().to_string()).collect()),
        AttributeValue::N(v) => Some(vec![v.clone()]),
        AttributeValue::L(items) => items
            .iter()
            .map(|i| match i {
                AttributeValue::S(s) | AttributeValue::N(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// A host from its table item; `with_secret` false reads listings that leave the secret out.
pub fn host_from_item(item: &Item, with_secret: bool) -> Result<HostConfig, String> {
    let text = |k: &str| -> Result<Option<&str>, String> {
        match item.get(k) {
            None => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.as_str())),
            Some(_) => Err(format!("{k} must be a string")),
        }
    };
    let flag = |k: &str, default: bool| -> Result<bool, String> {
        match item.get(k) {
            None => Ok(default),
            Some(AttributeValue::Bool(b)) => Ok(*b),
            Some(_) => Err(format!("{k} must be a boolean")),
        }
    };
    let pk = text(PK)?.ok_or("pk is missing")?;
    let hostname = pk
        .strip_prefix(HOST_PREFIX)
        .ok_or_else(|| format!("{pk:?} is not a host item"))?;
    let secret = match text("secret")? {
        Some(v) if !v.is_empty() => v.to_string(),
        _ if !with_secret => String::new(),
        _ => return Err("secret is missing".into()),
    };
    let zone_id = parse_zone_id(text("zone_id")?.ok_or("zone_id is missing")?).map_err(|e| e.0)?;
    let mut host = HostConfig::new(hostname, &zone_id, secret);
    host.zone_name = text("zone_name")?.map(|z| z.trim_end_matches('.').to_ascii_lowercase());
    host.ttl = match item.get("record_ttl") {
        None => DEFAULT_TTL,
        Some(AttributeValue::N(v)) => match v.parse::<u32>() {
            Ok(t) if (1..=MAX_TTL).contains(&t) => t,
            _ => return Err(format!("record_ttl {v} is out of range 1..{MAX_TTL}")),
        },
        Some(_) => return Err("record_ttl must be a number".into()),
    };
    if let Some(v) = item.get("types") {
        let list = strings(v).ok_or("types must be a string set")?;
        host.types = parse_types(list.iter().map(String::as_str)).map_err(|e| e.0)?;
    }
    if let Some(v) = item.get("protocols") {
        let list = strings(v).ok_or("protocols must be a set")?;
        host.protocols = parse_protocols(list.iter().map(String::as_str)).map_err(|e| e.0)?;
    }
    host.allow_explicit_ip = flag("allow_explicit_ip", false)?;
    // Items written before the rule existed keep accepting any address (opt-in).
    host.public_ip_only = flag("public_ip_only", false)?;
    host.notify = NotifyPrefs {
        on_change: flag("notify_change", true)?,
        on_auth_failure: flag("notify_auth_failure", true)?,
        on_error: flag("notify_error", true)?,
        silent_after: match item.get("silent_after") {
            None => None,
            Some(AttributeValue::N(v)) => match v.parse::<u32>() {
                Ok(h) if (1..=MAX_SILENT_AFTER).contains(&h) => Some(h),
                _ => {
                    return Err(format!(
                        "silent_after {v} is out of range 1..{MAX_SILENT_AFTER}"
                    ))
                }
            },
            Some(_) => return Err("silent_after must be a number".into()),
        },
    };
    host.created = match item.get("created") {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    };
    Ok(host)
}

impl Dynamo {
    /// The table `table` through `client`.
    pub fn new(client: Client, table: &str) -> Self {
        Dynamo {
            client,
            table: table.to_string(),
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get(&self, pk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    /// Whether the call with `token` was counted in the window of `key` still open.
    async fn counted(&self, key: &str, token: &str, start_min: u64) -> Result<bool, StoreError> {
        let Some(item) = self.get(key).await? else {
            return Ok(false);
        };
        let open = matches!(item.get("s"), Some(AttributeValue::N(v))
            if v.parse::<u64>().is_ok_and(|t| t > start_min));
        let listed = matches!(item.get(IDS), Some(AttributeValue::Ss(ids))
            if ids.iter().any(|i| i == token));
        Ok(open && listed)
    }

    /// Writes a new host; false (nothing written) if the host already exists.
    pub async fn put_new_host(&self, host: &HostConfig) -> Result<bool, StoreError> {
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(host_to_item(host)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Every host, secrets left out by the query itself.
    pub async fn list_hosts(&self) -> Result<Vec<Result<HostConfig, String>>, StoreError> {
        let mut hosts = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(#pk, :p)")
                .expression_attribute_values(":p", s(HOST_PREFIX))
                .projection_expression(
                    LISTED
                        .iter()
                        .map(|(alias, _)| *alias)
                        .collect::<Vec<_>>()
                        .join(", "),
                )
                .set_expression_attribute_names(Some(
                    LISTED
                        .iter()
                        .map(|(a, n)| (a.to_string(), n.to_string()))
                        .collect(),
                ))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            for item in out.items() {
                hosts.push(host_from_item(item, false));
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        hosts.sort_by(|a, b| match (a, b) {
            (Ok(a), Ok(b)) => a.hostname.cmp(&b.hostname),
            (Ok(_), Err(_)) => std::cmp::Ordering::Less,
            (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
            (Err(a), Err(b)) => a.cmp(b),
        });
        Ok(hosts)
    }

    /// Replaces a host's secret; the updated host, or None if there is no such host.
    pub async fn rotate_secret(
        &self,
        hostname: &str,
        secret: &str,
        now: u64,
    ) -> Result<Option<Result<HostConfig, String>>, StoreError> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(&host_pk(hostname)))
            .update_expression("SET #sec = :s, #rot = :now")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#sec", "secret")
            .expression_attribute_names("#rot", "rotated")
            .expression_attribute_values(":s", s(secret))
            .expression_attribute_values(":now", n(now))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match r {
            Ok(out) => Ok(Some(host_from_item(
                out.attributes.as_ref().unwrap_or(&Item::new()),
                true,
            ))),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Deletes a host; false if there was none.
    pub async fn remove_host(&self, hostname: &str) -> Result<bool, StoreError> {
        let r = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(&host_pk(hostname)))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Creates the table (on demand, TTL on `expires`) and waits until it is active;
    /// false if it already existed (then only TTL is ensured).
    pub async fn create_table(&self) -> Result<bool, StoreError> {
        let r = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(PK)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(PK)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?,
            )
            .send()
            .await;
        let created = match r {
            Ok(_) => true,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) =>
            {
                false
            }
            Err(e) => return Err(unavailable(e)),
        };
        for _ in 0..120 {
            let out = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(unavailable)?;
            if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let ttl = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(unavailable)?;
        let enabled = ttl
            .time_to_live_description()
            .and_then(|d| d.attribute_name())
            == Some(EXPIRES);
        if !enabled {
            self.client
                .update_time_to_live()
                .table_name(&self.table)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(EXPIRES)
                        .enabled(true)
                        .build()
                        .map_err(|e| StoreError::Unavailable(e.to_string()))?,
                )
                .send()
                .await
                .map_err(unavailable)?;
        }
        Ok(created)
    }
}

impl HostStore for Dynamo {
    async fn load_host(&self, hostname: &str) -> Result<Option<HostConfig>, StoreError> {
        match self.get(&host_pk(hostname)).await? {
            None => Ok(None),
            Some(item) => host_from_item(&item, true)
                .map(Some)
                .map_err(StoreError::BadItem),
        }
    }

    async fn spend_nonce(&self, nonce: &str, expires: u64) -> Result<bool, StoreError> {
        // The SDK repeats an attempt that timed out, and the first one may have been
        // written: a token of this call lets its own repeat through, never another call's.
        let token = call_token()?;
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(&format!("nonce#{nonce}")))
            .item(EXPIRES, n(expires))
            .item(TOKEN, s(&token))
            .condition_expression("attribute_not_exists(pk) OR #t = :t")
            .expression_attribute_names("#t", TOKEN)
            .expression_attribute_values(":t", s(&token))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn take_rate(&self, key: &str, limit: RateLimit, now: u64) -> Result<bool, StoreError> {
        // A window is open while its start `s` is newer than now - window; `c` counts calls
        // in it and `ids` holds their tokens. Count in the open window, else open a new one,
        // else (lost a race to open it) count once more; all conditional, so concurrent calls
        // never over-admit. The token makes each call count once even when the SDK repeats
        // a timed-out attempt that was in fact written.
        let token = call_token()?;
        let start_min = now.saturating_sub(limit.window);
        for attempt in 0..2 {
            let counted = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(PK, s(key))
                .update_expression("SET #c = #c + :one ADD #ids :me")
                .condition_expression(
                    "#s > :start_min AND #c < :max AND NOT contains(#ids, :token)",
                )
                .expression_attribute_names("#c", "c")
                .expression_attribute_names("#s", "s")
                .expression_attribute_names("#ids", IDS)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":start_min", n(start_min))
                .expression_attribute_values(":max", n(limit.max))
                .expression_attribute_values(":me", AttributeValue::Ss(vec![token.clone()]))
                .expression_attribute_values(":token", s(&token))
                .send()
                .await;
            match counted {
                Ok(_) => return Ok(true),
                Err(e) if conditional_failed(&e) => {}
                Err(e) => return Err(unavailable(e)),
            }
            if self.counted(key, &token, start_min).await? {
                return Ok(true);
            }
            if attempt == 1 {
                return Ok(false);
            }
            let opened = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(PK, s(key))
                .update_expression("SET #s = :now, #c = :one, #e = :exp, #ids = :me")
                .condition_expression("attribute_not_exists(#s) OR #s <= :start_min")
                .expression_attribute_names("#c", "c")
                .expression_attribute_names("#s", "s")
                .expression_attribute_names("#e", EXPIRES)
                .expression_attribute_names("#ids", IDS)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":start_min", n(start_min))
                .expression_attribute_values(":exp", n(now + limit.window + 60))
                .expression_attribute_values(":me", AttributeValue::Ss(vec![token.clone()]))
                .send()
                .await;
            match opened {
                Ok(_) => return Ok(true),
                Err(e) if conditional_failed(&e) => {}
                Err(e) => return Err(unavailable(e)),
            }
            if self.counted(key, &token, start_min).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn lock(
        &self,
        hostname: &str,
        owner: &str,
        now: u64,
        lease: u64,
    ) -> Result<bool, StoreError> {
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(&format!("lock#{hostname}")))
            .item("owner", s(owner))
            .item(EXPIRES, n(now + lease))
            // `#o = :owner`: a repeated attempt of this very call (see spend_nonce).
            .condition_expression("attribute_not_exists(pk) OR #e < :now OR #o = :owner")
            .expression_attribute_names("#e", EXPIRES)
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn unlock(&self, hostname: &str, owner: &str) -> Result<(), StoreError> {
        let r = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(&format!("lock#{hostname}")))
            .condition_expression("#o = :owner")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match r {
            // Not ours any more: the lease ran out and someone else holds it now.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(unavailable(e)),
            Ok(_) => Ok(()),
        }
    }

    async fn known_record(
        &self,
        hostname: &str,
        rtype: RecordType,
    ) -> Result<Option<Known>, StoreError> {
        let Some(item) = self.get(&record_pk(hostname, rtype)).await? else {
            return Ok(None);
        };
        let ip = match item.get("ip") {
            Some(AttributeValue::S(v)) => v.parse::<IpAddr>().ok(),
            _ => None,
        };
        let at = match item.get("at") {
            Some(AttributeValue::N(v)) => v.parse::<u64>().ok(),
            _ => None,
        };
        // Unreadable: as if unknown, so the record is read from Route 53.
        Ok(ip.zip(at).map(|(ip, at)| Known { ip, at }))
    }

    async fn remember_record(
        &self,
        hostname: &str,
        rtype: RecordType,
        ip: Option<IpAddr>,
        now: u64,
    ) -> Result<(), StoreError> {
        let pk = record_pk(hostname, rtype);
        match ip {
            Some(ip) => self
                .client
                .put_item()
                .table_name(&self.table)
                .item(PK, s(&pk))
                .item("ip", s(&ip.to_string()))
                .item("at", n(now))
                .send()
                .await
                .map(drop)
                .map_err(unavailable),
            None => self
                .client
                .delete_item()
                .table_name(&self.table)
                .key(PK, s(&pk))
                .send()
                .await
                .map(drop)
                .map_err(unavailable),
        }
    }

    async fn nonce_key(&self) -> Result<Vec<u8>, StoreError> {
        let read = |item: Item| match item.get("key") {
            Some(AttributeValue::B(b)) if b.as_ref().len() >= 32 => Ok(b.as_ref().to_vec()),
            _ => Err(StoreError::BadItem(format!(
                "{NONCE_KEY_PK} has no 32-byte binary attribute `key`"
            ))),
        };
        if let Some(item) = self.get(NONCE_KEY_PK).await? {
            return read(item);
        }
        let key = random::bytes::<32>().map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(NONCE_KEY_PK))
            .item("key", AttributeValue::B(Blob::new(key.to_vec())))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match r {
            Ok(_) => Ok(key.to_vec()),
            // Another instance created it first: use theirs.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                match self.get(NONCE_KEY_PK).await? {
                    Some(item) => read(item),
                    None => Err(StoreError::Unavailable("nonce key vanished".into())),
                }
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Protocols;

    #[test]
    fn host_items_round_trip() {
        let mut h = HostConfig::new("home.example.com", "Z1ABC", "s3cret".into());
        h.zone_name = Some("example.com".into());
        h.types = vec![RecordType::A, RecordType::Aaaa];
        h.protocols = Protocols {
            v1: false,
            v2: true,
            dyndns2: true,
        };
        h.allow_explicit_ip = true;
        h.public_ip_only = false;
        h.notify.on_auth_failure = false;
        h.created = Some(1_700_000_000);
        h.ttl = 300;
        let item = host_to_item(&h);
        assert_eq!(host_from_item(&item, true).unwrap(), h);
    }

    #[test]
    fn hand_written_items() {
        let mut item = Item::new();
        item.insert(PK.into(), s("host#nas.example.com"));
        item.insert("secret".into(), s("x"));
        item.insert("zone_id".into(), s("/hostedzone/z9"));
        item.insert("types".into(), s("A, AAAA"));
        let h = host_from_item(&item, true).unwrap();
        assert_eq!(h.zone_id, "Z9");
        assert_eq!(h.types, vec![RecordType::A, RecordType::Aaaa]);
        assert_eq!(h.ttl, DEFAULT_TTL);
        assert!(
            !h.public_ip_only,
            "old items keep accepting any explicit address"
        );
        item.insert("record_ttl".into(), n(0));
        assert!(host_from_item(&item, true).is_err());
        item.remove("record_ttl");
        item.remove("secret");
        assert!(host_from_item(&item, true).is_err());
        assert!(host_from_item(&item, false).is_ok());
        item.insert("types".into(), s("CNAME"));
        assert!(host_from_item(&item, false).is_err());
    }
}
