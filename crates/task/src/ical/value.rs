//! Values of date and time properties (RFC 5545, 3.3.4, 3.3.5, 3.3.6): DATE, DATE-TIME in UTC, with a `TZID`,
//! or floating; and DURATION.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::content::Property;

/// Why a date, time or duration value could not be read; each names the property.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("{property}: `{value}` is not a DATE (YYYYMMDD) or DATE-TIME (YYYYMMDDTHHMMSS[Z])")]
    DateTime { property: String, value: String },
    #[error("{property}: `{value}` is not a DURATION (such as PT1H30M or -P1D)")]
    Duration { property: String, value: String },
    #[error("{property}: the time zone `{tzid}` is not known")]
    UnknownZone { property: String, tzid: String },
    #[error("{property}: the time is out of range")]
    OutOfRange { property: String },
}

/// A DATE or DATE-TIME value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateOrTime {
    /// `VALUE=DATE:20261207` (an all-day value).
    Date(Date),
    /// `20261207T090000Z`.
    Utc(Timestamp),
    /// `TZID=Europe/Berlin:20261207T090000`: a wall-clock time in the named zone.
    Zoned { tzid: String, local: DateTime },
    /// `20261207T090000`: a wall-clock time wherever the reader is.
    Floating(DateTime),
}

/// `YYYYMMDD`.
pub fn format_date(date: Date) -> String {
    date.strftime("%Y%m%d").to_string()
}

/// `YYYYMMDDTHHMMSS` (whole seconds).
pub fn format_local(local: DateTime) -> String {
    local.strftime("%Y%m%dT%H%M%S").to_string()
}

/// `YYYYMMDDTHHMMSSZ` (whole seconds).
pub fn format_utc(at: Timestamp) -> String {
    format_local(TimeZone::UTC.to_datetime(at))
        .chars()
        .chain(std::iter::once('Z'))
        .collect()
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_date(s: &str) -> Option<Date> {
    if s.len() != 8 {
        return None;
    }
    let year = i16::try_from(digits(s.get(0..4)?)?).ok()?;
    let month = i8::try_from(digits(s.get(4..6)?)?).ok()?;
    let day = i8::try_from(digits(s.get(6..8)?)?).ok()?;
    Date::new(year, month, day).ok()
}

fn parse_local(s: &str) -> Option<DateTime> {
    let (date, time) = s.split_once(['T', 't'])?;
    let date = parse_date(date)?;
    if time.len() != 6 {
        return None;
    }
    let hour = i8::try_from(digits(time.get(0..2)?)?).ok()?;
    let minute = i8::try_from(digits(time.get(2..4)?)?).ok()?;
    // A leap second (60) is read as 59 (RFC 5545 allows 60; jiff does not).
    let second = i8::try_from(digits(time.get(4..6)?)?).ok()?.min(59);
    let time = jiff::civil::Time::new(hour, minute, second, 0).ok()?;
    Some(date.to_datetime(time))
}

impl DateOrTime {
    /// Reads one value (`TZID` and `VALUE` from the property's parameters, `text` one of its comma-separated
    /// values).
    fn read(property: &Property, text: &str) -> Result<Self, ValueError> {
        let bad = || ValueError::DateTime {
            property: property.name.clone(),
            value: text.to_owned(),
        };
        let text = text.trim();
        let is_date = property
            .param("VALUE")
            .is_some_and(|v| v.eq_ignore_ascii_case("DATE"))
            || (text.len() == 8 && !text.contains(['T', 't']));
        if is_date {
            return parse_date(text).map(Self::Date).ok_or_else(bad);
        }
        if let Some(utc) = text.strip_suffix(['Z', 'z']) {
            let local = parse_local(utc).ok_or_else(bad)?;
            let at = TimeZone::UTC.to_timestamp(local).map_err(|_| bad())?;
            return Ok(Self::Utc(at));
        }
        let local = parse_local(text).ok_or_else(bad)?;
        Ok(match property.param("TZID") {
            Some(tzid) => Self::Zoned {
                tzid: tzid.to_owned(),
                local,
            },
            None => Self::Floating(local),
        })
    }

    /// The value of a single-valued property (`DTSTART`, `DTEND`, `RECURRENCE-ID`, `DUE`).
    pub fn from_property(property: &Property) -> Result<Self, ValueError> {
        Self::read(property, &property.value)
    }

    /// Every value of a list property (`EXDATE`, `RDATE`: comma-separated, the parameters shared).
    pub fn list_from_property(property: &Property) -> Result<Vec<Self>, ValueError> {
        property
            .value
            .split(',')
            .filter(|v| !v.trim().is_empty())
            .map(|v| Self::read(property, v))
            .collect()
    }

    /// The property `name` holding this value, with `TZID` or `VALUE=DATE` as it needs.
    pub fn property(&self, name: &str) -> Property {
        match self {
            Self::Date(date) => Property::raw(name, format_date(*date)).with_param("VALUE", "DATE"),
            Self::Utc(at) => Property::raw(name, format_utc(*at)),
            Self::Zoned { tzid, local } => {
                Property::raw(name, format_local(*local)).with_param("TZID", tzid)
            }
            Self::Floating(local) => Property::raw(name, format_local(*local)),
        }
    }

    /// A list property (`EXDATE`, `RDATE`) of values already written ([`format_local`] with `tzid`,
    /// [`format_utc`] without).
    pub fn list_property(name: &str, tzid: Option<&str>, values: &[String]) -> Property {
        let property = Property::raw(name, values.join(","));
        match tzid {
            Some(tzid) => property.with_param("TZID", tzid),
            None => property,
        }
    }

    /// The instant: a `TZID` is looked up in the tz database (IANA names; a VTIMEZONE of another name is not
    /// read), a floating time and a date (its start) are read in `floating`.
    pub fn instant(&self, property: &str, floating: &TimeZone) -> Result<Timestamp, ValueError> {
        let out_of_range = || ValueError::OutOfRange {
            property: property.to_owned(),
        };
        match self {
            Self::Utc(at) => Ok(*at),
            Self::Floating(local) => floating.to_timestamp(*local).map_err(|_| out_of_range()),
            Self::Date(date) => floating
                .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
                .map_err(|_| out_of_range()),
            Self::Zoned { tzid, local } => {
                let tz = TimeZone::get(tzid).map_err(|_| ValueError::UnknownZone {
                    property: property.to_owned(),
                    tzid: tzid.clone(),
                })?;
                tz.to_timestamp(*local).map_err(|_| out_of_range())
            }
        }
    }
}

/// A DURATION value (`PT1H30M`, `-P1D`, `P2W`) in whole seconds.
pub fn format_duration(d: SignedDuration) -> String {
    let total = d.as_secs();
    let sign = if total < 0 { "-" } else { "" };
    let mut rest = total.unsigned_abs();
    let days = rest / 86_400;
    rest %= 86_400;
    let (hours, minutes, seconds) = (rest / 3600, rest % 3600 / 60, rest % 60);
    let mut out = format!("{sign}P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if hours > 0 || minutes > 0 || seconds > 0 || days == 0 {
        out.push('T');
        if hours > 0 {
            out.push_str(&format!("{hours}H"));
        }
        if minutes > 0 {
            out.push_str(&format!("{minutes}M"));
        }
        if seconds > 0 || (hours == 0 && minutes == 0) {
            out.push_str(&format!("{seconds}S"));
        }
    }
    out
}

/// Reads a DURATION value (`property` names it in the error).
pub fn parse_duration(property: &str, value: &str) -> Result<SignedDuration, ValueError> {
    let bad = || ValueError::Duration {
        property: property.to_owned(),
        value: value.to_owned(),
    };
    let text = value.trim();
    let (negative, text) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let text = text.strip_prefix(['P', 'p']).ok_or_else(bad)?;
    let mut seconds: i64 = 0;
    let mut number = String::new();
    let mut in_time = false;
    let mut any = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit: i64 = match (c.to_ascii_uppercase(), in_time) {
            ('T', false) if number.is_empty() => {
                in_time = true;
                continue;
            }
            ('W', false) => 604_800,
            ('D', false) => 86_400,
            ('H', true) => 3600,
            ('M', true) => 60,
            ('S', true) => 1,
            _ => return Err(bad()),
        };
        let n: i64 = number.parse().map_err(|_| bad())?;
        number.clear();
        any = true;
        seconds = n
            .checked_mul(unit)
            .and_then(|s| seconds.checked_add(s))
            .ok_or_else(bad)?;
    }
    if !number.is_empty() || !any {
        return Err(bad());
    }
    Ok(SignedDuration::from_secs(if negative {
        -seconds
    } else {
        seconds
    }))
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn reads_the_four_kinds() {
        let p = Property::parse("DTSTART;TZID=Europe/Berlin:20261207T090000", 1).unwrap();
        let v = DateOrTime::from_property(&p).unwrap();
        assert_eq!(
            v,
            DateOrTime::Zoned {
                tzid: "Europe/Berlin".into(),
                local: date(2026, 12, 7).at(9, 0, 0, 0)
            }
        );
        assert_eq!(
            v.instant("DTSTART", &TimeZone::UTC).unwrap().to_string(),
            "2026-12-07T08:00:00Z"
        );
        let p = Property::parse("DTSTART;VALUE=DATE:20261207", 1).unwrap();
        assert_eq!(
            DateOrTime::from_property(&p).unwrap(),
            DateOrTime::Date(date(2026, 12, 7))
        );
        let p = Property::parse("DTSTART:20261207T090000Z", 1).unwrap();
        assert_eq!(
            DateOrTime::from_property(&p).unwrap(),
            DateOrTime::Utc("2026-12-07T09:00:00Z".parse().unwrap())
        );
        let p = Property::parse("DTSTART:20261207T090000", 1).unwrap();
        assert_eq!(
            DateOrTime::from_property(&p).unwrap(),
            DateOrTime::Floating(date(2026, 12, 7).at(9, 0, 0, 0))
        );
        let p =
            Property::parse("EXDATE;TZID=Asia/Seoul:20261207T090000,20261208T090000", 1).unwrap();
        assert_eq!(DateOrTime::list_from_property(&p).unwrap().len(), 2);
    }

    #[test]
    fn refuses_by_name() {
        let p = Property::parse("DTSTART:2026-12-07", 4).unwrap();
        let e = DateOrTime::from_property(&p).unwrap_err();
        assert_eq!(
            e.to_string(),
            "DTSTART: `2026-12-07` is not a DATE (YYYYMMDD) or DATE-TIME (YYYYMMDDTHHMMSS[Z])"
        );
        let p = Property::parse("DTSTART;TZID=Mars/Olympus:20261207T090000", 1).unwrap();
        let v = DateOrTime::from_property(&p).unwrap();
        assert!(matches!(
            v.instant("DTSTART", &TimeZone::UTC),
            Err(ValueError::UnknownZone { .. })
        ));
        assert!(parse_duration("TRIGGER", "PT").is_err());
        assert!(parse_duration("TRIGGER", "P1H").is_err());
        assert!(parse_duration("TRIGGER", "PT1D").is_err());
    }

    #[test]
    fn writes_values_with_their_parameters() {
        let v = DateOrTime::Zoned {
            tzid: "America/New_York".into(),
            local: date(2026, 3, 8).at(2, 30, 0, 0),
        };
        assert_eq!(
            v.property("DTSTART").line(),
            "DTSTART;TZID=America/New_York:20260308T023000"
        );
        assert_eq!(
            DateOrTime::Date(date(2026, 1, 2))
                .property("DTSTART")
                .line(),
            "DTSTART;VALUE=DATE:20260102"
        );
        assert_eq!(format_duration(SignedDuration::from_secs(5400)), "PT1H30M");
        assert_eq!(format_duration(SignedDuration::from_secs(-86_400)), "-P1D");
        assert_eq!(format_duration(SignedDuration::ZERO), "PT0S");
        assert_eq!(
            format_duration(SignedDuration::from_secs(90_061)),
            "P1DT1H1M1S"
        );
        assert_eq!(parse_duration("X", "P2W").unwrap().as_secs(), 1_209_600);
        assert_eq!(parse_duration("X", "-PT15M").unwrap().as_secs(), -900);
    }

    proptest! {
        #[test]
        fn durations_round_trip(secs in -10_000_000i64..10_000_000) {
            let d = SignedDuration::from_secs(secs);
            prop_assert_eq!(parse_duration("X", &format_duration(d)).unwrap(), d);
        }

        #[test]
        fn utc_times_round_trip(secs in 0i64..4_000_000_000) {
            let at = Timestamp::from_second(secs).unwrap();
            let p = DateOrTime::Utc(at).property("DTSTART");
            prop_assert_eq!(DateOrTime::from_property(&p).unwrap(), DateOrTime::Utc(at));
        }
    }
}
