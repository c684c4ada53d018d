//! A member's schedules and tasks as calendars (CalDAV, `crate::dav`): every item, one item, what changed
//! since a sync token, and the token itself; and a calendar app's writes. A token is the newest change a
//! collection's rows have seen — an update (`updated_at_us`) or a deletion (a tombstone) — in microseconds, so
//! "what changed since" is two range reads and the collection's `getctag` is the same number.

use std::collections::HashMap;

use jiff::civil::Date;
use pinit_kernel::db::Conn;

use super::schedules::{create_in, delete_in, patch_in};
use super::series::{delete_occurrence, delete_series, edit_series, occurrence_row};
use super::{AppError, Result, TaskApp, Unit, tasks};
use crate::domain::{
    CreateDependencies, Deadline, DependencyPair, Description, Difficulty, Edge, Importance,
    MemberId, Recurrence, ScheduleDraft, ScheduleId, SchedulePatch, ScheduleState, ScheduleType,
    Scope, SeriesId, TaskFields, TaskId, Title, UpdateDependencies, Window, Zone,
};
use crate::store;
use crate::store::Kind;
use crate::store::calendar_objects::CalendarObject;
use crate::store::members::Member;
use crate::store::schedules::{OccurrenceOf, StoredSchedule};
use crate::store::series::StoredSeries;
use crate::store::tasks::StoredTask;
use crate::store::tombstones::Tombstone;

/// A sync token: the newest change seen, in microseconds (0: nothing yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SyncToken(pub i64);

/// The tokens of a member's two calendars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tokens {
    pub schedules: SyncToken,
    pub tasks: SyncToken,
}

/// What changed in one of a member's calendars after a token.
#[derive(Debug)]
pub struct Changes<T> {
    pub changed: Vec<T>,
    pub deleted: Vec<Tombstone>,
    /// Series changed (`false`) or deleted (`true`): the Schedules calendar shows a series as one item.
    pub series: Vec<(SeriesId, bool)>,
    /// The token covering these changes.
    pub token: SyncToken,
}

/// Everything the Schedules calendar is made of: every schedule, the live series, every series' zone.
#[derive(Debug)]
pub struct ScheduleCalendar {
    pub schedules: Vec<StoredSchedule>,
    pub series: Vec<StoredSeries>,
    pub zones: HashMap<SeriesId, Zone>,
}

impl TaskApp {
    /// The member (provisioned) and their calendars' current tokens.
    pub async fn calendar(&self, member: MemberId) -> Result<(Member, Tokens)> {
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        let tokens = Tokens {
            schedules: token(&mut conn, Kind::Schedule, member.id).await?,
            tasks: token(&mut conn, Kind::Task, member.id).await?,
        };
        Ok((member, tokens))
    }

    /// What changed among the member's schedules after `since` (everything, from a zero token).
    pub async fn calendar_changes(
        &self,
        member: MemberId,
        since: SyncToken,
    ) -> Result<Changes<StoredSchedule>> {
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        // Read the token first: a change landing between the reads is then reported again next time, never
        // skipped.
        let token = token(&mut conn, Kind::Schedule, member.id).await?;
        let changed = store::schedules::changed_since(&mut conn, member.id, since.0).await?;
        let deleted = deleted_since(&mut conn, Kind::Schedule, member.id, since, |t| {
            changed.iter().any(|s| s.schedule.id().get() == t.id)
        })
        .await?;
        let series = store::series::changed_since(&mut conn, member.id, since.0).await?;
        Ok(Changes {
            changed,
            deleted,
            series,
            token,
        })
    }

    /// The part of the member's Schedules calendar that these schedules and series are (a subset that arranges
    /// the same as the whole: a schedule's place depends only on itself and its series, and each series comes
    /// with all its occurrences) — what one item, a multiget or an incremental sync needs, without reading
    /// every schedule.
    pub async fn calendar_schedules_of(
        &self,
        member: MemberId,
        schedules: &[ScheduleId],
        series: &[SeriesId],
    ) -> Result<ScheduleCalendar> {
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        let mut rows = store::schedules::by_ids(&mut conn, schedules).await?;
        rows.retain(|s| s.schedule.owner_id() == member.id);
        let mut wanted: Vec<SeriesId> = series.to_vec();
        wanted.extend(rows.iter().filter_map(|s| s.occurrence.map(|of| of.series)));
        wanted.sort_unstable_by_key(|id| id.get());
        wanted.dedup();
        let mut live = Vec::new();
        for id in wanted {
            if let Some(found) = store::series::get_owned(&mut conn, member.id, id).await? {
                if series.contains(&id) {
                    for o in store::schedules::of_series(&mut conn, id).await? {
                        if !rows.iter().any(|r| r.schedule.id() == o.schedule.id()) {
                            rows.push(o);
                        }
                    }
                }
                live.push(found);
            }
        }
        Ok(ScheduleCalendar {
            schedules: rows,
            series: live,
            zones: store::series::zones_of_owner(&mut conn, member.id).await?,
        })
    }

    /// Everything the member's Schedules calendar is made of ([`ScheduleCalendar`]).
    pub async fn calendar_schedules(&self, member: MemberId) -> Result<ScheduleCalendar> {
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        let everything = Window {
            start: jiff::Timestamp::MIN,
            end: jiff::Timestamp::MAX,
        };
        Ok(ScheduleCalendar {
            schedules: store::schedules::starting_within(&mut conn, member.id, everything).await?,
            series: store::series::of_owner(&mut conn, member.id).await?,
            zones: store::series::zones_of_owner(&mut conn, member.id).await?,
        })
    }

    /// Every task of the member, and the member's dependency edges.
    pub async fn calendar_tasks(&self, member: MemberId) -> Result<(Vec<StoredTask>, Vec<Edge>)> {
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        Ok((
            store::tasks::all_of(&mut conn, member.id).await?,
            store::tasks::member_edges(&mut conn, member.id).await?,
        ))
    }

    /// What changed among the member's tasks after `since`.
    pub async fn calendar_task_changes(
        &self,
        member: MemberId,
        since: SyncToken,
    ) -> Result<Changes<StoredTask>> {
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        let token = token(&mut conn, Kind::Task, member.id).await?;
        let changed = store::tasks::changed_since(&mut conn, member.id, since.0).await?;
        let deleted = deleted_since(&mut conn, Kind::Task, member.id, since, |t| {
            changed.iter().any(|c| c.task.id().get() == t.id)
        })
        .await?;
        Ok(Changes {
            changed,
            deleted,
            series: Vec::new(),
            token,
        })
    }
}

/// How a member's schedules show in a calendar: one-off schedules — and occurrences of a series that is gone,
/// or whose date the series no longer has — as events of their own, in the zone they were planned in; each live
/// series as one repeating event, with the occurrences that are no longer what the rule makes (edited on their
/// own) or that were run as its overrides (`RECURRENCE-ID`). An occurrence the rule still makes as it is, not
/// started, is the rule's.
pub(crate) struct Arranged<'a> {
    pub singles: Vec<(&'a StoredSchedule, &'a Zone)>,
    pub series: Vec<(&'a StoredSeries, Vec<&'a StoredSchedule>)>,
}

/// Arranges `schedules` with the member's live `series` (`zones`: every series' zone, deleted ones too).
pub(crate) fn arrange<'a>(
    schedules: &'a [StoredSchedule],
    series: &'a [StoredSeries],
    zones: &'a HashMap<SeriesId, Zone>,
    member_zone: &'a Zone,
) -> Arranged<'a> {
    let live: HashMap<SeriesId, &StoredSeries> = series.iter().map(|s| (s.series.id, s)).collect();
    let mut overrides: HashMap<SeriesId, Vec<&StoredSchedule>> = HashMap::new();
    let mut singles: Vec<(&StoredSchedule, &Zone)> = Vec::new();
    for stored in schedules {
        let Some(of) = stored.occurrence else {
            singles.push((stored, member_zone));
            continue;
        };
        let Some(series) = live.get(&of.series) else {
            // Of a deleted series: in the zone it was planned in.
            singles.push((stored, zones.get(&of.series).unwrap_or(member_zone)));
            continue;
        };
        let spec = &series.series.spec;
        if spec.made(&stored.schedule, of.start)
            && stored.schedule.state() == ScheduleState::NotStarted
        {
            continue; // the rule shows it as it is
        }
        if spec.occurrence_at(of.start).is_some() {
            overrides.entry(of.series).or_default().push(stored);
        } else {
            singles.push((stored, &spec.zone));
        }
    }
    let series = series
        .iter()
        .map(|s| (s, overrides.remove(&s.series.id).unwrap_or_default()))
        .collect();
    Arranged { singles, series }
}

/// The tombstones after `since`, but for rows that exist again (`exists`).
async fn deleted_since(
    conn: &mut Conn,
    kind: Kind,
    member: MemberId,
    since: SyncToken,
    exists: impl Fn(&Tombstone) -> bool,
) -> Result<Vec<Tombstone>> {
    let mut deleted = store::tombstones::since(conn, kind, member, since.0).await?;
    deleted.retain(|t| !exists(t));
    Ok(deleted)
}

async fn token(conn: &mut Conn, kind: Kind, member: MemberId) -> Result<SyncToken> {
    let updated = match kind {
        Kind::Schedule => {
            let rows = store::schedules::last_change(conn, member).await?;
            let series = store::series::last_change(conn, member).await?;
            rows.max(series)
        }
        Kind::Task => store::tasks::last_change(conn, member).await?,
    };
    let deleted = store::tombstones::last(conn, kind, member).await?;
    Ok(SyncToken(updated.unwrap_or(0).max(deleted.unwrap_or(0))))
}

/// An event a calendar app wrote, as Pinit keeps it: its UID, the schedule it describes, and the lines Pinit
/// does not represent (an iCalendar `VEVENT` of only those; `crate::dav::event` reads and restores them).
#[derive(Debug, Clone)]
pub struct ClientEvent {
    pub uid: String,
    pub draft: ScheduleDraft,
    pub extra: String,
}

/// What a calendar app's write expects of the object it names (`If-None-Match: *`, `If-Match: "…"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// No precondition.
    Anything,
    /// `If-None-Match: *`: that nothing is there yet.
    Absent,
    /// `If-Match`: that it is still this version ([`etag`]).
    Tag(String),
}

/// A schedule item's strong ETag: its id and version (`"42-3"`). The one place it is made and compared.
pub fn etag(stored: &StoredSchedule) -> String {
    format!("\"{}-{}\"", stored.schedule.id().get(), stored.version)
}

/// A series item's strong ETag: the series' version and its overrides' ids and versions (FNV-1a), so an edit of
/// the rule or of one of its occurrences gives a new one.
pub fn series_etag<'a>(
    series: &StoredSeries,
    overrides: impl IntoIterator<Item = &'a StoredSchedule>,
) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for value in overrides
        .into_iter()
        .flat_map(|o| [o.schedule.id().get(), o.version])
    {
        for byte in value.to_le_bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!(
        "\"s{}-{}-{hash:016x}\"",
        series.series.id.get(),
        series.version
    )
}

/// A task item's strong ETag (`"t7-2"`).
pub fn task_etag(stored: &StoredTask) -> String {
    format!("\"t{}-{}\"", stored.task.id().get(), stored.version)
}

/// A to-do a calendar app wrote, as Pinit reads it (`crate::dav::todo`): what is `None` keeps the task's value
/// (a new task takes the defaults: due today, importance 5, difficulty 1).
#[derive(Debug, Clone)]
pub struct ClientTodo {
    pub uid: String,
    pub title: Title,
    pub description: Description,
    pub due: Option<Date>,
    pub importance: Option<Importance>,
    pub difficulty: Option<Difficulty>,
    pub completed: bool,
    /// The tasks it waits for (`RELATED-TO;RELTYPE=DEPENDS-ON` naming tasks of this calendar).
    pub prerequisites: Vec<TaskId>,
    /// Its lines Pinit does not represent (a `VTODO` of only those).
    pub extra: String,
}

/// A repeating schedule as a calendar app wrote its item back (`crate::dav::series`): the repeating event's
/// fields (`start`: the first occurrence, wall clock in the series' zone) and rule, and its overrides.
#[derive(Debug, Clone)]
pub struct ClientSeries {
    pub uid: String,
    pub title: Title,
    pub description: Description,
    pub schedule_type: ScheduleType,
    pub start: jiff::civil::DateTime,
    pub recurrence: Recurrence,
    pub overrides: Vec<ClientOverride>,
}

/// One occurrence as an override shows it: `of`, its original start (`RECURRENCE-ID`), and what it is.
#[derive(Debug, Clone)]
pub struct ClientOverride {
    pub of: jiff::civil::DateTime,
    pub draft: ScheduleDraft,
}

/// A calendar app's write, done: the schedule or task as it now is.
#[derive(Debug)]
pub struct Written<T> {
    pub stored: T,
    pub created: bool,
}

/// Refuses a write whose precondition does not hold of what the name names (`current`: its ETag, if it
/// exists): `If-None-Match: *` on something, `If-Match` on nothing or on another version.
fn check(current: Option<String>, expect: &Expect) -> Result<()> {
    match (current, expect) {
        (Some(_), Expect::Absent) | (None, Expect::Tag(_)) => Err(AppError::CalendarPrecondition),
        (Some(tag), Expect::Tag(wanted)) if tag != *wanted => Err(AppError::CalendarPrecondition),
        _ => Ok(()),
    }
}

/// Refuses a UID that another item of the collection has (`id`: the item written, if it exists).
async fn check_uid(unit: &mut Unit, kind: Kind, id: Option<i64>, uid: &str) -> Result<()> {
    let owner = unit.member.id;
    match store::calendar_objects::by_uid(&mut unit.tx, kind, owner, uid).await? {
        Some(other) if Some(other.id) != id => Err(AppError::CalendarUidTaken(uid.to_string())),
        _ => Ok(()),
    }
}

/// The object an item name names (an app's object of that name), and the id it names: the object's, else the
/// name read as an id (a Pinit item).
async fn named(
    unit: &mut Unit,
    kind: Kind,
    name: &str,
) -> Result<(Option<CalendarObject>, Option<i64>)> {
    let owner = unit.member.id;
    let object = store::calendar_objects::by_name(&mut unit.tx, kind, owner, name).await?;
    let id = object.as_ref().map(|o| o.id).or_else(|| name.parse().ok());
    Ok((object, id))
}

async fn save_object(
    unit: &mut Unit,
    kind: Kind,
    id: i64,
    name: &str,
    uid: String,
    extra: String,
) -> Result<()> {
    let object = CalendarObject {
        id,
        name: name.to_string(),
        uid,
        extra,
    };
    let (owner, now) = (unit.member.id, unit.now);
    Ok(store::calendar_objects::save(&mut unit.tx, kind, owner, &object, now).await?)
}

impl TaskApp {
    /// A member's calendar objects (what apps put) of one kind, by schedule or task id.
    pub async fn calendar_objects(
        &self,
        member: MemberId,
        kind: Kind,
    ) -> Result<HashMap<i64, CalendarObject>> {
        let mut conn = self.inner.db.conn().await?;
        Ok(store::calendar_objects::of_member(&mut conn, kind, member).await?)
    }

    /// The schedule an item name names.
    async fn named_schedule(unit: &mut Unit, name: &str) -> Result<Option<StoredSchedule>> {
        let Some(id) = named(unit, Kind::Schedule, name).await?.1 else {
            return Ok(None);
        };
        let owner = unit.member.id;
        Ok(store::schedules::get_owned(&mut unit.tx, owner, ScheduleId(id)).await?)
    }

    /// The task an item name names.
    async fn named_task(unit: &mut Unit, name: &str) -> Result<Option<StoredTask>> {
        let Some(id) = named(unit, Kind::Task, name).await?.1 else {
            return Ok(None);
        };
        let owner = unit.member.id;
        Ok(store::tasks::get(&mut unit.tx, owner, TaskId(id)).await?)
    }

    /// `PUT` of an item: a new schedule, or an edit of the one it names — through the same rules as the JSON
    /// API (validation, NOT_STARTED only for an edit, events, push re-timing), checked against `expect` under
    /// the member's lock, so a stale edit is refused, never applied over a newer one.
    pub async fn calendar_put(
        &self,
        member: MemberId,
        name: &str,
        expect: Expect,
        event: ClientEvent,
    ) -> Result<Written<StoredSchedule>> {
        let mut unit = self.begin(member).await?;
        let existing = Self::named_schedule(&mut unit, name).await?;
        check(existing.as_ref().map(etag), &expect)?;
        let id = existing.as_ref().map(|s| s.schedule.id().get());
        check_uid(&mut unit, Kind::Schedule, id, &event.uid).await?;
        let (stored, created) = match existing {
            Some(stored) => {
                let d = event.draft;
                let patch = SchedulePatch {
                    title: Some(d.title),
                    description: Some(d.description),
                    designated_start: Some(d.designated_start),
                    schedule_type: Some(d.schedule_type),
                    reminders: None,
                    planned: None,
                };
                (
                    patch_in(&mut unit, stored.schedule.id(), patch).await?,
                    false,
                )
            }
            None => (create_in(&mut unit, event.draft).await?, true),
        };
        let id = stored.schedule.id().get();
        save_object(&mut unit, Kind::Schedule, id, name, event.uid, event.extra).await?;
        unit.finish(&self.inner.outbox).await?;
        Ok(Written { stored, created })
    }

    /// `DELETE` of an item (one occurrence of a repeating schedule: only it), checked against `expect`.
    pub async fn calendar_delete(
        &self,
        member: MemberId,
        name: &str,
        expect: Expect,
    ) -> Result<()> {
        let mut unit = self.begin(member).await?;
        let Some(stored) = Self::named_schedule(&mut unit, name).await? else {
            let id = name.parse::<i64>().unwrap_or(0);
            return Err(AppError::ScheduleNotFound(ScheduleId(id)));
        };
        check(Some(etag(&stored)), &expect)?;
        delete_in(&mut unit, stored, Scope::This).await?;
        unit.finish(&self.inner.outbox).await
    }

    /// `PUT` of a to-do: a new task, or an edit of the one it names — its fields, the prerequisites it names
    /// (edges into it: the tasks it waits for), and its completion (complete or reopen, by the JSON API's rules:
    /// prerequisites first, not while its schedule runs) — in one transaction, checked against `expect`.
    pub async fn calendar_put_task(
        &self,
        member: MemberId,
        name: &str,
        expect: Expect,
        todo: ClientTodo,
    ) -> Result<Written<StoredTask>> {
        let mut unit = self.begin(member).await?;
        let owner = unit.member.id;
        let existing = Self::named_task(&mut unit, name).await?;
        check(existing.as_ref().map(task_etag), &expect)?;
        let current = existing.as_ref().map(|t| t.task.id().get());
        check_uid(&mut unit, Kind::Task, current, &todo.uid).await?;
        let deadline = |existing: Option<&Deadline>, today: Date| match (todo.due, existing) {
            (Some(due), Some(d)) if due == d.date() => Ok(d.clone()),
            (None, Some(d)) => Ok(d.clone()),
            (due, _) => Deadline::new(due.unwrap_or(today), unit.member.zone.clone()),
        };
        let today = unit.member.zone.local_date(unit.now);
        let (id, created) = match existing {
            Some(stored) => {
                let id = stored.task.id();
                let f = stored.task.fields();
                let fields = TaskFields {
                    title: todo.title.clone(),
                    description: todo.description.clone(),
                    deadline: deadline(Some(&f.deadline), today)?,
                    importance: todo.importance.unwrap_or(f.importance),
                    difficulty: todo.difficulty.unwrap_or(f.difficulty),
                };
                let before: Vec<TaskId> = store::tasks::prerequisites(&mut unit.tx, id)
                    .await?
                    .into_iter()
                    .map(|(p, _)| p)
                    .collect();
                let pairs = |from: &[TaskId], without: &[TaskId]| -> Vec<DependencyPair> {
                    from.iter()
                        .filter(|p| !without.contains(p))
                        .map(|p| DependencyPair::new(p.get(), id.get()))
                        .collect()
                };
                let remove = pairs(&before, &todo.prerequisites);
                let add = pairs(&todo.prerequisites, &before);
                let dependencies = UpdateDependencies::parse(id, &remove, &add)?;
                if stored.task.is_completed() && !todo.completed {
                    tasks::reopen_in(&mut unit, id).await?;
                }
                tasks::update_in(&mut unit, id, fields, &dependencies).await?;
                (id, false)
            }
            None => {
                let fields = TaskFields {
                    title: todo.title.clone(),
                    description: todo.description.clone(),
                    deadline: deadline(None, today)?,
                    importance: todo.importance.map_or_else(|| Importance::new(5), Ok)?,
                    difficulty: todo.difficulty.map_or_else(|| Difficulty::new(1), Ok)?,
                };
                let pairs: Vec<DependencyPair> = todo
                    .prerequisites
                    .iter()
                    .map(|p| DependencyPair::new(p.get(), 0))
                    .collect();
                let dependencies = CreateDependencies::parse(&pairs)?;
                let stored = tasks::create_in(&mut unit, &fields, &dependencies).await?;
                (stored.task.id(), true)
            }
        };
        if todo.completed {
            tasks::complete_in(&mut unit, id).await?;
        }
        save_object(&mut unit, Kind::Task, id.get(), name, todo.uid, todo.extra).await?;
        let stored = tasks::owned_task(&mut unit.tx, owner, id).await?;
        unit.finish(&self.inner.outbox).await?;
        Ok(Written { stored, created })
    }

    /// `DELETE` of a to-do: the task goes (its schedule, if any, stays, detached — as the JSON API's
    /// `deleteSchedules=false`), checked against `expect`.
    pub async fn calendar_delete_task(
        &self,
        member: MemberId,
        name: &str,
        expect: Expect,
    ) -> Result<()> {
        let mut unit = self.begin(member).await?;
        let Some(stored) = Self::named_task(&mut unit, name).await? else {
            return Err(AppError::TaskNotFound(TaskId(name.parse().unwrap_or(0))));
        };
        check(Some(task_etag(&stored)), &expect)?;
        tasks::delete_in(&mut unit, stored.task.id(), false).await?;
        unit.finish(&self.inner.outbox).await
    }
}

/// A series of the member and its occurrences (every row, edited or not).
async fn series_rows(unit: &mut Unit, id: SeriesId) -> Result<(StoredSeries, Vec<StoredSchedule>)> {
    let owner = unit.member.id;
    let series = store::series::get_owned(&mut unit.tx, owner, id)
        .await?
        .ok_or(AppError::SeriesNotFound(id))?;
    let rows = store::schedules::of_series(&mut unit.tx, id).await?;
    Ok((series, rows))
}

/// A series item's ETag as it now is.
fn series_tag(unit: &Unit, series: &StoredSeries, rows: &[StoredSchedule]) -> String {
    let zones = HashMap::new();
    let arranged = arrange(
        rows,
        std::slice::from_ref(series),
        &zones,
        &unit.member.zone,
    );
    let overrides = arranged.series.into_iter().flat_map(|(_, o)| o);
    series_etag(series, overrides)
}

/// What an occurrence is: title, description, type, start.
fn shown(draft: &ScheduleDraft) -> (&str, &str, ScheduleType, jiff::Timestamp) {
    (
        draft.title.as_str(),
        draft.description.as_str(),
        draft.schedule_type,
        draft.designated_start,
    )
}

impl TaskApp {
    /// `PUT` of a repeating schedule's item: what the app changed, through the series use cases — an `EXDATE`
    /// added deletes that occurrence (`this`); a changed rule, title, description, type or time of day edits the
    /// series (`all`, from the next occurrence not started: the days are the rule's, so DTSTART keeps its date);
    /// a changed override edits that occurrence alone (made first, if it was not yet). Checked against `expect`
    /// under the member's lock; returns the item's new ETag.
    pub async fn calendar_put_series(
        &self,
        member: MemberId,
        id: SeriesId,
        expect: Expect,
        client: ClientSeries,
    ) -> Result<String> {
        let mut unit = self.begin(member).await?;
        let (series, rows) = series_rows(&mut unit, id).await?;
        check(Some(series_tag(&unit, &series, &rows)), &expect)?;
        let spec = &series.series.spec;
        if client.start.date() != spec.start.date() {
            return Err(AppError::SeriesKeepsItsDays);
        }
        // An EXDATE added: that occurrence is deleted.
        for date in client.recurrence.exdates.iter().copied() {
            let (series, rows) = series_rows(&mut unit, id).await?;
            if series.series.spec.recurrence.exdates.contains(&date) {
                continue;
            }
            let of = OccurrenceOf {
                series: id,
                start: date,
            };
            match rows.into_iter().find(|r| r.occurrence == Some(of)) {
                Some(row) => delete_occurrence(&mut unit, row, of, Scope::This).await?,
                None => {
                    let fewer = series.series.spec.recurrence.without(date);
                    store::series::set_recurrence(&mut unit.tx, &series, &fewer, unit.now).await?;
                }
            }
        }
        // The repeating event changed: every occurrence to come follows.
        let (series, _) = series_rows(&mut unit, id).await?;
        let spec = series.series.spec.clone();
        let sorted = |dates: &[jiff::civil::DateTime]| {
            let mut d = dates.to_vec();
            d.sort();
            d.dedup();
            d
        };
        let (old, new) = (&spec.recurrence, &client.recurrence);
        // The rule as items write it (`UNTIL` in UTC, upper case): the app sends back what it read.
        let written = |r: &Recurrence| crate::ical::schedule::rrule(r, &spec.zone);
        let rule_changed = written(old) != written(new)
            || sorted(&old.exdates) != sorted(&new.exdates)
            || sorted(&old.rdates) != sorted(&new.rdates);
        let master_changed = client.title != spec.title
            || client.description != spec.description
            || client.schedule_type != spec.schedule_type
            || client.start != spec.start;
        if rule_changed || master_changed {
            let mut next = spec.clone();
            next.recurrence = client.recurrence.clone();
            // The occurrence the edit is made from: the next one not started that both rules have.
            let mut anchor = None;
            for o in next.next(unit.now, 50) {
                if spec.occurrence_at(o.local).is_none() {
                    continue;
                }
                if let Some(row) = occurrence_row(&mut unit, &series.series, o.local).await?
                    && row.schedule.state() == ScheduleState::NotStarted
                {
                    anchor = Some(row);
                    break;
                }
            }
            let anchor = anchor.ok_or(AppError::CalendarNothingAhead)?;
            let of = anchor.occurrence.ok_or(AppError::CalendarNothingAhead)?;
            let start = spec
                .zone
                .resolve(of.start.date().to_datetime(client.start.time()))?;
            let patch = SchedulePatch {
                title: Some(client.title.clone()),
                description: Some(client.description.clone()),
                designated_start: Some(start),
                schedule_type: Some(client.schedule_type),
                reminders: None,
                planned: None,
            };
            let rule = rule_changed.then(|| client.recurrence.clone());
            edit_series(&mut unit, &anchor, of, patch, Scope::All, rule).await?;
        }
        // An override changed: that occurrence alone.
        for o in &client.overrides {
            let (series, rows) = series_rows(&mut unit, id).await?;
            let of = OccurrenceOf {
                series: id,
                start: o.of,
            };
            let row = rows.into_iter().find(|r| r.occurrence == Some(of));
            let unchanged = match &row {
                Some(r) => {
                    let s = &r.schedule;
                    (
                        s.title().as_str(),
                        s.description().as_str(),
                        s.schedule_type(),
                        s.designated_start(),
                    ) == shown(&o.draft)
                }
                None => {
                    let spec = &series.series.spec;
                    spec.occurrence_at(o.of)
                        .is_some_and(|made| shown(&spec.draft(&made)) == shown(&o.draft))
                }
            };
            if unchanged {
                continue;
            }
            let row = match row {
                Some(r) => r,
                None => occurrence_row(&mut unit, &series.series, o.of)
                    .await?
                    .ok_or(AppError::CalendarNoOccurrence(o.of))?,
            };
            let d = o.draft.clone();
            let patch = SchedulePatch {
                title: Some(d.title),
                description: Some(d.description),
                designated_start: Some(d.designated_start),
                schedule_type: Some(d.schedule_type),
                reminders: None,
                planned: None,
            };
            patch_in(&mut unit, row.schedule.id(), patch).await?;
        }
        let (series, rows) = series_rows(&mut unit, id).await?;
        let tag = series_tag(&unit, &series, &rows);
        unit.finish(&self.inner.outbox).await?;
        Ok(tag)
    }

    /// `DELETE` of a repeating schedule's item: the series and its occurrences not started yet (as the JSON API's
    /// `scope=all`), checked against `expect`.
    pub async fn calendar_delete_series(
        &self,
        member: MemberId,
        id: SeriesId,
        expect: Expect,
    ) -> Result<()> {
        let mut unit = self.begin(member).await?;
        let (series, rows) = series_rows(&mut unit, id).await?;
        check(Some(series_tag(&unit, &series, &rows)), &expect)?;
        delete_series(&mut unit, id, Some(&series)).await?;
        unit.finish(&self.inner.outbox).await
    }
}
