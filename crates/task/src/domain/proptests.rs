//! Property tests: random sequences of operations with a monotonically increasing server clock.
//!
//! * One run: the state is always one of the four, the result of every operation is what the
//!   transition table (docs/contract/task.md#state-machine) says, a refused operation changes
//!   nothing, the elapsed time never decreases and always equals the sum of the sessions that ended
//!   with suspend or complete (a session ended by cancel is discarded), COMPLETED is left only by
//!   cancel, cancel always lands in NOT_STARTED keeping the elapsed time of finished sessions, and
//!   every run survives a storage round trip.
//! * One member with several schedules and a changing zone: at most one schedule holds the running
//!   slot and the slot names it; every statistics bucket equals the sum of the elapsed times of the
//!   COMPLETED schedules recorded into it, and none is ever negative.
//! * Reminders in any spelling: a list of distinct offsets is kept sorted, one offset spelled twice is
//!   refused naming the second, the canonical rendering and the stored form read back to the same list, and
//!   an offset after the start or before `-P7D` is refused naming its entry.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::dependency::Prerequisites;
use super::reminders::{Inherited, ReminderError, Reminders};
use super::schedule::{
    Operation, Run, Schedule, ScheduleDraft, ScheduleState, ScheduleType, transition,
};
use super::stats::{Deltas, WeekKey, WeeklyTotals};
use super::text::{Description, Title};
use super::time::Zone;
use super::{Effects, MemberId, ScheduleError, ScheduleId};

const ZONES: [&str; 4] = ["Asia/Seoul", "Europe/Berlin", "America/New_York", "UTC"];

fn origin() -> Timestamp {
    // A few days before the 2026 DST changes in New York (03-08) and Berlin (03-29).
    Timestamp::from_second(1_772_323_200).unwrap_or(Timestamp::UNIX_EPOCH) // 2026-03-01T00:00Z
}

fn op() -> impl Strategy<Value = Operation> {
    prop_oneof![
        Just(Operation::Start),
        Just(Operation::Suspend),
        Just(Operation::Complete),
        Just(Operation::Cancel),
    ]
}

/// Milliseconds to move the clock: often nothing, often a little, sometimes days.
fn tick() -> impl Strategy<Value = i64> {
    prop_oneof![Just(0i64), 1i64..=3_600_000, 1i64..=259_200_000]
}

fn zone(i: usize) -> Zone {
    Zone::parse(ZONES[i % ZONES.len()]).unwrap_or_else(|_| Zone::utc())
}

fn advance(now: Timestamp, ms: i64) -> Timestamp {
    now.checked_add(SignedDuration::from_millis(ms))
        .unwrap_or(now)
}

/// A reminder offset in seconds, within `[-P7D, 0]`: often at the start, often whole minutes, any second.
fn offset_secs() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(0i64),
        (-10_080i64..=0).prop_map(|m| m * 60),
        -604_800i64..=0
    ]
}

/// One of three ISO 8601 spellings of `secs` (≤ 0): jiff's (`-PT1H30M`), seconds only (`-PT5400S`), and
/// days with seconds (`-P0DT5400S`).
fn spell(secs: i64, how: usize) -> String {
    let back = -secs;
    match how % 3 {
        0 => SignedDuration::from_secs(secs).to_string(),
        1 => format!("-PT{back}S"),
        _ => format!("-P{}DT{}S", back / 86_400, back % 86_400),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn reminders_in_any_spelling_are_kept_canonical(
        secs in proptest::collection::vec(offset_secs(), 0..=Reminders::MAX),
        spellings in proptest::collection::vec(0usize..3, Reminders::MAX),
    ) {
        let items: Vec<String> = secs.iter().zip(&spellings).map(|(s, how)| spell(*s, *how)).collect();
        let distinct: BTreeSet<i64> = secs.iter().copied().collect();
        match Reminders::parse(&items) {
            Ok(reminders) => {
                prop_assert_eq!(distinct.len(), secs.len());
                let kept: Vec<i64> = reminders.offsets().iter().map(|o| o.as_secs()).collect();
                prop_assert_eq!(kept, distinct.into_iter().collect::<Vec<_>>(), "sorted, earliest first");
                let canonical = reminders.to_iso();
                prop_assert_eq!(Reminders::parse(&canonical), Ok(reminders.clone()));
                prop_assert_eq!(Reminders::from_stored(&reminders.to_stored()), Ok(reminders.clone()));
            }
            Err(ReminderError::Duplicate { index, first, .. }) => {
                prop_assert!(first < index);
                prop_assert_eq!(secs[first], secs[index]);
                let before: BTreeSet<i64> = secs[..index].iter().copied().collect();
                prop_assert_eq!(before.len(), index, "the first repeat is the one named");
            }
            Err(e) => prop_assert!(false, "{items:?}: {e}"),
        }
    }

    #[test]
    fn an_offset_out_of_range_is_named(
        good in proptest::collection::btree_set(offset_secs(), 0..Reminders::MAX),
        after in any::<bool>(),
        by in 1i64..=10_000_000,
        how in 0usize..3,
    ) {
        let mut items: Vec<String> = good.iter().map(|s| spell(*s, how)).collect();
        let index = items.len();
        let bad = if after { format!("PT{by}S") } else { spell(-604_800 - by, how) };
        items.push(bad.clone());
        let expected = if after {
            ReminderError::AfterStart { index, input: bad }
        } else {
            ReminderError::TooEarly { index, input: bad }
        };
        prop_assert_eq!(Reminders::parse(&items), Err(expected));
    }

    #[test]
    fn a_run_follows_the_table_and_accounts_elapsed_time(
        steps in proptest::collection::vec((op(), tick(), 0usize..4), 0..80)
    ) {
        let mut run = Run::new();
        let mut now = origin();
        // The model: the state per the table, the sum of finished sessions, the open session.
        let mut state = ScheduleState::NotStarted;
        let mut elapsed = SignedDuration::ZERO;
        let mut since: Option<Timestamp> = None;

        for (op, ms, z) in steps {
            now = advance(now, ms);
            let before = run.clone();
            let result = run.apply(op, now, &zone(z));
            match transition(state, op) {
                Err(cell) => {
                    let is_that_cell = matches!(&result, Err(ScheduleError::IllegalTransition(t)) if *t == cell);
                    prop_assert!(is_that_cell, "{result:?}");
                    prop_assert_eq!(&run, &before, "a refused operation changes nothing");
                    prop_assert!(state != ScheduleState::Completed || op != Operation::Cancel);
                }
                Ok(next) => {
                    let step = result.map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(step.before, state);
                    prop_assert_eq!(step.after, next);
                    match (op, since) {
                        (Operation::Suspend | Operation::Complete, Some(s)) => {
                            prop_assert_eq!(step.elapsed_added, now.duration_since(s));
                            elapsed += now.duration_since(s);
                        }
                        (Operation::Cancel, Some(s)) => {
                            prop_assert_eq!(step.discarded, now.duration_since(s));
                        }
                        _ => prop_assert_eq!(step.elapsed_added, SignedDuration::ZERO),
                    }
                    if state == ScheduleState::Completed {
                        prop_assert_eq!(op, Operation::Cancel, "COMPLETED is left only by cancel");
                        prop_assert_eq!(step.reverted.as_ref(), before.completed_week());
                    }
                    if op == Operation::Cancel {
                        prop_assert_eq!(next, ScheduleState::NotStarted);
                        prop_assert_eq!(run.elapsed(), before.elapsed(), "cancel keeps finished sessions");
                    }
                    if op == Operation::Complete {
                        let week = WeekKey::containing(now, &zone(z)).ok();
                        prop_assert_eq!(step.recorded.as_ref(), week.as_ref());
                    }
                    state = next;
                    since = (op == Operation::Start).then_some(now);
                }
            }
            prop_assert_eq!(run.state(), state);
            prop_assert!(ScheduleState::ALL.contains(&run.state()));
            prop_assert!(run.elapsed() >= before.elapsed(), "elapsed never decreases");
            prop_assert!(!run.elapsed().is_negative());
            prop_assert_eq!(run.elapsed(), elapsed, "elapsed = sum of finished sessions");
            prop_assert_eq!(run.running_since(), since);
            prop_assert_eq!(run.completed_week().is_some(), state == ScheduleState::Completed);
            prop_assert_eq!(Run::from_snapshot(run.snapshot()).ok(), Some(run.clone()));
        }
    }

    #[test]
    fn one_member_keeps_one_running_slot_and_exact_statistics(
        steps in proptest::collection::vec((0usize..6, 0usize..3, tick(), 0usize..4), 0..120)
    ) {
        const OWNER: MemberId = MemberId(1);
        let kinds = [ScheduleType::DeepWork, ScheduleType::AdminTask, ScheduleType::QuickTask];
        let defaults = Inherited::from_member(Reminders::at_start());
        let mut schedules: Vec<Option<Schedule>> = (0..3)
            .map(|i| {
                let draft = ScheduleDraft::new(
                    Title::parse(format!("일정 {i}")).ok()?,
                    Description::parse("설명").ok()?,
                    kinds[i],
                    origin(),
                );
                Some(Schedule::create(ScheduleId(i as i64 + 1), OWNER, None, draft, &defaults).0)
            })
            .collect();
        let mut slot: Option<ScheduleId> = None;
        let mut buckets: BTreeMap<WeekKey, WeeklyTotals> = BTreeMap::new();
        let mut member_zone = zone(0);
        let mut now = origin();
        let none = Prerequisites::none();

        for (action, which, ms, z) in steps {
            now = advance(now, ms);
            if action == 5 {
                member_zone = zone(z);
                continue;
            }
            let Some(s) = schedules[which].as_mut() else { continue };
            let elapsed_before = s.elapsed();
            let outcome: Result<Effects, ScheduleError> = match action {
                0 => s.start(now, slot, &none),
                1 => s.suspend(now),
                2 => s.complete(now, &member_zone, None, &none),
                3 => s.cancel(now, None),
                _ => s.delete(),
            };
            let Ok(effects) = outcome else { continue };
            prop_assert!(s.elapsed() >= elapsed_before);
            if action == 4 {
                schedules[which] = None;
            }
            slot = effects.slot.apply(slot);
            for change in &effects.statistics {
                buckets.entry(change.week().clone()).or_default().apply(change.deltas());
            }

            // One running slot, naming the only schedule that holds it.
            let holders: Vec<ScheduleId> = schedules
                .iter()
                .flatten()
                .filter(|s| s.state().holds_slot())
                .map(Schedule::id)
                .collect();
            prop_assert!(holders.len() <= 1, "{holders:?}");
            prop_assert_eq!(slot, holders.first().copied());

            // Statistics = the sum of completed elapsed time per recorded week.
            let mut expected: BTreeMap<WeekKey, WeeklyTotals> = BTreeMap::new();
            for s in schedules.iter().flatten() {
                if let Some(c) = s.contribution() {
                    expected.entry(c.week.clone()).or_default().apply(Deltas::of(c.schedule_type, c.amount));
                }
            }
            for (week, totals) in &buckets {
                let want = expected.get(week).copied().unwrap_or(WeeklyTotals::ZERO);
                prop_assert_eq!(*totals, want, "bucket {:?}", week);
                prop_assert!(!totals.total.is_negative() && !totals.deep_work.is_negative() && !totals.admin_work.is_negative());
            }
            for week in expected.keys() {
                prop_assert!(buckets.contains_key(week));
            }
        }
    }
}
