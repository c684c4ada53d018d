//! The webhook sender: one signed POST per attempt, as the Standard Webhooks specification says.
//!
//! Headers: `content-type: application/json`, `webhook-id` (the event's stable id: the same on every attempt,
//! so a receiver de-duplicates by it), `webhook-timestamp` (seconds, at this attempt), `webhook-signature`
//! (`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` with the secret's key). The client is the SSRF
//! guard's ([`pinit_kernel::net::guard::UrlPolicy::client`]): the URL is checked again before each attempt, the
//! connection goes only to public addresses (unless `allow_insecure_endpoints`), redirects are not followed,
//! `webhooks.timeout` bounds each attempt and at most [`super::MAX_RESPONSE_BODY`] of the answer is read.

use std::time::Duration;

use pinit_kernel::SharedClock;
use reqwest::header::{CONTENT_TYPE, HeaderValue};

use super::{PushSetupError, capped_body, retry_after};
use crate::domain::webhook::{Attempt, Secret, sign};
use crate::domain::{EndpointPolicy, SendOutcome};

/// Sends webhook deliveries. Cheap to clone.
#[derive(Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
    clock: SharedClock,
    policy: EndpointPolicy,
}

/// One attempt's request.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    pub url: &'a str,
    pub secret: &'a Secret,
    /// The `webhook-id`.
    pub id: &'a str,
    pub body: &'a str,
}

impl WebhookSender {
    pub fn new(
        policy: EndpointPolicy,
        timeout: Duration,
        clock: SharedClock,
    ) -> Result<Self, PushSetupError> {
        let client = policy
            .url
            .client(timeout)
            .pool_max_idle_per_host(4)
            .user_agent(concat!("pinit-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PushSetupError::Client(e.to_string()))?;
        Ok(Self {
            client,
            clock,
            policy,
        })
    }

    /// POSTs `request`, signed now; what the answer means.
    pub async fn send(&self, request: Signed<'_>) -> Attempt {
        if let Err(e) = self.policy.url.check(request.url, usize::MAX) {
            return Attempt::Refused {
                error: format!("refused by the SSRF guard: the URL {e}"),
            };
        }
        let Some(key) = request.secret.key() else {
            return Attempt::Refused {
                error: "the endpoint's secret is not `whsec_` + base64".into(),
            };
        };
        let timestamp = self.clock.now().as_second();
        let signature = sign(&key, request.id, timestamp, request.body);
        let response = self
            .client
            .post(request.url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header("webhook-id", request.id)
            .header("webhook-timestamp", timestamp)
            .header("webhook-signature", signature)
            .body(request.body.to_string())
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                return match SendOutcome::from_transport(&e) {
                    SendOutcome::Refused { reason } => Attempt::Refused { error: reason },
                    other => Attempt::Failed {
                        status: None,
                        retry_after: None,
                        error: other.reason().unwrap_or("request failed").to_string(),
                    },
                };
            }
        };
        let status = response.status().as_u16();
        let after = retry_after(response.headers(), self.clock.now());
        // Read (bounded) even on success, so the connection can be reused.
        let body = capped_body(response).await;
        Attempt::of_status(status, after, &body)
    }
}
