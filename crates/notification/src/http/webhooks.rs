//! `/v0/webhooks`: a member's webhook endpoints (docs/integrations.md#webhooks).
//!
//! | route | answer |
//! |---|---|
//! | `GET /v0/webhooks` | 200, the endpoints (never their secrets) |
//! | `POST /v0/webhooks` `{url, events[], description?}` | 201, the endpoint with its `secret` (shown this once) |
//! | `PATCH /v0/webhooks/{id}` `{url?, events?, description?, enabled?}` | 200, the endpoint |
//! | `DELETE /v0/webhooks/{id}` | 204 |
//! | `POST /v0/webhooks/{id}/test` | 202, the queued `webhook.test` delivery |
//! | `GET /v0/webhooks/{id}/deliveries` | 200, its last deliveries, newest first |

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use pinit_kernel::extract::{Json, Path};
use pinit_kernel::{ApiError, CurrentMember};
use serde::{Deserialize, Serialize};

use crate::app::{Notifications, WebhookUpdate};
use crate::domain::MemberId;
use crate::domain::webhook::{Endpoint, EndpointInput, WebhookDelivery, disabled_code};

pub(super) fn routes() -> Router<Notifications> {
    Router::new()
        .route("/v0/webhooks", get(list).post(create))
        .route("/v0/webhooks/{id}", patch(update).delete(remove))
        .route("/v0/webhooks/{id}/test", post(test))
        .route("/v0/webhooks/{id}/deliveries", get(deliveries))
}

/// An endpoint as the API shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EndpointBody {
    id: i64,
    url: String,
    events: Vec<&'static str>,
    description: String,
    enabled: bool,
    disabled_at: Option<String>,
    disabled_reason: Option<String>,
    /// `BY_MEMBER`, `GONE` or `FAILURES` while disabled ([`disabled_code`]).
    disabled_code: Option<&'static str>,
    /// Deliveries given up in a row.
    failures: i64,
    created_at: String,
    updated_at: String,
    /// Only in the answer to the create.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl From<Endpoint> for EndpointBody {
    fn from(e: Endpoint) -> Self {
        Self {
            id: e.id,
            events: e.events.iter().map(|t| t.as_str()).collect(),
            enabled: e.enabled(),
            url: e.url,
            description: e.description,
            disabled_at: e.disabled_at.map(|t| t.to_string()),
            disabled_code: e.disabled_reason.as_deref().map(disabled_code),
            disabled_reason: e.disabled_reason,
            failures: e.failures,
            created_at: e.created_at.to_string(),
            updated_at: e.updated_at.to_string(),
            secret: None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryBody {
    id: i64,
    /// The `webhook-id`.
    event_id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    status: &'static str,
    attempts: i64,
    last_response_code: Option<u16>,
    last_error: Option<String>,
    last_attempt_at: Option<String>,
    next_attempt_at: Option<String>,
    created_at: String,
}

impl From<WebhookDelivery> for DeliveryBody {
    fn from(d: WebhookDelivery) -> Self {
        Self {
            id: d.id,
            kind: d.event_type.as_str(),
            status: d.state.as_str(),
            attempts: d.attempts,
            last_response_code: d.last_status,
            last_error: d.last_error,
            last_attempt_at: d.last_attempt_at.map(|t| t.to_string()),
            next_attempt_at: d.next_attempt_at.map(|t| t.to_string()),
            created_at: d.created_at.to_string(),
            event_id: d.event_id,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointRequest {
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
    /// Updates only.
    enabled: Option<bool>,
}

impl EndpointRequest {
    fn input(self) -> EndpointInput {
        EndpointInput {
            url: self.url,
            events: self.events,
            description: self.description,
        }
    }
}

/// An endpoint id of the path: anything but a number names no endpoint.
fn endpoint_id(id: &str) -> Result<i64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::not_found("no such webhook endpoint"))
}

async fn list(
    State(app): State<Notifications>,
    CurrentMember(member): CurrentMember<MemberId>,
) -> Result<Json<Vec<EndpointBody>>, ApiError> {
    let endpoints = app.webhooks(member).await?;
    Ok(Json(
        endpoints.into_iter().map(EndpointBody::from).collect(),
    ))
}

async fn create(
    State(app): State<Notifications>,
    CurrentMember(member): CurrentMember<MemberId>,
    Json(body): Json<EndpointRequest>,
) -> Result<(StatusCode, Json<EndpointBody>), ApiError> {
    if body.enabled.is_some() {
        return Err(ApiError::validation(vec![
            pinit_kernel::error::FieldError::new(
                "enabled",
                serde_json::Value::from(body.enabled),
                "is for updates only: a new endpoint is enabled",
            ),
        ]));
    }
    let endpoint = app.create_webhook(member, body.input()).await?;
    let secret = endpoint.secret.expose().to_string();
    let mut shown = EndpointBody::from(endpoint);
    shown.secret = Some(secret);
    Ok((StatusCode::CREATED, Json(shown)))
}

async fn update(
    State(app): State<Notifications>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<String>,
    Json(body): Json<EndpointRequest>,
) -> Result<Json<EndpointBody>, ApiError> {
    let id = endpoint_id(&id)?;
    let enabled = body.enabled;
    let update = WebhookUpdate {
        fields: body.input(),
        enabled,
    };
    Ok(Json(app.update_webhook(member, id, update).await?.into()))
}

async fn remove(
    State(app): State<Notifications>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.delete_webhook(member, endpoint_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn test(
    State(app): State<Notifications>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<DeliveryBody>), ApiError> {
    let delivery = app.test_webhook(member, endpoint_id(&id)?).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery.into())))
}

async fn deliveries(
    State(app): State<Notifications>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(id): Path<String>,
) -> Result<Json<Vec<DeliveryBody>>, ApiError> {
    let log = app.webhook_deliveries(member, endpoint_id(&id)?).await?;
    Ok(Json(log.into_iter().map(DeliveryBody::from).collect()))
}
