//! Personal API tokens (docs/adr/0018-personal-api-tokens.md): made (the secret shown once), listed, deleted by
//! their member — only from a session, which [`crate::http`] enforces — and checked for the gateway when a
//! script sends `Authorization: Bearer pinit_pat_…`.

use pinit_kernel::clock::truncate_to_micros;
use pinit_kernel::db::DbError;

use super::{Auth, AuthError, Result};
use crate::domain::api_token::{self, SECRET_CHARS, may_create};
use crate::domain::{
    ApiToken, ApiTokenId, ApiTokenMatch, ApiTokenName, MemberId, Scopes, TokenSecret,
};
use crate::store::credentials::Table;
use crate::store::{self, api_tokens::NewApiToken};
use crate::tokens;

/// A new API token, and its secret: shown to the member this once, never again.
#[derive(Debug)]
pub struct CreatedApiToken {
    pub token: ApiToken,
    pub secret: TokenSecret,
}

/// A token as the member asked for it (every field may be missing; the domain judges them).
#[derive(Debug, Clone, Copy, Default)]
pub struct NewToken<'a> {
    pub name: Option<&'a str>,
    pub scopes: Option<&'a [String]>,
    /// RFC 3339; never expires when absent.
    pub expires_at: Option<&'a str>,
}

impl Auth {
    /// Makes an API token for `member` (at most [`crate::domain::MAX_API_TOKENS`]). Every invalid field is
    /// named in the refusal.
    pub async fn create_api_token(
        &self,
        member: MemberId,
        asked: NewToken<'_>,
    ) -> Result<CreatedApiToken> {
        let now = truncate_to_micros(self.now());
        let name = ApiTokenName::parse(asked.name);
        let scopes = Scopes::parse(asked.scopes);
        let expires_at = api_token::expiry(asked.expires_at, now);
        let (name, scopes, expires_at) = match (name, scopes, expires_at) {
            (Ok(n), Ok(s), Ok(e)) => (n, s, e.map(truncate_to_micros)),
            (n, s, e) => {
                let problems = [n.err(), s.err(), e.err()].into_iter().flatten().collect();
                return Err(AuthError::Invalid(problems));
            }
        };
        let secret = TokenSecret::from_random(rand::random::<[u8; SECRET_CHARS]>());
        let mut tx = self
            .begin_adding(
                member,
                Table::ApiToken,
                may_create,
                AuthError::ApiTokenLimit,
            )
            .await?;
        let new = NewApiToken {
            member,
            name: &name,
            scopes: &scopes,
            digest: &tokens::digest(secret.expose()),
            now,
            expires_at,
        };
        let id = store::api_tokens::insert(&mut tx, &new).await?;
        tx.commit().await.map_err(DbError::from)?;
        tracing::info!(
            member_id = member.get(),
            api_token_id = id.get(),
            scopes = %scopes.stored(),
            "API token created"
        );
        Ok(CreatedApiToken {
            token: ApiToken {
                id,
                name: name.as_str().to_string(),
                scopes,
                created_at: now,
                expires_at,
                last_used_at: None,
            },
            secret,
        })
    }

    /// A member's API tokens, oldest first, without their secrets.
    pub async fn api_tokens(&self, member: MemberId) -> Result<Vec<ApiToken>> {
        let mut conn = self.inner.db.conn().await?;
        Ok(store::api_tokens::list(&mut conn, member).await?)
    }

    /// Deletes one of the member's API tokens. The gateways stop accepting it within their cache's bound.
    pub async fn delete_api_token(&self, member: MemberId, id: ApiTokenId) -> Result<()> {
        let mut conn = self.inner.db.conn().await?;
        if !store::credentials::delete(&mut conn, Table::ApiToken, member, id.get()).await? {
            return Err(AuthError::ApiTokenNotFound);
        }
        tracing::info!(
            member_id = member.get(),
            api_token_id = id.get(),
            "API token deleted"
        );
        Ok(())
    }

    /// The live token a script presented: known, not expired, of a member who is not disabled. Anything else is
    /// the one refusal [`AuthError::BadApiToken`]; a value without a token's shape is refused without a query.
    /// The use is written down at most once a minute.
    pub async fn check_api_token(&self, presented: &str) -> Result<ApiTokenMatch> {
        let now = truncate_to_micros(self.now());
        let found = match TokenSecret::presented(presented) {
            Some(secret) => {
                let mut conn = self.inner.db.conn().await?;
                store::api_tokens::matching(&mut conn, &tokens::digest(secret.expose())).await?
            }
            None => None,
        };
        let Some(found) = found.filter(|t| t.is_live(now)) else {
            metrics::counter!("auth_api_token_failures_total").increment(1);
            return Err(AuthError::BadApiToken);
        };
        if found.needs_touch(now) {
            let mut conn = self.inner.db.conn().await?;
            store::credentials::touch(&mut conn, Table::ApiToken, found.id.get(), now).await?;
        }
        Ok(found)
    }
}
