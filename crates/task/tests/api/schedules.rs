//! `/v2/schedules` and `/v2/statistics`: create, lists in a zone, patch, delete, the state machine, the
//! running slot under concurrency, prerequisites, statistics.

use pinit_kernel::Backend;
use pinit_testkit::both_backends;
use serde_json::{Value, json};

use crate::support::{App, spawn_app};

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap_or_else(|| panic!("an array: {v}"))
        .iter()
        .map(|x| x["id"].as_i64().expect("an id"))
        .collect()
}

/// The reference's ScheduleControllerV2TimeZoneIntegrationTest: a list renders in the requested zone
/// (docs/contract/task.md#schedules).
async fn lists_render_in_the_requested_zone(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.member(1, None).await;
    let res = app
        .post(
            m,
            "/v2/schedules",
            json!({"title": "회의", "description": "분기 OKR 리뷰",
                   "date": {"dateTime": "2026-02-01T09:00:00", "zoneId": "Asia/Seoul"},
                   "scheduleType": "DEEP_WORK"}),
        )
        .await;
    let body = res.assert(201).clone();
    let id = res.id();
    assert_eq!(
        body["date"],
        json!({"dateTime": "2026-02-01T09:00:00", "zoneId": "Asia/Seoul"})
    );
    assert_eq!(body["taskId"], Value::Null);
    assert_eq!(body["taskCompleted"], Value::Null);
    assert_eq!(body["state"], "NOT_STARTED");
    assert_eq!(body["duration"], "PT0S");
    assert_eq!(body["scheduleType"], "DEEP_WORK");
    assert_eq!(body["ownerId"], 1);

    let seoul = app
        .get(
            m,
            "/v2/schedules?time=2026-02-01T12:00:00&zoneId=Asia/Seoul",
        )
        .await;
    let seoul = seoul.assert(200);
    assert_eq!(ids(seoul), vec![id]);
    assert_eq!(
        seoul[0]["date"],
        json!({"dateTime": "2026-02-01T09:00:00", "zoneId": "Asia/Seoul"})
    );
    let la = app
        .get(
            m,
            "/v2/schedules?time=2026-01-31T12:00:00&zoneId=America/Los_Angeles",
        )
        .await;
    let la = la.assert(200);
    assert_eq!(ids(la), vec![id]);
    assert_eq!(
        la[0]["date"],
        json!({"dateTime": "2026-01-31T16:00:00", "zoneId": "America/Los_Angeles"})
    );
    // The day before in Seoul, and the next day in LA, do not have it (half-open days).
    let before = app
        .get(
            m,
            "/v2/schedules?time=2026-01-31T12:00:00&zoneId=Asia/Seoul",
        )
        .await;
    assert_eq!(ids(before.assert(200)), Vec::<i64>::new());
    let after = app
        .get(
            m,
            "/v2/schedules?time=2026-02-01T00:00:00&zoneId=America/Los_Angeles",
        )
        .await;
    assert_eq!(ids(after.assert(200)), Vec::<i64>::new());

    // Week: Monday 2026-01-26 .. Monday 2026-02-02 in Seoul; ordered by start.
    let early = app
        .schedule(
            m,
            "early",
            "2026-01-26T00:00:00",
            "Asia/Seoul",
            "ADMIN_TASK",
        )
        .await;
    let next_week = app
        .schedule(m, "next", "2026-02-02T00:00:00", "Asia/Seoul", "ADMIN_TASK")
        .await;
    let week = app
        .get(
            m,
            "/v2/schedules/week?time=2026-01-28T12:00:00&zoneId=Asia/Seoul",
        )
        .await;
    assert_eq!(ids(week.assert(200)), vec![early, id]);
    let following = app
        .get(
            m,
            "/v2/schedules/week?time=2026-02-02T00:00:00&zoneId=Asia/Seoul",
        )
        .await;
    assert_eq!(ids(following.assert(200)), vec![next_week]);

    // Missing or malformed time/zone: 400.
    app.get(m, "/v2/schedules?zoneId=Asia/Seoul")
        .await
        .assert(400);
    app.get(m, "/v2/schedules?time=2026-02-01T12:00:00")
        .await
        .assert(400);
    app.get(m, "/v2/schedules?time=noon&zoneId=Asia/Seoul")
        .await
        .assert(400);
    app.get(m, "/v2/schedules?time=2026-02-01T12:00:00&zoneId=Mars/Base")
        .await
        .assert_error(400, "올바르지 않은 시간대 ID입니다.");
    // Another member sees nothing of it.
    let other = app.member(2, None).await;
    let theirs = app
        .get(
            other,
            "/v2/schedules?time=2026-02-01T12:00:00&zoneId=Asia/Seoul",
        )
        .await;
    assert_eq!(ids(theirs.assert(200)), Vec::<i64>::new());
}

async fn create_validation(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.member(1, None).await;
    // The reference's pinned example: 4 fields there; 3 here, as an empty description is allowed.
    let res = app
        .post(
            m,
            "/v2/schedules",
            json!({"title": " ", "description": "", "date": null, "scheduleType": null}),
        )
        .await;
    res.assert_error(400, "Validation failed for 3 field(s)");
    assert_eq!(res.body["errors"].as_array().unwrap().len(), 3);
    let ok = json!({"title": "t", "description": "d",
                    "date": {"dateTime": "2026-02-01T09:00:00", "zoneId": "Asia/Seoul"},
                    "scheduleType": "DEEP_WORK"});
    let with = |key: &str, value: Value| {
        let mut b = ok.clone();
        b[key] = value;
        b
    };
    app.post(m, "/v2/schedules", with("scheduleType", json!("deep_work")))
        .await
        .assert_error(
            400,
            "일정 유형은 DEEP_WORK, QUICK_TASK, ADMIN_TASK 중 하나여야 합니다.",
        );
    // Longer than the reference's 20: up to 100 (Pinit's).
    app.post(m, "/v2/schedules", with("title", json!("x".repeat(100))))
        .await
        .assert(201);
    app.post(m, "/v2/schedules", with("title", json!("x".repeat(101))))
        .await
        .assert_error(400, "제목의 길이는 1자 이상 100자 이하여야 합니다.");
    app.post(
        m,
        "/v2/schedules",
        with("description", json!("x".repeat(2001))),
    )
    .await
    .assert_error(400, "설명의 길이는 2000자 이하여야 합니다.");
    // The description is optional.
    let mut no_description = ok.clone();
    no_description
        .as_object_mut()
        .expect("an object")
        .remove("description");
    let res = app.post(m, "/v2/schedules", no_description).await;
    assert_eq!(res.assert(201)["description"], "");
    let res = app
        .post(
            m,
            "/v2/schedules",
            with("date", json!({"dateTime": "2026-02-01T09:00:00"})),
        )
        .await;
    res.assert_error(400, "Validation failed for 1 field(s)");
    assert_eq!(res.body["errors"][0]["field"], "date.zoneId");
    app.post(
        m,
        "/v2/schedules",
        with(
            "date",
            json!({"dateTime": "9 o'clock", "zoneId": "Asia/Seoul"}),
        ),
    )
    .await
    .assert_error(
        400,
        "날짜-시간은 'yyyy-MM-ddTHH:mm[:ss]' 형식이어야 합니다.",
    );
    app.post(
        m,
        "/v2/schedules",
        with(
            "date",
            json!({"dateTime": "2026-02-01T09:00:00", "zoneId": "Asia/Busan"}),
        ),
    )
    .await
    .assert_error(400, "올바르지 않은 시간대 ID입니다.");
    // A trailing offset on dateTime is tolerated and ignored (the wall time counts).
    let res = app
        .post(
            m,
            "/v2/schedules",
            with(
                "date",
                json!({"dateTime": "2026-02-01T09:00:00+01:00", "zoneId": "Asia/Seoul"}),
            ),
        )
        .await;
    assert_eq!(res.assert(201)["date"]["dateTime"], "2026-02-01T09:00:00");
    app.post(m, "/v2/schedules", ok).await.assert(201);
}

async fn get_and_patch(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.member(1, Some("Europe/Berlin")).await;
    let id = app
        .schedule(m, "회의", "2026-02-01T09:00:00", "Asia/Seoul", "DEEP_WORK")
        .await;
    let path = format!("/v2/schedules/{id}");
    // GET renders in the member's zone: 09:00 Seoul = 01:00 Berlin.
    let got = app.get(m, &path).await;
    assert_eq!(
        got.assert(200)["date"],
        json!({"dateTime": "2026-02-01T01:00:00", "zoneId": "Europe/Berlin"})
    );
    let before = app.events().await.len();
    // PATCH the title only: member zone; schedule.details.updated (Pinit's, for webhooks) names what changed.
    let res = app.patch(m, &path, json!({"title": "새 제목"})).await;
    assert_eq!(res.assert(200)["title"], "새 제목");
    assert_eq!(res.body["date"]["zoneId"], "Europe/Berlin");
    assert_eq!(res.body["description"], "설명");
    assert_eq!(app.keys_since(before).await, ["schedule.details.updated"]);
    let details = app.events().await.pop().expect("the event");
    assert_eq!(details.payload["changed"], json!(["title"]));
    assert_eq!(details.payload["scheduleId"], id);
    // The same title again: nothing changed, nothing published.
    let before = app.events().await.len();
    app.patch(m, &path, json!({"title": "새 제목"}))
        .await
        .assert(200);
    assert!(app.keys_since(before).await.is_empty());
    // PATCH the date: rendered in the request's zone; schedule.time.upcoming.updated with a UTC instant.
    app.advance_secs(60);
    let res = app
        .patch(m, &path, json!({"date": {"dateTime": "2026-02-03T10:30:00", "zoneId": "America/New_York"}, "scheduleType": "QUICK_TASK"}))
        .await;
    assert_eq!(
        res.assert(200)["date"],
        json!({"dateTime": "2026-02-03T10:30:00", "zoneId": "America/New_York"})
    );
    assert_eq!(res.body["scheduleType"], "QUICK_TASK");
    assert_eq!(res.body["updatedAt"], "2026-02-01T00:01:00Z");
    assert_eq!(res.body["createdAt"], "2026-02-01T00:00:00Z");
    let events = app.events().await;
    let last = events.last().unwrap();
    assert_eq!(last.routing_key, "schedule.time.upcoming.updated");
    assert_eq!(last.payload["newUpcomingTime"], "2026-02-03T15:30:00Z");
    assert_eq!(last.payload["scheduleId"], id);
    assert_eq!(last.version, Some(3), "created 1, title 2, date 3");
    // Empty strings are refused.
    app.patch(m, &path, json!({"title": ""}))
        .await
        .assert_error(400, "제목의 길이는 1자 이상 100자 이하여야 합니다.");
    app.patch(m, &path, json!({"scheduleType": "MEETING"}))
        .await
        .assert(400);
    // Only NOT_STARTED schedules change.
    app.run(m, id, "start").await.assert(204);
    app.patch(m, &path, json!({"title": "x"}))
        .await
        .assert_error(409, "시작되지 않은 일정만 수정할 수 있습니다.");
    // Not mine, not there: 404.
    let other = app.member(2, None).await;
    let published = app.events().await.len();
    app.get(other, &path)
        .await
        .assert_error(404, "해당 일정을 찾을 수 없습니다.");
    app.patch(other, &path, json!({"title": "x"}))
        .await
        .assert(404);
    app.get(m, "/v2/schedules/424242").await.assert(404);
    for op in ["start", "suspend", "complete", "cancel"] {
        app.run(other, id, op).await.assert(404);
    }
    app.delete(other, &path).await.assert(404);
    assert_eq!(
        app.events().await.len(),
        published,
        "refused requests publish nothing"
    );
    assert_eq!(app.get(other, "/v2/members/now").await.text, "");
}

async fn assert_stats(app: &App, m: i64, deep: &str, admin: &str, total: &str) {
    let res = app
        .get(
            m,
            "/v2/statistics?time=2026-02-01T12:00:00&zoneId=Asia/Seoul",
        )
        .await;
    let body = res.assert(200);
    assert_eq!(body["memberId"], m);
    assert_eq!(
        body["startOfWeek"],
        json!({"dateTime": "2026-01-26T00:00:00", "zoneId": "Asia/Seoul"})
    );
    assert_eq!(
        (
            body["deepWorkElapsedTime"].as_str(),
            body["adminWorkElapsedTime"].as_str(),
            body["totalWorkElapsedTime"].as_str()
        ),
        (Some(deep), Some(admin), Some(total)),
        "{body}"
    );
}

async fn run_state_machine_and_statistics(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.member(1, None).await;
    let id = app
        .schedule(m, "집중", "2026-02-01T09:00:00", "Asia/Seoul", "DEEP_WORK")
        .await;
    let path = format!("/v2/schedules/{id}");
    assert_stats(&app, m, "PT0S", "PT0S", "PT0S").await;
    // Illegal from NOT_STARTED.
    app.run(m, id, "suspend")
        .await
        .assert_error(409, "시작되지 않은 일정을 일시정지할 수 없습니다.");
    app.run(m, id, "cancel")
        .await
        .assert_error(409, "시작되지 않은 일정을 취소할 수 없습니다.");
    // start, 30 min, suspend, 10 min, resume, 15 min, complete → 45 min.
    app.run(m, id, "start").await.assert(204);
    assert_eq!(app.get(m, "/v2/members/now").await.body, json!(id));
    app.run(m, id, "start")
        .await
        .assert_error(409, "진행 중인 일정을 다시 시작할 수 없습니다.");
    app.advance_secs(30 * 60);
    app.run(m, id, "suspend").await.assert(204);
    let s = app.get(m, &path).await;
    assert_eq!(s.body["state"], "SUSPENDED");
    assert_eq!(s.body["duration"], "PT30M");
    // Suspend keeps the running slot.
    assert_eq!(app.get(m, "/v2/members/now").await.body, json!(id));
    app.run(m, id, "suspend")
        .await
        .assert_error(409, "일시정지된 일정을 다시 일시정지할 수 없습니다.");
    app.run(m, id, "complete")
        .await
        .assert_error(409, "일시정지된 일정을 즉시 완료할 수 없습니다.");
    app.advance_secs(10 * 60);
    app.run(m, id, "start").await.assert(204);
    app.advance_secs(15 * 60);
    app.run(m, id, "complete").await.assert(204);
    let s = app.get(m, &path).await;
    assert_eq!(s.body["state"], "COMPLETED");
    assert_eq!(s.body["duration"], "PT45M");
    assert_eq!(
        app.get(m, "/v2/members/now").await.text,
        "",
        "complete releases the slot"
    );
    assert_stats(&app, m, "PT45M", "PT0S", "PT45M").await;
    for (op, message) in [
        ("start", "완료된 일정을 시작할 수 없습니다."),
        ("suspend", "완료된 일정을 일시정지할 수 없습니다."),
        ("complete", "완료된 일정을 다시 완료할 수 없습니다."),
    ] {
        app.run(m, id, op).await.assert_error(409, message);
    }
    // Cancel from COMPLETED: NOT_STARTED, elapsed kept, statistics reverted.
    app.run(m, id, "cancel").await.assert(204);
    let s = app.get(m, &path).await;
    assert_eq!(s.body["state"], "NOT_STARTED");
    assert_eq!(s.body["duration"], "PT45M");
    assert_stats(&app, m, "PT0S", "PT0S", "PT0S").await;
    // Cancel from IN_PROGRESS discards the running session only.
    app.run(m, id, "start").await.assert(204);
    app.advance_secs(5 * 60);
    app.run(m, id, "cancel").await.assert(204);
    assert_eq!(app.get(m, &path).await.body["duration"], "PT45M");
    assert_eq!(app.get(m, "/v2/members/now").await.text, "");
    // The time and zone of the client are checked but do not count.
    app.post_empty(m, &format!("{path}/start?time=yesterday&zoneId=Asia/Seoul"))
        .await
        .assert(400);
    app.post_empty(m, &format!("{path}/start"))
        .await
        .assert(204);

    let events = app.events().await;
    let summary: Vec<(String, Value, Option<i64>)> = events
        .iter()
        .map(|e| {
            (
                e.routing_key.clone(),
                e.payload["beforeState"].clone(),
                e.version,
            )
        })
        .collect();
    let ev = |k: &str, b: Value, v: i64| (k.to_owned(), b, Some(v));
    assert_eq!(
        summary,
        vec![
            ev("schedule.time.upcoming.updated", Value::Null, 1),
            ev("schedule.state.started", json!("NOT_STARTED"), 2),
            ev("schedule.state.suspended", json!("IN_PROGRESS"), 3),
            ev("schedule.state.started", json!("SUSPENDED"), 4),
            ev("schedule.state.completed", json!("IN_PROGRESS"), 5),
            ev("schedule.state.canceled", json!("COMPLETED"), 6),
            ev("schedule.state.started", json!("NOT_STARTED"), 7),
            ev("schedule.state.canceled", json!("IN_PROGRESS"), 8),
            ev("schedule.state.started", json!("NOT_STARTED"), 9),
        ]
    );
    for e in &events {
        assert_eq!(e.exchange, "task.schedule.direct");
        assert_eq!(e.aggregate_type, "schedule");
        assert_eq!(e.aggregate_id, id.to_string());
        assert_eq!(e.payload["scheduleId"], id);
        assert_eq!(e.payload["ownerId"], m);
        assert_eq!(e.payload["idempotentKey"], e.event_id.as_str());
        assert_eq!(e.payload["aggregateVersion"], e.version.unwrap());
        assert!(e.payload["occurredAt"].as_str().unwrap().ends_with('Z'));
    }
    assert_eq!(events[0].payload["newUpcomingTime"], "2026-02-01T00:00:00Z");
}

async fn statistics_by_type_and_week(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.member(1, None).await;
    let admin = app
        .schedule(
            m,
            "admin",
            "2026-02-01T09:00:00",
            "Asia/Seoul",
            "ADMIN_TASK",
        )
        .await;
    let quick = app
        .schedule(
            m,
            "quick",
            "2026-02-01T10:00:00",
            "Asia/Seoul",
            "QUICK_TASK",
        )
        .await;
    for (id, minutes) in [(admin, 20), (quick, 5)] {
        app.run(m, id, "start").await.assert(204);
        app.advance_secs(minutes * 60);
        app.run(m, id, "complete").await.assert(204);
    }
    assert_stats(&app, m, "PT0S", "PT20M", "PT25M").await;
    // Completing from NOT_STARTED adds nothing.
    let zero = app
        .schedule(m, "zero", "2026-02-01T11:00:00", "Asia/Seoul", "DEEP_WORK")
        .await;
    app.run(m, zero, "complete").await.assert(204);
    assert_stats(&app, m, "PT0S", "PT20M", "PT25M").await;
    // The week is the completion's, in the member's zone: another week reads zeros.
    let other = app
        .get(
            m,
            "/v2/statistics?time=2026-01-20T12:00:00&zoneId=Asia/Seoul",
        )
        .await;
    assert_eq!(other.assert(200)["totalWorkElapsedTime"], "PT0S");
    assert_eq!(other.body["startOfWeek"]["dateTime"], "2026-01-19T00:00:00");
    // Deleting a completed schedule reverts its time.
    app.delete(m, &format!("/v2/schedules/{quick}"))
        .await
        .assert(204);
    assert_stats(&app, m, "PT0S", "PT20M", "PT20M").await;
    // A member in another zone gets that zone's week.
    app.send(
        reqwest::Method::PUT,
        "/v2/members/zone-id",
        Some(m),
        Some(json!({"zoneId": "America/Los_Angeles"})),
    )
    .await
    .assert(200);
    let la = app
        .get(
            m,
            "/v2/statistics?time=2026-01-31T12:00:00&zoneId=America/Los_Angeles",
        )
        .await;
    assert_eq!(
        la.assert(200)["startOfWeek"],
        json!({"dateTime": "2026-01-26T00:00:00", "zoneId": "America/Los_Angeles"})
    );
    assert_eq!(
        la.body["totalWorkElapsedTime"], "PT0S",
        "recorded under the Seoul week"
    );
    app.get(m, "/v2/statistics?zoneId=Asia/Seoul")
        .await
        .assert(400);
}

async fn one_running_schedule(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.member(1, None).await;
    let a = app
        .schedule(m, "a", "2026-02-01T09:00:00", "Asia/Seoul", "DEEP_WORK")
        .await;
    let b = app
        .schedule(m, "b", "2026-02-01T10:00:00", "Asia/Seoul", "DEEP_WORK")
        .await;
    app.run(m, a, "start").await.assert(204);
    app.run(m, b, "start")
        .await
        .assert_error(409, "이미 실행 중인 일정이 존재합니다.");
    app.run(m, a, "suspend").await.assert(204);
    app.run(m, b, "start")
        .await
        .assert_error(409, "이미 실행 중인 일정이 존재합니다.");
    // Running or suspended schedules cannot be deleted.
    app.delete(m, &format!("/v2/schedules/{a}"))
        .await
        .assert_error(409, "시작되지 않았거나 완료된 일정만 삭제할 수 있습니다.");
    app.run(m, a, "cancel").await.assert(204);
    app.run(m, b, "start").await.assert(204);
    assert_eq!(app.get(m, "/v2/members/now").await.body, json!(b));
    // Another member's slot is their own.
    let other = app.member(2, None).await;
    let c = app
        .schedule(other, "c", "2026-02-01T09:00:00", "Asia/Seoul", "DEEP_WORK")
        .await;
    app.run(other, c, "start").await.assert(204);
}

/// Two concurrent starts of one member: exactly one 204 and one 409, on both databases. The requests
/// overlap (without the member lock PostgreSQL answers the loser with a version conflict); under the
/// lock the loser sees the winner's result and gets the domain's 409.
async fn concurrent_starts(backend: Backend) {
    let app = spawn_app(backend).await;
    for round in 0..8 {
        let m = app.member(100 + round, None).await;
        let a = app
            .schedule(m, "a", "2026-02-01T09:00:00", "Asia/Seoul", "DEEP_WORK")
            .await;
        let b = app
            .schedule(m, "b", "2026-02-01T10:00:00", "Asia/Seoul", "DEEP_WORK")
            .await;
        // Different schedules, then the same schedule twice.
        let second = if round % 2 == 0 { b } else { a };
        let (x, y) = tokio::join!(app.run(m, a, "start"), app.run(m, second, "start"));
        let mut statuses = [x.status.as_u16(), y.status.as_u16()];
        statuses.sort();
        assert_eq!(
            statuses,
            [204, 409],
            "round {round}: {} / {}",
            x.text,
            y.text
        );
        let loser = if x.status == 409 { &x } else { &y };
        let expected = if second == b {
            "이미 실행 중인 일정이 존재합니다."
        } else {
            "진행 중인 일정을 다시 시작할 수 없습니다."
        };
        loser.assert_error(409, expected);
        let running = app.get(m, "/v2/members/now").await.body.as_i64();
        assert!(
            running == Some(a) || running == Some(b),
            "round {round}: {running:?}"
        );
        let mut in_progress = 0;
        for id in [a, b] {
            if app.get(m, &format!("/v2/schedules/{id}")).await.body["state"] == "IN_PROGRESS" {
                in_progress += 1;
            }
        }
        assert_eq!(in_progress, 1, "round {round}");
        let started_events = app
            .events()
            .await
            .into_iter()
            .filter(|e| e.routing_key == "schedule.state.started" && e.payload["ownerId"] == m)
            .count();
        assert_eq!(started_events, 1, "round {round}: one started event");
    }
}

async fn prerequisites_gate_start_and_complete(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.member(1, None).await;
    let pre = app.task(m, "pre", "2026-02-01", "Asia/Seoul").await;
    let t = app
        .task_with(
            m,
            "t",
            "2026-02-02",
            "Asia/Seoul",
            json!([{"fromId": pre, "toId": 0}]),
        )
        .await;
    let s = app
        .post(
            m,
            &format!("/v2/tasks/{t}/schedules"),
            json!({"date": {"dateTime": "2026-02-01T10:00:00", "zoneId": "Asia/Seoul"}, "scheduleType": "DEEP_WORK"}),
        )
        .await
        .id();
    app.run(m, s, "start").await.assert_error(
        409,
        "이전 작업이 완료되지 않아 해당 일정을 시작할 수 없습니다.",
    );
    app.run(m, s, "complete").await.assert_error(
        409,
        "이전 작업이 완료되지 않아 해당 일정을 완료할 수 없습니다.",
    );
    assert_eq!(
        app.get(m, "/v2/members/now").await.text,
        "",
        "a refused start claims nothing"
    );
    app.post_empty(m, &format!("/v2/tasks/{pre}/complete"))
        .await
        .assert(204);
    let before = app.events().await.len();
    app.run(m, s, "start").await.assert(204);
    app.advance_secs(600);
    // Completing the schedule completes the task; cancelling reopens it.
    app.run(m, s, "complete").await.assert(204);
    let task = app.get(m, &format!("/v2/tasks/{t}")).await;
    assert_eq!(task.body["completed"], true);
    assert_eq!(
        app.get(m, &format!("/v2/schedules/{s}")).await.body["taskCompleted"],
        true
    );
    app.run(m, s, "cancel").await.assert(204);
    assert_eq!(
        app.get(m, &format!("/v2/tasks/{t}")).await.body["completed"],
        false
    );
    assert_eq!(
        app.keys_since(before).await,
        [
            "schedule.state.started",
            "schedule.state.completed",
            "task.completed",
            "schedule.state.canceled",
            "task.canceled",
        ]
    );
    // A deleted schedule leaves its task alone.
    app.delete(m, &format!("/v2/schedules/{s}"))
        .await
        .assert(204);
    app.get(m, &format!("/v2/tasks/{t}")).await.assert(200);
    let last = app.events().await.pop().unwrap();
    assert_eq!(last.routing_key, "schedule.deleted");
    assert_eq!(last.payload["scheduleId"], s);
    app.delete(m, &format!("/v2/schedules/{s}"))
        .await
        .assert(404);
}

both_backends!(
    lists_render_in_the_requested_zone,
    create_validation,
    get_and_patch,
    run_state_machine_and_statistics,
    statistics_by_type_and_week,
    one_running_schedule,
    concurrent_starts,
    prerequisites_gate_start_and_complete,
);
