//! `/v2/tasks`: create, update, dependencies, complete/reopen, delete, copy to a schedule, the lists.

use pinit_kernel::Backend;
use pinit_testkit::both_backends;
use serde_json::{Value, json};

use crate::support::{spawn_app, spawn_at};

fn task_body(title: &str, date: &str, deps: Value) -> Value {
    json!({
        "title": title, "description": "다음 주 발표 자료 정리",
        "dueDate": {"date": date, "offset": "+09:00", "zoneId": "Asia/Seoul"},
        "importance": 5, "difficulty": 5, "addDependencies": deps
    })
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap_or_else(|| panic!("an array: {v}"))
        .iter()
        .map(|x| {
            x.as_i64()
                .unwrap_or_else(|| x["id"].as_i64().expect("an id"))
        })
        .collect()
}

/// TaskControllerV2IntegrationTest: POST 201 with the dueDate, the page list, the ready cursor and
/// by-deadline.
async fn create_list_cursor_and_by_deadline(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.member(1, None).await;
    let res = app
        .post(
            m,
            "/v2/tasks",
            task_body("스터디 준비", "2024-04-01", json!([])),
        )
        .await;
    let body = res.assert(201).clone();
    assert_eq!(
        body["dueDate"],
        json!({"date": "2024-04-01", "offset": "+09:00", "zoneId": "Asia/Seoul"})
    );
    assert_eq!(body["ownerId"], 1);
    assert_eq!(body["completed"], false);
    assert_eq!(body["inboundDependencyCount"], 0);
    assert_eq!(body["previousTaskIds"], json!([]));
    assert_eq!(body["nextTaskIds"], json!([]));
    assert_eq!(body["createdAt"], "2026-02-01T00:00:00Z");
    let id = res.id();

    // GET /v2/tasks?page=0&size=5: an incomplete task is listed even when overdue.
    let page = app.get(m, "/v2/tasks?page=0&size=5").await;
    let page = page.assert(200);
    assert_eq!(page["content"][0]["id"], id);
    assert_eq!(page["content"][0]["dueDate"], body["dueDate"]);
    assert_eq!(page["totalElements"], 1);
    assert_eq!(page["totalPages"], 1);
    assert_eq!(page["size"], 5);
    assert_eq!(page["number"], 0);
    assert_eq!(page["first"], true);
    assert_eq!(page["last"], true);
    assert_eq!(page["empty"], false);
    assert_eq!(page["numberOfElements"], 1);
    assert_eq!(page["pageable"]["pageSize"], 5);
    assert_eq!(page["pageable"]["pageNumber"], 0);
    assert_eq!(page["pageable"]["offset"], 0);
    assert_eq!(page["sort"]["sorted"], true);

    let cursor = app
        .get(
            m,
            "/v2/tasks/cursor?size=10&cursor=2000-01-01T00:00:00|0&readyOnly=true",
        )
        .await;
    let cursor = cursor.assert(200);
    assert_eq!(cursor["data"][0]["id"], id);
    assert_eq!(cursor["hasNext"], false);
    assert_eq!(cursor["nextCursor"], Value::Null);

    // by-deadline returns exactly the two tasks due that day.
    let a = app.task(m, "a", "2025-02-01", "Asia/Seoul").await;
    let b = app.task(m, "b", "2025-02-01", "Asia/Seoul").await;
    app.task(m, "c", "2025-02-02", "Asia/Seoul").await;
    app.task(m, "d", "2025-01-31", "Asia/Seoul").await;
    let due = app
        .get(m, "/v2/tasks/by-deadline?date=2025-02-01&zoneId=Asia/Seoul")
        .await;
    assert_eq!(ids(due.assert(200)), vec![a, b]);
    // Without zoneId: the member's zone (Asia/Seoul).
    let due = app.get(m, "/v2/tasks/by-deadline?date=2025-02-01").await;
    assert_eq!(ids(due.assert(200)), vec![a, b]);
    app.get(m, "/v2/tasks/by-deadline").await.assert(400);
    app.get(m, "/v2/tasks/by-deadline?date=2025-2-1")
        .await
        .assert(400);
}

/// TaskServiceTest: by-deadline keeps tasks by their own zone's midnight (Asia/Tokyo 2025-03-09 keeps the
/// New-York-midnight task of 03-09 and drops the one of 03-10).
async fn by_deadline_is_zone_aware(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.member(1, None).await;
    let ny9 = app.task(m, "ny9", "2025-03-09", "America/New_York").await;
    app.task(m, "ny10", "2025-03-10", "America/New_York").await;
    let tokyo9 = app.task(m, "tokyo9", "2025-03-09", "Asia/Tokyo").await;
    let due = app
        .get(m, "/v2/tasks/by-deadline?date=2025-03-09&zoneId=Asia/Tokyo")
        .await;
    let mut got = ids(due.assert(200));
    got.sort();
    assert_eq!(got, vec![ny9, tokyo9]);
}

async fn validation_answers_400_with_field_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.member(1, None).await;
    let res = app
        .post(m, "/v2/tasks", json!({"title": " ", "description": ""}))
        .await;
    res.assert_error(400, "Validation failed for 4 field(s)");
    let fields: Vec<&str> = res.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["title", "dueDate", "importance", "difficulty"],
        "an empty description is allowed"
    );
    assert_eq!(res.body["errors"][0]["reason"], "must not be blank");
    assert_eq!(res.body["errors"][0]["rejectedValue"], " ");
    assert_eq!(res.body["path"], "/v2/tasks");

    // Longer than the reference's 20 is fine; over 100 is not.
    let mut body = task_body(
        "제목이 스무 자를 넘는 아주 아주 긴 작업 제목입니다",
        "2024-04-01",
        json!([]),
    );
    app.post(m, "/v2/tasks", body.clone()).await.assert(201);
    body["title"] = json!("가".repeat(101));
    app.post(m, "/v2/tasks", body.clone())
        .await
        .assert_error(400, "제목의 길이는 1자 이상 100자 이하여야 합니다.");
    body = task_body("ok", "2024-04-01", json!([]));
    body["difficulty"] = json!(4);
    let res = app.post(m, "/v2/tasks", body.clone()).await;
    res.assert_error(
        400,
        "난이도 레벨은 1, 2, 3, 5, 8, 13, 21 중 하나여야 합니다.",
    );
    assert_eq!(res.body["errors"][0]["field"], "difficulty");
    body["difficulty"] = json!(3);
    body["importance"] = json!(10);
    app.post(m, "/v2/tasks", body.clone())
        .await
        .assert_error(400, "중요도 레벨은 1에서 9 사이여야 합니다.");
    body["importance"] = json!(9);
    body["dueDate"]["zoneId"] = json!("Mars/Olympus");
    app.post(m, "/v2/tasks", body.clone())
        .await
        .assert_error(400, "올바르지 않은 시간대 ID입니다.");
    body["dueDate"] = json!({"date": "2024-04-01", "zoneId": "Asia/Seoul", "offset": "+08:00"});
    app.post(m, "/v2/tasks", body.clone())
        .await
        .assert_error(400, "제공된 offset이 zoneId의 규칙과 일치하지 않습니다.");
    body["dueDate"] = json!({"date": "2024-04-01"});
    let res = app.post(m, "/v2/tasks", body.clone()).await;
    res.assert_error(400, "Validation failed for 1 field(s)");
    assert_eq!(res.body["errors"][0]["field"], "dueDate.zoneId");
    body["dueDate"] = json!({"date": "2024-04-31", "zoneId": "Asia/Seoul"});
    app.post(m, "/v2/tasks", body.clone()).await.assert(400);
    body["importance"] = json!("high");
    app.post(m, "/v2/tasks", body).await.assert(400);

    // Malformed JSON, a wrong content type and a bad path id are 400/415, never 500.
    let res = app
        .server
        .client
        .post(app.url("/v2/tasks"))
        .header("X-Member-Id", "1")
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    app.get(m, "/v2/tasks/abc").await.assert(400);
    app.get(m, "/v2/tasks?size=abc").await.assert(400);
    app.get(m, "/v2/tasks?size=0")
        .await
        .assert_error(400, "size는 1 이상 100 이하이어야 합니다.");
    app.get(m, "/v2/tasks?size=101").await.assert(400);
    app.get(m, "/v2/tasks?page=-1")
        .await
        .assert_error(400, "page는 0 이상이어야 합니다.");
}

async fn member_header_and_provisioning(backend: Backend) {
    let app = spawn_app(backend).await;
    let none = app
        .send(reqwest::Method::GET, "/v2/tasks", None, None)
        .await;
    none.assert_error(401, "인증이 필요합니다. 다시 로그인해 주세요.");
    let res = app
        .server
        .client
        .get(app.url("/v2/tasks"))
        .header("X-Member-Id", "abc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // A member whose member.created has not arrived: 503, Retry-After, USER_NOT_READY.
    let res = app
        .post(7, "/v2/tasks", task_body("t", "2024-04-01", json!([])))
        .await;
    res.assert_error(
        503,
        "회원 정보가 아직 준비되지 않았습니다. 잠시 후 다시 시도해 주세요.",
    );
    assert_eq!(res.body["code"], "USER_NOT_READY");
    assert_eq!(res.headers["retry-after"], "1");
    app.member(7, None).await;
    app.post(7, "/v2/tasks", task_body("t", "2024-04-01", json!([])))
        .await
        .assert(201);
}

async fn ownership_failures_are_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.member(1, None).await;
    let b = app.member(2, None).await;
    let t = app.task(a, "mine", "2024-04-01", "Asia/Seoul").await;
    let path = format!("/v2/tasks/{t}");
    app.get(b, &path)
        .await
        .assert_error(404, "해당 작업을 찾을 수 없습니다.");
    app.patch(b, &path, task_body("x", "2024-04-01", json!([])))
        .await
        .assert(404);
    app.delete(b, &path).await.assert(404);
    app.post_empty(b, &format!("{path}/complete"))
        .await
        .assert(404);
    app.post_empty(b, &format!("{path}/reopen"))
        .await
        .assert(404);
    app.post(
        b,
        &format!("{path}/schedules"),
        json!({"date": {"dateTime": "2026-02-01T10:00:00", "zoneId": "Asia/Seoul"}, "scheduleType": "DEEP_WORK"}),
    )
    .await
    .assert(404);
    app.get(a, "/v2/tasks/999999").await.assert(404);
    // Another member's task cannot be named in a dependency either.
    app.post(
        b,
        "/v2/tasks",
        task_body("dep", "2024-04-01", json!([{"fromId": t, "toId": 0}])),
    )
    .await
    .assert_error(404, "해당 작업을 찾을 수 없습니다.");
    app.get(a, &path).await.assert(200);
}

async fn dependencies_on_create_and_update(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.member(1, None).await;
    let a = app.task(m, "a", "2024-04-01", "Asia/Seoul").await;
    let b = app.task(m, "b", "2024-04-02", "Asia/Seoul").await;
    // new → a ({0, a}) and b → new ({b, 0}).
    let res = app
        .post(
            m,
            "/v2/tasks",
            task_body(
                "c",
                "2024-04-03",
                json!([{"fromId": 0, "toId": a}, {"fromId": b, "toId": 0}]),
            ),
        )
        .await;
    let c_body = res.assert(201).clone();
    let c = res.id();
    assert_eq!(c_body["previousTaskIds"], json!([b]));
    assert_eq!(c_body["nextTaskIds"], json!([a]));
    assert_eq!(c_body["inboundDependencyCount"], 1);
    let a_body = app.get(m, &format!("/v2/tasks/{a}")).await;
    assert_eq!(a_body.assert(200)["previousTaskIds"], json!([c]));
    assert_eq!(a_body.body["inboundDependencyCount"], 1);

    // Placeholder rules (400) and self-loops.
    app.post(
        m,
        "/v2/tasks",
        task_body("x", "2024-04-03", json!([{"fromId": a, "toId": b}])),
    )
    .await
    .assert_error(
        400,
        "작업 생성 시 의존 관계에는 fromId 또는 toId 중 하나가 0이어야 합니다.",
    );
    app.post(
        m,
        "/v2/tasks",
        task_body("x", "2024-04-03", json!([{"fromId": 0, "toId": 0}])),
    )
    .await
    .assert_error(400, "fromId와 toId는 동일할 수 없습니다.");
    let res = app
        .post(
            m,
            "/v2/tasks",
            task_body("x", "2024-04-03", json!([{"fromId": 0}])),
        )
        .await;
    res.assert_error(400, "Validation failed for 1 field(s)");
    assert_eq!(res.body["errors"][0]["field"], "addDependencies[0].toId");
    // A cycle through the new task: new → b with b → c → a … → here new → b and a → new closes a → new → b → c → a.
    app.post(
        m,
        "/v2/tasks",
        task_body(
            "x",
            "2024-04-03",
            json!([{"fromId": 0, "toId": b}, {"fromId": a, "toId": 0}]),
        ),
    )
    .await
    .assert_error(409, "의존 관계에 사이클이 존재합니다.");

    // Update: a → b would close b → c → a.
    let mut update = task_body("a2", "2024-04-05", json!([{"fromId": a, "toId": b}]));
    app.patch(m, &format!("/v2/tasks/{a}"), update.clone())
        .await
        .assert_error(409, "의존 관계에 사이클이 존재합니다.");
    update["addDependencies"] = json!([{"fromId": 0, "toId": b}]);
    app.patch(m, &format!("/v2/tasks/{a}"), update.clone())
        .await
        .assert_error(
            400,
            "수정 요청에서는 의존 관계 ID에 0을 사용할 수 없습니다.",
        );
    update["addDependencies"] = json!([{"fromId": b, "toId": c}]);
    app.patch(m, &format!("/v2/tasks/{a}"), update.clone())
        .await
        .assert_error(
            400,
            "수정 요청의 의존 관계는 수정 대상 작업을 포함해야 합니다.",
        );
    // Remove c → a, add a → b (no cycle now), and change the fields.
    update["removeDependencies"] = json!([{"fromId": c, "toId": a}]);
    update["addDependencies"] = json!([{"fromId": a, "toId": b}]);
    let res = app
        .patch(m, &format!("/v2/tasks/{a}"), update.clone())
        .await;
    let body = res.assert(200);
    assert_eq!(body["title"], "a2");
    assert_eq!(body["dueDate"]["date"], "2024-04-05");
    assert_eq!(body["previousTaskIds"], json!([]));
    assert_eq!(body["nextTaskIds"], json!([b]));
    assert_eq!(body["updatedAt"], "2026-02-01T00:00:00Z");
    // Repeating the same change is a no-op (set semantics), never a 500.
    app.patch(m, &format!("/v2/tasks/{a}"), update)
        .await
        .assert(200);
    let b_body = app.get(m, &format!("/v2/tasks/{b}")).await;
    assert_eq!(b_body.assert(200)["previousTaskIds"], json!([a]));
    assert_eq!(b_body.body["nextTaskIds"], json!([c]));
    assert_eq!(
        app.get(m, &format!("/v2/tasks/{c}")).await.body["nextTaskIds"],
        json!([])
    );
    // A missing task in an update → 404.
    app.patch(
        m,
        &format!("/v2/tasks/{a}"),
        task_body("a", "2024-04-05", json!([{"fromId": a, "toId": 424242}])),
    )
    .await
    .assert(404);
}

async fn complete_and_reopen(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.member(1, None).await;
    let pre = app.task(m, "pre", "2024-04-01", "Asia/Seoul").await;
    let t = app
        .task_with(
            m,
            "t",
            "2024-04-02",
            "Asia/Seoul",
            json!([{"fromId": pre, "toId": 0}]),
        )
        .await;
    // A prerequisite not completed: 409.
    app.post_empty(m, &format!("/v2/tasks/{t}/complete"))
        .await
        .assert_error(
            409,
            "이전 작업이 완료되지 않아 해당 작업을 완료할 수 없습니다.",
        );
    app.post_empty(m, &format!("/v2/tasks/{pre}/complete"))
        .await
        .assert(204);
    app.post_empty(m, &format!("/v2/tasks/{t}/complete"))
        .await
        .assert(204);
    // Idempotent: again is a 204 and no second event.
    app.post_empty(m, &format!("/v2/tasks/{t}/complete"))
        .await
        .assert(204);
    assert_eq!(
        app.get(m, &format!("/v2/tasks/{t}")).await.body["completed"],
        true
    );
    app.post_empty(m, &format!("/v2/tasks/{t}/reopen"))
        .await
        .assert(204);
    app.post_empty(m, &format!("/v2/tasks/{t}/reopen"))
        .await
        .assert(204);
    assert_eq!(
        app.get(m, &format!("/v2/tasks/{t}")).await.body["completed"],
        false
    );
    let keys = app.keys_since(0).await;
    assert_eq!(
        keys,
        [
            "task.created",
            "task.created",
            "task.completed",
            "task.completed",
            "task.canceled"
        ]
    );
    let events = app.events().await;
    // Creating a task publishes task.created at version 1 (for webhooks).
    assert_eq!(events[1].aggregate_id, t.to_string());
    assert_eq!(events[1].version, Some(1));
    assert_eq!(events[1].payload["taskId"], t);
    assert_eq!(events[3].aggregate_id, t.to_string());
    assert_eq!(events[3].version, Some(2));
    assert_eq!(events[4].version, Some(3));
    assert_eq!(events[3].payload["taskId"], t);
    assert_eq!(events[3].payload["ownerId"], m);
    assert_eq!(events[3].exchange, "task.task.direct");
}

async fn completing_a_task_with_a_linked_schedule(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.member(1, None).await;
    let t = app.task(m, "t", "2024-04-02", "Asia/Seoul").await;
    let res = app
        .post(
            m,
            &format!("/v2/tasks/{t}/schedules"),
            json!({"date": {"dateTime": "2026-02-01T10:00:00", "zoneId": "Asia/Seoul"}, "scheduleType": "DEEP_WORK"}),
        )
        .await;
    let s = res.id();
    assert_eq!(res.body["taskId"], t);
    assert_eq!(res.body["taskCompleted"], false);
    assert_eq!(res.body["title"], "t", "the task's title by default");
    assert_eq!(res.body["description"], "설명");
    assert_eq!(
        res.body["date"],
        json!({"dateTime": "2026-02-01T10:00:00", "zoneId": "Asia/Seoul"})
    );
    // One schedule per task.
    app.post(
        m,
        &format!("/v2/tasks/{t}/schedules"),
        json!({"title": "again", "date": {"dateTime": "2026-02-01T10:00:00", "zoneId": "Asia/Seoul"}, "scheduleType": "DEEP_WORK"}),
    )
    .await
    .assert_error(409, "해당 작업에 이미 연결된 일정이 존재합니다.");
    // While the schedule runs, the task cannot be completed directly.
    app.run(m, s, "start").await.assert(204);
    app.post_empty(m, &format!("/v2/tasks/{t}/complete"))
        .await
        .assert_error(409, "해당 작업과 연결된 일정이 현재 진행중이어서 작업을 완료할 수 없습니다. 일정을 통해 작업을 완료해주세요.");
    app.run(m, s, "cancel").await.assert(204);
    // NOT_STARTED: completing the task finishes the schedule too.
    app.post_empty(m, &format!("/v2/tasks/{t}/complete"))
        .await
        .assert(204);
    let sched = app.get(m, &format!("/v2/schedules/{s}")).await;
    assert_eq!(sched.assert(200)["state"], "COMPLETED");
    assert_eq!(sched.body["taskCompleted"], true);
    // Reopening the task resets its completed schedule.
    app.post_empty(m, &format!("/v2/tasks/{t}/reopen"))
        .await
        .assert(204);
    assert_eq!(
        app.get(m, &format!("/v2/schedules/{s}")).await.body["state"],
        "NOT_STARTED"
    );
    let keys = app.keys_since(0).await;
    assert_eq!(
        keys,
        [
            "task.created",
            "schedule.time.upcoming.updated",
            "schedule.state.started",
            "schedule.state.canceled",
            "schedule.state.completed",
            "task.completed",
            "schedule.state.canceled",
            "task.canceled",
        ]
    );
    // A bad override title is a 400, not the reference's 500.
    let t2 = app.task(m, "t2", "2024-04-02", "Asia/Seoul").await;
    app.post(
        m,
        &format!("/v2/tasks/{t2}/schedules"),
        json!({"title": "", "date": {"dateTime": "2026-02-01T10:00:00", "zoneId": "Asia/Seoul"}, "scheduleType": "DEEP_WORK"}),
    )
    .await
    .assert_error(400, "제목의 길이는 1자 이상 100자 이하여야 합니다.");
    app.post(
        m,
        &format!("/v2/tasks/{t2}/schedules"),
        json!({"scheduleType": "NOPE"}),
    )
    .await
    .assert_error(400, "Validation failed for 1 field(s)");
}

async fn delete_detaches_or_deletes_schedules(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.member(1, None).await;
    let schedule_of = |t: i64| {
        (
            format!("/v2/tasks/{t}/schedules"),
            json!({"date": {"dateTime": "2026-02-01T10:00:00", "zoneId": "Asia/Seoul"}, "scheduleType": "QUICK_TASK"}),
        )
    };
    let t1 = app.task(m, "t1", "2024-04-01", "Asia/Seoul").await;
    let next = app
        .task_with(
            m,
            "next",
            "2024-04-02",
            "Asia/Seoul",
            json!([{"fromId": t1, "toId": 0}]),
        )
        .await;
    let (path, body) = schedule_of(t1);
    let s1 = app.post(m, &path, body).await.id();
    // Default: the schedule is detached and kept; the successor loses its prerequisite.
    app.delete(m, &format!("/v2/tasks/{t1}")).await.assert(204);
    app.get(m, &format!("/v2/tasks/{t1}")).await.assert(404);
    let s = app.get(m, &format!("/v2/schedules/{s1}")).await;
    assert_eq!(s.assert(200)["taskId"], Value::Null);
    assert_eq!(s.body["taskCompleted"], Value::Null);
    let n = app.get(m, &format!("/v2/tasks/{next}")).await;
    assert_eq!(n.body["inboundDependencyCount"], 0);
    assert_eq!(n.body["previousTaskIds"], json!([]));

    // deleteSchedules=true: a running schedule blocks (409), a not-started one is deleted with an event.
    let t2 = app.task(m, "t2", "2024-04-01", "Asia/Seoul").await;
    let (path, body) = schedule_of(t2);
    let s2 = app.post(m, &path, body).await.id();
    app.run(m, s2, "start").await.assert(204);
    app.delete(m, &format!("/v2/tasks/{t2}?deleteSchedules=true"))
        .await
        .assert_error(409, "시작되지 않았거나 완료된 일정만 삭제할 수 있습니다.");
    app.run(m, s2, "cancel").await.assert(204);
    let before = app.events().await.len();
    app.delete(m, &format!("/v2/tasks/{t2}?deleteSchedules=true"))
        .await
        .assert(204);
    app.get(m, &format!("/v2/schedules/{s2}")).await.assert(404);
    assert_eq!(app.keys_since(before).await, ["schedule.deleted"]);
    // The slot was released by the cancel; nothing runs.
    assert_eq!(app.get(m, "/v2/members/now").await.text, "");
}

async fn lists_current_ready_and_cursor(backend: Backend) {
    // 2026-02-01T00:00Z is 2026-02-01 09:00 in Seoul.
    let app = spawn_app(backend).await;
    let m = app.member(1, None).await;
    let old_done = app.task(m, "old done", "2026-01-31", "Asia/Seoul").await;
    let old_open = app.task(m, "old open", "2026-01-30", "Asia/Seoul").await;
    let today_done = app.task(m, "today done", "2026-02-01", "Asia/Seoul").await;
    let later = app
        .task_with(
            m,
            "later",
            "2026-02-03",
            "Asia/Seoul",
            json!([{"fromId": old_open, "toId": 0}]),
        )
        .await;
    let later2 = app
        .task_with(
            m,
            "later2",
            "2026-02-03",
            "Asia/Seoul",
            json!([{"fromId": today_done, "toId": 0}]),
        )
        .await;
    for t in [old_done, today_done] {
        app.post_empty(m, &format!("/v2/tasks/{t}/complete"))
            .await
            .assert(204);
    }
    // Current: incomplete (also overdue) + completed due today or later, by date then id.
    let page = app.get(m, "/v2/tasks").await;
    assert_eq!(
        ids(&page.assert(200)["content"]),
        vec![old_open, today_done, later, later2]
    );
    assert_eq!(page.body["size"], 20);
    // Ready: incomplete with every prerequisite completed (later2's prerequisite is done).
    let ready = app.get(m, "/v2/tasks?readyOnly=true").await;
    assert_eq!(ids(&ready.assert(200)["content"]), vec![old_open, later2]);
    // Offset pages.
    let p1 = app.get(m, "/v2/tasks?page=1&size=3").await;
    assert_eq!(ids(&p1.assert(200)["content"]), vec![later2]);
    assert_eq!(p1.body["totalPages"], 2);
    assert_eq!(p1.body["last"], true);
    assert_eq!(p1.body["first"], false);
    assert_eq!(p1.body["pageable"]["offset"], 3);

    // Cursor: pages of 2, no trailing empty page.
    let first = app.get(m, "/v2/tasks/cursor?size=2").await;
    assert_eq!(ids(&first.assert(200)["data"]), vec![old_open, today_done]);
    assert_eq!(first.body["hasNext"], true);
    let cursor = first.body["nextCursor"].as_str().unwrap().to_owned();
    assert_eq!(cursor, format!("2026-02-01T00:00:00|{today_done}"));
    let second = app
        .get(m, &format!("/v2/tasks/cursor?size=2&cursor={cursor}"))
        .await;
    assert_eq!(ids(&second.assert(200)["data"]), vec![later, later2]);
    assert_eq!(second.body["hasNext"], false);
    assert_eq!(second.body["nextCursor"], Value::Null);
    // The date-only form works too.
    let again = app
        .get(
            m,
            &format!("/v2/tasks/cursor?size=5&cursor=2026-02-01|{today_done}"),
        )
        .await;
    assert_eq!(ids(&again.assert(200)["data"]), vec![later, later2]);
    app.get(m, "/v2/tasks/cursor?cursor=nope")
        .await
        .assert_error(400, "잘못된 커서 형식입니다.");
    app.get(m, "/v2/tasks/cursor?cursor=2026-02-31|1")
        .await
        .assert_error(400, "잘못된 커서 값입니다.");
    app.get(m, "/v2/tasks/cursor?size=0").await.assert(400);
}

/// TaskArchiveControllerV2IntegrationTest (clock 2025-01-10T00:00Z, member Asia/Seoul) and
/// TaskArchiveServiceTest.
async fn archive_cursor(backend: Backend) {
    let app = spawn_at(backend, "2025-01-10T00:00:00Z").await;
    let m = app.member(1, Some("Asia/Seoul")).await;
    let d8 = app.task(m, "d8", "2025-01-08", "Asia/Seoul").await;
    let d9 = app.task(m, "d9", "2025-01-09", "Asia/Seoul").await;
    let d10 = app.task(m, "d10", "2025-01-10", "Asia/Seoul").await;
    let open = app.task(m, "open", "2025-01-07", "Asia/Seoul").await;
    for t in [d8, d9, d10] {
        app.post_empty(m, &format!("/v2/tasks/{t}/complete"))
            .await
            .assert(204);
    }
    let _ = open;
    let first = app.get(m, "/v2/tasks/completed?size=1").await;
    assert_eq!(ids(&first.assert(200)["data"]), vec![d9]);
    assert_eq!(first.body["data"][0]["dueDate"]["date"], "2025-01-09");
    assert_eq!(first.body["hasNext"], true);
    let cursor = first.body["nextCursor"].as_str().unwrap().to_owned();
    assert_eq!(cursor, format!("2025-01-09|{d9}"));
    let second = app
        .get(m, &format!("/v2/tasks/completed?size=1&cursor={cursor}"))
        .await;
    assert_eq!(ids(&second.assert(200)["data"]), vec![d8]);
    assert_eq!(second.body["hasNext"], false);
    assert_eq!(second.body["nextCursor"], Value::Null);
    // Size 2 over both rows: no next.
    let all = app.get(m, "/v2/tasks/completed").await;
    assert_eq!(ids(&all.assert(200)["data"]), vec![d9, d8]);
    assert_eq!(all.body["hasNext"], false);
    // The legacy offset: -05:00 makes "today" 2025-01-09, so the cutoff is 2025-01-08.
    let minus5 = app.get(m, "/v2/tasks/completed?offset=-05:00").await;
    assert_eq!(ids(&minus5.assert(200)["data"]), vec![d8]);
    // An unencoded `+` arrives as a space and is still understood.
    let plus9 = app.get(m, "/v2/tasks/completed?offset=+09:00").await;
    assert_eq!(ids(&plus9.assert(200)["data"]), vec![d9, d8]);
    let zone = app
        .get(m, "/v2/tasks/completed?zoneId=America/New_York")
        .await;
    assert_eq!(ids(&zone.assert(200)["data"]), vec![d8]);
    // The cursor may carry an offset after the date.
    let off = app
        .get(
            m,
            &format!("/v2/tasks/completed?cursor=2025-01-09%2B09:00|{d9}"),
        )
        .await;
    assert_eq!(ids(&off.assert(200)["data"]), vec![d8]);
    app.get(m, "/v2/tasks/completed?size=0")
        .await
        .assert_error(400, "size는 1 이상 100 이하이어야 합니다.");
    app.get(m, "/v2/tasks/completed?size=101").await.assert(400);
    app.get(m, "/v2/tasks/completed?cursor=bad-cursor")
        .await
        .assert_error(400, "커서는 'yyyy-MM-dd|id' 형식이어야 합니다.");
    app.get(m, "/v2/tasks/completed?cursor=2025-01-09|x")
        .await
        .assert_error(400, "커서의 ID가 올바르지 않습니다.");
    app.get(m, "/v2/tasks/completed?zoneId=Nowhere/City")
        .await
        .assert(400);
    // TaskArchiveServiceTest: offset +02:00 → 2025-01-10 02:00 → cutoff 2025-01-09.
    let plus2 = app.get(m, "/v2/tasks/completed?offset=%2B02:00").await;
    assert_eq!(ids(&plus2.assert(200)["data"]), vec![d9, d8]);
    // Same-date rows page by id, descending, across pages; other members' tasks never appear.
    let d9b = app.task(m, "d9b", "2025-01-09", "Asia/Seoul").await;
    app.post_empty(m, &format!("/v2/tasks/{d9b}/complete"))
        .await
        .assert(204);
    let other = app.member(2, Some("Asia/Seoul")).await;
    let foreign = app.task(other, "foreign", "2025-01-09", "Asia/Seoul").await;
    app.post_empty(other, &format!("/v2/tasks/{foreign}/complete"))
        .await
        .assert(204);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v2/tasks/completed?size=1&cursor={c}"),
            None => "/v2/tasks/completed?size=1".to_owned(),
        };
        let page = app.get(m, &path).await;
        seen.extend(ids(&page.assert(200)["data"]));
        match page.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, vec![d9b, d9, d8]);
    // Complementary to the current list: d10 (completed, due today) is there, d8/d9 are not.
    let current = app.get(m, "/v2/tasks").await;
    let mut listed = ids(&current.assert(200)["content"]);
    listed.sort();
    assert_eq!(listed, vec![d10, open]);
}

/// The robustness sweep: `null` where the document forbids it, pages past `int32`, control characters in
/// text, one date range for storing and querying, and error bodies that do not echo huge input.
async fn nulls_pages_controls_ranges_and_echoes(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.member(1, None).await;
    let task = app.task(m, "할 일", "2030-01-01", "Asia/Seoul").await;
    let schedule = app
        .schedule(m, "일정", "2030-01-01T09:00:00", "Asia/Seoul", "DEEP_WORK")
        .await;

    // `null` is refused where the document does not allow it; leaving a field out is still fine.
    let null_field = |res: crate::support::Res, field: &str| {
        res.assert_error(400, "Validation failed for 1 field(s)");
        assert_eq!(res.body["errors"][0]["field"], field, "{}", res.text);
        assert_eq!(res.body["errors"][0]["reason"], "must not be null");
    };
    let patch = format!("/v2/schedules/{schedule}");
    for field in ["title", "description", "date", "scheduleType"] {
        null_field(app.patch(m, &patch, json!({ field: null })).await, field);
    }
    app.patch(m, &patch, json!({})).await.assert(200);
    let unchanged = app.get(m, &patch).await;
    assert_eq!(unchanged.assert(200)["title"], "일정");
    let mut body = task_body("새 일", "2030-01-02", Value::Null);
    null_field(
        app.post(m, "/v2/tasks", body.clone()).await,
        "addDependencies",
    );
    body["addDependencies"] = json!([]);
    body["dueDate"]["offset"] = Value::Null;
    null_field(
        app.post(m, "/v2/tasks", body.clone()).await,
        "dueDate.offset",
    );
    body["dueDate"] = json!({"date": "2030-01-02", "zoneId": "Asia/Seoul"});
    body["removeDependencies"] = Value::Null;
    null_field(
        app.patch(m, &format!("/v2/tasks/{task}"), body.clone())
            .await,
        "removeDependencies",
    );
    let copy = json!({"title": null, "date": {"dateTime": "2030-01-01T10:00:00", "zoneId": "Asia/Seoul"}, "scheduleType": "DEEP_WORK"});
    null_field(
        app.post(m, &format!("/v2/tasks/{task}/schedules"), copy)
            .await,
        "title",
    );

    // Pages are int32.
    app.get(m, "/v2/tasks?page=2147483647").await.assert(200);
    let res = app.get(m, "/v2/tasks?page=2147483648").await;
    res.assert_error(400, "page는 2147483647 이하이어야 합니다.");

    // Control characters and bidirectional overrides are not stored.
    for title in ["a\u{0}b", "a\u{1b}[31m", "abc\u{202e}fed"] {
        let res = app
            .post(m, "/v2/tasks", task_body(title, "2030-01-02", json!([])))
            .await;
        res.assert_error(400, "제목에 제어 문자를 사용할 수 없습니다.");
        let res = app.patch(m, &patch, json!({ "title": title })).await;
        res.assert_error(400, "제목에 제어 문자를 사용할 수 없습니다.");
    }

    // One range: the last date that can be stored can be queried; the day after cannot be stored.
    let last = app.task(m, "마지막 날", "9998-12-31", "Asia/Seoul").await;
    let due = app
        .get(
            m,
            "/v2/tasks/by-deadline?date=9998-12-31&zoneId=Pacific/Kiritimati",
        )
        .await;
    assert_eq!(ids(due.assert(200)), vec![last]);
    let res = app
        .post(
            m,
            "/v2/tasks",
            task_body("너무 먼 날", "9999-12-31", json!([])),
        )
        .await;
    res.assert_error(400, "지원하지 않는 날짜 범위입니다.");
    let res = app
        .get(m, "/v2/tasks/by-deadline?date=9999-12-31&zoneId=Asia/Seoul")
        .await;
    res.assert_error(400, "지원하지 않는 날짜 범위입니다.");

    // Error bodies cut what they repeat of the request.
    let huge = "가".repeat(10_000);
    let res = app
        .post(m, "/v2/tasks", task_body(&huge, "2030-01-02", json!([])))
        .await;
    res.assert_error(400, "제목의 길이는 1자 이상 100자 이하여야 합니다.");
    assert!(res.text.len() < 1_500, "{} bytes", res.text.len());
    let long_path = format!("/v2/{}", "x".repeat(65_000));
    let res = app.get(m, &long_path).await;
    assert_eq!(res.status, 404);
    assert!(res.text.len() < 1_500, "{} bytes", res.text.len());
}

both_backends!(
    create_list_cursor_and_by_deadline,
    by_deadline_is_zone_aware,
    validation_answers_400_with_field_errors,
    member_header_and_provisioning,
    ownership_failures_are_404,
    dependencies_on_create_and_update,
    complete_and_reopen,
    completing_a_task_with_a_linked_schedule,
    delete_detaches_or_deletes_schedules,
    lists_current_ready_and_cursor,
    archive_cursor,
    nulls_pages_controls_ranges_and_echoes,
    errors_carry_stable_codes,
);

/// Errors carry a stable code (issue 21): the message's name, on the answer and on each field error, so the web
/// client shows its own words in the member's language.
async fn errors_carry_stable_codes(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.member(1, None).await;
    // One field: the rule's code on the answer and on the field.
    let mut body = task_body("ok", "2026-02-01", json!([]));
    body["title"] = json!("가".repeat(101));
    let res = app.post(m, "/v2/tasks", body).await;
    res.assert(400);
    assert_eq!(res.body["code"], "TITLE_LENGTH");
    assert_eq!(res.body["errors"][0]["code"], "TITLE_LENGTH");
    // Several: the summary's code, and each field's.
    let res = app.post(m, "/v2/tasks", json!({"title": " "})).await;
    assert_eq!(res.body["code"], "VALIDATION_FAILED");
    let codes: Vec<&str> = res.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(
        codes,
        [
            "MUST_NOT_BE_BLANK",
            "MUST_NOT_BE_NULL",
            "MUST_NOT_BE_NULL",
            "MUST_NOT_BE_NULL"
        ]
    );
    // A conflict: a second start while one runs.
    let a = app
        .schedule(m, "a", "2026-02-01T09:00:00", "Asia/Seoul", "DEEP_WORK")
        .await;
    let b = app
        .schedule(m, "b", "2026-02-01T10:00:00", "Asia/Seoul", "DEEP_WORK")
        .await;
    app.run(m, a, "start").await.assert(204);
    let res = app.run(m, b, "start").await;
    res.assert(409);
    assert_eq!(res.body["code"], "ALREADY_RUNNING");
    // Completing a blocked task.
    let first = app.task(m, "first", "2026-02-02", "Asia/Seoul").await;
    let second = app
        .task_with(
            m,
            "second",
            "2026-02-03",
            "Asia/Seoul",
            json!([{"fromId": first, "toId": 0}]),
        )
        .await;
    let res = app
        .post_empty(m, &format!("/v2/tasks/{second}/complete"))
        .await;
    res.assert(409);
    assert_eq!(res.body["code"], "PREREQUISITES_COMPLETE_TASK");
    // A missing one: the 404's code.
    let res = app.get(m, "/v2/schedules/999999").await;
    res.assert(404);
    assert_eq!(res.body["code"], "SCHEDULE_NOT_FOUND");
}
