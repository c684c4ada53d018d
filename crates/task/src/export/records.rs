//! The records of an export: one flat record type per [`Section`], written as a JSON object by the JSON document
//! and as a CSV row (its [`Record::COLUMNS`], the JSON keys, in order) by the ZIP — the same values in both.
//!
//! Instants are RFC 3339 in UTC (`2026-02-01T00:00:00Z`), durations ISO 8601 (`PT1H30M`), wall-clock times
//! `YYYY-MM-DDTHH:MM:SS` next to their zone, dates `YYYY-MM-DD`. Lists are JSON arrays (space-separated in CSV).

use jiff::Timestamp;
use serde::Serialize;

use crate::app::export::{ExportedSeries, ExportedTask};
use crate::domain::export::Section;
use crate::domain::time::{format_duration, format_local_date_time};
use crate::domain::{Inherited, PlannedDuration, WeekKey, WeeklyTotals};
use crate::store::members::Member;
use crate::store::schedules::StoredSchedule;

/// A record of a section: serialised as a flat JSON object whose keys are its columns.
pub trait Record: Serialize {
    /// The keys of its JSON object, in the order of the CSV file's columns (its header row).
    const COLUMNS: &'static [&'static str];
}

/// The columns of `section`'s records.
pub fn columns(section: Section) -> &'static [&'static str] {
    match section {
        Section::Member => MemberRecord::COLUMNS,
        Section::Tasks => TaskRecord::COLUMNS,
        Section::Series => SeriesRecord::COLUMNS,
        Section::Schedules => ScheduleRecord::COLUMNS,
        Section::WeeklyStatistics => WeekRecord::COLUMNS,
    }
}

fn instant(at: Timestamp) -> String {
    at.to_string()
}

/// Where a schedule's reminders come from.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RemindersFrom {
    /// Its own list.
    Schedule,
    /// Its series' list.
    Series,
    /// The member's default.
    Member,
}

/// What the task context knows of the member: not the account (username, email and password are the auth
/// context's, not part of this export).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberRecord {
    pub id: i64,
    /// The nickname the member signed up with, as the task context received it.
    pub nickname: Option<String>,
    pub zone_id: String,
    /// The reminders of schedules that have none of their own (nor their series).
    pub default_reminders: Vec<String>,
    /// The schedule in progress or suspended.
    pub running_schedule_id: Option<i64>,
}

impl Record for MemberRecord {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "nickname",
        "zoneId",
        "defaultReminders",
        "runningScheduleId",
    ];
}

impl MemberRecord {
    pub fn of(member: &Member) -> Self {
        Self {
            id: member.id.get(),
            nickname: member.nickname.clone(),
            zone_id: member.zone.id().to_owned(),
            default_reminders: member.reminders.to_iso(),
            running_schedule_id: member.running.map(|s| s.get()),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRecord {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub due_date: String,
    pub due_zone_id: String,
    pub importance: u8,
    pub difficulty: u8,
    pub completed: bool,
    /// Its prerequisites: the tasks to complete before it (the dependency graph's edges into it).
    pub previous_task_ids: Vec<i64>,
    pub created_at: String,
    pub updated_at: String,
}

impl Record for TaskRecord {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "title",
        "description",
        "dueDate",
        "dueZoneId",
        "importance",
        "difficulty",
        "completed",
        "previousTaskIds",
        "createdAt",
        "updatedAt",
    ];
}

impl TaskRecord {
    pub fn of(exported: &ExportedTask) -> Self {
        let stored = &exported.stored;
        let t = &stored.task;
        Self {
            id: t.id().get(),
            title: t.title().as_str().to_owned(),
            description: t.description().as_str().to_owned(),
            due_date: t.deadline().date().to_string(),
            due_zone_id: t.deadline().zone().id().to_owned(),
            importance: t.importance().get(),
            difficulty: t.difficulty().get(),
            completed: t.is_completed(),
            previous_task_ids: exported.previous.iter().map(|p| p.get()).collect(),
            created_at: instant(stored.created_at),
            updated_at: instant(stored.updated_at),
        }
    }
}

/// A repeating schedule (docs/adr/0014): its rule; the occurrences made so far are schedules.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeriesRecord {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub schedule_type: &'static str,
    /// The first occurrence's wall-clock start in `zoneId` (DTSTART).
    pub start: String,
    pub zone_id: String,
    pub rrule: String,
    pub exdates: Vec<String>,
    pub rdates: Vec<String>,
    /// The reminders of its occurrences that have none of their own.
    pub reminders: Vec<String>,
    /// `series` (its own list) or `member` (the member's default).
    pub reminders_from: RemindersFrom,
    /// The planned length its occurrences are made with (ISO 8601), if set.
    pub planned_duration: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// When the whole series was deleted (it makes no more occurrences), if it was.
    pub deleted_at: Option<String>,
}

impl Record for SeriesRecord {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "title",
        "description",
        "scheduleType",
        "start",
        "zoneId",
        "rrule",
        "exdates",
        "rdates",
        "reminders",
        "remindersFrom",
        "plannedDuration",
        "createdAt",
        "updatedAt",
        "deletedAt",
    ];
}

fn wall_clock(times: &[jiff::civil::DateTime]) -> Vec<String> {
    times.iter().map(|t| format_local_date_time(*t)).collect()
}

impl SeriesRecord {
    pub fn of(exported: &ExportedSeries, member: &Member) -> Self {
        let stored = &exported.stored;
        let series = &stored.series;
        let spec = &series.spec;
        let (reminders, from) = match &series.reminders {
            Some(own) => (own, RemindersFrom::Series),
            None => (&member.reminders, RemindersFrom::Member),
        };
        Self {
            id: series.id.get(),
            title: spec.title.as_str().to_owned(),
            description: spec.description.as_str().to_owned(),
            schedule_type: spec.schedule_type.as_str(),
            start: format_local_date_time(spec.start),
            zone_id: spec.zone.id().to_owned(),
            rrule: spec.recurrence.rrule.clone(),
            exdates: wall_clock(&spec.recurrence.exdates),
            rdates: wall_clock(&spec.recurrence.rdates),
            reminders: reminders.to_iso(),
            reminders_from: from,
            planned_duration: spec.planned.map(PlannedDuration::to_iso),
            created_at: instant(stored.created_at),
            updated_at: instant(stored.updated_at),
            deleted_at: exported.deleted_at.map(instant),
        }
    }
}

/// A schedule and its run. The run is kept as its state, the time of its finished sessions, and the start of the
/// session running now — sessions are not recorded one by one.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleRecord {
    pub id: i64,
    pub task_id: Option<i64>,
    /// The repeating schedule this is an occurrence of.
    pub series_id: Option<i64>,
    /// An occurrence's original start, wall clock in its series' zone (RECURRENCE-ID).
    pub occurrence_start: Option<String>,
    pub title: String,
    pub description: String,
    pub schedule_type: &'static str,
    /// The planned start.
    pub start: String,
    /// The planned length (ISO 8601), if set.
    pub planned_duration: Option<String>,
    pub state: &'static str,
    /// The time of the finished sessions (the one running now not included).
    pub elapsed: String,
    /// The start of the session running now (IN_PROGRESS only).
    pub running_since: Option<String>,
    /// The statistics week a completed schedule counts in: its Monday and the zone of that week.
    pub statistics_week_start: Option<String>,
    pub statistics_week_zone_id: Option<String>,
    /// The reminders armed for it, and where they come from (`schedule`, `series` or `member`).
    pub reminders: Vec<String>,
    pub reminders_from: RemindersFrom,
    pub created_at: String,
    pub updated_at: String,
}

impl Record for ScheduleRecord {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "taskId",
        "seriesId",
        "occurrenceStart",
        "title",
        "description",
        "scheduleType",
        "start",
        "plannedDuration",
        "state",
        "elapsed",
        "runningSince",
        "statisticsWeekStart",
        "statisticsWeekZoneId",
        "reminders",
        "remindersFrom",
        "createdAt",
        "updatedAt",
    ];
}

impl ScheduleRecord {
    pub fn of(stored: &StoredSchedule, member: &Member) -> Self {
        let s = &stored.schedule;
        let from = match (s.reminders(), &stored.series_reminders) {
            (Some(_), _) => RemindersFrom::Schedule,
            (None, Some(_)) => RemindersFrom::Series,
            (None, None) => RemindersFrom::Member,
        };
        let inherited = Inherited::new(stored.series_reminders.clone(), member.reminders.clone());
        let week: Option<&WeekKey> = s.run().completed_week();
        Self {
            id: s.id().get(),
            task_id: s.task_id().map(|t| t.get()),
            series_id: stored.occurrence.map(|o| o.series.get()),
            occurrence_start: stored.occurrence.map(|o| format_local_date_time(o.start)),
            title: s.title().as_str().to_owned(),
            description: s.description().as_str().to_owned(),
            schedule_type: s.schedule_type().as_str(),
            start: instant(s.designated_start()),
            planned_duration: s.planned().map(PlannedDuration::to_iso),
            state: s.state().as_str(),
            elapsed: format_duration(s.elapsed()),
            running_since: s.run().running_since().map(instant),
            statistics_week_start: week.map(|w| w.start.to_string()),
            statistics_week_zone_id: week.map(|w| w.zone_id.clone()),
            reminders: inherited.effective(s.reminders()).to_iso(),
            reminders_from: from,
            created_at: instant(stored.created_at),
            updated_at: instant(stored.updated_at),
        }
    }
}

/// One week's statistics bucket: the totals of the schedules completed in it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WeekRecord {
    /// The week's Monday, in `zoneId`.
    pub week_start: String,
    pub zone_id: String,
    pub deep_work: String,
    pub admin_work: String,
    pub total_work: String,
}

impl Record for WeekRecord {
    const COLUMNS: &'static [&'static str] =
        &["weekStart", "zoneId", "deepWork", "adminWork", "totalWork"];
}

impl WeekRecord {
    pub fn of(week: &WeekKey, totals: &WeeklyTotals) -> Self {
        Self {
            week_start: week.start.to_string(),
            zone_id: week.zone_id.clone(),
            deep_work: format_duration(totals.deep_work),
            admin_work: format_duration(totals.admin_work),
            total_work: format_duration(totals.total),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn keys<R: Record>(record: &R) -> BTreeSet<String> {
        match serde_json::to_value(record).expect("a record serialises") {
            serde_json::Value::Object(map) => map.keys().cloned().collect(),
            other => panic!("not an object: {other}"),
        }
    }

    fn columns_of<R: Record>() -> BTreeSet<String> {
        let set: BTreeSet<String> = R::COLUMNS.iter().map(|c| c.to_string()).collect();
        assert_eq!(set.len(), R::COLUMNS.len(), "a column twice");
        set
    }

    #[test]
    fn every_key_of_a_record_is_a_column_and_every_column_a_key() {
        let week = WeekRecord::of(
            &WeekKey {
                start: jiff::civil::date(2026, 2, 2),
                zone_id: "Asia/Seoul".into(),
            },
            &WeeklyTotals::ZERO,
        );
        assert_eq!(keys(&week), columns_of::<WeekRecord>());
        let member = MemberRecord {
            id: 1,
            nickname: None,
            zone_id: "UTC".into(),
            default_reminders: vec![],
            running_schedule_id: None,
        };
        assert_eq!(keys(&member), columns_of::<MemberRecord>());
        let task = TaskRecord {
            id: 1,
            title: String::new(),
            description: String::new(),
            due_date: String::new(),
            due_zone_id: String::new(),
            importance: 1,
            difficulty: 1,
            completed: false,
            previous_task_ids: vec![],
            created_at: String::new(),
            updated_at: String::new(),
        };
        assert_eq!(keys(&task), columns_of::<TaskRecord>());
        let series = SeriesRecord {
            id: 1,
            title: String::new(),
            description: String::new(),
            schedule_type: "DEEP_WORK",
            start: String::new(),
            zone_id: String::new(),
            rrule: String::new(),
            exdates: vec![],
            rdates: vec![],
            reminders: vec![],
            reminders_from: RemindersFrom::Member,
            planned_duration: Some("PT1H".into()),
            created_at: String::new(),
            updated_at: String::new(),
            deleted_at: None,
        };
        assert_eq!(keys(&series), columns_of::<SeriesRecord>());
        let schedule = ScheduleRecord {
            id: 1,
            task_id: None,
            series_id: None,
            occurrence_start: None,
            title: String::new(),
            description: String::new(),
            schedule_type: "DEEP_WORK",
            start: String::new(),
            planned_duration: None,
            state: "NOT_STARTED",
            elapsed: String::new(),
            running_since: None,
            statistics_week_start: None,
            statistics_week_zone_id: None,
            reminders: vec![],
            reminders_from: RemindersFrom::Schedule,
            created_at: String::new(),
            updated_at: String::new(),
        };
        assert_eq!(keys(&schedule), columns_of::<ScheduleRecord>());
    }
}
