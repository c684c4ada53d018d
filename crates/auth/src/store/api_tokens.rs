//! `api_token`: personal API tokens, by the SHA-256 of their secret (never the secret), with their scopes, when
//! each was made, expires and was last used. Counting, deleting and writing a use: [`super::credentials`].

use jiff::Timestamp;
use pinit_kernel::db::{Conn, Tx};

use super::{Result, instant};
use crate::domain::{ApiToken, ApiTokenId, ApiTokenMatch, ApiTokenName, MemberId, Scopes};

/// An API token to record.
#[derive(Debug)]
pub struct NewApiToken<'a> {
    pub member: MemberId,
    pub name: &'a ApiTokenName,
    pub scopes: &'a Scopes,
    /// `tokens::digest` of the secret.
    pub digest: &'a str,
    pub now: Timestamp,
    pub expires_at: Option<Timestamp>,
}

#[derive(sqlx::FromRow)]
struct IdRecord {
    api_token_id: i64,
}

#[derive(sqlx::FromRow)]
struct ApiTokenRecord {
    api_token_id: i64,
    name: String,
    scopes: String,
    created_at_us: i64,
    expires_at_us: Option<i64>,
    last_used_at_us: Option<i64>,
}

impl From<ApiTokenRecord> for ApiToken {
    fn from(r: ApiTokenRecord) -> Self {
        ApiToken {
            id: ApiTokenId(r.api_token_id),
            name: r.name,
            scopes: Scopes::from_stored(&r.scopes),
            created_at: instant(r.created_at_us),
            expires_at: r.expires_at_us.map(instant),
            last_used_at: r.last_used_at_us.map(instant),
        }
    }
}

#[derive(sqlx::FromRow)]
struct MatchRecord {
    api_token_id: i64,
    member_id: i64,
    scopes: String,
    expires_at_us: Option<i64>,
    last_used_at_us: Option<i64>,
}

impl From<MatchRecord> for ApiTokenMatch {
    fn from(r: MatchRecord) -> Self {
        ApiTokenMatch {
            id: ApiTokenId(r.api_token_id),
            member: MemberId(r.member_id),
            scopes: Scopes::from_stored(&r.scopes),
            expires_at: r.expires_at_us.map(instant),
            last_used_at: r.last_used_at_us.map(instant),
        }
    }
}

/// Records an API token; returns its id.
pub async fn insert(tx: &mut Tx, new: &NewApiToken<'_>) -> Result<ApiTokenId> {
    let record = sqlx::query_as::<_, IdRecord>(
        "INSERT INTO api_token (member_id, name, scopes, secret_hash, created_at_us, expires_at_us) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING api_token_id",
    )
    .bind(new.member.get())
    .bind(new.name.as_str())
    .bind(new.scopes.stored())
    .bind(new.digest)
    .bind(new.now.as_microsecond())
    .bind(new.expires_at.map(Timestamp::as_microsecond))
    .fetch_one(&mut **tx)
    .await?;
    Ok(ApiTokenId(record.api_token_id))
}

/// A member's API tokens, oldest first.
pub async fn list(conn: &mut Conn, member: MemberId) -> Result<Vec<ApiToken>> {
    let records = sqlx::query_as::<_, ApiTokenRecord>(
        "SELECT api_token_id, name, scopes, created_at_us, expires_at_us, last_used_at_us FROM api_token \
         WHERE member_id = $1 ORDER BY created_at_us, api_token_id",
    )
    .bind(member.get())
    .fetch_all(&mut *conn)
    .await?;
    Ok(records.into_iter().map(ApiToken::from).collect())
}

/// The API token whose secret has `digest`, if any (none of a disabled member). Expired ones are returned: the
/// rule is [`ApiTokenMatch::is_live`].
pub async fn matching(conn: &mut Conn, digest: &str) -> Result<Option<ApiTokenMatch>> {
    let record = sqlx::query_as::<_, MatchRecord>(
        "SELECT t.api_token_id, t.member_id, t.scopes, t.expires_at_us, t.last_used_at_us \
         FROM api_token t JOIN member m ON m.member_id = t.member_id \
         WHERE t.secret_hash = $1 AND m.disabled_at_us IS NULL",
    )
    .bind(digest)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(record.map(ApiTokenMatch::from))
}
