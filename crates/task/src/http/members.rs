//! `/v2/members` and `PUT /v2/members/zone-id` (new); docs/contract/task.md#members.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pinit_kernel::ApiError;
use pinit_kernel::error::FieldError;
use pinit_kernel::extract::Json;
use serde::Deserialize;

use pinit_kernel::CurrentMember;

use crate::app::TaskApp;
use crate::domain::MemberId;

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
