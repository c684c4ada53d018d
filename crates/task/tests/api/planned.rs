//! A schedule's planned length (`plannedDuration`, Pinit's addition): set when created (one-off, from a task, a
//! repeating schedule's occurrences), changed and cleared by PATCH (`schedule.details.updated` names it), refused
//! with the field named when it is not whole minutes from 1 to 24 hours, and the end of the schedule's calendar
//! event.

use pinit_kernel::Backend;
use pinit_testkit::both_backends;
use serde_json::json;

use crate::support::{App, spawn_at};

const ZONE: &str = "Asia/Seoul";

async fn create(app: &App, m: i64, extra: serde_json::Value) -> crate::support::Res {
    let mut body = json!({
        "title": "집중", "description": "설명",
        "date": {"dateTime": "2026-02-02T09:00:00", "zoneId": ZONE},
        "scheduleType": "DEEP_WORK"
    });
    for (k, v) in extra.as_object().expect("an object") {
        body[k] = v.clone();
    }
    app.post(m, "/v2/schedules", body).await
}

async fn planned_lengths_are_kept_changed_and_cleared(backend: Backend) {
    let app = spawn_at(backend, "2026-02-01T00:00:00Z").await;
    let m = app.member(1, Some(ZONE)).await;

    // Not set: null (the reference client ignores the field).
    let plain = create(&app, m, json!({})).await;
    assert_eq!(plain.assert(201)["plannedDuration"], json!(null));
    // Set, and answered as hours and minutes.
    let res = create(&app, m, json!({"plannedDuration": "PT90M"})).await;
    assert_eq!(res.assert(201)["plannedDuration"], "PT1H30M");
    let id = res.id();
    let path = format!("/v2/schedules/{id}");
    assert_eq!(
        app.get(m, &path).await.assert(200)["plannedDuration"],
        "PT1H30M"
    );
    let day = app
        .get(
            m,
            "/v2/schedules?time=2026-02-02T12:00:00&zoneId=Asia/Seoul",
        )
        .await;
    let listed: Vec<_> = day.assert(200).as_array().unwrap().clone();
    assert!(
        listed
            .iter()
            .any(|s| s["id"] == id && s["plannedDuration"] == "PT1H30M")
    );

    // Changed: the details event names it; the same value again changes nothing.
    let before = app.events().await.len();
    let res = app
        .patch(m, &path, json!({"plannedDuration": "PT45M"}))
        .await;
    assert_eq!(res.assert(200)["plannedDuration"], "PT45M");
    assert_eq!(app.keys_since(before).await, ["schedule.details.updated"]);
    let event = app.events().await.pop().unwrap();
    assert_eq!(event.payload["changed"], json!(["plannedDuration"]));
    let before = app.events().await.len();
    app.patch(m, &path, json!({"plannedDuration": "PT45M"}))
        .await
        .assert(200);
    assert!(app.keys_since(before).await.is_empty());
    // Absent leaves it; null clears it.
    let res = app.patch(m, &path, json!({"title": "집중 2"})).await;
    assert_eq!(res.assert(200)["plannedDuration"], "PT45M");
    let res = app.patch(m, &path, json!({"plannedDuration": null})).await;
    assert_eq!(res.assert(200)["plannedDuration"], json!(null));

    // From a task.
    let task = app.task(m, "보고서", "2026-02-05", ZONE).await;
    let res = app
        .post(
            m,
            &format!("/v2/tasks/{task}/schedules"),
            json!({"date": {"dateTime": "2026-02-03T14:00:00", "zoneId": ZONE},
                "scheduleType": "DEEP_WORK", "plannedDuration": "PT2H"}),
        )
        .await;
    assert_eq!(res.assert(201)["plannedDuration"], "PT2H");

    // A started schedule is not edited (409), its length included.
    let started = create(&app, m, json!({"plannedDuration": "PT30M"}))
        .await
        .id();
    app.run(m, started, "start").await.assert(204);
    app.patch(
        m,
        &format!("/v2/schedules/{started}"),
        json!({"plannedDuration": "PT1H"}),
    )
    .await
    .assert(409);
}

async fn a_bad_length_is_refused_naming_the_field(backend: Backend) {
    let app = spawn_at(backend, "2026-02-01T00:00:00Z").await;
    let m = app.member(1, Some(ZONE)).await;
    for (value, says) in [
        ("PT0M", "is not between 1 minute"),
        ("PT25H", "is not between 1 minute"),
        ("PT90S", "is not a whole number of minutes"),
        ("P1M", "counts months or years"),
        ("90", "is not an ISO 8601 duration"),
    ] {
        let res = create(&app, m, json!({"plannedDuration": value})).await;
        res.assert(400);
        assert_eq!(res.body["errors"][0]["field"], "plannedDuration", "{value}");
        assert_eq!(res.body["errors"][0]["rejectedValue"], value);
        let message = res.body["message"].as_str().unwrap();
        assert!(message.contains(says), "{value}: {message}");
    }
    let id = create(&app, m, json!({})).await.id();
    let res = app
        .patch(
            m,
            &format!("/v2/schedules/{id}"),
            json!({"plannedDuration": 60}),
        )
        .await;
    res.assert(400);
}

async fn occurrences_are_made_with_their_series_length(backend: Backend) {
    let app = spawn_at(backend, "2026-02-01T00:00:00Z").await;
    let m = app.member(1, Some(ZONE)).await;
    let res = create(
        &app,
        m,
        json!({"plannedDuration": "PT25M", "recurrence": {"rrule": "FREQ=DAILY;COUNT=5"}}),
    )
    .await;
    let first = res.assert(201).clone();
    assert_eq!(first["plannedDuration"], "PT25M");
    let series = first["seriesId"].as_i64().expect("a series");
    let week = app
        .get(
            m,
            "/v2/schedules/week?time=2026-02-04T12:00:00&zoneId=Asia/Seoul",
        )
        .await;
    let occurrences: Vec<_> = week
        .assert(200)
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["seriesId"] == series)
        .cloned()
        .collect();
    assert_eq!(occurrences.len(), 5);
    assert!(occurrences.iter().all(|o| o["plannedDuration"] == "PT25M"));
    // `scope=this`: that occurrence alone.
    let third = occurrences[2]["id"].as_i64().unwrap();
    app.patch(
        m,
        &format!("/v2/schedules/{third}?scope=this"),
        json!({"plannedDuration": "PT50M"}),
    )
    .await
    .assert(200);
    // `scope=all` from the second: the series and every occurrence that follows the edit.
    let second = occurrences[1]["id"].as_i64().unwrap();
    app.patch(
        m,
        &format!("/v2/schedules/{second}?scope=all"),
        json!({"plannedDuration": "PT1H15M"}),
    )
    .await
    .assert(200);
    let got = app.get(m, &format!("/v2/schedules/series/{series}")).await;
    assert_eq!(got.assert(200)["plannedDuration"], "PT1H15M");
    let week = app
        .get(
            m,
            "/v2/schedules/week?time=2026-02-04T12:00:00&zoneId=Asia/Seoul",
        )
        .await;
    let lengths: Vec<_> = week
        .assert(200)
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["seriesId"] == series)
        .map(|s| s["plannedDuration"].clone())
        .collect();
    assert!(
        lengths.iter().all(|l| l == "PT1H15M"),
        "every occurrence that follows the edit: {lengths:?}"
    );
}

/// The calendar event ends when the planned length does (an hour when not set).
async fn the_calendar_event_ends_with_the_planned_length(backend: Backend) {
    let app = spawn_at(backend, "2026-02-01T00:00:00Z").await;
    let m = app.member(1, Some(ZONE)).await;
    create(&app, m, json!({"plannedDuration": "PT1H30M"}))
        .await
        .assert(201);
    let res = app
        .server
        .client
        .post(app.url("/v2/calendar/feeds"))
        .header("X-Member-Id", m.to_string())
        .json(&json!({"kind": "planned"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let feed: serde_json::Value = res.json().await.unwrap();
    let url = feed["url"].as_str().unwrap();
    let path = &url[url.find("/feeds/").unwrap()..];
    let body = app
        .server
        .client
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains(
            "DTSTART;TZID=Asia/Seoul:20260202T090000\r\nDTEND;TZID=Asia/Seoul:20260202T103000"
        ),
        "{body}"
    );
}

both_backends!(
    planned_lengths_are_kept_changed_and_cleared,
    a_bad_length_is_refused_naming_the_field,
    occurrences_are_made_with_their_series_length,
    the_calendar_event_ends_with_the_planned_length,
);
