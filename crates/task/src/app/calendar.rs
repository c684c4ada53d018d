//! Reading a member's schedules as a calendar (CalDAV, `crate::dav`): every item, one item, what changed
//! since a sync token, and the token itself. A token is the newest change the member's schedules have seen —
//! an update (`updated_at_us`) or a deletion (a tombstone) — in microseconds, so "what changed since" is two
//! range reads and the collection's `getctag` is the same number.

use pinit_kernel::db::Conn;

use super::{Result, TaskApp};
use crate::domain::{MemberId, ScheduleId, Window};
use crate::store;
use crate::store::members::Member;
use crate::store::schedules::StoredSchedule;

/// A sync token: the newest change seen, in microseconds (0: nothing yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SyncToken(pub i64);

/// What changed in a member's calendar after a token.
#[derive(Debug)]
pub struct Changes {
    pub changed: Vec<StoredSchedule>,
    pub deleted: Vec<ScheduleId>,
    /// The token covering these changes.
    pub token: SyncToken,
}

impl TaskApp {
    /// The member (provisioned) and their calendar's current token.
    pub async fn calendar(&self, member: MemberId) -> Result<(Member, SyncToken)> {
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        let token = token(&mut conn, member.id).await?;
        Ok((member, token))
    }

    /// Every schedule of the member starting inside `window`, soonest first.
    pub async fn calendar_items(
        &self,
        member: MemberId,
        window: Window,
    ) -> Result<Vec<StoredSchedule>> {
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        Ok(store::schedules::starting_within(&mut conn, member.id, window).await?)
    }

    /// The member's schedules among `ids` (the others are gone or not theirs).
    pub async fn calendar_items_by_id(
        &self,
        member: MemberId,
        ids: &[ScheduleId],
    ) -> Result<Vec<StoredSchedule>> {
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        let mut found = store::schedules::by_ids(&mut conn, ids).await?;
        found.retain(|s| s.schedule.owner_id() == member.id);
        Ok(found)
    }

    /// What changed after `since` (everything, from a zero token).
    pub async fn calendar_changes(&self, member: MemberId, since: SyncToken) -> Result<Changes> {
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        // Read the token first: a change landing between the reads is then reported again next time, never
        // skipped.
        let token = token(&mut conn, member.id).await?;
        let changed = store::schedules::changed_since(&mut conn, member.id, since.0).await?;
        let deleted = store::tombstones::since(&mut conn, member.id, since.0)
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .filter(|id| !changed.iter().any(|s| s.schedule.id() == *id))
            .collect();
        Ok(Changes {
            changed,
            deleted,
            token,
        })
    }
}

async fn token(conn: &mut Conn, member: MemberId) -> Result<SyncToken> {
    let updated = store::schedules::last_change(conn, member)
        .await?
        .unwrap_or(0);
    let deleted = store::tombstones::last(conn, member).await?.unwrap_or(0);
    Ok(SyncToken(updated.max(deleted)))
}
