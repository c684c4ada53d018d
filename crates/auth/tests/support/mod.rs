//! `spawn_app()` for the auth service: the real router on a random port over a fresh database, with a manual
//! clock and cheap password hashing, behind the binary's `vouched_members_only` (members and gateway calls only
//! from assertions signed with [`App::identity`]).
#![allow(dead_code)]

use std::sync::{Arc, LazyLock};

use jiff::{SignedDuration, Timestamp};
use pinit_auth::keys::SigningKey;
use pinit_auth::oauth::ProviderRegistry;
use pinit_auth::password::Hasher;
use pinit_auth::settings::{PasswordSettings, Settings};
use pinit_auth::tokens::TokenIssuer;
use pinit_auth::{Auth, MIGRATIONS};
use pinit_kernel::http::service_router;
use pinit_kernel::identity::{
    ASSERTION_HEADER, Credential, IdentityKey, Vouching, vouched_members_only,
};
use pinit_kernel::{Backend, Db, ManualClock, Readiness, SharedClock};
use pinit_messaging::Outbox;
use pinit_testkit::{TestDb, TestServer};
use reqwest::header::{HeaderMap, SET_COOKIE};
use tokio_util::sync::CancellationToken;

pub static KEY_PEM: LazyLock<String> = LazyLock::new(|| {
    SigningKey::generate()
        .and_then(|k| k.private_pem())
        .expect("a test key")
});

pub fn signing_key() -> SigningKey {
    SigningKey::from_pem(&KEY_PEM, std::path::Path::new("test")).expect("test key")
}

pub struct App {
    pub server: TestServer,
    pub db: Db,
    pub clock: Arc<ManualClock>,
    pub auth: Auth,
    /// The key the gateway would sign members and its own calls with.
    pub identity: IdentityKey,
    _test_db: TestDb,
}

pub fn test_settings() -> Settings {
    let mut settings = Settings::default();
    settings.cookie.secure = true;
    settings.password = PasswordSettings {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
        max_concurrent: 4,
    };
    settings
}

pub async fn spawn_app(backend: Backend) -> App {
    spawn_with(backend, test_settings()).await
}

pub async fn spawn_with(backend: Backend, settings: Settings) -> App {
    let (test_db, db) = TestDb::migrated(backend, pinit_auth::NAME, MIGRATIONS).await;
    let clock = ManualClock::new(Timestamp::now());
    let shared: SharedClock = clock.clone();
    let tokens = TokenIssuer::new(
        signing_key().into(),
        &settings.issuer,
        settings.access_token_ttl.get(),
    );
    let hasher = Hasher::new(&settings.password).expect("hasher");
    let providers = ProviderRegistry::new(&settings.oauth).expect("providers");
    let auth = Auth::new(
        db.clone(),
        shared.clone(),
        hasher,
        tokens,
        settings,
        Outbox::new(shared.clone(), std::time::Duration::ZERO),
        providers,
    );
    let readiness = Readiness::new(pinit_auth::NAME, CancellationToken::new());
    readiness.set_migrated();
    let identity = IdentityKey::generate();
    let router = service_router(
        pinit_auth::NAME,
        pinit_auth::routes(auth.clone()),
        &readiness,
        pinit_auth::ERROR_STYLE,
        shared.clone(),
    )
    .layer(axum::middleware::from_fn_with_state(
        Vouching {
            key: identity.clone(),
            clock: shared,
        },
        vouched_members_only,
    ));
    App {
        server: TestServer::spawn(router).await,
        db,
        clock,
        auth,
        identity,
        _test_db: test_db,
    }
}

impl App {
    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub fn advance(&self, secs: i64) {
        self.clock.advance(SignedDuration::from_secs(secs));
    }

    pub async fn post_json(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.server
            .client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn signup(&self, username: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/v0/signup",
            serde_json::json!({"username": username, "password": password, "nickname": "핀잇"}),
        )
        .await
    }

    /// Signs up and logs in: (access token, refresh cookie value).
    pub async fn member(&self, username: &str) -> (String, String) {
        assert_eq!(self.signup(username, "password-123").await.status(), 200);
        let res = self
            .post_json(
                "/v0/login",
                serde_json::json!({"username": username, "password": "password-123"}),
            )
            .await;
        assert_eq!(res.status(), 200);
        let cookie = refresh_cookie(res.headers()).expect("refresh cookie");
        let body: serde_json::Value = res.json().await.expect("json");
        (body["token"].as_str().expect("token").to_string(), cookie)
    }

    fn now_secs(&self) -> i64 {
        use pinit_kernel::Clock;
        self.clock.now().as_second()
    }

    /// A request as the gateway sends it for `member` (vouched for with an assertion for this method and path),
    /// or for nobody.
    pub fn as_member(
        &self,
        method: reqwest::Method,
        path: &str,
        member: Option<i64>,
    ) -> reqwest::RequestBuilder {
        let request = self.server.client.request(method.clone(), self.url(path));
        match member {
            Some(m) => self.with_credential(method, path, m, Credential::Session),
            None => request,
        }
    }

    /// A request as the gateway sends it for `member`, verified by `credential` (an API token, an app password).
    pub fn with_credential(
        &self,
        method: reqwest::Method,
        path: &str,
        member: i64,
        credential: Credential,
    ) -> reqwest::RequestBuilder {
        let path_only = path.split('?').next().unwrap_or(path);
        self.server
            .client
            .request(method.clone(), self.url(path))
            .header(
                ASSERTION_HEADER,
                self.identity.sign_as(
                    member,
                    credential,
                    method.as_str(),
                    path_only,
                    self.now_secs(),
                ),
            )
    }

    /// The gateway's own call (signed for this method and path).
    pub fn gateway_call(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.server
            .client
            .request(method.clone(), self.url(path))
            .header(
                ASSERTION_HEADER,
                self.identity
                    .sign_gateway_call(method.as_str(), path, self.now_secs()),
            )
    }

    /// Signs up `username` (password `password-123`) and returns its member id.
    pub async fn member_id(&self, username: &str) -> i64 {
        let (token, _) = self.member(username).await;
        let me = self.get_json("/v0/me", Some(&token)).await;
        me["memberId"].as_i64().expect("member id")
    }

    /// `GET path` (with a bearer access token, or none) as JSON.
    pub async fn get_json(&self, path: &str, bearer: Option<&str>) -> serde_json::Value {
        let mut request = self.server.client.get(self.url(path));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json")
    }

    /// `method path` as the gateway sends it for `member`, with a JSON body unless it is null.
    pub async fn send_as(
        &self,
        method: reqwest::Method,
        path: &str,
        member: i64,
        body: serde_json::Value,
    ) -> reqwest::Response {
        let mut request = self.as_member(method, path, Some(member));
        if !body.is_null() {
            request = request.json(&body);
        }
        request.send().await.expect("request")
    }

    /// POST /v0/refresh with a cookie (or none).
    pub async fn refresh(&self, cookie: Option<&str>) -> reqwest::Response {
        let mut request = self.server.client.post(self.url("/v0/refresh"));
        if let Some(c) = cookie {
            request = request.header("cookie", format!("refresh_token={c}"));
        }
        request.send().await.expect("request")
    }
}

/// The `refresh_token` value set by a response, if any.
pub fn refresh_cookie(headers: &HeaderMap) -> Option<String> {
    set_cookie(headers, "refresh_token").map(|(value, _)| value)
}

/// (value, full header) of a `Set-Cookie` named `name`.
pub fn set_cookie(headers: &HeaderMap, name: &str) -> Option<(String, String)> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let (pair, _) = v.split_once(';').unwrap_or((v, ""));
            let (k, value) = pair.split_once('=')?;
            (k.trim() == name).then(|| (value.to_string(), v.to_string()))
        })
}
