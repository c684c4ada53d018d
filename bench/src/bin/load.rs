//! The whole system under load (issue 22): the shipped release `pinit` binary, reached only through its gateway,
//! in each run mode, driven by an open-loop load generator playing a realistic mix of members.
//!
//! `cargo build --release -p pinit && cargo run --release -p pinit-bench --bin load -- --out docs/benchmarks.md`
//!
//! See `--help` (the `LONG_ABOUT` below) for what a run does and every knob.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD as B64_STD, URL_SAFE_NO_PAD as B64};
use clap::{Parser, ValueEnum};
use futures::StreamExt;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use p256::SecretKey;
use p256::elliptic_curve::Generate;
use pinit_bench::proc_cpu::ticks_of;
use pinit_bench::{BoxError, Rng, write_between_markers};
use pinit_notification::push::ece;
use reqwest::header::{AUTHORIZATION, COOKIE, HeaderValue, SET_COOKIE};
use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection};
use tokio::sync::Semaphore;

const SECTION: &str = "## Whole system under load";
const MARKER: &str = "load";
const ZONE: &str = "Asia/Seoul";
const PASSWORD: &str = "load-password-123";
/// p99 limits: the knee (and the distributed target), and the embedded target.
const LIMIT_MS: f64 = 100.0;
const TIGHT_MS: f64 = 50.0;

const LONG_ABOUT: &str = "\
The whole system under load (issue 22): the shipped release `pinit` binary in each run mode, reached only through \
its gateway, driven by an open-loop load generator playing a realistic mix of members.

What a run does, per mode (embedded first, then distributed, unless --mode says one):

  1. Starts the release binary (never an in-process router). Embedded: `pinit serve --port 0` on a temporary data \
     directory (SQLite). Distributed: `pinit auth|task|notification|gateway` as four processes on PostgreSQL (three \
     fresh databases on --server, dropped at the end) and RabbitMQ (a fresh vhost made with `rabbitmqctl`, deleted \
     at the end; without rabbitmqctl the vhost of --amqp is used as it is). Every port is chosen free; JSON logs \
     are read for warnings. Rate limits that would refuse one IP's traffic are raised, not disabled (their code \
     still runs): gateway per-IP bucket 1,000,000/s with a burst of 1,000,000; auth per-IP login, signup and \
     refresh windows 1,000,000. Web Push to http://127.0.0.1 is allowed (notification.allow_insecure_endpoints).
  2. Seeds --members members through the gateway (signup, login, then --tasks-per-member tasks and \
     --schedules-per-member schedules spread over the current week in Asia/Seoul), and --push-members members \
     who each register one Web Push device (a real P-256 key and auth secret) at a fake push service (axum on \
     127.0.0.1, in this process, on a runtime of its own). Then it waits until the events the seeding made \
     are absorbed (a canary schedule's push arrives; --settle-secs).
  3. Steps the arrival rate through --rates. Each step: a --warmup-secs warm-up at the step's rate (not \
     measured), then --step-secs measured, then --rest-secs of rest once every answer is in. Requests are \
     sent at their intended times (Poisson or uniform arrivals, whatever the responses do: open loop), each \
     for a random member, over up to --connections concurrent connections; latency counts from the intended \
     send time to the last byte of the answer, so a slow server cannot hide its queue (no coordinated \
     omission; the generator's 1 ms timer is included). A request that found all connections busy is counted \
     (\"waited for a connection\"; \"outstanding\" counts those waiting and those in flight). Stepping stops after the first step that fails (p99 >= 100 ms or any \
     error) plus --extra-steps more.
  4. Pushes: before each step, the push members get schedules (--pushes spread over the planned steps) starting \
     at whole seconds inside the step's measured window. They are never started, so each must be pushed at its \
     start. The fake push service decrypts each push (RFC 8291) and records when it arrived: lateness = arrival \
     - start, duplicates = the same schedule twice on one device. After the last step the run waits for \
     missing pushes up to --push-wait-secs past the last start.

The mix (per mille of requests; each member keeps a valid run-state machine: one running schedule, a paused one \
keeps the slot, a paused one is resumed before it is completed, one state change at a time per member):
  260 GET /v2/schedules (today)   120 GET /v2/schedules/week   100 GET /v2/tasks (first page of 20)
   40 GET /v2/statistics           40 GET /v2/statistics/plan
   50 POST /v2/tasks               80 POST /v2/schedules (a random day of the coming year)
  270 run-state change: start a NOT_STARTED schedule when none runs (a new schedule is created when none is \
left); when one runs, pause or complete it (1:1); when paused, resume it
   30 POST /v0/refresh (cookie; the access token and cookie are replaced; also forced when a token is 4 min old)
    5 POST /v0/login                5 POST /v0/push/subscribe (a new device of the member, at the fake service)
Any other status than the route's success status (200, 201 or 204), a timeout (--timeout-secs) or a connection \
error is an error, counted by route and status. A state change that fails is repaired afterwards with an \
uncounted GET of the schedule, so one error does not cascade into 409s.

Measured per step: offered and achieved requests/s, p50/p90/p99/p99.9/max, errors, CPU seconds of each pinit \
process, of PostgreSQL and RabbitMQ (distributed), of the load generator and the fake push service (this \
process, by thread), of the whole machine (/proc/stat), RSS (VmRSS at the step's end, VmHWM peak) of each pinit \
process, and the 1-minute load average.

Output: --out FILE gets the block between the `load` markers (under \"## Whole system under load\"; the rest of \
the file is kept); raw data goes to --artifacts (default: the `benchmarks` folder beside --out): \
load/steps.csv (one row per mode and step), load/routes.csv, load/errors.csv, load/pushes.csv, load/run.json, and \
the plot load-latency.svg (p50/p99/p99.9 against offered load, both modes, log scale, 50 and 100 ms marked). \
Without --out the block is printed and nothing is written unless --artifacts is given.

Measurements are only meaningful on a quiet machine: the load average is recorded with every step.";

const AFTER_HELP: &str = "\
Build the server first: `cargo build --release -p pinit` (the load binary looks for `pinit` beside itself, i.e. \
target/release/pinit of the same target directory, unless --pinit says otherwise).

A full run with the default rates takes about 15-25 minutes: each step is --warmup-secs + --step-secs + \
--rest-secs, about 38 s; each mode stops one step after its first failing one (all 10 steps of both modes: \
about 13 minutes of steps); seeding 1,000 members (about 32,000 requests), absorbing its events and the push \
wait add one to a few minutes per mode (the canary says how long).

Smoke run: load --rates 50,100 --step-secs 3 --warmup-secs 1 --members 20 --pushes 6 --out /tmp/load.md";

#[derive(Parser, Debug, Clone)]
#[command(name = "load", version, about = "The whole system under load (issue 22): open-loop mixed load through the gateway, both run modes", long_about = LONG_ABOUT, after_help = AFTER_HELP)]
struct Args {
    /// Which run mode(s): embedded (`pinit serve`, SQLite), distributed (four processes, PostgreSQL + RabbitMQ)
    /// or both (embedded first).
    #[arg(long, value_enum, default_value_t = ModeArg::Both)]
    mode: ModeArg,
    /// Offered arrival rates of the steps, requests per second, ascending.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "250,500,1000,1500,2000,2500,3000,3500,4000,5000"
    )]
    rates: Vec<u32>,
    /// Measured seconds per step.
    #[arg(long, default_value_t = 30)]
    step_secs: u64,
    /// Warm-up seconds before each step's measurement, at the step's rate (not measured).
    #[arg(long, default_value_t = 5)]
    warmup_secs: u64,
    /// Steps run after the first failing one (p99 >= 100 ms or an error).
    #[arg(long, default_value_t = 1)]
    extra_steps: usize,
    /// Simulated members (each request goes to one of them at random: a member's requests arrive as a Poisson
    /// process of rate R / members, i.e. exponential think times of mean members / R, independent of answers).
    /// Writes of one member are serialised by design (task's member row, notification's per-member lock), so
    /// too few members turn a load test into a contention test: 1,000 members at 3,000 req/s is already 3
    /// requests per second per member.
    #[arg(long, default_value_t = 1000)]
    members: usize,
    /// Tasks seeded per member.
    #[arg(long, default_value_t = 10)]
    tasks_per_member: usize,
    /// Schedules seeded per member, spread over the current ISO week (Asia/Seoul), 07:00-21:45.
    #[arg(long, default_value_t = 20)]
    schedules_per_member: usize,
    /// Members seeded at once (each seeds its requests one after another).
    #[arg(long, default_value_t = 8)]
    seed_concurrency: usize,
    /// Arrival process: poisson (exponential gaps) or uniform (a constant interval).
    #[arg(long, value_enum, default_value_t = Arrivals::Poisson)]
    arrivals: Arrivals,
    /// Concurrent connections (requests in flight) at most; a request that finds none free waits and is counted.
    #[arg(long, default_value_t = 2048)]
    connections: usize,
    /// A request not answered within this many seconds is an error (timeout).
    #[arg(long, default_value_t = 10)]
    timeout_secs: u64,
    /// Worker threads of the load generator's tokio runtime.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// Schedules due for a push during the run, spread over the planned steps' measured windows (0: no push check).
    #[arg(long, default_value_t = 200)]
    pushes: usize,
    /// Members with a registered Web Push device whose schedules are the pushes checked (not part of the mix).
    #[arg(long, default_value_t = 10)]
    push_members: usize,
    /// After seeding, the events it made (tens of thousands) must be absorbed before the first step: a canary
    /// schedule of a push member starting 3 s ahead is created and the run waits until its push arrives (it
    /// queues behind the seeding's events), at most this many seconds; without push members it just waits
    /// --settle-min-secs.
    #[arg(long, default_value_t = 600)]
    settle_secs: u64,
    /// Seconds to wait after seeding at least.
    #[arg(long, default_value_t = 3)]
    settle_min_secs: u64,
    /// Seconds of rest between steps (after the previous step's answers are all in), so that work it left
    /// queued (events, pushes) does not run into the next step's warm-up.
    #[arg(long, default_value_t = 2)]
    rest_secs: u64,
    /// After the last step: wait at most this many seconds past the last due push's start for pushes still
    /// missing (a late push is then measured as late rather than missing).
    #[arg(long, default_value_t = 30)]
    push_wait_secs: u64,
    /// The release `pinit` binary. Default: `pinit` beside this binary (target/release/pinit of the target
    /// directory `cargo run --release` used); build it first with `cargo build --release -p pinit`.
    #[arg(long)]
    pinit: Option<PathBuf>,
    /// PostgreSQL server for distributed mode (no database part; trust auth): three fresh databases are created
    /// on it and dropped at the end.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    server: String,
    /// RabbitMQ for distributed mode. A fresh vhost is made on it with `rabbitmqctl` (same machine) for the run
    /// and deleted after; the URL's user is given rights on it. Without rabbitmqctl the URL's vhost is used.
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    amqp: String,
    /// Extra environment for every pinit process, KEY=VALUE (repeatable), e.g. PINIT_DATABASE_MAX_CONNECTIONS=20.
    #[arg(long = "env", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Log level of the pinit processes (default: as shipped, `info`: one line per request served).
    #[arg(long)]
    log_level: Option<String>,
    /// Keep every pinit process's log (JSON lines) in this folder, as `<mode>-<process>.log`.
    #[arg(long)]
    logs: Option<PathBuf>,
    /// Seed of the load generator's random choices.
    #[arg(long, default_value_t = 22)]
    seed: u64,
    /// Markdown file to write the report block into (between the `load` markers; created if missing). Default:
    /// print the block.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Folder for the raw data (load/*.csv, load/run.json) and the plot (load-latency.svg). Default: the
    /// `benchmarks` folder beside --out; nothing is written without either.
    #[arg(long)]
    artifacts: Option<PathBuf>,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, found {s:?}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ModeArg {
    Embedded,
    Distributed,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Arrivals {
    Poisson,
    Uniform,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Embedded,
    Distributed,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Embedded => "embedded",
            Mode::Distributed => "distributed",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Mode::Embedded => "Embedded (`pinit serve`, SQLite, one process)",
            Mode::Distributed => {
                "Distributed (`pinit auth|task|notification|gateway`, PostgreSQL + RabbitMQ, one replica each)"
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------------------
// main
// ------------------------------------------------------------------------------------------------------------

fn main() -> Result<(), BoxError> {
    pinit_bench::allocator_as_shipped();
    let args = Args::parse();
    if args.rates.is_empty() || args.rates.contains(&0) {
        return Err("--rates needs positive rates".into());
    }
    if args.members == 0 || args.step_secs == 0 || args.connections == 0 {
        return Err("--members, --step-secs and --connections must be at least 1".into());
    }
    if args.pushes > 0 && args.push_members == 0 {
        return Err("--pushes needs --push-members of at least 1".into());
    }
    let pinit = match &args.pinit {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .ok_or("the load binary has no folder")?
            .join("pinit"),
    };
    if !pinit.is_file() {
        return Err(format!(
            "no pinit binary at {}: build it first with `cargo build --release -p pinit` (same target directory), \
             or pass --pinit <path to the release pinit binary>",
            pinit.display()
        )
        .into());
    }
    let artifacts = args.artifacts.clone().or_else(|| {
        args.out.as_ref().map(|o| {
            o.parent()
                .unwrap_or_else(|| Path::new("."))
                .join("benchmarks")
        })
    });
    let modes: Vec<Mode> = match args.mode {
        ModeArg::Embedded => vec![Mode::Embedded],
        ModeArg::Distributed => vec![Mode::Distributed],
        ModeArg::Both => vec![Mode::Embedded, Mode::Distributed],
    };

    let fake_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("fakepush")
        .enable_all()
        .build()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .thread_name("loadgen")
        .enable_all()
        .build()?;
    let started = Instant::now();
    let started_at = Timestamp::now();
    let load_before = load_average();
    let autovacuum = if modes.contains(&Mode::Distributed) {
        Some(
            rt.block_on(pinit_bench::Autovacuum::ensure_on(&pinit_bench::with_db(
                &args.server,
                "postgres",
            )))?,
        )
    } else {
        None
    };
    let autovacuum_note = autovacuum.as_ref().map(|a| {
        if a.turned_on {
            "PostgreSQL autovacuum on (the server had it off; turned on for the run and restored after)"
        } else {
            "PostgreSQL autovacuum on"
        }
    });
    let mut results = Vec::new();
    let mut failed = None;
    for mode in modes {
        match rt.block_on(run_mode(&args, &pinit, mode, fake_rt.handle().clone())) {
            Ok(result) => results.push(result),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    if let Some(autovacuum) = autovacuum
        && let Err(e) = rt.block_on(autovacuum.restore())
    {
        eprintln!("could not restore PostgreSQL's autovacuum setting: {e}");
    }
    if let Some(e) = failed {
        return Err(e);
    }
    let report = Report {
        args: &args,
        results: &results,
        started_at,
        took: started.elapsed(),
        load_before,
        load_after: load_average(),
        autovacuum: autovacuum_note,
        commit: git_commit(),
    };
    let block = report.markdown(artifacts.as_deref(), args.out.as_deref());
    if let Some(dir) = &artifacts {
        report.write_data(dir)?;
        let svg = dir.join("load-latency.svg");
        plot(&results, &svg)?;
        eprintln!("wrote {} and {}", dir.join("load").display(), svg.display());
    }
    match &args.out {
        Some(path) => {
            write_between_markers(path, MARKER, SECTION, &block)?;
            pinit_bench::append_history(
                path,
                HISTORY_MARKER,
                SECTION,
                HISTORY_HEADER,
                &report.history_row(),
            )?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{block}"),
    }
    rt.shutdown_timeout(Duration::from_secs(2));
    fake_rt.shutdown_timeout(Duration::from_secs(2));
    Ok(())
}

// ------------------------------------------------------------------------------------------------------------
// One mode: start, seed, step, tally, stop
// ------------------------------------------------------------------------------------------------------------

struct ModeResult {
    mode: Mode,
    steps: Vec<StepResult>,
    seeding: Duration,
    /// From the end of seeding until the canary push arrived.
    settled: Option<Duration>,
    seeded_requests: usize,
    pushes: PushTally,
    mix_pushes: u64,
    warnings: usize,
    first_problems: Vec<String>,
}

async fn run_mode(
    args: &Args,
    pinit: &Path,
    mode: Mode,
    fake_rt: tokio::runtime::Handle,
) -> Result<ModeResult, BoxError> {
    eprintln!("== {}: starting {}", mode.name(), pinit.display());
    // The fake push service first: its address goes into the subscriptions.
    let fake = Arc::new(FakePush::default());
    let fake_base = {
        let state = fake.clone();
        fake_rt.spawn(FakePush::serve(state)).await??
    };
    let system = System::start(args, pinit, mode).await?;
    let outcome = drive(args, mode, &system, &fake, &fake_base).await;
    let (warnings, first_problems) = system.problems();
    system.stop().await;
    let mut result = outcome?;
    result.warnings = warnings;
    result.first_problems = first_problems;
    Ok(result)
}

async fn drive(
    args: &Args,
    mode: Mode,
    system: &System,
    fake: &Arc<FakePush>,
    fake_base: &str,
) -> Result<ModeResult, BoxError> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(args.connections)
        .pool_idle_timeout(Duration::from_secs(120))
        .timeout(Duration::from_secs(args.timeout_secs.max(1)))
        .build()?;
    let gateway = system.url.clone();
    let mix_keys: Arc<Vec<(String, String)>> = Arc::new(
        (0..8)
            .map(|_| {
                let key = DeviceKey::generate();
                (key.p256dh_b64(), B64.encode(key.auth))
            })
            .collect(),
    );
    let ctx = Arc::new(Ctx {
        http: http.clone(),
        gateway: gateway.clone(),
        fake_base: fake_base.to_owned(),
        tz: TimeZone::get(ZONE)?,
        members: Vec::new(),
        mix_keys,
        connections: Arc::new(Semaphore::new(args.connections)),
    });

    // Seeding.
    let seeding_started = Instant::now();
    eprintln!(
        "   seeding {} members ({} tasks and {} schedules each) and {} push members",
        args.members, args.tasks_per_member, args.schedules_per_member, args.push_members
    );
    let seeded = AtomicUsize::new(0);
    let members: Vec<Member> = futures::stream::iter(0..args.members)
        .map(|i| seed_member(&ctx, args, i, &seeded))
        .buffered(args.seed_concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let push_count = if args.pushes > 0 {
        args.push_members
    } else {
        0
    };
    let mut push_members = Vec::new();
    for i in 0..push_count {
        let key = DeviceKey::generate();
        let member = seed_push_member(&ctx, i, &key, &seeded).await?;
        fake.devices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(format!("{i}"), key);
        push_members.push(member);
    }
    let seeding = seeding_started.elapsed();
    eprintln!(
        "   seeded in {:.1} s ({} requests); settling",
        seeding.as_secs_f64(),
        seeded.load(Ordering::Relaxed),
    );
    let settle_started = Instant::now();
    let settled = match push_members.first() {
        Some(pm) => settle(&ctx, args, pm, fake).await?,
        None => None,
    };
    let rest = Duration::from_secs(args.settle_min_secs).saturating_sub(settle_started.elapsed());
    tokio::time::sleep(rest).await;
    if let Some(took) = settled {
        eprintln!(
            "   the seeding's events were absorbed: the canary push came {:.1} s after seeding",
            took.as_secs_f64()
        );
    }
    if !system.databases.is_empty() {
        let vacuum_started = Instant::now();
        for name in &system.databases {
            pinit_bench::vacuum_analyze(&pinit_bench::with_db(&system.server, name)).await?;
        }
        eprintln!(
            "   VACUUM (ANALYZE) of the seeded databases: {:.1} s",
            vacuum_started.elapsed().as_secs_f64()
        );
    }
    let ctx = Arc::new(Ctx {
        members,
        http: ctx.http.clone(),
        gateway: ctx.gateway.clone(),
        fake_base: ctx.fake_base.clone(),
        tz: ctx.tz.clone(),
        mix_keys: ctx.mix_keys.clone(),
        connections: ctx.connections.clone(),
    });

    // Steps.
    let per_step = if push_count > 0 {
        args.pushes.div_ceil(args.rates.len())
    } else {
        0
    };
    let mut steps: Vec<StepResult> = Vec::new();
    let mut due: Vec<DuePush> = Vec::new();
    let mut first_failure: Option<usize> = None;
    let mut rng = Rng::new(args.seed ^ (mode as u64).wrapping_mul(0x9E37_79B9));
    for (index, &rate) in args.rates.iter().enumerate() {
        if let Some(f) = first_failure
            && index > f + args.extra_steps
        {
            break;
        }
        if index > 0 {
            tokio::time::sleep(Duration::from_secs(args.rest_secs)).await;
        }
        // As a client does in the background: no token expires during the step (5 min lifetime).
        let refreshed = refresh_stale(&ctx, Duration::from_secs(150)).await;
        if refreshed > 0 {
            eprintln!("   refreshed {refreshed} access tokens before the step (not measured)");
        }
        let step = run_step(
            args,
            &ctx,
            system,
            mode,
            rate,
            &push_members,
            per_step,
            &mut due,
            &mut rng,
        )
        .await?;
        let pass = step.passes(LIMIT_MS);
        eprintln!("   {}", step.progress_line());
        if !pass && first_failure.is_none() {
            first_failure = Some(index);
        }
        steps.push(step);
    }

    // Pushes: the last ones due get their second and a bit to arrive.
    if let Some(last) = due.iter().map(|d| d.start).max() {
        let at_least = last + SignedDuration::from_secs(2);
        let at_most = last + SignedDuration::from_secs(args.push_wait_secs.max(2) as i64);
        loop {
            let now = Timestamp::now();
            let all_in = PushTally::of(&due, fake).arrived == due.len();
            if now >= at_most || (now >= at_least && all_in) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let pushes = PushTally::of(&due, fake);
    eprintln!(
        "   pushes: {} due, {} arrived, {} within 1 s, max lateness {:.0} ms, {} duplicates, {} payloads not \
         verified",
        pushes.due,
        pushes.arrived,
        pushes.within_1s,
        pushes.max_ms(),
        pushes.duplicates,
        pushes.unverified
    );
    Ok(ModeResult {
        mode,
        steps,
        seeding,
        settled,
        seeded_requests: seeded.load(Ordering::Relaxed),
        pushes,
        mix_pushes: fake.mix.load(Ordering::Relaxed),
        warnings: 0,
        first_problems: Vec::new(),
    })
}

/// Waits until the events of the seeding are absorbed: a canary schedule of `pm` starting 3 s ahead must be
/// pushed (its arming event queues behind the seeding's). Returns how long that took from now.
async fn settle(
    ctx: &Ctx,
    args: &Args,
    pm: &PushMember,
    fake: &FakePush,
) -> Result<Option<Duration>, BoxError> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.settle_secs);
    let id = loop {
        let start = Timestamp::from_second(Timestamp::now().as_second() + 3)?;
        let body = json!({
            "title": "canary",
            "date": {
                "dateTime": start.to_zoned_datetime(ctx.tz.clone()).strftime("%Y-%m-%dT%H:%M:%S").to_string(),
                "zoneId": ZONE,
            },
            "scheduleType": "QUICK_TASK",
        });
        let token = pm.token(ctx).await?;
        match create(ctx, &token, "/v2/schedules", &body, &AtomicUsize::new(0)).await {
            Ok(id) => break id,
            Err(e) if Instant::now() < deadline => {
                eprintln!("   canary not created yet ({e}); again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(format!("the canary schedule could not be created: {e}").into()),
        }
    };
    let mut next_note = started + Duration::from_secs(15);
    while Instant::now() < deadline {
        let arrived = fake
            .arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|a| a.schedule == id);
        if arrived {
            return Ok(Some(started.elapsed()));
        }
        if Instant::now() >= next_note {
            next_note += Duration::from_secs(15);
            eprintln!(
                "   … still waiting for the canary push ({:.0} s): the seeding's events are being absorbed",
                started.elapsed().as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "   the canary push did not come within --settle-secs {}; stepping anyway",
        args.settle_secs
    );
    Ok(None)
}

// ------------------------------------------------------------------------------------------------------------
// The system under test: the release binary's processes
// ------------------------------------------------------------------------------------------------------------

/// A running pinit process: stderr (JSON logs) read by a thread that finds its address and counts problems.
struct Proc {
    name: &'static str,
    child: Child,
    url: String,
    problems: Arc<Mutex<(usize, Vec<String>)>>,
}

impl Proc {
    fn start(
        pinit: &Path,
        name: &'static str,
        args: &[&str],
        env: &[(String, String)],
        cwd: &Path,
        log: Option<PathBuf>,
    ) -> Result<Proc, BoxError> {
        let mut command = Command::new(pinit);
        command
            .args(args)
            .current_dir(cwd)
            .env("PINIT_LOG_FORMAT", "json")
            .env("PINIT_METRICS_PORT", "0")
            .env("PINIT_SHUTDOWN_LAME_DUCK", "0s")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", pinit.display()))?;
        let stderr = child.stderr.take().ok_or("stderr not piped")?;
        let problems: Arc<Mutex<(usize, Vec<String>)>> = Arc::default();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let sink = problems.clone();
        let mut copy = match log {
            Some(path) => Some(std::io::BufWriter::new(
                std::fs::File::create(&path)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
            )),
            None => None,
        };
        std::thread::Builder::new()
            .name(format!("log-{name}"))
            .spawn(move || {
                let mut found = false;
                let mut early = Vec::new();
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(file) = copy.as_mut() {
                        let _ = writeln!(file, "{line}");
                    }
                    if !found {
                        if let Ok(value) = serde_json::from_str::<Value>(&line) {
                            let message = value["message"].as_str().unwrap_or_default();
                            if message == "Pinit is running" {
                                found = true;
                                let _ = tx.send(value["url"].as_str().unwrap_or_default().into());
                            } else if message == "listening" {
                                found = true;
                                let _ = tx.send(format!(
                                    "http://{}",
                                    value["http"].as_str().unwrap_or_default()
                                ));
                            }
                        }
                        if early.len() < 40 {
                            early.push(line.clone());
                        }
                    }
                    // The one warning this setup causes on purpose (http push endpoints) is not a problem.
                    if (line.contains("\"level\":\"WARN\"") || line.contains("\"level\":\"ERROR\""))
                        && !line.contains("allow_insecure_endpoints is on")
                    {
                        let mut p = sink.lock().unwrap_or_else(|p| p.into_inner());
                        p.0 += 1;
                        if p.1.len() < 5 {
                            p.1.push(line.chars().take(400).collect());
                        }
                    }
                }
                if !found {
                    let _ = tx.send(format!("!{}", early.join("\n")));
                }
            })?;
        let url = match rx.recv_timeout(Duration::from_secs(90)) {
            Ok(url) if !url.starts_with('!') => url,
            Ok(logs) => {
                let _ = child.kill();
                return Err(
                    format!("pinit {name} exited before listening:\n{}", &logs[1..]).into(),
                );
            }
            Err(_) => {
                let _ = child.kill();
                return Err(format!("pinit {name} did not start within 90 s").into());
            }
        };
        Ok(Proc {
            name,
            child,
            url,
            problems,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The pinit processes of one mode, their databases and vhost.
struct System {
    mode: Mode,
    url: String,
    /// The gateway first (distributed: then auth, task, notification).
    procs: Vec<Proc>,
    _dir: tempfile::TempDir,
    server: String,
    databases: Vec<String>,
    vhost: Option<String>,
    /// `postgres` process titles of our databases contain this.
    db_prefix: String,
}

impl System {
    async fn start(args: &Args, pinit: &Path, mode: Mode) -> Result<System, BoxError> {
        let dir = tempfile::Builder::new().prefix("pinit-load-").tempdir()?;
        let mut identity = [0u8; 32];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut identity);
        let mut common: Vec<(String, String)> = vec![
            (
                "PINIT_INTERNAL_IDENTITY_KEY".into(),
                B64_STD.encode(identity),
            ),
            (
                "PINIT_NOTIFICATION_ALLOW_INSECURE_ENDPOINTS".into(),
                "true".into(),
            ),
            (
                "PINIT_GATEWAY_RATE_LIMIT__PER_SECOND".into(),
                "1000000".into(),
            ),
            ("PINIT_GATEWAY_RATE_LIMIT__BURST".into(), "1000000".into()),
            (
                "PINIT_AUTH_RATE_LIMIT__LOGIN_PER_IP".into(),
                "1000000".into(),
            ),
            (
                "PINIT_AUTH_RATE_LIMIT__SIGNUP_PER_IP".into(),
                "1000000".into(),
            ),
            (
                "PINIT_AUTH_RATE_LIMIT__REFRESH_PER_IP".into(),
                "1000000".into(),
            ),
        ];
        if let Some(level) = &args.log_level {
            common.push(("PINIT_LOG_LEVEL".into(), level.clone()));
        }
        common.extend(args.env.iter().cloned());
        let db_prefix = format!("pinit_load_{}", std::process::id());
        let mut system = System {
            mode,
            url: String::new(),
            procs: Vec::new(),
            server: args.server.clone(),
            databases: Vec::new(),
            vhost: None,
            db_prefix: db_prefix.clone(),
            _dir: dir,
        };
        let cwd = system._dir.path().to_path_buf();
        if let Some(dir) = &args.logs {
            std::fs::create_dir_all(dir)?;
        }
        let log_file = |name: &str| {
            args.logs
                .as_ref()
                .map(|d| d.join(format!("{}-{name}.log", mode.name())))
        };
        match mode {
            Mode::Embedded => {
                let data = cwd.join("data");
                let data = data.to_string_lossy().into_owned();
                let pinit_proc = Proc::start(
                    pinit,
                    "serve",
                    &[
                        "serve",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        "0",
                        "--data-dir",
                        &data,
                    ],
                    &common,
                    &cwd,
                    log_file("serve"),
                )?;
                system.url = pinit_proc.url.clone();
                system.procs.push(pinit_proc);
            }
            Mode::Distributed => {
                let keys = cwd.join("keys").to_string_lossy().into_owned();
                let out = Command::new(pinit)
                    .args(["keys", "generate", "--dir", &keys])
                    .current_dir(&cwd)
                    .output()?;
                if !out.status.success() {
                    return Err(format!(
                        "pinit keys generate: {}",
                        String::from_utf8_lossy(&out.stderr)
                    )
                    .into());
                }
                let mut admin =
                    PgConnection::connect(&pinit_bench::with_db(&args.server, "postgres"))
                        .await
                        .map_err(|e| format!("cannot reach PostgreSQL at {}: {e}", args.server))?;
                let mut urls = Vec::new();
                for service in ["auth", "task", "notification"] {
                    let name = format!("{db_prefix}_{service}");
                    pinit_bench::recreate_database(&mut admin, &name).await?;
                    system.databases.push(name.clone());
                    urls.push(pinit_bench::with_db(&args.server, &name));
                }
                admin.close().await?;
                let amqp = match make_vhost(&args.amqp, &db_prefix) {
                    Ok((vhost, url)) => {
                        system.vhost = Some(vhost);
                        url
                    }
                    Err(e) => {
                        eprintln!("   no vhost of our own ({e}); using {} as it is", args.amqp);
                        args.amqp.clone()
                    }
                };
                common.push(("PINIT_AMQP_URL".into(), amqp));
                common.push(("PINIT_KEYS_DIR".into(), keys));
                let grpc_port = std::net::TcpListener::bind("127.0.0.1:0")?
                    .local_addr()?
                    .port()
                    .to_string();
                let with = |extra: &[(&str, &str)]| {
                    let mut env = common.clone();
                    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
                    env
                };
                let service = |name: &'static str| vec![name, "--host", "127.0.0.1", "--port", "0"];
                let task = Proc::start(
                    pinit,
                    "task",
                    &service("task"),
                    &with(&[
                        ("PINIT_TASK_DATABASE_URL", &urls[1]),
                        ("PINIT_TASK_GRPC_PORT", &grpc_port),
                    ]),
                    &cwd,
                    log_file("task"),
                )?;
                let auth = Proc::start(
                    pinit,
                    "auth",
                    &service("auth"),
                    &with(&[("PINIT_AUTH_DATABASE_URL", &urls[0])]),
                    &cwd,
                    log_file("auth"),
                )?;
                let grpc_url = format!("http://127.0.0.1:{grpc_port}");
                let notification = Proc::start(
                    pinit,
                    "notification",
                    &service("notification"),
                    &with(&[
                        ("PINIT_NOTIFICATION_DATABASE_URL", &urls[2]),
                        ("PINIT_NOTIFICATION_TASK_GRPC_URL", &grpc_url),
                    ]),
                    &cwd,
                    log_file("notification"),
                )?;
                let gateway = Proc::start(
                    pinit,
                    "gateway",
                    &service("gateway"),
                    &with(&[
                        ("PINIT_GATEWAY_AUTH_URL", &auth.url),
                        ("PINIT_GATEWAY_TASK_URL", &task.url),
                        ("PINIT_GATEWAY_NOTIFICATION_URL", &notification.url),
                    ]),
                    &cwd,
                    log_file("gateway"),
                )?;
                system.url = gateway.url.clone();
                system.procs = vec![gateway, auth, task, notification];
            }
        }
        system.wait_healthy(Duration::from_secs(60)).await?;
        eprintln!(
            "   running at {} ({})",
            system.url,
            system
                .procs
                .iter()
                .map(|p| format!("{} pid {}", p.name, p.pid()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(system)
    }

    async fn wait_healthy(&self, within: Duration) -> Result<(), BoxError> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = Instant::now() + within;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(res) = client.get(format!("{}/health", self.url)).send().await {
                if res.status() == 200 {
                    return Ok(());
                }
                last = res.text().await.unwrap_or_default();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(format!("the system did not become healthy within {within:?}: {last}").into())
    }

    /// Warnings and errors the processes logged: how many, and the first few.
    fn problems(&self) -> (usize, Vec<String>) {
        let mut count = 0;
        let mut first = Vec::new();
        for p in &self.procs {
            let g = p.problems.lock().unwrap_or_else(|e| e.into_inner());
            count += g.0;
            first.extend(g.1.iter().map(|l| format!("{}: {l}", p.name)));
        }
        first.truncate(5);
        (count, first)
    }

    /// SIGTERM to every process (the gateway first), then the databases and the vhost go.
    async fn stop(mut self) {
        let procs = std::mem::take(&mut self.procs);
        let _ = tokio::task::spawn_blocking(move || {
            for mut p in procs {
                let _ = Command::new("kill")
                    .args(["-TERM", &p.pid().to_string()])
                    .status();
                let deadline = Instant::now() + Duration::from_secs(30);
                while Instant::now() < deadline {
                    if let Ok(Some(_)) = p.child.try_wait() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                // Drop kills what is left.
            }
        })
        .await;
        if !self.databases.is_empty() {
            let dropped = async {
                let mut admin =
                    PgConnection::connect(&pinit_bench::with_db(&self.server, "postgres")).await?;
                for name in &self.databases {
                    admin
                        .execute(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .await?;
                }
                admin.close().await?;
                Ok::<_, BoxError>(())
            };
            if let Err(e) = dropped.await {
                eprintln!("could not drop databases {:?}: {e}", self.databases);
            }
        }
        if let Some(vhost) = &self.vhost {
            let _ = Command::new("rabbitmqctl")
                .args(["delete_vhost", vhost])
                .output();
        }
    }
}

/// A fresh vhost on the broker of `amqp` (rabbitmqctl on this machine), its user given every right on it.
fn make_vhost(amqp: &str, name: &str) -> Result<(String, String), BoxError> {
    let mut url = url::Url::parse(amqp)?;
    let user = match url.username() {
        "" => "guest".to_owned(),
        u => u.to_owned(),
    };
    for args in [
        vec!["add_vhost", name],
        vec!["set_permissions", "-p", name, &user, ".*", ".*", ".*"],
    ] {
        let out = Command::new("rabbitmqctl")
            .args(&args)
            .output()
            .map_err(|e| format!("rabbitmqctl: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "rabbitmqctl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
    }
    url.set_path(&format!("/{name}"));
    Ok((name.to_owned(), url.to_string()))
}

// ------------------------------------------------------------------------------------------------------------
// Members: seeding and the mix
// ------------------------------------------------------------------------------------------------------------

struct Ctx {
    http: reqwest::Client,
    gateway: String,
    fake_base: String,
    tz: TimeZone,
    members: Vec<Member>,
    /// Key pairs (p256dh, auth) for the devices the mix registers.
    mix_keys: Arc<Vec<(String, String)>>,
    connections: Arc<Semaphore>,
}

impl Ctx {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway)
    }

    /// Local wall time now in the members' zone, `yyyy-MM-ddTHH:mm:ss`.
    fn local_now(&self) -> String {
        Timestamp::now()
            .to_zoned_datetime(self.tz.clone())
            .strftime("%Y-%m-%dT%H:%M:%S")
            .to_string()
    }
}

struct Member {
    index: usize,
    username: String,
    st: Mutex<MemberState>,
}

struct MemberState {
    bearer: HeaderValue,
    token_at: Instant,
    refresh: String,
    /// A refresh or login in flight.
    auth_busy: bool,
    /// A run-state change in flight (or its repair).
    run_busy: bool,
    running: Option<(i64, Run)>,
    /// NOT_STARTED schedules the member may start.
    todo: Vec<i64>,
    devices: u32,
    created: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    InProgress,
    Suspended,
}

fn bearer_value(token: &str) -> Result<HeaderValue, BoxError> {
    Ok(HeaderValue::from_str(&format!("Bearer {token}"))?)
}

/// The `refresh_token` cookie a response sets.
fn refresh_cookie(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("refresh_token="))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// Signup and login: the access token and the refresh cookie.
async fn sign_up_and_log_in(
    ctx: &Ctx,
    username: &str,
    seeded: &AtomicUsize,
) -> Result<(String, String), BoxError> {
    let res = ctx
        .http
        .post(ctx.url("/v0/signup"))
        .json(&json!({"username": username, "password": PASSWORD, "nickname": username, "zoneId": ZONE}))
        .send()
        .await?;
    if res.status() != 200 {
        return Err(format!("signup {username}: {} {}", res.status(), res.text().await?).into());
    }
    seeded.fetch_add(1, Ordering::Relaxed);
    log_in(ctx, username, seeded).await
}

async fn log_in(
    ctx: &Ctx,
    username: &str,
    seeded: &AtomicUsize,
) -> Result<(String, String), BoxError> {
    let res = ctx
        .http
        .post(ctx.url("/v0/login"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await?;
    if res.status() != 200 {
        return Err(format!("login {username}: {} {}", res.status(), res.text().await?).into());
    }
    seeded.fetch_add(1, Ordering::Relaxed);
    let cookie = refresh_cookie(res.headers()).ok_or("login set no refresh_token cookie")?;
    let body: Value = res.json().await?;
    let token = body["token"].as_str().ok_or("login answered no token")?;
    Ok((token.to_owned(), cookie))
}

/// POSTs `body` to `path` with `token`, expecting 201 and an `id`; retries 503 (the task service learns of a new
/// member through `member.created`) for up to 30 s.
async fn create(
    ctx: &Ctx,
    token: &str,
    path: &str,
    body: &Value,
    seeded: &AtomicUsize,
) -> Result<i64, BoxError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let res = ctx
            .http
            .post(ctx.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await?;
        seeded.fetch_add(1, Ordering::Relaxed);
        if res.status() == 503 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        if res.status() != 201 {
            return Err(format!("POST {path}: {} {}", res.status(), res.text().await?).into());
        }
        let v: Value = res.json().await?;
        return v["id"]
            .as_i64()
            .ok_or_else(|| format!("POST {path}: no id").into());
    }
}

fn task_body(rng: &mut Rng, today: jiff::civil::Date, n: usize) -> Value {
    const DIFFICULTY: [u32; 7] = [1, 2, 3, 5, 8, 13, 21];
    let due = today
        .checked_add(((rng.below(60)) as i64).days())
        .unwrap_or(today);
    json!({
        "title": format!("task {n}"),
        "description": "load test task",
        "dueDate": {"date": due.to_string(), "zoneId": ZONE},
        "importance": 1 + rng.below(9),
        "difficulty": DIFFICULTY[rng.below(7) as usize],
    })
}

const TYPES: [&str; 3] = ["DEEP_WORK", "QUICK_TASK", "ADMIN_TASK"];

fn schedule_body(rng: &mut Rng, date: jiff::civil::Date, n: u64) -> Value {
    let at = date.at(7 + rng.below(15) as i8, (15 * rng.below(4)) as i8, 0, 0);
    let kind = TYPES[rng.below(3) as usize];
    let planned = ["PT30M", "PT1H", "PT1H30M"][rng.below(3) as usize];
    json!({
        "title": format!("schedule {n}"),
        "description": "load test",
        "date": {"dateTime": at.strftime("%Y-%m-%dT%H:%M:%S").to_string(), "zoneId": ZONE},
        "scheduleType": kind,
        "plannedDuration": planned,
    })
}

async fn seed_member(
    ctx: &Ctx,
    args: &Args,
    index: usize,
    seeded: &AtomicUsize,
) -> Result<Member, BoxError> {
    let username = format!("load{index:05}");
    let (token, refresh) = sign_up_and_log_in(ctx, &username, seeded).await?;
    let mut rng = Rng::new(args.seed.wrapping_add(index as u64 * 7919));
    let today = Timestamp::now().to_zoned_datetime(ctx.tz.clone()).date();
    // Monday of this ISO week.
    let monday = today
        .checked_sub((i64::from(today.weekday().to_monday_zero_offset())).days())
        .unwrap_or(today);
    for n in 0..args.tasks_per_member {
        create(
            ctx,
            &token,
            "/v2/tasks",
            &task_body(&mut rng, today, n),
            seeded,
        )
        .await?;
    }
    let mut todo = Vec::new();
    for n in 0..args.schedules_per_member {
        let day = monday
            .checked_add(((n % 7) as i64).days())
            .unwrap_or(monday);
        let id = create(
            ctx,
            &token,
            "/v2/schedules",
            &schedule_body(&mut rng, day, n as u64),
            seeded,
        )
        .await?;
        todo.push(id);
    }
    if (index + 1).is_multiple_of(50) {
        eprintln!("   … {} members seeded", index + 1);
    }
    Ok(Member {
        index,
        username,
        st: Mutex::new(MemberState {
            bearer: bearer_value(&token)?,
            token_at: Instant::now(),
            refresh,
            auth_busy: false,
            run_busy: false,
            running: None,
            todo,
            devices: 0,
            created: args.schedules_per_member as u64,
        }),
    })
}

/// A member who only receives pushes: one Web Push device at the fake service's `/push/{index}`.
struct PushMember {
    token: Mutex<(String, String, Instant)>,
    username: String,
}

async fn seed_push_member(
    ctx: &Ctx,
    index: usize,
    key: &DeviceKey,
    seeded: &AtomicUsize,
) -> Result<PushMember, BoxError> {
    let username = format!("push{index:04}");
    let (token, refresh) = sign_up_and_log_in(ctx, &username, seeded).await?;
    let body = json!({
        "deviceId": format!("push-device-{index}"),
        "subscription": {
            "endpoint": format!("{}/push/{index}", ctx.fake_base),
            "keys": {"p256dh": key.p256dh_b64(), "auth": B64.encode(key.auth)},
        },
    });
    let res = ctx
        .http
        .post(ctx.url("/v0/push/subscribe"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await?;
    seeded.fetch_add(1, Ordering::Relaxed);
    if res.status() != 200 {
        return Err(format!(
            "subscribe {username}: {} {}",
            res.status(),
            res.text().await?
        )
        .into());
    }
    Ok(PushMember {
        token: Mutex::new((token, refresh, Instant::now())),
        username,
    })
}

impl PushMember {
    /// A token at most three minutes old (refreshed or logged in again otherwise; not measured).
    async fn token(&self, ctx: &Ctx) -> Result<String, BoxError> {
        let (token, refresh, at) = self.token.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if at.elapsed() < Duration::from_secs(180) {
            return Ok(token);
        }
        let res = ctx
            .http
            .post(ctx.url("/v0/refresh"))
            .header(COOKIE, format!("refresh_token={refresh}"))
            .send()
            .await?;
        let (token, refresh) = if res.status() == 200 {
            let cookie = refresh_cookie(res.headers()).unwrap_or(refresh);
            let v: Value = res.json().await?;
            (v["token"].as_str().unwrap_or_default().to_owned(), cookie)
        } else {
            log_in(ctx, &self.username, &AtomicUsize::new(0)).await?
        };
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) =
            (token.clone(), refresh, Instant::now());
        Ok(token)
    }
}

/// What the mix picks, before the member's state says which run-state change.
#[derive(Debug, Clone, Copy)]
enum Pick {
    Route(Route),
    Transition,
}

/// The mix, per mille (documented in --help and the report).
const MIX: &[(Pick, u32)] = &[
    (Pick::Route(Route::Today), 260),
    (Pick::Route(Route::Week), 120),
    (Pick::Route(Route::Tasks), 100),
    (Pick::Route(Route::Statistics), 40),
    (Pick::Route(Route::Plan), 40),
    (Pick::Route(Route::CreateTask), 50),
    (Pick::Route(Route::CreateSchedule), 80),
    (Pick::Transition, 270),
    (Pick::Route(Route::Refresh), 30),
    (Pick::Route(Route::Login), 5),
    (Pick::Route(Route::Subscribe), 5),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Route {
    Today,
    Week,
    Tasks,
    Statistics,
    Plan,
    CreateTask,
    CreateSchedule,
    Start,
    Pause,
    Resume,
    Complete,
    Refresh,
    Login,
    Subscribe,
}

impl Route {
    fn label(self) -> &'static str {
        match self {
            Route::Today => "GET /v2/schedules (today)",
            Route::Week => "GET /v2/schedules/week",
            Route::Tasks => "GET /v2/tasks",
            Route::Statistics => "GET /v2/statistics",
            Route::Plan => "GET /v2/statistics/plan",
            Route::CreateTask => "POST /v2/tasks",
            Route::CreateSchedule => "POST /v2/schedules",
            Route::Start => "POST /v2/schedules/{id}/start",
            Route::Pause => "POST /v2/schedules/{id}/suspend",
            Route::Resume => "POST /v2/schedules/{id}/start (resume)",
            Route::Complete => "POST /v2/schedules/{id}/complete",
            Route::Refresh => "POST /v0/refresh",
            Route::Login => "POST /v0/login",
            Route::Subscribe => "POST /v0/push/subscribe",
        }
    }

    fn expected(self) -> u16 {
        match self {
            Route::CreateTask | Route::CreateSchedule => 201,
            Route::Start | Route::Pause | Route::Resume | Route::Complete => 204,
            _ => 200,
        }
    }
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Outcome {
    Status(u16),
    Timeout,
    Connect,
    Transport,
}

impl Outcome {
    fn label(self) -> String {
        match self {
            Outcome::Status(s) => s.to_string(),
            Outcome::Timeout => "timeout".into(),
            Outcome::Connect => "connect error".into(),
            Outcome::Transport => "transport error".into(),
        }
    }
}

fn outcome_of(e: &reqwest::Error) -> Outcome {
    if e.is_timeout() {
        Outcome::Timeout
    } else if e.is_connect() {
        Outcome::Connect
    } else {
        Outcome::Transport
    }
}

/// What one request of the mix does, decided from the member's state.
enum Plan {
    Get(Route, String),
    CreateTask,
    CreateSchedule,
    Transition(Route, i64),
    Refresh(String),
    Login,
    Subscribe(u32),
}

impl Plan {
    fn route(&self) -> Route {
        match self {
            Plan::Get(r, _) | Plan::Transition(r, _) => *r,
            Plan::CreateTask => Route::CreateTask,
            Plan::CreateSchedule => Route::CreateSchedule,
            Plan::Refresh(_) => Route::Refresh,
            Plan::Login => Route::Login,
            Plan::Subscribe(_) => Route::Subscribe,
        }
    }
}

/// Counters of one step that are not samples.
#[derive(Default)]
struct StepCounters {
    /// Requests that found every connection busy.
    waited: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Run-state changes replaced by a read because the member had one in flight.
    substituted: AtomicU64,
    /// Uncounted repair requests after a failed state change, refresh or login.
    repairs: AtomicU64,
}

#[derive(Clone, Copy)]
struct Sample {
    intended: Instant,
    done: Instant,
    route: Route,
    outcome: Outcome,
}

impl Sample {
    fn ok(&self) -> bool {
        self.outcome == Outcome::Status(self.route.expected())
    }
}

/// Decides the member's next request from the mix roll and its state (marks what it takes as busy).
fn plan(ctx: &Ctx, member: &Member, rng: &mut Rng, counters: &StepCounters) -> (Plan, HeaderValue) {
    let mut st = member.st.lock().unwrap_or_else(|p| p.into_inner());
    let roll = rng.below(1000) as u32;
    let mut acc = 0;
    let mut pick = Pick::Route(Route::Today);
    for (p, w) in MIX {
        acc += w;
        if roll < acc {
            pick = *p;
            break;
        }
    }
    // An access token near its 5-minute end is refreshed first, as a client does.
    if !st.auth_busy && st.token_at.elapsed() > Duration::from_secs(240) {
        pick = Pick::Route(Route::Refresh);
    }
    let today = || {
        Plan::Get(
            Route::Today,
            format!("/v2/schedules?time={}&zoneId={ZONE}", ctx.local_now()),
        )
    };
    let plan = match pick {
        Pick::Transition if st.run_busy => {
            counters.substituted.fetch_add(1, Ordering::Relaxed);
            today()
        }
        Pick::Transition => match st.running {
            None => match st.todo.pop() {
                Some(id) => {
                    st.run_busy = true;
                    Plan::Transition(Route::Start, id)
                }
                None => Plan::CreateSchedule,
            },
            Some((id, Run::InProgress)) => {
                st.run_busy = true;
                if rng.below(2) == 0 {
                    Plan::Transition(Route::Pause, id)
                } else {
                    Plan::Transition(Route::Complete, id)
                }
            }
            Some((id, Run::Suspended)) => {
                st.run_busy = true;
                Plan::Transition(Route::Resume, id)
            }
        },
        Pick::Route(Route::Refresh | Route::Login) if st.auth_busy => today(),
        Pick::Route(Route::Refresh) => {
            st.auth_busy = true;
            Plan::Refresh(st.refresh.clone())
        }
        Pick::Route(Route::Login) => {
            st.auth_busy = true;
            Plan::Login
        }
        Pick::Route(Route::Subscribe) => {
            st.devices += 1;
            Plan::Subscribe(st.devices)
        }
        Pick::Route(Route::CreateTask) => Plan::CreateTask,
        Pick::Route(Route::CreateSchedule) => Plan::CreateSchedule,
        Pick::Route(Route::Week) => Plan::Get(
            Route::Week,
            format!("/v2/schedules/week?time={}&zoneId={ZONE}", ctx.local_now()),
        ),
        Pick::Route(Route::Tasks) => Plan::Get(Route::Tasks, "/v2/tasks?page=0&size=20".into()),
        Pick::Route(Route::Statistics) => Plan::Get(
            Route::Statistics,
            format!("/v2/statistics?time={}&zoneId={ZONE}", ctx.local_now()),
        ),
        Pick::Route(Route::Plan) => Plan::Get(
            Route::Plan,
            format!("/v2/statistics/plan?time={}&zoneId={ZONE}", ctx.local_now()),
        ),
        Pick::Route(_) => today(),
    };
    (plan, st.bearer.clone())
}

/// One request of the mix for `member`: sends it, reads the whole answer, updates the member's state. Returns
/// the route and how it ended; repairs (uncounted) after a failed state change or refresh.
async fn one_request(
    ctx: &Ctx,
    member: &Member,
    seed: u64,
    counters: &StepCounters,
    record: impl FnOnce(Route, Outcome),
) {
    let mut rng = Rng::new(seed);
    let (plan, bearer) = plan(ctx, member, &mut rng, counters);
    let route = plan.route();
    let http = &ctx.http;
    let request = match &plan {
        Plan::Get(_, path) => http.get(ctx.url(path)).header(AUTHORIZATION, bearer),
        Plan::CreateTask => {
            let today = Timestamp::now().to_zoned_datetime(ctx.tz.clone()).date();
            let n = rng.below(1_000_000) as usize;
            http.post(ctx.url("/v2/tasks"))
                .header(AUTHORIZATION, bearer)
                .json(&task_body(&mut rng, today, n))
        }
        Plan::CreateSchedule => {
            // A day of the coming year: lists of this week grow only slowly over a long run.
            let today = Timestamp::now().to_zoned_datetime(ctx.tz.clone()).date();
            let day = today
                .checked_add(((1 + rng.below(365)) as i64).days())
                .unwrap_or(today);
            let n = rng.below(1_000_000);
            http.post(ctx.url("/v2/schedules"))
                .header(AUTHORIZATION, bearer)
                .json(&schedule_body(&mut rng, day, n))
        }
        Plan::Transition(r, id) => {
            let op = match r {
                Route::Pause => "suspend",
                Route::Complete => "complete",
                _ => "start",
            };
            http.post(ctx.url(&format!("/v2/schedules/{id}/{op}")))
                .header(AUTHORIZATION, bearer)
        }
        Plan::Refresh(cookie) => http
            .post(ctx.url("/v0/refresh"))
            .header(COOKIE, format!("refresh_token={cookie}")),
        Plan::Login => http
            .post(ctx.url("/v0/login"))
            .json(&json!({"username": member.username, "password": PASSWORD})),
        Plan::Subscribe(n) => {
            let (p256dh, auth) = &ctx.mix_keys[(member.index + *n as usize) % ctx.mix_keys.len()];
            http.post(ctx.url("/v0/push/subscribe"))
                .header(AUTHORIZATION, bearer)
                .json(&json!({
                    "deviceId": format!("mix-{}-{n}", member.index),
                    "subscription": {
                        "endpoint": format!("{}/mix/{}-{n}", ctx.fake_base, member.index),
                        "keys": {"p256dh": p256dh, "auth": auth},
                    },
                }))
        }
    };
    // The answer, read to its end.
    let answer = async {
        let res = request.send().await?;
        let status = res.status().as_u16();
        let cookie = refresh_cookie(res.headers());
        let body = res.bytes().await?;
        Ok::<_, reqwest::Error>((status, cookie, body))
    }
    .await;
    let (outcome, cookie, body) = match answer {
        Ok((status, cookie, body)) => (Outcome::Status(status), cookie, body),
        Err(e) => (outcome_of(&e), None, Bytes::new()),
    };
    let ok = outcome == Outcome::Status(route.expected());
    record(route, outcome);

    // The member's state follows the answer.
    match plan {
        Plan::Get(..) | Plan::CreateTask | Plan::Subscribe(_) => {}
        Plan::CreateSchedule => {
            if ok && let Some(id) = id_of(&body) {
                let mut st = member.st.lock().unwrap_or_else(|p| p.into_inner());
                st.todo.push(id);
                st.created += 1;
            }
        }
        Plan::Transition(r, id) => {
            if ok {
                let mut st = member.st.lock().unwrap_or_else(|p| p.into_inner());
                st.running = match r {
                    Route::Start | Route::Resume => Some((id, Run::InProgress)),
                    Route::Pause => Some((id, Run::Suspended)),
                    _ => None,
                };
                st.run_busy = false;
            } else {
                counters.repairs.fetch_add(1, Ordering::Relaxed);
                repair_run(ctx, member, id).await;
            }
        }
        Plan::Refresh(_) | Plan::Login => {
            let token = ok
                .then(|| serde_json::from_slice::<Value>(&body).ok())
                .flatten()
                .and_then(|v| v["token"].as_str().map(str::to_owned));
            let fresh = match (token, cookie) {
                (Some(t), Some(c)) => Some((t, c)),
                _ => {
                    counters.repairs.fetch_add(1, Ordering::Relaxed);
                    log_in(ctx, &member.username, &AtomicUsize::new(0))
                        .await
                        .ok()
                }
            };
            let mut st = member.st.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((t, c)) = fresh
                && let Ok(b) = bearer_value(&t)
            {
                st.bearer = b;
                st.refresh = c;
                st.token_at = Instant::now();
            }
            st.auth_busy = false;
        }
    }
}

/// Refreshes (not measured) the access token of every member whose token is older than `max_age`; returns how
/// many. Between steps only, so that no token expires inside one.
async fn refresh_stale(ctx: &Ctx, max_age: Duration) -> usize {
    let stale: Vec<&Member> = ctx
        .members
        .iter()
        .filter(|m| {
            let st = m.st.lock().unwrap_or_else(|p| p.into_inner());
            !st.auth_busy && st.token_at.elapsed() > max_age
        })
        .collect();
    let count = stale.len();
    futures::stream::iter(stale)
        .for_each_concurrent(16, |m| async move {
            let cookie =
                m.st.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .refresh
                    .clone();
            let refreshed = async {
                let res = ctx
                    .http
                    .post(ctx.url("/v0/refresh"))
                    .header(COOKIE, format!("refresh_token={cookie}"))
                    .send()
                    .await
                    .ok()?;
                if res.status() != 200 {
                    return None;
                }
                let cookie = refresh_cookie(res.headers())?;
                let v: Value = res.json().await.ok()?;
                Some((v["token"].as_str()?.to_owned(), cookie))
            }
            .await;
            let fresh = match refreshed {
                Some(f) => Some(f),
                None => log_in(ctx, &m.username, &AtomicUsize::new(0)).await.ok(),
            };
            if let Some((t, c)) = fresh
                && let Ok(b) = bearer_value(&t)
            {
                let mut st = m.st.lock().unwrap_or_else(|p| p.into_inner());
                st.bearer = b;
                st.refresh = c;
                st.token_at = Instant::now();
            }
        })
        .await;
    count
}

fn id_of(body: &[u8]) -> Option<i64> {
    serde_json::from_slice::<Value>(body).ok()?["id"].as_i64()
}

/// After a failed run-state change: reads the schedule (not measured) and sets the member's state from it.
async fn repair_run(ctx: &Ctx, member: &Member, id: i64) {
    let bearer = member
        .st
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .bearer
        .clone();
    let state = async {
        let res = ctx
            .http
            .get(ctx.url(&format!("/v2/schedules/{id}")))
            .header(AUTHORIZATION, bearer)
            .send()
            .await
            .ok()?;
        if res.status() != 200 {
            return None;
        }
        let v: Value = res.json().await.ok()?;
        v["state"].as_str().map(str::to_owned)
    }
    .await;
    let mut st = member.st.lock().unwrap_or_else(|p| p.into_inner());
    match state.as_deref() {
        Some("IN_PROGRESS") => st.running = Some((id, Run::InProgress)),
        Some("SUSPENDED") => st.running = Some((id, Run::Suspended)),
        Some(other) => {
            // NOT_STARTED or COMPLETED: it no longer holds the slot; a NOT_STARTED one may be started again.
            if st.running.map(|(r, _)| r) == Some(id) {
                st.running = None;
            }
            if other == "NOT_STARTED" {
                st.todo.push(id);
            }
        }
        // Unknown: leave the state as it was; the next change will tell.
        None => {}
    }
    st.run_busy = false;
}

// ------------------------------------------------------------------------------------------------------------
// A step: open-loop arrivals at one rate
// ------------------------------------------------------------------------------------------------------------

struct StepResult {
    mode: Mode,
    rate: u32,
    measured_secs: f64,
    started_at: Timestamp,
    offered: f64,
    achieved: f64,
    requests: usize,
    ok: usize,
    errors: usize,
    p50: f64,
    p90: f64,
    p99: f64,
    p999: f64,
    max: f64,
    errors_by: BTreeMap<(Route, Outcome), usize>,
    routes: Vec<RouteStats>,
    waited: u64,
    max_in_flight: usize,
    substituted: u64,
    repairs: u64,
    /// CPU seconds during the measured window, by process (or group).
    cpu: Vec<(&'static str, f64)>,
    /// Busy cores of the whole machine during the window (/proc/stat).
    machine_busy: f64,
    /// (process, VmRSS KiB at the step's end, VmHWM KiB).
    memory: Vec<(&'static str, u64, u64)>,
    load: String,
    pushes_due: usize,
}

struct RouteStats {
    route: Route,
    count: usize,
    errors: usize,
    p50: f64,
    p99: f64,
}

impl StepResult {
    fn passes(&self, limit_ms: f64) -> bool {
        self.errors == 0 && self.p99 < limit_ms && self.requests > 0
    }

    fn cores(&self, name: &str) -> f64 {
        self.cpu
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0.0, |(_, s)| s / self.measured_secs.max(1e-9))
    }

    fn progress_line(&self) -> String {
        format!(
            "[{}] {} req/s offered {:.0}/s achieved {:.0}/s: p50 {:.1} p90 {:.1} p99 {:.1} p99.9 {:.1} max {:.0} ms, \
             {} errors{}, waited {}, outstanding ≤ {}; CPU cores {}; machine {:.2}; load {} — {}",
            self.mode.name(),
            self.rate,
            self.offered,
            self.achieved,
            self.p50,
            self.p90,
            self.p99,
            self.p999,
            self.max,
            self.errors,
            if self.errors > 0 {
                format!(
                    " ({})",
                    self.errors_by
                        .iter()
                        .take(4)
                        .map(|((r, o), n)| format!("{} {}: {n}", r.label(), o.label()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                String::new()
            },
            self.waited,
            self.max_in_flight,
            self.cpu
                .iter()
                .map(|(n, s)| format!("{n} {:.2}", s / self.measured_secs.max(1e-9)))
                .collect::<Vec<_>>()
                .join(", "),
            self.machine_busy,
            self.load,
            if self.passes(LIMIT_MS) {
                "pass"
            } else {
                "FAIL"
            }
        )
    }
}

/// A push expected at the fake service: a push member's schedule starting inside a measured window.
#[derive(Clone)]
struct DuePush {
    device: String,
    schedule: i64,
    start: Timestamp,
    rate: u32,
}

#[allow(clippy::too_many_arguments)]
async fn run_step(
    args: &Args,
    ctx: &Arc<Ctx>,
    system: &System,
    mode: Mode,
    rate: u32,
    push_members: &[PushMember],
    per_step: usize,
    due: &mut Vec<DuePush>,
    rng: &mut Rng,
) -> Result<StepResult, BoxError> {
    let warmup = Duration::from_secs(args.warmup_secs);
    let measure = Duration::from_secs(args.step_secs);
    let lead = Duration::from_secs(1);
    // The step's clock: t0 (warm-up starts), w0..w1 (measured); the push schedules are made first, to start
    // inside the planned window.
    let prep = Instant::now();
    let planned_wall = Timestamp::now() + lead + warmup;
    // Push schedules at whole seconds inside the measured window.
    let mut step_due = Vec::new();
    if per_step > 0 {
        let window_us = measure.as_micros() as i64;
        for j in 0..per_step {
            let offset_us = window_us * (2 * j as i64 + 1) / (2 * per_step as i64);
            let at = planned_wall + SignedDuration::from_micros(offset_us);
            let start = Timestamp::from_second(at.as_second() + 1)?;
            let k = (due.len() + j) % push_members.len();
            let pm = &push_members[k];
            let token = pm.token(ctx).await?;
            let local = start.to_zoned_datetime(ctx.tz.clone());
            let body = json!({
                "title": format!("push check {}", due.len() + j),
                "date": {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S").to_string(), "zoneId": ZONE},
                "scheduleType": "DEEP_WORK",
            });
            match create(ctx, &token, "/v2/schedules", &body, &AtomicUsize::new(0)).await {
                Ok(id) => step_due.push(DuePush {
                    device: k.to_string(),
                    schedule: id,
                    start,
                    rate,
                }),
                Err(e) => eprintln!("   could not create a push schedule: {e}"),
            }
        }
    }
    // Late when making the push schedules took longer than the lead: the window moves, nothing is sent in a burst.
    let t0 = (prep + lead).max(Instant::now());
    let w0 = t0 + warmup;
    let w1 = w0 + measure;
    let started_at = Timestamp::now();

    let counters = Arc::new(StepCounters::default());
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::new(Mutex::new(Vec::with_capacity(
        (rate as usize) * (args.step_secs as usize + 1),
    )));
    // CPU at the window's edges.
    let cpu_task = {
        let pids: Vec<(&'static str, u32)> =
            system.procs.iter().map(|p| (p.name, p.pid())).collect();
        let prefix = system.db_prefix.clone();
        let distributed = system.mode == Mode::Distributed;
        tokio::spawn(async move {
            tokio::time::sleep_until(w0.into()).await;
            let (p, d) = (pids.clone(), prefix.clone());
            let before =
                tokio::task::spawn_blocking(move || CpuSnap::take(&p, &d, distributed)).await;
            tokio::time::sleep_until(w1.into()).await;
            let after =
                tokio::task::spawn_blocking(move || CpuSnap::take(&pids, &prefix, distributed))
                    .await;
            match (before, after) {
                (Ok(b), Ok(a)) => Some(a.since(&b)),
                _ => None,
            }
        })
    };

    // Open loop: each arrival at its intended time, whatever the answers do.
    let rate_f = f64::from(rate);
    let mut t = t0;
    let mut scheduled_in_window = 0usize;
    loop {
        let gap = match args.arrivals {
            Arrivals::Poisson => -rng.unit().ln() / rate_f,
            Arrivals::Uniform => 1.0 / rate_f,
        };
        t += Duration::from_secs_f64(gap);
        if t >= w1 {
            break;
        }
        if t > Instant::now() {
            tokio::time::sleep_until(t.into()).await;
        }
        let measured = t >= w0;
        if measured {
            scheduled_in_window += 1;
        }
        let member = rng.below(ctx.members.len() as u64) as usize;
        let seed = rng.next_u64();
        let intended = t;
        let ctx = ctx.clone();
        let counters = counters.clone();
        let samples = samples.clone();
        let n = counters.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        counters.max_in_flight.fetch_max(n, Ordering::Relaxed);
        tokio::spawn(async move {
            let permit = match ctx.connections.clone().try_acquire_owned() {
                Ok(p) => Ok(p),
                Err(_) => {
                    if measured {
                        counters.waited.fetch_add(1, Ordering::Relaxed);
                    }
                    ctx.connections.clone().acquire_owned().await
                }
            };
            let member = &ctx.members[member];
            one_request(&ctx, member, seed, &counters, |route, outcome| {
                if measured {
                    let s = Sample {
                        intended,
                        done: Instant::now(),
                        route,
                        outcome,
                    };
                    samples.lock().unwrap_or_else(|p| p.into_inner()).push(s);
                }
            })
            .await;
            drop(permit);
            counters.in_flight.fetch_sub(1, Ordering::Relaxed);
        });
    }
    // Every request sent gets its answer (or its timeout).
    let drain_deadline = Instant::now() + Duration::from_secs(args.timeout_secs + 30);
    while counters.in_flight.load(Ordering::Relaxed) > 0 && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cpu = cpu_task.await.ok().flatten().unwrap_or_default();
    let memory = system
        .procs
        .iter()
        .map(|p| {
            let (rss, hwm) = memory_of(p.pid());
            (p.name, rss, hwm)
        })
        .collect();
    let samples = std::mem::take(&mut *samples.lock().unwrap_or_else(|p| p.into_inner()));
    let measured_secs = measure.as_secs_f64();
    let pushes_due = step_due.len();
    due.extend(step_due);
    Ok(summarise(
        mode,
        rate,
        measured_secs,
        started_at,
        scheduled_in_window,
        w0,
        &samples,
        &counters,
        cpu,
        memory,
        pushes_due,
    ))
}

#[allow(clippy::too_many_arguments)]
fn summarise(
    mode: Mode,
    rate: u32,
    measured_secs: f64,
    started_at: Timestamp,
    scheduled: usize,
    w0: Instant,
    samples: &[Sample],
    counters: &StepCounters,
    cpu: CpuUse,
    memory: Vec<(&'static str, u64, u64)>,
    pushes_due: usize,
) -> StepResult {
    let latency = |s: &Sample| s.done.saturating_duration_since(s.intended).as_secs_f64() * 1000.0;
    let mut all: Vec<f64> = samples.iter().map(latency).collect();
    all.sort_by(f64::total_cmp);
    let ok: Vec<&Sample> = samples.iter().filter(|s| s.ok()).collect();
    // Achieved: answers of the window's requests per second, over the window or until the last of them came back.
    let last_done = ok
        .iter()
        .map(|s| s.done.saturating_duration_since(w0).as_secs_f64())
        .fold(measured_secs, f64::max);
    let mut errors_by = BTreeMap::new();
    for s in samples.iter().filter(|s| !s.ok()) {
        *errors_by.entry((s.route, s.outcome)).or_insert(0) += 1;
    }
    let mut by_route: BTreeMap<Route, Vec<f64>> = BTreeMap::new();
    let mut route_errors: BTreeMap<Route, usize> = BTreeMap::new();
    for s in samples {
        by_route.entry(s.route).or_default().push(latency(s));
        if !s.ok() {
            *route_errors.entry(s.route).or_default() += 1;
        }
    }
    let routes = by_route
        .into_iter()
        .map(|(route, mut v)| {
            v.sort_by(f64::total_cmp);
            RouteStats {
                route,
                count: v.len(),
                errors: route_errors.get(&route).copied().unwrap_or(0),
                p50: pct(&v, 50.0),
                p99: pct(&v, 99.0),
            }
        })
        .collect();
    let cpu_list = cpu.by_process;
    StepResult {
        mode,
        rate,
        measured_secs,
        started_at,
        offered: scheduled as f64 / measured_secs,
        achieved: ok.len() as f64 / last_done,
        requests: samples.len(),
        ok: ok.len(),
        errors: samples.len() - ok.len() + scheduled.saturating_sub(samples.len()),
        p50: pct(&all, 50.0),
        p90: pct(&all, 90.0),
        p99: pct(&all, 99.0),
        p999: pct(&all, 99.9),
        max: all.last().copied().unwrap_or(0.0),
        errors_by,
        routes,
        waited: counters.waited.load(Ordering::Relaxed),
        max_in_flight: counters.max_in_flight.load(Ordering::Relaxed),
        substituted: counters.substituted.load(Ordering::Relaxed),
        repairs: counters.repairs.load(Ordering::Relaxed),
        cpu: cpu_list,
        machine_busy: cpu.machine_busy,
        memory,
        load: load_average(),
        pushes_due,
    }
}

/// Percentile `p` of sorted values (nearest rank).
fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

// ------------------------------------------------------------------------------------------------------------
// CPU and memory (Linux /proc)
// ------------------------------------------------------------------------------------------------------------

/// utime + stime of a `/proc/<pid>/stat` (clock ticks).
fn ticks_of_pid(pid: &str) -> Option<u64> {
    ticks_of(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// (VmRSS, VmHWM) in KiB.
fn memory_of(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[derive(Default)]
struct CpuSnap {
    procs: Vec<(&'static str, u64)>,
    postgres: HashMap<u32, u64>,
    rabbitmq: HashMap<u32, u64>,
    own: u64,
    fakepush: u64,
    machine_busy: u64,
    machine_total: u64,
}

#[derive(Default)]
struct CpuUse {
    by_process: Vec<(&'static str, f64)>,
    machine_busy: f64,
}

impl CpuSnap {
    /// `prefix`: PostgreSQL backends whose title names one of our databases count, with the server's own
    /// processes (no client in the title); other databases' backends do not.
    fn take(procs: &[(&'static str, u32)], prefix: &str, distributed: bool) -> CpuSnap {
        let mut s = CpuSnap::default();
        for (name, pid) in procs {
            s.procs
                .push((name, ticks_of_pid(&pid.to_string()).unwrap_or(0)));
        }
        s.own = ticks_of_pid("self").unwrap_or(0);
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            for t in tasks.flatten() {
                let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
                if comm.starts_with("fakepush") {
                    s.fakepush += std::fs::read_to_string(t.path().join("stat"))
                        .ok()
                        .and_then(|st| ticks_of(&st))
                        .unwrap_or(0);
                }
            }
        }
        if distributed && let Ok(entries) = std::fs::read_dir("/proc") {
            for p in entries.flatten() {
                let Some(pid) = p.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                    continue;
                };
                let comm = std::fs::read_to_string(p.path().join("comm")).unwrap_or_default();
                let comm = comm.trim();
                if comm != "postgres" && comm != "beam.smp" {
                    continue;
                }
                let Some(ticks) = ticks_of_pid(&pid.to_string()) else {
                    continue;
                };
                if comm == "beam.smp" {
                    s.rabbitmq.insert(pid, ticks);
                    continue;
                }
                let title = String::from_utf8_lossy(
                    &std::fs::read(p.path().join("cmdline")).unwrap_or_default(),
                )
                .into_owned();
                let client = title.contains('(') || title.contains("[local]");
                if title.contains(prefix) || !client {
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

    /// CPU seconds since `before` (clock ticks at 100 Hz, Linux's USER_HZ).
    fn since(&self, before: &CpuSnap) -> CpuUse {
        let hz = 100.0;
        let delta = |now: u64, then: u64| now.saturating_sub(then) as f64 / hz;
        let mut by_process: Vec<(&'static str, f64)> = self
            .procs
            .iter()
            .map(|(name, t)| {
                let then = before
                    .procs
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(0, |(_, b)| *b);
                (*name, delta(*t, then))
            })
            .collect();
        let group = |now: &HashMap<u32, u64>, then: &HashMap<u32, u64>| {
            now.iter()
                .map(|(pid, t)| t.saturating_sub(then.get(pid).copied().unwrap_or(0)))
                .sum::<u64>() as f64
                / hz
        };
        if !self.postgres.is_empty() || !self.rabbitmq.is_empty() {
            by_process.push(("PostgreSQL", group(&self.postgres, &before.postgres)));
            by_process.push(("RabbitMQ", group(&self.rabbitmq, &before.rabbitmq)));
        }
        let fake = delta(self.fakepush, before.fakepush);
        by_process.push((
            "load generator",
            (delta(self.own, before.own) - fake).max(0.0),
        ));
        by_process.push(("fake push", fake));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let total = self.machine_total.saturating_sub(before.machine_total) as f64;
        let busy = self.machine_busy.saturating_sub(before.machine_busy) as f64;
        CpuUse {
            by_process,
            machine_busy: if total > 0.0 {
                busy / total * cores
            } else {
                0.0
            },
        }
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn git_commit() -> Option<String> {
    let out = Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=7"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

// ------------------------------------------------------------------------------------------------------------
// The fake Web Push service
// ------------------------------------------------------------------------------------------------------------

/// A subscription key pair: the browser's private key and auth secret.
struct DeviceKey {
    secret: SecretKey,
    auth: [u8; 16],
}

impl DeviceKey {
    fn generate() -> DeviceKey {
        let secret = SecretKey::generate_from_rng(&mut rand::rng());
        let mut auth = [0u8; 16];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut auth);
        DeviceKey { secret, auth }
    }

    fn p256dh_b64(&self) -> String {
        B64.encode(self.secret.public_key().to_sec1_bytes())
    }
}

struct Arrival {
    device: String,
    schedule: i64,
    at: Timestamp,
    verified: bool,
}

#[derive(Default)]
struct FakePush {
    /// The push members' devices by the path id.
    devices: Mutex<HashMap<String, DeviceKey>>,
    arrivals: Mutex<Vec<Arrival>>,
    /// Pushes to the devices the mix registered (not checked).
    mix: AtomicU64,
}

impl FakePush {
    async fn serve(state: Arc<FakePush>) -> Result<String, BoxError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let router = Router::new()
            .route("/push/{device}", post(receive))
            .route("/mix/{device}", post(receive_mix))
            .with_state(state);
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                eprintln!("fake push service stopped: {e}");
            }
        });
        Ok(base)
    }
}

async fn receive(
    State(s): State<Arc<FakePush>>,
    UrlPath(device): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let at = Timestamp::now();
    let schedule = headers
        .get("topic")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix("schedule-"))
        .and_then(|n| n.parse::<i64>().ok())
        .unwrap_or(-1);
    let verified = {
        let devices = s.devices.lock().unwrap_or_else(|p| p.into_inner());
        devices.get(&device).is_some_and(|key| {
            ece::decrypt(&body, &key.secret, &key.auth)
                .ok()
                .and_then(|plain| serde_json::from_slice::<Value>(&plain).ok())
                .is_some_and(|p| p["scheduleId"].as_str() == Some(schedule.to_string().as_str()))
        })
    };
    s.arrivals
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Arrival {
            device,
            schedule,
            at,
            verified,
        });
    StatusCode::CREATED
}

async fn receive_mix(State(s): State<Arc<FakePush>>) -> StatusCode {
    s.mix.fetch_add(1, Ordering::Relaxed);
    StatusCode::CREATED
}

#[derive(Default)]
struct PushTally {
    due: usize,
    arrived: usize,
    within_1s: usize,
    /// Lateness of each first arrival (ms), sorted.
    lateness: Vec<f64>,
    duplicates: usize,
    unverified: usize,
    /// (rate, schedule, start, lateness ms of the first arrival, copies) per due push.
    rows: Vec<(u32, i64, Timestamp, Option<f64>, usize)>,
}

impl PushTally {
    fn of(due: &[DuePush], fake: &FakePush) -> PushTally {
        let arrivals = fake.arrivals.lock().unwrap_or_else(|p| p.into_inner());
        let mut by_key: HashMap<(&str, i64), Vec<&Arrival>> = HashMap::new();
        for a in arrivals.iter() {
            by_key
                .entry((a.device.as_str(), a.schedule))
                .or_default()
                .push(a);
        }
        let mut t = PushTally {
            due: due.len(),
            ..PushTally::default()
        };
        for d in due {
            let got = by_key.get(&(d.device.as_str(), d.schedule));
            let copies = got.map_or(0, Vec::len);
            let first = got.and_then(|v| v.iter().map(|a| a.at).min());
            let late = first.map(|at| at.duration_since(d.start).as_secs_f64() * 1000.0);
            if let Some(ms) = late {
                t.arrived += 1;
                t.lateness.push(ms);
                if ms <= 1000.0 {
                    t.within_1s += 1;
                }
            }
            t.duplicates += copies.saturating_sub(1);
            t.unverified += got.map_or(0, |v| v.iter().filter(|a| !a.verified).count());
            t.rows.push((d.rate, d.schedule, d.start, late, copies));
        }
        t.lateness.sort_by(f64::total_cmp);
        t
    }

    fn max_ms(&self) -> f64 {
        self.lateness.last().copied().unwrap_or(0.0)
    }

    fn met(&self) -> bool {
        self.due > 0 && self.within_1s == self.due && self.duplicates == 0 && self.unverified == 0
    }
}

// ------------------------------------------------------------------------------------------------------------
// The report: markdown, CSV/JSON, SVG
// ------------------------------------------------------------------------------------------------------------

struct Report<'a> {
    args: &'a Args,
    results: &'a [ModeResult],
    started_at: Timestamp,
    took: Duration,
    load_before: String,
    load_after: String,
    /// What the run did about PostgreSQL's autovacuum (distributed mode only).
    autovacuum: Option<&'static str>,
    commit: Option<String>,
}

/// The knee: the highest rate whose step and every lower step passed (p99 < `limit`, no error).
/// The history table of whole-system runs (one row per run with `--out`, appended; old rows stay).
const HISTORY_MARKER: &str = "load-history";
const HISTORY_HEADER: &str =
    "| run (UTC) | commit | machine: cores, 1-min load before | embedded knee: req/s (p99 ms) | \
distributed knee: req/s (p99 ms) | p99 < 50 ms up to: embedded / distributed |
|---|---|---|---|---|---|";

fn knee(steps: &[StepResult], limit: f64) -> Option<&StepResult> {
    steps.iter().take_while(|s| s.passes(limit)).last()
}

fn n0(v: f64) -> String {
    let v = v.round() as i64;
    let s = v.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0 { format!("-{out}") } else { out }
}

fn ms1(v: f64) -> String {
    if v >= 100.0 { n0(v) } else { format!("{v:.1}") }
}

fn verdict(met: bool) -> &'static str {
    if met { "**met**" } else { "**not met**" }
}

impl Report<'_> {
    /// This run's line in the history table ([`HISTORY_HEADER`]); "—" for a mode not run.
    fn history_row(&self) -> String {
        let of = |mode: Mode| self.results.iter().find(|r| r.mode == mode);
        let knee_text = |mode: Mode| match of(mode) {
            None => "—".to_string(),
            Some(r) => knee(&r.steps, LIMIT_MS).map_or("none".into(), |s| {
                format!("{} ({})", n0(f64::from(s.rate)), ms1(s.p99))
            }),
        };
        let tight = |mode: Mode| match of(mode) {
            None => "—".to_string(),
            Some(r) => knee(&r.steps, TIGHT_MS).map_or("none".into(), |s| n0(f64::from(s.rate))),
        };
        format!(
            "| {} | {} | {}, {} | {} | {} | {} / {} |",
            self.started_at.strftime("%Y-%m-%d %H:%M"),
            self.commit.as_deref().unwrap_or("?"),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            self.load_before,
            knee_text(Mode::Embedded),
            knee_text(Mode::Distributed),
            tight(Mode::Embedded),
            tight(Mode::Distributed),
        )
    }

    fn markdown(&self, artifacts: Option<&Path>, out: Option<&Path>) -> String {
        let a = self.args;
        let mut md = String::new();
        let cmd = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let _ = writeln!(
            md,
            "<!-- generated by `cargo run --release -p pinit-bench --bin load -- {cmd}` -->\n"
        );
        let _ = writeln!(
            md,
            "Run {} ({} min), commit {}, release binary `{}`; machine: {cores} cores, 1-min load average {} before \
             and {} after (each step's is in its table). {} members ({} tasks and {} schedules over the week \
             each) plus {} push members; open loop, {} arrivals, {} s warm-up + {} s measured per step; latency \
             from each request's intended send time to the answer's last byte. Rate limits raised for the one \
             client IP (gateway per-IP bucket and auth per-IP windows at 1,000,000), not disabled.\n",
            self.started_at.strftime("%Y-%m-%d %H:%M UTC"),
            (self.took.as_secs_f64() / 60.0).round(),
            self.commit.as_deref().unwrap_or("?"),
            match &self.args.pinit {
                Some(p) => p.display().to_string(),
                None => "target/release/pinit".into(),
            },
            self.load_before,
            self.load_after,
            a.members,
            a.tasks_per_member,
            a.schedules_per_member,
            if a.pushes > 0 { a.push_members } else { 0 },
            match a.arrivals {
                Arrivals::Poisson => "Poisson",
                Arrivals::Uniform => "uniform",
            },
            a.warmup_secs,
            a.step_secs,
        );
        if let Some(note) = self.autovacuum {
            let _ = writeln!(
                md,
                "Distributed mode: {note}; the seeded databases are vacuumed and analysed before the first step.\n"
            );
        }
        // The summary.
        md.push_str("| target | figure | |\n|---|---|---|\n");
        for r in self.results {
            let (limit, target, label) = match r.mode {
                Mode::Embedded => (
                    TIGHT_MS,
                    3000.0,
                    "embedded: ≥ 3,000 req/s at p99 < 50 ms, 0 errors",
                ),
                Mode::Distributed => (
                    LIMIT_MS,
                    1500.0,
                    "distributed: ≥ 1,500 req/s at p99 < 100 ms, 0 errors",
                ),
            };
            let k = knee(&r.steps, limit);
            let figure = match k {
                Some(s) => format!(
                    "**{} req/s** (p99 {} ms, achieved {}/s)",
                    n0(f64::from(s.rate)),
                    ms1(s.p99),
                    n0(s.achieved)
                ),
                None => format!("no step passed (p99 < {limit:.0} ms, 0 errors)"),
            };
            let met = k.is_some_and(|s| f64::from(s.rate) >= target);
            let _ = writeln!(md, "| {label} | {figure} | {} |", verdict(met));
        }
        for r in self.results {
            let p = &r.pushes;
            if a.pushes == 0 {
                continue;
            }
            let _ = writeln!(
                md,
                "| {}: every push due during the run within 1 s, exactly once | {} due, {} arrived, {} within 1 s; \
                 lateness p50 {} / p99 {} / max {} ms; {} duplicates{} | {} |",
                r.mode.name(),
                p.due,
                p.arrived,
                p.within_1s,
                ms1(pct(&p.lateness, 50.0)),
                ms1(pct(&p.lateness, 99.0)),
                ms1(p.max_ms()),
                p.duplicates,
                if p.unverified > 0 {
                    format!(
                        ", {} payloads not decrypted to their schedule",
                        p.unverified
                    )
                } else {
                    String::new()
                },
                verdict(p.met())
            );
        }
        md.push('\n');
        for r in self.results {
            let k100 = knee(&r.steps, LIMIT_MS);
            let k50 = knee(&r.steps, TIGHT_MS);
            let _ = writeln!(
                md,
                "- **{}**: knee (p99 < 100 ms, 0 errors) {}; p99 < 50 ms up to {}.{}",
                r.mode.name(),
                k100.map_or("none".into(), |s| format!(
                    "**{} req/s** — p50 / p99 / p99.9 {} / {} / {} ms, CPU {}, RSS {}",
                    n0(f64::from(s.rate)),
                    ms1(s.p50),
                    ms1(s.p99),
                    ms1(s.p999),
                    cpu_text(s),
                    rss_text(s)
                )),
                k50.map_or("none".into(), |s| format!(
                    "{} req/s",
                    n0(f64::from(s.rate))
                )),
                if r.warnings > 0 {
                    format!(
                        " The processes logged {} warnings or errors (first: `{}`).",
                        r.warnings,
                        r.first_problems
                            .first()
                            .map(|l| l.replace('`', "'"))
                            .unwrap_or_default()
                            .chars()
                            .take(200)
                            .collect::<String>()
                    )
                } else {
                    " No warning or error was logged.".into()
                }
            );
        }
        if let Some(dir) = artifacts {
            let rel = |p: &Path| match out.and_then(|o| o.parent()) {
                Some(base) => p
                    .strip_prefix(base)
                    .map(|r| r.display().to_string())
                    .unwrap_or_else(|_| p.display().to_string()),
                None => p.display().to_string(),
            };
            let svg = dir.join("load-latency.svg");
            let _ = writeln!(
                md,
                "\n![Latency percentiles against offered load, both modes]({})\n\nRaw data: `{}` (steps.csv, \
                 routes.csv, errors.csv, pushes.csv, run.json).",
                rel(&svg),
                rel(&dir.join("load"))
            );
        }
        let _ = writeln!(
            md,
            "\nThe mix, per mille: today's schedules 260, the week 120, tasks page 100, statistics 40, plan 40, \
             create task 50, create schedule 80 (a day of the coming year), a run-state change 270 (start when \
             nothing runs, else pause or complete 1:1, resume when paused), refresh 30 (and whenever a token is \
             4 min old), login 5, register a push device 5. Errors are any other status than the route's \
             200/201/204, timeouts ({} s) and connection errors.",
            a.timeout_secs
        );
        for r in self.results {
            let _ = writeln!(md, "\n### {}\n", r.mode.title());
            let _ = writeln!(
                md,
                "Seeded in {:.0} s ({} requests); {}. {} pushes to the devices the mix registered (not checked).\n",
                r.seeding.as_secs_f64(),
                r.seeded_requests,
                match r.settled {
                    Some(d) => format!(
                        "its events were absorbed {:.0} s later (a canary schedule's push arrived)",
                        d.as_secs_f64()
                    ),
                    None if a.pushes > 0 =>
                        "its events were **not** absorbed within --settle-secs".into(),
                    None => "no canary (no push members)".into(),
                },
                r.mix_pushes
            );
            let procs: Vec<&'static str> = r
                .steps
                .first()
                .map(|s| s.cpu.iter().map(|(n, _)| *n).collect())
                .unwrap_or_default();
            let mems: Vec<&'static str> = r
                .steps
                .first()
                .map(|s| s.memory.iter().map(|(n, _, _)| *n).collect())
                .unwrap_or_default();
            let _ = writeln!(
                md,
                "| offered req/s | achieved | p50 | p90 | p99 | p99.9 | max ms | errors | waited for a connection | \
                 CPU cores: {} | machine busy cores | RSS MiB at the end (peak): {} | load avg | |",
                procs.join(" / "),
                mems.join(" / ")
            );
            let _ = writeln!(md, "|{}", "---:|".repeat(13) + "---|");
            for s in &r.steps {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {} | {} | {} |",
                    n0(s.offered),
                    n0(s.achieved),
                    ms1(s.p50),
                    ms1(s.p90),
                    ms1(s.p99),
                    ms1(s.p999),
                    ms1(s.max),
                    s.errors,
                    s.waited,
                    s.cpu
                        .iter()
                        .map(|(_, c)| format!("{:.2}", c / s.measured_secs.max(1e-9)))
                        .collect::<Vec<_>>()
                        .join(" / "),
                    s.machine_busy,
                    s.memory
                        .iter()
                        .map(|(_, rss, hwm)| format!(
                            "{:.0} ({:.0})",
                            *rss as f64 / 1024.0,
                            *hwm as f64 / 1024.0
                        ))
                        .collect::<Vec<_>>()
                        .join(" / "),
                    s.load,
                    if s.passes(TIGHT_MS) {
                        "< 50 ms"
                    } else if s.passes(LIMIT_MS) {
                        "< 100 ms"
                    } else {
                        "fails"
                    }
                );
            }
            let errors: BTreeMap<(u32, Route, Outcome), usize> = r
                .steps
                .iter()
                .flat_map(|s| {
                    s.errors_by
                        .iter()
                        .map(move |((route, o), n)| ((s.rate, *route, *o), *n))
                })
                .collect();
            if !errors.is_empty() {
                let _ = writeln!(
                    md,
                    "\nErrors by step, route and status: {}.",
                    errors
                        .iter()
                        .map(|((rate, route, o), n)| format!(
                            "{rate}/s `{}` {}: {n}",
                            route.label(),
                            o.label()
                        ))
                        .collect::<Vec<_>>()
                        .join("; ")
                );
            }
            // Per route at the knee (else the first step).
            if let Some(s) = knee(&r.steps, LIMIT_MS).or(r.steps.first()) {
                let _ = writeln!(
                    md,
                    "\nBy route at {} req/s: {}.",
                    n0(f64::from(s.rate)),
                    s.routes
                        .iter()
                        .map(|x| format!(
                            "{} {} × p50 {} p99 {} ms",
                            x.route.label(),
                            x.count,
                            ms1(x.p50),
                            ms1(x.p99)
                        ))
                        .collect::<Vec<_>>()
                        .join("; ")
                );
            }
        }
        md
    }

    fn write_data(&self, dir: &Path) -> Result<(), BoxError> {
        let data = dir.join("load");
        std::fs::create_dir_all(&data)?;
        let names = [
            "serve",
            "gateway",
            "auth",
            "task",
            "notification",
            "PostgreSQL",
            "RabbitMQ",
            "load generator",
            "fake push",
        ];
        let mut steps = String::from(
            "mode,rate,started_at,measured_s,offered_rps,achieved_rps,requests,ok,errors,p50_ms,p90_ms,p99_ms,\
             p999_ms,max_ms,waited_for_connection,max_outstanding,substituted,repairs,pushes_due,load1,machine_busy_cores",
        );
        for n in names {
            let _ = write!(steps, ",cpu_s_{}", n.replace(' ', "_").to_lowercase());
        }
        for n in &names[..5] {
            let _ = write!(steps, ",rss_kib_{n},hwm_kib_{n}");
        }
        steps.push('\n');
        let mut routes = String::from("mode,rate,route,count,errors,p50_ms,p99_ms\n");
        let mut errors = String::from("mode,rate,route,status,count\n");
        let mut pushes = String::from("mode,rate,schedule_id,start,lateness_ms,copies\n");
        for r in self.results {
            for s in &r.steps {
                let _ = write!(
                    steps,
                    "{},{},{},{},{:.1},{:.1},{},{},{},{:.3},{:.3},{:.3},{:.3},{:.3},{},{},{},{},{},{},{:.3}",
                    r.mode.name(),
                    s.rate,
                    s.started_at,
                    s.measured_secs,
                    s.offered,
                    s.achieved,
                    s.requests,
                    s.ok,
                    s.errors,
                    s.p50,
                    s.p90,
                    s.p99,
                    s.p999,
                    s.max,
                    s.waited,
                    s.max_in_flight,
                    s.substituted,
                    s.repairs,
                    s.pushes_due,
                    s.load,
                    s.machine_busy
                );
                for n in names {
                    match s.cpu.iter().find(|(p, _)| *p == n) {
                        Some((_, c)) => {
                            let _ = write!(steps, ",{c:.2}");
                        }
                        None => steps.push(','),
                    }
                }
                for n in &names[..5] {
                    match s.memory.iter().find(|(p, _, _)| p == n) {
                        Some((_, rss, hwm)) => {
                            let _ = write!(steps, ",{rss},{hwm}");
                        }
                        None => steps.push_str(",,"),
                    }
                }
                steps.push('\n');
                for x in &s.routes {
                    let _ = writeln!(
                        routes,
                        "{},{},\"{}\",{},{},{:.3},{:.3}",
                        r.mode.name(),
                        s.rate,
                        x.route.label(),
                        x.count,
                        x.errors,
                        x.p50,
                        x.p99
                    );
                }
                for ((route, o), n) in &s.errors_by {
                    let _ = writeln!(
                        errors,
                        "{},{},\"{}\",{},{n}",
                        r.mode.name(),
                        s.rate,
                        route.label(),
                        o.label()
                    );
                }
            }
            for (rate, schedule, start, late, copies) in &r.pushes.rows {
                let _ = writeln!(
                    pushes,
                    "{},{rate},{schedule},{start},{},{copies}",
                    r.mode.name(),
                    late.map(|l| format!("{l:.1}")).unwrap_or_default()
                );
            }
        }
        std::fs::write(data.join("steps.csv"), steps)?;
        std::fs::write(data.join("routes.csv"), routes)?;
        std::fs::write(data.join("errors.csv"), errors)?;
        std::fs::write(data.join("pushes.csv"), pushes)?;
        let run = json!({
            "started_at": self.started_at.to_string(),
            "took_s": self.took.as_secs_f64().round(),
            "commit": self.commit,
            "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "load_before": self.load_before,
            "load_after": self.load_after,
            "autovacuum": self.autovacuum,
            "args": std::env::args().skip(1).collect::<Vec<_>>(),
            "mix_per_mille": MIX.iter().map(|(p, w)| json!([match p { Pick::Route(r) => r.label(), Pick::Transition => "run-state change" }, w])).collect::<Vec<_>>(),
            "modes": self.results.iter().map(|r| json!({
                "mode": r.mode.name(),
                "knee_rps": knee(&r.steps, LIMIT_MS).map(|s| s.rate),
                "p99_under_50ms_up_to_rps": knee(&r.steps, TIGHT_MS).map(|s| s.rate),
                "seeding_s": r.seeding.as_secs_f64(),
                "seeding_absorbed_after_s": r.settled.map(|d| d.as_secs_f64()),
                "warnings_logged": r.warnings,
                "pushes": {
                    "due": r.pushes.due,
                    "arrived": r.pushes.arrived,
                    "within_1s": r.pushes.within_1s,
                    "max_lateness_ms": r.pushes.max_ms(),
                    "duplicates": r.pushes.duplicates,
                    "unverified": r.pushes.unverified,
                    "mix_pushes": r.mix_pushes,
                },
            })).collect::<Vec<_>>(),
        });
        std::fs::write(
            data.join("run.json"),
            serde_json::to_string_pretty(&run)? + "\n",
        )?;
        Ok(())
    }
}

fn cpu_text(s: &StepResult) -> String {
    s.cpu
        .iter()
        .map(|(n, _)| format!("{n} {:.2}", s.cores(n)))
        .collect::<Vec<_>>()
        .join(", ")
        + " cores"
}

fn rss_text(s: &StepResult) -> String {
    s.memory
        .iter()
        .map(|(n, rss, hwm)| {
            format!(
                "{n} {:.0} MiB (peak {:.0})",
                *rss as f64 / 1024.0,
                *hwm as f64 / 1024.0
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// p50 / p99 / p99.9 against offered load, both modes on one chart, log-scale latency, the 50 and 100 ms lines.
fn plot(results: &[ModeResult], path: &Path) -> Result<(), BoxError> {
    use plotters::prelude::*;
    let xmax = results
        .iter()
        .flat_map(|r| r.steps.iter().map(|s| s.offered))
        .fold(100.0, f64::max)
        * 1.05;
    let lows = results
        .iter()
        .flat_map(|r| r.steps.iter().map(|s| s.p50))
        .fold(f64::INFINITY, f64::min);
    let highs = results
        .iter()
        .flat_map(|r| r.steps.iter().map(|s| s.p999))
        .fold(200.0, f64::max);
    let ymin = if lows.is_finite() {
        (lows * 0.7).clamp(0.05, 10.0)
    } else {
        0.1
    };
    let ymax = (highs * 1.5).min(60_000.0);
    let root = SVGBackend::new(path, (960, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Pinit under mixed load: latency against offered load",
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..xmax, (ymin..ymax).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("offered load (requests/s)")
        .y_desc("latency (ms, log scale)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| {
            if *y >= 1.0 {
                format!("{y:.0}")
            } else {
                format!("{y:.1}")
            }
        })
        .label_style(("sans-serif", 14))
        .draw()?;
    for (limit, label) in [(TIGHT_MS, "50 ms"), (LIMIT_MS, "100 ms")] {
        let style = ShapeStyle::from(&RGBColor(120, 120, 120)).stroke_width(1);
        chart.draw_series(DashedLineSeries::new(
            vec![(0.0, limit), (xmax, limit)],
            6u32,
            4u32,
            style,
        ))?;
        chart.draw_series(std::iter::once(Text::new(
            label,
            (xmax * 0.94, limit * 1.06),
            ("sans-serif", 13).into_font().color(&RGBColor(90, 90, 90)),
        )))?;
    }
    let colors = [RGBColor(31, 119, 180), RGBColor(214, 39, 40)];
    for r in results.iter().filter(|r| !r.steps.is_empty()) {
        let color = colors[match r.mode {
            Mode::Embedded => 0,
            Mode::Distributed => 1,
        }];
        type Series = (&'static str, fn(&StepResult) -> f64, u32);
        let series: [Series; 3] = [
            ("p50", |s| s.p50, 1),
            ("p99", |s| s.p99, 3),
            ("p99.9", |s| s.p999, 2),
        ];
        for (name, value, width) in series {
            let points: Vec<(f64, f64)> = r
                .steps
                .iter()
                .map(|s| (s.offered, value(s).max(ymin)))
                .collect();
            let style = ShapeStyle::from(&color).stroke_width(width);
            let label = format!("{} {name}", r.mode.name());
            if name == "p99.9" {
                chart
                    .draw_series(DashedLineSeries::new(points.clone(), 8u32, 5u32, style))?
                    .label(label)
                    .legend(move |(x, y)| {
                        plotters::element::DashedPathElement::new(
                            vec![(x, y), (x + 24, y)],
                            6u32,
                            3u32,
                            style,
                        )
                    });
            } else {
                chart
                    .draw_series(LineSeries::new(points.clone(), style))?
                    .label(label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
            }
            chart.draw_series(
                points
                    .iter()
                    .map(|&p| Circle::new(p, width + 1, ShapeStyle::from(&color).filled())),
            )?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font(("sans-serif", 13))
        .draw()?;
    root.present()?;
    Ok(())
}
