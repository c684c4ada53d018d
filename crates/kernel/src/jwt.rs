//! RS256 JSON Web Tokens and JSON Web Key Sets: just what Pinit's access tokens need.
//!
//! The auth service signs; the gateway (and auth's own `/v0/me`) verify. Verification is deliberately
//! narrow — this is where the reference went wrong (docs/contract/auth-and-gateway.md#token-checks):
//!
//! * the algorithm is pinned: the header must say `RS256`; `none`, `HS256` and everything else are refused
//!   before any key is touched;
//! * the key is chosen by `kid` from a known set (a token without `kid` is tried against every key, so tokens
//!   minted by the reference, which has no `kid`, still verify during a migration);
//! * `type` must be `access`, `iss` must match, `exp` must be in the future (with [`EXP_LEEWAY`], the one
//!   leeway every verifier uses), `sub` must be a decimal member id.
//!
//! [`bearer`] reads the token out of an `Authorization` header, the same way everywhere.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use pkcs8::EncodePrivateKey;
use ring::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents,
};
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, PrivateKey, PublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Clock skew tolerated on an access token's `exp`, by every verifier (the gateway and auth's own endpoints):
/// a token is refused from `exp + EXP_LEEWAY` on. Small, because the gateway and auth read clocks kept by NTP;
/// a key retired by a rotation stays published for the access-token lifetime plus this leeway.
pub const EXP_LEEWAY: std::time::Duration = std::time::Duration::from_secs(5);

/// [`EXP_LEEWAY`] in whole seconds, as `exp` is written.
const EXP_LEEWAY_SECS: i64 = EXP_LEEWAY.as_secs() as i64;

/// The token of an `Authorization: Bearer <token>` header value. The scheme is case-insensitive
/// (RFC 7235 §2.1: `bearer`, `BEARER` are the same scheme); surrounding spaces are ignored; an empty token
/// is none.
pub fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim_start().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    Some(token.trim()).filter(|t| !t.is_empty())
}

/// Why a token was refused. Callers answer every variant with the same 401: the detail is for logs.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("algorithm `{0}` is not accepted; only RS256")]
    Algorithm(String),
    #[error("no key with kid `{0}`")]
    UnknownKey(String),
    #[error("bad signature")]
    Signature,
    #[error("token type `{0}` is not an access token")]
    WrongType(String),
    #[error("issuer `{0}` is not accepted")]
    WrongIssuer(String),
    #[error("expired")]
    Expired,
    #[error("subject is not a member id")]
    BadSubject,
    #[error("signing failed: {0}")]
    Signing(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
}

/// The claims of a Pinit access token (the reference's shape plus nothing it would reject).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The member id as a decimal string.
    pub sub: String,
    pub iss: String,
    /// Seconds since the Unix epoch.
    pub iat: i64,
    pub exp: i64,
    /// Comma-separated roles (the reference sends the empty string).
    #[serde(default)]
    pub roles: String,
    /// Always `access` for tokens this module accepts.
    #[serde(rename = "type")]
    pub token_type: String,
}

impl AccessClaims {
    pub const TYPE: &'static str = "access";

    pub fn member_id(&self) -> Result<i64, JwtError> {
        self.sub
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or(JwtError::BadSubject)
    }
}

/// Is a token whose `exp` claim is `exp` expired at `now` (seconds since the epoch), with [`EXP_LEEWAY`]?
pub fn expired(exp: i64, now: i64) -> bool {
    exp.saturating_add(EXP_LEEWAY_SECS) <= now
}

/// An RSA private key that signs RS256: the `rsa` crate's key (generation, PEM, the public half) with ring's key
/// pair made from it once. ring does the signing and [`Verifier`] verifies with ring too: its assembly arithmetic
/// signs a 2048-bit token about 5× faster than `rsa` 0.10's constant-time big integers, and verifies about 3×
/// faster (docs/adr/0020-per-request-costs.md). It dereferences to the `rsa` key.
#[derive(Clone)]
pub struct RsaKey {
    private: PrivateKey,
    pair: Arc<RsaKeyPair>,
}

impl RsaKey {
    /// A new random key of `bits` bits.
    pub fn generate(bits: usize) -> Result<Self, JwtError> {
        let private = PrivateKey::new(&mut rand::rng(), bits)
            .map_err(|e| JwtError::Signing(e.to_string()))?;
        Self::new(private)
    }

    /// Fails for keys ring does not sign with (fewer than 2,048 or more than 4,096 bits).
    pub fn new(private: PrivateKey) -> Result<Self, JwtError> {
        let der = private
            .to_pkcs8_der()
            .map_err(|e| JwtError::Signing(e.to_string()))?;
        let pair = RsaKeyPair::from_pkcs8(der.as_bytes())
            .map_err(|e| JwtError::Signing(format!("unusable RSA key: {e}")))?;
        Ok(RsaKey {
            private,
            pair: Arc::new(pair),
        })
    }
}

impl std::ops::Deref for RsaKey {
    type Target = PrivateKey;
    fn deref(&self) -> &PrivateKey {
        &self.private
    }
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKey").finish_non_exhaustive()
    }
}

/// Signs `claims` with RS256 under key id `kid`.
pub fn sign<C: Serialize>(claims: &C, kid: &str, key: &RsaKey) -> Result<String, JwtError> {
    let header = Header {
        alg: "RS256".into(),
        typ: Some("JWT".into()),
        kid: Some(kid.into()),
    };
    let encode = |value: &dyn erased::Json| -> Result<String, JwtError> {
        Ok(B64.encode(value.to_json().map_err(JwtError::Signing)?))
    };
    let signing_input = format!("{}.{}", encode(&header)?, encode(claims)?);
    let mut signature = vec![0; key.pair.public().modulus_len()];
    key.pair
        .sign(
            &RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            signing_input.as_bytes(),
            &mut signature,
        )
        .map_err(|e| JwtError::Signing(e.to_string()))?;
    Ok(format!("{signing_input}.{}", B64.encode(signature)))
}

mod erased {
    /// Object-safe JSON serialisation, so `sign` can encode header and claims with one closure.
    pub trait Json {
        fn to_json(&self) -> Result<Vec<u8>, String>;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> Result<Vec<u8>, String> {
            serde_json::to_vec(self).map_err(|e| e.to_string())
        }
    }
}

/// One RSA public key as a JWK (RFC 7517), as published at `/.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(default)]
    pub kid: String,
    #[serde(default)]
    pub n: String,
    #[serde(default)]
    pub e: String,
}

impl Jwk {
    pub fn from_public_key(kid: &str, key: &PublicKey) -> Jwk {
        Jwk {
            kty: "RSA".into(),
            use_: Some("sig".into()),
            alg: Some("RS256".into()),
            kid: kid.into(),
            n: B64.encode(key.n_bytes()),
            e: B64.encode(key.e_bytes()),
        }
    }

    fn to_public_key(&self) -> Option<PublicKey> {
        if self.kty != "RSA" || self.alg.as_deref().is_some_and(|a| a != "RS256") {
            return None;
        }
        let n = B64.decode(&self.n).ok()?;
        let e = B64.decode(&self.e).ok()?;
        PublicKey::new(
            BoxedUint::from_be_slice_vartime(&n),
            BoxedUint::from_be_slice_vartime(&e),
        )
        .ok()
    }
}

/// A JWK Set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// RFC 7638 thumbprint of an RSA public key: the `kid` Pinit gives its keys.
pub fn thumbprint(key: &PublicKey) -> String {
    let e = B64.encode(key.e_bytes());
    let n = B64.encode(key.n_bytes());
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    B64.encode(Sha256::digest(canonical.as_bytes()))
}

fn components(key: &PublicKey) -> RsaPublicKeyComponents<Vec<u8>> {
    RsaPublicKeyComponents {
        n: key.n_bytes().to_vec(),
        e: key.e_bytes().to_vec(),
    }
}

/// Is `signature` an RS256 signature of `input` by `key` (2,048 to 8,192 bits)?
fn rs256_verifies(key: &RsaPublicKeyComponents<Vec<u8>>, input: &str, signature: &[u8]) -> bool {
    key.verify(&RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), signature)
        .is_ok()
}

/// Verifies access tokens against a set of keys.
#[derive(Clone)]
pub struct Verifier {
    /// Each key's modulus and exponent, big-endian, as ring takes them.
    keys: HashMap<String, RsaPublicKeyComponents<Vec<u8>>>,
    issuer: String,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .field("issuer", &self.issuer)
            .finish()
    }
}

impl Verifier {
    /// A verifier without keys for tokens issued by `issuer`; `exp` is checked with [`EXP_LEEWAY`].
    pub fn new(issuer: impl Into<String>) -> Verifier {
        Verifier {
            keys: HashMap::new(),
            issuer: issuer.into(),
        }
    }

    pub fn with_key(mut self, kid: &str, key: PublicKey) -> Verifier {
        self.keys.insert(kid.to_string(), components(&key));
        self
    }

    /// The usable keys of a JWKS (non-RSA or malformed entries are ignored).
    pub fn with_jwks(mut self, jwks: &Jwks) -> Verifier {
        for jwk in &jwks.keys {
            if let Some(key) = jwk.to_public_key() {
                self.keys.insert(jwk.kid.clone(), components(&key));
            }
        }
        self
    }

    pub fn knows(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// The ids of the keys it holds.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.keys().map(String::as_str).collect()
    }

    /// The `kid` a token names, without verifying anything (to decide whether to refresh the key set).
    pub fn kid_of(token: &str) -> Option<String> {
        let header = token.split('.').next()?;
        let header: Header = serde_json::from_slice(&B64.decode(header).ok()?).ok()?;
        header.kid
    }

    /// Verifies `token` as a Pinit access token at `now` (seconds since the epoch).
    pub fn verify_access(&self, token: &str, now: i64) -> Result<AccessClaims, JwtError> {
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        let header: Header = B64
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(JwtError::Malformed)?;
        if header.alg != "RS256" {
            return Err(JwtError::Algorithm(header.alg));
        }
        let signature = B64.decode(s).map_err(|_| JwtError::Malformed)?;
        let signing_input = &token[..h.len() + 1 + c.len()];
        let verified = match &header.kid {
            Some(kid) => {
                let key = self
                    .keys
                    .get(kid)
                    .ok_or_else(|| JwtError::UnknownKey(kid.clone()))?;
                rs256_verifies(key, signing_input, &signature)
            }
            None => self
                .keys
                .values()
                .any(|key| rs256_verifies(key, signing_input, &signature)),
        };
        if !verified {
            return Err(JwtError::Signature);
        }
        let claims: AccessClaims = B64
            .decode(c)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(JwtError::Malformed)?;
        if claims.token_type != AccessClaims::TYPE {
            return Err(JwtError::WrongType(claims.token_type));
        }
        if claims.iss != self.issuer {
            return Err(JwtError::WrongIssuer(claims.iss));
        }
        if expired(claims.exp, now) {
            return Err(JwtError::Expired);
        }
        claims.member_id()?;
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use super::*;

    static KEY: LazyLock<RsaKey> = LazyLock::new(|| RsaKey::generate(2048).expect("key"));
    static OTHER: LazyLock<RsaKey> = LazyLock::new(|| RsaKey::generate(2048).expect("key"));

    const ISS: &str = "https://pinit.example";
    const NOW: i64 = 1_800_000_000;

    fn claims() -> AccessClaims {
        AccessClaims {
            sub: "42".into(),
            iss: ISS.into(),
            iat: NOW,
            exp: NOW + 300,
            roles: String::new(),
            token_type: "access".into(),
        }
    }

    fn verifier() -> Verifier {
        Verifier::new(ISS).with_key("k1", KEY.to_public_key())
    }

    fn forge(header: &str, claims: &AccessClaims, sig: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            B64.encode(header),
            B64.encode(serde_json::to_vec(claims).unwrap()),
            B64.encode(sig)
        )
    }

    #[test]
    fn a_signed_access_token_verifies_and_names_its_member() {
        let token = sign(&claims(), "k1", &KEY).unwrap();
        let verified = verifier().verify_access(&token, NOW + 10).unwrap();
        assert_eq!(verified.member_id(), Ok(42));
        assert_eq!(Verifier::kid_of(&token).as_deref(), Some("k1"));
    }

    #[test]
    fn alg_none_and_hmac_are_refused_before_any_key_is_used() {
        let none = forge(r#"{"alg":"none","kid":"k1"}"#, &claims(), b"");
        assert_eq!(
            verifier().verify_access(&none, NOW),
            Err(JwtError::Algorithm("none".into()))
        );
        let hs = forge(r#"{"alg":"HS256","kid":"k1"}"#, &claims(), b"x");
        assert!(matches!(
            verifier().verify_access(&hs, NOW),
            Err(JwtError::Algorithm(_))
        ));
    }

    #[test]
    fn another_key_or_a_tampered_payload_is_refused() {
        let foreign = sign(&claims(), "k1", &OTHER).unwrap();
        assert_eq!(
            verifier().verify_access(&foreign, NOW),
            Err(JwtError::Signature)
        );
        let unknown_kid = sign(&claims(), "k9", &KEY).unwrap();
        assert_eq!(
            verifier().verify_access(&unknown_kid, NOW),
            Err(JwtError::UnknownKey("k9".into()))
        );
        let token = sign(&claims(), "k1", &KEY).unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let mut evil = claims();
        evil.sub = "43".into();
        let evil_payload = B64.encode(serde_json::to_vec(&evil).unwrap());
        parts[1] = &evil_payload;
        assert_eq!(
            verifier().verify_access(&parts.join("."), NOW),
            Err(JwtError::Signature)
        );
    }

    #[test]
    fn type_issuer_expiry_and_subject_are_enforced() {
        let mut refresh = claims();
        refresh.token_type = "refresh".into();
        let t = sign(&refresh, "k1", &KEY).unwrap();
        assert_eq!(
            verifier().verify_access(&t, NOW),
            Err(JwtError::WrongType("refresh".into()))
        );

        let mut foreign_iss = claims();
        foreign_iss.iss = "https://evil.example".into();
        let t = sign(&foreign_iss, "k1", &KEY).unwrap();
        assert!(matches!(
            verifier().verify_access(&t, NOW),
            Err(JwtError::WrongIssuer(_))
        ));

        let t = sign(&claims(), "k1", &KEY).unwrap();
        assert!(
            verifier()
                .verify_access(&t, NOW + 300 + EXP_LEEWAY_SECS - 1)
                .is_ok(),
            "within leeway"
        );
        assert_eq!(
            verifier().verify_access(&t, NOW + 300 + EXP_LEEWAY_SECS),
            Err(JwtError::Expired)
        );
        assert_eq!(
            verifier().verify_access(&t, NOW + 300 + 8),
            Err(JwtError::Expired),
            "8 s after expiry is past the leeway"
        );

        let mut bad_sub = claims();
        bad_sub.sub = "abc".into();
        let t = sign(&bad_sub, "k1", &KEY).unwrap();
        assert_eq!(verifier().verify_access(&t, NOW), Err(JwtError::BadSubject));
    }

    #[test]
    fn jwks_round_trip_and_kidless_tokens_try_every_key() {
        let jwks = Jwks {
            keys: vec![
                Jwk::from_public_key("old", &OTHER.to_public_key()),
                Jwk::from_public_key("new", &KEY.to_public_key()),
            ],
        };
        let json = serde_json::to_string(&jwks).unwrap();
        let parsed: Jwks = serde_json::from_str(&json).unwrap();
        let v = Verifier::new(ISS).with_jwks(&parsed);
        assert!(v.knows("old") && v.knows("new"));
        // A reference token has no kid.
        let header = B64.encode(r#"{"typ":"JWT","alg":"RS256"}"#);
        let payload = B64.encode(serde_json::to_vec(&claims()).unwrap());
        let input = format!("{header}.{payload}");
        let sig = KEY.pkcs1v15_sign::<Sha256>(input.as_bytes()).unwrap();
        let token = format!("{input}.{}", B64.encode(sig));
        assert!(v.verify_access(&token, NOW).is_ok());
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in [
            "Bearer abc",
            "bearer abc",
            "BEARER abc",
            "bEaReR   abc ",
            " Bearer abc",
        ] {
            assert_eq!(bearer(value), Some("abc"), "{value:?}");
        }
        for value in [
            "",
            "Bearer",
            "Bearer ",
            "Bearer    ",
            "Basic abc",
            "Bearerabc",
            "abc",
        ] {
            assert_eq!(bearer(value), None, "{value:?}");
        }
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for junk in ["", "a", "a.b", "a.b.c", "a.b.c.d", "....", "eyJ.eyJ.sig"] {
            assert!(verifier().verify_access(junk, NOW).is_err(), "{junk}");
        }
    }
}
