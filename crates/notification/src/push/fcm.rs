//! Firebase Cloud Messaging, HTTP v1 API, with a service account.
//!
//! * OAuth 2.0: an RS256 JWT assertion (`iss` = the service account, `scope` = firebase.messaging, `aud` = the
//!   token endpoint) is exchanged for an access token, cached until five minutes before it expires and fetched
//!   by one request at a time.
//! * Messages are **data-only** (`scheduleId`, `scheduleTitle`, `scheduleStartTime`, `idempotentKey`): a
//!   `notification` block would be shown by the OS before the service worker could drop a duplicate. Android
//!   priority high and a TTL; Web Push headers `TTL`, `Urgency`, `Topic` pass through FCM's `webpush` block.
//! * Errors (`google.firebase.fcm.v1.FcmError.errorCode`): `UNREGISTERED` (or a bare 404) and
//!   `SENDER_ID_MISMATCH` → gone; `INVALID_ARGUMENT` → gone only when the violation names the token, otherwise
//!   failed (a bad payload must not wipe tokens); `QUOTA_EXCEEDED`/429, `UNAVAILABLE`, `INTERNAL`/5xx → retried
//!   (honouring `Retry-After`); a 401 without `THIRD_PARTY_AUTH_ERROR` means our access token lapsed: it is
//!   dropped and the send retried.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use pinit_kernel::SharedClock;
use pinit_kernel::jwt::RsaKey;
use pkcs8::DecodePrivateKey;
use rsa::PrivateKey;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::{PushSetupError, capped_body, retry_after};
use crate::domain::{PushMessage, SendOutcome};
use crate::settings::FcmSettings;

/// The OAuth scope FCM requires.
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

#[derive(Debug, thiserror::Error)]
pub enum FcmError {
    #[error("cannot read the FCM service account {path}: {reason}")]
    Account { path: String, reason: String },
    #[error("FCM access token: {0}")]
    Token(String),
}

/// The fields of a Google service-account JSON key that FCM needs.
#[derive(Clone, Deserialize)]
pub struct ServiceAccount {
    pub project_id: String,
    pub client_email: String,
    pub private_key: String,
    #[serde(default)]
    pub private_key_id: String,
    #[serde(default = "default_token_uri")]
    pub token_uri: String,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

fn default_token_uri() -> String {
    "https://oauth2.googleapis.com/token".into()
}

impl ServiceAccount {
    pub fn from_file(path: &Path) -> Result<Self, FcmError> {
        let err = |reason: String| FcmError::Account {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let account: ServiceAccount =
            serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
        if account.project_id.trim().is_empty() || account.client_email.trim().is_empty() {
            return Err(err("project_id and client_email are required".into()));
        }
        Ok(account)
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

#[derive(serde::Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

/// Sends FCM data messages. Cheap to clone.
#[derive(Clone)]
pub struct FcmSender {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    account: ServiceAccount,
    key: RsaKey,
    send_url: String,
    token_url: String,
    clock: SharedClock,
    token: Mutex<Option<(String, Timestamp)>>,
}

impl FcmSender {
    pub fn from_settings(
        settings: &FcmSettings,
        timeout: Duration,
        clock: SharedClock,
    ) -> Result<Self, PushSetupError> {
        let account = ServiceAccount::from_file(&settings.service_account_file)?;
        Self::new(
            account,
            &settings.api_url,
            settings.token_url.clone(),
            timeout,
            clock,
        )
    }

    pub fn new(
        account: ServiceAccount,
        api_url: &str,
        token_url: Option<String>,
        timeout: Duration,
        clock: SharedClock,
    ) -> Result<Self, PushSetupError> {
        let key = PrivateKey::from_pkcs8_pem(&account.private_key)
            .map_err(|e| format!("private_key is not a PKCS#8 RSA key: {e}"))
            .and_then(|key| RsaKey::new(key).map_err(|e| e.to_string()))
            .map_err(|reason| FcmError::Account {
                path: account.client_email.clone(),
                reason,
            })?;
        let client = pinit_kernel::tls::https_client()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(256)
            .user_agent(concat!("pinit-notification/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PushSetupError::Client(e.to_string()))?;
        let send_url = format!(
            "{}/v1/projects/{}/messages:send",
            api_url.trim_end_matches('/'),
            account.project_id
        );
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                token_url: token_url.unwrap_or_else(|| account.token_uri.clone()),
                account,
                key,
                send_url,
                clock,
                token: Mutex::new(None),
            }),
        })
    }

    /// A valid access token (cached; one fetch at a time).
    pub async fn access_token(&self) -> Result<String, SendOutcome> {
        let now = self.inner.clock.now();
        let mut cached = self.inner.token.lock().await;
        if let Some((token, expires)) = cached.as_ref()
            && expires.as_second() - now.as_second() > 300
        {
            return Ok(token.clone());
        }
        let (token, expires) = self.fetch_token(now).await?;
        *cached = Some((token.clone(), expires));
        Ok(token)
    }

    async fn fetch_token(&self, now: Timestamp) -> Result<(String, Timestamp), SendOutcome> {
        let a = &self.inner.account;
        let iat = now.as_second();
        let assertion = pinit_kernel::jwt::sign(
            &Assertion {
                iss: &a.client_email,
                scope: SCOPE,
                aud: &self.inner.token_url,
                iat,
                exp: iat + 3600,
            },
            &a.private_key_id,
            &self.inner.key,
        )
        .map_err(|e| SendOutcome::Failed {
            status: None,
            reason: format!("cannot sign the FCM token request: {e}"),
        })?;
        let response = self
            .inner
            .client
            .post(&self.inner.token_url)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| SendOutcome::from_transport(&e))?;
        let status = response.status();
        let after = retry_after(response.headers(), now);
        let body = capped_body(response).await;
        if !status.is_success() {
            let reason = format!(
                "the OAuth token endpoint answered {status}: {}",
                body.chars().take(300).collect::<String>()
            );
            tracing::error!(%reason, "FCM access token refused");
            return Err(if status.as_u16() == 429 || status.is_server_error() {
                SendOutcome::Retry {
                    status: Some(status.as_u16()),
                    retry_after: after,
                    reason,
                }
            } else {
                SendOutcome::Failed {
                    status: Some(status.as_u16()),
                    reason,
                }
            });
        }
        let parsed: TokenResponse =
            serde_json::from_str(&body).map_err(|e| SendOutcome::Failed {
                status: Some(status.as_u16()),
                reason: format!("the OAuth token endpoint answered something else: {e}"),
            })?;
        let lifetime = parsed.expires_in.unwrap_or(3600).clamp(60, 24 * 3600);
        let expires = Timestamp::from_second(iat + lifetime).unwrap_or(now);
        Ok((parsed.access_token, expires))
    }

    async fn drop_token(&self) {
        *self.inner.token.lock().await = None;
    }

    /// Sends a data-only message to one registration token.
    pub async fn send(&self, token: &str, message: &PushMessage, ttl: Duration) -> SendOutcome {
        let access = match self.access_token().await {
            Ok(t) => t,
            Err(outcome) => return outcome,
        };
        let response = match self
            .inner
            .client
            .post(&self.inner.send_url)
            .bearer_auth(access)
            .json(&message_body(token, message, ttl))
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => return SendOutcome::from_transport(&e),
        };
        let status = response.status().as_u16();
        let after = retry_after(response.headers(), self.inner.clock.now());
        let text = capped_body(response).await;
        if (200..300).contains(&status) {
            return SendOutcome::Sent { status };
        }
        let outcome = classify(status, after, &text);
        if status == 401 && matches!(outcome, SendOutcome::Retry { .. }) {
            // The access token was refused: fetch a new one for the retry.
            self.drop_token().await;
        }
        outcome
    }
}

/// The HTTP v1 `messages:send` body: a data-only message, high priority, `ttl` on both Android and Web Push.
fn message_body(token: &str, message: &PushMessage, ttl: Duration) -> serde_json::Value {
    let ttl_secs = ttl.as_secs();
    serde_json::json!({
        "message": {
            "token": token,
            "data": message.data(),
            "android": { "priority": "HIGH", "ttl": format!("{ttl_secs}s") },
            "webpush": { "headers": {
                "TTL": ttl_secs.to_string(),
                "Urgency": "high",
                "Topic": message.topic(),
            } },
        }
    })
}

/// What an FCM error answer means for the token: gone (unregistered, another sender's, malformed), retry
/// (quota, unavailable, an expired access token), or failed.
fn classify(status: u16, after: Option<Duration>, text: &str) -> SendOutcome {
    let error = FcmErrorBody::parse(text);
    let reason = format!(
        "FCM answered {status} {}: {}",
        error
            .code
            .as_deref()
            .unwrap_or(error.status.as_deref().unwrap_or("")),
        error.message.chars().take(300).collect::<String>()
    );
    match (status, error.code.as_deref()) {
        (_, Some("UNREGISTERED")) | (404, None) => SendOutcome::Gone { status, reason },
        (_, Some("SENDER_ID_MISMATCH")) => SendOutcome::Gone { status, reason },
        (_, Some("INVALID_ARGUMENT")) | (400, None) if error.names_token => {
            SendOutcome::Gone { status, reason }
        }
        (_, Some("THIRD_PARTY_AUTH_ERROR")) => {
            tracing::error!(%reason, "FCM cannot reach APNs/Web Push with the project's credentials");
            SendOutcome::Failed {
                status: Some(status),
                reason,
            }
        }
        (401, _) => SendOutcome::Retry {
            status: Some(status),
            retry_after: None,
            reason,
        },
        (_, Some("QUOTA_EXCEEDED" | "UNAVAILABLE" | "INTERNAL")) | (429, _) | (500..=599, _) => {
            SendOutcome::Retry {
                status: Some(status),
                retry_after: after,
                reason,
            }
        }
        _ => SendOutcome::Failed {
            status: Some(status),
            reason,
        },
    }
}

/// The interesting parts of an FCM error body.
#[derive(Debug, Default)]
struct FcmErrorBody {
    status: Option<String>,
    code: Option<String>,
    message: String,
    names_token: bool,
}

impl FcmErrorBody {
    fn parse(text: &str) -> Self {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            return Self {
                message: text.chars().take(300).collect(),
                ..Self::default()
            };
        };
        let e = &v["error"];
        let details = e["details"].as_array().cloned().unwrap_or_default();
        let code = details
            .iter()
            .find_map(|d| d["errorCode"].as_str())
            .map(str::to_string)
            .or_else(|| e["status"].as_str().map(str::to_string));
        let names_token = details.iter().any(|d| {
            d["fieldViolations"].as_array().is_some_and(|violations| {
                violations
                    .iter()
                    .any(|f| f["field"].as_str().is_some_and(|f| f.contains("token")))
            })
        }) || e["message"]
            .as_str()
            .is_some_and(|m| m.contains("registration token"));
        Self {
            status: e["status"].as_str().map(str::to_string),
            code,
            message: e["message"].as_str().unwrap_or_default().to_string(),
            names_token,
        }
    }
}

impl std::fmt::Debug for FcmSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FcmSender")
            .field("send_url", &self.inner.send_url)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_classified() {
        let unregistered = FcmErrorBody::parse(
            r#"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND",
               "details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}"#,
        );
        assert_eq!(unregistered.code.as_deref(), Some("UNREGISTERED"));
        let bad_token = FcmErrorBody::parse(
            r#"{"error":{"code":400,"message":"The registration token is not a valid FCM registration token","status":"INVALID_ARGUMENT",
               "details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INVALID_ARGUMENT"},
                          {"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.token","description":"Invalid registration token"}]}]}}"#,
        );
        assert!(bad_token.names_token);
        let bad_payload = FcmErrorBody::parse(
            r#"{"error":{"code":400,"message":"Invalid value at 'message.data'","status":"INVALID_ARGUMENT",
               "details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.data"}]}]}}"#,
        );
        assert_eq!(bad_payload.code.as_deref(), Some("INVALID_ARGUMENT"));
        assert!(!bad_payload.names_token);
        assert_eq!(FcmErrorBody::parse("<html>").code, None);
    }
}
