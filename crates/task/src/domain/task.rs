//! The task aggregate and its values (docs/contract/task.md#field-rules, #time), and the task side of
//! the task ↔ schedule link (docs/contract/task.md#task-and-schedule-link).

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::Offset;

use super::dependency::Prerequisites;
use super::error::{TaskError, TimeError, ValidationError};
use super::event::DomainEvent;
use super::schedule::{Schedule, ScheduleState};
use super::text::{Description, Title};
use super::time::{Zone, offset_id, parse_date, parse_offset};
use super::{Effects, MemberId, TaskId};

/// Importance 1..=9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Importance(u8);

impl Importance {
    pub fn new(level: i64) -> Result<Self, ValidationError> {
        match u8::try_from(level) {
            Ok(v @ 1..=9) => Ok(Self(v)),
            _ => Err(ValidationError::Importance(level)),
        }
    }

    pub const fn get(self) -> u8 {
        self.0
    }
}

/// Difficulty, one of the Fibonacci levels 1, 2, 3, 5, 8, 13, 21.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Difficulty(u8);

impl Difficulty {
    pub const LEVELS: [u8; 7] = [1, 2, 3, 5, 8, 13, 21];

    pub fn new(level: i64) -> Result<Self, ValidationError> {
        match u8::try_from(level) {
            Ok(v) if Self::LEVELS.contains(&v) => Ok(Self(v)),
            _ => Err(ValidationError::Difficulty(level)),
        }
    }

    pub const fn get(self) -> u8 {
        self.0
    }
}

/// A deadline: a date in a zone (`DateWithOffset`); the time of day does not exist.
///
/// Its instant is the first instant of the date in the zone; its offset (shown in responses) is
/// the zone's offset at that instant, always recomputed from the zone rules (docs/contract/task.md#time).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Deadline {
    date: Date,
    zone: Zone,
    start: Timestamp,
}

impl Deadline {
    pub fn new(date: Date, zone: Zone) -> Result<Self, ValidationError> {
        let start = zone.start_of_day(date)?;
        Ok(Self { date, zone, start })
    }

    /// From a request's `DateWithOffset {date, zoneId, offset?}`. The optional `offset` is checked
    /// against the zone's rules at the date's start (400 `"제공된 offset이 zoneId의 규칙과 일치하지
    /// 않습니다."`) instead of being silently ignored (docs/contract/task.md#server-time).
    pub fn parse(date: &str, zone_id: &str, offset: Option<&str>) -> Result<Self, ValidationError> {
        let date = parse_date(date)?;
        let zone = Zone::parse(zone_id)?;
        let deadline = Self::new(date, zone)?;
        if let Some(offset) = offset
            && parse_offset(offset)? != deadline.offset()
        {
            return Err(ValidationError::OffsetMismatch);
        }
        Ok(deadline)
    }

    pub fn date(&self) -> Date {
        self.date
    }

    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// The deadline's instant: 00:00 of the date in its zone (the first instant after a gap).
    pub fn start(&self) -> Timestamp {
        self.start
    }

    pub fn offset(&self) -> Offset {
        self.zone.offset_at(self.start)
    }

    /// `dueDate.offset` as rendered: `+09:00`, `Z`.
    pub fn offset_id(&self) -> String {
        offset_id(self.offset())
    }
}

impl From<TimeError> for TaskError {
    fn from(e: TimeError) -> Self {
        Self::Invalid(e.into())
    }
}

/// The editable fields, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFields {
    pub title: Title,
    pub description: Description,
    pub deadline: Deadline,
    pub importance: Importance,
    pub difficulty: Difficulty,
}

/// A patch: present fields are replaced (each already validated).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskPatch {
    pub title: Option<Title>,
    pub description: Option<Description>,
    pub deadline: Option<Deadline>,
    pub importance: Option<Importance>,
    pub difficulty: Option<Difficulty>,
}

/// A task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    id: TaskId,
    owner_id: MemberId,
    fields: TaskFields,
    completed: bool,
}

impl Task {
    /// A new, incomplete task.
    pub fn new(id: TaskId, owner_id: MemberId, fields: TaskFields) -> Self {
        Self::restore(id, owner_id, fields, false)
    }

    /// What creating this task emits: `task.created` (Pinit's addition, for webhooks).
    pub fn created(&self) -> Effects {
        Effects {
            events: vec![DomainEvent::TaskCreated {
                task_id: self.id,
                owner_id: self.owner_id,
            }],
            ..Effects::default()
        }
    }

    /// A task as stored.
    pub fn restore(id: TaskId, owner_id: MemberId, fields: TaskFields, completed: bool) -> Self {
        Self {
            id,
            owner_id,
            fields,
            completed,
        }
    }

    pub fn id(&self) -> TaskId {
        self.id
    }

    pub fn owner_id(&self) -> MemberId {
        self.owner_id
    }

    pub fn fields(&self) -> &TaskFields {
        &self.fields
    }

    pub fn title(&self) -> &Title {
        &self.fields.title
    }

    pub fn description(&self) -> &Description {
        &self.fields.description
    }

    pub fn deadline(&self) -> &Deadline {
        &self.fields.deadline
    }

    pub fn importance(&self) -> Importance {
        self.fields.importance
    }

    pub fn difficulty(&self) -> Difficulty {
        self.fields.difficulty
    }

    pub fn is_completed(&self) -> bool {
        self.completed
    }

    /// Replaces the present fields (allowed in any state, as the reference).
    pub fn patch(&mut self, patch: TaskPatch) {
        let f = &mut self.fields;
        if let Some(v) = patch.title {
            f.title = v;
        }
        if let Some(v) = patch.description {
            f.description = v;
        }
        if let Some(v) = patch.deadline {
            f.deadline = v;
        }
        if let Some(v) = patch.importance {
            f.importance = v;
        }
        if let Some(v) = patch.difficulty {
            f.difficulty = v;
        }
    }

    /// Sets the flag; the event only when it changes (complete/reopen are idempotent —
    /// docs/contract/task.md#complete-and-reopen).
    pub(crate) fn set_completed(&mut self, completed: bool) -> Option<DomainEvent> {
        if self.completed == completed {
            return None;
        }
        self.completed = completed;
        Some(if completed {
            DomainEvent::TaskCompleted {
                task_id: self.id,
                owner_id: self.owner_id,
            }
        } else {
            DomainEvent::TaskCanceled {
                task_id: self.id,
                owner_id: self.owner_id,
            }
        })
    }

    fn check_link(&self, schedule: Option<&Schedule>) -> Result<(), TaskError> {
        match schedule {
            Some(s) if s.task_id() != Some(self.id) => Err(TaskError::Precondition(
                "the schedule given is not linked to this task",
            )),
            _ => Ok(()),
        }
    }

    /// `POST /v2/tasks/{id}/complete`.
    ///
    /// `schedule` is the linked schedule if any, `prerequisites` this task's. In order:
    /// * a linked schedule IN_PROGRESS or SUSPENDED → 409 (complete it through the schedule);
    /// * already completed (and no NOT_STARTED schedule to finish) → nothing happens (idempotent);
    /// * a prerequisite not completed → 409 (the reference did not check;
    ///   docs/contract/task.md#running-slot-and-prerequisites);
    /// * a NOT_STARTED linked schedule is completed at `now` with zero elapsed (recorded in
    ///   `member_zone`'s week) — "completing either side completes the other";
    /// * the task is marked completed.
    ///
    /// Events: `schedule.state.completed` (if a schedule was finished), then `task.completed`.
    pub fn complete(
        &mut self,
        prerequisites: &Prerequisites,
        schedule: Option<&mut Schedule>,
        now: Timestamp,
        member_zone: &Zone,
    ) -> Result<Effects, TaskError> {
        self.check_link(schedule.as_deref())?;
        if prerequisites.task() != Some(self.id) {
            return Err(TaskError::Precondition(
                "the prerequisites given are not this task's",
            ));
        }
        let schedule_state = schedule.as_deref().map(Schedule::state);
        if let Some(s) = schedule.as_deref()
            && s.state().holds_slot()
        {
            return Err(TaskError::ScheduleRunning { schedule: s.id() });
        }
        let finishes_schedule = schedule_state == Some(ScheduleState::NotStarted);
        if self.completed && !finishes_schedule {
            return Ok(Effects::default());
        }
        if !prerequisites.all_completed() {
            return Err(TaskError::PrerequisitesIncomplete {
                incomplete: prerequisites.incomplete(),
            });
        }
        let mut effects = match schedule {
            Some(s) if finishes_schedule => s.finish(now, member_zone)?,
            _ => Effects::default(),
        };
        effects.events.extend(self.set_completed(true));
        Ok(effects)
    }

    /// `POST /v2/tasks/{id}/reopen`.
    ///
    /// Already incomplete → nothing happens (idempotent). Otherwise the task is marked incomplete,
    /// and a COMPLETED linked schedule is reset to NOT_STARTED with its statistics record reverted
    /// (the reference left it completed — docs/contract/task.md#complete-and-reopen). Events:
    /// `schedule.state.canceled` (if reset), then `task.canceled`. `now` is only the reset's clock.
    pub fn reopen(
        &mut self,
        schedule: Option<&mut Schedule>,
        now: Timestamp,
    ) -> Result<Effects, TaskError> {
        self.check_link(schedule.as_deref())?;
        if !self.completed {
            return Ok(Effects::default());
        }
        let mut effects = match schedule {
            Some(s) if s.state() == ScheduleState::Completed => s.reset(now)?,
            _ => Effects::default(),
        };
        effects.events.extend(self.set_completed(false));
        Ok(effects)
    }

    /// Whether this task is ready to be worked on (see [`super::dependency::is_ready`]).
    pub fn is_ready(&self, prerequisites: &Prerequisites) -> bool {
        super::dependency::is_ready(self.completed, prerequisites)
    }
}

/// `POST /v2/tasks/{id}/schedules` when the task already has a schedule: 409
/// `"해당 작업에 이미 연결된 일정이 존재합니다."`.
pub fn ensure_not_scheduled(has_schedule: bool) -> Result<(), TaskError> {
    if has_schedule {
        Err(TaskError::AlreadyScheduled)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::msg;
    use jiff::civil::date;

    fn zone(id: &str) -> Zone {
        Zone::parse(id).unwrap()
    }

    #[test]
    fn importance_bounds() {
        assert_eq!(Importance::new(1).unwrap().get(), 1);
        assert_eq!(Importance::new(9).unwrap().get(), 9);
        for bad in [0, 10, -1, 256, i64::MAX] {
            let err = Importance::new(bad).unwrap_err();
            assert_eq!(err, ValidationError::Importance(bad));
            assert_eq!(err.to_string(), "중요도 레벨은 1에서 9 사이여야 합니다.");
            assert_eq!(err.class().status(), 400);
        }
    }

    #[test]
    fn difficulty_is_fibonacci() {
        for ok in [1, 2, 3, 5, 8, 13, 21] {
            assert_eq!(i64::from(Difficulty::new(ok).unwrap().get()), ok);
        }
        // ImportanceConstraintTest: 4 on create and 0 on change are refused with the exact message.
        for bad in [0, 4, 6, 7, 20, 22, 34, -1, 257] {
            let err = Difficulty::new(bad).unwrap_err();
            assert_eq!(err.to_string(), msg::DIFFICULTY_SET);
            assert_eq!(
                err.to_string(),
                "난이도 레벨은 1, 2, 3, 5, 8, 13, 21 중 하나여야 합니다."
            );
        }
    }

    #[test]
    fn deadline_renders_the_zone_offset_at_its_start() {
        let d = Deadline::parse("2024-04-01", "Asia/Seoul", Some("+09:00")).unwrap();
        assert_eq!(d.date(), date(2024, 4, 1));
        assert_eq!(d.zone().id(), "Asia/Seoul");
        assert_eq!(d.offset_id(), "+09:00");
        assert_eq!(
            d.start(),
            "2024-03-31T15:00:00Z".parse::<Timestamp>().unwrap()
        );
        let utc = Deadline::parse("2024-04-01", "UTC", None).unwrap();
        assert_eq!(utc.offset_id(), "Z");
    }

    #[test]
    fn deadline_offset_must_match_the_zone_rules() {
        let err = Deadline::parse("2024-04-01", "Asia/Seoul", Some("+08:00")).unwrap_err();
        assert_eq!(err, ValidationError::OffsetMismatch);
        assert_eq!(
            err.to_string(),
            "제공된 offset이 zoneId의 규칙과 일치하지 않습니다."
        );
        // New York on 2026-03-08: midnight is still EST.
        assert!(Deadline::parse("2026-03-08", "America/New_York", Some("-05:00")).is_ok());
        assert!(Deadline::parse("2026-03-08", "America/New_York", Some("-04:00")).is_err());
        assert!(matches!(
            Deadline::parse("2026-03-08", "Nowhere/City", None),
            Err(ValidationError::Time(TimeError::Zone(_)))
        ));
        assert!(matches!(
            Deadline::parse("2026-3-8", "UTC", None),
            Err(ValidationError::Time(TimeError::Date(_)))
        ));
        assert!(matches!(
            Deadline::parse("2026-03-08", "UTC", Some("nine")),
            Err(ValidationError::Time(TimeError::Offset(_)))
        ));
    }

    #[test]
    fn deadline_equality_follows_date_and_zone() {
        // TemporalConstraintTest: differs on date and on zone.
        let a = Deadline::new(date(2025, 1, 1), zone("Asia/Seoul")).unwrap();
        assert_eq!(
            a,
            Deadline::new(date(2025, 1, 1), zone("Asia/Seoul")).unwrap()
        );
        assert_ne!(
            a,
            Deadline::new(date(2025, 1, 2), zone("Asia/Seoul")).unwrap()
        );
        assert_ne!(a, Deadline::new(date(2025, 1, 1), zone("+09:00")).unwrap());
        assert_ne!(a, Deadline::new(date(2025, 1, 1), Zone::utc()).unwrap());
    }

    #[test]
    fn by_deadline_window_keeps_tasks_by_their_own_zone_instant() {
        // TaskServiceTest: Asia/Tokyo 2025-03-09 keeps the New-York-midnight task of 03-09
        // (05:00Z) and drops the one of 03-10 (04:00Z, after DST started).
        let window = crate::domain::Window::day(date(2025, 3, 9), &zone("Asia/Tokyo")).unwrap();
        let ny = zone("America/New_York");
        let d9 = Deadline::new(date(2025, 3, 9), ny.clone()).unwrap();
        let d10 = Deadline::new(date(2025, 3, 10), ny).unwrap();
        assert!(window.contains(d9.start()));
        assert!(!window.contains(d10.start()));
    }

    #[test]
    fn patch_replaces_only_present_fields() {
        let fields = TaskFields {
            title: Title::parse("t").unwrap(),
            description: Description::parse("d").unwrap(),
            deadline: Deadline::new(date(2025, 1, 1), Zone::utc()).unwrap(),
            importance: Importance::new(5).unwrap(),
            difficulty: Difficulty::new(3).unwrap(),
        };
        let mut task = Task::new(TaskId(1), MemberId(2), fields.clone());
        task.patch(TaskPatch {
            title: Some(Title::parse("new").unwrap()),
            difficulty: Some(Difficulty::new(21).unwrap()),
            ..TaskPatch::default()
        });
        assert_eq!(task.title().as_str(), "new");
        assert_eq!(task.difficulty().get(), 21);
        assert_eq!(task.description(), &fields.description);
        assert_eq!(task.importance(), fields.importance);
        assert_eq!(task.deadline(), &fields.deadline);
    }

    #[test]
    fn task_already_scheduled_is_a_conflict() {
        assert!(ensure_not_scheduled(false).is_ok());
        let err = ensure_not_scheduled(true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "해당 작업에 이미 연결된 일정이 존재합니다."
        );
        assert_eq!(err.class().status(), 409);
    }
}
