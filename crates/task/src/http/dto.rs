//! Request and response bodies (the reference's JSON, docs/contract/task.md#json-bodies and #time), and
//! request validation.
//!
//! Validation runs in two passes, like the reference's bean validation then domain validators:
//! presence (`must not be null` / `must not be blank`, every field reported, message
//! `Validation failed for N field(s)`), then the domain rules (lengths, ranges, zones, dates), whose
//! Korean message becomes the error's `message` when it is the only problem.

use jiff::Timestamp;
use jiff::civil::DateTime;
use pinit_kernel::ApiError;
use pinit_kernel::error::FieldError;
use pinit_kernel::extract::Field;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::{SeriesView, TaskView};
use crate::domain::recurrence::Rule;
use crate::domain::series::MAX_DATES;
use crate::domain::time::{format_duration, format_local_date_time, parse_local_date_time};
use crate::domain::{
    Deadline, DependencyPair, Description, Difficulty, Importance, Inherited, PlannedDuration,
    Recurrence, Reminders, ScheduleType, TaskFields, Title, WeekKey, WeeklyTotals, Zone,
};
use crate::store::schedules::StoredSchedule;

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

pub const NOT_NULL: &str = "must not be null";
pub const NOT_BLANK: &str = "must not be blank";

/// The problems found in one request.
#[derive(Debug, Default)]
pub struct Problems {
    errors: Vec<FieldError>,
    /// Whether any problem is a presence check (then the summary message is used).
    presence: bool,
}

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }

    fn presence(&mut self, field: &str, rejected: Value, reason: &str) {
        self.presence = true;
        let code = match reason {
            NOT_NULL => "MUST_NOT_BE_NULL",
            _ => "MUST_NOT_BE_BLANK",
        };
        self.errors
            .push(FieldError::new(field, rejected, reason.to_owned()).with_code(Some(code)));
    }

    /// A required value.
    pub fn required<'a, T>(&mut self, field: &str, value: &'a Option<T>) -> Option<&'a T> {
        if value.is_none() {
            self.presence(field, Value::Null, NOT_NULL);
        }
        value.as_ref()
    }

    /// An optional value that, when given, must not be `null`.
    pub fn not_null<'a, T>(&mut self, field: &str, value: &'a Field<T>) -> Option<&'a T> {
        if value.is_null() {
            self.presence(field, Value::Null, NOT_NULL);
        }
        value.get()
    }

    /// A required string that must not be blank (Java `isBlank`).
    pub fn not_blank<'a>(&mut self, field: &str, value: &'a Option<String>) -> Option<&'a str> {
        match value.as_deref() {
            Some(v) if !crate::domain::text::is_blank(v) => Some(v),
            other => {
                let rejected = other.map_or(Value::Null, |v| Value::String(v.to_owned()));
                self.presence(field, rejected, NOT_BLANK);
                None
            }
        }
    }

    /// A domain rule's verdict on `field`.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        rejected: impl Into<Value>,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors
                    .push(FieldError::new(field, rejected.into(), e.to_string()));
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The 400 answer for what was found: the rule's own message when it is the only problem and not
    /// a presence check, else `Validation failed for N field(s)`.
    pub fn into_error(self) -> ApiError {
        let answer = match self.errors.as_slice() {
            [only] if !self.presence => {
                let message = only.reason.clone();
                ApiError::bad_request(message).with_errors(self.errors)
            }
            _ => ApiError::validation(self.errors),
        };
        super::coded(answer)
    }

    /// `Ok` when nothing was found; otherwise the 400 answer.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.into_error())
        }
    }
}

/// A query parameter that must be present.
pub fn required_param<'a>(
    name: &str,
    kind: &str,
    value: &'a Option<String>,
) -> Result<&'a str, ApiError> {
    value.as_deref().filter(|v| !v.is_empty()).ok_or_else(|| {
        ApiError::bad_request(format!(
            "Required request parameter '{name}' for method parameter type {kind} is not present"
        ))
        .with_errors(vec![FieldError::new(name, Value::Null, NOT_NULL)])
    })
}

/// A `time` + `zoneId` pair (query parameters or `DateTimeWithZone`), checked.
pub fn zoned(
    p: &mut Problems,
    field_time: &str,
    time: &str,
    field_zone: &str,
    zone: &str,
) -> Option<(DateTime, Zone)> {
    let time = p.check(field_time, time, parse_local_date_time(time));
    let zone = p.check(field_zone, zone, Zone::parse(zone));
    Some((time?, zone?))
}

/// A list of reminders (`reminders`), its first wrong entry named (`reminders[1]`).
pub fn reminders(p: &mut Problems, values: &[String]) -> Option<Reminders> {
    match Reminders::parse(values) {
        Ok(reminders) => Some(reminders),
        Err(e) => p.check(&e.field(), e.rejected(), Err(e)),
    }
}

/// A planned length (`plannedDuration`, ISO 8601 whole minutes).
pub fn planned_duration(p: &mut Problems, value: &str) -> Option<PlannedDuration> {
    p.check("plannedDuration", value, PlannedDuration::parse(value))
}

/// `{"reminders": [...]}`: `GET` and `PUT /v2/members/reminders`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RemindersBody {
    pub reminders: Option<Vec<String>>,
}

/// The instant of a local date-time in a zone.
pub fn resolve(p: &mut Problems, field: &str, local: DateTime, zone: &Zone) -> Option<Timestamp> {
    p.check(field, Value::Null, zone.resolve(local))
}

// ---------------------------------------------------------------------------------------------
// Shared shapes
// ---------------------------------------------------------------------------------------------

/// `DateWithOffset` as received (`offset` optional; checked against the zone when given).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DateWithOffsetIn {
    pub date: Option<String>,
    #[serde(default)]
    pub offset: Field<String>,
    pub zone_id: Option<String>,
}

/// `DateTimeWithZone` as received.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DateTimeWithZoneIn {
    pub date_time: Option<String>,
    pub zone_id: Option<String>,
}

impl DateTimeWithZoneIn {
    /// The wall-clock time and its zone, checking `<field>.dateTime` and `<field>.zoneId`.
    pub fn local(&self, p: &mut Problems, field: &str) -> Option<(DateTime, Zone)> {
        let time = p.required(&format!("{field}.dateTime"), &self.date_time);
        let zone = p.required(&format!("{field}.zoneId"), &self.zone_id);
        let (time, zone) = (time?, zone?);
        zoned(
            p,
            &format!("{field}.dateTime"),
            time,
            &format!("{field}.zoneId"),
            zone,
        )
    }

    /// The wall-clock time, its instant and its zone (a repeating schedule needs the wall clock too).
    pub fn resolved(&self, p: &mut Problems, field: &str) -> Option<(DateTime, Timestamp, Zone)> {
        let (local, zone) = self.local(p, field)?;
        let at = resolve(p, field, local, &zone)?;
        Some((local, at, zone))
    }

    /// The instant, checking `<field>.dateTime` and `<field>.zoneId`.
    pub fn instant(&self, p: &mut Problems, field: &str) -> Option<(Timestamp, Zone)> {
        self.resolved(p, field).map(|(_, at, zone)| (at, zone))
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DateWithOffset {
    pub date: String,
    pub offset: String,
    pub zone_id: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DateTimeWithZone {
    pub date_time: String,
    pub zone_id: String,
}

impl DateTimeWithZone {
    pub fn of(at: Timestamp, zone: &Zone) -> Self {
        Self {
            date_time: format_local_date_time(zone.local_date_time(at)),
            zone_id: zone.id().to_owned(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------------------------

/// `DependencyRequest`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DependencyIn {
    pub from_id: Option<i64>,
    pub to_id: Option<i64>,
}

/// `TaskCreateRequestV2` and `TaskUpdateRequestV2` (the update adds `removeDependencies`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRequest {
    pub title: Option<String>,
    pub description: Option<String>,
    pub due_date: Option<DateWithOffsetIn>,
    pub importance: Option<i64>,
    pub difficulty: Option<i64>,
    #[serde(default)]
    pub add_dependencies: Field<Vec<DependencyIn>>,
    #[serde(default)]
    pub remove_dependencies: Field<Vec<DependencyIn>>,
}

fn pairs(p: &mut Problems, field: &str, list: &Field<Vec<DependencyIn>>) -> Vec<DependencyPair> {
    let mut out = Vec::new();
    for (i, d) in p.not_null(field, list).into_iter().flatten().enumerate() {
        let from = p.required(&format!("{field}[{i}].fromId"), &d.from_id);
        let to = p.required(&format!("{field}[{i}].toId"), &d.to_id);
        if let (Some(&from), Some(&to)) = (from, to) {
            out.push(DependencyPair::new(from, to));
        }
    }
    out
}

/// A validated task request: the fields and the dependency pairs (`add`, `remove`).
pub struct TaskInput {
    pub fields: TaskFields,
    pub add: Vec<DependencyPair>,
    pub remove: Vec<DependencyPair>,
}

impl TaskRequest {
    pub fn validate(&self) -> Result<TaskInput, ApiError> {
        let mut p = Problems::new();
        let title = p.not_blank("title", &self.title);
        // Optional (Pinit's): absent or null is an empty description.
        let description = Some(self.description.as_deref().unwrap_or_default());
        let due = p.required("dueDate", &self.due_date);
        let (date, zone_id, offset) = match due {
            Some(d) => (
                p.required("dueDate.date", &d.date),
                p.required("dueDate.zoneId", &d.zone_id),
                p.not_null("dueDate.offset", &d.offset),
            ),
            None => (None, None, None),
        };
        let importance = p.required("importance", &self.importance);
        let difficulty = p.required("difficulty", &self.difficulty);
        let add = pairs(&mut p, "addDependencies", &self.add_dependencies);
        let remove = pairs(&mut p, "removeDependencies", &self.remove_dependencies);
        if !p.is_empty() {
            return Err(p.into_error());
        }
        // Presence is settled; the domain rules follow.
        let title = title.and_then(|t| p.check("title", t, Title::parse(t)));
        let description =
            description.and_then(|d| p.check("description", d, Description::parse(d)));
        let offset = offset.map(String::as_str);
        let deadline = match (date, zone_id) {
            (Some(date), Some(zone)) => p.check(
                "dueDate",
                serde_json::json!({"date": date, "zoneId": zone, "offset": offset}),
                Deadline::parse(date, zone, offset),
            ),
            _ => None,
        };
        let importance = importance.and_then(|&i| p.check("importance", i, Importance::new(i)));
        let difficulty = difficulty.and_then(|&d| p.check("difficulty", d, Difficulty::new(d)));
        match (title, description, deadline, importance, difficulty) {
            (
                Some(title),
                Some(description),
                Some(deadline),
                Some(importance),
                Some(difficulty),
            ) => Ok(TaskInput {
                fields: TaskFields {
                    title,
                    description,
                    deadline,
                    importance,
                    difficulty,
                },
                add,
                remove,
            }),
            _ => Err(p.into_error()),
        }
    }
}

/// `TaskResponseV2`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskResponse {
    pub id: i64,
    pub owner_id: i64,
    pub title: String,
    pub description: String,
    pub due_date: DateWithOffset,
    pub importance: u8,
    pub difficulty: u8,
    pub completed: bool,
    pub inbound_dependency_count: usize,
    pub previous_task_ids: Vec<i64>,
    pub next_task_ids: Vec<i64>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&TaskView> for TaskResponse {
    fn from(v: &TaskView) -> Self {
        let t = &v.stored.task;
        let d = t.deadline();
        Self {
            id: t.id().get(),
            owner_id: t.owner_id().get(),
            title: t.title().as_str().to_owned(),
            description: t.description().as_str().to_owned(),
            due_date: DateWithOffset {
                date: d.date().to_string(),
                offset: d.offset_id(),
                zone_id: d.zone().id().to_owned(),
            },
            importance: t.importance().get(),
            difficulty: t.difficulty().get(),
            completed: t.is_completed(),
            inbound_dependency_count: v.previous.len(),
            previous_task_ids: v.previous.iter().map(|i| i.get()).collect(),
            next_task_ids: v.next.iter().map(|i| i.get()).collect(),
            created_at: v.stored.created_at.to_string(),
            updated_at: v.stored.updated_at.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct SortObject {
    pub empty: bool,
    pub sorted: bool,
    pub unsorted: bool,
}

/// Sorted by deadline date then id.
pub const SORTED: SortObject = SortObject {
    empty: false,
    sorted: true,
    unsorted: false,
};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageableObject {
    pub page_number: i64,
    pub page_size: i64,
    pub sort: SortObject,
    pub offset: i64,
    pub paged: bool,
    pub unpaged: bool,
}

/// Spring Data's `Page<TaskResponseV2>` JSON.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageResponse {
    pub content: Vec<TaskResponse>,
    pub pageable: PageableObject,
    pub last: bool,
    pub total_pages: i64,
    pub total_elements: i64,
    pub size: i64,
    pub number: i64,
    pub sort: SortObject,
    pub first: bool,
    pub number_of_elements: usize,
    pub empty: bool,
}

/// `TaskCursorPageResponseV2` / `TaskArchiveCursorPageResponseV2`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CursorResponse {
    pub data: Vec<TaskResponse>,
    pub next_cursor: Option<String>,
    pub has_next: bool,
}

// ---------------------------------------------------------------------------------------------
// Schedules
// ---------------------------------------------------------------------------------------------

/// `ScheduleSimpleRequest` (create); with `recurrence`, a repeating schedule.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleRequest {
    pub title: Option<String>,
    pub description: Option<String>,
    pub date: Option<DateTimeWithZoneIn>,
    pub schedule_type: Option<String>,
    #[serde(default)]
    pub recurrence: Option<RecurrenceIn>,
    /// The schedule's own reminders (with `recurrence`: the series'); absent or `null`: the member's default.
    #[serde(default)]
    pub reminders: Option<Vec<String>>,
    /// Its planned length (with `recurrence`: each occurrence's); absent or `null`: not set.
    #[serde(default)]
    pub planned_duration: Option<String>,
}

/// `recurrence`: RFC 5545 `RRULE`, `EXDATE` and `RDATE` values, the dates as wall-clock times in the
/// schedule's `date.zoneId`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecurrenceIn {
    pub rrule: Option<String>,
    #[serde(default)]
    pub exdates: Vec<String>,
    #[serde(default)]
    pub rdates: Vec<String>,
}

impl RecurrenceIn {
    /// The recurrence, each problem named by its field (`recurrence.rrule`, `recurrence.exdates[2]`).
    pub fn parse(&self, p: &mut Problems) -> Option<Recurrence> {
        let rrule = p.required("recurrence.rrule", &self.rrule);
        let rule = rrule.and_then(|r| p.check("recurrence.rrule", r.as_str(), Rule::parse(r)));
        let exdates = local_times(p, "recurrence.exdates", &self.exdates);
        let rdates = local_times(p, "recurrence.rdates", &self.rdates);
        rule?;
        Recurrence::new(rrule?, exdates?, rdates?).ok()
    }
}

/// A list of wall-clock times (at most [`MAX_DATES`]), each checked.
fn local_times(p: &mut Problems, field: &str, values: &[String]) -> Option<Vec<DateTime>> {
    if values.len() > MAX_DATES {
        p.check::<(), _>(
            field,
            Value::Null,
            Err(format!("at most {MAX_DATES} dates")),
        );
        return None;
    }
    let parsed: Vec<Option<DateTime>> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            p.check(
                &format!("{field}[{i}]"),
                v.as_str(),
                parse_local_date_time(v),
            )
        })
        .collect();
    parsed.into_iter().collect()
}

/// `GET /v2/schedules/series/{id}`: a repeating schedule and its next occurrences.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeriesResponse {
    pub id: i64,
    pub owner_id: i64,
    pub title: String,
    pub description: String,
    pub schedule_type: &'static str,
    /// The first occurrence's start (DTSTART).
    pub start: DateTimeWithZone,
    pub recurrence: RecurrenceOut,
    /// The reminders its occurrences follow unless they have their own; `null`: the member's default.
    pub reminders: Option<Vec<String>>,
    /// The planned length its occurrences are made with; `null`: not set.
    pub planned_duration: Option<String>,
    /// The next occurrences from now, at most ten.
    pub next: Vec<DateTimeWithZone>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecurrenceOut {
    pub rrule: String,
    pub exdates: Vec<String>,
    pub rdates: Vec<String>,
}

impl SeriesResponse {
    pub fn of(view: &SeriesView) -> Self {
        let stored = &view.stored;
        let series = &stored.series;
        let s = &series.spec;
        let times = |dates: &[DateTime]| dates.iter().map(|d| format_local_date_time(*d)).collect();
        Self {
            id: series.id.get(),
            owner_id: series.owner_id.get(),
            title: s.title.as_str().to_owned(),
            description: s.description.as_str().to_owned(),
            schedule_type: s.schedule_type.as_str(),
            start: DateTimeWithZone {
                date_time: format_local_date_time(s.start),
                zone_id: s.zone.id().to_owned(),
            },
            recurrence: RecurrenceOut {
                rrule: s.recurrence.rrule.clone(),
                exdates: times(&s.recurrence.exdates),
                rdates: times(&s.recurrence.rdates),
            },
            reminders: series.reminders.as_ref().map(Reminders::to_iso),
            planned_duration: s.planned.map(PlannedDuration::to_iso),
            next: view
                .next
                .iter()
                .map(|o| DateTimeWithZone::of(o.at, &s.zone))
                .collect(),
            created_at: stored.created_at.to_string(),
            updated_at: stored.updated_at.to_string(),
        }
    }
}

/// `ScheduleSimplePatchRequest`: every field optional, none `null`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchedulePatchRequest {
    #[serde(default)]
    pub title: Field<String>,
    #[serde(default)]
    pub description: Field<String>,
    #[serde(default)]
    pub date: Field<DateTimeWithZoneIn>,
    #[serde(default)]
    pub schedule_type: Field<String>,
    /// With `scope=following|all` on an occurrence: the series' new rule.
    #[serde(default)]
    pub recurrence: Option<RecurrenceIn>,
    /// A list sets the schedule's own reminders (with `scope=following|all` on an occurrence: the series');
    /// `null` drops them (it follows its series', else the member's default).
    #[serde(default)]
    pub reminders: Field<Vec<String>>,
    /// A planned length (with `scope=following|all` on an occurrence: the series' too); `null` clears it.
    #[serde(default)]
    pub planned_duration: Field<String>,
}

/// `TaskScheduleRequest` (`title` and `description` default to the task's).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskScheduleRequest {
    #[serde(default)]
    pub title: Field<String>,
    #[serde(default)]
    pub description: Field<String>,
    pub date: Option<DateTimeWithZoneIn>,
    pub schedule_type: Option<String>,
    /// A repeating schedule from the task (its occurrences are not linked to the task).
    #[serde(default)]
    pub recurrence: Option<RecurrenceIn>,
    /// As [`ScheduleRequest::reminders`].
    #[serde(default)]
    pub reminders: Option<Vec<String>>,
    /// As [`ScheduleRequest::planned_duration`].
    #[serde(default)]
    pub planned_duration: Option<String>,
}

pub fn schedule_type(p: &mut Problems, value: &str) -> Option<ScheduleType> {
    p.check("scheduleType", value, ScheduleType::parse(value))
}

/// `ScheduleSimpleResponse`, rendered in a view zone.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleResponse {
    pub id: i64,
    pub owner_id: i64,
    pub task_id: Option<i64>,
    pub task_completed: Option<bool>,
    pub title: String,
    pub description: String,
    pub date: DateTimeWithZone,
    pub schedule_type: &'static str,
    pub duration: String,
    pub state: &'static str,
    pub created_at: String,
    pub updated_at: String,
    /// The repeating schedule this is an occurrence of (absent for a one-off schedule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series_id: Option<i64>,
    /// The occurrence's original start, wall clock in the series' zone (RECURRENCE-ID): unchanged when
    /// the occurrence is moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurrence_start: Option<String>,
    /// Its own reminders, else its series'; `null` when it follows the member's default.
    pub reminders: Option<Vec<String>>,
    /// Its planned length (ISO 8601); `null` when not set (shown as an hour).
    pub planned_duration: Option<String>,
    /// When the session running now began (IN_PROGRESS only; `duration` holds the finished sessions).
    pub running_since: Option<String>,
}

impl ScheduleResponse {
    pub fn of(stored: &StoredSchedule, view_zone: &Zone) -> Self {
        let s = &stored.schedule;
        Self {
            id: s.id().get(),
            owner_id: s.owner_id().get(),
            task_id: s.task_id().map(|t| t.get()),
            task_completed: s.task_id().and(stored.task_completed),
            title: s.title().as_str().to_owned(),
            description: s.description().as_str().to_owned(),
            date: DateTimeWithZone::of(s.designated_start(), view_zone),
            schedule_type: s.schedule_type().as_str(),
            duration: format_duration(s.elapsed()),
            state: s.state().as_str(),
            created_at: stored.created_at.to_string(),
            updated_at: stored.updated_at.to_string(),
            series_id: stored.occurrence.map(|o| o.series.get()),
            occurrence_start: stored.occurrence.map(|o| format_local_date_time(o.start)),
            reminders: Inherited::shown(s.reminders(), stored.series_reminders.as_ref())
                .map(Reminders::to_iso),
            planned_duration: s.planned().map(PlannedDuration::to_iso),
            running_since: s.run().running_since().map(|t| t.to_string()),
        }
    }
}

/// `GET /v2/statistics/plan`: a week of planned against worked.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanResponse {
    pub zone_id: String,
    pub daily_objective: String,
    pub streak: u32,
    pub days: Vec<PlanDay>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanDay {
    pub date: String,
    pub planned: PlanTotals,
    pub worked: PlanTotals,
    pub met: bool,
}

/// Durations by schedule type, and their total.
#[derive(Debug, Clone, Serialize)]
pub struct PlanTotals {
    #[serde(rename = "DEEP_WORK")]
    pub deep_work: String,
    #[serde(rename = "QUICK_TASK")]
    pub quick_task: String,
    #[serde(rename = "ADMIN_TASK")]
    pub admin_task: String,
    pub total: String,
}

impl PlanTotals {
    fn of(by: &crate::domain::plan::ByType) -> Self {
        Self {
            deep_work: format_duration(by.deep_work),
            quick_task: format_duration(by.quick_task),
            admin_task: format_duration(by.admin_task),
            total: format_duration(by.total()),
        }
    }
}

impl PlanResponse {
    pub fn of(view: &crate::app::members::PlanView, zone: &Zone) -> Self {
        Self {
            zone_id: zone.id().to_owned(),
            daily_objective: format_duration(view.objective.duration()),
            streak: view.streak,
            days: view
                .days
                .iter()
                .map(|d| PlanDay {
                    date: d.date.to_string(),
                    planned: PlanTotals::of(&d.planned),
                    worked: PlanTotals::of(&d.worked),
                    met: d.met,
                })
                .collect(),
        }
    }
}

/// `StatisticsResponse`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatisticsResponse {
    pub member_id: i64,
    pub start_of_week: DateTimeWithZone,
    pub deep_work_elapsed_time: String,
    pub admin_work_elapsed_time: String,
    pub total_work_elapsed_time: String,
}

impl StatisticsResponse {
    pub fn of(member: i64, week: &WeekKey, totals: &WeeklyTotals) -> Self {
        Self {
            member_id: member,
            start_of_week: DateTimeWithZone {
                date_time: format!("{}T00:00:00", week.start),
                zone_id: week.zone_id.clone(),
            },
            deep_work_elapsed_time: format_duration(totals.deep_work),
            admin_work_elapsed_time: format_duration(totals.admin_work),
            total_work_elapsed_time: format_duration(totals.total),
        }
    }
}

/// `time` + `zoneId`, both required (the day and week reads of schedules, busy time and statistics).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeQuery {
    time: Option<String>,
    zone_id: Option<String>,
}

impl TimeQuery {
    /// The required `time` + `zoneId` pair.
    pub fn required(&self) -> Result<(DateTime, crate::domain::Zone), ApiError> {
        let time = required_param("time", "LocalDateTime", &self.time)?;
        let zone = required_param("zoneId", "ZoneId", &self.zone_id)?;
        let mut p = Problems::new();
        zoned(&mut p, "time", time, "zoneId", zone).ok_or_else(|| p.into_error())
    }

    /// The optional pair of the run operations: the moment the client says the member pressed the button
    /// (`zoneId` absent: the member's zone), checked when present (ADR 0004, "Dated changes").
    pub fn asked(&self) -> Result<Option<crate::app::schedules::Asked>, ApiError> {
        let mut p = Problems::new();
        let local = self
            .time
            .as_deref()
            .and_then(|time| p.check("time", time, parse_local_date_time(time)));
        let zone = self
            .zone_id
            .as_deref()
            .and_then(|zone| p.check("zoneId", zone, crate::domain::Zone::parse(zone)));
        p.finish()?;
        Ok(local.map(|local| crate::app::schedules::Asked { local, zone }))
    }

    /// The local day of `time` in `zoneId`, and the zone.
    pub fn day(&self) -> Result<(crate::domain::Window, crate::domain::Zone), ApiError> {
        let (local, zone) = self.required()?;
        let window = crate::domain::Window::day(local.date(), &zone).map_err(time_error)?;
        Ok((window, zone))
    }

    /// The ISO week (Monday start) of `time` in `zoneId`, and the zone.
    pub fn week(&self) -> Result<(crate::domain::Window, crate::domain::Zone), ApiError> {
        let (local, zone) = self.required()?;
        let window = crate::domain::Window::week(local.date(), &zone).map_err(time_error)?;
        Ok((window, zone))
    }
}

fn time_error(e: crate::domain::TimeError) -> ApiError {
    ApiError::from(crate::app::AppError::from(e))
}
