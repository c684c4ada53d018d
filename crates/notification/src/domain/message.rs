//! What a push carries: the reference client's four string fields, and which reminder it is with the actions a
//! device may offer (start, snooze) — built once per notification.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::reminder::Slot;
use super::{NotificationKey, ScheduleId};

/// Longest title put into a push payload (characters): keeps every payload far below the 4 KiB limits of
/// FCM data messages and Web Push records.
pub const MAX_TITLE_CHARS: usize = 200;

/// A push message. The Web Push payload (the JSON) is built once here, not once per device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushMessage {
    schedule_id: ScheduleId,
    title: String,
    start_time: Timestamp,
    slot: Slot,
    idempotent_key: NotificationKey,
    json: Vec<u8>,
}

/// The actions a device may offer with a reminder (the service worker maps them to buttons).
pub const ACTIONS: &str = "start,snooze";

impl PushMessage {
    pub fn new(
        schedule_id: ScheduleId,
        title: &str,
        start_time: Timestamp,
        slot: Slot,
        idempotent_key: &NotificationKey,
    ) -> Self {
        let mut message = Self {
            schedule_id,
            title: bounded_title(title),
            start_time,
            slot,
            idempotent_key: idempotent_key.clone(),
            json: Vec::new(),
        };
        message.json = serde_json::to_vec(&message.data()).unwrap_or_default();
        message
    }

    /// The title as sent (at most [`MAX_TITLE_CHARS`] characters and an ellipsis).
    pub fn title(&self) -> &str {
        &self.title
    }

    /// `{scheduleId, scheduleTitle, scheduleStartTime, idempotentKey}` (the reference client's), plus
    /// `reminderOffset` (`PT0S`, `-PT10M`), `snooze` (`0`, or the n-th snooze) and `actions` — all strings
    /// (FCM `data` requires strings; the service worker reads the same keys from a raw Web Push payload).
    pub fn data(&self) -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            ("scheduleId", self.schedule_id.to_string()),
            ("scheduleTitle", self.title.clone()),
            ("scheduleStartTime", format_start_time(self.start_time)),
            ("idempotentKey", self.idempotent_key.as_str().to_string()),
            ("reminderOffset", self.slot.offset.to_string()),
            ("snooze", self.slot.snooze.to_string()),
            ("actions", ACTIONS.to_string()),
        ])
    }

    /// The JSON a Web Push message encrypts ([`PushMessage::data`] serialized).
    pub fn json(&self) -> &[u8] {
        &self.json
    }

    /// The Web Push `Topic` (RFC 8030, section 5.4): at most 32 base64url characters, the same for every
    /// send of this schedule's notification, so a push service replaces an undelivered older one.
    pub fn topic(&self) -> String {
        topic(self.schedule_id)
    }
}

/// `schedule-<id>` (at most 28 characters, all in the base64url alphabet).
pub fn topic(schedule_id: ScheduleId) -> String {
    format!("schedule-{}", schedule_id.get().unsigned_abs())
}

/// The reference's start-time format: UTC, whole seconds, literal `Z` (`2026-02-08T01:00:00Z`).
pub fn format_start_time(at: Timestamp) -> String {
    let whole = Timestamp::from_second(at.as_second()).unwrap_or(at);
    whole.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Truncates a title to [`MAX_TITLE_CHARS`] characters.
pub fn bounded_title(title: &str) -> String {
    match title.char_indices().nth(MAX_TITLE_CHARS) {
        Some((cut, _)) => format!("{}…", &title[..cut]),
        None => title.to_string(),
    }
}

/// Two start times name the same instant for the reference's second-precision wire format.
pub fn same_start(a: Timestamp, b: Timestamp) -> bool {
    a.as_second() == b.as_second()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_the_reference_fields_as_strings() {
        let at: Timestamp = "2026-02-08T01:00:00.123456Z".parse().unwrap();
        let ten = Slot::planned(crate::domain::Offset::from_seconds(-600).unwrap());
        let m = PushMessage::new(
            ScheduleId(42),
            "딥 워크",
            at,
            ten,
            &NotificationKey::from("k-1"),
        );
        let v: serde_json::Value = serde_json::from_slice(m.json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "scheduleId": "42",
                "scheduleTitle": "딥 워크",
                "scheduleStartTime": "2026-02-08T01:00:00Z",
                "idempotentKey": "k-1",
                "reminderOffset": "-PT10M",
                "snooze": "0",
                "actions": "start,snooze"
            })
        );
        assert_eq!(m.topic(), "schedule-42");
        assert!(topic(ScheduleId(i64::MAX)).len() <= 32);
        let long = PushMessage::new(
            ScheduleId(1),
            &"가".repeat(1000),
            at,
            Slot::planned(crate::domain::Offset::AT_START),
            &NotificationKey::from("k"),
        );
        assert_eq!(long.title().chars().count(), MAX_TITLE_CHARS + 1);
        assert!(same_start(at, "2026-02-08T01:00:00Z".parse().unwrap()));
    }
}
