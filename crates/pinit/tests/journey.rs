//! A member's whole journey through the gateway only, in both run modes: signup (503 `USER_NOT_READY` until the
//! member is provisioned) → login → tasks with a dependency → a schedule copied from a task → a Web Push device →
//! start/pause/resume/complete → statistics → the push of a second schedule arrives at a local push service at
//! its start time, once, and none for the started one → refresh rotation → logout.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jiff::{Timestamp, ToSpan, tz::TimeZone};
use p256::elliptic_curve::Generate;
use serde_json::{Value, json};
use support::system::{Layout, System};

const ZONE: &str = "Europe/Berlin";

/// A push service on localhost that records what it receives.
#[derive(Clone, Default)]
struct PushService {
    received: Arc<Mutex<Vec<(Instant, HeaderMap)>>>,
}

async fn receive(
    State(push): State<PushService>,
    Path(_id): Path<String>,
    headers: HeaderMap,
) -> axum::http::StatusCode {
    push.received
        .lock()
        .unwrap()
        .push((Instant::now(), headers));
    axum::http::StatusCode::CREATED
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        status: u16,
    ) -> Value {
        let res = self.send(method.clone(), path, body).await;
        let got = res.status().as_u16();
        let text = res.text().await.unwrap();
        assert_eq!(got, status, "{method} {path}: {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        }
    }
}

/// Local wall time in the member's zone, `offset` from now, to the second.
fn local(offset_secs: i64) -> String {
    let at = Timestamp::now() + offset_secs.seconds();
    TimeZone::get(ZONE)
        .unwrap()
        .to_datetime(at)
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

fn cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("refresh_token="))
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
}

async fn journey(layout: Layout) {
    let push = PushService::default();
    let push_server = pinit_testkit::TestServer::spawn(
        Router::new()
            .route("/push/{id}", post(receive))
            .with_state(push.clone()),
    )
    .await;
    let system = System::start(layout, &[]).await;
    let http = pinit_testkit::client();

    // Sign up, then wait for the task service to know the member: 503 USER_NOT_READY meanwhile.
    let res = http
        .post(system.url("/v0/signup"))
        .json(&json!({"username": "journey", "password": "password-123", "nickname": "여정", "zoneId": ZONE}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = http
        .post(system.url("/v0/login"))
        .json(&json!({"username": "journey", "password": "password-123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let refresh = cookie(&res).expect("refresh cookie");
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let member = Client {
        http: http.clone(),
        base: system.url.clone(),
        token,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let res = member
            .send(reqwest::Method::GET, "/v2/members/zone-id", None)
            .await;
        if res.status() == 200 {
            assert_eq!(
                res.text().await.unwrap().trim_matches('"'),
                ZONE,
                "the zone came with member.created"
            );
            break;
        }
        assert_eq!(res.status(), 503);
        assert!(res.headers().contains_key("retry-after"));
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "USER_NOT_READY");
        assert!(
            Instant::now() < deadline,
            "the member was never provisioned"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Two tasks, the second waiting for the first.
    let due = json!({"date": "2030-01-31", "zoneId": ZONE});
    let first = member
        .json(reqwest::Method::POST, "/v2/tasks", Some(json!({"title": "자료 조사", "description": "research", "dueDate": due, "importance": 5, "difficulty": 3})), 201)
        .await;
    let first_id = first["id"].as_i64().unwrap();
    let second = member
        .json(reqwest::Method::POST, "/v2/tasks", Some(json!({"title": "발표 준비", "description": "slides", "dueDate": due, "importance": 8, "difficulty": 5, "addDependencies": [{"fromId": first_id, "toId": 0}]})), 201)
        .await;
    let second_id = second["id"].as_i64().unwrap();
    assert_eq!(second["previousTaskIds"], json!([first_id]));

    // A Web Push device.
    let device_key = p256::SecretKey::generate_from_rng(&mut rand::rng());
    let p256dh = B64.encode(device_key.public_key().to_sec1_bytes());
    let auth_secret = B64.encode(rand::random::<[u8; 16]>());
    member
        .json(
            reqwest::Method::POST,
            "/v0/push/subscribe",
            Some(json!({"deviceId": "e2e-device", "subscription": {"endpoint": push_server.url("/push/e2e-device"), "keys": {"p256dh": p256dh, "auth": auth_secret}}})),
            200,
        )
        .await;
    let subscribed = member
        .json(
            reqwest::Method::GET,
            "/v0/push/subscribed?deviceId=e2e-device",
            None,
            200,
        )
        .await;
    assert_eq!(subscribed, json!(true));

    // Schedule A from the second task, due in a few seconds; schedule B, never started, due right after.
    let a = member
        .json(
            reqwest::Method::POST,
            &format!("/v2/tasks/{second_id}/schedules"),
            Some(json!({"date": {"dateTime": local(6), "zoneId": ZONE}, "scheduleType": "DEEP_WORK"})),
            201,
        )
        .await;
    let a_id = a["id"].as_i64().unwrap();
    let b = member
        .json(
            reqwest::Method::POST,
            "/v2/schedules",
            Some(json!({"title": "회의", "description": "weekly sync", "date": {"dateTime": local(7), "zoneId": ZONE}, "scheduleType": "ADMIN_TASK"})),
            201,
        )
        .await;
    let b_id = b["id"].as_i64().unwrap();
    let b_due = Instant::now() + Duration::from_secs(6);

    // The player: a prerequisite is open, so A cannot start; finish the first task, then it can.
    let start = format!("/v2/schedules/{a_id}/start");
    assert_eq!(
        member
            .send(reqwest::Method::POST, &start, None)
            .await
            .status(),
        409
    );
    member
        .json(
            reqwest::Method::POST,
            &format!("/v2/tasks/{first_id}/complete"),
            None,
            204,
        )
        .await;
    member.json(reqwest::Method::POST, &start, None, 204).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    member
        .json(
            reqwest::Method::POST,
            &format!("/v2/schedules/{a_id}/suspend"),
            None,
            204,
        )
        .await;
    member.json(reqwest::Method::POST, &start, None, 204).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    member
        .json(
            reqwest::Method::POST,
            &format!("/v2/schedules/{a_id}/complete"),
            None,
            204,
        )
        .await;
    let done = member
        .json(
            reqwest::Method::GET,
            &format!("/v2/schedules/{a_id}"),
            None,
            200,
        )
        .await;
    assert_eq!(done["state"], "COMPLETED");

    // Statistics show the deep work.
    let stats = member
        .json(
            reqwest::Method::GET,
            &format!("/v2/statistics?time={}&zoneId={ZONE}", local(0)),
            None,
            200,
        )
        .await;
    let deep = stats["deepWorkElapsedTime"].as_str().unwrap();
    assert_ne!(deep, "PT0S", "{stats}");
    let seconds: f64 = deep
        .trim_start_matches("PT")
        .trim_end_matches('S')
        .parse()
        .unwrap_or(0.0);
    assert!(seconds >= 1.5, "two running spells of ~0.8 s each: {deep}");

    // B's push arrives at its start time, once; A (started) never pushes.
    let deadline = b_due + Duration::from_secs(15);
    while push.received.lock().unwrap().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let received = push.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "exactly one push");
    let (arrived, headers) = &received[0];
    assert_eq!(
        headers["topic"],
        format!("schedule-{b_id}").as_str(),
        "the push is B's"
    );
    assert_eq!(headers["content-encoding"], "aes128gcm");
    assert!(
        headers["authorization"]
            .to_str()
            .unwrap()
            .starts_with("vapid t=")
    );
    assert!(*arrived + Duration::from_millis(1500) >= b_due, "not early");
    assert!(
        arrived.duration_since(b_due) < Duration::from_secs(3),
        "on time: {:?} late",
        arrived.duration_since(b_due)
    );

    // Refresh rotates; logout revokes.
    let res = http
        .post(member.url("/v0/refresh"))
        .header("cookie", format!("refresh_token={refresh}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let rotated = cookie(&res).expect("rotated");
    assert_ne!(rotated, refresh);
    let res = http
        .post(member.url("/v0/logout"))
        .header("cookie", format!("refresh_token={rotated}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = http
        .post(member.url("/v0/refresh"))
        .header("cookie", format!("refresh_token={rotated}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    if let Some(tls) = &system.tls {
        // Every database and broker connection of the journey went through the TLS endpoints, encrypted.
        assert!(
            tls.postgres.tls_sessions() >= 3,
            "one per service database at least"
        );
        assert!(tls.amqps.tls_sessions() >= 3, "relays and consumers");
        assert_eq!(
            tls.postgres.plain_sessions(),
            0,
            "nothing fell back to plain text"
        );
    }
    if system.layout == Layout::Embedded {
        nothing_waits_in_the_task_outbox(&system).await;
    }
    for (name, status) in system.stop().await {
        assert_eq!(status.code(), Some(0), "{name} exits cleanly");
    }
}

/// `pinit serve`: every event left the task outbox, `task.completed` too, which nobody in Pinit consumes — it is
/// delivered to nobody on its first publish instead of being retried for ever (and logged each time).
async fn nothing_waits_in_the_task_outbox(system: &System) {
    let path = system.dir.path().join("pinit-data").join("task.db");
    let db = pinit_kernel::Db::connect(&pinit_kernel::Db::sqlite_url(&path), &Default::default())
        .await
        .unwrap();
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(db.pool())
                .await
                .unwrap()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut pending = i64::MAX;
    while pending > 0 && Instant::now() < deadline {
        pending =
            count("SELECT COUNT(*) FROM messaging_outbox WHERE published_at_us IS NULL").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(pending, 0, "no event waits in the outbox");
    assert!(
        count(
            "SELECT COUNT(*) FROM messaging_outbox WHERE routing_key = 'task.completed' AND attempts = 0"
        )
        .await
            >= 1,
        "task.completed settled on its first publish"
    );
    db.close().await;
    let (_, serve) = &system.processes[0];
    let failures: Vec<String> = serve
        .problems()
        .into_iter()
        .filter(|l| l.contains("publish failed"))
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
}

mod embedded {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn journey() {
        super::journey(super::Layout::Embedded).await
    }
}

mod distributed {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn journey() {
        super::journey(super::Layout::Distributed).await
    }

    /// Every PostgreSQL and RabbitMQ connection over TLS (verify-full, amqps://, client certificates).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn journey_over_tls() {
        super::journey(super::Layout::DistributedTls).await
    }
}
