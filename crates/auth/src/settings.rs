//! `[auth]` settings.

use pinit_kernel::config::{ConnectionUrl, HumanDuration};
use serde::{Deserialize, Serialize};

/// `[auth]` settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The auth database. Default in `pinit serve`: `<data_dir>/auth.db`; required otherwise.
    pub database_url: Option<ConnectionUrl>,
    /// `iss` of the tokens this service issues (and the gateway accepts). The reference's value by default.
    pub issuer: String,
    /// Lifetime of an access token.
    pub access_token_ttl: HumanDuration,
    /// Lifetime of a refresh token (each rotation starts a new one).
    pub refresh_token_ttl: HumanDuration,
    /// How long a just-rotated refresh token still yields access tokens, so that a client's concurrent refreshes
    /// do not log it out. At most 10 s; reuse after it revokes the whole token family.
    pub refresh_grace: HumanDuration,
    /// The IANA zone given to members who sign up without one.
    pub default_zone: String,
    pub cookie: CookieSettings,
    pub password: PasswordSettings,
    pub rate_limit: RateLimitSettings,
    pub oauth: crate::oauth::OAuthSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: None,
            issuer: "https://pinit.go-gradually.me".into(),
            access_token_ttl: HumanDuration::from_secs(5 * 60),
            refresh_token_ttl: HumanDuration::from_secs(14 * 24 * 3600),
            refresh_grace: HumanDuration::from_secs(10),
            default_zone: pinit_kernel::DEFAULT_ZONE.into(),
            cookie: CookieSettings::default(),
            password: PasswordSettings::default(),
            rate_limit: RateLimitSettings::default(),
            oauth: Default::default(),
        }
    }
}

impl Settings {
    /// Problems a start-up must refuse, as (key, problem).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if self.refresh_grace.get() > std::time::Duration::from_secs(10) {
            problems.push((
                "auth.refresh_grace",
                "must be at most 10s; a longer grace window weakens reuse detection".into(),
            ));
        }
        if self.access_token_ttl.get() < std::time::Duration::from_secs(30) {
            problems.push(("auth.access_token_ttl", "must be at least 30s".into()));
        }
        if self.refresh_token_ttl.get() <= self.access_token_ttl.get() {
            problems.push((
                "auth.refresh_token_ttl",
                "must be longer than auth.access_token_ttl".into(),
            ));
        }
        if self.default_zone.parse::<crate::domain::ZoneId>().is_err() {
            problems.push((
                "auth.default_zone",
                format!(
                    "`{}` is not an IANA time zone (e.g. Asia/Seoul, Europe/Berlin, UTC)",
                    self.default_zone
                ),
            ));
        }
        if self.issuer.trim().is_empty() {
            problems.push(("auth.issuer", "must not be empty".into()));
        }
        problems
    }
}

/// The `refresh_token` cookie.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CookieSettings {
    /// `Secure` attribute. `pinit serve` on plain-HTTP localhost turns it off; keep it on behind TLS.
    pub secure: bool,
    /// `Domain` attribute; empty = host-only (recommended).
    pub domain: Option<String>,
    /// `Path` attribute: the cookie reaches only refresh and logout (both under `/v0`).
    pub path: String,
}

impl Default for CookieSettings {
    fn default() -> Self {
        Self {
            secure: true,
            domain: None,
            path: "/v0".into(),
        }
    }
}

/// Argon2id cost (new hashes; existing hashes keep their own parameters until the next login upgrades them).
/// The defaults are OWASP's first recommendation: see `docs/adr/0005-passwords-and-tokens.md`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordSettings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Hashes computed at once (each takes `memory_kib`); further logins wait their turn.
    pub max_concurrent: usize,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
            max_concurrent: 4,
        }
    }
}

/// Attempts allowed per window on login, signup and refresh, counted in the database so that every replica
/// shares them.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    pub enabled: bool,
    pub window: HumanDuration,
    /// Login attempts per client IP per window.
    pub login_per_ip: u32,
    /// Failed logins per username per window (then that username is locked until the window ends).
    pub login_failures_per_username: u32,
    pub signup_per_ip: u32,
    pub refresh_per_ip: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            window: HumanDuration::from_secs(60),
            login_per_ip: 30,
            login_failures_per_username: 10,
            signup_per_ip: 10,
            refresh_per_ip: 120,
        }
    }
}
