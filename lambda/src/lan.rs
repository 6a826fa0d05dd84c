//! LAN records: AAAA records of devices behind a router that follow its IPv6 prefix.
//!
//! A host may carry up to [`MAX_LAN_RECORDS`] records, each a name plus a fixed interface
//! identifier (`::1234`, `::a:b:c:d`, or `eui64:<MAC>`). When the router sends its LAN prefix
//! (a signed v2 field), [`update`] builds each address, reads the records from Route 53 and
//! UPSERTs the ones that differ in one change batch. Written as functions over the handler's
//! traits, so every transport and test runs the same code.

use crate::dns::{Current, Dns, DnsError};
use crate::handler::Policy;
use crate::host::{name_in_zone, name_matches, HostConfig};
use crate::log;
use crate::metrics::Counts;
use crate::notify::{Event, Kind, Message, Notifier};
use crate::store::{HostStore, RateLimit, StoreError};
use dyn53::protocol::prefix::mask;
use dyn53::protocol::{normalize_hostname, ErrorCode, LanPrefix, RecordType, Response};
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

/// Most LAN records one host may carry (one change batch holds them all with room to spare:
/// Route 53 takes 1,000 records per batch, an UPSERT counting twice).
pub const MAX_LAN_RECORDS: usize = 50;

/// Identifier bits a prefix can never cover: the shortest LAN prefix is /48.
const ID_BITS: u32 = 128 - dyn53::protocol::prefix::MIN_PREFIX_LEN as u32;

/// A LAN device's fixed interface identifier: the address bits after the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identifier {
    /// A fixed suffix such as `::1234` (a DHCPv6 reservation or a static address).
    Suffix(u128),
    /// The SLAAC EUI-64 identifier of a MAC address (its U/L bit flipped).
    Eui64([u8; 6]),
}

/// Why LAN input is refused; the text names the rule and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanError(pub String);

impl fmt::Display for LanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(msg: impl Into<String>) -> LanError {
    LanError(msg.into())
}

impl Identifier {
    /// Parses `::1234`, `::a:b:c:d`, `0:0:0:20::5` (a subnet inside a /48../56) or
    /// `eui64:00:11:22:33:44:55`.
    pub fn parse(s: &str) -> Result<Identifier, LanError> {
        if let Some(mac) = s
            .strip_prefix("eui64:")
            .or_else(|| s.strip_prefix("EUI64:"))
        {
            return parse_mac(mac).map(Identifier::Eui64).map_err(|why| {
                bad(format!(
                    "identifier {s:?}: {why} (like eui64:00:11:22:33:44:55)"
                ))
            });
        }
        let addr: Ipv6Addr = s.parse().map_err(|_| {
            bad(format!(
                "identifier {s:?} is neither an IPv6 suffix (like ::1234 or ::a:b:c:d) \
                 nor eui64:<MAC>"
            ))
        })?;
        let bits = u128::from(addr);
        if bits == 0 {
            return Err(bad(format!("identifier {s:?} is all zeros")));
        }
        if bits >> ID_BITS != 0 {
            return Err(bad(format!(
                "identifier {s:?} sets bits of the first 48, which the prefix supplies \
                 (write it as ::1234 or ::a:b:c:d)"
            )));
        }
        Ok(Identifier::Suffix(bits))
    }

    /// The identifier's bits, to be combined with a prefix.
    pub fn bits(&self) -> u128 {
        match *self {
            Identifier::Suffix(b) => b,
            Identifier::Eui64(m) => u128::from(u64::from_be_bytes([
                m[0] ^ 0x02,
                m[1],
                m[2],
                0xff,
                0xfe,
                m[3],
                m[4],
                m[5],
            ])),
        }
    }
}

fn parse_mac(s: &str) -> Result<[u8; 6], &'static str> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return Err("a MAC address has six bytes");
    }
    let mut mac = [0u8; 6];
    for (b, p) in mac.iter_mut().zip(&parts) {
        if p.len() != 2 {
            return Err("each MAC byte is two hex digits");
        }
        *b = u8::from_str_radix(p, 16).map_err(|_| "each MAC byte is two hex digits")?;
    }
    Ok(mac)
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identifier::Suffix(b) => write!(f, "{}", Ipv6Addr::from(*b)),
            Identifier::Eui64(m) => write!(
                f,
                "eui64:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            ),
        }
    }
}

/// The address of `id` inside `prefix`; refused when the identifier reaches into the prefix
/// (e.g. `0:0:0:20::5`, meant for a /56, under a /64).
pub fn address(prefix: &LanPrefix, id: &Identifier) -> Result<Ipv6Addr, LanError> {
    let bits = id.bits();
    if bits & mask(prefix.length()) != 0 {
        return Err(bad(format!(
            "identifier {id} reaches into the /{} prefix {prefix}",
            prefix.length()
        )));
    }
    Ok(Ipv6Addr::from(u128::from(prefix.addr()) | bits))
}

/// One LAN record: a name and its device's identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanRecord {
    /// Normalised record name.
    pub name: String,
    /// Interface identifier.
    pub id: Identifier,
}

impl LanRecord {
    /// Parses `nas.example.com=::1234` (as `--lan` and the host item hold it).
    pub fn parse(spec: &str) -> Result<LanRecord, LanError> {
        let (name, id) = spec.split_once('=').ok_or_else(|| {
            bad(format!(
                "LAN record {spec:?} must be NAME=IDENTIFIER, like nas.example.com=::1234"
            ))
        })?;
        let name = normalize_hostname(name.trim())
            .map_err(|e| bad(format!("LAN record name {name:?}: {e}")))?;
        Ok(LanRecord {
            name,
            id: Identifier::parse(id.trim())?,
        })
    }
}

impl fmt::Display for LanRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.id)
    }
}

/// Checks a host's whole LAN list: at most [`MAX_LAN_RECORDS`], no name twice, none the host's
/// own name, all inside the host's zone and among the stack's RecordNames (when known).
pub fn check_records(
    host: &HostConfig,
    records: &[LanRecord],
    record_names: Option<&[String]>,
) -> Result<(), LanError> {
    if records.len() > MAX_LAN_RECORDS {
        return Err(bad(format!(
            "{} LAN records for {}; at most {MAX_LAN_RECORDS} per host",
            records.len(),
            host.hostname
        )));
    }
    for (i, r) in records.iter().enumerate() {
        if r.name == host.hostname {
            return Err(bad(format!(
                "{} is the router's own name; a LAN record needs its own name",
                r.name
            )));
        }
        if records[..i].iter().any(|o| o.name == r.name) {
            return Err(bad(format!("LAN record {} is given twice", r.name)));
        }
        if let Some(zone) = &host.zone_name {
            if !name_in_zone(&r.name, zone) {
                return Err(bad(format!(
                    "LAN record {} is not inside the host's zone {zone}",
                    r.name
                )));
            }
        }
        if let Some(names) = record_names {
            if !names.iter().any(|p| name_matches(p, &r.name)) {
                return Err(bad(format!(
                    "LAN record {} is not among the stack's RecordNames ({}), so the function \
                     may not change it; add it to RecordNames and update the stack first",
                    r.name,
                    names.join(",")
                )));
            }
        }
    }
    Ok(())
}

/// How many LAN records an update changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Updated(pub u32);

/// The notification of a LAN change: `dyn53: home.example.com LAN prefix A -> B, 3 records
/// updated (time)`.
pub fn changed_message(
    host: &str,
    old: Option<&str>,
    new: &LanPrefix,
    count: usize,
    now: u64,
) -> Message {
    let what = match old {
        Some(old) if old != new.to_string() => format!("prefix {old} -> {new}"),
        Some(_) => format!("prefix {new}"),
        None => format!("prefix none -> {new}"),
    };
    let records = if count == 1 { "record" } else { "records" };
    Message {
        subject: format!("dyn53: {host} LAN records changed"),
        text: format!(
            "dyn53: {host} LAN {what}, {count} {records} updated ({})",
            crate::clock::utc_minute(now)
        ),
        event: Event {
            kind: Kind::Change,
            host: host.to_string(),
            rtype: Some(RecordType::Aaaa),
            old: old.map(String::from),
            new: Some(new.to_string()),
            time: now,
        },
    }
}

/// The prefix a record's old address was in, at the new prefix's length.
fn old_prefix(current: &Current, len: u8) -> Option<String> {
    match current.previous_ip()? {
        IpAddr::V6(ip) => {
            let net = Ipv6Addr::from(u128::from(ip) & mask(len));
            Some(format!("{net}/{len}"))
        }
        IpAddr::V4(_) => None,
    }
}

/// Each LAN record's address inside `prefix`, or why the prefix cannot apply to this host.
/// The handler calls it before anything is changed, so a refusal changes nothing.
pub fn addresses(
    host: &HostConfig,
    prefix: &LanPrefix,
    policy: &Policy,
) -> Result<Vec<(String, IpAddr)>, LanError> {
    if host.lan.is_empty() {
        return Err(bad(
            "this host has no LAN records, so it takes no lan_prefix",
        ));
    }
    // Checked again here: RecordNames can shrink after `host lan add` checked it.
    check_records(host, &host.lan, policy.record_names.as_deref())?;
    host.lan
        .iter()
        .map(|r| {
            let ip = address(prefix, &r.id).map_err(|e| bad(format!("{}: {e}", r.name)))?;
            Ok((r.name.clone(), IpAddr::V6(ip)))
        })
        .collect()
}

/// The answer's `lan` field: `name=address` for each record, separated by spaces (names and
/// addresses hold no spaces), so the router's flat-object JSON parser reads it as one string.
pub fn listing(wanted: &[(String, IpAddr)]) -> String {
    let pairs: Vec<String> = wanted.iter().map(|(n, ip)| format!("{n}={ip}")).collect();
    pairs.join(" ")
}

fn refused(host: &HostConfig, why: String) -> Response {
    log::warn(format!("{}: LAN update refused: {why}", host.hostname));
    Response::error(ErrorCode::NotAllowed, why)
}

fn unavailable(what: &str) -> Response {
    Response::error(ErrorCode::Unavailable, format!("{what}; try again later"))
}

/// Moves the host's LAN records into `prefix`: reads them (one ListResourceRecordSets page
/// where they sit together), UPSERTs those that differ in one ChangeResourceRecordSets call,
/// sends one notification. The caller has authenticated the request and counted it against
/// the set limit.
///
/// The host's state item remembers the prefix last applied: the same prefix again within
/// the record confirm window makes no AWS call at all. A change is claimed by writing the
/// new prefix (and one change from the change limit) with the state's conditional write
/// before Route 53 is asked, so of two requests racing with one prefix only one changes
/// and notifies; the other reads the claim and answers "unchanged".
pub async fn update<D: Dns, S: HostStore, N: Notifier>(
    dns: &D,
    store: &S,
    notifier: Option<&N>,
    policy: &Policy,
    host: &HostConfig,
    prefix: &LanPrefix,
    counts: &mut Counts,
) -> Result<Updated, Response> {
    let wanted = addresses(host, prefix, policy).map_err(|e| refused(host, e.0))?;
    let (count, old) = match claim_and_change(dns, store, policy, host, prefix, &wanted).await {
        Ok(done) => done,
        Err(resp) => {
            // A rate limit is the owner's policy at work, not a server-side failure.
            if resp.error != Some(ErrorCode::RateLimited) {
                counts.error = 1;
            }
            return Err(resp);
        }
    };
    if count == 0 {
        log::info(format!("{} LAN prefix {prefix} unchanged", host.hostname));
        return Ok(Updated(0));
    }
    log::info(format!(
        "{} LAN prefix {} -> {prefix}: {count} records updated in one change batch",
        host.hostname,
        old.as_deref().unwrap_or("none")
    ));
    counts.lan_changed = count as u32;
    if let (Some(n), true) = (notifier, host.notify.on_change) {
        let msg = changed_message(
            &host.hostname,
            old.as_deref(),
            prefix,
            count,
            crate::clock::now_unix(),
        );
        if let Err(e) = n.send(&msg).await {
            log::error(format!("{}: {e}", host.hostname));
            counts.error = 1;
        }
    }
    Ok(Updated(count as u32))
}

/// Reads the records, claims the change in the state item and writes the changed records;
/// (how many changed, the old prefix).
async fn claim_and_change<D: Dns, S: HostStore>(
    dns: &D,
    store: &S,
    policy: &Policy,
    host: &HostConfig,
    prefix: &LanPrefix,
    wanted: &[(String, IpAddr)],
) -> Result<(usize, Option<String>), Response> {
    let text = prefix.to_string();
    let names: Vec<String> = wanted.iter().map(|(n, _)| n.clone()).collect();
    let deadline = Instant::now() + policy.lock_wait;
    loop {
        let now = crate::clock::now_unix();
        let mut st = store
            .load_state(&host.hostname)
            .await
            .map_err(|e| table_failed(host, e))?;
        let fresh = |at: u64| now.saturating_sub(at) < policy.record_confirm;
        if st
            .lan
            .as_ref()
            .is_some_and(|(p, at)| *p == text && fresh(*at))
        {
            return Ok((0, None));
        }
        let current = dns
            .get_many(&host.zone_id, &names, RecordType::Aaaa)
            .await
            .map_err(|e| dns_failed(host, e))?;
        let mut changes = Vec::new();
        let mut old = None;
        for ((name, ip), cur) in wanted.iter().zip(&current) {
            if *cur == Current::Foreign {
                return Err(refused(
                    host,
                    format!("LAN record {name} is an alias or uses a routing policy; not replaced"),
                ));
            }
            if !cur.holds_only(*ip) {
                // Said at the new prefix's length: what the router had before, as DNS knew it.
                old = old.or_else(|| old_prefix(cur, prefix.length()));
                changes.push((name.clone(), *ip));
            }
        }
        if !changes.is_empty() && !st.changes.take(policy.change_limit, now) {
            return Err(rate_limited(host, policy.change_limit));
        }
        st.lan = Some((text.clone(), now));
        match store.save_state(&host.hostname, &st).await {
            Ok(true) if changes.is_empty() => return Ok((0, None)),
            Ok(true) => {
                if let Err(e) = dns
                    .upsert_many(&host.zone_id, &changes, RecordType::Aaaa, host.ttl)
                    .await
                {
                    forget_claim(store, &host.hostname, &text).await;
                    return Err(dns_failed(host, e));
                }
                return Ok((changes.len(), old));
            }
            // Remembering an unchanged prefix only saves reads later.
            Ok(false) | Err(_) if changes.is_empty() => return Ok((0, None)),
            Ok(false) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20 + fastrand::u64(0..30))).await;
            }
            Ok(false) => return Err(unavailable("another update for this host is in progress")),
            Err(e) => return Err(table_failed(host, e)),
        }
    }
}

/// Drops a claimed prefix whose change failed, so the router's retry reads Route 53 again.
async fn forget_claim<S: HostStore>(store: &S, hostname: &str, prefix: &str) {
    for _ in 0..3 {
        let Ok(mut st) = store.load_state(hostname).await else {
            break;
        };
        if st.lan.as_ref().is_none_or(|(p, _)| p != prefix) {
            return;
        }
        st.lan = None;
        if let Ok(true) = store.save_state(hostname, &st).await {
            return;
        }
    }
    log::warn(format!(
        "{hostname}: failed LAN claim not dropped; it lapses by itself"
    ));
}

fn table_failed(host: &HostConfig, e: StoreError) -> Response {
    log::error(format!("{}: {e}", host.hostname));
    unavailable("the host table is unavailable")
}

fn rate_limited(host: &HostConfig, limit: RateLimit) -> Response {
    log::warn(format!(
        "{}: rate limit on changes ({limit}) reached",
        host.hostname
    ));
    Response::error(
        ErrorCode::RateLimited,
        format!(
            "too many changes for this host (at most {} per {} s); try again later",
            limit.max, limit.window
        ),
    )
}

fn dns_failed(host: &HostConfig, e: DnsError) -> Response {
    log::error(format!("{} LAN: {e}", host.hostname));
    match e {
        DnsError::Throttled(_) => unavailable("Route 53 is busy"),
        DnsError::Unavailable(_) => unavailable("Route 53 is unavailable"),
        DnsError::Rejected(_) => {
            unavailable("Route 53 refused the change (the owner should check the server log)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> LanPrefix {
        LanPrefix::parse(s).unwrap()
    }

    #[test]
    fn addresses_match_python_vectors() {
        let text = include_str!("../../tests/vectors/lan_addresses.tsv");
        let mut n = 0;
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let [prefix, id, want] = line.split('\t').collect::<Vec<_>>()[..] else {
                panic!("bad row {line}")
            };
            let got = address(&p(prefix), &Identifier::parse(id).unwrap()).unwrap();
            assert_eq!(got.to_string(), want, "{prefix} {id}");
            n += 1;
        }
        assert_eq!(n, 7);
    }

    #[test]
    fn eui64_flips_the_universal_local_bit() {
        let id = Identifier::parse("eui64:00:11:22:33:44:55").unwrap();
        assert_eq!(id.bits(), 0x0211_22ff_fe33_4455);
        let id = Identifier::parse("EUI64:02-00-5E-10-00-01").unwrap();
        assert_eq!(id.bits(), 0x0000_5eff_fe10_0001);
        assert_eq!(id.to_string(), "eui64:02:00:5e:10:00:01");
        assert_eq!(
            Identifier::parse("::A:B:C:D").unwrap().to_string(),
            "::a:b:c:d"
        );
    }

    #[test]
    fn bad_identifiers_are_refused_with_the_rule() {
        for (bad, why) in [
            ("::", "all zeros"),
            ("2001:db8::1", "first 48"),
            ("1::", "first 48"),
            ("1234", "neither"),
            ("::g", "neither"),
            ("", "neither"),
            ("eui64:00:11:22:33:44", "six bytes"),
            ("eui64:00:11:22:33:44:55:66", "six bytes"),
            ("eui64:0:11:22:33:44:55", "two hex digits"),
            ("eui64:zz:11:22:33:44:55", "two hex digits"),
        ] {
            let e = Identifier::parse(bad).unwrap_err();
            assert!(e.0.contains(why), "{bad}: {e}");
        }
        // A subnet id meant for a /56 does not fit under a /64.
        let id = Identifier::parse("0:0:0:20::5").unwrap();
        assert!(address(&p("2001:db8:7::/56"), &id).is_ok());
        let e = address(&p("2001:db8:7:10::/64"), &id).unwrap_err();
        assert!(e.0.contains("reaches into the /64"), "{e}");
    }

    #[test]
    fn lan_specs_and_lists() {
        let r = LanRecord::parse("NAS.example.com.=::1234").unwrap();
        assert_eq!(r.to_string(), "nas.example.com=::1234");
        assert_eq!(LanRecord::parse(&r.to_string()).unwrap(), r);
        for bad in ["nas.example.com", "nas=::1", "nas.example.com=", "=::1"] {
            assert!(LanRecord::parse(bad).is_err(), "{bad}");
        }
        let mut host = HostConfig::new("home.example.com", "Z1", "s".into());
        host.zone_name = Some("example.com".into());
        let recs = |names: &[&str]| -> Vec<LanRecord> {
            names
                .iter()
                .map(|n| LanRecord::parse(&format!("{n}=::1")).unwrap())
                .collect()
        };
        assert!(check_records(&host, &recs(&["nas.example.com", "cam.example.com"]), None).is_ok());
        for (list, why) in [
            (recs(&["home.example.com"]), "own name"),
            (recs(&["nas.example.com", "nas.example.com"]), "twice"),
            (recs(&["nas.example.org"]), "zone"),
        ] {
            let e = check_records(&host, &list, None).unwrap_err();
            assert!(e.0.contains(why), "{e}");
        }
        let names = vec!["home.example.com".to_string(), "*.lan.example.com".into()];
        assert!(check_records(&host, &recs(&["nas.lan.example.com"]), Some(&names)).is_ok());
        let e = check_records(&host, &recs(&["nas.example.com"]), Some(&names)).unwrap_err();
        assert!(e.0.contains("RecordNames"), "{e}");
        let many: Vec<String> = (0..=MAX_LAN_RECORDS)
            .map(|i| format!("d{i}.example.com"))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(check_records(&host, &recs(&many[..MAX_LAN_RECORDS]), None).is_ok());
        let e = check_records(&host, &recs(&many), None).unwrap_err();
        assert!(e.0.contains("at most 50"), "{e}");
    }

    #[test]
    fn one_message_summarises_the_change() {
        let m = changed_message(
            "home.example.com",
            Some("2001:db8:1::/56"),
            &p("2001:db8:7::/56"),
            3,
            1_795_600_800,
        );
        assert_eq!(
            m.text,
            "dyn53: home.example.com LAN prefix 2001:db8:1::/56 -> 2001:db8:7::/56, \
             3 records updated (2026-11-25 10:00 UTC)"
        );
        assert!(m.text.len() <= 160);
        let m = changed_message("h.example.com", None, &p("2001:db8:7::/56"), 1, 0);
        assert!(
            m.text
                .contains("prefix none -> 2001:db8:7::/56, 1 record updated"),
            "{}",
            m.text
        );
    }
}
