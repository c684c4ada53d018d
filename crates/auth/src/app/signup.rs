//! Local signup, and the member creation every signup shares (local and first-time OAuth): the member, its
//! OAuth link and `member.created` in one transaction.

use pinit_kernel::db::DbError;

use super::limits::Count;
use super::{Auth, AuthError, Result, outbound};
use crate::domain::{Bucket, MemberId, Signup};
use crate::oauth::ExternalIdentity;
use crate::store::{self, members::NewMember};

/// A local signup as the client sent it (every field may be missing; [`Signup::parse`] judges them).
#[derive(Debug, Clone, Copy, Default)]
pub struct SignupRequest<'a> {
    /// The client's address (rate limiting).
    pub client_ip: &'a str,
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
    pub nickname: Option<&'a str>,
    /// An IANA zone; the default zone when absent or blank.
    pub zone: Option<&'a str>,
}

impl Auth {
    /// Local signup. Emits `member.created` with the member's zone.
    pub async fn signup(&self, request: SignupRequest<'_>) -> Result<MemberId> {
        self.limit(Bucket::SignupPerIp(request.client_ip), Count::Hit)
            .await?;
        let signup = Signup::parse(
            request.username,
            request.password,
            request.nickname,
            request.zone,
        )
        .map_err(AuthError::Invalid)?;
        let hash = self.inner.hasher.hash(signup.password.expose()).await?;
        let member = NewMember {
            username: signup.username.as_str(),
            password_hash: &hash,
            nickname: signup.nickname.as_ref(),
            zone: signup.zone.as_ref().unwrap_or(&self.inner.default_zone),
            social_login: false,
            now: self.now(),
        };
        self.create_member(&member, None).await
    }

    /// Inserts the member and, for a first OAuth login, its `link` (then `member.social_login`), records
    /// `member.created`, commits, wakes the relay.
    pub(super) async fn create_member(
        &self,
        member: &NewMember<'_>,
        link: Option<&ExternalIdentity>,
    ) -> Result<MemberId> {
        let social = member.social_login;
        let mut tx = self.inner.db.begin().await?;
        let id = store::members::insert(&mut tx, member)
            .await
            .map_err(|e| match e {
                DbError::Duplicate { .. } => AuthError::DuplicateUsername,
                other => AuthError::Db(other),
            })?;
        if let Some(identity) = link {
            store::oauth_accounts::link(&mut tx, identity, id, member.now).await?;
        }
        outbound::record_member_created(&self.inner.outbox, &mut tx, id, member).await?;
        self.inner.outbox.commit(tx).await?;
        tracing::info!(member_id = id.get(), social, "member created");
        metrics::counter!("auth_signups_total", "kind" => if social { "oauth" } else { "local" })
            .increment(1);
        Ok(id)
    }
}
