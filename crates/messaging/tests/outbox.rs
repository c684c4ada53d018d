//! The outbox and the relay against both databases (transport-independent behaviour).

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use pinit_kernel::config::HumanDuration;
use pinit_messaging::{Relay, RelayConfig};
use pinit_testkit::{Backend, both_backends};
use support::*;
use tokio_util::sync::CancellationToken;

async fn outbox_rows_commit_and_roll_back_with_the_state_change(backend: Backend) {
    let (_t, db) = producer_db(backend).await;

    let mut tx = db.begin().await.unwrap();
    sqlx::query("INSERT INTO thing (name) VALUES ('lost')")
        .execute(&mut *tx)
        .await
        .unwrap();
    outbox()
        .record(&mut tx, event("x.direct", "x.done", "a", 1, 1))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(count(&db, "SELECT COUNT(*) FROM thing").await, 0);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM messaging_outbox").await,
        0,
        "a rolled-back transaction records nothing"
    );

    let id = produce(&db, event("x.direct", "x.done", "a", 7, 1)).await;
    assert_eq!(count(&db, "SELECT COUNT(*) FROM thing").await, 1);
    let (event_id, payload, version): (String, String, Option<i64>) =
        sqlx::query_as("SELECT event_id, payload, aggregate_version FROM messaging_outbox")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(event_id, id.to_string());
    assert_eq!(id.get_version_num(), 7, "event ids are UUIDv7");
    assert_eq!(version, Some(7));
    let payload: serde_json::Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(
        payload["idempotentKey"],
        id.to_string(),
        "the stored payload carries the stable id"
    );
    assert_eq!(payload["aggregateVersion"], 7);
    assert_eq!(payload["n"], 1);
    let occurred = payload["occurredAt"].as_str().unwrap();
    assert!(
        occurred.ends_with('Z') && occurred.parse::<jiff::Timestamp>().is_ok(),
        "{occurred}"
    );

    // A non-object payload is refused before anything is written.
    let mut tx = db.begin().await.unwrap();
    let mut bad = event("x.direct", "x.done", "a", 8, 1);
    bad.payload = serde_json::json!([1, 2]);
    let err = outbox().record(&mut tx, bad).await.unwrap_err();
    assert!(err.to_string().contains("must be a JSON object"), "{err}");
}

async fn relay_publishes_each_aggregate_in_order_and_marks_rows(backend: Backend) {
    let (_t, db) = producer_db(backend).await;
    // Interleaved aggregates, 10 versions each.
    for v in 1..=10 {
        for agg in ["a", "b", "c"] {
            produce(&db, event("x.direct", "x.done", agg, v, v)).await;
        }
    }
    let transport = RecordingTransport::default();
    let relay = Relay::new(
        "test",
        db.clone(),
        Arc::new(transport.clone()),
        outbox(),
        relay_config(),
    );
    let mut rounds = 0;
    loop {
        let r = relay.round().await.unwrap();
        if r.claimed == 0 {
            break;
        }
        assert!(
            r.claimed <= 3,
            "at most one row per aggregate per round, got {r:?}"
        );
        rounds += 1;
    }
    assert_eq!(rounds, 10);
    let published = transport.published.lock().unwrap().clone();
    assert_eq!(published.len(), 30);
    for agg in ["a", "b", "c"] {
        let versions: Vec<i64> = published
            .iter()
            .filter(|(_, m)| m.aggregate_id == agg)
            .map(|(_, m)| m.aggregate_version.unwrap())
            .collect();
        assert_eq!(versions, (1..=10).collect::<Vec<_>>(), "aggregate {agg}");
    }
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM messaging_outbox WHERE published_at_us IS NULL"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM messaging_outbox WHERE claimed_by IS NOT NULL"
        )
        .await,
        0
    );

    // Retention: published rows older than the cut are deleted.
    let pruned = pinit_messaging::outbox::prune(&db, jiff::Timestamp::now().as_microsecond() + 1)
        .await
        .unwrap();
    assert_eq!(pruned, 30);
}

async fn two_relays_never_reorder_an_aggregate(backend: Backend) {
    let (_t, db) = producer_db(backend).await;
    let aggregates: Vec<String> = (0..8).map(|i| format!("agg{i}")).collect();
    let transport = RecordingTransport::default();
    let stop = CancellationToken::new();
    let mut relays = Vec::new();
    for i in 0..2 {
        let config = RelayConfig {
            batch_size: 3,
            poll_interval: HumanDuration::from_millis(5),
            ..relay_config()
        };
        let relay = Relay::new(
            format!("r{i}"),
            db.clone(),
            Arc::new(transport.clone()),
            outbox(),
            config,
        );
        relays.push(tokio::spawn(relay.run(stop.clone())));
    }
    // Produce while both relays run.
    let mut producers = Vec::new();
    for agg in aggregates.clone() {
        let db = db.clone();
        producers.push(tokio::spawn(async move {
            for v in 1..=15 {
                produce(&db, event("x.direct", "x.done", &agg, v, v)).await;
            }
        }));
    }
    for p in producers {
        p.await.unwrap();
    }
    let drained = eventually(Duration::from_secs(20), || async {
        count(
            &db,
            "SELECT COUNT(*) FROM messaging_outbox WHERE published_at_us IS NULL",
        )
        .await
            == 0
    })
    .await;
    stop.cancel();
    for r in relays {
        r.await.unwrap().unwrap();
    }
    assert!(drained, "both relays drain the outbox");
    let published = transport.published.lock().unwrap().clone();
    assert_eq!(
        published.len(),
        8 * 15,
        "each row published exactly once (no lease expired)"
    );
    for agg in &aggregates {
        let versions: Vec<i64> = published
            .iter()
            .filter(|(_, m)| &m.aggregate_id == agg)
            .map(|(_, m)| m.aggregate_version.unwrap())
            .collect();
        assert_eq!(
            versions,
            (1..=15).collect::<Vec<_>>(),
            "aggregate {agg} published in order"
        );
    }
}

async fn the_commit_signal_wakes_the_relay_at_once(backend: Backend) {
    let (_t, db) = producer_db(backend).await;
    let transport = RecordingTransport::default();
    let signal = outbox();
    let config = RelayConfig {
        poll_interval: HumanDuration::from_secs(30),
        metrics_interval: HumanDuration::from_secs(30),
        ..relay_config()
    };
    let stop = CancellationToken::new();
    let relay = tokio::spawn(
        Relay::new(
            "wake",
            db.clone(),
            Arc::new(transport.clone()),
            signal.clone(),
            config,
        )
        .run(stop.clone()),
    );
    tokio::time::sleep(Duration::from_millis(300)).await; // the relay is idle now, waiting for up to 30 s

    let mut latencies = Vec::new();
    for i in 0..5 {
        let mut tx = db.begin().await.unwrap();
        outbox()
            .record(&mut tx, event("x.direct", "x.done", "w", i, i))
            .await
            .unwrap();
        let committed = Instant::now();
        signal.commit(tx).await.unwrap();
        let seen = eventually(Duration::from_secs(5), || async {
            transport.published.lock().unwrap().len() > i as usize
        })
        .await;
        assert!(seen, "event {i} published");
        let at = transport.published.lock().unwrap()[i as usize].0;
        latencies.push(at.duration_since(committed));
    }
    // A round's results are written with the next round's claim; a relay gone idle has written them all.
    let settled = eventually(Duration::from_secs(5), || async {
        count(
            &db,
            "SELECT COUNT(*) FROM messaging_outbox WHERE published_at_us IS NULL OR claimed_by IS NOT NULL",
        )
        .await
            == 0
    })
    .await;
    assert!(settled, "an idle relay has marked every published row");
    stop.cancel();
    relay.await.unwrap().unwrap();
    let worst = latencies.iter().max().unwrap();
    assert!(
        *worst < Duration::from_secs(1),
        "woken right after commit, not by the 30 s poll: {latencies:?}"
    );
}

async fn a_failed_publish_is_retried_with_backoff_then_succeeds(backend: Backend) {
    let (_t, db) = producer_db(backend).await;
    let transport = RecordingTransport::default();
    transport.failing.store(true, Ordering::SeqCst);
    let signal = outbox();
    let stop = CancellationToken::new();
    let relay = tokio::spawn(
        Relay::new(
            "retry",
            db.clone(),
            Arc::new(transport.clone()),
            signal.clone(),
            relay_config(),
        )
        .run(stop.clone()),
    );
    produce(&db, event("x.direct", "x.done", "r", 1, 1)).await;
    signal.notify();
    let retried = eventually(Duration::from_secs(5), || async {
        count(&db, "SELECT attempts FROM messaging_outbox").await >= 3
    })
    .await;
    assert!(retried, "failed publishes are retried");
    let error: Option<String> = sqlx::query_scalar("SELECT last_error FROM messaging_outbox")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert!(
        error.unwrap_or_default().contains("broker down"),
        "the error is kept on the row"
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM messaging_outbox WHERE published_at_us IS NULL"
        )
        .await,
        1
    );
    // Backoff: with 50 ms … 300 ms delays, a second of failure is a handful of attempts, not hundreds.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let attempts = transport.attempts.load(Ordering::SeqCst);
    assert!(attempts < 20, "retries back off: {attempts} attempts");

    transport.failing.store(false, Ordering::SeqCst);
    let published = eventually(Duration::from_secs(5), || async {
        count(
            &db,
            "SELECT COUNT(*) FROM messaging_outbox WHERE published_at_us IS NULL",
        )
        .await
            == 0
    })
    .await;
    stop.cancel();
    relay.await.unwrap().unwrap();
    assert!(published, "published once the transport recovers");
    assert_eq!(transport.published.lock().unwrap().len(), 1);
}

async fn shutdown_flushes_pending_rows(backend: Backend) {
    let (_t, db) = producer_db(backend).await;
    let transport = RecordingTransport::default();
    let stop = CancellationToken::new();
    let config = RelayConfig {
        poll_interval: HumanDuration::from_secs(30),
        ..relay_config()
    };
    let relay = tokio::spawn(
        Relay::new(
            "flush",
            db.clone(),
            Arc::new(transport.clone()),
            outbox(),
            config,
        )
        .run(stop.clone()),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    for v in 1..=5 {
        produce(&db, event("x.direct", "x.done", "f", v, v)).await; // no signal: only the flush sends them
    }
    stop.cancel();
    relay.await.unwrap().unwrap();
    assert_eq!(
        transport.published.lock().unwrap().len(),
        5,
        "the flush on shutdown publishes what is pending"
    );
}

/// The operator's re-drive (docs/messaging.md, "Parked events").
const REDRIVE: &str = "UPDATE messaging_outbox SET parked_at_us = NULL, attempts = 0, next_attempt_at_us = 0 \
                       WHERE parked_at_us IS NOT NULL";

async fn a_row_failing_max_attempts_times_is_parked_left_out_of_the_backlog_and_re_drivable(
    backend: Backend,
) {
    let (_t, db) = producer_db(backend).await;
    let transport = RecordingTransport::default();
    transport.failing.store(true, Ordering::SeqCst);
    let relay = Relay::new(
        "park",
        db.clone(),
        Arc::new(transport.clone()),
        outbox(),
        RelayConfig {
            max_attempts: 3,
            ..relay_config()
        },
    );
    let first = produce(&db, event("x.direct", "x.done", "p", 1, 1)).await;
    let second = produce(&db, event("x.direct", "x.done", "p", 2, 2)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut parked = 0;
    while parked == 0 && Instant::now() < deadline {
        parked += relay.round().await.unwrap().parked;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(parked, 1, "parked after three failed publishes");
    assert_eq!(
        transport.attempts.load(Ordering::SeqCst),
        3,
        "three attempts of the oldest row; the next waited behind it"
    );
    let (event_id, attempts, error): (String, i64, Option<String>) = sqlx::query_as(
        "SELECT event_id, attempts, last_error FROM messaging_outbox WHERE parked_at_us IS NOT NULL",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(event_id, first.to_string());
    assert_eq!(attempts, 3);
    assert!(error.unwrap_or_default().contains("broker down"));
    let backlog = pinit_messaging::outbox::backlog(&db).await.unwrap();
    assert_eq!(
        (backlog.pending, backlog.parked),
        (1, 1),
        "the parked row is not backlog"
    );

    // The broker is back: the parked row is not retried, and no longer holds back its aggregate.
    transport.failing.store(false, Ordering::SeqCst);
    let round = relay.round().await.unwrap();
    assert_eq!((round.claimed, round.published), (1, 1));
    assert_eq!(relay.round().await.unwrap().claimed, 0);
    let sent: Vec<String> = transport
        .published
        .lock()
        .unwrap()
        .iter()
        .map(|(_, m)| m.event_id.clone())
        .collect();
    assert_eq!(sent, vec![second.to_string()]);
    let backlog = pinit_messaging::outbox::backlog(&db).await.unwrap();
    assert_eq!((backlog.pending, backlog.parked), (0, 1));
    // Published rows are pruned, parked ones kept.
    pinit_messaging::outbox::prune(&db, jiff::Timestamp::now().as_microsecond() + 1)
        .await
        .unwrap();
    assert_eq!(count(&db, "SELECT COUNT(*) FROM messaging_outbox").await, 1);

    // Re-driven by an operator: published on the next round.
    sqlx::query(REDRIVE).execute(db.pool()).await.unwrap();
    let round = relay.round().await.unwrap();
    assert_eq!((round.claimed, round.published), (1, 1));
    let backlog = pinit_messaging::outbox::backlog(&db).await.unwrap();
    assert_eq!((backlog.pending, backlog.parked), (0, 0));
    assert_eq!(transport.published.lock().unwrap().len(), 2);
}

both_backends!(
    a_row_failing_max_attempts_times_is_parked_left_out_of_the_backlog_and_re_drivable,
    outbox_rows_commit_and_roll_back_with_the_state_change,
    relay_publishes_each_aggregate_in_order_and_marks_rows,
    two_relays_never_reorder_an_aggregate,
    the_commit_signal_wakes_the_relay_at_once,
    a_failed_publish_is_retried_with_backoff_then_succeeds,
    shutdown_flushes_pending_rows,
);

/// Commits in another process announce themselves with PostgreSQL NOTIFY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_notify_wakes_a_relay_in_another_process() {
    let (test_db, db) = producer_db(Backend::Postgres).await;
    let transport = RecordingTransport::default();
    let config = RelayConfig {
        poll_interval: HumanDuration::from_secs(30),
        metrics_interval: HumanDuration::from_secs(30),
        ..relay_config()
    };
    let stop = CancellationToken::new();
    // This relay's own signal is never poked: only NOTIFY can wake it.
    let relay = Relay::new(
        "listen",
        db.clone(),
        Arc::new(transport.clone()),
        outbox(),
        config,
    )
    .listen_postgres(test_db.url.clone());
    let handle = tokio::spawn(relay.run(stop.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let other_process = test_db.connect().await;
    let committed = Instant::now();
    produce(&other_process, event("x.direct", "x.done", "n", 1, 1)).await;
    let seen = eventually(Duration::from_secs(5), || async {
        !transport.published.lock().unwrap().is_empty()
    })
    .await;
    let latency = committed.elapsed();
    stop.cancel();
    handle.await.unwrap().unwrap();
    assert!(
        seen && latency < Duration::from_secs(2),
        "NOTIFY woke the relay after {latency:?}"
    );
}
