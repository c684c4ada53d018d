//! The web client, embedded in the binary at build time (see `build.rs`) and served at `/`.
//!
//! | request | answer | `Cache-Control` |
//! |---|---|---|
//! | `/static/<build id>/<file>` | the file | `public, max-age=31536000, immutable` |
//! | `/static/<older build id>/<file>` | today's file (a page from before a deploy keeps working) | `no-cache` |
//! | `/<file>` (`/`, `/index.html`, `/sw.js`, `/manifest.webmanifest`, …) | the file | `no-cache` (revalidated by `ETag`) |
//! | any other `GET` that accepts `text/html`, outside the API prefixes | `index.html` (client-side routes) | `no-cache` |
//! | anything else | 404 in the service's error body | |
//!
//! The build id is a hash of every embedded file: it names the versioned URLs in `index.html` and the
//! service worker's cache, so a new deploy reaches every member on their next page load.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

/// One embedded file.
pub struct Asset {
    /// Path under `web/`, `/`-separated, no leading slash.
    pub path: &'static str,
    pub body: &'static [u8],
    /// A quoted strong validator of `body`.
    pub etag: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// Path prefixes that belong to the services: never answered with the client's `index.html`.
const API_PREFIXES: &[&str] = &[
    "/v0/",
    "/v1/",
    "/v2/",
    "/v3/",
    "/.well-known/",
    "/static/",
    "/health",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi",
    "/swagger",
    "/docs/",
];

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// What the document may load: only this origin; no inline script; styles set through the CSSOM only.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; worker-src 'self'; \
     manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The client's routes: `GET`/`HEAD` of `/` and of every path no other route claims. Merge it into the
/// gateway's router (any state type); its more specific API routes win over the wildcard.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/", any(serve))
        .route("/{*path}", any(serve))
}

/// The build id of the embedded client.
pub fn build_id() -> &'static str {
    BUILD_ID
}

/// The embedded file at `path` (no leading slash).
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS
        .binary_search_by(|a| a.path.cmp(path))
        .ok()
        .map(|i| &ASSETS[i])
}

async fn serve(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return pinit_kernel::error::not_found(uri).await.into_response();
    }
    let path = uri.path();
    if let Some(rest) = path.strip_prefix("/static/") {
        if let Some((build, file)) = rest.split_once('/')
            && let Some(found) = asset(file)
        {
            let cache = if build == BUILD_ID {
                IMMUTABLE
            } else {
                REVALIDATE
            };
            return respond(found, cache, &headers);
        }
        return pinit_kernel::error::not_found(uri).await.into_response();
    }
    let file = match path.trim_start_matches('/') {
        "" => "index.html",
        other => other,
    };
    if let Some(found) = asset(file) {
        return respond(found, REVALIDATE, &headers);
    }
    if is_api(path) || !accepts_html(&headers) {
        return pinit_kernel::error::not_found(uri).await.into_response();
    }
    match asset("index.html") {
        Some(index) => respond(index, REVALIDATE, &headers),
        None => pinit_kernel::error::not_found(uri).await.into_response(),
    }
}

fn respond(asset: &'static Asset, cache: &'static str, request: &HeaderMap) -> Response {
    let not_modified = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim().trim_start_matches("W/") == asset.etag)
        });
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::new(Body::from(asset.body))
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(asset.path)),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if asset.path == "index.html" {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

fn is_api(path: &str) -> bool {
    API_PREFIXES
        .iter()
        .any(|p| path.starts_with(p) || path == p.trim_end_matches('/'))
}

fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// The media type of an embedded file, from its extension.
pub fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;
    use tower::ServiceExt as _;

    async fn get(path: &str, accept: &str, if_none_match: Option<&str>) -> Response {
        let mut request = Request::get(path).header(header::ACCEPT, accept);
        if let Some(tag) = if_none_match {
            request = request.header(header::IF_NONE_MATCH, tag);
        }
        routes::<()>()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    async fn text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn header(response: &Response, name: header::HeaderName) -> &str {
        response.headers()[name].to_str().unwrap()
    }

    #[test]
    fn table_is_sorted_and_has_the_shell() {
        assert!(ASSETS.windows(2).all(|w| w[0].path < w[1].path));
        for path in ["index.html", "sw.js", "manifest.webmanifest", "app/main.js"] {
            assert!(asset(path).is_some(), "{path} is embedded");
        }
        assert!(ASSETS.iter().all(|a| !a.path.starts_with("tests/")));
        assert_eq!(BUILD_ID.len(), 16);
    }

    #[tokio::test]
    async fn index_is_revalidated_and_names_this_build() {
        let response = get("/", "text/html", None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(&response, header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
        assert_eq!(header(&response, header::CACHE_CONTROL), "no-cache");
        assert!(
            response
                .headers()
                .contains_key(header::CONTENT_SECURITY_POLICY)
        );
        let body = text(response).await;
        assert!(body.contains(&format!("/static/{BUILD_ID}/")));
        assert!(!body.contains("__PINIT_BUILD_ID__"));
    }

    #[tokio::test]
    async fn service_worker_carries_the_build_id_and_shell() {
        let response = get("/sw.js", "*/*", None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, header::CACHE_CONTROL), "no-cache");
        assert_eq!(
            header(&response, header::CONTENT_TYPE),
            "text/javascript; charset=utf-8"
        );
        let body = text(response).await;
        assert!(body.contains(BUILD_ID));
        assert!(!body.contains("__PINIT_SHELL__"));
        assert!(body.contains(&format!("\"/static/{BUILD_ID}/app/main.js\"")));
    }

    #[tokio::test]
    async fn versioned_assets_are_immutable_and_old_builds_revalidate() {
        let current = get(&format!("/static/{BUILD_ID}/app/main.js"), "*/*", None).await;
        assert_eq!(current.status(), StatusCode::OK);
        assert_eq!(header(&current, header::CACHE_CONTROL), IMMUTABLE);
        let old = get("/static/0000000000000000/app/main.js", "*/*", None).await;
        assert_eq!(old.status(), StatusCode::OK);
        assert_eq!(header(&old, header::CACHE_CONTROL), "no-cache");
        let missing = get(&format!("/static/{BUILD_ID}/app/nope.js"), "*/*", None).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn etag_gives_not_modified() {
        let first = get("/manifest.webmanifest", "*/*", None).await;
        assert_eq!(
            header(&first, header::CONTENT_TYPE),
            "application/manifest+json"
        );
        let tag = header(&first, header::ETAG).to_string();
        let second = get("/manifest.webmanifest", "*/*", Some(&tag)).await;
        assert_eq!(second.status(), StatusCode::NOT_MODIFIED);
        assert!(text(second).await.is_empty());
    }

    #[tokio::test]
    async fn client_routes_fall_back_to_index_but_api_paths_do_not() {
        let route = get("/app/schedules?scheduleId=3", "text/html,*/*", None).await;
        assert_eq!(route.status(), StatusCode::OK);
        assert!(text(route).await.contains("<!doctype html>"));
        for path in ["/v2/nothing", "/v0/push/x", "/.well-known/x", "/healthz"] {
            let api = get(path, "text/html", None).await;
            assert_eq!(api.status(), StatusCode::NOT_FOUND, "{path}");
        }
        let script = get("/app/missing.js", "*/*", None).await;
        assert_eq!(script.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn only_get_and_head() {
        let response = routes::<()>()
            .oneshot(
                Request::post("/app/today")
                    .header(header::ACCEPT, "text/html")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("icons/icon.svg"), "image/svg+xml");
        assert_eq!(content_type("i18n/ko.json"), "application/json");
        assert_eq!(content_type("styles/app.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("x.bin"), "application/octet-stream");
    }
}
