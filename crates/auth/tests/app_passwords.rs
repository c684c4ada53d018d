//! App passwords over HTTP, on SQLite and PostgreSQL: made (shown once, stored hashed), listed without secrets,
//! deleted (only by their member), validated and limited; never a login to the JSON API; checked only for the
//! gateway, rate-limited like login, their last use written at most once a minute.

mod support;

use pinit_kernel::Backend;
use pinit_kernel::identity::app_password_check::PATH as CHECK;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Row;
use support::{App, spawn_app, spawn_with, test_settings};

const APP_PASSWORDS: &str = "/v0/app-passwords";

impl App {
    async fn create(&self, member: i64, body: Value) -> reqwest::Response {
        self.send_as(Method::POST, APP_PASSWORDS, member, body)
            .await
    }

    /// Creates one named `name`; (id, password).
    async fn app_password(&self, member: i64, name: &str) -> (i64, String) {
        let res = self.create(member, json!({"name": name})).await;
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        (
            body["id"].as_i64().unwrap(),
            body["password"].as_str().unwrap().to_string(),
        )
    }

    async fn list(&self, member: i64) -> Vec<Value> {
        let res = self
            .send_as(Method::GET, APP_PASSWORDS, member, Value::Null)
            .await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    async fn delete(&self, member: Option<i64>, id: i64) -> reqwest::Response {
        self.as_member(Method::DELETE, &format!("{APP_PASSWORDS}/{id}"), member)
            .send()
            .await
            .unwrap()
    }

    /// The gateway's check, from `ip`.
    async fn check(&self, username: &str, password: &str, ip: &str) -> reqwest::Response {
        self.gateway_call(Method::POST, CHECK)
            .json(&json!({"username": username, "password": password, "clientIp": ip}))
            .send()
            .await
            .unwrap()
    }
}

fn is_shown_form(password: &str) -> bool {
    let groups: Vec<&str> = password.split('-').collect();
    groups.len() == 7
        && groups.iter().all(|g| {
            g.len() == 4
                && g.bytes()
                    .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
        })
}

async fn an_app_password_is_shown_once_listed_without_it_and_deleted_by_its_member(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let alice = app.member_id("alice").await;
    let bob = app.member_id("bob").await;

    let res = app.create(alice, json!({"name": "  iPhone "})).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let created: Value = res.json().await.unwrap();
    let password = created["password"].as_str().unwrap();
    assert!(is_shown_form(password), "{password}");
    assert_eq!(created["name"], "iPhone");
    let id = created["id"].as_i64().unwrap();
    let created_at: jiff::Timestamp = created["createdAt"].as_str().unwrap().parse().unwrap();
    assert!((created_at - app.clock_now()).abs() < jiff::SignedDuration::from_secs(1));

    // Stored as a hash only.
    let mut conn = app.db.conn().await.unwrap();
    let row = sqlx::query("SELECT secret_hash FROM app_password")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let hash: String = row.get("secret_hash");
    assert_eq!(hash.len(), 64);
    assert!(!hash.contains(&password.replace('-', "")));
    drop(conn);

    // Listed without the secret; another member sees none of it.
    let (second, _) = app.app_password(alice, "Thunderbird").await;
    let listed = app.list(alice).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(
        listed[0],
        json!({"id": id, "name": "iPhone", "createdAt": created["createdAt"], "lastUsedAt": null})
    );
    assert_eq!(listed[1]["id"], second);
    assert!(!listed.iter().any(|p| p.get("password").is_some()));
    assert!(app.list(bob).await.is_empty());

    // Only its member deletes it; an unknown id is the same 404.
    assert_eq!(app.delete(Some(bob), id).await.status(), 404);
    assert_eq!(app.delete(Some(alice), 999_999).await.status(), 404);
    assert_eq!(app.delete(None, id).await.status(), 401);
    assert_eq!(app.delete(Some(alice), id).await.status(), 204);
    assert_eq!(app.delete(Some(alice), id).await.status(), 404);
    let left = app.list(alice).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], second);
    let not_a_number = app
        .as_member(Method::DELETE, "/v0/app-passwords/abc", Some(alice))
        .send()
        .await
        .unwrap();
    assert_eq!(not_a_number.status(), 400);

    // Without a member nothing is listed or made.
    let anonymous = app
        .as_member(Method::GET, APP_PASSWORDS, None)
        .header("x-member-id", alice.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401, "a bare X-Member-Id is no member");
    let res = app
        .as_member(Method::POST, APP_PASSWORDS, None)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

async fn names_are_validated_and_a_member_has_at_most_twenty(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.member_id("alice").await;
    for bad in [
        json!({}),
        json!({"name": ""}),
        json!({"name": "   "}),
        json!({"name": "x".repeat(101)}),
        json!({"name": "line\nbreak"}),
    ] {
        let res = app.create(alice, bad.clone()).await;
        assert_eq!(res.status(), 400, "{bad}");
        let body: Value = res.json().await.unwrap();
        assert!(
            body["message"].as_str().unwrap().contains("name"),
            "the field is named: {body}"
        );
    }
    let wrong_type = app.create(alice, json!({"name": 5})).await;
    assert_eq!(wrong_type.status(), 400);
    let not_json = app
        .as_member(Method::POST, APP_PASSWORDS, Some(alice))
        .header("content-type", "text/plain")
        .body("{\"name\": \"x\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 415);
    assert!(app.list(alice).await.is_empty());

    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(app.app_password(alice, &format!("device {i}")).await.0);
    }
    let over = app.create(alice, json!({"name": "one too many"})).await;
    assert_eq!(over.status(), 409);
    let body: Value = over.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("20"), "{body}");
    assert_eq!(app.delete(Some(alice), ids[3]).await.status(), 204);
    assert_eq!(
        app.create(alice, json!({"name": "now fits"}))
            .await
            .status(),
        201
    );
    // The limit is per member.
    let bob = app.member_id("bob").await;
    assert_eq!(
        app.create(bob, json!({"name": "bob's"})).await.status(),
        201
    );
}

async fn twenty_concurrent_creations_never_pass_the_limit(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.member_id("alice").await;
    for i in 0..15 {
        app.app_password(alice, &format!("device {i}")).await;
    }
    let attempts = (0..10).map(|i| app.create(alice, json!({"name": format!("racing {i}")})));
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(app.list(alice).await.len(), 20);
}

async fn an_app_password_never_logs_in_to_the_json_api(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.member_id("alice").await;
    let (_, password) = app.app_password(alice, "phone").await;
    for presented in [password.clone(), password.replace('-', "")] {
        let res = app
            .post_json(
                "/v0/login",
                json!({"username": "alice", "password": presented}),
            )
            .await;
        assert_eq!(res.status(), 400, "refused like a wrong password");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["message"], pinit_auth::domain::BAD_CREDENTIALS);
    }
    // The account password is no app password either.
    assert_eq!(
        app.check("alice", "password-123", "10.0.0.1")
            .await
            .status(),
        401
    );
}

async fn only_the_gateway_checks_an_app_password_and_the_last_use_is_written_once_a_minute(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let alice = app.member_id("alice").await;
    app.member_id("bob").await;
    let (id, password) = app.app_password(alice, "phone").await;
    let body = json!({"username": "alice", "password": password, "clientIp": "10.0.0.1"});

    // Not an oracle: whatever reaches auth's port without the gateway's call assertion gets a 403, never a
    // verdict — no assertion, a member's assertion for the path, the gateway's call for another path or key.
    let bare = app
        .server
        .client
        .post(app.url(CHECK))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 403);
    let as_member = app
        .as_member(Method::POST, CHECK, Some(alice))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(as_member.status(), 403);
    let other_path = app
        .server
        .client
        .post(app.url(CHECK))
        .header(
            "x-pinit-identity",
            app.identity.sign_gateway_call(
                "POST",
                "/v0/app-passwords",
                app.clock_now().as_second(),
            ),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(other_path.status(), 403);
    let other_key = app
        .server
        .client
        .post(app.url(CHECK))
        .header(
            "x-pinit-identity",
            pinit_kernel::identity::IdentityKey::generate().sign_gateway_call(
                "POST",
                CHECK,
                app.clock_now().as_second(),
            ),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(other_key.status(), 403);
    assert_eq!(
        app.list(alice).await[0]["lastUsedAt"],
        Value::Null,
        "nothing was checked"
    );

    // The gateway's call: the member, for the password as shown, without dashes, in capitals.
    for presented in [
        password.clone(),
        password.replace('-', ""),
        password.to_uppercase(),
    ] {
        let res = app.check(" alice ", &presented, "10.0.0.1").await;
        assert_eq!(res.status(), 200, "{presented}");
        let checked: Value = res.json().await.unwrap();
        assert_eq!(checked, json!({"memberId": alice}));
    }
    let first_use = app.list(alice).await[0]["lastUsedAt"].clone();
    let at: jiff::Timestamp = first_use.as_str().unwrap().parse().unwrap();
    assert_eq!(at, app.clock_now());

    // Within the minute the use is not written again; after it, it is.
    app.advance(59);
    assert_eq!(
        app.check("alice", &password, "10.0.0.1").await.status(),
        200
    );
    assert_eq!(app.list(alice).await[0]["lastUsedAt"], first_use);
    app.advance(1);
    assert_eq!(
        app.check("alice", &password, "10.0.0.1").await.status(),
        200
    );
    let second_use: jiff::Timestamp = app.list(alice).await[0]["lastUsedAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(second_use, app.clock_now());

    // Someone else's username, a wrong secret, an unknown member: the same 401.
    for (user, presented) in [
        ("bob", password.as_str()),
        ("alice", "aaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaa"),
        ("nobody", password.as_str()),
        ("", password.as_str()),
    ] {
        assert_eq!(
            app.check(user, presented, "10.0.0.2").await.status(),
            401,
            "{user}"
        );
    }

    // Deleted: refused at once (the gateway's cache is the only delay, docs/adr/0016-app-passwords.md).
    assert_eq!(app.delete(Some(alice), id).await.status(), 204);
    assert_eq!(
        app.check("alice", &password, "10.0.0.3").await.status(),
        401
    );
}

async fn wrong_app_passwords_are_rate_limited_like_login(backend: Backend) {
    let mut settings = test_settings();
    settings.rate_limit.login_per_ip = 5;
    settings.rate_limit.login_failures_per_username = 3;
    let app = spawn_with(backend, settings).await;
    let gina = app.member_id("gina").await;
    let (_, password) = app.app_password(gina, "phone").await;
    let wrong = "aaaa-bbbb-cccc-dddd-eeee-ffff-gggg";

    // Successes are not counted: a calendar app checks its password on every sync.
    for _ in 0..10 {
        assert_eq!(app.check("gina", &password, "10.0.0.1").await.status(), 200);
    }
    for _ in 0..3 {
        assert_eq!(app.check("gina", wrong, "10.0.0.2").await.status(), 401);
    }
    // The username is locked even with the right password and from another address, with a Retry-After.
    let locked = app.check("gina", &password, "10.0.0.9").await;
    assert_eq!(locked.status(), 429);
    let retry: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Its account login is counted apart: a stale phone does not lock the member out of the web client.
    let login = app
        .post_json(
            "/v0/login",
            json!({"username": "gina", "password": "password-123"}),
        )
        .await;
    assert_eq!(login.status(), 200);

    // Per address: failures over any usernames; the 6th attempt from it is refused.
    for user in ["u1", "u2"] {
        assert_eq!(app.check(user, wrong, "10.0.0.2").await.status(), 401);
    }
    assert_eq!(app.check("u3", wrong, "10.0.0.2").await.status(), 429);
    // A new window lets the member's app in again.
    app.advance(61);
    assert_eq!(app.check("gina", &password, "10.0.0.2").await.status(), 200);
}

async fn deleting_a_member_deletes_its_app_passwords(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.member_id("alice").await;
    let bob = app.member_id("bob").await;
    app.app_password(alice, "phone").await;
    app.app_password(bob, "phone").await;
    let mut conn = app.db.conn().await.unwrap();
    sqlx::query("DELETE FROM member WHERE member_id = $1")
        .bind(alice)
        .execute(&mut *conn)
        .await
        .unwrap();
    let left: i64 = sqlx::query("SELECT COUNT(*) AS n FROM app_password")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .get("n");
    assert_eq!(left, 1, "bob's stays");
    drop(conn);
    // A token of the deleted member makes none.
    assert_eq!(app.create(alice, json!({"name": "x"})).await.status(), 401);
}

async fn the_document_lists_the_app_password_operations_and_not_the_gateways_check(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let doc: Value = app
        .server
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, method) in [
        ("/v0/app-passwords", "get"),
        ("/v0/app-passwords", "post"),
        ("/v0/app-passwords/{id}", "delete"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} documented");
        assert_ne!(
            op.get("security"),
            Some(&json!([])),
            "{method} {path} needs a token"
        );
    }
    assert!(
        doc["paths"].get(CHECK).is_none(),
        "internal, not part of the API"
    );
    for schema in [
        "AppPassword",
        "CreatedAppPassword",
        "CreateAppPasswordRequest",
    ] {
        assert!(
            doc["components"]["schemas"].get(schema).is_some(),
            "{schema}"
        );
    }
}

pinit_testkit::both_backends!(
    an_app_password_is_shown_once_listed_without_it_and_deleted_by_its_member,
    names_are_validated_and_a_member_has_at_most_twenty,
    twenty_concurrent_creations_never_pass_the_limit,
    an_app_password_never_logs_in_to_the_json_api,
    only_the_gateway_checks_an_app_password_and_the_last_use_is_written_once_a_minute,
    wrong_app_passwords_are_rate_limited_like_login,
    deleting_a_member_deletes_its_app_passwords,
    the_document_lists_the_app_password_operations_and_not_the_gateways_check,
);

impl App {
    /// The clock, at the store's precision (microseconds).
    fn clock_now(&self) -> jiff::Timestamp {
        use pinit_kernel::Clock;
        pinit_kernel::clock::truncate_to_micros(self.clock.now())
    }
}
