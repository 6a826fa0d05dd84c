//! Account-wide pacing of Route 53 calls. Route 53 allows an account 10 requests/s (token
//! bucket, burst 50); when a herd of routers updates at once (an ISP outage ends), every
//! Lambda instance calling as soon as it can would be throttled again and again, sleeping
//! and retrying into the same wall. Instead each call first books the next free slot of one
//! shared schedule in the table (GCRA: a "theoretical arrival time" that moves on by
//! 1/rate per call) and waits for it; when the schedule is booked further ahead than the
//! call's budget, the request gets a quick retryable 503 without touching Route 53.

use crate::store::StoreError;
use crate::table::{conditional, n, number, s, Table, PK};
use aws_sdk_dynamodb::types::ReturnValue;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use crate::table::SLOTS_PK;
/// Default calls per second: below the account's 10, leaving room for the owner's console
/// and other tools.
pub const DEFAULT_RATE: f64 = 8.0;
/// Default burst: calls that may go at once after a quiet spell (the account allows 50).
pub const DEFAULT_BURST: u32 = 40;

/// The pacing rule: `rate` calls per second, up to `burst` at once after a quiet spell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlotLimit {
    /// Calls per second.
    pub rate: f64,
    /// Calls allowed at once.
    pub burst: u32,
}

impl Default for SlotLimit {
    fn default() -> Self {
        SlotLimit {
            rate: DEFAULT_RATE,
            burst: DEFAULT_BURST,
        }
    }
}

/// A booked slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// How long to wait before calling, milliseconds.
    pub wait_ms: u64,
    /// The schedule's new theoretical arrival time, Unix milliseconds.
    pub tat_ms: u64,
}

impl SlotLimit {
    /// Milliseconds between two calls.
    pub fn interval_ms(&self) -> u64 {
        (1000.0 / self.rate).ceil().max(1.0) as u64
    }

    /// How far ahead of now the schedule may run before a call must wait, milliseconds.
    pub fn tolerance_ms(&self) -> u64 {
        u64::from(self.burst.saturating_sub(1)) * self.interval_ms()
    }

    /// The rule: with the schedule at `tat_ms` (None: never used), a call at `now_ms` gets
    /// the slot at max(tat, now), may go `tolerance` before it, and moves the schedule on by
    /// one interval; None if it would have to wait longer than `budget_ms`.
    pub fn next_slot(&self, tat_ms: Option<u64>, now_ms: u64, budget_ms: u64) -> Option<Slot> {
        let slot = tat_ms.unwrap_or(0).max(now_ms);
        let wait_ms = slot.saturating_sub(self.tolerance_ms() + now_ms);
        (wait_ms <= budget_ms).then(|| Slot {
            wait_ms,
            tat_ms: slot + self.interval_ms(),
        })
    }

    /// The same rule in seconds (for models and reports).
    pub fn next_slot_secs(&self, tat: f64, now: f64, budget: f64) -> Option<(f64, f64)> {
        let ms = |s: f64| (s.max(0.0) * 1000.0).round() as u64;
        let tat = (tat.is_finite() && tat > 0.0).then(|| ms(tat));
        self.next_slot(tat, ms(now), ms(budget))
            .map(|s| (s.wait_ms as f64 / 1000.0, s.tat_ms as f64 / 1000.0))
    }
}

/// The shared schedule, kept in the backend's table.
#[derive(Clone, Debug)]
pub struct Limiter {
    table: Table,
    limit: SlotLimit,
    /// The schedule's time as this instance last saw it (Unix ms, 0: not yet): which of the
    /// two booking forms to try first.
    seen_tat: Arc<AtomicU64>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Limiter {
    /// The schedule in `table`, paced by `limit`.
    pub fn new(table: Table, limit: SlotLimit) -> Self {
        Limiter {
            table,
            limit,
            seen_tat: Arc::default(),
        }
    }

    /// The pacing rule.
    pub fn limit(&self) -> SlotLimit {
        self.limit
    }

    /// Books a slot within `budget`: Some(wait) to wait before calling, None if the schedule
    /// is booked beyond the budget (nothing booked then).
    pub async fn book(&self, budget: Duration) -> Result<Option<Duration>, StoreError> {
        let budget_ms = budget.as_millis() as u64;
        let tolerance = self.limit.tolerance_ms();
        // Each step is one conditional write, so concurrent instances never share a slot;
        // a lost race is simply tried again (often enough that a crowd of callers booking
        // at once is not mistaken for a schedule booked beyond the budget).
        for _ in 0..16 {
            let now = now_ms();
            // The form the schedule last called for goes first: idle for a lone change
            // after a quiet spell (one write), busy in a herd. A wrong guess costs one write.
            let wait = if self.seen_tat.load(Relaxed) < now {
                match self.book_idle(now).await? {
                    Some(w) => Some(w),
                    None => self.book_busy(now, budget_ms).await?,
                }
            } else {
                match self.book_busy(now, budget_ms).await? {
                    Some(w) => Some(w),
                    None => self.book_idle(now).await?,
                }
            };
            if wait.is_some() {
                return Ok(wait);
            }
            // Neither: booked beyond the budget, unless another instance just moved it.
            let tat = self.tat().await?;
            self.seen_tat.store(tat.unwrap_or(0), Relaxed);
            if tat.is_some_and(|t| t > now + tolerance + budget_ms) {
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// Busy schedule (tat >= now): moves it on by one interval if it stays within the
    /// budget; the wait for the slot booked, or None.
    async fn book_busy(&self, now: u64, budget_ms: u64) -> Result<Option<Duration>, StoreError> {
        let interval = self.limit.interval_ms();
        let busy = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .key(PK, s(SLOTS_PK))
            .update_expression("SET #t = #t + :i")
            .condition_expression("#t >= :now AND #t <= :last")
            .expression_attribute_names("#t", "tat")
            .expression_attribute_values(":i", n(interval))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":last", n(now + self.limit.tolerance_ms() + budget_ms))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        let Some(out) = conditional(busy)? else {
            return Ok(None);
        };
        let tat = out
            .attributes()
            .and_then(|a| number(a, "tat"))
            .ok_or_else(|| StoreError::BadItem(format!("{SLOTS_PK}: no tat")))?;
        self.seen_tat.store(tat, Relaxed);
        let slot = self.limit.next_slot(Some(tat - interval), now, u64::MAX);
        Ok(Some(Duration::from_millis(slot.map_or(0, |s| s.wait_ms))))
    }

    /// Idle schedule (tat in the past, or none yet): this call goes now (Some(0)), or None.
    async fn book_idle(&self, now: u64) -> Result<Option<Duration>, StoreError> {
        let next = now + self.limit.interval_ms();
        let idle = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .key(PK, s(SLOTS_PK))
            .update_expression("SET #t = :next")
            .condition_expression("attribute_not_exists(#t) OR #t < :now")
            .expression_attribute_names("#t", "tat")
            .expression_attribute_values(":next", n(next))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        if conditional(idle)?.is_none() {
            return Ok(None);
        }
        self.seen_tat.store(next, Relaxed);
        Ok(Some(Duration::ZERO))
    }

    async fn tat(&self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .table
            .get(SLOTS_PK)
            .await?
            .and_then(|i| number(&i, "tat")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paces_at_the_rate_after_the_burst() {
        let l = SlotLimit {
            rate: 10.0,
            burst: 3,
        };
        assert_eq!((l.interval_ms(), l.tolerance_ms()), (100, 200));
        // A quiet schedule: three calls go at once, then one per 100 ms.
        let mut tat = None;
        let mut waits = Vec::new();
        for _ in 0..6 {
            let s = l.next_slot(tat, 1_000_000, 10_000).unwrap();
            waits.push(s.wait_ms);
            tat = Some(s.tat_ms);
        }
        assert_eq!(waits, [0, 0, 0, 100, 200, 300]);
        // Beyond the budget nothing is booked.
        assert_eq!(l.next_slot(tat, 1_000_000, 399), None);
        assert!(l.next_slot(tat, 1_000_000, 400).is_some());
        // After a quiet spell the schedule starts from now again.
        let s = l.next_slot(tat, 2_000_000, 0).unwrap();
        assert_eq!(
            s,
            Slot {
                wait_ms: 0,
                tat_ms: 2_000_100
            }
        );
        // Seconds form, for models.
        assert_eq!(
            l.next_slot_secs(f64::NEG_INFINITY, 5.0, 1.0),
            Some((0.0, 5.1))
        );
    }
}
