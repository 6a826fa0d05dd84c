//! A discrete-event simulation of a herd: every router of a zone gets a new address at
//! once (an ISP outage ends) and updates through the backend, which shares one Route 53
//! account (token bucket: 10 requests/s, burst 50).
//!
//! It runs the same timings and retry rules as the code, read from the code itself:
//! - routers (OpenWrt): the hotplug run when the WAN comes up, plus the procd loop
//!   (`check_interval`, 600 s; 60 s after a temporary failure), both read from
//!   openwrt/files; one `dyn53 update` run has `DEFAULT_TIMEOUT` (60 s) and backs off with
//!   `dyn53::backoff::backoff` (same jitter) between attempts of at most `ATTEMPT_MAX`;
//! - the backend flow of handler.rs: table calls, the per-host set limit, the change claim
//!   (the `pending` entry of the host's state item, taken with the same conditional write;
//!   another set of the host waits for it, modelled as `Phase::Lock`),
//!   ListResourceRecordSets (skipped when the table knows the record differs), the change
//!   limit, ChangeResourceRecordSets, notification; Route 53 calls retried with
//!   `dyn53_backend::retry::Backoff` (full jitter, 8 s budget) and, with the account-wide
//!   slot limiter, scheduled by `dyn53_backend::limiter`'s rule;
//! - the front: Lambda with reserved concurrency (429 when full) or the local service
//!   (`serve::MAX_IN_FLIGHT`, the rest queue; a request whose client gave up in the queue
//!   is dropped); either way a started request runs to its end.
//!
//! Latencies of AWS calls are parameters (defaults: typical in-region figures); the real-time
//! herd test checks the model against the real service on moto behind a throttling proxy.
//! The model still charges a table call for each step of the older design (rate item, lock,
//! unlock) where the state item now takes one read and one write: its times err long.

use dyn53_backend::handler::Policy;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

/// How requests reach the backend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Front {
    /// Lambda function URL with this reserved concurrency: more at once get HTTP 429.
    Lambda(usize),
    /// The local service: this many handled at once, the rest wait in line.
    Queue(usize),
}

/// The model's inputs.
#[derive(Debug, Clone)]
pub struct Params {
    /// Routers (one A record each, all in one zone).
    pub hosts: usize,
    /// Random seed (the run is deterministic for a seed).
    pub seed: u64,
    /// WAN links come up uniformly spread over this many seconds.
    pub wan_up_spread: f64,
    /// Whether routers run the periodic procd loop besides the hotplug run.
    pub periodic: bool,
    /// Front end.
    pub front: Front,
    /// Route 53 account limit: requests per second and burst.
    pub route53_rate: f64,
    /// Route 53 burst (bucket size).
    pub route53_burst: f64,
    /// One DynamoDB call, seconds.
    pub dynamo_latency: f64,
    /// ListResourceRecordSets, seconds.
    pub list_latency: f64,
    /// ChangeResourceRecordSets, seconds.
    pub change_latency: f64,
    /// A throttled Route 53 answer, seconds.
    pub throttle_latency: f64,
    /// SNS Publish, seconds.
    pub sns_latency: f64,
    /// A get (nonce key cached), seconds.
    pub get_latency: f64,
    /// Network round trip router <-> backend, seconds.
    pub net_latency: f64,
    /// Whether the table knows each record's last written value (dyn53 wrote it before).
    pub records_known: bool,
    /// Whether the backend schedules Route 53 calls in account-wide slots (the limiter).
    pub limiter: bool,
    /// `DYN53_RECORD_CONFIRM_SECS`: a set of the address the table confirmed less than this
    /// long ago is answered without reading the record (0: always read).
    pub record_confirm: f64,
    /// Steady state instead of a herd: every record is already correct, routers only run
    /// their periodic loop, and the run lasts `horizon`.
    pub steady: bool,
    /// Whether a 503 for Route 53 being busy also texts the owner (the old design).
    pub busy_notices: bool,
    /// Whether clients draw their pauses (`backoff_with`) or take the nominal ones.
    pub client_jitter: bool,
    /// Whether routers run the hotplug run when the WAN comes up.
    pub hotplug: bool,
    /// Whether the periodic loop's first run is at a random point of its cycle (else at
    /// WAN-up, as when the loop itself notices the link).
    pub periodic_random_phase: bool,
    /// Stop the simulation here (seconds) if not all records are correct by then.
    pub horizon: f64,
    /// Backend and router rules read from the code.
    pub code: Code,
}

/// Timings and limits taken from the code (see [`Code::read`]).
#[derive(Debug, Clone)]
pub struct Code {
    /// Client: total deadline of one run.
    pub run_deadline: f64,
    /// Client: longest single request.
    pub attempt_max: f64,
    /// Client: no pause is started with less than this left.
    pub attempt_min: f64,
    /// Router: seconds between periodic runs.
    pub check_interval: f64,
    /// Router: seconds to the next periodic run after a temporary failure.
    pub retry_after_failure: f64,
    /// Backend: Route 53 retry budget per call, first pause, longest pause.
    pub dns_budget: f64,
    /// Backend: first backoff pause ceiling.
    pub dns_base: f64,
    /// Backend: longest backoff pause ceiling.
    pub dns_cap: f64,
    /// Backend: per-host set limit (calls, window seconds).
    pub set_limit: (u32, f64),
    /// Backend: how long a set waits for another set's claim on the host.
    pub lock_wait: f64,
    /// Backend: account-wide Route 53 rate and burst the limiter allows.
    pub limiter_rate: f64,
    /// Backend: limiter burst.
    pub limiter_burst: f64,
    /// Local service: requests handled at once.
    pub in_flight: usize,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// `name VALUE` or `name=VALUE` in a router script, as a number.
fn script_number(file: &str, after: &str) -> f64 {
    let path = format!("{}/../openwrt/files/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let at = text
        .find(after)
        .unwrap_or_else(|| panic!("{path} no longer has {after:?}: update the herd model"));
    let digits: String = text[at + after.len()..]
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().unwrap()
}

impl Code {
    /// Reads every rule from the code: the client's retry module and config defaults, the
    /// backend's policy, retry budget, limiter and service bound, the OpenWrt scripts.
    pub fn read() -> Code {
        let policy = Policy::default();
        let backoff = dyn53_backend::retry::Backoff::with_budget(Duration::from_millis(
            dyn53_backend::settings::DEFAULT_DNS_BUDGET_MS,
        ));
        let limiter = dyn53_backend::limiter::SlotLimit::default();
        Code {
            run_deadline: dyn53::config::DEFAULT_TIMEOUT as f64,
            attempt_max: secs(dyn53::backoff::ATTEMPT_MAX),
            attempt_min: secs(dyn53::backoff::ATTEMPT_MIN),
            check_interval: script_number("dyn53.init", "check_interval"),
            retry_after_failure: script_number("dyn53-run", "next="),
            dns_budget: secs(backoff.budget),
            dns_base: secs(backoff.base),
            dns_cap: secs(backoff.cap),
            set_limit: (policy.set_limit.max, policy.set_limit.window as f64),
            lock_wait: secs(policy.lock_wait),
            limiter_rate: limiter.rate,
            limiter_burst: f64::from(limiter.burst),
            in_flight: dyn53_backend::serve::MAX_IN_FLIGHT,
        }
    }
}

impl Params {
    /// `hosts` routers on Lambda with the template's default reserved concurrency (5), the
    /// design as the code has it, typical in-region AWS latencies.
    pub fn new(hosts: usize) -> Params {
        Params {
            hosts,
            seed: 1,
            wan_up_spread: 30.0,
            periodic: true,
            front: Front::Lambda(5),
            route53_rate: 10.0,
            route53_burst: 50.0,
            dynamo_latency: 0.006,
            list_latency: 0.080,
            change_latency: 0.200,
            throttle_latency: 0.020,
            sns_latency: 0.030,
            get_latency: 0.010,
            net_latency: 0.040,
            records_known: true,
            limiter: true,
            record_confirm: 0.0,
            steady: false,
            busy_notices: false,
            client_jitter: true,
            hotplug: true,
            periodic_random_phase: true,
            horizon: 6.0 * 3600.0,
            code: Code::read(),
        }
    }
}

impl Params {
    /// The design before issue 6: no pacing (throttled calls retried with backoff only),
    /// every set reads the record first, a text to the owner when Route 53 stays busy,
    /// clients pause exactly 1, 2, 4, 8, 15 s.
    pub fn before(hosts: usize) -> Params {
        Params {
            records_known: false,
            limiter: false,
            busy_notices: true,
            client_jitter: false,
            ..Params::new(hosts)
        }
    }
}

/// What the simulation measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Seconds from the first WAN coming up until every record is correct (None: not by the
    /// horizon).
    pub all_correct: Option<f64>,
    /// Seconds until half, 90 % and 99 % of the records are correct.
    pub correct_p50: f64,
    /// 90 %.
    pub correct_p90: f64,
    /// 99 %.
    pub correct_p99: f64,
    /// Records correct by the end.
    pub correct: usize,
    /// Route 53 calls answered normally.
    pub route53_ok: u64,
    /// ChangeResourceRecordSets calls that went through.
    pub changes: u64,
    /// Seconds from the first to the last Route 53 call answered normally.
    pub route53_span: f64,
    /// Route 53 calls throttled.
    pub route53_throttled: u64,
    /// Most Route 53 calls answered normally in one second.
    pub route53_peak_ok: u64,
    /// Most Route 53 calls sent (throttled or not) in one second.
    pub route53_peak_sent: u64,
    /// Most Route 53 calls answered normally in any 10 s window, per second.
    pub route53_peak_10s: f64,
    /// Backend answers 503 (Route 53 busy past the budget, or the lock).
    pub answers_503: u64,
    /// Requests refused by the front (Lambda 429).
    pub front_429: u64,
    /// Sets refused by the per-host limit (429 rate_limited).
    pub rate_limited: u64,
    /// Client requests that timed out.
    pub client_timeouts: u64,
    /// Runs that ended with exit 1.
    pub runs_failed: u64,
    /// Runs started.
    pub runs: u64,
    /// Change notifications.
    pub change_notices: u64,
    /// Error notifications (at most one per host per quiet period).
    pub error_notices: u64,
    /// Backend invocations (gets and sets).
    pub invocations: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Req {
    Get,
    Set,
}

/// The backend's answer to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Ok,
    Unavailable,
    RateLimited,
    FrontBusy,
}

#[derive(Debug, Clone, Copy)]
enum Ev {
    /// A router starts a run (hotplug when `periodic` is false).
    RunStart { router: usize, periodic: bool },
    /// A run starts an attempt (sends its get).
    Attempt { run: usize },
    /// A request reaches the front.
    Arrive { run: usize, seq: u64, req: Req },
    /// A backend flow continues.
    Step { flow: usize },
    /// A request's answer reaches the client.
    Answered {
        run: usize,
        seq: u64,
        req: Req,
        answer: Answer,
    },
    /// A client gives up waiting for `seq`.
    Timeout { run: usize, seq: u64 },
}

struct Queued {
    at: f64,
    order: u64,
    ev: Ev,
}

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        self.at == o.at && self.order == o.order
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    fn cmp(&self, o: &Self) -> Ordering {
        // Earliest first (BinaryHeap is a max-heap).
        o.at.total_cmp(&self.at).then(o.order.cmp(&self.order))
    }
}

struct Router {
    correct_at: Option<f64>,
    /// When the table last wrote or confirmed the record's address.
    confirmed_at: f64,
    locked_by: Option<usize>,
    window_start: f64,
    window_count: u32,
    error_quiet_until: f64,
}

struct Run {
    router: usize,
    periodic: bool,
    deadline: f64,
    backoffs: u32,
    attempts: u32,
    /// The request the run waits for (its sequence number).
    waiting: Option<u64>,
    done: bool,
}

/// Where a set's backend flow is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Pre,
    Lock {
        waited: f64,
        pause: f64,
    },
    Call {
        change: bool,
        deadline: f64,
        ceiling: f64,
    },
    Post {
        changed: bool,
    },
    Reply(Answer),
}

struct Flow {
    run: usize,
    seq: u64,
    router: usize,
    req: Req,
    phase: Phase,
}

struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: f64,
}

impl Bucket {
    fn take(&mut self, now: f64) -> bool {
        self.tokens = (self.tokens + (now - self.last) * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The account-wide slot schedule (GCRA), as `dyn53_backend::limiter` keeps it in the table.
struct Slots {
    rule: dyn53_backend::limiter::SlotLimit,
    tat: f64,
}

struct Sim {
    p: Params,
    rng: fastrand::Rng,
    now: f64,
    order: u64,
    queue: BinaryHeap<Queued>,
    routers: Vec<Router>,
    runs: Vec<Run>,
    flows: Vec<Flow>,
    busy: usize,
    waiting_line: VecDeque<usize>,
    bucket: Bucket,
    slots: Slots,
    next_seq: u64,
    ok_per_s: Vec<u64>,
    sent_per_s: Vec<u64>,
    r: Report,
}

/// Runs the simulation.
pub fn run(p: Params) -> Report {
    let mut sim = Sim {
        rng: fastrand::Rng::with_seed(p.seed),
        now: 0.0,
        order: 0,
        queue: BinaryHeap::new(),
        routers: (0..p.hosts)
            .map(|_| Router {
                correct_at: None,
                confirmed_at: f64::NEG_INFINITY,
                locked_by: None,
                window_start: f64::NEG_INFINITY,
                window_count: 0,
                error_quiet_until: f64::NEG_INFINITY,
            })
            .collect(),
        runs: Vec::new(),
        flows: Vec::new(),
        busy: 0,
        waiting_line: VecDeque::new(),
        bucket: Bucket {
            rate: p.route53_rate,
            burst: p.route53_burst,
            tokens: p.route53_burst,
            last: 0.0,
        },
        slots: Slots {
            rule: dyn53_backend::limiter::SlotLimit {
                rate: p.code.limiter_rate,
                burst: p.code.limiter_burst as u32,
            },
            tat: f64::NEG_INFINITY,
        },
        next_seq: 0,
        ok_per_s: Vec::new(),
        sent_per_s: Vec::new(),
        r: Report::default(),
        p,
    };
    sim.start();
    sim.finish()
}

impl Sim {
    fn at(&mut self, delay: f64, ev: Ev) {
        self.order += 1;
        self.queue.push(Queued {
            at: self.now + delay.max(0.0),
            order: self.order,
            ev,
        });
    }

    fn start(&mut self) {
        if self.p.steady {
            return self.start_steady();
        }
        for router in 0..self.p.hosts {
            let up = self.rng.f64() * self.p.wan_up_spread;
            if self.p.hotplug {
                self.at(
                    up,
                    Ev::RunStart {
                        router,
                        periodic: false,
                    },
                );
            }
            if self.p.periodic {
                // During the outage the loop's runs failed, so it cycles every failed run
                // (the run's deadline) plus the short retry interval; its phase is random.
                let cycle = self.p.code.run_deadline + self.p.code.retry_after_failure;
                let phase = if self.p.periodic_random_phase {
                    self.rng.f64() * cycle
                } else {
                    0.0
                };
                self.at(
                    up + phase,
                    Ev::RunStart {
                        router,
                        periodic: true,
                    },
                );
            }
        }
        let correct_goal = self.p.hosts;
        while let Some(q) = self.queue.pop() {
            if q.at > self.p.horizon {
                break;
            }
            self.now = q.at;
            self.handle(q.ev);
            if self.r.correct == correct_goal {
                break;
            }
        }
    }

    /// Steady state: records right, confirmed at random times within the confirm window,
    /// each router's loop at a random point of its interval.
    fn start_steady(&mut self) {
        for router in 0..self.p.hosts {
            let r = &mut self.routers[router];
            r.correct_at = Some(0.0);
            r.confirmed_at = -self.rng.f64() * self.p.record_confirm;
            let first = self.rng.f64() * self.p.code.check_interval;
            self.at(
                first,
                Ev::RunStart {
                    router,
                    periodic: true,
                },
            );
        }
        self.r.correct = self.p.hosts;
        while let Some(q) = self.queue.pop() {
            if q.at > self.p.horizon {
                break;
            }
            self.now = q.at;
            self.handle(q.ev);
        }
    }

    fn finish(mut self) -> Report {
        let mut times: Vec<f64> = self.routers.iter().filter_map(|r| r.correct_at).collect();
        times.sort_by(f64::total_cmp);
        let pick = |q: f64| {
            if times.is_empty() {
                return 0.0;
            }
            let i = ((q * self.p.hosts as f64).ceil() as usize).clamp(1, self.p.hosts) - 1;
            times.get(i).copied().unwrap_or(f64::INFINITY)
        };
        self.r.correct_p50 = pick(0.5);
        self.r.correct_p90 = pick(0.9);
        self.r.correct_p99 = pick(0.99);
        if self.r.correct == self.p.hosts && !self.p.steady {
            self.r.all_correct = times.last().copied();
        }
        self.r.route53_peak_ok = self.ok_per_s.iter().copied().max().unwrap_or(0);
        let first = self.ok_per_s.iter().position(|&c| c > 0).unwrap_or(0);
        self.r.route53_span = (self.ok_per_s.len() - first) as f64;
        self.r.route53_peak_sent = self.sent_per_s.iter().copied().max().unwrap_or(0);
        self.r.route53_peak_10s = self
            .ok_per_s
            .windows(10)
            .map(|w| w.iter().sum::<u64>() as f64 / 10.0)
            .fold(0.0, f64::max);
        self.r
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::RunStart { router, periodic } => self.run_start(router, periodic),
            Ev::Attempt { run } => self.attempt(run),
            Ev::Arrive { run, seq, req } => self.arrive(run, seq, req),
            Ev::Step { flow } => self.step(flow),
            Ev::Answered {
                run,
                seq,
                req,
                answer,
            } => self.answered(run, seq, req, answer),
            Ev::Timeout { run, seq } => {
                if self.runs[run].waiting == Some(seq) {
                    self.r.client_timeouts += 1;
                    self.failed_attempt(run);
                }
            }
        }
    }

    // ------------------------------------------------------------------ router / client

    fn run_start(&mut self, router: usize, periodic: bool) {
        self.r.runs += 1;
        let run = self.runs.len();
        self.runs.push(Run {
            router,
            periodic,
            deadline: self.now + self.p.code.run_deadline,
            backoffs: 0,
            attempts: 0,
            waiting: None,
            done: false,
        });
        self.attempt(run);
    }

    fn send(&mut self, run: usize, req: Req) {
        let remaining = self.runs[run].deadline - self.now;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.runs[run].waiting = Some(seq);
        let half = self.p.net_latency / 2.0;
        self.at(half, Ev::Arrive { run, seq, req });
        let budget = remaining.min(self.p.code.attempt_max);
        self.at(budget, Ev::Timeout { run, seq });
    }

    fn attempt(&mut self, run: usize) {
        if self.runs[run].deadline - self.now < 0.1 {
            return self.end_run(run, false);
        }
        self.runs[run].attempts += 1;
        self.send(run, Req::Get);
    }

    fn answered(&mut self, run: usize, seq: u64, req: Req, answer: Answer) {
        if self.runs[run].waiting != Some(seq) || self.runs[run].done {
            return; // the client gave up on it already
        }
        self.runs[run].waiting = None;
        match (req, answer) {
            (Req::Get, Answer::Ok) => self.send(run, Req::Set),
            (Req::Set, Answer::Ok) => self.end_run(run, true),
            _ => self.failed_attempt(run),
        }
    }

    /// The client's retry rule (dyn53::backoff::retry): pause by the backoff schedule, cut to
    /// leave one more attempt before the deadline, or give up.
    fn failed_attempt(&mut self, run: usize) {
        self.runs[run].waiting = None;
        let room = (self.runs[run].deadline - self.now - self.p.code.attempt_min).max(0.0);
        if room <= 0.0 {
            return self.end_run(run, false);
        }
        self.runs[run].backoffs += 1;
        let n = self.runs[run].backoffs;
        let pause = if self.p.client_jitter {
            secs(dyn53::backoff::backoff_with(n, self.rng.u32(..)))
        } else {
            secs(dyn53::backoff::backoff(n))
        };
        let pause = pause.min(room);
        self.at(pause, Ev::Attempt { run });
    }

    fn end_run(&mut self, run: usize, ok: bool) {
        if self.runs[run].done {
            return;
        }
        self.runs[run].done = true;
        if !ok {
            self.r.runs_failed += 1;
        }
        let (router, periodic) = (self.runs[run].router, self.runs[run].periodic);
        // The loop goes on after the record is right: its later runs read the record (or
        // not, with record_confirm) and so compete with the herd for Route 53.
        if periodic {
            let next = if ok {
                self.p.code.check_interval
            } else {
                self.p.code.retry_after_failure
            };
            self.at(next, Ev::RunStart { router, periodic });
        }
    }

    // ------------------------------------------------------------------ front

    fn arrive(&mut self, run: usize, seq: u64, req: Req) {
        let router = self.runs[run].router;
        let flow = self.flows.len();
        self.flows.push(Flow {
            run,
            seq,
            router,
            req,
            phase: Phase::Pre,
        });
        match self.p.front {
            Front::Lambda(n) if self.busy >= n => {
                self.r.front_429 += 1;
                self.flows[flow].phase = Phase::Reply(Answer::FrontBusy);
                self.reply(flow, Answer::FrontBusy, false);
            }
            Front::Queue(n) if self.busy >= n => self.waiting_line.push_back(flow),
            _ => self.begin(flow),
        }
    }

    fn begin(&mut self, flow: usize) {
        self.busy += 1;
        self.r.invocations += 1;
        match self.flows[flow].req {
            Req::Get => {
                self.flows[flow].phase = Phase::Reply(Answer::Ok);
                let d = self.p.get_latency;
                self.at(d, Ev::Step { flow });
            }
            Req::Set => {
                // load_host, spend_nonce, take_rate.
                let d = 3.0 * self.p.dynamo_latency;
                self.at(d, Ev::Step { flow });
            }
        }
    }

    /// Sends the answer and (if the flow held one) frees the front slot.
    fn reply(&mut self, flow: usize, answer: Answer, held_slot: bool) {
        let f = &self.flows[flow];
        let (run, seq, req) = (f.run, f.seq, f.req);
        let half = self.p.net_latency / 2.0;
        self.at(
            half,
            Ev::Answered {
                run,
                seq,
                req,
                answer,
            },
        );
        if held_slot {
            self.busy -= 1;
            // A request whose client gave up while it waited is dropped, never started.
            while let Some(next) = self.waiting_line.pop_front() {
                let f = &self.flows[next];
                if self.runs[f.run].waiting == Some(f.seq) {
                    self.begin(next);
                    break;
                }
            }
        }
    }

    // ------------------------------------------------------------------ backend flow

    fn step(&mut self, flow: usize) {
        let router = self.flows[flow].router;
        match self.flows[flow].phase {
            Phase::Reply(a) => self.reply(flow, a, true),
            Phase::Pre => {
                // Route 53 booked beyond the budget: 503 before the set counts.
                if self.p.limiter {
                    let rule = self.slots.rule;
                    let budget = self.p.code.dns_budget;
                    if rule
                        .next_slot_secs(self.slots.tat, self.now, budget)
                        .is_none()
                    {
                        self.r.answers_503 += 1;
                        self.flows[flow].phase = Phase::Reply(Answer::Unavailable);
                        let d = self.p.dynamo_latency;
                        return self.at(d, Ev::Step { flow });
                    }
                }
                // The per-host set limit (store::take_rate's window rule).
                let (max, window) = self.p.code.set_limit;
                let r = &mut self.routers[router];
                if self.now >= r.window_start + window {
                    r.window_start = self.now;
                    r.window_count = 0;
                }
                if r.window_count >= max {
                    self.r.rate_limited += 1;
                    return self.reply(flow, Answer::RateLimited, true);
                }
                r.window_count += 1;
                self.flows[flow].phase = Phase::Lock {
                    waited: 0.0,
                    pause: 0.05,
                };
                let d = self.p.dynamo_latency;
                self.at(d, Ev::Step { flow });
            }
            Phase::Lock { waited, pause } => {
                if self.routers[router].locked_by.is_none() {
                    self.routers[router].locked_by = Some(flow);
                    if self.routers[router].correct_at.is_some() {
                        // Already right: confirmed recently enough, or read to make sure.
                        let confirm = self.p.record_confirm;
                        if confirm > 0.0 && self.now - self.routers[router].confirmed_at < confirm {
                            self.flows[flow].phase = Phase::Post { changed: false };
                            let d = self.p.dynamo_latency;
                            return self.at(d, Ev::Step { flow });
                        }
                        return self.call_route53(flow, false);
                    }
                    if self.p.records_known {
                        // The table says the record holds another address: straight to
                        // the change (change limit: one more table call).
                        self.flows[flow].phase = Phase::Call {
                            change: true,
                            deadline: f64::NAN,
                            ceiling: 0.0,
                        };
                        let d = self.p.dynamo_latency;
                        return self.at(d, Ev::Step { flow });
                    }
                    return self.call_route53(flow, false);
                }
                if waited + pause > self.p.code.lock_wait {
                    self.r.answers_503 += 1;
                    return self.reply(flow, Answer::Unavailable, true);
                }
                self.flows[flow].phase = Phase::Lock {
                    waited: waited + pause + self.p.dynamo_latency,
                    pause: (pause * 2.0).min(0.4),
                };
                self.at(pause + self.p.dynamo_latency, Ev::Step { flow });
            }
            Phase::Call {
                change,
                deadline,
                ceiling,
            } => {
                if deadline.is_nan() {
                    // First attempt of this call.
                    return self.call_route53(flow, change);
                }
                self.attempt_route53(flow, change, deadline, ceiling);
            }
            Phase::Post { changed } => {
                self.routers[router].locked_by = None;
                if changed {
                    self.flows[flow].phase = Phase::Reply(Answer::Ok);
                    let d = self.p.dynamo_latency + self.p.sns_latency;
                    return self.at(d, Ev::Step { flow });
                }
                self.flows[flow].phase = Phase::Reply(Answer::Ok);
                let d = self.p.dynamo_latency;
                self.at(d, Ev::Step { flow });
            }
        }
    }

    /// Starts a Route 53 call: with the limiter, first a slot (one table call), else at once.
    fn call_route53(&mut self, flow: usize, change: bool) {
        let deadline = self.now + self.p.code.dns_budget;
        if self.p.limiter {
            // dyn53_backend::limiter: take the next slot if it comes within the budget.
            let rule = self.slots.rule;
            let now = self.now + self.p.dynamo_latency;
            match rule.next_slot_secs(self.slots.tat, now, self.p.code.dns_budget) {
                Some((wait, tat)) => {
                    self.slots.tat = tat;
                    self.flows[flow].phase = Phase::Call {
                        change,
                        deadline,
                        ceiling: self.p.code.dns_base,
                    };
                    let d = self.p.dynamo_latency + wait;
                    return self.at(d, Ev::Step { flow });
                }
                None => {
                    return self.dns_failed(flow, self.p.dynamo_latency);
                }
            }
        }
        self.attempt_route53(flow, change, deadline, self.p.code.dns_base);
    }

    /// One attempt of a Route 53 call and what follows (backoff::retry's loop).
    fn attempt_route53(&mut self, flow: usize, change: bool, deadline: f64, ceiling: f64) {
        let second = self.now as usize;
        bump(&mut self.sent_per_s, second);
        if self.bucket.take(self.now) {
            self.r.route53_ok += 1;
            bump(&mut self.ok_per_s, second);
            let router = self.flows[flow].router;
            if !change {
                let lat = self.p.list_latency;
                if self.routers[router].correct_at.is_some() {
                    self.routers[router].confirmed_at = self.now + lat;
                    self.flows[flow].phase = Phase::Post { changed: false };
                } else {
                    self.flows[flow].phase = Phase::Call {
                        change: true,
                        deadline: f64::NAN,
                        ceiling: 0.0,
                    };
                    // The change limit's table call, after the List.
                    return self.at(lat + self.p.dynamo_latency, Ev::Step { flow });
                }
                return self.at(lat, Ev::Step { flow });
            }
            let lat = self.p.change_latency;
            self.routers[router].confirmed_at = self.now + lat;
            if self.routers[router].correct_at.is_none() {
                self.routers[router].correct_at = Some(self.now + lat);
                self.r.correct += 1;
            }
            self.r.changes += 1;
            // (The notice follows the change; counted here so the run may stop at once.)
            self.r.change_notices += 1;
            self.flows[flow].phase = Phase::Post { changed: true };
            return self.at(lat, Ev::Step { flow });
        }
        self.r.route53_throttled += 1;
        let after = self.now + self.p.throttle_latency;
        let pause = ceiling * self.rng.f64();
        if after + pause >= deadline {
            return self.dns_failed(flow, self.p.throttle_latency);
        }
        self.flows[flow].phase = Phase::Call {
            change,
            deadline,
            ceiling: (ceiling * 2.0).min(self.p.code.dns_cap),
        };
        self.at(self.p.throttle_latency + pause, Ev::Step { flow });
    }

    /// Route 53 busy past the budget: unlock, 503 (an error notice only in the old design,
    /// at most one per host per quiet period).
    fn dns_failed(&mut self, flow: usize, after: f64) {
        let router = self.flows[flow].router;
        self.r.answers_503 += 1;
        let mut d = after + self.p.dynamo_latency; // unlock
        if self.p.busy_notices && self.now >= self.routers[router].error_quiet_until {
            self.routers[router].error_quiet_until = self.now + 3600.0;
            self.r.error_notices += 1;
            d += self.p.dynamo_latency + self.p.sns_latency;
        }
        self.routers[router].locked_by = None;
        self.flows[flow].phase = Phase::Reply(Answer::Unavailable);
        self.at(d, Ev::Step { flow });
    }
}

fn bump(v: &mut Vec<u64>, i: usize) {
    if v.len() <= i {
        v.resize(i + 1, 0);
    }
    v[i] += 1;
}
