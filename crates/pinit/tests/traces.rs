//! Traces across services, in both run modes, against a fake OTLP/HTTP receiver: one request that starts a
//! schedule — sent with a W3C `traceparent` — yields spans from the gateway, the task service (and its
//! transaction), the relay's publish and the notification consumer, all in that one trace, each the child of
//! the one before. The log lines of the request carry its trace id. Spans still buffered when the process is
//! told to stop are exported before it exits. A push at a schedule's start is a trace of its own: the dispatch, its
//! gRPC re-check (client and task's server span) and the send.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;
use support::member::provisioned_member;
use support::system::{Layout, System};

/// A span as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    /// The resource's `service.name`.
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    attributes: HashMap<String, String>,
}

impl Received {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

/// The fake OTLP/HTTP receiver: `POST /v1/traces` with an `ExportTraceServiceRequest` in protobuf.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn in_trace(&self, trace_id: &str) -> Vec<Received> {
        self.spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .cloned()
            .collect()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(attributes: &[KeyValue]) -> HashMap<String, String> {
    attributes
        .iter()
        .filter_map(|kv| {
            let value = match kv.value.as_ref()?.value.as_ref()? {
                AnyValue::StringValue(s) => s.clone(),
                AnyValue::IntValue(i) => i.to_string(),
                AnyValue::BoolValue(b) => b.to_string(),
                AnyValue::DoubleValue(d) => d.to_string(),
                _ => return None,
            };
            Some((kv.key.clone(), value))
        })
        .collect()
}

async fn receive(
    State(receiver): State<Receiver>,
    body: Bytes,
) -> impl axum::response::IntoResponse {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/plain")],
            Vec::new(),
        );
    };
    let mut spans = receiver.spans.lock().unwrap();
    for resource_spans in request.resource_spans {
        let resource = resource_spans
            .resource
            .map(|r| text(&r.attributes))
            .unwrap_or_default();
        let service = resource.get("service.name").cloned().unwrap_or_default();
        for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
            spans.push(Received {
                service: service.clone(),
                name: span.name.clone(),
                trace_id: hex(&span.trace_id),
                span_id: hex(&span.span_id),
                parent_span_id: hex(&span.parent_span_id),
                attributes: text(&span.attributes),
            });
        }
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        Vec::new(),
    )
}

async fn start_receiver() -> (Receiver, pinit_testkit::TestServer) {
    let receiver = Receiver::default();
    let server = pinit_testkit::TestServer::spawn(
        Router::new()
            .route("/v1/traces", post(receive))
            .with_state(receiver.clone()),
    )
    .await;
    (receiver, server)
}

/// A fresh W3C trace context: (traceparent, trace id, span id).
fn traceparent() -> (String, String, String) {
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let span_id = uuid::Uuid::new_v4().simple().to_string()[..16].to_string();
    (format!("00-{trace_id}-{span_id}-01"), trace_id, span_id)
}

/// The exporter settings every process gets: OTLP to the receiver, batches sent every 100 ms.
fn otel_env(receiver: &pinit_testkit::TestServer, delay_ms: &str) -> Vec<(String, String)> {
    vec![
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
            receiver.url("").trim_end_matches('/').to_string(),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY".into(), delay_ms.into()),
        ("OTEL_TRACES_SAMPLER".into(), "parentbased_always_on".into()),
    ]
}

/// The first log line of `pinit` that `pick` accepts, waiting up to 5 s for it (stderr is read by a thread of its
/// own, so a line may arrive a moment after the response).
async fn logged(
    pinit: &support::Pinit,
    pick: impl Fn(&serde_json::Value) -> bool,
) -> Option<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let found = pinit.logs.lock().unwrap().iter().find(|l| pick(l)).cloned();
        if found.is_some() || Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn borrowed(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

async fn one_trace(layout: Layout) {
    let (receiver, otlp) = start_receiver().await;
    let env = otel_env(&otlp, "100");
    let system = System::start(layout, &borrowed(&env)).await;
    let http = pinit_testkit::client();
    let member = provisioned_member(&system, &http, "traced").await;

    let (parent, trace_id, caller_span) = traceparent();
    let res = http
        .post(system.url(&format!("/v2/schedules/{}/start", member.schedule_id)))
        .bearer_auth(&member.token)
        .header("traceparent", &parent)
        .header("tracestate", "test=1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);

    // The hops, from three processes in distributed mode: each exports on its own schedule (the relay's
    // publish span ends at the broker's confirm, possibly after the consumer's), so wait for all of them.
    let consumer = "schedule.state.started.notification";
    let is_publish = |s: &Received| {
        s.attr("messaging.rabbitmq.destination.routing_key") == Some("schedule.state.started")
            && s.attr("relay") == Some("task")
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let spans = loop {
        let spans = receiver.in_trace(&trace_id);
        let arrived = spans.iter().any(|s| s.attr("consumer") == Some(consumer))
            && spans.iter().any(is_publish)
            && spans.iter().any(|s| s.attr("service") == Some("gateway"));
        if arrived || Instant::now() > deadline {
            break spans;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let find = |what: &str, pick: &dyn Fn(&Received) -> bool| {
        spans
            .iter()
            .find(|s| pick(s))
            .cloned()
            .unwrap_or_else(|| panic!("no {what} span in trace {trace_id}: {spans:#?}"))
    };
    let gateway = find("gateway request", &|s| s.attr("service") == Some("gateway"));
    let task = find("task request", &|s| s.attr("service") == Some("task"));
    let transaction = find("task transaction", &|s| {
        s.name == "db.transaction" && s.parent_span_id == task.span_id
    });
    let publish = find("relay publish", &is_publish);
    let consume = find("notification consumer", &|s| {
        s.attr("consumer") == Some(consumer)
    });

    assert_eq!(
        gateway.parent_span_id, caller_span,
        "the caller's trace is continued"
    );
    assert_eq!(gateway.name, "POST /v2/{*rest}");
    assert_eq!(
        task.parent_span_id, gateway.span_id,
        "task is the gateway's child"
    );
    assert_eq!(
        task.name, "POST /v2/schedules/{scheduleId}/start",
        "named by route, not by id"
    );
    assert_eq!(
        publish.parent_span_id, task.span_id,
        "the event was recorded in task's request"
    );
    assert_eq!(publish.name, "schedule.state.started publish");
    assert_eq!(
        consume.parent_span_id, publish.span_id,
        "the consumer continues the publish"
    );
    let embedded = layout == Layout::Embedded;
    let backend = if embedded { "sqlite" } else { "postgres" };
    assert_eq!(transaction.attr("db.system"), Some(backend));
    let services = [&gateway, &task, &publish, &consume].map(|s| s.service.clone());
    let expected = if embedded {
        ["pinit"; 4]
    } else {
        [
            "pinit-gateway",
            "pinit-task",
            "pinit-task",
            "pinit-notification",
        ]
    };
    assert_eq!(services, expected.map(String::from));

    // The request's log lines carry its trace id.
    let task_process = if embedded { "serve" } else { "task" };
    let (_, pinit) = system
        .processes
        .iter()
        .find(|(name, _)| *name == task_process)
        .unwrap();
    let served = logged(pinit, |l| {
        l["message"] == "served"
            && l["span"]["service"] == "task"
            && l["trace_id"] == trace_id.as_str()
    })
    .await;
    assert!(
        served.is_some(),
        "task's `served` line carries trace_id {trace_id}"
    );

    // A request without a traceparent starts a trace at the gateway; its log line names that trace.
    let res = http
        .get(system.url("/v2/tasks"))
        .bearer_auth(&member.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, edge) = system.processes.last().unwrap();
    let started = logged(edge, |l| {
        l["message"] == "served"
            && l["span"]["service"] == "gateway"
            && l["span"]["method"] == "GET"
            && l["span"]["path"] == "/v2/tasks"
    })
    .await
    .and_then(|l| l["trace_id"].as_str().map(str::to_string))
    .expect("the gateway's line carries the trace it started");
    assert_ne!(started, trace_id);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !receiver
        .in_trace(&started)
        .iter()
        .any(|s| s.attr("service") == Some("gateway") && s.parent_span_id.is_empty())
    {
        assert!(
            Instant::now() < deadline,
            "no root gateway span in trace {started}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    for (name, status) in system.stop().await {
        assert_eq!(status.code(), Some(0), "{name} exits cleanly");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_through_gateway_task_relay_and_consumer_embedded() {
    one_trace(Layout::Embedded).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_through_gateway_task_relay_and_consumer_distributed() {
    one_trace(Layout::Distributed).await
}

/// With a batch delay far beyond the test, a span reaches the receiver only because a graceful stop exports
/// what is buffered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffered_spans_are_exported_at_shutdown() {
    let (receiver, otlp) = start_receiver().await;
    let env = otel_env(&otlp, "600000");
    let system = System::start(Layout::Embedded, &borrowed(&env)).await;
    let (parent, trace_id, _) = traceparent();
    let res = pinit_testkit::client()
        .get(system.url("/v2/tasks"))
        .header("traceparent", &parent)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        receiver.in_trace(&trace_id).is_empty(),
        "nothing exported before the batch delay"
    );
    for (name, status) in system.stop().await {
        assert_eq!(status.code(), Some(0), "{name} exits cleanly");
    }
    let spans = receiver.in_trace(&trace_id);
    assert!(
        spans.iter().any(|s| s.attr("service") == Some("gateway")),
        "the gateway's span was exported at shutdown: {spans:#?}"
    );
}

/// Without an exporter nothing is exported, but an incoming trace context still goes on: the services' log
/// lines carry its trace id (and the event takes it along, see the messaging tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_export_the_incoming_trace_id_reaches_the_services_logs() {
    let system = System::start(Layout::Embedded, &[]).await;
    let http = pinit_testkit::client();
    let member = provisioned_member(&system, &http, "untraced").await;
    let (parent, trace_id, _) = traceparent();
    let res = http
        .post(system.url(&format!("/v2/schedules/{}/start", member.schedule_id)))
        .bearer_auth(&member.token)
        .header("traceparent", &parent)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (_, pinit) = &system.processes[0];
    for service in ["task", "gateway"] {
        let served = logged(pinit, |l| {
            l["message"] == "served"
                && l["span"]["service"] == service
                && l["trace_id"] == trace_id.as_str()
        })
        .await;
        assert!(served.is_some(), "{service} logs the trace id {trace_id}");
    }
    for (name, status) in system.stop().await {
        assert_eq!(status.code(), Some(0), "{name} exits cleanly");
    }
}

/// A push service that accepts everything.
async fn accept_push() -> StatusCode {
    StatusCode::CREATED
}

/// A push at a schedule's start time is its own trace: the dispatcher's `dispatch` span, the re-check call to
/// the task service over gRPC (the server's span a child of the client's, through the `traceparent` metadata) and
/// one `push.send` span per device, carrying the kind and outcome but no endpoint.
async fn push_trace(layout: Layout) {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use p256::elliptic_curve::Generate;

    let (receiver, otlp) = start_receiver().await;
    let push =
        pinit_testkit::TestServer::spawn(Router::new().route("/push/{id}", post(accept_push)))
            .await;
    let env = otel_env(&otlp, "100");
    let system = System::start(layout, &borrowed(&env)).await;
    let http = pinit_testkit::client();
    let member = provisioned_member(&system, &http, "pushed").await;
    let device_key = p256::SecretKey::generate_from_rng(&mut rand::rng());
    let subscription = serde_json::json!({"deviceId": "trace-device", "subscription": {
        "endpoint": push.url("/push/trace-device"),
        "keys": {"p256dh": B64.encode(device_key.public_key().to_sec1_bytes()),
                 "auth": B64.encode(rand::random::<[u8; 16]>())}}});
    let res = http
        .post(system.url("/v0/push/subscribe"))
        .bearer_auth(&member.token)
        .json(&subscription)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let start = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(2);
    let local = jiff::tz::TimeZone::get("Asia/Seoul")
        .unwrap()
        .to_datetime(start)
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let res = http
        .post(system.url("/v2/schedules"))
        .bearer_auth(&member.token)
        .json(&serde_json::json!({"title": "traced push", "description": "-", "date": {"dateTime": local, "zoneId": "Asia/Seoul"}, "scheduleType": "DEEP_WORK"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let deadline = Instant::now() + Duration::from_secs(30);
    let (dispatch, spans) = loop {
        let all = receiver.spans.lock().unwrap().clone();
        let sent = all
            .iter()
            .find(|s| s.name == "push.send" && s.attr("push.outcome") == Some("sent"));
        if let Some(sent) = sent {
            let trace: Vec<Received> = all
                .iter()
                .filter(|s| s.trace_id == sent.trace_id)
                .cloned()
                .collect();
            // Each span is exported when it ends, from its own process: wait for all of them.
            let dispatch = trace.iter().find(|s| s.name == "dispatch").cloned();
            let server = trace.iter().any(|s| s.attr("rpc").is_some());
            if let Some(dispatch) = dispatch
                && server
            {
                break (dispatch, trace);
            }
        }
        assert!(Instant::now() < deadline, "no traced push: {all:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let client = spans
        .iter()
        .find(|s| {
            s.name == "pinit.schedule.ScheduleGrpcService/GetSchedulesState"
                && s.attr("rpc.method").is_some()
        })
        .expect("the re-check's client span");
    let server = spans
        .iter()
        .find(|s| s.attr("rpc") == Some("/pinit.schedule.ScheduleGrpcService/GetSchedulesState"))
        .expect("task's server span");
    let sent = spans.iter().find(|s| s.name == "push.send").unwrap();
    assert!(
        dispatch.parent_span_id.is_empty(),
        "a push starts its own trace"
    );
    assert_eq!(client.parent_span_id, dispatch.span_id);
    assert_eq!(
        server.parent_span_id, client.span_id,
        "task's span continues the caller's"
    );
    assert_eq!(sent.parent_span_id, dispatch.span_id);
    assert_eq!(sent.attr("push.kind"), Some("webpush"));
    if layout == Layout::Distributed {
        assert_eq!(server.service, "pinit-task");
        assert_eq!(client.service, "pinit-notification");
    }
    let endpoint = push.url("");
    for span in &spans {
        for value in span.attributes.values() {
            assert!(
                !value.contains(endpoint.trim_end_matches('/')) && !value.contains("trace-device"),
                "no endpoint or device in {span:#?}"
            );
        }
    }
    for (name, status) in system.stop().await {
        assert_eq!(status.code(), Some(0), "{name} exits cleanly");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_is_traced_with_its_grpc_recheck_embedded() {
    push_trace(Layout::Embedded).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_is_traced_with_its_grpc_recheck_distributed() {
    push_trace(Layout::Distributed).await
}
