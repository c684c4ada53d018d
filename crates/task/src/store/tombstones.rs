//! `schedule_tombstone`: which schedules were deleted and when, so a calendar client's incremental sync learns
//! of deletions (RFC 6578). Written in the one place a schedule is deleted (`app::Unit::delete_schedule`).

use jiff::Timestamp;
use pinit_kernel::db::Conn;

use super::Result;
use crate::domain::{MemberId, ScheduleId};

/// Records that the member's schedule `id` was deleted at `now`.
pub async fn record(
    conn: &mut Conn,
    owner: MemberId,
    id: ScheduleId,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO schedule_tombstone (schedule_id, owner_id, deleted_at_us) VALUES ($1, $2, $3) \
         ON CONFLICT (schedule_id) DO UPDATE SET deleted_at_us = excluded.deleted_at_us",
    )
    .bind(id.get())
    .bind(owner.get())
    .bind(now.as_microsecond())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The member's schedules deleted after `since_us`, with when.
pub async fn since(
    conn: &mut Conn,
    owner: MemberId,
    since_us: i64,
) -> Result<Vec<(ScheduleId, i64)>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT schedule_id, deleted_at_us FROM schedule_tombstone WHERE owner_id = $1 AND deleted_at_us > $2 \
         ORDER BY deleted_at_us, schedule_id",
    )
    .bind(owner.get())
    .bind(since_us)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, at)| (ScheduleId(id), at))
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
