//! Tasks as VTODOs (CalDAV's Tasks calendar).
//!
//! * `UID`: `pinit-task-{id}@pinit`; `SEQUENCE` = the row's version − 1.
//! * `SUMMARY` = title, `DESCRIPTION`, `DUE;VALUE=DATE` = the deadline's date (a task has no time of day).
//! * `PRIORITY` from importance: Pinit's 1..=9 with 9 the most important is iCalendar's 9..=1 with 1 the highest
//!   (`PRIORITY = 10 − importance`); `X-PINIT-IMPORTANCE` and `X-PINIT-DIFFICULTY` keep Pinit's own numbers.
//! * `STATUS:COMPLETED` with `COMPLETED` (its last change, Pinit keeps no completion time) and
//!   `PERCENT-COMPLETE:100`, else `STATUS:NEEDS-ACTION`.
//! * A prerequisite as `RELATED-TO;RELTYPE=DEPENDS-ON` (RFC 9253) naming its UID.

use jiff::Timestamp;

use super::content::{Component, Property};
use super::schedule::UID_DOMAIN;
use super::value::{format_date, format_utc};
use crate::domain::{Task, TaskId};

/// `pinit-task-{id}@pinit`.
pub fn task_uid(id: TaskId) -> String {
    format!("pinit-task-{}@{UID_DOMAIN}", id.get())
}

/// The task a [`task_uid`] names.
pub fn task_of_uid(uid: &str) -> Option<TaskId> {
    uid.strip_prefix("pinit-task-")?
        .strip_suffix(&format!("@{UID_DOMAIN}"))?
        .parse()
        .ok()
        .map(TaskId)
}

/// What a task's VTODO is written from.
#[derive(Debug, Clone, Copy)]
pub struct TaskEntry<'a> {
    pub task: &'a Task,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The UIDs of the tasks that must be completed first.
    pub prerequisites: &'a [String],
}

/// The VTODO of a task, stamped `stamp`.
pub fn todo(entry: &TaskEntry<'_>, stamp: Timestamp) -> Component {
    let t = entry.task;
    let f = t.fields();
    let mut todo = Component::new("VTODO")
        .with(Property::raw("UID", task_uid(t.id())))
        .with(Property::raw("DTSTAMP", format_utc(stamp)))
        .with(Property::raw(
            "SEQUENCE",
            (entry.version - 1).max(0).to_string(),
        ))
        .with(Property::raw("CREATED", format_utc(entry.created_at)))
        .with(Property::raw("LAST-MODIFIED", format_utc(entry.updated_at)))
        .with(Property::text_value("SUMMARY", f.title.as_str()))
        .with(Property::text_value("DESCRIPTION", f.description.as_str()))
        .with(Property::raw("DUE", format_date(f.deadline.date())).with_param("VALUE", "DATE"))
        .with(Property::raw(
            "PRIORITY",
            (10 - i64::from(f.importance.get())).to_string(),
        ))
        .with(Property::raw(
            "X-PINIT-IMPORTANCE",
            f.importance.get().to_string(),
        ))
        .with(Property::raw(
            "X-PINIT-DIFFICULTY",
            f.difficulty.get().to_string(),
        ));
    if t.is_completed() {
        todo.push(Property::raw("STATUS", "COMPLETED"));
        todo.push(Property::raw("COMPLETED", format_utc(entry.updated_at)));
        todo.push(Property::raw("PERCENT-COMPLETE", "100"));
    } else {
        todo.push(Property::raw("STATUS", "NEEDS-ACTION"));
    }
    for p in entry.prerequisites {
        todo.push(Property::raw("RELATED-TO", p.as_str()).with_param("RELTYPE", "DEPENDS-ON"));
    }
    todo
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        Deadline, Description, Difficulty, Importance, MemberId, TaskFields, Title, Zone,
    };

    #[test]
    fn a_task_is_a_todo_with_its_priority_due_date_and_prerequisites() {
        let fields = TaskFields {
            title: Title::parse("발표, 준비").unwrap(),
            description: Description::parse("slides").unwrap(),
            deadline: Deadline::new(
                "2030-01-31".parse().unwrap(),
                Zone::parse("Asia/Seoul").unwrap(),
            )
            .unwrap(),
            importance: Importance::new(8).unwrap(),
            difficulty: Difficulty::new(5).unwrap(),
        };
        let task = Task::restore(TaskId(3), MemberId(1), fields, true);
        let at: Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        let text = todo(
            &TaskEntry {
                task: &task,
                version: 4,
                created_at: at,
                updated_at: at,
                prerequisites: &[task_uid(TaskId(2))],
            },
            at,
        )
        .to_ical();
        for line in [
            "UID:pinit-task-3@pinit",
            "SUMMARY:발표\\, 준비",
            "DUE;VALUE=DATE:20300131",
            "PRIORITY:2",
            "STATUS:COMPLETED",
            "SEQUENCE:3",
            "RELATED-TO;RELTYPE=DEPENDS-ON:pinit-task-2@pinit",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        assert_eq!(task_of_uid(&task_uid(TaskId(3))), Some(TaskId(3)));
        assert_eq!(task_of_uid("pinit-task-3@example.com"), None);
    }
}
