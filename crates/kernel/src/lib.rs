//! The shared kernel every Pinit context stands on.
//!
//! Nothing here knows about tasks, members or pushes: it is the plumbing that is the same for every
//! service — configuration value types, the one error type and its HTTP body, the member a request is for,
//! the database layer that speaks SQLite and PostgreSQL (and its `LISTEN` loop), the clock, wake-up signals,
//! telemetry, health, metrics and the shutdown lifecycle.

pub mod allocator;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod extract;
pub mod health;
pub mod http;
pub mod identity;
pub mod jwt;
pub mod keyfile;
pub mod lifecycle;
pub mod metrics;
pub mod net;
pub mod signal;
pub mod telemetry;
pub mod text;
pub mod tls;
pub mod trace;

pub use clock::{Clock, DEFAULT_ZONE, ManualClock, SharedClock, SystemClock};
pub use db::{Backend, Db, DbError, MigrationSet};
pub use error::{ApiError, ErrorStyle, FieldError};
pub use extract::{CurrentMember, SessionMember};
pub use health::Readiness;
pub use lifecycle::{Lifecycle, Phase};
pub use signal::WakeSignal;

/// Declares an integer id newtype (`MemberId`, `ScheduleId`, …): `Copy`, ordered, hashable, `Display`,
/// converted to and from `i64` (what the database and the wire carry).
/// Declares the messages, each once, and the table of their codes: a message's code is its name
/// (`TITLE_LENGTH`), stable across languages and wordings, so a client can show its own text for it.
#[macro_export]
macro_rules! messages {
    ($($(#[$meta:meta])* $name:ident = $text:expr;)*) => {
        $($(#[$meta])* pub const $name: &str = $text;)*

        /// Every message with its code.
        pub const ALL: &[(&str, &str)] = &[$((stringify!($name), $name)),*];

        /// The code of `message`, when it is one of these.
        pub fn code_of(message: &str) -> Option<&'static str> {
            ALL.iter().find(|(_, text)| *text == message).map(|(code, _)| *code)
        }
    };
}

#[macro_export]
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub i64);

        impl $name {
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                Self(id)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}
