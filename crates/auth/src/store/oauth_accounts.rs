//! `oauth_account`: external identities (issuer and subject) linked to a member.

use jiff::Timestamp;
use pinit_kernel::db::{Conn, Tx};

use super::Result;
use crate::domain::MemberId;
use crate::oauth::ExternalIdentity;

#[derive(sqlx::FromRow)]
struct MemberIdRecord {
    member_id: i64,
}

/// The member an external identity is linked to.
pub async fn member_of(conn: &mut Conn, identity: &ExternalIdentity) -> Result<Option<MemberId>> {
    let record = sqlx::query_as::<_, MemberIdRecord>(
        "SELECT member_id FROM oauth_account WHERE issuer_uri = $1 AND sub = $2",
    )
    .bind(&identity.issuer)
    .bind(&identity.subject)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(record.map(|r| MemberId(r.member_id)))
}

/// Links an external identity to a member. An identity already linked is `DbError::Duplicate`.
pub async fn link(
    tx: &mut Tx,
    identity: &ExternalIdentity,
    member: MemberId,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO oauth_account (issuer_uri, sub, member_id, created_at_us) VALUES ($1, $2, $3, $4)",
    )
    .bind(&identity.issuer)
    .bind(&identity.subject)
    .bind(member.get())
    .bind(now.as_microsecond())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Unlinks every external identity of `member` (account deletion: a later login with them makes a new member).
pub async fn erase_member(tx: &mut Tx, member: MemberId) -> Result<u64> {
    let done = sqlx::query("DELETE FROM oauth_account WHERE member_id = $1")
        .bind(member.get())
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}
