//! Rate limiting's arithmetic (docs/adr/0005, "Rate limits"): which bucket an attempt counts in, the fixed
//! window it falls into, when a count refuses, and the `Retry-After` of a refusal. Window starts are the
//! microseconds the `rate_limit` table is keyed by.

use std::time::Duration;

use jiff::Timestamp;

/// What an attempt is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket<'a> {
    /// Signups from a client IP.
    SignupPerIp(&'a str),
    /// Login attempts (password or OAuth callback) from a client IP.
    LoginPerIp(&'a str),
    /// Failed logins of a username.
    LoginFailures(&'a str),
    /// Refreshes from a client IP.
    RefreshPerIp(&'a str),
    /// Failed app-password checks from a client IP (only failures: a calendar app checks its password on every
    /// sync, so counting every check would limit good clients).
    AppPasswordFailuresPerIp(&'a str),
    /// Failed app-password checks of a username (then that username's app passwords are refused until the
    /// window ends; its account login is counted apart).
    AppPasswordFailures(&'a str),
}

impl Bucket<'_> {
    /// The bucket's key in the `rate_limit` table.
    pub fn key(&self) -> String {
        match self {
            Bucket::SignupPerIp(ip) => format!("signup:ip:{ip}"),
            Bucket::LoginPerIp(ip) => format!("login:ip:{ip}"),
            Bucket::LoginFailures(username) => format!("login:user:{username}"),
            Bucket::RefreshPerIp(ip) => format!("refresh:ip:{ip}"),
            Bucket::AppPasswordFailuresPerIp(ip) => format!("app:ip:{ip}"),
            Bucket::AppPasswordFailures(username) => format!("app:user:{username}"),
        }
    }
}

/// The fixed window `now` falls into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Its start: a multiple of its length, in microseconds since the epoch.
    pub start_us: i64,
    /// Microseconds from `now` to its end (at least 1).
    pub remaining_us: i64,
}

impl Window {
    /// The window of `length` (1 minute if it does not fit in microseconds, at least 1 µs) holding `now`.
    pub fn at(now: Timestamp, length: Duration) -> Self {
        let length = i64::try_from(length.as_micros())
            .unwrap_or(60_000_000)
            .max(1);
        let now = now.as_microsecond();
        let start_us = now - now.rem_euclid(length);
        Self {
            start_us,
            remaining_us: start_us + length - now,
        }
    }

    /// Whether an attempt is refused when the window already holds `before` attempts and allows `limit`.
    pub fn refuses(before: i64, limit: u32) -> bool {
        before >= i64::from(limit)
    }

    /// `Retry-After` for a refusal: whole seconds to the window's end, rounded up, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        u64::try_from((self.remaining_us + 999_999) / 1_000_000)
            .unwrap_or(1)
            .max(1)
    }
}

/// Windows starting before this (microseconds) can no longer count: two window lengths before `now`.
pub fn stale_before(now: Timestamp, length: Duration) -> i64 {
    let length = i64::try_from(length.as_micros()).unwrap_or(0);
    now.as_microsecond() - 2 * length
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn at_us(us: i64) -> Timestamp {
        Timestamp::from_microsecond(us).unwrap()
    }

    #[test]
    fn buckets_have_stable_keys() {
        assert_eq!(Bucket::SignupPerIp("10.0.0.1").key(), "signup:ip:10.0.0.1");
        assert_eq!(Bucket::LoginPerIp("::1").key(), "login:ip:::1");
        assert_eq!(Bucket::LoginFailures("alice").key(), "login:user:alice");
        assert_eq!(
            Bucket::RefreshPerIp("10.0.0.1").key(),
            "refresh:ip:10.0.0.1"
        );
        assert_eq!(
            Bucket::AppPasswordFailuresPerIp("10.0.0.1").key(),
            "app:ip:10.0.0.1"
        );
        assert_eq!(Bucket::AppPasswordFailures("alice").key(), "app:user:alice");
    }

    #[test]
    fn windows_are_fixed_multiples_of_their_length() {
        let base = 1_700_000_040_000_000; // a whole minute
        assert_eq!(
            Window::at(at_us(base), MINUTE),
            Window {
                start_us: base,
                remaining_us: 60_000_000
            }
        );
        assert_eq!(
            Window::at(at_us(base + 59_999_999), MINUTE),
            Window {
                start_us: base,
                remaining_us: 1
            }
        );
        assert_eq!(
            Window::at(at_us(base + 60_000_000), MINUTE).start_us,
            base + 60_000_000
        );
        // Before the epoch the window still starts at or before `now`.
        assert_eq!(Window::at(at_us(-1), MINUTE).start_us, -60_000_000);
        // A zero length counts as one microsecond.
        assert_eq!(Window::at(at_us(base + 5), Duration::ZERO).remaining_us, 1);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_is_at_least_one() {
        let window = |remaining_us| Window {
            start_us: 0,
            remaining_us,
        };
        assert_eq!(window(1).retry_after_secs(), 1);
        assert_eq!(window(1_000_000).retry_after_secs(), 1);
        assert_eq!(window(1_000_001).retry_after_secs(), 2);
        assert_eq!(window(60_000_000).retry_after_secs(), 60);
        assert_eq!(window(0).retry_after_secs(), 1);
    }

    #[test]
    fn a_window_refuses_once_it_holds_the_limit() {
        assert!(!Window::refuses(9, 10));
        assert!(Window::refuses(10, 10));
        assert!(Window::refuses(0, 0));
    }

    #[test]
    fn windows_older_than_two_lengths_are_stale() {
        assert_eq!(stale_before(at_us(200_000_000), MINUTE), 80_000_000);
    }
}
