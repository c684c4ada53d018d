//! The FCM HTTP v1 sender against a fake FCM (OAuth token endpoint + messages:send), through the dispatcher.

mod support;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use pinit_contracts::events::ScheduleState;
use pinit_kernel::Backend;
use pinit_notification::FcmSettings;
use pinit_notification::domain::Outcome;
use pinit_testkit::TestServer;
use pkcs8::EncodePrivateKey;
use serde_json::{Value, json};
use support::{App, id, secs, spawn_with, test_settings, upcoming};

static KEY_PEM: LazyLock<String> = LazyLock::new(|| {
    let key = rsa::PrivateKey::new(&mut rand::rng(), 2048).expect("an RSA key");
    key.to_pkcs8_pem(pkcs8::LineEnding::LF)
        .expect("PEM")
        .to_string()
});

#[derive(Default)]
struct FcmState {
    tokens_issued: AtomicUsize,
    /// Access tokens the fake refuses (as expired) once.
    expire_next: Mutex<bool>,
    valid: Mutex<Vec<String>>,
    assertions: Mutex<Vec<Value>>,
    received: Mutex<Vec<(String, Value)>>,
    script: Mutex<HashMap<String, VecDeque<(u16, Value)>>>,
}

struct FakeFcm {
    server: TestServer,
    state: Arc<FcmState>,
}

async fn token(State(s): State<Arc<FcmState>>, body: String) -> impl IntoResponse {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(
        form["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let claims = form["assertion"].split('.').nth(1).unwrap();
    s.assertions
        .lock()
        .unwrap()
        .push(serde_json::from_slice(&B64.decode(claims).unwrap()).unwrap());
    let n = s.tokens_issued.fetch_add(1, Ordering::SeqCst) + 1;
    let token = format!("at-{n}");
    s.valid.lock().unwrap().push(token.clone());
    axum::Json(json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}))
}

async fn send(
    State(s): State<Arc<FcmState>>,
    Path((project, action)): Path<(String, String)>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> impl IntoResponse {
    assert_eq!(
        (project.as_str(), action.as_str()),
        ("pinit-test", "messages:send")
    );
    let bearer = headers["authorization"]
        .to_str()
        .unwrap()
        .trim_start_matches("Bearer ")
        .to_string();
    {
        let mut expire = s.expire_next.lock().unwrap();
        if *expire {
            *expire = false;
            s.valid.lock().unwrap().retain(|t| *t != bearer);
        }
    }
    if !s.valid.lock().unwrap().contains(&bearer) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(
                json!({"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "Request had invalid authentication credentials."}}),
            ),
        );
    }
    let token = body["message"]["token"].as_str().unwrap().to_string();
    s.received.lock().unwrap().push((token.clone(), body));
    let reply = s
        .script
        .lock()
        .unwrap()
        .get_mut(&token)
        .and_then(|q| q.pop_front());
    match reply {
        Some((status, body)) => (StatusCode::from_u16(status).unwrap(), axum::Json(body)),
        None => (
            StatusCode::OK,
            axum::Json(json!({"name": "projects/pinit-test/messages/0:1"})),
        ),
    }
}

fn fcm_error(status: &str, code: &str, field: Option<&str>) -> Value {
    let mut details = vec![
        json!({"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}),
    ];
    if let Some(f) = field {
        details.push(json!({"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"field": f}]}));
    }
    json!({"error": {"code": 400, "status": status, "message": "error", "details": details}})
}

async fn spawn_fcm(backend: Backend) -> (App, FakeFcm, tempfile::TempDir) {
    let state = Arc::new(FcmState::default());
    let router = Router::new()
        .route("/token", post(token))
        .route("/v1/projects/{project}/{action}", post(send))
        .with_state(state.clone());
    let server = TestServer::spawn(router).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("firebase.json");
    std::fs::write(
        &path,
        json!({
            "type": "service_account",
            "project_id": "pinit-test",
            "private_key_id": "kid-1",
            "private_key": *KEY_PEM,
            "client_email": "pinit@pinit-test.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token"
        })
        .to_string(),
    )
    .unwrap();
    let mut settings = test_settings();
    settings.fcm = Some(FcmSettings {
        service_account_file: path,
        api_url: server.url(""),
        token_url: Some(server.url("/token")),
    });
    let app = spawn_with(backend, settings).await;
    (app, FakeFcm { server, state }, dir)
}

async fn subscribe_token(app: &App, member: i64, device: &str, token: &str) {
    let res = app
        .post(
            "/v0/push/subscribe",
            Some(&member.to_string()),
            json!({"deviceId": device, "token": token}),
        )
        .await;
    assert_eq!(res.status(), 200);
}

async fn due(app: &App, owner: i64, title: &str) -> i64 {
    let schedule = id();
    let start = app.now();
    app.directory
        .put(schedule, owner, title, start, ScheduleState::NotStarted);
    app.publish_one(upcoming(schedule, owner, start, 1, start))
        .await;
    schedule
}

async fn data_only_messages_with_one_cached_access_token(backend: Backend) {
    let (app, fcm, _dir) = spawn_fcm(backend).await;
    let owner = id();
    subscribe_token(&app, owner, "phone", "token-phone").await;
    subscribe_token(&app, owner, "tablet", "token-tablet").await;
    let schedule = due(&app, owner, "운동").await;
    let dispatcher = app.dispatcher();
    dispatcher.run_once().await.unwrap();
    let received = fcm.state.received.lock().unwrap().clone();
    assert_eq!(received.len(), 2);
    for (_, body) in &received {
        let m = &body["message"];
        assert!(
            m.get("notification").is_none(),
            "data-only: the service worker deduplicates"
        );
        assert_eq!(m["data"]["scheduleId"], schedule.to_string());
        assert_eq!(m["data"]["scheduleTitle"], "운동");
        assert!(m["data"]["idempotentKey"].is_string());
        assert_eq!(m["android"]["priority"], "HIGH");
        assert_eq!(m["webpush"]["headers"]["Urgency"], "high");
        assert_eq!(
            m["webpush"]["headers"]["Topic"],
            format!("schedule-{schedule}")
        );
    }
    assert_eq!(
        fcm.state.tokens_issued.load(Ordering::SeqCst),
        1,
        "the access token is cached"
    );
    let assertion = fcm.state.assertions.lock().unwrap()[0].clone();
    assert_eq!(assertion["iss"], "pinit@pinit-test.iam.gserviceaccount.com");
    assert_eq!(
        assertion["scope"],
        "https://www.googleapis.com/auth/firebase.messaging"
    );
    assert_eq!(assertion["aud"], fcm.server.url("/token"));
    assert_eq!(app.outcomes(schedule).await[0].outcome, Outcome::Delivered);

    // An access token the API no longer accepts is dropped, a new one fetched, the send retried.
    *fcm.state.expire_next.lock().unwrap() = true;
    let again = due(&app, owner, "두 번째").await;
    dispatcher.run_once().await.unwrap();
    app.advance(secs(3));
    dispatcher.run_once().await.unwrap();
    assert_eq!(fcm.state.tokens_issued.load(Ordering::SeqCst), 2);
    assert_eq!(app.outcomes(again).await[0].outcome, Outcome::Delivered);
}

async fn fcm_errors_are_classified(backend: Backend) {
    let (app, fcm, _dir) = spawn_fcm(backend).await;
    let owner = id();
    for device in [
        "ok",
        "unregistered",
        "bad-token",
        "bad-payload",
        "mismatch",
        "quota",
    ] {
        subscribe_token(&app, owner, device, &format!("token-{device}")).await;
    }
    {
        let mut script = fcm.state.script.lock().unwrap();
        script.insert(
            "token-unregistered".into(),
            [(404, fcm_error("NOT_FOUND", "UNREGISTERED", None))].into(),
        );
        script.insert(
            "token-bad-token".into(),
            [(
                400,
                fcm_error(
                    "INVALID_ARGUMENT",
                    "INVALID_ARGUMENT",
                    Some("message.token"),
                ),
            )]
            .into(),
        );
        script.insert(
            "token-bad-payload".into(),
            [(
                400,
                fcm_error("INVALID_ARGUMENT", "INVALID_ARGUMENT", Some("message.data")),
            )]
            .into(),
        );
        script.insert(
            "token-mismatch".into(),
            [(
                403,
                fcm_error("PERMISSION_DENIED", "SENDER_ID_MISMATCH", None),
            )]
            .into(),
        );
        script.insert(
            "token-quota".into(),
            [(429, fcm_error("RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", None))].into(),
        );
    }
    let schedule = due(&app, owner, "t").await;
    let dispatcher = app.dispatcher();
    dispatcher.run_once().await.unwrap();
    app.advance(secs(3));
    dispatcher.run_once().await.unwrap();
    let status: HashMap<String, (String, i64)> = app
        .deliveries(schedule)
        .await
        .into_iter()
        .map(|d| {
            (
                d.device_id.to_string(),
                (d.status.as_str().to_string(), d.attempts),
            )
        })
        .collect();
    assert_eq!(status["ok"], ("sent".into(), 1));
    assert_eq!(status["unregistered"].0, "gone");
    assert_eq!(status["bad-token"].0, "gone");
    assert_eq!(status["mismatch"].0, "gone");
    assert_eq!(
        status["bad-payload"].0, "failed",
        "a bad payload must not wipe tokens"
    );
    assert_eq!(status["quota"], ("sent".into(), 2));
    let mut left: Vec<String> = app
        .subscriptions(owner)
        .await
        .into_iter()
        .map(|s| s.device_id.to_string())
        .collect();
    left.sort();
    assert_eq!(left, ["bad-payload", "ok", "quota"]);
}

async fn without_fcm_settings_tokens_fail_visibly(backend: Backend) {
    let app = support::spawn_app(backend).await;
    let owner = id();
    subscribe_token(&app, owner, "phone", "token-phone").await;
    let schedule = due(&app, owner, "t").await;
    app.dispatcher().run_once().await.unwrap();
    let d = &app.deliveries(schedule).await[0];
    assert_eq!(d.status.as_str(), "failed");
    assert!(
        d.last_error
            .as_deref()
            .unwrap()
            .contains("FCM is not configured")
    );
    assert_eq!(app.subscription_count(owner).await, 1, "kept");
}

pinit_testkit::both_backends!(
    data_only_messages_with_one_cached_access_token,
    fcm_errors_are_classified,
    without_fcm_settings_tokens_fail_visibly,
);
