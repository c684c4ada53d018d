//! The notification context's use cases: subscriptions (HTTP) and the upcoming notification of each schedule
//! (events). Each is one short transaction; the only remote call (re-arming on cancel) has a deadline.

use std::sync::Arc;

use jiff::Timestamp;
use pinit_kernel::db::{Backend, Db, DbError, Tx};
use pinit_kernel::{SharedClock, WakeSignal};
use pinit_messaging::{HandlerError, IncomingEvent};

use crate::directory::{DirectoryError, ScheduleDirectory, ScheduleKey};
use crate::domain::{self, DeviceId, Invalid, PushTarget};
use crate::push::guard::EndpointPolicy;
use crate::settings::Settings;
use crate::store::{self, Watermark};
use crate::vapid::VapidKey;

/// The PostgreSQL `NOTIFY` channel a consumer announces a newly armed notification on (delivered at commit,
/// to every replica's dispatcher).
pub const NOTIFY_CHANNEL: &str = "pinit_push_armed";

/// Why a use case refused or failed. [`crate::http`] maps each to a status.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("invalid input")]
    Invalid(Vec<Invalid>),
    #[error(transparent)]
    Db(#[from] DbError),
}

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

/// The notification context's services, shared by routes, consumers and the dispatcher.
#[derive(Clone)]
pub struct Notifications {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) db: Db,
    pub(crate) clock: SharedClock,
    pub(crate) settings: Settings,
    pub(crate) vapid: VapidKey,
    pub(crate) vapid_public: String,
    pub(crate) policy: EndpointPolicy,
    pub(crate) directory: Arc<dyn ScheduleDirectory>,
    pub(crate) signal: WakeSignal,
}

/// What an event did (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Armed,
    Moved,
    Unchanged,
    Removed,
    /// Re-armed without a confirmed start time (the task service did not answer); the dispatcher asks again.
    ArmedUnresolved,
    /// Older than what was already applied to the schedule, or about a deleted schedule.
    Stale,
    /// The start is already past the grace window, or its notification already went out.
    TooLate,
    /// The schedule does not exist (any more).
    Gone,
}

impl Notifications {
    /// The context's services. The Web Push endpoint policy follows `settings.allow_insecure_endpoints`.
    pub fn new(
        db: Db,
        clock: SharedClock,
        settings: Settings,
        vapid: VapidKey,
        directory: Arc<dyn ScheduleDirectory>,
    ) -> Self {
        let policy = EndpointPolicy::from_settings(settings.allow_insecure_endpoints);
        let vapid_public = vapid.public_key_base64url();
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                settings,
                vapid,
                vapid_public,
                policy,
                directory,
                signal: WakeSignal::new(),
            }),
        }
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub fn policy(&self) -> EndpointPolicy {
        self.inner.policy
    }

    /// Wakes the dispatcher when a notification was armed or moved (it then looks at the database again).
    pub fn signal(&self) -> WakeSignal {
        self.inner.signal.clone()
    }

    /// The VAPID public key in the browser's format (`applicationServerKey`).
    pub fn vapid_public_key(&self) -> &str {
        &self.inner.vapid_public
    }

    fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    // --------------------------------------------------------------------------------------------------------
    // Subscriptions
    // --------------------------------------------------------------------------------------------------------

    /// Stores the device's subscription (FCM token or Web Push), replacing the device's previous one.
    pub async fn subscribe(
        &self,
        member_id: i64,
        input: SubscribeInput,
    ) -> Result<(), NotificationError> {
        let mut problems = Vec::new();
        let device = DeviceId::parse(input.device_id.as_deref()).map_err(|e| problems.push(e));
        let target = match (input.token.as_deref(), &input.subscription) {
            (Some(_), Some(_)) => {
                problems.push(Invalid {
                    field: "token",
                    value: serde_json::Value::Null,
                    reason: "give either `token` (FCM) or `subscription` (Web Push), not both"
                        .into(),
                });
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
                problems.push(Invalid {
                    field: "token",
                    value: serde_json::Value::Null,
                    reason: "`token` (FCM) or `subscription` (Web Push) is required".into(),
                });
                None
            }
        };
        let (Ok(device), Some(target), true) = (device, target, problems.is_empty()) else {
            return Err(NotificationError::Invalid(problems));
        };
        let now = self.now().as_microsecond();
        let mut tx = self.inner.db.begin().await?;
        let moved = store::upsert_subscription(&mut tx, member_id, &device, &target, now).await?;
        tx.commit().await.map_err(DbError::from)?;
        if moved > 0 {
            tracing::info!(
                member_id,
                device = device.as_str(),
                "push subscription moved from another device or member"
            );
        }
        metrics::counter!("pinit_push_subscriptions_saved_total", "kind" => target.kind())
            .increment(1);
        Ok(())
    }

    /// Deletes the device's subscription (a missing one is fine).
    pub async fn unsubscribe(
        &self,
        member_id: i64,
        device_id: Option<&str>,
    ) -> Result<(), NotificationError> {
        let device = DeviceId::parse(device_id).map_err(|e| NotificationError::Invalid(vec![e]))?;
        let mut conn = self
            .inner
            .db
            .pool()
            .acquire()
            .await
            .map_err(DbError::from)?;
        store::delete_subscription(&mut conn, member_id, device.as_str()).await?;
        Ok(())
    }

    pub async fn is_subscribed(
        &self,
        member_id: i64,
        device_id: Option<&str>,
    ) -> Result<bool, NotificationError> {
        let device = DeviceId::parse(device_id).map_err(|e| NotificationError::Invalid(vec![e]))?;
        let mut conn = self
            .inner
            .db
            .pool()
            .acquire()
            .await
            .map_err(DbError::from)?;
        Ok(store::is_subscribed(&mut conn, member_id, device.as_str()).await?)
    }

    // --------------------------------------------------------------------------------------------------------
    // Events
    // --------------------------------------------------------------------------------------------------------

    /// Applies one schedule event inside the consumer's transaction.
    pub(crate) async fn apply(
        &self,
        tx: &mut Tx,
        change: ScheduleChange,
        event: &IncomingEvent,
    ) -> Result<Applied, HandlerError> {
        let head: EventHead = event.decode()?;
        let version = event
            .aggregate
            .as_ref()
            .and_then(|a| a.version)
            .or(head.aggregate_version);
        let occurred = event.occurred_at.map(|t| t.as_microsecond());
        let db = &self.inner.db;
        let now = self.now();
        let now_us = now.as_microsecond();
        let mut wm = store::lock_watermark(tx, db.backend(), head.schedule_id, now_us).await?;
        if !admits(&wm, version, occurred) || (wm.deleted && change != ScheduleChange::Deleted) {
            tracing::info!(schedule_id = head.schedule_id, event_id = %event.id, ?change, ?version, "stale schedule event skipped");
            return Ok(Applied::Stale);
        }
        wm.version = max_opt(wm.version, version);
        wm.occurred_at_us = max_opt(wm.occurred_at_us, occurred);
        let key = ScheduleKey {
            schedule_id: head.schedule_id,
            owner_id: head.owner_id,
        };
        let applied = match change {
            ScheduleChange::UpcomingUpdated => {
                let start = head.new_upcoming_time.ok_or_else(|| {
                    HandlerError::permanent(
                        "schedule.time.upcoming.updated without newUpcomingTime",
                    )
                })?;
                self.upcoming(tx, key, start, &event.id, &wm, now).await?
            }
            ScheduleChange::Started | ScheduleChange::Completed | ScheduleChange::Deleted => {
                if change == ScheduleChange::Deleted {
                    wm.deleted = true;
                }
                match store::disarm(tx, key.schedule_id).await? {
                    Some(old) => {
                        store::abandon_retries(tx, &old, change.reason(), now_us).await?;
                        Applied::Removed
                    }
                    None => Applied::Unchanged,
                }
            }
            ScheduleChange::Canceled => self.rearm(tx, key, &event.id, &wm, now).await?,
        };
        store::save_watermark(tx, key.schedule_id, &wm, now_us).await?;
        if matches!(
            applied,
            Applied::Armed | Applied::Moved | Applied::ArmedUnresolved
        ) {
            if db.backend() == Backend::Postgres {
                sqlx::query("SELECT pg_notify($1, '')")
                    .bind(NOTIFY_CHANNEL)
                    .execute(&mut **tx)
                    .await?;
            }
            self.inner.signal.wake();
        }
        metrics::counter!("pinit_notification_events_total", "event" => change.label(), "applied" => applied.label())
            .increment(1);
        tracing::debug!(schedule_id = key.schedule_id, event_id = %event.id, ?change, ?applied, "schedule event applied");
        Ok(applied)
    }

    async fn upcoming(
        &self,
        tx: &mut Tx,
        key: ScheduleKey,
        start: Timestamp,
        event_id: &str,
        wm: &Watermark,
        now: Timestamp,
    ) -> Result<Applied, HandlerError> {
        let now_us = now.as_microsecond();
        let existing = store::notification_of(tx, key.schedule_id).await?;
        if self.too_late(start, wm, now) {
            // Moved into the past (beyond the grace window), or re-announcing a start that already fired.
            if let Some(old) = store::disarm(tx, key.schedule_id).await? {
                store::abandon_retries(tx, &old, "moved into the past", now_us).await?;
            }
            return Ok(Applied::TooLate);
        }
        if let Some(row) = &existing
            && row.resolved
            && domain::same_start(
                Timestamp::from_microsecond(row.start_at_us).unwrap_or(start),
                start,
            )
        {
            return Ok(Applied::Unchanged);
        }
        let start_us = start.as_microsecond();
        store::arm(
            tx,
            key.schedule_id,
            key.owner_id,
            "",
            start_us,
            true,
            event_id,
            start_us,
            now_us,
        )
        .await?;
        match existing {
            Some(row) => {
                if row.idempotent_key != event_id {
                    store::abandon_retries(tx, &row.idempotent_key, "moved", now_us).await?;
                }
                Ok(Applied::Moved)
            }
            None => Ok(Applied::Armed),
        }
    }

    /// `schedule.state.canceled`: the schedule is NOT_STARTED again; arm its notification unless one is pending.
    async fn rearm(
        &self,
        tx: &mut Tx,
        key: ScheduleKey,
        event_id: &str,
        wm: &Watermark,
        now: Timestamp,
    ) -> Result<Applied, HandlerError> {
        let now_us = now.as_microsecond();
        if store::notification_of(tx, key.schedule_id).await?.is_some() {
            return Ok(Applied::Unchanged);
        }
        match self.inner.directory.basics(key).await {
            Ok(Some(basics)) => {
                if self.too_late(basics.start_time, wm, now) {
                    return Ok(Applied::TooLate);
                }
                let start_us = basics.start_time.as_microsecond();
                store::arm(
                    tx,
                    key.schedule_id,
                    key.owner_id,
                    &basics.title,
                    start_us,
                    true,
                    event_id,
                    start_us,
                    now_us,
                )
                .await?;
                Ok(Applied::Armed)
            }
            Ok(None) => Ok(Applied::Gone),
            Err(e) => {
                // Do not hold the event (and its transaction) hostage to the task service: arm it unresolved,
                // due now; the dispatcher confirms the start time with its batch look-up and re-times it.
                tracing::warn!(schedule_id = key.schedule_id, error = %e, "schedule look-up failed; re-arming unresolved");
                if let DirectoryError::Refused(reason) = &e {
                    tracing::warn!(
                        schedule_id = key.schedule_id,
                        reason,
                        "the task service refused the look-up"
                    );
                }
                store::arm(
                    tx,
                    key.schedule_id,
                    key.owner_id,
                    "",
                    now_us,
                    false,
                    event_id,
                    now_us,
                    now_us,
                )
                .await?;
                Ok(Applied::ArmedUnresolved)
            }
        }
    }

    /// A start too old to notify about: beyond the grace window, or the very start that already fired.
    fn too_late(&self, start: Timestamp, wm: &Watermark, now: Timestamp) -> bool {
        let start_us = start.as_microsecond();
        let fired = wm.fired_start_at_us.is_some_and(|f| {
            Timestamp::from_microsecond(f).is_ok_and(|f| domain::same_start(f, start))
        });
        fired || start_us.saturating_add(self.inner.settings.grace_us()) < now.as_microsecond()
    }

    // --------------------------------------------------------------------------------------------------------
    // Housekeeping
    // --------------------------------------------------------------------------------------------------------

    /// Prunes idle subscriptions and old records; returns how many rows went.
    pub async fn prune(&self) -> Result<u64, DbError> {
        let now = self.now().as_microsecond();
        let s = &self.inner.settings;
        let mut conn = self.inner.db.pool().acquire().await?;
        let idle = store::prune_idle_subscriptions(
            &mut conn,
            now.saturating_sub(crate::settings::micros(s.subscription_max_idle.get())),
        )
        .await?;
        if idle > 0 {
            tracing::info!(removed = idle, "idle push subscriptions pruned");
            metrics::counter!("pinit_push_subscriptions_pruned_total").increment(idle);
        }
        let records = store::prune_records(
            &mut conn,
            now.saturating_sub(crate::settings::micros(s.record_retention.get())),
        )
        .await?;
        Ok(idle + records)
    }

    /// Runs [`Notifications::prune`] every `housekeeping_interval` until `stop`.
    pub async fn run_housekeeping(
        self,
        stop: tokio_util::sync::CancellationToken,
    ) -> Result<(), std::convert::Infallible> {
        let mut every = tokio::time::interval(self.inner.settings.housekeeping_interval.get());
        loop {
            tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                _ = every.tick() => {
                    if let Err(e) = self.prune().await {
                        tracing::warn!(error = %e, "notification housekeeping failed");
                    }
                }
            }
        }
    }
}

/// Which schedule event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScheduleChange {
    UpcomingUpdated,
    Started,
    Completed,
    Deleted,
    Canceled,
}

impl ScheduleChange {
    pub fn label(self) -> &'static str {
        match self {
            ScheduleChange::UpcomingUpdated => "upcoming_updated",
            ScheduleChange::Started => "started",
            ScheduleChange::Completed => "completed",
            ScheduleChange::Deleted => "deleted",
            ScheduleChange::Canceled => "canceled",
        }
    }

    fn reason(self) -> &'static str {
        match self {
            ScheduleChange::Started => "the schedule started",
            ScheduleChange::Completed => "the schedule was completed",
            ScheduleChange::Deleted => "the schedule was deleted",
            _ => "superseded",
        }
    }
}

impl Applied {
    fn label(self) -> &'static str {
        match self {
            Applied::Armed => "armed",
            Applied::Moved => "moved",
            Applied::Unchanged => "unchanged",
            Applied::Removed => "removed",
            Applied::ArmedUnresolved => "armed_unresolved",
            Applied::Stale => "stale",
            Applied::TooLate => "too_late",
            Applied::Gone => "gone",
        }
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
}

fn optional_instant<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    let text: Option<String> = serde::Deserialize::deserialize(d)?;
    text.map(|t| pinit_contracts::events::instant::parse(&t).map_err(serde::de::Error::custom))
        .transpose()
}

/// Whether an event is at least as new as what was applied: by aggregate version when both have one, else by
/// `occurredAt` when both have one, else yes.
pub(crate) fn admits(wm: &Watermark, version: Option<i64>, occurred_us: Option<i64>) -> bool {
    match (wm.version, version) {
        (Some(applied), Some(new)) => new >= applied,
        _ => match (wm.occurred_at_us, occurred_us) {
            (Some(applied), Some(new)) => new >= applied,
            _ => true,
        },
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_decide_and_times_stand_in_for_missing_versions() {
        let wm = Watermark {
            version: Some(5),
            occurred_at_us: Some(1_000),
            ..Watermark::default()
        };
        assert!(
            admits(&wm, Some(5), Some(0)),
            "equal versions are the same change"
        );
        assert!(admits(&wm, Some(6), Some(0)));
        assert!(
            !admits(&wm, Some(4), Some(9_000)),
            "the version wins over the time"
        );
        assert!(admits(&wm, None, Some(1_000)));
        assert!(!admits(&wm, None, Some(999)));
        assert!(admits(&wm, None, None));
        assert!(admits(&Watermark::default(), Some(1), None));
    }
}
