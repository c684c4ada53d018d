//! A repeating schedule — a *series*: what each occurrence is (title, description, type), when the first one
//! starts (a wall-clock time in a zone) and how it repeats ([`super::recurrence`]). The series is stored once;
//! each occurrence becomes an ordinary [`super::Schedule`] — with its own run, statistics and push — when it
//! is made (see docs/adr/0014-schedule-series.md for when that happens).

use jiff::civil::DateTime;
use jiff::{SignedDuration, Timestamp};

use super::recurrence::{Occurrence, Rule, Series};
use super::schedule::{ScheduleDraft, ScheduleType};
use super::text::{Description, Title};
use super::time::Zone;
use super::{MemberId, SeriesId};

/// How far ahead of now the occurrences of every series exist as schedules (so their pushes are armed).
pub const ROLLING_WINDOW: SignedDuration = SignedDuration::from_hours(14 * 24);

/// At most this many occurrences are made for one series by one read or one step of the rolling window: a
/// window of a year of a daily rule is 366; anything more is a client asking for too much at once.
pub const MAX_OCCURRENCES_PER_WINDOW: usize = 1_000;

/// At most this many EXDATE or RDATE values per series.
pub const MAX_DATES: usize = 500;

/// How a series repeats: the RRULE as given (kept verbatim, returned as written) and as understood, and its
/// exceptions and extra dates (wall-clock times in the series' zone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence {
    pub rrule: String,
    pub rule: Rule,
    pub exdates: Vec<DateTime>,
    pub rdates: Vec<DateTime>,
}

/// A stored series.
#[derive(Debug, Clone)]
pub struct ScheduleSeries {
    pub id: SeriesId,
    pub owner_id: MemberId,
    pub title: Title,
    pub description: Description,
    pub schedule_type: ScheduleType,
    /// The first occurrence's start, wall clock in `zone` (DTSTART).
    pub start: DateTime,
    pub zone: Zone,
    pub recurrence: Recurrence,
}

impl ScheduleSeries {
    /// The expansion of this series' dates.
    pub fn pattern(&self) -> Series {
        Series {
            start: self.start,
            zone: self.zone.clone(),
            rule: self.recurrence.rule.clone(),
            exdates: self.recurrence.exdates.clone(),
            rdates: self.recurrence.rdates.clone(),
        }
    }

    /// The occurrences starting in `[from, to)` (at most [`MAX_OCCURRENCES_PER_WINDOW`]).
    pub fn occurrences_between(&self, from: Timestamp, to: Timestamp) -> Vec<Occurrence> {
        self.pattern()
            .between(from, to)
            .take(MAX_OCCURRENCES_PER_WINDOW)
            .collect()
    }

    /// The first occurrence (the start itself, unless an EXDATE removed it).
    pub fn first(&self) -> Option<Occurrence> {
        self.pattern().occurrences().next()
    }

    /// The next `n` occurrences starting at or after `from`.
    pub fn next(&self, from: Timestamp, n: usize) -> Vec<Occurrence> {
        self.pattern()
            .occurrences()
            .skip_while(|o| o.at < from)
            .take(n)
            .collect()
    }

    /// What the schedule of `occurrence` is made from.
    pub fn draft(&self, occurrence: &Occurrence) -> ScheduleDraft {
        ScheduleDraft::new(
            self.title.clone(),
            self.description.clone(),
            self.schedule_type,
            occurrence.at,
        )
    }
}
