//! Reminders through the consumers, the dispatcher and the HTTP API, on SQLite and PostgreSQL: lead times,
//! each sent once at its own time with its own key; a reminders-only change; quiet hours holding or dropping;
//! snoozing from a device.

mod support;

use jiff::Timestamp;
use pinit_contracts::events::{ScheduleState, channel};
use pinit_kernel::Backend;
use pinit_notification::domain::Outcome;
use serde_json::{Value, json};
use support::{App, id, secs, spawn_app, state_change, upcoming};

/// An upcoming event with these reminders; returns its id.
async fn arm_with(
    app: &App,
    schedule: i64,
    owner: i64,
    start: Timestamp,
    version: i64,
    reminders: &[&str],
) -> String {
    app.directory
        .put(schedule, owner, "딥 워크", start, ScheduleState::NotStarted);
    let mut m = upcoming(schedule, owner, start, version, app.now());
    let mut payload: Value = serde_json::from_str(&m.payload).unwrap();
    payload["reminders"] = json!(reminders);
    m.payload = payload.to_string();
    app.publish_one(m.clone()).await;
    m.event_id
}

/// The decrypted payloads delivered so far, in arrival order.
fn payloads(app: &App) -> Vec<Value> {
    app.push
        .delivered()
        .into_iter()
        .map(|p| p.payload.expect("decrypts"))
        .collect()
}

async fn each_reminder_goes_out_once_at_its_own_time_with_its_own_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let (schedule, owner) = (id(), id());
    app.subscribe_browser(owner, "phone").await;
    let start = app.now() + secs(3600);
    let event = arm_with(&app, schedule, owner, start, 1, &["PT0S", "-PT10M"]).await;
    let pending = app.reminders(schedule).await;
    let slots: Vec<(i64, Timestamp, &str)> = pending
        .iter()
        .map(|n| (n.slot.offset.seconds(), n.due_at, n.idempotent_key.as_str()))
        .collect();
    let lead_key = format!("{event}:-PT10M");
    assert_eq!(
        slots,
        [
            (-600, start - secs(600), lead_key.as_str()),
            (0, start, event.as_str())
        ]
    );
    let dispatcher = app.dispatcher();

    app.advance(secs(3600 - 601));
    assert_eq!(dispatcher.run_once().await.unwrap().claimed, 0);
    app.advance(secs(1));
    assert_eq!(dispatcher.run_once().await.unwrap().sent, 1);
    let first = payloads(&app);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["reminderOffset"], "-PT10M");
    assert_eq!(first[0]["idempotentKey"], lead_key.as_str());
    assert_eq!(
        first[0]["scheduleStartTime"],
        pinit_notification::domain::format_start_time(start)
    );

    // The same start announced again (a reminders-only change): the lead time that went out is not armed
    // again; the at-start one stays; a new -PT5M is armed.
    arm_with(
        &app,
        schedule,
        owner,
        start,
        2,
        &["-PT10M", "-PT5M", "PT0S"],
    )
    .await;
    let offsets: Vec<i64> = app
        .reminders(schedule)
        .await
        .iter()
        .map(|n| n.slot.offset.seconds())
        .collect();
    assert_eq!(offsets, [-300, 0]);
    assert_eq!(
        app.notification(schedule)
            .await
            .unwrap()
            .idempotent_key
            .as_str(),
        event,
        "an unchanged reminder keeps its key"
    );

    app.advance(secs(300));
    assert_eq!(dispatcher.run_once().await.unwrap().sent, 1);
    app.advance(secs(300));
    assert_eq!(dispatcher.run_once().await.unwrap().sent, 1);
    let offsets: Vec<String> = payloads(&app)
        .iter()
        .map(|p| p["reminderOffset"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(offsets, ["-PT10M", "-PT5M", "PT0S"]);
    assert!(app.reminders(schedule).await.is_empty());
    let outcomes = app.outcomes(schedule).await;
    assert_eq!(outcomes.len(), 3);
    assert!(outcomes.iter().all(|o| o.outcome == Outcome::Delivered));
}

async fn a_start_cancels_the_reminders_not_yet_sent_and_a_move_re_times_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let (schedule, owner) = (id(), id());
    app.subscribe_browser(owner, "phone").await;
    let start = app.now() + secs(3600);
    arm_with(
        &app,
        schedule,
        owner,
        start,
        1,
        &["-PT1H", "-PT10M", "PT0S"],
    )
    .await;
    let dispatcher = app.dispatcher();
    assert_eq!(
        dispatcher.run_once().await.unwrap().sent,
        1,
        "-PT1H is due now"
    );

    // Moved an hour later: the remaining two move with it; the sent one is armed again for the new start.
    let moved = start + secs(3600);
    arm_with(
        &app,
        schedule,
        owner,
        moved,
        2,
        &["-PT1H", "-PT10M", "PT0S"],
    )
    .await;
    let dues: Vec<Timestamp> = app
        .reminders(schedule)
        .await
        .iter()
        .map(|n| n.due_at)
        .collect();
    assert_eq!(dues, [start, moved - secs(600), moved]);

    app.publish_one(state_change(
        channel::SCHEDULE_STATE_STARTED,
        schedule,
        owner,
        "NOT_STARTED",
        3,
        app.now(),
    ))
    .await;
    assert!(app.reminders(schedule).await.is_empty());
    app.advance(secs(7200));
    assert_eq!(dispatcher.run_once().await.unwrap().claimed, 0);
    assert_eq!(payloads(&app).len(), 1);
}

async fn quiet_hours_hold_a_reminder_to_their_end_or_drop_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let (held, dropped, owner) = (id(), id(), id());
    let member = owner.to_string();
    app.subscribe_browser(owner, "phone").await;
    // A window from now (UTC, whole minutes) for two hours.
    let now = app.now();
    let local = now.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let hhmm = |t: jiff::civil::Time| format!("{:02}:{:02}", t.hour(), t.minute());
    let window_start = local.time();
    let window_end = (local.clone() + secs(7200)).time();
    let body = json!({"enabled": true, "start": hhmm(window_start), "end": hhmm(window_end),
        "zoneId": "UTC", "mode": "hold", "includeAtStart": true});
    let res = app.put("/v0/push/quiet-hours", Some(&member), body).await;
    assert_eq!(res.status(), 200);
    let end = {
        let t = jiff::civil::Time::new(window_end.hour(), window_end.minute(), 0, 0).unwrap();
        let mut end = local
            .date()
            .to_datetime(t)
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .unwrap();
        if end.timestamp() <= now {
            end = end.tomorrow().unwrap();
        }
        end.timestamp()
    };

    let start = now + secs(1800);
    arm_with(&app, held, owner, start, 1, &["-PT10M"]).await;
    let dispatcher = app.dispatcher();
    app.advance(secs(1200));
    let report = dispatcher.run_once().await.unwrap();
    assert_eq!((report.claimed, report.sent, report.released), (1, 0, 1));
    let row = &app.reminders(held).await[0];
    assert_eq!(
        (row.due_at, row.next_attempt_at),
        (end, end),
        "held to the end"
    );
    assert!(app.push.received().is_empty());

    // At the window's end it goes out (the schedule is still not started).
    let wait = end.as_second() - app.now().as_second();
    app.advance(secs(wait));
    assert_eq!(dispatcher.run_once().await.unwrap().sent, 1);
    assert_eq!(payloads(&app)[0]["reminderOffset"], "-PT10M");

    // In drop mode it is recorded as dropped, not sent.
    let mut drop = app
        .get("/v0/push/quiet-hours", Some(&member))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(drop["mode"], "hold");
    drop["mode"] = json!("drop");
    drop["start"] = json!(hhmm(
        app.now().to_zoned_datetime(jiff::tz::TimeZone::UTC).time()
    ));
    drop["end"] = json!(hhmm(
        (app.now().to_zoned_datetime(jiff::tz::TimeZone::UTC) + secs(7200)).time()
    ));
    assert_eq!(
        app.put("/v0/push/quiet-hours", Some(&member), drop)
            .await
            .status(),
        200
    );
    arm_with(&app, dropped, owner, app.now() + secs(600), 1, &["PT0S"]).await;
    app.advance(secs(600));
    assert_eq!(dispatcher.run_once().await.unwrap().sent, 0);
    let outcomes = app.outcomes(dropped).await;
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].outcome, Outcome::Quiet);
    assert_eq!(payloads(&app).len(), 1);
}

async fn quiet_hours_are_validated_and_default_to_off(backend: Backend) {
    let app = spawn_app(backend).await;
    let member = id().to_string();
    let got: Value = app
        .get("/v0/push/quiet-hours", Some(&member))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        got,
        json!({"enabled": false, "start": "22:00", "end": "07:00", "zoneId": "Asia/Seoul",
            "mode": "hold", "includeAtStart": true})
    );
    let res = app
        .put(
            "/v0/push/quiet-hours",
            Some(&member),
            json!({"start": "24:00", "end": "07:00", "zoneId": "Nowhere/City", "mode": "mute"}),
        )
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    // Each field named, with the reason's stable code.
    let codes: Vec<(&str, &str)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        codes,
        [
            ("start", "TIME_OF_DAY"),
            ("zoneId", "ZONE_RULE"),
            ("mode", "QUIET_MODE")
        ],
        "{body}"
    );
    let res = app
        .put(
            "/v0/push/quiet-hours",
            Some(&member),
            json!({"start": "23:30", "end": "23:30", "zoneId": "Asia/Seoul", "mode": "hold"}),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (&body["errors"][0]["field"], &body["errors"][0]["code"]),
        (&json!("end"), &json!("QUIET_EMPTY")),
        "{body}"
    );
    let res = app
        .put(
            "/v0/push/quiet-hours",
            Some(&member),
            json!({"start": "23:00", "end": "06:30", "zoneId": "Europe/Berlin", "mode": "drop",
                "includeAtStart": false}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let got: Value = app
        .get("/v0/push/quiet-hours", Some(&member))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        got,
        json!({"enabled": true, "start": "23:00", "end": "06:30", "zoneId": "Europe/Berlin",
            "mode": "drop", "includeAtStart": false})
    );
}

async fn a_snoozed_reminder_arrives_once_after_the_snooze_and_not_after_a_start(backend: Backend) {
    let app = spawn_app(backend).await;
    let (schedule, other_schedule, owner) = (id(), id(), id());
    let member = owner.to_string();
    app.subscribe_browser(owner, "phone").await;
    let start = app.now() + secs(600);
    let event = arm_with(&app, schedule, owner, start, 1, &["-PT10M"]).await;
    let dispatcher = app.dispatcher();
    assert_eq!(dispatcher.run_once().await.unwrap().sent, 1);
    let key = format!("{event}:-PT10M");
    let path = format!("/v0/push/reminders/{key}/snooze");

    // Bad minutes, someone else's key, an unknown key.
    let res = app.post(&path, Some(&member), json!({"minutes": 3})).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "SNOOZE_MINUTES", "{body}");
    let res = app.post(&path, Some("999999"), json!({"minutes": 5})).await;
    assert_eq!(res.status(), 404);
    let res = app
        .post(
            "/v0/push/reminders/nope/snooze",
            Some(&member),
            json!({"minutes": 5}),
        )
        .await;
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "REMINDER_NOT_FOUND", "{body}");

    let res = app.post(&path, Some(&member), json!({"minutes": 5})).await;
    assert_eq!(res.status(), 202);
    let snoozed: Value = res.json().await.unwrap();
    let snooze_key = format!("{key}:snooze:1");
    assert_eq!(snoozed["key"], snooze_key.as_str());
    // Snoozing the same push again (a double tap) re-times the one snooze.
    let res = app.post(&path, Some(&member), json!({"minutes": 6})).await;
    assert_eq!(res.status(), 202);
    assert_eq!(app.reminders(schedule).await.len(), 1);

    app.advance(secs(300));
    assert_eq!(
        dispatcher.run_once().await.unwrap().claimed,
        0,
        "snoozed for 6 minutes"
    );
    app.advance(secs(60));
    assert_eq!(dispatcher.run_once().await.unwrap().sent, 1);
    let got = payloads(&app);
    assert_eq!(got.len(), 2);
    assert_eq!(got[1]["idempotentKey"], snooze_key.as_str());
    assert_eq!(got[1]["snooze"], "1");
    app.advance(secs(3600));
    assert_eq!(
        dispatcher.run_once().await.unwrap().claimed,
        0,
        "exactly once"
    );

    // A snooze of a schedule that has started by then is not sent.
    let start = app.now() + secs(60);
    let event = arm_with(&app, other_schedule, owner, start, 1, &["-PT1M"]).await;
    assert_eq!(dispatcher.run_once().await.unwrap().sent, 1);
    let path = format!("/v0/push/reminders/{event}:-PT1M/snooze");
    assert_eq!(
        app.post(&path, Some(&member), json!({"minutes": 5}))
            .await
            .status(),
        202
    );
    app.directory
        .set_state(other_schedule, ScheduleState::InProgress);
    app.advance(secs(300));
    assert_eq!(dispatcher.run_once().await.unwrap().sent, 0);
    let outcomes = app.outcomes(other_schedule).await;
    assert_eq!(outcomes.last().unwrap().outcome, Outcome::Suppressed);
    assert_eq!(payloads(&app).len(), 3);
}

pinit_testkit::both_backends!(
    each_reminder_goes_out_once_at_its_own_time_with_its_own_key,
    a_start_cancels_the_reminders_not_yet_sent_and_a_move_re_times_them,
    quiet_hours_hold_a_reminder_to_their_end_or_drop_it,
    quiet_hours_are_validated_and_default_to_off,
    a_snoozed_reminder_arrives_once_after_the_snooze_and_not_after_a_start,
);
