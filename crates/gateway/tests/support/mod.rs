//! A gateway in front of fake services for the gateway's tests: a fake auth (the JWKS, and the app-password and
//! API-token checks, answered — like the real auth — only for the gateway's signed calls) and a fake task
//! service that echoes what it received.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use pinit_gateway::{Edge, Settings, Upstreams};
use pinit_kernel::identity::api_token_check::{self, Scope};
use pinit_kernel::identity::{
    GatewayCall, IdentityKey, Vouching, app_password_check, vouched_members_only,
};
use pinit_kernel::jwt::{self, AccessClaims, Jwk, Jwks, RsaKey};
use pinit_kernel::{ApiError, Clock, ErrorStyle, ManualClock, Readiness, SharedClock};
use pinit_testkit::TestServer;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub const ISS: &str = "https://pinit.test";
pub const APP_PASSWORD: &str = "abcd-efgh-ijkl-mnop-qrst-uvwx-yz23";

pub static KEY: LazyLock<RsaKey> = LazyLock::new(|| RsaKey::generate(2048).expect("key"));

/// A fake auth: the JWKS, and the app-password check for the gateway's signed calls only.
#[derive(Clone, Default)]
pub struct FakeAuth {
    /// (username, password) → member.
    pub passwords: Arc<Mutex<HashMap<(String, String), i64>>>,
    /// Checks answered (the gateway's calls that got through the identity check).
    pub checks: Arc<Mutex<Vec<app_password_check::Check>>>,
    /// Answer 429 with this Retry-After.
    pub limited: Arc<Mutex<Option<u64>>>,
    /// API token → (member, scopes, expiry).
    pub tokens: Arc<Mutex<HashMap<String, FakeToken>>>,
    /// API token checks answered.
    pub token_checks: Arc<Mutex<usize>>,
}

/// A token the fake auth knows: its member, scopes and expiry.
pub type FakeToken = (i64, Vec<Scope>, Option<Timestamp>);

async fn check_token(
    State(auth): State<FakeAuth>,
    _: GatewayCall,
    axum::Json(check): axum::Json<api_token_check::Check>,
) -> Response {
    *auth.token_checks.lock().unwrap() += 1;
    let found = auth.tokens.lock().unwrap().get(&check.token).cloned();
    match found {
        Some((member_id, scopes, expires_at)) => axum::Json(api_token_check::Checked {
            member_id,
            scopes,
            expires_at,
        })
        .into_response(),
        None => ApiError::unauthorized("unknown").into_response(),
    }
}

async fn check(
    State(auth): State<FakeAuth>,
    _: GatewayCall,
    axum::Json(check): axum::Json<app_password_check::Check>,
) -> Response {
    auth.checks.lock().unwrap().push(check.clone());
    if let Some(secs) = *auth.limited.lock().unwrap() {
        return ApiError::too_many_requests(secs).into_response();
    }
    let member = auth
        .passwords
        .lock()
        .unwrap()
        .get(&(check.username, check.password))
        .copied();
    match member {
        Some(member_id) => axum::Json(app_password_check::Checked { member_id }).into_response(),
        None => ApiError::unauthorized("wrong").into_response(),
    }
}

/// A fake task service answering every request with what it received (method, path, headers, body), as a
/// WebDAV server would answer: 207 with `ETag` and `DAV`.
#[derive(Clone, Default)]
pub struct FakeTask {
    pub hits: Arc<Mutex<u32>>,
}

async fn echo(State(task): State<FakeTask>, request: Request) -> Response {
    *task.hits.lock().unwrap() += 1;
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let headers: serde_json::Map<String, Value> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or_default())))
        .collect();
    let mut response = (
        StatusCode::MULTI_STATUS,
        axum::Json(json!({
            "method": parts.method.as_str(),
            "path": parts.uri.path(),
            "query": parts.uri.query(),
            "headers": headers,
            "body": String::from_utf8_lossy(&body),
        })),
    )
        .into_response();
    let h = response.headers_mut();
    h.insert("etag", HeaderValue::from_static("\"v7\""));
    h.insert("dav", HeaderValue::from_static("1, 2, calendar-access"));
    response
}

pub struct Gw {
    pub server: TestServer,
    pub client: reqwest::Client,
    pub auth: FakeAuth,
    pub task: FakeTask,
    pub clock: Arc<ManualClock>,
    /// The key the gateway signs with.
    pub identity: IdentityKey,
    _upstreams: Vec<TestServer>,
}

/// A gateway over the fakes; `auth_key` is the identity key the fake auth checks the gateway's calls with
/// (the gateway's own when `None`).
pub async fn gateway(auth_key: Option<IdentityKey>) -> Gw {
    let clock = ManualClock::new(Timestamp::now());
    let shared: SharedClock = clock.clone();
    let identity = IdentityKey::generate();
    let auth = FakeAuth::default();
    auth.passwords
        .lock()
        .unwrap()
        .insert(("alice".into(), APP_PASSWORD.into()), 42);
    let jwks = Jwks {
        keys: vec![Jwk::from_public_key("k1", &KEY.to_public_key())],
    };
    let auth_router = Router::new()
        .route(
            "/.well-known/jwks.json",
            get(move || {
                let jwks = jwks.clone();
                async move { axum::Json(jwks) }
            }),
        )
        .route(app_password_check::PATH, post(check))
        .route(api_token_check::PATH, post(check_token))
        .route("/readyz", get(|| async { "ok" }))
        .route(
            "/openapi.json",
            get(|| async { axum::Json(json!({"openapi": "3.1.0", "paths": {}})) }),
        )
        .with_state(auth.clone())
        .layer(axum::middleware::from_fn_with_state(
            Vouching {
                key: auth_key.unwrap_or_else(|| identity.clone()),
                clock: shared.clone(),
            },
            vouched_members_only,
        ));
    let auth_server = TestServer::spawn(auth_router).await;
    let task = FakeTask::default();
    let task_server = TestServer::spawn(
        Router::new()
            .route("/readyz", get(|| async { "ok" }))
            .fallback(any(echo))
            .with_state(task.clone()),
    )
    .await;
    let settings = Settings {
        token_issuer: ISS.into(),
        ..Default::default()
    };
    let upstreams = Upstreams::new(
        &settings,
        &auth_server.url(""),
        &task_server.url(""),
        &task_server.url(""),
    )
    .unwrap();
    let routes = pinit_gateway::routes(
        upstreams,
        Edge {
            settings,
            cors_origins: Vec::new(),
            clock: shared.clone(),
            identity: identity.clone(),
        },
    );
    let readiness = Readiness::new("gateway", CancellationToken::new());
    readiness.set_migrated();
    let router =
        pinit_kernel::http::service_router("gateway", routes, &readiness, ErrorStyle::Full, shared);
    Gw {
        server: TestServer::spawn(router).await,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        auth,
        task,
        clock,
        identity,
        _upstreams: vec![auth_server, task_server],
    }
}

pub fn basic(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{username}:{password}"))
    )
}

pub fn method(name: &str) -> reqwest::Method {
    reqwest::Method::from_bytes(name.as_bytes()).unwrap()
}

impl Gw {
    /// A request from a client that follows no redirect (to see the well-known one).
    pub fn request(&self, m: &str, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method(m), self.server.url(path))
    }

    pub fn token(&self, sub: &str) -> String {
        let now = self.clock.now();
        let claims = AccessClaims {
            sub: sub.into(),
            iss: ISS.into(),
            iat: now.as_second(),
            exp: now.as_second() + 300,
            roles: String::new(),
            token_type: "access".into(),
        };
        jwt::sign(&claims, "k1", &KEY).unwrap()
    }

    pub fn checks(&self) -> usize {
        self.auth.checks.lock().unwrap().len()
    }

    pub fn task_hits(&self) -> u32 {
        *self.task.hits.lock().unwrap()
    }
}
