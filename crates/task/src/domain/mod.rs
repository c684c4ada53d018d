//! The task context's rules as pure code: no database, no HTTP, no clock, no async.
//!
//! * [`text`] — title and description rules (lengths in UTF-16 code units, Java `isBlank`).
//! * [`task`] — the task aggregate and its values (deadline, importance, difficulty); completing and
//!   reopening a task together with its linked schedule.
//! * [`dependency`] — the per-member dependency DAG: request placeholders, cycle check, inbound counts,
//!   prerequisites and readiness.
//! * [`schedule`] — the schedule aggregate and its run state machine (docs/contract/task.md#state-machine),
//!   the running slot.
//! * [`recurrence`] — RFC 5545 recurrence rules (RRULE, EXDATE, RDATE) expanded lazily in a zone.
//! * [`series`] — a repeating schedule: its template, start, zone and recurrence; the occurrences it makes.
//! * [`planned`] — a schedule's planned length (`plannedDuration`), and the hour shown without one.
//! * [`reminders`] — offsets from a schedule's start at which its member is told; own, series', member's.
//! * [`stats`] — weekly statistics: which bucket a completion goes to, and how a cancel undoes it.
//! * [`time`] — zones, half-open day/week windows, the reference's date/time input and output formats.
//! * [`paging`] — page sizes and the two list cursors (ascending and archive).
//! * [`feed`] — calendar subscription feeds: kinds, tokens (stored as digests), windows.
//! * [`export`] — the export of a member's data (GDPR art. 20): its formats and sections.
//! * [`event`] — the domain events the app layer turns into outbox rows.
//! * [`error`] — every message and typed error, each with the HTTP status it means.
//!
//! Operations take the current instant as an argument (`now: Timestamp`, from the server clock) and
//! either change the aggregate and return [`Effects`] (events, statistics changes, the running-slot
//! change) or return a typed error and change nothing.

pub mod busy;
pub mod dependency;
pub mod error;
pub mod event;
pub mod export;
pub mod feed;
pub mod paging;
pub mod planned;
pub mod recurrence;
pub mod reminders;
pub mod schedule;
pub mod series;
pub mod stats;
pub mod task;
pub mod text;
pub mod time;

#[cfg(test)]
mod proptests;

pub use dependency::{
    CreateDependencies, DependencyChange, DependencyGraph, DependencyPair, Edge, Prerequisites,
    UpdateDependencies, is_ready,
};
pub use error::{
    CorruptRecord, DependencyError, ErrorClass, IllegalTransition, PagingError, ScheduleError,
    TaskError, TimeError, ValidationError,
};
pub use event::{AggregateRef, DomainEvent};
pub use feed::{FeedError, FeedId, FeedKind, FeedToken};
pub use paging::{ArchiveCursor, TaskCursor};
pub use planned::{PlannedDuration, PlannedDurationError};
pub use reminders::{Inherited, ReminderError, Reminders};
pub use schedule::{
    Operation, Run, RunSnapshot, RunState, Schedule, ScheduleDraft, SchedulePatch, ScheduleState,
    ScheduleType, SlotChange, Step, may_start, transition,
};
pub use series::{NewSeries, Recurrence, ScheduleSeries, Scope, SeriesSpec};
pub use stats::{Contribution, Deltas, StatsChange, WeekKey, WeeklyTotals};
pub use task::{
    Deadline, Difficulty, Importance, Task, TaskFields, TaskPatch, ensure_not_scheduled,
};
pub use text::{Description, Title};
pub use time::{Window, Zone};

use pinit_kernel::id_type;

id_type!(
    /// A member id (equal to the auth account id; 64-bit on the wire).
    MemberId
);
id_type!(
    /// A task id.
    TaskId
);
id_type!(
    /// A schedule id.
    ScheduleId
);
id_type!(
    /// A schedule series id (a repeating schedule).
    SeriesId
);

/// What a successful operation asks the app layer to do besides saving the aggregates it was given.
///
/// * `events` — in order; one outbox row each.
/// * `statistics` — changes to the weekly buckets, applied in the same transaction (see [`stats`]).
/// * `slot` — the change to the member's running slot (`member.now_running_schedule_id`).
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Effects {
    pub events: Vec<DomainEvent>,
    pub statistics: Vec<StatsChange>,
    pub slot: SlotChange,
}

impl Effects {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.statistics.is_empty() && self.slot == SlotChange::Unchanged
    }

    /// Appends `other` after `self` (events keep their order). A later slot change wins.
    pub fn merge(mut self, other: Effects) -> Effects {
        self.events.extend(other.events);
        self.statistics.extend(other.statistics);
        if other.slot != SlotChange::Unchanged {
            self.slot = other.slot;
        }
        self
    }
}
