//! What the relay publishes through: RabbitMQ ([`crate::amqp::AmqpTransport`]) or the in-process bus
//! ([`crate::inprocess::InProcessBus`]).

use std::time::Duration;

use futures::future::BoxFuture;

use crate::message::OutboundMessage;

/// Why a message was not taken.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PublishError {
    /// No queue is bound for this exchange and routing key, and the transport cannot settle that yet: the
    /// in-process bus before every consumer has subscribed ([`crate::InProcessBus::seal`]), or RabbitMQ
    /// returning even the copy sent to the unroutable queue. Retried.
    #[error("unroutable: no queue bound to exchange `{exchange}` with routing key `{routing_key}`")]
    Unroutable {
        exchange: String,
        routing_key: String,
    },
    /// The broker refused the message (publisher confirm `nack`).
    #[error("the broker did not accept the message (nack)")]
    Nacked,
    /// No confirm in time.
    #[error("no confirm within {0:?}")]
    Timeout(Duration),
    /// The connection or channel failed.
    #[error("broker connection: {0}")]
    Connection(String),
    /// An in-process consumer could not record the event (its database failed); retried.
    #[error("consumer `{consumer}` failed: {reason}")]
    Consumer { consumer: String, reason: String },
}

impl PublishError {
    /// A short label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            PublishError::Unroutable { .. } => "unroutable",
            PublishError::Nacked => "nack",
            PublishError::Timeout(_) => "timeout",
            PublishError::Connection(_) => "connection",
            PublishError::Consumer { .. } => "consumer",
        }
    }
}

/// How a message was taken: either way the outbox row is settled (marked published), never retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// Taken by the consumers bound to its exchange and routing key.
    Routed,
    /// No consumer subscribes to it. In-process: delivered to nobody (every subscription of the process is
    /// known). RabbitMQ: no queue is bound, so the copy the relay sent to the unroutable queue
    /// ([`crate::amqp::UNROUTABLE`]) was confirmed instead. Counted in `pinit_outbox_unrouted_total`.
    Unrouted,
}

/// Publishes outbox rows. "Ok" must mean the message is durably taken: confirmed by the broker, or — for
/// the in-process bus — committed (or dead-lettered) by every bound consumer, or known to have no consumer
/// at all ([`Published::Unrouted`]). Only then is the row marked published.
pub trait Transport: Send + Sync + 'static {
    /// A name for logs and metrics (`amqp`, `in-process`).
    fn name(&self) -> &'static str;

    /// Publishes `batch` (at most one message per aggregate) and returns one result per message, in order,
    /// within about `timeout`.
    fn publish<'a>(
        &'a self,
        batch: &'a [OutboundMessage],
        timeout: Duration,
    ) -> BoxFuture<'a, Vec<Result<Published, PublishError>>>;
}
