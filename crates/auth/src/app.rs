//! Auth's use cases. Each is one short transaction (remote calls and password hashing happen outside it);
//! signup's `member.created` is recorded in the same transaction as the member.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use pinit_contracts::events::{MemberCreated, channel};
use pinit_kernel::SharedClock;
use pinit_kernel::db::{Db, DbError};
use pinit_messaging::message::OutgoingEvent;
use pinit_messaging::outbox::{Outbox, OutboxError};

use crate::domain::{self, Invalid, Nickname, Signup, ZoneId};
use crate::oauth::{ExternalIdentity, OAuthError, ProviderRegistry};
use crate::password::{Hasher, PasswordError, Verdict};
use crate::settings::Settings;
use crate::store::{self, MemberRow, StateRow};
use crate::tokens::{self, TokenIssuer};

/// Why a use case refused or failed. [`crate::http`] maps each to a status and a `{"message"}` body.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid input")]
    Invalid(Vec<Invalid>),
    #[error("{}", domain::DUPLICATE_USERNAME)]
    DuplicateUsername,
    #[error("{}", domain::BAD_CREDENTIALS)]
    BadCredentials,
    /// Missing, unknown, expired, revoked or reused refresh token, or a bad access token.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    #[error("too many attempts")]
    RateLimited { retry_after_secs: u64 },
    #[error("지원하지 않는 provider 입니다. provider={0}")]
    UnknownProvider(String),
    #[error("{0}")]
    OAuthState(&'static str),
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("token signing failed: {0}")]
    Signing(#[from] pinit_kernel::jwt::JwtError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// A login's outcome: an access token, and a refresh token to set as the cookie (absent when a concurrent
/// refresh inside the grace window already rotated it — the browser keeps the cookie the winner set).
#[derive(Debug)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: Option<String>,
}

/// Where an OAuth login starts: the provider URL to send the browser to, and the binding secret to keep in a
/// short-lived cookie.
#[derive(Debug)]
pub struct AuthorizeRedirect {
    pub location: String,
    pub binding: String,
}

pub const OAUTH_STATE_TTL: Duration = Duration::from_secs(5 * 60);

/// How a rate-limited operation counts against its window.
#[derive(Clone, Copy)]
enum Count {
    Hit,
    Peek,
    Record,
}

/// The auth context's services, shared by every request.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    clock: SharedClock,
    hasher: Hasher,
    tokens: TokenIssuer,
    settings: Settings,
    outbox: Outbox,
    providers: ProviderRegistry,
}

impl Auth {
    pub fn new(
        db: Db,
        clock: SharedClock,
        hasher: Hasher,
        tokens: TokenIssuer,
        settings: Settings,
        outbox: Outbox,
        providers: ProviderRegistry,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                hasher,
                tokens,
                settings,
                outbox,
                providers,
            }),
        }
    }

    pub fn tokens(&self) -> &TokenIssuer {
        &self.inner.tokens
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub fn providers(&self) -> &ProviderRegistry {
        &self.inner.providers
    }

    fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// Local signup. Emits `member.created` with the member's zone.
    pub async fn signup(
        &self,
        client_ip: &str,
        username: Option<&str>,
        password: Option<&str>,
        nickname: Option<&str>,
        zone: Option<&str>,
    ) -> Result<i64, AuthError> {
        let rl = &self.inner.settings.rate_limit;
        self.limit(
            &format!("signup:ip:{client_ip}"),
            rl.signup_per_ip,
            Count::Hit,
        )
        .await?;
        let signup =
            Signup::parse(username, password, nickname, zone).map_err(AuthError::Invalid)?;
        let hash = self.inner.hasher.hash(signup.password.expose()).await?;
        let zone = signup.zone.unwrap_or_else(|| self.default_zone());
        self.create_member(
            signup.username.as_str(),
            &hash,
            signup.nickname.as_ref(),
            &zone,
            None,
        )
        .await
    }

    fn default_zone(&self) -> ZoneId {
        self.inner
            .settings
            .default_zone
            .parse()
            .or_else(|_| pinit_kernel::DEFAULT_ZONE.parse())
            .expect("the default zone is in the bundled tz database")
    }

    /// Inserts the member (and its OAuth link), records `member.created`, commits, wakes the relay.
    async fn create_member(
        &self,
        username: &str,
        password_hash: &str,
        nickname: Option<&Nickname>,
        zone: &ZoneId,
        link: Option<&ExternalIdentity>,
    ) -> Result<i64, AuthError> {
        let now = self.now();
        let mut tx = self.inner.db.begin().await?;
        let member_id = store::insert_member(
            &mut tx,
            username,
            password_hash,
            nickname.map(Nickname::as_str),
            zone.as_str(),
            link.is_some(),
            now.as_microsecond(),
        )
        .await
        .map_err(|e| match e {
            DbError::Duplicate { .. } => AuthError::DuplicateUsername,
            other => AuthError::Db(other),
        })?;
        if let Some(identity) = link {
            store::link_oauth(
                &mut tx,
                &identity.issuer,
                &identity.subject,
                member_id,
                now.as_microsecond(),
            )
            .await?;
        }
        let payload = MemberCreated {
            member_id,
            nickname: nickname.map(|n| n.as_str().to_string()),
            occurred_at: now,
            idempotent_key: None,
            zone_id: Some(zone.as_str().to_string()),
        };
        let event = OutgoingEvent::new(
            channel::MEMBER_CREATED,
            "member",
            member_id,
            1,
            &payload,
            now,
        )
        .map_err(OutboxError::from)?;
        self.inner.outbox.record(&mut tx, event).await?;
        self.inner.outbox.commit(tx).await?;
        tracing::info!(member_id, social = link.is_some(), "member created");
        metrics::counter!("auth_signups_total", "kind" => if link.is_some() { "oauth" } else { "local" })
            .increment(1);
        Ok(member_id)
    }

    /// Password login.
    pub async fn login(
        &self,
        client_ip: &str,
        username: Option<&str>,
        password: Option<&str>,
    ) -> Result<Session, AuthError> {
        let rl = &self.inner.settings.rate_limit;
        self.limit(
            &format!("login:ip:{client_ip}"),
            rl.login_per_ip,
            Count::Hit,
        )
        .await?;
        let username = username.unwrap_or_default().trim();
        let password = password.unwrap_or_default();
        let user_bucket = format!("login:user:{username}");
        self.limit(&user_bucket, rl.login_failures_per_username, Count::Peek)
            .await?;

        let mut conn = self.inner.db.conn().await?;
        let found = if username.is_empty() {
            None
        } else {
            store::credentials(&mut conn, username).await?
        };
        drop(conn);
        let verdict = self
            .inner
            .hasher
            .verify(password, found.as_ref().map(|(_, h)| h.as_str()))
            .await?;
        let member_id = match (verdict, found) {
            (Verdict::Match, Some((id, _))) => id,
            (Verdict::MatchRehashed(new_hash), Some((id, _))) => {
                let mut conn = self.inner.db.conn().await?;
                store::set_password_hash(&mut conn, id, &new_hash).await?;
                tracing::info!(member_id = id, "password hash upgraded");
                id
            }
            _ => {
                self.limit(&user_bucket, 0, Count::Record).await?;
                metrics::counter!("auth_login_failures_total").increment(1);
                return Err(AuthError::BadCredentials);
            }
        };
        self.start_session(member_id).await
    }

    /// A new refresh-token family and its first token, plus an access token.
    async fn start_session(&self, member_id: i64) -> Result<Session, AuthError> {
        let now = self.now();
        let refresh = tokens::new_refresh_token();
        let family = uuid::Uuid::now_v7().to_string();
        let mut tx = self.inner.db.begin().await?;
        store::create_family(&mut tx, &family, member_id, now.as_microsecond()).await?;
        store::insert_refresh(
            &mut tx,
            &tokens::digest(&refresh),
            &family,
            now.as_microsecond(),
            self.refresh_expiry(now),
        )
        .await?;
        tx.commit().await.map_err(DbError::from)?;
        Ok(Session {
            access_token: self.inner.tokens.access_token(member_id, now)?,
            refresh_token: Some(refresh),
        })
    }

    fn refresh_expiry(&self, now: Timestamp) -> i64 {
        let ttl = self.inner.settings.refresh_token_ttl.get().as_micros();
        now.as_microsecond()
            .saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX))
    }

    /// Exchanges a refresh token for a new access token and a rotated refresh token.
    ///
    /// * unknown, expired or revoked → 401;
    /// * already rotated within the grace window → an access token, no new refresh token (a concurrent refresh
    ///   of the same client won the race);
    /// * already rotated before that → reuse of a stolen token: the whole family is revoked, 401.
    pub async fn refresh(
        &self,
        client_ip: &str,
        token: Option<&str>,
    ) -> Result<Session, AuthError> {
        let rl = &self.inner.settings.rate_limit;
        self.limit(
            &format!("refresh:ip:{client_ip}"),
            rl.refresh_per_ip,
            Count::Hit,
        )
        .await?;
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Unauthorized("no refresh token"))?;
        let hash = tokens::digest(token);
        let now = self.now();
        let now_us = now.as_microsecond();
        let db = &self.inner.db;
        let mut tx = db.begin().await?;
        let row = store::refresh_for_update(&mut tx, db.backend(), &hash)
            .await?
            .ok_or(AuthError::Unauthorized("unknown refresh token"))?;
        if row.family_revoked {
            return Err(AuthError::Unauthorized("revoked refresh token"));
        }
        if row.expires_at_us <= now_us {
            return Err(AuthError::Unauthorized("expired refresh token"));
        }
        if store::member(&mut tx, row.member_id).await?.is_none() {
            return Err(AuthError::Unauthorized("member no longer exists"));
        }
        if let Some(rotated_at) = row.rotated_at_us {
            let grace =
                i64::try_from(self.inner.settings.refresh_grace.get().as_micros()).unwrap_or(0);
            if now_us - rotated_at <= grace {
                tx.commit().await.map_err(DbError::from)?;
                return Ok(Session {
                    access_token: self.inner.tokens.access_token(row.member_id, now)?,
                    refresh_token: None,
                });
            }
            store::revoke_family(&mut tx, &row.family_id, now_us, "reuse").await?;
            tx.commit().await.map_err(DbError::from)?;
            tracing::warn!(
                member_id = row.member_id,
                family = %row.family_id,
                "refresh token reused after rotation; the session is revoked"
            );
            metrics::counter!("auth_refresh_reuse_total").increment(1);
            return Err(AuthError::Unauthorized("refresh token reuse"));
        }
        if !store::mark_rotated(&mut tx, &hash, now_us).await? {
            return Err(AuthError::Unauthorized("refresh token already rotated"));
        }
        let next = tokens::new_refresh_token();
        store::insert_refresh(
            &mut tx,
            &tokens::digest(&next),
            &row.family_id,
            now_us,
            self.refresh_expiry(now),
        )
        .await?;
        tx.commit().await.map_err(DbError::from)?;
        Ok(Session {
            access_token: self.inner.tokens.access_token(row.member_id, now)?,
            refresh_token: Some(next),
        })
    }

    /// Revokes the session of a refresh token. Unknown tokens are fine: logout always succeeds.
    pub async fn logout(&self, token: Option<&str>) -> Result<(), AuthError> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Ok(());
        };
        let mut conn = self.inner.db.conn().await?;
        if let Some(family) = store::family_of(&mut conn, &tokens::digest(token)).await? {
            store::revoke_family(&mut conn, &family, self.now().as_microsecond(), "logout").await?;
        }
        Ok(())
    }

    /// The member of a valid access token.
    pub fn authenticate(&self, bearer: Option<&str>) -> Result<i64, AuthError> {
        let token = bearer.ok_or(AuthError::Unauthorized("no access token"))?;
        self.inner
            .tokens
            .verify_access(token, self.now())
            .map_err(|e| {
                tracing::debug!(error = %e, "access token refused");
                AuthError::Unauthorized("invalid access token")
            })
    }

    pub async fn me(&self, member_id: i64) -> Result<MemberRow, AuthError> {
        let mut conn = self.inner.db.conn().await?;
        store::member(&mut conn, member_id)
            .await?
            .ok_or(AuthError::Unauthorized("member no longer exists"))
    }

    /// Starts an OAuth login: a fresh state (stored hashed, single use, 5 minutes), bound to the browser by a
    /// secret the caller sets as a cookie, and a PKCE verifier when the provider supports it.
    pub async fn oauth_authorize(&self, provider: &str) -> Result<AuthorizeRedirect, AuthError> {
        let p = self
            .inner
            .providers
            .get(provider)
            .ok_or_else(|| AuthError::UnknownProvider(provider.to_string()))?;
        let state = tokens::new_refresh_token();
        let binding = tokens::new_refresh_token();
        let (verifier, challenge) = if p.uses_pkce() {
            let (v, c) = crate::oauth::pkce_pair();
            (Some(v), Some(c))
        } else {
            (None, None)
        };
        let expires =
            self.now().as_microsecond() + i64::try_from(OAUTH_STATE_TTL.as_micros()).unwrap_or(0);
        let mut conn = self.inner.db.conn().await?;
        store::insert_state(
            &mut conn,
            &tokens::digest(&state),
            &StateRow {
                provider: provider.to_string(),
                binding_hash: tokens::digest(&binding),
                pkce_verifier: verifier,
                expires_at_us: expires,
            },
        )
        .await?;
        Ok(AuthorizeRedirect {
            location: p.authorization_url(&state, challenge.as_deref()),
            binding,
        })
    }

    /// Completes an OAuth login: consumes the state (once, same provider, same browser, not expired),
    /// identifies the member at the provider (no transaction held), then finds or creates the member.
    pub async fn oauth_callback(
        &self,
        client_ip: &str,
        provider: &str,
        code: Option<&str>,
        state: Option<&str>,
        binding: Option<&str>,
    ) -> Result<Session, AuthError> {
        let rl = &self.inner.settings.rate_limit;
        self.limit(
            &format!("login:ip:{client_ip}"),
            rl.login_per_ip,
            Count::Hit,
        )
        .await?;
        let p = self
            .inner
            .providers
            .get(provider)
            .ok_or_else(|| AuthError::UnknownProvider(provider.to_string()))?;
        let state = state
            .filter(|s| !s.is_empty())
            .ok_or(AuthError::OAuthState("Missing state parameter"))?;
        let mut conn = self.inner.db.conn().await?;
        let stored = store::take_state(&mut conn, &tokens::digest(state))
            .await?
            .ok_or(AuthError::OAuthState("Invalid or expired state"))?;
        drop(conn);
        if stored.expires_at_us <= self.now().as_microsecond() {
            return Err(AuthError::OAuthState("Invalid or expired state"));
        }
        if stored.provider != provider {
            return Err(AuthError::OAuthState(
                "State does not belong to this provider",
            ));
        }
        let bound = binding.is_some_and(|b| tokens::digest(b) == stored.binding_hash);
        if !bound {
            return Err(AuthError::OAuthState(
                "State does not belong to this browser",
            ));
        }
        let code = code
            .filter(|c| !c.is_empty())
            .ok_or(AuthError::OAuthState("Missing code parameter"))?;
        let identity = p
            .identify(code, state, stored.pkce_verifier.as_deref())
            .await?;

        let mut conn = self.inner.db.conn().await?;
        let existing = store::oauth_member(&mut conn, &identity.issuer, &identity.subject).await?;
        drop(conn);
        let member_id = match existing {
            Some(id) => id,
            None => self.signup_external(&identity).await?,
        };
        self.start_session(member_id).await
    }

    /// A member for a first-time external identity: a random username and an unusable password, as the
    /// reference does. Two concurrent first logins of one identity: the loser finds the winner's member.
    async fn signup_external(&self, identity: &ExternalIdentity) -> Result<i64, AuthError> {
        let username = format!("oauth-{}", uuid::Uuid::new_v4().simple());
        let unusable = self.inner.hasher.hash(&tokens::new_refresh_token()).await?;
        let nickname = identity.nickname.as_deref().and_then(Nickname::lenient);
        match self
            .create_member(
                &username,
                &unusable,
                nickname.as_ref(),
                &self.default_zone(),
                Some(identity),
            )
            .await
        {
            Err(AuthError::Db(DbError::Duplicate { .. })) | Err(AuthError::DuplicateUsername) => {
                let mut conn = self.inner.db.conn().await?;
                store::oauth_member(&mut conn, &identity.issuer, &identity.subject)
                    .await?
                    .ok_or(AuthError::OAuthState("concurrent first login; try again"))
            }
            other => other,
        }
    }

    /// Deletes expired OAuth states, old rate-limit windows and long-expired sessions.
    pub async fn prune(&self) -> Result<u64, AuthError> {
        let mut conn = self.inner.db.conn().await?;
        let window =
            i64::try_from(self.inner.settings.rate_limit.window.get().as_micros()).unwrap_or(0);
        Ok(store::prune(&mut conn, self.now().as_microsecond(), window).await?)
    }

    // Rate limiting: fixed windows counted in the database, so every replica sees the same counts.

    fn window(&self) -> (i64, i64) {
        let window = i64::try_from(self.inner.settings.rate_limit.window.get().as_micros())
            .unwrap_or(60_000_000)
            .max(1);
        let now = self.now().as_microsecond();
        let start = now - now.rem_euclid(window);
        (start, start + window - now)
    }

    fn retry_after(remaining_us: i64) -> u64 {
        u64::try_from((remaining_us + 999_999) / 1_000_000)
            .unwrap_or(1)
            .max(1)
    }

    /// Applies a rate limit to `bucket`: counts this attempt (`Hit`), only looks (`Peek`) or only counts
    /// (`Record`, e.g. a failed login), refusing when the window already holds `limit` attempts.
    async fn limit(&self, bucket: &str, limit: u32, mode: Count) -> Result<(), AuthError> {
        if !self.inner.settings.rate_limit.enabled {
            return Ok(());
        }
        let (start, remaining) = self.window();
        let mut conn = self.inner.db.conn().await?;
        let before = match mode {
            Count::Hit => store::add_hits(&mut conn, bucket, start, 1).await? - 1,
            Count::Peek => store::hits(&mut conn, bucket, start).await?,
            Count::Record => {
                store::add_hits(&mut conn, bucket, start, 1).await?;
                return Ok(());
            }
        };
        if before >= i64::from(limit) {
            metrics::counter!("auth_rate_limited_total").increment(1);
            return Err(AuthError::RateLimited {
                retry_after_secs: Self::retry_after(remaining),
            });
        }
        Ok(())
    }
}
