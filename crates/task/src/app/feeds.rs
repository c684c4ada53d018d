//! Calendar subscription feeds (docs/calendar.md#subscription-feeds): issuing, rotating and revoking a feed's
//! URL, and the iCalendar document its URL answers with.
//!
//! * **planned** — one-off schedules from [`PLANNED_PAST`] back on, each a VEVENT in the member's zone; every
//!   live series as one VEVENT with its RRULE, EXDATE and RDATE (whole: a calendar shows its earlier dates too),
//!   followed by an override (`RECURRENCE-ID`) for each of its occurrences in the window that is no longer what
//!   the series makes (edited on its own) or that was run; an occurrence whose date the series no longer has
//!   (kept when the series was edited, or of a deleted series) is a VEVENT of its own.
//! * **tracked** — what was worked: the run's sessions are not stored one by one (a schedule keeps its elapsed
//!   total and the start of the session running now), so each schedule run since [`TRACKED_PAST`] ago is one
//!   VEVENT from its planned start lasting its elapsed time (up to now while it runs).
//!
//! The document is the same bytes until something in it changes — `DTSTAMP` is the newest change among what
//! it holds, not the time of the request — so its digest is a strong `ETag`.

use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use super::calendar::arrange;
use super::{AppError, Result, TaskApp};
use crate::domain::feed::{
    FETCH_RECORDED_EVERY, MAX_FEEDS, PLANNED_PAST, REFRESH_INTERVAL, TOKEN_BYTES, TRACKED_PAST,
};
use crate::domain::{
    FeedError, FeedId, FeedKind, FeedToken, MemberId, ScheduleState, Window, Zone,
};
use crate::ical::content::{Component, Property};
use crate::ical::schedule::{CalendarWriter, ScheduleEntry, SeriesEntry};
use crate::ical::value::format_duration;
use crate::store;
use crate::store::feeds::StoredFeed;
use crate::store::members::Member;
use crate::store::schedules::StoredSchedule;
use crate::store::series::StoredSeries;

/// A feed with the token of its URL: answered once, when it is created or rotated.
#[derive(Debug, Clone)]
pub struct IssuedFeed {
    pub feed: StoredFeed,
    pub token: FeedToken,
}

/// What a feed's URL answers with.
#[derive(Debug, Clone)]
pub struct FeedDocument {
    /// `text/calendar`, CRLF lines.
    pub body: String,
    /// A strong entity tag, quoted: the SHA-256 of the body (first 128 bits, hex).
    pub etag: String,
}

fn draw() -> FeedToken {
    FeedToken::from_random(rand::random::<[u8; TOKEN_BYTES]>())
}

impl TaskApp {
    /// `GET /v2/calendar/feeds`: the member's feeds, oldest first.
    pub async fn feeds(&self, member: MemberId) -> Result<Vec<StoredFeed>> {
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        Ok(store::feeds::of_owner(&mut conn, member.id).await?)
    }

    /// `POST /v2/calendar/feeds`: a new feed of `kind` (at most [`MAX_FEEDS`] per member).
    pub async fn create_feed(&self, member: MemberId, kind: FeedKind) -> Result<IssuedFeed> {
        let mut unit = self.begin(member).await?;
        if store::feeds::of_owner(&mut unit.tx, member).await?.len() >= MAX_FEEDS {
            return Err(AppError::Feed(FeedError::TooMany));
        }
        let token = draw();
        let feed = store::feeds::insert(
            &mut unit.tx,
            member,
            kind,
            &token.digest(),
            &token.hint(),
            unit.now,
        )
        .await?;
        unit.finish(&self.inner.outbox).await?;
        Ok(IssuedFeed { feed, token })
    }

    /// `POST /v2/calendar/feeds/{id}/rotate`: a new URL for the feed; the old one answers 404 from now on.
    pub async fn rotate_feed(&self, member: MemberId, id: FeedId) -> Result<IssuedFeed> {
        let mut unit = self.begin(member).await?;
        let token = draw();
        let feed = store::feeds::rotate(
            &mut unit.tx,
            member,
            id,
            &token.digest(),
            &token.hint(),
            unit.now,
        )
        .await?
        .ok_or(AppError::FeedNotFound(id))?;
        unit.finish(&self.inner.outbox).await?;
        Ok(IssuedFeed { feed, token })
    }

    /// `DELETE /v2/calendar/feeds/{id}`: revokes the feed (its URL answers 404 from now on).
    pub async fn revoke_feed(&self, member: MemberId, id: FeedId) -> Result<()> {
        let mut unit = self.begin(member).await?;
        if !store::feeds::delete(&mut unit.tx, member, id).await? {
            return Err(AppError::FeedNotFound(id));
        }
        unit.finish(&self.inner.outbox).await
    }

    /// `GET /feeds/{token}.ics`: the document of the feed `token` names, or `None` (404) — no feed has it (it
    /// was never issued, was rotated away or revoked), or its member is gone. Records the fetch.
    pub async fn feed_document(&self, token: &str) -> Result<Option<FeedDocument>> {
        let Some(token) = FeedToken::parse(token) else {
            return Ok(None);
        };
        let now = self.now();
        let mut conn = self.inner.db.conn().await?;
        let Some(feed) = store::feeds::by_digest(&mut conn, &token.digest()).await? else {
            return Ok(None);
        };
        let Some(member) = store::members::get(&mut conn, feed.owner).await? else {
            return Ok(None);
        };
        let calendar = match feed.kind {
            FeedKind::Planned => planned(&mut conn, &member, now).await?,
            FeedKind::Tracked => tracked(&mut conn, &member, now).await?,
        };
        let recorded = feed
            .last_fetched_at
            .is_some_and(|at| now.duration_since(at) < FETCH_RECORDED_EVERY);
        if !recorded {
            store::feeds::fetched(&mut conn, feed.id, now).await?;
        }
        let body = calendar.to_ical();
        let digest = Sha256::digest(body.as_bytes());
        let etag = format!(
            "\"{}\"",
            digest
                .iter()
                .take(16)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        Ok(Some(FeedDocument { body, etag }))
    }
}

/// The calendar's own properties: RFC 7986 NAME, COLOR, REFRESH-INTERVAL, and what older readers take instead.
fn header(writer: &mut CalendarWriter, kind: FeedKind) {
    let refresh = format_duration(REFRESH_INTERVAL);
    writer.property(Property::raw("METHOD", "PUBLISH"));
    writer.property(Property::text_value("NAME", kind.calendar_name()));
    writer.property(Property::text_value("X-WR-CALNAME", kind.calendar_name()));
    writer.property(Property::raw("COLOR", kind.color()));
    writer.property(
        Property::raw("REFRESH-INTERVAL", refresh.clone()).with_param("VALUE", "DURATION"),
    );
    writer.property(Property::raw("X-PUBLISHED-TTL", refresh));
}

/// `DTSTAMP` of a feed: its newest change (stable while nothing changes), else the member's creation.
fn stamp<'a>(times: impl Iterator<Item = &'a Timestamp>, fallback: Timestamp) -> Timestamp {
    times.copied().max().unwrap_or(fallback)
}

fn entry<'a>(stored: &'a StoredSchedule, zone: &'a Zone) -> ScheduleEntry<'a> {
    ScheduleEntry {
        schedule: &stored.schedule,
        zone,
        version: stored.version,
        created_at: stored.created_at,
        updated_at: stored.updated_at,
    }
}

async fn planned(
    conn: &mut pinit_kernel::db::Conn,
    member: &Member,
    now: Timestamp,
) -> Result<Component> {
    let from = now.checked_sub(PLANNED_PAST).unwrap_or(now);
    let schedules = store::schedules::starting_within(
        conn,
        member.id,
        Window {
            start: from,
            end: Timestamp::MAX,
        },
    )
    .await?;
    let series: Vec<StoredSeries> = store::series::of_owner(conn, member.id).await?;
    let zones = store::series::zones_of_owner(conn, member.id).await?;
    let stamp = stamp(
        schedules
            .iter()
            .map(|s| &s.updated_at)
            .chain(series.iter().map(|s| &s.updated_at)),
        Timestamp::UNIX_EPOCH,
    );
    let mut writer = CalendarWriter::new(stamp);
    header(&mut writer, FeedKind::Planned);
    let arranged = arrange(&schedules, &series, &zones, &member.zone);
    for (stored, zone) in arranged.singles {
        let event = writer.schedule_event(&entry(stored, zone));
        writer.component(event);
    }
    for (series, overrides) in arranged.series {
        let spec = &series.series.spec;
        let list: Vec<_> = overrides
            .iter()
            .filter_map(|s| s.occurrence.map(|of| (of.start, entry(s, &spec.zone))))
            .collect();
        for event in writer.series_events(
            &SeriesEntry {
                id: series.series.id,
                spec,
                version: series.version,
                created_at: series.created_at,
                updated_at: series.updated_at,
            },
            &list,
        ) {
            writer.component(event);
        }
    }
    Ok(writer.finish())
}

async fn tracked(
    conn: &mut pinit_kernel::db::Conn,
    member: &Member,
    now: Timestamp,
) -> Result<Component> {
    let from = now.checked_sub(TRACKED_PAST).unwrap_or(now);
    let mut schedules = store::schedules::starting_within(
        conn,
        member.id,
        Window {
            start: from,
            end: Timestamp::MAX,
        },
    )
    .await?;
    schedules.retain(|s| s.schedule.run().elapsed_at(now) >= SignedDuration::from_secs(1));
    let running = schedules
        .iter()
        .any(|s| s.schedule.state() == ScheduleState::InProgress);
    let stamp = stamp(
        schedules.iter().map(|s| &s.updated_at),
        Timestamp::UNIX_EPOCH,
    );
    // While one runs its length grows: the document is stamped now.
    let mut writer = CalendarWriter::new(if running { now } else { stamp });
    header(&mut writer, FeedKind::Tracked);
    let zones = store::series::zones_of_owner(conn, member.id).await?;
    for stored in &schedules {
        let zone = stored
            .occurrence
            .and_then(|of| zones.get(&of.series))
            .unwrap_or(&member.zone);
        let elapsed = stored.schedule.run().elapsed_at(now);
        let event = writer.tracked_event(&entry(stored, zone), elapsed);
        writer.component(event);
    }
    Ok(writer.finish())
}
