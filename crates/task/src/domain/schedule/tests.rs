//! The schedule state machine: one test per cell of the transition table (docs/contract/task.md#state-machine),
//! then the rules around it.

use jiff::civil::date;

use super::*;
use crate::domain::error::{ErrorClass, TaskError};
use crate::domain::stats::WeeklyTotals;
use crate::domain::task::{Deadline, Difficulty, Importance, TaskFields};

const ID: ScheduleId = ScheduleId(10);
const OWNER: MemberId = MemberId(7);

/// 2025-10-01 10:00 Asia/Seoul (the reference fixtures' START).
fn at(minutes: i64) -> Timestamp {
    let start: Timestamp = "2025-10-01T01:00:00Z".parse().unwrap();
    start
        .checked_add(SignedDuration::from_mins(minutes))
        .unwrap()
}

fn mins(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

fn seoul() -> Zone {
    Zone::parse("Asia/Seoul").unwrap()
}

fn week_of(minutes: i64) -> WeekKey {
    WeekKey::containing(at(minutes), &seoul()).unwrap()
}

fn draft(kind: ScheduleType) -> ScheduleDraft {
    ScheduleDraft::new(
        Title::parse("회의").unwrap(),
        Description::parse("주간 회의").unwrap(),
        kind,
        at(0),
    )
}

/// A member's default reminders (one push at the start), no series.
fn defaults() -> Inherited {
    Inherited::from_member(Reminders::at_start())
}

fn new_schedule(task: Option<TaskId>) -> Schedule {
    Schedule::create(ID, OWNER, task, draft(ScheduleType::DeepWork), &defaults()).0
}

fn none() -> Prerequisites {
    Prerequisites::none()
}

/// A task-less schedule in `state`: started at +0, suspended at +60, or completed at +120.
fn in_state(state: ScheduleState) -> Schedule {
    let mut s = new_schedule(None);
    match state {
        ScheduleState::NotStarted => {}
        ScheduleState::InProgress => {
            let _ = s.start(at(0), None, &none()).unwrap();
        }
        ScheduleState::Suspended => {
            let _ = s.start(at(0), None, &none()).unwrap();
            let _ = s.suspend(at(60)).unwrap();
        }
        ScheduleState::Completed => {
            let _ = s.start(at(0), None, &none()).unwrap();
            let _ = s.complete(at(120), &seoul(), None, &none()).unwrap();
        }
    }
    assert_eq!(s.state(), state);
    s
}

/// Runs `op` at +180 on a task-less schedule with a free slot.
fn run_op(s: &mut Schedule, op: Operation) -> Result<Effects, ScheduleError> {
    match op {
        Operation::Start => s.start(at(180), None, &none()),
        Operation::Suspend => s.suspend(at(180)),
        Operation::Complete => s.complete(at(180), &seoul(), None, &none()),
        Operation::Cancel => s.cancel(at(180), None),
    }
}

fn assert_refused(state: ScheduleState, op: Operation, message: &str) {
    let mut s = in_state(state);
    let before = s.clone();
    let err = run_op(&mut s, op).unwrap_err();
    assert_eq!(err.to_string(), message);
    assert_eq!(err.class(), ErrorClass::Conflict);
    assert_eq!(err.class().status(), 409);
    match err {
        ScheduleError::IllegalTransition(t) => {
            assert_eq!((t.from(), t.op()), (state, op));
            assert_eq!(t.message(), message);
        }
        other => panic!("expected an illegal transition, got {other:?}"),
    }
    assert_eq!(s, before, "a refused operation changes nothing");
}

fn started(before: ScheduleState) -> DomainEvent {
    DomainEvent::ScheduleStarted {
        schedule_id: ID,
        owner_id: OWNER,
        before_state: before,
    }
}

fn completed(before: ScheduleState) -> DomainEvent {
    DomainEvent::ScheduleCompleted {
        schedule_id: ID,
        owner_id: OWNER,
        before_state: before,
    }
}

fn canceled(before: ScheduleState) -> DomainEvent {
    DomainEvent::ScheduleCanceled {
        schedule_id: ID,
        owner_id: OWNER,
        before_state: before,
    }
}

fn deep(week: WeekKey, amount: SignedDuration) -> Contribution {
    Contribution {
        week,
        schedule_type: ScheduleType::DeepWork,
        amount,
    }
}

// =============================================================================================
// Transition table, row NOT_STARTED
// =============================================================================================

#[test]
fn cell_not_started_start_goes_in_progress() {
    let mut s = in_state(ScheduleState::NotStarted);
    let fx = run_op(&mut s, Operation::Start).unwrap();
    assert_eq!(s.state(), ScheduleState::InProgress);
    assert_eq!(s.run().running_since(), Some(at(180)));
    assert_eq!(s.elapsed(), SignedDuration::ZERO);
    assert_eq!(fx.events, vec![started(ScheduleState::NotStarted)]);
    assert_eq!(fx.slot, SlotChange::Claim(ID));
    assert!(fx.statistics.is_empty());
}

#[test]
fn cell_not_started_suspend_is_refused() {
    assert_refused(
        ScheduleState::NotStarted,
        Operation::Suspend,
        "시작되지 않은 일정을 일시정지할 수 없습니다.",
    );
}

#[test]
fn cell_not_started_complete_goes_completed_adding_nothing() {
    let mut s = in_state(ScheduleState::NotStarted);
    let fx = run_op(&mut s, Operation::Complete).unwrap();
    assert_eq!(s.state(), ScheduleState::Completed);
    assert_eq!(s.elapsed(), SignedDuration::ZERO);
    assert_eq!(s.run().running_since(), None);
    assert_eq!(fx.events, vec![completed(ScheduleState::NotStarted)]);
    assert_eq!(
        fx.statistics,
        vec![StatsChange::Record(deep(week_of(180), mins(0)))]
    );
    assert_eq!(fx.slot, SlotChange::Release(ID));
}

#[test]
fn cell_not_started_cancel_is_refused() {
    assert_refused(
        ScheduleState::NotStarted,
        Operation::Cancel,
        "시작되지 않은 일정을 취소할 수 없습니다.",
    );
}

// =============================================================================================
// Transition table, row IN_PROGRESS
// =============================================================================================

#[test]
fn cell_in_progress_start_is_refused() {
    assert_refused(
        ScheduleState::InProgress,
        Operation::Start,
        "진행 중인 일정을 다시 시작할 수 없습니다.",
    );
}

#[test]
fn cell_in_progress_suspend_goes_suspended_adding_the_session() {
    let mut s = in_state(ScheduleState::InProgress);
    let fx = run_op(&mut s, Operation::Suspend).unwrap();
    assert_eq!(s.state(), ScheduleState::Suspended);
    assert_eq!(s.elapsed(), mins(180), "START → SUSPEND");
    assert_eq!(s.run().running_since(), None);
    assert_eq!(
        fx.events,
        [DomainEvent::ScheduleSuspended {
            schedule_id: s.id(),
            owner_id: s.owner_id(),
            before_state: ScheduleState::InProgress,
        }],
        "suspend emits schedule.state.suspended (for webhooks)"
    );
    assert_eq!(
        fx.slot,
        SlotChange::Unchanged,
        "suspend keeps the running slot (the decision of ADR 0004)"
    );
    assert!(fx.statistics.is_empty());
}

#[test]
fn cell_in_progress_complete_goes_completed_adding_the_session() {
    let mut s = in_state(ScheduleState::InProgress);
    let fx = run_op(&mut s, Operation::Complete).unwrap();
    assert_eq!(s.state(), ScheduleState::Completed);
    assert_eq!(s.elapsed(), mins(180), "START → FINISH");
    assert_eq!(fx.events, vec![completed(ScheduleState::InProgress)]);
    assert_eq!(
        fx.statistics,
        vec![StatsChange::Record(deep(week_of(180), mins(180)))]
    );
    assert_eq!(fx.slot, SlotChange::Release(ID));
}

#[test]
fn cell_in_progress_cancel_goes_not_started_discarding_the_session() {
    let mut s = in_state(ScheduleState::InProgress);
    let fx = run_op(&mut s, Operation::Cancel).unwrap();
    assert_eq!(s.state(), ScheduleState::NotStarted);
    assert_eq!(
        s.elapsed(),
        SignedDuration::ZERO,
        "the only session is discarded"
    );
    assert_eq!(s.run().running_since(), None);
    assert_eq!(fx.events, vec![canceled(ScheduleState::InProgress)]);
    assert!(fx.statistics.is_empty(), "nothing was recorded");
    assert_eq!(fx.slot, SlotChange::Release(ID));
}

// =============================================================================================
// Transition table, row SUSPENDED
// =============================================================================================

#[test]
fn cell_suspended_start_resumes() {
    let mut s = in_state(ScheduleState::Suspended);
    let fx = run_op(&mut s, Operation::Start).unwrap();
    assert_eq!(s.state(), ScheduleState::InProgress);
    assert_eq!(
        s.run().running_since(),
        Some(at(180)),
        "startTime = restart"
    );
    assert_eq!(s.elapsed(), mins(60), "the first session is kept");
    assert_eq!(fx.events, vec![started(ScheduleState::Suspended)]);
    assert_eq!(fx.slot, SlotChange::Claim(ID));
}

#[test]
fn cell_suspended_suspend_is_refused() {
    assert_refused(
        ScheduleState::Suspended,
        Operation::Suspend,
        "일시정지된 일정을 다시 일시정지할 수 없습니다.",
    );
}

#[test]
fn cell_suspended_complete_is_refused() {
    assert_refused(
        ScheduleState::Suspended,
        Operation::Complete,
        "일시정지된 일정을 즉시 완료할 수 없습니다.",
    );
}

#[test]
fn cell_suspended_cancel_goes_not_started_keeping_elapsed() {
    let mut s = in_state(ScheduleState::Suspended);
    let fx = run_op(&mut s, Operation::Cancel).unwrap();
    assert_eq!(s.state(), ScheduleState::NotStarted);
    assert_eq!(s.elapsed(), mins(60), "START → SUSPEND kept");
    assert_eq!(fx.events, vec![canceled(ScheduleState::Suspended)]);
    assert!(fx.statistics.is_empty());
    assert_eq!(fx.slot, SlotChange::Release(ID));
}

// =============================================================================================
// Transition table, row COMPLETED
// =============================================================================================

#[test]
fn cell_completed_start_is_refused() {
    assert_refused(
        ScheduleState::Completed,
        Operation::Start,
        "완료된 일정을 시작할 수 없습니다.",
    );
}

#[test]
fn cell_completed_suspend_is_refused() {
    assert_refused(
        ScheduleState::Completed,
        Operation::Suspend,
        "완료된 일정을 일시정지할 수 없습니다.",
    );
}

#[test]
fn cell_completed_complete_is_refused() {
    assert_refused(
        ScheduleState::Completed,
        Operation::Complete,
        "완료된 일정을 다시 완료할 수 없습니다.",
    );
}

#[test]
fn cell_completed_cancel_resets_keeping_elapsed_and_reverting_statistics() {
    let mut s = in_state(ScheduleState::Completed);
    let fx = run_op(&mut s, Operation::Cancel).unwrap();
    assert_eq!(s.state(), ScheduleState::NotStarted);
    assert_eq!(s.elapsed(), mins(120), "history untouched");
    assert_eq!(
        fx.events,
        vec![canceled(ScheduleState::Completed)],
        "exactly one event"
    );
    assert_eq!(
        fx.statistics,
        vec![StatsChange::Revert(deep(week_of(120), mins(120)))]
    );
    assert_eq!(fx.slot, SlotChange::Release(ID));
}

// =============================================================================================
// The table as data
// =============================================================================================

#[test]
fn transition_table_has_eight_legal_and_eight_illegal_cells() {
    use Operation as O;
    use ScheduleState as S;
    let expected = [
        (
            S::NotStarted,
            [Some(S::InProgress), None, Some(S::Completed), None],
        ),
        (
            S::InProgress,
            [
                None,
                Some(S::Suspended),
                Some(S::Completed),
                Some(S::NotStarted),
            ],
        ),
        (
            S::Suspended,
            [Some(S::InProgress), None, None, Some(S::NotStarted)],
        ),
        (S::Completed, [None, None, None, Some(S::NotStarted)]),
    ];
    for (from, row) in expected {
        for (op, want) in [O::Start, O::Suspend, O::Complete, O::Cancel]
            .into_iter()
            .zip(row)
        {
            assert_eq!(transition(from, op).ok(), want, "{from} × {}", op.name());
        }
    }
    let legal = S::ALL
        .iter()
        .flat_map(|&s| O::ALL.iter().map(move |&o| transition(s, o)))
        .filter(Result::is_ok)
        .count();
    assert_eq!(legal, 8);
    // Completed is terminal except for the reset.
    for op in [O::Start, O::Suspend, O::Complete] {
        assert!(transition(S::Completed, op).is_err());
    }
}

#[test]
fn state_and_type_names_round_trip() {
    for s in ScheduleState::ALL {
        assert_eq!(s.as_str().parse::<ScheduleState>().unwrap(), s);
    }
    let err = "RUNNING".parse::<ScheduleState>().unwrap_err();
    assert_eq!(err.to_string(), "Unknown ScheduleState: RUNNING");
    assert_eq!(err.class().status(), 500);
    for t in ScheduleType::ALL {
        assert_eq!(ScheduleType::parse(t.as_str()).unwrap(), t);
    }
    let err = ScheduleType::parse("deep_work").unwrap_err();
    assert_eq!(err.class().status(), 400);
    assert_eq!(err.field(), "scheduleType");
    assert_eq!(ScheduleType::MISSING, "일정 유형은 null일 수 없습니다.");
}

// =============================================================================================
// Elapsed time
// =============================================================================================

#[test]
fn sessions_accumulate_and_cancel_discards_only_the_running_one() {
    let mut s = new_schedule(None);
    let _ = s.start(at(0), None, &none()).unwrap();
    let _ = s.suspend(at(30)).unwrap();
    let _ = s.start(at(100), Some(ID), &none()).unwrap();
    assert_eq!(
        s.run().elapsed_at(at(110)),
        mins(40),
        "running session counted in elapsed_at"
    );
    assert_eq!(s.elapsed(), mins(30), "but not in elapsed");
    let _ = s.suspend(at(145)).unwrap();
    assert_eq!(s.elapsed(), mins(75));
    let _ = s.start(at(200), Some(ID), &none()).unwrap();
    let mut run = s.run().clone();
    let step = run.cancel(at(260)).unwrap();
    assert_eq!(step.discarded, mins(60));
    assert_eq!(run.elapsed(), mins(75), "older sessions are kept");
    let _ = s.complete(at(215), &seoul(), None, &none()).unwrap();
    assert_eq!(s.elapsed(), mins(90));
}

#[test]
fn a_clock_behind_the_session_start_counts_zero_never_negative() {
    let mut s = new_schedule(None);
    let _ = s.start(at(10), None, &none()).unwrap();
    let _ = s.suspend(at(5)).unwrap();
    assert_eq!(s.elapsed(), SignedDuration::ZERO);
    let _ = s.start(at(20), Some(ID), &none()).unwrap();
    let _ = s.complete(at(20), &seoul(), None, &none()).unwrap();
    assert_eq!(s.elapsed(), SignedDuration::ZERO, "equal instants add zero");
}

#[test]
fn elapsed_keeps_sub_second_precision() {
    let mut run = Run::new();
    let t: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    let _ = run.start(t).unwrap();
    let _ = run
        .suspend(t.checked_add(SignedDuration::from_millis(1_500)).unwrap())
        .unwrap();
    assert_eq!(run.elapsed(), SignedDuration::from_millis(1_500));
}

#[test]
fn run_instants_are_taken_at_microsecond_precision() {
    let mut run = Run::new();
    let t: Timestamp = "2026-01-01T00:00:00.000000999Z".parse().unwrap();
    let _ = run.start(t).unwrap();
    assert_eq!(
        run.running_since(),
        Some("2026-01-01T00:00:00Z".parse().unwrap())
    );
    let _ = run
        .suspend("2026-01-01T00:00:01.000001999Z".parse().unwrap())
        .unwrap();
    assert_eq!(run.elapsed(), SignedDuration::new(1, 1_000));
}

// =============================================================================================
// Prerequisites (linked task)
// =============================================================================================

fn task(id: i64, completed: bool) -> Task {
    let fields = TaskFields {
        title: Title::parse("작업").unwrap(),
        description: Description::parse("설명").unwrap(),
        deadline: Deadline::new(date(2025, 10, 3), seoul()).unwrap(),
        importance: Importance::new(5).unwrap(),
        difficulty: Difficulty::new(3).unwrap(),
    };
    Task::restore(TaskId(id), OWNER, fields, completed)
}

fn prereqs(task: i64, statuses: &[(i64, bool)]) -> Prerequisites {
    Prerequisites::of(
        TaskId(task),
        statuses.iter().map(|&(id, done)| (TaskId(id), done)),
    )
}

#[test]
fn start_with_an_incomplete_prerequisite_is_refused_and_claims_nothing() {
    let mut s = new_schedule(Some(TaskId(5)));
    let before = s.clone();
    let err = s
        .start(at(0), None, &prereqs(5, &[(1, true), (2, false)]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "이전 작업이 완료되지 않아 해당 일정을 시작할 수 없습니다."
    );
    assert_eq!(err.class().status(), 409);
    assert_eq!(
        err,
        ScheduleError::PrerequisitesIncomplete {
            op: Operation::Start,
            incomplete: vec![TaskId(2)]
        }
    );
    assert_eq!(s, before);
}

#[test]
fn resume_rechecks_prerequisites() {
    let mut s = new_schedule(Some(TaskId(5)));
    let _ = s.start(at(0), None, &prereqs(5, &[(1, true)])).unwrap();
    let _ = s.suspend(at(10)).unwrap();
    let err = s
        .start(at(20), Some(ID), &prereqs(5, &[(1, false)]))
        .unwrap_err();
    assert!(matches!(
        err,
        ScheduleError::PrerequisitesIncomplete {
            op: Operation::Start,
            ..
        }
    ));
    assert_eq!(s.state(), ScheduleState::Suspended);
}

#[test]
fn complete_checks_prerequisites_from_not_started_and_in_progress() {
    // The reference skipped this check when completing from NOT_STARTED
    // (docs/contract/task.md#running-slot-and-prerequisites).
    let mut s = new_schedule(Some(TaskId(5)));
    let mut t = task(5, false);
    let err = s
        .complete(at(0), &seoul(), Some(&mut t), &prereqs(5, &[(1, false)]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "이전 작업이 완료되지 않아 해당 일정을 완료할 수 없습니다."
    );
    assert_eq!(err.class().status(), 409);
    assert_eq!(s.state(), ScheduleState::NotStarted);
    assert!(!t.is_completed());

    let _ = s.start(at(0), None, &prereqs(5, &[(1, true)])).unwrap();
    let err = s
        .complete(at(30), &seoul(), Some(&mut t), &prereqs(5, &[(1, false)]))
        .unwrap_err();
    assert!(matches!(
        err,
        ScheduleError::PrerequisitesIncomplete {
            op: Operation::Complete,
            ..
        }
    ));
    assert_eq!(s.state(), ScheduleState::InProgress);
}

#[test]
fn illegal_transition_is_reported_before_prerequisites_and_slot() {
    let mut s = in_state(ScheduleState::Completed);
    let err = s.start(at(200), Some(ScheduleId(99)), &none()).unwrap_err();
    assert!(matches!(err, ScheduleError::IllegalTransition(_)));
}

#[test]
fn mismatched_links_are_internal_errors() {
    let mut linked = new_schedule(Some(TaskId(5)));
    let err = linked.start(at(0), None, &none()).unwrap_err();
    assert_eq!(err.class(), ErrorClass::Internal);
    let err = linked.start(at(0), None, &prereqs(6, &[])).unwrap_err();
    assert_eq!(err.class().status(), 500);
    let err = linked
        .complete(at(0), &seoul(), None, &prereqs(5, &[]))
        .unwrap_err();
    assert_eq!(err.class().status(), 500);
    let mut other = task(6, false);
    let err = linked
        .complete(at(0), &seoul(), Some(&mut other), &prereqs(5, &[]))
        .unwrap_err();
    assert_eq!(err.class().status(), 500);
    assert!(!other.is_completed());

    let mut free = new_schedule(None);
    let mut t = task(5, false);
    let err = free
        .complete(at(0), &seoul(), Some(&mut t), &none())
        .unwrap_err();
    assert_eq!(err.class().status(), 500);
    assert_eq!(free.state(), ScheduleState::NotStarted);
}

// =============================================================================================
// The running slot
// =============================================================================================

#[test]
fn may_start_allows_a_free_slot_or_the_same_schedule() {
    assert!(may_start(ID, None).is_ok());
    assert!(may_start(ID, Some(ID)).is_ok(), "resume keeps its own slot");
    let err = may_start(ID, Some(ScheduleId(11))).unwrap_err();
    assert_eq!(
        err,
        ScheduleError::AlreadyRunning {
            running: ScheduleId(11)
        }
    );
    assert_eq!(err.to_string(), "이미 실행 중인 일정이 존재합니다.");
    assert_eq!(err.class().status(), 409);
}

#[test]
fn start_while_another_schedule_holds_the_slot_is_refused() {
    let mut s = new_schedule(None);
    let err = s.start(at(0), Some(ScheduleId(11)), &none()).unwrap_err();
    assert_eq!(
        err,
        ScheduleError::AlreadyRunning {
            running: ScheduleId(11)
        }
    );
    assert_eq!(s.state(), ScheduleState::NotStarted);
}

#[test]
fn release_clears_only_the_same_schedule() {
    // The reference cleared the slot without comparing ids
    // (docs/contract/task.md#running-slot-and-prerequisites).
    assert_eq!(SlotChange::Release(ID).apply(Some(ID)), None);
    assert_eq!(
        SlotChange::Release(ID).apply(Some(ScheduleId(11))),
        Some(ScheduleId(11))
    );
    assert_eq!(SlotChange::Release(ID).apply(None), None);
    assert_eq!(SlotChange::Claim(ID).apply(None), Some(ID));
    assert_eq!(SlotChange::Unchanged.apply(Some(ID)), Some(ID));
}

#[test]
fn a_suspended_schedule_still_blocks_other_starts() {
    let mut a = new_schedule(None);
    let mut b = Schedule::create(
        ScheduleId(11),
        OWNER,
        None,
        draft(ScheduleType::QuickTask),
        &defaults(),
    )
    .0;
    let mut slot = None;
    slot = a.start(at(0), slot, &none()).unwrap().slot.apply(slot);
    slot = a.suspend(at(10)).unwrap().slot.apply(slot);
    assert_eq!(slot, Some(ID));
    assert!(ScheduleState::Suspended.holds_slot());
    assert!(matches!(
        b.start(at(20), slot, &none()),
        Err(ScheduleError::AlreadyRunning { .. })
    ));
    slot = a.cancel(at(30), None).unwrap().slot.apply(slot);
    assert_eq!(slot, None);
    slot = b.start(at(40), slot, &none()).unwrap().slot.apply(slot);
    assert_eq!(slot, Some(ScheduleId(11)));
    // Completing `a` from NOT_STARTED does not clear `b`'s slot.
    slot = a
        .complete(at(50), &seoul(), None, &none())
        .unwrap()
        .slot
        .apply(slot);
    assert_eq!(slot, Some(ScheduleId(11)));
}

#[test]
fn only_running_and_suspended_states_hold_the_slot() {
    assert!(!ScheduleState::NotStarted.holds_slot());
    assert!(ScheduleState::InProgress.holds_slot());
    assert!(ScheduleState::Suspended.holds_slot());
    assert!(!ScheduleState::Completed.holds_slot());
}

// =============================================================================================
// Linked task side effects
// =============================================================================================

#[test]
fn completing_a_linked_schedule_completes_its_task_after_the_schedule_event() {
    let mut s = new_schedule(Some(TaskId(5)));
    let mut t = task(5, false);
    let _ = s.start(at(0), None, &prereqs(5, &[])).unwrap();
    let fx = s
        .complete(at(45), &seoul(), Some(&mut t), &prereqs(5, &[]))
        .unwrap();
    assert!(t.is_completed());
    assert_eq!(
        fx.events,
        vec![
            completed(ScheduleState::InProgress),
            DomainEvent::TaskCompleted {
                task_id: TaskId(5),
                owner_id: OWNER
            },
        ]
    );
}

#[test]
fn completing_with_an_already_completed_task_emits_no_task_event() {
    let mut s = new_schedule(Some(TaskId(5)));
    let mut t = task(5, true);
    let fx = s
        .complete(at(0), &seoul(), Some(&mut t), &prereqs(5, &[]))
        .unwrap();
    assert_eq!(fx.events, vec![completed(ScheduleState::NotStarted)]);
}

#[test]
fn cancelling_a_linked_schedule_reopens_a_completed_task() {
    let mut s = new_schedule(Some(TaskId(5)));
    let mut t = task(5, false);
    let _ = s
        .complete(at(0), &seoul(), Some(&mut t), &prereqs(5, &[]))
        .unwrap();
    let fx = s.cancel(at(10), Some(&mut t)).unwrap();
    assert!(!t.is_completed());
    assert_eq!(
        fx.events,
        vec![
            canceled(ScheduleState::Completed),
            DomainEvent::TaskCanceled {
                task_id: TaskId(5),
                owner_id: OWNER
            },
        ]
    );
    // From IN_PROGRESS the task is already incomplete: no task event (idempotent).
    let _ = s.start(at(20), None, &prereqs(5, &[])).unwrap();
    let fx = s.cancel(at(30), Some(&mut t)).unwrap();
    assert_eq!(fx.events, vec![canceled(ScheduleState::InProgress)]);
}

#[test]
fn cancel_without_a_task_never_touches_tasks() {
    let mut s = in_state(ScheduleState::InProgress);
    let fx = s.cancel(at(10), None).unwrap();
    assert_eq!(fx.events.len(), 1);
    assert!(matches!(
        new_schedule(Some(TaskId(5))).cancel(at(0), None),
        Err(ScheduleError::IllegalTransition(_))
    ));
}

#[test]
fn task_completion_is_refused_while_its_schedule_runs_or_is_suspended() {
    for state in [ScheduleState::InProgress, ScheduleState::Suspended] {
        let mut s = new_schedule(Some(TaskId(5)));
        let _ = s.start(at(0), None, &prereqs(5, &[])).unwrap();
        if state == ScheduleState::Suspended {
            let _ = s.suspend(at(5)).unwrap();
        }
        let mut t = task(5, false);
        let err = t
            .complete(&prereqs(5, &[]), Some(&mut s), at(10), &seoul())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "해당 작업과 연결된 일정이 현재 진행중이어서 작업을 완료할 수 없습니다. 일정을 통해 작업을 완료해주세요."
        );
        assert_eq!(err.class().status(), 409);
        assert!(!t.is_completed());
        assert_eq!(s.state(), state);
    }
}

#[test]
fn task_completion_finishes_a_not_started_schedule_with_zero_elapsed() {
    let mut s = new_schedule(Some(TaskId(5)));
    let mut t = task(5, false);
    let fx = t
        .complete(&prereqs(5, &[(1, true)]), Some(&mut s), at(30), &seoul())
        .unwrap();
    assert!(t.is_completed());
    assert_eq!(s.state(), ScheduleState::Completed);
    assert_eq!(s.elapsed(), SignedDuration::ZERO);
    assert_eq!(
        fx.events,
        vec![
            completed(ScheduleState::NotStarted),
            DomainEvent::TaskCompleted {
                task_id: TaskId(5),
                owner_id: OWNER
            },
        ]
    );
    assert_eq!(
        fx.statistics,
        vec![StatsChange::Record(deep(week_of(30), mins(0)))]
    );
}

#[test]
fn task_completion_checks_prerequisites_and_is_idempotent() {
    let mut t = task(5, false);
    let err = t
        .complete(&prereqs(5, &[(1, false)]), None, at(0), &seoul())
        .unwrap_err();
    assert_eq!(
        err,
        TaskError::PrerequisitesIncomplete {
            incomplete: vec![TaskId(1)]
        }
    );
    assert_eq!(
        err.to_string(),
        "이전 작업이 완료되지 않아 해당 작업을 완료할 수 없습니다."
    );
    assert_eq!(err.class().status(), 409);

    let fx = t
        .complete(&prereqs(5, &[(1, true)]), None, at(0), &seoul())
        .unwrap();
    assert_eq!(
        fx.events,
        vec![DomainEvent::TaskCompleted {
            task_id: TaskId(5),
            owner_id: OWNER
        }]
    );
    let again = t
        .complete(&prereqs(5, &[(1, true)]), None, at(1), &seoul())
        .unwrap();
    assert!(
        again.is_empty(),
        "completing twice emits nothing the second time"
    );
    // With a COMPLETED schedule nothing more happens either.
    let mut s = new_schedule(Some(TaskId(5)));
    let mut copy = task(5, false);
    let _ = s
        .complete(at(0), &seoul(), Some(&mut copy), &prereqs(5, &[]))
        .unwrap();
    assert!(
        t.complete(&prereqs(5, &[]), Some(&mut s), at(2), &seoul())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn task_reopen_resets_a_completed_schedule_and_reverts_its_statistics() {
    let mut s = new_schedule(Some(TaskId(5)));
    let mut t = task(5, false);
    let _ = s.start(at(0), None, &prereqs(5, &[])).unwrap();
    let _ = s
        .complete(at(50), &seoul(), Some(&mut t), &prereqs(5, &[]))
        .unwrap();
    let fx = t.reopen(Some(&mut s), at(60)).unwrap();
    assert!(!t.is_completed());
    assert_eq!(s.state(), ScheduleState::NotStarted);
    assert_eq!(s.elapsed(), mins(50));
    assert_eq!(
        fx.events,
        vec![
            canceled(ScheduleState::Completed),
            DomainEvent::TaskCanceled {
                task_id: TaskId(5),
                owner_id: OWNER
            },
        ]
    );
    assert_eq!(
        fx.statistics,
        vec![StatsChange::Revert(deep(week_of(50), mins(50)))]
    );
    assert!(
        t.reopen(Some(&mut s), at(70)).unwrap().is_empty(),
        "reopen is idempotent"
    );
}

#[test]
fn task_reopen_without_schedule_only_flips_the_task() {
    let mut t = task(5, true);
    let fx = t.reopen(None, at(0)).unwrap();
    assert_eq!(
        fx.events,
        vec![DomainEvent::TaskCanceled {
            task_id: TaskId(5),
            owner_id: OWNER
        }]
    );
    assert!(fx.statistics.is_empty());
    let mut unrelated = new_schedule(Some(TaskId(6)));
    let mut t = task(5, true);
    assert_eq!(
        t.reopen(Some(&mut unrelated), at(0))
            .unwrap_err()
            .class()
            .status(),
        500
    );
}

// =============================================================================================
// Statistics through the aggregate
// =============================================================================================

#[test]
fn completion_records_into_the_week_of_the_completion_instant_in_the_member_zone() {
    // Designated start on Friday; completed on Monday 2025-10-06 00:30 Seoul (Sunday 15:30 UTC).
    let mut s = new_schedule(None);
    let monday_0030: Timestamp = "2025-10-05T15:30:00Z".parse().unwrap();
    let _ = s
        .start(
            monday_0030
                .checked_sub(SignedDuration::from_hours(2))
                .unwrap(),
            None,
            &none(),
        )
        .unwrap();
    let fx = s.complete(monday_0030, &seoul(), None, &none()).unwrap();
    let week = WeekKey {
        start: date(2025, 10, 6),
        zone_id: "Asia/Seoul".into(),
    };
    assert_eq!(
        fx.statistics,
        vec![StatsChange::Record(deep(week.clone(), mins(120)))]
    );
    // The same instant for a member in UTC goes to the week of Monday 2025-09-29.
    let mut s = new_schedule(None);
    let fx = s
        .complete(monday_0030, &Zone::utc(), None, &none())
        .unwrap();
    assert_eq!(fx.statistics[0].week().start, date(2025, 9, 29));
}

#[test]
fn cancel_reverts_into_the_recorded_week_even_after_a_zone_change() {
    let mut s = new_schedule(None);
    let _ = s.start(at(0), None, &none()).unwrap();
    let fx = s.complete(at(90), &seoul(), None, &none()).unwrap();
    let recorded = fx.statistics[0].clone();
    // The member moves to New York; the undo still hits the Seoul bucket, same amount.
    let fx = s.cancel(at(100), None).unwrap();
    assert_eq!(
        fx.statistics,
        vec![StatsChange::Revert(recorded.contribution().clone())]
    );
    let mut bucket = WeeklyTotals::ZERO;
    bucket.apply(recorded.deltas());
    bucket.apply(fx.statistics[0].deltas());
    assert_eq!(bucket, WeeklyTotals::ZERO);
}

#[test]
fn quick_and_admin_types_record_their_fields() {
    for kind in [ScheduleType::QuickTask, ScheduleType::AdminTask] {
        let mut s = Schedule::create(ID, OWNER, None, draft(kind), &defaults()).0;
        let _ = s.start(at(0), None, &none()).unwrap();
        let fx = s.complete(at(45), &seoul(), None, &none()).unwrap();
        let d = fx.statistics[0].deltas();
        assert_eq!(d.total, mins(45));
        assert_eq!(d.deep_work, mins(0));
        assert_eq!(
            d.admin_work,
            if kind == ScheduleType::AdminTask {
                mins(45)
            } else {
                mins(0)
            }
        );
    }
}

// =============================================================================================
// Create, patch, delete, detach
// =============================================================================================

#[test]
fn create_emits_the_upcoming_time_with_the_new_id() {
    let start: Timestamp = "2026-02-01T00:00:00.123456789Z".parse().unwrap();
    let d = ScheduleDraft::new(
        Title::parse("t").unwrap(),
        Description::parse("d").unwrap(),
        ScheduleType::QuickTask,
        start,
    );
    let (s, fx) = Schedule::create(ID, OWNER, None, d, &defaults());
    let truncated: Timestamp = "2026-02-01T00:00:00.123456Z".parse().unwrap();
    assert_eq!(s.designated_start(), truncated);
    assert_eq!(s.state(), ScheduleState::NotStarted);
    assert_eq!(s.elapsed(), SignedDuration::ZERO);
    assert_eq!(
        fx.events,
        vec![DomainEvent::ScheduleUpcomingTimeUpdated {
            schedule_id: ID,
            owner_id: OWNER,
            new_upcoming_time: truncated,
            reminders: Reminders::at_start(),
        }]
    );
}

#[test]
fn draft_from_task_defaults_and_validates_overrides() {
    let t = task(5, true);
    let d = ScheduleDraft::from_task(&t, None, None, ScheduleType::DeepWork, at(0)).unwrap();
    assert_eq!(d.title, *t.title());
    assert_eq!(d.description, *t.description());
    let d =
        ScheduleDraft::from_task(&t, Some("새 제목"), None, ScheduleType::DeepWork, at(0)).unwrap();
    assert_eq!(d.title.as_str(), "새 제목");
    let err =
        ScheduleDraft::from_task(&t, Some(""), None, ScheduleType::DeepWork, at(0)).unwrap_err();
    assert_eq!(err.class().status(), 400, "the reference answered 500 here");
    let err = ScheduleDraft::from_task(
        &t,
        None,
        Some(&"x".repeat(2001)),
        ScheduleType::DeepWork,
        at(0),
    )
    .unwrap_err();
    assert_eq!(err, ValidationError::Description);
}

#[test]
fn patch_only_in_not_started_and_emits_on_time_change() {
    let mut s = new_schedule(None);
    let fx = s
        .patch(
            SchedulePatch {
                title: Some(Title::parse("새").unwrap()),
                ..Default::default()
            },
            &defaults(),
        )
        .unwrap();
    assert_eq!(
        fx.events,
        vec![DomainEvent::ScheduleDetailsUpdated {
            schedule_id: ID,
            owner_id: OWNER,
            changed: vec!["title"],
        }],
        "a title alone: the details event"
    );
    assert_eq!(s.title().as_str(), "새");
    let fx = s
        .patch(
            SchedulePatch {
                title: Some(Title::parse("새").unwrap()),
                ..Default::default()
            },
            &defaults(),
        )
        .unwrap();
    assert!(fx.events.is_empty(), "the same title: nothing changed");
    let fx = s
        .patch(
            SchedulePatch {
                designated_start: Some(at(0)),
                ..Default::default()
            },
            &defaults(),
        )
        .unwrap();
    assert!(fx.events.is_empty(), "same start time: nothing to announce");
    let fx = s
        .patch(
            SchedulePatch {
                designated_start: Some(at(60)),
                schedule_type: Some(ScheduleType::AdminTask),
                description: Some(Description::parse("설명2").unwrap()),
                ..Default::default()
            },
            &defaults(),
        )
        .unwrap();
    assert_eq!(
        fx.events,
        vec![DomainEvent::ScheduleUpcomingTimeUpdated {
            schedule_id: ID,
            owner_id: OWNER,
            new_upcoming_time: at(60),
            reminders: Reminders::at_start(),
        }]
    );
    assert_eq!(s.schedule_type(), ScheduleType::AdminTask);
    assert_eq!(s.description().as_str(), "설명2");

    for state in [
        ScheduleState::InProgress,
        ScheduleState::Suspended,
        ScheduleState::Completed,
    ] {
        let mut s = in_state(state);
        let before = s.clone();
        let err = s
            .patch(
                SchedulePatch {
                    title: Some(Title::parse("x").unwrap()),
                    ..Default::default()
                },
                &defaults(),
            )
            .unwrap_err();
        assert_eq!(err.to_string(), "시작되지 않은 일정만 수정할 수 있습니다.");
        assert_eq!(err.class().status(), 409);
        assert_eq!(s, before);
    }
}

fn list(items: &[&str]) -> Reminders {
    Reminders::parse(items).unwrap()
}

fn upcoming(start: Timestamp, reminders: Reminders) -> Vec<DomainEvent> {
    vec![DomainEvent::ScheduleUpcomingTimeUpdated {
        schedule_id: ID,
        owner_id: OWNER,
        new_upcoming_time: start,
        reminders,
    }]
}

#[test]
fn the_event_carries_the_effective_reminders_and_goes_out_when_they_change() {
    let series = Inherited::new(Some(list(&["-PT1H"])), Reminders::at_start());
    let (s, fx) = Schedule::create(ID, OWNER, None, draft(ScheduleType::DeepWork), &series);
    assert_eq!(
        fx.events,
        upcoming(at(0), list(&["-PT1H"])),
        "the series' list"
    );
    assert_eq!(s.reminders(), None, "none of its own");
    let own = draft(ScheduleType::DeepWork).with_reminders(Some(list(&["-PT5M"])));
    let (_, fx) = Schedule::create(ID, OWNER, None, own, &series);
    assert_eq!(fx.events, upcoming(at(0), list(&["-PT5M"])), "its own list");

    // Only the reminders change: the event again, same start.
    let mut s = new_schedule(None);
    let set = |r: Option<Reminders>| SchedulePatch {
        reminders: Some(r),
        ..Default::default()
    };
    let fx = s.patch(set(Some(list(&["-PT10M"]))), &defaults()).unwrap();
    assert_eq!(fx.events, upcoming(at(0), list(&["-PT10M"])));
    let fx = s.patch(set(Some(list(&["-PT600S"]))), &defaults()).unwrap();
    assert!(fx.events.is_empty(), "the same list");
    let fx = s.patch(set(None), &defaults()).unwrap();
    assert_eq!(
        fx.events,
        upcoming(at(0), Reminders::at_start()),
        "back to the default"
    );
    let fx = s
        .patch(set(Some(Reminders::at_start())), &defaults())
        .unwrap();
    assert!(
        fx.events.is_empty(),
        "its own list, equal to the default, arms the same"
    );
    assert_eq!(s.reminders(), Some(&Reminders::at_start()));

    // A series-wide edit: what it inherits changes, its row may not.
    let mut s = new_schedule(None);
    let before = Inherited::new(Some(list(&["-PT1H"])), Reminders::at_start());
    let after = Inherited::new(Some(list(&["-PT2H"])), Reminders::at_start());
    assert_eq!(
        s.inherit(&before, &after).events,
        upcoming(at(0), list(&["-PT2H"]))
    );
    assert!(s.inherit(&before, &before).is_empty());
    let fx = s
        .patch_across(SchedulePatch::default(), &before, &after)
        .unwrap();
    assert_eq!(fx.events, upcoming(at(0), list(&["-PT2H"])));
    let _ = s.patch(set(Some(list(&["-PT5M"]))), &after).unwrap();
    assert!(
        s.inherit(&before, &after).is_empty(),
        "a list of its own is kept"
    );
    for state in [
        ScheduleState::InProgress,
        ScheduleState::Suspended,
        ScheduleState::Completed,
    ] {
        assert!(
            in_state(state).inherit(&before, &after).is_empty(),
            "{state} is not re-armed"
        );
    }
}

#[test]
fn delete_allowed_only_when_not_started_or_completed() {
    let s = new_schedule(Some(TaskId(5)));
    let fx = s.delete().unwrap();
    assert_eq!(
        fx.events,
        vec![DomainEvent::ScheduleDeleted {
            schedule_id: ID,
            owner_id: OWNER,
            task_id: Some(TaskId(5))
        }]
    );
    assert!(fx.statistics.is_empty());

    let done = in_state(ScheduleState::Completed);
    let fx = done.delete().unwrap();
    assert_eq!(
        fx.statistics,
        vec![StatsChange::Revert(deep(week_of(120), mins(120)))]
    );

    for state in [ScheduleState::InProgress, ScheduleState::Suspended] {
        let err = in_state(state).delete().unwrap_err();
        assert_eq!(
            err.to_string(),
            "시작되지 않았거나 완료된 일정만 삭제할 수 있습니다."
        );
        assert_eq!(err.class().status(), 409);
    }
}

#[test]
fn detached_schedules_lose_their_task_for_good() {
    let mut s = new_schedule(Some(TaskId(5)));
    s.detach_task();
    assert_eq!(s.task_id(), None);
    let fx = s.complete(at(0), &seoul(), None, &none()).unwrap();
    assert_eq!(fx.events.len(), 1);
}

// =============================================================================================
// Storage round trip
// =============================================================================================

#[test]
fn snapshots_round_trip_in_every_state() {
    for state in ScheduleState::ALL {
        let s = in_state(state);
        let snap = s.run().snapshot();
        assert_eq!(snap.state, state);
        assert_eq!(Run::from_snapshot(snap).unwrap(), *s.run());
    }
}

#[test]
fn contradictory_snapshots_are_refused() {
    let ok = RunSnapshot {
        state: ScheduleState::NotStarted,
        elapsed: SignedDuration::ZERO,
        running_since: None,
        completed_week: None,
        changed_at: None,
    };
    let cases = [
        RunSnapshot {
            elapsed: SignedDuration::from_secs(-1),
            ..ok.clone()
        },
        RunSnapshot {
            running_since: Some(at(0)),
            ..ok.clone()
        },
        RunSnapshot {
            state: ScheduleState::InProgress,
            ..ok.clone()
        },
        RunSnapshot {
            state: ScheduleState::Completed,
            ..ok.clone()
        },
        RunSnapshot {
            completed_week: Some(week_of(0)),
            ..ok.clone()
        },
    ];
    for bad in cases {
        let err = Run::from_snapshot(bad.clone()).unwrap_err();
        assert_eq!(err.class().status(), 500, "{bad:?}");
    }
    assert!(Run::from_snapshot(ok).is_ok());
}

#[test]
fn a_completed_schedules_time_is_corrected_and_its_week_follows() {
    let mut s = in_state(ScheduleState::Completed);
    let before = s.contribution().unwrap();
    let effects = s.correct_elapsed(SignedDuration::from_mins(50)).unwrap();
    let after = s.contribution().unwrap();
    assert_eq!(after.amount, SignedDuration::from_mins(50));
    assert_eq!(after.week, before.week, "the same week");
    assert_eq!(
        effects.statistics,
        vec![StatsChange::Revert(before), StatsChange::Record(after)]
    );
    assert!(effects.events.is_empty());
    // The same time again: nothing to change.
    let effects = s.correct_elapsed(SignedDuration::from_mins(50)).unwrap();
    assert!(effects.is_empty());
    // Out of range, or not completed: refused, nothing changed.
    for bad in [
        SignedDuration::from_secs(-1),
        SignedDuration::from_hours(24) + SignedDuration::from_secs(1),
    ] {
        assert_eq!(
            s.correct_elapsed(bad),
            Err(ScheduleError::CorrectionOutOfRange)
        );
    }
    assert_eq!(s.elapsed(), SignedDuration::from_mins(50));
    for state in [
        ScheduleState::NotStarted,
        ScheduleState::InProgress,
        ScheduleState::Suspended,
    ] {
        let mut s = in_state(state);
        let err = s.correct_elapsed(SignedDuration::from_mins(5)).unwrap_err();
        assert_eq!(err.class().status(), 409, "{state:?}");
    }
}
