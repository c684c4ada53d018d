//! Quiet hours: a member's daily window (local wall-clock times in their zone, possibly across midnight) in
//! which no reminder is sent. A reminder due inside it is **held** to the window's end or **dropped**, as the
//! member chose; the push at the start is treated the same unless they opted it out (`include_at_start`).
//!
//! The rule is applied when a notification is due (the dispatcher's claim), so a change of quiet hours
//! applies to everything not yet sent. A held notification's due time becomes the window's end: the grace
//! window and the re-check (a started schedule gets nothing) run from there.

use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;

use super::Invalid;
use super::reminder::Slot;

/// What to do with a reminder due inside quiet hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuietMode {
    Hold,
    Drop,
}

impl QuietMode {
    pub fn as_str(self) -> &'static str {
        match self {
            QuietMode::Hold => "hold",
            QuietMode::Drop => "drop",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "hold" => Some(QuietMode::Hold),
            "drop" => Some(QuietMode::Drop),
            _ => None,
        }
    }
}

/// A member's quiet hours.
#[derive(Debug, Clone, PartialEq)]
pub struct QuietHours {
    pub enabled: bool,
    /// Local start of the window (inclusive).
    pub start: Time,
    /// Local end of the window (exclusive); before `start` means the window spans midnight.
    pub end: Time,
    pub zone_id: String,
    pub zone: TimeZone,
    pub mode: QuietMode,
    /// Whether the push at the start is held or dropped too.
    pub include_at_start: bool,
}

/// What quiet hours say about a notification due at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuietVerdict {
    Send,
    /// Inside the window: send it when the window ends.
    Hold(Timestamp),
    /// Inside the window, and the member drops such reminders.
    Drop,
}

/// The time of day as `HH:MM` (what the API takes and shows).
pub fn parse_time(text: &str) -> Option<Time> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

pub fn format_time(t: Time) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// Input for [`QuietHours::new`], as the API takes it.
#[derive(Debug, Clone, Default)]
pub struct QuietHoursInput {
    pub enabled: Option<bool>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub zone_id: Option<String>,
    pub mode: Option<String>,
    pub include_at_start: Option<bool>,
}

impl QuietHours {
    /// What a member has before setting any: off, 22:00–07:00 in `zone_id`, hold, the start push included.
    pub fn off(zone_id: &str) -> Self {
        Self {
            enabled: false,
            start: Time::constant(22, 0, 0, 0),
            end: Time::constant(7, 0, 0, 0),
            zone_id: zone_id.to_string(),
            zone: TimeZone::get(zone_id).unwrap_or(TimeZone::UTC),
            mode: QuietMode::Hold,
            include_at_start: true,
        }
    }

    /// Validates every field (all are required), naming each one that is wrong.
    pub fn new(input: QuietHoursInput) -> Result<Self, Vec<Invalid>> {
        let mut problems = Vec::new();
        let mut time = |field: &'static str, value: Option<String>| {
            let parsed = value.as_deref().and_then(parse_time);
            if parsed.is_none() {
                problems.push(
                    Invalid::new(
                        field,
                        value.map_or(serde_json::Value::Null, serde_json::Value::from),
                        "a time of day as HH:MM (00:00 to 23:59)",
                    )
                    .coded("TIME_OF_DAY"),
                );
            }
            parsed
        };
        let start = time("start", input.start);
        let end = time("end", input.end);
        let zone = input.zone_id.as_deref().and_then(|z| TimeZone::get(z).ok());
        if zone.is_none() {
            problems.push(
                Invalid::new(
                    "zoneId",
                    input
                        .zone_id
                        .clone()
                        .map_or(serde_json::Value::Null, serde_json::Value::from),
                    "an IANA time zone such as Asia/Seoul",
                )
                .coded("ZONE_RULE"),
            );
        }
        let mode = input.mode.as_deref().and_then(QuietMode::parse);
        if mode.is_none() {
            problems.push(
                Invalid::new(
                    "mode",
                    input
                        .mode
                        .map_or(serde_json::Value::Null, serde_json::Value::from),
                    "\"hold\" or \"drop\"",
                )
                .coded("QUIET_MODE"),
            );
        }
        if let (Some(s), Some(e)) = (start, end)
            && s == e
        {
            problems.push(
                Invalid::new(
                    "end",
                    format_time(e),
                    "must differ from start (the window would be empty)",
                )
                .coded("QUIET_EMPTY"),
            );
        }
        match (start, end, zone, mode, problems.is_empty()) {
            (Some(start), Some(end), Some(zone), Some(mode), true) => Ok(Self {
                enabled: input.enabled.unwrap_or(true),
                start,
                end,
                zone_id: input.zone_id.unwrap_or_default(),
                zone,
                mode,
                include_at_start: input.include_at_start.unwrap_or(true),
            }),
            _ => Err(problems),
        }
    }

    /// The end of the window `at` falls in, if it falls in one.
    pub fn window_end(&self, at: Timestamp) -> Option<Timestamp> {
        if !self.enabled {
            return None;
        }
        let local = at.to_zoned_datetime(self.zone.clone());
        let now = local.time();
        let inside = if self.start < self.end {
            self.start <= now && now < self.end
        } else {
            now >= self.start || now < self.end
        };
        if !inside {
            return None;
        }
        // The end is today's when the window ends later today, else tomorrow's.
        let day = if now < self.end {
            local.date()
        } else {
            local.date().tomorrow().ok()?
        };
        // A wall time that does not exist (a DST gap) resolves to the instant after the gap.
        let end = day
            .to_datetime(self.end)
            .to_zoned_datetime(self.zone.clone())
            .ok()?;
        Some(end.timestamp())
    }

    /// What to do with the notification in `slot`, due at `due`.
    pub fn verdict(&self, slot: Slot, due: Timestamp) -> QuietVerdict {
        if slot.at_start() && !self.include_at_start {
            return QuietVerdict::Send;
        }
        match (self.window_end(due), self.mode) {
            (None, _) => QuietVerdict::Send,
            (Some(end), QuietMode::Hold) => QuietVerdict::Hold(end),
            (Some(_), QuietMode::Drop) => QuietVerdict::Drop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::reminder::Offset;

    fn hours(start: &str, end: &str, zone: &str, mode: &str) -> QuietHours {
        QuietHours::new(QuietHoursInput {
            enabled: Some(true),
            start: Some(start.into()),
            end: Some(end.into()),
            zone_id: Some(zone.into()),
            mode: Some(mode.into()),
            include_at_start: Some(true),
        })
        .unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_window_across_midnight_holds_to_its_end_in_the_members_zone() {
        let q = hours("22:00", "07:00", "Asia/Seoul", "hold");
        let lead = Slot::planned(Offset::from_seconds(-600).unwrap());
        // 23:30 in Seoul (14:30Z): held to 07:00 the next morning (22:00Z).
        assert_eq!(
            q.verdict(lead, at("2026-02-08T14:30:00Z")),
            QuietVerdict::Hold(at("2026-02-08T22:00:00Z"))
        );
        // 06:59 in Seoul: held to 07:00 the same morning.
        assert_eq!(
            q.verdict(lead, at("2026-02-08T21:59:00Z")),
            QuietVerdict::Hold(at("2026-02-08T22:00:00Z"))
        );
        // 07:00 itself and 21:59 are outside.
        assert_eq!(
            q.verdict(lead, at("2026-02-08T22:00:00Z")),
            QuietVerdict::Send
        );
        assert_eq!(
            q.verdict(lead, at("2026-02-08T12:59:00Z")),
            QuietVerdict::Send
        );
    }

    #[test]
    fn a_daytime_window_drops_and_the_start_push_may_opt_out() {
        let mut q = hours("12:00", "13:00", "Europe/Berlin", "drop");
        let start = Slot::planned(Offset::AT_START);
        assert_eq!(
            q.verdict(start, at("2026-07-01T10:30:00Z")),
            QuietVerdict::Drop
        );
        q.include_at_start = false;
        assert_eq!(
            q.verdict(start, at("2026-07-01T10:30:00Z")),
            QuietVerdict::Send
        );
        let snoozed = Slot {
            offset: Offset::AT_START,
            snooze: 1,
        };
        assert_eq!(
            q.verdict(snoozed, at("2026-07-01T10:30:00Z")),
            QuietVerdict::Drop,
            "a snooze is a reminder like any other"
        );
        q.enabled = false;
        assert_eq!(
            q.verdict(snoozed, at("2026-07-01T10:30:00Z")),
            QuietVerdict::Send
        );
    }

    #[test]
    fn an_end_inside_a_dst_gap_resolves_after_the_gap() {
        // New York springs forward at 02:00 on 2026-03-08: 02:30 does not exist.
        let q = hours("23:00", "02:30", "America/New_York", "hold");
        let lead = Slot::planned(Offset::AT_START);
        let end = q.window_end(at("2026-03-08T05:00:00Z")).unwrap(); // 00:00 EST
        assert_eq!(end, at("2026-03-08T07:30:00Z")); // 03:30 EDT
        assert!(matches!(
            q.verdict(lead, at("2026-03-08T05:00:00Z")),
            QuietVerdict::Hold(_)
        ));
    }

    #[test]
    fn every_wrong_field_is_named() {
        let e = QuietHours::new(QuietHoursInput {
            start: Some("25:00".into()),
            end: Some("7".into()),
            zone_id: Some("Mars/Olympus".into()),
            mode: Some("mute".into()),
            ..QuietHoursInput::default()
        })
        .unwrap_err();
        let fields: Vec<_> = e.iter().map(|p| p.field).collect();
        assert_eq!(fields, ["start", "end", "zoneId", "mode"]);
        let same = QuietHours::new(QuietHoursInput {
            start: Some("22:00".into()),
            end: Some("22:00".into()),
            zone_id: Some("UTC".into()),
            mode: Some("hold".into()),
            ..QuietHoursInput::default()
        })
        .unwrap_err();
        assert_eq!(same[0].field, "end");
    }
}
