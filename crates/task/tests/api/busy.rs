//! Busy time from other calendars (docs/calendar.md#busy-time-from-other-calendars): a calendar subscribed from a
//! local HTTP server (allowed by the insecure setting) fetched at once, refreshed with `If-None-Match` (304 keeps
//! its events), replaced when it changes, its failure recorded with its events kept; uploads; deletes; the limits;
//! the day and week reads; and with the insecure setting off, `http` and private addresses refused.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pinit_kernel::Backend;
use pinit_task::app::busy::{Calendars, RefreshReport};
use pinit_testkit::{TestServer, both_backends};
use serde_json::{Value, json};

use crate::support::{App, spawn_with};

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/busy")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What the fake calendar server answers, and the `If-None-Match` of every request it got.
struct Served {
    status: StatusCode,
    body: String,
    etag: String,
    seen: Vec<Option<String>>,
}

type Shared = Arc<Mutex<Served>>;

async fn serve(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut s = state.lock().expect("lock");
    let inm = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    s.seen.push(inm.clone());
    if s.status != StatusCode::OK {
        return (s.status, "no").into_response();
    }
    let etag = HeaderValue::from_str(&s.etag).expect("etag");
    if inm.as_deref() == Some(s.etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::ETAG, etag),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/calendar; charset=utf-8"),
            ),
        ],
        s.body.clone(),
    )
        .into_response()
}

async fn calendar_server(body: String) -> (TestServer, Shared) {
    let state: Shared = Arc::new(Mutex::new(Served {
        status: StatusCode::OK,
        body,
        etag: "\"v1\"".into(),
        seen: Vec::new(),
    }));
    let router = axum::Router::new()
        .route("/work.ics", axum::routing::get(serve))
        .route(
            "/page.html",
            axum::routing::get(|| async { "<html>not a calendar</html>" }),
        )
        .route(
            "/slow.ics",
            axum::routing::get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
            }),
        )
        .route(
            "/moved.ics",
            axum::routing::get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/work.ics")]) }),
        )
        .route(
            "/loop.ics",
            axum::routing::get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop.ics")]) }),
        )
        .route(
            "/elsewhere.ics",
            axum::routing::get(|| async {
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, "ftp://example.com/cal.ics")],
                )
            }),
        )
        .route(
            "/big.ics",
            axum::routing::get(|| async { "X".repeat(5 * 1024 * 1024 + 1) }),
        )
        .with_state(state.clone());
    (TestServer::spawn(router).await, state)
}

async fn insecure(backend: Backend) -> App {
    spawn_with(
        backend,
        "2026-02-15T00:00:00Z",
        Some(Calendars::new(
            std::time::Duration::from_secs(15 * 60),
            true,
        )),
    )
    .await
}

fn titles(blocks: &Value) -> Vec<String> {
    blocks
        .as_array()
        .expect("a list")
        .iter()
        .map(|b| b["title"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn subscriptions_are_fetched_refreshed_and_deleted(backend: Backend) {
    let app = insecure(backend).await;
    let m = app.member(1, Some("Europe/Berlin")).await;
    let (server, state) = calendar_server(fixture("google.ics")).await;
    let url = server.url("/work.ics");

    let created = app
        .post(
            m,
            "/v2/calendar/subscriptions",
            json!({"name": " Work ", "url": url}),
        )
        .await;
    let body = created.assert(201).clone();
    let id = created.id();
    assert_eq!(body["name"], "Work");
    assert_eq!(body["kind"], "url");
    assert_eq!(body["url"], url.as_str());
    assert_eq!(body["events"], 7, "{body}");
    assert_eq!(body["lastFetchedAt"], "2026-02-15T00:00:00Z");
    assert!(body.get("lastError").is_none());
    let listed = app.get(m, "/v2/calendar/subscriptions").await;
    assert_eq!(listed.assert(200).as_array().map(Vec::len), Some(1));

    // The day: the standup moved by its override; the free focus time is not busy.
    let day = app
        .get(
            m,
            "/v2/calendar/busy?time=2026-02-18T12:00:00&zoneId=Europe/Berlin",
        )
        .await;
    let blocks = day.assert(200);
    assert_eq!(
        blocks,
        &json!([{
            "subscriptionId": id, "calendarName": "Work", "uid": "3k1v8q2lm0standup@google.com",
            "title": "Team standup (moved for the all-hands)",
            "start": {"dateTime": "2026-02-18T11:00:00", "zoneId": "Europe/Berlin"},
            "end": {"dateTime": "2026-02-18T11:45:00", "zoneId": "Europe/Berlin"},
            "allDay": false
        }])
    );
    // The week: Monday's standup taken out (EXDATE), Friday's cancelled; the UTC 1:1 in Berlin time.
    let week = app
        .get(
            m,
            "/v2/calendar/busy/week?time=2026-02-19T08:00:00&zoneId=Asia/Seoul",
        )
        .await;
    let blocks = week.assert(200);
    assert_eq!(
        titles(blocks),
        ["1:1 with Mia", "Team standup (moved for the all-hands)"],
        "{blocks}"
    );
    assert_eq!(blocks[0]["start"]["dateTime"], "2026-02-18T00:00:00");
    assert_eq!(blocks[0]["start"]["zoneId"], "Asia/Seoul");
    // An all-day event: midnights in the zone asked in.
    let offsite = app
        .get(
            m,
            "/v2/calendar/busy?time=2026-03-03T12:00:00&zoneId=Asia/Seoul",
        )
        .await;
    let offsite = offsite.assert(200);
    let all_day: Vec<&Value> = offsite
        .as_array()
        .expect("list")
        .iter()
        .filter(|b| b["allDay"] == true)
        .collect();
    assert_eq!(all_day.len(), 1, "{offsite}");
    assert_eq!(all_day[0]["start"]["dateTime"], "2026-03-02T00:00:00");
    assert_eq!(all_day[0]["end"]["dateTime"], "2026-03-05T00:00:00");

    // Not due yet: nothing fetched.
    assert_eq!(
        app.app.refresh_calendars().await.unwrap(),
        RefreshReport::default()
    );
    // Due: If-None-Match with the stored ETag; 304 keeps the events.
    app.advance_secs(16 * 60);
    let report = app.app.refresh_calendars().await.unwrap();
    assert_eq!(report.not_modified, 1, "{report:?}");
    assert_eq!(
        state.lock().unwrap().seen,
        [None, Some("\"v1\"".to_owned())]
    );
    let listed = app.get(m, "/v2/calendar/subscriptions").await;
    assert_eq!(
        listed.assert(200)[0]["lastFetchedAt"],
        "2026-02-15T00:16:00Z"
    );
    assert_eq!(listed.body[0]["events"], 7);

    // Changed: the new calendar replaces the old one.
    {
        let mut s = state.lock().unwrap();
        s.body = fixture("outlook.ics");
        s.etag = "\"v2\"".into();
    }
    app.advance_secs(16 * 60);
    assert_eq!(app.app.refresh_calendars().await.unwrap().changed, 1);
    let day = app
        .get(
            m,
            "/v2/calendar/busy?time=2026-03-03T12:00:00&zoneId=Europe/Berlin",
        )
        .await;
    assert_eq!(
        titles(day.assert(200)),
        ["Lunch & learn", "Project sync (moved to Tuesday)"]
    );

    // Failing: recorded, the events kept.
    state.lock().unwrap().status = StatusCode::INTERNAL_SERVER_ERROR;
    app.advance_secs(16 * 60);
    assert_eq!(app.app.refresh_calendars().await.unwrap().failed, 1);
    let listed = app.get(m, "/v2/calendar/subscriptions").await;
    let error = listed.assert(200)[0]["lastError"]
        .as_str()
        .unwrap_or_default();
    assert!(error.contains("HTTP 500"), "{error}");
    assert_eq!(listed.body[0]["events"], 6);
    assert_eq!(
        titles(
            app.get(
                m,
                "/v2/calendar/busy?time=2026-03-03T12:00:00&zoneId=Europe/Berlin"
            )
            .await
            .assert(200)
        )
        .len(),
        2
    );

    // Another member sees nothing and cannot delete it.
    let other = app.member(2, None).await;
    assert_eq!(
        app.get(
            other,
            "/v2/calendar/busy/week?time=2026-03-03T12:00:00&zoneId=Europe/Berlin"
        )
        .await
        .assert(200),
        &json!([])
    );
    app.delete(other, &format!("/v2/calendar/subscriptions/{id}"))
        .await
        .assert(404);
    app.delete(m, &format!("/v2/calendar/subscriptions/{id}"))
        .await
        .assert(204);
    app.delete(m, &format!("/v2/calendar/subscriptions/{id}"))
        .await
        .assert(404);
    assert_eq!(
        app.get(
            m,
            "/v2/calendar/busy/week?time=2026-03-03T12:00:00&zoneId=Europe/Berlin"
        )
        .await
        .assert(200),
        &json!([])
    );
}

async fn what_a_url_answers_is_checked(backend: Backend) {
    let app = spawn_with(
        backend,
        "2026-02-15T00:00:00Z",
        Some(
            Calendars::new(std::time::Duration::from_secs(15 * 60), true)
                .with_timeout(std::time::Duration::from_millis(500)),
        ),
    )
    .await;
    let m = app.member(1, None).await;
    let (server, state) = calendar_server(fixture("google.ics")).await;
    let subscribe = |url: String| {
        let app = &app;
        async move {
            app.post(
                m,
                "/v2/calendar/subscriptions",
                json!({"name": "Work", "url": url}),
            )
            .await
        }
    };
    let res = subscribe(server.url("/page.html")).await;
    res.assert(422);
    assert!(
        res.body["message"]
            .as_str()
            .unwrap()
            .starts_with("url: not an iCalendar file"),
        "{}",
        res.text
    );
    assert_eq!(res.body["errors"][0]["field"], "url");
    let res = subscribe(server.url("/big.ics")).await;
    res.assert(422);
    assert_eq!(
        res.body["message"],
        "url: the calendar is larger than 5 MiB"
    );
    let res = subscribe(server.url("/missing.ics")).await;
    res.assert(422);
    assert!(res.text.contains("HTTP 404"), "{}", res.text);
    state.lock().unwrap().status = StatusCode::FORBIDDEN;
    let res = subscribe(server.url("/work.ics")).await;
    assert!(res.text.contains("HTTP 403"), "{}", res.text);
    let res = subscribe(server.url("/slow.ics")).await;
    res.assert(422);
    assert_eq!(
        res.body["message"],
        "url: the calendar could not be fetched: no answer within 0.5 seconds"
    );
    let res = subscribe(server.url("/loop.ics")).await;
    res.assert(422);
    assert!(res.text.contains("more than 5 redirects"), "{}", res.text);
    let res = subscribe(server.url("/elsewhere.ics")).await;
    res.assert(422);
    assert!(
        res.text
            .contains("a redirect to ftp://example.com/cal.ics: the URL must use https"),
        "{}",
        res.text
    );
    let res = subscribe("ftp://example.com/cal.ics".into()).await;
    res.assert(400);
    assert_eq!(res.body["message"], "url: the URL must use https");
    // Nothing was stored.
    assert_eq!(
        app.get(m, "/v2/calendar/subscriptions").await.assert(200),
        &json!([])
    );
    // A redirect is followed (each hop checked).
    state.lock().unwrap().status = StatusCode::OK;
    let res = subscribe(server.url("/moved.ics")).await;
    assert_eq!(res.assert(201)["url"], server.url("/moved.ics").as_str());
}

async fn private_addresses_are_refused_unless_allowed(backend: Backend) {
    let app = spawn_with(backend, "2026-02-15T00:00:00Z", None).await;
    let m = app.member(1, None).await;
    let (server, state) = calendar_server(fixture("google.ics")).await;
    // The test server itself: http, and a loopback address.
    let res = app
        .post(
            m,
            "/v2/calendar/subscriptions",
            json!({"name": "Work", "url": server.url("/work.ics")}),
        )
        .await;
    res.assert(400);
    assert_eq!(res.body["message"], "url: the URL must use https");
    for (url, refused) in [
        ("https://127.0.0.1/work.ics", "127.0.0.1"),
        (
            "https://169.254.169.254/latest/meta-data",
            "169.254.169.254",
        ),
        ("https://[::1]/cal.ics", "::1"),
        ("https://10.0.0.8/cal.ics", "10.0.0.8"),
        ("webcal://localhost/cal.ics", "localhost"),
        ("https://calendar.internal/cal.ics", "calendar.internal"),
    ] {
        let res = app
            .post(
                m,
                "/v2/calendar/subscriptions",
                json!({"name": "Work", "url": url}),
            )
            .await;
        res.assert(400);
        assert_eq!(
            res.body["message"],
            format!("url: the URL must be on a public address, not {refused}"),
            "{url}"
        );
        assert_eq!(res.body["errors"][0]["field"], "url");
    }
    assert!(state.lock().unwrap().seen.is_empty(), "nothing was fetched");
}

async fn uploads_and_limits(backend: Backend) {
    let app = insecure(backend).await;
    let m = app.member(1, Some("America/New_York")).await;
    let res = app
        .post(
            m,
            "/v2/calendar/subscriptions/upload",
            json!({"name": "Home", "ics": fixture("apple.ics")}),
        )
        .await;
    let body = res.assert(201).clone();
    assert_eq!(body["kind"], "upload");
    assert_eq!(body["color"], "#1BADF8");
    assert!(
        body.get("url").is_none() && body.get("lastFetchedAt").is_none(),
        "{body}"
    );
    assert_eq!(body["events"], 6);
    // A floating time is read in the zone asked in: 19:00 wherever the reader is.
    for zone in ["America/New_York", "Asia/Seoul"] {
        let day = app
            .get(
                m,
                &format!("/v2/calendar/busy?time=2026-02-14T12:00:00&zoneId={zone}"),
            )
            .await;
        let blocks = day.assert(200);
        let dinner: Vec<&Value> = blocks
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["title"] == "Valentine's dinner")
            .collect();
        assert_eq!(dinner.len(), 1, "{zone}: {blocks}");
        assert_eq!(dinner[0]["start"]["dateTime"], "2026-02-14T19:00:00");
    }
    // An RDATE adds an occurrence; the override moves another; the birthday is free time.
    let week = app
        .get(
            m,
            "/v2/calendar/busy/week?time=2026-03-22T12:00:00&zoneId=America/New_York",
        )
        .await;
    let week = week.assert(200);
    assert!(
        titles(week).contains(&"Kids' swimming (Sunday this time)".to_owned()),
        "{week}"
    );
    assert!(!titles(week).contains(&"Mum's birthday".to_owned()));

    // Validation.
    for (body, field) in [
        (json!({"name": "", "ics": "x"}), "name"),
        (
            json!({"name": "x".repeat(101), "ics": fixture("apple.ics")}),
            "name",
        ),
        (
            json!({"name": "Bad", "ics": "BEGIN:VCARD\r\nEND:VCARD\r\n"}),
            "ics",
        ),
        (json!({"name": "Bad", "ics": "hello"}), "ics"),
        (json!({"name": "Bad"}), "ics"),
    ] {
        let res = app
            .post(m, "/v2/calendar/subscriptions/upload", body.clone())
            .await;
        res.assert(400);
        assert_eq!(
            res.body["errors"][0]["field"], field,
            "{body}: {}",
            res.text
        );
    }
    app.post(m, "/v2/calendar/subscriptions", json!({"name": "Work"}))
        .await
        .assert(400);
    app.get(m, "/v2/calendar/busy?zoneId=Asia/Seoul")
        .await
        .assert(400);
    app.get(
        m,
        "/v2/calendar/busy?time=2026-02-14T12:00:00&zoneId=Mars/Base",
    )
    .await
    .assert(400);

    // Ten calendars per member.
    for i in 2..=10 {
        app.post(
            m,
            "/v2/calendar/subscriptions/upload",
            json!({"name": format!("Cal {i}"), "ics": fixture("outlook.ics")}),
        )
        .await
        .assert(201);
    }
    let res = app
        .post(
            m,
            "/v2/calendar/subscriptions/upload",
            json!({"name": "Eleven", "ics": fixture("outlook.ics")}),
        )
        .await;
    res.assert(409);
    assert_eq!(
        res.body["message"],
        "at most 10 calendars can be added; delete one first"
    );
    let (server, _) = calendar_server(fixture("google.ics")).await;
    app.post(
        m,
        "/v2/calendar/subscriptions",
        json!({"name": "Eleven", "url": server.url("/work.ics")}),
    )
    .await
    .assert(409);
    // An unprovisioned member: 503.
    app.get(99, "/v2/calendar/subscriptions").await.assert(503);
}

both_backends!(
    subscriptions_are_fetched_refreshed_and_deleted,
    what_a_url_answers_is_checked,
    private_addresses_are_refused_unless_allowed,
    uploads_and_limits,
);

/// A calendar served behind the operator's own CA (`tls.ca_file`) is fetched once that CA is trusted, like every
/// outbound HTTPS call: the calendar client starts from the shared HTTPS roots, not a client of its own. (nextest
/// runs each test in a process of its own, so the process-wide trust does not leak into other tests.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calendar_behind_the_operators_ca_is_fetched_once_it_is_trusted() {
    use pinit_kernel::tls::{TlsMaterial, TlsSettings, trust_for_https};
    use pinit_testkit::tls::{ProxyTls, TestCa, TlsProxy, socket_addr_of};

    let app = insecure(Backend::Sqlite).await;
    let m = app.member(1, Some("Europe/Berlin")).await;
    let (server, _) = calendar_server(fixture("google.ics")).await;
    let ca = TestCa::new("corporate CA");
    let proxy = TlsProxy::https(
        socket_addr_of(&server.url("/")),
        ProxyTls::presenting(ca.issue("calendar", &["localhost"])),
    )
    .await;
    let url = format!("https://localhost:{}/work.ics", proxy.addr.port());

    let untrusted = app
        .post(
            m,
            "/v2/calendar/subscriptions",
            json!({"name": "Work", "url": url}),
        )
        .await;
    untrusted.assert(422);
    assert!(
        untrusted.text.contains("UnknownIssuer"),
        "an unknown CA is a failed fetch: {}",
        untrusted.text
    );

    trust_for_https(
        &TlsMaterial::load(&TlsSettings {
            ca_file: Some(ca.file()),
            ..Default::default()
        })
        .expect("the test CA loads"),
    )
    .expect("trusted");
    // The binary trusts the CA before it builds anything: so does the second app here.
    let app = insecure(Backend::Sqlite).await;
    let m = app.member(1, Some("Europe/Berlin")).await;
    let trusted = app
        .post(
            m,
            "/v2/calendar/subscriptions",
            json!({"name": "Work", "url": url}),
        )
        .await;
    let body = trusted.assert(201);
    assert_eq!(body["events"], 7, "{body}");
    assert!(body.get("lastError").is_none(), "{body}");
}
