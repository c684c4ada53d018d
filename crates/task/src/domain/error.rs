//! Every rule's message in one place, and the typed errors of the domain.
//!
//! Korean messages quoted from the reference are part of the wire contract (they end up in
//! `ErrorResponse.message`); messages marked *new* are ours, for rules the reference did not have.
//! Each error enum says which HTTP status it means through [`ErrorClass`].

use thiserror::Error;

use super::{ScheduleId, TaskId};
use crate::domain::schedule::{Operation, ScheduleState};

/// The messages, each written once, with their codes ([`msg::code_of`]).
pub mod msg {
    pinit_kernel::messages! {
    // ---- task / schedule values (docs/contract/task.md#field-rules) ----
    TITLE_LENGTH = "제목의 길이는 1자 이상 100자 이하여야 합니다.";
    DESCRIPTION_LENGTH = "설명의 길이는 2000자 이하여야 합니다.";
    /// *new*: the reference stored control characters (NUL, ESC) and bidirectional overrides in titles.
    TITLE_CHARACTERS = "제목에 제어 문자를 사용할 수 없습니다.";
    /// *new*: as [`TITLE_CHARACTERS`]; line breaks and tabs are allowed in a description.
    DESCRIPTION_CHARACTERS = "설명에 제어 문자를 사용할 수 없습니다.";
    IMPORTANCE_RANGE = "중요도 레벨은 1에서 9 사이여야 합니다.";
    DIFFICULTY_SET = "난이도 레벨은 1, 2, 3, 5, 8, 13, 21 중 하나여야 합니다.";
    SCHEDULE_TYPE_MISSING = "일정 유형은 null일 수 없습니다.";
    SCHEDULE_START_MISSING = "일정 시작 시각은 null일 수 없습니다.";
    /// *new*: the reference failed with a 500 on an unknown enum name.
    SCHEDULE_TYPE_UNKNOWN = "일정 유형은 DEEP_WORK, QUICK_TASK, ADMIN_TASK 중 하나여야 합니다.";
    /// The reference's `ZonedDateAttribute.of(date, zoneId, offset)` (docs/contract/task.md#time).
    OFFSET_MISMATCH = "제공된 offset이 zoneId의 규칙과 일치하지 않습니다.";

    // ---- time inputs (new: the reference answered these with a 500) ----
    ZONE_INVALID = "올바르지 않은 시간대 ID입니다.";
    DATE_INVALID = "날짜는 'yyyy-MM-dd' 형식이어야 합니다.";
    DATE_TIME_INVALID = "날짜-시간은 'yyyy-MM-ddTHH:mm[:ss]' 형식이어야 합니다.";
    OFFSET_INVALID = "offset은 '+HH:mm' 형식이어야 합니다.";
    TIME_OUT_OF_RANGE = "지원하지 않는 날짜 범위입니다.";

    // ---- dependencies (docs/contract/task.md#dependencies) ----
    DEPENDENCY_SELF = "fromId와 toId는 동일할 수 없습니다.";
    DEPENDENCY_CREATE_PLACEHOLDER = "작업 생성 시 의존 관계에는 fromId 또는 toId 중 하나가 0이어야 합니다.";
    DEPENDENCY_UPDATE_PLACEHOLDER = "수정 요청에서는 의존 관계 ID에 0을 사용할 수 없습니다.";
    /// *new*: the reference let an update add edges unrelated to the task
    /// (docs/contract/task.md#dependency-graph).
    DEPENDENCY_UNRELATED = "수정 요청의 의존 관계는 수정 대상 작업을 포함해야 합니다.";
    DEPENDENCY_CYCLE = "의존 관계에 사이클이 존재합니다.";

    // ---- schedule transitions (docs/contract/task.md#state-machine), one per illegal cell ----
    NOT_STARTED_SUSPEND = "시작되지 않은 일정을 일시정지할 수 없습니다.";
    NOT_STARTED_CANCEL = "시작되지 않은 일정을 취소할 수 없습니다.";
    IN_PROGRESS_START = "진행 중인 일정을 다시 시작할 수 없습니다.";
    SUSPENDED_SUSPEND = "일시정지된 일정을 다시 일시정지할 수 없습니다.";
    SUSPENDED_COMPLETE = "일시정지된 일정을 즉시 완료할 수 없습니다.";
    COMPLETED_START = "완료된 일정을 시작할 수 없습니다.";
    COMPLETED_SUSPEND = "완료된 일정을 일시정지할 수 없습니다.";
    COMPLETED_COMPLETE = "완료된 일정을 다시 완료할 수 없습니다.";

    // ---- schedule changes and orchestration (docs/contract/task.md#schedules, #running-slot,
    // #task-and-schedule-link) ----
    SCHEDULE_NOT_MODIFIABLE = "시작되지 않은 일정만 수정할 수 있습니다.";
    SCHEDULE_NOT_DELETABLE = "시작되지 않았거나 완료된 일정만 삭제할 수 있습니다.";
    PREREQUISITES_START = "이전 작업이 완료되지 않아 해당 일정을 시작할 수 없습니다.";
    /// *new*: completing a schedule skipped the predecessor check
    /// (docs/contract/task.md#running-slot-and-prerequisites).
    PREREQUISITES_COMPLETE_SCHEDULE = "이전 작업이 완료되지 않아 해당 일정을 완료할 수 없습니다.";
    /// *new*: completing a task skipped the predecessor check
    /// (docs/contract/task.md#running-slot-and-prerequisites).
    PREREQUISITES_COMPLETE_TASK = "이전 작업이 완료되지 않아 해당 작업을 완료할 수 없습니다.";
    ALREADY_RUNNING = "이미 실행 중인 일정이 존재합니다.";
    TASK_ALREADY_SCHEDULED = "해당 작업에 이미 연결된 일정이 존재합니다.";
    TASK_SCHEDULE_RUNNING = "해당 작업과 연결된 일정이 현재 진행중이어서 작업을 완료할 수 없습니다. 일정을 통해 작업을 완료해주세요.";

    // ---- lookups (404, docs/contract/task.md#statuses) ----
    TASK_NOT_FOUND = "해당 작업을 찾을 수 없습니다.";
    SCHEDULE_NOT_FOUND = "해당 일정을 찾을 수 없습니다.";
    /// *new*: the member has not been provisioned from `member.created` yet (503, `USER_NOT_READY`).
    MEMBER_NOT_READY = "회원 정보가 아직 준비되지 않았습니다. 잠시 후 다시 시도해 주세요.";
    /// *new*: only a completed schedule's tracked time can be corrected (409).
    NOT_COMPLETED_CORRECTION = "완료된 일정의 기록 시간만 고칠 수 있습니다.";
    /// *new*: a corrected tracked time is from 0 to 24 hours (400, field `duration`).
    CORRECTION_RANGE = "기록 시간은 0초 이상 24시간 이하여야 합니다.";
    /// *new*: the member's account was deleted; its access token is still valid for a few minutes (401).
    MEMBER_ERASED = "삭제된 계정입니다.";

    // ---- paging and cursors (docs/contract/task.md#lists) ----
    CURSOR_FORMAT = "잘못된 커서 형식입니다.";
    CURSOR_VALUE = "잘못된 커서 값입니다.";
    ARCHIVE_CURSOR_FORMAT = "커서는 'yyyy-MM-dd|id' 형식이어야 합니다.";
    ARCHIVE_CURSOR_ID = "커서의 ID가 올바르지 않습니다.";
    /// The archive's size rule; *new* for the other lists, whose size was unbounded
    /// (docs/contract/task.md#paging).
    PAGE_SIZE = "size는 1 이상 100 이하이어야 합니다.";
    /// *new* (Spring's `PageRequest` refused it with an English message).
    PAGE_INDEX = "page는 0 이상이어야 합니다.";
    /// *new*: the page index is an `int32`, as in the reference (where a larger one failed to bind).
    PAGE_INDEX_MAX = "page는 2147483647 이하이어야 합니다.";
    }
}

/// What an error means to a client: the HTTP status the adapters answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// 400: the input is malformed or breaks a value rule.
    BadRequest,
    /// 409: the input is fine but the current state forbids the operation.
    Conflict,
    /// 500: the caller (our own app layer) broke a precondition, or stored data is corrupt.
    Internal,
}

impl ErrorClass {
    pub const fn status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::Conflict => 409,
            Self::Internal => 500,
        }
    }
}

/// A malformed date, date-time, zone or offset (400).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimeError {
    #[error("{}", msg::ZONE_INVALID)]
    Zone(String),
    #[error("{}", msg::DATE_INVALID)]
    Date(String),
    #[error("{}", msg::DATE_TIME_INVALID)]
    DateTime(String),
    #[error("{}", msg::OFFSET_INVALID)]
    Offset(String),
    /// A value jiff cannot represent (years beyond ±9999 and the like).
    #[error("{}", msg::TIME_OUT_OF_RANGE)]
    OutOfRange,
}

impl TimeError {
    pub const fn class(&self) -> ErrorClass {
        ErrorClass::BadRequest
    }
}

/// A value that breaks one of the field rules (400).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationError {
    #[error("{}", msg::TITLE_LENGTH)]
    Title,
    #[error("{}", msg::DESCRIPTION_LENGTH)]
    Description,
    #[error("{}", msg::TITLE_CHARACTERS)]
    TitleCharacters,
    #[error("{}", msg::DESCRIPTION_CHARACTERS)]
    DescriptionCharacters,
    #[error("{}", msg::IMPORTANCE_RANGE)]
    Importance(i64),
    #[error("{}", msg::DIFFICULTY_SET)]
    Difficulty(i64),
    #[error("{}", msg::SCHEDULE_TYPE_UNKNOWN)]
    ScheduleType(String),
    #[error("{}", msg::OFFSET_MISMATCH)]
    OffsetMismatch,
    #[error(transparent)]
    Time(#[from] TimeError),
}

impl ValidationError {
    pub const fn class(&self) -> ErrorClass {
        ErrorClass::BadRequest
    }

    /// The request field the rule belongs to (for `ErrorResponse.errors[].field`), as the reference names it.
    pub const fn field(&self) -> &'static str {
        match self {
            Self::Title | Self::TitleCharacters => "title",
            Self::Description | Self::DescriptionCharacters => "description",
            Self::Importance(_) => "importance",
            Self::Difficulty(_) => "difficulty",
            Self::ScheduleType(_) => "scheduleType",
            Self::OffsetMismatch => "dueDate.offset",
            Self::Time(_) => "date",
        }
    }
}

/// A dependency request or graph change that is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DependencyError {
    /// 400: an edge from a task to itself (also the create request `{fromId: 0, toId: 0}`).
    #[error("{}", msg::DEPENDENCY_SELF)]
    SelfLoop(TaskId),
    /// 400: a create request's item with neither side `0`.
    #[error("{}", msg::DEPENDENCY_CREATE_PLACEHOLDER)]
    CreatePlaceholder { from_id: i64, to_id: i64 },
    /// 400: an update request's item using the `0` placeholder.
    #[error("{}", msg::DEPENDENCY_UPDATE_PLACEHOLDER)]
    UpdatePlaceholder { from_id: i64, to_id: i64 },
    /// 400: an update request's item that does not touch the updated task.
    #[error("{}", msg::DEPENDENCY_UNRELATED)]
    Unrelated {
        task: TaskId,
        from: TaskId,
        to: TaskId,
    },
    /// 409: the change would close a cycle; `path` is one cycle, first node repeated at the end.
    #[error("{}", msg::DEPENDENCY_CYCLE)]
    Cycle { path: Vec<TaskId> },
}

impl DependencyError {
    pub const fn class(&self) -> ErrorClass {
        match self {
            Self::Cycle { .. } => ErrorClass::Conflict,
            _ => ErrorClass::BadRequest,
        }
    }
}

/// A cell of the transition table (docs/contract/task.md#state-machine) marked ✗. Only the table
/// itself ([`schedule::transition`](crate::domain::schedule::transition)) builds one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct IllegalTransition {
    from: ScheduleState,
    op: Operation,
    message: &'static str,
}

impl IllegalTransition {
    pub(crate) const fn new(from: ScheduleState, op: Operation, message: &'static str) -> Self {
        Self { from, op, message }
    }

    pub const fn from(&self) -> ScheduleState {
        self.from
    }

    pub const fn op(&self) -> Operation {
        self.op
    }

    /// The reference's message for this cell.
    pub const fn message(&self) -> &'static str {
        self.message
    }
}

/// A schedule operation that is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScheduleError {
    /// 409 (the reference answered 400 — docs/contract/task.md#statuses).
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
    /// 409: PATCH of a schedule that is not NOT_STARTED.
    #[error("{}", msg::SCHEDULE_NOT_MODIFIABLE)]
    NotModifiable(ScheduleState),
    /// 409: DELETE of a running or suspended schedule.
    #[error("{}", msg::SCHEDULE_NOT_DELETABLE)]
    NotDeletable(ScheduleState),
    /// 409: the linked task has prerequisites that are not completed.
    #[error("{}", if matches!(op, Operation::Start) { msg::PREREQUISITES_START } else { msg::PREREQUISITES_COMPLETE_SCHEDULE })]
    PrerequisitesIncomplete {
        op: Operation,
        incomplete: Vec<TaskId>,
    },
    /// 409: another schedule of the member holds the running slot.
    #[error("{}", msg::ALREADY_RUNNING)]
    AlreadyRunning { running: ScheduleId },
    /// 400: a field of a create/patch request breaks a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// 409: the tracked time of a schedule that is not COMPLETED cannot be corrected (its clock decides it).
    #[error("{}", msg::NOT_COMPLETED_CORRECTION)]
    NotCompleted(ScheduleState),
    /// 400 (field `duration`): a corrected time below zero or above 24 hours.
    #[error("{}", msg::CORRECTION_RANGE)]
    CorrectionOutOfRange,
    /// 500: the app layer handed in a task or prerequisites that do not belong to this schedule.
    #[error("domain precondition broken: {0}")]
    Precondition(&'static str),
}

impl ScheduleError {
    pub const fn class(&self) -> ErrorClass {
        match self {
            Self::Invalid(_) | Self::CorrectionOutOfRange => ErrorClass::BadRequest,
            Self::Precondition(_) => ErrorClass::Internal,
            _ => ErrorClass::Conflict,
        }
    }
}

/// A task operation that is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TaskError {
    /// 409: completing a task whose linked schedule is IN_PROGRESS or SUSPENDED.
    #[error("{}", msg::TASK_SCHEDULE_RUNNING)]
    ScheduleRunning { schedule: ScheduleId },
    /// 409: completing a task whose prerequisites are not all completed.
    #[error("{}", msg::PREREQUISITES_COMPLETE_TASK)]
    PrerequisitesIncomplete { incomplete: Vec<TaskId> },
    /// 409: copying a task into a schedule when it already has one.
    #[error("{}", msg::TASK_ALREADY_SCHEDULED)]
    AlreadyScheduled,
    /// 400.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Whatever the linked schedule refused (see [`ScheduleError::class`]).
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// 500: the app layer handed in a schedule or prerequisites that do not belong to this task.
    #[error("domain precondition broken: {0}")]
    Precondition(&'static str),
}

impl TaskError {
    pub const fn class(&self) -> ErrorClass {
        match self {
            Self::Invalid(_) => ErrorClass::BadRequest,
            Self::Schedule(e) => e.class(),
            Self::Precondition(_) => ErrorClass::Internal,
            _ => ErrorClass::Conflict,
        }
    }
}

/// A page request or cursor that is refused (400).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PagingError {
    #[error("{}", msg::PAGE_SIZE)]
    Size(i64),
    #[error("{}", msg::PAGE_INDEX)]
    Index(i64),
    #[error("{}", msg::PAGE_INDEX_MAX)]
    IndexTooLarge(i64),
    /// The ascending task cursor is not `date|id`.
    #[error("{}", msg::CURSOR_FORMAT)]
    CursorFormat(String),
    /// The ascending task cursor's date or id does not parse.
    #[error("{}", msg::CURSOR_VALUE)]
    CursorValue(String),
    /// The archive cursor is not `yyyy-MM-dd[offset]|id`.
    #[error("{}", msg::ARCHIVE_CURSOR_FORMAT)]
    ArchiveCursorFormat(String),
    /// The archive cursor's id is not a number.
    #[error("{}", msg::ARCHIVE_CURSOR_ID)]
    ArchiveCursorId(String),
}

impl PagingError {
    pub const fn class(&self) -> ErrorClass {
        ErrorClass::BadRequest
    }

    /// The query parameter the rule belongs to.
    pub const fn field(&self) -> &'static str {
        match self {
            Self::Size(_) => "size",
            Self::Index(_) | Self::IndexTooLarge(_) => "page",
            _ => "cursor",
        }
    }
}

/// A stored row that the domain cannot take back (500): an unknown state string, or a state whose
/// companion columns contradict it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CorruptRecord {
    #[error("Unknown ScheduleState: {0}")]
    UnknownState(String),
    #[error("Unknown ScheduleType: {0}")]
    UnknownType(String),
    #[error("inconsistent stored schedule run: {0}")]
    InconsistentRun(&'static str),
    #[error("invalid stored value: {0}")]
    InvalidValue(#[from] ValidationError),
    #[error("invalid stored reminders: {0}")]
    InvalidReminders(#[from] super::reminders::ReminderError),
}

impl CorruptRecord {
    pub const fn class(&self) -> ErrorClass {
        ErrorClass::Internal
    }
}

#[cfg(test)]
mod code_tests {
    use super::msg;

    /// A code names one message: no two messages share a text (then `code_of` could not tell them apart).
    #[test]
    fn every_message_has_its_own_text_and_its_name_as_code() {
        let mut texts: Vec<&str> = msg::ALL.iter().map(|(_, t)| *t).collect();
        texts.sort_unstable();
        let before = texts.len();
        texts.dedup();
        assert_eq!(texts.len(), before, "two messages share a text");
        assert_eq!(msg::code_of(msg::ALREADY_RUNNING), Some("ALREADY_RUNNING"));
        assert_eq!(msg::code_of(msg::TITLE_LENGTH), Some("TITLE_LENGTH"));
        assert_eq!(msg::code_of("anything else"), None);
        assert!(msg::ALL.len() > 40);
    }
}
