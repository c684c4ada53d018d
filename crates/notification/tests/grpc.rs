//! `GrpcScheduleDirectory` against a fake task service speaking `pinit.schedule.ScheduleGrpcService` over a
//! real socket.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pinit_contracts::events::ScheduleState;
use pinit_contracts::schedule::schedule_grpc_service_server::{
    ScheduleGrpcService, ScheduleGrpcServiceServer,
};
use pinit_contracts::schedule::{
    GetScheduleRequest, GetScheduleResponse, GetSchedulesStateRequest, GetSchedulesStateResponse,
    ScheduleStateEntry,
};
use pinit_notification::{
    DirectoryError, GrpcScheduleDirectory, MemberId, ScheduleDirectory, ScheduleId, ScheduleKey,
};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

#[derive(Clone)]
struct Row {
    owner: i64,
    title: &'static str,
    start: i64,
    state: &'static str,
}

struct FakeTask {
    rows: HashMap<i64, Row>,
    batch: bool,
    basics_calls: Arc<AtomicUsize>,
    batch_calls: Arc<AtomicUsize>,
    traceparents: Traceparents,
}

/// The `traceparent` metadata of each call, in order.
type Traceparents = Arc<Mutex<Vec<Option<String>>>>;

fn record_traceparent<T>(seen: &Traceparents, request: &Request<T>) {
    let value = request
        .metadata()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    seen.lock().unwrap().push(value);
}

fn ts(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

#[tonic::async_trait]
impl ScheduleGrpcService for FakeTask {
    async fn get_schedule_basics(
        &self,
        request: Request<GetScheduleRequest>,
    ) -> Result<Response<GetScheduleResponse>, Status> {
        self.basics_calls.fetch_add(1, Ordering::SeqCst);
        record_traceparent(&self.traceparents, &request);
        let r = request.into_inner();
        let row = self
            .rows
            .get(&r.schedule_id)
            .ok_or_else(|| Status::not_found("일정을 찾을 수 없습니다."))?;
        if row.owner != r.owner_id {
            return Err(Status::permission_denied("not yours"));
        }
        Ok(Response::new(GetScheduleResponse {
            schedule_id: r.schedule_id,
            owner_id: row.owner,
            schedule_title: row.title.into(),
            designated_start_time: ts(row.start),
        }))
    }

    async fn get_schedules_state(
        &self,
        request: Request<GetSchedulesStateRequest>,
    ) -> Result<Response<GetSchedulesStateResponse>, Status> {
        record_traceparent(&self.traceparents, &request);
        if !self.batch {
            return Err(Status::unimplemented("a reference task service"));
        }
        self.batch_calls.fetch_add(1, Ordering::SeqCst);
        let ids = request.into_inner().schedule_ids;
        if ids.len() > 1000 {
            return Err(Status::invalid_argument("at most 1000"));
        }
        let schedules = ids
            .into_iter()
            .map(|id| match self.rows.get(&id) {
                Some(row) => ScheduleStateEntry {
                    schedule_id: id,
                    found: true,
                    owner_id: row.owner,
                    state: row.state.into(),
                    designated_start_time: ts(row.start),
                    schedule_title: row.title.into(),
                    version: 3,
                },
                None => ScheduleStateEntry {
                    schedule_id: id,
                    ..Default::default()
                },
            })
            .collect();
        Ok(Response::new(GetSchedulesStateResponse { schedules }))
    }
}

struct Served {
    url: String,
    basics_calls: Arc<AtomicUsize>,
    batch_calls: Arc<AtomicUsize>,
    traceparents: Traceparents,
    stop: CancellationToken,
}

async fn serve(batch: bool) -> Served {
    let mut rows = HashMap::new();
    rows.insert(
        1,
        Row {
            owner: 10,
            title: "딥 워크",
            start: 1_770_512_400,
            state: "NOT_STARTED",
        },
    );
    rows.insert(
        2,
        Row {
            owner: 10,
            title: "회의",
            start: 1_770_516_000,
            state: "IN_PROGRESS",
        },
    );
    rows.insert(
        3,
        Row {
            owner: 99,
            title: "someone else's",
            start: 1_770_516_000,
            state: "NOT_STARTED",
        },
    );
    for id in 100..1600 {
        rows.insert(
            id,
            Row {
                owner: 10,
                title: "bulk",
                start: 1_770_512_400,
                state: "COMPLETED",
            },
        );
    }
    let basics_calls = Arc::new(AtomicUsize::new(0));
    let batch_calls = Arc::new(AtomicUsize::new(0));
    let traceparents = Traceparents::default();
    let fake = FakeTask {
        rows,
        batch,
        basics_calls: basics_calls.clone(),
        batch_calls: batch_calls.clone(),
        traceparents: traceparents.clone(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let until = stop.clone();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(ScheduleGrpcServiceServer::new(fake))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                until.cancelled_owned(),
            )
            .await
    });
    Served {
        url: format!("http://{addr}"),
        basics_calls,
        batch_calls,
        traceparents,
        stop,
    }
}

fn key(schedule_id: i64, owner_id: i64) -> ScheduleKey {
    ScheduleKey {
        schedule_id: ScheduleId(schedule_id),
        owner_id: MemberId(owner_id),
    }
}

#[tokio::test]
async fn basics_are_found_or_absent_for_the_owner() {
    let task = serve(true).await;
    let directory = GrpcScheduleDirectory::new(&task.url, Duration::from_secs(3)).unwrap();
    let found = directory.basics(key(1, 10)).await.unwrap().unwrap();
    assert_eq!(found.title, "딥 워크");
    assert_eq!(found.start_time.to_string(), "2026-02-08T01:00:00Z");
    assert_eq!(
        directory.basics(key(9_999, 10)).await.unwrap(),
        None,
        "NOT_FOUND"
    );
    assert_eq!(
        directory.basics(key(3, 10)).await.unwrap(),
        None,
        "PERMISSION_DENIED"
    );
    task.stop.cancel();
}

#[tokio::test]
async fn states_use_the_batch_rpc_in_chunks_and_check_the_owner() {
    let task = serve(true).await;
    let directory = GrpcScheduleDirectory::new(&task.url, Duration::from_secs(3)).unwrap();
    let keys = [key(1, 10), key(2, 10), key(3, 10), key(9_999, 10)];
    let found = directory.states(&keys).await.unwrap();
    assert_eq!(
        found.len(),
        2,
        "unknown and someone else's schedules are absent"
    );
    assert_eq!(found[&ScheduleId(1)].state, Some(ScheduleState::NotStarted));
    assert_eq!(found[&ScheduleId(2)].state, Some(ScheduleState::InProgress));
    assert_eq!(found[&ScheduleId(2)].basics.title, "회의");
    assert_eq!(task.basics_calls.load(Ordering::SeqCst), 0);

    let many: Vec<ScheduleKey> = (100..1600).map(|id| key(id, 10)).collect();
    let found = directory.states(&many).await.unwrap();
    assert_eq!(found.len(), 1500);
    assert!(
        found
            .values()
            .all(|s| s.state == Some(ScheduleState::Completed))
    );
    assert_eq!(
        task.batch_calls.load(Ordering::SeqCst),
        3,
        "1 + two chunks of at most 1000"
    );
    task.stop.cancel();
}

#[tokio::test]
async fn a_reference_task_service_without_the_batch_rpc_is_asked_one_by_one() {
    let task = serve(false).await;
    let directory = GrpcScheduleDirectory::new(&task.url, Duration::from_secs(3)).unwrap();
    let found = directory
        .states(&[key(1, 10), key(2, 10), key(3, 10)])
        .await
        .unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(
        found[&ScheduleId(1)].state,
        None,
        "the state is unknown without the batch RPC"
    );
    assert_eq!(found[&ScheduleId(1)].basics.title, "딥 워크");
    assert_eq!(task.basics_calls.load(Ordering::SeqCst), 3);
    task.stop.cancel();
}

#[tokio::test]
async fn an_unreachable_task_service_is_unavailable_not_absent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let directory = GrpcScheduleDirectory::new(&url, Duration::from_millis(500)).unwrap();
    assert!(matches!(
        directory.basics(key(1, 10)).await,
        Err(DirectoryError::Unavailable(_))
    ));
    assert!(matches!(
        directory.states(&[key(1, 10)]).await,
        Err(DirectoryError::Unavailable(_))
    ));
    assert!(GrpcScheduleDirectory::new("task:9090", Duration::from_secs(1)).is_err());
}

/// A call carries the caller's W3C trace context as `traceparent` metadata (the task service's span joins the
/// caller's trace); outside a trace it carries none.
#[tokio::test]
async fn calls_carry_the_callers_trace_context() {
    use pinit_kernel::trace::{self, TraceContext};
    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let task = serve(true).await;
    let directory = GrpcScheduleDirectory::new(&task.url, Duration::from_secs(3)).unwrap();
    let parent = TraceContext::new(PARENT, None);
    trace::within(parent.clone(), directory.basics(key(1, 10)))
        .await
        .unwrap();
    trace::within(parent, directory.states(&[key(1, 10)]))
        .await
        .unwrap();
    directory.basics(key(1, 10)).await.unwrap();
    assert_eq!(
        *task.traceparents.lock().unwrap(),
        [Some(PARENT.to_string()), Some(PARENT.to_string()), None]
    );
    task.stop.cancel();
}
