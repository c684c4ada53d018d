//! Idempotent consumers: the inbox and the handler runtime shared by every transport.
//!
//! For each delivery the runtime opens a transaction, records `(consumer, event id)` — a duplicate is
//! acknowledged and skipped —, skips the event if the consumer already applied a newer version of the same
//! aggregate, runs the [`Handler`] in the same transaction and commits; only then is the message acknowledged.
//! A failing handler is retried with backoff up to `max_attempts` runs (the count survives restarts: a
//! redelivered message counts as a failed run), then dead-lettered. A [`HandlerError::Permanent`] failure or
//! a body that is not JSON is dead-lettered at once.

use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use jiff::Timestamp;
use metrics::{counter, histogram};
use pinit_kernel::db::{DbError, Tx};
use pinit_kernel::text::truncate;
use pinit_kernel::trace;
use pinit_kernel::{Db, SharedClock};
use tokio_util::sync::CancellationToken;

use crate::config::ConsumerConfig;
use crate::message::{Channel, IncomingEvent};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a handler did not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying (database busy, a peer service down): retried with backoff, then dead-lettered.
    #[error("{0}")]
    Transient(BoxError),
    /// Retrying cannot help (the payload does not decode, an invariant is violated): dead-lettered at once.
    #[error("{0}")]
    Permanent(BoxError),
}

impl HandlerError {
    pub fn transient(e: impl Into<BoxError>) -> Self {
        HandlerError::Transient(e.into())
    }
    pub fn permanent(e: impl Into<BoxError>) -> Self {
        HandlerError::Permanent(e.into())
    }
    pub fn is_permanent(&self) -> bool {
        matches!(self, HandlerError::Permanent(_))
    }
}

impl From<DbError> for HandlerError {
    fn from(e: DbError) -> Self {
        HandlerError::Transient(Box::new(e))
    }
}

impl From<sqlx::Error> for HandlerError {
    fn from(e: sqlx::Error) -> Self {
        HandlerError::Transient(Box::new(DbError::from(e)))
    }
}

/// Applies one event inside the consumer's transaction. Write through `tx` only: the runtime commits it
/// together with the inbox record, so the effect and "processed" are one.
pub trait Handler: Send + Sync + 'static {
    fn handle(
        &self,
        tx: &mut Tx,
        event: &IncomingEvent,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;

    /// Told once the inbox has skipped `event` as stale (older than a version of its aggregate this consumer
    /// already took) without calling [`Handler::handle`]: a handler that counts what it does with each event
    /// counts this one too. Does nothing by default.
    fn skipped_stale(&self, event: &IncomingEvent) {
        let _ = event;
    }
}

trait DynHandler: Send + Sync + 'static {
    fn handle_dyn<'a>(
        &'a self,
        tx: &'a mut Tx,
        event: &'a IncomingEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>>;

    fn skipped_stale_dyn(&self, event: &IncomingEvent);
}

impl<H: Handler> DynHandler for H {
    fn handle_dyn<'a>(
        &'a self,
        tx: &'a mut Tx,
        event: &'a IncomingEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(self.handle(tx, event))
    }

    fn skipped_stale_dyn(&self, event: &IncomingEvent) {
        self.skipped_stale(event);
    }
}

/// An exchange + routing key a consumer's queue is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Binding {
    pub exchange: String,
    pub routing_key: String,
}

/// What a consumer listens to: its name (the inbox key), its queue and bindings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Identifies the consumer in the inbox tables; keep it stable.
    pub consumer: String,
    /// The RabbitMQ queue (`{service}.{event}` style, e.g. `task.member.created`); its dead letters go to
    /// `<queue>.dlq`.
    pub queue: String,
    pub bindings: Vec<Binding>,
    /// Whose aggregate versions this consumer checks and records (`None`: its own): consumers naming the same
    /// key share them.
    pub versions: Option<String>,
}

impl Subscription {
    /// A consumer whose queue has the consumer's name.
    pub fn new(consumer: impl Into<String>) -> Self {
        let consumer = consumer.into();
        Self {
            queue: consumer.clone(),
            consumer,
            bindings: Vec::new(),
            versions: None,
        }
    }

    /// Shares the aggregate versions under `key` with the other consumers that name it. Events of one aggregate
    /// that reach a context on several queues — which RabbitMQ does not order between them — are then applied in
    /// version order whichever queue brings them first: an event older than one another consumer applied is
    /// stale (e.g. a `member.created` after that member's `member.deleted`).
    pub fn versions(mut self, key: impl Into<String>) -> Self {
        self.versions = Some(key.into());
        self
    }

    /// The key its aggregate versions are kept under.
    pub fn versions_key(&self) -> &str {
        self.versions.as_deref().unwrap_or(&self.consumer)
    }

    /// Uses another queue name.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }

    /// Binds a channel of the published language.
    pub fn bind(self, channel: Channel) -> Self {
        self.bind_key(channel.exchange, channel.routing_key)
    }

    /// Binds an exchange + routing key.
    pub fn bind_key(mut self, exchange: impl Into<String>, routing_key: impl Into<String>) -> Self {
        let binding = Binding {
            exchange: exchange.into(),
            routing_key: routing_key.into(),
        };
        if !self.bindings.contains(&binding) {
            self.bindings.push(binding);
        }
        self
    }

    /// The dead-letter queue's name.
    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dlq", self.queue)
    }
}

/// How an event ended for a consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The handler ran and committed.
    Applied,
    /// Already processed: skipped.
    Duplicate,
    /// Older than the aggregate version already applied: skipped.
    Stale,
    /// Recorded as dead: the transport must move it to its dead-letter queue (and not redeliver it).
    DeadLettered,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::Stale => "stale",
            Outcome::DeadLettered => "dead_lettered",
        }
    }
}

/// The event was not settled; the transport must deliver it again later.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// The inbox bookkeeping failed (the consumer's database is unavailable). Not counted as an attempt.
    #[error("inbox database: {0}")]
    Database(#[from] DbError),
    /// Shutdown began while waiting to retry; the attempt count is kept.
    #[error("interrupted by shutdown")]
    Interrupted,
}

/// A dead-lettered (or failing) event as recorded in `messaging_inbox_failure`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub event_id: String,
    pub exchange: String,
    pub routing_key: String,
    pub payload: String,
    pub attempts: i64,
    pub last_error: String,
    pub dead_lettered_at: Option<Timestamp>,
}

/// A consumer: subscription + handler + its database. Cheap to clone; hand it to a transport
/// ([`crate::amqp::AmqpConsumer`] or [`crate::inprocess::InProcessBus::subscribe`]).
#[derive(Clone)]
pub struct Inbox {
    inner: Arc<InboxInner>,
}

struct InboxInner {
    subscription: Subscription,
    db: Db,
    clock: SharedClock,
    handler: Box<dyn DynHandler>,
    config: ConsumerConfig,
}

enum Try {
    Done(Outcome),
    Exhausted,
}

/// Why [`Inbox::apply_batch`] kept nothing: the event at `at` failed (`error`: its handler's error), or the
/// database did (`error` is `None`).
#[derive(Debug)]
pub struct BatchFailed {
    pub at: usize,
    pub error: Option<HandlerError>,
}

enum TryError {
    Handler(HandlerError),
    Database(DbError),
}

impl Inbox {
    /// A consumer over `db` (which holds the inbox tables); `clock` stamps its records.
    pub fn new<H: Handler>(
        subscription: Subscription,
        db: Db,
        clock: SharedClock,
        handler: H,
        config: ConsumerConfig,
    ) -> Self {
        Self {
            inner: Arc::new(InboxInner {
                subscription,
                db,
                clock,
                handler: Box::new(handler),
                config,
            }),
        }
    }

    pub fn subscription(&self) -> &Subscription {
        &self.inner.subscription
    }

    pub fn consumer(&self) -> &str {
        &self.inner.subscription.consumer
    }

    pub fn config(&self) -> &ConsumerConfig {
        &self.inner.config
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// Processes one delivery to its end: applied, skipped, or dead-lettered. `redelivered` says the transport
    /// delivered it before without an acknowledgement (that counts as a failed run). Retries wait with backoff;
    /// `stop` interrupts the wait.
    pub async fn deliver(
        &self,
        event: &IncomingEvent,
        redelivered: bool,
        stop: &CancellationToken,
    ) -> Result<Outcome, DeliverError> {
        if let Some(reason) = &event.malformed {
            self.dead_letter(event, 1, reason).await?;
            return Ok(self.finish(Outcome::DeadLettered, event));
        }
        let attempts = if redelivered {
            self.bump(
                event,
                "redelivered: an earlier delivery was never acknowledged",
            )
            .await?
        } else {
            0
        };
        self.attempt(event, attempts, None, stop).await
    }

    /// As [`Inbox::deliver`] for an event whose handler failed in a batch ([`Inbox::apply_batch`], rolled back
    /// as a whole): that run counts as its first attempt, so the handler still runs `max_attempts` times in all.
    pub async fn deliver_after_failed_run(
        &self,
        event: &IncomingEvent,
        error: HandlerError,
        stop: &CancellationToken,
    ) -> Result<Outcome, DeliverError> {
        self.attempt(event, 0, Some(error), stop).await
    }

    /// Runs `event` until it is applied, skipped or dead-lettered; `attempts` were already used, and `failed`
    /// is the error of a run that just failed (handled as if this loop had made it).
    async fn attempt(
        &self,
        event: &IncomingEvent,
        mut attempts: i64,
        mut failed: Option<HandlerError>,
        stop: &CancellationToken,
    ) -> Result<Outcome, DeliverError> {
        let consumer = self.consumer();
        let max = self.inner.config.max_attempts.max(1);
        loop {
            let result = match failed.take() {
                Some(e) => Err(TryError::Handler(e)),
                None => self.try_once(event, attempts < i64::from(max)).await,
            };
            match result {
                Ok(Try::Done(outcome)) => {
                    if attempts > 0 {
                        self.clear_failure(event).await;
                    }
                    return Ok(self.finish(outcome, event));
                }
                Ok(Try::Exhausted) => {
                    self.dead_letter(event, attempts, "no attempts left")
                        .await?;
                    return Ok(self.finish(Outcome::DeadLettered, event));
                }
                Err(TryError::Database(e)) => return Err(DeliverError::Database(e)),
                Err(TryError::Handler(e)) => {
                    attempts += 1;
                    counter!("pinit_inbox_handler_failures_total", "consumer" => consumer.to_string()).increment(1);
                    if e.is_permanent() || attempts >= i64::from(max) {
                        tracing::error!(consumer, event_id = %event.id, routing_key = %event.routing_key, attempts, error = %e, "event dead-lettered");
                        self.dead_letter(event, attempts, &e.to_string()).await?;
                        return Ok(self.finish(Outcome::DeadLettered, event));
                    }
                    let delay = self
                        .inner
                        .config
                        .retry_backoff
                        .delay(u32::try_from(attempts).unwrap_or(u32::MAX));
                    tracing::warn!(consumer, event_id = %event.id, routing_key = %event.routing_key, attempts, retry_in = ?delay, error = %e, "handler failed; retrying");
                    self.record_failure(event, attempts, &e.to_string()).await?;
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stop.cancelled() => return Err(DeliverError::Interrupted),
                    }
                }
            }
        }
    }

    fn finish(&self, outcome: Outcome, event: &IncomingEvent) -> Outcome {
        counter!("pinit_inbox_events_total", "consumer" => self.consumer().to_string(), "outcome" => outcome.label()).increment(1);
        if outcome == Outcome::Stale {
            self.inner.handler.skipped_stale_dyn(event);
        }
        if outcome == Outcome::Applied
            && let Some(at) = event.occurred_at
        {
            let lag = self.now().duration_since(at).as_secs_f64().max(0.0);
            histogram!("pinit_inbox_lag_seconds", "consumer" => self.consumer().to_string())
                .record(lag);
        }
        tracing::debug!(consumer = self.consumer(), event_id = %event.id, outcome = outcome.label(), "event processed");
        outcome
    }

    async fn try_once(&self, event: &IncomingEvent, may_run: bool) -> Result<Try, TryError> {
        let run = async {
            let mut tx = self.inner.db.begin().await.map_err(TryError::Database)?;
            let step = self.apply(&mut tx, event, may_run).await?;
            self.end(tx, step).await
        };
        trace::follow(event.trace_context.clone(), self.span(event), run).await
    }

    /// Commits what [`Inbox::apply`] did when it counts (applied, stale); a failed commit of an applied event
    /// is a failed run.
    async fn end(&self, tx: Tx, step: Try) -> Result<Try, TryError> {
        match step {
            Try::Done(Outcome::Applied) => {
                // A failed commit (serialization conflict, lost connection) is a failed run like any other.
                tx.commit()
                    .await
                    .map_err(|e| TryError::Handler(HandlerError::from(e)))?;
            }
            Try::Done(Outcome::Stale) => tx
                .commit()
                .await
                .map_err(|e| TryError::Database(e.into()))?,
            Try::Done(_) | Try::Exhausted => drop(tx),
        }
        Ok(step)
    }

    /// Applies first deliveries (none redelivered or malformed), in queue order, in **one** transaction: one
    /// commit for all. Returns one outcome each; on failure nothing of the batch is kept and the caller delivers
    /// the events one by one (with retries and dead-lettering) — the one whose handler failed through
    /// [`Inbox::deliver_after_failed_run`]. A consumer that has fallen behind catches up this way with a fraction
    /// of the commits.
    pub async fn apply_batch(
        &self,
        events: &[&IncomingEvent],
    ) -> Result<Vec<Outcome>, BatchFailed> {
        let failed = |at: usize, error: Option<HandlerError>| BatchFailed { at, error };
        let mut tx = self.inner.db.begin().await.map_err(|_| failed(0, None))?;
        let mut outcomes = Vec::with_capacity(events.len());
        for (at, event) in events.iter().enumerate() {
            if event.malformed.is_some() {
                return Err(failed(at, None));
            }
            let applied = self.apply(&mut tx, event, true);
            match trace::follow(event.trace_context.clone(), self.span(event), applied).await {
                Ok(Try::Done(outcome)) => outcomes.push(outcome),
                Ok(Try::Exhausted) | Err(TryError::Database(_)) => return Err(failed(at, None)),
                Err(TryError::Handler(e)) => return Err(failed(at, Some(e))),
            }
        }
        tx.commit().await.map_err(|_| failed(events.len(), None))?;
        Ok(outcomes
            .into_iter()
            .zip(events)
            .map(|(outcome, event)| self.finish(outcome, event))
            .collect())
    }

    /// The span of handling `event` (when traces are exported): a child of the producer's `publish` span.
    fn span(&self, event: &IncomingEvent) -> tracing::Span {
        if !trace::exporting() {
            return tracing::Span::none();
        }
        tracing::info_span!(
            "consume",
            otel.name = format!("{} process", event.routing_key),
            otel.kind = "consumer",
            consumer = self.consumer(),
            messaging.message.id = %event.id,
            messaging.destination.name = %event.exchange,
            messaging.rabbitmq.destination.routing_key = %event.routing_key,
        )
    }

    /// The inbox steps for `event` inside `tx`, without committing: record it (a duplicate stops here), check
    /// its aggregate version (a stale one is marked and stops here), then run the handler unless `may_run` is
    /// false (no attempts left).
    async fn apply(
        &self,
        tx: &mut Tx,
        event: &IncomingEvent,
        may_run: bool,
    ) -> Result<Try, TryError> {
        let started = Instant::now();
        let consumer = self.consumer();
        let db = TryError::Database;
        let now = self.now().as_microsecond();
        let fresh = sqlx::query(
            "INSERT INTO messaging_inbox (consumer, event_id, outcome, processed_at_us) \
             VALUES ($1, $2, 'applied', $3) ON CONFLICT (consumer, event_id) DO NOTHING",
        )
        .bind(consumer)
        .bind(&event.id)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(|e| db(e.into()))?
        .rows_affected();
        if fresh == 0 {
            return Ok(Try::Done(Outcome::Duplicate));
        }
        if let Some(agg) = &event.aggregate
            && let Some(version) = agg.version
        {
            // Newer or equal (one change may emit several events) moves on; older is stale.
            let current = sqlx::query(
                "INSERT INTO messaging_inbox_aggregate (consumer, aggregate_type, aggregate_id, version, updated_at_us) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (consumer, aggregate_type, aggregate_id) DO UPDATE \
                 SET version = excluded.version, updated_at_us = excluded.updated_at_us \
                 WHERE messaging_inbox_aggregate.version <= excluded.version",
            )
            .bind(self.subscription().versions_key())
            .bind(&agg.aggregate_type)
            .bind(&agg.aggregate_id)
            .bind(version)
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(|e| db(e.into()))?
            .rows_affected();
            if current == 0 {
                sqlx::query("UPDATE messaging_inbox SET outcome = 'stale' WHERE consumer = $1 AND event_id = $2")
                    .bind(consumer)
                    .bind(&event.id)
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| db(e.into()))?;
                tracing::info!(consumer, event_id = %event.id, aggregate = %agg.aggregate_id, version, "stale event skipped");
                return Ok(Try::Done(Outcome::Stale));
            }
        }
        if !may_run {
            return Ok(Try::Exhausted);
        }
        let result = self.inner.handler.handle_dyn(tx, event).await;
        histogram!("pinit_inbox_handle_seconds", "consumer" => consumer.to_string())
            .record(started.elapsed().as_secs_f64());
        result.map_err(TryError::Handler)?;
        Ok(Try::Done(Outcome::Applied))
    }

    /// Counts a run that ended without acknowledgement; returns the attempts so far.
    async fn bump(&self, event: &IncomingEvent, reason: &str) -> Result<i64, DbError> {
        let now = self.now().as_microsecond();
        let attempts: i64 = sqlx::query_scalar(
            "INSERT INTO messaging_inbox_failure (consumer, event_id, exchange, routing_key, event_type, payload, \
               attempts, last_error, first_failed_at_us, last_failed_at_us) \
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $8) \
             ON CONFLICT (consumer, event_id) DO UPDATE SET attempts = messaging_inbox_failure.attempts + 1, \
               last_failed_at_us = excluded.last_failed_at_us \
             RETURNING attempts",
        )
        .bind(self.consumer())
        .bind(&event.id)
        .bind(&event.exchange)
        .bind(&event.routing_key)
        .bind(event.event_type.as_deref().unwrap_or(""))
        .bind(&event.body)
        .bind(reason)
        .bind(now)
        .fetch_one(self.inner.db.pool())
        .await?;
        Ok(attempts)
    }

    async fn record_failure(
        &self,
        event: &IncomingEvent,
        attempts: i64,
        error: &str,
    ) -> Result<(), DbError> {
        self.upsert_failure(event, attempts, error, None).await
    }

    async fn dead_letter(
        &self,
        event: &IncomingEvent,
        attempts: i64,
        error: &str,
    ) -> Result<(), DbError> {
        self.upsert_failure(
            event,
            attempts.max(1),
            error,
            Some(self.now().as_microsecond()),
        )
        .await
    }

    async fn upsert_failure(
        &self,
        event: &IncomingEvent,
        attempts: i64,
        error: &str,
        dead_at: Option<i64>,
    ) -> Result<(), DbError> {
        let now = self.now().as_microsecond();
        sqlx::query(
            "INSERT INTO messaging_inbox_failure (consumer, event_id, exchange, routing_key, event_type, payload, \
               attempts, last_error, first_failed_at_us, last_failed_at_us, dead_lettered_at_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) \
             ON CONFLICT (consumer, event_id) DO UPDATE SET attempts = excluded.attempts, \
               last_error = excluded.last_error, last_failed_at_us = excluded.last_failed_at_us, \
               dead_lettered_at_us = excluded.dead_lettered_at_us",
        )
        .bind(self.consumer())
        .bind(&event.id)
        .bind(&event.exchange)
        .bind(&event.routing_key)
        .bind(event.event_type.as_deref().unwrap_or(""))
        .bind(&event.body)
        .bind(attempts)
        .bind(truncate(error, 4000))
        .bind(now)
        .bind(dead_at)
        .execute(self.inner.db.pool())
        .await?;
        Ok(())
    }

    async fn clear_failure(&self, event: &IncomingEvent) {
        let result = sqlx::query(
            "DELETE FROM messaging_inbox_failure WHERE consumer = $1 AND event_id = $2 AND dead_lettered_at_us IS NULL",
        )
        .bind(self.consumer())
        .bind(&event.id)
        .execute(self.inner.db.pool())
        .await;
        if let Err(e) = result {
            tracing::debug!(consumer = self.consumer(), error = %e, "could not clear a failure record");
        }
    }

    /// The events this consumer dead-lettered, oldest first.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, DbError> {
        type Row = (String, String, String, String, i64, String, Option<i64>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT event_id, exchange, routing_key, payload, attempts, last_error, dead_lettered_at_us \
             FROM messaging_inbox_failure WHERE consumer = $1 AND dead_lettered_at_us IS NOT NULL \
             ORDER BY dead_lettered_at_us",
        )
        .bind(self.consumer())
        .fetch_all(self.inner.db.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(event_id, exchange, routing_key, payload, attempts, last_error, dead)| {
                    DeadLetter {
                        event_id,
                        exchange,
                        routing_key,
                        payload,
                        attempts,
                        last_error,
                        dead_lettered_at: dead.and_then(|us| Timestamp::from_microsecond(us).ok()),
                    }
                },
            )
            .collect())
    }

    /// Forgets processed event ids older than `inbox_retention` (dead letters stay until an operator acts).
    pub async fn prune(&self) -> Result<u64, DbError> {
        let retention = pinit_kernel::clock::micros(self.inner.config.inbox_retention.get());
        let before = self.now().as_microsecond().saturating_sub(retention);
        let done =
            sqlx::query("DELETE FROM messaging_inbox WHERE consumer = $1 AND processed_at_us < $2")
                .bind(self.consumer())
                .bind(before)
                .execute(self.inner.db.pool())
                .await?;
        sqlx::query(
            "DELETE FROM messaging_inbox_failure WHERE consumer = $1 AND dead_lettered_at_us IS NULL \
             AND last_failed_at_us < $2",
        )
        .bind(self.consumer())
        .bind(before)
        .execute(self.inner.db.pool())
        .await?;
        Ok(done.rows_affected())
    }
}
