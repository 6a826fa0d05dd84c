//! Admin commands: `host add|list|rotate|remove|seal`, `host lan add|remove|list`,
//! `zone-id`, `table create`.
//!
//! Every command validates all input before its single write, so bad input changes nothing.
//! Secrets are printed only by `host add` and `host rotate`, once.

use crate::aws_error;
use crate::client_config::{self, URL_PLACEHOLDER};
use crate::clock::{now_unix, utc_date};
use crate::dynamo::Dynamo;
use crate::host::{
    check_secret, name_in_zone, name_matches, weak_secret_warning, HostConfig, NotifyPrefs,
    Protocols,
};
use crate::lan::{check_records, LanRecord};
use crate::random;
use crate::sealed::{self, SealError};
use crate::store::{HostStore, StoreError};
use dyn53::protocol::RecordType;
use std::fmt;
use std::path::{Path, PathBuf};

/// Why an admin command failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminError {
    /// Bad input; nothing was written.
    Input(String),
    /// The host or zone does not exist.
    NotFound(String),
    /// The host already exists.
    Exists(String),
    /// AWS refused or could not be reached (the admin's own credentials: full detail).
    Aws(String),
}

impl AdminError {
    /// Process exit code: 2 for input problems, 1 for AWS failures (worth retrying).
    pub fn exit_code(&self) -> u8 {
        match self {
            AdminError::Aws(_) => 1,
            _ => 2,
        }
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::Input(m) | AdminError::NotFound(m) | AdminError::Exists(m) => {
                f.write_str(m)
            }
            AdminError::Aws(m) => write!(f, "AWS request failed: {m}"),
        }
    }
}

impl std::error::Error for AdminError {}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        AdminError::Aws(e.to_string())
    }
}

/// What `host add` needs (all validated by the CLI parser).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddHost {
    /// Normalised hostname.
    pub hostname: String,
    /// Bare hosted zone id.
    pub zone_id: String,
    /// Record TTL.
    pub ttl: u32,
    /// Allowed record types.
    pub types: Vec<RecordType>,
    /// Allowed protocols.
    pub protocols: Protocols,
    /// Whether signed explicit addresses are allowed.
    pub allow_explicit_ip: bool,
    /// Whether explicit addresses must be public.
    pub public_ip_only: bool,
    /// Notification preferences.
    pub notify: NotifyPrefs,
    /// Function URL for the printed client configs.
    pub url: Option<String>,
    /// The stack's RecordNames (`--record-names` or DYN53_RECORD_NAMES): names outside
    /// them are refused, since the function's role may not change them.
    pub record_names: Option<Vec<String>>,
    /// A file holding the secret to keep (instead of a new random one).
    pub secret_file: Option<PathBuf>,
    /// LAN records (`--lan NAME=IDENTIFIER`, repeatable).
    pub lan: Vec<LanRecord>,
}

/// Reads a secret the owner keeps in a file (one line; the newline is not part of it).
pub fn read_secret_file(path: &Path) -> Result<String, AdminError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| AdminError::Input(format!("--secret-file {}: {e}", path.display())))?;
    let secret = text.strip_suffix('\n').unwrap_or(&text);
    let secret = secret.strip_suffix('\r').unwrap_or(secret);
    check_secret(secret)
        .map_err(|e| AdminError::Input(format!("--secret-file {}: {e}", path.display())))?;
    Ok(secret.to_string())
}

/// The zone's name (no trailing dot) for a zone id.
pub async fn zone_name(r53: &aws_sdk_route53::Client, zone_id: &str) -> Result<String, AdminError> {
    match r53.get_hosted_zone().id(zone_id).send().await {
        Ok(out) => out
            .hosted_zone()
            .map(|z| z.name().trim_end_matches('.').to_ascii_lowercase())
            .ok_or_else(|| AdminError::Aws("GetHostedZone answered without a zone".into())),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_hosted_zone()) => Err(
            AdminError::NotFound(format!(
                "no hosted zone {zone_id} in this account (`dyn53-backend zone-id <domain>` finds it)"
            )),
        ),
        Err(e) => Err(AdminError::Aws(aws_error::detail(&e))),
    }
}

/// Adds a host; returns what to print (the secret and both client configs).
pub async fn host_add(
    table: &Dynamo,
    r53: &aws_sdk_route53::Client,
    req: AddHost,
) -> Result<String, AdminError> {
    if let Some(names) = &req.record_names {
        if !names.iter().any(|p| name_matches(p, &req.hostname)) {
            return Err(AdminError::Input(format!(
                "{} is not among the stack's RecordNames ({}), so the function may not change \
                 its record; add it to RecordNames and update the stack first",
                req.hostname,
                names.join(",")
            )));
        }
    }
    let zone = zone_name(r53, &req.zone_id).await?;
    if !name_in_zone(&req.hostname, &zone) {
        return Err(AdminError::Input(format!(
            "{} is not inside zone {zone} ({}); pick the zone that holds it",
            req.hostname, req.zone_id
        )));
    }
    let secret = match &req.secret_file {
        Some(path) => read_secret_file(path)?,
        None => random::secret().map_err(|e| AdminError::Aws(e.to_string()))?,
    };
    let mut host = HostConfig::new(&req.hostname, &req.zone_id, secret.clone());
    host.zone_name = Some(zone);
    host.ttl = req.ttl;
    host.types = req.types;
    host.protocols = req.protocols;
    host.allow_explicit_ip = req.allow_explicit_ip;
    host.public_ip_only = req.public_ip_only;
    host.notify = req.notify;
    host.created = Some(now_unix());
    host.lan = req.lan;
    check_records(&host, &host.lan, req.record_names.as_deref())
        .map_err(|e| AdminError::Input(e.0))?;
    if !table.put_new_host(&host).await? {
        return Err(AdminError::Exists(format!(
            "{} already exists; use `host rotate` for a new secret or `host remove` first",
            req.hostname
        )));
    }
    if let Some(path) = &req.secret_file {
        let weak = weak_secret_warning(&secret)
            .map(|w| format!("Warning: {w}.\n"))
            .unwrap_or_default();
        return Ok(format!(
            "Added {} with the secret in {} (kept, not printed).\n{weak}{}",
            describe(&host),
            path.display(),
            dyndns2_note(&host, req.url.as_deref())
        ));
    }
    Ok(format!(
        "Added {}.\n{}",
        describe(&host),
        secret_and_configs(&host, &secret, req.url.as_deref())
    ))
}

/// Gives a host a new secret; returns what to print.
pub async fn host_rotate(
    table: &Dynamo,
    hostname: &str,
    url: Option<&str>,
) -> Result<String, AdminError> {
    let secret = random::secret().map_err(|e| AdminError::Aws(e.to_string()))?;
    match table.rotate_secret(hostname, &secret, now_unix()).await? {
        None => Err(AdminError::NotFound(format!(
            "no host {hostname} in the table"
        ))),
        Some(Err(why)) => Err(AdminError::Input(format!(
            "the secret of {hostname} was replaced, but its item is unusable ({why}); fix it or \
             remove and add the host again"
        ))),
        Some(Ok(host)) => Ok(format!(
            "New secret for {}; the old one no longer works.\n{}",
            describe(&host),
            secret_and_configs(&host, &secret, url)
        )),
    }
}

/// `host seal`: seals the secrets still stored in plaintext, or (`dry_run`) lists them.
pub async fn host_seal(table: &Dynamo, dry_run: bool) -> Result<String, AdminError> {
    let hosts = sealed::seal_plaintext_hosts(table, dry_run)
        .await
        .map_err(|e| match e {
            SealError::Unavailable(d) => AdminError::Aws(d),
            SealError::Unusable(d) => AdminError::Input(d),
        })?;
    let list: String = hosts.iter().map(|h| format!("  {h}\n")).collect();
    Ok(match (hosts.is_empty(), dry_run) {
        (true, _) => format!("No plaintext secrets in table {}.\n", table.table()),
        (false, true) => format!(
            "{} host secret(s) stored in plaintext (`host seal` seals them):\n{list}",
            hosts.len()
        ),
        (false, false) => format!("Sealed {} host secret(s):\n{list}", hosts.len()),
    })
}

/// Removes a host.
pub async fn host_remove(table: &Dynamo, hostname: &str) -> Result<String, AdminError> {
    if table.remove_host(hostname).await? {
        Ok(format!(
            "Removed {hostname}. Its DNS records were left as they are.\n"
        ))
    } else {
        Err(AdminError::NotFound(format!(
            "no host {hostname} in the table"
        )))
    }
}

/// Sets (or with None clears) the hours after which a host that has not checked in counts
/// as silent.
pub async fn host_watch(
    table: &Dynamo,
    hostname: &str,
    silent_after: Option<u32>,
) -> Result<String, AdminError> {
    if !table.set_silent_after(hostname, silent_after).await? {
        return Err(AdminError::NotFound(format!(
            "no host {hostname} in the table"
        )));
    }
    Ok(match silent_after {
        Some(h) => format!(
            "{hostname} is watched: an alert goes out when it has not checked in for {h} h, \
             and again when it is back.\n"
        ),
        None => format!("{hostname} is no longer watched.\n"),
    })
}

/// The host item of `hostname`, for the `host lan` commands.
async fn existing_host(table: &Dynamo, hostname: &str) -> Result<HostConfig, AdminError> {
    let unusable = |why: String| {
        AdminError::Input(format!(
            "the item of {hostname} is unusable ({why}); fix it first"
        ))
    };
    match table.load(hostname).await {
        Ok(loaded) => match loaded.host {
            Ok(Some(h)) => Ok(h),
            Err(why) => Err(unusable(why)),
            Ok(None) => Err(AdminError::NotFound(format!(
                "no host {hostname} in the table"
            ))),
        },
        Err(StoreError::BadItem(why)) => Err(unusable(why)),
        Err(e) => Err(e.into()),
    }
}

/// Writes a host's new LAN list if it still holds the one read (else says to retry).
async fn write_lan(table: &Dynamo, host: &HostConfig, new: &[LanRecord]) -> Result<(), AdminError> {
    if table.set_lan(&host.hostname, &host.lan, new).await? {
        Ok(())
    } else {
        Err(AdminError::Aws(format!(
            "{} changed (or was removed) while this ran; nothing written, run it again",
            host.hostname
        )))
    }
}

/// `host lan add`: adds LAN records (or changes the identifier of ones it names again).
pub async fn host_lan_add(
    table: &Dynamo,
    hostname: &str,
    records: Vec<LanRecord>,
    record_names: Option<&[String]>,
) -> Result<String, AdminError> {
    let host = existing_host(table, hostname).await?;
    let mut lan = host.lan.clone();
    for r in &records {
        if records.iter().filter(|o| o.name == r.name).count() > 1 {
            return Err(AdminError::Input(format!(
                "LAN record {} is given twice",
                r.name
            )));
        }
        match lan.iter_mut().find(|o| o.name == r.name) {
            Some(o) => o.id = r.id,
            None => lan.push(r.clone()),
        }
    }
    check_records(&host, &lan, record_names).map_err(|e| AdminError::Input(e.0))?;
    write_lan(table, &host, &lan).await?;
    Ok(format!(
        "{hostname}: {} LAN record(s) set; it has {} now. They follow the LAN prefix its \
         router sends (`dyn53 update --lan-prefix`; README \"LAN hosts\").\n",
        records.len(),
        lan.len()
    ))
}

/// `host lan remove`: removes LAN records by name (their DNS records stay as they are).
pub async fn host_lan_remove(
    table: &Dynamo,
    hostname: &str,
    names: &[String],
) -> Result<String, AdminError> {
    let host = existing_host(table, hostname).await?;
    if let Some(missing) = names
        .iter()
        .find(|n| !host.lan.iter().any(|r| &r.name == *n))
    {
        return Err(AdminError::NotFound(format!(
            "{hostname} has no LAN record {missing}; nothing removed"
        )));
    }
    let lan: Vec<LanRecord> = host
        .lan
        .iter()
        .filter(|r| !names.contains(&r.name))
        .cloned()
        .collect();
    write_lan(table, &host, &lan).await?;
    Ok(format!(
        "{hostname}: removed {} LAN record(s); {} left. Their DNS records were left as they are.\n",
        names.len(),
        lan.len()
    ))
}

/// `host lan list`: one `name=identifier` per line.
pub async fn host_lan_list(table: &Dynamo, hostname: &str) -> Result<String, AdminError> {
    let host = existing_host(table, hostname).await?;
    if host.lan.is_empty() {
        return Ok(format!("{hostname} has no LAN records.\n"));
    }
    Ok(host.lan.iter().map(|r| format!("{r}\n")).collect())
}

/// Lists hosts, never their secrets.
pub async fn host_list(table: &Dynamo) -> Result<String, AdminError> {
    let hosts = table.list_hosts().await?;
    let mut rows = vec![[
        "HOSTNAME",
        "ZONE_ID",
        "ZONE",
        "TTL",
        "TYPES",
        "PROTOCOLS",
        "EXPLICIT_IP",
        "NOTIFY",
        "ADDED",
        "LAN",
    ]
    .map(String::from)];
    let mut bad = Vec::new();
    for h in hosts {
        match h {
            Ok(h) => rows.push([
                h.hostname.clone(),
                h.zone_id.clone(),
                h.zone_name.clone().unwrap_or_else(|| "-".into()),
                h.ttl.to_string(),
                types_text(&h.types),
                h.protocols.to_string(),
                if h.allow_explicit_ip { "yes" } else { "no" }.into(),
                notify_text(h.notify),
                h.created.map_or_else(|| "-".into(), utc_date),
                h.lan.len().to_string(),
            ]),
            Err(why) => bad.push(format!("# unusable host item: {why}\n")),
        }
    }
    if rows.len() == 1 && bad.is_empty() {
        return Ok(format!("No hosts in table {}.\n", table.table()));
    }
    let mut widths = [0usize; 10];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let mut out = String::new();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out.extend(bad);
    Ok(out)
}

/// Finds the hosted zone(s) holding `domain`: the longest matching zone name, public first.
pub async fn zone_id(r53: &aws_sdk_route53::Client, domain: &str) -> Result<String, AdminError> {
    let labels: Vec<&str> = domain.split('.').collect();
    for i in 0..labels.len().saturating_sub(1) {
        let candidate = labels[i..].join(".");
        let out = r53
            .list_hosted_zones_by_name()
            .dns_name(format!("{candidate}."))
            .max_items(20)
            .send()
            .await
            .map_err(|e| AdminError::Aws(aws_error::detail(&e)))?;
        let mut found: Vec<(bool, String)> = out
            .hosted_zones()
            .iter()
            .filter(|z| {
                z.name()
                    .trim_end_matches('.')
                    .eq_ignore_ascii_case(&candidate)
            })
            .map(|z| {
                let private = z.config().is_some_and(|c| c.private_zone());
                let id = z.id().trim_start_matches("/hostedzone/").to_string();
                (private, id)
            })
            .collect();
        if !found.is_empty() {
            found.sort();
            return Ok(found
                .iter()
                .map(|(private, id)| {
                    let kind = if *private { "private" } else { "public" };
                    format!("{id} {candidate} {kind}\n")
                })
                .collect());
        }
    }
    Err(AdminError::NotFound(format!(
        "no hosted zone for {domain} or a parent domain in this account"
    )))
}

/// Creates the table (with TTL) for a self-hosted or local setup.
pub async fn table_create(table: &Dynamo) -> Result<String, AdminError> {
    let created = table.create_table().await?;
    Ok(if created {
        format!("Created table {} (TTL on `expires`).\n", table.table())
    } else {
        format!(
            "Table {} exists; TTL on `expires` ensured.\n",
            table.table()
        )
    })
}

fn types_text(types: &[RecordType]) -> String {
    types
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn notify_text(n: NotifyPrefs) -> String {
    let mut on = Vec::new();
    if n.on_change {
        on.push("change");
    }
    if n.on_auth_failure {
        on.push("auth");
    }
    if n.on_error {
        on.push("error");
    }
    let silent = n.silent_after.map(|h| format!("silent>{h}h"));
    on.extend(silent.as_deref());
    if on.is_empty() {
        "none".into()
    } else {
        on.join(",")
    }
}

fn describe(h: &HostConfig) -> String {
    format!(
        "{} (zone {} {}; TTL {}; types {}; protocols {}; explicit IP {}; notify {})",
        h.hostname,
        h.zone_name.as_deref().unwrap_or("?"),
        h.zone_id,
        h.ttl,
        types_text(&h.types),
        h.protocols,
        match (h.allow_explicit_ip, h.public_ip_only) {
            (false, _) => "not allowed",
            (true, true) => "allowed (public only)",
            (true, false) => "allowed (any)",
        },
        notify_text(h.notify)
    )
}

fn secret_and_configs(host: &HostConfig, secret: &str, url: Option<&str>) -> String {
    let url_note = if url.is_none() {
        format!("\n(Replace {URL_PLACEHOLDER} with your function URL, or pass --url next time.)\n")
    } else {
        String::new()
    };
    let configs = if host.protocols.v1 || host.protocols.v2 {
        let url = url.unwrap_or(URL_PLACEHOLDER);
        format!(
            "\nOpenWrt: /etc/config/dyn53 (chmod 600):\n{}\n\
             Asuswrt-Merlin: /jffs/addons/dyn53.d/dyn53.conf (chmod 600):\n{}",
            client_config::openwrt(host, url, secret),
            client_config::merlin(host, url, secret)
        )
    } else {
        String::new()
    };
    format!(
        "\nSecret (shown only now; `host rotate` makes a new one):\n  {secret}\n{url_note}{}{configs}",
        dyndns2_note(host, url)
    )
}

/// How a dyndns2 client reaches the host (when the host accepts dyndns2).
fn dyndns2_note(host: &HostConfig, url: Option<&str>) -> String {
    if !host.protocols.dyndns2 {
        return String::new();
    }
    format!(
        "\ndyndns2 clients (ddclient, inadyn, a router's built-in DDNS; README \
         \"Use the client you already have\"):\n  update URL: {}nic/update?hostname={}&myip=<ip>\n  \
         user: {}\n  password: the secret\n",
        url.map_or(URL_PLACEHOLDER, |u| u).trim_end_matches('/').to_string() + "/",
        host.hostname,
        host.hostname
    )
}
