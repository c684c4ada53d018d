//! Access tokens (RS256 JWTs, short-lived, verified anywhere with the JWKS) and refresh tokens (opaque random
//! strings, only their SHA-256 is stored; the rotation rule is [`crate::domain::refresh`], applied by
//! [`crate::app::session`]).

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jiff::Timestamp;
use pinit_kernel::jwt::{self, AccessClaims, Jwk, Jwks, JwtError, Verifier};
use pinit_kernel::keyfile::KeyFileError;
use sha2::{Digest, Sha256};

use crate::keys::{KeySet, SigningKey};

/// Signs access tokens with the key of the moment; verifies them with every key still accepted. The keys can
/// be replaced while it runs ([`TokenIssuer::reload_if_changed`]); clones share them.
#[derive(Clone)]
pub struct TokenIssuer {
    keys: Arc<RwLock<Loaded>>,
    issuer: String,
    access_ttl_secs: i64,
}

/// The keys in use, and the content of the files they came from.
struct Loaded {
    keys: Arc<KeySet>,
    files: Option<Vec<Option<Vec<u8>>>>,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("kid", &self.keys().current.kid())
            .field("issuer", &self.issuer)
            .finish()
    }
}

/// What [`TokenIssuer::reload_if_changed`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Reload {
    Unchanged,
    /// New keys are in use: the newest key's id and, during a rotation, the previous key's.
    Reloaded {
        kid: String,
        previous_kid: Option<String>,
    },
}

impl TokenIssuer {
    pub fn new(keys: KeySet, issuer: &str, access_ttl: std::time::Duration) -> Self {
        Self {
            keys: Arc::new(RwLock::new(Loaded {
                keys: Arc::new(keys),
                files: None,
            })),
            issuer: issuer.to_string(),
            access_ttl_secs: i64::try_from(access_ttl.as_secs()).unwrap_or(300),
        }
    }

    /// Loads the keys from `dir`, to be kept current with [`TokenIssuer::reload_if_changed`].
    pub fn load(
        dir: &Path,
        issuer: &str,
        access_ttl: std::time::Duration,
    ) -> Result<Self, KeyFileError> {
        let files = KeySet::files(dir);
        let issuer = Self::new(KeySet::load(dir)?, issuer, access_ttl);
        issuer.write().files = Some(files);
        Ok(issuer)
    }

    /// Takes the keys in `dir` if its files changed since they were last read (a rotation, a replaced
    /// Secret). On an error the keys in use stay.
    pub fn reload_if_changed(&self, dir: &Path) -> Result<Reload, KeyFileError> {
        let files = KeySet::files(dir);
        if self.read().files.as_ref() == Some(&files) {
            return Ok(Reload::Unchanged);
        }
        let keys = KeySet::load(dir);
        let mut loaded = self.write();
        // Remember the content even when it does not load, so that one bad copy is reported once.
        loaded.files = Some(files);
        let keys = keys?;
        let reload = Reload::Reloaded {
            kid: keys.current.kid().to_string(),
            previous_kid: keys.previous.as_ref().map(|(k, _)| k.kid().to_string()),
        };
        loaded.keys = Arc::new(keys);
        Ok(reload)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Loaded> {
        self.keys.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The keys in use.
    pub fn keys(&self) -> Arc<KeySet> {
        self.read().keys.clone()
    }

    /// A new access token for `member_id`, valid from `now`, signed by the key that signs at `now`.
    pub fn access_token(&self, member_id: i64, now: Timestamp) -> Result<String, JwtError> {
        let iat = now.as_second();
        let claims = AccessClaims {
            sub: member_id.to_string(),
            iss: self.issuer.clone(),
            iat,
            exp: iat + self.access_ttl_secs,
            roles: String::new(),
            token_type: AccessClaims::TYPE.into(),
        };
        let keys = self.keys();
        let key: &SigningKey = keys.signing(now);
        jwt::sign(&claims, key.kid(), key.private_key())
    }

    /// The member of a valid access token: signed by a key accepted at `now`.
    pub fn verify_access(&self, token: &str, now: Timestamp) -> Result<i64, JwtError> {
        let keys = self.keys();
        let verifier = keys
            .verifying(now)
            .into_iter()
            .fold(Verifier::new(&self.issuer), |v, key| {
                v.with_key(key.kid(), key.public_key())
            });
        verifier.verify_access(token, now.as_second())?.member_id()
    }

    /// The key set published at `/.well-known/jwks.json` at `now`: the signing key first, then the others
    /// still accepted.
    pub fn jwks(&self, now: Timestamp) -> Jwks {
        let keys = self.keys();
        Jwks {
            keys: keys
                .verifying(now)
                .into_iter()
                .map(|key| Jwk::from_public_key(key.kid(), &key.public_key()))
                .collect(),
        }
    }
}

/// A new refresh token: 256 random bits, base64url.
pub fn new_refresh_token() -> String {
    B64.encode(rand::random::<[u8; 32]>())
}

/// What is stored of a refresh token (or an OAuth state): its SHA-256, hex. A database leak yields nothing
/// usable.
pub fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::keys::{self, PREVIOUS_PRIVATE_FILE, PRIVATE_FILE, ROTATION_FILE};

    const ISS: &str = "https://pinit.test";
    const TTL: Duration = Duration::from_secs(300);

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    fn kids(issuer: &TokenIssuer, now: Timestamp) -> Vec<String> {
        issuer.jwks(now).keys.into_iter().map(|k| k.kid).collect()
    }

    #[test]
    fn a_rotation_on_disk_is_taken_while_running_and_old_tokens_live_until_they_expire() {
        let dir = tempfile::tempdir().unwrap();
        let (old, _) = SigningKey::load_or_generate(dir.path()).unwrap();
        let issuer = TokenIssuer::load(dir.path(), ISS, TTL).unwrap();
        assert_eq!(
            issuer.reload_if_changed(dir.path()).unwrap(),
            Reload::Unchanged
        );
        let old_token = issuer.access_token(7, at(0)).unwrap();

        let rotated = keys::rotate(dir.path(), at(1), Duration::from_secs(5), TTL, false).unwrap();
        assert_eq!(
            issuer.reload_if_changed(dir.path()).unwrap(),
            Reload::Reloaded {
                kid: rotated.kid.clone(),
                previous_kid: Some(old.kid().to_string()),
            }
        );
        assert_eq!(
            issuer.reload_if_changed(dir.path()).unwrap(),
            Reload::Unchanged
        );
        // Published at once, signing only from activeFrom.
        assert_eq!(kids(&issuer, at(2)), [old.kid(), rotated.kid.as_str()]);
        let before = issuer.access_token(7, at(5)).unwrap();
        assert_eq!(Verifier::kid_of(&before).as_deref(), Some(old.kid()));
        let after = issuer.access_token(7, at(6)).unwrap();
        assert_eq!(Verifier::kid_of(&after), Some(rotated.kid.clone()));

        // Every token verifies until it expires; the old key retires after the last one it signed.
        assert_eq!(issuer.verify_access(&old_token, at(299)), Ok(7));
        assert_eq!(issuer.verify_access(&before, at(6 + 299)), Ok(7));
        assert_eq!(issuer.verify_access(&after, at(6 + 299)), Ok(7));
        let retires = rotated.rotation.previous_retires_at;
        assert_eq!(kids(&issuer, retires), [rotated.kid.as_str()]);
        // A token the old key signed with a later expiry (a leaked key) is refused once it retired.
        let forged_claims = AccessClaims {
            sub: "7".into(),
            iss: ISS.into(),
            iat: retires.as_second(),
            exp: retires.as_second() + 300,
            roles: String::new(),
            token_type: AccessClaims::TYPE.into(),
        };
        let forged = jwt::sign(&forged_claims, old.kid(), old.private_key()).unwrap();
        assert_eq!(
            issuer.verify_access(&forged, retires),
            Err(JwtError::UnknownKey(old.kid().to_string()))
        );
    }

    /// A Kubernetes Secret volume: every file is a symlink into `..data`, itself a symlink to a timestamped
    /// directory; an update writes a new directory and swaps `..data`.
    #[cfg(unix)]
    #[test]
    fn a_secret_volume_swapping_its_symlink_is_seen() {
        use std::os::unix::fs::symlink;
        let volume = tempfile::tempdir().unwrap();
        let staging = tempfile::tempdir().unwrap();
        let publish = |version: &str| {
            let target = volume.path().join(version);
            std::fs::create_dir(&target).unwrap();
            for entry in std::fs::read_dir(staging.path()).unwrap() {
                let entry = entry.unwrap();
                std::fs::copy(entry.path(), target.join(entry.file_name())).unwrap();
                let link = volume.path().join(entry.file_name());
                if !link.exists() {
                    symlink(Path::new("..data").join(entry.file_name()), link).unwrap();
                }
            }
            let tmp = volume.path().join("..data_tmp");
            symlink(version, &tmp).unwrap();
            std::fs::rename(&tmp, volume.path().join("..data")).unwrap();
        };
        let (old, _) = SigningKey::load_or_generate(staging.path()).unwrap();
        publish("..v1");
        let issuer = TokenIssuer::load(volume.path(), ISS, TTL).unwrap();
        assert_eq!(kids(&issuer, at(0)), [old.kid()]);

        let rotated = keys::rotate(staging.path(), at(0), Duration::ZERO, TTL, false).unwrap();
        publish("..v2");
        assert!(matches!(
            issuer.reload_if_changed(volume.path()).unwrap(),
            Reload::Reloaded { .. }
        ));
        assert_eq!(kids(&issuer, at(1)), [rotated.kid.as_str(), old.kid()]);
    }

    #[test]
    fn a_broken_copy_keeps_the_keys_in_use_and_is_reported_once() {
        let dir = tempfile::tempdir().unwrap();
        let (old, _) = SigningKey::load_or_generate(dir.path()).unwrap();
        let issuer = TokenIssuer::load(dir.path(), ISS, TTL).unwrap();
        keys::rotate(dir.path(), at(0), Duration::ZERO, TTL, false).unwrap();
        std::fs::remove_file(dir.path().join(ROTATION_FILE)).unwrap();
        assert!(dir.path().join(PREVIOUS_PRIVATE_FILE).exists());
        assert!(issuer.reload_if_changed(dir.path()).is_err());
        assert_eq!(
            issuer.reload_if_changed(dir.path()).unwrap(),
            Reload::Unchanged
        );
        assert_eq!(kids(&issuer, at(1)), [old.kid()]);
        std::fs::write(dir.path().join(PRIVATE_FILE), "garbage").unwrap();
        assert!(issuer.reload_if_changed(dir.path()).is_err());
        assert_eq!(kids(&issuer, at(1)), [old.kid()]);
    }
}
