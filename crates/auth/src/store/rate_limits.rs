//! `rate_limit`: fixed-window attempt counters shared by every replica, keyed by bucket and window start
//! (microseconds).

use pinit_kernel::db::{Conn, Tx};

use super::Result;

#[derive(sqlx::FromRow)]
struct HitsRecord {
    hits: i64,
}

/// Adds `by` hits to a window's counter and returns the new count.
pub async fn add_hits(conn: &mut Conn, bucket: &str, window_start_us: i64, by: i64) -> Result<i64> {
    let record = sqlx::query_as::<_, HitsRecord>(
        "INSERT INTO rate_limit (bucket, window_start_us, hits) VALUES ($1, $2, $3) \
         ON CONFLICT (bucket, window_start_us) DO UPDATE SET hits = rate_limit.hits + EXCLUDED.hits \
         RETURNING hits",
    )
    .bind(bucket)
    .bind(window_start_us)
    .bind(by)
    .fetch_one(&mut *conn)
    .await?;
    Ok(record.hits)
}

/// The window's count (0 when nothing was counted).
pub async fn hits(conn: &mut Conn, bucket: &str, window_start_us: i64) -> Result<i64> {
    let record = sqlx::query_as::<_, HitsRecord>(
        "SELECT hits FROM rate_limit WHERE bucket = $1 AND window_start_us = $2",
    )
    .bind(bucket)
    .bind(window_start_us)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(record.map_or(0, |r| r.hits))
}

/// Deletes the windows that started before `cutoff_us`.
pub async fn delete_before(conn: &mut Conn, cutoff_us: i64) -> Result<u64> {
    let done = sqlx::query("DELETE FROM rate_limit WHERE window_start_us < $1")
        .bind(cutoff_us)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}

/// Deletes every window of these buckets (account deletion: the counters keyed by the member's username).
pub async fn erase_buckets(tx: &mut Tx, buckets: &[String]) -> Result<u64> {
    let mut total = 0;
    for bucket in buckets {
        let done = sqlx::query("DELETE FROM rate_limit WHERE bucket = $1")
            .bind(bucket)
            .execute(&mut **tx)
            .await?;
        total += done.rows_affected();
    }
    Ok(total)
}
