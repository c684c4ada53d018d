//! Schedule events → upcoming notifications, through the inbox (in-process transport), on SQLite and
//! PostgreSQL: created/moved, removed, re-armed, and nothing changed by duplicates or stale events.

mod support;

use std::sync::atomic::Ordering;

use pinit_contracts::events::{ScheduleState, channel};
use pinit_kernel::Backend;
use serde_json::json;
use support::{deleted, event, id, secs, spawn_app, state_change, upcoming};

async fn upcoming_creates_then_moves_and_duplicates_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let (schedule, owner) = (id(), id());
    let now = app.now();
    let first = upcoming(schedule, owner, now + secs(3600), 1, now);
    app.publish_one(first.clone()).await;
    let row = app.notification(schedule).await.expect("armed");
    assert_eq!(row.owner_id.get(), owner);
    assert_eq!(
        row.start_at.as_microsecond(),
        (now + secs(3600)).as_microsecond()
    );
    assert_eq!(
        row.next_attempt_at.as_microsecond(),
        row.start_at.as_microsecond()
    );
    assert_eq!(
        row.idempotent_key.as_str(),
        first.event_id,
        "the arming event's id travels as idempotentKey"
    );
    assert!(row.resolved);

    // Moved later: same row, new time and key.
    let moved = upcoming(schedule, owner, now + secs(7200), 2, now + secs(1));
    app.publish_one(moved.clone()).await;
    let row = app.notification(schedule).await.unwrap();
    assert_eq!(
        row.start_at.as_microsecond(),
        (now + secs(7200)).as_microsecond()
    );
    assert_eq!(row.idempotent_key.as_str(), moved.event_id);

    // A redelivered event (same id) and a stale one (older version, new id) change nothing.
    app.publish_one(first.clone()).await;
    app.publish_one(upcoming(schedule, owner, now + secs(60), 1, now + secs(2)))
        .await;
    let again = app.notification(schedule).await.unwrap();
    assert_eq!(again, row);

    // The same start announced again (a re-publish by a reference producer, new key) keeps the key:
    // a device that already deduplicated this notification would otherwise show it twice.
    app.publish_one(upcoming(
        schedule,
        owner,
        now + secs(7200),
        3,
        now + secs(3),
    ))
    .await;
    assert_eq!(
        app.notification(schedule)
            .await
            .unwrap()
            .idempotent_key
            .as_str(),
        moved.event_id
    );
    assert_eq!(
        app.notifications().await.len(),
        1,
        "one notification per schedule"
    );
}

async fn started_completed_and_deleted_remove_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = app.now();
    for (ch, before) in [
        (channel::SCHEDULE_STATE_STARTED, "NOT_STARTED"),
        (channel::SCHEDULE_STATE_COMPLETED, "NOT_STARTED"),
        (channel::SCHEDULE_DELETED, ""),
    ] {
        let (schedule, owner) = (id(), id());
        app.publish_one(upcoming(schedule, owner, now + secs(600), 1, now))
            .await;
        assert!(app.notification(schedule).await.is_some());
        let m = if ch == channel::SCHEDULE_DELETED {
            deleted(schedule, owner, 2, now + secs(1))
        } else {
            state_change(ch, schedule, owner, before, 2, now + secs(1))
        };
        app.publish_one(m.clone()).await;
        assert!(
            app.notification(schedule).await.is_none(),
            "{}",
            ch.routing_key
        );
        // Idempotent: again, and for a schedule that never had one.
        app.publish_one(m).await;
        let (other, other_owner) = (id(), id());
        app.publish_one(state_change(ch, other, other_owner, "IN_PROGRESS", 5, now))
            .await;
        assert!(app.notification(other).await.is_none());
    }
}

async fn out_of_order_events_never_resurrect_a_notification(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = app.now();
    // started (v3) is consumed before the upcoming.updated (v2) that preceded it: separate queues.
    let (schedule, owner) = (id(), id());
    app.publish_one(state_change(
        channel::SCHEDULE_STATE_STARTED,
        schedule,
        owner,
        "NOT_STARTED",
        3,
        now + secs(2),
    ))
    .await;
    app.publish_one(upcoming(schedule, owner, now + secs(600), 2, now + secs(1)))
        .await;
    assert!(
        app.notification(schedule).await.is_none(),
        "the stale upcoming is skipped"
    );

    // A deleted schedule stays deleted, even for a later-versioned event.
    let (gone, owner) = (id(), id());
    app.publish_one(upcoming(gone, owner, now + secs(600), 1, now))
        .await;
    app.publish_one(deleted(gone, owner, 2, now + secs(1)))
        .await;
    app.publish_one(upcoming(gone, owner, now + secs(900), 3, now + secs(2)))
        .await;
    app.publish_one(state_change(
        channel::SCHEDULE_STATE_CANCELED,
        gone,
        owner,
        "COMPLETED",
        4,
        now + secs(3),
    ))
    .await;
    assert!(app.notification(gone).await.is_none());

    // A reference producer sends no versions: occurredAt orders them instead.
    let (legacy, owner) = (id(), id());
    let unversioned = |m: pinit_messaging::OutboundMessage| {
        let mut payload: serde_json::Value = serde_json::from_str(&m.payload).unwrap();
        payload.as_object_mut().unwrap().remove("aggregateVersion");
        pinit_messaging::OutboundMessage {
            aggregate_version: None,
            payload: payload.to_string(),
            ..m
        }
    };
    app.publish_one(unversioned(state_change(
        channel::SCHEDULE_STATE_STARTED,
        legacy,
        owner,
        "NOT_STARTED",
        1,
        now + secs(10),
    )))
    .await;
    app.publish_one(unversioned(upcoming(
        legacy,
        owner,
        now + secs(600),
        1,
        now + secs(5),
    )))
    .await;
    assert!(app.notification(legacy).await.is_none());
    app.publish_one(unversioned(upcoming(
        legacy,
        owner,
        now + secs(700),
        1,
        now + secs(20),
    )))
    .await;
    assert!(
        app.notification(legacy).await.is_some(),
        "a newer event applies"
    );
}

async fn canceled_rearms_with_the_task_services_title_and_time(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = app.now();
    let (schedule, owner) = (id(), id());
    let start = now + secs(1800);
    app.directory
        .put(schedule, owner, "딥 워크", start, ScheduleState::NotStarted);
    app.publish_one(upcoming(schedule, owner, start, 1, now))
        .await;
    app.publish_one(state_change(
        channel::SCHEDULE_STATE_STARTED,
        schedule,
        owner,
        "NOT_STARTED",
        2,
        now + secs(1),
    ))
    .await;
    assert!(app.notification(schedule).await.is_none());

    let cancel = state_change(
        channel::SCHEDULE_STATE_CANCELED,
        schedule,
        owner,
        "IN_PROGRESS",
        3,
        now + secs(2),
    );
    app.publish_one(cancel.clone()).await;
    let row = app.notification(schedule).await.expect("re-armed");
    assert_eq!(row.title, "딥 워크");
    assert_eq!(row.start_at.as_microsecond(), start.as_microsecond());
    assert_eq!(row.idempotent_key.as_str(), cancel.event_id);
    assert_eq!(app.directory.basics_calls.load(Ordering::SeqCst), 1);

    // A canceled event while one is pending keeps it (no look-up).
    app.publish_one(state_change(
        channel::SCHEDULE_STATE_CANCELED,
        schedule,
        owner,
        "SUSPENDED",
        4,
        now + secs(3),
    ))
    .await;
    assert_eq!(
        app.notification(schedule)
            .await
            .unwrap()
            .idempotent_key
            .as_str(),
        cancel.event_id
    );
    assert_eq!(app.directory.basics_calls.load(Ordering::SeqCst), 1);

    // The task service is down: re-armed unresolved, due now, for the dispatcher to confirm.
    let (other, owner2) = (id(), id());
    app.directory.set_down(true);
    app.publish_one(state_change(
        channel::SCHEDULE_STATE_CANCELED,
        other,
        owner2,
        "COMPLETED",
        5,
        now,
    ))
    .await;
    let row = app.notification(other).await.expect("armed unresolved");
    assert!(!row.resolved);
    assert_eq!(row.next_attempt_at.as_microsecond(), now.as_microsecond());
    app.directory.set_down(false);

    // A schedule the task service does not know: nothing.
    let (ghost, owner3) = (id(), id());
    app.publish_one(state_change(
        channel::SCHEDULE_STATE_CANCELED,
        ghost,
        owner3,
        "COMPLETED",
        2,
        now,
    ))
    .await;
    assert!(app.notification(ghost).await.is_none());
}

async fn starts_beyond_the_grace_window_are_not_armed(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = app.now();
    let (schedule, owner) = (id(), id());
    // Grace is 10 minutes in the tests: 5 minutes ago is still worth a (late) push, an hour ago is not.
    app.publish_one(upcoming(schedule, owner, now - secs(300), 1, now))
        .await;
    assert!(app.notification(schedule).await.is_some());
    app.publish_one(upcoming(schedule, owner, now - secs(3600), 2, now))
        .await;
    assert!(
        app.notification(schedule).await.is_none(),
        "moved an hour into the past: the pending notification goes"
    );
    let (late, owner) = (id(), id());
    app.directory.put(
        late,
        owner,
        "t",
        now - secs(3600),
        ScheduleState::NotStarted,
    );
    app.publish_one(state_change(
        channel::SCHEDULE_STATE_CANCELED,
        late,
        owner,
        "IN_PROGRESS",
        2,
        now,
    ))
    .await;
    assert!(app.notification(late).await.is_none());
}

async fn malformed_events_are_dead_lettered_not_applied(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = app.now();
    let m = event(
        channel::SCHEDULE_TIME_UPCOMING_UPDATED,
        1,
        Some(1),
        json!({"scheduleId": "not a number", "ownerId": 2, "newUpcomingTime": "2026-01-01T00:00:00Z"}),
        now,
    );
    app.publish_one(m.clone()).await;
    let inbox = app
        .app
        .consumers(&support::consumer_config())
        .into_iter()
        .find(|i| i.consumer() == "schedule.time.upcoming.updated.notification")
        .unwrap();
    let dead = inbox.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].event_id, m.event_id);
    assert!(app.notifications().await.is_empty());
}

pinit_testkit::both_backends!(
    upcoming_creates_then_moves_and_duplicates_change_nothing,
    started_completed_and_deleted_remove_it,
    out_of_order_events_never_resurrect_a_notification,
    canceled_rearms_with_the_task_services_title_and_time,
    starts_beyond_the_grace_window_are_not_armed,
    malformed_events_are_dead_lettered_not_applied,
);
