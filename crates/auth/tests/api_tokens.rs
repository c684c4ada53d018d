//! Personal API tokens over HTTP, on SQLite and PostgreSQL: made (shown once, stored hashed), listed without
//! secrets, deleted only by their member; validated field by field; never made, listed or deleted with a token
//! or an app password; checked only for the gateway (expired, deleted and disabled members' tokens refused, the
//! last use written at most once a minute). The password change and the operator's use cases (`pinit user`).

mod support;

use pinit_auth::app::Operator;
use pinit_auth::password::Hasher;
use pinit_kernel::identity::Credential;
use pinit_kernel::identity::api_token_check::PATH as CHECK;
use pinit_kernel::identity::app_password_check::PATH as APP_PASSWORD_CHECK;
use pinit_kernel::{Backend, SharedClock};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Row;
use support::{App, spawn_app, spawn_with, test_settings};

const TOKENS: &str = "/v0/tokens";
const PASSWORD: &str = "/v0/members/me/password";

impl App {
    async fn create_token(&self, member: i64, body: Value) -> reqwest::Response {
        self.send_as(Method::POST, TOKENS, member, body).await
    }

    /// Creates a token with `scopes`; (id, token).
    async fn token(&self, member: i64, name: &str, scopes: &[&str]) -> (i64, String) {
        let res = self
            .create_token(member, json!({"name": name, "scopes": scopes}))
            .await;
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        let token = body["token"].as_str().unwrap().to_string();
        (body["id"].as_i64().unwrap(), token)
    }

    async fn tokens(&self, member: i64) -> Vec<Value> {
        let res = self.send_as(Method::GET, TOKENS, member, Value::Null).await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    async fn delete_token(&self, member: i64, id: i64) -> reqwest::Response {
        let path = format!("{TOKENS}/{id}");
        self.send_as(Method::DELETE, &path, member, Value::Null)
            .await
    }

    /// The gateway's check of `token`.
    async fn check_token(&self, token: &str) -> reqwest::Response {
        self.gateway_call(Method::POST, CHECK)
            .json(&json!({"token": token}))
            .send()
            .await
            .unwrap()
    }

    async fn change_password(
        &self,
        member: i64,
        cookie: Option<&str>,
        body: Value,
    ) -> reqwest::Response {
        let mut request = self.as_member(Method::POST, PASSWORD, Some(member));
        if let Some(c) = cookie {
            request = request.header("cookie", format!("refresh_token={c}"));
        }
        request.json(&body).send().await.unwrap()
    }

    async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/v0/login",
            json!({"username": username, "password": password}),
        )
        .await
    }

    fn operator(&self) -> Operator {
        let clock: SharedClock = self.clock.clone();
        let hasher = Hasher::new(&test_settings().password).unwrap();
        Operator::new(self.db.clone(), hasher, clock)
    }

    fn clock_now(&self) -> jiff::Timestamp {
        use pinit_kernel::Clock;
        pinit_kernel::clock::truncate_to_micros(self.clock.now())
    }
}

fn is_token(token: &str) -> bool {
    token.strip_prefix("pinit_pat_").is_some_and(|rest| {
        rest.len() == 32
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
    })
}

async fn a_token_is_shown_once_listed_without_it_and_deleted_by_its_member(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.member_id("alice").await;
    let bob = app.member_id("bob").await;

    let expires = (app.clock_now() + jiff::SignedDuration::from_hours(24 * 30)).to_string();
    let res = app
        .create_token(
            alice,
            json!({"name": " backup ", "scopes": ["write", "read"], "expiresAt": expires}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let created: Value = res.json().await.unwrap();
    let token = created["token"].as_str().unwrap();
    assert!(is_token(token), "{token}");
    assert_eq!(created["name"], "backup");
    assert_eq!(created["scopes"], json!(["read", "write"]));
    assert_eq!(created["expiresAt"], expires);
    assert_eq!(created["lastUsedAt"], Value::Null);
    let id = created["id"].as_i64().unwrap();

    // Stored as a hash only.
    let mut conn = app.db.conn().await.unwrap();
    let row = sqlx::query("SELECT secret_hash, scopes FROM api_token")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let hash: String = row.get("secret_hash");
    assert_eq!(hash.len(), 64);
    assert_eq!(hash, pinit_auth::tokens::digest(token));
    assert!(!hash.contains(&token[10..]));
    assert_eq!(row.get::<String, _>("scopes"), "read,write");
    drop(conn);

    // Listed without the secret (a read-only one without expiry next); another member sees none of it.
    let (second, _) = app.token(alice, "dashboard", &["read"]).await;
    let listed = app.tokens(alice).await;
    assert_eq!(listed.len(), 2);
    let mut expected = created.clone();
    expected.as_object_mut().unwrap().remove("token");
    assert_eq!(listed[0], expected);
    assert_eq!(listed[1]["id"], second);
    assert_eq!(listed[1]["scopes"], json!(["read"]));
    assert_eq!(listed[1]["expiresAt"], Value::Null);
    let text = serde_json::to_string(&listed).unwrap();
    assert!(!text.contains("pinit_pat_"), "{text}");
    assert!(app.tokens(bob).await.is_empty());

    // Only its member deletes it; then the gateway's check refuses it.
    assert_eq!(app.check_token(token).await.status(), 200);
    assert_eq!(app.delete_token(bob, id).await.status(), 404);
    assert_eq!(app.delete_token(alice, 999_999).await.status(), 404);
    assert_eq!(app.delete_token(alice, id).await.status(), 204);
    assert_eq!(app.delete_token(alice, id).await.status(), 404);
    assert_eq!(app.check_token(token).await.status(), 401);
    assert_eq!(app.tokens(alice).await.len(), 1);
    let anonymous = app
        .as_member(Method::GET, TOKENS, None)
        .header("x-member-id", alice.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401, "a bare X-Member-Id is no member");
}

async fn every_invalid_field_is_named_and_a_member_has_at_most_fifty(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.member_id("alice").await;
    let now = app.clock_now();
    let past = (now - jiff::SignedDuration::from_secs(1)).to_string();
    let too_far = (now + jiff::SignedDuration::from_hours(24 * 366)).to_string();
    for (body, fields) in [
        (json!({"scopes": ["read"]}), vec!["name"]),
        (json!({"name": "  ", "scopes": ["read"]}), vec!["name"]),
        (
            json!({"name": "x".repeat(101), "scopes": ["read"]}),
            vec!["name"],
        ),
        (json!({"name": "x"}), vec!["scopes"]),
        (json!({"name": "x", "scopes": []}), vec!["scopes"]),
        (json!({"name": "x", "scopes": ["admin"]}), vec!["scopes"]),
        (
            json!({"name": "x", "scopes": ["read"], "expiresAt": past}),
            vec!["expiresAt"],
        ),
        (
            json!({"name": "x", "scopes": ["read"], "expiresAt": too_far}),
            vec!["expiresAt"],
        ),
        (
            json!({"name": "x", "scopes": ["read"], "expiresAt": "soon"}),
            vec!["expiresAt"],
        ),
        (
            json!({"name": "", "scopes": ["root"], "expiresAt": past}),
            vec!["name", "scopes", "expiresAt"],
        ),
    ] {
        let res = app.create_token(alice, body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        let answer: Value = res.json().await.unwrap();
        let message = answer["message"].as_str().unwrap();
        for field in fields {
            assert!(message.contains(field), "{body}: {message} names {field}");
        }
    }
    for wrong_type in [
        json!({"name": "x", "scopes": "read"}),
        json!({"name": "x", "scopes": ["read"], "expiresAt": 5}),
        json!([]),
    ] {
        let res = app.create_token(alice, wrong_type.clone()).await;
        assert_eq!(res.status(), 400, "{wrong_type}");
    }
    assert!(app.tokens(alice).await.is_empty());

    let mut ids = Vec::new();
    for i in 0..50 {
        ids.push(app.token(alice, &format!("script {i}"), &["read"]).await.0);
    }
    let over = app
        .create_token(alice, json!({"name": "one too many", "scopes": ["read"]}))
        .await;
    assert_eq!(over.status(), 409);
    assert_eq!(app.delete_token(alice, ids[7]).await.status(), 204);
    app.token(alice, "now fits", &["write"]).await;
}

async fn tokens_and_app_passwords_cannot_make_tokens_or_change_the_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.member_id("alice").await;
    let (id, _) = app.token(alice, "script", &["write"]).await;
    let change = json!({"currentPassword": "password-123", "newPassword": "password-456"});
    for credential in [Credential::ApiToken, Credential::AppPassword] {
        for (method, path, body) in [
            (
                Method::POST,
                TOKENS.to_string(),
                json!({"name": "x", "scopes": ["write"]}),
            ),
            (Method::GET, TOKENS.to_string(), Value::Null),
            (Method::DELETE, format!("{TOKENS}/{id}"), Value::Null),
            (Method::POST, PASSWORD.to_string(), change.clone()),
        ] {
            let mut request = app.with_credential(method.clone(), &path, alice, credential);
            if !body.is_null() {
                request = request.json(&body);
            }
            let res = request.send().await.unwrap();
            assert_eq!(res.status(), 403, "{credential:?} {method} {path}");
            let answer: Value = res.json().await.unwrap();
            assert_eq!(
                answer["message"],
                pinit_kernel::extract::SESSION_REQUIRED,
                "{credential:?} {method} {path}"
            );
        }
    }
    // Nothing happened: the token is there, the password unchanged.
    assert_eq!(app.tokens(alice).await.len(), 1);
    assert_eq!(app.login("alice", "password-123").await.status(), 200);
    // The member's own access token may.
    assert_eq!(app.change_password(alice, None, change).await.status(), 204);
}

async fn only_the_gateway_checks_a_token_and_expired_ones_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.member_id("alice").await;
    let (id, token) = app.token(alice, "script", &["read"]).await;

    // No oracle: without the gateway's call assertion for this path, a 403 before anything is read.
    let bare = app
        .server
        .client
        .post(app.url(CHECK))
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 403);
    let as_member = app
        .as_member(Method::POST, CHECK, Some(alice))
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(as_member.status(), 403);
    let other_path = app
        .gateway_call(Method::POST, APP_PASSWORD_CHECK)
        .header("x-forwarded-for", "1.2.3.4")
        .send()
        .await
        .unwrap();
    assert_ne!(other_path.status(), 200);

    let res = app.check_token(&token).await;
    assert_eq!(res.status(), 200);
    let checked: Value = res.json().await.unwrap();
    assert_eq!(
        checked,
        json!({"memberId": alice, "scopes": ["read"], "expiresAt": null})
    );
    for wrong in [
        "pinit_pat_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_string(),
        token.to_uppercase(),
        token[..token.len() - 1].to_string(),
        "password-123".to_string(),
        String::new(),
    ] {
        assert_eq!(app.check_token(&wrong).await.status(), 401, "{wrong}");
    }

    // The last use is written at most once a minute.
    let first_use = app.tokens(alice).await[0]["lastUsedAt"].clone();
    assert!(first_use.is_string(), "{first_use}");
    app.advance(30);
    assert_eq!(app.check_token(&token).await.status(), 200);
    assert_eq!(app.tokens(alice).await[0]["lastUsedAt"], first_use);
    app.advance(31);
    assert_eq!(app.check_token(&token).await.status(), 200);
    assert_ne!(app.tokens(alice).await[0]["lastUsedAt"], first_use);

    // An expiring token works until its expiry, not at it.
    let expires = app.clock_now() + jiff::SignedDuration::from_secs(3600);
    let res = app
        .create_token(
            alice,
            json!({"name": "an hour", "scopes": ["write"], "expiresAt": expires.to_string()}),
        )
        .await;
    let expiring: Value = res.json().await.unwrap();
    let expiring = expiring["token"].as_str().unwrap().to_string();
    app.advance(3599);
    let res = app.check_token(&expiring).await;
    assert_eq!(res.status(), 200);
    let checked: Value = res.json().await.unwrap();
    assert_eq!(checked["scopes"], json!(["write"]));
    assert_eq!(
        checked["expiresAt"],
        expires.to_string(),
        "the gateway caches no longer"
    );
    app.advance(1);
    assert_eq!(app.check_token(&expiring).await.status(), 401, "expired");
    // Still listed (the member sees it expired) until deleted.
    assert_eq!(app.tokens(alice).await.len(), 2);
    assert_eq!(app.delete_token(alice, id).await.status(), 204);
}

async fn changing_the_password_needs_the_current_one_and_ends_the_other_sessions(backend: Backend) {
    let mut settings = test_settings();
    settings.rate_limit.login_failures_per_username = 3;
    let app = spawn_with(backend, settings).await;
    let (token, here) = app.member("alice").await;
    let me = app.get_json("/v0/me", Some(&token)).await;
    let alice = me["memberId"].as_i64().unwrap();
    // Another browser.
    let res = app.login("alice", "password-123").await;
    let elsewhere = support::refresh_cookie(res.headers()).unwrap();

    // Each refusal names its field and carries the rule's stable code (a client words it).
    for (body, field, code) in [
        (
            json!({"newPassword": "password-456"}),
            "currentPassword",
            "CURRENT_PASSWORD_WRONG",
        ),
        (
            json!({"currentPassword": "password-123", "newPassword": "short"}),
            "newPassword",
            "NEW_PASSWORD_RULE",
        ),
        (
            json!({"currentPassword": "password-123"}),
            "newPassword",
            "NEW_PASSWORD_RULE",
        ),
        (
            json!({"currentPassword": "password-123", "newPassword": "password-123"}),
            "newPassword",
            "NEW_PASSWORD_SAME",
        ),
    ] {
        let res = app.change_password(alice, Some(&here), body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        let answer: Value = res.json().await.unwrap();
        assert!(
            answer["message"].as_str().unwrap().contains(field),
            "{body}: {answer}"
        );
        assert_eq!(answer["code"], code, "{body}: {answer}");
    }
    // A wrong current password: 400 naming it, counted as a failed login of the username.
    let wrong = json!({"currentPassword": "not-the-password", "newPassword": "password-456"});
    let res = app.change_password(alice, Some(&here), wrong.clone()).await;
    assert_eq!(res.status(), 400);
    let answer: Value = res.json().await.unwrap();
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("currentPassword")
    );
    assert_eq!(answer["code"], "CURRENT_PASSWORD_WRONG", "{answer}");
    assert_eq!(app.login("alice", "password-123").await.status(), 200);

    let right = json!({"currentPassword": "password-123", "newPassword": "password-456"});
    assert_eq!(
        app.change_password(alice, Some(&here), right)
            .await
            .status(),
        204
    );
    assert_eq!(app.login("alice", "password-123").await.status(), 400);
    assert_eq!(app.login("alice", "password-456").await.status(), 200);
    // This session goes on; the other browser's is revoked.
    assert_eq!(app.refresh(Some(&here)).await.status(), 200);
    assert_eq!(app.refresh(Some(&elsewhere)).await.status(), 401);

    // Guessing through this endpoint is limited like login (3 failures per username here; one login failed).
    let res = app.change_password(alice, None, wrong.clone()).await;
    assert_eq!(res.status(), 400);
    let res = app.change_password(alice, None, wrong).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().get("retry-after").is_some());
}

async fn an_operator_lists_resets_disables_and_enables_members(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, session) = app.member("alice").await;
    let bob = app.member_id("bob").await;
    let alice = app
        .operator()
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.username == "alice")
        .unwrap();
    let operator = app.operator();
    let accounts = operator.accounts().await.unwrap();
    assert_eq!(
        accounts
            .iter()
            .map(|a| a.username.as_str())
            .collect::<Vec<_>>(),
        ["alice", "bob"]
    );
    assert!(accounts.iter().all(|a| a.disabled_at.is_none()));
    assert!(matches!(
        operator.reset_password("carol").await,
        Err(pinit_auth::app::AuthError::NoSuchMember(_))
    ));

    // A reset: the old password and the sessions end; the new one logs in.
    let one_time = operator.reset_password("alice").await.unwrap();
    assert_eq!(one_time.len(), 24, "{one_time}");
    assert_eq!(app.login("alice", "password-123").await.status(), 400);
    assert_eq!(app.refresh(Some(&session)).await.status(), 401);
    let res = app.login("alice", &one_time).await;
    assert_eq!(res.status(), 200);
    let session = support::refresh_cookie(res.headers()).unwrap();

    // Disabled: no login (told so, after the right password), refresh, app password or token; /v0/me refuses.
    let (_, token) = app.token(alice.id.get(), "script", &["write"]).await;
    let res = app
        .as_member(Method::POST, "/v0/app-passwords", Some(alice.id.get()))
        .json(&json!({"name": "phone"}))
        .send()
        .await
        .unwrap();
    let app_password: Value = res.json().await.unwrap();
    let app_password = app_password["password"].as_str().unwrap().to_string();
    let app_password_check = || {
        app.gateway_call(Method::POST, APP_PASSWORD_CHECK)
            .json(&json!({"username": "alice", "password": app_password, "clientIp": "10.0.0.1"}))
            .send()
    };
    assert_eq!(app_password_check().await.unwrap().status(), 200);
    let disabled = operator.set_disabled("alice", true).await.unwrap();
    assert!(disabled.disabled_at.is_some());
    let res = app.login("alice", &one_time).await;
    assert_eq!(res.status(), 403);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["message"], pinit_auth::domain::ACCOUNT_DISABLED);
    assert_eq!(app.login("alice", "wrong-password").await.status(), 400);
    assert_eq!(app.refresh(Some(&session)).await.status(), 401);
    assert_eq!(app.check_token(&token).await.status(), 401);
    assert_eq!(app_password_check().await.unwrap().status(), 401);
    let me = app
        .as_member(Method::GET, "/v0/me", Some(alice.id.get()))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
    let listed = operator.accounts().await.unwrap();
    assert!(listed[0].disabled_at.is_some() && listed[1].disabled_at.is_none());
    // Disabling again keeps when it was first disabled.
    app.advance(10);
    let again = operator.set_disabled("alice", true).await.unwrap();
    assert_eq!(again.disabled_at, disabled.disabled_at);

    // Enabled again: everything but the ended sessions works.
    let enabled = operator.set_disabled("alice", false).await.unwrap();
    assert!(enabled.disabled_at.is_none());
    assert_eq!(app.login("alice", &one_time).await.status(), 200);
    assert_eq!(app.check_token(&token).await.status(), 200);
    assert_eq!(app_password_check().await.unwrap().status(), 200);
    assert_eq!(app.refresh(Some(&session)).await.status(), 401);
    let _ = bob;
}

async fn the_document_lists_the_token_and_password_operations(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc = app.get_json("/openapi.json", None).await;
    for (path, method) in [
        (TOKENS, "get"),
        (TOKENS, "post"),
        ("/v0/tokens/{id}", "delete"),
        (PASSWORD, "post"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} documented");
        assert!(op["responses"].get("403").is_some(), "{method} {path}: 403");
    }
    assert!(doc["paths"].get(CHECK).is_none(), "internal");
    for schema in [
        "ApiToken",
        "CreatedApiToken",
        "CreateApiTokenRequest",
        "ChangePasswordRequest",
    ] {
        assert!(
            doc["components"]["schemas"].get(schema).is_some(),
            "{schema}"
        );
    }
}

pinit_testkit::both_backends!(
    a_token_is_shown_once_listed_without_it_and_deleted_by_its_member,
    every_invalid_field_is_named_and_a_member_has_at_most_fifty,
    tokens_and_app_passwords_cannot_make_tokens_or_change_the_password,
    only_the_gateway_checks_a_token_and_expired_ones_are_refused,
    changing_the_password_needs_the_current_one_and_ends_the_other_sessions,
    an_operator_lists_resets_disables_and_enables_members,
    the_document_lists_the_token_and_password_operations,
);
