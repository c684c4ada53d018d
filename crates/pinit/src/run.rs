//! The composition root: which pieces make up each way of running Pinit, and in which order they start.
//!
//! * [`serve`] — everything in one process on SQLite (embedded mode).
//! * [`service`] — one context per process on PostgreSQL and RabbitMQ (distributed mode).
//!
//! Both start the same context routers through [`start_context`]; only the wiring differs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use pinit_auth::keys::SigningKey;
use pinit_kernel::config::ConnectionUrl;
use pinit_kernel::db::{DbError, MigrationReport};
use pinit_kernel::http::{BindError, bind, service_router};
use pinit_kernel::identity::{IdentityKey, Vouching, vouched_members_only};
use pinit_kernel::keyfile::KeyFileError;
use pinit_kernel::tls::TlsMaterial;
use pinit_kernel::{Db, ErrorStyle, Lifecycle, MigrationSet, Phase, Readiness, SharedClock};
use pinit_messaging::{AmqpConsumer, AmqpTransport, InProcessBus, Inbox, Outbox, Relay, Transport};
use pinit_notification::vapid::VapidKey;
use tokio::net::TcpListener;

use crate::cli::Context;
use crate::config::{Config, Mode};
use crate::grpc_pipe::{PipeConnector, PipeIncoming, pipe};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Keys(#[from] KeyFileError),
    #[error(transparent)]
    Upstream(#[from] pinit_gateway::proxy::UpstreamUrlError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the data directory {0} is in use by another pinit process; stop it or choose another --data-dir"
    )]
    DataDirBusy(PathBuf),
    #[error("listener error: {0}")]
    Listener(#[source] std::io::Error),
    #[error(transparent)]
    Tls(#[from] pinit_kernel::tls::TlsError),
    #[error(transparent)]
    Broker(#[from] pinit_messaging::amqp::AmqpError),
    #[error("{0}")]
    Service(String),
}

/// What a start-up produced: where things listen. Keep it alive for as long as the process runs.
pub struct Started {
    /// The public address (the gateway in `serve`, the service otherwise).
    pub http: SocketAddr,
    pub metrics: Option<SocketAddr>,
    _data_dir_lock: Option<std::fs::File>,
}

/// One context, ready to be started: its name, error style, schema, routes, and its messaging: the outbox its
/// use cases record into (if it publishes) and its consumers (if it consumes).
struct ContextParts {
    name: &'static str,
    style: ErrorStyle,
    migrations: &'static [&'static MigrationSet],
    routes: Router,
    outbox: Option<Outbox>,
    consumers: Vec<Inbox>,
    /// Work that starts once the schema is current (e.g. the push dispatcher).
    background: Option<Background>,
}

type Background = Box<dyn FnOnce(&Lifecycle, &Db, &ConnectionUrl) -> Result<(), StartError> + Send>;

/// How events travel: in-process in `pinit serve`, RabbitMQ otherwise.
enum Bus {
    InProcess(InProcessBus),
    Amqp(ConnectionUrl, Box<TlsMaterial>),
}

impl Bus {
    fn transport(&self, context: &str) -> Arc<dyn Transport> {
        match self {
            Bus::InProcess(bus) => Arc::new(bus.clone()),
            Bus::Amqp(url, tls) => Arc::new(
                AmqpTransport::new(url.clone(), format!("pinit-{context}-relay"))
                    .with_tls((**tls).clone()),
            ),
        }
    }

    fn consume(&self, lc: &Lifecycle, inbox: Inbox) {
        match self {
            Bus::InProcess(bus) => bus.subscribe(inbox),
            Bus::Amqp(url, tls) => {
                let consumer = AmqpConsumer::new(url.clone(), inbox).with_tls((**tls).clone());
                // Core, not Background: consumers stop before the relays make their final flush.
                lc.spawn(Phase::Core, "consumer", consumer.run(lc.token(Phase::Core)));
            }
        }
    }
}

/// Starts contexts' consumers first, then their outbox relays, so that in-process events find their consumers;
/// the in-process bus is then sealed: an event none of them subscribes to is delivered to nobody, not retried.
fn start_messaging(lc: &Lifecycle, config: &Config, bus: &Bus, contexts: Vec<Messaging>) {
    let mut relays = Vec::new();
    for m in contexts {
        for inbox in m.consumers {
            bus.consume(lc, inbox);
        }
        if let Some(outbox) = m.outbox {
            relays.push((m.name, m.db, m.url, outbox));
        }
    }
    if let Bus::InProcess(bus) = bus {
        bus.seal();
    }
    for (name, db, url, outbox) in relays {
        let mut relay = Relay::new(
            name,
            db.clone(),
            bus.transport(name),
            outbox,
            config.messaging.relay.clone(),
        );
        if db.backend() == pinit_kernel::Backend::Postgres {
            relay = relay.listen_postgres(url);
        }
        lc.spawn(
            Phase::Background,
            "outbox-relay",
            relay.run(lc.token(Phase::Background)),
        );
    }
}

fn migrations(context: Context) -> &'static [&'static MigrationSet] {
    match context {
        Context::Auth => pinit_auth::MIGRATIONS,
        Context::Task => pinit_task::MIGRATIONS,
        Context::Notification => pinit_notification::MIGRATIONS,
    }
}

/// What every context is built from.
struct Deps<'a> {
    config: &'a Config,
    lc: &'a Lifecycle,
    db: Db,
    clock: SharedClock,
    /// Where task serves gRPC (a port is bound before start, so a busy port fails the start).
    task_grpc: Option<GrpcListener>,
    /// Where notification reaches task's gRPC.
    task_grpc_at: TaskGrpcAt,
    /// Vouches for calls between the services (kernel::identity).
    identity: IdentityKey,
}

/// Where task's gRPC server takes its connections.
enum GrpcListener {
    /// `pinit task`: `task.grpc_port`.
    Port(TcpListener),
    /// `pinit serve`: pipes inside the process, nothing on the host (docs/adr/0012).
    InProcess(PipeIncoming),
}

/// How notification reaches task's gRPC.
enum TaskGrpcAt {
    /// `pinit notification`: `notification.task_grpc_url` (several replicas: comma-separated).
    Urls(Option<String>),
    /// `pinit serve`: the in-process pipe to task's server.
    InProcess(PipeConnector),
}

/// Builds a context's services over its database.
fn parts(context: Context, mut deps: Deps<'_>) -> Result<ContextParts, StartError> {
    let outbox = Outbox::new(
        deps.clock.clone(),
        deps.config.messaging.relay.notify_min_interval.get(),
    );
    let consumer = deps.config.messaging.consumer.clone();
    Ok(match context {
        Context::Auth => {
            let auth = build_auth(&deps, &outbox)?;
            let keys_dir = deps.config.keys_dir();
            ContextParts {
                name: pinit_auth::NAME,
                style: pinit_auth::ERROR_STYLE,
                migrations: pinit_auth::MIGRATIONS,
                routes: pinit_auth::routes(auth.clone()),
                outbox: Some(outbox),
                consumers: Vec::new(),
                background: Some(Box::new(
                    move |lc: &Lifecycle, _: &Db, _: &ConnectionUrl| {
                        watch_signing_keys(lc, auth.tokens().clone(), keys_dir);
                        start_auth_housekeeping(lc, auth)
                    },
                )),
            }
        }
        Context::Task => {
            let app = pinit_task::TaskApp::new(deps.db.clone(), deps.clock.clone(), outbox.clone())
                .with_calendars(pinit_task::app::busy::Calendars::from_settings(
                    &deps.config.task,
                ));
            if let Some(listener) = deps.task_grpc.take() {
                serve_grpc(
                    deps.lc,
                    listener,
                    pinit_task::grpc_service(app.clone(), deps.identity.clone()),
                );
            }
            ContextParts {
                name: pinit_task::NAME,
                style: pinit_task::ERROR_STYLE,
                migrations: pinit_task::MIGRATIONS,
                routes: pinit_task::routes(app.clone()),
                outbox: Some(outbox),
                consumers: vec![
                    pinit_task::member_created_inbox(&app, consumer.clone()),
                    pinit_task::member_deleted_inbox(&app, consumer),
                ],
                background: Some(Box::new(
                    move |lc: &Lifecycle, _: &Db, _: &ConnectionUrl| {
                        // Repeating schedules: occurrences made ahead, so their pushes are armed.
                        let stop = lc.token(Phase::Background);
                        lc.spawn(
                            Phase::Background,
                            "task-series-window",
                            app.clone().run_series_window(stop),
                        );
                        // Subscribed calendars (busy time): fetched again on a schedule.
                        lc.spawn(
                            Phase::Background,
                            "task-calendar-refresh",
                            app.run_calendar_refresh(lc.token(Phase::Background)),
                        );
                        Ok(())
                    },
                )),
            }
        }
        Context::Notification => {
            let app = build_notification(&deps)?;
            ContextParts {
                name: pinit_notification::NAME,
                style: pinit_notification::ERROR_STYLE,
                migrations: pinit_notification::MIGRATIONS,
                routes: pinit_notification::routes(app.clone()),
                outbox: None,
                consumers: app.consumers(&consumer),
                background: Some(Box::new(
                    move |lc: &Lifecycle, db: &Db, url: &ConnectionUrl| {
                        start_dispatcher(lc, db, url, app)
                    },
                )),
            }
        }
    })
}

/// Serves task's gRPC API until the core phase stops.
fn serve_grpc(
    lc: &Lifecycle,
    listener: GrpcListener,
    service: tonic::service::interceptor::InterceptedService<
        pinit_contracts::schedule::schedule_grpc_service_server::ScheduleGrpcServiceServer<
            pinit_task::grpc::ScheduleGrpc,
        >,
        pinit_task::grpc::CallersOnly,
    >,
) {
    let stop = lc.token(Phase::Core);
    let server = tonic::transport::Server::builder()
        // A span per call, continuing the caller's trace (`traceparent` metadata).
        .trace_fn(pinit_kernel::trace::grpc_server_span)
        .add_service(service);
    match listener {
        GrpcListener::Port(listener) => {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(%addr, "task gRPC listening");
            }
            lc.spawn(Phase::Core, "task-grpc", async move {
                server
                    .serve_with_incoming_shutdown(
                        tonic::transport::server::TcpIncoming::from(listener),
                        stop.cancelled_owned(),
                    )
                    .await
            });
        }
        GrpcListener::InProcess(incoming) => {
            lc.spawn(Phase::Core, "task-grpc", async move {
                server
                    .serve_with_incoming_shutdown(incoming.into_stream(), stop.cancelled_owned())
                    .await
            });
        }
    }
}

/// The notification service: its VAPID key and the task service it asks about schedules.
fn build_notification(deps: &Deps<'_>) -> Result<pinit_notification::Notifications, StartError> {
    let settings = deps.config.notification.clone();
    let vapid = VapidKey::load(&deps.config.keys_dir())?;
    let timeout = settings.task_grpc_timeout.get();
    let identity = Some(deps.identity.clone());
    let directory = match &deps.task_grpc_at {
        TaskGrpcAt::InProcess(pipe) => {
            pinit_notification::GrpcScheduleDirectory::over_channel(pipe.channel(timeout), identity)
        }
        TaskGrpcAt::Urls(urls) => pinit_notification::GrpcScheduleDirectory::with_identity(
            urls.as_deref().unwrap_or_default(),
            timeout,
            identity,
        )
        .map_err(|e| StartError::Service(format!("notification.task_grpc_url: {e}")))?,
    };
    Ok(pinit_notification::Notifications::new(
        deps.db.clone(),
        deps.clock.clone(),
        settings,
        vapid,
        Arc::new(directory),
    ))
}

/// The push dispatcher, the webhook dispatcher and the notification housekeeping, after migrations.
fn start_dispatcher(
    lc: &Lifecycle,
    db: &Db,
    url: &ConnectionUrl,
    app: pinit_notification::Notifications,
) -> Result<(), StartError> {
    let mut dispatcher = app
        .dispatcher()
        .map_err(|e| StartError::Service(format!("push senders: {e}")))?;
    if db.backend() == pinit_kernel::Backend::Postgres {
        dispatcher = dispatcher.listen_postgres(url.clone());
    }
    lc.spawn(
        Phase::Background,
        "push-dispatcher",
        dispatcher.run(lc.token(Phase::Background)),
    );
    let webhooks = app
        .webhook_dispatcher()
        .map_err(|e| StartError::Service(format!("webhook sender: {e}")))?;
    lc.spawn(
        Phase::Background,
        "webhook-dispatcher",
        webhooks.run(lc.token(Phase::Background)),
    );
    lc.spawn(
        Phase::Background,
        "notification-housekeeping",
        app.run_housekeeping(lc.token(Phase::Background)),
    );
    Ok(())
}

/// The auth service: its signing keys, password hasher, OAuth providers.
fn build_auth(deps: &Deps<'_>, outbox: &Outbox) -> Result<pinit_auth::Auth, StartError> {
    let settings = deps.config.auth.clone();
    let tokens = pinit_auth::tokens::TokenIssuer::load(
        &deps.config.keys_dir(),
        &settings.issuer,
        settings.access_token_ttl.get(),
    )?;
    let hasher = pinit_auth::password::Hasher::new(&settings.password)
        .map_err(|e| StartError::Service(format!("auth.password: {e}")))?;
    let providers = pinit_auth::oauth::ProviderRegistry::new(&settings.oauth)
        .map_err(|e| StartError::Service(e.to_string()))?;
    let auth = pinit_auth::Auth::new(
        deps.db.clone(),
        deps.clock.clone(),
        hasher,
        tokens,
        settings,
        outbox.clone(),
        providers,
    );
    Ok(auth)
}

/// Keeps auth's signing keys those of the keys directory: a rotation (`pinit keys rotate`, or a replaced
/// Secret) is taken without a restart, within `keys::POLL_INTERVAL` (docs/deploy.md, key rotation).
fn watch_signing_keys(lc: &Lifecycle, tokens: pinit_auth::tokens::TokenIssuer, dir: PathBuf) {
    let stop = lc.token(Phase::Background);
    lc.spawn(Phase::Background, "auth-key-watch", async move {
        let mut every = tokio::time::interval(pinit_auth::keys::POLL_INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return Ok::<(), std::convert::Infallible>(()),
                _ = every.tick() => {}
            }
            let (tokens, dir) = (tokens.clone(), dir.clone());
            let outcome =
                tokio::task::spawn_blocking(move || tokens.reload_if_changed(&dir)).await;
            match outcome {
                Ok(Ok(pinit_auth::tokens::Reload::Unchanged)) => {}
                Ok(Ok(pinit_auth::tokens::Reload::Reloaded { kid, previous_kid })) => {
                    tracing::info!(kid, previous_kid, "loaded new JWT signing keys")
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot load the JWT signing keys; the keys in use stay")
                }
                Err(e) => tracing::warn!(error = %e, "the JWT key check failed"),
            }
        }
    });
}

/// The auth housekeeping (expired OAuth states, old rate-limit windows, long-expired sessions), started once
/// the schema is current; every ten minutes.
fn start_auth_housekeeping(lc: &Lifecycle, auth: pinit_auth::Auth) -> Result<(), StartError> {
    let stop = lc.token(Phase::Background);
    lc.spawn(Phase::Background, "auth-housekeeping", async move {
        let mut every = tokio::time::interval(Duration::from_secs(600));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return Ok::<(), std::convert::Infallible>(()),
                _ = every.tick() => {
                    match auth.prune().await {
                        Ok(n) if n > 0 => tracing::debug!(removed = n, "auth housekeeping"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "auth housekeeping failed"),
                    }
                }
            }
        }
    });
    Ok(())
}

/// Serves a context on `listener` at once (liveness answers), then migrates its database; readiness
/// turns true when the schema is current.
async fn start_context(
    lc: &Lifecycle,
    parts: ContextParts,
    db: &Db,
    url: &ConnectionUrl,
    listener: Option<TcpListener>,
    clock: &SharedClock,
    identity: &IdentityKey,
) -> Result<(Readiness, Messaging, Router), StartError> {
    let readiness = Readiness::new(parts.name, lc.draining());
    readiness.add_database(db.clone());
    // Only the gateway's signed assertion says who the member is (kernel::identity): a bare `X-Member-Id` from
    // anything else that reaches this port is dropped.
    let router = service_router(
        parts.name,
        parts.routes,
        &readiness,
        parts.style,
        clock.clone(),
    )
    .layer(axum::middleware::from_fn_with_state(
        Vouching {
            key: identity.clone(),
            clock: clock.clone(),
        },
        vouched_members_only,
    ));
    if let Some(listener) = listener {
        lc.spawn(
            Phase::Core,
            parts.name,
            pinit_kernel::http::serve(listener, router.clone(), lc.token(Phase::Core)),
        );
    }
    let report = db.migrate(parts.name, parts.migrations).await?;
    tracing::info!(
        context = parts.name,
        backend = %db.backend(),
        applied = report.applied.len(),
        "database ready"
    );
    if let Some(start) = parts.background {
        start(lc, db, url)?;
    }
    readiness.set_migrated();
    let messaging = Messaging {
        name: parts.name,
        db: db.clone(),
        url: url.clone(),
        outbox: parts.outbox,
        consumers: parts.consumers,
    };
    Ok((readiness, messaging, router))
}

/// A context's messaging, started once its tables exist.
struct Messaging {
    name: &'static str,
    db: Db,
    /// The database URL with its password (for PostgreSQL `LISTEN`; `Db::url` is redacted).
    url: ConnectionUrl,
    outbox: Option<Outbox>,
    consumers: Vec<Inbox>,
}

fn start_gateway(
    lc: &Lifecycle,
    config: &Config,
    embedded: bool,
    listener: TcpListener,
    upstreams: pinit_gateway::Upstreams,
    clock: &SharedClock,
    identity: &IdentityKey,
) -> Result<Readiness, StartError> {
    let readiness = Readiness::new(pinit_gateway::NAME, lc.draining());
    readiness.set_migrated(); // the gateway has no schema
    let mut settings = config.gateway.clone();
    if embedded {
        // One process: the gateway accepts exactly what this process's auth service issues.
        settings.token_issuer = config.auth.issuer.clone();
    }
    let routes = pinit_gateway::routes(
        upstreams,
        pinit_gateway::Edge {
            settings,
            cors_origins: config.cors.origins.0.clone(),
            clock: clock.clone(),
            identity: identity.clone(),
        },
    );
    let router = service_router(
        pinit_gateway::NAME,
        routes,
        &readiness,
        pinit_gateway::ERROR_STYLE,
        clock.clone(),
    );
    lc.spawn(
        Phase::Edge,
        pinit_gateway::NAME,
        pinit_kernel::http::serve(listener, router, lc.token(Phase::Edge)),
    );
    Ok(readiness)
}

async fn start_metrics(lc: &Lifecycle, config: &Config) -> Result<Option<SocketAddr>, StartError> {
    if !config.metrics.enabled {
        return Ok(None);
    }
    let listener = bind(
        config.metrics.addr(config.http.host),
        "metrics.host/metrics.port",
    )
    .await?;
    let addr = listener.local_addr().ok();
    let handle = pinit_kernel::metrics::install();
    let stop = lc.token(Phase::Background);
    tokio::spawn(pinit_kernel::metrics::upkeep(handle.clone(), stop.clone()));
    lc.spawn(
        Phase::Background,
        "metrics",
        pinit_kernel::http::serve(listener, pinit_kernel::metrics::router(handle), stop),
    );
    Ok(addr)
}

/// `pinit serve`: the four services in one process on SQLite.
pub async fn serve(
    config: &Config,
    lc: &Lifecycle,
    clock: SharedClock,
) -> Result<Started, StartError> {
    let data_dir = &config.data_dir;
    std::fs::create_dir_all(data_dir).map_err(|source| StartError::DataDir {
        path: data_dir.clone(),
        source,
    })?;
    let lock = lock_data_dir(data_dir)?;
    ensure_keys(&config.keys_dir())?;
    let identity = config.identity_key(Mode::Serve)?;

    // Bind every listener first: a busy port fails the start before any work is done.
    let public = bind(
        config.http.addr(),
        "http.host/http.port, the gateway; see --port",
    )
    .await?;
    let metrics = start_metrics(lc, config).await?;

    // Task's gRPC (which notification calls) is a pipe inside the process too.
    let (grpc_connector, grpc_incoming) = pipe();
    let mut grpc = Some(GrpcListener::InProcess(grpc_incoming));

    // The services have no listeners of their own: the gateway calls their routers in this process, so no
    // other process on the host can reach them around the gateway (docs/adr/0012).
    let mut routers = Vec::new();
    let mut pending = Vec::new();
    for context in Context::ALL {
        let url = config.database_url(context.name(), Mode::Serve)?;
        let db = Db::connect(&url, &config.database).await?;
        let deps = Deps {
            config,
            lc,
            db: db.clone(),
            clock: clock.clone(),
            task_grpc: if context == Context::Task {
                grpc.take()
            } else {
                None
            },
            task_grpc_at: TaskGrpcAt::InProcess(grpc_connector.clone()),
            identity: identity.clone(),
        };
        let parts = parts(context, deps)?;
        let (_, messaging, router) =
            start_context(lc, parts, &db, &url, None, &clock, &identity).await?;
        pending.push(messaging);
        routers.push((context, router));
    }
    let bus = InProcessBus::with_stop(lc.token(Phase::Core));
    start_messaging(lc, config, &Bus::InProcess(bus), pending);
    let mut router_of = |wanted: Context| {
        routers
            .iter()
            .position(|(c, _)| *c == wanted)
            .map(|i| routers.swap_remove(i).1)
            .unwrap_or_default()
    };
    let upstreams = pinit_gateway::Upstreams::in_process(
        &config.gateway,
        router_of(Context::Auth),
        router_of(Context::Task),
        router_of(Context::Notification),
    );
    let http = public.local_addr().map_err(StartError::Listener)?;
    start_gateway(lc, config, true, public, upstreams, &clock, &identity)?;
    tracing::info!(
        url = %format!("http://{http}"),
        data_dir = %data_dir.display(),
        "Pinit is running"
    );
    Ok(Started {
        http,
        metrics,
        _data_dir_lock: Some(lock),
    })
}

/// `pinit auth|task|notification|gateway`: one context per process.
pub async fn service(
    mode: Mode,
    config: &Config,
    lc: &Lifecycle,
    clock: SharedClock,
) -> Result<Started, StartError> {
    let identity = config.identity_key(mode)?;
    let public = bind(config.http.addr(), "http.host/http.port; see --port").await?;
    let http = public.local_addr().map_err(StartError::Listener)?;
    let metrics = start_metrics(lc, config).await?;
    let context = match mode {
        Mode::Auth => Some(Context::Auth),
        Mode::Task => Some(Context::Task),
        Mode::Notification => Some(Context::Notification),
        Mode::Gateway | Mode::Serve => None,
    };
    match context {
        Some(context) => {
            let url = config.database_url(context.name(), mode)?;
            let db = Db::connect(&url, &config.database).await?;
            let task_grpc = if context == Context::Task {
                let addr = SocketAddr::new(config.http.host, config.task.grpc_port);
                Some(GrpcListener::Port(
                    bind(addr, "http.host/task.grpc_port").await?,
                ))
            } else {
                None
            };
            let deps = Deps {
                config,
                lc,
                db: db.clone(),
                clock: clock.clone(),
                task_grpc,
                task_grpc_at: TaskGrpcAt::Urls(config.notification.task_grpc_url.clone()),
                identity: identity.clone(),
            };
            let parts = parts(context, deps)?;
            // The broker is not a readiness dependency: the outbox buffers events through an outage, so a
            // broker failure must not take every replica out of service (docs/adr/0003).
            let bus = broker(config).await?;
            let (_, messaging, _) =
                start_context(lc, parts, &db, &url, Some(public), &clock, &identity).await?;
            start_messaging(lc, config, &bus, vec![messaging]);
        }
        None => {
            let g = &config.gateway;
            let url = |u: &Option<String>| u.clone().unwrap_or_default();
            let upstreams = pinit_gateway::Upstreams::new(
                g,
                &url(&g.auth_url),
                &url(&g.task_url),
                &url(&g.notification_url),
            )?;
            start_gateway(lc, config, false, public, upstreams, &clock, &identity)?;
        }
    }
    tracing::info!(service = mode.name(), %http, "listening");
    Ok(Started {
        http,
        metrics,
        _data_dir_lock: None,
    })
}

/// The RabbitMQ bus of a service, checked once: a broker that is down is waited for (the outbox buffers, see
/// docs/adr/0003), but a certificate that does not verify stops the start with one line — no retry would fix it.
/// (Outbound HTTPS already trusts `tls.ca_file`: the binary installed it before telemetry.)
async fn broker(config: &Config) -> Result<Bus, StartError> {
    let tls = TlsMaterial::load(&config.tls)?;
    let url = config.amqp.url.clone();
    if url.scheme() == "amqps" {
        match pinit_messaging::amqp::connect_with_tls(&url, &tls, "pinit-tls-check").await {
            Ok(conn) => {
                let _ = conn.close(200, "checked".into()).await;
            }
            Err(e @ pinit_messaging::amqp::AmqpError::Certificate { .. }) => return Err(e.into()),
            Err(e) => {
                tracing::warn!(error = %e, "the broker is not reachable yet; events wait in the outbox")
            }
        }
    }
    Ok(Bus::Amqp(url, Box::new(tls)))
}

/// `pinit migrate`.
pub async fn migrate(
    config: &Config,
    contexts: &[Context],
) -> Result<Vec<(Context, String, MigrationReport)>, StartError> {
    let mut reports = Vec::new();
    for &context in contexts {
        let url = config.database_url(context.name(), Mode::Serve)?;
        let db = Db::connect(&url, &config.database).await?;
        let report = db.migrate(context.name(), migrations(context)).await?;
        reports.push((context, db.url().to_string(), report));
        db.close().await;
    }
    Ok(reports)
}

/// Loads the keys of `pinit serve`, generating any that are missing.
fn ensure_keys(dir: &Path) -> Result<(), StartError> {
    let (jwt, generated) = SigningKey::load_or_generate(dir)?;
    if generated {
        tracing::info!(dir = %dir.display(), kid = jwt.kid(), "generated a JWT signing key");
    }
    let (vapid, generated) = VapidKey::load_or_generate(dir)?;
    if generated {
        tracing::info!(dir = %dir.display(), public_key = %vapid.public_key_base64url(), "generated a VAPID key");
    }
    Ok(())
}

/// One process per data directory: two would corrupt each other's SQLite writes and relays (and `pinit restore`
/// replaces the files only while it holds the lock).
pub(crate) fn lock_data_dir(dir: &Path) -> Result<std::fs::File, StartError> {
    let path = dir.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| StartError::DataDir {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StartError::DataDirBusy(dir.to_path_buf())),
        Err(std::fs::TryLockError::Error(source)) => Err(StartError::DataDir { path, source }),
    }
}
