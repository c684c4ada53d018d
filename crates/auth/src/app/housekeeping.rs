//! Housekeeping: deleting what can no longer matter (run every ten minutes by the binary).

use super::{Auth, Result};
use crate::domain::limits;
use crate::store;

impl Auth {
    /// Deletes expired OAuth states, old rate-limit windows and long-expired sessions; returns how many rows.
    pub async fn prune(&self) -> Result<u64> {
        let mut conn = self.inner.db.conn().await?;
        let now = self.now();
        let window = self.inner.settings.rate_limit.window.get();
        let states = store::oauth_states::delete_expired(&mut conn, now).await?;
        let windows =
            store::rate_limits::delete_before(&mut conn, limits::stale_before(now, window)).await?;
        let sessions = store::refresh_families::delete_expired(&mut conn, now).await?;
        Ok(states + windows + sessions)
    }
}
