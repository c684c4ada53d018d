//! The notification context's SQL, written once for SQLite and PostgreSQL (`docs/adr/0002-…`).
//! Instants are microseconds since the Unix epoch; flags are 0/1 integers.

use pinit_kernel::db::{Backend, Conn, DbError, Tx};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::{DeviceId, PushTarget};

type Result<T> = std::result::Result<T, DbError>;

/// Ids per `IN (…)` list.
const CHUNK: usize = 500;

fn placeholders(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parameters per multi-row statement. SQLite's parser resolves `$N` placeholders with a linear search, so
/// preparing a statement is quadratic in them (30,000: seconds; 2,000: ~25 ms, and then cached); on PostgreSQL a
/// few more statements per batch cost next to nothing.
const MAX_PARAMS: usize = 2_000;

/// `($from, …), (…)`: `rows` tuples of `columns` numbered placeholders.
fn value_rows(from: usize, rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholders(from + r * columns, columns)))
        .collect::<Vec<_>>()
        .join(", ")
}

// ------------------------------------------------------------------------------------------------------------
// Subscriptions
// ------------------------------------------------------------------------------------------------------------

/// A stored subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRow {
    pub subscription_id: i64,
    pub member_id: i64,
    pub device_id: String,
    pub kind: String,
    pub address: String,
    pub p256dh: Option<String>,
    pub auth_secret: Option<String>,
}

const SUBSCRIPTION_COLUMNS: &str =
    "subscription_id, member_id, device_id, kind, address, p256dh, auth_secret";

fn subscription(row: &AnyRow) -> Result<SubscriptionRow> {
    Ok(SubscriptionRow {
        subscription_id: row.try_get(0)?,
        member_id: row.try_get(1)?,
        device_id: row.try_get(2)?,
        kind: row.try_get(3)?,
        address: row.try_get(4)?,
        p256dh: row.try_get(5)?,
        auth_secret: row.try_get(6)?,
    })
}

/// Stores the device's subscription, replacing its previous one; moves the token/endpoint away from any other
/// (member, device) that held it. Returns how many other subscriptions gave it up.
pub async fn upsert_subscription(
    tx: &mut Tx,
    member_id: i64,
    device: &DeviceId,
    target: &PushTarget,
    now_us: i64,
) -> Result<u64> {
    let moved = sqlx::query(
        "DELETE FROM push_subscription WHERE address = $1 AND NOT (member_id = $2 AND device_id = $3)",
    )
    .bind(target.address())
    .bind(member_id)
    .bind(device.as_str())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let (p256dh, auth) = match target {
        PushTarget::WebPush { p256dh, auth, .. } => (Some(p256dh.as_str()), Some(auth.as_str())),
        PushTarget::Fcm { .. } => (None, None),
    };
    sqlx::query(
        "INSERT INTO push_subscription (member_id, device_id, kind, address, p256dh, auth_secret, \
           created_at_us, updated_at_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
         ON CONFLICT (member_id, device_id) DO UPDATE SET kind = excluded.kind, address = excluded.address, \
           p256dh = excluded.p256dh, auth_secret = excluded.auth_secret, updated_at_us = excluded.updated_at_us, \
           last_success_at_us = CASE WHEN push_subscription.address = excluded.address \
             THEN push_subscription.last_success_at_us ELSE NULL END",
    )
    .bind(member_id)
    .bind(device.as_str())
    .bind(target.kind())
    .bind(target.address())
    .bind(p256dh)
    .bind(auth)
    .bind(now_us)
    .execute(&mut **tx)
    .await?;
    Ok(moved)
}

/// Deletes the device's subscription; false when there was none.
pub async fn delete_subscription(conn: &mut Conn, member_id: i64, device_id: &str) -> Result<bool> {
    let n = sqlx::query("DELETE FROM push_subscription WHERE member_id = $1 AND device_id = $2")
        .bind(member_id)
        .bind(device_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(n > 0)
}

pub async fn is_subscribed(conn: &mut Conn, member_id: i64, device_id: &str) -> Result<bool> {
    let row =
        sqlx::query("SELECT 1 FROM push_subscription WHERE member_id = $1 AND device_id = $2")
            .bind(member_id)
            .bind(device_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.is_some())
}

/// Every subscription of these members.
pub async fn subscriptions_of(conn: &mut Conn, member_ids: &[i64]) -> Result<Vec<SubscriptionRow>> {
    let mut out = Vec::new();
    for chunk in member_ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM push_subscription WHERE member_id IN ({}) \
             ORDER BY member_id, device_id",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut *conn).await? {
            out.push(subscription(&row)?);
        }
    }
    Ok(out)
}

/// Deletes a subscription the push service declared gone — unless the device re-subscribed with another
/// address meanwhile.
pub async fn delete_gone(tx: &mut Tx, subscription_id: i64, address: &str) -> Result<bool> {
    let n =
        sqlx::query("DELETE FROM push_subscription WHERE subscription_id = $1 AND address = $2")
            .bind(subscription_id)
            .bind(address)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    Ok(n > 0)
}

/// How precisely a subscription's last success is kept: it is rewritten only when the stored one is older than
/// this. Pruning counts idle time in days (`subscription_max_idle`, 90 by default), while a member with several
/// pushes a day would otherwise rewrite each of their subscriptions on every push. On PostgreSQL the rewrite
/// happens in place (migration 0003 keeps room on the table's pages), which made it cheaper, not free.
pub const SUCCESS_PRECISION_US: i64 = 24 * 3600 * 1_000_000;

/// Records a successful delivery on many subscriptions (rows are locked in id order), leaving alone those
/// whose recorded success is less than [`SUCCESS_PRECISION_US`] old.
pub async fn touch_successes(tx: &mut Tx, subscription_ids: &[i64], now_us: i64) -> Result<()> {
    let mut ids = subscription_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "UPDATE push_subscription SET last_success_at_us = $1 WHERE subscription_id IN ({}) \
             AND (last_success_at_us IS NULL OR last_success_at_us < $2)",
            placeholders(3, chunk.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now_us)
            .bind(now_us.saturating_sub(SUCCESS_PRECISION_US));
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Deletes subscriptions neither refreshed nor delivered to since `before_us`.
pub async fn prune_idle_subscriptions(conn: &mut Conn, before_us: i64) -> Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM push_subscription WHERE updated_at_us < $1 \
         AND (last_success_at_us IS NULL OR last_success_at_us < $1)",
    )
    .bind(before_us)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

// ------------------------------------------------------------------------------------------------------------
// Upcoming notifications and watermarks
// ------------------------------------------------------------------------------------------------------------

/// A pending notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRow {
    pub schedule_id: i64,
    pub owner_id: i64,
    pub title: String,
    pub start_at_us: i64,
    pub resolved: bool,
    pub idempotent_key: String,
    pub next_attempt_at_us: i64,
    pub attempts: i64,
    pub lease_owner: Option<String>,
}

const NOTIFICATION_COLUMNS: &str = "schedule_id, owner_id, schedule_title, start_at_us, resolved, \
    idempotent_key, next_attempt_at_us, attempts, lease_owner";

fn notification(row: &AnyRow) -> Result<NotificationRow> {
    Ok(NotificationRow {
        schedule_id: row.try_get(0)?,
        owner_id: row.try_get(1)?,
        title: row.try_get(2)?,
        start_at_us: row.try_get(3)?,
        resolved: row.try_get::<i64, _>(4)? != 0,
        idempotent_key: row.try_get(5)?,
        next_attempt_at_us: row.try_get(6)?,
        attempts: row.try_get(7)?,
        lease_owner: row.try_get(8)?,
    })
}

pub async fn notification_of(conn: &mut Conn, schedule_id: i64) -> Result<Option<NotificationRow>> {
    let sql =
        format!("SELECT {NOTIFICATION_COLUMNS} FROM upcoming_notification WHERE schedule_id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(schedule_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(notification).transpose()
}

/// Every pending notification, soonest first (tests, operators).
pub async fn notifications(conn: &mut Conn) -> Result<Vec<NotificationRow>> {
    let sql = format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM upcoming_notification ORDER BY next_attempt_at_us, schedule_id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(notification).collect()
}

/// Arms (or re-arms) a schedule's notification: due at `start_at_us`, a fresh key, no lease, no attempts.
#[allow(clippy::too_many_arguments)]
pub async fn arm(
    tx: &mut Tx,
    schedule_id: i64,
    owner_id: i64,
    title: &str,
    start_at_us: i64,
    resolved: bool,
    idempotent_key: &str,
    next_attempt_at_us: i64,
    now_us: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO upcoming_notification (schedule_id, owner_id, schedule_title, start_at_us, resolved, \
           idempotent_key, next_attempt_at_us, attempts, lease_owner, lease_until_us, created_at_us, updated_at_us) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, NULL, NULL, $8, $8) \
         ON CONFLICT (schedule_id) DO UPDATE SET owner_id = excluded.owner_id, \
           schedule_title = CASE WHEN excluded.schedule_title = '' THEN upcoming_notification.schedule_title \
             ELSE excluded.schedule_title END, \
           start_at_us = excluded.start_at_us, resolved = excluded.resolved, \
           idempotent_key = excluded.idempotent_key, next_attempt_at_us = excluded.next_attempt_at_us, \
           attempts = 0, lease_owner = NULL, lease_until_us = NULL, updated_at_us = excluded.updated_at_us",
    )
    .bind(schedule_id)
    .bind(owner_id)
    .bind(title)
    .bind(start_at_us)
    .bind(i64::from(resolved))
    .bind(idempotent_key)
    .bind(next_attempt_at_us)
    .bind(now_us)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Removes a schedule's pending notification; returns its key when there was one.
pub async fn disarm(tx: &mut Tx, schedule_id: i64) -> Result<Option<String>> {
    let row = sqlx::query(
        "DELETE FROM upcoming_notification WHERE schedule_id = $1 RETURNING idempotent_key",
    )
    .bind(schedule_id)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| r.try_get::<String, _>(0).map_err(DbError::from))
        .transpose()
}

/// Devices still waiting for a retry of an abandoned notification give up.
pub async fn abandon_retries(
    tx: &mut Tx,
    idempotent_key: &str,
    reason: &str,
    now_us: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE push_delivery SET status = 'failed', last_error = $2, next_attempt_at_us = NULL, \
         updated_at_us = $3 WHERE idempotent_key = $1 AND status = 'retrying'",
    )
    .bind(idempotent_key)
    .bind(reason)
    .bind(now_us)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The newest event applied to a schedule, and what it left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Watermark {
    pub version: Option<i64>,
    pub occurred_at_us: Option<i64>,
    pub deleted: bool,
    pub fired_start_at_us: Option<i64>,
}

/// Locks a schedule's watermark row (creating an empty one), so events of one schedule apply one at a time
/// even when they arrive on different queues. An empty row has no version, time or flags.
pub async fn lock_watermark(
    tx: &mut Tx,
    backend: Backend,
    schedule_id: i64,
    now_us: i64,
) -> Result<Watermark> {
    sqlx::query(
        "INSERT INTO schedule_watermark (schedule_id, version, occurred_at_us, deleted, fired_start_at_us, updated_at_us) \
         VALUES ($1, NULL, NULL, 0, NULL, $2) ON CONFLICT (schedule_id) DO NOTHING",
    )
    .bind(schedule_id)
    .bind(now_us)
    .execute(&mut **tx)
    .await?;
    let sql = format!(
        "SELECT version, occurred_at_us, deleted, fired_start_at_us FROM schedule_watermark \
         WHERE schedule_id = $1{}",
        backend.for_update()
    );
    let r = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(schedule_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(Watermark {
        version: r.try_get(0)?,
        occurred_at_us: r.try_get(1)?,
        deleted: r.try_get::<i64, _>(2)? != 0,
        fired_start_at_us: r.try_get(3)?,
    })
}

/// Locks the watermark rows of many schedules (creating empty ones): the dispatcher takes them before it
/// touches their notifications and deliveries, in the same order as the event handlers (watermark first), so
/// the two never deadlock on PostgreSQL.
pub async fn lock_watermarks(
    tx: &mut Tx,
    backend: Backend,
    schedule_ids: &[i64],
    now_us: i64,
) -> Result<()> {
    let mut ids = schedule_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    for chunk in ids.chunks(CHUNK) {
        let values = (0..chunk.len())
            .map(|i| format!("(${}, NULL, NULL, 0, NULL, $1)", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO schedule_watermark (schedule_id, version, occurred_at_us, deleted, fired_start_at_us, \
             updated_at_us) VALUES {values} ON CONFLICT (schedule_id) DO NOTHING"
        );
        let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now_us);
        for id in chunk {
            insert = insert.bind(*id);
        }
        insert.execute(&mut **tx).await?;
        if backend == Backend::Postgres {
            let sql = format!(
                "SELECT schedule_id FROM schedule_watermark WHERE schedule_id IN ({}) ORDER BY schedule_id FOR UPDATE",
                placeholders(1, chunk.len())
            );
            let mut select = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                select = select.bind(*id);
            }
            select.fetch_all(&mut **tx).await?;
        }
    }
    Ok(())
}

pub async fn save_watermark(
    tx: &mut Tx,
    schedule_id: i64,
    w: &Watermark,
    now_us: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO schedule_watermark (schedule_id, version, occurred_at_us, deleted, fired_start_at_us, updated_at_us) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (schedule_id) DO UPDATE SET version = excluded.version, occurred_at_us = excluded.occurred_at_us, \
           deleted = excluded.deleted, fired_start_at_us = excluded.fired_start_at_us, updated_at_us = excluded.updated_at_us",
    )
    .bind(schedule_id)
    .bind(w.version)
    .bind(w.occurred_at_us)
    .bind(i64::from(w.deleted))
    .bind(w.fired_start_at_us)
    .bind(now_us)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records, per `(schedule_id, start_at_us)`, that the notification for that start went out (or was dropped):
/// an event re-announcing the same start does not arm it again. A schedule listed twice keeps its last start.
pub async fn mark_fired_many(tx: &mut Tx, fired: &[(i64, i64)], now_us: i64) -> Result<()> {
    let fired = last_per_key(fired, |f| f.0);
    for chunk in fired.chunks(MAX_PARAMS / 2) {
        let values = (0..chunk.len())
            .map(|i| format!("(${}, NULL, NULL, 0, ${}, $1)", 2 * i + 2, 2 * i + 3))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO schedule_watermark (schedule_id, version, occurred_at_us, deleted, fired_start_at_us, \
             updated_at_us) VALUES {values} \
             ON CONFLICT (schedule_id) DO UPDATE SET fired_start_at_us = excluded.fired_start_at_us, \
               updated_at_us = excluded.updated_at_us"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now_us);
        for &&(schedule_id, start_at_us) in chunk {
            query = query.bind(schedule_id).bind(start_at_us);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The last item of each key, in first-seen key order: one multi-row upsert may not touch a row twice
/// (PostgreSQL refuses it).
fn last_per_key<'a, T, K: std::hash::Hash + Eq>(
    items: &'a [T],
    key: impl Fn(&'a T) -> K,
) -> Vec<&'a T> {
    let mut at: std::collections::HashMap<K, usize> =
        std::collections::HashMap::with_capacity(items.len());
    let mut out: Vec<&'a T> = Vec::with_capacity(items.len());
    for item in items {
        match at.entry(key(item)) {
            std::collections::hash_map::Entry::Occupied(e) => out[*e.get()] = item,
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(out.len());
                out.push(item);
            }
        }
    }
    out
}

// ------------------------------------------------------------------------------------------------------------
// Dispatch
// ------------------------------------------------------------------------------------------------------------

/// Claims up to `limit` due, unclaimed notifications for `owner` until `lease_until_us`.
pub async fn claim(
    tx: &mut Tx,
    backend: Backend,
    owner: &str,
    now_us: i64,
    lease_until_us: i64,
    limit: i64,
) -> Result<Vec<NotificationRow>> {
    // As an `IN (…)` semi-join, claims every few milliseconds (a busy minute) cost more than the sends.
    let (open, close) = backend.in_subquery();
    let sql = format!(
        "UPDATE upcoming_notification SET lease_owner = $1, lease_until_us = $2, attempts = attempts + 1, \
           updated_at_us = $3 \
         WHERE schedule_id {open}SELECT schedule_id FROM upcoming_notification \
           WHERE next_attempt_at_us <= $3 AND (lease_until_us IS NULL OR lease_until_us <= $3) \
           ORDER BY next_attempt_at_us LIMIT $4{}{close} \
         RETURNING {NOTIFICATION_COLUMNS}",
        backend.for_update_skip_locked()
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(owner)
        .bind(lease_until_us)
        .bind(now_us)
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    let mut claimed = rows.iter().map(notification).collect::<Result<Vec<_>>>()?;
    claimed.sort_by_key(|n| (n.next_attempt_at_us, n.schedule_id));
    Ok(claimed)
}

/// When a dispatcher should look next: the earliest unclaimed due time or claim expiry.
pub async fn next_wake(conn: &mut Conn) -> Result<Option<i64>> {
    let due: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(next_attempt_at_us) FROM upcoming_notification WHERE lease_until_us IS NULL",
    )
    .fetch_one(&mut *conn)
    .await?;
    let lease: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(lease_until_us) FROM upcoming_notification WHERE lease_until_us IS NOT NULL",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(match (due, lease) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

/// Notifications due now (claimed or not).
pub async fn backlog(conn: &mut Conn, now_us: i64) -> Result<i64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM upcoming_notification WHERE next_attempt_at_us <= $1",
    )
    .bind(now_us)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n)
}

/// Gives a claimed notification back, to be looked at again at `next_at_us` (optionally with the start time
/// and title the task service confirmed). False when the claim was lost (moved, re-armed, removed, expired).
#[allow(clippy::too_many_arguments)]
pub async fn release(
    tx: &mut Tx,
    schedule_id: i64,
    owner: &str,
    key: &str,
    next_at_us: i64,
    confirmed: Option<(i64, &str)>,
    now_us: i64,
) -> Result<bool> {
    let (start, title) = match confirmed {
        Some((start, title)) => (Some(start), Some(title)),
        None => (None, None),
    };
    let n = sqlx::query(
        "UPDATE upcoming_notification SET next_attempt_at_us = $1, lease_owner = NULL, lease_until_us = NULL, \
           start_at_us = COALESCE($2, start_at_us), \
           schedule_title = CASE WHEN $3 IS NULL OR $3 = '' THEN schedule_title ELSE $3 END, \
           resolved = CASE WHEN $2 IS NULL THEN resolved ELSE 1 END, updated_at_us = $4 \
         WHERE schedule_id = $5 AND lease_owner = $6 AND idempotent_key = $7",
    )
    .bind(next_at_us)
    .bind(start)
    .bind(title)
    .bind(now_us)
    .bind(schedule_id)
    .bind(owner)
    .bind(key)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// Deletes the claimed notifications that are done, given as `(schedule_id, idempotent_key)` claimed by
/// `owner`; returns the schedule ids whose notification was deleted (the others lost their claim: moved,
/// re-armed, removed or expired).
pub async fn finish_many(
    tx: &mut Tx,
    owner: &str,
    done: &[(i64, &str)],
) -> Result<std::collections::HashSet<i64>> {
    let mut deleted = std::collections::HashSet::with_capacity(done.len());
    for chunk in done.chunks(CHUNK) {
        // The primary key finds the rows (`schedule_id IN`); the CASE then checks each one's key. A row-value
        // `(schedule_id, idempotent_key) IN (VALUES …)` is planned badly by PostgreSQL here (its `lease_owner`
        // statistics date from before anything was claimed): 100 ms to seconds per batch at 200,000 rows.
        let ids = (0..chunk.len())
            .map(|i| format!("${}", 2 * i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let keys = (0..chunk.len())
            .map(|i| format!("WHEN ${} THEN ${}", 2 * i + 2, 2 * i + 3))
            .collect::<Vec<_>>()
            .join(" ");
        let sql = format!(
            "DELETE FROM upcoming_notification WHERE lease_owner = $1 AND schedule_id IN ({ids}) \
             AND idempotent_key = CASE schedule_id {keys} END RETURNING schedule_id"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(owner);
        for (schedule_id, key) in chunk {
            query = query.bind(*schedule_id).bind(*key);
        }
        for row in query.fetch_all(&mut **tx).await? {
            deleted.insert(row.try_get::<i64, _>(0)?);
        }
    }
    Ok(deleted)
}

/// How a notification ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRow {
    pub idempotent_key: String,
    pub schedule_id: i64,
    pub owner_id: i64,
    pub start_at_us: i64,
    pub outcome: String,
    pub detail: Option<String>,
    pub devices: i64,
    pub delivered: i64,
    pub finished_at_us: i64,
}

/// Records how notifications ended (a key listed twice keeps its last outcome).
pub async fn record_outcomes(tx: &mut Tx, outcomes: &[OutcomeRow]) -> Result<()> {
    const COLUMNS: usize = 9;
    let outcomes = last_per_key(outcomes, |o| o.idempotent_key.as_str());
    for chunk in outcomes.chunks(MAX_PARAMS / COLUMNS) {
        let sql = format!(
            "INSERT INTO notification_outcome (idempotent_key, schedule_id, owner_id, start_at_us, outcome, \
               detail, devices, delivered, finished_at_us) VALUES {} \
             ON CONFLICT (idempotent_key) DO UPDATE SET outcome = excluded.outcome, detail = excluded.detail, \
               devices = excluded.devices, delivered = excluded.delivered, finished_at_us = excluded.finished_at_us",
            value_rows(1, chunk.len(), COLUMNS)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for o in chunk {
            query = query
                .bind(o.idempotent_key.as_str())
                .bind(o.schedule_id)
                .bind(o.owner_id)
                .bind(o.start_at_us)
                .bind(o.outcome.as_str())
                .bind(o.detail.as_deref())
                .bind(o.devices)
                .bind(o.delivered)
                .bind(o.finished_at_us);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

pub async fn outcomes_of(conn: &mut Conn, schedule_id: i64) -> Result<Vec<OutcomeRow>> {
    let rows = sqlx::query(
        "SELECT idempotent_key, schedule_id, owner_id, start_at_us, outcome, detail, devices, delivered, \
           finished_at_us FROM notification_outcome WHERE schedule_id = $1 ORDER BY finished_at_us",
    )
    .bind(schedule_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(OutcomeRow {
                idempotent_key: r.try_get(0)?,
                schedule_id: r.try_get(1)?,
                owner_id: r.try_get(2)?,
                start_at_us: r.try_get(3)?,
                outcome: r.try_get(4)?,
                detail: r.try_get(5)?,
                devices: r.try_get(6)?,
                delivered: r.try_get(7)?,
                finished_at_us: r.try_get(8)?,
            })
        })
        .collect()
}

/// One device's delivery of one notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub idempotent_key: String,
    pub device_id: String,
    pub schedule_id: i64,
    pub owner_id: i64,
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    pub last_http_status: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at_us: Option<i64>,
    pub start_at_us: i64,
    pub sent_at_us: Option<i64>,
}

const DELIVERY_COLUMNS: &str = "idempotent_key, device_id, schedule_id, owner_id, kind, status, attempts, \
    last_http_status, last_error, next_attempt_at_us, start_at_us, sent_at_us";

fn delivery(r: &AnyRow) -> Result<DeliveryRow> {
    Ok(DeliveryRow {
        idempotent_key: r.try_get(0)?,
        device_id: r.try_get(1)?,
        schedule_id: r.try_get(2)?,
        owner_id: r.try_get(3)?,
        kind: r.try_get(4)?,
        status: r.try_get(5)?,
        attempts: r.try_get(6)?,
        last_http_status: r.try_get(7)?,
        last_error: r.try_get(8)?,
        next_attempt_at_us: r.try_get(9)?,
        start_at_us: r.try_get(10)?,
        sent_at_us: r.try_get(11)?,
    })
}

/// The deliveries of these notification keys.
pub async fn deliveries_for(conn: &mut Conn, keys: &[String]) -> Result<Vec<DeliveryRow>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(CHUNK) {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM push_delivery WHERE idempotent_key IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for key in chunk {
            query = query.bind(key.as_str());
        }
        for row in query.fetch_all(&mut *conn).await? {
            out.push(delivery(&row)?);
        }
    }
    Ok(out)
}

/// Every delivery of a schedule's notifications (tests, operators).
pub async fn deliveries_of(conn: &mut Conn, schedule_id: i64) -> Result<Vec<DeliveryRow>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM push_delivery WHERE schedule_id = $1 ORDER BY device_id, idempotent_key"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(schedule_id)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(delivery).collect()
}

/// Saves per-device delivery rows, in multi-row statements (a (key, device) listed twice keeps its last row).
pub async fn save_deliveries(tx: &mut Tx, deliveries: &[DeliveryRow], now_us: i64) -> Result<()> {
    const COLUMNS: usize = 13;
    let deliveries = last_per_key(deliveries, |d| {
        (d.idempotent_key.as_str(), d.device_id.as_str())
    });
    for chunk in deliveries.chunks(MAX_PARAMS / COLUMNS) {
        let sql = format!(
            "INSERT INTO push_delivery (idempotent_key, device_id, schedule_id, owner_id, kind, status, attempts, \
               last_http_status, last_error, next_attempt_at_us, start_at_us, sent_at_us, updated_at_us) \
             VALUES {} \
             ON CONFLICT (idempotent_key, device_id) DO UPDATE SET kind = excluded.kind, status = excluded.status, \
               attempts = excluded.attempts, last_http_status = excluded.last_http_status, \
               last_error = excluded.last_error, next_attempt_at_us = excluded.next_attempt_at_us, \
               sent_at_us = excluded.sent_at_us, updated_at_us = excluded.updated_at_us",
            value_rows(1, chunk.len(), COLUMNS)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for d in chunk {
            query = query
                .bind(d.idempotent_key.as_str())
                .bind(d.device_id.as_str())
                .bind(d.schedule_id)
                .bind(d.owner_id)
                .bind(d.kind.as_str())
                .bind(d.status.as_str())
                .bind(d.attempts)
                .bind(d.last_http_status)
                .bind(d.last_error.as_deref())
                .bind(d.next_attempt_at_us)
                .bind(d.start_at_us)
                .bind(d.sent_at_us)
                .bind(now_us);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Deletes delivery and outcome records, and watermarks of schedules without a pending notification, older
/// than `before_us`.
pub async fn prune_records(conn: &mut Conn, before_us: i64) -> Result<u64> {
    let mut n =
        sqlx::query("DELETE FROM push_delivery WHERE updated_at_us < $1 AND status <> 'retrying'")
            .bind(before_us)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    n += sqlx::query("DELETE FROM notification_outcome WHERE finished_at_us < $1")
        .bind(before_us)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    n += sqlx::query(
        "DELETE FROM schedule_watermark WHERE updated_at_us < $1 AND schedule_id NOT IN \
         (SELECT schedule_id FROM upcoming_notification)",
    )
    .bind(before_us)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n)
}
