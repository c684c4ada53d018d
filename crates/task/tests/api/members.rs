//! `/v2/members`, provisioning from `member.created` through the inbox, and `USER_NOT_READY`.

use pinit_contracts::events::channel;
use pinit_kernel::Backend;
use pinit_messaging::{ConsumerConfig, InProcessBus, OutboundMessage};
use pinit_testkit::both_backends;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Row;

use crate::support::{App, member_event, publish, spawn_app};

fn member_created(event_id: &str, payload: Value) -> OutboundMessage {
    member_event(&channel::MEMBER_CREATED, event_id, payload)
}

async fn zone_of(app: &App, m: i64) -> String {
    let res = app.get(m, "/v2/members/zone-id").await;
    res.assert(200);
    res.text
}

async fn provisioning_through_the_inbox(backend: Backend) {
    let app = spawn_app(backend).await;
    let bus = InProcessBus::new();
    let config = ConsumerConfig {
        max_attempts: 2,
        ..ConsumerConfig::default()
    };
    bus.subscribe(pinit_task::member_created_inbox(&app.app, config));

    // Before the event: 503.
    let res = app.get(11, "/v2/members/zone-id").await;
    res.assert_error(
        503,
        "회원 정보가 아직 준비되지 않았습니다. 잠시 후 다시 시도해 주세요.",
    );
    assert_eq!(res.body["code"], "USER_NOT_READY");

    let ours = member_created(
        "0190f5a8-0000-7000-8000-000000000011",
        json!({"memberId": 11, "nickname": "베를린", "occurredAt": "2026-02-01T00:00:00Z",
               "idempotentKey": "0190f5a8-0000-7000-8000-000000000011", "zoneId": "Europe/Berlin"}),
    );
    publish(&bus, ours.clone()).await;
    assert_eq!(zone_of(&app, 11).await, "Europe/Berlin");
    // A redelivery, and a second event for the same member, change nothing.
    publish(&bus, ours).await;
    publish(
        &bus,
        member_created(
            "0190f5a8-0000-7000-8000-000000000012",
            json!({"memberId": 11, "nickname": "x", "occurredAt": "2026-02-01T00:00:00Z", "zoneId": "Asia/Tokyo"}),
        ),
    )
    .await;
    assert_eq!(zone_of(&app, 11).await, "Europe/Berlin");
    let count: i64 = sqlx::query("SELECT COUNT(*) FROM member")
        .fetch_one(app.db.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1);

    // The reference auth service's payload: outbox `id`, a local date-time, no zone → Asia/Seoul.
    publish(
        &bus,
        member_created(
            "ref-12",
            json!({"id": 9, "memberId": 12, "nickname": null, "occurredAt": "2025-12-15T12:34:56.123456"}),
        ),
    )
    .await;
    assert_eq!(zone_of(&app, 12).await, "Asia/Seoul");
    // An unknown zone does not leave the member unprovisioned.
    publish(
        &bus,
        member_created(
            "bad-zone-13",
            json!({"memberId": 13, "nickname": "n", "occurredAt": "2026-02-01T00:00:00Z", "zoneId": "Mars/Base"}),
        ),
    )
    .await;
    assert_eq!(zone_of(&app, 13).await, "Asia/Seoul");

    // Poison messages are dead-lettered, not retried forever.
    publish(
        &bus,
        member_created(
            "poison-1",
            json!({"memberId": null, "nickname": "n", "occurredAt": "2026-02-01T00:00:00Z"}),
        ),
    )
    .await;
    publish(
        &bus,
        member_created(
            "poison-2",
            json!({"memberId": -4, "nickname": "n", "occurredAt": "2026-02-01T00:00:00Z"}),
        ),
    )
    .await;
    let dead: i64 = sqlx::query(
        "SELECT COUNT(*) FROM messaging_inbox_failure WHERE dead_lettered_at_us IS NOT NULL",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap()
    .get(0);
    assert_eq!(dead, 2);
    let sub = pinit_task::member_created_subscription();
    assert_eq!(sub.queue, "member.created.queue");
    assert_eq!(sub.bindings[0].exchange, "auth.member.direct");
    assert_eq!(sub.bindings[0].routing_key, "member.created");
}

async fn member_endpoints(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.member(1, None).await;
    let now = app.get(m, "/v2/members/now").await;
    now.assert(200);
    assert_eq!(now.text, "", "no running schedule: an empty body");
    let zone = app.get(m, "/v2/members/zone-id").await;
    zone.assert(200);
    assert_eq!(zone.text, "Asia/Seoul");
    assert!(
        zone.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(app.get(m, "/v2/members/zone-offset").await.text, "+09:00");

    // PUT zone-id, JSON or plain text; answers the canonical id.
    let res = app
        .send(
            Method::PUT,
            "/v2/members/zone-id",
            Some(m),
            Some(json!({"zoneId": "america/new_york"})),
        )
        .await;
    res.assert(200);
    assert_eq!(res.text, "America/New_York");
    assert_eq!(app.get(m, "/v2/members/zone-offset").await.text, "-05:00");
    let res = app
        .server
        .client
        .put(app.url("/v2/members/zone-id"))
        .header("X-Member-Id", "1")
        .header("content-type", "text/plain")
        .body("UTC")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "UTC");
    assert_eq!(app.get(m, "/v2/members/zone-offset").await.text, "Z");
    app.send(
        Method::PUT,
        "/v2/members/zone-id",
        Some(m),
        Some(json!({"zoneId": "Mars/Base"})),
    )
    .await
    .assert_error(400, "올바르지 않은 시간대 ID입니다.");
    app.send(Method::PUT, "/v2/members/zone-id", Some(m), Some(json!({})))
        .await
        .assert_error(400, "Validation failed for 1 field(s)");
    assert_eq!(zone_of(&app, m).await, "UTC");
    // "Today" follows the zone: a task due 2026-01-31 is overdue-but-completed → gone in UTC at
    // 2026-02-01T00:00Z.
    let t = app.task(m, "t", "2026-01-31", "UTC").await;
    app.post_empty(m, &format!("/v2/tasks/{t}/complete"))
        .await
        .assert(204);
    let list = app.get(m, "/v2/tasks").await;
    assert_eq!(list.assert(200)["content"], json!([]));
    app.send(
        Method::PUT,
        "/v2/members/zone-id",
        Some(m),
        Some(json!({"zoneId": "America/Los_Angeles"})),
    )
    .await
    .assert(200);
    let list = app.get(m, "/v2/tasks").await;
    assert_eq!(
        list.assert(200)["content"][0]["id"],
        t,
        "still 2026-01-31 in Los Angeles"
    );
}

/// Every endpoint answers an unprovisioned member with 503 + Retry-After + USER_NOT_READY.
async fn every_endpoint_waits_for_provisioning(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.member(1, None).await;
    let task = app.task(owner, "t", "2026-02-01", "Asia/Seoul").await;
    let schedule = app
        .schedule(owner, "s", "2026-02-01T09:00:00", "Asia/Seoul", "DEEP_WORK")
        .await;
    let task_body = json!({"title": "t", "description": "d", "dueDate": {"date": "2026-02-01", "zoneId": "Asia/Seoul"},
                           "importance": 1, "difficulty": 1});
    let schedule_body = json!({"title": "t", "description": "d",
                               "date": {"dateTime": "2026-02-01T09:00:00", "zoneId": "Asia/Seoul"}, "scheduleType": "DEEP_WORK"});
    let q = "time=2026-02-01T09:00:00&zoneId=Asia/Seoul";
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::POST, "/v2/tasks".into(), Some(task_body.clone())),
        (Method::GET, "/v2/tasks".into(), None),
        (Method::GET, "/v2/tasks?readyOnly=true".into(), None),
        (Method::GET, "/v2/tasks/cursor".into(), None),
        (Method::GET, "/v2/tasks/completed".into(), None),
        (Method::GET, "/v2/tasks/completed?zoneId=UTC".into(), None),
        (
            Method::GET,
            "/v2/tasks/by-deadline?date=2026-02-01".into(),
            None,
        ),
        (
            Method::GET,
            "/v2/tasks/by-deadline?date=2026-02-01&zoneId=UTC".into(),
            None,
        ),
        (Method::GET, format!("/v2/tasks/{task}"), None),
        (Method::PATCH, format!("/v2/tasks/{task}"), Some(task_body)),
        (Method::DELETE, format!("/v2/tasks/{task}"), None),
        (Method::POST, format!("/v2/tasks/{task}/complete"), None),
        (Method::POST, format!("/v2/tasks/{task}/reopen"), None),
        (
            Method::POST,
            format!("/v2/tasks/{task}/schedules"),
            Some(schedule_body.clone()),
        ),
        (
            Method::POST,
            "/v2/schedules".into(),
            Some(schedule_body.clone()),
        ),
        (Method::GET, format!("/v2/schedules?{q}"), None),
        (Method::GET, format!("/v2/schedules/week?{q}"), None),
        (Method::GET, format!("/v2/schedules/{schedule}"), None),
        (
            Method::PATCH,
            format!("/v2/schedules/{schedule}"),
            Some(schedule_body),
        ),
        (Method::DELETE, format!("/v2/schedules/{schedule}"), None),
        (
            Method::POST,
            format!("/v2/schedules/{schedule}/start?{q}"),
            None,
        ),
        (
            Method::POST,
            format!("/v2/schedules/{schedule}/suspend?{q}"),
            None,
        ),
        (
            Method::POST,
            format!("/v2/schedules/{schedule}/complete?{q}"),
            None,
        ),
        (
            Method::POST,
            format!("/v2/schedules/{schedule}/cancel"),
            None,
        ),
        (Method::GET, format!("/v2/statistics?{q}"), None),
        (Method::GET, "/v2/members/now".into(), None),
        (Method::GET, "/v2/members/zone-id".into(), None),
        (Method::GET, "/v2/members/zone-offset".into(), None),
        (
            Method::PUT,
            "/v2/members/zone-id".into(),
            Some(json!({"zoneId": "UTC"})),
        ),
    ];
    for (method, path, body) in calls {
        let res = app.send(method.clone(), &path, Some(99), body).await;
        assert_eq!(res.status, 503, "{method} {path}: {}", res.text);
        assert_eq!(res.body["code"], "USER_NOT_READY", "{method} {path}");
        assert_eq!(res.headers["retry-after"], "1", "{method} {path}");
        assert_eq!(res.body["path"], path.split('?').next().unwrap());
    }
    // The owner's data is untouched.
    app.get(owner, &format!("/v2/tasks/{task}"))
        .await
        .assert(200);
    app.get(owner, &format!("/v2/schedules/{schedule}"))
        .await
        .assert(200);
}

both_backends!(
    provisioning_through_the_inbox,
    member_endpoints,
    every_endpoint_waits_for_provisioning,
);
