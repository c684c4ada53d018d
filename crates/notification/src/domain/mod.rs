//! The notification context's rules as pure code: no database, no HTTP, no clock, no async.
//!
//! * [`subscription`] — what a device may subscribe with: device ids, FCM tokens, Web Push subscriptions.
//! * [`endpoint`] — which Web Push endpoints the server may call (the SSRF rule).
//! * [`message`] — what a push carries (the reference client's four fields), its topic and title bound.
//! * [`schedule`] — what this context knows of a schedule (the task service owns them).
//! * [`reminder`] — a schedule's reminders: offsets from its start, slots, snoozes and the keys devices see.
//! * [`arming`] — how schedule events arm, move and disarm a schedule's pending notifications (one per
//!   reminder slot), and the per-schedule watermark that makes late or repeated events change nothing.
//! * [`quiet`] — a member's quiet hours: hold or drop what falls due inside them.
//! * [`webhook`] — members' webhook endpoints: event types, secrets and signatures (Standard Webhooks),
//!   validation, retries and when an endpoint is disabled.
//! * [`delivery`] — what the dispatcher decides about a claimed notification (catch-up, re-check, devices,
//!   retries) and how its outcome follows from the devices' results.
//!
//! Operations take the current instant as an argument (`now`, from the injected clock, to the microsecond the
//! database keeps) and return decisions; the app layer and the dispatcher carry them out.

pub mod arming;
pub mod delivery;
pub mod endpoint;
pub mod message;
pub mod quiet;
pub mod reminder;
pub mod schedule;
pub mod subscription;
pub mod webhook;

#[cfg(test)]
mod proptests;

use pinit_kernel::id_type;

pub use pinit_kernel::clock::{earlier, later, micros, truncate_to_micros};

pub use arming::{
    Applied, Arm, Arming, Decision, Lookup, ScheduleChange, ScheduleEvent, Upcoming, Watermark,
};
pub use delivery::{
    Check, Confirmed, Delivery, DeliveryStatus, Device, Due, Outcome, OutcomeRecord, Plan,
    SendOutcome, SendResults,
};
pub use endpoint::{EndpointError, EndpointPolicy};
pub use message::{PushMessage, format_start_time};
pub use quiet::{QuietHours, QuietHoursInput, QuietMode, QuietVerdict};
pub use reminder::{Offset, ReminderKey, Slot};
pub use schedule::{ScheduleBasics, ScheduleKey, ScheduleSnapshot, ScheduleState};
pub use subscription::{
    DeviceId, PushKind, PushTarget, Subscription, SubscriptionUse, WebPushSubscription, over_cap,
};

id_type!(
    /// A member id (the auth account id; a schedule's owner).
    MemberId
);
id_type!(
    /// A schedule id (the task service's).
    ScheduleId
);
id_type!(
    /// A stored push subscription.
    SubscriptionId
);

/// A notification's key: the id of the event that armed it. It travels to devices as `idempotentKey`, the
/// same on every send of that notification, and keys its delivery records and outcome.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NotificationKey(String);

impl NotificationKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for NotificationKey {
    fn from(key: &str) -> Self {
        Self(key.to_string())
    }
}

impl From<String> for NotificationKey {
    fn from(key: String) -> Self {
        Self(key)
    }
}

impl std::fmt::Display for NotificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One rejected input field.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub field: &'static str,
    pub value: serde_json::Value,
    pub reason: String,
    /// A stable code of the reason (`QUIET_EMPTY`, `URL_NOT_HTTPS`, …) where a member typed the value, so a
    /// client can word it in the member's language; none for what only a client program sends.
    pub code: Option<&'static str>,
}

impl Invalid {
    pub fn new(
        field: &'static str,
        value: impl Into<serde_json::Value>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            field,
            value: value.into(),
            reason: reason.into(),
            code: None,
        }
    }

    /// The same refusal with its stable code.
    pub fn coded(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }
}
