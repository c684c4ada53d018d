//! The OAuth/OIDC provider client against a fake provider served on a loopback port.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pinit_auth::oauth::{
    ExternalIdentity, NAVER_ISSUER, NaverSettings, OAuthConfigError, OAuthError, OAuthSettings,
    OidcSettings, Provider, ProviderRegistry, TokenEndpointAuth, pkce_challenge, pkce_pair,
};
use pinit_kernel::config::{HumanDuration, Secret};
use pinit_testkit::TestServer;
use reqwest::Url;
use serde_json::{Value, json};

const NAVER_SECRET: &str = "naver-very-secret-value";
const OIDC_SECRET: &str = "oidc-very-secret-value";
const NAVER_REDIRECT: &str = "http://localhost:5173/login/callback/naver";
const OIDC_REDIRECT: &str = "http://localhost:5173/login/callback/idp?from=oidc&x=a+b";

// ---------------------------------------------------------------------------------------------------------
// The fake provider
// ---------------------------------------------------------------------------------------------------------

/// What the token endpoint answers.
#[derive(Clone)]
enum TokenMode {
    /// Checks the grant (code, client, PKCE) like a real provider and issues `at-<code>`.
    Real,
    /// A fixed answer.
    Fixed(StatusCode, &'static str, String),
    /// Sleeps before answering.
    Slow(Duration),
}

/// What the profile endpoint answers (after checking the bearer token).
#[derive(Clone)]
enum ProfileMode {
    Json(Value),
    Fixed(StatusCode, &'static str, String),
}

#[derive(Clone)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: Option<(String, String)>,
}

#[derive(Clone, Debug)]
struct TokenRequest {
    content_type: Option<String>,
    authorization: Option<String>,
    form: Vec<(String, String)>,
}

impl TokenRequest {
    fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn names(&self) -> Vec<&str> {
        self.form.iter().map(|(k, _)| k.as_str()).collect()
    }
}

struct FakeState {
    /// `client_id` → expected `client_secret` (None = public client).
    clients: HashMap<String, Option<String>>,
    grants: HashMap<String, Grant>,
    issued: Vec<String>,
    next_code: u32,
    token_mode: TokenMode,
    profile_mode: ProfileMode,
    token_requests: Vec<TokenRequest>,
    profile_authorizations: Vec<Option<String>>,
}

#[derive(Clone)]
struct Fake(Arc<Mutex<FakeState>>);

impl Fake {
    fn new(profile: Value) -> Self {
        let mut clients = HashMap::new();
        clients.insert("naver-client".to_string(), Some(NAVER_SECRET.to_string()));
        clients.insert("oidc-client".to_string(), Some(OIDC_SECRET.to_string()));
        clients.insert("public-client".to_string(), None);
        Fake(Arc::new(Mutex::new(FakeState {
            clients,
            grants: HashMap::new(),
            issued: Vec::new(),
            next_code: 0,
            token_mode: TokenMode::Real,
            profile_mode: ProfileMode::Json(profile),
            token_requests: Vec::new(),
            profile_authorizations: Vec::new(),
        })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.0.lock().expect("fake provider state")
    }

    fn set_token(&self, mode: TokenMode) {
        self.lock().token_mode = mode;
    }

    fn set_profile(&self, mode: ProfileMode) {
        self.lock().profile_mode = mode;
    }

    fn token_requests(&self) -> Vec<TokenRequest> {
        self.lock().token_requests.clone()
    }

    fn router(&self) -> Router {
        Router::new()
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/me", get(profile))
            .with_state(self.clone())
    }
}

fn pairs(query: &str) -> Vec<(String, String)> {
    Url::parse(&format!("http://fake/?{query}"))
        .expect("query parses")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": error, "error_description": description}).to_string(),
    )
        .into_response()
}

async fn authorize(State(fake): State<Fake>, uri: Uri) -> Response {
    let query: HashMap<String, String> =
        pairs(uri.query().unwrap_or_default()).into_iter().collect();
    let mut st = fake.lock();
    let client_id = query.get("client_id").cloned().unwrap_or_default();
    if query.get("response_type").map(String::as_str) != Some("code")
        || !st.clients.contains_key(&client_id)
    {
        return (StatusCode::BAD_REQUEST, "bad authorization request").into_response();
    }
    let redirect_uri = query.get("redirect_uri").cloned().unwrap_or_default();
    let challenge = match (
        query.get("code_challenge"),
        query.get("code_challenge_method"),
    ) {
        (Some(c), Some(m)) => Some((c.clone(), m.clone())),
        (None, None) => None,
        _ => return (StatusCode::BAD_REQUEST, "half a PKCE challenge").into_response(),
    };
    st.next_code += 1;
    let code = format!("code-{}", st.next_code);
    st.grants.insert(
        code.clone(),
        Grant {
            client_id,
            redirect_uri: redirect_uri.clone(),
            challenge,
        },
    );
    let mut location = Url::parse(&redirect_uri).expect("redirect_uri is a URL");
    location
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair(
            "state",
            query.get("state").map(String::as_str).unwrap_or_default(),
        );
    (
        StatusCode::FOUND,
        [(header::LOCATION, location.to_string())],
    )
        .into_response()
}

async fn token(State(fake): State<Fake>, headers: HeaderMap, body: String) -> Response {
    let request = TokenRequest {
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        form: pairs(&body),
    };
    let mode = {
        let mut st = fake.lock();
        st.token_requests.push(request.clone());
        st.token_mode.clone()
    };
    match mode {
        TokenMode::Fixed(status, content_type, body) => {
            return (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
        }
        TokenMode::Slow(delay) => {
            tokio::time::sleep(delay).await;
            return (StatusCode::OK, "{}").into_response();
        }
        TokenMode::Real => {}
    }

    if request.content_type.as_deref() != Some("application/x-www-form-urlencoded") {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "not a form");
    }
    if request.field("grant_type") != Some("authorization_code") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "");
    }
    // Client authentication: Basic (form-encoded id:secret) or the form fields.
    let (client_id, client_secret) = match request
        .authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Basic "))
    {
        Some(basic) => {
            use base64::Engine;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(basic)
                .expect("base64");
            let text = String::from_utf8(decoded).expect("utf-8");
            let (id, secret) = text.split_once(':').expect("id:secret");
            let decode = |s: &str| pairs(&format!("v={s}")).remove(0).1;
            (Some(decode(id)), Some(decode(secret)))
        }
        None => (
            request.field("client_id").map(str::to_string),
            request.field("client_secret").map(str::to_string),
        ),
    };
    let mut st = fake.lock();
    let Some(client_id) = client_id else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "no client_id");
    };
    match st.clients.get(&client_id) {
        Some(expected) if expected.as_deref() == client_secret.as_deref() => {}
        _ => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            );
        }
    }
    let code = request.field("code").unwrap_or_default().to_string();
    let Some(grant) = st.grants.remove(&code) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown code");
    };
    if grant.client_id != client_id {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "code of another client",
        );
    }
    if let Some(redirect_uri) = request.field("redirect_uri")
        && redirect_uri != grant.redirect_uri
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri mismatch",
        );
    }
    match (&grant.challenge, request.field("code_verifier")) {
        (Some((challenge, method)), Some(verifier)) => {
            if method != "S256" || pkce_challenge(verifier) != *challenge {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "PKCE verification failed",
                );
            }
        }
        (None, None) => {}
        _ => {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "PKCE mismatch");
        }
    }
    let access_token = format!("at-{code}");
    st.issued.push(access_token.clone());
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json!({
            "access_token": access_token,
            "refresh_token": "rt-ignored",
            "token_type": "bearer",
            "expires_in": "3600",
        })
        .to_string(),
    )
        .into_response()
}

async fn profile(State(fake): State<Fake>, headers: HeaderMap) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut st = fake.lock();
    st.profile_authorizations.push(authorization.clone());
    let valid = authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        .is_some_and(|token| st.issued.iter().any(|t| t == token));
    if !valid {
        return (StatusCode::UNAUTHORIZED, "").into_response();
    }
    match &st.profile_mode {
        ProfileMode::Json(value) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            value.to_string(),
        )
            .into_response(),
        ProfileMode::Fixed(status, content_type, body) => (
            *status,
            [(header::CONTENT_TYPE, *content_type)],
            body.clone(),
        )
            .into_response(),
    }
}

fn naver_profile() -> Value {
    json!({
        "resultcode": "00",
        "message": "success",
        "response": {"id": "32742776", "nickname": "  OpenAPI ", "email": "openapi@naver.com"}
    })
}

fn oidc_profile() -> Value {
    json!({"sub": "248289761001", "name": "Jane Doe", "preferred_username": "j.doe"})
}

// ---------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------

fn naver_settings(base: &str) -> NaverSettings {
    NaverSettings {
        authorize_url: format!("{base}/authorize"),
        token_url: format!("{base}/token"),
        profile_url: format!("{base}/me"),
        ..NaverSettings::new("naver-client", Secret::new(NAVER_SECRET), NAVER_REDIRECT)
    }
}

fn oidc_settings(base: &str) -> OidcSettings {
    OidcSettings::new(
        "https://idp.example",
        "oidc-client",
        Secret::new(OIDC_SECRET),
        OIDC_REDIRECT,
        format!("{base}/authorize"),
        format!("{base}/token"),
        format!("{base}/me"),
    )
}

fn settings(base: &str) -> OAuthSettings {
    let mut settings = OAuthSettings {
        naver: Some(naver_settings(base)),
        ..OAuthSettings::default()
    };
    settings.oidc.insert("idp".into(), oidc_settings(base));
    settings
}

struct Harness {
    fake: Fake,
    _server: TestServer,
    registry: ProviderRegistry,
}

impl Harness {
    async fn start(profile: Value) -> Harness {
        Self::start_with(profile, |_| {}).await
    }

    async fn start_with(profile: Value, tweak: impl FnOnce(&mut OAuthSettings)) -> Harness {
        let fake = Fake::new(profile);
        let server = TestServer::spawn(fake.router()).await;
        let mut settings = settings(&server.url(""));
        tweak(&mut settings);
        let registry = ProviderRegistry::new(&settings).expect("valid settings");
        Harness {
            fake,
            _server: server,
            registry,
        }
    }

    fn provider(&self, name: &str) -> &Provider {
        self.registry.get(name).expect("provider configured")
    }

    /// Walks the browser leg (authorize → redirect to the front-end callback) and returns the `code`.
    async fn authorize(&self, provider: &Provider, state: &str, challenge: Option<&str>) -> String {
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let response = browser
            .get(provider.authorization_url(state, challenge))
            .send()
            .await
            .expect("authorize answers");
        assert_eq!(
            response.status(),
            StatusCode::FOUND,
            "fake authorize accepted the request"
        );
        let location = response
            .headers()
            .get(header::LOCATION)
            .expect("Location")
            .to_str()
            .expect("ASCII");
        assert!(location.starts_with(provider.redirect_uri().split('?').next().unwrap_or("")));
        let location = Url::parse(location).expect("Location is a URL");
        let query: HashMap<String, String> = location.query_pairs().into_owned().collect();
        assert_eq!(
            query.get("state").map(String::as_str),
            Some(state),
            "state round-trips"
        );
        query.get("code").expect("code").clone()
    }

    /// The whole login as the routes will do it: PKCE pair when used, authorize, identify.
    async fn login(&self, name: &str) -> Result<ExternalIdentity, OAuthError> {
        let provider = self.provider(name);
        let state = "st/+= ä&x";
        let (verifier, challenge) = pkce_pair();
        let code = self
            .authorize(
                provider,
                state,
                provider.uses_pkce().then_some(challenge.as_str()),
            )
            .await;
        provider
            .identify(
                &code,
                state,
                provider.uses_pkce().then_some(verifier.as_str()),
            )
            .await
    }
}

fn query_of(url: &str) -> Vec<(String, String)> {
    Url::parse(url)
        .expect("authorization URL parses")
        .query_pairs()
        .into_owned()
        .collect()
}

fn p(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

fn assert_502(error: &OAuthError) {
    assert_eq!(error.status(), StatusCode::BAD_GATEWAY, "{error}");
}

fn registry_error(settings: &OAuthSettings) -> OAuthConfigError {
    match ProviderRegistry::new(settings) {
        Ok(_) => panic!("settings should be refused"),
        Err(e) => e,
    }
}

fn keys(error: &OAuthConfigError) -> Vec<String> {
    error.problems().iter().map(|p| p.key.clone()).collect()
}

// ---------------------------------------------------------------------------------------------------------
// Authorization URL
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn naver_authorization_url_is_the_references_without_pkce_or_scope() {
    let settings = OAuthSettings {
        naver: Some(NaverSettings::new(
            "E2im4myhhRISZbjpmvQP",
            Secret::new(NAVER_SECRET),
            "https://pinit.go-gradually.me/login/callback/naver",
        )),
        ..OAuthSettings::default()
    };
    let registry = ProviderRegistry::new(&settings).expect("valid");
    assert_eq!(registry.names(), vec!["naver"]);
    let naver = registry.get("naver").expect("naver");
    assert_eq!(naver.name(), "naver");
    assert!(!naver.uses_pkce());
    assert_eq!(naver.issuer(), NAVER_ISSUER);

    // A challenge given to Naver is ignored: it does not support PKCE.
    let url = naver.authorization_url("ab+/=c d", Some("some-challenge"));
    assert_eq!(
        url,
        "https://nid.naver.com/oauth2.0/authorize?response_type=code&client_id=E2im4myhhRISZbjpmvQP\
         &redirect_uri=https%3A%2F%2Fpinit.go-gradually.me%2Flogin%2Fcallback%2Fnaver&state=ab%2B%2F%3Dc+d"
    );
    assert_eq!(
        query_of(&url),
        vec![
            p("response_type", "code"),
            p("client_id", "E2im4myhhRISZbjpmvQP"),
            p(
                "redirect_uri",
                "https://pinit.go-gradually.me/login/callback/naver"
            ),
            p("state", "ab+/=c d"),
        ]
    );
    assert!(!url.contains(NAVER_SECRET));
}

#[tokio::test]
async fn oidc_authorization_url_has_scope_and_s256_challenge_and_keeps_the_endpoint_query() {
    let mut oidc = oidc_settings("https://idp.example");
    oidc.authorization_endpoint = "https://idp.example/auth?hd=example.com".into();
    oidc.scopes = "  openid   profile email ".into();
    let mut settings = OAuthSettings::default();
    settings.oidc.insert("google".into(), oidc);
    let registry = ProviderRegistry::new(&settings).expect("valid");
    let google = registry.get("google").expect("google");
    assert!(google.uses_pkce());
    assert_eq!(google.issuer(), "https://idp.example");

    let (_verifier, challenge) = pkce_pair();
    let url = google.authorization_url("s&t=1", Some(&challenge));
    assert!(url.starts_with("https://idp.example/auth?hd=example.com&response_type=code&"));
    assert!(url.contains("&scope=openid+profile+email&"), "{url}");
    assert!(url.contains("&state=s%26t%3D1&"), "{url}");
    assert!(url.contains(
        "&redirect_uri=http%3A%2F%2Flocalhost%3A5173%2Flogin%2Fcallback%2Fidp%3Ffrom%3Doidc%26x%3Da%2Bb&"
    ));
    assert_eq!(
        query_of(&url),
        vec![
            p("hd", "example.com"),
            p("response_type", "code"),
            p("client_id", "oidc-client"),
            p("redirect_uri", OIDC_REDIRECT),
            p("scope", "openid profile email"),
            p("state", "s&t=1"),
            p("code_challenge", &challenge),
            p("code_challenge_method", "S256"),
        ]
    );
}

#[tokio::test]
async fn oidc_without_pkce_sends_no_challenge() {
    let mut oidc = oidc_settings("https://idp.example");
    oidc.pkce = false;
    let mut settings = OAuthSettings::default();
    settings.oidc.insert("idp".into(), oidc);
    let registry = ProviderRegistry::new(&settings).expect("valid");
    let idp = registry.get("idp").expect("idp");
    assert!(!idp.uses_pkce());
    let url = idp.authorization_url("s", Some("ignored"));
    assert!(!url.contains("code_challenge"), "{url}");
}

// ---------------------------------------------------------------------------------------------------------
// Full flows
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn naver_login_exchanges_the_code_like_the_reference_and_reads_the_profile() {
    let h = Harness::start(naver_profile()).await;
    let identity = h.login("naver").await.expect("login succeeds");
    assert_eq!(
        identity,
        ExternalIdentity {
            // The reference's stored issuer, although authorize_url points at the fake.
            issuer: NAVER_ISSUER.to_string(),
            subject: "32742776".to_string(),
            nickname: Some("OpenAPI".to_string()),
        }
    );

    let requests = h.fake.token_requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        request.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(request.authorization, None);
    assert_eq!(
        request.names(),
        vec!["grant_type", "client_id", "client_secret", "code", "state"],
        "exactly the reference's fields: no redirect_uri, no code_verifier"
    );
    assert_eq!(request.field("grant_type"), Some("authorization_code"));
    assert_eq!(request.field("client_id"), Some("naver-client"));
    assert_eq!(request.field("client_secret"), Some(NAVER_SECRET));
    assert_eq!(request.field("code"), Some("code-1"));
    assert_eq!(request.field("state"), Some("st/+= ä&x"));

    let auths = h.fake.lock().profile_authorizations.clone();
    assert_eq!(auths, vec![Some("Bearer at-code-1".to_string())]);
}

#[tokio::test]
async fn naver_numeric_id_and_missing_nickname() {
    let h = Harness::start(json!({"resultcode": "00", "response": {"id": 42}})).await;
    let identity = h.login("naver").await.expect("login succeeds");
    assert_eq!(identity.subject, "42");
    assert_eq!(identity.nickname, None);

    h.fake.set_profile(ProfileMode::Json(
        json!({"response": {"id": "7", "nickname": "   "}}),
    ));
    assert_eq!(h.login("naver").await.expect("login").nickname, None);
}

#[tokio::test]
async fn naver_verifier_given_anyway_is_not_sent() {
    let h = Harness::start(naver_profile()).await;
    let naver = h.provider("naver");
    let code = h.authorize(naver, "s", None).await;
    naver
        .identify(&code, "s", Some("unused-verifier"))
        .await
        .expect("login succeeds");
    assert_eq!(h.fake.token_requests()[0].field("code_verifier"), None);
}

#[tokio::test]
async fn oidc_login_uses_pkce_s256_and_reads_userinfo() {
    let h = Harness::start(oidc_profile()).await;
    let identity = h.login("idp").await.expect("login succeeds");
    assert_eq!(
        identity,
        ExternalIdentity {
            issuer: "https://idp.example".to_string(),
            subject: "248289761001".to_string(),
            nickname: Some("Jane Doe".to_string()),
        }
    );
    let request = &h.fake.token_requests()[0];
    assert_eq!(
        request.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        request.names(),
        vec![
            "grant_type",
            "code",
            "redirect_uri",
            "client_id",
            "client_secret",
            "code_verifier"
        ]
    );
    assert_eq!(request.field("redirect_uri"), Some(OIDC_REDIRECT));
    assert_eq!(request.field("client_secret"), Some(OIDC_SECRET));
    assert_eq!(
        request.field("state"),
        None,
        "state is not part of the OIDC grant"
    );
    let verifier = request.field("code_verifier").expect("verifier sent");
    assert!(verifier.len() >= 43);
}

#[tokio::test]
async fn oidc_nickname_falls_back_to_nickname_then_preferred_username() {
    let h =
        Harness::start(json!({"sub": "s1", "nickname": "nick", "preferred_username": "pu"})).await;
    assert_eq!(
        h.login("idp").await.expect("login").nickname.as_deref(),
        Some("nick")
    );
    h.fake.set_profile(ProfileMode::Json(
        json!({"sub": "s1", "name": "", "preferred_username": "pu"}),
    ));
    assert_eq!(
        h.login("idp").await.expect("login").nickname.as_deref(),
        Some("pu")
    );
    h.fake.set_profile(ProfileMode::Json(json!({"sub": "s1"})));
    assert_eq!(h.login("idp").await.expect("login").nickname, None);
}

#[tokio::test]
async fn oidc_wrong_verifier_is_a_provider_error() {
    let h = Harness::start(oidc_profile()).await;
    let idp = h.provider("idp");
    let (_verifier, challenge) = pkce_pair();
    let code = h.authorize(idp, "s", Some(&challenge)).await;
    let (other_verifier, _) = pkce_pair();
    let error = idp
        .identify(&code, "s", Some(&other_verifier))
        .await
        .expect_err("the fake checks SHA-256(verifier)");
    assert_502(&error);
    assert_eq!(error.message(), "invalid_grant: PKCE verification failed");
    assert!(matches!(error, OAuthError::Provider { .. }), "{error:?}");
}

#[tokio::test]
async fn oidc_missing_verifier_is_a_caller_bug_without_a_remote_call() {
    let h = Harness::start(oidc_profile()).await;
    let error = h
        .provider("idp")
        .identify("code", "s", None)
        .await
        .expect_err("no verifier");
    assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(matches!(error, OAuthError::MissingPkceVerifier { .. }));
    assert!(h.fake.token_requests().is_empty());
}

#[tokio::test]
async fn oidc_client_secret_basic_authenticates_with_the_header() {
    let h = Harness::start_with(oidc_profile(), |s| {
        let idp = s.oidc.get_mut("idp").expect("idp");
        idp.token_endpoint_auth = TokenEndpointAuth::ClientSecretBasic;
    })
    .await;
    h.login("idp").await.expect("login succeeds");
    let request = &h.fake.token_requests()[0];
    assert!(
        request
            .authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Basic "))
    );
    assert_eq!(request.field("client_secret"), None);
    assert_eq!(request.field("client_id"), Some("oidc-client"));
}

#[tokio::test]
async fn oidc_public_client_sends_no_secret() {
    let h = Harness::start_with(oidc_profile(), |s| {
        let idp = s.oidc.get_mut("idp").expect("idp");
        idp.client_id = "public-client".into();
        idp.client_secret = Secret::default();
    })
    .await;
    h.login("idp").await.expect("login succeeds");
    let request = &h.fake.token_requests()[0];
    assert_eq!(request.field("client_secret"), None);
    assert_eq!(request.authorization, None);
    assert!(request.field("code_verifier").is_some());
}

// ---------------------------------------------------------------------------------------------------------
// Provider failures
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn naver_error_in_a_200_token_response_is_502_with_the_references_message() {
    let h = Harness::start(naver_profile()).await;
    h.fake.set_token(TokenMode::Fixed(
        StatusCode::OK,
        "application/json",
        json!({"error": "invalid_request", "error_description": "no valid data in session"})
            .to_string(),
    ));
    let error = h.login("naver").await.expect_err("provider error");
    assert_502(&error);
    assert_eq!(error.message(), "invalid_request: no valid data in session");
    assert_eq!(error.provider(), "naver");
}

#[tokio::test]
async fn provider_error_without_description_and_with_control_characters() {
    let h = Harness::start(naver_profile()).await;
    h.fake.set_token(TokenMode::Fixed(
        StatusCode::BAD_REQUEST,
        "application/json",
        json!({"error": "invalid_grant", "error_description": null}).to_string(),
    ));
    let error = h.login("naver").await.expect_err("provider error");
    assert_502(&error);
    assert_eq!(error.message(), "invalid_grant");

    h.fake.set_token(TokenMode::Fixed(
        StatusCode::BAD_REQUEST,
        "application/json",
        json!({"error": "x\r\ny", "error_description": "d".repeat(5000)}).to_string(),
    ));
    let message = h
        .login("naver")
        .await
        .expect_err("provider error")
        .message();
    assert!(message.starts_with("x  y: ddd"));
    assert!(message.len() < 1000, "bounded: {} bytes", message.len());
}

#[tokio::test]
async fn missing_access_token_is_400() {
    let h = Harness::start(naver_profile()).await;
    for body in [
        json!({"token_type": "bearer"}),
        json!({"access_token": ""}),
        json!({"access_token": null, "error": ""}),
    ] {
        h.fake.set_token(TokenMode::Fixed(
            StatusCode::OK,
            "application/json",
            body.to_string(),
        ));
        let error = h.login("naver").await.expect_err("no token");
        assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error.message(), "No access token found");
    }
}

#[tokio::test]
async fn token_endpoint_failures_are_502_never_a_panic() {
    let h = Harness::start(naver_profile()).await;
    let cases = [
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/html",
            "<h1>oops</h1>".to_string(),
        ),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "application/json",
            "{}".to_string(),
        ),
        (StatusCode::OK, "text/html", "<html>junk</html>".to_string()),
        (StatusCode::OK, "application/json", "".to_string()),
        (StatusCode::OK, "application/json", "[1,2]".to_string()),
        (
            StatusCode::OK,
            "application/json",
            "\"access_token\"".to_string(),
        ),
        (
            StatusCode::FOUND,
            "text/plain",
            "redirects are not followed".to_string(),
        ),
        (
            StatusCode::OK,
            "application/json",
            format!("{{\"access_token\":\"{}\"}}", "a".repeat(300 * 1024)),
        ),
    ];
    for (status, content_type, body) in cases {
        h.fake
            .set_token(TokenMode::Fixed(status, content_type, body.clone()));
        let error = h.login("naver").await.expect_err("failure");
        assert_502(&error);
        assert_eq!(
            error.message(),
            "The login provider naver did not answer correctly; try again later"
        );
        assert!(!error.to_string().contains(NAVER_SECRET));
    }
}

#[tokio::test]
async fn token_endpoint_timeout_is_502() {
    let h = Harness::start_with(naver_profile(), |s| {
        s.timeout = HumanDuration::from_millis(300);
    })
    .await;
    h.fake.set_token(TokenMode::Slow(Duration::from_secs(5)));
    let started = std::time::Instant::now();
    let error = h.login("naver").await.expect_err("timeout");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout applies"
    );
    assert_502(&error);
    assert!(
        matches!(&error, OAuthError::Transport { reason, .. } if reason.contains("timed out")),
        "{error:?}"
    );
}

#[tokio::test]
async fn provider_down_is_502() {
    // A port that nothing listens on any more.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let registry = ProviderRegistry::new(&settings(&base)).expect("valid");
    for name in ["naver", "idp"] {
        let error = registry
            .get(name)
            .expect("provider")
            .identify(
                "code",
                "state",
                Some("verifier-verifier-verifier-verifier-verif"),
            )
            .await
            .expect_err("nobody answers");
        assert_502(&error);
        assert!(matches!(error, OAuthError::Transport { .. }), "{error:?}");
    }
}

#[tokio::test]
async fn profile_failures_are_502() {
    let h = Harness::start(naver_profile()).await;
    let cases = [
        ProfileMode::Json(json!({"resultcode": "024", "message": "Authentication failed"})),
        ProfileMode::Json(json!({"resultcode": "00", "response": {"nickname": "no id"}})),
        ProfileMode::Json(json!({"resultcode": "00", "response": {"id": ""}})),
        ProfileMode::Json(json!({"resultcode": "00", "response": {"id": true}})),
        ProfileMode::Json(json!({"resultcode": "00", "response": {"id": "9".repeat(256)}})),
        ProfileMode::Fixed(
            StatusCode::INTERNAL_SERVER_ERROR,
            "application/json",
            "{}".into(),
        ),
        ProfileMode::Fixed(StatusCode::OK, "text/html", "<html/>".into()),
    ];
    for mode in cases {
        h.fake.set_profile(mode);
        let error = h.login("naver").await.expect_err("bad profile");
        assert_502(&error);
    }

    h.fake
        .set_profile(ProfileMode::Json(json!({"response": {"nickname": "x"}})));
    let error = h.login("naver").await.expect_err("no id");
    assert!(matches!(error, OAuthError::NoSubject { .. }), "{error:?}");
    assert_eq!(
        error.message(),
        "The login provider naver returned a profile without an id"
    );
}

#[tokio::test]
async fn oidc_userinfo_without_sub_is_502() {
    let h = Harness::start(json!({"name": "no sub"})).await;
    let error = h.login("idp").await.expect_err("no sub");
    assert_502(&error);
    assert!(matches!(error, OAuthError::NoSubject { .. }), "{error:?}");
}

#[tokio::test]
async fn rejected_access_token_at_the_profile_is_502() {
    let h = Harness::start(naver_profile()).await;
    // A token the fake never issued: the profile endpoint answers 401.
    h.fake.set_token(TokenMode::Fixed(
        StatusCode::OK,
        "application/json",
        json!({"access_token": "forged", "token_type": "bearer"}).to_string(),
    ));
    let error = h.login("naver").await.expect_err("401 at the profile");
    assert_502(&error);
    assert!(
        matches!(error, OAuthError::Status { status: 401, .. }),
        "{error:?}"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------------------

#[test]
fn settings_default_to_no_providers_and_naver_endpoints_default() {
    let settings = OAuthSettings::default();
    assert!(settings.naver.is_none());
    assert!(settings.oidc.is_empty());
    assert_eq!(settings.connect_timeout, HumanDuration::from_secs(5));
    assert_eq!(settings.timeout, HumanDuration::from_secs(10));
    let registry = ProviderRegistry::new(&settings).expect("valid");
    assert!(registry.names().is_empty());
    assert!(registry.get("naver").is_none());

    let parsed: OAuthSettings = serde_json::from_value(json!({
        "naver": {"client_id": "id", "client_secret": "s3cr3t", "redirect_uri": "https://fe.example/login/callback/naver"},
        "oidc": {"google": {
            "issuer": "https://accounts.google.com",
            "client_id": "gid",
            "client_secret": "gs",
            "redirect_uri": "https://fe.example/login/callback/google",
            "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
            "token_endpoint": "https://oauth2.googleapis.com/token",
            "userinfo_endpoint": "https://openidconnect.googleapis.com/v1/userinfo"
        }},
        "timeout": "3s"
    }))
    .expect("parses");
    let naver = parsed.naver.as_ref().expect("naver");
    assert_eq!(
        naver.authorize_url,
        "https://nid.naver.com/oauth2.0/authorize"
    );
    assert_eq!(naver.token_url, "https://nid.naver.com/oauth2.0/token");
    assert_eq!(naver.profile_url, "https://openapi.naver.com/v1/nid/me");
    let google = &parsed.oidc["google"];
    assert_eq!(google.scopes, "openid profile");
    assert!(google.pkce);
    assert_eq!(
        google.token_endpoint_auth,
        TokenEndpointAuth::ClientSecretPost
    );
    assert_eq!(parsed.timeout, HumanDuration::from_secs(3));
    let registry = ProviderRegistry::new(&parsed).expect("valid");
    assert_eq!(registry.names(), vec!["google", "naver"]);
    assert!(registry.get("Naver").is_none(), "names are case-sensitive");
}

#[test]
fn unknown_keys_are_refused() {
    let typo = serde_json::from_value::<OAuthSettings>(json!({
        "naver": {"client_id": "id", "client_secret": "s", "redirect_uri": "https://fe.example/cb", "scope": "x"}
    }));
    assert!(
        typo.expect_err("unknown field")
            .to_string()
            .contains("scope")
    );
    let typo = serde_json::from_value::<OAuthSettings>(json!({"google": {}}));
    assert!(
        typo.expect_err("unknown field")
            .to_string()
            .contains("google")
    );
}

#[test]
fn secrets_never_appear_in_debug_serialization_or_errors() {
    let settings = settings("http://127.0.0.1:9");
    for text in [
        format!("{settings:?}"),
        format!("{settings:#?}"),
        serde_json::to_string(&settings).expect("serializes"),
        format!("{:?}", ProviderRegistry::new(&settings).expect("valid")),
        format!(
            "{:?}",
            ProviderRegistry::new(&settings)
                .expect("valid")
                .get("naver")
                .expect("naver")
        ),
    ] {
        assert!(!text.contains(NAVER_SECRET), "{text}");
        assert!(!text.contains(OIDC_SECRET), "{text}");
    }

    let mut broken = settings.clone();
    if let Some(naver) = broken.naver.as_mut() {
        naver.token_url = "not a url".into();
    }
    let error = registry_error(&broken);
    assert!(!error.to_string().contains(NAVER_SECRET));
    assert!(!format!("{error:?}").contains(NAVER_SECRET));
}

#[test]
fn invalid_settings_name_every_key_at_fault() {
    let mut settings = settings("https://idp.example");
    if let Some(naver) = settings.naver.as_mut() {
        naver.client_id = " ".into();
        naver.client_secret = Secret::default();
        naver.token_url = "nid.naver.com/oauth2.0/token".into();
        naver.profile_url = "ftp://openapi.naver.com/v1/nid/me".into();
    }
    let error = registry_error(&settings);
    assert_eq!(
        keys(&error),
        vec![
            "auth.oauth.naver.client_id",
            "auth.oauth.naver.client_secret",
            "auth.oauth.naver.token_url",
            "auth.oauth.naver.profile_url",
        ]
    );
    let text = error.to_string();
    assert!(
        text.contains(
            "auth.oauth.naver.token_url: `nid.naver.com/oauth2.0/token` is not an absolute URL"
        ),
        "{text}"
    );
}

#[test]
fn plain_http_is_refused_off_loopback_unless_allowed() {
    let mut settings = settings("http://idp.internal:8080");
    let error = registry_error(&settings);
    assert!(keys(&error).contains(&"auth.oauth.oidc.idp.token_endpoint".to_string()));
    assert!(keys(&error).contains(&"auth.oauth.naver.token_url".to_string()));
    assert!(error.to_string().contains("must use https://"));

    settings.allow_insecure_http = true;
    ProviderRegistry::new(&settings).expect("allowed explicitly");

    for base in [
        "http://localhost:1",
        "http://127.0.0.1:1",
        "http://[::1]:1",
        "https://x.example",
    ] {
        ProviderRegistry::new(&self::settings(base)).expect(base);
    }

    let mut credentials = self::settings("https://idp.example");
    credentials
        .oidc
        .get_mut("idp")
        .expect("idp")
        .userinfo_endpoint = "https://user:pw@idp.example/me".into();
    assert_eq!(
        keys(&registry_error(&credentials)),
        vec!["auth.oauth.oidc.idp.userinfo_endpoint"]
    );
}

#[test]
fn invalid_oidc_settings_name_the_key() {
    let check = |tweak: &dyn Fn(&mut OidcSettings), name: &str| {
        let mut settings = OAuthSettings::default();
        let mut oidc = oidc_settings("https://idp.example");
        tweak(&mut oidc);
        settings.oidc.insert(name.into(), oidc);
        keys(&registry_error(&settings))
    };
    assert_eq!(
        check(&|o| o.scopes = "profile email".into(), "idp"),
        vec!["auth.oauth.oidc.idp.scopes"]
    );
    assert_eq!(
        check(&|o| o.scopes = "openid pro\"file".into(), "idp"),
        vec!["auth.oauth.oidc.idp.scopes"]
    );
    assert_eq!(
        check(
            &|o| {
                o.client_secret = Secret::default();
                o.pkce = false;
            },
            "idp"
        ),
        vec!["auth.oauth.oidc.idp.client_secret"]
    );
    assert_eq!(
        check(&|o| o.issuer = NAVER_ISSUER.into(), "idp"),
        vec!["auth.oauth.oidc.idp.issuer"]
    );
    assert_eq!(
        check(&|o| o.issuer = String::new(), "idp"),
        vec!["auth.oauth.oidc.idp.issuer"]
    );
    assert_eq!(
        check(&|o| o.redirect_uri = "/login/callback".into(), "idp"),
        vec!["auth.oauth.oidc.idp.redirect_uri"]
    );
    assert_eq!(check(&|_| {}, "naver"), vec!["auth.oauth.oidc.naver"]);
    assert_eq!(check(&|_| {}, "bad/name"), vec!["auth.oauth.oidc.bad/name"]);
    assert_eq!(check(&|_| {}, ""), vec!["auth.oauth.oidc."]);
}

#[test]
fn zero_timeouts_are_refused() {
    let settings = OAuthSettings {
        timeout: HumanDuration::from_secs(0),
        connect_timeout: HumanDuration::from_secs(0),
        ..OAuthSettings::default()
    };
    assert_eq!(
        keys(&registry_error(&settings)),
        vec!["auth.oauth.connect_timeout", "auth.oauth.timeout"]
    );
}

// ---------------------------------------------------------------------------------------------------------
// PKCE and error mapping
// ---------------------------------------------------------------------------------------------------------

#[test]
fn pkce_matches_rfc7636_appendix_b() {
    assert_eq!(
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    let (verifier, challenge) = pkce_pair();
    assert!((43..=128).contains(&verifier.len()));
    assert!(
        verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    );
    assert_eq!(challenge, pkce_challenge(&verifier));
    assert_eq!(challenge.len(), 43);
    assert_ne!(pkce_pair().0, verifier);
}

#[test]
fn error_statuses_and_messages() {
    let provider = || "naver".to_string();
    let error = OAuthError::Provider {
        provider: provider(),
        endpoint: pinit_auth::oauth::Endpoint::Token,
        error: "invalid_grant".into(),
        description: Some("bad code".into()),
    };
    assert_eq!(error.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(error.message(), "invalid_grant: bad code");
    assert_eq!(
        error.to_string(),
        "naver token endpoint returned an error: invalid_grant: bad code"
    );
    let error = OAuthError::NoAccessToken {
        provider: provider(),
    };
    assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error.message(), "No access token found");
}
