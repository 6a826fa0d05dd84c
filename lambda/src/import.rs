//! `import`: the hosts of an existing reference deployment (the AWS "serverless dynamic DNS"
//! design) with their existing secrets, so its routers keep working unchanged.
//!
//! Two layouts hold the same per-host JSON object (`aws_region`, `route_53_zone_id`,
//! `route_53_record_ttl`, `route_53_record_type`, `shared_secret`): the 2023 DynamoDB
//! config table, items `{"hostname": S, "data": S}` with the object as a JSON string, and
//! the 2015/2016 S3 object, one JSON object keyed by hostname. Keys appear with and
//! without the trailing dot; both spellings of one name become one host.
//!
//! Everything is read and checked (zones included) before the first write, and a bad entry
//! stops the whole import. Secrets are never printed, not even in errors.

use crate::admin::{zone_name, AdminError};
use crate::aws_error;
use crate::clock::now_unix;
use crate::dynamo::Dynamo;
use crate::host::{
    check_secret, name_in_zone, name_matches, parse_hostname, parse_types, parse_zone_id,
    weak_secret_warning, HostConfig, Protocols, MAX_TTL,
};
use aws_sdk_dynamodb::types::AttributeValue;
use dyn53::protocol::RecordType;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where the reference deployment keeps its host config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The 2023 design's DynamoDB config table (its `ddns_config_table` variable).
    DynamoTable(String),
    /// A copy of the 2015/2016 design's S3 JSON object (`-`: standard input), e.g. from
    /// `aws s3 cp s3://BUCKET/KEY -`: a one-off migration does not justify linking an S3
    /// client into the Lambda binary.
    File(PathBuf),
}

/// What `import` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// Where to read.
    pub source: Source,
    /// Protocols the imported hosts accept (always with 1: their routers speak it).
    pub protocols: Protocols,
    /// Whether the imported hosts may set explicit addresses.
    pub allow_explicit_ip: bool,
    /// Check and show, write nothing.
    pub dry_run: bool,
    /// The stack's RecordNames (DYN53_RECORD_NAMES): hosts outside them are refused, since
    /// the function's role may not change their records.
    pub record_names: Option<Vec<String>>,
}

/// One host of the reference config, checked.
#[derive(Clone, PartialEq, Eq)]
pub struct RefHost {
    /// Normalised hostname.
    pub hostname: String,
    /// The key(s) it was found under, as written there.
    pub keys: Vec<String>,
    /// Bare hosted zone id.
    pub zone_id: String,
    /// Record TTL.
    pub ttl: u32,
    /// Record type.
    pub rtype: RecordType,
    /// The existing shared secret.
    pub secret: String,
}

// Hand-written so a debug print never shows the secret.
impl std::fmt::Debug for RefHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefHost")
            .field("hostname", &self.hostname)
            .field("keys", &self.keys)
            .field("zone_id", &self.zone_id)
            .field("ttl", &self.ttl)
            .field("rtype", &self.rtype)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// One entry as read: where it came from (for messages) and its JSON object.
pub struct Entry {
    /// The hostname key as written in the source.
    pub key: String,
    /// Its config object, or why it could not be read.
    pub config: Result<Value, String>,
}

/// The entries of a 2015/2016 S3 config object.
pub fn entries_from_json(bytes: &[u8], what: &str) -> Result<Vec<Entry>, AdminError> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| AdminError::Input(format!("{what} is not JSON: {e}")))?;
    let Value::Object(map) = v else {
        return Err(AdminError::Input(format!(
            "{what} must be one JSON object keyed by hostname"
        )));
    };
    Ok(map
        .into_iter()
        .map(|(key, config)| Entry {
            key,
            config: Ok(config),
        })
        .collect())
}

/// The entry of one 2023 config table item.
pub fn entry_from_item(
    n: usize,
    item: &std::collections::HashMap<String, AttributeValue>,
) -> Entry {
    let key = match item.get("hostname") {
        Some(AttributeValue::S(h)) => h.clone(),
        _ => {
            return Entry {
                key: format!("item {n}"),
                config: Err("has no string attribute `hostname`".into()),
            }
        }
    };
    let config = match item.get("data") {
        Some(AttributeValue::S(d)) => {
            serde_json::from_str(d).map_err(|e| format!("`data` is not JSON: {e}"))
        }
        Some(_) => Err("`data` must be a string holding JSON".into()),
        None => Err("has no attribute `data`".into()),
    };
    Entry { key, config }
}

/// Checks one entry.
pub fn parse_entry(e: &Entry) -> Result<RefHost, String> {
    let config = e.config.as_ref().map_err(String::clone)?;
    let Value::Object(c) = config else {
        return Err("the config must be a JSON object".into());
    };
    let hostname = parse_hostname(&e.key).map_err(|b| b.0)?;
    let text = |k: &str| -> Result<Option<&str>, String> {
        match c.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!("{k} must be a string")),
        }
    };
    let zone = text("route_53_zone_id")?.ok_or("route_53_zone_id is missing")?;
    let zone_id = parse_zone_id(zone).map_err(|b| b.0)?;
    let ttl = match c.get("route_53_record_ttl") {
        None | Some(Value::Null) => 60,
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        Some(_) => 0,
    };
    if ttl == 0 || ttl > u64::from(MAX_TTL) {
        return Err(format!(
            "route_53_record_ttl must be a number of seconds from 1 to {MAX_TTL}"
        ));
    }
    let rtype = match text("route_53_record_type")? {
        None => RecordType::A,
        Some(t) => parse_types([t]).map_err(|b| format!("route_53_record_type: {b}"))?[0],
    };
    let secret = text("shared_secret")?.ok_or("shared_secret is missing")?;
    check_secret(secret).map_err(|b| format!("shared_secret: {b}"))?;
    Ok(RefHost {
        hostname,
        keys: vec![e.key.clone()],
        zone_id,
        ttl: ttl as u32,
        rtype,
        secret: secret.to_string(),
    })
}

/// Checks every entry and merges spellings of one name; every problem, or the hosts.
pub fn check_entries(entries: &[Entry]) -> Result<Vec<RefHost>, Vec<String>> {
    let mut hosts: BTreeMap<String, RefHost> = BTreeMap::new();
    let mut problems = Vec::new();
    for e in entries {
        let h = match parse_entry(e) {
            Ok(h) => h,
            Err(why) => {
                problems.push(format!("{:?}: {why}", e.key));
                continue;
            }
        };
        match hosts.get_mut(&h.hostname) {
            None => {
                hosts.insert(h.hostname.clone(), h);
            }
            Some(seen) => {
                let differs = [
                    ("route_53_zone_id", seen.zone_id != h.zone_id),
                    ("route_53_record_ttl", seen.ttl != h.ttl),
                    ("route_53_record_type", seen.rtype != h.rtype),
                    ("shared_secret", seen.secret != h.secret),
                ];
                let fields: Vec<&str> = differs
                    .iter()
                    .filter_map(|(f, d)| d.then_some(*f))
                    .collect();
                if fields.is_empty() {
                    seen.keys.extend(h.keys);
                } else {
                    problems.push(format!(
                        "{:?} and {:?} are one name but differ in {}; remove one of them",
                        seen.keys[0],
                        h.keys[0],
                        fields.join(", ")
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(hosts.into_values().collect())
    } else {
        Err(problems)
    }
}

/// Reads the entries from the source.
pub async fn read(cfg: &aws_config::SdkConfig, source: &Source) -> Result<Vec<Entry>, AdminError> {
    match source {
        Source::File(path) => {
            let bytes = if path.as_os_str() == "-" {
                let mut buf = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
                    .map_err(|e| AdminError::Input(format!("standard input: {e}")))?;
                buf
            } else {
                std::fs::read(path)
                    .map_err(|e| AdminError::Input(format!("{}: {e}", path.display())))?
            };
            entries_from_json(&bytes, &path.display().to_string())
        }
        Source::DynamoTable(table) => {
            let client = aws_sdk_dynamodb::Client::new(cfg);
            let mut entries = Vec::new();
            let mut start = None;
            loop {
                let out = client
                    .scan()
                    .table_name(table)
                    .consistent_read(true)
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map_err(|e| {
                        AdminError::Aws(format!("reading table {table}: {}", aws_error::detail(&e)))
                    })?;
                for item in out.items() {
                    entries.push(entry_from_item(entries.len() + 1, item));
                }
                match out.last_evaluated_key {
                    Some(k) if !k.is_empty() => start = Some(k),
                    _ => break,
                }
            }
            Ok(entries)
        }
    }
}

/// Imports the hosts: checks everything, then adds the hosts not yet in the table.
pub async fn import(
    cfg: &aws_config::SdkConfig,
    table: &Dynamo,
    r53: &aws_sdk_route53::Client,
    opts: &ImportOptions,
) -> Result<String, AdminError> {
    let entries = read(cfg, &opts.source).await?;
    if entries.is_empty() {
        return Err(AdminError::Input("the source holds no hosts".into()));
    }
    let refs = check_entries(&entries).map_err(|problems| {
        AdminError::Input(format!(
            "nothing imported; fix these entries first:\n  {}",
            problems.join("\n  ")
        ))
    })?;
    // Each zone once; a host outside its zone would never update.
    let mut zones: BTreeMap<String, String> = BTreeMap::new();
    let mut problems = Vec::new();
    for r in &refs {
        if !zones.contains_key(&r.zone_id) {
            match zone_name(r53, &r.zone_id).await {
                Ok(name) => {
                    zones.insert(r.zone_id.clone(), name);
                }
                Err(AdminError::NotFound(m)) => {
                    problems.push(format!("{}: {m}", r.hostname));
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(names) = &opts.record_names {
            if !names.iter().any(|p| name_matches(p, &r.hostname)) {
                problems.push(format!(
                    "{}: not among the stack's RecordNames ({}); add it there first",
                    r.hostname,
                    names.join(",")
                ));
            }
        }
        if let Some(zone) = zones.get(&r.zone_id) {
            if !name_in_zone(&r.hostname, zone) {
                problems.push(format!(
                    "{}: not inside zone {zone} ({})",
                    r.hostname, r.zone_id
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(AdminError::Input(format!(
            "nothing imported; fix these entries first:\n  {}",
            problems.join("\n  ")
        )));
    }
    let mut out = String::new();
    let mut added = 0;
    let mut present = 0;
    for r in &refs {
        let mut host = HostConfig::new(&r.hostname, &r.zone_id, r.secret.clone());
        host.zone_name = zones.get(&r.zone_id).cloned();
        host.ttl = r.ttl;
        host.types = vec![r.rtype];
        host.protocols = opts.protocols;
        host.allow_explicit_ip = opts.allow_explicit_ip;
        host.created = Some(now_unix());
        let keys: Vec<String> = r.keys.iter().map(|k| format!("{k:?}")).collect();
        let line = format!(
            "{} (zone {} {}; TTL {}; type {}; protocols {}; from {})",
            r.hostname,
            host.zone_name.as_deref().unwrap_or("?"),
            r.zone_id,
            r.ttl,
            r.rtype,
            host.protocols,
            keys.join(" and ")
        );
        let verdict = if opts.dry_run {
            "would add"
        } else if table
            .put_new_host(&host)
            .await
            .map_err(|e| AdminError::Aws(format!("{e} (after {added} host(s) were added)")))?
        {
            added += 1;
            "added"
        } else {
            present += 1;
            "already in the table, left as it is:"
        };
        out.push_str(&format!("{verdict} {line}\n"));
        if let Some(w) = weak_secret_warning(&r.secret) {
            out.push_str(&format!("  warning: {w}\n"));
        }
    }
    out.push_str(&if opts.dry_run {
        format!(
            "Dry run: {} host(s) checked, nothing written. Secrets are kept and never printed.\n",
            refs.len()
        )
    } else {
        format!(
            "{added} host(s) added with their existing secrets (not printed), {present} already \
             present. Point the routers' URL at dyn53; nothing else changes for them.\n"
        )
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(json: &str) -> Vec<Entry> {
        entries_from_json(json.as_bytes(), "test").unwrap()
    }

    const CONFIG: &str = r#"{"aws_region": "us-west-2", "route_53_zone_id": "Z1ABC",
        "route_53_record_ttl": 60, "route_53_record_type": "A", "shared_secret": "s3cr3t-of-host1"}"#;

    #[test]
    fn s3_layout_with_both_spellings() {
        let json = format!(r#"{{"host1.example.com.": {CONFIG}, "HOST1.example.com": {CONFIG}}}"#);
        let hosts = check_entries(&entries(&json)).unwrap();
        assert_eq!(hosts.len(), 1);
        assert_eq!(hosts[0].hostname, "host1.example.com");
        assert_eq!(hosts[0].keys.len(), 2);
        assert_eq!(hosts[0].secret, "s3cr3t-of-host1");
        assert_eq!((hosts[0].ttl, hosts[0].rtype), (60, RecordType::A));
        assert!(!format!("{hosts:?}").contains("s3cr3t"));
    }

    #[test]
    fn table_items() {
        let item = |h: &str, d: AttributeValue| {
            let mut i = std::collections::HashMap::new();
            i.insert("hostname".to_string(), AttributeValue::S(h.into()));
            i.insert("data".to_string(), d);
            i
        };
        let ok = entry_from_item(1, &item("a.example.com.", AttributeValue::S(CONFIG.into())));
        assert_eq!(parse_entry(&ok).unwrap().zone_id, "Z1ABC");
        let bad = entry_from_item(2, &item("b.example.com", AttributeValue::S("{".into())));
        assert!(parse_entry(&bad).unwrap_err().contains("not JSON"));
        let bad = entry_from_item(3, &item("c.example.com", AttributeValue::N("1".into())));
        assert!(parse_entry(&bad).unwrap_err().contains("must be a string"));
        let bad = entry_from_item(4, &std::collections::HashMap::new());
        assert_eq!(bad.key, "item 4");
        assert!(parse_entry(&bad).is_err());
    }

    #[test]
    fn malformed_entries_name_the_problem_not_the_secret() {
        let cases = [
            (r#"{"h.example.com": 5}"#, "JSON object"),
            (
                r#"{"h.example.com": {"shared_secret": "pw-abcdefgh"}}"#,
                "route_53_zone_id is missing",
            ),
            (
                r#"{"h.example.com": {"route_53_zone_id": "Z1"}}"#,
                "shared_secret is missing",
            ),
            (
                r#"{"h.example.com": {"route_53_zone_id": "Z 1", "shared_secret": "pw-abcdefgh"}}"#,
                "zone id",
            ),
            (
                r#"{"h.example.com": {"route_53_zone_id": "Z1", "shared_secret": "pw-abcdefgh", "route_53_record_ttl": "x"}}"#,
                "route_53_record_ttl",
            ),
            (
                r#"{"h.example.com": {"route_53_zone_id": "Z1", "shared_secret": "pw-abcdefgh", "route_53_record_type": "CNAME"}}"#,
                "route_53_record_type",
            ),
            (
                r#"{"h.example.com": {"route_53_zone_id": "Z1", "shared_secret": ""}}"#,
                "empty",
            ),
            (
                r#"{"not a host": {"route_53_zone_id": "Z1", "shared_secret": "pw-abcdefgh"}}"#,
                "not a host",
            ),
        ];
        for (json, want) in cases {
            let problems = check_entries(&entries(json)).unwrap_err();
            assert_eq!(problems.len(), 1, "{json}");
            assert!(problems[0].contains(want), "{json}: {}", problems[0]);
            assert!(!problems[0].contains("pw-abcdefgh"), "{}", problems[0]);
        }
        let clash = format!(
            r#"{{"h.example.com.": {CONFIG}, "h.example.com": {}}}"#,
            CONFIG.replace("s3cr3t-of-host1", "another-secret")
        );
        let problems = check_entries(&entries(&clash)).unwrap_err();
        assert!(
            problems[0].contains("differ in shared_secret"),
            "{problems:?}"
        );
        assert!(!problems[0].contains("another-secret"));
        assert!(entries_from_json(b"[1]", "x").is_err());
        assert!(entries_from_json(b"{", "x").is_err());
    }
}
