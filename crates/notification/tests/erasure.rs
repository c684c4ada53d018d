//! `member.deleted` through the consumers `Notifications::consumers` runs, on SQLite and PostgreSQL: every row of
//! the member leaves every notification table (found from the catalog: every column named like a member id),
//! and so do its schedules' watermarks; another member's rows stay; a redelivery erases nothing more; a poison
//! message is dead-lettered.

mod support;

use jiff::{SignedDuration, Timestamp};
use pinit_contracts::events::{ScheduleState, channel};
use pinit_kernel::Backend;
use pinit_messaging::OutboundMessage;
use pinit_testkit::member_rows::member_rows;
use serde_json::json;
use sqlx::Row;
use support::{App, id, spawn_app, upcoming};

fn secs(s: i64) -> SignedDuration {
    SignedDuration::from_secs(s)
}

/// `member.deleted` for `member` as auth's outbox publishes it.
fn member_deleted(event_id: &str, member: i64, at: Timestamp) -> OutboundMessage {
    let c = channel::MEMBER_DELETED;
    OutboundMessage {
        event_id: event_id.into(),
        exchange: c.exchange.into(),
        routing_key: c.routing_key.into(),
        event_type: c.message.into(),
        aggregate_type: "member".into(),
        aggregate_id: member.to_string(),
        aggregate_version: Some(2),
        occurred_at: at,
        payload:
            json!({"memberId": member, "occurredAt": at.to_string(), "idempotentKey": event_id})
                .to_string(),
        attempts: 0,
        trace_context: None,
    }
}

/// Arms a notification of a schedule of `owner` starting at `start`; returns the schedule.
async fn arm(app: &App, owner: i64, start: Timestamp) -> i64 {
    let schedule = id();
    app.directory
        .put(schedule, owner, "딥 워크", start, ScheduleState::NotStarted);
    app.publish_one(upcoming(schedule, owner, start, 1, app.now()))
        .await;
    schedule
}

/// Gives `owner` a push subscription, quiet hours (later today), a webhook endpoint (its deliveries queued by
/// the schedule events), a notification that goes out (a delivery, an outcome) and one still pending; returns
/// the two schedules.
async fn populate(app: &App, owner: i64) -> [i64; 2] {
    app.subscribe_browser(owner, &format!("laptop-{owner}"))
        .await;
    let res = app
        .post(
            "/v0/webhooks",
            Some(&owner.to_string()),
            json!({"url": "https://hooks.example.com/pinit", "events": ["schedule.created", "schedule.updated"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body = json!({"enabled": true, "start": "03:00", "end": "04:00", "zoneId": "UTC",
        "mode": "hold", "includeAtStart": false});
    let res = app
        .put("/v0/push/quiet-hours", Some(&owner.to_string()), body)
        .await;
    assert_eq!(res.status(), 200);
    let sent = arm(app, owner, app.now() + secs(30)).await;
    let pending = arm(app, owner, app.now() + secs(86_400)).await;
    [sent, pending]
}

async fn watermarks(app: &App, schedules: &[i64]) -> usize {
    let mut found = 0;
    for s in schedules {
        let row = sqlx::query("SELECT schedule_id FROM schedule_watermark WHERE schedule_id = $1")
            .bind(s)
            .fetch_optional(app.db.pool())
            .await
            .unwrap();
        found += usize::from(row.is_some());
    }
    found
}

/// Every webhook delivery queued (they name no member: their endpoint does).
async fn webhook_deliveries(app: &App) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM webhook_delivery")
        .fetch_one(app.db.pool())
        .await
        .unwrap()
        .get("n")
}

async fn a_deleted_member_leaves_every_notification_table(backend: Backend) {
    let app = spawn_app(backend).await;
    let (gone, stays) = (id(), id());
    let gone_schedules = populate(&app, gone).await;
    let stays_schedules = populate(&app, stays).await;
    app.advance(secs(30));
    let report = app.dispatcher().run_once().await.unwrap();
    assert_eq!(report.sent, 2, "one notification of each member went out");

    let before = member_rows(&app.db, gone).await;
    let tables: Vec<&str> = before.iter().filter_map(|r| r.split('.').next()).collect();
    for table in [
        "notification_outcome",
        "push_delivery",
        "push_subscription",
        "quiet_hours",
        "upcoming_notification",
        "webhook_endpoint",
    ] {
        assert!(tables.contains(&table), "{table}: {before:?}");
    }
    assert_eq!(watermarks(&app, &gone_schedules).await, 2);
    assert_eq!(
        webhook_deliveries(&app).await,
        4,
        "two schedules of each member"
    );
    let others = member_rows(&app.db, stays).await;

    let deleted = member_deleted("0190f5a8-0000-7000-8000-00000000de01", gone, app.now());
    app.publish_one(deleted.clone()).await;
    assert_eq!(member_rows(&app.db, gone).await, Vec::<String>::new());
    assert_eq!(watermarks(&app, &gone_schedules).await, 0);
    assert_eq!(member_rows(&app.db, stays).await, others);
    assert_eq!(watermarks(&app, &stays_schedules).await, 2);
    assert_eq!(webhook_deliveries(&app).await, 2, "the other member's");

    // A redelivery and the event sent again change nothing; a poison message is dead-lettered.
    app.publish_one(deleted).await;
    app.publish_one(member_deleted(
        "0190f5a8-0000-7000-8000-00000000de02",
        gone,
        app.now(),
    ))
    .await;
    app.publish_one(member_deleted("poison-de", 0, app.now()))
        .await;
    let dead: Vec<String> = sqlx::query(
        "SELECT event_id FROM messaging_inbox_failure WHERE dead_lettered_at_us IS NOT NULL",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| r.get("event_id"))
    .collect();
    assert_eq!(dead, ["poison-de"]);
    assert_eq!(member_rows(&app.db, stays).await, others);
    // The member's remaining notification never goes out.
    app.advance(secs(86_400));
    assert_eq!(
        app.dispatcher().run_once().await.unwrap().sent,
        1,
        "only the other member's"
    );

    let sub = pinit_notification::erasure::member_deleted_subscription();
    assert_eq!(sub.queue, "member.deleted.notification");
    assert_eq!(sub.bindings[0].routing_key, "member.deleted");
}

/// After the erasure nothing of the member is stored again: a schedule event queued before the deletion and
/// delivered after it arms nothing (not even a watermark), and a request with an access token still valid for a
/// few minutes is 401 on every operation that would store something. What is kept is the erasure record: the id
/// and the time, nothing else.
async fn nothing_of_an_erased_member_is_stored_again(backend: Backend) {
    let app = spawn_app(backend).await;
    let gone = id();
    populate(&app, gone).await;
    app.publish_one(member_deleted(
        "0190f5a8-0000-7000-8000-00000000de03",
        gone,
        app.now(),
    ))
    .await;
    assert_eq!(member_rows(&app.db, gone).await, Vec::<String>::new());

    let late = arm(&app, gone, app.now() + secs(3_600)).await;
    assert_eq!(
        watermarks(&app, &[late]).await,
        0,
        "a late event arms nothing"
    );
    let member = gone.to_string();
    let browser = app.push.browser("late-laptop");
    let refused = [
        app.post(
            "/v0/push/subscribe",
            Some(&member),
            json!({"deviceId": "late-laptop", "subscription": browser.subscription()}),
        )
        .await,
        app.post(
            "/v0/webhooks",
            Some(&member),
            json!({"url": "https://hooks.example.com/late", "events": ["schedule.created"]}),
        )
        .await,
        app.put(
            "/v0/push/quiet-hours",
            Some(&member),
            json!({"enabled": true, "start": "03:00", "end": "04:00", "zoneId": "UTC",
                "mode": "hold", "includeAtStart": false}),
        )
        .await,
    ];
    for res in refused {
        assert_eq!(res.status(), 401);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["message"], "this account was deleted", "{body}");
        assert_eq!(body["code"], "ACCOUNT_DELETED", "{body}");
    }
    assert_eq!(member_rows(&app.db, gone).await, Vec::<String>::new());
    assert_eq!(
        pinit_testkit::member_rows::erasure_record(&app.db, gone).await,
        ["erased_member: member_id, erased_at_us"]
    );
    // Another member is served as before.
    let stays = id();
    populate(&app, stays).await;
    assert!(!member_rows(&app.db, stays).await.is_empty());
}

pinit_testkit::both_backends!(
    a_deleted_member_leaves_every_notification_table,
    nothing_of_an_erased_member_is_stored_again,
);

/// Two consumer transactions, each applying schedule events of members A and B in opposite orders, both go
/// through (PostgreSQL; SQLite has one writer): the consumer holds a member's erasure lock shared, so batches never
/// wait for each other. Held exclusively, the second call waited for the other transaction, and the fourth closed
/// the cycle — the deadlocks the load benchmark found.
#[tokio::test]
async fn consumer_transactions_sharing_members_do_not_wait_for_each_other() {
    use pinit_notification::domain::arming::{ScheduleChange, ScheduleEvent};
    use pinit_notification::domain::reminder::Offset;
    use pinit_notification::domain::{MemberId, NotificationKey, ScheduleId, ScheduleKey};
    let app = spawn_app(Backend::Postgres).await;
    let now = app.now();
    let event = |owner: i64| ScheduleEvent {
        change: ScheduleChange::UpcomingUpdated,
        schedule: ScheduleKey {
            schedule_id: ScheduleId(id()),
            owner_id: MemberId(owner),
        },
        id: NotificationKey::from(uuid::Uuid::now_v7().to_string()),
        version: Some(1),
        occurred_at: Some(now),
        new_start: Some(now + secs(3600)),
        reminders: vec![Offset::AT_START],
    };
    let (a, b) = (id(), id());
    let mut txs = [app.db.begin().await.unwrap(), app.db.begin().await.unwrap()];
    let wait = std::time::Duration::from_secs(5);
    let mut applied = Vec::new();
    for (tx, owner) in [(0, a), (1, b), (0, b), (1, a)] {
        let outcome = tokio::time::timeout(wait, app.app.apply(&mut txs[tx], &event(owner)))
            .await
            .expect("a consumer transaction waited for another one")
            .unwrap();
        applied.push(outcome);
    }
    for tx in txs {
        tx.commit().await.unwrap();
    }
    // Each event did its work (not skipped as an erased member's).
    assert!(applied.iter().all(|a| a.armed()), "{applied:?}");
}
