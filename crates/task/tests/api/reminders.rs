//! Reminders (docs/adr/0015-reminders.md, the task side): a schedule's own list, a series' list inherited by its
//! occurrences, the member's default (`GET/PUT /v2/members/reminders`); the effective list in
//! `schedule.time.upcoming.updated`, which goes out again when only the reminders of an unstarted schedule change;
//! a wrong entry named in the 400.

use std::collections::BTreeSet;

use pinit_kernel::Backend;
use pinit_testkit::both_backends;
use serde_json::{Value, json};

use crate::support::{App, Event, spawn_at};

const UPCOMING: &str = "schedule.time.upcoming.updated";

fn at(date: &str) -> Value {
    json!({"dateTime": date, "zoneId": "Asia/Seoul"})
}

/// A one-off schedule at `date` (Seoul), with `reminders` unless `Value::Null` is given for "absent".
async fn one_off(app: &App, m: i64, date: &str, reminders: Value) -> Value {
    let mut body = json!({"title": "회의", "description": "주간 회의", "date": at(date),
                          "scheduleType": "DEEP_WORK"});
    if !reminders.is_null() {
        body["reminders"] = reminders;
    }
    app.post(m, "/v2/schedules", body).await.assert(201).clone()
}

/// The `schedule.time.upcoming.updated` events recorded after the first `skip` events.
async fn upcoming_since(app: &App, skip: usize) -> Vec<Event> {
    app.events()
        .await
        .into_iter()
        .skip(skip)
        .filter(|e| e.routing_key == UPCOMING)
        .collect()
}

/// The one upcoming event of schedule `id` recorded after `skip` events.
async fn only_upcoming_of(app: &App, skip: usize, id: &Value) -> Event {
    let mut events: Vec<Event> = upcoming_since(app, skip)
        .await
        .into_iter()
        .filter(|e| e.payload["scheduleId"] == *id)
        .collect();
    assert_eq!(events.len(), 1, "one upcoming event for {id}: {events:?}");
    events.remove(0)
}

async fn defaults_follow_the_member_and_the_event_carries_the_effective_list(backend: Backend) {
    let app = spawn_at(backend, "2026-02-01T00:00:00Z").await;
    let m = app.member(1, None).await;
    let defaults = app.get(m, "/v2/members/reminders").await;
    assert_eq!(defaults.assert(200), &json!({"reminders": ["PT0S"]}));

    // No list of its own: `null` in the answer, the member's default in the event.
    let plain = one_off(&app, m, "2026-02-02T09:00:00", Value::Null).await;
    assert_eq!(plain["reminders"], Value::Null);
    let event = only_upcoming_of(&app, 0, &plain["id"]).await;
    assert_eq!(event.payload["reminders"], json!(["PT0S"]));
    assert_eq!(event.payload["newUpcomingTime"], "2026-02-02T00:00:00Z");

    // Its own list: sorted earliest first, in jiff's spelling, in the answer and the event alike.
    let before = app.events().await.len();
    let own = one_off(
        &app,
        m,
        "2026-02-03T09:00:00",
        json!(["PT0S", "-P1D", "-PT10M"]),
    )
    .await;
    assert_eq!(own["reminders"], json!(["-PT24H", "-PT10M", "PT0S"]));
    let event = only_upcoming_of(&app, before, &own["id"]).await;
    assert_eq!(
        event.payload["reminders"],
        json!(["-PT24H", "-PT10M", "PT0S"])
    );
    let read = app.get(m, &format!("/v2/schedules/{}", own["id"])).await;
    assert_eq!(read.assert(200)["reminders"], own["reminders"]);

    // An empty list is no reminder at all, not the default.
    let before = app.events().await.len();
    let silent = one_off(&app, m, "2026-02-04T09:00:00", json!([])).await;
    assert_eq!(silent["reminders"], json!([]));
    let event = only_upcoming_of(&app, before, &silent["id"]).await;
    assert_eq!(event.payload["reminders"], json!([]));

    // A new default: answered as stored; schedules already armed are not re-armed.
    let before = app.events().await.len();
    let put = app
        .send(
            reqwest::Method::PUT,
            "/v2/members/reminders",
            Some(m),
            Some(json!({"reminders": ["-PT5M", "-PT15M"]})),
        )
        .await;
    assert_eq!(put.assert(200), &json!({"reminders": ["-PT15M", "-PT5M"]}));
    assert_eq!(app.events().await.len(), before, "nothing re-armed");
    let read = app.get(m, "/v2/members/reminders").await;
    assert_eq!(read.assert(200), &json!({"reminders": ["-PT15M", "-PT5M"]}));
    let read = app.get(m, &format!("/v2/schedules/{}", plain["id"])).await;
    assert_eq!(read.assert(200)["reminders"], Value::Null);

    // A schedule armed afterwards gets it; one copied from a task takes its own list.
    let later = one_off(&app, m, "2026-02-05T09:00:00", Value::Null).await;
    let event = only_upcoming_of(&app, before, &later["id"]).await;
    assert_eq!(event.payload["reminders"], json!(["-PT15M", "-PT5M"]));
    let task = app.task(m, "보고서", "2026-02-10", "Asia/Seoul").await;
    let copied = app
        .post(
            m,
            &format!("/v2/tasks/{task}/schedules"),
            json!({"date": at("2026-02-06T09:00:00"), "scheduleType": "DEEP_WORK",
                   "reminders": ["-PT30M"]}),
        )
        .await;
    let copied = copied.assert(201).clone();
    assert_eq!(copied["reminders"], json!(["-PT30M"]));
    let event = only_upcoming_of(&app, before, &copied["id"]).await;
    assert_eq!(event.payload["reminders"], json!(["-PT30M"]));

    // Another member's default is their own.
    let other = app.member(2, None).await;
    let read = app.get(other, "/v2/members/reminders").await;
    assert_eq!(read.assert(200), &json!({"reminders": ["PT0S"]}));
}

async fn a_wrong_entry_is_a_400_naming_it(backend: Backend) {
    let app = spawn_at(backend, "2026-02-01T00:00:00Z").await;
    let m = app.member(1, None).await;
    let existing = one_off(&app, m, "2026-02-02T09:00:00", Value::Null).await;
    let task = app.task(m, "보고서", "2026-02-10", "Asia/Seoul").await;
    let events = app.events().await.len();
    let cases = [
        (
            json!(["-PT10M", "PT5M"]),
            "reminders[1]",
            "reminders[1]: \"PT5M\" is after the start; reminders are offsets <= 0 such as \"-PT10M\"",
        ),
        (
            json!(["-PT1M", "-PT2M", "-PT3M", "-PT4M", "-PT5M", "PT0S"]),
            "reminders",
            "reminders: at most 5 offsets, got 6",
        ),
        (
            json!(["-PT60M", "-PT1H"]),
            "reminders[1]",
            "reminders[1]: \"-PT1H\" is the same offset as reminders[0]",
        ),
        (
            json!(["-PT0.5S"]),
            "reminders[0]",
            "reminders[0]: \"-PT0.5S\" is not a whole number of seconds",
        ),
        (
            json!(["PT0S", "soon"]),
            "reminders[1]",
            "reminders[1]: \"soon\" is not an ISO 8601 duration; reminders are offsets <= 0 such as \"-PT10M\"",
        ),
        (
            json!(["-P8D"]),
            "reminders[0]",
            "reminders[0]: \"-P8D\" is earlier than 7 days before the start (\"-P7D\")",
        ),
    ];
    let base = json!({"title": "회의", "description": "설명", "date": at("2026-02-03T09:00:00"),
                      "scheduleType": "DEEP_WORK"});
    for (list, field, message) in cases {
        let with = |mut body: Value| {
            body["reminders"] = list.clone();
            body
        };
        let mut series = with(base.clone());
        series["recurrence"] = json!({"rrule": "FREQ=DAILY"});
        let answers = [
            app.post(m, "/v2/schedules", with(base.clone())).await,
            app.post(m, "/v2/schedules", series).await,
            app.post(
                m,
                &format!("/v2/tasks/{task}/schedules"),
                with(json!({"date": at("2026-02-03T09:00:00"), "scheduleType": "DEEP_WORK"})),
            )
            .await,
            app.patch(
                m,
                &format!("/v2/schedules/{}", existing["id"]),
                with(json!({})),
            )
            .await,
            app.send(
                reqwest::Method::PUT,
                "/v2/members/reminders",
                Some(m),
                Some(with(json!({}))),
            )
            .await,
        ];
        for res in answers {
            res.assert_error(400, message);
            assert_eq!(res.body["errors"][0]["field"], field, "{}", res.text);
        }
    }
    // Not a list of strings, or no list: a 400 as well, never a 500.
    for body in [
        json!({"reminders": "PT0S"}),
        json!({"reminders": [10]}),
        json!({}),
        json!({"reminders": null}),
    ] {
        let res = app
            .send(
                reqwest::Method::PUT,
                "/v2/members/reminders",
                Some(m),
                Some(body.clone()),
            )
            .await;
        res.assert(400);
    }
    app.patch(
        m,
        &format!("/v2/schedules/{}", existing["id"]),
        json!({"reminders": "PT0S"}),
    )
    .await
    .assert(400);
    // Only JSON is taken (as documented: 415).
    let res = app
        .server
        .client
        .put(app.url("/v2/members/reminders"))
        .header("X-Member-Id", m.to_string())
        .header("content-type", "text/plain")
        .body(r#"{"reminders": []}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    assert_eq!(app.events().await.len(), events, "nothing was recorded");
    let read = app.get(m, "/v2/members/reminders").await;
    assert_eq!(read.assert(200), &json!({"reminders": ["PT0S"]}));
    let day = app
        .get(
            m,
            "/v2/schedules?time=2026-02-03T12:00:00&zoneId=Asia/Seoul",
        )
        .await;
    assert_eq!(day.assert(200), &json!([]), "nothing was created");
}

async fn changing_only_the_reminders_rearms_an_unstarted_schedule(backend: Backend) {
    let app = spawn_at(backend, "2026-02-01T00:00:00Z").await;
    let m = app.member(1, None).await;
    let created = one_off(&app, m, "2026-02-02T09:00:00", Value::Null).await;
    let id = created["id"].as_i64().unwrap();
    let path = format!("/v2/schedules/{id}");

    let before = app.events().await.len();
    let res = app
        .patch(m, &path, json!({"reminders": ["-PT10M", "PT0S"]}))
        .await;
    assert_eq!(res.assert(200)["reminders"], json!(["-PT10M", "PT0S"]));
    assert_eq!(res.body["date"], created["date"], "the start stays");
    let event = only_upcoming_of(&app, before, &created["id"]).await;
    assert_eq!(event.payload["newUpcomingTime"], "2026-02-02T00:00:00Z");
    assert_eq!(event.payload["reminders"], json!(["-PT10M", "PT0S"]));
    assert_eq!(event.version, Some(2), "a change of the schedule");

    // The same list in another spelling changes nothing: no event.
    let before = app.events().await.len();
    app.patch(m, &path, json!({"reminders": ["PT0S", "-PT600S"]}))
        .await
        .assert(200);
    assert!(upcoming_since(&app, before).await.is_empty());
    // Other fields leave the reminders alone.
    let res = app.patch(m, &path, json!({"title": "새 제목"})).await;
    assert_eq!(res.assert(200)["reminders"], json!(["-PT10M", "PT0S"]));
    assert!(upcoming_since(&app, before).await.is_empty());

    // null: back to the member's default, announced with it.
    let res = app.patch(m, &path, json!({"reminders": null})).await;
    assert_eq!(res.assert(200)["reminders"], Value::Null);
    let event = only_upcoming_of(&app, before, &created["id"]).await;
    assert_eq!(event.payload["reminders"], json!(["PT0S"]));
    assert_eq!(event.payload["newUpcomingTime"], "2026-02-02T00:00:00Z");
    // Its own list equal to the default arms nothing new.
    let before = app.events().await.len();
    let res = app.patch(m, &path, json!({"reminders": ["PT0S"]})).await;
    assert_eq!(res.assert(200)["reminders"], json!(["PT0S"]));
    assert!(upcoming_since(&app, before).await.is_empty());

    // Moving it and changing the list is one event with both.
    let res = app
        .patch(
            m,
            &path,
            json!({"date": at("2026-02-02T10:00:00"), "reminders": ["-PT1H"]}),
        )
        .await;
    res.assert(200);
    let event = only_upcoming_of(&app, before, &created["id"]).await;
    assert_eq!(event.payload["newUpcomingTime"], "2026-02-02T01:00:00Z");
    assert_eq!(event.payload["reminders"], json!(["-PT1H"]));

    // A started schedule is not changed, nor re-armed.
    app.run(m, id, "start").await.assert(204);
    let before = app.events().await.len();
    app.patch(m, &path, json!({"reminders": ["-PT5M"]}))
        .await
        .assert(409);
    assert!(upcoming_since(&app, before).await.is_empty());
}

/// The schedule listed on `date` (a prefix of its `dateTime`).
fn on<'a>(list: &'a Value, date: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["date"]["dateTime"].as_str().unwrap().starts_with(date))
        .unwrap_or_else(|| panic!("{date} in {list}"))
}

/// The schedules of the weeks of 12-07 and 12-14 and of Monday 12-21: what creating the series made.
async fn two_weeks(app: &App, m: i64) -> Vec<Value> {
    let mut all = Vec::new();
    for path in [
        "/v2/schedules/week?time=2026-12-09T12:00:00&zoneId=Asia/Seoul",
        "/v2/schedules/week?time=2026-12-16T12:00:00&zoneId=Asia/Seoul",
        "/v2/schedules?time=2026-12-21T12:00:00&zoneId=Asia/Seoul",
    ] {
        let listed = app.get(m, path).await;
        all.extend(listed.assert(200).as_array().unwrap().iter().cloned());
    }
    all
}

async fn a_series_lends_its_reminders_and_an_edit_with_a_scope_rearms_its_occurrences(
    backend: Backend,
) {
    // Monday 2026-12-07 08:00 in Seoul: every weekday at 09:00, ten minutes' notice.
    let app = spawn_at(backend, "2026-12-06T23:00:00Z").await;
    let m = app.member(1, None).await;
    let first = app
        .post(
            m,
            "/v2/schedules",
            json!({"title": "딥워크", "description": "아침 집중", "date": at("2026-12-07T09:00:00"),
                   "scheduleType": "DEEP_WORK", "reminders": ["-PT10M"],
                   "recurrence": {"rrule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"}}),
        )
        .await;
    let first = first.assert(201).clone();
    assert_eq!(first["reminders"], json!(["-PT10M"]));
    let series = first["seriesId"].as_i64().unwrap();
    let view = app.get(m, &format!("/v2/schedules/series/{series}")).await;
    assert_eq!(view.assert(200)["reminders"], json!(["-PT10M"]));
    // Every occurrence made is armed with the series' list (its own column stays empty).
    let made = upcoming_since(&app, 0).await;
    assert_eq!(made.len(), 11, "15 days of weekdays");
    for e in &made {
        assert_eq!(e.payload["reminders"], json!(["-PT10M"]), "{:?}", e.payload);
    }

    let listed = two_weeks(&app, m).await;
    let list = Value::Array(listed.clone());
    for s in &listed {
        assert_eq!(s["reminders"], json!(["-PT10M"]), "{s}");
    }
    let (monday, tuesday, wednesday, thursday) = (
        on(&list, "2026-12-07")["id"].clone(),
        on(&list, "2026-12-08")["id"].clone(),
        on(&list, "2026-12-09")["id"].clone(),
        on(&list, "2026-12-10")["id"].clone(),
    );

    // this: Tuesday alone gets five minutes; the series keeps its list.
    let before = app.events().await.len();
    let res = app
        .patch(
            m,
            &format!("/v2/schedules/{tuesday}?scope=this"),
            json!({"reminders": ["-PT5M"]}),
        )
        .await;
    assert_eq!(res.assert(200)["reminders"], json!(["-PT5M"]));
    let since = upcoming_since(&app, before).await;
    assert_eq!(since.len(), 1);
    assert_eq!(since[0].payload["scheduleId"], tuesday);
    assert_eq!(since[0].payload["reminders"], json!(["-PT5M"]));
    let view = app.get(m, &format!("/v2/schedules/series/{series}")).await;
    assert_eq!(view.assert(200)["reminders"], json!(["-PT10M"]));
    // Friday is edited on its own (no longer what the series makes), but still follows the series' reminders.
    let friday = on(&list, "2026-12-11")["id"].clone();
    app.patch(
        m,
        &format!("/v2/schedules/{friday}"),
        json!({"title": "치과"}),
    )
    .await
    .assert(200);
    // Wednesday runs: it is not re-armed by what follows.
    app.run(m, wednesday.as_i64().unwrap(), "start")
        .await
        .assert(204);

    // all, asked on Thursday: the series' list; every unstarted occurrence without its own is re-armed at its
    // start, with the new list — not Tuesday (its own list), not Wednesday (running).
    let before = app.events().await.len();
    let res = app
        .patch(
            m,
            &format!("/v2/schedules/{thursday}?scope=all"),
            json!({"reminders": ["PT0S", "-PT1H"]}),
        )
        .await;
    let res = res.assert(200).clone();
    assert_eq!(res["reminders"], json!(["-PT1H", "PT0S"]));
    assert_eq!(res["seriesId"], series, "edited in place");
    let view = app.get(m, &format!("/v2/schedules/series/{series}")).await;
    assert_eq!(view.assert(200)["reminders"], json!(["-PT1H", "PT0S"]));
    let since = upcoming_since(&app, before).await;
    let rearmed: BTreeSet<i64> = since
        .iter()
        .filter_map(|e| e.payload["scheduleId"].as_i64())
        .collect();
    let expected: BTreeSet<i64> = listed
        .iter()
        .filter(|s| s["id"] != tuesday && s["id"] != wednesday)
        .filter_map(|s| s["id"].as_i64())
        .collect();
    assert_eq!(rearmed, expected);
    assert_eq!(since.len(), expected.len(), "one event each");
    for e in &since {
        assert_eq!(e.payload["reminders"], json!(["-PT1H", "PT0S"]));
        let schedule = listed
            .iter()
            .find(|s| s["id"] == e.payload["scheduleId"])
            .unwrap();
        let date = schedule["date"]["dateTime"].as_str().unwrap();
        let day = &date[8..10];
        // 09:00 in Seoul is midnight UTC: the start is announced unchanged.
        assert_eq!(
            e.payload["newUpcomingTime"],
            format!("2026-12-{day}T00:00:00Z")
        );
        assert!(e.version.unwrap() > 1, "a new version of the schedule");
    }
    let listed = Value::Array(two_weeks(&app, m).await);
    assert_eq!(on(&listed, "2026-12-08")["reminders"], json!(["-PT5M"]));
    assert_eq!(
        on(&listed, "2026-12-11")["reminders"],
        json!(["-PT1H", "PT0S"])
    );
    assert_eq!(
        on(&listed, "2026-12-11")["title"],
        "치과",
        "still edited on its own"
    );
    assert_eq!(on(&listed, "2026-12-07")["id"], monday);

    // The rolling window arms new occurrences with the series' list.
    let before = app.events().await.len();
    app.advance_secs(2 * 86_400);
    let report = app.app.roll_series_window().await.unwrap();
    assert!(report.made > 0, "{report:?}");
    let made = upcoming_since(&app, before).await;
    assert_eq!(made.len(), report.made);
    for e in &made {
        assert_eq!(e.payload["reminders"], json!(["-PT1H", "PT0S"]));
    }

    // following, from Wednesday 12-16: a new series back on the member's default; the days before keep theirs.
    let listed = Value::Array(two_weeks(&app, m).await);
    let next_wednesday = on(&listed, "2026-12-16")["id"].clone();
    let before = app.events().await.len();
    let res = app
        .patch(
            m,
            &format!("/v2/schedules/{next_wednesday}?scope=following"),
            json!({"reminders": null}),
        )
        .await;
    let res = res.assert(200).clone();
    assert_eq!(res["reminders"], Value::Null);
    let split = res["seriesId"].as_i64().unwrap();
    assert_ne!(split, series);
    let view = app.get(m, &format!("/v2/schedules/series/{split}")).await;
    assert_eq!(view.assert(200)["reminders"], Value::Null);
    let view = app.get(m, &format!("/v2/schedules/series/{series}")).await;
    assert_eq!(view.assert(200)["reminders"], json!(["-PT1H", "PT0S"]));
    let since = upcoming_since(&app, before).await;
    assert!(!since.is_empty());
    for e in &since {
        assert_eq!(e.payload["reminders"], json!(["PT0S"]), "{:?}", e.payload);
        assert!(
            e.payload["newUpcomingTime"].as_str().unwrap() >= "2026-12-16",
            "only from Wednesday on: {:?}",
            e.payload
        );
    }
    let listed = Value::Array(two_weeks(&app, m).await);
    assert_eq!(
        on(&listed, "2026-12-15")["reminders"],
        json!(["-PT1H", "PT0S"])
    );
    assert_eq!(on(&listed, "2026-12-17")["reminders"], Value::Null);
}

both_backends!(
    defaults_follow_the_member_and_the_event_carries_the_effective_list,
    a_wrong_entry_is_a_400_naming_it,
    changing_only_the_reminders_rearms_an_unstarted_schedule,
    a_series_lends_its_reminders_and_an_edit_with_a_scope_rearms_its_occurrences,
);
