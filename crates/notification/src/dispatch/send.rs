//! Sending a batch: every device of every due notification at once, at most `max_in_flight` requests in
//! flight per process, none started after the claim's send deadline.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use futures::future::join_all;
use pinit_kernel::db::DbError;
use tracing::Instrument;

use super::Dispatcher;
use crate::domain::delivery::{self, Due};
use crate::domain::{Delivery, DeviceId, MemberId, NotificationKey, SendOutcome, Subscription};
use crate::store;

impl Dispatcher {
    /// Gives each due notification its devices: the owner's subscriptions, with what earlier attempts of the
    /// same notification recorded for them.
    pub(super) async fn prepare(&self, due: &mut [Due]) -> Result<(), DbError> {
        let owners: Vec<MemberId> = due
            .iter()
            .map(|d| d.upcoming.owner_id)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let keys: Vec<&NotificationKey> = due.iter().map(|d| &d.upcoming.idempotent_key).collect();
        let (subscriptions, deliveries) = {
            let mut conn = self.app().db().conn().await?;
            (
                store::subscriptions::of_members(&mut conn, &owners).await?,
                store::deliveries::of_notifications(&mut conn, &keys).await?,
            )
        };
        let mut by_owner: HashMap<MemberId, Vec<Arc<Subscription>>> = HashMap::new();
        for s in subscriptions {
            by_owner.entry(s.member_id).or_default().push(Arc::new(s));
        }
        let mut previous: HashMap<NotificationKey, HashMap<DeviceId, Delivery>> = HashMap::new();
        for d in deliveries {
            previous
                .entry(d.idempotent_key.clone())
                .or_default()
                .insert(d.device_id.clone(), d);
        }
        for d in due.iter_mut() {
            let subscriptions = by_owner
                .get(&d.upcoming.owner_id)
                .map_or(&[][..], Vec::as_slice);
            let earlier = previous
                .remove(&d.upcoming.idempotent_key)
                .unwrap_or_default();
            d.add_devices(subscriptions, earlier);
        }
        Ok(())
    }

    /// Sends to every device that needs it, concurrently; records each result on its device (or marks the
    /// notification interrupted when the claim ran short). Returns the pushes accepted.
    pub(super) async fn send_all(&self, due: &mut [Due], claimed_at: Instant) -> usize {
        let settings = self.app().settings();
        let grace = settings.grace.get();
        let deadline = claimed_at
            + delivery::send_deadline(settings.claim_lease.get(), settings.push_timeout.get());
        let clock = &self.app().inner.clock;
        let sends = due.iter().enumerate().flat_map(|(di, d)| {
            d.devices
                .iter()
                .enumerate()
                .filter(|(_, device)| device.needs_send())
                .map(move |(vi, device)| (di, vi, Arc::clone(&device.subscription)))
        });
        let futures = sends
            .map(|(di, vi, subscription)| {
                let (message, due_at) = (Arc::clone(&due[di].message), due[di].due_at);
                async move {
                    let Ok(_permit) = self.inner.permits.acquire().await else {
                        return (di, vi, None);
                    };
                    if Instant::now() >= deadline {
                        return (di, vi, None);
                    }
                    let ttl = delivery::ttl(due_at, clock.now(), grace);
                    let send = self.inner.pusher.send(&subscription.target, &message, ttl);
                    let span = push_span(&subscription);
                    let outcome = send.instrument(span.clone()).await;
                    span.record("push.outcome", outcome.label());
                    (di, vi, Some((outcome, clock.now())))
                }
            })
            .collect::<Vec<_>>();
        let mut sent = 0;
        for (di, vi, result) in join_all(futures).await {
            let d = &mut due[di];
            match result {
                Some((outcome, at)) => {
                    let device = &d.devices[vi];
                    let kind = device.subscription.target.kind().as_str();
                    metrics::counter!("pinit_push_deliveries_total", "kind" => kind, "outcome" => outcome.label())
                        .increment(1);
                    if let SendOutcome::Sent { .. } = outcome {
                        sent += 1;
                        let late = at.duration_since(d.due_at).as_secs_f64().max(0.0);
                        metrics::histogram!("pinit_push_lateness_seconds").record(late);
                    } else {
                        tracing::info!(schedule_id = %d.upcoming.schedule_id, device = %device.subscription.device_id, kind, outcome = outcome.label(), reason = outcome.reason().unwrap_or(""), "push not delivered");
                    }
                    d.devices[vi].result = Some((outcome, at));
                }
                None => d.interrupted = true,
            }
        }
        sent
    }
}

/// The span of one push (when traces are exported): the kind of push service and the outcome, never the endpoint,
/// keys, device or member.
fn push_span(subscription: &Subscription) -> tracing::Span {
    if !pinit_kernel::trace::exporting() {
        return tracing::Span::none();
    }
    tracing::info_span!(
        "push.send",
        otel.kind = "client",
        push.kind = subscription.target.kind().as_str(),
        push.outcome = tracing::field::Empty,
    )
}
