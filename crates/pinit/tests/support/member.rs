//! A member through the gateway only: signup, login, provisioned in the task service, a task and a schedule.

use std::time::Duration;

use serde_json::{Value, json};

use super::system::System;

/// A member the task service knows (provisioned through `member.created`), with a task and a schedule.
pub struct Member {
    pub id: i64,
    pub token: String,
    pub refresh: String,
    pub task_id: i64,
    pub schedule_id: i64,
}

/// The `refresh_token` a response sets, if any.
pub fn refresh_cookie(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("refresh_token="))
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
}

/// Signs `name` up, logs in, waits until the task service knows the member (503 until then), and creates a task
/// and a schedule (on 2030-01-01).
pub async fn provisioned_member(system: &System, http: &reqwest::Client, name: &str) -> Member {
    provisioned_member_at(&system.url(""), http, name).await
}

/// [`provisioned_member`] through the gateway at `gateway` (`http://host:port`).
pub async fn provisioned_member_at(gateway: &str, http: &reqwest::Client, name: &str) -> Member {
    let signup = json!({"username": name, "password": "password-123", "nickname": name, "zoneId": "Asia/Seoul"});
    assert_eq!(
        http.post(format!("{gateway}/v0/signup"))
            .json(&signup)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let res = http
        .post(format!("{gateway}/v0/login"))
        .json(&json!({"username": name, "password": "password-123"}))
        .send()
        .await
        .unwrap();
    let refresh = refresh_cookie(res.headers()).expect("a refresh cookie");
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let me: Value = http
        .get(format!("{gateway}/v0/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let task = loop {
        let res = http
            .post(format!("{gateway}/v2/tasks"))
            .bearer_auth(&token)
            .json(&json!({"title": format!("{name}의 일"), "description": "private", "dueDate": {"date": "2030-01-01", "zoneId": "Asia/Seoul"}, "importance": 5, "difficulty": 3}))
            .send()
            .await
            .unwrap();
        if res.status() == 503 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        assert_eq!(res.status(), 201);
        break res.json::<Value>().await.unwrap();
    };
    let schedule: Value = http
        .post(format!("{gateway}/v2/schedules"))
        .bearer_auth(&token)
        .json(&json!({"title": format!("{name} 일정"), "description": "private", "date": {"dateTime": "2030-01-01T09:00:00", "zoneId": "Asia/Seoul"}, "scheduleType": "DEEP_WORK"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Member {
        id: me["memberId"].as_i64().unwrap(),
        token,
        refresh,
        task_id: task["id"].as_i64().unwrap(),
        schedule_id: schedule["id"].as_i64().unwrap(),
    }
}
