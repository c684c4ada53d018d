//! Which context owns which path, on one origin.
//!
//! | path | service |
//! |---|---|
//! | `/v0/signup`, `/v0/login`, `/v0/refresh`, `/v0/logout`, `/v0/me`, `/v0/login/**`, `/.well-known/jwks.json` | auth |
//! | `/v0/push/**` | notification |
//! | `/v2/**` | task |
//! | `/health` | the gateway itself: every service's readiness |

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Map, Value, json};
use tower_http::limit::RequestBodyLimitLayer;

use crate::Settings;
use crate::proxy::{Upstream, UpstreamUrlError};

/// The three services behind the gateway.
#[derive(Clone)]
pub struct Upstreams {
    pub auth: Upstream,
    pub task: Upstream,
    pub notification: Upstream,
}

impl Upstreams {
    pub fn new(
        settings: &Settings,
        auth: &str,
        task: &str,
        notification: &str,
    ) -> Result<Self, UpstreamUrlError> {
        let make = |name, url| {
            Upstream::new(
                name,
                url,
                settings.connect_timeout.get(),
                settings.response_timeout.get(),
            )
        };
        Ok(Self {
            auth: make("auth", auth)?,
            task: make("task", task)?,
            notification: make("notification", notification)?,
        })
    }

    fn all(&self) -> [&Upstream; 3] {
        [&self.auth, &self.task, &self.notification]
    }
}

/// The gateway's routes (its own `/healthz` and `/readyz` are added by the kernel).
pub fn routes(upstreams: Upstreams, settings: &Settings) -> Router {
    let upstreams = Arc::new(upstreams);
    let to_auth =
        any(|State(u): State<Arc<Upstreams>>, r: Request| async move { u.auth.forward(r).await });
    let to_task =
        any(|State(u): State<Arc<Upstreams>>, r: Request| async move { u.task.forward(r).await });
    let to_notification = any(|State(u): State<Arc<Upstreams>>, r: Request| async move {
        u.notification.forward(r).await
    });
    Router::new()
        .route("/v0/signup", to_auth.clone())
        .route("/v0/login", to_auth.clone())
        .route("/v0/login/{*rest}", to_auth.clone())
        .route("/v0/refresh", to_auth.clone())
        .route("/v0/logout", to_auth.clone())
        .route("/v0/me", to_auth.clone())
        .route("/.well-known/jwks.json", to_auth)
        .route("/v0/push/{*rest}", to_notification)
        .route("/v2/{*rest}", to_task)
        .route("/health", get(system_health))
        .layer(RequestBodyLimitLayer::new(settings.max_body_bytes))
        .with_state(upstreams)
}

/// `GET /health`: the readiness of every service, through the gateway. 200 when all are ready.
async fn system_health(State(upstreams): State<Arc<Upstreams>>) -> Response {
    let checks = upstreams.all().map(|u| async move {
        let request = Request::get("/readyz")
            .body(axum::body::Body::empty())
            .expect("static request");
        let response = u.forward(request).await;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .unwrap_or(Value::Null);
        (u.name, status, body)
    });
    let results = futures::future::join_all(checks).await;
    let all_ready = results
        .iter()
        .all(|(_, status, _)| *status == StatusCode::OK);
    let services: Map<String, Value> = results
        .into_iter()
        .map(|(name, status, body)| {
            let state = if status == StatusCode::OK {
                "ready"
            } else {
                "not ready"
            };
            (name.to_string(), json!({"status": state, "detail": body}))
        })
        .collect();
    let code = if all_ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        axum::Json(
            json!({"status": if all_ready { "ok" } else { "degraded" }, "services": services}),
        ),
    )
        .into_response()
}
