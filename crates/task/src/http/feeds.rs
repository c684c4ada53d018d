//! Calendar subscription feeds (docs/calendar.md#subscription-feeds): `GET/POST /v2/calendar/feeds`,
//! `DELETE /v2/calendar/feeds/{feedId}`, `POST /v2/calendar/feeds/{feedId}/rotate` — and `GET /feeds/{token}.ics`,
//! which the gateway routes here without credentials: the token is the credential.
//!
//! A feed's URL is `{base}/feeds/{token}.ics`, `base` being how the client reached Pinit: the gateway passes the
//! `Host` it was asked for as `X-Forwarded-Host` and keeps a TLS-terminating proxy's `X-Forwarded-Proto` (else
//! `http`). Behind a proxy that rewrites `Host`, have it send `X-Forwarded-Host` and `X-Forwarded-Proto`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use pinit_kernel::extract::{Json, Path};
use pinit_kernel::{ApiError, CurrentMember};
use serde::{Deserialize, Serialize};

use super::dto::Problems;
use crate::app::TaskApp;
use crate::app::feeds::IssuedFeed;
use crate::domain::{FeedId, FeedKind, MemberId};
use crate::store::feeds::StoredFeed;

/// `Cache-Control` of a feed: private (the URL is a secret; no shared cache keeps it), fresh for five minutes,
/// then revalidated with its `ETag`.
pub const FEED_CACHE_CONTROL: &str = "private, max-age=300";

/// `POST /v2/calendar/feeds`.
#[derive(Debug, Deserialize)]
pub struct FeedRequest {
    pub kind: Option<String>,
}

/// A feed in the list: never its URL (only the digest of its token is stored), but the URL's last characters.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedResponse {
    pub id: i64,
    pub kind: &'static str,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_fetched_at: Option<String>,
    /// `…/feeds/…AbCd.ics`: tells feeds apart.
    pub url_hint: String,
}

/// A feed just created or rotated: its URL, shown this once.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedFeedResponse {
    pub id: i64,
    pub kind: &'static str,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<String>,
    pub url: String,
    pub webcal_url: String,
}

/// An instant as `2026-02-01T09:00:00Z` (whole seconds).
fn instant(at: Timestamp) -> String {
    Timestamp::from_second(at.as_second())
        .unwrap_or(at)
        .to_string()
}

fn first_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// How the client reached Pinit: `{proto}://{host}` from `X-Forwarded-Proto` / `X-Forwarded-Host`, else `Host`
/// (a host that is not a plain host name, address and port is ignored).
pub fn public_base(headers: &HeaderMap) -> String {
    let plain = |h: &&str| {
        h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
    };
    let host = first_value(headers, "x-forwarded-host")
        .filter(plain)
        .or_else(|| first_value(headers, header::HOST.as_str()).filter(plain))
        .unwrap_or("localhost");
    let proto = match first_value(headers, "x-forwarded-proto") {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    format!("{proto}://{host}")
}

fn listed(feed: &StoredFeed, base: &str) -> FeedResponse {
    FeedResponse {
        id: feed.id.get(),
        kind: feed.kind.as_str(),
        created_at: instant(feed.created_at),
        rotated_at: feed.rotated_at.map(instant),
        last_fetched_at: feed.last_fetched_at.map(instant),
        url_hint: format!("{base}/feeds/…{}.ics", feed.hint),
    }
}

fn issued(issued: IssuedFeed, base: &str) -> IssuedFeedResponse {
    let url = format!("{base}/feeds/{}.ics", issued.token.as_str());
    let webcal_url = match url.split_once("://") {
        Some((_, rest)) => format!("webcal://{rest}"),
        None => url.clone(),
    };
    IssuedFeedResponse {
        id: issued.feed.id.get(),
        kind: issued.feed.kind.as_str(),
        created_at: instant(issued.feed.created_at),
        rotated_at: issued.feed.rotated_at.map(instant),
        url,
        webcal_url,
    }
}

/// `GET /v2/calendar/feeds`: the member's feeds, oldest first.
pub async fn list(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    headers: HeaderMap,
) -> Result<Json<Vec<FeedResponse>>, ApiError> {
    let base = public_base(&headers);
    let feeds = app.feeds(member).await?;
    Ok(Json(feeds.iter().map(|f| listed(f, &base)).collect()))
}

/// `POST /v2/calendar/feeds` `{"kind": "planned"|"tracked"}`: 201 with the URL (shown this once).
pub async fn create(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    headers: HeaderMap,
    Json(body): Json<FeedRequest>,
) -> Result<Response, ApiError> {
    let mut p = Problems::new();
    let kind = p
        .not_blank("kind", &body.kind)
        .and_then(|k| p.check("kind", k, FeedKind::parse(k)))
        .ok_or_else(|| p.into_error())?;
    let feed = app.create_feed(member, kind).await?;
    Ok((
        StatusCode::CREATED,
        Json(issued(feed, &public_base(&headers))),
    )
        .into_response())
}

/// `POST /v2/calendar/feeds/{feedId}/rotate`: a new URL; the old one answers 404 from now on.
pub async fn rotate(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Json<IssuedFeedResponse>, ApiError> {
    let feed = app.rotate_feed(member, FeedId(id)).await?;
    Ok(Json(issued(feed, &public_base(&headers))))
}

/// `DELETE /v2/calendar/feeds/{feedId}`: revokes the feed; its URL answers 404 from now on.
pub async fn revoke(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    app.revoke_feed(member, FeedId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether `If-None-Match` names `etag` (or is `*`): weak comparison, as RFC 9110 asks for GET.
fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// `GET /feeds/{token}.ics` (no credentials): 200 `text/calendar`, 304 when `If-None-Match` has its `ETag`, 404
/// for a token no feed has.
pub async fn document(
    State(app): State<TaskApp>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found("calendar feed not found");
    let token = file.strip_suffix(".ics").ok_or_else(not_found)?;
    let document = app.feed_document(token).await?.ok_or_else(not_found)?;
    let etag = HeaderValue::from_str(&document.etag).map_err(|e| ApiError::internal(&e))?;
    let common = [
        (header::ETAG, etag),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(FEED_CACHE_CONTROL),
        ),
    ];
    if matches(&headers, &document.etag) {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    Ok((
        common,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/calendar; charset=utf-8"),
            ),
            (
                header::HeaderName::from_static("x-robots-tag"),
                HeaderValue::from_static("noindex"),
            ),
        ],
        document.body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_base_is_how_the_client_came() {
        assert_eq!(
            public_base(&headers(&[
                ("host", "task:8080"),
                ("x-forwarded-host", "pinit.example.com"),
                ("x-forwarded-proto", "https")
            ])),
            "https://pinit.example.com"
        );
        assert_eq!(
            public_base(&headers(&[("host", "127.0.0.1:8080")])),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            public_base(&headers(&[
                ("host", "ok.example"),
                ("x-forwarded-host", "evil/path?x")
            ])),
            "http://ok.example"
        );
        assert_eq!(public_base(&HeaderMap::new()), "http://localhost");
    }

    #[test]
    fn if_none_match_compares_weakly() {
        let etag = "\"abc\"";
        assert!(matches(
            &headers(&[("if-none-match", "\"x\", \"abc\"")]),
            etag
        ));
        assert!(matches(&headers(&[("if-none-match", "W/\"abc\"")]), etag));
        assert!(matches(&headers(&[("if-none-match", "*")]), etag));
        assert!(!matches(&headers(&[("if-none-match", "\"abd\"")]), etag));
        assert!(!matches(&HeaderMap::new(), etag));
    }
}
