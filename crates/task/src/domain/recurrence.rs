//! Repeating schedules: an RFC 5545 recurrence rule (`RRULE`), its extra dates (`RDATE`) and exceptions
//! (`EXDATE`), expanded in the schedule's zone.
//!
//! * [`Rule::parse`] reads an `RRULE` value (`FREQ=MONTHLY;BYDAY=-1FR`) and names the part that is wrong.
//!   Supported: `FREQ` (`DAILY`, `WEEKLY`, `MONTHLY`, `YEARLY`), `INTERVAL`, `COUNT`, `UNTIL`, `BYDAY` (with
//!   ordinals such as `2MO`, `-1FR` under `MONTHLY` and `YEARLY`), `BYMONTHDAY` (negative too), `BYMONTH`,
//!   `BYSETPOS` and `WKST` — what calendar applications write. A part Pinit cannot honour (`BYHOUR`,
//!   `BYWEEKNO`, `FREQ=HOURLY`, …) is refused by name rather than ignored.
//! * [`Series::occurrences`] yields the occurrences in order, lazily: an endless rule costs only what is read.
//!   Occurrences are wall-clock times in the zone (09:00 stays 09:00 across a DST change); a time that does not
//!   exist on a day (inside a DST gap) moves forward by the gap, as RFC 5545 (3.3.5) says. A date that does not
//!   exist (February 30, the 31st of a short month) is skipped, never moved. The start always counts as the first
//!   occurrence (RFC 5545, 3.8.5.3), also toward `COUNT`; `EXDATE` removes occurrences after `COUNT` has counted
//!   them; `RDATE` adds occurrences outside the rule.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;

use super::time::Zone;

/// How often a rule repeats (`FREQ`). Schedules repeat at most daily.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

/// One `BYDAY` entry: a weekday, optionally the n-th of its month or year (`2MO`, `-1FR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByDay {
    pub ordinal: Option<i8>,
    pub weekday: Weekday,
}

/// `UNTIL`, inclusive, in the form it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// `20261231`: through that date.
    Date(Date),
    /// `20261231T170000`: a wall-clock time in the series' zone.
    Local(DateTime),
    /// `20261231T170000Z`: an instant.
    Utc(Timestamp),
}

/// A parsed `RRULE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub frequency: Frequency,
    pub interval: u16,
    pub count: Option<u32>,
    pub until: Option<Until>,
    pub by_day: Vec<ByDay>,
    pub by_month_day: Vec<i8>,
    pub by_month: Vec<i8>,
    pub by_set_pos: Vec<i16>,
    pub week_start: Weekday,
}

/// Why an `RRULE` value is refused; each names the part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("rrule: `{part}` is not a rule part (expected NAME=VALUE, separated by `;`)")]
    Malformed { part: String },
    #[error("rrule: FREQ is required")]
    MissingFrequency,
    #[error("rrule: {name} is given twice")]
    Repeated { name: String },
    #[error("rrule: {name}={value} is not valid: {why}")]
    Invalid {
        name: &'static str,
        value: String,
        why: &'static str,
    },
    #[error(
        "rrule: {name} is not supported (supported: FREQ=DAILY|WEEKLY|MONTHLY|YEARLY, INTERVAL, COUNT, \
         UNTIL, BYDAY, BYMONTHDAY, BYMONTH, BYSETPOS, WKST)"
    )]
    Unsupported { name: String },
    #[error("rrule: {0}")]
    Conflict(&'static str),
}

const SUPPORTED_FREQ: &str = "DAILY, WEEKLY, MONTHLY or YEARLY (schedules repeat at most daily)";

impl Rule {
    /// Reads an `RRULE` value; a leading `RRULE:` is accepted. Names and values are case-insensitive.
    pub fn parse(text: &str) -> Result<Rule, RuleError> {
        let text = text.trim();
        let text = match text.get(..6) {
            Some(prefix) if prefix.eq_ignore_ascii_case("RRULE:") => &text[6..],
            _ => text,
        };
        let mut seen: Vec<String> = Vec::new();
        let mut frequency = None;
        let mut rule = Rule {
            frequency: Frequency::Daily,
            interval: 1,
            count: None,
            until: None,
            by_day: Vec::new(),
            by_month_day: Vec::new(),
            by_month: Vec::new(),
            by_set_pos: Vec::new(),
            week_start: Weekday::Monday,
        };
        for part in text.split(';').filter(|p| !p.trim().is_empty()) {
            let (name, value) = part.split_once('=').ok_or_else(|| RuleError::Malformed {
                part: part.to_string(),
            })?;
            let name = name.trim().to_ascii_uppercase();
            let value = value.trim().to_ascii_uppercase();
            if seen.contains(&name) {
                return Err(RuleError::Repeated { name });
            }
            seen.push(name.clone());
            match name.as_str() {
                "FREQ" => frequency = Some(parse_frequency(&value)?),
                "INTERVAL" => {
                    rule.interval = number(&value, "INTERVAL", 1, i64::from(u16::MAX))? as u16
                }
                "COUNT" => {
                    rule.count = Some(number(&value, "COUNT", 1, i64::from(u32::MAX))? as u32)
                }
                "UNTIL" => rule.until = Some(parse_until(&value)?),
                "BYDAY" => rule.by_day = list(&value, parse_by_day)?,
                "BYMONTHDAY" => {
                    rule.by_month_day =
                        list(&value, |v| signed(v, "BYMONTHDAY", 31).map(|n| n as i8))?
                }
                "BYMONTH" => {
                    rule.by_month = list(&value, |v| number(v, "BYMONTH", 1, 12).map(|n| n as i8))?
                }
                "BYSETPOS" => {
                    rule.by_set_pos =
                        list(&value, |v| signed(v, "BYSETPOS", 366).map(|n| n as i16))?
                }
                "WKST" => {
                    rule.week_start = weekday(&value).ok_or(RuleError::Invalid {
                        name: "WKST",
                        value: value.clone(),
                        why: "expected MO, TU, WE, TH, FR, SA or SU",
                    })?
                }
                _ => return Err(RuleError::Unsupported { name }),
            }
        }
        rule.frequency = frequency.ok_or(RuleError::MissingFrequency)?;
        rule.check()?;
        Ok(rule)
    }

    /// The combinations RFC 5545 forbids.
    fn check(&self) -> Result<(), RuleError> {
        if self.count.is_some() && self.until.is_some() {
            return Err(RuleError::Conflict("COUNT and UNTIL cannot both be given"));
        }
        let ordinals = self.by_day.iter().any(|d| d.ordinal.is_some());
        if ordinals && matches!(self.frequency, Frequency::Daily | Frequency::Weekly) {
            return Err(RuleError::Conflict(
                "BYDAY with a number (2MO, -1FR) needs FREQ=MONTHLY or FREQ=YEARLY",
            ));
        }
        if !self.by_month_day.is_empty() && self.frequency == Frequency::Weekly {
            return Err(RuleError::Conflict(
                "BYMONTHDAY cannot be used with FREQ=WEEKLY",
            ));
        }
        if !self.by_set_pos.is_empty()
            && self.by_day.is_empty()
            && self.by_month_day.is_empty()
            && self.by_month.is_empty()
        {
            return Err(RuleError::Conflict(
                "BYSETPOS needs another BY… part (BYDAY, BYMONTHDAY or BYMONTH) to choose from",
            ));
        }
        Ok(())
    }

    /// The dates of the period that starts on `first` (a day, the week's first day, the 1st of a month or of a
    /// year), sorted, with BYSETPOS applied. `start` supplies what the rule leaves open (weekday, day, month).
    fn period_dates(&self, first: Date, start: Date) -> Vec<Date> {
        let days: Vec<Date> = match self.frequency {
            Frequency::Daily => vec![first],
            Frequency::Weekly => days_from(first, 7),
            Frequency::Monthly => days_from(first, first.days_in_month().into()),
            Frequency::Yearly => days_from(first, first.days_in_year()),
        };
        let mut dates: Vec<Date> = days
            .into_iter()
            .filter(|d| self.admits(*d, start))
            .collect();
        if !self.by_set_pos.is_empty() {
            let n = dates.len() as i16;
            let mut chosen: Vec<Date> = self
                .by_set_pos
                .iter()
                .filter_map(|&pos| {
                    let index = if pos > 0 { pos - 1 } else { n + pos };
                    (0..n).contains(&index).then(|| dates[index as usize])
                })
                .collect();
            chosen.sort();
            chosen.dedup();
            dates = chosen;
        }
        dates
    }

    /// Whether `date` belongs to the rule within its period (BYMONTH, BYMONTHDAY and BYDAY all hold, each
    /// defaulting from the start as RFC 5545 says).
    fn admits(&self, date: Date, start: Date) -> bool {
        if !self.by_month.is_empty() && !self.by_month.contains(&date.month()) {
            return false;
        }
        if !self.by_month_day.is_empty() {
            let last = date.days_in_month();
            let hit = self.by_month_day.iter().any(|&md| {
                if md > 0 {
                    date.day() == md
                } else {
                    date.day() == last + md + 1
                }
            });
            if !hit {
                return false;
            }
        }
        if !self.by_day.is_empty() {
            return self.by_day.iter().any(|by| self.weekday_matches(*by, date));
        }
        // What the rule leaves open comes from the start.
        match self.frequency {
            Frequency::Daily => true,
            Frequency::Weekly => date.weekday() == start.weekday(),
            Frequency::Monthly => !self.by_month_day.is_empty() || date.day() == start.day(),
            Frequency::Yearly => {
                if !self.by_month_day.is_empty() {
                    true
                } else if !self.by_month.is_empty() {
                    date.day() == start.day()
                } else {
                    date.month() == start.month() && date.day() == start.day()
                }
            }
        }
    }

    /// A BYDAY entry against a date: the weekday, and the ordinal counted in the month (FREQ=MONTHLY, or
    /// YEARLY with BYMONTH) or the year (YEARLY).
    fn weekday_matches(&self, by: ByDay, date: Date) -> bool {
        if by.weekday != date.weekday() {
            return false;
        }
        let Some(ordinal) = by.ordinal else {
            return true;
        };
        let in_month = self.frequency == Frequency::Monthly || !self.by_month.is_empty();
        let (position, length) = if in_month {
            (i16::from(date.day()), i16::from(date.days_in_month()))
        } else {
            (date.day_of_year(), date.days_in_year())
        };
        let from_start = (position - 1) / 7 + 1;
        let from_end = -((length - position) / 7 + 1);
        i16::from(ordinal) == from_start || i16::from(ordinal) == from_end
    }

    /// The first day of the period holding `date`.
    fn period_of(&self, date: Date) -> Date {
        match self.frequency {
            Frequency::Daily => date,
            Frequency::Weekly => {
                let back = (date.weekday().to_monday_zero_offset() + 7
                    - self.week_start.to_monday_zero_offset())
                    % 7;
                date.checked_sub(jiff::Span::new().days(back))
                    .unwrap_or(date)
            }
            Frequency::Monthly => date.first_of_month(),
            Frequency::Yearly => date.first_of_year(),
        }
    }

    /// The period `interval` periods after the one starting on `first`; `None` past the calendar's end.
    fn next_period(&self, first: Date) -> Option<Date> {
        let n = i64::from(self.interval);
        let span = match self.frequency {
            Frequency::Daily => jiff::Span::new().days(n),
            Frequency::Weekly => jiff::Span::new().weeks(n),
            Frequency::Monthly => jiff::Span::new().months(n),
            Frequency::Yearly => jiff::Span::new().years(n),
        };
        first.checked_add(span).ok()
    }
}

/// A repeating schedule's occurrences: the rule from `start` (a wall-clock time in `zone`), plus `rdates`, minus
/// `exdates`.
#[derive(Debug, Clone)]
pub struct Series {
    pub start: DateTime,
    pub zone: Zone,
    pub rule: Rule,
    pub exdates: Vec<DateTime>,
    pub rdates: Vec<DateTime>,
}

/// One occurrence: its wall-clock time in the series' zone (what RECURRENCE-ID names) and the instant it
/// starts at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub local: DateTime,
    pub at: Timestamp,
}

impl Series {
    /// Every occurrence in order, lazily (an endless rule never ends; take what you need).
    pub fn occurrences(&self) -> impl Iterator<Item = Occurrence> + '_ {
        let mut extra: Vec<DateTime> = self.rdates.clone();
        extra.sort();
        extra.dedup();
        let mut extra = extra.into_iter().peekable();
        let mut ruled = RuleDates::new(self).peekable();
        let mut last: Option<DateTime> = None;
        std::iter::from_fn(move || {
            loop {
                let next = match (ruled.peek(), extra.peek()) {
                    (Some(r), Some(x)) if x < r => extra.next(),
                    (Some(_), _) => ruled.next(),
                    (None, Some(_)) => extra.next(),
                    (None, None) => return None,
                }?;
                if last == Some(next) || self.exdates.contains(&next) {
                    continue;
                }
                last = Some(next);
                return Some(self.occurrence(next));
            }
        })
    }

    /// The occurrences starting in `[from, to)`.
    pub fn between(&self, from: Timestamp, to: Timestamp) -> impl Iterator<Item = Occurrence> + '_ {
        self.occurrences()
            .skip_while(move |o| o.at < from)
            .take_while(move |o| o.at < to)
    }

    fn occurrence(&self, local: DateTime) -> Occurrence {
        // A wall time inside a DST gap moves forward by the gap; in a fold the first of the two is taken
        // (RFC 5545, 3.3.5; the same rule as every other local time, `Zone::resolve`).
        let at = self.zone.resolve(local).unwrap_or(Timestamp::MAX);
        Occurrence { local, at }
    }
}

/// The rule's own dates (with the start first), COUNT and UNTIL applied.
struct RuleDates<'a> {
    series: &'a Series,
    period: Option<Date>,
    pending: std::vec::IntoIter<DateTime>,
    counted: u32,
    start_given: bool,
    /// The last date the rule yielded: a rule that has yielded nothing for [`GIVE_UP_AFTER_YEARS`] never will
    /// (the Gregorian calendar repeats every 400 years), so the search ends there rather than at year 9999.
    last_hit: Date,
    done: bool,
}

/// See `RuleDates::last_hit`.
const GIVE_UP_AFTER_YEARS: i16 = 400;

impl<'a> RuleDates<'a> {
    fn new(series: &'a Series) -> Self {
        Self {
            series,
            period: Some(series.rule.period_of(series.start.date())),
            pending: Vec::new().into_iter(),
            counted: 0,
            start_given: false,
            last_hit: series.start.date(),
            done: false,
        }
    }

    fn past_until(&self, local: DateTime) -> bool {
        match self.series.rule.until {
            None => false,
            Some(Until::Date(date)) => local.date() > date,
            Some(Until::Local(until)) => local > until,
            Some(Until::Utc(until)) => self.series.occurrence(local).at > until,
        }
    }

    /// The next date the rule itself yields (before COUNT and UNTIL), the start first.
    fn next_candidate(&mut self) -> Option<DateTime> {
        let start = self.series.start;
        if !self.start_given {
            self.start_given = true;
            return Some(start);
        }
        loop {
            if let Some(next) = self.pending.next() {
                if next > start {
                    self.last_hit = next.date();
                    return Some(next);
                }
                continue;
            }
            let first = self.period?;
            if first.year() - self.last_hit.year() > GIVE_UP_AFTER_YEARS {
                self.period = None;
                return None;
            }
            self.period = self.series.rule.next_period(first);
            let time = start.time();
            let dates: Vec<DateTime> = self
                .series
                .rule
                .period_dates(first, start.date())
                .into_iter()
                .map(|d| d.to_datetime(time))
                .collect();
            self.pending = dates.into_iter();
        }
    }
}

impl Iterator for RuleDates<'_> {
    type Item = DateTime;

    fn next(&mut self) -> Option<DateTime> {
        if self.done {
            return None;
        }
        if let Some(count) = self.series.rule.count
            && self.counted >= count
        {
            self.done = true;
            return None;
        }
        let Some(next) = self.next_candidate() else {
            self.done = true;
            return None;
        };
        if self.past_until(next) {
            self.done = true;
            return None;
        }
        self.counted += 1;
        Some(next)
    }
}

/// `n` consecutive days from `first`.
fn days_from(first: Date, n: i16) -> Vec<Date> {
    first
        .series(jiff::Span::new().days(1))
        .take(n as usize)
        .collect()
}

fn parse_frequency(value: &str) -> Result<Frequency, RuleError> {
    match value {
        "DAILY" => Ok(Frequency::Daily),
        "WEEKLY" => Ok(Frequency::Weekly),
        "MONTHLY" => Ok(Frequency::Monthly),
        "YEARLY" => Ok(Frequency::Yearly),
        _ => Err(RuleError::Invalid {
            name: "FREQ",
            value: value.into(),
            why: SUPPORTED_FREQ,
        }),
    }
}

fn number(value: &str, name: &'static str, min: i64, max: i64) -> Result<i64, RuleError> {
    match value.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) && !value.starts_with('+') => Ok(n),
        _ => Err(RuleError::Invalid {
            name,
            value: value.into(),
            why: match name {
                "INTERVAL" => "expected a whole number from 1",
                "COUNT" => "expected a whole number from 1",
                "BYMONTH" => "expected months 1 to 12",
                _ => "out of range",
            },
        }),
    }
}

/// `±1..=max`, not 0 (BYMONTHDAY, BYSETPOS).
fn signed(value: &str, name: &'static str, max: i64) -> Result<i64, RuleError> {
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    match value.parse::<i64>() {
        Ok(n) if n != 0 && n.abs() <= max && digits.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(RuleError::Invalid {
            name,
            value: value.into(),
            why: match name {
                "BYMONTHDAY" => "expected days 1 to 31 or -31 to -1 (from the month's end)",
                _ => "expected positions 1 to 366 or -366 to -1 (from the end)",
            },
        }),
    }
}

fn list<T>(value: &str, one: impl Fn(&str) -> Result<T, RuleError>) -> Result<Vec<T>, RuleError> {
    value.split(',').map(str::trim).map(one).collect()
}

fn weekday(code: &str) -> Option<Weekday> {
    Some(match code {
        "MO" => Weekday::Monday,
        "TU" => Weekday::Tuesday,
        "WE" => Weekday::Wednesday,
        "TH" => Weekday::Thursday,
        "FR" => Weekday::Friday,
        "SA" => Weekday::Saturday,
        "SU" => Weekday::Sunday,
        _ => return None,
    })
}

fn parse_by_day(value: &str) -> Result<ByDay, RuleError> {
    let invalid = |why| RuleError::Invalid {
        name: "BYDAY",
        value: value.into(),
        why,
    };
    let split = value.len().saturating_sub(2);
    let (number, code) = value.split_at_checked(split).ok_or(invalid(
        "expected a weekday (MO … SU), optionally after a position such as 2 or -1",
    ))?;
    let weekday = weekday(code).ok_or(invalid(
        "expected a weekday (MO … SU), optionally after a position such as 2 or -1",
    ))?;
    let ordinal = if number.is_empty() {
        None
    } else {
        Some(
            signed(number, "BYDAY", 53)
                .map_err(|_| invalid("positions are 1 to 53 or -53 to -1"))? as i8,
        )
    };
    Ok(ByDay { ordinal, weekday })
}

fn parse_until(value: &str) -> Result<Until, RuleError> {
    let invalid = || RuleError::Invalid {
        name: "UNTIL",
        value: value.into(),
        why: "expected a date (20261231), a local date-time (20261231T170000) or UTC (20261231T170000Z)",
    };
    let digits = |s: &str, n: usize| -> Result<i64, RuleError> {
        if s.len() == n && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().map_err(|_| invalid())
        } else {
            Err(invalid())
        }
    };
    let (date_part, time_part) = match value.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (value, None),
    };
    if date_part.len() != 8 {
        return Err(invalid());
    }
    let date = Date::new(
        digits(&date_part[..4], 4)? as i16,
        digits(&date_part[4..6], 2)? as i8,
        digits(&date_part[6..8], 2)? as i8,
    )
    .map_err(|_| invalid())?;
    let Some(time_part) = time_part else {
        return Ok(Until::Date(date));
    };
    let (clock, utc) = match time_part.strip_suffix('Z') {
        Some(clock) => (clock, true),
        None => (time_part, false),
    };
    if clock.len() != 6 {
        return Err(invalid());
    }
    let time = jiff::civil::Time::new(
        digits(&clock[..2], 2)? as i8,
        digits(&clock[2..4], 2)? as i8,
        digits(&clock[4..6], 2)? as i8,
        0,
    )
    .map_err(|_| invalid())?;
    let local = date.to_datetime(time);
    if utc {
        TimeZone::UTC
            .to_timestamp(local)
            .map(Until::Utc)
            .map_err(|_| invalid())
    } else {
        Ok(Until::Local(local))
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn series(rule: &str, start: DateTime, zone: &str) -> Series {
        Series {
            start,
            zone: Zone::parse(zone).unwrap(),
            rule: Rule::parse(rule).unwrap(),
            exdates: Vec::new(),
            rdates: Vec::new(),
        }
    }

    fn locals(series: &Series, n: usize) -> Vec<String> {
        series
            .occurrences()
            .take(n)
            .map(|o| o.local.to_string())
            .collect()
    }

    #[test]
    fn wall_time_holds_across_both_dst_changes_in_new_york() {
        let s = series(
            "FREQ=DAILY",
            date(2026, 3, 7).at(9, 0, 0, 0),
            "America/New_York",
        );
        let got: Vec<String> = s.occurrences().take(3).map(|o| o.at.to_string()).collect();
        // 09:00 EST is 14:00Z; from 8 March, 09:00 EDT is 13:00Z.
        assert_eq!(
            got,
            [
                "2026-03-07T14:00:00Z",
                "2026-03-08T13:00:00Z",
                "2026-03-09T13:00:00Z"
            ]
        );
        let s = series(
            "FREQ=WEEKLY",
            date(2026, 10, 25).at(9, 0, 0, 0),
            "America/New_York",
        );
        let got: Vec<String> = s.occurrences().take(2).map(|o| o.at.to_string()).collect();
        assert_eq!(got, ["2026-10-25T13:00:00Z", "2026-11-01T14:00:00Z"]);
    }

    #[test]
    fn a_time_inside_a_dst_gap_moves_forward_by_the_gap() {
        // 02:30 does not exist in New York on 8 March 2026: it is 03:30 EDT (07:30Z), RFC 5545 3.3.5.
        let s = series(
            "FREQ=DAILY;COUNT=3",
            date(2026, 3, 7).at(2, 30, 0, 0),
            "America/New_York",
        );
        let got: Vec<String> = s.occurrences().map(|o| o.at.to_string()).collect();
        assert_eq!(
            got,
            [
                "2026-03-07T07:30:00Z",
                "2026-03-08T07:30:00Z",
                "2026-03-09T06:30:00Z"
            ]
        );
        assert_eq!(
            s.occurrences().nth(1).unwrap().local.to_string(),
            "2026-03-08T02:30:00",
            "the occurrence keeps its rule time as its name"
        );
    }

    #[test]
    fn invalid_dates_are_skipped_not_moved() {
        let s = series("FREQ=MONTHLY", date(2026, 1, 31).at(8, 0, 0, 0), "UTC");
        assert_eq!(
            locals(&s, 4),
            [
                "2026-01-31T08:00:00",
                "2026-03-31T08:00:00",
                "2026-05-31T08:00:00",
                "2026-07-31T08:00:00"
            ]
        );
        let s = series(
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
            date(2026, 1, 30).at(8, 0, 0, 0),
            "UTC",
        );
        assert_eq!(
            locals(&s, 5),
            ["2026-01-30T08:00:00"],
            "only the start: February never has a 30th"
        );
        let s = series("FREQ=YEARLY", date(2028, 2, 29).at(8, 0, 0, 0), "UTC");
        assert_eq!(
            locals(&s, 2),
            ["2028-02-29T08:00:00", "2032-02-29T08:00:00"]
        );
    }

    #[test]
    fn what_calendars_write() {
        let weekdays = series(
            "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
            date(2026, 12, 4).at(9, 0, 0, 0),
            "Europe/Berlin",
        );
        assert_eq!(
            locals(&weekdays, 3),
            [
                "2026-12-04T09:00:00",
                "2026-12-07T09:00:00",
                "2026-12-08T09:00:00"
            ]
        );
        let every_second_friday = series(
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR",
            date(2026, 12, 4).at(15, 0, 0, 0),
            "Europe/Berlin",
        );
        assert_eq!(
            locals(&every_second_friday, 3),
            [
                "2026-12-04T15:00:00",
                "2026-12-18T15:00:00",
                "2027-01-01T15:00:00"
            ]
        );
        let last_working_day = series(
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
            date(2026, 12, 31).at(16, 0, 0, 0),
            "Europe/Berlin",
        );
        assert_eq!(
            locals(&last_working_day, 3),
            [
                "2026-12-31T16:00:00",
                "2027-01-29T16:00:00",
                "2027-02-26T16:00:00"
            ]
        );
        let second_monday = series(
            "FREQ=MONTHLY;BYDAY=2MO",
            date(2027, 1, 11).at(10, 0, 0, 0),
            "Asia/Seoul",
        );
        assert_eq!(
            locals(&second_monday, 3),
            [
                "2027-01-11T10:00:00",
                "2027-02-08T10:00:00",
                "2027-03-08T10:00:00"
            ]
        );
        let last_friday_of_march = series(
            "FREQ=YEARLY;BYMONTH=3;BYDAY=-1FR",
            date(2027, 3, 26).at(10, 0, 0, 0),
            "UTC",
        );
        assert_eq!(
            locals(&last_friday_of_march, 2),
            ["2027-03-26T10:00:00", "2028-03-31T10:00:00"]
        );
        let day_before_month_end = series(
            "FREQ=MONTHLY;BYMONTHDAY=-2",
            date(2027, 1, 30).at(10, 0, 0, 0),
            "UTC",
        );
        assert_eq!(
            locals(&day_before_month_end, 2),
            ["2027-01-30T10:00:00", "2027-02-27T10:00:00"]
        );
    }

    #[test]
    fn byday_entries_are_a_union_plain_and_numbered_alike() {
        // Every Monday, and the month's last Friday (dateutil would want both at once; RFC 5545 takes either).
        let s = series(
            "FREQ=MONTHLY;BYDAY=MO,-1FR",
            date(2027, 1, 4).at(9, 0, 0, 0),
            "UTC",
        );
        assert_eq!(
            locals(&s, 6),
            [
                "2027-01-04T09:00:00",
                "2027-01-11T09:00:00",
                "2027-01-18T09:00:00",
                "2027-01-25T09:00:00",
                "2027-01-29T09:00:00",
                "2027-02-01T09:00:00"
            ]
        );
    }

    #[test]
    fn the_start_counts_first_and_exdates_remove_after_counting() {
        // The start is a Wednesday, not a Monday: it is still the first occurrence, and COUNT includes it.
        let mut s = series(
            "FREQ=WEEKLY;BYDAY=MO;COUNT=3",
            date(2026, 12, 2).at(9, 0, 0, 0),
            "UTC",
        );
        assert_eq!(
            locals(&s, 10),
            [
                "2026-12-02T09:00:00",
                "2026-12-07T09:00:00",
                "2026-12-14T09:00:00"
            ]
        );
        s.exdates = vec![date(2026, 12, 7).at(9, 0, 0, 0)];
        s.rdates = vec![
            date(2026, 12, 9).at(9, 0, 0, 0),
            date(2026, 12, 14).at(9, 0, 0, 0),
        ];
        assert_eq!(
            locals(&s, 10),
            [
                "2026-12-02T09:00:00",
                "2026-12-09T09:00:00",
                "2026-12-14T09:00:00"
            ],
            "an EXDATE does not make COUNT reach further; an RDATE equal to an occurrence is one occurrence"
        );
    }

    #[test]
    fn until_is_inclusive_in_each_of_its_forms() {
        for until in ["20261205", "20261205T090000", "20261205T080000Z"] {
            let s = series(
                &format!("FREQ=DAILY;UNTIL={until}"),
                date(2026, 12, 3).at(9, 0, 0, 0),
                "Europe/Berlin",
            );
            assert_eq!(
                locals(&s, 10),
                [
                    "2026-12-03T09:00:00",
                    "2026-12-04T09:00:00",
                    "2026-12-05T09:00:00"
                ],
                "UNTIL={until}"
            );
        }
    }

    #[test]
    fn an_endless_rule_is_read_lazily_through_a_window() {
        let s = series("FREQ=DAILY", date(2026, 1, 1).at(9, 0, 0, 0), "UTC");
        let from: Timestamp = "2036-01-01T00:00:00Z".parse().unwrap();
        let to: Timestamp = "2036-01-15T00:00:00Z".parse().unwrap();
        let window: Vec<Occurrence> = s.between(from, to).collect();
        assert_eq!(window.len(), 14);
        assert_eq!(window[0].local.to_string(), "2036-01-01T09:00:00");
    }

    #[test]
    fn a_wrong_part_is_named() {
        let cases = [
            ("BYDAY=MO", "FREQ is required"),
            ("FREQ=HOURLY", "FREQ=HOURLY is not valid"),
            ("FREQ=WEEKLY;BYHOUR=9", "BYHOUR is not supported"),
            ("FREQ=WEEKLY;BYDAY=XX", "BYDAY=XX is not valid"),
            ("FREQ=WEEKLY;BYDAY=2MO", "BYDAY with a number"),
            ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY=0 is not valid"),
            ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY=32 is not valid"),
            ("FREQ=YEARLY;BYMONTH=13", "BYMONTH=13 is not valid"),
            ("FREQ=DAILY;INTERVAL=0", "INTERVAL=0 is not valid"),
            ("FREQ=DAILY;COUNT=2;UNTIL=20270101", "COUNT and UNTIL"),
            (
                "FREQ=DAILY;UNTIL=2027-01-01",
                "UNTIL=2027-01-01 is not valid",
            ),
            ("FREQ=DAILY;BYSETPOS=1", "BYSETPOS needs"),
            ("FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY cannot"),
            ("FREQ=DAILY;FREQ=WEEKLY", "FREQ is given twice"),
            ("FREQ=DAILY;COUNT", "`COUNT` is not a rule part"),
            ("FREQ=DAILY;WKST=XY", "WKST=XY is not valid"),
        ];
        for (rule, needle) in cases {
            let error = Rule::parse(rule).unwrap_err().to_string();
            assert!(error.contains(needle), "{rule}: {error}");
        }
        assert!(
            Rule::parse("rrule:freq=weekly;byday=mo,-1fr").is_err(),
            "ordinals need MONTHLY"
        );
        assert_eq!(
            Rule::parse("RRULE:freq=monthly;byday=mo,-1fr")
                .unwrap()
                .by_day
                .len(),
            2,
            "names and values in any case, with the RRULE: prefix"
        );
    }
}
