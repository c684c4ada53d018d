//! The calendar paths (docs/calendar.md, docs/adr/0016-app-passwords.md).
//!
//! * `/dav`, `/dav/**` — CalDAV, served by the task context, every method (PROPFIND, REPORT, MKCALENDAR, …) and
//!   header passed through. Calendar apps cannot do OAuth or JWTs: they sign in with HTTP Basic, the member's
//!   username and an **app password**; the web client may send its `Bearer` access token instead. The task
//!   service gets the member exactly as for any JWT request (`X-Member-Id` and the identity assertion) and no
//!   `Authorization` header. Missing or wrong credentials: 401 with [`CHALLENGE`].
//! * `/.well-known/caldav` — RFC 6764's entry point: once signed in, `301 Location: /dav/`, whatever the method.
//! * `/feeds/**` — subscription feeds, `GET`/`HEAD` only, public: the unguessable token in the path is the
//!   credential, and the task service checks it.
//!
//! Basic credentials are accepted on these paths only — never on `/v0/**` or `/v2/**`.
//!
//! An app password is checked by auth (`kernel::identity::app_password_check`, a call only the gateway can make:
//! it carries the gateway's signed call assertion) through [`crate::auth_check`]: a successful check is kept in
//! memory for at most [`CHECK_CACHE_TTL`], keyed by a hash of the credentials, so a calendar sync does not ask
//! auth on every request, and a deleted app password stops working on every gateway replica within that bound.
//! Failures are never cached: auth counts them (rate limits per client address and per username, like login).

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pinit_kernel::identity::{IdentityKey, app_password_check};
use pinit_kernel::{ApiError, SharedClock};

pub use crate::auth_check::CHECK_CACHE_TTL;
use crate::auth_check::{AuthCheck, Verdict, cache_key};
use crate::proxy::Upstream;

/// RFC 6764's well-known entry point for CalDAV.
pub const WELL_KNOWN_CALDAV: &str = "/.well-known/caldav";

/// Where CalDAV lives; [`WELL_KNOWN_CALDAV`] redirects here.
pub const DAV_ROOT: &str = "/dav/";

/// The challenge of a 401 on the CalDAV paths (RFC 7617).
pub const CHALLENGE: &str = "Basic realm=\"Pinit\", charset=\"UTF-8\"";

/// Is `path` a CalDAV path (credentials needed, Basic with an app password accepted)?
pub fn is_dav(path: &str) -> bool {
    path == "/dav" || path.starts_with("/dav/") || path == WELL_KNOWN_CALDAV
}

/// Is `path` a subscription feed (public for `GET`/`HEAD`)?
pub fn is_feed(path: &str) -> bool {
    path.starts_with("/feeds/")
}

/// The username and password of `Authorization: Basic …` (the scheme in any case; UTF-8, RFC 7617).
#[derive(Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

impl BasicCredentials {
    /// The credentials of an `Authorization` value; `None` for another scheme or a malformed value.
    pub fn parse(authorization: &str) -> Option<Self> {
        let (scheme, encoded) = authorization.trim_start().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = STANDARD.decode(encoded.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (username, password) = text.split_once(':')?;
        Some(Self {
            username: username.to_string(),
            password: password.to_string(),
        })
    }

    /// What the cache keys a check by: a hash, so that no password is kept in memory.
    fn cache_key(&self) -> [u8; 32] {
        cache_key(&[&self.username, &self.password])
    }
}

/// Checks app passwords with auth, and remembers each success for at most [`CHECK_CACHE_TTL`].
#[derive(Clone)]
pub struct AppPasswords(AuthCheck<app_password_check::Checked>);

impl AppPasswords {
    pub fn new(auth: Upstream, identity: IdentityKey, clock: SharedClock) -> Self {
        Self(AuthCheck::new(
            auth,
            identity,
            clock,
            app_password_check::PATH,
        ))
    }

    /// The member of `credentials`, presented from `client_ip`.
    pub async fn check(&self, credentials: &BasicCredentials, client_ip: &str) -> Verdict<i64> {
        let check = app_password_check::Check {
            username: credentials.username.clone(),
            password: credentials.password.clone(),
            client_ip: client_ip.to_string(),
        };
        self.0
            .check(credentials.cache_key(), &check)
            .await
            .map(|checked| checked.member_id)
    }
}

/// 401 on a CalDAV path: the Basic challenge calendar apps answer with the member's username and app password.
///
/// With `Connection: close`: the request's body (a PROPFIND's XML) is not read, so the connection cannot carry
/// the next request — the app's retry with credentials goes on a new one instead of a connection the server
/// is closing (python-caldav's first request is always without credentials).
pub fn challenge(message: &'static str) -> Response {
    let mut response = ApiError::unauthorized(message).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(CHALLENGE),
    );
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// `/.well-known/caldav`, any method: `301 Location: /dav/` (RFC 6764, section 5).
pub async fn well_known() -> Response {
    let mut response = StatusCode::MOVED_PERMANENTLY.into_response();
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(DAV_ROOT));
    response
}

/// Whether `method` may fetch a feed.
pub fn feed_method(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user_pass: &str) -> String {
        format!("Basic {}", STANDARD.encode(user_pass))
    }

    #[test]
    fn basic_credentials_are_parsed_in_any_case_and_split_at_the_first_colon() {
        let c = BasicCredentials::parse(&basic("alice:abcd-efgh:x")).unwrap();
        assert_eq!(c.username, "alice");
        assert_eq!(c.password, "abcd-efgh:x");
        let lower = format!("basic {}", STANDARD.encode("bob:pw"));
        assert_eq!(BasicCredentials::parse(&lower).unwrap().username, "bob");
        let utf8 = BasicCredentials::parse(&basic("핀잇:비밀")).unwrap();
        assert_eq!(utf8.username, "핀잇");
        for bad in [
            "Bearer abc".to_string(),
            "Basic".to_string(),
            "Basic !!!".to_string(),
            basic("no-colon"),
            format!("Basic {}", STANDARD.encode([0xff, b':', 0xfe])),
        ] {
            assert!(BasicCredentials::parse(&bad).is_none(), "{bad}");
        }
        assert!(!format!("{c:?}").contains("efgh"));
    }

    #[test]
    fn the_calendar_paths() {
        for dav in ["/dav", "/dav/", "/dav/calendars/1/", WELL_KNOWN_CALDAV] {
            assert!(is_dav(dav), "{dav}");
        }
        for other in ["/davx", "/v2/dav", "/.well-known/jwks.json", "/feeds/x"] {
            assert!(!is_dav(other), "{other}");
        }
        assert!(is_feed("/feeds/abc.ics"));
        assert!(!is_feed("/feeds") && !is_feed("/v2/feeds/x"));
    }
}
