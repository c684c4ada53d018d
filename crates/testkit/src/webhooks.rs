//! A webhook receiver for tests: an HTTP server on loopback that records every request it gets and answers as
//! scripted (a status, a `Retry-After`, a slow answer), and the independent check of what it received — the
//! Python `standardwebhooks` package (`crates/notification/tests/oracle`) verifying every signature.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::TestServer;

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Status(u16),
    /// A status with `Retry-After: <seconds>`.
    RetryAfter(u16, u64),
    /// 204 after this long (a receiver slower than the sender's timeout, or one to die in front of).
    Slow(Duration),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The path it was sent to.
    pub path: String,
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`.
    pub timestamp: String,
    /// `webhook-signature`.
    pub signature: String,
    pub content_type: String,
    pub body: String,
    /// The status it was (or, when the sender gave up first, would have been) answered with.
    pub answered: u16,
}

impl Received {
    /// The body, parsed.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    /// The payload's `type`.
    pub fn kind(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_string()
    }
}

#[derive(Default)]
struct Script {
    replies: VecDeque<Reply>,
    default: Option<Reply>,
    received: Vec<Received>,
}

/// A recording webhook receiver.
pub struct WebhookReceiver {
    server: TestServer,
    script: Arc<Mutex<Script>>,
}

impl WebhookReceiver {
    /// Listens on `127.0.0.1`; answers 204 unless scripted.
    pub async fn spawn() -> WebhookReceiver {
        let script = Arc::new(Mutex::new(Script::default()));
        let router = Router::new()
            .route("/{*path}", post(receive))
            .with_state(script.clone());
        WebhookReceiver {
            server: TestServer::spawn(router).await,
            script,
        }
    }

    /// A URL of the receiver (any path is accepted).
    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// The next answers, in order; after them the default.
    pub fn script(&self, replies: Vec<Reply>) {
        self.lock().replies.extend(replies);
    }

    /// The answer once the script is used up (204 unless set).
    pub fn answer_by_default(&self, reply: Reply) {
        self.lock().default = Some(reply);
    }

    /// Every request so far, in the order they arrived.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// The requests answered with a 2xx.
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.answered))
            .collect()
    }

    /// Waits until `n` requests were accepted (panics after `within`).
    pub async fn wait_accepted(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let accepted = self.accepted();
            if accepted.len() >= n {
                return accepted;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} webhooks accepted within {within:?}: {:#?}",
                accepted.len(),
                self.received()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn receive(
    State(script): State<Arc<Mutex<Script>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let reply = {
        let mut s = script.lock().unwrap_or_else(|p| p.into_inner());
        s.replies
            .pop_front()
            .or(s.default)
            .unwrap_or(Reply::Status(204))
    };
    let status = match reply {
        Reply::Status(s) | Reply::RetryAfter(s, _) => s,
        Reply::Slow(_) => 204,
    };
    script
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .received
        .push(Received {
            path: uri.path().to_string(),
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp"),
            signature: header("webhook-signature"),
            content_type: header("content-type"),
            body: String::from_utf8_lossy(&body).into_owned(),
            answered: status,
        });
    // Recorded first: a sender that gives up drops the connection, and this handler with it.
    if let Reply::Slow(after) = reply {
        tokio::time::sleep(after).await;
    }
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match reply {
        Reply::RetryAfter(_, secs) => (code, [("retry-after", secs.to_string())]).into_response(),
        _ => code.into_response(),
    }
}

/// The oracle's requirements (the `standardwebhooks` package, pinned).
pub fn oracle_requirements() -> PathBuf {
    oracle_dir().join("requirements.txt")
}

fn oracle_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../notification/tests/oracle")
}

/// What the oracle said of a set of requests.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Requests whose signature (and timestamp) the library accepted.
    pub verified: usize,
    /// Why the others were refused.
    pub failures: Vec<Value>,
    /// The verified bodies, parsed by the library.
    pub payloads: Vec<Value>,
}

/// Verifies `requests` signed with `secret` with Python's `standardwebhooks` (`None`, after saying why, when its
/// environment is missing outside CI).
pub fn verify(secret: &str, requests: &[Received]) -> Option<Verified> {
    let request = json!({
        "secret": secret,
        "requests": requests.iter().map(|r| json!({
            "headers": {
                "webhook-id": r.id,
                "webhook-timestamp": r.timestamp,
                "webhook-signature": r.signature,
            },
            "body": r.body,
        })).collect::<Vec<_>>(),
    });
    let answer = crate::python::run_json(
        &oracle_requirements(),
        &oracle_dir().join("webhook_oracle.py"),
        &request,
    )?;
    Some(Verified {
        verified: answer["verified"].as_u64().unwrap_or(0) as usize,
        failures: answer["failures"].as_array().cloned().unwrap_or_default(),
        payloads: answer["payloads"].as_array().cloned().unwrap_or_default(),
    })
}
