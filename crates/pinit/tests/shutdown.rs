//! SIGTERM while a request is in flight: the request finishes, then the process exits cleanly.

mod support;

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use support::Pinit;

/// A task service stand-in whose one route answers after `delay`.
async fn slow_upstream(delay: Duration) -> pinit_testkit::TestServer {
    let router = Router::new().route(
        "/v0/login/oauth2/authorize/slow",
        get(move || async move {
            tokio::time::sleep(delay).await;
            "finished"
        }),
    );
    pinit_testkit::TestServer::spawn(router).await
}

#[tokio::test]
async fn sigterm_lets_a_slow_request_finish() {
    let upstream = slow_upstream(Duration::from_millis(1500)).await;
    let dir = tempfile::tempdir().unwrap();
    let upstream_url = upstream.url("");
    let gateway = Pinit::start(
        &["gateway", "--host", "127.0.0.1", "--port", "0"],
        &[
            ("PINIT_GATEWAY_TASK_URL", upstream_url.as_str()),
            ("PINIT_GATEWAY_AUTH_URL", upstream_url.as_str()),
            ("PINIT_GATEWAY_NOTIFICATION_URL", upstream_url.as_str()),
        ],
        dir.path(),
    );
    let client = pinit_testkit::client();
    let request = tokio::spawn(
        client
            .get(gateway.url("/v0/login/oauth2/authorize/slow"))
            .send(),
    );
    // Let the request reach the upstream, then ask the process to stop.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let url = gateway.url("/healthz");
    gateway.signal("TERM");

    let response = request
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "finished");

    // New connections are refused once draining has begun.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        client.get(&url).send().await.is_err(),
        "no longer accepting"
    );

    let status = tokio::task::spawn_blocking(move || gateway.wait(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "exited within the drain deadline"
    );
}

#[tokio::test]
async fn the_drain_deadline_bounds_a_hung_request() {
    let upstream = slow_upstream(Duration::from_secs(60)).await;
    let dir = tempfile::tempdir().unwrap();
    let upstream_url = upstream.url("");
    let gateway = Pinit::start(
        &["gateway", "--host", "127.0.0.1", "--port", "0"],
        &[
            ("PINIT_GATEWAY_TASK_URL", upstream_url.as_str()),
            ("PINIT_GATEWAY_AUTH_URL", upstream_url.as_str()),
            ("PINIT_GATEWAY_NOTIFICATION_URL", upstream_url.as_str()),
            ("PINIT_SHUTDOWN_DRAIN_TIMEOUT", "1s"),
        ],
        dir.path(),
    );
    let client = pinit_testkit::client();
    let _request = tokio::spawn(
        client
            .get(gateway.url("/v0/login/oauth2/authorize/slow"))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    gateway.signal("TERM");
    let status = tokio::task::spawn_blocking(move || gateway.wait(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        status.code(),
        Some(1),
        "a cut drain is reported as a failure"
    );
}
