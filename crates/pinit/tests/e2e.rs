//! End to end through the gateway only, in both run modes: the same scenarios against `pinit serve` and
//! against four processes on PostgreSQL and RabbitMQ.

mod support;

use serde_json::{Value, json};
use support::system::{Layout, System};

/// A member of the system under test: signs up and logs in through the gateway.
struct Member {
    token: String,
    refresh: String,
}

/// The `refresh_token` a response sets.
fn refresh_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("refresh_token="))
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
}

async fn member(system: &System, client: &reqwest::Client, username: &str) -> Member {
    let res = client
        .post(system.url("/v0/signup"))
        .json(&json!({"username": username, "password": "password-123", "nickname": "e2e", "zoneId": "Europe/Berlin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let res = client
        .post(system.url("/v0/login"))
        .json(&json!({"username": username, "password": "password-123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let refresh = refresh_cookie(&res).expect("refresh cookie");
    let body: Value = res.json().await.unwrap();
    Member {
        token: body["token"].as_str().unwrap().to_string(),
        refresh,
    }
}

async fn accounts_and_sessions(layout: Layout) {
    let system = System::start(layout, &[]).await;
    let client = pinit_testkit::client();
    let alice = member(&system, &client, "alice.e2e").await;

    let me: Value = client
        .get(system.url("/v0/me"))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "alice.e2e");
    assert_eq!(me["zoneId"], "Europe/Berlin");

    // Refresh rotation, then logout with only the cookie; the old session is dead.
    let res = client
        .post(system.url("/v0/refresh"))
        .header("cookie", format!("refresh_token={}", alice.refresh))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let rotated = refresh_cookie(&res).expect("rotated cookie");
    let res = client
        .post(system.url("/v0/logout"))
        .header("cookie", format!("refresh_token={rotated}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = client
        .post(system.url("/v0/refresh"))
        .header("cookie", format!("refresh_token={rotated}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    for (name, status) in system.stop().await {
        assert_eq!(status.code(), Some(0), "{name} exits cleanly");
    }
}

mod embedded {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn accounts_and_sessions() {
        super::accounts_and_sessions(super::Layout::Embedded).await
    }
}

mod distributed {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn accounts_and_sessions() {
        super::accounts_and_sessions(super::Layout::Distributed).await
    }
}
