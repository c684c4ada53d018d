//! Busy time from other calendars (docs/calendar.md#busy-time-from-other-calendars): a member's subscribed or
//! uploaded calendars, their events as [`BusyEvent`]s, and the busy blocks those make in a window.
//!
//! An event is kept as read from its calendar (`ical::busy` reads a calendar into events): its first
//! occurrence ([`Span`]), the zone its times are in ([`EventZone`]), its `RRULE`, `EXDATE`s and `RDATE`s as
//! wall-clock times in that zone, and its overrides (`RECURRENCE-ID` instances). Nothing is expanded ahead:
//! [`BusyEvent::blocks`] expands only the window asked for, lazily ([`recurrence::Series::occurrences`]).
//!
//! * An occurrence lasts the event's length in wall-clock time (09:00–10:00 stays 09:00–10:00 across a DST
//!   change), an all-day event its number of days; both as `recurring-ical-events` reads them.
//! * Floating times and dates (all-day events) are read in the reader's zone (the zone of the request).
//! * An override replaces the occurrence its `RECURRENCE-ID` names, wherever it moved it; a cancelled or
//!   transparent override (`STATUS:CANCELLED`, `TRANSP:TRANSPARENT`) takes the occurrence away.
//! * A cancelled or transparent event makes no blocks of its own (its busy overrides still do).

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::recurrence::{Rule, Series};
use super::time::{Window, Zone};

pinit_kernel::id_type!(
    /// A subscribed (or uploaded) calendar.
    BusyCalendarId
);

/// Calendars a member may subscribe to or upload.
pub const MAX_CALENDARS: usize = 10;
/// Longest calendar name (characters).
pub const MAX_NAME_CHARS: usize = 100;
/// Longest calendar URL (characters).
pub const MAX_URL_LEN: usize = 2048;
/// Largest calendar file, fetched or uploaded: 5 MiB.
pub const MAX_FILE_BYTES: usize = 5 * 1024 * 1024;
/// Most events kept of one calendar (a VEVENT and its overrides count as one).
pub const MAX_EVENTS: usize = 20_000;
/// Longest title kept (characters; longer ones are cut).
pub const MAX_TITLE_CHARS: usize = 200;
/// Most redirects followed when fetching a calendar (each one checked like the URL).
pub const MAX_REDIRECTS: usize = 5;
/// How long a fetch may take, connecting and reading included.
pub const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Whether a calendar is fetched from a URL (and refreshed) or was uploaded once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarKind {
    Url,
    Upload,
}

impl CalendarKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Url => "url",
            Self::Upload => "upload",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "url" => Some(Self::Url),
            "upload" => Some(Self::Upload),
            _ => None,
        }
    }
}

/// Why a calendar cannot be added (or refreshed); each names the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// 400.
    #[error("name: must be 1 to {MAX_NAME_CHARS} characters (not blank)")]
    Name,
    /// 400: the URL itself is refused (scheme, credentials, a private address written in it).
    #[error("url: the URL {0}")]
    Url(#[from] pinit_kernel::net::guard::UrlError),
    /// 400 (`ics`, an upload) or 422 (`url`, what the URL answered): larger than [`MAX_FILE_BYTES`].
    #[error("{field}: the calendar is larger than {} MiB", MAX_FILE_BYTES / 1024 / 1024)]
    TooLarge { field: &'static str },
    /// 400 (`ics`) or 422 (`url`): not an iCalendar file.
    #[error("{field}: not an iCalendar file: {reason}")]
    NotCalendar { field: &'static str, reason: String },
    /// 400 (`ics`) or 422 (`url`): more than [`MAX_EVENTS`] events.
    #[error("{field}: the calendar has more than {MAX_EVENTS} events")]
    TooManyEvents { field: &'static str },
    /// 422: the URL could not be fetched (refused address, timeout, an HTTP error status, …).
    #[error("url: the calendar could not be fetched: {0}")]
    Fetch(String),
    /// 409: the member has [`MAX_CALENDARS`] calendars already.
    #[error("at most {MAX_CALENDARS} calendars can be added; delete one first")]
    TooMany,
}

impl CalendarError {
    /// The request field the problem is about.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Name => Some("name"),
            Self::Url(_) | Self::Fetch(_) => Some("url"),
            Self::TooLarge { field }
            | Self::NotCalendar { field, .. }
            | Self::TooManyEvents { field } => Some(field),
            Self::TooMany => None,
        }
    }
}

/// A calendar name: trimmed, 1..=[`MAX_NAME_CHARS`] characters.
pub fn calendar_name(name: &str) -> Result<String, CalendarError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(CalendarError::Name);
    }
    Ok(name.to_owned())
}

/// The zone an event's times are in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum EventZone {
    /// Floating times and dates: wherever the reader is (the request's zone).
    Floating,
    /// An IANA zone (`TZID=Europe/Berlin`, or the calendar's `X-WR-TIMEZONE`).
    Tz { id: String },
    /// A VTIMEZONE of another name (`TZID=W. Europe Standard Time`), its observances as a POSIX TZ rule.
    Rules { id: String, posix: String },
}

impl EventZone {
    /// The zone to expand in; `None` for a stored zone that no longer resolves (skipped, never a 500).
    pub fn resolve(&self, reader: &Zone) -> Option<Zone> {
        match self {
            Self::Floating => Some(reader.clone()),
            Self::Tz { id } => Zone::parse(id).ok(),
            Self::Rules { id, posix } => TimeZone::posix(posix).ok().map(|tz| Zone::custom(id, tz)),
        }
    }
}

/// One occurrence as written: its start (a wall-clock time in the event's zone; midnight of an all-day
/// event's date) and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    pub start: DateTime,
    /// A DATE event: `length` is whole days.
    pub all_day: bool,
    /// Wall-clock seconds (all-day: days × 86,400).
    pub length_secs: i64,
}

impl Span {
    /// The instants `[start, end)` of an occurrence starting at the wall-clock `start` in `zone`.
    fn interval(&self, start: DateTime, zone: &Zone) -> Option<(Timestamp, Timestamp)> {
        let end = if self.all_day {
            let days = self.length_secs / 86_400;
            start
                .date()
                .checked_add(jiff::Span::new().days(days))
                .ok()?
                .to_datetime(start.time())
        } else {
            start
                .checked_add(SignedDuration::from_secs(self.length_secs))
                .ok()?
        };
        let from = if self.all_day {
            zone.start_of_day(start.date()).ok()?
        } else {
            zone.resolve(start).ok()?
        };
        let to = if self.all_day {
            zone.start_of_day(end.date()).ok()?
        } else {
            zone.resolve(end).ok()?
        };
        Some((from, to.max(from)))
    }
}

/// An occurrence an override replaces, and what it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Override {
    /// The `RECURRENCE-ID`: the replaced occurrence's wall-clock start in the event's zone.
    pub of: DateTime,
    /// Not cancelled, not transparent.
    pub busy: bool,
    pub title: String,
    pub zone: EventZone,
    pub span: Span,
}

/// An event of a calendar: one VEVENT (with its overrides).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BusyEvent {
    pub uid: String,
    pub title: String,
    pub zone: EventZone,
    /// The first occurrence (`DTSTART` and its length).
    pub span: Span,
    /// Not cancelled, not transparent.
    pub busy: bool,
    /// The `RRULE` (checked when read: one Pinit cannot expand is not kept, so the event is its first
    /// occurrence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rrule: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exdates: Vec<DateTime>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rdates: Vec<DateTime>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<Override>,
}

/// A busy block: an occurrence within the window asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub uid: String,
    pub title: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub all_day: bool,
}

/// Whether `[start, end)` meets `window` (an empty interval counts at its instant).
fn meets(start: Timestamp, end: Timestamp, window: &Window) -> bool {
    start < window.end && (end > window.start || (start == end && start >= window.start))
}

/// How far before a window an occurrence may start and still reach into it: its length, plus a day for the
/// zone of floating times and dates.
fn lead(span: &Span) -> SignedDuration {
    SignedDuration::from_secs(span.length_secs.max(0))
        .saturating_add(SignedDuration::from_hours(26))
}

impl BusyEvent {
    /// The event's busy blocks meeting `window`, in order of start; floating times and dates in `reader`.
    pub fn blocks(&self, reader: &Zone, window: &Window) -> Vec<Block> {
        let mut out = Vec::new();
        for o in &self.overrides {
            if !o.busy {
                continue;
            }
            let Some(zone) = o.zone.resolve(reader) else {
                continue;
            };
            if let Some((start, end)) = o.span.interval(o.span.start, &zone)
                && meets(start, end, window)
            {
                out.push(self.block(&o.title, start, end, o.span.all_day));
            }
        }
        if self.busy
            && let Some(zone) = self.zone.resolve(reader)
        {
            let replaced = |local: DateTime| self.overrides.iter().any(|o| o.of == local);
            match self.rrule.as_deref().and_then(|r| Rule::parse(r).ok()) {
                None => {
                    let mut starts = vec![self.span.start];
                    starts.extend(self.rdates.iter().copied());
                    starts.sort();
                    starts.dedup();
                    for local in starts {
                        if self.exdates.contains(&local) || replaced(local) {
                            continue;
                        }
                        self.push(&mut out, local, &zone, window);
                    }
                }
                Some(rule) => {
                    let series = Series {
                        start: self.span.start,
                        zone: zone.clone(),
                        rule,
                        exdates: self.exdates.clone(),
                        rdates: self.rdates.clone(),
                    };
                    let from = window
                        .start
                        .checked_sub(lead(&self.span))
                        .unwrap_or(window.start);
                    for occurrence in series.between(from, window.end) {
                        if !replaced(occurrence.local) {
                            self.push(&mut out, occurrence.local, &zone, window);
                        }
                    }
                }
            }
        }
        out.sort_by_key(|b| (b.start, b.end));
        out
    }

    fn push(&self, out: &mut Vec<Block>, local: DateTime, zone: &Zone, window: &Window) {
        if let Some((start, end)) = self.span.interval(local, zone)
            && meets(start, end, window)
        {
            out.push(self.block(&self.title, start, end, self.span.all_day));
        }
    }

    fn block(&self, title: &str, start: Timestamp, end: Timestamp, all_day: bool) -> Block {
        Block {
            uid: self.uid.clone(),
            title: title.to_owned(),
            start,
            end,
            all_day,
        }
    }

    /// Bounds of the instants the event can reach, for finding the events of a window without expanding:
    /// `(earliest start, latest end)`, the end `None` for a rule without `COUNT` or `UNTIL`. Floating times are
    /// widened by a day each way (any reader's zone).
    pub fn reach(&self) -> (Timestamp, Option<Timestamp>) {
        let slack = SignedDuration::from_hours(26);
        let utc = Zone::utc();
        let at = |zone: &EventZone, local: DateTime| -> Timestamp {
            zone.resolve(&utc)
                .and_then(|z| z.resolve(local).ok())
                .unwrap_or(Timestamp::MIN)
        };
        let mut starts: Vec<Timestamp> = vec![at(&self.zone, self.span.start)];
        starts.extend(self.rdates.iter().map(|d| at(&self.zone, *d)));
        starts.extend(self.overrides.iter().map(|o| at(&o.zone, o.span.start)));
        let earliest = starts
            .iter()
            .copied()
            .min()
            .unwrap_or(Timestamp::MIN)
            .checked_sub(slack)
            .unwrap_or(Timestamp::MIN);
        let rule = self.rrule.as_deref().and_then(|r| Rule::parse(r).ok());
        let mut ends: Vec<Timestamp> = Vec::new();
        let length = |span: &Span| SignedDuration::from_secs(span.length_secs.max(0));
        match rule {
            Some(rule) if rule.count.is_none() && rule.until.is_none() => return (earliest, None),
            Some(rule) => {
                let Some(zone) = self.zone.resolve(&utc) else {
                    return (earliest, None);
                };
                let series = Series {
                    start: self.span.start,
                    zone,
                    rule,
                    exdates: Vec::new(),
                    rdates: self.rdates.clone(),
                };
                // COUNT or UNTIL ends the rule; a rule that would run past this many is treated as endless.
                let mut last = None;
                for (i, o) in series.occurrences().enumerate() {
                    if i >= 100_000 {
                        return (earliest, None);
                    }
                    last = Some(o.at);
                }
                ends.extend(last);
            }
            None => ends.extend(starts.first().copied()),
        }
        ends.extend(self.rdates.iter().map(|d| at(&self.zone, *d)));
        let own = ends
            .iter()
            .copied()
            .max()
            .and_then(|e| e.checked_add(length(&self.span)).ok());
        let overrides = self
            .overrides
            .iter()
            .filter_map(|o| at(&o.zone, o.span.start).checked_add(length(&o.span)).ok());
        let latest = own
            .into_iter()
            .chain(overrides)
            .max()
            .map(|e| e.checked_add(slack).unwrap_or(Timestamp::MAX));
        (earliest, latest.or(Some(Timestamp::MAX)))
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn seoul() -> Zone {
        Zone::parse("Asia/Seoul").unwrap()
    }

    fn event(start: DateTime, rrule: Option<&str>) -> BusyEvent {
        BusyEvent {
            uid: "u".into(),
            title: "Standup".into(),
            zone: EventZone::Tz {
                id: "Europe/Berlin".into(),
            },
            span: Span {
                start,
                all_day: false,
                length_secs: 1800,
            },
            busy: true,
            rrule: rrule.map(str::to_owned),
            exdates: Vec::new(),
            rdates: Vec::new(),
            overrides: Vec::new(),
        }
    }

    fn week(d: jiff::civil::Date) -> Window {
        Window::week(d, &Zone::parse("Europe/Berlin").unwrap()).unwrap()
    }

    #[test]
    fn a_weekly_meeting_keeps_its_wall_clock_time_across_dst() {
        let e = event(
            date(2026, 3, 2).at(9, 0, 0, 0),
            Some("FREQ=WEEKLY;BYDAY=MO"),
        );
        let before = e.blocks(&seoul(), &week(date(2026, 3, 23)));
        let after = e.blocks(&seoul(), &week(date(2026, 3, 30)));
        assert_eq!(before[0].start.to_string(), "2026-03-23T08:00:00Z");
        assert_eq!(after[0].start.to_string(), "2026-03-30T07:00:00Z");
        assert_eq!(after[0].end.to_string(), "2026-03-30T07:30:00Z");
    }

    #[test]
    fn exdates_and_overrides_replace_occurrences() {
        let mut e = event(date(2026, 3, 2).at(9, 0, 0, 0), Some("FREQ=DAILY;COUNT=5"));
        e.exdates.push(date(2026, 3, 3).at(9, 0, 0, 0));
        e.overrides.push(Override {
            of: date(2026, 3, 4).at(9, 0, 0, 0),
            busy: true,
            title: "Moved".into(),
            zone: e.zone.clone(),
            span: Span {
                start: date(2026, 3, 9).at(14, 0, 0, 0),
                all_day: false,
                length_secs: 3600,
            },
        });
        e.overrides.push(Override {
            of: date(2026, 3, 5).at(9, 0, 0, 0),
            busy: false,
            title: "Cancelled".into(),
            zone: e.zone.clone(),
            span: Span {
                start: date(2026, 3, 5).at(9, 0, 0, 0),
                all_day: false,
                length_secs: 1800,
            },
        });
        let first = e.blocks(&seoul(), &week(date(2026, 3, 2)));
        let days: Vec<String> = first.iter().map(|b| b.start.to_string()).collect();
        assert_eq!(days, ["2026-03-02T08:00:00Z", "2026-03-06T08:00:00Z"]);
        let second = e.blocks(&seoul(), &week(date(2026, 3, 9)));
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].title, "Moved");
        assert_eq!(second[0].start.to_string(), "2026-03-09T13:00:00Z");
        let (from, to) = e.reach();
        assert!(from <= "2026-03-02T08:00:00Z".parse().unwrap());
        assert!(to.unwrap() >= "2026-03-09T14:00:00Z".parse().unwrap());
    }

    #[test]
    fn all_day_events_are_days_in_the_readers_zone() {
        let e = BusyEvent {
            uid: "h".into(),
            title: "Holiday".into(),
            zone: EventZone::Floating,
            span: Span {
                start: date(2026, 12, 24).at(0, 0, 0, 0),
                all_day: true,
                length_secs: 2 * 86_400,
            },
            busy: true,
            rrule: Some("FREQ=YEARLY".into()),
            exdates: Vec::new(),
            rdates: Vec::new(),
            overrides: Vec::new(),
        };
        let window = Window::day(date(2027, 12, 25), &seoul()).unwrap();
        let blocks = e.blocks(&seoul(), &window);
        assert_eq!(blocks.len(), 1);
        assert!(blocks[0].all_day);
        assert_eq!(blocks[0].start.to_string(), "2027-12-23T15:00:00Z");
        assert_eq!(blocks[0].end.to_string(), "2027-12-25T15:00:00Z");
        assert_eq!(e.reach().1, None);
    }

    #[test]
    fn a_transparent_event_makes_no_blocks() {
        let mut e = event(date(2026, 3, 2).at(9, 0, 0, 0), None);
        assert_eq!(e.blocks(&seoul(), &week(date(2026, 3, 2))).len(), 1);
        e.busy = false;
        assert!(e.blocks(&seoul(), &week(date(2026, 3, 2))).is_empty());
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(calendar_name("  Work  ").unwrap(), "Work");
        assert_eq!(calendar_name(" "), Err(CalendarError::Name));
        assert_eq!(calendar_name(&"x".repeat(101)), Err(CalendarError::Name));
        assert!(calendar_name(&"가".repeat(100)).is_ok());
    }

    #[test]
    fn events_round_trip_through_json() {
        let mut e = event(date(2026, 3, 2).at(9, 0, 0, 0), Some("FREQ=DAILY"));
        e.zone = EventZone::Rules {
            id: "W. Europe Standard Time".into(),
            posix: "<STD>-1<DST>,M3.5.0/2,M10.5.0/3".into(),
        };
        let text = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<BusyEvent>(&text).unwrap(), e);
        assert!(e.zone.resolve(&seoul()).is_some());
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        const RULES: [Option<&str>; 6] = [
            None,
            Some("FREQ=DAILY;COUNT=9"),
            Some("FREQ=WEEKLY;BYDAY=MO,TH"),
            Some("FREQ=WEEKLY;INTERVAL=2;BYDAY=SA,SU;UNTIL=20270101T000000Z"),
            Some("FREQ=MONTHLY;BYDAY=-1FR"),
            Some("FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=29"),
        ];
        const ZONES: [&str; 4] = ["Europe/Berlin", "America/New_York", "Asia/Seoul", "UTC"];

        fn any_event() -> impl Strategy<Value = BusyEvent> {
            (
                0i32..300,
                0i8..24,
                prop_oneof![Just(0i8), Just(30)],
                0i64..(30 * 3600),
                0usize..RULES.len(),
                0usize..=ZONES.len(),
                any::<bool>(),
                0usize..4,
            )
                .prop_map(|(day, hour, minute, length, rule, zone, all_day, skip)| {
                    let start = date(2026, 1, 1)
                        .checked_add(jiff::Span::new().days(day))
                        .unwrap()
                        .at(
                            if all_day { 0 } else { hour },
                            if all_day { 0 } else { minute },
                            0,
                            0,
                        );
                    let zone = ZONES
                        .get(zone)
                        .filter(|_| !all_day)
                        .map_or(EventZone::Floating, |id| EventZone::Tz { id: (*id).into() });
                    let mut e = BusyEvent {
                        uid: "p".into(),
                        title: "P".into(),
                        zone,
                        span: Span {
                            start,
                            all_day,
                            length_secs: if all_day {
                                (length / 86_400 + 1) * 86_400
                            } else {
                                length
                            },
                        },
                        busy: true,
                        rrule: RULES[rule].map(str::to_owned),
                        exdates: Vec::new(),
                        rdates: Vec::new(),
                        overrides: Vec::new(),
                    };
                    // Take out one of the first occurrences.
                    if let Some(z) = e.zone.resolve(&Zone::utc())
                        && let Some(rule) = e.rrule.as_deref().and_then(|r| Rule::parse(r).ok())
                    {
                        let series = Series {
                            start,
                            zone: z,
                            rule,
                            exdates: Vec::new(),
                            rdates: Vec::new(),
                        };
                        e.exdates
                            .extend(series.occurrences().nth(skip).map(|o| o.local));
                    }
                    e
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]

            /// Expanding a week lazily gives what expanding each of its days does (a block across midnight is in
            /// both days), and what the event can reach covers every block: a window's events are never missed.
            #[test]
            fn a_week_is_its_seven_days(event in any_event(), week_no in 0i32..60, reader in 0usize..ZONES.len()) {
                let reader = Zone::parse(ZONES[reader]).unwrap();
                let monday = date(2025, 12, 29).checked_add(jiff::Span::new().weeks(week_no)).unwrap();
                let week = Window::week(monday, &reader).unwrap();
                let whole = event.blocks(&reader, &week);
                let mut days: Vec<Block> = (0..7)
                    .flat_map(|d| {
                        let day = monday.checked_add(jiff::Span::new().days(d)).unwrap();
                        event.blocks(&reader, &Window::day(day, &reader).unwrap())
                    })
                    .collect();
                days.sort_by_key(|b| (b.start, b.end));
                days.dedup();
                prop_assert_eq!(&whole, &days);
                let (from, to) = event.reach();
                for b in &whole {
                    prop_assert!(from <= b.start, "{from} > {}", b.start);
                    prop_assert!(to.is_none_or(|to| b.end <= to), "{to:?} < {}", b.end);
                }
            }
        }
    }
}
