//! Auth's events → outbox rows: the only place they are built and recorded. Auth publishes two events,
//! `member.created` (docs/contract/auth-and-gateway.md#member-created) and `member.deleted` (account deletion,
//! Pinit's addition), with the published language's payloads (`pinit_contracts::events::{MemberCreated,
//! MemberDeleted}`); the outbox writes their `idempotentKey` and `occurredAt`.

use jiff::Timestamp;
use pinit_contracts::events::{MemberCreated, MemberDeleted, channel};
use pinit_kernel::db::Tx;
use pinit_messaging::{Outbox, OutboxError, OutgoingEvent};

use crate::domain::MemberId;
use crate::store::members::NewMember;

/// The outbox row announcing a new member: aggregate `member` `id`, version 1, the member's nickname (`null`
/// when it has none) and zone.
fn member_created(
    id: MemberId,
    member: &NewMember<'_>,
) -> Result<OutgoingEvent, serde_json::Error> {
    let payload = MemberCreated {
        member_id: id.get(),
        nickname: member.nickname.map(|n| n.as_str().to_string()),
        occurred_at: member.now,
        idempotent_key: None,
        zone_id: Some(member.zone.as_str().to_string()),
    };
    OutgoingEvent::new(
        channel::MEMBER_CREATED,
        "member",
        id.get(),
        1,
        &payload,
        member.now,
    )
}

/// Records `member.created` for the member just inserted in `tx`.
pub(super) async fn record_member_created(
    outbox: &Outbox,
    tx: &mut Tx,
    id: MemberId,
    member: &NewMember<'_>,
) -> Result<(), OutboxError> {
    let event = member_created(id, member).map_err(OutboxError::from)?;
    outbox.record(tx, event).await?;
    Ok(())
}

/// The outbox row announcing a deleted member: aggregate `member` `id`, version 2 (after `member.created`'s 1).
fn member_deleted(id: MemberId, now: Timestamp) -> Result<OutgoingEvent, serde_json::Error> {
    let payload = MemberDeleted {
        member_id: id.get(),
        occurred_at: now,
        // The outbox writes the event id here.
        idempotent_key: String::new(),
    };
    OutgoingEvent::new(
        channel::MEMBER_DELETED,
        "member",
        id.get(),
        2,
        &payload,
        now,
    )
}

/// Records `member.deleted` for the member deleted in `tx`.
pub(super) async fn record_member_deleted(
    outbox: &Outbox,
    tx: &mut Tx,
    id: MemberId,
    now: Timestamp,
) -> Result<(), OutboxError> {
    let event = member_deleted(id, now).map_err(OutboxError::from)?;
    outbox.record(tx, event).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Nickname, ZoneId};

    #[test]
    fn member_created_carries_the_member_its_nickname_and_zone() {
        let zone: ZoneId = "Europe/Berlin".parse().unwrap();
        let nickname = Nickname::parse("핀잇").unwrap();
        let now = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let member = NewMember {
            username: "member1",
            password_hash: "$argon2id$…",
            nickname: Some(&nickname),
            zone: &zone,
            social_login: false,
            now,
        };
        let event = member_created(MemberId(42), &member).unwrap();
        assert_eq!(event.routing_key, channel::MEMBER_CREATED.routing_key);
        assert_eq!(event.exchange, channel::MEMBER_CREATED.exchange);
        assert_eq!(
            (event.aggregate_type.as_str(), event.aggregate_id.as_str()),
            ("member", "42")
        );
        assert_eq!(event.aggregate_version, Some(1));
        assert_eq!(event.occurred_at, now);
        assert_eq!(event.payload["memberId"], 42);
        assert_eq!(event.payload["nickname"], "핀잇");
        assert_eq!(event.payload["zoneId"], "Europe/Berlin");

        let anonymous = NewMember {
            nickname: None,
            ..member
        };
        let event = member_created(MemberId(43), &anonymous).unwrap();
        assert!(event.payload["nickname"].is_null());
    }

    #[test]
    fn member_deleted_names_the_member_on_the_member_exchange() {
        let now = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let event = member_deleted(MemberId(42), now).unwrap();
        assert_eq!(event.routing_key, channel::MEMBER_DELETED.routing_key);
        assert_eq!(event.exchange, channel::MEMBER_CREATED.exchange);
        assert_eq!(
            (event.aggregate_type.as_str(), event.aggregate_id.as_str()),
            ("member", "42")
        );
        assert_eq!(event.aggregate_version, Some(2));
        assert_eq!(event.payload["memberId"], 42);
    }
}
