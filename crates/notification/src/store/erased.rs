//! `erased_member`: the members account deletion erased (only the id and when; docs/integrations.md#leaving).

use jiff::Timestamp;
use pinit_kernel::db::{Backend, Conn, LockMode, lock_key};

use super::Result;
use crate::domain::MemberId;

/// The advisory-lock scope of a member's writes (PostgreSQL; see [`hold`]).
const MEMBER_WRITES: i32 = 0x4e4d; // "NM": notification, member

/// Holds `member`'s write lock until the transaction ends and says whether the member was erased. Every
/// transaction that stores something of a member, and the erasure itself, takes it first: a write either
/// commits before the erasure (which then deletes it) or sees the member erased.
///
/// The erasure and the member's own requests (one member per transaction) hold it [`LockMode::Exclusive`]; the
/// schedule-event consumer holds it [`LockMode::Shared`]: one of its transactions handles a batch of events of many
/// members, so exclusive locks taken in event order would make two batches wait for each other (PostgreSQL found
/// deadlocks under load) and serialise batches that share a member. Shared holders never wait for each other and
/// still exclude the erasure, which is all the lock is for.
pub async fn hold(
    conn: &mut Conn,
    backend: Backend,
    mode: LockMode,
    member: MemberId,
) -> Result<bool> {
    lock_key(conn, backend, mode, MEMBER_WRITES, member.get()).await?;
    let found: Option<i64> =
        sqlx::query_scalar("SELECT member_id FROM erased_member WHERE member_id = $1")
            .bind(member.get())
            .fetch_optional(&mut *conn)
            .await?;
    Ok(found.is_some())
}

/// Records that `member` was erased (again: nothing changes).
pub async fn record(conn: &mut Conn, member: MemberId, at: Timestamp) -> Result<()> {
    sqlx::query(
        "INSERT INTO erased_member (member_id, erased_at_us) VALUES ($1, $2) \
         ON CONFLICT (member_id) DO NOTHING",
    )
    .bind(member.get())
    .bind(at.as_microsecond())
    .execute(&mut *conn)
    .await?;
    Ok(())
}
