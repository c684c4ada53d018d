//! Domain events: what happened, for the app layer to record as outbox rows in the same transaction
//! (docs/contract/task.md#events). Events are only produced by operations that succeeded, after every
//! check, so no stale event can leak (docs/contract/task.md#event-delivery).

use jiff::Timestamp;
use pinit_contracts::events::{Channel, channel};

use super::reminders::Reminders;
use super::schedule::ScheduleState;
use super::{MemberId, ScheduleId, TaskId};

/// One domain event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainEvent {
    /// `schedule.time.upcoming.updated`: a schedule was created, its start time was changed, or the reminders
    /// it is armed with changed while it is NOT_STARTED. `new_upcoming_time` is an instant (render it with an
    /// offset, docs/contract/task.md#events); `reminders` the effective list (its own, else its series', else
    /// the member's default — [`Inherited::effective`](super::reminders::Inherited::effective)).
    ScheduleUpcomingTimeUpdated {
        schedule_id: ScheduleId,
        owner_id: MemberId,
        new_upcoming_time: Timestamp,
        reminders: Reminders,
    },
    /// `schedule.details.updated` (Pinit's addition, for webhooks): a patch changed the title, description or
    /// type (`changed` names which, in [`pinit_contracts::events::SCHEDULE_DETAILS`]) and neither the start nor
    /// the armed reminders — those make [`Self::ScheduleUpcomingTimeUpdated`] instead: one event per edit.
    ScheduleDetailsUpdated {
        schedule_id: ScheduleId,
        owner_id: MemberId,
        changed: Vec<&'static str>,
    },
    /// `schedule.deleted` (the task id is kept here, though the reference payload drops it).
    ScheduleDeleted {
        schedule_id: ScheduleId,
        owner_id: MemberId,
        task_id: Option<TaskId>,
    },
    /// `schedule.state.started`: NOT_STARTED → IN_PROGRESS or SUSPENDED → IN_PROGRESS (resume).
    ScheduleStarted {
        schedule_id: ScheduleId,
        owner_id: MemberId,
        before_state: ScheduleState,
    },
    /// `schedule.state.suspended` (Pinit's addition, for webhooks): IN_PROGRESS → SUSPENDED (a pause).
    ScheduleSuspended {
        schedule_id: ScheduleId,
        owner_id: MemberId,
        before_state: ScheduleState,
    },
    /// `schedule.state.completed`: NOT_STARTED or IN_PROGRESS → COMPLETED.
    ScheduleCompleted {
        schedule_id: ScheduleId,
        owner_id: MemberId,
        before_state: ScheduleState,
    },
    /// `schedule.state.canceled`: IN_PROGRESS, SUSPENDED or COMPLETED → NOT_STARTED.
    ScheduleCanceled {
        schedule_id: ScheduleId,
        owner_id: MemberId,
        before_state: ScheduleState,
    },
    /// `task.created` (Pinit's addition, for webhooks).
    TaskCreated { task_id: TaskId, owner_id: MemberId },
    /// `task.completed`.
    TaskCompleted { task_id: TaskId, owner_id: MemberId },
    /// `task.canceled` (a task reopened, by itself or by its schedule's cancel).
    TaskCanceled { task_id: TaskId, owner_id: MemberId },
}

/// The aggregate an event belongs to (the outbox orders rows per aggregate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateRef {
    Schedule(ScheduleId),
    Task(TaskId),
}

impl DomainEvent {
    /// The channel (exchange, routing key, message) of the published language.
    pub const fn channel(&self) -> Channel {
        match self {
            Self::ScheduleUpcomingTimeUpdated { .. } => channel::SCHEDULE_TIME_UPCOMING_UPDATED,
            Self::ScheduleDetailsUpdated { .. } => channel::SCHEDULE_DETAILS_UPDATED,
            Self::ScheduleDeleted { .. } => channel::SCHEDULE_DELETED,
            Self::ScheduleStarted { .. } => channel::SCHEDULE_STATE_STARTED,
            Self::ScheduleSuspended { .. } => channel::SCHEDULE_STATE_SUSPENDED,
            Self::ScheduleCompleted { .. } => channel::SCHEDULE_STATE_COMPLETED,
            Self::ScheduleCanceled { .. } => channel::SCHEDULE_STATE_CANCELED,
            Self::TaskCreated { .. } => channel::TASK_CREATED,
            Self::TaskCompleted { .. } => channel::TASK_COMPLETED,
            Self::TaskCanceled { .. } => channel::TASK_CANCELED,
        }
    }

    /// The routing key (= AsyncAPI channel address).
    pub const fn routing_key(&self) -> &'static str {
        self.channel().routing_key
    }

    /// The exchange.
    pub const fn exchange(&self) -> &'static str {
        self.channel().exchange
    }

    pub const fn aggregate(&self) -> AggregateRef {
        match *self {
            Self::ScheduleUpcomingTimeUpdated { schedule_id, .. }
            | Self::ScheduleDetailsUpdated { schedule_id, .. }
            | Self::ScheduleDeleted { schedule_id, .. }
            | Self::ScheduleStarted { schedule_id, .. }
            | Self::ScheduleSuspended { schedule_id, .. }
            | Self::ScheduleCompleted { schedule_id, .. }
            | Self::ScheduleCanceled { schedule_id, .. } => AggregateRef::Schedule(schedule_id),
            Self::TaskCreated { task_id, .. }
            | Self::TaskCompleted { task_id, .. }
            | Self::TaskCanceled { task_id, .. } => AggregateRef::Task(task_id),
        }
    }

    pub const fn owner_id(&self) -> MemberId {
        match *self {
            Self::ScheduleUpcomingTimeUpdated { owner_id, .. }
            | Self::ScheduleDetailsUpdated { owner_id, .. }
            | Self::ScheduleDeleted { owner_id, .. }
            | Self::ScheduleStarted { owner_id, .. }
            | Self::ScheduleSuspended { owner_id, .. }
            | Self::ScheduleCompleted { owner_id, .. }
            | Self::ScheduleCanceled { owner_id, .. }
            | Self::TaskCreated { owner_id, .. }
            | Self::TaskCompleted { owner_id, .. }
            | Self::TaskCanceled { owner_id, .. } => owner_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_keys_and_exchanges_match_the_reference() {
        let s = ScheduleId(1);
        let o = MemberId(2);
        let t = TaskId(3);
        let b = ScheduleState::NotStarted;
        let cases = [
            (
                DomainEvent::ScheduleUpcomingTimeUpdated {
                    schedule_id: s,
                    owner_id: o,
                    new_upcoming_time: Timestamp::UNIX_EPOCH,
                    reminders: Reminders::at_start(),
                },
                "schedule.time.upcoming.updated",
                "task.schedule.direct",
            ),
            (
                DomainEvent::ScheduleDeleted {
                    schedule_id: s,
                    owner_id: o,
                    task_id: None,
                },
                "schedule.deleted",
                "task.schedule.direct",
            ),
            (
                DomainEvent::ScheduleStarted {
                    schedule_id: s,
                    owner_id: o,
                    before_state: b,
                },
                "schedule.state.started",
                "task.schedule.direct",
            ),
            (
                DomainEvent::ScheduleSuspended {
                    schedule_id: s,
                    owner_id: o,
                    before_state: ScheduleState::InProgress,
                },
                "schedule.state.suspended",
                "task.schedule.direct",
            ),
            (
                DomainEvent::ScheduleCompleted {
                    schedule_id: s,
                    owner_id: o,
                    before_state: b,
                },
                "schedule.state.completed",
                "task.schedule.direct",
            ),
            (
                DomainEvent::ScheduleCanceled {
                    schedule_id: s,
                    owner_id: o,
                    before_state: b,
                },
                "schedule.state.canceled",
                "task.schedule.direct",
            ),
            (
                DomainEvent::TaskCreated {
                    task_id: t,
                    owner_id: o,
                },
                "task.created",
                "task.task.direct",
            ),
            (
                DomainEvent::TaskCompleted {
                    task_id: t,
                    owner_id: o,
                },
                "task.completed",
                "task.task.direct",
            ),
            (
                DomainEvent::TaskCanceled {
                    task_id: t,
                    owner_id: o,
                },
                "task.canceled",
                "task.task.direct",
            ),
        ];
        for (event, key, exchange) in cases {
            assert_eq!(event.routing_key(), key);
            assert_eq!(event.exchange(), exchange);
            assert_eq!(event.owner_id(), o);
        }
    }
}
