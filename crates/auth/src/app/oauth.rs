//! OAuth login: authorize (a fresh state bound to the browser), callback (the state taken out once and checked,
//! the provider asked who the user is — outside any transaction — then the member found or created), and a
//! first-time external identity's member.

use pinit_kernel::db::DbError;

use super::limits::Count;
use super::{Auth, AuthError, Result, Session};
use crate::domain::{Bucket, MemberId, Nickname, OAUTH_STATE_TTL, OAuthState};
use crate::oauth::{ExternalIdentity, Provider};
use crate::store::{self, members::NewMember};
use crate::tokens;

/// Where an OAuth login starts: the provider URL to send the browser to, and the binding secret to keep in a
/// short-lived cookie.
#[derive(Debug)]
pub struct AuthorizeRedirect {
    pub location: String,
    pub binding: String,
}

/// A provider's redirect back to us, as the browser brought it.
#[derive(Debug, Clone, Copy)]
pub struct OAuthCallback<'a> {
    /// The client's address (rate limiting).
    pub client_ip: &'a str,
    /// The provider's name in the path.
    pub provider: &'a str,
    pub code: Option<&'a str>,
    pub state: Option<&'a str>,
    /// The browser-binding cookie's value.
    pub binding: Option<&'a str>,
}

impl Auth {
    fn provider(&self, name: &str) -> Result<&Provider> {
        self.inner
            .providers
            .get(name)
            .ok_or_else(|| AuthError::UnknownProvider(name.to_string()))
    }

    /// Starts an OAuth login: a fresh state (stored hashed, single use, 5 minutes), bound to the browser by a
    /// secret the caller sets as a cookie, and a PKCE verifier when the provider supports it.
    pub async fn oauth_authorize(&self, provider: &str) -> Result<AuthorizeRedirect> {
        let p = self.provider(provider)?;
        let state = tokens::new_refresh_token();
        let binding = tokens::new_refresh_token();
        let (verifier, challenge) = if p.uses_pkce() {
            let (v, c) = crate::oauth::pkce_pair();
            (Some(v), Some(c))
        } else {
            (None, None)
        };
        let stored = OAuthState {
            provider: provider.to_string(),
            binding_hash: tokens::digest(&binding),
            pkce_verifier: verifier,
            expires_at: pinit_kernel::clock::later(self.now(), OAUTH_STATE_TTL),
        };
        let mut conn = self.inner.db.conn().await?;
        store::oauth_states::insert(&mut conn, &tokens::digest(&state), &stored).await?;
        Ok(AuthorizeRedirect {
            location: p.authorization_url(&state, challenge.as_deref()),
            binding,
        })
    }

    /// Completes an OAuth login: consumes the state (once, same provider, same browser, not expired),
    /// identifies the member at the provider (no transaction held), then finds or creates the member.
    pub async fn oauth_callback(&self, callback: OAuthCallback<'_>) -> Result<Session> {
        self.limit(Bucket::LoginPerIp(callback.client_ip), Count::Hit)
            .await?;
        let p = self.provider(callback.provider)?;
        let state = callback
            .state
            .filter(|s| !s.is_empty())
            .ok_or(AuthError::OAuthState("Missing state parameter"))?;
        let stored = self.take_state(&callback, state).await?;
        let code = callback
            .code
            .filter(|c| !c.is_empty())
            .ok_or(AuthError::OAuthState("Missing code parameter"))?;
        let identity = p
            .identify(code, state, stored.pkce_verifier.as_deref())
            .await?;

        let mut conn = self.inner.db.conn().await?;
        let existing = store::oauth_accounts::member_of(&mut conn, &identity).await?;
        drop(conn);
        let member = match existing {
            Some(id) => id,
            None => self.signup_external(&identity).await?,
        };
        self.start_session(member).await
    }

    /// Takes the callback's state out and checks it: not expired, this provider's, this browser's.
    async fn take_state(&self, callback: &OAuthCallback<'_>, state: &str) -> Result<OAuthState> {
        let mut conn = self.inner.db.conn().await?;
        let stored = store::oauth_states::take(&mut conn, &tokens::digest(state))
            .await?
            .ok_or(AuthError::OAuthState("Invalid or expired state"))?;
        drop(conn);
        let binding_hash = callback.binding.map(tokens::digest);
        stored
            .check(callback.provider, binding_hash.as_deref(), self.now())
            .map_err(|refused| AuthError::OAuthState(refused.message()))?;
        Ok(stored)
    }

    /// A member for a first-time external identity: a random username and an unusable password, as the
    /// reference does. Two concurrent first logins of one identity: the loser finds the winner's member.
    async fn signup_external(&self, identity: &ExternalIdentity) -> Result<MemberId> {
        let username = format!("oauth-{}", uuid::Uuid::new_v4().simple());
        let unusable = self.inner.hasher.hash(&tokens::new_refresh_token()).await?;
        let nickname = identity.nickname.as_deref().and_then(Nickname::lenient);
        let member = NewMember {
            username: &username,
            password_hash: &unusable,
            nickname: nickname.as_ref(),
            zone: &self.inner.default_zone,
            social_login: true,
            now: self.now(),
        };
        match self.create_member(&member, Some(identity)).await {
            Err(AuthError::Db(DbError::Duplicate { .. })) | Err(AuthError::DuplicateUsername) => {
                let mut conn = self.inner.db.conn().await?;
                store::oauth_accounts::member_of(&mut conn, identity)
                    .await?
                    .ok_or(AuthError::OAuthState("concurrent first login; try again"))
            }
            other => other,
        }
    }
}
