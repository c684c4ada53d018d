//! `notification_outcome`: how each notification ended — `delivered`, `partial`, `failed`, `no_devices`,
//! `suppressed`, `expired` or `quiet` — with which reminder it was and how many devices it had and reached.

use jiff::Timestamp;
use pinit_kernel::db::{Conn, Tx};

use super::upcoming::slot;
use super::{MAX_PARAMS, Result, instant, last_per_key, unknown, value_rows};
use crate::domain::{MemberId, NotificationKey, Offset, Outcome, OutcomeRecord, ScheduleId};

#[derive(sqlx::FromRow)]
struct Record {
    idempotent_key: String,
    schedule_id: i64,
    owner_id: i64,
    start_at_us: i64,
    offset_seconds: i64,
    snooze: i64,
    outcome: String,
    detail: Option<String>,
    devices: i64,
    delivered: i64,
    finished_at_us: i64,
}

impl Record {
    fn into_domain(self) -> Result<OutcomeRecord> {
        Ok(OutcomeRecord {
            outcome: Outcome::parse(&self.outcome)
                .ok_or_else(|| unknown("notification outcome", &self.outcome))?,
            idempotent_key: NotificationKey::from(self.idempotent_key),
            schedule_id: ScheduleId(self.schedule_id),
            owner_id: MemberId(self.owner_id),
            start_at: instant("outcome start", self.start_at_us)?,
            slot: slot(self.offset_seconds, self.snooze)?,
            detail: self.detail,
            devices: self.devices,
            delivered: self.delivered,
            finished_at: instant("outcome time", self.finished_at_us)?,
        })
    }
}

/// Records how notifications ended (a key listed twice keeps its last outcome).
pub async fn record(tx: &mut Tx, outcomes: &[OutcomeRecord]) -> Result<()> {
    const COLUMNS: usize = 11;
    let outcomes = last_per_key(outcomes, |o| o.idempotent_key.as_str());
    for chunk in outcomes.chunks(MAX_PARAMS / COLUMNS) {
        let sql = format!(
            "INSERT INTO notification_outcome (idempotent_key, schedule_id, owner_id, start_at_us, \
               offset_seconds, snooze, outcome, detail, devices, delivered, finished_at_us) VALUES {} \
             ON CONFLICT (idempotent_key) DO UPDATE SET outcome = excluded.outcome, detail = excluded.detail, \
               devices = excluded.devices, delivered = excluded.delivered, finished_at_us = excluded.finished_at_us",
            value_rows(1, chunk.len(), COLUMNS)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for o in chunk {
            query = query
                .bind(o.idempotent_key.as_str())
                .bind(o.schedule_id.get())
                .bind(o.owner_id.get())
                .bind(o.start_at.as_microsecond())
                .bind(o.slot.offset.seconds())
                .bind(o.slot.snooze)
                .bind(o.outcome.as_str())
                .bind(o.detail.as_deref())
                .bind(o.devices)
                .bind(o.delivered)
                .bind(o.finished_at.as_microsecond());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// How a schedule's notifications ended, oldest first (tests, operators).
pub async fn of_schedule(conn: &mut Conn, schedule_id: ScheduleId) -> Result<Vec<OutcomeRecord>> {
    let records = sqlx::query_as::<_, Record>(
        "SELECT idempotent_key, schedule_id, owner_id, start_at_us, offset_seconds, snooze, outcome, detail, \
           devices, delivered, finished_at_us FROM notification_outcome WHERE schedule_id = $1 \
         ORDER BY finished_at_us, offset_seconds",
    )
    .bind(schedule_id.get())
    .fetch_all(&mut *conn)
    .await?;
    records.into_iter().map(Record::into_domain).collect()
}

/// The reminder offsets whose notification for the schedule's `start` (to the second) is over
/// ([`Outcome::marks_fired`]). Snoozes do not count.
pub async fn fired_offsets(
    conn: &mut Conn,
    schedule_id: ScheduleId,
    start: Timestamp,
) -> Result<Vec<Offset>> {
    let second = start.as_second().saturating_mul(1_000_000);
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT offset_seconds, outcome FROM notification_outcome WHERE schedule_id = $1 \
           AND start_at_us >= $2 AND start_at_us < $3 AND snooze = 0",
    )
    .bind(schedule_id.get())
    .bind(second)
    .bind(second.saturating_add(1_000_000))
    .fetch_all(&mut *conn)
    .await?;
    let mut fired = Vec::new();
    for (offset, outcome) in rows {
        let outcome =
            Outcome::parse(&outcome).ok_or_else(|| unknown("notification outcome", &outcome))?;
        if outcome.marks_fired() {
            fired.push(slot(offset, 0)?.offset);
        }
    }
    Ok(fired)
}

/// The outcome recorded under a key.
pub async fn by_key(conn: &mut Conn, key: &NotificationKey) -> Result<Option<OutcomeRecord>> {
    let record = sqlx::query_as::<_, Record>(
        "SELECT idempotent_key, schedule_id, owner_id, start_at_us, offset_seconds, snooze, outcome, detail, \
           devices, delivered, finished_at_us FROM notification_outcome WHERE idempotent_key = $1",
    )
    .bind(key.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    record.map(Record::into_domain).transpose()
}

/// Deletes outcomes recorded before `before`.
pub async fn prune(conn: &mut Conn, before: Timestamp) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM notification_outcome WHERE finished_at_us < $1")
            .bind(before.as_microsecond())
            .execute(&mut *conn)
            .await?
            .rows_affected(),
    )
}

/// Deletes how `member`'s notifications ended (account deletion); how many.
pub async fn erase_member(conn: &mut Conn, member: MemberId) -> Result<u64> {
    super::erase_rows(conn, "notification_outcome", "owner_id", member).await
}
