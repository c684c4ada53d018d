//! PKCE (RFC 7636) with the S256 method.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use sha2::{Digest, Sha256};

/// A fresh `(code_verifier, code_challenge)` pair: the verifier is 32 bytes from the thread CSPRNG, base64url
/// without padding (43 characters of the unreserved set, RFC 7636, section 4.1); the challenge is its S256
/// transform.
/// Keep the verifier server-side with the `state`; send the challenge in the authorization URL.
pub fn pkce_pair() -> (String, String) {
    let verifier = B64.encode(rand::random::<[u8; 32]>());
    let challenge = pkce_challenge(&verifier);
    (verifier, challenge)
}

/// The S256 challenge of a verifier: `BASE64URL-NOPAD(SHA256(ASCII(verifier)))` (RFC 7636, section 4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    B64.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn pairs_are_fresh_and_well_formed() {
        let (v1, c1) = pkce_pair();
        let (v2, _) = pkce_pair();
        assert_ne!(v1, v2);
        assert_eq!(v1.len(), 43);
        assert!(
            v1.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        );
        assert_eq!(c1, pkce_challenge(&v1));
    }
}
