//! [`HostStore`] on the table (see [`crate::table`] for its items), plus the host item
//! operations the admin CLI needs. Host secrets are sealed and opened through
//! [`crate::sealed`] when the stack has a secrets key.

use crate::host::{
    parse_protocols, parse_types, parse_zone_id, HostConfig, NotifyPrefs, DEFAULT_TTL,
    MAX_SILENT_AFTER, MAX_TTL,
};
use crate::lan::LanRecord;
use crate::random;
use crate::sealed::{self, SealError, Sealing};
use crate::store::{HostState, HostStore, Known, Loaded, StoreError};
use crate::table::{
    conditional, n, s, state_from_item, state_pk, unavailable, Item, Table, EXPIRES, NONCE_KEY_PK,
    PK,
};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use dyn53::protocol::RecordType;
use std::net::IpAddr;
use std::time::Duration;

pub use crate::table::{host_pk, HOST_PREFIX};

/// What `host list` reads: every host attribute except the secret, each through an alias
/// so no attribute name can collide with a DynamoDB reserved word.
const LISTED: [(&str, &str); 14] = [
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
    ("#ln", LAN),
    ("#sa", "silent_after"),
];

/// Host attribute holding the LAN records: a list of `name=identifier` strings.
pub const LAN: &str = "lan";

fn lan_value(records: &[LanRecord]) -> AttributeValue {
    AttributeValue::L(records.iter().map(|r| s(&r.to_string())).collect())
}

/// The backend's DynamoDB table.
#[derive(Clone, Debug)]
pub struct Dynamo {
    client: Client,
    table: String,
    items: Table,
    sealing: Option<Sealing>,
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
    if !h.lan.is_empty() {
        item.insert(LAN.into(), lan_value(&h.lan));
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
    if let Some(v) = item.get(LAN) {
        let list = strings(v).ok_or("lan must be a list of name=identifier strings")?;
        host.lan = list
            .iter()
            .filter(|r| !r.is_empty())
            .map(|r| LanRecord::parse(r).map_err(|e| format!("lan: {e}")))
            .collect::<Result<_, _>>()?;
    }
    Ok(host)
}

impl Dynamo {
    /// The table `table` through `client`.
    pub fn new(client: Client, table: &str) -> Self {
        Dynamo {
            items: Table::new(client.clone(), table),
            client,
            table: table.to_string(),
            sealing: None,
        }
    }

    /// The table, shared with the Route 53 pacing schedule.
    pub fn items(&self) -> &Table {
        &self.items
    }

    /// Sets what the table remembers of a record (tests seed a herd's past with it).
    pub async fn remember_record(
        &self,
        hostname: &str,
        rtype: RecordType,
        ip: Option<IpAddr>,
        now: u64,
    ) -> Result<(), StoreError> {
        for _ in 0..5 {
            let mut st = self.load_state(hostname).await?;
            match ip {
                Some(ip) => st.records.insert(rtype, Known { ip, at: now }),
                None => st.records.remove(&rtype),
            };
            if self.save_state(hostname, &st).await? {
                return Ok(());
            }
        }
        Err(StoreError::Unavailable("state kept changing".into()))
    }

    /// The same table, sealing the host secrets it writes and opening sealed ones.
    pub fn with_sealing(mut self, sealing: Sealing) -> Self {
        self.sealing = Some(sealing);
        self
    }

    /// The sealing in use, if any.
    pub fn sealing(&self) -> Option<&Sealing> {
        self.sealing.as_ref()
    }

    /// The DynamoDB client (for `sealed`'s item operations).
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Writes a new host; false (nothing written) if the host already exists.
    pub async fn put_new_host(&self, host: &HostConfig) -> Result<bool, StoreError> {
        let mut item = host_to_item(host);
        sealed::seal_item(self, &host.hostname, &mut item).await?;
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        Ok(conditional(r)?.is_some())
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
        // The new secret's attributes replace the other form's, so the old secret never
        // stays usable beside the new one.
        let attrs = sealed::secret_attributes(self, hostname, secret).await?;
        let sets: Vec<String> = (0..attrs.len()).map(|i| format!("#a{i} = :v{i}")).collect();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(&host_pk(hostname)))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#rot", "rotated")
            .expression_attribute_values(":now", n(now))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew);
        let mut expr = format!("SET {}, #rot = :now", sets.join(", "));
        let stale: &[&str] = match self.sealing {
            Some(_) => &[sealed::PLAIN],
            None => &[sealed::SEALED, sealed::SEALED_KEY],
        };
        let removed: Vec<String> = (0..stale.len()).map(|i| format!("#r{i}")).collect();
        expr.push_str(&format!(" REMOVE {}", removed.join(", ")));
        for (alias, name) in removed.iter().zip(stale) {
            update = update.expression_attribute_names(alias, *name);
        }
        for (i, (name, value)) in attrs.into_iter().enumerate() {
            update = update
                .expression_attribute_names(format!("#a{i}"), name)
                .expression_attribute_values(format!(":v{i}"), value);
        }
        match conditional(update.update_expression(expr).send().await)? {
            Some(out) => {
                let mut item = out.attributes.unwrap_or_default();
                sealed::open_item(self.sealing.as_ref(), &self.table, hostname, &mut item).await?;
                Ok(Some(host_from_item(&item, true)))
            }
            None => Ok(None),
        }
    }

    /// Sets (`Some`) or removes the host's `silent_after` hours; false if there is no host.
    pub async fn set_silent_after(
        &self,
        hostname: &str,
        hours: Option<u32>,
    ) -> Result<bool, StoreError> {
        let req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(&host_pk(hostname)))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#sa", "silent_after");
        let req = match hours {
            Some(h) => req
                .update_expression("SET #sa = :h")
                .expression_attribute_values(":h", n(h)),
            None => req.update_expression("REMOVE #sa"),
        };
        Ok(conditional(req.send().await)?.is_some())
    }

    /// Replaces a host's LAN records, only if they are still `old` (so two admins editing
    /// at once cannot lose each other's change); false if the host is gone or was changed.
    pub async fn set_lan(
        &self,
        hostname: &str,
        old: &[LanRecord],
        new: &[LanRecord],
    ) -> Result<bool, StoreError> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(&host_pk(hostname)))
            .expression_attribute_names("#ln", LAN);
        req = if old.is_empty() {
            req.condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(#ln) OR size(#ln) = :zero)",
            )
            .expression_attribute_values(":zero", n(0))
        } else {
            req.condition_expression("attribute_exists(pk) AND #ln = :old")
                .expression_attribute_values(":old", lan_value(old))
        };
        req = if new.is_empty() {
            req.update_expression("REMOVE #ln")
        } else {
            req.update_expression("SET #ln = :new")
                .expression_attribute_values(":new", lan_value(new))
        };
        Ok(conditional(req.send().await)?.is_some())
    }

    /// Deletes a host and its state; false if there was none.
    pub async fn remove_host(&self, hostname: &str) -> Result<bool, StoreError> {
        let r = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(&host_pk(hostname)))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        if conditional(r)?.is_none() {
            return Ok(false);
        }
        // Its state too, so a host added again later starts without old memory.
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(&state_pk(hostname)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(true)
    }

    /// Creates the table (on demand, TTL on `expires`) and waits until it is active;
    /// false if it already existed (then only TTL is ensured). (Over 60 lines: three SDK
    /// calls with their builders, in the order the table needs them.)
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
    async fn load(&self, hostname: &str) -> Result<Loaded, StoreError> {
        let (hk, sk) = (host_pk(hostname), state_pk(hostname));
        let mut items = self.items.get_many(&[hk.clone(), sk.clone()]).await?;
        let host = match items.remove(&hk) {
            None => None,
            // A secret that cannot be opened makes the item unusable (the owner must fix
            // it); KMS being unreachable is a failure of the call, as the table's would be.
            Some(mut item) => {
                match sealed::open_item(self.sealing.as_ref(), &self.table, hostname, &mut item)
                    .await
                {
                    Ok(()) => Some(host_from_item(&item, true)),
                    Err(SealError::Unusable(why)) => Some(Err(why)),
                    Err(e) => return Err(e.into()),
                }
            }
        };
        Ok(Loaded {
            host: host.transpose(),
            state: items
                .remove(&sk)
                .map(|i| state_from_item(&i))
                .unwrap_or_default(),
        })
    }

    async fn load_state(&self, hostname: &str) -> Result<HostState, StoreError> {
        let item = self.items.get(&state_pk(hostname)).await?;
        Ok(item.map(|i| state_from_item(&i)).unwrap_or_default())
    }

    async fn save_state(&self, hostname: &str, state: &HostState) -> Result<bool, StoreError> {
        self.items.put_state(hostname, state).await
    }

    async fn nonce_key(&self) -> Result<Vec<u8>, StoreError> {
        let read = |item: Item| match item.get("key") {
            Some(AttributeValue::B(b)) if b.as_ref().len() >= 32 => Ok(b.as_ref().to_vec()),
            _ => Err(StoreError::BadItem(format!(
                "{NONCE_KEY_PK} has no 32-byte binary attribute `key`"
            ))),
        };
        if let Some(item) = self.items.get(NONCE_KEY_PK).await? {
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
        if conditional(r)?.is_some() {
            return Ok(key.to_vec());
        }
        // Another instance created it first: use theirs.
        match self.items.get(NONCE_KEY_PK).await? {
            Some(item) => read(item),
            None => Err(StoreError::Unavailable("nonce key vanished".into())),
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
        h.lan = vec![
            LanRecord::parse("nas.example.com=::1234").unwrap(),
            LanRecord::parse("cam.example.com=eui64:00:11:22:33:44:55").unwrap(),
        ];
        let item = host_to_item(&h);
        assert_eq!(host_from_item(&item, true).unwrap(), h);
        let mut bad = item.clone();
        bad.insert(
            LAN.into(),
            AttributeValue::L(vec![s("nas.example.com=2001:db8::1")]),
        );
        assert!(host_from_item(&bad, true).unwrap_err().contains("lan:"));
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
