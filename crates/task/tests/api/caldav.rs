//! CalDAV (`/dav`) with a real client: python-caldav (PyPI, test-only, `tests/oracle/caldav_client.py`) discovers
//! the calendar from `/dav/`, lists the events, searches a time range and syncs incrementally (RFC 6578, its
//! fallback to a full listing disabled); every item it reads is parsed by Python's `icalendar`. Plus the
//! protocol details a client relies on, over raw HTTP: depth, 404s for others' paths, ETags and 304, the
//! `sync-token` refusal, unsupported reports and methods.

use jiff::SignedDuration;
use pinit_kernel::Backend;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{App, spawn_at};

const ZONE: &str = "Europe/Berlin";

fn oracle(request: &Value) -> Option<Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle");
    pinit_testkit::python::run_json(
        &dir.join("requirements.txt"),
        &dir.join("caldav_client.py"),
        request,
    )
}

async fn dav(
    app: &App,
    member: i64,
    method: &str,
    path: &str,
    depth: Option<&str>,
    body: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = reqwest::Client::new()
        .request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            app.server.url(path),
        )
        .header("x-member-id", member.to_string())
        .body(body.to_string());
    if let Some(d) = depth {
        req = req.header("depth", d);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.text().await.unwrap())
}

/// A `sync-collection` REPORT body asking for ETags since `token` (empty: everything).
fn sync(token: &str) -> String {
    format!(
        r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:prop><d:getetag/></d:prop></d:sync-collection>"#
    )
}

/// The new sync token a `sync-collection` answer carries.
fn token_of(answer: &str) -> String {
    answer
        .split("<d:sync-token>")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .unwrap_or_else(|| panic!("a sync-token in {answer}"))
        .to_string()
}

fn summaries(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

async fn a_real_client_discovers_lists_searches_and_syncs(backend: Backend) {
    let app = spawn_at(backend, "2026-12-01T00:00:00Z").await;
    let m = app.member(7, Some(ZONE)).await;
    app.member(8, Some(ZONE)).await;
    app.schedule(m, "아침 집중", "2026-12-02T09:00:00", ZONE, "DEEP_WORK")
        .await;
    let review = app
        .schedule(
            m,
            "Review, week; notes",
            "2026-12-05T14:00:00",
            ZONE,
            "ADMIN_TASK",
        )
        .await;
    let far = app
        .schedule(m, "Far away", "2027-01-10T10:00:00", ZONE, "DEEP_WORK")
        .await;
    app.schedule(
        8,
        "someone else's",
        "2026-12-02T09:00:00",
        ZONE,
        "DEEP_WORK",
    )
    .await;

    let base = json!({"url": app.server.url("/dav/"), "headers": {"X-Member-Id": m.to_string()},
        "start": "2026-12-01T00:00:00+00:00", "end": "2026-12-08T00:00:00+00:00"});
    let mut first = base.clone();
    first["phase"] = json!("first");
    let Some(found) = oracle(&first) else { return };
    assert!(
        found["principal"].as_str().unwrap().ends_with("/dav/7/"),
        "{found}"
    );
    let names: Vec<&str> = found["calendars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Pinit schedules", "Pinit tasks"], "{found}");
    assert!(
        found["calendars"][0]["url"]
            .as_str()
            .unwrap()
            .ends_with("/dav/7/schedules/")
    );
    let events = found["events"].as_array().unwrap();
    assert_eq!(events.len(), 3, "{found}");
    for e in events {
        assert_eq!(e["tzid"], ZONE, "{e}");
        assert!(
            e["timezones"].as_array().unwrap().contains(&json!(ZONE)),
            "{e}"
        );
    }
    let titles: Vec<&str> = events
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert!(
        titles.contains(&"Review, week; notes"),
        "escaping survives: {titles:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["dtstart"] == "2026-12-02T09:00:00+01:00"),
        "{found}"
    );
    assert_eq!(
        summaries(&found["in_range"]),
        ["Review, week; notes", "아침 집중"]
    );
    assert_eq!(
        summaries(&found["synced"]),
        ["Far away", "Review, week; notes", "아침 집중"]
    );
    let token = found["sync_token"].as_str().unwrap().to_string();

    // Changes through the JSON API: one deleted, one renamed, one new.
    app.clock.advance(SignedDuration::from_secs(60));
    app.delete(m, &format!("/v2/schedules/{far}"))
        .await
        .assert(204);
    app.patch(
        m,
        &format!("/v2/schedules/{review}"),
        json!({"title": "Review (moved)"}),
    )
    .await
    .assert(200);
    app.schedule(m, "New one", "2026-12-03T08:00:00", ZONE, "QUICK_TASK")
        .await;

    let mut since = base.clone();
    since["phase"] = json!("since");
    since["token"] = json!(token);
    let Some(changes) = oracle(&since) else {
        return;
    };
    assert_eq!(
        summaries(&changes["changed"]),
        ["New one", "Review (moved)"],
        "{changes}"
    );
    let deleted = summaries(&changes["deleted"]);
    assert_eq!(deleted.len(), 1, "{changes}");
    assert!(
        deleted[0].ends_with(&format!("/dav/7/schedules/{far}.ics")),
        "{changes}"
    );
    assert_ne!(changes["sync_token"], json!(token));
}

async fn the_protocol_details_clients_rely_on(backend: Backend) {
    let app = spawn_at(backend, "2026-12-01T00:00:00Z").await;
    let m = app.member(7, Some(ZONE)).await;
    let id = app
        .schedule(m, "딥 워크", "2026-12-02T09:00:00", ZONE, "DEEP_WORK")
        .await;
    let item = format!("/dav/7/schedules/{id}.ics");

    let (status, headers, _) = dav(&app, m, "OPTIONS", "/dav/", None, "").await;
    assert_eq!(status, 200);
    assert!(headers["dav"].to_str().unwrap().contains("calendar-access"));

    // Depth 0 is the collection alone; depth 1 adds its items.
    let propfind = r#"<d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/"><d:prop><d:getetag/><cs:getctag/><d:nothing-here/></d:prop></d:propfind>"#;
    let (status, _, zero) = dav(
        &app,
        m,
        "PROPFIND",
        "/dav/7/schedules/",
        Some("0"),
        propfind,
    )
    .await;
    assert_eq!(status, 207);
    assert_eq!(zero.matches("<d:response>").count(), 1, "{zero}");
    assert!(zero.contains("<cs:getctag>"), "{zero}");
    assert!(
        zero.contains("404 Not Found"),
        "an unknown property is reported missing: {zero}"
    );
    let (_, _, one) = dav(
        &app,
        m,
        "PROPFIND",
        "/dav/7/schedules/",
        Some("1"),
        propfind,
    )
    .await;
    assert_eq!(one.matches("<d:response>").count(), 2, "{one}");

    // Someone else's paths do not exist; neither do unknown ones.
    for path in [
        "/dav/8/",
        "/dav/8/schedules/",
        "/dav/7/nothing/",
        "/dav/7/schedules/999.ics",
    ] {
        let (status, _, _) = dav(&app, m, "PROPFIND", path, Some("0"), "").await;
        assert_eq!(status, 404, "{path}");
    }

    // GET with a strong ETag, and 304 for it.
    let (status, headers, body) = dav(&app, m, "GET", &item, None, "").await;
    assert_eq!(status, 200);
    assert!(body.starts_with("BEGIN:VCALENDAR\r\n"), "{body}");
    let tag = headers["etag"].to_str().unwrap().to_string();
    assert!(tag.starts_with('"') && !tag.starts_with("W/"), "{tag}");
    let res = reqwest::Client::new()
        .get(app.server.url(&item))
        .header("x-member-id", "7")
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    // A change makes a new ETag and a new ctag.
    app.clock.advance(SignedDuration::from_secs(1));
    app.patch(
        m,
        &format!("/v2/schedules/{id}"),
        json!({"title": "renamed"}),
    )
    .await
    .assert(200);
    let (_, headers, _) = dav(&app, m, "GET", &item, None, "").await;
    assert_ne!(headers["etag"].to_str().unwrap(), tag);
    let (_, _, after) = dav(
        &app,
        m,
        "PROPFIND",
        "/dav/7/schedules/",
        Some("0"),
        propfind,
    )
    .await;
    assert_ne!(after, zero);

    // A sync token it never gave out is refused as RFC 6578 says; unknown reports and writes too.
    let stale = sync("urn:pinit:sync:99999999999999999");
    let (status, _, body) = dav(&app, m, "REPORT", "/dav/7/schedules/", None, &stale).await;
    assert_eq!(status, 403);
    assert!(body.contains("valid-sync-token"), "{body}");
    let (status, _, _) = dav(
        &app,
        m,
        "REPORT",
        "/dav/7/schedules/",
        None,
        r#"<d:expand-property xmlns:d="DAV:"/>"#,
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, _) = dav(&app, m, "REPORT", "/dav/7/schedules/", None, "<not xml").await;
    assert_eq!(status, 400);
    let (status, headers, _) = dav(&app, m, "MKCOL", "/dav/7/schedules/", None, "").await;
    assert_eq!(status, 405);
    assert!(headers.contains_key("allow"));
}

async fn a_real_client_creates_edits_and_deletes_and_nothing_it_wrote_is_lost(backend: Backend) {
    let app = spawn_at(backend, "2026-12-01T00:00:00Z").await;
    let m = app.member(7, Some(ZONE)).await;
    let request = json!({"url": app.server.url("/dav/"), "headers": {"X-Member-Id": m.to_string()},
        "phase": "write"});
    let Some(out) = oracle(&request) else { return };
    let created = &out["created"];
    assert_eq!(created["uid"], "client-1@example.com", "{out}");
    assert_eq!(created["summary"], "Dentist");
    assert_eq!(created["dtstart"], "2026-12-04T10:00:00+01:00");
    assert_eq!(
        created["dtend"], "2026-12-04T10:45:00+01:00",
        "its own length"
    );
    assert_eq!(created["location"], "Clinic, 2nd floor", "kept verbatim");
    assert_eq!(created["flag"], "keep me");
    assert_eq!(created["alarms"], json!(["-PT15M"]));
    assert_eq!(
        created["description"],
        Value::Null,
        "none given, none returned"
    );
    let edited = &out["edited"];
    assert_eq!(edited["summary"], "Dentist (moved)", "{out}");
    assert_eq!(edited["dtstart"], "2026-12-04T11:00:00+01:00");
    assert_eq!(edited["dtend"], "2026-12-04T11:45:00+01:00");
    assert_eq!(edited["location"], "Clinic, 2nd floor");
    assert_eq!(edited["alarms"], json!(["-PT15M"]));
    assert_eq!(out["deleted"], true);
    // The JSON API saw it all as a schedule: created, moved, then deleted (its events went out).
    let kinds: Vec<String> = app
        .events()
        .await
        .into_iter()
        .map(|e| e.routing_key)
        .collect();
    for kind in ["schedule.time.upcoming.updated", "schedule.deleted"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}

async fn stale_and_conflicting_writes_are_refused(backend: Backend) {
    let app = spawn_at(backend, "2026-12-01T00:00:00Z").await;
    let m = app.member(7, Some(ZONE)).await;
    let id = app
        .schedule(m, "딥 워크", "2026-12-02T09:00:00", ZONE, "DEEP_WORK")
        .await;
    let item = format!("/dav/7/schedules/{id}.ics");
    let (_, headers, body) = dav(&app, m, "GET", &item, None, "").await;
    let tag = headers["etag"].to_str().unwrap().to_string();
    let put = |body: String, header: Option<(&'static str, String)>| {
        let mut req = reqwest::Client::new()
            .put(app.server.url(&item))
            .header("x-member-id", "7")
            .body(body);
        if let Some((k, v)) = header {
            req = req.header(k, v);
        }
        req.send()
    };
    // Someone else changed it in the meantime: an edit based on the old ETag is refused, not applied.
    app.clock.advance(SignedDuration::from_secs(1));
    app.patch(
        m,
        &format!("/v2/schedules/{id}"),
        json!({"title": "changed in Pinit"}),
    )
    .await
    .assert(200);
    let edited = body.replace("SUMMARY:딥 워크", "SUMMARY:from the app");
    let res = put(edited.clone(), Some(("if-match", tag.clone())))
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    let view = app.get(m, &format!("/v2/schedules/{id}")).await;
    assert_eq!(
        view.assert(200)["title"],
        "changed in Pinit",
        "never a lost update"
    );
    // With the current ETag it goes through.
    let (_, headers, _) = dav(&app, m, "GET", &item, None, "").await;
    let current = headers["etag"].to_str().unwrap().to_string();
    let res = put(edited.clone(), Some(("if-match", current.clone())))
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_ne!(res.headers()["etag"].to_str().unwrap(), current);
    // If-None-Match: * on an existing item is refused; a second event with a UID already used is refused.
    let res = put(edited.clone(), Some(("if-none-match", "*".into())))
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    let twin = reqwest::Client::new()
        .put(app.server.url("/dav/7/schedules/twin.ics"))
        .header("x-member-id", "7")
        .body(edited.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(twin.status(), 403);
    assert!(twin.text().await.unwrap().contains("no-uid-conflict"));
    // What cannot be a schedule is refused with the reason; a stale delete too.
    let long = edited.replace(
        "SUMMARY:from the app",
        &format!("SUMMARY:{}", "a title far longer than a hundred ".repeat(4)),
    );
    let res = put(long, None).await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("SUMMARY"));
    let res = reqwest::Client::new()
        .delete(app.server.url(&item))
        .header("x-member-id", "7")
        .header("if-match", tag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    // A started schedule cannot be edited from a calendar: 409, like the JSON API.
    app.run(m, id, "start").await.assert(204);
    let (_, headers, _) = dav(&app, m, "GET", &item, None, "").await;
    let res = put(
        edited,
        Some(("if-match", headers["etag"].to_str().unwrap().to_string())),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 409);
}

async fn tasks_are_a_todo_calendar_that_syncs(backend: Backend) {
    let app = spawn_at(backend, "2026-12-01T00:00:00Z").await;
    let m = app.member(7, Some(ZONE)).await;
    let first = app.task(m, "자료 조사", "2026-12-10", ZONE).await;
    let second = app
        .task_with(
            m,
            "발표, 준비",
            "2026-12-20",
            ZONE,
            json!([{"fromId": first, "toId": 0}]),
        )
        .await;
    let query = r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VTODO"/></c:comp-filter></c:filter></c:calendar-query>"#;
    let (status, _, body) = dav(&app, m, "REPORT", "/dav/7/tasks/", None, query).await;
    assert_eq!(status, 207, "{body}");
    assert_eq!(body.matches("<d:response>").count(), 2, "{body}");
    for line in [
        "BEGIN:VTODO",
        "DUE;VALUE=DATE:20261220",
        "SUMMARY:발표\\, 준비",
        "STATUS:NEEDS-ACTION",
        &format!("RELATED-TO;RELTYPE=DEPENDS-ON:pinit-task-{first}@pinit"),
    ] {
        assert!(body.contains(line), "{line} in {body}");
    }
    // VEVENT queries find no tasks; the Schedules calendar has no tasks either.
    let events = query.replace("VTODO", "VEVENT");
    let (_, _, body) = dav(&app, m, "REPORT", "/dav/7/tasks/", None, &events).await;
    assert_eq!(body.matches("<d:response>").count(), 0, "{body}");

    // Sync: a completed task and a deleted one, since the first token.
    let (_, _, initial) = dav(&app, m, "REPORT", "/dav/7/tasks/", None, &sync("")).await;
    assert_eq!(initial.matches("<d:response>").count(), 2, "{initial}");
    let token = token_of(&initial);
    app.clock.advance(SignedDuration::from_secs(5));
    app.post_empty(m, &format!("/v2/tasks/{first}/complete"))
        .await
        .assert(204);
    app.delete(m, &format!("/v2/tasks/{second}"))
        .await
        .assert(204);
    let (_, _, changes) = dav(&app, m, "REPORT", "/dav/7/tasks/", None, &sync(&token)).await;
    assert!(
        changes.contains(&format!("/dav/7/tasks/{first}.ics")),
        "{changes}"
    );
    assert!(
        changes.contains(&format!(
            "<d:href>/dav/7/tasks/{second}.ics</d:href><d:status>HTTP/1.1 404 Not Found</d:status>"
        )),
        "{changes}"
    );
    let (_, _, todo) = dav(
        &app,
        m,
        "GET",
        &format!("/dav/7/tasks/{first}.ics"),
        None,
        "",
    )
    .await;
    assert!(todo.contains("STATUS:COMPLETED"), "{todo}");
    // An app's edit of a task Pinit made: a new ETag, and Pinit's fields as the app left them.
    let (_, headers, _) = dav(
        &app,
        m,
        "GET",
        &format!("/dav/7/tasks/{first}.ics"),
        None,
        "",
    )
    .await;
    let tag = headers["etag"].to_str().unwrap().to_string();
    let renamed = todo.replace("SUMMARY:자료 조사", "SUMMARY:자료 조사 끝");
    let res = reqwest::Client::new()
        .put(app.server.url(&format!("/dav/7/tasks/{first}.ics")))
        .header("x-member-id", "7")
        .header("if-match", &tag)
        .body(renamed)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_ne!(res.headers()["etag"].to_str().unwrap(), tag);
    let view = app.get(m, &format!("/v2/tasks/{first}")).await;
    let view = view.assert(200);
    assert_eq!(view["title"], "자료 조사 끝");
    assert_eq!(view["importance"], 5, "PRIORITY 5 is importance 5");
    assert_eq!(view["difficulty"], 3, "X-PINIT-DIFFICULTY");
}

/// A task item's PUT (`If-Match` when given).
async fn put_task(
    app: &App,
    name: &str,
    body: &str,
    if_match: Option<&str>,
) -> (u16, String, String) {
    let mut req = reqwest::Client::new()
        .put(app.server.url(&format!("/dav/7/tasks/{name}.ics")))
        .header("x-member-id", "7")
        .body(body.to_string());
    if let Some(tag) = if_match {
        req = req.header("if-match", tag);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let tag = res
        .headers()
        .get("etag")
        .map(|t| t.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, tag, res.text().await.unwrap())
}

fn todo_body(uid: &str, summary: &str, extra: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:20261201T000000Z\r\nSUMMARY:{summary}\r\nDUE;VALUE=DATE:20261210\r\n{extra}END:VTODO\r\nEND:VCALENDAR\r\n"
    )
}

async fn a_real_client_writes_tasks_through_the_task_rules(backend: Backend) {
    let app = spawn_at(backend, "2026-12-01T00:00:00Z").await;
    let m = app.member(7, Some(ZONE)).await;
    let prep = app.task(m, "Prep", "2026-12-05", ZONE).await;
    let request = json!({"url": app.server.url("/dav/"), "headers": {"X-Member-Id": m.to_string()},
        "phase": "tasks", "prerequisite": format!("pinit-task-{prep}@pinit")});
    let Some(out) = oracle(&request) else { return };
    let created = &out["created"];
    assert_eq!(created["summary"], "Write report", "{out}");
    assert_eq!(created["due"], "2026-12-10");
    assert_eq!(created["priority"], 1);
    assert_eq!(created["status"], "NEEDS-ACTION");
    assert_eq!(created["categories"], json!(["work"]), "kept verbatim");
    assert_eq!(created["alarms"], json!(["-PT15M"]));
    assert_eq!(
        created["related"],
        format!("pinit-task-{prep}@pinit"),
        "read as a dependency, written back"
    );
    assert_eq!(out["open"], json!(["Prep", "Write report"]), "{out}");
    assert_eq!(out["open_after"], json!([]), "both completed from the app");
    assert_eq!(out["all_after"], json!(["Prep", "Write report"]));
    assert_eq!(out["edited"]["summary"], "Report v2");
    assert_eq!(out["edited"]["status"], "COMPLETED");
    assert_eq!(out["edited"]["alarms"], json!(["-PT15M"]));
    // The JSON API sees one task made by the app: its fields, its prerequisite, completed.
    let page = app.get(m, "/v2/tasks/cursor?size=10").await;
    let page = page.assert(200);
    let items = page["data"].as_array().expect("a page");
    let report = items
        .iter()
        .find(|t| t["title"] == "Report v2")
        .unwrap_or_else(|| panic!("the app's task in {page}"));
    assert_eq!(report["importance"], 9, "PRIORITY 1 is the highest");
    assert_eq!(report["dueDate"]["date"], "2026-12-10");
    assert_eq!(report["previousTaskIds"], json!([prep]));
    assert!(items.iter().any(|t| t["id"] == prep), "{page}");
    // Deleting it from the app deletes the task.
    let url = out["url"].as_str().unwrap();
    let path = &url[url.find("/dav/").unwrap()..];
    let (status, _, _) = dav(&app, m, "DELETE", path, None, "").await;
    assert_eq!(status, 204);
    let id = report["id"].as_i64().unwrap();
    app.get(m, &format!("/v2/tasks/{id}")).await.assert(404);
    let (status, _, _) = dav(&app, m, "GET", path, None, "").await;
    assert_eq!(status, 404);
}

async fn task_writes_keep_the_json_apis_rules(backend: Backend) {
    let app = spawn_at(backend, "2026-12-01T00:00:00Z").await;
    let m = app.member(7, Some(ZONE)).await;
    let first = app.task(m, "First", "2026-12-05", ZONE).await;
    let dep = format!("RELATED-TO;RELTYPE=DEPENDS-ON:pinit-task-{first}@pinit\r\n");
    let (status, tag, body) =
        put_task(&app, "a", &todo_body("a@x", "After first", &dep), None).await;
    assert_eq!(status, 201, "{body}");
    // Completing it before its prerequisite is refused like the JSON API's completion, and nothing changes.
    let done = todo_body("a@x", "After first", &format!("{dep}STATUS:COMPLETED\r\n"));
    let (status, _, body) = put_task(&app, "a", &done, Some(&tag)).await;
    assert_eq!(status, 409, "{body}");
    let (_, headers, now) = dav(&app, m, "GET", "/dav/7/tasks/a.ics", None, "").await;
    assert_eq!(headers["etag"].to_str().unwrap(), tag, "unchanged");
    assert!(now.contains("STATUS:NEEDS-ACTION"), "{now}");
    // A cycle is refused: the first task cannot wait for the one that waits for it.
    let (_, headers, first_todo) = dav(
        &app,
        m,
        "GET",
        &format!("/dav/7/tasks/{first}.ics"),
        None,
        "",
    )
    .await;
    let cyclic = first_todo.replace(
        "END:VTODO",
        "RELATED-TO;RELTYPE=DEPENDS-ON:a@x\r\nEND:VTODO",
    );
    let first_tag = headers["etag"].to_str().unwrap().to_string();
    let (status, _, body) = put_task(&app, &first.to_string(), &cyclic, Some(&first_tag)).await;
    assert!(status == 409 || status == 400, "{status} {body}");
    // Removing the dependency from the app removes the edge; then it completes.
    let (status, tag, body) =
        put_task(&app, "a", &todo_body("a@x", "After first", ""), Some(&tag)).await;
    assert_eq!(status, 204, "{body}");
    let (status, tag, body) = put_task(
        &app,
        "a",
        &todo_body("a@x", "After first", "STATUS:COMPLETED\r\n"),
        Some(&tag),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let list = app.get(m, "/v2/tasks/cursor?size=10").await;
    let list = list.assert(200);
    let a = list["data"]
        .as_array()
        .and_then(|l| l.iter().find(|t| t["title"] == "After first"))
        .unwrap_or_else(|| panic!("the app's task in {list}"));
    assert_eq!(a["completed"], true);
    assert_eq!(a["previousTaskIds"], json!([]));
    // Reopened from the app.
    let (status, _, _) = put_task(
        &app,
        "a",
        &todo_body("a@x", "After first", "STATUS:NEEDS-ACTION\r\n"),
        Some(&tag),
    )
    .await;
    assert_eq!(status, 204);
    let id = a["id"].as_i64().unwrap();
    assert_eq!(
        app.get(m, &format!("/v2/tasks/{id}")).await.assert(200)["completed"],
        false
    );
    // Stale writes, a UID taken, what cannot be a task: refused.
    let (status, _, _) = put_task(&app, "a", &todo_body("a@x", "x", ""), Some(&tag)).await;
    assert_eq!(status, 412);
    let (status, _, body) = put_task(&app, "b", &todo_body("a@x", "twin", ""), None).await;
    assert_eq!(status, 403);
    assert!(body.contains("no-uid-conflict"), "{body}");
    let (status, _, body) = put_task(
        &app,
        "c",
        &todo_body("c@x", &"a title far longer than a hundred ".repeat(4), ""),
        None,
    )
    .await;
    assert_eq!(status, 403);
    assert!(body.contains("SUMMARY"), "{body}");
    let event = todo_body("d@x", "event", "").replace("VTODO", "VEVENT");
    let (status, _, body) = put_task(&app, "d", &event, None).await;
    assert_eq!(status, 403);
    assert!(body.contains("VTODO"), "{body}");
    // A to-do without DUE is due today; a deleted one is reported by sync under the app's name.
    let (_, _, initial) = dav(&app, m, "REPORT", "/dav/7/tasks/", None, &sync("")).await;
    let token = token_of(&initial);
    app.clock.advance(SignedDuration::from_secs(1));
    let undated = todo_body("e@x", "someday", "").replace("DUE;VALUE=DATE:20261210\r\n", "");
    let (status, _, _) = put_task(&app, "e", &undated, None).await;
    assert_eq!(status, 201);
    let (_, _, e) = dav(&app, m, "GET", "/dav/7/tasks/e.ics", None, "").await;
    assert!(e.contains("DUE;VALUE=DATE:20261201"), "{e}");
    app.clock.advance(SignedDuration::from_secs(1));
    let (status, _, _) = dav(&app, m, "DELETE", "/dav/7/tasks/a.ics", None, "").await;
    assert_eq!(status, 204);
    let (_, _, changes) = dav(&app, m, "REPORT", "/dav/7/tasks/", None, &sync(&token)).await;
    assert!(changes.contains("/dav/7/tasks/e.ics"), "{changes}");
    assert!(
        changes.contains(
            "<d:href>/dav/7/tasks/a.ics</d:href><d:status>HTTP/1.1 404 Not Found</d:status>"
        ),
        "{changes}"
    );
}

/// A daily series from 2026-12-02 09:00 in [`ZONE`] by `rrule` (five days); its first occurrence.
async fn five_days(app: &App, m: i64, title: &str, description: &str, rrule: &str) -> Value {
    let created = app
        .post(
            m,
            "/v2/schedules",
            json!({"title": title, "description": description,
                "date": {"dateTime": "2026-12-02T09:00:00", "zoneId": ZONE}, "scheduleType": "DEEP_WORK",
                "recurrence": {"rrule": rrule}}),
        )
        .await;
    created.assert(201).clone()
}

async fn a_repeating_schedule_is_one_item_with_its_rule_and_overrides(backend: Backend) {
    let app = spawn_at(backend, "2026-12-01T00:00:00Z").await;
    let m = app.member(7, Some(ZONE)).await;
    let first = five_days(&app, m, "아침 집중", "매일", "FREQ=DAILY;COUNT=5").await;
    let series = first["seriesId"].as_i64().unwrap();
    let week = app
        .get(
            m,
            "/v2/schedules/week?time=2026-12-02T00:00:00&zoneId=Europe/Berlin",
        )
        .await;
    let ids: Vec<i64> = week
        .assert(200)
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["seriesId"] == series)
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 5, "{:?}", week.body);
    app.clock.advance(SignedDuration::from_secs(1));
    app.patch(
        m,
        &format!("/v2/schedules/{}", ids[1]),
        json!({"title": "늦잠 후"}),
    )
    .await
    .assert(200);

    // Listed once, as `series-{id}`, not as its occurrences.
    let (_, _, listing) = dav(&app, m, "PROPFIND", "/dav/7/schedules/", Some("1"), "").await;
    let item = format!("/dav/7/schedules/series-{series}.ics");
    assert!(listing.contains(&item), "{listing}");
    assert!(
        !listing.contains(&format!("/dav/7/schedules/{}.ics", ids[0])),
        "{listing}"
    );
    let (status, headers, body) = dav(&app, m, "GET", &item, None, "").await;
    assert_eq!(status, 200);
    for line in [
        "RRULE:FREQ=DAILY;COUNT=5",
        &format!("UID:pinit-series-{series}@pinit"),
        "RECURRENCE-ID;TZID=Europe/Berlin:20261203T090000",
        "SUMMARY:늦잠 후",
        "BEGIN:VTIMEZONE",
    ] {
        assert!(body.contains(line), "{line} in {body}");
    }
    let tag = headers["etag"].to_str().unwrap().to_string();

    // Sync: an edit of another occurrence changes the series item (and its ETag); deleting the series
    // reports it gone.
    let (_, _, initial) = dav(&app, m, "REPORT", "/dav/7/schedules/", None, &sync("")).await;
    let token = token_of(&initial);
    app.clock.advance(SignedDuration::from_secs(1));
    app.patch(
        m,
        &format!("/v2/schedules/{}", ids[3]),
        json!({"title": "outside"}),
    )
    .await
    .assert(200);
    let (_, _, changes) = dav(&app, m, "REPORT", "/dav/7/schedules/", None, &sync(&token)).await;
    assert!(changes.contains(&item), "{changes}");
    let (_, headers, _) = dav(&app, m, "GET", &item, None, "").await;
    assert_ne!(headers["etag"].to_str().unwrap(), tag);
    // A write based on the item before that edit is refused.
    let res = reqwest::Client::new()
        .put(app.server.url(&item))
        .header("x-member-id", "7")
        .header("if-match", &tag)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    let token = token_of(&changes);
    app.clock.advance(SignedDuration::from_secs(1));
    app.delete(m, &format!("/v2/schedules/{}?scope=all", ids[0]))
        .await
        .assert(204);
    let (_, _, gone) = dav(&app, m, "REPORT", "/dav/7/schedules/", None, &sync(&token)).await;
    assert!(
        gone.contains(&format!(
            "<d:href>{item}</d:href><d:status>HTTP/1.1 404 Not Found</d:status>"
        )),
        "{gone}"
    );
}

pinit_testkit::both_backends!(
    a_repeating_schedule_is_one_item_with_its_rule_and_overrides,
    a_calendar_app_changes_a_repeating_schedule,
    tasks_are_a_todo_calendar_that_syncs,
    a_real_client_writes_tasks_through_the_task_rules,
    task_writes_keep_the_json_apis_rules,
    a_real_client_discovers_lists_searches_and_syncs,
    the_protocol_details_clients_rely_on,
    a_real_client_creates_edits_and_deletes_and_nothing_it_wrote_is_lost,
    stale_and_conflicting_writes_are_refused,
);

/// The week's occurrences of `series` from the JSON API: (local start, title), in order.
async fn occurrences(app: &App, m: i64, series: i64) -> Vec<(String, String)> {
    let week = app
        .get(
            m,
            "/v2/schedules/week?time=2026-12-02T00:00:00&zoneId=Europe/Berlin",
        )
        .await;
    let mut out: Vec<(String, String)> = week
        .assert(200)
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["seriesId"] == series)
        .map(|s| {
            (
                s["date"]["dateTime"].as_str().unwrap().to_string(),
                s["title"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

async fn a_calendar_app_changes_a_repeating_schedule(backend: Backend) {
    let app = spawn_at(backend, "2026-12-01T00:00:00Z").await;
    let m = app.member(7, Some(ZONE)).await;
    let created = five_days(
        &app,
        m,
        "Standup",
        "daily",
        "FREQ=DAILY;UNTIL=20261206T090000",
    )
    .await;
    let series = created["seriesId"].as_i64().unwrap();
    let item = format!("/dav/7/schedules/series-{series}.ics");
    let put = |body: String, tag: String| {
        reqwest::Client::new()
            .put(app.server.url(&item))
            .header("x-member-id", "7")
            .header("if-match", tag)
            .body(body)
            .send()
    };
    let read = || async {
        let (status, headers, body) = dav(&app, m, "GET", &item, None, "").await;
        assert_eq!(status, 200, "{body}");
        (headers["etag"].to_str().unwrap().to_string(), body)
    };

    // The item sent back as it was read changes nothing.
    let (tag, body) = read().await;
    let res = put(body.clone(), tag.clone()).await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers()["etag"].to_str().unwrap(), tag);

    // "Delete this event" on a phone: the app adds an EXDATE; that occurrence is deleted.
    app.clock.advance(SignedDuration::from_secs(1));
    assert!(
        body.contains("RRULE:FREQ=DAILY;UNTIL=20261206T080000Z"),
        "{body}"
    );
    let without = body.replacen(
        "SUMMARY:Standup\r\n",
        "EXDATE;TZID=Europe/Berlin:20261203T090000\r\nSUMMARY:Standup\r\n",
        1,
    );
    let res = put(without, tag.clone()).await.unwrap();
    assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());
    let days = occurrences(&app, m, series).await;
    assert_eq!(days.len(), 4, "{days:?}");
    assert!(
        !days.iter().any(|(d, _)| d.starts_with("2026-12-03")),
        "{days:?}"
    );

    // "Change only this event": an override with RECURRENCE-ID moves and renames that occurrence alone.
    let (tag, body) = read().await;
    assert!(
        body.contains("EXDATE;TZID=Europe/Berlin:20261203T090000"),
        "{body}"
    );
    app.clock.advance(SignedDuration::from_secs(1));
    let one = body.replace(
        "END:VCALENDAR",
        &format!(
            "BEGIN:VEVENT\r\nUID:pinit-series-{series}@pinit\r\nDTSTAMP:20261201T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261204T090000\r\nDTSTART;TZID=Europe/Berlin:20261204T110000\r\nDTEND;TZID=Europe/Berlin:20261204T120000\r\nSUMMARY:Standup late\r\nDESCRIPTION:daily\r\nEND:VEVENT\r\nEND:VCALENDAR"
        ),
    );
    let res = put(one, tag.clone()).await.unwrap();
    assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());
    let days = occurrences(&app, m, series).await;
    assert!(
        days.contains(&("2026-12-04T11:00:00".into(), "Standup late".into())),
        "{days:?}"
    );
    assert!(
        days.contains(&("2026-12-05T09:00:00".into(), "Standup".into())),
        "{days:?}"
    );

    // "Change all events": the repeating event renamed and an hour earlier; the edited occurrence keeps its own.
    let (tag, body) = read().await;
    assert!(
        body.contains("RECURRENCE-ID;TZID=Europe/Berlin:20261204T090000"),
        "{body}"
    );
    app.clock.advance(SignedDuration::from_secs(1));
    let all = body
        .replacen("SUMMARY:Standup\r\n", "SUMMARY:Sync\r\n", 1)
        .replacen(
            "DTSTART;TZID=Europe/Berlin:20261202T090000",
            "DTSTART;TZID=Europe/Berlin:20261202T080000",
            1,
        );
    let res = put(all.clone(), tag.clone()).await.unwrap();
    assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());
    let new_tag = res.headers()["etag"].to_str().unwrap().to_string();
    let days = occurrences(&app, m, series).await;
    assert!(
        days.contains(&("2026-12-05T08:00:00".into(), "Sync".into())),
        "{days:?}"
    );
    assert!(
        days.contains(&("2026-12-04T11:00:00".into(), "Standup late".into())),
        "{days:?}"
    );
    assert!(
        !days.iter().any(|(d, _)| d.starts_with("2026-12-03")),
        "{days:?}"
    );
    let (current, _) = read().await;
    assert_eq!(current, new_tag, "the PUT's ETag is the item's");

    // Refused, with nothing changed: a stale write, moving the days by DTSTART, an override of no occurrence.
    let res = put(all.clone(), tag).await.unwrap();
    assert_eq!(res.status(), 412);
    let (tag, body) = read().await;
    let moved = body.replacen(
        "DTSTART;TZID=Europe/Berlin:20261202T080000",
        "DTSTART;TZID=Europe/Berlin:20261206T080000",
        1,
    );
    let res = put(moved, tag.clone()).await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("valid-calendar-object-resource")
    );
    let stray = body.replace(
        "END:VCALENDAR",
        &format!(
            "BEGIN:VEVENT\r\nUID:pinit-series-{series}@pinit\r\nDTSTAMP:20261201T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261220T080000\r\nDTSTART;TZID=Europe/Berlin:20261220T110000\r\nSUMMARY:Nowhere\r\nDESCRIPTION:daily\r\nEND:VEVENT\r\nEND:VCALENDAR"
        ),
    );
    let res = put(stray, tag.clone()).await.unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(read().await.0, tag, "unchanged");

    // Deleting the item deletes the series and its occurrences not started.
    app.run(m, created["id"].as_i64().unwrap(), "start")
        .await
        .assert(204);
    let (tag, _) = read().await;
    let res = reqwest::Client::new()
        .delete(app.server.url(&item))
        .header("x-member-id", "7")
        .header("if-match", tag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (status, _, _) = dav(&app, m, "GET", &item, None, "").await;
    assert_eq!(status, 404);
    let days = occurrences(&app, m, series).await;
    assert_eq!(
        days,
        vec![("2026-12-02T08:00:00".into(), "Sync".into())],
        "the started one stays"
    );
}
