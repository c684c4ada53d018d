//! RabbitMQ (AMQP 0-9-1): the relay's publisher and the consumer runtime.
//!
//! Topology, declared idempotently by whoever needs it: every exchange is `direct` and durable (the
//! producer declares its exchanges before publishing; consumers declare the exchanges they bind to, so start
//! order does not matter). A consumer's queue is durable, bound with its routing keys, and dead-letters into
//! `<queue>.dlq` through the default exchange. The vhost is part of the URL (`amqp://u:p@host/%2fpinit`).
//!
//! Publishing: persistent messages with `mandatory` on a confirm-mode channel; a message counts as published
//! only on the broker's ack without a return. A returned message (no queue bound: nobody consumes it, or its
//! consumer has not declared its queue yet) is published again to the fanout exchange [`UNROUTABLE`], whose
//! queue of the same name keeps it (the newest [`UNROUTABLE_MAX_LENGTH`]) for an operator to look at or move
//! back; once that copy is confirmed the row is settled ([`Published::Unrouted`]), not retried.
//! Properties: `message_id` = event id, `content_type` = `application/json`, `type` = message name,
//! `timestamp` = occurred-at (seconds), headers `pinit-aggregate-{type,id,version}` and, when the event was
//! recorded in a trace, the W3C `traceparent`/`tracestate`.

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use futures::future::{BoxFuture, join_all};
pub use lapin;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions,
    BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
};
use pinit_kernel::config::ConnectionUrl;
use pinit_kernel::text::error_chain;
use pinit_kernel::tls::TlsMaterial;
use pinit_kernel::trace::{TRACEPARENT, TRACESTATE, TraceContext};
use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::inbox::{DeliverError, HandlerError, Inbox, Outcome, Subscription};
use crate::message::{
    Envelope, HEADER_AGGREGATE_ID, HEADER_AGGREGATE_TYPE, HEADER_AGGREGATE_VERSION, IncomingEvent,
    OutboundMessage,
};
use crate::transport::{PublishError, Published, Transport};

/// The fanout exchange, and its queue, that keep messages no queue is bound for (declared by the producer).
pub const UNROUTABLE: &str = "pinit.unroutable";
/// How many messages the unroutable queue keeps (`x-max-length`; the oldest are dropped beyond it).
pub const UNROUTABLE_MAX_LENGTH: i64 = 100_000;
/// The header that carries a message's own exchange in its copy kept in the unroutable queue.
pub const HEADER_ORIGINAL_EXCHANGE: &str = "pinit-original-exchange";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on acks, nacks, cancels and closes: a connection that died silently must not hang a task.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs a broker operation with a deadline; `None` when it did not finish in time.
async fn bounded<T>(within: Duration, op: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout(within, op).await.ok()
}

#[derive(Debug, thiserror::Error)]
pub enum AmqpError {
    #[error("cannot connect to RabbitMQ at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error(
        "cannot connect to RabbitMQ at {url}: the server's certificate does not verify ({reason}); it is checked against {trust} and must name the host `{host}`"
    )]
    Certificate {
        url: String,
        reason: String,
        trust: String,
        host: String,
    },
    #[error("RabbitMQ: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker ended the consumer of queue `{0}`")]
    ConsumerEnded(String),
}

/// Opens a connection named `name` (shown in the management UI), trusting the system's CA store.
pub async fn connect(url: &ConnectionUrl, name: &str) -> Result<Connection, AmqpError> {
    connect_with_tls(url, &TlsMaterial::default(), name).await
}

/// As [`connect`], with `amqps://` checked against `tls`'s extra CA (beside the system store) and presenting its
/// client certificate. A certificate that does not verify is [`AmqpError::Certificate`]: a configuration
/// problem that no reconnect will fix.
pub async fn connect_with_tls(
    url: &ConnectionUrl,
    tls: &TlsMaterial,
    name: &str,
) -> Result<Connection, AmqpError> {
    let props = ConnectionProperties::default().with_connection_name(name.into());
    let failed = |reason: String| AmqpError::Connect {
        url: url.redacted(),
        reason,
    };
    let config = OwnedTLSConfig {
        identity: tls
            .identity
            .as_ref()
            .map(|(cert, key)| OwnedIdentity::PKCS8 {
                pem: cert.clone().into_bytes(),
                key: key.clone().into_bytes(),
            }),
        cert_chain: tls.ca_pem.clone(),
    };
    let runtime = lapin::runtime::default_runtime().map_err(|e| failed(e.to_string()))?;
    let connecting = Connection::connect_with_config(url.expose(), props, config, runtime);
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) if pinit_kernel::tls::is_certificate_error(&e) => Err(AmqpError::Certificate {
            url: url.redacted(),
            reason: error_chain(&e),
            trust: tls.trust_description(),
            host: url.url().host_str().unwrap_or_default().to_string(),
        }),
        Ok(Err(e)) => Err(failed(error_chain(&e))),
        Err(_) => Err(failed(format!("no answer within {CONNECT_TIMEOUT:?}"))),
    }
}

/// Declares a durable direct exchange (idempotent).
pub async fn declare_exchange(channel: &Channel, exchange: &str) -> Result<(), lapin::Error> {
    channel
        .exchange_declare(
            exchange.into(),
            ExchangeKind::Direct,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
}

/// Declares a consumer's exchanges, queue, bindings and dead-letter queue (idempotent).
pub async fn declare_subscription(
    channel: &Channel,
    sub: &Subscription,
) -> Result<(), lapin::Error> {
    let dlq = sub.dead_letter_queue();
    channel
        .queue_declare(
            dlq.as_str().into(),
            QueueDeclareOptions::durable(),
            FieldTable::default(),
        )
        .await?;
    let mut args = FieldTable::default();
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(LongString::from("")),
    );
    args.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(LongString::from(dlq.as_str())),
    );
    channel
        .queue_declare(
            sub.queue.as_str().into(),
            QueueDeclareOptions::durable(),
            args,
        )
        .await?;
    for b in &sub.bindings {
        declare_exchange(channel, &b.exchange).await?;
        channel
            .queue_bind(
                sub.queue.as_str().into(),
                b.exchange.as_str().into(),
                b.routing_key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

/// Declares the fanout exchange `name` and its durable queue of the same name, bound to it, that keep the
/// messages no queue is bound for (idempotent).
pub async fn declare_unroutable(channel: &Channel, name: &str) -> Result<(), lapin::Error> {
    channel
        .exchange_declare(
            name.into(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    let mut args = FieldTable::default();
    args.insert(
        "x-max-length".into(),
        AMQPValue::LongLongInt(UNROUTABLE_MAX_LENGTH),
    );
    channel
        .queue_declare(name.into(), QueueDeclareOptions::durable(), args)
        .await?;
    channel
        .queue_bind(
            name.into(),
            name.into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

/// Deletes a subscription's queue and its dead-letter queue: the inverse of [`declare_subscription`], for tests
/// and benchmarks that name their own. Its exchanges may be shared, so they stay.
pub async fn delete_subscription(
    channel: &Channel,
    sub: &Subscription,
) -> Result<(), lapin::Error> {
    for queue in [sub.queue.clone(), sub.dead_letter_queue()] {
        channel
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await?;
    }
    Ok(())
}

/// The AMQP properties of an outbox message.
pub fn properties(m: &OutboundMessage) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(
        HEADER_AGGREGATE_TYPE.into(),
        AMQPValue::LongString(m.aggregate_type.as_str().into()),
    );
    headers.insert(
        HEADER_AGGREGATE_ID.into(),
        AMQPValue::LongString(m.aggregate_id.as_str().into()),
    );
    if let Some(v) = m.aggregate_version {
        headers.insert(HEADER_AGGREGATE_VERSION.into(), AMQPValue::LongLongInt(v));
    }
    if let Some(context) = &m.trace_context {
        headers.insert(
            TRACEPARENT.as_str().into(),
            AMQPValue::LongString(context.traceparent().into()),
        );
        if let Some(state) = context.tracestate() {
            headers.insert(
                TRACESTATE.as_str().into(),
                AMQPValue::LongString(state.into()),
            );
        }
    }
    BasicProperties::default()
        .with_message_id(m.event_id.as_str().into())
        .with_content_type("application/json".into())
        .with_content_encoding("UTF-8".into())
        .with_type(m.event_type.as_str().into())
        .with_timestamp(u64::try_from(m.occurred_at.as_second()).unwrap_or(0))
        .with_delivery_mode(2)
        .with_headers(headers)
}

/// Reads an incoming event from a delivery (our messages and reference-produced ones alike).
pub fn incoming(delivery: &Delivery) -> IncomingEvent {
    let props = &delivery.properties;
    let header = |name: &str| {
        props
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get(&ShortString::from(name)).cloned())
    };
    let text = |v: AMQPValue| match v {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
        _ => None,
    };
    let int = |v: AMQPValue| match v {
        AMQPValue::LongLongInt(i) => Some(i),
        AMQPValue::LongInt(i) => Some(i64::from(i)),
        AMQPValue::LongUInt(i) => Some(i64::from(i)),
        AMQPValue::ShortInt(i) => Some(i64::from(i)),
        AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok()?.parse().ok(),
        _ => None,
    };
    IncomingEvent::from_envelope(
        Envelope {
            exchange: delivery.exchange.as_str(),
            routing_key: delivery.routing_key.as_str(),
            message_id: props.message_id().as_ref().map(|s| s.as_str()),
            event_type: props.kind().as_ref().map(|s| s.as_str()),
            timestamp_secs: *props.timestamp(),
            aggregate_type: header(HEADER_AGGREGATE_TYPE).and_then(text),
            aggregate_id: header(HEADER_AGGREGATE_ID).and_then(text),
            aggregate_version: header(HEADER_AGGREGATE_VERSION).and_then(int),
            trace_context: header(TRACEPARENT.as_str())
                .and_then(text)
                .and_then(|parent| {
                    let state = header(TRACESTATE.as_str()).and_then(text);
                    TraceContext::new(&parent, state.as_deref())
                }),
        },
        &delivery.data,
    )
}

struct Publisher {
    conn: Connection,
    channel: Channel,
    declared: HashSet<String>,
}

impl Publisher {
    fn usable(&self) -> bool {
        self.conn.status().connected() && self.channel.status().connected()
    }
}

/// Publishes to RabbitMQ with confirms and `mandatory`; (re)connects lazily, on the next publish after a
/// failure.
pub struct AmqpTransport {
    url: ConnectionUrl,
    tls: TlsMaterial,
    name: String,
    /// Where returned messages go ([`UNROUTABLE`]).
    unroutable: String,
    state: Mutex<Option<Publisher>>,
}

impl AmqpTransport {
    /// `name` is the connection name shown by RabbitMQ (e.g. `pinit-task-relay`).
    pub fn new(url: ConnectionUrl, name: impl Into<String>) -> Self {
        Self {
            url,
            tls: TlsMaterial::default(),
            name: name.into(),
            unroutable: UNROUTABLE.into(),
            state: Mutex::new(None),
        }
    }

    /// Connects with `tls`'s CA and client certificate (`amqps://`).
    pub fn with_tls(mut self, tls: TlsMaterial) -> Self {
        self.tls = tls;
        self
    }

    /// Keeps returned messages in the exchange and queue `name` instead of [`UNROUTABLE`] (tests name
    /// their own).
    pub fn with_unroutable(mut self, name: impl Into<String>) -> Self {
        self.unroutable = name.into();
        self
    }

    async fn open(&self) -> Result<Publisher, AmqpError> {
        let conn = connect_with_tls(&self.url, &self.tls, &self.name).await?;
        let setup = async {
            let channel = conn.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            Ok::<_, lapin::Error>(channel)
        };
        let channel = match bounded(CONNECT_TIMEOUT, setup).await {
            Some(channel) => channel?,
            None => {
                let _ = bounded(SETTLE_TIMEOUT, conn.close(200, "setup timed out".into())).await;
                return Err(AmqpError::Connect {
                    url: self.url.redacted(),
                    reason: "no channel within the connect timeout".into(),
                });
            }
        };
        tracing::info!(broker = %self.url.redacted(), "publisher connected");
        Ok(Publisher {
            conn,
            channel,
            declared: HashSet::new(),
        })
    }

    async fn publish_batch(
        &self,
        batch: &[OutboundMessage],
        timeout: Duration,
    ) -> Vec<Result<Published, PublishError>> {
        let mut state = self.state.lock().await;
        if state.as_ref().is_some_and(|p| !p.usable()) {
            *state = None;
        }
        if state.is_none() {
            match self.open().await {
                Ok(p) => *state = Some(p),
                Err(e) => return vec![Err(PublishError::Connection(e.to_string())); batch.len()],
            }
        }
        let Some(publisher) = state.as_mut() else {
            return vec![Err(PublishError::Connection("not connected".into())); batch.len()];
        };
        let result = tokio::time::timeout(
            timeout,
            publish_on(publisher, batch, self.unroutable.as_str()),
        )
        .await;
        match result {
            Ok((results, healthy)) => {
                if !healthy {
                    *state = None;
                }
                results
            }
            Err(_) => {
                // Confirms that never come mean a stuck connection: start afresh next time.
                *state = None;
                vec![Err(PublishError::Timeout(timeout)); batch.len()]
            }
        }
    }
}

/// Publishes `batch` on `p` (returned messages to `unroutable`); returns the results and whether the
/// connection is still fit for use.
async fn publish_on(
    p: &mut Publisher,
    batch: &[OutboundMessage],
    unroutable: &str,
) -> (Vec<Result<Published, PublishError>>, bool) {
    let broken = |e: &lapin::Error| PublishError::Connection(e.to_string());
    if !p.declared.contains(unroutable) {
        if let Err(e) = declare_unroutable(&p.channel, unroutable).await {
            return (vec![Err(broken(&e)); batch.len()], false);
        }
        p.declared.insert(unroutable.to_string());
    }
    for m in batch {
        if !p.declared.contains(&m.exchange) {
            if let Err(e) = declare_exchange(&p.channel, &m.exchange).await {
                return (vec![Err(broken(&e)); batch.len()], false);
            }
            p.declared.insert(m.exchange.clone());
        }
    }
    let mut pending = Vec::with_capacity(batch.len());
    let mut healthy = true;
    for m in batch {
        if !healthy {
            pending.push(Err(PublishError::Connection(
                "channel failed earlier in this batch".into(),
            )));
            continue;
        }
        let sent = p
            .channel
            .basic_publish(
                m.exchange.as_str().into(),
                m.routing_key.as_str().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                m.payload.as_bytes(),
                properties(m),
            )
            .await;
        match sent {
            Ok(confirm) => pending.push(Ok(confirm)),
            Err(e) => {
                healthy = false;
                pending.push(Err(broken(&e)));
            }
        }
    }
    let channel = &p.channel;
    let confirms = join_all(pending.into_iter().zip(batch).map(|(p, m)| async move {
        match confirmed(p?.await, m) {
            Err(PublishError::Unroutable { .. }) => keep_unroutable(channel, m, unroutable).await,
            other => other.map(|()| Published::Routed),
        }
    }))
    .await;
    let healthy = healthy
        && confirms
            .iter()
            .all(|r| !matches!(r, Err(PublishError::Connection(_))));
    (confirms, healthy)
}

/// What the broker's answer to a publish of `m` means: `Ok` = acked and routed.
fn confirmed(
    answer: Result<Confirmation, lapin::Error>,
    m: &OutboundMessage,
) -> Result<(), PublishError> {
    match answer {
        Ok(Confirmation::Ack(None)) => Ok(()),
        Ok(Confirmation::Ack(Some(_)) | Confirmation::Nack(Some(_))) => {
            Err(PublishError::Unroutable {
                exchange: m.exchange.clone(),
                routing_key: m.routing_key.clone(),
            })
        }
        Ok(Confirmation::Nack(None)) => Err(PublishError::Nacked),
        Ok(Confirmation::NotRequested) => Err(PublishError::Connection(
            "publisher confirms are off".into(),
        )),
        Err(e) => Err(PublishError::Connection(e.to_string())),
    }
}

/// Publishes a returned message again to the `unroutable` exchange (same body, properties and routing key,
/// its own exchange in [`HEADER_ORIGINAL_EXCHANGE`]): confirmed there, it is [`Published::Unrouted`].
async fn keep_unroutable(
    channel: &Channel,
    m: &OutboundMessage,
    unroutable: &str,
) -> Result<Published, PublishError> {
    let props = properties(m);
    let mut headers = props.headers().clone().unwrap_or_default();
    headers.insert(
        HEADER_ORIGINAL_EXCHANGE.into(),
        AMQPValue::LongString(m.exchange.as_str().into()),
    );
    let confirm = channel
        .basic_publish(
            unroutable.into(),
            m.routing_key.as_str().into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            m.payload.as_bytes(),
            props.with_headers(headers),
        )
        .await
        .map_err(|e| PublishError::Connection(e.to_string()))?;
    confirmed(confirm.await, m).map(|()| Published::Unrouted)
}

impl Transport for AmqpTransport {
    fn name(&self) -> &'static str {
        "amqp"
    }

    fn publish<'a>(
        &'a self,
        batch: &'a [OutboundMessage],
        timeout: Duration,
    ) -> BoxFuture<'a, Vec<Result<Published, PublishError>>> {
        Box::pin(self.publish_batch(batch, timeout))
    }
}

/// Consumes a subscription's queue into its [`Inbox`]: manual acks after commit, `prefetch` and
/// `concurrency` from the inbox's [`crate::ConsumerConfig`], reconnecting after failures.
pub struct AmqpConsumer {
    url: ConnectionUrl,
    tls: TlsMaterial,
    inbox: Inbox,
}

impl AmqpConsumer {
    pub fn new(url: ConnectionUrl, inbox: Inbox) -> Self {
        Self {
            url,
            tls: TlsMaterial::default(),
            inbox,
        }
    }

    /// Connects with `tls`'s CA and client certificate (`amqps://`).
    pub fn with_tls(mut self, tls: TlsMaterial) -> Self {
        self.tls = tls;
        self
    }

    /// Declares the topology once (e.g. at start-up, so a failing broker shows before traffic).
    pub async fn declare(&self) -> Result<(), AmqpError> {
        let conn = connect_with_tls(&self.url, &self.tls, &self.connection_name()).await?;
        let declared = bounded(CONNECT_TIMEOUT, async {
            let channel = conn.create_channel().await?;
            declare_subscription(&channel, self.inbox.subscription()).await
        })
        .await;
        let _ = bounded(SETTLE_TIMEOUT, conn.close(200, "declared".into())).await;
        match declared {
            Some(result) => Ok(result?),
            None => Err(AmqpError::Connect {
                url: self.url.redacted(),
                reason: "declaring the topology timed out".into(),
            }),
        }
    }

    fn connection_name(&self) -> String {
        format!("pinit-consumer-{}", self.inbox.consumer())
    }

    /// Consumes until `stop` is cancelled; then stops taking deliveries, lets the ones in hand finish
    /// (acking them) and closes. Connection failures are logged and retried after `reconnect_delay`.
    pub async fn run(self, stop: CancellationToken) -> Result<(), AmqpError> {
        let consumer = self.inbox.consumer().to_string();
        let delay = self.inbox.config().reconnect_delay.get();
        let mut last_prune: Option<std::time::Instant> = None;
        loop {
            if last_prune.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
                if let Err(e) = self.inbox.prune().await {
                    tracing::warn!(consumer, error = %e, "cannot prune the inbox");
                }
                last_prune = Some(std::time::Instant::now());
            }
            match self.session(&stop).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::warn!(consumer, error = %e, retry_in = ?delay, "consumer connection lost")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stop.cancelled() => return Ok(()),
            }
        }
    }

    /// One connection's life. `Ok` only when stopped.
    ///
    /// Deliveries are spread over `concurrency` workers by aggregate (headers `pinit-aggregate-type/id`;
    /// the event id when absent), so one aggregate's events are handled one after another, in queue order,
    /// while different aggregates proceed in parallel.
    async fn session(&self, stop: &CancellationToken) -> Result<(), AmqpError> {
        let sub = self.inbox.subscription();
        let config = self.inbox.config();
        let conn = connect_with_tls(&self.url, &self.tls, &self.connection_name()).await?;
        let tag = format!("{}-{}", sub.consumer, uuid::Uuid::new_v4().simple());
        let setup = async {
            let channel = conn.create_channel().await?;
            declare_subscription(&channel, sub).await?;
            channel
                .basic_qos(config.prefetch.max(1), BasicQosOptions::default())
                .await?;
            let deliveries = channel
                .basic_consume(
                    sub.queue.as_str().into(),
                    tag.as_str().into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            Ok::<_, lapin::Error>((channel, deliveries))
        };
        let (channel, mut deliveries) = match bounded(CONNECT_TIMEOUT, setup).await {
            Some(result) => result?,
            None => {
                let _ = bounded(SETTLE_TIMEOUT, conn.close(200, "setup timed out".into())).await;
                return Err(AmqpError::Connect {
                    url: self.url.redacted(),
                    reason: "setting up the consumer timed out".into(),
                });
            }
        };
        tracing::info!(consumer = %sub.consumer, queue = %sub.queue, "consuming");

        let tracker = TaskTracker::new();
        let workers: Vec<mpsc::Sender<(IncomingEvent, Delivery)>> = (0..config.concurrency.max(1))
            .map(|_| {
                let (tx, mut rx) =
                    mpsc::channel::<(IncomingEvent, Delivery)>(usize::from(config.prefetch.max(1)));
                let (inbox, stop) = (self.inbox.clone(), stop.clone());
                tracker.spawn(async move {
                    while let Some(first) = rx.recv().await {
                        // What queued up behind it goes along (a worker that fell behind catches up).
                        let mut batch = vec![first];
                        while batch.len() < MAX_BATCH {
                            match rx.try_recv() {
                                Ok(next) => batch.push(next),
                                Err(_) => break,
                            }
                        }
                        if stop.is_cancelled() {
                            // Shutting down: give back what was not started.
                            for (event, delivery) in &batch {
                                settle(&inbox, event, delivery, false, true).await;
                            }
                        } else {
                            handle_batch(&inbox, batch, &stop).await;
                        }
                    }
                });
                tx
            })
            .collect();
        let outcome = loop {
            let next = tokio::select! {
                d = deliveries.next() => d,
                _ = stop.cancelled() => break Ok(()),
            };
            match next {
                Some(Ok(delivery)) => {
                    let event = incoming(&delivery);
                    let worker = &workers[worker_for(&event, workers.len())];
                    if worker.send((event, delivery)).await.is_err() {
                        break Err(AmqpError::ConsumerEnded(sub.queue.clone()));
                    }
                }
                Some(Err(e)) => break Err(AmqpError::Broker(e)),
                None => break Err(AmqpError::ConsumerEnded(sub.queue.clone())),
            }
        };
        if outcome.is_ok() {
            let cancel = channel.basic_cancel(tag.as_str().into(), BasicCancelOptions::default());
            let _ = bounded(SETTLE_TIMEOUT, cancel).await;
        }
        drop(workers);
        tracker.close();
        tracker.wait().await;
        let _ = bounded(SETTLE_TIMEOUT, channel.close(200, "bye".into())).await;
        let _ = bounded(SETTLE_TIMEOUT, conn.close(200, "bye".into())).await;
        outcome
    }
}

/// The worker of an event: by aggregate, else by event id.
fn worker_for(event: &IncomingEvent, workers: usize) -> usize {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    match &event.aggregate {
        Some(a) => (&a.aggregate_type, &a.aggregate_id).hash(&mut h),
        None => event.id.hash(&mut h),
    }
    (h.finish() % workers.max(1) as u64) as usize
}

/// The most deliveries a worker applies in one transaction.
const MAX_BATCH: usize = 32;

/// Processes a worker's queued deliveries (one aggregate's events stay in order). First deliveries are applied in
/// one transaction ([`Inbox::apply_batch`]); if that fails, or a delivery is a redelivery, each goes through
/// [`handle`] on its own, in order.
async fn handle_batch(
    inbox: &Inbox,
    batch: Vec<(IncomingEvent, Delivery)>,
    stop: &CancellationToken,
) {
    let mut failed = None;
    if batch.len() > 1 && batch.iter().all(|(_, d)| !d.redelivered) {
        let events: Vec<&IncomingEvent> = batch.iter().map(|(e, _)| e).collect();
        match inbox.apply_batch(&events).await {
            Ok(_) => {
                for (event, delivery) in &batch {
                    settle(inbox, event, delivery, true, false).await;
                }
                return;
            }
            Err(e) => failed = e.error.map(|error| (e.at, error)),
        }
    }
    for (at, (event, delivery)) in batch.into_iter().enumerate() {
        let first_failure = failed
            .take_if(|(failed_at, _)| *failed_at == at)
            .map(|(_, e)| e);
        handle(inbox, event, delivery, first_failure, stop).await;
    }
}

/// Processes one delivery and settles it with the broker.
/// `first_failure`: the handler already failed once for it (in a batch that was rolled back).
async fn handle(
    inbox: &Inbox,
    event: IncomingEvent,
    delivery: Delivery,
    first_failure: Option<HandlerError>,
    stop: &CancellationToken,
) {
    let delivered = match first_failure {
        Some(error) => inbox.deliver_after_failed_run(&event, error, stop).await,
        None => inbox.deliver(&event, delivery.redelivered, stop).await,
    };
    // ack = settled; nack without requeue = dead-lettered; nack with requeue = deliver again.
    let (ack, requeue) = match delivered {
        Ok(Outcome::DeadLettered) => (false, false),
        Ok(_) => (true, false),
        Err(e) => {
            if let DeliverError::Database(e) = &e {
                tracing::warn!(consumer = inbox.consumer(), event_id = %event.id, error = %e, "inbox unavailable; the event is redelivered later");
                // Do not spin on a database that is down.
                tokio::select! {
                    _ = tokio::time::sleep(inbox.config().reconnect_delay.get()) => {}
                    _ = stop.cancelled() => {}
                }
            }
            (false, true)
        }
    };
    settle(inbox, &event, &delivery, ack, requeue).await;
}

async fn settle(
    inbox: &Inbox,
    event: &IncomingEvent,
    delivery: &Delivery,
    ack: bool,
    requeue: bool,
) {
    let acker = &delivery.acker;
    let settle = async {
        if ack {
            acker.ack(BasicAckOptions::default()).await
        } else {
            acker
                .nack(BasicNackOptions {
                    requeue,
                    multiple: false,
                })
                .await
        }
    };
    match bounded(SETTLE_TIMEOUT, settle).await {
        Some(Ok(_)) => {}
        // The channel is gone; the broker redelivers the message and the inbox recognises it.
        Some(Err(e)) => {
            tracing::debug!(consumer = inbox.consumer(), event_id = %event.id, error = %e, "could not settle a delivery")
        }
        None => {
            tracing::debug!(consumer = inbox.consumer(), event_id = %event.id, "settling a delivery timed out")
        }
    }
}
