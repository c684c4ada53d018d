//! `GET /v2/export` (GDPR art. 20): the JSON document of a member with tasks and a dependency, a completed and a
//! running schedule, a repeating schedule and a statistics week — and nothing of another member; the CSV ZIP read
//! back here and by Python's own zipfile and csv modules (the header rows, RFC 4180 quoting of a title with a
//! comma, a quote and a newline, the same values as the JSON); pages that cover every row once; the 400 that names
//! the allowed formats, the 401 and the 503.

use std::collections::BTreeMap;
use std::io::Read;

use jiff::Timestamp;
use pinit_kernel::Backend;
use pinit_task::domain::{Description, MemberId, ScheduleDraft, ScheduleType, Title};
use pinit_testkit::both_backends;
use serde_json::{Value, json};

use crate::support::{App, spawn_app};

/// A title with a comma and a double quote, a description with both and line breaks (CRLF and LF): everything
/// CSV must quote.
const TRICKY: &str = "a, \"b\"";
const TRICKY_TEXT: &str = "line 1\r\nline \"2\", end\nlast";
const SEOUL: &str = "Asia/Seoul";

struct Seeded {
    member: i64,
    first_task: i64,
    second_task: i64,
    done: i64,
    running: i64,
    series: i64,
}

/// Member 1 (Seoul): two tasks (the second needs the first), a schedule run for 30 minutes and completed, one
/// started 10 minutes ago, a daily series of three with its own reminders. Member 2: a task and a schedule
/// titled `other-member`.
async fn seed(app: &App) -> Seeded {
    let member = app.member(1, None).await;
    let other = app.member(2, None).await;
    let first_task = app.task(member, "기획", "2026-02-03", SEOUL).await;
    let second_task = app
        .post(
            member,
            "/v2/tasks",
            json!({"title": TRICKY, "description": TRICKY_TEXT,
                   "dueDate": {"date": "2026-02-05", "zoneId": SEOUL},
                   "importance": 5, "difficulty": 3,
                   "addDependencies": [{"fromId": first_task, "toId": 0}]}),
        )
        .await;
    let second_task = second_task.assert(201);
    let second_task = second_task["id"].as_i64().expect("an id");
    let done = app
        .post(
            member,
            "/v2/schedules",
            json!({"title": TRICKY, "description": TRICKY_TEXT,
                   "date": {"dateTime": "2026-02-01T09:00:00", "zoneId": SEOUL},
                   "scheduleType": "DEEP_WORK"}),
        )
        .await;
    let done = done.assert(201)["id"].as_i64().expect("an id");
    app.run(member, done, "start").await.assert(204);
    app.advance_secs(30 * 60);
    app.run(member, done, "complete").await.assert(204);
    let running = app
        .schedule(
            member,
            "진행 중",
            "2026-02-01T10:00:00",
            SEOUL,
            "ADMIN_TASK",
        )
        .await;
    app.run(member, running, "start").await.assert(204);
    app.advance_secs(10 * 60);
    let series = app
        .post(
            member,
            "/v2/schedules",
            json!({"title": "딥워크", "description": "아침 집중",
                   "date": {"dateTime": "2026-02-02T08:00:00", "zoneId": SEOUL},
                   "scheduleType": "DEEP_WORK", "recurrence": {"rrule": "FREQ=DAILY;COUNT=3"},
                   "reminders": ["-PT10M"]}),
        )
        .await;
    let series = series.assert(201)["seriesId"]
        .as_i64()
        .expect("a series id");
    app.task(other, "other-member", "2026-02-03", SEOUL).await;
    app.schedule(
        other,
        "other-member",
        "2026-02-01T11:00:00",
        SEOUL,
        "DEEP_WORK",
    )
    .await;
    Seeded {
        member,
        first_task,
        second_task,
        done,
        running,
        series,
    }
}

/// The raw answer: status, headers, bytes.
async fn fetch(app: &App, member: i64, query: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let res = app
        .server
        .client
        .get(app.url(&format!("/v2/export{query}")))
        .header("X-Member-Id", member.to_string())
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.bytes().await.expect("body").to_vec())
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("{name} in {headers:?}"))
        .to_str()
        .expect("an ASCII header")
}

async fn export_json(app: &App, member: i64) -> Value {
    let (status, headers, body) = fetch(app, member, "").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(header(&headers, "content-type"), "application/json");
    serde_json::from_slice(&body).expect("one JSON document")
}

fn find(list: &Value, id: i64) -> &Value {
    list.as_array()
        .unwrap_or_else(|| panic!("an array: {list}"))
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} in {list}"))
}

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap_or_else(|| panic!("an array: {list}"))
        .iter()
        .map(|r| r["id"].as_i64().expect("an id"))
        .collect()
}

async fn json_holds_the_members_data_and_nothing_of_another(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = seed(&app).await;
    let (status, headers, body) = fetch(&app, s.member, "?format=json").await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-disposition"),
        "attachment; filename=\"pinit-export-2026-02-01.json\""
    );
    assert_eq!(header(&headers, "cache-control"), "no-store");
    assert!(
        headers.get("content-length").is_none(),
        "streamed, not buffered: {headers:?}"
    );
    let text = String::from_utf8(body).expect("UTF-8");
    assert!(!text.contains("other-member"), "{text}");
    let doc: Value = serde_json::from_str(&text).expect("one JSON document");
    assert_eq!(
        doc,
        export_json(&app, s.member).await,
        "json is the default"
    );

    assert_eq!(doc["exportVersion"], 1);
    assert_eq!(doc["exportedAt"], "2026-02-01T00:40:00Z");
    assert_eq!(
        doc["member"],
        json!({"id": 1, "nickname": "member-1", "zoneId": SEOUL, "defaultReminders": ["PT0S"],
               "runningScheduleId": s.running})
    );

    // Tasks by due date, the second with its prerequisite.
    assert_eq!(ids(&doc["tasks"]), vec![s.first_task, s.second_task]);
    let second = find(&doc["tasks"], s.second_task);
    assert_eq!(second["title"], TRICKY);
    assert_eq!(second["description"], TRICKY_TEXT);
    assert_eq!(second["dueDate"], "2026-02-05");
    assert_eq!(second["dueZoneId"], SEOUL);
    assert_eq!(second["previousTaskIds"], json!([s.first_task]));
    assert_eq!(
        find(&doc["tasks"], s.first_task)["previousTaskIds"],
        json!([])
    );

    // Schedules by start: the completed run, the running one, the series' three occurrences.
    let schedules = &doc["schedules"];
    assert_eq!(ids(schedules).len(), 5, "{schedules}");
    assert_eq!(ids(schedules)[..2], [s.done, s.running]);
    let done = find(schedules, s.done);
    assert_eq!(done["title"], TRICKY);
    assert_eq!(done["state"], "COMPLETED");
    assert_eq!(done["elapsed"], "PT30M");
    assert_eq!(done["start"], "2026-02-01T00:00:00Z");
    assert_eq!(done["runningSince"], Value::Null);
    assert_eq!(done["statisticsWeekStart"], "2026-01-26");
    assert_eq!(done["statisticsWeekZoneId"], SEOUL);
    assert_eq!(done["reminders"], json!(["PT0S"]));
    assert_eq!(done["remindersFrom"], "member");
    let running = find(schedules, s.running);
    assert_eq!(running["state"], "IN_PROGRESS");
    assert_eq!(running["elapsed"], "PT0S");
    assert_eq!(running["runningSince"], "2026-02-01T00:30:00Z");
    assert_eq!(running["statisticsWeekStart"], Value::Null);
    let occurrences: Vec<&Value> = schedules
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["seriesId"] == s.series)
        .collect();
    assert_eq!(
        occurrences
            .iter()
            .map(|o| o["occurrenceStart"].as_str().unwrap())
            .collect::<Vec<_>>(),
        [
            "2026-02-02T08:00:00",
            "2026-02-03T08:00:00",
            "2026-02-04T08:00:00"
        ]
    );
    assert!(
        occurrences
            .iter()
            .all(|o| o["reminders"] == json!(["-PT10M"]) && o["remindersFrom"] == "series")
    );

    // The series' rule.
    assert_eq!(ids(&doc["series"]), vec![s.series]);
    let series = &doc["series"][0];
    assert_eq!(series["rrule"], "FREQ=DAILY;COUNT=3");
    assert_eq!(series["start"], "2026-02-02T08:00:00");
    assert_eq!(series["zoneId"], SEOUL);
    assert_eq!(series["reminders"], json!(["-PT10M"]));
    assert_eq!(series["remindersFrom"], "series");
    assert_eq!(series["deletedAt"], Value::Null);

    // The week's statistics, as `GET /v2/statistics` answers them.
    assert_eq!(
        doc["weeklyStatistics"],
        json!([{"weekStart": "2026-01-26", "zoneId": SEOUL, "deepWork": "PT30M",
                "adminWork": "PT0S", "totalWork": "PT30M"}])
    );
    let stats = app
        .get(
            s.member,
            "/v2/statistics?time=2026-02-01T12:00:00&zoneId=Asia/Seoul",
        )
        .await;
    let stats = stats.assert(200);
    assert_eq!(stats["deepWorkElapsedTime"], "PT30M");
    assert_eq!(stats["totalWorkElapsedTime"], "PT30M");

    // The other member's export has only their own.
    let other = export_json(&app, 2).await;
    assert_eq!(other["member"]["id"], 2);
    assert_eq!(other["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(other["tasks"][0]["title"], "other-member");
    assert_eq!(other["schedules"].as_array().unwrap().len(), 1);
    assert_eq!(other["series"], json!([]));
    assert_eq!(other["weeklyStatistics"], json!([]));
}

/// The archive's files in order, as text.
fn unzip(bytes: &[u8]) -> Vec<(String, String)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a ZIP archive");
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).expect("an entry");
            let mut text = String::new();
            file.read_to_string(&mut text).expect("UTF-8 text");
            let name = file.name().expect("a UTF-8 name").into_owned();
            (name, text)
        })
        .collect()
}

fn oracle(archive: &[u8]) -> Option<Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle");
    let hex: String = archive.iter().map(|b| format!("{b:02x}")).collect();
    pinit_testkit::python::run_json(
        &dir.join("requirements.txt"),
        &dir.join("export_csv.py"),
        &json!({"zip": hex}),
    )
}

/// A JSON record's value as its CSV field: text as is, null empty, lists space-separated.
fn as_field(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(as_field).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

async fn csv_zip_has_rfc4180_files_with_the_json_values(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = seed(&app).await;
    let (status, headers, archive) = fetch(&app, s.member, "?format=csv").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&archive));
    assert_eq!(header(&headers, "content-type"), "application/zip");
    assert_eq!(
        header(&headers, "content-disposition"),
        "attachment; filename=\"pinit-export-2026-02-01.zip\""
    );

    let files = unzip(&archive);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "member.csv",
            "tasks.csv",
            "series.csv",
            "schedules.csv",
            "weekly_statistics.csv"
        ]
    );
    let file = |name: &str| {
        files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.as_str())
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert_eq!(
        file("member.csv"),
        format!(
            "id,nickname,zoneId,defaultReminders,runningScheduleId\r\n1,member-1,Asia/Seoul,PT0S,{}\r\n",
            s.running
        )
    );
    assert!(file("tasks.csv").starts_with(
        "id,title,description,dueDate,dueZoneId,importance,difficulty,completed,previousTaskIds,createdAt,updatedAt\r\n"
    ));
    assert!(file("schedules.csv").starts_with(
        "id,taskId,seriesId,occurrenceStart,title,description,scheduleType,start,plannedDuration,state,elapsed,\
         runningSince,statisticsWeekStart,statisticsWeekZoneId,reminders,remindersFrom,createdAt,updatedAt\r\n"
    ));
    assert_eq!(
        file("weekly_statistics.csv"),
        "weekStart,zoneId,deepWork,adminWork,totalWork\r\n2026-01-26,Asia/Seoul,PT30M,PT0S,PT30M\r\n"
    );
    // RFC 4180: the tricky texts quoted, their quotes doubled, their line breaks kept inside the quotes.
    let title = "\"a, \"\"b\"\"\"";
    let text = "\"line 1\r\nline \"\"2\"\", end\nlast\"";
    assert!(
        file("schedules.csv").contains(&format!("\r\n{},,,,{title},{text},DEEP_WORK,", s.done)),
        "{}",
        file("schedules.csv")
    );
    assert!(file("tasks.csv").contains(&format!(
        "\r\n{},{title},{text},2026-02-05,Asia/Seoul,5,3,false,{},",
        s.second_task, s.first_task
    )));
    assert!(!files.iter().any(|(_, t)| t.contains("other-member")));

    // Python reads the same archive with zipfile and csv (strict): every file, every field, as the JSON says.
    let Some(python) = oracle(&archive) else {
        return;
    };
    assert_eq!(python["testzip"], Value::Null, "CRCs check: {python}");
    for name in names {
        assert_eq!(python["descriptors"][name], true, "{name} streamed");
        assert_eq!(
            python["same_as_python"][name], true,
            "{name} as Python writes it"
        );
    }
    let doc = export_json(&app, s.member).await;
    let sections = [
        ("tasks.csv", "tasks"),
        ("series.csv", "series"),
        ("schedules.csv", "schedules"),
        ("weekly_statistics.csv", "weeklyStatistics"),
    ];
    for (file, key) in sections {
        let rows = python["files"][file]["rows"].as_array().expect("rows");
        let records = doc[key].as_array().expect("records");
        assert_eq!(rows.len(), records.len(), "{file}");
        for (row, record) in rows.iter().zip(records) {
            let record = record.as_object().expect("an object");
            let expected: BTreeMap<&String, String> =
                record.iter().map(|(k, v)| (k, as_field(v))).collect();
            let got: BTreeMap<&String, String> = row
                .as_object()
                .expect("a row")
                .iter()
                .map(|(k, v)| (k, v.as_str().expect("text").to_owned()))
                .collect();
            assert_eq!(got, expected, "{file}");
        }
    }
    let done = python["files"]["schedules.csv"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"].as_str() == Some(s.done.to_string().as_str()))
        .expect("the completed schedule");
    assert_eq!(done["title"], TRICKY);
    assert_eq!(done["description"], TRICKY_TEXT);
}

/// More rows than a page in every paged section, ties on the sort key across a page boundary: each row once, in
/// order; a prerequisite on another page is still named.
async fn pages_cover_every_row_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.member(1, None).await;
    let same: Timestamp = "2026-03-02T00:00:00Z".parse().unwrap();
    let draft = |start: Timestamp| {
        ScheduleDraft::new(
            Title::parse("반복").unwrap(),
            Description::parse("설명").unwrap(),
            ScheduleType::QuickTask,
            start,
        )
    };
    let mut made = Vec::new();
    for i in 0..1_001 {
        // 700 at one instant (across the first page's end), the rest an hour apart before and after.
        let start = match i {
            0..700 => same,
            _ => same + jiff::SignedDuration::from_hours(i64::from(i) - 850),
        };
        let stored = app
            .app
            .create_schedule(MemberId(m), draft(start))
            .await
            .expect("create");
        made.push((start, stored.schedule.id().get()));
    }
    made.sort();
    let first = app.task(m, "first", "2026-03-01", SEOUL).await;
    for i in 0..505 {
        app.task(m, &format!("t{i}"), "2026-03-01", SEOUL).await;
    }
    let last = app
        .task_with(
            m,
            "last",
            "2026-03-01",
            SEOUL,
            json!([{"fromId": first, "toId": 0}]),
        )
        .await;

    let doc = export_json(&app, m).await;
    assert_eq!(
        ids(&doc["schedules"]),
        made.iter().map(|(_, id)| *id).collect::<Vec<_>>()
    );
    let tasks = ids(&doc["tasks"]);
    assert_eq!(tasks.len(), 507);
    assert!(tasks.windows(2).all(|w| w[0] < w[1]), "by id on one date");
    assert_eq!(find(&doc["tasks"], last)["previousTaskIds"], json!([first]));

    // The ZIP has the same rows.
    let (status, _, archive) = fetch(&app, m, "?format=csv").await;
    assert_eq!(status, 200);
    let files = unzip(&archive);
    let schedules = &files[3];
    assert_eq!(schedules.0, "schedules.csv");
    assert_eq!(schedules.1.matches("\r\n").count(), 1 + 1_001);
}

async fn bad_input_is_a_400_and_an_unknown_member_a_503(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.member(1, None).await;
    for bad in ["xml", "JSON", ""] {
        let res = app.get(m, &format!("/v2/export?format={bad}")).await;
        res.assert_error(
            400,
            &format!("format: `{bad}` is not an export format (expected json or csv)"),
        );
        assert_eq!(res.body["errors"][0]["field"], "format");
    }
    let res = app
        .send(reqwest::Method::GET, "/v2/export", None, None)
        .await;
    res.assert(401);
    let res = app.get(99, "/v2/export?format=csv").await;
    res.assert(503);
    assert_eq!(res.body["code"], "USER_NOT_READY");
}

both_backends!(
    json_holds_the_members_data_and_nothing_of_another,
    csv_zip_has_rfc4180_files_with_the_json_values,
    pages_cover_every_row_once,
    bad_input_is_a_400_and_an_unknown_member_a_503,
);
