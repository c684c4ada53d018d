//! VTIMEZONE components written from jiff's bundled tz database (RFC 5545, 3.6.5).
//!
//! A zone is written as the list of its transitions within the range of the calendar's times — each one a
//! STANDARD or DAYLIGHT observance with `DTSTART` (the wall-clock time of the change, in the offset before it),
//! `TZOFFSETFROM`, `TZOFFSETTO` and `TZNAME` — plus the observance in force at the start of the range. No RRULE:
//! listing the transitions is exact for every zone (including ones whose rules changed, or that will), and a
//! reader needs no rule engine. A time after the range gets the last listed offset from a reader that only
//! reads the VTIMEZONE; most readers (Google, Apple, Thunderbird, Python's `icalendar`) know IANA ids and use
//! their own rules, and [`TRANSITION_YEARS_AHEAD`] keeps the range long.

use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

use super::content::{Component, Property};
use super::value::format_local;
use crate::domain::Zone;

/// How far past its last time a calendar's VTIMEZONE lists transitions (for the repetitions of an endless
/// series): five years.
pub const TRANSITION_YEARS_AHEAD: i64 = 5;

/// At most this many observances in one VTIMEZONE.
pub const MAX_TRANSITIONS: usize = 400;

/// Whether times in `zone` are written in UTC (`…Z`) rather than with a `TZID` and a VTIMEZONE.
pub fn is_utc(zone: &Zone) -> bool {
    matches!(
        zone.id(),
        "UTC" | "Z" | "GMT" | "UT" | "Etc/UTC" | "Etc/GMT"
    )
}

/// `+0900`, `-0330`, `+053015`.
pub fn format_offset(offset: Offset) -> String {
    let total = offset.seconds();
    let sign = if total < 0 { '-' } else { '+' };
    let abs = total.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs % 3600 / 60, abs % 60);
    if s == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{s:02}")
    }
}

fn observance(dst: bool, onset: Timestamp, from: Offset, to: Offset, name: &str) -> Component {
    let local = TimeZone::fixed(from).to_datetime(onset);
    let mut c = Component::new(if dst { "DAYLIGHT" } else { "STANDARD" })
        .with(Property::raw("DTSTART", format_local(local)))
        .with(Property::raw("TZOFFSETFROM", format_offset(from)))
        .with(Property::raw("TZOFFSETTO", format_offset(to)));
    if !name.is_empty() {
        c.push(Property::text_value("TZNAME", name));
    }
    c
}

/// The VTIMEZONE of `zone` for times in `[from, to]`: the observance in force at `from` and every transition
/// up to `to` (at most [`MAX_TRANSITIONS`]). `TZID` is the zone's id.
pub fn vtimezone(zone: &Zone, from: Timestamp, to: Timestamp) -> Component {
    let tz = zone.time_zone();
    let mut vtz = Component::new("VTIMEZONE").with(Property::raw("TZID", zone.id()));
    let info = tz.to_offset_info(from);
    let current = info.offset();
    // The transition that began the observance in force at `from`, else a fixed zone's one observance.
    let start = tz
        .preceding(
            from.saturating_add(SignedDuration::from_nanos(1))
                .unwrap_or(from),
        )
        .next();
    match start {
        Some(t) => {
            let before = tz.to_offset(
                t.timestamp()
                    .checked_sub(SignedDuration::from_secs(1))
                    .unwrap_or(t.timestamp()),
            );
            vtz.push_component(observance(
                t.dst().is_dst(),
                t.timestamp(),
                before,
                t.offset(),
                t.abbreviation(),
            ));
        }
        None => {
            let epoch = Timestamp::UNIX_EPOCH
                .checked_sub(SignedDuration::from_secs(i64::from(current.seconds())))
                .unwrap_or(Timestamp::UNIX_EPOCH);
            vtz.push_component(observance(
                info.dst().is_dst(),
                epoch.min(from),
                current,
                current,
                info.abbreviation(),
            ));
        }
    }
    let mut previous = current;
    for t in tz.following(from).take(MAX_TRANSITIONS) {
        if t.timestamp() > to {
            break;
        }
        vtz.push_component(observance(
            t.dst().is_dst(),
            t.timestamp(),
            previous,
            t.offset(),
            t.abbreviation(),
        ));
        previous = t.offset();
    }
    vtz
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn berlin_lists_its_changes_in_the_range() {
        let zone = Zone::parse("Europe/Berlin").unwrap();
        let vtz = vtimezone(
            &zone,
            ts("2026-01-10T00:00:00Z"),
            ts("2026-12-31T00:00:00Z"),
        );
        let text = vtz.to_ical();
        assert!(
            text.starts_with("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n"),
            "{text}"
        );
        let kinds: Vec<(&str, String, String)> = vtz
            .components
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.property("DTSTART").unwrap().value.clone(),
                    c.property("TZOFFSETTO").unwrap().value.clone(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("STANDARD", "20251026T030000".to_owned(), "+0100".to_owned()),
                ("DAYLIGHT", "20260329T020000".to_owned(), "+0200".to_owned()),
                ("STANDARD", "20261025T030000".to_owned(), "+0100".to_owned()),
            ]
        );
        assert_eq!(
            vtz.components[1].property("TZOFFSETFROM").unwrap().value,
            "+0100"
        );
        assert_eq!(vtz.components[1].property("TZNAME").unwrap().text(), "CEST");
    }

    #[test]
    fn a_zone_without_changes_has_one_observance() {
        let zone = Zone::parse("+05:30").unwrap();
        let vtz = vtimezone(
            &zone,
            ts("2026-01-10T00:00:00Z"),
            ts("2030-01-01T00:00:00Z"),
        );
        assert_eq!(vtz.components.len(), 1);
        assert_eq!(vtz.property("TZID").unwrap().value, "+05:30");
        let only = &vtz.components[0];
        assert_eq!(only.property("TZOFFSETTO").unwrap().value, "+0530");
        assert_eq!(only.property("TZOFFSETFROM").unwrap().value, "+0530");
        let seoul = Zone::parse("Asia/Seoul").unwrap();
        let vtz = vtimezone(
            &seoul,
            ts("2026-01-10T00:00:00Z"),
            ts("2030-01-01T00:00:00Z"),
        );
        assert_eq!(vtz.components.len(), 1);
        assert_eq!(
            vtz.components[0].property("TZOFFSETTO").unwrap().value,
            "+0900"
        );
        assert!(is_utc(&Zone::utc()));
        assert!(!is_utc(&seoul));
    }

    #[test]
    fn offsets_are_written_as_rfc_5545_says() {
        assert_eq!(
            format_offset(Offset::from_seconds(-12_600).unwrap()),
            "-0330"
        );
        assert_eq!(format_offset(Offset::from_seconds(0).unwrap()), "+0000");
        assert_eq!(
            format_offset(Offset::from_seconds(19_815).unwrap()),
            "+053015"
        );
    }
}
