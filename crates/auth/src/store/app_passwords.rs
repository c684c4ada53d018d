//! `app_password`: calendar apps' passwords, by the SHA-256 of their secret (never the secret), with when each
//! was made and last used. Counting, deleting and writing a use: [`super::credentials`].

use jiff::Timestamp;
use pinit_kernel::db::{Conn, Tx};

use super::{Result, instant};
use crate::domain::{AppPassword, AppPasswordId, AppPasswordMatch, AppPasswordName, MemberId};

/// An app password to record.
#[derive(Debug)]
pub struct NewAppPassword<'a> {
    pub member: MemberId,
    pub name: &'a AppPasswordName,
    /// `tokens::digest` of the secret's canonical form.
    pub digest: &'a str,
    pub now: Timestamp,
}

#[derive(sqlx::FromRow)]
struct IdRecord {
    app_password_id: i64,
}

#[derive(sqlx::FromRow)]
struct AppPasswordRecord {
    app_password_id: i64,
    name: String,
    created_at_us: i64,
    last_used_at_us: Option<i64>,
}

impl From<AppPasswordRecord> for AppPassword {
    fn from(r: AppPasswordRecord) -> Self {
        AppPassword {
            id: AppPasswordId(r.app_password_id),
            name: r.name,
            created_at: instant(r.created_at_us),
            last_used_at: r.last_used_at_us.map(instant),
        }
    }
}

#[derive(sqlx::FromRow)]
struct MatchRecord {
    app_password_id: i64,
    member_id: i64,
    last_used_at_us: Option<i64>,
}

impl From<MatchRecord> for AppPasswordMatch {
    fn from(r: MatchRecord) -> Self {
        AppPasswordMatch {
            id: AppPasswordId(r.app_password_id),
            member: MemberId(r.member_id),
            last_used_at: r.last_used_at_us.map(instant),
        }
    }
}

/// Records an app password; returns its id.
pub async fn insert(tx: &mut Tx, new: &NewAppPassword<'_>) -> Result<AppPasswordId> {
    let record = sqlx::query_as::<_, IdRecord>(
        "INSERT INTO app_password (member_id, name, secret_hash, created_at_us) VALUES ($1, $2, $3, $4) \
         RETURNING app_password_id",
    )
    .bind(new.member.get())
    .bind(new.name.as_str())
    .bind(new.digest)
    .bind(new.now.as_microsecond())
    .fetch_one(&mut **tx)
    .await?;
    Ok(AppPasswordId(record.app_password_id))
}

/// A member's app passwords, oldest first.
pub async fn list(conn: &mut Conn, member: MemberId) -> Result<Vec<AppPassword>> {
    let records = sqlx::query_as::<_, AppPasswordRecord>(
        "SELECT app_password_id, name, created_at_us, last_used_at_us FROM app_password \
         WHERE member_id = $1 ORDER BY created_at_us, app_password_id",
    )
    .bind(member.get())
    .fetch_all(&mut *conn)
    .await?;
    Ok(records.into_iter().map(AppPassword::from).collect())
}

/// The app password of `username` whose secret has `digest`, if any (none of a disabled member).
pub async fn matching(
    conn: &mut Conn,
    username: &str,
    digest: &str,
) -> Result<Option<AppPasswordMatch>> {
    let record = sqlx::query_as::<_, MatchRecord>(
        "SELECT a.app_password_id, a.member_id, a.last_used_at_us \
         FROM app_password a JOIN member m ON m.member_id = a.member_id \
         WHERE a.secret_hash = $1 AND m.username = $2 AND m.disabled_at_us IS NULL",
    )
    .bind(digest)
    .bind(username)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(record.map(AppPasswordMatch::from))
}
