//! `calendar_object`: what a calendar app put into a member's calendar over CalDAV — its resource name, its
//! UID, the schedule it became and the lines of its event Pinit does not represent (kept verbatim).

use std::collections::HashMap;

use jiff::Timestamp;
use pinit_kernel::db::Conn;

use super::Result;
use crate::domain::{MemberId, ScheduleId};

/// A calendar app's object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarObject {
    pub schedule_id: ScheduleId,
    /// The resource name in the collection (`{name}.ics`).
    pub name: String,
    pub uid: String,
    /// The event's lines Pinit does not represent, as an iCalendar `VEVENT` holding only them.
    pub extra: String,
}

#[derive(sqlx::FromRow)]
struct Record {
    schedule_id: i64,
    name: String,
    uid: String,
    extra: String,
}

impl From<Record> for CalendarObject {
    fn from(r: Record) -> Self {
        Self {
            schedule_id: ScheduleId(r.schedule_id),
            name: r.name,
            uid: r.uid,
            extra: r.extra,
        }
    }
}

/// The member's object named `name`.
pub async fn by_name(
    conn: &mut Conn,
    owner: MemberId,
    name: &str,
) -> Result<Option<CalendarObject>> {
    let record = sqlx::query_as::<_, Record>(
        "SELECT schedule_id, name, uid, extra FROM calendar_object WHERE owner_id = $1 AND name = $2",
    )
    .bind(owner.get())
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(record.map(CalendarObject::from))
}

/// The member's object with this UID.
pub async fn by_uid(conn: &mut Conn, owner: MemberId, uid: &str) -> Result<Option<CalendarObject>> {
    let record = sqlx::query_as::<_, Record>(
        "SELECT schedule_id, name, uid, extra FROM calendar_object WHERE owner_id = $1 AND uid = $2",
    )
    .bind(owner.get())
    .bind(uid)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(record.map(CalendarObject::from))
}

/// Every object of the member, by schedule.
pub async fn of_member(
    conn: &mut Conn,
    owner: MemberId,
) -> Result<HashMap<ScheduleId, CalendarObject>> {
    let records = sqlx::query_as::<_, Record>(
        "SELECT schedule_id, name, uid, extra FROM calendar_object WHERE owner_id = $1",
    )
    .bind(owner.get())
    .fetch_all(&mut *conn)
    .await?;
    Ok(records
        .into_iter()
        .map(|r| (ScheduleId(r.schedule_id), CalendarObject::from(r)))
        .collect())
}

/// Stores (or replaces) the object of a schedule.
pub async fn save(
    conn: &mut Conn,
    owner: MemberId,
    object: &CalendarObject,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO calendar_object (schedule_id, owner_id, name, uid, extra, updated_at_us) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (schedule_id) DO UPDATE SET name = excluded.name, uid = excluded.uid, \
           extra = excluded.extra, updated_at_us = excluded.updated_at_us",
    )
    .bind(object.schedule_id.get())
    .bind(owner.get())
    .bind(object.name.as_str())
    .bind(object.uid.as_str())
    .bind(object.extra.as_str())
    .bind(now.as_microsecond())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Forgets the object of a deleted schedule; returns the name it had.
pub async fn forget(conn: &mut Conn, id: ScheduleId) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("DELETE FROM calendar_object WHERE schedule_id = $1 RETURNING name")
            .bind(id.get())
            .fetch_optional(&mut *conn)
            .await?,
    )
}
