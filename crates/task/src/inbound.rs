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
//! The `member.deleted` consumer ([`MemberDeletedHandler`], queue [`MEMBER_DELETED_QUEUE`]) erases every row of
//! a deleted member in the inbox transaction ([`MemberErasure`]); a redelivery, or the event sent again, finds
//! nothing to erase. Member ids are never reused, so erasing late can never touch another member's rows.
//!
//! Wiring (the binary): [`member_created_inbox`] and [`member_deleted_inbox`], each handed to an
//! `AmqpConsumer` or subscribed to the `InProcessBus`.

use pinit_contracts::events::{MemberCreated, MemberDeleted, channel};
use pinit_kernel::SharedClock;
use pinit_kernel::db::{Backend, Tx};
use pinit_messaging::{ConsumerConfig, Handler, HandlerError, Inbox, IncomingEvent, Subscription};

use crate::app::members::MemberErasure;
use crate::app::{MemberProvisioning, TaskApp};
use crate::domain::MemberId;
use crate::store::StoreError;

/// The consumer's name (its inbox key).
pub const MEMBER_CREATED_CONSUMER: &str = "task.member.created";
/// The reference's queue name.
pub const MEMBER_CREATED_QUEUE: &str = "member.created.queue";

/// The member consumers' shared aggregate versions: `member.created` (version 1) and `member.deleted` (2) come on
/// two queues, and a `member.created` handled after its `member.deleted` (both queued while task was down) is
/// stale — the erased member is not provisioned again.
pub const MEMBER_VERSIONS: &str = "task.member";

/// `member.created.queue` ← `auth.member.direct` / `member.created`.
pub fn member_created_subscription() -> Subscription {
    Subscription::new(MEMBER_CREATED_CONSUMER)
        .queue(MEMBER_CREATED_QUEUE)
        .bind(channel::MEMBER_CREATED)
        .versions(MEMBER_VERSIONS)
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
            .map_err(store_error)?;
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

/// The `member.deleted` consumer's name (its inbox key).
pub const MEMBER_DELETED_CONSUMER: &str = "task.member.deleted";
/// Its queue: routing key first, then the consuming context (notification has its own).
pub const MEMBER_DELETED_QUEUE: &str = "member.deleted.task";

/// `member.deleted.task` ← `auth.member.direct` / `member.deleted`.
pub fn member_deleted_subscription() -> Subscription {
    Subscription::new(MEMBER_DELETED_CONSUMER)
        .queue(MEMBER_DELETED_QUEUE)
        .bind(channel::MEMBER_DELETED)
        .versions(MEMBER_VERSIONS)
}

/// Applies `member.deleted` in the inbox's transaction: erases the member.
#[derive(Clone)]
pub struct MemberDeletedHandler {
    backend: Backend,
}

impl MemberDeletedHandler {
    pub fn new(backend: Backend) -> Self {
        Self { backend }
    }
}

impl Handler for MemberDeletedHandler {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        let payload: MemberDeleted = event.decode()?;
        if payload.member_id <= 0 {
            return Err(HandlerError::permanent(format!(
                "member.deleted with member id {}",
                payload.member_id
            )));
        }
        let erasure = MemberErasure {
            member: MemberId(payload.member_id),
            at: event.occurred_at.unwrap_or_else(jiff::Timestamp::now),
        };
        let erased = erasure
            .apply(&mut *tx, self.backend)
            .await
            .map_err(store_error)?;
        tracing::info!(member_id = payload.member_id, ?erased, "member erased");
        Ok(())
    }
}

/// A database error may pass (retried); anything else will not (dead-lettered).
fn store_error(e: StoreError) -> HandlerError {
    match e {
        StoreError::Db(e) => HandlerError::from(e),
        other => HandlerError::permanent(other),
    }
}

/// The `member.deleted` consumer over the app's database.
pub fn member_deleted_inbox(app: &TaskApp, config: ConsumerConfig) -> Inbox {
    Inbox::new(
        member_deleted_subscription(),
        app.db().clone(),
        app.clock().clone(),
        MemberDeletedHandler::new(app.db().backend()),
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
        let row = format!(
            "| `{MEMBER_DELETED_QUEUE}` | task | `auth.member.direct` / `member.deleted` |"
        );
        assert!(doc.contains(&row), "docs/messaging.md lacks the row {row}");
    }
}
