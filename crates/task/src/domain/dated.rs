//! When a run operation happens: the server's clock, or the moment the client says the member pressed the
//! button — within a window (ADR 0004, "Dated changes"). A client that was offline queues start / pause /
//! complete with the moment they were pressed and sends them when it is back; the elapsed time is then computed
//! from those moments, not from when they arrived.
//!
//! The window: not later than the server's clock (up to [`CLOCK_SKEW`] ahead is taken as "now"), not earlier
//! than the schedule's previous change, and at most [`MAX_AGE`] old.

use jiff::{SignedDuration, Timestamp};
use thiserror::Error;

use super::time::truncate_to_micros;

/// How far ahead of the server's clock a client's time may be and still count (as now).
pub const CLOCK_SKEW: SignedDuration = SignedDuration::from_mins(2);
/// How old a dated change may be.
pub const MAX_AGE: SignedDuration = SignedDuration::from_hours(24);

/// A client's time outside the window (400, field `time`). Each names the window.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DatedError {
    #[error(
        "time: {asked} is later than the server's clock ({now}); a change may be dated from {earliest} to now (2 minutes of clock difference allowed)"
    )]
    Future {
        asked: Timestamp,
        now: Timestamp,
        earliest: Timestamp,
    },
    #[error(
        "time: {asked} is before this schedule's previous change ({previous}); a change may be dated from {previous} to now ({now})"
    )]
    BeforePrevious {
        asked: Timestamp,
        previous: Timestamp,
        now: Timestamp,
    },
    #[error(
        "time: {asked} is more than 24 hours ago; a change may be dated from {earliest} to now ({now})"
    )]
    TooOld {
        asked: Timestamp,
        earliest: Timestamp,
        now: Timestamp,
    },
}

impl DatedError {
    pub const fn class(&self) -> super::ErrorClass {
        super::ErrorClass::BadRequest
    }
}

/// When an operation asked at `asked` (`None`: not said) happens, given the server's `now` and the schedule's
/// previous change. Microsecond precision, as every instant a run keeps.
pub fn happened_at(
    asked: Option<Timestamp>,
    now: Timestamp,
    previous: Option<Timestamp>,
) -> Result<Timestamp, DatedError> {
    let now = truncate_to_micros(now);
    let Some(asked) = asked.map(truncate_to_micros) else {
        return Ok(now);
    };
    let oldest = now - MAX_AGE;
    let earliest = previous.map_or(oldest, |p| p.max(oldest));
    if asked > now + CLOCK_SKEW {
        return Err(DatedError::Future {
            asked,
            now,
            earliest,
        });
    }
    let asked = asked.min(now);
    if let Some(previous) = previous
        && asked < previous
    {
        return Err(DatedError::BeforePrevious {
            asked,
            previous,
            now,
        });
    }
    if asked < oldest {
        return Err(DatedError::TooOld {
            asked,
            earliest,
            now,
        });
    }
    Ok(asked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn without_a_time_it_is_now() {
        let now = t("2026-02-01T10:00:00Z");
        assert_eq!(
            happened_at(None, now, Some(t("2026-02-01T11:00:00Z"))),
            Ok(now)
        );
    }

    #[test]
    fn a_time_inside_the_window_is_taken() {
        let now = t("2026-02-02T10:00:00Z");
        let previous = Some(t("2026-02-02T08:00:00Z"));
        for asked in [
            "2026-02-02T08:00:00Z",
            "2026-02-02T09:59:59.5Z",
            "2026-02-02T10:00:00Z",
        ] {
            assert_eq!(
                happened_at(Some(t(asked)), now, previous),
                Ok(t(asked)),
                "{asked}"
            );
        }
        // Never changed: back to 24 hours.
        let day_ago = t("2026-02-01T10:00:00Z");
        assert_eq!(happened_at(Some(day_ago), now, None), Ok(day_ago));
        // A little ahead (clock difference) is now.
        let ahead = t("2026-02-02T10:01:30Z");
        assert_eq!(happened_at(Some(ahead), now, previous), Ok(now));
    }

    #[test]
    fn outside_the_window_it_is_refused_naming_the_window() {
        let now = t("2026-02-02T10:00:00Z");
        let previous = Some(t("2026-02-02T08:00:00Z"));
        let err = happened_at(Some(t("2026-02-02T10:02:01Z")), now, previous).unwrap_err();
        assert!(matches!(err, DatedError::Future { .. }));
        assert_eq!(
            err.to_string(),
            "time: 2026-02-02T10:02:01Z is later than the server's clock (2026-02-02T10:00:00Z); a change may be dated from 2026-02-02T08:00:00Z to now (2 minutes of clock difference allowed)"
        );
        let err = happened_at(Some(t("2026-02-02T07:59:59Z")), now, previous).unwrap_err();
        assert_eq!(
            err.to_string(),
            "time: 2026-02-02T07:59:59Z is before this schedule's previous change (2026-02-02T08:00:00Z); a change may be dated from 2026-02-02T08:00:00Z to now (2026-02-02T10:00:00Z)"
        );
        let err = happened_at(Some(t("2026-01-31T09:59:59Z")), now, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "time: 2026-01-31T09:59:59Z is more than 24 hours ago; a change may be dated from 2026-02-01T10:00:00Z to now (2026-02-02T10:00:00Z)"
        );
        // A forged far-past time before an old previous change: the 24 hours bound it too.
        let err = happened_at(
            Some(t("2020-01-01T00:00:00Z")),
            now,
            Some(t("2019-01-01T00:00:00Z")),
        )
        .unwrap_err();
        assert!(matches!(err, DatedError::TooOld { .. }), "{err}");
    }
}
