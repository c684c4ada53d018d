//! The standard service edge: error bodies, request ids, probes, graceful draining.

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use pinit_kernel::extract::Json;
use pinit_kernel::http::service_router;
use pinit_kernel::{ApiError, ErrorStyle, Readiness, SystemClock};
use pinit_testkit::TestServer;
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

#[derive(Deserialize)]
#[allow(dead_code)]
struct NewThing {
    title: String,
    importance: u8,
}

async fn create(Json(_thing): Json<NewThing>) -> &'static str {
    "created"
}

async fn conflict() -> Result<(), ApiError> {
    Err(ApiError::conflict("이미 실행 중인 일정이 존재합니다."))
}

fn app(style: ErrorStyle) -> (Router, Readiness) {
    let readiness = Readiness::new("test", CancellationToken::new());
    let routes = Router::new()
        .route("/things", post(create))
        .route("/conflict", get(conflict));
    (
        service_router("test", routes, &readiness, style, SystemClock::shared()),
        readiness,
    )
}

#[tokio::test]
async fn errors_have_the_reference_body_with_the_path() {
    let (router, _) = app(ErrorStyle::Full);
    let server = TestServer::spawn(router).await;

    let res = server
        .client
        .get(server.url("/conflict"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    assert_eq!(res.headers()["content-type"], "application/json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], 409);
    assert_eq!(body["error"], "Conflict");
    assert_eq!(body["message"], "이미 실행 중인 일정이 존재합니다.");
    assert_eq!(body["path"], "/conflict");
    assert_eq!(body["errors"], serde_json::json!([]));
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn bad_input_is_a_400_never_a_500() {
    let (router, _) = app(ErrorStyle::Full);
    let server = TestServer::spawn(router).await;
    let post = |body: &'static str, content_type: &'static str| {
        server
            .client
            .post(server.url("/things"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let res = post("{not json", "application/json").await.unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Malformed JSON"),
        "{body}"
    );

    let res = post(r#"{"title":"x","importance":"high"}"#, "application/json")
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("importance"),
        "{body}"
    );

    let res = post(r#"{"title":"x","importance":1}"#, "text/plain")
        .await
        .unwrap();
    assert_eq!(res.status(), 415);

    let res = server
        .client
        .get(server.url("/nowhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["path"], "/nowhere");

    let res = server
        .client
        .delete(server.url("/things"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], 405);
}

#[tokio::test]
async fn message_only_style_for_auth() {
    let (router, _) = app(ErrorStyle::MessageOnly);
    let server = TestServer::spawn(router).await;
    let res = server
        .client
        .get(server.url("/conflict"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"message": "이미 실행 중인 일정이 존재합니다."})
    );
}

#[tokio::test]
async fn request_ids_are_generated_kept_or_replaced() {
    let (router, _) = app(ErrorStyle::Full);
    let server = TestServer::spawn(router).await;

    let res = server
        .client
        .get(server.url("/conflict"))
        .send()
        .await
        .unwrap();
    let generated = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");

    let res = server
        .client
        .get(server.url("/conflict"))
        .header("x-request-id", "gw-123_abc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "gw-123_abc");

    let res = server
        .client
        .get(server.url("/conflict"))
        .header("x-request-id", "evil\tlog injection")
        .send()
        .await
        .unwrap();
    let replaced = res.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(replaced).is_ok(), "{replaced}");
}

#[tokio::test]
async fn readiness_is_false_before_migrations() {
    let (router, readiness) = app(ErrorStyle::Full);
    let server = TestServer::spawn(router).await;

    let live = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200, "liveness answers from the start");

    let res = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["checks"]["migrations"], "pending");

    readiness.set_migrated();
    let res = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}

#[tokio::test]
async fn shutdown_lets_a_slow_request_finish() {
    let readiness = Readiness::new("slow", CancellationToken::new());
    let routes = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(800)).await;
            "finished"
        }),
    );
    let router = service_router(
        "slow",
        routes,
        &readiness,
        ErrorStyle::Full,
        SystemClock::shared(),
    );
    let server = TestServer::spawn(router).await;
    let url = server.url("/slow");
    let addr = server.addr;
    let client = server.client.clone();
    let in_flight = tokio::spawn(async move { client.get(url).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = std::time::Instant::now();
    server.shutdown().await.expect("clean shutdown");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "shutdown waited for the request"
    );

    let res = in_flight
        .await
        .unwrap()
        .expect("the in-flight request completed");
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "finished");
    // And the listener is closed now.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
