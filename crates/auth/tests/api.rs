//! The auth API end to end over HTTP, on SQLite and PostgreSQL.

mod support;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use pinit_kernel::Backend;
use pinit_kernel::jwt::{Jwks, Verifier};
use serde_json::{Value, json};
use sqlx::Row;
use support::{refresh_cookie, set_cookie, spawn_app, spawn_with, test_settings};

async fn signup_validates_and_refuses_duplicates(backend: Backend) {
    let app = spawn_app(backend).await;
    let ok = app.signup("member.one", "password-123").await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "", "signup answers an empty body");

    let dup = app.signup("member.one", "another-password").await;
    assert_eq!(dup.status(), 409);
    let body: Value = dup.json().await.unwrap();
    assert_eq!(body["message"], "이미 존재하는 사용자입니다.");

    let bad = app
        .post_json(
            "/v0/signup",
            json!({"username": "x", "password": "short", "zoneId": "Mars/Base"}),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("아이디는")
            && message.contains("비밀번호는")
            && message.contains("시간대"),
        "{message}"
    );

    let empty = app.post_json("/v0/signup", json!({})).await;
    assert_eq!(empty.status(), 400);
    let not_json = app
        .server
        .client
        .post(app.url("/v0/signup"))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    let body: Value = not_json.json().await.unwrap();
    assert!(body["message"].is_string(), "{body}");
}

async fn signup_records_member_created_with_the_zone(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app
        .post_json(
            "/v0/signup",
            json!({"username": "zoned", "password": "password-123", "nickname": "베를린", "zoneId": "Europe/Berlin"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.signup("plain", "password-123").await.status(), 200);
    // A refused signup records nothing.
    assert_eq!(app.signup("plain", "password-123").await.status(), 409);

    let rows = sqlx::query(
        "SELECT exchange, routing_key, payload, event_id FROM messaging_outbox ORDER BY seq",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    assert_eq!(rows.len(), 2, "one event per member");
    let exchange: String = rows[0].get(0);
    let routing_key: String = rows[0].get(1);
    assert_eq!(
        (exchange.as_str(), routing_key.as_str()),
        ("auth.member.direct", "member.created")
    );
    let payload: Value = serde_json::from_str(&rows[0].get::<String, _>(2)).unwrap();
    assert_eq!(payload["nickname"], "베를린");
    assert_eq!(payload["zoneId"], "Europe/Berlin");
    assert!(payload["memberId"].as_i64().unwrap() > 0);
    assert_eq!(
        payload["idempotentKey"],
        rows[0].get::<String, _>(3).as_str()
    );
    let occurred = payload["occurredAt"].as_str().unwrap();
    assert!(
        occurred.parse::<jiff::Timestamp>().is_ok(),
        "an instant with offset: {occurred}"
    );
    let second: Value = serde_json::from_str(&rows[1].get::<String, _>(2)).unwrap();
    assert_eq!(
        second["zoneId"], "Asia/Seoul",
        "the configured default zone"
    );
}

async fn login_issues_a_verifiable_access_token_and_a_narrow_cookie(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.signup("alice", "password-123").await.status(), 200);
    let res = app
        .post_json(
            "/v0/login",
            json!({"username": "alice", "password": "password-123"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (_, cookie) = set_cookie(res.headers(), "refresh_token").expect("cookie");
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Secure",
        "Path=/v0",
        "Max-Age=1209600",
    ] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    let body: Value = res.json().await.unwrap();
    let token = body["token"].as_str().unwrap();

    let jwks: Jwks = app
        .server
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let verifier = Verifier::new("https://pinit.go-gradually.me").with_jwks(&jwks);
    let claims = verifier
        .verify_access(token, app.clock_now_secs())
        .expect("verifies with the published key");
    assert_eq!(claims.token_type, "access");
    assert_eq!(claims.exp - claims.iat, 300, "5 minutes");
    let header: Value =
        serde_json::from_slice(&B64.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], jwks.keys[0].kid.as_str());

    let me: Value = app
        .server
        .client
        .get(app.url("/v0/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "alice");
    assert_eq!(me["memberId"].as_i64().unwrap().to_string(), claims.sub);
}

async fn wrong_password_and_unknown_user_look_the_same(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.signup("bob", "password-123").await.status(), 200);
    let wrong = app
        .post_json(
            "/v0/login",
            json!({"username": "bob", "password": "nope-nope"}),
        )
        .await;
    let unknown = app
        .post_json(
            "/v0/login",
            json!({"username": "nobody", "password": "nope-nope"}),
        )
        .await;
    assert_eq!(wrong.status(), 400);
    assert_eq!(unknown.status(), 400);
    assert!(refresh_cookie(wrong.headers()).is_none());
    let (wrong, unknown) = (wrong.text().await.unwrap(), unknown.text().await.unwrap());
    assert_eq!(wrong, unknown);
    // A stable code the web client words in the member's language.
    let body: Value = serde_json::from_str(&wrong).unwrap();
    assert_eq!(body["code"], "BAD_CREDENTIALS");
    let taken = app.signup("bob", "password-123").await;
    assert_eq!(taken.status(), 409);
    assert_eq!(
        taken.json::<Value>().await.unwrap()["code"],
        "DUPLICATE_USERNAME"
    );
    let bad = app.signup("b", "password-123").await;
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.json::<Value>().await.unwrap()["code"], "USERNAME_RULE");
}

async fn refresh_rotates_tolerates_races_and_detects_reuse(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, first) = app.member("carol").await;

    // Rotation: a new cookie, a new access token.
    let res = app.refresh(Some(&first)).await;
    assert_eq!(res.status(), 200);
    let second = refresh_cookie(res.headers()).expect("rotated cookie");
    assert_ne!(second, first);
    let body: Value = res.json().await.unwrap();
    assert!(body["token"].is_string());

    // The same old cookie again within the grace window (a concurrent refresh): an access token, no cookie.
    app.advance(5);
    let racing = app.refresh(Some(&first)).await;
    assert_eq!(racing.status(), 200);
    assert!(
        refresh_cookie(racing.headers()).is_none(),
        "the winner's cookie stands"
    );

    // The holder of the new cookie uses it (the session goes on)...
    app.advance(6);
    let res = app.refresh(Some(&second)).await;
    assert_eq!(res.status(), 200);
    let third = refresh_cookie(res.headers()).expect("rotated again");
    // ...so the old cookie, after the grace window, is a second holder — a stolen token: the whole family dies.
    app.advance(11);
    let reuse = app.refresh(Some(&first)).await;
    assert_eq!(reuse.status(), 401);
    let body: Value = reuse.json().await.unwrap();
    assert!(body["message"].is_string());
    assert_eq!(
        app.refresh(Some(&third)).await.status(),
        401,
        "the family is revoked"
    );

    // A new login is a new family and works.
    let res = app
        .post_json(
            "/v0/login",
            json!({"username": "carol", "password": "password-123"}),
        )
        .await;
    let fresh = refresh_cookie(res.headers()).unwrap();
    assert_eq!(app.refresh(Some(&fresh)).await.status(), 200);
}

/// The crash (docs/adr/0005, "A lost answer is not theft"): a browser refreshes, crashes before it stores the
/// rotated cookie, and later presents the old one. Its successor was never used, so it is issued another instead
/// of the session being revoked; the lost successor, if it ever came back, would be reuse.
async fn a_lost_refresh_answer_is_not_theft(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, first) = app.member("crash").await;
    let res = app.refresh(Some(&first)).await;
    assert_eq!(res.status(), 200);
    let lost = refresh_cookie(res.headers()).expect("the cookie the browser never stored");

    // An hour later the old cookie comes back: a new access token and another cookie.
    app.advance(3600);
    let res = app.refresh(Some(&first)).await;
    assert_eq!(res.status(), 200, "the session survives the crash");
    let again = refresh_cookie(res.headers()).expect("another successor");
    assert_ne!(again, lost);
    assert_ne!(again, first);
    let body: Value = res.json().await.unwrap();
    assert!(body["token"].is_string());
    // The session goes on from the new cookie.
    app.advance(60);
    let res = app.refresh(Some(&again)).await;
    assert_eq!(res.status(), 200);
    let next = refresh_cookie(res.headers()).unwrap();
    // The old cookie once more, now that its successor was used: reuse.
    app.advance(60);
    assert_eq!(app.refresh(Some(&first)).await.status(), 401);
    assert_eq!(
        app.refresh(Some(&next)).await.status(),
        401,
        "the family is revoked"
    );

    // The lost successor coming back after a re-issue is reuse too.
    let (_, first) = app.member("crash-2").await;
    let res = app.refresh(Some(&first)).await;
    let lost = refresh_cookie(res.headers()).unwrap();
    app.advance(3600);
    let res = app.refresh(Some(&first)).await;
    assert_eq!(res.status(), 200);
    let again = refresh_cookie(res.headers()).unwrap();
    app.advance(60);
    assert_eq!(
        app.refresh(Some(&lost)).await.status(),
        401,
        "a retired successor"
    );
    assert_eq!(
        app.refresh(Some(&again)).await.status(),
        401,
        "the family is revoked"
    );
}

async fn refresh_refuses_what_is_not_a_live_refresh_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let (access, refresh) = app.member("dave").await;
    assert_eq!(app.refresh(None).await.status(), 401);
    assert_eq!(app.refresh(Some("")).await.status(), 401);
    assert_eq!(
        app.refresh(Some(&access)).await.status(),
        401,
        "an access token is not a refresh token"
    );
    assert_eq!(app.refresh(Some("made-up")).await.status(), 401);
    // Expired after 14 days.
    app.advance(14 * 24 * 3600 + 1);
    assert_eq!(app.refresh(Some(&refresh)).await.status(), 401);
}

async fn logout_revokes_with_only_the_cookie(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, refresh) = app.member("erin").await;
    let res = app
        .server
        .client
        .post(app.url("/v0/logout"))
        .header("cookie", format!("refresh_token={refresh}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (value, header) = set_cookie(res.headers(), "refresh_token").expect("deleting cookie");
    assert_eq!(value, "");
    assert!(header.contains("Max-Age=0"), "{header}");
    assert_eq!(
        app.refresh(Some(&refresh)).await.status(),
        401,
        "revoked server-side"
    );

    // Without any cookie it still answers 200 (and clears whatever the browser has).
    let res = app
        .server
        .client
        .post(app.url("/v0/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

async fn me_refuses_every_kind_of_bad_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let (access, refresh) = app.member("frank").await;
    let get = |token: Option<String>| {
        let mut req = app.server.client.get(app.url("/v0/me"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    assert_eq!(get(Some(access.clone())).await.unwrap().status(), 200);
    assert_eq!(get(None).await.unwrap().status(), 401);
    assert_eq!(get(Some(refresh)).await.unwrap().status(), 401);
    assert_eq!(get(Some("garbage".into())).await.unwrap().status(), 401);

    // alg=none with the same claims.
    let claims = access.split('.').nth(1).unwrap();
    let none = format!("{}.{claims}.", B64.encode(r#"{"alg":"none","typ":"JWT"}"#));
    assert_eq!(get(Some(none)).await.unwrap().status(), 401);

    // Signed by another key.
    let other = pinit_auth::keys::SigningKey::generate().unwrap();
    let foreign = pinit_auth::tokens::TokenIssuer::new(
        other.into(),
        "https://pinit.go-gradually.me",
        std::time::Duration::from_secs(300),
    )
    .access_token(1, app.auth_now())
    .unwrap();
    assert_eq!(get(Some(foreign)).await.unwrap().status(), 401);

    // The scheme is case-insensitive (RFC 7235).
    for scheme in ["bearer", "BEARER"] {
        let res = app
            .server
            .client
            .get(app.url("/v0/me"))
            .header("authorization", format!("{scheme} {access}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{scheme}");
    }

    // Expired: the one leeway the gateway also applies (kernel jwt::EXP_LEEWAY), no more — 8 s after expiry
    // auth once refused what the gateway still served.
    let leeway = i64::try_from(pinit_kernel::jwt::EXP_LEEWAY.as_secs()).unwrap();
    assert!(leeway < 8);
    app.advance(300 + leeway - 1);
    assert_eq!(get(Some(access.clone())).await.unwrap().status(), 200);
    app.advance(8 - leeway + 1);
    assert_eq!(get(Some(access)).await.unwrap().status(), 401);
}

async fn bcrypt_members_log_in_and_are_upgraded(backend: Backend) {
    let app = spawn_app(backend).await;
    let legacy = bcrypt::hash_with_result("legacy-password", 10)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoA);
    sqlx::query(
        "INSERT INTO member (username, password_hash, nickname, zone_id, social_login, created_at_us) \
         VALUES ($1, $2, NULL, 'Asia/Seoul', FALSE, 0)",
    )
    .bind("imported")
    .bind(&legacy)
    .execute(app.db.pool())
    .await
    .unwrap();
    let res = app
        .post_json(
            "/v0/login",
            json!({"username": "imported", "password": "legacy-password"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let stored: String = sqlx::query("SELECT password_hash FROM member WHERE username = $1")
        .bind("imported")
        .fetch_one(app.db.pool())
        .await
        .unwrap()
        .get(0);
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    let again = app
        .post_json(
            "/v0/login",
            json!({"username": "imported", "password": "legacy-password"}),
        )
        .await;
    assert_eq!(again.status(), 200, "the upgraded hash verifies");
}

async fn login_attempts_are_rate_limited(backend: Backend) {
    let mut settings = test_settings();
    settings.rate_limit.login_per_ip = 4;
    settings.rate_limit.login_failures_per_username = 3;
    let app = spawn_with(backend, settings).await;
    assert_eq!(app.signup("gina", "password-123").await.status(), 200);
    let attempt = |user: &'static str, password: &'static str| {
        app.post_json("/v0/login", json!({"username": user, "password": password}))
    };
    for _ in 0..3 {
        assert_eq!(attempt("gina", "wrong-password").await.status(), 400);
    }
    // The username is locked even with the right password, with a Retry-After.
    let locked = attempt("gina", "password-123").await;
    assert_eq!(locked.status(), 429);
    let retry: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Per IP: the 5th attempt in the window is refused whatever the username.
    assert_eq!(attempt("someone", "x-password").await.status(), 429);
    // A new window lets the member in.
    app.advance(61);
    assert_eq!(attempt("gina", "password-123").await.status(), 200);
}

pinit_testkit::both_backends!(
    signup_validates_and_refuses_duplicates,
    signup_records_member_created_with_the_zone,
    login_issues_a_verifiable_access_token_and_a_narrow_cookie,
    wrong_password_and_unknown_user_look_the_same,
    refresh_rotates_tolerates_races_and_detects_reuse,
    a_lost_refresh_answer_is_not_theft,
    refresh_refuses_what_is_not_a_live_refresh_token,
    logout_revokes_with_only_the_cookie,
    me_refuses_every_kind_of_bad_token,
    bcrypt_members_log_in_and_are_upgraded,
    login_attempts_are_rate_limited,
);

trait ClockExt {
    fn clock_now_secs(&self) -> i64;
    fn auth_now(&self) -> jiff::Timestamp;
}

impl ClockExt for support::App {
    fn clock_now_secs(&self) -> i64 {
        self.auth_now().as_second()
    }
    fn auth_now(&self) -> jiff::Timestamp {
        use pinit_kernel::Clock;
        self.clock.now()
    }
}
