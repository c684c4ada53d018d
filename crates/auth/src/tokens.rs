//! Access tokens (RS256 JWTs, short-lived, verified anywhere with the JWKS) and refresh tokens (opaque random
//! strings, only their SHA-256 is stored; the rotation rule is [`crate::domain::refresh`], applied by
//! [`crate::app::session`]).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jiff::Timestamp;
use pinit_kernel::jwt::{self, AccessClaims, Jwk, Jwks, JwtError, Verifier};
use sha2::{Digest, Sha256};

use crate::keys::SigningKey;

/// Signs access tokens with the current key; verifies them with every published key.
#[derive(Clone)]
pub struct TokenIssuer {
    key: Arc<SigningKey>,
    /// Keys still accepted (and published) besides the signing key: the previous key during a rotation.
    previous: Arc<Vec<(String, rsa::PublicKey)>>,
    issuer: String,
    access_ttl_secs: i64,
    verifier: Verifier,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("kid", &self.key.kid())
            .field("issuer", &self.issuer)
            .finish()
    }
}

impl TokenIssuer {
    pub fn new(
        key: SigningKey,
        previous: Vec<(String, rsa::PublicKey)>,
        issuer: &str,
        access_ttl: std::time::Duration,
    ) -> Self {
        let mut verifier = Verifier::new(issuer).with_key(key.kid(), key.public_key());
        for (kid, public) in &previous {
            verifier = verifier.with_key(kid, public.clone());
        }
        Self {
            key: Arc::new(key),
            previous: Arc::new(previous),
            issuer: issuer.to_string(),
            access_ttl_secs: i64::try_from(access_ttl.as_secs()).unwrap_or(300),
            verifier,
        }
    }

    /// A new access token for `member_id`, valid from `now`.
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
        jwt::sign(&claims, self.key.kid(), self.key.private_key())
    }

    /// The member of a valid access token.
    pub fn verify_access(&self, token: &str, now: Timestamp) -> Result<i64, JwtError> {
        self.verifier
            .verify_access(token, now.as_second())?
            .member_id()
    }

    /// The key set published at `/.well-known/jwks.json`: the signing key first, then older ones.
    pub fn jwks(&self) -> Jwks {
        let mut keys = vec![Jwk::from_public_key(self.key.kid(), &self.key.public_key())];
        keys.extend(
            self.previous
                .iter()
                .map(|(kid, public)| Jwk::from_public_key(kid, public)),
        );
        Jwks { keys }
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
