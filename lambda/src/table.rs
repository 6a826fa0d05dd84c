//! The backend's one DynamoDB table: every item key format, the per-host state item's
//! layout, and the one conditional-write check. `dynamo` (hosts, state) and `limiter`
//! (Route 53 pacing) both go through [`Table`].
//!
//! One table, partition key `pk` (string), TTL attribute `expires` (Unix seconds):
//! - `host#<hostname>`: a host's config, written only by the admin CLI (see `dynamo`);
//! - `state#<hostname>`: what requests for the host check and change together (see
//!   [`state_to_item`]), replaced whole by one conditional write per request;
//! - `dyn53#nonce-key`: the server's nonce MAC key, created on first use;
//! - `dyn53#route53-slots`: the account-wide schedule of Route 53 calls (see `limiter`).

use crate::aws_error;
use crate::random;
use crate::store::{HostState, Known, Pending, StoreError, Window};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use dyn53::protocol::RecordType;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

/// Partition key attribute.
pub const PK: &str = "pk";
/// TTL attribute (DynamoDB deletes expired items some time after this Unix time).
pub const EXPIRES: &str = "expires";
/// Prefix of host items.
pub const HOST_PREFIX: &str = "host#";
/// Prefix of per-host state items.
pub const STATE_PREFIX: &str = "state#";
/// Key of the reserved item that holds the nonce key.
pub const NONCE_KEY_PK: &str = "dyn53#nonce-key";
/// Key of the Route 53 schedule item.
pub const SLOTS_PK: &str = "dyn53#route53-slots";
/// Key of the item holding the data key that seals host secrets, as KMS encrypted it.
pub const DATA_KEY_PK: &str = "dyn53#data-key";
/// State attribute: the update version the optimistic lock compares.
pub const VERSION: &str = "ver";
/// State attribute: tokens of the last few writes, so the SDK's repeat of a timed-out write
/// that was in fact written is recognised as the same write, not a lost race.
pub const TOKENS: &str = "toks";
/// State attribute: Unix seconds of the last successful check-in (read by the alerts'
/// silent-host check: keep the name).
pub const SEEN: &str = "seen";
/// State attribute: the `seen` of a silence the silent-host check already alerted.
pub const SILENT: &str = "silent";
/// How many write tokens a state item keeps.
const KEPT_TOKENS: usize = 4;

/// A table item.
pub type Item = HashMap<String, AttributeValue>;

/// The item key of a host.
pub fn host_pk(hostname: &str) -> String {
    format!("{HOST_PREFIX}{hostname}")
}

/// The item key of a host's state.
pub fn state_pk(hostname: &str) -> String {
    format!("{STATE_PREFIX}{hostname}")
}

/// A string attribute.
pub fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

/// A number attribute.
pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// A number attribute of `item`, if it is one.
pub fn number(item: &Item, k: &str) -> Option<u64> {
    item.get(k)?.as_n().ok()?.parse().ok()
}

/// A failed table call as the store's error (details for the log only).
pub fn unavailable<E: ProvideErrorMetadata + std::error::Error + 'static>(
    e: SdkError<E, HttpResponse>,
) -> StoreError {
    StoreError::Unavailable(aws_error::detail(&e))
}

/// The one place a conditional write's outcome is read: `Some(output)` when written, `None`
/// when its condition did not hold, an error for anything else.
pub fn conditional<O, E>(r: Result<O, SdkError<E, HttpResponse>>) -> Result<Option<O>, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match r {
        Ok(out) => Ok(Some(out)),
        Err(e)
            if e.as_service_error().and_then(|se| se.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(None)
        }
        Err(e) => Err(unavailable(e)),
    }
}

/// A random token naming one write (see [`TOKENS`]).
pub fn write_token() -> Result<String, StoreError> {
    random::bytes::<8>()
        .map(|b| random::hex(&b))
        .map_err(|e| StoreError::Unavailable(e.to_string()))
}

/// The table: its client and name, shared by the host store and the pacing schedule.
#[derive(Clone, Debug)]
pub struct Table {
    /// The SDK client.
    pub client: Client,
    /// The table name.
    pub name: String,
}

impl Table {
    /// The table `name` through `client`.
    pub fn new(client: Client, name: &str) -> Self {
        Table {
            client,
            name: name.to_string(),
        }
    }

    /// One item by key, read consistently.
    pub async fn get(&self, pk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .key(PK, s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    /// Up to 100 items by key in one BatchGetItem (consistent), keyed by `pk`; keys DynamoDB
    /// leaves unprocessed are asked again (bounded).
    pub async fn get_many(&self, pks: &[String]) -> Result<HashMap<String, Item>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut found = HashMap::new();
        let mut keys: Vec<Item> = pks
            .iter()
            .map(|pk| HashMap::from([(PK.to_string(), s(pk))]))
            .collect();
        for _ in 0..3 {
            let ka = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.name, ka)
                .send()
                .await
                .map_err(unavailable)?;
            for item in out
                .responses
                .and_then(|mut r| r.remove(&self.name))
                .unwrap_or_default()
            {
                if let Some(AttributeValue::S(pk)) = item.get(PK) {
                    found.insert(pk.clone(), item);
                }
            }
            keys = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.name))
                .map(|ka| ka.keys)
                .unwrap_or_default();
            if keys.is_empty() {
                return Ok(found);
            }
        }
        Err(StoreError::Unavailable("keys left unprocessed".into()))
    }

    /// Writes a host's state if nobody else wrote it since it was read (`state.version`);
    /// false when someone did. A repeat of this very write (the SDK after a timeout) passes.
    pub async fn put_state(&self, hostname: &str, state: &HostState) -> Result<bool, StoreError> {
        let token = write_token()?;
        let item = state_to_item(hostname, state, &token);
        let pk = state_pk(hostname);
        let mut names = HashMap::from([("#t".to_string(), TOKENS.to_string())]);
        let mut values = HashMap::from([(":tok".to_string(), s(&token))]);
        let condition = if state.version == 0 {
            "attribute_not_exists(pk) OR contains(#t, :tok)"
        } else {
            names.insert("#v".into(), VERSION.into());
            values.insert(":old".into(), n(state.version));
            "#v = :old OR contains(#t, :tok)"
        };
        let r = self
            .client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        if conditional(r)?.is_some() {
            return Ok(true);
        }
        // Lost, or our own earlier attempt was written and then overwritten: the token says.
        let now = self.get(&pk).await?;
        Ok(now.is_some_and(
            |i| matches!(i.get(TOKENS), Some(AttributeValue::S(t)) if t.contains(&token)),
        ))
    }
}

fn record_attr(t: RecordType) -> String {
    format!("rec_{t}")
}

/// A host's state as its table item, written with `token` and the next version. Layout:
/// `ver`, `toks`, `seen`; set and change windows `set_s`/`set_c`, `chg_s`/`chg_c` (window
/// start, count); last auth-failure and error notifications `quiet_auth`, `quiet_error`;
/// spent v2 nonces `nonces` (map nonce -> expiry); record memory `rec_A`, `rec_AAAA`
/// (`ip`, `at`); a change in flight `pending` (`type`, `ip`, `until`); the LAN prefix last
/// applied `lan` (`p`, `at`); the silence already alerted `silent`; `expires` only on
/// the state of names that are no host.
pub fn state_to_item(hostname: &str, st: &HostState, token: &str) -> Item {
    let mut item = Item::new();
    item.insert(PK.into(), s(&state_pk(hostname)));
    item.insert(VERSION.into(), n(st.version + 1));
    let mut toks = vec![token.to_string()];
    toks.extend(st.tokens.iter().take(KEPT_TOKENS - 1).cloned());
    item.insert(TOKENS.into(), s(&toks.join(" ")));
    if let Some(seen) = st.seen {
        item.insert(SEEN.into(), n(seen));
    }
    for (k, w) in [("set", st.sets), ("chg", st.changes)] {
        item.insert(format!("{k}_s"), n(w.start));
        item.insert(format!("{k}_c"), n(w.count));
    }
    item.insert("quiet_auth".into(), n(st.quiet_auth));
    item.insert("quiet_error".into(), n(st.quiet_error));
    if !st.nonces.is_empty() {
        let m = st.nonces.iter().map(|(k, v)| (k.clone(), n(v))).collect();
        item.insert("nonces".into(), AttributeValue::M(m));
    }
    for (t, k) in &st.records {
        let m = HashMap::from([
            ("ip".to_string(), s(&k.ip.to_string())),
            ("at".to_string(), n(k.at)),
        ]);
        item.insert(record_attr(*t), AttributeValue::M(m));
    }
    if let Some(p) = &st.pending {
        let m = HashMap::from([
            ("type".to_string(), s(p.rtype.as_str())),
            ("ip".to_string(), s(&p.ip.to_string())),
            ("until".to_string(), n(p.until)),
        ]);
        item.insert("pending".into(), AttributeValue::M(m));
    }
    if let Some((prefix, at)) = &st.lan {
        let m = HashMap::from([("p".to_string(), s(prefix)), ("at".to_string(), n(at))]);
        item.insert("lan".into(), AttributeValue::M(m));
    }
    if let Some(m) = st.silent {
        item.insert(SILENT.into(), n(m));
    }
    if let Some(e) = st.expires {
        item.insert(EXPIRES.into(), n(e));
    }
    item
}

/// A host's state from its item; unreadable parts read as empty (the state only saves
/// work: a lost window or memory costs a Route 53 read, never a wrong answer).
pub fn state_from_item(item: &Item) -> HostState {
    let num = |k: &str| number(item, k).unwrap_or(0);
    let window = |k: &str| Window {
        start: num(&format!("{k}_s")),
        count: num(&format!("{k}_c")) as u32,
    };
    let map = |k: &str| item.get(k).and_then(|v| v.as_m().ok());
    let ip = |m: &Item| m.get("ip")?.as_s().ok()?.parse::<IpAddr>().ok();
    let mut records = BTreeMap::new();
    for t in [RecordType::A, RecordType::Aaaa] {
        if let Some(m) = map(&record_attr(t)) {
            if let (Some(ip), Some(at)) = (ip(m), number(m, "at")) {
                records.insert(t, Known { ip, at });
            }
        }
    }
    let pending = map("pending").and_then(|m| {
        let rtype = m.get("type")?.as_s().ok()?.parse::<RecordType>().ok()?;
        Some(Pending {
            rtype,
            ip: ip(m)?,
            until: number(m, "until")?,
        })
    });
    HostState {
        version: num(VERSION),
        tokens: match item.get(TOKENS) {
            Some(AttributeValue::S(t)) => t.split(' ').map(String::from).collect(),
            _ => Vec::new(),
        },
        seen: number(item, SEEN),
        sets: window("set"),
        changes: window("chg"),
        quiet_auth: num("quiet_auth"),
        quiet_error: num("quiet_error"),
        nonces: map("nonces")
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_n().ok()?.parse().ok()?)))
                    .collect()
            })
            .unwrap_or_default(),
        records,
        pending,
        lan: map("lan").and_then(|m| Some((m.get("p")?.as_s().ok()?.clone(), number(m, "at")?))),
        silent: number(item, SILENT),
        expires: number(item, EXPIRES),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_items_round_trip() {
        let mut st = HostState {
            version: 6,
            tokens: vec!["a1".into(), "b2".into()],
            seen: Some(1_700_000_000),
            sets: Window {
                start: 10,
                count: 3,
            },
            changes: Window {
                start: 20,
                count: 1,
            },
            quiet_auth: 5,
            quiet_error: 0,
            ..HostState::default()
        };
        st.nonces.insert("n1".into(), 99);
        st.records.insert(
            RecordType::Aaaa,
            Known {
                ip: "2001:db8::1".parse().unwrap(),
                at: 7,
            },
        );
        st.pending = Some(Pending {
            rtype: RecordType::A,
            ip: "192.0.2.1".parse().unwrap(),
            until: 40,
        });
        let item = state_to_item("h.example", &st, "c3");
        assert_eq!(item[PK], s("state#h.example"));
        let back = state_from_item(&item);
        assert_eq!(back.version, 7, "written as the next version");
        assert_eq!(back.tokens, ["c3", "a1", "b2"]);
        st.version = 7;
        st.tokens = back.tokens.clone();
        assert_eq!(back, st);
        assert_eq!(state_from_item(&Item::new()), HostState::default());
    }
}
