//! The auth context: accounts, password hashes, OAuth links, refresh-token families and signing keys.
//! It publishes `member.created`; nothing else of it is visible to the other contexts.
//!
//! * [`domain`] — what a username, password, nickname or zone may be (pure rules).
//! * [`app`] — the use cases: signup, login, refresh (rotation, reuse detection), logout, OAuth login.
//! * [`store`] — the SQL, once for SQLite and PostgreSQL.
//! * [`http`] — the `/v0` routes and the JWKS.
//! * [`password`], [`tokens`], [`keys`], [`oauth`] — hashing, token issuing, key files, provider clients.

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
