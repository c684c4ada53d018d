//! A member's reminder settings and actions: quiet hours (`GET/PUT /v0/push/quiet-hours`) and snoozing a
//! reminder from a device (`POST /v0/push/reminders/{key}/snooze`).
//!
//! A snooze arms one more notification for the same schedule and start — the next snooze slot of the one the
//! device showed ([`ReminderKey::snoozed`]), due `minutes` from now — with the same guarantees as every other:
//! sent once, and not at all when the schedule has started by then (the dispatcher's re-check). Snoozing the
//! same notification again re-times that one snooze instead of adding another.

use jiff::Timestamp;
use pinit_kernel::DEFAULT_ZONE;
use pinit_kernel::db::DbError;

use super::{Missing, NotificationError, Notifications};
use crate::domain::reminder::{self, SNOOZE_MINUTES};
use crate::domain::{
    Arm, Invalid, MemberId, NotificationKey, QuietHours, QuietHoursInput, ReminderKey, ScheduleKey,
    later,
};
use crate::store;

/// A snooze armed: the key its push will carry, and when it is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snoozed {
    pub key: NotificationKey,
    pub due_at: Timestamp,
}

impl Notifications {
    /// The member's quiet hours (off, 22:00–07:00 in the default zone, until they set them).
    pub async fn quiet_hours(&self, member: MemberId) -> Result<QuietHours, NotificationError> {
        let mut conn = self.inner.db.conn().await?;
        Ok(store::quiet_hours::get(&mut conn, member)
            .await?
            .unwrap_or_else(|| QuietHours::off(DEFAULT_ZONE)))
    }

    /// Sets the member's quiet hours; applies to every notification not yet sent.
    pub async fn set_quiet_hours(
        &self,
        member: MemberId,
        input: QuietHoursInput,
    ) -> Result<QuietHours, NotificationError> {
        let quiet = QuietHours::new(input).map_err(NotificationError::Invalid)?;
        let mut tx = self.begin_for(member).await?;
        store::quiet_hours::put(&mut tx, member, &quiet, self.now()).await?;
        tx.commit().await.map_err(DbError::from)?;
        // Something held may now be due (the window shrank or was switched off).
        self.inner.signal.wake();
        Ok(quiet)
    }

    /// Snoozes the member's notification `key` for `minutes`.
    pub async fn snooze(
        &self,
        member: MemberId,
        key: &str,
        minutes: Option<i64>,
    ) -> Result<Snoozed, NotificationError> {
        let wait = minutes.and_then(reminder::snooze_for).ok_or_else(|| {
            NotificationError::Invalid(vec![
                Invalid::new(
                    "minutes",
                    minutes.map_or(serde_json::Value::Null, serde_json::Value::from),
                    format!(
                        "whole minutes from {} to {}",
                        SNOOZE_MINUTES.start(),
                        SNOOZE_MINUTES.end()
                    ),
                )
                .coded("SNOOZE_MINUTES"),
            ])
        })?;
        let parsed =
            ReminderKey::parse(key).ok_or(NotificationError::NotFound(Missing::Reminder))?;
        let key = NotificationKey::from(key);
        let db = &self.inner.db;
        let now = self.now();
        let mut tx = self.begin_for(member).await?;
        // Sent (its outcome is recorded) or still being sent (some device waits for a retry).
        let found = match store::outcomes::by_key(&mut tx, &key).await? {
            Some(o) => Some((o.schedule_id, o.owner_id, o.start_at)),
            None => store::upcoming::by_key(&mut tx, &key)
                .await?
                .map(|u| (u.schedule_id, u.owner_id, u.start_at)),
        };
        let Some((schedule_id, owner_id, start_at)) = found.filter(|f| f.1 == member) else {
            return Err(NotificationError::NotFound(Missing::Reminder));
        };
        let watermark = store::watermarks::lock(&mut tx, db.backend(), schedule_id, now).await?;
        if watermark.deleted {
            return Err(NotificationError::NotFound(Missing::Schedule));
        }
        let next = parsed.snoozed();
        let due = later(now, wait);
        let arm = Arm {
            schedule: ScheduleKey {
                schedule_id,
                owner_id,
            },
            title: String::new(),
            start_at,
            slot: next.slot,
            resolved: true,
            idempotent_key: next.key(),
            due,
        };
        store::upcoming::arm(&mut tx, &arm, now).await?;
        super::arming::announce_armed(&mut tx, db.backend()).await?;
        tx.commit().await.map_err(DbError::from)?;
        self.inner.signal.wake();
        metrics::counter!("pinit_push_snoozes_total").increment(1);
        tracing::info!(%schedule_id, key = %arm.idempotent_key, due = %due, "reminder snoozed");
        Ok(Snoozed {
            key: arm.idempotent_key,
            due_at: due,
        })
    }
}
