//! One query layer for SQLite and PostgreSQL.
//!
//! Every store is written once, against sqlx's `Any` driver, in the SQL both databases understand
//! (`$1` placeholders, `RETURNING`, `ON CONFLICT`). Values cross the boundary as integers, text and
//! booleans only: instants are `BIGINT` microseconds since the Unix epoch, dates are `TEXT` `YYYY-MM-DD`.
//! Schemas are kept per backend (`migrations/postgres`, `migrations/sqlite`) because DDL is where the two
//! really differ. The few statements that must differ (row locks) branch on [`Backend`].
//! See `docs/adr/0002-one-query-layer-for-sqlite-and-postgres.md`.

use std::path::Path;
use std::sync::Once;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::error::ErrorKind;
use sqlx::migrate::{Migrate, Migrator};
use sqlx::{Any, AnyPool, Connection, Executor};

use crate::config::{ConnectionUrl, DatabasePoolConfig};

/// A transaction on either backend. It dereferences to the connection (`&mut **tx` / `&mut *tx` is what
/// queries take). On SQLite it also holds this pool's writer turn (see [`Db::begin`]) until it ends.
pub struct Tx {
    inner: sqlx::Transaction<'static, Any>,
    _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
    /// One span per transaction, from `begin` until it ends (when traces are exported; not one per statement).
    _span: tracing::Span,
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.inner.rollback().await
    }
}

impl std::ops::Deref for Tx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.inner
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.inner
    }
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").finish_non_exhaustive()
    }
}

/// A PostgreSQL connection idle for at least this long is pinged before it is handed out
/// ([`check_on_acquire`]).
pub const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

/// Is a pooled connection idle for `idle_for` checked with a round trip before a request gets it? sqlx's
/// default asks the server on **every** acquire: a round trip per request on PostgreSQL (and a hop to the
/// connection's thread on SQLite) that a busy pool does not need — its connections were in use a moment ago.
/// A connection that sat idle for [`CHECK_IDLE_AFTER`] is the one that may have been dropped (the same rule as
/// PgBouncer's `server_check_delay`). SQLite connections are a file in this process: never checked.
/// See docs/adr/0020-per-request-costs.md.
pub fn check_on_acquire(idle_for: Duration) -> bool {
    idle_for >= CHECK_IDLE_AFTER
}

/// How long a SQLite writer waits for its turn before it goes ahead anyway (SQLite's own busy timeout, set on
/// every connection, then still applies).
const WRITER_TURN_WAIT: Duration = Duration::from_secs(10);
/// A connection on either backend (what stores take: `&mut *tx`).
pub type Conn = sqlx::AnyConnection;
/// A connection borrowed from a [`Db`]'s pool ([`Db::conn`]); `&mut *conn` is a [`Conn`].
pub type PooledConn = sqlx::pool::PoolConnection<Any>;

/// Which database engine sits behind a [`Db`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &ConnectionUrl) -> Result<Self, DbError> {
        match url.scheme() {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            other => Err(DbError::UnsupportedScheme(other.to_string())),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The row-lock suffix for `SELECT … FOR UPDATE`. SQLite has no row locks: its write
    /// transactions (`BEGIN IMMEDIATE`) already hold the database's single write lock.
    pub fn for_update(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    /// As [`Backend::for_update`], skipping rows other transactions hold (work queues).
    pub fn for_update_skip_locked(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// How a claim names "the rows whose key the subquery picked" (`key {open}SELECT … LIMIT n{close}`):
    /// `IN (…)` on SQLite; `= ANY(ARRAY(…))` on PostgreSQL, where the subquery runs once into an array and the
    /// outer statement probes the primary key. As an `IN (…)` semi-join a cached generic plan may instead scan
    /// the whole table on every claim (it cannot see the `LIMIT`), and work-queue tables keep their done rows.
    pub fn in_subquery(self) -> (&'static str, &'static str) {
        match self {
            Backend::Sqlite => ("IN (", ")"),
            Backend::Postgres => ("= ANY(ARRAY(", "))"),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database URL scheme `{0}` is not supported; use `sqlite://…` or `postgres://…`")]
    UnsupportedScheme(String),
    #[error("cannot open database {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    /// The TLS handshake failed: a certificate that does not verify, or a server without TLS. Not retried.
    #[error(
        "cannot open database {url}: TLS failed: {reason}; the server's certificate is checked against {trust}{name}"
    )]
    Tls {
        url: String,
        reason: String,
        trust: String,
        name: String,
    },
    #[error(
        "database {url} belongs to the `{found}` context, not `{expected}`; check the database URL setting"
    )]
    WrongDatabase {
        url: String,
        expected: String,
        found: String,
    },
    #[error("migration `{set}` failed on {url}: {source}")]
    Migrate {
        set: String,
        url: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A unique or primary-key constraint refused the write.
    #[error("duplicate value (constraint {constraint})")]
    Duplicate { constraint: String },
    /// A concurrent transaction won (serialization failure, deadlock, busy database): retry.
    #[error("concurrent update conflict: {0}")]
    Conflict(String),
    /// The database did not answer in time or the pool is exhausted.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A stored row that the code cannot read back as a valid value (a bug, or a hand-edited database).
    #[error("stored {what} is not valid: {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error("database error: {0}")]
    Other(#[source] sqlx::Error),
}

impl DbError {
    pub fn is_duplicate(&self) -> bool {
        matches!(self, DbError::Duplicate { .. })
    }
}

impl From<sqlx::Error> for DbError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                match db.kind() {
                    ErrorKind::UniqueViolation => DbError::Duplicate {
                        constraint: db
                            .constraint()
                            .map(str::to_string)
                            .unwrap_or_else(|| db.message().to_string()),
                    },
                    // 40001 serialization_failure, 40P01 deadlock_detected; SQLite 5 BUSY, 6 LOCKED
                    // (extended codes keep the primary code in their low byte).
                    _ if matches!(code.as_str(), "40001" | "40P01") => {
                        DbError::Conflict(db.message().to_string())
                    }
                    _ if code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6)) => {
                        DbError::Conflict(db.message().to_string())
                    }
                    // PostgreSQL's class 08 (connection exception) and 57P (the server is shutting down or
                    // starting, or an administrator ended the connection): the database is away for a moment.
                    _ if code.starts_with("08") || code.starts_with("57P") => {
                        DbError::Unavailable(db.message().to_string())
                    }
                    _ => DbError::Other(err),
                }
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                DbError::Unavailable(err.to_string())
            }
            _ => DbError::Other(err),
        }
    }
}

/// The migrations of one schema module (a context, or the messaging tables), for both backends.
///
/// Each set keeps its own bookkeeping table (`_pinit_migrations_<name>`), so several sets can share a
/// database without their version numbers colliding.
pub struct MigrationSet {
    pub name: &'static str,
    pub postgres: &'static Migrator,
    pub sqlite: &'static Migrator,
}

/// What a migration run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// `(set, version, description)` of every migration applied by this run.
    pub applied: Vec<(String, i64, String)>,
}

static DRIVERS: Once = Once::new();
static SQLITE_MIGRATIONS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A pool on SQLite or PostgreSQL.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    url: String,
    /// SQLite: write transactions of this pool take turns here, first come first served.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl Db {
    /// The URL of a SQLite file, created on first connection.
    pub fn sqlite_url(path: &Path) -> ConnectionUrl {
        const PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
            .add(b' ')
            .add(b'?')
            .add(b'#')
            .add(b'%');
        let encoded =
            percent_encoding::utf8_percent_encode(&path.to_string_lossy(), PATH).to_string();
        let url = format!("sqlite://{encoded}?mode=rwc");
        ConnectionUrl::parse(&url).expect("a percent-encoded sqlite path is a valid URL")
    }

    pub async fn connect(url: &ConnectionUrl, pool: &DatabasePoolConfig) -> Result<Self, DbError> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = Backend::from_url(url)?;
        let connect_err = |source| DbError::Connect {
            url: url.redacted(),
            source,
        };
        let options: AnyConnectOptions = url.expose().parse().map_err(connect_err)?;
        let mut builder = AnyPoolOptions::new()
            .max_connections(pool.max_connections.max(1))
            .acquire_timeout(pool.acquire_timeout.get())
            // sqlx pings every connection it hands out; see `check_on_acquire` for when we do instead.
            .test_before_acquire(false);
        if backend == Backend::Postgres {
            builder = builder.before_acquire(|conn, meta| {
                Box::pin(async move {
                    if !check_on_acquire(meta.idle_for) {
                        return Ok(true);
                    }
                    // A connection the server dropped (a restart, a failover, an idle timeout) is closed here
                    // and a new one is opened, instead of failing the request that drew it.
                    Ok(conn.ping().await.is_ok())
                })
            });
        }
        if backend == Backend::Sqlite {
            if let Some(parent) = sqlite_path(url).as_deref().and_then(Path::parent)
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|e| connect_err(sqlx::Error::Io(e)))?;
            }
            builder = builder.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers run beside the single writer; NORMAL is durable in WAL mode
                    // except for the last transactions on power loss, never corrupting.
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = builder
            .connect_with(options)
            .await
            .map_err(|e| explain_tls(url, e).unwrap_or_else(connect_err))?;
        Ok(Db {
            pool,
            backend,
            url: url.redacted(),
            writer: std::sync::Arc::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL with its password redacted.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A pooled connection for reads and single statements (a use case's writes go through [`Db::begin`]).
    pub async fn conn(&self) -> Result<PooledConn, DbError> {
        Ok(self.pool.acquire().await?)
    }

    /// Begins a write transaction. On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`), so
    /// two writers queue instead of failing when a reader upgrades; and the pool's writers queue in an async FIFO
    /// lock before that, instead of in SQLite's busy handler, which sleeps up to 100 ms between tries and lets
    /// late-comers overtake (the tail of the embedded benchmark, docs/benchmarks.md).
    pub async fn begin(&self) -> Result<Tx, DbError> {
        // Only inside a traced request or event: background loops (the relay's claims) start no traces.
        let span = if crate::trace::exporting() && !tracing::Span::current().is_none() {
            tracing::info_span!("db.transaction", otel.kind = "client", db.system = %self.backend)
        } else {
            tracing::Span::none()
        };
        match self.backend {
            Backend::Sqlite => {
                let turn = tokio::time::timeout(WRITER_TURN_WAIT, self.writer.clone().lock_owned())
                    .await
                    .ok();
                let inner = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                Ok(Tx {
                    inner,
                    _writer: turn,
                    _span: span,
                })
            }
            Backend::Postgres => Ok(Tx {
                inner: self.pool.begin().await?,
                _writer: None,
                _span: span,
            }),
        }
    }

    /// Answers whether the database responds (readiness).
    pub async fn ping(&self) -> Result<(), DbError> {
        let mut conn = self.pool.acquire().await?;
        conn.ping().await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Claims the database for `owner` and applies every pending migration of `sets`, in order.
    ///
    /// Idempotent, and safe when several replicas start at once (PostgreSQL advisory lock).
    /// Refuses a database that another context already claimed.
    pub async fn migrate(
        &self,
        owner: &str,
        sets: &[&MigrationSet],
    ) -> Result<MigrationReport, DbError> {
        // Serialise concurrent migrators: across replicas with a PostgreSQL advisory lock; for SQLite
        // within the process (one process owns a data directory, see the serve command's lock file).
        let _in_process = match self.backend {
            Backend::Sqlite => Some(SQLITE_MIGRATIONS.lock().await),
            Backend::Postgres => None,
        };
        let mut conn = self.pool.acquire().await?;
        if self.backend == Backend::Postgres {
            conn.execute("SELECT pg_advisory_lock(7293810472)").await?;
        }
        let result = self.migrate_locked(&mut conn, owner, sets).await;
        if self.backend == Backend::Postgres {
            let _ = conn.execute("SELECT pg_advisory_unlock(7293810472)").await;
        }
        result
    }

    async fn migrate_locked(
        &self,
        conn: &mut Conn,
        owner: &str,
        sets: &[&MigrationSet],
    ) -> Result<MigrationReport, DbError> {
        self.claim(conn, owner).await?;
        let mut report = MigrationReport::default();
        for set in sets {
            let source = match self.backend {
                Backend::Postgres => set.postgres,
                Backend::Sqlite => set.sqlite,
            };
            let table = format!("_pinit_migrations_{}", set.name);
            let mut migrator = Migrator::with_migrations(source.iter().cloned().collect());
            migrator.dangerous_set_table_name(table.clone());
            let migrate_err = |source| DbError::Migrate {
                set: set.name.to_string(),
                url: self.url.clone(),
                source,
            };
            conn.ensure_migrations_table(&table)
                .await
                .map_err(migrate_err)?;
            let before: Vec<i64> = conn
                .list_applied_migrations(&table)
                .await
                .map_err(migrate_err)?
                .into_iter()
                .map(|m| m.version)
                .collect();
            migrator.run(&mut *conn).await.map_err(migrate_err)?;
            for m in source.iter().filter(|m| !before.contains(&m.version)) {
                tracing::info!(set = set.name, version = m.version, description = %m.description, db = %self.url, "applied migration");
                report
                    .applied
                    .push((set.name.to_string(), m.version, m.description.to_string()));
            }
        }
        Ok(report)
    }

    async fn claim(&self, conn: &mut Conn, owner: &str) -> Result<(), DbError> {
        conn.execute(
            "CREATE TABLE IF NOT EXISTS pinit_database_owner (\
               singleton INTEGER PRIMARY KEY CHECK (singleton = 1), \
               context TEXT NOT NULL, \
               claimed_at_us BIGINT NOT NULL)",
        )
        .await?;
        let now_us = jiff::Timestamp::now().as_microsecond();
        sqlx::query(
            "INSERT INTO pinit_database_owner (singleton, context, claimed_at_us) VALUES (1, $1, $2) \
             ON CONFLICT (singleton) DO NOTHING",
        )
        .bind(owner)
        .bind(now_us)
        .execute(&mut *conn)
        .await?;
        let found: String =
            sqlx::query_scalar("SELECT context FROM pinit_database_owner WHERE singleton = 1")
                .fetch_one(&mut *conn)
                .await?;
        if found != owner {
            return Err(DbError::WrongDatabase {
                url: self.url.clone(),
                expected: owner.to_string(),
                found,
            });
        }
        Ok(())
    }
}

/// A failed TLS handshake as [`DbError::Tls`]: which CA the certificate was checked against and, with
/// `verify-full`, which name it had to carry — from the URL (see [`crate::tls::postgres_url`]).
fn explain_tls(url: &ConnectionUrl, err: sqlx::Error) -> Result<DbError, sqlx::Error> {
    if !matches!(err, sqlx::Error::Tls(_)) && !crate::tls::is_certificate_error(&err) {
        return Err(err);
    }
    let mode = crate::tls::url_ssl_mode(url).unwrap_or_default();
    let trust = match url.query_param("sslrootcert") {
        Some(ca) => format!("the system store and {ca} (sslmode={mode})"),
        None => format!("the system store (sslmode={mode}; set tls.ca_file for a private CA)"),
    };
    let name = match (mode, url.url().host_str()) {
        (crate::tls::SslMode::VerifyFull, Some(host)) => {
            format!(" and must name the host `{host}`")
        }
        _ => String::new(),
    };
    Ok(DbError::Tls {
        url: url.redacted(),
        reason: crate::text::error_chain(&err),
        trust,
        name,
    })
}

fn sqlite_path(url: &ConnectionUrl) -> Option<std::path::PathBuf> {
    let rest = url.expose().strip_prefix("sqlite://")?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    Some(std::path::PathBuf::from(decoded.into_owned()))
}

/// Default time a readiness check waits for the database.
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Deletes the rows of `table` whose `column` is `id`; how many. Account deletion erases a member this way, table
/// by table: each caller names its own table and member column (constants, never input).
pub async fn delete_by(
    conn: &mut Conn,
    table: &'static str,
    column: &'static str,
    id: i64,
) -> Result<u64, DbError> {
    let sql = format!("DELETE FROM {table} WHERE {column} = $1");
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}

/// How [`lock_key`] holds a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Alone: waits for every other holder, shared or not, and makes them wait.
    Exclusive,
    /// With other shared holders (they never wait for each other); waits only for an exclusive one.
    Shared,
}

/// Holds the lock `(scope, key)` until the caller's transaction ends: PostgreSQL's `pg_advisory_xact_lock`, or
/// `pg_advisory_xact_lock_shared` for [`LockMode::Shared`] (a key above 32 bits is folded, so two keys may share a
/// lock — that only serialises them). On SQLite a write transaction is already the only one (`BEGIN IMMEDIATE`,
/// [`Db::begin`]), so nothing is done.
pub async fn lock_key(
    conn: &mut Conn,
    backend: Backend,
    mode: LockMode,
    scope: i32,
    key: i64,
) -> Result<(), DbError> {
    if backend == Backend::Postgres {
        let folded = (key ^ (key >> 32)) as i32;
        let sql = match mode {
            LockMode::Exclusive => "SELECT pg_advisory_xact_lock($1, $2)",
            LockMode::Shared => "SELECT pg_advisory_xact_lock_shared($1, $2)",
        };
        sqlx::query(sql)
            .bind(scope)
            .bind(folded)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Wakes `signal` on every PostgreSQL `NOTIFY` on `channel`, until `stop`: how a process hears about commits
/// made by other replicas (the outbox relay, the push dispatcher). It wakes once after each (re)connect, since
/// notifications sent meanwhile were missed; on a lost connection it logs, waits a second and reconnects —
/// the caller's polling covers the gap. `what` names the listener in logs.
pub async fn listen(
    url: ConnectionUrl,
    channel: &'static str,
    what: &'static str,
    signal: crate::WakeSignal,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        let attempt = async {
            let mut listener = sqlx::postgres::PgListener::connect(url.expose()).await?;
            listener.listen(channel).await?;
            signal.wake();
            loop {
                listener.recv().await?;
                signal.wake();
            }
            #[allow(unreachable_code)]
            Ok::<(), sqlx::Error>(())
        };
        tokio::select! {
            result = attempt => {
                if let Err(e) = result {
                    tracing::warn!(db = %url.redacted(), channel, error = %e, "{what} LISTEN failed; relying on polling until it reconnects");
                }
            }
            _ = stop.cancelled() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_survive_awkward_paths() {
        let url = Db::sqlite_url(Path::new("/tmp/my data/#1?/task.db"));
        assert_eq!(
            sqlite_path(&url).unwrap(),
            Path::new("/tmp/my data/#1?/task.db")
        );
        assert_eq!(Backend::from_url(&url).unwrap(), Backend::Sqlite);
    }

    #[test]
    fn unknown_schemes_are_explained() {
        let url = ConnectionUrl::parse("mysql://localhost/x").unwrap();
        let err = Backend::from_url(&url).unwrap_err().to_string();
        assert!(
            err.contains("`mysql`") && err.contains("postgres://"),
            "{err}"
        );
    }
}
