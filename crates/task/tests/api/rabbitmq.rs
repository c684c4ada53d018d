//! Task events end to end on RabbitMQ: use cases → outbox → relay → `task.schedule.direct` /
//! `task.task.direct` → a queue bound to every task routing key, on both databases.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pinit_contracts::events::channel;
use pinit_kernel::Backend;
use pinit_kernel::config::{ConnectionUrl, HumanDuration};
use pinit_messaging::amqp::lapin;
use pinit_messaging::amqp::lapin::options::{
    BasicGetOptions, QueueBindOptions, QueueDeclareOptions,
};
use pinit_messaging::amqp::lapin::types::FieldTable;
use pinit_messaging::{AmqpTransport, Outbox, Relay, RelayConfig};
use pinit_testkit::both_backends;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::spawn_app;

const TASK_CHANNELS: [pinit_contracts::events::Channel; 7] = [
    channel::SCHEDULE_TIME_UPCOMING_UPDATED,
    channel::SCHEDULE_DELETED,
    channel::SCHEDULE_STATE_STARTED,
    channel::SCHEDULE_STATE_CANCELED,
    channel::SCHEDULE_STATE_COMPLETED,
    channel::TASK_COMPLETED,
    channel::TASK_CANCELED,
];

struct Received {
    routing_key: String,
    exchange: String,
    message_id: Option<String>,
    content_type: Option<String>,
    payload: Value,
}

async fn events_reach_rabbitmq(backend: Backend) {
    let url = ConnectionUrl::parse(&pinit_testkit::amqp_url()).unwrap();
    let conn = pinit_messaging::amqp::connect(&url, "pinit-task-test")
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let queue = format!(
        "task.events.test.{}",
        std::process::id() as u64 * 10 + backend as u64
    );
    ch.queue_declare(
        queue.as_str().into(),
        QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    for c in TASK_CHANNELS {
        pinit_messaging::amqp::declare_exchange(&ch, c.exchange)
            .await
            .unwrap();
        ch.queue_bind(
            queue.as_str().into(),
            c.exchange.into(),
            c.routing_key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    }

    let app = spawn_app(backend).await;
    // A member id no other test uses, so messages of parallel tests can be told apart.
    let m = 7_000_000 + i64::from(std::process::id() % 100_000) * 10 + backend as i64;
    app.member(m, None).await;
    let t = app.task(m, "t", "2026-02-01", "Asia/Seoul").await;
    let s = app
        .post(
            m,
            &format!("/v2/tasks/{t}/schedules"),
            json!({"date": {"dateTime": "2026-02-01T10:00:00", "zoneId": "Asia/Seoul"}, "scheduleType": "DEEP_WORK"}),
        )
        .await
        .id();
    app.patch(
        m,
        &format!("/v2/schedules/{s}"),
        json!({"date": {"dateTime": "2026-02-01T11:00:00", "zoneId": "Asia/Seoul"}}),
    )
    .await
    .assert(200);
    for op in ["start", "suspend", "start", "complete", "cancel"] {
        app.advance_secs(60);
        app.run(m, s, op).await.assert(204);
    }
    app.post_empty(m, &format!("/v2/tasks/{t}/complete"))
        .await
        .assert(204);
    app.post_empty(m, &format!("/v2/tasks/{t}/reopen"))
        .await
        .assert(204);
    app.delete(m, &format!("/v2/schedules/{s}"))
        .await
        .assert(204);

    let stop = CancellationToken::new();
    let relay = Relay::new(
        "task",
        app.db.clone(),
        Arc::new(AmqpTransport::new(url, "pinit-task-relay-test")),
        Outbox::new(pinit_kernel::SystemClock::shared(), Duration::ZERO),
        RelayConfig {
            poll_interval: HumanDuration::from_millis(100),
            ..RelayConfig::default()
        },
    );
    let running = tokio::spawn(relay.run(stop.clone()));

    let mut got: Vec<Received> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.len() < 13 && Instant::now() < deadline {
        let next = ch
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap();
        let Some(message) = next else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let d: lapin::message::Delivery = message.delivery;
        let payload: Value = serde_json::from_slice(&d.data).expect("a JSON body");
        if payload["ownerId"] != m {
            continue; // another test's event on the shared exchanges
        }
        got.push(Received {
            routing_key: d.routing_key.to_string(),
            exchange: d.exchange.to_string(),
            message_id: d.properties.message_id().as_ref().map(|v| v.to_string()),
            content_type: d.properties.content_type().as_ref().map(|v| v.to_string()),
            payload,
        });
    }
    stop.cancel();
    running.await.unwrap().unwrap();

    // Per aggregate, in order (the relay keeps each aggregate's order).
    let mut by_aggregate: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    for r in &got {
        let aggregate = if r.payload.get("scheduleId").is_some() {
            format!("schedule/{}", r.payload["scheduleId"])
        } else {
            format!("task/{}", r.payload["taskId"])
        };
        by_aggregate
            .entry(aggregate)
            .or_default()
            .push((r.routing_key.clone(), r.payload["beforeState"].clone()));
        assert_eq!(
            r.message_id.as_deref(),
            r.payload["idempotentKey"].as_str(),
            "stable id"
        );
        assert_eq!(r.content_type.as_deref(), Some("application/json"));
        let expected_exchange = if r.routing_key.starts_with("task.") {
            "task.task.direct"
        } else {
            "task.schedule.direct"
        };
        assert_eq!(r.exchange, expected_exchange);
        assert!(r.payload["occurredAt"].is_string());
        assert!(r.payload["aggregateVersion"].is_i64());
    }
    let k = |key: &str, before: Value| (key.to_owned(), before);
    assert_eq!(
        by_aggregate.get(&format!("schedule/{s}")),
        Some(&vec![
            k("schedule.time.upcoming.updated", Value::Null),
            k("schedule.time.upcoming.updated", Value::Null),
            k("schedule.state.started", json!("NOT_STARTED")),
            k("schedule.state.started", json!("SUSPENDED")),
            k("schedule.state.completed", json!("IN_PROGRESS")),
            k("schedule.state.canceled", json!("COMPLETED")),
            k("schedule.state.completed", json!("NOT_STARTED")),
            k("schedule.state.canceled", json!("COMPLETED")),
            k("schedule.deleted", Value::Null),
        ]),
        "{:?}",
        got.iter().map(|r| &r.routing_key).collect::<Vec<_>>()
    );
    assert_eq!(
        by_aggregate.get(&format!("task/{t}")),
        Some(&vec![
            k("task.completed", Value::Null),
            k("task.canceled", Value::Null),
            k("task.completed", Value::Null),
            k("task.canceled", Value::Null),
        ])
    );
    let upcoming: Vec<&Value> = got
        .iter()
        .filter(|r| r.routing_key == "schedule.time.upcoming.updated")
        .map(|r| &r.payload["newUpcomingTime"])
        .collect();
    assert_eq!(
        upcoming,
        [
            &json!("2026-02-01T01:00:00Z"),
            &json!("2026-02-01T02:00:00Z")
        ]
    );
    let _ = conn.close(200, "bye".into()).await;
}

both_backends!(events_reach_rabbitmq);
