//! Reminders: a schedule's pending notifications are one per **slot** — an offset from its start (VALARM's
//! `TRIGGER;RELATED=START`: `-PT10M`, `PT0S` = at the start) and, for a reminder snoozed from a device, the
//! n-th snooze of it.
//!
//! Each slot's notification has its own key, which devices de-duplicate on and delivery records are kept
//! under: the arming event's id for the at-start slot (what a schedule's one push was keyed by before
//! reminders existed, so nothing changes for it), `{event id}:{offset}` for a lead time, and
//! `{…}:snooze:{n}` for a snooze. A key names its slot ([`ReminderKey::parse`]), so a device's snooze request
//! needs nothing but the key it was given.

use std::fmt;

use jiff::{SignedDuration, Timestamp};

use super::NotificationKey;

/// At most this many reminders per schedule (the task service enforces the same bound).
pub const MAX_REMINDERS: usize = 5;

/// The earliest lead time accepted from an event (7 days before the start).
pub const MAX_LEAD_SECONDS: i64 = 7 * 24 * 3600;

/// A snooze lasts this many minutes at least and at most.
pub const SNOOZE_MINUTES: std::ops::RangeInclusive<i64> = 5..=120;

/// A reminder's offset from its schedule's start, in whole seconds, never after the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Offset(i64);

impl Offset {
    /// `PT0S`: the push at the start.
    pub const AT_START: Offset = Offset(0);

    /// An offset of `seconds` (≤ 0, at most [`MAX_LEAD_SECONDS`] before the start).
    pub fn from_seconds(seconds: i64) -> Option<Offset> {
        (-MAX_LEAD_SECONDS..=0)
            .contains(&seconds)
            .then_some(Offset(seconds))
    }

    /// An ISO 8601 duration (`-PT10M`, `PT0S`, `-P1D` — a day is 24 hours, as VALARM triggers count them)
    /// of whole seconds, ≤ 0.
    pub fn parse(text: &str) -> Option<Offset> {
        let text = text.trim();
        let d: SignedDuration = match text.parse() {
            Ok(d) => d,
            Err(_) => text
                .parse::<jiff::Span>()
                .ok()?
                .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
                .ok()?,
        };
        if d.subsec_nanos() != 0 {
            return None;
        }
        Offset::from_seconds(d.as_secs())
    }

    pub fn seconds(self) -> i64 {
        self.0
    }

    /// When a reminder with this offset is due for a schedule starting at `start`.
    pub fn due(self, start: Timestamp) -> Timestamp {
        start
            .checked_add(SignedDuration::from_secs(self.0))
            .unwrap_or(start)
    }
}

impl fmt::Display for Offset {
    /// ISO 8601, as jiff writes it (`-PT10M`, `PT0S`, `-PT24H`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", SignedDuration::from_secs(self.0))
    }
}

/// Why an event's `reminders` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemindersError {
    #[error(
        "reminders[{index}]: {value:?} is not an ISO 8601 offset of whole seconds between -P7D and PT0S"
    )]
    Invalid { index: usize, value: String },
    #[error("more than {MAX_REMINDERS} reminders")]
    TooMany,
}

/// The offsets an event names, earliest first, duplicates dropped; `None` (a producer that does not send
/// them, like the reference's) is the push at the start only.
pub fn offsets(reminders: Option<&[String]>) -> Result<Vec<Offset>, RemindersError> {
    let Some(reminders) = reminders else {
        return Ok(vec![Offset::AT_START]);
    };
    if reminders.len() > MAX_REMINDERS {
        return Err(RemindersError::TooMany);
    }
    let mut out = reminders
        .iter()
        .enumerate()
        .map(|(index, value)| {
            Offset::parse(value).ok_or_else(|| RemindersError::Invalid {
                index,
                value: value.clone(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Where a pending notification sits among its schedule's: its offset, and which snooze of it (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot {
    pub offset: Offset,
    pub snooze: i64,
}

impl Slot {
    /// A planned reminder (not snoozed).
    pub fn planned(offset: Offset) -> Slot {
        Slot { offset, snooze: 0 }
    }

    pub fn is_snooze(self) -> bool {
        self.snooze > 0
    }

    /// Whether this is the push at the start itself (not a lead time, not a snooze).
    pub fn at_start(self) -> bool {
        self == Slot::planned(Offset::AT_START)
    }
}

/// A notification key and the slot it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderKey {
    /// The arming event's id.
    pub event: String,
    pub slot: Slot,
}

const SNOOZE: &str = ":snooze:";

impl ReminderKey {
    pub fn new(event: &NotificationKey, slot: Slot) -> Self {
        Self {
            event: event.as_str().to_string(),
            slot,
        }
    }

    /// The key devices see: `{event}`, `{event}:{offset}`, with `:snooze:{n}` after a snooze.
    pub fn key(&self) -> NotificationKey {
        let mut key = self.event.clone();
        if self.slot.offset != Offset::AT_START {
            key.push(':');
            key.push_str(&self.slot.offset.to_string());
        }
        if self.slot.is_snooze() {
            key.push_str(SNOOZE);
            key.push_str(&self.slot.snooze.to_string());
        }
        NotificationKey::from(key)
    }

    /// Reads a key back (from the right, so an event id may itself hold a `:`).
    pub fn parse(key: &str) -> Option<Self> {
        let (rest, snooze) = match key.rsplit_once(SNOOZE) {
            Some((rest, n)) => (rest, n.parse::<i64>().ok().filter(|n| *n > 0)?),
            None => (key, 0),
        };
        let (event, offset) = match rest.rsplit_once(':') {
            Some((event, offset)) if offset.starts_with("-P") => (event, Offset::parse(offset)?),
            _ => (rest, Offset::AT_START),
        };
        (!event.is_empty()).then(|| Self {
            event: event.to_string(),
            slot: Slot { offset, snooze },
        })
    }

    /// The key of the next snooze of this notification.
    pub fn snoozed(&self) -> Self {
        Self {
            event: self.event.clone(),
            slot: Slot {
                snooze: self.slot.snooze + 1,
                ..self.slot
            },
        }
    }
}

/// Minutes a device asked to snooze for, if allowed.
pub fn snooze_for(minutes: i64) -> Option<std::time::Duration> {
    SNOOZE_MINUTES
        .contains(&minutes)
        .then(|| std::time::Duration::from_secs(minutes.unsigned_abs() * 60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn offsets_parse_iso_durations_before_the_start() {
        assert_eq!(Offset::parse("-PT10M"), Some(Offset(-600)));
        assert_eq!(Offset::parse("PT0S"), Some(Offset::AT_START));
        assert_eq!(Offset::parse("-P1D"), Some(Offset(-86_400)));
        assert_eq!(Offset::parse("-P7D"), Some(Offset(-MAX_LEAD_SECONDS)));
        for bad in ["PT5M", "-P8D", "-PT0.5S", "soon", ""] {
            assert_eq!(Offset::parse(bad), None, "{bad}");
        }
        assert_eq!(Offset(-600).to_string(), "-PT10M");
        assert_eq!(Offset(0).to_string(), "PT0S");
        let start: Timestamp = "2026-02-08T01:00:00Z".parse().unwrap();
        assert_eq!(
            Offset(-600).due(start),
            "2026-02-08T00:50:00Z".parse::<Timestamp>().unwrap()
        );
    }

    #[test]
    fn an_events_list_is_sorted_and_deduplicated_and_absent_means_at_start() {
        assert_eq!(offsets(None), Ok(vec![Offset::AT_START]));
        assert_eq!(offsets(Some(&[])), Ok(vec![]));
        let list = ["PT0S", "-PT1H", "-PT60M"].map(String::from);
        assert_eq!(offsets(Some(&list)), Ok(vec![Offset(-3600), Offset(0)]));
        let bad = ["PT0S", "PT5M"].map(String::from);
        assert_eq!(
            offsets(Some(&bad)),
            Err(RemindersError::Invalid {
                index: 1,
                value: "PT5M".into()
            })
        );
        let six = vec!["PT0S".to_string(); 6];
        assert_eq!(offsets(Some(&six)), Err(RemindersError::TooMany));
    }

    #[test]
    fn the_at_start_key_is_the_event_id_as_before_reminders() {
        let event = NotificationKey::from("019c-a");
        let at_start = ReminderKey::new(&event, Slot::planned(Offset::AT_START));
        assert_eq!(at_start.key().as_str(), "019c-a");
        let lead = ReminderKey::new(&event, Slot::planned(Offset(-600)));
        assert_eq!(lead.key().as_str(), "019c-a:-PT10M");
        assert_eq!(lead.snoozed().key().as_str(), "019c-a:-PT10M:snooze:1");
        assert_eq!(
            at_start.snoozed().snoozed().key().as_str(),
            "019c-a:snooze:2"
        );
        assert_eq!(ReminderKey::parse("x:snooze:0"), None);
        assert_eq!(ReminderKey::parse(""), None);
        assert_eq!(snooze_for(4), None);
        assert_eq!(snooze_for(10), Some(std::time::Duration::from_secs(600)));
        assert_eq!(snooze_for(121), None);
    }

    proptest! {
        #[test]
        fn keys_read_back_as_their_slot(
            event in "[a-z0-9:-]{1,20}",
            seconds in -MAX_LEAD_SECONDS..=0i64,
            snooze in 0i64..50,
        ) {
            // An event id ending like an offset or a snooze would be ambiguous; ours are UUIDs.
            prop_assume!(!event.contains(":-P") && !event.contains(SNOOZE) && !event.ends_with(':'));
            let key = ReminderKey { event, slot: Slot { offset: Offset(seconds), snooze } };
            prop_assert_eq!(ReminderKey::parse(key.key().as_str()), Some(key));
        }
    }
}
