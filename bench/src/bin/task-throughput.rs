//! Task service throughput: schedule create + start + complete through the real use cases
//! (`pinit_task::TaskApp`, outbox included) against PostgreSQL, compared in the same run with pgbench
//! running the same SQL transactions (`bench/pgbench/schedule_lifecycle.sql`).
//!
//! `cargo run --release -p pinit-bench --bin task-throughput -- --out docs/benchmarks.md`
//!
//! * A fresh database `pinit_bench_task_<pid>` is created on the server (trust auth), migrated with
//!   `pinit_task::MIGRATIONS` as owner `task`, and dropped at the end (`--keep-db` keeps it).
//! * Members are provisioned through `TaskApp::provision` (the SQL of the `member.created` handler):
//!   `--members-per-client` for each client slot, client `c` owning ids `c·M+1 ..= c·M+M`.
//! * One sequence = `create_schedule` + `start_schedule` + `complete_schedule` for one member (three
//!   transactions, each locking the member row, recording its event in the outbox and sending `NOTIFY`).
//!   No relay runs: the events stay in `messaging_outbox`, as pgbench's rows do.
//! * Saturation sweep, per client count C: C workers, each running sequences back to back on random
//!   members of its own id range (so the member lock and the running slot never serialise two
//!   workers); pgbench runs the script with the same C, `-M prepared`, the same member ranges. Ours and
//!   pgbench alternate for `--rounds` rounds (the order flipping every time) so background load hits
//!   both; tables are truncated and a `CHECKPOINT` taken before every measurement.
//! * Half load: R = half of ours' peak TPS, issued open loop (Poisson arrivals of rate R whatever the
//!   latency, as pgbench `-R` schedules; latency counted from the scheduled instant, so queueing is
//!   included), pool size = the
//!   peak's client count; pgbench `-R R` with that client count on the same SQL; then both again with
//!   `NOTIFY` debounced (ours: `outbox::set_notify_min_interval`, the `relay.notify_min_interval`
//!   setting; pgbench: the script without its `NOTIFY` lines).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use jiff::{SignedDuration, Timestamp};
use pinit_bench::{Rng, ms, percentile};
use pinit_kernel::config::{ConnectionUrl, DatabasePoolConfig};
use pinit_kernel::{Db, SharedClock, SystemClock};
use pinit_messaging::Outbox;
use pinit_task::TaskApp;
use pinit_task::app::MemberProvisioning;
use pinit_task::domain::{Description, MemberId, ScheduleDraft, ScheduleType, Title};
use sqlx::{Connection, Executor, PgConnection};
use tokio::task::JoinSet;

const SECTION: &str = "## Task service: schedule lifecycle vs pgbench";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Schedule create + start + complete (pinit-task use cases) vs pgbench on the same SQL.
#[derive(Parser, Debug, Clone)]
#[command(name = "task-throughput", version)]
struct Args {
    /// PostgreSQL server (no database part); a database is created on it and dropped at the end.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    server: String,
    /// Client counts of the saturation sweep (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16")]
    clients: Vec<usize>,
    /// Seconds per closed-loop measurement (each of ours and pgbench, each round).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Rounds per client count (ours and pgbench alternate within each).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds per half-load (rate-limited) measurement.
    #[arg(long, default_value_t = 15)]
    half_load_seconds: u64,
    /// Rounds of the half-load measurements.
    #[arg(long, default_value_t = 2)]
    half_load_rounds: usize,
    /// NOTIFY debounce of the second half-load variant, in ms (0 skips that variant).
    #[arg(long, default_value_t = 50)]
    debounce_ms: u64,
    /// Members per client slot (each worker picks among its own).
    #[arg(long, default_value_t = 100)]
    members_per_client: i64,
    /// Connection pool size of ours in the sweep (default: the client count, like pgbench's connections).
    #[arg(long)]
    pool: Option<u32>,
    /// The pgbench binary.
    #[arg(long, default_value = "pgbench")]
    pgbench: String,
    /// The pgbench script (default: bench/pgbench/schedule_lifecycle.sql of this crate).
    #[arg(long)]
    script: Option<PathBuf>,
    /// pgbench worker threads (`-j`, capped at the client count).
    #[arg(long, default_value_t = 2)]
    pgbench_threads: usize,
    /// Skip pgbench (ours only).
    #[arg(long)]
    no_pgbench: bool,
    /// Skip the half-load measurement.
    #[arg(long)]
    no_half_load: bool,
    /// Markdown file to write the results into: the block between the task-throughput markers is
    /// replaced, or a new section is appended (the file is created if missing). Default: stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep the benchmark database instead of dropping it.
    #[arg(long)]
    keep_db: bool,
    /// Log every statement of the benchmark database in the server log (`log_statement = 'all'`), to
    /// check the pgbench script against what the use cases send; use with a short run.
    #[arg(long)]
    log_statements: bool,
}

/// One measurement: its latencies, how long it ran, its errors, its throughput.
#[derive(Debug, Clone, Default)]
struct Measurement {
    samples: Vec<Duration>,
    errors: usize,
    tps: f64,
    /// Client CPU time (ours: this process; pgbench: the child) spent on the measurement.
    cpu: Duration,
}

impl Measurement {
    fn new(samples: Vec<Duration>, elapsed: Duration, errors: usize, cpu: Duration) -> Self {
        Self {
            tps: samples.len() as f64 / elapsed.as_secs_f64().max(f64::EPSILON),
            samples,
            errors,
            cpu,
        }
    }
}

/// Rounds of one configuration merged: mean TPS (with the rounds' range), percentiles of all samples.
#[derive(Debug, Clone, Copy, Default)]
struct Summary {
    tps: f64,
    tps_min: f64,
    tps_max: f64,
    errors: usize,
    /// Client CPU time per sequence.
    cpu_per_seq: Duration,
    p50: Duration,
    p95: Duration,
    p99: Duration,
    max: Duration,
}

impl Summary {
    fn of(rounds: &[Measurement]) -> Self {
        let mut samples: Vec<Duration> = rounds
            .iter()
            .flat_map(|m| m.samples.iter().copied())
            .collect();
        samples.sort();
        let tps: Vec<f64> = rounds.iter().map(|m| m.tps).collect();
        Self {
            tps: tps.iter().sum::<f64>() / tps.len().max(1) as f64,
            tps_min: tps.iter().copied().fold(f64::INFINITY, f64::min),
            tps_max: tps.iter().copied().fold(0.0, f64::max),
            errors: rounds.iter().map(|m| m.errors).sum(),
            cpu_per_seq: rounds.iter().map(|m| m.cpu).sum::<Duration>()
                / u32::try_from(samples.len().max(1)).unwrap_or(u32::MAX),
            p50: percentile(&samples, 50.0),
            p95: percentile(&samples, 95.0),
            p99: percentile(&samples, 99.0),
            max: samples.last().copied().unwrap_or_default(),
        }
    }

    fn throughput(&self) -> String {
        let errors = if self.errors > 0 {
            format!(" ({} errors)", self.errors)
        } else {
            String::new()
        };
        if self.tps_max - self.tps_min >= 1.0 {
            format!(
                "{:.0} ({:.0}–{:.0}){errors}",
                self.tps, self.tps_min, self.tps_max
            )
        } else {
            format!("{:.0}{errors}", self.tps)
        }
    }

    fn latencies(&self) -> String {
        format!(
            "{:.1} / {:.1} / {:.1}",
            ms(self.p50),
            ms(self.p95),
            ms(self.p99)
        )
    }
}

struct Row {
    clients: usize,
    ours: Summary,
    pgbench: Option<Summary>,
    load: String,
}

/// CPU time used so far by this process (`own`) and by its waited-for children (pgbench), from
/// `/proc/self/stat` (clock ticks of 10 ms, Linux's USER_HZ).
fn cpu_times() -> (Duration, Duration) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (Duration::ZERO, Duration::ZERO);
    };
    // Fields after the `(comm)`: state is field 3; utime, stime, cutime, cstime are 14–17.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    let ticks = |v: &[u64]| Duration::from_millis(10 * v.iter().sum::<u64>());
    if f.len() < 4 {
        return (Duration::ZERO, Duration::ZERO);
    }
    (ticks(&f[0..2]), ticks(&f[2..4]))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn draft() -> Result<ScheduleDraft, BoxError> {
    Ok(ScheduleDraft::new(
        Title::parse("bench schedule")?,
        Description::parse("task-throughput benchmark")?,
        ScheduleType::DeepWork,
        Timestamp::now()
            .checked_add(SignedDuration::from_hours(24))?
            .round(jiff::Unit::Microsecond)?,
    ))
}

/// One sequence for `member`: create, start, complete.
async fn sequence(app: &TaskApp, member: MemberId, draft: &ScheduleDraft) -> Result<(), BoxError> {
    let stored = app.create_schedule(member, draft.clone()).await?;
    let id = stored.schedule.id();
    app.start_schedule(member, id, None).await?;
    app.complete_schedule(member, id, None).await?;
    Ok(())
}

/// Which `NOTIFY` behaviour a measurement uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notify {
    /// Every recording transaction sends `NOTIFY` (`relay.notify_min_interval = 0s`).
    Every,
    /// At most one `NOTIFY` per interval from ours; none from pgbench.
    Debounced(Duration),
}

/// One configuration of the half-load phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HalfRun {
    Ours(Notify),
    Pgbench(Notify),
    /// pgbench, one client, a one-row update per transaction: what one commit costs right now.
    CommitFloor,
}

struct Bench {
    args: Args,
    db_name: String,
    db_url: String,
    script: PathBuf,
    /// The script without its `NOTIFY` lines.
    script_without_notify: PathBuf,
    /// One single-row `UPDATE` per transaction: the commit latency floor of the server.
    commit_script: PathBuf,
    _scratch: tempfile::TempDir,
    app: TaskApp,
}

impl Bench {
    async fn admin(&self) -> Result<PgConnection, BoxError> {
        Ok(PgConnection::connect(&self.db_url).await?)
    }

    /// Empties what a measurement writes, frees every running slot, and checkpoints.
    async fn reset(&self) -> Result<(), BoxError> {
        let mut conn = self.admin().await?;
        // One statement per call: VACUUM refuses the implicit transaction of a multi-statement query.
        for statement in [
            "TRUNCATE schedule, statistics, messaging_outbox",
            "UPDATE member SET now_running_schedule_id = NULL WHERE now_running_schedule_id IS NOT NULL",
            "VACUUM ANALYZE member",
            "CHECKPOINT",
        ] {
            conn.execute(statement).await?;
        }
        conn.close().await?;
        Ok(())
    }

    /// The use cases over a pool of `pool` connections; their outbox sends `NOTIFY` at most once per
    /// `notify_every` (zero: on every commit).
    async fn app_with_pool(&self, pool: u32, notify_every: Duration) -> Result<TaskApp, BoxError> {
        let url = ConnectionUrl::parse(&self.db_url)?;
        let db = pinit_bench::connect(&url, pool).await?;
        // Open every connection before the clock starts (pgbench connects first too).
        let mut held = Vec::new();
        for _ in 0..pool {
            held.push(db.pool().acquire().await?);
        }
        drop(held);
        let clock: SharedClock = SystemClock::shared();
        Ok(TaskApp::new(
            db,
            clock.clone(),
            Outbox::new(clock, notify_every),
        ))
    }

    /// Closed loop: `clients` workers, each running sequences back to back for `--seconds`.
    async fn ours_closed(&self, clients: usize) -> Result<Measurement, BoxError> {
        let pool = self.args.pool.unwrap_or(clients as u32);
        let app = self.app_with_pool(pool, Duration::ZERO).await?;
        let m = self.args.members_per_client;
        let (cpu_before, _) = cpu_times();
        let started = Instant::now();
        let deadline = started + Duration::from_secs(self.args.seconds);
        let mut workers = JoinSet::new();
        for c in 0..clients {
            let app = app.clone();
            let draft = draft()?;
            let seed = Timestamp::now().as_nanosecond() as u64 ^ ((c as u64) << 32);
            workers.spawn(async move {
                let mut rng = Rng(seed);
                let mut samples = Vec::new();
                let mut errors = 0usize;
                while Instant::now() < deadline {
                    let member = MemberId(c as i64 * m + rng.pick(m));
                    let t = Instant::now();
                    match sequence(&app, member, &draft).await {
                        Ok(()) => samples.push(t.elapsed()),
                        Err(e) => {
                            errors += 1;
                            if errors <= 3 {
                                eprintln!("  worker {c}: {e}");
                            }
                        }
                    }
                }
                (samples, errors)
            });
        }
        let mut samples = Vec::new();
        let mut errors = 0;
        while let Some(done) = workers.join_next().await {
            let (s, e) = done?;
            samples.extend(s);
            errors += e;
        }
        let elapsed = started.elapsed();
        let cpu = cpu_times().0.saturating_sub(cpu_before);
        app.db().close().await;
        Ok(Measurement::new(samples, elapsed, errors, cpu))
    }

    /// Open loop: sequences arrive as a Poisson process of `rate` per second (exponential gaps, like
    /// pgbench `-R`), each on an idle member; latency from the scheduled instant.
    async fn ours_open(
        &self,
        rate: f64,
        pool: u32,
        notify: Notify,
    ) -> Result<Measurement, BoxError> {
        let every = match notify {
            Notify::Debounced(every) => every,
            Notify::Every => Duration::ZERO,
        };
        let app = self.app_with_pool(pool, every).await?;
        let members = self.members();
        let idle: Arc<Mutex<VecDeque<i64>>> = Arc::new(Mutex::new((1..=members).collect()));
        let draft = Arc::new(draft()?);
        let duration = Duration::from_secs(self.args.half_load_seconds);
        let mut rng = Rng(Timestamp::now().as_nanosecond() as u64 ^ 0xA11CE);
        let (cpu_before, _) = cpu_times();
        let started = tokio::time::Instant::now();
        let end = started + duration;
        let mut scheduled = started;
        let mut running = JoinSet::new();
        let mut starved = 0usize;
        loop {
            scheduled += Duration::from_secs_f64(-rng.unit().ln() / rate);
            if scheduled >= end {
                break;
            }
            tokio::time::sleep_until(scheduled).await;
            let Some(member) = idle.lock().map_err(|_| "poisoned")?.pop_front() else {
                starved += 1;
                continue;
            };
            let (app, idle, draft) = (app.clone(), Arc::clone(&idle), Arc::clone(&draft));
            running.spawn(async move {
                let result = sequence(&app, MemberId(member), &draft).await;
                let latency = scheduled.elapsed();
                if let Ok(mut idle) = idle.lock() {
                    idle.push_back(member);
                }
                result.map(|()| latency).map_err(|e| e.to_string())
            });
        }
        let mut samples = Vec::new();
        let mut errors = starved;
        while let Some(done) = running.join_next().await {
            match done? {
                Ok(latency) => samples.push(latency),
                Err(e) => {
                    errors += 1;
                    if errors <= 3 {
                        eprintln!("  open loop: {e}");
                    }
                }
            }
        }
        let elapsed = started.elapsed();
        let cpu = cpu_times().0.saturating_sub(cpu_before);
        app.db().close().await;
        Ok(Measurement::new(samples, elapsed, errors, cpu))
    }

    fn members(&self) -> i64 {
        self.args.clients.iter().copied().max().unwrap_or(1) as i64 * self.args.members_per_client
    }

    /// The lifecycle script: as is, or without its `NOTIFY` lines.
    fn lifecycle_script(&self, notify: Notify) -> &Path {
        match notify {
            Notify::Every => &self.script,
            Notify::Debounced(_) => &self.script_without_notify,
        }
    }

    /// pgbench running `script` with `clients` connections for `seconds` (throttled to `rate`
    /// scripts/s if given); TPS as pgbench reports it, latency percentiles from its per-transaction log.
    async fn pgbench(
        &self,
        clients: usize,
        rate: Option<f64>,
        script: &Path,
        seconds: u64,
    ) -> Result<Measurement, BoxError> {
        let logs = tempfile::tempdir()?;
        let prefix = logs.path().join("pgbench_log");
        let mut cmd = tokio::process::Command::new(&self.args.pgbench);
        cmd.arg("-n")
            .args(["-M", "prepared"])
            .args(["-c", &clients.to_string()])
            .args([
                "-j",
                &self.args.pgbench_threads.clamp(1, clients).to_string(),
            ])
            .args(["-T", &seconds.to_string()])
            .args(["-D", &format!("members={}", self.args.members_per_client)])
            .arg("-f")
            .arg(script)
            .arg("--log")
            .arg(format!("--log-prefix={}", prefix.display()));
        if let Some(rate) = rate {
            cmd.args(["-R", &format!("{rate:.1}")]);
        }
        cmd.arg(&self.db_url)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let (_, children_before) = cpu_times();
        let out = cmd.output().await?;
        let cpu = cpu_times().1.saturating_sub(children_before);
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "pgbench failed ({}): {}{}",
                out.status,
                stdout,
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        let field = |prefix: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(prefix))
                .and_then(|l| l.split_whitespace().next())
                .map(str::to_owned)
        };
        let tps: f64 = field("tps = ")
            .ok_or_else(|| format!("no `tps = ` line in pgbench output: {stdout}"))?
            .parse()?;
        let failed: usize = field("number of failed transactions: ")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let mut samples = Vec::new();
        for entry in std::fs::read_dir(logs.path())? {
            let text = std::fs::read_to_string(entry?.path())?;
            // client_id transaction_no time(µs) script_no epoch µs [schedule_lag]
            samples.extend(
                text.lines()
                    .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok())
                    .map(Duration::from_micros),
            );
        }
        Ok(Measurement {
            samples,
            errors: failed,
            tps,
            cpu,
        })
    }
}

async fn server_facts(db_url: &str) -> Result<String, BoxError> {
    let mut conn = PgConnection::connect(db_url).await?;
    let mut facts = Vec::new();
    for setting in [
        "server_version",
        "shared_buffers",
        "synchronous_commit",
        "fsync",
        "wal_sync_method",
    ] {
        let value: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SHOW {setting}")))
            .fetch_one(&mut conn)
            .await?;
        facts.push(format!("{setting} {value}"));
    }
    conn.close().await?;
    Ok(facts.join(", "))
}

fn with_db(server: &str, db: &str) -> String {
    format!("{}/{db}", server.trim_end_matches('/'))
}

async fn setup(args: &Args, db_name: &str) -> Result<Bench, BoxError> {
    let script = args.script.clone().unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("pgbench/schedule_lifecycle.sql")
    });
    let scratch = tempfile::tempdir()?;
    let script_without_notify = scratch.path().join("schedule_lifecycle_without_notify.sql");
    let text = std::fs::read_to_string(&script)
        .map_err(|e| format!("cannot read {}: {e}", script.display()))?;
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("NOTIFY"))
        .collect();
    std::fs::write(&script_without_notify, kept.join("\n") + "\n")?;
    let commit_script = scratch.path().join("one_commit.sql");
    std::fs::write(
        &commit_script,
        "\\set mid random(1, :members)\nBEGIN;\n\
         UPDATE member SET updated_at_us = updated_at_us + 1 WHERE member_id = :mid;\nCOMMIT;\n",
    )?;

    let db_url = with_db(&args.server, db_name);
    {
        let mut admin = PgConnection::connect(&with_db(&args.server, "postgres")).await?;
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db_name}")))
            .await?;
        if args.log_statements {
            admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "ALTER DATABASE {db_name} SET log_statement = 'all'"
                )))
                .await?;
        }
        admin.close().await?;
    }
    let url = ConnectionUrl::parse(&db_url)?;
    let db = Db::connect(&url, &DatabasePoolConfig::default()).await?;
    db.migrate(pinit_task::NAME, pinit_task::MIGRATIONS).await?;
    let clock: SharedClock = SystemClock::shared();
    let app = TaskApp::new(db, clock.clone(), Outbox::new(clock, Duration::ZERO));
    let bench = Bench {
        args: args.clone(),
        db_name: db_name.to_owned(),
        db_url,
        script,
        script_without_notify,
        commit_script,
        _scratch: scratch,
        app,
    };
    for id in 1..=bench.members() {
        bench
            .app
            .provision(&MemberProvisioning {
                member: MemberId(id),
                nickname: Some(format!("bench{id}")),
                zone_id: Some("Asia/Seoul".into()),
            })
            .await?;
    }
    Ok(bench)
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "not met" }
}

async fn run(bench: &Bench) -> Result<String, BoxError> {
    let args = &bench.args;
    let facts = server_facts(&bench.db_url).await?;
    let load_start = load_average();
    eprintln!("database {} ({facts}); load {load_start}", bench.db_name);
    let mut rows = Vec::new();
    let mut flip = false;
    for &clients in &args.clients {
        let load = load_average();
        let (mut ours, mut pg) = (Vec::new(), Vec::new());
        for _ in 0..args.rounds.max(1) {
            flip = !flip;
            for pgbench_turn in [!flip, flip] {
                if pgbench_turn && args.no_pgbench {
                    continue;
                }
                bench.reset().await?;
                if pgbench_turn {
                    let script = bench.lifecycle_script(Notify::Every);
                    pg.push(bench.pgbench(clients, None, script, args.seconds).await?);
                } else {
                    ours.push(bench.ours_closed(clients).await?);
                }
            }
        }
        let ours = Summary::of(&ours);
        let pg = (!pg.is_empty()).then(|| Summary::of(&pg));
        eprintln!(
            "c={clients:>2}: ours {} seq/s p99 {:.1} ms; pgbench {} (load {load})",
            ours.throughput(),
            ms(ours.p99),
            pg.map(|p| format!("{} seq/s p99 {:.1} ms", p.throughput(), ms(p.p99)))
                .unwrap_or_else(|| "-".into()),
        );
        rows.push(Row {
            clients,
            ours,
            pgbench: pg,
            load,
        });
    }
    let best_ours = rows
        .iter()
        .max_by(|a, b| a.ours.tps.total_cmp(&b.ours.tps))
        .ok_or("no client counts")?;
    let best_pg = rows
        .iter()
        .filter_map(|r| r.pgbench.map(|p| (r.clients, p)))
        .max_by(|a, b| a.1.tps.total_cmp(&b.1.tps));

    // Half load: ours and pgbench at the same rate, NOTIFY as is and debounced, plus the commit floor;
    // the configurations take turns within each round, starting one later every round.
    let rate = best_ours.ours.tps / 2.0;
    let pool = args.pool.unwrap_or(best_ours.clients as u32);
    let mut configs = vec![HalfRun::Ours(Notify::Every)];
    if !args.no_pgbench {
        configs.push(HalfRun::Pgbench(Notify::Every));
    }
    if args.debounce_ms > 0 {
        let debounced = Notify::Debounced(Duration::from_millis(args.debounce_ms));
        configs.push(HalfRun::Ours(debounced));
        if !args.no_pgbench {
            configs.push(HalfRun::Pgbench(debounced));
        }
    }
    if !args.no_pgbench {
        configs.push(HalfRun::CommitFloor);
    }
    let mut runs: Vec<(HalfRun, Vec<Measurement>)> =
        configs.iter().map(|&c| (c, Vec::new())).collect();
    if !args.no_half_load {
        for round in 0..args.half_load_rounds.max(1) {
            for k in 0..runs.len() {
                let i = (k + round) % runs.len();
                let config = runs[i].0;
                bench.reset().await?;
                let seconds = args.half_load_seconds;
                let m = match config {
                    HalfRun::Ours(notify) => bench.ours_open(rate, pool, notify).await?,
                    HalfRun::Pgbench(notify) => {
                        let script = bench.lifecycle_script(notify);
                        bench
                            .pgbench(best_ours.clients, Some(rate), script, seconds)
                            .await?
                    }
                    HalfRun::CommitFloor => {
                        bench
                            .pgbench(1, None, &bench.commit_script, seconds)
                            .await?
                    }
                };
                eprintln!(
                    "half load {rate:.0}/s, {config:?}: {:.0}/s p99 {:.1} ms",
                    m.tps,
                    ms(Summary::of(std::slice::from_ref(&m)).p99)
                );
                runs[i].1.push(m);
            }
        }
    }
    let half: Vec<(HalfRun, Summary, String)> = if args.no_half_load {
        Vec::new()
    } else {
        runs.iter()
            .map(|(c, m)| {
                let per_round: Vec<String> = m
                    .iter()
                    .map(|r| format!("{:.1}", ms(Summary::of(std::slice::from_ref(r)).p99)))
                    .collect();
                (*c, Summary::of(m), per_round.join(", "))
            })
            .collect()
    };
    let load_end = load_average();

    let mut md = String::new();
    let cmd = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    writeln!(
        md,
        "Generated by `cargo run --release -p pinit-bench --bin task-throughput -- {cmd}` on {} \
         ({} CPUs; PostgreSQL: {facts}; 1-min load average {load_start} at the start, {load_end} at \
         the end). Sweep: {} rounds × {} s per point for each side, alternating; pool = client \
         count{}; {} members per client; pgbench `-M prepared -j {}`. Latency = one whole sequence \
         (three transactions).\n",
        Timestamp::now().strftime("%Y-%m-%d %H:%M UTC"),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        args.rounds,
        args.seconds,
        args.pool
            .map(|p| format!(" (overridden: {p})"))
            .unwrap_or_default(),
        args.members_per_client,
        args.pgbench_threads,
    )?;
    md.push_str(
        "| clients | ours seq/s (rounds' range) | ours p50 / p95 / p99 ms | pgbench seq/s (range) \
         | pgbench p50 / p95 / p99 ms | ours / pgbench | client CPU ms/seq ours / pgbench | load avg |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in &rows {
        let (pg_tps, pg_lat, ratio, pg_cpu) = match r.pgbench {
            Some(p) => (
                p.throughput(),
                p.latencies(),
                format!("{:.0} %", 100.0 * r.ours.tps / p.tps.max(f64::EPSILON)),
                format!("{:.2}", ms(p.cpu_per_seq)),
            ),
            None => ("-".into(), "-".into(), "-".into(), "-".into()),
        };
        writeln!(
            md,
            "| {} | {} | {} | {pg_tps} | {pg_lat} | {ratio} | {:.2} / {pg_cpu} | {} |",
            r.clients,
            r.ours.throughput(),
            r.ours.latencies(),
            ms(r.ours.cpu_per_seq),
            r.load
        )?;
    }
    md.push('\n');
    if !half.is_empty() {
        writeln!(
            md,
            "Half load: {rate:.0} sequences/s (half of ours' peak), Poisson arrivals, open loop, for {} rounds × \
             {} s; ours with a pool of {pool}, pgbench `-R {rate:.0}` with {} clients. Latency from \
             each sequence's scheduled start (queueing included, as pgbench counts under `-R`).\n",
            args.half_load_rounds, args.half_load_seconds, best_ours.clients,
        )?;
        md.push_str(
            "| half load | NOTIFY | completed/s (rounds' range) | p50 / p95 / p99 ms | p99 per round ms | max ms |\n\
             |---|---|---:|---:|---:|---:|\n",
        );
        for (config, summary, per_round) in &half {
            let (who, notify) = match config {
                HalfRun::Ours(Notify::Every) => ("ours", "every commit".to_owned()),
                HalfRun::Ours(Notify::Debounced(d)) => {
                    ("ours", format!("≤ 1 per {} ms", d.as_millis()))
                }
                HalfRun::Pgbench(Notify::Every) => ("pgbench", "every commit".to_owned()),
                HalfRun::Pgbench(Notify::Debounced(_)) => ("pgbench", "none".to_owned()),
                HalfRun::CommitFloor => (
                    "floor: one 1-row `UPDATE` + `COMMIT`, pgbench, 1 client, closed loop",
                    "-".to_owned(),
                ),
            };
            writeln!(
                md,
                "| {who} | {notify} | {} | {} | {per_round} | {:.1} |",
                summary.throughput(),
                summary.latencies(),
                ms(summary.max)
            )?;
        }
        md.push('\n');
    }
    match best_pg {
        Some((pg_clients, pg)) => {
            let ratio = best_ours.ours.tps / pg.tps.max(f64::EPSILON);
            writeln!(
                md,
                "- **Saturation:** ours peaks at **{:.0} sequences/s** ({} clients), pgbench at \
                 **{:.0}/s** ({pg_clients} clients): **{:.0} %** of pgbench — target ≥ 50 %: **{}**.",
                best_ours.ours.tps,
                best_ours.clients,
                pg.tps,
                100.0 * ratio,
                verdict(ratio >= 0.5),
            )?;
        }
        None => writeln!(
            md,
            "- **Saturation:** ours peaks at **{:.0} sequences/s** ({} clients); pgbench not run.",
            best_ours.ours.tps, best_ours.clients
        )?,
    }
    let find = |wanted: HalfRun| {
        half.iter()
            .find(|(c, _, _)| *c == wanted)
            .map(|(_, s, _)| *s)
    };
    // The target is judged on what ships: `relay.notify_min_interval`'s default (ADR 0003).
    let shipped = match pinit_messaging::RelayConfig::default()
        .notify_min_interval
        .get()
    {
        d if d.is_zero() => Notify::Every,
        d => Notify::Debounced(d),
    };
    let ours_runs = half.iter().filter_map(|(c, s, _)| match c {
        HalfRun::Ours(variant) => Some((*variant, *s)),
        _ => None,
    });
    for (variant, ours) in ours_runs {
        let label = match variant {
            Notify::Every => "`NOTIFY` on every commit".to_owned(),
            Notify::Debounced(d) => format!("`NOTIFY` at most every {} ms", d.as_millis()),
        };
        writeln!(
            md,
            "- **Half load, {label}{}:** ours p99 **{:.1} ms** at {rate:.0}/s{}{} — target p99 < 20 ms: **{}**.",
            if variant == shipped {
                " (the shipped default)"
            } else {
                ""
            },
            ms(ours.p99),
            find(HalfRun::Pgbench(variant))
                .map(|p| format!(
                    "; pgbench on the same SQL{} at the same rate: {:.1} ms",
                    if variant == Notify::Every {
                        ""
                    } else {
                        " without `NOTIFY`"
                    },
                    ms(p.p99)
                ))
                .unwrap_or_default(),
            find(HalfRun::CommitFloor)
                .map(|f| format!("; a single commit alone: p99 {:.1} ms", ms(f.p99)))
                .unwrap_or_default(),
            verdict(ours.p99 < Duration::from_millis(20) && ours.errors == 0),
        )?;
    }
    Ok(md)
}

/// Replaces the generated block of `path` (or appends the section; creates the file if missing).
#[tokio::main]
async fn main() -> Result<(), BoxError> {
    pinit_bench::allocator_as_shipped();
    let args = Args::parse();
    if args.clients.is_empty() || args.clients.contains(&0) {
        return Err("--clients needs positive counts".into());
    }
    let db_name = format!("pinit_bench_task_{}", std::process::id());
    let result = match setup(&args, &db_name).await {
        Ok(bench) => {
            let result = run(&bench).await;
            bench.app.db().close().await;
            result
        }
        Err(e) => Err(e),
    };
    if args.keep_db {
        eprintln!("kept database {db_name}");
    } else {
        let mut admin = PgConnection::connect(&with_db(&args.server, "postgres")).await?;
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"
            )))
            .await?;
        admin.close().await?;
    }
    let block = result?;
    match &args.out {
        Some(path) => {
            pinit_bench::write_between_markers(path, "task-throughput", SECTION, &block)?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{block}"),
    }
    Ok(())
}
