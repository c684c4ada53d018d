//! The one error type every HTTP handler returns, and the one place it becomes a response body.
//!
//! Two body shapes exist on the wire (the reference's contract):
//! * [`ErrorStyle::Full`] — task and notification: `{timestamp, status, error, code?, message, path, errors[]}`
//!   (`path` without the reference's `uri=` prefix).
//! * [`ErrorStyle::MessageOnly`] — auth: `{"message": …}`.
//!
//! A handler builds an [`ApiError`]; the response carries it as an extension and [`render_errors`] (installed
//! by [`crate::http::service_router`]) writes the body in the service's style with the request path.

use std::borrow::Cow;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::clock::SharedClock;
use crate::db::DbError;

/// The code of a 401 for a member whose account was deleted (their access token has not expired yet); task
/// and notification answer it alike.
pub const ACCOUNT_DELETED: &str = "ACCOUNT_DELETED";

/// Reference message for unexpected failures.
pub const INTERNAL_MESSAGE: &str = "Unexpected error occurred.";

/// Most bytes of client input an error body repeats: the path, each rejected string value and the message
/// (which may quote the input) are cut to this many bytes, so a huge request never earns a huge answer.
pub const ECHO_MAX_BYTES: usize = 256;

/// `value` with every string in it cut to [`ECHO_MAX_BYTES`].
fn clipped(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(crate::text::truncate(s, ECHO_MAX_BYTES)),
        Value::Array(items) => Value::Array(items.iter().map(clipped).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (crate::text::truncate(k, ECHO_MAX_BYTES), clipped(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// One rejected field of a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldError {
    pub field: String,
    pub rejected_value: serde_json::Value,
    pub reason: String,
    /// A stable code of the reason (e.g. `TITLE_LENGTH`), for clients that show their own words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        rejected_value: impl Into<serde_json::Value>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            rejected_value: rejected_value.into(),
            reason: reason.into(),
            code: None,
        }
    }

    pub fn with_code(mut self, code: Option<&'static str>) -> Self {
        self.code = code;
        self
    }
}

/// An error answered to an HTTP client.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: Cow<'static, str>,
    /// A stable machine-readable code (e.g. `USER_NOT_READY`), added to the reference body.
    pub code: Option<&'static str>,
    pub errors: Vec<FieldError>,
    /// Seconds, sent as `Retry-After` (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            message: message.into(),
            code: None,
            errors: Vec::new(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 400 listing every invalid field, with the reference's summary message.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut e = Self::bad_request(format!("Validation failed for {} field(s)", errors.len()))
            .with_code("VALIDATION_FAILED");
        e.errors = errors;
        e
    }

    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "요청이 너무 많습니다. 잠시 후 다시 시도해 주세요.",
        )
        .with_retry_after(retry_after_secs)
    }

    pub fn unavailable(message: impl Into<Cow<'static, str>>, retry_after_secs: u64) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message).with_retry_after(retry_after_secs)
    }

    /// 500. The cause is logged here, once; the client only sees the generic message.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %cause, source = ?cause.source(), "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_MESSAGE)
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Duplicate { .. } => ApiError::conflict("이미 존재하는 데이터입니다."),
            DbError::Conflict(_) => {
                ApiError::conflict("다른 요청과 동시에 변경되었습니다. 다시 시도해 주세요.")
            }
            DbError::Unavailable(ref msg) => {
                tracing::warn!(error = %msg, "database unavailable");
                ApiError::unavailable(
                    "서비스를 일시적으로 사용할 수 없습니다. 잠시 후 다시 시도해 주세요.",
                    2,
                )
            }
            other => ApiError::internal(&other),
        }
    }
}

/// The body shape of a service's errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStyle {
    /// `{timestamp, status, error, code?, message, path, errors[]}` (task, notification, gateway).
    Full,
    /// `{"message": …}` (auth).
    MessageOnly,
}

#[derive(Serialize)]
struct FullBody<'a> {
    timestamp: String,
    status: u16,
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    message: &'a str,
    path: &'a str,
    errors: &'a [FieldError],
}

#[derive(Serialize)]
struct MessageBody<'a> {
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
}

impl ApiError {
    /// The JSON body of this error in `style`. What it repeats of the request (path, message, rejected
    /// values) is cut to [`ECHO_MAX_BYTES`] each.
    pub fn body(&self, style: ErrorStyle, path: &str, now: jiff::Timestamp) -> Vec<u8> {
        let message = crate::text::truncate(&self.message, ECHO_MAX_BYTES);
        let result = match style {
            ErrorStyle::Full => {
                let errors: Vec<FieldError> = self
                    .errors
                    .iter()
                    .map(|e| FieldError {
                        field: crate::text::truncate(&e.field, ECHO_MAX_BYTES),
                        rejected_value: clipped(&e.rejected_value),
                        reason: crate::text::truncate(&e.reason, ECHO_MAX_BYTES),
                        code: e.code,
                    })
                    .collect();
                serde_json::to_vec(&FullBody {
                    timestamp: format!("{now:.6}"),
                    status: self.status.as_u16(),
                    error: self.status.canonical_reason().unwrap_or(""),
                    code: self.code,
                    message: &message,
                    path: &crate::text::truncate(path, ECHO_MAX_BYTES),
                    errors: &errors,
                })
            }
            ErrorStyle::MessageOnly => serde_json::to_vec(&MessageBody {
                message: &message,
                code: self.code,
            }),
        };
        result.unwrap_or_else(|_| b"{}".to_vec())
    }
}

/// Marks a response as an error to be rendered by [`render_errors`].
#[derive(Clone)]
struct PendingError(Arc<ApiError>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = self.status;
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
            .extensions_mut()
            .insert(PendingError(Arc::new(self)));
        response
    }
}

/// State of the [`render_errors`] middleware.
#[derive(Clone)]
pub struct ErrorRendering {
    pub style: ErrorStyle,
    pub clock: SharedClock,
}

/// Middleware: writes the JSON body of every [`ApiError`] response, with the request's path.
pub async fn render_errors(
    State(rendering): State<ErrorRendering>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    if let Some(PendingError(error)) = response.extensions_mut().remove::<PendingError>() {
        let body = error.body(rendering.style, &path, rendering.clock.now());
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response.headers_mut().remove(header::CONTENT_LENGTH);
        *response.body_mut() = Body::from(body);
    }
    response
}

/// Fallback for unknown paths.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("No resource at {}.", uri.path()))
}

/// Fallback for a known path with the wrong method.
pub async fn method_not_allowed(method: axum::http::Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("Method {method} is not supported here."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        "2026-02-01T00:00:00.123456Z".parse().unwrap()
    }

    #[test]
    fn full_body_has_every_reference_field() {
        let e = ApiError::validation(vec![FieldError::new("title", "", "must not be blank")]);
        let v: serde_json::Value =
            serde_json::from_slice(&e.body(ErrorStyle::Full, "/v2/tasks", now())).unwrap();
        assert_eq!(v["timestamp"], "2026-02-01T00:00:00.123456Z");
        assert_eq!(v["status"], 400);
        assert_eq!(v["error"], "Bad Request");
        assert_eq!(v["message"], "Validation failed for 1 field(s)");
        assert_eq!(v["path"], "/v2/tasks");
        assert_eq!(v["errors"][0]["field"], "title");
        assert_eq!(v["errors"][0]["rejectedValue"], "");
        assert_eq!(v["errors"][0]["reason"], "must not be blank");
        // Pinit's addition to the reference body: the summary's stable code.
        assert_eq!(v["code"], "VALIDATION_FAILED");
        assert!(v["errors"][0].get("code").is_none());
    }

    #[test]
    fn echoes_of_the_request_are_cut() {
        let huge = "x".repeat(10_000);
        let e = ApiError::not_found(format!("No resource at /{huge}.")).with_errors(vec![
            FieldError::new("title", huge.as_str(), "too long"),
            FieldError::new("dueDate", serde_json::json!({"date": huge.as_str()}), "bad"),
        ]);
        let body = e.body(ErrorStyle::Full, &format!("/{huge}"), now());
        assert!(body.len() < 2_000, "{} bytes", body.len());
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let cut = format!("{}…", &huge[..ECHO_MAX_BYTES]);
        assert_eq!(v["errors"][0]["rejectedValue"], cut.as_str());
        assert_eq!(v["errors"][1]["rejectedValue"]["date"], cut.as_str());
        assert_eq!(v["path"], format!("/{}…", &huge[..ECHO_MAX_BYTES - 1]));
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .starts_with("No resource at /xxx")
        );
        let short = e.body(ErrorStyle::MessageOnly, "/", now());
        assert!(short.len() < 400, "{} bytes", short.len());
    }

    #[test]
    fn message_only_body_is_just_the_message() {
        let e = ApiError::conflict("이미 존재하는 사용자입니다.");
        let v: serde_json::Value =
            serde_json::from_slice(&e.body(ErrorStyle::MessageOnly, "/v0/signup", now())).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"message": "이미 존재하는 사용자입니다."})
        );
    }

    #[test]
    fn codes_and_retry_after_travel() {
        let e = ApiError::unavailable("not yet", 1).with_code("USER_NOT_READY");
        let response = e.clone().into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let v: serde_json::Value =
            serde_json::from_slice(&e.body(ErrorStyle::Full, "/v2/tasks", now())).unwrap();
        assert_eq!(v["code"], "USER_NOT_READY");
    }

    #[test]
    fn database_errors_map_to_statuses() {
        let dup: ApiError = DbError::Duplicate {
            constraint: "uk".into(),
        }
        .into();
        assert_eq!(dup.status, StatusCode::CONFLICT);
        let busy: ApiError = DbError::Unavailable("pool timed out".into()).into();
        assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.retry_after, Some(2));
    }
}
