//! When to retry after the connection to the server drops.
//!
//! The schedule mirrors LiveKit's client SDKs so Confab behaves like every other participant in a
//! room: an immediate attempt, then quadratically growing pauses (0, 0.3, 1.2, 2.7, 4.8 s), then a
//! flat 7 s until the overall deadline. Pure arithmetic: the caller owns the clock.

use std::time::Duration;

/// Pauses for the first attempts, in milliseconds: `n² × 300` for n = 0..=4.
const EARLY_DELAYS_MS: [u64; 5] = [0, 300, 1_200, 2_700, 4_800];
/// The pause for every later attempt.
const STEADY_DELAY: Duration = Duration::from_secs(7);

/// Reconnect attempts for one outage, bounded by a total time budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconnectSchedule {
    budget: Duration,
}

impl ReconnectSchedule {
    /// LiveKit's SDKs give up after about a minute of failed attempts.
    pub const DEFAULT_BUDGET: Duration = Duration::from_secs(60);

    pub fn new(budget: Duration) -> Self {
        Self { budget }
    }

    /// How long to wait before attempt `attempt` (0-based), or `None` when `elapsed` (time since
    /// the outage began) plus that pause would pass the budget: then the client reports the
    /// room as disconnected.
    pub fn delay_before(&self, attempt: u32, elapsed: Duration) -> Option<Duration> {
        let delay = usize::try_from(attempt)
            .ok()
            .and_then(|i| EARLY_DELAYS_MS.get(i))
            .map_or(STEADY_DELAY, |ms| Duration::from_millis(*ms));
        (elapsed.saturating_add(delay) <= self.budget).then_some(delay)
    }
}

impl Default for ReconnectSchedule {
    fn default() -> Self {
        Self::new(Self::DEFAULT_BUDGET)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    #[test]
    fn early_attempts_follow_livekits_quadratic_schedule() {
        let schedule = ReconnectSchedule::default();
        let delays: Vec<_> = (0..7)
            .map(|attempt| schedule.delay_before(attempt, Duration::ZERO))
            .collect();
        assert_eq!(
            delays,
            [0, 300, 1_200, 2_700, 4_800, 7_000, 7_000]
                .map(|d| Some(ms(d)))
                .to_vec()
        );
    }

    #[test]
    fn gives_up_when_the_next_pause_would_pass_the_budget() {
        let schedule = ReconnectSchedule::new(Duration::from_secs(10));
        assert_eq!(schedule.delay_before(5, ms(3_000)), Some(ms(7_000)));
        assert_eq!(schedule.delay_before(5, ms(3_001)), None);
        assert_eq!(
            schedule.delay_before(0, Duration::from_secs(10)),
            Some(ms(0))
        );
    }

    #[test]
    fn a_full_outage_makes_a_bounded_number_of_attempts() {
        let schedule = ReconnectSchedule::default();
        let mut elapsed = Duration::ZERO;
        let mut attempts = 0;
        while let Some(delay) = schedule.delay_before(attempts, elapsed) {
            elapsed += delay;
            attempts += 1;
            assert!(attempts < 100, "schedule never ends");
        }
        // 9 s of early pauses, then 7 s steps within 60 s: 5 + 7 attempts.
        assert_eq!(attempts, 12);
        assert!(elapsed <= ReconnectSchedule::DEFAULT_BUDGET);
    }

    #[test]
    fn huge_attempt_numbers_do_not_overflow() {
        let unbounded = ReconnectSchedule::new(Duration::MAX);
        assert_eq!(unbounded.delay_before(u32::MAX, ms(0)), Some(STEADY_DELAY));
        let bounded = ReconnectSchedule::new(Duration::from_secs(60));
        assert_eq!(bounded.delay_before(u32::MAX, Duration::MAX), None);
    }
}
