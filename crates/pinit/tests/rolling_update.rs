//! A rolling update with processes: two replicas of every service (and two gateways) on PostgreSQL and
//! RabbitMQ, under steady load; each replica in turn gets SIGTERM and is replaced on the same port.
//!
//! Result asserted: 0 failed requests, 0 lost events (every member signed up during the update is provisioned),
//! 0 missed and 0 duplicated pushes (every not-started schedule due during the update pushes exactly once, every
//! started one never). The figures are printed (`--nocapture`) and recorded in `docs/deploy.md`.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jiff::{Timestamp, ToSpan, tz::TimeZone};
use p256::elliptic_curve::Generate;
use pinit_kernel::Backend;
use pinit_testkit::{TestDb, TestVhost};
use serde_json::{Value, json};
use support::system::free_port;
use support::{Pinit, run};

const ZONE: &str = "Asia/Seoul";

/// One replica slot: its command, fixed ports and environment; the running process.
struct Slot {
    name: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    process: Option<Pinit>,
}

impl Slot {
    async fn start(&mut self, dir: &std::path::Path) {
        let (args, env, dir) = (self.args.clone(), self.env.clone(), dir.to_path_buf());
        let pinit = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            Pinit::start(&args, &env, &dir)
        })
        .await
        .unwrap();
        self.process = Some(pinit);
    }

    async fn stop(&mut self) -> Option<i32> {
        let p = self.process.take()?;
        tokio::task::spawn_blocking(move || p.stop().code())
            .await
            .unwrap()
    }
}

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    failed: AtomicU64,
    not_ready: AtomicU64,
    failures: Mutex<Vec<String>>,
}

/// The load's client: like an ingress, it spreads requests over the gateways and moves on from one that
/// refuses connections (nothing was sent); any other error or a 5xx is a failed request.
struct Load {
    http: reqwest::Client,
    gateways: Vec<String>,
    /// Which gateways answered `/readyz` at the last probe (as an ingress's endpoints would).
    ready: Vec<AtomicBool>,
    next: AtomicU64,
    tally: Tally,
}

impl Load {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Option<reqwest::Response> {
        self.tally.requests.fetch_add(1, Ordering::Relaxed);
        let start = self.next.fetch_add(1, Ordering::Relaxed) as usize;
        let n = self.gateways.len();
        let mut order: Vec<usize> = (0..n).map(|i| (start + i) % n).collect();
        order.sort_by_key(|&i| !self.ready[i].load(Ordering::Relaxed));
        for i in order {
            let base = &self.gateways[i];
            let mut req = self.http.request(method.clone(), format!("{base}{path}"));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = &body {
                req = req.json(b);
            }
            match req.send().await {
                Ok(res) if res.status().is_server_error() => {
                    let status = res.status();
                    let text = res.text().await.unwrap_or_default();
                    if status == 503 && text.contains("USER_NOT_READY") {
                        self.tally.not_ready.fetch_add(1, Ordering::Relaxed);
                        return None;
                    }
                    self.fail(format!("{method} {path}: {status} {text}"));
                    return None;
                }
                Ok(res) => return Some(res),
                Err(e) if e.is_connect() => continue,
                Err(e) => {
                    self.fail(format!("{method} {path}: {e}"));
                    return None;
                }
            }
        }
        self.fail(format!(
            "{method} {path}: no gateway accepted the connection"
        ));
        None
    }

    /// Logs in with the test password; the access token, or `None` when the call failed (already counted).
    async fn login(&self, username: &str) -> Option<String> {
        let res = self
            .call(
                reqwest::Method::POST,
                "/v0/login",
                None,
                Some(json!({"username": username, "password": "password-123"})),
            )
            .await?;
        Some(
            res.json::<Value>().await.unwrap()["token"]
                .as_str()
                .unwrap()
                .to_string(),
        )
    }

    /// Probes the gateways' readiness until `stop`.
    async fn probe(self: Arc<Self>, stop: Arc<AtomicBool>) {
        while !stop.load(Ordering::Relaxed) {
            for (i, base) in self.gateways.iter().enumerate() {
                let ready = matches!(
                    self.http.get(format!("{base}/readyz")).timeout(Duration::from_secs(1)).send().await,
                    Ok(res) if res.status() == 200
                );
                self.ready[i].store(ready, Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn fail(&self, what: String) {
        self.tally.failed.fetch_add(1, Ordering::Relaxed);
        self.tally.failures.lock().unwrap().push(what);
    }
}

#[derive(Clone, Default)]
struct Pushes {
    by_topic: Arc<Mutex<HashMap<String, u32>>>,
}

async fn receive(State(p): State<Pushes>, headers: HeaderMap) -> axum::http::StatusCode {
    let topic = headers
        .get("topic")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("?")
        .to_string();
    *p.by_topic.lock().unwrap().entry(topic).or_default() += 1;
    axum::http::StatusCode::CREATED
}

fn local(at: Timestamp) -> String {
    TimeZone::get(ZONE)
        .unwrap()
        .to_datetime(at)
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

struct Planned {
    schedule_id: i64,
    started: bool,
}

/// One member's life during the update: sign up, log in, wait to be provisioned, subscribe a device, plan a
/// schedule due a little later (started at once, or left to push), read lists meanwhile.
async fn member_worker(
    load: Arc<Load>,
    push_url: String,
    n: u64,
    stop: Arc<AtomicBool>,
    members: Arc<Mutex<Vec<String>>>,
    plans: Arc<Mutex<Vec<Planned>>>,
) {
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let username = format!("roll{n}x{i}");
        let Some(res) = load
            .call(
                reqwest::Method::POST,
                "/v0/signup",
                None,
                Some(json!({"username": username, "password": "password-123", "zoneId": ZONE})),
            )
            .await
        else {
            continue;
        };
        assert_eq!(res.status(), 200, "signup");
        members.lock().unwrap().push(username.clone());
        let Some(token) = load.login(&username).await else {
            continue;
        };
        // Provisioning: 503 USER_NOT_READY until member.created is applied.
        let mut provisioned = false;
        for _ in 0..200 {
            if let Some(res) = load
                .call(
                    reqwest::Method::GET,
                    "/v2/members/zone-id",
                    Some(&token),
                    None,
                )
                .await
                && res.status() == 200
            {
                provisioned = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if !provisioned {
            load.fail(format!("{username} was never provisioned"));
            continue;
        }
        let key = p256::SecretKey::generate_from_rng(&mut rand::rng());
        let subscription = json!({"deviceId": format!("d-{username}"), "subscription": {"endpoint": format!("{push_url}/push/{username}"), "keys": {"p256dh": B64.encode(key.public_key().to_sec1_bytes()), "auth": B64.encode(rand::random::<[u8; 16]>())}}});
        load.call(
            reqwest::Method::POST,
            "/v0/push/subscribe",
            Some(&token),
            Some(subscription),
        )
        .await;
        let due = Timestamp::now() + 6.seconds();
        let body = json!({"title": "롤링", "description": "update", "date": {"dateTime": local(due), "zoneId": ZONE}, "scheduleType": "DEEP_WORK"});
        let Some(res) = load
            .call(
                reqwest::Method::POST,
                "/v2/schedules",
                Some(&token),
                Some(body),
            )
            .await
        else {
            continue;
        };
        assert_eq!(res.status(), 201);
        let schedule_id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        let started = i % 2 == 0;
        if started {
            let Some(res) = load
                .call(
                    reqwest::Method::POST,
                    &format!("/v2/schedules/{schedule_id}/start"),
                    Some(&token),
                    None,
                )
                .await
            else {
                // A failed start is counted; its push outcome is unknown, so it is not planned.
                continue;
            };
            assert_eq!(res.status(), 204);
        }
        plans.lock().unwrap().push(Planned {
            schedule_id,
            started,
        });
        for _ in 0..3 {
            load.call(
                reqwest::Method::GET,
                "/v2/tasks?page=0&size=20",
                Some(&token),
                None,
            )
            .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rolling_update_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let keys_dir = keys.to_string_lossy().into_owned();
    assert_eq!(
        run(&["keys", "generate", "--dir", &keys_dir], &[], dir.path()).0,
        0
    );
    let vhost = TestVhost::new();
    let dbs = [
        TestDb::new(Backend::Postgres).await,
        TestDb::new(Backend::Postgres).await,
        TestDb::new(Backend::Postgres).await,
    ];
    let pushes = Pushes::default();
    let push_server = pinit_testkit::TestServer::spawn(
        Router::new()
            .route("/push/{id}", post(receive))
            .with_state(pushes.clone()),
    )
    .await;

    let port = |_: usize| free_port();
    let auth_ports = [port(0), port(1)];
    let task_ports = [port(0), port(1)];
    let grpc_ports = [port(0), port(1)];
    let note_ports = [port(0), port(1)];
    let gw_ports = [port(0), port(1)];
    let list = |ports: &[u16]| {
        ports
            .iter()
            .map(|p| format!("http://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let common: Vec<(String, String)> = [
        ("PINIT_AMQP_URL", vhost.url()),
        ("PINIT_KEYS_DIR", keys_dir.clone()),
        ("PINIT_SHUTDOWN_LAME_DUCK", "3s".into()),
        ("PINIT_PUSH_ALLOW_INSECURE_ENDPOINTS", "1".into()),
        ("PINIT_AUTH_RATE_LIMIT__ENABLED", "false".into()),
        ("PINIT_GATEWAY_RATE_LIMIT__ENABLED", "false".into()),
        ("PINIT_AUTH_PASSWORD__MEMORY_KIB", "1024".into()),
        ("PINIT_AUTH_PASSWORD__ITERATIONS", "1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let slot = |name: String, cmd: &str, port: u16, extra: Vec<(&str, String)>| {
        let mut env = common.clone();
        env.extend(extra.into_iter().map(|(k, v)| (k.to_string(), v)));
        Slot {
            name,
            args: vec![
                cmd.into(),
                "--host".into(),
                "127.0.0.1".into(),
                "--port".into(),
                port.to_string(),
            ],
            env,
            process: None,
        }
    };
    let mut slots = Vec::new();
    for r in 0..2 {
        slots.push(slot(
            format!("task-{r}"),
            "task",
            task_ports[r],
            vec![
                ("PINIT_TASK_DATABASE_URL", dbs[1].url.expose().into()),
                ("PINIT_TASK_GRPC_PORT", grpc_ports[r].to_string()),
            ],
        ));
    }
    for (r, &port) in auth_ports.iter().enumerate() {
        slots.push(slot(
            format!("auth-{r}"),
            "auth",
            port,
            vec![("PINIT_AUTH_DATABASE_URL", dbs[0].url.expose().into())],
        ));
    }
    for (r, &port) in note_ports.iter().enumerate() {
        slots.push(slot(
            format!("notification-{r}"),
            "notification",
            port,
            vec![
                (
                    "PINIT_NOTIFICATION_DATABASE_URL",
                    dbs[2].url.expose().into(),
                ),
                ("PINIT_NOTIFICATION_TASK_GRPC_URL", list(&grpc_ports)),
            ],
        ));
    }
    for (r, &port) in gw_ports.iter().enumerate() {
        slots.push(slot(
            format!("gateway-{r}"),
            "gateway",
            port,
            vec![
                ("PINIT_GATEWAY_AUTH_URL", list(&auth_ports)),
                ("PINIT_GATEWAY_TASK_URL", list(&task_ports)),
                ("PINIT_GATEWAY_NOTIFICATION_URL", list(&note_ports)),
            ],
        ));
    }
    for s in &mut slots {
        s.start(dir.path()).await;
    }

    let load = Arc::new(Load {
        // Idle connections are dropped before a gateway's lame-duck period ends.
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(1))
            .build()
            .unwrap(),
        gateways: gw_ports
            .iter()
            .map(|p| format!("http://127.0.0.1:{p}"))
            .collect(),
        ready: gw_ports.iter().map(|_| AtomicBool::new(true)).collect(),
        next: AtomicU64::new(0),
        tally: Tally::default(),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let probing = Arc::new(AtomicBool::new(false));
    tokio::spawn(load.clone().probe(probing.clone()));
    let members = Arc::new(Mutex::new(Vec::new()));
    let plans = Arc::new(Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    for n in 0..4 {
        workers.push(tokio::spawn(member_worker(
            load.clone(),
            push_server.url(""),
            n,
            stop.clone(),
            members.clone(),
            plans.clone(),
        )));
    }

    // Roll every replica, one at a time, under load.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rolled_at = Instant::now();
    let mut exits = Vec::new();
    for s in &mut slots {
        let code = s.stop().await;
        exits.push((s.name.clone(), code));
        s.start(dir.path()).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let roll_time = rolled_at.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }

    // Every schedule is due at most 6 s after creation; give the pushes time to arrive.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let tally = &load.tally;
    let requests = tally.requests.load(Ordering::Relaxed);
    let failed = tally.failed.load(Ordering::Relaxed);
    let plans = std::mem::take(&mut *plans.lock().unwrap());
    let members = members.lock().unwrap().clone();
    let pushes = pushes.by_topic.lock().unwrap().clone();
    let expected: Vec<i64> = plans
        .iter()
        .filter(|p| !p.started)
        .map(|p| p.schedule_id)
        .collect();
    let suppressed: Vec<i64> = plans
        .iter()
        .filter(|p| p.started)
        .map(|p| p.schedule_id)
        .collect();
    let count = |id: &i64| pushes.get(&format!("schedule-{id}")).copied().unwrap_or(0);
    let missed = expected.iter().filter(|id| count(id) == 0).count();
    let duplicated = expected.iter().filter(|id| count(id) > 1).count();
    let unwanted = suppressed.iter().filter(|id| count(id) > 0).count();
    println!(
        "rolling update: {} replicas replaced in {:.1} s; {requests} requests, {failed} failed; {} members signed up; \
         {} pushes expected, {missed} missed, {duplicated} duplicated; {} started schedules, {unwanted} pushed anyway; \
         {} USER_NOT_READY answers while provisioning",
        slots.len(),
        roll_time.as_secs_f64(),
        members.len(),
        expected.len(),
        suppressed.len(),
        tally.not_ready.load(Ordering::Relaxed),
    );
    assert_eq!(
        failed,
        0,
        "failed requests: {:#?}",
        tally.failures.lock().unwrap()
    );
    for (name, code) in &exits {
        assert_eq!(*code, Some(0), "{name} exited cleanly on SIGTERM");
    }
    assert!(
        members.len() >= 8 && expected.len() >= 3,
        "enough load to mean something"
    );
    assert_eq!(
        (missed, duplicated, unwanted),
        (0, 0, 0),
        "pushes: {pushes:?}"
    );

    // No lost events: every member signed up during the update was provisioned (checked through the gateway
    // by logging in again and reading their zone).
    for username in &members {
        let token = load.login(username).await.expect("login");
        let res = load
            .call(
                reqwest::Method::GET,
                "/v2/members/zone-id",
                Some(&token),
                None,
            )
            .await
            .expect("provisioned");
        assert_eq!(res.status(), 200, "{username} provisioned");
    }
    probing.store(true, Ordering::Relaxed);
    for s in &mut slots {
        s.stop().await;
    }
}
