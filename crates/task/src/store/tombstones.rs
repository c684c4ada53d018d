//! `schedule_tombstone` and `task_tombstone`: which schedules and tasks were deleted and when (and the name a
//! calendar app knew a schedule by), so a calendar client's incremental sync learns of deletions (RFC 6578).
//! Written in the one place each is deleted (`app::Unit::delete_schedule`, `app::tasks::delete_task`).

use jiff::Timestamp;
use pinit_kernel::db::Conn;

use super::Result;
use crate::domain::MemberId;

/// Which kind of row was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Schedule,
    Task,
}

impl Kind {
    fn table(self) -> &'static str {
        match self {
            Kind::Schedule => "schedule_tombstone",
            Kind::Task => "task_tombstone",
        }
    }

    fn id_column(self) -> &'static str {
        match self {
            Kind::Schedule => "schedule_id",
            Kind::Task => "task_id",
        }
    }

    /// The name column (only schedules have app-given names).
    fn name_column(self) -> &'static str {
        match self {
            Kind::Schedule => "name",
            Kind::Task => "NULL",
        }
    }
}

/// A deleted row: its id, and the name a calendar app knew it by (if it had one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    pub id: i64,
    pub name: Option<String>,
}

/// Records that the member's schedule or task `id` was deleted at `now`; `name`: the resource name a calendar
/// app had given a schedule.
pub async fn record(
    conn: &mut Conn,
    kind: Kind,
    owner: MemberId,
    id: i64,
    name: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    let (table, id_column) = (kind.table(), kind.id_column());
    let sql = match kind {
        Kind::Schedule => format!(
            "INSERT INTO {table} ({id_column}, owner_id, deleted_at_us, name) VALUES ($1, $2, $3, $4) \
             ON CONFLICT ({id_column}) DO UPDATE SET deleted_at_us = excluded.deleted_at_us, name = excluded.name"
        ),
        Kind::Task => format!(
            "INSERT INTO {table} ({id_column}, owner_id, deleted_at_us) VALUES ($1, $2, $3) \
             ON CONFLICT ({id_column}) DO UPDATE SET deleted_at_us = excluded.deleted_at_us"
        ),
    };
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(owner.get())
        .bind(now.as_microsecond());
    if kind == Kind::Schedule {
        query = query.bind(name);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// The member's rows of `kind` deleted after `since_us`, oldest first.
pub async fn since(
    conn: &mut Conn,
    kind: Kind,
    owner: MemberId,
    since_us: i64,
) -> Result<Vec<Tombstone>> {
    let sql = format!(
        "SELECT {id} AS id, {name} AS name FROM {table} WHERE owner_id = $1 AND deleted_at_us > $2 \
         ORDER BY deleted_at_us, {id}",
        id = kind.id_column(),
        name = kind.name_column(),
        table = kind.table()
    );
    let rows: Vec<(i64, Option<String>)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(owner.get())
        .bind(since_us)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name)| Tombstone { id, name })
        .collect())
}

/// When the member's last row of `kind` was deleted.
pub async fn last(conn: &mut Conn, kind: Kind, owner: MemberId) -> Result<Option<i64>> {
    let sql = format!(
        "SELECT MAX(deleted_at_us) FROM {} WHERE owner_id = $1",
        kind.table()
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(owner.get())
        .fetch_one(&mut *conn)
        .await?)
}
