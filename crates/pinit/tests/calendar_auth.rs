//! How calendar apps sign in, end to end through the gateway in both run modes (docs/calendar.md): an app
//! password made with the web client's token opens `/dav` with HTTP Basic and nothing else; a wrong one, the
//! account password and Basic on the JSON API are refused; a deleted one stops working within the gateway's
//! cache bound; auth's check is no oracle for whoever reaches auth's own port.

mod support;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use support::member::provisioned_member;
use support::system::{Layout, System};

const CHALLENGE: &str = "Basic realm=\"Pinit\", charset=\"UTF-8\"";

fn basic(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{username}:{password}"))
    )
}

fn propfind() -> reqwest::Method {
    reqwest::Method::from_bytes(b"PROPFIND").unwrap()
}

async fn calendar_apps_sign_in_with_app_passwords_only(layout: Layout) {
    let system = System::start(layout, &[]).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let alice = provisioned_member(&system, &http, "alice").await;

    // The web client makes one with its token.
    let res = http
        .post(system.url("/v0/app-passwords"))
        .bearer_auth(&alice.token)
        .json(&json!({"name": "iPhone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let password = created["password"].as_str().unwrap().to_string();
    let id = created["id"].as_i64().unwrap();

    // A calendar app: discovery, then PROPFIND on /dav with Basic reaches the task service as Alice (whatever
    // the task service answers there, it is not the gateway's 401).
    let well_known = http
        .request(propfind(), system.url("/.well-known/caldav"))
        .header("authorization", basic("alice", &password))
        .send()
        .await
        .unwrap();
    assert_eq!(well_known.status(), 301);
    assert_eq!(well_known.headers()["location"], "/dav/");
    let dav = |authorization: String| {
        http.request(propfind(), system.url("/dav/"))
            .header("authorization", authorization)
            .header("depth", "0")
            .send()
    };
    let res = dav(basic("alice", &password)).await.unwrap();
    let status = res.status().as_u16();
    assert!(
        status != 401 && status < 500,
        "PROPFIND /dav/ with the app password: {status}"
    );
    let typed = password.replace('-', "").to_uppercase();
    assert_ne!(dav(basic("alice", &typed)).await.unwrap().status(), 401);
    let listed: Value = http
        .get(system.url("/v0/app-passwords"))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["id"], id);
    assert!(
        listed[0]["lastUsedAt"].is_string(),
        "its use is written: {listed}"
    );
    assert!(listed[0].get("password").is_none());

    // Wrong credentials: the Basic challenge.
    for (what, authorization) in [
        (
            "a wrong app password",
            basic("alice", "aaaa-bbbb-cccc-dddd-eeee-ffff-gggg"),
        ),
        ("the account password", basic("alice", "password-123")),
        ("another username", basic("bob", &password)),
    ] {
        let res = dav(authorization).await.unwrap();
        assert_eq!(res.status(), 401, "{what}");
        assert_eq!(res.headers()["www-authenticate"], CHALLENGE, "{what}");
    }
    // The app password opens nothing else: no login, no JSON API, not auth's check from outside.
    let login = http
        .post(system.url("/v0/login"))
        .json(&json!({"username": "alice", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 400);
    for path in ["/v2/tasks?page=0&size=10", "/v0/me", "/v0/app-passwords"] {
        let res = http
            .get(system.url(path))
            .header("authorization", basic("alice", &password))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{path}");
    }
    let check = json!({"username": "alice", "password": password, "clientIp": "1.2.3.4"});
    let res = http
        .post(system.url("/internal/app-passwords/check"))
        .bearer_auth(&alice.token)
        .json(&check)
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 200, "the gateway does not route auth's check");
    if let Some((_, auth)) = system.processes.iter().find(|(name, _)| *name == "auth") {
        // Distributed: whoever reaches auth's own port gets no verdict without the gateway's signed call.
        let res = http
            .post(auth.url("/internal/app-passwords/check"))
            .json(&check)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
    }

    // Deleted: refused by the gateway within its cache bound (5 s, docs/calendar.md).
    let res = http
        .delete(system.url(&format!("/v0/app-passwords/{id}")))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let deleted = Instant::now();
    loop {
        let status = dav(basic("alice", &password)).await.unwrap().status();
        if status == 401 {
            break;
        }
        assert!(
            deleted.elapsed() < Duration::from_millis(5_500),
            "still accepted {:?} after its deletion",
            deleted.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let _ = system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded() {
    calendar_apps_sign_in_with_app_passwords_only(Layout::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed() {
    calendar_apps_sign_in_with_app_passwords_only(Layout::Distributed).await;
}
