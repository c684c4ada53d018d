//! Account deletion end to end, in both run modes, through the gateway: `DELETE /v0/members/me` with the
//! password; the member's app password and API token stop working within seconds, its session cannot refresh,
//! and once task and notification applied `member.deleted` no table of any service's database holds a row of
//! the member (every column the catalog names like a member id is checked); the other member's rows are
//! untouched. Distributed, on a RabbitMQ node of the test's own, the broker is stopped before the deletion and
//! started again after it: auth's outbox keeps `member.deleted` through the outage, every service keeps serving,
//! and the event is published and applied once the broker is back.

mod support;

use std::time::{Duration, Instant};

use base64::Engine;
use pinit_kernel::Db;
use pinit_kernel::config::{ConnectionUrl, DatabasePoolConfig};
use pinit_testkit::broker::PrivateBroker;
use pinit_testkit::member_rows::{member_columns, member_rows};
use serde_json::{Value, json};
use support::member::{Member, provisioned_member};
use support::system::{Layout, System};

/// What `member` holds beyond its task and schedule: an app password, an API token (returned), quiet hours, a
/// webhook endpoint and a calendar feed.
async fn more_of(system: &System, http: &reqwest::Client, member: &Member) -> (String, String) {
    let post = |path: &str, body: Value| {
        http.post(system.url(path))
            .bearer_auth(&member.token)
            .json(&body)
            .send()
    };
    let res = post("/v0/app-passwords", json!({"name": "phone"}))
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let app_password = res.json::<Value>().await.unwrap()["password"]
        .as_str()
        .unwrap()
        .to_string();
    let res = post("/v0/tokens", json!({"name": "script", "scopes": ["read"]}))
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let res = post(
        "/v0/webhooks",
        json!({"url": "https://hooks.example.com/pinit", "events": ["schedule.created"]}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let res = post("/v2/calendar/feeds", json!({"kind": "planned"}))
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = http
        .put(system.url("/v0/push/quiet-hours"))
        .bearer_auth(&member.token)
        .json(
            &json!({"enabled": true, "start": "22:00", "end": "07:00", "zoneId": "Asia/Seoul",
            "mode": "hold", "includeAtStart": false}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    (app_password, token)
}

/// The status of a calendar app's PROPFIND with `username` and an app password, and of `GET /v0/me` with an
/// API token.
async fn credential_statuses(
    system: &System,
    http: &reqwest::Client,
    username: &str,
    app_password: &str,
    token: &str,
) -> (u16, u16) {
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{app_password}"));
    let dav = http
        .request(
            reqwest::Method::from_bytes(b"PROPFIND").unwrap(),
            system.url("/dav/"),
        )
        .header("authorization", format!("Basic {basic}"))
        .header("depth", "0")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    let me = http
        .get(system.url("/v0/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    (dav, me)
}

/// Every service database, connected.
async fn databases(system: &System) -> Vec<Db> {
    let mut dbs = Vec::new();
    for url in system.database_urls() {
        let url = ConnectionUrl::parse(&url).expect("a database URL");
        dbs.push(
            Db::connect(&url, &DatabasePoolConfig::default())
                .await
                .expect("connect to a service database"),
        );
    }
    dbs
}

/// What each database holds of `member` (`table.column: n`).
async fn rows_everywhere(dbs: &[Db], member: i64) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for db in dbs {
        all.push(member_rows(db, member).await);
    }
    all
}

async fn deleting_an_account_leaves_nothing_of_the_member(layout: Layout) {
    let distributed = layout != Layout::Embedded;
    let broker = match distributed {
        true => Some(PrivateBroker::start().await),
        false => None,
    };
    let amqp_url = broker.as_ref().map(PrivateBroker::url);
    let env: Vec<(&str, &str)> = amqp_url
        .iter()
        .map(|url| ("PINIT_AMQP_URL", url.as_str()))
        .collect();
    let system = System::start(layout, &env).await;
    let http = reqwest::Client::new();
    let alice = provisioned_member(&system, &http, "alice").await;
    let bob = provisioned_member(&system, &http, "bob").await;
    let (app_password, token) = more_of(&system, &http, &alice).await;
    more_of(&system, &http, &bob).await;
    let (dav, me) = credential_statuses(&system, &http, "alice", &app_password, &token).await;
    assert!(dav != 401 && dav < 500, "the app password works: {dav}");
    assert_eq!(me, 200, "the API token works");

    let dbs = databases(&system).await;
    for db in &dbs {
        assert!(!member_columns(db).await.is_empty());
    }
    let before = rows_everywhere(&dbs, alice.id).await;
    assert!(
        before.iter().all(|rows| !rows.is_empty()),
        "alice has rows in every service: {before:?}"
    );
    let bobs = rows_everywhere(&dbs, bob.id).await;

    if let Some(broker) = &broker {
        broker.stop().await;
    }
    let res = http
        .delete(system.url("/v0/members/me"))
        .bearer_auth(&alice.token)
        .header("cookie", format!("refresh_token={}", alice.refresh))
        .json(&json!({"password": "password-123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);

    let deleted_at = Instant::now();
    if let Some(broker) = &broker {
        // Not applied while the broker is down: auth's rows are gone, task's and notification's wait, and the
        // services still serve the other member.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let waiting = rows_everywhere(&dbs, alice.id).await;
        assert!(waiting[0].is_empty(), "{waiting:?}");
        assert!(
            !waiting[1].is_empty() && !waiting[2].is_empty(),
            "{waiting:?}"
        );
        let res = http
            .get(system.url(&format!("/v2/tasks/{}", bob.task_id)))
            .bearer_auth(&bob.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "served without the broker");
        broker.start_again().await;
    }

    // The app password and the API token stop working within the gateway's cache bound (5 s; a calendar app's
    // PROPFIND still accepted by the cache reaches the task service, hence after it runs again).
    let deadline = deleted_at + Duration::from_secs(8);
    loop {
        let statuses = credential_statuses(&system, &http, "alice", &app_password, &token).await;
        if statuses == (401, 401) {
            break;
        }
        assert!(Instant::now() < deadline, "still accepted: {statuses:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let res = http
        .post(system.url("/v0/refresh"))
        .header("cookie", format!("refresh_token={}", alice.refresh))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = rows_everywhere(&dbs, alice.id).await;
        if left.iter().all(Vec::is_empty) {
            break;
        }
        assert!(Instant::now() < deadline, "left of alice: {left:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Alice's access token is still valid for a few minutes: whatever it asks to store, each service answers
    // that the account was deleted, and nothing of alice comes back.
    let late = [
        (
            "POST",
            "/v2/tasks",
            json!({"title": "late", "description": "late", "dueDate": {"date": "2026-12-31", "zoneId": "UTC"}, "importance": 1, "difficulty": 1, "addDependencies": []}),
        ),
        (
            "POST",
            "/v0/webhooks",
            json!({"url": "https://hooks.example.com/late", "events": ["schedule.created"]}),
        ),
        (
            "PUT",
            "/v0/push/quiet-hours",
            json!({"enabled": true, "start": "22:00", "end": "07:00", "zoneId": "UTC", "mode": "hold", "includeAtStart": false}),
        ),
    ];
    for (method, path, body) in late {
        let res = http
            .request(method.parse().unwrap(), system.url(path))
            .bearer_auth(&alice.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{method} {path}");
    }
    let left = rows_everywhere(&dbs, alice.id).await;
    assert!(
        left.iter().all(Vec::is_empty),
        "after late requests: {left:?}"
    );
    assert_eq!(rows_everywhere(&dbs, bob.id).await, bobs, "bob untouched");
    let res = http
        .get(system.url(&format!("/v2/tasks/{}", bob.task_id)))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    for db in dbs {
        db.close().await;
    }
    system.stop().await;
}

mod embedded {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deleting_an_account_leaves_nothing_of_the_member() {
        super::deleting_an_account_leaves_nothing_of_the_member(super::Layout::Embedded).await
    }
}

mod distributed {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deleting_an_account_leaves_nothing_of_the_member() {
        super::deleting_an_account_leaves_nothing_of_the_member(super::Layout::Distributed).await
    }
}
