//! `push_subscription`: one row per (member, device); the token or endpoint (`address`) belongs to one
//! (member, device) at a time.

use jiff::Timestamp;
use pinit_kernel::db::{Conn, Tx};

use super::{CHUNK, Result, instant, placeholders, unknown};
use crate::domain::{
    DeviceId, MemberId, PushKind, PushTarget, Subscription, SubscriptionId, SubscriptionUse,
    WebPushSubscription,
};

/// How precisely a subscription's last success is kept: it is rewritten only when the stored one is older than
/// this. Pruning counts idle time in days (`subscription_max_idle`, 90 by default), while a member with several
/// pushes a day would otherwise rewrite each of their subscriptions on every push. On PostgreSQL the rewrite
/// happens in place (migration 0003 keeps room on the table's pages), which made it cheaper, not free.
pub const SUCCESS_PRECISION_US: i64 = 24 * 3600 * 1_000_000;

const COLUMNS: &str = "subscription_id, member_id, device_id, kind, address, p256dh, auth_secret";

#[derive(sqlx::FromRow)]
struct Record {
    subscription_id: i64,
    member_id: i64,
    device_id: String,
    kind: String,
    address: String,
    p256dh: Option<String>,
    auth_secret: Option<String>,
}

impl Record {
    fn into_domain(self) -> Result<Subscription> {
        let kind = PushKind::parse(&self.kind).ok_or_else(|| unknown("push kind", &self.kind))?;
        let target = match kind {
            PushKind::Fcm => PushTarget::Fcm {
                token: self.address,
            },
            // Missing keys are sent as they are: that device's send fails, not the batch.
            PushKind::WebPush => PushTarget::WebPush(WebPushSubscription {
                endpoint: self.address,
                p256dh: self.p256dh.unwrap_or_default(),
                auth: self.auth_secret.unwrap_or_default(),
            }),
        };
        Ok(Subscription {
            id: SubscriptionId(self.subscription_id),
            member_id: MemberId(self.member_id),
            device_id: DeviceId::stored(self.device_id),
            target,
        })
    }
}

/// Stores the device's subscription, replacing its previous one; moves the token/endpoint away from any other
/// (member, device) that held it. Returns how many other subscriptions gave it up.
pub async fn upsert(
    tx: &mut Tx,
    member_id: MemberId,
    device: &DeviceId,
    target: &PushTarget,
    now: Timestamp,
) -> Result<u64> {
    let moved = sqlx::query(
        "DELETE FROM push_subscription WHERE address = $1 AND NOT (member_id = $2 AND device_id = $3)",
    )
    .bind(target.address())
    .bind(member_id.get())
    .bind(device.as_str())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let (p256dh, auth) = match target {
        PushTarget::WebPush(s) => (Some(s.p256dh.as_str()), Some(s.auth.as_str())),
        PushTarget::Fcm { .. } => (None, None),
    };
    sqlx::query(
        "INSERT INTO push_subscription (member_id, device_id, kind, address, p256dh, auth_secret, \
           created_at_us, updated_at_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
         ON CONFLICT (member_id, device_id) DO UPDATE SET kind = excluded.kind, address = excluded.address, \
           p256dh = excluded.p256dh, auth_secret = excluded.auth_secret, updated_at_us = excluded.updated_at_us, \
           last_success_at_us = CASE WHEN push_subscription.address = excluded.address \
             THEN push_subscription.last_success_at_us ELSE NULL END, \
           refusals = CASE WHEN push_subscription.address = excluded.address \
             THEN push_subscription.refusals ELSE 0 END",
    )
    .bind(member_id.get())
    .bind(device.as_str())
    .bind(target.kind().as_str())
    .bind(target.address())
    .bind(p256dh)
    .bind(auth)
    .bind(now.as_microsecond())
    .execute(&mut **tx)
    .await?;
    Ok(moved)
}

/// When each of the member's subscriptions was last used (subscribed or successfully pushed to).
pub async fn uses_of(tx: &mut Tx, member_id: MemberId) -> Result<Vec<SubscriptionUse>> {
    #[derive(sqlx::FromRow)]
    struct UseRecord {
        subscription_id: i64,
        device_id: String,
        updated_at_us: i64,
        last_success_at_us: Option<i64>,
    }
    let records: Vec<UseRecord> = sqlx::query_as(
        "SELECT subscription_id, device_id, updated_at_us, last_success_at_us FROM push_subscription \
         WHERE member_id = $1",
    )
    .bind(member_id.get())
    .fetch_all(&mut **tx)
    .await?;
    records
        .into_iter()
        .map(|r| {
            let last_used_us = r
                .updated_at_us
                .max(r.last_success_at_us.unwrap_or(i64::MIN));
            Ok(SubscriptionUse {
                id: SubscriptionId(r.subscription_id),
                device_id: DeviceId::stored(r.device_id),
                last_used: instant("push_subscription last use", last_used_us)?,
            })
        })
        .collect()
}

/// Deletes these subscriptions (of `member_id`); returns how many were deleted.
pub async fn delete_many(tx: &mut Tx, member_id: MemberId, ids: &[SubscriptionId]) -> Result<u64> {
    let mut deleted = 0;
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "DELETE FROM push_subscription WHERE member_id = $1 AND subscription_id IN ({})",
            placeholders(2, chunk.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(member_id.get());
        for id in chunk {
            query = query.bind(id.get());
        }
        deleted += query.execute(&mut **tx).await?.rows_affected();
    }
    Ok(deleted)
}

/// Deletes the device's subscription; false when there was none.
pub async fn delete(conn: &mut Conn, member_id: MemberId, device: &DeviceId) -> Result<bool> {
    let n = sqlx::query("DELETE FROM push_subscription WHERE member_id = $1 AND device_id = $2")
        .bind(member_id.get())
        .bind(device.as_str())
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(n > 0)
}

/// Whether the device has a subscription.
pub async fn exists(conn: &mut Conn, member_id: MemberId, device: &DeviceId) -> Result<bool> {
    let row =
        sqlx::query("SELECT 1 FROM push_subscription WHERE member_id = $1 AND device_id = $2")
            .bind(member_id.get())
            .bind(device.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.is_some())
}

/// Every subscription of these members.
pub async fn of_members(conn: &mut Conn, member_ids: &[MemberId]) -> Result<Vec<Subscription>> {
    let mut out = Vec::new();
    for chunk in member_ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT {COLUMNS} FROM push_subscription WHERE member_id IN ({}) \
             ORDER BY member_id, device_id",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query_as::<_, Record>(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(id.get());
        }
        for record in query.fetch_all(&mut *conn).await? {
            out.push(record.into_domain()?);
        }
    }
    Ok(out)
}

/// Deletes a subscription the push service declared gone — unless the device re-subscribed with another
/// address meanwhile.
pub async fn delete_gone(tx: &mut Tx, id: SubscriptionId, address: &str) -> Result<bool> {
    let n =
        sqlx::query("DELETE FROM push_subscription WHERE subscription_id = $1 AND address = $2")
            .bind(id.get())
            .bind(address)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    Ok(n > 0)
}

/// Counts a push the SSRF guard refused on the subscription — unless the device re-subscribed with another
/// address meanwhile (then `None`); returns its refusals in a row.
pub async fn count_refusal(tx: &mut Tx, id: SubscriptionId, address: &str) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "UPDATE push_subscription SET refusals = refusals + 1 \
         WHERE subscription_id = $1 AND address = $2 RETURNING refusals",
    )
    .bind(id.get())
    .bind(address)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Records a successful delivery on many subscriptions (rows are locked in id order), leaving alone those
/// whose recorded success is less than [`SUCCESS_PRECISION_US`] old and who have no refusals to clear.
pub async fn touch_successes(tx: &mut Tx, ids: &[SubscriptionId], now: Timestamp) -> Result<()> {
    let mut ids: Vec<i64> = ids.iter().map(|id| id.get()).collect();
    ids.sort_unstable();
    ids.dedup();
    let now_us = now.as_microsecond();
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "UPDATE push_subscription SET last_success_at_us = $1, refusals = 0 \
             WHERE subscription_id IN ({}) \
             AND (last_success_at_us IS NULL OR last_success_at_us < $2 OR refusals > 0)",
            placeholders(3, chunk.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now_us)
            .bind(now_us.saturating_sub(SUCCESS_PRECISION_US));
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Deletes subscriptions neither refreshed nor delivered to since `before`.
pub async fn prune_idle(conn: &mut Conn, before: Timestamp) -> Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM push_subscription WHERE updated_at_us < $1 \
         AND (last_success_at_us IS NULL OR last_success_at_us < $1)",
    )
    .bind(before.as_microsecond())
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// Deletes every push subscription of `member` (account deletion); how many.
pub async fn erase_member(conn: &mut Conn, member: MemberId) -> Result<u64> {
    super::erase_rows(conn, "push_subscription", "member_id", member).await
}
