//! Recurrence expansion against an independent implementation: python-dateutil's `rrule` (PyPI, test-only,
//! `tests/oracle/`) expands the same RRULE text from the same start in the same zone. Rules are generated over
//! FREQ, INTERVAL, COUNT/UNTIL, BYDAY (with ordinals), BYMONTHDAY (negative too), BYMONTH, BYSETPOS and WKST,
//! starts at any quarter hour (DST gaps and folds included) in zones with DST — America/New_York,
//! Europe/Berlin, Australia/Lord_Howe (a 30-minute shift) — and without.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use jiff::Timestamp;
use jiff::civil::DateTime;
use pinit_task::domain::recurrence::{Rule, Series};
use pinit_task::domain::time::Zone;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

const CASES: usize = 600;
const LIMIT: usize = 40;
const YEARS: i64 = 8;
const ZONES: [&str; 5] = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Asia/Seoul",
    "UTC",
];
const DAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

/// One generated case: the RRULE text, the start (wall clock) and the zone.
#[derive(Debug, Clone)]
struct Case {
    rrule: String,
    start: DateTime,
    zone: &'static str,
}

/// A BYDAY list: plain weekdays, or (under MONTHLY and YEARLY, half the time) weekdays with positions. Never
/// both in one list: dateutil requires a day to match a plain entry *and* a numbered one, where RFC 5545 (and
/// Pinit) take any entry — so `MO,-1FR` would differ by dateutil's reading, not by a defect.
fn by_day(ordinals: bool) -> BoxedStrategy<String> {
    let plain = prop::collection::vec(0usize..7, 1..4).prop_map(|days| {
        days.into_iter()
            .map(|d| DAYS[d].to_string())
            .collect::<Vec<_>>()
            .join(",")
    });
    if !ordinals {
        return plain.boxed();
    }
    let numbered = prop::collection::vec((prop_oneof![1i8..=5, -5i8..=-1], 0usize..7), 1..4)
        .prop_map(|days| {
            days.into_iter()
                .map(|(n, d)| format!("{n}{}", DAYS[d]))
                .collect::<Vec<_>>()
                .join(",")
        });
    prop_oneof![plain, numbered].boxed()
}

fn numbers(values: impl Strategy<Value = i32> + 'static, max: usize) -> BoxedStrategy<String> {
    prop::collection::vec(values, 1..=max)
        .prop_map(|v| v.iter().map(i32::to_string).collect::<Vec<_>>().join(","))
        .boxed()
}

fn case() -> impl Strategy<Value = Case> {
    let freq = prop_oneof![
        Just("DAILY"),
        Just("WEEKLY"),
        Just("MONTHLY"),
        Just("YEARLY")
    ];
    let start = (2024i16..2031, 1i8..=12, 1i8..=28, 0i8..24, 0i8..4)
        .prop_map(|(y, m, d, h, q)| jiff::civil::date(y, m, d).at(h, q * 15, 0, 0));
    (
        freq,
        1u8..=3,
        0u8..3,
        1u32..=25,
        0i64..(3 * 366),
        start,
        0usize..ZONES.len(),
        any::<[bool; 5]>(),
        0usize..7,
    )
        .prop_flat_map(
            |(freq, interval, end, count, until_days, start, zone, parts, wkst)| {
                let ordinals = matches!(freq, "MONTHLY" | "YEARLY");
                let day = if parts[0] {
                    by_day(ordinals).prop_map(Some).boxed()
                } else {
                    Just(None).boxed()
                };
                // With BYMONTH, days every month has: February 30 would make a rule without dates, which
                // dateutil searches for until the year 9999.
                let last = if parts[2] { 28 } else { 31 };
                let month_day = if parts[1] && freq != "WEEKLY" {
                    numbers(prop_oneof![1i32..=last, -last..=-1i32], 3)
                        .prop_map(Some)
                        .boxed()
                } else {
                    Just(None).boxed()
                };
                let month = if parts[2] {
                    numbers(1i32..=12, 3).prop_map(Some).boxed()
                } else {
                    Just(None).boxed()
                };
                let set_pos = numbers(prop_oneof![1i32..=3, -3i32..=-1], 2);
                (day, month_day, month, set_pos).prop_map(
                    move |(day, month_day, month, set_pos)| {
                        let mut rule = format!("FREQ={freq}");
                        if interval > 1 {
                            rule += &format!(";INTERVAL={interval}");
                        }
                        match end {
                            1 => rule += &format!(";COUNT={count}"),
                            2 => {
                                // An instant near the start plus some days (the zone's offset does not matter).
                                let until = start
                                    .checked_add(jiff::Span::new().days(until_days))
                                    .unwrap();
                                rule += &format!(";UNTIL={}Z", until.strftime("%Y%m%dT%H%M%S"));
                            }
                            _ => {}
                        }
                        // BYSETPOS only where the rule takes nothing from the start (see the oracle's notes).
                        let chooses_days = day.is_some() || month_day.is_some();
                        // (A daily period has one date: BYSETPOS=2 there would make a rule without dates.)
                        let set_pos_allowed = chooses_days && freq != "DAILY";
                        for (name, value) in [
                            ("BYDAY", day),
                            ("BYMONTHDAY", month_day),
                            ("BYMONTH", month),
                        ] {
                            if let Some(value) = value {
                                rule += &format!(";{name}={value}");
                            }
                        }
                        if parts[3] && set_pos_allowed {
                            rule += &format!(";BYSETPOS={set_pos}");
                        }
                        if parts[4] {
                            rule += &format!(";WKST={}", DAYS[wkst]);
                        }
                        Case {
                            rrule: rule,
                            start,
                            zone: ZONES[zone],
                        }
                    },
                )
            },
        )
}

/// The oracle's Python (a virtual environment with tests/oracle/requirements.txt), or `None` to skip.
fn oracle_python() -> Option<std::path::PathBuf> {
    let requirements =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/requirements.txt");
    pinit_testkit::python::venv(&requirements)
}

#[test]
fn expansion_matches_python_dateutil() {
    let Some(python) = oracle_python() else {
        return;
    };
    let mut runner = TestRunner::deterministic();
    let strategy = case();
    let cases: Vec<Case> = (0..CASES)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();

    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/rrule_oracle.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the oracle");
    // Written from a thread: the oracle answers as it reads, and both pipes must keep flowing.
    let mut stdin = child.stdin.take().unwrap();
    let lines: Vec<String> = cases
        .iter()
        .enumerate()
        .map(|(id, case)| {
            json!({"id": id, "rrule": case.rrule, "dtstart": case.start.to_string(),
                "zone": case.zone, "limit": LIMIT, "years": YEARS})
            .to_string()
        })
        .collect();
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
    assert_eq!(answers.len(), cases.len());

    let mut compared = 0;
    let mut occurrences = 0;
    let mut skipped = 0;
    for answer in answers {
        let case = &cases[answer["id"].as_u64().unwrap() as usize];
        let rule = Rule::parse(&case.rrule)
            .unwrap_or_else(|e| panic!("{}: we refuse a rule dateutil takes: {e}", case.rrule));
        if answer["skipped"].is_string() {
            skipped += 1;
            continue;
        }
        if let Some(error) = answer["error"].as_str() {
            panic!(
                "{}: dateutil refuses it ({error}) but we do not",
                case.rrule
            );
        }
        let expected: Vec<&str> = answer["local"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        if expected.is_empty() {
            // No date of the rule within the horizon: dateutil has no start to anchor on.
            continue;
        }
        let start: DateTime = answer["dtstart"].as_str().unwrap().parse().unwrap();
        let zone = Zone::parse(case.zone).unwrap();
        let horizon = start.checked_add(jiff::Span::new().years(YEARS)).unwrap();
        let series = Series {
            start,
            zone,
            rule,
            exdates: Vec::new(),
            rdates: Vec::new(),
        };
        let ours: Vec<_> = series
            .occurrences()
            .take_while(|o| o.local <= horizon)
            .take(LIMIT)
            .collect();
        let ours_local: Vec<String> = ours.iter().map(|o| o.local.to_string()).collect();
        let expected_local: Vec<String> = expected
            .iter()
            .map(|s| s.parse::<DateTime>().unwrap().to_string())
            .collect();
        assert_eq!(
            ours_local, expected_local,
            "RRULE:{} from {start} in {}",
            case.rrule, case.zone
        );
        let expected_utc: Vec<Timestamp> = answer["utc"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().parse().unwrap())
            .collect();
        let ours_utc: Vec<Timestamp> = ours.iter().map(|o| o.at).collect();
        assert_eq!(
            ours_utc, expected_utc,
            "instants of RRULE:{} from {start} in {}",
            case.rrule, case.zone
        );
        compared += 1;
        occurrences += ours.len();
    }
    eprintln!(
        "{compared} of {CASES} rules compared, {occurrences} occurrences; {skipped} too slow for dateutil"
    );
    assert!(skipped < CASES / 20, "few rules without dates");
    assert!(
        compared > CASES / 2,
        "most generated rules have occurrences"
    );
}
