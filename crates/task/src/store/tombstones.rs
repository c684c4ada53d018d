//! `schedule_tombstone` and `task_tombstone`: which schedules and tasks were deleted and when (and the name a
//! calendar app knew it by), so a calendar client's incremental sync learns of deletions (RFC 6578).
//! Written in the one place each is deleted (`app::Unit::delete_schedule`, `app::tasks::delete_task`).

use jiff::Timestamp;
use pinit_kernel::db::Conn;

use super::Result;
use crate::domain::MemberId;

pub use super::Kind;

impl Kind {
    fn tombstones(self) -> &'static str {
        match self {
            Kind::Schedule => "schedule_tombstone",
            Kind::Task => "task_tombstone",
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
/// app had given it.
pub async fn record(
    conn: &mut Conn,
    kind: Kind,
    owner: MemberId,
    id: i64,
    name: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    let (table, id_column) = (kind.tombstones(), kind.id_column());
    let sql = format!(
        "INSERT INTO {table} ({id_column}, owner_id, deleted_at_us, name) VALUES ($1, $2, $3, $4) \
         ON CONFLICT ({id_column}) DO UPDATE SET deleted_at_us = excluded.deleted_at_us, name = excluded.name"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(owner.get())
        .bind(now.as_microsecond())
        .bind(name)
        .execute(&mut *conn)
        .await?;
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
        "SELECT {id} AS id, name FROM {table} WHERE owner_id = $1 AND deleted_at_us > $2 \
         ORDER BY deleted_at_us, {id}",
        id = kind.id_column(),
        table = kind.tombstones()
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
        kind.tombstones()
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(owner.get())
        .fetch_one(&mut *conn)
        .await?)
}

/// Deletes every tombstone of `member`'s schedules and tasks (account deletion); how many.
pub async fn erase_member(conn: &mut Conn, member: MemberId) -> Result<u64> {
    let mut erased = 0;
    for kind in [Kind::Schedule, Kind::Task] {
        erased += super::erase_rows(conn, kind.tombstones(), "owner_id", member).await?;
    }
    Ok(erased)
}
