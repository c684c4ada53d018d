//! `upcoming_notification`: the pending notifications of each schedule, one per reminder slot (offset, snooze),
//! due at `next_attempt_at_us`, claimed by a dispatcher with a lease. A row's `idempotent_key` is unique: claims,
//! releases and deletes go by it. An event that moves or re-arms a slot gives it a new key and clears the lease,
//! so the claimer's conditional delete misses and the new time stands.

use std::collections::HashSet;

use jiff::Timestamp;
use pinit_kernel::db::{Backend, Conn, DbError, Tx};

use super::{CHUNK, Result, instant, placeholders};
use crate::domain::{
    Arm, Confirmed, MemberId, NotificationKey, Offset, ScheduleId, Slot, Upcoming,
};

const COLUMNS: &str = "schedule_id, offset_seconds, snooze, owner_id, schedule_title, start_at_us, due_at_us, \
    resolved, idempotent_key, next_attempt_at_us, attempts, lease_owner";

#[derive(sqlx::FromRow)]
struct Record {
    schedule_id: i64,
    offset_seconds: i64,
    snooze: i64,
    owner_id: i64,
    schedule_title: String,
    start_at_us: i64,
    due_at_us: i64,
    resolved: i64,
    idempotent_key: String,
    next_attempt_at_us: i64,
    attempts: i64,
    lease_owner: Option<String>,
}

/// A stored reminder slot.
pub(crate) fn slot(offset_seconds: i64, snooze: i64) -> Result<Slot> {
    let offset = Offset::from_seconds(offset_seconds).ok_or_else(|| DbError::Corrupt {
        what: "reminder offset",
        detail: format!("{offset_seconds} s"),
    })?;
    Ok(Slot { offset, snooze })
}

impl Record {
    fn into_domain(self) -> Result<Upcoming> {
        Ok(Upcoming {
            schedule_id: ScheduleId(self.schedule_id),
            owner_id: MemberId(self.owner_id),
            title: self.schedule_title,
            start_at: instant("notification start", self.start_at_us)?,
            slot: slot(self.offset_seconds, self.snooze)?,
            due_at: instant("notification due time", self.due_at_us)?,
            resolved: self.resolved != 0,
            idempotent_key: NotificationKey::from(self.idempotent_key),
            next_attempt_at: instant("notification attempt time", self.next_attempt_at_us)?,
            attempts: self.attempts,
            lease_owner: self.lease_owner,
        })
    }
}

fn all_into_domain(records: Vec<Record>) -> Result<Vec<Upcoming>> {
    records.into_iter().map(Record::into_domain).collect()
}

/// The schedule's pending notifications, soonest first.
pub async fn of_schedule(conn: &mut Conn, schedule_id: ScheduleId) -> Result<Vec<Upcoming>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM upcoming_notification WHERE schedule_id = $1 \
         ORDER BY due_at_us, offset_seconds, snooze"
    );
    all_into_domain(
        sqlx::query_as::<_, Record>(sqlx::AssertSqlSafe(sql))
            .bind(schedule_id.get())
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// The pending notification with this key.
pub async fn by_key(conn: &mut Conn, key: &NotificationKey) -> Result<Option<Upcoming>> {
    let sql = format!("SELECT {COLUMNS} FROM upcoming_notification WHERE idempotent_key = $1");
    let record = sqlx::query_as::<_, Record>(sqlx::AssertSqlSafe(sql))
        .bind(key.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    record.map(Record::into_domain).transpose()
}

/// Every pending notification, soonest first (tests, operators).
pub async fn all(conn: &mut Conn) -> Result<Vec<Upcoming>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM upcoming_notification \
         ORDER BY next_attempt_at_us, schedule_id, offset_seconds, snooze"
    );
    all_into_domain(
        sqlx::query_as::<_, Record>(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// Arms (or re-arms) one slot of a schedule: due at `arm.due`, a fresh key, no lease, no attempts. An empty
/// title keeps the stored one.
pub async fn arm(tx: &mut Tx, arm: &Arm, now: Timestamp) -> Result<()> {
    sqlx::query(
        "INSERT INTO upcoming_notification (schedule_id, offset_seconds, snooze, owner_id, schedule_title, \
           start_at_us, due_at_us, resolved, idempotent_key, next_attempt_at_us, attempts, lease_owner, \
           lease_until_us, created_at_us, updated_at_us) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $7, 0, NULL, NULL, $10, $10) \
         ON CONFLICT (schedule_id, offset_seconds, snooze) DO UPDATE SET owner_id = excluded.owner_id, \
           schedule_title = CASE WHEN excluded.schedule_title = '' THEN upcoming_notification.schedule_title \
             ELSE excluded.schedule_title END, \
           start_at_us = excluded.start_at_us, due_at_us = excluded.due_at_us, resolved = excluded.resolved, \
           idempotent_key = excluded.idempotent_key, next_attempt_at_us = excluded.next_attempt_at_us, \
           attempts = 0, lease_owner = NULL, lease_until_us = NULL, updated_at_us = excluded.updated_at_us",
    )
    .bind(arm.schedule.schedule_id.get())
    .bind(arm.slot.offset.seconds())
    .bind(arm.slot.snooze)
    .bind(arm.schedule.owner_id.get())
    .bind(arm.title.as_str())
    .bind(arm.start_at.as_microsecond())
    .bind(arm.due.as_microsecond())
    .bind(i64::from(arm.resolved))
    .bind(arm.idempotent_key.as_str())
    .bind(now.as_microsecond())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Removes one slot of a schedule; returns its key when it was pending.
pub async fn remove(
    tx: &mut Tx,
    schedule_id: ScheduleId,
    slot: Slot,
) -> Result<Option<NotificationKey>> {
    let key: Option<String> = sqlx::query_scalar(
        "DELETE FROM upcoming_notification WHERE schedule_id = $1 AND offset_seconds = $2 AND snooze = $3 \
         RETURNING idempotent_key",
    )
    .bind(schedule_id.get())
    .bind(slot.offset.seconds())
    .bind(slot.snooze)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(key.map(NotificationKey::from))
}

/// Removes every pending notification of a schedule; returns their keys.
pub async fn disarm(tx: &mut Tx, schedule_id: ScheduleId) -> Result<Vec<NotificationKey>> {
    let keys: Vec<String> = sqlx::query_scalar(
        "DELETE FROM upcoming_notification WHERE schedule_id = $1 RETURNING idempotent_key",
    )
    .bind(schedule_id.get())
    .fetch_all(&mut **tx)
    .await?;
    Ok(keys.into_iter().map(NotificationKey::from).collect())
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
         WHERE idempotent_key {open}SELECT idempotent_key FROM upcoming_notification \
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
    claimed.sort_by_key(|n| (n.next_attempt_at, n.schedule_id, n.slot));
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

/// A claimed notification given back, to be looked at again at `next_attempt_at`, due at `due_at`, with the
/// start and title the task service confirmed, if any.
#[derive(Debug, Clone, Copy)]
pub struct Release<'a> {
    pub upcoming: &'a Upcoming,
    /// The dispatcher whose claim it is.
    pub owner: &'a str,
    pub next_attempt_at: Timestamp,
    pub due_at: Timestamp,
    pub confirmed: Option<&'a Confirmed>,
}

/// Gives a claimed notification back. False when the claim was lost (moved, re-armed, removed, expired).
pub async fn release(tx: &mut Tx, release: Release<'_>, now: Timestamp) -> Result<bool> {
    let start = release.confirmed.map(|c| c.start_at.as_microsecond());
    let title = release.confirmed.map(|c| c.title.as_str());
    let n = sqlx::query(
        "UPDATE upcoming_notification SET next_attempt_at_us = $1, lease_owner = NULL, lease_until_us = NULL, \
           start_at_us = COALESCE($2, start_at_us), due_at_us = $7, \
           schedule_title = CASE WHEN $3 IS NULL OR $3 = '' THEN schedule_title ELSE $3 END, \
           resolved = CASE WHEN $2 IS NULL THEN resolved ELSE 1 END, updated_at_us = $4 \
         WHERE idempotent_key = $5 AND lease_owner = $6",
    )
    .bind(release.next_attempt_at.as_microsecond())
    .bind(start)
    .bind(title)
    .bind(now.as_microsecond())
    .bind(release.upcoming.idempotent_key.as_str())
    .bind(release.owner)
    .bind(release.due_at.as_microsecond())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// Deletes the claimed notifications that are done (by key) still claimed by `owner`; returns the keys deleted
/// (the others lost their claim: moved, re-armed, removed or expired).
pub async fn finish_many(
    tx: &mut Tx,
    owner: &str,
    done: &[&NotificationKey],
) -> Result<HashSet<NotificationKey>> {
    let mut deleted = HashSet::with_capacity(done.len());
    for chunk in done.chunks(CHUNK) {
        let sql = format!(
            "DELETE FROM upcoming_notification WHERE lease_owner = $1 AND idempotent_key IN ({}) \
             RETURNING idempotent_key",
            placeholders(2, chunk.len())
        );
        let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)).bind(owner);
        for key in chunk {
            query = query.bind(key.as_str());
        }
        deleted.extend(
            query
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(NotificationKey::from),
        );
    }
    Ok(deleted)
}

/// Deletes every pending notification of `member`'s schedules (account deletion); how many.
pub async fn erase_member(conn: &mut Conn, member: MemberId) -> Result<u64> {
    super::erase_rows(conn, "upcoming_notification", "owner_id", member).await
}
