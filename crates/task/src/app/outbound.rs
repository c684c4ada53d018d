//! Domain events → outbox rows (the reference's payloads, docs/contract/task.md#events; our outbox's
//! stable ids and aggregate versions).
//!
//! The payload types are the published language's (`pinit_contracts::events`); `idempotentKey` and
//! `occurredAt` are written by the outbox (the event id, and the instant of the change).
//! `newUpcomingTime` is always the instant in UTC with its `Z` offset (the reference sent UTC from
//! create and the client's offset from PATCH — docs/contract/task.md#event-delivery). `reminders` is always
//! sent: the effective list as canonical ISO 8601 offsets (`["-PT10M", "PT0S"]`; `[]` for none).

use std::collections::HashMap;

use jiff::Timestamp;
use pinit_contracts::events as wire;
use pinit_kernel::db::Tx;
use pinit_messaging::message::OutgoingEvent;
use pinit_messaging::outbox::{Outbox, OutboxError};

use crate::domain::{AggregateRef, DomainEvent, ScheduleState};

fn wire_state(s: ScheduleState) -> wire::ScheduleState {
    match s {
        ScheduleState::NotStarted => wire::ScheduleState::NotStarted,
        ScheduleState::InProgress => wire::ScheduleState::InProgress,
        ScheduleState::Suspended => wire::ScheduleState::Suspended,
        ScheduleState::Completed => wire::ScheduleState::Completed,
    }
}

/// The outbox row for one event. `version` is the aggregate's version after the change.
pub(crate) fn outgoing(
    event: &DomainEvent,
    version: i64,
    now: Timestamp,
) -> Result<OutgoingEvent, serde_json::Error> {
    let channel = event.channel();
    let (kind, id) = match event.aggregate() {
        AggregateRef::Schedule(id) => ("schedule", id.get()),
        AggregateRef::Task(id) => ("task", id.get()),
    };
    let key = String::new();
    let state_changed =
        |schedule_id: crate::domain::ScheduleId, owner_id: crate::domain::MemberId, before| {
            wire::ScheduleStateChanged {
                schedule_id: schedule_id.get(),
                owner_id: owner_id.get(),
                before_state: wire_state(before),
                occurred_at: now,
                idempotent_key: key.clone(),
            }
        };
    match *event {
        DomainEvent::ScheduleUpcomingTimeUpdated {
            schedule_id,
            owner_id,
            new_upcoming_time,
            ref reminders,
        } => OutgoingEvent::new(
            channel,
            kind,
            id,
            version,
            &wire::ScheduleTimeUpcomingState {
                schedule_id: schedule_id.get(),
                owner_id: owner_id.get(),
                new_upcoming_time,
                occurred_at: now,
                idempotent_key: key.clone(),
                reminders: Some(reminders.to_iso()),
            },
            now,
        ),
        DomainEvent::ScheduleDetailsUpdated {
            schedule_id,
            owner_id,
            ref changed,
        } => OutgoingEvent::new(
            channel,
            kind,
            id,
            version,
            &wire::ScheduleDetailsUpdated {
                schedule_id: schedule_id.get(),
                owner_id: owner_id.get(),
                changed: changed.iter().map(|c| c.to_string()).collect(),
                occurred_at: now,
                idempotent_key: key.clone(),
            },
            now,
        ),
        DomainEvent::ScheduleDeleted {
            schedule_id,
            owner_id,
            ..
        } => OutgoingEvent::new(
            channel,
            kind,
            id,
            version,
            &wire::ScheduleDeleted {
                schedule_id: schedule_id.get(),
                owner_id: owner_id.get(),
                occurred_at: now,
                idempotent_key: key.clone(),
            },
            now,
        ),
        DomainEvent::ScheduleStarted {
            schedule_id,
            owner_id,
            before_state,
        }
        | DomainEvent::ScheduleSuspended {
            schedule_id,
            owner_id,
            before_state,
        }
        | DomainEvent::ScheduleCompleted {
            schedule_id,
            owner_id,
            before_state,
        }
        | DomainEvent::ScheduleCanceled {
            schedule_id,
            owner_id,
            before_state,
        } => OutgoingEvent::new(
            channel,
            kind,
            id,
            version,
            &state_changed(schedule_id, owner_id, before_state),
            now,
        ),
        DomainEvent::TaskCreated { task_id, owner_id } => OutgoingEvent::new(
            channel,
            kind,
            id,
            version,
            &wire::TaskCreated {
                task_id: task_id.get(),
                owner_id: owner_id.get(),
                occurred_at: now,
                idempotent_key: key.clone(),
            },
            now,
        ),
        DomainEvent::TaskCompleted { task_id, owner_id } => OutgoingEvent::new(
            channel,
            kind,
            id,
            version,
            &wire::TaskCompleted {
                task_id: task_id.get(),
                owner_id: owner_id.get(),
                occurred_at: now,
                idempotent_key: key.clone(),
            },
            now,
        ),
        DomainEvent::TaskCanceled { task_id, owner_id } => OutgoingEvent::new(
            channel,
            kind,
            id,
            version,
            &wire::TaskCanceled {
                task_id: task_id.get(),
                owner_id: owner_id.get(),
                occurred_at: now,
                idempotent_key: key.clone(),
            },
            now,
        ),
    }
}

/// Records `events` in order inside the use case's transaction.
pub(crate) async fn record(
    outbox: &Outbox,
    tx: &mut Tx,
    events: &[DomainEvent],
    versions: &HashMap<AggregateRef, i64>,
    now: Timestamp,
) -> Result<(), OutboxError> {
    for event in events {
        // Every event's aggregate was saved (or deleted) by the use case, so its version is known;
        // 1 is the version of a row that was only inserted.
        let version = versions.get(&event.aggregate()).copied().unwrap_or(1);
        outbox.record(tx, outgoing(event, version, now)?).await?;
    }
    Ok(())
}
