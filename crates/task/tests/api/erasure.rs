//! `member.deleted` through the inbox: every row of the member leaves every task table (found from the
//! catalog: every column named like a member id), nothing of another member changes, no event is emitted,
//! a redelivery or a second event erases nothing more, and a poison message is dead-lettered.

use pinit_contracts::events::channel;
use pinit_kernel::Backend;
use pinit_messaging::{ConsumerConfig, InProcessBus};
use pinit_testkit::both_backends;
use pinit_testkit::member_rows::{member_columns, member_rows};
use serde_json::{Value, json};
use sqlx::Row;

use crate::support::{App, member_event, publish, spawn_app};

const ZONE: &str = "Asia/Seoul";

fn busy_ics() -> String {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/busy/apple.ics");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A calendar app's PUT of `body` as `/dav/{m}/{collection}/{name}.ics`.
async fn dav_put(app: &App, m: i64, collection: &str, name: &str, body: String) {
    let res = reqwest::Client::new()
        .put(app.server.url(&format!("/dav/{m}/{collection}/{name}.ics")))
        .header("x-member-id", m.to_string())
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
}

/// Gives `m` a row in every task table: tasks with a prerequisite, a run schedule (running slot, statistics), a
/// repeating schedule, a deleted task and schedule (tombstones), a feed, an uploaded busy calendar, and an event
/// and a to-do written by a calendar app.
async fn populate(app: &App, m: i64) {
    app.member(m, Some(ZONE)).await;
    let first = app.task(m, "자료 조사", "2026-02-10", ZONE).await;
    app.task_with(
        m,
        "보고서",
        "2026-02-12",
        ZONE,
        json!([{"fromId": 0, "toId": first}]),
    )
    .await;
    let run = app
        .schedule(m, "집중", "2026-02-01T09:00:00", ZONE, "DEEP_WORK")
        .await;
    app.run(m, run, "start").await.assert(204);
    app.advance_secs(1800);
    app.run(m, run, "complete").await.assert(204);
    let started = app
        .schedule(m, "진행 중", "2026-02-01T10:00:00", ZONE, "DEEP_WORK")
        .await;
    app.run(m, started, "start").await.assert(204);
    app.post(
        m,
        "/v2/schedules",
        json!({"title": "스탠드업", "description": "매일",
               "date": {"dateTime": "2026-02-02T09:00:00", "zoneId": ZONE},
               "scheduleType": "QUICK_TASK", "recurrence": {"rrule": "FREQ=DAILY"}}),
    )
    .await
    .assert(201);
    let gone = app
        .schedule(m, "취소", "2026-02-03T09:00:00", ZONE, "QUICK_TASK")
        .await;
    app.delete(m, &format!("/v2/schedules/{gone}")).await;
    let gone = app.task(m, "버림", "2026-02-10", ZONE).await;
    app.delete(m, &format!("/v2/tasks/{gone}")).await;
    app.post(m, "/v2/calendar/feeds", json!({"kind": "planned"}))
        .await
        .assert(201);
    app.post(
        m,
        "/v2/calendar/subscriptions/upload",
        json!({"name": "Home", "ics": busy_ics()}),
    )
    .await
    .assert(201);
    let stamp = "DTSTAMP:20260201T000000Z";
    dav_put(
        app,
        m,
        "schedules",
        "from-app",
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:app-event-{m}\r\n{stamp}\r\n\
             DTSTART:20260205T010000Z\r\nDTEND:20260205T020000Z\r\nSUMMARY:앱에서\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        ),
    )
    .await;
    dav_put(
        app,
        m,
        "tasks",
        "from-app",
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VTODO\r\nUID:app-todo-{m}\r\n{stamp}\r\n\
             SUMMARY:앱 할 일\r\nDUE;VALUE=DATE:20260210\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
        ),
    )
    .await;
}

/// The tables holding a row of `m` (`table.column: n`).
fn tables(rows: &[String]) -> Vec<&str> {
    rows.iter().filter_map(|r| r.split('.').next()).collect()
}

async fn outbox_rows(app: &App) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM messaging_outbox")
        .fetch_one(app.db.pool())
        .await
        .unwrap()
        .get("n")
}

/// `member.deleted` as auth records it: the member aggregate's version 2 (after `member.created`'s 1).
fn member_deleted(event_id: &str, member: Value) -> pinit_messaging::OutboundMessage {
    pinit_messaging::OutboundMessage {
        aggregate_version: Some(2),
        ..member_event(
            &channel::MEMBER_DELETED,
            event_id,
            json!({"memberId": member, "occurredAt": "2026-02-01T00:00:00Z", "idempotentKey": event_id}),
        )
    }
}

/// Both queues were filled while task was down, and `member.deleted` is handled first: the late
/// `member.created` is stale — the erased member is not provisioned again.
async fn a_member_created_after_its_deletion_is_stale(backend: Backend) {
    let app = spawn_app(backend).await;
    let bus = InProcessBus::new();
    let config = ConsumerConfig {
        max_attempts: 2,
        ..ConsumerConfig::default()
    };
    bus.subscribe(pinit_task::member_deleted_inbox(&app.app, config.clone()));
    bus.subscribe(pinit_task::member_created_inbox(&app.app, config));
    publish(
        &bus,
        member_deleted("0190f5a8-0000-7000-8000-000000000d21", json!(21)),
    )
    .await;
    let created = json!({"memberId": 21, "nickname": "늦게", "occurredAt": "2026-02-01T00:00:00Z",
        "idempotentKey": "0190f5a8-0000-7000-8000-000000000c21", "zoneId": ZONE});
    publish(
        &bus,
        member_event(
            &channel::MEMBER_CREATED,
            "0190f5a8-0000-7000-8000-000000000c21",
            created,
        ),
    )
    .await;
    let res = app.get(21, "/v2/members/zone-id").await;
    assert_eq!(res.status, 401, "not provisioned again: {}", res.text);
    assert_eq!(member_rows(&app.db, 21).await, Vec::<String>::new());
    // Another member is provisioned as ever.
    publish(
        &bus,
        member_event(
            &channel::MEMBER_CREATED,
            "0190f5a8-0000-7000-8000-000000000c22",
            json!({"memberId": 22, "nickname": "제때", "occurredAt": "2026-02-01T00:00:00Z",
                "idempotentKey": "0190f5a8-0000-7000-8000-000000000c22", "zoneId": ZONE}),
        ),
    )
    .await;
    app.get(22, "/v2/members/zone-id").await.assert(200);
}

async fn a_deleted_member_leaves_every_task_table(backend: Backend) {
    let app = spawn_app(backend).await;
    populate(&app, 11).await;
    populate(&app, 12).await;

    // The test reaches every table that names a member: a table added later must be given a row here (and be
    // erased by `MemberErasure`).
    let before = member_rows(&app.db, 11).await;
    let mut reached = tables(&before);
    reached.dedup();
    let mut all: Vec<String> = member_columns(&app.db)
        .await
        .into_iter()
        .map(|(table, _)| table)
        .collect();
    all.dedup();
    assert_eq!(reached, all, "member 11's rows: {before:?}");
    let others = member_rows(&app.db, 12).await;
    let events = outbox_rows(&app).await;

    let bus = InProcessBus::new();
    let config = ConsumerConfig {
        max_attempts: 2,
        ..ConsumerConfig::default()
    };
    bus.subscribe(pinit_task::member_deleted_inbox(&app.app, config));
    let deleted = member_deleted("0190f5a8-0000-7000-8000-000000000d11", json!(11));
    publish(&bus, deleted.clone()).await;

    assert_eq!(member_rows(&app.db, 11).await, Vec::<String>::new());
    assert_eq!(
        member_rows(&app.db, 12).await,
        others,
        "member 12 untouched"
    );
    assert_eq!(
        outbox_rows(&app).await,
        events,
        "no events for an erased member"
    );
    // A request with an access token still valid for a few minutes is told the account is gone (401) — a write
    // as much as a read — and stores nothing; the erasure record holds the id and the time, nothing else. A
    // member never provisioned is still 503 USER_NOT_READY.
    let res = app.get(11, "/v2/members/zone-id").await;
    let body = res.assert(401);
    assert_eq!(
        (&body["message"], &body["code"]),
        (
            &serde_json::json!("삭제된 계정입니다."),
            &serde_json::json!("ACCOUNT_DELETED")
        )
    );
    let res = app
        .post(
            11,
            "/v2/tasks",
            json!({"title": "after", "description": "설명", "dueDate": {"date": "2026-03-01", "zoneId": "UTC"},
                "importance": 5, "difficulty": 3, "addDependencies": []}),
        )
        .await;
    res.assert(401);
    assert_eq!(member_rows(&app.db, 11).await, Vec::<String>::new());
    assert_eq!(
        pinit_testkit::member_rows::erasure_record(&app.db, 11).await,
        ["erased_member: member_id, erased_at_us"]
    );
    let res = app.get(13, "/v2/members/zone-id").await;
    assert_eq!(res.body["code"], "USER_NOT_READY");
    app.get(12, "/v2/members/zone-id").await.assert(200);

    // A redelivery, and the event sent again under a new id: nothing more, nothing dead-lettered.
    publish(&bus, deleted).await;
    publish(
        &bus,
        member_deleted("0190f5a8-0000-7000-8000-000000000d12", json!(11)),
    )
    .await;
    // A poison message is dead-lettered at once.
    publish(&bus, member_deleted("poison-d", json!(-3))).await;
    let failures = sqlx::query(
        "SELECT event_id, dead_lettered_at_us FROM messaging_inbox_failure ORDER BY event_id",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    let failed: Vec<(String, bool)> = failures
        .iter()
        .map(|r| {
            (
                r.get::<String, _>("event_id"),
                r.get::<Option<i64>, _>("dead_lettered_at_us").is_some(),
            )
        })
        .collect();
    assert_eq!(failed, [("poison-d".to_string(), true)]);
    assert_eq!(member_rows(&app.db, 12).await, others);

    let sub = pinit_task::member_deleted_subscription();
    assert_eq!(sub.queue, "member.deleted.task");
    assert_eq!(sub.bindings[0].exchange, "auth.member.direct");
    assert_eq!(sub.bindings[0].routing_key, "member.deleted");
}

both_backends!(
    a_deleted_member_leaves_every_task_table,
    a_member_created_after_its_deletion_is_stale,
);
