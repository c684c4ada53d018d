//! The gateway: Pinit's single public entry point. It routes each path to the context that owns it and
//! streams requests and responses through; it answers for the whole system's health at `/health`.

pub mod api_tokens;
pub mod auth_check;
pub mod calendar;
pub mod edge;
pub mod guard;
pub mod openapi;
pub mod proxy;
pub mod routing;
pub mod web;

use pinit_kernel::ErrorStyle;
use pinit_kernel::config::HumanDuration;
use serde::{Deserialize, Serialize};

pub use routing::{Edge, Upstreams, routes};

pub const NAME: &str = "gateway";

pub const ERROR_STYLE: ErrorStyle = ErrorStyle::Full;

/// `[gateway]` settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Base URL of the auth service, e.g. `http://auth:8080`. Set automatically in `pinit serve`.
    pub auth_url: Option<String>,
    /// Base URL of the task service.
    pub task_url: Option<String>,
    /// Base URL of the notification service.
    pub notification_url: Option<String>,
    /// How long connecting to a service may take before the client gets 502.
    pub connect_timeout: HumanDuration,
    /// How long a service may take to start answering before the client gets 504.
    pub response_timeout: HumanDuration,
    /// Largest request body accepted (bytes); larger ones get 413.
    pub max_body_bytes: usize,
    /// The `iss` access tokens must carry (the auth service's `auth.issuer`).
    pub token_issuer: String,
    /// Send `Strict-Transport-Security` (only behind TLS).
    pub hsts: bool,
    pub rate_limit: edge::RateLimitSettings,
    pub hosts: HostRouting,
    /// No longer used: the expiry leeway is one constant for the gateway and auth (`kernel::jwt::EXP_LEEWAY`).
    /// Still accepted so that an older configuration starts; the binary warns when it is set.
    #[serde(default, skip_serializing)]
    pub token_leeway: Option<HumanDuration>,
}

/// `[gateway.hosts]`: optional host-based routing, e.g. `auth = "auth.pinit.example"`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HostRouting {
    pub auth: Option<String>,
    pub api: Option<String>,
    pub notification: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            auth_url: None,
            task_url: None,
            notification_url: None,
            connect_timeout: HumanDuration::from_secs(2),
            response_timeout: HumanDuration::from_secs(30),
            max_body_bytes: 1024 * 1024,
            token_issuer: "https://pinit.go-gradually.me".into(),
            hsts: false,
            rate_limit: Default::default(),
            hosts: HostRouting::default(),
            token_leeway: None,
        }
    }
}
