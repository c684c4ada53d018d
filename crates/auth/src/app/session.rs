//! Sessions: password login, refresh-token rotation with reuse detection (the rule is
//! [`PresentedRefresh::verdict`]), logout, access-token checks and `/v0/me`.

use jiff::Timestamp;
use pinit_kernel::db::{DbError, Tx};

use super::limits::Count;
use super::{Auth, AuthError, Result};
use crate::domain::{Bucket, FamilyId, Member, MemberId, PresentedRefresh, Revocation, Rotation};
use crate::password::Verdict;
use crate::store::{self, refresh_tokens::NewRefreshToken};
use crate::tokens;

/// A login's outcome: an access token, and a refresh token to set as the cookie (absent when a concurrent
/// refresh inside the grace window already rotated it — the browser keeps the cookie the winner set).
#[derive(Debug)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: Option<String>,
}

impl Auth {
    /// Password login.
    pub async fn login(
        &self,
        client_ip: &str,
        username: Option<&str>,
        password: Option<&str>,
    ) -> Result<Session> {
        self.limit(Bucket::LoginPerIp(client_ip), Count::Hit)
            .await?;
        let username = username.unwrap_or_default().trim();
        let password = password.unwrap_or_default();
        let failures = Bucket::LoginFailures(username);
        self.limit(failures, Count::Peek).await?;

        let mut conn = self.inner.db.conn().await?;
        let found = if username.is_empty() {
            None
        } else {
            store::members::credentials(&mut conn, username).await?
        };
        drop(conn);
        let verdict = self
            .inner
            .hasher
            .verify(password, found.as_ref().map(|c| c.password_hash.as_str()))
            .await?;
        let member = match (verdict, found) {
            (Verdict::Match, Some(c)) => c.member,
            (Verdict::MatchRehashed(new_hash), Some(c)) => {
                let mut conn = self.inner.db.conn().await?;
                store::members::set_password_hash(&mut conn, c.member, &new_hash).await?;
                tracing::info!(member_id = c.member.get(), "password hash upgraded");
                c.member
            }
            _ => {
                self.limit(failures, Count::Record).await?;
                metrics::counter!("auth_login_failures_total").increment(1);
                return Err(AuthError::BadCredentials);
            }
        };
        self.start_session(member).await
    }

    /// A new refresh-token family and its first token, plus an access token — unless an operator disabled the
    /// member (every login, password or OAuth, comes here).
    pub(super) async fn start_session(&self, member: MemberId) -> Result<Session> {
        let now = self.now();
        let refresh = tokens::new_refresh_token();
        let family = FamilyId::from(uuid::Uuid::now_v7());
        let mut tx = self.inner.db.begin().await?;
        match store::members::get(&mut tx, member).await? {
            None => return Err(AuthError::Unauthorized("member no longer exists")),
            Some(m) if m.disabled_at.is_some() => return Err(AuthError::Disabled),
            Some(_) => {}
        }
        store::refresh_families::create(&mut tx, &family, member, now).await?;
        self.issue_refresh(&mut tx, &refresh, &family, now).await?;
        tx.commit().await.map_err(DbError::from)?;
        Ok(Session {
            access_token: self.access_token(member, now)?,
            refresh_token: Some(refresh),
        })
    }

    /// Records a new refresh token of `family`, valid for `auth.refresh_token_ttl` from `now`.
    async fn issue_refresh(
        &self,
        tx: &mut Tx,
        token: &str,
        family: &FamilyId,
        now: Timestamp,
    ) -> Result<()> {
        let token = NewRefreshToken {
            digest: &tokens::digest(token),
            family,
            issued_at: now,
            expires_at: pinit_kernel::clock::later(
                now,
                self.inner.settings.refresh_token_ttl.get(),
            ),
        };
        Ok(store::refresh_tokens::insert(tx, &token).await?)
    }

    fn access_token(&self, member: MemberId, now: Timestamp) -> Result<String> {
        Ok(self.inner.tokens.access_token(member.get(), now)?)
    }

    /// Exchanges a refresh token for a new access token and a rotated refresh token.
    ///
    /// * unknown, expired or revoked → 401;
    /// * already rotated within the grace window → an access token, no new refresh token (a concurrent refresh
    ///   of the same client won the race);
    /// * already rotated before that, its successor never presented → the client lost the answer carrying the
    ///   successor (a crash): the unused successor is retired and another issued;
    /// * already rotated before that, its successor presented → reuse of a stolen token: the whole family is
    ///   revoked, 401.
    pub async fn refresh(&self, client_ip: &str, token: Option<&str>) -> Result<Session> {
        self.limit(Bucket::RefreshPerIp(client_ip), Count::Hit)
            .await?;
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Unauthorized("no refresh token"))?;
        let digest = tokens::digest(token);
        let now = self.now();
        let db = &self.inner.db;
        let mut tx = db.begin().await?;
        let presented = store::refresh_tokens::presented(&mut tx, db.backend(), &digest)
            .await?
            .ok_or(AuthError::Unauthorized("unknown refresh token"))?;
        let rotation = presented
            .verdict(now, self.inner.settings.refresh_grace.get())
            .map_err(|dead| AuthError::Unauthorized(dead.reason()))?;
        match store::members::get(&mut tx, presented.member).await? {
            None => return Err(AuthError::Unauthorized("member no longer exists")),
            Some(m) if m.disabled_at.is_some() => {
                return Err(AuthError::Unauthorized("member disabled"));
            }
            Some(_) => {}
        }
        match rotation {
            Rotation::Grace => {
                tx.commit().await.map_err(DbError::from)?;
                Ok(Session {
                    access_token: self.access_token(presented.member, now)?,
                    refresh_token: None,
                })
            }
            Rotation::Reuse => {
                self.revoke_reused(tx, &presented, now).await?;
                Err(AuthError::Unauthorized("refresh token reuse"))
            }
            Rotation::Reissue => self.reissue(tx, &digest, &presented, now).await,
            Rotation::Rotate => self.rotate(tx, &digest, &presented, now).await,
        }
    }

    /// A rotated token whose successor was never presented: retires that successor and issues another.
    async fn reissue(
        &self,
        mut tx: Tx,
        digest: &str,
        presented: &PresentedRefresh,
        now: Timestamp,
    ) -> Result<Session> {
        let next = tokens::new_refresh_token();
        if !store::refresh_tokens::reissue(&mut tx, digest, &tokens::digest(&next), now).await? {
            // The successor was presented meanwhile: two holders after all.
            self.revoke_reused(tx, presented, now).await?;
            return Err(AuthError::Unauthorized("refresh token reuse"));
        }
        let session = self.successor(tx, next, presented, now).await?;
        tracing::info!(
            member_id = presented.member.get(),
            family = %presented.family,
            "a rotated refresh token came back with its successor unused (a lost answer); issued another"
        );
        metrics::counter!("auth_refresh_reissued_total").increment(1);
        Ok(session)
    }

    /// Marks the presented token rotated and issues its successor in the same family.
    async fn rotate(
        &self,
        mut tx: Tx,
        digest: &str,
        presented: &PresentedRefresh,
        now: Timestamp,
    ) -> Result<Session> {
        let next = tokens::new_refresh_token();
        if !store::refresh_tokens::mark_rotated(&mut tx, digest, &tokens::digest(&next), now)
            .await?
        {
            return Err(AuthError::Unauthorized("refresh token already rotated"));
        }
        self.successor(tx, next, presented, now).await
    }

    /// Records `next` in the presented token's family, commits, and answers it with a new access token.
    async fn successor(
        &self,
        mut tx: Tx,
        next: String,
        presented: &PresentedRefresh,
        now: Timestamp,
    ) -> Result<Session> {
        self.issue_refresh(&mut tx, &next, &presented.family, now)
            .await?;
        tx.commit().await.map_err(DbError::from)?;
        Ok(Session {
            access_token: self.access_token(presented.member, now)?,
            refresh_token: Some(next),
        })
    }

    /// A rotated token presented after the grace window: revokes its whole family.
    async fn revoke_reused(
        &self,
        mut tx: Tx,
        presented: &PresentedRefresh,
        now: Timestamp,
    ) -> Result<()> {
        store::refresh_families::revoke(&mut tx, &presented.family, now, Revocation::Reuse).await?;
        tx.commit().await.map_err(DbError::from)?;
        tracing::warn!(
            member_id = presented.member.get(),
            family = %presented.family,
            "refresh token reused after rotation; the session is revoked"
        );
        metrics::counter!("auth_refresh_reuse_total").increment(1);
        Ok(())
    }

    /// Revokes the session of a refresh token. Unknown tokens are fine: logout always succeeds.
    pub async fn logout(&self, token: Option<&str>) -> Result<()> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Ok(());
        };
        let mut conn = self.inner.db.conn().await?;
        if let Some(family) =
            store::refresh_tokens::family_of(&mut conn, &tokens::digest(token)).await?
        {
            store::refresh_families::revoke(&mut conn, &family, self.now(), Revocation::Logout)
                .await?;
        }
        Ok(())
    }

    /// The member of a valid access token.
    pub fn authenticate(&self, bearer: Option<&str>) -> Result<MemberId> {
        let token = bearer.ok_or(AuthError::Unauthorized("no access token"))?;
        self.inner
            .tokens
            .verify_access(token, self.now())
            .map(MemberId)
            .map_err(|e| {
                tracing::debug!(error = %e, "access token refused");
                AuthError::Unauthorized("invalid access token")
            })
    }

    /// The member `/v0/me` shows; 401 when it no longer exists or was disabled.
    pub async fn me(&self, member: MemberId) -> Result<Member> {
        let mut conn = self.inner.db.conn().await?;
        store::members::get(&mut conn, member)
            .await?
            .filter(|m| m.disabled_at.is_none())
            .ok_or(AuthError::Unauthorized(
                "member no longer exists or is disabled",
            ))
    }
}
