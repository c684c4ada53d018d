//! `upcoming_notification`: the pending notification of each schedule (at most one), due at
//! `next_attempt_at_us`, claimed by a dispatcher with a lease. An event that moves or re-arms it clears the
//! lease, so the claimer's conditional delete misses and the new time stands.

use std::collections::HashSet;

use jiff::Timestamp;
use pinit_kernel::db::{Backend, Conn, Tx};

use super::{CHUNK, Result, instant};
use crate::domain::{Arm, Confirmed, MemberId, NotificationKey, ScheduleId, Upcoming};

const COLUMNS: &str = "schedule_id, owner_id, schedule_title, start_at_us, resolved, \
    idempotent_key, next_attempt_at_us, attempts, lease_owner";

#[derive(sqlx::FromRow)]
struct Record {
    schedule_id: i64,
    owner_id: i64,
    schedule_title: String,
    start_at_us: i64,
    resolved: i64,
    idempotent_key: String,
    next_attempt_at_us: i64,
    attempts: i64,
    lease_owner: Option<String>,
}

impl Record {
    fn into_domain(self) -> Result<Upcoming> {
        Ok(Upcoming {
            schedule_id: ScheduleId(self.schedule_id),
            owner_id: MemberId(self.owner_id),
            title: self.schedule_title,
            start_at: instant("notification start", self.start_at_us)?,
            resolved: self.resolved != 0,
            idempotent_key: NotificationKey::from(self.idempotent_key),
            next_attempt_at: instant("notification due time", self.next_attempt_at_us)?,
            attempts: self.attempts,
            lease_owner: self.lease_owner,
        })
    }
}

fn all_into_domain(records: Vec<Record>) -> Result<Vec<Upcoming>> {
    records.into_iter().map(Record::into_domain).collect()
}

/// The schedule's pending notification.
pub async fn get(conn: &mut Conn, schedule_id: ScheduleId) -> Result<Option<Upcoming>> {
    let sql = format!("SELECT {COLUMNS} FROM upcoming_notification WHERE schedule_id = $1");
    let record = sqlx::query_as::<_, Record>(sqlx::AssertSqlSafe(sql))
        .bind(schedule_id.get())
        .fetch_optional(&mut *conn)
        .await?;
    record.map(Record::into_domain).transpose()
}

/// Every pending notification, soonest first (tests, operators).
pub async fn all(conn: &mut Conn) -> Result<Vec<Upcoming>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM upcoming_notification ORDER BY next_attempt_at_us, schedule_id"
    );
    all_into_domain(
        sqlx::query_as::<_, Record>(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// Arms (or re-arms) a schedule's notification: due at `arm.due`, a fresh key, no lease, no attempts. An
/// empty title keeps the stored one.
pub async fn arm(tx: &mut Tx, arm: &Arm, now: Timestamp) -> Result<()> {
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
    .bind(arm.schedule.schedule_id.get())
    .bind(arm.schedule.owner_id.get())
    .bind(arm.title.as_str())
    .bind(arm.start_at.as_microsecond())
    .bind(i64::from(arm.resolved))
    .bind(arm.idempotent_key.as_str())
    .bind(arm.due.as_microsecond())
    .bind(now.as_microsecond())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Removes a schedule's pending notification; returns its key when there was one.
pub async fn disarm(tx: &mut Tx, schedule_id: ScheduleId) -> Result<Option<NotificationKey>> {
    let key: Option<String> = sqlx::query_scalar(
        "DELETE FROM upcoming_notification WHERE schedule_id = $1 RETURNING idempotent_key",
    )
    .bind(schedule_id.get())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(key.map(NotificationKey::from))
}

/// A dispatcher's claim on due notifications.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// The dispatcher.
    pub owner: &'a str,
    pub now: Timestamp,
    pub lease_until: Timestamp,
    pub limit: i64,
}

/// Claims up to `claim.limit` due, unclaimed notifications for `claim.owner` until `claim.lease_until`.
pub async fn claim(tx: &mut Tx, backend: Backend, claim: Claim<'_>) -> Result<Vec<Upcoming>> {
    // As an `IN (…)` semi-join, claims every few milliseconds (a busy minute) cost more than the sends.
    let (open, close) = backend.in_subquery();
    let sql = format!(
        "UPDATE upcoming_notification SET lease_owner = $1, lease_until_us = $2, attempts = attempts + 1, \
           updated_at_us = $3 \
         WHERE schedule_id {open}SELECT schedule_id FROM upcoming_notification \
           WHERE next_attempt_at_us <= $3 AND (lease_until_us IS NULL OR lease_until_us <= $3) \
           ORDER BY next_attempt_at_us LIMIT $4{}{close} \
         RETURNING {COLUMNS}",
        backend.for_update_skip_locked()
    );
    let records = sqlx::query_as::<_, Record>(sqlx::AssertSqlSafe(sql))
        .bind(claim.owner)
        .bind(claim.lease_until.as_microsecond())
        .bind(claim.now.as_microsecond())
        .bind(claim.limit)
        .fetch_all(&mut **tx)
        .await?;
    let mut claimed = all_into_domain(records)?;
    claimed.sort_by_key(|n| (n.next_attempt_at, n.schedule_id));
    Ok(claimed)
}

/// When a dispatcher should look next: the earliest unclaimed due time or claim expiry.
pub async fn next_wake(conn: &mut Conn) -> Result<Option<Timestamp>> {
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
    let next = match (due, lease) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    next.map(|us| instant("next wake", us)).transpose()
}

/// Notifications due now (claimed or not).
pub async fn backlog(conn: &mut Conn, now: Timestamp) -> Result<i64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM upcoming_notification WHERE next_attempt_at_us <= $1",
    )
    .bind(now.as_microsecond())
    .fetch_one(&mut *conn)
    .await?;
    Ok(n)
}

/// A claimed notification given back, to be looked at again at `next_attempt_at`, with the start and title the
/// task service confirmed, if any.
#[derive(Debug, Clone, Copy)]
pub struct Release<'a> {
    pub upcoming: &'a Upcoming,
    /// The dispatcher whose claim it is.
    pub owner: &'a str,
    pub next_attempt_at: Timestamp,
    pub confirmed: Option<&'a Confirmed>,
}

/// Gives a claimed notification back. False when the claim was lost (moved, re-armed, removed, expired).
pub async fn release(tx: &mut Tx, release: Release<'_>, now: Timestamp) -> Result<bool> {
    let start = release.confirmed.map(|c| c.start_at.as_microsecond());
    let title = release.confirmed.map(|c| c.title.as_str());
    let n = sqlx::query(
        "UPDATE upcoming_notification SET next_attempt_at_us = $1, lease_owner = NULL, lease_until_us = NULL, \
           start_at_us = COALESCE($2, start_at_us), \
           schedule_title = CASE WHEN $3 IS NULL OR $3 = '' THEN schedule_title ELSE $3 END, \
           resolved = CASE WHEN $2 IS NULL THEN resolved ELSE 1 END, updated_at_us = $4 \
         WHERE schedule_id = $5 AND lease_owner = $6 AND idempotent_key = $7",
    )
    .bind(release.next_attempt_at.as_microsecond())
    .bind(start)
    .bind(title)
    .bind(now.as_microsecond())
    .bind(release.upcoming.schedule_id.get())
    .bind(release.owner)
    .bind(release.upcoming.idempotent_key.as_str())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// Deletes the claimed notifications that are done, given as their schedule and key, claimed by `owner`;
/// returns the schedules whose notification was deleted (the others lost their claim: moved, re-armed,
/// removed or expired).
pub async fn finish_many(
    tx: &mut Tx,
    owner: &str,
    done: &[(ScheduleId, &NotificationKey)],
) -> Result<HashSet<ScheduleId>> {
    let mut deleted = HashSet::with_capacity(done.len());
    for chunk in done.chunks(CHUNK) {
        // The primary key finds the rows (`schedule_id IN`); the CASE then checks each one's key. A row-value
        // `(schedule_id, idempotent_key) IN (VALUES …)` is planned badly by PostgreSQL here (its `lease_owner`
        // statistics date from before anything was claimed), slower with every row in the table.
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
        let mut query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).bind(owner);
        for (schedule_id, key) in chunk {
            query = query.bind(schedule_id.get()).bind(key.as_str());
        }
        for id in query.fetch_all(&mut **tx).await? {
            deleted.insert(ScheduleId(id));
        }
    }
    Ok(deleted)
}
