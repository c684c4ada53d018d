//! Calendar subscription feeds: read-only iCalendar documents behind an unguessable URL, one per kind, that a
//! calendar application polls (Google Calendar, Apple Calendar, Outlook: "subscribe from URL").
//!
//! * [`FeedKind`] — `planned` (the member's schedules) or `tracked` (what was worked).
//! * [`FeedToken`] — the secret in the URL: 256 random bits, base64url (43 characters). Only its SHA-256 is
//!   stored ([`FeedToken::digest`]); the URL is shown when the feed is created or rotated, never again, and a
//!   lookup hashes what was presented. A hint (its last four characters) tells feeds apart in the list.
//! * The windows: a planned feed holds schedules from [`PLANNED_PAST`] back on (every later one, and each series
//!   whole, as an RRULE); a tracked feed what was worked on schedules that started in the last
//!   [`TRACKED_PAST`].

use std::fmt;

use jiff::SignedDuration;
use sha2::{Digest, Sha256};

use pinit_kernel::id_type;

id_type!(
    /// A subscription feed's id.
    FeedId
);

/// How far back a planned feed reaches (one-off schedules and overrides; a series is written whole).
pub const PLANNED_PAST: SignedDuration = SignedDuration::from_hours(30 * 24);

/// How far back a tracked feed reaches.
pub const TRACKED_PAST: SignedDuration = SignedDuration::from_hours(90 * 24);

/// How often a reader should fetch again (RFC 7986 `REFRESH-INTERVAL`, and `X-PUBLISHED-TTL`).
pub const REFRESH_INTERVAL: SignedDuration = SignedDuration::from_mins(15);

/// At most this many feeds per member.
pub const MAX_FEEDS: usize = 20;

/// A feed's last fetch is recorded at most this often: calendar apps poll every few minutes, and a write (a
/// commit on PostgreSQL) per poll would cost more than the list's "last fetched" is worth to the minute.
pub const FETCH_RECORDED_EVERY: SignedDuration = SignedDuration::from_secs(60);

/// The octets of randomness in a token (256 bits).
pub const TOKEN_BYTES: usize = 32;

/// What a feed shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedKind {
    /// The member's schedules, as planned.
    Planned,
    /// What the member worked: the elapsed time of each schedule that was run.
    Tracked,
}

impl FeedKind {
    pub const ALL: [Self; 2] = [Self::Planned, Self::Tracked];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::Tracked => "tracked",
        }
    }

    /// From a request or a row: `planned` or `tracked`.
    pub fn parse(value: &str) -> Result<Self, FeedError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == value)
            .ok_or_else(|| FeedError::Kind(value.to_owned()))
    }

    /// The calendar's name (RFC 7986 `NAME`).
    pub const fn calendar_name(self) -> &'static str {
        match self {
            Self::Planned => "Pinit — planned",
            Self::Tracked => "Pinit — tracked",
        }
    }

    /// The calendar's color (RFC 7986 `COLOR`: a CSS3 color name).
    pub const fn color(self) -> &'static str {
        match self {
            Self::Planned => "royalblue",
            Self::Tracked => "seagreen",
        }
    }
}

impl fmt::Display for FeedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a feed request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    #[error("kind: `{0}` is not a feed kind (expected planned or tracked)")]
    Kind(String),
    #[error("a member has at most {MAX_FEEDS} feeds: revoke one first")]
    TooMany,
}

impl FeedError {
    pub const fn class(&self) -> super::ErrorClass {
        match self {
            Self::Kind(_) => super::ErrorClass::BadRequest,
            Self::TooMany => super::ErrorClass::Conflict,
        }
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The secret of a feed's URL.
#[derive(Clone, PartialEq, Eq)]
pub struct FeedToken(String);

impl FeedToken {
    /// The token of `random` octets (the caller draws them from a CSPRNG), base64url without padding.
    pub fn from_random(random: [u8; TOKEN_BYTES]) -> Self {
        let mut out = String::with_capacity(43);
        let mut bits: u32 = 0;
        let mut held = 0u32;
        for byte in random {
            bits = (bits << 8) | u32::from(byte);
            held += 8;
            while held >= 6 {
                held -= 6;
                out.push(char::from(ALPHABET[((bits >> held) & 63) as usize]));
            }
        }
        if held > 0 {
            out.push(char::from(ALPHABET[((bits << (6 - held)) & 63) as usize]));
        }
        Self(out)
    }

    /// A token as presented in a URL, if it has a token's shape (43 base64url characters); anything else can
    /// name no feed.
    pub fn parse(value: &str) -> Option<Self> {
        (value.len() == 43 && value.bytes().all(|b| ALPHABET.contains(&b)))
            .then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What is stored: the SHA-256 of the token, hex.
    pub fn digest(&self) -> String {
        Sha256::digest(self.0.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The last four characters (shown in the list to tell feeds apart).
    pub fn hint(&self) -> String {
        self.0[self.0.len().saturating_sub(4)..].to_owned()
    }
}

impl fmt::Debug for FeedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FeedToken(…{})", self.hint())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn kinds_read_and_refuse_by_name() {
        assert_eq!(FeedKind::parse("planned"), Ok(FeedKind::Planned));
        assert_eq!(FeedKind::parse("tracked"), Ok(FeedKind::Tracked));
        assert_eq!(
            FeedKind::parse("Planned").unwrap_err().to_string(),
            "kind: `Planned` is not a feed kind (expected planned or tracked)"
        );
    }

    #[test]
    fn a_token_is_43_characters_and_stored_as_its_digest() {
        let token = FeedToken::from_random([0xff; TOKEN_BYTES]);
        assert_eq!(token.as_str().len(), 43);
        assert_eq!(token.as_str(), format!("{}8", "_".repeat(42)));
        assert_eq!(FeedToken::parse(token.as_str()), Some(token.clone()));
        assert_eq!(token.digest().len(), 64);
        assert_eq!(
            FeedToken::from_random([0; TOKEN_BYTES]).digest(),
            // sha256 of "A" × 43 (Python's hashlib)
            "0f007385b6f9d4b7eeb2748605afe1a984a0a3bfa3f014d09e2a784ce9e5cd1a"
        );
        assert!(!format!("{token:?}").contains(&token.as_str()[..10]));
        assert_eq!(FeedToken::parse("short"), None);
        assert_eq!(FeedToken::parse(&format!("{}=", "A".repeat(42))), None);
    }

    proptest! {
        #[test]
        fn tokens_are_base64url(random in any::<[u8; TOKEN_BYTES]>()) {
            let token = FeedToken::from_random(random);
            prop_assert!(FeedToken::parse(token.as_str()).is_some());
            // Distinct randomness, distinct tokens: the encoding loses no bit.
            let mut other = random;
            other[TOKEN_BYTES - 1] ^= 1;
            prop_assert_ne!(FeedToken::from_random(other), token);
        }
    }
}
