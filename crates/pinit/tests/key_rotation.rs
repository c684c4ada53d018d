//! `pinit keys rotate` while members are busy, in both run modes: no request fails, tokens signed by the old
//! key keep working, the JWKS publishes both keys, and new tokens carry the new `kid` — with no restart.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pinit_kernel::jwt::{Jwks, Verifier};
use serde_json::{Value, json};
use support::run;
use support::system::{Layout, System};
use tokio::sync::Mutex;

/// A session: the access token and the refresh cookie that renews it.
struct Session {
    token: String,
    refresh: String,
}

fn refresh_cookie(res: &reqwest::Response) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("refresh_token="))
        .and_then(|v| v.split(';').next())
        .expect("a refresh cookie")
        .to_string()
}

async fn login(system: &System, http: &reqwest::Client, name: &str) -> Session {
    let res = http
        .post(system.url("/v0/login"))
        .json(&json!({"username": name, "password": "password-123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let refresh = refresh_cookie(&res);
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    Session { token, refresh }
}

/// A new access token (and refresh cookie) for the session; `Err` is the status auth answered.
async fn renew(system: &System, http: &reqwest::Client, session: &mut Session) -> Result<(), u16> {
    let res = http
        .post(system.url("/v0/refresh"))
        .header("cookie", format!("refresh_token={}", session.refresh))
        .send()
        .await
        .unwrap();
    if res.status() != 200 {
        return Err(res.status().as_u16());
    }
    session.refresh = refresh_cookie(&res);
    session.token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    Ok(())
}

/// What a protected read answers with `token`: the gateway alone (`/v2/tasks`), the gateway and auth (`/v0/me`).
async fn reads(system: &System, http: &reqwest::Client, token: &str) -> [(&'static str, u16); 2] {
    let mut statuses = [("/v2/tasks", 0), ("/v0/me", 0)];
    for (path, status) in &mut statuses {
        let url = if *path == "/v2/tasks" {
            system.url("/v2/tasks?page=0&size=10")
        } else {
            system.url(path)
        };
        *status = http
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
    }
    statuses
}

async fn published_kids(system: &System, http: &reqwest::Client) -> BTreeSet<String> {
    let jwks: Jwks = http
        .get(system.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks.keys.into_iter().map(|k| k.kid).collect()
}

async fn rotate_under_load(layout: Layout) {
    let system = System::start(
        layout,
        &[
            ("PINIT_GATEWAY_RATE_LIMIT__ENABLED", "false"),
            ("PINIT_AUTH_RATE_LIMIT__ENABLED", "false"),
        ],
    )
    .await;
    let keys_dir: PathBuf = match layout {
        Layout::Embedded => system.dir.path().join("pinit-data").join("keys"),
        _ => system.dir.path().join("keys"),
    };
    let http = pinit_testkit::client();
    let signup = json!({"username": "rotor", "password": "password-123", "nickname": "rotor", "zoneId": "Asia/Seoul"});
    let res = http
        .post(system.url("/v0/signup"))
        .json(&signup)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let first = login(&system, &http, "rotor").await;
    let old_kid = Verifier::kid_of(&first.token).expect("a kid");
    // Wait until task knows the member (member.created), so that every later answer is about the token.
    let deadline = Instant::now() + Duration::from_secs(30);
    while reads(&system, &http, &first.token).await != [("/v2/tasks", 200), ("/v0/me", 200)] {
        assert!(Instant::now() < deadline, "the member is provisioned");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Clients: each renews its token every few requests and reads with it, until told to stop.
    let system = Arc::new(system);
    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let kids_used = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    let mut clients = Vec::new();
    for _ in 0..3 {
        let (system, http, stop) = (system.clone(), http.clone(), stop.clone());
        let (requests, failures, kids_used) =
            (requests.clone(), failures.clone(), kids_used.clone());
        clients.push(tokio::spawn(async move {
            let mut session = login(&system, &http, "rotor").await;
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if round % 4 == 3 {
                    requests.fetch_add(1, Ordering::Relaxed);
                    if let Err(status) = renew(&system, &http, &mut session).await {
                        failures.lock().await.push(format!("refresh: {status}"));
                    }
                }
                let kid = Verifier::kid_of(&session.token).unwrap_or_default();
                for (path, status) in reads(&system, &http, &session.token).await {
                    requests.fetch_add(1, Ordering::Relaxed);
                    if status != 200 {
                        failures
                            .lock()
                            .await
                            .push(format!("{path} with kid {kid}: {status}"));
                    }
                }
                kids_used.lock().await.insert(kid);
                round += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    let dir = keys_dir.to_string_lossy().into_owned();
    let (code, out, err) = run(&["keys", "rotate", "--dir", &dir], &[], system.dir.path());
    assert_eq!(code, 0, "keys rotate: {out}{err}");
    let new_kid = out
        .lines()
        .find_map(|l| l.strip_prefix("new JWT key id (kid):"))
        .map(|k| k.trim().to_string())
        .expect("the new kid is printed");
    assert_ne!(new_kid, old_kid);

    // Published (and accepted) within a second or two, before it signs anything (5 s after the rotation).
    let deadline = Instant::now() + Duration::from_secs(4);
    loop {
        let kids = published_kids(&system, &http).await;
        if kids == BTreeSet::from([old_kid.clone(), new_kid.clone()]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "JWKS publishes both keys: {kids:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // New tokens carry the new kid once it is active.
    let mut probe = login(&system, &http, "rotor").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Verifier::kid_of(&probe.token).as_deref() != Some(new_kid.as_str()) {
        assert!(
            Instant::now() < deadline,
            "new tokens are signed by the new key"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        renew(&system, &http, &mut probe).await.expect("refresh");
    }
    assert_eq!(
        reads(&system, &http, &probe.token).await,
        [("/v2/tasks", 200), ("/v0/me", 200)]
    );
    // A token the old key signed before the rotation still works (it expires in 5 minutes).
    assert_eq!(
        reads(&system, &http, &first.token).await,
        [("/v2/tasks", 200), ("/v0/me", 200)],
        "the old token is valid until it expires"
    );
    assert_eq!(
        published_kids(&system, &http).await,
        BTreeSet::from([old_kid.clone(), new_kid.clone()]),
        "the old key is published until its tokens expired"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    let failures = failures.lock().await.clone();
    let requests = requests.load(Ordering::Relaxed);
    assert!(
        failures.is_empty(),
        "{} of {requests} failed: {failures:?}",
        failures.len()
    );
    assert!(requests > 50, "the clients were busy: {requests} requests");
    let kids_used = kids_used.lock().await.clone();
    assert_eq!(
        kids_used,
        BTreeSet::from([old_kid, new_kid]),
        "the clients used tokens of both keys"
    );
    let auth = system
        .processes
        .iter()
        .find(|(name, _)| matches!(*name, "serve" | "auth"))
        .map(|(_, p)| p)
        .expect("the auth process");
    assert!(auth.logged("loaded new JWT signing keys"));
    let problems: Vec<String> = auth
        .problems()
        .into_iter()
        .filter(|p| !p.contains("allow_insecure_endpoints")) // the test system's own setting
        .collect();
    assert_eq!(problems, Vec::<String>::new());
    let system = Arc::into_inner(system).expect("the clients are done");
    for (name, status) in system.stop().await {
        assert_eq!(status.code(), Some(0), "{name} exits cleanly");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_signing_key_fails_no_request_embedded() {
    rotate_under_load(Layout::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_signing_key_fails_no_request_distributed() {
    rotate_under_load(Layout::Distributed).await;
}
