//! Auth's HTTP surface: the reference's `/v0` paths and bodies (`{"token"}`, `{"message"}`), plus the JWKS,
//! the member's app passwords (`/v0/app-passwords`, for the member the gateway vouches for), personal API tokens
//! (`/v0/tokens`), the password change (`/v0/members/me/password`) and account deletion (`DELETE /v0/members/me`), and the gateway's own checks of an app
//! password and an API token (`kernel::identity::{app_password_check, api_token_check}`, a `GatewayCall` only).
//!
//! What only a signed-in member may do — make, list and delete API tokens, change the password (and delete the
//! account) — takes [`SessionMember`] instead of `CurrentMember`: an API token or an app password gets 403.
//! Handlers only translate; the use cases live in [`crate::app`], the rules in [`crate::domain`].

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use pinit_kernel::error::FieldError;
use pinit_kernel::extract::{Json, Path, Query};
use pinit_kernel::identity::api_token_check::{self, Scope};
use pinit_kernel::identity::{GatewayCall, app_password_check};
use pinit_kernel::{ApiError, CurrentMember, SessionMember};
use serde::{Deserialize, Serialize};

use crate::app::account::{AccountDeletion, PasswordChange};
use crate::app::api_tokens::NewToken;
use crate::app::{
    Auth, AuthError, CreatedApiToken, CreatedAppPassword, OAUTH_STATE_TTL, OAuthCallback, Session,
    SignupRequest,
};
use crate::domain::{ApiToken, ApiTokenId, AppPassword, AppPasswordId, MemberId};

/// The refresh cookie's name (the reference's; the client never reads it).
pub const REFRESH_COOKIE: &str = "refresh_token";
/// Binds an OAuth state to the browser that started the login.
pub const OAUTH_BINDING_COOKIE: &str = "pinit_oauth_binding";

/// Auth's OpenAPI document.
pub const OPENAPI: &str = include_str!("../openapi.json");

pub fn routes(auth: Auth) -> Router {
    Router::new()
        .route("/v0/signup", post(signup))
        .route("/v0/login", post(login))
        .route("/v0/refresh", post(refresh))
        .route("/v0/logout", post(logout))
        .route("/v0/me", get(me))
        .route("/v0/login/oauth2/authorize/{provider}", get(authorize))
        .route("/v0/login/oauth2/code/{provider}", get(callback))
        .route(
            "/v0/app-passwords",
            get(list_app_passwords).post(create_app_password),
        )
        .route("/v0/app-passwords/{id}", delete(delete_app_password))
        .route(app_password_check::PATH, post(check_app_password))
        .route("/v0/tokens", get(list_api_tokens).post(create_api_token))
        .route("/v0/tokens/{id}", delete(delete_api_token))
        .route(api_token_check::PATH, post(check_api_token))
        .route("/v0/members/me/password", post(change_password))
        .route("/v0/members/me", delete(delete_account))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/openapi.json", pinit_kernel::http::openapi_route(OPENAPI))
        .with_state(auth)
}

impl From<AuthError> for ApiError {
    /// The status and body of each refusal, with a stable code where a member reads it: the input rules' names
    /// (`USERNAME_RULE`, `BAD_CREDENTIALS`, … — `domain::input::code_of`), and the refusals of their own.
    fn from(error: AuthError) -> Self {
        let code = match &error {
            AuthError::RateLimited { .. } => Some("RATE_LIMITED"),
            AuthError::Disabled => Some("ACCOUNT_DISABLED"),
            AuthError::WrongPassword => Some("WRONG_PASSWORD"),
            AuthError::FreshLoginRequired => Some("FRESH_LOGIN_REQUIRED"),
            AuthError::AppPasswordLimit | AuthError::ApiTokenLimit => Some("LIMIT_REACHED"),
            _ => None,
        };
        let mut answer = answer(error);
        answer.code = code.or_else(|| crate::domain::input::code_of(&answer.message));
        for f in &mut answer.errors {
            f.code = crate::domain::input::code_of(&f.reason);
        }
        answer
    }
}

fn answer(error: AuthError) -> ApiError {
    {
        match error {
            AuthError::Invalid(problems) => {
                let message = problems
                    .iter()
                    .map(|p| p.message)
                    .collect::<Vec<_>>()
                    .join(" ");
                ApiError::bad_request(message).with_errors(
                    problems
                        .iter()
                        .map(|p| FieldError::new(p.field, serde_json::Value::Null, p.message))
                        .collect(),
                )
            }
            AuthError::DuplicateUsername => ApiError::conflict(error.to_string()),
            // The reference answers a failed login with 400; its client relies on it (a 401 would make the
            // client try a refresh first).
            AuthError::BadCredentials => ApiError::bad_request(error.to_string()),
            AuthError::Unauthorized(why) => {
                tracing::debug!(why, "unauthorized");
                ApiError::login_required()
            }
            AuthError::RateLimited { retry_after_secs } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "요청이 너무 많습니다. 잠시 후 다시 시도해 주세요.",
            )
            .with_retry_after(retry_after_secs),
            // Only the gateway sees this one (the app password check); it answers the calendar app's 401.
            AuthError::BadAppPassword => ApiError::unauthorized(error.to_string()),
            AuthError::AppPasswordLimit => ApiError::conflict(error.to_string()),
            AuthError::AppPasswordNotFound => ApiError::not_found(error.to_string()),
            // Only the gateway sees this one (the API token check); it answers the script's 401.
            AuthError::BadApiToken => ApiError::unauthorized(error.to_string()),
            AuthError::ApiTokenLimit => ApiError::conflict(error.to_string()),
            AuthError::ApiTokenNotFound | AuthError::NoSuchMember(_) => {
                ApiError::not_found(error.to_string())
            }
            AuthError::Disabled => ApiError::new(StatusCode::FORBIDDEN, error.to_string()),
            // 403, not 401: the web client answers a 401 by refreshing its session and asking again.
            AuthError::WrongPassword | AuthError::FreshLoginRequired => {
                ApiError::new(StatusCode::FORBIDDEN, error.to_string())
            }
            AuthError::UnknownProvider(_) | AuthError::OAuthState(_) => {
                ApiError::bad_request(error.to_string())
            }
            AuthError::OAuth(e) => ApiError::new(e.status(), e.message()),
            AuthError::Db(e) => ApiError::from(e),
            AuthError::Password(e) => ApiError::internal(&e),
            AuthError::Signing(e) => ApiError::internal(&e),
            AuthError::Outbox(e) => ApiError::internal(&e),
        }
    }
}

/// The client's address: the right-most `X-Forwarded-For` entry (the one our gateway appended), else the peer.
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .filter(|v| v.parse::<std::net::IpAddr>().is_ok());
        let ip = match forwarded {
            Some(ip) => ip.to_string(),
            None => parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        };
        Ok(ClientIp(ip))
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(pinit_kernel::jwt::bearer)
}

/// `Set-Cookie` for the refresh token (`max_age` 0 deletes it).
fn refresh_cookie(auth: &Auth, value: &str, max_age: u64) -> HeaderValue {
    let c = &auth.settings().cookie;
    let mut s = format!(
        "{REFRESH_COOKIE}={value}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Lax",
        c.path
    );
    if max_age == 0 {
        s.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
    }
    if c.secure {
        s.push_str("; Secure");
    }
    if let Some(domain) = c.domain.as_deref().filter(|d| !d.is_empty()) {
        s.push_str("; Domain=");
        s.push_str(domain);
    }
    HeaderValue::from_str(&s)
        .unwrap_or_else(|_| HeaderValue::from_static("refresh_token=; Max-Age=0"))
}

fn binding_cookie(auth: &Auth, value: &str, max_age: u64) -> HeaderValue {
    let secure = if auth.settings().cookie.secure {
        "; Secure"
    } else {
        ""
    };
    let s = format!(
        "{OAUTH_BINDING_COOKIE}={value}; Path=/v0/login/oauth2; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    );
    HeaderValue::from_str(&s)
        .unwrap_or_else(|_| HeaderValue::from_static("pinit_oauth_binding=; Max-Age=0"))
}

#[derive(Serialize)]
struct TokenBody {
    token: String,
}

/// `200 {"token"}`, with the rotated refresh cookie when there is one.
fn session_response(auth: &Auth, session: Session) -> Response {
    let mut response = Json(TokenBody {
        token: session.access_token,
    })
    .into_response();
    if let Some(refresh) = session.refresh_token {
        let max_age = auth.settings().refresh_token_ttl.get().as_secs();
        response
            .headers_mut()
            .append(header::SET_COOKIE, refresh_cookie(auth, &refresh, max_age));
    }
    no_store(response)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignupBody {
    username: Option<String>,
    password: Option<String>,
    nickname: Option<String>,
    /// The member's IANA time zone (Pinit extension; the default zone when absent).
    zone_id: Option<String>,
}

async fn signup(
    State(auth): State<Auth>,
    ClientIp(ip): ClientIp,
    Json(body): Json<SignupBody>,
) -> Result<StatusCode, ApiError> {
    auth.signup(SignupRequest {
        client_ip: &ip,
        username: body.username.as_deref(),
        password: body.password.as_deref(),
        nickname: body.nickname.as_deref(),
        zone: body.zone_id.as_deref(),
    })
    .await?;
    Ok(StatusCode::OK)
}

#[derive(Deserialize)]
struct LoginBody {
    username: Option<String>,
    password: Option<String>,
}

async fn login(
    State(auth): State<Auth>,
    ClientIp(ip): ClientIp,
    Json(body): Json<LoginBody>,
) -> Result<Response, ApiError> {
    let session = auth
        .login(&ip, body.username.as_deref(), body.password.as_deref())
        .await?;
    Ok(session_response(&auth, session))
}

async fn refresh(
    State(auth): State<Auth>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let session = auth.refresh(&ip, cookie(&headers, REFRESH_COOKIE)).await?;
    Ok(session_response(&auth, session))
}

/// Revokes the session server-side and deletes the cookie. Needs only the cookie; always 200.
async fn logout(State(auth): State<Auth>, headers: HeaderMap) -> Result<Response, ApiError> {
    auth.logout(cookie(&headers, REFRESH_COOKIE)).await?;
    let mut response = StatusCode::OK.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, refresh_cookie(&auth, "", 0));
    Ok(response)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MeBody {
    member_id: i64,
    username: String,
    nickname: Option<String>,
    zone_id: String,
}

/// The member the gateway vouches for (whatever the credential: an API token may read it too), else the member
/// of the bearer access token (auth reached without the gateway's assertion).
async fn me(
    State(auth): State<Auth>,
    vouched: Result<CurrentMember<MemberId>, ApiError>,
    headers: HeaderMap,
) -> Result<Json<MeBody>, ApiError> {
    let member = match vouched {
        Ok(CurrentMember(member)) => member,
        Err(_) => auth.authenticate(bearer(&headers))?,
    };
    let m = auth.me(member).await?;
    Ok(Json(MeBody {
        member_id: m.id.get(),
        username: m.username,
        nickname: m.nickname,
        zone_id: m.zone_id,
    }))
}

async fn authorize(
    State(auth): State<Auth>,
    Path(provider): Path<String>,
) -> Result<Response, ApiError> {
    let redirect = auth.oauth_authorize(&provider).await?;
    let location = HeaderValue::from_str(&redirect.location)
        .map_err(|_| ApiError::bad_request("invalid provider authorization URL"))?;
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(
        header::SET_COOKIE,
        binding_cookie(&auth, &redirect.binding, OAUTH_STATE_TTL.as_secs()),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(auth): State<Auth>,
    ClientIp(ip): ClientIp,
    Path(provider): Path<String>,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(error) = query.error.filter(|e| !e.is_empty()) {
        let description = query.error_description.unwrap_or_default();
        return Err(ApiError::bad_request(format!("{error}: {description}")));
    }
    let session = auth
        .oauth_callback(OAuthCallback {
            client_ip: &ip,
            provider: &provider,
            code: query.code.as_deref(),
            state: query.state.as_deref(),
            binding: cookie(&headers, OAUTH_BINDING_COOKIE),
        })
        .await?;
    let mut response = session_response(&auth, session);
    response
        .headers_mut()
        .append(header::SET_COOKIE, binding_cookie(&auth, "", 0));
    Ok(response)
}

async fn jwks(State(auth): State<Auth>) -> Response {
    let mut response = Json(auth.jwks()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// An app password as listed: never its secret.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppPasswordBody {
    id: i64,
    name: String,
    created_at: String,
    last_used_at: Option<String>,
}

impl From<AppPassword> for AppPasswordBody {
    fn from(p: AppPassword) -> Self {
        Self {
            id: p.id.get(),
            name: p.name,
            created_at: p.created_at.to_string(),
            last_used_at: p.last_used_at.map(|t| t.to_string()),
        }
    }
}

/// A new app password: the only answer that carries its secret.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreatedAppPasswordBody {
    id: i64,
    name: String,
    password: String,
    created_at: String,
}

#[derive(Deserialize)]
struct CreateAppPasswordBody {
    name: Option<String>,
}

/// `201 {id, name, password, createdAt}`; the password is shown this once.
async fn create_app_password(
    State(auth): State<Auth>,
    CurrentMember(member): CurrentMember<MemberId>,
    Json(body): Json<CreateAppPasswordBody>,
) -> Result<Response, ApiError> {
    let CreatedAppPassword { password, secret } = auth
        .create_app_password(member, body.name.as_deref())
        .await?;
    let body = CreatedAppPasswordBody {
        id: password.id.get(),
        name: password.name,
        password: secret.shown(),
        created_at: password.created_at.to_string(),
    };
    Ok(no_store((StatusCode::CREATED, Json(body)).into_response()))
}

async fn list_app_passwords(
    State(auth): State<Auth>,
    CurrentMember(member): CurrentMember<MemberId>,
) -> Result<Json<Vec<AppPasswordBody>>, ApiError> {
    let passwords = auth.app_passwords(member).await?;
    Ok(Json(passwords.into_iter().map(Into::into).collect()))
}

async fn delete_app_password(
    State(auth): State<Auth>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    auth.delete_app_password(member, AppPasswordId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `Cache-Control: no-store` on an answer that carries a secret.
fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An API token as listed: never its secret.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiTokenBody {
    id: i64,
    name: String,
    scopes: Vec<Scope>,
    created_at: String,
    expires_at: Option<String>,
    last_used_at: Option<String>,
}

impl From<ApiToken> for ApiTokenBody {
    fn from(t: ApiToken) -> Self {
        Self {
            id: t.id.get(),
            name: t.name,
            scopes: t.scopes.as_slice().to_vec(),
            created_at: t.created_at.to_string(),
            expires_at: t.expires_at.map(|t| t.to_string()),
            last_used_at: t.last_used_at.map(|t| t.to_string()),
        }
    }
}

/// A new API token: the only answer that carries its secret (`token`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreatedApiTokenBody {
    #[serde(flatten)]
    listed: ApiTokenBody,
    token: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateApiTokenBody {
    name: Option<String>,
    scopes: Option<Vec<String>>,
    expires_at: Option<String>,
}

/// `201 {id, name, scopes, createdAt, expiresAt, lastUsedAt, token}`; the token is shown this once.
async fn create_api_token(
    State(auth): State<Auth>,
    SessionMember(member): SessionMember<MemberId>,
    Json(body): Json<CreateApiTokenBody>,
) -> Result<Response, ApiError> {
    let asked = NewToken {
        name: body.name.as_deref(),
        scopes: body.scopes.as_deref(),
        expires_at: body.expires_at.as_deref(),
    };
    let CreatedApiToken { token, secret } = auth.create_api_token(member, asked).await?;
    let body = CreatedApiTokenBody {
        listed: token.into(),
        token: secret.expose().to_string(),
    };
    Ok(no_store((StatusCode::CREATED, Json(body)).into_response()))
}

async fn list_api_tokens(
    State(auth): State<Auth>,
    SessionMember(member): SessionMember<MemberId>,
) -> Result<Json<Vec<ApiTokenBody>>, ApiError> {
    let tokens = auth.api_tokens(member).await?;
    Ok(Json(tokens.into_iter().map(Into::into).collect()))
}

async fn delete_api_token(
    State(auth): State<Auth>,
    SessionMember(member): SessionMember<MemberId>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    auth.delete_api_token(member, ApiTokenId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The gateway's check of a bearer API token; refused (403) to anything but the gateway.
async fn check_api_token(
    State(auth): State<Auth>,
    _: GatewayCall,
    Json(check): Json<api_token_check::Check>,
) -> Result<Json<api_token_check::Checked>, ApiError> {
    let found = auth.check_api_token(&check.token).await?;
    Ok(Json(api_token_check::Checked {
        member_id: found.member.get(),
        scopes: found.scopes.as_slice().to_vec(),
        expires_at: found.expires_at,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangePasswordBody {
    current_password: Option<String>,
    new_password: Option<String>,
}

/// `204`; the session asking (its refresh cookie) stays signed in, every other one is ended.
async fn change_password(
    State(auth): State<Auth>,
    SessionMember(member): SessionMember<MemberId>,
    headers: HeaderMap,
    Json(body): Json<ChangePasswordBody>,
) -> Result<StatusCode, ApiError> {
    auth.change_password(
        member,
        PasswordChange {
            current: body.current_password.as_deref(),
            new: body.new_password.as_deref(),
            refresh_token: cookie(&headers, REFRESH_COOKIE),
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct DeleteAccountBody {
    password: Option<String>,
}

/// `204`: the account is gone (auth's rows now, task's and notification's once they apply `member.deleted`);
/// the refresh cookie is deleted. The body is optional for a member made by an OAuth login who just signed in.
async fn delete_account(
    State(auth): State<Auth>,
    SessionMember(member): SessionMember<MemberId>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let body: DeleteAccountBody = if body.iter().all(u8::is_ascii_whitespace) {
        DeleteAccountBody { password: None }
    } else if !pinit_kernel::extract::is_json(&headers) {
        return Err(pinit_kernel::extract::not_json());
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("Malformed JSON: {e}")))?
    };
    auth.delete_account(
        member,
        AccountDeletion {
            password: body.password.as_deref(),
            refresh_token: cookie(&headers, REFRESH_COOKIE),
        },
    )
    .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, refresh_cookie(&auth, "", 0));
    Ok(response)
}

/// The gateway's check of a calendar app's Basic credentials; refused (403) to anything but the gateway.
async fn check_app_password(
    State(auth): State<Auth>,
    _: GatewayCall,
    Json(check): Json<app_password_check::Check>,
) -> Result<Json<app_password_check::Checked>, ApiError> {
    let member = auth
        .check_app_password(&check.client_ip, &check.username, &check.password)
        .await?;
    Ok(Json(app_password_check::Checked {
        member_id: member.get(),
    }))
}
