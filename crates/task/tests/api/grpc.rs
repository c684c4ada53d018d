//! gRPC `pinit.schedule.ScheduleGrpcService` over a real socket.

use pinit_contracts::schedule::schedule_grpc_service_client::ScheduleGrpcServiceClient;
use pinit_contracts::schedule::schedule_grpc_service_server::SERVICE_NAME;
use pinit_contracts::schedule::{GetScheduleRequest, GetSchedulesStateRequest};
use pinit_kernel::Backend;
use pinit_kernel::identity::{ASSERTION_HEADER, IdentityKey};
use pinit_testkit::both_backends;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::transport::server::TcpIncoming;

use crate::support::spawn_app;

/// Adds the service assertion of `key` (what notification's client sends) to every call.
fn vouching(
    key: Option<IdentityKey>,
) -> impl FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Clone {
    move |mut request: tonic::Request<()>| {
        if let Some(key) = &key {
            let now = jiff::Timestamp::now().as_second();
            let value = key.sign_call(SERVICE_NAME, now);
            request
                .metadata_mut()
                .insert(ASSERTION_HEADER, value.to_str().unwrap().parse().unwrap());
        }
        Ok(request)
    }
}

async fn grpc_over_a_socket(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.member(1, None).await;
    let s = app
        .schedule(m, "회의", "2026-02-01T09:30:00", "Asia/Seoul", "DEEP_WORK")
        .await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let identity = IdentityKey::generate();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(pinit_task::grpc_service(app.app.clone(), identity.clone()))
            .serve_with_incoming_shutdown(
                TcpIncoming::from(listener),
                stop.clone().cancelled_owned(),
            ),
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connect");

    // Anyone else who reaches the port is refused: no assertion, or one signed with another key.
    for key in [None, Some(IdentityKey::generate())] {
        let mut stranger =
            ScheduleGrpcServiceClient::with_interceptor(channel.clone(), vouching(key));
        let refused = stranger
            .get_schedules_state(GetSchedulesStateRequest {
                schedule_ids: vec![s],
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated);
    }
    let mut client = ScheduleGrpcServiceClient::with_interceptor(channel, vouching(Some(identity)));

    let basics = client
        .get_schedule_basics(GetScheduleRequest {
            schedule_id: s,
            owner_id: m,
        })
        .await
        .expect("basics")
        .into_inner();
    assert_eq!(basics.schedule_id, s);
    assert_eq!(basics.owner_id, m);
    assert_eq!(basics.schedule_title, "회의");
    let start = basics.designated_start_time.expect("a start time");
    let expected: jiff::Timestamp = "2026-02-01T00:30:00Z".parse().unwrap();
    assert_eq!((start.seconds, start.nanos), (expected.as_second(), 0));

    let missing = client
        .get_schedule_basics(GetScheduleRequest {
            schedule_id: 424242,
            owner_id: m,
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(missing.message(), "해당 일정을 찾을 수 없습니다.");
    let foreign = client
        .get_schedule_basics(GetScheduleRequest {
            schedule_id: s,
            owner_id: 2,
        })
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::PermissionDenied);
    assert_eq!(foreign.message(), "Member does not own the schedule");

    // The batch call: one entry per id, in request order.
    let batch = |ids: Vec<i64>| GetSchedulesStateRequest { schedule_ids: ids };
    let states = client
        .get_schedules_state(batch(vec![s, 424242, s]))
        .await
        .expect("states")
        .into_inner()
        .schedules;
    assert_eq!(states.len(), 3);
    assert!(states[0].found && states[2].found && !states[1].found);
    assert_eq!(states[1].schedule_id, 424242);
    assert_eq!(states[0].state, "NOT_STARTED");
    assert_eq!(states[0].owner_id, m);
    assert_eq!(states[0].version, 1);
    assert_eq!(
        states[0].designated_start_time.as_ref().unwrap().seconds,
        expected.as_second()
    );
    app.run(m, s, "start").await.assert(204);
    let state = client
        .get_schedules_state(batch(vec![s]))
        .await
        .unwrap()
        .into_inner()
        .schedules;
    assert_eq!(
        (state[0].state.as_str(), state[0].version),
        ("IN_PROGRESS", 2)
    );
    app.run(m, s, "cancel").await.assert(204);
    app.delete(m, &format!("/v2/schedules/{s}"))
        .await
        .assert(204);
    let state = client
        .get_schedules_state(batch(vec![s]))
        .await
        .unwrap()
        .into_inner()
        .schedules;
    assert!(!state[0].found, "deleted");
    assert!(
        client
            .get_schedules_state(batch(vec![]))
            .await
            .unwrap()
            .into_inner()
            .schedules
            .is_empty()
    );
    let too_many = client
        .get_schedules_state(batch((1..=1001).collect()))
        .await
        .unwrap_err();
    assert_eq!(too_many.code(), Code::InvalidArgument);

    stop.cancel();
    server.await.unwrap().unwrap();
}

both_backends!(grpc_over_a_socket);
