//! Housekeeping: subscriptions idle for `subscription_max_idle` (neither refreshed by their device nor
//! delivered to) and records older than `record_retention` are deleted, every `housekeeping_interval`.

use std::convert::Infallible;

use pinit_kernel::db::DbError;
use tokio_util::sync::CancellationToken;

use super::Notifications;
use crate::domain::earlier;
use crate::store;

impl Notifications {
    /// Prunes idle subscriptions and old records; returns how many rows went.
    pub async fn prune(&self) -> Result<u64, DbError> {
        let now = self.now();
        let s = &self.inner.settings;
        let mut conn = self.inner.db.conn().await?;
        let idle = store::subscriptions::prune_idle(
            &mut conn,
            earlier(now, s.subscription_max_idle.get()),
        )
        .await?;
        if idle > 0 {
            tracing::info!(removed = idle, "idle push subscriptions pruned");
            metrics::counter!("pinit_push_subscriptions_pruned_total").increment(idle);
        }
        let records =
            store::prune_records(&mut conn, earlier(now, s.record_retention.get())).await?;
        Ok(idle + records)
    }

    /// Runs [`Notifications::prune`] every `housekeeping_interval` until `stop`.
    pub async fn run_housekeeping(self, stop: CancellationToken) -> Result<(), Infallible> {
        let mut every = tokio::time::interval(self.inner.settings.housekeeping_interval.get());
        loop {
            tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                _ = every.tick() => {
                    if let Err(e) = self.prune().await {
                        tracing::warn!(error = %e, "notification housekeeping failed");
                    }
                }
            }
        }
    }
}
