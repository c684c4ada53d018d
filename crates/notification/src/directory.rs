//! What the notification context asks the task service about schedules, behind a trait so tests use a fake.
//!
//! * [`ScheduleDirectory::basics`] — one schedule's title and start time (re-arming on `schedule.state.canceled`,
//!   as the reference's final design: events carry ids, the consumer asks back over gRPC).
//! * [`ScheduleDirectory::states`] — the batch re-check the dispatcher makes just before sending: is each schedule
//!   still there, still NOT_STARTED, still starting at the same time (and what is its current title)?
//!
//! [`GrpcScheduleDirectory`] is the implementation over `pinit.schedule.ScheduleGrpcService`.

use std::collections::HashMap;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{StreamExt, stream};
use jiff::Timestamp;
use pinit_contracts::schedule::schedule_grpc_service_client::ScheduleGrpcServiceClient;
use pinit_contracts::schedule::schedule_grpc_service_server::SERVICE_NAME as SCHEDULE_SERVICE;
use pinit_contracts::schedule::{
    GetScheduleRequest, GetScheduleResponse, GetSchedulesStateRequest, ScheduleStateEntry,
};
use pinit_kernel::identity::{ASSERTION_HEADER, IdentityKey};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tracing::Instrument;

use crate::domain::{
    MemberId, ScheduleBasics, ScheduleId, ScheduleKey, ScheduleSnapshot, ScheduleState,
};

/// Why a look-up failed. Not finding a schedule is not an error: it is `None` / a missing map entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// Worth retrying: the task service is down, slow or overloaded.
    #[error("the task service is unavailable: {0}")]
    Unavailable(String),
    /// Retrying cannot help (a malformed answer, a refused request).
    #[error("the task service refused the look-up: {0}")]
    Refused(String),
}

/// The task service's schedules, as the notification context sees them.
pub trait ScheduleDirectory: Send + Sync + 'static {
    /// One schedule of `owner_id`; `None` when it does not exist or is not theirs.
    fn basics(
        &self,
        key: ScheduleKey,
    ) -> BoxFuture<'_, Result<Option<ScheduleBasics>, DirectoryError>>;

    /// Many schedules at once, by schedule id; an id missing from the map does not exist (or is not its
    /// owner's). Fails as a whole when the service cannot answer.
    fn states<'a>(
        &'a self,
        keys: &'a [ScheduleKey],
    ) -> BoxFuture<'a, Result<HashMap<ScheduleId, ScheduleSnapshot>, DirectoryError>>;
}

/// Schedule look-ups over the task service's gRPC API (`pinit.schedule.ScheduleGrpcService`).
///
/// [`Self::basics`] is the reference's `GetScheduleBasics`. [`Self::states`] is Pinit's batch
/// `GetSchedulesState` (state, start time, title and owner of up to 1000 schedules per call). Against a task
/// service without it (the reference's; `UNIMPLEMENTED`) it falls back to concurrent `GetScheduleBasics`
/// calls (at most [`GrpcScheduleDirectory::FALLBACK_CONCURRENCY`] at a time) and reports the state as
/// unknown: the re-check then verifies existence, owner and start time, and the started/completed events
/// remove a started schedule's notification.
#[derive(Clone)]
pub struct GrpcScheduleDirectory {
    /// One client per task replica (`task_grpc_url` may list several, comma-separated); used in turn, and a
    /// replica that cannot be reached is passed over for the next (the RPCs are reads: safe to repeat).
    clients: Vec<Client>,
    next: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl std::fmt::Debug for GrpcScheduleDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcScheduleDirectory")
            .finish_non_exhaustive()
    }
}

/// A client of one task replica; every call carries the caller's trace context and identity.
type Client = ScheduleGrpcServiceClient<InterceptedService<Channel, PropagateTrace>>;

/// Puts the current W3C trace context (`traceparent`, `tracestate`) into a call's metadata, so the task
/// service's span joins the caller's trace (docs/observability.md), and the assertion that this is one of
/// Pinit's services calling (`pinit_kernel::identity`; task refuses calls without it).
#[derive(Debug, Clone)]
struct PropagateTrace {
    identity: Option<IdentityKey>,
}

impl Interceptor for PropagateTrace {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(key) = &self.identity {
            let now = jiff::Timestamp::now().as_second();
            if let Ok(value) = key.sign_call(SCHEDULE_SERVICE, now).to_str()
                && let Ok(value) = value.parse()
            {
                request.metadata_mut().insert(ASSERTION_HEADER, value);
            }
        }
        if let Some(context) = pinit_kernel::trace::current() {
            let metadata = request.metadata_mut();
            if let Ok(value) = context.traceparent().parse() {
                metadata.insert("traceparent", value);
            }
            if let Some(value) = context.tracestate().and_then(|s| s.parse().ok()) {
                metadata.insert("tracestate", value);
            }
        }
        Ok(request)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("notification.task_grpc_url `{url}` is not a usable gRPC endpoint: {reason}")]
pub struct DirectoryUrlError {
    pub url: String,
    pub reason: String,
}

impl GrpcScheduleDirectory {
    /// `GetScheduleBasics` calls in flight at once when the batch RPC is unavailable.
    pub const FALLBACK_CONCURRENCY: usize = 32;
    /// Ids per `GetSchedulesState` call (the server's limit).
    pub const BATCH_LIMIT: usize = 1000;

    /// A client for `url` (e.g. `http://task:9090`). Connects lazily: the task service may start later; every
    /// call has `timeout` as its deadline.
    pub fn new(urls: &str, timeout: Duration) -> Result<Self, DirectoryUrlError> {
        Self::with_identity(urls, timeout, None)
    }

    /// As [`GrpcScheduleDirectory::new`], every call vouched for with `identity` (what the binary's task service
    /// requires).
    pub fn with_identity(
        urls: &str,
        timeout: Duration,
        identity: Option<IdentityKey>,
    ) -> Result<Self, DirectoryUrlError> {
        let mut clients = Vec::new();
        for url in urls.split(',').map(str::trim).filter(|u| !u.is_empty()) {
            clients.push(Self::client(url, timeout, identity.clone())?);
        }
        if clients.is_empty() {
            return Err(DirectoryUrlError {
                url: urls.to_string(),
                reason: "use http://host:port (several: comma-separated)".into(),
            });
        }
        Ok(Self {
            clients,
            next: Default::default(),
        })
    }

    /// A client over a channel made elsewhere (`pinit serve` hands it the in-process pipe to task's server);
    /// the channel carries its own deadline.
    pub fn over_channel(channel: Channel, identity: Option<IdentityKey>) -> Self {
        Self {
            clients: vec![ScheduleGrpcServiceClient::with_interceptor(
                channel,
                PropagateTrace { identity },
            )],
            next: Default::default(),
        }
    }

    fn client(
        url: &str,
        timeout: Duration,
        identity: Option<IdentityKey>,
    ) -> Result<Client, DirectoryUrlError> {
        let err = |reason: String| DirectoryUrlError {
            url: url.to_string(),
            reason,
        };
        let parsed = url::Url::parse(url).map_err(|e| err(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(err("use http://host:port".into()));
        }
        let endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| err(e.to_string()))?
            .connect_timeout(timeout)
            .timeout(timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        Ok(ScheduleGrpcServiceClient::with_interceptor(
            endpoint.connect_lazy(),
            PropagateTrace { identity },
        ))
    }

    /// Calls `rpc` (the method `method`) on the replicas in turn until one answers (any answer but
    /// `UNAVAILABLE`), in a client span when traces are exported.
    async fn call<T, F, Fut>(&self, method: &'static str, rpc: F) -> Result<T, tonic::Status>
    where
        F: Fn(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, tonic::Status>>,
    {
        let span = if pinit_kernel::trace::exporting() {
            tracing::info_span!(
                "grpc.client",
                otel.name = format!("pinit.schedule.ScheduleGrpcService/{method}"),
                otel.kind = "client",
                rpc.system = "grpc",
                rpc.method = method,
            )
        } else {
            tracing::Span::none()
        };
        let calls = async {
            let n = self.clients.len();
            let start = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut last = None;
            for i in 0..n {
                match rpc(self.clients[(start + i) % n].clone()).await {
                    Err(status) if status.code() == tonic::Code::Unavailable => last = Some(status),
                    other => return other,
                }
            }
            Err(last.unwrap_or_else(|| tonic::Status::unavailable("no task replica")))
        };
        calls.instrument(span).await
    }

    async fn get(&self, key: ScheduleKey) -> Result<Option<ScheduleBasics>, DirectoryError> {
        let request = GetScheduleRequest {
            schedule_id: key.schedule_id.get(),
            owner_id: key.owner_id.get(),
        };
        let answer = self
            .call("GetScheduleBasics", |mut client| async move {
                client.get_schedule_basics(request).await
            })
            .await;
        match answer {
            Ok(response) => basics_from(key, response.into_inner()).map(Some),
            Err(status) => match status.code() {
                tonic::Code::NotFound | tonic::Code::PermissionDenied => Ok(None),
                _ => Err(status_error(&status)),
            },
        }
    }

    /// The batch RPC; `Ok(None)` when the server does not have it.
    async fn batch(
        &self,
        keys: &[ScheduleKey],
    ) -> Result<Option<HashMap<ScheduleId, ScheduleSnapshot>>, DirectoryError> {
        let owners: HashMap<ScheduleId, MemberId> =
            keys.iter().map(|k| (k.schedule_id, k.owner_id)).collect();
        let mut found = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(Self::BATCH_LIMIT) {
            let request = GetSchedulesStateRequest {
                schedule_ids: chunk.iter().map(|k| k.schedule_id.get()).collect(),
            };
            let answer = self
                .call("GetSchedulesState", |mut client| {
                    let request = request.clone();
                    async move { client.get_schedules_state(request).await }
                })
                .await;
            let entries = match answer {
                Ok(response) => response.into_inner().schedules,
                Err(status) if status.code() == tonic::Code::Unimplemented => return Ok(None),
                Err(status) => return Err(status_error(&status)),
            };
            for entry in entries {
                if let Some(snapshot) = snapshot_from(&owners, entry)? {
                    found.insert(snapshot.basics.schedule_id, snapshot);
                }
            }
        }
        Ok(Some(found))
    }
}

fn status_error(status: &tonic::Status) -> DirectoryError {
    match status.code() {
        tonic::Code::InvalidArgument | tonic::Code::Unimplemented => {
            DirectoryError::Refused(format!("{:?}: {}", status.code(), status.message()))
        }
        code => DirectoryError::Unavailable(format!("{code:?}: {}", status.message())),
    }
}

/// One entry of `GetSchedulesState`, if it is a schedule of the expected owner.
fn snapshot_from(
    owners: &HashMap<ScheduleId, MemberId>,
    e: ScheduleStateEntry,
) -> Result<Option<ScheduleSnapshot>, DirectoryError> {
    let Some(&owner_id) = owners.get(&ScheduleId(e.schedule_id)) else {
        return Err(DirectoryError::Refused(format!(
            "answered for schedule {} that was not asked for",
            e.schedule_id
        )));
    };
    if !e.found || e.owner_id != owner_id.get() {
        return Ok(None);
    }
    let state = match e.state.as_str() {
        "NOT_STARTED" => Some(ScheduleState::NotStarted),
        "IN_PROGRESS" => Some(ScheduleState::InProgress),
        "SUSPENDED" => Some(ScheduleState::Suspended),
        "COMPLETED" => Some(ScheduleState::Completed),
        _ => None,
    };
    let start_time = timestamp(e.designated_start_time)?;
    Ok(Some(ScheduleSnapshot {
        basics: ScheduleBasics {
            schedule_id: ScheduleId(e.schedule_id),
            owner_id,
            title: e.schedule_title,
            start_time,
        },
        state,
    }))
}

fn timestamp(at: Option<prost_types::Timestamp>) -> Result<Timestamp, DirectoryError> {
    let at = at.ok_or_else(|| DirectoryError::Refused("no designated_start_time".into()))?;
    Timestamp::new(at.seconds, at.nanos.clamp(0, 999_999_999))
        .map_err(|e| DirectoryError::Refused(format!("designated_start_time out of range: {e}")))
}

fn basics_from(key: ScheduleKey, r: GetScheduleResponse) -> Result<ScheduleBasics, DirectoryError> {
    let start_time = timestamp(r.designated_start_time)?;
    if r.schedule_id != 0 && r.schedule_id != key.schedule_id.get() {
        return Err(DirectoryError::Refused(format!(
            "asked for schedule {}, got {}",
            key.schedule_id, r.schedule_id
        )));
    }
    Ok(ScheduleBasics {
        schedule_id: key.schedule_id,
        owner_id: key.owner_id,
        title: r.schedule_title,
        start_time,
    })
}

impl ScheduleDirectory for GrpcScheduleDirectory {
    fn basics(
        &self,
        key: ScheduleKey,
    ) -> BoxFuture<'_, Result<Option<ScheduleBasics>, DirectoryError>> {
        Box::pin(self.get(key))
    }

    fn states<'a>(
        &'a self,
        keys: &'a [ScheduleKey],
    ) -> BoxFuture<'a, Result<HashMap<ScheduleId, ScheduleSnapshot>, DirectoryError>> {
        Box::pin(async move {
            if let Some(found) = self.batch(keys).await? {
                return Ok(found);
            }
            let results: Vec<Result<Option<ScheduleBasics>, DirectoryError>> =
                stream::iter(keys.iter().copied().map(|k| self.get(k)))
                    .buffer_unordered(Self::FALLBACK_CONCURRENCY)
                    .collect()
                    .await;
            let mut found = HashMap::with_capacity(keys.len());
            for result in results {
                if let Some(basics) = result? {
                    found.insert(
                        basics.schedule_id,
                        ScheduleSnapshot {
                            basics,
                            state: None,
                        },
                    );
                }
            }
            Ok(found)
        })
    }
}
