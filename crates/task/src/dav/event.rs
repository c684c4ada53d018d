//! A calendar app's event (the body of a CalDAV `PUT`) as a schedule, and back.
//!
//! Read into a schedule: `SUMMARY` → title, `DESCRIPTION` → description, `DTSTART` → start (a `TZID` from the
//! tz database, a floating time or an all-day date in the member's zone), `CATEGORIES` naming one Pinit type →
//! the type (else `DEEP_WORK`). Everything else of the event — alarms, attendees, `LOCATION`, `X-` properties,
//! its length (`DTEND`/`DURATION`) — is kept verbatim ([`ClientEvent::extra`], a `VEVENT` of only those lines)
//! and given back on every read ([`restore`]): never dropped. Two markers live there too: `X-PINIT-LENGTH`
//! (the event's length, so its end follows a schedule moved in Pinit) and `X-PINIT-NO-DESCRIPTION` (Pinit's
//! description cannot be empty; the title stands in for it and the event is read back without one).
//!
//! Repeating events (`RRULE`, `RDATE`, `RECURRENCE-ID`) are refused for now: a repeating schedule is made in
//! Pinit.

use jiff::{SignedDuration, Timestamp};

pub use crate::app::calendar::ClientEvent;
use crate::domain::{Description, ScheduleDraft, ScheduleType, Title, ValidationError, Zone};
use crate::ical::content::{Component, ParseError, Property};
use crate::ical::schedule::CalendarWriter;
use crate::ical::value::{DateOrTime, ValueError, format_duration, parse_duration};

/// The length of the event as the app wrote it.
const LENGTH: &str = "X-PINIT-LENGTH";
/// The app's event had no description.
const NO_DESCRIPTION: &str = "X-PINIT-NO-DESCRIPTION";

/// Properties Pinit represents (read into the schedule, or rewritten on every read).
const REPRESENTED: [&str; 12] = [
    "UID",
    "DTSTAMP",
    "DTSTART",
    "DTEND",
    "DURATION",
    "SUMMARY",
    "DESCRIPTION",
    "SEQUENCE",
    "CREATED",
    "LAST-MODIFIED",
    "STATUS",
    "X-PINIT-STATE",
];

/// Why a `PUT` body cannot be a schedule or a task (403 `valid-calendar-object-resource`, with this text).
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("not iCalendar: {0}")]
    Parse(#[from] ParseError),
    #[error(
        "a calendar object in this calendar holds exactly one {0} (and nothing else but time zones)"
    )]
    NotOne(&'static str),
    #[error(
        "repeating events (RRULE, RDATE, RECURRENCE-ID) are not taken from calendar apps yet; make a repeating schedule in Pinit"
    )]
    Repeating,
    #[error("the event has no UID")]
    NoUid,
    #[error("the event has no DTSTART")]
    NoStart,
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error(transparent)]
    Rule(#[from] crate::domain::recurrence::RuleError),
    #[error("{0}")]
    Series(&'static str),
    #[error("{field}: {error}")]
    Invalid {
        field: &'static str,
        error: ValidationError,
    },
}

/// Reads a `PUT` body; floating and all-day times are in `zone`.
pub fn read(body: &str, zone: &Zone) -> Result<ClientEvent, EventError> {
    let calendar = Component::parse(body)?;
    let event = only(&calendar, "VEVENT")?;
    if ["RRULE", "RDATE", "RECURRENCE-ID"]
        .iter()
        .any(|p| event.property(p).is_some())
    {
        return Err(EventError::Repeating);
    }
    let uid = uid(event)?;
    let mut extra = Component::new("VEVENT");
    let draft = schedule_of(event, zone, &mut extra)?;
    Ok(ClientEvent {
        uid,
        draft,
        extra: extra.to_ical(),
    })
}

/// An event's schedule: `DTSTART`, `SUMMARY`, `DESCRIPTION`, `CATEGORIES` (floating and all-day times in `zone`);
/// what Pinit does not represent goes to `extra`.
pub(super) fn schedule_of(
    event: &Component,
    zone: &Zone,
    extra: &mut Component,
) -> Result<ScheduleDraft, EventError> {
    let dtstart = event.property("DTSTART").ok_or(EventError::NoStart)?;
    let start = DateOrTime::from_property(dtstart)?.instant("DTSTART", zone.time_zone())?;
    let (title, description) = texts(event, extra)?;
    let schedule_type = schedule_type(event);
    if let Some(length) = length(event, start, zone)? {
        extra.push(Property::raw(LENGTH, format_duration(length)));
    }
    keep_rest(event, &REPRESENTED, extra, |p| {
        p.name == "CATEGORIES" && schedule_type.is_some()
    });
    Ok(ScheduleDraft::new(
        title,
        description,
        schedule_type.unwrap_or(ScheduleType::DeepWork),
        start,
    ))
}

/// The Pinit type a `CATEGORIES` of exactly one Pinit type names.
pub(super) fn schedule_type(event: &Component) -> Option<ScheduleType> {
    let category = event
        .property("CATEGORIES")
        .map(Property::texts)
        .unwrap_or_default();
    match category.as_slice() {
        [one] => ScheduleType::parse(one).ok(),
        _ => None,
    }
}

/// The one `kind` component (`VEVENT`, `VTODO`) of a `PUT` body.
pub(super) fn only<'a>(
    calendar: &'a Component,
    kind: &'static str,
) -> Result<&'a Component, EventError> {
    let found: Vec<&Component> = calendar.components_named(kind).collect();
    let others = calendar
        .components
        .iter()
        .any(|c| c.name != kind && c.name != "VTIMEZONE");
    match found.as_slice() {
        [one] if !others => Ok(one),
        _ => Err(EventError::NotOne(kind)),
    }
}

/// The component's `UID`.
pub(super) fn uid(component: &Component) -> Result<String, EventError> {
    component
        .property("UID")
        .map(|p| p.value.trim().to_string())
        .filter(|u| !u.is_empty())
        .ok_or(EventError::NoUid)
}

/// The title (`SUMMARY`) and the description (`DESCRIPTION`; Pinit's cannot be empty, so the title stands in,
/// marked in `extra` so the component reads back without one).
pub(super) fn texts(
    component: &Component,
    extra: &mut Component,
) -> Result<(Title, Description), EventError> {
    let summary = component
        .property("SUMMARY")
        .map(Property::text)
        .unwrap_or_default();
    let title = Title::parse(summary.trim()).map_err(|error| EventError::Invalid {
        field: "SUMMARY",
        error,
    })?;
    let description = match component.property("DESCRIPTION").map(Property::text) {
        Some(text) if !text.trim().is_empty() => text,
        _ => {
            extra.push(Property::raw(NO_DESCRIPTION, "TRUE"));
            title.as_str().to_string()
        }
    };
    let description = Description::parse(description).map_err(|error| EventError::Invalid {
        field: "DESCRIPTION",
        error,
    })?;
    Ok((title, description))
}

/// Keeps in `extra`, verbatim, every property of `component` Pinit does not represent (not `represented`, not
/// `taken`) and every component inside it (alarms).
pub(super) fn keep_rest(
    component: &Component,
    represented: &[&str],
    extra: &mut Component,
    mut taken: impl FnMut(&Property) -> bool,
) {
    for p in &component.properties {
        if !represented.contains(&p.name.as_str()) && !taken(p) {
            extra.push(p.clone());
        }
    }
    for c in &component.components {
        extra.push_component(c.clone());
    }
}

/// The event's length: `DTEND − DTSTART`, or its `DURATION` (none: the default).
fn length(
    event: &Component,
    start: Timestamp,
    zone: &Zone,
) -> Result<Option<SignedDuration>, EventError> {
    if let Some(end) = event.property("DTEND") {
        let end = DateOrTime::from_property(end)?.instant("DTEND", zone.time_zone())?;
        return Ok(Some(end.duration_since(start)).filter(|d| !d.is_negative()));
    }
    match event.property("DURATION") {
        Some(d) => Ok(Some(parse_duration("DURATION", &d.value)?).filter(|d| !d.is_negative())),
        None => Ok(None),
    }
}

/// Gives an app's event back its own: its UID, its length, no description when it had none, and every line
/// Pinit does not represent. `event` is the schedule's VEVENT as `calendar` writes it, `start` its start.
pub fn restore(
    calendar: &mut CalendarWriter,
    event: &mut Component,
    uid: &str,
    extra: &str,
    zone: &Zone,
    start: Timestamp,
) {
    restore_with(event, uid, extra, |event, p| {
        if p.name != LENGTH {
            return false;
        }
        if let Ok(length) = parse_duration(LENGTH, &p.value) {
            let end = start.checked_add(length).unwrap_or(start);
            let dtend = calendar.instant("DTEND", zone, end);
            replace(event, dtend);
        }
        true
    });
}

/// Gives a component back what an app wrote that Pinit keeps (`extra`, as [`keep_rest`] and the readers wrote
/// it): its UID, no description when it had none, the kind's own markers (`marker` takes a property and
/// answers whether it was one), and every other line and component verbatim.
pub(super) fn restore_with(
    component: &mut Component,
    uid: &str,
    extra: &str,
    mut marker: impl FnMut(&mut Component, &Property) -> bool,
) {
    let Ok(extra) = Component::parse(extra) else {
        tracing::warn!(
            uid,
            "a stored calendar object's extra lines do not parse; left out"
        );
        return;
    };
    replace(component, Property::raw("UID", uid));
    for p in extra.properties {
        if p.name == NO_DESCRIPTION {
            component.properties.retain(|q| q.name != "DESCRIPTION");
        } else if !marker(component, &p) {
            component.push(p);
        }
    }
    for c in extra.components {
        component.push_component(c);
    }
}

pub(super) fn replace(event: &mut Component, property: Property) {
    match event
        .properties
        .iter_mut()
        .find(|p| p.name == property.name)
    {
        Some(p) => *p = property,
        None => event.push(property),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> Zone {
        Zone::parse("Europe/Berlin").unwrap()
    }

    const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:abc-123@example.com\r\nDTSTAMP:20261201T000000Z\r\nDTSTART;TZID=Europe/Berlin:20261202T090000\r\nDTEND;TZID=Europe/Berlin:20261202T093000\r\nSUMMARY:Standup\\, daily\r\nLOCATION:Room 4\r\nX-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC\r\nCATEGORIES:QUICK_TASK\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nDESCRIPTION:Reminder\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn an_event_becomes_a_schedule_and_keeps_what_pinit_does_not_represent() {
        let e = read(EVENT, &zone()).unwrap();
        assert_eq!(e.uid, "abc-123@example.com");
        assert_eq!(e.draft.title.as_str(), "Standup, daily");
        assert_eq!(
            e.draft.description.as_str(),
            "Standup, daily",
            "the title stands in"
        );
        assert_eq!(e.draft.schedule_type, ScheduleType::QuickTask);
        assert_eq!(
            e.draft.designated_start,
            "2026-12-02T08:00:00Z".parse::<Timestamp>().unwrap()
        );
        for kept in [
            "LOCATION:Room 4",
            "X-APPLE-TRAVEL",
            "BEGIN:VALARM",
            "TRIGGER:-PT5M",
            "X-PINIT-LENGTH:PT30M",
            "X-PINIT-NO-DESCRIPTION",
        ] {
            assert!(e.extra.contains(kept), "{kept} in {}", e.extra);
        }
        assert!(!e.extra.contains("CATEGORIES"), "mapped to the type");
        assert!(!e.extra.contains("SUMMARY"));
    }

    #[test]
    fn what_is_kept_comes_back_on_a_read() {
        let e = read(EVENT, &zone()).unwrap();
        let start = e.draft.designated_start;
        let mut calendar = CalendarWriter::new(start);
        let mut event = Component::new("VEVENT")
            .with(Property::raw("UID", "pinit-schedule-1@pinit"))
            .with(Property::text_value("DESCRIPTION", "Standup, daily"))
            .with(Property::raw("DTEND", "x"));
        restore(&mut calendar, &mut event, &e.uid, &e.extra, &zone(), start);
        let text = event.to_ical();
        assert!(text.contains("UID:abc-123@example.com"), "{text}");
        assert!(
            text.contains("DTEND;TZID=Europe/Berlin:20261202T093000"),
            "{text}"
        );
        assert!(!text.contains("DESCRIPTION:Standup"), "{text}");
        assert!(
            text.contains("LOCATION:Room 4") && text.contains("BEGIN:VALARM"),
            "{text}"
        );
        assert!(!text.contains("X-PINIT-"), "{text}");
    }

    #[test]
    fn what_cannot_be_a_schedule_is_refused_with_the_reason() {
        let z = zone();
        assert!(matches!(read("nonsense", &z), Err(EventError::Parse(_))));
        let repeating = EVENT.replace("LOCATION:Room 4", "RRULE:FREQ=DAILY");
        assert!(matches!(read(&repeating, &z), Err(EventError::Repeating)));
        let long = EVENT.replace(
            "SUMMARY:Standup\\, daily",
            &format!(
                "SUMMARY:{}",
                "a title far longer than a hundred characters ".repeat(3)
            ),
        );
        assert!(matches!(
            read(&long, &z),
            Err(EventError::Invalid {
                field: "SUMMARY",
                ..
            })
        ));
        let no_uid = EVENT.replace("UID:abc-123@example.com\r\n", "");
        assert!(matches!(read(&no_uid, &z), Err(EventError::NoUid)));
        let todo = EVENT.replace("VEVENT", "VTODO");
        assert!(matches!(read(&todo, &z), Err(EventError::NotOne(_))));
        let floating = EVENT
            .replace("DTSTART;TZID=Europe/Berlin:", "DTSTART:")
            .replace("DTEND;TZID=Europe/Berlin:20261202T093000", "DURATION:PT45M");
        let e = read(&floating, &z).unwrap();
        assert_eq!(
            e.draft.designated_start,
            "2026-12-02T08:00:00Z".parse::<Timestamp>().unwrap(),
            "in the member's zone"
        );
        assert!(e.extra.contains("X-PINIT-LENGTH:PT45M"), "{}", e.extra);
    }
}
