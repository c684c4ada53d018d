//! A member's schedules and tasks as calendars (CalDAV, `crate::dav`): every item, one item, what changed
//! since a sync token, and the token itself; and a calendar app's writes. A token is the newest change a
//! collection's rows have seen — an update (`updated_at_us`) or a deletion (a tombstone) — in microseconds, so
//! "what changed since" is two range reads and the collection's `getctag` is the same number.

use std::collections::HashMap;

use pinit_kernel::db::Conn;

use super::schedules::{create_in, delete_in, patch_in};
use super::{AppError, Result, TaskApp, Unit};
use crate::domain::{
    Edge, MemberId, ScheduleDraft, ScheduleId, SchedulePatch, ScheduleState, Scope, SeriesId,
    Window, Zone,
};
use crate::store;
use crate::store::calendar_objects::CalendarObject;
use crate::store::members::Member;
use crate::store::schedules::StoredSchedule;
use crate::store::series::StoredSeries;
use crate::store::tasks::StoredTask;
use crate::store::tombstones::{Kind, Tombstone};

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
        if is_date_of(series, of.start) {
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

/// Whether the series still has a date at the wall-clock time `start` (an override's RECURRENCE-ID must name
/// one).
fn is_date_of(series: &StoredSeries, start: jiff::civil::DateTime) -> bool {
    series
        .series
        .spec
        .pattern()
        .occurrences()
        .take_while(|o| o.local <= start)
        .any(|o| o.local == start)
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

/// A task item's strong ETag (`"t7-2"`).
pub fn task_etag(stored: &StoredTask) -> String {
    format!("\"t{}-{}\"", stored.task.id().get(), stored.version)
}

/// A calendar app's write, done.
#[derive(Debug)]
pub struct Written {
    pub stored: StoredSchedule,
    pub created: bool,
}

impl TaskApp {
    /// A member's calendar objects (what apps put), by schedule.
    pub async fn calendar_objects(
        &self,
        member: MemberId,
    ) -> Result<std::collections::HashMap<ScheduleId, CalendarObject>> {
        let mut conn = self.inner.db.conn().await?;
        Ok(store::calendar_objects::of_member(&mut conn, member).await?)
    }

    /// The schedule an item name names: an app's object of that name, else a Pinit schedule by id.
    async fn named(
        unit: &mut Unit,
        name: &str,
    ) -> Result<Option<(StoredSchedule, Option<CalendarObject>)>> {
        let owner = unit.member.id;
        if let Some(object) = store::calendar_objects::by_name(&mut unit.tx, owner, name).await? {
            let stored =
                store::schedules::get_owned(&mut unit.tx, owner, object.schedule_id).await?;
            return Ok(stored.map(|s| (s, Some(object))));
        }
        let Ok(id) = name.parse::<i64>() else {
            return Ok(None);
        };
        Ok(
            store::schedules::get_owned(&mut unit.tx, owner, ScheduleId(id))
                .await?
                .map(|s| (s, None)),
        )
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
    ) -> Result<Written> {
        let mut unit = self.begin(member).await?;
        let owner = unit.member.id;
        let existing = Self::named(&mut unit, name).await?;
        match (&existing, &expect) {
            (Some(_), Expect::Absent) | (None, Expect::Tag(_)) => {
                return Err(AppError::CalendarPrecondition);
            }
            (Some((stored, _)), Expect::Tag(tag)) if *tag != etag(stored) => {
                return Err(AppError::CalendarPrecondition);
            }
            _ => {}
        }
        if let Some(other) =
            store::calendar_objects::by_uid(&mut unit.tx, owner, &event.uid).await?
            && existing
                .as_ref()
                .is_none_or(|(s, _)| s.schedule.id() != other.schedule_id)
        {
            return Err(AppError::CalendarUidTaken(event.uid));
        }
        let (stored, created) = match existing {
            Some((stored, _)) => {
                let d = event.draft;
                let patch = SchedulePatch {
                    title: Some(d.title),
                    description: Some(d.description),
                    designated_start: Some(d.designated_start),
                    schedule_type: Some(d.schedule_type),
                    reminders: None,
                };
                (
                    patch_in(&mut unit, stored.schedule.id(), patch).await?,
                    false,
                )
            }
            None => (create_in(&mut unit, event.draft).await?, true),
        };
        let object = CalendarObject {
            schedule_id: stored.schedule.id(),
            name: name.to_string(),
            uid: event.uid,
            extra: event.extra,
        };
        store::calendar_objects::save(&mut unit.tx, owner, &object, unit.now).await?;
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
        let Some((stored, _)) = Self::named(&mut unit, name).await? else {
            let id = name.parse::<i64>().unwrap_or(0);
            return Err(AppError::ScheduleNotFound(ScheduleId(id)));
        };
        match &expect {
            Expect::Tag(tag) if *tag != etag(&stored) => {
                return Err(AppError::CalendarPrecondition);
            }
            Expect::Absent => return Err(AppError::CalendarPrecondition),
            _ => {}
        }
        delete_in(&mut unit, stored, Scope::This).await?;
        unit.finish(&self.inner.outbox).await
    }
}
