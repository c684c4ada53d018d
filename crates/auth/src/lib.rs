//! The auth context: accounts, password hashes, OAuth links, refresh-token families and signing keys.
//! It publishes `member.created`; nothing else of it is visible to the other contexts.
//!
//! * [`domain`] — the rules as pure code: input validation, the refresh-token rotation rule (rotate, grace,
//!   reuse, expired, revoked), OAuth state checks, rate-limit windows; the ids and values the store returns.
//! * [`app`] — the use cases on [`Auth`], one module per group: signup, session (login, refresh, logout, `me`),
//!   OAuth login, rate limits, housekeeping; `app::outbound` alone turns `member.created` into an outbox row.
//! * [`store`] — the SQL, once for SQLite and PostgreSQL, one module per table, giving back domain values.
//! * [`http`] — the `/v0` routes and the JWKS; handlers only translate.
//! * [`password`], [`tokens`], [`keys`], [`oauth`] — hashing, token issuing, key files, provider clients.
//! * [`settings`] — the `[auth]` section.

pub mod app;
pub mod domain;
pub mod http;
pub mod keys;
pub mod oauth;
pub mod password;
pub mod settings;
pub mod store;
pub mod tokens;

use pinit_kernel::{ErrorStyle, MigrationSet};
use sqlx::migrate::Migrator;

pub use app::Auth;
pub use http::routes;
pub use settings::Settings;

/// The context's name: its database owner tag, log field and metrics label.
pub const NAME: &str = "auth";

/// Auth answers errors as `{"message": …}` (the reference's shape).
pub const ERROR_STYLE: ErrorStyle = ErrorStyle::MessageOnly;

static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");
static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");

/// Members, OAuth links, refresh-token families, OAuth states, rate-limit windows.
pub static SCHEMA: MigrationSet = MigrationSet {
    name: "auth",
    postgres: &POSTGRES,
    sqlite: &SQLITE,
};

/// The schema of the auth database, in order: auth's own tables, then the outbox `member.created` goes through.
pub const MIGRATIONS: &[&MigrationSet] = &[&SCHEMA, &pinit_messaging::OUTBOX_MIGRATIONS];
