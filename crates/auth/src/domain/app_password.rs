//! App passwords (docs/adr/0016-app-passwords.md): what a calendar app signs in with over HTTP Basic, never the
//! account password. Their names, their secret's format, how many a member may have, and how often their last
//! use is written down. Pure code: the randomness and the instant are arguments.

use std::fmt;

use jiff::Timestamp;

use super::Invalid;
use super::member::MemberId;
use super::secret;

pinit_kernel::id_type!(
    /// An app password's id: `app_password.app_password_id`, `id` in the API.
    AppPasswordId
);

/// How many app passwords a member may have at once.
pub const MAX_APP_PASSWORDS: usize = 20;

pub const APP_PASSWORD_NAME_RULE: &str =
    "앱 비밀번호 이름(name)은 1~100자여야 하며 제어 문자를 포함할 수 없습니다.";
pub const APP_PASSWORD_LIMIT: &str =
    "앱 비밀번호는 최대 20개까지 만들 수 있습니다. 쓰지 않는 것을 삭제해 주세요.";
pub const APP_PASSWORD_NOT_FOUND: &str = "앱 비밀번호를 찾을 수 없습니다.";

/// What the member calls an app password ("iPhone", "Thunderbird at work"): 1–100 characters after trimming,
/// no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPasswordName(String);

impl AppPasswordName {
    pub fn parse(raw: Option<&str>) -> Result<Self, Invalid> {
        secret::name(raw, APP_PASSWORD_NAME_RULE).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Characters in a secret: 28 × 5 bits = 140 bits of entropy.
pub const SECRET_CHARS: usize = 28;

/// Characters per group in the shown form (`abcd-efgh-…`, seven groups).
const GROUP: usize = 4;

/// An app password's secret in its canonical form (28 lower-case base32 characters, no separators): what is
/// hashed. Shown to the member once, grouped; typed back in any case, with or without the dashes.
#[derive(Clone, PartialEq, Eq)]
pub struct AppSecret(String);

impl fmt::Debug for AppSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppSecret([redacted])")
    }
}

impl AppSecret {
    /// The secret made of `random` bytes ([`secret::base32`]).
    pub fn from_random(random: [u8; SECRET_CHARS]) -> Self {
        Self(secret::base32(random))
    }

    /// What a client presented, in canonical form: dashes and white space dropped, lower-cased. `None` when
    /// that is not a secret's shape (then it is no app password, and nothing needs to be looked up).
    pub fn presented(raw: &str) -> Option<Self> {
        let canonical: String = raw
            .chars()
            .filter(|c| *c != '-' && !c.is_whitespace())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        secret::is_base32(&canonical, SECRET_CHARS).then_some(Self(canonical))
    }

    /// The canonical form (what is hashed).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The form shown to the member: groups of four joined by dashes (`abcd-efgh-ijkl-mnop-qrst-uvwx-yz23`).
    pub fn shown(&self) -> String {
        self.0
            .as_bytes()
            .chunks(GROUP)
            .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    }
}

/// An app password as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPassword {
    pub id: AppPasswordId,
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// An app password a username and secret matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppPasswordMatch {
    pub id: AppPasswordId,
    pub member: MemberId,
    pub last_used_at: Option<Timestamp>,
}

impl AppPasswordMatch {
    /// Whether this use is to be written down ([`secret::needs_touch`]).
    pub fn needs_touch(&self, now: Timestamp) -> bool {
        secret::needs_touch(self.last_used_at, now)
    }
}

/// Whether a member who has `existing` app passwords may make another.
pub fn may_create(existing: usize) -> bool {
    existing < MAX_APP_PASSWORDS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_refused_as_app_password_names() {
        assert_eq!(
            AppPasswordName::parse(Some("  iPhone ")).unwrap().as_str(),
            "iPhone"
        );
        let refused = AppPasswordName::parse(None).unwrap_err();
        assert_eq!(refused.message, APP_PASSWORD_NAME_RULE);
        assert!(refused.message.contains("name"));
    }

    #[test]
    fn a_secret_has_140_bits_is_shown_grouped_and_read_back_in_any_form() {
        let secret = AppSecret::from_random(std::array::from_fn(|i| (i * 37) as u8));
        assert_eq!(secret.expose().len(), SECRET_CHARS);
        const { assert!(SECRET_CHARS * 5 >= 128) };
        let shown = secret.shown();
        assert_eq!(shown.len(), SECRET_CHARS + SECRET_CHARS / GROUP - 1);
        assert_eq!(shown.split('-').count(), 7);
        assert_eq!(AppSecret::presented(&shown), Some(secret.clone()));
        assert_eq!(
            AppSecret::presented(&shown.to_uppercase().replace('-', " ")),
            Some(secret.clone())
        );
        assert_eq!(AppSecret::presented(secret.expose()), Some(secret.clone()));
        for not_one in ["", "password-123", &format!("{shown}a"), &shown[1..]] {
            assert_eq!(AppSecret::presented(not_one), None, "{not_one}");
        }
        // 0, 1, 8, 9 are not in the alphabet.
        assert_eq!(AppSecret::presented(&"0".repeat(SECRET_CHARS)), None);
        assert_eq!(format!("{secret:?}"), "AppSecret([redacted])");
    }

    #[test]
    fn the_last_use_is_written_at_most_once_a_minute() {
        let t0: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
        let used = |last: Option<Timestamp>| AppPasswordMatch {
            id: AppPasswordId(1),
            member: MemberId(1),
            last_used_at: last,
        };
        assert!(used(None).needs_touch(t0));
        assert!(!used(Some(t0)).needs_touch(t0 + jiff::SignedDuration::from_secs(59)));
    }

    #[test]
    fn a_member_has_at_most_twenty() {
        assert!(may_create(0));
        assert!(may_create(MAX_APP_PASSWORDS - 1));
        assert!(!may_create(MAX_APP_PASSWORDS));
    }
}
