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

    fn mac(&self, member: i64, expires: i64, method: &str, path: &str) -> HmacSha256 {
        mac_with(&self.signing, member, expires, method, path)
    }

    /// The assertion for `member` on `method path`, valid until `now + ASSERTION_TTL`.
    pub fn sign(&self, member: i64, method: &str, path: &str, now_secs: i64) -> HeaderValue {
        self.assertion(member, method, path, now_secs)
    }

    /// The member of a valid, unexpired assertion for `method path`; `None` for anything else.
    pub fn verify(&self, assertion: &str, method: &str, path: &str, now_secs: i64) -> Option<i64> {
        self.check(assertion, method, path, now_secs)
            .filter(|m| *m > 0)
    }

    /// The assertion of a call between services (task's gRPC, which notification uses): no member, bound to the
    /// called `service`'s name.
    pub fn sign_call(&self, service: &str, now_secs: i64) -> HeaderValue {
        self.assertion(0, CALL, service, now_secs)
    }

    /// Whether `assertion` is a valid, unexpired [`IdentityKey::sign_call`] for `service`.
    pub fn verify_call(&self, assertion: &str, service: &str, now_secs: i64) -> bool {
        self.check(assertion, CALL, service, now_secs) == Some(0)
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

    fn assertion(&self, member: i64, method: &str, path: &str, now_secs: i64) -> HeaderValue {
        let expires = now_secs + ASSERTION_TTL_SECS;
        let tag = self
            .mac(member, expires, method, path)
            .finalize()
            .into_bytes();
        let value = format!("{member}.{expires}.{}", URL_SAFE_NO_PAD.encode(tag));
        HeaderValue::try_from(value).expect("digits, dots and base64url are a valid header value")
    }

    fn check(&self, assertion: &str, method: &str, path: &str, now_secs: i64) -> Option<i64> {
        let mut parts = assertion.splitn(3, '.');
        let member: i64 = parts.next()?.parse().ok().filter(|m| *m >= 0)?;
        let expires: i64 = parts.next()?.parse().ok()?;
        let tag = URL_SAFE_NO_PAD.decode(parts.next()?).ok()?;
        if expires < now_secs || expires > now_secs + 2 * ASSERTION_TTL_SECS {
            return None;
        }
        std::iter::once(&self.signing)
            .chain(self.previous.as_ref())
            .any(|key| {
                mac_with(key, member, expires, method, path)
                    .verify_slice(&tag)
                    .is_ok()
            })
            .then_some(member)
    }
}

fn mac_with(key: &[u8; 32], member: i64, expires: i64, method: &str, path: &str) -> HmacSha256 {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key.as_slice()).expect("any key length");
    mac.update(format!("{member}\n{expires}\n{method}\n{path}").as_bytes());
    mac
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

/// What [`vouched_members_only`] checks with.
#[derive(Clone)]
pub struct Vouching {
    pub key: IdentityKey,
    pub clock: SharedClock,
}

/// Middleware in front of a service: `X-Member-Id` only from a valid gateway assertion for this request; the
/// [`GatewayCall`] mark only from a valid gateway call assertion for it.
pub async fn vouched_members_only(
    State(vouching): State<Vouching>,
    mut request: Request,
    next: Next,
) -> Response {
    request.extensions_mut().remove::<GatewayCall>();
    let headers = request.headers_mut();
    headers.remove(MEMBER_HEADER);
    let assertion = headers
        .remove(ASSERTION_HEADER)
        .and_then(|v| v.to_str().ok().map(str::to_string));
    if let Some(assertion) = assertion {
        let (method, path) = (request.method().as_str(), request.uri().path());
        let now = vouching.clock.now().as_second();
        if let Some(member) = vouching.key.verify(&assertion, method, path, now) {
            request
                .headers_mut()
                .insert(MEMBER_HEADER, HeaderValue::from(member));
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
