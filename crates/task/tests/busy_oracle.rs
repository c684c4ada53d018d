//! Busy time from other calendars against an independent expander: Python's `recurring-ical-events` (PyPI,
//! test-only, `tests/oracle/busy_oracle.py`) expands the fixtures — Google-, Outlook- and Apple-style exports in
//! `tests/fixtures/busy/` (X-WR-TIMEZONE with UTC and floating times, Windows zone names with their VTIMEZONEs,
//! all-day events, RRULE with EXDATE, RDATE and RECURRENCE-ID overrides moved or cancelled, cancelled and free
//! events, DURATION) — and Pinit's reader and expansion (`ical::busy::read`, `BusyEvent::blocks`) must give the
//! same busy intervals over the same windows, read in several zones (floating times and dates are the reader's).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use jiff::Timestamp;
use pinit_task::domain::busy::Block;
use pinit_task::domain::{Window, Zone};
use pinit_task::ical::busy::read;
use serde_json::{Value, json};

const FIXTURES: [&str; 3] = ["google.ics", "outlook.ics", "apple.ics"];
const READERS: [&str; 3] = ["Asia/Seoul", "America/Los_Angeles", "Europe/Berlin"];

/// The windows compared: half a year, and weeks around DST changes and overrides (their edges cut events).
const WINDOWS: [(&str, &str); 6] = [
    ("2026-01-01T00:00:00Z", "2026-07-01T00:00:00Z"),
    ("2026-02-16T00:00:00Z", "2026-02-23T00:00:00Z"),
    ("2026-03-02T08:30:00Z", "2026-03-09T08:30:00Z"),
    ("2026-03-23T00:00:00Z", "2026-03-30T12:00:00Z"),
    ("2026-03-28T00:00:00Z", "2026-04-04T00:00:00Z"),
    ("2027-05-20T00:00:00Z", "2027-06-01T00:00:00Z"),
];

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/busy")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn ask(python: &std::path::Path, cases: &[Value]) -> Vec<Value> {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/busy_oracle.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the oracle");
    let mut stdin = child.stdin.take().expect("stdin");
    let lines: Vec<String> = cases.iter().map(Value::to_string).collect();
    let writer = std::thread::spawn(move || {
        for line in lines {
            writeln!(stdin, "{line}").expect("write a case");
        }
    });
    let answers: Vec<Value> = BufReader::new(child.stdout.take().expect("stdout"))
        .lines()
        .map(|l| serde_json::from_str(&l.expect("a line")).expect("JSON"))
        .collect();
    writer.join().expect("writer");
    assert!(child.wait().expect("wait").success(), "the oracle failed");
    answers
}

fn ours(ics: &str, zone: &str, window: &Window) -> Vec<Value> {
    let calendar = read(ics, "ics").expect("the fixture reads");
    assert_eq!(calendar.skipped, 0, "every VEVENT is read");
    assert_eq!(calendar.unsupported_rules, 0, "every RRULE is supported");
    let reader = Zone::parse(zone).expect("zone");
    let mut blocks: Vec<Value> = calendar
        .events
        .iter()
        .flat_map(|e| e.blocks(&reader, window))
        .map(|b: Block| {
            json!([
                b.uid,
                b.start.as_second(),
                b.end.as_second(),
                b.all_day,
                b.title
            ])
        })
        .collect();
    blocks.sort_by_key(|v| v.to_string());
    blocks
}

fn sorted(blocks: &Value) -> Vec<Value> {
    let mut v: Vec<Value> = blocks.as_array().cloned().unwrap_or_default();
    v.sort_by_key(|v| v.to_string());
    v
}

#[test]
fn busy_blocks_match_recurring_ical_events() {
    let requirements =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/requirements.txt");
    let Some(python) = pinit_testkit::python::venv(&requirements) else {
        return;
    };
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for name in FIXTURES {
        let ics = fixture(name);
        for zone in READERS {
            for (from, to) in WINDOWS {
                let window = Window {
                    start: from.parse::<Timestamp>().expect("from"),
                    end: to.parse::<Timestamp>().expect("to"),
                };
                let id = format!("{name} {zone} {from}..{to}");
                cases.push(json!({
                    "id": id, "ics": ics, "zone": zone,
                    "from": window.start.as_second(), "to": window.end.as_second(),
                }));
                expected.push((id, ours(&ics, zone, &window)));
            }
        }
    }
    let answers = ask(&python, &cases);
    assert_eq!(answers.len(), expected.len());
    let mut total = 0;
    for (answer, (id, ours)) in answers.iter().zip(&expected) {
        assert_eq!(answer["id"], id.as_str());
        assert!(answer.get("error").is_none(), "{id}: {}", answer["error"]);
        let theirs = sorted(&answer["blocks"]);
        assert_eq!(
            &theirs, ours,
            "{id}: recurring-ical-events (left) and Pinit (right) differ"
        );
        total += ours.len();
    }
    // The half-year windows alone hold dozens of blocks per fixture: the comparison is not vacuous.
    assert!(total > 300, "only {total} blocks compared");
}
