//! The authorization matrix, through the gateway of `pinit serve`: every protected operation of the merged
//! OpenAPI document is called with no token, an expired token, a refresh token, a token signed by another key
//! and a token of the wrong type — all 401 — and with another member's ids — 404, nothing of theirs in the
//! answer. A forged `X-Member-Id` never reaches a service.

mod support;

use pinit_auth::keys::SigningKey;
use pinit_kernel::jwt::{self, AccessClaims};
use serde_json::{Value, json};
use support::member::provisioned_member;
use support::system::{Layout, System};

/// Every (method, path template) of the merged document that needs a token. The document marks the public
/// ones with `security: []` (and only those: the set is checked).
async fn protected_operations(system: &System, http: &reqwest::Client) -> Vec<(String, String)> {
    let doc: Value = http
        .get(system.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc.get("x-unavailable").is_none(),
        "every service documented: {doc}"
    );
    let mut ops = Vec::new();
    let mut public = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let pair = (method.to_uppercase(), path.clone());
            if op.get("security") == Some(&json!([])) {
                public.push(pair);
            } else {
                ops.push(pair);
            }
        }
    }
    public.sort();
    let expected: Vec<(String, String)> = [
        ("GET", "/.well-known/jwks.json"),
        // A subscription feed: the unguessable token in the path is the credential (docs/calendar.md).
        ("GET", "/feeds/{file}"),
        ("GET", "/openapi.json"),
        ("GET", "/v0/login/oauth2/authorize/{provider}"),
        ("GET", "/v0/login/oauth2/code/{provider}"),
        ("GET", "/v0/push/vapid"),
        ("POST", "/v0/login"),
        ("POST", "/v0/logout"),
        ("POST", "/v0/refresh"),
        ("POST", "/v0/signup"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(public, expected, "operations documented as public");
    ops
}

fn fill(path: &str, task_id: i64, schedule_id: i64) -> String {
    path.replace("{taskId}", &task_id.to_string())
        .replace("{scheduleId}", &schedule_id.to_string())
}

/// Query strings the list operations require (so that a refusal is about authorization, not input).
fn query_for(path: &str) -> &'static str {
    match path {
        "/v2/statistics" => "?time=2030-01-01T10:00:00&zoneId=Asia/Seoul",
        "/v2/schedules" | "/v2/schedules/week" => "?time=2030-01-01T10:00:00&zoneId=Asia/Seoul",
        "/v2/tasks/cursor" | "/v2/tasks/completed" => "?size=10",
        "/v2/tasks/by-deadline" => "?date=2030-01-01&zoneId=Asia/Seoul",
        "/v0/push/subscribed" => "?deviceId=d1",
        _ => "",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_refuses_bad_tokens_and_hides_other_members() {
    // Six requests per operation from one address, faster than the gateway's per-IP rate allows; what is
    // checked here is authorization, not that limit.
    let system = System::start(
        Layout::Embedded,
        &[("PINIT_GATEWAY_RATE_LIMIT__ENABLED", "false")],
    )
    .await;
    let http = pinit_testkit::client();
    let alice = provisioned_member(&system, &http, "alice").await;
    let bob = provisioned_member(&system, &http, "bob").await;

    // Tokens that must not pass, minted with the system's own key where that matters.
    let keys = SigningKey::load(&system.dir.path().join("pinit-data").join("keys")).unwrap();
    let now = jiff::Timestamp::now().as_second();
    let claims = |exp: i64, kind: &str| AccessClaims {
        sub: alice.id.to_string(),
        iss: "https://pinit.go-gradually.me".into(),
        iat: now - 600,
        exp,
        roles: String::new(),
        token_type: kind.into(),
    };
    let expired = jwt::sign(&claims(now - 120, "access"), keys.kid(), keys.private_key()).unwrap();
    let wrong_type = jwt::sign(
        &claims(now + 300, "refresh"),
        keys.kid(),
        keys.private_key(),
    )
    .unwrap();
    let stranger = SigningKey::generate().unwrap();
    let foreign = jwt::sign(
        &claims(now + 300, "access"),
        keys.kid(),
        stranger.private_key(),
    )
    .unwrap();
    let bad_tokens: [(&str, Option<&str>); 5] = [
        ("no token", None),
        ("expired", Some(&expired)),
        ("refresh token as bearer", Some(&alice.refresh)),
        ("another key", Some(&foreign)),
        ("refresh-typed JWT", Some(&wrong_type)),
    ];

    let ops = protected_operations(&system, &http).await;
    assert!(ops.len() >= 25, "the matrix covers the API: {ops:?}");
    for (method, template) in &ops {
        let path = format!(
            "{}{}",
            fill(template, bob.task_id, bob.schedule_id),
            query_for(template)
        );
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        for (what, token) in &bad_tokens {
            let mut req = http
                .request(method.clone(), system.url(&path))
                .header("x-member-id", bob.id.to_string());
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let res = req.json(&json!({})).send().await.unwrap();
            assert_eq!(res.status(), 401, "{method} {template} with {what}");
            let body = res.text().await.unwrap();
            assert!(!body.contains("bob"), "{method} {template}: {body}");
        }
        // Alice's valid token on Bob's ids: not found, never Bob's data.
        if template.contains('{') {
            let res = http
                .request(method.clone(), system.url(&path))
                .bearer_auth(&alice.token)
                .header("x-member-id", bob.id.to_string())
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body = res.text().await.unwrap();
            assert!(
                status == 404 || status == 400,
                "{method} {template} with another member's ids: {status} {body}"
            );
            assert!(!body.contains("bob"), "{method} {template} leaks: {body}");
        }
    }

    // A forged X-Member-Id with Alice's token: the services see Alice.
    for path in [
        "/v2/tasks?page=0&size=50",
        "/v2/schedules/week?time=2030-01-01T10:00:00&zoneId=Asia/Seoul",
    ] {
        let res = http
            .get(system.url(path))
            .bearer_auth(&alice.token)
            .header("x-member-id", bob.id.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let body = res.text().await.unwrap();
        assert!(!body.contains("bob"), "{path}: {body}");
    }
    let schedule: Value = http
        .get(system.url(&format!("/v2/schedules/{}", alice.schedule_id)))
        .bearer_auth(&alice.token)
        .header("x-member-id", bob.id.to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(schedule["ownerId"], alice.id);
    let _ = system.stop().await;
}

/// One rule for a token's expiry and its scheme, whichever service reads it: `/v2/tasks` is checked by the
/// gateway alone, `/v0/me` by the gateway and then by auth. 8 s after expiry the gateway once still served
/// `/v2/tasks` while auth refused `/v0/me`; `bearer` in lower case was refused by both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_and_the_bearer_scheme_mean_the_same_at_the_gateway_and_in_auth() {
    let system = System::start(Layout::Embedded, &[]).await;
    let http = pinit_testkit::client();
    let alice = provisioned_member(&system, &http, "alice").await;
    let keys = SigningKey::load(&system.dir.path().join("pinit-data").join("keys")).unwrap();
    let expired_ago = |secs: i64| {
        let now = jiff::Timestamp::now().as_second();
        let claims = AccessClaims {
            sub: alice.id.to_string(),
            iss: "https://pinit.go-gradually.me".into(),
            iat: now - 300,
            exp: now - secs,
            roles: String::new(),
            token_type: "access".into(),
        };
        jwt::sign(&claims, keys.kid(), keys.private_key()).unwrap()
    };
    let status = |path: &'static str, authorization: String| {
        let request = http
            .get(system.url(path))
            .header("authorization", authorization);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let paths = ["/v2/tasks?page=0&size=10", "/v0/me"];

    // Within the leeway (kernel jwt::EXP_LEEWAY, 5 s; the token expired 1 s ago): both accept.
    let recent = expired_ago(1);
    for path in paths {
        assert_eq!(
            status(path, format!("Bearer {recent}")).await,
            200,
            "{path}"
        );
    }
    // 8 s after expiry: both refuse.
    let stale = expired_ago(8);
    for path in paths {
        assert_eq!(status(path, format!("Bearer {stale}")).await, 401, "{path}");
    }
    // The scheme in any case (RFC 7235).
    for scheme in ["bearer", "BEARER", "bEaReR"] {
        for path in paths {
            assert_eq!(
                status(path, format!("{scheme} {}", alice.token)).await,
                200,
                "{scheme} {path}"
            );
        }
    }
    let _ = system.stop().await;
}

/// The merged document describes what a client sends and gets: no `X-Member-Id` parameter (the gateway sets
/// it), a 415 wherever only a JSON body is taken (and the gateway really answers it), and `/v2/members/now`'s
/// empty answer without a content type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_merged_document_describes_what_clients_send_and_get() {
    let system = System::start(Layout::Embedded, &[]).await;
    let http = pinit_testkit::client();
    let alice = provisioned_member(&system, &http, "alice").await;
    let doc: Value = http
        .get(system.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut with_body = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                assert!(
                    !p["name"]
                        .as_str()
                        .unwrap()
                        .eq_ignore_ascii_case("x-member-id"),
                    "{method} {template} documents {p}"
                );
            }
            // Operations that take only JSON (PUT /v2/members/zone-id also takes the bare id as text).
            let Some(content) = op["requestBody"]["content"].as_object() else {
                continue;
            };
            if content.keys().any(|k| k != "application/json") {
                assert!(op["responses"].get("415").is_none(), "{method} {template}");
                continue;
            }
            with_body += 1;
            assert!(
                op["responses"].get("415").is_some(),
                "{method} {template}: 415 undocumented"
            );
            let path = format!(
                "{}{}",
                fill(template, alice.task_id, alice.schedule_id),
                query_for(template)
            );
            let res = http
                .request(
                    reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    system.url(&path),
                )
                .bearer_auth(&alice.token)
                .header("content-type", "text/plain")
                .body("{}")
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 415, "{method} {template}");
            let body: Value = res.json().await.unwrap();
            assert!(body["message"].is_string(), "{method} {template}: {body}");
        }
    }
    assert!(with_body >= 9, "{with_body} operations take only JSON");

    let now = &doc["paths"]["/v2/members/now"]["get"]["responses"]["200"];
    assert!(now.get("content").is_none(), "{now}");
    let res = http
        .get(system.url("/v2/members/now"))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("content-type").is_none());
    assert!(res.bytes().await.unwrap().is_empty());
    let _ = system.stop().await;
}

/// The TCP ports process `pid` listens on (Linux: its socket inodes matched against /proc/net/tcp{,6}).
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(table)
            .unwrap_or_default()
            .lines()
            .skip(1)
        {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // local_address is HEXIP:HEXPORT, st 0A is LISTEN, the inode is column 9.
            if cols.len() > 9 && cols[3] == "0A" && inodes.iter().any(|i| i == cols[9]) {
                let port = cols[1].rsplit(':').next().unwrap();
                ports.push(u16::from_str_radix(port, 16).unwrap());
            }
        }
    }
    ports.sort();
    ports
}

/// A process that reaches a service around the gateway is nobody: in the distributed mode a bare
/// `X-Member-Id` (or a forged assertion) on the service's own port gets no member; in `pinit serve` the services
/// have no port at all — the gateway calls them in-process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_do_not_take_a_member_from_anyone_but_the_gateway() {
    let http = reqwest::Client::new();
    let system = System::start(Layout::Distributed, &[]).await;
    let member = provisioned_member(&system, &http, "vouched").await;
    let path = format!("/v2/tasks/{}", member.task_id);
    let through_gateway = http
        .get(system.url(&path))
        .bearer_auth(&member.token)
        .send()
        .await
        .unwrap();
    assert_eq!(through_gateway.status(), 200);

    let task = &system
        .processes
        .iter()
        .find(|(n, _)| *n == "task")
        .unwrap()
        .1;
    let direct = http
        .get(task.url(&path))
        .header("x-member-id", member.id.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 401, "a bare X-Member-Id is nobody");
    let patched = http
        .patch(task.url(&path))
        .header("x-member-id", member.id.to_string())
        .json(&json!({"title": "taken over"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 401);
    let other_key = pinit_kernel::identity::IdentityKey::generate();
    let now = jiff::Timestamp::now().as_second();
    let forged = http
        .get(task.url(&path))
        .header(
            "x-pinit-identity",
            other_key.sign(member.id, "GET", &path, now),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        401,
        "an assertion of another key is nobody"
    );
    let right_key = pinit_kernel::identity::IdentityKey::parse(support::IDENTITY_KEY).unwrap();
    let vouched = http
        .get(task.url(&path))
        .header(
            "x-pinit-identity",
            right_key.sign(member.id, "GET", &path, now),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(vouched.status(), 200, "what the gateway sends is accepted");
    // Auth's and notification's own ports likewise: a bare X-Member-Id reads nobody's tokens or webhooks.
    for (service, path) in [("auth", "/v0/tokens"), ("notification", "/v0/webhooks")] {
        let process = &system
            .processes
            .iter()
            .find(|(n, _)| *n == service)
            .unwrap()
            .1;
        let direct = http
            .get(process.url(path))
            .header("x-member-id", member.id.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(direct.status(), 401, "{service}: a bare X-Member-Id");
    }
    system.stop().await;

    let embedded = System::start(Layout::Embedded, &[]).await;
    let serve = &embedded.processes[0].1;
    let public: u16 = url::Url::parse(&serve.url).unwrap().port().unwrap();
    let ports = listening_ports(serve.pid());
    assert!(ports.contains(&public), "{ports:?}");
    // The gateway and the metrics only: no HTTP port per service, and task's gRPC (which notification calls)
    // is a pipe inside the process.
    assert_eq!(ports.len(), 2, "listening on {ports:?}");
    embedded.stop().await;
}
