//! `schedule_series`.

use jiff::Timestamp;
use jiff::civil::DateTime;
use pinit_kernel::db::Conn;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, get_instant, get_reminders, next_version};
use crate::domain::recurrence::Rule;
use crate::domain::time::{format_local_date_time, parse_local_date_time};
use crate::domain::{
    CorruptRecord, Description, MemberId, PlannedDuration, Recurrence, Reminders, ScheduleSeries,
    ScheduleType, SeriesId, SeriesSpec, Title, ValidationError, Zone,
};

/// A series as stored.
#[derive(Debug, Clone)]
pub struct StoredSeries {
    pub series: ScheduleSeries,
    /// Every occurrence starting before this instant exists as a schedule.
    pub materialized_until: Timestamp,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "series_id, owner_id, title, description, schedule_type, start_local, zone_id, rrule, \
    exdates, rdates, reminders, planned_minutes, materialized_until_us, version, created_at_us, updated_at_us";

fn corrupt(e: impl Into<ValidationError>) -> CorruptRecord {
    CorruptRecord::InvalidValue(e.into())
}

/// Wall-clock times as stored: comma-separated `YYYY-MM-DDTHH:MM:SS`.
fn join(dates: &[DateTime]) -> String {
    dates
        .iter()
        .map(|d| format_local_date_time(*d))
        .collect::<Vec<_>>()
        .join(",")
}

fn split(text: &str) -> std::result::Result<Vec<DateTime>, CorruptRecord> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| parse_local_date_time(s).map_err(corrupt))
        .collect()
}

fn from_row(row: &AnyRow) -> Result<StoredSeries> {
    let kind: String = row.try_get("schedule_type")?;
    let rrule: String = row.try_get("rrule")?;
    let rule = Rule::parse(&rrule)
        .map_err(|_| CorruptRecord::InconsistentRun("a stored RRULE no longer parses"))?;
    let spec = SeriesSpec {
        title: Title::parse(row.try_get::<String, _>("title")?).map_err(corrupt)?,
        description: Description::parse(row.try_get::<String, _>("description")?)
            .map_err(corrupt)?,
        schedule_type: ScheduleType::parse(&kind)
            .map_err(|_| CorruptRecord::UnknownType(kind.clone()))?,
        start: parse_local_date_time(&row.try_get::<String, _>("start_local")?).map_err(corrupt)?,
        zone: Zone::parse(&row.try_get::<String, _>("zone_id")?).map_err(corrupt)?,
        recurrence: Recurrence {
            rrule,
            rule,
            exdates: split(&row.try_get::<String, _>("exdates")?)?,
            rdates: split(&row.try_get::<String, _>("rdates")?)?,
        },
        planned: super::get_planned(row, "planned_minutes")?,
    };
    let series = ScheduleSeries {
        id: SeriesId(row.try_get("series_id")?),
        owner_id: MemberId(row.try_get("owner_id")?),
        spec,
        reminders: get_reminders(row, "reminders")?,
    };
    Ok(StoredSeries {
        series,
        materialized_until: get_instant(row, "materialized_until_us")?,
        version: row.try_get("version")?,
        created_at: get_instant(row, "created_at_us")?,
        updated_at: get_instant(row, "updated_at_us")?,
    })
}

/// Inserts a series (version 1) whose occurrences are made up to `materialized_until`, with the reminders they
/// inherit; returns its id.
pub async fn insert(
    conn: &mut Conn,
    owner: MemberId,
    spec: &SeriesSpec,
    reminders: Option<&Reminders>,
    materialized_until: Timestamp,
    now: Timestamp,
) -> Result<SeriesId> {
    let row = sqlx::query(
        "INSERT INTO schedule_series (owner_id, title, description, schedule_type, start_local, zone_id, \
         rrule, exdates, rdates, materialized_until_us, version, created_at_us, updated_at_us, reminders, \
         planned_minutes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $11, $12, $13) RETURNING series_id",
    )
    .bind(owner.get())
    .bind(spec.title.as_str())
    .bind(spec.description.as_str())
    .bind(spec.schedule_type.as_str())
    .bind(format_local_date_time(spec.start))
    .bind(spec.zone.id())
    .bind(spec.recurrence.rrule.as_str())
    .bind(join(&spec.recurrence.exdates))
    .bind(join(&spec.recurrence.rdates))
    .bind(materialized_until.as_microsecond())
    .bind(now.as_microsecond())
    .bind(reminders.map(Reminders::to_stored))
    .bind(spec.planned.map(PlannedDuration::minutes))
    .fetch_one(&mut *conn)
    .await?;
    Ok(SeriesId(row.try_get("series_id")?))
}

/// The member's series `id` (`None` when missing or another member's).
pub async fn get_owned(
    conn: &mut Conn,
    owner: MemberId,
    id: SeriesId,
) -> Result<Option<StoredSeries>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM schedule_series WHERE series_id = $1 AND owner_id = $2 \
         AND deleted_at_us IS NULL"
    )))
    .bind(id.get())
    .bind(owner.get())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Every series of the member, oldest first.
pub async fn of_owner(conn: &mut Conn, owner: MemberId) -> Result<Vec<StoredSeries>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM schedule_series WHERE owner_id = $1 AND deleted_at_us IS NULL \
         ORDER BY series_id"
    )))
    .bind(owner.get())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Up to `limit` of the member's series after `after`, by id, deleted ones too (with when they were deleted: their
/// started or completed occurrences stay) — an export's pages.
pub async fn page_after(
    conn: &mut Conn,
    owner: MemberId,
    after: Option<SeriesId>,
    limit: i64,
) -> Result<Vec<(StoredSeries, Option<Timestamp>)>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS}, deleted_at_us FROM schedule_series WHERE owner_id = $1 AND series_id > $2 \
         ORDER BY series_id LIMIT $3"
    )))
    .bind(owner.get())
    .bind(after.map_or(0, SeriesId::get))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let deleted = row
                .try_get::<Option<i64>, _>("deleted_at_us")?
                .map(super::instant)
                .transpose()?;
            Ok((from_row(row)?, deleted))
        })
        .collect()
}

/// The zone of every series of the member, deleted ones too (their started or completed occurrences stay).
pub async fn zones_of_owner(
    conn: &mut Conn,
    owner: MemberId,
) -> Result<std::collections::HashMap<SeriesId, Zone>> {
    let rows = sqlx::query("SELECT series_id, zone_id FROM schedule_series WHERE owner_id = $1")
        .bind(owner.get())
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| {
            let zone = Zone::parse(&row.try_get::<String, _>("zone_id")?).map_err(corrupt)?;
            Ok((SeriesId(row.try_get("series_id")?), zone))
        })
        .collect()
}

/// Up to `limit` series whose occurrences are made only up to before `horizon`, least advanced first.
pub async fn behind(conn: &mut Conn, horizon: Timestamp, limit: i64) -> Result<Vec<StoredSeries>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM schedule_series WHERE materialized_until_us < $1 \
         AND deleted_at_us IS NULL ORDER BY materialized_until_us, series_id LIMIT $2"
    )))
    .bind(horizon.as_microsecond())
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Records that the series' occurrences are made up to `until` (never moves it back).
pub async fn advance(conn: &mut Conn, id: SeriesId, until: Timestamp) -> Result<()> {
    sqlx::query(
        "UPDATE schedule_series SET materialized_until_us = $1 \
         WHERE series_id = $2 AND materialized_until_us < $1",
    )
    .bind(until.as_microsecond())
    .bind(id.get())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Saves a changed recurrence (a new EXDATE, a split); checks the version read.
pub async fn set_recurrence(
    conn: &mut Conn,
    stored: &StoredSeries,
    recurrence: &Recurrence,
    now: Timestamp,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE schedule_series SET rrule = $1, exdates = $2, rdates = $3, version = version + 1, \
         updated_at_us = $4 WHERE series_id = $5 AND version = $6",
    )
    .bind(recurrence.rrule.as_str())
    .bind(join(&recurrence.exdates))
    .bind(join(&recurrence.rdates))
    .bind(now.as_microsecond())
    .bind(stored.series.id.get())
    .bind(stored.version)
    .execute(&mut *conn)
    .await?;
    version_checked(done.rows_affected(), stored)
}

/// Saves an edited series (template, start, recurrence, reminders); checks the version read.
pub async fn update(
    conn: &mut Conn,
    stored: &StoredSeries,
    series: &ScheduleSeries,
    now: Timestamp,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE schedule_series SET title = $1, description = $2, schedule_type = $3, start_local = $4, \
         rrule = $5, exdates = $6, rdates = $7, reminders = $8, version = version + 1, updated_at_us = $9, \
         planned_minutes = $12 WHERE series_id = $10 AND version = $11",
    )
    .bind(series.spec.title.as_str())
    .bind(series.spec.description.as_str())
    .bind(series.spec.schedule_type.as_str())
    .bind(format_local_date_time(series.spec.start))
    .bind(series.spec.recurrence.rrule.as_str())
    .bind(join(&series.spec.recurrence.exdates))
    .bind(join(&series.spec.recurrence.rdates))
    .bind(series.reminders.as_ref().map(Reminders::to_stored))
    .bind(now.as_microsecond())
    .bind(stored.series.id.get())
    .bind(stored.version)
    .bind(series.spec.planned.map(PlannedDuration::minutes))
    .execute(&mut *conn)
    .await?;
    version_checked(done.rows_affected(), stored)
}

/// Deletes the whole series: it makes no more occurrences (the rows stay for the occurrences kept).
pub async fn delete(conn: &mut Conn, stored: &StoredSeries, now: Timestamp) -> Result<()> {
    let done = sqlx::query(
        "UPDATE schedule_series SET deleted_at_us = $1, version = version + 1, updated_at_us = $1 \
         WHERE series_id = $2 AND version = $3",
    )
    .bind(now.as_microsecond())
    .bind(stored.series.id.get())
    .bind(stored.version)
    .execute(&mut *conn)
    .await?;
    version_checked(done.rows_affected(), stored)
}

fn version_checked(rows: u64, stored: &StoredSeries) -> Result<()> {
    next_version(
        rows,
        stored.version,
        "schedule series",
        stored.series.id.get(),
    )
    .map(|_| ())
}

/// The member's series changed after `since_us` (deleted ones too: `true`), oldest change first — a calendar
/// app's incremental sync.
pub async fn changed_since(
    conn: &mut Conn,
    owner: MemberId,
    since_us: i64,
) -> Result<Vec<(SeriesId, bool)>> {
    let rows: Vec<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT series_id, deleted_at_us FROM schedule_series WHERE owner_id = $1 AND updated_at_us > $2 \
         ORDER BY updated_at_us, series_id",
    )
    .bind(owner.get())
    .bind(since_us)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, deleted)| (SeriesId(id), deleted.is_some()))
        .collect())
}

/// The newest `updated_at_us` among the member's series (deleted ones too).
pub async fn last_change(conn: &mut Conn, owner: MemberId) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT MAX(updated_at_us) FROM schedule_series WHERE owner_id = $1")
            .bind(owner.get())
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// Deletes every repeating schedule of `member` (account deletion, after its occurrences); how many.
pub async fn erase_member(conn: &mut Conn, member: MemberId) -> Result<u64> {
    super::erase_rows(conn, "schedule_series", "owner_id", member).await
}
