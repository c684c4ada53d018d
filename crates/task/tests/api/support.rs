//! `spawn_app()` for the task service: the real router on a random port over a fresh database, with a
//! manual clock, and helpers that speak HTTP as the gateway does (`X-Member-Id`).
#![allow(dead_code)]

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use pinit_kernel::http::service_router;
use pinit_kernel::{Backend, Clock, Db, ManualClock, Readiness, SharedClock};
use pinit_messaging::Outbox;
use pinit_task::app::MemberProvisioning;
use pinit_task::domain::MemberId;
use pinit_task::{MIGRATIONS, TaskApp};
use pinit_testkit::{TestDb, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::Row;
use tokio_util::sync::CancellationToken;

/// 2026-02-01T00:00:00Z (09:00 in Seoul, a Sunday).
pub const START: &str = "2026-02-01T00:00:00Z";

pub struct App {
    pub server: TestServer,
    pub db: Db,
    pub clock: Arc<ManualClock>,
    pub app: TaskApp,
    pub backend: Backend,
    _test_db: TestDb,
}

pub async fn spawn_app(backend: Backend) -> App {
    spawn_at(backend, START).await
}

pub async fn spawn_at(backend: Backend, now: &str) -> App {
    spawn_with(backend, now, None).await
}

/// [`spawn_at`] with these busy-time settings (`None`: the defaults, insecure calendar URLs refused).
pub async fn spawn_with(
    backend: Backend,
    now: &str,
    calendars: Option<pinit_task::app::busy::Calendars>,
) -> App {
    let (test_db, db) = TestDb::migrated(backend, pinit_task::NAME, MIGRATIONS).await;
    let clock = ManualClock::new(now.parse().expect("an instant"));
    let shared: SharedClock = clock.clone();
    let mut app = TaskApp::new(
        db.clone(),
        shared.clone(),
        Outbox::new(shared.clone(), std::time::Duration::ZERO),
    );
    if let Some(calendars) = calendars {
        app = app.with_calendars(calendars);
    }
    let readiness = Readiness::new(pinit_task::NAME, CancellationToken::new());
    readiness.set_migrated();
    let router = service_router(
        pinit_task::NAME,
        pinit_task::http::routes(app.clone()),
        &readiness,
        pinit_task::ERROR_STYLE,
        shared,
    );
    App {
        server: TestServer::spawn(router).await,
        db,
        clock,
        app,
        backend,
        _test_db: test_db,
    }
}

/// A response: status, headers and the body as JSON (`Null` when empty, a string when not JSON).
#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Res {
    pub fn assert(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        &self.body
    }

    /// Asserts an error answer with the reference body shape and this message.
    pub fn assert_error(&self, status: u16, message: &str) {
        let body = self.assert(status);
        assert_eq!(body["status"], status, "{body}");
        assert_eq!(body["message"], message, "{body}");
        for key in ["timestamp", "error", "path", "errors"] {
            assert!(body.get(key).is_some(), "{key} missing in {body}");
        }
    }

    pub fn id(&self) -> i64 {
        self.body["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("an id in {}", self.text))
    }
}

impl App {
    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub fn advance_secs(&self, secs: i64) {
        self.clock.advance(SignedDuration::from_secs(secs));
    }

    pub fn set_now(&self, at: &str) {
        self.clock.set(at.parse::<Timestamp>().expect("an instant"));
    }

    /// Provisions a member as `member.created` would (zone `None` → Asia/Seoul).
    pub async fn member(&self, id: i64, zone: Option<&str>) -> i64 {
        self.app
            .provision(&MemberProvisioning {
                member: MemberId(id),
                nickname: Some(format!("member-{id}")),
                zone_id: zone.map(str::to_owned),
            })
            .await
            .expect("provision");
        id
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        member: Option<i64>,
        body: Option<Value>,
    ) -> Res {
        let mut request = self.server.client.request(method, self.url(path));
        if let Some(m) = member {
            request = request.header("X-Member-Id", m.to_string());
        }
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()))
        };
        Res {
            status,
            headers,
            text,
            body,
        }
    }

    pub async fn get(&self, member: i64, path: &str) -> Res {
        self.send(Method::GET, path, Some(member), None).await
    }

    pub async fn post(&self, member: i64, path: &str, body: Value) -> Res {
        self.send(Method::POST, path, Some(member), Some(body))
            .await
    }

    pub async fn post_empty(&self, member: i64, path: &str) -> Res {
        self.send(Method::POST, path, Some(member), None).await
    }

    pub async fn patch(&self, member: i64, path: &str, body: Value) -> Res {
        self.send(Method::PATCH, path, Some(member), Some(body))
            .await
    }

    pub async fn delete(&self, member: i64, path: &str) -> Res {
        self.send(Method::DELETE, path, Some(member), None).await
    }

    /// Creates a task due on `date` in `zone`; returns its id.
    pub async fn task(&self, member: i64, title: &str, date: &str, zone: &str) -> i64 {
        self.task_with(member, title, date, zone, serde_json::json!([]))
            .await
    }

    pub async fn task_with(
        &self,
        member: i64,
        title: &str,
        date: &str,
        zone: &str,
        deps: Value,
    ) -> i64 {
        let res = self
            .post(
                member,
                "/v2/tasks",
                serde_json::json!({
                    "title": title, "description": "설명",
                    "dueDate": {"date": date, "zoneId": zone},
                    "importance": 5, "difficulty": 3, "addDependencies": deps
                }),
            )
            .await;
        res.assert(201);
        res.id()
    }

    /// Creates a schedule starting at `local` in `zone`; returns its id.
    pub async fn schedule(
        &self,
        member: i64,
        title: &str,
        local: &str,
        zone: &str,
        kind: &str,
    ) -> i64 {
        let res = self
            .post(
                member,
                "/v2/schedules",
                serde_json::json!({
                    "title": title, "description": "설명",
                    "date": {"dateTime": local, "zoneId": zone},
                    "scheduleType": kind
                }),
            )
            .await;
        res.assert(201);
        res.id()
    }

    /// `POST /v2/schedules/{id}/{op}` with the client's `time` and `zoneId`: the moment it is sent, on the
    /// test's clock, in Seoul (as a client online sends it).
    pub async fn run(&self, member: i64, id: i64, op: &str) -> Res {
        let seoul = jiff::tz::TimeZone::get("Asia/Seoul").expect("a zone");
        let local = seoul.to_datetime(self.clock.now());
        self.run_at(member, id, op, &local.to_string()).await
    }

    /// `POST /v2/schedules/{id}/{op}` dated `local` (Seoul wall clock), as a client sends a press it queued
    /// while offline.
    pub async fn run_at(&self, member: i64, id: i64, op: &str, local: &str) -> Res {
        let path = if op == "cancel" {
            format!("/v2/schedules/{id}/cancel")
        } else {
            format!("/v2/schedules/{id}/{op}?time={local}&zoneId=Asia/Seoul")
        };
        self.post_empty(member, &path).await
    }

    /// The outbox rows: (routing key, exchange, aggregate type, aggregate id, version, payload), in order.
    pub async fn events(&self) -> Vec<Event> {
        let rows = sqlx::query(
            "SELECT routing_key, exchange, aggregate_type, aggregate_id, aggregate_version, payload, event_id \
             FROM messaging_outbox ORDER BY seq",
        )
        .fetch_all(self.db.pool())
        .await
        .expect("outbox rows");
        rows.iter()
            .map(|r| Event {
                routing_key: r.get(0),
                exchange: r.get(1),
                aggregate_type: r.get(2),
                aggregate_id: r.get(3),
                version: r.get(4),
                payload: serde_json::from_str(&r.get::<String, _>(5)).expect("JSON payload"),
                event_id: r.get(6),
            })
            .collect()
    }

    /// The routing keys recorded since `skip` events.
    pub async fn keys_since(&self, skip: usize) -> Vec<String> {
        self.events()
            .await
            .into_iter()
            .skip(skip)
            .map(|e| e.routing_key)
            .collect()
    }
}

/// An event of auth's member exchange on `channel` (`member.created`, `member.deleted`) as the outbox would
/// publish it: aggregate `member` `payload.memberId`.
pub fn member_event(
    channel: &pinit_messaging::message::Channel,
    event_id: &str,
    payload: Value,
) -> pinit_messaging::OutboundMessage {
    pinit_messaging::OutboundMessage {
        event_id: event_id.to_owned(),
        exchange: channel.exchange.into(),
        routing_key: channel.routing_key.into(),
        event_type: channel.message.into(),
        aggregate_type: "member".into(),
        aggregate_id: payload["memberId"].to_string(),
        aggregate_version: Some(1),
        occurred_at: START.parse().expect("an instant"),
        payload: payload.to_string(),
        attempts: 0,
        trace_context: None,
    }
}

/// Publishes `m` on the in-process bus; every consumer took it (applied or dead-lettered).
pub async fn publish(bus: &pinit_messaging::InProcessBus, m: pinit_messaging::OutboundMessage) {
    use pinit_messaging::Transport;
    let results = bus.publish(&[m], std::time::Duration::from_secs(5)).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

#[derive(Debug, Clone)]
pub struct Event {
    pub routing_key: String,
    pub exchange: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub version: Option<i64>,
    pub payload: Value,
    pub event_id: String,
}
