//! `[auth.oauth]` settings.

use std::collections::BTreeMap;

use pinit_kernel::config::{HumanDuration, Secret};
use serde::{Deserialize, Serialize};

/// `[auth.oauth]`: the login providers. The default has none (OAuth login is then unavailable).
///
/// ```toml
/// [auth.oauth.naver]
/// client_id = "E2im4myhhRISZbjpmvQP"
/// client_secret = "…"            # or PINIT_AUTH__OAUTH__NAVER__CLIENT_SECRET
/// redirect_uri = "https://pinit.go-gradually.me/login/callback/naver"
///
/// [auth.oauth.oidc.google]
/// issuer = "https://accounts.google.com"
/// client_id = "…"
/// client_secret = "…"
/// redirect_uri = "https://pinit.go-gradually.me/login/callback/google"
/// authorization_endpoint = "https://accounts.google.com/o/oauth2/v2/auth"
/// token_endpoint = "https://oauth2.googleapis.com/token"
/// userinfo_endpoint = "https://openidconnect.googleapis.com/v1/userinfo"
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuthSettings {
    /// Naver login (the reference's provider), under the name `naver`.
    pub naver: Option<NaverSettings>,
    /// Generic OpenID Connect providers by name (the `{provider}` path segment): letters, digits, `-`, `_`.
    pub oidc: BTreeMap<String, OidcSettings>,
    /// Time allowed to open a connection to a provider.
    pub connect_timeout: HumanDuration,
    /// Time allowed for each whole call to a provider (token exchange, profile), body included.
    pub timeout: HumanDuration,
    /// Allow plain `http://` provider endpoints on hosts other than loopback (a test or in-cluster fake provider).
    /// Never in production: the token request carries the client secret.
    pub allow_insecure_http: bool,
}

impl Default for OAuthSettings {
    fn default() -> Self {
        Self {
            naver: None,
            oidc: BTreeMap::new(),
            connect_timeout: HumanDuration::from_secs(5),
            timeout: HumanDuration::from_secs(10),
            allow_insecure_http: false,
        }
    }
}

/// `[auth.oauth.naver]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NaverSettings {
    pub client_id: String,
    pub client_secret: Secret,
    /// The **front-end** callback page registered with Naver, e.g. `https://pinit.example/login/callback/naver`
    /// (the front end forwards `code` and `state` to `/v0/login/oauth2/code/naver`).
    pub redirect_uri: String,
    #[serde(default = "default_naver_authorize_url")]
    pub authorize_url: String,
    #[serde(default = "default_naver_token_url")]
    pub token_url: String,
    #[serde(default = "default_naver_profile_url")]
    pub profile_url: String,
}

fn default_naver_authorize_url() -> String {
    "https://nid.naver.com/oauth2.0/authorize".into()
}
fn default_naver_token_url() -> String {
    "https://nid.naver.com/oauth2.0/token".into()
}
fn default_naver_profile_url() -> String {
    "https://openapi.naver.com/v1/nid/me".into()
}

impl NaverSettings {
    /// Settings with Naver's production endpoints.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: Secret,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret,
            redirect_uri: redirect_uri.into(),
            authorize_url: default_naver_authorize_url(),
            token_url: default_naver_token_url(),
            profile_url: default_naver_profile_url(),
        }
    }
}

/// How the client authenticates at an OIDC token endpoint (RFC 6749, section 2.3.1; OIDC Core, section 9).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuth {
    /// `client_id` and `client_secret` in the form body.
    #[default]
    ClientSecretPost,
    /// HTTP Basic with the form-encoded `client_id:client_secret`.
    ClientSecretBasic,
}

/// `[auth.oauth.oidc.<name>]`: a generic OpenID Connect provider, configured explicitly (no discovery).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The provider's issuer identifier, stored with the subject to identify the account (e.g.
    /// `https://accounts.google.com`). Changing it orphans the accounts already linked.
    pub issuer: String,
    pub client_id: String,
    /// Empty = a public client (then `pkce` must stay on).
    #[serde(default)]
    pub client_secret: Secret,
    /// The front-end callback page registered with the provider.
    pub redirect_uri: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    /// Space-separated scopes; must include `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: String,
    /// PKCE S256 (RFC 7636). Keep it on unless the provider rejects it.
    #[serde(default = "default_true")]
    pub pkce: bool,
    #[serde(default)]
    pub token_endpoint_auth: TokenEndpointAuth,
}

fn default_scopes() -> String {
    "openid profile".into()
}
fn default_true() -> bool {
    true
}

impl OidcSettings {
    /// Settings with the default scopes (`openid profile`), PKCE on and `client_secret_post`.
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Secret,
        redirect_uri: impl Into<String>,
        authorization_endpoint: impl Into<String>,
        token_endpoint: impl Into<String>,
        userinfo_endpoint: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret,
            redirect_uri: redirect_uri.into(),
            authorization_endpoint: authorization_endpoint.into(),
            token_endpoint: token_endpoint.into(),
            userinfo_endpoint: userinfo_endpoint.into(),
            scopes: default_scopes(),
            pkce: true,
            token_endpoint_auth: TokenEndpointAuth::default(),
        }
    }
}
