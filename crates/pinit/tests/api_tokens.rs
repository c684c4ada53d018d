//! Personal API tokens, the password change and `pinit user`, end to end through the gateway in both run modes
//! (docs/integrations.md): a token made with the web client's access token reads and writes as its member
//! within its scopes, cannot make tokens or change the password, stops working at its expiry and within seconds
//! of being revoked; a password change ends the other sessions; an operator disables, enables and resets a
//! member from the command line while Pinit runs.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::member::{provisioned_member, refresh_cookie};
use support::system::{Layout, System};

/// `pinit user …` against the system's auth database, from the command line.
async fn pinit_user(system: &System, args: &[&str]) -> (i32, String, String) {
    let mut args: Vec<String> = std::iter::once("user")
        .chain(args.iter().copied())
        .map(String::from)
        .collect();
    if let Some(url) = system.auth_database_url() {
        args.extend(["--database-url".to_string(), url]);
    }
    let dir = system.dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        support::run(&args, &[], &dir)
    })
    .await
    .unwrap()
}

/// Waits until `status()` is `expected`, at most `bound` (a gateway's cache) plus a little.
async fn within<F, Fut>(bound: Duration, expected: u16, mut status: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let since = Instant::now();
    loop {
        let now = status().await;
        if now == expected {
            return;
        }
        assert!(
            since.elapsed() < bound + Duration::from_millis(500),
            "still {now} after {:?}",
            since.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn tokens_work_within_their_scopes_and_stop_when_revoked(layout: Layout) {
    let system = System::start(layout, &[("PINIT_GATEWAY_RATE_LIMIT__ENABLED", "false")]).await;
    let http = pinit_testkit::client();
    let alice = provisioned_member(&system, &http, "alice").await;
    let make = |scopes: Value, expires_at: Option<String>| {
        http.post(system.url("/v0/tokens"))
            .bearer_auth(&alice.token)
            .json(&json!({"name": "script", "scopes": scopes, "expiresAt": expires_at}))
            .send()
    };
    let res = make(json!(["read"]), None).await.unwrap();
    assert_eq!(res.status(), 201);
    let read: Value = res.json().await.unwrap();
    let read = read["token"].as_str().unwrap().to_string();
    let res = make(json!(["read", "write"]), None).await.unwrap();
    let write: Value = res.json().await.unwrap();
    let write_id = write["id"].as_i64().unwrap();
    let write = write["token"].as_str().unwrap().to_string();
    assert!(write.starts_with("pinit_pat_"));

    let call = |method: reqwest::Method, path: &str, token: &str, body: Option<Value>| {
        let mut request = http.request(method, system.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    let new_task = json!({"title": "from a script", "description": "made with a token", "dueDate": {"date": "2030-01-02", "zoneId": "Asia/Seoul"}, "importance": 5, "difficulty": 3});

    // read: GET as Alice, nothing else.
    let res = call(
        reqwest::Method::GET,
        "/v2/tasks?page=0&size=10",
        &read,
        None,
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("alice의 일"));
    let me: Value = call(reqwest::Method::GET, "/v0/me", &read, None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["memberId"], alice.id);
    let task_path = format!("/v2/tasks/{}", alice.task_id);
    for (method, path, body) in [
        (reqwest::Method::POST, "/v2/tasks", Some(new_task.clone())),
        (reqwest::Method::DELETE, task_path.as_str(), None),
    ] {
        let res = call(method.clone(), path, &read, body).await.unwrap();
        assert_eq!(res.status(), 403, "{method} {path}");
        let body: Value = res.json().await.unwrap();
        assert!(
            body["message"].as_str().unwrap().contains("read scope"),
            "{body}"
        );
    }
    // write: anything the member may do with the API…
    let res = call(reqwest::Method::POST, "/v2/tasks", &write, Some(new_task))
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    // …but no tokens, no password change.
    for (method, path, body) in [
        (
            reqwest::Method::POST,
            "/v0/tokens",
            Some(json!({"name": "x", "scopes": ["write"]})),
        ),
        (reqwest::Method::GET, "/v0/tokens", None),
        (
            reqwest::Method::POST,
            "/v0/members/me/password",
            Some(json!({"currentPassword": "password-123", "newPassword": "password-456"})),
        ),
    ] {
        let res = call(method.clone(), path, &write, body).await.unwrap();
        assert_eq!(res.status(), 403, "{method} {path}");
    }

    // Listed with their last use, never their secret.
    let listed = call(reqwest::Method::GET, "/v0/tokens", &alice.token, None)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!listed.contains("pinit_pat_"), "{listed}");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(listed[1]["lastUsedAt"].is_string(), "{listed}");

    // An expiring token works until its expiry only (the gateway caches it no longer).
    let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(2);
    let res = make(json!(["read"]), Some(expires.to_string()))
        .await
        .unwrap();
    let short: Value = res.json().await.unwrap();
    let short = short["token"].as_str().unwrap().to_string();
    let get = |token: String| {
        let request = http
            .get(system.url("/v2/tasks?page=0&size=1"))
            .bearer_auth(token);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get(short.clone()).await, 200);
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    assert_eq!(get(short).await, 401, "expired");

    // Revoked: refused within the gateway's cache bound (5 s).
    assert_eq!(get(write.clone()).await, 200);
    let res = http
        .delete(system.url(&format!("/v0/tokens/{write_id}")))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    within(Duration::from_secs(5), 401, || get(write.clone())).await;

    // The operator disables Alice: no login, her token refused within seconds; enabled again, both work.
    let (code, out, err) = pinit_user(&system, &["disable", "alice"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("alice is disabled"), "{out}");
    within(Duration::from_secs(5), 401, || get(read.clone())).await;
    let login = |password: &str| {
        http.post(system.url("/v0/login"))
            .json(&json!({"username": "alice", "password": password}))
            .send()
    };
    assert_eq!(login("password-123").await.unwrap().status(), 403);
    let (code, out, _) = pinit_user(&system, &["list"]).await;
    assert_eq!(code, 0);
    let line = out.lines().find(|l| l.contains("alice")).unwrap();
    assert!(line.contains("disabled since"), "{out}");
    let (code, _, err) = pinit_user(&system, &["enable", "alice"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(login("password-123").await.unwrap().status(), 200);
    assert_eq!(get(read.clone()).await, 200);
    let (code, _, err) = pinit_user(&system, &["disable", "nobody"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("no member is called \"nobody\""), "{err}");
    let _ = system.stop().await;
}

async fn a_password_change_ends_the_other_sessions_and_a_reset_prints_one(layout: Layout) {
    let system = System::start(layout, &[]).await;
    let http = pinit_testkit::client();
    let alice = provisioned_member(&system, &http, "alice").await;
    let login = |password: &str| {
        http.post(system.url("/v0/login"))
            .json(&json!({"username": "alice", "password": password}))
            .send()
    };
    let res = login("password-123").await.unwrap();
    let elsewhere = refresh_cookie(res.headers()).unwrap();
    let refresh = |cookie: String| {
        http.post(system.url("/v0/refresh"))
            .header("cookie", format!("refresh_token={cookie}"))
            .send()
    };
    let change = |body: Value| {
        http.post(system.url("/v0/members/me/password"))
            .bearer_auth(&alice.token)
            .header("cookie", format!("refresh_token={}", alice.refresh))
            .json(&body)
            .send()
    };
    let res = change(json!({"currentPassword": "guess-1234", "newPassword": "password-456"}))
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = change(json!({"currentPassword": "password-123", "newPassword": "password-456"}))
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(login("password-123").await.unwrap().status(), 400);
    assert_eq!(login("password-456").await.unwrap().status(), 200);
    assert_eq!(refresh(elsewhere).await.unwrap().status(), 401, "ended");
    assert_eq!(
        refresh(alice.refresh.clone()).await.unwrap().status(),
        200,
        "this session goes on"
    );

    // An operator's reset: a new password, printed once, that logs in.
    let (code, out, err) = pinit_user(&system, &["reset-password", "alice"]).await;
    assert_eq!(code, 0, "{err}");
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("New password for alice: "))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(login("password-456").await.unwrap().status(), 400);
    assert_eq!(login(&password).await.unwrap().status(), 200);
    let _ = system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded() {
    tokens_work_within_their_scopes_and_stop_when_revoked(Layout::Embedded).await;
    a_password_change_ends_the_other_sessions_and_a_reset_prints_one(Layout::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed() {
    tokens_work_within_their_scopes_and_stop_when_revoked(Layout::Distributed).await;
    a_password_change_ends_the_other_sessions_and_a_reset_prints_one(Layout::Distributed).await;
}
