//! The OpenAPI document describes exactly the routes the router serves.

use std::collections::BTreeSet;

use pinit_kernel::Backend;
use pinit_testkit::both_backends;
use reqwest::Method;
use serde_json::Value;

use crate::support::spawn_app;

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    out.extend(v.as_str().map(str::to_owned));
                } else {
                    refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

async fn the_document_lists_every_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.send(Method::GET, "/openapi.json", None, None).await;
    let doc = res.assert(200).clone();
    assert!(
        res.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(
        doc,
        serde_json::from_str::<Value>(pinit_task::http::OPENAPI).unwrap()
    );

    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> = pinit_task::http::endpoints()
        .iter()
        .map(|e| (e.method.to_string(), e.path.to_owned()))
        .collect();
    assert_eq!(documented, served);

    // Every reference resolves.
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .expect("a schema ref");
        assert!(doc["components"]["schemas"].get(name).is_some(), "{r}");
    }

    // Every endpoint is really routed (never the 404/405 fallback): an unprovisioned member gets 503
    // (or 400 when the request itself is incomplete).
    for e in pinit_task::http::endpoints() {
        let path = e
            .path
            .replace("{taskId}", "1")
            .replace("{scheduleId}", "1")
            .replace("{feedId}", "1")
            .replace("{file}", "x.ics");
        let res = app.send(e.method.clone(), &path, Some(99), None).await;
        if e.path == "/feeds/{file}" {
            // Routed: the feed's own 404 for a token no feed has, not the router's.
            res.assert_error(404, "calendar feed not found");
            continue;
        }
        assert!(
            ![404, 405].contains(&res.status.as_u16()),
            "{} {path}: {} {}",
            e.method,
            res.status,
            res.text
        );
    }
}

both_backends!(the_document_lists_every_route);
