//! Dated run operations (ADR 0004, "Dated changes"): presses a client queued while offline, replayed in order
//! when it is back, are timed by the moments they carry — the elapsed time and the statistics week come from those
//! moments — and a moment outside the window (ahead of the server's clock, before the schedule's previous change,
//! more than 24 hours old) is a 400 naming the window that changes nothing.

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

both_backends!(
    a_queued_sequence_is_timed_by_its_moments,
    a_moment_outside_the_window_is_refused_and_changes_nothing,
);
