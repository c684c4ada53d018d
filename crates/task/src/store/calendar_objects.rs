//! `calendar_object` and `task_object`: what a calendar app put into a member's calendars over CalDAV — its
//! resource name, its UID, the schedule or task it became and the lines of its event or to-do Pinit does not
//! represent (kept verbatim). One table per [`Kind`], the same columns.

use std::collections::HashMap;

use jiff::Timestamp;
use pinit_kernel::db::Conn;

use super::{Kind, Result};
use crate::domain::MemberId;

impl Kind {
    fn objects(self) -> &'static str {
        match self {
            Kind::Schedule => "calendar_object",
            Kind::Task => "task_object",
        }
    }
}

/// A calendar app's object.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CalendarObject {
    /// The schedule's or task's id.
    pub id: i64,
    /// The resource name in the collection (`{name}.ics`).
    pub name: String,
    pub uid: String,
    /// The component's lines Pinit does not represent, as an iCalendar `VEVENT` or `VTODO` holding only them.
    pub extra: String,
}

fn select(kind: Kind, filter: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!(
        "SELECT {id} AS id, name, uid, extra FROM {table} WHERE owner_id = $1{filter}",
        id = kind.id_column(),
        table = kind.objects()
    ))
}

/// The member's object named `name`.
pub async fn by_name(
    conn: &mut Conn,
    kind: Kind,
    owner: MemberId,
    name: &str,
) -> Result<Option<CalendarObject>> {
    Ok(
        sqlx::query_as::<_, CalendarObject>(select(kind, " AND name = $2"))
            .bind(owner.get())
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// The member's object with this UID.
pub async fn by_uid(
    conn: &mut Conn,
    kind: Kind,
    owner: MemberId,
    uid: &str,
) -> Result<Option<CalendarObject>> {
    Ok(
        sqlx::query_as::<_, CalendarObject>(select(kind, " AND uid = $2"))
            .bind(owner.get())
            .bind(uid)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// Every object of the member, by schedule or task id.
pub async fn of_member(
    conn: &mut Conn,
    kind: Kind,
    owner: MemberId,
) -> Result<HashMap<i64, CalendarObject>> {
    let records = sqlx::query_as::<_, CalendarObject>(select(kind, ""))
        .bind(owner.get())
        .fetch_all(&mut *conn)
        .await?;
    Ok(records.into_iter().map(|r| (r.id, r)).collect())
}

/// Stores (or replaces) the object of a schedule or task.
pub async fn save(
    conn: &mut Conn,
    kind: Kind,
    owner: MemberId,
    object: &CalendarObject,
    now: Timestamp,
) -> Result<()> {
    let sql = format!(
        "INSERT INTO {table} ({id}, owner_id, name, uid, extra, updated_at_us) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT ({id}) DO UPDATE SET name = excluded.name, uid = excluded.uid, \
           extra = excluded.extra, updated_at_us = excluded.updated_at_us",
        id = kind.id_column(),
        table = kind.objects()
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(object.id)
        .bind(owner.get())
        .bind(object.name.as_str())
        .bind(object.uid.as_str())
        .bind(object.extra.as_str())
        .bind(now.as_microsecond())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Forgets the object of a deleted schedule or task; returns the name it had.
pub async fn forget(conn: &mut Conn, kind: Kind, id: i64) -> Result<Option<String>> {
    let sql = format!(
        "DELETE FROM {table} WHERE {id_column} = $1 RETURNING name",
        table = kind.objects(),
        id_column = kind.id_column()
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?)
}

/// Deletes what calendar apps put into `member`'s calendars, of both kinds (account deletion); how many.
pub async fn erase_member(conn: &mut Conn, member: MemberId) -> Result<u64> {
    let mut erased = 0;
    for kind in [Kind::Schedule, Kind::Task] {
        erased += super::erase_rows(conn, kind.objects(), "owner_id", member).await?;
    }
    Ok(erased)
}
