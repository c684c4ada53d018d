//! A streaming reverse proxy to one upstream service.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jiff::Timestamp;
use pinit_kernel::ApiError;
use pinit_kernel::text::error_chain;
use serde_json::Value;

/// Headers that describe one hop, never forwarded (RFC 9110, section 7.6.1).
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

/// One upstream service behind the gateway: one or more replicas (`http://a:8080,http://b:8080`), used in
/// turn. A replica that refuses the connection is skipped for a moment and the request goes to the next one —
/// safe, because nothing was sent. Behind a Kubernetes Service there is one URL and the Service balances.
#[derive(Clone)]
pub struct Upstream {
    pub name: &'static str,
    /// `http://authority` per replica, no trailing slash.
    bases: Arc<Vec<Replica>>,
    next: Arc<AtomicUsize>,
    client: Client<HttpConnector, Body>,
    response_timeout: Duration,
    /// Keep the `X-Forwarded-For` an ingress set (its right-most entry is the client) instead of appending the
    /// ingress's own address (`gateway.rate_limit.trust_forwarded_for`).
    trust_forwarded_for: bool,
    /// `pinit serve`: the service's router in this process, called directly — no socket another process could
    /// reach, no loopback hop.
    local: Option<axum::Router>,
}

struct Replica {
    base: String,
    /// Until when to prefer other replicas (after a refused connection).
    down_until: Mutex<Option<Instant>>,
    /// The replica's `/readyz` said no at the last probe (it is shutting down, or not migrated yet).
    unready: AtomicBool,
    /// What its `/readyz` last said and since when; `None` before the first look.
    seen: Mutex<Option<Seen>>,
}

/// The `url` of an in-process upstream's one replica in `/health`.
const IN_PROCESS: &str = "in-process";

/// Each replica's `/readyz` is asked this often (also with one replica: its changes are logged); an unready
/// replica gets requests only when no ready one accepts. A replica shutting down reports unready for its
/// lame-duck period before it closes its listener, so no request meets a closing socket.
const PROBE_EVERY: Duration = Duration::from_millis(250);

/// How long one look at a replica's `/readyz` may take before it counts as unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// What a replica's `/readyz` said, as `/health` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplicaState {
    /// 2xx.
    Ready,
    /// Another status: shutting down, not migrated yet, its database is away.
    NotReady,
    /// No answer: connection refused or reset, or none within [`PROBE_TIMEOUT`].
    Unreachable,
}

impl ReplicaState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::NotReady => "not ready",
            Self::Unreachable => "unreachable",
        }
    }
}

/// A replica's state and when the gateway saw it change to it.
#[derive(Debug, Clone, Copy)]
struct Seen {
    state: ReplicaState,
    since: Timestamp,
}

/// One look at a replica's `/readyz`.
struct Answer {
    state: ReplicaState,
    /// Why it is not ready (the status it answered, or the connection error).
    error: Option<String>,
    /// Its JSON body (`Null` when none or not JSON).
    detail: Value,
}

/// One replica in `/health`: its `/readyz` now, and since when it is in that state.
pub(crate) struct ReplicaReport {
    pub url: String,
    pub state: ReplicaState,
    pub since: Timestamp,
    pub error: Option<String>,
    pub detail: Value,
}

impl Replica {
    fn new(base: String) -> Self {
        Self {
            base,
            down_until: Mutex::new(None),
            unready: AtomicBool::new(false),
            seen: Mutex::new(None),
        }
    }

    /// Takes in what `/readyz` said; a change of state is logged here, once (WARN when the replica stops being
    /// ready, INFO when it is back or not ready yet at the first look). Returns since when the replica is in its
    /// state.
    fn record(&self, upstream: &'static str, answer: &Answer) -> Timestamp {
        self.unready
            .store(answer.state != ReplicaState::Ready, Ordering::Relaxed);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let previous = *seen;
        if let Some(previous) = previous
            && previous.state == answer.state
        {
            return previous.since;
        }
        let since = Timestamp::now();
        *seen = Some(Seen {
            state: answer.state,
            since,
        });
        drop(seen);
        let was = previous.map_or("unknown", |p| p.state.as_str());
        let error = answer.error.as_deref().unwrap_or_default();
        match (previous, answer.state) {
            // The first look finds it ready: nothing to report.
            (None, ReplicaState::Ready) => {
                tracing::debug!(upstream, replica = %self.base, "upstream replica is ready")
            }
            // Services started together with the gateway (systemd, a pod restart) are often not up at its first
            // look: worth a line, not a warning; a replica that was ready and stops is one.
            (None, _) => tracing::info!(
                upstream,
                replica = %self.base,
                state = answer.state.as_str(),
                error,
                "upstream replica is not ready yet"
            ),
            (Some(_), ReplicaState::Ready) => {
                tracing::info!(upstream, replica = %self.base, was, "upstream replica is ready again")
            }
            (_, ReplicaState::NotReady) => {
                tracing::warn!(upstream, replica = %self.base, was, error, "upstream replica is not ready")
            }
            (_, ReplicaState::Unreachable) => {
                tracing::warn!(upstream, replica = %self.base, was, error, "upstream replica is unreachable")
            }
        }
        since
    }
}

/// How long a replica that refused a connection is tried last.
const COOL_DOWN: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
#[error("`{url}` is not a usable base URL for the {name} service: {reason}")]
pub struct UpstreamUrlError {
    pub name: &'static str,
    pub url: String,
    pub reason: String,
}

impl Upstream {
    pub fn new(
        name: &'static str,
        base_urls: &str,
        connect_timeout: Duration,
        response_timeout: Duration,
    ) -> Result<Self, UpstreamUrlError> {
        let mut bases = Vec::new();
        for base_url in base_urls
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            bases.push(Replica::new(parse_base(name, base_url)?));
        }
        if bases.is_empty() {
            return Err(UpstreamUrlError {
                name,
                url: base_urls.to_string(),
                reason: "expected http://host:port (several: comma-separated)".into(),
            });
        }
        let upstream = Self::assemble(name, bases, connect_timeout, response_timeout);
        tokio::spawn(probe(
            name,
            Arc::downgrade(&upstream.bases),
            upstream.client.clone(),
        ));
        Ok(upstream)
    }

    fn assemble(
        name: &'static str,
        bases: Vec<Replica>,
        connect_timeout: Duration,
        response_timeout: Duration,
    ) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            // Shorter than a replica's lame-duck period: an idle connection is dropped here before the
            // replica closes it, so no request is ever written into a closing socket.
            .pool_idle_timeout(Duration::from_secs(2))
            .build(connector);
        Self {
            name,
            bases: Arc::new(bases),
            next: Arc::new(AtomicUsize::new(0)),
            client,
            response_timeout,
            trust_forwarded_for: false,
            local: None,
        }
    }

    /// An upstream served by `router` in this process (`pinit serve`): requests are handed to it as they would
    /// be sent over HTTP (same headers, same response timeout), without a listener. Its one "replica" is
    /// `in-process` in `/health`; nothing probes it in the background (it shares the gateway's fate), so a change
    /// of its readiness is logged when `/health` sees it.
    pub fn in_process(
        name: &'static str,
        router: axum::Router,
        response_timeout: Duration,
    ) -> Self {
        let mut upstream = Self::assemble(
            name,
            vec![Replica::new(IN_PROCESS.into())],
            Duration::from_secs(1),
            response_timeout,
        );
        upstream.local = Some(router);
        upstream
    }

    /// Asks every replica's `/readyz` directly (not through [`Upstream::forward`], which would pick one), in
    /// the order configured, and records what each said (a change is logged once, see `Replica::record`).
    pub(crate) async fn readiness(&self) -> Vec<ReplicaReport> {
        let checks = self.bases.iter().map(|replica| async move {
            let answer = match &self.local {
                Some(router) => ask_local(router.clone()).await,
                None => ask(&self.client, &replica.base).await,
            };
            let since = replica.record(self.name, &answer);
            ReplicaReport {
                url: replica.base.clone(),
                state: answer.state,
                since,
                error: answer.error,
                detail: answer.detail,
            }
        });
        futures::future::join_all(checks).await
    }

    /// See [`Upstream::trust_forwarded_for`]: behind an ingress that sets `X-Forwarded-For`, services see the
    /// client's address as its right-most entry, not the ingress's.
    pub fn trusting_forwarded_for(mut self, trust: bool) -> Self {
        self.trust_forwarded_for = trust;
        self
    }

    /// The first replica's base URL.
    pub fn base(&self) -> &str {
        &self.bases[0].base
    }

    /// Replicas in the order to try: round robin, those recently refusing last.
    fn order(&self) -> Vec<&Replica> {
        let n = self.bases.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let (mut up, mut down): (Vec<&Replica>, Vec<&Replica>) =
            (0..n).map(|i| &self.bases[(start + i) % n]).partition(|r| {
                !r.unready.load(Ordering::Relaxed)
                    && r.down_until
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .is_none_or(|until| until <= now)
            });
        up.append(&mut down);
        up
    }

    /// Forwards `request` (path and query unchanged) and streams the answer back.
    pub async fn forward(&self, request: Request) -> Response {
        match self.try_forward(request).await {
            Ok(response) => response,
            Err(error) => error.into_response(),
        }
    }

    async fn try_forward(&self, request: Request) -> Result<Response, ApiError> {
        let (mut parts, body) = request.into_parts();
        let client_addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let original_host = parts.headers.get(header::HOST).cloned();
        strip_hop_by_hop(&mut parts.headers);
        parts.headers.remove(header::HOST);
        if let Some(host) = original_host {
            parts.headers.insert("x-forwarded-host", host);
        }
        let forwarded = parts.headers.contains_key("x-forwarded-for");
        if let Some(ip) = client_addr
            && !(self.trust_forwarded_for && forwarded)
        {
            append_forwarded_for(&mut parts.headers, ip);
        }
        parts
            .headers
            .entry("x-forwarded-proto")
            .or_insert(HeaderValue::from_static("http"));
        // The service's spans continue the gateway's (docs/observability.md).
        pinit_kernel::trace::inject(&mut parts.headers);
        let path_and_query = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        // Bodies are small JSON (the gateway limits them): buffered, so that a refused connection can be
        // retried on another replica.
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .map_err(|_| ApiError::bad_request("The request body could not be read."))?;

        if let Some(router) = &self.local {
            return self
                .call_local(router.clone(), parts, path_and_query, body)
                .await;
        }
        let deadline = tokio::time::Instant::now() + self.response_timeout;
        let mut last_error = None;
        let idempotent = retry_safe(&parts.method);
        let mut order = self.order();
        if idempotent && order.len() == 1 {
            // One URL (a Kubernetes Service): a new connection may well reach another pod.
            order.push(order[0]);
        }
        let mut retried = false;
        for replica in order {
            let target = format!("{}{}", replica.base, path_and_query);
            let outgoing = outgoing(&parts, &target, body.clone())?;
            match tokio::time::timeout_at(deadline, self.client.request(outgoing)).await {
                Err(_) => return Err(self.timed_out()),
                Ok(Err(e)) if e.is_connect() => {
                    tracing::debug!(upstream = self.name, replica = %replica.base, error = %e, "replica refused; trying the next");
                    *replica.down_until.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(Instant::now() + COOL_DOWN);
                    last_error = Some(e);
                }
                Ok(Err(e)) if idempotent && !retried => {
                    // The connection failed before any response byte (a replica killed mid-request, a reset
                    // kept-alive connection): a request that means the same when repeated is sent once more.
                    tracing::info!(upstream = self.name, replica = %replica.base, error = %e, "connection failed before a response; retrying the idempotent request once");
                    retried = true;
                    last_error = Some(e);
                }
                Ok(Err(e)) => {
                    last_error = Some(e);
                    break;
                }
                Ok(Ok(response)) => {
                    let (mut parts, body) = response.into_parts();
                    strip_hop_by_hop(&mut parts.headers);
                    return Ok(Response::from_parts(parts, Body::new(body)));
                }
            }
        }
        if let Some(e) = &last_error {
            tracing::warn!(upstream = self.name, error = %e, source = ?std::error::Error::source(e), "upstream request failed");
        }
        Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("The {} service is unavailable.", self.name),
        )
        .with_retry_after(1))
    }
}

impl Upstream {
    async fn call_local(
        &self,
        router: axum::Router,
        parts: axum::http::request::Parts,
        path_and_query: String,
        body: axum::body::Bytes,
    ) -> Result<Response, ApiError> {
        use tower::ServiceExt;
        let outgoing = outgoing(&parts, &path_and_query, body)?;
        match tokio::time::timeout(self.response_timeout, router.oneshot(outgoing)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(never)) => match never {},
            Err(_) => Err(self.timed_out()),
        }
    }

    /// The 504 of a service that did not start answering within `response_timeout`, logged.
    fn timed_out(&self) -> ApiError {
        tracing::warn!(upstream = self.name, timeout = ?self.response_timeout, "upstream did not answer in time");
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            format!("The {} service did not answer in time.", self.name),
        )
    }
}

/// The request to send on: the incoming method, version and (already adjusted) headers, to `target` (a replica's
/// URL, or the path and query for a router in this process), with the buffered `body`.
fn outgoing(
    parts: &axum::http::request::Parts,
    target: &str,
    body: axum::body::Bytes,
) -> Result<Request, ApiError> {
    let uri: Uri = target
        .parse()
        .map_err(|_| ApiError::bad_request("Invalid request target."))?;
    let mut outgoing = Request::new(Body::from(body));
    *outgoing.method_mut() = parts.method.clone();
    *outgoing.uri_mut() = uri;
    *outgoing.version_mut() = parts.version;
    *outgoing.headers_mut() = parts.headers.clone();
    Ok(outgoing)
}

/// Requests that mean the same when sent twice, so the gateway repeats them once on another connection when one
/// fails before any response: GET, HEAD, OPTIONS, and PUT (the API's only PUT sets the member's zone). Never POST
/// or PATCH, which may have reached the service; nor DELETE, whose repetition would answer 404 for a deletion that
/// happened.
fn retry_safe(method: &axum::http::Method) -> bool {
    use axum::http::Method;
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT
    )
}

/// Probes every replica's `/readyz` until the upstream is dropped; each change of a replica's state is logged
/// (`Replica::record`).
async fn probe(
    upstream: &'static str,
    bases: std::sync::Weak<Vec<Replica>>,
    client: Client<HttpConnector, Body>,
) {
    let mut every = tokio::time::interval(PROBE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(bases) = bases.upgrade() else { return };
        let checks = bases.iter().map(|replica| {
            let client = &client;
            async move {
                let answer = ask(client, &replica.base).await;
                replica.record(upstream, &answer);
            }
        });
        futures::future::join_all(checks).await;
    }
}

/// `GET {base}/readyz`, straight to that replica.
async fn ask(client: &Client<HttpConnector, Body>, base: &str) -> Answer {
    let request = format!("{base}/readyz")
        .parse::<Uri>()
        .map_err(|e| e.to_string())
        .and_then(|uri| {
            Request::get(uri)
                .body(Body::empty())
                .map_err(|e| e.to_string())
        });
    match request {
        Ok(request) => {
            answer_within(async { client.request(request).await.map_err(|e| error_chain(&e)) })
                .await
        }
        Err(error) => Answer::unreachable(error),
    }
}

/// `GET /readyz` of a service's router in this process.
async fn ask_local(router: axum::Router) -> Answer {
    use tower::ServiceExt;
    match Request::get("/readyz").body(Body::empty()) {
        Ok(request) => {
            answer_within(async {
                match router.oneshot(request).await {
                    Ok(response) => Ok(response),
                    Err(never) => match never {},
                }
            })
            .await
        }
        Err(error) => Answer::unreachable(error.to_string()),
    }
}

/// What a `/readyz` call answered, read within [`PROBE_TIMEOUT`] (else unreachable).
async fn answer_within<B>(
    call: impl std::future::Future<Output = Result<http::Response<B>, String>>,
) -> Answer
where
    B: axum::body::HttpBody,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let answer = async {
        match call.await {
            Ok(response) => Answer::read(response).await,
            Err(error) => Answer::unreachable(error),
        }
    };
    tokio::time::timeout(PROBE_TIMEOUT, answer)
        .await
        .unwrap_or_else(|_| Answer::unreachable(format!("no answer within {PROBE_TIMEOUT:?}")))
}

impl Answer {
    fn unreachable(error: String) -> Self {
        Self {
            state: ReplicaState::Unreachable,
            error: Some(error),
            detail: Value::Null,
        }
    }

    async fn read<B>(response: http::Response<B>) -> Self
    where
        B: axum::body::HttpBody,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        use http_body_util::BodyExt;
        let (parts, body) = response.into_parts();
        let detail = match http_body_util::Limited::new(body, 64 * 1024)
            .collect()
            .await
        {
            Ok(bytes) => serde_json::from_slice(&bytes.to_bytes()).unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        if parts.status.is_success() {
            Self {
                state: ReplicaState::Ready,
                error: None,
                detail,
            }
        } else {
            Self {
                state: ReplicaState::NotReady,
                error: Some(format!("/readyz answered {}", parts.status)),
                detail,
            }
        }
    }
}

fn parse_base(name: &'static str, base_url: &str) -> Result<String, UpstreamUrlError> {
    let err = |reason: String| UpstreamUrlError {
        name,
        url: base_url.to_string(),
        reason,
    };
    let base: Uri = base_url
        .trim_end_matches('/')
        .parse()
        .map_err(|e| err(format!("{e}")))?;
    let authority = match (base.scheme_str(), base.authority()) {
        (Some("http"), Some(authority)) => authority.to_string(),
        _ => return Err(err("expected http://host:port".into())),
    };
    if !matches!(base.path(), "" | "/") {
        return Err(err("must not have a path; requests keep theirs".into()));
    }
    Ok(format!("http://{authority}"))
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Headers named in `Connection` are hop-by-hop too.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
}

fn append_forwarded_for(headers: &mut HeaderMap, ip: std::net::IpAddr) {
    let value = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(existing) => format!("{existing}, {ip}"),
        None => ip.to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert("x-forwarded-for", value);
    }
}
