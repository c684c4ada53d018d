//! Members: provisioning from `member.created`, erasure on `member.deleted`, the running slot, the zone, the
//! default reminders.

use jiff::Timestamp;
use jiff::civil::Date;
use pinit_kernel::DEFAULT_ZONE;
use pinit_kernel::db::{Backend, Conn};

use super::{Result, TaskApp};
use crate::domain::plan::{self, DailyObjective};
use crate::domain::time::offset_id;
use crate::domain::{MemberId, PlannedDuration, Reminders, ScheduleId, TimeError, Window, Zone};
use crate::store::{self, StoreError};

/// What `member.created` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberProvisioning {
    pub member: MemberId,
    pub nickname: Option<String>,
    /// The member's zone id as sent; absent or unknown → [`DEFAULT_ZONE`].
    pub zone_id: Option<String>,
}

impl MemberProvisioning {
    /// The zone to store: the event's if it is a zone we know, else [`DEFAULT_ZONE`] (a member must not
    /// stay unprovisioned over a zone id; they can change it with `PUT /v2/members/zone-id`).
    pub fn zone(&self) -> Zone {
        self.zone_id
            .as_deref()
            .and_then(|z| Zone::parse(z).ok())
            .or_else(|| Zone::parse(DEFAULT_ZONE).ok())
            .unwrap_or_else(Zone::utc)
    }

    /// Creates the member unless it exists (idempotent), in the caller's transaction. `true` if created.
    pub async fn apply(
        &self,
        conn: &mut Conn,
        now: Timestamp,
    ) -> std::result::Result<bool, StoreError> {
        store::members::insert_if_absent(
            conn,
            self.member,
            self.nickname.as_deref(),
            &self.zone(),
            now,
        )
        .await
    }
}

/// What `member.deleted` asks for: erase every row of the member (account deletion, GDPR art. 17).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberErasure {
    pub member: MemberId,
    /// When: kept with the erasure record.
    pub at: Timestamp,
}

/// How many rows an erasure deleted, by kind (for the log; all 0 when the member was already gone).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    pub member: bool,
    pub schedules: u64,
    pub series: u64,
    pub tasks: u64,
    pub statistics: u64,
    pub tombstones: u64,
    pub calendar_objects: u64,
    pub feeds: u64,
    pub busy_calendars: u64,
}

impl MemberErasure {
    /// Deletes every row of the member from every task table, in the caller's transaction, under the member's
    /// lock (a write in flight finishes first; one after finds no member). Idempotent: a second run finds
    /// nothing. Emits no events: the member is gone everywhere, and notification erases on its own.
    pub async fn apply(
        &self,
        conn: &mut Conn,
        backend: Backend,
    ) -> std::result::Result<Erased, StoreError> {
        let m = self.member;
        store::members::lock(conn, backend, m).await?;
        // Schedules first (they refer to tasks and series), the member's row last.
        let schedules = store::schedules::erase_member(conn, m).await?;
        let series = store::series::erase_member(conn, m).await?;
        let tasks = store::tasks::erase_member(conn, m).await?;
        let erased = Erased {
            schedules,
            series,
            tasks,
            statistics: store::statistics::erase_member(conn, m).await?,
            tombstones: store::tombstones::erase_member(conn, m).await?,
            calendar_objects: store::calendar_objects::erase_member(conn, m).await?,
            feeds: store::feeds::erase_member(conn, m).await?,
            busy_calendars: store::busy_calendars::erase_member(conn, m).await?,
            member: store::members::erase_member(conn, m).await?,
        };
        // The id and the time only: a request with a still-valid access token is told the account is gone.
        store::erased::record(conn, m, self.at).await?;
        Ok(erased)
    }
}

impl TaskApp {
    /// Provisions a member outside the inbox (tests, tools); the consumer does the same in its own
    /// transaction.
    pub async fn provision(&self, request: &MemberProvisioning) -> Result<bool> {
        let mut conn = self.inner.db.conn().await?;
        Ok(request.apply(&mut conn, self.now()).await?)
    }

    /// `GET /v2/members/now`: the schedule holding the member's running slot (IN_PROGRESS or
    /// SUSPENDED), if any.
    pub async fn running_schedule(&self, member: MemberId) -> Result<Option<ScheduleId>> {
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        let Some(id) = member.running else {
            return Ok(None);
        };
        let holder = store::schedules::get(&mut conn, id).await?;
        Ok(holder
            .filter(|s| s.schedule.state().holds_slot())
            .map(|_| id))
    }

    /// `GET /v2/members/zone-id`.
    pub async fn zone(&self, member: MemberId) -> Result<Zone> {
        let mut conn = self.inner.db.conn().await?;
        Ok(self.member(&mut conn, member).await?.zone)
    }

    /// `GET /v2/members/zone-offset`: the zone's offset now (`+09:00`, `Z`).
    pub async fn zone_offset(&self, member: MemberId) -> Result<String> {
        let zone = self.zone(member).await?;
        Ok(offset_id(zone.offset_at(self.now())))
    }

    /// `PUT /v2/members/zone-id`: changes the member's zone (future day/week computations, statistics of
    /// future completions); returns the zone as stored.
    pub async fn set_zone(&self, member: MemberId, zone_id: &str) -> Result<Zone> {
        let zone = Zone::parse(zone_id)?;
        let mut unit = self.begin(member).await?;
        if unit.member.zone != zone {
            store::members::set_zone(&mut unit.tx, &unit.member, &zone, unit.now).await?;
        }
        unit.finish(&self.inner.outbox).await?;
        Ok(zone)
    }

    /// `GET /v2/members/reminders`: the reminders of the member's schedules that have none of their own and are
    /// not in a series that has some (`["PT0S"]` until changed).
    pub async fn default_reminders(&self, member: MemberId) -> Result<Reminders> {
        let mut conn = self.inner.db.conn().await?;
        Ok(self.member(&mut conn, member).await?.reminders)
    }

    /// `PUT /v2/members/reminders`: changes the default. It applies to schedules armed from now on (created,
    /// moved, or their reminders changed); schedules already armed keep the list they were armed with
    /// (docs/adr/0015-reminders.md).
    pub async fn set_default_reminders(
        &self,
        member: MemberId,
        reminders: Reminders,
    ) -> Result<Reminders> {
        let mut unit = self.begin(member).await?;
        if unit.member.reminders != reminders {
            store::members::set_reminders(&mut unit.tx, &unit.member, &reminders, unit.now).await?;
        }
        unit.finish(&self.inner.outbox).await?;
        Ok(reminders)
    }
}

/// Planned against worked for one week (`GET /v2/statistics/plan`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanView {
    pub objective: DailyObjective,
    /// Days in a row up to today (in the zone asked in) the objective was met.
    pub streak: u32,
    /// Monday to Sunday of the week asked for.
    pub days: Vec<plan::Day>,
}

/// How far back the streak is looked for.
const STREAK_DAYS_BACK: i64 = 366;

impl TaskApp {
    /// `GET /v2/members/objective`.
    pub async fn objective(&self, member: MemberId) -> Result<DailyObjective> {
        let mut conn = self.inner.db.conn().await?;
        Ok(self.member(&mut conn, member).await?.objective)
    }

    /// `PUT /v2/members/objective`.
    pub async fn set_objective(
        &self,
        member: MemberId,
        objective: DailyObjective,
    ) -> Result<DailyObjective> {
        let mut unit = self.begin(member).await?;
        if unit.member.objective != objective {
            store::members::set_objective(&mut unit.tx, &unit.member, objective, unit.now).await?;
        }
        unit.finish(&self.inner.outbox).await?;
        Ok(objective)
    }

    /// The week of `date` in `zone`, day by day, planned against worked ([`plan`]), and the streak up to today.
    pub async fn plan(&self, member: MemberId, date: Date, zone: &Zone) -> Result<PlanView> {
        let now = self.now();
        let today = zone.local_date(now);
        let week = Window::week(date, zone)?;
        let monday = zone.local_date(week.start);
        let dates: Vec<Date> = (0..7)
            .filter_map(|i| monday.checked_add(jiff::Span::new().days(i)).ok())
            .collect();
        let back = today
            .checked_sub(jiff::Span::new().days(STREAK_DAYS_BACK))
            .map_err(|_| TimeError::OutOfRange)?;
        let streak_window = Window {
            start: zone.start_of_day(back)?,
            end: Window::day(today, zone)?.end,
        };
        let mut conn = self.inner.db.conn().await?;
        let objective = self.member(&mut conn, member).await?.objective;
        let lines = |rows: Vec<store::schedules::StoredSchedule>| -> Vec<plan::ScheduleLine> {
            rows.iter()
                .map(|stored| {
                    let s = &stored.schedule;
                    plan::ScheduleLine {
                        day: zone.local_date(s.designated_start()),
                        kind: s.schedule_type(),
                        planned: PlannedDuration::shown(s.planned()),
                        worked: s.run().elapsed_at(now),
                    }
                })
                .collect()
        };
        let in_week = store::schedules::starting_within(&mut conn, member, week).await?;
        let in_streak = store::schedules::starting_within(&mut conn, member, streak_window).await?;
        Ok(PlanView {
            objective,
            streak: plan::streak(&lines(in_streak), today, objective),
            days: plan::days(&lines(in_week), &dates, objective),
        })
    }
}
