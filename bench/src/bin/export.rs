//! The export (issue 20, GDPR art. 20): `GET /v2/export?format=json|csv` of one member with 10,000 and with
//! 100,000 schedules, through the task service's real HTTP router (`pinit_bench::TaskService`: `pinit_task::routes`
//! in the kernel's `service_router`, on a loopback port, `X-Member-Id` as the gateway sends it), on SQLite and
//! PostgreSQL. Measured per export: the time to the headers and to the last byte, the bytes, and the peak resident
//! memory of this process (server, client and, on SQLite, the database) while the export runs.
//!
//! `cargo run --release -p pinit-bench --bin export -- --out docs/benchmarks.md`
//!
//! * **Data**, written straight into the tables, each member in one transaction (multi-row `INSERT`s): `n`
//!   schedules every 30 minutes back from "now" (one in three completed with 25 minutes, their statistics weeks
//!   summed into `statistics`; one in seven with reminders of its own), and `n / 10` tasks, every other one with
//!   the one before as its prerequisite.
//! * **The client** reads the body as it comes (64 KiB reads, the chunked framing decoded, bytes counted and
//!   dropped) and checks that it is complete: a JSON document ends with `}`, a ZIP with its end-of-central-directory
//!   record.
//! * **Peak memory**: `VmHWM` of `/proc/self/status` after resetting it (`5` written to `/proc/self/clear_refs`)
//!   just before each export; `VmRSS` before the export is the baseline. The same for both sizes: if the export
//!   kept what it wrote, the 100,000-schedule peak would be ten times the 10,000 one's growth.
//!
//! SQLite: a file in a temporary directory; PostgreSQL: a fresh database `pinit_bench_export_<pid>` on the server
//! (trust auth), `ANALYZE`d after loading, dropped at the end.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use jiff::{SignedDuration, Timestamp};
use pinit_bench::{BenchDb, BoxError, NOW, TaskService, ZONE, backend_name, ms};
use pinit_kernel::Backend;
use pinit_task::domain::{WeekKey, Zone};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SECTION: &str = "## Export: 100,000 schedules";
const MARKER: &str = "export";

#[derive(Parser, Debug, Clone)]
#[command(name = "export", version)]
struct Args {
    #[command(flatten)]
    databases: pinit_bench::Databases,
    /// The members' schedule counts (one member each).
    #[arg(long, value_delimiter = ',', default_values_t = [10_000, 100_000])]
    sizes: Vec<usize>,
    /// Exports per member, format and database (the median time and the highest peak are reported).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Write the report into this markdown file (between the `export` markers); print it otherwise.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep the PostgreSQL database.
    #[arg(long)]
    keep_db: bool,
}

// ------------------------------------------------------------------------------------------------------------
// Memory.

/// A `kB` line of `/proc/self/status`, in bytes.
fn status_kib(field: &str) -> Result<u64, BoxError> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .ok_or_else(|| format!("{field} in /proc/self/status"))?;
    let kib: u64 = line
        .trim_start_matches(field)
        .trim_start_matches(':')
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kib * 1024)
}

/// Resets the peak (`VmHWM`) to the current resident size.
fn reset_peak() -> Result<(), BoxError> {
    std::fs::write("/proc/self/clear_refs", "5")?;
    Ok(())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

// ------------------------------------------------------------------------------------------------------------
// Data.

/// `INSERT … VALUES` of `rows` in statements of 1,000 rows, inside `tx`.
async fn insert_rows(
    tx: &mut pinit_kernel::db::Tx,
    head: &str,
    rows: &[String],
) -> Result<(), BoxError> {
    for chunk in rows.chunks(1_000) {
        let sql = format!("{head} VALUES {}", chunk.join(", "));
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Member `member`'s `n` schedules, `n / 10` tasks and their statistics, in one transaction.
async fn seed(bench: &BenchDb, member: i64, n: usize) -> Result<(), BoxError> {
    let now: Timestamp = NOW.parse()?;
    let zone = Zone::parse(ZONE)?;
    let now_us = now.as_microsecond();
    let mut tx = bench.db.begin().await?;
    let mut schedules = Vec::with_capacity(n);
    let mut weeks: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
    for i in 0..n {
        let start = now - SignedDuration::from_mins(30 * i64::try_from(i)?);
        let kind = ["DEEP_WORK", "ADMIN_TASK", "QUICK_TASK"][i % 3];
        let reminders = if i % 7 == 0 { "'-600,0'" } else { "NULL" };
        let (state, elapsed, week) = if i % 3 == 0 {
            let week = WeekKey::containing(start, &zone)?.start.to_string();
            let entry = weeks.entry(week.clone()).or_default();
            let us = 25 * 60 * 1_000_000;
            if kind == "DEEP_WORK" {
                entry.0 += us;
            }
            entry.1 += us;
            ("COMPLETED", us, format!("'{week}', '{ZONE}'"))
        } else {
            ("NOT_STARTED", 0, "NULL, NULL".to_owned())
        };
        schedules.push(format!(
            "({member}, 'Schedule {i}', 'Export benchmark, row {i}: \"quoted\", with a comma', '{kind}', {}, \
             '{state}', {elapsed}, NULL, {week}, 1, {now_us}, {now_us}, {reminders})",
            start.as_microsecond()
        ));
    }
    insert_rows(
        &mut tx,
        "INSERT INTO schedule (owner_id, title, description, schedule_type, designated_start_us, state, \
         elapsed_us, running_since_us, stats_week_start, stats_week_zone_id, version, created_at_us, \
         updated_at_us, reminders)",
        &schedules,
    )
    .await?;
    drop(schedules);
    let stats: Vec<String> = weeks
        .iter()
        .map(|(week, (deep, total))| {
            format!("({member}, '{week}', '{ZONE}', {deep}, 0, {total}, 1, {now_us})")
        })
        .collect();
    insert_rows(
        &mut tx,
        "INSERT INTO statistics (member_id, week_start, zone_id, deep_work_us, admin_work_us, \
         total_work_us, version, updated_at_us)",
        &stats,
    )
    .await?;
    let tasks: Vec<String> = (0..n / 10)
        .map(|i| {
            let due = jiff::civil::date(2026, 12, 7) + SignedDuration::from_hours(24 * (i as i64 % 400));
            format!(
                "({member}, 'Task {i}', 'Export benchmark task {i}', '{due}', '{ZONE}', {}, {}, 0, 1, \
                 {now_us}, {now_us})",
                1 + i % 9,
                [1, 2, 3, 5, 8, 13, 21][i % 7]
            )
        })
        .collect();
    insert_rows(
        &mut tx,
        "INSERT INTO task (owner_id, title, description, deadline_date, deadline_zone_id, importance, \
         difficulty, completed, version, created_at_us, updated_at_us)",
        &tasks,
    )
    .await?;
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT task_id FROM task WHERE owner_id = $1 ORDER BY task_id")
            .bind(member)
            .fetch_all(&mut *tx)
            .await?;
    let edges: Vec<String> = ids
        .chunks_exact(2)
        .map(|pair| format!("({}, {}, {member})", pair[0], pair[1]))
        .collect();
    insert_rows(
        &mut tx,
        "INSERT INTO dependency (from_id, to_id, owner_id)",
        &edges,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// ------------------------------------------------------------------------------------------------------------
// The client: one request, the body read as it comes and dropped.

/// What an export cost.
#[derive(Debug, Clone, Copy)]
struct Sample {
    headers: Duration,
    total: Duration,
    bytes: u64,
    /// Resident memory before the export, and its peak while it ran.
    rss_before: u64,
    peak: u64,
}

/// Decodes `Transfer-Encoding: chunked` as it arrives: counts the payload and keeps its last bytes.
#[derive(Default)]
struct Chunked {
    pending: Vec<u8>,
    /// Payload bytes left in the current chunk.
    left: usize,
    bytes: u64,
    tail: Vec<u8>,
    done: bool,
}

impl Chunked {
    fn feed(&mut self, mut data: &[u8]) -> Result<(), BoxError> {
        while !data.is_empty() && !self.done {
            if self.left > 0 {
                let take = self.left.min(data.len());
                self.payload(&data[..take]);
                self.left -= take;
                data = &data[take..];
                continue;
            }
            self.pending.extend_from_slice(data);
            data = &[];
            // Framing: "\r\n" after a chunk, then "<hex size>\r\n".
            loop {
                let rest = self.pending.strip_prefix(b"\r\n").unwrap_or(&self.pending);
                let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
                    break;
                };
                let size = usize::from_str_radix(std::str::from_utf8(&rest[..end])?.trim(), 16)?;
                let after = rest[end + 2..].to_vec();
                self.pending.clear();
                if size == 0 {
                    self.done = true;
                    break;
                }
                let take = size.min(after.len());
                self.payload(&after[..take]);
                self.left = size - take;
                if self.left > 0 {
                    break;
                }
                self.pending = after[take..].to_vec();
            }
        }
        Ok(())
    }

    fn payload(&mut self, data: &[u8]) {
        self.bytes += data.len() as u64;
        self.tail.extend_from_slice(data);
        let keep = 64;
        if self.tail.len() > keep {
            self.tail.drain(..self.tail.len() - keep);
        }
    }
}

async fn export(addr: std::net::SocketAddr, member: i64, format: &str) -> Result<Sample, BoxError> {
    let rss_before = status_kib("VmRSS")?;
    reset_peak()?;
    let started = Instant::now();
    let mut conn = TcpStream::connect(addr).await?;
    conn.write_all(
        format!(
            "GET /v2/export?format={format} HTTP/1.1\r\nHost: {addr}\r\nX-Member-Id: {member}\r\n\
             Connection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut head = Vec::new();
    let mut headers = None;
    let mut body = Chunked::default();
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        match headers {
            Some(_) => body.feed(&buf[..n])?,
            None => {
                head.extend_from_slice(&buf[..n]);
                if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                    headers = Some(started.elapsed());
                    let text = String::from_utf8_lossy(&head[..end]).to_string();
                    if !text.starts_with("HTTP/1.1 200")
                        || !text
                            .to_ascii_lowercase()
                            .contains("transfer-encoding: chunked")
                    {
                        return Err(format!("export: {text}").into());
                    }
                    let rest = head[end + 4..].to_vec();
                    body.feed(&rest)?;
                }
            }
        }
    }
    let total = started.elapsed();
    let peak = status_kib("VmHWM")?;
    let complete = body.done
        && match format {
            "json" => body.tail.ends_with(b"}\n"),
            // The end-of-central-directory record (no comment): its signature 22 bytes from the end.
            _ => {
                body.tail.len() >= 22
                    && body.tail[body.tail.len() - 22..].starts_with(b"PK\x05\x06")
            }
        };
    if !complete {
        return Err(format!("export {format} of member {member}: incomplete body").into());
    }
    Ok(Sample {
        headers: headers.ok_or("no headers")?,
        total,
        bytes: body.bytes,
        rss_before,
        peak,
    })
}

// ------------------------------------------------------------------------------------------------------------

struct Row {
    backend: Backend,
    size: usize,
    format: &'static str,
    samples: Vec<Sample>,
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// Seeds and exports on `backend`; PostgreSQL's version goes to `pg_version`.
async fn run_backend(
    args: &Args,
    backend: Backend,
    rows: &mut Vec<Row>,
    pg_version: &mut String,
) -> Result<(), BoxError> {
    let bench = BenchDb::create(backend, &args.databases.server, "pinit_bench_export", 8).await?;
    let outcome = async {
        let service = TaskService::start(bench.db.clone(), NOW.parse()?).await?;
        for (i, &size) in args.sizes.iter().enumerate() {
            let member = i64::try_from(i)? + 1;
            service.provision(member, ZONE).await?;
            eprintln!("{}: seeding {size} schedules", backend_name(backend));
            let t = Instant::now();
            seed(&bench, member, size).await?;
            eprintln!("  seeded in {:.1} s", t.elapsed().as_secs_f64());
        }
        if backend == Backend::Postgres {
            sqlx::query("ANALYZE").execute(bench.db.pool()).await?;
            let v: String = sqlx::query_scalar("SHOW server_version")
                .fetch_one(bench.db.pool())
                .await?;
            *pg_version = format!("PostgreSQL {v}");
        }
        for (i, &size) in args.sizes.iter().enumerate() {
            for format in ["json", "csv"] {
                let mut samples = Vec::new();
                for _ in 0..args.reps {
                    let sample = export(service.addr, i64::try_from(i)? + 1, format).await?;
                    eprintln!(
                        "{} {size} {format}: {:.0} ms, {:.1} MiB, peak {:.1} MiB (before {:.1})",
                        backend_name(backend),
                        ms(sample.total),
                        mib(sample.bytes),
                        mib(sample.peak),
                        mib(sample.rss_before)
                    );
                    samples.push(sample);
                }
                rows.push(Row {
                    backend,
                    size,
                    format,
                    samples,
                });
            }
        }
        service.stop.cancel();
        Ok::<_, BoxError>(())
    }
    .await;
    bench.drop_database(args.keep_db).await;
    outcome
}

fn report(args: &Args, rows: &[Row], pg_version: &str) -> Result<String, BoxError> {
    let mut out = String::new();
    writeln!(
        out,
        "`cargo run --release -p pinit-bench --bin export` ({} exports each; {}; {}, {} cores, load {}):\n",
        args.reps,
        pg_version,
        Timestamp::now().strftime("%Y-%m-%d %H:%M UTC"),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    )?;
    writeln!(
        out,
        "| database | schedules | format | headers | whole export (median) | size | schedules/s | RSS before | peak RSS (highest) | peak − before |"
    )?;
    writeln!(out, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")?;
    for row in rows {
        let total = median(row.samples.iter().map(|s| s.total).collect());
        let headers = median(row.samples.iter().map(|s| s.headers).collect());
        let worst = row
            .samples
            .iter()
            .max_by_key(|s| s.peak)
            .ok_or("no samples")?;
        writeln!(
            out,
            "| {} | {} | {} | {:.1} ms | {:.2} s | {:.2} MiB | {:.0} | {:.1} MiB | {:.1} MiB | {:.1} MiB |",
            backend_name(row.backend),
            row.size,
            if row.format == "json" {
                "JSON"
            } else {
                "CSV ZIP"
            },
            ms(headers),
            total.as_secs_f64(),
            mib(worst.bytes),
            row.size as f64 / total.as_secs_f64(),
            mib(worst.rss_before),
            mib(worst.peak),
            mib(worst.peak.saturating_sub(worst.rss_before)),
        )?;
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    pinit_bench::allocator_as_shipped();
    let args = Args::parse();
    let mut rows = Vec::new();
    let mut pg_version = "no PostgreSQL".to_owned();
    for backend in args.databases.backends()? {
        run_backend(&args, backend, &mut rows, &mut pg_version).await?;
    }
    let block = report(&args, &rows, &pg_version)?;
    pinit_bench::publish(args.out.as_deref(), MARKER, SECTION, &block)?;
    Ok(())
}
