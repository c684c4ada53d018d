//! What an operator does from the command line (`pinit user …`), on the auth database directly: list the
//! members, reset a password to a new random one (shown once), disable and enable a member. Resetting and
//! disabling end the member's sessions; a disabled member cannot log in, refresh, or use app passwords or API
//! tokens (the checks read the flag), and the access tokens it already holds expire within their lifetime.

use pinit_kernel::SharedClock;
use pinit_kernel::db::Db;

use super::{AuthError, Result};
use crate::domain::{Account, Revocation, secret};
use crate::password::Hasher;
use crate::store;

/// The operator's use cases, over the auth database.
#[derive(Clone)]
pub struct Operator {
    db: Db,
    hasher: Hasher,
    clock: SharedClock,
}

/// Random characters in a reset password: 20 × 5 bits = 100 bits, shown in groups of four.
const RESET_CHARS: usize = 20;

impl Operator {
    pub fn new(db: Db, hasher: Hasher, clock: SharedClock) -> Self {
        Self { db, hasher, clock }
    }

    /// Every member, by id.
    pub async fn accounts(&self) -> Result<Vec<Account>> {
        let mut conn = self.db.conn().await?;
        Ok(store::members::accounts(&mut conn).await?)
    }

    async fn account(&self, username: &str) -> Result<Account> {
        let mut conn = self.db.conn().await?;
        store::members::account(&mut conn, username.trim())
            .await?
            .ok_or_else(|| AuthError::NoSuchMember(username.to_string()))
    }

    /// Gives `username` a new random password and ends its sessions; returns the password (to be shown once
    /// and changed by the member after signing in).
    pub async fn reset_password(&self, username: &str) -> Result<String> {
        let account = self.account(username).await?;
        let password = secret::base32(rand::random::<[u8; RESET_CHARS]>())
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("-");
        let hash = self.hasher.hash(&password).await?;
        let mut tx = self.db.begin().await?;
        store::members::set_password_hash(&mut tx, account.id, &hash).await?;
        store::refresh_families::revoke_member(
            &mut tx,
            account.id,
            None,
            self.clock.now(),
            Revocation::PasswordReset,
        )
        .await?;
        tx.commit().await.map_err(pinit_kernel::db::DbError::from)?;
        tracing::info!(
            member_id = account.id.get(),
            "password reset by an operator"
        );
        Ok(password)
    }

    /// Disables `username` (ending its sessions) or enables it again; returns the account as it is now.
    pub async fn set_disabled(&self, username: &str, disabled: bool) -> Result<Account> {
        let account = self.account(username).await?;
        let now = pinit_kernel::clock::truncate_to_micros(self.clock.now());
        let mut tx = self.db.begin().await?;
        let at = disabled.then_some(account.disabled_at.unwrap_or(now));
        store::members::set_disabled(&mut tx, account.id, at).await?;
        if disabled {
            store::refresh_families::revoke_member(
                &mut tx,
                account.id,
                None,
                now,
                Revocation::Disabled,
            )
            .await?;
        }
        tx.commit().await.map_err(pinit_kernel::db::DbError::from)?;
        tracing::info!(
            member_id = account.id.get(),
            disabled,
            "member disabled or enabled by an operator"
        );
        Ok(Account {
            disabled_at: at,
            ..account
        })
    }
}
