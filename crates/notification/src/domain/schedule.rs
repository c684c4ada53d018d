//! What the notification context knows of a schedule: the task service owns schedules; this context hears of
//! them through events and asks the task service (`crate::directory`) just before it sends.

use jiff::Timestamp;
pub use pinit_contracts::events::ScheduleState;

use super::{MemberId, ScheduleId};

/// A schedule, as its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScheduleKey {
    pub schedule_id: ScheduleId,
    pub owner_id: MemberId,
}

/// A schedule's title and designated start time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleBasics {
    pub schedule_id: ScheduleId,
    pub owner_id: MemberId,
    pub title: String,
    pub start_time: Timestamp,
}

/// A schedule's current state, as the dispatcher's re-check needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSnapshot {
    pub basics: ScheduleBasics,
    /// `None` when the task service cannot tell (the reference's, without the batch look-up); the re-check
    /// then trusts the events (started and completed remove the notification).
    pub state: Option<ScheduleState>,
}

/// The wire name of a state (`NOT_STARTED`, …), as outcome details show it.
pub fn state_name(state: ScheduleState) -> &'static str {
    match state {
        ScheduleState::NotStarted => "NOT_STARTED",
        ScheduleState::InProgress => "IN_PROGRESS",
        ScheduleState::Suspended => "SUSPENDED",
        ScheduleState::Completed => "COMPLETED",
    }
}
