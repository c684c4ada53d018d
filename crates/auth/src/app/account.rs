//! The member's own account: changing the password (only from a session — [`crate::http`] enforces it). A new
//! password ends every other session: their refresh families are revoked, so they are signed out within an
//! access token's lifetime. API tokens and app passwords stay (the member lists and revokes them).

use pinit_kernel::db::DbError;

use super::limits::Count;
use super::{Auth, AuthError, Result};
use crate::domain::{Bucket, Invalid, MemberId, Password, Revocation};
use crate::password::Verdict;
use crate::store;
use crate::tokens;

pub const CURRENT_PASSWORD_WRONG: &str = "현재 비밀번호(currentPassword)가 올바르지 않습니다.";
pub const NEW_PASSWORD_RULE: &str = "새 비밀번호(newPassword)는 8~128자여야 합니다.";
pub const NEW_PASSWORD_SAME: &str = "새 비밀번호(newPassword)가 현재 비밀번호와 같습니다.";

/// A password change as the client sent it.
#[derive(Debug, Clone, Copy)]
pub struct PasswordChange<'a> {
    pub current: Option<&'a str>,
    pub new: Option<&'a str>,
    /// The refresh cookie of the session asking: that session stays.
    pub refresh_token: Option<&'a str>,
}

impl Auth {
    /// Changes `member`'s password after checking the current one. Wrong current passwords count as failed
    /// logins of the username (the same allowance: this is no second way to guess it), and a locked username is
    /// refused (429) before anything is checked. Returns how many other sessions were ended.
    pub async fn change_password(
        &self,
        member: MemberId,
        change: PasswordChange<'_>,
    ) -> Result<u64> {
        let current = change.current.unwrap_or_default();
        let new = change.new.unwrap_or_default();
        let mut problems = Vec::new();
        if current.is_empty() {
            problems.push(wrong_current());
        }
        if Password::parse(new).is_err() {
            problems.push(Invalid {
                field: "newPassword",
                message: NEW_PASSWORD_RULE,
            });
        } else if new == current {
            problems.push(Invalid {
                field: "newPassword",
                message: NEW_PASSWORD_SAME,
            });
        }
        if !problems.is_empty() {
            return Err(AuthError::Invalid(problems));
        }

        let mut conn = self.inner.db.conn().await?;
        let found = store::members::get(&mut conn, member).await?;
        let hash = store::members::password_hash(&mut conn, member).await?;
        drop(conn);
        let (Some(found), Some(hash)) = (found, hash) else {
            return Err(AuthError::Unauthorized("member no longer exists"));
        };
        let failures = Bucket::LoginFailures(&found.username);
        self.limit(failures, Count::Peek).await?;
        match self.inner.hasher.verify(current, Some(&hash)).await? {
            Verdict::Match | Verdict::MatchRehashed(_) => {}
            Verdict::Mismatch => {
                self.limit(failures, Count::Record).await?;
                return Err(AuthError::Invalid(vec![wrong_current()]));
            }
        }

        let new_hash = self.inner.hasher.hash(new).await?;
        let mut conn = self.inner.db.conn().await?;
        let asking = match change.refresh_token.filter(|t| !t.is_empty()) {
            Some(token) => {
                store::refresh_tokens::family_of(&mut conn, &tokens::digest(token)).await?
            }
            None => None,
        };
        drop(conn);
        let mut tx = self.inner.db.begin().await?;
        store::members::set_password_hash(&mut tx, member, &new_hash).await?;
        let ended = store::refresh_families::revoke_member(
            &mut tx,
            member,
            asking.as_ref(),
            self.now(),
            Revocation::PasswordChange,
        )
        .await?;
        tx.commit().await.map_err(DbError::from)?;
        tracing::info!(
            member_id = member.get(),
            other_sessions_ended = ended,
            "password changed"
        );
        Ok(ended)
    }
}

fn wrong_current() -> Invalid {
    Invalid {
        field: "currentPassword",
        message: CURRENT_PASSWORD_WRONG,
    }
}
