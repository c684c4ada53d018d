//! The shapes an event takes: recorded by a use case, published by the relay, received by a consumer — and the
//! two things every event shares whatever its payload: where it is published ([`Channel`]) and how its
//! `occurredAt` instant is written ([`instant`]).

use jiff::Timestamp;
use pinit_kernel::trace::TraceContext;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::inbox::HandlerError;

/// Payload keys the outbox owns: it writes them into every payload it stores.
pub const IDEMPOTENT_KEY: &str = "idempotentKey";
pub const OCCURRED_AT: &str = "occurredAt";
/// Our extra payload field: the aggregate's version after the change (reference consumers ignore it).
pub const AGGREGATE_VERSION: &str = "aggregateVersion";

/// AMQP headers carrying the aggregate (our producers set them; reference producers do not).
pub const HEADER_AGGREGATE_TYPE: &str = "pinit-aggregate-type";
pub const HEADER_AGGREGATE_ID: &str = "pinit-aggregate-id";
pub const HEADER_AGGREGATE_VERSION: &str = "pinit-aggregate-version";

/// Where an event is published and which message it carries (one AsyncAPI channel). The published language
/// (`pinit-contracts`) names every channel of Pinit's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Channel {
    /// The exchange the producer publishes to.
    pub exchange: &'static str,
    /// The routing key (the channel address).
    pub routing_key: &'static str,
    /// The AsyncAPI message name of the payload (`components.messages.<name>`), sent as the AMQP `type`.
    pub message: &'static str,
}

/// JSON form of instants: RFC 3339 with offset on output (`2026-02-08T01:00:00Z`); on input any RFC 3339 /
/// ISO 8601 instant with an offset (`2026-02-08T10:00+09:00`, seconds optional), and — for messages from the
/// reference auth service, which sends a Java `LocalDateTime` — a local date-time without offset, read as UTC.
pub mod instant {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer, de};

    /// The wire text of an instant.
    pub fn format(at: Timestamp) -> String {
        at.to_string()
    }

    /// Parses the wire text of an instant (see the module docs for what is accepted).
    pub fn parse(text: &str) -> Result<Timestamp, String> {
        let text = text.trim();
        if let Ok(at) = text.parse::<Timestamp>() {
            return Ok(at);
        }
        text.parse::<jiff::civil::DateTime>()
            .ok()
            .and_then(|local| jiff::tz::TimeZone::UTC.to_timestamp(local).ok())
            .ok_or_else(|| {
                format!("`{text}` is not an RFC 3339 instant (e.g. `2026-02-08T01:00:00Z`)")
            })
    }

    pub fn serialize<S: Serializer>(at: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(at)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        parse(&text).map_err(de::Error::custom)
    }
}

/// An event a use case records into the outbox, inside its own transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingEvent {
    /// Exchange to publish to (e.g. `task.schedule.direct`).
    pub exchange: String,
    /// Routing key (e.g. `schedule.state.started`).
    pub routing_key: String,
    /// The message name, sent as the AMQP `type` (e.g. `ScheduleStateChanged`).
    pub event_type: String,
    /// What changed: the aggregate's kind (e.g. `schedule`) and id. Events of one aggregate are published
    /// in the order they were recorded.
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// The aggregate's version after this change; consumers skip events older than what they applied.
    pub aggregate_version: Option<i64>,
    /// A JSON object. The outbox sets its `idempotentKey` (the event id), `occurredAt` and
    /// `aggregateVersion` keys, replacing whatever the caller put there.
    pub payload: serde_json::Value,
    /// When the change happened.
    pub occurred_at: Timestamp,
}

impl OutgoingEvent {
    /// An event on `channel`, from a typed payload.
    ///
    /// The payload's `idempotentKey` and `occurredAt` may be left empty/any value: the outbox writes the
    /// event id and `occurred_at` there.
    pub fn new(
        channel: Channel,
        aggregate_type: impl Into<String>,
        aggregate_id: impl ToString,
        aggregate_version: i64,
        payload: &impl Serialize,
        occurred_at: Timestamp,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self {
            exchange: channel.exchange.to_string(),
            routing_key: channel.routing_key.to_string(),
            event_type: channel.message.to_string(),
            aggregate_type: aggregate_type.into(),
            aggregate_id: aggregate_id.to_string(),
            aggregate_version: Some(aggregate_version),
            payload: serde_json::to_value(payload)?,
            occurred_at,
        })
    }
}

/// A stored event on its way to the broker (an outbox row).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundMessage {
    /// The stable event id (UUIDv7): AMQP `message_id` and the payload's `idempotentKey`.
    pub event_id: String,
    pub exchange: String,
    pub routing_key: String,
    pub event_type: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub aggregate_version: Option<i64>,
    pub occurred_at: Timestamp,
    /// The JSON body, exactly as stored.
    pub payload: String,
    /// Earlier publish attempts of this row (0 on the first).
    pub attempts: i64,
    /// The W3C trace context the event was recorded in (sent as the `traceparent`/`tracestate` headers).
    pub trace_context: Option<TraceContext>,
}

/// The aggregate an incoming event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateRef {
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// Without a version there is no stale check.
    pub version: Option<i64>,
}

/// An event as a consumer's handler sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingEvent {
    /// The event id: AMQP `message_id`, else the payload's `idempotentKey`, else a UUIDv5 of the body (so a
    /// redelivery of the same reference-produced message still has the same id).
    pub id: String,
    pub exchange: String,
    pub routing_key: String,
    /// AMQP `type`, when the producer set it.
    pub event_type: Option<String>,
    pub aggregate: Option<AggregateRef>,
    /// The payload's `occurredAt`, else the AMQP `timestamp`.
    pub occurred_at: Option<Timestamp>,
    /// The parsed body (`Null` when it was not JSON; such an event is dead-lettered without running a handler).
    pub payload: serde_json::Value,
    /// The body as received.
    pub body: String,
    /// The producer's trace context (`traceparent`/`tracestate` headers): the consumer's span continues it.
    pub trace_context: Option<TraceContext>,
    pub(crate) malformed: Option<String>,
}

/// Namespace of the fallback ids derived from a message body.
const BODY_ID_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x5d1b_9a3e_0c2f_4e8b_9a71_3f26_c4e0_8d17);

/// Properties of a message as they arrive from a transport.
#[derive(Debug, Default)]
pub(crate) struct Envelope<'a> {
    pub exchange: &'a str,
    pub routing_key: &'a str,
    pub message_id: Option<&'a str>,
    pub event_type: Option<&'a str>,
    pub timestamp_secs: Option<u64>,
    pub aggregate_type: Option<String>,
    pub aggregate_id: Option<String>,
    pub aggregate_version: Option<i64>,
    pub trace_context: Option<TraceContext>,
}

impl IncomingEvent {
    /// Decodes the payload into a contract type. A payload that does not fit is a permanent failure: the
    /// event is dead-lettered, not retried.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, HandlerError> {
        serde_json::from_value(self.payload.clone()).map_err(|e| {
            HandlerError::permanent(format!(
                "payload of `{}` does not decode: {e}",
                self.routing_key
            ))
        })
    }

    pub(crate) fn from_envelope(env: Envelope<'_>, body: &[u8]) -> Self {
        let text = String::from_utf8_lossy(body).into_owned();
        let (payload, malformed) = match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(v) => (v, None),
            Err(e) => (
                serde_json::Value::Null,
                Some(format!("body is not JSON: {e}")),
            ),
        };
        let key = payload.get(IDEMPOTENT_KEY).and_then(|v| v.as_str());
        let id = match env
            .message_id
            .filter(|s| !s.is_empty())
            .or(key.filter(|s| !s.is_empty()))
        {
            Some(id) => id.to_string(),
            None => {
                let mut name = Vec::with_capacity(body.len() + 64);
                name.extend_from_slice(env.exchange.as_bytes());
                name.push(0);
                name.extend_from_slice(env.routing_key.as_bytes());
                name.push(0);
                name.extend_from_slice(body);
                uuid::Uuid::new_v5(&BODY_ID_NAMESPACE, &name).to_string()
            }
        };
        let version = env
            .aggregate_version
            .or_else(|| payload.get(AGGREGATE_VERSION).and_then(|v| v.as_i64()));
        let aggregate = match (env.aggregate_type, env.aggregate_id) {
            (Some(aggregate_type), Some(aggregate_id)) => Some(AggregateRef {
                aggregate_type,
                aggregate_id,
                version,
            }),
            _ => None,
        };
        let occurred_at = payload
            .get(OCCURRED_AT)
            .and_then(|v| v.as_str())
            .and_then(|s| instant::parse(s).ok())
            .or_else(|| {
                env.timestamp_secs
                    .and_then(|s| i64::try_from(s).ok())
                    .and_then(|s| Timestamp::from_second(s).ok())
            });
        IncomingEvent {
            id,
            exchange: env.exchange.to_string(),
            routing_key: env.routing_key.to_string(),
            event_type: env.event_type.map(str::to_string),
            aggregate,
            occurred_at,
            payload,
            body: text,
            trace_context: env.trace_context,
            malformed,
        }
    }

    /// The event as the in-process transport hands it over (no broker in between).
    pub(crate) fn from_outbound(m: &OutboundMessage) -> Self {
        Self::from_envelope(
            Envelope {
                exchange: &m.exchange,
                routing_key: &m.routing_key,
                message_id: Some(&m.event_id),
                event_type: Some(&m.event_type),
                timestamp_secs: u64::try_from(m.occurred_at.as_second()).ok(),
                aggregate_type: Some(m.aggregate_type.clone()),
                aggregate_id: Some(m.aggregate_id.clone()),
                aggregate_version: m.aggregate_version,
                trace_context: m.trace_context.clone(),
            },
            m.payload.as_bytes(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_messages_without_ids_get_a_stable_one() {
        let body = br#"{"memberId":5,"nickname":"n","occurredAt":"2025-12-15T12:34:56"}"#;
        let env = || Envelope {
            exchange: "auth.member.direct",
            routing_key: "member.created",
            ..Default::default()
        };
        let a = IncomingEvent::from_envelope(env(), body);
        let b = IncomingEvent::from_envelope(env(), body);
        assert_eq!(a.id, b.id, "a redelivery has the same id");
        assert!(
            a.aggregate.is_none(),
            "no aggregate headers → no stale check"
        );
        assert_eq!(a.occurred_at.unwrap().to_string(), "2025-12-15T12:34:56Z");
        let other = IncomingEvent::from_envelope(env(), br#"{"memberId":6}"#);
        assert_ne!(a.id, other.id);
    }

    #[test]
    fn the_payload_key_stands_in_for_a_missing_message_id() {
        let body = br#"{"scheduleId":1,"ownerId":2,"occurredAt":"2026-02-08T00:59:12.345+09:00","idempotentKey":"k-1","aggregateVersion":4}"#;
        let e = IncomingEvent::from_envelope(
            Envelope {
                exchange: "task.schedule.direct",
                routing_key: "schedule.deleted",
                aggregate_type: Some("schedule".into()),
                aggregate_id: Some("1".into()),
                ..Default::default()
            },
            body,
        );
        assert_eq!(e.id, "k-1");
        assert_eq!(e.aggregate.unwrap().version, Some(4));
        let m = IncomingEvent::from_envelope(Envelope::default(), b"not json");
        assert!(m.malformed.is_some());
    }
}
