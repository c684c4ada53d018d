//! The notification context: push subscriptions (Web Push and FCM), the pending notification of each
//! schedule, and the dispatcher that sends it at the schedule's start — only if not started, exactly once.
//!
//! * [`domain`] — the rules as pure code: subscriptions, the endpoint rule, push messages, arming (which
//!   schedule events arm, move or disarm a notification) and delivery (catch-up, re-check, retries, outcomes).
//! * [`app`] — the use cases ([`Notifications`]): subscribe/unsubscribe, applying a schedule event,
//!   housekeeping.
//! * [`inbound`] — the five schedule-event consumers (inbox handlers and their subscriptions), and the webhook
//!   consumer.
//! * [`dispatch`] — the [`Dispatcher`] loop: wake, claim, ask the domain, send, record; and the
//!   [`WebhookDispatcher`] (members' webhook endpoints, Standard Webhooks).
//! * [`directory`] — schedule look-ups in the task service ([`ScheduleDirectory`], over gRPC).
//! * [`push`] — Web Push (RFC 8291 encryption, RFC 8292 VAPID) and FCM HTTP v1 senders, the connect-time
//!   address guard.
//! * [`store`] — the SQL, once for SQLite and PostgreSQL, one module per table. [`http`] — the `/v0/push`
//!   routes.
//!
//! See `docs/adr/0007-notifications.md` and `docs/notifications.md`.

pub mod app;
pub mod directory;
pub mod dispatch;
pub mod domain;
pub mod erasure;
pub mod http;
pub mod inbound;
pub mod push;
pub mod settings;
pub mod store;
pub mod vapid;

use pinit_kernel::{ErrorStyle, MigrationSet};
use sqlx::migrate::Migrator;

pub use app::{NotificationError, Notifications};
pub use directory::{DirectoryError, GrpcScheduleDirectory, ScheduleDirectory};
pub use dispatch::webhooks::{WebhookDispatcher, WebhookRound};
pub use dispatch::{Dispatcher, RoundReport};
pub use domain::{
    Applied, EndpointPolicy, MemberId, ScheduleBasics, ScheduleChange, ScheduleId, ScheduleKey,
    ScheduleSnapshot,
};
pub use http::routes;
pub use inbound::{ScheduleEventHandler, WebhookEventHandler};
pub use push::Pusher;
pub use settings::{FcmSettings, Settings};

/// The context's name: its database owner tag, log field and metrics label.
pub const NAME: &str = "notification";

/// Task and notification answer errors in the reference's full `ErrorResponse` shape.
pub const ERROR_STYLE: ErrorStyle = ErrorStyle::Full;

static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");
static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");

/// Subscriptions, upcoming notifications, schedule watermarks, deliveries, outcomes.
pub static SCHEMA: MigrationSet = MigrationSet {
    name: "notification",
    postgres: &POSTGRES,
    sqlite: &SQLITE,
};

/// The schema of the notification database, in order: the context's tables, then the inbox its consumers use.
pub const MIGRATIONS: &[&MigrationSet] = &[&SCHEMA, &pinit_messaging::INBOX_MIGRATIONS];
