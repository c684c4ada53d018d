//! A calendar app's to-do (the body of a CalDAV `PUT` to the Tasks calendar) as a task, and back — the reverse
//! of `crate::ical::task`.
//!
//! Read into a task: `SUMMARY` → title, `DESCRIPTION` → description (none: the title stands in, as for events),
//! `DUE` → the deadline's date (a time of day, a `TZID` or UTC is read to its date: a task has no time), `PRIORITY`
//! 1..=9 → importance `10 − PRIORITY` (0 or none: `X-PINIT-IMPORTANCE`, else unchanged, else 5),
//! `X-PINIT-DIFFICULTY` → difficulty, `STATUS:COMPLETED` (or a `COMPLETED` time, or `PERCENT-COMPLETE:100`) →
//! completed, and `RELATED-TO;RELTYPE=DEPENDS-ON` naming a task of this calendar → a prerequisite.
//!
//! Everything else — alarms, `DTSTART`, `CATEGORIES`, `CLASS`, other `RELATED-TO`s, `X-` properties — is kept
//! verbatim and given back on every read ([`restore`]). So is a `DUE` with a time of day, as `X-PINIT-DUE`: it is
//! given back while the deadline is still its date.

use jiff::civil::Date;

use super::event::{EventError, keep_rest, only, replace, restore_with, texts, uid};
use crate::domain::{Difficulty, Importance, TaskId, Zone};
use crate::ical::content::Component;
use crate::ical::value::DateOrTime;

pub use crate::app::calendar::ClientTodo;

/// The app's own `DUE`, when it had a time of day.
const DUE: &str = "X-PINIT-DUE";

/// Properties Pinit represents (read into the task, or rewritten on every read).
const REPRESENTED: [&str; 14] = [
    "UID",
    "DTSTAMP",
    "SUMMARY",
    "DESCRIPTION",
    "DUE",
    "PRIORITY",
    "STATUS",
    "COMPLETED",
    "PERCENT-COMPLETE",
    "SEQUENCE",
    "CREATED",
    "LAST-MODIFIED",
    "X-PINIT-IMPORTANCE",
    "X-PINIT-DIFFICULTY",
];

/// Reads a `PUT` body to the Tasks calendar; a UTC `DUE` is read in `zone`; `task_of` resolves the UID a
/// `RELATED-TO;RELTYPE=DEPENDS-ON` names to a task of this calendar (one it does not know is kept verbatim).
pub fn read(
    body: &str,
    zone: &Zone,
    task_of: impl Fn(&str) -> Option<TaskId>,
) -> Result<ClientTodo, EventError> {
    let calendar = Component::parse(body)?;
    let todo = only(&calendar, "VTODO")?;
    let uid = uid(todo)?;
    let mut extra = Component::new("VTODO");
    let (title, description) = texts(todo, &mut extra)?;
    let due = match todo.property("DUE") {
        Some(p) => {
            let value = DateOrTime::from_property(p)?;
            if !matches!(value, DateOrTime::Date(_)) {
                let mut kept = p.clone();
                kept.name = DUE.into();
                extra.push(kept);
            }
            Some(date_of(&value, zone))
        }
        None => None,
    };
    let number = |name: &str| {
        todo.property(name)
            .and_then(|p| p.value.trim().parse::<i64>().ok())
    };
    let importance = match number("PRIORITY") {
        Some(p @ 1..=9) => Some(Importance::new(10 - p)),
        _ => number("X-PINIT-IMPORTANCE").map(Importance::new),
    }
    .transpose()
    .map_err(|error| EventError::Invalid {
        field: "PRIORITY",
        error,
    })?;
    let difficulty = number("X-PINIT-DIFFICULTY")
        .map(Difficulty::new)
        .transpose()
        .map_err(|error| EventError::Invalid {
            field: "X-PINIT-DIFFICULTY",
            error,
        })?;
    let status = todo
        .property("STATUS")
        .map(|p| p.value.trim().to_uppercase());
    let completed = match status.as_deref() {
        Some("COMPLETED") => true,
        Some(_) => false,
        None => todo.property("COMPLETED").is_some() || number("PERCENT-COMPLETE") == Some(100),
    };
    let mut prerequisites = Vec::new();
    keep_rest(todo, &REPRESENTED, &mut extra, |p| {
        let depends = p.name == "RELATED-TO"
            && p.param("RELTYPE")
                .is_some_and(|r| r.eq_ignore_ascii_case("DEPENDS-ON"));
        match task_of(p.value.trim()).filter(|_| depends) {
            Some(id) => {
                prerequisites.push(id);
                true
            }
            None => false,
        }
    });
    prerequisites.sort_unstable_by_key(|id| id.get());
    prerequisites.dedup();
    Ok(ClientTodo {
        uid,
        title,
        description,
        due,
        importance,
        difficulty,
        completed,
        prerequisites,
        extra: extra.to_ical(),
    })
}

/// The date a `DUE` names: its own for a date or a wall-clock time, `zone`'s for an instant in UTC.
fn date_of(value: &DateOrTime, zone: &Zone) -> Date {
    match value {
        DateOrTime::Date(date) => *date,
        DateOrTime::Zoned { local, .. } | DateOrTime::Floating(local) => local.date(),
        DateOrTime::Utc(at) => zone.local_date(*at),
    }
}

/// Gives an app's to-do back its own: its UID, no description when it had none, its `DUE` with a time of day
/// while the deadline is still on that date (`deadline`), and every line Pinit does not represent. `todo` is
/// the task's VTODO as `crate::ical::task::todo` writes it.
pub fn restore(todo: &mut Component, uid: &str, extra: &str, deadline: Date, zone: &Zone) {
    restore_with(todo, uid, extra, |todo, p| {
        if p.name != DUE {
            return false;
        }
        if let Ok(value) = DateOrTime::from_property(p)
            && date_of(&value, zone) == deadline
        {
            let mut due = p.clone();
            due.name = "DUE".into();
            replace(todo, due);
        }
        true
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ical::content::Property;

    fn zone() -> Zone {
        Zone::parse("Asia/Seoul").unwrap()
    }

    fn known(uid: &str) -> Option<TaskId> {
        uid.strip_prefix("pinit-task-")
            .and_then(|r| r.strip_suffix("@pinit"))
            .and_then(|n| n.parse().ok())
            .map(TaskId)
    }

    const TODO: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VTODO\r\nUID:todo-1@example.com\r\nDTSTAMP:20261201T000000Z\r\nSUMMARY:Write report\r\nDUE;TZID=Asia/Seoul:20261210T170000\r\nPRIORITY:1\r\nSTATUS:NEEDS-ACTION\r\nCATEGORIES:work\r\nRELATED-TO;RELTYPE=DEPENDS-ON:pinit-task-7@pinit\r\nRELATED-TO;RELTYPE=DEPENDS-ON:elsewhere@example.com\r\nRELATED-TO;RELTYPE=PARENT:pinit-task-8@pinit\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";

    #[test]
    fn a_todo_becomes_a_task_and_keeps_what_pinit_does_not_represent() {
        let t = read(TODO, &zone(), known).unwrap();
        assert_eq!(t.uid, "todo-1@example.com");
        assert_eq!(t.title.as_str(), "Write report");
        assert_eq!(
            t.description.as_str(),
            "Write report",
            "the title stands in"
        );
        assert_eq!(t.due, Some("2026-12-10".parse().unwrap()));
        assert_eq!(
            t.importance.map(Importance::get),
            Some(9),
            "PRIORITY 1 is the highest"
        );
        assert_eq!(t.difficulty, None);
        assert!(!t.completed);
        assert_eq!(t.prerequisites, vec![TaskId(7)]);
        for kept in [
            "CATEGORIES:work",
            "RELATED-TO;RELTYPE=DEPENDS-ON:elsewhere@example.com",
            "RELATED-TO;RELTYPE=PARENT:pinit-task-8@pinit",
            "BEGIN:VALARM",
            "X-PINIT-DUE;TZID=Asia/Seoul:20261210T170000",
        ] {
            assert!(t.extra.contains(kept), "{kept} in {}", t.extra);
        }
        assert!(!t.extra.contains("pinit-task-7"), "{}", t.extra);
        assert!(!t.extra.contains("PRIORITY"), "{}", t.extra);
    }

    #[test]
    fn completion_is_read_from_status_or_its_stand_ins() {
        let status = |s: &str| {
            read(&TODO.replace("STATUS:NEEDS-ACTION", s), &zone(), known)
                .unwrap()
                .completed
        };
        assert!(status("STATUS:COMPLETED\r\nCOMPLETED:20261201T000000Z"));
        assert!(!status("STATUS:IN-PROCESS"));
        assert!(status("PERCENT-COMPLETE:100"));
        assert!(status("COMPLETED:20261201T000000Z"));
        assert!(!status("PERCENT-COMPLETE:40"));
    }

    #[test]
    fn priority_zero_falls_back_to_pinits_own_number_and_bad_numbers_are_named() {
        let t = read(
            &TODO.replace("PRIORITY:1", "PRIORITY:0\r\nX-PINIT-IMPORTANCE:4"),
            &zone(),
            known,
        )
        .unwrap();
        assert_eq!(t.importance.map(Importance::get), Some(4));
        let none = read(&TODO.replace("PRIORITY:1\r\n", ""), &zone(), known).unwrap();
        assert_eq!(none.importance, None, "unchanged, or the default");
        let bad = read(
            &TODO.replace("PRIORITY:1", "X-PINIT-DIFFICULTY:4"),
            &zone(),
            known,
        );
        assert!(matches!(
            bad,
            Err(EventError::Invalid {
                field: "X-PINIT-DIFFICULTY",
                ..
            })
        ));
        assert!(matches!(
            read(&TODO.replace("VTODO", "VEVENT"), &zone(), known),
            Err(EventError::NotOne("VTODO"))
        ));
    }

    #[test]
    fn a_due_time_comes_back_while_the_deadline_keeps_its_date() {
        let t = read(TODO, &zone(), known).unwrap();
        let written = |due: &str| {
            Component::new("VTODO")
                .with(Property::raw("UID", "pinit-task-1@pinit"))
                .with(Property::text_value("DESCRIPTION", "Write report"))
                .with(Property::raw("DUE", due).with_param("VALUE", "DATE"))
        };
        let mut same = written("20261210");
        restore(
            &mut same,
            &t.uid,
            &t.extra,
            "2026-12-10".parse().unwrap(),
            &zone(),
        );
        let text = same.to_ical();
        assert!(
            text.contains("DUE;TZID=Asia/Seoul:20261210T170000"),
            "{text}"
        );
        assert!(!text.contains("VALUE=DATE"), "{text}");
        assert!(!text.contains("DESCRIPTION"), "{text}");
        assert!(text.contains("UID:todo-1@example.com"), "{text}");
        assert!(text.contains("BEGIN:VALARM"), "{text}");
        let mut moved = written("20261211");
        restore(
            &mut moved,
            &t.uid,
            &t.extra,
            "2026-12-11".parse().unwrap(),
            &zone(),
        );
        let text = moved.to_ical();
        assert!(
            text.contains("DUE;VALUE=DATE:20261211"),
            "Pinit's date stands: {text}"
        );
        assert!(!text.contains("X-PINIT-DUE"), "{text}");
    }
}
