//! Repeating schedules (`recurrence` on `POST /v2/schedules`): the first occurrence as the answer,
//! occurrences in the day and week lists with `seriesId` and `occurrenceStart`, wall time across DST, lazy
//! making (a far week makes just that week), the rolling window and its events, `GET
//! /v2/schedules/series/{id}`, and a wrong rule named in the 400.

use pinit_kernel::Backend;
use pinit_testkit::both_backends;
use serde_json::{Value, json};

use pinit_task::app::RollReport;

use crate::support::{App, spawn_at};

/// A series from `date` (wall clock in `zone`) repeating by `rrule`.
async fn create(app: &App, member: i64, date: &str, zone: &str, recurrence: Value) -> Value {
    app.post(
        member,
        "/v2/schedules",
        json!({"title": "딥워크", "description": "아침 집중",
               "date": {"dateTime": date, "zoneId": zone},
               "scheduleType": "DEEP_WORK", "recurrence": recurrence}),
    )
    .await
    .assert(201)
    .clone()
}

fn dates(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("an array: {list}"))
        .iter()
        .map(|s| s["date"]["dateTime"].as_str().unwrap().to_owned())
        .collect()
}

async fn week(app: &App, member: i64, time: &str, zone: &str) -> Value {
    app.get(
        member,
        &format!("/v2/schedules/week?time={time}&zoneId={zone}"),
    )
    .await
    .assert(200)
    .clone()
}

/// Now Monday 2026-12-07 08:00 in Seoul: member 1 makes a series every weekday at 09:00 from today. Returns
/// the app, the member and the first occurrence.
async fn weekdays_at_nine(backend: Backend) -> (App, i64, Value) {
    let app = spawn_at(backend, "2026-12-06T23:00:00Z").await;
    let m = app.member(1, None).await;
    let first = create(
        &app,
        m,
        "2026-12-07T09:00:00",
        "Asia/Seoul",
        json!({"rrule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"}),
    )
    .await;
    (app, m, first)
}

async fn weekdays_at_nine_appear_in_the_lists_as_ordinary_schedules(backend: Backend) {
    let (app, m, first) = weekdays_at_nine(backend).await;
    assert_eq!(first["date"]["dateTime"], "2026-12-07T09:00:00");
    assert_eq!(first["occurrenceStart"], "2026-12-07T09:00:00");
    assert_eq!(first["state"], "NOT_STARTED");
    let series = first["seriesId"]
        .as_i64()
        .expect("seriesId on the first occurrence");

    let this_week = week(&app, m, "2026-12-09T12:00:00", "Asia/Seoul").await;
    assert_eq!(
        dates(&this_week),
        [
            "2026-12-07T09:00:00",
            "2026-12-08T09:00:00",
            "2026-12-09T09:00:00",
            "2026-12-10T09:00:00",
            "2026-12-11T09:00:00"
        ]
    );
    for occurrence in this_week.as_array().unwrap() {
        assert_eq!(occurrence["seriesId"], series, "{occurrence}");
        assert_eq!(
            occurrence["occurrenceStart"],
            occurrence["date"]["dateTime"]
        );
        assert_eq!(occurrence["title"], "딥워크");
    }
    assert_eq!(
        this_week[0]["id"], first["id"],
        "the first occurrence is the one created"
    );

    // Each occurrence is a schedule of its own: starting one leaves the others alone.
    let wednesday = this_week[2]["id"].as_i64().unwrap();
    app.run(m, wednesday, "start").await.assert(204);
    let again = week(&app, m, "2026-12-09T12:00:00", "Asia/Seoul").await;
    let states: Vec<&str> = again
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        [
            "NOT_STARTED",
            "NOT_STARTED",
            "IN_PROGRESS",
            "NOT_STARTED",
            "NOT_STARTED"
        ]
    );
    assert_eq!(
        again.as_array().unwrap().len(),
        5,
        "reading again makes nothing twice"
    );

    // A one-off schedule carries neither field (the reference client's shape).
    let single = app
        .post(
            m,
            "/v2/schedules",
            json!({"title": "t", "description": "d",
                   "date": {"dateTime": "2026-12-12T10:00:00", "zoneId": "Asia/Seoul"},
                   "scheduleType": "QUICK_TASK"}),
        )
        .await;
    let single = single.assert(201);
    assert!(single.get("seriesId").is_none() && single.get("occurrenceStart").is_none());
}

async fn wall_time_is_kept_across_dst_and_a_far_week_makes_only_itself(backend: Backend) {
    let app = spawn_at(backend, "2027-03-01T12:00:00Z").await;
    let m = app.member(1, Some("America/New_York")).await;
    create(
        &app,
        m,
        "2027-03-01T09:00:00",
        "America/New_York",
        json!({"rrule": "FREQ=DAILY"}),
    )
    .await;
    // DST starts on Sunday 14 March 2027: the occurrences stay at 09:00 local, 14:00Z then 13:00Z.
    let dst_week = week(&app, m, "2027-03-15T12:00:00", "America/New_York").await;
    assert!(dates(&dst_week).iter().all(|d| d.ends_with("T09:00:00")));
    let utc = week(&app, m, "2027-03-15T12:00:00", "UTC").await;
    assert_eq!(
        dates(&utc)[..2],
        [
            "2027-03-15T13:00:00".to_owned(),
            "2027-03-16T13:00:00".to_owned()
        ]
    );
    let before = week(&app, m, "2027-03-08T12:00:00", "UTC").await;
    assert!(dates(&before).contains(&"2027-03-13T14:00:00".to_owned()));

    // Ten years ahead: that week's seven occurrences are made, not the years in between.
    let count = |app: &App| {
        let pool = app.db.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM schedule")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let made_before = count(&app).await;
    let far = week(&app, m, "2037-03-18T12:00:00", "America/New_York").await;
    assert_eq!(far.as_array().unwrap().len(), 7);
    assert_eq!(count(&app).await, made_before + 7);
}

async fn the_rolling_window_makes_occurrences_ahead_with_their_events(backend: Backend) {
    let app = spawn_at(backend, "2026-12-07T00:00:00Z").await;
    let m = app.member(1, Some("UTC")).await;
    let first = create(
        &app,
        m,
        "2026-12-07T09:00:00",
        "UTC",
        json!({"rrule": "FREQ=DAILY;COUNT=30"}),
    )
    .await;
    let series = first["seriesId"].as_i64().unwrap();
    let upcoming = |events: &[crate::support::Event]| {
        events
            .iter()
            .filter(|e| e.routing_key == "schedule.time.upcoming.updated")
            .count()
    };
    // Creating made the 15 days ahead, each with the event that arms its push.
    assert_eq!(upcoming(&app.events().await), 15);
    let roll = || async { app.app.roll_series_window().await.unwrap() };
    app.advance_secs(600);
    assert_eq!(
        roll().await.series,
        0,
        "ten minutes later the series is not visited"
    );
    // Ten days later it is behind the 14 days: made 15 ahead again; twelve days after that, COUNT ends it.
    app.advance_secs(10 * 86_400);
    assert_eq!(
        roll().await,
        RollReport {
            series: 1,
            made: 10
        }
    );
    assert_eq!(roll().await.series, 0, "once a day, not at every step");
    app.advance_secs(12 * 86_400);
    assert_eq!(roll().await, RollReport { series: 1, made: 5 });
    assert_eq!(upcoming(&app.events().await), 30);
    app.advance_secs(2 * 86_400);
    assert_eq!(
        roll().await.series,
        0,
        "an ended series is not visited again"
    );
    app.set_now("2027-02-01T00:00:00Z");

    let view = app.get(m, &format!("/v2/schedules/series/{series}")).await;
    let view = view.assert(200);
    assert_eq!(view["recurrence"]["rrule"], "FREQ=DAILY;COUNT=30");
    assert_eq!(
        view["start"],
        json!({"dateTime": "2026-12-07T09:00:00", "zoneId": "UTC"})
    );
    assert_eq!(view["next"], json!([]), "all thirty are past");
    let other = app.member(2, None).await;
    app.get(other, &format!("/v2/schedules/series/{series}"))
        .await
        .assert(404);
}

async fn exdates_and_rdates_shape_the_series(backend: Backend) {
    let app = spawn_at(backend, "2026-12-06T00:00:00Z").await;
    let m = app.member(1, Some("Europe/Berlin")).await;
    let first = create(
        &app,
        m,
        "2026-12-07T18:00:00",
        "Europe/Berlin",
        json!({"rrule": "FREQ=WEEKLY;BYDAY=MO,WE",
               "exdates": ["2026-12-09T18:00:00"],
               "rdates": ["2026-12-12T11:00:00"]}),
    )
    .await;
    let series = first["seriesId"].as_i64().unwrap();
    let listed = week(&app, m, "2026-12-08T12:00:00", "Europe/Berlin").await;
    assert_eq!(
        dates(&listed),
        ["2026-12-07T18:00:00", "2026-12-12T11:00:00"]
    );
    let view = app.get(m, &format!("/v2/schedules/series/{series}")).await;
    let view = view.assert(200);
    assert_eq!(
        view["recurrence"]["exdates"],
        json!(["2026-12-09T18:00:00"])
    );
    assert_eq!(
        view["next"][0],
        json!({"dateTime": "2026-12-07T18:00:00", "zoneId": "Europe/Berlin"})
    );
}

async fn a_wrong_rule_is_a_400_naming_the_part(backend: Backend) {
    let app = spawn_at(backend, "2026-12-06T00:00:00Z").await;
    let m = app.member(1, None).await;
    let cases = [
        (
            json!({"rrule": "FREQ=HOURLY"}),
            "recurrence.rrule",
            "FREQ=HOURLY",
        ),
        (
            json!({"rrule": "FREQ=WEEKLY;BYDAY=FRI"}),
            "recurrence.rrule",
            "BYDAY=FRI",
        ),
        (
            json!({"rrule": "FREQ=DAILY;BYHOUR=9"}),
            "recurrence.rrule",
            "BYHOUR",
        ),
        (json!({}), "recurrence.rrule", "must not be null"),
        (
            json!({"rrule": "FREQ=DAILY", "exdates": ["2026-12-07T09:00:00", "tomorrow"]}),
            "recurrence.exdates[1]",
            "",
        ),
        (
            json!({"rrule": "FREQ=DAILY;COUNT=1", "exdates": ["2026-12-07T09:00:00"]}),
            "recurrence.exdates",
            "no occurrence",
        ),
    ];
    for (recurrence, field, needle) in cases {
        let res = app
            .post(
                m,
                "/v2/schedules",
                json!({"title": "t", "description": "d",
                       "date": {"dateTime": "2026-12-07T09:00:00", "zoneId": "Asia/Seoul"},
                       "scheduleType": "DEEP_WORK", "recurrence": recurrence}),
            )
            .await;
        let body = res.assert(400);
        let errors = body["errors"].as_array().expect("errors");
        assert!(
            errors.iter().any(|e| e["field"] == field
                && (e["reason"].as_str().unwrap_or_default().contains(needle)
                    || body["message"]
                        .as_str()
                        .unwrap_or_default()
                        .contains(needle))),
            "{recurrence}: {body}"
        );
    }
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schedule_series")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing is stored for a refused series");
}

/// The id of the schedule listed on `date`.
fn id_on(list: &Value, date: &str) -> i64 {
    by_date(list, date)["id"].as_i64().unwrap()
}

fn by_date<'a>(list: &'a Value, date: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["date"]["dateTime"].as_str().unwrap().starts_with(date))
        .unwrap_or_else(|| panic!("{date} in {list}"))
}

async fn deleting_this_following_or_all_keeps_what_was_started(backend: Backend) {
    let (app, m, first) = weekdays_at_nine(backend).await;
    let series = first["seriesId"].as_i64().unwrap();
    let time = "2026-12-09T12:00:00";
    let listed = week(&app, m, time, "Asia/Seoul").await;

    // this: Tuesday goes, and no later read makes it again.
    let tuesday = id_on(&listed, "2026-12-08");
    app.delete(m, &format!("/v2/schedules/{tuesday}"))
        .await
        .assert(204);
    let listed = week(&app, m, time, "Asia/Seoul").await;
    assert_eq!(dates(&listed).len(), 4);
    assert!(!dates(&listed).contains(&"2026-12-08T09:00:00".to_owned()));
    let view = app.get(m, &format!("/v2/schedules/series/{series}")).await;
    assert_eq!(
        view.assert(200)["recurrence"]["exdates"],
        json!(["2026-12-08T09:00:00"])
    );

    // following, from Wednesday, while Thursday runs: Thursday stays, Friday and every later week go.
    let thursday = id_on(&listed, "2026-12-10");
    app.run(m, thursday, "start").await.assert(204);
    let wednesday = id_on(&listed, "2026-12-09");
    let events_before = app.events().await.len();
    app.delete(m, &format!("/v2/schedules/{wednesday}?scope=following"))
        .await
        .assert(204);
    let deleted: Vec<String> = app.events().await[events_before..]
        .iter()
        .filter(|e| e.routing_key == "schedule.deleted")
        .map(|e| e.aggregate_id.clone())
        .collect();
    // Wednesday, Friday, and what the window had made of the next 15 days already (six more weekdays).
    assert_eq!(deleted.len(), 8, "{deleted:?}");
    assert!(deleted.contains(&wednesday.to_string()));
    assert!(!deleted.contains(&thursday.to_string()));
    let listed = week(&app, m, time, "Asia/Seoul").await;
    assert_eq!(
        dates(&listed),
        ["2026-12-07T09:00:00", "2026-12-10T09:00:00"]
    );
    assert_eq!(by_date(&listed, "2026-12-10")["state"], "IN_PROGRESS");
    let next_week = week(&app, m, "2026-12-16T12:00:00", "Asia/Seoul").await;
    assert_eq!(next_week, json!([]), "the series ended before Wednesday");
    let view = app.get(m, &format!("/v2/schedules/series/{series}")).await;
    let view = view.assert(200);
    assert!(
        view["recurrence"]["rrule"]
            .as_str()
            .unwrap()
            .ends_with("UNTIL=20261209T085959"),
        "{view}"
    );

    // A running occurrence cannot be deleted on its own (the one-schedule rule).
    app.delete(m, &format!("/v2/schedules/{thursday}"))
        .await
        .assert(409);
    app.delete(m, &format!("/v2/schedules/{thursday}?scope=sometimes"))
        .await
        .assert(400);

    // all, asked on a running occurrence: every unstarted one and the series go, the running one stays.
    app.delete(m, &format!("/v2/schedules/{thursday}?scope=all"))
        .await
        .assert(204);
    let listed = week(&app, m, time, "Asia/Seoul").await;
    assert_eq!(dates(&listed), ["2026-12-10T09:00:00"]);
    assert_eq!(listed[0]["seriesId"], series, "what stays keeps its series");
    app.get(m, &format!("/v2/schedules/series/{series}"))
        .await
        .assert(404);
    assert_eq!(app.app.roll_series_window().await.unwrap().made, 0);
}

fn summary(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {} {}",
                s["date"]["dateTime"].as_str().unwrap(),
                s["title"].as_str().unwrap(),
                s["state"].as_str().unwrap()
            )
        })
        .collect()
}

async fn editing_this_all_or_following_retimes_only_what_the_series_still_owns(backend: Backend) {
    let (app, m, first) = weekdays_at_nine(backend).await;
    let series = first["seriesId"].as_i64().unwrap();
    let time = "2026-12-09T12:00:00";
    let listed = week(&app, m, time, "Asia/Seoul").await;
    let (monday, tuesday, wednesday, thursday) = (
        id_on(&listed, "2026-12-07"),
        id_on(&listed, "2026-12-08"),
        id_on(&listed, "2026-12-09"),
        id_on(&listed, "2026-12-10"),
    );
    let at = |date: &str| json!({"dateTime": date, "zoneId": "Asia/Seoul"});

    // this: Tuesday alone becomes the dentist.
    app.patch(
        m,
        &format!("/v2/schedules/{tuesday}"),
        json!({"title": "치과"}),
    )
    .await
    .assert(200);
    // Wednesday runs.
    app.run(m, wednesday, "start").await.assert(204);

    // all, from Monday: title and time change for every occurrence the series still owns.
    let res = app
        .patch(
            m,
            &format!("/v2/schedules/{monday}?scope=all"),
            json!({"title": "깊은 일", "date": at("2026-12-07T10:30:00")}),
        )
        .await;
    let res = res.assert(200);
    assert_eq!(res["date"], at("2026-12-07T10:30:00"));
    assert_eq!(res["occurrenceStart"], "2026-12-07T10:30:00");
    let listed = week(&app, m, time, "Asia/Seoul").await;
    assert_eq!(
        summary(&listed),
        [
            "2026-12-07T10:30:00 깊은 일 NOT_STARTED",
            "2026-12-08T09:00:00 치과 NOT_STARTED",
            "2026-12-09T09:00:00 딥워크 IN_PROGRESS",
            "2026-12-10T10:30:00 깊은 일 NOT_STARTED",
            "2026-12-11T10:30:00 깊은 일 NOT_STARTED"
        ],
        "the edited Tuesday and the running Wednesday stand for their days"
    );
    let next_week = week(&app, m, "2026-12-16T12:00:00", "Asia/Seoul").await;
    assert_eq!(dates(&next_week).len(), 5);
    assert!(dates(&next_week).iter().all(|d| d.ends_with("T10:30:00")));
    let view = app.get(m, &format!("/v2/schedules/series/{series}")).await;
    assert_eq!(
        view.assert(200)["start"],
        at("2026-12-07T10:30:00"),
        "the series itself moved"
    );

    // Days do not move with a series-wide edit; a running occurrence does not change.
    app.patch(
        m,
        &format!("/v2/schedules/{thursday}?scope=all"),
        json!({"date": at("2026-12-12T10:30:00")}),
    )
    .await
    .assert(400);
    app.patch(
        m,
        &format!("/v2/schedules/{wednesday}?scope=following"),
        json!({"title": "x"}),
    )
    .await
    .assert(409);

    // following, from Thursday: a new series from there at 08:00; Monday keeps the old one.
    let res = app
        .patch(
            m,
            &format!("/v2/schedules/{thursday}?scope=following"),
            json!({"date": at("2026-12-10T08:00:00")}),
        )
        .await;
    let res = res.assert(200).clone();
    let split = res["seriesId"].as_i64().unwrap();
    assert_ne!(split, series);
    assert_eq!(res["id"], thursday, "the occurrence asked for keeps its id");
    let listed = week(&app, m, time, "Asia/Seoul").await;
    assert_eq!(
        dates(&listed),
        [
            "2026-12-07T10:30:00",
            "2026-12-08T09:00:00",
            "2026-12-09T09:00:00",
            "2026-12-10T08:00:00",
            "2026-12-11T08:00:00"
        ]
    );
    assert_eq!(by_date(&listed, "2026-12-07")["seriesId"], series);
    assert_eq!(by_date(&listed, "2026-12-11")["seriesId"], split);
    let next_week = week(&app, m, "2026-12-16T12:00:00", "Asia/Seoul").await;
    assert!(dates(&next_week).iter().all(|d| d.ends_with("T08:00:00")));
    assert!(
        next_week
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["seriesId"] == split)
    );
    assert_eq!(next_week.as_array().unwrap().len(), 5, "nothing twice");
}

async fn a_new_rule_removes_what_it_no_longer_makes_and_keeps_the_rest(backend: Backend) {
    let (app, m, _) = weekdays_at_nine(backend).await;
    let time = "2026-12-09T12:00:00";
    let listed = week(&app, m, time, "Asia/Seoul").await;
    let (monday, tuesday, wednesday, thursday) = (
        id_on(&listed, "2026-12-07"),
        id_on(&listed, "2026-12-08"),
        id_on(&listed, "2026-12-09"),
        id_on(&listed, "2026-12-10"),
    );
    app.patch(
        m,
        &format!("/v2/schedules/{tuesday}"),
        json!({"title": "치과"}),
    )
    .await
    .assert(200);
    app.run(m, thursday, "start").await.assert(204);

    // all: Monday, Wednesday and Friday from now on; the edited Tuesday and the running Thursday stay.
    app.patch(
        m,
        &format!("/v2/schedules/{monday}?scope=all"),
        json!({"recurrence": {"rrule": "FREQ=WEEKLY;BYDAY=MO,WE,FR"}}),
    )
    .await
    .assert(200);
    assert_eq!(
        summary(&week(&app, m, time, "Asia/Seoul").await),
        [
            "2026-12-07T09:00:00 딥워크 NOT_STARTED",
            "2026-12-08T09:00:00 치과 NOT_STARTED",
            "2026-12-09T09:00:00 딥워크 NOT_STARTED",
            "2026-12-10T09:00:00 딥워크 IN_PROGRESS",
            "2026-12-11T09:00:00 딥워크 NOT_STARTED"
        ]
    );
    assert_eq!(
        dates(&week(&app, m, "2026-12-16T12:00:00", "Asia/Seoul").await),
        [
            "2026-12-14T09:00:00",
            "2026-12-16T09:00:00",
            "2026-12-18T09:00:00"
        ],
        "next week's Tuesday and Thursday went"
    );

    // following, from Wednesday: daily at 07:00, three times; Thursday still runs and stands for its day.
    app.patch(
        m,
        &format!("/v2/schedules/{wednesday}?scope=following"),
        json!({"date": {"dateTime": "2026-12-09T07:00:00", "zoneId": "Asia/Seoul"},
               "recurrence": {"rrule": "FREQ=DAILY;COUNT=3"}}),
    )
    .await
    .assert(200);
    assert_eq!(
        summary(&week(&app, m, time, "Asia/Seoul").await),
        [
            "2026-12-07T09:00:00 딥워크 NOT_STARTED",
            "2026-12-08T09:00:00 치과 NOT_STARTED",
            "2026-12-09T07:00:00 딥워크 NOT_STARTED",
            "2026-12-10T09:00:00 딥워크 IN_PROGRESS",
            "2026-12-11T07:00:00 딥워크 NOT_STARTED"
        ]
    );
    assert_eq!(
        week(&app, m, "2026-12-16T12:00:00", "Asia/Seoul").await,
        json!([]),
        "the old rule ended before Wednesday, the new one after three days"
    );

    // A rule needs a series-wide scope on an occurrence.
    let res = app
        .patch(
            m,
            &format!("/v2/schedules/{monday}"),
            json!({"recurrence": {"rrule": "FREQ=DAILY"}}),
        )
        .await;
    assert_eq!(res.assert(400)["errors"][0]["field"], "recurrence");
}

async fn a_task_copied_into_a_repeating_schedule_lends_it_its_texts_not_its_completion(
    backend: Backend,
) {
    let app = spawn_at(backend, "2026-12-06T23:00:00Z").await;
    let m = app.member(1, None).await;
    let task = app.task(m, "논문 쓰기", "2026-12-31", "Asia/Seoul").await;
    let body = json!({"date": {"dateTime": "2026-12-07T09:00:00", "zoneId": "Asia/Seoul"},
                      "scheduleType": "DEEP_WORK",
                      "recurrence": {"rrule": "FREQ=WEEKLY;BYDAY=MO,WE,FR"}});
    let first = app
        .post(m, &format!("/v2/tasks/{task}/schedules"), body.clone())
        .await;
    let first = first.assert(201).clone();
    assert_eq!(first["title"], "논문 쓰기", "the task's title");
    assert_eq!(
        first["taskId"],
        Value::Null,
        "occurrences are not linked to the task"
    );
    assert!(first["seriesId"].is_i64());
    let listed = week(&app, m, "2026-12-09T12:00:00", "Asia/Seoul").await;
    assert_eq!(
        dates(&listed),
        [
            "2026-12-07T09:00:00",
            "2026-12-09T09:00:00",
            "2026-12-11T09:00:00"
        ]
    );
    // Completing an occurrence leaves the task open; the task can still get its own one-off schedule.
    app.run(m, first["id"].as_i64().unwrap(), "complete")
        .await
        .assert(204);
    let task_now = app.get(m, &format!("/v2/tasks/{task}")).await;
    assert_eq!(task_now.assert(200)["completed"], false);
    app.post(
        m,
        &format!("/v2/tasks/{task}/schedules"),
        json!({"date": {"dateTime": "2026-12-12T09:00:00", "zoneId": "Asia/Seoul"},
               "scheduleType": "DEEP_WORK"}),
    )
    .await
    .assert(201);
    app.post(m, "/v2/tasks/999999/schedules", body)
        .await
        .assert(404);
}

both_backends!(
    a_task_copied_into_a_repeating_schedule_lends_it_its_texts_not_its_completion,
    a_new_rule_removes_what_it_no_longer_makes_and_keeps_the_rest,
    editing_this_all_or_following_retimes_only_what_the_series_still_owns,
    deleting_this_following_or_all_keeps_what_was_started,
    weekdays_at_nine_appear_in_the_lists_as_ordinary_schedules,
    wall_time_is_kept_across_dst_and_a_far_week_makes_only_itself,
    the_rolling_window_makes_occurrences_ahead_with_their_events,
    exdates_and_rdates_shape_the_series,
    a_wrong_rule_is_a_400_naming_the_part,
);
