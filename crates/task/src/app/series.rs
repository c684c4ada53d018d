//! Repeating schedules: create a series, make its occurrences (on reads, and ahead of time by the rolling
//! window so their pushes are armed), read a series. docs/adr/0014-schedule-series.md.

use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::DateTime;
use tokio_util::sync::CancellationToken;

use super::schedules::delete_one;
use super::{AppError, Result, TaskApp, Unit};
use crate::domain::recurrence::Occurrence;
use crate::domain::series::{MADE_AHEAD, ROLLING_WINDOW, whole_seconds};
use crate::domain::{
    AggregateRef, MemberId, NewSeries, Recurrence, Reminders, Schedule, SchedulePatch,
    ScheduleSeries, ScheduleState, Scope, SeriesId, SeriesSpec, Window,
};
use crate::store::schedules::{OccurrenceOf, StoredSchedule};
use crate::store::series::StoredSeries;
use crate::store::{self};

/// `GET /v2/schedules/series/{id}`: the series and its next occurrences.
#[derive(Debug, Clone)]
pub struct SeriesView {
    pub stored: StoredSeries,
    pub next: Vec<Occurrence>,
}

/// What one step of the rolling window did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RollReport {
    /// Series visited (each in its own transaction).
    pub series: usize,
    /// Occurrences made.
    pub made: usize,
}

/// How many upcoming occurrences a series view lists.
pub const NEXT_OCCURRENCES: usize = 10;

/// How often the rolling window moves forward.
const ROLL_EVERY: Duration = Duration::from_secs(10 * 60);

/// Series per step of the rolling window (each in its own transaction).
const ROLL_BATCH: i64 = 100;

impl TaskApp {
    /// `POST /v2/schedules` with `recurrence`: stores the series (a [`SeriesSpec`] alone follows the member's
    /// default reminders), makes its first occurrence and those within the rolling window, and returns the
    /// first occurrence.
    pub async fn create_series(
        &self,
        member: MemberId,
        series: impl Into<NewSeries>,
    ) -> Result<StoredSchedule> {
        let mut unit = self.begin(member).await?;
        let first = start_series(&mut unit, series.into()).await?;
        unit.finish(&self.inner.outbox).await?;
        Ok(first)
    }

    /// `POST /v2/tasks/{id}/schedules` with `recurrence`: a series whose title and description default to the
    /// task's. Its occurrences are not linked to the task: a task is done once, a repeating block recurs, and
    /// a linked occurrence would complete the task with its first block (docs/adr/0014-schedule-series.md).
    #[allow(clippy::too_many_arguments)]
    pub async fn schedule_task_series(
        &self,
        member: MemberId,
        task: crate::domain::TaskId,
        title: Option<&str>,
        description: Option<&str>,
        schedule_type: crate::domain::ScheduleType,
        start: DateTime,
        zone: crate::domain::Zone,
        recurrence: Recurrence,
        reminders: Option<Reminders>,
        planned: Option<crate::domain::PlannedDuration>,
    ) -> Result<StoredSchedule> {
        let mut unit = self.begin(member).await?;
        let task = super::tasks::owned_task(&mut unit.tx, unit.member.id, task)
            .await?
            .task;
        let (title, description) =
            crate::domain::ScheduleDraft::texts_from_task(&task, title, description)?;
        let spec = SeriesSpec {
            title,
            description,
            schedule_type,
            start,
            zone,
            recurrence,
            planned,
        };
        let first = start_series(&mut unit, NewSeries { spec, reminders }).await?;
        unit.finish(&self.inner.outbox).await?;
        Ok(first)
    }

    /// Makes the occurrences of the member's series that start within `window` and are not schedules yet (a
    /// read of a day or a week far ahead, or in the past, makes just that window's).
    pub(crate) async fn make_occurrences_within(
        &self,
        member: MemberId,
        window: Window,
    ) -> Result<()> {
        let mut conn = self.inner.db.conn().await?;
        let all = store::series::of_owner(&mut conn, member).await?;
        let mut missing = Vec::new();
        for stored in all {
            let wanted = not_made(&mut conn, &stored.series, window).await?;
            if !wanted.is_empty() {
                missing.push((stored, wanted));
            }
        }
        drop(conn);
        if missing.is_empty() {
            return Ok(());
        }
        let mut unit = self.begin(member).await?;
        for (read, wanted) in missing {
            // Read again under the member's lock: a series edited since (its time, its reminders) or deleted is
            // made as it is now.
            let Some(fresh) =
                store::series::get_owned(&mut unit.tx, member, read.series.id).await?
            else {
                continue;
            };
            let wanted = if fresh.version == read.version {
                wanted
            } else {
                not_made(&mut unit.tx, &fresh.series, window).await?
            };
            make(&mut unit, &fresh.series, &wanted).await?;
        }
        unit.finish(&self.inner.outbox).await
    }

    /// `GET /v2/schedules/series/{id}`.
    pub async fn series(&self, member: MemberId, id: SeriesId) -> Result<SeriesView> {
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        let stored = store::series::get_owned(&mut conn, member.id, id)
            .await?
            .ok_or(AppError::SeriesNotFound(id))?;
        let next = stored.series.spec.next(self.now(), NEXT_OCCURRENCES);
        Ok(SeriesView { stored, next })
    }

    /// One step of the rolling window: every series whose occurrences are made less than [`ROLLING_WINDOW`]
    /// ahead is made [`MADE_AHEAD`] ahead (their `schedule.time.upcoming.updated` events arm the pushes); a
    /// series whose rule has ended is not visited again.
    pub async fn roll_series_window(&self) -> Result<RollReport> {
        let mut report = RollReport::default();
        loop {
            let now = self.now();
            let mut conn = self.inner.db.conn().await?;
            let behind = store::series::behind(&mut conn, now + ROLLING_WINDOW, ROLL_BATCH).await?;
            drop(conn);
            if behind.is_empty() {
                return Ok(report);
            }
            for read in behind {
                let mut unit = self.begin(read.series.owner_id).await?;
                // Read again under the member's lock: a series edited since the batch was read (its time, its
                // reminders) is made as it is now; one deleted since is left alone (`behind` skips it next time).
                let Some(stored) =
                    store::series::get_owned(&mut unit.tx, read.series.owner_id, read.series.id)
                        .await?
                else {
                    continue;
                };
                let series = &stored.series;
                let ahead = now + MADE_AHEAD;
                let wanted = series
                    .spec
                    .occurrences_between(stored.materialized_until.max(now), ahead);
                report.made += make(&mut unit, series, &wanted).await?;
                report.series += 1;
                let ended = series.spec.next(ahead, 1).is_empty();
                // An ended series is marked as made to the end of time (whole seconds: what the store keeps).
                let until = if ended {
                    Timestamp::from_second(Timestamp::MAX.as_second()).unwrap_or(ahead)
                } else {
                    ahead
                };
                store::series::advance(&mut unit.tx, series.id, until).await?;
                unit.finish(&self.inner.outbox).await?;
            }
        }
    }

    /// Moves the rolling window forward every ten minutes until `stop` (and once at start).
    pub async fn run_series_window(
        self,
        stop: CancellationToken,
    ) -> std::result::Result<(), std::convert::Infallible> {
        let mut every = tokio::time::interval(ROLL_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                _ = every.tick() => {}
            }
            match self.roll_series_window().await {
                Ok(report) if report.series == 0 => {}
                Ok(report) => tracing::info!(
                    series = report.series,
                    occurrences = report.made,
                    "repeating schedules: occurrences made ahead"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "repeating schedules: moving the window failed; retried later")
                }
            }
        }
    }
}

/// The occurrences of `series` starting within `window` that are not schedules yet.
async fn not_made(
    conn: &mut pinit_kernel::db::Conn,
    series: &ScheduleSeries,
    window: Window,
) -> Result<Vec<Occurrence>> {
    let occurrences = series.spec.occurrences_between(window.start, window.end);
    if occurrences.is_empty() {
        return Ok(occurrences);
    }
    let starts: Vec<DateTime> = occurrences.iter().map(|o| o.local).collect();
    let made = store::schedules::occurrences_made(conn, series.id, &starts).await?;
    Ok(occurrences
        .into_iter()
        .filter(|o| !made.contains(&o.local))
        .collect())
}

/// Stores a new series and makes its first occurrence (even in the past) and those from now to
/// [`MADE_AHEAD`]; returns the first occurrence.
async fn start_series(unit: &mut Unit, new: NewSeries) -> Result<StoredSchedule> {
    let owner = unit.member.id;
    let now = unit.now;
    let horizon = now + MADE_AHEAD;
    let NewSeries { spec, reminders } = new;
    let id =
        store::series::insert(&mut unit.tx, owner, &spec, reminders.as_ref(), horizon, now).await?;
    let series = ScheduleSeries {
        id,
        owner_id: owner,
        spec,
        reminders,
    };
    let first = series
        .spec
        .first()
        .ok_or(AppError::SeriesWithoutOccurrence)?;
    let mut wanted = vec![first];
    wanted.extend(
        series
            .spec
            .occurrences_between(now.max(first.at), horizon)
            .into_iter()
            .filter(|o| o.local != first.local),
    );
    make(unit, &series, &wanted).await?;
    store::schedules::occurrence(&mut unit.tx, id, first.local)
        .await?
        .ok_or(AppError::SeriesWithoutOccurrence)
}

/// Makes the schedules of `wanted` (occurrences of `series`) that do not exist yet, each with its
/// `schedule.time.upcoming.updated` event (armed with the series' reminders, else the member's). Returns how
/// many it made.
async fn make(unit: &mut Unit, series: &ScheduleSeries, wanted: &[Occurrence]) -> Result<usize> {
    let inherited = unit.inherited(series.reminders.as_ref());
    let mut made = 0;
    for occurrence in wanted {
        let draft = series.spec.draft(occurrence);
        let of = OccurrenceOf {
            series: series.id,
            start: occurrence.local,
        };
        let Some(id) = store::schedules::insert_occurrence(
            &mut unit.tx,
            series.owner_id,
            of,
            &draft,
            unit.now,
        )
        .await?
        else {
            continue;
        };
        let (_, effects) = Schedule::create(id, series.owner_id, None, draft, &inherited);
        unit.versions.insert(AggregateRef::Schedule(id), 1);
        unit.add(effects);
        made += 1;
    }
    Ok(made)
}

/// `DELETE` of an occurrence: `this` removes it and adds an EXDATE so no read makes it again; `following`
/// removes it and every later occurrence not started yet, and ends the series before it; `all` removes every
/// occurrence not started yet and the series. Started, paused and completed occurrences are never removed by
/// `following` or `all` (the one asked for follows the one-schedule rule: 409 while it runs).
pub(super) async fn delete_occurrence(
    unit: &mut Unit,
    stored: StoredSchedule,
    of: OccurrenceOf,
    scope: Scope,
) -> Result<()> {
    let owner = unit.member.id;
    let series = store::series::get_owned(&mut unit.tx, owner, of.series).await?;
    let now = unit.now;
    match scope {
        Scope::This => {
            delete_one(unit, &stored).await?;
            if let Some(series) = series {
                let fewer = series.series.spec.recurrence.without(of.start);
                store::series::set_recurrence(&mut unit.tx, &series, &fewer, now).await?;
            }
        }
        Scope::Following => {
            delete_one(unit, &stored).await?;
            for later in
                store::schedules::unstarted_of_series(&mut unit.tx, of.series, Some(of.start))
                    .await?
            {
                delete_one(unit, &later).await?;
            }
            if let Some(series) = series {
                if of.start <= series.series.spec.start {
                    store::series::delete(&mut unit.tx, &series, now).await?;
                } else {
                    let ended = series.series.spec.recurrence.ending_before(of.start);
                    store::series::set_recurrence(&mut unit.tx, &series, &ended, now).await?;
                }
            }
        }
        Scope::All => delete_series(unit, of.series, series.as_ref()).await?,
    }
    Ok(())
}

/// Deletes a series (`series`, if it is still there) and its occurrences not started yet; started, paused and
/// completed ones stay, as schedules of their own.
pub(super) async fn delete_series(
    unit: &mut Unit,
    id: SeriesId,
    series: Option<&StoredSeries>,
) -> Result<()> {
    for unstarted in store::schedules::unstarted_of_series(&mut unit.tx, id, None).await? {
        delete_one(unit, &unstarted).await?;
    }
    if let Some(series) = series {
        store::series::delete(&mut unit.tx, series, unit.now).await?;
    }
    Ok(())
}

/// The occurrence of `series` at the wall-clock time `local` — made now if it is a date of the series not made
/// yet; `None` when the series has no occurrence then.
pub(super) async fn occurrence_row(
    unit: &mut Unit,
    series: &ScheduleSeries,
    local: DateTime,
) -> Result<Option<StoredSchedule>> {
    if let Some(row) = store::schedules::occurrence(&mut unit.tx, series.id, local).await? {
        return Ok(Some(row));
    }
    let Some(occurrence) = series.spec.occurrence_at(local) else {
        return Ok(None);
    };
    make(unit, series, &[occurrence]).await?;
    Ok(store::schedules::occurrence(&mut unit.tx, series.id, local).await?)
}

/// `PATCH` of an occurrence with `scope=following` or `all`: the series' title, description, type and time of
/// day change (its days stay: moving days is a new rule). `all` edits the series and re-times every future
/// occurrence it made that is not started and not edited on its own; `following` ends the series before this
/// occurrence and continues it, edited, from here as a new series (COUNT carries over what is left). An
/// occurrence that is kept — started, completed, past, or edited on its own — stands in for its day: the
/// edited series gets an EXDATE for that day so no second occurrence appears beside it. The occurrence asked
/// for follows the one-schedule rule (only NOT_STARTED: 409).
///
/// New `reminders` in the patch become the edited series' list, and the occurrence asked for drops a list of its
/// own to follow it. Every occurrence of the edited series that is NOT_STARTED, ahead, and armed with other
/// reminders than before is re-armed (its `schedule.time.upcoming.updated` again); an occurrence with a list of
/// its own keeps it. With a split, the occurrences kept in the old series keep its list.
pub(super) async fn edit_series(
    unit: &mut Unit,
    stored: &StoredSchedule,
    of: OccurrenceOf,
    patch: SchedulePatch,
    scope: Scope,
    rule: Option<Recurrence>,
) -> Result<()> {
    let owner = unit.member.id;
    let now = unit.now;
    let state = stored.schedule.state();
    if state != ScheduleState::NotStarted {
        return Err(crate::domain::ScheduleError::NotModifiable(state).into());
    }
    let series_row = store::series::get_owned(&mut unit.tx, owner, of.series)
        .await?
        .ok_or(AppError::SeriesNotFound(of.series))?;
    let old = series_row.series.spec.clone();
    let old_id = series_row.series.id;
    let time = match patch.designated_start {
        Some(at) => {
            let local = whole_seconds(old.zone.local_date_time(at));
            if local.date() != of.start.date() {
                return Err(AppError::SeriesKeepsItsDays);
            }
            local.time()
        }
        None => old.start.time(),
    };
    let mut edited = ScheduleSeries {
        id: old_id,
        owner_id: owner,
        spec: old.clone(),
        reminders: series_row.series.reminders.clone(),
    };
    if let Some(reminders) = &patch.reminders {
        edited.reminders = reminders.clone();
    }
    let inherited = unit.inherited(edited.reminders.as_ref());
    if let Some(title) = &patch.title {
        edited.spec.title = title.clone();
    }
    if let Some(description) = &patch.description {
        edited.spec.description = description.clone();
    }
    if let Some(kind) = patch.schedule_type {
        edited.spec.schedule_type = kind;
    }
    if let Some(planned) = patch.planned {
        edited.spec.planned = planned;
    }
    let split = scope == Scope::Following && of.start > old.start;
    let from = if split { of.start } else { old.start };
    edited.spec.start = from.date().to_datetime(time);
    if split {
        edited.spec.recurrence = old
            .recurrence
            .continued_from(of.start, old.count_before(of.start));
    }
    let new_rule = rule.is_some();
    if let Some(rule) = rule {
        edited.spec.recurrence = rule;
    }
    // The excluded and extra dates at the old time of day move with it: an EXDATE left at 09:00 would no longer
    // exclude the day of a series now at 08:00.
    edited.spec.recurrence = edited.spec.recurrence.retimed(old.start.time(), time);
    // Which rows follow the edit, and which stand in for their day.
    let rows = store::schedules::of_series(&mut unit.tx, of.series).await?;
    let mut follow = Vec::new();
    let mut kept = Vec::new();
    for row in rows {
        let Some(row_of) = row.occurrence else {
            continue;
        };
        if row_of.start < from {
            kept.push(row);
            continue;
        }
        let new_start = row_of.start.date().to_datetime(time);
        let follows = row.schedule.id() == stored.schedule.id()
            || (row.schedule.state() == ScheduleState::NotStarted
                && old.made(&row.schedule, row_of.start)
                && row.schedule.designated_start() >= now);
        if follows {
            follow.push((row, new_start));
        } else {
            if split || new_start != row_of.start {
                edited.spec.recurrence = edited.spec.recurrence.without(new_start);
            }
            kept.push(row);
        }
    }
    // With a new rule, an occurrence that follows the edit but is not one of its dates goes — except the one
    // asked for, which the member just edited: it stays, as an RDATE of the new rule.
    let mut remove = Vec::new();
    if new_rule {
        let target = of.start.date().to_datetime(time);
        let dates = |spec: &SeriesSpec, last: DateTime| -> Vec<DateTime> {
            spec.pattern()
                .occurrences()
                .map(|o| o.local)
                .take_while(|d| *d <= last)
                .collect()
        };
        let last = follow.iter().map(|(_, d)| *d).max().unwrap_or(target);
        if !dates(&edited.spec, target).contains(&target) {
            edited.spec.recurrence.rdates.push(target);
            edited.spec.recurrence.rdates.sort();
        }
        let made = dates(&edited.spec, last);
        let (keep, gone): (Vec<_>, Vec<_>) =
            follow.into_iter().partition(|(_, d)| made.contains(d));
        follow = keep;
        remove = gone;
    }
    for (row, _) in &remove {
        super::schedules::delete_one(unit, row).await?;
    }
    if split {
        let ended = old.recurrence.ending_before(of.start);
        store::series::set_recurrence(&mut unit.tx, &series_row, &ended, now).await?;
        edited.id = store::series::insert(
            &mut unit.tx,
            owner,
            &edited.spec,
            edited.reminders.as_ref(),
            now + MADE_AHEAD,
            now,
        )
        .await?;
    } else {
        store::series::update(&mut unit.tx, &series_row, &edited, now).await?;
    }
    for (row, new_start) in follow {
        let mut schedule = row.schedule.clone();
        let asked = row.schedule.id() == stored.schedule.id();
        let effects = schedule.patch_across(
            SchedulePatch {
                title: Some(edited.spec.title.clone()),
                description: Some(edited.spec.description.clone()),
                designated_start: Some(edited.spec.zone.resolve(new_start)?),
                schedule_type: Some(edited.spec.schedule_type),
                reminders: (asked && patch.reminders.is_some()).then_some(None),
                planned: patch.planned,
            },
            &unit.inherited_by(&row),
            &inherited,
        )?;
        unit.save_armed(&row, &schedule, effects).await?;
        let of = OccurrenceOf {
            series: edited.id,
            start: new_start,
        };
        if row.occurrence != Some(of) {
            store::schedules::set_occurrence(&mut unit.tx, row.schedule.id(), of).await?;
        }
    }
    // Edited in place, the series' other occurrences (past, started, edited on their own) stay in it: those still
    // to come are re-armed when the reminders they follow changed.
    if !split {
        for row in kept {
            if row.schedule.designated_start() < now {
                continue;
            }
            let effects = row.schedule.inherit(&unit.inherited_by(&row), &inherited);
            if !effects.is_empty() {
                unit.save_armed(&row, &row.schedule, effects).await?;
            }
        }
    }
    let wanted = edited.spec.occurrences_between(now, now + MADE_AHEAD);
    make(unit, &edited, &wanted).await?;
    Ok(())
}
