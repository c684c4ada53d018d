//! `quiet_hours`: each member's quiet hours (absent: never set, which is off).

use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;
use pinit_kernel::db::{Conn, DbError, Tx};

use super::{Result, unknown};
use crate::domain::{MemberId, QuietHours, QuietMode};

#[derive(sqlx::FromRow)]
struct Record {
    member_id: i64,
    enabled: i64,
    start_minute: i64,
    end_minute: i64,
    zone_id: String,
    mode: String,
    include_at_start: i64,
}

fn time(minute: i64) -> Result<Time> {
    i8::try_from(minute / 60)
        .ok()
        .zip(i8::try_from(minute % 60).ok())
        .and_then(|(h, m)| Time::new(h, m, 0, 0).ok())
        .ok_or_else(|| unknown("quiet hours minute", &minute.to_string()))
}

fn minute(t: Time) -> i64 {
    i64::from(t.hour()) * 60 + i64::from(t.minute())
}

impl Record {
    fn into_domain(self) -> Result<(MemberId, QuietHours)> {
        let zone = TimeZone::get(&self.zone_id).map_err(|e| DbError::Corrupt {
            what: "quiet hours zone",
            detail: format!("{}: {e}", self.zone_id),
        })?;
        Ok((
            MemberId(self.member_id),
            QuietHours {
                enabled: self.enabled != 0,
                start: time(self.start_minute)?,
                end: time(self.end_minute)?,
                mode: QuietMode::parse(&self.mode)
                    .ok_or_else(|| unknown("quiet hours mode", &self.mode))?,
                zone,
                zone_id: self.zone_id,
                include_at_start: self.include_at_start != 0,
            },
        ))
    }
}

const COLUMNS: &str =
    "member_id, enabled, start_minute, end_minute, zone_id, mode, include_at_start";

/// A member's quiet hours, if they ever set them.
pub async fn get(conn: &mut Conn, member: MemberId) -> Result<Option<QuietHours>> {
    let sql = format!("SELECT {COLUMNS} FROM quiet_hours WHERE member_id = $1");
    let record = sqlx::query_as::<_, Record>(sqlx::AssertSqlSafe(sql))
        .bind(member.get())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(record.map(Record::into_domain).transpose()?.map(|(_, q)| q))
}

/// The enabled quiet hours of these members (the dispatcher's batch).
pub async fn enabled_of(
    conn: &mut Conn,
    members: &[MemberId],
) -> Result<Vec<(MemberId, QuietHours)>> {
    let mut out = Vec::new();
    for chunk in members.chunks(super::CHUNK) {
        let sql = format!(
            "SELECT {COLUMNS} FROM quiet_hours WHERE enabled = 1 AND member_id IN ({})",
            super::placeholders(1, chunk.len())
        );
        let mut query = sqlx::query_as::<_, Record>(sqlx::AssertSqlSafe(sql));
        for m in chunk {
            query = query.bind(m.get());
        }
        for record in query.fetch_all(&mut *conn).await? {
            out.push(record.into_domain()?);
        }
    }
    Ok(out)
}

/// Stores a member's quiet hours.
pub async fn put(tx: &mut Tx, member: MemberId, q: &QuietHours, now: Timestamp) -> Result<()> {
    sqlx::query(
        "INSERT INTO quiet_hours (member_id, enabled, start_minute, end_minute, zone_id, mode, include_at_start, \
           updated_at_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (member_id) DO UPDATE SET enabled = excluded.enabled, start_minute = excluded.start_minute, \
           end_minute = excluded.end_minute, zone_id = excluded.zone_id, mode = excluded.mode, \
           include_at_start = excluded.include_at_start, updated_at_us = excluded.updated_at_us",
    )
    .bind(member.get())
    .bind(i64::from(q.enabled))
    .bind(minute(q.start))
    .bind(minute(q.end))
    .bind(q.zone_id.as_str())
    .bind(q.mode.as_str())
    .bind(i64::from(q.include_at_start))
    .bind(now.as_microsecond())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes `member`'s quiet hours (account deletion); how many (0 or 1).
pub async fn erase_member(conn: &mut Conn, member: MemberId) -> Result<u64> {
    super::erase_rows(conn, "quiet_hours", "member_id", member).await
}
