//! The task context: members (a local projection), tasks and their dependency graph, schedules and their
//! state machine, and weekly statistics. Publishes schedule and task events; serves gRPC
//! `pinit.schedule.ScheduleGrpcService`.

pub mod domain;

use axum::Router;
use pinit_kernel::config::ConnectionUrl;
use pinit_kernel::{ErrorStyle, MigrationSet};
use serde::{Deserialize, Serialize};

/// The context's name: its database owner tag, log field and metrics label.
pub const NAME: &str = "task";

pub const ERROR_STYLE: ErrorStyle = ErrorStyle::Full;

/// The schema of the task database, in order.
pub const MIGRATIONS: &[&MigrationSet] = &[];

/// `[task]` settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The task database. Default in `pinit serve`: `<data_dir>/task.db`; required otherwise.
    pub database_url: Option<ConnectionUrl>,
    /// The gRPC port of `pinit task` (on the same host as HTTP). `pinit serve` picks a free loopback port.
    pub grpc_port: u16,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: None,
            grpc_port: 9090,
        }
    }
}

/// The task HTTP routes (health is added by the kernel).
pub fn routes() -> Router {
    Router::new()
}
