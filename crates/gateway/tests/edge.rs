//! The gateway in front of fake services: who passes, what `X-Member-Id` the services see, keys from the JWKS
//! (and their rotation), CORS, security headers, rate limits, host routing, the merged OpenAPI document.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::routing::{any, get};
use jiff::Timestamp;
use pinit_gateway::edge::RateLimitSettings;
use pinit_gateway::{Edge, HostRouting, Settings, Upstreams};
use pinit_kernel::jwt::{self, AccessClaims, Jwk, Jwks, RsaKey};
use pinit_kernel::{ErrorStyle, ManualClock, Readiness, SharedClock};
use pinit_testkit::TestServer;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const ISS: &str = "https://pinit.test";

static KEY: LazyLock<RsaKey> = LazyLock::new(|| RsaKey::generate(2048).expect("key"));
static NEW_KEY: LazyLock<RsaKey> = LazyLock::new(|| RsaKey::generate(2048).expect("key"));
static STRANGER: LazyLock<RsaKey> = LazyLock::new(|| RsaKey::generate(2048).expect("key"));

/// A service that answers every request with what it received; the auth one also serves a JWKS.
#[derive(Clone)]
struct Fake {
    name: &'static str,
    jwks: Arc<Mutex<Jwks>>,
    hits: Arc<Mutex<u32>>,
}

async fn echo(State(fake): State<Fake>, request: Request) -> axum::Json<Value> {
    *fake.hits.lock().unwrap() += 1;
    let headers: serde_json::Map<String, Value> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or_default())))
        .collect();
    axum::Json(json!({"service": fake.name, "path": request.uri().path(), "headers": headers}))
}

async fn jwks(State(fake): State<Fake>) -> axum::Json<Jwks> {
    axum::Json(fake.jwks.lock().unwrap().clone())
}

async fn openapi(State(fake): State<Fake>) -> axum::Json<Value> {
    axum::Json(json!({
        "openapi": "3.1.0",
        "paths": {format!("/{}/thing", fake.name): {"get": {"summary": fake.name, "responses": {"200": {"description": "ok"}}}}},
        "components": {"schemas": {"ErrorResponse": {"title": fake.name}}}
    }))
}

async fn fake(name: &'static str, jwks_value: Jwks) -> (TestServer, Fake) {
    let fake = Fake {
        name,
        jwks: Arc::new(Mutex::new(jwks_value)),
        hits: Arc::default(),
    };
    let router = Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/openapi.json", get(openapi))
        .route("/readyz", get(|| async { "ok" }))
        .fallback(any(echo))
        .with_state(fake.clone());
    (TestServer::spawn(router).await, fake)
}

struct Gw {
    server: TestServer,
    auth: Fake,
    task: Fake,
    clock: Arc<ManualClock>,
    _upstreams: Vec<TestServer>,
}

async fn gateway(tweak: impl FnOnce(&mut Settings, &mut Vec<String>)) -> Gw {
    let jwks_value = Jwks {
        keys: vec![Jwk::from_public_key("k1", &KEY.to_public_key())],
    };
    let (auth_server, auth) = fake("auth", jwks_value).await;
    let (task_server, task) = fake("task", Jwks::default()).await;
    let (notification_server, _) = fake("notification", Jwks::default()).await;
    let mut settings = Settings {
        token_issuer: ISS.into(),
        ..Default::default()
    };
    let mut origins = Vec::new();
    tweak(&mut settings, &mut origins);
    let upstreams = Upstreams::new(
        &settings,
        &auth_server.url(""),
        &task_server.url(""),
        &notification_server.url(""),
    )
    .unwrap();
    let clock = ManualClock::new(Timestamp::now());
    let shared: SharedClock = clock.clone();
    let routes = pinit_gateway::routes(
        upstreams,
        Edge {
            settings,
            cors_origins: origins,
            clock: shared.clone(),
            identity: pinit_kernel::identity::IdentityKey::generate(),
        },
    );
    let readiness = Readiness::new("gateway", CancellationToken::new());
    readiness.set_migrated();
    let router =
        pinit_kernel::http::service_router("gateway", routes, &readiness, ErrorStyle::Full, shared);
    Gw {
        server: TestServer::spawn(router).await,
        auth,
        task,
        clock,
        _upstreams: vec![auth_server, task_server, notification_server],
    }
}

fn claims(sub: &str, now: Timestamp) -> AccessClaims {
    AccessClaims {
        sub: sub.into(),
        iss: ISS.into(),
        iat: now.as_second(),
        exp: now.as_second() + 300,
        roles: String::new(),
        token_type: "access".into(),
    }
}

impl Gw {
    fn now(&self) -> Timestamp {
        use pinit_kernel::Clock;
        self.clock.now()
    }

    fn token(&self, sub: &str) -> String {
        jwt::sign(&claims(sub, self.now()), "k1", &KEY).unwrap()
    }

    async fn get(
        &self,
        path: &str,
        token: Option<&str>,
        member_header: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self.server.client.get(self.server.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(m) = member_header {
            req = req.header("x-member-id", m);
        }
        req.send().await.unwrap()
    }
}

#[tokio::test]
async fn a_verified_token_sets_the_member_header_and_a_forged_one_never_passes() {
    let gw = gateway(|_, _| {}).await;
    let token = gw.token("42");
    let res = gw.get("/v2/tasks", Some(&token), Some("7")).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["service"], "task");
    assert_eq!(
        body["headers"]["x-member-id"], "42",
        "set from the token, not the client"
    );

    // The request id reaches the service and comes back.
    let id = body["headers"]["x-request-id"]
        .as_str()
        .expect("forwarded request id")
        .to_string();
    assert_eq!(res_id(&gw, &token, &id).await, id);

    // Public operations: the client's header is removed, nothing is set.
    let res = gw
        .server
        .client
        .post(gw.server.url("/v0/login"))
        .header("x-member-id", "7")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["service"], "auth");
    assert!(body["headers"].get("x-member-id").is_none(), "{body}");
}

async fn res_id(gw: &Gw, token: &str, id: &str) -> String {
    let res = gw
        .server
        .client
        .get(gw.server.url("/v2/tasks"))
        .bearer_auth(token)
        .header("x-request-id", id)
        .send()
        .await
        .unwrap();
    let echoed: Value = res.json().await.unwrap();
    echoed["headers"]["x-request-id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn an_oversized_body_is_a_413_with_the_error_body() {
    let gw = gateway(|s, _| s.max_body_bytes = 1024).await;
    let res = gw
        .server
        .client
        .post(gw.server.url("/v0/signup"))
        .header("content-type", "application/json")
        .body(vec![b' '; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], 413);
    assert_eq!(*gw.auth.hits.lock().unwrap(), 0);

    // The same body streamed without a length (chunked): the same 413, not a 400.
    let chunk: &[u8] = &[b' '; 512];
    let answer = post_chunked(&gw.server.url("/v0/signup"), &[chunk; 8]).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"status\":413"), "{answer}");
    assert_eq!(*gw.auth.hits.lock().unwrap(), 0);

    // A small chunked body still passes.
    let answer = post_chunked(&gw.server.url("/v0/signup"), &[b"{}"]).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(*gw.auth.hits.lock().unwrap(), 1);
}

/// A POST whose body is sent in `chunks` with `Transfer-Encoding: chunked` (no length); the raw answer.
async fn post_chunked(url: &str, chunks: &[&[u8]]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in chunks {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The gateway may answer (and close) before it has read everything.
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn every_kind_of_bad_token_is_a_401_that_never_reaches_a_service() {
    let gw = gateway(|_, _| {}).await;
    let now = gw.now();
    let mut refresh_type = claims("42", now);
    refresh_type.token_type = "refresh".into();
    let mut other_iss = claims("42", now);
    other_iss.iss = "https://evil.test".into();
    let mut expired = claims("42", now);
    expired.exp = now.as_second() - 31;
    let payload = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        serde_json::to_vec(&claims("42", now)).unwrap(),
    );
    let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
    let cases = [
        ("no token", None),
        ("garbage", Some("not-a-jwt".to_string())),
        ("alg none", Some(none)),
        (
            "refresh type",
            Some(jwt::sign(&refresh_type, "k1", &KEY).unwrap()),
        ),
        (
            "wrong issuer",
            Some(jwt::sign(&other_iss, "k1", &KEY).unwrap()),
        ),
        ("expired", Some(jwt::sign(&expired, "k1", &KEY).unwrap())),
        (
            "foreign key, known kid",
            Some(jwt::sign(&claims("42", now), "k1", &STRANGER).unwrap()),
        ),
        (
            "foreign key, unknown kid",
            Some(jwt::sign(&claims("42", now), "zz", &STRANGER).unwrap()),
        ),
    ];
    for (what, token) in cases {
        let res = gw.get("/v2/tasks", token.as_deref(), Some("42")).await;
        assert_eq!(res.status(), 401, "{what}");
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], 401, "{what}: {body}");
    }
    assert_eq!(
        *gw.task.hits.lock().unwrap(),
        0,
        "no request reached the task service"
    );

    // A bad token on a public operation is ignored, not fatal.
    let res = gw
        .server
        .client
        .post(gw.server.url("/v0/refresh"))
        .bearer_auth("expired-or-garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Verified tokens are remembered whole: a token that shares a remembered token's signature but not its payload
/// (another member, a later expiry) is verified on its own, and refused.
#[tokio::test]
async fn a_remembered_tokens_signature_does_not_carry_another_payload() {
    let gw = gateway(|_, _| {}).await;
    let token = gw.token("1");
    for _ in 0..2 {
        let res = gw.get("/v2/x", Some(&token), None).await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["headers"]["x-member-id"], "1");
    }
    let parts: Vec<&str> = token.split('.').collect();
    let mut other = claims("2", gw.now());
    other.exp += 3600;
    let payload = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        serde_json::to_vec(&other).unwrap(),
    );
    let grafted = format!("{}.{payload}.{}", parts[0], parts[2]);
    assert_eq!(gw.get("/v2/x", Some(&grafted), None).await.status(), 401);
    assert_eq!(gw.get("/v2/x", Some(&token), None).await.status(), 200);
}

#[tokio::test]
async fn a_rotated_key_is_fetched_when_a_token_names_it() {
    let gw = gateway(|_, _| {}).await;
    assert_eq!(
        gw.get("/v2/x", Some(&gw.token("1")), None).await.status(),
        200
    );
    // Auth rotates: publishes the new key next to the old one (a second later: refetches are throttled).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    gw.auth
        .jwks
        .lock()
        .unwrap()
        .keys
        .push(Jwk::from_public_key("k2", &NEW_KEY.to_public_key()));
    let new_token = jwt::sign(&claims("5", gw.now()), "k2", &NEW_KEY).unwrap();
    let res = gw.get("/v2/x", Some(&new_token), None).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["headers"]["x-member-id"], "5");
    assert_eq!(
        gw.get("/v2/x", Some(&gw.token("1")), None).await.status(),
        200,
        "old key still accepted"
    );
}

#[tokio::test]
async fn a_key_auth_no_longer_publishes_is_refused_once_the_cached_set_is_old() {
    let gw = gateway(|_, _| {}).await;
    let token = gw.token("3");
    assert_eq!(gw.get("/v2/x", Some(&token), None).await.status(), 200);
    // Auth retires k1 (its rotation is over, or it leaked): it publishes only k2 from now on.
    gw.auth.jwks.lock().unwrap().keys = vec![Jwk::from_public_key("k2", &NEW_KEY.to_public_key())];
    let max_age = pinit_gateway::guard::KEYS_MAX_AGE_SECS;
    gw.clock
        .advance(jiff::SignedDuration::from_secs(max_age - 1));
    assert_eq!(
        gw.get("/v2/x", Some(&token), None).await.status(),
        200,
        "the cached set is young enough"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // fetches are at most once a second
    gw.clock.advance(jiff::SignedDuration::from_secs(1));
    assert_eq!(gw.get("/v2/x", Some(&token), None).await.status(), 401);
    let new_token = jwt::sign(&claims("3", gw.now()), "k2", &NEW_KEY).unwrap();
    assert_eq!(gw.get("/v2/x", Some(&new_token), None).await.status(), 200);
}

#[tokio::test]
async fn expiry_has_the_kernels_one_leeway_and_the_scheme_any_case() {
    let gw = gateway(|_, _| {}).await;
    let token = gw.token("7");
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let res = gw
            .server
            .client
            .get(gw.server.url("/v2/tasks"))
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{scheme}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["headers"]["x-member-id"], "7", "{scheme}");
    }
    let other_scheme = gw
        .server
        .client
        .get(gw.server.url("/v2/tasks"))
        .header("authorization", format!("Basic {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(other_scheme.status(), 401);

    // The token lives 300 s. Auth's `/v0/me` applies the same leeway (crates/auth/tests/api.rs); 8 s after
    // expiry the gateway once still served what auth refused.
    let leeway = i64::try_from(jwt::EXP_LEEWAY.as_secs()).unwrap();
    assert!(leeway < 8);
    gw.clock
        .advance(jiff::SignedDuration::from_secs(300 + leeway - 1));
    assert_eq!(gw.get("/v2/tasks", Some(&token), None).await.status(), 200);
    gw.clock
        .advance(jiff::SignedDuration::from_secs(8 - leeway + 1));
    assert_eq!(gw.get("/v2/tasks", Some(&token), None).await.status(), 401);
}

#[tokio::test]
async fn cors_answers_configured_origins_only() {
    let gw = gateway(|_, origins| origins.push("https://app.pinit.test".into())).await;
    let preflight = |origin: &'static str| {
        gw.server
            .client
            .request(reqwest::Method::OPTIONS, gw.server.url("/v2/tasks"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let ok = preflight("https://app.pinit.test").await.unwrap();
    assert!(ok.status().is_success());
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.pinit.test"
    );
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    assert_eq!(ok.headers()["access-control-max-age"], "3600");
    let evil = preflight("https://evil.test").await.unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    assert_eq!(
        *gw.task.hits.lock().unwrap(),
        0,
        "preflights are answered at the edge"
    );
}

#[tokio::test]
async fn responses_carry_security_headers() {
    let gw = gateway(|s, _| s.hsts = true).await;
    let res = gw.get("/health", None, None).await;
    for header in [
        "x-content-type-options",
        "x-frame-options",
        "content-security-policy",
        "referrer-policy",
        "strict-transport-security",
        "x-request-id",
    ] {
        assert!(res.headers().contains_key(header), "{header}");
    }
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_with_retry_after() {
    let gw = gateway(|s, _| {
        s.rate_limit = RateLimitSettings {
            per_second: 1.0,
            burst: 3.0,
            ..Default::default()
        }
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(gw.get("/v0/push/vapid", None, None).await);
    }
    assert_eq!(statuses.iter().filter(|r| r.status() == 200).count(), 3);
    let limited = statuses.iter().find(|r| r.status() == 429).expect("a 429");
    assert!(limited.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn hosts_route_whole_services_like_the_reference() {
    let gw = gateway(|s, _| {
        s.hosts = HostRouting {
            auth: Some("auth.pinit.test".into()),
            api: Some("api.pinit.test".into()),
            notification: None,
        }
    })
    .await;
    let res = gw
        .server
        .client
        .get(gw.server.url("/v2/tasks"))
        .header("host", "auth.pinit.test:443")
        .bearer_auth(gw.token("3"))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["service"], "auth", "the host wins over the path");
    // The guard still applies on a routed host.
    let res = gw
        .server
        .client
        .get(gw.server.url("/v2/tasks"))
        .header("host", "api.pinit.test")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn the_api_description_is_merged_and_documented_offline() {
    let gw = gateway(|_, _| {}).await;
    let doc: Value = gw
        .get("/openapi.json", None, None)
        .await
        .json()
        .await
        .unwrap();
    for path in ["/auth/thing", "/task/thing", "/notification/thing"] {
        assert!(doc["paths"].get(path).is_some(), "{path} in {doc}");
    }
    assert!(
        doc.pointer("/components/schemas/TaskErrorResponse")
            .is_some()
    );
    let page = gw.get("/docs", None, None).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("/docs/docs.js") && !html.contains("http"),
        "no external assets"
    );
    assert_eq!(gw.get("/docs/docs.js", None, None).await.status(), 200);
}

/// A gateway whose task upstream is `task_urls` (replicas, comma-separated) and whose auth (and notification) is
/// `auth_server`; with a token it accepts.
async fn gateway_over(auth_server: &TestServer, task_urls: &str) -> (TestServer, String) {
    let settings = Settings {
        token_issuer: ISS.into(),
        ..Default::default()
    };
    let upstreams = Upstreams::new(
        &settings,
        &auth_server.url(""),
        task_urls,
        &auth_server.url(""),
    )
    .unwrap();
    let shared: SharedClock = ManualClock::new(Timestamp::now());
    let routes = pinit_gateway::routes(
        upstreams,
        Edge {
            settings,
            cors_origins: Vec::new(),
            clock: shared.clone(),
            identity: pinit_kernel::identity::IdentityKey::generate(),
        },
    );
    let readiness = Readiness::new("gateway", CancellationToken::new());
    let server = TestServer::spawn(pinit_kernel::http::service_router(
        "gateway",
        routes,
        &readiness,
        ErrorStyle::Full,
        shared,
    ))
    .await;
    let token = jwt::sign(&claims("9", Timestamp::now()), "k1", &KEY).unwrap();
    (server, token)
}

#[tokio::test]
async fn requests_fail_over_to_a_replica_that_accepts() {
    let (auth_server, _) = fake(
        "auth",
        Jwks {
            keys: vec![Jwk::from_public_key("k1", &KEY.to_public_key())],
        },
    )
    .await;
    let (task_a, a) = fake("task", Jwks::default()).await;
    let (task_b, b) = fake("task", Jwks::default()).await;
    let b_url = task_b.url("");
    // Replica B goes away: its port refuses connections.
    task_b.shutdown().await.unwrap();
    let (server, token) =
        gateway_over(&auth_server, &format!("{},{}", task_a.url(""), b_url)).await;
    for _ in 0..10 {
        let res = server
            .client
            .post(server.url("/v2/schedules"))
            .bearer_auth(&token)
            .json(&json!({"title": "body survives the retry"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    assert_eq!(
        *a.hits.lock().unwrap(),
        10,
        "every request reached the live replica"
    );
    assert_eq!(*b.hits.lock().unwrap(), 0);
}

/// A replica that dies mid-request: it accepts, reads the request, and resets the connection without a byte of
/// response (what a kill -9 does to a kept-alive connection). Counts the requests it swallowed.
async fn resetting_replica() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let swallowed = Arc::new(AtomicUsize::new(0));
    let count = swallowed.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 4096];
                loop {
                    let n = conn.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    // It still says it is ready (the gateway's probe), then dies on real work.
                    if buf[..n].starts_with(b"GET /readyz") {
                        let ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                        if conn.write_all(ok.as_bytes()).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    // A reset, not an orderly close: what the peer of a killed process sees.
                    // (SO_LINGER 0 may block on close: fine in a test, hence the allowed deprecation.)
                    #[allow(deprecated)]
                    let _ = conn.set_linger(Some(Duration::ZERO));
                    return;
                }
            });
        }
    });
    (url, swallowed)
}

#[tokio::test]
async fn an_idempotent_request_is_retried_once_when_a_replica_dies_mid_request_and_a_post_never_is()
{
    let (auth_server, _) = fake(
        "auth",
        Jwks {
            keys: vec![Jwk::from_public_key("k1", &KEY.to_public_key())],
        },
    )
    .await;
    let (task_a, a) = fake("task", Jwks::default()).await;
    let (dying, swallowed) = resetting_replica().await;
    let (server, token) =
        gateway_over(&auth_server, &format!("{},{}", task_a.url(""), dying)).await;
    for _ in 0..10 {
        let res = server
            .client
            .get(server.url("/v2/tasks"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "a GET survives the dying replica");
    }
    let swallowed_gets = swallowed.load(Ordering::SeqCst);
    assert!(
        swallowed_gets >= 1,
        "round robin sent some GETs to the dying replica"
    );
    let mut failed = 0u32;
    for _ in 0..10 {
        let res = server
            .client
            .post(server.url("/v2/schedules"))
            .bearer_auth(&token)
            .json(&json!({"title": "at most once"}))
            .send()
            .await
            .unwrap();
        if res.status() == 502 {
            failed += 1;
        } else {
            assert_eq!(res.status(), 200);
        }
    }
    let swallowed_posts = u32::try_from(swallowed.load(Ordering::SeqCst) - swallowed_gets).unwrap();
    assert!(swallowed_posts >= 1, "some POSTs met the dying replica");
    assert_eq!(
        failed, swallowed_posts,
        "a POST that may have reached a replica is not sent again"
    );
    assert_eq!(
        *a.hits.lock().unwrap(),
        10 + 10 - failed,
        "every other request reached the live replica once"
    );
}

#[tokio::test]
async fn behind_a_trusted_ingress_services_see_the_client_address() {
    for (trust, expected_last) in [(true, "203.0.113.7"), (false, "127.0.0.1")] {
        let gw = gateway(|s, _| s.rate_limit.trust_forwarded_for = trust).await;
        let res = gw
            .server
            .client
            .post(gw.server.url("/v0/login"))
            .header("x-forwarded-for", "203.0.113.7")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let body: Value = res.json().await.unwrap();
        let xff = body["headers"]["x-forwarded-for"].as_str().unwrap();
        assert_eq!(
            xff.rsplit(',').next().unwrap().trim(),
            expected_last,
            "trust={trust}: {xff}"
        );
    }
}

/// Log lines written while a test runs (the gateway's background probe runs on the test's one thread).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn lines_with(&self, needle: &str) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

/// `/health` until `done` holds for its (status, body), for at most 5 s.
async fn health_until(server: &TestServer, done: impl Fn(u16, &Value) -> bool) -> (u16, Value) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let res = server
            .client
            .get(server.url("/health"))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        if done(status, &body) {
            return (status, body);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/health never got there: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn replica<'a>(body: &'a Value, url: &str) -> &'a Value {
    body["services"]["task"]["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["url"] == url)
        .unwrap_or_else(|| panic!("{url} is not in {body}"))
}

#[tokio::test]
async fn health_reports_every_replica_and_each_change_is_logged_once() {
    let logs = Logs::default();
    let writer = logs.clone();
    let _logging = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish(),
    );
    let (auth_server, _) = fake(
        "auth",
        Jwks {
            keys: vec![Jwk::from_public_key("k1", &KEY.to_public_key())],
        },
    )
    .await;
    let (task_a, _) = fake("task", Jwks::default()).await;
    // B answers /readyz 503 while `draining` is set (shutting down, not migrated yet).
    let draining = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = draining.clone();
    let task_b = TestServer::spawn(Router::new().route(
        "/readyz",
        get(move || {
            let flag = flag.clone();
            async move {
                if flag.load(Ordering::SeqCst) {
                    (axum::http::StatusCode::SERVICE_UNAVAILABLE, "shutting down")
                } else {
                    (axum::http::StatusCode::OK, "ok")
                }
            }
        }),
    ))
    .await;
    let (task_c, _) = fake("task", Jwks::default()).await;
    let (a, b, c) = (task_a.url(""), task_b.url(""), task_c.url(""));
    let (server, _) = gateway_over(&auth_server, &format!("{a},{b},{c}")).await;

    let (_, body) = health_until(&server, |s, _| s == 200).await;
    assert_eq!(body["status"], "ok");
    for url in [&a, &b, &c] {
        assert_eq!(replica(&body, url)["status"], "ready", "{body}");
    }

    // C dies: it is reported unreachable, with since when; the service is still served, the system degraded.
    task_c.shutdown().await.unwrap();
    let (status, body) =
        health_until(&server, |_, b| replica(b, &c)["status"] == "unreachable").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(
        body["services"]["task"]["status"], "ready",
        "A still serves"
    );
    assert_eq!(body["services"]["auth"]["status"], "ready");
    let since: Timestamp = replica(&body, &c)["since"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        since <= Timestamp::now() && Timestamp::now() - jiff::SignedDuration::from_secs(10) < since
    );
    assert!(
        replica(&body, &c)["error"]
            .as_str()
            .unwrap()
            .contains("onnect"),
        "the connection error is named: {body}"
    );
    assert_eq!(replica(&body, &a)["status"], "ready");
    // Seen unreachable by several probes and health checks, it is logged once.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = server
        .client
        .get(server.url("/health"))
        .send()
        .await
        .unwrap();
    let warned = logs.lines_with("upstream replica is unreachable");
    assert_eq!(warned.len(), 1, "one line per transition: {warned:?}");
    assert!(warned[0].contains("WARN") && warned[0].contains(&c) && warned[0].contains("task"));
    let later = replica(&health_until(&server, |_, _| true).await.1, &c)["since"].clone();
    assert_eq!(
        later,
        json!(since.to_string()),
        "since stays when the state does"
    );

    // B drains and comes back: not ready (WARN), then ready again (INFO), each once.
    draining.store(true, Ordering::SeqCst);
    let (status, body) =
        health_until(&server, |_, h| replica(h, &b)["status"] == "not ready").await;
    assert_eq!(status, 503);
    assert!(
        replica(&body, &b)["error"]
            .as_str()
            .unwrap()
            .contains("503"),
        "{body}"
    );
    draining.store(false, Ordering::SeqCst);
    let (status, _) = health_until(&server, |_, h| replica(h, &b)["status"] == "ready").await;
    assert_eq!(status, 503, "C is still unreachable");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let drained = logs.lines_with("upstream replica is not ready");
    assert_eq!(drained.len(), 1, "{drained:?}");
    assert!(drained[0].contains("WARN") && drained[0].contains(&b));
    let back = logs.lines_with("upstream replica is ready again");
    assert_eq!(back.len(), 1, "{back:?}");
    assert!(back[0].contains("INFO") && back[0].contains(&b));
    assert_eq!(
        logs.lines_with("upstream replica is unreachable").len(),
        1,
        "C's state did not change"
    );
}
