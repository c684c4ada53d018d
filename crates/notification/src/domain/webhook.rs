//! Webhooks: a member's HTTPS endpoints that receive their schedule, task and reminder events, signed as the
//! [Standard Webhooks](https://www.standardwebhooks.com/) specification says (docs/adr/0019-webhooks.md).
//!
//! * [`EventType`] — the event types an endpoint subscribes to, and which published event each comes from
//!   ([`EventType::of_event`]).
//! * [`Secret`] — `whsec_` + base64 of 32 random bytes; [`sign`] is the `webhook-signature` over
//!   `{webhook-id}.{webhook-timestamp}.{body}` (HMAC-SHA256 with the decoded key, `v1,<base64>`).
//! * [`EndpointInput::validate`] — the URL (the SSRF rule, ≤ [`MAX_URL_LEN`]), the event names, the description.
//! * [`Attempt`] and [`settle`] — what one delivery attempt's answer means: delivered; retried with exponential
//!   backoff and jitter (`Retry-After` honoured when longer) until [`RetryRule::window`] after the event;
//!   given up; `410 Gone` disables the endpoint; [`RetryRule::disable_after`] given-up deliveries in a row
//!   disable it too.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use jiff::Timestamp;

use super::endpoint::EndpointPolicy;
use super::{Invalid, MemberId, later};

/// Endpoints a member may have.
pub const MAX_ENDPOINTS_PER_MEMBER: usize = 10;
/// Longest endpoint URL (characters).
pub const MAX_URL_LEN: usize = 2000;
/// Longest description (characters).
pub const MAX_DESCRIPTION_CHARS: usize = 200;
/// Longest response excerpt kept per delivery (characters).
pub const MAX_RESPONSE_CHARS: usize = 500;
/// The prefix of a secret (Standard Webhooks).
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes of a secret's key (Standard Webhooks: 24 to 64).
pub const SECRET_BYTES: usize = 32;

/// What an endpoint can subscribe to: the `type` of the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    ScheduleCreated,
    ScheduleUpdated,
    ScheduleStarted,
    SchedulePaused,
    ScheduleCompleted,
    ScheduleCancelled,
    ScheduleDeleted,
    TaskCreated,
    TaskCompleted,
    ReminderSent,
    /// `POST /v0/webhooks/{id}/test`: sent to that endpoint only, whatever it subscribes to.
    Test,
}

impl EventType {
    /// Every type an endpoint may subscribe to (not [`EventType::Test`]), in documentation order.
    pub const SUBSCRIBABLE: [EventType; 10] = [
        EventType::ScheduleCreated,
        EventType::ScheduleUpdated,
        EventType::ScheduleStarted,
        EventType::SchedulePaused,
        EventType::ScheduleCompleted,
        EventType::ScheduleCancelled,
        EventType::ScheduleDeleted,
        EventType::TaskCreated,
        EventType::TaskCompleted,
        EventType::ReminderSent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ScheduleCreated => "schedule.created",
            EventType::ScheduleUpdated => "schedule.updated",
            EventType::ScheduleStarted => "schedule.started",
            EventType::SchedulePaused => "schedule.paused",
            EventType::ScheduleCompleted => "schedule.completed",
            EventType::ScheduleCancelled => "schedule.cancelled",
            EventType::ScheduleDeleted => "schedule.deleted",
            EventType::TaskCreated => "task.created",
            EventType::TaskCompleted => "task.completed",
            EventType::ReminderSent => "reminder.sent",
            EventType::Test => "webhook.test",
        }
    }

    /// A subscribable type by name.
    pub fn parse(name: &str) -> Option<EventType> {
        Self::SUBSCRIBABLE.into_iter().find(|t| t.as_str() == name)
    }

    /// Any type by name, [`EventType::Test`] too (a stored delivery's).
    pub fn parse_any(name: &str) -> Option<EventType> {
        Self::parse(name).or((name == EventType::Test.as_str()).then_some(EventType::Test))
    }

    /// The webhook type of a published event: its routing key, and the aggregate version it carries (a
    /// `schedule.time.upcoming.updated` of version 1 is the schedule's creation, a later one an update of its
    /// time or reminders). `None`: not a webhook event.
    pub fn of_event(routing_key: &str, version: Option<i64>) -> Option<EventType> {
        use pinit_contracts::events::routing_key as rk;
        Some(match routing_key {
            rk::SCHEDULE_TIME_UPCOMING_UPDATED if version == Some(1) => EventType::ScheduleCreated,
            rk::SCHEDULE_TIME_UPCOMING_UPDATED | rk::SCHEDULE_DETAILS_UPDATED => {
                EventType::ScheduleUpdated
            }
            rk::SCHEDULE_STATE_STARTED => EventType::ScheduleStarted,
            rk::SCHEDULE_STATE_SUSPENDED => EventType::SchedulePaused,
            rk::SCHEDULE_STATE_COMPLETED => EventType::ScheduleCompleted,
            rk::SCHEDULE_STATE_CANCELED => EventType::ScheduleCancelled,
            rk::SCHEDULE_DELETED => EventType::ScheduleDeleted,
            rk::TASK_CREATED => EventType::TaskCreated,
            rk::TASK_COMPLETED => EventType::TaskCompleted,
            _ => return None,
        })
    }
}

/// The list of types an endpoint subscribes to, stored as their names joined by commas.
pub fn join_types(types: &[EventType]) -> String {
    types
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The stored list back (`None` when a name is unknown: a corrupt row).
pub fn split_types(text: &str) -> Option<Vec<EventType>> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(EventType::parse)
        .collect()
}

/// An endpoint's signing secret: `whsec_` + base64 of its key.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    /// A new random secret.
    pub fn generate() -> Self {
        let key: [u8; SECRET_BYTES] = rand::random();
        Self(format!("{SECRET_PREFIX}{}", B64.encode(key)))
    }

    /// A stored secret.
    pub fn stored(text: String) -> Self {
        Self(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The HMAC key: the base64 part decoded (`None` for a stored secret that is not `whsec_` + base64).
    pub fn key(&self) -> Option<Vec<u8>> {
        B64.decode(self.0.strip_prefix(SECRET_PREFIX)?).ok()
    }
}

/// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`: the `webhook-signature` header.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(id.as_bytes());
    ctx.update(b".");
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body.as_bytes());
    format!("v1,{}", B64.encode(ctx.sign().as_ref()))
}

/// The body sent: `{"type", "timestamp", "data"}` (Standard Webhooks), `timestamp` the event's instant.
pub fn payload(kind: EventType, occurred_at: Timestamp, data: &serde_json::Value) -> String {
    serde_json::json!({
        "type": kind.as_str(),
        "timestamp": occurred_at.to_string(),
        "data": data,
    })
    .to_string()
}

/// A stored endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: i64,
    pub member_id: MemberId,
    pub url: String,
    pub events: Vec<EventType>,
    pub description: String,
    pub secret: Secret,
    /// Deliveries given up in a row.
    pub failures: i64,
    pub disabled_at: Option<Timestamp>,
    pub disabled_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Endpoint {
    pub fn enabled(&self) -> bool {
        self.disabled_at.is_none()
    }

    /// Whether it receives events of `kind` now.
    pub fn receives(&self, kind: EventType) -> bool {
        self.enabled() && self.events.contains(&kind)
    }
}

/// One event for one endpoint, about to be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The `webhook-id`: the event's stable id.
    pub event_id: String,
    pub event_type: EventType,
    /// What deliveries are ordered within: `schedule:42`, `task:3`.
    pub subject: String,
    /// The order within the subject (the aggregate version; 0 when unknown).
    pub position: i64,
    /// The body, as sent.
    pub payload: String,
}

/// A stored delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: i64,
    pub endpoint_id: i64,
    pub event_id: String,
    pub event_type: EventType,
    pub subject: String,
    pub payload: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: Option<Timestamp>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// What a create or update asks for (absent fields of an update stay as they are).
#[derive(Debug, Clone, Default)]
pub struct EndpointInput {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
}

/// A checked [`EndpointInput`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointFields {
    pub url: Option<String>,
    pub events: Option<Vec<EventType>>,
    pub description: Option<String>,
}

impl EndpointInput {
    /// Checks every given field (all are required when `creating`); every problem is named by its field.
    pub fn validate(
        self,
        policy: &EndpointPolicy,
        creating: bool,
    ) -> Result<EndpointFields, Vec<Invalid>> {
        let mut problems = Vec::new();
        let url = match self.url {
            Some(url) => {
                let url = url.trim().to_string();
                match policy.url.check(&url, MAX_URL_LEN) {
                    Ok(_) => Some(url),
                    Err(e) => {
                        let value = truncate_value(&url);
                        problems.push(
                            Invalid::new("url", value, format!("the URL {e}")).coded(e.code()),
                        );
                        None
                    }
                }
            }
            None if creating => {
                problems.push(
                    Invalid::new("url", serde_json::Value::Null, "is required")
                        .coded("URL_REQUIRED"),
                );
                None
            }
            None => None,
        };
        let events = match self.events {
            Some(names) => match event_types(&names) {
                Ok(types) => Some(types),
                Err(problem) => {
                    problems.push(problem);
                    None
                }
            },
            None if creating => {
                let reason = "is required: a list of event types";
                problems.push(
                    Invalid::new("events", serde_json::Value::Null, reason)
                        .coded("EVENTS_REQUIRED"),
                );
                None
            }
            None => None,
        };
        let description = self.description.map(|d| d.trim().to_string());
        if let Some(d) = &description
            && d.chars().count() > MAX_DESCRIPTION_CHARS
        {
            let reason = format!("is longer than {MAX_DESCRIPTION_CHARS} characters");
            problems.push(
                Invalid::new("description", truncate_value(d), reason)
                    .coded("WEBHOOK_DESCRIPTION_LENGTH"),
            );
        }
        if problems.is_empty() {
            Ok(EndpointFields {
                url,
                events,
                description,
            })
        } else {
            Err(problems)
        }
    }
}

fn truncate_value(text: &str) -> serde_json::Value {
    serde_json::Value::from(pinit_kernel::text::truncate(text, 200))
}

/// The event types named, de-duplicated in documentation order; at least one, each known (the unknown ones are
/// named in the problem).
fn event_types(names: &[String]) -> Result<Vec<EventType>, Invalid> {
    let unknown: Vec<&str> = names
        .iter()
        .map(|n| n.trim())
        .filter(|n| EventType::parse(n).is_none())
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = EventType::SUBSCRIBABLE.iter().map(|t| t.as_str()).collect();
        return Err(Invalid::new(
            "events",
            serde_json::json!(names),
            format!(
                "unknown event type(s): {} (known: {})",
                unknown.join(", "),
                known.join(", ")
            ),
        )
        .coded("EVENTS_UNKNOWN"));
    }
    let types: Vec<EventType> = EventType::SUBSCRIBABLE
        .into_iter()
        .filter(|t| names.iter().any(|n| n.trim() == t.as_str()))
        .collect();
    if types.is_empty() {
        return Err(Invalid::new(
            "events",
            serde_json::json!(names),
            "must name at least one event type",
        )
        .coded("EVENTS_REQUIRED"));
    }
    Ok(types)
}

/// Why an endpoint was disabled, as the member reads it: the member did it…
pub const DISABLED_BY_MEMBER: &str = "disabled by you";
/// …it answered 410…
pub const ANSWERED_GONE: &str = "the endpoint answered 410 Gone";
/// …or `{n} deliveries in a row failed (the last: …)`.
pub const FAILED_IN_A_ROW: &str = "deliveries in a row failed";

/// The stable code of a disabled endpoint's reason (`disabledCode`): `BY_MEMBER`, `GONE` or `FAILURES`, so a
/// client words it in the member's language. The reasons are the texts above, written only in this module.
pub fn disabled_code(reason: &str) -> &'static str {
    if reason == DISABLED_BY_MEMBER {
        "BY_MEMBER"
    } else if reason.starts_with(ANSWERED_GONE) {
        "GONE"
    } else {
        "FAILURES"
    }
}

/// How deliveries are retried and when an endpoint is disabled (`[notification.webhooks]`).
#[derive(Debug, Clone, Copy)]
pub struct RetryRule {
    /// Retries stop this long after the delivery was queued (about a day).
    pub window: Duration,
    /// Given-up deliveries in a row (no success in between) that disable an endpoint.
    pub disable_after: i64,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// A 2xx answer.
    Delivered { status: u16 },
    /// `410 Gone`: the receiver asks never to be called again.
    Gone,
    /// Any other answer, a timeout or a connection failure: retried. `retry_after` from the receiver.
    Failed {
        status: Option<u16>,
        retry_after: Option<Duration>,
        error: String,
    },
    /// Retrying cannot help (the SSRF guard refused the address, the endpoint's secret is unusable).
    Refused { error: String },
}

impl Attempt {
    /// The answer to an HTTP status.
    pub fn of_status(status: u16, retry_after: Option<Duration>, body: &str) -> Attempt {
        match status {
            200..=299 => Attempt::Delivered { status },
            410 => Attempt::Gone,
            _ => Attempt::Failed {
                status: Some(status),
                retry_after,
                error: format!(
                    "HTTP {status}: {}",
                    pinit_kernel::text::truncate(body.trim(), MAX_RESPONSE_CHARS)
                ),
            },
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Attempt::Delivered { status } => Some(*status),
            Attempt::Gone => Some(410),
            Attempt::Failed { status, .. } => *status,
            Attempt::Refused { .. } => None,
        }
    }

    /// The metric label.
    pub fn label(&self) -> &'static str {
        match self {
            Attempt::Delivered { .. } => "delivered",
            Attempt::Gone => "gone",
            Attempt::Failed { .. } => "failed",
            Attempt::Refused { .. } => "refused",
        }
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for its (next) attempt.
    Pending,
    Delivered,
    /// Given up: retries exhausted, refused, or its endpoint was disabled.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// What becomes of a delivery after an attempt, and of its endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub state: DeliveryState,
    /// The next attempt (pending only).
    pub next_attempt_at: Option<Timestamp>,
    pub error: Option<String>,
    pub endpoint: EndpointChange,
}

/// What an attempt does to its endpoint's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointChange {
    /// A success: the count of failures in a row goes back to 0.
    Succeeded,
    /// Nothing (a retry is pending).
    None,
    /// One more delivery given up; disables the endpoint with this reason when it reaches the limit.
    GaveUp { disable_reason: String },
    /// Disable it now.
    Disable { reason: String },
}

/// Settles attempt number `attempts` (1 = the first) of a delivery queued at `queued_at`, made at `now`.
/// `backoff(n)` is the wait after the `n`-th failed attempt (with jitter).
pub fn settle(
    attempt: &Attempt,
    attempts: u32,
    queued_at: Timestamp,
    now: Timestamp,
    rule: &RetryRule,
    backoff: &dyn Fn(u32) -> Duration,
) -> Settled {
    let failed = |error: String, endpoint| Settled {
        state: DeliveryState::Failed,
        next_attempt_at: None,
        error: Some(error),
        endpoint,
    };
    let gave_up = |why: &str| EndpointChange::GaveUp {
        disable_reason: format!("{} {FAILED_IN_A_ROW} (the last: {why})", rule.disable_after),
    };
    match attempt {
        Attempt::Delivered { .. } => Settled {
            state: DeliveryState::Delivered,
            next_attempt_at: None,
            error: None,
            endpoint: EndpointChange::Succeeded,
        },
        Attempt::Gone => {
            let reason = ANSWERED_GONE.to_string();
            failed(
                reason.clone(),
                EndpointChange::Disable {
                    reason: format!("{reason}: it asked not to be called again"),
                },
            )
        }
        Attempt::Refused { error } => failed(error.clone(), gave_up(error)),
        Attempt::Failed {
            retry_after, error, ..
        } => {
            let wait = backoff(attempts);
            let wait = retry_after.map_or(wait, |after| after.max(wait));
            let next = later(now, wait);
            if next <= later(queued_at, rule.window) {
                Settled {
                    state: DeliveryState::Pending,
                    next_attempt_at: Some(next),
                    error: Some(error.clone()),
                    endpoint: EndpointChange::None,
                }
            } else {
                let error = format!("{error}; gave up after {attempts} attempts");
                failed(error.clone(), gave_up(&error))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn the_signature_is_the_standard_webhooks_one() {
        let secret = Secret::stored("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(
                &secret.key().unwrap(),
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                body
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let fresh = Secret::generate();
        assert!(fresh.expose().starts_with("whsec_"));
        assert_eq!(fresh.key().unwrap().len(), SECRET_BYTES);
        assert_eq!(format!("{fresh:?}"), "Secret(…)");
    }

    #[test]
    fn published_events_map_to_webhook_types() {
        let up = pinit_contracts::events::routing_key::SCHEDULE_TIME_UPCOMING_UPDATED;
        assert_eq!(
            EventType::of_event(up, Some(1)),
            Some(EventType::ScheduleCreated)
        );
        assert_eq!(
            EventType::of_event(up, Some(2)),
            Some(EventType::ScheduleUpdated)
        );
        assert_eq!(
            EventType::of_event("schedule.details.updated", Some(3)),
            Some(EventType::ScheduleUpdated),
            "a title, description or type change"
        );
        assert_eq!(
            EventType::of_event("schedule.state.suspended", Some(4)),
            Some(EventType::SchedulePaused)
        );
        assert_eq!(EventType::of_event("task.canceled", Some(2)), None);
        assert_eq!(EventType::of_event("member.created", None), None);
        for t in EventType::SUBSCRIBABLE {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(EventType::parse("webhook.test"), None);
        let all = EventType::SUBSCRIBABLE.to_vec();
        assert_eq!(split_types(&join_types(&all)), Some(all));
    }

    #[test]
    fn validation_names_each_field_and_the_unknown_events() {
        let strict = EndpointPolicy::strict();
        let input = EndpointInput {
            url: Some("http://10.0.0.1/hook".into()),
            events: Some(vec!["schedule.created".into(), "schedule.exploded".into()]),
            description: Some("x".repeat(MAX_DESCRIPTION_CHARS + 1)),
        };
        let problems = input.validate(&strict, true).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field).collect();
        assert_eq!(fields, ["url", "events", "description"]);
        assert!(
            problems[1].reason.contains("schedule.exploded"),
            "{problems:?}"
        );
        let private = EndpointInput {
            url: Some("https://10.0.0.1/hook".into()),
            events: Some(vec!["task.created".into()]),
            description: None,
        };
        let problems = private.clone().validate(&strict, true).unwrap_err();
        assert!(
            problems[0].reason.contains("public address"),
            "{problems:?}"
        );
        assert!(private.validate(&EndpointPolicy::insecure(), true).is_ok());
        let missing = EndpointInput::default()
            .validate(&strict, true)
            .unwrap_err();
        assert_eq!(missing.len(), 2);
        assert!(EndpointInput::default().validate(&strict, false).is_ok());
        let empty = EndpointInput {
            events: Some(vec![]),
            ..EndpointInput::default()
        };
        assert_eq!(
            empty.validate(&strict, false).unwrap_err()[0].field,
            "events"
        );
        let long = EndpointInput {
            url: Some(format!("https://a.example/{}", "x".repeat(MAX_URL_LEN))),
            ..EndpointInput::default()
        };
        assert!(
            long.validate(&strict, false).unwrap_err()[0]
                .reason
                .contains("longer than 2000")
        );
        let dupes = EndpointInput {
            events: Some(vec![
                "task.created".into(),
                "schedule.created".into(),
                "task.created".into(),
            ]),
            ..EndpointInput::default()
        };
        assert_eq!(
            dupes.validate(&strict, false).unwrap().events.unwrap(),
            [EventType::ScheduleCreated, EventType::TaskCreated]
        );
    }

    #[test]
    fn failures_are_retried_with_backoff_until_the_window_ends() {
        let rule = RetryRule {
            window: Duration::from_secs(24 * 3600),
            disable_after: 5,
        };
        let queued = at("2026-02-08T00:00:00Z");
        let backoff = |n: u32| Duration::from_secs(60 * u64::from(n));
        let failed = |retry_after| Attempt::Failed {
            status: Some(503),
            retry_after,
            error: "HTTP 503".into(),
        };
        let s = settle(&failed(None), 1, queued, queued, &rule, &backoff);
        assert_eq!(s.state, DeliveryState::Pending);
        assert_eq!(s.next_attempt_at, Some(at("2026-02-08T00:01:00Z")));
        assert_eq!(s.endpoint, EndpointChange::None);
        // Retry-After wins when longer, not when shorter.
        let s = settle(
            &failed(Some(Duration::from_secs(600))),
            1,
            queued,
            queued,
            &rule,
            &backoff,
        );
        assert_eq!(s.next_attempt_at, Some(at("2026-02-08T00:10:00Z")));
        let s = settle(
            &failed(Some(Duration::from_secs(1))),
            2,
            queued,
            queued,
            &rule,
            &backoff,
        );
        assert_eq!(s.next_attempt_at, Some(at("2026-02-08T00:02:00Z")));
        // Past the window: given up, counted toward disabling.
        let late = at("2026-02-08T23:59:30Z");
        let s = settle(&failed(None), 9, queued, late, &rule, &backoff);
        assert_eq!(s.state, DeliveryState::Failed);
        assert!(matches!(s.endpoint, EndpointChange::GaveUp { .. }));
        assert!(s.error.unwrap().contains("gave up after 9 attempts"));
        // 410 disables at once; a success resets.
        let s = settle(&Attempt::Gone, 1, queued, queued, &rule, &backoff);
        assert!(
            matches!(s.endpoint, EndpointChange::Disable { ref reason } if reason.contains("410"))
        );
        let s = settle(
            &Attempt::Delivered { status: 204 },
            3,
            queued,
            queued,
            &rule,
            &backoff,
        );
        assert_eq!(s.state, DeliveryState::Delivered);
        assert_eq!(s.endpoint, EndpointChange::Succeeded);
    }

    #[test]
    fn answers_are_classified() {
        assert_eq!(
            Attempt::of_status(200, None, ""),
            Attempt::Delivered { status: 200 }
        );
        assert_eq!(Attempt::of_status(410, None, ""), Attempt::Gone);
        let long = "y".repeat(10_000);
        match Attempt::of_status(400, None, &long) {
            Attempt::Failed { status, error, .. } => {
                assert_eq!(status, Some(400));
                assert!(error.chars().count() < MAX_RESPONSE_CHARS + 20, "{error}");
            }
            other => panic!("{other:?}"),
        }
    }
}
