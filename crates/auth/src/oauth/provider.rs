//! The provider registry and the two provider flavours: Naver (the reference's) and generic OIDC.

use std::collections::BTreeMap;
use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64_STANDARD;
use pinit_kernel::config::Secret;
use pinit_kernel::text::error_chain;
use reqwest::{RequestBuilder, StatusCode, Url};
use serde_json::{Map, Value};

use super::error::{ConfigProblem, Endpoint, OAuthConfigError, OAuthError};
use super::settings::{NaverSettings, OAuthSettings, OidcSettings, TokenEndpointAuth};

/// The registry name of the Naver provider (the `{provider}` path segment).
pub const NAVER: &str = "naver";

/// The issuer stored with Naver accounts: the reference stored Naver's *authorize* URL, and existing
/// `oauth_account` rows carry it (docs/contract/auth-and-gateway.md#oauth). It does not follow a configured
/// `authorize_url`.
pub const NAVER_ISSUER: &str = "https://nid.naver.com/oauth2.0/authorize";

/// Largest provider response read (token or profile); anything bigger is refused.
const MAX_BODY_BYTES: usize = 256 * 1024;
/// Longest `error`/`error_description` echoed to the client.
const MAX_PROVIDER_TEXT: usize = 300;
/// `oauth_account.sub` / `issuer_uri` are VARCHAR(255).
const MAX_ID_CHARS: usize = 255;

/// Who the provider says the user is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// The stored issuer: [`NAVER_ISSUER`] for Naver, the configured `issuer` for OIDC.
    pub issuer: String,
    /// Naver `response.id` (as a string), OIDC `sub`. Never empty, at most 255 characters.
    pub subject: String,
    /// Naver `response.nickname`; OIDC `name`, else `nickname`, else `preferred_username`. Trimmed; `None`
    /// when absent or blank (the caller applies its own nickname rules).
    pub nickname: Option<String>,
}

/// The configured providers, built once at start-up.
#[derive(Debug)]
pub struct ProviderRegistry {
    providers: BTreeMap<String, Provider>,
}

impl ProviderRegistry {
    /// Validates the settings (every problem reported with its key) and builds the providers, which share one
    /// HTTP client (rustls, webpki roots, no redirects, the configured timeouts).
    pub fn new(settings: &OAuthSettings) -> Result<Self, OAuthConfigError> {
        let mut check = Check {
            problems: Vec::new(),
            allow_http: settings.allow_insecure_http,
        };
        if settings.connect_timeout.get().is_zero() {
            check.problem("auth.oauth.connect_timeout", "must be more than zero");
        }
        if settings.timeout.get().is_zero() {
            check.problem("auth.oauth.timeout", "must be more than zero");
        }
        let mut configs = Vec::new();
        if let Some(naver) = &settings.naver {
            configs.push(check.naver(naver));
        }
        for (name, oidc) in &settings.oidc {
            configs.push(check.oidc(name, oidc));
        }
        if !check.problems.is_empty() {
            return Err(OAuthConfigError::Invalid(check.problems));
        }

        let client = pinit_kernel::tls::https_client()
            .connect_timeout(settings.connect_timeout.get())
            .timeout(settings.timeout.get())
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("pinit-auth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OAuthConfigError::Client(error_chain(&e)))?;

        let providers = configs
            .into_iter()
            .flatten()
            .map(|config| {
                let provider = Provider {
                    config,
                    client: client.clone(),
                };
                (provider.config.name.clone(), provider)
            })
            .collect();
        Ok(Self { providers })
    }

    /// The provider called `name` (`naver` or an `oidc` key; case-sensitive).
    pub fn get(&self, name: &str) -> Option<&Provider> {
        self.providers.get(name)
    }

    /// The configured provider names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.providers.keys().cloned().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Provider> {
        self.providers.values()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Naver,
    Oidc,
}

/// A validated provider configuration.
#[derive(Debug)]
struct Config {
    name: String,
    flavor: Flavor,
    issuer: String,
    client_id: String,
    client_secret: Secret,
    /// As configured (trimmed), not normalised: providers compare it byte for byte.
    redirect_uri: String,
    authorize: Url,
    token: Url,
    profile: Url,
    /// Normalised space-separated scopes (OIDC only).
    scope: Option<String>,
    pkce: bool,
    token_auth: TokenEndpointAuth,
}

/// One login provider.
#[derive(Debug)]
pub struct Provider {
    config: Config,
    client: reqwest::Client,
}

impl Provider {
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The issuer stored with this provider's accounts (see [`ExternalIdentity::issuer`]).
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// The registered (front-end) redirect URI.
    pub fn redirect_uri(&self) -> &str {
        &self.config.redirect_uri
    }

    /// Whether the caller must create a PKCE pair ([`crate::oauth::pkce_pair`]), keep the verifier with the state
    /// and pass the challenge to [`Provider::authorization_url`]. Naver: never (it does not support PKCE).
    pub fn uses_pkce(&self) -> bool {
        self.config.pkce
    }

    /// The provider's authorization URL: the configured endpoint (its own query kept) plus `response_type=code`,
    /// `client_id`, `redirect_uri`, `scope` (OIDC), `state`, and `code_challenge` + `code_challenge_method=S256`
    /// when the provider uses PKCE and a challenge is given, all `application/x-www-form-urlencoded`.
    /// A challenge given to a provider without PKCE (Naver) is ignored.
    pub fn authorization_url(&self, state: &str, pkce_challenge: Option<&str>) -> String {
        let c = &self.config;
        let mut url = c.authorize.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &c.client_id)
                .append_pair("redirect_uri", &c.redirect_uri);
            if let Some(scope) = &c.scope {
                query.append_pair("scope", scope);
            }
            query.append_pair("state", state);
            if c.pkce
                && let Some(challenge) = pkce_challenge
            {
                query
                    .append_pair("code_challenge", challenge)
                    .append_pair("code_challenge_method", "S256");
            }
        }
        url.into()
    }

    /// Exchanges the authorization `code` at the token endpoint (form-urlencoded POST) and reads the profile
    /// (Naver) or userinfo (OIDC) with the access token. Naver's form is the reference's: `grant_type`,
    /// `client_id`, `client_secret`, `code`, `state`. OIDC's is the standard `authorization_code` grant with
    /// `redirect_uri` and `code_verifier` (required when [`Provider::uses_pkce`]).
    ///
    /// Makes two remote calls, each bounded by the configured timeouts: call it outside any database
    /// transaction. The provider's tokens are discarded.
    pub async fn identify(
        &self,
        code: &str,
        state: &str,
        pkce_verifier: Option<&str>,
    ) -> Result<ExternalIdentity, OAuthError> {
        let verifier = match (self.config.pkce, pkce_verifier) {
            (false, _) => None,
            (true, Some(verifier)) => Some(verifier),
            (true, None) => {
                return Err(OAuthError::MissingPkceVerifier {
                    provider: self.config.name.clone(),
                });
            }
        };
        let access_token = self.exchange(code, state, verifier).await?;
        let profile = self.profile(&access_token).await?;
        self.identity(&profile)
    }

    async fn exchange(
        &self,
        code: &str,
        state: &str,
        verifier: Option<&str>,
    ) -> Result<Secret, OAuthError> {
        let request = self.token_request(code, state, verifier);
        tracing::debug!(provider = %self.config.name, "exchanging an OAuth authorization code");
        let (status, body) = self.call(Endpoint::Token, request).await?;
        self.access_token(status, &body)
    }

    /// The token endpoint's request: the flavor's form, and the client's credentials where its
    /// `token_endpoint_auth` puts them.
    fn token_request(&self, code: &str, state: &str, verifier: Option<&str>) -> RequestBuilder {
        let c = &self.config;
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "authorization_code")];
        let mut request = self.client.post(c.token.clone());
        match c.flavor {
            Flavor::Naver => {
                form.extend([
                    ("client_id", c.client_id.as_str()),
                    ("client_secret", c.client_secret.expose()),
                    ("code", code),
                    ("state", state),
                ]);
            }
            Flavor::Oidc => {
                form.extend([
                    ("code", code),
                    ("redirect_uri", &c.redirect_uri),
                    ("client_id", c.client_id.as_str()),
                ]);
                if !c.client_secret.is_empty() {
                    match c.token_auth {
                        TokenEndpointAuth::ClientSecretPost => {
                            form.push(("client_secret", c.client_secret.expose()));
                        }
                        TokenEndpointAuth::ClientSecretBasic => {
                            request = request.header(
                                reqwest::header::AUTHORIZATION,
                                basic_credentials(&c.client_id, c.client_secret.expose()),
                            );
                        }
                    }
                }
                if let Some(verifier) = verifier {
                    form.push(("code_verifier", verifier));
                }
            }
        }
        request
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
    }

    /// The access token of a token endpoint's answer, or why there is none.
    fn access_token(&self, status: StatusCode, body: &[u8]) -> Result<Secret, OAuthError> {
        let c = &self.config;
        let object = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(object)) => object,
            _ if !status.is_success() => return Err(self.status_error(Endpoint::Token, status)),
            Ok(_) => return Err(self.invalid(Endpoint::Token, "not a JSON object")),
            Err(e) => return Err(self.invalid(Endpoint::Token, &format!("not JSON: {e}"))),
        };
        if let Some(error) = text_field(&object, "error") {
            return Err(OAuthError::Provider {
                provider: c.name.clone(),
                endpoint: Endpoint::Token,
                error: sanitize(&error),
                description: text_field(&object, "error_description").map(|d| sanitize(&d)),
            });
        }
        if !status.is_success() {
            return Err(self.status_error(Endpoint::Token, status));
        }
        match text_field(&object, "access_token") {
            Some(token) => Ok(Secret::new(token)),
            None => Err(OAuthError::NoAccessToken {
                provider: c.name.clone(),
            }),
        }
    }

    async fn profile(&self, access_token: &Secret) -> Result<Map<String, Value>, OAuthError> {
        let request = self
            .client
            .get(self.config.profile.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .bearer_auth(access_token.expose());
        let (status, body) = self.call(Endpoint::Profile, request).await?;
        if !status.is_success() {
            return Err(self.status_error(Endpoint::Profile, status));
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(object)) => Ok(object),
            Ok(_) => Err(self.invalid(Endpoint::Profile, "not a JSON object")),
            Err(e) => Err(self.invalid(Endpoint::Profile, &format!("not JSON: {e}"))),
        }
    }

    fn identity(&self, profile: &Map<String, Value>) -> Result<ExternalIdentity, OAuthError> {
        let c = &self.config;
        let no_subject = |reason: &str| OAuthError::NoSubject {
            provider: c.name.clone(),
            reason: reason.to_string(),
        };
        let (subject, nickname) = match c.flavor {
            Flavor::Naver => {
                let Some(Value::Object(response)) = profile.get("response") else {
                    return Err(no_subject("no `response` object"));
                };
                let nickname = text_field(response, "nickname");
                (id_field(response, "id"), nickname)
            }
            Flavor::Oidc => {
                let nickname = ["name", "nickname", "preferred_username"]
                    .iter()
                    .find_map(|key| text_field(profile, key));
                (id_field(profile, "sub"), nickname)
            }
        };
        let field = match c.flavor {
            Flavor::Naver => "response.id",
            Flavor::Oidc => "sub",
        };
        let subject = subject.ok_or_else(|| no_subject(&format!("`{field}` missing or empty")))?;
        if subject.chars().count() > MAX_ID_CHARS {
            return Err(no_subject(&format!(
                "`{field}` is longer than {MAX_ID_CHARS} characters"
            )));
        }
        Ok(ExternalIdentity {
            issuer: c.issuer.clone(),
            subject,
            nickname: nickname
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty()),
        })
    }

    /// Sends a request and reads at most [`MAX_BODY_BYTES`] of its body.
    async fn call(
        &self,
        endpoint: Endpoint,
        request: RequestBuilder,
    ) -> Result<(StatusCode, Vec<u8>), OAuthError> {
        let transport = |e: reqwest::Error| OAuthError::Transport {
            provider: self.config.name.clone(),
            endpoint,
            reason: if e.is_timeout() {
                format!("timed out: {}", error_chain(&e))
            } else {
                error_chain(&e)
            },
        };
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status();
        let too_large = || {
            self.invalid(
                endpoint,
                &format!("body larger than {} KiB", MAX_BODY_BYTES / 1024),
            )
        };
        if response
            .content_length()
            .is_some_and(|len| len > MAX_BODY_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }

    fn status_error(&self, endpoint: Endpoint, status: StatusCode) -> OAuthError {
        OAuthError::Status {
            provider: self.config.name.clone(),
            endpoint,
            status: status.as_u16(),
        }
    }

    fn invalid(&self, endpoint: Endpoint, reason: &str) -> OAuthError {
        OAuthError::InvalidResponse {
            provider: self.config.name.clone(),
            endpoint,
            reason: reason.to_string(),
        }
    }
}

/// A non-blank string field.
fn text_field(object: &Map<String, Value>, key: &str) -> Option<String> {
    match object.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// An identifier that is a non-empty string, or a number rendered as one (Naver ids look numeric).
fn id_field(object: &Map<String, Value>, key: &str) -> Option<String> {
    match object.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// Provider-supplied text echoed to clients and logs: no control characters, bounded length.
fn sanitize(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_PROVIDER_TEXT)
        .collect();
    if text.chars().count() > MAX_PROVIDER_TEXT {
        out.push('…');
    }
    out
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749, section 2.3.1).
fn basic_credentials(client_id: &str, client_secret: &str) -> String {
    let pair = format!("{}:{}", form_encode(client_id), form_encode(client_secret));
    format!("Basic {}", B64_STANDARD.encode(pair))
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Settings validation, collecting every problem with its key.
struct Check {
    problems: Vec<ConfigProblem>,
    allow_http: bool,
}

impl Check {
    fn problem(&mut self, key: impl Into<String>, problem: impl Into<String>) {
        self.problems.push(ConfigProblem {
            key: key.into(),
            problem: problem.into(),
        });
    }

    fn text(&mut self, key: String, value: &str) -> String {
        if value.trim().is_empty() {
            self.problem(key, "must not be empty");
        } else if value.chars().any(char::is_control) {
            self.problem(key, "must not contain control characters");
        }
        value.to_string()
    }

    fn url(&mut self, key: String, value: &str) -> Option<Url> {
        let url = match Url::parse(value.trim()) {
            Ok(url) => url,
            Err(e) => {
                self.problem(
                    key,
                    format!("`{value}` is not an absolute URL ({e}); write e.g. https://host/path"),
                );
                return None;
            }
        };
        if !matches!(url.scheme(), "https" | "http") {
            self.problem(key, format!("`{url}` must be an https:// URL"));
            return None;
        }
        if url.host_str().is_none_or(str::is_empty) {
            self.problem(key, format!("`{url}` has no host"));
            return None;
        }
        if url.scheme() == "http" && !self.allow_http && !is_loopback(&url) {
            self.problem(
                key,
                format!(
                    "`{url}` must use https:// (plain http is accepted only for loopback hosts, \
                     or with auth.oauth.allow_insecure_http = true)"
                ),
            );
            return None;
        }
        if !url.username().is_empty() || url.password().is_some() {
            self.problem(
                key,
                "must not contain credentials; use the client_id/client_secret settings",
            );
            return None;
        }
        if url.fragment().is_some() {
            self.problem(key, format!("`{url}` must not have a #fragment"));
            return None;
        }
        Some(url)
    }

    /// A redirect URI: checked as a URL, kept as written (trimmed).
    fn redirect_uri(&mut self, key: String, value: &str) -> Option<String> {
        self.url(key, value).map(|_| value.trim().to_string())
    }

    fn naver(&mut self, s: &NaverSettings) -> Option<Config> {
        let key = |field: &str| format!("auth.oauth.naver.{field}");
        let client_id = self.text(key("client_id"), &s.client_id);
        if s.client_secret.expose().trim().is_empty() {
            self.problem(key("client_secret"), "must not be empty");
        }
        let redirect_uri = self.redirect_uri(key("redirect_uri"), &s.redirect_uri);
        let authorize = self.url(key("authorize_url"), &s.authorize_url);
        let token = self.url(key("token_url"), &s.token_url);
        let profile = self.url(key("profile_url"), &s.profile_url);
        Some(Config {
            name: NAVER.to_string(),
            flavor: Flavor::Naver,
            issuer: NAVER_ISSUER.to_string(),
            client_id,
            client_secret: s.client_secret.clone(),
            redirect_uri: redirect_uri?,
            authorize: authorize?,
            token: token?,
            profile: profile?,
            scope: None,
            pkce: false,
            token_auth: TokenEndpointAuth::ClientSecretPost,
        })
    }

    fn oidc(&mut self, name: &str, s: &OidcSettings) -> Option<Config> {
        let key = |field: &str| format!("auth.oauth.oidc.{name}.{field}");
        let name_ok = self.oidc_name(name);
        let issuer = self.oidc_issuer(key("issuer"), &s.issuer);
        let client_id = self.text(key("client_id"), &s.client_id);
        self.oidc_client_secret(key("client_secret"), s);
        let scopes = self.oidc_scopes(key("scopes"), &s.scopes);
        let redirect_uri = self.redirect_uri(key("redirect_uri"), &s.redirect_uri);
        let authorize = self.url(key("authorization_endpoint"), &s.authorization_endpoint);
        let token = self.url(key("token_endpoint"), &s.token_endpoint);
        let profile = self.url(key("userinfo_endpoint"), &s.userinfo_endpoint);
        if !name_ok {
            return None;
        }
        Some(Config {
            name: name.to_string(),
            flavor: Flavor::Oidc,
            issuer,
            client_id,
            client_secret: s.client_secret.clone(),
            redirect_uri: redirect_uri?,
            authorize: authorize?,
            token: token?,
            profile: profile?,
            scope: Some(scopes.join(" ")),
            pkce: s.pkce,
            token_auth: s.token_endpoint_auth,
        })
    }

    /// Whether `name` may name an OIDC provider (it is a URL path segment, and not `naver`).
    fn oidc_name(&mut self, name: &str) -> bool {
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            self.problem(
                format!("auth.oauth.oidc.{name}"),
                "a provider name is 1 to 64 letters, digits, `-` or `_` (it is a URL path segment)",
            );
            false
        } else if name.eq_ignore_ascii_case(NAVER) {
            self.problem(
                format!("auth.oauth.oidc.{name}"),
                "the name `naver` is taken by [auth.oauth.naver]; choose another",
            );
            false
        } else {
            true
        }
    }

    fn oidc_issuer(&mut self, key: String, value: &str) -> String {
        let issuer = self.text(key.clone(), value);
        if issuer.chars().count() > MAX_ID_CHARS {
            self.problem(
                key.clone(),
                format!(
                    "must be at most {MAX_ID_CHARS} characters (it is stored with each account)"
                ),
            );
        }
        if issuer == NAVER_ISSUER {
            self.problem(
                key,
                "is the issuer stored for Naver accounts; an OIDC provider must have its own",
            );
        }
        issuer
    }

    /// A public client (no secret) needs PKCE and cannot use HTTP Basic.
    fn oidc_client_secret(&mut self, key: String, s: &OidcSettings) {
        if !s.client_secret.expose().trim().is_empty() {
            return;
        }
        if !s.pkce {
            self.problem(
                key.clone(),
                "is empty (a public client) and pkce = false: a public client needs PKCE",
            );
        }
        if s.token_endpoint_auth == TokenEndpointAuth::ClientSecretBasic {
            self.problem(
                key,
                "is empty but token_endpoint_auth = \"client_secret_basic\" needs a secret",
            );
        }
    }

    fn oidc_scopes<'a>(&mut self, key: String, value: &'a str) -> Vec<&'a str> {
        let scopes: Vec<&str> = value.split_whitespace().collect();
        if !scopes.contains(&"openid") {
            self.problem(
                key.clone(),
                format!(
                    "`{value}` must include `openid` (space-separated, e.g. \"openid profile\")"
                ),
            );
        }
        if let Some(bad) = scopes.iter().find(|scope| {
            !scope
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
        }) {
            self.problem(
                key,
                format!("`{bad}` is not a valid scope (RFC 6749, section 3.3)"),
            );
        }
        scopes
    }
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => {
            let host = host.to_ascii_lowercase();
            host == "localhost" || host.ends_with(".localhost")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_matches_the_whatwg_serializer() {
        assert_eq!(form_encode("a b+c/d:é~"), "a+b%2Bc%2Fd%3A%C3%A9%7E");
        assert_eq!(form_encode("AZaz09*-._"), "AZaz09*-._");
    }

    #[test]
    fn provider_text_is_bounded_and_single_line() {
        assert_eq!(sanitize("bad\r\nthing"), "bad  thing");
        let long = "x".repeat(1000);
        assert_eq!(sanitize(&long).chars().count(), MAX_PROVIDER_TEXT + 1);
    }

    #[test]
    fn basic_credentials_form_encode_first() {
        assert_eq!(
            basic_credentials("id 1", "s:e"),
            format!("Basic {}", B64_STANDARD.encode("id+1:s%3Ae"))
        );
    }
}
