//! `pinit auth` as a separate process on PostgreSQL and RabbitMQ: `member.created` reaches the broker exactly
//! once per signup, even when the broker is down at signup time and comes back later.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lapin::options::{BasicGetOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use pinit_kernel::Backend;
use support::{Pinit, run};
use tokio::net::{TcpListener, TcpStream};

/// A TCP forwarder to RabbitMQ that can "take the broker down": while down it closes every connection,
/// new and existing.
struct FlakyBroker {
    port: u16,
    up: Arc<AtomicBool>,
    generation: Arc<tokio::sync::watch::Sender<u64>>,
}

impl FlakyBroker {
    async fn start(target: String) -> FlakyBroker {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(false));
        let (generation, _) = tokio::sync::watch::channel(0u64);
        let generation = Arc::new(generation);
        let (flag, gen_tx) = (up.clone(), generation.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !flag.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let mut cut = gen_tx.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        FlakyBroker {
            port,
            up,
            generation,
        }
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if !up {
            self.generation.send_modify(|g| *g += 1);
        }
    }

    fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }
}

/// Messages in `queue` whose payload has `nickname` (other tests may sign up members concurrently).
async fn drain(
    channel: &lapin::Channel,
    queue: &str,
    nickname: &str,
) -> Vec<(Option<String>, serde_json::Value)> {
    let mut found = Vec::new();
    while let Some(message) = channel
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        let payload: serde_json::Value = serde_json::from_slice(&message.delivery.data).unwrap();
        if payload["nickname"] == nickname {
            let id = message
                .delivery
                .properties
                .message_id()
                .as_ref()
                .map(|s| s.as_str().to_string());
            found.push((id, payload));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_created_survives_a_broker_outage_and_is_published_once() {
    let db = pinit_testkit::TestDb::new(Backend::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let (code, _, err) = run(
        &["keys", "generate", "--dir", keys.to_str().unwrap()],
        &[],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");

    // A probe queue bound where the task service's queue would be.
    let amqp = pinit_testkit::amqp_url();
    let conn = lapin::Connection::connect(&amqp, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let queue = format!("test.member.created.{}", uuid::Uuid::new_v4().simple());
    channel
        .queue_declare(
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
    pinit_messaging::amqp::declare_exchange(&channel, "auth.member.direct")
        .await
        .unwrap();
    channel
        .queue_bind(
            queue.as_str().into(),
            "auth.member.direct".into(),
            "member.created".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();

    let broker = FlakyBroker::start("127.0.0.1:5672".into()).await;
    let broker_url = broker.url();
    let db_url = db.url.expose().to_string();
    let auth = Pinit::start(
        &["auth", "--host", "127.0.0.1", "--port", "0"],
        &[
            ("PINIT_AUTH_DATABASE_URL", db_url.as_str()),
            ("PINIT_AMQP_URL", broker_url.as_str()),
            ("PINIT_KEYS_DIR", keys.to_str().unwrap()),
        ],
        dir.path(),
    );
    let client = pinit_testkit::client();
    // The broker is down. The service stays ready (the outbox buffers events) and signup works.
    let ready = client.get(auth.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let nickname = format!("o-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let signup = client
        .post(auth.url("/v0/signup"))
        .json(&serde_json::json!({"username": "outage-member", "password": "password-123", "nickname": nickname}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 200);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        drain(&channel, &queue, &nickname).await.is_empty(),
        "nothing can be published yet"
    );

    // The broker comes back: the event arrives, once.
    broker.set_up(true);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut received = Vec::new();
    while received.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        received.extend(drain(&channel, &queue, &nickname).await);
    }
    assert_eq!(received.len(), 1, "published after the outage");
    tokio::time::sleep(Duration::from_secs(3)).await;
    received.extend(drain(&channel, &queue, &nickname).await);
    assert_eq!(received.len(), 1, "and exactly once");
    let (message_id, payload) = &received[0];
    assert_eq!(
        message_id.as_deref(),
        payload["idempotentKey"].as_str(),
        "message_id = idempotentKey"
    );
    assert_eq!(payload["zoneId"], "Asia/Seoul");
    assert!(payload["memberId"].as_i64().unwrap() > 0);

    let status = tokio::task::spawn_blocking(move || auth.stop())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let _ = conn.close(200, "done".into()).await;
}
