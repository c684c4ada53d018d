//! Dated run operations (ADR 0004, "Dated changes"): presses a client queued while offline, replayed in order
//! when it is back, are timed by the moments they carry — the elapsed time and the statistics week come from those
//! moments — and a moment outside the window (ahead of the server's clock, before the schedule's previous change,
//! more than 24 hours old) is a 400 naming the window that changes nothing. And what is read of the times
//! recorded: planned against worked, day by day, against the daily objective.

use pinit_kernel::Backend;
use pinit_testkit::both_backends;

use crate::support::spawn_at;

/// The server's clock is 2026-02-02T12:00 in Seoul (03:00Z); the member was offline from 08:00 to 11:00.
async fn a_queued_sequence_is_timed_by_its_moments(backend: Backend) {
    let app = spawn_at(backend, "2026-02-02T03:00:00Z").await;
    let m = app.member(1, Some("Asia/Seoul")).await;
    let id = app
        .schedule(m, "집중", "2026-02-02T08:00:00", "Asia/Seoul", "DEEP_WORK")
        .await;
    let path = format!("/v2/schedules/{id}");
    // Pressed offline: start 08:00, pause 08:50, resume 09:30, complete 10:10 — sent now, in order.
    for (op, at) in [
        ("start", "2026-02-02T08:00:00"),
        ("suspend", "2026-02-02T08:50:00"),
        ("start", "2026-02-02T09:30:00"),
        ("complete", "2026-02-02T10:10:00"),
    ] {
        app.run_at(m, id, op, at).await.assert(204);
    }
    let got = app.get(m, &path).await;
    assert_eq!(got.assert(200)["state"], "COMPLETED");
    assert_eq!(
        got.body["duration"], "PT1H30M",
        "50 + 40 minutes, not the replay's seconds"
    );
    let stats = app
        .get(
            m,
            "/v2/statistics?time=2026-02-02T12:00:00&zoneId=Asia/Seoul",
        )
        .await;
    assert_eq!(stats.assert(200)["deepWorkElapsedTime"], "PT1H30M");

    // A week boundary: completed (dated) on Sunday 23:50 counts in that week, though sent on Monday.
    let app = spawn_at(backend, "2026-02-08T15:20:00Z").await; // Monday 00:20 in Seoul
    let m = app.member(1, Some("Asia/Seoul")).await;
    let id = app
        .schedule(m, "밤", "2026-02-08T23:00:00", "Asia/Seoul", "ADMIN_TASK")
        .await;
    app.run_at(m, id, "start", "2026-02-08T23:00:00")
        .await
        .assert(204);
    app.run_at(m, id, "complete", "2026-02-08T23:50:00")
        .await
        .assert(204);
    let sunday = app
        .get(
            m,
            "/v2/statistics?time=2026-02-08T12:00:00&zoneId=Asia/Seoul",
        )
        .await;
    assert_eq!(sunday.assert(200)["adminWorkElapsedTime"], "PT50M");
    let monday = app
        .get(
            m,
            "/v2/statistics?time=2026-02-09T12:00:00&zoneId=Asia/Seoul",
        )
        .await;
    assert_eq!(monday.assert(200)["adminWorkElapsedTime"], "PT0S");
}

async fn a_moment_outside_the_window_is_refused_and_changes_nothing(backend: Backend) {
    let app = spawn_at(backend, "2026-02-02T03:00:00Z").await; // 12:00 in Seoul
    let m = app.member(1, Some("Asia/Seoul")).await;
    let id = app
        .schedule(m, "집중", "2026-02-02T08:00:00", "Asia/Seoul", "DEEP_WORK")
        .await;
    let before = app.events().await.len();
    // A forged far-past time.
    let res = app.run_at(m, id, "start", "2025-01-01T09:00:00").await;
    res.assert(400);
    assert_eq!(res.body["errors"][0]["field"], "time");
    assert_eq!(
        res.body["message"],
        "time: 2025-01-01T00:00:00Z is more than 24 hours ago; a change may be dated from \
         2026-02-01T03:00:00Z to now (2026-02-02T03:00:00Z)"
    );
    // Ahead of the server's clock by more than the allowed difference.
    let res = app.run_at(m, id, "start", "2026-02-02T12:05:00").await;
    res.assert(400);
    assert!(
        res.text.contains("is later than the server's clock"),
        "{}",
        res.text
    );
    assert_eq!(app.keys_since(before).await, Vec::<String>::new());
    assert_eq!(
        app.get(m, &format!("/v2/schedules/{id}")).await.body["state"],
        "NOT_STARTED"
    );
    // A minute ahead is a clock difference: taken as now.
    app.run_at(m, id, "start", "2026-02-02T12:01:00")
        .await
        .assert(204);
    // Before the schedule's previous change (the start just now).
    let res = app.run_at(m, id, "suspend", "2026-02-02T11:59:00").await;
    res.assert(400);
    assert_eq!(
        res.body["message"],
        "time: 2026-02-02T02:59:00Z is before this schedule's previous change (2026-02-02T03:00:00Z); \
         a change may be dated from 2026-02-02T03:00:00Z to now (2026-02-02T03:00:00Z)"
    );
    app.advance_secs(600);
    app.run_at(m, id, "suspend", "2026-02-02T12:04:00")
        .await
        .assert(204);
    let got = app.get(m, &format!("/v2/schedules/{id}")).await;
    assert_eq!(got.body["duration"], "PT4M");
    // Without a time: the server's clock (10 minutes after the start; the session runs from now).
    app.post_empty(m, &format!("/v2/schedules/{id}/start"))
        .await
        .assert(204);
    app.advance_secs(60);
    app.post_empty(m, &format!("/v2/schedules/{id}/suspend"))
        .await
        .assert(204);
    let got = app.get(m, &format!("/v2/schedules/{id}")).await;
    assert_eq!(got.body["duration"], "PT5M");
}

/// Planned against worked: the week day by day, by type, against the daily objective (4 hours unless set), and
/// the streak up to today; the objective is set and refused when out of range.
async fn planned_against_worked_and_the_streak(backend: Backend) {
    // Monday 2026-02-02 09:00 in Seoul; the test's clock moves through the week.
    let app = spawn_at(backend, "2026-02-02T00:00:00Z").await;
    let m = app.member(1, Some("Asia/Seoul")).await;
    let objective = app.get(m, "/v2/members/objective").await;
    assert_eq!(objective.assert(200)["dailyObjective"], "PT4H");
    let set = |value: &str| {
        let app = &app;
        let body = serde_json::json!({"dailyObjective": value});
        async move {
            app.send(
                reqwest::Method::PUT,
                "/v2/members/objective",
                Some(m),
                Some(body),
            )
            .await
        }
    };
    assert_eq!(set("PT1H").await.assert(200)["dailyObjective"], "PT1H");
    let res = set("PT10M").await;
    res.assert(400);
    assert_eq!(res.body["errors"][0]["field"], "dailyObjective");

    // Monday: 70 minutes of deep work (met); Tuesday: 40 (not met); Wednesday and Thursday: an hour each (met).
    let days = [
        ("2026-02-02", "DEEP_WORK", Some("PT90M"), 70),
        ("2026-02-03", "DEEP_WORK", None, 40),
        ("2026-02-04", "ADMIN_TASK", Some("PT30M"), 60),
        ("2026-02-05", "QUICK_TASK", Some("PT45M"), 60),
    ];
    for (day, kind, planned, minutes) in days {
        let mut body = serde_json::json!({"title": "일",
            "date": {"dateTime": format!("{day}T09:00:00"), "zoneId": "Asia/Seoul"},
            "scheduleType": kind});
        if let Some(p) = planned {
            body["plannedDuration"] = serde_json::json!(p);
        }
        let id = app.post(m, "/v2/schedules", body).await.id();
        app.run(m, id, "start").await.assert(204);
        app.advance_secs(minutes * 60);
        app.run(m, id, "complete").await.assert(204);
        app.advance_secs(24 * 3600 - minutes * 60);
    }
    // Thursday 20:00; Friday is planned only.
    app.set_now("2026-02-05T11:00:00Z");
    app.schedule(m, "계획", "2026-02-06T14:00:00", "Asia/Seoul", "DEEP_WORK")
        .await;
    let plan = app
        .get(
            m,
            "/v2/statistics/plan?time=2026-02-04T12:00:00&zoneId=Asia/Seoul",
        )
        .await;
    let body = plan.assert(200);
    assert_eq!(body["dailyObjective"], "PT1H");
    assert_eq!(body["zoneId"], "Asia/Seoul");
    assert_eq!(body["streak"], 2, "Wednesday and Thursday (today)");
    let days = body["days"].as_array().unwrap();
    assert_eq!(days.len(), 7);
    assert_eq!(days[0]["date"], "2026-02-02");
    assert_eq!(days[0]["planned"]["DEEP_WORK"], "PT1H30M");
    assert_eq!(days[0]["worked"]["total"], "PT1H10M");
    assert_eq!(days[0]["met"], true);
    assert_eq!(days[1]["planned"]["total"], "PT1H", "an hour when not set");
    assert_eq!(days[1]["met"], false);
    assert_eq!(days[2]["worked"]["ADMIN_TASK"], "PT1H");
    assert_eq!(days[3]["worked"]["QUICK_TASK"], "PT1H");
    assert_eq!(days[4]["planned"]["DEEP_WORK"], "PT1H");
    assert_eq!(days[4]["worked"]["total"], "PT0S");
    assert_eq!(days[6]["date"], "2026-02-08");
}

/// A completed schedule's tracked time is corrected, and its statistics week follows; any other state is 409.
/// A running schedule says since when (`runningSince`), so a client's clock is exact.
async fn a_completed_schedules_time_is_corrected(backend: Backend) {
    let app = spawn_at(backend, "2026-02-02T00:00:00Z").await; // Monday 09:00 in Seoul
    let m = app.member(1, Some("Asia/Seoul")).await;
    let id = app
        .schedule(m, "집중", "2026-02-02T09:00:00", "Asia/Seoul", "DEEP_WORK")
        .await;
    let path = format!("/v2/schedules/{id}");
    let correct = |value: serde_json::Value| {
        let app = &app;
        let path = format!("{path}/duration");
        async move {
            app.send(
                reqwest::Method::PUT,
                &path,
                Some(m),
                Some(serde_json::json!({"duration": value})),
            )
            .await
        }
    };
    let res = correct(serde_json::json!("PT1H")).await;
    res.assert(409);
    assert_eq!(
        res.body["message"],
        "완료된 일정의 기록 시간만 고칠 수 있습니다."
    );
    assert_eq!(
        app.get(m, &path).await.body["runningSince"],
        serde_json::json!(null)
    );
    app.run(m, id, "start").await.assert(204);
    assert_eq!(
        app.get(m, &path).await.body["runningSince"],
        "2026-02-02T00:00:00Z"
    );
    app.advance_secs(20 * 60);
    app.run(m, id, "complete").await.assert(204);
    let week = "/v2/statistics?time=2026-02-02T12:00:00&zoneId=Asia/Seoul";
    assert_eq!(app.get(m, week).await.body["deepWorkElapsedTime"], "PT20M");

    // Forgot to pause: it was 50 minutes.
    let res = correct(serde_json::json!("PT50M")).await;
    assert_eq!(res.assert(200)["duration"], "PT50M");
    assert_eq!(res.body["state"], "COMPLETED");
    assert_eq!(res.body["runningSince"], serde_json::json!(null));
    let stats = app.get(m, week).await;
    assert_eq!(stats.body["deepWorkElapsedTime"], "PT50M");
    assert_eq!(stats.body["totalWorkElapsedTime"], "PT50M");
    for bad in [
        serde_json::json!("PT25H"),
        serde_json::json!("-PT1M"),
        serde_json::json!("50"),
    ] {
        let res = correct(bad.clone()).await;
        res.assert(400);
        assert_eq!(res.body["errors"][0]["field"], "duration", "{bad}");
    }
    assert_eq!(
        app.get(m, &path).await.body["duration"],
        "PT50M",
        "unchanged"
    );
    // Cancelled: the corrected time leaves the week.
    app.run(m, id, "cancel").await.assert(204);
    assert_eq!(app.get(m, week).await.body["deepWorkElapsedTime"], "PT0S");
}

both_backends!(
    a_queued_sequence_is_timed_by_its_moments,
    a_moment_outside_the_window_is_refused_and_changes_nothing,
    planned_against_worked_and_the_streak,
    a_completed_schedules_time_is_corrected,
);
