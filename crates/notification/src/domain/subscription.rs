//! The notification context's rules, without I/O: what a device id, an FCM token and a Web Push
//! subscription may be, and what a push message carries.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jiff::Timestamp;
use p256::PublicKey;

use crate::push::ece::{AUTH_LEN, PUBLIC_KEY_LEN};
use crate::push::guard::EndpointPolicy;

/// Longest accepted device id.
pub const MAX_DEVICE_ID_LEN: usize = 128;
/// Longest accepted FCM registration token (real ones are ~160–200 characters).
pub const MAX_TOKEN_LEN: usize = 4096;
/// Longest title put into a push payload (characters): keeps every payload far below the 4 KiB limits of
/// FCM data messages and Web Push records.
pub const MAX_TITLE_CHARS: usize = 200;

/// One rejected input field.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub field: &'static str,
    pub value: serde_json::Value,
    pub reason: String,
}

impl Invalid {
    fn new(
        field: &'static str,
        value: impl Into<serde_json::Value>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            field,
            value: value.into(),
            reason: reason.into(),
        }
    }
}

/// A client-generated device id (a UUID kept by the browser; any short printable id is accepted).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeviceId(String);

impl DeviceId {
    pub fn parse(raw: Option<&str>) -> Result<Self, Invalid> {
        let raw = raw.map(str::trim).unwrap_or_default();
        if raw.is_empty() {
            return Err(Invalid::new("deviceId", raw, "must not be blank"));
        }
        if raw.len() > MAX_DEVICE_ID_LEN {
            return Err(Invalid::new(
                "deviceId",
                raw,
                format!("must be at most {MAX_DEVICE_ID_LEN} characters"),
            ));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        {
            return Err(Invalid::new(
                "deviceId",
                raw,
                "may contain only letters, digits and - _ . :",
            ));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a device receives pushes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushTarget {
    /// A Firebase Cloud Messaging registration token.
    Fcm { token: String },
    /// A standard Web Push subscription (RFC 8030): endpoint, `p256dh` and `auth` (base64url, no padding).
    WebPush {
        endpoint: String,
        p256dh: String,
        auth: String,
    },
}

/// The kind column of a subscription.
pub const KIND_FCM: &str = "fcm";
pub const KIND_WEB_PUSH: &str = "webpush";

impl PushTarget {
    pub fn kind(&self) -> &'static str {
        match self {
            PushTarget::Fcm { .. } => KIND_FCM,
            PushTarget::WebPush { .. } => KIND_WEB_PUSH,
        }
    }

    /// The token or endpoint: unique across all subscriptions (one device, one member at a time).
    pub fn address(&self) -> &str {
        match self {
            PushTarget::Fcm { token } => token,
            PushTarget::WebPush { endpoint, .. } => endpoint,
        }
    }

    /// Validates an FCM token.
    pub fn fcm(token: &str) -> Result<Self, Invalid> {
        let token = token.trim();
        if token.is_empty() {
            return Err(Invalid::new("token", token, "must not be blank"));
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(Invalid::new(
                "token",
                serde_json::Value::Null,
                format!("must be at most {MAX_TOKEN_LEN} characters"),
            ));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Invalid::new(
                "token",
                serde_json::Value::Null,
                "must be printable ASCII without spaces",
            ));
        }
        Ok(PushTarget::Fcm {
            token: token.to_string(),
        })
    }

    /// Validates a Web Push subscription: endpoint per `policy`, `p256dh` a 65-octet uncompressed P-256
    /// point, `auth` 16 octets (base64url; padding and the standard alphabet are tolerated).
    pub fn web_push(
        endpoint: Option<&str>,
        p256dh: Option<&str>,
        auth: Option<&str>,
        policy: &EndpointPolicy,
    ) -> Result<Self, Vec<Invalid>> {
        let mut problems = Vec::new();
        let endpoint = endpoint.map(str::trim).unwrap_or_default();
        if endpoint.is_empty() {
            problems.push(Invalid::new(
                "subscription.endpoint",
                endpoint,
                "must not be blank",
            ));
        } else if let Err(e) = policy.check(endpoint) {
            let shown: serde_json::Value = if endpoint.len() > 200 {
                serde_json::Value::Null
            } else {
                endpoint.into()
            };
            problems.push(Invalid::new(
                "subscription.endpoint",
                shown,
                format!("the push endpoint {e}"),
            ));
        }
        let p256dh = match decode_key(p256dh) {
            Some(bytes) if bytes.len() == PUBLIC_KEY_LEN && bytes[0] == 0x04 => {
                if PublicKey::from_sec1_bytes(&bytes).is_ok() {
                    Some(B64.encode(bytes))
                } else {
                    problems.push(Invalid::new(
                        "subscription.keys.p256dh",
                        p256dh.unwrap_or_default(),
                        "is not a point on the P-256 curve",
                    ));
                    None
                }
            }
            _ => {
                problems.push(Invalid::new(
                    "subscription.keys.p256dh",
                    p256dh.unwrap_or_default(),
                    "must be a base64url uncompressed P-256 public key (65 bytes)",
                ));
                None
            }
        };
        let auth = match decode_key(auth) {
            Some(bytes) if bytes.len() == AUTH_LEN => Some(B64.encode(bytes)),
            _ => {
                problems.push(Invalid::new(
                    "subscription.keys.auth",
                    auth.unwrap_or_default(),
                    "must be a base64url 16-byte authentication secret",
                ));
                None
            }
        };
        match (problems.is_empty(), p256dh, auth) {
            (true, Some(p256dh), Some(auth)) => Ok(PushTarget::WebPush {
                endpoint: endpoint.to_string(),
                p256dh,
                auth,
            }),
            _ => Err(problems),
        }
    }
}

/// Decodes base64url (or standard base64), with or without padding.
pub fn decode_key(raw: Option<&str>) -> Option<Vec<u8>> {
    let raw = raw?.trim().trim_end_matches('=');
    if raw.is_empty() || raw.len() > 200 {
        return None;
    }
    let normalized: String = raw
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    B64.decode(normalized).ok()
}

/// What a push carries: the reference client's four string fields. The Web Push payload (the JSON) is
/// built once here, not once per device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushMessage {
    schedule_id: i64,
    title: String,
    start_time: Timestamp,
    idempotent_key: String,
    json: Vec<u8>,
}

impl PushMessage {
    pub fn new(schedule_id: i64, title: &str, start_time: Timestamp, idempotent_key: &str) -> Self {
        let mut message = Self {
            schedule_id,
            title: bounded_title(title),
            start_time,
            idempotent_key: idempotent_key.to_string(),
            json: Vec::new(),
        };
        message.json = serde_json::to_vec(&message.data()).unwrap_or_default();
        message
    }

    /// The title as sent (at most [`MAX_TITLE_CHARS`] characters and an ellipsis).
    pub fn title(&self) -> &str {
        &self.title
    }

    /// `{scheduleId, scheduleTitle, scheduleStartTime, idempotentKey}`, all strings (FCM `data` requires
    /// strings; the service worker reads the same keys from a raw Web Push payload).
    pub fn data(&self) -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            ("scheduleId", self.schedule_id.to_string()),
            ("scheduleTitle", self.title.clone()),
            ("scheduleStartTime", format_start_time(self.start_time)),
            ("idempotentKey", self.idempotent_key.clone()),
        ])
    }

    /// The JSON a Web Push message encrypts ([`PushMessage::data`] serialized).
    pub fn json(&self) -> &[u8] {
        &self.json
    }

    /// The Web Push `Topic` (RFC 8030 §5.4): at most 32 base64url characters, the same for every send of
    /// this schedule's notification, so a push service replaces an undelivered older one.
    pub fn topic(&self) -> String {
        topic(self.schedule_id)
    }
}

/// `schedule-<id>` (at most 28 characters, all in the base64url alphabet).
pub fn topic(schedule_id: i64) -> String {
    format!("schedule-{}", schedule_id.unsigned_abs())
}

/// The reference's start-time format: UTC, whole seconds, literal `Z` (`2026-02-08T01:00:00Z`).
pub fn format_start_time(at: Timestamp) -> String {
    let whole = Timestamp::from_second(at.as_second()).unwrap_or(at);
    whole.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Truncates a title to [`MAX_TITLE_CHARS`] characters.
pub fn bounded_title(title: &str) -> String {
    match title.char_indices().nth(MAX_TITLE_CHARS) {
        Some((cut, _)) => format!("{}…", &title[..cut]),
        None => title.to_string(),
    }
}

/// Two start times name the same instant for the reference's second-precision wire format.
pub fn same_start(a: Timestamp, b: Timestamp) -> bool {
    a.as_second() == b.as_second()
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::SecretKey;
    use p256::elliptic_curve::Generate;

    #[test]
    fn device_ids_and_tokens_are_validated() {
        assert_eq!(
            DeviceId::parse(Some(" 123e4567-e89b-12d3-a456-426614174000 "))
                .unwrap()
                .as_str(),
            "123e4567-e89b-12d3-a456-426614174000"
        );
        assert!(DeviceId::parse(Some("device-18d2f-9a1b")).is_ok());
        assert_eq!(DeviceId::parse(None).unwrap_err().field, "deviceId");
        assert!(DeviceId::parse(Some("a b")).is_err());
        assert!(DeviceId::parse(Some(&"x".repeat(129))).is_err());
        assert!(PushTarget::fcm("fcm-token-example").is_ok());
        assert!(PushTarget::fcm("  ").is_err());
        assert!(PushTarget::fcm("has space").is_err());
    }

    #[test]
    fn web_push_keys_must_be_a_curve_point_and_sixteen_bytes() {
        let key = SecretKey::generate_from_rng(&mut rand::rng());
        let point = key.public_key().to_sec1_bytes();
        let p256dh = B64.encode(&point);
        let auth = B64.encode([7u8; 16]);
        let policy = EndpointPolicy::strict();
        let ok = PushTarget::web_push(
            Some("https://fcm.googleapis.com/fcm/send/abc"),
            Some(&p256dh),
            Some(&auth),
            &policy,
        )
        .unwrap();
        assert_eq!(ok.kind(), "webpush");
        // Standard alphabet with padding is normalised.
        let std_b64 = base64::engine::general_purpose::STANDARD.encode(&point);
        let normalised = PushTarget::web_push(
            Some("https://fcm.googleapis.com/fcm/send/abc"),
            Some(&std_b64),
            Some(&format!("{auth}==")),
            &policy,
        )
        .unwrap();
        assert_eq!(ok, normalised);

        let mut off_curve = point.to_vec();
        off_curve[64] ^= 1;
        let problems = PushTarget::web_push(
            Some("http://10.0.0.1/x"),
            Some(&B64.encode(&off_curve)),
            Some(&B64.encode([1u8; 15])),
            &policy,
        )
        .unwrap_err();
        let fields: Vec<_> = problems.iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "subscription.endpoint",
                "subscription.keys.p256dh",
                "subscription.keys.auth"
            ]
        );
        let problems = PushTarget::web_push(
            Some("https://a.example/x"),
            Some(&B64.encode(&point[..33])),
            Some(&auth),
            &policy,
        )
        .unwrap_err();
        assert!(problems[0].reason.contains("65 bytes"), "{problems:?}");
    }

    #[test]
    fn messages_carry_the_reference_fields_as_strings() {
        let at: Timestamp = "2026-02-08T01:00:00.123456Z".parse().unwrap();
        let m = PushMessage::new(42, "딥 워크", at, "k-1");
        let v: serde_json::Value = serde_json::from_slice(m.json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "scheduleId": "42",
                "scheduleTitle": "딥 워크",
                "scheduleStartTime": "2026-02-08T01:00:00Z",
                "idempotentKey": "k-1"
            })
        );
        assert_eq!(m.topic(), "schedule-42");
        assert!(topic(i64::MAX).len() <= 32);
        let long = PushMessage::new(1, &"가".repeat(1000), at, "k");
        assert_eq!(long.title().chars().count(), MAX_TITLE_CHARS + 1);
        assert!(same_start(at, "2026-02-08T01:00:00Z".parse().unwrap()));
    }
}
