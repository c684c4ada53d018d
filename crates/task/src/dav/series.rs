//! A calendar app's edit of a repeating schedule (the body of a CalDAV `PUT` to a `series-{id}` item): the
//! repeating event — its `RRULE`, `EXDATE`s and `RDATE`s, title, description, type and time of day — and its
//! overrides (`RECURRENCE-ID`), one occurrence each. What the app changed is applied by
//! `crate::app::calendar` through the series use cases: an `EXDATE` added deletes that occurrence (what a phone
//! does to "delete this event"), an override changed edits that occurrence alone, a changed repeating event
//! edits every occurrence to come.
//!
//! Times are read as wall-clock times of the series' zone (a `TZID` of another zone, or UTC, is converted). What
//! Pinit does not represent of a repeating event (alarms, attendees, `X-` properties) is not kept: a repeating
//! schedule is Pinit's, and its item is written from it.

use jiff::civil::DateTime;

use super::event::{EventError, schedule_of, schedule_type, texts, uid};
pub use crate::app::calendar::{ClientOverride, ClientSeries};
use crate::domain::{Recurrence, ScheduleType, Zone};
use crate::ical::content::Component;
use crate::ical::value::DateOrTime;

/// Reads a `PUT` body to a series item whose zone is `zone`.
pub fn read(body: &str, zone: &Zone) -> Result<ClientSeries, EventError> {
    let calendar = Component::parse(body)?;
    let events: Vec<&Component> = calendar.components_named("VEVENT").collect();
    let (overrides, masters): (Vec<&Component>, Vec<&Component>) = events
        .into_iter()
        .partition(|e| e.property("RECURRENCE-ID").is_some());
    let [master] = masters.as_slice() else {
        return Err(EventError::Series(
            "a repeating schedule's item holds one repeating VEVENT (and its overrides)",
        ));
    };
    let series_uid = uid(master)?;
    let rrule = master.property("RRULE").ok_or(EventError::Series(
        "the repeating event lost its RRULE; to make it a one-off schedule, delete it and create one",
    ))?;
    let dtstart = master.property("DTSTART").ok_or(EventError::NoStart)?;
    let start = local(&DateOrTime::from_property(dtstart)?, zone, None, "DTSTART")?;
    let dates = |name: &str| -> Result<Vec<DateTime>, EventError> {
        let mut out = Vec::new();
        for p in master.properties_named(name) {
            for value in DateOrTime::list_from_property(p)? {
                out.push(local(&value, zone, Some(start), name)?);
            }
        }
        Ok(out)
    };
    let recurrence = Recurrence::new(&rrule.value, dates("EXDATE")?, dates("RDATE")?)?;
    let (title, description) = texts(master, &mut Component::new("VEVENT"))?;
    let mut read_overrides = Vec::new();
    for event in overrides {
        if uid(event)? != series_uid {
            return Err(EventError::Series(
                "an override has another UID than its repeating event",
            ));
        }
        let id = event.property("RECURRENCE-ID").ok_or(EventError::NoStart)?;
        let of = local(
            &DateOrTime::from_property(id)?,
            zone,
            Some(start),
            "RECURRENCE-ID",
        )?;
        read_overrides.push(ClientOverride {
            of,
            draft: schedule_of(event, zone, &mut Component::new("VEVENT"))?,
        });
    }
    Ok(ClientSeries {
        uid: series_uid,
        title,
        description,
        schedule_type: schedule_type(master).unwrap_or(ScheduleType::DeepWork),
        start,
        recurrence,
        overrides: read_overrides,
    })
}

/// A value as a wall-clock time of `zone`: a time in another zone or in UTC converted, a floating time as it is,
/// a date at `time_of`'s time of day (an all-day `EXDATE` of a timed series).
fn local(
    value: &DateOrTime,
    zone: &Zone,
    time_of: Option<DateTime>,
    property: &str,
) -> Result<DateTime, EventError> {
    Ok(match value {
        DateOrTime::Floating(local) => *local,
        DateOrTime::Zoned { tzid, local } if tzid == zone.id() => *local,
        DateOrTime::Date(date) => match time_of {
            Some(t) => date.to_datetime(t.time()),
            None => date.to_datetime(jiff::civil::Time::midnight()),
        },
        other => zone.local_date_time(other.instant(property, zone.time_zone())?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERIES: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:pinit-series-3@pinit\r\nDTSTAMP:20261201T000000Z\r\nDTSTART;TZID=Europe/Berlin:20261201T090000\r\nDTEND;TZID=Europe/Berlin:20261201T100000\r\nRRULE:FREQ=DAILY;COUNT=5\r\nEXDATE;TZID=Europe/Berlin:20261202T090000\r\nEXDATE:20261203T080000Z\r\nSUMMARY:Standup\r\nDESCRIPTION:daily\r\nCATEGORIES:QUICK_TASK\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:pinit-series-3@pinit\r\nDTSTAMP:20261201T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261204T090000\r\nDTSTART;TZID=Europe/Berlin:20261204T110000\r\nSUMMARY:Standup late\r\nDESCRIPTION:daily\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    fn zone() -> Zone {
        Zone::parse("Europe/Berlin").unwrap()
    }

    fn at(text: &str) -> DateTime {
        text.parse().unwrap()
    }

    #[test]
    fn a_series_item_reads_as_its_rule_exceptions_and_overrides() {
        let s = read(SERIES, &zone()).unwrap();
        assert_eq!(s.uid, "pinit-series-3@pinit");
        assert_eq!(s.title.as_str(), "Standup");
        assert_eq!(s.schedule_type, ScheduleType::QuickTask);
        assert_eq!(s.start, at("2026-12-01T09:00"));
        assert_eq!(s.recurrence.rrule, "FREQ=DAILY;COUNT=5");
        assert_eq!(
            s.recurrence.exdates,
            vec![at("2026-12-02T09:00"), at("2026-12-03T09:00")],
            "a UTC EXDATE in the series' zone"
        );
        let [o] = s.overrides.as_slice() else {
            panic!("one override: {:?}", s.overrides)
        };
        assert_eq!(o.of, at("2026-12-04T09:00"));
        assert_eq!(o.draft.title.as_str(), "Standup late");
        assert_eq!(
            o.draft.designated_start,
            "2026-12-04T10:00:00Z".parse::<jiff::Timestamp>().unwrap()
        );
    }

    #[test]
    fn what_cannot_be_a_series_is_refused_with_the_reason() {
        let z = zone();
        let no_rule = SERIES.replace("RRULE:FREQ=DAILY;COUNT=5\r\n", "");
        assert!(matches!(read(&no_rule, &z), Err(EventError::Series(_))));
        let bad_rule = SERIES.replace("FREQ=DAILY;COUNT=5", "FREQ=SOMETIMES");
        assert!(matches!(read(&bad_rule, &z), Err(EventError::Rule(_))));
        let other_uid = SERIES.replacen(
            "UID:pinit-series-3@pinit\r\nDTSTAMP:20261201T000000Z\r\nRECURRENCE-ID",
            "UID:other@x\r\nDTSTAMP:20261201T000000Z\r\nRECURRENCE-ID",
            1,
        );
        assert!(matches!(read(&other_uid, &z), Err(EventError::Series(_))));
    }
}
