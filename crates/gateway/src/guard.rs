//! Who may pass: the public allow-list, access-token verification with the auth service's JWKS, personal API
//! tokens (`Bearer pinit_pat_…`, [`crate::api_tokens`]) everywhere a token is, calendar apps' app passwords on the
//! CalDAV paths ([`crate::calendar`]), and the `X-Member-Id` header the services trust, with the identity
//! assertion that also says which of those credentials verified the member.
//!
//! * `X-Member-Id` is removed from **every** incoming request, and set only from a verified access token
//!   (docs/contract/auth-and-gateway.md#member-header; the reference forwarded a client's header on public
//!   routes).
//! * Public operations ignore `Authorization` entirely — an expired token never breaks login
//!   (docs/contract/auth-and-gateway.md#public-routes).
//! * Everything else needs a valid RS256 access token (`Authorization: Bearer …`, the scheme in any case):
//!   `type=access`, the configured `iss`, unexpired (`pinit_kernel::jwt::EXP_LEEWAY`, as in auth), a known
//!   `kid`. Keys come from auth's `/.well-known/jwks.json`, cached, and fetched again when a token names a
//!   key we do not know (auth rotated its key) — at most once a second — and when the cached set is older than
//!   [`KEYS_MAX_AGE_SECS`], so that a key auth retired (or dropped after a leak) stops being accepted here too.
//! * A token once verified is remembered ([`VerifiedTokens`], keyed by its SHA-256) until it expires, so each
//!   request of a session does not pay the RSA verification again. The memory holds only while the key set it was
//!   verified with is current: it is emptied whenever the key set changes, and not consulted once the set is
//!   older than [`KEYS_MAX_AGE_SECS`] (the set is fetched again first). docs/adr/0020-per-request-costs.md.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pinit_kernel::extract::MEMBER_HEADER;
use pinit_kernel::identity::api_token_check::is_api_token;
use pinit_kernel::identity::{ASSERTION_HEADER, Credential, IdentityKey};
use pinit_kernel::jwt::{self, Jwks, JwtError, Verifier};
use pinit_kernel::{ApiError, SharedClock};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, RwLock};

use crate::api_tokens::{self, ApiTokens};
use crate::auth_check::Verdict;
use crate::calendar::{self, AppPasswords, BasicCredentials};
use crate::proxy::Upstream;

/// Is `(method, path)` open without a token? (Never a CalDAV path: those need credentials, see
/// [`crate::calendar`].)
pub fn is_public(method: &Method, path: &str) -> bool {
    let post = method == Method::POST;
    let read = method == Method::GET || method == Method::HEAD;
    if calendar::is_dav(path) {
        return false;
    }
    match path {
        "/v0/signup" | "/v0/login" | "/v0/refresh" | "/v0/logout" => post,
        "/.well-known/jwks.json"
        | "/v0/push/vapid"
        | "/health"
        | "/healthz"
        | "/readyz"
        | "/openapi.json"
        | "/docs" => read,
        _ if path.starts_with("/v0/login/oauth2/") => read,
        // Subscription feeds: the unguessable token in the path is the credential (the task service checks it).
        _ if calendar::is_feed(path) => calendar::feed_method(method),
        // The web client and its assets: everything that is not an API path.
        _ => read && !path.starts_with("/v0/") && !path.starts_with("/v2/"),
    }
}

/// The verifier, refreshed from auth's JWKS.
#[derive(Clone)]
pub struct Keys {
    inner: Arc<KeysInner>,
}

struct KeysInner {
    auth: Upstream,
    issuer: String,
    /// The key set.
    verifier: RwLock<Option<Verifier>>,
    /// When the key set in `verifier` was fetched (seconds on the injected clock; [`NO_KEYS`] before the first),
    /// set under `verifier`'s write guard and readable without it.
    fetched_at: AtomicI64,
    last_fetch: Mutex<Option<Instant>>,
    /// Tokens verified with the current key set. Written only under a read guard of `verifier` and emptied under
    /// its write guard, so no entry verified with a replaced key set survives the replacement.
    verified: std::sync::Mutex<VerifiedTokens>,
}

/// `fetched_at` when no key set was fetched yet.
const NO_KEYS: i64 = i64::MIN;

/// Access tokens verified with the current key set: the token's SHA-256 → its member and `exp`.
#[derive(Default)]
struct VerifiedTokens {
    entries: HashMap<[u8; 32], (i64, i64)>,
}

/// Most remembered tokens (about 80 bytes each); when full, expired ones are dropped, and if that is not enough,
/// all (they are verified again on their next use).
const VERIFIED_MAX: usize = 100_000;

impl VerifiedTokens {
    fn member(&self, key: &[u8; 32], now_secs: i64) -> Option<i64> {
        let (member, exp) = self.entries.get(key)?;
        (!jwt::expired(*exp, now_secs)).then_some(*member)
    }

    fn remember(&mut self, key: [u8; 32], member: i64, exp: i64, now_secs: i64) {
        if self.entries.len() >= VERIFIED_MAX {
            self.entries
                .retain(|_, (_, exp)| !jwt::expired(*exp, now_secs));
            if self.entries.len() >= VERIFIED_MAX {
                self.entries.clear();
            }
        }
        self.entries.insert(key, (member, exp));
    }
}

/// Minimum time between two JWKS fetches triggered by unknown key ids (a flood of forged `kid`s must not
/// become a flood of requests to auth).
const REFETCH_AFTER: Duration = Duration::from_secs(1);

/// Age after which the cached key set is fetched again on the next request (if auth does not answer, the cached
/// set stays in use).
pub const KEYS_MAX_AGE_SECS: i64 = 60;

impl Keys {
    pub fn new(auth: Upstream, issuer: String) -> Keys {
        Keys {
            inner: Arc::new(KeysInner {
                auth,
                issuer,
                verifier: RwLock::new(None),
                fetched_at: AtomicI64::new(NO_KEYS),
                last_fetch: Mutex::new(None),
                verified: std::sync::Mutex::default(),
            }),
        }
    }

    /// Fetches the JWKS when there is no key set yet, it is older than [`KEYS_MAX_AGE_SECS`], or `kid` is
    /// unknown — and the last fetch is not recent.
    async fn ensure(&self, kid: Option<&str>, now_secs: i64) {
        let known = {
            let guard = self.inner.verifier.read().await;
            match (&*guard, kid) {
                (None, _) => false,
                (Some(_), _) if !self.young(now_secs) => false,
                (Some(v), Some(kid)) => v.knows(kid),
                (Some(_), None) => true,
            }
        };
        if known {
            return;
        }
        let mut last = self.inner.last_fetch.lock().await;
        let have_keys = self.inner.verifier.read().await.is_some();
        if have_keys && last.is_some_and(|t| t.elapsed() < REFETCH_AFTER) {
            return;
        }
        *last = Some(Instant::now());
        match self.fetch().await {
            Ok(jwks) => {
                let verifier = Verifier::new(self.inner.issuer.clone()).with_jwks(&jwks);
                let kids: Vec<&str> = jwks.keys.iter().map(|k| k.kid.as_str()).collect();
                let mut current = self.inner.verifier.write().await;
                let changed = current.as_ref().is_none_or(|v| {
                    kids.len() != v.kids().len() || !kids.iter().all(|k| v.knows(k))
                });
                if changed {
                    tracing::info!(
                        keys = jwks.keys.len(),
                        "loaded the auth service's signing keys"
                    );
                    self.verified().entries.clear();
                }
                *current = Some(verifier);
                self.inner.fetched_at.store(now_secs, Ordering::Release);
            }
            Err(e) => tracing::warn!(error = %e, "cannot load the auth service's signing keys"),
        }
    }

    async fn fetch(&self) -> Result<Jwks, String> {
        let request = Request::get("/.well-known/jwks.json")
            .body(axum::body::Body::empty())
            .map_err(|e| e.to_string())?;
        let response = self.inner.auth.forward(request).await;
        if !response.status().is_success() {
            return Err(format!("auth answered {}", response.status()));
        }
        let bytes = axum::body::to_bytes(response.into_body(), 256 * 1024)
            .await
            .map_err(|e| e.to_string())?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    }

    /// The member of a valid access token.
    pub async fn verify(&self, token: &str, now_secs: i64) -> Result<i64, JwtError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if self.young(now_secs)
            && let Some(member) = self.verified().member(&key, now_secs)
        {
            return Ok(member);
        }
        let kid = Verifier::kid_of(token);
        self.ensure(kid.as_deref(), now_secs).await;
        let guard = self.inner.verifier.read().await;
        let verifier = guard
            .as_ref()
            .ok_or_else(|| JwtError::UnknownKey(kid.clone().unwrap_or_default()))?;
        let claims = verifier.verify_access(token, now_secs)?;
        let member = claims.member_id()?;
        self.verified().remember(key, member, claims.exp, now_secs);
        Ok(member)
    }

    /// Is the key set younger than [`KEYS_MAX_AGE_SECS`] at `now_secs` (never, before the first fetch)?
    fn young(&self, now_secs: i64) -> bool {
        now_secs.saturating_sub(self.inner.fetched_at.load(Ordering::Acquire)) < KEYS_MAX_AGE_SECS
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, VerifiedTokens> {
        self.inner
            .verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Clone)]
pub struct GuardState {
    pub keys: Keys,
    pub clock: SharedClock,
    /// Signs the assertion that vouches for the member to the services (`pinit_kernel::identity`).
    pub identity: IdentityKey,
    /// Checks calendar apps' app passwords (CalDAV paths only).
    pub app_passwords: AppPasswords,
    /// Checks personal API tokens.
    pub api_tokens: ApiTokens,
    /// Take the client's address from the right-most `X-Forwarded-For` (`gateway.rate_limit.trust_forwarded_for`).
    pub trust_forwarded_for: bool,
}

/// Middleware: strips `X-Member-Id` and any identity assertion, lets public operations through, verifies the
/// token of all others and vouches for its member to the service with an assertion for this method and path.
pub async fn guard(State(state): State<GuardState>, mut request: Request, next: Next) -> Response {
    request.headers_mut().remove(MEMBER_HEADER);
    request.headers_mut().remove(ASSERTION_HEADER);
    if calendar::is_dav(request.uri().path()) {
        return calendar_guard(state, request, next).await;
    }
    if calendar::is_feed(request.uri().path()) {
        // The path is the credential; whatever a subscribing app sends besides goes no further.
        request.headers_mut().remove(header::AUTHORIZATION);
    }
    if request.method() == Method::OPTIONS || is_public(request.method(), request.uri().path()) {
        return next.run(request).await;
    }
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(jwt::bearer)
        .map(str::to_string);
    let Some(token) = token else {
        return unauthorized("Authentication is required.");
    };
    match verify_bearer(&state, &token, request.method()).await {
        Ok((member_id, credential)) => {
            if credential == Credential::ApiToken {
                // The services need the member, never the token.
                request.headers_mut().remove(header::AUTHORIZATION);
            }
            vouch(&state, &mut request, member_id, credential);
            next.run(request).await
        }
        Err(Refusal::Invalid(message)) => unauthorized(message),
        Err(Refusal::Respond(response)) => response,
    }
}

/// Why a bearer credential does not pass.
enum Refusal {
    /// Wrong, expired or revoked: a 401 with this message (and the path's challenge).
    Invalid(&'static str),
    /// Any other answer: a read-only token's 403, auth's 429 or 503.
    Respond(Response),
}

/// The member of a bearer credential and how it was verified: a JWT here, with auth's keys; an API token by
/// auth (cached), whose scopes must allow `method`.
async fn verify_bearer(
    state: &GuardState,
    token: &str,
    method: &Method,
) -> Result<(i64, Credential), Refusal> {
    if is_api_token(token) {
        return match state.api_tokens.check(token).await {
            Verdict::Accepted(checked) => {
                if !api_tokens::permits(&checked, method) {
                    return Err(Refusal::Respond(api_tokens::insufficient_scope()));
                }
                Ok((checked.member_id, Credential::ApiToken))
            }
            Verdict::Refused => {
                metrics::counter!("gateway_api_tokens_refused_total", "reason" => "invalid")
                    .increment(1);
                Err(Refusal::Invalid(api_tokens::REFUSED))
            }
            other => Err(Refusal::Respond(
                other.refusal(|| unauthorized(api_tokens::REFUSED)),
            )),
        };
    }
    match state
        .keys
        .verify(token, state.clock.now().as_second())
        .await
    {
        Ok(member_id) => Ok((member_id, Credential::Session)),
        Err(e) => {
            refused_token(&e);
            Err(Refusal::Invalid("The access token is invalid or expired."))
        }
    }
}

/// Sets the member of a verified request, with the assertion that vouches for it (and the credential that
/// verified it) for this method and path.
fn vouch(state: &GuardState, request: &mut Request, member_id: i64, credential: Credential) {
    let assertion = state.identity.sign_as(
        member_id,
        credential,
        request.method().as_str(),
        request.uri().path(),
        state.clock.now().as_second(),
    );
    let headers = request.headers_mut();
    headers.insert(MEMBER_HEADER, HeaderValue::from(member_id));
    headers.insert(ASSERTION_HEADER, assertion);
}

fn refused_token(e: &JwtError) {
    tracing::debug!(error = %e, "access token refused");
    metrics::counter!("gateway_tokens_refused_total", "reason" => reason(e)).increment(1);
}

/// The CalDAV paths, every method (OPTIONS too: WebDAV clients ask it with credentials; a browser's preflight
/// is answered by the CORS layer before this): HTTP Basic with an app password, or a `Bearer` access token or
/// API token (a `read` one for reads only: GET, HEAD, OPTIONS, PROPFIND, REPORT).
/// The service gets the member as for any token, and no `Authorization` header.
async fn calendar_guard(state: GuardState, mut request: Request, next: Next) -> Response {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let Some(authorization) = authorization else {
        return calendar::challenge("Authentication is required.");
    };
    let (member, credential) = if let Some(token) = jwt::bearer(&authorization) {
        match verify_bearer(&state, token, request.method()).await {
            Ok(verified) => verified,
            Err(Refusal::Invalid(message)) => return calendar::challenge(message),
            Err(Refusal::Respond(response)) => return response,
        }
    } else if let Some(credentials) = BasicCredentials::parse(&authorization) {
        let client_ip = crate::edge::client_ip(&request, state.trust_forwarded_for)
            .map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
        match state.app_passwords.check(&credentials, &client_ip).await {
            Verdict::Accepted(member) => (member, Credential::AppPassword),
            refused => {
                metrics::counter!("gateway_app_passwords_refused_total").increment(1);
                return refused
                    .refusal(|| calendar::challenge("The username or app password is wrong."));
            }
        }
    } else {
        return calendar::challenge("Use HTTP Basic with your username and an app password.");
    };
    request.headers_mut().remove(header::AUTHORIZATION);
    vouch(&state, &mut request, member, credential);
    next.run(request).await
}

fn reason(e: &JwtError) -> &'static str {
    match e {
        JwtError::Expired => "expired",
        JwtError::WrongType(_) => "type",
        JwtError::WrongIssuer(_) => "issuer",
        JwtError::Algorithm(_) => "algorithm",
        JwtError::UnknownKey(_) => "kid",
        JwtError::Signature => "signature",
        _ => "malformed",
    }
}

fn unauthorized(message: &'static str) -> Response {
    let mut response = ApiError::unauthorized(message).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allow_list_is_method_and_path() {
        let get = Method::GET;
        let post = Method::POST;
        for (m, p) in [
            (&post, "/v0/signup"),
            (&post, "/v0/login"),
            (&post, "/v0/refresh"),
            (&post, "/v0/logout"),
            (&get, "/v0/login/oauth2/authorize/naver"),
            (&get, "/v0/login/oauth2/code/naver"),
            (&get, "/.well-known/jwks.json"),
            (&get, "/v0/push/vapid"),
            (&get, "/health"),
            (&get, "/"),
            (&get, "/app/today"),
            (&get, "/sw.js"),
            (&get, "/openapi.json"),
            (&get, "/feeds/abc.ics"),
            (&Method::HEAD, "/feeds/abc.ics"),
        ] {
            assert!(is_public(m, p), "{m} {p} is public");
        }
        for (m, p) in [
            (&get, "/v0/signup"),
            (&get, "/v0/me"),
            (&post, "/v0/me"),
            (&get, "/v2/tasks"),
            (&post, "/v2/schedules"),
            (&get, "/v0/push/subscribed"),
            (&post, "/v0/push/subscribe"),
            (&post, "/"),
            (&Method::DELETE, "/app"),
            (&post, "/v0/login/oauth2/code/naver"),
            (&get, "/dav"),
            (&get, "/dav/"),
            (&get, "/.well-known/caldav"),
            (&post, "/feeds/abc.ics"),
            (&get, "/v0/app-passwords"),
        ] {
            assert!(!is_public(m, p), "{m} {p} needs a token");
        }
    }
}
