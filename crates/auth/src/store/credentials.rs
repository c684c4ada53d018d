//! What the tables of members' machine credentials — `app_password` and `api_token` — share: counting a
//! member's, deleting one of theirs, writing down a use. Each table has its own module for the rest.

use jiff::Timestamp;
use pinit_kernel::db::{Conn, Tx};

use super::Result;
use crate::domain::MemberId;

/// A credentials table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    AppPassword,
    ApiToken,
}

impl Table {
    /// The table's name and its id column (constants: never input).
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Table::AppPassword => ("app_password", "app_password_id"),
            Table::ApiToken => ("api_token", "api_token_id"),
        }
    }
}

#[derive(sqlx::FromRow)]
struct CountRecord {
    n: i64,
}

/// How many a member has.
pub async fn count(tx: &mut Tx, table: Table, member: MemberId) -> Result<usize> {
    let (table, _) = table.names();
    let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE member_id = $1");
    let record = sqlx::query_as::<_, CountRecord>(sqlx::AssertSqlSafe(sql))
        .bind(member.get())
        .fetch_one(&mut **tx)
        .await?;
    Ok(usize::try_from(record.n).unwrap_or(usize::MAX))
}

/// Deletes a member's credential; `false` if the member has none with that id.
pub async fn delete(conn: &mut Conn, table: Table, member: MemberId, id: i64) -> Result<bool> {
    let (table, id_column) = table.names();
    let sql = format!("DELETE FROM {table} WHERE {id_column} = $1 AND member_id = $2");
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(member.get())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Writes down a use at `now`.
pub async fn touch(conn: &mut Conn, table: Table, id: i64, now: Timestamp) -> Result<()> {
    let (table, id_column) = table.names();
    let sql = format!("UPDATE {table} SET last_used_at_us = $1 WHERE {id_column} = $2");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(now.as_microsecond())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Deletes every credential of `member` in `table` (account deletion); how many.
pub async fn erase_member(tx: &mut Tx, table: Table, member: MemberId) -> Result<u64> {
    let (table, _) = table.names();
    let sql = format!("DELETE FROM {table} WHERE member_id = $1");
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(member.get())
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}
