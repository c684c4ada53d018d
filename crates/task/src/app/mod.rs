//! The task context's use cases. Each write is one transaction that starts by locking the member's row
//! (the per-member lock: the running slot, the dependency graph and the statistics of one member change
//! one request at a time), applies the domain operation, saves what changed, applies the statistics and
//! running-slot changes, records the events in the outbox — and commits. A member that has not been
//! provisioned from `member.created` yet gets [`AppError::NotProvisioned`] (503 `USER_NOT_READY`).
//!
//! * [`tasks`] — tasks, their dependencies, the lists and the archive.
//! * [`schedules`] — schedules, the state machine, statistics.
//! * [`series`] — repeating schedules: a series, its occurrences made on reads and by the rolling window.
//! * [`feeds`] — calendar subscription feeds: their URLs, and the iCalendar document each answers with.
//! * [`busy`] — busy time from other calendars: subscriptions, uploads, busy blocks, the refresh job.
//! * [`export`] — a member's data for an export: one read-only snapshot, read page by page.
//! * [`members`] — the running slot, the member's zone, and provisioning.

pub mod busy;
pub mod calendar;
pub mod export;
pub mod feeds;
pub mod members;
mod outbound;
pub mod schedules;
pub mod series;
pub mod tasks;

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use pinit_kernel::SharedClock;
use pinit_kernel::db::{Conn, Db, DbError, Tx};
use pinit_messaging::outbox::{Outbox, OutboxError};

use crate::domain::{
    AggregateRef, DependencyError, Effects, Inherited, MemberId, PagingError, ReminderError,
    Reminders, ScheduleError, ScheduleId, TaskError, TaskId, TimeError, ValidationError,
};
use crate::store::members::Member;
use crate::store::schedules::StoredSchedule;
use crate::store::tasks::StoredTask;
use crate::store::{self, StoreError};

pub use members::MemberProvisioning;
pub use schedules::{ScheduleView, WeeklyStatistics};
pub use series::{RollReport, SeriesView};
pub use tasks::{CursorPage, TaskPage, TaskView};

/// Why a use case refused or failed. [`crate::http`] maps each to a status and an `ErrorResponse`.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 503 `USER_NOT_READY`: `member.created` has not been applied yet.
    #[error("{}", crate::domain::error::msg::MEMBER_NOT_READY)]
    NotProvisioned(MemberId),
    /// 401: the member's account was deleted (an access token still valid for a few minutes).
    #[error("{}", crate::domain::error::msg::MEMBER_ERASED)]
    Erased(MemberId),
    /// 404 (also for another member's task).
    #[error("{}", crate::domain::error::msg::TASK_NOT_FOUND)]
    TaskNotFound(TaskId),
    /// 404 (also for another member's schedule).
    #[error("{}", crate::domain::error::msg::SCHEDULE_NOT_FOUND)]
    ScheduleNotFound(ScheduleId),
    /// 404 (also for another member's series).
    #[error("repeating schedule {0} not found")]
    SeriesNotFound(crate::domain::SeriesId),
    /// 404 (also for another member's feed).
    #[error("calendar feed {0} not found")]
    FeedNotFound(crate::domain::FeedId),
    /// 400 (an unknown kind) or 409 (too many feeds).
    #[error(transparent)]
    Feed(#[from] crate::domain::FeedError),
    /// 404 (also for another member's calendar).
    #[error("calendar {0} not found")]
    CalendarNotFound(crate::domain::busy::BusyCalendarId),
    /// 400, 409 (too many calendars) or 422 (the URL could not be fetched, or is not a calendar).
    #[error(transparent)]
    Calendar(#[from] crate::domain::busy::CalendarError),
    /// 400: a series-wide edit (`scope=following|all`) tried to move an occurrence to another day.
    #[error(
        "a repeating schedule keeps its days: with scope=following or all only the time of day changes \
         (scope=this moves one occurrence)"
    )]
    SeriesKeepsItsDays,
    /// 400: a new `recurrence` in a `PATCH` that is not `scope=following|all` on an occurrence.
    #[error(
        "recurrence: a new rule needs scope=following or scope=all on an occurrence of a repeating schedule"
    )]
    RuleNeedsSeriesScope,
    /// 400: the recurrence leaves no occurrence (its EXDATEs remove every date).
    #[error("recurrence: the series has no occurrence (every date is excluded)")]
    SeriesWithoutOccurrence,
    /// 400, with the request field it concerns.
    /// 412: a calendar app's write was based on an older version (its `If-Match`/`If-None-Match`).
    #[error("the calendar object has changed since it was read (its ETag no longer matches)")]
    CalendarPrecondition,
    /// 400 (CalDAV 403): an override names a time the repeating schedule has no occurrence at.
    #[error("the repeating schedule has no occurrence at {0}")]
    CalendarNoOccurrence(jiff::civil::DateTime),
    /// 409 (CalDAV 403): a calendar app changed a repeating schedule with no occurrence ahead not started (nor
    /// one the old and the new rule share) to edit it from.
    #[error(
        "the repeating schedule has no occurrence ahead that is not started (and that its new rule keeps) to change it from"
    )]
    CalendarNothingAhead,
    /// 409 (CalDAV 403 `no-uid-conflict`): another object of the calendar has this UID.
    #[error("another event of this calendar has the UID {0}")]
    CalendarUidTaken(String),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// 400: a list of reminders, naming the entry.
    #[error(transparent)]
    Reminders(#[from] ReminderError),
    /// 400: a run operation dated outside its window (field `time`).
    #[error(transparent)]
    Dated(#[from] crate::domain::dated::DatedError),
    #[error(transparent)]
    Paging(#[from] PagingError),
    #[error(transparent)]
    Dependency(#[from] DependencyError),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        AppError::Store(StoreError::Db(e))
    }
}

impl From<TimeError> for AppError {
    fn from(e: TimeError) -> Self {
        AppError::Invalid(e.into())
    }
}

pub type Result<T> = std::result::Result<T, AppError>;

/// The task context's services, shared by every request, the gRPC server and the `member.created`
/// consumer. Cheap to clone.
#[derive(Clone)]
pub struct TaskApp {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    clock: SharedClock,
    outbox: Outbox,
    calendars: busy::Calendars,
}

impl TaskApp {
    /// `outbox` is this database's outbox (its relay publishes what the use cases record).
    pub fn new(db: Db, clock: SharedClock, outbox: Outbox) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                outbox,
                calendars: busy::Calendars::new(std::time::Duration::from_secs(15 * 60), false),
            }),
        }
    }

    /// The same app with these busy-time settings (`task.calendar_refresh_interval`,
    /// `task.allow_insecure_calendar_urls`).
    pub fn with_calendars(self, calendars: busy::Calendars) -> Self {
        let inner = &self.inner;
        Self {
            inner: Arc::new(Inner {
                db: inner.db.clone(),
                clock: inner.clock.clone(),
                outbox: inner.outbox.clone(),
                calendars,
            }),
        }
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// The member for a read, or 503 (401 for an erased one).
    async fn member(&self, conn: &mut Conn, id: MemberId) -> Result<Member> {
        match store::members::get(conn, id).await? {
            Some(member) => Ok(member),
            None => Err(missing(conn, id).await),
        }
    }

    /// Opens a write: begins the transaction and locks the member (or 503). The write's time is read once the
    /// lock is held, so a member's writes are stamped in the order they commit — a calendar's sync token (the
    /// newest stamp) never passes a write still waiting for the lock.
    async fn begin(&self, id: MemberId) -> Result<Unit> {
        let mut tx = self.inner.db.begin().await?;
        let Some(member) = store::members::lock(&mut tx, self.inner.db.backend(), id).await? else {
            return Err(missing(&mut tx, id).await);
        };
        let now = self.now();
        Ok(Unit {
            tx,
            member,
            now,
            versions: HashMap::new(),
            effects: Effects::default(),
        })
    }
}

/// One write in progress: the transaction, the locked member, and what is to be applied at the end.
struct Unit {
    tx: Tx,
    member: Member,
    now: Timestamp,
    /// Each changed aggregate's version after the change (events carry it).
    versions: HashMap<AggregateRef, i64>,
    effects: Effects,
}

impl Unit {
    fn add(&mut self, effects: Effects) {
        self.effects = std::mem::take(&mut self.effects).merge(effects);
    }

    /// Saves `task` if it differs from what was loaded.
    async fn save_task(&mut self, stored: &StoredTask, task: &crate::domain::Task) -> Result<i64> {
        if &stored.task == task {
            return Ok(stored.version);
        }
        let version = store::tasks::update(&mut self.tx, stored, task, self.now).await?;
        self.versions.insert(AggregateRef::Task(task.id()), version);
        Ok(version)
    }

    /// What a schedule of this member without reminders of its own follows: `series` (its series' list),
    /// else the member's default.
    fn inherited(&self, series: Option<&Reminders>) -> Inherited {
        Inherited::new(series.cloned(), self.member.reminders.clone())
    }

    /// What `stored` follows when it has no reminders of its own.
    fn inherited_by(&self, stored: &StoredSchedule) -> Inherited {
        self.inherited(stored.series_reminders.as_ref())
    }

    /// Saves `schedule` (a changed `stored`) and takes in `effects`. A schedule re-armed although its row did
    /// not change — only what it inherits did — counts as a new version, so its event is newer than the last
    /// one the notification service applied.
    async fn save_armed(
        &mut self,
        stored: &StoredSchedule,
        schedule: &crate::domain::Schedule,
        effects: Effects,
    ) -> Result<i64> {
        let mut version = self.save_schedule(stored, schedule).await?;
        if version == stored.version && !effects.events.is_empty() {
            version = store::schedules::touch(&mut self.tx, stored, self.now).await?;
            self.versions
                .insert(AggregateRef::Schedule(schedule.id()), version);
        }
        self.add(effects);
        Ok(version)
    }

    /// Saves `schedule` if it differs from what was loaded.
    async fn save_schedule(
        &mut self,
        stored: &StoredSchedule,
        schedule: &crate::domain::Schedule,
    ) -> Result<i64> {
        if &stored.schedule == schedule {
            return Ok(stored.version);
        }
        let version = store::schedules::update(&mut self.tx, stored, schedule, self.now).await?;
        self.versions
            .insert(AggregateRef::Schedule(schedule.id()), version);
        Ok(version)
    }

    /// Deletes a schedule; its `schedule.deleted` event carries the next version.
    async fn delete_schedule(&mut self, stored: &StoredSchedule) -> Result<()> {
        let id = stored.schedule.id();
        store::schedules::delete(&mut self.tx, id).await?;
        let kind = store::Kind::Schedule;
        let name = store::calendar_objects::forget(&mut self.tx, kind, id.get()).await?;
        let owner = stored.schedule.owner_id();
        store::tombstones::record(
            &mut self.tx,
            kind,
            owner,
            id.get(),
            name.as_deref(),
            self.now,
        )
        .await?;
        self.versions
            .insert(AggregateRef::Schedule(id), stored.version + 1);
        Ok(())
    }

    /// Applies the running-slot and statistics changes, records the events, commits, wakes the relay.
    async fn finish(mut self, outbox: &Outbox) -> Result<()> {
        let effects = std::mem::take(&mut self.effects);
        let slot = effects.slot.apply(self.member.running);
        if slot != self.member.running {
            store::members::set_running(&mut self.tx, &self.member, slot, self.now).await?;
        }
        for change in &effects.statistics {
            store::statistics::apply(&mut self.tx, self.member.id, change, self.now).await?;
        }
        outbound::record(
            outbox,
            &mut self.tx,
            &effects.events,
            &self.versions,
            self.now,
        )
        .await?;
        if effects.events.is_empty() {
            self.tx.commit().await.map_err(DbError::from)?;
        } else {
            outbox.commit(self.tx).await?;
        }
        Ok(())
    }
}

/// Why a member has no row: erased by account deletion, or not provisioned from `member.created` yet.
async fn missing(conn: &mut Conn, id: MemberId) -> AppError {
    match store::erased::is_erased(conn, id).await {
        Ok(true) => AppError::Erased(id),
        Ok(false) => AppError::NotProvisioned(id),
        Err(e) => e.into(),
    }
}
