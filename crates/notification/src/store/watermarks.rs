//! `schedule_watermark`: per schedule, the newest event applied (aggregate version, else `occurredAt`), whether
//! it was deleted, and the reminder offsets the last upcoming event named. Its row is also the schedule's lock:
//! event handlers and the dispatcher take it before they touch the schedule's notification and deliveries.

use jiff::Timestamp;
use pinit_kernel::db::{Backend, Conn, Tx};

use super::{CHUNK, Result, optional_instant, placeholders};
use crate::domain::{MemberId, Offset, ScheduleId, Watermark};

#[derive(sqlx::FromRow)]
struct Record {
    version: Option<i64>,
    occurred_at_us: Option<i64>,
    deleted: i64,
    reminders: Option<String>,
}

impl Record {
    fn into_domain(self) -> Result<Watermark> {
        Ok(Watermark {
            version: self.version,
            occurred_at: optional_instant("event time", self.occurred_at_us)?,
            deleted: self.deleted != 0,
            reminders: self.reminders.as_deref().map(read_offsets).transpose()?,
        })
    }
}

/// Comma-separated seconds (`-600,0`; empty: no reminders).
fn read_offsets(text: &str) -> Result<Vec<Offset>> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .ok()
                .and_then(Offset::from_seconds)
                .ok_or_else(|| super::unknown("watermark reminder offset", s))
        })
        .collect()
}

fn write_offsets(offsets: &[Offset]) -> String {
    offsets
        .iter()
        .map(|o| o.seconds().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Locks a schedule's watermark row (creating an empty one), so events of one schedule apply one at a time
/// even when they arrive on different queues. An empty row has no version, time or flags.
pub async fn lock(
    tx: &mut Tx,
    backend: Backend,
    schedule_id: ScheduleId,
    now: Timestamp,
) -> Result<Watermark> {
    sqlx::query(
        "INSERT INTO schedule_watermark (schedule_id, version, occurred_at_us, deleted, reminders, updated_at_us) \
         VALUES ($1, NULL, NULL, 0, NULL, $2) ON CONFLICT (schedule_id) DO NOTHING",
    )
    .bind(schedule_id.get())
    .bind(now.as_microsecond())
    .execute(&mut **tx)
    .await?;
    let sql = format!(
        "SELECT version, occurred_at_us, deleted, reminders FROM schedule_watermark \
         WHERE schedule_id = $1{}",
        backend.for_update()
    );
    sqlx::query_as::<_, Record>(sqlx::AssertSqlSafe(sql))
        .bind(schedule_id.get())
        .fetch_one(&mut **tx)
        .await?
        .into_domain()
}

/// Locks the watermark rows of many schedules (creating empty ones): the dispatcher takes them before it
/// touches their notifications and deliveries, in the same order as the event handlers (watermark first), so
/// the two never deadlock on PostgreSQL.
pub async fn lock_many(
    tx: &mut Tx,
    backend: Backend,
    schedule_ids: &[ScheduleId],
    now: Timestamp,
) -> Result<()> {
    let mut ids: Vec<i64> = schedule_ids.iter().map(|id| id.get()).collect();
    ids.sort_unstable();
    ids.dedup();
    for chunk in ids.chunks(CHUNK) {
        let values = (0..chunk.len())
            .map(|i| format!("(${}, NULL, NULL, 0, NULL, $1)", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO schedule_watermark (schedule_id, version, occurred_at_us, deleted, reminders, \
             updated_at_us) VALUES {values} ON CONFLICT (schedule_id) DO NOTHING"
        );
        let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now.as_microsecond());
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

pub async fn save(
    tx: &mut Tx,
    schedule_id: ScheduleId,
    w: &Watermark,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO schedule_watermark (schedule_id, version, occurred_at_us, deleted, reminders, updated_at_us) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (schedule_id) DO UPDATE SET version = excluded.version, occurred_at_us = excluded.occurred_at_us, \
           deleted = excluded.deleted, reminders = excluded.reminders, updated_at_us = excluded.updated_at_us",
    )
    .bind(schedule_id.get())
    .bind(w.version)
    .bind(w.occurred_at.map(|t| t.as_microsecond()))
    .bind(i64::from(w.deleted))
    .bind(w.reminders.as_deref().map(write_offsets))
    .bind(now.as_microsecond())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes watermarks of schedules without a pending notification, untouched since `before`.
pub async fn prune(conn: &mut Conn, before: Timestamp) -> Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM schedule_watermark WHERE updated_at_us < $1 AND schedule_id NOT IN \
         (SELECT schedule_id FROM upcoming_notification)",
    )
    .bind(before.as_microsecond())
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// Deletes the watermarks of `member`'s schedules (account deletion). A watermark names no member, only its
/// schedule: those of the member are the schedules its pending notifications, deliveries and outcomes name, so
/// this runs before those are erased. (A watermark of a schedule with none of them — one deleted before it ever
/// notified — holds only ids and versions and is pruned with the records.)
pub async fn erase_member(conn: &mut Conn, member: MemberId) -> Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM schedule_watermark WHERE schedule_id IN \
         (SELECT schedule_id FROM upcoming_notification WHERE owner_id = $1 \
          UNION SELECT schedule_id FROM push_delivery WHERE owner_id = $1 \
          UNION SELECT schedule_id FROM notification_outcome WHERE owner_id = $1)",
    )
    .bind(member.get())
    .execute(&mut *conn)
    .await?
    .rows_affected())
}
