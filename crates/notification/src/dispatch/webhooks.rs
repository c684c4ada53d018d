//! The webhook dispatcher: claims due deliveries (the first pending one of each (endpoint, subject), so a
//! schedule's events reach an endpoint in order), sends them at once (at most `webhooks.max_in_flight`), and
//! records each attempt: delivered; retried with backoff and jitter until `webhooks.retry_window` after the event
//! (`Retry-After` honoured when longer); given up; the endpoint disabled on `410 Gone` or after
//! `webhooks.disable_after_failures` deliveries given up in a row. The decisions are
//! [`crate::domain::webhook`]'s.
//!
//! Delivery is at least once: a process that dies mid-send leaves the delivery claimed; the claim expires and
//! the delivery is sent again, with the same `webhook-id`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use pinit_kernel::db::DbError;
use tokio_util::sync::CancellationToken;

use crate::app::Notifications;
use crate::domain::delivery::send_deadline;
use crate::domain::later;
use crate::domain::webhook::{Attempt, EndpointChange, RetryRule, settle};
use crate::push::PushSetupError;
use crate::push::webhook::{Signed, WebhookSender};
use crate::store;
use crate::store::webhooks::Claimed;

/// What one [`WebhookDispatcher::run_once`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookRound {
    pub claimed: usize,
    pub delivered: usize,
    /// Attempts that failed and will be retried.
    pub retrying: usize,
    /// Deliveries given up.
    pub failed: usize,
    /// Endpoints disabled.
    pub disabled: usize,
}

/// Sends queued webhook deliveries. Cheap to clone; run one per process ([`WebhookDispatcher::run`]).
#[derive(Clone)]
pub struct WebhookDispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    app: Notifications,
    sender: WebhookSender,
    id: String,
}

impl Notifications {
    /// The webhook dispatcher of this context.
    pub fn webhook_dispatcher(&self) -> Result<WebhookDispatcher, PushSetupError> {
        let sender = WebhookSender::new(
            self.inner.policy,
            self.inner.settings.webhooks.timeout.get(),
            self.inner.clock.clone(),
        )?;
        Ok(WebhookDispatcher {
            inner: Arc::new(Inner {
                app: self.clone(),
                sender,
                id: format!("webhooks-{}", uuid::Uuid::now_v7()),
            }),
        })
    }
}

impl WebhookDispatcher {
    fn app(&self) -> &Notifications {
        &self.inner.app
    }

    /// Claims and sends everything due now, batch after batch (tests and tools; [`WebhookDispatcher::run`] is
    /// the service loop).
    pub async fn run_once(&self) -> Result<WebhookRound, DbError> {
        let mut round = WebhookRound::default();
        loop {
            let claimed_at = Instant::now();
            let batch = self.claim().await?;
            if batch.is_empty() {
                return Ok(round);
            }
            round.claimed += batch.len();
            self.process(batch, claimed_at, &mut round).await?;
        }
    }

    /// Runs until `stop`: sends what is due, sleeps until the next due delivery (at most `safety_poll`) or a
    /// wake-up. Database trouble is logged and retried, never fatal; on `stop` the round in flight finishes.
    pub async fn run(self, stop: CancellationToken) -> Result<(), std::convert::Infallible> {
        let signal = self.app().inner.webhook_signal.clone();
        let poll = self.app().settings().safety_poll.get();
        let mut errors: u32 = 0;
        tracing::info!(dispatcher = %self.inner.id, "webhook dispatcher started");
        while !stop.is_cancelled() {
            let delay = match self.run_once().await {
                Ok(_) => {
                    errors = 0;
                    self.until_next_due().await.unwrap_or(poll).min(poll)
                }
                Err(e) => {
                    errors = errors.saturating_add(1);
                    tracing::warn!(error = %e, "webhook dispatch failed");
                    Duration::from_millis(100u64 << errors.min(6)).min(Duration::from_secs(5))
                }
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                // A delivery was queued in a transaction that commits right after: look a moment later.
                _ = signal.notified() => tokio::time::sleep(Duration::from_millis(50)).await,
                _ = tokio::time::sleep(delay) => {}
            }
        }
        tracing::info!(dispatcher = %self.inner.id, "webhook dispatcher stopped");
        Ok(())
    }

    async fn until_next_due(&self) -> Option<Duration> {
        let mut conn = self.app().db().conn().await.ok()?;
        let next = store::webhooks::next_wake(&mut conn).await.ok()??;
        let left = next.as_microsecond() - self.app().now().as_microsecond();
        // A delivery already due but blocked behind an earlier one of its subject is looked at again shortly.
        Some(
            Duration::from_micros(u64::try_from(left).unwrap_or(0)).max(Duration::from_millis(250)),
        )
    }

    async fn claim(&self) -> Result<Vec<Claimed>, DbError> {
        let s = self.app().settings();
        let db = self.app().db();
        let now = self.app().now();
        let mut tx = db.begin().await?;
        let claimed = store::webhooks::claim(
            &mut tx,
            db.backend(),
            &self.inner.id,
            now,
            later(now, s.claim_lease.get()),
            i64::from(s.webhooks.batch_size.max(1)),
        )
        .await?;
        tx.commit().await?;
        Ok(claimed)
    }

    /// Sends a claimed batch (none started after the claim's send deadline) and records every attempt in one
    /// transaction.
    async fn process(
        &self,
        batch: Vec<Claimed>,
        claimed_at: Instant,
        round: &mut WebhookRound,
    ) -> Result<(), DbError> {
        let s = self.app().settings();
        let deadline = claimed_at + send_deadline(s.claim_lease.get(), s.webhooks.timeout.get());
        let clock = &self.app().inner.clock;
        let sender = &self.inner.sender;
        let results: Vec<(Claimed, Option<Attempt>)> = futures::stream::iter(batch)
            .map(|c| async move {
                if Instant::now() >= deadline {
                    return (c, None);
                }
                let attempt = sender
                    .send(Signed {
                        url: &c.url,
                        secret: &c.secret,
                        id: &c.delivery.event_id,
                        body: &c.delivery.payload,
                    })
                    .await;
                metrics::counter!("pinit_webhook_attempts_total", "outcome" => attempt.label())
                    .increment(1);
                (c, Some(attempt))
            })
            .buffer_unordered(s.webhooks.max_in_flight.max(1))
            .collect()
            .await;
        let now = crate::domain::truncate_to_micros(clock.now());
        let rule = RetryRule {
            window: s.webhooks.retry_window.get(),
            disable_after: s.webhooks.disable_after_failures.max(1),
        };
        let backoff = |n: u32| s.webhooks.retry_backoff.delay(n);
        let mut tx = self.app().db().begin().await?;
        let owner = &self.inner.id;
        for (claimed, attempt) in results {
            let d = &claimed.delivery;
            let Some(attempt) = attempt else {
                store::webhooks::release(&mut tx, d.id, owner, now).await?;
                continue;
            };
            let attempts = u32::try_from(d.attempts).unwrap_or(u32::MAX);
            let settled = settle(&attempt, attempts, d.created_at, now, &rule, &backoff);
            if !store::webhooks::settle(&mut tx, d.id, owner, &settled, attempt.status(), now)
                .await?
            {
                continue;
            }
            match settled.state {
                crate::domain::webhook::DeliveryState::Delivered => round.delivered += 1,
                crate::domain::webhook::DeliveryState::Pending => round.retrying += 1,
                crate::domain::webhook::DeliveryState::Failed => round.failed += 1,
            }
            if !matches!(attempt, Attempt::Delivered { .. }) {
                tracing::info!(
                    endpoint_id = d.endpoint_id,
                    delivery_id = d.id,
                    event_type = d.event_type.as_str(),
                    outcome = attempt.label(),
                    error = settled.error.as_deref().unwrap_or(""),
                    "webhook not delivered"
                );
            }
            let disable = match settled.endpoint {
                EndpointChange::Succeeded => {
                    store::webhooks::reset_failures(&mut tx, d.endpoint_id, now).await?;
                    None
                }
                EndpointChange::None => None,
                EndpointChange::Disable { reason } => Some(reason),
                EndpointChange::GaveUp { disable_reason } => {
                    let failures =
                        store::webhooks::count_failure(&mut tx, d.endpoint_id, now).await?;
                    failures
                        .filter(|n| *n >= rule.disable_after)
                        .map(|_| disable_reason)
                }
            };
            if let Some(reason) = disable
                && store::webhooks::disable(&mut tx, d.endpoint_id, &reason, now).await?
            {
                round.disabled += 1;
                metrics::counter!("pinit_webhook_endpoints_disabled_total").increment(1);
                tracing::info!(
                    endpoint_id = d.endpoint_id,
                    reason,
                    "webhook endpoint disabled"
                );
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
