//! The calendar paths of the gateway in front of fake services: CalDAV apps signing in with HTTP Basic and an
//! app password (checked by a fake auth that, like the real one, answers only the gateway's signed call), what
//! the task service then sees, how long a deleted app password keeps working, where Basic is refused, the
//! well-known redirect, the public feeds, and WebDAV's methods and headers passing through unchanged.

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
use pinit_gateway::calendar::{CHALLENGE, CHECK_CACHE_TTL};
use pinit_gateway::{Edge, Settings, Upstreams};
use pinit_kernel::identity::{
    ASSERTION_HEADER, GatewayCall, IdentityKey, Vouching, app_password_check, vouched_members_only,
};
use pinit_kernel::jwt::{self, AccessClaims, Jwk, Jwks};
use pinit_kernel::{ApiError, Clock, ErrorStyle, ManualClock, Readiness, SharedClock};
use pinit_testkit::TestServer;
use rsa::PrivateKey;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const ISS: &str = "https://pinit.test";
const APP_PASSWORD: &str = "abcd-efgh-ijkl-mnop-qrst-uvwx-yz23";

static KEY: LazyLock<PrivateKey> =
    LazyLock::new(|| PrivateKey::new(&mut rand::rng(), 2048).expect("key"));

/// A fake auth: the JWKS, and the app-password check for the gateway's signed calls only.
#[derive(Clone, Default)]
struct FakeAuth {
    /// (username, password) → member.
    passwords: Arc<Mutex<HashMap<(String, String), i64>>>,
    /// Checks answered (the gateway's calls that got through the identity check).
    checks: Arc<Mutex<Vec<app_password_check::Check>>>,
    /// Answer 429 with this Retry-After.
    limited: Arc<Mutex<Option<u64>>>,
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
struct FakeTask {
    hits: Arc<Mutex<u32>>,
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

struct Gw {
    server: TestServer,
    client: reqwest::Client,
    auth: FakeAuth,
    task: FakeTask,
    clock: Arc<ManualClock>,
    /// The key the gateway signs with.
    identity: IdentityKey,
    _upstreams: Vec<TestServer>,
}

/// A gateway over the fakes; `auth_key` is the identity key the fake auth checks the gateway's calls with
/// (the gateway's own when `None`).
async fn gateway(auth_key: Option<IdentityKey>) -> Gw {
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

fn basic(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{username}:{password}"))
    )
}

fn method(name: &str) -> reqwest::Method {
    reqwest::Method::from_bytes(name.as_bytes()).unwrap()
}

impl Gw {
    /// A request from a client that follows no redirect (to see the well-known one).
    fn request(&self, m: &str, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method(m), self.server.url(path))
    }

    fn token(&self, sub: &str) -> String {
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

    fn checks(&self) -> usize {
        self.auth.checks.lock().unwrap().len()
    }

    fn task_hits(&self) -> u32 {
        *self.task.hits.lock().unwrap()
    }
}

async fn assert_challenge(res: reqwest::Response, what: &str) {
    assert_eq!(res.status(), 401, "{what}");
    let challenges: Vec<_> = res.headers().get_all("www-authenticate").iter().collect();
    assert_eq!(challenges, [CHALLENGE], "{what}");
    assert_eq!(CHALLENGE, "Basic realm=\"Pinit\", charset=\"UTF-8\"");
    // The unread body leaves the connection unusable: the client's retry must go on a new one.
    assert_eq!(res.headers()["connection"], "close", "{what}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], 401, "{what}: {body}");
}

#[tokio::test]
async fn basic_with_an_app_password_reaches_the_task_service_as_the_member() {
    let gw = gateway(None).await;
    let propfind = r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>"#;
    let res = gw
        .request("PROPFIND", "/dav/")
        .header("authorization", basic("alice", APP_PASSWORD))
        .header("x-member-id", "7")
        .header("depth", "0")
        .header("content-type", "application/xml; charset=utf-8")
        .body(propfind)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 207);
    let seen: Value = res.json().await.unwrap();
    assert_eq!(seen["method"], "PROPFIND");
    assert_eq!(seen["path"], "/dav/");
    assert_eq!(seen["body"], propfind);
    let headers = &seen["headers"];
    assert_eq!(
        headers["x-member-id"], "42",
        "the app password's member, not the client's header"
    );
    assert!(headers.get("authorization").is_none(), "{seen}");
    assert_eq!(headers["depth"], "0");
    // Vouched for exactly as a JWT request: the assertion holds for this method and path.
    let assertion = headers[ASSERTION_HEADER].as_str().unwrap();
    assert_eq!(
        gw.identity
            .verify(assertion, "PROPFIND", "/dav/", gw.clock.now().as_second()),
        Some(42)
    );

    // Auth was asked once, by the gateway's signed call, with the client's address.
    {
        let checks = gw.auth.checks.lock().unwrap();
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].username, "alice");
        assert_eq!(checks[0].client_ip, "127.0.0.1");
    }
    // A calendar sync's next requests within the bound are not checked again.
    for path in ["/dav", "/dav/calendars/42/schedules/"] {
        let res = gw
            .request("PROPFIND", path)
            .header("authorization", basic("alice", APP_PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 207, "{path}");
        let seen: Value = res.json().await.unwrap();
        assert_eq!(seen["path"], path);
        assert_eq!(seen["headers"]["x-member-id"], "42");
    }
    assert_eq!(gw.checks(), 1);

    // The web client may use its access token instead.
    let res = gw
        .request("REPORT", "/dav/calendars/5/")
        .bearer_auth(gw.token("5"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 207);
    let seen: Value = res.json().await.unwrap();
    assert_eq!(seen["headers"]["x-member-id"], "5");
    assert!(seen["headers"].get("authorization").is_none());
}

#[tokio::test]
async fn missing_or_wrong_credentials_are_a_401_with_the_basic_challenge() {
    let gw = gateway(None).await;
    let cases = [
        ("no credentials", None),
        (
            "wrong app password",
            Some(basic("alice", "aaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaa")),
        ),
        ("another username", Some(basic("bob", APP_PASSWORD))),
        ("the account password", Some(basic("alice", "password-123"))),
        ("not base64", Some("Basic !!!".to_string())),
        (
            "no colon",
            Some(format!("Basic {}", STANDARD.encode("alice"))),
        ),
        ("a bad token", Some("Bearer not-a-jwt".to_string())),
        (
            "another scheme",
            Some("Digest username=\"alice\"".to_string()),
        ),
    ];
    for (what, authorization) in cases {
        for m in ["PROPFIND", "OPTIONS", "GET", "PUT"] {
            let mut request = gw.request(m, "/dav/calendars/42/");
            if let Some(a) = &authorization {
                request = request.header("authorization", a);
            }
            assert_challenge(request.send().await.unwrap(), &format!("{what}, {m}")).await;
        }
    }
    assert_eq!(gw.task_hits(), 0, "nothing reached the task service");
    // Failures are never cached: each one is auth's to count.
    let wrong = basic("alice", "aaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaa");
    let before = gw.checks();
    for _ in 0..3 {
        let res = gw
            .request("PROPFIND", "/dav/")
            .header("authorization", &wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    assert_eq!(gw.checks(), before + 3);
}

#[tokio::test]
async fn a_deleted_app_password_stops_working_within_the_cache_bound() {
    let gw = gateway(None).await;
    let propfind = || {
        gw.request("PROPFIND", "/dav/")
            .header("authorization", basic("alice", APP_PASSWORD))
            .send()
    };
    assert_eq!(propfind().await.unwrap().status(), 207);
    // The member deletes it (auth refuses it from now on).
    gw.auth.passwords.lock().unwrap().clear();
    // This replica may still accept it until its check is CHECK_CACHE_TTL old, never after.
    let bound = jiff::SignedDuration::try_from(CHECK_CACHE_TTL).unwrap();
    assert!(
        bound <= jiff::SignedDuration::from_secs(5),
        "docs/calendar.md says 5 s"
    );
    gw.clock
        .advance(bound - jiff::SignedDuration::from_millis(1));
    assert_eq!(propfind().await.unwrap().status(), 207);
    gw.clock.advance(jiff::SignedDuration::from_millis(1));
    assert_challenge(propfind().await.unwrap(), "deleted").await;
    assert_eq!(gw.checks(), 2);
}

#[tokio::test]
async fn basic_credentials_are_never_accepted_on_the_json_api() {
    let gw = gateway(None).await;
    for (m, path) in [
        ("GET", "/v2/tasks"),
        ("POST", "/v2/schedules"),
        ("GET", "/v0/me"),
        ("GET", "/v0/app-passwords"),
        ("POST", "/v0/app-passwords"),
        ("GET", "/v0/push/subscribed"),
    ] {
        let res = gw
            .request(m, path)
            .header("authorization", basic("alice", APP_PASSWORD))
            .json(&json!({"name": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{m} {path}");
        assert_eq!(res.headers()["www-authenticate"], "Bearer", "{m} {path}");
    }
    assert_eq!(gw.checks(), 0, "never even checked");
    assert_eq!(gw.task_hits(), 0);
    // Nor does the gateway route auth's internal check from outside.
    let res = gw
        .request("POST", app_password_check::PATH)
        .bearer_auth(gw.token("42"))
        .json(&json!({"username": "alice", "password": APP_PASSWORD, "clientIp": "1.2.3.4"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(gw.checks(), 0);
}

#[tokio::test]
async fn the_well_known_caldav_address_redirects_to_dav_once_signed_in() {
    let gw = gateway(None).await;
    for m in ["GET", "PROPFIND", "HEAD", "OPTIONS"] {
        let res = gw
            .request(m, "/.well-known/caldav")
            .header("authorization", basic("alice", APP_PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 301, "{m}");
        assert_eq!(res.headers()["location"], "/dav/", "{m}");
    }
    let res = gw
        .request("PROPFIND", "/.well-known/caldav")
        .bearer_auth(gw.token("5"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 301);
    assert_challenge(
        gw.request("PROPFIND", "/.well-known/caldav")
            .send()
            .await
            .unwrap(),
        "well-known without credentials",
    )
    .await;
    assert_eq!(gw.task_hits(), 0, "the gateway answers it itself");
}

#[tokio::test]
async fn feeds_are_public_reads_whose_token_the_task_service_checks() {
    let gw = gateway(None).await;
    let res = gw
        .request("GET", "/feeds/3Yk9q-token.ics?x=1")
        .header("x-member-id", "7")
        .header("authorization", basic("alice", APP_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 207, "reached the task service");
    let seen: Value = res.json().await.unwrap();
    assert_eq!(seen["path"], "/feeds/3Yk9q-token.ics");
    assert_eq!(seen["query"], "x=1");
    assert!(
        seen["headers"].get("x-member-id").is_none(),
        "no member: {seen}"
    );
    assert!(seen["headers"].get(ASSERTION_HEADER).is_none());
    assert!(
        seen["headers"].get("authorization").is_none(),
        "credentials go no further: {seen}"
    );
    assert_eq!(gw.checks(), 0, "nor are they checked");
    let head = gw.request("HEAD", "/feeds/t.ics").send().await.unwrap();
    assert_eq!(head.status(), 207);
    assert_eq!(head.headers()["etag"], "\"v7\"");
    // Only reads, with or without a token.
    for m in ["POST", "PUT", "DELETE"] {
        let res = gw.request(m, "/feeds/t.ics").send().await.unwrap();
        assert_eq!(res.status(), 405, "{m}");
        let with_token = gw
            .request(m, "/feeds/t.ics")
            .bearer_auth(gw.token("5"))
            .send()
            .await
            .unwrap();
        assert_eq!(with_token.status(), 405, "{m}");
    }
    assert_eq!(gw.task_hits(), 2);
}

#[tokio::test]
async fn webdav_methods_headers_and_bodies_pass_through_unchanged() {
    let gw = gateway(None).await;
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1@pinit\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    for m in [
        "PROPFIND",
        "PROPPATCH",
        "REPORT",
        "OPTIONS",
        "GET",
        "HEAD",
        "PUT",
        "DELETE",
        "MKCALENDAR",
        "MKCOL",
        "MOVE",
        "COPY",
    ] {
        let path = "/dav/calendars/42/schedules/1.ics";
        let res = gw
            .request(m, path)
            .header("authorization", basic("alice", APP_PASSWORD))
            .header("depth", "1")
            .header("if-match", "\"v6\"")
            .header("if-none-match", "*")
            .header("content-type", "text/calendar; charset=utf-8")
            .header(
                "destination",
                "http://localhost/dav/calendars/42/schedules/2.ics",
            )
            .header("overwrite", "F")
            .header("prefer", "return=minimal")
            .body(ics)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 207, "{m}");
        assert_eq!(res.headers()["etag"], "\"v7\"", "{m}");
        assert_eq!(res.headers()["dav"], "1, 2, calendar-access", "{m}");
        if m == "HEAD" {
            continue;
        }
        let seen: Value = res.json().await.unwrap();
        assert_eq!(seen["method"], m);
        assert_eq!(seen["path"], path);
        assert_eq!(seen["body"], ics, "{m}");
        let h = &seen["headers"];
        for (name, value) in [
            ("depth", "1"),
            ("if-match", "\"v6\""),
            ("if-none-match", "*"),
            ("content-type", "text/calendar; charset=utf-8"),
            (
                "destination",
                "http://localhost/dav/calendars/42/schedules/2.ics",
            ),
            ("overwrite", "F"),
            ("prefer", "return=minimal"),
            ("x-member-id", "42"),
        ] {
            assert_eq!(h[name], value, "{m} {name}");
        }
        let assertion = h[ASSERTION_HEADER].as_str().unwrap();
        assert_eq!(
            gw.identity
                .verify(assertion, m, path, gw.clock.now().as_second()),
            Some(42),
            "{m}: bound to its own method"
        );
    }
    assert_eq!(gw.checks(), 1);
}

#[tokio::test]
async fn a_rate_limited_check_is_a_429_and_an_auth_that_refuses_the_gateway_a_503() {
    let gw = gateway(None).await;
    *gw.auth.limited.lock().unwrap() = Some(42);
    let res = gw
        .request("PROPFIND", "/dav/")
        .header("authorization", basic("alice", APP_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "42");

    // An auth that does not share the gateway's identity key refuses its calls (403): the calendar app gets a
    // 503, not a 401 that would make it ask the member for a new password.
    let gw = gateway(Some(IdentityKey::generate())).await;
    let res = gw
        .request("PROPFIND", "/dav/")
        .header("authorization", basic("alice", APP_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(
        gw.checks(),
        0,
        "auth never checked a call it could not verify"
    );
    assert_eq!(gw.task_hits(), 0);
}
