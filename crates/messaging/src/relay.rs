//! The outbox relay: publishes committed outbox rows, in order per aggregate, safely beside other relays.
//!
//! A round claims rows with a lease in one short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL),
//! publishes them with no transaction open, then marks them published — or schedules a retry with
//! exponential backoff and jitter, or parks the row once it has failed `max_attempts` times (parked rows are
//! not retried and not part of the backlog; an operator re-drives them). A row no consumer subscribes to is
//! marked published at once ([`Published::Unrouted`], counted in `pinit_outbox_unrouted_total`). While rounds follow each other, that marking is written in the same
//! transaction as the next round's claim: one commit per round. Only the oldest unpublished row of an
//! aggregate is ever claimable, so an aggregate's events leave in the order they were recorded even with
//! several relays. A relay that dies mid-round leaves its claims to expire; the rows are then published again
//! (consumers drop the duplicate by event id).
//!
//! The relay wakes when its [`Outbox`] commits (in this process), on PostgreSQL `NOTIFY` (commits in other
//! processes), when a retry falls due, and at the latest every `poll_interval`. It reads time from the
//! outbox's clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics::{counter, gauge, histogram};
use pinit_kernel::Db;
use pinit_kernel::clock::micros;
use pinit_kernel::config::ConnectionUrl;
use pinit_kernel::db::DbError;
use pinit_kernel::trace;
use tokio_util::sync::CancellationToken;

use crate::config::RelayConfig;
use crate::message::OutboundMessage;
use crate::outbox::{self, NOTIFY_CHANNEL, Outbox, Settlement};
use crate::transport::{PublishError, Published, Transport};

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    pub claimed: usize,
    /// Rows marked published, `unrouted` included.
    pub published: usize,
    /// Published rows no consumer subscribes to.
    pub unrouted: usize,
    /// Rows to be retried.
    pub failed: usize,
    /// Rows that failed their last allowed attempt and are parked.
    pub parked: usize,
}

/// Publishes one database's outbox through a [`Transport`].
pub struct Relay {
    name: String,
    id: String,
    db: Db,
    transport: Arc<dyn Transport>,
    outbox: Outbox,
    config: RelayConfig,
    listen_url: Option<ConnectionUrl>,
}

impl Relay {
    /// `name` labels logs and metrics (the context: `auth`, `task`). `outbox` is the one the context's use
    /// cases record into (its commits wake this relay).
    pub fn new(
        name: impl Into<String>,
        db: Db,
        transport: Arc<dyn Transport>,
        outbox: Outbox,
        config: RelayConfig,
    ) -> Self {
        let name = name.into();
        let id = format!("{name}-{}", uuid::Uuid::new_v4().simple());
        Self {
            name,
            id,
            db,
            transport,
            outbox,
            config,
            listen_url: None,
        }
    }

    /// Also wake on PostgreSQL `NOTIFY` from commits in other processes (replicas). `url` is the same
    /// database's URL (sqlx's listener needs a connection of its own). Ignored on SQLite.
    pub fn listen_postgres(mut self, url: ConnectionUrl) -> Self {
        self.listen_url = Some(url);
        self
    }

    /// This relay's claim owner id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs until `stop` is cancelled, then keeps publishing what is pending for up to `flush_timeout`,
    /// gives back its remaining claims and returns. Database or broker trouble is logged and retried, never
    /// fatal.
    pub async fn run(self, stop: CancellationToken) -> Result<(), DbError> {
        let listener_stop = stop.child_token();
        let listener = match (&self.listen_url, outbox::listens(&self.db)) {
            (Some(url), true) => Some(tokio::spawn(pinit_kernel::db::listen(
                url.clone(),
                NOTIFY_CHANNEL,
                "outbox",
                self.outbox.signal(),
                listener_stop.clone(),
            ))),
            _ => None,
        };
        tracing::info!(relay = %self.name, id = %self.id, transport = self.transport.name(), "outbox relay started");

        let signal = self.outbox.signal();
        let mut next_housekeeping = Instant::now();
        let mut next_prune = Instant::now();
        let mut next_due: Option<Duration> = None;
        let mut errors: u32 = 0;
        // The last round's results, written with the next round's claim.
        let mut pending = Settlement::default();
        loop {
            if stop.is_cancelled() {
                break;
            }
            let mut idle = true;
            match self.step(&mut pending).await {
                Ok(round) => {
                    errors = 0;
                    // A full batch, or anything published: there may be more (the next row of each aggregate).
                    idle = round.published == 0;
                }
                Err(e) => {
                    errors = errors.saturating_add(1);
                    tracing::warn!(relay = %self.name, error = %e, "outbox round failed; retrying");
                }
            }
            // Going to sleep: write down what the last round did (failures to retry) now.
            if idle && !pending.is_empty() {
                match outbox::settle(&self.db, &pending).await {
                    Ok(()) => pending = Settlement::default(),
                    Err(e) => {
                        errors = errors.saturating_add(1);
                        tracing::warn!(relay = %self.name, error = %e, "cannot record published events; retrying");
                    }
                }
            }
            let now = Instant::now();
            if now >= next_housekeeping {
                next_due = self.refresh_metrics().await;
                next_housekeeping = now + self.config.metrics_interval.get();
            }
            if now >= next_prune {
                self.prune().await;
                next_prune = now + self.config.prune_interval.get();
            }
            if !idle {
                continue;
            }
            let mut wait = self.config.poll_interval.get();
            if errors > 0 {
                wait = wait.min(self.config.backoff.delay(errors));
            }
            if let Some(due) = next_due.take() {
                wait = wait.min(due);
            }
            tokio::select! {
                _ = signal.notified() => {}
                _ = tokio::time::sleep(wait) => { next_housekeeping = Instant::now(); }
                _ = stop.cancelled() => break,
            }
        }

        self.flush(pending).await;
        listener_stop.cancel();
        if let Some(listener) = listener {
            let _ = listener.await;
        }
        match outbox::release(&self.db, &self.id).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(relay = %self.name, rows = n, "gave back unpublished claims"),
            Err(e) => {
                tracing::warn!(relay = %self.name, error = %e, "could not give back claims; they expire with their lease")
            }
        }
        tracing::info!(relay = %self.name, "outbox relay stopped");
        Ok(())
    }

    async fn flush(&self, pending: Settlement) {
        let deadline = Instant::now() + self.config.flush_timeout.get();
        if let Err(e) = outbox::settle(&self.db, &pending).await {
            tracing::warn!(relay = %self.name, error = %e, "cannot record published events; they are published again after restart");
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match tokio::time::timeout(left, self.round()).await {
                Ok(Ok(round)) if round.published > 0 => continue,
                Ok(Ok(_)) => break,
                Ok(Err(e)) => {
                    tracing::warn!(relay = %self.name, error = %e, "flush stopped");
                    break;
                }
                Err(_) => {
                    tracing::warn!(relay = %self.name, "flush deadline passed; the rest is published after restart");
                    break;
                }
            }
        }
        let left = outbox::backlog(&self.db)
            .await
            .map(|b| b.pending)
            .unwrap_or(-1);
        if left > 0 {
            tracing::info!(relay = %self.name, pending = left, "stopping with unpublished events; they go out on the next start");
        }
    }

    /// One claim → publish → settle round.
    pub async fn round(&self) -> Result<Round, DbError> {
        let mut pending = Settlement::default();
        let round = self.step(&mut pending).await?;
        outbox::settle(&self.db, &pending).await?;
        Ok(round)
    }

    /// Writes `pending` (the previous round's results) together with this round's claim, publishes, and
    /// leaves this round's results in `pending`. On error `pending` is kept, to be written next time.
    async fn step(&self, pending: &mut Settlement) -> Result<Round, DbError> {
        let now = self.outbox.now_us();
        let lease = micros(self.config.claim_lease.get());
        let limit = i64::from(self.config.batch_size.max(1));
        let claimed = outbox::settle_and_claim(
            &self.db,
            pending,
            &self.id,
            now,
            now.saturating_add(lease),
            limit,
        )
        .await?;
        *pending = Settlement::default();
        if claimed.is_empty() {
            return Ok(Round::default());
        }
        let mut messages: Vec<_> = claimed.iter().map(|c| c.message.clone()).collect();
        let spans = self.publish_spans(&mut messages);
        let timeout = self.config.publish_timeout.get();
        let started = Instant::now();
        let results = match tokio::time::timeout(
            timeout + Duration::from_secs(1),
            self.transport.publish(&messages, timeout),
        )
        .await
        {
            Ok(results) if results.len() == messages.len() => results,
            Ok(results) => {
                tracing::error!(relay = %self.name, expected = messages.len(), got = results.len(), "transport returned the wrong number of results");
                vec![
                    Err(PublishError::Connection(
                        "transport result count mismatch".into()
                    ));
                    messages.len()
                ]
            }
            Err(_) => vec![Err(PublishError::Timeout(timeout)); messages.len()],
        };
        for (span, result) in spans.iter().zip(&results) {
            if let Err(e) = result {
                span.record("otel.status_code", "ERROR");
                span.record("error", e.reason());
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let done_at = self.outbox.now_us();

        let mut published = Vec::new();
        let mut failed = Vec::new();
        let mut parked = Vec::new();
        let mut unrouted = 0;
        for (row, result) in claimed.iter().zip(results) {
            match result {
                Ok(how) => {
                    published.push(row.seq);
                    if how == Published::Unrouted {
                        unrouted += 1;
                        counter!("pinit_outbox_unrouted_total", "relay" => self.name.clone())
                            .increment(1);
                        tracing::debug!(
                            relay = %self.name,
                            event_id = %row.message.event_id,
                            exchange = %row.message.exchange,
                            routing_key = %row.message.routing_key,
                            "no consumer subscribes to this event; settled as delivered to nobody"
                        );
                    }
                    histogram!("pinit_outbox_publish_seconds", "relay" => self.name.clone())
                        .record(elapsed);
                    let lag = (done_at - row.created_at_us).max(0) as f64 / 1e6;
                    histogram!("pinit_outbox_lag_seconds", "relay" => self.name.clone())
                        .record(lag);
                }
                Err(e) => {
                    let attempt =
                        u32::try_from(row.message.attempts.saturating_add(1)).unwrap_or(u32::MAX);
                    counter!("pinit_outbox_publish_failures_total", "relay" => self.name.clone(), "reason" => e.reason()).increment(1);
                    macro_rules! log_failure {
                        ($level:ident, $($extra:tt)*) => {
                            tracing::$level!(
                                relay = %self.name,
                                event_id = %row.message.event_id,
                                exchange = %row.message.exchange,
                                routing_key = %row.message.routing_key,
                                attempt,
                                error = %e,
                                $($extra)*
                            )
                        };
                    }
                    if attempt >= self.config.max_attempts.max(1) {
                        counter!("pinit_outbox_parked_total", "relay" => self.name.clone())
                            .increment(1);
                        log_failure!(
                            warn,
                            "publish failed relay.max_attempts times; event parked, not retried until re-driven"
                        );
                        parked.push((row.seq, e.to_string()));
                        continue;
                    }
                    let delay = self.config.backoff.delay(attempt);
                    // Every failure is counted; the log gets the first and every hundredth of a row.
                    if attempt == 1 || attempt % 100 == 0 {
                        log_failure!(warn, retry_in = ?delay, "publish failed");
                    } else {
                        log_failure!(debug, retry_in = ?delay, "publish failed");
                    }
                    failed.push((
                        row.seq,
                        done_at.saturating_add(micros(delay)),
                        e.to_string(),
                    ));
                }
            }
        }
        counter!("pinit_outbox_published_total", "relay" => self.name.clone())
            .increment(published.len() as u64);
        let round = Round {
            claimed: claimed.len(),
            published: published.len(),
            unrouted,
            failed: failed.len(),
            parked: parked.len(),
        };
        *pending = Settlement {
            published,
            failed,
            parked,
            at_us: done_at,
        };
        Ok(round)
    }

    /// When traces are exported: a `publish` span per message, continuing the trace the event was recorded in,
    /// and the message then carries that span's context to the consumer. (Not exporting: no spans, and the
    /// stored context goes on unchanged.)
    fn publish_spans(&self, messages: &mut [OutboundMessage]) -> Vec<tracing::Span> {
        if !trace::exporting() {
            return Vec::new();
        }
        messages
            .iter_mut()
            .map(|m| {
                let span = tracing::info_span!(
                    "publish",
                    otel.name = format!("{} publish", m.routing_key),
                    otel.kind = "producer",
                    otel.status_code = tracing::field::Empty,
                    error = tracing::field::Empty,
                    relay = %self.name,
                    messaging.system = self.transport.name(),
                    messaging.destination.name = %m.exchange,
                    messaging.rabbitmq.destination.routing_key = %m.routing_key,
                    messaging.message.id = %m.event_id,
                );
                trace::set_parent(&span, m.trace_context.as_ref());
                if let Some(context) = trace::context_of(&span) {
                    m.trace_context = Some(context);
                }
                span
            })
            .collect()
    }

    /// Updates the backlog gauges; returns how long until the earliest retry falls due.
    async fn refresh_metrics(&self) -> Option<Duration> {
        match outbox::backlog(&self.db).await {
            Ok(b) => {
                let now = self.outbox.now_us();
                gauge!("pinit_outbox_backlog", "relay" => self.name.clone()).set(b.pending as f64);
                gauge!("pinit_outbox_parked", "relay" => self.name.clone()).set(b.parked as f64);
                let age = b
                    .oldest_created_us
                    .map(|c| (now - c).max(0) as f64 / 1e6)
                    .unwrap_or(0.0);
                gauge!("pinit_outbox_oldest_pending_age_seconds", "relay" => self.name.clone())
                    .set(age);
                b.next_attempt_us
                    .map(|n| Duration::from_micros(u64::try_from(n - now).unwrap_or(0)))
            }
            Err(e) => {
                tracing::warn!(relay = %self.name, error = %e, "cannot read the outbox backlog");
                None
            }
        }
    }

    async fn prune(&self) {
        let before = self.outbox.now_us() - micros(self.config.retention.get());
        match outbox::prune(&self.db, before).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(relay = %self.name, rows = n, "pruned published outbox rows"),
            Err(e) => tracing::warn!(relay = %self.name, error = %e, "cannot prune the outbox"),
        }
    }
}
