//! How a service knows that a request's member was vouched for by the gateway.
//!
//! The gateway verifies the access token and forwards the member in [`MEMBER_HEADER`]. A service must not take
//! that header from just anyone who can reach its port — another process on the host, another pod — so the
//! gateway also sends an **identity assertion** ([`ASSERTION_HEADER`]): `<member>.<expiry>.<HMAC-SHA256>` over the
//! member, the expiry (Unix seconds, [`ASSERTION_TTL`] ahead), the method and the path, keyed with the
//! [`IdentityKey`] that the gateway and the services share. [`vouched_members_only`], in front of every service
//! of the binary, removes any `X-Member-Id` and puts back the member of a valid assertion for this very method and
//! path; a request without one reaches the handlers without a member (401 where one is needed).
//!
//! An assertion also says how the gateway verified the member — a [`Credential`]: the web client's access token
//! (a session), a calendar app's app password, or a personal API token. The kind is covered by the HMAC, and
//! [`vouched_members_only`] puts it on the request as an extension, so that a service can refuse what only a
//! signed-in member may do (make tokens, change the password, delete the account) to anything else:
//! [`crate::extract::SessionMember`].
//!
//! `pinit serve` makes a fresh key in memory at every start (nothing to configure, nothing another process can
//! read); the distributed services share `internal.identity_key` (32 random bytes, base64). See
//! docs/adr/0012-gateway-to-service-identity.md.

use std::fmt;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{KeyInit, Mac};

use crate::clock::SharedClock;
use crate::extract::MEMBER_HEADER;

/// The gateway's signed statement of the member a request is for.
pub const ASSERTION_HEADER: &str = "x-pinit-identity";

/// How long an assertion is good for: long enough for clock skew between hosts, short enough that a captured
/// one is of little use (it is also bound to one method and path).
pub const ASSERTION_TTL_SECS: i64 = 60;
pub const ASSERTION_TTL: std::time::Duration = std::time::Duration::from_secs(60);

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// How the gateway verified a request's member: carried, signed, in its assertion, and set by
/// [`vouched_members_only`] as a request extension next to `X-Member-Id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An access token from a login (the web client): everything the member may do.
    Session,
    /// A calendar app's app password (docs/adr/0016-app-passwords.md; the CalDAV paths only).
    AppPassword,
    /// A personal API token (docs/adr/0018-personal-api-tokens.md).
    ApiToken,
}

impl Credential {
    /// Its mark at the end of an assertion (a session's assertion has none: the form older versions read).
    fn mark(self) -> Option<&'static str> {
        match self {
            Credential::Session => None,
            Credential::AppPassword => Some("app"),
            Credential::ApiToken => Some("pat"),
        }
    }

    fn from_mark(mark: Option<&str>) -> Option<Self> {
        match mark {
            None => Some(Credential::Session),
            Some("app") => Some(Credential::AppPassword),
            Some("pat") => Some(Credential::ApiToken),
            Some(_) => None,
        }
    }
}

/// The key the gateway signs assertions with and the services check them with. During a rotation it also
/// accepts (never signs with) a previous key: [`IdentityKey::also_accepting`].
#[derive(Clone)]
pub struct IdentityKey {
    signing: Arc<[u8; 32]>,
    previous: Option<Arc<[u8; 32]>>,
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentityKey([redacted])")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityKeyError {
    #[error(
        "is not a key: expected 32 random bytes in base64 (e.g. `head -c 32 /dev/urandom | base64`)"
    )]
    Malformed,
}

impl IdentityKey {
    /// A fresh random key (`pinit serve`, tests).
    pub fn generate() -> Self {
        Self::from_bytes(rand::random())
    }

    /// A key in its text form (32 bytes, standard or URL-safe base64).
    pub fn parse(text: &str) -> Result<Self, IdentityKeyError> {
        let text = text.trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
            .map_err(|_| IdentityKeyError::Malformed)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| IdentityKeyError::Malformed)?;
        Ok(Self::from_bytes(key))
    }

    /// The text form of a new random key.
    pub fn generate_text() -> String {
        STANDARD.encode(rand::random::<[u8; 32]>())
    }

    fn from_bytes(key: [u8; 32]) -> Self {
        Self {
            signing: Arc::new(key),
            previous: None,
        }
    }

    /// This key, also accepting assertions signed with `previous` (`internal.previous_identity_key`): a rotation
    /// without a window of refusals — first every process accepts the new key, then every process signs with it.
    pub fn also_accepting(mut self, previous: &IdentityKey) -> Self {
        self.previous = Some(previous.signing.clone());
        self
    }

    /// The assertion for `member`, signed in with an access token (a [`Credential::Session`]), on
    /// `method path`, valid until `now + ASSERTION_TTL`.
    pub fn sign(&self, member: i64, method: &str, path: &str, now_secs: i64) -> HeaderValue {
        self.sign_as(member, Credential::Session, method, path, now_secs)
    }

    /// The assertion for `member`, verified by `credential`, on `method path`.
    pub fn sign_as(
        &self,
        member: i64,
        credential: Credential,
        method: &str,
        path: &str,
        now_secs: i64,
    ) -> HeaderValue {
        self.assertion(member, credential, method, path, now_secs)
    }

    /// The member of a valid, unexpired assertion for `method path` (whatever the credential); `None` for
    /// anything else.
    pub fn verify(&self, assertion: &str, method: &str, path: &str, now_secs: i64) -> Option<i64> {
        self.verify_member(assertion, method, path, now_secs)
            .map(|(member, _)| member)
    }

    /// The member of a valid, unexpired assertion for `method path`, and how the gateway verified it.
    pub fn verify_member(
        &self,
        assertion: &str,
        method: &str,
        path: &str,
        now_secs: i64,
    ) -> Option<(i64, Credential)> {
        self.check(assertion, method, path, now_secs)
            .filter(|(m, _)| *m > 0)
    }

    /// The assertion of a call between services (task's gRPC, which notification uses): no member, bound to the
    /// called `service`'s name.
    pub fn sign_call(&self, service: &str, now_secs: i64) -> HeaderValue {
        self.assertion(0, Credential::Session, CALL, service, now_secs)
    }

    /// Whether `assertion` is a valid, unexpired [`IdentityKey::sign_call`] for `service`.
    pub fn verify_call(&self, assertion: &str, service: &str, now_secs: i64) -> bool {
        self.check(assertion, CALL, service, now_secs) == Some((0, Credential::Session))
    }

    /// The assertion of an HTTP request the gateway makes on its own behalf (not a member's), e.g. asking auth
    /// to check an app password: a call assertion bound to this very method and path. [`vouched_members_only`]
    /// marks a request carrying a valid one with [`GatewayCall`].
    pub fn sign_gateway_call(&self, method: &str, path: &str, now_secs: i64) -> HeaderValue {
        self.sign_call(&gateway_call(method, path), now_secs)
    }

    /// Whether `assertion` is a valid, unexpired [`IdentityKey::sign_gateway_call`] for `method path`.
    pub fn verify_gateway_call(
        &self,
        assertion: &str,
        method: &str,
        path: &str,
        now_secs: i64,
    ) -> bool {
        self.verify_call(assertion, &gateway_call(method, path), now_secs)
    }

    /// `<member>.<expiry>.<tag>`, followed by `.<mark>` for a credential other than a session.
    fn assertion(
        &self,
        member: i64,
        credential: Credential,
        method: &str,
        path: &str,
        now_secs: i64,
    ) -> HeaderValue {
        let expires = now_secs + ASSERTION_TTL_SECS;
        let signed = Signed {
            member,
            expires,
            credential,
            method,
            path,
        };
        let tag = signed.mac(&self.signing).finalize().into_bytes();
        let mut value = format!("{member}.{expires}.{}", URL_SAFE_NO_PAD.encode(tag));
        if let Some(mark) = credential.mark() {
            value.push('.');
            value.push_str(mark);
        }
        HeaderValue::try_from(value).expect("digits, dots and base64url are a valid header value")
    }

    fn check(
        &self,
        assertion: &str,
        method: &str,
        path: &str,
        now_secs: i64,
    ) -> Option<(i64, Credential)> {
        let mut parts = assertion.splitn(4, '.');
        let member: i64 = parts.next()?.parse().ok().filter(|m| *m >= 0)?;
        let expires: i64 = parts.next()?.parse().ok()?;
        let tag = URL_SAFE_NO_PAD.decode(parts.next()?).ok()?;
        let credential = Credential::from_mark(parts.next())?;
        if expires < now_secs || expires > now_secs + 2 * ASSERTION_TTL_SECS {
            return None;
        }
        let signed = Signed {
            member,
            expires,
            credential,
            method,
            path,
        };
        std::iter::once(&self.signing)
            .chain(self.previous.as_ref())
            .any(|key| signed.mac(key).verify_slice(&tag).is_ok())
            .then_some((member, credential))
    }
}

/// What an assertion's HMAC covers.
struct Signed<'a> {
    member: i64,
    expires: i64,
    credential: Credential,
    method: &'a str,
    path: &'a str,
}

impl Signed<'_> {
    /// The MAC over the member, the expiry, the method, the path and — for a credential other than a session —
    /// its mark (a session's input is the one older versions sign, so their assertions still verify).
    fn mac(&self, key: &[u8; 32]) -> HmacSha256 {
        let Signed {
            member,
            expires,
            method,
            path,
            ..
        } = self;
        let mut mac =
            <HmacSha256 as KeyInit>::new_from_slice(key.as_slice()).expect("any key length");
        mac.update(format!("{member}\n{expires}\n{method}\n{path}").as_bytes());
        if let Some(mark) = self.credential.mark() {
            mac.update(format!("\n{mark}").as_bytes());
        }
        mac
    }
}

/// The "method" of a call between services: no HTTP request has it, so a call's assertion is never a member's.
const CALL: &str = "CALL";

/// The "service" a gateway call is bound to: `gateway <METHOD> <path>` (no gRPC service name has a space).
fn gateway_call(method: &str, path: &str) -> String {
    format!("gateway {method} {path}")
}

/// A request made by the gateway itself (not on behalf of a member) — set by [`vouched_members_only`] as a
/// request extension when the request carries a valid [`IdentityKey::sign_gateway_call`] for its method and
/// path. As an extractor it refuses anything else with 403, so an endpoint only the gateway may use (auth's app
/// password check) is no oracle for whoever reaches the service's port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayCall;

/// The message of the 403 for a request that is not the gateway's own call.
pub const GATEWAY_ONLY: &str = "Only the gateway may call this.";

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for GatewayCall {
    type Rejection = crate::ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<GatewayCall>()
            .copied()
            .ok_or_else(|| crate::ApiError::new(axum::http::StatusCode::FORBIDDEN, GATEWAY_ONLY))
    }
}

/// Auth's check of a calendar app's credentials (`Authorization: Basic` with an app password), which only the
/// gateway calls, as a [`GatewayCall`] (docs/adr/0016-app-passwords.md): the one copy of its path and bodies.
pub mod app_password_check {
    use serde::{Deserialize, Serialize};

    /// `POST` here; the gateway never routes it from outside.
    pub const PATH: &str = "/internal/app-passwords/check";

    /// What the gateway sends: the Basic credentials and the client's address (auth's rate limits count per
    /// address; the gateway knows it, auth only sees the gateway).
    #[derive(Clone, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Check {
        pub username: String,
        pub password: String,
        pub client_ip: String,
    }

    impl std::fmt::Debug for Check {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Check")
                .field("username", &self.username)
                .field("password", &"[redacted]")
                .field("client_ip", &self.client_ip)
                .finish()
        }
    }

    /// Auth's answer to a match (200). A mismatch is 401, a rate-limited attempt 429 with `Retry-After`.
    #[derive(Debug, Clone, Copy, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Checked {
        pub member_id: i64,
    }
}

/// Auth's check of a personal API token (`Authorization: Bearer pinit_pat_…`), which only the gateway calls, as
/// a [`GatewayCall`] (docs/adr/0018-personal-api-tokens.md): the one copy of its path, bodies and scopes.
pub mod api_token_check {
    use serde::{Deserialize, Serialize};

    /// `POST` here; the gateway never routes it from outside.
    pub const PATH: &str = "/internal/tokens/check";

    /// What every personal API token starts with (so that the gateway tells one from a JWT without a lookup,
    /// and secret scanners can find a leaked one).
    pub const PREFIX: &str = "pinit_pat_";

    /// Whether a bearer credential is meant as a personal API token (not necessarily a valid one).
    pub fn is_api_token(bearer: &str) -> bool {
        bearer.starts_with(PREFIX)
    }

    /// What a token may do. `read` calls only safe methods (GET, HEAD, OPTIONS); `write` calls any, reading
    /// included.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum Scope {
        Read,
        Write,
    }

    impl Scope {
        pub const ALL: [Scope; 2] = [Scope::Read, Scope::Write];

        pub fn as_str(self) -> &'static str {
            match self {
                Scope::Read => "read",
                Scope::Write => "write",
            }
        }

        pub fn parse(raw: &str) -> Option<Self> {
            Self::ALL.into_iter().find(|s| s.as_str() == raw)
        }
    }

    /// Whether `method` is safe (RFC 9110, 9.2.1) in the sense a `read` token needs: GET, HEAD or OPTIONS, and
    /// WebDAV's reads PROPFIND (RFC 4918, 9.1) and REPORT (RFC 3253, 3.6), so a read token can sync a calendar.
    pub fn is_read_only(method: &http::Method) -> bool {
        matches!(
            *method,
            http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
        ) || matches!(method.as_str(), "PROPFIND" | "REPORT")
    }

    /// Whether a token with `scopes` may call `method`.
    pub fn allows(scopes: &[Scope], method: &http::Method) -> bool {
        scopes.contains(&Scope::Write) || (scopes.contains(&Scope::Read) && is_read_only(method))
    }

    /// What the gateway sends.
    #[derive(Clone, Serialize, Deserialize)]
    pub struct Check {
        pub token: String,
    }

    impl std::fmt::Debug for Check {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Check { token: [redacted] }")
        }
    }

    /// Auth's answer to a live token (200): its member, scopes and expiry (the gateway caches the answer no
    /// longer than that). An unknown, revoked or expired token, or one of a disabled member, is 401.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Checked {
        pub member_id: i64,
        pub scopes: Vec<Scope>,
        #[serde(default)]
        pub expires_at: Option<jiff::Timestamp>,
    }
}

/// What [`vouched_members_only`] checks with.
#[derive(Clone)]
pub struct Vouching {
    pub key: IdentityKey,
    pub clock: SharedClock,
}

/// Middleware in front of a service: `X-Member-Id` (and its [`Credential`]) only from a valid gateway assertion
/// for this request; the [`GatewayCall`] mark only from a valid gateway call assertion for it.
pub async fn vouched_members_only(
    State(vouching): State<Vouching>,
    mut request: Request,
    next: Next,
) -> Response {
    request.extensions_mut().remove::<GatewayCall>();
    request.extensions_mut().remove::<Credential>();
    let headers = request.headers_mut();
    headers.remove(MEMBER_HEADER);
    let assertion = headers
        .remove(ASSERTION_HEADER)
        .and_then(|v| v.to_str().ok().map(str::to_string));
    if let Some(assertion) = assertion {
        let (method, path) = (request.method().as_str(), request.uri().path());
        let now = vouching.clock.now().as_second();
        if let Some((member, credential)) =
            vouching.key.verify_member(&assertion, method, path, now)
        {
            request
                .headers_mut()
                .insert(MEMBER_HEADER, HeaderValue::from(member));
            request.extensions_mut().insert(credential);
        } else if vouching
            .key
            .verify_gateway_call(&assertion, method, path, now)
        {
            request.extensions_mut().insert(GatewayCall);
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn an_assertion_holds_for_its_member_method_path_and_time_only() {
        let key = IdentityKey::generate();
        let signed = key.sign(42, "GET", "/v2/tasks/7", NOW);
        let signed = signed.to_str().unwrap();
        assert_eq!(key.verify(signed, "GET", "/v2/tasks/7", NOW), Some(42));
        assert_eq!(
            key.verify(signed, "GET", "/v2/tasks/7", NOW + ASSERTION_TTL_SECS),
            Some(42)
        );
        assert_eq!(
            key.verify(signed, "GET", "/v2/tasks/7", NOW + ASSERTION_TTL_SECS + 1),
            None,
            "expired"
        );
        assert_eq!(key.verify(signed, "PATCH", "/v2/tasks/7", NOW), None);
        assert_eq!(key.verify(signed, "GET", "/v2/tasks/8", NOW), None);
        assert_eq!(
            IdentityKey::generate().verify(signed, "GET", "/v2/tasks/7", NOW),
            None,
            "another key"
        );
        let forged = signed.replacen("42.", "1.", 1);
        assert_eq!(key.verify(&forged, "GET", "/v2/tasks/7", NOW), None);
        for junk in ["", "42", "42.x.y", "-1.1.AAAA", "42.99999999999.AAAA"] {
            assert_eq!(key.verify(junk, "GET", "/v2/tasks/7", NOW), None, "{junk}");
        }
    }

    #[test]
    fn a_call_assertion_names_its_service_and_vouches_for_no_member() {
        let key = IdentityKey::generate();
        let call = key.sign_call("pinit.schedule.ScheduleGrpcService", NOW);
        let call = call.to_str().unwrap();
        assert!(key.verify_call(call, "pinit.schedule.ScheduleGrpcService", NOW));
        assert!(!key.verify_call(call, "pinit.other.Service", NOW));
        assert!(!key.verify_call(call, "pinit.schedule.ScheduleGrpcService", NOW + 61));
        assert!(!IdentityKey::generate().verify_call(
            call,
            "pinit.schedule.ScheduleGrpcService",
            NOW
        ));
        assert_eq!(
            key.verify(call, "CALL", "pinit.schedule.ScheduleGrpcService", NOW),
            None
        );
        let member = key.sign(7, "GET", "/x", NOW);
        assert!(!key.verify_call(member.to_str().unwrap(), "/x", NOW));
    }

    #[test]
    fn a_gateway_call_is_bound_to_its_method_and_path_and_is_no_member() {
        let key = IdentityKey::generate();
        let call = key.sign_gateway_call("POST", "/internal/verify", NOW);
        let call = call.to_str().unwrap();
        assert!(key.verify_gateway_call(call, "POST", "/internal/verify", NOW));
        assert!(!key.verify_gateway_call(call, "GET", "/internal/verify", NOW));
        assert!(!key.verify_gateway_call(call, "POST", "/internal/other", NOW));
        assert!(!key.verify_gateway_call(call, "POST", "/internal/verify", NOW + 61));
        assert!(!IdentityKey::generate().verify_gateway_call(
            call,
            "POST",
            "/internal/verify",
            NOW
        ));
        assert_eq!(key.verify(call, "POST", "/internal/verify", NOW), None);
        let member = key.sign(7, "POST", "/internal/verify", NOW);
        assert!(!key.verify_gateway_call(
            member.to_str().unwrap(),
            "POST",
            "/internal/verify",
            NOW
        ));
        let grpc = key.sign_call("pinit.schedule.ScheduleGrpcService", NOW);
        assert!(!key.verify_gateway_call(grpc.to_str().unwrap(), "POST", "/internal/verify", NOW));
    }

    #[test]
    fn the_credential_is_signed_with_the_member_and_cannot_be_dropped_or_swapped() {
        let key = IdentityKey::generate();
        let session = key.sign(42, "GET", "/v0/me", NOW);
        let session = session.to_str().unwrap();
        assert!(!session.ends_with(".pat") && session.split('.').count() == 3);
        assert_eq!(
            key.verify_member(session, "GET", "/v0/me", NOW),
            Some((42, Credential::Session))
        );
        for credential in [Credential::AppPassword, Credential::ApiToken] {
            let signed = key.sign_as(42, credential, "GET", "/v0/me", NOW);
            let signed = signed.to_str().unwrap();
            assert_eq!(
                key.verify_member(signed, "GET", "/v0/me", NOW),
                Some((42, credential))
            );
            assert_eq!(key.verify(signed, "GET", "/v0/me", NOW), Some(42));
            // Dropping the mark (to pass as a session) or swapping it breaks the MAC.
            let (unmarked, _) = signed.rsplit_once('.').unwrap();
            assert_eq!(key.verify(unmarked, "GET", "/v0/me", NOW), None);
            let other = if credential == Credential::ApiToken {
                "app"
            } else {
                "pat"
            };
            assert_eq!(
                key.verify(&format!("{unmarked}.{other}"), "GET", "/v0/me", NOW),
                None
            );
            assert_eq!(
                key.verify(&format!("{unmarked}.root"), "GET", "/v0/me", NOW),
                None
            );
        }
        assert_eq!(
            key.verify(&format!("{session}.pat"), "GET", "/v0/me", NOW),
            None
        );
    }

    #[test]
    fn a_read_token_calls_safe_methods_only_and_write_any() {
        use api_token_check::{Scope, allows};
        use http::Method;
        let dav = |m: &[u8]| Method::from_bytes(m).unwrap();
        for safe in [
            Method::GET,
            Method::HEAD,
            Method::OPTIONS,
            dav(b"PROPFIND"),
            dav(b"REPORT"),
        ] {
            assert!(allows(&[Scope::Read], &safe), "{safe}");
            assert!(allows(&[Scope::Write], &safe), "{safe}");
        }
        for unsafe_ in [
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            dav(b"MKCOL"),
            dav(b"PROPPATCH"),
        ] {
            assert!(!allows(&[Scope::Read], &unsafe_), "{unsafe_}");
            assert!(allows(&[Scope::Read, Scope::Write], &unsafe_), "{unsafe_}");
        }
        assert!(!allows(&[], &Method::GET));
        assert_eq!(Scope::parse("read"), Some(Scope::Read));
        assert_eq!(Scope::parse("READ"), None);
        assert_eq!(serde_json::to_string(&Scope::Write).unwrap(), "\"write\"");
        assert!(api_token_check::is_api_token("pinit_pat_abc"));
        assert!(!api_token_check::is_api_token("eyJhbGciOi"));
    }

    #[test]
    fn a_rotation_accepts_the_previous_key_and_signs_with_the_new_one() {
        let old = IdentityKey::generate();
        let new = IdentityKey::generate();
        let rotating = new.clone().also_accepting(&old);
        let by_old = old.sign(3, "GET", "/x", NOW);
        let by_rotating = rotating.sign(3, "GET", "/x", NOW);
        assert_eq!(
            rotating.verify(by_old.to_str().unwrap(), "GET", "/x", NOW),
            Some(3)
        );
        assert_eq!(
            new.verify(by_rotating.to_str().unwrap(), "GET", "/x", NOW),
            Some(3),
            "signs with the new key"
        );
        assert_eq!(
            old.verify(by_rotating.to_str().unwrap(), "GET", "/x", NOW),
            None
        );
        assert_eq!(
            new.verify(by_old.to_str().unwrap(), "GET", "/x", NOW),
            None,
            "only while told to"
        );
        let call = old.sign_call("svc", NOW);
        assert!(rotating.verify_call(call.to_str().unwrap(), "svc", NOW));
    }

    #[test]
    fn keys_parse_from_their_text_form_only() {
        let text = IdentityKey::generate_text();
        let key = IdentityKey::parse(&text).unwrap();
        let signed = key.sign(5, "GET", "/x", NOW);
        let again = IdentityKey::parse(&format!("  {text}\n")).unwrap();
        assert_eq!(
            again.verify(signed.to_str().unwrap(), "GET", "/x", NOW),
            Some(5)
        );
        assert_eq!(
            IdentityKey::parse("c2hvcnQ=").unwrap_err(),
            IdentityKeyError::Malformed
        );
        assert_eq!(
            IdentityKey::parse("not base64!").unwrap_err(),
            IdentityKeyError::Malformed
        );
        assert!(!format!("{key:?}").contains(&text));
    }
}
