//! Busy time from other calendars (docs/calendar.md#busy-time-from-other-calendars):
//! `GET/POST /v2/calendar/subscriptions`, `POST /v2/calendar/subscriptions/upload`,
//! `DELETE /v2/calendar/subscriptions/{subscriptionId}`, and the busy blocks of a day or a week,
//! `GET /v2/calendar/busy` and `GET /v2/calendar/busy/week` (`time` + `zoneId`, like `/v2/schedules`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use pinit_kernel::extract::{Json, Path, Query};
use pinit_kernel::{ApiError, CurrentMember};
use serde::{Deserialize, Serialize};

use super::dto::{DateTimeWithZone, Problems, TimeQuery};
use crate::app::TaskApp;
use crate::app::busy::CalendarBlock;
use crate::domain::busy::BusyCalendarId;
use crate::domain::{MemberId, Zone};
use crate::store::busy_calendars::StoredCalendar;

/// The largest request body of an upload: a 5 MiB file, escaped in JSON.
pub const UPLOAD_BODY_LIMIT: usize = 12 * 1024 * 1024;

/// `POST /v2/calendar/subscriptions`.
#[derive(Debug, Deserialize)]
pub struct SubscribeRequest {
    pub name: Option<String>,
    pub url: Option<String>,
}

/// `POST /v2/calendar/subscriptions/upload`: the `.ics` file's text.
#[derive(Debug, Deserialize)]
pub struct UploadRequest {
    pub name: Option<String>,
    pub ics: Option<String>,
}

/// A subscribed or uploaded calendar.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionResponse {
    pub id: i64,
    pub name: String,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_fetched_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// How many events are stored (a repeating event counts once).
    pub events: i64,
}

/// A busy block: read-only; `POST /v2/schedules` with its title and time turns it into a schedule.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BusyBlockResponse {
    pub subscription_id: i64,
    pub calendar_name: String,
    pub uid: String,
    pub title: String,
    pub start: DateTimeWithZone,
    pub end: DateTimeWithZone,
    pub all_day: bool,
}

/// An instant as `2026-02-01T09:00:00Z` (whole seconds).
fn instant(at: Timestamp) -> String {
    Timestamp::from_second(at.as_second())
        .unwrap_or(at)
        .to_string()
}

fn listed(c: &StoredCalendar) -> SubscriptionResponse {
    SubscriptionResponse {
        id: c.id.get(),
        name: c.name.clone(),
        kind: c.kind.as_str(),
        url: c.url.clone(),
        color: c.color.clone(),
        created_at: instant(c.created_at),
        last_fetched_at: c.last_fetched_at.map(instant),
        last_error: c.last_error.clone(),
        events: c.event_count,
    }
}

/// `GET /v2/calendar/subscriptions`: the member's calendars, oldest first.
pub async fn list(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
) -> Result<Json<Vec<SubscriptionResponse>>, ApiError> {
    let calendars = app.busy_calendars(member).await?;
    Ok(Json(calendars.iter().map(listed).collect()))
}

/// `POST /v2/calendar/subscriptions` `{name, url}`: fetched now; 201 with the calendar.
pub async fn subscribe(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Json(body): Json<SubscribeRequest>,
) -> Result<Response, ApiError> {
    let mut p = Problems::new();
    let name = p.not_blank("name", &body.name);
    let url = p.not_blank("url", &body.url);
    p.finish()?;
    let (Some(name), Some(url)) = (name, url) else {
        return Err(Problems::new().into_error());
    };
    let calendar = app.subscribe_calendar(member, name, url).await?;
    Ok((StatusCode::CREATED, Json(listed(&calendar))).into_response())
}

/// `POST /v2/calendar/subscriptions/upload` `{name, ics}`: a static calendar; 201 with it.
pub async fn upload(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Json(body): Json<UploadRequest>,
) -> Result<Response, ApiError> {
    let mut p = Problems::new();
    let name = p.not_blank("name", &body.name);
    let ics = p.not_blank("ics", &body.ics);
    p.finish()?;
    let (Some(name), Some(ics)) = (name, ics) else {
        return Err(Problems::new().into_error());
    };
    let calendar = app.upload_calendar(member, name, ics).await?;
    Ok((StatusCode::CREATED, Json(listed(&calendar))).into_response())
}

/// `DELETE /v2/calendar/subscriptions/{subscriptionId}`: 204; its busy blocks are gone.
pub async fn delete(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    app.delete_calendar(member, BusyCalendarId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn rendered(blocks: Vec<CalendarBlock>, zone: &Zone) -> Vec<BusyBlockResponse> {
    blocks
        .into_iter()
        .map(|b| BusyBlockResponse {
            subscription_id: b.calendar.get(),
            calendar_name: b.calendar_name,
            uid: b.block.uid,
            title: b.block.title,
            start: DateTimeWithZone::of(b.block.start, zone),
            end: DateTimeWithZone::of(b.block.end, zone),
            all_day: b.block.all_day,
        })
        .collect()
}

/// `GET /v2/calendar/busy?time&zoneId`: the busy blocks meeting the day of `time` in `zoneId`.
pub async fn day(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Query(q): Query<TimeQuery>,
) -> Result<Json<Vec<BusyBlockResponse>>, ApiError> {
    let (window, zone) = q.day()?;
    let blocks = app.busy_blocks(member, &zone, window).await?;
    Ok(Json(rendered(blocks, &zone)))
}

/// `GET /v2/calendar/busy/week?time&zoneId`: the busy blocks meeting the ISO week (Monday start) of `time`.
pub async fn week(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Query(q): Query<TimeQuery>,
) -> Result<Json<Vec<BusyBlockResponse>>, ApiError> {
    let (window, zone) = q.week()?;
    let blocks = app.busy_blocks(member, &zone, window).await?;
    Ok(Json(rendered(blocks, &zone)))
}
