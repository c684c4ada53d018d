//! Reminders end to end, through the gateway only, in both run modes, in real time: a daily series with
//! `-PT1M` and `PT0S` reminders delivers two pushes for its first occurrence, each at its instant; a schedule
//! started after its first reminder gets no further one; quiet hours hold a reminder to the window's end; a
//! snooze is accepted for the reminder a device showed. Every push is decrypted with the device's key and its
//! VAPID signature verified, as a browser's push service would.
//!
//! (That a snoozed reminder then arrives once, after the snooze, is shown with a manual clock in the notification
//! service's tests: the shortest snooze is five minutes.)

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jiff::{SignedDuration, Timestamp, tz::TimeZone};
use p256::elliptic_curve::Generate;
use pinit_notification::push::ece;
use pinit_notification::push::webpush::verify_vapid;
use serde_json::{Value, json};
use support::member::{Member, provisioned_member};
use support::system::{Layout, System};

const ZONE: &str = "Asia/Seoul";

/// One push as it arrived: the device, when, and the payload decrypted with the device's key.
#[derive(Debug, Clone)]
struct Arrival {
    device: String,
    at: Timestamp,
    payload: Value,
}

/// Each device's private key and auth secret.
type DeviceKeys = HashMap<String, (p256::SecretKey, [u8; 16])>;

/// A push service on localhost that decrypts and verifies what it receives.
#[derive(Clone, Default)]
struct PushService {
    keys: Arc<Mutex<DeviceKeys>>,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
}

async fn receive(
    State(push): State<PushService>,
    Path(device): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::http::StatusCode {
    let at = Timestamp::now();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // A failure is recorded as the payload `{"error": …}`, which no assertion below accepts.
    let payload = verify_vapid(authorization)
        .map_err(|e| format!("VAPID does not verify: {e}"))
        .and_then(|_| {
            let keys = push.keys.lock().unwrap();
            let (secret, auth) = keys.get(&device).ok_or("an unknown device")?;
            ece::decrypt(&body, secret, auth).map_err(|e| format!("does not decrypt: {e}"))
        })
        .and_then(|plain| serde_json::from_slice(&plain).map_err(|e| e.to_string()))
        .unwrap_or_else(|e| json!({"error": e}));
    push.arrivals.lock().unwrap().push(Arrival {
        device,
        at,
        payload,
    });
    axum::http::StatusCode::CREATED
}

impl PushService {
    fn arrivals(&self, device: &str) -> Vec<Arrival> {
        self.arrivals
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.device == device)
            .cloned()
            .collect()
    }

    async fn wait_for(&self, device: &str, n: usize, until: Timestamp) -> Vec<Arrival> {
        while self.arrivals(device).len() < n && Timestamp::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.arrivals(device)
    }
}

struct Client<'a> {
    http: &'a reqwest::Client,
    system: &'a System,
    member: &'a Member,
}

impl Client<'_> {
    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .http
            .request(method, self.system.url(path))
            .bearer_auth(&self.member.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Subscribes a Web Push device whose pushes go to `push`.
    async fn subscribe(
        &self,
        push: &PushService,
        server: &pinit_testkit::TestServer,
        device: &str,
    ) {
        let secret = p256::SecretKey::generate_from_rng(&mut rand::rng());
        let auth: [u8; 16] = rand::random();
        let body = json!({"deviceId": device, "subscription": {
            "endpoint": server.url(&format!("/push/{device}")),
            "keys": {"p256dh": B64.encode(secret.public_key().to_sec1_bytes()), "auth": B64.encode(auth)}}});
        push.keys
            .lock()
            .unwrap()
            .insert(device.to_string(), (secret, auth));
        let (status, _) = self
            .send(reqwest::Method::POST, "/v0/push/subscribe", body)
            .await;
        assert_eq!(status, 200);
    }

    /// A schedule at `start` (whole seconds) with these reminders, repeating daily when `daily`.
    async fn schedule(&self, start: Timestamp, reminders: &[&str], daily: bool) -> i64 {
        let local = TimeZone::get(ZONE)
            .unwrap()
            .to_datetime(start)
            .strftime("%Y-%m-%dT%H:%M:%S")
            .to_string();
        let mut body = json!({"title": "딥 워크", "description": "reminders",
            "date": {"dateTime": local, "zoneId": ZONE}, "scheduleType": "DEEP_WORK",
            "reminders": reminders});
        if daily {
            body["recurrence"] = json!({"rrule": "FREQ=DAILY"});
        }
        let (status, created) = self
            .send(reqwest::Method::POST, "/v2/schedules", body)
            .await;
        assert_eq!(status, 201, "{created}");
        created["id"].as_i64().unwrap()
    }
}

fn whole_second(at: Timestamp) -> Timestamp {
    Timestamp::from_second(at.as_second()).unwrap()
}

/// The arrival with this schedule and offset, checked to be on time: not before its instant, at most 2 s late.
fn on_time<'a>(
    arrivals: &'a [Arrival],
    schedule: i64,
    offset: &str,
    due: Timestamp,
) -> &'a Arrival {
    let matching: Vec<&Arrival> = arrivals
        .iter()
        .filter(|a| {
            a.payload["scheduleId"] == schedule.to_string().as_str()
                && a.payload["reminderOffset"] == offset
        })
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "one {offset} push for {schedule}: {arrivals:?}"
    );
    let a = matching[0];
    let late = a.at.duration_since(due);
    assert!(
        late >= SignedDuration::from_millis(-50) && late <= SignedDuration::from_secs(2),
        "{offset} of {schedule} due {due}, arrived {}",
        a.at
    );
    a
}

async fn reminders(layout: Layout) {
    let push = PushService::default();
    let server = pinit_testkit::TestServer::spawn(
        Router::new()
            .route("/push/{device}", post(receive))
            .with_state(push.clone()),
    )
    .await;
    let system = System::start(layout, &[]).await;
    let http = pinit_testkit::client();
    let (a, b) = (
        provisioned_member(&system, &http, "reminder-a").await,
        provisioned_member(&system, &http, "reminder-b").await,
    );
    let a = Client {
        http: &http,
        system: &system,
        member: &a,
    };
    let b = Client {
        http: &http,
        system: &system,
        member: &b,
    };
    a.subscribe(&push, &server, "a-phone").await;
    b.subscribe(&push, &server, "b-phone").await;

    // B's quiet hours: from this minute for two minutes, in B's zone, holding reminders.
    let now = Timestamp::now();
    let local = TimeZone::get(ZONE).unwrap().to_datetime(now);
    let from = local
        .time()
        .with()
        .second(0)
        .subsec_nanosecond(0)
        .build()
        .unwrap();
    let window_end = TimeZone::get(ZONE)
        .unwrap()
        .to_timestamp(local.date().to_datetime(from))
        .unwrap()
        + SignedDuration::from_mins(2);
    let to = TimeZone::get(ZONE).unwrap().to_datetime(window_end).time();
    let hhmm = |t: jiff::civil::Time| format!("{:02}:{:02}", t.hour(), t.minute());
    let (status, quiet) = b
        .send(
            reqwest::Method::PUT,
            "/v0/push/quiet-hours",
            json!({"enabled": true, "start": hhmm(from), "end": hhmm(to), "zoneId": ZONE, "mode": "hold"}),
        )
        .await;
    assert_eq!(status, 200, "{quiet}");

    // A: a daily series and a one-off schedule, both starting in 70 s with -PT1M and PT0S reminders.
    let start = whole_second(Timestamp::now()) + SignedDuration::from_secs(70);
    let series = a.schedule(start, &["-PT1M", "PT0S"], true).await;
    let started = a.schedule(start, &["-PT1M", "PT0S"], false).await;
    // B: one starting in 70 s, with its reminder due in 10 s — inside B's quiet hours.
    let held = b.schedule(start, &["-PT1M"], false).await;

    // The one-off's first reminder arrives; then it is started: its at-start reminder must not come.
    let lead = start - SignedDuration::from_mins(1);
    let first = push
        .wait_for("a-phone", 2, lead + SignedDuration::from_secs(10))
        .await;
    assert_eq!(first.len(), 2, "two -PT1M reminders: {first:?}");
    let (status, body) = a
        .send(
            reqwest::Method::POST,
            &format!("/v2/schedules/{started}/start"),
            Value::Null,
        )
        .await;
    assert!(status == 204 || status == 200, "{status} {body}");

    // Snooze the series' first reminder from the device: accepted, due in five minutes.
    let key = first
        .iter()
        .find(|x| x.payload["scheduleId"] == series.to_string().as_str())
        .map(|x| x.payload["idempotentKey"].as_str().unwrap().to_string())
        .unwrap();
    assert!(key.ends_with(":-PT1M"), "{key}");
    let (status, snoozed) = a
        .send(
            reqwest::Method::POST,
            &format!("/v0/push/reminders/{key}/snooze"),
            json!({"minutes": 5}),
        )
        .await;
    assert_eq!(status, 202, "{snoozed}");
    assert_eq!(snoozed["key"], format!("{key}:snooze:1").as_str());
    let due: Timestamp = snoozed["dueAt"].as_str().unwrap().parse().unwrap();
    let in_five = Timestamp::now() + SignedDuration::from_mins(5);
    assert!((due.duration_since(in_five)).abs() < SignedDuration::from_secs(3));

    // Wait past the start and the end of B's quiet hours, then a little longer for anything unwanted.
    let until = start.max(window_end) + SignedDuration::from_secs(5);
    push.wait_for("a-phone", 3, until).await;
    push.wait_for("b-phone", 1, until).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let a_pushes = push.arrivals("a-phone");
    assert_eq!(a_pushes.len(), 3, "{a_pushes:?}");
    let lead_push = on_time(&a_pushes, series, "-PT1M", lead);
    let at_start = on_time(&a_pushes, series, "PT0S", start);
    on_time(&a_pushes, started, "-PT1M", lead);
    assert_ne!(
        lead_push.payload["idempotentKey"],
        at_start.payload["idempotentKey"]
    );
    for p in &a_pushes {
        assert_eq!(p.payload["actions"], "start,snooze");
        assert_eq!(
            p.payload["scheduleStartTime"],
            pinit_notification::domain::format_start_time(start)
        );
    }

    let b_pushes = push.arrivals("b-phone");
    assert_eq!(b_pushes.len(), 1, "{b_pushes:?}");
    assert_eq!(b_pushes[0].payload["scheduleId"], held.to_string().as_str());
    assert_eq!(b_pushes[0].payload["reminderOffset"], "-PT1M");
    let late = b_pushes[0].at.duration_since(window_end);
    assert!(
        late >= SignedDuration::from_millis(-50) && late <= SignedDuration::from_secs(2),
        "held to the end of the quiet hours ({window_end}); arrived {}",
        b_pushes[0].at
    );
    system.stop().await;
}

mod embedded {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reminders() {
        super::reminders(super::Layout::Embedded).await;
    }
}

mod distributed {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reminders() {
        super::reminders(super::Layout::Distributed).await;
    }
}
