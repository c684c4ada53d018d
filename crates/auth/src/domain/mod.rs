//! Auth's rules as pure code: no database, no HTTP, no clock, no async. Operations take the current instant as
//! an argument (`now`, from the server clock).
//!
//! * [`input`] — what a username, password, nickname or zone may be, and a valid signup.
//! * [`member`] — member ids, a member as stored, the credentials a login checks.
//! * [`refresh`] — refresh-token families and the rotation rule: rotate, grace, reuse, expired, revoked.
//! * [`oauth_state`] — an OAuth login in flight and the checks its callback makes (expiry, provider, browser).
//! * [`limits`] — the fixed rate-limit windows: buckets, window arithmetic, `Retry-After`.
//!
//! The database keeps instants as microseconds since the epoch; the rules compare them at that precision.

pub mod input;
pub mod limits;
pub mod member;
pub mod oauth_state;
pub mod refresh;

pub use input::{
    BAD_CREDENTIALS, DUPLICATE_USERNAME, Invalid, NICKNAME_RULE, Nickname, PASSWORD_RULE, Password,
    Signup, USERNAME_RULE, Username, ZONE_RULE, ZoneId,
};
pub use limits::{Bucket, Window};
pub use member::{Credentials, Member, MemberId};
pub use oauth_state::{OAUTH_STATE_TTL, OAuthState, StateRefused};
pub use refresh::{DeadToken, FamilyId, PresentedRefresh, Revocation, Rotation};

use jiff::Timestamp;

/// `now` plus `ttl`, counted in whole microseconds as the database stores instants, saturating at the latest
/// instant there is.
pub fn expiry(now: Timestamp, ttl: std::time::Duration) -> Timestamp {
    let ttl_us = i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX);
    Timestamp::from_microsecond(now.as_microsecond().saturating_add(ttl_us))
        .unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn expiry_counts_whole_microseconds_and_saturates() {
        let now = Timestamp::from_nanosecond(1_000_000_999_999_999).unwrap();
        let at = expiry(now, Duration::from_nanos(2_999));
        assert_eq!(at.as_microsecond(), now.as_microsecond() + 2);
        assert_eq!(expiry(now, Duration::MAX), Timestamp::MAX);
    }
}
