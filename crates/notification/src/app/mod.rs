//! The notification context's use cases: subscriptions (HTTP), applying schedule events to the pending
//! notifications, housekeeping. Each is one short transaction; the only remote call (re-arming on cancel) has a
//! deadline. Sending is the [`Dispatcher`](crate::Dispatcher)'s.
//!
//! * [`subscriptions`] — subscribe, unsubscribe, "is this device subscribed?".
//! * [`arming`] — a schedule event, applied under the schedule's watermark lock ([`crate::domain::arming`]).
//! * [`reminders`] — quiet hours, and snoozing a reminder from a device.
//! * [`housekeeping`] — pruning idle subscriptions and old records.
//! * [`webhooks`] — members' webhook endpoints, and queueing events for them.

pub mod arming;
pub mod housekeeping;
pub mod reminders;
pub mod subscriptions;
pub mod webhooks;

use std::sync::Arc;

use jiff::Timestamp;
use pinit_kernel::db::{Db, DbError, LockMode, Tx};
use pinit_kernel::{SharedClock, WakeSignal};

use crate::directory::ScheduleDirectory;
use crate::domain::{EndpointPolicy, Invalid, MemberId, truncate_to_micros};
use crate::settings::Settings;
use crate::store;
use crate::vapid::VapidKey;

pub(crate) use arming::count;
pub use arming::{ApplyError, NOTIFY_CHANNEL};
pub use reminders::Snoozed;
pub use subscriptions::{SubscribeInput, WebPushInput};
pub use webhooks::{WebhookEvent, WebhookUpdate};

/// Why a use case refused or failed. [`crate::http`] maps each to a status.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("invalid input")]
    Invalid(Vec<Invalid>),
    /// The member has no such thing (the reminder to snooze, its schedule, a webhook endpoint).
    #[error("no such {}", .0.what())]
    NotFound(Missing),
    /// The request is well formed but cannot be done now (a limit reached, a disabled endpoint), with the
    /// refusal's stable code.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The member's account was deleted (a request with an access token still valid for a few minutes): nothing
    /// of it is stored again.
    #[error("this account was deleted")]
    Erased,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What a [`NotificationError::NotFound`] did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Reminder,
    Schedule,
    Webhook,
}

impl Missing {
    pub const fn what(self) -> &'static str {
        match self {
            Self::Reminder => "reminder",
            Self::Schedule => "schedule",
            Self::Webhook => "webhook endpoint",
        }
    }

    /// The answer's stable code.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Reminder => "REMINDER_NOT_FOUND",
            Self::Schedule => "SCHEDULE_NOT_FOUND",
            Self::Webhook => "WEBHOOK_NOT_FOUND",
        }
    }
}

/// The notification context's services, shared by routes, consumers and the dispatcher. Cheap to clone.
#[derive(Clone)]
pub struct Notifications {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) db: Db,
    pub(crate) clock: SharedClock,
    pub(crate) settings: Settings,
    pub(crate) vapid: VapidKey,
    pub(crate) vapid_public: String,
    pub(crate) policy: EndpointPolicy,
    pub(crate) directory: Arc<dyn ScheduleDirectory>,
    pub(crate) signal: WakeSignal,
    /// Wakes the webhook dispatcher (a delivery queued, an endpoint re-enabled).
    pub(crate) webhook_signal: WakeSignal,
}

impl Notifications {
    /// Begins a transaction that stores something of `member`, holding the member's write lock
    /// ([`store::erased::hold`]): an erased member is [`NotificationError::Erased`].
    pub(crate) async fn begin_for(&self, member: MemberId) -> Result<Tx, NotificationError> {
        let db = &self.inner.db;
        let mut tx = db.begin().await?;
        if store::erased::hold(&mut tx, db.backend(), LockMode::Exclusive, member).await? {
            return Err(NotificationError::Erased);
        }
        Ok(tx)
    }

    /// The context's services. The Web Push endpoint policy follows `settings.allow_insecure_endpoints`.
    pub fn new(
        db: Db,
        clock: SharedClock,
        settings: Settings,
        vapid: VapidKey,
        directory: Arc<dyn ScheduleDirectory>,
    ) -> Self {
        if settings.allow_insecure_endpoints {
            tracing::warn!(
                "notification.allow_insecure_endpoints is on: Web Push endpoints may be http and private addresses (tests and local development only)"
            );
        }
        let policy = EndpointPolicy::new(settings.allow_insecure_endpoints);
        let vapid_public = vapid.public_key_base64url();
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                settings,
                vapid,
                vapid_public,
                policy,
                directory,
                signal: WakeSignal::new(),
                webhook_signal: WakeSignal::new(),
            }),
        }
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub fn policy(&self) -> EndpointPolicy {
        self.inner.policy
    }

    /// Wakes the dispatcher when a notification was armed or moved (it then looks at the database again).
    pub fn signal(&self) -> WakeSignal {
        self.inner.signal.clone()
    }

    /// The VAPID public key in the browser's format (`applicationServerKey`).
    pub fn vapid_public_key(&self) -> &str {
        &self.inner.vapid_public
    }

    /// The clock's instant to the microsecond (what the database keeps and the rules compare).
    pub(crate) fn now(&self) -> Timestamp {
        truncate_to_micros(self.inner.clock.now())
    }
}
