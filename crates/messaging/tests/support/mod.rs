//! Shared test fixtures: databases with the messaging tables, a recording handler, a recording transport,
//! RabbitMQ helpers with unique names, and a TCP proxy that can cut the broker connection.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use jiff::Timestamp;
use pinit_kernel::config::{ConnectionUrl, HumanDuration};
use pinit_kernel::db::Tx;
use pinit_kernel::{Db, MigrationSet, SharedClock, SystemClock};
use pinit_messaging::amqp::lapin;
use pinit_messaging::{
    BackoffConfig, ConsumerConfig, Handler, HandlerError, IncomingEvent, OutboundMessage, Outbox,
    OutgoingEvent, PublishError, Published, RelayConfig, Transport,
};
use pinit_testkit::{Backend, TestDb};
use serde_json::json;
use sqlx::migrate::Migrator;

static APP_PG: Migrator = sqlx::migrate!("tests/fixtures/postgres");
static APP_SQLITE: Migrator = sqlx::migrate!("tests/fixtures/sqlite");
/// Test tables: `thing` (a producer's state) and `applied` (a consumer's effects).
pub static APP: MigrationSet = MigrationSet {
    name: "messaging_test_app",
    postgres: &APP_PG,
    sqlite: &APP_SQLITE,
};

pub async fn producer_db(backend: Backend) -> (TestDb, Db) {
    TestDb::migrated(
        backend,
        "producer",
        &[&pinit_messaging::OUTBOX_MIGRATIONS, &APP],
    )
    .await
}

pub async fn consumer_db(backend: Backend) -> (TestDb, Db) {
    TestDb::migrated(
        backend,
        "consumer",
        &[&pinit_messaging::INBOX_MIGRATIONS, &APP],
    )
    .await
}

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}.{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

pub fn fast_backoff() -> BackoffConfig {
    BackoffConfig {
        initial: HumanDuration::from_millis(50),
        max: HumanDuration::from_millis(300),
        multiplier: 2.0,
    }
}

pub fn relay_config() -> RelayConfig {
    RelayConfig {
        poll_interval: HumanDuration::from_millis(200),
        batch_size: 100,
        claim_lease: HumanDuration::from_secs(5),
        publish_timeout: HumanDuration::from_secs(3),
        backoff: fast_backoff(),
        flush_timeout: HumanDuration::from_secs(2),
        ..RelayConfig::default()
    }
}

/// The clock of these tests' consumers and outboxes: the real one.
pub fn clock() -> SharedClock {
    SystemClock::shared()
}

/// An outbox on the real clock that notifies on every recording transaction.
pub fn outbox() -> Outbox {
    Outbox::new(clock(), Duration::ZERO)
}

pub fn consumer_config() -> ConsumerConfig {
    ConsumerConfig {
        prefetch: 50,
        concurrency: 4,
        max_attempts: 3,
        retry_backoff: fast_backoff(),
        reconnect_delay: HumanDuration::from_millis(200),
        ..ConsumerConfig::default()
    }
}

/// An event for aggregate `agg` at `version`, payload `{"n": n}`.
pub fn event(exchange: &str, routing_key: &str, agg: &str, version: i64, n: i64) -> OutgoingEvent {
    OutgoingEvent {
        exchange: exchange.into(),
        routing_key: routing_key.into(),
        event_type: "TestEvent".into(),
        aggregate_type: "thing".into(),
        aggregate_id: agg.into(),
        aggregate_version: Some(version),
        payload: json!({ "n": n }),
        occurred_at: Timestamp::now(),
    }
}

/// Records an event in its own transaction (with a `thing` row, as a use case would).
pub async fn produce(db: &Db, ev: OutgoingEvent) -> uuid::Uuid {
    let mut tx = db.begin().await.unwrap();
    sqlx::query("INSERT INTO thing (name) VALUES ($1)")
        .bind(format!(
            "{}#{}",
            ev.aggregate_id,
            ev.aggregate_version.unwrap_or(0)
        ))
        .execute(&mut *tx)
        .await
        .unwrap();
    let id = outbox().record(&mut tx, ev).await.unwrap();
    tx.commit().await.unwrap();
    id
}

pub async fn count(db: &Db, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db.pool()).await.unwrap()
}

/// A handler that writes `applied` rows; payloads with `"fail": true` always fail.
#[derive(Clone, Default)]
pub struct Recorder {
    pub calls: Arc<AtomicUsize>,
    pub seen: Arc<Mutex<Vec<String>>>,
}

impl Handler for Recorder {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.seen.lock().unwrap().push(event.id.clone());
        #[derive(serde::Deserialize)]
        struct P {
            n: i64,
            #[serde(default)]
            fail: bool,
        }
        let p: P = event.decode()?;
        if p.fail {
            return Err(HandlerError::transient("this event always fails"));
        }
        let (agg, version) = match &event.aggregate {
            Some(a) => (a.aggregate_id.clone(), a.version.unwrap_or(0)),
            None => (String::new(), 0),
        };
        sqlx::query(
            "INSERT INTO applied (event_id, aggregate_id, version, n) VALUES ($1, $2, $3, $4)",
        )
        .bind(&event.id)
        .bind(&agg)
        .bind(version)
        .bind(p.n)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// Applied versions per aggregate, in application order.
pub async fn applied_by_aggregate(db: &Db) -> HashMap<String, Vec<i64>> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT aggregate_id, version FROM applied ORDER BY seq")
            .fetch_all(db.pool())
            .await
            .unwrap();
    let mut map: HashMap<String, Vec<i64>> = HashMap::new();
    for (agg, v) in rows {
        map.entry(agg).or_default().push(v);
    }
    map
}

/// Polls `check` until it returns true or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A transport that records what it is given; it can be told to fail.
#[derive(Clone, Default)]
pub struct RecordingTransport {
    pub published: Arc<Mutex<Vec<(Instant, OutboundMessage)>>>,
    pub failing: Arc<AtomicBool>,
    pub attempts: Arc<AtomicUsize>,
}

impl Transport for RecordingTransport {
    fn name(&self) -> &'static str {
        "recording"
    }
    fn publish<'a>(
        &'a self,
        batch: &'a [OutboundMessage],
        _timeout: Duration,
    ) -> BoxFuture<'a, Vec<Result<Published, PublishError>>> {
        Box::pin(async move {
            self.attempts.fetch_add(batch.len(), Ordering::SeqCst);
            if self.failing.load(Ordering::SeqCst) {
                return vec![
                    Err(PublishError::Connection("broker down (test)".into()));
                    batch.len()
                ];
            }
            let mut p = self.published.lock().unwrap();
            batch
                .iter()
                .map(|m| {
                    p.push((Instant::now(), m.clone()));
                    Ok(Published::Routed)
                })
                .collect()
        })
    }
}

pub fn amqp_url() -> ConnectionUrl {
    ConnectionUrl::parse(&pinit_testkit::amqp_url()).unwrap()
}

pub async fn amqp_channel() -> (lapin::Connection, lapin::Channel) {
    let conn = pinit_messaging::amqp::connect(&amqp_url(), "pinit-test")
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    (conn, ch)
}

/// Pulls one message from `queue` (acknowledging it), waiting up to `within`.
pub async fn get_one(
    ch: &lapin::Channel,
    queue: &str,
    within: Duration,
) -> Option<lapin::message::Delivery> {
    let deadline = Instant::now() + within;
    loop {
        let got = ch
            .basic_get(
                queue.into(),
                lapin::options::BasicGetOptions { no_ack: true },
            )
            .await
            .unwrap();
        if let Some(m) = got {
            return Some(m.delivery);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Deletes a test's queue, dead-letter queue and exchanges (best effort).
pub async fn cleanup(sub: &pinit_messaging::Subscription) {
    let (conn, ch) = amqp_channel().await;
    let _ = pinit_messaging::amqp::delete_subscription(&ch, sub).await;
    for b in &sub.bindings {
        let _ = ch
            .exchange_delete(b.exchange.as_str().into(), Default::default())
            .await;
    }
    let _ = conn.close(200, "bye".into()).await;
}

/// A TCP proxy in front of the broker that can refuse and cut connections.
pub struct Proxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    generation: tokio::sync::watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let (generation, _) = tokio::sync::watch::channel(0u64);
        let gen_tx = generation.clone();
        let up2 = up.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let mut cut = gen_tx.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Proxy {
            addr,
            up,
            generation,
            task,
        }
    }

    /// The broker URL through this proxy.
    pub fn url(&self) -> ConnectionUrl {
        let mut u = amqp_url().url().clone();
        u.set_port(Some(self.addr.port())).unwrap();
        ConnectionUrl::parse(u.as_str()).unwrap()
    }

    /// Cuts every open connection.
    pub fn sever(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    /// Down: cuts everything and refuses new connections; up: accepts again.
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if !up {
            self.sever();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.sever();
        self.task.abort();
    }
}

pub fn broker_addr() -> SocketAddr {
    let u = amqp_url();
    let host = u.url().host_str().unwrap_or("127.0.0.1").to_string();
    let port = u.url().port().unwrap_or(5672);
    format!("{host}:{port}").parse().unwrap()
}
