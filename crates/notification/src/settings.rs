//! `[notification]` settings. Every field has a default; unknown keys are refused.

use std::path::PathBuf;
use std::time::Duration;

use pinit_kernel::config::{ConnectionUrl, HumanDuration};
use pinit_messaging::BackoffConfig;
use serde::{Deserialize, Serialize};

/// `[notification]` settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The notification database. Default in `pinit serve`: `<data_dir>/notification.db`; required otherwise.
    pub database_url: Option<ConnectionUrl>,
    /// The task service's gRPC endpoint, e.g. `http://task:9090`. Set automatically in `pinit serve`.
    pub task_grpc_url: Option<String>,
    /// Deadline of one call to the task service (schedule look-ups).
    pub task_grpc_timeout: HumanDuration,
    /// The VAPID `sub` claim (RFC 8292): a `mailto:` or `https:` contact for push-service operators.
    /// Set it to an address of yours; some push services refuse `localhost` addresses.
    pub vapid_subject: String,
    /// How late a notification may still go out. After downtime, notifications due within this window are
    /// sent at once; older ones are dropped (and recorded as `expired`). Transient send failures are retried
    /// only inside it, and it is the `TTL` given to push services.
    pub grace: HumanDuration,
    /// Push requests in flight at once (all devices, all notifications, per process).
    pub max_in_flight: usize,
    /// Notifications claimed per dispatcher round.
    pub batch_size: u32,
    /// How long a claim keeps a notification from other dispatchers (replicas). A dispatcher stops sending
    /// a claimed notification before its claim runs out, so two replicas never send it twice.
    pub claim_lease: HumanDuration,
    /// Backoff between attempts of one device (429 / 5xx / timeouts). `Retry-After` is honoured when longer.
    pub retry_backoff: BackoffConfig,
    /// Timeout of one request to a push service (connect + response).
    pub push_timeout: HumanDuration,
    /// The dispatcher sleeps until the next due notification; this is the longest it sleeps without looking
    /// at the database (notifications armed by other replicas are found at the latest then).
    pub safety_poll: HumanDuration,
    /// Subscriptions neither refreshed by their device nor delivered to successfully for this long are
    /// deleted. (A success is recorded to the day: `store::subscriptions::SUCCESS_PRECISION_US`.)
    pub subscription_max_idle: HumanDuration,
    /// Subscriptions a member may have (one per device). A subscribe call from a new device beyond it replaces
    /// the member's least recently used subscriptions (last subscribe call or last successful push).
    pub max_subscriptions_per_member: usize,
    /// How long delivery and outcome records are kept.
    pub record_retention: HumanDuration,
    /// How often housekeeping (pruning) runs.
    pub housekeeping_interval: HumanDuration,
    /// Lets Web Push endpoints be `http` and on private or loopback addresses — only for tests and local
    /// development against a fake push service; never in production (the server would POST wherever a member
    /// points it). The older environment variable `PINIT_PUSH_ALLOW_INSECURE_ENDPOINTS=true` (or `1`) sets it
    /// too.
    pub allow_insecure_endpoints: bool,
    /// Firebase Cloud Messaging (HTTP v1). Absent: FCM tokens are accepted and stored, but pushes to them fail
    /// (recorded as `failed`, "FCM is not configured").
    pub fcm: Option<FcmSettings>,
    /// `[notification.webhooks]`: members' webhook endpoints (docs/integrations.md#webhooks). Their URLs follow
    /// the same SSRF rule as Web Push endpoints, lifted by `allow_insecure_endpoints` too.
    pub webhooks: WebhookSettings,
}

/// `[notification.webhooks]` settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// Timeout of one delivery (connect + answer).
    pub timeout: HumanDuration,
    /// Backoff between attempts of one delivery (with jitter); `Retry-After` is honoured when longer.
    pub retry_backoff: BackoffConfig,
    /// Retries stop this long after the event (the delivery is then `failed`).
    pub retry_window: HumanDuration,
    /// Deliveries given up in a row (no success in between) that disable an endpoint.
    pub disable_after_failures: i64,
    /// Endpoints a member may have.
    pub max_endpoints_per_member: usize,
    /// Deliveries sent at once per process.
    pub max_in_flight: usize,
    /// Deliveries claimed per round.
    pub batch_size: u32,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            timeout: HumanDuration::from_secs(10),
            retry_backoff: BackoffConfig {
                initial: HumanDuration::from_secs(10),
                max: HumanDuration::from_secs(4 * 3600),
                multiplier: 3.0,
            },
            retry_window: HumanDuration::from_secs(24 * 3600),
            disable_after_failures: 5,
            max_endpoints_per_member: crate::domain::webhook::MAX_ENDPOINTS_PER_MEMBER,
            max_in_flight: 32,
            batch_size: 100,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: None,
            task_grpc_url: None,
            task_grpc_timeout: HumanDuration::from_secs(3),
            vapid_subject: "mailto:admin@pinit.example".into(),
            grace: HumanDuration::from_secs(10 * 60),
            max_in_flight: 512,
            batch_size: 500,
            claim_lease: HumanDuration::from_secs(60),
            retry_backoff: BackoffConfig {
                initial: HumanDuration::from_secs(1),
                max: HumanDuration::from_secs(60),
                multiplier: 2.0,
            },
            push_timeout: HumanDuration::from_secs(10),
            safety_poll: HumanDuration::from_secs(30),
            subscription_max_idle: HumanDuration::from_secs(90 * 24 * 3600),
            max_subscriptions_per_member: 20,
            record_retention: HumanDuration::from_secs(30 * 24 * 3600),
            housekeeping_interval: HumanDuration::from_secs(10 * 60),
            allow_insecure_endpoints: false,
            fcm: None,
            webhooks: WebhookSettings::default(),
        }
    }
}

/// `[notification.fcm]`: Firebase Cloud Messaging HTTP v1 with a service account.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FcmSettings {
    /// The service-account JSON downloaded from the Firebase console (a Secret mount in Kubernetes, e.g.
    /// `/etc/keys/pinit-firebase-key.json`).
    pub service_account_file: PathBuf,
    /// The FCM API origin (tests point it at a fake).
    #[serde(default = "default_fcm_api_url")]
    pub api_url: String,
    /// The OAuth 2.0 token endpoint; default: the `token_uri` of the service-account file.
    #[serde(default)]
    pub token_url: Option<String>,
}

fn default_fcm_api_url() -> String {
    "https://fcm.googleapis.com".into()
}

impl FcmSettings {
    pub fn new(service_account_file: impl Into<PathBuf>) -> Self {
        Self {
            service_account_file: service_account_file.into(),
            api_url: default_fcm_api_url(),
            token_url: None,
        }
    }
}

impl Settings {
    /// Problems a start-up must refuse, as (key, problem).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        let subject = self.vapid_subject.trim();
        if !(subject.starts_with("mailto:") && subject.len() > 7 || subject.starts_with("https://"))
        {
            problems.push((
                "notification.vapid_subject",
                format!("`{subject}` must be a `mailto:` address or an `https://` URL (RFC 8292)"),
            ));
        }
        if self.grace.get() < Duration::from_secs(10) {
            problems.push(("notification.grace", "must be at least 10s".into()));
        }
        if self.max_in_flight == 0 {
            problems.push(("notification.max_in_flight", "must be at least 1".into()));
        }
        if self.batch_size == 0 {
            problems.push(("notification.batch_size", "must be at least 1".into()));
        }
        if self.max_subscriptions_per_member == 0 {
            problems.push((
                "notification.max_subscriptions_per_member",
                "must be at least 1".into(),
            ));
        }
        if self.claim_lease.get() < self.push_timeout.get() * 2 {
            problems.push((
                "notification.claim_lease",
                "must be at least twice notification.push_timeout".into(),
            ));
        }
        if self.push_timeout.get() < Duration::from_millis(100) {
            problems.push(("notification.push_timeout", "must be at least 100ms".into()));
        }
        if self.safety_poll.get() < Duration::from_millis(100) {
            problems.push(("notification.safety_poll", "must be at least 100ms".into()));
        }
        let w = &self.webhooks;
        if w.timeout.get() < Duration::from_millis(100) || w.timeout.get() > Duration::from_secs(60)
        {
            problems.push((
                "notification.webhooks.timeout",
                "must be between 100ms and 60s".into(),
            ));
        }
        if self.claim_lease.get() < w.timeout.get() * 2 {
            problems.push((
                "notification.claim_lease",
                "must be at least twice notification.webhooks.timeout".into(),
            ));
        }
        for (key, zero) in [
            (
                "notification.webhooks.disable_after_failures",
                w.disable_after_failures < 1,
            ),
            (
                "notification.webhooks.max_endpoints_per_member",
                w.max_endpoints_per_member == 0,
            ),
            ("notification.webhooks.max_in_flight", w.max_in_flight == 0),
            ("notification.webhooks.batch_size", w.batch_size == 0),
        ] {
            if zero {
                problems.push((key, "must be at least 1".into()));
            }
        }
        if let Some(fcm) = &self.fcm
            && url::Url::parse(&fcm.api_url).is_err()
        {
            problems.push((
                "notification.fcm.api_url",
                format!("`{}` is not a URL", fcm.api_url),
            ));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_unknown_keys_are_refused() {
        assert!(Settings::default().problems().is_empty());
        let s: Settings = serde_json::from_str(
            r#"{"grace":"5m","fcm":{"service_account_file":"/etc/keys/fcm.json"}}"#,
        )
        .unwrap();
        assert_eq!(s.grace.get(), Duration::from_secs(300));
        assert_eq!(s.fcm.unwrap().api_url, "https://fcm.googleapis.com");
        let err = serde_json::from_str::<Settings>(r#"{"graze":"5m"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `graze`"), "{err}");
        let bad = Settings {
            vapid_subject: "admin".into(),
            ..Settings::default()
        };
        assert_eq!(bad.problems()[0].0, "notification.vapid_subject");
        let no_devices = Settings {
            max_subscriptions_per_member: 0,
            ..Settings::default()
        };
        assert_eq!(
            no_devices.problems()[0].0,
            "notification.max_subscriptions_per_member"
        );
    }
}
