//! The W3C trace context goes with an event: stored in the outbox row by the transaction that records it, sent
//! as the AMQP headers `traceparent`/`tracestate` (or handed over in-process), and seen by the consumer's
//! handler — by whichever relay publishes the row later. These tests run without an exporter: the context
//! still goes through unchanged (docs/observability.md).

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lapin::options::{QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use pinit_kernel::db::Tx;
use pinit_kernel::trace::{self, TraceContext};
use pinit_messaging::amqp::{AmqpTransport, lapin};
use pinit_messaging::{
    Handler, HandlerError, InProcessBus, Inbox, IncomingEvent, Relay, Subscription,
};
use pinit_testkit::Backend;
use support::*;
use tokio_util::sync::CancellationToken;

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn parent() -> TraceContext {
    TraceContext::new(PARENT, Some("pinit=test")).unwrap()
}

/// An event id, the context the event carried and the one its handler ran in.
type Handled = (String, Option<TraceContext>, Option<TraceContext>);

/// Remembers what each handled event carried.
#[derive(Clone, Default)]
struct Seen {
    events: Arc<Mutex<Vec<Handled>>>,
}

impl Handler for Seen {
    async fn handle(&self, _tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        self.events.lock().unwrap().push((
            event.id.clone(),
            event.trace_context.clone(),
            trace::incoming(),
        ));
        Ok(())
    }
}

async fn in_process(backend: Backend) {
    let (_p, producer) = producer_db(backend).await;
    let (_c, consumer) = consumer_db(backend).await;
    let seen = Seen::default();
    let bus = InProcessBus::new();
    bus.subscribe(Inbox::new(
        Subscription::new("trace.consumer").bind_key("x.direct", "x.traced"),
        consumer.clone(),
        clock(),
        seen.clone(),
        consumer_config(),
    ));
    let traced = trace::within(
        Some(parent()),
        produce(&producer, event("x.direct", "x.traced", "a", 1, 1)),
    )
    .await;
    let untraced = produce(&producer, event("x.direct", "x.traced", "b", 1, 2)).await;
    let stored: Option<String> =
        sqlx::query_scalar("SELECT trace_context FROM messaging_outbox WHERE event_id = $1")
            .bind(traced.to_string())
            .fetch_one(producer.pool())
            .await
            .unwrap();
    assert_eq!(
        stored.as_deref().and_then(TraceContext::from_stored),
        Some(parent())
    );

    // A relay started after the events were recorded publishes them with their stored context.
    let stop = CancellationToken::new();
    let relay = tokio::spawn(
        Relay::new(
            "trace",
            producer.clone(),
            Arc::new(bus.clone()),
            outbox(),
            relay_config(),
        )
        .run(stop.clone()),
    );
    let delivered = eventually(Duration::from_secs(10), || async {
        seen.events.lock().unwrap().len() == 2
    })
    .await;
    stop.cancel();
    relay.await.unwrap().unwrap();
    assert!(delivered, "both events delivered");
    let events = seen.events.lock().unwrap().clone();
    let of = |id: uuid::Uuid| {
        events
            .iter()
            .find(|(e, _, _)| *e == id.to_string())
            .cloned()
            .unwrap()
    };
    let (_, carried, handled_in) = of(traced);
    assert_eq!(carried, Some(parent()), "the event carries its context");
    assert_eq!(handled_in, Some(parent()), "the handler runs in it");
    let (_, carried, handled_in) = of(untraced);
    assert_eq!((carried, handled_in), (None, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_delivery_carries_the_trace_context_on_sqlite() {
    in_process(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_delivery_carries_the_trace_context_on_postgres() {
    in_process(Backend::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_messages_carry_the_trace_context_as_headers() {
    let (_p, producer) = producer_db(Backend::Postgres).await;
    let (conn, ch) = amqp_channel().await;
    let (exchange, key, queue) = (
        unique("test.trace.direct"),
        unique("thing.traced"),
        unique("test.trace.q"),
    );
    ch.queue_declare(
        queue.as_str().into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    pinit_messaging::amqp::declare_exchange(&ch, &exchange)
        .await
        .unwrap();
    ch.queue_bind(
        queue.as_str().into(),
        exchange.as_str().into(),
        key.as_str().into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let id = trace::within(
        Some(parent()),
        produce(&producer, event(&exchange, &key, "a", 1, 1)),
    )
    .await;
    let relay = Relay::new(
        "trace",
        producer.clone(),
        Arc::new(AmqpTransport::new(amqp_url(), "test-trace")),
        outbox(),
        relay_config(),
    );
    assert_eq!(relay.round().await.unwrap().published, 1);
    let message = get_one(&ch, &queue, Duration::from_secs(5))
        .await
        .expect("the published message");
    let _ = ch
        .queue_delete(queue.as_str().into(), Default::default())
        .await;
    let _ = ch
        .exchange_delete(exchange.as_str().into(), Default::default())
        .await;
    let _ = conn.close(200, "bye".into()).await;

    let headers = message.properties.headers().clone().unwrap_or_default();
    let header = |name: &str| match headers.inner().get(&ShortString::from(name)) {
        Some(AMQPValue::LongString(s)) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        _ => None,
    };
    assert_eq!(header("traceparent").as_deref(), Some(PARENT));
    assert_eq!(header("tracestate").as_deref(), Some("pinit=test"));
    let incoming = pinit_messaging::amqp::incoming(&message);
    assert_eq!(incoming.id, id.to_string());
    assert_eq!(incoming.trace_context, Some(parent()));
}
