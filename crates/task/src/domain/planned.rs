//! A schedule's planned length (`plannedDuration`, Pinit's addition): how long the member means to spend on it —
//! the height of its block on the timeline, the end of its calendar event, the "planned" of planned vs worked.
//! An ISO 8601 duration of whole minutes, from one minute to a day. A schedule without one is shown an hour long
//! ([`PlannedDuration::SHOWN_WHEN_UNSET`]). The reference has no such field and its client ignores it.

use jiff::fmt::temporal::SpanParser;
use jiff::{SignedDuration, SpanRelativeTo};
use thiserror::Error;

static ISO_8601: SpanParser = SpanParser::new();

/// A planned length: whole minutes in `[MIN, MAX]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PlannedDuration(SignedDuration);

/// Why a `plannedDuration` is refused (400, field `plannedDuration`); each echoes the value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlannedDurationError {
    #[error("plannedDuration: {0:?} is not an ISO 8601 duration such as \"PT1H30M\"")]
    NotADuration(String),
    #[error(
        "plannedDuration: {0:?} counts months or years, which have no fixed length; use hours and minutes"
    )]
    NotFixed(String),
    #[error("plannedDuration: {0:?} is not a whole number of minutes")]
    NotWholeMinutes(String),
    #[error("plannedDuration: {0:?} is not between 1 minute (\"PT1M\") and 24 hours (\"PT24H\")")]
    OutOfRange(String),
}

impl PlannedDurationError {
    pub const fn class(&self) -> super::ErrorClass {
        super::ErrorClass::BadRequest
    }

    /// The value the request gave.
    pub fn input(&self) -> &str {
        match self {
            Self::NotADuration(s)
            | Self::NotFixed(s)
            | Self::NotWholeMinutes(s)
            | Self::OutOfRange(s) => s,
        }
    }
}

impl PlannedDuration {
    pub const MIN: SignedDuration = SignedDuration::from_mins(1);
    pub const MAX: SignedDuration = SignedDuration::from_hours(24);
    /// How long a schedule without a planned length is shown (timeline, calendar events).
    pub const SHOWN_WHEN_UNSET: SignedDuration = SignedDuration::from_hours(1);

    /// Reads a request's value (`P1D` counts as 24 hours).
    pub fn parse(input: &str) -> Result<Self, PlannedDurationError> {
        let owned = || input.to_owned();
        let span = ISO_8601
            .parse_span(input)
            .map_err(|_| PlannedDurationError::NotADuration(owned()))?;
        let length = span
            .to_duration(SpanRelativeTo::days_are_24_hours())
            .map_err(|_| PlannedDurationError::NotFixed(owned()))?;
        if length.subsec_nanos() != 0 || length.as_secs() % 60 != 0 {
            return Err(PlannedDurationError::NotWholeMinutes(owned()));
        }
        if length < Self::MIN || length > Self::MAX {
            return Err(PlannedDurationError::OutOfRange(owned()));
        }
        Ok(Self(length))
    }

    /// From stored minutes (`None` when out of range: a corrupt record).
    pub fn from_minutes(minutes: i64) -> Option<Self> {
        let length = SignedDuration::from_mins(minutes);
        (Self::MIN..=Self::MAX)
            .contains(&length)
            .then_some(Self(length))
    }

    pub fn minutes(self) -> i64 {
        self.0.as_mins()
    }

    pub fn duration(self) -> SignedDuration {
        self.0
    }

    /// ISO 8601, hours and minutes (`PT1H30M`, `PT45M`, `PT24H`).
    pub fn to_iso(self) -> String {
        let (hours, minutes) = (self.minutes() / 60, self.minutes() % 60);
        match (hours, minutes) {
            (0, m) => format!("PT{m}M"),
            (h, 0) => format!("PT{h}H"),
            (h, m) => format!("PT{h}H{m}M"),
        }
    }

    /// The length a schedule is shown with: its planned one, else [`Self::SHOWN_WHEN_UNSET`].
    pub fn shown(planned: Option<Self>) -> SignedDuration {
        planned.map_or(Self::SHOWN_WHEN_UNSET, Self::duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_minutes_from_one_minute_to_a_day() {
        for (input, minutes, iso) in [
            ("PT1M", 1, "PT1M"),
            ("PT90M", 90, "PT1H30M"),
            ("PT1H30M", 90, "PT1H30M"),
            ("pt2h", 120, "PT2H"),
            ("PT3600S", 60, "PT1H"),
            ("P1D", 1440, "PT24H"),
            ("PT24H", 1440, "PT24H"),
        ] {
            let p = PlannedDuration::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(
                (p.minutes(), p.to_iso().as_str()),
                (minutes, iso),
                "{input}"
            );
            assert_eq!(PlannedDuration::parse(&p.to_iso()), Ok(p), "round trip");
            assert_eq!(PlannedDuration::from_minutes(minutes), Some(p));
        }
    }

    #[test]
    fn what_is_refused_says_why() {
        use PlannedDurationError::*;
        for (input, want) in [
            ("90", NotADuration("90".into())),
            ("1h30m", NotADuration("1h30m".into())),
            ("", NotADuration(String::new())),
            ("P1M", NotFixed("P1M".into())),
            ("PT90S", NotWholeMinutes("PT90S".into())),
            ("PT0.5M", NotWholeMinutes("PT0.5M".into())),
            ("PT0S", OutOfRange("PT0S".into())),
            ("-PT30M", OutOfRange("-PT30M".into())),
            ("PT24H1M", OutOfRange("PT24H1M".into())),
            ("P2D", OutOfRange("P2D".into())),
        ] {
            assert_eq!(PlannedDuration::parse(input), Err(want.clone()), "{input}");
            assert!(want.to_string().starts_with("plannedDuration: "));
        }
        assert_eq!(PlannedDuration::from_minutes(0), None);
        assert_eq!(PlannedDuration::from_minutes(1441), None);
    }

    #[test]
    fn an_unset_length_is_shown_as_an_hour() {
        assert_eq!(PlannedDuration::shown(None), SignedDuration::from_hours(1));
        let p = PlannedDuration::parse("PT25M").unwrap();
        assert_eq!(
            PlannedDuration::shown(Some(p)),
            SignedDuration::from_mins(25)
        );
    }
}
