//! Members as the store gives them back: ids, what `/v0/me` shows, what a login checks.

use std::fmt;

use jiff::Timestamp;

pinit_kernel::id_type!(
    /// A member's id: `member.member_id`, the `sub` of its access tokens, `memberId` in `member.created`.
    MemberId
);

/// A member as `/v0/me` shows it. The values are as stored: members taken over from the reference were never
/// validated by [`super::input`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: MemberId,
    pub username: String,
    pub nickname: Option<String>,
    pub zone_id: String,
    /// When an operator disabled it (`pinit user disable`); then it cannot sign in or use its credentials.
    pub disabled_at: Option<Timestamp>,
}

/// A member as an operator lists them (`pinit user list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: MemberId,
    pub username: String,
    pub nickname: Option<String>,
    /// Made by an OAuth login (its password is unusable until reset).
    pub social_login: bool,
    pub created_at: Timestamp,
    pub disabled_at: Option<Timestamp>,
}

pub const ACCOUNT_DISABLED: &str = "사용이 중지된 계정입니다. 관리자에게 문의해 주세요.";

/// What a password login checks: the member of a username and its password hash.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub member: MemberId,
    pub password_hash: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("member", &self.member)
            .field("password_hash", &"[redacted]")
            .finish()
    }
}
