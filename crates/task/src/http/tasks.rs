//! `/v2/tasks` (docs/contract/task.md#tasks).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pinit_kernel::ApiError;
use pinit_kernel::extract::{Json, Path, Query};
use serde::Deserialize;

use super::dto::{
    CursorResponse, PageResponse, PageableObject, Problems, SORTED, ScheduleResponse, TaskRequest,
    TaskResponse, TaskScheduleRequest, planned_duration, reminders, required_param, schedule_type,
};
use crate::app::{CursorPage, TaskApp};
use crate::domain::series::whole_seconds;
use crate::domain::{MemberId, TaskId};
use pinit_kernel::CurrentMember;

pub async fn create(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Json(body): Json<TaskRequest>,
) -> Result<Response, ApiError> {
    let input = body.validate()?;
    let view = app.create_task(member, input.fields, &input.add).await?;
    Ok((StatusCode::CREATED, Json(TaskResponse::from(&view))).into_response())
}

pub async fn update(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<i64>,
    Json(body): Json<TaskRequest>,
) -> Result<Json<TaskResponse>, ApiError> {
    let input = body.validate()?;
    let view = app
        .update_task(member, TaskId(id), input.fields, &input.remove, &input.add)
        .await?;
    Ok(Json(TaskResponse::from(&view)))
}

pub async fn get_one(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<i64>,
) -> Result<Json<TaskResponse>, ApiError> {
    let view = app.task(member, TaskId(id)).await?;
    Ok(Json(TaskResponse::from(&view)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageQuery {
    page: Option<i64>,
    size: Option<i64>,
    ready_only: Option<bool>,
}

pub async fn page(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Query(q): Query<PageQuery>,
) -> Result<Json<PageResponse>, ApiError> {
    let page = app
        .tasks_page(member, q.page, q.size, q.ready_only.unwrap_or(false))
        .await?;
    let total_pages = if page.total == 0 {
        0
    } else {
        (page.total + page.size - 1) / page.size
    };
    let count = page.items.len();
    Ok(Json(PageResponse {
        content: page.items.iter().map(TaskResponse::from).collect(),
        pageable: PageableObject {
            page_number: page.page,
            page_size: page.size,
            sort: SORTED,
            offset: page.page.saturating_mul(page.size),
            paged: true,
            unpaged: false,
        },
        last: page.page + 1 >= total_pages,
        total_pages,
        total_elements: page.total,
        size: page.size,
        number: page.page,
        sort: SORTED,
        first: page.page == 0,
        number_of_elements: count,
        empty: count == 0,
    }))
}

fn cursor_response(page: CursorPage) -> Json<CursorResponse> {
    Json(CursorResponse {
        data: page.items.iter().map(TaskResponse::from).collect(),
        next_cursor: page.next_cursor,
        has_next: page.has_next,
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CursorQuery {
    size: Option<i64>,
    cursor: Option<String>,
    ready_only: Option<bool>,
}

pub async fn cursor(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Query(q): Query<CursorQuery>,
) -> Result<Json<CursorResponse>, ApiError> {
    let page = app
        .tasks_after(
            member,
            q.size,
            q.cursor.as_deref(),
            q.ready_only.unwrap_or(false),
        )
        .await?;
    Ok(cursor_response(page))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveQuery {
    size: Option<i64>,
    cursor: Option<String>,
    zone_id: Option<String>,
    offset: Option<String>,
}

pub async fn archive(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Query(q): Query<ArchiveQuery>,
) -> Result<Json<CursorResponse>, ApiError> {
    let page = app
        .archive(
            member,
            q.size,
            q.cursor.as_deref(),
            q.zone_id.as_deref(),
            q.offset.as_deref(),
        )
        .await?;
    Ok(cursor_response(page))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ByDeadlineQuery {
    date: Option<String>,
    zone_id: Option<String>,
}

pub async fn by_deadline(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Query(q): Query<ByDeadlineQuery>,
) -> Result<Json<Vec<TaskResponse>>, ApiError> {
    let date = required_param("date", "LocalDate", &q.date)?;
    let views = app.tasks_due_on(member, date, q.zone_id.as_deref()).await?;
    Ok(Json(views.iter().map(TaskResponse::from).collect()))
}

pub async fn complete(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    app.complete_task(member, TaskId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn reopen(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    app.reopen_task(member, TaskId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteQuery {
    delete_schedules: Option<bool>,
}

pub async fn delete(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<i64>,
    Query(q): Query<DeleteQuery>,
) -> Result<StatusCode, ApiError> {
    app.delete_task(member, TaskId(id), q.delete_schedules.unwrap_or(false))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v2/tasks/{id}/schedules`: rendered in the request's zone, `taskCompleted` filled.
pub async fn schedule(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<i64>,
    Json(body): Json<TaskScheduleRequest>,
) -> Result<Response, ApiError> {
    let mut p = Problems::new();
    let date = p.required("date", &body.date);
    let kind = p.required("scheduleType", &body.schedule_type);
    let title = p.not_null("title", &body.title);
    let description = p.not_null("description", &body.description);
    if !p.is_empty() {
        return Err(p.into_error());
    }
    let date = date.and_then(|d| d.resolved(&mut p, "date"));
    let kind = kind.and_then(|k| schedule_type(&mut p, k));
    let recurrence = body.recurrence.as_ref().map(|r| r.parse(&mut p));
    let reminders = body.reminders.as_deref().map(|r| reminders(&mut p, r));
    let planned = body
        .planned_duration
        .as_deref()
        .map(|d| planned_duration(&mut p, d));
    let (Some((local, start, zone)), Some(kind)) = (date, kind) else {
        return Err(p.into_error());
    };
    if !p.is_empty() {
        return Err(p.into_error());
    }
    let reminders = reminders.flatten();
    let planned = planned.flatten();
    let (title, description) = (title.map(String::as_str), description.map(String::as_str));
    let stored = match recurrence {
        None => {
            app.schedule_task(
                member,
                TaskId(id),
                title,
                description,
                kind,
                start,
                reminders,
                planned,
            )
            .await?
        }
        Some(Some(recurrence)) => {
            app.schedule_task_series(
                member,
                TaskId(id),
                title,
                description,
                kind,
                whole_seconds(local),
                zone.clone(),
                recurrence,
                reminders,
                planned,
            )
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
