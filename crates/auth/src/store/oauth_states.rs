//! `oauth_state`: OAuth logins in flight, keyed by the digest of their state, consumed exactly once.

use jiff::Timestamp;
use pinit_kernel::db::Conn;

use super::{Result, instant};
use crate::domain::OAuthState;

#[derive(sqlx::FromRow)]
struct StateRecord {
    provider: String,
    binding_hash: String,
    pkce_verifier: Option<String>,
    expires_at_us: i64,
}

impl From<StateRecord> for OAuthState {
    fn from(r: StateRecord) -> Self {
        OAuthState {
            provider: r.provider,
            binding_hash: r.binding_hash,
            pkce_verifier: r.pkce_verifier,
            expires_at: instant(r.expires_at_us),
        }
    }
}

pub async fn insert(conn: &mut Conn, state_digest: &str, state: &OAuthState) -> Result<()> {
    sqlx::query(
        "INSERT INTO oauth_state (state_hash, provider, binding_hash, pkce_verifier, expires_at_us) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(state_digest)
    .bind(&state.provider)
    .bind(&state.binding_hash)
    .bind(&state.pkce_verifier)
    .bind(state.expires_at.as_microsecond())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Takes a state out: exactly one caller ever gets it (atomic `DELETE … RETURNING`).
pub async fn take(conn: &mut Conn, state_digest: &str) -> Result<Option<OAuthState>> {
    let record = sqlx::query_as::<_, StateRecord>(
        "DELETE FROM oauth_state WHERE state_hash = $1 \
         RETURNING provider, binding_hash, pkce_verifier, expires_at_us",
    )
    .bind(state_digest)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(record.map(OAuthState::from))
}

/// Deletes the states that expired before `now`.
pub async fn delete_expired(conn: &mut Conn, now: Timestamp) -> Result<u64> {
    let done = sqlx::query("DELETE FROM oauth_state WHERE expires_at_us < $1")
        .bind(now.as_microsecond())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}
