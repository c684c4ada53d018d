//! A streaming reverse proxy to one upstream service.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use pinit_kernel::ApiError;

/// Headers that describe one hop, never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

/// One upstream service behind the gateway.
#[derive(Clone)]
pub struct Upstream {
    pub name: &'static str,
    /// `scheme://authority`, no trailing slash.
    base: String,
    client: Client<HttpConnector, Body>,
    response_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("`{url}` is not a usable base URL for the {name} service: {reason}")]
pub struct UpstreamUrlError {
    pub name: &'static str,
    pub url: String,
    pub reason: String,
}

impl Upstream {
    pub fn new(
        name: &'static str,
        base_url: &str,
        connect_timeout: Duration,
        response_timeout: Duration,
    ) -> Result<Self, UpstreamUrlError> {
        let err = |reason: String| UpstreamUrlError {
            name,
            url: base_url.to_string(),
            reason,
        };
        let base: Uri = base_url
            .trim_end_matches('/')
            .parse()
            .map_err(|e| err(format!("{e}")))?;
        let authority = match (base.scheme_str(), base.authority()) {
            (Some("http"), Some(authority)) => authority.to_string(),
            _ => return Err(err("expected http://host:port".into())),
        };
        if !matches!(base.path(), "" | "/") {
            return Err(err("must not have a path; requests keep theirs".into()));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self {
            name,
            base: format!("http://{authority}"),
            client,
            response_timeout,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Forwards `request` (path and query unchanged) and streams the answer back.
    pub async fn forward(&self, request: Request) -> Response {
        match self.try_forward(request).await {
            Ok(response) => response,
            Err(error) => error.into_response(),
        }
    }

    async fn try_forward(&self, request: Request) -> Result<Response, ApiError> {
        let (mut parts, body) = request.into_parts();
        let client_addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let path_and_query = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let uri: Uri = format!("{}{}", self.base, path_and_query)
            .parse()
            .map_err(|_| ApiError::bad_request("Invalid request target."))?;
        let original_host = parts.headers.get(header::HOST).cloned();
        strip_hop_by_hop(&mut parts.headers);
        parts.headers.remove(header::HOST);
        if let Some(host) = original_host {
            parts.headers.insert("x-forwarded-host", host);
        }
        if let Some(ip) = client_addr {
            append_forwarded_for(&mut parts.headers, ip);
        }
        parts
            .headers
            .entry("x-forwarded-proto")
            .or_insert(HeaderValue::from_static("http"));
        parts.uri = uri;
        let outgoing = Request::from_parts(parts, body);

        let answer =
            tokio::time::timeout(self.response_timeout, self.client.request(outgoing)).await;
        let response = match answer {
            Err(_) => {
                tracing::warn!(upstream = self.name, timeout = ?self.response_timeout, "upstream did not answer in time");
                return Err(ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    format!("The {} service did not answer in time.", self.name),
                ));
            }
            Ok(Err(e)) => {
                tracing::warn!(upstream = self.name, error = %e, source = ?std::error::Error::source(&e), "upstream request failed");
                return Err(ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    format!("The {} service is unavailable.", self.name),
                )
                .with_retry_after(1));
            }
            Ok(Ok(response)) => response,
        };
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(parts, Body::new(body)))
    }
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Headers named in `Connection` are hop-by-hop too.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
}

fn append_forwarded_for(headers: &mut HeaderMap, ip: std::net::IpAddr) {
    let value = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(existing) => format!("{existing}, {ip}"),
        None => ip.to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert("x-forwarded-for", value);
    }
}
