//! What a WebDAV request asks, read from its body and headers: which properties (`PROPFIND`), which report
//! (`calendar-multiget`, `calendar-query` with a time range, `sync-collection`), and how deep.

use jiff::Timestamp;
use jiff::civil::DateTime;

use super::xml::{self, CALDAV, DAV, Element, Name, XmlError};

/// Why a request cannot be answered as asked (400, or 403 for an unsupported report).
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error("expected a <{0}> request body")]
    Unexpected(&'static str),
    #[error("this report is not supported: {0}")]
    UnsupportedReport(String),
    #[error(
        "a time-range needs start or end as a UTC date-time such as 20260101T000000Z, got {0:?}"
    )]
    TimeRange(String),
    #[error("Depth must be 0, 1 or infinity, got {0:?}")]
    Depth(String),
}

/// Which properties a request wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Props {
    /// `allprop` (or no body): every property that is cheap to give (not `calendar-data`).
    All,
    /// `propname`: their names only.
    Names,
    Some(Vec<Name>),
}

impl Props {
    fn of(parent: &Element) -> Props {
        if parent.child(DAV, "propname").is_some() {
            return Props::Names;
        }
        match parent.child(DAV, "prop") {
            Some(prop) => Props::Some(prop.children.iter().map(|c| c.name.clone()).collect()),
            None => Props::All,
        }
    }

    /// Whether `calendar-data` is asked for.
    pub fn wants(&self, ns: &str, local: &str) -> bool {
        matches!(self, Props::Some(names) if names.iter().any(|n| n.is(ns, local)))
    }
}

/// `PROPFIND`'s body (empty means `allprop`).
pub fn propfind(body: &str) -> Result<Props, RequestError> {
    if body.trim().is_empty() {
        return Ok(Props::All);
    }
    let root = xml::parse(body)?;
    if !root.is(DAV, "propfind") {
        return Err(RequestError::Unexpected("DAV:propfind"));
    }
    Ok(Props::of(&root))
}

/// How deep a `PROPFIND` goes: the resource, or it and its members. `infinity` is answered as 1 (a calendar
/// home holds calendars, which hold items: nothing deeper).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Zero,
    One,
}

pub fn depth(header: Option<&str>) -> Result<Depth, RequestError> {
    match header.map(str::trim) {
        None | Some("infinity") | Some("1") => Ok(Depth::One),
        Some("0") => Ok(Depth::Zero),
        Some(other) => Err(RequestError::Depth(other.to_string())),
    }
}

/// A time range: items overlapping `[start, end)`; either end may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
}

impl TimeRange {
    /// Whether `[from, to)` overlaps it.
    pub fn overlaps(&self, from: Timestamp, to: Timestamp) -> bool {
        self.start.is_none_or(|s| to > s) && self.end.is_none_or(|e| from < e)
    }
}

/// A `REPORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// `calendar-multiget`: these items.
    Multiget { props: Props, hrefs: Vec<String> },
    /// `calendar-query`: the items of a component (`VEVENT`) in a time range, or with a UID (a `prop-filter`
    /// on `UID` with a `text-match`, which clients use to find one event).
    Query {
        props: Props,
        component: Option<String>,
        range: TimeRange,
        uid: Option<String>,
    },
    /// `sync-collection` (RFC 6578): what changed since `token` (empty: everything).
    Sync { props: Props, token: String },
}

pub fn report(body: &str) -> Result<Report, RequestError> {
    let root = xml::parse(body)?;
    if root.is(CALDAV, "calendar-multiget") {
        let hrefs = root.all(DAV, "href").map(|h| h.text.clone()).collect();
        return Ok(Report::Multiget {
            props: Props::of(&root),
            hrefs,
        });
    }
    if root.is(CALDAV, "calendar-query") {
        let (component, range, uid) = match root.child(CALDAV, "filter") {
            Some(filter) => query_filter(filter)?,
            None => (None, TimeRange::default(), None),
        };
        return Ok(Report::Query {
            props: Props::of(&root),
            component,
            range,
            uid,
        });
    }
    if root.is(DAV, "sync-collection") {
        let token = root
            .child(DAV, "sync-token")
            .map(|t| t.text.clone())
            .unwrap_or_default();
        return Ok(Report::Sync {
            props: Props::of(&root),
            token,
        });
    }
    Err(RequestError::UnsupportedReport(format!(
        "{{{}}}{}",
        root.name.ns, root.name.local
    )))
}

/// The innermost component filter under `VCALENDAR` and its time range.
type QueryFilter = (Option<String>, TimeRange, Option<String>);

fn query_filter(filter: &Element) -> Result<QueryFilter, RequestError> {
    let mut component = None;
    let mut range = TimeRange::default();
    let mut uid = None;
    let mut current = filter.child(CALDAV, "comp-filter");
    while let Some(comp) = current {
        let name = comp
            .attribute("name")
            .unwrap_or_default()
            .to_ascii_uppercase();
        if name != "VCALENDAR" {
            component = Some(name);
        }
        for p in comp.all(CALDAV, "prop-filter") {
            if p.attribute("name")
                .is_some_and(|n| n.eq_ignore_ascii_case("UID"))
                && let Some(m) = p.child(CALDAV, "text-match")
            {
                uid = Some(m.text.clone());
            }
        }
        if let Some(t) = comp.child(CALDAV, "time-range") {
            range = TimeRange {
                start: t.attribute("start").map(utc).transpose()?,
                end: t.attribute("end").map(utc).transpose()?,
            };
        }
        current = comp.child(CALDAV, "comp-filter");
    }
    Ok((component, range, uid))
}

/// An iCalendar UTC date-time (`20260101T000000Z`).
fn utc(text: &str) -> Result<Timestamp, RequestError> {
    let bad = || RequestError::TimeRange(text.to_string());
    let local = text.strip_suffix('Z').ok_or_else(bad)?;
    DateTime::strptime("%Y%m%dT%H%M%S", local)
        .ok()
        .and_then(|dt| dt.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp())
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propfind_bodies() {
        assert_eq!(propfind("").unwrap(), Props::All);
        assert_eq!(
            propfind(r#"<propfind xmlns="DAV:"><allprop/></propfind>"#).unwrap(),
            Props::All
        );
        assert_eq!(
            propfind(r#"<propfind xmlns="DAV:"><propname/></propfind>"#).unwrap(),
            Props::Names
        );
        let some = propfind(
            r#"<d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/"><d:prop><d:resourcetype/><cs:getctag/></d:prop></d:propfind>"#,
        )
        .unwrap();
        assert_eq!(
            some,
            Props::Some(vec![
                Name::new(DAV, "resourcetype"),
                Name::new(xml::CS, "getctag")
            ])
        );
        assert!(propfind(r#"<x xmlns="DAV:"/>"#).is_err());
    }

    #[test]
    fn reports_as_clients_send_them() {
        let query = r#"<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
    <C:time-range start="20260101T000000Z" end="20260108T000000Z"/>
  </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"#;
        let Report::Query {
            props,
            component,
            range,
            uid: None,
        } = report(query).unwrap()
        else {
            panic!()
        };
        assert!(props.wants(CALDAV, "calendar-data"));
        assert_eq!(component.as_deref(), Some("VEVENT"));
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(range.start, Some(t("2026-01-01T00:00:00Z")));
        assert!(range.overlaps(t("2025-12-31T23:30:00Z"), t("2026-01-01T00:30:00Z")));
        assert!(!range.overlaps(t("2026-01-08T00:00:00Z"), t("2026-01-08T01:00:00Z")));

        let by_uid = r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:prop-filter name="UID"><c:text-match collation="i;octet">a@b</c:text-match></c:prop-filter></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"#;
        assert!(
            matches!(report(by_uid).unwrap(), Report::Query { uid: Some(u), .. } if u == "a@b")
        );

        let multiget = r#"<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop><d:href>/dav/1/schedules/2.ics</d:href><d:href>/dav/1/schedules/3.ics</d:href></c:calendar-multiget>"#;
        assert!(
            matches!(report(multiget).unwrap(), Report::Multiget { hrefs, .. } if hrefs.len() == 2)
        );

        let sync = r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token>urn:pinit:sync:5</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#;
        assert!(
            matches!(report(sync).unwrap(), Report::Sync { token, .. } if token == "urn:pinit:sync:5")
        );

        assert!(matches!(
            report(r#"<d:expand-property xmlns:d="DAV:"/>"#),
            Err(RequestError::UnsupportedReport(_))
        ));
        let bad_range = query.replace("20260101T000000Z", "2026-01-01");
        assert!(matches!(
            report(&bad_range),
            Err(RequestError::TimeRange(_))
        ));
    }

    #[test]
    fn depth_headers() {
        assert_eq!(depth(None).unwrap(), Depth::One);
        assert_eq!(depth(Some("0")).unwrap(), Depth::Zero);
        assert_eq!(depth(Some("infinity")).unwrap(), Depth::One);
        assert!(depth(Some("2")).is_err());
    }
}
