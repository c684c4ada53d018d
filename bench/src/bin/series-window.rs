//! Repeating schedules at scale: N members, each with a series every weekday at 09:00 (in their own zone, Seoul),
//! through the real use cases (`pinit_task::TaskApp`, outbox included) on PostgreSQL. Measured:
//!
//! * creating the series — each makes its first occurrence and the next 15 days (about 11 schedules and their
//!   `schedule.time.upcoming.updated` events);
//! * the rolling job one day (and one ten-minute step) later (`TaskApp::roll_series_window`: every series is
//!   visited once and makes the day that entered the window) and ten minutes after that (nothing to visit: the
//!   cost of the idle look);
//! * reading a member's week (`GET /v2/schedules/week` without HTTP: `schedules_within`), which first checks
//!   that the week's occurrences exist.
//!
//! `cargo run --release -p pinit-bench --bin series-window -- --members 100000 --out docs/benchmarks.md`
//!
//! A fresh database `pinit_bench_series_<pid>` is created on the server (trust auth) and dropped at the end. The
//! clock is a manual one, so "a day later" needs no waiting. No relay runs: the events stay in the outbox.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use jiff::{SignedDuration, Timestamp};
use pinit_bench::{ms, percentile};
use pinit_kernel::config::{ConnectionUrl, DatabasePoolConfig, HumanDuration};
use pinit_kernel::{Db, ManualClock, SharedClock};
use pinit_messaging::Outbox;
use pinit_task::TaskApp;
use pinit_task::app::MemberProvisioning;
use pinit_task::domain::recurrence::Rule;
use pinit_task::domain::{
    Description, MemberId, Recurrence, ScheduleType, SeriesSpec, Title, Window, Zone,
};
use sqlx::{Connection, Executor, PgConnection};
use tokio::task::JoinSet;

const SECTION: &str = "## Repeating schedules: the rolling window";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser, Debug, Clone)]
#[command(name = "series-window", version)]
struct Args {
    /// PostgreSQL server (no database part); a database is created on it and dropped at the end.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    server: String,
    /// Members, each with one weekday series.
    #[arg(long, default_value_t = 100_000)]
    members: i64,
    /// Concurrent workers creating series and reading weeks.
    #[arg(long, default_value_t = 8)]
    workers: i64,
    /// Week reads measured (members picked evenly).
    #[arg(long, default_value_t = 2_000)]
    reads: i64,
    /// Write the report into this markdown file (between its markers); print it otherwise.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep the database.
    #[arg(long)]
    keep_db: bool,
}

fn with_db(server: &str, db: &str) -> String {
    format!("{}/{db}", server.trim_end_matches('/'))
}

fn spec() -> Result<SeriesSpec, BoxError> {
    Ok(SeriesSpec {
        title: Title::parse("딥워크")?,
        description: Description::parse("아침 집중")?,
        schedule_type: ScheduleType::DeepWork,
        start: jiff::civil::date(2026, 12, 7).at(9, 0, 0, 0),
        zone: Zone::parse("Asia/Seoul")?,
        recurrence: Recurrence {
            rrule: "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR".into(),
            rule: Rule::parse("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR")?,
            exdates: Vec::new(),
            rdates: Vec::new(),
        },
        planned: None,
    })
}

/// Runs `work(member)` for members 1..=n on `workers` tasks; returns each call's duration.
async fn each_member<F, Fut>(n: i64, workers: i64, work: F) -> Result<Vec<Duration>, BoxError>
where
    F: Fn(i64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), BoxError>> + Send,
{
    let work = Arc::new(work);
    let mut set = JoinSet::new();
    for w in 0..workers {
        let work = work.clone();
        set.spawn(async move {
            let mut times = Vec::new();
            let mut m = w + 1;
            while m <= n {
                let t = Instant::now();
                work(m).await?;
                times.push(t.elapsed());
                m += workers;
            }
            Ok::<_, BoxError>(times)
        });
    }
    let mut all = Vec::new();
    while let Some(done) = set.join_next().await {
        all.extend(done??);
    }
    all.sort();
    Ok(all)
}

async fn count(db: &Db, sql: &str) -> Result<i64, BoxError> {
    Ok(
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(db.pool())
            .await?,
    )
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    pinit_bench::allocator_as_shipped();
    let args = Args::parse();
    let db_name = format!("pinit_bench_series_{}", std::process::id());
    let mut admin = PgConnection::connect(&with_db(&args.server, "postgres")).await?;
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db_name}")))
        .await?;
    let url = ConnectionUrl::parse(&with_db(&args.server, &db_name))?;
    let result = run(&args, &url).await;
    if !args.keep_db {
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"
            )))
            .await?;
    }
    let block = result?;
    match &args.out {
        Some(path) => {
            pinit_bench::write_between_markers(path, "series-window", SECTION, &block)?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{block}"),
    }
    Ok(())
}

async fn run(args: &Args, url: &ConnectionUrl) -> Result<String, BoxError> {
    let db = Db::connect(
        url,
        &DatabasePoolConfig {
            max_connections: u32::try_from(args.workers).unwrap_or(8) + 2,
            acquire_timeout: HumanDuration::from_secs(30),
            ..Default::default()
        },
    )
    .await?;
    db.migrate(pinit_task::NAME, pinit_task::MIGRATIONS).await?;
    // Sunday 2026-12-06 23:00 UTC: Monday 08:00 in Seoul, the series start at 09:00.
    let clock = ManualClock::new("2026-12-06T23:00:00Z".parse::<Timestamp>()?);
    let shared: SharedClock = clock.clone();
    let app = TaskApp::new(
        db.clone(),
        shared.clone(),
        Outbox::new(shared, Duration::ZERO),
    );
    let n = args.members;

    eprintln!("provisioning {n} members");
    let provision = {
        let app = app.clone();
        each_member(n, args.workers, move |m| {
            let app = app.clone();
            async move {
                app.provision(&MemberProvisioning {
                    member: MemberId(m),
                    nickname: Some(format!("m{m}")),
                    zone_id: Some("Asia/Seoul".into()),
                })
                .await?;
                Ok(())
            }
        })
        .await?
    };
    drop(provision);

    eprintln!("creating {n} series");
    let started = Instant::now();
    let create = {
        let app = app.clone();
        let spec = spec()?;
        each_member(n, args.workers, move |m| {
            let (app, spec) = (app.clone(), spec.clone());
            async move {
                app.create_series(MemberId(m), spec).await?;
                Ok(())
            }
        })
        .await?
    };
    let create_wall = started.elapsed();
    let made_at_create = count(&db, "SELECT COUNT(*) FROM schedule").await?;

    eprintln!("rolling one day later");
    // A series is made 15 days ahead and visited again once it is less than 14 ahead: a day and a step later.
    clock.advance(SignedDuration::from_hours(24) + SignedDuration::from_mins(10));
    let started = Instant::now();
    let day = app.roll_series_window().await?;
    let roll_wall = started.elapsed();
    clock.advance(SignedDuration::from_mins(10));
    let started = Instant::now();
    let idle = app.roll_series_window().await?;
    let idle_wall = started.elapsed();

    eprintln!("reading {} weeks", args.reads);
    let step = (n / args.reads.max(1)).max(1);
    let reads = {
        let app = app.clone();
        let zone = Zone::parse("Asia/Seoul")?;
        let window = Window::week(jiff::civil::date(2026, 12, 16), &zone)?;
        each_member(args.reads.min(n), args.workers, move |i| {
            let (app, window) = (app.clone(), window);
            async move {
                let listed = app
                    .schedules_within(MemberId(1 + (i - 1) * step), window)
                    .await?;
                assert_eq!(listed.len(), 5, "a weekday series lists five a week");
                Ok(())
            }
        })
        .await?
    };
    let events = count(&db, "SELECT COUNT(*) FROM messaging_outbox").await?;

    let secs = |d: Duration| d.as_secs_f64();
    let mut out = String::new();
    use std::fmt::Write as _;
    writeln!(
        out,
        "`cargo run --release -p pinit-bench --bin series-window -- --members {n}` ({} workers, PostgreSQL, \
         {}):\n",
        args.workers,
        Timestamp::now().strftime("%Y-%m-%d %H:%M UTC")
    )?;
    writeln!(out, "| step | figure |\n|---|---|")?;
    writeln!(
        out,
        "| create {n} weekday series (each makes its first 15 days) | {:.1} s, {:.0} series/s; p50 {:.1} ms, p99 {:.1} ms per series; {made_at_create} schedules |",
        secs(create_wall),
        n as f64 / secs(create_wall),
        ms(percentile(&create, 50.0)),
        ms(percentile(&create, 99.0)),
    )?;
    writeln!(
        out,
        "| rolling job, one day later | {} series visited, {} occurrences made in {:.1} s ({:.2} ms per series) |",
        day.series,
        day.made,
        secs(roll_wall),
        ms(roll_wall) / day.series.max(1) as f64,
    )?;
    writeln!(
        out,
        "| rolling job, ten minutes after that | {} series visited in {:.1} ms (the idle look) |",
        idle.series,
        ms(idle_wall),
    )?;
    writeln!(
        out,
        "| read a member's week (occurrences checked first) | p50 {:.2} ms, p99 {:.2} ms over {} reads |",
        ms(percentile(&reads, 50.0)),
        ms(percentile(&reads, 99.0)),
        reads.len(),
    )?;
    writeln!(out, "\n{events} outbox events recorded in all.")?;
    Ok(out)
}
