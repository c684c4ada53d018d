//! RabbitMQ end to end: relay → broker → consumer, on both databases. Every test has its own exchange and
//! queue names, so tests run in parallel against one broker.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pinit_messaging::amqp::lapin::options::{
    BasicPublishOptions, QueueBindOptions, QueueDeclareOptions,
};
use pinit_messaging::amqp::lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use pinit_messaging::amqp::lapin::{self, BasicProperties};
use pinit_messaging::{AmqpConsumer, AmqpTransport, Inbox, OutgoingEvent, Relay, Subscription};
use pinit_testkit::{Backend, both_backends};
use support::*;
use tokio_util::sync::CancellationToken;

struct Names {
    exchange: String,
    key: String,
    queue: String,
}

impl Names {
    fn new() -> Self {
        Self {
            exchange: unique("test.x.direct"),
            key: unique("thing.changed"),
            queue: unique("test.q"),
        }
    }
    fn subscription(&self) -> Subscription {
        Subscription::new(self.queue.clone()).bind_key(&self.exchange, &self.key)
    }
    async fn cleanup(&self) {
        cleanup(&self.subscription()).await;
    }
}

async fn publish_raw(ch: &lapin::Channel, names: &Names, body: &[u8], props: BasicProperties) {
    ch.basic_publish(
        names.exchange.as_str().into(),
        names.key.as_str().into(),
        BasicPublishOptions::default(),
        body,
        props,
    )
    .await
    .unwrap()
    .await
    .unwrap();
}

fn our_props(id: &str, agg: &str, version: i64) -> BasicProperties {
    let mut h = FieldTable::default();
    h.insert(
        "pinit-aggregate-type".into(),
        AMQPValue::LongString(LongString::from("thing")),
    );
    h.insert(
        "pinit-aggregate-id".into(),
        AMQPValue::LongString(LongString::from(agg)),
    );
    h.insert(
        "pinit-aggregate-version".into(),
        AMQPValue::LongLongInt(version),
    );
    BasicProperties::default()
        .with_message_id(id.into())
        .with_content_type("application/json".into())
        .with_headers(h)
}

async fn relay_to_consumer_in_aggregate_order_with_two_relays(backend: Backend) {
    let names = Names::new();
    let (_p, producer) = producer_db(backend).await;
    let (_c, consumer) = consumer_db(backend).await;
    let recorder = Recorder::default();
    // Four handlers at once; an aggregate's events still go one after another, in queue order.
    let config = pinit_messaging::ConsumerConfig {
        concurrency: 4,
        ..consumer_config()
    };
    let inbox = Inbox::new(
        names.subscription(),
        consumer.clone(),
        clock(),
        recorder.clone(),
        config,
    );
    let amqp = AmqpConsumer::new(amqp_url(), inbox);
    amqp.declare().await.unwrap();
    let stop = CancellationToken::new();
    let consuming = tokio::spawn(amqp.run(stop.clone()));

    let relay_stop = CancellationToken::new();
    let mut relays = Vec::new();
    for i in 0..2 {
        let transport = Arc::new(AmqpTransport::new(amqp_url(), format!("test-relay-{i}")));
        let relay = Relay::new(
            format!("r{i}"),
            producer.clone(),
            transport,
            outbox(),
            relay_config(),
        );
        relays.push(tokio::spawn(relay.run(relay_stop.clone())));
    }
    let mut producers = Vec::new();
    for a in 0..5 {
        let (db, ex, key) = (producer.clone(), names.exchange.clone(), names.key.clone());
        producers.push(tokio::spawn(async move {
            for v in 1..=20 {
                produce(&db, event(&ex, &key, &format!("a{a}"), v, v)).await;
            }
        }));
    }
    for p in producers {
        p.await.unwrap();
    }
    let all = eventually(Duration::from_secs(30), || async {
        count(&consumer, "SELECT COUNT(*) FROM applied").await >= 100
    })
    .await;
    relay_stop.cancel();
    for r in relays {
        r.await.unwrap().unwrap();
    }
    stop.cancel();
    consuming.await.unwrap().unwrap();
    names.cleanup().await;
    assert!(all, "all 100 events applied");
    let applied = applied_by_aggregate(&consumer).await;
    assert_eq!(applied.len(), 5);
    for (agg, versions) in applied {
        assert_eq!(
            versions,
            (1..=20).collect::<Vec<_>>(),
            "aggregate {agg} applied once each, in order"
        );
    }
    assert_eq!(
        count(
            &consumer,
            "SELECT COUNT(*) FROM messaging_inbox WHERE outcome = 'stale'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &producer,
            "SELECT COUNT(*) FROM messaging_outbox WHERE published_at_us IS NULL"
        )
        .await,
        0
    );
}

async fn duplicates_are_applied_once_and_stale_versions_skipped(backend: Backend) {
    let names = Names::new();
    let (_c, consumer) = consumer_db(backend).await;
    let recorder = Recorder::default();
    let config = pinit_messaging::ConsumerConfig {
        concurrency: 4,
        ..consumer_config()
    };
    let inbox = Inbox::new(
        names.subscription(),
        consumer.clone(),
        clock(),
        recorder.clone(),
        config,
    );
    let amqp = AmqpConsumer::new(amqp_url(), inbox);
    amqp.declare().await.unwrap();
    let (conn, ch) = amqp_channel().await;
    // v1, v1 again (same message id), v3, v2 (older than applied: stale), v3 again.
    for (id, v) in [("e1", 1), ("e1", 1), ("e3", 3), ("e2", 2), ("e3", 3)] {
        let body = format!(r#"{{"n":{v}}}"#);
        publish_raw(&ch, &names, body.as_bytes(), our_props(id, "s", v)).await;
    }
    let stop = CancellationToken::new();
    let consuming = tokio::spawn(amqp.run(stop.clone()));
    let settled = eventually(Duration::from_secs(10), || async {
        count(&consumer, "SELECT COUNT(*) FROM messaging_inbox").await == 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await; // let any stray redelivery show
    stop.cancel();
    consuming.await.unwrap().unwrap();
    let _ = conn.close(200, "bye".into()).await;
    names.cleanup().await;
    assert!(settled);
    assert_eq!(
        applied_by_aggregate(&consumer).await.remove("s").unwrap(),
        vec![1, 3],
        "duplicates once, stale skipped"
    );
    assert_eq!(
        recorder.calls.load(Ordering::SeqCst),
        2,
        "the handler never saw a duplicate or a stale event"
    );
    let stale: String =
        sqlx::query_scalar("SELECT outcome FROM messaging_inbox WHERE event_id = 'e2'")
            .fetch_one(consumer.pool())
            .await
            .unwrap();
    assert_eq!(stale, "stale");
}

async fn a_poison_message_is_dead_lettered_after_n_attempts_and_the_queue_keeps_flowing(
    backend: Backend,
) {
    let names = Names::new();
    let (_c, consumer) = consumer_db(backend).await;
    let recorder = Recorder::default();
    let inbox = Inbox::new(
        names.subscription(),
        consumer.clone(),
        clock(),
        recorder.clone(),
        consumer_config(),
    ); // max 3 attempts
    let amqp = AmqpConsumer::new(amqp_url(), inbox.clone());
    amqp.declare().await.unwrap();
    let (conn, ch) = amqp_channel().await;
    publish_raw(
        &ch,
        &names,
        br#"{"n":0,"fail":true}"#,
        our_props("poison", "p", 1),
    )
    .await;
    publish_raw(&ch, &names, b"{not json", our_props("garbage", "g", 1)).await;
    for i in 1..=5 {
        publish_raw(
            &ch,
            &names,
            format!(r#"{{"n":{i}}}"#).as_bytes(),
            our_props(&format!("ok{i}"), &format!("k{i}"), 1),
        )
        .await;
    }
    let stop = CancellationToken::new();
    let consuming = tokio::spawn(amqp.run(stop.clone()));
    let flowed = eventually(Duration::from_secs(10), || async {
        count(&consumer, "SELECT COUNT(*) FROM applied").await == 5
    })
    .await;
    assert!(flowed, "good messages behind the poison one are applied");
    let dlq = format!("{}.dlq", names.queue);
    let first = get_one(&ch, &dlq, Duration::from_secs(10))
        .await
        .expect("a dead letter");
    let second = get_one(&ch, &dlq, Duration::from_secs(10))
        .await
        .expect("a second dead letter");
    let mut ids = vec![
        first.properties.message_id().as_ref().unwrap().to_string(),
        second.properties.message_id().as_ref().unwrap().to_string(),
    ];
    ids.sort();
    assert_eq!(ids, vec!["garbage", "poison"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        get_one(&ch, &dlq, Duration::from_millis(100))
            .await
            .is_none(),
        "each dead letter once"
    );
    stop.cancel();
    consuming.await.unwrap().unwrap();
    let _ = conn.close(200, "bye".into()).await;
    names.cleanup().await;

    let poison_runs = recorder
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|id| *id == "poison")
        .count();
    assert_eq!(
        poison_runs, 3,
        "the failing handler ran max_attempts times, then stopped"
    );
    assert!(
        recorder
            .seen
            .lock()
            .unwrap()
            .iter()
            .all(|id| id != "garbage"),
        "an undecodable body never reaches the handler"
    );
    let dead = inbox.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 2);
    let poison = dead.iter().find(|d| d.event_id == "poison").unwrap();
    assert_eq!(poison.attempts, 3);
    assert!(
        poison.last_error.contains("always fails"),
        "{}",
        poison.last_error
    );
    let garbage = dead.iter().find(|d| d.event_id == "garbage").unwrap();
    assert_eq!(
        garbage.attempts, 1,
        "a permanent failure is dead-lettered at once"
    );
    assert_eq!(
        count(
            &consumer,
            "SELECT COUNT(*) FROM messaging_inbox WHERE event_id = 'poison'"
        )
        .await,
        0
    );
}

async fn messages_carry_the_specified_properties(backend: Backend) {
    let (_p, producer) = producer_db(backend).await;
    let (conn, ch) = amqp_channel().await;
    // A probe queue bound to the real exchange + routing key of `schedule.deleted`, under a unique key.
    let names = Names::new();
    ch.queue_declare(
        names.queue.as_str().into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    pinit_messaging::amqp::declare_exchange(&ch, &names.exchange)
        .await
        .unwrap();
    ch.queue_bind(
        names.queue.as_str().into(),
        names.exchange.as_str().into(),
        names.key.as_str().into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let occurred: jiff::Timestamp = "2026-02-08T01:00:00.25Z".parse().unwrap();
    // The shape of the published language's `ScheduleDeleted` (its crate checks that this body decodes).
    let payload = serde_json::json!({
        "scheduleId": 42,
        "ownerId": 7,
        "occurredAt": occurred.to_string(),
        "idempotentKey": "", // the outbox fills it in
    });
    let schedule_deleted = pinit_messaging::Channel {
        exchange: "task.schedule.direct",
        routing_key: "schedule.deleted",
        message: "ScheduleDeleted",
    };
    let mut ev =
        OutgoingEvent::new(schedule_deleted, "schedule", 42, 3, &payload, occurred).unwrap();
    ev.exchange = names.exchange.clone();
    ev.routing_key = names.key.clone();
    let id = produce(&producer, ev).await;
    let relay = Relay::new(
        "props",
        producer.clone(),
        Arc::new(AmqpTransport::new(amqp_url(), "test-props")),
        outbox(),
        relay_config(),
    );
    let round = relay.round().await.unwrap();
    assert_eq!(round.published, 1);
    let msg = get_one(&ch, &names.queue, Duration::from_secs(5))
        .await
        .expect("the published message");
    let _ = conn.close(200, "bye".into()).await;
    names.cleanup().await;

    let p = &msg.properties;
    assert_eq!(
        p.message_id().as_ref().map(ShortString::as_str),
        Some(id.to_string().as_str())
    );
    assert_eq!(
        p.content_type().as_ref().map(ShortString::as_str),
        Some("application/json")
    );
    assert_eq!(
        p.kind().as_ref().map(ShortString::as_str),
        Some("ScheduleDeleted")
    );
    assert_eq!(*p.timestamp(), Some(occurred.as_second() as u64));
    assert_eq!(*p.delivery_mode(), Some(2), "persistent");
    let headers = p.headers().as_ref().unwrap().inner();
    assert_eq!(
        headers.get(&ShortString::from("pinit-aggregate-version")),
        Some(&AMQPValue::LongLongInt(3))
    );
    let body: serde_json::Value = serde_json::from_slice(&msg.data).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "scheduleId": 42,
            "ownerId": 7,
            "occurredAt": "2026-02-08T01:00:00.25Z",
            "idempotentKey": id.to_string(),
            "aggregateVersion": 3
        })
    );
}

async fn reference_produced_messages_are_accepted_and_deduplicated(backend: Backend) {
    let names = Names::new();
    let (_c, consumer) = consumer_db(backend).await;
    let recorder = Recorder::default();
    let inbox = Inbox::new(
        names.subscription(),
        consumer.clone(),
        clock(),
        recorder.clone(),
        consumer_config(),
    );
    let amqp = AmqpConsumer::new(amqp_url(), inbox);
    amqp.declare().await.unwrap();
    let (conn, ch) = amqp_channel().await;
    // Spring AMQP style: no message_id, no aggregate headers, `__TypeId__`, a local date-time.
    let mut h = FieldTable::default();
    h.insert(
        "__TypeId__".into(),
        AMQPValue::LongString(LongString::from(
            "me.gg.pinit.infrastructure.member.MemberCreatedPayload",
        )),
    );
    let props = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_headers(h);
    let body =
        br#"{"id":9,"n":5,"memberId":5,"nickname":null,"occurredAt":"2025-12-15T12:34:56.123456"}"#;
    publish_raw(&ch, &names, body, props.clone()).await;
    publish_raw(&ch, &names, body, props).await; // the same message again (a redelivery by a reference relay)
    let stop = CancellationToken::new();
    let consuming = tokio::spawn(amqp.run(stop.clone()));
    let done = eventually(Duration::from_secs(10), || async {
        count(&consumer, "SELECT COUNT(*) FROM messaging_inbox").await == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.cancel();
    consuming.await.unwrap().unwrap();
    let _ = conn.close(200, "bye".into()).await;
    names.cleanup().await;
    assert!(done);
    assert_eq!(
        count(&consumer, "SELECT COUNT(*) FROM applied").await,
        1,
        "applied once"
    );
    assert_eq!(recorder.calls.load(Ordering::SeqCst), 1);
}

async fn an_unroutable_event_is_kept_in_the_unroutable_queue_and_settled_at_once(backend: Backend) {
    let names = Names::new();
    let unroutable = unique("test.unroutable");
    let (_p, producer) = producer_db(backend).await;
    let id = produce(&producer, event(&names.exchange, &names.key, "u", 1, 1)).await;
    let relay = Relay::new(
        "unroutable",
        producer.clone(),
        Arc::new(AmqpTransport::new(amqp_url(), "test-unroutable").with_unroutable(&unroutable)),
        outbox(),
        relay_config(),
    );
    // No queue is bound: the broker returns it, the relay keeps a copy in the unroutable queue and settles the row.
    let round = relay.round().await.unwrap();
    assert_eq!(
        (round.claimed, round.published, round.unrouted, round.failed),
        (1, 1, 1, 0)
    );
    let (attempts, published): (i64, Option<i64>) =
        sqlx::query_as("SELECT attempts, published_at_us FROM messaging_outbox")
            .fetch_one(producer.pool())
            .await
            .unwrap();
    assert_eq!(attempts, 0, "not retried");
    assert!(published.is_some());
    assert_eq!(relay.round().await.unwrap().claimed, 0);

    let (conn, ch) = amqp_channel().await;
    let kept = get_one(&ch, &unroutable, Duration::from_secs(5))
        .await
        .expect("a copy in the unroutable queue");
    assert_eq!(
        kept.properties.message_id().as_ref().map(|s| s.as_str()),
        Some(id.to_string().as_str())
    );
    assert_eq!(kept.routing_key.as_str(), names.key, "its own routing key");
    let original = kept.properties.headers().as_ref().and_then(|h| {
        h.inner()
            .get(&ShortString::from("pinit-original-exchange"))
            .cloned()
    });
    assert_eq!(
        original,
        Some(AMQPValue::LongString(names.exchange.as_str().into()))
    );
    let payload: serde_json::Value = serde_json::from_slice(&kept.data).unwrap();
    assert_eq!(payload["idempotentKey"], id.to_string());

    // With a queue bound, the next event is routed, not kept.
    pinit_messaging::amqp::declare_subscription(&ch, &names.subscription())
        .await
        .unwrap();
    let routed = produce(&producer, event(&names.exchange, &names.key, "u", 2, 2)).await;
    let round = relay.round().await.unwrap();
    assert_eq!((round.published, round.unrouted), (1, 0));
    let delivered = get_one(&ch, &names.queue, Duration::from_secs(5))
        .await
        .expect("routed to the bound queue");
    assert_eq!(
        delivered
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.as_str()),
        Some(routed.to_string().as_str())
    );
    assert!(
        get_one(&ch, &unroutable, Duration::from_millis(200))
            .await
            .is_none()
    );
    let _ = ch
        .queue_delete(unroutable.as_str().into(), Default::default())
        .await;
    let _ = ch
        .exchange_delete(unroutable.as_str().into(), Default::default())
        .await;
    let _ = conn.close(200, "bye".into()).await;
    names.cleanup().await;
}

async fn a_broker_outage_is_survived_by_relay_and_consumer(backend: Backend) {
    let names = Names::new();
    let (_p, producer) = producer_db(backend).await;
    let (_c, consumer) = consumer_db(backend).await;
    let proxy = Proxy::start(broker_addr()).await;
    let recorder = Recorder::default();
    let inbox = Inbox::new(
        names.subscription(),
        consumer.clone(),
        clock(),
        recorder.clone(),
        consumer_config(),
    );
    AmqpConsumer::new(amqp_url(), inbox.clone())
        .declare()
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let consuming = tokio::spawn(AmqpConsumer::new(proxy.url(), inbox).run(stop.clone()));
    let signal = outbox();
    let relay = Relay::new(
        "outage",
        producer.clone(),
        Arc::new(AmqpTransport::new(proxy.url(), "test-outage")),
        signal.clone(),
        relay_config(),
    );
    let running = tokio::spawn(relay.run(stop.clone()));

    produce(&producer, event(&names.exchange, &names.key, "o", 1, 1)).await;
    signal.notify();
    assert!(
        eventually(Duration::from_secs(10), || async {
            count(&consumer, "SELECT COUNT(*) FROM applied").await == 1
        })
        .await
    );

    proxy.set_up(false); // the broker is gone
    produce(&producer, event(&names.exchange, &names.key, "o", 2, 2)).await;
    signal.notify();
    let failing = eventually(Duration::from_secs(10), || async {
        count(
            &producer,
            "SELECT COALESCE(MAX(attempts), 0) FROM messaging_outbox",
        )
        .await
            >= 2
    })
    .await;
    assert!(
        failing,
        "publishing fails while the broker is unreachable, and is retried"
    );
    proxy.set_up(true);
    let recovered = eventually(Duration::from_secs(15), || async {
        count(&consumer, "SELECT COUNT(*) FROM applied").await == 2
    })
    .await;
    stop.cancel();
    running.await.unwrap().unwrap();
    consuming.await.unwrap().unwrap();
    names.cleanup().await;
    assert!(
        recovered,
        "relay and consumer reconnect and the event arrives"
    );
    assert_eq!(
        applied_by_aggregate(&consumer).await.remove("o").unwrap(),
        vec![1, 2]
    );
}

both_backends!(
    relay_to_consumer_in_aggregate_order_with_two_relays,
    duplicates_are_applied_once_and_stale_versions_skipped,
    a_poison_message_is_dead_lettered_after_n_attempts_and_the_queue_keeps_flowing,
    messages_carry_the_specified_properties,
    reference_produced_messages_are_accepted_and_deduplicated,
    an_unroutable_event_is_kept_in_the_unroutable_queue_and_settled_at_once,
    a_broker_outage_is_survived_by_relay_and_consumer,
);
