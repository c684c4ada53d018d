//! A repeating schedule — a *series*: what each occurrence is (title, description, type), when the first one
//! starts (a wall-clock time in a zone) and how it repeats ([`super::recurrence`]). The series is stored once;
//! each occurrence becomes an ordinary [`super::Schedule`] — with its own run, statistics and push — when it
//! is made (see docs/adr/0014-schedule-series.md for when that happens).

use jiff::civil::DateTime;
use jiff::{SignedDuration, Timestamp};

use super::planned::PlannedDuration;
use super::recurrence::{Occurrence, Rule, RuleError, Series};
use super::reminders::{Inherited, Reminders};
use super::schedule::{ScheduleDraft, ScheduleType};
use super::text::{Description, Title};
use super::time::Zone;
use super::{MemberId, SeriesId};

/// How far ahead of now the occurrences of every series exist as schedules (so their pushes are armed).
pub const ROLLING_WINDOW: SignedDuration = SignedDuration::from_hours(14 * 24);

/// How far ahead a series is made when it falls behind [`ROLLING_WINDOW`]: a day more, so each series is
/// visited about once a day, not at every step of the rolling job.
pub const MADE_AHEAD: SignedDuration = SignedDuration::from_hours(15 * 24);

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

/// Which occurrences a change of one occurrence applies to (`?scope=` on `DELETE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// Only this occurrence (the default; also what a one-off schedule means).
    #[default]
    This,
    /// This occurrence and every later one: the series is split before it.
    Following,
    /// Every occurrence of the series.
    All,
}

impl Scope {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        match value {
            "this" => Ok(Self::This),
            "following" => Ok(Self::Following),
            "all" => Ok(Self::All),
            _ => Err("expected this, following or all"),
        }
    }
}

impl Recurrence {
    /// The recurrence from `rrule` (RRULE text), with EXDATE and RDATE as whole-second wall-clock times.
    pub fn new(
        rrule: &str,
        exdates: Vec<DateTime>,
        rdates: Vec<DateTime>,
    ) -> Result<Self, RuleError> {
        Ok(Self {
            rule: Rule::parse(rrule)?,
            rrule: rrule.trim().to_owned(),
            exdates: exdates.into_iter().map(whole_seconds).collect(),
            rdates: rdates.into_iter().map(whole_seconds).collect(),
        })
    }

    /// The same recurrence without `occurrence` (an EXDATE for it).
    pub fn without(&self, occurrence: DateTime) -> Self {
        let mut next = self.clone();
        if !next.exdates.contains(&occurrence) {
            next.exdates.push(occurrence);
            next.exdates.sort();
        }
        next
    }

    /// The same recurrence with its EXDATEs and RDATEs at the time of day `from` moved to `to` (a series moved
    /// to another time of day; dates at other times are their own and stay).
    pub fn retimed(&self, from: jiff::civil::Time, to: jiff::civil::Time) -> Self {
        let moved = |dates: &[DateTime]| -> Vec<DateTime> {
            let mut out: Vec<DateTime> = dates
                .iter()
                .map(|d| {
                    if d.time() == from {
                        d.date().to_datetime(to)
                    } else {
                        *d
                    }
                })
                .collect();
            out.sort();
            out.dedup();
            out
        };
        Self {
            exdates: moved(&self.exdates),
            rdates: moved(&self.rdates),
            ..self.clone()
        }
    }

    /// The same recurrence ending just before `occurrence`: COUNT and UNTIL give way to an UNTIL one second
    /// before it (a wall-clock time, like the occurrences), and RDATEs from it on are dropped. The dates before
    /// it stay exactly what they were — COUNT included, since they are all before the new UNTIL.
    pub fn ending_before(&self, occurrence: DateTime) -> Self {
        let until = occurrence
            .checked_sub(SignedDuration::from_secs(1))
            .unwrap_or(occurrence);
        let mut parts: Vec<String> = self
            .rrule
            .trim_start_matches(|c: char| c.is_whitespace())
            .split(';')
            .filter(|p| {
                let name = p.split('=').next().unwrap_or_default().trim();
                !p.trim().is_empty()
                    && !name.eq_ignore_ascii_case("COUNT")
                    && !name.eq_ignore_ascii_case("UNTIL")
            })
            .map(str::to_owned)
            .collect();
        parts.push(format!("UNTIL={}", until.strftime("%Y%m%dT%H%M%S")));
        let rrule = parts.join(";");
        let rule = Rule::parse(&rrule).unwrap_or_else(|_| self.rule.clone());
        Self {
            rrule,
            rule,
            exdates: self
                .exdates
                .iter()
                .copied()
                .filter(|d| *d < occurrence)
                .collect(),
            rdates: self
                .rdates
                .iter()
                .copied()
                .filter(|d| *d < occurrence)
                .collect(),
        }
    }
}

impl Recurrence {
    /// The recurrence of the series split off at `occurrence` (the new series' first occurrence), when the
    /// old one had yielded `already` occurrences before it: a COUNT becomes what is left of it, UNTIL stays,
    /// and the EXDATEs and RDATEs from `occurrence` on move along.
    pub fn continued_from(&self, occurrence: DateTime, already: u32) -> Self {
        let parts: Vec<String> = self
            .rrule
            .split(';')
            .filter(|p| !p.trim().is_empty())
            .map(|p| {
                let (name, value) = p.split_once('=').unwrap_or((p, ""));
                match value.trim().parse::<u32>() {
                    Ok(count) if name.trim().eq_ignore_ascii_case("COUNT") => {
                        format!("COUNT={}", count.saturating_sub(already).max(1))
                    }
                    _ => p.to_owned(),
                }
            })
            .collect();
        let rrule = parts.join(";");
        Self {
            rule: Rule::parse(&rrule).unwrap_or_else(|_| self.rule.clone()),
            rrule,
            exdates: self
                .exdates
                .iter()
                .copied()
                .filter(|d| *d >= occurrence)
                .collect(),
            rdates: self
                .rdates
                .iter()
                .copied()
                .filter(|d| *d >= occurrence)
                .collect(),
        }
    }
}

/// What RFC 5545 can name: whole seconds.
pub fn whole_seconds(local: DateTime) -> DateTime {
    local.with().subsec_nanosecond(0).build().unwrap_or(local)
}

/// What a series is: its occurrences' title, description and type, the first one's start and how it repeats.
#[derive(Debug, Clone)]
pub struct SeriesSpec {
    pub title: Title,
    pub description: Description,
    pub schedule_type: ScheduleType,
    /// The first occurrence's start, wall clock in `zone` (DTSTART; whole seconds).
    pub start: DateTime,
    pub zone: Zone,
    pub recurrence: Recurrence,
    /// The planned length of the occurrences it makes (`None`: not set).
    pub planned: Option<PlannedDuration>,
}

/// A new series: what it is, and the reminders its occurrences inherit (`None`: the member's default).
#[derive(Debug, Clone)]
pub struct NewSeries {
    pub spec: SeriesSpec,
    pub reminders: Option<Reminders>,
}

impl From<SeriesSpec> for NewSeries {
    /// A series whose occurrences follow the member's default reminders.
    fn from(spec: SeriesSpec) -> Self {
        Self {
            spec,
            reminders: None,
        }
    }
}

/// A stored series.
#[derive(Debug, Clone)]
pub struct ScheduleSeries {
    pub id: SeriesId,
    pub owner_id: MemberId,
    pub spec: SeriesSpec,
    /// The reminders of its occurrences that have none of their own (`None`: the member's default).
    pub reminders: Option<Reminders>,
}

impl ScheduleSeries {
    /// What an occurrence of this series without reminders of its own follows, given the member's default.
    pub fn inherited(&self, member_default: &Reminders) -> Inherited {
        Inherited::new(self.reminders.clone(), member_default.clone())
    }
}

impl SeriesSpec {
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

    /// How many occurrences come before the wall-clock time `before`.
    pub fn count_before(&self, before: DateTime) -> u32 {
        let n = self
            .pattern()
            .occurrences()
            .take_while(|o| o.local < before)
            .take(u32::MAX as usize)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Whether `schedule` still is what this series makes for its occurrence `start` (same title,
    /// description, type and start): an occurrence edited on its own (`scope=this`) is not, and series-wide
    /// edits leave it alone.
    pub fn made(&self, schedule: &super::Schedule, start: DateTime) -> bool {
        schedule.title() == &self.title
            && schedule.description() == &self.description
            && schedule.schedule_type() == self.schedule_type
            && self.zone.resolve(start).ok() == Some(schedule.designated_start())
    }

    /// The occurrence at the wall-clock time `local`, if the series has one then.
    pub fn occurrence_at(&self, local: DateTime) -> Option<Occurrence> {
        self.pattern()
            .occurrences()
            .take_while(|o| o.local <= local)
            .find(|o| o.local == local)
    }

    /// What the schedule of `occurrence` is made from.
    pub fn draft(&self, occurrence: &Occurrence) -> ScheduleDraft {
        ScheduleDraft::new(
            self.title.clone(),
            self.description.clone(),
            self.schedule_type,
            occurrence.at,
        )
        .with_planned(self.planned)
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn dates(recurrence: &Recurrence, start: DateTime) -> Vec<String> {
        Series {
            start,
            zone: Zone::parse("UTC").unwrap(),
            rule: recurrence.rule.clone(),
            exdates: recurrence.exdates.clone(),
            rdates: recurrence.rdates.clone(),
        }
        .occurrences()
        .take(20)
        .map(|o| o.local.to_string())
        .collect()
    }

    #[test]
    fn moving_the_time_of_day_moves_the_exceptions_at_that_time() {
        let start = date(2026, 12, 7).at(9, 0, 0, 0);
        let excluded = date(2026, 12, 8).at(9, 0, 0, 0);
        let own = date(2026, 12, 9).at(14, 0, 0, 0);
        let r = Recurrence::new("FREQ=DAILY;COUNT=4", vec![excluded], vec![own]).unwrap();
        let moved = r.retimed(start.time(), date(2026, 12, 7).at(8, 0, 0, 0).time());
        assert_eq!(moved.exdates, vec![date(2026, 12, 8).at(8, 0, 0, 0)]);
        assert_eq!(moved.rdates, vec![own], "a date at its own time stays");
        let days = dates(&moved, date(2026, 12, 7).at(8, 0, 0, 0));
        assert!(
            !days.iter().any(|d| d.starts_with("2026-12-08")),
            "{days:?}"
        );
    }

    #[test]
    fn ending_before_keeps_exactly_the_earlier_dates() {
        let start = date(2026, 12, 7).at(9, 0, 0, 0);
        for rrule in [
            "FREQ=DAILY;COUNT=5",
            "FREQ=DAILY",
            "FREQ=DAILY;UNTIL=20261231T090000Z",
        ] {
            let recurrence = Recurrence::new(
                rrule,
                vec![date(2026, 12, 8).at(9, 0, 0, 0)],
                vec![date(2026, 12, 20).at(9, 0, 0, 0)],
            )
            .unwrap();
            let cut = recurrence.ending_before(date(2026, 12, 10).at(9, 0, 0, 0));
            assert_eq!(
                dates(&cut, start),
                ["2026-12-07T09:00:00", "2026-12-09T09:00:00"],
                "{rrule} → {}",
                cut.rrule
            );
            assert!(
                cut.rrule.ends_with("UNTIL=20261210T085959"),
                "{}",
                cut.rrule
            );
            assert!(cut.rdates.is_empty(), "the RDATE after the cut goes");
        }
    }

    #[test]
    fn continued_from_counts_what_is_left() {
        let recurrence = Recurrence::new(
            "FREQ=DAILY;COUNT=5;BYMONTH=12",
            vec![
                date(2026, 12, 8).at(9, 0, 0, 0),
                date(2026, 12, 10).at(9, 0, 0, 0),
            ],
            vec![],
        )
        .unwrap();
        let rest = recurrence.continued_from(date(2026, 12, 9).at(10, 0, 0, 0), 2);
        assert_eq!(rest.rrule, "FREQ=DAILY;COUNT=3;BYMONTH=12");
        assert_eq!(rest.exdates, [date(2026, 12, 10).at(9, 0, 0, 0)]);
    }

    #[test]
    fn without_adds_one_exdate() {
        let start = date(2026, 12, 7).at(9, 0, 0, 0);
        let recurrence = Recurrence::new("FREQ=DAILY;COUNT=3", vec![], vec![]).unwrap();
        let fewer = recurrence
            .without(date(2026, 12, 8).at(9, 0, 0, 0))
            .without(date(2026, 12, 8).at(9, 0, 0, 0));
        assert_eq!(fewer.exdates.len(), 1);
        assert_eq!(
            dates(&fewer, start),
            ["2026-12-07T09:00:00", "2026-12-09T09:00:00"]
        );
    }
}
