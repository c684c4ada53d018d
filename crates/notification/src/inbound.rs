//! The schedule events the notification context consumes, each through an idempotent inbox.
//!
//! One consumer (and RabbitMQ queue) per routing key, with the reference's queue names
//! (`{routing key}.notification`), bound to `task.schedule.direct`. The inbox drops duplicates by event id and
//! stale versions per queue; because the five queues are consumed independently, the handlers also keep a
//! per-schedule watermark (newest aggregate version, else `occurredAt`; a deleted schedule stays deleted), so a
//! late `upcoming.updated` can never resurrect a started or deleted schedule's notification.

use pinit_contracts::events::{Channel, channel};
use pinit_kernel::db::Tx;
use pinit_messaging::{ConsumerConfig, Handler, HandlerError, Inbox, IncomingEvent, Subscription};

use crate::app::{Applied, Notifications, ScheduleChange};

impl ScheduleChange {
    /// Every consumed event, in the AsyncAPI document's order.
    pub const ALL: [ScheduleChange; 5] = [
        ScheduleChange::UpcomingUpdated,
        ScheduleChange::Deleted,
        ScheduleChange::Started,
        ScheduleChange::Canceled,
        ScheduleChange::Completed,
    ];

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

/// Applies one kind of schedule event to the upcoming notifications.
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
        self.app.apply(tx, self.change, event).await
    }
}

impl Handler for ScheduleEventHandler {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        self.apply(tx, event).await.map(|_| ())
    }
}

impl Notifications {
    /// The five consumers (one per schedule event) over this context's database, for a transport to run:
    /// `InProcessBus::subscribe` in `pinit serve`, `AmqpConsumer::new(url, inbox).run(stop)` otherwise.
    pub fn consumers(&self, config: &ConsumerConfig) -> Vec<Inbox> {
        ScheduleChange::ALL
            .into_iter()
            .map(|change| self.consumer(change, change.subscription(), config))
            .collect()
    }

    /// One consumer with a subscription of the caller's choosing (tests use unique queue names).
    pub fn consumer(
        &self,
        change: ScheduleChange,
        subscription: Subscription,
        config: &ConsumerConfig,
    ) -> Inbox {
        Inbox::new(
            subscription,
            self.db().clone(),
            self.inner.clock.clone(),
            ScheduleEventHandler::new(self.clone(), change),
            config.clone(),
        )
    }
}
