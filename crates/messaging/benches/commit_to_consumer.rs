//! Commit-to-consumer latency under a steady load (not a test; see `docs/benchmarks.md`).
//!
//! ```text
//! cargo bench -p pinit-messaging --bench commit_to_consumer            # both modes
//! PINIT_BENCH_RATE=1000 PINIT_BENCH_SECS=10 cargo bench -p pinit-messaging --bench commit_to_consumer
//! PINIT_BENCH_MODE=distributed PINIT_BENCH_NOTIFY_INTERVAL_MS=0 cargo bench …  # NOTIFY on every commit
//! PINIT_BENCH_TIMELINE=1 cargo bench …  # latency per second of the run, and where the slowest 1 % waited
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
use pinit_kernel::config::ConnectionUrl;
use pinit_kernel::db::Tx;
use pinit_kernel::{Db, SharedClock, SystemClock};
use pinit_messaging::{
    AmqpConsumer, AmqpTransport, ConsumerConfig, Handler, HandlerError, InProcessBus, Inbox,
    IncomingEvent, Outbox, OutgoingEvent, Relay, RelayConfig, Subscription, Transport,
};
use pinit_testkit::{Backend, TestDb};
use tokio_util::sync::CancellationToken;

/// The `pinit` binary's allocator, set up the same way, so that the figures are those of what ships.
#[global_allocator]
static GLOBAL: pinit_kernel::allocator::Allocator = pinit_kernel::allocator::Allocator;

/// Event id → instant: when its producer's commit returned, when the consumer's handler ran.
type Instants = Arc<Mutex<HashMap<String, Instant>>>;

/// The consumer's handler: applies the event (a row in the inbox transaction) and notes when. It never waits
/// for the producer's side, so measuring does not hold up the consumer.
#[derive(Clone)]
struct Timer {
    consumed: Instants,
}

/// One consumed event: its id, when its producer's commit returned, and how long until the handler ran.
#[derive(Clone)]
struct Sample {
    id: String,
    committed: Instant,
    latency: Duration,
}

impl Handler for Timer {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        sqlx::query("INSERT INTO applied (event_id) VALUES ($1)")
            .bind(&event.id)
            .execute(&mut **tx)
            .await?;
        self.consumed
            .lock()
            .unwrap()
            .entry(event.id.clone())
            .or_insert_with(Instant::now);
        Ok(())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `PINIT_BENCH_TIMELINE`: per second of commits, the median and worst latency (a stall shows apart from steady
/// queueing), and how much of the slowest 1 % was spent before the relay's confirm.
fn timeline(samples: &[Sample], started: Instant, published: &HashMap<String, Duration>) {
    let mut seconds: Vec<Vec<Duration>> = Vec::new();
    for s in samples {
        let second = s.committed.saturating_duration_since(started).as_secs() as usize;
        if seconds.len() <= second {
            seconds.resize(second + 1, Vec::new());
        }
        seconds[second].push(s.latency);
    }
    for (second, mut l) in seconds.into_iter().enumerate() {
        l.sort();
        eprintln!(
            "  second {second:>3}: {:>5} events, p50 {:>7.1} ms, max {:>7.1} ms",
            l.len(),
            ms(percentile(&l, 0.5)),
            ms(l.last().copied().unwrap_or_default())
        );
    }
    let mut by_latency: Vec<&Sample> = samples.iter().collect();
    by_latency.sort_by_key(|s| s.latency);
    let worst = &by_latency[by_latency.len() - by_latency.len() / 100..];
    let mut relay: Vec<Duration> = worst
        .iter()
        .filter_map(|s| published.get(&s.id).copied())
        .collect();
    relay.sort();
    if let Some(first) = worst.first() {
        eprintln!(
            "  slowest 1 % (from {:.1} ms): record → published p10 {:.1}, p50 {:.1}, p90 {:.1} ms",
            ms(first.latency),
            ms(percentile(&relay, 0.1)),
            ms(percentile(&relay, 0.5)),
            ms(percentile(&relay, 0.9)),
        );
    }
}

/// Deletes the run's queue, its dead-letter queue and its exchange (they are named per run), so that runs do
/// not pile them up on the broker.
async fn remove_topology(url: &ConnectionUrl, inbox: &Inbox, exchange: &str) {
    let result: Result<(), Box<dyn std::error::Error>> = async {
        let conn = pinit_messaging::amqp::connect(url, "pinit-bench-cleanup").await?;
        let ch = conn.create_channel().await?;
        pinit_messaging::amqp::delete_subscription(&ch, inbox.subscription()).await?;
        ch.exchange_delete(exchange.into(), Default::default())
            .await?;
        conn.close(200, "bye".into()).await?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        eprintln!("could not remove the run's queues and exchange: {e}");
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

async fn run(mode: &str, notify: Duration) {
    let clock: SharedClock = SystemClock::shared();
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
    let commits: Instants = Arc::default();
    let timer = Timer {
        consumed: Arc::default(),
    };
    let inbox = Inbox::new(
        Subscription::new(format!("bench.{}", uuid::Uuid::new_v4().simple()))
            .bind_key(&exchange, &key),
        consumer.clone(),
        clock.clone(),
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
    let outbox = Outbox::new(clock, notify);
    let relay = Relay::new(
        "bench",
        producer.clone(),
        transport,
        outbox.clone(),
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
        let (db, outbox, commits, exchange, key) = (
            producer.clone(),
            outbox.clone(),
            commits.clone(),
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
                let id = outbox.record(&mut tx, event).await.unwrap();
                tx.commit().await.unwrap();
                commits
                    .lock()
                    .unwrap()
                    .insert(id.to_string(), Instant::now());
                outbox.notify();
            }
        }));
    }
    for p in producers {
        p.await.unwrap();
    }
    let produced_in = started.elapsed();
    let total = (per_task * tasks) as usize;
    let deadline = Instant::now() + Duration::from_secs(60);
    while timer.consumed.lock().unwrap().len() < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    let _ = relay.await;
    if mode != "embedded" {
        remove_topology(&amqp_url, &inbox, &exchange).await;
    }
    let samples: Vec<Sample> = {
        let commits = commits.lock().unwrap();
        let consumed = timer.consumed.lock().unwrap();
        consumed
            .iter()
            .filter_map(|(id, at)| {
                let committed = *commits.get(id)?;
                Some(Sample {
                    id: id.clone(),
                    committed,
                    latency: at.saturating_duration_since(committed),
                })
            })
            .collect()
    };
    let mut lat: Vec<Duration> = samples.iter().map(|s| s.latency).collect();
    lat.sort();
    println!(
        "{mode:<11} {} events at {:.0}/s offered ({:.0}/s achieved): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        lat.len(),
        rate,
        total as f64 / produced_in.as_secs_f64(),
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.90)),
        ms(percentile(&lat, 0.99)),
        ms(lat.last().copied().unwrap_or_default()),
    );
    // The distribution, for the report's plot (`bench/run-all.sh` sets the file; pinit-bench's `plot-latency`
    // draws it): the latency at every half percentile, one row each.
    if let Ok(path) = std::env::var("PINIT_BENCH_CDF") {
        use std::io::Write as _;
        let rows: String = (0..=200)
            .map(|i| {
                let p = f64::from(i) / 200.0;
                format!("{mode},{:.1},{:.3}\n", p * 100.0, ms(percentile(&lat, p)))
            })
            .collect();
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(rows.as_bytes()));
        if let Err(e) = written {
            eprintln!("could not write the distribution to {path}: {e}");
        }
    }
    // Where the time went: record → RabbitMQ confirm (or bus hand-over), as the relay wrote it down. An event
    // can reach the consumer before its batch's last confirm, so this can exceed the whole latency.
    let published: HashMap<String, Duration> = sqlx::query_as::<_, (String, i64)>(
        "SELECT event_id, published_at_us - created_at_us FROM messaging_outbox \
         WHERE published_at_us IS NOT NULL",
    )
    .fetch_all(producer.pool())
    .await
    .unwrap_or_default()
    .into_iter()
    .map(|(id, us)| (id, Duration::from_micros(us.max(0) as u64)))
    .collect();
    let mut relay_lag: Vec<Duration> = published.values().copied().collect();
    relay_lag.sort();
    println!(
        "{mode:<11} of which record → published: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms ({} rows)",
        ms(percentile(&relay_lag, 0.50)),
        ms(percentile(&relay_lag, 0.90)),
        ms(percentile(&relay_lag, 0.99)),
        relay_lag.len()
    );
    if std::env::var_os("PINIT_BENCH_TIMELINE").is_some() {
        timeline(&samples, started, &published);
    }
    assert_eq!(lat.len(), total, "every event reached the consumer");
}

fn main() {
    pinit_kernel::allocator::return_freed_memory();
    // `PINIT_BENCH_LOG=warn` shows the relay's and consumer's warnings (publish failures, retries).
    if let Ok(level) = std::env::var("PINIT_BENCH_LOG") {
        let log = pinit_kernel::config::LogConfig {
            level,
            ..Default::default()
        };
        let _ = pinit_kernel::telemetry::init(&log, "pinit-bench");
    }
    // What `pinit` applies at start-up: the configured `relay.notify_min_interval` (default unless overridden).
    let notify = std::env::var("PINIT_BENCH_NOTIFY_INTERVAL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or_else(|| RelayConfig::default().notify_min_interval.get());
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
        rt.block_on(run(&mode, notify));
    }
}
