//! Subscriptions: a device subscribes with an FCM token or a Web Push subscription, replacing its previous one;
//! a member has at most `max_subscriptions_per_member` (a new device beyond it replaces the least recently used
//! ones); unsubscribing a device that has none is fine.

use pinit_kernel::db::DbError;

use super::{NotificationError, Notifications};
use crate::domain::{DeviceId, Invalid, MemberId, PushTarget, over_cap};
use crate::store;

/// A Web Push subscription as the browser's `PushSubscription.toJSON()` gives it.
#[derive(Debug, Clone, Default)]
pub struct WebPushInput {
    pub endpoint: Option<String>,
    pub p256dh: Option<String>,
    pub auth: Option<String>,
}

/// The body of `POST /v0/push/subscribe`: `{deviceId, token}` (FCM) or `{deviceId, subscription}` (Web Push).
#[derive(Debug, Clone, Default)]
pub struct SubscribeInput {
    pub device_id: Option<String>,
    pub token: Option<String>,
    pub subscription: Option<WebPushInput>,
}

impl Notifications {
    /// Stores the device's subscription (FCM token or Web Push), replacing the device's previous one; beyond
    /// the member's cap, the least recently used of their other subscriptions are replaced.
    pub async fn subscribe(
        &self,
        member_id: MemberId,
        input: SubscribeInput,
    ) -> Result<(), NotificationError> {
        let (device, target) = self.validate(input)?;
        let mut tx = self.begin_for(member_id).await?;
        let moved =
            store::subscriptions::upsert(&mut tx, member_id, &device, &target, self.now()).await?;
        let uses = store::subscriptions::uses_of(&mut tx, member_id).await?;
        let replaced = over_cap(
            &uses,
            &device,
            self.inner.settings.max_subscriptions_per_member,
        );
        let replaced = store::subscriptions::delete_many(&mut tx, member_id, &replaced).await?;
        tx.commit().await.map_err(DbError::from)?;
        if replaced > 0 {
            metrics::counter!("pinit_push_subscriptions_removed_total", "reason" => "replaced")
                .increment(replaced);
            tracing::info!(
                %member_id,
                device = device.as_str(),
                replaced,
                "member at the subscription cap; least recently used subscriptions replaced"
            );
        }
        if moved > 0 {
            tracing::info!(
                %member_id,
                device = device.as_str(),
                "push subscription moved from another device or member"
            );
        }
        metrics::counter!("pinit_push_subscriptions_saved_total", "kind" => target.kind().as_str())
            .increment(1);
        Ok(())
    }

    /// The device id and push target of a subscribe request, or every problem with it.
    fn validate(&self, input: SubscribeInput) -> Result<(DeviceId, PushTarget), NotificationError> {
        let mut problems = Vec::new();
        let device = DeviceId::parse(input.device_id.as_deref()).map_err(|e| problems.push(e));
        let target = match (input.token.as_deref(), &input.subscription) {
            (Some(_), Some(_)) => {
                problems.push(Invalid::new(
                    "token",
                    serde_json::Value::Null,
                    "give either `token` (FCM) or `subscription` (Web Push), not both",
                ));
                None
            }
            (Some(token), None) => PushTarget::fcm(token).map_err(|e| problems.push(e)).ok(),
            (None, Some(s)) => PushTarget::web_push(
                s.endpoint.as_deref(),
                s.p256dh.as_deref(),
                s.auth.as_deref(),
                &self.inner.policy,
            )
            .map_err(|mut e| problems.append(&mut e))
            .ok(),
            (None, None) => {
                problems.push(Invalid::new(
                    "token",
                    serde_json::Value::Null,
                    "`token` (FCM) or `subscription` (Web Push) is required",
                ));
                None
            }
        };
        match (device, target, problems.is_empty()) {
            (Ok(device), Some(target), true) => Ok((device, target)),
            _ => Err(NotificationError::Invalid(problems)),
        }
    }

    /// Deletes the device's subscription (a missing one is fine).
    pub async fn unsubscribe(
        &self,
        member_id: MemberId,
        device_id: Option<&str>,
    ) -> Result<(), NotificationError> {
        let device = DeviceId::parse(device_id).map_err(|e| NotificationError::Invalid(vec![e]))?;
        let mut conn = self.inner.db.conn().await?;
        store::subscriptions::delete(&mut conn, member_id, &device).await?;
        Ok(())
    }

    pub async fn is_subscribed(
        &self,
        member_id: MemberId,
        device_id: Option<&str>,
    ) -> Result<bool, NotificationError> {
        let device = DeviceId::parse(device_id).map_err(|e| NotificationError::Invalid(vec![e]))?;
        let mut conn = self.inner.db.conn().await?;
        Ok(store::subscriptions::exists(&mut conn, member_id, &device).await?)
    }
}
