//! The `member.created` consumer: provisions the member (docs/contract/task.md#provisioning) through the
//! inbox.
//!
//! The queue and binding are the reference's (`member.created.queue` bound to `auth.member.direct` with
//! `member.created`). The inbox makes redeliveries no-ops; creating the member is itself idempotent
//! (`ON CONFLICT DO NOTHING`), so a re-sent event with a new id changes nothing either. A payload that
//! does not decode, or a member id that is not positive, is dead-lettered at once (the reference
//! requeued such messages forever, docs/contract/task.md#member-provisioning). An absent or unknown
//! zone becomes `Asia/Seoul`.
//!
//! Wiring (the binary): `Inbox::new(member_created_subscription(), db, MemberCreatedHandler::new(clock),
//! consumer_config)`, then hand the inbox to an `AmqpConsumer` or subscribe it to the `InProcessBus`.

use pinit_contracts::events::{MemberCreated, channel};
use pinit_kernel::SharedClock;
use pinit_kernel::db::Tx;
use pinit_messaging::{ConsumerConfig, Handler, HandlerError, Inbox, IncomingEvent, Subscription};

use crate::app::{MemberProvisioning, TaskApp};
use crate::domain::MemberId;
use crate::store::StoreError;

/// The consumer's name (its inbox key).
pub const MEMBER_CREATED_CONSUMER: &str = "task.member.created";
/// The reference's queue name.
pub const MEMBER_CREATED_QUEUE: &str = "member.created.queue";

/// `member.created.queue` ← `auth.member.direct` / `member.created`.
pub fn member_created_subscription() -> Subscription {
    Subscription::new(MEMBER_CREATED_CONSUMER)
        .queue(MEMBER_CREATED_QUEUE)
        .bind(channel::MEMBER_CREATED)
}

/// Applies `member.created` in the inbox's transaction.
#[derive(Clone)]
pub struct MemberCreatedHandler {
    clock: SharedClock,
}

impl MemberCreatedHandler {
    pub fn new(clock: SharedClock) -> Self {
        Self { clock }
    }
}

impl Handler for MemberCreatedHandler {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        let payload: MemberCreated = event.decode()?;
        if payload.member_id <= 0 {
            return Err(HandlerError::permanent(format!(
                "member.created with member id {}",
                payload.member_id
            )));
        }
        let request = MemberProvisioning {
            member: MemberId(payload.member_id),
            nickname: payload.nickname,
            zone_id: payload.zone_id,
        };
        let created = request
            .apply(&mut *tx, self.clock.now())
            .await
            .map_err(|e| match e {
                StoreError::Db(e) => HandlerError::from(e),
                other => HandlerError::permanent(other),
            })?;
        tracing::info!(
            member_id = payload.member_id,
            created,
            zone = %request.zone(),
            "member provisioned"
        );
        Ok(())
    }
}

/// The `member.created` consumer over the app's database and clock.
pub fn member_created_inbox(app: &TaskApp, config: ConsumerConfig) -> Inbox {
    Inbox::new(
        member_created_subscription(),
        app.db().clone(),
        app.clock().clone(),
        MemberCreatedHandler::new(app.clock().clone()),
        config,
    )
}

#[cfg(test)]
mod doc_tests {
    use super::*;

    /// docs/messaging.md names the queue this context consumes from, as declared.
    #[test]
    fn the_messaging_doc_names_the_queue() {
        let doc = include_str!("../../../docs/messaging.md");
        let row = format!(
            "| `{MEMBER_CREATED_QUEUE}` | task | `auth.member.direct` / `member.created` |"
        );
        assert!(doc.contains(&row), "docs/messaging.md lacks the row {row}");
    }
}
