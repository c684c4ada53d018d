//! The messaging spine: transactional outbox, relay, idempotent inbox, and two transports behind one trait.
//!
//! * A use case records events with [`Outbox::record`] inside its transaction and commits with
//!   [`Outbox::commit`], which wakes the relay.
//! * A [`Relay`] publishes committed rows through a [`Transport`]: [`AmqpTransport`] (RabbitMQ, distributed
//!   mode) or [`InProcessBus`] (`pinit serve`).
//! * A consumer is a [`Handler`] wrapped in an [`Inbox`] (de-duplication, stale-version check, retries,
//!   dead letters), fed by an [`AmqpConsumer`] or subscribed to the [`InProcessBus`].
//!
//! A context adds [`OUTBOX_MIGRATIONS`] (if it publishes) and [`INBOX_MIGRATIONS`] (if it consumes) to its
//! own migration list. See `docs/adr/0003-messaging-outbox-inbox.md` and `docs/messaging.md`.

pub mod amqp;
pub mod config;
pub mod inbox;
pub mod inprocess;
pub mod message;
pub mod outbox;
pub mod relay;
pub mod transport;

use pinit_kernel::MigrationSet;
use sqlx::migrate::Migrator;

pub use amqp::{AmqpConsumer, AmqpError, AmqpTransport};
pub use config::{BackoffConfig, ConsumerConfig, MessagingConfig, RelayConfig};
pub use inbox::{
    BatchFailed, Binding, DeadLetter, DeliverError, Handler, HandlerError, Inbox, Outcome,
    Subscription,
};
pub use inprocess::InProcessBus;
pub use message::{AggregateRef, Channel, IncomingEvent, OutboundMessage, OutgoingEvent};
pub use outbox::{Outbox, OutboxError};
pub use relay::{Relay, Round};
pub use transport::{PublishError, Published, Transport};

static OUTBOX_PG: Migrator = sqlx::migrate!("migrations/outbox/postgres");
static OUTBOX_SQLITE: Migrator = sqlx::migrate!("migrations/outbox/sqlite");
static INBOX_PG: Migrator = sqlx::migrate!("migrations/inbox/postgres");
static INBOX_SQLITE: Migrator = sqlx::migrate!("migrations/inbox/sqlite");

/// The outbox table (`messaging_outbox`): add to the migrations of every context that publishes.
pub static OUTBOX_MIGRATIONS: MigrationSet = MigrationSet {
    name: "messaging_outbox",
    postgres: &OUTBOX_PG,
    sqlite: &OUTBOX_SQLITE,
};

/// The inbox tables (`messaging_inbox`, `messaging_inbox_aggregate`, `messaging_inbox_failure`): add to
/// the migrations of every context that consumes.
pub static INBOX_MIGRATIONS: MigrationSet = MigrationSet {
    name: "messaging_inbox",
    postgres: &INBOX_PG,
    sqlite: &INBOX_SQLITE,
};
