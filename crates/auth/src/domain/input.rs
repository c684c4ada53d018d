//! What auth accepts as input: usernames, passwords, nicknames, zones, and a valid signup. Pure code, no I/O.
//!
//! The reference validated nothing (docs/contract/auth-and-gateway.md#input-validation). Messages are Korean, as
//! the reference's messages are, because the reference client shows them to the user as they come.

use std::fmt;
use std::str::FromStr;

/// Why an input was refused: the field and a message meant for the member.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: &'static str,
}

// The messages, with their codes (`code_of`: the name, e.g. `BAD_CREDENTIALS`) for clients that show their own
// words in the member's language.
pinit_kernel::messages! {
    USERNAME_RULE = "아이디는 3~50자의 영문, 숫자와 '.', '_', '-', '@' 만 사용할 수 있습니다.";
    PASSWORD_RULE = "비밀번호는 8~128자여야 합니다.";
    NICKNAME_RULE = "닉네임은 1~30자여야 하며 제어 문자를 포함할 수 없습니다.";
    ZONE_RULE = "지원하지 않는 시간대입니다. IANA 시간대(예: Asia/Seoul)를 입력해 주세요.";
    DUPLICATE_USERNAME = "이미 존재하는 사용자입니다.";
    BAD_CREDENTIALS = "아이디 또는 비밀번호가 올바르지 않습니다.";
    CURRENT_PASSWORD_WRONG = "현재 비밀번호(currentPassword)가 올바르지 않습니다.";
    NEW_PASSWORD_RULE = "새 비밀번호(newPassword)는 8~128자여야 합니다.";
    NEW_PASSWORD_SAME = "새 비밀번호(newPassword)가 현재 비밀번호와 같습니다.";
}

/// A local login name: 3–50 characters of ASCII letters, digits and `._-@`. Compared exactly (case-sensitive,
/// as the reference's unique column was on its default collation for new accounts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let trimmed = raw.trim();
        let ok_len = (3..=50).contains(&trimmed.chars().count());
        let ok_chars = trimmed
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
        if ok_len && ok_chars {
            Ok(Self(trimmed.to_string()))
        } else {
            Err(Invalid {
                field: "username",
                message: USERNAME_RULE,
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 8–128 characters (any characters; not trimmed).
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl Password {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if (8..=128).contains(&raw.chars().count()) {
            Ok(Self(raw.to_string()))
        } else {
            Err(Invalid {
                field: "password",
                message: PASSWORD_RULE,
            })
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A display name: 1–30 characters after trimming, no control characters. Optional at signup (the
/// `member.created` event carries `null` then, as the reference's does for Naver members without one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nickname(String);

impl Nickname {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let trimmed = raw.trim();
        let ok =
            (1..=30).contains(&trimmed.chars().count()) && !trimmed.chars().any(char::is_control);
        if ok {
            Ok(Self(trimmed.to_string()))
        } else {
            Err(Invalid {
                field: "nickname",
                message: NICKNAME_RULE,
            })
        }
    }

    /// A provider's nickname, made to fit: trimmed, control characters dropped, cut at 30 characters; `None` if
    /// nothing is left.
    pub fn lenient(raw: &str) -> Option<Self> {
        let cleaned: String = raw
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(30)
            .collect();
        Self::parse(&cleaned).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An IANA time-zone name known to the bundled tz database (e.g. `Asia/Seoul`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneId(String);

impl FromStr for ZoneId {
    type Err = Invalid;
    fn from_str(raw: &str) -> Result<Self, Invalid> {
        let raw = raw.trim();
        match jiff::tz::TimeZone::get(raw) {
            Ok(_) if !raw.is_empty() => Ok(Self(raw.to_string())),
            _ => Err(Invalid {
                field: "zoneId",
                message: ZONE_RULE,
            }),
        }
    }
}

impl ZoneId {
    /// The zone of members who sign up without one: `configured` if it is a known zone (start-up refuses it
    /// otherwise, see [`crate::Settings::problems`]), else the kernel's default zone.
    pub fn default_for(configured: &str) -> Self {
        configured
            .parse()
            .unwrap_or_else(|_| Self(pinit_kernel::DEFAULT_ZONE.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A valid signup request.
#[derive(Debug)]
pub struct Signup {
    pub username: Username,
    pub password: Password,
    pub nickname: Option<Nickname>,
    pub zone: Option<ZoneId>,
}

impl Signup {
    /// Validates every field and reports all problems at once.
    pub fn parse(
        username: Option<&str>,
        password: Option<&str>,
        nickname: Option<&str>,
        zone: Option<&str>,
    ) -> Result<Self, Vec<Invalid>> {
        let username = Username::parse(username.unwrap_or_default());
        let password = Password::parse(password.unwrap_or_default());
        let nickname = nickname
            .filter(|n| !n.trim().is_empty())
            .map(Nickname::parse)
            .transpose();
        let zone = zone
            .filter(|z| !z.trim().is_empty())
            .map(str::parse::<ZoneId>)
            .transpose();
        match (username, password, nickname, zone) {
            (Ok(username), Ok(password), Ok(nickname), Ok(zone)) => Ok(Signup {
                username,
                password,
                nickname,
                zone,
            }),
            (u, p, n, z) => Err([u.err(), p.err(), n.err(), z.err()]
                .into_iter()
                .flatten()
                .collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_have_a_charset_and_3_to_50_characters() {
        for ok in [
            "abc",
            "kim.minsu_01",
            "a-b@c.de",
            &"x".repeat(50),
            "  padded  ",
        ] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ab",
            &"x".repeat(51),
            "with space",
            "한글아이디",
            "semi;colon",
            "   ",
        ] {
            assert_eq!(
                Username::parse(bad).unwrap_err().message,
                USERNAME_RULE,
                "{bad}"
            );
        }
        assert_eq!(Username::parse("  padded  ").unwrap().as_str(), "padded");
    }

    #[test]
    fn passwords_have_8_to_128_characters_counted_as_characters() {
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse(&"p".repeat(128)).is_ok());
        assert!(Password::parse(&"p".repeat(129)).is_err());
        // Eight Korean syllables are 24 bytes but 8 characters.
        assert!(Password::parse("비밀번호비밀번호").is_ok());
        assert_eq!(
            format!("{:?}", Password::parse("hunter2hunter2").unwrap()),
            "Password([redacted])"
        );
    }

    #[test]
    fn nicknames_are_trimmed_and_bounded() {
        assert_eq!(Nickname::parse("  핀잇  ").unwrap().as_str(), "핀잇");
        assert!(Nickname::parse(&"가".repeat(30)).is_ok());
        assert!(Nickname::parse(&"가".repeat(31)).is_err());
        assert!(Nickname::parse("tab\there").is_err());
        assert_eq!(
            Nickname::lenient(&"가".repeat(40))
                .unwrap()
                .as_str()
                .chars()
                .count(),
            30
        );
        assert!(Nickname::lenient("\u{7}").is_none());
    }

    #[test]
    fn zones_must_be_known_iana_names() {
        assert!("Asia/Seoul".parse::<ZoneId>().is_ok());
        assert!("UTC".parse::<ZoneId>().is_ok());
        assert!("Mars/Olympus".parse::<ZoneId>().is_err());
        assert!("".parse::<ZoneId>().is_err());
    }

    #[test]
    fn the_default_zone_is_the_configured_one_when_it_is_known() {
        assert_eq!(
            ZoneId::default_for("Europe/Berlin").as_str(),
            "Europe/Berlin"
        );
        assert_eq!(ZoneId::default_for(" UTC ").as_str(), "UTC");
        assert_eq!(
            ZoneId::default_for("Mars/Olympus").as_str(),
            pinit_kernel::DEFAULT_ZONE
        );
        assert!(pinit_kernel::DEFAULT_ZONE.parse::<ZoneId>().is_ok());
    }

    #[test]
    fn signup_reports_every_problem_at_once() {
        let problems =
            Signup::parse(Some("a"), Some("short"), Some("ok"), Some("Nowhere/City")).unwrap_err();
        let fields: Vec<_> = problems.iter().map(|p| p.field).collect();
        assert_eq!(fields, ["username", "password", "zoneId"]);
        let ok = Signup::parse(Some("member1"), Some("password1"), None, Some("")).unwrap();
        assert!(ok.nickname.is_none() && ok.zone.is_none());
        let missing = Signup::parse(None, None, None, None).unwrap_err();
        assert_eq!(missing.len(), 2);
    }
}
