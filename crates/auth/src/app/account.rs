//! The member's own account: changing the password and deleting the account (only from a session —
//! [`crate::http`] enforces it). A new password ends every other session: their refresh families are revoked, so
//! they are signed out within an access token's lifetime. API tokens and app passwords stay (the member lists
//! and revokes them).
//!
//! Deleting the account (GDPR art. 17) needs the password — checked like the password change: failures count
//! as failed logins of the username — or, for a member made by an OAuth login (no usable password), a fresh
//! login ([`deletion::FRESH_LOGIN`]). One transaction deletes every auth row of the member (sessions and
//! their tokens, app passwords, API tokens, linked external identities, the rate-limit counters of its
//! username, the member) and records `member.deleted`, which task and notification apply by erasing theirs.

use pinit_kernel::db::DbError;

use super::limits::Count;
use super::{Auth, AuthError, Result, outbound};
use crate::domain::{Account, Bucket, FamilyId, Invalid, MemberId, Password, Revocation, deletion};
use crate::password::Verdict;
use crate::store;
use crate::store::credentials::Table;
use crate::tokens;

pub use crate::domain::input::{CURRENT_PASSWORD_WRONG, NEW_PASSWORD_RULE, NEW_PASSWORD_SAME};

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
        let asking = self.session_family(change.refresh_token).await?;
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

/// An account deletion as the client sent it.
#[derive(Debug, Clone, Copy)]
pub struct AccountDeletion<'a> {
    /// The member's password (`None` or empty: the member proves it by a fresh login instead, if it may).
    pub password: Option<&'a str>,
    /// The refresh cookie of the session asking: a fresh login is this session's.
    pub refresh_token: Option<&'a str>,
}

/// What an account deletion erased in auth (for the log; task and notification erase on `member.deleted`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    pub sessions: u64,
    pub app_passwords: u64,
    pub api_tokens: u64,
    pub external_identities: u64,
}

impl Auth {
    /// Deletes `member`'s account once it proved it is them (see the module). Every session ends (a refresh
    /// fails; an access token already issued lives out its short lifetime), every API token and app password
    /// stops working (the gateway caches a check at most 5 s), and `member.deleted` goes out through the outbox.
    pub async fn delete_account(
        &self,
        member: MemberId,
        asked: AccountDeletion<'_>,
    ) -> Result<Erased> {
        let mut conn = self.inner.db.conn().await?;
        let account = store::members::account_of(&mut conn, member).await?;
        drop(conn);
        let Some(account) = account else {
            return Err(AuthError::Unauthorized("member no longer exists"));
        };
        self.prove_deletion(&account, asked).await?;

        let db = &self.inner.db;
        let mut tx = db.begin().await?;
        if !store::members::lock(&mut tx, db.backend(), member).await? {
            return Err(AuthError::Unauthorized("member no longer exists"));
        }
        store::refresh_tokens::erase_member(&mut tx, member).await?;
        let erased = Erased {
            sessions: store::refresh_families::erase_member(&mut tx, member).await?,
            app_passwords: store::credentials::erase_member(&mut tx, Table::AppPassword, member)
                .await?,
            api_tokens: store::credentials::erase_member(&mut tx, Table::ApiToken, member).await?,
            external_identities: store::oauth_accounts::erase_member(&mut tx, member).await?,
        };
        let username = account.username.as_str();
        let counters = [
            Bucket::LoginFailures(username).key(),
            Bucket::AppPasswordFailures(username).key(),
        ];
        store::rate_limits::erase_buckets(&mut tx, &counters).await?;
        store::members::delete(&mut tx, member).await?;
        outbound::record_member_deleted(&self.inner.outbox, &mut tx, member, self.now()).await?;
        self.inner.outbox.commit(tx).await?;
        tracing::info!(member_id = member.get(), ?erased, "account deleted");
        metrics::counter!("auth_accounts_deleted_total").increment(1);
        Ok(erased)
    }

    /// The member's proof for a deletion: the right password (limited like logins), else — only for a member
    /// made by an OAuth login — this session's fresh login.
    async fn prove_deletion(&self, account: &Account, asked: AccountDeletion<'_>) -> Result<()> {
        let failures = Bucket::LoginFailures(&account.username);
        match asked.password.filter(|p| !p.is_empty()) {
            Some(password) => {
                self.limit(failures, Count::Peek).await?;
                let mut conn = self.inner.db.conn().await?;
                let hash = store::members::password_hash(&mut conn, account.id).await?;
                drop(conn);
                match self.inner.hasher.verify(password, hash.as_deref()).await? {
                    Verdict::Match | Verdict::MatchRehashed(_) => Ok(()),
                    Verdict::Mismatch => {
                        self.limit(failures, Count::Record).await?;
                        Err(AuthError::WrongPassword)
                    }
                }
            }
            None if account.social_login => {
                let logged_in_at = match self.session_family(asked.refresh_token).await? {
                    Some(family) => {
                        let mut conn = self.inner.db.conn().await?;
                        store::refresh_families::live_since(&mut conn, &family, account.id).await?
                    }
                    None => None,
                };
                match logged_in_at {
                    Some(at) if deletion::is_fresh(at, self.now()) => Ok(()),
                    _ => Err(AuthError::FreshLoginRequired),
                }
            }
            None => Err(AuthError::Invalid(vec![Invalid {
                field: "password",
                message: deletion::PASSWORD_REQUIRED,
            }])),
        }
    }

    /// The session (refresh family) of a refresh cookie, if it names one.
    async fn session_family(&self, refresh_token: Option<&str>) -> Result<Option<FamilyId>> {
        let Some(token) = refresh_token.filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let mut conn = self.inner.db.conn().await?;
        Ok(store::refresh_tokens::family_of(&mut conn, &tokens::digest(token)).await?)
    }
}

fn wrong_current() -> Invalid {
    Invalid {
        field: "currentPassword",
        message: CURRENT_PASSWORD_WRONG,
    }
}
