//! The task context: members (a local projection), tasks and their dependency graph, schedules and their
//! state machine, and weekly statistics. Publishes schedule and task events; serves gRPC
//! `pinit.schedule.ScheduleGrpcService`.
//!
//! * [`dav`] — CalDAV: the member's schedules as a calendar for calendar apps (`/dav`).
//! * [`domain`] — the rules as pure code (state machine, validation, graph, time windows, paging).
//! * [`app`] — the use cases ([`TaskApp`]): one transaction each, events recorded in the outbox.
//! * [`store`] — the SQL, once for SQLite and PostgreSQL.
//! * [`http`] — the reference's `/v2` routes, the calendar feeds, and busy time from other calendars
//!   (`/v2/calendar/subscriptions`, `/v2/calendar/busy`).
//! * [`export`] — the export of a member's data (GDPR art. 20, `GET /v2/export`): one JSON document or a ZIP of
//!   CSV files, written as a stream.
//! * [`ical`] — iCalendar (RFC 5545): content lines, VTIMEZONE, schedules and series as VEVENTs, other calendars'
//!   events read as busy time.
//! * [`inbound`] — the `member.created` consumer (the events task consumes; [`app`]`::outbound` maps the ones it
//!   publishes).
//! * [`grpc`] — `pinit.schedule.ScheduleGrpcService` ([`grpc_service`]).

pub mod app;
pub mod dav;
pub mod domain;
pub mod export;
pub mod grpc;
pub mod http;
pub mod ical;
pub mod inbound;
pub mod store;

use pinit_kernel::config::{ConnectionUrl, HumanDuration};
use pinit_kernel::{ErrorStyle, MigrationSet};
use serde::{Deserialize, Serialize};
use sqlx::migrate::Migrator;

pub use app::{AppError, TaskApp};
pub use grpc::grpc_service;
pub use inbound::{
    MemberCreatedHandler, MemberDeletedHandler, member_created_inbox, member_created_subscription,
    member_deleted_inbox, member_deleted_subscription,
};

/// The context's name: its database owner tag, log field and metrics label.
pub const NAME: &str = "task";

pub const ERROR_STYLE: ErrorStyle = ErrorStyle::Full;

static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");
static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");

/// Members, tasks, dependencies, schedules, statistics.
pub static SCHEMA: MigrationSet = MigrationSet {
    name: "task",
    postgres: &POSTGRES,
    sqlite: &SQLITE,
};

/// The schema of the task database, in order: task's own tables, the outbox its events go through, the
/// inbox of its `member.created` consumer.
pub const MIGRATIONS: &[&MigrationSet] = &[
    &SCHEMA,
    &pinit_messaging::OUTBOX_MIGRATIONS,
    &pinit_messaging::INBOX_MIGRATIONS,
];

/// `[task]` settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The task database. Default in `pinit serve`: `<data_dir>/task.db`; required otherwise.
    pub database_url: Option<ConnectionUrl>,
    /// The gRPC port of `pinit task` (on the same host as HTTP). `pinit serve` picks a free loopback port.
    pub grpc_port: u16,
    /// How often subscribed calendars (busy time, docs/calendar.md#busy-time-from-other-calendars) are fetched
    /// again.
    #[serde(default = "default_calendar_refresh_interval")]
    pub calendar_refresh_interval: HumanDuration,
    /// Lets subscribed calendar URLs be `http` and on private or loopback addresses — only for tests and local
    /// development; never in production (the server would fetch wherever a member points it).
    #[serde(default)]
    pub allow_insecure_calendar_urls: bool,
}

fn default_calendar_refresh_interval() -> HumanDuration {
    HumanDuration::from_secs(15 * 60)
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: None,
            grpc_port: 9090,
            calendar_refresh_interval: default_calendar_refresh_interval(),
            allow_insecure_calendar_urls: false,
        }
    }
}

pub use http::routes;
