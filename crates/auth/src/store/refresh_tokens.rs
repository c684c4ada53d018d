//! `refresh_token`: every refresh token issued, by its digest (never the token), when it was rotated and the
//! successor it was rotated to.

use jiff::Timestamp;
use pinit_kernel::db::{Backend, Conn, Tx};

use super::{Result, instant};
use crate::domain::{FamilyId, MemberId, PresentedRefresh};

/// A refresh token to record.
#[derive(Debug)]
pub struct NewRefreshToken<'a> {
    /// `tokens::digest` of the token.
    pub digest: &'a str,
    pub family: &'a FamilyId,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct PresentedRecord {
    family_id: String,
    member_id: i64,
    expires_at_us: i64,
    rotated_at_us: Option<i64>,
    /// Whether its successor was rotated in turn (`NULL`: no successor known).
    successor_used: Option<i64>,
    revoked_at_us: Option<i64>,
}

impl From<PresentedRecord> for PresentedRefresh {
    fn from(r: PresentedRecord) -> Self {
        PresentedRefresh {
            family: FamilyId::new(r.family_id),
            member: MemberId(r.member_id),
            expires_at: instant(r.expires_at_us),
            rotated_at: r.rotated_at_us.map(instant),
            successor_used: r.successor_used.map(|used| used != 0),
            family_revoked: r.revoked_at_us.is_some(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct FamilyRecord {
    family_id: String,
}

pub async fn insert(tx: &mut Tx, token: &NewRefreshToken<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO refresh_token (token_hash, family_id, issued_at_us, expires_at_us) VALUES ($1, $2, $3, $4)",
    )
    .bind(token.digest)
    .bind(token.family.as_str())
    .bind(token.issued_at.as_microsecond())
    .bind(token.expires_at.as_microsecond())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Looks a presented token up with its family, locking the family row (PostgreSQL) so concurrent refreshes
/// of one family serialise; SQLite transactions are already exclusive (`BEGIN IMMEDIATE`).
pub async fn presented(
    tx: &mut Tx,
    backend: Backend,
    digest: &str,
) -> Result<Option<PresentedRefresh>> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE OF f",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "SELECT t.family_id, f.member_id, t.expires_at_us, t.rotated_at_us, f.revoked_at_us, \
         CASE WHEN s.token_hash IS NULL THEN NULL WHEN s.rotated_at_us IS NULL THEN 0 ELSE 1 END \
         AS successor_used \
         FROM refresh_token t JOIN refresh_family f ON f.family_id = t.family_id \
         LEFT JOIN refresh_token s ON s.token_hash = t.successor_hash \
         WHERE t.token_hash = $1{lock}"
    );
    let record = sqlx::query_as::<_, PresentedRecord>(sqlx::AssertSqlSafe(sql))
        .bind(digest)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(record.map(PresentedRefresh::from))
}

/// Marks a token rotated to `successor` (a digest); `false` if it already was (a concurrent rotation won).
pub async fn mark_rotated(
    tx: &mut Tx,
    digest: &str,
    successor: &str,
    now: Timestamp,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE refresh_token SET rotated_at_us = $1, successor_hash = $3 \
         WHERE token_hash = $2 AND rotated_at_us IS NULL",
    )
    .bind(now.as_microsecond())
    .bind(digest)
    .bind(successor)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A rotated token whose successor was never presented is given another: the unused successor is retired
/// (marked rotated, with no successor of its own — presented later, it is reuse) and `digest` points at
/// `successor`. `false` if the old successor was presented meanwhile (then this is reuse after all).
pub async fn reissue(tx: &mut Tx, digest: &str, successor: &str, now: Timestamp) -> Result<bool> {
    let retired = sqlx::query(
        "UPDATE refresh_token SET rotated_at_us = $1 WHERE rotated_at_us IS NULL AND token_hash = \
         (SELECT successor_hash FROM refresh_token WHERE token_hash = $2)",
    )
    .bind(now.as_microsecond())
    .bind(digest)
    .execute(&mut **tx)
    .await?;
    if retired.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query("UPDATE refresh_token SET successor_hash = $1 WHERE token_hash = $2")
        .bind(successor)
        .bind(digest)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

/// The family of a token, whatever its state (logout revokes it).
pub async fn family_of(conn: &mut Conn, digest: &str) -> Result<Option<FamilyId>> {
    let record = sqlx::query_as::<_, FamilyRecord>(
        "SELECT family_id FROM refresh_token WHERE token_hash = $1",
    )
    .bind(digest)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(record.map(|r| FamilyId::new(r.family_id)))
}

/// Deletes every refresh token of `member`'s sessions (account deletion; before their families).
pub async fn erase_member(tx: &mut Tx, member: MemberId) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM refresh_token WHERE family_id IN \
         (SELECT family_id FROM refresh_family WHERE member_id = $1)",
    )
    .bind(member.get())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}
