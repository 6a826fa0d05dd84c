//! The request flow: one plain async function over the DNS, host store, notifier and
//! metrics traits, so Lambda, the local service and the tests run the same code.
//!
//! Set flow: parse -> (v2: nonce MAC and age) -> load host -> verify in constant time ->
//! protocol, type, zone and IP-mode checks -> (v2: spend nonce) -> per-host rate limit ->
//! per-host lock -> read the record -> UPSERT if different -> unlock -> notify -> metrics.
//! Notifications and metrics never fail or undo an update.

use crate::call::{self, Call, Reply};
use crate::clock::now_unix;
use crate::dns::{Current, Dns, DnsError};
use crate::dyndns2;
use crate::host::{name_matches, HostConfig};
use crate::log;
use crate::metrics::{Counts, Metrics, UNKNOWN_HOST};
use crate::notify::{self, Message, Notifier};
use crate::random;
use crate::store::{HostStore, RateLimit, StoreError};
use dyn53::protocol::{
    canonical_ip, check_nonce, is_public, issue_nonce, v1_changed, v1_verify, ErrorCode, Form,
    IpMode, NonceError, Outcome, RecordType, Request, Response, SetV1, SetV2, SignedFields,
};
use std::future::Future;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The one answer for an unknown host and a bad token or signature.
pub const AUTH_FAILED: &str = "authentication failed: unknown hostname or wrong secret";

// Verified against when the host is unknown, so both cases do the same work.
const DUMMY_SECRET: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Limits and timings of the flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Set calls per host (counted after authentication).
    pub set_limit: RateLimit,
    /// Record changes per host (bounds notifications a leaked secret can cause).
    pub change_limit: RateLimit,
    /// Seconds between two auth-failure (or two error) notifications for one host.
    pub notify_quiet: u64,
    /// The least time an authentication failure takes to answer, so the notification a
    /// known host's first failure sends cannot tell known names from unknown ones.
    pub auth_failure_time: Duration,
    /// Oldest v2 nonce accepted, in seconds.
    pub nonce_max_age: u64,
    /// How long a per-host update lock lives if its holder dies, in seconds.
    pub lock_lease: u64,
    /// How long a set waits for another set of the same host to finish.
    pub lock_wait: Duration,
    /// How long (seconds) what the table remembers of a record is trusted to skip reading
    /// the record from Route 53 when a set brings another address (0: always read).
    pub record_trust: u64,
    /// How long (seconds) a record read from Route 53 counts as confirmed, so that a set of
    /// the same address is answered "unchanged" without reading it again (0: always read).
    /// Fewer reads for big fleets, at the price of repairing a record changed behind dyn53's
    /// back only after this long.
    pub record_confirm: u64,
    /// The names the function's role may change (the stack's RecordNames,
    /// DYN53_RECORD_NAMES); others are refused before Route 53 is asked. None: any.
    pub record_names: Option<Vec<String>>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            set_limit: RateLimit {
                max: 10,
                window: 300,
            },
            change_limit: RateLimit {
                max: 20,
                window: 3600,
            },
            notify_quiet: 3600,
            auth_failure_time: Duration::from_millis(250),
            nonce_max_age: 300,
            lock_lease: 30,
            lock_wait: Duration::from_secs(3),
            record_trust: 86_400,
            record_confirm: 0,
            record_names: None,
        }
    }
}

/// Anything that answers calls (the backend; the transports are generic over it).
pub trait Handle: Send + Sync + 'static {
    /// Answers one call.
    fn handle(&self, call: Call) -> impl Future<Output = Reply> + Send;

    /// Answers one dyndns2 request (`/nic/update`).
    fn handle_dyndns2(&self, update: dyndns2::Update) -> impl Future<Output = Reply> + Send;
}

/// The backend: the flow over its four collaborators.
pub struct Backend<D, S, N, M> {
    dns: D,
    store: S,
    notifier: Option<N>,
    metrics: M,
    policy: Policy,
    nonce_key: tokio::sync::OnceCell<Vec<u8>>,
}

/// Metrics of one request: which host they belong to, and the counts.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) host: Option<String>,
    pub(crate) counts: Counts,
}

/// What the locked part of a set did.
enum Update {
    Unchanged,
    Changed(Option<IpAddr>),
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn unavailable(what: &str) -> Response {
    Response::error(ErrorCode::Unavailable, format!("{what}; try again later"))
}

impl<D: Dns, S: HostStore, N: Notifier, M: Metrics> Backend<D, S, N, M> {
    /// A backend; `nonce_key` given here (DYN53_NONCE_KEY) wins over the table's key.
    pub fn new(
        dns: D,
        store: S,
        notifier: Option<N>,
        metrics: M,
        policy: Policy,
        nonce_key: Option<Vec<u8>>,
    ) -> Self {
        Backend {
            dns,
            store,
            notifier,
            metrics,
            policy,
            nonce_key: match nonce_key {
                Some(k) => tokio::sync::OnceCell::new_with(Some(k)),
                None => tokio::sync::OnceCell::new(),
            },
        }
    }

    /// The DNS collaborator (for the admin CLI and tests).
    pub fn dns(&self) -> &D {
        &self.dns
    }

    /// The host store (for the admin CLI and tests).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Answers one call.
    pub async fn answer(&self, call: Call) -> Reply {
        let source = canonical_ip(call.source);
        let mut tally = Tally::default();
        let form = call::form(&call);
        let resp = match call::parse(&call) {
            Err(resp) => resp,
            Ok(Request::Get) if form != Form::V2 => Response::ip(source, None),
            Ok(Request::Get) => self.get(source, &mut tally).await,
            Ok(Request::SetV1(r)) => self.set_v1(&r, form, source, &mut tally).await,
            Ok(Request::SetV2(r)) => self.set_v2(&r, source, &mut tally).await,
        };
        self.record_metrics(tally);
        Reply::render(&resp, form)
    }

    /// Writes one request's metrics (nothing when nothing was counted).
    pub(crate) fn record_metrics(&self, tally: Tally) {
        if !tally.counts.is_empty() {
            let host = tally.host.as_deref().unwrap_or(UNKNOWN_HOST);
            self.metrics.record(host, tally.counts, now_ms());
        }
    }

    async fn nonce_key(&self) -> Result<&[u8], StoreError> {
        self.nonce_key
            .get_or_try_init(|| self.store.nonce_key())
            .await
            .map(Vec::as_slice)
    }

    /// A v2 get: the caller's address and a nonce. Without a nonce the answer is useless,
    /// so a table outage is a retryable 503, not an answer a v2 client would read as "this
    /// backend does not speak protocol 2". (A v1 get is the bare address: no nonce, since
    /// the reference's clients take every digit of the answer as the address.)
    async fn get(&self, source: IpAddr, tally: &mut Tally) -> Response {
        let key = match self.nonce_key().await {
            Ok(key) => key,
            Err(e) => return self.store_failed(e, tally),
        };
        match random::bytes::<16>() {
            Ok(rand) => Response::ip(source, Some(issue_nonce(key, now_unix(), &rand))),
            Err(e) => {
                log::error(format!("get: no nonce issued: {e}"));
                tally.counts.error = 1;
                Response::error(ErrorCode::Internal, "internal error; try again later")
            }
        }
    }

    async fn set_v1(&self, r: &SetV1, form: Form, source: IpAddr, tally: &mut Tally) -> Response {
        let ip_text = source.to_string();
        let verify = |secret: &str| v1_verify(&ip_text, &r.hostname_raw, secret, &r.hash);
        let host = match self.authenticate(&r.hostname, verify, source, tally).await {
            Ok(h) => h,
            Err(resp) => return resp,
        };
        if !host.protocols.allows(1) {
            return not_allowed(&host, "this host does not accept protocol 1 requests");
        }
        // v1 has no freshness: a valid token is as much a check-in as it can get. Only
        // after the protocol check, so a replayed v1 token for a v2-only host cannot keep
        // the dead-man alarm quiet.
        tally.counts.check_in = 1;
        let mut resp = self
            .apply(&host, RecordType::for_ip(source), source, tally)
            .await;
        if resp.outcome == Outcome::Changed {
            resp.message = v1_changed(form, &r.hostname_raw, source);
        }
        resp
    }

    async fn set_v2(&self, r: &SetV2, source: IpAddr, tally: &mut Tally) -> Response {
        let key = match self.nonce_key().await {
            Ok(k) => k,
            Err(e) => return self.store_failed(e, tally),
        };
        let now = now_unix();
        match check_nonce(key, &r.nonce, now, self.policy.nonce_max_age) {
            Ok(()) => {}
            Err(NonceError::Forged) => {
                return Response::error(
                    ErrorCode::Nonce,
                    "nonce is not one this server issued; request a new one",
                )
            }
            Err(NonceError::Expired) => {
                return Response::error(ErrorCode::Nonce, "nonce expired; request a new one")
            }
        }
        let fields = SignedFields {
            hostname: &r.hostname,
            record_type: r.record_type,
            ip: r.ip,
            ip_mode: r.ip_mode,
            nonce: &r.nonce,
        };
        let verify = |secret: &str| fields.verify(secret, &r.signature);
        let host = match self.authenticate(&r.hostname, verify, source, tally).await {
            Ok(h) => h,
            Err(resp) => return resp,
        };
        if !host.protocols.allows(2) {
            return not_allowed(&host, "this host does not accept protocol 2 requests");
        }
        match r.ip_mode {
            IpMode::Source if r.ip != source => {
                return Response::error(
                    ErrorCode::IpMismatch,
                    format!(
                        "the signed address differs from the one this server sees ({source}); get again"
                    ),
                )
            }
            IpMode::Explicit if !host.allow_explicit_ip => {
                return not_allowed(&host, "explicit IP addresses are not allowed for this host")
            }
            // 0.0.0.0, 169.254.169.254, 10/8 and the like in public DNS point the host's
            // users at their own network (or nowhere): never what a router means to publish.
            IpMode::Explicit if host.public_ip_only && !is_public(r.ip) => {
                return not_allowed(
                    &host,
                    &format!(
                        "{} is not a public address; this host accepts only public ones",
                        r.ip
                    ),
                )
            }
            _ => {}
        }
        let expires = now + self.policy.nonce_max_age + 60;
        match self.store.spend_nonce(&r.nonce, expires).await {
            // Only a spent, fresh nonce proves the router itself is alive (not a replay).
            Ok(true) => tally.counts.check_in = 1,
            Ok(false) => {
                log::warn(format!("{}: replayed nonce from {source}", host.hostname));
                return Response::error(ErrorCode::Nonce, "nonce already used; request a new one");
            }
            Err(e) => return self.store_failed(e, tally),
        }
        self.apply(&host, r.record_type, r.ip, tally).await
    }

    /// Loads the host and checks the caller's proof; one answer for every failure.
    ///
    /// Every failure, known name or not, does the same table work (the load, then one
    /// auth-failure window keyed by the name asked for) and answers no sooner than
    /// `auth_failure_time`, which hides the one notification a known host's window sends.
    pub(crate) async fn authenticate(
        &self,
        hostname: &str,
        verify: impl Fn(&str) -> bool,
        source: IpAddr,
        tally: &mut Tally,
    ) -> Result<HostConfig, Response> {
        let started = Instant::now();
        let known = match self.store.load_host(hostname).await {
            Ok(None) => {
                let _ = verify(DUMMY_SECRET);
                log::warn(format!("auth failure from {source} (unknown host)"));
                tally.counts.auth_failure = 1;
                None
            }
            Ok(Some(h)) if verify(&h.secret) => {
                tally.host = Some(h.hostname.clone());
                return Ok(h);
            }
            Ok(Some(h)) => {
                log::warn(format!("{}: auth failure from {source}", h.hostname));
                tally.host = Some(h.hostname.clone());
                tally.counts.auth_failure = 1;
                Some(h)
            }
            Err(StoreError::BadItem(d)) => {
                // The owner must fix the item; the caller learns nothing about it.
                log::error(format!("{hostname}: unusable host item: {d}"));
                tally.host = Some(hostname.to_string());
                tally.counts.error = 1;
                None
            }
            Err(e) => return Err(self.store_failed(e, tally)),
        };
        let key = format!("quiet#{hostname}#auth");
        let limit = RateLimit {
            max: 1,
            window: self.policy.notify_quiet,
        };
        match (self.store.take_rate(&key, limit, now_unix()).await, known) {
            (Ok(true), Some(h)) if h.notify.on_auth_failure => {
                let msg = notify::auth_failure(&h.hostname, source, now_unix());
                self.notify(&h, msg, tally).await;
            }
            (Err(e), Some(h)) => {
                log::error(format!("{}: auth notification skipped: {e}", h.hostname))
            }
            _ => {}
        }
        tokio::time::sleep_until((started + self.policy.auth_failure_time).into()).await;
        Err(Response::error(ErrorCode::Auth, AUTH_FAILED))
    }

    /// Checks what the host may do, then updates the record under the per-host lock.
    pub(crate) async fn apply(
        &self,
        host: &HostConfig,
        rtype: RecordType,
        ip: IpAddr,
        tally: &mut Tally,
    ) -> Response {
        if !host.allows_type(rtype) {
            return not_allowed(
                host,
                &format!("record type {rtype} is not enabled for this host"),
            );
        }
        if !host.in_zone() {
            log::error(format!(
                "{}: hostname is outside its zone {:?} ({})",
                host.hostname, host.zone_name, host.zone_id
            ));
            tally.counts.error = 1;
            self.notify_error(host, rtype, "hostname outside its hosted zone", tally)
                .await;
            return Response::error(
                ErrorCode::NotAllowed,
                "this hostname is outside its hosted zone; the owner must fix the host config",
            );
        }
        let listed = |names: &Vec<String>| names.iter().any(|p| name_matches(p, &host.hostname));
        if !self.policy.record_names.as_ref().is_none_or(listed) {
            // Route 53 would refuse the role anyway (its NormalizedRecordNames condition).
            log::error(format!(
                "{}: not among the stack's RecordNames; add it there",
                host.hostname
            ));
            tally.counts.error = 1;
            self.notify_error(
                host,
                rtype,
                "hostname not in the stack's RecordNames",
                tally,
            )
            .await;
            return Response::error(
                ErrorCode::NotAllowed,
                "this hostname is not one the backend may change; the owner must add it to \
                 the stack's RecordNames",
            );
        }
        // A herd (an ISP outage ending) books Route 53 beyond the budget: say so before the
        // set counts, so the crowd's retries do not use up each router's own allowance.
        if self.dns.saturated().await {
            log::warn(format!(
                "{} {rtype}: Route 53 calls booked up",
                host.hostname
            ));
            tally.counts.error = 1;
            return unavailable("Route 53 is busy");
        }
        let now = now_unix();
        let key = format!("rate#{}#set", host.hostname);
        match self.store.take_rate(&key, self.policy.set_limit, now).await {
            Ok(true) => {}
            Ok(false) => return rate_limited(host, "updates", self.policy.set_limit),
            Err(e) => return self.store_failed(e, tally),
        }
        let owner = match random::bytes::<8>() {
            Ok(b) => random::hex(&b),
            Err(e) => {
                log::error(format!("{}: {e}", host.hostname));
                tally.counts.error = 1;
                return Response::error(ErrorCode::Internal, "internal error; try again later");
            }
        };
        match self.acquire(&host.hostname, &owner).await {
            Ok(true) => {}
            Ok(false) => {
                return unavailable("another update for this host is in progress");
            }
            Err(e) => return self.store_failed(e, tally),
        }
        let result = self.update_locked(host, rtype, ip).await;
        if let Err(e) = self.store.unlock(&host.hostname, &owner).await {
            // The lease runs out by itself; nothing else to do.
            log::warn(format!("{}: unlock failed: {e}", host.hostname));
        }
        match result {
            Ok(Update::Unchanged) => {
                log::info(format!("{} {rtype} unchanged {ip}", host.hostname));
                Response::unchanged(ip)
            }
            Ok(Update::Changed(previous)) => {
                let old = previous.map_or_else(|| "none".into(), |p| p.to_string());
                log::info(format!("{} {rtype} changed {old} -> {ip}", host.hostname));
                tally.counts.changed = 1;
                if host.notify.on_change {
                    let msg = notify::changed(&host.hostname, rtype, previous, ip, now_unix());
                    self.notify(host, msg, tally).await;
                }
                Response::changed(&host.hostname, ip, previous)
            }
            Err(Failure::Limited) => rate_limited(host, "changes", self.policy.change_limit),
            Err(Failure::Store(e)) => self.store_failed(e, tally),
            Err(Failure::Foreign) => {
                log::error(format!(
                    "{} {rtype}: the record is an alias or has a routing policy; not replaced",
                    host.hostname
                ));
                tally.counts.error = 1;
                self.notify_error(host, rtype, "record is an alias or routed record", tally)
                    .await;
                Response::error(
                    ErrorCode::NotAllowed,
                    "the record is an alias or uses a routing policy; dyn53 will not replace it",
                )
            }
            Err(Failure::Dns(e)) => self.dns_failed(host, rtype, e, tally).await,
        }
    }

    /// Waits (bounded) for the per-host lock.
    async fn acquire(&self, hostname: &str, owner: &str) -> Result<bool, StoreError> {
        let deadline = Instant::now() + self.policy.lock_wait;
        let mut pause = Duration::from_millis(50);
        loop {
            let lease = self.policy.lock_lease;
            if self.store.lock(hostname, owner, now_unix(), lease).await? {
                return Ok(true);
            }
            if Instant::now() + pause > deadline {
                return Ok(false);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(400));
        }
    }

    /// Reads the record (or trusts the table's memory of it), and changes it if needed.
    ///
    /// Route 53 allows an account 10 calls a second, so a change avoids the read when it
    /// can: if the table remembers (recently) another address than the one asked for, the
    /// record must change anyway. The memory is written before the change, so a change is
    /// never made (or notified) twice; an equal memory is always checked against Route 53,
    /// so an answer of "unchanged" always comes from the record itself.
    async fn update_locked(
        &self,
        host: &HostConfig,
        rtype: RecordType,
        ip: IpAddr,
    ) -> Result<Update, Failure> {
        let name = &host.hostname;
        let now = now_unix();
        let known = match self.store.known_record(name, rtype).await {
            Ok(k) => k.filter(|k| now.saturating_sub(k.at) <= self.policy.record_trust),
            Err(e) => {
                log::warn(format!("{name} {rtype}: reading the record instead: {e}"));
                None
            }
        };
        let previous = match known {
            Some(k) if k.ip == ip && now.saturating_sub(k.at) < self.policy.record_confirm => {
                return Ok(Update::Unchanged);
            }
            Some(k) if k.ip != ip => Some(k.ip),
            _ => {
                let current = self
                    .dns
                    .get(&host.zone_id, name, rtype)
                    .await
                    .map_err(Failure::Dns)?;
                if current.holds_only(ip) {
                    let refresh = (self.policy.record_trust / 2).min(self.policy.record_confirm);
                    let stale = known.is_none_or(|k| {
                        k.ip != ip
                            || now.saturating_sub(k.at) > self.policy.record_trust / 2
                            || (refresh > 0 && now.saturating_sub(k.at) >= refresh)
                    });
                    if stale {
                        self.remember(name, rtype, Some(ip), now).await;
                    }
                    return Ok(Update::Unchanged);
                }
                if current == Current::Foreign {
                    self.remember(name, rtype, None, now).await;
                    return Err(Failure::Foreign);
                }
                current.previous_ip()
            }
        };
        let key = format!("rate#{name}#change");
        match self
            .store
            .take_rate(&key, self.policy.change_limit, now)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Err(Failure::Limited),
            Err(e) => return Err(Failure::Store(e)),
        }
        // Before the change: if this write fails nothing is changed (503); if the change
        // may have failed, the memory is checked against Route 53 next time (it equals
        // that request), so a change is never notified twice.
        self.store
            .remember_record(name, rtype, Some(ip), now)
            .await
            .map_err(Failure::Store)?;
        if let Err(e) = self
            .dns
            .upsert(&host.zone_id, name, rtype, ip, host.ttl)
            .await
        {
            // Throttled (or not let through by the pacing) means nothing was changed: put the
            // memory back, so the retry does not have to read the record first.
            if matches!(e, DnsError::Throttled(_)) {
                self.remember(name, rtype, previous, now).await;
            }
            return Err(Failure::Dns(e));
        }
        Ok(Update::Changed(previous))
    }

    /// Updates the table's memory of a record; a failure only costs a Route 53 read later.
    async fn remember(&self, name: &str, rtype: RecordType, ip: Option<IpAddr>, now: u64) {
        if let Err(e) = self.store.remember_record(name, rtype, ip, now).await {
            log::warn(format!("{name} {rtype}: not remembered: {e}"));
        }
    }

    async fn dns_failed(
        &self,
        host: &HostConfig,
        rtype: RecordType,
        e: DnsError,
        tally: &mut Tally,
    ) -> Response {
        log::error(format!("{} {rtype}: {e}", host.hostname));
        tally.counts.error = 1;
        let (short, answer) = match e {
            // Busy is not news for the owner: the router retries, and in a herd every owner
            // would get a text at once. The Error metric and the log still show it.
            DnsError::Throttled(_) => return unavailable("Route 53 is busy"),
            DnsError::Unavailable(_) => ("Route 53 unavailable", "Route 53 is unavailable"),
            DnsError::Rejected(_) => (
                "Route 53 refused the change",
                "Route 53 refused the change (the owner should check the server log)",
            ),
        };
        self.notify_error(host, rtype, short, tally).await;
        unavailable(answer)
    }

    fn store_failed(&self, e: StoreError, tally: &mut Tally) -> Response {
        log::error(format!(
            "{}: {e}",
            tally.host.as_deref().unwrap_or(UNKNOWN_HOST)
        ));
        tally.counts.error = 1;
        unavailable("the host table is unavailable")
    }

    async fn notify_error(
        &self,
        host: &HostConfig,
        rtype: RecordType,
        what: &str,
        tally: &mut Tally,
    ) {
        if host.notify.on_error {
            let msg = notify::error(&host.hostname, rtype, what, now_unix());
            self.notify_quietly(host, "error", msg, tally).await;
        }
    }

    /// Sends at most one message of this kind per host per quiet period, so a stranger
    /// hammering a name (or a long outage) cannot flood the owner's phone.
    async fn notify_quietly(&self, host: &HostConfig, kind: &str, msg: Message, tally: &mut Tally) {
        if self.notifier.is_none() {
            return;
        }
        let key = format!("quiet#{}#{kind}", host.hostname);
        let limit = RateLimit {
            max: 1,
            window: self.policy.notify_quiet,
        };
        match self.store.take_rate(&key, limit, now_unix()).await {
            Ok(true) => self.notify(host, msg, tally).await,
            Ok(false) => log::info(format!(
                "{}: {kind} notification suppressed (one per {} s)",
                host.hostname, self.policy.notify_quiet
            )),
            Err(e) => log::error(format!(
                "{}: {kind} notification skipped: {e}",
                host.hostname
            )),
        }
    }

    async fn notify(&self, host: &HostConfig, msg: Message, tally: &mut Tally) {
        let Some(n) = &self.notifier else { return };
        if let Err(e) = n.send(&msg).await {
            log::error(format!("{}: {e}", host.hostname));
            tally.counts.error = 1;
        }
    }
}

/// Why the locked part of a set failed.
enum Failure {
    Dns(DnsError),
    Store(StoreError),
    Foreign,
    Limited,
}

fn not_allowed(host: &HostConfig, why: &str) -> Response {
    log::warn(format!("{}: refused: {why}", host.hostname));
    Response::error(ErrorCode::NotAllowed, why)
}

fn rate_limited(host: &HostConfig, what: &str, limit: RateLimit) -> Response {
    log::warn(format!(
        "{}: rate limit on {what} ({limit}) reached",
        host.hostname
    ));
    Response::error(
        ErrorCode::RateLimited,
        format!(
            "too many {what} for this host (at most {} per {} s); try again later",
            limit.max, limit.window
        ),
    )
}

impl<D, S, N, M> Handle for Backend<D, S, N, M>
where
    D: Dns + 'static,
    S: HostStore + 'static,
    N: Notifier + 'static,
    M: Metrics + 'static,
{
    fn handle(&self, call: Call) -> impl Future<Output = Reply> + Send {
        self.answer(call)
    }

    fn handle_dyndns2(&self, update: dyndns2::Update) -> impl Future<Output = Reply> + Send {
        self.answer_dyndns2(update)
    }
}
