//! Webhooks: a member's endpoints (create, list, update, delete, test, their delivery log), and queueing an
//! event for the endpoints that receive it — in the transaction that consumed the event (the inbox's), so an
//! event is queued exactly when it is marked processed, and a redelivered one adds nothing (one delivery per
//! (endpoint, event)). Sending is the [`WebhookDispatcher`](crate::dispatch::webhooks::WebhookDispatcher)'s.

use jiff::Timestamp;
use pinit_kernel::db::{DbError, Tx};
use serde_json::Value;

use super::{Missing, NotificationError, Notifications};
use crate::domain::webhook::{
    Endpoint, EndpointInput, EventType, NewDelivery, Secret, WebhookDelivery, payload,
};
use crate::domain::{MemberId, OutcomeRecord, Upcoming};
use crate::store;

/// Deliveries a delivery log shows at most.
pub const MAX_LOG: i64 = 100;

/// Namespace of the ids of `reminder.sent` events (UUIDv5 of the reminder's key).
const REMINDER_EVENT_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x8c4e_2f61_7a0d_4b3c_9e15_d2a7_0b6f_4c91);

/// An update: the fields to change, and `enabled` to disable or re-enable the endpoint.
#[derive(Debug, Clone, Default)]
pub struct WebhookUpdate {
    pub fields: EndpointInput,
    pub enabled: Option<bool>,
}

/// One event to queue for the member's endpoints that receive its type.
#[derive(Debug, Clone)]
pub struct WebhookEvent<'a> {
    pub owner: MemberId,
    pub kind: EventType,
    pub event_id: &'a str,
    pub subject: String,
    pub position: i64,
    pub occurred_at: Timestamp,
    pub data: &'a Value,
}

impl Notifications {
    /// A new endpoint with a new secret (the only time the secret is shown). At most
    /// `webhooks.max_endpoints_per_member` per member.
    pub async fn create_webhook(
        &self,
        member: MemberId,
        input: EndpointInput,
    ) -> Result<Endpoint, NotificationError> {
        let fields = input
            .validate(&self.inner.policy, true)
            .map_err(NotificationError::Invalid)?;
        let db = &self.inner.db;
        let mut tx = self.begin_for(member).await?;
        let existing = store::webhooks::lock_member(&mut tx, db.backend(), member).await?;
        let max = self.inner.settings.webhooks.max_endpoints_per_member;
        if existing.len() >= max {
            return Err(NotificationError::Conflict {
                code: "WEBHOOK_LIMIT",
                message: format!(
                    "a member may have at most {max} webhook endpoints; delete one first"
                ),
            });
        }
        let endpoint =
            store::webhooks::insert(&mut tx, member, &fields, &Secret::generate(), self.now())
                .await?;
        tx.commit().await.map_err(DbError::from)?;
        metrics::counter!("pinit_webhook_endpoints_created_total").increment(1);
        Ok(endpoint)
    }

    /// The member's endpoints, oldest first.
    pub async fn webhooks(&self, member: MemberId) -> Result<Vec<Endpoint>, NotificationError> {
        let mut conn = self.inner.db.conn().await?;
        Ok(store::webhooks::of_member(&mut conn, member).await?)
    }

    async fn owned_webhook(
        &self,
        tx: &mut Tx,
        member: MemberId,
        id: i64,
    ) -> Result<Endpoint, NotificationError> {
        store::webhooks::get(tx, member, id)
            .await?
            .ok_or(NotificationError::NotFound(Missing::Webhook))
    }

    /// Changes an endpoint's URL, events or description; `enabled: false` disables it ("disabled by you"),
    /// `enabled: true` re-enables a disabled one (its failures forgotten).
    pub async fn update_webhook(
        &self,
        member: MemberId,
        id: i64,
        update: WebhookUpdate,
    ) -> Result<Endpoint, NotificationError> {
        let fields = update
            .fields
            .validate(&self.inner.policy, false)
            .map_err(NotificationError::Invalid)?;
        let now = self.now();
        let mut tx = self.inner.db.begin().await?;
        let mut endpoint = self.owned_webhook(&mut tx, member, id).await?;
        if let Some(url) = fields.url {
            endpoint.url = url;
        }
        if let Some(events) = fields.events {
            endpoint.events = events;
        }
        if let Some(description) = fields.description {
            endpoint.description = description;
        }
        match update.enabled {
            Some(true) if !endpoint.enabled() => {
                endpoint.disabled_at = None;
                endpoint.disabled_reason = None;
                endpoint.failures = 0;
            }
            Some(false) if endpoint.enabled() => {
                let reason = crate::domain::webhook::DISABLED_BY_MEMBER;
                store::webhooks::disable(&mut tx, id, reason, now).await?;
                endpoint.disabled_at = Some(now);
                endpoint.disabled_reason = Some(reason.into());
            }
            _ => {}
        }
        store::webhooks::save(&mut tx, &endpoint, now).await?;
        tx.commit().await.map_err(DbError::from)?;
        endpoint.updated_at = now;
        self.inner.webhook_signal.wake();
        Ok(endpoint)
    }

    /// Deletes an endpoint with its deliveries.
    pub async fn delete_webhook(&self, member: MemberId, id: i64) -> Result<(), NotificationError> {
        let mut tx = self.inner.db.begin().await?;
        if !store::webhooks::delete(&mut tx, member, id).await? {
            return Err(NotificationError::NotFound(Missing::Webhook));
        }
        tx.commit().await.map_err(DbError::from)?;
        Ok(())
    }

    /// Queues a `webhook.test` event for this endpoint only; returns its delivery. Refused (409) while the
    /// endpoint is disabled.
    pub async fn test_webhook(
        &self,
        member: MemberId,
        id: i64,
    ) -> Result<WebhookDelivery, NotificationError> {
        let now = self.now();
        let mut tx = self.inner.db.begin().await?;
        let endpoint = self.owned_webhook(&mut tx, member, id).await?;
        if !endpoint.enabled() {
            return Err(NotificationError::Conflict {
                code: "WEBHOOK_DISABLED",
                message: "the endpoint is disabled; enable it first".into(),
            });
        }
        let event_id = uuid::Uuid::now_v7().to_string();
        let data = serde_json::json!({"endpointId": id, "message": "A test event from Pinit"});
        let delivery = NewDelivery {
            payload: payload(EventType::Test, now, &data),
            event_id: event_id.clone(),
            event_type: EventType::Test,
            subject: format!("test:{event_id}"),
            position: 0,
        };
        store::webhooks::enqueue(&mut tx, &[id], &delivery, now).await?;
        let queued = store::webhooks::of_endpoint(&mut tx, id, 1).await?;
        tx.commit().await.map_err(DbError::from)?;
        self.inner.webhook_signal.wake();
        queued
            .into_iter()
            .next()
            .ok_or(NotificationError::NotFound(Missing::Webhook))
    }

    /// An endpoint's deliveries, newest first (at most [`MAX_LOG`]).
    pub async fn webhook_deliveries(
        &self,
        member: MemberId,
        id: i64,
    ) -> Result<Vec<WebhookDelivery>, NotificationError> {
        let mut tx = self.inner.db.begin().await?;
        self.owned_webhook(&mut tx, member, id).await?;
        let log = store::webhooks::of_endpoint(&mut tx, id, MAX_LOG).await?;
        tx.commit().await.map_err(DbError::from)?;
        Ok(log)
    }

    /// Queues `event` for the owner's enabled endpoints that receive its type and existed when it happened
    /// (an endpoint created after an event the broker delivers late does not get it), in `tx`; returns how many
    /// deliveries were queued (0 for an event already queued).
    pub async fn queue_webhook(
        &self,
        tx: &mut Tx,
        event: WebhookEvent<'_>,
    ) -> Result<u64, DbError> {
        let endpoints: Vec<i64> = store::webhooks::of_member(tx, event.owner)
            .await?
            .into_iter()
            .filter(|e| e.receives(event.kind) && e.created_at <= event.occurred_at)
            .map(|e| e.id)
            .collect();
        if endpoints.is_empty() {
            return Ok(0);
        }
        let delivery = NewDelivery {
            payload: payload(event.kind, event.occurred_at, event.data),
            event_id: event.event_id.to_string(),
            event_type: event.kind,
            subject: event.subject,
            position: event.position,
        };
        let queued = store::webhooks::enqueue(tx, &endpoints, &delivery, self.now()).await?;
        if queued > 0 {
            metrics::counter!("pinit_webhook_events_queued_total", "type" => event.kind.as_str())
                .increment(queued);
            // The consumer's transaction commits right after; the dispatcher looks again shortly.
            self.inner.webhook_signal.wake();
        }
        Ok(queued)
    }

    /// `reminder.sent`: a reminder went out to at least one device of its member (recorded with its outcome).
    pub(crate) async fn queue_reminder_sent(
        &self,
        tx: &mut Tx,
        upcoming: &Upcoming,
        outcome: &OutcomeRecord,
    ) -> Result<(), DbError> {
        if outcome.delivered == 0 {
            return Ok(());
        }
        let key = upcoming.idempotent_key.as_str();
        let event_id = uuid::Uuid::new_v5(&REMINDER_EVENT_NAMESPACE, key.as_bytes()).to_string();
        let data = serde_json::json!({
            "scheduleId": upcoming.schedule_id.get(),
            "ownerId": upcoming.owner_id.get(),
            "startAt": outcome.start_at.to_string(),
            "reminder": upcoming.slot.offset.to_string(),
            "snooze": upcoming.slot.snooze,
            "reminderKey": key,
            "devices": outcome.devices,
            "delivered": outcome.delivered,
        });
        self.queue_webhook(
            tx,
            WebhookEvent {
                owner: upcoming.owner_id,
                kind: EventType::ReminderSent,
                event_id: &event_id,
                subject: format!("reminder:{}", upcoming.schedule_id),
                position: 0,
                occurred_at: outcome.finished_at,
                data: &data,
            },
        )
        .await
        .map(|_| ())
    }
}
