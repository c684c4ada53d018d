//! Password hashes: argon2id for everything new; bcrypt (`$2a$`/`$2b$`/`$2y$`, the reference's) still verifies
//! and is replaced by argon2id at the member's next successful login.
//!
//! Hashing is CPU- and memory-heavy by design, so it runs on the blocking pool behind a semaphore: a burst of
//! logins queues instead of exhausting memory. An unknown username is verified against a dummy hash of the same
//! cost, so the answer takes as long as for a wrong password (no enumeration by timing).

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::settings::PasswordSettings;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    #[error("hashing failed: {0}")]
    Hash(String),
    #[error("the hashing pool is gone")]
    Pool,
}

/// What a verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Wrong password (or no such member).
    Mismatch,
    /// Right password, and the stored hash is current.
    Match,
    /// Right password, stored with an outdated scheme or cost: store this hash instead.
    MatchRehashed(String),
}

#[derive(Clone)]
pub struct Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    dummy: Arc<String>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("params", &self.params)
            .finish()
    }
}

impl Hasher {
    pub fn new(settings: &PasswordSettings) -> Result<Self, PasswordError> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|e| PasswordError::Params(e.to_string()))?;
        let dummy = hash_with(&params, "pinit-dummy-password-for-unknown-users")?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(settings.max_concurrent.max(1))),
            dummy: Arc::new(dummy),
        })
    }

    /// A new argon2id hash (PHC string).
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let params = self.params.clone();
        let password = password.to_string();
        self.blocking(move || hash_with(&params, &password)).await?
    }

    /// Verifies `password` against `stored`; `None` (unknown member) burns the same time and never matches.
    pub async fn verify(
        &self,
        password: &str,
        stored: Option<&str>,
    ) -> Result<Verdict, PasswordError> {
        let known = stored.is_some();
        let stored = stored.unwrap_or(&self.dummy).to_string();
        let password = password.to_string();
        let params = self.params.clone();
        let verdict = self
            .blocking(move || verify_with(&params, &password, &stored))
            .await??;
        Ok(if known { verdict } else { Verdict::Mismatch })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Pool)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| PasswordError::Pool)
    }
}

fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_with(params: &Params, password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    argon2(params)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

fn verify_with(params: &Params, password: &str, stored: &str) -> Result<Verdict, PasswordError> {
    if stored.starts_with("$2") {
        // The reference's bcrypt. A malformed hash never matches.
        return Ok(match bcrypt::verify(password, stored) {
            Ok(true) => Verdict::MatchRehashed(hash_with(params, password)?),
            _ => Verdict::Mismatch,
        });
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Ok(Verdict::Mismatch);
    };
    if argon2(params)
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Ok(Verdict::Mismatch);
    }
    let current = Params::try_from(&parsed).is_ok_and(|p| {
        p.m_cost() == params.m_cost()
            && p.t_cost() == params.t_cost()
            && p.p_cost() == params.p_cost()
    }) && parsed.algorithm.as_str() == "argon2id";
    Ok(if current {
        Verdict::Match
    } else {
        Verdict::MatchRehashed(hash_with(params, password)?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordSettings {
        PasswordSettings {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 2,
        }
    }

    #[tokio::test]
    async fn argon2id_round_trip() {
        let hasher = Hasher::new(&cheap()).unwrap();
        let hash = hasher.hash("correct horse").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
        assert_eq!(
            hasher.verify("correct horse", Some(&hash)).await.unwrap(),
            Verdict::Match
        );
        assert_eq!(
            hasher.verify("wrong horse", Some(&hash)).await.unwrap(),
            Verdict::Mismatch
        );
    }

    #[tokio::test]
    async fn reference_bcrypt_hashes_verify_and_are_upgraded() {
        let hasher = Hasher::new(&cheap()).unwrap();
        // Spring Security's BCryptPasswordEncoder default: $2a$, cost 10.
        let legacy = bcrypt::hash_with_result("password1234", 10)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoA);
        assert!(legacy.starts_with("$2a$10$"));
        match hasher.verify("password1234", Some(&legacy)).await.unwrap() {
            Verdict::MatchRehashed(new) => {
                assert!(new.starts_with("$argon2id$"));
                assert_eq!(
                    hasher.verify("password1234", Some(&new)).await.unwrap(),
                    Verdict::Match
                );
            }
            other => panic!("expected an upgrade, got {other:?}"),
        }
        assert_eq!(
            hasher.verify("nope", Some(&legacy)).await.unwrap(),
            Verdict::Mismatch
        );
    }

    #[tokio::test]
    async fn weaker_argon2_parameters_are_upgraded() {
        let old = Hasher::new(&cheap()).unwrap();
        let hash = old.hash("pw-123456").await.unwrap();
        let stronger = Hasher::new(&PasswordSettings {
            memory_kib: 2048,
            ..cheap()
        })
        .unwrap();
        assert!(matches!(
            stronger.verify("pw-123456", Some(&hash)).await.unwrap(),
            Verdict::MatchRehashed(h) if h.contains("m=2048")
        ));
    }

    #[tokio::test]
    async fn unknown_members_and_junk_hashes_never_match() {
        let hasher = Hasher::new(&cheap()).unwrap();
        assert_eq!(
            hasher
                .verify("pinit-dummy-password-for-unknown-users", None)
                .await
                .unwrap(),
            Verdict::Mismatch
        );
        assert_eq!(
            hasher.verify("x", Some("not a hash")).await.unwrap(),
            Verdict::Mismatch
        );
        assert_eq!(
            hasher.verify("x", Some("$2a$10$short")).await.unwrap(),
            Verdict::Mismatch
        );
    }
}
