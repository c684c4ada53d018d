//! Personal API tokens (docs/adr/0018-personal-api-tokens.md): `Authorization: Bearer pinit_pat_…` next to the
//! web client's JWTs, on every path that needs a member. Auth checks the token
//! (`kernel::identity::api_token_check`, through [`crate::auth_check`]: cached for at most
//! [`crate::auth_check::CHECK_CACHE_TTL`], so a deleted token is refused by every replica within seconds) and
//! says its member and scopes; the gateway applies the scopes — a `read` token reads only (GET, HEAD, OPTIONS,
//! WebDAV's PROPFIND and REPORT) — and vouches for the member as an API token ([`pinit_kernel::identity::Credential::ApiToken`]), so that auth
//! refuses it what only a signed-in member may do.

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pinit_kernel::ApiError;
use pinit_kernel::SharedClock;
use pinit_kernel::identity::IdentityKey;
use pinit_kernel::identity::api_token_check::{self, Checked};

use crate::auth_check::{AuthCheck, Verdict, cache_key};
use crate::proxy::Upstream;

/// The 403 of a `read` token on another method.
pub const READ_ONLY: &str = "This API token has the read scope: it may only read (GET, HEAD, OPTIONS, PROPFIND, REPORT). Make a token with the write scope to change data.";

/// Checks API tokens with auth.
#[derive(Clone)]
pub struct ApiTokens(AuthCheck<Checked>);

impl ApiTokens {
    pub fn new(auth: Upstream, identity: IdentityKey, clock: SharedClock) -> Self {
        Self(AuthCheck::new(auth, identity, clock, api_token_check::PATH))
    }

    /// Auth's verdict on `token`: its member and scopes.
    pub async fn check(&self, token: &str) -> Verdict<Checked> {
        let body = api_token_check::Check {
            token: token.to_string(),
        };
        self.0.check(cache_key(&[token]), &body).await
    }
}

/// Whether a token of `checked`'s scopes may call `method`.
pub fn permits(checked: &Checked, method: &Method) -> bool {
    api_token_check::allows(&checked.scopes, method)
}

/// The 403 of a token whose scopes do not allow the method (RFC 6750's `insufficient_scope`).
pub fn insufficient_scope() -> Response {
    metrics::counter!("gateway_api_tokens_refused_total", "reason" => "scope").increment(1);
    let mut response = ApiError::new(StatusCode::FORBIDDEN, READ_ONLY).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"insufficient_scope\", scope=\"write\""),
    );
    response
}

/// The message of a refused token (unknown, revoked, expired, or its member disabled).
pub const REFUSED: &str = "The API token is invalid, expired or revoked.";
