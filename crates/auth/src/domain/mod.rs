//! Auth's rules as pure code: no database, no HTTP, no clock, no async. Operations take the current instant as
//! an argument (`now`, from the server clock).
//!
//! * [`input`] — what a username, password, nickname or zone may be, and a valid signup.
//! * [`member`] — member ids, a member as stored, the credentials a login checks.
//! * [`refresh`] — refresh-token families and the rotation rule: rotate, grace, reuse, expired, revoked.
//! * [`oauth_state`] — an OAuth login in flight and the checks its callback makes (expiry, provider, browser).
//! * [`limits`] — the fixed rate-limit windows: buckets, window arithmetic, `Retry-After`.
//! * [`app_password`] — app passwords for calendar apps: names, the secret's format, the limit.
//! * [`api_token`] — personal API tokens: names, scopes, expiry, the secret's format, the limit.
//! * [`secret`] — what both share: base32 secrets, names, when a use is written down.
//!
//! The database keeps instants as microseconds since the epoch; the rules compare them at that precision.

pub mod api_token;
pub mod app_password;
pub mod input;
pub mod limits;
pub mod member;
pub mod oauth_state;
pub mod refresh;
pub mod secret;

pub use api_token::{
    API_TOKEN_LIMIT, API_TOKEN_NOT_FOUND, ApiToken, ApiTokenId, ApiTokenMatch, ApiTokenName,
    MAX_API_TOKENS, Scopes, TokenSecret,
};
pub use app_password::{
    APP_PASSWORD_LIMIT, APP_PASSWORD_NAME_RULE, APP_PASSWORD_NOT_FOUND, AppPassword, AppPasswordId,
    AppPasswordMatch, AppPasswordName, AppSecret, MAX_APP_PASSWORDS,
};
pub use input::{
    BAD_CREDENTIALS, DUPLICATE_USERNAME, Invalid, NICKNAME_RULE, Nickname, PASSWORD_RULE, Password,
    Signup, USERNAME_RULE, Username, ZONE_RULE, ZoneId,
};
pub use limits::{Bucket, Window};
pub use member::{ACCOUNT_DISABLED, Account, Credentials, Member, MemberId, deletion};
pub use oauth_state::{OAUTH_STATE_TTL, OAuthState, StateRefused};
pub use refresh::{DeadToken, FamilyId, PresentedRefresh, Revocation, Rotation};
