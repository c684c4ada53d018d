//! The transactional outbox: a use case records its events in the same transaction as its state change.
//!
//! ```ignore
//! let mut tx = db.begin().await?;
//! // … change the schedule, bump its version …
//! outbox::record(&mut tx, OutgoingEvent::new(channel::SCHEDULE_DELETED, "schedule", id, version, &payload, now)?).await?;
//! signal.commit(tx).await?; // commit, then wake the relay
//! ```
//!
//! Committed rows are published by the [`Relay`](crate::relay::Relay); a rolled-back transaction leaves nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use jiff::Timestamp;
use pinit_contracts::events::instant;
use pinit_kernel::db::{Backend, DbError, Tx};
use sqlx::Executor;
use tokio::sync::Notify;

use crate::message::{
    AGGREGATE_VERSION, IDEMPOTENT_KEY, OCCURRED_AT, OutboundMessage, OutgoingEvent,
};

/// The PostgreSQL `NOTIFY` channel the outbox announces commits on (one database per context).
pub const NOTIFY_CHANNEL: &str = "pinit_outbox";

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("an event payload must be a JSON object, got {0}")]
    PayloadNotObject(&'static str),
    #[error("event payload cannot be encoded: {0}")]
    Encode(#[from] serde_json::Error),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for OutboxError {
    fn from(e: sqlx::Error) -> Self {
        OutboxError::Db(e.into())
    }
}

/// Records `event` in the caller's transaction and returns its id (a new UUIDv7, never changed afterwards).
///
/// The stored payload carries `idempotentKey` = the id, `occurredAt` and `aggregateVersion`, so every
/// (re-)publish sends the same bytes. On PostgreSQL it also queues a `NOTIFY`, delivered at commit, which
/// wakes relays in other processes.
pub async fn record(tx: &mut Tx, event: OutgoingEvent) -> Result<uuid::Uuid, OutboxError> {
    let id = uuid::Uuid::now_v7();
    let OutgoingEvent {
        exchange,
        routing_key,
        event_type,
        aggregate_type,
        aggregate_id,
        aggregate_version,
        mut payload,
        occurred_at,
    } = event;
    let object = match &mut payload {
        serde_json::Value::Object(map) => map,
        other => return Err(OutboxError::PayloadNotObject(json_kind(other))),
    };
    object.insert(IDEMPOTENT_KEY.into(), id.to_string().into());
    object.insert(OCCURRED_AT.into(), instant::format(occurred_at).into());
    match aggregate_version {
        Some(v) => object.insert(AGGREGATE_VERSION.into(), v.into()),
        None => object.remove(AGGREGATE_VERSION),
    };
    let body = serde_json::to_string(&payload)?;
    let now = Timestamp::now().as_microsecond();
    sqlx::query(
        "INSERT INTO messaging_outbox (event_id, exchange, routing_key, event_type, aggregate_type, \
         aggregate_id, aggregate_version, payload, occurred_at_us, created_at_us, next_attempt_at_us) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
    )
    .bind(id.to_string())
    .bind(exchange)
    .bind(routing_key)
    .bind(event_type)
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(aggregate_version)
    .bind(body)
    .bind(occurred_at.as_microsecond())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    if is_postgres(tx) && notify_due() {
        // Identical notifications of one transaction are folded into one by PostgreSQL.
        (&mut **tx).execute("NOTIFY pinit_outbox").await?;
    }
    Ok(id)
}

/// Minimum time between two `NOTIFY`s from this process, in microseconds (0 = every recording transaction).
static NOTIFY_MIN_INTERVAL_US: AtomicI64 = AtomicI64::new(0);
static LAST_NOTIFY_US: AtomicI64 = AtomicI64::new(i64::MIN);

/// Limits how often recording transactions in this process send `NOTIFY` (process-wide; default: every
/// time). A transaction that sends `NOTIFY` takes a cluster-wide lock while it commits, which caps the commit
/// rate of all notifying transactions (measured here: about 480 instead of 1,000 commits/s; see
/// `docs/benchmarks.md`). With an interval, at most one transaction per interval notifies; this process's own
/// relay is still woken on every commit by [`OutboxSignal`], other replicas within the interval.
pub fn set_notify_min_interval(interval: std::time::Duration) {
    let us = i64::try_from(interval.as_micros()).unwrap_or(i64::MAX);
    NOTIFY_MIN_INTERVAL_US.store(us, Ordering::Relaxed);
}

fn notify_due() -> bool {
    let interval = NOTIFY_MIN_INTERVAL_US.load(Ordering::Relaxed);
    if interval == 0 {
        return true;
    }
    let now = Timestamp::now().as_microsecond();
    let last = LAST_NOTIFY_US.load(Ordering::Relaxed);
    now.saturating_sub(last) >= interval
        && LAST_NOTIFY_US
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

fn is_postgres(tx: &mut Tx) -> bool {
    tx.backend_name().eq_ignore_ascii_case("PostgreSQL")
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Wakes this process's relay right after a commit (cheap to clone; hand one to every use case).
#[derive(Debug, Clone, Default)]
pub struct OutboxSignal(Arc<Notify>);

impl OutboxSignal {
    pub fn new() -> Self {
        Self::default()
    }

    /// Tells the relay that rows were committed. Call it after `commit`, never before.
    pub fn notify(&self) {
        self.0.notify_one();
    }

    /// Commits `tx`, then wakes the relay.
    pub async fn commit(&self, tx: Tx) -> Result<(), DbError> {
        tx.commit().await?;
        self.notify();
        Ok(())
    }

    pub(crate) async fn notified(&self) {
        self.0.notified().await
    }
}

/// Backlog figures (unpublished rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backlog {
    pub pending: i64,
    /// `created_at` of the oldest unpublished row.
    pub oldest_created_us: Option<i64>,
    /// The earliest moment a pending row may be tried again.
    pub next_attempt_us: Option<i64>,
}

/// A claimed row.
#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    pub seq: i64,
    pub created_at_us: i64,
    pub message: OutboundMessage,
}

type ClaimRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    String,
    i64,
    i64,
    i64,
);

/// What a publish round found out, to be written to the outbox: rows now published, rows to retry later.
#[derive(Debug, Default)]
pub(crate) struct Settlement {
    pub published: Vec<i64>,
    /// `(seq, next_attempt_at_us, error)`
    pub failed: Vec<(i64, i64, String)>,
    pub at_us: i64,
}

impl Settlement {
    pub fn is_empty(&self) -> bool {
        self.published.is_empty() && self.failed.is_empty()
    }
}

/// Writes `settlement` (if any) and claims up to `limit` publishable rows for `relay` until `lease_until_us`,
/// in one short transaction: the relay settles a round together with the next round's claim, one commit per
/// round. Claimable: unpublished, due, not claimed by a live lease, and the oldest unpublished row of its
/// aggregate (so an aggregate's events go out in order, one at a time, however many relays run) — counting
/// the rows this very transaction has just marked published.
pub(crate) async fn settle_and_claim(
    db: &pinit_kernel::Db,
    settlement: &Settlement,
    relay: &str,
    now_us: i64,
    lease_until_us: i64,
    limit: i64,
) -> Result<Vec<Claimed>, DbError> {
    let mut tx = db.begin().await?;
    write_settlement(&mut tx, settlement).await?;
    let claimed = claim_in(&mut tx, db.backend(), relay, now_us, lease_until_us, limit).await?;
    tx.commit().await?;
    Ok(claimed)
}

/// Marks published rows and schedules failed ones for a retry, in one short transaction (no claim).
pub(crate) async fn settle(db: &pinit_kernel::Db, settlement: &Settlement) -> Result<(), DbError> {
    if settlement.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    write_settlement(&mut tx, settlement).await?;
    tx.commit().await?;
    Ok(())
}

async fn claim_in(
    tx: &mut Tx,
    backend: Backend,
    relay: &str,
    now_us: i64,
    lease_until_us: i64,
    limit: i64,
) -> Result<Vec<Claimed>, DbError> {
    let sql = format!(
        "UPDATE messaging_outbox SET claimed_by = $1, claimed_until_us = $2 \
         WHERE seq IN (\
           SELECT o.seq FROM messaging_outbox o \
           WHERE o.published_at_us IS NULL \
             AND o.next_attempt_at_us <= $3 \
             AND (o.claimed_until_us IS NULL OR o.claimed_until_us < $3) \
             AND NOT EXISTS (SELECT 1 FROM messaging_outbox p \
                             WHERE p.published_at_us IS NULL \
                               AND p.aggregate_type = o.aggregate_type \
                               AND p.aggregate_id = o.aggregate_id \
                               AND p.seq < o.seq) \
           ORDER BY o.seq LIMIT $4{lock}) \
         RETURNING seq, event_id, exchange, routing_key, event_type, aggregate_type, aggregate_id, \
                   aggregate_version, payload, occurred_at_us, created_at_us, attempts",
        lock = backend.for_update_skip_locked()
    );
    let rows: Vec<ClaimRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(relay)
        .bind(lease_until_us)
        .bind(now_us)
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    let mut claimed: Vec<Claimed> = rows
        .into_iter()
        .map(
            |(
                seq,
                event_id,
                exchange,
                routing_key,
                event_type,
                aggregate_type,
                aggregate_id,
                aggregate_version,
                payload,
                occurred_at_us,
                created_at_us,
                attempts,
            )| Claimed {
                seq,
                created_at_us,
                message: OutboundMessage {
                    event_id,
                    exchange,
                    routing_key,
                    event_type,
                    aggregate_type,
                    aggregate_id,
                    aggregate_version,
                    occurred_at: Timestamp::from_microsecond(occurred_at_us)
                        .unwrap_or(Timestamp::UNIX_EPOCH),
                    payload,
                    attempts,
                },
            },
        )
        .collect();
    claimed.sort_by_key(|c| c.seq);
    Ok(claimed)
}

async fn write_settlement(tx: &mut Tx, s: &Settlement) -> Result<(), DbError> {
    for chunk in s.published.chunks(500) {
        let list = (0..chunk.len())
            .map(|i| format!("${}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "UPDATE messaging_outbox SET published_at_us = $1, claimed_by = NULL, \
             claimed_until_us = NULL, last_error = NULL WHERE seq IN ({list})"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(s.at_us);
        for seq in chunk {
            q = q.bind(*seq);
        }
        q.execute(&mut **tx).await?;
    }
    for (seq, next_us, error) in &s.failed {
        sqlx::query(
            "UPDATE messaging_outbox SET attempts = attempts + 1, next_attempt_at_us = $2, \
             last_error = $3, claimed_by = NULL, claimed_until_us = NULL WHERE seq = $1",
        )
        .bind(*seq)
        .bind(*next_us)
        .bind(truncate(error, 2000))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Gives back the claims `relay` still holds (on shutdown), so another relay need not wait for the lease.
pub(crate) async fn release(db: &pinit_kernel::Db, relay: &str) -> Result<u64, DbError> {
    let done = sqlx::query(
        "UPDATE messaging_outbox SET claimed_by = NULL, claimed_until_us = NULL \
         WHERE claimed_by = $1 AND published_at_us IS NULL",
    )
    .bind(relay)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected())
}

/// Deletes published rows older than `before_us`, in chunks (keeps SQLite's write lock short).
pub async fn prune(db: &pinit_kernel::Db, before_us: i64) -> Result<u64, DbError> {
    let mut total = 0;
    for _ in 0..100 {
        let mut tx = db.begin().await?;
        let done = sqlx::query(
            "DELETE FROM messaging_outbox WHERE seq IN (SELECT seq FROM messaging_outbox \
             WHERE published_at_us IS NOT NULL AND published_at_us < $1 ORDER BY seq LIMIT 1000)",
        )
        .bind(before_us)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        total += done.rows_affected();
        if done.rows_affected() < 1000 {
            break;
        }
    }
    Ok(total)
}

/// The current backlog.
pub async fn backlog(db: &pinit_kernel::Db) -> Result<Backlog, DbError> {
    let (pending, oldest, next): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MIN(created_at_us), MIN(next_attempt_at_us) FROM messaging_outbox \
         WHERE published_at_us IS NULL",
    )
    .fetch_one(db.pool())
    .await?;
    Ok(Backlog {
        pending,
        oldest_created_us: oldest,
        next_attempt_us: next,
    })
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Whether `db` is PostgreSQL (relays listen for NOTIFY there).
pub(crate) fn listens(db: &pinit_kernel::Db) -> bool {
    db.backend() == Backend::Postgres
}
