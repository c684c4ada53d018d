//! Settings of the relay and the consumers, embeddable in the binary's configuration as `[messaging]`.
//!
//! Every field has a default, so an empty `[messaging]` table (or none) is valid; unknown keys are refused.

use std::time::Duration;

use pinit_kernel::config::HumanDuration;
use serde::{Deserialize, Serialize};

/// `[messaging]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MessagingConfig {
    pub relay: RelayConfig,
    pub consumer: ConsumerConfig,
}

/// Exponential backoff with jitter: attempt `n` (1-based) waits about `initial × multiplier^(n-1)`, capped at
/// `max`, each delay drawn uniformly from its upper half ("equal jitter"), so retries of many rows spread out.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackoffConfig {
    pub initial: HumanDuration,
    pub max: HumanDuration,
    pub multiplier: f64,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            initial: HumanDuration::from_millis(200),
            max: HumanDuration::from_secs(60),
            multiplier: 2.0,
        }
    }
}

impl BackoffConfig {
    /// The delay before retry `attempt` (1 = the first retry), with jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        let span = ceiling.saturating_sub(half).as_nanos() as u64;
        let jitter = if span == 0 {
            0
        } else {
            random_u64() % (span + 1)
        };
        half + Duration::from_nanos(jitter)
    }

    /// The delay before retry `attempt` without jitter (the upper bound of [`BackoffConfig::delay`]).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let initial = self.initial.get().as_secs_f64();
        let max = self.max.get().max(self.initial.get());
        let multiplier = if self.multiplier.is_finite() && self.multiplier >= 1.0 {
            self.multiplier
        } else {
            1.0
        };
        let exp = attempt.saturating_sub(1).min(64) as i32;
        let secs = initial * multiplier.powi(exp);
        if !secs.is_finite() || secs >= max.as_secs_f64() {
            max
        } else {
            Duration::from_secs_f64(secs)
        }
    }
}

/// Randomness for jitter, from the OS generator `uuid` already uses.
fn random_u64() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0
}

/// The outbox relay (one per producing context and process).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelayConfig {
    /// Fallback poll when no wake-up arrives (commit signal, PostgreSQL NOTIFY).
    pub poll_interval: HumanDuration,
    /// Rows claimed per round (at most one per aggregate: the oldest unpublished).
    pub batch_size: u32,
    /// How long a claim protects rows from other relays; must exceed `publish_timeout`.
    pub claim_lease: HumanDuration,
    /// How long one publish may wait for the broker's confirm before it counts as failed.
    pub publish_timeout: HumanDuration,
    /// Backoff between failed publishes of the same row.
    pub backoff: BackoffConfig,
    /// Failed publishes of a row before it is parked (`parked_at_us` set): no longer retried, left out of
    /// the backlog, kept until an operator re-drives it (docs/messaging.md). With the default backoff
    /// (`1m` cap, equal jitter) 2000 attempts take 16–33 hours, about a day. `0` counts as `1`.
    pub max_attempts: u32,
    /// How long published rows are kept (for inspection) before they are deleted.
    pub retention: HumanDuration,
    /// How often published rows past retention are deleted.
    pub prune_interval: HumanDuration,
    /// How often backlog metrics are refreshed while idle.
    pub metrics_interval: HumanDuration,
    /// On shutdown, how long the relay keeps publishing what is pending before it stops.
    pub flush_timeout: HumanDuration,
    /// PostgreSQL: minimum time between two `NOTIFY`s sent by one context's recording transactions
    /// (`0s` = every one); given to [`crate::Outbox::new`]. The context's own relay is woken on every commit
    /// anyway; `NOTIFY` only wakes other replicas' relays, and a notifying commit takes a cluster-wide lock
    /// (ADR 0003).
    pub notify_min_interval: HumanDuration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            poll_interval: HumanDuration::from_secs(5),
            batch_size: 100,
            claim_lease: HumanDuration::from_secs(30),
            publish_timeout: HumanDuration::from_secs(10),
            backoff: BackoffConfig::default(),
            max_attempts: 2000,
            retention: HumanDuration::from_secs(24 * 3600),
            prune_interval: HumanDuration::from_secs(600),
            metrics_interval: HumanDuration::from_secs(5),
            flush_timeout: HumanDuration::from_secs(5),
            notify_min_interval: HumanDuration::from_millis(50),
        }
    }
}

/// Event consumers (inbox).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsumerConfig {
    /// Unacknowledged deliveries the broker may send ahead (AMQP `basic.qos`).
    pub prefetch: u16,
    /// Deliveries handled at once per consumer.
    pub concurrency: usize,
    /// Handler runs per event (first try included) before it is dead-lettered.
    pub max_attempts: u32,
    /// Backoff between handler runs of one event.
    pub retry_backoff: BackoffConfig,
    /// How long processed event ids are remembered for de-duplication.
    pub inbox_retention: HumanDuration,
    /// Wait before reconnecting to the broker after the connection is lost.
    pub reconnect_delay: HumanDuration,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            prefetch: 64,
            concurrency: 8,
            max_attempts: 5,
            retry_backoff: BackoffConfig {
                initial: HumanDuration::from_millis(200),
                max: HumanDuration::from_secs(5),
                multiplier: 2.0,
            },
            inbox_retention: HumanDuration::from_secs(14 * 24 * 3600),
            reconnect_delay: HumanDuration::from_secs(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_a_cap() {
        let b = BackoffConfig {
            initial: HumanDuration::from_millis(100),
            max: HumanDuration::from_secs(1),
            multiplier: 2.0,
        };
        assert_eq!(b.ceiling(1), Duration::from_millis(100));
        assert_eq!(b.ceiling(3), Duration::from_millis(400));
        assert_eq!(b.ceiling(10), Duration::from_secs(1));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(1));
        let delays: Vec<Duration> = (0..50).map(|_| b.delay(3)).collect();
        assert!(
            delays
                .iter()
                .all(|d| *d >= Duration::from_millis(200) && *d <= Duration::from_millis(400))
        );
        assert!(
            delays.iter().any(|d| *d != delays[0]),
            "jitter varies the delay"
        );
    }

    #[test]
    fn empty_config_takes_defaults_and_unknown_keys_are_refused() {
        let c: MessagingConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, MessagingConfig::default());
        let c: MessagingConfig = serde_json::from_str(
            r#"{"relay":{"poll_interval":"2s"},"consumer":{"max_attempts":3}}"#,
        )
        .unwrap();
        assert_eq!(c.relay.poll_interval.get(), Duration::from_secs(2));
        assert_eq!(c.relay.batch_size, 100);
        assert_eq!(c.relay.max_attempts, 2000);
        assert_eq!(c.consumer.max_attempts, 3);
        let err =
            serde_json::from_str::<MessagingConfig>(r#"{"relay":{"poll":"2s"}}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `poll`"), "{err}");
    }
}
