//! `webhook_endpoint` and `webhook_delivery`: members' endpoints, and one delivery per (endpoint, event) —
//! queued in the consumer's transaction, claimed by dispatchers in order per (endpoint, subject), settled after
//! each attempt.

use jiff::Timestamp;
use pinit_kernel::Backend;
use pinit_kernel::db::{Conn, Tx};

use super::{Result, instant, optional_instant, unknown};
use crate::domain::MemberId;
use crate::domain::webhook::{
    DeliveryState, Endpoint, EndpointFields, EventType, NewDelivery, Secret, Settled,
    WebhookDelivery, join_types, split_types,
};

const ENDPOINT_COLUMNS: &str = "endpoint_id, member_id, url, events, description, secret, failures, \
    disabled_at_us, disabled_reason, created_at_us, updated_at_us";

#[derive(sqlx::FromRow)]
struct EndpointRecord {
    endpoint_id: i64,
    member_id: i64,
    url: String,
    events: String,
    description: String,
    secret: String,
    failures: i64,
    disabled_at_us: Option<i64>,
    disabled_reason: Option<String>,
    created_at_us: i64,
    updated_at_us: i64,
}

impl EndpointRecord {
    fn into_domain(self) -> Result<Endpoint> {
        Ok(Endpoint {
            events: split_types(&self.events)
                .ok_or_else(|| unknown("webhook events", &self.events))?,
            id: self.endpoint_id,
            member_id: MemberId(self.member_id),
            url: self.url,
            description: self.description,
            secret: Secret::stored(self.secret),
            failures: self.failures,
            disabled_at: optional_instant("webhook disabled time", self.disabled_at_us)?,
            disabled_reason: self.disabled_reason,
            created_at: instant("webhook created time", self.created_at_us)?,
            updated_at: instant("webhook updated time", self.updated_at_us)?,
        })
    }
}

fn endpoints(records: Vec<EndpointRecord>) -> Result<Vec<Endpoint>> {
    records
        .into_iter()
        .map(EndpointRecord::into_domain)
        .collect()
}

/// A member's endpoints, oldest first.
pub async fn of_member(conn: &mut Conn, member: MemberId) -> Result<Vec<Endpoint>> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoint WHERE member_id = $1 ORDER BY endpoint_id"
    );
    endpoints(
        sqlx::query_as::<_, EndpointRecord>(sqlx::AssertSqlSafe(sql))
            .bind(member.get())
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// One of the member's endpoints.
pub async fn get(conn: &mut Conn, member: MemberId, id: i64) -> Result<Option<Endpoint>> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoint WHERE member_id = $1 AND endpoint_id = $2"
    );
    sqlx::query_as::<_, EndpointRecord>(sqlx::AssertSqlSafe(sql))
        .bind(member.get())
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .map(EndpointRecord::into_domain)
        .transpose()
}

/// The member's endpoints, locked until `tx` ends (on PostgreSQL; SQLite's writer lock serialises anyway): a
/// create counts them under the lock, so two at once cannot pass the cap.
pub async fn lock_member(tx: &mut Tx, backend: Backend, member: MemberId) -> Result<Vec<Endpoint>> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoint WHERE member_id = $1 ORDER BY endpoint_id{lock}"
    );
    endpoints(
        sqlx::query_as::<_, EndpointRecord>(sqlx::AssertSqlSafe(sql))
            .bind(member.get())
            .fetch_all(&mut **tx)
            .await?,
    )
}

/// A new endpoint (every field of `fields` given).
pub async fn insert(
    tx: &mut Tx,
    member: MemberId,
    fields: &EndpointFields,
    secret: &Secret,
    now: Timestamp,
) -> Result<Endpoint> {
    let sql = format!(
        "INSERT INTO webhook_endpoint (member_id, url, events, description, secret, failures, created_at_us, \
           updated_at_us) VALUES ($1, $2, $3, $4, $5, 0, $6, $6) RETURNING {ENDPOINT_COLUMNS}"
    );
    sqlx::query_as::<_, EndpointRecord>(sqlx::AssertSqlSafe(sql))
        .bind(member.get())
        .bind(fields.url.as_deref().unwrap_or_default())
        .bind(join_types(fields.events.as_deref().unwrap_or_default()))
        .bind(fields.description.as_deref().unwrap_or_default())
        .bind(secret.expose())
        .bind(now.as_microsecond())
        .fetch_one(&mut **tx)
        .await?
        .into_domain()
}

/// Saves an endpoint's editable fields and its enabled state.
pub async fn save(tx: &mut Tx, endpoint: &Endpoint, now: Timestamp) -> Result<()> {
    sqlx::query(
        "UPDATE webhook_endpoint SET url = $2, events = $3, description = $4, failures = $5, \
           disabled_at_us = $6, disabled_reason = $7, updated_at_us = $8 WHERE endpoint_id = $1",
    )
    .bind(endpoint.id)
    .bind(&endpoint.url)
    .bind(join_types(&endpoint.events))
    .bind(&endpoint.description)
    .bind(endpoint.failures)
    .bind(endpoint.disabled_at.map(|t| t.as_microsecond()))
    .bind(endpoint.disabled_reason.as_deref())
    .bind(now.as_microsecond())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes one of the member's endpoints and its deliveries; false when there was none.
pub async fn delete(tx: &mut Tx, member: MemberId, id: i64) -> Result<bool> {
    sqlx::query(
        "DELETE FROM webhook_delivery WHERE endpoint_id = \
           (SELECT endpoint_id FROM webhook_endpoint WHERE member_id = $1 AND endpoint_id = $2)",
    )
    .bind(member.get())
    .bind(id)
    .execute(&mut **tx)
    .await?;
    let deleted =
        sqlx::query("DELETE FROM webhook_endpoint WHERE member_id = $1 AND endpoint_id = $2")
            .bind(member.get())
            .bind(id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    Ok(deleted > 0)
}

/// Deletes every endpoint of `member` and their deliveries (account deletion); how many endpoints.
pub async fn erase_member(conn: &mut Conn, member: MemberId) -> Result<u64> {
    sqlx::query(
        "DELETE FROM webhook_delivery WHERE endpoint_id IN \
           (SELECT endpoint_id FROM webhook_endpoint WHERE member_id = $1)",
    )
    .bind(member.get())
    .execute(&mut *conn)
    .await?;
    super::erase_rows(conn, "webhook_endpoint", "member_id", member).await
}

/// One more delivery given up in a row; returns the count (`None`: the endpoint is gone).
pub async fn count_failure(tx: &mut Tx, id: i64, now: Timestamp) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "UPDATE webhook_endpoint SET failures = failures + 1, updated_at_us = $2 WHERE endpoint_id = $1 \
         RETURNING failures",
    )
    .bind(id)
    .bind(now.as_microsecond())
    .fetch_optional(&mut **tx)
    .await?)
}

/// A success: the failures in a row go back to 0.
pub async fn reset_failures(tx: &mut Tx, id: i64, now: Timestamp) -> Result<()> {
    sqlx::query(
        "UPDATE webhook_endpoint SET failures = 0, updated_at_us = $2 WHERE endpoint_id = $1 AND failures <> 0",
    )
    .bind(id)
    .bind(now.as_microsecond())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Disables an endpoint (if enabled) with `reason`; its pending deliveries are given up. False when it was
/// already disabled or is gone.
pub async fn disable(tx: &mut Tx, id: i64, reason: &str, now: Timestamp) -> Result<bool> {
    let changed = sqlx::query(
        "UPDATE webhook_endpoint SET disabled_at_us = $2, disabled_reason = $3, updated_at_us = $2 \
         WHERE endpoint_id = $1 AND disabled_at_us IS NULL",
    )
    .bind(id)
    .bind(now.as_microsecond())
    .bind(reason)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    give_up_pending(tx, id, &format!("the endpoint was disabled: {reason}"), now).await?;
    Ok(changed > 0)
}

/// The endpoint's pending deliveries give up with `reason`.
pub async fn give_up_pending(tx: &mut Tx, id: i64, reason: &str, now: Timestamp) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE webhook_delivery SET state = 'failed', last_error = $2, next_attempt_at_us = NULL, \
           lease_owner = NULL, lease_until_us = NULL, updated_at_us = $3 \
         WHERE endpoint_id = $1 AND state = 'pending'",
    )
    .bind(id)
    .bind(reason)
    .bind(now.as_microsecond())
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

// ---- deliveries ----

const DELIVERY_COLUMNS: &str = "delivery_id, endpoint_id, event_id, event_type, subject, payload, state, \
    attempts, next_attempt_at_us, last_status, last_error, last_attempt_at_us, created_at_us";

#[derive(sqlx::FromRow)]
struct DeliveryRecord {
    delivery_id: i64,
    endpoint_id: i64,
    event_id: String,
    event_type: String,
    subject: String,
    payload: String,
    state: String,
    attempts: i64,
    next_attempt_at_us: Option<i64>,
    last_status: Option<i64>,
    last_error: Option<String>,
    last_attempt_at_us: Option<i64>,
    created_at_us: i64,
}

impl DeliveryRecord {
    fn into_domain(self) -> Result<WebhookDelivery> {
        Ok(WebhookDelivery {
            event_type: EventType::parse_any(&self.event_type)
                .ok_or_else(|| unknown("webhook event type", &self.event_type))?,
            state: DeliveryState::parse(&self.state)
                .ok_or_else(|| unknown("webhook delivery state", &self.state))?,
            id: self.delivery_id,
            endpoint_id: self.endpoint_id,
            event_id: self.event_id,
            subject: self.subject,
            payload: self.payload,
            attempts: self.attempts,
            next_attempt_at: optional_instant("webhook retry time", self.next_attempt_at_us)?,
            last_status: self.last_status.and_then(|s| u16::try_from(s).ok()),
            last_error: self.last_error,
            last_attempt_at: optional_instant("webhook attempt time", self.last_attempt_at_us)?,
            created_at: instant("webhook queued time", self.created_at_us)?,
        })
    }
}

fn deliveries(records: Vec<DeliveryRecord>) -> Result<Vec<WebhookDelivery>> {
    records
        .into_iter()
        .map(DeliveryRecord::into_domain)
        .collect()
}

/// Queues `delivery` for each endpoint, due now; an (endpoint, event) already queued is left as it is. Returns
/// how many were queued.
pub async fn enqueue(
    tx: &mut Tx,
    endpoints: &[i64],
    delivery: &NewDelivery,
    now: Timestamp,
) -> Result<u64> {
    let mut queued = 0;
    for endpoint in endpoints {
        queued += sqlx::query(
            "INSERT INTO webhook_delivery (endpoint_id, event_id, event_type, subject, position, payload, state, \
               attempts, next_attempt_at_us, created_at_us, updated_at_us) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $7) \
             ON CONFLICT (endpoint_id, event_id) DO NOTHING",
        )
        .bind(endpoint)
        .bind(&delivery.event_id)
        .bind(delivery.event_type.as_str())
        .bind(&delivery.subject)
        .bind(delivery.position)
        .bind(&delivery.payload)
        .bind(now.as_microsecond())
        .execute(&mut **tx)
        .await?
        .rows_affected();
    }
    Ok(queued)
}

/// A claimed delivery with where it goes.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub delivery: WebhookDelivery,
    pub url: String,
    pub secret: Secret,
}

#[derive(sqlx::FromRow)]
struct ClaimedRecord {
    #[sqlx(flatten)]
    delivery: DeliveryRecord,
    url: String,
    secret: String,
}

/// Claims up to `limit` due deliveries of enabled endpoints for `owner` until `lease_until`, counting the
/// attempt: the first pending delivery of each (endpoint, subject) only — a later one waits until the earlier
/// is delivered or given up.
pub async fn claim(
    tx: &mut Tx,
    backend: Backend,
    owner: &str,
    now: Timestamp,
    lease_until: Timestamp,
    limit: i64,
) -> Result<Vec<Claimed>> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE OF d SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE webhook_delivery SET lease_owner = $1, lease_until_us = $2, attempts = attempts + 1, \
           updated_at_us = $3 \
         WHERE delivery_id IN (SELECT d.delivery_id FROM webhook_delivery d \
             JOIN webhook_endpoint e ON e.endpoint_id = d.endpoint_id \
           WHERE d.state = 'pending' AND d.next_attempt_at_us <= $3 \
             AND (d.lease_until_us IS NULL OR d.lease_until_us <= $3) AND e.disabled_at_us IS NULL \
             AND NOT EXISTS (SELECT 1 FROM webhook_delivery p WHERE p.endpoint_id = d.endpoint_id \
               AND p.subject = d.subject AND p.state = 'pending' \
               AND (p.position < d.position OR (p.position = d.position AND p.delivery_id < d.delivery_id))) \
           ORDER BY d.next_attempt_at_us, d.delivery_id LIMIT $4{lock}) \
           AND state = 'pending' AND (lease_until_us IS NULL OR lease_until_us <= $3) \
         RETURNING delivery_id"
    );
    let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(owner)
        .bind(lease_until.as_microsecond())
        .bind(now.as_microsecond())
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(super::CHUNK) {
        let columns = DELIVERY_COLUMNS
            .split(", ")
            .map(|c| format!("d.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns}, e.url, e.secret FROM webhook_delivery d \
               JOIN webhook_endpoint e ON e.endpoint_id = d.endpoint_id \
             WHERE d.delivery_id IN ({}) ORDER BY d.delivery_id",
            super::placeholders(1, chunk.len())
        );
        let mut query = sqlx::query_as::<_, ClaimedRecord>(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(id);
        }
        for r in query.fetch_all(&mut **tx).await? {
            out.push(Claimed {
                delivery: r.delivery.into_domain()?,
                url: r.url,
                secret: Secret::stored(r.secret),
            });
        }
    }
    Ok(out)
}

/// Records an attempt made at `at` under `owner`'s claim; false when the claim no longer holds.
pub async fn settle(
    tx: &mut Tx,
    id: i64,
    owner: &str,
    settled: &Settled,
    status: Option<u16>,
    at: Timestamp,
) -> Result<bool> {
    let error = settled
        .error
        .as_deref()
        .map(|e| pinit_kernel::text::truncate(e, crate::domain::delivery::MAX_ERROR_CHARS));
    let changed = sqlx::query(
        "UPDATE webhook_delivery SET state = $3, next_attempt_at_us = $4, last_status = $5, last_error = $6, \
           last_attempt_at_us = $7, lease_owner = NULL, lease_until_us = NULL, updated_at_us = $7 \
         WHERE delivery_id = $1 AND lease_owner = $2 AND state = 'pending'",
    )
    .bind(id)
    .bind(owner)
    .bind(settled.state.as_str())
    .bind(settled.next_attempt_at.map(|t| t.as_microsecond()))
    .bind(status.map(i64::from))
    .bind(error)
    .bind(at.as_microsecond())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(changed > 0)
}

/// Gives back a claimed delivery that was not attempted (its claim ran short), not counting the attempt.
pub async fn release(tx: &mut Tx, id: i64, owner: &str, now: Timestamp) -> Result<()> {
    sqlx::query(
        "UPDATE webhook_delivery SET lease_owner = NULL, lease_until_us = NULL, attempts = attempts - 1, \
           updated_at_us = $3 WHERE delivery_id = $1 AND lease_owner = $2",
    )
    .bind(id)
    .bind(owner)
    .bind(now.as_microsecond())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An endpoint's deliveries, newest first, at most `limit`.
pub async fn of_endpoint(
    conn: &mut Conn,
    endpoint: i64,
    limit: i64,
) -> Result<Vec<WebhookDelivery>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_delivery WHERE endpoint_id = $1 \
         ORDER BY delivery_id DESC LIMIT $2"
    );
    deliveries(
        sqlx::query_as::<_, DeliveryRecord>(sqlx::AssertSqlSafe(sql))
            .bind(endpoint)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// When a dispatcher should look next: the earliest pending attempt or claim expiry of an enabled endpoint.
pub async fn next_wake(conn: &mut Conn) -> Result<Option<Timestamp>> {
    let next: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(CASE WHEN d.lease_until_us IS NULL THEN d.next_attempt_at_us ELSE d.lease_until_us END) \
         FROM webhook_delivery d JOIN webhook_endpoint e ON e.endpoint_id = d.endpoint_id \
         WHERE d.state = 'pending' AND e.disabled_at_us IS NULL",
    )
    .fetch_one(&mut *conn)
    .await?;
    next.map(|us| instant("webhook next wake", us)).transpose()
}

/// Deletes finished deliveries untouched since `before`.
pub async fn prune(conn: &mut Conn, before: Timestamp) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM webhook_delivery WHERE updated_at_us < $1 AND state <> 'pending'")
            .bind(before.as_microsecond())
            .execute(&mut *conn)
            .await?
            .rows_affected(),
    )
}
