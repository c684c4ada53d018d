//! The calendar paths of the gateway in front of fake services: CalDAV apps signing in with HTTP Basic and an
//! app password (checked by a fake auth that, like the real one, answers only the gateway's signed call), what
//! the task service then sees, how long a deleted app password keeps working, where Basic is refused, the
//! well-known redirect, the public feeds, and WebDAV's methods and headers passing through unchanged.

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pinit_gateway::calendar::{CHALLENGE, CHECK_CACHE_TTL};
use pinit_kernel::Clock;
use pinit_kernel::identity::{ASSERTION_HEADER, IdentityKey, app_password_check};
use serde_json::{Value, json};
use support::*;

async fn assert_challenge(res: reqwest::Response, what: &str) {
    assert_eq!(res.status(), 401, "{what}");
    let challenges: Vec<_> = res.headers().get_all("www-authenticate").iter().collect();
    assert_eq!(challenges, [CHALLENGE], "{what}");
    assert_eq!(CHALLENGE, "Basic realm=\"Pinit\", charset=\"UTF-8\"");
    // The unread body leaves the connection unusable: the client's retry must go on a new one.
    assert_eq!(res.headers()["connection"], "close", "{what}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], 401, "{what}: {body}");
}

#[tokio::test]
async fn basic_with_an_app_password_reaches_the_task_service_as_the_member() {
    let gw = gateway(None).await;
    let propfind = r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>"#;
    let res = gw
        .request("PROPFIND", "/dav/")
        .header("authorization", basic("alice", APP_PASSWORD))
        .header("x-member-id", "7")
        .header("depth", "0")
        .header("content-type", "application/xml; charset=utf-8")
        .body(propfind)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 207);
    let seen: Value = res.json().await.unwrap();
    assert_eq!(seen["method"], "PROPFIND");
    assert_eq!(seen["path"], "/dav/");
    assert_eq!(seen["body"], propfind);
    let headers = &seen["headers"];
    assert_eq!(
        headers["x-member-id"], "42",
        "the app password's member, not the client's header"
    );
    assert!(headers.get("authorization").is_none(), "{seen}");
    assert_eq!(headers["depth"], "0");
    // Vouched for exactly as a JWT request: the assertion holds for this method and path.
    let assertion = headers[ASSERTION_HEADER].as_str().unwrap();
    assert_eq!(
        gw.identity
            .verify(assertion, "PROPFIND", "/dav/", gw.clock.now().as_second()),
        Some(42)
    );

    // Auth was asked once, by the gateway's signed call, with the client's address.
    {
        let checks = gw.auth.checks.lock().unwrap();
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].username, "alice");
        assert_eq!(checks[0].client_ip, "127.0.0.1");
    }
    // A calendar sync's next requests within the bound are not checked again.
    for path in ["/dav", "/dav/calendars/42/schedules/"] {
        let res = gw
            .request("PROPFIND", path)
            .header("authorization", basic("alice", APP_PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 207, "{path}");
        let seen: Value = res.json().await.unwrap();
        assert_eq!(seen["path"], path);
        assert_eq!(seen["headers"]["x-member-id"], "42");
    }
    assert_eq!(gw.checks(), 1);

    // The web client may use its access token instead.
    let res = gw
        .request("REPORT", "/dav/calendars/5/")
        .bearer_auth(gw.token("5"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 207);
    let seen: Value = res.json().await.unwrap();
    assert_eq!(seen["headers"]["x-member-id"], "5");
    assert!(seen["headers"].get("authorization").is_none());
}

#[tokio::test]
async fn missing_or_wrong_credentials_are_a_401_with_the_basic_challenge() {
    let gw = gateway(None).await;
    let cases = [
        ("no credentials", None),
        (
            "wrong app password",
            Some(basic("alice", "aaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaa")),
        ),
        ("another username", Some(basic("bob", APP_PASSWORD))),
        ("the account password", Some(basic("alice", "password-123"))),
        ("not base64", Some("Basic !!!".to_string())),
        (
            "no colon",
            Some(format!("Basic {}", STANDARD.encode("alice"))),
        ),
        ("a bad token", Some("Bearer not-a-jwt".to_string())),
        (
            "another scheme",
            Some("Digest username=\"alice\"".to_string()),
        ),
    ];
    for (what, authorization) in cases {
        for m in ["PROPFIND", "OPTIONS", "GET", "PUT"] {
            let mut request = gw.request(m, "/dav/calendars/42/");
            if let Some(a) = &authorization {
                request = request.header("authorization", a);
            }
            assert_challenge(request.send().await.unwrap(), &format!("{what}, {m}")).await;
        }
    }
    assert_eq!(gw.task_hits(), 0, "nothing reached the task service");
    // Failures are never cached: each one is auth's to count.
    let wrong = basic("alice", "aaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaa");
    let before = gw.checks();
    for _ in 0..3 {
        let res = gw
            .request("PROPFIND", "/dav/")
            .header("authorization", &wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    assert_eq!(gw.checks(), before + 3);
}

#[tokio::test]
async fn a_deleted_app_password_stops_working_within_the_cache_bound() {
    let gw = gateway(None).await;
    let propfind = || {
        gw.request("PROPFIND", "/dav/")
            .header("authorization", basic("alice", APP_PASSWORD))
            .send()
    };
    assert_eq!(propfind().await.unwrap().status(), 207);
    // The member deletes it (auth refuses it from now on).
    gw.auth.passwords.lock().unwrap().clear();
    // This replica may still accept it until its check is CHECK_CACHE_TTL old, never after.
    let bound = jiff::SignedDuration::try_from(CHECK_CACHE_TTL).unwrap();
    assert!(
        bound <= jiff::SignedDuration::from_secs(5),
        "docs/calendar.md says 5 s"
    );
    gw.clock
        .advance(bound - jiff::SignedDuration::from_millis(1));
    assert_eq!(propfind().await.unwrap().status(), 207);
    gw.clock.advance(jiff::SignedDuration::from_millis(1));
    assert_challenge(propfind().await.unwrap(), "deleted").await;
    assert_eq!(gw.checks(), 2);
}

#[tokio::test]
async fn basic_credentials_are_never_accepted_on_the_json_api() {
    let gw = gateway(None).await;
    for (m, path) in [
        ("GET", "/v2/tasks"),
        ("POST", "/v2/schedules"),
        ("GET", "/v0/me"),
        ("GET", "/v0/app-passwords"),
        ("POST", "/v0/app-passwords"),
        ("GET", "/v0/push/subscribed"),
    ] {
        let res = gw
            .request(m, path)
            .header("authorization", basic("alice", APP_PASSWORD))
            .json(&json!({"name": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{m} {path}");
        assert_eq!(res.headers()["www-authenticate"], "Bearer", "{m} {path}");
    }
    assert_eq!(gw.checks(), 0, "never even checked");
    assert_eq!(gw.task_hits(), 0);
    // Nor does the gateway route auth's internal check from outside.
    let res = gw
        .request("POST", app_password_check::PATH)
        .bearer_auth(gw.token("42"))
        .json(&json!({"username": "alice", "password": APP_PASSWORD, "clientIp": "1.2.3.4"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(gw.checks(), 0);
}

#[tokio::test]
async fn the_well_known_caldav_address_redirects_to_dav_once_signed_in() {
    let gw = gateway(None).await;
    for m in ["GET", "PROPFIND", "HEAD", "OPTIONS"] {
        let res = gw
            .request(m, "/.well-known/caldav")
            .header("authorization", basic("alice", APP_PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 301, "{m}");
        assert_eq!(res.headers()["location"], "/dav/", "{m}");
    }
    let res = gw
        .request("PROPFIND", "/.well-known/caldav")
        .bearer_auth(gw.token("5"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 301);
    assert_challenge(
        gw.request("PROPFIND", "/.well-known/caldav")
            .send()
            .await
            .unwrap(),
        "well-known without credentials",
    )
    .await;
    assert_eq!(gw.task_hits(), 0, "the gateway answers it itself");
}

#[tokio::test]
async fn feeds_are_public_reads_whose_token_the_task_service_checks() {
    let gw = gateway(None).await;
    let res = gw
        .request("GET", "/feeds/3Yk9q-token.ics?x=1")
        .header("x-member-id", "7")
        .header("authorization", basic("alice", APP_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 207, "reached the task service");
    let seen: Value = res.json().await.unwrap();
    assert_eq!(seen["path"], "/feeds/3Yk9q-token.ics");
    assert_eq!(seen["query"], "x=1");
    assert!(
        seen["headers"].get("x-member-id").is_none(),
        "no member: {seen}"
    );
    assert!(seen["headers"].get(ASSERTION_HEADER).is_none());
    assert!(
        seen["headers"].get("authorization").is_none(),
        "credentials go no further: {seen}"
    );
    assert_eq!(gw.checks(), 0, "nor are they checked");
    let head = gw.request("HEAD", "/feeds/t.ics").send().await.unwrap();
    assert_eq!(head.status(), 207);
    assert_eq!(head.headers()["etag"], "\"v7\"");
    // Only reads, with or without a token.
    for m in ["POST", "PUT", "DELETE"] {
        let res = gw.request(m, "/feeds/t.ics").send().await.unwrap();
        assert_eq!(res.status(), 405, "{m}");
        let with_token = gw
            .request(m, "/feeds/t.ics")
            .bearer_auth(gw.token("5"))
            .send()
            .await
            .unwrap();
        assert_eq!(with_token.status(), 405, "{m}");
    }
    assert_eq!(gw.task_hits(), 2);
}

#[tokio::test]
async fn webdav_methods_headers_and_bodies_pass_through_unchanged() {
    let gw = gateway(None).await;
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1@pinit\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    for m in [
        "PROPFIND",
        "PROPPATCH",
        "REPORT",
        "OPTIONS",
        "GET",
        "HEAD",
        "PUT",
        "DELETE",
        "MKCALENDAR",
        "MKCOL",
        "MOVE",
        "COPY",
    ] {
        let path = "/dav/calendars/42/schedules/1.ics";
        let res = gw
            .request(m, path)
            .header("authorization", basic("alice", APP_PASSWORD))
            .header("depth", "1")
            .header("if-match", "\"v6\"")
            .header("if-none-match", "*")
            .header("content-type", "text/calendar; charset=utf-8")
            .header(
                "destination",
                "http://localhost/dav/calendars/42/schedules/2.ics",
            )
            .header("overwrite", "F")
            .header("prefer", "return=minimal")
            .body(ics)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 207, "{m}");
        assert_eq!(res.headers()["etag"], "\"v7\"", "{m}");
        assert_eq!(res.headers()["dav"], "1, 2, calendar-access", "{m}");
        if m == "HEAD" {
            continue;
        }
        let seen: Value = res.json().await.unwrap();
        assert_eq!(seen["method"], m);
        assert_eq!(seen["path"], path);
        assert_eq!(seen["body"], ics, "{m}");
        let h = &seen["headers"];
        for (name, value) in [
            ("depth", "1"),
            ("if-match", "\"v6\""),
            ("if-none-match", "*"),
            ("content-type", "text/calendar; charset=utf-8"),
            (
                "destination",
                "http://localhost/dav/calendars/42/schedules/2.ics",
            ),
            ("overwrite", "F"),
            ("prefer", "return=minimal"),
            ("x-member-id", "42"),
        ] {
            assert_eq!(h[name], value, "{m} {name}");
        }
        let assertion = h[ASSERTION_HEADER].as_str().unwrap();
        assert_eq!(
            gw.identity
                .verify(assertion, m, path, gw.clock.now().as_second()),
            Some(42),
            "{m}: bound to its own method"
        );
    }
    assert_eq!(gw.checks(), 1);
}

#[tokio::test]
async fn a_rate_limited_check_is_a_429_and_an_auth_that_refuses_the_gateway_a_503() {
    let gw = gateway(None).await;
    *gw.auth.limited.lock().unwrap() = Some(42);
    let res = gw
        .request("PROPFIND", "/dav/")
        .header("authorization", basic("alice", APP_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "42");

    // An auth that does not share the gateway's identity key refuses its calls (403): the calendar app gets a
    // 503, not a 401 that would make it ask the member for a new password.
    let gw = gateway(Some(IdentityKey::generate())).await;
    let res = gw
        .request("PROPFIND", "/dav/")
        .header("authorization", basic("alice", APP_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(
        gw.checks(),
        0,
        "auth never checked a call it could not verify"
    );
    assert_eq!(gw.task_hits(), 0);
}
