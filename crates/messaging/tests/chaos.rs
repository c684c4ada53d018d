//! The acceptance run of the messaging spine: many events from concurrent transactions are applied exactly
//! once, in order per aggregate, while relays are killed at random points and the broker connection is cut.
//!
//! `PINIT_CHAOS_EVENTS` sets the number of events (default 10,000).

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use pinit_kernel::config::HumanDuration;
use pinit_messaging::{
    AmqpConsumer, AmqpTransport, ConsumerConfig, Inbox, Relay, RelayConfig, Subscription,
};
use pinit_testkit::{Backend, both_backends};
use support::*;
use tokio_util::sync::CancellationToken;

async fn fast_commits(test_db: &pinit_testkit::TestDb, db: pinit_kernel::Db) -> pinit_kernel::Db {
    if test_db.backend != Backend::Postgres {
        return db;
    }
    let name = test_db.url.url().path().trim_start_matches('/').to_string();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {name} SET synchronous_commit = off"
    )))
    .execute(db.pool())
    .await
    .unwrap();
    db.close().await;
    test_db.connect().await
}

fn random_below(n: u64) -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0 % n.max(1)
}

async fn exactly_once_while_relays_die_and_the_broker_connection_drops(backend: Backend) {
    let total: i64 = std::env::var("PINIT_CHAOS_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let aggregates: i64 = 100;
    let per_aggregate = total / aggregates;
    let total = per_aggregate * aggregates;
    // SQLite has one writer: more concurrent producers only add busy back-off, not throughput.
    let writers: i64 = if backend == Backend::Sqlite { 4 } else { 8 };
    let exchange = unique("chaos.x.direct");
    let key = unique("chaos.happened");
    let queue = unique("chaos.q");
    let (_p, producer) = producer_db(backend).await;
    let (_c, consumer) = consumer_db(backend).await;
    // A test database need not survive a power cut: skip PostgreSQL's per-commit flush (as SQLite's WAL
    // with synchronous=NORMAL already does), so 20,000 small transactions fit in a test's time.
    let (producer, consumer) = (
        fast_commits(&_p, producer).await,
        fast_commits(&_c, consumer).await,
    );
    let proxy = Proxy::start(broker_addr()).await;
    let started = Instant::now();

    let subscription = Subscription::new(queue.clone()).bind_key(&exchange, &key);
    let inbox = Inbox::new(
        subscription.clone(),
        consumer.clone(),
        clock(),
        Recorder::default(),
        // Four workers; an aggregate stays on one worker, in queue order: every event must be applied.
        ConsumerConfig {
            concurrency: 4,
            prefetch: 100,
            ..consumer_config()
        },
    );
    AmqpConsumer::new(amqp_url(), inbox.clone())
        .declare()
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let consuming = tokio::spawn(AmqpConsumer::new(proxy.url(), inbox).run(stop.clone()));

    // Producers: concurrent transactions; each aggregate belongs to one writer, versions 1..=per_aggregate.
    let signal = outbox();
    let mut producers = Vec::new();
    for w in 0..writers {
        let (db, signal, exchange, key) = (
            producer.clone(),
            signal.clone(),
            exchange.clone(),
            key.clone(),
        );
        producers.push(tokio::spawn(async move {
            for v in 1..=per_aggregate {
                for a in (w..aggregates).step_by(writers as usize) {
                    produce(&db, event(&exchange, &key, &format!("a{a}"), v, v)).await;
                }
                signal.notify();
            }
        }));
    }

    // Relays that die at random points (task aborted: no flush, claims left to expire), and connection cuts.
    let config = RelayConfig {
        claim_lease: HumanDuration::from_millis(1500),
        publish_timeout: HumanDuration::from_secs(1),
        poll_interval: HumanDuration::from_millis(100),
        batch_size: 100,
        ..relay_config()
    };
    let (mut kills, mut cuts) = (0, 0);
    let spawn_relay = |i: usize| {
        let transport = Arc::new(AmqpTransport::new(proxy.url(), format!("chaos-relay-{i}")));
        let relay = Relay::new(
            "chaos",
            producer.clone(),
            transport,
            signal.clone(),
            config.clone(),
        );
        tokio::spawn(relay.run(CancellationToken::new()))
    };
    let mut generation = 0;
    while producers.iter().any(|p| !p.is_finished()) || kills < 6 {
        let relay = spawn_relay(generation);
        generation += 1;
        tokio::time::sleep(Duration::from_millis(100 + random_below(400))).await;
        if random_below(3) == 0 {
            proxy.sever(); // relay and consumer lose the broker mid-stream
            cuts += 1;
        }
        tokio::time::sleep(Duration::from_millis(random_below(200))).await;
        relay.abort();
        let _ = relay.await;
        kills += 1;
    }
    for p in producers {
        p.await.unwrap();
    }
    let produced_in = started.elapsed();

    // One last relay that stays up drains the rest.
    let final_stop = CancellationToken::new();
    let transport = Arc::new(AmqpTransport::new(proxy.url(), "chaos-relay-final"));
    let last = tokio::spawn(
        Relay::new(
            "chaos",
            producer.clone(),
            transport,
            signal.clone(),
            config.clone(),
        )
        .run(final_stop.clone()),
    );
    let drained = eventually(Duration::from_secs(120), || async {
        count(&consumer, "SELECT COUNT(*) FROM applied").await >= total
            && count(
                &producer,
                "SELECT COUNT(*) FROM messaging_outbox WHERE published_at_us IS NULL",
            )
            .await
                == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await; // late duplicates, if any, would land now
    final_stop.cancel();
    last.await.unwrap().unwrap();
    stop.cancel();
    consuming.await.unwrap().unwrap();
    cleanup(&subscription).await;

    let applied = count(&consumer, "SELECT COUNT(*) FROM applied").await;
    let distinct = count(&consumer, "SELECT COUNT(DISTINCT event_id) FROM applied").await;
    let recorded = count(&consumer, "SELECT COUNT(*) FROM messaging_inbox").await;
    let stale = count(
        &consumer,
        "SELECT COUNT(*) FROM messaging_inbox WHERE outcome = 'stale'",
    )
    .await;
    let dead = count(
        &consumer,
        "SELECT COUNT(*) FROM messaging_inbox_failure WHERE dead_lettered_at_us IS NOT NULL",
    )
    .await;
    let republished = count(
        &producer,
        "SELECT CAST(COALESCE(SUM(attempts), 0) AS BIGINT) FROM messaging_outbox",
    )
    .await;
    eprintln!(
        "chaos[{backend}]: {total} events, {kills} relay kills, {cuts} connection cuts, {republished} failed publishes; \
         produced in {produced_in:?}, all applied after {:?}",
        started.elapsed()
    );
    assert!(drained, "drained: {applied} of {total} applied");
    assert_eq!(applied, total, "0 lost");
    assert_eq!(distinct, total, "0 applied twice");
    assert_eq!(recorded, total);
    assert_eq!(stale, 0, "nothing arrived out of order");
    assert_eq!(dead, 0);
    for (agg, versions) in applied_by_aggregate(&consumer).await {
        assert_eq!(
            versions,
            (1..=per_aggregate).collect::<Vec<_>>(),
            "aggregate {agg} applied in version order"
        );
    }
    assert!(kills >= 6);
}

both_backends!(exactly_once_while_relays_die_and_the_broker_connection_drops);
