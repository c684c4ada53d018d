//! The notification context: push subscriptions (Web Push and FCM), the upcoming notification of each
//! schedule, and the dispatcher that sends it at the schedule's start — only if not started, exactly once.

pub mod vapid;

use axum::Router;
use pinit_kernel::config::ConnectionUrl;
use pinit_kernel::{ErrorStyle, MigrationSet};
use serde::{Deserialize, Serialize};

/// The context's name: its database owner tag, log field and metrics label.
pub const NAME: &str = "notification";

pub const ERROR_STYLE: ErrorStyle = ErrorStyle::Full;

/// The schema of the notification database, in order.
pub const MIGRATIONS: &[&MigrationSet] = &[];

/// `[notification]` settings.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The notification database. Default in `pinit serve`: `<data_dir>/notification.db`; required otherwise.
    pub database_url: Option<ConnectionUrl>,
    /// The task service's gRPC endpoint, e.g. `http://task:9090`. Set automatically in `pinit serve`.
    pub task_grpc_url: Option<String>,
}

/// The notification HTTP routes (health is added by the kernel).
pub fn routes() -> Router {
    Router::new()
}
