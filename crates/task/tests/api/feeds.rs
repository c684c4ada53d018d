//! Calendar subscription feeds (docs/calendar.md#subscription-feeds): issued, listed (never the URL), rotated and
//! revoked under `/v2/calendar/feeds`; `GET /feeds/{token}.ics` without credentials — the planned feed (one-off
//! schedules, a series as one RRULE event with its changed occurrence), the tracked feed (what was worked), strong
//! ETags and 304, 404 for a token no feed has; and Python's `icalendar` reading a feed.

use pinit_kernel::Backend;
use pinit_task::ical::{Component, Property};
use pinit_testkit::both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Row;

use crate::support::{App, spawn_at};

/// A feed's GET: status, headers, body.
async fn fetch(
    app: &App,
    url: &str,
    if_none_match: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let path = url
        .find("/feeds/")
        .map(|i| &url[i..])
        .unwrap_or_else(|| panic!("a feed URL: {url}"));
    let mut request = app.server.client.get(app.url(path));
    if let Some(tag) = if_none_match {
        request = request.header("If-None-Match", tag);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.expect("body"))
}

async fn issue(app: &App, m: i64, kind: &str) -> Value {
    let res = app
        .server
        .client
        .post(app.url("/v2/calendar/feeds"))
        .header("X-Member-Id", m.to_string())
        .header("X-Forwarded-Host", "pinit.example.com")
        .header("X-Forwarded-Proto", "https")
        .json(&json!({"kind": kind}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 201);
    res.json().await.expect("JSON")
}

fn events(calendar: &Component) -> Vec<&Component> {
    calendar.components_named("VEVENT").collect()
}

fn value<'a>(event: &'a Component, name: &str) -> &'a Property {
    event
        .property(name)
        .unwrap_or_else(|| panic!("{name} in {event:?}"))
}

fn by_uid<'a>(calendar: &'a Component, uid: &str) -> Vec<&'a Component> {
    events(calendar)
        .into_iter()
        .filter(|e| e.property("UID").is_some_and(|p| p.value == uid))
        .collect()
}

async fn feeds_are_issued_listed_rotated_and_revoked(backend: Backend) {
    let app = spawn_at(backend, "2026-02-01T00:00:00Z").await;
    let m = app.member(1, None).await;
    let other = app.member(2, None).await;

    let feed = issue(&app, m, "planned").await;
    let url = feed["url"].as_str().unwrap().to_owned();
    let token = url
        .strip_prefix("https://pinit.example.com/feeds/")
        .and_then(|t| t.strip_suffix(".ics"))
        .unwrap_or_else(|| panic!("the URL as the client came: {url}"));
    assert_eq!(token.len(), 43, "256 bits, base64url");
    assert_eq!(
        feed["webcalUrl"],
        format!("webcal://pinit.example.com/feeds/{token}.ics")
    );
    assert_eq!(feed["kind"], "planned");
    assert_eq!(feed["createdAt"], "2026-02-01T00:00:00Z");

    // Only a digest is stored.
    let rows = sqlx::query("SELECT token_digest, token_hint FROM calendar_feed")
        .fetch_all(app.db.pool())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let digest: String = rows[0].get(0);
    assert_eq!(digest.len(), 64);
    assert!(!digest.contains(token));

    // The list never shows the URL.
    let list = app.get(m, "/v2/calendar/feeds").await.assert(200).clone();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let listed = &list[0];
    assert_eq!(listed["id"], feed["id"]);
    assert!(listed.get("url").is_none(), "{listed}");
    assert!(listed.get("lastFetchedAt").is_none(), "{listed}");
    assert!(
        listed["urlHint"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/feeds/…{}.ics", &token[39..])),
        "{listed}"
    );

    // Fetching needs nothing but the URL; the fetch is recorded.
    app.advance_secs(60);
    let (status, headers, body) = fetch(&app, &url, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["content-type"], "text/calendar; charset=utf-8");
    assert_eq!(headers["cache-control"], "private, max-age=300");
    assert!(headers["etag"].to_str().unwrap().starts_with('"'));
    let calendar = Component::parse(&body).expect("the feed parses");
    assert_eq!(value(&calendar, "NAME").text(), "Pinit — planned");
    assert_eq!(value(&calendar, "REFRESH-INTERVAL").value, "PT15M");
    assert_eq!(
        value(&calendar, "REFRESH-INTERVAL").param("VALUE"),
        Some("DURATION")
    );
    assert_eq!(value(&calendar, "X-PUBLISHED-TTL").value, "PT15M");
    assert_eq!(value(&calendar, "COLOR").value, "royalblue");
    let list = app.get(m, "/v2/calendar/feeds").await.assert(200).clone();
    assert_eq!(list[0]["lastFetchedAt"], "2026-02-01T00:01:00Z");
    // Polls within a minute are not written again; the next one after it is.
    app.advance_secs(30);
    assert_eq!(fetch(&app, &url, None).await.0, 200);
    let list = app.get(m, "/v2/calendar/feeds").await.assert(200).clone();
    assert_eq!(list[0]["lastFetchedAt"], "2026-02-01T00:01:00Z");
    app.advance_secs(60);
    assert_eq!(fetch(&app, &url, None).await.0, 200);
    let list = app.get(m, "/v2/calendar/feeds").await.assert(200).clone();
    assert_eq!(list[0]["lastFetchedAt"], "2026-02-01T00:02:30Z");

    // Another member can neither rotate nor revoke it.
    let id = feed["id"].as_i64().unwrap();
    app.post_empty(other, &format!("/v2/calendar/feeds/{id}/rotate"))
        .await
        .assert(404);
    app.delete(other, &format!("/v2/calendar/feeds/{id}"))
        .await
        .assert(404);
    assert!(
        app.get(other, "/v2/calendar/feeds")
            .await
            .assert(200)
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Rotation: a new URL, the old one dead.
    let rotated = app
        .post_empty(m, &format!("/v2/calendar/feeds/{id}/rotate"))
        .await
        .assert(200)
        .clone();
    let new_url = rotated["url"].as_str().unwrap().to_owned();
    assert_ne!(new_url, url);
    assert_eq!(rotated["id"], feed["id"]);
    assert_eq!(fetch(&app, &url, None).await.0, 404);
    assert_eq!(fetch(&app, &new_url, None).await.0, 200);

    // Revocation: 204, then the URL is dead and the feed gone.
    app.delete(m, &format!("/v2/calendar/feeds/{id}"))
        .await
        .assert(204);
    assert_eq!(fetch(&app, &new_url, None).await.0, 404);
    app.delete(m, &format!("/v2/calendar/feeds/{id}"))
        .await
        .assert(404);
    assert!(
        app.get(m, "/v2/calendar/feeds")
            .await
            .assert(200)
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Tokens that name nothing.
    for path in [
        "/feeds/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.ics",
        "/feeds/short.ics",
        "/feeds/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let res = app.send(reqwest::Method::GET, path, None, None).await;
        res.assert_error(404, "calendar feed not found");
    }

    // Validation.
    let res = app
        .post(m, "/v2/calendar/feeds", json!({"kind": "everything"}))
        .await;
    res.assert(400);
    assert_eq!(res.body["errors"][0]["field"], "kind", "{}", res.text);
    app.post(m, "/v2/calendar/feeds", json!({}))
        .await
        .assert(400);
    app.get(3, "/v2/calendar/feeds").await.assert(503);
    app.send(reqwest::Method::GET, "/v2/calendar/feeds", None, None)
        .await
        .assert(401);
}

async fn at_most_twenty_feeds(backend: Backend) {
    let app = spawn_at(backend, "2026-02-01T00:00:00Z").await;
    let m = app.member(1, None).await;
    for _ in 0..20 {
        app.post(m, "/v2/calendar/feeds", json!({"kind": "tracked"}))
            .await
            .assert(201);
    }
    app.post(m, "/v2/calendar/feeds", json!({"kind": "planned"}))
        .await
        .assert(409);
}

async fn the_planned_feed_holds_schedules_and_series(backend: Backend) {
    let app = spawn_at(backend, "2026-02-01T00:00:00Z").await;
    let m = app.member(1, None).await;
    let url = issue(&app, m, "planned").await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    // 40 days ago: outside the window.
    app.set_now("2025-12-20T00:00:00Z");
    app.schedule(
        m,
        "오래된 일",
        "2025-12-22T09:00:00",
        "Asia/Seoul",
        "DEEP_WORK",
    )
    .await;
    app.set_now("2026-02-01T00:00:00Z");
    let one_off = app
        .schedule(
            m,
            "Write, review; ship",
            "2026-02-03T09:30:00",
            "Asia/Seoul",
            "ADMIN_TASK",
        )
        .await;
    let first = app
        .post(
            m,
            "/v2/schedules",
            json!({"title": "Standup", "description": "daily",
                   "date": {"dateTime": "2026-02-02T09:00:00", "zoneId": "Europe/Berlin"},
                   "scheduleType": "QUICK_TASK",
                   "recurrence": {"rrule": "FREQ=DAILY;COUNT=5"}}),
        )
        .await
        .assert(201)
        .clone();
    let series = first["seriesId"].as_i64().expect("a series id");
    let week = app
        .get(
            m,
            "/v2/schedules/week?time=2026-02-02T00:00:00&zoneId=Europe/Berlin",
        )
        .await
        .assert(200)
        .clone();
    let third = week
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["date"]["dateTime"] == "2026-02-04T09:00:00")
        .unwrap_or_else(|| panic!("the third occurrence in {week}"))["id"]
        .as_i64()
        .unwrap();
    app.patch(
        m,
        &format!("/v2/schedules/{third}"),
        json!({"title": "Standup (late)"}),
    )
    .await
    .assert(200);

    let (status, headers, body) = fetch(&app, &url, None).await;
    assert_eq!(status, 200, "{body}");
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let calendar = Component::parse(&body).expect("the feed parses");
    assert_eq!(
        calendar
            .components_named("VTIMEZONE")
            .map(|z| value(z, "TZID").value.clone())
            .collect::<Vec<_>>(),
        ["Asia/Seoul", "Europe/Berlin"]
    );
    let all = events(&calendar);
    assert_eq!(all.len(), 3, "{body}");
    assert!(!body.contains("오래된 일"), "outside the window: {body}");

    let single = by_uid(&calendar, &format!("pinit-schedule-{one_off}@pinit"));
    assert_eq!(single.len(), 1, "{body}");
    let single = single[0];
    assert_eq!(value(single, "SUMMARY").text(), "Write, review; ship");
    assert_eq!(
        value(single, "DTSTART").line(),
        "DTSTART;TZID=Asia/Seoul:20260203T093000"
    );
    assert_eq!(
        value(single, "DTEND").line(),
        "DTEND;TZID=Asia/Seoul:20260203T103000"
    );
    assert_eq!(value(single, "SEQUENCE").value, "0");
    assert_eq!(value(single, "CATEGORIES").texts(), ["ADMIN_TASK"]);
    assert_eq!(value(single, "X-PINIT-STATE").value, "NOT_STARTED");

    let recurring = by_uid(&calendar, &format!("pinit-series-{series}@pinit"));
    assert_eq!(
        recurring.len(),
        2,
        "the series and its changed occurrence: {body}"
    );
    let master = recurring
        .iter()
        .find(|e| e.property("RRULE").is_some())
        .expect("the recurring event");
    assert_eq!(value(master, "RRULE").value, "FREQ=DAILY;COUNT=5");
    assert_eq!(
        value(master, "DTSTART").line(),
        "DTSTART;TZID=Europe/Berlin:20260202T090000"
    );
    let changed = recurring
        .iter()
        .find(|e| e.property("RECURRENCE-ID").is_some())
        .expect("the override");
    assert_eq!(
        value(changed, "RECURRENCE-ID").line(),
        "RECURRENCE-ID;TZID=Europe/Berlin:20260204T090000"
    );
    assert_eq!(value(changed, "SUMMARY").text(), "Standup (late)");

    // HEAD (the gateway routes GET and HEAD): the headers without the body.
    let path = &url[url.find("/feeds/").unwrap()..];
    let head = app.server.client.head(app.url(path)).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(
        head.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    assert!(head.text().await.unwrap().is_empty());

    // Unchanged: 304 with the same tag, no body; the same bytes again.
    let (status, again, body_304) = fetch(&app, &url, Some(&etag)).await;
    assert_eq!(status, 304);
    assert_eq!(again["etag"].to_str().unwrap(), etag);
    assert!(body_304.is_empty());
    app.advance_secs(600);
    assert_eq!(fetch(&app, &url, None).await.2, body);

    // A change: a new tag, SEQUENCE bumped.
    app.patch(
        m,
        &format!("/v2/schedules/{one_off}"),
        json!({"title": "Ship it"}),
    )
    .await
    .assert(200);
    let (status, headers, body) = fetch(&app, &url, Some(&etag)).await;
    assert_eq!(status, 200);
    assert_ne!(headers["etag"].to_str().unwrap(), etag);
    let calendar = Component::parse(&body).unwrap();
    let single = by_uid(&calendar, &format!("pinit-schedule-{one_off}@pinit"))[0];
    assert_eq!(value(single, "SUMMARY").text(), "Ship it");
    assert_eq!(value(single, "SEQUENCE").value, "1");

    // Python's icalendar reads it, and recurring-ical-events expands the series with its changed occurrence.
    if let Some(answer) =
        crate::feeds::oracle(&body, "2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z")
    {
        assert!(answer.get("error").is_none(), "{answer}");
        assert_eq!(answer["calendar"]["NAME"], "Pinit — planned");
        assert_eq!(answer["calendar"]["REFRESH-INTERVAL"], "PT15M");
        let mut got: Vec<(String, String)> = answer["occurrences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    jiff::Timestamp::from_second(o[1].as_i64().unwrap())
                        .unwrap()
                        .to_string(),
                    o[2].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        got.sort();
        let want: Vec<(String, String)> = [
            ("2026-02-02T08:00:00Z", "Standup"),
            ("2026-02-03T00:30:00Z", "Ship it"),
            ("2026-02-03T08:00:00Z", "Standup"),
            ("2026-02-04T08:00:00Z", "Standup (late)"),
            ("2026-02-05T08:00:00Z", "Standup"),
            ("2026-02-06T08:00:00Z", "Standup"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(got, want, "{body}");
    }
}

async fn the_tracked_feed_holds_what_was_worked(backend: Backend) {
    let app = spawn_at(backend, "2026-02-01T00:00:00Z").await;
    let m = app.member(1, Some("America/New_York")).await;
    let url = issue(&app, m, "tracked").await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = app
        .schedule(
            m,
            "Deep work",
            "2026-01-31T19:00:00",
            "America/New_York",
            "DEEP_WORK",
        )
        .await;
    let idle = app
        .schedule(
            m,
            "Not yet",
            "2026-02-02T09:00:00",
            "America/New_York",
            "DEEP_WORK",
        )
        .await;
    app.run(m, done, "start").await.assert(204);
    app.advance_secs(25 * 60);
    app.run(m, done, "suspend").await.assert(204);
    app.advance_secs(600);
    app.run(m, done, "start").await.assert(204);
    app.advance_secs(5 * 60);
    app.run(m, done, "complete").await.assert(204);

    let (status, headers, body) = fetch(&app, &url, None).await;
    assert_eq!(status, 200, "{body}");
    let calendar = Component::parse(&body).unwrap();
    assert_eq!(value(&calendar, "NAME").text(), "Pinit — tracked");
    assert_eq!(events(&calendar).len(), 1, "{body}");
    assert!(by_uid(&calendar, &format!("pinit-run-{idle}@pinit")).is_empty());
    let worked = by_uid(&calendar, &format!("pinit-run-{done}@pinit"))[0];
    assert_eq!(value(worked, "DURATION").value, "PT30M");
    assert_eq!(value(worked, "X-PINIT-STATE").value, "COMPLETED");
    assert_eq!(value(worked, "TRANSP").value, "TRANSPARENT");
    assert_eq!(
        value(worked, "DTSTART").line(),
        "DTSTART;TZID=America/New_York:20260131T190000"
    );
    assert!(
        value(worked, "DESCRIPTION")
            .text()
            .starts_with("Worked 30m (completed)\n\n")
    );

    // A running schedule's length grows with it.
    app.run(m, idle, "start").await.assert(204);
    app.advance_secs(90);
    let (_, headers_running, body) = fetch(&app, &url, None).await;
    assert_ne!(headers_running["etag"], headers["etag"]);
    let calendar = Component::parse(&body).unwrap();
    let running = by_uid(&calendar, &format!("pinit-run-{idle}@pinit"))[0];
    assert_eq!(value(running, "DURATION").value, "PT1M30S");
    assert_eq!(value(running, "X-PINIT-STATE").value, "IN_PROGRESS");
    if let Some(answer) =
        crate::feeds::oracle(&body, "2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z")
    {
        assert!(answer.get("error").is_none(), "{answer}");
        let durations: Vec<i64> = answer["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["duration"].as_i64().unwrap())
            .collect();
        assert_eq!(durations, [1800, 90], "{answer}");
    }
}

async fn a_run_occurrence_is_shown_as_it_is_and_outlives_its_series(backend: Backend) {
    let app = spawn_at(backend, "2026-02-02T07:30:00Z").await;
    let m = app.member(1, None).await;
    let url = issue(&app, m, "planned").await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = app
        .post(
            m,
            "/v2/schedules",
            json!({"title": "Standup", "description": "daily",
                   "date": {"dateTime": "2026-02-02T09:00:00", "zoneId": "Europe/Berlin"},
                   "scheduleType": "QUICK_TASK",
                   "recurrence": {"rrule": "FREQ=DAILY;COUNT=3"}}),
        )
        .await
        .assert(201)
        .clone();
    let (id, series) = (
        first["id"].as_i64().unwrap(),
        first["seriesId"].as_i64().unwrap(),
    );
    app.run(m, id, "start").await.assert(204);
    let (_, _, body) = fetch(&app, &url, None).await;
    let calendar = Component::parse(&body).unwrap();
    let recurring = by_uid(&calendar, &format!("pinit-series-{series}@pinit"));
    assert_eq!(recurring.len(), 2, "{body}");
    let started = recurring
        .iter()
        .find(|e| e.property("RECURRENCE-ID").is_some())
        .expect("the started occurrence as an override");
    assert_eq!(value(started, "X-PINIT-STATE").value, "IN_PROGRESS");
    assert_eq!(
        value(started, "RECURRENCE-ID").line(),
        "RECURRENCE-ID;TZID=Europe/Berlin:20260202T090000"
    );

    // The whole series deleted: the started occurrence stays, as an event of its own.
    app.delete(m, &format!("/v2/schedules/{id}?scope=all"))
        .await
        .assert(204);
    let (_, _, body) = fetch(&app, &url, None).await;
    let calendar = Component::parse(&body).unwrap();
    assert!(
        by_uid(&calendar, &format!("pinit-series-{series}@pinit")).is_empty(),
        "{body}"
    );
    let own = by_uid(&calendar, &format!("pinit-schedule-{id}@pinit"));
    assert_eq!(own.len(), 1, "{body}");
    assert_eq!(value(own[0], "X-PINIT-STATE").value, "IN_PROGRESS");
    assert_eq!(
        value(own[0], "DTSTART").line(),
        "DTSTART;TZID=Europe/Berlin:20260202T090000",
        "in the zone it was planned in"
    );
    assert_eq!(events(&calendar).len(), 1, "{body}");
}

/// Python's `icalendar` on a feed (tests/oracle/ical_oracle.py), `None` when its packages are not installed.
pub fn oracle(body: &str, from: &str, to: &str) -> Option<Value> {
    use std::io::Write;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle");
    let python = pinit_testkit::python::venv(&dir.join("requirements.txt"))?;
    let mut child = std::process::Command::new(python)
        .arg(dir.join("ical_oracle.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the oracle");
    let case = json!({"id": 0, "ics": body,
        "from": from.parse::<jiff::Timestamp>().unwrap().as_second(),
        "to": to.parse::<jiff::Timestamp>().unwrap().as_second()});
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{case}").unwrap();
    drop(stdin);
    let out = child.wait_with_output().expect("the oracle's answer");
    assert!(out.status.success(), "the oracle failed");
    Some(serde_json::from_slice(&out.stdout).expect("JSON"))
}

both_backends!(
    feeds_are_issued_listed_rotated_and_revoked,
    at_most_twenty_feeds,
    the_planned_feed_holds_schedules_and_series,
    the_tracked_feed_holds_what_was_worked,
    a_run_occurrence_is_shown_as_it_is_and_outlives_its_series,
);
