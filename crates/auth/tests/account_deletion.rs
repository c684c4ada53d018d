//! Account deletion (`DELETE /v0/members/me`) on SQLite and PostgreSQL: only from the member's own session,
//! with the right password (wrong ones counted like failed logins); every session, app password and API token
//! of the member ends, nothing of it is left in any auth table, `member.deleted` is in the outbox, other members
//! are untouched, and member ids are never given out again.

mod support;

use pinit_kernel::Backend;
use pinit_kernel::identity::Credential;
use pinit_kernel::identity::api_token_check::PATH as TOKEN_CHECK;
use pinit_kernel::identity::app_password_check::PATH as APP_PASSWORD_CHECK;
use pinit_testkit::member_rows::{member_columns, member_rows};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Row;
use support::{App, spawn_app, spawn_with, test_settings};

const ME: &str = "/v0/members/me";

/// A signed-in member with every kind of credential: (id, refresh cookie, app password, API token).
struct Signed {
    id: i64,
    session: String,
    app_password: String,
    api_token: String,
}

impl App {
    async fn signed(&self, username: &str) -> Signed {
        let (_, session) = self.member(username).await;
        let id = self.member_id_of(username).await;
        let res = self
            .as_member(Method::POST, "/v0/app-passwords", Some(id))
            .json(&json!({"name": "phone"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let app_password = res.json::<Value>().await.unwrap()["password"]
            .as_str()
            .unwrap()
            .to_string();
        let res = self
            .as_member(Method::POST, "/v0/tokens", Some(id))
            .json(&json!({"name": "script", "scopes": ["read"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let api_token = res.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string();
        Signed {
            id,
            session,
            app_password,
            api_token,
        }
    }

    /// The member id of a username (from the operator's view of the database).
    async fn member_id_of(&self, username: &str) -> i64 {
        sqlx::query("SELECT member_id FROM member WHERE username = $1")
            .bind(username)
            .fetch_one(self.db.pool())
            .await
            .unwrap()
            .get("member_id")
    }

    /// `DELETE /v0/members/me` as `member`'s session (its refresh cookie when given), with `body` (none: null).
    async fn delete_account(
        &self,
        member: i64,
        cookie: Option<&str>,
        body: Value,
    ) -> reqwest::Response {
        let mut request = self.as_member(Method::DELETE, ME, Some(member));
        if let Some(c) = cookie {
            request = request.header("cookie", format!("refresh_token={c}"));
        }
        if !body.is_null() {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn check_app_password(&self, username: &str, password: &str) -> u16 {
        self.gateway_call(Method::POST, APP_PASSWORD_CHECK)
            .json(&json!({"username": username, "password": password, "clientIp": "10.0.0.1"}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn check_token(&self, token: &str) -> u16 {
        self.gateway_call(Method::POST, TOKEN_CHECK)
            .json(&json!({"token": token}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn login_status(&self, username: &str) -> u16 {
        self.post_json(
            "/v0/login",
            json!({"username": username, "password": "password-123"}),
        )
        .await
        .status()
        .as_u16()
    }

    /// How many rate-limit windows count against `username` (failed logins, failed app passwords).
    async fn username_counters(&self, username: &str) -> i64 {
        sqlx::query("SELECT COUNT(*) AS n FROM rate_limit WHERE bucket LIKE $1")
            .bind(format!("%:user:{username}"))
            .fetch_one(self.db.pool())
            .await
            .unwrap()
            .get("n")
    }

    /// The `member.deleted` payloads in the outbox.
    async fn deleted_events(&self) -> Vec<Value> {
        let rows = sqlx::query(
            "SELECT payload FROM messaging_outbox WHERE routing_key = 'member.deleted' ORDER BY seq",
        )
        .fetch_all(self.db.pool())
        .await
        .unwrap();
        rows.iter()
            .map(|r| serde_json::from_str(&r.get::<String, _>("payload")).unwrap())
            .collect()
    }
}

async fn message(res: reqwest::Response) -> String {
    let body: Value = res.json().await.unwrap();
    body["message"].as_str().unwrap_or_default().to_string()
}

async fn a_member_deletes_the_account_with_the_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.signed("alice").await;
    let bob = app.signed("bob").await;
    // Another browser of alice's.
    let res = app
        .post_json(
            "/v0/login",
            json!({"username": "alice", "password": "password-123"}),
        )
        .await;
    let elsewhere = support::refresh_cookie(res.headers()).unwrap();

    // Not with an API token or an app password.
    for credential in [Credential::ApiToken, Credential::AppPassword] {
        let res = app
            .with_credential(Method::DELETE, ME, alice.id, credential)
            .json(&json!({"password": "password-123"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{credential:?}");
    }
    // Not without a member.
    let res = app
        .as_member(Method::DELETE, ME, None)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Without a password: 400 naming it; malformed JSON: 400.
    let res = app
        .delete_account(alice.id, Some(&alice.session), Value::Null)
        .await;
    assert_eq!(res.status(), 400);
    assert!(message(res).await.contains("password"));
    let res = app
        .as_member(Method::DELETE, ME, Some(alice.id))
        .header("content-type", "application/json")
        .body("{\"password\":")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // A wrong password: 403, and nothing is deleted.
    let res = app
        .delete_account(alice.id, None, json!({"password": "not-the-password"}))
        .await;
    assert_eq!(res.status(), 403);
    assert!(message(res).await.contains("password"));
    assert_eq!(app.refresh(Some(&alice.session)).await.status(), 200);

    let columns = member_columns(&app.db).await;
    for table in [
        "member",
        "refresh_family",
        "app_password",
        "api_token",
        "oauth_account",
    ] {
        assert!(
            columns.iter().any(|(t, _)| t == table),
            "{table} has a member column: {columns:?}"
        );
    }
    assert!(!member_rows(&app.db, alice.id).await.is_empty());
    assert_eq!(app.username_counters("alice").await, 1);

    let res = app
        .delete_account(
            alice.id,
            Some(&alice.session),
            json!({"password": "password-123"}),
        )
        .await;
    assert_eq!(res.status(), 204);
    let (cookie, header) = support::set_cookie(res.headers(), "refresh_token").unwrap();
    assert!(
        cookie.is_empty() && header.contains("Max-Age=0"),
        "{header}"
    );

    // Nothing of her is left in any table with a member column, nor her username's counters (the
    // wrong password above made one).
    assert_eq!(member_rows(&app.db, alice.id).await, Vec::<String>::new());
    assert_eq!(app.username_counters("alice").await, 0);
    // Every session, app password and API token of alice ends; she cannot sign in.
    assert_eq!(app.refresh(Some(&alice.session)).await.status(), 401);
    assert_eq!(app.refresh(Some(&elsewhere)).await.status(), 401);
    assert_eq!(
        app.check_app_password("alice", &alice.app_password).await,
        401
    );
    assert_eq!(app.check_token(&alice.api_token).await, 401);
    assert_eq!(app.login_status("alice").await, 400);
    // Asked again with the access token she still holds: she is gone.
    let res = app
        .delete_account(alice.id, None, json!({"password": "password-123"}))
        .await;
    assert_eq!(res.status(), 401);
    // member.deleted is in the outbox, once.
    let events = app.deleted_events().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["memberId"], alice.id);
    assert!(
        events[0]["idempotentKey"]
            .as_str()
            .is_some_and(|k| !k.is_empty())
    );

    // Bob is untouched.
    assert_eq!(app.refresh(Some(&bob.session)).await.status(), 200);
    assert_eq!(app.check_app_password("bob", &bob.app_password).await, 200);
    assert_eq!(app.check_token(&bob.api_token).await, 200);
    assert_eq!(
        member_rows(&app.db, bob.id).await.len(),
        4,
        "member, session, app password, token"
    );
}

async fn wrong_passwords_count_like_failed_logins(backend: Backend) {
    let mut settings = test_settings();
    settings.rate_limit.login_failures_per_username = 3;
    let window = settings.rate_limit.window.get().as_secs();
    let app = spawn_with(backend, settings).await;
    let alice = app.signed("alice").await;
    let wrong = json!({"password": "not-the-password"});
    for _ in 0..2 {
        let res = app.delete_account(alice.id, None, wrong.clone()).await;
        assert_eq!(res.status(), 403);
    }
    // A failed login is the third failure of the username.
    let res = app
        .post_json(
            "/v0/login",
            json!({"username": "alice", "password": "still-wrong"}),
        )
        .await;
    assert_eq!(res.status(), 400);
    // Locked: even the right password is refused until the window ends.
    let right = json!({"password": "password-123"});
    let res = app.delete_account(alice.id, None, right.clone()).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().get("retry-after").is_some());
    assert_eq!(app.login_status("alice").await, 429);
    app.advance(i64::try_from(window).unwrap() + 1);
    let res = app.delete_account(alice.id, None, right).await;
    assert_eq!(res.status(), 204);
    assert_eq!(member_rows(&app.db, alice.id).await, Vec::<String>::new());
}

async fn member_ids_are_never_reused(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.signed("alice").await;
    let bob = app.signed("bob").await;
    assert!(bob.id > alice.id);
    // Delete the newest member: a new member must not get its id back (SQLite would without AUTOINCREMENT).
    let res = app
        .delete_account(bob.id, None, json!({"password": "password-123"}))
        .await;
    assert_eq!(res.status(), 204);
    let carol = app.signed("carol").await;
    assert!(carol.id > bob.id, "carol {} after bob {}", carol.id, bob.id);
    // The username is free again, for a new member with a new id.
    let again = app.signed("bob").await;
    assert!(again.id > carol.id);
    assert_eq!(app.check_token(&bob.api_token).await, 401);
    assert_eq!(app.check_token(&again.api_token).await, 200);
}

pinit_testkit::both_backends!(
    a_member_deletes_the_account_with_the_password,
    wrong_passwords_count_like_failed_logins,
    member_ids_are_never_reused,
);
