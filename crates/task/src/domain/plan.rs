//! Planned against worked (Pinit's addition): for each day, how long the member's schedules of that day were
//! planned to take and how long was worked on them, by type, against the member's **daily objective**; and the
//! **streak** of days in a row the objective was met.
//!
//! * A schedule belongs to the local day of its planned start, in the zone asked in.
//! * Planned: its `plannedDuration`, an hour when it has none (what the timeline shows).
//! * Worked: the time recorded on it (finished sessions, plus the running one up to now) — sessions are not
//!   stored one by one, so a run that crossed midnight counts on the schedule's day.
//! * The streak counts back from today: today counts once it is met; until then it is still open and the
//!   streak is that of the days before.

use std::collections::BTreeMap;

use jiff::SignedDuration;
use jiff::civil::Date;
use thiserror::Error;

use super::schedule::ScheduleType;

/// How long the member means to work each day: 15 minutes to 24 hours, whole minutes; 4 hours unless set (the
/// reference's member model kept such a target too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyObjective(SignedDuration);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "dailyObjective: {0:?} is not a whole number of minutes from 15 minutes (\"PT15M\") to 24 hours (\"PT24H\")"
)]
pub struct ObjectiveError(pub String);

impl ObjectiveError {
    pub const fn class(&self) -> super::ErrorClass {
        super::ErrorClass::BadRequest
    }
}

impl Default for DailyObjective {
    fn default() -> Self {
        Self(SignedDuration::from_hours(4))
    }
}

impl DailyObjective {
    pub const MIN: SignedDuration = SignedDuration::from_mins(15);
    pub const MAX: SignedDuration = SignedDuration::from_hours(24);

    /// Reads an ISO 8601 duration (`PT4H`, `PT90M`; `P1D` is 24 hours).
    pub fn parse(input: &str) -> Result<Self, ObjectiveError> {
        let length = input
            .parse::<jiff::Span>()
            .ok()
            .and_then(|s| {
                s.to_duration(jiff::SpanRelativeTo::days_are_24_hours())
                    .ok()
            })
            .ok_or_else(|| ObjectiveError(input.to_owned()))?;
        Self::from_duration(length).ok_or_else(|| ObjectiveError(input.to_owned()))
    }

    fn from_duration(length: SignedDuration) -> Option<Self> {
        let whole = length.subsec_nanos() == 0 && length.as_secs() % 60 == 0;
        (whole && (Self::MIN..=Self::MAX).contains(&length)).then_some(Self(length))
    }

    /// From stored minutes (`None`: out of range, a corrupt record).
    pub fn from_minutes(minutes: i64) -> Option<Self> {
        Self::from_duration(SignedDuration::from_mins(minutes))
    }

    pub fn minutes(self) -> i64 {
        self.0.as_mins()
    }

    pub fn duration(self) -> SignedDuration {
        self.0
    }
}

/// What one schedule adds to its day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleLine {
    /// The local day of its planned start.
    pub day: Date,
    pub kind: ScheduleType,
    /// Its planned length (an hour when not set: [`super::PlannedDuration::shown`]).
    pub planned: SignedDuration,
    /// The time recorded on it, the running session included.
    pub worked: SignedDuration,
}

/// Durations by schedule type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ByType {
    pub deep_work: SignedDuration,
    pub quick_task: SignedDuration,
    pub admin_task: SignedDuration,
}

impl ByType {
    fn add(&mut self, kind: ScheduleType, d: SignedDuration) {
        let slot = match kind {
            ScheduleType::DeepWork => &mut self.deep_work,
            ScheduleType::QuickTask => &mut self.quick_task,
            ScheduleType::AdminTask => &mut self.admin_task,
        };
        *slot = slot.saturating_add(d);
    }

    pub fn total(&self) -> SignedDuration {
        self.deep_work
            .saturating_add(self.quick_task)
            .saturating_add(self.admin_task)
    }
}

/// One day's planned and worked time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day {
    pub date: Date,
    pub planned: ByType,
    pub worked: ByType,
    /// Whether the worked total reached the objective.
    pub met: bool,
}

/// Each of `dates`, in order, with what `lines` put in it (lines of other days are ignored).
pub fn days(lines: &[ScheduleLine], dates: &[Date], objective: DailyObjective) -> Vec<Day> {
    let mut by_day: BTreeMap<Date, (ByType, ByType)> = BTreeMap::new();
    for line in lines {
        let entry = by_day.entry(line.day).or_default();
        entry.0.add(line.kind, line.planned);
        entry.1.add(line.kind, line.worked);
    }
    dates
        .iter()
        .map(|&date| {
            let (planned, worked) = by_day.get(&date).copied().unwrap_or_default();
            Day {
                date,
                planned,
                worked,
                met: worked.total() >= objective.duration(),
            }
        })
        .collect()
}

/// Days in a row, counting back from `today`, whose worked time reached the objective; `today` counts only once
/// it is met (until then the streak is that of the days before).
pub fn streak(lines: &[ScheduleLine], today: Date, objective: DailyObjective) -> u32 {
    let mut worked: BTreeMap<Date, SignedDuration> = BTreeMap::new();
    for line in lines.iter().filter(|l| l.day <= today) {
        let slot = worked.entry(line.day).or_default();
        *slot = slot.saturating_add(line.worked);
    }
    let met = |d: Date| worked.get(&d).is_some_and(|w| *w >= objective.duration());
    let mut day = if met(today) {
        today
    } else {
        match today.yesterday() {
            Ok(d) => d,
            Err(_) => return 0,
        }
    };
    let mut count = 0;
    while met(day) {
        count += 1;
        match day.yesterday() {
            Ok(d) => day = d,
            Err(_) => break,
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn line(day: Date, kind: ScheduleType, planned_min: i64, worked_min: i64) -> ScheduleLine {
        ScheduleLine {
            day,
            kind,
            planned: SignedDuration::from_mins(planned_min),
            worked: SignedDuration::from_mins(worked_min),
        }
    }

    #[test]
    fn the_objective_is_whole_minutes_from_a_quarter_hour_to_a_day() {
        assert_eq!(DailyObjective::default().minutes(), 240);
        assert_eq!(DailyObjective::parse("PT90M").unwrap().minutes(), 90);
        assert_eq!(DailyObjective::parse("P1D").unwrap().minutes(), 1440);
        for bad in ["PT14M", "PT24H1M", "PT90S", "P1M", "four hours", ""] {
            let err = DailyObjective::parse(bad).unwrap_err();
            assert!(err.to_string().starts_with("dailyObjective: "), "{bad}");
        }
        assert_eq!(DailyObjective::from_minutes(10), None);
    }

    #[test]
    fn days_add_up_planned_and_worked_by_type() {
        let (mon, tue) = (date(2026, 2, 2), date(2026, 2, 3));
        let lines = [
            line(mon, ScheduleType::DeepWork, 90, 100),
            line(mon, ScheduleType::DeepWork, 60, 50),
            line(mon, ScheduleType::AdminTask, 30, 120),
            line(tue, ScheduleType::QuickTask, 60, 0),
            line(date(2026, 1, 30), ScheduleType::DeepWork, 600, 600),
        ];
        let objective = DailyObjective::parse("PT4H").unwrap();
        let got = days(&lines, &[mon, tue, date(2026, 2, 4)], objective);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].planned.deep_work, SignedDuration::from_mins(150));
        assert_eq!(got[0].planned.total(), SignedDuration::from_mins(180));
        assert_eq!(got[0].worked.total(), SignedDuration::from_mins(270));
        assert!(got[0].met, "4.5 h worked against 4 h");
        assert_eq!(got[1].planned.quick_task, SignedDuration::from_hours(1));
        assert!(!got[1].met);
        assert_eq!(got[2].worked, ByType::default(), "a day without schedules");
    }

    #[test]
    fn the_streak_counts_back_from_today_and_today_only_once_met() {
        let objective = DailyObjective::parse("PT1H").unwrap();
        let d = |n: i8| date(2026, 2, n);
        let lines = [
            line(d(1), ScheduleType::DeepWork, 60, 30), // not met: the streak stops here
            line(d(2), ScheduleType::DeepWork, 60, 60),
            line(d(3), ScheduleType::DeepWork, 60, 40),
            line(d(3), ScheduleType::AdminTask, 60, 20),
            line(d(4), ScheduleType::DeepWork, 60, 90),
            line(d(5), ScheduleType::DeepWork, 60, 10), // today, still open
            line(d(6), ScheduleType::DeepWork, 60, 600), // tomorrow: not counted
        ];
        assert_eq!(streak(&lines, d(5), objective), 3, "2, 3 (40 + 20) and 4");
        assert_eq!(streak(&lines, d(4), objective), 3, "today met counts");
        let met_today = [
            lines.as_slice(),
            &[line(d(5), ScheduleType::QuickTask, 0, 50)],
        ]
        .concat();
        assert_eq!(streak(&met_today, d(5), objective), 4);
        assert_eq!(streak(&lines, d(1), objective), 0);
        assert_eq!(streak(&[], d(5), objective), 0);
    }
}
