//! `schedule`.

use jiff::{SignedDuration, Timestamp};
use pinit_kernel::db::Conn;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Sql, get_instant, get_reminders, instant, next_version};
use crate::domain::time::{format_local_date_time, parse_local_date_time, parse_stored_date};
use crate::domain::{
    CorruptRecord, Description, MemberId, PlannedDuration, Reminders, Run, RunSnapshot, Schedule,
    ScheduleDraft, ScheduleId, ScheduleState, ScheduleType, SeriesId, TaskId, Title,
    ValidationError, WeekKey, Window,
};

/// A schedule as stored, with what the responses show besides the aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSchedule {
    pub schedule: Schedule,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The linked task's `completed` (`None` without a task).
    pub task_completed: Option<bool>,
    /// The series this schedule is an occurrence of, if any.
    pub occurrence: Option<OccurrenceOf>,
    /// Its series' reminders, which it follows when it has none of its own (`None`: no series, or a series
    /// that follows the member's default).
    pub series_reminders: Option<Reminders>,
}

/// An occurrence's place in its series: the series, and the occurrence's original start (RECURRENCE-ID: the
/// wall-clock time the rule gave it, unchanged when the occurrence is moved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OccurrenceOf {
    pub series: SeriesId,
    pub start: jiff::civil::DateTime,
}

const COLUMNS: &str = "s.schedule_id, s.owner_id, s.task_id, s.title, s.description, \
    s.schedule_type, s.designated_start_us, s.state, s.elapsed_us, s.running_since_us, \
    s.stats_week_start, s.stats_week_zone_id, s.version, s.created_at_us, s.updated_at_us, \
    s.series_id, s.occurrence_start, s.reminders, s.planned_minutes, lt.completed AS task_completed, \
    ss.reminders AS series_reminders";

const FROM: &str = "FROM schedule s LEFT JOIN task lt ON lt.task_id = s.task_id \
    LEFT JOIN schedule_series ss ON ss.series_id = s.series_id";

fn invalid(e: impl Into<ValidationError>) -> CorruptRecord {
    CorruptRecord::InvalidValue(e.into())
}

fn from_row(row: &AnyRow) -> Result<StoredSchedule> {
    let state: ScheduleState = row.try_get::<String, _>("state")?.parse()?;
    let kind: String = row.try_get("schedule_type")?;
    let schedule_type =
        ScheduleType::parse(&kind).map_err(|_| CorruptRecord::UnknownType(kind.clone()))?;
    let week_start: Option<String> = row.try_get("stats_week_start")?;
    let week_zone: Option<String> = row.try_get("stats_week_zone_id")?;
    let completed_week = match (week_start, week_zone) {
        (Some(start), Some(zone_id)) => Some(WeekKey {
            start: parse_stored_date(&start).map_err(invalid)?,
            zone_id,
        }),
        _ => None,
    };
    let running_since = row
        .try_get::<Option<i64>, _>("running_since_us")?
        .map(instant)
        .transpose()?;
    let run = Run::from_snapshot(RunSnapshot {
        state,
        elapsed: SignedDuration::from_micros(row.try_get("elapsed_us")?),
        running_since,
        completed_week,
    })?;
    let schedule = Schedule::restore(
        ScheduleId(row.try_get("schedule_id")?),
        MemberId(row.try_get("owner_id")?),
        row.try_get::<Option<i64>, _>("task_id")?.map(TaskId),
        Title::parse(row.try_get::<String, _>("title")?).map_err(invalid)?,
        Description::parse(row.try_get::<String, _>("description")?).map_err(invalid)?,
        schedule_type,
        get_instant(row, "designated_start_us")?,
        run,
        get_reminders(row, "reminders")?,
        super::get_planned(row, "planned_minutes")?,
    );
    Ok(StoredSchedule {
        schedule,
        version: row.try_get("version")?,
        created_at: get_instant(row, "created_at_us")?,
        updated_at: get_instant(row, "updated_at_us")?,
        task_completed: row
            .try_get::<Option<i64>, _>("task_completed")?
            .map(|c| c != 0),
        occurrence: match (
            row.try_get::<Option<i64>, _>("series_id")?,
            row.try_get::<Option<String>, _>("occurrence_start")?,
        ) {
            (Some(series), Some(start)) => Some(OccurrenceOf {
                series: SeriesId(series),
                start: parse_local_date_time(&start).map_err(invalid)?,
            }),
            _ => None,
        },
        series_reminders: get_reminders(row, "series_reminders")?,
    })
}

fn from_rows(rows: &[AnyRow]) -> Result<Vec<StoredSchedule>> {
    rows.iter().map(from_row).collect()
}

fn elapsed_us(d: SignedDuration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Inserts a new NOT_STARTED schedule (version 1) and returns its id.
pub async fn insert(
    conn: &mut Conn,
    owner: MemberId,
    task: Option<TaskId>,
    draft: &ScheduleDraft,
    now: Timestamp,
) -> Result<ScheduleId> {
    let row = sqlx::query(
        "INSERT INTO schedule (owner_id, task_id, title, description, schedule_type, \
         designated_start_us, state, elapsed_us, running_since_us, stats_week_start, \
         stats_week_zone_id, version, created_at_us, updated_at_us, reminders, planned_minutes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, NULL, NULL, NULL, 1, $8, $8, $9, $10) RETURNING schedule_id",
    )
    .bind(owner.get())
    .bind(task.map(TaskId::get))
    .bind(draft.title.as_str())
    .bind(draft.description.as_str())
    .bind(draft.schedule_type.as_str())
    .bind(draft.designated_start.as_microsecond())
    .bind(ScheduleState::NotStarted.as_str())
    .bind(now.as_microsecond())
    .bind(draft.reminders.as_ref().map(Reminders::to_stored))
    .bind(draft.planned.map(PlannedDuration::minutes))
    .fetch_one(&mut *conn)
    .await?;
    Ok(ScheduleId(row.try_get("schedule_id")?))
}

/// Inserts the schedule of a series' occurrence unless it exists already (made by a concurrent read, or moved
/// away from its start); returns its id when this call made it.
pub async fn insert_occurrence(
    conn: &mut Conn,
    owner: MemberId,
    of: OccurrenceOf,
    draft: &ScheduleDraft,
    now: Timestamp,
) -> Result<Option<ScheduleId>> {
    let row = sqlx::query(
        "INSERT INTO schedule (owner_id, task_id, title, description, schedule_type, \
         designated_start_us, state, elapsed_us, running_since_us, stats_week_start, \
         stats_week_zone_id, version, created_at_us, updated_at_us, series_id, occurrence_start, \
         reminders, planned_minutes) \
         VALUES ($1, NULL, $2, $3, $4, $5, $6, 0, NULL, NULL, NULL, 1, $7, $7, $8, $9, $10, $11) \
         ON CONFLICT (series_id, occurrence_start) WHERE series_id IS NOT NULL DO NOTHING \
         RETURNING schedule_id",
    )
    .bind(owner.get())
    .bind(draft.title.as_str())
    .bind(draft.description.as_str())
    .bind(draft.schedule_type.as_str())
    .bind(draft.designated_start.as_microsecond())
    .bind(ScheduleState::NotStarted.as_str())
    .bind(now.as_microsecond())
    .bind(of.series.get())
    .bind(format_local_date_time(of.start))
    .bind(draft.reminders.as_ref().map(Reminders::to_stored))
    .bind(draft.planned.map(PlannedDuration::minutes))
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| r.try_get("schedule_id").map(ScheduleId))
        .transpose()
        .map_err(Into::into)
}

/// The schedule of `series`' occurrence that started at `start` (wall clock), wherever it was moved.
pub async fn occurrence(
    conn: &mut Conn,
    series: SeriesId,
    start: jiff::civil::DateTime,
) -> Result<Option<StoredSchedule>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE s.series_id = $1 AND s.occurrence_start = $2"
    )))
    .bind(series.get())
    .bind(format_local_date_time(start))
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The NOT_STARTED occurrences of `series` whose original start is after `after` (all of them with `None`).
pub async fn unstarted_of_series(
    conn: &mut Conn,
    series: SeriesId,
    after: Option<jiff::civil::DateTime>,
) -> Result<Vec<StoredSchedule>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} {FROM} WHERE s.series_id = "));
    sql.int(series.get()).push(" AND s.state = ");
    sql.text(ScheduleState::NotStarted.as_str());
    if let Some(after) = after {
        // Stored as `YYYY-MM-DDTHH:MM:SS`: text order is time order.
        sql.push(" AND s.occurrence_start > ");
        sql.text(format_local_date_time(after));
    }
    sql.push(" ORDER BY s.occurrence_start");
    from_rows(&sql.query().fetch_all(&mut *conn).await?)
}

/// Every schedule of `series`, by original start.
pub async fn of_series(conn: &mut Conn, series: SeriesId) -> Result<Vec<StoredSchedule>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE s.series_id = $1 ORDER BY s.occurrence_start"
    )))
    .bind(series.get())
    .fetch_all(&mut *conn)
    .await?;
    from_rows(&rows)
}

/// Re-files a schedule as occurrence `of` (its series was edited or split).
pub async fn set_occurrence(conn: &mut Conn, id: ScheduleId, of: OccurrenceOf) -> Result<()> {
    sqlx::query("UPDATE schedule SET series_id = $1, occurrence_start = $2 WHERE schedule_id = $3")
        .bind(of.series.get())
        .bind(format_local_date_time(of.start))
        .bind(id.get())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Which of `starts` (wall-clock) already have a schedule in `series`.
pub async fn occurrences_made(
    conn: &mut Conn,
    series: SeriesId,
    starts: &[jiff::civil::DateTime],
) -> Result<Vec<jiff::civil::DateTime>> {
    if starts.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT occurrence_start FROM schedule WHERE series_id = ");
    sql.int(series.get()).push(" AND occurrence_start IN (");
    for (i, start) in starts.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.text(format_local_date_time(*start));
    }
    sql.push(")");
    let rows = sql.query().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            let text: String = r.try_get("occurrence_start")?;
            Ok(parse_local_date_time(&text).map_err(invalid)?)
        })
        .collect()
}

/// Schedule `id`, whoever owns it.
pub async fn get(conn: &mut Conn, id: ScheduleId) -> Result<Option<StoredSchedule>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE s.schedule_id = $1"
    )))
    .bind(id.get())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The member's schedule `id` (`None` when missing or another member's).
pub async fn get_owned(
    conn: &mut Conn,
    owner: MemberId,
    id: ScheduleId,
) -> Result<Option<StoredSchedule>> {
    Ok(get(conn, id)
        .await?
        .filter(|s| s.schedule.owner_id() == owner))
}

/// The schedule linked to `task`, if any.
pub async fn of_task(conn: &mut Conn, task: TaskId) -> Result<Option<StoredSchedule>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE s.task_id = $1"
    )))
    .bind(task.get())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The member's schedules starting within `window`, by start then id.
pub async fn starting_within(
    conn: &mut Conn,
    owner: MemberId,
    window: Window,
) -> Result<Vec<StoredSchedule>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE s.owner_id = $1 AND s.designated_start_us >= $2 \
         AND s.designated_start_us < $3 ORDER BY s.designated_start_us, s.schedule_id"
    )))
    .bind(owner.get())
    .bind(window.start.as_microsecond())
    .bind(window.end.as_microsecond())
    .fetch_all(&mut *conn)
    .await?;
    from_rows(&rows)
}

/// Up to `limit` of the member's schedules strictly after `after` (start, id) in the order of start then id —
/// the keyset of the `(owner_id, designated_start_us, schedule_id)` index (an export's pages).
pub async fn page_after(
    conn: &mut Conn,
    owner: MemberId,
    after: Option<(Timestamp, ScheduleId)>,
    limit: i64,
) -> Result<Vec<StoredSchedule>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} {FROM} WHERE s.owner_id = "));
    sql.int(owner.get());
    if let Some((start, id)) = after {
        sql.push(" AND (s.designated_start_us, s.schedule_id) > (")
            .int(start.as_microsecond())
            .push(", ")
            .int(id.get())
            .push(")");
    }
    sql.push(" ORDER BY s.designated_start_us, s.schedule_id LIMIT ")
        .int(limit);
    from_rows(&sql.query().fetch_all(&mut *conn).await?)
}

/// The schedules among `ids` that exist.
pub async fn by_ids(conn: &mut Conn, ids: &[ScheduleId]) -> Result<Vec<StoredSchedule>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} {FROM} WHERE s.schedule_id IN "));
    sql.int_list(ids.iter().map(|s| s.get()));
    from_rows(&sql.query().fetch_all(&mut *conn).await?)
}

/// Saves a changed schedule; returns its new version.
pub async fn update(
    conn: &mut Conn,
    stored: &StoredSchedule,
    schedule: &Schedule,
    now: Timestamp,
) -> Result<i64> {
    let run = schedule.run().snapshot();
    let done = sqlx::query(
        "UPDATE schedule SET task_id = $1, title = $2, description = $3, schedule_type = $4, \
         designated_start_us = $5, state = $6, elapsed_us = $7, running_since_us = $8, \
         stats_week_start = $9, stats_week_zone_id = $10, reminders = $11, version = version + 1, \
         updated_at_us = $12, planned_minutes = $15 WHERE schedule_id = $13 AND version = $14",
    )
    .bind(schedule.task_id().map(TaskId::get))
    .bind(schedule.title().as_str())
    .bind(schedule.description().as_str())
    .bind(schedule.schedule_type().as_str())
    .bind(schedule.designated_start().as_microsecond())
    .bind(run.state.as_str())
    .bind(elapsed_us(run.elapsed))
    .bind(run.running_since.map(|t| t.as_microsecond()))
    .bind(run.completed_week.as_ref().map(|w| w.start.to_string()))
    .bind(run.completed_week.as_ref().map(|w| w.zone_id.clone()))
    .bind(schedule.reminders().map(Reminders::to_stored))
    .bind(now.as_microsecond())
    .bind(schedule.id().get())
    .bind(stored.version)
    .bind(schedule.planned().map(PlannedDuration::minutes))
    .execute(&mut *conn)
    .await?;
    next_version(
        done.rows_affected(),
        stored.version,
        "schedule",
        schedule.id().get(),
    )
}

pub async fn delete(conn: &mut Conn, id: ScheduleId) -> Result<()> {
    sqlx::query("DELETE FROM schedule WHERE schedule_id = $1")
        .bind(id.get())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Counts a change the row does not hold — what it inherits from its series changed — as a new version of the
/// schedule (its re-armed event carries it); returns the new version.
pub async fn touch(conn: &mut Conn, stored: &StoredSchedule, now: Timestamp) -> Result<i64> {
    let id = stored.schedule.id();
    let done = sqlx::query(
        "UPDATE schedule SET version = version + 1, updated_at_us = $1 \
         WHERE schedule_id = $2 AND version = $3",
    )
    .bind(now.as_microsecond())
    .bind(id.get())
    .bind(stored.version)
    .execute(&mut *conn)
    .await?;
    next_version(done.rows_affected(), stored.version, "schedule", id.get())
}

/// The member's schedules changed (created or updated) after `since_us`, oldest change first — a calendar
/// client's incremental sync (the deleted ones are [`super::tombstones`]').
pub async fn changed_since(
    conn: &mut Conn,
    owner: MemberId,
    since_us: i64,
) -> Result<Vec<StoredSchedule>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE s.owner_id = $1 AND s.updated_at_us > $2 \
         ORDER BY s.updated_at_us, s.schedule_id"
    )))
    .bind(owner.get())
    .bind(since_us)
    .fetch_all(&mut *conn)
    .await?;
    from_rows(&rows)
}

/// The newest `updated_at_us` among the member's schedules.
pub async fn last_change(conn: &mut Conn, owner: MemberId) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT MAX(updated_at_us) FROM schedule WHERE owner_id = $1")
            .bind(owner.get())
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// Deletes every schedule of `member` (account deletion, before its tasks and series, which they refer to);
/// how many.
pub async fn erase_member(conn: &mut Conn, member: MemberId) -> Result<u64> {
    super::erase_rows(conn, "schedule", "owner_id", member).await
}
