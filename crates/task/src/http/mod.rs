//! The task HTTP API: the reference's `/v2` paths, parameters and JSON (docs/contract/task.md), with the
//! corrected statuses of docs/contract/task.md#statuses (400 bad input, 401 no member header, 404
//! missing or not yours, 409 state conflicts, 503 `USER_NOT_READY`). Handlers only translate; the rules live in [`crate::domain`] and
//! the use cases in [`crate::app`].

pub mod busy;
mod dto;
mod export;
pub mod feeds;
mod members;
mod schedules;
mod tasks;

use axum::Router;
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::routing::{MethodFilter, MethodRouter, on};
use pinit_kernel::ApiError;
use pinit_kernel::error::FieldError;
use pinit_messaging::outbox::OutboxError;

use crate::app::{AppError, TaskApp};
use crate::domain::ErrorClass;
use crate::domain::error::msg;
use crate::store::StoreError;

/// `Retry-After` (seconds) of a `USER_NOT_READY` answer: `member.created` usually lands within one.
pub const NOT_READY_RETRY_AFTER_SECS: u64 = 1;

/// The task OpenAPI document (served at `/openapi.json`).
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// One operation: method, path (axum syntax, as in the OpenAPI document) and handler.
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    route: MethodRouter<TaskApp>,
}

fn ep<H, T>(method: Method, path: &'static str, handler: H) -> Endpoint
where
    H: Handler<T, TaskApp>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
    Endpoint {
        method,
        path,
        route: on(filter, handler),
    }
}

/// Every operation the router serves — the single list [`routes`] is built from, and what the
/// OpenAPI document is checked against.
pub fn endpoints() -> Vec<Endpoint> {
    use Method as M;
    vec![
        ep(M::POST, "/v2/tasks", tasks::create),
        ep(M::GET, "/v2/tasks", tasks::page),
        ep(M::GET, "/v2/tasks/cursor", tasks::cursor),
        ep(M::GET, "/v2/tasks/completed", tasks::archive),
        ep(M::GET, "/v2/tasks/by-deadline", tasks::by_deadline),
        ep(M::GET, "/v2/tasks/{taskId}", tasks::get_one),
        ep(M::PATCH, "/v2/tasks/{taskId}", tasks::update),
        ep(M::DELETE, "/v2/tasks/{taskId}", tasks::delete),
        ep(M::POST, "/v2/tasks/{taskId}/complete", tasks::complete),
        ep(M::POST, "/v2/tasks/{taskId}/reopen", tasks::reopen),
        ep(M::POST, "/v2/tasks/{taskId}/schedules", tasks::schedule),
        ep(M::POST, "/v2/schedules", schedules::create),
        ep(M::GET, "/v2/schedules", schedules::day),
        ep(M::GET, "/v2/schedules/week", schedules::week),
        ep(M::GET, "/v2/schedules/series/{seriesId}", schedules::series),
        ep(M::GET, "/v2/schedules/{scheduleId}", schedules::get_one),
        ep(M::PATCH, "/v2/schedules/{scheduleId}", schedules::patch),
        ep(M::DELETE, "/v2/schedules/{scheduleId}", schedules::delete),
        ep(
            M::POST,
            "/v2/schedules/{scheduleId}/start",
            schedules::start,
        ),
        ep(
            M::POST,
            "/v2/schedules/{scheduleId}/suspend",
            schedules::suspend,
        ),
        ep(
            M::POST,
            "/v2/schedules/{scheduleId}/complete",
            schedules::complete,
        ),
        ep(
            M::POST,
            "/v2/schedules/{scheduleId}/cancel",
            schedules::cancel,
        ),
        ep(
            M::PUT,
            "/v2/schedules/{scheduleId}/duration",
            schedules::correct_duration,
        ),
        ep(M::GET, "/v2/statistics", schedules::statistics),
        ep(M::GET, "/v2/statistics/plan", schedules::plan),
        ep(M::GET, "/v2/export", export::export),
        ep(M::GET, "/v2/members/now", members::now),
        ep(M::GET, "/v2/members/zone-id", members::zone_id),
        ep(M::PUT, "/v2/members/zone-id", members::set_zone_id),
        ep(M::GET, "/v2/members/zone-offset", members::zone_offset),
        ep(M::GET, "/v2/members/reminders", members::reminders),
        ep(M::PUT, "/v2/members/reminders", members::set_reminders),
        ep(M::GET, "/v2/members/objective", members::objective),
        ep(M::PUT, "/v2/members/objective", members::set_objective),
        ep(M::GET, "/v2/calendar/feeds", feeds::list),
        ep(M::POST, "/v2/calendar/feeds", feeds::create),
        ep(M::DELETE, "/v2/calendar/feeds/{feedId}", feeds::revoke),
        ep(M::POST, "/v2/calendar/feeds/{feedId}/rotate", feeds::rotate),
        ep(M::GET, "/feeds/{file}", feeds::document),
        ep(M::GET, "/v2/calendar/subscriptions", busy::list),
        ep(M::POST, "/v2/calendar/subscriptions", busy::subscribe),
        Endpoint {
            method: M::POST,
            path: "/v2/calendar/subscriptions/upload",
            route: on(MethodFilter::POST, busy::upload).layer(
                axum::extract::DefaultBodyLimit::max(busy::UPLOAD_BODY_LIMIT),
            ),
        },
        ep(
            M::DELETE,
            "/v2/calendar/subscriptions/{subscriptionId}",
            busy::delete,
        ),
        ep(M::GET, "/v2/calendar/busy", busy::day),
        ep(M::GET, "/v2/calendar/busy/week", busy::week),
        Endpoint {
            method: M::GET,
            path: "/openapi.json",
            route: pinit_kernel::http::openapi_route(OPENAPI),
        },
    ]
}

/// Every task route (the kernel adds health, 404/405 and the error bodies).
pub fn routes(app: TaskApp) -> Router {
    endpoints()
        .into_iter()
        .fold(Router::new(), |router, e| router.route(e.path, e.route))
        .with_state(app.clone())
        .merge(crate::dav::routes(app))
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

/// A calendar that cannot be added: 400 for what the request says, 422 for what its URL answered (or did not),
/// 409 for one too many; the field named.
fn calendar_error(e: &crate::domain::busy::CalendarError) -> ApiError {
    use crate::domain::busy::CalendarError as E;
    let message = e.to_string();
    let mut answer = match e {
        E::TooMany => return ApiError::conflict(message),
        E::Fetch(_)
        | E::TooLarge { field: "url" }
        | E::NotCalendar { field: "url", .. }
        | E::TooManyEvents { field: "url" } => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message.clone())
        }
        _ => ApiError::bad_request(message.clone()),
    };
    if let Some(field) = e.field() {
        answer = answer.with_errors(vec![FieldError::new(
            field,
            serde_json::Value::Null,
            message,
        )]);
    }
    answer
}

impl From<AppError> for ApiError {
    /// The status and body of each refusal, with its message's stable code ([`coded`]).
    fn from(error: AppError) -> Self {
        coded(answer(error))
    }
}

/// Gives an answer, and each of its field errors, the code of its message (`msg::code_of`: the message's
/// name, e.g. `ALREADY_RUNNING`) unless it has one, so a client can word it in its own language.
pub(crate) fn coded(mut e: ApiError) -> ApiError {
    if e.code.is_none() {
        e.code = msg::code_of(&e.message);
    }
    for f in &mut e.errors {
        if f.code.is_none() {
            f.code = msg::code_of(&f.reason);
        }
    }
    e
}

fn answer(error: AppError) -> ApiError {
    {
        match error {
            AppError::NotProvisioned(member) => {
                tracing::info!(%member, "member not provisioned yet");
                ApiError::unavailable(msg::MEMBER_NOT_READY, NOT_READY_RETRY_AFTER_SECS)
                    .with_code("USER_NOT_READY")
            }
            AppError::Erased(_) => ApiError::unauthorized(error.to_string())
                .with_code(pinit_kernel::error::ACCOUNT_DELETED),
            AppError::TaskNotFound(_)
            | AppError::ScheduleNotFound(_)
            | AppError::SeriesNotFound(_)
            | AppError::FeedNotFound(_)
            | AppError::CalendarNotFound(_) => ApiError::not_found(error.to_string()),
            AppError::Calendar(e) => calendar_error(&e),
            AppError::Feed(e) => classed(e.class(), &e, Some("kind")),
            AppError::CalendarPrecondition => {
                ApiError::new(StatusCode::PRECONDITION_FAILED, error.to_string())
            }
            AppError::CalendarUidTaken(_) | AppError::CalendarNothingAhead => {
                ApiError::conflict(error.to_string())
            }
            AppError::CalendarNoOccurrence(_) => {
                classed(crate::domain::ErrorClass::BadRequest, &error, None)
            }
            AppError::SeriesKeepsItsDays => {
                classed(crate::domain::ErrorClass::BadRequest, &error, Some("date"))
            }
            AppError::RuleNeedsSeriesScope => classed(
                crate::domain::ErrorClass::BadRequest,
                &error,
                Some("recurrence"),
            ),
            AppError::SeriesWithoutOccurrence => classed(
                crate::domain::ErrorClass::BadRequest,
                &error,
                Some("recurrence.exdates"),
            ),
            AppError::Invalid(e) => classed(e.class(), &e, Some(e.field())),
            AppError::Reminders(e) => classed(e.class(), &e, Some(&e.field())),
            AppError::Dated(e) => classed(e.class(), &e, Some("time")),
            AppError::Paging(e) => classed(e.class(), &e, Some(e.field())),
            AppError::Dependency(e) => classed(e.class(), &e, None),
            AppError::Schedule(e) => {
                let field = match &e {
                    crate::domain::ScheduleError::Invalid(v) => Some(v.field()),
                    crate::domain::ScheduleError::CorrectionOutOfRange => Some("duration"),
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
