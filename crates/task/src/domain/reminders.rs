//! Reminders: when, relative to a schedule's start, its member is told about it (docs/adr/0015-reminders.md).
//!
//! A list of at most [`Reminders::MAX`] offsets, each an ISO 8601 duration ≤ 0 — VALARM's
//! `TRIGGER;RELATED=START`: `-PT10M` is ten minutes before, `PT0S` the push at the start. An offset is a whole
//! number of seconds and no earlier than [`Reminders::EARLIEST`] (`-P7D`); two spellings of one offset
//! (`-PT60M`, `-PT1H`) are one offset, and a list naming it twice is refused. A list is kept earliest first
//! and rendered by jiff (`-PT10M`, `-PT1H30M`, `-PT24H` for a day, `PT0S`).
//!
//! A schedule may have a list of its own; one without follows its series' list, else the member's default
//! ([`Inherited`]: the one place that rule is written).

use jiff::fmt::temporal::SpanParser;
use jiff::{SignedDuration, SpanRelativeTo};
use thiserror::Error;

/// ISO 8601 durations only (jiff's `FromStr` also takes its "friendly" format, `10m`).
static ISO_8601: SpanParser = SpanParser::new();

/// A validated list of reminder offsets, earliest first, no two equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Reminders(Vec<SignedDuration>);

/// Why a list of reminders is refused (400). Each names the entry (`reminders[1]`) and echoes it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReminderError {
    #[error("reminders: at most {max} offsets, got {count}", max = Reminders::MAX)]
    TooMany { count: usize },
    #[error(
        "reminders[{index}]: {input:?} is not an ISO 8601 duration; reminders are offsets <= 0 such as \"-PT10M\""
    )]
    NotADuration { index: usize, input: String },
    #[error(
        "reminders[{index}]: {input:?} counts months or years, which have no fixed length; use weeks, days, hours, minutes or seconds"
    )]
    NotFixed { index: usize, input: String },
    #[error("reminders[{index}]: {input:?} is not a whole number of seconds")]
    Fractional { index: usize, input: String },
    #[error(
        "reminders[{index}]: {input:?} is after the start; reminders are offsets <= 0 such as \"-PT10M\""
    )]
    AfterStart { index: usize, input: String },
    #[error("reminders[{index}]: {input:?} is earlier than 7 days before the start (\"-P7D\")")]
    TooEarly { index: usize, input: String },
    #[error("reminders[{index}]: {input:?} is the same offset as reminders[{first}]")]
    Duplicate {
        index: usize,
        first: usize,
        input: String,
    },
}

impl ReminderError {
    pub const fn class(&self) -> super::ErrorClass {
        super::ErrorClass::BadRequest
    }

    /// The request field: the entry (`reminders[2]`), or the list when it is too long.
    pub fn field(&self) -> String {
        match self {
            Self::TooMany { .. } => "reminders".to_owned(),
            Self::NotADuration { index, .. }
            | Self::NotFixed { index, .. }
            | Self::Fractional { index, .. }
            | Self::AfterStart { index, .. }
            | Self::TooEarly { index, .. }
            | Self::Duplicate { index, .. } => format!("reminders[{index}]"),
        }
    }

    /// The value refused (the entry as given; the count for a list too long).
    pub fn rejected(&self) -> serde_json::Value {
        match self {
            Self::TooMany { count } => (*count).into(),
            Self::NotADuration { input, .. }
            | Self::NotFixed { input, .. }
            | Self::Fractional { input, .. }
            | Self::AfterStart { input, .. }
            | Self::TooEarly { input, .. }
            | Self::Duplicate { input, .. } => input.as_str().into(),
        }
    }
}

impl Reminders {
    /// At most this many offsets.
    pub const MAX: usize = 5;

    /// The earliest offset: seven days before the start.
    pub const EARLIEST: SignedDuration = SignedDuration::from_hours(-7 * 24);

    /// `["PT0S"]`: one push at the start — what every schedule got before reminders, and a member's default.
    pub fn at_start() -> Self {
        Self(vec![SignedDuration::ZERO])
    }

    /// `[]`: no reminder at all.
    pub fn none() -> Self {
        Self(Vec::new())
    }

    /// A list from a request: ISO 8601 durations (`-PT10M`, `-P1D`, `PT0S`), checked in order; the first
    /// entry that breaks a rule is named.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Self, ReminderError> {
        if items.len() > Self::MAX {
            return Err(ReminderError::TooMany { count: items.len() });
        }
        let mut offsets: Vec<SignedDuration> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let input = item.as_ref();
            let offset = parse_offset(index, input)?;
            if let Some(first) = offsets.iter().position(|o| *o == offset) {
                return Err(ReminderError::Duplicate {
                    index,
                    first,
                    input: input.to_owned(),
                });
            }
            offsets.push(offset);
        }
        offsets.sort();
        Ok(Self(offsets))
    }

    /// The offsets, earliest first.
    pub fn offsets(&self) -> &[SignedDuration] {
        &self.0
    }

    /// The canonical ISO 8601 strings, earliest first (`["-PT1H", "-PT10M", "PT0S"]`).
    pub fn to_iso(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }

    /// How a list is stored: its offsets in whole seconds, comma-separated, earliest first (`-600,0`; an empty
    /// list is the empty string).
    pub fn to_stored(&self) -> String {
        self.0
            .iter()
            .map(|o| o.as_secs().to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A stored list, checked by the same rules as a request's.
    pub fn from_stored(text: &str) -> Result<Self, ReminderError> {
        let items: Vec<String> = text
            .split(',')
            .filter(|s| !s.is_empty())
            .enumerate()
            .map(|(index, s)| {
                s.trim()
                    .parse::<i64>()
                    .map(|secs| SignedDuration::from_secs(secs).to_string())
                    .map_err(|_| ReminderError::NotADuration {
                        index,
                        input: s.to_owned(),
                    })
            })
            .collect::<Result<_, _>>()?;
        Self::parse(&items)
    }
}

/// One entry: an ISO 8601 duration (days and weeks are 24 hours and 7 days), whole seconds, in
/// `[EARLIEST, 0]`.
fn parse_offset(index: usize, input: &str) -> Result<SignedDuration, ReminderError> {
    let owned = || input.to_owned();
    let span = ISO_8601
        .parse_span(input)
        .map_err(|_| ReminderError::NotADuration {
            index,
            input: owned(),
        })?;
    let offset = span
        .to_duration(SpanRelativeTo::days_are_24_hours())
        .map_err(|_| ReminderError::NotFixed {
            index,
            input: owned(),
        })?;
    if offset.subsec_nanos() != 0 {
        return Err(ReminderError::Fractional {
            index,
            input: owned(),
        });
    }
    if offset.is_positive() {
        return Err(ReminderError::AfterStart {
            index,
            input: owned(),
        });
    }
    if offset < Reminders::EARLIEST {
        return Err(ReminderError::TooEarly {
            index,
            input: owned(),
        });
    }
    Ok(offset)
}

/// What a schedule without reminders of its own follows: its series' list when the series has one, else the
/// member's default. This is the one place the rule "own, else series, else member" is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inherited {
    series: Option<Reminders>,
    member: Reminders,
}

impl Inherited {
    pub fn new(series: Option<Reminders>, member: Reminders) -> Self {
        Self { series, member }
    }

    /// A one-off schedule's: the member's default.
    pub fn from_member(member: Reminders) -> Self {
        Self::new(None, member)
    }

    /// The list a schedule shows: its own, else its series'; `None` means it follows the member's default.
    pub fn shown<'a>(
        own: Option<&'a Reminders>,
        series: Option<&'a Reminders>,
    ) -> Option<&'a Reminders> {
        own.or(series)
    }

    /// The list that is armed for a schedule whose own list is `own`: own, else the series', else the member's.
    pub fn effective<'a>(&'a self, own: Option<&'a Reminders>) -> &'a Reminders {
        Self::shown(own, self.series.as_ref()).unwrap_or(&self.member)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(items: &[&str]) -> Result<Vec<String>, String> {
        Reminders::parse(items)
            .map(|r| r.to_iso())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn offsets_are_sorted_earliest_first_and_rendered_by_jiff() {
        assert_eq!(
            parse(&["PT0S", "-PT10M", "-P1D", "-PT1H"]).unwrap(),
            ["-PT24H", "-PT1H", "-PT10M", "PT0S"]
        );
        assert_eq!(parse(&["-PT90M"]).unwrap(), ["-PT1H30M"]);
        assert_eq!(parse(&["-PT1.5M"]).unwrap(), ["-PT1M30S"], "90 seconds");
        assert_eq!(parse(&["-P1W"]).unwrap(), ["-PT168H"]);
        assert_eq!(
            parse(&["-pt5m"]).unwrap(),
            ["-PT5M"],
            "designators in any case"
        );
        assert_eq!(parse(&["-PT0S"]).unwrap(), ["PT0S"]);
        assert_eq!(
            parse(&["-P7D"]).unwrap(),
            ["-PT168H"],
            "the earliest is allowed"
        );
        assert_eq!(parse(&[] as &[&str]).unwrap(), Vec::<String>::new());
        assert_eq!(Reminders::at_start().to_iso(), ["PT0S"]);
    }

    #[test]
    fn each_refusal_names_the_entry() {
        let cases = [
            (
                vec!["-PT10M", "PT5M"],
                "reminders[1]: \"PT5M\" is after the start; reminders are offsets <= 0 such as \"-PT10M\"",
            ),
            (
                vec!["-PT60M", "-PT1H"],
                "reminders[1]: \"-PT1H\" is the same offset as reminders[0]",
            ),
            (
                vec!["PT0S", "-PT0.5S"],
                "reminders[1]: \"-PT0.5S\" is not a whole number of seconds",
            ),
            (
                vec!["-P7DT1S"],
                "reminders[0]: \"-P7DT1S\" is earlier than 7 days before the start (\"-P7D\")",
            ),
            (
                vec!["-PT1M", "-P8D"],
                "reminders[1]: \"-P8D\" is earlier than 7 days before the start (\"-P7D\")",
            ),
            (
                vec!["soon"],
                "reminders[0]: \"soon\" is not an ISO 8601 duration; reminders are offsets <= 0 such as \"-PT10M\"",
            ),
            (
                vec!["-10m"],
                "reminders[0]: \"-10m\" is not an ISO 8601 duration; reminders are offsets <= 0 such as \"-PT10M\"",
            ),
            (
                vec![""],
                "reminders[0]: \"\" is not an ISO 8601 duration; reminders are offsets <= 0 such as \"-PT10M\"",
            ),
            (
                vec![" -PT10M"],
                "reminders[0]: \" -PT10M\" is not an ISO 8601 duration; reminders are offsets <= 0 such as \"-PT10M\"",
            ),
            (
                vec!["-P1M"],
                "reminders[0]: \"-P1M\" counts months or years, which have no fixed length; use weeks, days, hours, minutes or seconds",
            ),
            (
                vec!["-PT1M", "-PT2M", "-PT3M", "-PT4M", "-PT5M", "PT0S"],
                "reminders: at most 5 offsets, got 6",
            ),
        ];
        for (items, message) in cases {
            let err = Reminders::parse(&items).unwrap_err();
            assert_eq!(err.to_string(), message, "{items:?}");
            assert_eq!(err.class().status(), 400);
            assert!(
                message.starts_with(&format!("{}:", err.field())),
                "{message}"
            );
        }
        let err = Reminders::parse(&["-PT1H", "PT0S", "-PT60M"]).unwrap_err();
        assert_eq!(
            err,
            ReminderError::Duplicate {
                index: 2,
                first: 0,
                input: "-PT60M".into()
            }
        );
        assert_eq!(err.rejected(), serde_json::json!("-PT60M"));
    }

    #[test]
    fn the_stored_form_is_whole_seconds() {
        let r = Reminders::parse(&["PT0S", "-PT10M", "-P1D"]).unwrap();
        assert_eq!(r.to_stored(), "-86400,-600,0");
        assert_eq!(Reminders::from_stored("-86400,-600,0").unwrap(), r);
        assert_eq!(Reminders::from_stored("0").unwrap(), Reminders::at_start());
        assert_eq!(Reminders::none().to_stored(), "");
        assert_eq!(Reminders::from_stored("").unwrap(), Reminders::none());
        assert!(
            Reminders::from_stored("60").is_err(),
            "the rules hold for stored lists"
        );
        assert!(Reminders::from_stored("x").is_err());
    }

    #[test]
    fn own_then_series_then_member() {
        let own = Reminders::parse(&["-PT5M"]).unwrap();
        let series = Reminders::parse(&["-PT1H"]).unwrap();
        let member = Reminders::at_start();
        let with_series = Inherited::new(Some(series.clone()), member.clone());
        let without = Inherited::from_member(member.clone());
        assert_eq!(with_series.effective(Some(&own)), &own);
        assert_eq!(with_series.effective(None), &series);
        assert_eq!(without.effective(None), &member);
        assert_eq!(
            without.effective(Some(&Reminders::none())),
            &Reminders::none(),
            "an empty list of its own is no reminder, not the default"
        );
        assert_eq!(Inherited::shown(None, Some(&series)), Some(&series));
        assert_eq!(Inherited::shown(None, None), None);
    }
}
