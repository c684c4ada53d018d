//! Arming: how schedule events keep each schedule's pending notifications — one per reminder slot
//! ([`super::reminder`]): "starts in 10 minutes", "your schedule is starting".
//!
//! * `schedule.time.upcoming.updated` arms one notification per reminder offset the event lists (the at-start
//!   push when it lists none) at start + offset, moves them when the start changed, and removes the ones whose
//!   offset left the list; an offset already past the grace window, or whose notification for this very start
//!   already went out, is not armed again.
//! * `schedule.state.started`, `…completed` and `schedule.deleted` disarm them all, snoozes included.
//! * `schedule.state.canceled` makes the schedule NOT_STARTED again: with nothing pending, the reminders of the
//!   last upcoming event are armed again at the start the task service reports — unresolved, due at once,
//!   when the task service cannot answer (the dispatcher confirms the start before it sends).
//!
//! Events of one schedule arrive on five queues, so they can overtake each other. A per-schedule
//! [`Watermark`] (newest aggregate version, else `occurredAt`; a deleted schedule stays deleted; the
//! reminders last announced) makes a late or repeated event change nothing.

use std::time::Duration;

use jiff::Timestamp;

use super::message::same_start;
use super::reminder::{Offset, ReminderKey, Slot};
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

    /// Why pending notifications are dropped on this event (what their retrying devices record).
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
    /// The event id: the root of the keys of the notifications this event arms ([`ReminderKey`]).
    pub id: NotificationKey,
    /// The aggregate version after the change (our producers send it; the reference's do not).
    pub version: Option<i64>,
    pub occurred_at: Option<Timestamp>,
    /// `newUpcomingTime` of `schedule.time.upcoming.updated`.
    pub new_start: Option<Timestamp>,
    /// The reminder offsets of `schedule.time.upcoming.updated` (the at-start push when it names none).
    pub reminders: Vec<Offset>,
}

/// A pending notification of a schedule: one reminder slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upcoming {
    pub schedule_id: ScheduleId,
    pub owner_id: MemberId,
    pub title: String,
    /// The start it announces.
    pub start_at: Timestamp,
    /// Which reminder of the schedule it is.
    pub slot: Slot,
    /// When it is meant to go out: start + offset, a snooze's end, or the end of the quiet hours holding it.
    /// The grace window runs from here.
    pub due_at: Timestamp,
    /// False while the start is not confirmed (re-armed while the task service did not answer).
    pub resolved: bool,
    /// Its key ([`ReminderKey`]): the same on every send of it.
    pub idempotent_key: NotificationKey,
    /// When a dispatcher should look at it next: `due_at`, or a retry.
    pub next_attempt_at: Timestamp,
    /// Claims so far.
    pub attempts: i64,
    /// The dispatcher holding a claim on it, if any.
    pub lease_owner: Option<String>,
}

/// The newest event applied to a schedule, and what it left behind.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Watermark {
    pub version: Option<i64>,
    pub occurred_at: Option<Timestamp>,
    pub deleted: bool,
    /// The reminder offsets the last upcoming event named (`None`: none seen; the at-start push).
    pub reminders: Option<Vec<Offset>>,
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
        match event.change {
            ScheduleChange::Deleted => self.deleted = true,
            ScheduleChange::UpcomingUpdated => self.reminders = Some(event.reminders.clone()),
            _ => {}
        }
        true
    }

    /// The reminders to arm again after a cancel.
    pub fn reminders(&self) -> Vec<Offset> {
        self.reminders
            .clone()
            .unwrap_or_else(|| vec![Offset::AT_START])
    }
}

fn newest<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// A reminder too old to send: past the grace window, or the one whose notification for this start already
/// went out (`fired`: the offsets that went out for `start`).
pub fn too_late(
    offset: Offset,
    start: Timestamp,
    fired: &[Offset],
    now: Timestamp,
    grace: Duration,
) -> bool {
    fired.contains(&offset) || later(offset.due(start), grace) < now
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
    /// Every reminder is already past the grace window, or its notification already went out.
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

/// Arm (or re-arm) one reminder slot of a schedule: due at `due`, keyed by the arming event and the slot, no
/// claim, no attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arm {
    pub schedule: ScheduleKey,
    /// `""` keeps the title stored with the schedule's pending notifications (events carry none).
    pub title: String,
    pub start_at: Timestamp,
    pub slot: Slot,
    pub resolved: bool,
    pub idempotent_key: NotificationKey,
    pub due: Timestamp,
}

impl Arm {
    fn new(event: &ScheduleEvent, title: String, start_at: Timestamp, slot: Slot) -> Self {
        Self {
            schedule: event.schedule,
            title,
            start_at,
            slot,
            resolved: true,
            idempotent_key: ReminderKey::new(&event.id, slot).key(),
            due: slot.offset.due(start_at),
        }
    }
}

/// What to do with a schedule's pending notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arming {
    /// Remove the pending notifications in `remove` (their devices waiting for a retry give up with `reason`),
    /// then arm `arm`.
    Change {
        arm: Vec<Arm>,
        remove: Vec<Slot>,
        reason: &'static str,
    },
    /// Remove every pending notification of the schedule; their devices waiting for a retry give up with
    /// `reason`.
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

/// `schedule.time.upcoming.updated` with the new `start`: `pending` are the schedule's pending notifications,
/// `fired` the offsets whose notification for `start` already went out.
pub fn on_upcoming(
    event: &ScheduleEvent,
    start: Timestamp,
    pending: &[Upcoming],
    fired: &[Offset],
    now: Timestamp,
    grace: Duration,
) -> Decision {
    let wanted: Vec<Offset> = event
        .reminders
        .iter()
        .copied()
        .filter(|o| !too_late(*o, start, fired, now, grace))
        .collect();
    let mut to_arm = wanted.clone();
    let mut remove = Vec::new();
    for p in pending {
        let same = p.resolved && same_start(p.start_at, start);
        let kept = if p.slot.is_snooze() {
            same
        } else {
            same && wanted.contains(&p.slot.offset)
        };
        if kept {
            to_arm.retain(|o| p.slot.is_snooze() || *o != p.slot.offset);
        } else {
            remove.push(p.slot);
        }
    }
    let arm: Vec<Arm> = to_arm
        .into_iter()
        .map(|o| Arm::new(event, String::new(), start, Slot::planned(o)))
        .collect();
    let applied = if !arm.is_empty() {
        if pending.is_empty() {
            Applied::Armed
        } else {
            Applied::Moved
        }
    } else if wanted.is_empty() && !event.reminders.is_empty() {
        Applied::TooLate
    } else if !remove.is_empty() {
        Applied::Removed
    } else {
        Applied::Unchanged
    };
    if arm.is_empty() && remove.is_empty() {
        return Decision::new(Arming::Keep, applied);
    }
    let moved = pending.iter().any(|p| !same_start(p.start_at, start));
    let reason = if wanted.is_empty() && !event.reminders.is_empty() {
        "moved into the past"
    } else if moved {
        "moved"
    } else {
        "the reminder was removed"
    };
    Decision::new(
        Arming::Change {
            arm,
            remove,
            reason,
        },
        applied,
    )
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

/// `schedule.state.canceled`: the schedule is NOT_STARTED again. Pending notifications stay as they are;
/// `None` when there are none: then the task service is asked where the schedule starts, and [`rearm`] decides.
pub fn on_canceled(pending: &[Upcoming]) -> Option<Decision> {
    (!pending.is_empty()).then(|| Decision::new(Arming::Keep, Applied::Unchanged))
}

/// Re-arms a canceled schedule's reminders (the watermark's) from what the task service said (`lookup`);
/// `fired` as for [`on_upcoming`], for the start the task service reported.
pub fn rearm(
    event: &ScheduleEvent,
    lookup: Lookup,
    watermark: &Watermark,
    fired: &[Offset],
    now: Timestamp,
    grace: Duration,
) -> Decision {
    let offsets = watermark.reminders();
    let change = |arm: Vec<Arm>| Arming::Change {
        arm,
        remove: Vec::new(),
        reason: "superseded",
    };
    match lookup {
        Lookup::Found(basics) => {
            let arm: Vec<Arm> = offsets
                .into_iter()
                .filter(|o| !too_late(*o, basics.start_time, fired, now, grace))
                .map(|o| {
                    Arm::new(
                        event,
                        basics.title.clone(),
                        basics.start_time,
                        Slot::planned(o),
                    )
                })
                .collect();
            if arm.is_empty() {
                Decision::new(Arming::Keep, Applied::TooLate)
            } else {
                Decision::new(change(arm), Applied::Armed)
            }
        }
        Lookup::Missing => Decision::new(Arming::Keep, Applied::Gone),
        // Do not hold the event (and its transaction) hostage to the task service: arm them unresolved, due
        // now; the dispatcher confirms the start time with its batch look-up and re-times each.
        Lookup::Failed => {
            let arm = offsets
                .into_iter()
                .map(|o| Arm {
                    resolved: false,
                    due: now,
                    ..Arm::new(event, String::new(), now, Slot::planned(o))
                })
                .collect();
            Decision::new(change(arm), Applied::ArmedUnresolved)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn offset(seconds: i64) -> Offset {
        Offset::from_seconds(seconds).unwrap()
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
            reminders: vec![Offset::AT_START],
        }
    }

    fn pending(start: Timestamp, key: &str, slot: Slot) -> Upcoming {
        Upcoming {
            schedule_id: ScheduleId(7),
            owner_id: MemberId(3),
            title: "t".into(),
            start_at: start,
            slot,
            due_at: slot.offset.due(start),
            resolved: true,
            idempotent_key: NotificationKey::from(key),
            next_attempt_at: start,
            attempts: 0,
            lease_owner: None,
        }
    }

    fn armed(d: &Decision) -> Vec<(Slot, Timestamp, String)> {
        match &d.arming {
            Arming::Change { arm, .. } => arm
                .iter()
                .map(|a| (a.slot, a.due, a.idempotent_key.to_string()))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn removed(d: &Decision) -> Vec<Slot> {
        match &d.arming {
            Arming::Change { remove, .. } => remove.clone(),
            _ => Vec::new(),
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
    fn the_watermark_remembers_the_last_reminders_for_a_re_arm() {
        let mut wm = Watermark::default();
        assert_eq!(wm.reminders(), [Offset::AT_START]);
        let mut e = event(ScheduleChange::UpcomingUpdated, "u");
        e.reminders = vec![offset(-600), Offset::AT_START];
        assert!(wm.admit(&e));
        assert!(wm.admit(&event(ScheduleChange::Canceled, "c")));
        assert_eq!(wm.reminders(), [offset(-600), Offset::AT_START]);
    }

    #[test]
    fn upcoming_arms_moves_keeps_or_drops() {
        let now = at("2026-02-08T00:00:00Z");
        let start = at("2026-02-08T01:00:00Z");
        let e = event(ScheduleChange::UpcomingUpdated, "e2");
        let at_start = Slot::planned(Offset::AT_START);
        let d = on_upcoming(&e, start, &[], &[], now, GRACE);
        assert_eq!(d.applied(false), Applied::Armed);
        assert_eq!(armed(&d), [(at_start, start, "e2".to_string())]);

        // The same start again: nothing to do. Another start: moved, the old one removed first.
        let same = pending(start, "e1", at_start);
        assert_eq!(
            on_upcoming(&e, start, std::slice::from_ref(&same), &[], now, GRACE).arming,
            Arming::Keep
        );
        let later_start = start + jiff::SignedDuration::from_hours(1);
        let moved = on_upcoming(
            &e,
            later_start,
            std::slice::from_ref(&same),
            &[],
            now,
            GRACE,
        );
        assert_eq!(moved.applied(false), Applied::Moved);
        assert_eq!(removed(&moved), [at_start]);
        assert_eq!(armed(&moved), [(at_start, later_start, "e2".to_string())]);

        // Past the grace window, or the start that already fired: nothing armed, the pending one removed.
        let past = on_upcoming(
            &e,
            now - jiff::SignedDuration::from_mins(11),
            &[],
            &[],
            now,
            GRACE,
        );
        assert_eq!(past.applied(false), Applied::TooLate);
        assert_eq!(past.arming, Arming::Keep);
        let fired = on_upcoming(&e, start, &[same], &[Offset::AT_START], now, GRACE);
        assert_eq!(fired.applied(false), Applied::TooLate);
        assert_eq!(removed(&fired), [at_start]);
    }

    #[test]
    fn each_offset_is_its_own_slot_with_its_own_key() {
        let now = at("2026-02-08T00:00:00Z");
        let start = at("2026-02-08T01:00:00Z");
        let mut e = event(ScheduleChange::UpcomingUpdated, "ev");
        e.reminders = vec![offset(-3600), offset(-600), Offset::AT_START];
        let d = on_upcoming(&e, start, &[], &[], now, GRACE);
        assert_eq!(
            armed(&d),
            [
                (Slot::planned(offset(-3600)), now, "ev:-PT1H".to_string()),
                (
                    Slot::planned(offset(-600)),
                    at("2026-02-08T00:50:00Z"),
                    "ev:-PT10M".to_string()
                ),
                (Slot::planned(Offset::AT_START), start, "ev".to_string()),
            ]
        );
        // Only the offsets that changed are touched: -PT1H already went out and -PT10M is pending for this
        // start; PT0S left the list, -PT5M joined it. A snooze for the same start stays.
        let ten = pending(start, "old:-PT10M", Slot::planned(offset(-600)));
        let zero = pending(start, "old", Slot::planned(Offset::AT_START));
        let snooze = pending(
            start,
            "old:snooze:1",
            Slot {
                offset: Offset::AT_START,
                snooze: 1,
            },
        );
        e.reminders = vec![offset(-3600), offset(-600), offset(-300)];
        let d = on_upcoming(
            &e,
            start,
            &[ten, zero, snooze.clone()],
            &[offset(-3600)],
            now,
            GRACE,
        );
        assert_eq!(removed(&d), [Slot::planned(Offset::AT_START)]);
        assert_eq!(
            armed(&d),
            [(
                Slot::planned(offset(-300)),
                at("2026-02-08T00:55:00Z"),
                "ev:-PT5M".to_string()
            )]
        );
        // A move takes the snooze with it (it was for the old start).
        let d = on_upcoming(
            &e,
            start + jiff::SignedDuration::from_hours(2),
            &[snooze],
            &[],
            now,
            GRACE,
        );
        assert!(removed(&d).contains(&Slot {
            offset: Offset::AT_START,
            snooze: 1
        }));
        // An empty list removes everything and arms nothing.
        e.reminders = Vec::new();
        let pending_zero = pending(start, "old", Slot::planned(Offset::AT_START));
        let d = on_upcoming(&e, start, &[pending_zero], &[], now, GRACE);
        assert_eq!(d.applied(true), Applied::Removed);
        assert!(armed(&d).is_empty());
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
        let wm = Watermark {
            reminders: Some(vec![offset(-600), Offset::AT_START]),
            ..Watermark::default()
        };
        let basics = ScheduleBasics {
            schedule_id: ScheduleId(7),
            owner_id: MemberId(3),
            title: "딥 워크".into(),
            start_time: start,
        };
        assert_eq!(
            on_canceled(&[]),
            None,
            "nothing pending: ask the task service"
        );
        let found = rearm(&e, Lookup::Found(basics.clone()), &wm, &[], now, GRACE);
        assert_eq!(found.applied(false), Applied::Armed);
        let Arming::Change { arm, .. } = found.arming else {
            panic!()
        };
        assert_eq!(arm.len(), 2);
        assert_eq!(
            (arm[1].title.as_str(), arm[1].start_at, arm[1].resolved),
            ("딥 워크", start, true)
        );
        assert_eq!(arm[0].due, at("2026-02-08T00:50:00Z"));
        let failed = rearm(&e, Lookup::Failed, &wm, &[], now, GRACE);
        assert_eq!(failed.applied(false), Applied::ArmedUnresolved);
        let Arming::Change { arm, .. } = failed.arming else {
            panic!()
        };
        assert!(arm.iter().all(|a| a.due == now && !a.resolved));
        assert_eq!(
            rearm(&e, Lookup::Missing, &wm, &[], now, GRACE).applied(false),
            Applied::Gone
        );
        let p = pending(start, "u", Slot::planned(Offset::AT_START));
        assert_eq!(on_canceled(&[p]).map(|d| d.arming), Some(Arming::Keep));
    }
}
