//! Liveness and readiness.
//!
//! * `GET /healthz` — liveness: the process is up and serving (200 while the listener accepts).
//! * `GET /readyz` — readiness: 200 only when the schema is migrated, every dependency answers, and the
//!   service is not shutting down; 503 with the failing checks otherwise.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

type CheckFn = dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync;

struct Check {
    name: &'static str,
    run: Box<CheckFn>,
}

struct Inner {
    service: &'static str,
    migrated: AtomicBool,
    checks: std::sync::RwLock<Vec<Arc<Check>>>,
    draining: CancellationToken,
}

/// A service's readiness: a migrations flag, dependency checks, and the drain signal.
#[derive(Clone)]
pub struct Readiness {
    inner: Arc<Inner>,
}

/// How long one dependency check may take before it counts as failed.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

impl Readiness {
    /// `draining` is cancelled when shutdown begins; the service then reports not ready.
    pub fn new(service: &'static str, draining: CancellationToken) -> Self {
        Self {
            inner: Arc::new(Inner {
                service,
                migrated: AtomicBool::new(false),
                checks: Default::default(),
                draining,
            }),
        }
    }

    /// Cancelled when shutdown begins.
    pub fn draining(&self) -> CancellationToken {
        self.inner.draining.clone()
    }

    /// Records that the schema is up to date.
    pub fn set_migrated(&self) {
        self.inner.migrated.store(true, Ordering::SeqCst);
    }

    /// Adds a dependency check (database ping, broker connection, …).
    pub fn add_check<F, Fut>(&self, name: &'static str, check: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let run: Box<CheckFn> = Box::new(move || Box::pin(check()));
        self.inner
            .checks
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::new(Check { name, run }));
    }

    /// Adds the standard database check.
    pub fn add_database(&self, db: crate::db::Db) {
        self.add_check("database", move || {
            let db = db.clone();
            async move { db.ping().await.map_err(|e| e.to_string()) }
        });
    }

    /// Evaluates every check; `(ready, detail)`.
    pub async fn evaluate(&self) -> (bool, Value) {
        let mut detail = Map::new();
        let mut ready = true;
        if self.inner.draining.is_cancelled() {
            ready = false;
            detail.insert("shutdown".into(), json!("draining"));
        }
        if self.inner.migrated.load(Ordering::SeqCst) {
            detail.insert("migrations".into(), json!("ok"));
        } else {
            ready = false;
            detail.insert("migrations".into(), json!("pending"));
        }
        let checks: Vec<Arc<Check>> = self
            .inner
            .checks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let results = futures::future::join_all(checks.iter().map(|c| async move {
            let outcome = match tokio::time::timeout(CHECK_TIMEOUT, (c.run)()).await {
                Ok(r) => r,
                Err(_) => Err(format!("no answer within {}s", CHECK_TIMEOUT.as_secs())),
            };
            (c.name, outcome)
        }))
        .await;
        for (name, outcome) in results {
            match outcome {
                Ok(()) => {
                    detail.insert(name.into(), json!("ok"));
                }
                Err(e) => {
                    ready = false;
                    detail.insert(name.into(), json!(e));
                }
            }
        }
        (ready, Value::Object(detail))
    }

    pub async fn is_ready(&self) -> bool {
        self.evaluate().await.0
    }

    pub fn service(&self) -> &'static str {
        self.inner.service
    }

    /// `/healthz` and `/readyz`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/healthz", get(liveness))
            .route("/readyz", get(readiness))
            .with_state(self.clone())
    }
}

async fn liveness(State(r): State<Readiness>) -> Json<Value> {
    Json(json!({"status": "ok", "service": r.service()}))
}

async fn readiness(State(r): State<Readiness>) -> Response {
    let (ready, checks) = r.evaluate().await;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "service": r.service(),
        "checks": checks,
    });
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn not_ready_until_migrated_and_checks_pass() {
        let token = CancellationToken::new();
        let r = Readiness::new("task", token.clone());
        let (ready, detail) = r.evaluate().await;
        assert!(!ready);
        assert_eq!(detail["migrations"], "pending");

        r.set_migrated();
        assert!(r.is_ready().await);

        r.add_check("broker", || async { Err("connection refused".to_string()) });
        let (ready, detail) = r.evaluate().await;
        assert!(!ready);
        assert_eq!(detail["broker"], "connection refused");
    }

    #[tokio::test]
    async fn draining_services_are_not_ready() {
        let token = CancellationToken::new();
        let r = Readiness::new("auth", token.clone());
        r.set_migrated();
        assert!(r.is_ready().await);
        token.cancel();
        let (ready, detail) = r.evaluate().await;
        assert!(!ready);
        assert_eq!(detail["shutdown"], "draining");
    }
}
