//! Which context owns which path, on one origin.
//!
//! | path | service |
//! |---|---|
//! | `/v0/signup`, `/v0/login`, `/v0/refresh`, `/v0/logout`, `/v0/me`, `/v0/login/**`, `/v0/app-passwords/**`, `/v0/tokens/**`, `/v0/members/**`, `/.well-known/jwks.json` | auth |
//! | `/v0/push/**`, `/v0/webhooks`, `/v0/webhooks/**` | notification |
//! | `/v2/**` | task |
//! | `/dav`, `/dav/**` (every method; HTTP Basic with an app password, or a token), `/feeds/**` (GET, HEAD; public) | task ([`crate::calendar`]) |
//! | `/.well-known/caldav` | the gateway itself: `301 Location: /dav/` once signed in |
//! | `/health` | the gateway itself: every replica of every service, ready / not ready / unreachable since when |
//! | `/openapi.json`, `/docs` | the gateway itself: the merged API description and its reference page |
//! | `/`, `/static/**`, `/sw.js`, … | the gateway itself: the embedded web client (`web.rs`) |
//!
//! With `gateway.hosts.*` set, a request for one of those hosts goes to that service whatever its path (the
//! reference's deployment: `auth.…`, `api.…`, `notification.…`).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use pinit_kernel::SharedClock;
use serde_json::{Map, Value, json};
use tower_http::limit::RequestBodyLimitLayer;

use crate::api_tokens::ApiTokens;
use crate::calendar::{self, AppPasswords};
use crate::edge::{RateLimiter, cors, rate_limit, security_headers};
use crate::guard::{GuardState, Keys, guard};
use crate::proxy::{ReplicaReport, ReplicaState, Upstream, UpstreamUrlError};
use crate::{HostRouting, Settings};

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
            .map(|u| u.trusting_forwarded_for(settings.rate_limit.trust_forwarded_for))
        };
        Ok(Self {
            auth: make("auth", auth)?,
            task: make("task", task)?,
            notification: make("notification", notification)?,
        })
    }

    /// The three services' routers in this process (`pinit serve`), reached without any socket.
    pub fn in_process(
        settings: &Settings,
        auth: axum::Router,
        task: axum::Router,
        notification: axum::Router,
    ) -> Self {
        let make =
            |name, router| Upstream::in_process(name, router, settings.response_timeout.get());
        Self {
            auth: make("auth", auth),
            task: make("task", task),
            notification: make("notification", notification),
        }
    }

    pub(crate) fn all(&self) -> [&Upstream; 3] {
        [&self.auth, &self.task, &self.notification]
    }
}

/// What the gateway needs besides its upstreams.
pub struct Edge {
    pub settings: Settings,
    /// Origins allowed to call from a browser (`cors.origins`).
    pub cors_origins: Vec<String>,
    pub clock: SharedClock,
    /// Shared with the services: vouches for the member of each verified request (`pinit_kernel::identity`).
    pub identity: pinit_kernel::identity::IdentityKey,
}

/// The gateway's routes (its own `/healthz` and `/readyz` are added by the kernel).
///
/// Layers, outermost first: CORS (answers preflights), security headers, per-IP rate limit, the token guard
/// (strips `X-Member-Id`, verifies access tokens and API tokens — and app passwords on the CalDAV paths — sets it), host-based routing (when configured), path routing.
pub fn routes(upstreams: Upstreams, edge: Edge) -> Router {
    let settings = &edge.settings;
    let keys = Keys::new(upstreams.auth.clone(), settings.token_issuer.clone());
    let app_passwords = AppPasswords::new(
        upstreams.auth.clone(),
        edge.identity.clone(),
        edge.clock.clone(),
    );
    let api_tokens = ApiTokens::new(
        upstreams.auth.clone(),
        edge.identity.clone(),
        edge.clock.clone(),
    );
    let upstreams = Arc::new(upstreams);
    let to_auth =
        any(|State(u): State<Arc<Upstreams>>, r: Request| async move { u.auth.forward(r).await });
    let to_task =
        any(|State(u): State<Arc<Upstreams>>, r: Request| async move { u.task.forward(r).await });
    let to_feeds =
        get(|State(u): State<Arc<Upstreams>>, r: Request| async move { u.task.forward(r).await });
    let to_notification = any(|State(u): State<Arc<Upstreams>>, r: Request| async move {
        u.notification.forward(r).await
    });
    let hosts = Arc::new((settings.hosts.clone(), upstreams.clone()));
    let router = Router::new()
        .route("/v0/signup", to_auth.clone())
        .route("/v0/login", to_auth.clone())
        .route("/v0/login/{*rest}", to_auth.clone())
        .route("/v0/refresh", to_auth.clone())
        .route("/v0/logout", to_auth.clone())
        .route("/v0/me", to_auth.clone())
        .route("/v0/app-passwords", to_auth.clone())
        .route("/v0/app-passwords/{*rest}", to_auth.clone())
        .route("/v0/tokens", to_auth.clone())
        .route("/v0/tokens/{*rest}", to_auth.clone())
        .route("/v0/members/{*rest}", to_auth.clone())
        .route("/.well-known/jwks.json", to_auth)
        .route("/v0/push/{*rest}", to_notification.clone())
        .route("/v0/webhooks", to_notification.clone())
        .route("/v0/webhooks/{*rest}", to_notification)
        .route("/v2/{*rest}", to_task.clone())
        .route("/dav", to_task.clone())
        .route("/dav/", to_task.clone())
        .route("/dav/{*rest}", to_task)
        .route("/feeds/{*rest}", to_feeds)
        .route(calendar::WELL_KNOWN_CALDAV, any(calendar::well_known))
        .route("/health", get(system_health))
        .route("/openapi.json", get(crate::openapi::document))
        .with_state(upstreams)
        .merge(crate::openapi::docs_routes())
        .merge(crate::web::routes())
        .layer(middleware::from_fn_with_state(hosts, by_host))
        .layer(RequestBodyLimitLayer::new(settings.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            settings.max_body_bytes,
            refuse_large_bodies,
        ))
        .layer(middleware::from_fn_with_state(
            GuardState {
                keys,
                clock: edge.clock.clone(),
                identity: edge.identity.clone(),
                app_passwords,
                api_tokens,
                trust_forwarded_for: settings.rate_limit.trust_forwarded_for,
            },
            guard,
        ))
        .layer(middleware::from_fn_with_state(
            RateLimiter::new(settings.rate_limit.clone()),
            rate_limit,
        ))
        .layer(middleware::from_fn_with_state(
            settings.hsts,
            security_headers,
        ));
    match cors(&edge.cors_origins) {
        Some(layer) => router.layer(layer),
        None => router,
    }
}

/// A body over the limit is refused with 413 and the error body: a declared length before anything is read,
/// a streamed body without a length (chunked) once it passes the limit — read here, so that it is refused the
/// same way rather than failing later in the proxy.
async fn refuse_large_bodies(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let too_large = || {
        pinit_kernel::ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The request body is larger than {limit} bytes."),
        )
        .into_response()
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > limit as u64 => too_large(),
        Some(_) => next.run(request).await,
        None => {
            let (parts, body) = request.into_parts();
            match axum::body::to_bytes(body, limit).await {
                Ok(bytes) => {
                    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                        .await
                }
                Err(e) if is_length_limit(&e) => too_large(),
                Err(_) => {
                    pinit_kernel::ApiError::bad_request("The request body could not be read.")
                        .into_response()
                }
            }
        }
    }
}

/// Whether reading a body failed because it passed the limit.
fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// Host-based routing as the reference deploys it (`auth.…`, `api.…`, `notification.…` on one gateway):
/// a request whose host names a service goes there whatever its path.
async fn by_host(
    State(hosts): State<Arc<(HostRouting, Arc<Upstreams>)>>,
    request: Request,
    next: Next,
) -> Response {
    let (routing, upstreams) = &*hosts;
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| {
            h.rsplit_once(':')
                .map_or(h, |(name, _)| name)
                .to_ascii_lowercase()
        });
    let target = host.and_then(|h| {
        let is = |configured: &Option<String>| {
            configured
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(&h))
        };
        if is(&routing.auth) {
            Some(&upstreams.auth)
        } else if is(&routing.api) {
            Some(&upstreams.task)
        } else if is(&routing.notification) {
            Some(&upstreams.notification)
        } else {
            None
        }
    });
    match target {
        Some(upstream) => upstream.forward(request).await,
        None => next.run(request).await,
    }
}

/// `GET /health`: the gateway's view of every service, replica by replica. Each configured replica's `/readyz`
/// is asked directly (an in-process service is one replica, `"url": "in-process"`):
///
/// ```json
/// {"status": "degraded", "services": {"task": {"status": "ready", "detail": {…}, "replicas": [
///   {"url": "http://task-a:8080", "status": "ready", "since": "2026-12-06T08:00:00Z"},
///   {"url": "http://task-b:8080", "status": "unreachable", "since": "2026-12-06T08:10:03Z",
///    "error": "client error (Connect): tcp connect error: Connection refused (os error 111)"}]}, …}}
/// ```
///
/// A replica is `ready` (its `/readyz` answered 2xx), `not ready` (another status) or `unreachable` (no answer
/// within a second); `since` is when the gateway saw it change to that state. A service is `ready` (it is
/// served) while at least one replica is; its `detail` is the `/readyz` body of its first ready replica (else of
/// the first that answered). 200 `ok` only when every replica of every service is ready; 503 `degraded` as soon
/// as one is not, even if each service is still served.
async fn system_health(State(upstreams): State<Arc<Upstreams>>) -> Response {
    let checks = upstreams
        .all()
        .map(|u| async move { (u.name, u.readiness().await) });
    let results = futures::future::join_all(checks).await;
    let all_ready = results
        .iter()
        .flat_map(|(_, replicas)| replicas)
        .all(|r| r.state == ReplicaState::Ready);
    let services: Map<String, Value> = results
        .into_iter()
        .map(|(name, replicas)| (name.to_string(), service_health(replicas)))
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

/// One service's entry in `/health` (see [`system_health`]).
fn service_health(replicas: Vec<ReplicaReport>) -> Value {
    let served = replicas.iter().any(|r| r.state == ReplicaState::Ready);
    let detail = replicas
        .iter()
        .find(|r| r.state == ReplicaState::Ready)
        .or_else(|| replicas.iter().find(|r| !r.detail.is_null()))
        .map_or(Value::Null, |r| r.detail.clone());
    let replicas: Vec<Value> = replicas
        .into_iter()
        .map(|r| {
            let mut entry = json!({
                "url": r.url,
                "status": r.state.as_str(),
                "since": r.since.to_string(),
            });
            if let (Some(error), Some(object)) = (r.error, entry.as_object_mut()) {
                object.insert("error".into(), Value::String(error));
            }
            entry
        })
        .collect();
    json!({
        "status": if served { "ready" } else { "not ready" },
        "detail": detail,
        "replicas": replicas,
    })
}
