//! gRPC `pinit.schedule.ScheduleGrpcService` (docs/contract/task.md#grpc), for the notification service.
//!
//! * `GetScheduleBasics` — the reference's call: `NOT_FOUND` (`"해당 일정을 찾을 수 없습니다."`) when the
//!   schedule does not exist, `PERMISSION_DENIED` (`"Member does not own the schedule"`) when `owner_id`
//!   is not its owner, `INTERNAL` (`"Failed to load schedule: …"`) otherwise.
//! * `GetSchedulesState` — Pinit's batch call: state, start time, title and version of up to
//!   [`MAX_BATCH`] schedules in one round trip, so the dispatcher can re-check "still NOT_STARTED, same
//!   start time" for a whole batch of due notifications just before sending.
//!
//! Serve it with `tonic::transport::Server::builder().add_service(grpc_service(app, identity))` on
//! `task.grpc_port`: it answers only calls vouched for with the services' identity key (`kernel::identity`).

use std::collections::HashMap;

use jiff::Timestamp;
use pinit_contracts::schedule::schedule_grpc_service_server::{
    SERVICE_NAME, ScheduleGrpcService, ScheduleGrpcServiceServer,
};
use pinit_contracts::schedule::{
    GetScheduleRequest, GetScheduleResponse, GetSchedulesStateRequest, GetSchedulesStateResponse,
    ScheduleStateEntry,
};
use pinit_kernel::db::DbError;
use pinit_kernel::identity::{ASSERTION_HEADER, IdentityKey};
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};

use crate::app::{AppError, TaskApp};
use crate::domain::ScheduleId;
use crate::domain::error::msg;
use crate::store::StoreError;

/// The most ids one `GetSchedulesState` call may ask for.
pub const MAX_BATCH: usize = 1000;

/// The reference's message for an owner mismatch.
pub const NOT_OWNER: &str = "Member does not own the schedule";

/// The service implementation.
#[derive(Clone)]
pub struct ScheduleGrpc {
    app: TaskApp,
}

/// The tonic service the binary serves: only to Pinit's own services, whose calls carry an assertion signed with
/// `identity` (`pinit_kernel::identity`); any other caller gets `UNAUTHENTICATED`.
pub fn grpc_service(
    app: TaskApp,
    identity: IdentityKey,
) -> InterceptedService<ScheduleGrpcServiceServer<ScheduleGrpc>, CallersOnly> {
    ScheduleGrpcServiceServer::with_interceptor(ScheduleGrpc { app }, CallersOnly { identity })
}

/// Refuses calls without a valid service assertion in `x-pinit-identity`.
#[derive(Clone)]
pub struct CallersOnly {
    identity: IdentityKey,
}

impl tonic::service::Interceptor for CallersOnly {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        let vouched = request
            .metadata()
            .get(ASSERTION_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|assertion| {
                self.identity
                    .verify_call(assertion, SERVICE_NAME, Timestamp::now().as_second())
            });
        if vouched {
            Ok(request)
        } else {
            Err(Status::unauthenticated(
                "only Pinit's services may call this service",
            ))
        }
    }
}

fn timestamp(at: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.as_second(),
        nanos: at.subsec_nanosecond(),
    }
}

fn failure(e: AppError) -> Status {
    match e {
        AppError::Store(StoreError::Db(DbError::Unavailable(why))) => {
            tracing::warn!(error = %why, "database unavailable (gRPC)");
            Status::unavailable("database unavailable")
        }
        other => {
            tracing::error!(error = %other, "gRPC schedule lookup failed");
            Status::internal(format!("Failed to load schedule: {other}"))
        }
    }
}

#[tonic::async_trait]
impl ScheduleGrpcService for ScheduleGrpc {
    async fn get_schedule_basics(
        &self,
        request: Request<GetScheduleRequest>,
    ) -> Result<Response<GetScheduleResponse>, Status> {
        let r = request.into_inner();
        let stored = self
            .app
            .schedule_by_id(ScheduleId(r.schedule_id))
            .await
            .map_err(failure)?
            .ok_or_else(|| Status::not_found(msg::SCHEDULE_NOT_FOUND))?;
        let s = &stored.schedule;
        if s.owner_id().get() != r.owner_id {
            return Err(Status::permission_denied(NOT_OWNER));
        }
        Ok(Response::new(GetScheduleResponse {
            schedule_id: s.id().get(),
            owner_id: s.owner_id().get(),
            schedule_title: s.title().as_str().to_owned(),
            designated_start_time: Some(timestamp(s.designated_start())),
        }))
    }

    async fn get_schedules_state(
        &self,
        request: Request<GetSchedulesStateRequest>,
    ) -> Result<Response<GetSchedulesStateResponse>, Status> {
        let ids = request.into_inner().schedule_ids;
        if ids.len() > MAX_BATCH {
            return Err(Status::invalid_argument(format!(
                "at most {MAX_BATCH} schedule ids per call, got {}",
                ids.len()
            )));
        }
        let mut distinct: Vec<ScheduleId> = ids.iter().copied().map(ScheduleId).collect();
        distinct.sort();
        distinct.dedup();
        let found: HashMap<i64, _> = self
            .app
            .schedules_by_ids(&distinct)
            .await
            .map_err(failure)?
            .into_iter()
            .map(|s| (s.schedule.id().get(), s))
            .collect();
        let schedules = ids
            .into_iter()
            .map(|id| match found.get(&id) {
                Some(stored) => {
                    let s = &stored.schedule;
                    ScheduleStateEntry {
                        schedule_id: id,
                        found: true,
                        owner_id: s.owner_id().get(),
                        state: s.state().as_str().to_owned(),
                        designated_start_time: Some(timestamp(s.designated_start())),
                        schedule_title: s.title().as_str().to_owned(),
                        version: stored.version,
                    }
                }
                None => ScheduleStateEntry {
                    schedule_id: id,
                    ..ScheduleStateEntry::default()
                },
            })
            .collect();
        Ok(Response::new(GetSchedulesStateResponse { schedules }))
    }
}
