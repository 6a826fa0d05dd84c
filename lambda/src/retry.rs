//! Retries with exponential backoff and full jitter, inside a fixed time budget, so a
//! throttled Route 53 call gives up (retryably) well before the Lambda timeout.

use std::future::Future;
use std::time::{Duration, Instant};

/// Backoff settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Total time allowed for all attempts and pauses.
    pub budget: Duration,
    /// First pause (upper bound before jitter).
    pub base: Duration,
    /// Longest pause.
    pub cap: Duration,
    /// Most attempts, whatever the budget still allows.
    pub max_attempts: u32,
}

impl Backoff {
    /// A budget with the default 100 ms base and 2 s cap, attempts bounded by it alone.
    pub fn with_budget(budget: Duration) -> Self {
        Backoff {
            budget,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
            max_attempts: u32::MAX,
        }
    }
}

/// Whether a failed attempt is worth repeating.
pub trait Transient {
    /// True for throttling and transient failures.
    fn is_transient(&self) -> bool;
}

/// Runs `op` until it succeeds, fails permanently, has had `max_attempts`, or the budget
/// would be exceeded by the next pause; returns the last result and the attempts made.
pub async fn retry<T, E, F, Fut>(backoff: Backoff, mut op: F) -> (Result<T, E>, u32)
where
    E: Transient,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + backoff.budget;
    let mut ceiling = backoff.base;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let result = op().await;
        match &result {
            Err(e) if e.is_transient() && attempts < backoff.max_attempts => {}
            _ => return (result, attempts),
        }
        // Full jitter spreads retries of many Lambda instances hitting one account limit.
        let pause = ceiling.mul_f64(fastrand::f64());
        if Instant::now() + pause >= deadline {
            return (result, attempts);
        }
        tokio::time::sleep(pause).await;
        ceiling = (ceiling * 2).min(backoff.cap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum E {
        Busy,
        Fatal,
    }

    impl Transient for E {
        fn is_transient(&self) -> bool {
            *self == E::Busy
        }
    }

    fn fast(budget_ms: u64) -> Backoff {
        Backoff {
            budget: Duration::from_millis(budget_ms),
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
            max_attempts: u32::MAX,
        }
    }

    #[tokio::test]
    async fn retries_transient_until_success() {
        let mut n = 0;
        let (r, attempts) = retry(fast(10_000), || {
            n += 1;
            let busy = n < 4;
            async move {
                if busy {
                    Err(E::Busy)
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(r, Ok(4));
        assert_eq!(attempts, 4);
    }

    #[tokio::test]
    async fn stops_on_permanent_and_at_budget() {
        let (r, attempts) = retry(fast(10_000), || async { Err::<(), _>(E::Fatal) }).await;
        assert_eq!((r, attempts), (Err(E::Fatal), 1));
        let (r, attempts) = retry(fast(0), || async { Err::<(), _>(E::Busy) }).await;
        assert_eq!((r, attempts), (Err(E::Busy), 1));
        let three = Backoff {
            max_attempts: 3,
            ..fast(10_000)
        };
        let (r, attempts) = retry(three, || async { Err::<(), _>(E::Busy) }).await;
        assert_eq!((r, attempts), (Err(E::Busy), 3));
    }
}
