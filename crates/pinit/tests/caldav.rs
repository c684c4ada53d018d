//! A real CalDAV client through the gateway, in both run modes: python-caldav (PyPI, the task service's test
//! oracle `crates/task/tests/oracle/caldav_client.py`) signs in with the member's username and an app password
//! over HTTP Basic, discovers the calendar from `/dav/`, lists and searches it, syncs, then creates, edits and
//! deletes an event — which the JSON API sees as a schedule — and writes to-dos the JSON API sees as tasks.

mod support;

use std::path::PathBuf;

use serde_json::{Value, json};
use support::member::provisioned_member;
use support::system::{Layout, System};

const ZONE: &str = "Asia/Seoul";

fn oracle_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../task/tests/oracle")
}

fn client(request: &Value) -> Option<Value> {
    pinit_testkit::python::run_json(
        &oracle_dir().join("requirements.txt"),
        &oracle_dir().join("caldav_client.py"),
        request,
    )
}

fn summaries(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|l| {
            l.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

async fn a_calendar_app_through_the_gateway(layout: Layout) {
    let system = System::start(layout, &[]).await;
    let http = pinit_testkit::client();
    let member = provisioned_member(&system, &http, "caldav").await;
    let res = http
        .post(system.url("/v0/app-passwords"))
        .bearer_auth(&member.token)
        .json(&json!({"name": "Thunderbird"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let password = res.json::<Value>().await.unwrap()["password"]
        .as_str()
        .unwrap()
        .to_string();
    let res = http
        .post(system.url("/v2/schedules"))
        .bearer_auth(&member.token)
        .json(&json!({"title": "아침 집중", "description": "설명",
            "date": {"dateTime": "2026-12-09T09:00:00", "zoneId": ZONE}, "scheduleType": "DEEP_WORK"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let base = json!({"url": system.url("/dav/"), "username": "caldav", "password": password,
        "start": "2026-12-08T00:00:00+00:00", "end": "2026-12-10T00:00:00+00:00"});
    let mut first = base.clone();
    first["phase"] = json!("first");
    let Some(found) = client(&first) else { return };
    assert_eq!(found["calendars"][0]["name"], "Pinit schedules", "{found}");
    let principal = found["principal"].as_str().unwrap();
    assert!(
        principal.ends_with(&format!("/dav/{}/", member.id)),
        "{found}"
    );
    // The member's schedules: provisioned_member's own and the one above.
    let titles: Vec<&str> = found["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert!(titles.contains(&"아침 집중"), "{found}");
    assert_eq!(found["in_range"], json!(["아침 집중"]));
    assert!(found["sync_token"].as_str().is_some_and(|t| !t.is_empty()));

    let mut write = base.clone();
    write["phase"] = json!("write");
    let Some(wrote) = client(&write) else { return };
    assert_eq!(wrote["created"]["location"], "Clinic, 2nd floor", "{wrote}");
    assert_eq!(wrote["edited"]["summary"], "Dentist (moved)");
    assert_eq!(wrote["edited"]["alarms"], json!(["-PT15M"]));
    assert_eq!(wrote["deleted"], true);

    // The Tasks calendar: a to-do made in the app waits for a task made in Pinit; both completed from the app.
    let res = http
        .post(system.url("/v2/tasks"))
        .bearer_auth(&member.token)
        .json(&json!({"title": "Prep", "description": "설명",
            "dueDate": {"date": "2026-12-05", "zoneId": ZONE}, "importance": 5, "difficulty": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let prep = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let mut tasks = base.clone();
    tasks["phase"] = json!("tasks");
    tasks["prerequisite"] = json!(format!("pinit-task-{prep}@pinit"));
    let Some(done) = client(&tasks) else { return };
    assert_eq!(done["created"]["summary"], "Write report", "{done}");
    // provisioned_member's own task stays open throughout.
    let open = |key: &str| summaries(&done[key]);
    assert!(
        open("open").contains(&"Prep".into()) && open("open").contains(&"Write report".into()),
        "{done}"
    );
    assert!(!open("open_after").contains(&"Prep".into()), "{done}");
    assert!(
        !open("open_after").contains(&"Write report".into()),
        "{done}"
    );
    assert_eq!(done["edited"]["summary"], "Report v2");
    assert_eq!(done["edited"]["alarms"], json!(["-PT15M"]));
    let res = http
        .get(system.url(&format!("/v2/tasks/{prep}")))
        .bearer_auth(&member.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["completed"], true);

    // A wrong password is refused before the task service.
    let res = http
        .request(
            reqwest::Method::from_bytes(b"PROPFIND").unwrap(),
            system.url("/dav/"),
        )
        .basic_auth("caldav", Some("not-the-app-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    system.stop().await;
}

mod embedded {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_calendar_app_through_the_gateway() {
        super::a_calendar_app_through_the_gateway(super::Layout::Embedded).await;
    }
}

mod distributed {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_calendar_app_through_the_gateway() {
        super::a_calendar_app_through_the_gateway(super::Layout::Distributed).await;
    }
}
