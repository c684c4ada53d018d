//! `erased_member`: the members account deletion erased (only the id and when; docs/integrations.md#leaving).

use jiff::Timestamp;
use pinit_kernel::db::Conn;

use super::Result;
use crate::domain::MemberId;

/// Records that `member` was erased (again: nothing changes).
pub async fn record(conn: &mut Conn, member: MemberId, at: Timestamp) -> Result<()> {
    sqlx::query(
        "INSERT INTO erased_member (member_id, erased_at_us) VALUES ($1, $2) \
         ON CONFLICT (member_id) DO NOTHING",
    )
    .bind(member.0)
    .bind(at.as_microsecond())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether `member` was erased.
pub async fn is_erased(conn: &mut Conn, member: MemberId) -> Result<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT member_id FROM erased_member WHERE member_id = $1")
            .bind(member.0)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(found.is_some())
}
