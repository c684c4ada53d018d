//! Sending to push services: Web Push (RFC 8030 + 8291 + 8292) and Firebase Cloud Messaging (HTTP v1); and to
//! members' webhook endpoints ([`webhook`], Standard Webhooks).
//!
//! Each send ends in one [`SendOutcome`]; the dispatcher records it per device and the domain decides about
//! retries ([`crate::domain::delivery`]).

pub mod ece;
pub mod fcm;
pub mod guard;
pub mod webhook;
pub mod webpush;

use std::time::Duration;

use pinit_kernel::SharedClock;

use crate::domain::{EndpointPolicy, PushMessage, PushTarget, SendOutcome};
use crate::settings::Settings;
use crate::vapid::VapidKey;

pub use fcm::{FcmError, FcmSender, ServiceAccount};
pub use webpush::WebPushSender;

/// Largest response body read from a push service (the rest is discarded).
pub const MAX_RESPONSE_BODY: usize = 64 * 1024;

impl SendOutcome {
    /// A transport-level failure (no answer): retryable — unless the SSRF guard refused to connect
    /// ([`guard::refused`]), which no retry changes.
    pub(crate) fn from_transport(error: &reqwest::Error) -> Self {
        if guard::refused(error).is_some() {
            return SendOutcome::Refused {
                reason: format!("refused by the SSRF guard: {}", error_chain(error)),
            };
        }
        let what = if error.is_timeout() {
            "timed out"
        } else if error.is_connect() {
            "could not connect"
        } else {
            "request failed"
        };
        SendOutcome::Retry {
            status: None,
            retry_after: None,
            reason: format!("{what}: {}", error_chain(error)),
        }
    }
}

/// An error with its sources, on one line.
pub(crate) use pinit_kernel::text::error_chain;

/// Reads at most [`MAX_RESPONSE_BODY`] bytes of a response body.
pub(crate) async fn capped_body(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_RESPONSE_BODY.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_RESPONSE_BODY {
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// `Retry-After`: delay-seconds or an HTTP-date.
pub(crate) fn retry_after(
    headers: &reqwest::header::HeaderMap,
    now: jiff::Timestamp,
) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let secs = at.as_second().saturating_sub(now.as_second());
    Some(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

/// Why the senders could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PushSetupError {
    #[error("cannot build the push HTTP client: {0}")]
    Client(String),
    #[error(transparent)]
    Fcm(#[from] FcmError),
}

/// Both senders, chosen by the subscription's kind.
#[derive(Clone)]
pub struct Pusher {
    web: WebPushSender,
    fcm: Option<FcmSender>,
}

impl Pusher {
    /// Builds the Web Push sender (always) and the FCM sender (when `settings.fcm` is set; reads the
    /// service-account file).
    pub fn new(
        vapid: VapidKey,
        settings: &Settings,
        clock: SharedClock,
        policy: EndpointPolicy,
    ) -> Result<Self, PushSetupError> {
        let web = WebPushSender::with_idle_connections(
            vapid,
            &settings.vapid_subject,
            settings.push_timeout.get(),
            clock.clone(),
            policy,
            settings
                .max_in_flight
                .max(WebPushSender::DEFAULT_IDLE_PER_ORIGIN),
        )?;
        let fcm = match &settings.fcm {
            Some(fcm) => Some(FcmSender::from_settings(
                fcm,
                settings.push_timeout.get(),
                clock,
            )?),
            None => None,
        };
        Ok(Self { web, fcm })
    }

    pub fn web_push(&self) -> &WebPushSender {
        &self.web
    }

    pub fn fcm(&self) -> Option<&FcmSender> {
        self.fcm.as_ref()
    }

    /// Sends `message` to one device; `ttl` is how long the push service should keep trying to deliver it.
    pub async fn send(&self, to: &PushTarget, message: &PushMessage, ttl: Duration) -> SendOutcome {
        match to {
            PushTarget::WebPush(subscription) => self.web.send(subscription, message, ttl).await,
            PushTarget::Fcm { token } => match &self.fcm {
                Some(fcm) => fcm.send(token, message, ttl).await,
                None => SendOutcome::Failed {
                    status: None,
                    reason: "FCM is not configured (notification.fcm)".into(),
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    /// A name that resolves only to a private address fails the send with the guard's refusal in the error
    /// chain: permanent (not a retry like any other connection failure).
    #[tokio::test]
    async fn a_connection_the_guard_refuses_is_a_refused_send_not_a_retry() {
        let client = |policy: EndpointPolicy| {
            reqwest::Client::builder()
                .dns_resolver(policy.url.resolver())
                .build()
                .unwrap()
        };
        let strict = client(EndpointPolicy::strict())
            .post("http://localhost:9/push")
            .send()
            .await
            .unwrap_err();
        let outcome = SendOutcome::from_transport(&strict);
        assert!(
            matches!(&outcome, SendOutcome::Refused { reason } if reason.contains("no public address")),
            "{outcome:?}"
        );
        // Allowed to resolve (insecure), the same unreachable port is an ordinary retry.
        let insecure = client(EndpointPolicy::new(true))
            .post("http://localhost:9/push")
            .send()
            .await
            .unwrap_err();
        assert!(
            matches!(
                SendOutcome::from_transport(&insecure),
                SendOutcome::Retry { .. }
            ),
            "a connection failure is retried"
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now: jiff::Timestamp = "2026-02-08T01:00:00Z".parse().unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h, now), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 08 Feb 2026 01:00:30 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }
}
