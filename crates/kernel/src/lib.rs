//! The shared kernel every Pinit context stands on.
//!
//! Nothing here knows about tasks, members or pushes: it is the plumbing that is the same for every
//! service — configuration value types, the one error type and its HTTP body, the database layer that
//! speaks SQLite and PostgreSQL, the clock, telemetry, health, metrics and the shutdown lifecycle.

pub mod allocator;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod extract;
pub mod health;
pub mod http;
pub mod jwt;
pub mod keyfile;
pub mod lifecycle;
pub mod metrics;
pub mod telemetry;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use db::{Backend, Db, DbError, MigrationSet};
pub use error::{ApiError, ErrorStyle, FieldError};
pub use health::Readiness;
pub use lifecycle::{Lifecycle, Phase};
