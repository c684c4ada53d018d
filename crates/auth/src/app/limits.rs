//! Rate limiting: fixed windows counted in the database (`rate_limit`), so every replica sees the same counts
//! and a restart does not reset them. The window arithmetic is [`crate::domain::limits`]'s.

use super::{Auth, AuthError, Result};
use crate::domain::{Bucket, Window};
use crate::store;

/// How an attempt counts against its bucket's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Count {
    /// Counts the attempt, refusing it when the window already holds the limit.
    Hit,
    /// Only looks: refuses when the window already holds the limit (a username locked by failed logins).
    Peek,
    /// Only counts (a failed login), never refuses.
    Record,
}

impl Auth {
    /// The attempts a bucket allows per window (`auth.rate_limit.*`).
    fn allowance(&self, bucket: Bucket<'_>) -> u32 {
        let rl = &self.inner.settings.rate_limit;
        match bucket {
            Bucket::SignupPerIp(_) => rl.signup_per_ip,
            Bucket::LoginPerIp(_) => rl.login_per_ip,
            Bucket::LoginFailures(_) => rl.login_failures_per_username,
            Bucket::RefreshPerIp(_) => rl.refresh_per_ip,
            // App passwords reuse login's allowances (docs/adr/0016-app-passwords.md).
            Bucket::AppPasswordFailuresPerIp(_) => rl.login_per_ip,
            Bucket::AppPasswordFailures(_) => rl.login_failures_per_username,
        }
    }

    /// Applies the rate limit of `bucket` (nothing when rate limiting is off): 429 with `Retry-After` when its
    /// window is full.
    pub(super) async fn limit(&self, bucket: Bucket<'_>, mode: Count) -> Result<()> {
        let settings = &self.inner.settings.rate_limit;
        if !settings.enabled {
            return Ok(());
        }
        let window = Window::at(self.now(), settings.window.get());
        let key = bucket.key();
        let mut conn = self.inner.db.conn().await?;
        let before = match mode {
            Count::Hit => {
                store::rate_limits::add_hits(&mut conn, &key, window.start_us, 1).await? - 1
            }
            Count::Peek => store::rate_limits::hits(&mut conn, &key, window.start_us).await?,
            Count::Record => {
                store::rate_limits::add_hits(&mut conn, &key, window.start_us, 1).await?;
                return Ok(());
            }
        };
        if Window::refuses(before, self.allowance(bucket)) {
            metrics::counter!("auth_rate_limited_total").increment(1);
            return Err(AuthError::RateLimited {
                retry_after_secs: window.retry_after_secs(),
            });
        }
        Ok(())
    }
}
