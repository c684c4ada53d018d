//! The schedule events the notification context consumes, each through an idempotent inbox.
//!
//! One consumer (and RabbitMQ queue) per routing key, with the reference's queue names
//! (`{routing key}.notification`), bound to `task.schedule.direct`. The inbox drops duplicates by event id and
//! stale versions per queue; because the five queues are consumed independently, applying an event also checks
//! the schedule's watermark ([`crate::domain::arming`]), so a late `upcoming.updated` can never resurrect a
//! started or deleted schedule's notification.
//!
//! Webhooks have one more consumer ([`WebhookEventHandler`]): one queue, [`WEBHOOK_QUEUE`], bound to every event
//! a webhook type comes from ([`WEBHOOK_CHANNELS`]), so each aggregate's events arrive in the order the task
//! service's outbox published them; each is queued for the owner's endpoints in the inbox transaction.

use jiff::Timestamp;
use pinit_contracts::events::{Channel, channel, instant};
use pinit_kernel::db::Tx;
use pinit_messaging::{ConsumerConfig, Handler, HandlerError, Inbox, IncomingEvent, Subscription};

use crate::app::{ApplyError, Notifications, WebhookEvent};
use crate::domain::webhook::EventType;
use crate::domain::{
    Applied, MemberId, NotificationKey, ScheduleChange, ScheduleEvent, ScheduleId, ScheduleKey,
    reminder, truncate_to_micros,
};

impl ScheduleChange {
    /// The channel (exchange + routing key) of the event.
    pub fn channel(self) -> Channel {
        match self {
            ScheduleChange::UpcomingUpdated => channel::SCHEDULE_TIME_UPCOMING_UPDATED,
            ScheduleChange::Started => channel::SCHEDULE_STATE_STARTED,
            ScheduleChange::Completed => channel::SCHEDULE_STATE_COMPLETED,
            ScheduleChange::Deleted => channel::SCHEDULE_DELETED,
            ScheduleChange::Canceled => channel::SCHEDULE_STATE_CANCELED,
        }
    }

    /// The reference's durable queue (and our consumer name): `schedule.state.started.notification`, …
    pub fn queue(self) -> &'static str {
        match self {
            ScheduleChange::UpcomingUpdated => "schedule.time.upcoming.updated.notification",
            ScheduleChange::Started => "schedule.state.started.notification",
            ScheduleChange::Completed => "schedule.state.completed.notification",
            ScheduleChange::Deleted => "schedule.deleted.notification",
            ScheduleChange::Canceled => "schedule.state.canceled.notification",
        }
    }

    /// The consumer's subscription: its queue bound to the event's channel.
    pub fn subscription(self) -> Subscription {
        Subscription::new(self.queue()).bind(self.channel())
    }
}

/// The fields every schedule event carries (read leniently: `beforeState` and unknown keys are ignored).
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventHead {
    schedule_id: i64,
    owner_id: i64,
    #[serde(default, deserialize_with = "optional_instant")]
    new_upcoming_time: Option<Timestamp>,
    #[serde(default)]
    aggregate_version: Option<i64>,
    /// Reminder offsets (ISO 8601); absent from the reference's producers.
    #[serde(default)]
    reminders: Option<Vec<String>>,
}

fn optional_instant<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    let text: Option<String> = serde::Deserialize::deserialize(d)?;
    text.map(|t| instant::parse(&t).map_err(serde::de::Error::custom))
        .transpose()
}

/// Reads an incoming event of kind `change` (a payload that does not decode is dead-lettered).
fn read(change: ScheduleChange, event: &IncomingEvent) -> Result<ScheduleEvent, HandlerError> {
    let head: EventHead = event.decode()?;
    let reminders = reminder::offsets(head.reminders.as_deref())
        .map_err(|e| HandlerError::permanent(e.to_string()))?;
    Ok(ScheduleEvent {
        change,
        schedule: ScheduleKey {
            schedule_id: ScheduleId(head.schedule_id),
            owner_id: MemberId(head.owner_id),
        },
        id: NotificationKey::from(event.id.as_str()),
        version: event
            .aggregate
            .as_ref()
            .and_then(|a| a.version)
            .or(head.aggregate_version),
        occurred_at: event.occurred_at.map(truncate_to_micros),
        new_start: head.new_upcoming_time,
        reminders,
    })
}

/// Applies one kind of schedule event to the pending notifications.
#[derive(Clone)]
pub struct ScheduleEventHandler {
    app: Notifications,
    change: ScheduleChange,
}

impl ScheduleEventHandler {
    pub fn new(app: Notifications, change: ScheduleChange) -> Self {
        Self { app, change }
    }

    pub fn change(&self) -> ScheduleChange {
        self.change
    }

    /// Applies `event` in `tx` and says what it did (tests call this directly).
    pub async fn apply(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<Applied, HandlerError> {
        let event = read(self.change, event)?;
        self.app.apply(tx, &event).await.map_err(|e| match e {
            ApplyError::Malformed(why) => HandlerError::permanent(why),
            ApplyError::Db(e) => HandlerError::from(e),
        })
    }
}

impl Handler for ScheduleEventHandler {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        self.apply(tx, event).await.map(|_| ())
    }

    fn skipped_stale(&self, _event: &IncomingEvent) {
        crate::app::count(self.change, Applied::Stale);
    }
}

/// The webhook consumer's queue (and consumer name).
pub const WEBHOOK_QUEUE: &str = "webhooks.notification";

/// The events webhook types come from ([`EventType::of_event`]), all bound to [`WEBHOOK_QUEUE`].
pub const WEBHOOK_CHANNELS: [Channel; 9] = [
    channel::SCHEDULE_TIME_UPCOMING_UPDATED,
    channel::SCHEDULE_DETAILS_UPDATED,
    channel::SCHEDULE_STATE_STARTED,
    channel::SCHEDULE_STATE_SUSPENDED,
    channel::SCHEDULE_STATE_COMPLETED,
    channel::SCHEDULE_STATE_CANCELED,
    channel::SCHEDULE_DELETED,
    channel::TASK_CREATED,
    channel::TASK_COMPLETED,
];

/// The webhook consumer's subscription: [`WEBHOOK_QUEUE`] bound to [`WEBHOOK_CHANNELS`].
pub fn webhook_subscription() -> Subscription {
    WEBHOOK_CHANNELS
        .into_iter()
        .fold(Subscription::new(WEBHOOK_QUEUE), Subscription::bind)
}

/// What every webhook event needs of its payload (unknown keys are ignored).
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct WebhookHead {
    owner_id: i64,
    #[serde(default)]
    schedule_id: Option<i64>,
    #[serde(default)]
    task_id: Option<i64>,
    #[serde(default)]
    aggregate_version: Option<i64>,
}

/// Queues each task event for the owner's webhook endpoints that receive its type.
#[derive(Clone)]
pub struct WebhookEventHandler {
    app: Notifications,
}

impl WebhookEventHandler {
    pub fn new(app: Notifications) -> Self {
        Self { app }
    }

    /// Queues `event` in `tx`; returns the deliveries queued (tests call this directly).
    pub async fn apply(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<u64, HandlerError> {
        let head: WebhookHead = event.decode()?;
        let version = event
            .aggregate
            .as_ref()
            .and_then(|a| a.version)
            .or(head.aggregate_version);
        let Some(kind) = EventType::of_event(&event.routing_key, version) else {
            return Ok(0);
        };
        let subject = match (&event.aggregate, head.schedule_id, head.task_id) {
            (Some(a), _, _) => format!("{}:{}", a.aggregate_type, a.aggregate_id),
            (None, Some(schedule), _) => format!("schedule:{schedule}"),
            (None, None, Some(task)) => format!("task:{task}"),
            (None, None, None) => {
                return Err(HandlerError::permanent(
                    "a webhook event names neither scheduleId nor taskId",
                ));
            }
        };
        let occurred_at = event.occurred_at.unwrap_or_else(|| self.app.now());
        let queued = self
            .app
            .queue_webhook(
                tx,
                WebhookEvent {
                    owner: MemberId(head.owner_id),
                    kind,
                    event_id: &event.id,
                    subject,
                    position: version.unwrap_or(0),
                    occurred_at,
                    data: &event.payload,
                },
            )
            .await?;
        Ok(queued)
    }
}

impl Handler for WebhookEventHandler {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        self.apply(tx, event).await.map(|_| ())
    }
}

impl Notifications {
    /// The consumers over this context's database, for a transport to run — the five schedule-event consumers
    /// (one per event) and the webhook consumer: `InProcessBus::subscribe` in `pinit serve`,
    /// `AmqpConsumer::new(url, inbox).run(stop)` otherwise.
    pub fn consumers(&self, config: &ConsumerConfig) -> Vec<Inbox> {
        let mut consumers: Vec<Inbox> = ScheduleChange::ALL
            .into_iter()
            .map(|change| self.consumer(change, change.subscription(), config))
            .collect();
        consumers.push(self.webhook_consumer(webhook_subscription(), config));
        consumers.push(
            self.member_deleted_consumer(crate::erasure::member_deleted_subscription(), config),
        );
        consumers
    }

    /// The webhook consumer with a subscription of the caller's choosing (tests use unique queue names).
    pub fn webhook_consumer(&self, subscription: Subscription, config: &ConsumerConfig) -> Inbox {
        self.inbox(subscription, WebhookEventHandler::new(self.clone()), config)
    }

    /// A consumer of this context's database and clock.
    pub(crate) fn inbox(
        &self,
        subscription: Subscription,
        handler: impl Handler,
        config: &ConsumerConfig,
    ) -> Inbox {
        Inbox::new(
            subscription,
            self.db().clone(),
            self.inner.clock.clone(),
            handler,
            config.clone(),
        )
    }

    /// One consumer with a subscription of the caller's choosing (tests use unique queue names).
    pub fn consumer(
        &self,
        change: ScheduleChange,
        subscription: Subscription,
        config: &ConsumerConfig,
    ) -> Inbox {
        self.inbox(
            subscription,
            ScheduleEventHandler::new(self.clone(), change),
            config,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/messaging.md names every queue this context consumes from, as declared (operators look for them).
    #[test]
    fn the_messaging_doc_names_every_queue() {
        let doc = include_str!("../../../docs/messaging.md");
        for change in ScheduleChange::ALL {
            let channel = change.channel();
            let row = format!(
                "| `{}` | notification | `{}` / `{}` |",
                change.queue(),
                channel.exchange,
                channel.routing_key
            );
            assert!(doc.contains(&row), "docs/messaging.md lacks the row {row}");
        }
        let bound: Vec<String> = WEBHOOK_CHANNELS
            .iter()
            .map(|c| format!("`{}` / `{}`", c.exchange, c.routing_key))
            .collect();
        let row = format!(
            "| `{WEBHOOK_QUEUE}` | notification | {} |",
            bound.join(", ")
        );
        assert!(doc.contains(&row), "docs/messaging.md lacks the row {row}");
    }
}
