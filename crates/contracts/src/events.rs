//! Event payloads and broker topology: the published language of Pinit's events.
//!
//! Names and JSON shapes follow the reference's AsyncAPI documents exactly (summarised in
//! docs/contract/task.md#events and docs/contract/auth-and-gateway.md#member-created): camelCase keys,
//! `occurredAt` an RFC 3339 instant with offset, `idempotentKey` the stable event id.
//! Producers may add fields (our outbox adds `aggregateVersion`); consumers ignore fields they do not know, so
//! a payload type here never rejects a reference-produced message for carrying extra keys.
//!
//! Exchanges are `direct`, durable, not auto-deleted; the routing key is the AsyncAPI channel address.

use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Exchange names (`{context}.{domain}.{type}`), declared by their producer.
pub mod exchange {
    /// auth's member events.
    pub const AUTH_MEMBER: &str = "auth.member.direct";
    /// task's schedule events.
    pub const TASK_SCHEDULE: &str = "task.schedule.direct";
    /// task's task events.
    pub const TASK_TASK: &str = "task.task.direct";
    /// Every exchange of the published language.
    pub const ALL: [&str; 3] = [AUTH_MEMBER, TASK_SCHEDULE, TASK_TASK];
}

/// Routing keys (`{domain}.{event}`) = AsyncAPI channel addresses.
pub mod routing_key {
    pub const MEMBER_CREATED: &str = "member.created";
    /// Pinit's addition (not in the reference): a member deleted their account.
    pub const MEMBER_DELETED: &str = "member.deleted";
    pub const SCHEDULE_TIME_UPCOMING_UPDATED: &str = "schedule.time.upcoming.updated";
    pub const SCHEDULE_DELETED: &str = "schedule.deleted";
    pub const SCHEDULE_STATE_STARTED: &str = "schedule.state.started";
    pub const SCHEDULE_STATE_CANCELED: &str = "schedule.state.canceled";
    pub const SCHEDULE_STATE_COMPLETED: &str = "schedule.state.completed";
    /// Pinit's addition (not in the reference): a schedule was paused.
    pub const SCHEDULE_STATE_SUSPENDED: &str = "schedule.state.suspended";
    /// Pinit's addition (not in the reference): a schedule's title, description, type or planned length changed
    /// (and neither its start nor its reminders, which `schedule.time.upcoming.updated` reports).
    pub const SCHEDULE_DETAILS_UPDATED: &str = "schedule.details.updated";
    /// Pinit's addition (not in the reference): a task was created.
    pub const TASK_CREATED: &str = "task.created";
    pub const TASK_COMPLETED: &str = "task.completed";
    pub const TASK_CANCELED: &str = "task.canceled";
}

/// One AsyncAPI channel: where an event is published and which message it carries. The type is the
/// messaging spine's (it publishes and binds by it); the channels themselves are named here.
pub use pinit_messaging::message::Channel;

/// Every channel of the published language, by routing key.
pub mod channel {
    use super::{Channel, exchange, routing_key};

    pub const MEMBER_CREATED: Channel = Channel {
        exchange: exchange::AUTH_MEMBER,
        routing_key: routing_key::MEMBER_CREATED,
        message: "MemberCreated",
    };
    pub const MEMBER_DELETED: Channel = Channel {
        exchange: exchange::AUTH_MEMBER,
        routing_key: routing_key::MEMBER_DELETED,
        message: "MemberDeleted",
    };
    pub const SCHEDULE_TIME_UPCOMING_UPDATED: Channel = Channel {
        exchange: exchange::TASK_SCHEDULE,
        routing_key: routing_key::SCHEDULE_TIME_UPCOMING_UPDATED,
        message: "ScheduleTimeUpcomingState",
    };
    pub const SCHEDULE_DELETED: Channel = Channel {
        exchange: exchange::TASK_SCHEDULE,
        routing_key: routing_key::SCHEDULE_DELETED,
        message: "ScheduleDeleted",
    };
    pub const SCHEDULE_STATE_STARTED: Channel = Channel {
        exchange: exchange::TASK_SCHEDULE,
        routing_key: routing_key::SCHEDULE_STATE_STARTED,
        message: "ScheduleStateChanged",
    };
    pub const SCHEDULE_STATE_CANCELED: Channel = Channel {
        exchange: exchange::TASK_SCHEDULE,
        routing_key: routing_key::SCHEDULE_STATE_CANCELED,
        message: "ScheduleStateChanged",
    };
    pub const SCHEDULE_STATE_COMPLETED: Channel = Channel {
        exchange: exchange::TASK_SCHEDULE,
        routing_key: routing_key::SCHEDULE_STATE_COMPLETED,
        message: "ScheduleStateChanged",
    };
    pub const SCHEDULE_STATE_SUSPENDED: Channel = Channel {
        exchange: exchange::TASK_SCHEDULE,
        routing_key: routing_key::SCHEDULE_STATE_SUSPENDED,
        message: "ScheduleStateChanged",
    };
    pub const SCHEDULE_DETAILS_UPDATED: Channel = Channel {
        exchange: exchange::TASK_SCHEDULE,
        routing_key: routing_key::SCHEDULE_DETAILS_UPDATED,
        message: "ScheduleDetailsUpdated",
    };
    pub const TASK_CREATED: Channel = Channel {
        exchange: exchange::TASK_TASK,
        routing_key: routing_key::TASK_CREATED,
        message: "TaskCreated",
    };
    pub const TASK_COMPLETED: Channel = Channel {
        exchange: exchange::TASK_TASK,
        routing_key: routing_key::TASK_COMPLETED,
        message: "TaskCompleted",
    };
    pub const TASK_CANCELED: Channel = Channel {
        exchange: exchange::TASK_TASK,
        routing_key: routing_key::TASK_CANCELED,
        message: "TaskCanceled",
    };

    /// All channels, in AsyncAPI document order.
    pub const ALL: [Channel; 12] = [
        MEMBER_CREATED,
        MEMBER_DELETED,
        SCHEDULE_TIME_UPCOMING_UPDATED,
        SCHEDULE_DELETED,
        SCHEDULE_STATE_STARTED,
        SCHEDULE_STATE_CANCELED,
        SCHEDULE_STATE_COMPLETED,
        SCHEDULE_STATE_SUSPENDED,
        SCHEDULE_DETAILS_UPDATED,
        TASK_CREATED,
        TASK_COMPLETED,
        TASK_CANCELED,
    ];

    /// The channel with this routing key.
    pub fn by_routing_key(key: &str) -> Option<Channel> {
        ALL.into_iter().find(|c| c.routing_key == key)
    }
}

/// A payload type of the published language.
pub trait EventPayload: Serialize + DeserializeOwned {
    /// The AsyncAPI message name.
    const MESSAGE: &'static str;
    /// A one-line description (the AsyncAPI message title).
    const TITLE: &'static str;
    /// The channels this payload travels on.
    const CHANNELS: &'static [Channel];
    /// The JSON fields, in wire order (what `docs/asyncapi.yaml` lists; a test keeps the two in step).
    const FIELDS: &'static [Field];
    /// A representative value (used by the tests that keep the schema honest).
    fn example() -> Self;
}

/// One JSON field of a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    pub nullable: bool,
    pub description: &'static str,
}

/// The JSON type of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Int64,
    String,
    /// An RFC 3339 instant with offset.
    DateTime,
    /// One of the listed strings.
    Enum(&'static [&'static str]),
    /// An array of ISO 8601 durations (`-PT10M`, `PT0S`).
    Durations,
    /// An array of the listed strings (each at most once).
    EnumList(&'static [&'static str]),
}

const fn field(name: &'static str, kind: FieldKind, description: &'static str) -> Field {
    Field {
        name,
        kind,
        required: true,
        nullable: false,
        description,
    }
}

const OWNER_ID: Field = field(
    "ownerId",
    FieldKind::Int64,
    "the member who owns the schedule or task",
);
const SCHEDULE_ID: Field = field("scheduleId", FieldKind::Int64, "the schedule");
const TASK_ID: Field = field("taskId", FieldKind::Int64, "the task");
const OCCURRED_AT: Field = field(
    "occurredAt",
    FieldKind::DateTime,
    "when the change happened (UTC)",
);
const IDEMPOTENT_KEY: Field = field(
    "idempotentKey",
    FieldKind::String,
    "the event id (UUIDv7): the same on every re-publish; consumers deduplicate by it",
);

/// Fields our producers add to every payload (the outbox writes them); consumers must not require them.
pub const EXTRA_FIELDS: &[Field] = &[Field {
    name: "aggregateVersion",
    kind: FieldKind::Int64,
    required: false,
    nullable: false,
    description: "version of the aggregate after the change; consumers skip events older than what they applied",
}];

fn example_time() -> Timestamp {
    Timestamp::from_second(1_770_512_400).unwrap_or(Timestamp::UNIX_EPOCH) // 2026-02-08T01:00:00Z
}

const EXAMPLE_KEY: &str = "019c3a5e-1f00-7000-8000-000000000001";

/// JSON form of instants (`occurredAt`): the messaging spine writes it into every payload, so its format is
/// the spine's ([`pinit_messaging::message::instant`]).
pub use pinit_messaging::message::instant;

/// `member.created` on `auth.member.direct`: a member signed up (auth → task).
///
/// The reference auth service also sends its outbox row `id` and no `idempotentKey`; both are tolerated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberCreated {
    pub member_id: i64,
    /// May be null (a social login without the nickname scope).
    pub nickname: Option<String>,
    #[serde(with = "instant")]
    pub occurred_at: Timestamp,
    /// The stable event id (our producer always sends it; the reference auth service does not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent_key: Option<String>,
    /// The member's IANA time zone (added by Pinit in Rust; the reference consumer assumed `Asia/Seoul`,
    /// which is what a consumer should still assume when it is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
}

impl EventPayload for MemberCreated {
    const MESSAGE: &'static str = "MemberCreated";
    const TITLE: &'static str = "Member created event";
    const CHANNELS: &'static [Channel] = &[channel::MEMBER_CREATED];
    const FIELDS: &'static [Field] = &[
        field("memberId", FieldKind::Int64, "the new member's id"),
        Field {
            nullable: true,
            ..field(
                "nickname",
                FieldKind::String,
                "may be null (no nickname consent)",
            )
        },
        OCCURRED_AT,
        Field {
            required: false,
            ..IDEMPOTENT_KEY
        },
        Field {
            required: false,
            ..field(
                "zoneId",
                FieldKind::String,
                "the member's IANA time zone (Pinit addition; absent from the reference: assume Asia/Seoul)",
            )
        },
    ];
    fn example() -> Self {
        MemberCreated {
            member_id: 5,
            nickname: Some("pinit".into()),
            occurred_at: example_time(),
            idempotent_key: Some(EXAMPLE_KEY.into()),
            zone_id: Some("Asia/Seoul".into()),
        }
    }
}

/// `member.deleted` on `auth.member.direct` (Pinit's addition): a member deleted their account (GDPR art. 17);
/// every context erases the member's rows in the inbox transaction that applies it. Member ids are never
/// reused, so a late or redelivered event can only erase what is already gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberDeleted {
    pub member_id: i64,
    #[serde(with = "instant")]
    pub occurred_at: Timestamp,
    pub idempotent_key: String,
}

impl EventPayload for MemberDeleted {
    const MESSAGE: &'static str = "MemberDeleted";
    const TITLE: &'static str =
        "Member deleted event (Pinit addition): erase every row of the member";
    const CHANNELS: &'static [Channel] = &[channel::MEMBER_DELETED];
    const FIELDS: &'static [Field] = &[
        field(
            "memberId",
            FieldKind::Int64,
            "the deleted member's id (never reused)",
        ),
        OCCURRED_AT,
        IDEMPOTENT_KEY,
    ];
    fn example() -> Self {
        MemberDeleted {
            member_id: 5,
            occurred_at: example_time(),
            idempotent_key: EXAMPLE_KEY.into(),
        }
    }
}

/// `schedule.time.upcoming.updated` on `task.schedule.direct`: a schedule's start time was set or moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleTimeUpcomingState {
    pub schedule_id: i64,
    pub owner_id: i64,
    #[serde(with = "instant")]
    pub new_upcoming_time: Timestamp,
    #[serde(with = "instant")]
    pub occurred_at: Timestamp,
    pub idempotent_key: String,
    /// The schedule's reminders, as offsets from its start (ISO 8601 durations ≤ 0; `PT0S` is the push at
    /// start). Added by Pinit in Rust; absent from the reference, where a consumer assumes `["PT0S"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminders: Option<Vec<String>>,
}

impl EventPayload for ScheduleTimeUpcomingState {
    const MESSAGE: &'static str = "ScheduleTimeUpcomingState";
    const TITLE: &'static str = "When a schedule starts (set or moved)";
    const CHANNELS: &'static [Channel] = &[channel::SCHEDULE_TIME_UPCOMING_UPDATED];
    const FIELDS: &'static [Field] = &[
        SCHEDULE_ID,
        OWNER_ID,
        field(
            "newUpcomingTime",
            FieldKind::DateTime,
            "the schedule's start time",
        ),
        OCCURRED_AT,
        IDEMPOTENT_KEY,
        Field {
            required: false,
            ..field(
                "reminders",
                FieldKind::Durations,
                "the reminders in effect, as offsets from the start (ISO 8601 durations <= 0, PT0S = at the start; \
                 Pinit addition; absent from the reference: assume [PT0S])",
            )
        },
    ];
    fn example() -> Self {
        ScheduleTimeUpcomingState {
            schedule_id: 42,
            owner_id: 7,
            new_upcoming_time: example_time(),
            occurred_at: example_time(),
            idempotent_key: EXAMPLE_KEY.into(),
            reminders: Some(vec!["-PT10M".into(), "PT0S".into()]),
        }
    }
}

/// `schedule.deleted` on `task.schedule.direct`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleDeleted {
    pub schedule_id: i64,
    pub owner_id: i64,
    #[serde(with = "instant")]
    pub occurred_at: Timestamp,
    pub idempotent_key: String,
}

impl EventPayload for ScheduleDeleted {
    const MESSAGE: &'static str = "ScheduleDeleted";
    const TITLE: &'static str = "A schedule was deleted";
    const CHANNELS: &'static [Channel] = &[channel::SCHEDULE_DELETED];
    const FIELDS: &'static [Field] = &[SCHEDULE_ID, OWNER_ID, OCCURRED_AT, IDEMPOTENT_KEY];
    fn example() -> Self {
        ScheduleDeleted {
            schedule_id: 42,
            owner_id: 7,
            occurred_at: example_time(),
            idempotent_key: EXAMPLE_KEY.into(),
        }
    }
}

/// A schedule's state as carried in `beforeState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScheduleState {
    NotStarted,
    InProgress,
    Suspended,
    Completed,
}

/// `schedule.state.started|canceled|completed|suspended` on `task.schedule.direct`; the routing key says which
/// (`suspended`, a pause, is Pinit's addition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleStateChanged {
    pub schedule_id: i64,
    pub owner_id: i64,
    /// The state before the transition.
    pub before_state: ScheduleState,
    #[serde(with = "instant")]
    pub occurred_at: Timestamp,
    pub idempotent_key: String,
}

impl EventPayload for ScheduleStateChanged {
    const MESSAGE: &'static str = "ScheduleStateChanged";
    const TITLE: &'static str = "A schedule changed state (the routing key says to which)";
    const FIELDS: &'static [Field] = &[
        SCHEDULE_ID,
        OWNER_ID,
        field(
            "beforeState",
            FieldKind::Enum(&["NOT_STARTED", "IN_PROGRESS", "SUSPENDED", "COMPLETED"]),
            "the state before the transition",
        ),
        OCCURRED_AT,
        IDEMPOTENT_KEY,
    ];
    fn example() -> Self {
        ScheduleStateChanged {
            schedule_id: 42,
            owner_id: 7,
            before_state: ScheduleState::NotStarted,
            occurred_at: example_time(),
            idempotent_key: EXAMPLE_KEY.into(),
        }
    }
    const CHANNELS: &'static [Channel] = &[
        channel::SCHEDULE_STATE_STARTED,
        channel::SCHEDULE_STATE_CANCELED,
        channel::SCHEDULE_STATE_COMPLETED,
        channel::SCHEDULE_STATE_SUSPENDED,
    ];
}

/// `schedule.details.updated` on `task.schedule.direct` (Pinit's addition: the reference publishes nothing when only
/// a schedule's texts, type or planned length change). `changed` names what changed; a change of the start or the reminders is
/// `schedule.time.upcoming.updated` instead (one event per edit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleDetailsUpdated {
    pub schedule_id: i64,
    pub owner_id: i64,
    pub changed: Vec<String>,
    #[serde(with = "instant")]
    pub occurred_at: Timestamp,
    pub idempotent_key: String,
}

/// What `ScheduleDetailsUpdated::changed` may name.
pub const SCHEDULE_DETAILS: &[&str] = &["title", "description", "scheduleType", "plannedDuration"];

impl EventPayload for ScheduleDetailsUpdated {
    const MESSAGE: &'static str = "ScheduleDetailsUpdated";
    const TITLE: &'static str = "A schedule's title, description or type changed, and not its start or reminders (Pinit addition)";
    const CHANNELS: &'static [Channel] = &[channel::SCHEDULE_DETAILS_UPDATED];
    const FIELDS: &'static [Field] = &[
        SCHEDULE_ID,
        OWNER_ID,
        field(
            "changed",
            FieldKind::EnumList(SCHEDULE_DETAILS),
            "what changed",
        ),
        OCCURRED_AT,
        IDEMPOTENT_KEY,
    ];
    fn example() -> Self {
        ScheduleDetailsUpdated {
            schedule_id: 42,
            owner_id: 7,
            changed: vec!["title".into()],
            occurred_at: example_time(),
            idempotent_key: EXAMPLE_KEY.into(),
        }
    }
}

/// `task.created` on `task.task.direct` (Pinit's addition: the reference publishes no such event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskCreated {
    pub task_id: i64,
    pub owner_id: i64,
    #[serde(with = "instant")]
    pub occurred_at: Timestamp,
    pub idempotent_key: String,
}

impl EventPayload for TaskCreated {
    const MESSAGE: &'static str = "TaskCreated";
    const TITLE: &'static str = "A task was created (Pinit addition)";
    const CHANNELS: &'static [Channel] = &[channel::TASK_CREATED];
    const FIELDS: &'static [Field] = &[TASK_ID, OWNER_ID, OCCURRED_AT, IDEMPOTENT_KEY];
    fn example() -> Self {
        TaskCreated {
            task_id: 3,
            owner_id: 7,
            occurred_at: example_time(),
            idempotent_key: EXAMPLE_KEY.into(),
        }
    }
}

/// `task.completed` on `task.task.direct`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskCompleted {
    pub task_id: i64,
    pub owner_id: i64,
    #[serde(with = "instant")]
    pub occurred_at: Timestamp,
    pub idempotent_key: String,
}

impl EventPayload for TaskCompleted {
    const MESSAGE: &'static str = "TaskCompleted";
    const TITLE: &'static str = "A task was completed";
    const CHANNELS: &'static [Channel] = &[channel::TASK_COMPLETED];
    const FIELDS: &'static [Field] = &[TASK_ID, OWNER_ID, OCCURRED_AT, IDEMPOTENT_KEY];
    fn example() -> Self {
        TaskCompleted {
            task_id: 3,
            owner_id: 7,
            occurred_at: example_time(),
            idempotent_key: EXAMPLE_KEY.into(),
        }
    }
}

/// `task.canceled` on `task.task.direct` (also sent when a completed task is reopened).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskCanceled {
    pub task_id: i64,
    pub owner_id: i64,
    #[serde(with = "instant")]
    pub occurred_at: Timestamp,
    pub idempotent_key: String,
}

impl EventPayload for TaskCanceled {
    const MESSAGE: &'static str = "TaskCanceled";
    const TITLE: &'static str = "A task was canceled or reopened";
    const CHANNELS: &'static [Channel] = &[channel::TASK_CANCELED];
    const FIELDS: &'static [Field] = &[TASK_ID, OWNER_ID, OCCURRED_AT, IDEMPOTENT_KEY];
    fn example() -> Self {
        TaskCanceled {
            task_id: 3,
            owner_id: 7,
            occurred_at: example_time(),
            idempotent_key: EXAMPLE_KEY.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn payloads_use_the_reference_keys_and_instants_with_offset() {
        let e = ScheduleTimeUpcomingState {
            schedule_id: 42,
            owner_id: 7,
            new_upcoming_time: at("2026-02-08T01:00:00Z"),
            occurred_at: at("2026-02-07T15:59:12.345Z"),
            idempotent_key: "0190f5a8-0000-7000-8000-000000000001".into(),
            reminders: None,
        };
        // Without reminders (the reference's shape) the key is left out.
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({
                "scheduleId": 42,
                "ownerId": 7,
                "newUpcomingTime": "2026-02-08T01:00:00Z",
                "occurredAt": "2026-02-07T15:59:12.345Z",
                "idempotentKey": "0190f5a8-0000-7000-8000-000000000001"
            })
        );
        let s = ScheduleStateChanged {
            schedule_id: 1,
            owner_id: 2,
            before_state: ScheduleState::NotStarted,
            occurred_at: at("2026-02-08T01:00:00Z"),
            idempotent_key: "k".into(),
        };
        assert_eq!(
            serde_json::to_value(&s).unwrap()["beforeState"],
            "NOT_STARTED"
        );
    }

    #[test]
    fn reference_produced_messages_decode() {
        // The reference task service: client offsets, seconds omitted when zero, random keys.
        let up: ScheduleTimeUpcomingState = serde_json::from_str(
            r#"{"scheduleId":42,"ownerId":7,"newUpcomingTime":"2026-02-08T10:00+09:00",
                "occurredAt":"2026-02-08T00:59:12.345+09:00","idempotentKey":"3f0d"}"#,
        )
        .unwrap();
        assert_eq!(up.new_upcoming_time, at("2026-02-08T01:00:00Z"));
        assert_eq!(up.occurred_at, at("2026-02-07T15:59:12.345Z"));
        // The reference auth service: outbox `id`, a local date-time, no key, a null nickname.
        let m: MemberCreated = serde_json::from_str(
            r#"{"id":9,"memberId":5,"nickname":null,"occurredAt":"2025-12-15T12:34:56.123456"}"#,
        )
        .unwrap();
        assert_eq!(m.member_id, 5);
        assert_eq!(m.nickname, None);
        assert_eq!(m.occurred_at, at("2025-12-15T12:34:56.123456Z"));
        assert_eq!(m.idempotent_key, None);
        let out = serde_json::to_value(&m).unwrap();
        assert!(out.get("idempotentKey").is_none(), "{out}");
    }

    /// What the outbox publishes for a `ScheduleDeleted` (its own keys written in, `aggregateVersion` added;
    /// the messaging tests publish this body through RabbitMQ) decodes into the contract type.
    #[test]
    fn a_published_body_with_the_outbox_keys_decodes() {
        let body = json!({
            "scheduleId": 42,
            "ownerId": 7,
            "occurredAt": "2026-02-08T01:00:00.25Z",
            "idempotentKey": "019c3a5e-1f00-7000-8000-000000000001",
            "aggregateVersion": 3
        });
        let back: ScheduleDeleted = serde_json::from_value(body).unwrap();
        assert_eq!(back.idempotent_key, "019c3a5e-1f00-7000-8000-000000000001");
        assert_eq!(back.occurred_at, at("2026-02-08T01:00:00.25Z"));
        assert_eq!((back.schedule_id, back.owner_id), (42, 7));
    }

    #[test]
    fn bad_instants_are_explained() {
        let err = serde_json::from_value::<TaskCompleted>(json!({
            "taskId": 1, "ownerId": 2, "occurredAt": "yesterday", "idempotentKey": "k"
        }))
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("`yesterday` is not an RFC 3339 instant"),
            "{err}"
        );
    }

    #[test]
    fn channels_match_the_reference_topology() {
        assert_eq!(channel::ALL.len(), 12);
        for c in channel::ALL {
            assert!(exchange::ALL.contains(&c.exchange), "{c:?}");
            assert!(c.exchange.ends_with(".direct"));
        }
        assert_eq!(
            channel::by_routing_key("schedule.state.canceled")
                .unwrap()
                .exchange,
            "task.schedule.direct"
        );
        assert_eq!(
            channel::by_routing_key("task.completed").unwrap().exchange,
            "task.task.direct"
        );
        assert_eq!(channel::MEMBER_CREATED.exchange, "auth.member.direct");
        assert_eq!(
            channel::by_routing_key("member.deleted").unwrap().exchange,
            "auth.member.direct"
        );
    }
}
