//! Webhooks on SQLite and PostgreSQL: the `/v0/webhooks` API and its validation, events queued from the inbox
//! and delivered signed (every signature verified by Python's `standardwebhooks`), retries with backoff and
//! `Retry-After` under the manual clock, `410` and repeated failures disabling an endpoint, order per schedule,
//! and a redelivered event delivered once.

mod support;

use std::time::Duration;

use jiff::Timestamp;
use pinit_contracts::events::{Channel, ScheduleState, channel};
use pinit_kernel::Backend;
use pinit_kernel::config::HumanDuration;
use pinit_messaging::{BackoffConfig, OutboundMessage, Subscription};
use pinit_notification::Settings;
use pinit_testkit::webhooks::{Received, Reply, WebhookReceiver, verify};
use serde_json::{Value, json};
use support::{App, event, id, secs, spawn_with, state_change, test_settings, upcoming};

const ALL_EVENTS: [&str; 10] = [
    "schedule.created",
    "schedule.updated",
    "schedule.started",
    "schedule.paused",
    "schedule.completed",
    "schedule.cancelled",
    "schedule.deleted",
    "task.created",
    "task.completed",
    "reminder.sent",
];

/// Settings with quick, predictable webhook retries (10 s, 20 s, 40 s … without jitter's upper half mattering
/// to the tests, which advance the clock past the ceiling).
fn settings() -> Settings {
    let mut s = test_settings();
    s.webhooks.retry_backoff = BackoffConfig {
        initial: HumanDuration::from_secs(10),
        max: HumanDuration::from_secs(3600),
        multiplier: 2.0,
    };
    s.webhooks.timeout = HumanDuration::from_secs(2);
    s
}

async fn spawn(backend: Backend) -> App {
    spawn_with(backend, settings()).await
}

/// Creates an endpoint for `member`; returns (id, secret).
async fn create(app: &App, member: i64, url: &str, events: &[&str]) -> (i64, String) {
    let res = app
        .post(
            "/v0/webhooks",
            Some(&member.to_string()),
            json!({"url": url, "events": events, "description": "test receiver"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    (
        body["id"].as_i64().unwrap(),
        body["secret"].as_str().unwrap().to_string(),
    )
}

async fn json_of(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn endpoints(app: &App, member: i64) -> Vec<Value> {
    let (status, body) = json_of(app.get("/v0/webhooks", Some(&member.to_string())).await).await;
    assert_eq!(status, 200);
    body.as_array().unwrap().clone()
}

async fn deliveries(app: &App, member: i64, endpoint: i64) -> Vec<Value> {
    let path = format!("/v0/webhooks/{endpoint}/deliveries");
    let (status, body) = json_of(app.get(&path, Some(&member.to_string())).await).await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

/// A task event as the task service's outbox publishes it.
fn task_event(ch: Channel, task: i64, owner: i64, version: i64, at: Timestamp) -> OutboundMessage {
    let mut m = event(
        ch,
        task,
        Some(version),
        json!({"taskId": task, "ownerId": owner}),
        at,
    );
    m.aggregate_type = "task".into();
    m
}

/// A new task of `member`, as the task service publishes it.
async fn create_task(app: &App, member: i64) {
    app.publish_one(task_event(
        channel::TASK_CREATED,
        id(),
        member,
        1,
        app.now(),
    ))
    .await;
}

fn kinds(received: &[Received]) -> Vec<String> {
    received.iter().map(Received::kind).collect()
}

/// Verifies every request with `standardwebhooks` (skipped, with the reason, when its environment is missing
/// outside CI).
fn assert_verified(secret: &str, received: &[Received]) {
    if let Some(v) = verify(secret, received) {
        assert_eq!(
            v.failures,
            Vec::<Value>::new(),
            "standardwebhooks refused some"
        );
        assert_eq!(v.verified, received.len());
        let bodies: Vec<Value> = received.iter().map(Received::json).collect();
        assert_eq!(v.payloads, bodies, "the library reads the same payloads");
    }
}

async fn endpoints_are_created_listed_updated_and_deleted(backend: Backend) {
    let app = spawn(backend).await;
    let member = id();
    let m = member.to_string();
    let (ep, secret) = create(
        &app,
        member,
        "https://hooks.example.com/a",
        &["schedule.created"],
    )
    .await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let listed = endpoints(&app, member).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], ep);
    assert_eq!(listed[0]["events"], json!(["schedule.created"]));
    assert_eq!(listed[0]["enabled"], true);
    assert!(
        listed[0].get("secret").is_none(),
        "the secret is shown once"
    );
    // Another member sees nothing of it.
    let other = id().to_string();
    assert_eq!(endpoints(&app, other.parse().unwrap()).await.len(), 0);
    let path = format!("/v0/webhooks/{ep}");
    let (status, _) = json_of(
        app.patch(&path, Some(&other), json!({"description": "x"}))
            .await,
    )
    .await;
    assert_eq!(status, 404);

    let (status, body) = json_of(
        app.patch(
            &path,
            Some(&m),
            json!({"events": ["task.completed", "schedule.started"], "description": "  ops  "}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["events"],
        json!(["schedule.started", "task.completed"])
    );
    assert_eq!(body["description"], "ops");
    assert_eq!(body["url"], "https://hooks.example.com/a");
    // Disabled by the member, then enabled again.
    let (_, body) = json_of(app.patch(&path, Some(&m), json!({"enabled": false})).await).await;
    assert_eq!(
        (body["enabled"].clone(), body["disabledReason"].clone()),
        (json!(false), json!("disabled by you"))
    );
    assert_eq!(body["disabledCode"], "BY_MEMBER");
    let (_, body) = json_of(app.patch(&path, Some(&m), json!({"enabled": true})).await).await;
    assert_eq!(body["enabled"], true);
    assert_eq!(body["disabledReason"], Value::Null);
    assert_eq!(body["disabledCode"], Value::Null);

    // Unknown ids, and ids that are no number, are 404 (never 500).
    for bad in ["999999999", "abc", "-1", "1e99"] {
        let (status, body) = json_of(
            app.get(&format!("/v0/webhooks/{bad}/deliveries"), Some(&m))
                .await,
        )
        .await;
        assert_eq!(status, 404, "{bad}: {body}");
    }
    assert_eq!(app.delete(&path, Some(&other)).await.status(), 404);
    assert_eq!(app.delete(&path, Some(&m)).await.status(), 204);
    assert_eq!(app.delete(&path, Some(&m)).await.status(), 404);
    assert!(endpoints(&app, member).await.is_empty());
}

async fn bad_input_is_refused_naming_the_field(backend: Backend) {
    let strict = Settings {
        allow_insecure_endpoints: false,
        ..settings()
    };
    let app = spawn_with(backend, strict).await;
    let member = id();
    let m = member.to_string();
    let refused = |body: Value| {
        let (app, m) = (&app, &m);
        async move {
            let (status, answer) = json_of(app.post("/v0/webhooks", Some(m), body).await).await;
            assert_eq!(status, 400, "{answer}");
            answer
        }
    };
    let field = |answer: &Value| {
        answer["errors"][0]["field"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let reason = |answer: &Value| {
        answer["errors"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    // Each refusal names its field and carries the reason's stable code (a client words it).
    let code = |answer: &Value| answer["errors"][0]["code"].as_str().map(str::to_string);
    for (url, why, expected) in [
        ("http://hooks.example.com/a", "https", "URL_NOT_HTTPS"),
        ("not a url", "not a URL", "URL_INVALID"),
        ("https://127.0.0.1/hook", "public address", "URL_NOT_PUBLIC"),
        ("https://10.1.2.3/hook", "public address", "URL_NOT_PUBLIC"),
        (
            "https://169.254.169.254/latest",
            "public address",
            "URL_NOT_PUBLIC",
        ),
        ("https://[::1]/hook", "public address", "URL_NOT_PUBLIC"),
        ("https://localhost/hook", "public address", "URL_NOT_PUBLIC"),
        (
            "https://user:pw@hooks.example.com/",
            "user name",
            "URL_CREDENTIALS",
        ),
    ] {
        let answer = refused(json!({"url": url, "events": ["task.created"]})).await;
        assert_eq!(field(&answer), "url", "{url}: {answer}");
        assert!(reason(&answer).contains(why), "{url}: {answer}");
        assert_eq!(code(&answer).as_deref(), Some(expected), "{url}: {answer}");
        assert_eq!(answer["code"], "VALIDATION_FAILED", "{answer}");
    }
    let long = format!("https://hooks.example.com/{}", "x".repeat(2000));
    let answer = refused(json!({"url": long, "events": ["task.created"]})).await;
    assert!(reason(&answer).contains("2000"), "{answer}");
    assert_eq!(code(&answer).as_deref(), Some("URL_TOO_LONG"), "{answer}");
    let answer = refused(json!({"url": "https://hooks.example.com/", "events": ["task.created", "task.exploded", "nope"]})).await;
    assert_eq!(field(&answer), "events");
    assert!(reason(&answer).contains("task.exploded, nope"), "{answer}");
    assert_eq!(code(&answer).as_deref(), Some("EVENTS_UNKNOWN"), "{answer}");
    let answer = refused(json!({"url": "https://hooks.example.com/", "events": []})).await;
    assert_eq!(field(&answer), "events");
    assert_eq!(
        code(&answer).as_deref(),
        Some("EVENTS_REQUIRED"),
        "{answer}"
    );
    let answer = refused(json!({"url": "https://hooks.example.com/"})).await;
    assert_eq!(
        code(&answer).as_deref(),
        Some("EVENTS_REQUIRED"),
        "{answer}"
    );
    let answer = refused(json!({"events": ["task.created"]})).await;
    assert_eq!(field(&answer), "url");
    assert_eq!(code(&answer).as_deref(), Some("URL_REQUIRED"), "{answer}");
    let answer = refused(json!({"url": "https://hooks.example.com/", "events": ["task.created"], "description": "d".repeat(201)})).await;
    assert_eq!(field(&answer), "description");
    assert_eq!(
        code(&answer).as_deref(),
        Some("WEBHOOK_DESCRIPTION_LENGTH"),
        "{answer}"
    );
    // Wrong JSON shapes and unknown keys: 400 too.
    for body in [
        json!({"url": "https://hooks.example.com/", "events": "task.created"}),
        json!({"url": "https://hooks.example.com/", "events": ["task.created"], "secret": "mine"}),
        json!({"url": "https://hooks.example.com/", "events": ["task.created"], "enabled": false}),
        json!([1, 2]),
    ] {
        let (status, answer) =
            json_of(app.post("/v0/webhooks", Some(&m), body.clone()).await).await;
        assert_eq!(status, 400, "{body}: {answer}");
    }
    // The cap: ten endpoints, the eleventh is a 409.
    for n in 0..10 {
        create(
            &app,
            member,
            &format!("https://hooks.example.com/{n}"),
            &["task.created"],
        )
        .await;
    }
    let (status, answer) = json_of(
        app.post(
            "/v0/webhooks",
            Some(&m),
            json!({"url": "https://hooks.example.com/x", "events": ["task.created"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("at most 10"),
        "{answer}"
    );
    assert_eq!(answer["code"], "WEBHOOK_LIMIT", "{answer}");
    // An update is checked the same way.
    let ep = endpoints(&app, member).await[0]["id"].as_i64().unwrap();
    let (status, answer) = json_of(
        app.patch(
            &format!("/v0/webhooks/{ep}"),
            Some(&m),
            json!({"url": "https://192.168.1.1/x"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, field(&answer)),
        (400, "url".to_string()),
        "{answer}"
    );
}

/// Every webhook type of a schedule and a task, delivered signed, in order, each verified by `standardwebhooks`;
/// the `webhook-id` is the event's id.
async fn events_are_delivered_signed_and_verified_by_standardwebhooks(backend: Backend) {
    let app = spawn(backend).await;
    let receiver = WebhookReceiver::spawn().await;
    let (member, schedule, task) = (id(), id(), id());
    let (ep, secret) = create(&app, member, &receiver.url("/hooks/pinit"), &ALL_EVENTS).await;
    // Another member's endpoint, and one of this member for task events only.
    let other_member = id();
    let (other, _) = create(
        &app,
        other_member,
        &receiver.url("/hooks/other"),
        &ALL_EVENTS,
    )
    .await;
    let (tasks_only, _) = create(
        &app,
        member,
        &receiver.url("/hooks/tasks"),
        &["task.created"],
    )
    .await;
    let now = app.now();
    let start = now + secs(3600);
    let sent = [
        upcoming(schedule, member, start, 1, now),
        upcoming(schedule, member, start + secs(600), 2, now),
        // A title-only edit (Pinit's schedule.details.updated) is a schedule.updated too.
        event(
            channel::SCHEDULE_DETAILS_UPDATED,
            schedule,
            Some(3),
            json!({"scheduleId": schedule, "ownerId": member, "changed": ["title"]}),
            now,
        ),
        state_change(
            channel::SCHEDULE_STATE_STARTED,
            schedule,
            member,
            "NOT_STARTED",
            4,
            now,
        ),
        state_change(
            channel::SCHEDULE_STATE_SUSPENDED,
            schedule,
            member,
            "IN_PROGRESS",
            5,
            now,
        ),
        state_change(
            channel::SCHEDULE_STATE_COMPLETED,
            schedule,
            member,
            "SUSPENDED",
            6,
            now,
        ),
        state_change(
            channel::SCHEDULE_STATE_CANCELED,
            schedule,
            member,
            "COMPLETED",
            7,
            now,
        ),
        support::deleted(schedule, member, 8, now),
        task_event(channel::TASK_CREATED, task, member, 1, now),
        task_event(channel::TASK_COMPLETED, task, member, 2, now),
    ];
    for m in &sent {
        app.publish_one(m.clone()).await;
    }
    let round = app
        .app
        .webhook_dispatcher()
        .unwrap()
        .run_once()
        .await
        .unwrap();
    assert_eq!((round.delivered, round.failed), (11, 0), "{round:?}");
    let to_main: Vec<Received> = receiver.accepted();
    assert_eq!(
        to_main.len(),
        11,
        "10 events to the main endpoint and task.created to the tasks-only one"
    );
    let schedule_kinds: Vec<String> = to_main
        .iter()
        .filter(|r| r.json()["data"]["scheduleId"] == schedule)
        .map(Received::kind)
        .collect();
    assert_eq!(
        schedule_kinds,
        [
            "schedule.created",
            "schedule.updated",
            "schedule.updated",
            "schedule.started",
            "schedule.paused",
            "schedule.completed",
            "schedule.cancelled",
            "schedule.deleted"
        ],
        "a schedule's events arrive in order"
    );
    for r in &to_main {
        assert_eq!(r.content_type, "application/json");
        let body = r.json();
        let original = sent.iter().find(|m| m.event_id == r.id).unwrap();
        let payload: Value = serde_json::from_str(&original.payload).unwrap();
        assert_eq!(body["data"], payload, "data is the event as published");
        assert_eq!(body["timestamp"], payload["occurredAt"]);
        assert!(r.signature.starts_with("v1,"), "{}", r.signature);
    }
    // The tasks-only endpoint got task.created and nothing else; the other member's nothing.
    let log = deliveries(&app, member, tasks_only).await;
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0]["type"].clone(), log[0]["status"].clone()),
        (json!("task.created"), json!("delivered"))
    );
    assert!(deliveries(&app, other_member, other).await.is_empty());
    let main_log = deliveries(&app, member, ep).await;
    assert_eq!(main_log.len(), 10);
    assert!(
        main_log.iter().all(|d| d["status"] == "delivered"
            && d["attempts"] == 1
            && d["lastResponseCode"] == 204)
    );
    // The main endpoint's requests verify with its secret.
    let main: Vec<Received> = to_main
        .into_iter()
        .filter(|r| r.path == "/hooks/pinit")
        .collect();
    assert_eq!(main.len(), 10);
    assert_verified(&secret, &main);
    // A body changed after signing is refused by the library (the oracle is not a rubber stamp).
    let mut forged = main[0].clone();
    forged.body.push(' ');
    if let Some(v) = verify(&secret, &[forged]) {
        assert_eq!(v.verified, 0);
    }
}

/// A test event, and a reminder sent to a device, are delivered too.
async fn test_events_and_sent_reminders_are_delivered(backend: Backend) {
    let app = spawn(backend).await;
    let receiver = WebhookReceiver::spawn().await;
    let (member, schedule) = (id(), id());
    let (ep, secret) = create(&app, member, &receiver.url("/hook"), &["reminder.sent"]).await;
    let m = member.to_string();
    let (status, queued) = json_of(
        app.post(&format!("/v0/webhooks/{ep}/test"), Some(&m), json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(
        (queued["type"].clone(), queued["status"].clone()),
        (json!("webhook.test"), json!("pending"))
    );

    app.subscribe_browser(member, "laptop").await;
    let start = app.now() + secs(60);
    app.directory.put(
        schedule,
        member,
        "딥 워크",
        start,
        ScheduleState::NotStarted,
    );
    let arming = upcoming(schedule, member, start, 1, app.now());
    app.publish_one(arming.clone()).await;
    app.advance(secs(60));
    assert_eq!(app.dispatcher().run_once().await.unwrap().sent, 1);
    let round = app
        .app
        .webhook_dispatcher()
        .unwrap()
        .run_once()
        .await
        .unwrap();
    assert_eq!(round.delivered, 2, "{round:?}");
    // Two deliveries of different subjects go out in parallel: their order is not promised (only one
    // schedule's are ordered).
    let received = receiver.accepted();
    let mut got = kinds(&received);
    got.sort();
    assert_eq!(got, ["reminder.sent", "webhook.test"]);
    let of = |kind: &str| {
        received
            .iter()
            .find(|r| r.kind() == kind)
            .unwrap_or_else(|| panic!("a {kind} delivery"))
    };
    assert_eq!(of("webhook.test").id, queued["eventId"]);
    let reminder = of("reminder.sent").json();
    assert_eq!(reminder["data"]["scheduleId"], schedule);
    assert_eq!(reminder["data"]["reminder"], "PT0S");
    assert_eq!(reminder["data"]["reminderKey"], arming.event_id);
    assert_eq!(reminder["data"]["delivered"], 1);
    assert_verified(&secret, &received);
    // A disabled endpoint takes no test.
    app.patch(
        &format!("/v0/webhooks/{ep}"),
        Some(&m),
        json!({"enabled": false}),
    )
    .await;
    let (status, answer) = json_of(
        app.post(&format!("/v0/webhooks/{ep}/test"), Some(&m), json!({}))
            .await,
    )
    .await;
    assert_eq!((status, &answer["code"]), (409, &json!("WEBHOOK_DISABLED")));
}

/// 500, then 503 with `Retry-After: 120`, then 204: retried with backoff, `Retry-After` honoured, the same
/// `webhook-id` every time.
async fn failures_are_retried_with_backoff_and_retry_after(backend: Backend) {
    let app = spawn(backend).await;
    let receiver = WebhookReceiver::spawn().await;
    receiver.script(vec![Reply::Status(500), Reply::RetryAfter(503, 120)]);
    let (member, task) = (id(), id());
    let (ep, secret) = create(&app, member, &receiver.url("/hook"), &["task.created"]).await;
    let created = task_event(channel::TASK_CREATED, task, member, 1, app.now());
    app.publish_one(created.clone()).await;
    let dispatcher = app.app.webhook_dispatcher().unwrap();

    let round = dispatcher.run_once().await.unwrap();
    assert_eq!((round.claimed, round.retrying), (1, 1));
    let log = deliveries(&app, member, ep).await;
    assert_eq!(
        (
            log[0]["status"].clone(),
            log[0]["attempts"].clone(),
            log[0]["lastResponseCode"].clone()
        ),
        (json!("pending"), json!(1), json!(500))
    );
    let next: Timestamp = log[0]["nextAttemptAt"].as_str().unwrap().parse().unwrap();
    let wait = next.as_second() - app.now().as_second();
    assert!(
        (5..=10).contains(&wait),
        "the first retry waits 5–10 s (10 s with jitter), not {wait}"
    );
    assert_eq!(
        dispatcher.run_once().await.unwrap().claimed,
        0,
        "not before its time"
    );

    app.advance(secs(10));
    let round = dispatcher.run_once().await.unwrap();
    assert_eq!(round.retrying, 1);
    let log = deliveries(&app, member, ep).await;
    assert_eq!(log[0]["lastResponseCode"], 503);
    let next: Timestamp = log[0]["nextAttemptAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        next.as_second() - app.now().as_second(),
        120,
        "Retry-After is longer than the backoff: it wins"
    );
    app.advance(secs(119));
    assert_eq!(dispatcher.run_once().await.unwrap().claimed, 0);
    app.advance(secs(1));
    assert_eq!(dispatcher.run_once().await.unwrap().delivered, 1);

    let received = receiver.received();
    assert_eq!(
        received.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [500, 503, 204]
    );
    assert!(
        received.iter().all(|r| r.id == created.event_id),
        "one webhook-id for every attempt"
    );
    let log = deliveries(&app, member, ep).await;
    assert_eq!(
        (log[0]["status"].clone(), log[0]["attempts"].clone()),
        (json!("delivered"), json!(3))
    );
    // Only the last attempt's timestamp is within the library's tolerance of now.
    assert_verified(&secret, &received[2..]);
}

/// Retries stop after the retry window; `disable_after_failures` deliveries given up in a row disable the
/// endpoint with the reason, and nothing more is queued for it until the member enables it again.
async fn repeated_failures_disable_the_endpoint(backend: Backend) {
    let mut s = settings();
    s.webhooks.retry_window = HumanDuration::from_secs(60);
    s.webhooks.disable_after_failures = 2;
    let app = spawn_with(backend, s).await;
    let receiver = WebhookReceiver::spawn().await;
    receiver.answer_by_default(Reply::Status(500));
    let member = id();
    let m = member.to_string();
    let (ep, _) = create(&app, member, &receiver.url("/hook"), &["task.created"]).await;
    for _ in 0..2 {
        create_task(&app, member).await;
    }
    let dispatcher = app.app.webhook_dispatcher().unwrap();
    let mut disabled = 0;
    for _ in 0..20 {
        disabled += dispatcher.run_once().await.unwrap().disabled;
        app.advance(secs(10));
    }
    assert_eq!(disabled, 1);
    let endpoint = endpoints(&app, member).await.remove(0);
    assert_eq!(endpoint["enabled"], false);
    let reason = endpoint["disabledReason"].as_str().unwrap();
    assert!(
        reason.contains("2 deliveries in a row failed") && reason.contains("HTTP 500"),
        "{reason}"
    );
    assert_eq!(endpoint["disabledCode"], "FAILURES");
    let log = deliveries(&app, member, ep).await;
    assert!(log.iter().all(|d| d["status"] == "failed"), "{log:?}");
    assert!(
        log[0]["lastError"].as_str().unwrap().contains("gave up"),
        "{log:?}"
    );
    let attempts = receiver.received().len();
    assert!(attempts >= 4, "each delivery was retried: {attempts}");

    // Disabled: new events are not queued for it.
    create_task(&app, member).await;
    assert_eq!(deliveries(&app, member, ep).await.len(), 2);
    // Enabled again, with its failures forgotten: it receives again.
    receiver.answer_by_default(Reply::Status(200));
    let (_, body) = json_of(
        app.patch(
            &format!("/v0/webhooks/{ep}"),
            Some(&m),
            json!({"enabled": true}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (body["enabled"].clone(), body["failures"].clone()),
        (json!(true), json!(0))
    );
    create_task(&app, member).await;
    assert_eq!(dispatcher.run_once().await.unwrap().delivered, 1);
}

/// `410 Gone` disables the endpoint at once; its other pending deliveries are given up.
async fn gone_disables_the_endpoint(backend: Backend) {
    let app = spawn(backend).await;
    let receiver = WebhookReceiver::spawn().await;
    receiver.script(vec![Reply::Status(410)]);
    let member = id();
    let schedule = id();
    let (ep, _) = create(
        &app,
        member,
        &receiver.url("/hook"),
        &["schedule.created", "schedule.started"],
    )
    .await;
    let now = app.now();
    app.publish_one(upcoming(schedule, member, now + secs(600), 1, now))
        .await;
    app.publish_one(state_change(
        channel::SCHEDULE_STATE_STARTED,
        schedule,
        member,
        "NOT_STARTED",
        2,
        now,
    ))
    .await;
    let round = app
        .app
        .webhook_dispatcher()
        .unwrap()
        .run_once()
        .await
        .unwrap();
    assert_eq!(
        (round.claimed, round.disabled),
        (1, 1),
        "the second waited behind the first, then was given up"
    );
    let endpoint = endpoints(&app, member).await.remove(0);
    assert_eq!(endpoint["enabled"], false);
    assert!(
        endpoint["disabledReason"].as_str().unwrap().contains("410"),
        "{endpoint}"
    );
    assert_eq!(endpoint["disabledCode"], "GONE");
    let log = deliveries(&app, member, ep).await;
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|d| d["status"] == "failed"));
    assert_eq!(log[1]["lastResponseCode"], 410);
    assert!(
        log[0]["lastError"].as_str().unwrap().contains("disabled"),
        "{log:?}"
    );
    assert_eq!(receiver.received().len(), 1);
}

/// A later event of a schedule waits for the earlier one (retrying) to be delivered; other schedules do not.
async fn a_schedules_events_are_delivered_in_order(backend: Backend) {
    // One send at a time, in claim order: the scripted 500 goes to a's first event.
    let mut s = settings();
    s.webhooks.max_in_flight = 1;
    let app = spawn_with(backend, s).await;
    let receiver = WebhookReceiver::spawn().await;
    receiver.script(vec![Reply::Status(500)]);
    let (member, a, b) = (id(), id(), id());
    create(&app, member, &receiver.url("/hook"), &ALL_EVENTS).await;
    let now = app.now();
    app.publish_one(upcoming(a, member, now + secs(600), 1, now))
        .await;
    app.publish_one(state_change(
        channel::SCHEDULE_STATE_STARTED,
        a,
        member,
        "NOT_STARTED",
        2,
        now,
    ))
    .await;
    app.publish_one(upcoming(b, member, now + secs(600), 1, now))
        .await;
    let dispatcher = app.app.webhook_dispatcher().unwrap();
    let round = dispatcher.run_once().await.unwrap();
    assert_eq!(
        (round.claimed, round.delivered, round.retrying),
        (2, 1, 1),
        "a's started waits"
    );
    app.advance(secs(10));
    let round = dispatcher.run_once().await.unwrap();
    assert_eq!(round.delivered, 2, "{round:?}");
    let order: Vec<(String, u16, i64)> = receiver
        .received()
        .iter()
        .map(|r| {
            (
                r.kind(),
                r.answered,
                r.json()["data"]["scheduleId"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            ("schedule.created".to_string(), 500, a),
            ("schedule.created".to_string(), 204, b),
            ("schedule.created".to_string(), 204, a),
            ("schedule.started".to_string(), 204, a),
        ]
    );
}

/// An event delivered twice by the broker (or applied twice) is queued and sent once; a slow receiver is a
/// timeout, retried.
async fn a_redelivered_event_is_sent_once_and_timeouts_are_retried(backend: Backend) {
    let app = spawn(backend).await;
    let receiver = WebhookReceiver::spawn().await;
    receiver.script(vec![Reply::Slow(Duration::from_secs(4))]);
    let (member, task) = (id(), id());
    let (ep, _) = create(&app, member, &receiver.url("/hook"), &["task.completed"]).await;
    let completed = task_event(channel::TASK_COMPLETED, task, member, 2, app.now());
    // A second consumer of the same events (another inbox, so the inbox's own de-duplication does not apply):
    // the (endpoint, event) key holds.
    let second = Subscription::new("webhooks.notification.second").bind(channel::TASK_COMPLETED);
    app.bus.subscribe(
        app.app
            .webhook_consumer(second, &support::consumer_config()),
    );
    app.publish_one(completed.clone()).await;
    app.publish_one(completed.clone()).await;
    assert_eq!(deliveries(&app, member, ep).await.len(), 1);

    let dispatcher = app.app.webhook_dispatcher().unwrap();
    let round = dispatcher.run_once().await.unwrap();
    assert_eq!(round.retrying, 1, "the 2 s timeout ran out");
    let log = deliveries(&app, member, ep).await;
    assert_eq!(log[0]["lastResponseCode"], Value::Null);
    assert!(
        log[0]["lastError"].as_str().unwrap().contains("timed out"),
        "{log:?}"
    );
    app.advance(secs(10));
    assert_eq!(dispatcher.run_once().await.unwrap().delivered, 1);
    let accepted = receiver.wait_accepted(2, Duration::from_secs(10)).await;
    assert!(
        accepted.iter().all(|r| r.id == completed.event_id),
        "the same webhook-id both times"
    );
}

pinit_testkit::both_backends!(
    endpoints_are_created_listed_updated_and_deleted,
    bad_input_is_refused_naming_the_field,
    events_are_delivered_signed_and_verified_by_standardwebhooks,
    test_events_and_sent_reminders_are_delivered,
    failures_are_retried_with_backoff_and_retry_after,
    repeated_failures_disable_the_endpoint,
    gone_disables_the_endpoint,
    a_schedules_events_are_delivered_in_order,
    a_redelivered_event_is_sent_once_and_timeouts_are_retried,
);
