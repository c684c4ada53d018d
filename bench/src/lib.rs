//! Shared helpers of the benchmark binaries: percentiles, report writing, a fresh task database on SQLite or
//! PostgreSQL, and a router served on a loopback port.

use std::time::Duration;

use pinit_kernel::config::{ConnectionUrl, DatabasePoolConfig, HumanDuration};
use pinit_kernel::{Backend, Db};
use sqlx::{Connection, Executor, PgConnection};
use tokio_util::sync::CancellationToken;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

mod plot;
pub use plot::{Line, line_chart};

/// A small deterministic generator (splitmix64) for the benchmarks' choices: arrivals, members, the mix.
pub struct Rng(pub u64);

impl Rng {
    /// A generator whose stream does not start at the seed itself (seeds 0, 1, 2… give unrelated streams).
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1A4_F87D)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `(0, 1]`.
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `1..=n` (n > 0).
    pub fn pick(&mut self, n: i64) -> i64 {
        1 + self.below(n.max(1) as u64) as i64
    }
}

/// Drops the PostgreSQL database `name` if it exists (disconnecting its sessions) and creates it empty.
pub async fn recreate_database(admin: &mut PgConnection, name: &str) -> Result<(), sqlx::Error> {
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .await?;
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await?;
    Ok(())
}

/// PostgreSQL's autovacuum during a benchmark. Production servers run it (it is PostgreSQL's default); a test
/// machine may have it off (this one's CI configuration does), and then tables that take a row per event — the
/// outbox, upcoming notifications — are never vacuumed nor analysed during a run: their work queues' claims scan
/// thousands of dead rows and plans are made without statistics, so the benchmark would measure a server nobody
/// runs. [`Autovacuum::ensure_on`] turns it on for the run when it is off (`ALTER SYSTEM`, a reload) and
/// [`Autovacuum::restore`] puts the setting back.
pub struct Autovacuum {
    admin_url: String,
    /// It was off and this run turned it on.
    pub turned_on: bool,
}

impl Autovacuum {
    /// `admin_url`: a database URL of the server (superuser, as `--server` is).
    pub async fn ensure_on(admin_url: &str) -> Result<Autovacuum, sqlx::Error> {
        let mut admin = PgConnection::connect(admin_url).await?;
        let on: String = sqlx::query_scalar("SHOW autovacuum")
            .fetch_one(&mut admin)
            .await?;
        let turned_on = on != "on";
        if turned_on {
            eprintln!(
                "   PostgreSQL's autovacuum is off on this server: turning it on for the run (ALTER SYSTEM; restored at the end)"
            );
            admin.execute("ALTER SYSTEM SET autovacuum = on").await?;
            admin.execute("SELECT pg_reload_conf()").await?;
        }
        admin.close().await?;
        Ok(Autovacuum {
            admin_url: admin_url.to_string(),
            turned_on,
        })
    }

    /// Puts the server's setting back as it was.
    pub async fn restore(self) -> Result<(), sqlx::Error> {
        if !self.turned_on {
            return Ok(());
        }
        let mut admin = PgConnection::connect(&self.admin_url).await?;
        admin.execute("ALTER SYSTEM RESET autovacuum").await?;
        admin.execute("SELECT pg_reload_conf()").await?;
        admin.close().await?;
        Ok(())
    }
}

/// `VACUUM (ANALYZE)` of database `url`: after a bulk load (a benchmark's seeding), so that measuring starts from
/// the steady state autovacuum keeps a production server in, not from tens of thousands of fresh dead rows.
pub async fn vacuum_analyze(url: &str) -> Result<(), sqlx::Error> {
    let mut conn = PgConnection::connect(url).await?;
    conn.execute("VACUUM (ANALYZE)").await?;
    conn.close().await?;
    Ok(())
}

/// CPU accounting from `/proc` (Linux), shared by the benchmarks that split CPU by process.
pub mod proc_cpu {
    /// utime + stime, in clock ticks, of a `/proc/<pid>/stat` (or `/proc/<pid>/task/<tid>/stat`) line.
    pub fn ticks_of(stat: &str) -> Option<u64> {
        // Fields after the parenthesised name: state is field 3; utime, stime are 14 and 15.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
    }

    /// The whole machine's (total, busy) clock ticks from `/proc/stat`'s first line (idle and iowait are not busy).
    pub fn machine_ticks() -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let v: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
        let total: u64 = v.iter().take(8).sum();
        Some((total, total.saturating_sub(idle)))
    }
}

/// "Now" of the task benchmarks that play a member's calendar: Monday 2026-12-07 09:00 in Seoul ([`ZONE`]).
pub const NOW: &str = "2026-12-07T00:00:00Z";
pub const ZONE: &str = "Asia/Seoul";

/// The allocator of the `pinit` binary, so that the benchmarks measure what ships.
#[global_allocator]
static GLOBAL: pinit_kernel::allocator::Allocator = pinit_kernel::allocator::Allocator;

/// Sets the allocator up as `pinit`'s `main` does; every benchmark binary calls it first.
pub fn allocator_as_shipped() {
    pinit_kernel::allocator::return_freed_memory();
}

/// Percentile `p` (0–100) of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Writes a generated report `block` into the markdown file at `path`, between the lines
/// `<!-- {name}:begin -->` and `<!-- {name}:end -->`; the rest of the file (hand-written notes) is kept.
/// A file without the markers gets `section` (a heading) and the block appended; a missing file is created.
pub fn write_between_markers(
    path: &std::path::Path,
    name: &str,
    section: &str,
    block: &str,
) -> std::io::Result<()> {
    let begin = format!("<!-- {name}:begin -->");
    let end = format!("<!-- {name}:end -->");
    let generated = format!("{begin}\n{}\n{end}\n", block.trim());
    let text = match std::fs::read_to_string(path) {
        Ok(old) => match (old.find(&begin), old.find(&end)) {
            (Some(b), Some(e)) if b < e => {
                let rest = old[e + end.len()..].trim_start_matches('\n');
                let gap = if rest.is_empty() { "" } else { "\n" };
                format!("{}{generated}{gap}{rest}", &old[..b])
            }
            _ => format!("{}\n\n{section}\n\n{generated}", old.trim_end()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            format!("# Benchmarks\n\n{section}\n\n{generated}")
        }
        Err(e) => return Err(e),
    };
    std::fs::write(path, text)
}

/// Appends `row` (one markdown table line) to the history table between `<!-- {name}:begin -->` and
/// `<!-- {name}:end -->` in the file at `path`, keeping the rows already there (old runs stay listed); a file
/// without the markers gets `section`, then `header` (the table's two heading lines) and the row.
pub fn append_history(
    path: &std::path::Path,
    name: &str,
    section: &str,
    header: &str,
    row: &str,
) -> std::io::Result<()> {
    let begin = format!("<!-- {name}:begin -->");
    let end = format!("<!-- {name}:end -->");
    let old = match std::fs::read_to_string(path) {
        Ok(old) => old,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let rows: Vec<&str> = match (old.find(&begin), old.find(&end)) {
        (Some(b), Some(e)) if b < e => old[b + begin.len()..e]
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with('|'))
            .skip(2)
            .collect(),
        _ => Vec::new(),
    };
    let mut block = header.trim().to_string();
    for r in rows.iter().copied().chain([row.trim()]) {
        block.push('\n');
        block.push_str(r);
    }
    write_between_markers(path, name, section, &block)
}

/// The databases a benchmark runs on (`#[command(flatten)]` into its arguments).
#[derive(clap::Args, Debug, Clone)]
pub struct Databases {
    /// PostgreSQL server (no database part); a database is created on it and dropped at the end.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    pub server: String,
    /// Skip SQLite.
    #[arg(long)]
    pub no_sqlite: bool,
    /// Skip PostgreSQL.
    #[arg(long)]
    pub no_postgres: bool,
}

impl Databases {
    /// SQLite then PostgreSQL, less the skipped ones (an error when both are).
    pub fn backends(&self) -> Result<Vec<Backend>, BoxError> {
        let backends: Vec<Backend> = [
            (Backend::Sqlite, self.no_sqlite),
            (Backend::Postgres, self.no_postgres),
        ]
        .into_iter()
        .filter(|(_, skipped)| !skipped)
        .map(|(b, _)| b)
        .collect();
        if backends.is_empty() {
            return Err("nothing to run: --no-sqlite and --no-postgres".into());
        }
        Ok(backends)
    }
}

/// Writes the report `block` into the markdown file `out` between `marker`'s markers (see
/// [`write_between_markers`]), or prints it when there is no file.
pub fn publish(
    out: Option<&std::path::Path>,
    marker: &str,
    section: &str,
    block: &str,
) -> std::io::Result<()> {
    match out {
        Some(path) => {
            write_between_markers(path, marker, section, block)?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{block}"),
    }
    Ok(())
}

/// A pool of `pool` connections to `url` (30 s to get one).
pub async fn connect(url: &ConnectionUrl, pool: u32) -> Result<Db, BoxError> {
    Ok(Db::connect(
        url,
        &DatabasePoolConfig {
            max_connections: pool,
            acquire_timeout: HumanDuration::from_secs(30),
            ..Default::default()
        },
    )
    .await?)
}

pub fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    }
}

/// `server` (a PostgreSQL URL without a database part) with database `db`.
pub fn with_db(server: &str, db: &str) -> String {
    format!("{}/{db}", server.trim_end_matches('/'))
}

/// A fresh task database for a benchmark, migrated: a file in a temporary directory on SQLite, a new database
/// `{prefix}_{pid}` on the PostgreSQL `server` (trust auth), dropped by [`BenchDb::drop_database`].
pub struct BenchDb {
    pub db: Db,
    pub backend: Backend,
    server: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl BenchDb {
    pub async fn create(
        backend: Backend,
        server: &str,
        prefix: &str,
        pool: u32,
    ) -> Result<Self, BoxError> {
        let (url, pg_name, dir) = match backend {
            Backend::Postgres => {
                let name = format!("{prefix}_{}", std::process::id());
                let mut admin = PgConnection::connect(&with_db(server, "postgres")).await?;
                recreate_database(&mut admin, &name).await?;
                (
                    ConnectionUrl::parse(&with_db(server, &name))?,
                    Some(name),
                    None,
                )
            }
            Backend::Sqlite => {
                let dir = tempfile::tempdir()?;
                (Db::sqlite_url(&dir.path().join("task.db")), None, Some(dir))
            }
        };
        let db = connect(&url, pool).await?;
        db.migrate(pinit_task::NAME, pinit_task::MIGRATIONS).await?;
        Ok(Self {
            db,
            backend,
            server: server.to_owned(),
            pg_name,
            _dir: dir,
        })
    }

    /// Closes the pool and drops the PostgreSQL database unless `keep` (the SQLite file goes with the value).
    pub async fn drop_database(&self, keep: bool) {
        self.db.close().await;
        let Some(name) = &self.pg_name else { return };
        if keep {
            return;
        }
        let dropped = async {
            let mut admin = PgConnection::connect(&with_db(&self.server, "postgres")).await?;
            admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await?;
            Ok::<_, BoxError>(())
        };
        if let Err(e) = dropped.await {
            eprintln!("could not drop database {name}: {e}");
        }
    }
}

/// Serves `router` on a random loopback port until the token is cancelled.
pub async fn serve(
    router: axum::Router,
) -> Result<(std::net::SocketAddr, CancellationToken), BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let until = stop.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(until.cancelled_owned())
            .await;
    });
    Ok((addr, stop))
}

/// The task service's real HTTP router (`pinit_task::routes` in the kernel's `service_router`) over `db`, on a
/// manual clock standing at `now`, served on a loopback port.
pub struct TaskService {
    pub app: pinit_task::TaskApp,
    pub clock: std::sync::Arc<pinit_kernel::ManualClock>,
    pub addr: std::net::SocketAddr,
    pub stop: CancellationToken,
}

impl TaskService {
    pub async fn start(db: Db, now: jiff::Timestamp) -> Result<Self, BoxError> {
        let clock = pinit_kernel::ManualClock::new(now);
        let shared: pinit_kernel::SharedClock = clock.clone();
        let app = pinit_task::TaskApp::new(
            db,
            shared.clone(),
            pinit_messaging::Outbox::new(shared.clone(), Duration::ZERO),
        );
        let readiness = pinit_kernel::Readiness::new(pinit_task::NAME, CancellationToken::new());
        readiness.set_migrated();
        let router = pinit_kernel::http::service_router(
            pinit_task::NAME,
            pinit_task::routes(app.clone()),
            &readiness,
            pinit_task::ERROR_STYLE,
            shared,
        );
        let (addr, stop) = serve(router).await?;
        Ok(Self {
            app,
            clock,
            addr,
            stop,
        })
    }

    /// Provisions member `id` in `zone` (as `member.created` would).
    pub async fn provision(&self, id: i64, zone: &str) -> Result<(), BoxError> {
        self.app
            .provision(&pinit_task::app::MemberProvisioning {
                member: pinit_task::domain::MemberId(id),
                nickname: Some(format!("member-{id}")),
                zone_id: Some(zone.into()),
            })
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_replaces_only_its_block_and_keeps_the_notes_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.md");
        std::fs::write(
            &path,
            "# B\n\nintro\n\n<!-- x:begin -->\nold\n<!-- x:end -->\n\nnotes\n",
        )
        .unwrap();
        write_between_markers(&path, "x", "## X", "new\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# B\n\nintro\n\n<!-- x:begin -->\nnew\n<!-- x:end -->\n\nnotes\n"
        );
        write_between_markers(&path, "y", "## Y", "first").unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .ends_with("notes\n\n## Y\n\n<!-- y:begin -->\nfirst\n<!-- y:end -->\n")
        );
    }

    #[test]
    fn a_history_keeps_its_old_rows_and_adds_the_new_one_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.md");
        let header = "| run | figure |\n|---|---|";
        append_history(&path, "h", "## H", header, "| 1 | 10 |").unwrap();
        std::fs::write(
            &path,
            std::fs::read_to_string(&path).unwrap() + "\nhand-written notes\n",
        )
        .unwrap();
        append_history(&path, "h", "## H", header, "| 2 | 20 |").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# Benchmarks\n\n## H\n\n<!-- h:begin -->\n| run | figure |\n|---|---|\n| 1 | 10 |\n| 2 | 20 |\n\
             <!-- h:end -->\n\nhand-written notes\n"
        );
    }

    #[test]
    fn a_missing_file_is_created_with_the_section() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.md");
        write_between_markers(&path, "x", "## X", "r").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# Benchmarks\n\n## X\n\n<!-- x:begin -->\nr\n<!-- x:end -->\n"
        );
    }
}
