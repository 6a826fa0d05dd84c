//! In-memory fakes of the four collaborators (feature `testkit`), so the whole request flow
//! runs in tests without AWS or moto: [`FakeDns`], [`FakeStore`], [`FakeNotifier`] and
//! [`FakeMetrics`]. Each is a cheap handle on shared state (clone it before handing it to
//! the backend to look inside later), counts the calls it gets, and takes faults to inject.

use crate::dns::{Current, Dns, DnsError};
use crate::handler::{Backend, Policy};
use crate::host::HostConfig;
use crate::metrics::{Counts, Metrics};
use crate::notify::{Notifier, NotifyError};
use crate::store::{HostState, HostStore, Loaded, StoreError};
use dyn53::protocol::RecordType;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The backend on fakes.
pub type FakeBackend = Backend<FakeDns, FakeStore, FakeNotifier, FakeMetrics>;

/// Fresh fakes and a backend on them (with a fixed nonce key), the fakes' handles
/// returned alongside.
pub fn backend(policy: Policy) -> (FakeBackend, Fakes) {
    let f = Fakes::default();
    let b = Backend::new(
        f.dns.clone(),
        f.store.clone(),
        Some(f.notifier.clone()),
        f.metrics.clone(),
        policy,
        Some(vec![7; 32]),
    );
    (b, f)
}

/// Handles on the fakes behind one backend.
#[derive(Clone, Default)]
pub struct Fakes {
    /// Route 53.
    pub dns: FakeDns,
    /// The table.
    pub store: FakeStore,
    /// SNS.
    pub notifier: FakeNotifier,
    /// EMF metrics.
    pub metrics: FakeMetrics,
}

impl Fakes {
    /// Every call made so far, in order, as `service:operation` (`dns:get`, `store:save`,
    /// ...), across the four fakes; metrics are not AWS calls and are left out.
    pub fn calls(&self) -> usize {
        self.dns.calls().len() + self.store.calls().len() + self.notifier.texts().len()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fault the fake DNS gives the next call instead of answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsFault {
    /// Throttled past the retry budget (nothing done).
    Throttled,
    /// Timed out before Route 53 did anything.
    Timeout,
    /// Timed out, but an UPSERT was carried out.
    TimeoutAfterChange,
    /// Refused (bad zone, access denied).
    Rejected,
}

#[derive(Default)]
struct DnsInner {
    records: HashMap<(String, RecordType), Current>,
    calls: Vec<String>,
    faults: VecDeque<DnsFault>,
    upsert_faults: VecDeque<DnsFault>,
    delay: Duration,
}

/// Route 53 in memory: records by name and type.
#[derive(Clone, Default)]
pub struct FakeDns(Arc<Mutex<DnsInner>>);

impl FakeDns {
    /// Sets a record as Route 53 would hold it (state dyn53 did not write).
    pub fn set(&self, name: &str, rtype: RecordType, current: Current) {
        lock(&self.0).records.insert((name.into(), rtype), current);
    }

    /// A plain record with one address.
    pub fn put(&self, name: &str, ip: IpAddr) {
        let plain = Current::Plain {
            values: vec![ip.to_string()],
            ttl: 60,
        };
        self.set(name, RecordType::for_ip(ip), plain);
    }

    /// The record, as a test reads it (not counted as a call).
    pub fn record(&self, name: &str, rtype: RecordType) -> Current {
        let g = lock(&self.0);
        let key = (name.to_string(), rtype);
        g.records.get(&key).cloned().unwrap_or(Current::Missing)
    }

    /// The calls so far: `get NAME TYPE` and `upsert NAME TYPE IP`.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.0).calls.clone()
    }

    /// The UPSERTs so far.
    pub fn upserts(&self) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.starts_with("upsert"))
            .count()
    }

    /// The next `times` calls fail with `fault`.
    pub fn fail(&self, fault: DnsFault, times: usize) {
        lock(&self.0)
            .faults
            .extend(std::iter::repeat_n(fault, times));
    }

    /// The next `times` UPSERTs (reads pass) fail with `fault`.
    pub fn fail_upserts(&self, fault: DnsFault, times: usize) {
        lock(&self.0)
            .upsert_faults
            .extend(std::iter::repeat_n(fault, times));
    }

    /// Every UPSERT takes this long (so concurrent requests overlap).
    pub fn slow_upserts(&self, delay: Duration) {
        lock(&self.0).delay = delay;
    }

    fn fault(&self, call: String) -> Option<DnsFault> {
        let mut g = lock(&self.0);
        let upsert = call.starts_with("upsert");
        g.calls.push(call);
        match g.faults.pop_front() {
            Some(f) => Some(f),
            None if upsert => g.upsert_faults.pop_front(),
            None => None,
        }
    }
}

fn dns_error(f: DnsFault) -> DnsError {
    match f {
        DnsFault::Throttled => DnsError::Throttled("fake: Throttling".into()),
        DnsFault::Timeout | DnsFault::TimeoutAfterChange => {
            DnsError::Unavailable("fake: timed out".into())
        }
        DnsFault::Rejected => DnsError::Rejected("fake: AccessDenied".into()),
    }
}

impl Dns for FakeDns {
    async fn get(&self, _zone: &str, name: &str, rtype: RecordType) -> Result<Current, DnsError> {
        if let Some(f) = self.fault(format!("get {name} {rtype}")) {
            return Err(dns_error(f));
        }
        Ok(self.record(name, rtype))
    }

    async fn upsert(
        &self,
        _zone: &str,
        name: &str,
        rtype: RecordType,
        ip: IpAddr,
        ttl: u32,
    ) -> Result<(), DnsError> {
        let fault = self.fault(format!("upsert {name} {rtype} {ip}"));
        let delay = lock(&self.0).delay;
        tokio::time::sleep(delay).await;
        if fault.is_some_and(|f| f != DnsFault::TimeoutAfterChange) {
            return Err(dns_error(fault.unwrap_or(DnsFault::Timeout)));
        }
        let plain = Current::Plain {
            values: vec![ip.to_string()],
            ttl: i64::from(ttl),
        };
        lock(&self.0).records.insert((name.into(), rtype), plain);
        fault.map_or(Ok(()), |f| Err(dns_error(f)))
    }
}

/// A fault the fake table gives the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFault {
    /// The table fails (throttled past the SDK's retries, or down).
    Unavailable,
    /// The next write fails so (reads before it pass).
    WriteUnavailable,
    /// Another request writes the state just before this write (so it loses the race).
    LoseRace,
    /// The write is carried out, times out, and the SDK sends it again.
    RepeatWrite,
}

#[derive(Default)]
struct StoreInner {
    hosts: HashMap<String, Result<HostConfig, String>>,
    states: HashMap<String, HostState>,
    calls: Vec<String>,
    faults: VecDeque<StoreFault>,
    tokens: u64,
}

/// The table in memory: host items and state items, with the same optimistic-lock rule as
/// the DynamoDB one (a write succeeds only on the version it read, or as a repeat of
/// itself).
#[derive(Clone, Default)]
pub struct FakeStore(Arc<Mutex<StoreInner>>);

impl FakeStore {
    /// Adds (or replaces) a host.
    pub fn add_host(&self, host: HostConfig) {
        lock(&self.0).hosts.insert(host.hostname.clone(), Ok(host));
    }

    /// Puts an unusable host item (a hand edit gone wrong) under `hostname`.
    pub fn add_bad_host(&self, hostname: &str, why: &str) {
        lock(&self.0).hosts.insert(hostname.into(), Err(why.into()));
    }

    /// A host's state as stored (not counted as a call).
    pub fn state(&self, hostname: &str) -> Option<HostState> {
        lock(&self.0).states.get(hostname).cloned()
    }

    /// Replaces a host's stored state (a test's past), as a new version.
    pub fn set_state(&self, hostname: &str, mut state: HostState) {
        let mut g = lock(&self.0);
        state.version = g.states.get(hostname).map_or(0, |s| s.version) + 1;
        g.states.insert(hostname.into(), state);
    }

    /// The calls so far: `load NAME`, `load_state NAME`, `save NAME`, `nonce_key`.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.0).calls.clone()
    }

    /// The next `times` calls meet `fault` (a fault for writes waits for a write).
    pub fn fail(&self, fault: StoreFault, times: usize) {
        lock(&self.0)
            .faults
            .extend(std::iter::repeat_n(fault, times));
    }

    fn start(&self, call: String, write: bool) -> Option<StoreFault> {
        let mut g = lock(&self.0);
        g.calls.push(call);
        match g.faults.front() {
            Some(StoreFault::Unavailable) => g.faults.pop_front(),
            Some(_) if write => g.faults.pop_front(),
            _ => None,
        }
    }
}

fn down() -> StoreError {
    StoreError::Unavailable("fake: table down".into())
}

/// The DynamoDB write rule of `table::Table::put_state`, in memory.
fn put_state(g: &mut StoreInner, hostname: &str, state: &HostState, token: &str) -> bool {
    let stored = g.states.get(hostname);
    let ok = match stored {
        None => state.version == 0,
        Some(s) => s.version == state.version || s.tokens.iter().any(|t| t == token),
    };
    if ok {
        let mut next = state.clone();
        next.version = state.version + 1;
        next.tokens = std::iter::once(token.to_string())
            .chain(state.tokens.iter().take(3).cloned())
            .collect();
        g.states.insert(hostname.into(), next);
    }
    ok
}

impl HostStore for FakeStore {
    async fn load(&self, hostname: &str) -> Result<Loaded, StoreError> {
        if self.start(format!("load {hostname}"), false).is_some() {
            return Err(down());
        }
        let g = lock(&self.0);
        Ok(Loaded {
            host: g.hosts.get(hostname).cloned().transpose(),
            state: g.states.get(hostname).cloned().unwrap_or_default(),
        })
    }

    async fn load_state(&self, hostname: &str) -> Result<HostState, StoreError> {
        if self
            .start(format!("load_state {hostname}"), false)
            .is_some()
        {
            return Err(down());
        }
        Ok(self.state(hostname).unwrap_or_default())
    }

    async fn save_state(&self, hostname: &str, state: &HostState) -> Result<bool, StoreError> {
        let fault = self.start(format!("save {hostname}"), true);
        let mut g = lock(&self.0);
        g.tokens += 1;
        let token = format!("t{}", g.tokens);
        match fault {
            Some(StoreFault::Unavailable | StoreFault::WriteUnavailable) => Err(down()),
            Some(StoreFault::LoseRace) => {
                // Someone else's write: same content, next version.
                let other = g.states.get(hostname).cloned().unwrap_or_default();
                put_state(&mut g, hostname, &other, "other");
                Ok(put_state(&mut g, hostname, state, &token))
            }
            Some(StoreFault::RepeatWrite) => {
                let first = put_state(&mut g, hostname, state, &token);
                Ok(put_state(&mut g, hostname, state, &token) && first)
            }
            None => Ok(put_state(&mut g, hostname, state, &token)),
        }
    }

    async fn nonce_key(&self) -> Result<Vec<u8>, StoreError> {
        if self.start("nonce_key".into(), false).is_some() {
            return Err(down());
        }
        Ok(vec![7; 32])
    }
}

#[derive(Default)]
struct NotifierInner {
    texts: Vec<String>,
    failures: usize,
}

/// SNS in memory: the texts published.
#[derive(Clone, Default)]
pub struct FakeNotifier(Arc<Mutex<NotifierInner>>);

impl FakeNotifier {
    /// The texts published so far.
    pub fn texts(&self) -> Vec<String> {
        lock(&self.0).texts.clone()
    }

    /// The next `times` publishes fail (nothing sent).
    pub fn fail(&self, times: usize) {
        lock(&self.0).failures += times;
    }
}

impl Notifier for FakeNotifier {
    async fn publish(&self, _subject: &str, text: &str) -> Result<(), NotifyError> {
        let mut g = lock(&self.0);
        if g.failures > 0 {
            g.failures -= 1;
            return Err(NotifyError("fake: SNS down".into()));
        }
        g.texts.push(text.to_string());
        Ok(())
    }
}

/// Metrics in memory: one (hostname, counts) per request.
#[derive(Clone, Default)]
pub struct FakeMetrics(Arc<Mutex<Vec<(String, Counts)>>>);

impl FakeMetrics {
    /// Everything recorded so far.
    pub fn all(&self) -> Vec<(String, Counts)> {
        lock(&self.0).clone()
    }
}

impl Metrics for FakeMetrics {
    fn record(&self, hostname: &str, counts: Counts, _now_ms: u64) {
        lock(&self.0).push((hostname.to_string(), counts));
    }
}
