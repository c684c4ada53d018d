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

/// Account deletion (`DELETE /v0/members/me`): how the member proves it is them, and what they are told.
pub mod deletion {
    use std::time::Duration;

    use jiff::Timestamp;

    /// A member without a usable password (made by an OAuth login) proves it is them by a fresh login: a session
    /// whose login (its refresh family, not a later refresh) is at most this old.
    pub const FRESH_LOGIN: Duration = Duration::from_secs(5 * 60);

    pub const PASSWORD_REQUIRED: &str = "계정을 삭제하려면 비밀번호(password)를 입력해 주세요.";
    pub const WRONG_PASSWORD: &str =
        "비밀번호(password)가 올바르지 않습니다. 계정은 삭제되지 않았습니다.";
    pub const FRESH_LOGIN_REQUIRED: &str =
        "소셜 로그인 계정은 다시 로그인한 뒤 5분 안에 삭제할 수 있습니다.";

    /// Whether a login made at `logged_in_at` is fresh enough at `now` to delete the account without a password.
    pub fn is_fresh(logged_in_at: Timestamp, now: Timestamp) -> bool {
        let age = now.duration_since(logged_in_at);
        !age.is_negative() && age.unsigned_abs() <= FRESH_LOGIN
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_login_is_fresh_for_five_minutes() {
            let login = Timestamp::from_second(1_700_000_000).unwrap();
            let at = |s: i64| Timestamp::from_second(1_700_000_000 + s).unwrap();
            assert!(is_fresh(login, at(0)));
            assert!(is_fresh(login, at(300)));
            assert!(!is_fresh(login, at(301)));
            assert!(
                !is_fresh(login, at(-1)),
                "a login from the future is no proof"
            );
        }
    }
}
