//! `spawn_app()` for the notification service: the real routes, consumers and dispatcher over a fresh database,
//! a manual clock, a fake task service (schedule directory), a fake Web Push service that decrypts what it
//! receives with the subscription's private key and verifies the VAPID JWT, and a fake FCM.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use futures::future::BoxFuture;
use jiff::{SignedDuration, Timestamp};
use p256::SecretKey;
use p256::elliptic_curve::Generate;
use pinit_contracts::events::{ScheduleState, channel};
use pinit_kernel::config::HumanDuration;
use pinit_kernel::http::service_router;
use pinit_kernel::{Backend, Clock, Db, ManualClock, Readiness, SharedClock};
use pinit_messaging::{BackoffConfig, ConsumerConfig, InProcessBus, OutboundMessage, Transport};
use pinit_notification::domain::{Delivery, OutcomeRecord, Subscription, Upcoming};
use pinit_notification::push::ece;
use pinit_notification::push::webpush::verify_vapid;
use pinit_notification::store;
use pinit_notification::vapid::VapidKey;
use pinit_notification::{
    DirectoryError, Dispatcher, MemberId, Notifications, ScheduleBasics, ScheduleDirectory,
    ScheduleId, ScheduleKey, ScheduleSnapshot, Settings,
};
use pinit_testkit::{TestDb, TestServer};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

// ------------------------------------------------------------------------------------------------------------
// The fake task service
// ------------------------------------------------------------------------------------------------------------

/// Schedules as the task service would report them.
#[derive(Default)]
pub struct FakeDirectory {
    schedules: Mutex<HashMap<ScheduleId, ScheduleSnapshot>>,
    down: std::sync::atomic::AtomicBool,
    pub basics_calls: AtomicUsize,
    pub states_calls: AtomicUsize,
}

impl FakeDirectory {
    pub fn put(
        &self,
        schedule_id: i64,
        owner_id: i64,
        title: &str,
        start: Timestamp,
        state: ScheduleState,
    ) {
        self.schedules.lock().unwrap().insert(
            ScheduleId(schedule_id),
            ScheduleSnapshot {
                basics: ScheduleBasics {
                    schedule_id: ScheduleId(schedule_id),
                    owner_id: MemberId(owner_id),
                    title: title.into(),
                    start_time: start,
                },
                state: Some(state),
            },
        );
    }

    pub fn set_state(&self, schedule_id: i64, state: ScheduleState) {
        if let Some(s) = self
            .schedules
            .lock()
            .unwrap()
            .get_mut(&ScheduleId(schedule_id))
        {
            s.state = Some(state);
        }
    }

    pub fn set_start(&self, schedule_id: i64, start: Timestamp) {
        if let Some(s) = self
            .schedules
            .lock()
            .unwrap()
            .get_mut(&ScheduleId(schedule_id))
        {
            s.basics.start_time = start;
        }
    }

    pub fn remove(&self, schedule_id: i64) {
        self.schedules
            .lock()
            .unwrap()
            .remove(&ScheduleId(schedule_id));
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), DirectoryError> {
        if self.down.load(Ordering::SeqCst) {
            Err(DirectoryError::Unavailable(
                "task service down (fake)".into(),
            ))
        } else {
            Ok(())
        }
    }
}

impl ScheduleDirectory for FakeDirectory {
    fn basics(
        &self,
        key: ScheduleKey,
    ) -> BoxFuture<'_, Result<Option<ScheduleBasics>, DirectoryError>> {
        Box::pin(async move {
            self.basics_calls.fetch_add(1, Ordering::SeqCst);
            self.check()?;
            Ok(self
                .schedules
                .lock()
                .unwrap()
                .get(&key.schedule_id)
                .filter(|s| s.basics.owner_id == key.owner_id)
                .map(|s| s.basics.clone()))
        })
    }

    fn states<'a>(
        &'a self,
        keys: &'a [ScheduleKey],
    ) -> BoxFuture<'a, Result<HashMap<ScheduleId, ScheduleSnapshot>, DirectoryError>> {
        Box::pin(async move {
            self.states_calls.fetch_add(1, Ordering::SeqCst);
            self.check()?;
            let all = self.schedules.lock().unwrap();
            Ok(keys
                .iter()
                .filter_map(|k| {
                    all.get(&k.schedule_id)
                        .filter(|s| s.basics.owner_id == k.owner_id)
                        .map(|s| (k.schedule_id, s.clone()))
                })
                .collect())
        })
    }
}

// ------------------------------------------------------------------------------------------------------------
// The fake Web Push service
// ------------------------------------------------------------------------------------------------------------

/// A scripted answer.
#[derive(Clone, Debug)]
pub enum Reply {
    Status(u16),
    /// A status with `Retry-After: <secs>`.
    RetryAfter(u16, u64),
    /// Answer 201 after a delay.
    Slow(Duration),
}

/// One push as the push service received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub device: String,
    pub headers: HeaderMap,
    /// The decrypted payload (the browser's view), or why it did not decrypt.
    pub payload: Result<Value, String>,
    /// The verified VAPID claims, or why they did not verify.
    pub vapid: Result<Value, String>,
    /// Real time of arrival.
    pub at: Timestamp,
    pub status: u16,
}

#[derive(Default)]
pub struct PushState {
    pub received: Mutex<Vec<Received>>,
    script: Mutex<HashMap<String, VecDeque<Reply>>>,
    keys: Mutex<HashMap<String, (SecretKey, [u8; 16])>>,
}

pub struct PushService {
    pub server: TestServer,
    pub state: Arc<PushState>,
}

/// A browser: its push subscription's key pair and auth secret.
pub struct Browser {
    pub name: String,
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

impl Browser {
    pub fn subscription(&self) -> Value {
        json!({
            "endpoint": self.endpoint,
            "expirationTime": null,
            "keys": {"p256dh": self.p256dh, "auth": self.auth}
        })
    }
}

impl PushService {
    pub async fn spawn() -> Self {
        let state = Arc::new(PushState::default());
        let router = Router::new()
            .route("/push/{device}", post(receive))
            .with_state(state.clone());
        Self {
            server: TestServer::spawn(router).await,
            state,
        }
    }

    /// A new browser subscribed at this push service.
    pub fn browser(&self, name: &str) -> Browser {
        let secret = SecretKey::generate_from_rng(&mut rand::rng());
        let mut auth = [0u8; 16];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut auth);
        let p256dh = B64.encode(secret.public_key().to_sec1_bytes());
        self.state
            .keys
            .lock()
            .unwrap()
            .insert(name.to_string(), (secret, auth));
        Browser {
            name: name.into(),
            endpoint: self.server.url(&format!("/push/{name}")),
            p256dh,
            auth: B64.encode(auth),
        }
    }

    /// Answers the next pushes to `device` with `replies`, in order (then 201).
    pub fn script(&self, device: &str, replies: Vec<Reply>) {
        self.state
            .script
            .lock()
            .unwrap()
            .insert(device.to_string(), replies.into());
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Pushes accepted (2xx) per device.
    pub fn delivered_to(&self, device: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.device == device && (200..300).contains(&r.status))
            .collect()
    }

    pub fn delivered(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }
}

async fn receive(
    State(state): State<Arc<PushState>>,
    Path(device): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Timestamp::now();
    let payload = match state.keys.lock().unwrap().get(&device) {
        Some((secret, auth)) => ece::decrypt(&body, secret, auth)
            .map_err(|e| e.to_string())
            .and_then(|plain| serde_json::from_slice(&plain).map_err(|e| e.to_string())),
        None => Err(format!("unknown device {device}")),
    };
    let vapid = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| "no Authorization".to_string())
        .and_then(verify_vapid);
    let reply = state
        .script
        .lock()
        .unwrap()
        .get_mut(&device)
        .and_then(|q| q.pop_front());
    let (status, retry_after) = match reply {
        None => (201, None),
        Some(Reply::Status(s)) => (s, None),
        Some(Reply::RetryAfter(s, secs)) => (s, Some(secs)),
        Some(Reply::Slow(d)) => {
            tokio::time::sleep(d).await;
            (201, None)
        }
    };
    state.received.lock().unwrap().push(Received {
        device,
        headers,
        payload,
        vapid,
        at,
        status,
    });
    let mut response = StatusCode::from_u16(status)
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        .into_response();
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", secs.to_string().parse().unwrap());
    }
    response
}

// ------------------------------------------------------------------------------------------------------------
// The app
// ------------------------------------------------------------------------------------------------------------

pub static VAPID: LazyLock<VapidKey> = LazyLock::new(VapidKey::generate);

pub fn test_settings() -> Settings {
    Settings {
        grace: HumanDuration::from_secs(600),
        batch_size: 50,
        max_in_flight: 64,
        claim_lease: HumanDuration::from_secs(20),
        push_timeout: HumanDuration::from_secs(3),
        safety_poll: HumanDuration::from_secs(1),
        retry_backoff: BackoffConfig {
            initial: HumanDuration::from_millis(200),
            max: HumanDuration::from_secs(2),
            multiplier: 2.0,
        },
        vapid_subject: "mailto:ops@pinit.example".into(),
        // The fake push service listens on http://127.0.0.1.
        allow_insecure_endpoints: true,
        ..Settings::default()
    }
}

pub fn consumer_config() -> ConsumerConfig {
    ConsumerConfig {
        max_attempts: 3,
        retry_backoff: BackoffConfig {
            initial: HumanDuration::from_millis(20),
            max: HumanDuration::from_millis(100),
            multiplier: 2.0,
        },
        ..ConsumerConfig::default()
    }
}

pub struct App {
    pub db: Db,
    pub clock: Arc<ManualClock>,
    pub app: Notifications,
    pub server: TestServer,
    pub directory: Arc<FakeDirectory>,
    pub push: PushService,
    pub bus: InProcessBus,
    _test_db: TestDb,
}

pub async fn spawn_app(backend: Backend) -> App {
    spawn_with(backend, test_settings()).await
}

pub async fn spawn_with(backend: Backend, settings: Settings) -> App {
    let (test_db, db) = TestDb::migrated(
        backend,
        pinit_notification::NAME,
        pinit_notification::MIGRATIONS,
    )
    .await;
    let clock = ManualClock::new(whole_second(Timestamp::now()));
    let shared: SharedClock = clock.clone();
    spawn_on(test_db, db, clock, shared, settings).await
}

/// With the real clock (punctuality tests).
pub async fn spawn_realtime(backend: Backend) -> App {
    spawn_realtime_with(backend, test_settings()).await
}

/// [`spawn_realtime`] with its own settings.
pub async fn spawn_realtime_with(backend: Backend, settings: Settings) -> App {
    let (test_db, db) = TestDb::migrated(
        backend,
        pinit_notification::NAME,
        pinit_notification::MIGRATIONS,
    )
    .await;
    let clock = ManualClock::new(Timestamp::now());
    spawn_on(
        test_db,
        db,
        clock,
        pinit_kernel::SystemClock::shared(),
        settings,
    )
    .await
}

async fn spawn_on(
    test_db: TestDb,
    db: Db,
    clock: Arc<ManualClock>,
    shared: SharedClock,
    settings: Settings,
) -> App {
    let directory = Arc::new(FakeDirectory::default());
    let app = Notifications::new(
        db.clone(),
        shared.clone(),
        settings,
        VAPID.clone(),
        directory.clone(),
    );
    let readiness = Readiness::new(pinit_notification::NAME, CancellationToken::new());
    readiness.set_migrated();
    let router = service_router(
        pinit_notification::NAME,
        pinit_notification::http::routes(app.clone()),
        &readiness,
        pinit_notification::ERROR_STYLE,
        shared,
    );
    let bus = InProcessBus::new();
    for inbox in app.consumers(&consumer_config()) {
        bus.subscribe(inbox);
    }
    App {
        server: TestServer::spawn(router).await,
        push: PushService::spawn().await,
        db,
        clock,
        app,
        directory,
        bus,
        _test_db: test_db,
    }
}

pub fn whole_second(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap()
}

static EVENT_SEQ: AtomicUsize = AtomicUsize::new(1);

/// A unique id for schedules and members in one test.
pub fn id() -> i64 {
    i64::try_from(EVENT_SEQ.fetch_add(1, Ordering::SeqCst)).unwrap() * 1000
        + i64::from(rand::random::<u16>() % 1000)
}

impl App {
    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn advance(&self, by: SignedDuration) {
        self.clock.advance(by);
    }

    pub fn dispatcher(&self) -> Dispatcher {
        self.app.dispatcher().expect("dispatcher")
    }

    // ---- HTTP ----

    pub async fn post(&self, path: &str, member: Option<&str>, body: Value) -> reqwest::Response {
        self.send(self.server.client.post(self.url(path)), member, body)
            .await
    }

    pub async fn put(&self, path: &str, member: Option<&str>, body: Value) -> reqwest::Response {
        self.send(self.server.client.put(self.url(path)), member, body)
            .await
    }

    pub async fn patch(&self, path: &str, member: Option<&str>, body: Value) -> reqwest::Response {
        self.send(self.server.client.patch(self.url(path)), member, body)
            .await
    }

    pub async fn delete(&self, path: &str, member: Option<&str>) -> reqwest::Response {
        as_member(self.server.client.delete(self.url(path)), member)
            .send()
            .await
            .expect("request")
    }

    async fn send(
        &self,
        mut request: reqwest::RequestBuilder,
        member: Option<&str>,
        body: Value,
    ) -> reqwest::Response {
        request = request.json(&body);
        if let Some(m) = member {
            request = request.header("x-member-id", m);
        }
        request.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, member: Option<&str>) -> reqwest::Response {
        as_member(self.server.client.get(self.url(path)), member)
            .send()
            .await
            .expect("request")
    }

    /// Subscribes a new browser of `member` as device `name`.
    pub async fn subscribe_browser(&self, member: i64, name: &str) -> Browser {
        let browser = self.push.browser(name);
        let res = self
            .post(
                "/v0/push/subscribe",
                Some(&member.to_string()),
                json!({"deviceId": name, "subscription": browser.subscription()}),
            )
            .await;
        assert_eq!(
            res.status(),
            200,
            "{}",
            res.text().await.unwrap_or_default()
        );
        browser
    }

    // ---- events ----

    /// Publishes events as the task service's outbox relay would (through the in-process bus).
    pub async fn publish(&self, messages: &[OutboundMessage]) {
        for result in self.bus.publish(messages, Duration::from_secs(10)).await {
            result.expect("delivered to the consumers");
        }
    }

    pub async fn publish_one(&self, m: OutboundMessage) {
        self.publish(std::slice::from_ref(&m)).await
    }

    // ---- database ----

    pub async fn notifications(&self) -> Vec<Upcoming> {
        let mut conn = self.db.conn().await.unwrap();
        store::upcoming::all(&mut conn).await.unwrap()
    }

    /// The schedule's pending notification at its start (`PT0S`, not snoozed).
    pub async fn notification(&self, schedule_id: i64) -> Option<Upcoming> {
        self.reminders(schedule_id)
            .await
            .into_iter()
            .find(|n| n.slot.at_start())
    }

    /// The schedule's pending notifications (one per reminder slot), soonest first.
    pub async fn reminders(&self, schedule_id: i64) -> Vec<Upcoming> {
        let mut conn = self.db.conn().await.unwrap();
        store::upcoming::of_schedule(&mut conn, ScheduleId(schedule_id))
            .await
            .unwrap()
    }

    pub async fn deliveries(&self, schedule_id: i64) -> Vec<Delivery> {
        let mut conn = self.db.conn().await.unwrap();
        store::deliveries::of_schedule(&mut conn, ScheduleId(schedule_id))
            .await
            .unwrap()
    }

    pub async fn outcomes(&self, schedule_id: i64) -> Vec<OutcomeRecord> {
        let mut conn = self.db.conn().await.unwrap();
        store::outcomes::of_schedule(&mut conn, ScheduleId(schedule_id))
            .await
            .unwrap()
    }

    pub async fn subscriptions(&self, member: i64) -> Vec<Subscription> {
        let mut conn = self.db.conn().await.unwrap();
        store::subscriptions::of_members(&mut conn, &[MemberId(member)])
            .await
            .unwrap()
    }

    pub async fn subscription_count(&self, member: i64) -> usize {
        self.subscriptions(member).await.len()
    }
}

/// `request` for `member` (the gateway's `X-Member-Id`), if any.
fn as_member(request: reqwest::RequestBuilder, member: Option<&str>) -> reqwest::RequestBuilder {
    match member {
        Some(m) => request.header("x-member-id", m),
        None => request,
    }
}

/// An outbox row of the task service.
pub fn event(
    channel: pinit_contracts::events::Channel,
    schedule_id: i64,
    version: Option<i64>,
    payload: Value,
    occurred_at: Timestamp,
) -> OutboundMessage {
    let id = uuid::Uuid::now_v7().to_string();
    let mut payload = payload;
    payload["idempotentKey"] = json!(id);
    payload["occurredAt"] = json!(occurred_at.to_string());
    if let Some(v) = version {
        payload["aggregateVersion"] = json!(v);
    }
    OutboundMessage {
        event_id: id,
        exchange: channel.exchange.into(),
        routing_key: channel.routing_key.into(),
        event_type: channel.message.into(),
        aggregate_type: "schedule".into(),
        aggregate_id: schedule_id.to_string(),
        aggregate_version: version,
        occurred_at,
        payload: payload.to_string(),
        attempts: 0,
        trace_context: None,
    }
}

pub fn upcoming(
    schedule_id: i64,
    owner: i64,
    start: Timestamp,
    version: i64,
    at: Timestamp,
) -> OutboundMessage {
    event(
        channel::SCHEDULE_TIME_UPCOMING_UPDATED,
        schedule_id,
        Some(version),
        json!({"scheduleId": schedule_id, "ownerId": owner, "newUpcomingTime": start.to_string()}),
        at,
    )
}

pub fn state_change(
    ch: pinit_contracts::events::Channel,
    schedule_id: i64,
    owner: i64,
    before: &str,
    version: i64,
    at: Timestamp,
) -> OutboundMessage {
    event(
        ch,
        schedule_id,
        Some(version),
        json!({"scheduleId": schedule_id, "ownerId": owner, "beforeState": before}),
        at,
    )
}

pub fn deleted(schedule_id: i64, owner: i64, version: i64, at: Timestamp) -> OutboundMessage {
    event(
        channel::SCHEDULE_DELETED,
        schedule_id,
        Some(version),
        json!({"scheduleId": schedule_id, "ownerId": owner}),
        at,
    )
}

pub fn secs(s: i64) -> SignedDuration {
    SignedDuration::from_secs(s)
}
