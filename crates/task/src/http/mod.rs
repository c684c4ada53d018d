//! The task HTTP API: the reference's `/v2` paths, parameters and JSON (spec §5), with the corrected
//! statuses of §13.1 (400 bad input, 401 no member header, 404 missing or not yours, 409 state
//! conflicts, 503 `USER_NOT_READY`). Handlers only translate; the rules live in [`crate::domain`] and
//! the use cases in [`crate::app`].

mod dto;
mod members;
mod schedules;
mod tasks;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::routing::{get, post};
use pinit_kernel::ApiError;
use pinit_kernel::error::FieldError;
use pinit_messaging::outbox::OutboxError;

use crate::app::{AppError, TaskApp};
use crate::domain::error::msg;
use crate::domain::{ErrorClass, MemberId};
use crate::store::StoreError;

/// The header the gateway sets from the verified JWT (it strips any client-sent one).
pub const MEMBER_HEADER: &str = "x-member-id";

/// `Retry-After` (seconds) of a `USER_NOT_READY` answer: `member.created` usually lands within one.
pub const NOT_READY_RETRY_AFTER_SECS: u64 = 1;

/// Every task route (the kernel adds health, 404/405 and the error bodies).
pub fn routes(app: TaskApp) -> Router {
    Router::new()
        .route("/v2/tasks", post(tasks::create).get(tasks::page))
        .route("/v2/tasks/cursor", get(tasks::cursor))
        .route("/v2/tasks/completed", get(tasks::archive))
        .route("/v2/tasks/by-deadline", get(tasks::by_deadline))
        .route(
            "/v2/tasks/{task_id}",
            get(tasks::get_one)
                .patch(tasks::update)
                .delete(tasks::delete),
        )
        .route("/v2/tasks/{task_id}/complete", post(tasks::complete))
        .route("/v2/tasks/{task_id}/reopen", post(tasks::reopen))
        .route("/v2/tasks/{task_id}/schedules", post(tasks::schedule))
        .route("/v2/schedules", post(schedules::create).get(schedules::day))
        .route("/v2/schedules/week", get(schedules::week))
        .route(
            "/v2/schedules/{schedule_id}",
            get(schedules::get_one)
                .patch(schedules::patch)
                .delete(schedules::delete),
        )
        .route("/v2/schedules/{schedule_id}/start", post(schedules::start))
        .route(
            "/v2/schedules/{schedule_id}/suspend",
            post(schedules::suspend),
        )
        .route(
            "/v2/schedules/{schedule_id}/complete",
            post(schedules::complete),
        )
        .route(
            "/v2/schedules/{schedule_id}/cancel",
            post(schedules::cancel),
        )
        .route("/v2/statistics", get(schedules::statistics))
        .route("/v2/members/now", get(members::now))
        .route(
            "/v2/members/zone-id",
            get(members::zone_id).put(members::set_zone_id),
        )
        .route("/v2/members/zone-offset", get(members::zone_offset))
        .with_state(app)
}

/// The member a request is for, from `X-Member-Id` (missing or not a positive integer → 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentMember(pub MemberId);

impl<S: Send + Sync> FromRequestParts<S> for CurrentMember {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .headers
            .get(MEMBER_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|id| *id > 0)
            .map(|id| CurrentMember(MemberId(id)))
            .ok_or_else(|| ApiError::unauthorized("인증이 필요합니다. 다시 로그인해 주세요."))
    }
}

/// An answer in the status its class means.
fn classed(
    class: ErrorClass,
    error: &(dyn std::error::Error + 'static),
    field: Option<&str>,
) -> ApiError {
    match class {
        ErrorClass::BadRequest => {
            let message = error.to_string();
            let mut e = ApiError::bad_request(message.clone());
            if let Some(field) = field {
                e = e.with_errors(vec![FieldError::new(
                    field,
                    serde_json::Value::Null,
                    message,
                )]);
            }
            e
        }
        ErrorClass::Conflict => ApiError::conflict(error.to_string()),
        ErrorClass::Internal => ApiError::internal(error),
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::NotProvisioned(member) => {
                tracing::info!(%member, "member not provisioned yet");
                ApiError::unavailable(msg::MEMBER_NOT_READY, NOT_READY_RETRY_AFTER_SECS)
                    .with_code("USER_NOT_READY")
            }
            AppError::TaskNotFound(_) | AppError::ScheduleNotFound(_) => {
                ApiError::not_found(error.to_string())
            }
            AppError::Invalid(e) => classed(e.class(), &e, Some(e.field())),
            AppError::Paging(e) => classed(e.class(), &e, Some(e.field())),
            AppError::Dependency(e) => classed(e.class(), &e, None),
            AppError::Schedule(e) => {
                let field = match &e {
                    crate::domain::ScheduleError::Invalid(v) => Some(v.field()),
                    _ => None,
                };
                classed(e.class(), &e, field)
            }
            AppError::Task(e) => {
                let field = match &e {
                    crate::domain::TaskError::Invalid(v) => Some(v.field()),
                    _ => None,
                };
                classed(e.class(), &e, field)
            }
            AppError::Store(StoreError::Db(e)) => ApiError::from(e),
            AppError::Store(e @ StoreError::VersionConflict { .. }) => {
                tracing::warn!(error = %e, "optimistic version check failed");
                ApiError::conflict("다른 요청과 동시에 변경되었습니다. 다시 시도해 주세요.")
            }
            AppError::Store(e @ StoreError::Corrupt(_)) => ApiError::internal(&e),
            AppError::Outbox(OutboxError::Db(e)) => ApiError::from(e),
            AppError::Outbox(e) => ApiError::internal(&e),
        }
    }
}
