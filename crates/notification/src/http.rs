//! The notification HTTP surface: the reference's `/v0/push/{vapid, subscribed, subscribe, unsubscribe}`, and
//! Pinit's `/v0/push/quiet-hours`, `/v0/push/reminders/{key}/snooze` and `/v0/webhooks` ([`webhooks`]). The member
//! is the gateway's `X-Member-Id`.

mod webhooks;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pinit_kernel::error::{ACCOUNT_DELETED, FieldError};
use pinit_kernel::extract::{Field, Json, Query};
use pinit_kernel::{ApiError, CurrentMember};
use serde::{Deserialize, Serialize};

use crate::app::{NotificationError, Notifications, SubscribeInput, WebPushInput};
use crate::domain::quiet::format_time;
use crate::domain::{MemberId, QuietHours, QuietHoursInput};

/// The notification service's OpenAPI document (served at `/openapi.json`).
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Every (method, path) the router serves, as the OpenAPI document lists them.
pub const ENDPOINTS: &[(&str, &str)] = &[
    ("GET", "/v0/push/vapid"),
    ("GET", "/v0/push/subscribed"),
    ("POST", "/v0/push/subscribe"),
    ("POST", "/v0/push/unsubscribe"),
    ("GET", "/v0/push/quiet-hours"),
    ("PUT", "/v0/push/quiet-hours"),
    ("POST", "/v0/push/reminders/{key}/snooze"),
    ("GET", "/v0/webhooks"),
    ("POST", "/v0/webhooks"),
    ("PATCH", "/v0/webhooks/{id}"),
    ("DELETE", "/v0/webhooks/{id}"),
    ("POST", "/v0/webhooks/{id}/test"),
    ("GET", "/v0/webhooks/{id}/deliveries"),
    ("GET", "/openapi.json"),
];

/// The notification routes (health, error bodies and request ids are added by
/// [`pinit_kernel::http::service_router`]).
pub fn routes(app: Notifications) -> Router {
    // Only `/v0`: the reference's deprecated `/push/*` copies are unused by its client, and the gateway
    // routes only `/v0/push/**` here.
    Router::new()
        .route("/v0/push/vapid", get(vapid))
        .route("/v0/push/subscribed", get(subscribed))
        .route("/v0/push/subscribe", post(subscribe))
        .route("/v0/push/unsubscribe", post(unsubscribe))
        .route(
            "/v0/push/quiet-hours",
            get(quiet_hours).put(set_quiet_hours),
        )
        .route("/v0/push/reminders/{key}/snooze", post(snooze))
        .merge(webhooks::routes())
        .route("/openapi.json", pinit_kernel::http::openapi_route(OPENAPI))
        .with_state(app)
}

impl From<NotificationError> for ApiError {
    fn from(error: NotificationError) -> Self {
        match error {
            NotificationError::Invalid(problems) => ApiError::validation(
                problems
                    .into_iter()
                    .map(|p| FieldError::new(p.field, p.value, p.reason).with_code(p.code))
                    .collect(),
            ),
            NotificationError::NotFound(what) => {
                ApiError::not_found(format!("no such {}", what.what())).with_code(what.code())
            }
            NotificationError::Conflict { code, message } => {
                ApiError::conflict(message).with_code(code)
            }
            NotificationError::Erased => {
                ApiError::unauthorized("this account was deleted").with_code(ACCOUNT_DELETED)
            }
            NotificationError::Db(e) => ApiError::from(e),
        }
    }
}

/// `GET /v0/push/vapid`: the VAPID public key as text (the browser's `applicationServerKey`).
async fn vapid(State(app): State<Notifications>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain;charset=UTF-8"),
        )],
        app.vapid_public_key().to_string(),
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeviceQuery {
    device_id: Option<String>,
}

/// `GET /v0/push/subscribed?deviceId=`: a JSON boolean.
async fn subscribed(
    State(app): State<Notifications>,
    CurrentMember(member): CurrentMember<MemberId>,
    Query(q): Query<DeviceQuery>,
) -> Result<Json<bool>, ApiError> {
    Ok(Json(
        app.is_subscribed(member, q.device_id.as_deref()).await?,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscribeBody {
    device_id: Option<String>,
    #[serde(default)]
    token: Field<String>,
    #[serde(default)]
    subscription: Field<SubscriptionBody>,
}

/// `PushSubscription.toJSON()`: `{endpoint, expirationTime, keys: {p256dh, auth}}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionBody {
    endpoint: Option<String>,
    #[serde(default)]
    keys: Option<KeysBody>,
}

#[derive(Deserialize)]
struct KeysBody {
    p256dh: Option<String>,
    auth: Option<String>,
}

/// `POST /v0/push/subscribe`: `{deviceId, token}` (FCM) or `{deviceId, subscription}` (Web Push). 200, empty.
async fn subscribe(
    State(app): State<Notifications>,
    CurrentMember(member): CurrentMember<MemberId>,
    Json(body): Json<SubscribeBody>,
) -> Result<(), ApiError> {
    // Either may be left out, but neither may be `null` (the document does not allow it).
    let nulls: Vec<FieldError> = [
        ("token", body.token.is_null()),
        ("subscription", body.subscription.is_null()),
    ]
    .into_iter()
    .filter(|(_, null)| *null)
    .map(|(field, _)| FieldError::new(field, serde_json::Value::Null, "must not be null"))
    .collect();
    if !nulls.is_empty() {
        return Err(ApiError::validation(nulls));
    }
    let subscription = body.subscription.into_option().map(|s| {
        let keys = s.keys.unwrap_or(KeysBody {
            p256dh: None,
            auth: None,
        });
        WebPushInput {
            endpoint: s.endpoint,
            p256dh: keys.p256dh,
            auth: keys.auth,
        }
    });
    app.subscribe(
        member,
        SubscribeInput {
            device_id: body.device_id,
            token: body.token.into_option(),
            subscription,
        },
    )
    .await?;
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UnsubscribeBody {
    device_id: Option<String>,
}

/// `POST /v0/push/unsubscribe`: deletes the device's subscription (by member and device; a `token` or
/// `subscription` in the body is ignored — the device has one). 200 even when there was none.
async fn unsubscribe(
    State(app): State<Notifications>,
    CurrentMember(member): CurrentMember<MemberId>,
    Json(body): Json<UnsubscribeBody>,
) -> Result<(), ApiError> {
    app.unsubscribe(member, body.device_id.as_deref()).await?;
    Ok(())
}

/// Quiet hours as the API shows and takes them.
#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct QuietHoursBody {
    enabled: Option<bool>,
    start: Option<String>,
    end: Option<String>,
    zone_id: Option<String>,
    mode: Option<String>,
    include_at_start: Option<bool>,
}

impl From<QuietHours> for QuietHoursBody {
    fn from(q: QuietHours) -> Self {
        Self {
            enabled: Some(q.enabled),
            start: Some(format_time(q.start)),
            end: Some(format_time(q.end)),
            zone_id: Some(q.zone_id),
            mode: Some(q.mode.as_str().to_string()),
            include_at_start: Some(q.include_at_start),
        }
    }
}

/// `GET /v0/push/quiet-hours`: the member's quiet hours (off until set).
async fn quiet_hours(
    State(app): State<Notifications>,
    CurrentMember(member): CurrentMember<MemberId>,
) -> Result<Json<QuietHoursBody>, ApiError> {
    Ok(Json(app.quiet_hours(member).await?.into()))
}

/// `PUT /v0/push/quiet-hours`: `{enabled, start, end, zoneId, mode, includeAtStart}`; 200 with what is stored.
async fn set_quiet_hours(
    State(app): State<Notifications>,
    CurrentMember(member): CurrentMember<MemberId>,
    Json(body): Json<QuietHoursBody>,
) -> Result<Json<QuietHoursBody>, ApiError> {
    let input = QuietHoursInput {
        enabled: body.enabled,
        start: body.start,
        end: body.end,
        zone_id: body.zone_id,
        mode: body.mode,
        include_at_start: body.include_at_start,
    };
    Ok(Json(app.set_quiet_hours(member, input).await?.into()))
}

#[derive(Deserialize)]
struct SnoozeBody {
    minutes: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SnoozedBody {
    key: String,
    due_at: String,
}

/// `POST /v0/push/reminders/{key}/snooze`: `{minutes}` (5 to 120) → 202 `{key, dueAt}`.
async fn snooze(
    State(app): State<Notifications>,
    CurrentMember(member): CurrentMember<MemberId>,
    Path(key): Path<String>,
    Json(body): Json<SnoozeBody>,
) -> Result<(StatusCode, Json<SnoozedBody>), ApiError> {
    let snoozed = app.snooze(member, &key, body.minutes).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(SnoozedBody {
            key: snoozed.key.to_string(),
            due_at: snoozed.due_at.to_string(),
        }),
    ))
}
