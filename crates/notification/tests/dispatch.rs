//! The dispatcher against a fake Web Push service that decrypts every push with the subscription's private key
//! and verifies the VAPID JWT, on SQLite and PostgreSQL.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;
use pinit_contracts::events::{ScheduleState, channel};
use pinit_kernel::Backend;
use pinit_notification::domain::{DeviceId, MemberId, Outcome, PushTarget, WebPushSubscription};
use pinit_notification::store;
use support::{
    App, Reply, id, secs, spawn_app, spawn_realtime, spawn_with, state_change, test_settings,
    upcoming,
};

/// Arms a NOT_STARTED schedule of `owner` starting at `start`; returns the arming event's id.
async fn arm(app: &App, schedule: i64, owner: i64, title: &str, start: Timestamp) -> String {
    app.directory
        .put(schedule, owner, title, start, ScheduleState::NotStarted);
    let m = upcoming(schedule, owner, start, 1, app.now());
    app.publish_one(m.clone()).await;
    m.event_id
}

async fn a_due_notification_is_encrypted_signed_and_delivered_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let (schedule, owner) = (id(), id());
    app.subscribe_browser(owner, "laptop").await;
    app.subscribe_browser(owner, "phone").await;
    let start = app.now() + secs(60);
    let key = arm(&app, schedule, owner, "딥 워크", start).await;
    let dispatcher = app.dispatcher();

    assert_eq!(
        dispatcher.run_once().await.unwrap().claimed,
        0,
        "not due yet"
    );
    assert!(app.push.received().is_empty());

    app.advance(secs(60));
    let report = dispatcher.run_once().await.unwrap();
    assert_eq!((report.claimed, report.sent, report.finished), (1, 2, 1));
    let delivered = app.push.delivered();
    assert_eq!(delivered.len(), 2);
    let origin = app.push.server.url("");
    for push in &delivered {
        // The browser's view: the payload decrypts with the subscription's private key.
        let payload = push.payload.as_ref().expect("decrypts");
        assert_eq!(
            payload,
            &serde_json::json!({
                "scheduleId": schedule.to_string(),
                "scheduleTitle": "딥 워크",
                "scheduleStartTime": pinit_notification::domain::format_start_time(start),
                "idempotentKey": key,
                "reminderOffset": "PT0S",
                "snooze": "0",
                "actions": "start,snooze",
            })
        );
        let claims = push.vapid.as_ref().expect("a valid VAPID JWT");
        assert_eq!(claims["aud"], origin.trim_end_matches('/'));
        assert_eq!(claims["sub"], "mailto:ops@pinit.example");
        let left = claims["exp"].as_i64().unwrap() - app.now().as_second();
        assert!(left > 0 && left <= 24 * 3600, "{left}");
        let auth = push.headers["authorization"].to_str().unwrap();
        assert!(
            auth.contains(&format!("k={}", app.app.vapid_public_key())),
            "{auth}"
        );
        assert_eq!(push.headers["content-encoding"], "aes128gcm");
        assert_eq!(push.headers["urgency"], "high");
        assert_eq!(
            push.headers["topic"],
            format!("schedule-{schedule}").as_str()
        );
        let ttl: u64 = push.headers["ttl"].to_str().unwrap().parse().unwrap();
        assert!(
            (590..=600).contains(&ttl),
            "TTL = the rest of the grace window: {ttl}"
        );
    }
    assert!(app.notification(schedule).await.is_none());
    let deliveries = app.deliveries(schedule).await;
    assert_eq!(deliveries.len(), 2);
    assert!(
        deliveries
            .iter()
            .all(|d| d.status.as_str() == "sent" && d.attempts == 1 && d.sent_at.is_some())
    );
    let outcomes = app.outcomes(schedule).await;
    assert_eq!(outcomes.len(), 1);
    assert_eq!(
        (
            outcomes[0].outcome,
            outcomes[0].devices,
            outcomes[0].delivered
        ),
        (Outcome::Delivered, 2, 2)
    );

    // Nothing is sent twice, and a re-announcement of the same start does not arm it again.
    app.advance(secs(5));
    assert_eq!(dispatcher.run_once().await.unwrap().claimed, 0);
    app.publish_one(upcoming(schedule, owner, start, 2, app.now()))
        .await;
    assert!(app.notification(schedule).await.is_none());
    assert_eq!(app.push.delivered().len(), 2);
}

async fn only_schedules_still_not_started_at_the_same_time_are_sent(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = id();
    app.subscribe_browser(owner, "laptop").await;
    let start = app.now() + secs(30);
    let (started, gone, moved, fine) = (id(), id(), id(), id());
    for s in [started, gone, moved, fine] {
        arm(&app, s, owner, "t", start).await;
    }
    // The events saying so were lost or are late; the re-check at send time catches it.
    app.directory.set_state(started, ScheduleState::InProgress);
    app.directory.remove(gone);
    app.directory.set_start(moved, start + secs(600));

    app.advance(secs(30));
    let report = app.dispatcher().run_once().await.unwrap();
    assert_eq!(report.sent, 1);
    let delivered = app.push.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0].payload.as_ref().unwrap()["scheduleId"],
        fine.to_string()
    );
    for s in [started, gone] {
        let o = app.outcomes(s).await;
        assert_eq!(o[0].outcome, Outcome::Suppressed, "{o:?}");
        assert!(app.notification(s).await.is_none());
    }
    assert!(
        app.outcomes(started).await[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("IN_PROGRESS")
    );
    // Moved: re-timed to the new start, sent then.
    let row = app.notification(moved).await.expect("kept");
    assert_eq!(
        row.next_attempt_at.as_microsecond(),
        (start + secs(600)).as_microsecond()
    );
    app.advance(secs(600));
    app.dispatcher().run_once().await.unwrap();
    assert_eq!(app.push.delivered().len(), 2);
}

async fn two_dispatchers_never_double_send(backend: Backend) {
    let mut settings = test_settings();
    settings.batch_size = 4;
    let app = spawn_with(backend, settings).await;
    let start = app.now() + secs(10);
    let mut owners = Vec::new();
    for i in 0..24 {
        let owner = id();
        app.subscribe_browser(owner, &format!("a{i}")).await;
        app.subscribe_browser(owner, &format!("b{i}")).await;
        arm(&app, id(), owner, "t", start).await;
        owners.push(owner);
    }
    app.advance(secs(10));
    let (one, two) = (app.dispatcher(), app.dispatcher());
    let (a, b) = tokio::join!(async { one.run_once().await.unwrap() }, async {
        two.run_once().await.unwrap()
    });
    assert_eq!(a.claimed + b.claimed, 24, "{a:?} {b:?}");
    assert!(
        a.claimed > 0 && b.claimed > 0,
        "both raced for the rows: {a:?} {b:?}"
    );
    assert_eq!(a.sent + b.sent, 48);
    let mut per_device: HashMap<String, usize> = HashMap::new();
    for push in app.push.received() {
        *per_device.entry(push.device).or_default() += 1;
    }
    assert_eq!(per_device.len(), 48);
    assert!(per_device.values().all(|n| *n == 1), "{per_device:?}");
    assert!(app.notifications().await.is_empty());
}

async fn after_downtime_it_catches_up_within_grace_and_drops_older(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = id();
    app.subscribe_browser(owner, "laptop").await;
    let t0 = app.now();
    let (old, recent) = (id(), id());
    arm(&app, old, owner, "old", t0 + secs(60)).await;
    arm(&app, recent, owner, "recent", t0 + secs(8 * 60)).await;
    // The service was down for 12 minutes (grace: 10).
    app.advance(secs(12 * 60));
    app.dispatcher().run_once().await.unwrap();
    let delivered = app.push.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0].payload.as_ref().unwrap()["scheduleTitle"],
        "recent"
    );
    let ttl: u64 = delivered[0].headers["ttl"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ttl <= 6 * 60, "only the rest of the grace window: {ttl}");
    let dropped = app.outcomes(old).await;
    assert_eq!(dropped[0].outcome, Outcome::Expired);
    assert!(app.notification(old).await.is_none());
    assert_eq!(app.outcomes(recent).await[0].outcome, Outcome::Delivered);
}

async fn gone_subscriptions_are_removed_and_others_still_served(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = id();
    app.subscribe_browser(owner, "alive").await;
    app.subscribe_browser(owner, "expired").await;
    app.subscribe_browser(owner, "unknown").await;
    app.push.script("expired", vec![Reply::Status(410)]);
    app.push.script("unknown", vec![Reply::Status(404)]);
    let schedule = id();
    app.advance(secs(1));
    arm(&app, schedule, owner, "t", app.now()).await;
    app.dispatcher().run_once().await.unwrap();
    assert_eq!(app.push.delivered_to("alive").len(), 1);
    assert_eq!(
        app.subscription_count(owner).await,
        1,
        "410 and 404 remove the subscription"
    );
    let deliveries = app.deliveries(schedule).await;
    let status: HashMap<_, _> = deliveries
        .iter()
        .map(|d| {
            (
                d.device_id.as_str(),
                (d.status.as_str(), d.last_http_status),
            )
        })
        .collect();
    assert_eq!(status["alive"], ("sent", Some(201)));
    assert_eq!(status["expired"], ("gone", Some(410)));
    assert_eq!(status["unknown"], ("gone", Some(404)));
    let o = &app.outcomes(schedule).await[0];
    assert_eq!(
        (o.outcome, o.devices, o.delivered),
        (Outcome::Partial, 3, 1)
    );
}

async fn transient_errors_are_retried_then_sent(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = id();
    app.subscribe_browser(owner, "ok").await;
    app.subscribe_browser(owner, "busy").await;
    app.subscribe_browser(owner, "flaky").await;
    app.subscribe_browser(owner, "refused").await;
    app.push.script("busy", vec![Reply::RetryAfter(503, 3)]);
    app.push
        .script("flaky", vec![Reply::Status(429), Reply::Status(500)]);
    app.push.script("refused", vec![Reply::Status(400)]);
    let schedule = id();
    arm(&app, schedule, owner, "t", app.now()).await;
    let dispatcher = app.dispatcher();
    dispatcher.run_once().await.unwrap();
    let row = app
        .notification(schedule)
        .await
        .expect("kept for the retries");
    assert!(row.next_attempt_at.as_microsecond() > app.now().as_microsecond());
    let by_device = |deliveries: Vec<pinit_notification::domain::Delivery>| {
        deliveries
            .into_iter()
            .map(|d| (d.device_id.to_string(), d))
            .collect::<HashMap<_, _>>()
    };
    let d = by_device(app.deliveries(schedule).await);
    assert_eq!(d["busy"].status.as_str(), "retrying");
    assert!(
        d["busy"].next_attempt_at.unwrap().as_microsecond()
            >= (app.now() + secs(3)).as_microsecond(),
        "Retry-After is honoured"
    );
    assert_eq!(d["refused"].status.as_str(), "failed");
    assert_eq!(d["ok"].status.as_str(), "sent");

    // Retries until every device answered; devices already served are not sent again.
    for _ in 0..6 {
        app.advance(secs(3));
        dispatcher.run_once().await.unwrap();
    }
    assert!(app.notification(schedule).await.is_none());
    let d = by_device(app.deliveries(schedule).await);
    assert_eq!((d["busy"].status.as_str(), d["busy"].attempts), ("sent", 2));
    assert_eq!(
        (d["flaky"].status.as_str(), d["flaky"].attempts),
        ("sent", 3)
    );
    assert_eq!(
        (d["refused"].status.as_str(), d["refused"].attempts),
        ("failed", 1)
    );
    assert_eq!(app.push.delivered_to("ok").len(), 1);
    assert_eq!(app.push.delivered_to("busy").len(), 1);
    assert_eq!(app.push.delivered_to("flaky").len(), 1);
    assert_eq!(
        app.subscription_count(owner).await,
        4,
        "a 400 keeps the subscription"
    );
    let o = &app.outcomes(schedule).await[0];
    assert_eq!(
        (o.outcome, o.delivered, o.devices),
        (Outcome::Partial, 3, 4)
    );
    // The same idempotentKey on every attempt, so the device can drop a duplicate.
    let keys: std::collections::HashSet<String> = app
        .push
        .delivered()
        .iter()
        .map(|p| {
            p.payload.as_ref().unwrap()["idempotentKey"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(keys.len(), 1);
}

async fn retries_end_with_the_grace_window(backend: Backend) {
    let mut settings = test_settings();
    settings.grace = pinit_kernel::config::HumanDuration::from_secs(10);
    let app = spawn_with(backend, settings).await;
    let owner = id();
    app.subscribe_browser(owner, "down").await;
    app.push.script("down", vec![Reply::Status(503); 50]);
    let schedule = id();
    arm(&app, schedule, owner, "t", app.now()).await;
    let dispatcher = app.dispatcher();
    for _ in 0..20 {
        dispatcher.run_once().await.unwrap();
        app.advance(secs(1));
    }
    assert!(app.notification(schedule).await.is_none());
    let d = &app.deliveries(schedule).await[0];
    assert_eq!(d.status.as_str(), "failed");
    assert!(d.attempts > 1);
    assert!(d.last_error.as_deref().unwrap().contains("grace"), "{d:?}");
    assert_eq!(app.outcomes(schedule).await[0].outcome, Outcome::Failed);
}

async fn the_task_service_being_down_delays_but_does_not_lose_a_push(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = id();
    app.subscribe_browser(owner, "laptop").await;
    let schedule = id();
    arm(&app, schedule, owner, "t", app.now()).await;
    app.directory.set_down(true);
    let dispatcher = app.dispatcher();
    let report = dispatcher.run_once().await.unwrap();
    assert_eq!((report.claimed, report.sent, report.released), (1, 0, 1));
    assert!(app.push.received().is_empty(), "never sent unchecked");
    app.directory.set_down(false);
    app.advance(secs(3));
    dispatcher.run_once().await.unwrap();
    assert_eq!(app.push.delivered().len(), 1);
}

async fn the_full_flow_start_cancel_move(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = id();
    app.subscribe_browser(owner, "laptop").await;
    let dispatcher = app.dispatcher();
    let t0 = app.now();

    // Started before its time: no push at the start.
    let s1 = id();
    arm(&app, s1, owner, "started early", t0 + secs(60)).await;
    app.publish_one(state_change(
        channel::SCHEDULE_STATE_STARTED,
        s1,
        owner,
        "NOT_STARTED",
        2,
        t0,
    ))
    .await;
    app.directory.set_state(s1, ScheduleState::InProgress);

    // Canceled after starting: re-armed, pushed at its start.
    let s2 = id();
    arm(&app, s2, owner, "canceled", t0 + secs(60)).await;
    app.publish_one(state_change(
        channel::SCHEDULE_STATE_STARTED,
        s2,
        owner,
        "NOT_STARTED",
        2,
        t0,
    ))
    .await;
    app.publish_one(state_change(
        channel::SCHEDULE_STATE_CANCELED,
        s2,
        owner,
        "IN_PROGRESS",
        3,
        t0,
    ))
    .await;

    // Moved: not at the old time, at the new one.
    let s3 = id();
    arm(&app, s3, owner, "moved", t0 + secs(60)).await;
    app.directory.set_start(s3, t0 + secs(120));
    app.publish_one(upcoming(s3, owner, t0 + secs(120), 2, t0))
        .await;

    app.advance(secs(60));
    dispatcher.run_once().await.unwrap();
    let titles = |app: &App| {
        app.push
            .delivered()
            .iter()
            .map(|p| {
                p.payload.as_ref().unwrap()["scheduleTitle"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(titles(&app), ["canceled"]);
    app.advance(secs(60));
    dispatcher.run_once().await.unwrap();
    assert_eq!(titles(&app), ["canceled", "moved"]);
    assert!(
        app.outcomes(s1).await.is_empty(),
        "nothing was pending for the started one"
    );
}

async fn no_devices_is_recorded(backend: Backend) {
    let app = spawn_app(backend).await;
    let (schedule, owner) = (id(), id());
    arm(&app, schedule, owner, "t", app.now()).await;
    app.dispatcher().run_once().await.unwrap();
    let o = &app.outcomes(schedule).await[0];
    assert_eq!((o.outcome, o.devices), (Outcome::NoDevices, 0));
}

async fn an_unconfirmed_rearm_is_resolved_by_the_dispatcher(backend: Backend) {
    let app = spawn_app(backend).await;
    let (schedule, owner) = (id(), id());
    app.subscribe_browser(owner, "laptop").await;
    let start = app.now() + secs(120);
    app.directory.put(
        schedule,
        owner,
        "re-armed",
        start,
        ScheduleState::NotStarted,
    );
    app.directory.set_down(true);
    app.publish_one(state_change(
        channel::SCHEDULE_STATE_CANCELED,
        schedule,
        owner,
        "IN_PROGRESS",
        3,
        app.now(),
    ))
    .await;
    app.directory.set_down(false);
    let dispatcher = app.dispatcher();
    dispatcher.run_once().await.unwrap();
    assert!(app.push.received().is_empty());
    let row = app.notification(schedule).await.unwrap();
    assert!(row.resolved);
    assert_eq!(row.next_attempt_at.as_microsecond(), start.as_microsecond());
    assert_eq!(row.title, "re-armed");
    app.advance(secs(120));
    dispatcher.run_once().await.unwrap();
    assert_eq!(app.push.delivered().len(), 1);
}

/// With the real clock: a schedule starting in 2 s is pushed within 1 s of its start, not before.
async fn the_running_dispatcher_is_on_time(backend: Backend) {
    let app = spawn_realtime(backend).await;
    let owner = id();
    app.subscribe_browser(owner, "laptop").await;
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(app.dispatcher().run(stop.clone()));
    // Let it settle into its idle sleep (nothing due).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (schedule, later) = (id(), id());
    let start = Timestamp::now() + secs(2);
    arm(&app, schedule, owner, "now", start).await;
    arm(&app, later, owner, "later", start + secs(1)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(8);
    while app.push.delivered().len() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    running.await.unwrap().unwrap();
    let delivered = app.push.delivered();
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    for (push, due) in delivered.iter().zip([start, start + secs(1)]) {
        let late = push.at.duration_since(due);
        eprintln!("lateness {late:?}");
        assert!(
            late >= jiff::SignedDuration::ZERO && late < jiff::SignedDuration::from_secs(1),
            "lateness {late:?}"
        );
    }
}

async fn refusals(app: &App, owner: i64) -> Option<i64> {
    sqlx::query_scalar("SELECT refusals FROM push_subscription WHERE member_id = $1")
        .bind(owner)
        .fetch_optional(app.db.pool())
        .await
        .unwrap()
}

/// A push the SSRF rule refuses (here: a stored endpoint on a private address, as one stored while
/// `allow_insecure_endpoints` was on, or a name that resolves privately) is final at once — never retried
/// through the grace window — and the third refusal in a row (no success in between) removes the subscription.
async fn a_push_the_ssrf_guard_refuses_is_final_and_the_third_in_a_row_removes_it(
    backend: Backend,
) {
    let mut settings = test_settings();
    settings.allow_insecure_endpoints = false;
    let app = spawn_with(backend, settings).await;
    let owner = id();
    let mut tx = app.db.begin().await.unwrap();
    let target = PushTarget::WebPush(WebPushSubscription {
        endpoint: "https://10.1.2.3/push".into(),
        p256dh: "k".into(),
        auth: "a".into(),
    });
    let device = DeviceId::parse(Some("intranet")).unwrap();
    store::subscriptions::upsert(&mut tx, MemberId(owner), &device, &target, app.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let dispatcher = app.dispatcher();
    // Refusals after each push: a success after the first starts the count again.
    for (round, expected) in [Some(1), Some(1), Some(2), None].into_iter().enumerate() {
        let schedule = id();
        app.advance(secs(1));
        arm(&app, schedule, owner, "t", app.now()).await;
        dispatcher.run_once().await.unwrap();
        assert!(
            app.notification(schedule).await.is_none(),
            "round {round}: finished, not kept for a retry"
        );
        let d = &app.deliveries(schedule).await[0];
        assert_eq!((d.status.as_str(), d.attempts), ("failed", 1), "{d:?}");
        assert!(
            d.last_error.as_deref().unwrap().contains("public address"),
            "{d:?}"
        );
        assert_eq!(app.outcomes(schedule).await[0].outcome, Outcome::Failed);
        assert_eq!(refusals(&app, owner).await, expected, "round {round}");
        if round == 0 {
            let id = app.subscriptions(owner).await[0].id;
            let mut tx = app.db.begin().await.unwrap();
            store::subscriptions::touch_successes(&mut tx, &[id], app.now())
                .await
                .unwrap();
            tx.commit().await.unwrap();
            assert_eq!(refusals(&app, owner).await, Some(0), "a success resets it");
        }
    }
    assert_eq!(app.subscription_count(owner).await, 0, "removed");
    assert!(app.push.received().is_empty());
}

pinit_testkit::both_backends!(
    a_push_the_ssrf_guard_refuses_is_final_and_the_third_in_a_row_removes_it,
    a_due_notification_is_encrypted_signed_and_delivered_once,
    only_schedules_still_not_started_at_the_same_time_are_sent,
    two_dispatchers_never_double_send,
    after_downtime_it_catches_up_within_grace_and_drops_older,
    gone_subscriptions_are_removed_and_others_still_served,
    transient_errors_are_retried_then_sent,
    retries_end_with_the_grace_window,
    the_task_service_being_down_delays_but_does_not_lose_a_push,
    the_full_flow_start_cancel_move,
    no_devices_is_recorded,
    an_unconfirmed_rearm_is_resolved_by_the_dispatcher,
    the_running_dispatcher_is_on_time,
);
