//! `busy_calendar` and `busy_event`: a member's subscribed and uploaded calendars, and their events as read
//! (JSON of [`BusyEvent`]) with the instants they can reach, so a window's events are found without expanding.

use jiff::Timestamp;
use pinit_kernel::db::Conn;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Sql, get_instant, instant};
use crate::domain::busy::{BusyCalendarId, BusyEvent, CalendarKind};
use crate::domain::{CorruptRecord, MemberId, Window};

/// A calendar as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCalendar {
    pub id: BusyCalendarId,
    pub owner: MemberId,
    pub name: String,
    pub kind: CalendarKind,
    pub url: Option<String>,
    pub color: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub created_at: Timestamp,
    pub last_fetched_at: Option<Timestamp>,
    pub last_attempt_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub event_count: i64,
}

/// What a new calendar is.
#[derive(Debug, Clone)]
pub struct NewCalendar<'a> {
    pub owner: MemberId,
    pub name: &'a str,
    pub kind: CalendarKind,
    pub url: Option<&'a str>,
    pub color: Option<&'a str>,
    pub etag: Option<&'a str>,
    pub last_modified: Option<&'a str>,
}

const COLUMNS: &str = "calendar_id, owner_id, name, kind, url, color, etag, last_modified, created_at_us, \
                       last_fetched_at_us, last_attempt_at_us, last_error, event_count";

fn from_row(row: &AnyRow) -> Result<StoredCalendar> {
    let kind: String = row.try_get("kind")?;
    let optional = |column: &str| -> Result<Option<Timestamp>> {
        Ok(row
            .try_get::<Option<i64>, _>(column)?
            .map(instant)
            .transpose()?)
    };
    Ok(StoredCalendar {
        id: BusyCalendarId(row.try_get("calendar_id")?),
        owner: MemberId(row.try_get("owner_id")?),
        name: row.try_get("name")?,
        kind: CalendarKind::parse(&kind).ok_or_else(|| CorruptRecord::UnknownType(kind.clone()))?,
        url: row.try_get("url")?,
        color: row.try_get("color")?,
        etag: row.try_get("etag")?,
        last_modified: row.try_get("last_modified")?,
        created_at: get_instant(row, "created_at_us")?,
        last_fetched_at: optional("last_fetched_at_us")?,
        last_attempt_at: optional("last_attempt_at_us")?,
        last_error: row.try_get("last_error")?,
        event_count: row.try_get("event_count")?,
    })
}

/// Inserts a calendar (a URL one as just fetched at `now`) with its events; returns it.
pub async fn insert(
    conn: &mut Conn,
    new: &NewCalendar<'_>,
    events: &[BusyEvent],
    now: Timestamp,
) -> Result<StoredCalendar> {
    let fetched = (new.kind == CalendarKind::Url).then_some(now.as_microsecond());
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO busy_calendar (owner_id, name, kind, url, color, etag, last_modified, created_at_us, \
         last_fetched_at_us, last_attempt_at_us, event_count) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) RETURNING {COLUMNS}"
    )))
    .bind(new.owner.get())
    .bind(new.name)
    .bind(new.kind.as_str())
    .bind(new.url)
    .bind(new.color)
    .bind(new.etag)
    .bind(new.last_modified)
    .bind(now.as_microsecond())
    .bind(fetched)
    .bind(i64::try_from(events.len()).unwrap_or(i64::MAX))
    .fetch_one(&mut *conn)
    .await?;
    let stored = from_row(&row)?;
    insert_events(conn, stored.id, stored.owner, events).await?;
    Ok(stored)
}

/// Rows per multi-row INSERT (6 values each: well under either backend's limit of bound values).
const EVENTS_PER_INSERT: usize = 150;

async fn insert_events(
    conn: &mut Conn,
    id: BusyCalendarId,
    owner: MemberId,
    events: &[BusyEvent],
) -> Result<()> {
    for (chunk_no, chunk) in events.chunks(EVENTS_PER_INSERT).enumerate() {
        let mut sql = Sql::new(
            "INSERT INTO busy_event (calendar_id, seq, owner_id, reach_start_us, reach_end_us, data) VALUES ",
        );
        for (i, event) in chunk.iter().enumerate() {
            let (start, end) = event.reach();
            let data = serde_json::to_string(event)
                .map_err(|e| CorruptRecord::UnknownType(format!("busy event: {e}")))?;
            let seq = i64::try_from(chunk_no * EVENTS_PER_INSERT + i).unwrap_or(i64::MAX);
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .int(id.get())
                .push(", ")
                .int(seq)
                .push(", ")
                .int(owner.get());
            sql.push(", ").int(start.as_microsecond()).push(", ");
            match end {
                Some(end) => sql.int(end.as_microsecond()),
                None => sql.push("NULL"),
            };
            sql.push(", ").text(data).push(")");
        }
        sql.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The member's calendars, oldest first.
pub async fn of_owner(conn: &mut Conn, owner: MemberId) -> Result<Vec<StoredCalendar>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM busy_calendar WHERE owner_id = $1 ORDER BY calendar_id"
    )))
    .bind(owner.get())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// How many calendars the member has.
pub async fn count(conn: &mut Conn, owner: MemberId) -> Result<usize> {
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM busy_calendar WHERE owner_id = $1")
        .bind(owner.get())
        .fetch_one(&mut *conn)
        .await?
        .try_get("n")?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Deletes the member's calendar `id` and its events; `false` if there was none.
pub async fn delete(conn: &mut Conn, owner: MemberId, id: BusyCalendarId) -> Result<bool> {
    sqlx::query(
        "DELETE FROM busy_event WHERE calendar_id IN \
         (SELECT calendar_id FROM busy_calendar WHERE calendar_id = $1 AND owner_id = $2)",
    )
    .bind(id.get())
    .bind(owner.get())
    .execute(&mut *conn)
    .await?;
    let done = sqlx::query("DELETE FROM busy_calendar WHERE calendar_id = $1 AND owner_id = $2")
        .bind(id.get())
        .bind(owner.get())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// URL calendars whose last attempt was before `before` (or never), the longest waiting first.
pub async fn due(conn: &mut Conn, before: Timestamp, limit: i64) -> Result<Vec<StoredCalendar>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM busy_calendar WHERE kind = 'url' \
         AND (last_attempt_at_us IS NULL OR last_attempt_at_us < $1) \
         ORDER BY last_attempt_at_us, calendar_id LIMIT $2"
    )))
    .bind(before.as_microsecond())
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// A refresh answered 304: the events stay. `false` if the calendar is gone.
pub async fn not_modified(conn: &mut Conn, id: BusyCalendarId, now: Timestamp) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE busy_calendar SET last_fetched_at_us = $1, last_attempt_at_us = $1, last_error = NULL \
         WHERE calendar_id = $2",
    )
    .bind(now.as_microsecond())
    .bind(id.get())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A refresh answered a new calendar: its events replace the stored ones. `false` (nothing written) if the
/// calendar is gone.
pub async fn replace(
    conn: &mut Conn,
    stored: &StoredCalendar,
    fetched: &Refetched<'_>,
    events: &[BusyEvent],
    now: Timestamp,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE busy_calendar SET last_fetched_at_us = $1, last_attempt_at_us = $1, last_error = NULL, \
         etag = $2, last_modified = $3, color = $4, event_count = $5 WHERE calendar_id = $6",
    )
    .bind(now.as_microsecond())
    .bind(fetched.etag)
    .bind(fetched.last_modified)
    .bind(fetched.color)
    .bind(i64::try_from(events.len()).unwrap_or(i64::MAX))
    .bind(stored.id.get())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM busy_event WHERE calendar_id = $1")
        .bind(stored.id.get())
        .execute(&mut *conn)
        .await?;
    insert_events(conn, stored.id, stored.owner, events).await?;
    Ok(true)
}

/// What a refresh that changed the calendar answered.
#[derive(Debug, Clone, Copy)]
pub struct Refetched<'a> {
    pub etag: Option<&'a str>,
    pub last_modified: Option<&'a str>,
    pub color: Option<&'a str>,
}

/// A refresh failed: why (the events stay what they were).
pub async fn failed(
    conn: &mut Conn,
    id: BusyCalendarId,
    error: &str,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "UPDATE busy_calendar SET last_attempt_at_us = $1, last_error = $2 WHERE calendar_id = $3",
    )
    .bind(now.as_microsecond())
    .bind(error)
    .bind(id.get())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The member's events that can reach into `window`, with their calendar, in calendar then file order.
pub async fn events_within(
    conn: &mut Conn,
    owner: MemberId,
    window: &Window,
) -> Result<Vec<(BusyCalendarId, BusyEvent)>> {
    let rows = sqlx::query(
        "SELECT calendar_id, data FROM busy_event WHERE owner_id = $1 AND reach_start_us < $2 \
         AND (reach_end_us IS NULL OR reach_end_us > $3) ORDER BY calendar_id, seq",
    )
    .bind(owner.get())
    .bind(window.end.as_microsecond())
    .bind(window.start.as_microsecond())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let data: String = row.try_get("data")?;
            let event: BusyEvent = serde_json::from_str(&data)
                .map_err(|e| CorruptRecord::UnknownType(format!("busy event: {e}")))?;
            Ok((BusyCalendarId(row.try_get("calendar_id")?), event))
        })
        .collect()
}

/// Deletes every busy calendar of `member` and their events (account deletion); how many calendars.
pub async fn erase_member(conn: &mut Conn, member: MemberId) -> Result<u64> {
    super::erase_rows(conn, "busy_event", "owner_id", member).await?;
    super::erase_rows(conn, "busy_calendar", "owner_id", member).await
}
