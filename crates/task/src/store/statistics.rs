//! `statistics`: one row per (member, week start, zone), changed only together with the schedule change
//! that causes it.

use jiff::{SignedDuration, Timestamp};
use pinit_kernel::db::Conn;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::Result;
use crate::domain::time::parse_stored_date;
use crate::domain::{CorruptRecord, MemberId, StatsChange, ValidationError, WeekKey, WeeklyTotals};

fn micros(d: SignedDuration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(if d.is_negative() { i64::MIN } else { i64::MAX })
}

/// Adds a change's deltas to its bucket, creating the bucket if needed (one statement, so concurrent
/// first writes cannot create duplicates). A zero change writes nothing.
pub async fn apply(
    conn: &mut Conn,
    member: MemberId,
    change: &StatsChange,
    now: Timestamp,
) -> Result<()> {
    if change.contribution().is_zero() {
        return Ok(());
    }
    let d = change.deltas();
    let week = change.week();
    sqlx::query(
        "INSERT INTO statistics (member_id, week_start, zone_id, deep_work_us, admin_work_us, \
         total_work_us, version, updated_at_us) VALUES ($1, $2, $3, $4, $5, $6, 1, $7) \
         ON CONFLICT (member_id, week_start, zone_id) DO UPDATE SET \
         deep_work_us = statistics.deep_work_us + excluded.deep_work_us, \
         admin_work_us = statistics.admin_work_us + excluded.admin_work_us, \
         total_work_us = statistics.total_work_us + excluded.total_work_us, \
         version = statistics.version + 1, updated_at_us = excluded.updated_at_us",
    )
    .bind(member.get())
    .bind(week.start.to_string())
    .bind(week.zone_id.as_str())
    .bind(micros(d.deep_work))
    .bind(micros(d.admin_work))
    .bind(micros(d.total))
    .bind(now.as_microsecond())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A bucket's totals (zeros when nothing was recorded).
pub async fn weekly(conn: &mut Conn, member: MemberId, week: &WeekKey) -> Result<WeeklyTotals> {
    let row = sqlx::query(
        "SELECT deep_work_us, admin_work_us, total_work_us FROM statistics \
         WHERE member_id = $1 AND week_start = $2 AND zone_id = $3",
    )
    .bind(member.get())
    .bind(week.start.to_string())
    .bind(week.zone_id.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map_or(Ok(WeeklyTotals::ZERO), totals)
}

fn totals(row: &AnyRow) -> Result<WeeklyTotals> {
    Ok(WeeklyTotals {
        deep_work: SignedDuration::from_micros(row.try_get("deep_work_us")?),
        admin_work: SignedDuration::from_micros(row.try_get("admin_work_us")?),
        total: SignedDuration::from_micros(row.try_get("total_work_us")?),
    })
}

/// Up to `limit` of the member's buckets after `after`, by week start then zone (the primary key's order) — an
/// export's pages.
pub async fn page_after(
    conn: &mut Conn,
    member: MemberId,
    after: Option<&WeekKey>,
    limit: i64,
) -> Result<Vec<(WeekKey, WeeklyTotals)>> {
    let (start, zone) = after.map_or((String::new(), String::new()), |w| {
        (w.start.to_string(), w.zone_id.clone())
    });
    let rows = sqlx::query(
        "SELECT week_start, zone_id, deep_work_us, admin_work_us, total_work_us FROM statistics \
         WHERE member_id = $1 AND (week_start, zone_id) > ($2, $3) ORDER BY week_start, zone_id LIMIT $4",
    )
    .bind(member.get())
    .bind(start)
    .bind(zone)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let start: String = row.try_get("week_start")?;
            let week = WeekKey {
                start: parse_stored_date(&start)
                    .map_err(|e| CorruptRecord::InvalidValue(ValidationError::from(e)))?,
                zone_id: row.try_get("zone_id")?,
            };
            Ok((week, totals(row)?))
        })
        .collect()
}

/// Deletes every week of `member`'s statistics (account deletion); how many.
pub async fn erase_member(conn: &mut Conn, member: MemberId) -> Result<u64> {
    super::erase_rows(conn, "statistics", "member_id", member).await
}
