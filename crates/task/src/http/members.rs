//! `/v2/members`, `PUT /v2/members/zone-id` and `/v2/members/reminders` (new); docs/contract/task.md#members.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pinit_kernel::ApiError;
use pinit_kernel::error::FieldError;
use pinit_kernel::extract::Json;
use serde::Deserialize;

use pinit_kernel::CurrentMember;

use super::dto::{Problems, RemindersBody};
use crate::app::TaskApp;
use crate::domain::MemberId;
use crate::domain::plan::DailyObjective;
use crate::domain::time::format_duration;

fn text(body: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// `GET /v2/members/now`: the running (or paused) schedule's id as a JSON number; an empty 200 when
/// there is none.
pub async fn now(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
) -> Result<Response, ApiError> {
    Ok(match app.running_schedule(member).await? {
        Some(id) => Json(id.get()).into_response(),
        None => StatusCode::OK.into_response(),
    })
}

/// `GET /v2/members/zone-id`: the zone id as plain text (`Asia/Seoul`).
pub async fn zone_id(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
) -> Result<Response, ApiError> {
    Ok(text(app.zone(member).await?.id().to_owned()))
}

/// `GET /v2/members/zone-offset` (deprecated in the reference): the zone's offset now (`+09:00`).
pub async fn zone_offset(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
) -> Result<Response, ApiError> {
    Ok(text(app.zone_offset(member).await?))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ZoneBody {
    zone_id: Option<String>,
}

/// `PUT /v2/members/zone-id`: body `{"zoneId": "Europe/Berlin"}` (JSON) or the bare id (text); answers
/// the zone id as stored, like the GET.
pub async fn set_zone_id(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let zone = if is_json {
        serde_json::from_slice::<ZoneBody>(&body)
            .map_err(|e| ApiError::bad_request(format!("Invalid request body: {e}")))?
            .zone_id
    } else {
        std::str::from_utf8(&body)
            .ok()
            .map(|s| s.trim().trim_matches('"').to_owned())
    };
    let zone = zone.filter(|z| !z.trim().is_empty()).ok_or_else(|| {
        ApiError::validation(vec![FieldError::new(
            "zoneId",
            serde_json::Value::Null,
            super::dto::NOT_BLANK,
        )])
    })?;
    let zone = app.set_zone(member, &zone).await?;
    Ok(text(zone.id().to_owned()))
}

/// `GET /v2/members/reminders`: `{"reminders": ["PT0S"]}`, the default of the member's schedules.
pub async fn reminders(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
) -> Result<Json<RemindersBody>, ApiError> {
    let reminders = app.default_reminders(member).await?;
    Ok(Json(RemindersBody {
        reminders: Some(reminders.to_iso()),
    }))
}

/// `PUT /v2/members/reminders` with `{"reminders": ["-PT10M", "PT0S"]}`: answers the list as stored (sorted,
/// canonical). It applies to schedules armed from now on.
pub async fn set_reminders(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Json(body): Json<RemindersBody>,
) -> Result<Json<RemindersBody>, ApiError> {
    let mut p = Problems::new();
    let list = p.required("reminders", &body.reminders);
    let reminders = list
        .and_then(|l| super::dto::reminders(&mut p, l))
        .ok_or_else(|| p.into_error())?;
    let stored = app.set_default_reminders(member, reminders).await?;
    Ok(Json(RemindersBody {
        reminders: Some(stored.to_iso()),
    }))
}

/// `{"dailyObjective": "PT4H"}`: `GET` and `PUT /v2/members/objective`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectiveBody {
    pub daily_objective: Option<String>,
}

fn objective_body(objective: DailyObjective) -> Json<ObjectiveBody> {
    Json(ObjectiveBody {
        daily_objective: Some(format_duration(objective.duration())),
    })
}

/// `GET /v2/members/objective`: how long the member means to work each day (`PT4H` unless set).
pub async fn objective(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
) -> Result<Json<ObjectiveBody>, ApiError> {
    Ok(objective_body(app.objective(member).await?))
}

/// `PUT /v2/members/objective` with `{"dailyObjective": "PT5H"}`: answers it as stored.
pub async fn set_objective(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Json(body): Json<ObjectiveBody>,
) -> Result<Json<ObjectiveBody>, ApiError> {
    let mut p = Problems::new();
    let objective = p
        .required("dailyObjective", &body.daily_objective)
        .and_then(|v| p.check("dailyObjective", v.as_str(), DailyObjective::parse(v)))
        .ok_or_else(|| p.into_error())?;
    Ok(objective_body(app.set_objective(member, objective).await?))
}
