//! Auth's SQL, written once for SQLite and PostgreSQL (see `docs/adr/0002-…`). Instants are microseconds.

use pinit_kernel::db::{Backend, Conn, DbError, Tx};
use sqlx::Row;

type Result<T> = std::result::Result<T, DbError>;

/// A new member; returns its id. A taken username is `DbError::Duplicate`.
pub async fn insert_member(
    tx: &mut Tx,
    username: &str,
    password_hash: &str,
    nickname: Option<&str>,
    zone_id: &str,
    social_login: bool,
    now_us: i64,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO member (username, password_hash, nickname, zone_id, social_login, created_at_us) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING member_id",
    )
    .bind(username)
    .bind(password_hash)
    .bind(nickname)
    .bind(zone_id)
    .bind(social_login)
    .bind(now_us)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get::<i64, _>(0)?)
}

/// `(member_id, password_hash)` of a username.
pub async fn credentials(conn: &mut Conn, username: &str) -> Result<Option<(i64, String)>> {
    let row = sqlx::query("SELECT member_id, password_hash FROM member WHERE username = $1")
        .bind(username)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
}

pub async fn set_password_hash(conn: &mut Conn, member_id: i64, hash: &str) -> Result<()> {
    sqlx::query("UPDATE member SET password_hash = $1 WHERE member_id = $2")
        .bind(hash)
        .bind(member_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A member as `/v0/me` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    pub member_id: i64,
    pub username: String,
    pub nickname: Option<String>,
    pub zone_id: String,
}

pub async fn member(conn: &mut Conn, member_id: i64) -> Result<Option<MemberRow>> {
    let row = sqlx::query(
        "SELECT member_id, username, nickname, zone_id FROM member WHERE member_id = $1",
    )
    .bind(member_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(MemberRow {
            member_id: r.try_get(0)?,
            username: r.try_get(1)?,
            nickname: r.try_get(2)?,
            zone_id: r.try_get(3)?,
        })
    })
    .transpose()
}

pub async fn oauth_member(conn: &mut Conn, issuer: &str, sub: &str) -> Result<Option<i64>> {
    let row = sqlx::query("SELECT member_id FROM oauth_account WHERE issuer_uri = $1 AND sub = $2")
        .bind(issuer)
        .bind(sub)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| Ok(r.try_get(0)?)).transpose()
}

pub async fn link_oauth(
    tx: &mut Tx,
    issuer: &str,
    sub: &str,
    member_id: i64,
    now_us: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO oauth_account (issuer_uri, sub, member_id, created_at_us) VALUES ($1, $2, $3, $4)",
    )
    .bind(issuer)
    .bind(sub)
    .bind(member_id)
    .bind(now_us)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn create_family(
    tx: &mut Tx,
    family_id: &str,
    member_id: i64,
    now_us: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO refresh_family (family_id, member_id, created_at_us) VALUES ($1, $2, $3)",
    )
    .bind(family_id)
    .bind(member_id)
    .bind(now_us)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn insert_refresh(
    tx: &mut Tx,
    token_hash: &str,
    family_id: &str,
    now_us: i64,
    expires_at_us: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO refresh_token (token_hash, family_id, issued_at_us, expires_at_us) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(family_id)
    .bind(now_us)
    .bind(expires_at_us)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A presented refresh token and its family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRow {
    pub family_id: String,
    pub member_id: i64,
    pub expires_at_us: i64,
    pub rotated_at_us: Option<i64>,
    pub family_revoked: bool,
}

/// Looks a refresh token up, locking its family row (PostgreSQL) so concurrent refreshes of one family
/// serialise; SQLite transactions are already exclusive (`BEGIN IMMEDIATE`).
pub async fn refresh_for_update(
    tx: &mut Tx,
    backend: Backend,
    token_hash: &str,
) -> Result<Option<RefreshRow>> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE OF f",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "SELECT t.family_id, f.member_id, t.expires_at_us, t.rotated_at_us, f.revoked_at_us \
         FROM refresh_token t JOIN refresh_family f ON f.family_id = t.family_id \
         WHERE t.token_hash = $1{lock}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(token_hash)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| {
        Ok(RefreshRow {
            family_id: r.try_get(0)?,
            member_id: r.try_get(1)?,
            expires_at_us: r.try_get(2)?,
            rotated_at_us: r.try_get(3)?,
            family_revoked: r.try_get::<Option<i64>, _>(4)?.is_some(),
        })
    })
    .transpose()
}

/// Marks a token rotated; `false` if it already was (a concurrent rotation won).
pub async fn mark_rotated(tx: &mut Tx, token_hash: &str, now_us: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE refresh_token SET rotated_at_us = $1 WHERE token_hash = $2 AND rotated_at_us IS NULL",
    )
    .bind(now_us)
    .bind(token_hash)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn revoke_family(
    conn: &mut Conn,
    family_id: &str,
    now_us: i64,
    reason: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE refresh_family SET revoked_at_us = $1, revoked_reason = $2 \
         WHERE family_id = $3 AND revoked_at_us IS NULL",
    )
    .bind(now_us)
    .bind(reason)
    .bind(family_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The family of a refresh token, whatever its state (logout revokes it).
pub async fn family_of(conn: &mut Conn, token_hash: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT family_id FROM refresh_token WHERE token_hash = $1")
        .bind(token_hash)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| Ok(r.try_get(0)?)).transpose()
}

/// An OAuth request in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRow {
    pub provider: String,
    pub binding_hash: String,
    pub pkce_verifier: Option<String>,
    pub expires_at_us: i64,
}

pub async fn insert_state(conn: &mut Conn, state_hash: &str, row: &StateRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO oauth_state (state_hash, provider, binding_hash, pkce_verifier, expires_at_us) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(state_hash)
    .bind(&row.provider)
    .bind(&row.binding_hash)
    .bind(&row.pkce_verifier)
    .bind(row.expires_at_us)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Takes a state out: exactly one caller ever gets it (atomic `DELETE … RETURNING`).
pub async fn take_state(conn: &mut Conn, state_hash: &str) -> Result<Option<StateRow>> {
    let row = sqlx::query(
        "DELETE FROM oauth_state WHERE state_hash = $1 \
         RETURNING provider, binding_hash, pkce_verifier, expires_at_us",
    )
    .bind(state_hash)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(StateRow {
            provider: r.try_get(0)?,
            binding_hash: r.try_get(1)?,
            pkce_verifier: r.try_get(2)?,
            expires_at_us: r.try_get(3)?,
        })
    })
    .transpose()
}

/// Adds `by` hits to a window's counter and returns the new count.
pub async fn add_hits(conn: &mut Conn, bucket: &str, window_start_us: i64, by: i64) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO rate_limit (bucket, window_start_us, hits) VALUES ($1, $2, $3) \
         ON CONFLICT (bucket, window_start_us) DO UPDATE SET hits = rate_limit.hits + EXCLUDED.hits \
         RETURNING hits",
    )
    .bind(bucket)
    .bind(window_start_us)
    .bind(by)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get(0)?)
}

pub async fn hits(conn: &mut Conn, bucket: &str, window_start_us: i64) -> Result<i64> {
    let row = sqlx::query("SELECT hits FROM rate_limit WHERE bucket = $1 AND window_start_us = $2")
        .bind(bucket)
        .bind(window_start_us)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?.unwrap_or(0))
}

/// Deletes what can no longer matter: expired states, old windows, long-expired tokens and their families.
pub async fn prune(conn: &mut Conn, now_us: i64, window_us: i64) -> Result<u64> {
    let mut removed = 0;
    for (sql, bound) in [
        ("DELETE FROM oauth_state WHERE expires_at_us < $1", now_us),
        (
            "DELETE FROM rate_limit WHERE window_start_us < $1",
            now_us - 2 * window_us,
        ),
        (
            "DELETE FROM refresh_family WHERE family_id IN (SELECT family_id FROM refresh_token \
             GROUP BY family_id HAVING MAX(expires_at_us) < $1)",
            now_us,
        ),
    ] {
        removed += sqlx::query(sql)
            .bind(bound)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    Ok(removed)
}
