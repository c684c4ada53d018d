//! `docs/asyncapi.yaml` and the payload types cannot drift: the document is rendered from the types' field
//! lists, and every field list is checked against what serde actually writes and accepts.

use pinit_contracts::asyncapi;
use pinit_contracts::events::{
    EventPayload, FieldKind, MemberCreated, MemberDeleted, ScheduleDeleted, ScheduleDetailsUpdated,
    ScheduleStateChanged, ScheduleTimeUpcomingState, TaskCanceled, TaskCompleted, TaskCreated,
};
use serde_json::{Map, Value};

fn sample(kind: FieldKind) -> Value {
    match kind {
        FieldKind::Int64 => Value::from(1),
        FieldKind::String => Value::from("x"),
        FieldKind::DateTime => Value::from("2026-02-08T01:00:00Z"),
        FieldKind::Enum(values) => Value::from(values[0]),
        FieldKind::Durations => Value::from(vec!["PT0S"]),
        FieldKind::EnumList(values) => Value::from(vec![values[0]]),
    }
}

fn check<P: EventPayload>() {
    let name = P::MESSAGE;
    // What serde writes is exactly the documented fields, in the documented order.
    let text = serde_json::to_string(&P::example()).unwrap();
    let written: Value = serde_json::from_str(&text).unwrap();
    let mut keys: Vec<&str> = written
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    // Wire order: where each key appears in the serialized text.
    keys.sort_by_key(|k| text.find(&format!("\"{k}\":")));
    let documented: Vec<&str> = P::FIELDS.iter().map(|f| f.name).collect();
    assert_eq!(
        keys, documented,
        "{name}: serialized keys vs documented fields"
    );
    for f in P::FIELDS {
        let v = &written[f.name];
        match f.kind {
            FieldKind::Int64 => assert!(v.is_i64(), "{name}.{} is an int64", f.name),
            FieldKind::DateTime => {
                let s = v.as_str().unwrap();
                assert!(
                    s.parse::<jiff::Timestamp>().is_ok() && (s.ends_with('Z') || s.contains('+')),
                    "{name}.{}: {s}",
                    f.name
                );
            }
            FieldKind::Enum(values) => {
                assert!(values.contains(&v.as_str().unwrap()), "{name}.{}", f.name)
            }
            FieldKind::String => assert!(v.is_string(), "{name}.{}", f.name),
            FieldKind::Durations => assert!(
                v.as_array().unwrap().iter().all(|d| d
                    .as_str()
                    .is_some_and(|d| d.parse::<jiff::SignedDuration>().is_ok())),
                "{name}.{}: {v}",
                f.name
            ),
            FieldKind::EnumList(values) => assert!(
                v.as_array()
                    .unwrap()
                    .iter()
                    .all(|x| x.as_str().is_some_and(|x| values.contains(&x))),
                "{name}.{}: {v}",
                f.name
            ),
        }
    }
    // Only the required fields (plus our extras and an unknown key) are enough to decode.
    let mut minimal = Map::new();
    for f in P::FIELDS.iter().filter(|f| f.required) {
        minimal.insert(f.name.into(), sample(f.kind));
    }
    minimal.insert("aggregateVersion".into(), Value::from(3));
    minimal.insert("somethingNew".into(), Value::from(true));
    serde_json::from_value::<P>(Value::Object(minimal.clone()))
        .unwrap_or_else(|e| panic!("{name}: required fields suffice: {e}"));
    // And each required field really is required (a nullable one is always sent, but read leniently as
    // absent = null); each nullable one accepts null.
    for f in P::FIELDS {
        let mut m = minimal.clone();
        if f.required && !f.nullable {
            m.remove(f.name);
            assert!(
                serde_json::from_value::<P>(Value::Object(m.clone())).is_err(),
                "{name}.{} is documented as required",
                f.name
            );
        }
        if f.nullable {
            m.insert(f.name.into(), Value::Null);
            assert!(
                serde_json::from_value::<P>(Value::Object(m)).is_ok(),
                "{name}.{} is documented as nullable",
                f.name
            );
        }
    }
}

#[test]
fn field_lists_match_serde() {
    check::<MemberCreated>();
    check::<MemberDeleted>();
    check::<ScheduleTimeUpcomingState>();
    check::<ScheduleDeleted>();
    check::<ScheduleStateChanged>();
    check::<ScheduleDetailsUpdated>();
    check::<TaskCreated>();
    check::<TaskCompleted>();
    check::<TaskCanceled>();
}

#[test]
fn docs_asyncapi_yaml_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/asyncapi.yaml");
    let expected = asyncapi::document();
    if std::env::var_os("PINIT_BLESS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let found = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        found == expected,
        "docs/asyncapi.yaml is out of date with the payload types; regenerate it with \
         `PINIT_BLESS=1 cargo test -p pinit-contracts --test asyncapi` and review the diff"
    );
}
