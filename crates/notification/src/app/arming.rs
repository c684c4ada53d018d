//! Applying a schedule event to the schedule's pending notifications, inside the consumer's transaction: lock the
//! schedule's watermark, let [`crate::domain::arming`] decide, carry the decision out, save the watermark, and
//! wake the dispatchers when something is now due at a new time.

use pinit_kernel::db::{Backend, DbError, LockMode, Tx};

use super::Notifications;
use crate::directory::DirectoryError;
use crate::domain::arming::{self, Arming, Decision, Lookup};
use crate::domain::{Applied, ScheduleChange, ScheduleEvent, Watermark};
use crate::store;

/// The PostgreSQL `NOTIFY` channel a consumer announces a newly armed notification on (delivered at commit,
/// to every replica's dispatcher).
pub const NOTIFY_CHANNEL: &str = "pinit_push_armed";

/// Why an event could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The event cannot be applied as it is (retrying cannot help).
    #[error("{0}")]
    Malformed(&'static str),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Tells every replica's dispatcher, at commit, that a notification is due at a new time (PostgreSQL
/// `NOTIFY`; on SQLite the one process's [`pinit_kernel::WakeSignal`] does it).
pub(crate) async fn announce_armed(tx: &mut Tx, backend: Backend) -> Result<(), DbError> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(NOTIFY_CHANNEL)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Counts one schedule event in `pinit_notification_events_total` — also one its inbox skipped as stale
/// before it reached [`Notifications::apply`].
pub(crate) fn count(change: ScheduleChange, applied: Applied) {
    metrics::counter!("pinit_notification_events_total", "event" => change.label(), "applied" => applied.label())
        .increment(1);
}

impl Notifications {
    /// Applies one schedule event inside the consumer's transaction and says what it did.
    pub async fn apply(&self, tx: &mut Tx, event: &ScheduleEvent) -> Result<Applied, ApplyError> {
        let db = &self.inner.db;
        let now = self.now();
        let schedule_id = event.schedule.schedule_id;
        // An event of an erased member, queued before the deletion and delivered after it: its schedule is gone
        // with the member, and nothing of it is stored again (not even a watermark).
        if store::erased::hold(tx, db.backend(), LockMode::Shared, event.schedule.owner_id).await? {
            count(event.change, Applied::Gone);
            tracing::info!(%schedule_id, event_id = %event.id, "schedule event of an erased member skipped");
            return Ok(Applied::Gone);
        }
        let mut watermark = store::watermarks::lock(tx, db.backend(), schedule_id, now).await?;
        let applied = if watermark.admit(event) {
            let decision = self.decide(tx, event, &watermark).await?;
            let applied = self.carry_out(tx, event, &decision).await?;
            store::watermarks::save(tx, schedule_id, &watermark, now).await?;
            if applied.armed() {
                announce_armed(tx, db.backend()).await?;
                self.inner.signal.wake();
            }
            applied
        } else {
            tracing::info!(%schedule_id, event_id = %event.id, change = ?event.change, version = ?event.version, "stale schedule event skipped");
            Applied::Stale
        };
        count(event.change, applied);
        tracing::debug!(%schedule_id, event_id = %event.id, change = ?event.change, ?applied, "schedule event applied");
        Ok(applied)
    }

    /// What the event means for the schedule's pending notifications (the task service is asked only to re-arm
    /// after a cancel, when nothing is pending).
    async fn decide(
        &self,
        tx: &mut Tx,
        event: &ScheduleEvent,
        watermark: &Watermark,
    ) -> Result<Decision, ApplyError> {
        let now = self.now();
        let grace = self.inner.settings.grace.get();
        let schedule_id = event.schedule.schedule_id;
        Ok(match event.change {
            ScheduleChange::UpcomingUpdated => {
                let start = event.new_start.ok_or(ApplyError::Malformed(
                    "schedule.time.upcoming.updated without newUpcomingTime",
                ))?;
                let pending = store::upcoming::of_schedule(tx, schedule_id).await?;
                let fired = store::outcomes::fired_offsets(tx, schedule_id, start).await?;
                arming::on_upcoming(event, start, &pending, &fired, now, grace)
            }
            ScheduleChange::Started | ScheduleChange::Completed | ScheduleChange::Deleted => {
                arming::on_stop(event.change)
            }
            ScheduleChange::Canceled => {
                let pending = store::upcoming::of_schedule(tx, schedule_id).await?;
                match arming::on_canceled(&pending) {
                    Some(decision) => decision,
                    None => {
                        let lookup = self.look_up(event).await;
                        let fired = match &lookup {
                            Lookup::Found(basics) => {
                                store::outcomes::fired_offsets(tx, schedule_id, basics.start_time)
                                    .await?
                            }
                            _ => Vec::new(),
                        };
                        arming::rearm(event, lookup, watermark, &fired, now, grace)
                    }
                }
            }
        })
    }

    /// The schedule as the task service reports it now.
    async fn look_up(&self, event: &ScheduleEvent) -> Lookup {
        let schedule_id = event.schedule.schedule_id;
        match self.inner.directory.basics(event.schedule).await {
            Ok(Some(basics)) => Lookup::Found(basics),
            Ok(None) => Lookup::Missing,
            Err(e) => {
                tracing::warn!(%schedule_id, error = %e, "schedule look-up failed; re-arming unresolved");
                if let DirectoryError::Refused(reason) = &e {
                    tracing::warn!(
                        %schedule_id,
                        reason,
                        "the task service refused the look-up"
                    );
                }
                Lookup::Failed
            }
        }
    }

    /// Writes the decision; returns what the event did.
    async fn carry_out(
        &self,
        tx: &mut Tx,
        event: &ScheduleEvent,
        decision: &Decision,
    ) -> Result<Applied, DbError> {
        let now = self.now();
        let schedule_id = event.schedule.schedule_id;
        match &decision.arming {
            Arming::Change {
                arm,
                remove,
                reason,
            } => {
                let mut removed = false;
                for slot in remove {
                    if let Some(old) = store::upcoming::remove(tx, schedule_id, *slot).await? {
                        store::deliveries::abandon_retries(tx, &old, reason, now).await?;
                        removed = true;
                    }
                }
                for arm in arm {
                    store::upcoming::arm(tx, arm, now).await?;
                }
                Ok(decision.applied(removed))
            }
            Arming::Disarm { reason } => {
                let removed = store::upcoming::disarm(tx, schedule_id).await?;
                for old in &removed {
                    store::deliveries::abandon_retries(tx, old, reason, now).await?;
                }
                Ok(decision.applied(!removed.is_empty()))
            }
            Arming::Keep => Ok(decision.applied(false)),
        }
    }
}
