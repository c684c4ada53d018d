//! Tasks: create, update (with dependency changes), complete, reopen, delete, copy into a schedule,
//! and the lists (offset page, ascending cursor, archive, by deadline).

use std::collections::BTreeSet;

use jiff::civil::Date;

use super::{AppError, Result, TaskApp, Unit};
use crate::domain::paging::{self, archive_cutoff};
use crate::domain::time::parse_date;
use crate::domain::{
    AggregateRef, ArchiveCursor, CreateDependencies, DependencyGraph, DependencyPair, MemberId,
    Prerequisites, Schedule, ScheduleDraft, ScheduleType, TaskCursor, TaskFields, TaskId,
    TaskPatch, UpdateDependencies, Window, Zone, ensure_not_scheduled,
};
use crate::store::schedules::StoredSchedule;
use crate::store::tasks::{ListFilter, StoredTask};
use crate::store::{self};
use pinit_kernel::db::{Conn, DbError};

/// A task with its neighbours in the dependency graph (`TaskResponseV2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskView {
    pub stored: StoredTask,
    /// `previousTaskIds` (ascending); its length is `inboundDependencyCount`.
    pub previous: Vec<TaskId>,
    /// `nextTaskIds` (ascending).
    pub next: Vec<TaskId>,
}

/// `GET /v2/tasks`: one offset page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPage {
    pub items: Vec<TaskView>,
    pub page: i64,
    pub size: i64,
    pub total: i64,
}

/// `GET /v2/tasks/cursor` and `/v2/tasks/completed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorPage {
    pub items: Vec<TaskView>,
    pub next_cursor: Option<String>,
    pub has_next: bool,
}

/// The views of `tasks` (one query for their edges).
async fn views(conn: &mut Conn, owner: MemberId, tasks: Vec<StoredTask>) -> Result<Vec<TaskView>> {
    let ids: Vec<TaskId> = tasks.iter().map(|t| t.task.id()).collect();
    let graph = DependencyGraph::new(store::tasks::edges_touching(conn, owner, &ids).await?);
    Ok(tasks
        .into_iter()
        .map(|stored| {
            let id = stored.task.id();
            TaskView {
                previous: graph.predecessors(id),
                next: graph.successors(id),
                stored,
            }
        })
        .collect())
}

async fn view(conn: &mut Conn, owner: MemberId, stored: StoredTask) -> Result<TaskView> {
    let id = stored.task.id();
    let graph = DependencyGraph::new(store::tasks::edges_touching(conn, owner, &[id]).await?);
    Ok(TaskView {
        previous: graph.predecessors(id),
        next: graph.successors(id),
        stored,
    })
}

/// 404 unless every task in `ids` exists and is the member's (the reference did not check:
/// docs/contract/task.md#dependency-graph).
async fn require_tasks(conn: &mut Conn, owner: MemberId, ids: BTreeSet<TaskId>) -> Result<()> {
    let ids: Vec<TaskId> = ids.into_iter().collect();
    let found: BTreeSet<TaskId> = store::tasks::completion(conn, owner, &ids)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    match ids.into_iter().find(|id| !found.contains(id)) {
        Some(missing) => Err(AppError::TaskNotFound(missing)),
        None => Ok(()),
    }
}

async fn prerequisites(conn: &mut Conn, task: TaskId) -> Result<Prerequisites> {
    Ok(Prerequisites::of(
        task,
        store::tasks::prerequisites(conn, task).await?,
    ))
}

pub(super) async fn owned_task(conn: &mut Conn, owner: MemberId, id: TaskId) -> Result<StoredTask> {
    store::tasks::get(conn, owner, id)
        .await?
        .ok_or(AppError::TaskNotFound(id))
}

/// Creates a task with its dependency edges, inside `unit`.
pub(super) async fn create_in(
    unit: &mut Unit,
    fields: &TaskFields,
    dependencies: &CreateDependencies,
) -> Result<StoredTask> {
    let owner = unit.member.id;
    require_tasks(&mut unit.tx, owner, dependencies.referenced_tasks()).await?;
    let stored = store::tasks::insert(&mut unit.tx, owner, fields, unit.now).await?;
    unit.add(stored.task.created());
    let edges = dependencies.resolve(stored.task.id())?;
    if !edges.is_empty() {
        let graph = DependencyGraph::new(store::tasks::member_edges(&mut unit.tx, owner).await?);
        let change = graph.plan(&[], &edges)?;
        store::tasks::insert_edges(&mut unit.tx, owner, &change.added).await?;
    }
    Ok(stored)
}

/// Replaces a task's editable fields and changes its edges, inside `unit`.
pub(super) async fn update_in(
    unit: &mut Unit,
    id: TaskId,
    fields: TaskFields,
    dependencies: &UpdateDependencies,
) -> Result<StoredTask> {
    let owner = unit.member.id;
    let stored = owned_task(&mut unit.tx, owner, id).await?;
    require_tasks(&mut unit.tx, owner, dependencies.referenced_tasks()).await?;
    let graph = DependencyGraph::new(store::tasks::member_edges(&mut unit.tx, owner).await?);
    let change = graph.plan(&dependencies.remove, &dependencies.add)?;
    let mut task = stored.task.clone();
    task.patch(TaskPatch {
        title: Some(fields.title),
        description: Some(fields.description),
        deadline: Some(fields.deadline),
        importance: Some(fields.importance),
        difficulty: Some(fields.difficulty),
    });
    let version = unit.save_task(&stored, &task).await?;
    store::tasks::delete_edges(&mut unit.tx, &change.removed).await?;
    store::tasks::insert_edges(&mut unit.tx, owner, &change.added).await?;
    Ok(StoredTask {
        task,
        version,
        created_at: stored.created_at,
        updated_at: if version == stored.version {
            stored.updated_at
        } else {
            unit.now
        },
    })
}

/// Completes a task (idempotent), inside `unit`: finishes a NOT_STARTED linked schedule; refused while the
/// linked schedule runs or a prerequisite is not completed.
pub(super) async fn complete_in(unit: &mut Unit, id: TaskId) -> Result<()> {
    let owner = unit.member.id;
    let stored = owned_task(&mut unit.tx, owner, id).await?;
    let linked = store::schedules::of_task(&mut unit.tx, id).await?;
    let prerequisites = prerequisites(&mut unit.tx, id).await?;
    let mut task = stored.task.clone();
    let mut schedule = linked.as_ref().map(|s| s.schedule.clone());
    let zone = unit.member.zone.clone();
    let effects = task.complete(&prerequisites, schedule.as_mut(), unit.now, &zone)?;
    unit.save_task(&stored, &task).await?;
    if let (Some(stored), Some(schedule)) = (&linked, &schedule) {
        unit.save_schedule(stored, schedule).await?;
    }
    unit.add(effects);
    Ok(())
}

/// Reopens a task (idempotent), inside `unit`: resets a COMPLETED linked schedule.
pub(super) async fn reopen_in(unit: &mut Unit, id: TaskId) -> Result<()> {
    let owner = unit.member.id;
    let stored = owned_task(&mut unit.tx, owner, id).await?;
    let linked = store::schedules::of_task(&mut unit.tx, id).await?;
    let mut task = stored.task.clone();
    let mut schedule = linked.as_ref().map(|s| s.schedule.clone());
    let effects = task.reopen(schedule.as_mut(), unit.now)?;
    unit.save_task(&stored, &task).await?;
    if let (Some(stored), Some(schedule)) = (&linked, &schedule) {
        unit.save_schedule(stored, schedule).await?;
    }
    unit.add(effects);
    Ok(())
}

/// Deletes a task, inside `unit`: the linked schedule is deleted (only when NOT_STARTED or COMPLETED — 409
/// otherwise) or detached; the task's edges and what a calendar app kept of it go with it, and a tombstone tells
/// calendar apps.
pub(super) async fn delete_in(unit: &mut Unit, id: TaskId, delete_schedules: bool) -> Result<()> {
    let owner = unit.member.id;
    owned_task(&mut unit.tx, owner, id).await?;
    if let Some(linked) = store::schedules::of_task(&mut unit.tx, id).await? {
        if delete_schedules {
            let effects = linked.schedule.delete()?;
            unit.delete_schedule(&linked).await?;
            unit.add(effects);
        } else {
            let mut schedule = linked.schedule.clone();
            schedule.detach_task();
            unit.save_schedule(&linked, &schedule).await?;
        }
    }
    store::tasks::delete(&mut unit.tx, id).await?;
    let kind = store::Kind::Task;
    let name = store::calendar_objects::forget(&mut unit.tx, kind, id.get()).await?;
    let now = unit.now;
    store::tombstones::record(&mut unit.tx, kind, owner, id.get(), name.as_deref(), now).await?;
    Ok(())
}

impl TaskApp {
    /// `POST /v2/tasks`. `dependencies` use `0` for the new task on exactly one side.
    pub async fn create_task(
        &self,
        member: MemberId,
        fields: TaskFields,
        dependencies: &[DependencyPair],
    ) -> Result<TaskView> {
        let dependencies = CreateDependencies::parse(dependencies)?;
        let mut unit = self.begin(member).await?;
        let stored = create_in(&mut unit, &fields, &dependencies).await?;
        let view = view(&mut unit.tx, unit.member.id, stored).await?;
        unit.finish(&self.inner.outbox).await?;
        Ok(view)
    }

    /// `PATCH /v2/tasks/{id}`: replaces the editable fields, removes then adds dependency edges (every
    /// edge must touch this task; `0` is refused).
    pub async fn update_task(
        &self,
        member: MemberId,
        id: TaskId,
        fields: TaskFields,
        remove: &[DependencyPair],
        add: &[DependencyPair],
    ) -> Result<TaskView> {
        let dependencies = UpdateDependencies::parse(id, remove, add)?;
        let mut unit = self.begin(member).await?;
        let saved = update_in(&mut unit, id, fields, &dependencies).await?;
        let view = view(&mut unit.tx, unit.member.id, saved).await?;
        unit.finish(&self.inner.outbox).await?;
        Ok(view)
    }

    /// `GET /v2/tasks/{id}`.
    pub async fn task(&self, member: MemberId, id: TaskId) -> Result<TaskView> {
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        let stored = owned_task(&mut conn, member.id, id).await?;
        view(&mut conn, member.id, stored).await
    }

    /// `POST /v2/tasks/{id}/complete` ([`complete_in`]).
    pub async fn complete_task(&self, member: MemberId, id: TaskId) -> Result<()> {
        let mut unit = self.begin(member).await?;
        complete_in(&mut unit, id).await?;
        unit.finish(&self.inner.outbox).await
    }

    /// `POST /v2/tasks/{id}/reopen` ([`reopen_in`]).
    pub async fn reopen_task(&self, member: MemberId, id: TaskId) -> Result<()> {
        let mut unit = self.begin(member).await?;
        reopen_in(&mut unit, id).await?;
        unit.finish(&self.inner.outbox).await
    }

    /// `DELETE /v2/tasks/{id}?deleteSchedules=` ([`delete_in`]).
    pub async fn delete_task(
        &self,
        member: MemberId,
        id: TaskId,
        delete_schedules: bool,
    ) -> Result<()> {
        let mut unit = self.begin(member).await?;
        delete_in(&mut unit, id, delete_schedules).await?;
        unit.finish(&self.inner.outbox).await
    }

    /// `POST /v2/tasks/{id}/schedules`: a schedule linked to the task (one per task, 409 otherwise);
    /// title and description default to the task's; `reminders` are the schedule's own (`None`: the member's
    /// default).
    #[allow(clippy::too_many_arguments)]
    pub async fn schedule_task(
        &self,
        member: MemberId,
        id: TaskId,
        title: Option<&str>,
        description: Option<&str>,
        schedule_type: ScheduleType,
        start: jiff::Timestamp,
        reminders: Option<crate::domain::Reminders>,
        planned: Option<crate::domain::PlannedDuration>,
    ) -> Result<StoredSchedule> {
        let mut unit = self.begin(member).await?;
        let owner = unit.member.id;
        let task = owned_task(&mut unit.tx, owner, id).await?.task;
        let linked = store::schedules::of_task(&mut unit.tx, id).await?;
        ensure_not_scheduled(linked.is_some())?;
        let draft = ScheduleDraft::from_task(&task, title, description, schedule_type, start)?
            .with_reminders(reminders)
            .with_planned(planned);
        let schedule_id = store::schedules::insert(&mut unit.tx, owner, Some(id), &draft, unit.now)
            .await
            .map_err(|e| match e {
                store::StoreError::Db(DbError::Duplicate { .. }) => {
                    AppError::Task(crate::domain::TaskError::AlreadyScheduled)
                }
                other => other.into(),
            })?;
        let (schedule, effects) =
            Schedule::create(schedule_id, owner, Some(id), draft, &unit.inherited(None));
        unit.versions.insert(AggregateRef::Schedule(schedule_id), 1);
        unit.add(effects);
        let now = unit.now;
        unit.finish(&self.inner.outbox).await?;
        Ok(StoredSchedule {
            schedule,
            version: 1,
            created_at: now,
            updated_at: now,
            task_completed: Some(task.is_completed()),
            occurrence: None,
            series_reminders: None,
        })
    }

    /// The list's filter: ready tasks, or the "current" tab (today in the member's zone).
    fn filter(&self, zone: &Zone, ready_only: bool) -> ListFilter {
        if ready_only {
            ListFilter::Ready
        } else {
            ListFilter::Current {
                today: zone.local_date(self.now()),
            }
        }
    }

    /// `GET /v2/tasks?page&size&readyOnly`.
    pub async fn tasks_page(
        &self,
        member: MemberId,
        page: Option<i64>,
        size: Option<i64>,
        ready_only: bool,
    ) -> Result<TaskPage> {
        let page = paging::page_index(page)?;
        let size = paging::page_size(size)?;
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        let filter = self.filter(&member.zone, ready_only);
        let total = store::tasks::count(&mut conn, member.id, filter).await?;
        let offset = page.saturating_mul(size);
        let rows = store::tasks::page(&mut conn, member.id, filter, offset, size).await?;
        Ok(TaskPage {
            items: views(&mut conn, member.id, rows).await?,
            page,
            size,
            total,
        })
    }

    /// `GET /v2/tasks/cursor?size&cursor&readyOnly`: ascending by deadline date then id.
    pub async fn tasks_after(
        &self,
        member: MemberId,
        size: Option<i64>,
        cursor: Option<&str>,
        ready_only: bool,
    ) -> Result<CursorPage> {
        let size = paging::page_size(size)?;
        let cursor = TaskCursor::parse(cursor)?;
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        let filter = self.filter(&member.zone, ready_only);
        let mut rows = store::tasks::after(&mut conn, member.id, filter, cursor, size + 1).await?;
        let has_next = rows.len() as i64 > size;
        rows.truncate(size as usize);
        let next_cursor = has_next.then(|| rows.last()).flatten().map(|t| {
            TaskCursor {
                date: t.task.deadline().date(),
                id: t.task.id(),
            }
            .encode()
        });
        Ok(CursorPage {
            items: views(&mut conn, member.id, rows).await?,
            next_cursor,
            has_next,
        })
    }

    /// `GET /v2/tasks/completed?size&cursor&zoneId&offset`: completed tasks due at least one day ago (in
    /// `zoneId`, else the legacy `offset`, else the member's zone), newest first.
    pub async fn archive(
        &self,
        member: MemberId,
        size: Option<i64>,
        cursor: Option<&str>,
        zone_id: Option<&str>,
        offset: Option<&str>,
    ) -> Result<CursorPage> {
        let size = paging::page_size(size)?;
        let cursor = ArchiveCursor::parse(cursor)?;
        let requested = match (
            zone_id.filter(|z| !z.is_empty()),
            offset.filter(|o| !o.is_empty()),
        ) {
            (Some(z), _) => Some(Zone::parse(z)?),
            // A `+` not URL-encoded arrives as a space.
            (None, Some(o)) => Some(Zone::from_legacy_offset(&o.replace(' ', "+"))?),
            (None, None) => None,
        };
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        let zone = requested.unwrap_or_else(|| member.zone.clone());
        let cutoff = archive_cutoff(self.now(), &zone)?;
        let cursor = match cursor {
            Some(c) => c,
            None => ArchiveCursor::first(cutoff)?,
        };
        let mut rows =
            store::tasks::archive(&mut conn, member.id, cutoff, cursor, size + 1).await?;
        let has_next = rows.len() as i64 > size;
        rows.truncate(size as usize);
        let next_cursor = has_next.then(|| rows.last()).flatten().map(|t| {
            ArchiveCursor {
                date: t.task.deadline().date(),
                id: t.task.id(),
            }
            .encode()
        });
        Ok(CursorPage {
            items: views(&mut conn, member.id, rows).await?,
            next_cursor,
            has_next,
        })
    }

    /// `GET /v2/tasks/by-deadline?date&zoneId`: the tasks whose deadline (00:00 of their date in their
    /// own zone) falls on `date` in `zoneId` (default: the member's zone).
    pub async fn tasks_due_on(
        &self,
        member: MemberId,
        date: &str,
        zone_id: Option<&str>,
    ) -> Result<Vec<TaskView>> {
        let date: Date = parse_date(date)?;
        let requested = zone_id
            .filter(|z| !z.is_empty())
            .map(Zone::parse)
            .transpose()?;
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        let zone = requested.unwrap_or_else(|| member.zone.clone());
        let window = Window::day(date, &zone)?;
        let out_of_range = || AppError::from(crate::domain::TimeError::OutOfRange);
        let from = date.yesterday().map_err(|_| out_of_range())?;
        let to = date.tomorrow().map_err(|_| out_of_range())?;
        let rows = store::tasks::due_between(&mut conn, member.id, from, to)
            .await?
            .into_iter()
            .filter(|t| window.contains(t.task.deadline().start()))
            .collect();
        views(&mut conn, member.id, rows).await
    }
}
