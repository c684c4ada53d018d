//! The HTTP edge of a service: the standard middleware stack, listeners and graceful serving.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodRouter, get};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::clock::SharedClock;
use crate::error::{self, ErrorRendering, ErrorStyle};
use crate::health::Readiness;
use crate::trace::{self, TraceContext};

/// The correlation header, generated when absent and echoed on every response.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Makes request ids: keeps a sane incoming one (from the gateway), otherwise a UUIDv7.
#[derive(Clone, Copy, Default)]
pub struct MakeId;

impl MakeRequestId for MakeId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
            .ok()
            .map(RequestId::new)
    }
}

/// Whether an incoming request id may be kept: short, and only `[A-Za-z0-9._-]`.
pub fn acceptable_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Drops request ids a client made up badly, so logs cannot be polluted through them.
async fn sanitize_request_id(mut request: Request, next: Next) -> Response {
    if let Some(value) = request.headers().get(&REQUEST_ID)
        && !acceptable_request_id(value)
    {
        request.headers_mut().remove(&REQUEST_ID);
    }
    next.run(request).await
}

#[derive(Clone)]
struct MetricsLabels {
    service: &'static str,
}

async fn record_metrics(
    State(labels): State<MetricsLabels>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let elapsed = started.elapsed().as_secs_f64();
    metrics::counter!("http_requests_total", "service" => labels.service, "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("http_request_duration_seconds", "service" => labels.service, "method" => method, "route" => route).record(elapsed);
    response
}

/// Wraps a context's routes with everything every service has: `/healthz` and `/readyz`, JSON 404/405,
/// error bodies in the service's style, request ids, request logs and metrics.
pub fn service_router(
    service: &'static str,
    routes: Router,
    readiness: &Readiness,
    style: ErrorStyle,
    clock: SharedClock,
) -> Router {
    let app = routes
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(middleware::from_fn_with_state(
            ErrorRendering { style, clock },
            error::render_errors,
        ))
        .layer(middleware::from_fn_with_state(
            MetricsLabels { service },
            record_metrics,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(move |request: &Request| {
                    let request_id = request
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    let span = tracing::info_span!(
                        "request",
                        service,
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id,
                        otel.name = tracing::field::Empty,
                        otel.kind = tracing::field::Empty,
                    );
                    if trace::exporting() {
                        let route = request
                            .extensions()
                            .get::<MatchedPath>()
                            .map_or("unmatched", |p| p.as_str());
                        span.record("otel.name", format!("{} {route}", request.method()));
                        span.record("otel.kind", "server");
                        trace::set_parent(
                            &span,
                            TraceContext::from_headers(request.headers()).as_ref(),
                        );
                    }
                    span
                })
                .on_request(())
                .on_failure(())
                .on_response(
                    |response: &Response, latency: Duration, _span: &tracing::Span| {
                        tracing::info!(
                            status = response.status().as_u16(),
                            latency_ms = latency.as_secs_f64() * 1000.0,
                            "served"
                        );
                    },
                ),
        )
        .layer(middleware::from_fn(continue_trace));
    // Probes are not logged or counted: Kubernetes calls them every few seconds.
    app.merge(readiness.router())
        .layer(middleware::from_fn_with_state(
            readiness.draining(),
            close_connections_when_draining,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeId))
        .layer(middleware::from_fn(sanitize_request_id))
}

/// Keeps the request's incoming trace context for what the handler sends on (outbox rows, calls), and for
/// its log lines (docs/observability.md).
async fn continue_trace(request: Request, next: Next) -> Response {
    let parent = TraceContext::from_headers(request.headers());
    trace::within(parent, next.run(request)).await
}

/// Once shutdown has begun (the lame-duck period, see [`crate::Lifecycle`]), every response says
/// `Connection: close`: clients stop reusing their kept-alive connections, so none is caught mid-request when
/// the listener closes.
async fn close_connections_when_draining(
    State(draining): State<CancellationToken>,
    request: Request,
    next: middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    if draining.is_cancelled() {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}

/// `GET /openapi.json` of a service: its OpenAPI document, as JSON. The gateway merges the services' documents
/// into the one it serves.
pub fn openapi_route<S: Clone + Send + Sync + 'static>(document: &'static str) -> MethodRouter<S> {
    get(move || async move {
        (
            [(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            document,
        )
    })
}

#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} ({what}): {source}{hint}")]
pub struct BindError {
    pub addr: SocketAddr,
    pub what: String,
    pub hint: &'static str,
    #[source]
    pub source: std::io::Error,
}

/// Binds a listener, explaining failures with the setting that chose the address.
pub async fn bind(addr: SocketAddr, what: impl Into<String>) -> Result<TcpListener, BindError> {
    TcpListener::bind(addr).await.map_err(|source| BindError {
        addr,
        what: what.into(),
        hint: match source.kind() {
            std::io::ErrorKind::AddrInUse => {
                "; another program uses this port — stop it or choose another port"
            }
            std::io::ErrorKind::PermissionDenied => "; ports below 1024 need privileges",
            _ => "",
        },
        source,
    })
}

/// Serves `router` until `stop` is cancelled, then stops accepting and lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::debug!(%addr, "listening");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { stop.cancelled().await })
    .await
}
