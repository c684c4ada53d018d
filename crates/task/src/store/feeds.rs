//! `calendar_feed`: subscription feeds, found by the digest of their URL's token.

use jiff::Timestamp;
use pinit_kernel::db::Conn;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, get_instant, instant};
use crate::domain::{CorruptRecord, FeedId, FeedKind, MemberId};

/// A feed as stored (never its token: only the digest is kept, and it is not read back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFeed {
    pub id: FeedId,
    pub owner: MemberId,
    pub kind: FeedKind,
    /// The token's last four characters.
    pub hint: String,
    pub created_at: Timestamp,
    pub rotated_at: Option<Timestamp>,
    pub last_fetched_at: Option<Timestamp>,
}

const COLUMNS: &str =
    "feed_id, owner_id, kind, token_hint, created_at_us, rotated_at_us, last_fetched_at_us";

fn from_row(row: &AnyRow) -> Result<StoredFeed> {
    let kind: String = row.try_get("kind")?;
    let optional = |column: &str| -> Result<Option<Timestamp>> {
        Ok(row
            .try_get::<Option<i64>, _>(column)?
            .map(instant)
            .transpose()?)
    };
    Ok(StoredFeed {
        id: FeedId(row.try_get("feed_id")?),
        owner: MemberId(row.try_get("owner_id")?),
        kind: FeedKind::parse(&kind).map_err(|_| CorruptRecord::UnknownType(kind.clone()))?,
        hint: row.try_get("token_hint")?,
        created_at: get_instant(row, "created_at_us")?,
        rotated_at: optional("rotated_at_us")?,
        last_fetched_at: optional("last_fetched_at_us")?,
    })
}

/// Inserts a feed; returns it.
pub async fn insert(
    conn: &mut Conn,
    owner: MemberId,
    kind: FeedKind,
    digest: &str,
    hint: &str,
    now: Timestamp,
) -> Result<StoredFeed> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO calendar_feed (owner_id, kind, token_digest, token_hint, created_at_us) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    )))
    .bind(owner.get())
    .bind(kind.as_str())
    .bind(digest)
    .bind(hint)
    .bind(now.as_microsecond())
    .fetch_one(&mut *conn)
    .await?;
    from_row(&row)
}

/// The member's feeds, oldest first.
pub async fn of_owner(conn: &mut Conn, owner: MemberId) -> Result<Vec<StoredFeed>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM calendar_feed WHERE owner_id = $1 ORDER BY feed_id"
    )))
    .bind(owner.get())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// The feed whose token has `digest`.
pub async fn by_digest(conn: &mut Conn, digest: &str) -> Result<Option<StoredFeed>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM calendar_feed WHERE token_digest = $1"
    )))
    .bind(digest)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Gives the member's feed `id` a new token; the feed as it is now, or `None` if the member has no such feed.
pub async fn rotate(
    conn: &mut Conn,
    owner: MemberId,
    id: FeedId,
    digest: &str,
    hint: &str,
    now: Timestamp,
) -> Result<Option<StoredFeed>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE calendar_feed SET token_digest = $1, token_hint = $2, rotated_at_us = $3 \
         WHERE feed_id = $4 AND owner_id = $5 RETURNING {COLUMNS}"
    )))
    .bind(digest)
    .bind(hint)
    .bind(now.as_microsecond())
    .bind(id.get())
    .bind(owner.get())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Deletes the member's feed `id`; `false` if there was none.
pub async fn delete(conn: &mut Conn, owner: MemberId, id: FeedId) -> Result<bool> {
    let done = sqlx::query("DELETE FROM calendar_feed WHERE feed_id = $1 AND owner_id = $2")
        .bind(id.get())
        .bind(owner.get())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a fetch of feed `id` (only ever moved forward).
pub async fn fetched(conn: &mut Conn, id: FeedId, now: Timestamp) -> Result<()> {
    sqlx::query(
        "UPDATE calendar_feed SET last_fetched_at_us = $1 WHERE feed_id = $2 \
         AND (last_fetched_at_us IS NULL OR last_fetched_at_us < $1)",
    )
    .bind(now.as_microsecond())
    .bind(id.get())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes every feed of `member` (account deletion: their URLs stop answering); how many.
pub async fn erase_member(conn: &mut Conn, member: MemberId) -> Result<u64> {
    super::erase_rows(conn, "calendar_feed", "owner_id", member).await
}
