//! Auth's SQL, written once for SQLite and PostgreSQL (docs/adr/0002). One module per table; each reads rows by
//! column name into a `FromRow` record and gives back domain values. Instants are `BIGINT` microseconds.
//!
//! Functions take a connection (`&mut *tx` inside a use case's transaction, a pooled connection otherwise);
//! those that must run inside the use case's transaction take the [`Tx`](pinit_kernel::db::Tx) itself.
//!
//! * [`members`] — `member`: accounts, credentials, `/v0/me`.
//! * [`oauth_accounts`] — `oauth_account`: external identities linked to members.
//! * [`refresh_families`] — `refresh_family`: one login's session, revoked as a whole.
//! * [`refresh_tokens`] — `refresh_token`: every refresh token issued (digests), rotation marks.
//! * [`oauth_states`] — `oauth_state`: OAuth logins in flight, taken out once.
//! * [`rate_limits`] — `rate_limit`: fixed-window attempt counters.
//! * [`app_passwords`] — `app_password`: calendar apps' passwords (digests), last use.
//! * [`api_tokens`] — `api_token`: personal API tokens (digests), scopes, expiry, last use.
//! * [`credentials`] — what those two tables share: count, delete, last use.

pub mod api_tokens;
pub mod app_passwords;
pub mod credentials;
pub mod members;
pub mod oauth_accounts;
pub mod oauth_states;
pub mod rate_limits;
pub mod refresh_families;
pub mod refresh_tokens;

use jiff::Timestamp;
use pinit_kernel::db::DbError;

pub type Result<T> = std::result::Result<T, DbError>;

/// A stored instant (microseconds since the epoch), saturating at the instants jiff can represent (a refresh
/// lifetime configured past the year 9999 is stored as such an out-of-range value).
fn instant(us: i64) -> Timestamp {
    Timestamp::from_microsecond(us).unwrap_or(if us < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}
