//! The Web Push sender (RFC 8030): an `aes128gcm`-encrypted payload (RFC 8291) POSTed to the subscription's
//! endpoint, identified with VAPID (RFC 8292).
//!
//! Request headers: `Content-Encoding: aes128gcm`, `TTL` (how long the push service keeps trying), `Urgency:
//! high` (a start-time reminder is worth waking a device for), `Topic` (the same for every send of a
//! schedule's notification, so a re-send replaces an undelivered duplicate), and
//! `Authorization: vapid t=<ES256 JWT>, k=<public key>`. The JWT's `aud` is the push service's origin, `exp`
//! twelve hours ahead (RFC 8292 allows at most 24 h), `sub` the operator contact; one JWT per origin is cached
//! until an hour before it expires.
//!
//! Answers: 2xx sent; 404/410 gone (the subscription expired or was unsubscribed); 429 and 5xx retried
//! (honouring `Retry-After`); other 4xx failed (recorded, subscription kept).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jiff::Timestamp;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use pinit_kernel::SharedClock;
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};

use super::{PushSetupError, capped_body, ece, retry_after};
use crate::domain::subscription::decode_key;
use crate::domain::{EndpointPolicy, PushMessage, SendOutcome, WebPushSubscription};
use crate::vapid::VapidKey;

/// Lifetime of a VAPID JWT.
pub const VAPID_TTL: Duration = Duration::from_secs(12 * 3600);
/// A cached JWT is replaced this long before it expires.
const VAPID_REFRESH_MARGIN: i64 = 3600;

/// Sends Web Push messages. Cheap to clone.
#[derive(Clone)]
pub struct WebPushSender {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    signing: SigningKey,
    public_key: String,
    subject: String,
    clock: SharedClock,
    policy: EndpointPolicy,
    /// origin → (`Authorization` value with its JWT, the JWT's exp in seconds)
    jwts: Mutex<HashMap<String, (HeaderValue, i64)>>,
}

#[derive(serde::Serialize)]
struct VapidClaims<'a> {
    aud: &'a str,
    exp: i64,
    sub: &'a str,
}

impl WebPushSender {
    /// Idle connections kept per push-service origin by [`WebPushSender::new`].
    pub const DEFAULT_IDLE_PER_ORIGIN: usize = 64;

    pub fn new(
        vapid: VapidKey,
        subject: &str,
        timeout: Duration,
        clock: SharedClock,
        policy: EndpointPolicy,
    ) -> Result<Self, PushSetupError> {
        Self::with_idle_connections(
            vapid,
            subject,
            timeout,
            clock,
            policy,
            Self::DEFAULT_IDLE_PER_ORIGIN,
        )
    }

    /// As [`WebPushSender::new`], keeping up to `idle_per_origin` idle connections per push-service origin.
    /// The dispatcher passes `max_in_flight`: over HTTP/1.1 every request in flight holds a connection, and a
    /// smaller idle pool closes them after a burst only to open them again for the next batch.
    pub fn with_idle_connections(
        vapid: VapidKey,
        subject: &str,
        timeout: Duration,
        clock: SharedClock,
        policy: EndpointPolicy,
        idle_per_origin: usize,
    ) -> Result<Self, PushSetupError> {
        // The SSRF guard's client: no redirects, no proxy, the public-address resolver.
        let client = policy
            .url
            .client(timeout)
            .pool_max_idle_per_host(idle_per_origin.max(1))
            .user_agent(concat!("pinit-notification/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PushSetupError::Client(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                signing: SigningKey::from(vapid.secret()),
                public_key: vapid.public_key_base64url(),
                subject: subject.trim().to_string(),
                clock,
                policy,
                jwts: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// `vapid t=<jwt>, k=<key>` for a push service origin (cached per origin).
    pub fn authorization(&self, origin: &str) -> String {
        let header = self.authorization_header(origin);
        header.to_str().unwrap_or_default().to_string()
    }

    /// [`WebPushSender::authorization`] as a header value; a cached one is shared, not copied.
    fn authorization_header(&self, origin: &str) -> HeaderValue {
        let now = self.inner.clock.now().as_second();
        let mut cache = self.inner.jwts.lock().unwrap_or_else(|p| p.into_inner());
        match cache.get(origin) {
            Some((header, exp)) if exp - now > VAPID_REFRESH_MARGIN => header.clone(),
            _ => {
                let exp = now + VAPID_TTL.as_secs() as i64;
                let value = format!(
                    "vapid t={}, k={}",
                    self.sign(origin, exp),
                    self.inner.public_key
                );
                // A JWT and a base64url key are visible ASCII: the conversion cannot fail.
                let header =
                    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""));
                cache.insert(origin.to_string(), (header.clone(), exp));
                header
            }
        }
    }

    fn sign(&self, aud: &str, exp: i64) -> String {
        let header = B64.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::to_vec(&VapidClaims {
            aud,
            exp,
            sub: &self.inner.subject,
        })
        .unwrap_or_default();
        let input = format!("{header}.{}", B64.encode(claims));
        let signature: Signature = self.inner.signing.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(signature.to_bytes()))
    }

    /// Encrypts `message` for `to` and POSTs it to its endpoint.
    pub async fn send(
        &self,
        to: &WebPushSubscription,
        message: &PushMessage,
        ttl: Duration,
    ) -> SendOutcome {
        let (url, body) = match self.prepare(to, message) {
            Ok(prepared) => prepared,
            Err(outcome) => return outcome,
        };
        let authorization = self.authorization_header(&url.origin().ascii_serialization());
        let request = self
            .inner
            .client
            .post(url)
            .header(CONTENT_ENCODING, HeaderValue::from_static("aes128gcm"))
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            )
            .header("TTL", ttl.as_secs())
            .header("Urgency", HeaderValue::from_static("high"))
            .header("Topic", message.topic())
            .header(AUTHORIZATION, authorization)
            .body(body);
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return SendOutcome::from_transport(&e),
        };
        let status = response.status().as_u16();
        let after = retry_after(response.headers(), self.inner.clock.now());
        // Read (bounded) even on success, so the connection can be reused.
        let text = capped_body(response).await;
        answer(status, after, &text)
    }

    /// The checked endpoint and the encrypted body, or why the push cannot be sent: an endpoint the SSRF rule
    /// refuses is [`SendOutcome::Refused`], unusable keys [`SendOutcome::Failed`].
    fn prepare(
        &self,
        to: &WebPushSubscription,
        message: &PushMessage,
    ) -> Result<(url::Url, Vec<u8>), SendOutcome> {
        let url = self
            .inner
            .policy
            .check(&to.endpoint)
            .map_err(|e| SendOutcome::Refused {
                reason: format!("the push endpoint {e}"),
            })?;
        let failed = |reason: String| SendOutcome::Failed {
            status: None,
            reason,
        };
        let ua_public = stored_key::<{ ece::PUBLIC_KEY_LEN }>(Some(&to.p256dh));
        let auth = stored_key::<{ ece::AUTH_LEN }>(Some(&to.auth));
        let (ua_public, auth) = ua_public
            .zip(auth)
            .ok_or_else(|| failed("the stored subscription keys are unusable".into()))?;
        let body =
            ece::encrypt(message.json(), &ua_public, &auth).map_err(|e| failed(e.to_string()))?;
        Ok((url, body))
    }
}

/// What a push service's answer means: 2xx sent; 404/410 gone; 429 and 5xx retried (after `Retry-After`);
/// anything else failed.
fn answer(status: u16, after: Option<Duration>, text: &str) -> SendOutcome {
    if (200..300).contains(&status) {
        return SendOutcome::Sent { status };
    }
    let reason = format!(
        "the push service answered {status}: {}",
        text.chars().take(300).collect::<String>()
    );
    match status {
        404 | 410 => SendOutcome::Gone { status, reason },
        429 | 500..=599 => SendOutcome::Retry {
            status: Some(status),
            retry_after: after,
            reason,
        },
        _ => SendOutcome::Failed {
            status: Some(status),
            reason,
        },
    }
}

/// A stored subscription key (`p256dh`, `auth`): base64url without padding as [`crate::domain`] writes it,
/// decoded without allocating; anything else goes through the lenient [`decode_key`].
fn stored_key<const N: usize>(stored: Option<&str>) -> Option<[u8; N]> {
    let stored = stored?;
    let mut buf = [0u8; 128];
    match B64.decode_slice(stored.as_bytes(), &mut buf) {
        Ok(n) if n == N => buf[..N].try_into().ok(),
        _ => decode_key(Some(stored)).and_then(|bytes| bytes.try_into().ok()),
    }
}

/// Checks a VAPID `Authorization` header as a push service does (tests and fake push services): the `k`
/// key verifies the ES256 signature; returns the claims.
pub fn verify_vapid(authorization: &str) -> Result<serde_json::Value, String> {
    let rest = authorization
        .strip_prefix("vapid ")
        .ok_or("not a vapid authorization")?;
    let mut token = None;
    let mut key = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(t) = part.strip_prefix("t=") {
            token = Some(t);
        } else if let Some(k) = part.strip_prefix("k=") {
            key = Some(k);
        }
    }
    let (token, key) = token.zip(key).ok_or("t= and k= are required")?;
    let key = B64.decode(key).map_err(|e| format!("k: {e}"))?;
    let verifying =
        p256::ecdsa::VerifyingKey::from_sec1_bytes(&key).map_err(|e| format!("k: {e}"))?;
    let (input, signature) = token.rsplit_once('.').ok_or("not a JWS")?;
    let signature = B64
        .decode(signature)
        .map_err(|e| format!("signature: {e}"))?;
    let signature = Signature::from_slice(&signature).map_err(|e| format!("signature: {e}"))?;
    p256::ecdsa::signature::Verifier::verify(&verifying, input.as_bytes(), &signature)
        .map_err(|_| "bad signature".to_string())?;
    let (header, claims) = input.split_once('.').ok_or("not a JWS")?;
    let header: serde_json::Value =
        serde_json::from_slice(&B64.decode(header).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    if header["alg"] != "ES256" {
        return Err(format!("alg {}", header["alg"]));
    }
    serde_json::from_slice(&B64.decode(claims).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())
}

/// Seconds from `now` to `exp` of verified claims (negative when expired).
pub fn seconds_left(claims: &serde_json::Value, now: Timestamp) -> i64 {
    claims["exp"].as_i64().unwrap_or(0) - now.as_second()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pinit_kernel::ManualClock;

    #[test]
    fn stored_keys_decode_in_either_base64_form_and_only_at_their_length() {
        let auth: [u8; 16] = *b"\xfb\xff0123456789abcd";
        let url_safe = B64.encode(auth);
        let standard = base64::engine::general_purpose::STANDARD.encode(auth);
        assert_ne!(url_safe, standard.trim_end_matches('='));
        assert_eq!(stored_key::<16>(Some(&url_safe)), Some(auth));
        assert_eq!(stored_key::<16>(Some(&standard)), Some(auth));
        assert_eq!(stored_key::<65>(Some(&url_safe)), None);
        assert_eq!(stored_key::<16>(Some("not base64!")), None);
        assert_eq!(stored_key::<16>(None), None);
    }

    #[test]
    fn vapid_jwts_verify_and_are_cached_per_origin() {
        let start: Timestamp = "2026-02-08T00:00:00Z".parse().unwrap();
        let clock = ManualClock::new(start);
        let sender = WebPushSender::new(
            VapidKey::generate(),
            "mailto:ops@pinit.example",
            Duration::from_secs(5),
            clock.clone(),
            EndpointPolicy::strict(),
        )
        .unwrap();
        let a = sender.authorization("https://fcm.googleapis.com");
        let claims = verify_vapid(&a).unwrap();
        assert_eq!(claims["aud"], "https://fcm.googleapis.com");
        assert_eq!(claims["sub"], "mailto:ops@pinit.example");
        let left = seconds_left(&claims, start);
        assert!(left > 0 && left <= 24 * 3600, "{left}");
        assert_eq!(
            a,
            sender.authorization("https://fcm.googleapis.com"),
            "cached"
        );
        let b = sender.authorization("https://updates.push.services.mozilla.com");
        assert_ne!(a, b, "one JWT per origin");
        clock.advance(jiff::SignedDuration::from_hours(11) + jiff::SignedDuration::from_mins(1));
        let renewed = sender.authorization("https://fcm.googleapis.com");
        assert_ne!(a, renewed, "renewed an hour before it expires");
        assert!(verify_vapid(&renewed.replace("t=e", "t=f")).is_err());
    }
}
