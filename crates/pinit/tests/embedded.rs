//! `pinit serve` as a newcomer runs it: a fresh directory, one command, data and keys that survive restarts.

mod support;

use std::time::Duration;

use support::{Pinit, run};

#[tokio::test]
async fn serve_starts_from_nothing_and_keeps_its_data_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let client = pinit_testkit::client();

    let first = Pinit::start(&["serve", "--port", "0"], &[], dir.path());
    let live = client.get(first.url("/healthz")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    let health: serde_json::Value = client
        .get(first.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    for service in ["auth", "task", "notification"] {
        assert_eq!(health["services"][service]["status"], "ready", "{health}");
        let replicas = &health["services"][service]["replicas"];
        assert_eq!(replicas[0]["url"], "in-process", "{health}");
        assert_eq!(replicas[0]["status"], "ready", "{health}");
    }
    assert!(first.logged("generated a JWT signing key"));
    assert!(first.logged("generated a VAPID key"));
    // Nothing runs against a schema that is not there yet (auth's housekeeping once did, and warned).
    assert_eq!(
        first.problems(),
        Vec::<String>::new(),
        "a fresh start is clean"
    );

    let data = dir.path().join("pinit-data");
    let keys = data.join("keys");
    let jwt_before = std::fs::read(keys.join("jwt-private.pem")).unwrap();
    let vapid_before = std::fs::read(keys.join("vapid-private.pem")).unwrap();
    for db in ["auth.db", "task.db", "notification.db"] {
        assert!(data.join(db).is_file(), "{db} created");
    }
    let claimed_before = claimed_at(&data.join("task.db")).await;

    let status = first.stop();
    assert_eq!(status.code(), Some(0), "clean exit on SIGTERM");

    let second = Pinit::start(&["serve", "--port", "0"], &[], dir.path());
    let res = client.get(second.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        !second.logged("generated a JWT signing key"),
        "keys are reused"
    );
    assert_eq!(
        std::fs::read(keys.join("jwt-private.pem")).unwrap(),
        jwt_before
    );
    assert_eq!(
        std::fs::read(keys.join("vapid-private.pem")).unwrap(),
        vapid_before
    );
    assert_eq!(
        claimed_at(&data.join("task.db")).await,
        claimed_before,
        "same database file"
    );
    assert_eq!(second.stop().code(), Some(0));
}

async fn claimed_at(path: &std::path::Path) -> i64 {
    let db = pinit_kernel::Db::connect(&pinit_kernel::Db::sqlite_url(path), &Default::default())
        .await
        .unwrap();
    let at: i64 = sqlx::query_scalar("SELECT claimed_at_us FROM pinit_database_owner")
        .fetch_one(db.pool())
        .await
        .unwrap();
    db.close().await;
    at
}

#[tokio::test]
async fn one_process_per_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let first = Pinit::start(&["serve", "--port", "0"], &[], dir.path());
    let (code, _, stderr) = run(&["serve", "--port", "0"], &[], dir.path());
    assert_eq!(code, 1);
    assert!(
        stderr.contains("is in use by another pinit process"),
        "{stderr}"
    );
    assert_eq!(first.stop().code(), Some(0));
}

#[tokio::test]
async fn a_busy_port_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, _, stderr) = run(&["serve", "--port", &port], &[], dir.path());
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("another program uses this port"),
        "{stderr}"
    );
}

#[tokio::test]
async fn metrics_are_served_on_their_own_port() {
    let dir = tempfile::tempdir().unwrap();
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port().to_string();
    drop(probe);
    let pinit = Pinit::start(
        &["serve", "--port", "0"],
        &[("PINIT_METRICS_PORT", &port)],
        dir.path(),
    );
    let client = pinit_testkit::client();
    client.get(pinit.url("/health")).send().await.unwrap();
    let metrics = client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("http_requests_total{service=\"gateway\""),
        "{metrics}"
    );
    // Never on the public port.
    let public = client.get(pinit.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
    let _ = pinit.wait_after_term();
}

trait StopExt {
    fn wait_after_term(self) -> std::process::ExitStatus;
}

impl StopExt for Pinit {
    fn wait_after_term(self) -> std::process::ExitStatus {
        self.signal("TERM");
        self.wait(Duration::from_secs(30))
    }
}

#[tokio::test]
async fn accounts_work_through_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let pinit = Pinit::start(&["serve", "--port", "0"], &[], dir.path());
    let client = pinit_testkit::client();
    let signup = client
        .post(pinit.url("/v0/signup"))
        .json(&serde_json::json!({"username": "newcomer", "password": "password-123", "nickname": "새내기"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 200);
    let login = client
        .post(pinit.url("/v0/login"))
        .json(&serde_json::json!({"username": "newcomer", "password": "password-123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap()
        .to_string();
    assert!(!cookie.contains("Secure"), "plain-HTTP localhost: {cookie}");
    let token: serde_json::Value = login.json().await.unwrap();
    let me: serde_json::Value = client
        .get(pinit.url("/v0/me"))
        .bearer_auth(token["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "newcomer");
    let jwks: serde_json::Value = client
        .get(pinit.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "RS256");
    let _ = pinit.wait_after_term();
}
