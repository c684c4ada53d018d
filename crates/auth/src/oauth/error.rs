//! Errors of the OAuth provider client.

use std::fmt;

use axum::http::StatusCode;

/// A setting that cannot work, by its full key (e.g. `auth.oauth.naver.token_url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub key: String,
    pub problem: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)
    }
}

/// Why the provider registry cannot be built (start-up must refuse).
#[derive(Debug, thiserror::Error)]
pub enum OAuthConfigError {
    /// One or more settings are invalid; every problem is listed.
    #[error("invalid OAuth settings: {}", join(.0))]
    Invalid(Vec<ConfigProblem>),
    /// The HTTP client (TLS roots) could not be built.
    #[error("cannot build the OAuth HTTP client: {0}")]
    Client(String),
}

impl OAuthConfigError {
    /// The problems found, empty for [`OAuthConfigError::Client`].
    pub fn problems(&self) -> &[ConfigProblem] {
        match self {
            Self::Invalid(problems) => problems,
            Self::Client(_) => &[],
        }
    }
}

fn join(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Which provider call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Token,
    Profile,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Token => "token endpoint",
            Self::Profile => "profile endpoint",
        })
    }
}

/// Why [`crate::oauth::Provider::identify`] failed. `Display` is for logs (no secrets, no tokens);
/// [`OAuthError::status`] and [`OAuthError::message`] are what the route answers as `{"message"}`.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The provider answered the token request with an OAuth error (`error`, `error_description`).
    #[error("{provider} {endpoint} returned an error: {}", provider_message(.error, .description.as_deref()))]
    Provider {
        provider: String,
        endpoint: Endpoint,
        error: String,
        description: Option<String>,
    },
    /// The token response has no access token (and no error).
    #[error("{provider} token endpoint returned no access token")]
    NoAccessToken { provider: String },
    /// Connection refused, DNS failure, timeout, TLS failure, or a broken body.
    #[error("{provider} {endpoint} unreachable: {reason}")]
    Transport {
        provider: String,
        endpoint: Endpoint,
        reason: String,
    },
    /// A non-2xx answer without an OAuth error in it.
    #[error("{provider} {endpoint} answered HTTP {status}")]
    Status {
        provider: String,
        endpoint: Endpoint,
        status: u16,
    },
    /// A 2xx answer that is not the expected JSON (or is too large).
    #[error("{provider} {endpoint} answered an unreadable body: {reason}")]
    InvalidResponse {
        provider: String,
        endpoint: Endpoint,
        reason: String,
    },
    /// The profile/userinfo has no usable subject (`response.id` for Naver, `sub` for OIDC).
    #[error("{provider} profile has no usable id: {reason}")]
    NoSubject { provider: String, reason: String },
    /// The provider uses PKCE but the caller passed no verifier (the state record lost it: a bug).
    #[error("{provider} uses PKCE but no code verifier was given")]
    MissingPkceVerifier { provider: String },
}

fn provider_message(error: &str, description: Option<&str>) -> String {
    match description {
        Some(description) => format!("{error}: {description}"),
        None => error.to_string(),
    }
}

impl OAuthError {
    /// The HTTP status the callback route answers: 400 for a missing access token (as the reference),
    /// 500 for a caller bug, 502 for everything the provider did wrong or did not do.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NoAccessToken { .. } => StatusCode::BAD_REQUEST,
            Self::MissingPkceVerifier { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Provider { .. }
            | Self::Transport { .. }
            | Self::Status { .. }
            | Self::InvalidResponse { .. }
            | Self::NoSubject { .. } => StatusCode::BAD_GATEWAY,
        }
    }

    /// The client-facing `{"message"}`: the reference's texts where it had one, otherwise a message that
    /// names the provider but not its internals.
    pub fn message(&self) -> String {
        match self {
            Self::Provider {
                error, description, ..
            } => provider_message(error, description.as_deref()),
            Self::NoAccessToken { .. } => "No access token found".to_string(),
            Self::Transport { provider, .. }
            | Self::Status { provider, .. }
            | Self::InvalidResponse { provider, .. } => {
                format!("The login provider {provider} did not answer correctly; try again later")
            }
            Self::NoSubject { provider, .. } => {
                format!("The login provider {provider} returned a profile without an id")
            }
            Self::MissingPkceVerifier { .. } => "Internal server error".to_string(),
        }
    }

    /// The provider involved.
    pub fn provider(&self) -> &str {
        match self {
            Self::Provider { provider, .. }
            | Self::NoAccessToken { provider }
            | Self::Transport { provider, .. }
            | Self::Status { provider, .. }
            | Self::InvalidResponse { provider, .. }
            | Self::NoSubject { provider, .. }
            | Self::MissingPkceVerifier { provider } => provider,
        }
    }
}
