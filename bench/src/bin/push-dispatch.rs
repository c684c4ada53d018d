//! Notification dispatch under load — issue 6's benchmark.
//!
//! `cargo run --release -p pinit-bench --bin push-dispatch [-- --help]`
//!
//! * **Scenario A** ("everyone at once"): `--members` members × `--devices` Web Push subscriptions, one
//!   schedule each, all due at the same instant T; the push service answers after `--latency-ms` and says 410
//!   Gone for `--dead-percent` of the subscriptions. Measured: the time from T until every notification is
//!   settled (recorded in the database), the lateness of every push, duplicates (a device getting the same
//!   schedule twice), and whether exactly the dead subscriptions were removed.
//! * **Scenario B** ("a busy minute"): `--spread-schedules` schedules with one device each, due uniformly
//!   spread over `--spread-secs`; measured: the lateness of each push (p99 target < 1 s).
//! * **Scenario C** ("reminders"): `--reminder-schedules` schedules with one device each, starting spread over
//!   `--spread-secs`, each with the `--reminders` offsets (default one minute before and at the start), armed
//!   through the event consumer's use case (`Notifications::apply`, one transaction per event, as the consumers
//!   do) rather than bulk-loaded; measured: the arming cost per event, and the lateness of every reminder
//!   against its own due time (start + offset). Its report goes between the `push-reminders` markers.
//!
//! What is real: the database (a fresh PostgreSQL database per run, migrated with
//! `pinit_notification::MIGRATIONS`, dropped at the end; `--sqlite` adds runs on a SQLite file), the
//! [`Dispatcher`] with its claims, batch re-check, RFC 8291 encryption per push, VAPID, HTTP, result
//! recording and gone-subscription removal. What is fake: the push service (axum on 127.0.0.1, its own tokio
//! runtime, sleeping `--latency-ms` per request; it reads the schedule from the `Topic` header to count
//! deliveries per (device, schedule), and decrypts and verifies a sample of the pushes with the
//! subscription's private key), and the task service (an in-process [`ScheduleDirectory`] answering every
//! schedule NOT_STARTED at its start after `--recheck-latency-ms`; the real one is one batch gRPC call per
//! claimed batch). Subscriptions reuse a pool of `--key-pool` real P-256 key pairs (generating 600,000 is
//! slow); the per-push cost is unchanged — every push gets a fresh ephemeral key, an ECDH and AES-GCM.
//!
//! Members, subscriptions, watermarks and notifications are bulk-loaded with multi-row INSERTs (what the
//! event consumers would have written); T is then set a few seconds ahead and the dispatchers are started
//! before it, so they wake at T as in production.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use clap::{Parser, ValueEnum};
use futures::future::BoxFuture;
use jiff::Timestamp;
use p256::SecretKey;
use p256::elliptic_curve::Generate;
use pinit_bench::proc_cpu::ticks_of;
use pinit_bench::{ms, percentile};
use pinit_contracts::events::ScheduleState;
use pinit_kernel::config::{ConnectionUrl, DatabasePoolConfig, HumanDuration};
use pinit_kernel::{Backend, Db, SystemClock};
use pinit_notification::push::ece;
use pinit_notification::push::webpush::verify_vapid;
use pinit_notification::vapid::VapidKey;
use pinit_notification::{
    DirectoryError, EndpointPolicy, Notifications, ScheduleBasics, ScheduleDirectory, ScheduleId,
    ScheduleKey, ScheduleSnapshot, Settings,
};
use sqlx::Row;
use tokio_util::sync::CancellationToken;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const SECTION: &str = "## Notification dispatch";
/// Issue 22's targets for scenario A: everything settled within this long after T…
const SETTLE_TARGET: Duration = Duration::from_secs(40);
/// …with the dispatcher's CPU per push at most this many times the floor (one push's encryption).
const FLOOR_RATIO_TARGET: f64 = 1.4;
const REMINDERS_SECTION: &str = "## Reminders: arming and a busy minute";

#[derive(Parser, Debug, Clone)]
#[command(
    name = "push-dispatch",
    about = "Notification dispatch benchmark (issue 6): everyone due at once (A), a busy minute (B), reminders (C)",
    after_help = "Defaults are the issue's sizes (about 3-5 minutes in total on 2 cores, release build).\n\
                  Quick run: push-dispatch --members 20000 --spread-schedules 2000 --spread-secs 10"
)]
struct Args {
    /// Which scenarios to run.
    #[arg(long, value_enum, default_value_t = Which::Both)]
    scenario: Which,
    /// Scenario A: members, each with --devices subscriptions and one schedule, all due at the same instant.
    #[arg(long, default_value_t = 200_000)]
    members: u32,
    /// Scenario A: Web Push subscriptions (devices) per member.
    #[arg(long, default_value_t = 3)]
    devices: u32,
    /// Share of subscriptions the push service answers 410 Gone for (percent, spread evenly).
    #[arg(long, default_value_t = 1.0)]
    dead_percent: f64,
    /// Scenario A: dispatcher replicas sharing the database; a list runs each (e.g. `1,2`).
    #[arg(long, value_delimiter = ',', default_values_t = [1u32, 2])]
    replicas: Vec<u32>,
    /// Scenario B: schedules (one member and one device each), due spread uniformly over --spread-secs.
    #[arg(long, default_value_t = 10_000)]
    spread_schedules: u32,
    /// Scenarios B and C: the window the starts are spread over (seconds).
    #[arg(long, default_value_t = 60)]
    spread_secs: u32,
    /// Scenario C: schedules (one member and one device each), starts spread over --spread-secs.
    #[arg(long, default_value_t = 20_000)]
    reminder_schedules: u32,
    /// Scenario C: each schedule's reminders, as offsets from its start in seconds (<= 0).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true, default_values_t = [-60i64, 0])]
    reminders: Vec<i64>,
    /// The push service's answer time per request (milliseconds).
    #[arg(long, default_value_t = 100)]
    latency_ms: u64,
    /// Settings::max_in_flight of each dispatcher (push requests in flight per process).
    #[arg(long, default_value_t = 2048)]
    max_in_flight: usize,
    /// Settings::batch_size (notifications claimed per round).
    #[arg(long, default_value_t = 500)]
    batch_size: u32,
    /// Database pool size of each dispatcher replica.
    #[arg(long, default_value_t = 16)]
    db_pool: u32,
    /// Distinct P-256 subscription key pairs (devices share them round-robin).
    #[arg(long, default_value_t = 64)]
    key_pool: usize,
    /// Worker threads of the dispatchers' tokio runtime.
    #[arg(long, default_value_t = 2)]
    dispatch_workers: usize,
    /// Worker threads of the fake push service's own tokio runtime.
    #[arg(long, default_value_t = 2)]
    push_workers: usize,
    /// Simulated latency of the batch re-check with the task service (milliseconds per claimed batch).
    #[arg(long, default_value_t = 5)]
    recheck_latency_ms: u64,
    /// One push in this many is decrypted with the subscription's private key and its VAPID JWT verified.
    #[arg(long, default_value_t = 1000)]
    verify_every: u64,
    /// Seconds between the end of loading and T (the dispatchers start before T and wake at it).
    #[arg(long, default_value_t = 8)]
    lead_secs: u64,
    /// Give up on a run after this many seconds past T.
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
    /// PostgreSQL server (an admin URL: a database is created per run and dropped at its end).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
    /// Also run every scenario on a SQLite file.
    #[arg(long)]
    sqlite: bool,
    /// Skip PostgreSQL (with --sqlite: SQLite only).
    #[arg(long)]
    no_postgres: bool,
    /// Do not preload yesterday's deliveries and outcomes (one per device and member). With them the
    /// delivery tables are the size and have the statistics they have in production, not empty.
    #[arg(long)]
    no_history: bool,
    /// Write the markdown report here too (it is always printed). A file holding the
    /// `<!-- push-dispatch:begin -->` … `<!-- push-dispatch:end -->` markers (docs/benchmarks.md) gets only
    /// that block replaced.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    A,
    B,
    /// A and B.
    Both,
    C,
}

fn main() -> Result<(), BoxError> {
    pinit_bench::allocator_as_shipped();
    let args = Args::parse();
    if args.members == 0 || args.devices == 0 || args.spread_schedules == 0 || args.key_pool == 0 {
        return Err("sizes must be at least 1".into());
    }
    let fake_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.push_workers.max(1))
        .thread_name("fakepush")
        .enable_all()
        .build()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.dispatch_workers.max(1))
        .thread_name("dispatch")
        .enable_all()
        .build()?;
    let fake = fake_rt.handle().clone();
    let report = rt.block_on(run_all(args.clone(), fake))?;
    print!("{report}");
    if let Some(path) = &args.out {
        let (markers, section) = if args.scenario == Which::C {
            ("push-reminders", REMINDERS_SECTION)
        } else {
            ("push-dispatch", SECTION)
        };
        pinit_bench::write_between_markers(path, markers, section, &report)?;
    }
    rt.shutdown_timeout(Duration::from_secs(2));
    fake_rt.shutdown_timeout(Duration::from_secs(2));
    Ok(())
}

// ------------------------------------------------------------------------------------------------------------
// Runs
// ------------------------------------------------------------------------------------------------------------

/// One workload: `members` members with `devices` subscriptions each and one schedule each (schedule id =
/// member id), due at T + `offset_us(i)`.
#[derive(Clone)]
struct Workload {
    label: String,
    members: u32,
    devices: u32,
    /// Start offset from T of schedule `i` (1-based), microseconds.
    offsets: Arc<Vec<i64>>,
    replicas: u32,
    /// When the last start is (offset), microseconds.
    last_offset_us: i64,
    /// Each schedule's reminder offsets (seconds, ascending): `[0]` but for scenario C.
    reminders: Arc<Vec<i64>>,
    /// Armed through `Notifications::apply` (scenario C), not bulk-loaded.
    armed_by_events: bool,
}

impl Workload {
    fn everyone_at_once(members: u32, devices: u32, replicas: u32) -> Self {
        Self {
            label: format!(
                "A: {members} members × {devices} devices due at T, {replicas} replica(s)"
            ),
            members,
            devices,
            offsets: Arc::new(vec![0; members as usize + 1]),
            replicas,
            last_offset_us: 0,
            reminders: Arc::new(vec![0]),
            armed_by_events: false,
        }
    }

    fn busy_minute(schedules: u32, secs: u32) -> Self {
        let window = i64::from(secs) * 1_000_000;
        let n = i64::from(schedules);
        let offsets: Vec<i64> = (0..=n)
            .map(|i| if i == 0 { 0 } else { (i - 1) * window / n })
            .collect();
        Self {
            label: format!("B: {schedules} schedules × 1 device spread over {secs} s"),
            members: schedules,
            devices: 1,
            last_offset_us: offsets.last().copied().unwrap_or(0),
            offsets: Arc::new(offsets),
            replicas: 1,
            reminders: Arc::new(vec![0]),
            armed_by_events: false,
        }
    }

    /// Scenario C: the busy minute's starts, each with `reminders` (seconds), shifted so the earliest
    /// reminder is due at T.
    fn reminders(schedules: u32, secs: u32, reminders: &[i64]) -> Self {
        let mut reminders = reminders.to_vec();
        reminders.sort_unstable();
        reminders.dedup();
        let lead = -reminders.first().copied().unwrap_or(0).min(0) * 1_000_000;
        let mut w = Self::busy_minute(schedules, secs);
        w.offsets = Arc::new(
            w.offsets
                .iter()
                .enumerate()
                .map(|(i, o)| if i == 0 { 0 } else { o + lead })
                .collect(),
        );
        w.last_offset_us += lead;
        w.label = format!(
            "C: {schedules} schedules × 1 device starting over {secs} s, reminders {}",
            reminders
                .iter()
                .map(|r| jiff::SignedDuration::from_secs(*r).to_string())
                .collect::<Vec<_>>()
                .join(" and ")
        );
        w.reminders = Arc::new(reminders);
        w.armed_by_events = true;
        w
    }

    fn subscriptions(&self) -> u64 {
        u64::from(self.members) * u64::from(self.devices)
    }

    /// Pushes expected: every device, every reminder.
    fn pushes(&self) -> u64 {
        self.subscriptions() * self.reminders.len() as u64
    }

    /// Which reminder of schedule `schedule` a push arriving at `at_us` is (the latest one due by then, with
    /// 100 ms of slack for clocks), and when it was due — the push service only sees the schedule (`Topic`).
    fn reminder_of(&self, t_us: i64, schedule: i64, at_us: i64) -> (usize, i64) {
        let start = t_us + self.offsets.get(schedule as usize).copied().unwrap_or(0);
        let mut found = (0, start + self.reminders[0] * 1_000_000);
        for (i, r) in self.reminders.iter().enumerate() {
            let due = start + r * 1_000_000;
            if due <= at_us + 100_000 {
                found = (i, due);
            }
        }
        found
    }
}

struct Env {
    args: Args,
    fake: tokio::runtime::Handle,
    keys: Arc<Vec<DeviceKey>>,
    vapid: VapidKey,
    dead_every: Option<u64>,
}

/// A subscription key pair of the pool: the browser's private key and auth secret, and the stored forms.
struct DeviceKey {
    secret: SecretKey,
    auth: [u8; 16],
    p256dh_b64: String,
    auth_b64: String,
}

async fn run_all(args: Args, fake: tokio::runtime::Handle) -> Result<String, BoxError> {
    let started = Instant::now();
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let keys = Arc::new(
        (0..args.key_pool)
            .map(|_| {
                let secret = SecretKey::generate_from_rng(&mut rand::rng());
                let mut auth = [0u8; 16];
                rand::Rng::fill_bytes(&mut rand::rng(), &mut auth);
                DeviceKey {
                    p256dh_b64: B64.encode(secret.public_key().to_sec1_bytes()),
                    auth_b64: B64.encode(auth),
                    secret,
                    auth,
                }
            })
            .collect::<Vec<_>>(),
    );
    let dead_every =
        (args.dead_percent > 0.0).then(|| (100.0 / args.dead_percent).round().max(1.0) as u64);
    let env = Env {
        fake,
        keys,
        vapid: VapidKey::generate(),
        dead_every,
        args: args.clone(),
    };
    let crypto = calibrate(&env);
    eprintln!(
        "calibration: RFC 8291 encryption {:.0} µs per push, VAPID header {:.1} µs (one core)",
        crypto.encrypt_us, crypto.vapid_us
    );

    let mut backends = Vec::new();
    if !args.no_postgres {
        backends.push(Backend::Postgres);
    }
    if args.sqlite {
        backends.push(Backend::Sqlite);
    }
    if backends.is_empty() {
        return Err("nothing to run: --no-postgres without --sqlite".into());
    }
    let mut results = Vec::new();
    for backend in backends {
        if matches!(args.scenario, Which::A | Which::Both) {
            for &replicas in &args.replicas {
                let w = Workload::everyone_at_once(args.members, args.devices, replicas.max(1));
                results.push(run_one(&env, backend, w).await?);
            }
        }
        if matches!(args.scenario, Which::B | Which::Both) {
            let w = Workload::busy_minute(args.spread_schedules, args.spread_secs);
            results.push(run_one(&env, backend, w).await?);
        }
        if args.scenario == Which::C {
            let w = Workload::reminders(args.reminder_schedules, args.spread_secs, &args.reminders);
            results.push(run_one(&env, backend, w).await?);
        }
    }
    let mut report = render(&args, &crypto, &load_before, &results, started.elapsed());
    if let Some(out) = &args.out
        && let Some(plot) = settle_curve(out, &results)?
    {
        let _ = writeln!(
            report,
            "\n![Pushes settled over time after T, scenario A]({plot}) (data: `{}`)",
            plot.replace(".svg", ".csv")
        );
    }
    Ok(report)
}

/// Scenario A's settle curve — pushes arrived at the push service against seconds after T, one line per run —
/// drawn next to the report `out` (`benchmarks/push-settle.svg` and `.csv`); the path relative to `out`'s
/// directory, or `None` when no run was scenario A.
fn settle_curve(out: &std::path::Path, results: &[RunResult]) -> Result<Option<String>, BoxError> {
    const STEP_SECS: f64 = 0.25;
    let lines: Vec<pinit_bench::Line> = results
        .iter()
        .filter(|x| x.workload.last_offset_us == 0 && !x.arrival_lateness.is_empty())
        .map(|x| {
            // `arrival_lateness` is sorted: the count up to each step is a partition point.
            let last = x.arrival_lateness.last().map_or(0.0, Duration::as_secs_f64);
            let steps = (last / STEP_SECS).ceil() as usize + 1;
            let points = (0..=steps)
                .map(|i| {
                    let t = i as f64 * STEP_SECS;
                    let n = x.arrival_lateness.partition_point(|d| d.as_secs_f64() <= t);
                    (t, n as f64)
                })
                .collect();
            pinit_bench::Line {
                name: format!("{} ({})", x.workload.label, x.backend),
                points,
            }
        })
        .collect();
    if lines.is_empty() {
        return Ok(None);
    }
    let relative = "benchmarks/push-settle.svg";
    let path = out
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join(relative);
    pinit_bench::line_chart(
        &path,
        "Scenario A: pushes arrived at the push service after T",
        ("seconds after T", "pushes arrived"),
        &lines,
    )?;
    Ok(Some(relative.to_string()))
}

/// What one run measured.
struct RunResult {
    backend: Backend,
    workload: Workload,
    settings: Settings,
    load_time: Duration,
    /// Scenario C: events applied through the consumer's use case, and how long that took.
    arming: Option<(u64, Duration)>,
    /// From T until no notification was pending (all recorded); `None` when it timed out.
    settled_after: Option<Duration>,
    /// From T until the last push reached the push service.
    last_arrival_after: Duration,
    requests: u64,
    /// Requests beyond the first per (device, schedule).
    duplicates: u64,
    /// (device, schedule) pairs that got at least one request.
    distinct: u64,
    /// Devices expected to get a push but got none.
    missing: u64,
    /// Lateness at the push service: request arrival − the schedule's start.
    arrival_lateness: Vec<Duration>,
    /// Lateness as recorded: `push_delivery.sent_at_us` (push accepted) − start.
    accepted_lateness: Vec<Duration>,
    dead_expected: u64,
    dead_hit: u64,
    gone_recorded: i64,
    subscriptions_left: i64,
    dead_left: u64,
    outcomes: BTreeMap<String, i64>,
    deliveries: BTreeMap<String, i64>,
    pending_left: i64,
    verified_ok: u64,
    verified_bad: u64,
    recheck_calls: usize,
    cpu: CpuUse,
}

async fn run_one(env: &Env, backend: Backend, workload: Workload) -> Result<RunResult, BoxError> {
    eprintln!("== {} on {backend}", workload.label);
    let database = TempDatabase::create(&env.args, backend).await?;
    let result = run_on(env, &database, workload).await;
    database.drop_it().await;
    result
}

async fn run_on(env: &Env, database: &TempDatabase, w: Workload) -> Result<RunResult, BoxError> {
    let args = &env.args;
    let backend = database.backend;
    // The fake push service, on its own runtime.
    let fake = Arc::new(FakePush::new(
        Duration::from_millis(args.latency_ms),
        env.dead_every,
        env.keys.clone(),
        args.verify_every.max(1),
        w.subscriptions() as usize,
    ));
    let (base, server) = {
        let fake_state = fake.clone();
        env.fake
            .spawn(async move { FakePush::serve(fake_state).await })
            .await??
    };

    // Load.
    let loading = Instant::now();
    let admin = Db::connect(&database.url, &pool(4)).await?;
    admin
        .migrate(pinit_notification::NAME, pinit_notification::MIGRATIONS)
        .await?;
    load(&admin, env, &w, &base).await?;
    // Scenario C arms through the consumer's use case, at starts a day ahead (then moved to T like the rest).
    let events_base_us =
        (Timestamp::now().as_microsecond() + 86_400_000_000) / 1_000_000 * 1_000_000;
    let arming = if w.armed_by_events {
        Some(arm_by_events(&admin, env, &w, events_base_us).await?)
    } else {
        None
    };
    analyze(&admin, ALL_TABLES).await?;
    let load_time = loading.elapsed();
    eprintln!("   loaded in {:.1} s", load_time.as_secs_f64());

    // T: a few seconds ahead; every start is T + its offset.
    let t = Timestamp::now() + Duration::from_secs(args.lead_secs.max(2));
    let t_us = t.as_microsecond() / 1000 * 1000;
    let shift = if w.armed_by_events {
        t_us - events_base_us
    } else {
        t_us
    };
    sqlx::query(
        "UPDATE upcoming_notification SET start_at_us = start_at_us + $1, due_at_us = due_at_us + $1, \
         next_attempt_at_us = due_at_us + $1",
    )
    .bind(shift)
    .execute(admin.pool())
    .await?;
    analyze(&admin, &["upcoming_notification"]).await?;
    let margin = t_us - Timestamp::now().as_microsecond();
    if margin < 1_000_000 {
        return Err(format!(
            "setting T took too long ({:.1} s left before T); raise --lead-secs",
            margin as f64 / 1e6
        )
        .into());
    }
    let directory = Arc::new(BenchDirectory {
        t_us: AtomicI64::new(t_us),
        offsets: w.offsets.clone(),
        latency: Duration::from_millis(args.recheck_latency_ms),
        calls: AtomicUsize::new(0),
    });

    // The dispatchers (each with its own pool and HTTP client, as separate processes would have).
    let settings = Settings {
        max_in_flight: args.max_in_flight,
        batch_size: args.batch_size,
        vapid_subject: "mailto:bench@pinit.example".into(),
        safety_poll: HumanDuration::from_secs(30),
        // The fake push service listens on http://127.0.0.1.
        allow_insecure_endpoints: true,
        ..Settings::default()
    };
    if let Some((key, problem)) = settings.problems().first() {
        return Err(format!("{key}: {problem}").into());
    }
    let stop = CancellationToken::new();
    let mut replicas = Vec::new();
    let mut dbs = Vec::new();
    for _ in 0..w.replicas {
        let db = Db::connect(&database.url, &pool(args.db_pool)).await?;
        let app = Notifications::new(
            db.clone(),
            SystemClock::shared(),
            settings.clone(),
            env.vapid.clone(),
            directory.clone(),
        );
        let dispatcher = app.dispatcher()?;
        replicas.push(tokio::spawn(dispatcher.run(stop.child_token())));
        dbs.push(db);
    }

    // Wait for T, then until everything is settled.
    let mut cpu_before = None;
    let expected = w.pushes();
    let deadline = Duration::from_secs(args.timeout_secs);
    let last_start_us = t_us + w.last_offset_us;
    let mut next_progress = t_us + 5_000_000;
    let mut next_db_poll = t_us + 2_000_000;
    let settled_after = loop {
        tokio::time::sleep(Duration::from_millis(25)).await;
        let now_us = Timestamp::now().as_microsecond();
        if now_us < t_us {
            continue;
        }
        if cpu_before.is_none() {
            cpu_before = Some(CpuSample::take(&database.name));
        }
        let since_t = Duration::from_micros((now_us - t_us) as u64);
        let arrived = fake.requests.load(Ordering::Relaxed);
        if now_us >= next_progress {
            next_progress += 5_000_000;
            eprintln!(
                "   T+{:>5.1} s: {arrived} of {expected} pushes reached the push service",
                since_t.as_secs_f64()
            );
        }
        // Polling the table is not free: look when every push arrived, else every 2 s.
        if now_us >= last_start_us && (arrived >= expected || now_us >= next_db_poll) {
            next_db_poll = now_us + 2_000_000;
            let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM upcoming_notification")
                .fetch_one(admin.pool())
                .await?;
            if pending == 0 {
                break Some(since_t);
            }
        }
        if since_t > deadline {
            eprintln!("   timed out after {} s", deadline.as_secs());
            break None;
        }
    };
    let cpu = CpuSample::take(&database.name).since(&cpu_before.unwrap_or_default());
    stop.cancel();
    for r in replicas {
        let _ = tokio::time::timeout(Duration::from_secs(70), r).await;
    }
    for db in dbs {
        db.close().await;
    }
    server.abort();

    // Tally.
    let arrivals = std::mem::take(&mut *fake.arrivals.lock().unwrap_or_else(|p| p.into_inner()));
    let mut per_pair: HashMap<(u32, i64, usize), u32> = HashMap::with_capacity(arrivals.len());
    let mut arrival_lateness = Vec::with_capacity(arrivals.len());
    let mut last_arrival = t_us;
    let mut dead_hit = 0;
    for a in &arrivals {
        let (reminder, due) = w.reminder_of(t_us, a.schedule, a.at_us);
        let n = per_pair
            .entry((a.device, a.schedule, reminder))
            .or_default();
        *n += 1;
        last_arrival = last_arrival.max(a.at_us);
        if *n == 1 {
            if a.dead {
                dead_hit += 1;
            }
            arrival_lateness.push(Duration::from_micros(
                a.at_us.saturating_sub(due).max(0) as u64
            ));
        }
    }
    arrival_lateness.sort();
    let duplicates: u64 = per_pair.values().map(|n| u64::from(n - 1)).sum();
    let distinct = per_pair.len() as u64;
    let mut accepted_lateness: Vec<Duration> =
        // Against each one's due time: the start plus the reminder's offset (kept with its outcome).
        sqlx::query("SELECT d.sent_at_us - d.start_at_us - COALESCE(o.offset_seconds, 0) * 1000000 FROM push_delivery d \
                     LEFT JOIN notification_outcome o ON o.idempotent_key = d.idempotent_key \
                     WHERE d.status = 'sent' AND d.idempotent_key NOT LIKE 'history-%'")
            .fetch_all(admin.pool())
            .await?
            .iter()
            .map(|r| {
                r.try_get::<i64, _>(0)
                    .map(|us| Duration::from_micros(us.max(0) as u64))
            })
            .collect::<Result<_, _>>()?;
    accepted_lateness.sort();
    let outcomes = group_count(
        &admin,
        "SELECT outcome, COUNT(*) FROM notification_outcome WHERE idempotent_key NOT LIKE 'history-%' GROUP BY outcome",
    )
    .await?;
    let deliveries = group_count(
        &admin,
        "SELECT status, COUNT(*) FROM push_delivery WHERE idempotent_key NOT LIKE 'history-%' GROUP BY status",
    )
    .await?;
    let gone_recorded = deliveries.get("gone").copied().unwrap_or(0);
    let addresses: Vec<String> = sqlx::query_scalar("SELECT address FROM push_subscription")
        .fetch_all(admin.pool())
        .await?;
    let dead_left = addresses
        .iter()
        .filter_map(|a| a.rsplit('/').next().and_then(|d| d.parse::<u64>().ok()))
        .filter(|d| env.dead_every.is_some_and(|e| d % e == 0))
        .count() as u64;
    let dead_expected = env.dead_every.map_or(0, |e| {
        (0..w.subscriptions()).filter(|d| d % e == 0).count() as u64
    });
    let pending_left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM upcoming_notification")
        .fetch_one(admin.pool())
        .await?;
    admin.close().await;
    let result = RunResult {
        backend,
        settings,
        load_time,
        arming,
        settled_after,
        last_arrival_after: Duration::from_micros((last_arrival - t_us).max(0) as u64),
        requests: arrivals.len() as u64,
        duplicates,
        distinct,
        missing: expected.saturating_sub(distinct),
        arrival_lateness,
        accepted_lateness,
        dead_expected,
        dead_hit,
        gone_recorded,
        subscriptions_left: addresses.len() as i64,
        dead_left,
        outcomes,
        deliveries,
        pending_left,
        verified_ok: fake.verified_ok.load(Ordering::Relaxed),
        verified_bad: fake.verified_bad.load(Ordering::Relaxed),
        recheck_calls: directory.calls.load(Ordering::Relaxed),
        cpu,
        workload: w,
    };
    eprintln!(
        "   settled after {}, {} requests, {} duplicates, lateness p50 {:.0} ms p99 {:.0} ms max {:.0} ms",
        result
            .settled_after
            .map_or("— (timed out)".to_string(), |d| format!(
                "{:.1} s",
                d.as_secs_f64()
            )),
        result.requests,
        result.duplicates,
        ms(percentile(&result.arrival_lateness, 50.0)),
        ms(percentile(&result.arrival_lateness, 99.0)),
        ms(percentile(&result.arrival_lateness, 100.0)),
    );
    Ok(result)
}

fn pool(max_connections: u32) -> DatabasePoolConfig {
    DatabasePoolConfig {
        max_connections,
        acquire_timeout: HumanDuration::from_secs(30),
        ..Default::default()
    }
}

async fn group_count(db: &Db, sql: &'static str) -> Result<BTreeMap<String, i64>, BoxError> {
    let rows = sqlx::query(sql).fetch_all(db.pool()).await?;
    let mut out = BTreeMap::new();
    for r in rows {
        out.insert(r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?);
    }
    Ok(out)
}

const ALL_TABLES: &[&str] = &[
    "push_subscription",
    "upcoming_notification",
    "schedule_watermark",
    "push_delivery",
    "notification_outcome",
];

/// Fresh statistics (and a vacuumed table after the T update), as a database in service has.
async fn analyze(db: &Db, tables: &[&str]) -> Result<(), BoxError> {
    match db.backend() {
        Backend::Postgres => {
            for table in tables {
                sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM ANALYZE {table}")))
                    .execute(db.pool())
                    .await?;
            }
        }
        Backend::Sqlite => {
            sqlx::query("ANALYZE").execute(db.pool()).await?;
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------------------
// Databases and bulk loading
// ------------------------------------------------------------------------------------------------------------

struct TempDatabase {
    backend: Backend,
    url: ConnectionUrl,
    admin_url: Option<ConnectionUrl>,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TempDatabase {
    async fn create(args: &Args, backend: Backend) -> Result<Self, BoxError> {
        let name = format!("pinit_bench_push_{}", uuid::Uuid::new_v4().simple());
        match backend {
            Backend::Postgres => {
                let admin_url = ConnectionUrl::parse(&args.postgres_url)?;
                let admin = Db::connect(&admin_url, &pool(1)).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(admin.pool())
                    .await?;
                admin.close().await;
                let mut url = url_of(&admin_url);
                url.set_path(&format!("/{name}"));
                Ok(Self {
                    backend,
                    url: ConnectionUrl::parse(url.as_str())?,
                    admin_url: Some(admin_url),
                    name,
                    _dir: None,
                })
            }
            Backend::Sqlite => {
                let dir = tempfile::tempdir()?;
                Ok(Self {
                    backend,
                    url: Db::sqlite_url(&dir.path().join("notification.db")),
                    admin_url: None,
                    name,
                    _dir: Some(dir),
                })
            }
        }
    }

    async fn drop_it(&self) {
        let Some(admin_url) = &self.admin_url else {
            return;
        };
        let dropped = async {
            let admin = Db::connect(admin_url, &pool(1)).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .execute(admin.pool())
            .await?;
            admin.close().await;
            Ok::<_, BoxError>(())
        };
        if let Err(e) = dropped.await {
            eprintln!("could not drop database {}: {e}", self.name);
        }
    }
}

fn url_of(url: &ConnectionUrl) -> url::Url {
    url::Url::parse(url.expose()).expect("a ConnectionUrl is a URL")
}

/// A value of a bulk-loaded row.
enum Val {
    Int(i64),
    Text(String),
}

/// Multi-row INSERTs of `rows` into `table`.
async fn insert_rows(
    db: &Db,
    table: &str,
    columns: &[&str],
    rows: impl Iterator<Item = Vec<Val>>,
) -> Result<u64, BoxError> {
    // SQLite prepares `$N` placeholders in quadratic time: smaller statements there.
    let params = match db.backend() {
        Backend::Postgres => 30_000,
        Backend::Sqlite => 2_000,
    };
    let per_statement = (params / columns.len()).max(1);
    let mut rows = rows.peekable();
    let mut total = 0;
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Val>> = rows.by_ref().take(per_statement).collect();
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut n = 0;
        for (i, _) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..columns.len() {
                n += 1;
                if c > 0 {
                    sql.push_str(", ");
                }
                let _ = write!(sql, "${n}");
            }
            sql.push(')');
        }
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in chunk {
            for v in row {
                query = match v {
                    Val::Int(i) => query.bind(i),
                    Val::Text(s) => query.bind(s),
                };
            }
        }
        total += query.execute(db.pool()).await?.rows_affected();
    }
    Ok(total)
}

/// What the event consumers and subscribe calls would have written: subscriptions, watermarks and the
/// pending notifications (start = the offset; T is added afterwards).
async fn load(db: &Db, env: &Env, w: &Workload, base: &str) -> Result<(), BoxError> {
    let now = Timestamp::now().as_microsecond();
    let devices = u64::from(w.devices);
    let keys = env.keys.clone();
    let subscriptions = (1..=u64::from(w.members)).flat_map(move |m| {
        let keys = keys.clone();
        (0..devices).map(move |d| {
            let index = (m - 1) * devices + d;
            let key = &keys[(index % keys.len() as u64) as usize];
            vec![
                Val::Int(m as i64),
                Val::Text(format!("device-{d}")),
                Val::Text("webpush".into()),
                Val::Text(format!("{base}/push/{index}")),
                Val::Text(key.p256dh_b64.clone()),
                Val::Text(key.auth_b64.clone()),
                Val::Int(now),
                Val::Int(now),
            ]
        })
    });
    insert_rows(
        db,
        "push_subscription",
        &[
            "member_id",
            "device_id",
            "kind",
            "address",
            "p256dh",
            "auth_secret",
            "created_at_us",
            "updated_at_us",
        ],
        subscriptions,
    )
    .await?;
    let watermarks = (1..=i64::from(w.members)).map(|s| {
        vec![
            Val::Int(s),
            Val::Int(1),
            Val::Int(now),
            Val::Int(0),
            Val::Int(now),
        ]
    });
    insert_rows(
        db,
        "schedule_watermark",
        &[
            "schedule_id",
            "version",
            "occurred_at_us",
            "deleted",
            "updated_at_us",
        ],
        watermarks,
    )
    .await?;
    if !env.args.no_history {
        // Yesterday's notification of every member, delivered to each device.
        let yesterday = now - 86_400_000_000;
        let history = (1..=u64::from(w.members)).flat_map(move |m| {
            (0..devices).map(move |d| {
                vec![
                    Val::Text(format!("history-{m}")),
                    Val::Text(format!("device-{d}")),
                    Val::Int(1_000_000_000 + m as i64),
                    Val::Int(m as i64),
                    Val::Text("webpush".into()),
                    Val::Text("sent".into()),
                    Val::Int(1),
                    Val::Int(201),
                    Val::Int(yesterday),
                    Val::Int(yesterday + 150_000),
                    Val::Int(yesterday + 150_000),
                ]
            })
        });
        insert_rows(
            db,
            "push_delivery",
            &[
                "idempotent_key",
                "device_id",
                "schedule_id",
                "owner_id",
                "kind",
                "status",
                "attempts",
                "last_http_status",
                "start_at_us",
                "sent_at_us",
                "updated_at_us",
            ],
            history,
        )
        .await?;
        let devices = i64::from(w.devices);
        let outcomes = (1..=i64::from(w.members)).map(move |m| {
            vec![
                Val::Text(format!("history-{m}")),
                Val::Int(1_000_000_000 + m),
                Val::Int(m),
                Val::Int(yesterday),
                Val::Text("delivered".into()),
                Val::Int(devices),
                Val::Int(devices),
                Val::Int(yesterday + 200_000),
            ]
        });
        insert_rows(
            db,
            "notification_outcome",
            &[
                "idempotent_key",
                "schedule_id",
                "owner_id",
                "start_at_us",
                "outcome",
                "devices",
                "delivered",
                "finished_at_us",
            ],
            outcomes,
        )
        .await?;
    }
    if w.armed_by_events {
        return Ok(());
    }
    let offsets = w.offsets.clone();
    let notifications = (1..=i64::from(w.members)).map(move |s| {
        let offset = offsets[s as usize];
        vec![
            Val::Int(s),
            Val::Int(s),
            Val::Text(format!("Deep work #{s}")),
            Val::Int(offset),
            Val::Int(offset),
            Val::Int(1),
            Val::Text(uuid::Uuid::now_v7().to_string()),
            Val::Int(offset),
            Val::Int(0),
            Val::Int(now),
            Val::Int(now),
        ]
    });
    insert_rows(
        db,
        "upcoming_notification",
        &[
            "schedule_id",
            "owner_id",
            "schedule_title",
            "start_at_us",
            "due_at_us",
            "resolved",
            "idempotent_key",
            "next_attempt_at_us",
            "attempts",
            "created_at_us",
            "updated_at_us",
        ],
        notifications,
    )
    .await?;
    Ok(())
}

/// Scenario C: arms every schedule's reminders as the `schedule.time.upcoming.updated` consumer does — one
/// transaction per event through [`Notifications::apply`] — at `base_us` + its offset. Returns the events
/// applied and the time it took.
async fn arm_by_events(
    db: &Db,
    env: &Env,
    w: &Workload,
    base_us: i64,
) -> Result<(u64, Duration), BoxError> {
    use pinit_notification::domain::{NotificationKey, Offset, ScheduleChange, ScheduleEvent};
    let app = Notifications::new(
        db.clone(),
        SystemClock::shared(),
        Settings::default(),
        env.vapid.clone(),
        Arc::new(BenchDirectory {
            t_us: AtomicI64::new(base_us),
            offsets: w.offsets.clone(),
            latency: Duration::ZERO,
            calls: AtomicUsize::new(0),
        }),
    );
    let reminders: Vec<Offset> = w
        .reminders
        .iter()
        .map(|r| {
            Offset::from_seconds(*r)
                .ok_or_else(|| format!("reminder offset {r} s is not in -P7D..PT0S"))
        })
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    let mut applied = 0u64;
    for s in 1..=i64::from(w.members) {
        let start = Timestamp::from_microsecond(base_us + w.offsets[s as usize])?;
        let event = ScheduleEvent {
            change: ScheduleChange::UpcomingUpdated,
            schedule: ScheduleKey {
                schedule_id: ScheduleId(s),
                owner_id: pinit_notification::MemberId(s),
            },
            id: NotificationKey::from(uuid::Uuid::now_v7().to_string()),
            version: Some(2),
            occurred_at: Some(Timestamp::now()),
            new_start: Some(start),
            reminders: reminders.clone(),
        };
        let mut tx = db.begin().await?;
        app.apply(&mut tx, &event).await?;
        tx.commit().await?;
        applied += 1;
    }
    let took = started.elapsed();
    eprintln!(
        "   armed {applied} events ({} reminders each) in {:.1} s: {:.0} µs per event",
        reminders.len(),
        took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / applied.max(1) as f64
    );
    Ok((applied, took))
}

// ------------------------------------------------------------------------------------------------------------
// The fake task service: every schedule NOT_STARTED at its start
// ------------------------------------------------------------------------------------------------------------

struct BenchDirectory {
    t_us: AtomicI64,
    offsets: Arc<Vec<i64>>,
    latency: Duration,
    calls: AtomicUsize,
}

impl BenchDirectory {
    fn snapshot(&self, key: ScheduleKey) -> Option<ScheduleSnapshot> {
        let offset = *self
            .offsets
            .get(usize::try_from(key.schedule_id.get()).ok()?)?;
        // Schedule i belongs to member i.
        if key.schedule_id.get() != key.owner_id.get() || key.schedule_id.get() == 0 {
            return None;
        }
        let start = Timestamp::from_microsecond(self.t_us.load(Ordering::Relaxed) + offset).ok()?;
        Some(ScheduleSnapshot {
            basics: ScheduleBasics {
                schedule_id: key.schedule_id,
                owner_id: key.owner_id,
                title: format!("Deep work #{}", key.schedule_id),
                start_time: start,
            },
            state: Some(ScheduleState::NotStarted),
        })
    }
}

impl ScheduleDirectory for BenchDirectory {
    fn basics(
        &self,
        key: ScheduleKey,
    ) -> BoxFuture<'_, Result<Option<ScheduleBasics>, DirectoryError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(self.latency).await;
            Ok(self.snapshot(key).map(|s| s.basics))
        })
    }

    fn states<'a>(
        &'a self,
        keys: &'a [ScheduleKey],
    ) -> BoxFuture<'a, Result<HashMap<ScheduleId, ScheduleSnapshot>, DirectoryError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(self.latency).await;
            Ok(keys
                .iter()
                .filter_map(|k| self.snapshot(*k).map(|s| (k.schedule_id, s)))
                .collect())
        })
    }
}

// ------------------------------------------------------------------------------------------------------------
// The fake push service
// ------------------------------------------------------------------------------------------------------------

struct Arrival {
    device: u32,
    schedule: i64,
    at_us: i64,
    dead: bool,
}

struct FakePush {
    latency: Duration,
    dead_every: Option<u64>,
    keys: Arc<Vec<DeviceKey>>,
    verify_every: u64,
    requests: AtomicU64,
    arrivals: Mutex<Vec<Arrival>>,
    verified_ok: AtomicU64,
    verified_bad: AtomicU64,
}

impl FakePush {
    fn new(
        latency: Duration,
        dead_every: Option<u64>,
        keys: Arc<Vec<DeviceKey>>,
        verify_every: u64,
        capacity: usize,
    ) -> Self {
        Self {
            latency,
            dead_every,
            keys,
            verify_every,
            requests: AtomicU64::new(0),
            arrivals: Mutex::new(Vec::with_capacity(capacity + capacity / 50)),
            verified_ok: AtomicU64::new(0),
            verified_bad: AtomicU64::new(0),
        }
    }

    /// Listens on 127.0.0.1 (a large accept backlog: thousands of connections open at T); returns the base
    /// URL and the server task.
    async fn serve(
        state: Arc<FakePush>,
    ) -> Result<(String, tokio::task::JoinHandle<()>), BoxError> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind("127.0.0.1:0".parse()?)?;
        let listener = socket.listen(4096)?;
        let base = format!("http://{}", listener.local_addr()?);
        let router = Router::new()
            .route("/push/{device}", post(receive))
            .with_state(state);
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                eprintln!("fake push service stopped: {e}");
            }
        });
        Ok((base, server))
    }

    fn verify(&self, device: u32, schedule: i64, headers: &HeaderMap, body: &[u8]) -> bool {
        let key = &self.keys[device as usize % self.keys.len()];
        let payload = ece::decrypt(body, &key.secret, &key.auth)
            .ok()
            .and_then(|plain| serde_json::from_slice::<serde_json::Value>(&plain).ok());
        let vapid = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(verify_vapid);
        payload.is_some_and(|p| p["scheduleId"].as_str() == Some(schedule.to_string().as_str()))
            && vapid.is_some_and(|v| v.is_ok())
    }
}

async fn receive(
    State(s): State<Arc<FakePush>>,
    Path(device): Path<u32>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let at_us = Timestamp::now().as_microsecond();
    let schedule = headers
        .get("topic")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix("schedule-"))
        .and_then(|n| n.parse::<i64>().ok())
        .unwrap_or(-1);
    let dead = s.dead_every.is_some_and(|e| u64::from(device) % e == 0);
    let n = s.requests.fetch_add(1, Ordering::Relaxed);
    if n % s.verify_every == 0 {
        let counter = if s.verify(device, schedule, &headers, &body) {
            &s.verified_ok
        } else {
            &s.verified_bad
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
    s.arrivals
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Arrival {
            device,
            schedule,
            at_us,
            dead,
        });
    tokio::time::sleep(s.latency).await;
    if dead {
        StatusCode::GONE
    } else {
        StatusCode::CREATED
    }
}

// ------------------------------------------------------------------------------------------------------------
// CPU accounting (Linux /proc): this process's threads by name, PostgreSQL, the whole machine
// ------------------------------------------------------------------------------------------------------------

#[derive(Default, Clone)]
struct CpuSample {
    at: Option<Instant>,
    /// Clock ticks by thread-name prefix (dispatch, fakepush, other).
    threads: HashMap<&'static str, u64>,
    postgres: HashMap<u32, u64>,
    machine_busy: u64,
    machine_total: u64,
}

#[derive(Default, Clone, Copy)]
struct CpuUse {
    wall: f64,
    dispatch: f64,
    fake_push: f64,
    postgres: f64,
    machine_busy: f64,
    cores: usize,
}

impl CpuSample {
    /// `database`: count the PostgreSQL processes serving this database (their title names it).
    fn take(database: &str) -> Self {
        let mut s = CpuSample {
            at: Some(Instant::now()),
            ..CpuSample::default()
        };
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            for t in tasks.flatten() {
                let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
                let ticks = std::fs::read_to_string(t.path().join("stat"))
                    .ok()
                    .and_then(|st| ticks_of(&st))
                    .unwrap_or(0);
                let class = if comm.starts_with("dispatch") {
                    "dispatch"
                } else if comm.starts_with("fakepush") {
                    "fakepush"
                } else {
                    "other"
                };
                *s.threads.entry(class).or_default() += ticks;
            }
        }
        if let Ok(procs) = std::fs::read_dir("/proc") {
            for p in procs.flatten() {
                let Some(pid) = p.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                    continue;
                };
                let comm = std::fs::read_to_string(p.path().join("comm")).unwrap_or_default();
                let title = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
                if comm.trim() == "postgres"
                    && String::from_utf8_lossy(&title).contains(database)
                    && let Some(ticks) = std::fs::read_to_string(p.path().join("stat"))
                        .ok()
                        .and_then(|st| ticks_of(&st))
                {
                    s.postgres.insert(pid, ticks);
                }
            }
        }
        if let Some((total, busy)) = pinit_bench::proc_cpu::machine_ticks() {
            s.machine_total = total;
            s.machine_busy = busy;
        }
        s
    }

    /// CPU seconds used since `before` (clock ticks at 100 Hz).
    fn since(&self, before: &CpuSample) -> CpuUse {
        let hz = 100.0;
        let delta = |class: &str| {
            (self.threads.get(class).copied().unwrap_or(0) as f64
                - before.threads.get(class).copied().unwrap_or(0) as f64)
                / hz
        };
        let postgres: u64 = self
            .postgres
            .iter()
            .map(|(pid, t)| t.saturating_sub(before.postgres.get(pid).copied().unwrap_or(0)))
            .sum();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let total = self.machine_total.saturating_sub(before.machine_total) as f64;
        let busy = self.machine_busy.saturating_sub(before.machine_busy) as f64;
        CpuUse {
            wall: match (self.at, before.at) {
                (Some(a), Some(b)) => a.duration_since(b).as_secs_f64(),
                _ => 0.0,
            },
            dispatch: delta("dispatch"),
            fake_push: delta("fakepush"),
            postgres: postgres as f64 / hz,
            // Average busy cores (/proc/stat sums all cores).
            machine_busy: if total > 0.0 {
                busy / total * cores as f64
            } else {
                0.0
            },
            cores,
        }
    }
}

// ------------------------------------------------------------------------------------------------------------
// Calibration and the report
// ------------------------------------------------------------------------------------------------------------

struct Crypto {
    encrypt_us: f64,
    vapid_us: f64,
}

/// The CPU cost of one push's encryption (and of building its VAPID header, cached per origin) on one core.
fn calibrate(env: &Env) -> Crypto {
    let key = &env.keys[0];
    let public: [u8; ece::PUBLIC_KEY_LEN] = key.secret.public_key().to_sec1_bytes()[..]
        .try_into()
        .expect("an uncompressed P-256 point is 65 bytes");
    let message = pinit_notification::domain::PushMessage::new(
        ScheduleId(42),
        "Deep work #42",
        Timestamp::now(),
        pinit_notification::domain::Slot::planned(pinit_notification::domain::Offset::AT_START),
        &uuid::Uuid::now_v7().to_string().into(),
    );
    let json = message.json();
    let rounds = 2000;
    let started = Instant::now();
    for _ in 0..rounds {
        let _ = ece::encrypt(json, &public, &key.auth);
    }
    let encrypt_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
    let sender = pinit_notification::push::WebPushSender::new(
        env.vapid.clone(),
        "mailto:bench@pinit.example",
        Duration::from_secs(5),
        SystemClock::shared(),
        EndpointPolicy::insecure(),
    );
    let vapid_us = match sender {
        Ok(sender) => {
            let started = Instant::now();
            for _ in 0..rounds {
                let _ = sender.authorization("http://127.0.0.1:1");
            }
            started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds)
        }
        Err(_) => f64::NAN,
    };
    Crypto {
        encrypt_us,
        vapid_us,
    }
}

fn render(
    args: &Args,
    crypto: &Crypto,
    load_before: &str,
    results: &[RunResult],
    took: Duration,
) -> String {
    let mut r = String::new();
    let _ = writeln!(
        r,
        "<!-- generated by `cargo run --release -p pinit-bench --bin push-dispatch -- {}` on {} in {:.0} s -->",
        std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        Timestamp::now().strftime("%Y-%m-%d"),
        took.as_secs_f64()
    );
    let _ = writeln!(
        r,
        "\nMachine: {} cores; load average before the run: {}, after it: {}. Encryption (RFC 8291, fresh key + ECDH + \
         AES-GCM) {:.0} µs per push on one core, VAPID header (cached JWT) {:.1} µs. Push service latency \
         {} ms, {}% dead subscriptions (410), re-check latency {} ms per batch, {} subscription key pairs.\n",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_before
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        crypto.encrypt_us,
        crypto.vapid_us,
        args.latency_ms,
        args.dead_percent,
        args.recheck_latency_ms,
        args.key_pool,
    );
    let _ = writeln!(
        r,
        "| run | DB | settings | pushes | settled after T | last push at | throughput | lateness p50 / p90 / p99 / max (at push service) | accepted p50 / p99 / max | duplicates | dead removed |"
    );
    let _ = writeln!(r, "|---|---|---|---|---|---|---|---|---|---|---|");
    for x in results {
        let a = &x.arrival_lateness;
        let c = &x.accepted_lateness;
        let active = x.last_arrival_after.as_secs_f64().max(0.001);
        let spread = x.workload.last_offset_us as f64 / 1e6;
        let throughput = if spread > 0.0 {
            format!("{:.0}/s over {spread:.0} s", x.requests as f64 / active)
        } else {
            format!("{:.0}/s", x.requests as f64 / active)
        };
        let _ = writeln!(
            r,
            "| {} | {} | max_in_flight {}, batch_size {} | {} | {} | {:.1} s | {} | {:.0} / {:.0} / {:.0} / {:.0} ms | {:.0} / {:.0} / {:.0} ms | {} | {} of {} ({} left) |",
            x.workload.label,
            x.backend,
            x.settings.max_in_flight,
            x.settings.batch_size,
            x.requests,
            x.settled_after
                .map_or("not within the timeout".into(), |d| format!(
                    "**{:.1} s**",
                    d.as_secs_f64()
                )),
            x.last_arrival_after.as_secs_f64(),
            throughput,
            ms(percentile(a, 50.0)),
            ms(percentile(a, 90.0)),
            ms(percentile(a, 99.0)),
            ms(percentile(a, 100.0)),
            ms(percentile(c, 50.0)),
            ms(percentile(c, 99.0)),
            ms(percentile(c, 100.0)),
            x.duplicates,
            x.gone_recorded,
            x.dead_expected,
            x.dead_left,
        );
    }
    let _ = writeln!(
        r,
        "\n| run | DB | load | outcomes | deliveries | devices reached (dead among them) | missing | left pending | subscriptions left | sampled pushes decrypted + VAPID verified | re-check calls | CPU s from T to settled: dispatcher threads / fake push threads / PostgreSQL (this database) / whole machine busy (of cores × wall) |"
    );
    let _ = writeln!(r, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for x in results {
        let join = |m: &BTreeMap<String, i64>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            r,
            "| {} | {} | {:.1} s | {} | {} | {} ({}) | {} | {} | {} | {} ok, {} bad | {} | {:.1} / {:.1} / {:.1} / {:.1} of {:.1} |",
            x.workload.label,
            x.backend,
            x.load_time.as_secs_f64(),
            join(&x.outcomes),
            join(&x.deliveries),
            x.distinct,
            x.dead_hit,
            x.missing,
            x.pending_left,
            x.subscriptions_left,
            x.verified_ok,
            x.verified_bad,
            x.recheck_calls,
            x.cpu.dispatch,
            x.cpu.fake_push,
            x.cpu.postgres,
            x.cpu.machine_busy * x.cpu.wall,
            x.cpu.wall * x.cpu.cores as f64,
        );
    }
    let _ = writeln!(r);
    for x in results {
        if let Some((events, took)) = x.arming {
            let per_event = took.as_secs_f64() * 1e6 / events.max(1) as f64;
            let _ = writeln!(
                r,
                "- {} on {}: arming through the consumer's use case, one transaction per `schedule.time.upcoming.updated` \
                 with {} reminders: {events} events in {:.1} s, **{per_event:.0} µs per event** on one connection. A weekday \
                 series makes one occurrence a day, so 100,000 such members cost 100,000 events a day: {:.0} s of arming \
                 per day (a first 14-day window, about 10 occurrences each: {:.0} s, once).",
                x.workload.label,
                x.backend,
                x.workload.reminders.len(),
                took.as_secs_f64(),
                per_event * 100_000.0 / 1e6,
                per_event * 1_000_000.0 / 1e6,
            );
        }
    }
    let yes = |ok: bool| if ok { "**met**" } else { "**not met**" };
    for x in results {
        let clean = x.duplicates == 0
            && x.missing == 0
            && x.gone_recorded as u64 == x.dead_expected
            && x.dead_left == 0;
        if x.workload.last_offset_us == 0 {
            let within = x.settled_after.is_some_and(|d| d <= SETTLE_TARGET);
            // The floor: what each push cannot avoid (RFC 8291's key agreement and seal), measured in this run.
            let per_push_us = x.cpu.dispatch * 1e6 / x.requests.max(1) as f64;
            let ratio = per_push_us / crypto.encrypt_us.max(f64::MIN_POSITIVE);
            let _ = writeln!(
                r,
                "- {} on {}: all settled within {} s: {} ({}); every dead subscription removed and 0 duplicates: {}; \
                 dispatcher CPU per push {per_push_us:.0} µs = **{ratio:.2}× the floor** ({:.0} µs of encryption) — \
                 target ≤ {FLOOR_RATIO_TARGET}×: {}.",
                x.workload.label,
                x.backend,
                SETTLE_TARGET.as_secs(),
                yes(within),
                x.settled_after
                    .map_or("timed out".into(), |d| format!("{:.1} s", d.as_secs_f64())),
                yes(clean),
                crypto.encrypt_us,
                yes(ratio <= FLOOR_RATIO_TARGET),
            );
        } else {
            let p99 = percentile(&x.arrival_lateness, 99.0);
            let _ = writeln!(
                r,
                "- {} on {}: p99 lateness under 1 s: {} ({:.0} ms at the push service, {:.0} ms accepted); 0 duplicates, dead removed: {}.",
                x.workload.label,
                x.backend,
                yes(p99 < Duration::from_secs(1)),
                ms(p99),
                ms(percentile(&x.accepted_lateness, 99.0)),
                yes(clean),
            );
        }
    }
    r
}
