//! Arming: how schedule events keep each schedule's one pending notification ("your schedule is starting").
//!
//! * `schedule.time.upcoming.updated` arms it at the new start (or moves it there); a start already past the
//!   grace window, or the very start whose notification already went out, disarms it instead.
//! * `schedule.state.started`, `…completed` and `schedule.deleted` disarm it.
//! * `schedule.state.canceled` makes the schedule NOT_STARTED again: it is armed again at the start the task
//!   service reports — unresolved, due at once, when the task service cannot answer (the dispatcher confirms
//!   the start before it sends).
//!
//! Events of one schedule arrive on five queues, so they can overtake each other. A per-schedule
//! [`Watermark`] (newest aggregate version, else `occurredAt`; a deleted schedule stays deleted; the start
//! that last fired) makes a late or repeated event change nothing.

use std::time::Duration;

use jiff::Timestamp;

use super::message::same_start;
use super::schedule::{ScheduleBasics, ScheduleKey};
use super::{MemberId, NotificationKey, ScheduleId, later};

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
    /// Every consumed event, in the AsyncAPI document's order.
    pub const ALL: [ScheduleChange; 5] = [
        ScheduleChange::UpcomingUpdated,
        ScheduleChange::Deleted,
        ScheduleChange::Started,
        ScheduleChange::Canceled,
        ScheduleChange::Completed,
    ];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            ScheduleChange::UpcomingUpdated => "upcoming_updated",
            ScheduleChange::Started => "started",
            ScheduleChange::Completed => "completed",
            ScheduleChange::Deleted => "deleted",
            ScheduleChange::Canceled => "canceled",
        }
    }

    /// Why a pending notification is dropped on this event (what its retrying devices record).
    fn stop_reason(self) -> &'static str {
        match self {
            ScheduleChange::Started => "the schedule started",
            ScheduleChange::Completed => "the schedule was completed",
            ScheduleChange::Deleted => "the schedule was deleted",
            _ => "superseded",
        }
    }
}

/// A schedule event as this context reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleEvent {
    pub change: ScheduleChange,
    pub schedule: ScheduleKey,
    /// The event id: the key of a notification this event arms (it travels as `idempotentKey`).
    pub id: NotificationKey,
    /// The aggregate version after the change (our producers send it; the reference's do not).
    pub version: Option<i64>,
    pub occurred_at: Option<Timestamp>,
    /// `newUpcomingTime` of `schedule.time.upcoming.updated`.
    pub new_start: Option<Timestamp>,
}

/// The pending notification of a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upcoming {
    pub schedule_id: ScheduleId,
    pub owner_id: MemberId,
    pub title: String,
    /// The start it announces.
    pub start_at: Timestamp,
    /// False while the start is not confirmed (re-armed while the task service did not answer).
    pub resolved: bool,
    /// The event id that armed it: the same on every send of it.
    pub idempotent_key: NotificationKey,
    /// When a dispatcher should look at it next: the start, or a retry.
    pub next_attempt_at: Timestamp,
    /// Claims so far.
    pub attempts: i64,
    /// The dispatcher holding a claim on it, if any.
    pub lease_owner: Option<String>,
}

/// The newest event applied to a schedule, and what it left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Watermark {
    pub version: Option<i64>,
    pub occurred_at: Option<Timestamp>,
    pub deleted: bool,
    /// The start of the last notification that went out (or was dropped as too late).
    pub fired_start_at: Option<Timestamp>,
}

impl Watermark {
    /// Whether an event is at least as new as what was applied: by aggregate version when both have one, else
    /// by `occurredAt` when both have one, else yes.
    pub fn admits(&self, version: Option<i64>, occurred_at: Option<Timestamp>) -> bool {
        match (self.version, version) {
            (Some(applied), Some(new)) => new >= applied,
            _ => match (self.occurred_at, occurred_at) {
                (Some(applied), Some(new)) => new >= applied,
                _ => true,
            },
        }
    }

    /// Takes `event` in if it applies (returns whether it does): not older than what was applied, and not
    /// about a deleted schedule unless it is the deletion again.
    pub fn admit(&mut self, event: &ScheduleEvent) -> bool {
        if !self.admits(event.version, event.occurred_at)
            || (self.deleted && event.change != ScheduleChange::Deleted)
        {
            return false;
        }
        self.version = newest(self.version, event.version);
        self.occurred_at = newest(self.occurred_at, event.occurred_at);
        if event.change == ScheduleChange::Deleted {
            self.deleted = true;
        }
        true
    }

    /// Whether the notification for `start` already went out.
    pub fn fired(&self, start: Timestamp) -> bool {
        self.fired_start_at.is_some_and(|f| same_start(f, start))
    }
}

fn newest<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// A start too old to notify about: beyond the grace window, or the very start that already fired.
pub fn too_late(start: Timestamp, watermark: &Watermark, now: Timestamp, grace: Duration) -> bool {
    watermark.fired(start) || later(start, grace) < now
}

/// What an event did (logs, metrics, tests).
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

impl Applied {
    /// The metric label.
    pub fn label(self) -> &'static str {
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

    /// Whether a notification is now due at a new time (the dispatcher should look again).
    pub fn armed(self) -> bool {
        matches!(
            self,
            Applied::Armed | Applied::Moved | Applied::ArmedUnresolved
        )
    }
}

/// Arm (or re-arm) a schedule's notification: due at `due`, keyed by the arming event, no claim, no attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arm {
    pub schedule: ScheduleKey,
    /// `""` keeps the title stored with the pending notification (events carry none).
    pub title: String,
    pub start_at: Timestamp,
    pub resolved: bool,
    pub idempotent_key: NotificationKey,
    pub due: Timestamp,
    /// The pending notification this one replaces: its devices waiting for a retry give up ("moved").
    pub supersedes: Option<NotificationKey>,
}

/// What to do with a schedule's pending notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arming {
    Arm(Arm),
    /// Remove the pending notification, if there is one; its devices waiting for a retry give up with `reason`.
    Disarm {
        reason: &'static str,
    },
    Keep,
}

/// The decision for one event: what to do, and what to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub arming: Arming,
    applied: Applied,
}

impl Decision {
    fn new(arming: Arming, applied: Applied) -> Self {
        Self { arming, applied }
    }

    /// What the event did, once the store says whether a disarm removed a pending notification (a stop event
    /// that found none changed nothing).
    pub fn applied(&self, removed: bool) -> Applied {
        match (self.applied, removed) {
            (Applied::Removed, false) => Applied::Unchanged,
            (applied, _) => applied,
        }
    }
}

/// `schedule.time.upcoming.updated` with the new `start`.
pub fn on_upcoming(
    event: &ScheduleEvent,
    start: Timestamp,
    pending: Option<&Upcoming>,
    watermark: &Watermark,
    now: Timestamp,
    grace: Duration,
) -> Decision {
    if too_late(start, watermark, now, grace) {
        // Moved into the past (beyond the grace window), or re-announcing a start that already fired.
        return Decision::new(
            Arming::Disarm {
                reason: "moved into the past",
            },
            Applied::TooLate,
        );
    }
    if let Some(p) = pending
        && p.resolved
        && same_start(p.start_at, start)
    {
        return Decision::new(Arming::Keep, Applied::Unchanged);
    }
    let arm = Arm {
        schedule: event.schedule,
        title: String::new(),
        start_at: start,
        resolved: true,
        idempotent_key: event.id.clone(),
        due: start,
        supersedes: pending
            .map(|p| p.idempotent_key.clone())
            .filter(|key| *key != event.id),
    };
    let applied = if pending.is_some() {
        Applied::Moved
    } else {
        Applied::Armed
    };
    Decision::new(Arming::Arm(arm), applied)
}

/// `schedule.state.started`, `…completed`, `schedule.deleted`: no notification for this schedule.
pub fn on_stop(change: ScheduleChange) -> Decision {
    Decision::new(
        Arming::Disarm {
            reason: change.stop_reason(),
        },
        Applied::Removed,
    )
}

/// What the task service said about a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(ScheduleBasics),
    Missing,
    /// It did not answer.
    Failed,
}

/// `schedule.state.canceled`: the schedule is NOT_STARTED again. A pending notification stays as it is;
/// `None` when there is none: then the task service is asked where the schedule starts, and [`rearm`] decides.
pub fn on_canceled(pending: Option<&Upcoming>) -> Option<Decision> {
    pending.map(|_| Decision::new(Arming::Keep, Applied::Unchanged))
}

/// Re-arms a canceled schedule's notification from what the task service said (`lookup`).
pub fn rearm(
    event: &ScheduleEvent,
    lookup: Lookup,
    watermark: &Watermark,
    now: Timestamp,
    grace: Duration,
) -> Decision {
    let arm = |title: String, start_at: Timestamp, resolved: bool| Arm {
        schedule: event.schedule,
        title,
        start_at,
        resolved,
        idempotent_key: event.id.clone(),
        due: start_at,
        supersedes: None,
    };
    match lookup {
        Lookup::Found(basics) if too_late(basics.start_time, watermark, now, grace) => {
            Decision::new(Arming::Keep, Applied::TooLate)
        }
        Lookup::Found(basics) => Decision::new(
            Arming::Arm(arm(basics.title, basics.start_time, true)),
            Applied::Armed,
        ),
        Lookup::Missing => Decision::new(Arming::Keep, Applied::Gone),
        // Do not hold the event (and its transaction) hostage to the task service: arm it unresolved, due now;
        // the dispatcher confirms the start time with its batch look-up and re-times it.
        Lookup::Failed => Decision::new(
            Arming::Arm(arm(String::new(), now, false)),
            Applied::ArmedUnresolved,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn event(change: ScheduleChange, id: &str) -> ScheduleEvent {
        ScheduleEvent {
            change,
            schedule: ScheduleKey {
                schedule_id: ScheduleId(7),
                owner_id: MemberId(3),
            },
            id: NotificationKey::from(id),
            version: None,
            occurred_at: None,
            new_start: None,
        }
    }

    fn pending(start: Timestamp, key: &str) -> Upcoming {
        Upcoming {
            schedule_id: ScheduleId(7),
            owner_id: MemberId(3),
            title: "t".into(),
            start_at: start,
            resolved: true,
            idempotent_key: NotificationKey::from(key),
            next_attempt_at: start,
            attempts: 0,
            lease_owner: None,
        }
    }

    const GRACE: Duration = Duration::from_secs(600);

    #[test]
    fn versions_decide_and_times_stand_in_for_missing_versions() {
        let wm = Watermark {
            version: Some(5),
            occurred_at: Some(Timestamp::from_microsecond(1_000).unwrap()),
            ..Watermark::default()
        };
        let us = |n| Some(Timestamp::from_microsecond(n).unwrap());
        assert!(
            wm.admits(Some(5), us(0)),
            "equal versions are the same change"
        );
        assert!(wm.admits(Some(6), us(0)));
        assert!(
            !wm.admits(Some(4), us(9_000)),
            "the version wins over the time"
        );
        assert!(wm.admits(None, us(1_000)));
        assert!(!wm.admits(None, us(999)));
        assert!(wm.admits(None, None));
        assert!(Watermark::default().admits(Some(1), None));
    }

    #[test]
    fn a_deleted_schedule_admits_only_its_deletion() {
        let mut wm = Watermark::default();
        assert!(wm.admit(&event(ScheduleChange::Deleted, "d")));
        assert!(wm.deleted);
        assert!(!wm.admit(&event(ScheduleChange::UpcomingUpdated, "u")));
        assert!(!wm.admit(&event(ScheduleChange::Canceled, "c")));
        assert!(wm.admit(&event(ScheduleChange::Deleted, "d2")));
    }

    #[test]
    fn upcoming_arms_moves_keeps_or_drops() {
        let now = at("2026-02-08T00:00:00Z");
        let start = at("2026-02-08T01:00:00Z");
        let e = event(ScheduleChange::UpcomingUpdated, "e2");
        let wm = Watermark::default();
        let d = on_upcoming(&e, start, None, &wm, now, GRACE);
        assert_eq!(d.applied(false), Applied::Armed);
        let Arming::Arm(arm) = &d.arming else {
            panic!("{d:?}")
        };
        assert_eq!((arm.start_at, arm.due, arm.resolved), (start, start, true));
        assert_eq!(arm.supersedes, None);

        // The same start again: nothing to do. Another start: moved, the old key's retries give up.
        let same = pending(start, "e1");
        assert_eq!(
            on_upcoming(&e, start, Some(&same), &wm, now, GRACE).arming,
            Arming::Keep
        );
        let moved = on_upcoming(
            &e,
            start + jiff::SignedDuration::from_hours(1),
            Some(&same),
            &wm,
            now,
            GRACE,
        );
        assert_eq!(moved.applied(false), Applied::Moved);
        let Arming::Arm(arm) = moved.arming else {
            panic!()
        };
        assert_eq!(arm.supersedes, Some(NotificationKey::from("e1")));

        // Past the grace window, or the start that already fired: disarm.
        let past = on_upcoming(
            &e,
            now - jiff::SignedDuration::from_mins(11),
            None,
            &wm,
            now,
            GRACE,
        );
        assert_eq!(past.applied(false), Applied::TooLate);
        let fired = Watermark {
            fired_start_at: Some(start),
            ..wm
        };
        assert!(matches!(
            on_upcoming(&e, start, None, &fired, now, GRACE).arming,
            Arming::Disarm { .. }
        ));
    }

    #[test]
    fn stop_events_remove_and_report_what_was_there() {
        let d = on_stop(ScheduleChange::Started);
        assert_eq!(
            d.arming,
            Arming::Disarm {
                reason: "the schedule started"
            }
        );
        assert_eq!(d.applied(true), Applied::Removed);
        assert_eq!(d.applied(false), Applied::Unchanged);
    }

    #[test]
    fn a_cancel_re_arms_from_the_task_service_or_unresolved() {
        let now = at("2026-02-08T00:00:00Z");
        let start = at("2026-02-08T01:00:00Z");
        let e = event(ScheduleChange::Canceled, "c");
        let wm = Watermark::default();
        let basics = ScheduleBasics {
            schedule_id: ScheduleId(7),
            owner_id: MemberId(3),
            title: "딥 워크".into(),
            start_time: start,
        };
        assert_eq!(
            on_canceled(None),
            None,
            "nothing pending: ask the task service"
        );
        let found = rearm(&e, Lookup::Found(basics.clone()), &wm, now, GRACE);
        assert_eq!(found.applied(false), Applied::Armed);
        let Arming::Arm(arm) = found.arming else {
            panic!()
        };
        assert_eq!(
            (arm.title.as_str(), arm.start_at, arm.resolved),
            ("딥 워크", start, true)
        );
        let failed = rearm(&e, Lookup::Failed, &wm, now, GRACE);
        assert_eq!(failed.applied(false), Applied::ArmedUnresolved);
        let Arming::Arm(arm) = failed.arming else {
            panic!()
        };
        assert_eq!((arm.due, arm.resolved), (now, false));
        assert_eq!(
            rearm(&e, Lookup::Missing, &wm, now, GRACE).applied(false),
            Applied::Gone
        );
        let p = pending(start, "u");
        assert_eq!(on_canceled(Some(&p)).map(|d| d.arming), Some(Arming::Keep));
    }
}
