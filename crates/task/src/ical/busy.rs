//! Reading another calendar's events as busy time ([`crate::domain::busy`]): what Google, Outlook and Apple
//! export, and any other RFC 5545 calendar.
//!
//! * Times: `DATE` values (all-day events), UTC, `TZID` and floating. A `TZID` the tz database knows is used as
//!   such (what Google, Apple and most readers do); any other (`W. Europe Standard Time`, Outlook's Windows
//!   names, or `/mozilla.org/…` prefixes) is read from the calendar's own VTIMEZONE: its latest STANDARD and
//!   DAYLIGHT observances and their yearly rules become a POSIX TZ rule (a VTIMEZONE without yearly rules is
//!   its latest observance's fixed offset). No Windows-name table: the VTIMEZONE is what the file says.
//! * `X-WR-TIMEZONE` (Google's exports): floating times are in that zone, and so are UTC starts of repeating
//!   events (their rule repeats in that zone's wall-clock time), as the `x-wr-timezone` convention reads them.
//! * `DTEND` or `DURATION`; none: an all-day event lasts one day, a timed one no time.
//! * `RRULE` (what [`crate::domain::recurrence`] supports; any other leaves the event its first occurrence),
//!   `EXDATE`, `RDATE` (a `PERIOD` counts by its start), `RECURRENCE-ID` overrides (an override whose event is
//!   not in the file is an event of its own), `STATUS:CANCELLED`, `TRANSP:TRANSPARENT`.
//!
//! A VEVENT that cannot be read (no `DTSTART`, a zone neither known nor described) is skipped and counted.

use std::collections::HashMap;

use jiff::SignedDuration;
use jiff::civil::DateTime;

use super::content::{Component, Property, parse_all};
use super::value::{DateOrTime, parse_duration};
use crate::domain::busy::{
    BusyEvent, CalendarError, EventZone, MAX_EVENTS, MAX_FILE_BYTES, MAX_TITLE_CHARS, Override,
    Span,
};
use crate::domain::recurrence::Rule;
use crate::domain::time::Zone;

/// A calendar read for its busy time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BusyCalendar {
    pub events: Vec<BusyEvent>,
    /// `X-APPLE-CALENDAR-COLOR` or RFC 7986 `COLOR`.
    pub color: Option<String>,
    /// `X-WR-CALNAME` or `NAME`.
    pub name: Option<String>,
    /// VEVENTs that could not be read.
    pub skipped: usize,
    /// Events whose `RRULE` Pinit cannot expand (kept as their first occurrence).
    pub unsupported_rules: usize,
}

/// Reads `text`, an iCalendar file; `field` names where it came from in errors (`url`, `ics`).
pub fn read(text: &str, field: &'static str) -> Result<BusyCalendar, CalendarError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(CalendarError::TooLarge { field });
    }
    let not_calendar = |reason: String| CalendarError::NotCalendar { field, reason };
    let components = parse_all(text).map_err(|e| not_calendar(e.to_string()))?;
    let calendar = components
        .iter()
        .find(|c| c.name == "VCALENDAR")
        .ok_or_else(|| not_calendar("no VCALENDAR".to_owned()))?;
    let wr_zone = calendar
        .property("X-WR-TIMEZONE")
        .and_then(|p| Zone::parse(p.text().trim()).ok())
        .map(|z| z.id().to_owned());
    let timezones: HashMap<String, &Component> = calendar
        .components_named("VTIMEZONE")
        .filter_map(|c| c.property("TZID").map(|p| (p.value.trim().to_owned(), c)))
        .collect();
    let reader = Reader { wr_zone, timezones };
    let mut out = BusyCalendar {
        color: color(calendar),
        name: calendar
            .property("X-WR-CALNAME")
            .or_else(|| calendar.property("NAME"))
            .map(|p| p.text()),
        ..BusyCalendar::default()
    };
    let mut masters: Vec<BusyEvent> = Vec::new();
    let mut by_uid: HashMap<String, usize> = HashMap::new();
    let mut overrides: Vec<(String, DateOrTime, Override)> = Vec::new();
    for (i, vevent) in calendar.components_named("VEVENT").enumerate() {
        let Some(read) = reader.event(vevent, i) else {
            out.skipped += 1;
            continue;
        };
        if read.unsupported_rule {
            out.unsupported_rules += 1;
        }
        match read.recurrence_id {
            Some(rid) => overrides.push((
                read.event.uid.clone(),
                rid,
                Override {
                    of: read.event.span.start,
                    busy: read.event.busy,
                    title: read.event.title.clone(),
                    zone: read.event.zone.clone(),
                    span: read.event.span,
                },
            )),
            None => {
                by_uid
                    .entry(read.event.uid.clone())
                    .or_insert(masters.len());
                masters.push(read.event);
            }
        }
        if masters.len() + overrides.len() > MAX_EVENTS * 4 {
            return Err(CalendarError::TooManyEvents { field });
        }
    }
    for (uid, rid, mut o) in overrides {
        match by_uid.get(&uid).and_then(|&i| masters.get_mut(i)) {
            Some(master) => match reader.local_in(&rid, &master.zone) {
                Some(of) => {
                    o.of = of;
                    master.overrides.push(o);
                }
                None => out.skipped += 1,
            },
            None => masters.push(BusyEvent {
                uid,
                title: o.title,
                zone: o.zone,
                span: o.span,
                busy: o.busy,
                rrule: None,
                exdates: Vec::new(),
                rdates: Vec::new(),
                overrides: Vec::new(),
            }),
        }
    }
    if masters.len() > MAX_EVENTS {
        return Err(CalendarError::TooManyEvents { field });
    }
    out.events = masters;
    Ok(out)
}

fn color(calendar: &Component) -> Option<String> {
    let apple = calendar
        .property("X-APPLE-CALENDAR-COLOR")
        .map(|p| p.value.trim().to_owned())
        .filter(|v| {
            v.starts_with('#') && v.len() <= 9 && v[1..].bytes().all(|b| b.is_ascii_hexdigit())
        });
    apple.or_else(|| {
        calendar
            .property("COLOR")
            .map(|p| p.value.trim().to_owned())
            .filter(|v| {
                !v.is_empty()
                    && v.len() <= 32
                    && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'#')
            })
    })
}

struct Reader<'a> {
    wr_zone: Option<String>,
    timezones: HashMap<String, &'a Component>,
}

struct ReadEvent {
    event: BusyEvent,
    recurrence_id: Option<DateOrTime>,
    unsupported_rule: bool,
}

fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

impl Reader<'_> {
    /// The zone of a `TZID`: the tz database's, else the calendar's VTIMEZONE.
    fn zone_of(&self, tzid: &str) -> Option<EventZone> {
        let tzid = tzid.trim();
        if let Ok(zone) = Zone::parse(tzid) {
            return Some(EventZone::Tz {
                id: zone.id().to_owned(),
            });
        }
        if let Some(vtz) = self.timezones.get(tzid)
            && let Some(posix) = posix_rule(vtz)
        {
            return Some(EventZone::Rules {
                id: tzid.to_owned(),
                posix,
            });
        }
        // `/mozilla.org/20050126_1/Europe/Berlin`, `/citadel.org/…/Europe/Berlin`: the id at the end.
        let parts: Vec<&str> = tzid.trim_matches('/').split('/').collect();
        (2..=3.min(parts.len())).rev().find_map(|n| {
            let id = parts[parts.len() - n..].join("/");
            Zone::parse(&id).ok().map(|z| EventZone::Tz {
                id: z.id().to_owned(),
            })
        })
    }

    /// A value's zone and wall-clock time there (`X-WR-TIMEZONE` applied to floating times; to UTC ones when
    /// `repeating`).
    fn placed(&self, value: &DateOrTime, repeating: bool) -> Option<(EventZone, DateTime, bool)> {
        Some(match value {
            DateOrTime::Date(d) => (
                EventZone::Floating,
                d.to_datetime(jiff::civil::Time::midnight()),
                true,
            ),
            DateOrTime::Floating(local) => match &self.wr_zone {
                Some(id) => (EventZone::Tz { id: id.clone() }, *local, false),
                None => (EventZone::Floating, *local, false),
            },
            DateOrTime::Utc(at) => match (&self.wr_zone, repeating) {
                (Some(id), true) => {
                    let zone = Zone::parse(id).ok()?;
                    (
                        EventZone::Tz { id: id.clone() },
                        zone.local_date_time(*at),
                        false,
                    )
                }
                _ => (
                    EventZone::Tz {
                        id: "UTC".to_owned(),
                    },
                    jiff::tz::TimeZone::UTC.to_datetime(*at),
                    false,
                ),
            },
            DateOrTime::Zoned { tzid, local } => (self.zone_of(tzid)?, *local, false),
        })
    }

    /// `value` as a wall-clock time in `zone` (EXDATE, RDATE and RECURRENCE-ID name occurrences so).
    fn local_in(&self, value: &DateOrTime, zone: &EventZone) -> Option<DateTime> {
        let (own, local, is_date) = self.placed(value, false)?;
        if is_date
            || own == *zone
            || matches!(own, EventZone::Floating)
            || matches!(zone, EventZone::Floating)
        {
            return Some(local);
        }
        let utc = Zone::utc();
        let at = own.resolve(&utc)?.resolve(local).ok()?;
        Some(zone.resolve(&utc)?.local_date_time(at))
    }

    fn event(&self, vevent: &Component, index: usize) -> Option<ReadEvent> {
        let dtstart = DateOrTime::from_property(vevent.property("DTSTART")?).ok()?;
        let rrule_text = vevent.property("RRULE").map(|p| p.value.trim().to_owned());
        let (zone, start, all_day) = self.placed(&dtstart, rrule_text.is_some())?;
        let length_secs = self.length(vevent, &zone, start, all_day)?;
        let status = vevent
            .property("STATUS")
            .map(|p| p.value.trim().to_ascii_uppercase());
        let transp = vevent
            .property("TRANSP")
            .map(|p| p.value.trim().to_ascii_uppercase());
        let busy =
            status.as_deref() != Some("CANCELLED") && transp.as_deref() != Some("TRANSPARENT");
        let title = vevent
            .property("SUMMARY")
            .map(|p| cut(p.text().trim(), MAX_TITLE_CHARS))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "Busy".to_owned());
        let uid = vevent
            .property("UID")
            .map(|p| cut(p.value.trim(), 255))
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| format!("pinit-no-uid-{index}"));
        let (rrule, unsupported_rule) = match rrule_text {
            Some(text) if Rule::parse(&text).is_ok() => (Some(text), false),
            Some(_) => (None, true),
            None => (None, false),
        };
        let list = |name: &str| -> Vec<DateTime> {
            vevent
                .properties_named(name)
                .flat_map(|p| dates(p).unwrap_or_default())
                .filter_map(|v| {
                    self.local_in(&v, &zone).map(|l| {
                        if all_day {
                            l.date().to_datetime(jiff::civil::Time::midnight())
                        } else {
                            l
                        }
                    })
                })
                .collect()
        };
        let recurrence_id = vevent
            .property("RECURRENCE-ID")
            .and_then(|p| DateOrTime::from_property(p).ok());
        Some(ReadEvent {
            event: BusyEvent {
                uid,
                title,
                zone: zone.clone(),
                span: Span {
                    start,
                    all_day,
                    length_secs,
                },
                busy,
                rrule,
                exdates: list("EXDATE"),
                rdates: list("RDATE"),
                overrides: Vec::new(),
            },
            recurrence_id,
            unsupported_rule,
        })
    }

    /// Wall-clock seconds from `DTEND` (or `DURATION`); none: a day for an all-day event, else none.
    fn length(
        &self,
        vevent: &Component,
        zone: &EventZone,
        start: DateTime,
        all_day: bool,
    ) -> Option<i64> {
        if let Some(end) = vevent
            .property("DTEND")
            .and_then(|p| DateOrTime::from_property(p).ok())
        {
            let (end_zone, end_local, end_is_date) = self.placed(&end, false)?;
            let secs = if all_day
                || end_is_date
                || end_zone == *zone
                || matches!(end_zone, EventZone::Floating)
            {
                end_local.duration_since(start).as_secs()
            } else {
                let utc = Zone::utc();
                let a = zone.resolve(&utc)?.resolve(start).ok()?;
                let b = end_zone.resolve(&utc)?.resolve(end_local).ok()?;
                b.duration_since(a).as_secs()
            };
            let secs = if all_day {
                secs / 86_400 * 86_400
            } else {
                secs
            };
            return Some(secs.max(if all_day { 86_400 } else { 0 }));
        }
        if let Some(p) = vevent.property("DURATION") {
            let d: SignedDuration = parse_duration("DURATION", &p.value).ok()?;
            let secs = d.as_secs().max(0);
            return Some(if all_day {
                (secs / 86_400).max(1) * 86_400
            } else {
                secs
            });
        }
        Some(if all_day { 86_400 } else { 0 })
    }
}

/// The values of an `EXDATE` or `RDATE` (a `PERIOD`'s start).
fn dates(p: &Property) -> Option<Vec<DateOrTime>> {
    if p.param("VALUE")
        .is_some_and(|v| v.eq_ignore_ascii_case("PERIOD"))
        || p.value.contains('/')
    {
        let starts: Vec<String> = p
            .value
            .split(',')
            .filter_map(|v| v.split('/').next().map(str::to_owned))
            .collect();
        let mut q = Property::raw(&p.name, starts.join(","));
        q.params = p
            .params
            .iter()
            .filter(|x| x.name != "VALUE")
            .cloned()
            .collect();
        return DateOrTime::list_from_property(&q).ok();
    }
    DateOrTime::list_from_property(p).ok()
}

/// `+0100` → seconds east.
fn offset_secs(text: &str) -> Option<i32> {
    let t = text.trim();
    let (sign, digits) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        _ => (1, t),
    };
    if !(digits.len() == 4 || digits.len() == 6) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits[0..2].parse().ok()?;
    let m: i32 = digits[2..4].parse().ok()?;
    let s: i32 = digits.get(4..6).map_or(Some(0), |x| x.parse().ok())?;
    Some(sign * (h * 3600 + m * 60 + s))
}

/// A POSIX offset (west positive): `-1`, `+5:30`.
fn posix_offset(east: i32) -> String {
    let west = -east;
    let sign = if west < 0 { "-" } else { "" };
    let a = west.unsigned_abs();
    let (h, m, s) = (a / 3600, a % 3600 / 60, a % 60);
    match (m, s) {
        (0, 0) => format!("{sign}{h}"),
        (_, 0) => format!("{sign}{h}:{m:02}"),
        _ => format!("{sign}{h}:{m:02}:{s:02}"),
    }
}

struct Observance {
    start: DateTime,
    to: i32,
    /// `Mm.w.d/time` from a yearly rule.
    rule: Option<String>,
}

fn observance(c: &Component) -> Option<Observance> {
    let start = match DateOrTime::from_property(c.property("DTSTART")?).ok()? {
        DateOrTime::Floating(l) | DateOrTime::Zoned { local: l, .. } => l,
        DateOrTime::Date(d) => d.to_datetime(jiff::civil::Time::midnight()),
        DateOrTime::Utc(at) => jiff::tz::TimeZone::UTC.to_datetime(at),
    };
    let to = offset_secs(&c.property("TZOFFSETTO")?.value)?;
    let rule = c.property("RRULE").and_then(|p| {
        let rule = Rule::parse(p.value.trim()).ok()?;
        if rule.frequency != crate::domain::recurrence::Frequency::Yearly
            || rule.by_month.len() != 1
        {
            return None;
        }
        let month = rule.by_month[0];
        let day = rule.by_day.first()?;
        let week = match (day.ordinal, rule.by_month_day.first()) {
            (Some(n), _) if (1..=4).contains(&n) => n,
            (Some(-1), _) => 5,
            (None, Some(&first)) if first > 0 => ((first - 1) / 7 + 1).min(5),
            _ => return None,
        };
        let weekday = day.weekday.to_sunday_zero_offset();
        let t = start.time();
        Some(format!(
            "M{month}.{week}.{weekday}/{}:{:02}:{:02}",
            t.hour(),
            t.minute(),
            t.second()
        ))
    });
    Some(Observance { start, to, rule })
}

/// A VTIMEZONE as a POSIX TZ rule: its latest STANDARD and DAYLIGHT observances with yearly rules, else the
/// latest observance's fixed offset.
fn posix_rule(vtz: &Component) -> Option<String> {
    let latest = |name: &str| {
        vtz.components_named(name)
            .filter_map(observance)
            .max_by_key(|o| o.start)
    };
    let standard = latest("STANDARD");
    let daylight = latest("DAYLIGHT");
    match (standard, daylight) {
        (Some(s), Some(d)) if s.rule.is_some() && d.rule.is_some() => Some(format!(
            "<STD>{}<DST>{},{},{}",
            posix_offset(s.to),
            posix_offset(d.to),
            d.rule.as_deref().unwrap_or_default(),
            s.rule.as_deref().unwrap_or_default()
        )),
        (s, d) => {
            let only = match (s, d) {
                (Some(s), Some(d)) => {
                    if s.start >= d.start {
                        s
                    } else {
                        d
                    }
                }
                (Some(x), None) | (None, Some(x)) => x,
                (None, None) => return None,
            };
            Some(format!("<STD>{}", posix_offset(only.to)))
        }
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;
    use crate::domain::Window;

    const OUTLOOK: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:Microsoft Exchange Server 2010\r\n\
BEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\n\
BEGIN:STANDARD\r\nDTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n\
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\n\
BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n\
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:a\r\nSUMMARY:Weekly\r\nDTSTART;TZID=W. Europe Standard Time:20260302T090000\r\n\
DTEND;TZID=W. Europe Standard Time:20260302T100000\r\nRRULE:FREQ=WEEKLY;BYDAY=MO\r\n\
EXDATE;TZID=W. Europe Standard Time:20260309T090000\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:a\r\nRECURRENCE-ID;TZID=W. Europe Standard Time:20260316T090000\r\nSUMMARY:Weekly (moved)\r\n\
DTSTART;TZID=W. Europe Standard Time:20260317T150000\r\nDTEND;TZID=W. Europe Standard Time:20260317T160000\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

    #[test]
    fn outlooks_windows_zone_is_read_from_its_vtimezone() {
        let cal = read(OUTLOOK, "ics").unwrap();
        assert_eq!(cal.events.len(), 1);
        let e = &cal.events[0];
        assert_eq!(
            e.zone,
            EventZone::Rules {
                id: "W. Europe Standard Time".into(),
                posix: "<STD>-1<DST>-2,M3.5.0/2:00:00,M10.5.0/3:00:00".into()
            }
        );
        assert_eq!(e.exdates, [date(2026, 3, 9).at(9, 0, 0, 0)]);
        assert_eq!(e.overrides.len(), 1);
        assert_eq!(e.overrides[0].of, date(2026, 3, 16).at(9, 0, 0, 0));
        let seoul = Zone::parse("Asia/Seoul").unwrap();
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        let blocks = |d| e.blocks(&seoul, &Window::week(d, &berlin).unwrap());
        assert_eq!(blocks(date(2026, 3, 9)), []);
        let moved = blocks(date(2026, 3, 16));
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].start.to_string(), "2026-03-17T14:00:00Z");
        assert_eq!(
            blocks(date(2026, 3, 30))[0].start.to_string(),
            "2026-03-30T07:00:00Z"
        );
    }

    #[test]
    fn google_floating_times_take_x_wr_timezone() {
        let text = "BEGIN:VCALENDAR\r\nX-WR-TIMEZONE:America/New_York\r\nX-WR-CALNAME:Work\r\n\
BEGIN:VEVENT\r\nUID:g\r\nDTSTART:20260305T140000Z\r\nDTEND:20260305T150000Z\r\nRRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:f\r\nDTSTART:20260305T090000\r\nDURATION:PT30M\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:d\r\nDTSTART;VALUE=DATE:20260306\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";
        let cal = read(text, "url").unwrap();
        assert_eq!(cal.name.as_deref(), Some("Work"));
        let g = &cal.events[0];
        assert_eq!(
            g.zone,
            EventZone::Tz {
                id: "America/New_York".into()
            }
        );
        assert_eq!(g.span.start, date(2026, 3, 5).at(9, 0, 0, 0));
        assert_eq!(g.span.length_secs, 3600);
        assert!(!cal.events[1].busy);
        assert_eq!(
            cal.events[1].zone,
            EventZone::Tz {
                id: "America/New_York".into()
            }
        );
        assert!(cal.events[2].span.all_day);
        assert_eq!(cal.events[2].span.length_secs, 86_400);
    }

    #[test]
    fn what_is_not_a_calendar_is_refused_by_name() {
        assert!(matches!(
            read("hello", "url"),
            Err(CalendarError::NotCalendar { field: "url", .. })
        ));
        assert!(matches!(
            read("BEGIN:VCARD\r\nEND:VCARD\r\n", "ics"),
            Err(CalendarError::NotCalendar { field: "ics", .. })
        ));
        let big = "X".repeat(MAX_FILE_BYTES + 1);
        assert_eq!(
            read(&big, "ics"),
            Err(CalendarError::TooLarge { field: "ics" })
        );
    }

    #[test]
    fn posix_offsets_are_west_positive() {
        assert_eq!(posix_offset(3600), "-1");
        assert_eq!(posix_offset(-5 * 3600), "5");
        assert_eq!(posix_offset(19_800), "-5:30");
        assert_eq!(offset_secs("-0330"), Some(-12_600));
    }
}
