//! Account deletion: the `member.deleted` consumer (queue [`MEMBER_DELETED_QUEUE`]) erases every row of the
//! member from every notification table in the inbox transaction — pending notifications and their schedules'
//! watermarks, deliveries, outcomes, push subscriptions, quiet hours, webhook endpoints and their deliveries.
//! Idempotent: a redelivery, or the event sent again, finds nothing. Member ids are never reused, so erasing
//! late can never touch another member's rows.

use jiff::Timestamp;
use pinit_contracts::events::{MemberDeleted, channel};
use pinit_kernel::db::{Backend, Conn, DbError, LockMode, Tx};
use pinit_messaging::{ConsumerConfig, Handler, HandlerError, Inbox, IncomingEvent, Subscription};

use crate::Notifications;
use crate::domain::MemberId;
use crate::store;

/// The consumer's name (its inbox key).
pub const MEMBER_DELETED_CONSUMER: &str = "notification.member.deleted";
/// Its queue: routing key first, then the consuming context (task has its own).
pub const MEMBER_DELETED_QUEUE: &str = "member.deleted.notification";

/// `member.deleted.notification` ← `auth.member.direct` / `member.deleted`.
pub fn member_deleted_subscription() -> Subscription {
    Subscription::new(MEMBER_DELETED_CONSUMER)
        .queue(MEMBER_DELETED_QUEUE)
        .bind(channel::MEMBER_DELETED)
}

/// How many rows an erasure deleted, by table (for the log; all 0 when nothing was left).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    pub watermarks: u64,
    pub pending: u64,
    pub deliveries: u64,
    pub outcomes: u64,
    pub subscriptions: u64,
    pub quiet_hours: u64,
    pub webhook_endpoints: u64,
}

/// Deletes every row of `member` from every notification table, in the caller's transaction, and records the
/// member as erased (`erased_member`: the id and `at`) so that nothing of it is stored again. Holds the member's
/// write lock first, so a write of the member in flight either commits before (and is erased here) or sees the
/// member erased.
pub async fn erase_member(
    conn: &mut Conn,
    backend: Backend,
    member: MemberId,
    at: Timestamp,
) -> Result<Erased, DbError> {
    store::erased::hold(conn, backend, LockMode::Exclusive, member).await?;
    store::erased::record(conn, member, at).await?;
    Ok(Erased {
        // Before the rows that say which schedules are the member's.
        watermarks: store::watermarks::erase_member(conn, member).await?,
        pending: store::upcoming::erase_member(conn, member).await?,
        deliveries: store::deliveries::erase_member(conn, member).await?,
        outcomes: store::outcomes::erase_member(conn, member).await?,
        subscriptions: store::subscriptions::erase_member(conn, member).await?,
        quiet_hours: store::quiet_hours::erase_member(conn, member).await?,
        webhook_endpoints: store::webhooks::erase_member(conn, member).await?,
    })
}

/// Applies `member.deleted` in the inbox's transaction.
#[derive(Clone)]
pub struct MemberDeletedHandler {
    app: Notifications,
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
        let erased = erase_member(
            &mut *tx,
            self.app.inner.db.backend(),
            MemberId(payload.member_id),
            self.app.now(),
        )
        .await?;
        tracing::info!(member_id = payload.member_id, ?erased, "member erased");
        Ok(())
    }
}

impl Notifications {
    /// The `member.deleted` consumer with a subscription of the caller's choosing (tests use unique queue
    /// names); [`Notifications::consumers`] includes it with [`member_deleted_subscription`].
    pub fn member_deleted_consumer(
        &self,
        subscription: Subscription,
        config: &ConsumerConfig,
    ) -> Inbox {
        self.inbox(
            subscription,
            MemberDeletedHandler { app: self.clone() },
            config,
        )
    }
}
