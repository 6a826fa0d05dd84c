//! Retrying under one total deadline.
//!
//! Right after the WAN comes up, DNS may not answer and routes may be missing for a few
//! seconds, so transient failures are retried with exponential backoff (nominally 1, 2, 4,
//! 8, 15, 15, ... s) until the deadline for the whole run (`--timeout`, default 60 s, well
//! inside Merlin's 120 s limit for ddns-start) is over.
//!
//! Each pause is drawn between half and all of its nominal length. When an ISP outage ends,
//! thousands of routers fail their first try together (the backend busy, Lambda at its
//! concurrency): with fixed pauses they would all come back in the same instant, again and
//! again; spread out, the backend serves them one after another. The draw is an argument of
//! [`backoff_with`] and [`retry_with`], so tests stay deterministic.

use crate::error::Error;
use crate::logging as log;
use std::time::{Duration, Instant};

/// Longest single request: a slow attempt still leaves time for another one.
pub const ATTEMPT_MAX: Duration = Duration::from_secs(20);
/// Not worth pausing for another attempt with less time than this left.
pub const ATTEMPT_MIN: Duration = Duration::from_millis(500);
/// Below this, no request is started at all.
const REQUEST_MIN: Duration = Duration::from_millis(100);
/// Longest pause between attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(15);
/// Fresh-nonce retries (`nonce`, `ip_mismatch`) made at once before backing off.
const QUICK_RETRIES: u32 = 2;

/// The end of the run: every request and pause must finish before it.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    end: Instant,
    total: Duration,
}

impl Deadline {
    /// A deadline `total` from now.
    pub fn after(total: Duration) -> Self {
        Deadline {
            end: Instant::now() + total,
            total,
        }
    }

    /// Time left (zero once passed).
    pub fn remaining(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }

    /// Time allowed for the next request: the rest of the run, at most `ATTEMPT_MAX`.
    pub fn attempt_budget(&self) -> Duration {
        self.remaining().min(ATTEMPT_MAX)
    }

    /// The whole run's time allowance.
    pub fn total(&self) -> Duration {
        self.total
    }

    /// A timeout error if the deadline has (nearly) passed.
    pub fn check(&self) -> Result<(), Error> {
        if self.remaining() < REQUEST_MIN {
            return Err(Error::Timeout(format!(
                "the {} s deadline for this run (--timeout) is over",
                self.total.as_secs()
            )));
        }
        Ok(())
    }
}

/// Nominal pause before retry number `n` (1-based): 1, 2, 4, 8, then 15 s.
pub fn backoff(n: u32) -> Duration {
    let secs = 1u64 << n.saturating_sub(1).min(4);
    Duration::from_secs(secs).min(BACKOFF_MAX)
}

/// The pause taken before retry `n`: [`backoff`] scaled into [1/2, 1] by the uniform
/// draw `r` (0 gives half, `u32::MAX` all of it).
pub fn backoff_with(n: u32, r: u32) -> Duration {
    let half = backoff(n) / 2;
    let extra = (half.as_nanos() * u128::from(r)) >> 32;
    half + Duration::from_nanos(extra as u64)
}

/// A uniform draw from the kernel's random source; the full pause if there is none.
fn draw() -> u32 {
    use ring::rand::SecureRandom as _;
    let mut b = [0u8; 4];
    match ring::rand::SystemRandom::new().fill(&mut b) {
        Ok(()) => u32::from_le_bytes(b),
        Err(_) => u32::MAX,
    }
}

/// Runs `attempt` until it succeeds, fails permanently, or the deadline leaves no room.
///
/// `what` names the work in log lines (e.g. `home.example.com A`).
pub fn retry<T>(
    deadline: &Deadline,
    what: &str,
    attempt: impl FnMut() -> Result<T, Error>,
) -> Result<T, Error> {
    retry_with(deadline, what, draw, attempt)
}

/// [`retry`] with the pauses' random draws taken from `draw` (tests pass fixed values).
pub fn retry_with<T>(
    deadline: &Deadline,
    what: &str,
    mut draw: impl FnMut() -> u32,
    mut attempt: impl FnMut() -> Result<T, Error>,
) -> Result<T, Error> {
    let (mut tries, mut quick, mut backoffs) = (0u32, 0u32, 0u32);
    loop {
        tries += 1;
        let err = match attempt() {
            Ok(v) => return Ok(v),
            Err(e) if !e.retry_in_run() => return Err(e),
            Err(e) => e,
        };
        let pause = if err.wants_fresh_get() && quick < QUICK_RETRIES {
            quick += 1;
            Duration::ZERO
        } else {
            backoffs += 1;
            backoff_with(backoffs, draw())
        };
        // Shorten the last pause so that one more attempt still fits before the deadline.
        let room = deadline.remaining().saturating_sub(ATTEMPT_MIN);
        let pause = pause.min(room);
        if room.is_zero() {
            return Err(err.with_note(&format!(
                "gave up after {tries} attempt(s): the {} s deadline (--timeout) is over",
                deadline.total().as_secs()
            )));
        }
        log::info!("{what}: {err}; retry {tries} in {}", seconds(pause));
        std::thread::sleep(pause);
    }
}

/// `1.5 s`, without float formatting or u128 arithmetic (`as_millis`), each of which would
/// add kilobytes to the router binary.
pub fn seconds(d: Duration) -> String {
    let millis = d
        .as_secs()
        .saturating_mul(1000)
        .saturating_add(u64::from(d.subsec_millis()));
    let tenths = millis.saturating_add(50) / 100;
    format!("{}.{} s", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ErrorCode;

    #[test]
    fn seconds_are_shown_with_one_decimal() {
        assert_eq!(seconds(Duration::from_millis(1460)), "1.5 s");
        assert_eq!(seconds(Duration::ZERO), "0.0 s");
        assert_eq!(seconds(Duration::from_secs(15)), "15.0 s");
    }

    #[test]
    fn backoff_doubles_then_caps() {
        let secs: Vec<u64> = (1..=7).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 15, 15, 15]);
    }

    #[test]
    fn pauses_are_spread_between_half_and_all() {
        assert_eq!(backoff_with(1, 0), Duration::from_millis(500));
        assert_eq!(backoff_with(5, 0), Duration::from_millis(7500));
        let top = backoff_with(4, u32::MAX);
        assert!(top < Duration::from_secs(8) && top > Duration::from_millis(7999));
        assert_eq!(backoff_with(2, 1 << 31), Duration::from_millis(1500));
        // Nominal schedule unchanged, and the draw never lengthens a pause.
        for n in 1..=7 {
            for r in [0, 12_345, 1 << 31, u32::MAX] {
                let p = backoff_with(n, r);
                assert!(p >= backoff(n) / 2 && p <= backoff(n), "{n} {r} {p:?}");
            }
        }
    }

    #[test]
    fn permanent_errors_are_not_retried() {
        let d = Deadline::after(Duration::from_secs(30));
        let mut calls = 0;
        let r: Result<(), _> = retry(&d, "t", || {
            calls += 1;
            Err(Error::Config("bad".into()))
        });
        assert_eq!(r, Err(Error::Config("bad".into())));
        assert_eq!(calls, 1);
    }

    #[test]
    fn stale_nonce_is_retried_at_once() {
        let d = Deadline::after(Duration::from_secs(30));
        let mut calls = 0;
        let r = retry(&d, "t", || {
            calls += 1;
            if calls < 3 {
                Err(Error::Backend {
                    code: ErrorCode::Nonce,
                    message: "stale".into(),
                })
            } else {
                Ok(calls)
            }
        });
        assert_eq!(r, Ok(3));
    }

    #[test]
    fn gives_up_when_the_deadline_leaves_no_room() {
        let d = Deadline::after(Duration::from_millis(1200));
        let mut calls = 0;
        // The longest draw: the first pause (1 s) is cut to the room left (0.7 s).
        let r: Result<(), _> = retry_with(
            &d,
            "t",
            || u32::MAX,
            || {
                calls += 1;
                Err(Error::Network("refused".into()))
            },
        );
        let e = r.unwrap_err();
        assert_eq!(e.exit_code(), 1);
        // One attempt at once, one more in the room left before the deadline.
        assert!(e.to_string().contains("gave up after 2 attempt"), "{e}");
        assert_eq!(calls, 2);
    }
}
