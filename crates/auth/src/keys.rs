//! The RSA key pair that signs access tokens (RS256).
//!
//! Stored as PEM: the private key PKCS#8 (`BEGIN PRIVATE KEY`), the public key SubjectPublicKeyInfo
//! (`BEGIN PUBLIC KEY`) — the reference's formats, so its keys can be reused.

use std::path::{Path, PathBuf};

use pinit_kernel::keyfile::{self, KeyFileError};
use pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{PrivateKey, PublicKey};

/// File names inside the keys directory.
pub const PRIVATE_FILE: &str = "jwt-private.pem";
pub const PUBLIC_FILE: &str = "jwt-public.pem";
/// The public key of the key being rotated out: still accepted and published until removed (see
/// `docs/deploy.md`, key rotation).
pub const PREVIOUS_PUBLIC_FILE: &str = "jwt-previous-public.pem";

/// Key size for new keys.
pub const BITS: usize = 2048;

/// The token-signing key pair.
#[derive(Clone)]
pub struct SigningKey {
    private: PrivateKey,
    kid: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new random key pair.
    pub fn generate() -> Result<Self, KeyFileError> {
        let private =
            PrivateKey::new(&mut rand::rng(), BITS).map_err(|e| KeyFileError::Generate {
                what: "RSA signing key",
                reason: e.to_string(),
            })?;
        Ok(Self::from_private(private))
    }

    fn from_private(private: PrivateKey) -> Self {
        let kid = pinit_kernel::jwt::thumbprint(&private.to_public_key());
        Self { private, kid }
    }

    /// Parses a PKCS#8 PEM private key.
    pub fn from_pem(pem: &str, path: &Path) -> Result<Self, KeyFileError> {
        let private = PrivateKey::from_pkcs8_pem(pem).map_err(|e| KeyFileError::Invalid {
            what: "PKCS#8 RSA private key (BEGIN PRIVATE KEY)",
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if private.size() * 8 < BITS {
            return Err(KeyFileError::Invalid {
                what: "RSA signing key",
                path: path.to_path_buf(),
                reason: format!(
                    "{} bits is too short; RS256 needs at least {BITS}",
                    private.size() * 8
                ),
            });
        }
        Ok(Self::from_private(private))
    }

    /// The key id: the RFC 7638 JWK thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn private_key(&self) -> &PrivateKey {
        &self.private
    }

    pub fn public_key(&self) -> PublicKey {
        self.private.to_public_key()
    }

    pub fn private_pem(&self) -> Result<String, KeyFileError> {
        self.private
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|e| KeyFileError::Generate {
                what: "PEM private key",
                reason: e.to_string(),
            })
    }

    pub fn public_pem(&self) -> Result<String, KeyFileError> {
        self.public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| KeyFileError::Generate {
                what: "PEM public key",
                reason: e.to_string(),
            })
    }

    /// Writes both PEM files into `dir`.
    pub fn save(&self, dir: &Path, overwrite: bool) -> Result<Vec<PathBuf>, KeyFileError> {
        let private = dir.join(PRIVATE_FILE);
        let public = dir.join(PUBLIC_FILE);
        keyfile::write(&private, &self.private_pem()?, true, overwrite)?;
        keyfile::write(&public, &self.public_pem()?, false, overwrite)?;
        Ok(vec![private, public])
    }

    /// Loads the key pair from `dir`.
    pub fn load(dir: &Path) -> Result<Self, KeyFileError> {
        let path = dir.join(PRIVATE_FILE);
        Self::from_pem(&keyfile::read(&path, "the JWT signing key")?, &path)
    }

    /// Loads the key pair from `dir`, generating and saving one first if there is none.
    /// Returns whether a key was generated.
    pub fn load_or_generate(dir: &Path) -> Result<(Self, bool), KeyFileError> {
        if dir.join(PRIVATE_FILE).exists() {
            return Ok((Self::load(dir)?, false));
        }
        let key = Self::generate()?;
        key.save(dir, false)?;
        Ok((key, true))
    }
}

/// The previous public key, if `dir` holds one: `(kid, key)`.
pub fn load_previous(dir: &Path) -> Result<Vec<(String, PublicKey)>, KeyFileError> {
    let path = dir.join(PREVIOUS_PUBLIC_FILE);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let pem = keyfile::read(&path, "the previous JWT public key")?;
    let key = PublicKey::from_public_key_pem(&pem).map_err(|e| KeyFileError::Invalid {
        what: "SubjectPublicKeyInfo RSA public key (BEGIN PUBLIC KEY)",
        path: path.clone(),
        reason: e.to_string(),
    })?;
    Ok(vec![(pinit_kernel::jwt::thumbprint(&key), key)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_through_pem_files() {
        let dir = tempfile::tempdir().unwrap();
        let (key, generated) = SigningKey::load_or_generate(dir.path()).unwrap();
        assert!(generated);
        let (again, generated) = SigningKey::load_or_generate(dir.path()).unwrap();
        assert!(!generated, "the second call loads the saved key");
        assert_eq!(key.kid(), again.kid());
        assert_eq!(key.kid().len(), 43, "base64url of a SHA-256 digest");

        let private = std::fs::read_to_string(dir.path().join(PRIVATE_FILE)).unwrap();
        assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
        let public = std::fs::read_to_string(dir.path().join(PUBLIC_FILE)).unwrap();
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(PRIVATE_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o777,
                0o600,
                "private key readable by its owner only"
            );
        }
    }

    #[test]
    fn a_corrupt_key_file_is_explained() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(PRIVATE_FILE),
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
        )
        .unwrap();
        let err = SigningKey::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("jwt-private.pem is not a valid PKCS#8 RSA private key"),
            "{err}"
        );
    }

    #[test]
    fn existing_keys_are_not_overwritten_by_accident() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate().unwrap();
        key.save(dir.path(), false).unwrap();
        let err = key.save(dir.path(), false).unwrap_err();
        assert!(matches!(err, KeyFileError::Exists { .. }));
        key.save(dir.path(), true).unwrap();
    }
}
