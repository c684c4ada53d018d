//! Weekly statistics (docs/contract/task.md#statistics), attributed exactly and reversibly.
//!
//! A bucket is keyed by (member, [`WeekKey`]) — the Monday that starts the week and the zone the week
//! was computed in — and holds deep-work, admin-work and total durations ([`WeeklyTotals`]).
//!
//! Rules here (the reference's defects fixed, docs/contract/task.md#statistics-attribution):
//!
//! * **Which week.** A completed schedule's elapsed time goes, whole, to the week (Monday 00:00
//!   start, half-open, in the **member's zone at completion**) that contains the **completion
//!   instant** — the moment the work was actually finished — not the week of the designated start
//!   time as in the reference.
//! * **How much.** The schedule's whole elapsed time at completion ([`Contribution`]).
//!   `DEEP_WORK` adds to deep work and total, `ADMIN_TASK` to admin work and total, `QUICK_TASK` to
//!   the total only.
//! * **Undo.** The contribution is remembered by the completed schedule (its week key is stored with
//!   the COMPLETED state). Cancelling a completed schedule, reopening its task, or deleting it
//!   reverts exactly that contribution — same bucket, same amount — even if the member's zone has
//!   changed since. Cancels from IN_PROGRESS or SUSPENDED change nothing (nothing was recorded).
//!   So a bucket always equals the sum of the elapsed times of the member's schedules that are
//!   COMPLETED with that week key, and never goes negative.
//! * A completion with zero elapsed (from NOT_STARTED) is still a contribution of zero; the app may
//!   skip writing it ([`Contribution::is_zero`]) — a missing bucket reads as zeros.

use jiff::SignedDuration;
use jiff::Timestamp;
use jiff::civil::Date;

use super::error::TimeError;
use super::schedule::ScheduleType;
use super::time::{Window, Zone, week_start};

/// A statistics bucket's week: the Monday it starts on and the zone id it was computed in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WeekKey {
    pub start: Date,
    pub zone_id: String,
}

impl WeekKey {
    /// The week in `zone` that contains the instant `at` (reference `lastMondayStart(point, zone)`).
    pub fn containing(at: Timestamp, zone: &Zone) -> Result<Self, TimeError> {
        Ok(Self {
            start: week_start(zone.local_date(at))?,
            zone_id: zone.id().to_owned(),
        })
    }

    /// The week's instants, `[Monday 00:00, next Monday 00:00)` in its zone.
    pub fn window(&self) -> Result<Window, TimeError> {
        Window::week(self.start, &Zone::parse(&self.zone_id)?)
    }
}

/// Signed changes to a bucket's three durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Deltas {
    pub deep_work: SignedDuration,
    pub admin_work: SignedDuration,
    pub total: SignedDuration,
}

impl Deltas {
    /// What recording `amount` of a schedule of type `kind` adds (the reference's `Recorder`).
    pub fn of(kind: ScheduleType, amount: SignedDuration) -> Self {
        let zero = SignedDuration::ZERO;
        match kind {
            ScheduleType::DeepWork => Self {
                deep_work: amount,
                admin_work: zero,
                total: amount,
            },
            ScheduleType::AdminTask => Self {
                deep_work: zero,
                admin_work: amount,
                total: amount,
            },
            ScheduleType::QuickTask => Self {
                deep_work: zero,
                admin_work: zero,
                total: amount,
            },
        }
    }

    pub fn negated(self) -> Self {
        Self {
            deep_work: -self.deep_work,
            admin_work: -self.admin_work,
            total: -self.total,
        }
    }
}

/// What one completed schedule put into one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contribution {
    pub week: WeekKey,
    pub schedule_type: ScheduleType,
    pub amount: SignedDuration,
}

impl Contribution {
    pub fn deltas(&self) -> Deltas {
        Deltas::of(self.schedule_type, self.amount)
    }

    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }
}

/// A change to apply to the member's statistics in the same transaction as the schedule change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsChange {
    /// A schedule was completed: add its contribution (create the bucket if missing).
    Record(Contribution),
    /// A completed schedule was cancelled, reopened through its task, or deleted: subtract the
    /// contribution it recorded.
    Revert(Contribution),
}

impl StatsChange {
    pub fn contribution(&self) -> &Contribution {
        match self {
            Self::Record(c) | Self::Revert(c) => c,
        }
    }

    pub fn week(&self) -> &WeekKey {
        &self.contribution().week
    }

    /// The signed deltas for the bucket of [`StatsChange::week`].
    pub fn deltas(&self) -> Deltas {
        match self {
            Self::Record(c) => c.deltas(),
            Self::Revert(c) => c.deltas().negated(),
        }
    }
}

/// One bucket's durations (`StatisticsResponse` without member and week).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WeeklyTotals {
    pub deep_work: SignedDuration,
    pub admin_work: SignedDuration,
    pub total: SignedDuration,
}

impl WeeklyTotals {
    pub const ZERO: Self = Self {
        deep_work: SignedDuration::ZERO,
        admin_work: SignedDuration::ZERO,
        total: SignedDuration::ZERO,
    };

    pub fn apply(&mut self, deltas: Deltas) {
        self.deep_work = self.deep_work.saturating_add(deltas.deep_work);
        self.admin_work = self.admin_work.saturating_add(deltas.admin_work);
        self.total = self.total.saturating_add(deltas.total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn zone(id: &str) -> Zone {
        Zone::parse(id).unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn mins(m: i64) -> SignedDuration {
        SignedDuration::from_mins(m)
    }

    #[test]
    fn week_key_is_the_monday_in_the_given_zone() {
        let k = WeekKey::containing(ts("2025-11-19T01:30:00Z"), &zone("Asia/Seoul")).unwrap();
        assert_eq!(
            k,
            WeekKey {
                start: date(2025, 11, 17),
                zone_id: "Asia/Seoul".into()
            }
        );
        let w = k.window().unwrap();
        assert_eq!(w.start, ts("2025-11-16T15:00:00Z"));
        assert_eq!(w.end, ts("2025-11-23T15:00:00Z"));
    }

    #[test]
    fn completion_just_after_local_midnight_monday_opens_the_new_week() {
        let seoul = zone("Asia/Seoul");
        // Sunday 23:59:59 Seoul → previous week; Monday 00:00 Seoul → new week (half-open).
        let sunday = WeekKey::containing(ts("2025-11-16T14:59:59Z"), &seoul).unwrap();
        let monday = WeekKey::containing(ts("2025-11-16T15:00:00Z"), &seoul).unwrap();
        assert_eq!(sunday.start, date(2025, 11, 10));
        assert_eq!(monday.start, date(2025, 11, 17));
    }

    #[test]
    fn the_same_completion_instant_belongs_to_different_weeks_per_member_zone() {
        let at = ts("2025-11-16T15:30:00Z"); // Mon 00:30 Seoul, Sun 15:30 UTC, Sun 07:30 LA
        assert_eq!(
            WeekKey::containing(at, &zone("Asia/Seoul")).unwrap().start,
            date(2025, 11, 17)
        );
        assert_eq!(
            WeekKey::containing(at, &Zone::utc()).unwrap().start,
            date(2025, 11, 10)
        );
        assert_eq!(
            WeekKey::containing(at, &zone("America/Los_Angeles"))
                .unwrap()
                .start,
            date(2025, 11, 10)
        );
    }

    #[test]
    fn week_key_across_dst_in_new_york_and_berlin() {
        // Sunday 2026-03-08 23:30 EDT is still in the week of Monday 2026-03-02.
        let ny = zone("America/New_York");
        let k = WeekKey::containing(ts("2026-03-09T03:30:00Z"), &ny).unwrap();
        assert_eq!(k.start, date(2026, 3, 2));
        assert_eq!(
            k.window().unwrap().length(),
            SignedDuration::from_hours(167)
        );
        // Monday 2026-03-30 00:30 CEST is the new week in Berlin, though still Sunday in UTC.
        let berlin = zone("Europe/Berlin");
        let k = WeekKey::containing(ts("2026-03-29T22:30:00Z"), &berlin).unwrap();
        assert_eq!(k.start, date(2026, 3, 30));
    }

    #[test]
    fn deltas_per_type_follow_the_recorder() {
        assert_eq!(
            Deltas::of(ScheduleType::DeepWork, mins(30)),
            Deltas {
                deep_work: mins(30),
                admin_work: mins(0),
                total: mins(30)
            }
        );
        assert_eq!(
            Deltas::of(ScheduleType::AdminTask, mins(45)),
            Deltas {
                deep_work: mins(0),
                admin_work: mins(45),
                total: mins(45)
            }
        );
        assert_eq!(
            Deltas::of(ScheduleType::QuickTask, mins(5)),
            Deltas {
                deep_work: mins(0),
                admin_work: mins(0),
                total: mins(5)
            }
        );
    }

    #[test]
    fn reference_statistics_service_cases() {
        // Remove 15 min of deep work from 40 → deep & total 25.
        let mut t = WeeklyTotals {
            deep_work: mins(40),
            admin_work: mins(0),
            total: mins(40),
        };
        let week = WeekKey {
            start: date(2025, 11, 17),
            zone_id: "Asia/Seoul".into(),
        };
        let c = Contribution {
            week: week.clone(),
            schedule_type: ScheduleType::DeepWork,
            amount: mins(15),
        };
        t.apply(StatsChange::Revert(c).deltas());
        assert_eq!((t.deep_work, t.total), (mins(25), mins(25)));
        // Add 45 min ADMIN_TASK to a new bucket → admin 45, deep 0, total 45.
        let mut fresh = WeeklyTotals::ZERO;
        let c = Contribution {
            week,
            schedule_type: ScheduleType::AdminTask,
            amount: mins(45),
        };
        fresh.apply(StatsChange::Record(c).deltas());
        assert_eq!(
            fresh,
            WeeklyTotals {
                deep_work: mins(0),
                admin_work: mins(45),
                total: mins(45)
            }
        );
    }

    #[test]
    fn revert_undoes_record_exactly() {
        let c = Contribution {
            week: WeekKey {
                start: date(2026, 3, 2),
                zone_id: "America/New_York".into(),
            },
            schedule_type: ScheduleType::DeepWork,
            amount: SignedDuration::new(3_723, 456_000),
        };
        let mut t = WeeklyTotals::ZERO;
        t.apply(StatsChange::Record(c.clone()).deltas());
        assert_eq!(t.total, c.amount);
        t.apply(StatsChange::Revert(c.clone()).deltas());
        assert_eq!(t, WeeklyTotals::ZERO);
        assert_eq!(StatsChange::Revert(c.clone()).week(), &c.week);
        assert!(!c.is_zero());
    }
}
