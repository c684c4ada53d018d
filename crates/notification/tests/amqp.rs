//! Through a real RabbitMQ: the task service's events (ours with ids and versions, and a reference-shaped one
//! without) reach the notification consumers, duplicates change nothing, and the armed notification is pushed
//! once. Each test uses its own exchange and queues so tests run in parallel against one broker.

mod support;

use std::time::Duration;

use pinit_contracts::events::ScheduleState;
use pinit_kernel::Backend;
use pinit_kernel::config::ConnectionUrl;
use pinit_messaging::amqp::lapin::BasicProperties;
use pinit_messaging::amqp::lapin::options::{BasicPublishOptions, ExchangeDeleteOptions};
use pinit_messaging::amqp::lapin::types::{AMQPValue, FieldTable, LongString};
use pinit_messaging::{AmqpConsumer, AmqpTransport, OutboundMessage, Subscription, Transport};
use pinit_notification::ScheduleChange;
use support::{App, id, secs, spawn_app, state_change, upcoming};
use tokio_util::sync::CancellationToken;

fn url() -> ConnectionUrl {
    ConnectionUrl::parse(&pinit_testkit::amqp_url()).unwrap()
}

fn on(exchange: &str, m: OutboundMessage) -> OutboundMessage {
    OutboundMessage {
        exchange: exchange.to_string(),
        ..m
    }
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while std::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn schedule_events_travel_through_rabbitmq(backend: Backend) {
    let app: App = spawn_app(backend).await;
    let suffix = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let exchange = format!("test.task.schedule.{suffix}");
    let stop = CancellationToken::new();
    let mut subscriptions = Vec::new();
    let mut running = Vec::new();
    for change in ScheduleChange::ALL {
        let queue = format!("{}.{suffix}", change.queue());
        let sub = Subscription::new(queue).bind_key(&exchange, change.channel().routing_key);
        let consumer = AmqpConsumer::new(
            url(),
            app.app
                .consumer(change, sub.clone(), &support::consumer_config()),
        );
        consumer.declare().await.expect("declare the topology");
        running.push(tokio::spawn(consumer.run(stop.clone())));
        subscriptions.push(sub);
    }

    let owner = id();
    app.subscribe_browser(owner, "laptop").await;
    let now = app.now();
    let (armed, started, legacy) = (id(), id(), id());
    // The reference's wire format has minute precision here.
    let legacy_start =
        jiff::Timestamp::from_second((now + secs(60)).as_second() / 60 * 60).unwrap();
    for (s, start) in [
        (armed, now + secs(60)),
        (started, now + secs(60)),
        (legacy, legacy_start),
    ] {
        app.directory
            .put(s, owner, "rabbit", start, ScheduleState::NotStarted);
    }
    let transport = AmqpTransport::new(url(), "notification-test-relay");
    let first = on(&exchange, upcoming(armed, owner, now + secs(60), 1, now));
    let batch = [
        first.clone(),
        on(&exchange, upcoming(started, owner, now + secs(60), 1, now)),
    ];
    for r in transport.publish(&batch, Duration::from_secs(5)).await {
        r.expect("confirmed");
    }
    // A re-publish of the same event, and the start of the second schedule.
    let again = [
        first.clone(),
        on(
            &exchange,
            state_change(
                pinit_contracts::events::channel::SCHEDULE_STATE_STARTED,
                started,
                owner,
                "NOT_STARTED",
                2,
                now + secs(1),
            ),
        ),
    ];
    for r in transport.publish(&again, Duration::from_secs(5)).await {
        r.expect("confirmed");
    }
    // A reference (Spring AMQP) producer: no message id, no aggregate headers, a local offset, seconds omitted.
    let conn = pinit_messaging::amqp::connect(&url(), "notification-test-raw")
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let mut headers = FieldTable::default();
    headers.insert(
        "__TypeId__".into(),
        AMQPValue::LongString(LongString::from(
            "me.gg.pinit.pinittask.infrastructure.events.ScheduleTimeUpcomingUpdatedMessage",
        )),
    );
    let start_kst = legacy_start
        .in_tz("Asia/Seoul")
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M%:z")
        .to_string();
    let body = serde_json::json!({
        "scheduleId": legacy, "ownerId": owner, "newUpcomingTime": start_kst,
        "occurredAt": "2026-02-08T00:59:12.345+09:00", "idempotentKey": "3f0d2c1e-reference"
    })
    .to_string();
    channel
        .basic_publish(
            exchange.as_str().into(),
            "schedule.time.upcoming.updated".into(),
            BasicPublishOptions::default(),
            body.as_bytes(),
            BasicProperties::default()
                .with_content_type("application/json".into())
                .with_headers(headers),
        )
        .await
        .unwrap()
        .await
        .unwrap();

    eventually("the events to be applied", || async {
        let rows = app.notifications().await;
        rows.len() == 2
            && rows.iter().any(|r| r.schedule_id.get() == armed)
            && rows.iter().any(|r| r.schedule_id.get() == legacy)
    })
    .await;
    let row = app.notification(armed).await.unwrap();
    assert_eq!(
        row.idempotent_key.as_str(),
        first.event_id,
        "the duplicate changed nothing"
    );
    let legacy_row = app.notification(legacy).await.unwrap();
    assert_eq!(legacy_row.idempotent_key.as_str(), "3f0d2c1e-reference");
    assert_eq!(
        legacy_row.start_at.as_microsecond(),
        legacy_start.as_microsecond()
    );
    assert!(app.notification(started).await.is_none());

    // Pushed once at the start.
    app.advance(secs(60));
    app.dispatcher().run_once().await.unwrap();
    let delivered = app.push.delivered_to("laptop");
    let ids: Vec<String> = delivered
        .iter()
        .map(|p| {
            p.payload.as_ref().unwrap()["scheduleId"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&armed.to_string()) && ids.contains(&legacy.to_string()));

    stop.cancel();
    for r in running {
        let _ = r.await;
    }
    for sub in &subscriptions {
        let _ = pinit_messaging::amqp::delete_subscription(&channel, sub).await;
    }
    let _ = channel
        .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
        .await;
    let _ = conn.close(200, "bye".into()).await;
}

pinit_testkit::both_backends!(schedule_events_travel_through_rabbitmq);
