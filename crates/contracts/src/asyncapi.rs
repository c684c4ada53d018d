//! Renders `docs/asyncapi.yaml` (AsyncAPI 3.0) from the payload types' field lists, so the document cannot
//! drift from the code: a test compares the file with [`document`] and checks every field list against serde.

use std::fmt::Write;

use crate::events::{
    Channel, EXTRA_FIELDS, EventPayload, Field, FieldKind, MemberCreated, MemberDeleted,
    ScheduleDeleted, ScheduleDetailsUpdated, ScheduleStateChanged, ScheduleTimeUpcomingState,
    TaskCanceled, TaskCompleted, TaskCreated, channel,
};

/// A message of the document: name, title, fields.
pub struct MessageDoc {
    pub name: &'static str,
    pub title: &'static str,
    pub fields: &'static [Field],
    pub channels: &'static [Channel],
}

fn doc<P: EventPayload>() -> MessageDoc {
    MessageDoc {
        name: P::MESSAGE,
        title: P::TITLE,
        fields: P::FIELDS,
        channels: P::CHANNELS,
    }
}

/// Every message of the published language.
pub fn messages() -> Vec<MessageDoc> {
    vec![
        doc::<MemberCreated>(),
        doc::<MemberDeleted>(),
        doc::<ScheduleTimeUpcomingState>(),
        doc::<ScheduleDeleted>(),
        doc::<ScheduleStateChanged>(),
        doc::<ScheduleDetailsUpdated>(),
        doc::<TaskCreated>(),
        doc::<TaskCompleted>(),
        doc::<TaskCanceled>(),
    ]
}

/// Which context publishes and which consumes each channel.
pub fn parties(c: Channel) -> (&'static str, &'static [&'static str]) {
    match c.exchange {
        // A deleted member's rows are erased by every context that keeps any.
        _ if c.routing_key == channel::MEMBER_DELETED.routing_key => {
            ("auth", &["task", "notification"])
        }
        e if e == channel::MEMBER_CREATED.exchange => ("auth", &["task"]),
        e if e == channel::SCHEDULE_DELETED.exchange => ("task", &["notification"]),
        // task.created and task.completed feed the notification context's webhooks.
        _ if c.routing_key == channel::TASK_CANCELED.routing_key => ("task", &[]),
        _ => ("task", &["notification"]),
    }
}

/// `schedule.state.started` → `scheduleStateStarted`.
fn camel(routing_key: &str) -> String {
    let mut out = String::new();
    for (i, part) in routing_key.split(['.', '-', '_']).enumerate() {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            if i == 0 {
                out.push(first);
            } else {
                out.extend(first.to_uppercase());
            }
            out.push_str(chars.as_str());
        }
    }
    out
}

fn pascal(routing_key: &str) -> String {
    let c = camel(routing_key);
    let mut chars = c.chars();
    match chars.next() {
        Some(f) => f.to_uppercase().chain(chars).collect(),
        None => c,
    }
}

/// A YAML single-quoted scalar.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn message_of(c: Channel) -> &'static str {
    c.message
}

/// The AsyncAPI document.
pub fn document() -> String {
    let mut y = String::new();
    let w = &mut y;
    let _ = writeln!(
        w,
        "# Generated from crates/contracts (pinit_contracts::asyncapi::document); do not edit by hand."
    );
    let _ = writeln!(
        w,
        "# Regenerate: PINIT_BLESS=1 cargo test -p pinit-contracts --test asyncapi"
    );
    let _ = writeln!(w, "asyncapi: 3.0.0");
    let _ = writeln!(w, "info:");
    let _ = writeln!(w, "  title: Pinit events over RabbitMQ");
    let _ = writeln!(w, "  version: '1.0.0'");
    let _ = writeln!(w, "  description: |");
    for line in [
        "Every event Pinit publishes and consumes. Exchanges are direct, durable, not auto-deleted; the",
        "channel address is the routing key. Messages are persistent JSON with AMQP properties",
        "message_id = idempotentKey (the stable event id), content_type = application/json,",
        "type = the message name, timestamp = occurredAt (seconds), and headers pinit-aggregate-type,",
        "pinit-aggregate-id, pinit-aggregate-version, and traceparent/tracestate (the W3C trace context",
        "the event was recorded in, when there was one). Payloads keep the reference keys; aggregateVersion",
        "is an extra field consumers must not require. Consumers deduplicate by event id and dead-letter",
        "poison messages into <queue>.dlq.",
    ] {
        let _ = writeln!(w, "    {line}");
    }
    let _ = writeln!(w, "servers:");
    let _ = writeln!(w, "  rabbitmq:");
    let _ = writeln!(w, "    host: rabbitmq:5672");
    let _ = writeln!(w, "    protocol: amqp");
    let _ = writeln!(w, "    protocolVersion: '0-9-1'");
    let _ = writeln!(w, "defaultContentType: application/json");

    let _ = writeln!(w, "channels:");
    for c in channel::ALL {
        let _ = writeln!(w, "  {}:", c.routing_key);
        let _ = writeln!(w, "    address: {}", c.routing_key);
        let _ = writeln!(w, "    messages:");
        let _ = writeln!(w, "      {}:", camel(c.routing_key));
        let _ = writeln!(w, "        $ref: '#/components/messages/{}'", message_of(c));
        let _ = writeln!(w, "    bindings:");
        let _ = writeln!(w, "      amqp:");
        let _ = writeln!(w, "        is: routingKey");
        let _ = writeln!(w, "        exchange:");
        let _ = writeln!(w, "          name: {}", c.exchange);
        let _ = writeln!(w, "          type: direct");
        let _ = writeln!(w, "          durable: true");
        let _ = writeln!(w, "          autoDelete: false");
    }

    let _ = writeln!(w, "operations:");
    for c in channel::ALL {
        let (producer, consumers) = parties(c);
        let mut ops = vec![("publish", "send", producer)];
        ops.extend(consumers.iter().map(|c| ("subscribe", "receive", *c)));
        // A channel several contexts consume has one operation per context (`subscribeMemberDeletedTask`).
        let several = consumers.len() > 1;
        for (verb, action, context) in ops {
            let whose = if verb == "subscribe" && several {
                pascal(context)
            } else {
                String::new()
            };
            let _ = writeln!(w, "  {verb}{}{whose}:", pascal(c.routing_key));
            let _ = writeln!(w, "    action: {action}");
            let _ = writeln!(w, "    x-pinit-context: {context}");
            let _ = writeln!(w, "    channel:");
            let _ = writeln!(w, "      $ref: '#/channels/{}'", c.routing_key);
            let _ = writeln!(w, "    messages:");
            let _ = writeln!(
                w,
                "      - $ref: '#/channels/{}/messages/{}'",
                c.routing_key,
                camel(c.routing_key)
            );
        }
    }

    let _ = writeln!(w, "components:");
    let _ = writeln!(w, "  messages:");
    for m in messages() {
        let _ = writeln!(w, "    {}:", m.name);
        let _ = writeln!(w, "      name: {}", m.name);
        let _ = writeln!(w, "      title: {}", quoted(m.title));
        let _ = writeln!(w, "      contentType: application/json");
        let _ = writeln!(w, "      bindings:");
        let _ = writeln!(w, "        amqp:");
        let _ = writeln!(w, "          messageType: {}", m.name);
        let _ = writeln!(w, "      payload:");
        let _ = writeln!(w, "        type: object");
        let _ = writeln!(w, "        properties:");
        for f in m.fields.iter().chain(EXTRA_FIELDS) {
            let _ = writeln!(w, "          {}:", f.name);
            let ty = match f.kind {
                FieldKind::Int64 => "integer",
                FieldKind::String | FieldKind::DateTime | FieldKind::Enum(_) => "string",
                FieldKind::Durations | FieldKind::EnumList(_) => "array",
            };
            if f.nullable {
                let _ = writeln!(w, "            type: [{ty}, 'null']");
            } else {
                let _ = writeln!(w, "            type: {ty}");
            }
            match f.kind {
                FieldKind::Int64 => {
                    let _ = writeln!(w, "            format: int64");
                }
                FieldKind::DateTime => {
                    let _ = writeln!(w, "            format: date-time");
                }
                FieldKind::Enum(values) => {
                    let _ = writeln!(w, "            enum: [{}]", values.join(", "));
                }
                FieldKind::Durations => {
                    let _ = writeln!(w, "            items:");
                    let _ = writeln!(w, "              type: string");
                    let _ = writeln!(w, "              format: duration");
                    let _ = writeln!(w, "            maxItems: 5");
                }
                FieldKind::EnumList(values) => {
                    let _ = writeln!(w, "            items:");
                    let _ = writeln!(w, "              type: string");
                    let _ = writeln!(w, "              enum: [{}]", values.join(", "));
                    let _ = writeln!(w, "            uniqueItems: true");
                }
                FieldKind::String => {}
            }
            let _ = writeln!(w, "            description: {}", quoted(f.description));
        }
        let required: Vec<&str> = m
            .fields
            .iter()
            .filter(|f| f.required)
            .map(|f| f.name)
            .collect();
        let _ = writeln!(w, "        required: [{}]", required.join(", "));
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_reference() {
        assert_eq!(
            camel("schedule.time.upcoming.updated"),
            "scheduleTimeUpcomingUpdated"
        );
        assert_eq!(pascal("schedule.state.started"), "ScheduleStateStarted");
        let d = document();
        assert!(d.contains("  publishScheduleStateCanceled:\n    action: send"));
        assert!(
            d.contains("  subscribeMemberCreated:\n    action: receive\n    x-pinit-context: task")
        );
        for context in ["Task", "Notification"] {
            assert!(
                d.contains(&format!(
                    "  subscribeMemberDeleted{context}:\n    action: receive"
                )),
                "member.deleted is consumed by task and notification"
            );
        }
        assert!(d.contains(
            "  subscribeTaskCompleted:\n    action: receive\n    x-pinit-context: notification"
        ));
        assert!(
            !d.contains("subscribeTaskCanceled"),
            "nobody consumes task.canceled"
        );
    }
}
