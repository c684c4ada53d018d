//! The schedule aggregate and its run state machine (docs/contract/task.md#schedules, #state-machine).
//!
//! # The transition table (docs/contract/task.md#state-machine; [`transition`] is its single source)
//!
//! | from \ op    | start                 | suspend            | complete                | cancel                    |
//! |--------------|-----------------------|--------------------|-------------------------|---------------------------|
//! | NOT_STARTED  | → IN_PROGRESS         | ✗ 409              | → COMPLETED (+0)        | ✗ 409                     |
//! | IN_PROGRESS  | ✗ 409                 | → SUSPENDED (+run) | → COMPLETED (+run)      | → NOT_STARTED (run lost)  |
//! | SUSPENDED    | → IN_PROGRESS (resume)| ✗ 409              | ✗ 409 (resume first)    | → NOT_STARTED (kept)      |
//! | COMPLETED    | ✗ 409                 | ✗ 409              | ✗ 409                   | → NOT_STARTED (kept)      |
//!
//! "+run" adds the current session (`now − since`) to the elapsed time; "run lost" discards only
//! the current session (earlier sessions stay); "kept" leaves the elapsed time as it is. Cancel is
//! not a state: it resets to NOT_STARTED. COMPLETED is terminal except for that reset.
//!
//! Events: start → `schedule.state.started`, complete → `schedule.state.completed`, cancel →
//! `schedule.state.canceled`, each with the state *before* the transition; suspend emits nothing.
//!
//! # Fixes against the reference (docs/contract/task.md#defects)
//!
//! * Illegal transitions are 409, not 400 (docs/contract/task.md#statuses).
//! * Times are the server's `now`, never the client's `time` (docs/contract/task.md#server-time).
//!   A `now` earlier than the session start (clock skew between replicas) counts the session as
//!   zero instead of failing, so the elapsed time never decreases and never goes negative.
//! * Elapsed time keeps microsecond precision (the reference cut it to whole seconds).
//! * Events are produced only after every check passed (docs/contract/task.md#event-delivery).
//! * Completing (from any state, also through the task) checks the linked task's prerequisites
//!   (the reference checked them only on start); starting and resuming check them as in the reference.
//! * The running slot is released only if it holds *this* schedule
//!   (docs/contract/task.md#running-slot-and-prerequisites).
//! * Statistics are recorded and reverted exactly (see [`super::stats`]).
//!
//! # The running slot (docs/contract/task.md#running-slot; the decision is in ADR 0004)
//!
//! A member has one slot, `now_running_schedule_id`. Start and resume claim it (refused with 409
//! `"이미 실행 중인 일정이 존재합니다."` while another schedule holds it); complete, cancel and delete
//! release it if this schedule holds it. **Suspend keeps it**: a paused schedule is still the
//! member's current schedule, so `/v2/members/now` keeps returning it and the reference web client
//! keeps showing it in the mini player — the only place the client offers "resume" (its card
//! button is disabled for SUSPENDED). To start another schedule, the member completes (after
//! resuming) or cancels the paused one. See `docs/adr/0004-schedule-state-machine.md`.

use std::fmt;
use std::str::FromStr;

use jiff::{SignedDuration, Timestamp};

use super::dependency::Prerequisites;
use super::error::{CorruptRecord, IllegalTransition, ScheduleError, ValidationError, msg};
use super::event::DomainEvent;
use super::planned::PlannedDuration;
use super::reminders::{Inherited, Reminders};
use super::stats::{Contribution, StatsChange, WeekKey};
use super::task::Task;
use super::text::{Description, Title};
use super::time::{Zone, truncate_to_micros};
use super::{Effects, MemberId, ScheduleId, TaskId};

// ---------------------------------------------------------------------------------------------
// States, types, operations
// ---------------------------------------------------------------------------------------------

/// The four states, stored and sent as their reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScheduleState {
    NotStarted,
    InProgress,
    Suspended,
    Completed,
}

impl ScheduleState {
    pub const ALL: [Self; 4] = [
        Self::NotStarted,
        Self::InProgress,
        Self::Suspended,
        Self::Completed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotStarted => "NOT_STARTED",
            Self::InProgress => "IN_PROGRESS",
            Self::Suspended => "SUSPENDED",
            Self::Completed => "COMPLETED",
        }
    }

    /// Whether a schedule in this state holds the member's running slot (IN_PROGRESS and
    /// SUSPENDED — suspend keeps the slot). A slot that points at a schedule in any other state, or
    /// at one that no longer exists, is stale and may be treated as free.
    pub const fn holds_slot(self) -> bool {
        matches!(self, Self::InProgress | Self::Suspended)
    }
}

impl fmt::Display for ScheduleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ScheduleState {
    type Err = CorruptRecord;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| CorruptRecord::UnknownState(s.to_owned()))
    }
}

/// `scheduleType`: what kind of work a schedule is (decides the statistics bucket fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScheduleType {
    DeepWork,
    QuickTask,
    AdminTask,
}

impl ScheduleType {
    pub const ALL: [Self; 3] = [Self::DeepWork, Self::QuickTask, Self::AdminTask];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::DeepWork => "DEEP_WORK",
            Self::QuickTask => "QUICK_TASK",
            Self::AdminTask => "ADMIN_TASK",
        }
    }

    /// From a request: the exact (case-sensitive) enum name, else 400.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| ValidationError::ScheduleType(s.to_owned()))
    }

    /// The message for a missing `scheduleType` (`"일정 유형은 null일 수 없습니다."`).
    pub const MISSING: &'static str = msg::SCHEDULE_TYPE_MISSING;
}

impl fmt::Display for ScheduleType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The four run operations. Resume is `Start` from SUSPENDED (one endpoint, `/start`, as the
/// reference); pause is `Suspend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Start,
    Suspend,
    Complete,
    Cancel,
}

impl Operation {
    pub const ALL: [Self; 4] = [Self::Start, Self::Suspend, Self::Complete, Self::Cancel];

    pub const fn name(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Suspend => "suspend",
            Self::Complete => "complete",
            Self::Cancel => "cancel",
        }
    }
}

/// The transition table (docs/contract/task.md#state-machine): the state `op` leads to from `from`, or
/// the cell's refusal (409).
pub fn transition(from: ScheduleState, op: Operation) -> Result<ScheduleState, IllegalTransition> {
    use Operation as O;
    use ScheduleState as S;
    let refuse = |message| Err(IllegalTransition::new(from, op, message));
    match (from, op) {
        (S::NotStarted, O::Start) => Ok(S::InProgress),
        (S::NotStarted, O::Suspend) => refuse(msg::NOT_STARTED_SUSPEND),
        (S::NotStarted, O::Complete) => Ok(S::Completed),
        (S::NotStarted, O::Cancel) => refuse(msg::NOT_STARTED_CANCEL),

        (S::InProgress, O::Start) => refuse(msg::IN_PROGRESS_START),
        (S::InProgress, O::Suspend) => Ok(S::Suspended),
        (S::InProgress, O::Complete) => Ok(S::Completed),
        (S::InProgress, O::Cancel) => Ok(S::NotStarted),

        (S::Suspended, O::Start) => Ok(S::InProgress),
        (S::Suspended, O::Suspend) => refuse(msg::SUSPENDED_SUSPEND),
        (S::Suspended, O::Complete) => refuse(msg::SUSPENDED_COMPLETE),
        (S::Suspended, O::Cancel) => Ok(S::NotStarted),

        (S::Completed, O::Start) => refuse(msg::COMPLETED_START),
        (S::Completed, O::Suspend) => refuse(msg::COMPLETED_SUSPEND),
        (S::Completed, O::Complete) => refuse(msg::COMPLETED_COMPLETE),
        (S::Completed, O::Cancel) => Ok(S::NotStarted),
    }
}

// ---------------------------------------------------------------------------------------------
// The run (state + elapsed time)
// ---------------------------------------------------------------------------------------------

/// The state with what each state needs to remember.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    NotStarted,
    /// Running since `since` (server instant).
    InProgress {
        since: Timestamp,
    },
    Suspended,
    /// Completed; `week` is the statistics bucket the elapsed time was recorded into.
    Completed {
        week: WeekKey,
    },
}

impl RunState {
    pub fn state(&self) -> ScheduleState {
        match self {
            Self::NotStarted => ScheduleState::NotStarted,
            Self::InProgress { .. } => ScheduleState::InProgress,
            Self::Suspended => ScheduleState::Suspended,
            Self::Completed { .. } => ScheduleState::Completed,
        }
    }
}

/// The run of one schedule: its state and the elapsed time of its finished sessions.
///
/// Instants are taken at microsecond precision (what the stores keep), so a stored run comes back
/// identical and the elapsed time is a whole number of microseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    state: RunState,
    elapsed: SignedDuration,
    /// When its state last changed (`None`: never, or before Pinit kept it) — the earliest a later change may
    /// be dated ([`super::dated`]).
    changed_at: Option<Timestamp>,
}

/// What one transition of a [`Run`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub before: ScheduleState,
    pub after: ScheduleState,
    /// Added to the elapsed time (a finished session), ≥ 0.
    pub elapsed_added: SignedDuration,
    /// A running session thrown away by cancel from IN_PROGRESS, ≥ 0.
    pub discarded: SignedDuration,
    /// On complete: the week the elapsed time is recorded into.
    pub recorded: Option<WeekKey>,
    /// On cancel from COMPLETED: the week whose record is reverted.
    pub reverted: Option<WeekKey>,
}

/// How a run is stored (`state`, `elapsed_time`, `running_since`, `stats_week_start` +
/// `stats_week_zone_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSnapshot {
    pub state: ScheduleState,
    pub elapsed: SignedDuration,
    /// Set only in IN_PROGRESS.
    pub running_since: Option<Timestamp>,
    /// Set only in COMPLETED.
    pub completed_week: Option<WeekKey>,
    /// When the state last changed (`state_changed_at_us`; `None` in rows older than it).
    pub changed_at: Option<Timestamp>,
}

impl Default for Run {
    fn default() -> Self {
        Self::new()
    }
}

/// The most a completed schedule's tracked time may be corrected to.
pub const MAX_CORRECTED: SignedDuration = SignedDuration::from_hours(24);

/// A duration at the microsecond precision every run keeps.
fn truncate(d: SignedDuration) -> SignedDuration {
    SignedDuration::from_micros(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// The length of a session, never negative (clock skew counts as zero).
fn session(since: Timestamp, now: Timestamp) -> SignedDuration {
    now.duration_since(since).max(SignedDuration::ZERO)
}

impl Run {
    /// A new schedule's run: NOT_STARTED, nothing elapsed.
    pub const fn new() -> Self {
        Self {
            state: RunState::NotStarted,
            elapsed: SignedDuration::ZERO,
            changed_at: None,
        }
    }

    /// When the state last changed: as kept, else (older rows) the running session's start.
    pub fn changed_at(&self) -> Option<Timestamp> {
        self.changed_at.or(self.running_since())
    }

    pub fn state(&self) -> ScheduleState {
        self.state.state()
    }

    /// The elapsed time of finished sessions (`duration` in responses).
    pub fn elapsed(&self) -> SignedDuration {
        self.elapsed
    }

    /// The elapsed time including the running session, if any, up to `now`.
    pub fn elapsed_at(&self, now: Timestamp) -> SignedDuration {
        match self.state {
            RunState::InProgress { since } => self.elapsed.saturating_add(session(since, now)),
            _ => self.elapsed,
        }
    }

    pub fn running_since(&self) -> Option<Timestamp> {
        match self.state {
            RunState::InProgress { since } => Some(since),
            _ => None,
        }
    }

    pub fn completed_week(&self) -> Option<&WeekKey> {
        match &self.state {
            RunState::Completed { week } => Some(week),
            _ => None,
        }
    }

    fn step(&self, after: ScheduleState) -> Step {
        Step {
            before: self.state(),
            after,
            elapsed_added: SignedDuration::ZERO,
            discarded: SignedDuration::ZERO,
            recorded: None,
            reverted: None,
        }
    }

    /// Start (from NOT_STARTED) or resume (from SUSPENDED): a session begins at `now`.
    pub fn start(&mut self, now: Timestamp) -> Result<Step, IllegalTransition> {
        let now = truncate_to_micros(now);
        let after = transition(self.state(), Operation::Start)?;
        let step = self.step(after);
        self.state = RunState::InProgress { since: now };
        self.changed_at = Some(now);
        Ok(step)
    }

    /// Suspend (from IN_PROGRESS): the session ends at `now` and is added.
    pub fn suspend(&mut self, now: Timestamp) -> Result<Step, IllegalTransition> {
        let now = truncate_to_micros(now);
        let after = transition(self.state(), Operation::Suspend)?;
        let mut step = self.step(after);
        if let RunState::InProgress { since } = self.state {
            step.elapsed_added = session(since, now);
        }
        self.elapsed = self.elapsed.saturating_add(step.elapsed_added);
        self.state = RunState::Suspended;
        self.changed_at = Some(now);
        Ok(step)
    }

    /// Complete (from NOT_STARTED or IN_PROGRESS): a running session ends at `now` and is added;
    /// the elapsed time is recorded into the week of `now` in `member_zone`.
    pub fn complete(&mut self, now: Timestamp, member_zone: &Zone) -> Result<Step, ScheduleError> {
        let now = truncate_to_micros(now);
        let after = transition(self.state(), Operation::Complete)?;
        let week = WeekKey::containing(now, member_zone).map_err(ValidationError::from)?;
        let mut step = self.step(after);
        if let RunState::InProgress { since } = self.state {
            step.elapsed_added = session(since, now);
        }
        step.recorded = Some(week.clone());
        self.elapsed = self.elapsed.saturating_add(step.elapsed_added);
        self.state = RunState::Completed { week };
        self.changed_at = Some(now);
        Ok(step)
    }

    /// Cancel (from IN_PROGRESS, SUSPENDED or COMPLETED): back to NOT_STARTED. A running session is
    /// discarded; finished sessions are kept; a completed run's record is reverted.
    pub fn cancel(&mut self, now: Timestamp) -> Result<Step, IllegalTransition> {
        let now = truncate_to_micros(now);
        let after = transition(self.state(), Operation::Cancel)?;
        let mut step = self.step(after);
        match &self.state {
            RunState::InProgress { since } => step.discarded = session(*since, now),
            RunState::Completed { week } => step.reverted = Some(week.clone()),
            RunState::NotStarted | RunState::Suspended => {}
        }
        self.state = RunState::NotStarted;
        self.changed_at = Some(now);
        Ok(step)
    }

    /// Corrects the tracked time of a COMPLETED run (the member says how long it really took); the week it
    /// counts in stays. 409 in any other state.
    pub fn correct(&mut self, elapsed: SignedDuration) -> Result<(), ScheduleError> {
        match self.state {
            RunState::Completed { .. } => {
                self.elapsed = truncate(elapsed);
                Ok(())
            }
            _ => Err(ScheduleError::NotCompleted(self.state())),
        }
    }

    /// Any operation by name (for table-driven callers and tests).
    pub fn apply(
        &mut self,
        op: Operation,
        now: Timestamp,
        member_zone: &Zone,
    ) -> Result<Step, ScheduleError> {
        Ok(match op {
            Operation::Start => self.start(now)?,
            Operation::Suspend => self.suspend(now)?,
            Operation::Complete => self.complete(now, member_zone)?,
            Operation::Cancel => self.cancel(now)?,
        })
    }

    pub fn snapshot(&self) -> RunSnapshot {
        RunSnapshot {
            state: self.state(),
            elapsed: self.elapsed,
            running_since: self.running_since(),
            completed_week: self.completed_week().cloned(),
            changed_at: self.changed_at,
        }
    }

    /// Takes a stored run back, refusing contradictory rows (500).
    pub fn from_snapshot(s: RunSnapshot) -> Result<Self, CorruptRecord> {
        let bad = |why| Err(CorruptRecord::InconsistentRun(why));
        if s.elapsed.is_negative() {
            return bad("negative elapsed time");
        }
        if s.running_since.is_some() != (s.state == ScheduleState::InProgress) {
            return bad("running_since must be set exactly in IN_PROGRESS");
        }
        if s.completed_week.is_some() != (s.state == ScheduleState::Completed) {
            return bad("the statistics week must be set exactly in COMPLETED");
        }
        let state = match (s.state, s.running_since, s.completed_week) {
            (ScheduleState::NotStarted, _, _) => RunState::NotStarted,
            (ScheduleState::Suspended, _, _) => RunState::Suspended,
            (ScheduleState::InProgress, Some(since), _) => RunState::InProgress { since },
            (ScheduleState::Completed, _, Some(week)) => RunState::Completed { week },
            _ => return bad("unreachable combination"),
        };
        Ok(Self {
            state,
            elapsed: s.elapsed,
            changed_at: s.changed_at,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The running slot
// ---------------------------------------------------------------------------------------------

/// What an operation does to the member's running slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlotChange {
    #[default]
    Unchanged,
    /// Set the slot to this schedule (it was free or already this schedule's).
    Claim(ScheduleId),
    /// Clear the slot **if** it holds this schedule.
    Release(ScheduleId),
}

impl SlotChange {
    /// The slot's value after the change.
    pub fn apply(self, current: Option<ScheduleId>) -> Option<ScheduleId> {
        match self {
            Self::Unchanged => current,
            Self::Claim(id) => Some(id),
            Self::Release(id) if current == Some(id) => None,
            Self::Release(_) => current,
        }
    }
}

/// May `candidate` start (or resume) while the member's slot holds `running`? Free, or held by the
/// candidate itself, is fine; held by another schedule is 409 `"이미 실행 중인 일정이 존재합니다."`.
///
/// The app layer calls this under the member's lock, with `running` as it verified it: a slot
/// pointing at a schedule that no longer [holds it](ScheduleState::holds_slot) may be passed as `None`.
pub fn may_start(candidate: ScheduleId, running: Option<ScheduleId>) -> Result<(), ScheduleError> {
    match running {
        Some(other) if other != candidate => Err(ScheduleError::AlreadyRunning { running: other }),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// The aggregate
// ---------------------------------------------------------------------------------------------

/// A validated new schedule (before it has an id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleDraft {
    pub title: Title,
    pub description: Description,
    pub schedule_type: ScheduleType,
    /// Truncated to microseconds (what the database keeps).
    pub designated_start: Timestamp,
    /// Its own reminders; `None` follows its series', else the member's default.
    pub reminders: Option<Reminders>,
    /// Its planned length (`None`: not set, shown as an hour).
    pub planned: Option<PlannedDuration>,
}

impl ScheduleDraft {
    /// A draft without reminders of its own ([`Self::with_reminders`] gives it some).
    pub fn new(
        title: Title,
        description: Description,
        schedule_type: ScheduleType,
        designated_start: Timestamp,
    ) -> Self {
        Self {
            title,
            description,
            schedule_type,
            designated_start: truncate_to_micros(designated_start),
            reminders: None,
            planned: None,
        }
    }

    /// The same draft with `planned` as its planned length.
    pub fn with_planned(mut self, planned: Option<PlannedDuration>) -> Self {
        self.planned = planned;
        self
    }

    /// The same draft with `reminders` as its own list (`None`: it follows its series' or the member's).
    pub fn with_reminders(mut self, reminders: Option<Reminders>) -> Self {
        self.reminders = reminders;
        self
    }

    /// `POST /v2/tasks/{id}/schedules`: title and description default to the task's; the override
    /// values go through the same rules (400, not the reference's 500 — docs/contract/task.md#statuses).
    pub fn from_task(
        task: &Task,
        title: Option<&str>,
        description: Option<&str>,
        schedule_type: ScheduleType,
        designated_start: Timestamp,
    ) -> Result<Self, ValidationError> {
        let (title, description) = Self::texts_from_task(task, title, description)?;
        Ok(Self::new(
            title,
            description,
            schedule_type,
            designated_start,
        ))
    }

    /// The title and description of a schedule made from `task`: the task's unless given (and then checked
    /// by the same rules) — for a one-off copy and for a repeating one.
    pub fn texts_from_task(
        task: &Task,
        title: Option<&str>,
        description: Option<&str>,
    ) -> Result<(Title, Description), ValidationError> {
        let title = match title {
            Some(t) => Title::parse(t)?,
            None => task.title().clone(),
        };
        let description = match description {
            Some(d) => Description::parse(d)?,
            None => task.description().clone(),
        };
        Ok((title, description))
    }
}

/// `PATCH /v2/schedules/{id}`: the fields present are replaced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchedulePatch {
    pub title: Option<Title>,
    pub description: Option<Description>,
    pub designated_start: Option<Timestamp>,
    pub schedule_type: Option<ScheduleType>,
    /// `Some(Some(list))` sets the schedule's own reminders, `Some(None)` drops them (it follows its series'
    /// or the member's again), `None` leaves them.
    pub reminders: Option<Option<Reminders>>,
    /// `Some(Some(length))` sets the planned length, `Some(None)` clears it, `None` leaves it.
    pub planned: Option<Option<PlannedDuration>>,
}

/// A schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    id: ScheduleId,
    owner_id: MemberId,
    task_id: Option<TaskId>,
    title: Title,
    description: Description,
    schedule_type: ScheduleType,
    designated_start: Timestamp,
    run: Run,
    /// Its own reminders (`None`: it follows its series' or the member's — [`Inherited`]).
    reminders: Option<Reminders>,
    /// Its planned length (`None`: not set).
    planned: Option<PlannedDuration>,
}

impl Schedule {
    /// A new schedule, NOT_STARTED, with the `schedule.time.upcoming.updated` event for it (emitted
    /// once it has its id — the reference raised one with a null id, docs/contract/task.md#event-delivery),
    /// carrying the reminders it is armed with: its own, else what it `inherits`.
    pub fn create(
        id: ScheduleId,
        owner_id: MemberId,
        task_id: Option<TaskId>,
        draft: ScheduleDraft,
        inherited: &Inherited,
    ) -> (Self, Effects) {
        let schedule = Self {
            id,
            owner_id,
            task_id,
            title: draft.title,
            description: draft.description,
            schedule_type: draft.schedule_type,
            designated_start: draft.designated_start,
            run: Run::new(),
            reminders: draft.reminders,
            planned: draft.planned,
        };
        let effects = Effects {
            events: vec![schedule.upcoming_event(inherited)],
            ..Effects::default()
        };
        (schedule, effects)
    }

    /// A schedule as stored.
    #[allow(clippy::too_many_arguments)]
    pub fn restore(
        id: ScheduleId,
        owner_id: MemberId,
        task_id: Option<TaskId>,
        title: Title,
        description: Description,
        schedule_type: ScheduleType,
        designated_start: Timestamp,
        run: Run,
        reminders: Option<Reminders>,
        planned: Option<PlannedDuration>,
    ) -> Self {
        Self {
            id,
            owner_id,
            task_id,
            title,
            description,
            schedule_type,
            designated_start,
            run,
            reminders,
            planned,
        }
    }

    pub fn id(&self) -> ScheduleId {
        self.id
    }

    pub fn owner_id(&self) -> MemberId {
        self.owner_id
    }

    pub fn task_id(&self) -> Option<TaskId> {
        self.task_id
    }

    pub fn title(&self) -> &Title {
        &self.title
    }

    pub fn description(&self) -> &Description {
        &self.description
    }

    pub fn schedule_type(&self) -> ScheduleType {
        self.schedule_type
    }

    pub fn designated_start(&self) -> Timestamp {
        self.designated_start
    }

    pub fn run(&self) -> &Run {
        &self.run
    }

    /// Its own reminders (`None`: it follows its series' or the member's).
    pub fn reminders(&self) -> Option<&Reminders> {
        self.reminders.as_ref()
    }

    /// Its planned length (`None`: not set).
    pub fn planned(&self) -> Option<PlannedDuration> {
        self.planned
    }

    pub fn state(&self) -> ScheduleState {
        self.run.state()
    }

    /// `duration` in responses.
    pub fn elapsed(&self) -> SignedDuration {
        self.run.elapsed()
    }

    /// What this schedule has recorded into statistics (only while COMPLETED).
    pub fn contribution(&self) -> Option<Contribution> {
        self.run.completed_week().map(|week| Contribution {
            week: week.clone(),
            schedule_type: self.schedule_type,
            amount: self.run.elapsed(),
        })
    }

    fn upcoming_event(&self, inherited: &Inherited) -> DomainEvent {
        DomainEvent::ScheduleUpcomingTimeUpdated {
            schedule_id: self.id,
            owner_id: self.owner_id,
            new_upcoming_time: self.designated_start,
            reminders: self.armed_with(inherited).clone(),
        }
    }

    /// The reminders this schedule is armed with when it inherits `inherited`.
    pub fn armed_with<'a>(&'a self, inherited: &'a Inherited) -> &'a Reminders {
        inherited.effective(self.reminders.as_ref())
    }

    /// Applies a patch: only in NOT_STARTED (409 `"시작되지 않은 일정만 수정할 수 있습니다."`). A
    /// changed start time, or a change of the reminders it is armed with, emits
    /// `schedule.time.upcoming.updated`; else a changed title, description, type or planned length emits
    /// `schedule.details.updated` (one event per edit; nothing when nothing changed).
    pub fn patch(
        &mut self,
        patch: SchedulePatch,
        inherited: &Inherited,
    ) -> Result<Effects, ScheduleError> {
        self.patch_across(patch, inherited, inherited)
    }

    /// [`Self::patch`] while what the schedule inherits changes from `before` to `after` (its series was edited
    /// with it): the event goes out when the start or the armed reminders differ between the two.
    pub fn patch_across(
        &mut self,
        patch: SchedulePatch,
        before: &Inherited,
        after: &Inherited,
    ) -> Result<Effects, ScheduleError> {
        if self.state() != ScheduleState::NotStarted {
            return Err(ScheduleError::NotModifiable(self.state()));
        }
        let armed = (self.designated_start, self.armed_with(before).clone());
        let mut changed = Vec::new();
        if let Some(title) = patch.title {
            if title != self.title {
                changed.push("title");
            }
            self.title = title;
        }
        if let Some(description) = patch.description {
            if description != self.description {
                changed.push("description");
            }
            self.description = description;
        }
        if let Some(start) = patch.designated_start.map(truncate_to_micros) {
            self.designated_start = start;
        }
        if let Some(kind) = patch.schedule_type {
            if kind != self.schedule_type {
                changed.push("scheduleType");
            }
            self.schedule_type = kind;
        }
        if let Some(reminders) = patch.reminders {
            self.reminders = reminders;
        }
        if let Some(planned) = patch.planned {
            if planned != self.planned {
                changed.push("plannedDuration");
            }
            self.planned = planned;
        }
        let mut effects = Effects::default();
        if (self.designated_start, self.armed_with(after)) != (armed.0, &armed.1) {
            effects.events.push(self.upcoming_event(after));
        } else if !changed.is_empty() {
            effects.events.push(DomainEvent::ScheduleDetailsUpdated {
                schedule_id: self.id,
                owner_id: self.owner_id,
                changed,
            });
        }
        Ok(effects)
    }

    /// What inheriting `after` instead of `before` (its series' list changed) means for this schedule: the
    /// `schedule.time.upcoming.updated` event again, with the same start, when it is NOT_STARTED and the
    /// reminders it is armed with change; nothing otherwise (a started or completed schedule is not re-armed).
    pub fn inherit(&self, before: &Inherited, after: &Inherited) -> Effects {
        let mut effects = Effects::default();
        if self.state() == ScheduleState::NotStarted
            && self.armed_with(before) != self.armed_with(after)
        {
            effects.events.push(self.upcoming_event(after));
        }
        effects
    }

    /// Checks that the task and prerequisites the app layer handed in are this schedule's.
    fn check_links(
        &self,
        task: Option<&Task>,
        prerequisites: Option<&Prerequisites>,
    ) -> Result<(), ScheduleError> {
        if let Some(task) = task
            && Some(task.id()) != self.task_id
        {
            return Err(ScheduleError::Precondition(
                "the task given is not the schedule's task",
            ));
        }
        if let Some(p) = prerequisites
            && p.task() != self.task_id
        {
            return Err(ScheduleError::Precondition(
                "the prerequisites given are not those of the schedule's task",
            ));
        }
        Ok(())
    }

    fn require_prerequisites(
        op: Operation,
        prerequisites: &Prerequisites,
    ) -> Result<(), ScheduleError> {
        if prerequisites.all_completed() {
            Ok(())
        } else {
            Err(ScheduleError::PrerequisitesIncomplete {
                op,
                incomplete: prerequisites.incomplete(),
            })
        }
    }

    /// Start (NOT_STARTED) or resume (SUSPENDED) at `now`.
    ///
    /// Checks, in order: the table (409); the linked task's prerequisites are all completed (409
    /// `"이전 작업이 완료되지 않아 해당 일정을 시작할 수 없습니다."`); the member's slot (`running`) is
    /// free or this schedule's (409). Effects: `schedule.state.started`, slot claimed.
    pub fn start(
        &mut self,
        now: Timestamp,
        running: Option<ScheduleId>,
        prerequisites: &Prerequisites,
    ) -> Result<Effects, ScheduleError> {
        transition(self.state(), Operation::Start)?;
        self.check_links(None, Some(prerequisites))?;
        Self::require_prerequisites(Operation::Start, prerequisites)?;
        may_start(self.id, running)?;
        let step = self.run.start(now)?;
        Ok(Effects {
            events: vec![DomainEvent::ScheduleStarted {
                schedule_id: self.id,
                owner_id: self.owner_id,
                before_state: step.before,
            }],
            statistics: Vec::new(),
            slot: SlotChange::Claim(self.id),
        })
    }

    /// Suspend (pause) at `now`. The slot is kept (the decision of ADR 0004). Effects:
    /// `schedule.state.suspended` (Pinit's addition, for webhooks; the reference sent no event).
    pub fn suspend(&mut self, now: Timestamp) -> Result<Effects, ScheduleError> {
        let step = self.run.suspend(now)?;
        Ok(Effects {
            events: vec![DomainEvent::ScheduleSuspended {
                schedule_id: self.id,
                owner_id: self.owner_id,
                before_state: step.before,
            }],
            ..Effects::default()
        })
    }

    /// Complete at `now` (from NOT_STARTED or IN_PROGRESS).
    ///
    /// `task` must be the linked task (or `None` for a schedule without one), `prerequisites` its
    /// prerequisites (or [`Prerequisites::none`]); they must all be completed (409). Effects:
    /// `schedule.state.completed`, then `task.completed` if the task was not completed yet; the
    /// elapsed time recorded into the week of `now` in `member_zone`; the slot released.
    pub fn complete(
        &mut self,
        now: Timestamp,
        member_zone: &Zone,
        task: Option<&mut Task>,
        prerequisites: &Prerequisites,
    ) -> Result<Effects, ScheduleError> {
        transition(self.state(), Operation::Complete)?;
        self.check_links(task.as_deref(), Some(prerequisites))?;
        if self.task_id.is_some() && task.is_none() {
            return Err(ScheduleError::Precondition(
                "a linked schedule is completed together with its task",
            ));
        }
        Self::require_prerequisites(Operation::Complete, prerequisites)?;
        let mut effects = self.finish(now, member_zone)?;
        if let Some(event) = task.and_then(|t| t.set_completed(true)) {
            effects.events.push(event);
        }
        Ok(effects)
    }

    /// `PUT /v2/schedules/{id}/duration`: corrects the tracked time of a COMPLETED schedule (at most
    /// [`MAX_CORRECTED`]). Its statistics week loses the old contribution and gains the new one; nothing is
    /// published when the time does not change.
    pub fn correct_elapsed(&mut self, elapsed: SignedDuration) -> Result<Effects, ScheduleError> {
        if elapsed.is_negative() || elapsed > MAX_CORRECTED {
            return Err(ScheduleError::CorrectionOutOfRange);
        }
        let before = self.contribution();
        self.run.correct(elapsed)?;
        let after = self.contribution();
        let mut effects = Effects::default();
        if let (Some(before), Some(after)) = (before, after)
            && before.amount != after.amount
        {
            effects.statistics = vec![StatsChange::Revert(before), StatsChange::Record(after)];
        }
        Ok(effects)
    }

    /// Complete without the task side (shared with completing the task itself).
    pub(crate) fn finish(
        &mut self,
        now: Timestamp,
        member_zone: &Zone,
    ) -> Result<Effects, ScheduleError> {
        let step = self.run.complete(now, member_zone)?;
        let contribution = self.contribution().ok_or(ScheduleError::Precondition(
            "a completed run has a statistics week",
        ))?;
        Ok(Effects {
            events: vec![DomainEvent::ScheduleCompleted {
                schedule_id: self.id,
                owner_id: self.owner_id,
                before_state: step.before,
            }],
            statistics: vec![StatsChange::Record(contribution)],
            slot: SlotChange::Release(self.id),
        })
    }

    /// Cancel: back to NOT_STARTED (from IN_PROGRESS, SUSPENDED or COMPLETED). `now` only measures
    /// the discarded session (reported in nothing but [`Step::discarded`]).
    ///
    /// `task` must be the linked task (or `None` without one). Effects: `schedule.state.canceled`,
    /// then `task.canceled` if the task was completed; the statistics record reverted when the
    /// schedule was COMPLETED; the slot released.
    pub fn cancel(
        &mut self,
        now: Timestamp,
        task: Option<&mut Task>,
    ) -> Result<Effects, ScheduleError> {
        transition(self.state(), Operation::Cancel)?;
        self.check_links(task.as_deref(), None)?;
        if self.task_id.is_some() && task.is_none() {
            return Err(ScheduleError::Precondition(
                "a linked schedule is cancelled together with its task",
            ));
        }
        let mut effects = self.reset(now)?;
        if let Some(event) = task.and_then(|t| t.set_completed(false)) {
            effects.events.push(event);
        }
        Ok(effects)
    }

    /// Cancel without the task side (shared with reopening the task itself).
    pub(crate) fn reset(&mut self, now: Timestamp) -> Result<Effects, ScheduleError> {
        let reverted = self.contribution();
        let step = self.run.cancel(now)?;
        Ok(Effects {
            events: vec![DomainEvent::ScheduleCanceled {
                schedule_id: self.id,
                owner_id: self.owner_id,
                before_state: step.before,
            }],
            statistics: reverted.map(StatsChange::Revert).into_iter().collect(),
            slot: SlotChange::Release(self.id),
        })
    }

    /// May this schedule be deleted, and what follows? Only NOT_STARTED or COMPLETED (409
    /// `"시작되지 않았거나 완료된 일정만 삭제할 수 있습니다."`). Effects: `schedule.deleted`; a completed
    /// schedule's statistics record is reverted (the reference kept it,
    /// docs/contract/task.md#statistics-attribution); the linked task is untouched.
    pub fn delete(&self) -> Result<Effects, ScheduleError> {
        if self.state().holds_slot() {
            return Err(ScheduleError::NotDeletable(self.state()));
        }
        Ok(Effects {
            events: vec![DomainEvent::ScheduleDeleted {
                schedule_id: self.id,
                owner_id: self.owner_id,
                task_id: self.task_id,
            }],
            statistics: self
                .contribution()
                .map(StatsChange::Revert)
                .into_iter()
                .collect(),
            slot: SlotChange::Release(self.id),
        })
    }

    /// Unlinks the task (when the task is deleted with `deleteSchedules=false`). Never re-linked.
    pub fn detach_task(&mut self) {
        self.task_id = None;
    }
}

#[cfg(test)]
mod tests;
