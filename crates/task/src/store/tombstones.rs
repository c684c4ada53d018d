//! `schedule_tombstone`: which schedules were deleted and when (and the name a calendar app knew one by), so a
//! calendar client's incremental sync learns of deletions (RFC 6578). Written in the one place a schedule is
//! deleted (`app::Unit::delete_schedule`).

use jiff::Timestamp;
use pinit_kernel::db::Conn;

use super::Result;
use crate::domain::{MemberId, ScheduleId};

/// A deleted schedule: which, and the name a calendar app knew it by (if it had one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    pub schedule_id: ScheduleId,
    pub name: Option<String>,
}

/// Records that the member's schedule `id` was deleted at `now`; `name`: the resource name a calendar app
/// had given it.
pub async fn record(
    conn: &mut Conn,
    owner: MemberId,
    id: ScheduleId,
    name: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO schedule_tombstone (schedule_id, owner_id, deleted_at_us, name) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (schedule_id) DO UPDATE SET deleted_at_us = excluded.deleted_at_us, name = excluded.name",
    )
    .bind(id.get())
    .bind(owner.get())
    .bind(now.as_microsecond())
    .bind(name)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The member's schedules deleted after `since_us`, oldest first.
pub async fn since(conn: &mut Conn, owner: MemberId, since_us: i64) -> Result<Vec<Tombstone>> {
    let rows: Vec<(i64, Option<String>)> = sqlx::query_as(
        "SELECT schedule_id, name FROM schedule_tombstone WHERE owner_id = $1 AND deleted_at_us > $2 \
         ORDER BY deleted_at_us, schedule_id",
    )
    .bind(owner.get())
    .bind(since_us)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name)| Tombstone {
            schedule_id: ScheduleId(id),
            name,
        })
        .collect())
}

/// When the member's last schedule was deleted.
pub async fn last(conn: &mut Conn, owner: MemberId) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT MAX(deleted_at_us) FROM schedule_tombstone WHERE owner_id = $1")
            .bind(owner.get())
            .fetch_one(&mut *conn)
            .await?,
    )
}
