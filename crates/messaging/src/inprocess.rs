//! The in-process transport for `pinit serve`: every context in one process, each with its own SQLite file.
//!
//! Publishing hands the event straight to every subscribed consumer's [`Inbox`] and returns only when each
//! has committed it (or dead-lettered it), so the producer's outbox row is marked published only once the
//! delivery is durable. A crash in between re-publishes after restart and the inbox drops the duplicate:
//! the same at-least-once + inbox semantics as RabbitMQ.
//!
//! An event no consumer subscribes to is unroutable and waits in the outbox until the composition has
//! subscribed every consumer of the process and said so with [`InProcessBus::seal`]. From then on such an
//! event is delivered to nobody: [`Published::Unrouted`], and the relay marks its row published at once.
//!
//! Dead letters are rows of the consumer's `messaging_inbox_failure` table (`dead_lettered_at_us` set),
//! logged at ERROR and counted in `pinit_inbox_events_total{outcome="dead_lettered"}`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::inbox::Inbox;
use crate::message::{IncomingEvent, OutboundMessage};
use crate::transport::{PublishError, Published, Transport};

type Routes = HashMap<(String, String), Vec<Inbox>>;

/// Routes published events to the subscribed consumers of this process.
#[derive(Clone, Default)]
pub struct InProcessBus {
    routes: Arc<RwLock<Routes>>,
    /// Every consumer of the process has subscribed: a route without one has none.
    sealed: Arc<AtomicBool>,
    stop: CancellationToken,
}

impl InProcessBus {
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds `inbox` to every exchange + routing key of its subscription. Subscribe every consumer, then
    /// [`seal`](Self::seal) the bus; until then an event without a subscriber waits in the outbox.
    pub fn subscribe(&self, inbox: Inbox) {
        let mut routes = self.routes.write().unwrap_or_else(|p| p.into_inner());
        for b in &inbox.subscription().bindings {
            let key = (b.exchange.clone(), b.routing_key.clone());
            let list = routes.entry(key).or_default();
            if !list.iter().any(|i| i.consumer() == inbox.consumer()) {
                list.push(inbox.clone());
            }
        }
    }

    /// Declares that every consumer of this process has subscribed: from now on an event with no
    /// subscriber is delivered to nobody ([`Published::Unrouted`]) instead of waiting in the outbox. Call it
    /// once the composition has subscribed all its consumers; a consumer subscribed later misses what was
    /// published to nobody before.
    pub fn seal(&self) {
        self.sealed.store(true, Ordering::Release);
    }

    /// A bus whose consumers stop waiting between retries once `stop` is cancelled (pass the lifecycle's
    /// consumer-phase token).
    pub fn with_stop(stop: CancellationToken) -> Self {
        Self {
            stop,
            ..Self::default()
        }
    }

    fn targets(&self, m: &OutboundMessage) -> Vec<Inbox> {
        let routes = self.routes.read().unwrap_or_else(|p| p.into_inner());
        routes
            .get(&(m.exchange.clone(), m.routing_key.clone()))
            .cloned()
            .unwrap_or_default()
    }

    async fn deliver(&self, m: &OutboundMessage) -> Result<Published, PublishError> {
        let targets = self.targets(m);
        if targets.is_empty() {
            if self.sealed.load(Ordering::Acquire) {
                return Ok(Published::Unrouted);
            }
            return Err(PublishError::Unroutable {
                exchange: m.exchange.clone(),
                routing_key: m.routing_key.clone(),
            });
        }
        let event = IncomingEvent::from_outbound(m);
        // A row published before counts as a redelivery (bounded attempts across crashes).
        let redelivered = m.attempts > 0;
        for inbox in targets {
            inbox
                .deliver(&event, redelivered, &self.stop)
                .await
                .map_err(|e| PublishError::Consumer {
                    consumer: inbox.consumer().to_string(),
                    reason: e.to_string(),
                })?;
        }
        Ok(Published::Routed)
    }
}

impl Transport for InProcessBus {
    fn name(&self) -> &'static str {
        "in-process"
    }

    /// Delivers the batch one message after another: the consumers write to SQLite, whose single writer
    /// makes concurrent deliveries wait on each other's locks (and SQLite's busy back-off) instead of
    /// overlapping. `timeout` is not applied: "confirmed" means the consumers are done, and their retries
    /// are bounded by `max_attempts`.
    fn publish<'a>(
        &'a self,
        batch: &'a [OutboundMessage],
        _timeout: Duration,
    ) -> BoxFuture<'a, Vec<Result<Published, PublishError>>> {
        Box::pin(async move {
            let mut results = Vec::with_capacity(batch.len());
            for m in batch {
                results.push(self.deliver(m).await);
            }
            results
        })
    }
}
