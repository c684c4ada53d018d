//! App passwords for calendar apps (docs/adr/0016-app-passwords.md): made (the secret shown once), listed,
//! deleted by their member; checked for the gateway when a calendar app signs in with HTTP Basic, rate-limited
//! like login.

use pinit_kernel::clock::truncate_to_micros;
use pinit_kernel::db::DbError;

use super::limits::Count;
use super::{Auth, AuthError, Result};
use crate::domain::app_password::{SECRET_CHARS, may_create};
use crate::domain::{AppPassword, AppPasswordId, AppPasswordName, AppSecret, Bucket, MemberId};
use crate::store::credentials::Table;
use crate::store::{self, app_passwords::NewAppPassword};
use crate::tokens;

/// A new app password, and its secret: shown to the member this once, never again.
#[derive(Debug)]
pub struct CreatedAppPassword {
    pub password: AppPassword,
    pub secret: AppSecret,
}

impl Auth {
    /// Makes an app password named `name` for `member` (at most [`crate::domain::MAX_APP_PASSWORDS`]).
    pub async fn create_app_password(
        &self,
        member: MemberId,
        name: Option<&str>,
    ) -> Result<CreatedAppPassword> {
        let name = AppPasswordName::parse(name).map_err(|e| AuthError::Invalid(vec![e]))?;
        let secret = AppSecret::from_random(rand::random::<[u8; SECRET_CHARS]>());
        let now = truncate_to_micros(self.now());
        let mut tx = self
            .begin_adding(
                member,
                Table::AppPassword,
                may_create,
                AuthError::AppPasswordLimit,
            )
            .await?;
        let new = NewAppPassword {
            member,
            name: &name,
            digest: &tokens::digest(secret.expose()),
            now,
        };
        let id = store::app_passwords::insert(&mut tx, &new).await?;
        tx.commit().await.map_err(DbError::from)?;
        tracing::info!(
            member_id = member.get(),
            app_password_id = id.get(),
            "app password created"
        );
        Ok(CreatedAppPassword {
            password: AppPassword {
                id,
                name: name.as_str().to_string(),
                created_at: now,
                last_used_at: None,
            },
            secret,
        })
    }

    /// A member's app passwords, oldest first, without their secrets.
    pub async fn app_passwords(&self, member: MemberId) -> Result<Vec<AppPassword>> {
        let mut conn = self.inner.db.conn().await?;
        Ok(store::app_passwords::list(&mut conn, member).await?)
    }

    /// Deletes one of the member's app passwords. The gateways stop accepting it within their cache's bound.
    pub async fn delete_app_password(&self, member: MemberId, id: AppPasswordId) -> Result<()> {
        let mut conn = self.inner.db.conn().await?;
        if !store::credentials::delete(&mut conn, Table::AppPassword, member, id.get()).await? {
            return Err(AuthError::AppPasswordNotFound);
        }
        tracing::info!(
            member_id = member.get(),
            app_password_id = id.get(),
            "app password deleted"
        );
        Ok(())
    }

    /// The member whose username and app password a calendar app presented. Failures are counted per client
    /// address and per username with login's allowances; a full window refuses (429) before anything is
    /// looked up. An unknown username and a wrong password are the same refusal. The use is written down at
    /// most once a minute.
    pub async fn check_app_password(
        &self,
        client_ip: &str,
        username: &str,
        password: &str,
    ) -> Result<MemberId> {
        let username = username.trim();
        let per_ip = Bucket::AppPasswordFailuresPerIp(client_ip);
        let per_user = Bucket::AppPasswordFailures(username);
        self.limit(per_ip, Count::Peek).await?;
        self.limit(per_user, Count::Peek).await?;
        let mut conn = self.inner.db.conn().await?;
        let found = match AppSecret::presented(password) {
            Some(secret) if !username.is_empty() => {
                let digest = tokens::digest(secret.expose());
                store::app_passwords::matching(&mut conn, username, &digest).await?
            }
            _ => None,
        };
        drop(conn);
        let Some(found) = found else {
            self.limit(per_ip, Count::Record).await?;
            self.limit(per_user, Count::Record).await?;
            metrics::counter!("auth_app_password_failures_total").increment(1);
            return Err(AuthError::BadAppPassword);
        };
        let now = truncate_to_micros(self.now());
        if found.needs_touch(now) {
            let mut conn = self.inner.db.conn().await?;
            store::credentials::touch(&mut conn, Table::AppPassword, found.id.get(), now).await?;
        }
        Ok(found.member)
    }
}
