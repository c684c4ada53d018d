//! Time as the reference's wire contract describes it (docs/contract/task.md#time), made DST-safe with jiff.
//!
//! * Instants are [`Timestamp`]s (UTC); dates are a [`Date`] plus a [`Zone`].
//! * Day and week windows are half-open `[start, end)` instants, computed from local midnights in
//!   the zone (so a day is 23 or 25 hours long across a DST change, and a midnight that falls in a
//!   gap resolves to the first instant of the day).
//! * Weeks start on ISO Monday (`previousOrSame(MONDAY)`).
//! * Local date-times (`DateTimeWithZone`, query `time` + `zoneId`) resolve like Java's
//!   `ZonedDateTime.of`: a gap shifts forward by its length, an overlap takes the earlier offset.

use std::fmt;
use std::hash::{Hash, Hasher};

use jiff::civil::{Date, DateTime};
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

use super::error::TimeError;

/// A time zone together with the id it was given by (`Asia/Seoul`, `UTC`, `Z`, `+09:00`, `UTC+09:00`).
///
/// The id is what is stored and rendered (`zoneId` fields); the rules come from jiff's bundled tzdb.
/// Two zones are equal when their ids are equal.
#[derive(Clone)]
pub struct Zone {
    id: String,
    tz: TimeZone,
}

impl Zone {
    /// Parses a zone id the way Java's `ZoneId.of` accepts it:
    ///
    /// * an IANA region id (`Asia/Seoul`; matched case-insensitively and stored in the tzdb's
    ///   canonical spelling),
    /// * `Z` or a bare offset (`+9`, `+09`, `+09:00`, `+0900`, `-05:30`, `+05:30:15`), stored as Java's
    ///   offset id (`Z`, `+09:00`),
    /// * `UTC`, `GMT`, `UT`, optionally followed by an offset (`UTC+09:00`, `GMT-5` → `GMT-05:00`).
    pub fn parse(id: &str) -> Result<Self, TimeError> {
        let invalid = || TimeError::Zone(id.to_owned());
        if id == "Z" || id.starts_with(['+', '-']) {
            let offset = parse_offset(id).map_err(|_| invalid())?;
            return Ok(Self::fixed(offset));
        }
        for prefix in ["UTC", "GMT", "UT"] {
            if let Some(rest) = id.strip_prefix(prefix) {
                if rest.is_empty() {
                    return Ok(Self {
                        id: prefix.to_owned(),
                        tz: TimeZone::UTC,
                    });
                }
                if rest.starts_with(['+', '-']) {
                    let offset = parse_offset(rest).map_err(|_| invalid())?;
                    let id = if offset.seconds() == 0 {
                        prefix.to_owned()
                    } else {
                        format!("{prefix}{}", offset_id(offset))
                    };
                    return Ok(Self {
                        id,
                        tz: TimeZone::fixed(offset),
                    });
                }
            }
        }
        // Java's region-id syntax: [A-Za-z][A-Za-z0-9~/._+-]+
        let mut chars = id.chars();
        let syntax_ok = id.len() >= 2
            && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || "~/._+-".contains(c));
        if !syntax_ok {
            return Err(invalid());
        }
        let tz = TimeZone::get(id).map_err(|_| invalid())?;
        let id = tz.iana_name().unwrap_or(id).to_owned();
        Ok(Self { id, tz })
    }

    /// The zone `UTC`.
    pub fn utc() -> Self {
        Self {
            id: "UTC".to_owned(),
            tz: TimeZone::UTC,
        }
    }

    /// A fixed-offset zone with Java's offset id (`Z`, `+09:00`).
    pub fn fixed(offset: Offset) -> Self {
        Self {
            id: offset_id(offset),
            tz: TimeZone::fixed(offset),
        }
    }

    /// A zone whose rules are not in the tz database — a calendar's VTIMEZONE under a name such as Outlook's
    /// `W. Europe Standard Time` — named `id`.
    pub fn custom(id: &str, tz: TimeZone) -> Self {
        Self {
            id: id.to_owned(),
            tz,
        }
    }

    /// The legacy `offset` query parameter of the archive endpoint: `ZoneId.ofOffset("UTC", offset)`,
    /// i.e. the zone `UTC+09:00` (or `UTC` for a zero offset).
    pub fn from_legacy_offset(offset: &str) -> Result<Self, TimeError> {
        let offset = parse_offset(offset)?;
        Ok(if offset.seconds() == 0 {
            Self::utc()
        } else {
            Self {
                id: format!("UTC{}", offset_id(offset)),
                tz: TimeZone::fixed(offset),
            }
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The zone's rules (iCalendar's VTIMEZONE is written from them).
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The zone's offset at an instant.
    pub fn offset_at(&self, at: Timestamp) -> Offset {
        self.tz.to_offset(at)
    }

    /// The wall-clock date-time of an instant in this zone.
    pub fn local_date_time(&self, at: Timestamp) -> DateTime {
        self.tz.to_datetime(at)
    }

    /// The local date of an instant in this zone ("today" when `at` is now).
    pub fn local_date(&self, at: Timestamp) -> Date {
        self.local_date_time(at).date()
    }

    /// The instant of a wall-clock date-time in this zone (Java `ZonedDateTime.of` disambiguation:
    /// gap → shifted forward, overlap → earlier offset).
    pub fn resolve(&self, local: DateTime) -> Result<Timestamp, TimeError> {
        self.tz
            .to_timestamp(local)
            .map_err(|_| TimeError::OutOfRange)
    }

    /// The first instant of `date` in this zone (Java `LocalDate.atStartOfDay(zone)`).
    pub fn start_of_day(&self, date: Date) -> Result<Timestamp, TimeError> {
        let start = date
            .to_zoned_datetime(self.tz.clone())
            .and_then(|zdt| zdt.start_of_day())
            .map_err(|_| TimeError::OutOfRange)?;
        Ok(start.timestamp())
    }

    /// The offset in force at the start of `date` (what `DateWithOffset.offset` shows).
    pub fn offset_on(&self, date: Date) -> Result<Offset, TimeError> {
        Ok(self.offset_at(self.start_of_day(date)?))
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for Zone {}

impl Hash for Zone {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Zone({})", self.id)
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

/// A half-open interval of instants `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Window {
    /// The local day `date` in `zone`: `[date 00:00, date+1 00:00)`.
    pub fn day(date: Date, zone: &Zone) -> Result<Self, TimeError> {
        let next = date.tomorrow().map_err(|_| TimeError::OutOfRange)?;
        Ok(Self {
            start: zone.start_of_day(date)?,
            end: zone.start_of_day(next)?,
        })
    }

    /// The ISO week (Monday start) that contains the local date `date` in `zone`:
    /// `[Monday 00:00, next Monday 00:00)`.
    pub fn week(date: Date, zone: &Zone) -> Result<Self, TimeError> {
        let monday = week_start(date)?;
        let next = monday
            .checked_add(SignedDuration::from_hours(7 * 24))
            .map_err(|_| TimeError::OutOfRange)?;
        Ok(Self {
            start: zone.start_of_day(monday)?,
            end: zone.start_of_day(next)?,
        })
    }

    /// The week in `zone` that contains the instant `at`.
    pub fn week_containing(at: Timestamp, zone: &Zone) -> Result<Self, TimeError> {
        Self::week(zone.local_date(at), zone)
    }

    pub fn contains(&self, at: Timestamp) -> bool {
        self.start <= at && at < self.end
    }

    pub fn length(&self) -> SignedDuration {
        self.end.duration_since(self.start)
    }
}

/// The Monday on or before `date` (`TemporalAdjusters.previousOrSame(MONDAY)`).
pub fn week_start(date: Date) -> Result<Date, TimeError> {
    let back = i64::from(date.weekday().to_monday_zero_offset());
    date.checked_sub(SignedDuration::from_hours(24 * back))
        .map_err(|_| TimeError::OutOfRange)
}

pub use pinit_kernel::clock::truncate_to_micros;

// ---------------------------------------------------------------------------------------------
// Input formats
// ---------------------------------------------------------------------------------------------

/// A cursor over ASCII input for the small fixed-width grammars below.
struct Scan<'a> {
    rest: &'a [u8],
}

impl<'a> Scan<'a> {
    fn new(s: &'a str) -> Self {
        Self { rest: s.as_bytes() }
    }

    fn digits(&mut self, n: usize) -> Option<i32> {
        if self.rest.len() < n || !self.rest[..n].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let value = self.rest[..n]
            .iter()
            .fold(0i32, |acc, d| acc * 10 + i32::from(d - b'0'));
        self.rest = &self.rest[n..];
        Some(value)
    }

    fn byte(&mut self, expected: impl Fn(u8) -> bool) -> Option<u8> {
        let (&first, rest) = self.rest.split_first()?;
        if expected(first) {
            self.rest = rest;
            Some(first)
        } else {
            None
        }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn rest_str(&self) -> &'a str {
        std::str::from_utf8(self.rest).unwrap_or("")
    }
}

fn scan_date(scan: &mut Scan<'_>) -> Option<Date> {
    let year = scan.digits(4)?;
    scan.byte(|b| b == b'-')?;
    let month = scan.digits(2)?;
    scan.byte(|b| b == b'-')?;
    let day = scan.digits(2)?;
    Date::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    )
    .ok()
}

/// The first date a request may name (a deadline, a schedule's start, a query).
pub const FIRST_DATE: Date = jiff::civil::date(1, 1, 1);
/// The last date a request may name: every day and week window around it, in every zone, is an instant
/// Pinit can represent, so whatever can be stored can be queried (a task due 9999-12-31 could be created but
/// not listed by its deadline).
pub const LAST_DATE: Date = jiff::civil::date(9998, 12, 31);

/// `date` if it lies in [`FIRST_DATE`]`..=`[`LAST_DATE`], else [`TimeError::OutOfRange`].
pub fn in_range(date: Date) -> Result<Date, TimeError> {
    if (FIRST_DATE..=LAST_DATE).contains(&date) {
        Ok(date)
    } else {
        Err(TimeError::OutOfRange)
    }
}

/// An ISO local date `yyyy-MM-dd` (Java `LocalDate.parse`, strict: no 2024-02-30) from a request: also
/// within [`FIRST_DATE`]`..=`[`LAST_DATE`].
pub fn parse_date(input: &str) -> Result<Date, TimeError> {
    in_range(parse_stored_date(input)?)
}

/// An ISO local date `yyyy-MM-dd` as a row keeps it (rows written before the range existed stay readable).
pub fn parse_stored_date(input: &str) -> Result<Date, TimeError> {
    let mut scan = Scan::new(input);
    match scan_date(&mut scan) {
        Some(date) if scan.is_empty() => Ok(date),
        _ => Err(TimeError::Date(input.to_owned())),
    }
}

/// An ISO local date-time as the reference accepts it for `time` query parameters and
/// `DateTimeWithZone.dateTime`: `yyyy-MM-ddTHH:mm[:ss[.fffffffff]]` (the `T` in either case), optionally
/// followed by an offset (`Z`, `+09:00`) and a bracketed zone (`[Asia/Seoul]`), which are checked for
/// syntax and **ignored** — the wall time is what counts, with the separately given `zoneId`. The date is
/// within [`FIRST_DATE`]`..=`[`LAST_DATE`].
pub fn parse_local_date_time(input: &str) -> Result<DateTime, TimeError> {
    let bad = || TimeError::DateTime(input.to_owned());
    let mut scan = Scan::new(input);
    let date = scan_date(&mut scan).ok_or_else(bad)?;
    let date = in_range(date)?;
    scan.byte(|b| b == b'T' || b == b't').ok_or_else(bad)?;
    let hour = scan.digits(2).ok_or_else(bad)?;
    scan.byte(|b| b == b':').ok_or_else(bad)?;
    let minute = scan.digits(2).ok_or_else(bad)?;
    let mut second = 0;
    let mut nanos = 0;
    if scan.byte(|b| b == b':').is_some() {
        second = scan.digits(2).ok_or_else(bad)?;
        if scan.byte(|b| b == b'.').is_some() {
            let mut count = 0;
            while let Some(d) = scan.byte(|b| b.is_ascii_digit()) {
                count += 1;
                if count > 9 {
                    return Err(bad());
                }
                nanos = nanos * 10 + i32::from(d - b'0');
            }
            if count == 0 {
                return Err(bad());
            }
            nanos *= 10i32.pow(9 - count);
        }
    }
    // Trailing offset (and zone), tolerated and ignored.
    if !scan.is_empty() {
        let rest = scan.rest_str();
        let (offset, zone) = match rest.find('[') {
            Some(i) => (&rest[..i], Some(&rest[i..])),
            None => (rest, None),
        };
        let offset_ok = offset.eq_ignore_ascii_case("z") || parse_offset(offset).is_ok();
        let zone_ok = zone.is_none_or(|z| z.len() > 2 && z.ends_with(']'));
        if !offset_ok || !zone_ok {
            return Err(bad());
        }
    }
    let time = jiff::civil::Time::new(
        i8::try_from(hour).map_err(|_| bad())?,
        i8::try_from(minute).map_err(|_| bad())?,
        i8::try_from(second).map_err(|_| bad())?,
        nanos,
    )
    .map_err(|_| bad())?;
    Ok(date.to_datetime(time))
}

/// An offset as Java's `ZoneOffset.of` accepts it: `Z`, `±h`, `±hh`, `±hh:mm`, `±hhmm`,
/// `±hh:mm:ss`, `±hhmmss`; at most ±18:00.
pub fn parse_offset(input: &str) -> Result<Offset, TimeError> {
    let bad = || TimeError::Offset(input.to_owned());
    if input == "Z" {
        return Ok(Offset::UTC);
    }
    let mut scan = Scan::new(input);
    let sign = match scan.byte(|b| b == b'+' || b == b'-').ok_or_else(bad)? {
        b'-' => -1,
        _ => 1,
    };
    let (hours, minutes, seconds) = match scan.rest.len() {
        1 => (scan.digits(1).ok_or_else(bad)?, 0, 0),
        2 => (scan.digits(2).ok_or_else(bad)?, 0, 0),
        4 => (
            scan.digits(2).ok_or_else(bad)?,
            scan.digits(2).ok_or_else(bad)?,
            0,
        ),
        5 => {
            let h = scan.digits(2).ok_or_else(bad)?;
            scan.byte(|b| b == b':').ok_or_else(bad)?;
            (h, scan.digits(2).ok_or_else(bad)?, 0)
        }
        6 => (
            scan.digits(2).ok_or_else(bad)?,
            scan.digits(2).ok_or_else(bad)?,
            scan.digits(2).ok_or_else(bad)?,
        ),
        8 => {
            let h = scan.digits(2).ok_or_else(bad)?;
            scan.byte(|b| b == b':').ok_or_else(bad)?;
            let m = scan.digits(2).ok_or_else(bad)?;
            scan.byte(|b| b == b':').ok_or_else(bad)?;
            (h, m, scan.digits(2).ok_or_else(bad)?)
        }
        _ => return Err(bad()),
    };
    if !scan.is_empty() || minutes > 59 || seconds > 59 {
        return Err(bad());
    }
    let total = hours * 3600 + minutes * 60 + seconds;
    if total > 18 * 3600 {
        return Err(bad());
    }
    Offset::from_seconds(sign * total).map_err(|_| bad())
}

// ---------------------------------------------------------------------------------------------
// Output formats
// ---------------------------------------------------------------------------------------------

/// Java's `ZoneOffset.getId()`: `Z`, `+09:00`, `-04:00`, `+05:45`, `+00:00:30`.
pub fn offset_id(offset: Offset) -> String {
    let total = offset.seconds();
    if total == 0 {
        return "Z".to_owned();
    }
    let sign = if total < 0 { '-' } else { '+' };
    let abs = total.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs / 60 % 60, abs % 60);
    if s == 0 {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}:{m:02}:{s:02}")
    }
}

/// A local date-time as the reference serializes it (`ISO_LOCAL_DATE_TIME`): seconds always
/// printed, the fraction only when non-zero and without trailing zeros — `2026-02-01T09:00:00`,
/// `2026-02-01T09:00:00.5`.
pub fn format_local_date_time(dt: DateTime) -> String {
    let mut out = format!(
        "{}T{:02}:{:02}:{:02}",
        dt.date(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    push_fraction(&mut out, dt.subsec_nanosecond().unsigned_abs());
    out
}

fn push_fraction(out: &mut String, nanos: u32) {
    if nanos > 0 {
        let digits = format!("{nanos:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

/// A duration as Java's `Duration.toString()` (how the reference serializes `duration` and the
/// statistics fields): `PT0S`, `PT45M`, `PT1H30M`, `PT25H`, `PT1.5S`, `PT-1M-30S`, `PT-0.5S`.
pub fn format_duration(d: SignedDuration) -> String {
    if d.is_zero() {
        return "PT0S".to_owned();
    }
    // Java keeps (seconds floored, nanos in 0..1e9).
    let total = d.as_nanos();
    let seconds = total.div_euclid(1_000_000_000);
    let nanos = total.rem_euclid(1_000_000_000);
    let effective = if seconds < 0 && nanos > 0 {
        seconds + 1
    } else {
        seconds
    };
    let hours = effective / 3600;
    let minutes = (effective % 3600) / 60;
    let secs = effective % 60;
    let mut out = String::from("PT");
    if hours != 0 {
        out.push_str(&format!("{hours}H"));
    }
    if minutes != 0 {
        out.push_str(&format!("{minutes}M"));
    }
    if secs == 0 && nanos == 0 && out.len() > 2 {
        return out;
    }
    if seconds < 0 && nanos > 0 && secs == 0 {
        out.push_str("-0");
    } else {
        out.push_str(&secs.to_string());
    }
    if nanos > 0 {
        let frac = if seconds < 0 {
            1_000_000_000 - nanos
        } else {
            nanos
        };
        let digits = format!("{frac:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('S');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn zone(id: &str) -> Zone {
        Zone::parse(id).unwrap()
    }

    #[test]
    fn what_a_request_may_name_can_be_queried_in_every_zone() {
        for d in [FIRST_DATE, LAST_DATE] {
            for z in [
                "-18:00",
                "+18:00",
                "Etc/GMT+12",
                "Pacific/Kiritimati",
                "UTC",
            ] {
                let z = zone(z);
                assert!(Window::day(d, &z).is_ok(), "{d} {z:?}");
                assert!(Window::week(d, &z).is_ok(), "{d} {z:?}");
                assert!(d.yesterday().is_ok() && d.tomorrow().is_ok());
            }
        }
        assert_eq!(parse_date("9998-12-31"), Ok(LAST_DATE));
        assert_eq!(parse_date("0001-01-01"), Ok(FIRST_DATE));
        for outside in ["9999-01-01", "9999-12-31", "0000-12-31"] {
            assert_eq!(parse_date(outside), Err(TimeError::OutOfRange), "{outside}");
            assert_eq!(
                parse_local_date_time(&format!("{outside}T10:00:00")),
                Err(TimeError::OutOfRange)
            );
            // A row written before the range existed is still read.
            assert!(parse_stored_date(outside).is_ok());
        }
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    // ---- zones ----

    #[test]
    fn zone_ids_parse_like_java_zone_id_of() {
        assert_eq!(zone("Asia/Seoul").id(), "Asia/Seoul");
        assert_eq!(
            zone("asia/seoul").id(),
            "Asia/Seoul",
            "canonical spelling kept"
        );
        assert_eq!(zone("UTC").id(), "UTC");
        assert_eq!(zone("GMT").id(), "GMT");
        assert_eq!(zone("Z").id(), "Z");
        assert_eq!(zone("+09:00").id(), "+09:00");
        assert_eq!(zone("+9").id(), "+09:00");
        assert_eq!(zone("+0530").id(), "+05:30");
        assert_eq!(zone("-05:00").id(), "-05:00");
        assert_eq!(zone("+00:00").id(), "Z");
        assert_eq!(zone("UTC+09:00").id(), "UTC+09:00");
        assert_eq!(zone("GMT-5").id(), "GMT-05:00");
        assert_eq!(zone("UTC+0").id(), "UTC");
        assert_eq!(
            zone("+09:00")
                .offset_at(ts("2026-01-01T00:00:00Z"))
                .seconds(),
            9 * 3600
        );
    }

    #[test]
    fn bad_zone_ids_are_refused() {
        for bad in [
            "",
            "Mars/Olympus",
            "+19:00",
            "+09:60",
            "09:00",
            "Asia/../Seoul ",
            "A",
            "UTC+",
            "Asia/Seoul;",
            "+1:00",
        ] {
            assert_eq!(
                Zone::parse(bad),
                Err(TimeError::Zone(bad.to_owned())),
                "{bad:?}"
            );
        }
        assert_eq!(
            Zone::parse("Mars/Olympus").unwrap_err().to_string(),
            "올바르지 않은 시간대 ID입니다."
        );
    }

    #[test]
    fn legacy_offset_zone_is_utc_prefixed() {
        assert_eq!(
            Zone::from_legacy_offset("+09:00").unwrap().id(),
            "UTC+09:00"
        );
        assert_eq!(
            Zone::from_legacy_offset("-05:00").unwrap().id(),
            "UTC-05:00"
        );
        assert_eq!(Zone::from_legacy_offset("+00:00").unwrap().id(), "UTC");
        assert!(Zone::from_legacy_offset("nine").is_err());
    }

    #[test]
    fn zone_equality_is_by_id() {
        assert_eq!(zone("Asia/Seoul"), zone("asia/SEOUL"));
        assert_ne!(zone("UTC"), zone("Z"), "Java keeps these ids apart too");
    }

    #[test]
    fn offsets_at_start_of_day_follow_the_rules() {
        // ZonedDateAttributeTest: Seoul +09:00; New York on the DST switch day (computed at midnight)
        // is still -05:00, and -04:00 in July.
        assert_eq!(
            offset_id(zone("Asia/Seoul").offset_on(date(2024, 4, 1)).unwrap()),
            "+09:00"
        );
        let ny = zone("America/New_York");
        assert_eq!(offset_id(ny.offset_on(date(2026, 3, 8)).unwrap()), "-05:00");
        assert_eq!(offset_id(ny.offset_on(date(2026, 7, 1)).unwrap()), "-04:00");
        assert_eq!(
            offset_id(zone("UTC").offset_on(date(2026, 7, 1)).unwrap()),
            "Z"
        );
    }

    // ---- windows ----

    #[test]
    fn seoul_day_window() {
        let w = Window::day(date(2026, 2, 1), &zone("Asia/Seoul")).unwrap();
        assert_eq!(w.start, ts("2026-01-31T15:00:00Z"));
        assert_eq!(w.end, ts("2026-02-01T15:00:00Z"));
        assert!(w.contains(ts("2026-01-31T15:00:00Z")), "start is inside");
        assert!(!w.contains(ts("2026-02-01T15:00:00Z")), "end is outside");
        assert!(w.contains(ts("2026-02-01T14:59:59.999999999Z")));
    }

    #[test]
    fn new_york_days_across_dst_are_23_and_25_hours() {
        let ny = zone("America/New_York");
        let spring = Window::day(date(2026, 3, 8), &ny).unwrap();
        assert_eq!(spring.start, ts("2026-03-08T05:00:00Z"));
        assert_eq!(spring.end, ts("2026-03-09T04:00:00Z"));
        assert_eq!(spring.length(), SignedDuration::from_hours(23));
        let fall = Window::day(date(2026, 11, 1), &ny).unwrap();
        assert_eq!(fall.start, ts("2026-11-01T04:00:00Z"));
        assert_eq!(fall.end, ts("2026-11-02T05:00:00Z"));
        assert_eq!(fall.length(), SignedDuration::from_hours(25));
    }

    #[test]
    fn berlin_week_across_spring_forward_is_167_hours() {
        // DST starts Sunday 2026-03-29 in Europe/Berlin.
        let berlin = zone("Europe/Berlin");
        for d in 23..=29 {
            let w = Window::week(date(2026, 3, d), &berlin).unwrap();
            assert_eq!(w.start, ts("2026-03-22T23:00:00Z"), "Monday 00:00 CET");
            assert_eq!(w.end, ts("2026-03-29T22:00:00Z"), "next Monday 00:00 CEST");
            assert_eq!(w.length(), SignedDuration::from_hours(167));
        }
        let next = Window::week(date(2026, 3, 30), &berlin).unwrap();
        assert_eq!(
            next.start,
            ts("2026-03-29T22:00:00Z"),
            "weeks tile without gaps"
        );
        assert_eq!(next.length(), SignedDuration::from_hours(168));
    }

    #[test]
    fn berlin_week_across_fall_back_is_169_hours() {
        // DST ends Sunday 2026-10-25 in Europe/Berlin.
        let w = Window::week(date(2026, 10, 25), &zone("Europe/Berlin")).unwrap();
        assert_eq!(w.start, ts("2026-10-18T22:00:00Z"));
        assert_eq!(w.end, ts("2026-10-25T23:00:00Z"));
        assert_eq!(w.length(), SignedDuration::from_hours(169));
    }

    #[test]
    fn new_york_weeks_around_both_transitions() {
        let ny = zone("America/New_York");
        let spring = Window::week(date(2026, 3, 8), &ny).unwrap();
        assert_eq!(spring.start, ts("2026-03-02T05:00:00Z"));
        assert_eq!(spring.end, ts("2026-03-09T04:00:00Z"));
        assert_eq!(spring.length(), SignedDuration::from_hours(167));
        let fall = Window::week(date(2026, 11, 1), &ny).unwrap();
        assert_eq!(fall.start, ts("2026-10-26T04:00:00Z"));
        assert_eq!(fall.end, ts("2026-11-02T05:00:00Z"));
        assert_eq!(fall.length(), SignedDuration::from_hours(169));
    }

    #[test]
    fn seoul_week_starts_monday_reference_case() {
        // DateTimeUtilsTest: 2025-11-19 10:30 Asia/Seoul → Monday 2025-11-17 00:00 Asia/Seoul.
        let seoul = zone("Asia/Seoul");
        let at = seoul.resolve(date(2025, 11, 19).at(10, 30, 0, 0)).unwrap();
        let w = Window::week_containing(at, &seoul).unwrap();
        assert_eq!(
            seoul.local_date_time(w.start),
            date(2025, 11, 17).at(0, 0, 0, 0)
        );
        assert_eq!(w.length(), SignedDuration::from_hours(168));
        assert_eq!(week_start(date(2025, 11, 17)).unwrap(), date(2025, 11, 17));
        assert_eq!(week_start(date(2025, 11, 23)).unwrap(), date(2025, 11, 17));
        assert_eq!(week_start(date(2025, 11, 24)).unwrap(), date(2025, 11, 24));
    }

    #[test]
    fn same_instant_lands_in_different_weeks_per_zone() {
        // Monday 00:30 in Seoul is still Sunday in UTC and in Los Angeles.
        let at = ts("2025-11-16T15:30:00Z");
        assert_eq!(
            week_start(zone("Asia/Seoul").local_date(at)).unwrap(),
            date(2025, 11, 17)
        );
        assert_eq!(
            week_start(Zone::utc().local_date(at)).unwrap(),
            date(2025, 11, 10)
        );
        assert_eq!(
            week_start(zone("America/Los_Angeles").local_date(at)).unwrap(),
            date(2025, 11, 10)
        );
    }

    #[test]
    fn midnight_in_a_gap_starts_the_day_after_the_gap() {
        // Sao Paulo skipped 2015-10-18 00:00-01:00; the day starts at 01:00 -02:00.
        let sp = zone("America/Sao_Paulo");
        let w = Window::day(date(2015, 10, 18), &sp).unwrap();
        assert_eq!(w.start, ts("2015-10-18T03:00:00Z"));
        assert_eq!(w.length(), SignedDuration::from_hours(23));
    }

    #[test]
    fn local_times_resolve_like_java_zoned_date_time_of() {
        let ny = zone("America/New_York");
        // Gap: 02:30 does not exist → shifted forward by the gap (03:30 EDT).
        assert_eq!(
            ny.resolve(date(2026, 3, 8).at(2, 30, 0, 0)).unwrap(),
            ts("2026-03-08T07:30:00Z")
        );
        // Overlap: 01:30 happens twice → the earlier offset (EDT, -04:00).
        assert_eq!(
            ny.resolve(date(2026, 11, 1).at(1, 30, 0, 0)).unwrap(),
            ts("2026-11-01T05:30:00Z")
        );
    }

    #[test]
    fn reference_time_zone_rendering_case() {
        // The reference's own case: created at 2026-02-01T09:00 Asia/Seoul, shown in Los Angeles as
        // 2026-01-31T16:00:00.
        let at = zone("Asia/Seoul")
            .resolve(parse_local_date_time("2026-02-01T09:00:00").unwrap())
            .unwrap();
        assert_eq!(at, ts("2026-02-01T00:00:00Z"));
        let la = zone("America/Los_Angeles");
        assert_eq!(
            format_local_date_time(la.local_date_time(at)),
            "2026-01-31T16:00:00"
        );
        assert!(Window::day(date(2026, 1, 31), &la).unwrap().contains(at));
        assert!(
            Window::day(date(2026, 2, 1), &zone("Asia/Seoul"))
                .unwrap()
                .contains(at)
        );
    }

    // ---- parsing ----

    #[test]
    fn local_date_times_accept_the_reference_forms() {
        let expect = date(2026, 2, 1).at(9, 0, 0, 0);
        for ok in [
            "2026-02-01T09:00:00",
            "2026-02-01T09:00",
            "2026-02-01t09:00:00",
            "2026-02-01T09:00:00Z",
            "2026-02-01T09:00:00+09:00",
            "2026-02-01T09:00:00-05:00[America/New_York]",
        ] {
            assert_eq!(parse_local_date_time(ok).unwrap(), expect, "{ok}");
        }
        assert_eq!(
            parse_local_date_time("2026-02-01T09:00:00.123").unwrap(),
            date(2026, 2, 1).at(9, 0, 0, 123_000_000)
        );
        assert_eq!(
            parse_local_date_time("2026-02-01T09:00:00.123456789").unwrap(),
            date(2026, 2, 1).at(9, 0, 0, 123_456_789)
        );
    }

    #[test]
    fn local_date_times_refuse_malformed_input() {
        for bad in [
            "",
            "2026-02-01",
            "2026-02-01 09:00:00",
            "2026-2-01T09:00:00",
            "2026-02-30T09:00:00",
            "2026-02-01T24:00:00",
            "2026-02-01T09:60",
            "2026-02-01T9:00",
            "2026-02-01T09:00:00.",
            "2026-02-01T09:00:00.1234567890",
            "2026-02-01T09:00:00+25:00",
            "2026-02-01T09:00:00junk",
            "2026-02-01T09:00:00+09:00[",
        ] {
            assert_eq!(
                parse_local_date_time(bad),
                Err(TimeError::DateTime(bad.to_owned())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn dates_parse_strictly() {
        assert_eq!(parse_date("2024-04-01").unwrap(), date(2024, 4, 1));
        assert_eq!(parse_date("2024-02-29").unwrap(), date(2024, 2, 29));
        for bad in [
            "2023-02-29",
            "2024-4-1",
            "2024-04-01T00:00",
            "20240401",
            "",
            "2024-13-01",
        ] {
            assert_eq!(
                parse_date(bad),
                Err(TimeError::Date(bad.to_owned())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn offsets_parse_like_zone_offset_of() {
        let secs = |s: &str| parse_offset(s).unwrap().seconds();
        assert_eq!(secs("Z"), 0);
        assert_eq!(secs("+9"), 9 * 3600);
        assert_eq!(secs("-09"), -9 * 3600);
        assert_eq!(secs("+05:30"), 5 * 3600 + 1800);
        assert_eq!(secs("+0530"), 5 * 3600 + 1800);
        assert_eq!(secs("-00:00:30"), -30);
        assert_eq!(secs("+18:00"), 18 * 3600);
        for bad in [
            "+18:01", "09:00", "+9:00", "+09:0", "+09:00:", "z", "+ab:cd",
        ] {
            assert!(parse_offset(bad).is_err(), "{bad:?}");
        }
    }

    // ---- formatting ----

    #[test]
    fn offset_ids_render_like_java() {
        let id = |s: i32| offset_id(Offset::from_seconds(s).unwrap());
        assert_eq!(id(0), "Z");
        assert_eq!(id(9 * 3600), "+09:00");
        assert_eq!(id(-4 * 3600), "-04:00");
        assert_eq!(id(5 * 3600 + 45 * 60), "+05:45");
        assert_eq!(id(30), "+00:00:30");
    }

    #[test]
    fn local_date_times_render_with_seconds_and_minimal_fraction() {
        let f = |n| format_local_date_time(date(2026, 2, 1).at(9, 0, 0, n));
        assert_eq!(f(0), "2026-02-01T09:00:00");
        assert_eq!(f(500_000_000), "2026-02-01T09:00:00.5");
        assert_eq!(f(123_456_000), "2026-02-01T09:00:00.123456");
        assert_eq!(f(1), "2026-02-01T09:00:00.000000001");
    }

    #[test]
    fn durations_render_like_java_duration_to_string() {
        let f = |s: i64, n: i32| format_duration(SignedDuration::new(s, n));
        assert_eq!(f(0, 0), "PT0S");
        assert_eq!(f(45 * 60, 0), "PT45M");
        assert_eq!(f(90 * 60, 0), "PT1H30M");
        assert_eq!(f(25 * 3600, 0), "PT25H");
        assert_eq!(f(3600 + 1, 0), "PT1H1S");
        assert_eq!(f(1, 500_000_000), "PT1.5S");
        assert_eq!(f(0, 1_000), "PT0.000001S");
        assert_eq!(f(-90, 0), "PT-1M-30S");
        assert_eq!(f(0, -500_000_000), "PT-0.5S");
        assert_eq!(f(-89, -500_000_000), "PT-1M-29.5S");
        assert_eq!(f(-3600, 0), "PT-1H");
    }

    #[test]
    fn truncation_to_micros_drops_nanos() {
        let at = ts("2026-02-01T00:00:00.123456789Z");
        assert_eq!(truncate_to_micros(at), ts("2026-02-01T00:00:00.123456Z"));
        let before_epoch = ts("1969-12-31T23:59:59.999999999Z");
        assert_eq!(
            truncate_to_micros(before_epoch),
            ts("1969-12-31T23:59:59.999999Z")
        );
    }
}
