//! `/v2/schedules` and `/v2/statistics` (docs/contract/task.md#schedules, #statistics).
//!
//! The run operations take the reference's `time` + `zoneId` query parameters: the moment the member pressed the
//! button, taken when it lies in its window (not ahead of the server's clock, not before the schedule's previous
//! change, at most 24 hours old; 400 naming the window otherwise), so a client that was offline sends its queued
//! presses with their moments (ADR 0004, "Dated changes").

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pinit_kernel::ApiError;
use pinit_kernel::extract::{Json, Path, Query};
use serde::Deserialize;

use super::dto::{
    PlanResponse, Problems, SchedulePatchRequest, ScheduleRequest, ScheduleResponse,
    SeriesResponse, StatisticsResponse, TimeQuery, planned_duration, reminders, resolve,
    schedule_type,
};
use crate::app::TaskApp;
use crate::domain::series::whole_seconds;
use crate::domain::{
    Description, MemberId, NewSeries, ScheduleDraft, ScheduleId, SchedulePatch, Scope, SeriesId,
    SeriesSpec, Title, Window, Zone,
};
use pinit_kernel::CurrentMember;
use pinit_kernel::extract::Field;

pub async fn create(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Json(body): Json<ScheduleRequest>,
) -> Result<Response, ApiError> {
    let mut p = Problems::new();
    let title = p.not_blank("title", &body.title);
    // Optional (Pinit's): absent or null is an empty description.
    let description = Some(body.description.as_deref().unwrap_or_default());
    let date = p.required("date", &body.date);
    let kind = p.required("scheduleType", &body.schedule_type);
    if let Some(d) = date {
        p.required("date.dateTime", &d.date_time);
        p.required("date.zoneId", &d.zone_id);
    }
    if !p.is_empty() {
        return Err(p.into_error());
    }
    let title = title.and_then(|t| p.check("title", t, Title::parse(t)));
    let description = description.and_then(|d| p.check("description", d, Description::parse(d)));
    let date = date.and_then(|d| d.resolved(&mut p, "date"));
    let kind = kind.and_then(|k| schedule_type(&mut p, k));
    let recurrence = body.recurrence.as_ref().map(|r| r.parse(&mut p));
    let reminders = body.reminders.as_deref().map(|r| reminders(&mut p, r));
    let planned = body
        .planned_duration
        .as_deref()
        .map(|d| planned_duration(&mut p, d));
    let (Some(title), Some(description), Some((local, start, zone)), Some(kind)) =
        (title, description, date, kind)
    else {
        return Err(p.into_error());
    };
    if !p.is_empty() {
        return Err(p.into_error());
    }
    let reminders = reminders.flatten();
    let planned = planned.flatten();
    let stored = match recurrence {
        None => {
            let draft = ScheduleDraft::new(title, description, kind, start)
                .with_reminders(reminders)
                .with_planned(planned);
            app.create_schedule(member, draft).await?
        }
        Some(Some(recurrence)) => {
            let spec = SeriesSpec {
                title,
                description,
                schedule_type: kind,
                start: whole_seconds(local),
                zone: zone.clone(),
                recurrence,
                planned,
            };
            app.create_series(member, NewSeries { spec, reminders })
                .await?
        }
        Some(None) => return Err(p.into_error()),
    };
    Ok((
        StatusCode::CREATED,
        Json(ScheduleResponse::of(&stored, &zone)),
    )
        .into_response())
}

async fn within(
    app: &TaskApp,
    member: MemberId,
    zone: &Zone,
    window: Window,
) -> Result<Json<Vec<ScheduleResponse>>, ApiError> {
    let schedules = app.schedules_within(member, window).await?;
    Ok(Json(
        schedules
            .iter()
            .map(|s| ScheduleResponse::of(s, zone))
            .collect(),
    ))
}

/// `GET /v2/schedules?time&zoneId`: the local day of `time` in `zoneId`, rendered in `zoneId`.
pub async fn day(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Query(q): Query<TimeQuery>,
) -> Result<Json<Vec<ScheduleResponse>>, ApiError> {
    let (window, zone) = q.day()?;
    within(&app, member, &zone, window).await
}

/// `GET /v2/schedules/week?time&zoneId`: the ISO week (Monday start) of `time` in `zoneId`.
pub async fn week(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Query(q): Query<TimeQuery>,
) -> Result<Json<Vec<ScheduleResponse>>, ApiError> {
    let (window, zone) = q.week()?;
    within(&app, member, &zone, window).await
}

/// `GET /v2/schedules/{id}`: rendered in the member's zone.
pub async fn get_one(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<i64>,
) -> Result<Json<ScheduleResponse>, ApiError> {
    let view = app.schedule(member, ScheduleId(id)).await?;
    Ok(Json(ScheduleResponse::of(&view.stored, &view.member_zone)))
}

/// `GET /v2/schedules/series/{id}`: a repeating schedule, its rule and its next occurrences.
pub async fn series(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<i64>,
) -> Result<Json<SeriesResponse>, ApiError> {
    let view = app.series(member, SeriesId(id)).await?;
    Ok(Json(SeriesResponse::of(&view)))
}

/// `PATCH /v2/schedules/{id}`: the fields present are replaced; rendered in `date.zoneId` if given,
/// else the member's zone.
pub async fn patch(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<i64>,
    Query(q): Query<ScopeQuery>,
    Json(body): Json<SchedulePatchRequest>,
) -> Result<Json<ScheduleResponse>, ApiError> {
    let scope = q.scope()?;
    let mut p = Problems::new();
    let title = p.not_null("title", &body.title);
    let description = p.not_null("description", &body.description);
    let date = p.not_null("date", &body.date);
    let kind = p.not_null("scheduleType", &body.schedule_type);
    if let Some(d) = date {
        p.required("date.dateTime", &d.date_time);
        p.required("date.zoneId", &d.zone_id);
    }
    if !p.is_empty() {
        return Err(p.into_error());
    }
    let title = title.map(|t| p.check("title", t.as_str(), Title::parse(t.as_str())));
    let description =
        description.map(|d| p.check("description", d.as_str(), Description::parse(d.as_str())));
    let date = date.map(|d| d.instant(&mut p, "date"));
    let kind = kind.map(|k| schedule_type(&mut p, k));
    let rule = body.recurrence.as_ref().map(|r| r.parse(&mut p));
    // Absent: unchanged; `null`: back to the series' or the member's; a list: set (an error is in `p`).
    let reminders = match &body.reminders {
        Field::Absent => Some(None),
        Field::Null => Some(Some(None)),
        Field::Present(list) => reminders(&mut p, list).map(|r| Some(Some(r))),
    };
    // The same for the planned length: `null` clears it.
    let planned = match &body.planned_duration {
        Field::Absent => Some(None),
        Field::Null => Some(Some(None)),
        Field::Present(d) => planned_duration(&mut p, d).map(|d| Some(Some(d))),
    };
    if !p.is_empty() {
        return Err(p.into_error());
    }
    let date = date.flatten();
    let patch = SchedulePatch {
        title: title.flatten(),
        description: description.flatten(),
        designated_start: date.as_ref().map(|(at, _)| *at),
        schedule_type: kind.flatten(),
        reminders: reminders.flatten(),
        planned: planned.flatten(),
    };
    let view = app
        .patch_schedule(member, ScheduleId(id), patch, scope, rule.flatten())
        .await?;
    let zone = date.map(|(_, z)| z).unwrap_or(view.member_zone);
    Ok(Json(ScheduleResponse::of(&view.stored, &zone)))
}

/// `?scope=this|following|all` of `PATCH` and `DELETE` (default `this`; for a one-off schedule only `this`
/// means anything).
#[derive(Debug, Deserialize)]
pub struct ScopeQuery {
    scope: Option<String>,
}

impl ScopeQuery {
    fn scope(&self) -> Result<Scope, ApiError> {
        let Some(value) = self.scope.as_deref() else {
            return Ok(Scope::This);
        };
        let mut p = Problems::new();
        p.check("scope", value, Scope::parse(value))
            .ok_or_else(|| p.into_error())
    }
}

/// `DELETE /v2/schedules/{id}?scope=this|following|all` (default `this`; for a one-off schedule only `this`
/// means anything).
pub async fn delete(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<i64>,
    Query(q): Query<ScopeQuery>,
) -> Result<StatusCode, ApiError> {
    let scope = q.scope()?;
    app.delete_schedule(member, ScheduleId(id), scope).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn start(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<i64>,
    Query(q): Query<TimeQuery>,
) -> Result<StatusCode, ApiError> {
    app.start_schedule(member, ScheduleId(id), q.asked()?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn suspend(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<i64>,
    Query(q): Query<TimeQuery>,
) -> Result<StatusCode, ApiError> {
    app.suspend_schedule(member, ScheduleId(id), q.asked()?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn complete(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<i64>,
    Query(q): Query<TimeQuery>,
) -> Result<StatusCode, ApiError> {
    app.complete_schedule(member, ScheduleId(id), q.asked()?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn cancel(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    app.cancel_schedule(member, ScheduleId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v2/statistics?time&zoneId`: the week, in the member's zone, containing that instant.
pub async fn statistics(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Query(q): Query<TimeQuery>,
) -> Result<Json<StatisticsResponse>, ApiError> {
    let (local, zone) = q.required()?;
    let mut p = Problems::new();
    let at = resolve(&mut p, "time", local, &zone).ok_or_else(|| p.into_error())?;
    let stats = app.statistics(member, at).await?;
    Ok(Json(StatisticsResponse::of(
        stats.member.get(),
        &stats.week,
        &stats.totals,
    )))
}

/// `GET /v2/statistics/plan?time&zoneId` (Pinit's): the week of `time` in `zoneId`, day by day — planned against
/// worked by type, against the member's daily objective — and the streak of days up to today it was met.
pub async fn plan(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Query(q): Query<TimeQuery>,
) -> Result<Json<PlanResponse>, ApiError> {
    let (local, zone) = q.required()?;
    let view = app.plan(member, local.date(), &zone).await?;
    Ok(Json(PlanResponse::of(&view, &zone)))
}

/// `{"duration": "PT45M"}` of `PUT /v2/schedules/{id}/duration`.
#[derive(Debug, Deserialize)]
pub struct DurationBody {
    duration: Option<String>,
}

/// `PUT /v2/schedules/{id}/duration` (Pinit's): corrects the tracked time of a completed schedule — the member
/// forgot to pause, or worked on without the timer. 409 unless COMPLETED; its statistics week follows.
pub async fn correct_duration(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<i64>,
    Json(body): Json<DurationBody>,
) -> Result<Json<ScheduleResponse>, ApiError> {
    let mut p = Problems::new();
    let elapsed = p
        .required("duration", &body.duration)
        .and_then(|d| p.check("duration", d.as_str(), parse_fixed_duration(d)))
        .ok_or_else(|| p.into_error())?;
    let view = app
        .correct_duration(member, ScheduleId(id), elapsed)
        .await?;
    Ok(Json(ScheduleResponse::of(&view.stored, &view.member_zone)))
}

/// An ISO 8601 duration of fixed length (days are 24 hours).
fn parse_fixed_duration(input: &str) -> Result<jiff::SignedDuration, String> {
    input
        .parse::<jiff::Span>()
        .ok()
        .and_then(|s| {
            s.to_duration(jiff::SpanRelativeTo::days_are_24_hours())
                .ok()
        })
        .ok_or_else(|| format!("{input:?} is not an ISO 8601 duration such as \"PT45M\""))
}
