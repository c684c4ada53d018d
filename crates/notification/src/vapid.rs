//! The VAPID key pair (RFC 8292): an ECDSA P-256 key that identifies this server to push services.
//!
//! Stored as a PKCS#8 PEM file. Browsers receive the public key as the `applicationServerKey`:
//! the uncompressed point, base64url without padding.

use std::path::{Path, PathBuf};

use base64::Engine;
use p256::SecretKey;
use p256::elliptic_curve::Generate;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use pinit_kernel::keyfile::{self, KeyFileError};

pub const PRIVATE_FILE: &str = "vapid-private.pem";
/// The public key in the browser's format, written for convenience (it is derived, never read back).
pub const PUBLIC_FILE: &str = "vapid-public.txt";

#[derive(Clone)]
pub struct VapidKey {
    secret: SecretKey,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKey")
            .field("public", &self.public_key_base64url())
            .finish_non_exhaustive()
    }
}

impl VapidKey {
    pub fn generate() -> Self {
        Self {
            secret: SecretKey::generate_from_rng(&mut rand::rng()),
        }
    }

    pub fn from_pem(pem: &str, path: &Path) -> Result<Self, KeyFileError> {
        SecretKey::from_pkcs8_pem(pem)
            .map(|secret| Self { secret })
            .map_err(|e| KeyFileError::Invalid {
                what: "PKCS#8 P-256 private key (BEGIN PRIVATE KEY)",
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
    }

    pub fn secret(&self) -> &SecretKey {
        &self.secret
    }

    /// The 65-byte uncompressed public point, base64url without padding (`applicationServerKey`).
    pub fn public_key_base64url(&self) -> String {
        let point = self.secret.public_key().to_sec1_bytes();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(point)
    }

    pub fn private_pem(&self) -> Result<String, KeyFileError> {
        self.secret
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|e| KeyFileError::Generate {
                what: "PEM private key",
                reason: e.to_string(),
            })
    }

    pub fn save(&self, dir: &Path, overwrite: bool) -> Result<Vec<PathBuf>, KeyFileError> {
        let private = dir.join(PRIVATE_FILE);
        let public = dir.join(PUBLIC_FILE);
        keyfile::write(&private, &self.private_pem()?, true, overwrite)?;
        keyfile::write(
            &public,
            &format!("{}\n", self.public_key_base64url()),
            false,
            true,
        )?;
        Ok(vec![private, public])
    }

    pub fn load(dir: &Path) -> Result<Self, KeyFileError> {
        let path = dir.join(PRIVATE_FILE);
        Self::from_pem(&keyfile::read(&path, "the VAPID key")?, &path)
    }

    /// Loads the key from `dir`, generating and saving one first if there is none.
    pub fn load_or_generate(dir: &Path) -> Result<(Self, bool), KeyFileError> {
        if dir.join(PRIVATE_FILE).exists() {
            return Ok((Self::load(dir)?, false));
        }
        let key = Self::generate();
        key.save(dir, false)?;
        Ok((key, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_survive_a_restart_and_expose_the_browser_format() {
        let dir = tempfile::tempdir().unwrap();
        let (key, generated) = VapidKey::load_or_generate(dir.path()).unwrap();
        assert!(generated);
        let (again, generated) = VapidKey::load_or_generate(dir.path()).unwrap();
        assert!(!generated);
        assert_eq!(key.public_key_base64url(), again.public_key_base64url());

        let public = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(key.public_key_base64url())
            .unwrap();
        assert_eq!(public.len(), 65);
        assert_eq!(public[0], 0x04, "uncompressed point");
        let txt = std::fs::read_to_string(dir.path().join(PUBLIC_FILE)).unwrap();
        assert_eq!(txt.trim(), key.public_key_base64url());
    }
}
