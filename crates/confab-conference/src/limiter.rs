//! Stops people guessing meeting codes: every address gets a bucket of failed joins that refills
//! slowly, and an empty bucket answers 429 with the time until the next attempt is allowed.
//! Sans-IO: the time is an argument.
//!
//! Only failures (an unknown code) take from the bucket, so a whole office behind one address
//! can join a meeting whose code it knows; once the bucket is empty every attempt is refused,
//! valid code or not, so guessing cannot go on at full speed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failed attempts an address may make in a burst.
pub const BURST: u32 = 10;
/// One more failed attempt is allowed this often (10 a minute when sustained).
pub const REFILL_EVERY: Duration = Duration::from_secs(6);
/// Buckets kept at most; past this, full ones are forgotten first.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Attempts left, in units of one attempt.
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated);
        let gained = elapsed.as_secs_f64() / REFILL_EVERY.as_secs_f64();
        self.tokens = (self.tokens + gained).min(f64::from(BURST));
        self.updated = now;
    }

    fn is_full(&self) -> bool {
        self.tokens >= f64::from(BURST)
    }
}

/// Failed-join buckets per address (an IPv6 address counts by its /64, which one host owns).
#[derive(Debug, Default)]
pub struct JoinLimiter {
    buckets: HashMap<IpAddr, Bucket>,
}

/// An address that must wait this long before it may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl JoinLimiter {
    /// Whether `address` may attempt a join now.
    pub fn check(&mut self, address: IpAddr, now: Instant) -> Result<(), RetryAfter> {
        let Some(bucket) = self.buckets.get_mut(&key(address)) else {
            return Ok(());
        };
        bucket.refill(now);
        if bucket.tokens >= 1.0 {
            return Ok(());
        }
        let missing = 1.0 - bucket.tokens;
        // Whole milliseconds first (so float dust cannot add a second), then whole seconds
        // rounded up, as Retry-After carries them.
        let wait_ms = (missing * REFILL_EVERY.as_millis() as f64).round();
        let seconds = (wait_ms / 1000.0).ceil().max(1.0);
        Err(RetryAfter(Duration::from_secs(seconds as u64)))
    }

    /// `address` tried a code that names no meeting.
    pub fn record_failure(&mut self, address: IpAddr, now: Instant) {
        if self.buckets.len() >= MAX_TRACKED {
            self.forget_full(now);
        }
        let bucket = self.buckets.entry(key(address)).or_insert(Bucket {
            tokens: f64::from(BURST),
            updated: now,
        });
        bucket.refill(now);
        bucket.tokens = (bucket.tokens - 1.0).max(0.0);
    }

    /// Drops the buckets that have refilled (they limit nothing any more).
    pub fn forget_full(&mut self, now: Instant) {
        self.buckets.retain(|_, bucket| {
            bucket.refill(now);
            !bucket.is_full()
        });
    }
}

fn key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    const GUESSER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7));
    const NEIGHBOUR: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 8));

    #[test]
    fn a_burst_of_failures_is_allowed_then_refused_with_a_retry_time() {
        let mut limiter = JoinLimiter::default();
        let now = Instant::now();
        for _ in 0..BURST {
            assert_eq!(limiter.check(GUESSER, now), Ok(()));
            limiter.record_failure(GUESSER, now);
        }
        assert_eq!(limiter.check(GUESSER, now), Err(RetryAfter(REFILL_EVERY)));
        assert_eq!(
            limiter.check(NEIGHBOUR, now),
            Ok(()),
            "others are not affected"
        );
        assert_eq!(limiter.check(GUESSER, now + REFILL_EVERY), Ok(()));
    }

    #[test]
    fn the_retry_time_counts_down_as_the_bucket_refills() {
        let mut limiter = JoinLimiter::default();
        let now = Instant::now();
        for _ in 0..BURST {
            limiter.record_failure(GUESSER, now);
        }
        let later = now + Duration::from_secs(4);
        assert_eq!(
            limiter.check(GUESSER, later),
            Err(RetryAfter(Duration::from_secs(2)))
        );
    }

    #[test]
    fn an_ipv6_host_counts_once_for_its_whole_prefix() {
        let mut limiter = JoinLimiter::default();
        let now = Instant::now();
        let first: IpAddr = "fd00:1:2:3::1".parse::<Ipv6Addr>().expect("v6").into();
        let same_host: IpAddr = "fd00:1:2:3:ffff::9".parse::<Ipv6Addr>().expect("v6").into();
        let other_net: IpAddr = "fd00:1:2:4::1".parse::<Ipv6Addr>().expect("v6").into();
        for _ in 0..BURST {
            limiter.record_failure(first, now);
        }
        assert!(limiter.check(same_host, now).is_err());
        assert_eq!(limiter.check(other_net, now), Ok(()));
    }

    #[test]
    fn refilled_buckets_are_forgotten() {
        let mut limiter = JoinLimiter::default();
        let now = Instant::now();
        limiter.record_failure(GUESSER, now);
        limiter.forget_full(now);
        assert_eq!(limiter.buckets.len(), 1);
        limiter.forget_full(now + REFILL_EVERY);
        assert!(limiter.buckets.is_empty());
    }
}
