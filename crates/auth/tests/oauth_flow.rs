//! The OAuth login through auth's own routes, against a local fake OIDC provider: authorize → provider →
//! callback → tokens; replayed, foreign and expired states refused; the first login creates the member once.

mod support;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use pinit_auth::oauth::OidcSettings;
use pinit_kernel::Backend;
use pinit_kernel::config::Secret;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{App, refresh_cookie, set_cookie, spawn_with, test_settings};

/// The fake provider remembers the PKCE challenge of the last authorization it saw.
#[derive(Clone, Default)]
struct Fake {
    challenge: Arc<Mutex<Option<String>>>,
}

async fn token(State(fake): State<Fake>, body: String) -> axum::response::Response {
    use axum::response::IntoResponse;
    let form = reqwest::Url::parse(&format!("http://form/?{body}")).expect("form body");
    let field = |k: &str| {
        form.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    let verifier = field("code_verifier").unwrap_or_default();
    let expected = fake.challenge.lock().unwrap().clone().unwrap_or_default();
    let actual = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        Sha256::digest(verifier.as_bytes()),
    );
    if field("code").as_deref() != Some("good-code") || actual != expected {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            axum::Json(
                json!({"error": "invalid_grant", "error_description": "bad code or verifier"}),
            ),
        )
            .into_response();
    }
    axum::Json(json!({"access_token": "provider-token", "token_type": "Bearer"})).into_response()
}

async fn userinfo() -> axum::Json<Value> {
    axum::Json(json!({"sub": "google-user-7", "name": "구글 사용자"}))
}

async fn spawn_provider(fake: Fake) -> pinit_testkit::TestServer {
    pinit_testkit::TestServer::spawn(
        Router::new()
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .with_state(fake),
    )
    .await
}

async fn app_with_provider(backend: Backend, provider: &pinit_testkit::TestServer) -> App {
    let mut settings = test_settings();
    settings.oauth.oidc.insert(
        "google".into(),
        OidcSettings::new(
            "https://accounts.example",
            "client-1",
            Secret::new("secret-1"),
            "http://127.0.0.1:5173/login/callback/google",
            provider.url("/authorize"),
            provider.url("/token"),
            provider.url("/userinfo"),
        ),
    );
    spawn_with(backend, settings).await
}

/// Starts a login: (state, binding cookie value).
async fn authorize(app: &App, fake: &Fake) -> (String, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .get(app.url("/v0/login/oauth2/authorize/google"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let url = reqwest::Url::parse(&location).unwrap();
    let param = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    assert_eq!(param("code_challenge_method"), "S256");
    *fake.challenge.lock().unwrap() = Some(param("code_challenge"));
    let (binding, header) =
        set_cookie(res.headers(), "pinit_oauth_binding").expect("binding cookie");
    assert!(
        header.contains("HttpOnly") && header.contains("Path=/v0/login/oauth2"),
        "{header}"
    );
    (param("state"), binding)
}

async fn callback(app: &App, state: &str, binding: Option<&str>, code: &str) -> reqwest::Response {
    let mut req = app
        .server
        .client
        .get(app.url("/v0/login/oauth2/code/google"))
        .query(&[("code", code), ("state", state)]);
    if let Some(b) = binding {
        req = req.header("cookie", format!("pinit_oauth_binding={b}"));
    }
    req.send().await.unwrap()
}

async fn members(app: &App) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT COUNT(*) FROM member")
        .fetch_one(app.db.pool())
        .await
        .unwrap()
        .get::<i64, _>(0)
}

async fn oidc_login_creates_the_member_once_and_issues_tokens(backend: Backend) {
    let fake = Fake::default();
    let provider = spawn_provider(fake.clone()).await;
    let app = app_with_provider(backend, &provider).await;

    let (state, binding) = authorize(&app, &fake).await;
    let res = callback(&app, &state, Some(&binding), "good-code").await;
    assert_eq!(res.status(), 200);
    assert!(refresh_cookie(res.headers()).is_some());
    let body: Value = res.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_string();
    let me: Value = app
        .server
        .client
        .get(app.url("/v0/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["nickname"], "구글 사용자");

    // A second login of the same identity is the same member, and no new member.created.
    let (state, binding) = authorize(&app, &fake).await;
    let res = callback(&app, &state, Some(&binding), "good-code").await;
    assert_eq!(res.status(), 200);
    let again: Value = res.json().await.unwrap();
    let me_again: Value = app
        .server
        .client
        .get(app.url("/v0/me"))
        .bearer_auth(again["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me_again["memberId"], me["memberId"]);
    assert_eq!(members(&app).await, 1);
    use sqlx::Row;
    let events: i64 =
        sqlx::query("SELECT COUNT(*) FROM messaging_outbox WHERE routing_key = 'member.created'")
            .fetch_one(app.db.pool())
            .await
            .unwrap()
            .get(0);
    assert_eq!(events, 1);
}

/// A complete login of the provider's identity: (member id, refresh cookie).
async fn login(app: &App, fake: &Fake) -> (i64, String) {
    let (state, binding) = authorize(app, fake).await;
    let res = callback(app, &state, Some(&binding), "good-code").await;
    assert_eq!(res.status(), 200);
    let cookie = refresh_cookie(res.headers()).expect("refresh cookie");
    let body: Value = res.json().await.unwrap();
    let token = body["token"].as_str().unwrap();
    let claims = app.auth.authenticate(Some(token)).expect("a valid token");
    (claims.get(), cookie)
}

/// `DELETE /v0/members/me` from `member`'s session (its refresh cookie), with `body` unless null.
async fn delete_account(app: &App, member: i64, cookie: &str, body: Value) -> reqwest::Response {
    let mut request = app
        .as_member(reqwest::Method::DELETE, "/v0/members/me", Some(member))
        .header("cookie", format!("refresh_token={cookie}"));
    if !body.is_null() {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// A member made by an OAuth login has no usable password: it deletes its account within 5 minutes of a login
/// (a refresh is no login); then the identity is unlinked, and logging in with it again makes a new member.
async fn an_oauth_member_deletes_the_account_after_a_fresh_login(backend: Backend) {
    let fake = Fake::default();
    let provider = spawn_provider(fake.clone()).await;
    let app = app_with_provider(backend, &provider).await;
    let (member, cookie) = login(&app, &fake).await;

    app.advance(301);
    let res = app.refresh(Some(&cookie)).await;
    assert_eq!(res.status(), 200);
    let refreshed = refresh_cookie(res.headers()).unwrap();
    let res = delete_account(&app, member, &refreshed, Value::Null).await;
    assert_eq!(res.status(), 403, "a refreshed session is no fresh login");
    let answer: Value = res.json().await.unwrap();
    assert!(
        answer["message"].as_str().unwrap().contains("5분"),
        "{answer}"
    );
    // A password it does not have is wrong.
    let res = delete_account(&app, member, &refreshed, json!({"password": "guess-1234"})).await;
    assert_eq!(res.status(), 403);
    // Another member's fresh session proves nothing for this one.
    assert_eq!(app.signup("bob", "password-123").await.status(), 200);
    let res = app
        .post_json(
            "/v0/login",
            json!({"username": "bob", "password": "password-123"}),
        )
        .await;
    let bobs = refresh_cookie(res.headers()).unwrap();
    let res = delete_account(&app, member, &bobs, Value::Null).await;
    assert_eq!(res.status(), 403);

    let (again, fresh) = login(&app, &fake).await;
    assert_eq!(again, member);
    let res = delete_account(&app, member, &fresh, Value::Null).await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        pinit_testkit::member_rows::member_rows(&app.db, member).await,
        Vec::<String>::new()
    );
    let (new_member, _) = login(&app, &fake).await;
    assert!(new_member > member, "{new_member} after {member}");
    assert_eq!(members(&app).await, 2, "bob and the new member");
}

async fn states_are_single_use_bound_to_the_browser_and_expire(backend: Backend) {
    let fake = Fake::default();
    let provider = spawn_provider(fake.clone()).await;
    let app = app_with_provider(backend, &provider).await;

    // Replay: the state is consumed by the first callback.
    let (state, binding) = authorize(&app, &fake).await;
    assert_eq!(
        callback(&app, &state, Some(&binding), "good-code")
            .await
            .status(),
        200
    );
    let replay = callback(&app, &state, Some(&binding), "good-code").await;
    assert_eq!(replay.status(), 400);
    let body: Value = replay.json().await.unwrap();
    assert_eq!(body["message"], "Invalid or expired state");

    // Another browser (no or a different binding cookie).
    let (state, _) = authorize(&app, &fake).await;
    assert_eq!(
        callback(&app, &state, Some("someone-else"), "good-code")
            .await
            .status(),
        400
    );
    let (state, _) = authorize(&app, &fake).await;
    assert_eq!(
        callback(&app, &state, None, "good-code").await.status(),
        400
    );

    // Expired after 5 minutes.
    let (state, binding) = authorize(&app, &fake).await;
    app.advance(301);
    assert_eq!(
        callback(&app, &state, Some(&binding), "good-code")
            .await
            .status(),
        400
    );

    // Made-up state, unknown provider, provider-reported error.
    assert_eq!(
        callback(&app, "forged", Some(&binding), "good-code")
            .await
            .status(),
        400
    );
    let unknown = app
        .server
        .client
        .get(app.url("/v0/login/oauth2/authorize/myspace"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    let denied = app
        .server
        .client
        .get(app.url(
            "/v0/login/oauth2/code/google?error=access_denied&error_description=user%20said%20no",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 400);
    assert_eq!(
        members(&app).await,
        1,
        "only the first successful login created a member"
    );
}

async fn a_provider_refusing_the_code_is_a_502(backend: Backend) {
    let fake = Fake::default();
    let provider = spawn_provider(fake.clone()).await;
    let app = app_with_provider(backend, &provider).await;
    let (state, binding) = authorize(&app, &fake).await;
    let res = callback(&app, &state, Some(&binding), "bad-code").await;
    assert_eq!(res.status(), 502);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["message"], "invalid_grant: bad code or verifier");
    assert_eq!(members(&app).await, 0);
}

pinit_testkit::both_backends!(
    an_oauth_member_deletes_the_account_after_a_fresh_login,
    oidc_login_creates_the_member_once_and_issues_tokens,
    states_are_single_use_bound_to_the_browser_and_expire,
    a_provider_refusing_the_code_is_a_502,
);
