//! Schedules and series as VEVENTs.
//!
//! * `UID`: `pinit-schedule-{id}@pinit` for a schedule, `pinit-series-{id}@pinit` for a series (its overrides
//!   share it, told apart by `RECURRENCE-ID`). The domain is the constant `pinit`, not a host name: a UID must not
//!   change when the service is reached under another name, and ids are unique within one Pinit.
//! * `SEQUENCE`: the row's version − 1 (versions start at 1, SEQUENCE at 0), so every change bumps it.
//! * `DTSTART` with `TZID` (and a VTIMEZONE) in the zone the schedule is shown in — a series' zone for its
//!   occurrences, the member's for a one-off schedule; UTC zones as `…Z`. `DTEND` is its planned length later
//!   (`plannedDuration`; an hour when not set, [`PlannedDuration::shown`]).
//! * `SUMMARY` = title, `DESCRIPTION` (when not empty), `CATEGORIES` = the schedule type, `STATUS:CONFIRMED`,
//!   `X-PINIT-STATE` = the run state, `CREATED` and `LAST-MODIFIED`.
//! * A series is one VEVENT with `RRULE` (as stored, `UNTIL` written in UTC as RFC 5545 requires with a `TZID`
//!   start), `EXDATE` and `RDATE`; the occurrences the caller passes as overrides follow with `RECURRENCE-ID`.

use std::collections::BTreeMap;

use jiff::civil::DateTime;
use jiff::{SignedDuration, Timestamp};

use super::content::{Component, Property};
use super::timezone::{TRANSITION_YEARS_AHEAD, is_utc, vtimezone};
use super::value::{DateOrTime, format_duration, format_local, format_utc};
use crate::domain::recurrence::Until;
use crate::domain::{
    PlannedDuration, Recurrence, Schedule, ScheduleId, ScheduleState, SeriesId, SeriesSpec, Zone,
};

/// `PRODID` of everything Pinit writes.
pub const PRODID: &str = "-//Pinit//Pinit Calendar 1.0//EN";

/// The domain part of Pinit's UIDs.
pub const UID_DOMAIN: &str = "pinit";

/// `pinit-schedule-{id}@pinit`.
pub fn schedule_uid(id: ScheduleId) -> String {
    format!("pinit-schedule-{}@{UID_DOMAIN}", id.get())
}

/// `pinit-series-{id}@pinit`.
pub fn series_uid(id: SeriesId) -> String {
    format!("pinit-series-{}@{UID_DOMAIN}", id.get())
}

/// `pinit-run-{id}@pinit`: what was worked on a schedule (a tracked feed's event).
pub fn run_uid(id: ScheduleId) -> String {
    format!("pinit-run-{}@{UID_DOMAIN}", id.get())
}

/// `1h 05m`, `25m`, `40s`: an elapsed time as a person reads it.
pub fn worked(elapsed: SignedDuration) -> String {
    let secs = elapsed.as_secs().max(0);
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, m) => format!("{m}m"),
        (h, m) => format!("{h}h {m:02}m"),
    }
}

/// What a schedule's VEVENT is written from.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleEntry<'a> {
    pub schedule: &'a Schedule,
    /// The zone its times are written in.
    pub zone: &'a Zone,
    /// The row's version (`SEQUENCE` is one less).
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What a series' VEVENT is written from.
#[derive(Debug, Clone, Copy)]
pub struct SeriesEntry<'a> {
    pub id: SeriesId,
    pub spec: &'a SeriesSpec,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A VCALENDAR being written: its own properties, its events, and the zones their times use (each written
/// once, as a VTIMEZONE covering the times that use it, when the calendar is finished).
#[derive(Debug, Clone)]
pub struct CalendarWriter {
    stamp: Timestamp,
    properties: Vec<Property>,
    components: Vec<Component>,
    zones: BTreeMap<String, (Zone, Timestamp, Timestamp)>,
}

fn sequence(version: i64) -> Property {
    Property::raw("SEQUENCE", (version - 1).max(0).to_string())
}

impl CalendarWriter {
    /// A calendar with `VERSION:2.0`, Pinit's `PRODID` and `CALSCALE:GREGORIAN`; `stamp` is every event's
    /// `DTSTAMP` (when the calendar is written).
    pub fn new(stamp: Timestamp) -> Self {
        Self {
            stamp,
            properties: vec![
                Property::raw("VERSION", "2.0"),
                Property::raw("PRODID", PRODID),
                Property::raw("CALSCALE", "GREGORIAN"),
            ],
            components: Vec::new(),
            zones: BTreeMap::new(),
        }
    }

    /// Adds a calendar property (`METHOD`, `NAME`, `COLOR`, `REFRESH-INTERVAL`, …).
    pub fn property(&mut self, property: Property) {
        self.properties.push(property);
    }

    /// Adds a component as it is (a VTODO, a VEVENT read from a client).
    pub fn component(&mut self, component: Component) {
        self.components.push(component);
    }

    /// Records that a time at `at` is written in `zone` (its VTIMEZONE must cover it).
    pub fn use_zone(&mut self, zone: &Zone, at: Timestamp) {
        if is_utc(zone) {
            return;
        }
        self.zones
            .entry(zone.id().to_owned())
            .and_modify(|(_, from, to)| {
                *from = (*from).min(at);
                *to = (*to).max(at);
            })
            .or_insert_with(|| (zone.clone(), at, at));
    }

    /// The property `name` for the instant `at` shown in `zone` (`TZID`, or UTC).
    pub fn instant(&mut self, name: &str, zone: &Zone, at: Timestamp) -> Property {
        if is_utc(zone) {
            return DateOrTime::Utc(at).property(name);
        }
        self.use_zone(zone, at);
        DateOrTime::Zoned {
            tzid: zone.id().to_owned(),
            local: zone.local_date_time(at),
        }
        .property(name)
    }

    /// The property `name` for the wall-clock time `local` in `zone` (`TZID`, or its UTC instant).
    pub fn local(&mut self, name: &str, zone: &Zone, local: DateTime) -> Property {
        let at = zone.resolve(local).unwrap_or(Timestamp::MAX);
        if is_utc(zone) {
            return DateOrTime::Utc(at).property(name);
        }
        self.use_zone(zone, at);
        DateOrTime::Zoned {
            tzid: zone.id().to_owned(),
            local,
        }
        .property(name)
    }

    /// A list property (`EXDATE`, `RDATE`) of wall-clock times in `zone`; `None` without any.
    fn locals(&mut self, name: &str, zone: &Zone, locals: &[DateTime]) -> Option<Property> {
        if locals.is_empty() {
            return None;
        }
        if is_utc(zone) {
            let values: Vec<String> = locals
                .iter()
                .map(|l| format_utc(zone.resolve(*l).unwrap_or(Timestamp::MAX)))
                .collect();
            return Some(DateOrTime::list_property(name, None, &values));
        }
        for local in locals {
            if let Ok(at) = zone.resolve(*local) {
                self.use_zone(zone, at);
            }
        }
        let values: Vec<String> = locals.iter().map(|l| format_local(*l)).collect();
        Some(DateOrTime::list_property(name, Some(zone.id()), &values))
    }

    /// The VEVENT of a schedule (not yet added: [`Self::component`] adds it).
    pub fn schedule_event(&mut self, entry: &ScheduleEntry<'_>) -> Component {
        let s = entry.schedule;
        let start = s.designated_start();
        let mut event = Component::new("VEVENT")
            .with(Property::raw("UID", schedule_uid(s.id())))
            .with(Property::raw("DTSTAMP", format_utc(self.stamp)));
        self.schedule_body(&mut event, entry, start);
        event
    }

    /// The VEVENT of what was worked on a schedule (a tracked feed): `UID` [`run_uid`], from its planned start
    /// for `elapsed` (`DURATION`, whole seconds, at least one), `TRANSP:TRANSPARENT` (a record, not busy time),
    /// `X-PINIT-ELAPSED`, and the time worked in `DESCRIPTION` before the schedule's own.
    pub fn tracked_event(
        &mut self,
        entry: &ScheduleEntry<'_>,
        elapsed: SignedDuration,
    ) -> Component {
        let s = entry.schedule;
        let elapsed = SignedDuration::from_secs(elapsed.as_secs().max(1));
        let mut event = Component::new("VEVENT")
            .with(Property::raw("UID", run_uid(s.id())))
            .with(Property::raw("DTSTAMP", format_utc(self.stamp)));
        event.push(self.instant("DTSTART", entry.zone, s.designated_start()));
        event.push(Property::raw("DURATION", format_duration(elapsed)));
        event.push(sequence(entry.version));
        event.push(Property::raw("CREATED", format_utc(entry.created_at)));
        event.push(Property::raw("LAST-MODIFIED", format_utc(entry.updated_at)));
        event.push(Property::text_value("SUMMARY", s.title().as_str()));
        let state = match s.state() {
            ScheduleState::Completed => "completed",
            ScheduleState::InProgress => "running",
            ScheduleState::Suspended => "paused",
            ScheduleState::NotStarted => "not started",
        };
        let mut description = format!("Worked {} ({state})", worked(elapsed));
        if !s.description().as_str().is_empty() {
            description.push_str("\n\n");
            description.push_str(s.description().as_str());
        }
        event.push(Property::text_value("DESCRIPTION", &description));
        event.push(Property::text_list(
            "CATEGORIES",
            &[s.schedule_type().as_str()],
        ));
        event.push(Property::raw("STATUS", "CONFIRMED"));
        event.push(Property::raw("TRANSP", "TRANSPARENT"));
        event.push(Property::raw("X-PINIT-STATE", s.state().as_str()));
        event.push(Property::raw("X-PINIT-ELAPSED", format_duration(elapsed)));
        event
    }

    /// What a schedule's VEVENT and an override of a series share, after `UID`/`DTSTAMP`/`RECURRENCE-ID`.
    fn schedule_body(
        &mut self,
        event: &mut Component,
        entry: &ScheduleEntry<'_>,
        start: Timestamp,
    ) {
        let s = entry.schedule;
        let end = start
            .checked_add(PlannedDuration::shown(s.planned()))
            .unwrap_or(start);
        let dtstart = self.instant("DTSTART", entry.zone, start);
        let dtend = self.instant("DTEND", entry.zone, end);
        event.push(dtstart);
        event.push(dtend);
        event.push(sequence(entry.version));
        event.push(Property::raw("CREATED", format_utc(entry.created_at)));
        event.push(Property::raw("LAST-MODIFIED", format_utc(entry.updated_at)));
        event.push(Property::text_value("SUMMARY", s.title().as_str()));
        if !s.description().as_str().is_empty() {
            event.push(Property::text_value(
                "DESCRIPTION",
                s.description().as_str(),
            ));
        }
        event.push(Property::text_list(
            "CATEGORIES",
            &[s.schedule_type().as_str()],
        ));
        event.push(Property::raw("STATUS", "CONFIRMED"));
        event.push(Property::raw("X-PINIT-STATE", s.state().as_str()));
    }

    /// The VEVENTs of a series: the recurring one, then one per override — an occurrence (its original
    /// wall-clock start, RECURRENCE-ID) whose schedule the caller wants shown as it is (edited on its own, or
    /// started). An override's `SEQUENCE` is at least the series'.
    pub fn series_events(
        &mut self,
        series: &SeriesEntry<'_>,
        overrides: &[(DateTime, ScheduleEntry<'_>)],
    ) -> Vec<Component> {
        let spec = series.spec;
        let zone = &spec.zone;
        let uid = series_uid(series.id);
        let start = zone.resolve(spec.start).unwrap_or(Timestamp::MAX);
        let end = start
            .checked_add(PlannedDuration::shown(spec.planned))
            .unwrap_or(start);
        let mut master = Component::new("VEVENT")
            .with(Property::raw("UID", uid.clone()))
            .with(Property::raw("DTSTAMP", format_utc(self.stamp)));
        master.push(self.local("DTSTART", zone, spec.start));
        master.push(self.instant("DTEND", zone, end));
        master.push(Property::raw("RRULE", rrule(&spec.recurrence, zone)));
        if let Some(p) = self.locals("EXDATE", zone, &spec.recurrence.exdates) {
            master.push(p);
        }
        if let Some(p) = self.locals("RDATE", zone, &spec.recurrence.rdates) {
            master.push(p);
        }
        // An endless rule repeats past every listed time: the zone's transitions run some years ahead.
        let ahead = self
            .stamp
            .checked_add(SignedDuration::from_hours(
                TRANSITION_YEARS_AHEAD * 366 * 24,
            ))
            .unwrap_or(self.stamp);
        self.use_zone(zone, ahead.max(start));
        master.push(sequence(series.version));
        master.push(Property::raw("CREATED", format_utc(series.created_at)));
        master.push(Property::raw(
            "LAST-MODIFIED",
            format_utc(series.updated_at),
        ));
        master.push(Property::text_value("SUMMARY", spec.title.as_str()));
        if !spec.description.as_str().is_empty() {
            master.push(Property::text_value(
                "DESCRIPTION",
                spec.description.as_str(),
            ));
        }
        master.push(Property::text_list(
            "CATEGORIES",
            &[spec.schedule_type.as_str()],
        ));
        master.push(Property::raw("STATUS", "CONFIRMED"));
        let mut events = vec![master];
        for (recurrence_id, entry) in overrides {
            let mut event = Component::new("VEVENT")
                .with(Property::raw("UID", uid.clone()))
                .with(Property::raw("DTSTAMP", format_utc(self.stamp)));
            event.push(self.local("RECURRENCE-ID", zone, *recurrence_id));
            let entry = ScheduleEntry {
                zone,
                version: entry.version.max(series.version),
                ..*entry
            };
            self.schedule_body(&mut event, &entry, entry.schedule.designated_start());
            events.push(event);
        }
        events
    }

    /// The calendar: its properties, a VTIMEZONE per zone used, then the components in the order added.
    pub fn finish(self) -> Component {
        let mut calendar = Component::new("VCALENDAR");
        calendar.properties = self.properties;
        for (zone, from, to) in self.zones.into_values() {
            calendar.push_component(vtimezone(&zone, from, to));
        }
        calendar.components.extend(self.components);
        calendar
    }
}

/// The RRULE as stored, with `UNTIL` in UTC (RFC 5545 3.3.10: with a `TZID` start, UNTIL must be UTC): a
/// wall-clock UNTIL is resolved in the series' zone, a date UNTIL becomes the last second of that day there.
pub fn rrule(recurrence: &Recurrence, zone: &Zone) -> String {
    let text = recurrence.rrule.trim();
    let text = match text.get(..6) {
        Some(prefix) if prefix.eq_ignore_ascii_case("RRULE:") => &text[6..],
        _ => text,
    };
    let mut parts: Vec<String> = text
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .filter(|p| {
            !p.split('=')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case("UNTIL")
        })
        .map(str::to_ascii_uppercase)
        .collect();
    if let Some(until) = recurrence.rule.until {
        let at = match until {
            Until::Utc(at) => at,
            Until::Local(local) => zone.resolve(local).unwrap_or(Timestamp::MAX),
            Until::Date(date) => zone
                .resolve(date.at(23, 59, 59, 0))
                .unwrap_or(Timestamp::MAX),
        };
        parts.push(format!("UNTIL={}", format_utc(at)));
    }
    parts.join(";")
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;
    use crate::domain::{
        Description, Inherited, MemberId, Reminders, ScheduleDraft, ScheduleType, Title,
    };
    use crate::ical::content::Component as C;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn schedule(id: i64, title: &str, description: &str, start: Timestamp) -> Schedule {
        let draft = ScheduleDraft::new(
            Title::parse(title).unwrap(),
            Description::parse(description).unwrap(),
            ScheduleType::DeepWork,
            start,
        );
        let inherited = Inherited::new(None, Reminders::at_start());
        Schedule::create(ScheduleId(id), MemberId(1), None, draft, &inherited).0
    }

    #[test]
    fn a_schedule_is_one_vevent_with_its_zone() {
        let zone = Zone::parse("America/New_York").unwrap();
        let s = schedule(
            42,
            "Write, review; ship",
            "line 1\nline 2",
            ts("2026-07-01T13:00:00Z"),
        );
        let mut w = CalendarWriter::new(ts("2026-06-30T00:00:00Z"));
        let event = w.schedule_event(&ScheduleEntry {
            schedule: &s,
            zone: &zone,
            version: 3,
            created_at: ts("2026-06-01T00:00:00Z"),
            updated_at: ts("2026-06-02T00:00:00Z"),
        });
        w.component(event);
        let text = w.finish().to_ical();
        for line in [
            "UID:pinit-schedule-42@pinit",
            "DTSTAMP:20260630T000000Z",
            "DTSTART;TZID=America/New_York:20260701T090000",
            "DTEND;TZID=America/New_York:20260701T100000",
            "SEQUENCE:2",
            "SUMMARY:Write\\, review\\; ship",
            "DESCRIPTION:line 1\\nline 2",
            "CATEGORIES:DEEP_WORK",
            "X-PINIT-STATE:NOT_STARTED",
            "TZID:America/New_York",
        ] {
            assert!(text.contains(&format!("{line}\r\n")), "{line} in\n{text}");
        }
        let back = C::parse(&text).unwrap();
        let event = back.components_named("VEVENT").next().unwrap();
        assert_eq!(
            event.property("SUMMARY").unwrap().text(),
            "Write, review; ship"
        );
        assert_eq!(back.components_named("VTIMEZONE").count(), 1);
    }

    #[test]
    fn utc_until_and_exdates_of_a_series() {
        let zone = Zone::parse("Europe/Berlin").unwrap();
        let recurrence = Recurrence::new(
            "freq=weekly;byday=MO,WE;until=20261231",
            vec![date(2026, 12, 9).at(9, 0, 0, 0)],
            vec![date(2026, 12, 12).at(10, 0, 0, 0)],
        )
        .unwrap();
        assert_eq!(
            rrule(&recurrence, &zone),
            "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20261231T225959Z"
        );
        let spec = SeriesSpec {
            title: Title::parse("Standup").unwrap(),
            description: Description::parse("Daily standup").unwrap(),
            schedule_type: ScheduleType::AdminTask,
            start: date(2026, 12, 7).at(9, 0, 0, 0),
            zone: zone.clone(),
            recurrence,
            planned: None,
        };
        let moved = schedule(7, "Standup (moved)", "d", ts("2026-12-14T10:00:00Z"));
        let mut w = CalendarWriter::new(ts("2026-12-01T00:00:00Z"));
        let events = w.series_events(
            &SeriesEntry {
                id: SeriesId(5),
                spec: &spec,
                version: 2,
                created_at: ts("2026-11-01T00:00:00Z"),
                updated_at: ts("2026-11-02T00:00:00Z"),
            },
            &[(
                date(2026, 12, 14).at(9, 0, 0, 0),
                ScheduleEntry {
                    schedule: &moved,
                    zone: &zone,
                    version: 1,
                    created_at: ts("2026-11-01T00:00:00Z"),
                    updated_at: ts("2026-11-03T00:00:00Z"),
                },
            )],
        );
        assert_eq!(events.len(), 2);
        let master = events[0].to_ical();
        assert!(
            master.contains("EXDATE;TZID=Europe/Berlin:20261209T090000\r\n"),
            "{master}"
        );
        assert!(
            master.contains("RDATE;TZID=Europe/Berlin:20261212T100000\r\n"),
            "{master}"
        );
        let over = events[1].to_ical();
        assert!(over.contains("UID:pinit-series-5@pinit\r\n"), "{over}");
        assert!(
            over.contains("RECURRENCE-ID;TZID=Europe/Berlin:20261214T090000\r\n"),
            "{over}"
        );
        assert!(
            over.contains("DTSTART;TZID=Europe/Berlin:20261214T110000\r\n"),
            "{over}"
        );
        assert!(over.contains("SEQUENCE:1\r\n"), "{over}");
    }
}
