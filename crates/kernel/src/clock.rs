//! An injectable clock. Business code asks a [`Clock`] for "now" so tests can pin or move time.

use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};

/// The zone a member gets when none (or an unknown one) is given: the reference served Korea only, and its
/// clients and events assume it.
pub const DEFAULT_ZONE: &str = "Asia/Seoul";

/// Truncates to whole microseconds, the precision the databases keep (`DATETIME(6)`, `timestamptz`), towards
/// the past like Java's `Instant.truncatedTo(MICROS)`. Rules that compare a clock's instant with stored ones
/// compare at this precision.
pub fn truncate_to_micros(at: Timestamp) -> Timestamp {
    let nanos = at.as_nanosecond();
    Timestamp::from_nanosecond(nanos - nanos.rem_euclid(1_000)).unwrap_or(at)
}

/// A duration in whole microseconds (the unit the databases keep instants in), saturating at `i64::MAX`.
pub fn micros(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// `at` plus `d`, in whole microseconds, saturating at the latest instant there is.
pub fn later(at: Timestamp, d: std::time::Duration) -> Timestamp {
    Timestamp::from_microsecond(at.as_microsecond().saturating_add(micros(d)))
        .unwrap_or(Timestamp::MAX)
}

/// `at` minus `d`, in whole microseconds, saturating at the earliest instant there is.
pub fn earlier(at: Timestamp, d: std::time::Duration) -> Timestamp {
    Timestamp::from_microsecond(at.as_microsecond().saturating_sub(micros(d)))
        .unwrap_or(Timestamp::MIN)
}

/// Source of the current instant.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// A clock shared between components.
pub type SharedClock = Arc<dyn Clock>;

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

impl SystemClock {
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock)
    }
}

/// A clock that only moves when told to (tests, simulations).
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Arc<Self> {
        Arc::new(Self {
            now: Mutex::new(start),
        })
    }

    pub fn set(&self, at: Timestamp) {
        *self.lock() = at;
    }

    pub fn advance(&self, by: SignedDuration) {
        let mut now = self.lock();
        *now = now.saturating_add(by).unwrap_or(*now);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Timestamp> {
        // A poisoned clock still holds a valid instant; keep going.
        self.now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_counts_whole_microseconds_and_saturates() {
        let now = Timestamp::from_nanosecond(1_000_000_999_999_999).unwrap();
        let at = later(now, std::time::Duration::from_nanos(2_999));
        assert_eq!(at.as_microsecond(), now.as_microsecond() + 2);
        assert_eq!(later(now, std::time::Duration::MAX), Timestamp::MAX);
        assert_eq!(earlier(now, std::time::Duration::MAX), Timestamp::MIN);
        assert_eq!(micros(std::time::Duration::MAX), i64::MAX);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start: Timestamp = "2026-02-01T00:00:00Z".parse().unwrap();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(SignedDuration::from_secs(90));
        assert_eq!(clock.now().to_string(), "2026-02-01T00:01:30Z");
        clock.set(start);
        assert_eq!(clock.now(), start);
    }
}
