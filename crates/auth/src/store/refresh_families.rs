//! `refresh_family`: one login's chain of rotated refresh tokens. Revoking it logs that session out.

use jiff::Timestamp;
use pinit_kernel::db::{Conn, Tx};

use super::Result;
use crate::domain::{FamilyId, MemberId, Revocation};

pub async fn create(
    tx: &mut Tx,
    family: &FamilyId,
    member: MemberId,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO refresh_family (family_id, member_id, created_at_us) VALUES ($1, $2, $3)",
    )
    .bind(family.as_str())
    .bind(member.get())
    .bind(now.as_microsecond())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Revokes a family unless it already is; `true` if this call revoked it.
pub async fn revoke(
    conn: &mut Conn,
    family: &FamilyId,
    now: Timestamp,
    why: Revocation,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE refresh_family SET revoked_at_us = $1, revoked_reason = $2 \
         WHERE family_id = $3 AND revoked_at_us IS NULL",
    )
    .bind(now.as_microsecond())
    .bind(why.as_str())
    .bind(family.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every live family of `member` but `except` (the session asking); how many it revoked.
pub async fn revoke_member(
    conn: &mut Conn,
    member: MemberId,
    except: Option<&FamilyId>,
    now: Timestamp,
    why: Revocation,
) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE refresh_family SET revoked_at_us = $1, revoked_reason = $2 \
         WHERE member_id = $3 AND revoked_at_us IS NULL AND family_id <> $4",
    )
    .bind(now.as_microsecond())
    .bind(why.as_str())
    .bind(member.get())
    .bind(except.map_or("", FamilyId::as_str))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes the families whose every token expired before `now` (their tokens go with them).
pub async fn delete_expired(conn: &mut Conn, now: Timestamp) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM refresh_family WHERE family_id IN (SELECT family_id FROM refresh_token \
         GROUP BY family_id HAVING MAX(expires_at_us) < $1)",
    )
    .bind(now.as_microsecond())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// When the live session `family` of `member` logged in (`None`: no such session of that member, or revoked).
pub async fn live_since(
    conn: &mut Conn,
    family: &FamilyId,
    member: MemberId,
) -> Result<Option<Timestamp>> {
    let record = sqlx::query_as::<_, CreatedRecord>(
        "SELECT created_at_us FROM refresh_family \
         WHERE family_id = $1 AND member_id = $2 AND revoked_at_us IS NULL",
    )
    .bind(family.as_str())
    .bind(member.get())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(record.map(|r| super::instant(r.created_at_us)))
}

#[derive(sqlx::FromRow)]
struct CreatedRecord {
    created_at_us: i64,
}

/// Deletes every session of `member` (account deletion; after their tokens): each is signed out at its next
/// refresh.
pub async fn erase_member(tx: &mut Tx, member: MemberId) -> Result<u64> {
    let done = sqlx::query("DELETE FROM refresh_family WHERE member_id = $1")
        .bind(member.get())
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}
