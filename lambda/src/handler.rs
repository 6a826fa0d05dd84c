//! The request flow: one plain async function over the DNS, host store, notifier and
//! metrics traits, so Lambda, the local service and the tests run the same code.
//!
//! Set flow: parse -> (v2: nonce MAC and age) -> read host and state (one call) -> verify
//! in constant time -> protocol, type, zone and IP-mode checks -> decide in memory (nonce,
//! rate window, record memory; Route 53 read only when the memory cannot tell) -> write
//! the state (one conditional write; a lost race decides again) -> UPSERT if different ->
//! notify -> metrics. An unchanged set costs 2 AWS calls, a change 4 (plus one pacing
//! booking per Route 53 call). Notifications and metrics never fail or undo an update.

use crate::call::{self, Call, Reply};
use crate::clock::now_unix;
use crate::dns::{Current, Dns, DnsError};
use crate::dyndns2;
use crate::host::{name_matches, HostConfig};
use crate::lan;
use crate::log;
use crate::metrics::{Counts, Metrics, UNKNOWN_HOST};
use crate::notify::{self, Message, Notifier};
use crate::random;
use crate::store::{HostState, HostStore, Known, Pending, RateLimit, StoreError};
use dyn53::protocol::{
    canonical_ip, check_nonce, is_public, issue_nonce, v1_changed, v1_verify, ErrorCode, Form,
    IpMode, NonceError, Outcome, RecordType, Request, Response, SetV1, SetV2, SignedFields,
};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How many times one request asks Route 53 whether another request's claimed change is
/// done, before it just waits for the claim to go.
const CLAIM_CHECKS: u32 = 3;

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
    /// How long a claimed change holds off other changes of the host if its holder dies,
    /// in seconds (longer than one Route 53 call's budget).
    pub lock_lease: u64,
    /// How long a set waits for another change of the same host, or retries lost races.
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
            record_confirm: 3600,
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
        let (host, state) = match self.authenticate(&r.hostname, verify, source, tally).await {
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
            .apply(
                &host,
                Some(state),
                RecordType::for_ip(source),
                source,
                None,
                tally,
            )
            .await;
        if resp.outcome == Outcome::Changed {
            resp.message = v1_changed(form, &r.hostname_raw, source);
        }
        resp
    }

    // Over 60 lines: the v2 checks, each with its own answer, in protocol order.
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
        let verify = |secret: &str| fields.verify_lan(secret, r.lan_prefix.as_ref(), &r.signature);
        let (host, state) = match self.authenticate(&r.hostname, verify, source, tally).await {
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
        // A prefix that cannot apply refuses the whole set, so bad input changes nothing.
        let lan_records = match r
            .lan_prefix
            .map(|p| lan::addresses(&host, &p, &self.policy))
        {
            Some(Err(e)) => return not_allowed(&host, &e.0),
            Some(Ok(wanted)) => Some(lan::listing(&wanted).into()),
            None => None,
        };
        let nonce = Some(r.nonce.as_str());
        let resp = self
            .apply(&host, Some(state), r.record_type, r.ip, nonce, tally)
            .await;
        match &r.lan_prefix {
            Some(p) if resp.outcome != Outcome::Error => {
                let (dns, store, n) = (&self.dns, &self.store, self.notifier.as_ref());
                match lan::update(dns, store, n, &self.policy, &host, p, &mut tally.counts).await {
                    Ok(lan::Updated(count)) => Response {
                        lan_updated: Some(count.into()),
                        lan: lan_records,
                        ..resp
                    },
                    Err(refused) => refused,
                }
            }
            _ => resp,
        }
    }

    /// Loads the host with its state and checks the caller's proof; one answer for every
    /// failure.
    ///
    /// Every failure, known name or not, does the same table work (the one read of host
    /// and state, then, when the name's auth-failure window opens, one write of its state)
    /// and answers no sooner than `auth_failure_time`, which hides the one notification a
    /// known host's window sends.
    pub(crate) async fn authenticate(
        &self,
        hostname: &str,
        verify: impl Fn(&str) -> bool,
        source: IpAddr,
        tally: &mut Tally,
    ) -> Result<(HostConfig, HostState), Response> {
        let started = Instant::now();
        let loaded = match self.store.load(hostname).await {
            Ok(l) => l,
            Err(e) => return Err(self.store_failed(e, tally)),
        };
        let known = match loaded.host {
            Ok(None) => {
                let _ = verify(DUMMY_SECRET);
                log::warn(format!("auth failure from {source} (unknown host)"));
                tally.counts.auth_failure = 1;
                None
            }
            Ok(Some(h)) if verify(&h.secret) => {
                tally.host = Some(h.hostname.clone());
                return Ok((h, loaded.state));
            }
            Ok(Some(h)) => {
                log::warn(format!("{}: auth failure from {source}", h.hostname));
                tally.host = Some(h.hostname.clone());
                tally.counts.auth_failure = 1;
                Some(h)
            }
            Err(d) => {
                // The owner must fix the item; the caller learns nothing about it.
                log::error(format!("{hostname}: unusable host item: {d}"));
                tally.host = Some(hostname.to_string());
                tally.counts.error = 1;
                None
            }
        };
        let now = now_unix();
        let mut state = loaded.state;
        if HostState::open_quiet(&mut state.quiet_auth, self.policy.notify_quiet, now) {
            if known.is_none() {
                // A stranger's made-up name: its state goes away by itself.
                state.expires = Some(now + self.policy.notify_quiet + 60);
            }
            match (self.store.save_state(hostname, &state).await, known) {
                (Ok(true), Some(h)) if h.notify.on_auth_failure => {
                    let msg = notify::auth_failure(&h.hostname, source, now);
                    self.notify(&h, msg, tally).await;
                }
                (Err(e), Some(h)) => {
                    log::error(format!("{}: auth notification skipped: {e}", h.hostname))
                }
                _ => {}
            }
        }
        tokio::time::sleep_until((started + self.policy.auth_failure_time).into()).await;
        Err(Response::error(ErrorCode::Auth, AUTH_FAILED))
    }

    /// Checks what the host may do, then updates the record (see [`Self::update`]).
    /// `state` is the host's state as read with it (None: read it now); `nonce` the v2
    /// nonce to spend. (Over 60 lines: the refusals and their answers, in the order they
    /// apply, read best in one place.)
    pub(crate) async fn apply(
        &self,
        host: &HostConfig,
        state: Option<HostState>,
        rtype: RecordType,
        ip: IpAddr,
        nonce: Option<&str>,
        tally: &mut Tally,
    ) -> Response {
        let listed = |names: &Vec<String>| names.iter().any(|p| name_matches(p, &host.hostname));
        let names_ok = self.policy.record_names.as_ref().is_none_or(listed);
        let state = match nonce {
            // A refused v2 set still spends its nonce and checks in, as an accepted one.
            Some(n) if !host.allows_type(rtype) || !host.in_zone() || !names_ok => {
                match self.spend_only(host, state, n, tally).await {
                    Ok(()) => None,
                    Err(resp) => return resp,
                }
            }
            _ => state,
        };
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
        if !names_ok {
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
        let state = match state {
            Some(s) => s,
            None => match self.store.load_state(&host.hostname).await {
                Ok(s) => s,
                Err(e) => return self.store_failed(e, tally),
            },
        };
        match self.update(host, state, rtype, ip, nonce, tally).await {
            Ok(done) => self.carry_out(host, done, rtype, ip, tally).await,
            Err(resp) => resp,
        }
    }

    /// Decides in memory (reading Route 53 only when the state cannot tell) and writes the
    /// state back with one conditional write; a lost race re-reads and decides again, a
    /// change in flight elsewhere is waited for, both within `lock_wait`. (Over 60 lines:
    /// one loop whose exits, read, write and wait, must be seen together.)
    async fn update(
        &self,
        host: &HostConfig,
        mut state: HostState,
        rtype: RecordType,
        ip: IpAddr,
        nonce: Option<&str>,
        tally: &mut Tally,
    ) -> Result<(Plan, HostState), Response> {
        let name = &host.hostname;
        let deadline = Instant::now() + self.policy.lock_wait;
        let mut pause = Duration::from_millis(50);
        let mut reads = BTreeMap::new();
        let (mut claim_seen, mut checks) = (None, 0);
        loop {
            let mut next = state.clone();
            let now = now_unix();
            let mut step = plan(&self.policy, &mut next, rtype, ip, nonce, &reads, now);
            // A claim in flight is first given a moment (it is usually done by then), and
            // Route 53 is asked about it only after that and only a few times, so waiters
            // do not crowd the account's Route 53 rate.
            let claim = next.pending.filter(|_| matches!(step, Plan::Read(_)));
            if claim.is_some() && claim != claim_seen {
                (claim_seen, checks) = (claim, 0);
                step = Plan::Wait;
            } else if claim.is_some() && checks >= CLAIM_CHECKS {
                step = Plan::Wait;
            } else if claim.is_some() {
                checks += 1;
            }
            match step {
                Plan::Replay => {
                    log::warn(format!("{name}: replayed nonce"));
                    let msg = "nonce already used; request a new one";
                    return Err(Response::error(ErrorCode::Nonce, msg));
                }
                Plan::Read(t) => match self.read(host, t, claim.is_some()).await {
                    Ok(c) => {
                        reads.insert(t, c);
                        continue;
                    }
                    // Route 53 busy while checking another request's claim: keep waiting.
                    Err(DnsError::Throttled(_)) if claim.is_some() => step = Plan::Wait,
                    Err(e) => return Err(self.dns_failed(host, t, e, tally).await),
                },
                _ => {}
            }
            let written = match step {
                Plan::Wait => false,
                _ => match self.store.save_state(name, &next).await {
                    Ok(w) => w,
                    Err(e) => return Err(self.store_failed(e, tally)),
                },
            };
            if written {
                if nonce.is_some() {
                    // Only a spent, fresh nonce proves the router itself is alive.
                    tally.counts.check_in = 1;
                }
                next.version += 1;
                return Ok((step, next));
            }
            // Lost a race, or another change is in flight: read again, a little later.
            if Instant::now() + pause > deadline {
                return Err(unavailable("another update for this host is in progress"));
            }
            if step == Plan::Wait {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(400));
            }
            state = match self.store.load_state(name).await {
                Ok(s) => s,
                Err(e) => return Err(self.store_failed(e, tally)),
            };
            reads.clear();
        }
    }

    /// Spends the nonce of a set that is refused anyway (one conditional write, a lost race
    /// tried again).
    async fn spend_only(
        &self,
        host: &HostConfig,
        state: Option<HostState>,
        nonce: &str,
        tally: &mut Tally,
    ) -> Result<(), Response> {
        let name = &host.hostname;
        let mut state = state;
        for _ in 0..5 {
            let mut next = match state.take() {
                Some(s) => s,
                None => self
                    .store
                    .load_state(name)
                    .await
                    .map_err(|e| self.store_failed(e, tally))?,
            };
            if !spend(&self.policy, &mut next, Some(nonce), now_unix()) {
                log::warn(format!("{name}: replayed nonce"));
                let msg = "nonce already used; request a new one";
                return Err(Response::error(ErrorCode::Nonce, msg));
            }
            match self.store.save_state(name, &next).await {
                Ok(true) => {
                    tally.counts.check_in = 1;
                    return Ok(());
                }
                Ok(false) => {}
                Err(e) => return Err(self.store_failed(e, tally)),
            }
        }
        Err(unavailable("another update for this host is in progress"))
    }

    /// Reads a record; a look at another request's claim only if Route 53 has room now.
    async fn read(
        &self,
        host: &HostConfig,
        t: RecordType,
        claim: bool,
    ) -> Result<Current, DnsError> {
        let (zone, name) = (&host.zone_id, &host.hostname);
        if claim {
            self.dns.peek(zone, name, t).await
        } else {
            self.dns.get(zone, name, t).await
        }
    }

    /// Does what the written plan says: answer, or change the record and notify.
    async fn carry_out(
        &self,
        host: &HostConfig,
        (step, state): (Plan, HostState),
        rtype: RecordType,
        ip: IpAddr,
        tally: &mut Tally,
    ) -> Response {
        let name = &host.hostname;
        let previous = match step {
            Plan::Change(previous) => previous,
            Plan::SetsLimited => return rate_limited(host, "updates", self.policy.set_limit),
            Plan::ChangesLimited => return rate_limited(host, "changes", self.policy.change_limit),
            Plan::Foreign => {
                log::error(format!(
                    "{name} {rtype}: the record is an alias or has a routing policy; not replaced"
                ));
                tally.counts.error = 1;
                self.notify_error(host, rtype, "record is an alias or routed record", tally)
                    .await;
                return Response::error(
                    ErrorCode::NotAllowed,
                    "the record is an alias or uses a routing policy; dyn53 will not replace it",
                );
            }
            _ => {
                log::info(format!("{name} {rtype} unchanged {ip}"));
                return Response::unchanged(ip);
            }
        };
        if let Err(e) = self
            .dns
            .upsert(&host.zone_id, name, rtype, ip, host.ttl)
            .await
        {
            let throttled = matches!(e, DnsError::Throttled(_));
            self.release(name, state, rtype, ip, previous, throttled)
                .await;
            return self.dns_failed(host, rtype, e, tally).await;
        }
        let old = previous.map_or_else(|| "none".into(), |p| p.to_string());
        log::info(format!("{name} {rtype} changed {old} -> {ip}"));
        tally.counts.changed = 1;
        if host.notify.on_change {
            let msg = notify::changed(name, rtype, previous, ip, now_unix());
            self.notify(host, msg, tally).await;
        }
        Response::changed(name, ip, previous)
    }

    /// After a failed change: drops the claim and the memory of the address that was not
    /// written (or, when Route 53 was only busy and so nothing changed, puts the previous
    /// address back and gives the host its set and change back, so the crowd's retries in a
    /// herd do not use up its allowance). Best effort: the claim lapses by itself.
    async fn release(
        &self,
        name: &str,
        mut state: HostState,
        rtype: RecordType,
        ip: IpAddr,
        previous: Option<IpAddr>,
        throttled: bool,
    ) {
        for _ in 0..3 {
            let now = now_unix();
            if state
                .pending
                .is_some_and(|p| p.rtype == rtype && p.ip == ip)
            {
                state.pending = None;
            }
            match previous.filter(|_| throttled) {
                Some(p) => state.records.insert(rtype, Known { ip: p, at: now }),
                None => state.records.remove(&rtype),
            };
            if throttled {
                state.sets.count = state.sets.count.saturating_sub(1);
                state.changes.count = state.changes.count.saturating_sub(1);
            }
            match self.store.save_state(name, &state).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => return log::warn(format!("{name} {rtype}: claim not released: {e}")),
            }
            state = match self.store.load_state(name).await {
                Ok(s) => s,
                Err(e) => return log::warn(format!("{name} {rtype}: claim not released: {e}")),
            };
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

    /// Sends at most one error message per host per quiet period (its window is in the
    /// host's state), so a long outage cannot flood the owner's phone.
    async fn notify_error(
        &self,
        host: &HostConfig,
        rtype: RecordType,
        what: &str,
        tally: &mut Tally,
    ) {
        if !host.notify.on_error || self.notifier.is_none() {
            return;
        }
        let name = &host.hostname;
        for _ in 0..2 {
            let now = now_unix();
            let mut state = match self.store.load_state(name).await {
                Ok(s) => s,
                Err(e) => return log::error(format!("{name}: error notification skipped: {e}")),
            };
            if !HostState::open_quiet(&mut state.quiet_error, self.policy.notify_quiet, now) {
                return log::info(format!(
                    "{name}: error notification suppressed (one per {} s)",
                    self.policy.notify_quiet
                ));
            }
            match self.store.save_state(name, &state).await {
                Ok(true) => {
                    let msg = notify::error(name, rtype, what, now);
                    return self.notify(host, msg, tally).await;
                }
                Ok(false) => {}
                Err(e) => return log::error(format!("{name}: error notification skipped: {e}")),
            }
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

/// What a set does, decided in memory by [`plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    /// The v2 nonce was spent already.
    Replay,
    /// The host used up its set calls.
    SetsLimited,
    /// Route 53 must be read first (this record type's record).
    Read(RecordType),
    /// Another change of the host is in flight: wait for it.
    Wait,
    /// The record holds the address (or is being set to it).
    Unchanged,
    /// The record is an alias or routed record: not dyn53's to replace.
    Foreign,
    /// The host used up its changes.
    ChangesLimited,
    /// Change the record; the address it held.
    Change(Option<IpAddr>),
}

/// Decides a set of `ip` from the host's state and the records read so far, and puts into
/// `next` what the write must say: the nonce spent, the set counted, the check-in, the
/// record memory and, for a change, the claim other requests wait for.
///
/// The record memory answers "unchanged" without a read within `record_confirm` of its
/// last confirmation, and names the previous address of a change within `record_trust`.
/// It is written with the claim, before the change, so a change is never made (or
/// notified) twice; a claim is over once Route 53 holds its address or it lapses.
fn plan(
    p: &Policy,
    next: &mut HostState,
    rtype: RecordType,
    ip: IpAddr,
    nonce: Option<&str>,
    reads: &BTreeMap<RecordType, Current>,
    now: u64,
) -> Plan {
    if !spend(p, next, nonce, now) {
        return Plan::Replay;
    }
    // A limited set is still a check-in (and spends its nonce).
    if !next.sets.take(p.set_limit, now) {
        return Plan::SetsLimited;
    }
    if let Some(claim) = next.pending {
        if claim.rtype == rtype && claim.ip == ip && p.record_confirm > 0 {
            return Plan::Unchanged;
        }
        match reads.get(&claim.rtype) {
            None => return Plan::Read(claim.rtype),
            Some(c) if c.holds_only(claim.ip) => {
                next.pending = None;
                let done = Known {
                    ip: claim.ip,
                    at: now,
                };
                next.records.insert(claim.rtype, done);
            }
            Some(_) => return Plan::Wait,
        }
    }
    let current = match reads.get(&rtype) {
        Some(c) => c,
        None => {
            let trusted = |k: &&Known| now.saturating_sub(k.at) <= p.record_trust;
            match next.records.get(&rtype).filter(trusted) {
                Some(k) if k.ip == ip && now.saturating_sub(k.at) < p.record_confirm => {
                    return Plan::Unchanged
                }
                Some(k) if k.ip != ip => return change(p, next, rtype, ip, Some(k.ip), now),
                _ => return Plan::Read(rtype),
            }
        }
    };
    if current.holds_only(ip) {
        next.records.insert(rtype, Known { ip, at: now });
        return Plan::Unchanged;
    }
    if *current == Current::Foreign {
        next.records.remove(&rtype);
        return Plan::Foreign;
    }
    change(p, next, rtype, ip, current.previous_ip(), now)
}

/// Spends `nonce` (false: it was spent already) and notes the check-in.
fn spend(p: &Policy, next: &mut HostState, nonce: Option<&str>, now: u64) -> bool {
    next.prune(now);
    if nonce.is_some_and(|n| next.nonces.contains_key(n)) {
        return false;
    }
    next.seen = Some(now);
    next.expires = None;
    if let Some(n) = nonce {
        next.nonces
            .insert(n.to_string(), now + p.nonce_max_age + 60);
    }
    true
}

/// The change part of [`plan`]: counts it and claims the record.
fn change(
    p: &Policy,
    next: &mut HostState,
    rtype: RecordType,
    ip: IpAddr,
    previous: Option<IpAddr>,
    now: u64,
) -> Plan {
    if !next.changes.take(p.change_limit, now) {
        return Plan::ChangesLimited;
    }
    next.records.insert(rtype, Known { ip, at: now });
    next.pending = Some(Pending {
        rtype,
        ip,
        until: now + p.lock_lease,
    });
    Plan::Change(previous)
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

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
