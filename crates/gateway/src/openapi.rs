//! `/openapi.json`: the services' OpenAPI documents merged into one, and `/docs`, a page that renders it
//! without any CDN asset.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::routing::Upstreams;

const DOCS_HTML: &str = include_str!("../assets/docs.html");
const DOCS_JS: &str = include_str!("../assets/docs.js");
const DOCS_CSS: &str = include_str!("../assets/docs.css");

/// Merges `docs` (service name, document): paths and tags are united; a component schema whose name another
/// service already uses for a different schema is renamed `<Service><Name>` and its `$ref`s rewritten.
pub fn merge(docs: Vec<(&str, Value)>) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let mut security_schemes = Map::new();
    let mut tags: Vec<Value> = Vec::new();
    for (service, mut doc) in docs {
        let own: Map<String, Value> = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (name, schema) in own {
            match schemas.get(&name) {
                Some(existing) if *existing != schema => {
                    let renamed = format!("{}{name}", capitalise(service));
                    rewrite_refs(&mut doc, &name, &renamed);
                    let schema = doc
                        .pointer(&format!("/components/schemas/{name}"))
                        .cloned()
                        .unwrap_or(schema);
                    schemas.insert(renamed, schema);
                }
                _ => {
                    schemas.insert(name, schema);
                }
            }
        }
        if let Some(Value::Object(p)) = doc.get("paths") {
            for (path, item) in p {
                paths.insert(path.clone(), item.clone());
            }
        }
        if let Some(Value::Object(s)) = doc.pointer("/components/securitySchemes") {
            security_schemes.extend(s.clone());
        }
        if let Some(Value::Array(t)) = doc.get("tags") {
            tags.extend(t.iter().cloned());
        }
        tags.push(json!({"name": service, "description": format!("The {service} service")}));
    }
    security_schemes
        .entry("bearerAuth")
        .or_insert_with(|| json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Pinit API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every public operation of Pinit, through the gateway. Operations other than sign-up, \
                            login, refresh, logout, OAuth, the key set and subscription feeds need \
                            `Authorization: Bearer <access token>` or a personal API token \
                            (`Bearer pinit_pat_…`, made at `/v0/tokens`; a `read` token calls GET, HEAD and \
                            OPTIONS only). CalDAV (`/dav`, not described here: WebDAV's \
                            methods are not OpenAPI's) also takes HTTP Basic with the username and an app password."
        },
        "security": [{"bearerAuth": []}],
        "tags": tags,
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": security_schemes}
    })
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn rewrite_refs(value: &mut Value, from: &str, to: &str) {
    let target = format!("#/components/schemas/{from}");
    let replacement = format!("#/components/schemas/{to}");
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if k == "$ref" && v.as_str() == Some(target.as_str()) {
                    *v = Value::String(replacement.clone());
                } else {
                    rewrite_refs(v, from, to);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, from, to)),
        _ => {}
    }
}

/// `GET /openapi.json`: fetched from the services on each request (a service that does not answer is left
/// out and named in `x-unavailable`).
pub async fn document(State(upstreams): State<std::sync::Arc<Upstreams>>) -> Response {
    let fetches = upstreams.all().map(|u| async move {
        let request = Request::get("/openapi.json")
            .body(Body::empty())
            .expect("static request");
        let response = u.forward(request).await;
        if response.status() != StatusCode::OK {
            return (u.name, None);
        }
        let doc = axum::body::to_bytes(response.into_body(), 4 * 1024 * 1024)
            .await
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        (u.name, doc)
    });
    let results = futures::future::join_all(fetches).await;
    let unavailable: Vec<&str> = results
        .iter()
        .filter(|(_, d)| d.is_none())
        .map(|(n, _)| *n)
        .collect();
    let mut merged = merge(
        results
            .into_iter()
            .filter_map(|(n, d)| d.map(|d| (n, d)))
            .collect(),
    );
    if !unavailable.is_empty() {
        merged["x-unavailable"] = json!(unavailable);
    }
    axum::Json(merged).into_response()
}

/// `/docs`: the API reference page and its two assets, embedded in the binary.
pub fn docs_routes() -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route(
            "/docs",
            get(|| async { asset("text/html; charset=utf-8", DOCS_HTML) }),
        )
        .route(
            "/docs/docs.js",
            get(|| async { asset("text/javascript; charset=utf-8", DOCS_JS) }),
        )
        .route(
            "/docs/docs.css",
            get(|| async { asset("text/css; charset=utf-8", DOCS_CSS) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colliding_schemas_are_renamed_and_their_refs_follow() {
        let auth = json!({
            "paths": {"/v0/login": {"post": {"responses": {"400": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}}}}},
            "components": {"schemas": {"ErrorResponse": {"type": "object", "required": ["message"]}}}
        });
        let task = json!({
            "paths": {"/v2/tasks": {"get": {"responses": {"400": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}}}}},
            "components": {"schemas": {"ErrorResponse": {"type": "object", "required": ["status", "message"]}, "Task": {"type": "object"}}}
        });
        let merged = merge(vec![("auth", auth), ("task", task)]);
        assert_eq!(
            merged.pointer(
                "/paths/~1v0~1login/post/responses/400/content/application~1json/schema/$ref"
            ),
            Some(&json!("#/components/schemas/ErrorResponse"))
        );
        assert_eq!(
            merged.pointer(
                "/paths/~1v2~1tasks/get/responses/400/content/application~1json/schema/$ref"
            ),
            Some(&json!("#/components/schemas/TaskErrorResponse"))
        );
        assert!(
            merged
                .pointer("/components/schemas/TaskErrorResponse/required")
                .is_some()
        );
        assert!(merged.pointer("/components/schemas/Task").is_some());
    }
}
