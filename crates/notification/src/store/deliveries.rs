//! `push_delivery`: one row per (notification, device) — `sent`, `retrying`, `gone` or `failed`, with its
//! attempts and the last answer.

use jiff::Timestamp;
use pinit_kernel::db::{Conn, Tx};

use super::{
    CHUNK, MAX_PARAMS, Result, instant, last_per_key, optional_instant, placeholders, unknown,
    value_rows,
};
use crate::domain::{
    Delivery, DeliveryStatus, DeviceId, MemberId, NotificationKey, PushKind, ScheduleId,
};

const COLUMNS: &str = "idempotent_key, device_id, schedule_id, owner_id, kind, status, attempts, \
    last_http_status, last_error, next_attempt_at_us, start_at_us, sent_at_us";

#[derive(sqlx::FromRow)]
struct Record {
    idempotent_key: String,
    device_id: String,
    schedule_id: i64,
    owner_id: i64,
    kind: String,
    status: String,
    attempts: i64,
    last_http_status: Option<i64>,
    last_error: Option<String>,
    next_attempt_at_us: Option<i64>,
    start_at_us: i64,
    sent_at_us: Option<i64>,
}

impl Record {
    fn into_domain(self) -> Result<Delivery> {
        Ok(Delivery {
            kind: PushKind::parse(&self.kind).ok_or_else(|| unknown("push kind", &self.kind))?,
            status: DeliveryStatus::parse(&self.status)
                .ok_or_else(|| unknown("delivery status", &self.status))?,
            idempotent_key: NotificationKey::from(self.idempotent_key),
            device_id: DeviceId::stored(self.device_id),
            schedule_id: ScheduleId(self.schedule_id),
            owner_id: MemberId(self.owner_id),
            attempts: self.attempts,
            last_http_status: self.last_http_status.and_then(|s| u16::try_from(s).ok()),
            last_error: self.last_error,
            next_attempt_at: optional_instant("delivery retry time", self.next_attempt_at_us)?,
            start_at: instant("delivery start", self.start_at_us)?,
            sent_at: optional_instant("delivery time", self.sent_at_us)?,
        })
    }
}

fn all_into_domain(records: Vec<Record>) -> Result<Vec<Delivery>> {
    records.into_iter().map(Record::into_domain).collect()
}

/// The deliveries of these notifications.
pub async fn of_notifications(conn: &mut Conn, keys: &[&NotificationKey]) -> Result<Vec<Delivery>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(CHUNK) {
        let sql = format!(
            "SELECT {COLUMNS} FROM push_delivery WHERE idempotent_key IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query_as::<_, Record>(sqlx::AssertSqlSafe(sql));
        for key in chunk {
            query = query.bind(key.as_str());
        }
        out.extend(all_into_domain(query.fetch_all(&mut *conn).await?)?);
    }
    Ok(out)
}

/// Every delivery of a schedule's notifications (tests, operators).
pub async fn of_schedule(conn: &mut Conn, schedule_id: ScheduleId) -> Result<Vec<Delivery>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM push_delivery WHERE schedule_id = $1 ORDER BY device_id, idempotent_key"
    );
    all_into_domain(
        sqlx::query_as::<_, Record>(sqlx::AssertSqlSafe(sql))
            .bind(schedule_id.get())
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// Saves delivery records, in multi-row statements (a (key, device) listed twice keeps its last record).
pub async fn save(tx: &mut Tx, deliveries: &[Delivery], now: Timestamp) -> Result<()> {
    const COLUMNS: usize = 13;
    let deliveries = last_per_key(deliveries, |d| {
        (d.idempotent_key.as_str(), d.device_id.as_str())
    });
    for chunk in deliveries.chunks(MAX_PARAMS / COLUMNS) {
        let sql = format!(
            "INSERT INTO push_delivery (idempotent_key, device_id, schedule_id, owner_id, kind, status, attempts, \
               last_http_status, last_error, next_attempt_at_us, start_at_us, sent_at_us, updated_at_us) \
             VALUES {} \
             ON CONFLICT (idempotent_key, device_id) DO UPDATE SET kind = excluded.kind, status = excluded.status, \
               attempts = excluded.attempts, last_http_status = excluded.last_http_status, \
               last_error = excluded.last_error, next_attempt_at_us = excluded.next_attempt_at_us, \
               sent_at_us = excluded.sent_at_us, updated_at_us = excluded.updated_at_us",
            value_rows(1, chunk.len(), COLUMNS)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for d in chunk {
            query = query
                .bind(d.idempotent_key.as_str())
                .bind(d.device_id.as_str())
                .bind(d.schedule_id.get())
                .bind(d.owner_id.get())
                .bind(d.kind.as_str())
                .bind(d.status.as_str())
                .bind(d.attempts)
                .bind(d.last_http_status.map(i64::from))
                .bind(d.last_error.as_deref())
                .bind(d.next_attempt_at.map(|t| t.as_microsecond()))
                .bind(d.start_at.as_microsecond())
                .bind(d.sent_at.map(|t| t.as_microsecond()))
                .bind(now.as_microsecond());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Devices still waiting for a retry of an abandoned notification give up with `reason`.
pub async fn abandon_retries(
    tx: &mut Tx,
    key: &NotificationKey,
    reason: &str,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "UPDATE push_delivery SET status = 'failed', last_error = $2, next_attempt_at_us = NULL, \
         updated_at_us = $3 WHERE idempotent_key = $1 AND status = 'retrying'",
    )
    .bind(key.as_str())
    .bind(reason)
    .bind(now.as_microsecond())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes records untouched since `before` (those waiting for a retry stay).
pub async fn prune(conn: &mut Conn, before: Timestamp) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM push_delivery WHERE updated_at_us < $1 AND status <> 'retrying'")
            .bind(before.as_microsecond())
            .execute(&mut *conn)
            .await?
            .rows_affected(),
    )
}

/// Deletes every push delivery to `member`'s devices (account deletion); how many.
pub async fn erase_member(conn: &mut Conn, member: MemberId) -> Result<u64> {
    super::erase_rows(conn, "push_delivery", "owner_id", member).await
}
