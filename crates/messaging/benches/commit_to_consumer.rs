//! Commit-to-consumer latency under a steady load (not a test; see `docs/benchmarks.md`).
//!
//! ```text
//! cargo bench -p pinit-messaging --bench commit_to_consumer            # both modes
//! PINIT_BENCH_RATE=1000 PINIT_BENCH_SECS=10 cargo bench -p pinit-messaging --bench commit_to_consumer
//! PINIT_BENCH_MODE=distributed PINIT_BENCH_NOTIFY_INTERVAL_MS=0 cargo bench …  # NOTIFY on every commit
//! ```
//!
//! Producers commit events (each in its own transaction, outbox row + signal) at `PINIT_BENCH_RATE` events/s
//! for `PINIT_BENCH_SECS` seconds, spread over 200 aggregates. The latency of an event is the time from its
//! producer's commit returning to the consumer's handler running in the inbox transaction. Modes:
//! * distributed: PostgreSQL producer + PostgreSQL consumer, RabbitMQ in between (relay with confirms);
//! * embedded: SQLite producer + SQLite consumer, the in-process bus.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use pinit_kernel::Db;
use pinit_kernel::config::ConnectionUrl;
use pinit_kernel::db::Tx;
use pinit_messaging::{
    AmqpConsumer, AmqpTransport, ConsumerConfig, Handler, HandlerError, InProcessBus, Inbox,
    IncomingEvent, OutboxSignal, OutgoingEvent, Relay, RelayConfig, Subscription, Transport,
};
use pinit_testkit::{Backend, TestDb};
use tokio_util::sync::CancellationToken;

/// The `pinit` binary's allocator, set up the same way, so that the figures are those of what ships.
#[global_allocator]
static GLOBAL: pinit_kernel::allocator::Allocator = pinit_kernel::allocator::Allocator;

type Commits = Arc<Mutex<HashMap<String, Instant>>>;

#[derive(Clone)]
struct Timer {
    commits: Commits,
    latencies: Arc<Mutex<Vec<Duration>>>,
}

impl Handler for Timer {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        sqlx::query("INSERT INTO applied (event_id) VALUES ($1)")
            .bind(&event.id)
            .execute(&mut **tx)
            .await?;
        let now = Instant::now();
        // The producer records its commit instant right after commit returns; wait for it briefly.
        for _ in 0..100 {
            if let Some(at) = self.commits.lock().unwrap().get(&event.id).copied() {
                self.latencies
                    .lock()
                    .unwrap()
                    .push(now.saturating_duration_since(at));
                return Ok(());
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        Ok(())
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn databases(backend: Backend) -> ((TestDb, Db), (TestDb, Db)) {
    let producer = TestDb::migrated(
        backend,
        "bench-producer",
        &[&pinit_messaging::OUTBOX_MIGRATIONS],
    )
    .await;
    let consumer = TestDb::migrated(
        backend,
        "bench-consumer",
        &[&pinit_messaging::INBOX_MIGRATIONS],
    )
    .await;
    sqlx::query("CREATE TABLE applied (event_id TEXT PRIMARY KEY)")
        .execute(consumer.1.pool())
        .await
        .unwrap();
    (producer, consumer)
}

async fn run(mode: &str) {
    let rate = env("PINIT_BENCH_RATE", 1000);
    let secs = env("PINIT_BENCH_SECS", 10);
    let backend = if mode == "embedded" {
        Backend::Sqlite
    } else {
        Backend::Postgres
    };
    let ((_p, producer), (_c, consumer)) = databases(backend).await;
    let exchange = format!("bench.{}.direct", uuid::Uuid::new_v4().simple());
    let key = "bench.happened".to_string();
    let timer = Timer {
        commits: Arc::default(),
        latencies: Arc::default(),
    };
    let inbox = Inbox::new(
        Subscription::new(format!("bench.{}", uuid::Uuid::new_v4().simple()))
            .bind_key(&exchange, &key),
        consumer.clone(),
        timer.clone(),
        ConsumerConfig {
            concurrency: env("PINIT_BENCH_CONCURRENCY", 8) as usize,
            ..ConsumerConfig::default()
        },
    );
    let stop = CancellationToken::new();
    let amqp_url = ConnectionUrl::parse(&pinit_testkit::amqp_url()).unwrap();
    let transport: Arc<dyn Transport> = if mode == "embedded" {
        let bus = InProcessBus::new();
        bus.subscribe(inbox.clone());
        Arc::new(bus)
    } else {
        let amqp = AmqpConsumer::new(amqp_url.clone(), inbox.clone());
        amqp.declare().await.unwrap();
        tokio::spawn(amqp.run(stop.clone()));
        Arc::new(AmqpTransport::new(amqp_url.clone(), "bench-relay"))
    };
    let signal = OutboxSignal::new();
    let relay = Relay::new(
        "bench",
        producer.clone(),
        transport,
        signal.clone(),
        RelayConfig::default(),
    );
    let relay = tokio::spawn(relay.run(stop.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Producers: 8 tasks, each on its own tick, together `rate` events/s.
    let tasks = 8u64;
    let per_task = rate * secs / tasks;
    let interval = Duration::from_secs_f64(tasks as f64 / rate as f64);
    let started = Instant::now();
    let mut producers = Vec::new();
    for t in 0..tasks {
        let (db, signal, commits, exchange, key) = (
            producer.clone(),
            signal.clone(),
            timer.commits.clone(),
            exchange.clone(),
            key.clone(),
        );
        producers.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            for i in 0..per_task {
                tick.tick().await;
                let aggregate = (t * 25 + i % 25).to_string();
                let event = OutgoingEvent {
                    exchange: exchange.clone(),
                    routing_key: key.clone(),
                    event_type: "BenchEvent".into(),
                    aggregate_type: "bench".into(),
                    aggregate_id: aggregate,
                    aggregate_version: Some(i as i64 / 25 + 1),
                    payload: serde_json::json!({ "i": i }),
                    occurred_at: Timestamp::now(),
                };
                let mut tx = db.begin().await.unwrap();
                let id = pinit_messaging::outbox::record(&mut tx, event)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                commits
                    .lock()
                    .unwrap()
                    .insert(id.to_string(), Instant::now());
                signal.notify();
            }
        }));
    }
    for p in producers {
        p.await.unwrap();
    }
    let produced_in = started.elapsed();
    let total = (per_task * tasks) as usize;
    let deadline = Instant::now() + Duration::from_secs(60);
    while timer.latencies.lock().unwrap().len() < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    let _ = relay.await;
    let mut lat = timer.latencies.lock().unwrap().clone();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{mode:<11} {} events at {:.0}/s offered ({:.0}/s achieved): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        lat.len(),
        rate,
        total as f64 / produced_in.as_secs_f64(),
        ms(pct(0.50)),
        ms(pct(0.90)),
        ms(pct(0.99)),
        ms(lat.last().copied().unwrap_or_default()),
    );
    assert_eq!(lat.len(), total, "every event reached the consumer");
}

fn main() {
    pinit_kernel::allocator::return_freed_memory();
    // `PINIT_BENCH_LOG=warn` shows the relay's and consumer's warnings (publish failures, retries).
    if let Ok(level) = std::env::var("PINIT_BENCH_LOG") {
        let _ = pinit_kernel::telemetry::init(&pinit_kernel::config::LogConfig {
            level,
            ..Default::default()
        });
    }
    // What `pinit` applies at start-up: the configured `relay.notify_min_interval` (default unless overridden).
    let notify = std::env::var("PINIT_BENCH_NOTIFY_INTERVAL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or_else(|| RelayConfig::default().notify_min_interval.get());
    pinit_messaging::outbox::set_notify_min_interval(notify);
    eprintln!("NOTIFY at most every {notify:?} (0 = every commit)");
    let modes: Vec<String> = match std::env::var("PINIT_BENCH_MODE") {
        Ok(m) => vec![m],
        Err(_) => vec!["distributed".into(), "embedded".into()],
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for mode in modes {
        rt.block_on(run(&mode));
    }
}
