//! The transactional outbox: a use case records its events in the same transaction as its state change.
//!
//! ```ignore
//! let mut tx = db.begin().await?;
//! // … change the schedule, bump its version …
//! outbox.record(&mut tx, OutgoingEvent::new(channel::SCHEDULE_DELETED, "schedule", id, version, &payload, now)?).await?;
//! outbox.commit(tx).await?; // commit, then wake the relay
//! ```
//!
//! Committed rows are published by the [`Relay`](crate::relay::Relay); a rolled-back transaction leaves nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use pinit_kernel::db::{Backend, DbError, Tx};
use pinit_kernel::text::truncate;
use pinit_kernel::trace::TraceContext;
use pinit_kernel::{SharedClock, WakeSignal};
use sqlx::Executor;

use crate::message::{
    AGGREGATE_VERSION, IDEMPOTENT_KEY, OCCURRED_AT, OutboundMessage, OutgoingEvent, instant,
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

/// One context's outbox: records events in the caller's transaction and wakes that context's relay after
/// commit. Cheap to clone; hand one to every use case of the context, and the same one to its [`Relay`].
///
/// [`Relay`]: crate::relay::Relay
#[derive(Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

struct Inner {
    wake: WakeSignal,
    clock: SharedClock,
    /// Minimum time between two `NOTIFY`s (µs; 0 = every recording transaction) and the last one sent.
    notify_min_interval_us: i64,
    last_notify_us: AtomicI64,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("notify_min_interval_us", &self.inner.notify_min_interval_us)
            .finish_non_exhaustive()
    }
}

impl Outbox {
    /// An outbox whose rows are stamped by `clock`. On PostgreSQL a recording transaction also sends `NOTIFY`
    /// (waking relays in other processes), at most once per `notify_min_interval` from this outbox (zero:
    /// every time). A transaction that sends `NOTIFY` takes a cluster-wide lock while it commits, which caps
    /// the commit rate of all notifying transactions (measured in `docs/benchmarks.md`); this outbox's own relay is woken on every commit anyway ([`Outbox::commit`]),
    /// other replicas' relays within the interval.
    pub fn new(clock: SharedClock, notify_min_interval: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                wake: WakeSignal::new(),
                clock,
                notify_min_interval_us: i64::try_from(notify_min_interval.as_micros())
                    .unwrap_or(i64::MAX),
                last_notify_us: AtomicI64::new(i64::MIN),
            }),
        }
    }

    /// The clock that stamps this outbox's rows (its relay runs on it too).
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// Records `event` in the caller's transaction and returns its id (a new UUIDv7, never changed afterwards).
    ///
    /// The stored payload carries `idempotentKey` = the id, `occurredAt` and `aggregateVersion`, so every
    /// (re-)publish sends the same bytes. On PostgreSQL it may also queue a `NOTIFY` (see [`Outbox::new`]),
    /// delivered at commit.
    pub async fn record(
        &self,
        tx: &mut Tx,
        event: OutgoingEvent,
    ) -> Result<uuid::Uuid, OutboxError> {
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
        let now = self.now_us();
        // The trace the change was made in goes along, so the consumer's span joins it (docs/observability.md).
        let trace_context = pinit_kernel::trace::current().map(|c| c.to_stored());
        sqlx::query(
            "INSERT INTO messaging_outbox (event_id, exchange, routing_key, event_type, aggregate_type, \
             aggregate_id, aggregate_version, payload, occurred_at_us, created_at_us, next_attempt_at_us, \
             trace_context) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11)",
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
        .bind(trace_context)
        .execute(&mut **tx)
        .await?;
        if is_postgres(tx) && self.notify_due(now) {
            // Identical notifications of one transaction are folded into one by PostgreSQL.
            (&mut **tx).execute("NOTIFY pinit_outbox").await?;
        }
        Ok(id)
    }

    /// Tells the relay that rows were committed. Call it after `commit`, never before.
    pub fn notify(&self) {
        self.inner.wake.wake();
    }

    /// Commits `tx`, then wakes the relay.
    pub async fn commit(&self, tx: Tx) -> Result<(), DbError> {
        tx.commit().await?;
        self.notify();
        Ok(())
    }

    pub(crate) fn signal(&self) -> WakeSignal {
        self.inner.wake.clone()
    }

    pub(crate) fn now_us(&self) -> i64 {
        self.inner.clock.now().as_microsecond()
    }

    fn notify_due(&self, now: i64) -> bool {
        let interval = self.inner.notify_min_interval_us;
        if interval == 0 {
            return true;
        }
        let last = self.inner.last_notify_us.load(Ordering::Relaxed);
        now.saturating_sub(last) >= interval
            && self
                .inner
                .last_notify_us
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
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

/// Backlog figures: unpublished rows still being tried (parked rows are not part of the backlog).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backlog {
    pub pending: i64,
    /// Parked rows (gave up after `relay.max_attempts`, waiting for an operator).
    pub parked: i64,
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
    Option<String>,
);

/// What a publish round found out, to be written to the outbox: rows now published, rows to retry later,
/// rows that failed their last allowed attempt.
#[derive(Debug, Default)]
pub(crate) struct Settlement {
    pub published: Vec<i64>,
    /// `(seq, next_attempt_at_us, error)`
    pub failed: Vec<(i64, i64, String)>,
    /// `(seq, error)`: parked at `at_us`.
    pub parked: Vec<(i64, String)>,
    pub at_us: i64,
}

impl Settlement {
    pub fn is_empty(&self) -> bool {
        self.published.is_empty() && self.failed.is_empty() && self.parked.is_empty()
    }
}

/// Writes `settlement` (if any) and claims up to `limit` publishable rows for `relay` until `lease_until_us`,
/// in one short transaction: the relay settles a round together with the next round's claim, one commit per
/// round. Claimable: unpublished, not parked, due, not claimed by a live lease, and the oldest such row of its
/// aggregate (so an aggregate's events go out in order, one at a time, however many relays run) — counting
/// the rows this very transaction has just marked published. A parked row no longer holds back the later
/// events of its aggregate (consumers skip it as stale if it is re-driven after them).
///
/// On PostgreSQL, when nothing failed (the usual round), this is a single statement — the settlement as a
/// data-modifying `WITH` — so one round trip instead of four (`BEGIN`, two `UPDATE`s, `COMMIT`); under load
/// every round trip waits for a core, and the relay's round time is what an event committed meanwhile waits.
pub(crate) async fn settle_and_claim(
    db: &pinit_kernel::Db,
    settlement: &Settlement,
    relay: &str,
    now_us: i64,
    lease_until_us: i64,
    limit: i64,
) -> Result<Vec<Claimed>, DbError> {
    let claim = Claim {
        relay,
        now_us,
        lease_until_us,
        limit,
    };
    if db.backend() == Backend::Postgres
        && settlement.failed.is_empty()
        && settlement.parked.is_empty()
    {
        // The statement's own snapshot still shows the rows it marks published as unpublished: the claim
        // leaves them out by seq, both as candidates and as an aggregate's earlier pending row.
        let sql = settling_claim_sql();
        let seqs = settlement
            .published
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let rows = claim
            .bind(sqlx::query_as(sqlx::AssertSqlSafe(sql)))
            .bind(settlement.at_us)
            .bind(format!("{{{seqs}}}"))
            .fetch_all(db.pool())
            .await?;
        return Ok(claimed_rows(rows));
    }
    let mut tx = db.begin().await?;
    write_settlement(&mut tx, settlement).await?;
    let sql = claim_sql(db.backend(), "", "", "");
    let rows = claim
        .bind(sqlx::query_as(sqlx::AssertSqlSafe(sql)))
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(claimed_rows(rows))
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

/// The claim's parameters, bound as `$1`–`$4` of [`claim_sql`].
struct Claim<'a> {
    relay: &'a str,
    now_us: i64,
    lease_until_us: i64,
    limit: i64,
}

type ClaimQuery<'q> =
    sqlx::query::QueryAs<'q, sqlx::Any, ClaimRow, <sqlx::Any as sqlx::Database>::Arguments>;

impl Claim<'_> {
    fn bind<'q>(&self, query: ClaimQuery<'q>) -> ClaimQuery<'q> {
        query
            .bind(self.relay.to_string())
            .bind(self.lease_until_us)
            .bind(self.now_us)
            .bind(self.limit)
    }
}

/// PostgreSQL's settle-and-claim in one statement: [`claim_sql`] with `$5` = published at, `$6` = the published
/// seqs as an array literal (`{1,2,3}`).
fn settling_claim_sql() -> String {
    claim_sql(
        Backend::Postgres,
        "WITH settled AS (UPDATE messaging_outbox SET published_at_us = $5, claimed_by = NULL, \
           claimed_until_us = NULL, last_error = NULL WHERE seq = ANY($6::bigint[])) ",
        " AND NOT (o.seq = ANY($6::bigint[]))",
        " AND NOT (p.seq = ANY($6::bigint[]))",
    )
}

/// The claim statement: `prefix` goes before it (a `WITH`), `candidate` and `earlier` are extra conditions on
/// a candidate row `o` and on the pending rows `p` of its aggregate.
///
/// "The oldest pending row of its aggregate" is written as `o.seq = (… ORDER BY p.seq LIMIT 1)`, a lookup the
/// planner can only answer with the `(aggregate_type, aggregate_id, seq)` index. As `NOT EXISTS (… p.seq <
/// o.seq)` a generic plan cached while the table was nearly empty (a fresh deployment) scanned every pending
/// row for every candidate, so a claim slowed down as the backlog grew and the backlog only grew
/// (`docs/messaging.md`, "Claim plans").
fn claim_sql(backend: Backend, prefix: &str, candidate: &str, earlier: &str) -> String {
    let (open, close) = backend.in_subquery();
    format!(
        "{prefix}UPDATE messaging_outbox SET claimed_by = $1, claimed_until_us = $2 \
         WHERE seq {open}\
           SELECT o.seq FROM messaging_outbox o \
           WHERE o.published_at_us IS NULL AND o.parked_at_us IS NULL{candidate} \
             AND o.next_attempt_at_us <= $3 \
             AND (o.claimed_until_us IS NULL OR o.claimed_until_us < $3) \
             AND o.seq = (SELECT p.seq FROM messaging_outbox p \
                          WHERE p.published_at_us IS NULL AND p.parked_at_us IS NULL{earlier} \
                            AND p.aggregate_type = o.aggregate_type \
                            AND p.aggregate_id = o.aggregate_id \
                          ORDER BY p.seq LIMIT 1) \
           ORDER BY o.seq LIMIT $4{lock}{close} \
         RETURNING seq, event_id, exchange, routing_key, event_type, aggregate_type, aggregate_id, \
                   aggregate_version, payload, occurred_at_us, created_at_us, attempts, trace_context",
        lock = backend.for_update_skip_locked(),
    )
}

fn claimed_rows(rows: Vec<ClaimRow>) -> Vec<Claimed> {
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
                trace_context,
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
                    trace_context: trace_context.as_deref().and_then(TraceContext::from_stored),
                },
            },
        )
        .collect();
    claimed.sort_by_key(|c| c.seq);
    claimed
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
    for (seq, error) in &s.parked {
        sqlx::query(
            "UPDATE messaging_outbox SET attempts = attempts + 1, parked_at_us = $2, last_error = $3, \
             claimed_by = NULL, claimed_until_us = NULL WHERE seq = $1",
        )
        .bind(*seq)
        .bind(s.at_us)
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

/// The current backlog, and how many rows are parked.
pub async fn backlog(db: &pinit_kernel::Db) -> Result<Backlog, DbError> {
    let (pending, oldest, next): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MIN(created_at_us), MIN(next_attempt_at_us) FROM messaging_outbox \
         WHERE published_at_us IS NULL AND parked_at_us IS NULL",
    )
    .fetch_one(db.pool())
    .await?;
    let parked: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM messaging_outbox WHERE parked_at_us IS NOT NULL")
            .fetch_one(db.pool())
            .await?;
    Ok(Backlog {
        pending,
        parked,
        oldest_created_us: oldest,
        next_attempt_us: next,
    })
}

/// Whether `db` is PostgreSQL (relays listen for NOTIFY there).
pub(crate) fn listens(db: &pinit_kernel::Db) -> bool {
    db.backend() == Backend::Postgres
}

#[cfg(test)]
mod tests {
    use super::*;
    use pinit_testkit::TestDb;

    /// A fresh deployment caches the claim's generic plan while the outbox is empty; when a backlog builds
    /// later, that same plan must still read pages in proportion to what it claims (the earlier `NOT EXISTS`
    /// form read pages in proportion to the whole backlog).
    #[tokio::test]
    async fn a_claim_plan_cached_on_an_empty_outbox_stays_cheap_with_a_backlog() {
        let (_guard, db) = TestDb::migrated(
            pinit_testkit::Backend::Postgres,
            "claim-plan",
            &[&crate::OUTBOX_MIGRATIONS],
        )
        .await;
        let mut conn = db.pool().acquire().await.unwrap();
        sqlx::raw_sql("SET plan_cache_mode = force_generic_plan")
            .execute(&mut *conn)
            .await
            .unwrap();
        let prepare = format!(
            "PREPARE claim(text, bigint, bigint, bigint, bigint, text) AS {}",
            settling_claim_sql()
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(prepare))
            .execute(&mut *conn)
            .await
            .unwrap();
        let claim = "EXECUTE claim('relay', 10, 5, 100, 7, '{}')";
        sqlx::raw_sql(claim).execute(&mut *conn).await.unwrap();
        // 5,000 pending events over 200 aggregates: 25 each, only the oldest of each claimable.
        sqlx::raw_sql(
            "INSERT INTO messaging_outbox (event_id, exchange, routing_key, event_type, aggregate_type, \
               aggregate_id, aggregate_version, payload, occurred_at_us, created_at_us, next_attempt_at_us) \
             SELECT 'e' || g, 'x', 'k', 't', 'a', (g % 200)::text, g / 200, '{}', 0, 0, 0 \
             FROM generate_series(1, 5000) g",
        )
        .execute(&mut *conn)
        .await
        .unwrap();
        let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF) {claim}"
        )))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        let text = plan.join("\n");
        assert!(plan[0].contains("actual rows=100 "), "{text}");
        // The top node's buffers: `Buffers: shared hit=N[ read=M] …`.
        let buffers: u64 = plan
            .iter()
            .find(|l| l.trim_start().starts_with("Buffers:"))
            .map(|l| {
                l.split_whitespace()
                    .filter_map(|w| w.split_once('='))
                    .filter(|(k, _)| *k == "hit" || *k == "read")
                    .filter_map(|(_, v)| v.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or_else(|| panic!("no buffer counts in\n{text}"));
        assert!(
            buffers < 10_000,
            "claiming 100 rows read {buffers} buffers:\n{text}"
        );
    }
}
