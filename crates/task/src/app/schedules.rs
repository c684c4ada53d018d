//! Schedules: create, read, patch, delete, the run operations (start/resume, suspend, complete,
//! cancel) and weekly statistics.

use jiff::Timestamp;
use pinit_kernel::db::Conn;

use super::{AppError, Result, TaskApp, Unit};
use crate::domain::{
    AggregateRef, MemberId, Prerequisites, Recurrence, Schedule, ScheduleDraft, ScheduleId,
    SchedulePatch, Scope, TaskId, WeekKey, WeeklyTotals, Window, Zone,
};
use crate::store::schedules::StoredSchedule;
use crate::store::tasks::StoredTask;
use crate::store::{self};

/// A schedule with the member's zone (the view zone of `GET /v2/schedules/{id}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleView {
    pub stored: StoredSchedule,
    pub member_zone: Zone,
}

/// `GET /v2/statistics`: one week's bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklyStatistics {
    pub member: MemberId,
    pub week: WeekKey,
    pub totals: WeeklyTotals,
}

async fn owned_schedule(
    conn: &mut Conn,
    owner: MemberId,
    id: ScheduleId,
) -> Result<StoredSchedule> {
    store::schedules::get_owned(conn, owner, id)
        .await?
        .ok_or(AppError::ScheduleNotFound(id))
}

/// The linked task (it exists: a task is deleted only after its schedule is deleted or detached).
async fn linked_task(
    conn: &mut Conn,
    owner: MemberId,
    task: Option<TaskId>,
) -> Result<Option<StoredTask>> {
    match task {
        Some(id) => Ok(Some(
            store::tasks::get(conn, owner, id)
                .await?
                .ok_or(AppError::TaskNotFound(id))?,
        )),
        None => Ok(None),
    }
}

async fn prerequisites(conn: &mut Conn, task: Option<TaskId>) -> Result<Prerequisites> {
    Ok(match task {
        Some(id) => Prerequisites::of(id, store::tasks::prerequisites(conn, id).await?),
        None => Prerequisites::none(),
    })
}

/// Deletes one schedule (only NOT_STARTED or COMPLETED: 409 otherwise), with its events and statistics.
pub(super) async fn delete_one(unit: &mut Unit, stored: &StoredSchedule) -> Result<()> {
    let effects = stored.schedule.delete()?;
    unit.delete_schedule(stored).await?;
    unit.add(effects);
    Ok(())
}

/// Loaded for a run operation: the schedule, and its linked task if any.
struct Loaded {
    stored: StoredSchedule,
    schedule: Schedule,
    task: Option<(StoredTask, crate::domain::Task)>,
}

impl Loaded {
    async fn load(unit: &mut Unit, id: ScheduleId, with_task: bool) -> Result<Self> {
        let owner = unit.member.id;
        let stored = owned_schedule(&mut unit.tx, owner, id).await?;
        let task = if with_task {
            linked_task(&mut unit.tx, owner, stored.schedule.task_id())
                .await?
                .map(|t| {
                    let task = t.task.clone();
                    (t, task)
                })
        } else {
            None
        };
        Ok(Self {
            schedule: stored.schedule.clone(),
            stored,
            task,
        })
    }

    fn task_mut(&mut self) -> Option<&mut crate::domain::Task> {
        self.task.as_mut().map(|(_, t)| t)
    }

    async fn save(&self, unit: &mut Unit) -> Result<()> {
        unit.save_schedule(&self.stored, &self.schedule).await?;
        if let Some((stored, task)) = &self.task {
            unit.save_task(stored, task).await?;
        }
        Ok(())
    }
}

/// Creates a schedule without a task inside `unit` (`POST /v2/schedules`, a calendar app's new event).
pub(super) async fn create_in(unit: &mut Unit, draft: ScheduleDraft) -> Result<StoredSchedule> {
    let owner = unit.member.id;
    let id = store::schedules::insert(&mut unit.tx, owner, None, &draft, unit.now).await?;
    let (schedule, effects) = Schedule::create(id, owner, None, draft, &unit.inherited(None));
    unit.versions.insert(AggregateRef::Schedule(id), 1);
    unit.add(effects);
    Ok(StoredSchedule {
        schedule,
        version: 1,
        created_at: unit.now,
        updated_at: unit.now,
        task_completed: None,
        occurrence: None,
        series_reminders: None,
    })
}

/// Patches one schedule (an occurrence as itself) inside `unit`; returns it as saved.
pub(super) async fn patch_in(
    unit: &mut Unit,
    id: ScheduleId,
    patch: SchedulePatch,
) -> Result<StoredSchedule> {
    let mut loaded = Loaded::load(unit, id, false).await?;
    let inherited = unit.inherited_by(&loaded.stored);
    let effects = loaded.schedule.patch(patch, &inherited)?;
    let version = unit
        .save_armed(&loaded.stored, &loaded.schedule, effects)
        .await?;
    let updated_at = if version == loaded.stored.version {
        loaded.stored.updated_at
    } else {
        unit.now
    };
    Ok(StoredSchedule {
        schedule: loaded.schedule,
        version,
        updated_at,
        ..loaded.stored
    })
}

/// Deletes a schedule inside `unit` — an occurrence with the rest of its series as `scope` says.
pub(super) async fn delete_in(unit: &mut Unit, stored: StoredSchedule, scope: Scope) -> Result<()> {
    match stored.occurrence {
        Some(of) => super::series::delete_occurrence(unit, stored, of, scope).await,
        None => delete_one(unit, &stored).await,
    }
}

impl TaskApp {
    /// `POST /v2/schedules`: a schedule without a task; emits `schedule.time.upcoming.updated`.
    pub async fn create_schedule(
        &self,
        member: MemberId,
        draft: ScheduleDraft,
    ) -> Result<StoredSchedule> {
        let mut unit = self.begin(member).await?;
        let created = create_in(&mut unit, draft).await?;
        unit.finish(&self.inner.outbox).await?;
        Ok(created)
    }

    /// `GET /v2/schedules` and `/week`: the member's schedules starting within `window`.
    pub async fn schedules_within(
        &self,
        member: MemberId,
        window: Window,
    ) -> Result<Vec<StoredSchedule>> {
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        drop(conn);
        // Occurrences of repeating schedules in the window become schedules first.
        self.make_occurrences_within(member.id, window).await?;
        let mut conn = self.inner.db.conn().await?;
        Ok(store::schedules::starting_within(&mut conn, member.id, window).await?)
    }

    /// `GET /v2/schedules/{id}`.
    pub async fn schedule(&self, member: MemberId, id: ScheduleId) -> Result<ScheduleView> {
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        Ok(ScheduleView {
            stored: owned_schedule(&mut conn, member.id, id).await?,
            member_zone: member.zone,
        })
    }

    /// `PATCH /v2/schedules/{id}`: only NOT_STARTED (409); a new start time, or a change of the reminders it
    /// is armed with, emits `schedule.time.upcoming.updated`. On an occurrence with `scope=following|all` the
    /// series is edited ([`super::series`]; its reminders too).
    pub async fn patch_schedule(
        &self,
        member: MemberId,
        id: ScheduleId,
        patch: SchedulePatch,
        scope: Scope,
        rule: Option<Recurrence>,
    ) -> Result<ScheduleView> {
        let mut unit = self.begin(member).await?;
        if scope != Scope::This || rule.is_some() {
            let stored = owned_schedule(&mut unit.tx, unit.member.id, id).await?;
            let series_wide = matches!(scope, Scope::Following | Scope::All);
            if rule.is_some() && !(series_wide && stored.occurrence.is_some()) {
                return Err(AppError::RuleNeedsSeriesScope);
            }
            if let (Some(of), true) = (stored.occurrence, series_wide) {
                super::series::edit_series(&mut unit, &stored, of, patch, scope, rule).await?;
                let member_zone = unit.member.zone.clone();
                let stored = owned_schedule(&mut unit.tx, unit.member.id, id).await?;
                unit.finish(&self.inner.outbox).await?;
                return Ok(ScheduleView {
                    stored,
                    member_zone,
                });
            }
        }
        let stored = patch_in(&mut unit, id, patch).await?;
        let member_zone = unit.member.zone.clone();
        unit.finish(&self.inner.outbox).await?;
        Ok(ScheduleView {
            stored,
            member_zone,
        })
    }

    /// `PUT /v2/schedules/{id}/duration`: corrects a COMPLETED schedule's tracked time (409 otherwise); its
    /// statistics week is adjusted in the same transaction.
    pub async fn correct_duration(
        &self,
        member: MemberId,
        id: ScheduleId,
        elapsed: jiff::SignedDuration,
    ) -> Result<ScheduleView> {
        let mut unit = self.begin(member).await?;
        let mut loaded = Loaded::load(&mut unit, id, false).await?;
        let effects = loaded.schedule.correct_elapsed(elapsed)?;
        loaded.save(&mut unit).await?;
        unit.add(effects);
        let member_zone = unit.member.zone.clone();
        let stored = owned_schedule(&mut unit.tx, unit.member.id, id).await?;
        unit.finish(&self.inner.outbox).await?;
        Ok(ScheduleView {
            stored,
            member_zone,
        })
    }

    /// `DELETE /v2/schedules/{id}`: only NOT_STARTED or COMPLETED (409); emits `schedule.deleted`; a
    /// completed schedule's statistics are reverted; the linked task is untouched. An occurrence of a
    /// repeating schedule is removed from its series too, with the following ones or the whole series as
    /// `scope` says ([`super::series`]).
    pub async fn delete_schedule(
        &self,
        member: MemberId,
        id: ScheduleId,
        scope: Scope,
    ) -> Result<()> {
        let mut unit = self.begin(member).await?;
        let stored = owned_schedule(&mut unit.tx, unit.member.id, id).await?;
        delete_in(&mut unit, stored, scope).await?;
        unit.finish(&self.inner.outbox).await
    }

    /// The member's running slot as the start of `candidate` must see it: a slot pointing at a
    /// schedule that no longer holds it (gone, or neither IN_PROGRESS nor SUSPENDED) is free.
    async fn verified_slot(unit: &mut Unit, candidate: ScheduleId) -> Result<Option<ScheduleId>> {
        match unit.member.running {
            Some(other) if other != candidate => {
                let holder = store::schedules::get(&mut unit.tx, other).await?;
                Ok(holder
                    .filter(|s| s.schedule.state().holds_slot())
                    .map(|_| other))
            }
            running => Ok(running),
        }
    }

    /// `POST /v2/schedules/{id}/start` (start or resume, at the server's now).
    pub async fn start_schedule(
        &self,
        member: MemberId,
        id: ScheduleId,
        asked: Option<Asked>,
    ) -> Result<()> {
        let mut unit = self.begin(member).await?;
        let mut loaded = Loaded::load(&mut unit, id, false).await?;
        let at = happened_at(&unit, &loaded.schedule, asked)?;
        let prerequisites = prerequisites(&mut unit.tx, loaded.schedule.task_id()).await?;
        let running = Self::verified_slot(&mut unit, id).await?;
        let effects = loaded.schedule.start(at, running, &prerequisites)?;
        loaded.save(&mut unit).await?;
        unit.add(effects);
        unit.finish(&self.inner.outbox).await
    }

    /// `POST /v2/schedules/{id}/suspend`.
    pub async fn suspend_schedule(
        &self,
        member: MemberId,
        id: ScheduleId,
        asked: Option<Asked>,
    ) -> Result<()> {
        let mut unit = self.begin(member).await?;
        let mut loaded = Loaded::load(&mut unit, id, false).await?;
        let at = happened_at(&unit, &loaded.schedule, asked)?;
        let effects = loaded.schedule.suspend(at)?;
        loaded.save(&mut unit).await?;
        unit.add(effects);
        unit.finish(&self.inner.outbox).await
    }

    /// `POST /v2/schedules/{id}/complete`: completes the linked task too; records the statistics.
    pub async fn complete_schedule(
        &self,
        member: MemberId,
        id: ScheduleId,
        asked: Option<Asked>,
    ) -> Result<()> {
        let mut unit = self.begin(member).await?;
        let mut loaded = Loaded::load(&mut unit, id, true).await?;
        let at = happened_at(&unit, &loaded.schedule, asked)?;
        let prerequisites = prerequisites(&mut unit.tx, loaded.schedule.task_id()).await?;
        let zone = unit.member.zone.clone();
        let mut schedule = loaded.schedule.clone();
        let effects = schedule.complete(at, &zone, loaded.task_mut(), &prerequisites)?;
        loaded.schedule = schedule;
        loaded.save(&mut unit).await?;
        unit.add(effects);
        unit.finish(&self.inner.outbox).await
    }

    /// `POST /v2/schedules/{id}/cancel`: back to NOT_STARTED; reopens the linked task; reverts the
    /// statistics of a completed schedule.
    pub async fn cancel_schedule(&self, member: MemberId, id: ScheduleId) -> Result<()> {
        let mut unit = self.begin(member).await?;
        let mut loaded = Loaded::load(&mut unit, id, true).await?;
        let now = unit.now;
        let mut schedule = loaded.schedule.clone();
        let effects = schedule.cancel(now, loaded.task_mut())?;
        loaded.schedule = schedule;
        loaded.save(&mut unit).await?;
        unit.add(effects);
        unit.finish(&self.inner.outbox).await
    }

    /// Schedule `id`, whoever owns it (gRPC `GetScheduleBasics` checks the owner itself).
    pub async fn schedule_by_id(&self, id: ScheduleId) -> Result<Option<StoredSchedule>> {
        let mut conn = self.inner.db.conn().await?;
        Ok(store::schedules::get(&mut conn, id).await?)
    }

    /// The schedules among `ids` that exist (gRPC `GetSchedulesState`).
    pub async fn schedules_by_ids(&self, ids: &[ScheduleId]) -> Result<Vec<StoredSchedule>> {
        let mut conn = self.inner.db.conn().await?;
        Ok(store::schedules::by_ids(&mut conn, ids).await?)
    }

    /// `GET /v2/statistics`: the bucket of the week (in the member's zone) that contains `at`.
    pub async fn statistics(&self, member: MemberId, at: Timestamp) -> Result<WeeklyStatistics> {
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        let week = WeekKey::containing(at, &member.zone)?;
        let totals = store::statistics::weekly(&mut conn, member.id, &week).await?;
        Ok(WeeklyStatistics {
            member: member.id,
            week,
            totals,
        })
    }
}

/// The moment a client says a run operation was pressed: its wall clock, in its zone (the member's when the
/// request names none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    pub local: jiff::civil::DateTime,
    pub zone: Option<crate::domain::Zone>,
}

/// When the operation happens: the client's moment within the window of [`crate::domain::dated`], else now.
fn happened_at(
    unit: &super::Unit,
    schedule: &crate::domain::Schedule,
    asked: Option<Asked>,
) -> Result<jiff::Timestamp> {
    let asked = match asked {
        Some(Asked { local, zone }) => {
            Some(zone.as_ref().unwrap_or(&unit.member.zone).resolve(local)?)
        }
        None => None,
    };
    Ok(crate::domain::dated::happened_at(
        asked,
        unit.now,
        schedule.run().changed_at(),
    )?)
}
