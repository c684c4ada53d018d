//! The iCalendar writer against an independent reader: Python's `icalendar` (PyPI, test-only, `tests/oracle/`)
//! parses calendars Pinit writes — schedules with generated titles and descriptions (unicode, commas,
//! semicolons, backslashes, quotes, new lines, lines long enough to fold), in zones with DST, a 30-minute DST
//! shift, none, a fixed offset and UTC, and series with RRULE (COUNT, UNTIL as a date, a wall-clock time and an
//! instant), EXDATE, RDATE and a moved occurrence — and must read back the same values;
//! `recurring-ical-events` must expand the same occurrences as Pinit's own expansion; and every VTIMEZONE, read
//! from its observances alone (not looked up by name), must give jiff's offset at every time the calendar uses
//! and around every transition among them.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use jiff::civil::{DateTime, date};
use jiff::{SignedDuration, Timestamp};
use pinit_task::domain::{
    Description, Inherited, MemberId, Recurrence, Reminders, Schedule, ScheduleDraft, ScheduleId,
    ScheduleType, SeriesId, SeriesSpec, Title, Zone,
};
use pinit_task::ical::content::Property;
use pinit_task::ical::{CalendarWriter, ScheduleEntry, SeriesEntry, schedule_uid, series_uid};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

const CASES: usize = 120;
const ZONES: [&str; 7] = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Asia/Seoul",
    "UTC",
    "+05:30",
    "America/Sao_Paulo",
];
/// Characters of generated texts: what escaping, quoting and folding must get right.
const CHARS: &[char] = &[
    'a', 'Z', '0', ' ', ',', ';', ':', '\\', '"', '\'', '^', '가', '한', 'é', 'ß', '€', '😀',
    '\u{3000}',
];

fn from() -> Timestamp {
    "2024-12-01T00:00:00Z".parse().unwrap()
}

fn to() -> Timestamp {
    "2026-06-01T00:00:00Z".parse().unwrap()
}

#[derive(Debug, Clone)]
struct OneOff {
    title: String,
    description: String,
    start: Timestamp,
    version: i64,
}

#[derive(Debug, Clone)]
struct SeriesCase {
    rrule: String,
    start: DateTime,
    exdates: usize,
    rdate: bool,
    moved: bool,
    title: String,
}

#[derive(Debug, Clone)]
struct Case {
    zone: &'static str,
    one_offs: Vec<OneOff>,
    series: Vec<SeriesCase>,
}

fn text(max: usize, newlines: bool) -> impl Strategy<Value = String> {
    let mut chars: Vec<char> = CHARS.to_vec();
    if newlines {
        chars.push('\n');
    }
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(chars), 0..max)
            .prop_map(|cs| format!("T{}", cs.into_iter().collect::<String>())),
        // A long line: folding across multi-byte characters.
        1 => Just(format!("L{}", "한😀,".repeat(24))),
    ]
    .prop_map(move |s| {
        // At most the domain's length (UTF-16 units): cut at a character.
        let mut out = String::new();
        for c in s.chars() {
            if out.encode_utf16().count() + c.len_utf16() > if newlines { 100 } else { 20 } {
                break;
            }
            out.push(c);
        }
        out
    })
}

fn instant() -> impl Strategy<Value = Timestamp> {
    (0i64..(365 * 24 * 4)).prop_map(|quarters| {
        "2025-01-01T00:00:00Z"
            .parse::<Timestamp>()
            .unwrap()
            .checked_add(SignedDuration::from_mins(quarters * 15))
            .unwrap()
    })
}

fn series_case() -> impl Strategy<Value = SeriesCase> {
    let start = (1i8..=12, 1i8..=28, 0i8..24, 0i8..4)
        .prop_map(|(m, d, h, q)| date(2025, m, d).at(h, q * 15, 0, 0));
    (
        prop::sample::select(vec!["DAILY", "WEEKLY", "MONTHLY"]),
        1u8..=3,
        0u8..4,
        2u32..=30,
        10i64..300,
        start,
        (0usize..3, any::<bool>(), any::<bool>(), any::<bool>()),
        text(12, false),
    )
        .prop_map(
            |(
                freq,
                interval,
                end,
                count,
                until_days,
                start,
                (exdates, rdate, moved, byday),
                title,
            )| {
                let mut rule = format!("FREQ={freq}");
                if interval > 1 {
                    rule += &format!(";INTERVAL={interval}");
                }
                let until = start
                    .checked_add(jiff::Span::new().days(until_days))
                    .unwrap();
                match end {
                    0 => rule += &format!(";COUNT={count}"),
                    1 => rule += &format!(";UNTIL={}", until.strftime("%Y%m%d")),
                    2 => rule += &format!(";UNTIL={}", until.strftime("%Y%m%dT%H%M%S")),
                    _ => rule += &format!(";UNTIL={}Z", until.strftime("%Y%m%dT%H%M%S")),
                }
                if freq == "WEEKLY" && byday {
                    // The start's own weekday and the one after: the start is a date of the rule.
                    let days = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
                    let i = start.weekday().to_monday_zero_offset() as usize;
                    rule += &format!(";BYDAY={},{}", days[i], days[(i + 1) % 7]);
                }
                SeriesCase {
                    rrule: rule,
                    start,
                    exdates,
                    rdate,
                    moved,
                    title,
                }
            },
        )
}

fn case() -> impl Strategy<Value = Case> {
    (
        0usize..ZONES.len(),
        prop::collection::vec(
            (text(12, false), text(60, true), instant(), 1i64..5).prop_map(
                |(title, description, start, version)| OneOff {
                    title,
                    description,
                    start,
                    version,
                },
            ),
            0..4,
        ),
        prop::collection::vec(series_case(), 0..3),
    )
        .prop_map(|(zone, one_offs, series)| Case {
            zone: ZONES[zone],
            one_offs,
            series,
        })
}

fn schedule(id: i64, title: &str, description: &str, start: Timestamp) -> Schedule {
    let draft = ScheduleDraft::new(
        Title::parse(title).unwrap(),
        Description::parse(description).unwrap(),
        ScheduleType::QuickTask,
        start,
    );
    Schedule::create(
        ScheduleId(id),
        MemberId(1),
        None,
        draft,
        &Inherited::new(None, Reminders::at_start()),
    )
    .0
}

/// An event as read back: (uid, recurrence-id) → (summary, description, dtstart, sequence).
type Events = BTreeMap<(String, Option<i64>), (String, Option<String>, i64, i64)>;

/// What one case is expected to read back as.
struct Expected {
    ics: String,
    events: Events,
    occurrences: Vec<(String, i64)>,
    samples: Vec<i64>,
    zone: Zone,
}

fn build(case: &Case) -> Expected {
    let zone = Zone::parse(case.zone).unwrap();
    let stamp: Timestamp = "2025-06-01T12:00:00Z".parse().unwrap();
    let created: Timestamp = "2024-12-01T00:00:00Z".parse().unwrap();
    let mut writer = CalendarWriter::new(stamp);
    writer.property(Property::text_value("NAME", "Pinit, planned"));
    let mut events = BTreeMap::new();
    let mut occurrences = Vec::new();
    let mut used: Vec<Timestamp> = Vec::new();
    let schedules: Vec<Schedule> = case
        .one_offs
        .iter()
        .enumerate()
        .map(|(i, o)| schedule(i as i64 + 1, &o.title, &o.description, o.start))
        .collect();
    for (s, o) in schedules.iter().zip(&case.one_offs) {
        let event = writer.schedule_event(&ScheduleEntry {
            schedule: s,
            zone: &zone,
            version: o.version,
            created_at: created,
            updated_at: created,
        });
        writer.component(event);
        let uid = schedule_uid(s.id());
        events.insert(
            (uid.clone(), None),
            (
                o.title.clone(),
                Some(o.description.replace('\r', "")),
                o.start.as_second(),
                o.version - 1,
            ),
        );
        occurrences.push((uid, o.start.as_second()));
        used.push(o.start);
    }
    let specs: Vec<SeriesSpec> = case
        .series
        .iter()
        .map(|c| {
            let base = Recurrence::new(&c.rrule, vec![], vec![]).unwrap();
            let plain = SeriesSpec {
                title: Title::parse(c.title.as_str()).unwrap(),
                description: Description::parse("a series").unwrap(),
                schedule_type: ScheduleType::DeepWork,
                start: c.start,
                zone: zone.clone(),
                recurrence: base.clone(),
                planned: None,
            };
            let firsts: Vec<DateTime> = plain
                .pattern()
                .occurrences()
                .take(6)
                .map(|o| o.local)
                .collect();
            // EXDATEs of the 2nd and 3rd dates; an RDATE between the first two at another time.
            let exdates: Vec<DateTime> = firsts.iter().skip(1).take(c.exdates).copied().collect();
            let rdates = if c.rdate {
                vec![c.start.checked_add(jiff::Span::new().hours(5)).unwrap()]
            } else {
                vec![]
            };
            SeriesSpec {
                recurrence: Recurrence::new(&c.rrule, exdates, rdates).unwrap(),
                ..plain
            }
        })
        .collect();
    let mut moved_schedules = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let made: Vec<_> = spec.pattern().between(from(), to()).take(5000).collect();
        let moved = if case.series[i].moved {
            made.last().copied()
        } else {
            None
        };
        if let Some(m) = moved {
            let at = m.at.checked_add(SignedDuration::from_hours(2)).unwrap();
            moved_schedules.push((m, schedule(1000 + i as i64, "moved", "moved one", at)));
        }
    }
    for (i, spec) in specs.iter().enumerate() {
        let id = SeriesId(i as i64 + 1);
        let uid = series_uid(id);
        let made: Vec<_> = spec.pattern().between(from(), to()).take(5000).collect();
        let moved = moved_schedules
            .iter()
            .find(|(_, s)| s.id().get() == 1000 + i as i64);
        let overrides: Vec<_> = moved
            .map(|(m, s)| {
                (
                    m.local,
                    ScheduleEntry {
                        schedule: s,
                        zone: &zone,
                        version: 4,
                        created_at: created,
                        updated_at: created,
                    },
                )
            })
            .into_iter()
            .collect();
        for event in writer.series_events(
            &SeriesEntry {
                id,
                spec,
                version: 2,
                created_at: created,
                updated_at: created,
            },
            &overrides,
        ) {
            writer.component(event);
        }
        let first = zone.resolve(spec.start).unwrap();
        events.insert(
            (uid.clone(), None),
            (
                spec.title.as_str().to_owned(),
                Some("a series".into()),
                first.as_second(),
                1,
            ),
        );
        for o in &made {
            used.push(o.at);
            match moved {
                Some((m, s)) if m.local == o.local => {
                    occurrences.push((uid.clone(), s.designated_start().as_second()));
                    events.insert(
                        (uid.clone(), Some(o.at.as_second())),
                        (
                            "moved".into(),
                            Some("moved one".into()),
                            s.designated_start().as_second(),
                            3,
                        ),
                    );
                    used.push(s.designated_start());
                }
                _ => occurrences.push((uid.clone(), o.at.as_second())),
            }
        }
    }
    occurrences.sort();
    // Samples: every time used, and an hour either side of each transition between the first and the last.
    let mut samples: Vec<i64> = used.iter().map(|t| t.as_second()).collect();
    if let (Some(first), Some(last)) = (used.iter().min(), used.iter().max()) {
        for t in zone.time_zone().following(*first) {
            if t.timestamp() > *last {
                break;
            }
            for d in [-3600, 0, 3600] {
                samples.push(t.timestamp().as_second() + d);
            }
        }
    }
    Expected {
        ics: writer.finish().to_ical(),
        events,
        occurrences,
        samples,
        zone,
    }
}

fn oracle_python() -> Option<std::path::PathBuf> {
    let requirements =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/requirements.txt");
    pinit_testkit::python::venv(&requirements)
}

/// Runs the oracle on `cases` (JSON lines in, one answer per line out).
pub fn ask(python: &std::path::Path, cases: Vec<Value>) -> Vec<Value> {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/ical_oracle.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the oracle");
    let mut stdin = child.stdin.take().unwrap();
    let lines: Vec<String> = cases.iter().map(Value::to_string).collect();
    let writer = std::thread::spawn(move || {
        for line in lines {
            writeln!(stdin, "{line}").unwrap();
        }
    });
    let answers: Vec<Value> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    writer.join().unwrap();
    assert!(child.wait().unwrap().success(), "the oracle failed");
    answers
}

#[test]
fn python_icalendar_reads_what_pinit_writes() {
    let Some(python) = oracle_python() else {
        return;
    };
    let mut runner = TestRunner::deterministic();
    let strategy = case();
    let cases: Vec<Case> = (0..CASES)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();
    let expected: Vec<Expected> = cases.iter().map(build).collect();
    let answers = ask(
        &python,
        expected
            .iter()
            .enumerate()
            .map(|(id, e)| {
                json!({"id": id, "ics": e.ics, "from": from().as_second(), "to": to().as_second(),
                    "samples": e.samples})
            })
            .collect(),
    );
    assert_eq!(answers.len(), cases.len());
    let (mut events, mut occurrences, mut samples) = (0, 0, 0);
    for answer in answers {
        let id = answer["id"].as_u64().unwrap() as usize;
        let (case, want) = (&cases[id], &expected[id]);
        let context = || format!("case {id}: {case:?}\n{}", want.ics);
        if let Some(error) = answer["error"].as_str() {
            panic!("icalendar refused it: {error}\n{}", context());
        }
        assert_eq!(
            answer["calendar"]["NAME"],
            "Pinit, planned",
            "{}",
            context()
        );
        let mut got = BTreeMap::new();
        for e in answer["events"].as_array().unwrap() {
            let key = (
                e["uid"].as_str().unwrap().to_owned(),
                e["recurrenceId"].as_i64(),
            );
            if want.zone.id() != "UTC" {
                assert_eq!(e["tzid"].as_str(), Some(want.zone.id()), "{}", context());
            }
            assert_eq!(
                e["dtend"].as_i64().unwrap() - e["dtstart"].as_i64().unwrap(),
                3600,
                "{}",
                context()
            );
            got.insert(
                key,
                (
                    e["summary"].as_str().unwrap().to_owned(),
                    e["description"].as_str().map(str::to_owned),
                    e["dtstart"].as_i64().unwrap(),
                    e["sequence"].as_i64().unwrap(),
                ),
            );
        }
        assert_eq!(got, want.events, "{}", context());
        events += got.len();
        let mut expanded: Vec<(String, i64)> = answer["occurrences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (o[0].as_str().unwrap().to_owned(), o[1].as_i64().unwrap()))
            .collect();
        expanded.sort();
        assert_eq!(expanded, want.occurrences, "{}", context());
        occurrences += expanded.len();
        if let Some(offsets) = answer["zones"][want.zone.id()].as_array() {
            for (at, offset) in want.samples.iter().zip(offsets) {
                let jiff = want
                    .zone
                    .offset_at(Timestamp::from_second(*at).unwrap())
                    .seconds();
                assert_eq!(
                    offset.as_i64(),
                    Some(i64::from(jiff)),
                    "offset at {at} in {}\n{}",
                    want.zone.id(),
                    context()
                );
                samples += 1;
            }
        }
    }
    eprintln!(
        "{CASES} calendars: {events} events read back, {occurrences} occurrences expanded alike, \
         {samples} VTIMEZONE offsets checked"
    );
    assert!(occurrences > CASES, "the cases expand to occurrences");
    assert!(samples > CASES, "the zones are checked");
}
