//! Message encryption for Web Push (RFC 8291): the `aes128gcm` content coding (RFC 8188) with keys
//! derived from an ECDH agreement between a one-off application-server key and the subscription's
//! `p256dh` key, and the subscription's `auth` secret.
//!
//! ```text
//! ecdh_secret = ECDH(as_private, ua_public)
//! IKM   = HKDF-SHA256(salt = auth_secret, ikm = ecdh_secret, info = "WebPush: info\0" ‖ ua_public ‖ as_public, L = 32)
//! PRK   = HKDF-Extract(salt, IKM)
//! CEK   = HKDF-Expand(PRK, "Content-Encoding: aes128gcm\0", 16)
//! NONCE = HKDF-Expand(PRK, "Content-Encoding: nonce\0", 12)
//! body  = salt(16) ‖ rs(4) ‖ idlen(1) = 65 ‖ as_public(65) ‖ AES-128-GCM(CEK, NONCE, plaintext ‖ 0x02)
//! ```
//!
//! A push message is one record, so the record size only has to exceed the ciphertext.
//!
//! The per-message key agreement ([`encrypt`]: a fresh key pair and one ECDH) is the dominant CPU cost of a
//! push, so it uses ring's P-256 (assembly, much faster than the pure-Rust `p256`; the figures are in
//! `docs/benchmarks.md`), which the workspace already links through rustls. [`encrypt_with`] (fixed keys, the
//! RFC 8291 test vector) and [`decrypt`] use `p256`; both paths share the key derivation and the record
//! layout, and the tests decrypt ring-encrypted messages with `p256`.

use aes_gcm::Aes128Gcm;
use aes_gcm::aead::{Aead, KeyInit};
use hkdf::Hkdf;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;

/// Lengths of the `auth` secret and of an uncompressed P-256 point (`p256dh`), as subscriptions carry them.
pub use crate::domain::subscription::{AUTH_LEN, PUBLIC_KEY_LEN};
/// The record size written in the header: one 4096-octet record, the largest push message services accept.
pub const RECORD_SIZE: u32 = 4096;
const HEADER_LEN: usize = 16 + 4 + 1 + PUBLIC_KEY_LEN;
const TAG_LEN: usize = 16;
/// The largest plaintext that fits a 4096-octet push message (header, delimiter and tag included).
pub const MAX_PLAINTEXT: usize = RECORD_SIZE as usize - HEADER_LEN - TAG_LEN - 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EceError {
    #[error("the payload is {0} bytes; a push message carries at most {MAX_PLAINTEXT}")]
    TooLarge(usize),
    #[error("not an aes128gcm message: {0}")]
    Malformed(&'static str),
    #[error("the message does not decrypt with this key")]
    Decrypt,
    #[error("encryption failed: {0}")]
    Encrypt(&'static str),
}

/// Encrypts `plaintext` for a subscription with a fresh application-server key and salt. `ua_public` is
/// the subscription's `p256dh` as stored (an uncompressed point); the key agreement rejects one that is not
/// on the curve.
pub fn encrypt(
    plaintext: &[u8],
    ua_public: &[u8; PUBLIC_KEY_LEN],
    auth_secret: &[u8; AUTH_LEN],
) -> Result<Vec<u8>, EceError> {
    use ring::agreement::{ECDH_P256, EphemeralPrivateKey, UnparsedPublicKey, agree_ephemeral};
    let mut salt = [0u8; 16];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut salt);
    let random = ring::rand::SystemRandom::new();
    let as_secret = EphemeralPrivateKey::generate(&ECDH_P256, &random)
        .map_err(|_| EceError::Encrypt("no randomness for the key pair"))?;
    let as_public = as_secret
        .compute_public_key()
        .map_err(|_| EceError::Encrypt("public key"))?;
    let as_public: [u8; PUBLIC_KEY_LEN] = as_public
        .as_ref()
        .try_into()
        .map_err(|_| EceError::Encrypt("public key length"))?;
    let (cek, nonce) = agree_ephemeral(
        as_secret,
        &UnparsedPublicKey::new(&ECDH_P256, &ua_public[..]),
        |ecdh| derive(ecdh, auth_secret, ua_public, &as_public, &salt),
    )
    .map_err(|_| EceError::Encrypt("key agreement (is p256dh a point on P-256?)"))?;
    seal(plaintext, &cek, nonce, &salt, &as_public)
}

/// Encrypts with a given application-server key and salt (the RFC 8291 test vector; never reuse either).
pub fn encrypt_with(
    plaintext: &[u8],
    ua_public: &PublicKey,
    auth_secret: &[u8; AUTH_LEN],
    as_secret: &SecretKey,
    salt: &[u8; 16],
) -> Result<Vec<u8>, EceError> {
    let as_public = as_secret.public_key().to_sec1_bytes();
    let ua_bytes = ua_public.to_sec1_bytes();
    let ecdh = as_secret.diffie_hellman(ua_public);
    let (cek, nonce) = derive(
        ecdh.raw_secret_bytes().as_slice(),
        auth_secret,
        &ua_bytes,
        &as_public,
        salt,
    );
    seal(plaintext, &cek, nonce, salt, &as_public)
}

/// The message: header (salt, record size, key id = the application-server public key) and the one sealed
/// record.
fn seal(
    plaintext: &[u8],
    cek: &[u8; 16],
    nonce: [u8; 12],
    salt: &[u8; 16],
    as_public: &[u8],
) -> Result<Vec<u8>, EceError> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(EceError::TooLarge(plaintext.len()));
    }
    let mut record = Vec::with_capacity(plaintext.len() + 1);
    record.extend_from_slice(plaintext);
    record.push(0x02); // the last (and only) record; no padding
    let cipher = Aes128Gcm::new_from_slice(cek).map_err(|_| EceError::Encrypt("key length"))?;
    let sealed = cipher
        .encrypt(&nonce.into(), record.as_slice())
        .map_err(|_| EceError::Encrypt("sealing"))?;
    let mut body = Vec::with_capacity(HEADER_LEN + sealed.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(PUBLIC_KEY_LEN as u8);
    body.extend_from_slice(as_public);
    body.extend_from_slice(&sealed);
    Ok(body)
}

/// Decrypts a push message as the browser does: with the subscription's private key and `auth` secret.
pub fn decrypt(
    body: &[u8],
    ua_secret: &SecretKey,
    auth_secret: &[u8; AUTH_LEN],
) -> Result<Vec<u8>, EceError> {
    if body.len() < HEADER_LEN + TAG_LEN + 1 {
        return Err(EceError::Malformed("shorter than a header and a tag"));
    }
    let salt: [u8; 16] = body[..16]
        .try_into()
        .map_err(|_| EceError::Malformed("salt"))?;
    let rs = u32::from_be_bytes(
        body[16..20]
            .try_into()
            .map_err(|_| EceError::Malformed("record size"))?,
    );
    if body[20] as usize != PUBLIC_KEY_LEN {
        return Err(EceError::Malformed(
            "the key id is not a 65-octet P-256 point",
        ));
    }
    let sealed = &body[HEADER_LEN..];
    if sealed.len() > rs as usize {
        return Err(EceError::Malformed("more than one record"));
    }
    let as_public = PublicKey::from_sec1_bytes(&body[21..HEADER_LEN])
        .map_err(|_| EceError::Malformed("the key id is not a P-256 point"))?;
    let ua_public = ua_secret.public_key().to_sec1_bytes();
    let ecdh = ua_secret.diffie_hellman(&as_public);
    let (cek, nonce) = derive(
        ecdh.raw_secret_bytes().as_slice(),
        auth_secret,
        &ua_public,
        &body[21..HEADER_LEN],
        &salt,
    );
    let cipher = Aes128Gcm::new_from_slice(&cek).map_err(|_| EceError::Decrypt)?;
    let mut record = cipher
        .decrypt(&nonce.into(), sealed)
        .map_err(|_| EceError::Decrypt)?;
    // Strip padding (zeros) back to the delimiter; 0x02 marks the last record.
    while record.last() == Some(&0) {
        record.pop();
    }
    match record.pop() {
        Some(0x02) => Ok(record),
        _ => Err(EceError::Malformed("no last-record delimiter")),
    }
}

/// (CEK, NONCE) of RFC 8291, section 3.4, and RFC 8188, section 2.2.
fn derive(
    ecdh_secret: &[u8],
    auth_secret: &[u8],
    ua_public: &[u8],
    as_public: &[u8],
    salt: &[u8],
) -> ([u8; 16], [u8; 12]) {
    let mut key_info = Vec::with_capacity(14 + 2 * PUBLIC_KEY_LEN);
    key_info.extend_from_slice(b"WebPush: info\0");
    key_info.extend_from_slice(ua_public);
    key_info.extend_from_slice(as_public);
    let mut ikm = [0u8; 32];
    // Lengths are constants well below 255 × 32: expansion cannot fail.
    let _ = Hkdf::<Sha256>::new(Some(auth_secret), ecdh_secret).expand(&key_info, &mut ikm);
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    let _ = prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek);
    let _ = prk.expand(b"Content-Encoding: nonce\0", &mut nonce);
    (cek, nonce)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use p256::elliptic_curve::Generate;

    fn b64(s: &str) -> Vec<u8> {
        B64.decode(s).unwrap()
    }

    /// RFC 8291, section 5 (and Appendix A): every input fixed, the output must match byte for byte.
    #[test]
    fn the_rfc_8291_example_encrypts_to_the_published_message() {
        let plaintext = b64("V2hlbiBJIGdyb3cgdXAsIEkgd2FudCB0byBiZSBhIHdhdGVybWVsb24");
        assert_eq!(plaintext, b"When I grow up, I want to be a watermelon");
        let as_secret =
            SecretKey::from_slice(&b64("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")).unwrap();
        assert_eq!(
            B64.encode(as_secret.public_key().to_sec1_bytes()),
            "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
        );
        let ua_secret =
            SecretKey::from_slice(&b64("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94")).unwrap();
        let ua_public = PublicKey::from_sec1_bytes(&b64(
            "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
        ))
        .unwrap();
        assert_eq!(ua_secret.public_key(), ua_public);
        let auth: [u8; 16] = b64("BTBZMqHH6r4Tts7J_aSIgg").try_into().unwrap();
        let salt: [u8; 16] = b64("DGv6ra1nlYgDCS1FRnbzlw").try_into().unwrap();

        // Intermediate values of RFC 8291, section 5.
        let ecdh = as_secret.diffie_hellman(&ua_public);
        assert_eq!(
            B64.encode(ecdh.raw_secret_bytes()),
            "kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs"
        );
        let (cek, nonce) = derive(
            ecdh.raw_secret_bytes().as_slice(),
            &auth,
            &ua_public.to_sec1_bytes(),
            &as_secret.public_key().to_sec1_bytes(),
            &salt,
        );
        assert_eq!(B64.encode(cek), "oIhVW04MRdy2XN9CiKLxTg");
        assert_eq!(B64.encode(nonce), "4h_95klXJ5E_qnoN");

        let body = encrypt_with(&plaintext, &ua_public, &auth, &as_secret, &salt).unwrap();
        assert_eq!(
            B64.encode(&body),
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
        );
        assert_eq!(decrypt(&body, &ua_secret, &auth).unwrap(), plaintext);
    }

    /// A subscription's `p256dh` as stored: the uncompressed point.
    fn point(key: &SecretKey) -> [u8; PUBLIC_KEY_LEN] {
        key.public_key().to_sec1_bytes()[..].try_into().unwrap()
    }

    #[test]
    fn a_p256dh_off_the_curve_is_refused() {
        let mut rng = rand::rng();
        let mut bad = point(&SecretKey::generate_from_rng(&mut rng));
        bad[PUBLIC_KEY_LEN - 1] ^= 1;
        assert!(matches!(
            encrypt(b"{}", &bad, &[7; AUTH_LEN]),
            Err(EceError::Encrypt(_))
        ));
        let mut compressed_tag = point(&SecretKey::generate_from_rng(&mut rng));
        compressed_tag[0] = 0x02;
        assert!(encrypt(b"{}", &compressed_tag, &[7; AUTH_LEN]).is_err());
    }

    #[test]
    fn fresh_messages_round_trip_and_refuse_the_wrong_key() {
        let mut rng = rand::rng();
        let ua = SecretKey::generate_from_rng(&mut rng);
        let mut auth = [0u8; 16];
        rand::Rng::fill_bytes(&mut rng, &mut auth);
        let payload =
            br#"{"scheduleId":"42","scheduleTitle":"\xEB\x94\xA5 \xEC\x9B\x8C\xED\x81\xAC"}"#;
        let a = encrypt(payload, &point(&ua), &auth).unwrap();
        let b = encrypt(payload, &point(&ua), &auth).unwrap();
        assert_ne!(a, b, "a fresh key and salt every time");
        assert_eq!(decrypt(&a, &ua, &auth).unwrap(), payload);
        let other = SecretKey::generate_from_rng(&mut rng);
        assert_eq!(decrypt(&a, &other, &auth), Err(EceError::Decrypt));
        let mut wrong_auth = auth;
        wrong_auth[0] ^= 1;
        assert_eq!(decrypt(&a, &ua, &wrong_auth), Err(EceError::Decrypt));
        assert!(matches!(
            encrypt(&vec![b'x'; MAX_PLAINTEXT + 1], &point(&ua), &auth),
            Err(EceError::TooLarge(_))
        ));
        let max = encrypt(&vec![b'x'; MAX_PLAINTEXT], &point(&ua), &auth).unwrap();
        assert_eq!(max.len(), RECORD_SIZE as usize);
    }

    /// `encrypt` agrees keys with ring, `decrypt` with p256: the two must agree for any subscription key.
    #[test]
    fn ring_encrypted_messages_decrypt_with_p256_for_many_keys() {
        let mut rng = rand::rng();
        for i in 0..64u8 {
            let ua = SecretKey::generate_from_rng(&mut rng);
            let mut auth = [0u8; 16];
            rand::Rng::fill_bytes(&mut rng, &mut auth);
            let payload = vec![i; usize::from(i) * 7];
            let body = encrypt(&payload, &point(&ua), &auth).unwrap();
            assert_eq!(body[20] as usize, PUBLIC_KEY_LEN);
            assert_eq!(body[21], 0x04, "uncompressed application-server key");
            assert_eq!(decrypt(&body, &ua, &auth).unwrap(), payload, "key {i}");
        }
    }
}
