//! Webhooks end to end, through the gateway: a member's endpoint on a local receiver (the insecure-endpoint
//! setting lets it be `http://127.0.0.1`) gets their schedule and task events, each verified by Python's
//! `standardwebhooks`.
//!
//! * Distributed (four processes, PostgreSQL, RabbitMQ): the notification process is killed (SIGKILL) while a
//!   delivery is in flight, more events happen while it is down, and it is started again — every event arrives,
//!   and an event sent twice carries the same `webhook-id` (and body) both times.
//! * Embedded (`pinit serve`): the same flow without the kill.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use pinit_testkit::webhooks::{Received, Reply, WebhookReceiver, verify};
use serde_json::{Value, json};
use support::member::{Member, provisioned_member};
use support::system::{Layout, System};

/// Short timeouts and leases: a delivery cut off by the kill is claimed again within seconds.
const ENV: &[(&str, &str)] = &[
    ("PINIT_NOTIFICATION_PUSH_TIMEOUT", "2s"),
    ("PINIT_NOTIFICATION_WEBHOOKS__TIMEOUT", "2s"),
    ("PINIT_NOTIFICATION_CLAIM_LEASE", "4s"),
    ("PINIT_NOTIFICATION_SAFETY_POLL", "1s"),
];

struct Client<'a> {
    system: &'a System,
    http: reqwest::Client,
    member: Member,
}

impl Client<'_> {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, self.system.url(path))
            .bearer_auth(&self.member.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let res = request.send().await.expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value, expect: u16) -> Value {
        let (status, answer) = self.send(reqwest::Method::POST, path, Some(body)).await;
        assert_eq!(status, expect, "POST {path}: {answer}");
        answer
    }

    /// A schedule through its life: created, started, paused, started, completed; returns its id.
    async fn schedule_life(&self, title: &str) -> i64 {
        let schedule = self
            .post(
                "/v2/schedules",
                json!({"title": title, "description": "webhooks", "date": {"dateTime": "2030-01-02T09:00:00", "zoneId": "Asia/Seoul"}, "scheduleType": "DEEP_WORK"}),
                201,
            )
            .await;
        let id = schedule["id"].as_i64().unwrap();
        for step in ["start", "suspend", "start", "complete"] {
            self.post(&format!("/v2/schedules/{id}/{step}"), json!({}), 204)
                .await;
        }
        id
    }
}

/// The types a schedule's life sends, in order.
const LIFE: [&str; 5] = [
    "schedule.created",
    "schedule.started",
    "schedule.paused",
    "schedule.started",
    "schedule.completed",
];

/// Waits until `n` distinct events were accepted.
async fn wait_distinct(receiver: &WebhookReceiver, n: usize, within: Duration) -> Vec<Received> {
    let deadline = std::time::Instant::now() + within;
    loop {
        let accepted = receiver.accepted();
        let distinct: BTreeSet<&str> = accepted.iter().map(|r| r.id.as_str()).collect();
        if distinct.len() >= n {
            return accepted;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {n} events arrived: {:#?}",
            distinct.len(),
            receiver
                .received()
                .iter()
                .map(|r| (r.kind(), r.answered))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every request of one event id carries the same body; every event's first acceptance is in `LIFE` order for
/// its schedule; every request verifies. Returns the events by id.
fn check(secret: &str, received: &[Received]) -> BTreeMap<String, Received> {
    let mut by_id: BTreeMap<String, Received> = BTreeMap::new();
    for r in received {
        match by_id.get(&r.id) {
            Some(first) => assert_eq!(
                first.body, r.body,
                "a duplicate has the same webhook-id and body"
            ),
            None => {
                by_id.insert(r.id.clone(), r.clone());
            }
        }
    }
    let mut lives: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    let mut firsts: Vec<&Received> = Vec::new();
    for r in received {
        if !firsts.iter().any(|f| f.id == r.id) {
            firsts.push(r);
        }
    }
    for r in firsts {
        if let Some(schedule) = r.json()["data"]["scheduleId"].as_i64() {
            lives.entry(schedule).or_default().push(r.kind());
        }
    }
    for (schedule, kinds) in &lives {
        assert_eq!(kinds, &LIFE, "schedule {schedule}'s events in order");
    }
    if let Some(v) = verify(secret, received) {
        assert_eq!(v.failures, Vec::<Value>::new());
        assert_eq!(v.verified, received.len());
    }
    by_id
}

async fn setup<'a>(system: &'a System, receiver: &WebhookReceiver) -> (Client<'a>, i64, String) {
    let http = pinit_testkit::client();
    let member = provisioned_member(system, &http, "hooks").await;
    let client = Client {
        system,
        http,
        member,
    };
    let created = client
        .post(
            "/v0/webhooks",
            json!({"url": receiver.url("/pinit"), "events": ["schedule.created", "schedule.started", "schedule.paused", "schedule.completed", "task.created", "task.completed"], "description": "e2e"}),
            201,
        )
        .await;
    let secret = created["secret"].as_str().unwrap().to_string();
    (client, created["id"].as_i64().unwrap(), secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn distributed_nothing_is_lost_when_notification_is_killed_mid_delivery() {
    let mut system = System::start(Layout::Distributed, ENV).await;
    let receiver = WebhookReceiver::spawn().await;
    // Every answer takes a second: deliveries are in flight when the process dies.
    receiver.answer_by_default(Reply::Slow(Duration::from_millis(1000)));
    let (first, endpoint) = {
        let (client, endpoint, secret) = setup(&system, &receiver).await;
        let first = client.schedule_life("before the kill").await;
        // One in flight: the receiver has it, the sender waits for the answer.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while receiver.received().is_empty() {
            assert!(std::time::Instant::now() < deadline, "no delivery started");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        ((first, secret, client.member), endpoint)
    };
    system.restart("notification").await;
    let (first_schedule, secret, member) = first;
    let client = Client {
        system: &system,
        http: pinit_testkit::client(),
        member,
    };
    // More events: some published while the consumer was down wait in RabbitMQ.
    let second = client.schedule_life("after the kill").await;
    let task = client
        .post(
            "/v2/tasks",
            json!({"title": "웹훅", "description": "webhooks", "dueDate": {"date": "2030-01-01", "zoneId": "Asia/Seoul"}, "importance": 3, "difficulty": 2}),
            201,
        )
        .await["id"]
        .as_i64()
        .unwrap();
    client
        .post(&format!("/v2/tasks/{task}/complete"), json!({}), 204)
        .await;

    let expected = 2 * LIFE.len() + 2;
    let received = wait_distinct(&receiver, expected, Duration::from_secs(90)).await;
    let by_id = check(&secret, &received);
    assert_eq!(
        by_id.len(),
        expected,
        "every event arrived, none twice under two ids"
    );
    let schedules: BTreeSet<i64> = by_id
        .values()
        .filter_map(|r| r.json()["data"]["scheduleId"].as_i64())
        .collect();
    assert_eq!(schedules, BTreeSet::from([first_schedule, second]));
    let task_kinds: Vec<String> = by_id
        .values()
        .filter(|r| r.json()["data"]["taskId"] == task)
        .map(Received::kind)
        .collect();
    assert_eq!(task_kinds.len(), 2);
    // The delivery cut off by the kill was sent again: same id, so a receiver de-duplicates.
    let all = receiver.received();
    let cut_off = &all[0];
    assert!(
        all.iter().filter(|r| r.id == cut_off.id).count() >= 2,
        "the delivery in flight at the kill was sent again"
    );
    // The delivery log says so too (once the last answer, a second long, is in).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let log = loop {
        let (status, log) = client
            .send(
                reqwest::Method::GET,
                &format!("/v0/webhooks/{endpoint}/deliveries"),
                None,
            )
            .await;
        assert_eq!(status, 200);
        let done = log
            .as_array()
            .is_some_and(|l| l.iter().all(|d| d["status"] == "delivered"));
        if done || std::time::Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), expected);
    assert!(log.iter().all(|d| d["status"] == "delivered"), "{log:?}");
    let again = log
        .iter()
        .find(|d| d["eventId"] == cut_off.id.as_str())
        .unwrap();
    assert!(again["attempts"].as_i64().unwrap() >= 2, "{again}");
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_events_are_delivered_signed() {
    let system = System::start(Layout::Embedded, ENV).await;
    let receiver = WebhookReceiver::spawn().await;
    let (client, endpoint, secret) = setup(&system, &receiver).await;
    let schedule = client.schedule_life("embedded").await;
    let (status, test) = client
        .send(
            reqwest::Method::POST,
            &format!("/v0/webhooks/{endpoint}/test"),
            None,
        )
        .await;
    assert_eq!(status, 202, "{test}");
    let received = wait_distinct(&receiver, LIFE.len() + 1, Duration::from_secs(30)).await;
    let by_id = check(&secret, &received);
    assert!(by_id.contains_key(test["eventId"].as_str().unwrap()));
    assert!(
        by_id
            .values()
            .any(|r| r.json()["data"]["scheduleId"] == schedule)
    );
    // Bad input through the gateway: 400 naming the field, never a 500.
    let (status, answer) = client
        .send(
            reqwest::Method::POST,
            "/v0/webhooks",
            Some(json!({"url": "ftp://example.com", "events": ["schedule.exploded"]})),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    let fields: Vec<&str> = answer["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["url", "events"]);
    system.stop().await;
}
