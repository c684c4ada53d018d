//! CalDAV (RFC 4791 on WebDAV, RFC 4918): a member's schedules as a calendar that phone and desktop calendar
//! apps can subscribe to and keep in sync (docs/calendar.md). The gateway authenticates (an app password over
//! HTTP Basic) and hands the member here like any other request.
//!
//! * [`resource`] — the URL space: root → principal and calendar home → the Schedules calendar → items.
//! * [`request`] — what a `PROPFIND` or `REPORT` asks (properties, depth, time range, sync token).
//! * [`xml`] — reading request bodies, writing `multistatus`.
//!
//! * [`event`] — a calendar app's event as a schedule, and what Pinit keeps of it verbatim.
//! * [`todo`] — a calendar app's to-do as a task, the same way.
//! * [`series`] — a calendar app's edit of a repeating schedule: deleted and edited occurrences, the rule.
//!
//! Served: `OPTIONS`, `PROPFIND` (depth 0 and 1), `GET`/`HEAD` of an item (strong `ETag`, `If-None-Match`),
//! the reports `calendar-multiget`, `calendar-query` (component and time range) and `sync-collection`
//! (RFC 6578; deletions from the tombstones), and `PUT`/`DELETE` of items with `If-Match`/`If-None-Match`
//! (412 on a stale write), through the same use cases as the JSON API.

pub mod event;
pub mod request;
pub mod resource;
pub mod series;
pub mod todo;
pub mod xml;

use std::collections::{HashMap, HashSet};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use jiff::{SignedDuration, Timestamp};
use pinit_kernel::{ApiError, CurrentMember};

use self::request::{Depth, Props, Report, RequestError};
use self::resource::{Collection, Resource};
use self::xml::{CALDAV, CS, DAV, ICAL, Name, Value};
use crate::TaskApp;
use crate::app::calendar::{
    Expect, ScheduleCalendar, SyncToken, Tokens, arrange, etag, series_etag, task_etag,
};
use crate::domain::{Edge, MemberId, PlannedDuration, ScheduleId, SeriesId, TaskId, Zone};
use crate::ical;
use crate::ical::schedule::{CalendarWriter, ScheduleEntry, SeriesEntry};
use crate::ical::task::TaskEntry;
use crate::store::Kind;
use crate::store::calendar_objects::CalendarObject;
use crate::store::schedules::StoredSchedule;
use crate::store::series::StoredSeries;
use crate::store::tasks::StoredTask;
use crate::store::tombstones::Tombstone;

/// The methods served (the `Allow` header).
const ALLOW: &str = "OPTIONS, GET, HEAD, PROPFIND, REPORT, PUT, DELETE";

/// A sync token's URI form (RFC 6578 wants a URI).
const TOKEN_PREFIX: &str = "urn:pinit:sync:";

/// The CalDAV routes (`/dav`, `/dav/…`); the gateway sends them here with the member authenticated.
pub fn routes(app: TaskApp) -> Router {
    Router::new()
        .route("/dav", any(handle))
        .route("/dav/", any(handle))
        .route("/dav/{*path}", any(handle))
        .with_state(app)
}

/// Why a DAV request failed.
#[derive(Debug, thiserror::Error)]
enum DavError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    App(#[from] crate::AppError),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    NotAllowed,
    #[error("the sync token is not one this calendar gave out")]
    InvalidSyncToken,
    #[error(transparent)]
    Event(#[from] event::EventError),
    #[error("a new repeating schedule is made in Pinit; calendar apps can change and delete one")]
    ReadOnly,
}

impl IntoResponse for DavError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            DavError::Request(RequestError::UnsupportedReport(_)) => {
                (StatusCode::FORBIDDEN, error_body("<d:supported-report/>"))
            }
            DavError::Request(e) => (StatusCode::BAD_REQUEST, e.to_string()),
            DavError::App(crate::AppError::CalendarPrecondition) => (
                StatusCode::PRECONDITION_FAILED,
                "the event changed since it was read (its ETag no longer matches)".into(),
            ),
            DavError::App(crate::AppError::CalendarUidTaken(uid)) => (
                StatusCode::FORBIDDEN,
                error_body(&format!(
                    "<c:no-uid-conflict/><d:responsedescription>another event has the UID {}</d:responsedescription>",
                    xml::escape(&uid)
                )),
            ),
            DavError::App(
                e @ (crate::AppError::CalendarNoOccurrence(_)
                | crate::AppError::CalendarNothingAhead
                | crate::AppError::SeriesKeepsItsDays
                | crate::AppError::SeriesWithoutOccurrence),
            ) => (StatusCode::FORBIDDEN, invalid_object(&e.to_string())),
            DavError::App(e) => return ApiError::from(e).into_response(),
            DavError::Event(e) => (StatusCode::FORBIDDEN, invalid_object(&e.to_string())),
            DavError::NotFound => (StatusCode::NOT_FOUND, "not found".into()),
            DavError::NotAllowed => {
                let mut r = (StatusCode::METHOD_NOT_ALLOWED, "").into_response();
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(ALLOW));
                return r;
            }
            DavError::ReadOnly => (
                StatusCode::FORBIDDEN,
                error_body(
                    "<d:need-privileges/><d:responsedescription>a new repeating schedule is made in Pinit; calendar apps can change and delete one</d:responsedescription>",
                ),
            ),
            DavError::InvalidSyncToken => {
                (StatusCode::FORBIDDEN, error_body("<d:valid-sync-token/>"))
            }
        };
        let kind = if body.starts_with("<?xml") {
            "application/xml; charset=utf-8"
        } else {
            "text/plain; charset=utf-8"
        };
        (status, [(header::CONTENT_TYPE, kind)], body).into_response()
    }
}

/// 403 `valid-calendar-object-resource` with the reason.
fn invalid_object(reason: &str) -> String {
    error_body(&format!(
        "<c:valid-calendar-object-resource/><d:responsedescription>{}</d:responsedescription>",
        xml::escape(reason)
    ))
}

fn error_body(condition: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:error xmlns:d=\"{DAV}\" xmlns:c=\"{CALDAV}\">{condition}</d:error>"
    )
}

async fn handle(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Result<Response, DavError> {
    let resource = Resource::parse(uri.path(), member).ok_or(DavError::NotFound)?;
    if method == Method::OPTIONS {
        return Ok(options());
    }
    let (provisioned, tokens) = app.calendar(member).await?;
    let objects = app.calendar_objects(member, Kind::Schedule).await?;
    let task_objects = app.calendar_objects(member, Kind::Task).await?;
    let dav = Dav {
        app,
        member,
        zone: provisioned.zone,
        tokens,
        objects,
        task_objects,
    };
    match method.as_str() {
        "PROPFIND" => {
            let depth = request::depth(header_str(&headers, "depth"))?;
            dav.propfind(resource, depth, &request::propfind(&body)?)
                .await
        }
        "REPORT" => dav.report(resource, request::report(&body)?).await,
        "GET" | "HEAD" => {
            let Resource::Item(c, name) = &resource else {
                return Err(DavError::NotAllowed);
            };
            dav.get(*c, name, &headers, method == Method::HEAD).await
        }
        "PUT" => {
            let Resource::Item(c, name) = &resource else {
                return Err(DavError::NotAllowed);
            };
            match (c, series_of(name)) {
                (Collection::Tasks, _) => dav.put_task(name, &headers, &body).await,
                (Collection::Schedules, Some(id)) => {
                    dav.put_series(name, id, &headers, &body).await
                }
                (Collection::Schedules, None) => dav.put(name, &headers, &body).await,
            }
        }
        "DELETE" => {
            let Resource::Item(c, name) = &resource else {
                return Err(DavError::NotAllowed);
            };
            let (app, member, expect) = (&dav.app, dav.member, expect(&headers));
            match (c, series_of(name)) {
                (Collection::Tasks, _) => app.calendar_delete_task(member, name, expect).await?,
                (Collection::Schedules, Some(id)) => {
                    app.calendar_delete_series(member, id, expect).await?;
                }
                (Collection::Schedules, None) => app.calendar_delete(member, name, expect).await?,
            }
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(DavError::NotAllowed),
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A write's precondition: `If-Match: "…"`, `If-None-Match: *`, or none.
fn expect(headers: &HeaderMap) -> Expect {
    if let Some(tag) = header_str(headers, "if-match") {
        return Expect::Tag(tag.trim().to_string());
    }
    match header_str(headers, "if-none-match") {
        Some(v) if v.trim() == "*" => Expect::Absent,
        _ => Expect::Anything,
    }
}

fn options() -> Response {
    let mut r = StatusCode::OK.into_response();
    let h = r.headers_mut();
    h.insert("dav", HeaderValue::from_static("1, 3, calendar-access"));
    h.insert(header::ALLOW, HeaderValue::from_static(ALLOW));
    r
}

fn multistatus(responses: &[xml::Response], token: Option<SyncToken>) -> Response {
    let mut out = xml::multistatus_open();
    for r in responses {
        r.write(&mut out);
    }
    if let Some(token) = token {
        out.push_str(&format!(
            "<d:sync-token>{}</d:sync-token>",
            xml::escape(&token_uri(token))
        ));
    }
    out.push_str(xml::MULTISTATUS_CLOSE);
    (
        StatusCode::MULTI_STATUS,
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        out,
    )
        .into_response()
}

fn token_uri(token: SyncToken) -> String {
    format!("{TOKEN_PREFIX}{}", token.0)
}

/// A calendar item: a schedule (in the zone it is shown in), a repeating schedule as one item with its
/// overrides ([`crate::app::calendar::arrange`]), or a task with the tasks it waits for.
enum Item {
    Schedule(StoredSchedule, Zone),
    Series(StoredSeries, Vec<StoredSchedule>),
    Task(StoredTask, Vec<TaskId>),
}

/// A series' item name: `series-{id}`.
const SERIES_PREFIX: &str = "series-";

/// The series an item name names (`series-{id}`).
fn series_of(name: &str) -> Option<SeriesId> {
    name.strip_prefix(SERIES_PREFIX)?.parse().ok().map(SeriesId)
}

/// One member's request: who, the zone their schedules are shown in, their calendars' tokens as the request
/// began, and what calendar apps put in them (by schedule id, by task id).
struct Dav {
    app: TaskApp,
    member: MemberId,
    zone: Zone,
    tokens: Tokens,
    objects: HashMap<i64, CalendarObject>,
    task_objects: HashMap<i64, CalendarObject>,
}

impl Dav {
    fn token(&self, c: Collection) -> SyncToken {
        match c {
            Collection::Schedules => self.tokens.schedules,
            Collection::Tasks => self.tokens.tasks,
        }
    }

    async fn propfind(
        &self,
        resource: Resource,
        depth: Depth,
        props: &Props,
    ) -> Result<Response, DavError> {
        let first = match &resource {
            Resource::Item(c, name) => {
                let item = self.item(*c, name).await?;
                self.describe_item(&item, props)
            }
            other => self.describe(other.clone(), props, None),
        };
        let mut responses = vec![first];
        if depth == Depth::One {
            match resource {
                Resource::Home => {
                    for c in Collection::ALL {
                        responses.push(self.describe(Resource::Collection(c), props, None));
                    }
                }
                Resource::Collection(c) => {
                    for item in self.items(c).await? {
                        responses.push(self.describe_item(&item, props));
                    }
                }
                Resource::Root | Resource::Item(..) => {}
            }
        }
        Ok(multistatus(&responses, None))
    }

    /// Every item of a collection.
    async fn items(&self, c: Collection) -> Result<Vec<Item>, DavError> {
        Ok(match c {
            Collection::Schedules => {
                let cal = self.app.calendar_schedules(self.member).await?;
                self.arranged(&cal)
            }
            Collection::Tasks => {
                let (tasks, edges) = self.app.calendar_tasks(self.member).await?;
                with_prerequisites(tasks, &edges)
            }
        })
    }

    /// The Schedules calendar's items made of `cal`.
    fn arranged(&self, cal: &ScheduleCalendar) -> Vec<Item> {
        let arranged = arrange(&cal.schedules, &cal.series, &cal.zones, &self.zone);
        let singles = arranged
            .singles
            .into_iter()
            .map(|(s, z)| Item::Schedule(s.clone(), z.clone()));
        let series = arranged.series.into_iter().map(|(s, overrides)| {
            Item::Series(s.clone(), overrides.into_iter().cloned().collect())
        });
        singles.chain(series).collect()
    }

    /// The items these names name in a collection (an occurrence shown inside its series is not an item);
    /// for the Schedules calendar without reading every schedule.
    async fn named(&self, c: Collection, names: &[&str]) -> Result<Vec<Item>, DavError> {
        if c == Collection::Tasks {
            return self.items(c).await;
        }
        let mut schedules = Vec::new();
        let mut series = Vec::new();
        for name in names {
            if let Some(id) = series_of(name) {
                series.push(id);
            } else if let Some(o) = self.objects.values().find(|o| o.name == *name) {
                schedules.push(ScheduleId(o.id));
            } else if let Ok(id) = name.parse() {
                schedules.push(ScheduleId(id));
            }
        }
        let cal = self
            .app
            .calendar_schedules_of(self.member, &schedules, &series)
            .await?;
        Ok(self.arranged(&cal))
    }

    /// The item a name names in a collection.
    async fn item(&self, c: Collection, name: &str) -> Result<Item, DavError> {
        self.named(c, &[name])
            .await?
            .into_iter()
            .find(|i| self.name_of(i) == name)
            .ok_or(DavError::NotFound)
    }

    /// An item's name: a schedule's app-given name, else its id.
    fn name_of(&self, item: &Item) -> String {
        match item {
            Item::Series(s, _) => format!("{SERIES_PREFIX}{}", s.series.id.get()),
            Item::Schedule(s, _) => {
                let id = s.schedule.id().get();
                self.objects
                    .get(&id)
                    .map_or_else(|| id.to_string(), |o| o.name.clone())
            }
            Item::Task(t, _) => {
                let id = t.task.id().get();
                self.task_objects
                    .get(&id)
                    .map_or_else(|| id.to_string(), |o| o.name.clone())
            }
        }
    }

    fn resource_of(&self, item: &Item) -> Resource {
        let c = match item {
            Item::Schedule(..) | Item::Series(..) => Collection::Schedules,
            Item::Task(..) => Collection::Tasks,
        };
        Resource::Item(c, self.name_of(item))
    }

    /// A task's UID: an app's for a task it made, else Pinit's.
    fn task_uid(&self, id: TaskId) -> String {
        self.task_objects
            .get(&id.get())
            .map_or_else(|| ical::task::task_uid(id), |o| o.uid.clone())
    }

    /// An item's UID: an app's for a schedule or task it made, else Pinit's.
    fn uid_of(&self, item: &Item) -> String {
        match item {
            Item::Series(s, _) => ical::schedule::series_uid(s.series.id),
            Item::Schedule(s, _) => {
                let id = s.schedule.id();
                self.objects
                    .get(&id.get())
                    .map_or_else(|| ical::schedule::schedule_uid(id), |o| o.uid.clone())
            }
            Item::Task(t, _) => self.task_uid(t.task.id()),
        }
    }

    /// When an item is: a schedule's planned length (an hour when not set), a task's due day.
    fn span_of(&self, item: &Item) -> (Timestamp, Timestamp) {
        match item {
            // The app expands the rule itself: a repeating item answers every time range.
            Item::Series(..) => (Timestamp::MIN, Timestamp::MAX),
            Item::Schedule(s, _) => {
                let start = s.schedule.designated_start();
                let end = start
                    .checked_add(PlannedDuration::shown(s.schedule.planned()))
                    .unwrap_or(start);
                (start, end)
            }
            Item::Task(t, _) => {
                let deadline = &t.task.fields().deadline;
                let start = deadline
                    .zone()
                    .start_of_day(deadline.date())
                    .unwrap_or(Timestamp::MIN);
                let end = start
                    .checked_add(SignedDuration::from_hours(24))
                    .unwrap_or(start);
                (start, end)
            }
        }
    }

    fn etag_of(item: &Item) -> String {
        match item {
            Item::Schedule(s, _) => etag(s),
            Item::Series(s, overrides) => series_etag(s, overrides),
            Item::Task(t, _) => task_etag(t),
        }
    }

    async fn put(&self, name: &str, headers: &HeaderMap, body: &str) -> Result<Response, DavError> {
        let event = event::read(body, &self.zone)?;
        let written = self
            .app
            .calendar_put(self.member, name, expect(headers), event)
            .await?;
        Ok(written_response(written.created, &etag(&written.stored)))
    }

    /// `PUT` of a repeating schedule's item (an existing series: a new one is made in Pinit).
    async fn put_series(
        &self,
        name: &str,
        id: SeriesId,
        headers: &HeaderMap,
        body: &str,
    ) -> Result<Response, DavError> {
        let zone = match self.item(Collection::Schedules, name).await {
            Ok(Item::Series(s, _)) => s.series.spec.zone,
            Ok(_) | Err(DavError::NotFound) => return Err(DavError::ReadOnly),
            Err(e) => return Err(e),
        };
        let client = series::read(body, &zone)?;
        let tag = self
            .app
            .calendar_put_series(self.member, id, expect(headers), client)
            .await?;
        Ok(written_response(false, &tag))
    }

    /// `PUT` of a to-do to the Tasks calendar.
    async fn put_task(
        &self,
        name: &str,
        headers: &HeaderMap,
        body: &str,
    ) -> Result<Response, DavError> {
        let todo = todo::read(body, &self.zone, |uid| self.task_of(uid))?;
        let written = self
            .app
            .calendar_put_task(self.member, name, expect(headers), todo)
            .await?;
        Ok(written_response(
            written.created,
            &task_etag(&written.stored),
        ))
    }

    /// The task a UID names in the Tasks calendar: an app's, or Pinit's own `pinit-task-{id}@pinit`.
    fn task_of(&self, uid: &str) -> Option<TaskId> {
        self.task_objects
            .values()
            .find(|o| o.uid == uid)
            .map(|o| TaskId(o.id))
            .or_else(|| ical::task::task_of_uid(uid))
    }

    async fn get(
        &self,
        c: Collection,
        name: &str,
        headers: &HeaderMap,
        head: bool,
    ) -> Result<Response, DavError> {
        let item = self.item(c, name).await?;
        let tag = Self::etag_of(&item);
        if header_str(headers, "if-none-match")
            .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"))
        {
            let mut r = StatusCode::NOT_MODIFIED.into_response();
            r.headers_mut().insert(header::ETAG, value(&tag));
            return Ok(r);
        }
        let body = if head {
            Body::empty()
        } else {
            Body::from(self.calendar_data(&item))
        };
        let mut r = Response::new(body);
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/calendar; charset=utf-8"),
        );
        h.insert(header::ETAG, value(&tag));
        Ok(r)
    }

    async fn report(&self, resource: Resource, report: Report) -> Result<Response, DavError> {
        let Resource::Collection(c) = resource else {
            return Err(DavError::Request(RequestError::UnsupportedReport(
                "reports are answered on a calendar collection".into(),
            )));
        };
        match report {
            Report::Multiget { props, hrefs } => {
                let names: Vec<(String, Option<String>)> = hrefs
                    .into_iter()
                    .map(|href| {
                        let name = match Resource::parse(&href_path(&href), self.member) {
                            Some(Resource::Item(hc, name)) if hc == c => Some(name),
                            _ => None,
                        };
                        (href, name)
                    })
                    .collect();
                let wanted: Vec<&str> = names.iter().filter_map(|(_, n)| n.as_deref()).collect();
                let items = self.named(c, &wanted).await?;
                let responses = names
                    .iter()
                    .map(|(href, name)| {
                        let found = name
                            .as_ref()
                            .and_then(|n| items.iter().find(|i| self.name_of(i) == *n));
                        match found {
                            Some(item) => self.describe_item(item, &props),
                            None => xml::Response {
                                href: href.clone(),
                                status: Some("HTTP/1.1 404 Not Found"),
                                ..xml::Response::default()
                            },
                        }
                    })
                    .collect::<Vec<_>>();
                Ok(multistatus(&responses, None))
            }
            Report::Query {
                props,
                component,
                range,
                uid,
            } => {
                let wanted = match c {
                    Collection::Schedules => "VEVENT",
                    Collection::Tasks => "VTODO",
                };
                if component.as_deref().is_some_and(|n| n != wanted) {
                    return Ok(multistatus(&[], None));
                }
                let items = self.items(c).await?;
                let responses: Vec<xml::Response> = items
                    .iter()
                    .filter(|i| {
                        let (from, to) = self.span_of(i);
                        range.overlaps(from, to)
                    })
                    .filter(|i| uid.as_ref().is_none_or(|u| *u == self.uid_of(i)))
                    .map(|i| self.describe_item(i, &props))
                    .collect();
                Ok(multistatus(&responses, None))
            }
            Report::Sync {
                props,
                token: since,
            } => {
                let since = if since.trim().is_empty() {
                    SyncToken(0)
                } else {
                    parse_token(&since)
                        .filter(|t| *t <= self.token(c))
                        .ok_or(DavError::InvalidSyncToken)?
                };
                let (changed, deleted, token) = match c {
                    Collection::Schedules => {
                        let ch = self.app.calendar_changes(self.member, since).await?;
                        let mut deleted: Vec<String> =
                            ch.deleted.iter().map(tombstone_name).collect();
                        deleted.extend(
                            ch.series
                                .iter()
                                .filter(|(_, gone)| *gone)
                                .map(|(id, _)| format!("{SERIES_PREFIX}{}", id.get())),
                        );
                        let touched: HashSet<i64> = ch
                            .changed
                            .iter()
                            .filter_map(|s| s.occurrence.map(|of| of.series.get()))
                            .chain(ch.series.iter().map(|(id, _)| id.get()))
                            .collect();
                        let changed: HashSet<i64> =
                            ch.changed.iter().map(|s| s.schedule.id().get()).collect();
                        let ids: Vec<ScheduleId> =
                            ch.changed.iter().map(|s| s.schedule.id()).collect();
                        let series: Vec<SeriesId> =
                            touched.iter().map(|id| SeriesId(*id)).collect();
                        let subset = self
                            .app
                            .calendar_schedules_of(self.member, &ids, &series)
                            .await?;
                        let items = self
                            .arranged(&subset)
                            .into_iter()
                            .filter(|i| match i {
                                Item::Schedule(s, _) => changed.contains(&s.schedule.id().get()),
                                Item::Series(s, _) => touched.contains(&s.series.id.get()),
                                Item::Task(..) => false,
                            })
                            .collect();
                        (items, deleted, ch.token)
                    }
                    Collection::Tasks => {
                        let ch = self.app.calendar_task_changes(self.member, since).await?;
                        let (_, edges) = self.app.calendar_tasks(self.member).await?;
                        let deleted = ch.deleted.iter().map(tombstone_name).collect();
                        (with_prerequisites(ch.changed, &edges), deleted, ch.token)
                    }
                };
                let mut responses: Vec<xml::Response> = changed
                    .iter()
                    .map(|i| self.describe_item(i, &props))
                    .collect();
                // A first sync lists what exists; later ones also say what went.
                if since.0 > 0 {
                    responses.extend(deleted.iter().map(|name| xml::Response {
                        href: resource::item(self.member, c, name),
                        status: Some("HTTP/1.1 404 Not Found"),
                        ..xml::Response::default()
                    }));
                }
                Ok(multistatus(&responses, Some(token)))
            }
        }
    }

    fn describe_item(&self, item: &Item, props: &Props) -> xml::Response {
        self.describe(self.resource_of(item), props, Some(item))
    }

    /// One resource's `response`: the properties asked for that it has, and the ones it does not.
    fn describe(&self, resource: Resource, props: &Props, item: Option<&Item>) -> xml::Response {
        let available = self.properties(&resource, item, props);
        let mut response = xml::Response {
            href: resource.href(self.member),
            ..xml::Response::default()
        };
        match props {
            Props::All => response.found = available,
            Props::Names => {
                response.found = available
                    .into_iter()
                    .map(|(n, _)| (n, Value::Empty))
                    .collect()
            }
            Props::Some(names) => {
                for name in names {
                    match available.iter().find(|(n, _)| n == name) {
                        Some(found) => response.found.push(found.clone()),
                        None => response.missing.push(name.clone()),
                    }
                }
            }
        }
        response
    }

    /// Every property of a resource (`calendar-data` only when asked for: it is the item itself).
    fn properties(
        &self,
        resource: &Resource,
        item: Option<&Item>,
        props: &Props,
    ) -> Vec<(Name, Value)> {
        let href = |h: String| Value::Xml(format!("<d:href>{}</d:href>", xml::escape(&h)));
        let principal = resource::home(self.member);
        let mut out = vec![(
            Name::new(DAV, "current-user-principal"),
            href(principal.clone()),
        )];
        let collection = "<d:collection/>";
        match resource {
            Resource::Root => {
                out.push((
                    Name::new(DAV, "resourcetype"),
                    Value::Xml(collection.into()),
                ));
                out.push((Name::new(DAV, "displayname"), Value::Text("Pinit".into())));
            }
            Resource::Home => {
                out.push((
                    Name::new(DAV, "resourcetype"),
                    Value::Xml(format!("{collection}<d:principal/>")),
                ));
                out.push((Name::new(DAV, "displayname"), Value::Text("Pinit".into())));
                out.push((Name::new(DAV, "principal-URL"), href(principal.clone())));
                out.push((
                    Name::new(CALDAV, "calendar-home-set"),
                    href(principal.clone()),
                ));
                out.push((Name::new(DAV, "owner"), href(principal)));
            }
            Resource::Collection(c) => {
                let (name, component, color, privileges) = match c {
                    Collection::Schedules => (
                        "Pinit schedules",
                        "VEVENT",
                        "#3B82F6",
                        "<d:privilege><d:read/></d:privilege><d:privilege><d:write/></d:privilege>",
                    ),
                    Collection::Tasks => (
                        "Pinit tasks",
                        "VTODO",
                        "#10B981",
                        "<d:privilege><d:read/></d:privilege><d:privilege><d:write/></d:privilege>",
                    ),
                };
                let token = self.token(*c);
                out.push((
                    Name::new(DAV, "resourcetype"),
                    Value::Xml(format!("{collection}<c:calendar/>")),
                ));
                out.push((Name::new(DAV, "displayname"), Value::Text(name.into())));
                out.push((
                    Name::new(CALDAV, "supported-calendar-component-set"),
                    Value::Xml(format!("<c:comp name=\"{component}\"/>")),
                ));
                out.push((
                    Name::new(DAV, "supported-report-set"),
                    Value::Xml(
                        ["c:calendar-multiget", "c:calendar-query", "d:sync-collection"]
                            .iter()
                            .map(|r| {
                                format!(
                                    "<d:supported-report><d:report><{r}/></d:report></d:supported-report>"
                                )
                            })
                            .collect(),
                    ),
                ));
                out.push((Name::new(CS, "getctag"), Value::Text(token.0.to_string())));
                out.push((Name::new(DAV, "sync-token"), Value::Text(token_uri(token))));
                out.push((Name::new(ICAL, "calendar-color"), Value::Text(color.into())));
                out.push((
                    Name::new(DAV, "current-user-privilege-set"),
                    Value::Xml(privileges.into()),
                ));
                out.push((Name::new(DAV, "owner"), href(principal)));
            }
            Resource::Item(c, _) => {
                let component = match c {
                    Collection::Schedules => "VEVENT",
                    Collection::Tasks => "VTODO",
                };
                out.push((Name::new(DAV, "resourcetype"), Value::Empty));
                out.push((
                    Name::new(DAV, "getcontenttype"),
                    Value::Text(format!(
                        "text/calendar; charset=utf-8; component={component}"
                    )),
                ));
                if let Some(item) = item {
                    out.push((Name::new(DAV, "getetag"), Value::Text(Self::etag_of(item))));
                    if props.wants(CALDAV, "calendar-data") {
                        out.push((
                            Name::new(CALDAV, "calendar-data"),
                            Value::Text(self.calendar_data(item)),
                        ));
                    }
                }
            }
        }
        out
    }

    /// An item as a one-component calendar: a schedule in the member's zone — with what an app put in it
    /// given back — or a task. Stamped with its last change, so the same ETag always serves the same bytes.
    fn calendar_data(&self, item: &Item) -> String {
        match item {
            Item::Series(series, overrides) => {
                let spec = &series.series.spec;
                let stamp = overrides
                    .iter()
                    .map(|o| o.updated_at)
                    .fold(series.updated_at, Timestamp::max);
                let mut calendar = CalendarWriter::new(stamp);
                let list: Vec<_> = overrides
                    .iter()
                    .filter_map(|o| {
                        o.occurrence.map(|of| {
                            (
                                of.start,
                                ScheduleEntry {
                                    schedule: &o.schedule,
                                    zone: &spec.zone,
                                    version: o.version,
                                    created_at: o.created_at,
                                    updated_at: o.updated_at,
                                },
                            )
                        })
                    })
                    .collect();
                let entry = SeriesEntry {
                    id: series.series.id,
                    spec,
                    version: series.version,
                    created_at: series.created_at,
                    updated_at: series.updated_at,
                };
                for event in calendar.series_events(&entry, &list) {
                    calendar.component(event);
                }
                calendar.finish().to_ical()
            }
            Item::Schedule(stored, zone) => {
                let mut calendar = CalendarWriter::new(stored.updated_at);
                let mut event = calendar.schedule_event(&ScheduleEntry {
                    schedule: &stored.schedule,
                    zone,
                    version: stored.version,
                    created_at: stored.created_at,
                    updated_at: stored.updated_at,
                });
                if let Some(object) = self.objects.get(&stored.schedule.id().get()) {
                    let start = stored.schedule.designated_start();
                    event::restore(
                        &mut calendar,
                        &mut event,
                        &object.uid,
                        &object.extra,
                        zone,
                        start,
                    );
                }
                calendar.component(event);
                calendar.finish().to_ical()
            }
            Item::Task(stored, prerequisites) => {
                let mut calendar = CalendarWriter::new(stored.updated_at);
                let prerequisites: Vec<String> =
                    prerequisites.iter().map(|p| self.task_uid(*p)).collect();
                let mut component = ical::task::todo(
                    &TaskEntry {
                        task: &stored.task,
                        version: stored.version,
                        created_at: stored.created_at,
                        updated_at: stored.updated_at,
                        prerequisites: &prerequisites,
                    },
                    stored.updated_at,
                );
                if let Some(object) = self.task_objects.get(&stored.task.id().get()) {
                    let deadline = stored.task.fields().deadline.date();
                    let (uid, extra) = (&object.uid, &object.extra);
                    todo::restore(&mut component, uid, extra, deadline, &self.zone);
                }
                calendar.component(component);
                calendar.finish().to_ical()
            }
        }
    }
}

/// Tasks with the tasks each waits for.
fn with_prerequisites(tasks: Vec<StoredTask>, edges: &[Edge]) -> Vec<Item> {
    tasks
        .into_iter()
        .map(|t| {
            let id = t.task.id();
            let before = edges
                .iter()
                .filter(|e| e.to() == id)
                .map(Edge::from)
                .collect();
            Item::Task(t, before)
        })
        .collect()
}

/// The name a deleted item had: the one an app gave it, else its id.
fn tombstone_name(t: &Tombstone) -> String {
    t.name.clone().unwrap_or_else(|| t.id.to_string())
}

fn parse_token(text: &str) -> Option<SyncToken> {
    text.trim()
        .strip_prefix(TOKEN_PREFIX)?
        .parse()
        .ok()
        .filter(|n: &i64| *n >= 0)
        .map(SyncToken)
}

/// The path of an href, which clients send absolute (`https://host/dav/…`) or as a path.
fn href_path(href: &str) -> String {
    match href.find("://") {
        Some(scheme) => href[scheme + 3..]
            .find('/')
            .map_or_else(|| "/".to_string(), |p| href[scheme + 3 + p..].to_string()),
        None => href.to_string(),
    }
}

/// A `PUT`'s answer: 201 for a new item, 204 for an edit, with the item's new ETag.
fn written_response(created: bool, tag: &str) -> Response {
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::NO_CONTENT
    };
    let mut r = status.into_response();
    r.headers_mut().insert(header::ETAG, value(tag));
    r
}

fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}
