//! Personal API tokens (docs/adr/0018-personal-api-tokens.md): what a member's scripts and integrations send as
//! `Authorization: Bearer pinit_pat_…` instead of a login. Their names, scopes, expiry, the secret's format, how
//! many a member may have. Pure code: the randomness and the instant are arguments.

use std::fmt;

use jiff::{SignedDuration, Timestamp};
use pinit_kernel::identity::api_token_check::{PREFIX, Scope};

use super::Invalid;
use super::member::MemberId;
use super::secret;

pinit_kernel::id_type!(
    /// An API token's id: `api_token.api_token_id`, `id` in the API.
    ApiTokenId
);

/// How many API tokens a member may have at once (expired ones count until deleted).
pub const MAX_API_TOKENS: usize = 50;

/// How far ahead a token's expiry may be set.
pub const MAX_LIFETIME: SignedDuration = SignedDuration::from_hours(24 * 365);

pub const API_TOKEN_NAME_RULE: &str =
    "토큰 이름(name)은 1~100자여야 하며 제어 문자를 포함할 수 없습니다.";
pub const SCOPES_RULE: &str = "권한(scopes)은 \"read\", \"write\" 중 하나 이상이어야 합니다. read는 조회(GET)만, write는 모든 요청을 허용합니다.";
pub const EXPIRY_FORMAT_RULE: &str =
    "만료 시각(expiresAt)은 RFC 3339 형식이어야 합니다. 예: 2030-01-01T00:00:00Z";
pub const EXPIRY_RANGE_RULE: &str =
    "만료 시각(expiresAt)은 지금 이후, 365일 이내여야 합니다. 만료 없이 만들려면 비워 두세요.";
pub const API_TOKEN_LIMIT: &str =
    "API 토큰은 최대 50개까지 만들 수 있습니다. 쓰지 않는 것을 삭제해 주세요.";
pub const API_TOKEN_NOT_FOUND: &str = "API 토큰을 찾을 수 없습니다.";

/// What the member calls a token ("backup script"): [`secret::name`]'s rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenName(String);

impl ApiTokenName {
    pub fn parse(raw: Option<&str>) -> Result<Self, Invalid> {
        secret::name(raw, API_TOKEN_NAME_RULE).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A token's scopes: at least one, each known, in order (`read` before `write`), each once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// The scopes asked for; missing, empty or with an unknown name → refused as `scopes`.
    pub fn parse(raw: Option<&[String]>) -> Result<Self, Invalid> {
        let refused = Invalid {
            field: "scopes",
            message: SCOPES_RULE,
        };
        let mut scopes = raw
            .unwrap_or_default()
            .iter()
            .map(|s| Scope::parse(s.trim()))
            .collect::<Option<Vec<_>>>()
            .ok_or(refused.clone())?;
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(refused);
        }
        Ok(Self(scopes))
    }

    /// The scopes as stored (`read,write`); names this version does not know are dropped.
    pub fn from_stored(text: &str) -> Self {
        let mut scopes: Vec<Scope> = text.split(',').filter_map(Scope::parse).collect();
        scopes.sort();
        scopes.dedup();
        Self(scopes)
    }

    /// The stored form.
    pub fn stored(&self) -> String {
        self.0
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn as_slice(&self) -> &[Scope] {
        &self.0
    }
}

/// When a new token expires: never when absent or null; else an RFC 3339 instant after `now` and at most
/// [`MAX_LIFETIME`] ahead, refused as `expiresAt`.
pub fn expiry(raw: Option<&str>, now: Timestamp) -> Result<Option<Timestamp>, Invalid> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let at: Timestamp = raw.trim().parse().map_err(|_| Invalid {
        field: "expiresAt",
        message: EXPIRY_FORMAT_RULE,
    })?;
    let latest = now.checked_add(MAX_LIFETIME).unwrap_or(Timestamp::MAX);
    if at <= now || at > latest {
        return Err(Invalid {
            field: "expiresAt",
            message: EXPIRY_RANGE_RULE,
        });
    }
    Ok(Some(at))
}

/// Characters after the prefix: 32 × 5 bits = 160 bits of entropy.
pub const SECRET_CHARS: usize = 32;

/// A token's secret, `pinit_pat_` and 32 lower-case base32 characters: what is hashed. Shown to the member
/// once, sent back exactly.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret(String);

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret([redacted])")
    }
}

impl TokenSecret {
    /// The secret made of `random` bytes ([`secret::base32`]).
    pub fn from_random(random: [u8; SECRET_CHARS]) -> Self {
        Self(format!("{PREFIX}{}", secret::base32(random)))
    }

    /// What a client presented, if it has a token's shape (else nothing needs to be looked up).
    pub fn presented(raw: &str) -> Option<Self> {
        let rest = raw.strip_prefix(PREFIX)?;
        secret::is_base32(rest, SECRET_CHARS).then(|| Self(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// An API token as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub name: String,
    pub scopes: Scopes,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

/// The API token a secret matched (of a member who is not disabled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenMatch {
    pub id: ApiTokenId,
    pub member: MemberId,
    pub scopes: Scopes,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

impl ApiTokenMatch {
    /// Whether it is still good at `now`: it never expires, or expires after `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }

    /// Whether this use is to be written down ([`secret::needs_touch`]).
    pub fn needs_touch(&self, now: Timestamp) -> bool {
        secret::needs_touch(self.last_used_at, now)
    }
}

/// Whether a member who has `existing` tokens may make another.
pub fn may_create(existing: usize) -> bool {
    existing < MAX_API_TOKENS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scopes_are_known_ordered_once_and_at_least_one() {
        let parsed = Scopes::parse(Some(&strings(&["write", "read", "write"]))).unwrap();
        assert_eq!(parsed.as_slice(), [Scope::Read, Scope::Write]);
        assert_eq!(parsed.stored(), "read,write");
        assert_eq!(Scopes::from_stored("read,write"), parsed);
        assert_eq!(Scopes::from_stored("read,admin").as_slice(), [Scope::Read]);
        for bad in [
            None,
            Some(strings(&[])),
            Some(strings(&["admin"])),
            Some(strings(&["read", "delete"])),
            Some(strings(&["READ"])),
        ] {
            let refused = Scopes::parse(bad.as_deref()).unwrap_err();
            assert_eq!(refused.field, "scopes", "{bad:?}");
            assert!(refused.message.contains("scopes"));
        }
    }

    #[test]
    fn an_expiry_is_after_now_and_within_a_year() {
        let now = at("2030-01-01T00:00:00Z");
        assert_eq!(expiry(None, now), Ok(None));
        assert_eq!(
            expiry(Some("2030-02-01T09:00:00+09:00"), now),
            Ok(Some(at("2030-02-01T00:00:00Z")))
        );
        assert!(
            expiry(Some("2031-01-01T00:00:00Z"), now).is_ok(),
            "365 days"
        );
        for (raw, rule) in [
            ("2030-01-01T00:00:00Z", EXPIRY_RANGE_RULE),
            ("2029-12-31T23:59:59Z", EXPIRY_RANGE_RULE),
            ("2031-01-01T00:00:01Z", EXPIRY_RANGE_RULE),
            ("tomorrow", EXPIRY_FORMAT_RULE),
            ("2030-02-01", EXPIRY_FORMAT_RULE),
        ] {
            let refused = expiry(Some(raw), now).unwrap_err();
            assert_eq!(
                (refused.field, refused.message),
                ("expiresAt", rule),
                "{raw}"
            );
        }
    }

    #[test]
    fn a_secret_has_the_prefix_and_160_bits_and_is_read_back_exactly() {
        let secret = TokenSecret::from_random(std::array::from_fn(|i| (i * 53) as u8));
        let text = secret.expose();
        assert!(text.starts_with("pinit_pat_"));
        assert_eq!(text.len(), PREFIX.len() + SECRET_CHARS);
        const { assert!(SECRET_CHARS * 5 >= 128) };
        assert_eq!(TokenSecret::presented(text), Some(secret.clone()));
        for not_one in [
            "",
            "pinit_pat_",
            &text.to_uppercase(),
            &text[1..],
            &format!("{text}a"),
            &text.replace("pinit_pat_", "pinit_app_"),
        ] {
            assert_eq!(TokenSecret::presented(not_one), None, "{not_one}");
        }
        assert_eq!(format!("{secret:?}"), "TokenSecret([redacted])");
    }

    #[test]
    fn a_token_is_live_until_its_expiry() {
        let now = at("2030-01-01T00:00:00Z");
        let token = |expires_at| ApiTokenMatch {
            id: ApiTokenId(1),
            member: MemberId(1),
            scopes: Scopes::from_stored("read"),
            expires_at,
            last_used_at: None,
        };
        assert!(token(None).is_live(now));
        assert!(token(Some(now + SignedDuration::from_secs(1))).is_live(now));
        assert!(!token(Some(now)).is_live(now));
        assert!(token(None).needs_touch(now));
    }

    #[test]
    fn a_member_has_at_most_fifty() {
        assert!(may_create(MAX_API_TOKENS - 1));
        assert!(!may_create(MAX_API_TOKENS));
    }
}
