//! Auth's use cases, on the [`Auth`] service. Each is one short transaction; password hashing and provider
//! calls happen outside it. Signup's `member.created` is recorded in the same transaction as the member.
//!
//! * [`signup`] — local signup, and the member creation every signup shares.
//! * [`session`] — login, refresh (rotation, reuse detection), logout, access-token checks, `/v0/me`.
//! * [`oauth`] — OAuth login: authorize, callback, a first-time external identity's member.
//! * [`limits`] — rate limiting, counted in the database so every replica sees the same counts.
//! * [`housekeeping`] — deleting what can no longer matter.
//! * [`app_passwords`] — app passwords for calendar apps: create, list, delete, and the gateway's check.
//! * [`api_tokens`] — personal API tokens: create, list, delete, and the gateway's check.
//! * [`account`] — the member's own account: changing the password, deleting the account.
//! * [`operator`] — what an operator does from the command line: list, reset a password, disable, enable.
//! * `outbound` — the only place an auth event becomes an outbox row.

pub mod account;
pub mod api_tokens;
pub mod app_passwords;
pub mod housekeeping;
pub mod limits;
pub mod oauth;
pub mod operator;
mod outbound;
pub mod session;
pub mod signup;

use std::sync::Arc;

use jiff::Timestamp;
use pinit_kernel::SharedClock;
use pinit_kernel::db::{Db, DbError, Tx};
use pinit_messaging::outbox::{Outbox, OutboxError};

use crate::domain::{self, Invalid, MemberId, ZoneId};
use crate::oauth::{OAuthError, ProviderRegistry};
use crate::password::{Hasher, PasswordError};
use crate::settings::Settings;
use crate::store::{self, credentials::Table};
use crate::tokens::TokenIssuer;

pub use crate::domain::OAUTH_STATE_TTL;
pub use api_tokens::CreatedApiToken;
pub use app_passwords::CreatedAppPassword;
pub use oauth::{AuthorizeRedirect, OAuthCallback};
pub use operator::Operator;
pub use session::Session;
pub use signup::SignupRequest;

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
    /// A calendar app's username and app password do not match (or are no app password at all).
    #[error("wrong username or app password")]
    BadAppPassword,
    #[error("{}", domain::APP_PASSWORD_LIMIT)]
    AppPasswordLimit,
    #[error("{}", domain::APP_PASSWORD_NOT_FOUND)]
    AppPasswordNotFound,
    /// A bearer credential that is no live API token (unknown, deleted, expired, or of a disabled member).
    #[error("unknown, revoked or expired API token")]
    BadApiToken,
    #[error("{}", domain::API_TOKEN_LIMIT)]
    ApiTokenLimit,
    #[error("{}", domain::API_TOKEN_NOT_FOUND)]
    ApiTokenNotFound,
    /// The member was disabled by an operator (a login with the right password is told so).
    #[error("{}", domain::ACCOUNT_DISABLED)]
    Disabled,
    /// An account deletion with the wrong password.
    #[error("{}", domain::deletion::WRONG_PASSWORD)]
    WrongPassword,
    /// An account deletion without a password by a member made by an OAuth login, whose session is no fresh
    /// login.
    #[error("{}", domain::deletion::FRESH_LOGIN_REQUIRED)]
    FreshLoginRequired,
    /// An operator named a member that does not exist.
    #[error("no member is called {0:?}")]
    NoSuchMember(String),
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

pub type Result<T> = std::result::Result<T, AuthError>;

/// The auth context's services, shared by every request. Cheap to clone.
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
    /// The zone of members who sign up without one.
    default_zone: ZoneId,
}

impl Auth {
    /// `outbox` is the auth database's outbox (its relay publishes `member.created`).
    pub fn new(
        db: Db,
        clock: SharedClock,
        hasher: Hasher,
        tokens: TokenIssuer,
        settings: Settings,
        outbox: Outbox,
        providers: ProviderRegistry,
    ) -> Self {
        let default_zone = ZoneId::default_for(&settings.default_zone);
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                hasher,
                tokens,
                settings,
                outbox,
                providers,
                default_zone,
            }),
        }
    }

    pub fn tokens(&self) -> &TokenIssuer {
        &self.inner.tokens
    }

    /// The public keys accepted now, as `/.well-known/jwks.json` publishes them.
    pub fn jwks(&self) -> pinit_kernel::jwt::Jwks {
        self.inner.tokens.jwks(self.now())
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

    /// A transaction to add a row to `member`'s `table` of credentials, holding the member's row lock so that
    /// concurrent requests cannot pass `may_create`'s limit (refused with `full`).
    async fn begin_adding(
        &self,
        member: MemberId,
        table: Table,
        may_create: fn(usize) -> bool,
        full: AuthError,
    ) -> Result<Tx> {
        let db = &self.inner.db;
        let mut tx = db.begin().await?;
        if !store::members::lock(&mut tx, db.backend(), member).await? {
            return Err(AuthError::Unauthorized("member no longer exists"));
        }
        if !may_create(store::credentials::count(&mut tx, table, member).await?) {
            return Err(full);
        }
        Ok(tx)
    }
}
