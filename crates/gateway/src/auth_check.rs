//! Asking auth about a credential the gateway cannot verify by itself — a calendar app's app password
//! ([`crate::calendar`]), a personal API token ([`crate::api_tokens`]) — with a call only the gateway can make
//! (it carries the gateway's signed call assertion, docs/adr/0012), and remembering each success for at most
//! [`CHECK_CACHE_TTL`], keyed by a hash of the credential (none is kept in memory). A credential deleted in auth
//! stops working on every gateway replica within that bound, without any message between them. Failures are
//! never cached: auth counts them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use pinit_kernel::identity::{ASSERTION_HEADER, IdentityKey, api_token_check, app_password_check};
use pinit_kernel::{ApiError, SharedClock};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::proxy::Upstream;

/// How long a successful check is reused: the bound on how long a deleted credential may still be accepted by
/// a gateway replica.
pub const CHECK_CACHE_TTL: Duration = Duration::from_secs(5);

/// Most cached checks per gateway replica and kind (then expired ones are dropped, and if that is not enough,
/// all).
const CACHE_MAX_ENTRIES: usize = 10_000;

/// What auth said of a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<T> {
    /// It is good; auth's answer.
    Accepted(T),
    /// Wrong, unknown, revoked or expired.
    Refused,
    /// Too many failures: retry after this many seconds.
    Limited(u64),
    /// Auth could not answer.
    Unavailable,
}

impl<T> Verdict<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Verdict<U> {
        match self {
            Verdict::Accepted(answer) => Verdict::Accepted(f(answer)),
            Verdict::Refused => Verdict::Refused,
            Verdict::Limited(secs) => Verdict::Limited(secs),
            Verdict::Unavailable => Verdict::Unavailable,
        }
    }

    /// The answer to a verdict that lets nothing through: `refused()` for a wrong credential, 429 or 503 when
    /// auth limited or could not check it.
    pub fn refusal(&self, refused: impl FnOnce() -> Response) -> Response {
        match self {
            Verdict::Accepted(_) | Verdict::Refused => refused(),
            Verdict::Limited(secs) => ApiError::too_many_requests(*secs).into_response(),
            Verdict::Unavailable => ApiError::unavailable(
                "The credentials cannot be checked right now; try again shortly.",
                1,
            )
            .into_response(),
        }
    }
}

/// An answer of auth's to a check: whose credential it is, and until when it holds.
pub trait Checked: DeserializeOwned + Clone + Send + 'static {
    fn member_id(&self) -> i64;

    /// When the credential expires by itself (the cache keeps the answer no longer).
    fn expires_at(&self) -> Option<Timestamp> {
        None
    }
}

impl Checked for app_password_check::Checked {
    fn member_id(&self) -> i64 {
        self.member_id
    }
}

impl Checked for api_token_check::Checked {
    fn member_id(&self) -> i64 {
        self.member_id
    }

    fn expires_at(&self) -> Option<Timestamp> {
        self.expires_at
    }
}

/// The cache key of a credential's parts: SHA-256 over them, each followed by a zero byte.
pub fn cache_key(parts: &[&str]) -> [u8; 32] {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.finalize().into()
}

/// Checks one kind of credential with auth at `path`, remembering successes for [`CHECK_CACHE_TTL`].
#[derive(Clone)]
pub struct AuthCheck<T> {
    auth: Upstream,
    identity: IdentityKey,
    clock: SharedClock,
    path: &'static str,
    cache: Arc<Mutex<Cache<T>>>,
}

/// Successful checks: the credential's hash → (auth's answer, good until).
type Cache<T> = HashMap<[u8; 32], (T, Timestamp)>;

impl<T: Checked> AuthCheck<T> {
    pub fn new(
        auth: Upstream,
        identity: IdentityKey,
        clock: SharedClock,
        path: &'static str,
    ) -> Self {
        Self {
            auth,
            identity,
            clock,
            path,
            cache: Arc::default(),
        }
    }

    /// Auth's verdict on the credential whose [`cache_key`] is `key`, sending `body` when it is not cached.
    pub async fn check(&self, key: [u8; 32], body: &impl Serialize) -> Verdict<T> {
        let now = self.clock.now();
        if let Some(answer) = self.cached(&key, now) {
            return Verdict::Accepted(answer);
        }
        let verdict = self.ask_auth(body).await;
        if let Verdict::Accepted(answer) = &verdict {
            self.remember(key, answer.clone(), now);
        }
        verdict
    }

    fn cached(&self, key: &[u8; 32], now: Timestamp) -> Option<T> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(key)
            .filter(|(_, until)| now < *until)
            .map(|(answer, _)| answer.clone())
    }

    fn remember(&self, key: [u8; 32], answer: T, now: Timestamp) {
        let bound = pinit_kernel::clock::later(now, CHECK_CACHE_TTL);
        let until = answer.expires_at().map_or(bound, |at| at.min(bound));
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_MAX_ENTRIES {
            cache.retain(|_, (_, until)| now < *until);
            if cache.len() >= CACHE_MAX_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(key, (answer, until));
    }

    async fn ask_auth(&self, body: &impl Serialize) -> Verdict<T> {
        let Ok(body) = serde_json::to_vec(body) else {
            return Verdict::Unavailable;
        };
        let assertion =
            self.identity
                .sign_gateway_call("POST", self.path, self.clock.now().as_second());
        let request = Request::post(self.path)
            .header(header::CONTENT_TYPE, "application/json")
            .header(ASSERTION_HEADER, assertion)
            .body(Body::from(body));
        let Ok(request) = request else {
            return Verdict::Unavailable;
        };
        let response = self.auth.forward(request).await;
        match response.status() {
            StatusCode::OK => {
                let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024).await;
                let checked = bytes
                    .ok()
                    .and_then(|b| serde_json::from_slice::<T>(&b).ok());
                match checked {
                    Some(c) if c.member_id() > 0 => Verdict::Accepted(c),
                    _ => {
                        tracing::warn!(
                            path = self.path,
                            "auth's check answered an unreadable body"
                        );
                        Verdict::Unavailable
                    }
                }
            }
            StatusCode::UNAUTHORIZED => Verdict::Refused,
            StatusCode::TOO_MANY_REQUESTS => Verdict::Limited(
                response
                    .headers()
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(60),
            ),
            status => {
                // 403 here means auth does not share this gateway's identity key.
                tracing::warn!(%status, path = self.path, "auth could not check a credential");
                Verdict::Unavailable
            }
        }
    }
}
