//! The in-process transport (`pinit serve`): producer and consumer in one process, each on its own SQLite
//! database, with the same outbox → inbox semantics as RabbitMQ.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pinit_messaging::{InProcessBus, Inbox, Relay, Subscription};
use pinit_testkit::Backend;
use support::*;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_across_two_sqlite_databases() {
    let (_p, producer) = producer_db(Backend::Sqlite).await;
    let (_c, consumer) = consumer_db(Backend::Sqlite).await;
    let recorder = Recorder::default();
    let bus = InProcessBus::new();
    let inbox = Inbox::new(
        Subscription::new("test.consumer").bind_key("x.direct", "x.done"),
        consumer.clone(),
        clock(),
        recorder.clone(),
        consumer_config(),
    );
    bus.subscribe(inbox.clone());
    bus.seal();
    let signal = outbox();
    let stop = CancellationToken::new();
    let relay = tokio::spawn(
        Relay::new(
            "task",
            producer.clone(),
            Arc::new(bus.clone()),
            signal.clone(),
            relay_config(),
        )
        .run(stop.clone()),
    );

    let mut producers = Vec::new();
    for a in 0..4 {
        let (db, signal) = (producer.clone(), signal.clone());
        producers.push(tokio::spawn(async move {
            for v in 1..=10 {
                produce(&db, event("x.direct", "x.done", &format!("a{a}"), v, v)).await;
                signal.notify();
            }
        }));
    }
    for p in producers {
        p.await.unwrap();
    }
    // An event nobody subscribes to is delivered to nobody: settled at once, never retried.
    produce(&producer, event("x.direct", "nobody.listens", "z", 1, 1)).await;
    // A poison event is dead-lettered into the consumer's failure table; the outbox row counts as delivered.
    let mut poison = event("x.direct", "x.done", "p", 1, 0);
    poison.payload = serde_json::json!({"n": 0, "fail": true});
    let poison_id = produce(&producer, poison).await;
    signal.notify();

    let done = eventually(Duration::from_secs(20), || async {
        count(&consumer, "SELECT COUNT(*) FROM applied").await == 40
            && count(
                &producer,
                "SELECT COUNT(*) FROM messaging_outbox WHERE published_at_us IS NULL",
            )
            .await
                == 0
    })
    .await;
    stop.cancel();
    relay.await.unwrap().unwrap();
    assert!(
        done,
        "all 40 events applied, the poison event and the one nobody listens to settled"
    );
    assert_eq!(
        count(
            &producer,
            "SELECT attempts FROM messaging_outbox WHERE routing_key = 'nobody.listens'",
        )
        .await,
        0,
        "delivered to nobody on its first publish, not retried"
    );
    for (agg, versions) in applied_by_aggregate(&consumer).await {
        assert_eq!(
            versions,
            (1..=10).collect::<Vec<_>>(),
            "aggregate {agg} in order, once each"
        );
    }
    let dead = inbox.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].event_id, poison_id.to_string());
    assert_eq!(dead[0].attempts, 3);
    let poison_runs = recorder
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|id| **id == poison_id.to_string())
        .count();
    assert_eq!(poison_runs, 3);
    assert_eq!(recorder.calls.load(Ordering::SeqCst), 43);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_delivery_and_mark_redelivers_and_the_inbox_drops_the_duplicate() {
    let (_p, producer) = producer_db(Backend::Sqlite).await;
    let (_c, consumer) = consumer_db(Backend::Sqlite).await;
    let recorder = Recorder::default();
    let bus = InProcessBus::new();
    bus.subscribe(Inbox::new(
        Subscription::new("test.consumer").bind_key("x.direct", "x.done"),
        consumer.clone(),
        clock(),
        recorder.clone(),
        consumer_config(),
    ));
    let id = produce(&producer, event("x.direct", "x.done", "c", 1, 1)).await;
    // The consumer committed, but the producer never marked the row (as if the process died in between).
    let relay = Relay::new(
        "task",
        producer.clone(),
        Arc::new(bus.clone()),
        outbox(),
        relay_config(),
    );
    use pinit_messaging::Transport;
    let row: (String, String) = sqlx::query_as("SELECT event_id, payload FROM messaging_outbox")
        .fetch_one(producer.pool())
        .await
        .unwrap();
    let msg = pinit_messaging::OutboundMessage {
        event_id: row.0,
        exchange: "x.direct".into(),
        routing_key: "x.done".into(),
        event_type: "TestEvent".into(),
        aggregate_type: "thing".into(),
        aggregate_id: "c".into(),
        aggregate_version: Some(1),
        occurred_at: jiff::Timestamp::now(),
        payload: row.1,
        attempts: 0,
        trace_context: None,
    };
    let results = bus
        .publish(std::slice::from_ref(&msg), Duration::from_secs(5))
        .await;
    assert_eq!(results, vec![Ok(pinit_messaging::Published::Routed)]);
    // After "restart" the relay publishes the row again.
    let round = relay.round().await.unwrap();
    assert_eq!(round.published, 1);
    assert_eq!(
        count(&consumer, "SELECT COUNT(*) FROM applied").await,
        1,
        "applied once"
    );
    assert_eq!(
        recorder.calls.load(Ordering::SeqCst),
        1,
        "the duplicate never reached the handler"
    );
    let seen: Vec<String> = recorder.seen.lock().unwrap().clone();
    assert_eq!(seen, vec![id.to_string()]);
}

/// Before the composition has subscribed every consumer, an event without a subscriber waits in the outbox
/// (its consumer may just not have subscribed yet); once the bus is sealed, one without a subscriber is
/// delivered to nobody at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_without_a_subscriber_waits_until_the_bus_is_sealed_then_goes_to_nobody() {
    let (_p, producer) = producer_db(Backend::Sqlite).await;
    let (_c, consumer) = consumer_db(Backend::Sqlite).await;
    let recorder = Recorder::default();
    let bus = InProcessBus::new();
    let relay = Relay::new(
        "task",
        producer.clone(),
        Arc::new(bus.clone()),
        outbox(),
        relay_config(),
    );
    let late = produce(&producer, event("x.direct", "x.done", "late", 1, 1)).await;
    let round = relay.round().await.unwrap();
    assert_eq!((round.claimed, round.failed, round.unrouted), (1, 1, 0));
    let error: Option<String> = sqlx::query_scalar("SELECT last_error FROM messaging_outbox")
        .fetch_one(producer.pool())
        .await
        .unwrap();
    assert!(error.unwrap_or_default().contains("unroutable"));

    // Its consumer subscribes late; the bus is sealed; the waiting event reaches it.
    bus.subscribe(Inbox::new(
        Subscription::new("test.consumer").bind_key("x.direct", "x.done"),
        consumer.clone(),
        clock(),
        recorder.clone(),
        consumer_config(),
    ));
    bus.seal();
    let delivered = eventually(Duration::from_secs(5), || async {
        relay.round().await.unwrap();
        count(&consumer, "SELECT COUNT(*) FROM applied").await == 1
    })
    .await;
    assert!(
        delivered,
        "the event that waited reached its late subscriber"
    );
    assert_eq!(
        recorder.seen.lock().unwrap().clone(),
        vec![late.to_string()]
    );

    // Sealed: an event nobody subscribes to is settled on its first publish, and never tried again.
    produce(&producer, event("x.direct", "nobody.listens", "z", 1, 1)).await;
    let round = relay.round().await.unwrap();
    assert_eq!(
        (round.claimed, round.published, round.unrouted, round.failed),
        (1, 1, 1, 0)
    );
    let (attempts, published): (i64, Option<i64>) = sqlx::query_as(
        "SELECT attempts, published_at_us FROM messaging_outbox WHERE routing_key = 'nobody.listens'",
    )
    .fetch_one(producer.pool())
    .await
    .unwrap();
    assert_eq!(attempts, 0);
    assert!(
        published.is_some(),
        "marked published (delivered to nobody)"
    );
    assert_eq!(
        relay.round().await.unwrap().claimed,
        0,
        "nothing left to try"
    );
    assert_eq!(recorder.calls.load(Ordering::SeqCst), 1);
}
