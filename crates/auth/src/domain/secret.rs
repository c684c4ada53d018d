//! What a member's machine credentials — app passwords ([`super::app_password`]) and personal API tokens
//! ([`super::api_token`]) — share: random secrets in lower-case base32, the name a member gives one, the limit on
//! how many a member has, and how often a use is written down. Pure code: the randomness and the instant are
//! arguments.

use std::time::Duration;

use jiff::Timestamp;

use super::Invalid;

/// The alphabet of secrets: RFC 4648 base32 in lower case (no 0/O, 1/l to confuse on a phone keyboard).
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A secret of `N` characters made of `N` random bytes (each gives 5 uniform bits: 256 is a multiple of 32).
pub fn base32<const N: usize>(random: [u8; N]) -> String {
    random
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b % 32)]))
        .collect()
}

/// Whether `text` is `len` characters of the secrets' alphabet.
pub fn is_base32(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| ALPHABET.contains(&b))
}

/// A credential's last use is written at most this often (each request through the gateway may verify one; a
/// write per request would be a write per calendar sync step or per script call).
pub const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// Whether a use at `now` is to be written down: never used, or last written [`TOUCH_EVERY`] or more ago (a
/// last use in the future — two replicas' clocks — is not written again).
pub fn needs_touch(last_used_at: Option<Timestamp>, now: Timestamp) -> bool {
    last_used_at.is_none_or(|last| {
        now.duration_since(last)
            .try_into()
            .is_ok_and(|elapsed: Duration| elapsed >= TOUCH_EVERY)
    })
}

/// What the member calls a credential ("iPhone", "backup script"): 1–100 characters after trimming, no control
/// characters; refused as `name` with `rule`.
pub fn name(raw: Option<&str>, rule: &'static str) -> Result<String, Invalid> {
    let trimmed = raw.unwrap_or_default().trim();
    let ok = (1..=100).contains(&trimmed.chars().count()) && !trimmed.chars().any(char::is_control);
    if ok {
        Ok(trimmed.to_string())
    } else {
        Err(Invalid {
            field: "name",
            message: rule,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_gives_a_character_of_the_alphabet() {
        assert_eq!(base32([255; 28]), "7".repeat(28));
        assert_eq!(base32([0; 28]), "a".repeat(28));
        let mixed = base32::<32>(std::array::from_fn(|i| (i * 37) as u8));
        assert!(is_base32(&mixed, 32));
        assert!(!is_base32(&mixed, 31));
        // 0, 1, 8, 9 and upper case are not in the alphabet.
        assert!(!is_base32("0189", 4) && !is_base32("ABCD", 4));
    }

    #[test]
    fn the_last_use_is_written_at_most_once_a_minute() {
        let t0: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
        let later = |secs| t0 + jiff::SignedDuration::from_secs(secs);
        assert!(needs_touch(None, t0));
        assert!(!needs_touch(Some(t0), later(59)));
        assert!(needs_touch(Some(t0), later(60)));
        assert!(!needs_touch(Some(later(10)), t0));
    }

    #[test]
    fn names_are_trimmed_bounded_and_named_in_the_refusal() {
        assert_eq!(name(Some("  iPhone "), "rule").unwrap(), "iPhone");
        assert!(name(Some(&"가".repeat(100)), "rule").is_ok());
        for bad in [None, Some(""), Some("   "), Some("tab\there")] {
            let refused = name(bad, "rule").unwrap_err();
            assert_eq!(
                (refused.field, refused.message),
                ("name", "rule"),
                "{bad:?}"
            );
        }
        assert!(name(Some(&"가".repeat(101)), "rule").is_err());
    }
}
