//! `member`: the local projection of auth's members, and each member's running slot.

use jiff::Timestamp;
use pinit_kernel::db::{Backend, Conn};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, get_reminders, next_version};
use crate::domain::plan::DailyObjective;
use crate::domain::{CorruptRecord, MemberId, Reminders, ScheduleId, ValidationError, Zone};

/// A provisioned member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: MemberId,
    pub nickname: Option<String>,
    pub zone: Zone,
    /// `now_running_schedule_id`.
    pub running: Option<ScheduleId>,
    /// The default reminders of the member's schedules (those without their own list and not in a series
    /// that has one).
    pub reminders: Reminders,
    /// How long the member means to work each day (planned against worked).
    pub objective: DailyObjective,
    pub version: i64,
}

const COLUMNS: &str = "member_id, nickname, zone_id, now_running_schedule_id, reminders, daily_objective_minutes, version";

fn from_row(row: &AnyRow) -> Result<Member> {
    let zone_id: String = row.try_get("zone_id")?;
    let zone =
        Zone::parse(&zone_id).map_err(|e| CorruptRecord::InvalidValue(ValidationError::from(e)))?;
    Ok(Member {
        id: MemberId(row.try_get("member_id")?),
        nickname: row.try_get("nickname")?,
        zone,
        running: row
            .try_get::<Option<i64>, _>("now_running_schedule_id")?
            .map(ScheduleId),
        reminders: get_reminders(row, "reminders")?.unwrap_or_else(Reminders::at_start),
        objective: match row.try_get::<Option<i64>, _>("daily_objective_minutes")? {
            None => DailyObjective::default(),
            Some(minutes) => DailyObjective::from_minutes(minutes).ok_or(
                CorruptRecord::InconsistentRun("a daily objective out of range"),
            )?,
        },
        version: row.try_get("version")?,
    })
}

/// Creates the member unless it exists; `true` if it was created (`member.created` is idempotent).
pub async fn insert_if_absent(
    conn: &mut Conn,
    id: MemberId,
    nickname: Option<&str>,
    zone: &Zone,
    now: Timestamp,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO member (member_id, nickname, zone_id, now_running_schedule_id, version, \
         created_at_us, updated_at_us) VALUES ($1, $2, $3, NULL, 1, $4, $4) \
         ON CONFLICT (member_id) DO NOTHING",
    )
    .bind(id.get())
    .bind(nickname)
    .bind(zone.id())
    .bind(now.as_microsecond())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The member, without a lock (reads).
pub async fn get(conn: &mut Conn, id: MemberId) -> Result<Option<Member>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM member WHERE member_id = $1"
    )))
    .bind(id.get())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The member, locked until the transaction ends: every write use case takes this lock first, so a
/// member's writes are serialised (the running slot, the dependency graph, statistics). SQLite's
/// `BEGIN IMMEDIATE` already holds the database's write lock.
pub async fn lock(conn: &mut Conn, backend: Backend, id: MemberId) -> Result<Option<Member>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM member WHERE member_id = $1{}",
        backend.for_update()
    )))
    .bind(id.get())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Sets the running slot (checked against the version read under the lock).
pub async fn set_running(
    conn: &mut Conn,
    member: &Member,
    running: Option<ScheduleId>,
    now: Timestamp,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE member SET now_running_schedule_id = $1, version = version + 1, updated_at_us = $2 \
         WHERE member_id = $3 AND version = $4",
    )
    .bind(running.map(ScheduleId::get))
    .bind(now.as_microsecond())
    .bind(member.id.get())
    .bind(member.version)
    .execute(&mut *conn)
    .await?;
    version_checked(done.rows_affected(), member)
}

/// Changes the member's zone.
pub async fn set_zone(conn: &mut Conn, member: &Member, zone: &Zone, now: Timestamp) -> Result<()> {
    let done = sqlx::query(
        "UPDATE member SET zone_id = $1, version = version + 1, updated_at_us = $2 \
         WHERE member_id = $3 AND version = $4",
    )
    .bind(zone.id())
    .bind(now.as_microsecond())
    .bind(member.id.get())
    .bind(member.version)
    .execute(&mut *conn)
    .await?;
    version_checked(done.rows_affected(), member)
}

/// Changes the member's daily objective.
pub async fn set_objective(
    conn: &mut Conn,
    member: &Member,
    objective: DailyObjective,
    now: Timestamp,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE member SET daily_objective_minutes = $1, version = version + 1, updated_at_us = $2 \
         WHERE member_id = $3 AND version = $4",
    )
    .bind(objective.minutes())
    .bind(now.as_microsecond())
    .bind(member.id.get())
    .bind(member.version)
    .execute(&mut *conn)
    .await?;
    version_checked(done.rows_affected(), member)
}

/// Changes the member's default reminders.
pub async fn set_reminders(
    conn: &mut Conn,
    member: &Member,
    reminders: &Reminders,
    now: Timestamp,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE member SET reminders = $1, version = version + 1, updated_at_us = $2 \
         WHERE member_id = $3 AND version = $4",
    )
    .bind(reminders.to_stored())
    .bind(now.as_microsecond())
    .bind(member.id.get())
    .bind(member.version)
    .execute(&mut *conn)
    .await?;
    version_checked(done.rows_affected(), member)
}

/// An update of `member` that found no row at the version read: a concurrent writer slipped past the lock.
fn version_checked(rows: u64, member: &Member) -> Result<()> {
    next_version(rows, member.version, "member", member.id.get()).map(|_| ())
}

/// Deletes the member's row (account deletion, after every row that names it); `true` if it existed.
pub async fn erase_member(conn: &mut Conn, id: MemberId) -> Result<bool> {
    Ok(super::erase_rows(conn, "member", "member_id", id).await? == 1)
}
