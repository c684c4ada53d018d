//! The auth context: accounts, password hashes, OAuth links, refresh-token families and signing keys.
//! It publishes `member.created`; nothing else of it is visible to the other contexts.

pub mod keys;

use axum::Router;
use pinit_kernel::config::ConnectionUrl;
use pinit_kernel::{ErrorStyle, MigrationSet};
use serde::{Deserialize, Serialize};

/// The context's name: its database owner tag, log field and metrics label.
pub const NAME: &str = "auth";

/// Auth answers errors as `{"message": …}` (the reference's shape).
pub const ERROR_STYLE: ErrorStyle = ErrorStyle::MessageOnly;

/// The schema of the auth database, in order.
pub const MIGRATIONS: &[&MigrationSet] = &[];

/// `[auth]` settings.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The auth database. Default in `pinit serve`: `<data_dir>/auth.db`; required otherwise.
    pub database_url: Option<ConnectionUrl>,
}

/// The auth HTTP routes (health is added by the kernel).
pub fn routes() -> Router {
    Router::new()
}
