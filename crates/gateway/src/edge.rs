//! What every response from the edge gets: CORS for the configured origins, security headers, per-IP rate
//! limits.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pinit_kernel::ApiError;
use serde::{Deserialize, Serialize};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

/// CORS for the reference client's deployment (a cross-origin SPA that preflights everything and sends
/// cookies). `None` when no origin is configured: same-origin only (the bundled web client needs none).
pub fn cors(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .map(|o| o.trim().trim_end_matches('/'))
        .filter(|o| !o.is_empty())
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_credentials(true)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers(AllowHeaders::mirror_request())
            .expose_headers([HeaderName::from_static("x-request-id"), header::RETRY_AFTER])
            .max_age(std::time::Duration::from_secs(3600)),
    )
}

/// Content-Security-Policy of everything the gateway serves: the web client loads only its own files.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; worker-src 'self'; manifest-src 'self'; font-src 'self'; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Middleware: security headers on every response (set only if the service did not set them).
pub async fn security_headers(State(hsts): State<bool>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "strict-origin-when-cross-origin");
    set(header::CONTENT_SECURITY_POLICY, CSP);
    set(
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=()",
    );
    set(
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    if hsts {
        set(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    response
}

/// `[gateway.rate_limit]`: a token bucket per client IP, per gateway replica.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    pub enabled: bool,
    /// Sustained requests per second per IP.
    pub per_second: f64,
    /// Requests an IP may make at once before the sustained rate applies.
    pub burst: f64,
    /// Take the client IP from the right-most `X-Forwarded-For` entry (set when an ingress such as Traefik
    /// sits in front); otherwise the peer address. Never enable without a proxy that sets the header.
    pub trust_forwarded_for: bool,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            per_second: 50.0,
            burst: 200.0,
            trust_forwarded_for: false,
        }
    }
}

#[derive(Clone)]
pub struct RateLimiter {
    settings: RateLimitSettings,
    buckets: Arc<Mutex<HashMap<IpAddr, (f64, Instant)>>>,
}

impl RateLimiter {
    pub fn new(settings: RateLimitSettings) -> Self {
        Self {
            settings,
            buckets: Arc::default(),
        }
    }

    /// Takes a token for `ip`; `Err(seconds)` to wait when there is none.
    pub fn take(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let s = &self.settings;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            // Forget idle clients (full buckets) so memory stays bounded.
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * s.per_second < s.burst
            });
        }
        let (tokens, at) = buckets.entry(ip).or_insert((s.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * s.per_second).min(s.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - *tokens) / s.per_second.max(f64::EPSILON);
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

/// The client's address: the right-most `X-Forwarded-For` entry when `trust_forwarded_for` (an ingress in front
/// sets it), else the peer.
pub fn client_ip(request: &Request, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for
        && let Some(ip) = request
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return Some(ip);
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Middleware: 429 with `Retry-After` when a client IP exceeds its rate.
pub async fn rate_limit(
    State(limiter): State<RateLimiter>,
    request: Request,
    next: Next,
) -> Response {
    if !limiter.settings.enabled {
        return next.run(request).await;
    }
    if let Some(ip) = client_ip(&request, limiter.settings.trust_forwarded_for)
        && let Err(wait) = limiter.take(ip, Instant::now())
    {
        metrics::counter!("gateway_rate_limited_total").increment(1);
        return ApiError::too_many_requests(wait).into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn buckets_allow_a_burst_then_the_sustained_rate() {
        let limiter = RateLimiter::new(RateLimitSettings {
            per_second: 2.0,
            burst: 3.0,
            ..Default::default()
        });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take(ip, t0).is_ok());
        }
        assert_eq!(limiter.take(ip, t0), Err(1));
        assert!(limiter.take(other, t0).is_ok(), "buckets are per IP");
        assert!(limiter.take(ip, t0 + Duration::from_millis(500)).is_ok());
        assert!(limiter.take(ip, t0 + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn cors_needs_an_origin() {
        assert!(cors(&[]).is_none());
        assert!(cors(&["  ".into()]).is_none());
        assert!(cors(&["https://pinit.example/".into()]).is_some());
    }
}
