//! The outbound side of OAuth 2.0 / OpenID Connect login: talking to the identity providers.
//!
//! * [`OAuthSettings`] — the `[auth.oauth]` section: Naver (the reference's only provider) and any number of
//!   generic OIDC providers (`[auth.oauth.oidc.<name>]`, e.g. Google), every endpoint configurable so that
//!   tests run against a local fake provider.
//! * [`ProviderRegistry`] — built once at start-up from the settings; validates them and names the key at fault.
//! * [`Provider::authorization_url`] — where the browser is sent (`response_type=code`, PKCE S256 when supported).
//! * [`Provider::identify`] — exchanges the code for an access token and reads the profile/userinfo, giving an
//!   [`ExternalIdentity`] (`issuer`, `subject`, `nickname`).
//!
//! What this module does **not** do: store the `state` (and PKCE verifier), serve the routes, link accounts or
//! issue Pinit tokens. Those belong to the callers, which must run [`Provider::identify`] *outside* any database
//! transaction (docs/contract/auth-and-gateway.md#provider-calls) and then open a short one for the
//! lookup/create.
//!
//! Secrets (client secrets, codes, access tokens, PKCE verifiers) never reach `Debug`, `Display` or logs.

mod error;
mod pkce;
mod provider;
mod settings;

pub use error::{ConfigProblem, Endpoint, OAuthConfigError, OAuthError};
pub use pkce::{pkce_challenge, pkce_pair};
pub use provider::{ExternalIdentity, NAVER, NAVER_ISSUER, Provider, ProviderRegistry};
pub use settings::{NaverSettings, OAuthSettings, OidcSettings, TokenEndpointAuth};
