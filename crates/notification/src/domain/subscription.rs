//! What a device may subscribe with: its id, and where it receives pushes — an FCM registration token or a
//! standard Web Push subscription (endpoint, `p256dh` key, `auth` secret).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jiff::Timestamp;
use p256::PublicKey;

use super::endpoint::EndpointPolicy;
use super::{Invalid, MemberId, SubscriptionId};

/// Longest accepted device id.
pub const MAX_DEVICE_ID_LEN: usize = 128;
/// Longest accepted FCM registration token (real ones are ~160–200 characters).
pub const MAX_TOKEN_LEN: usize = 4096;
/// Length of a Web Push `auth` secret (RFC 8291).
pub const AUTH_LEN: usize = 16;
/// Length of an uncompressed P-256 point (a Web Push `p256dh` key).
pub const PUBLIC_KEY_LEN: usize = 65;

/// A client-generated device id (a UUID kept by the browser; any short printable id is accepted).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

    /// A device id as stored (it was validated when the subscription was saved).
    pub(crate) fn stored(id: String) -> Self {
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which push service a subscription goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushKind {
    /// Firebase Cloud Messaging.
    Fcm,
    /// A standard Web Push service (RFC 8030).
    WebPush,
}

impl PushKind {
    /// The stored and metric label: `fcm`, `webpush`.
    pub fn as_str(self) -> &'static str {
        match self {
            PushKind::Fcm => "fcm",
            PushKind::WebPush => "webpush",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "fcm" => Some(PushKind::Fcm),
            "webpush" => Some(PushKind::WebPush),
            _ => None,
        }
    }
}

/// A standard Web Push subscription (RFC 8030): endpoint, `p256dh` and `auth`, the keys base64url without
/// padding as validated (a stored row is sent as it is: unusable keys fail that device's send, not the batch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebPushSubscription {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

/// Where a device receives pushes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushTarget {
    /// A Firebase Cloud Messaging registration token.
    Fcm { token: String },
    /// A standard Web Push subscription.
    WebPush(WebPushSubscription),
}

impl PushTarget {
    pub fn kind(&self) -> PushKind {
        match self {
            PushTarget::Fcm { .. } => PushKind::Fcm,
            PushTarget::WebPush(_) => PushKind::WebPush,
        }
    }

    /// The token or endpoint: unique across all subscriptions (one device, one member at a time).
    pub fn address(&self) -> &str {
        match self {
            PushTarget::Fcm { token } => token,
            PushTarget::WebPush(s) => &s.endpoint,
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
        let p256dh = web_push_key(p256dh).map_err(|e| problems.push(e)).ok();
        let auth = web_push_auth(auth).map_err(|e| problems.push(e)).ok();
        match (problems.is_empty(), p256dh, auth) {
            (true, Some(p256dh), Some(auth)) => Ok(PushTarget::WebPush(WebPushSubscription {
                endpoint: endpoint.to_string(),
                p256dh,
                auth,
            })),
            _ => Err(problems),
        }
    }
}

/// A `p256dh` key: a 65-octet uncompressed point on P-256, returned as base64url without padding.
fn web_push_key(raw: Option<&str>) -> Result<String, Invalid> {
    let field = "subscription.keys.p256dh";
    match decode_key(raw) {
        Some(bytes) if bytes.len() == PUBLIC_KEY_LEN && bytes[0] == 0x04 => {
            if PublicKey::from_sec1_bytes(&bytes).is_ok() {
                Ok(B64.encode(bytes))
            } else {
                Err(Invalid::new(
                    field,
                    raw.unwrap_or_default(),
                    "is not a point on the P-256 curve",
                ))
            }
        }
        _ => Err(Invalid::new(
            field,
            raw.unwrap_or_default(),
            "must be a base64url uncompressed P-256 public key (65 bytes)",
        )),
    }
}

/// An `auth` secret: 16 octets, returned as base64url without padding.
fn web_push_auth(raw: Option<&str>) -> Result<String, Invalid> {
    match decode_key(raw) {
        Some(bytes) if bytes.len() == AUTH_LEN => Ok(B64.encode(bytes)),
        _ => Err(Invalid::new(
            "subscription.keys.auth",
            raw.unwrap_or_default(),
            "must be a base64url 16-byte authentication secret",
        )),
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

/// A stored subscription: one device of one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub member_id: MemberId,
    pub device_id: DeviceId,
    pub target: PushTarget,
}

/// When a member's subscription was last used: its device's latest subscribe call or its latest successful
/// push (recorded to the day), whichever is later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionUse {
    pub id: SubscriptionId,
    pub device_id: DeviceId,
    pub last_used: Timestamp,
}

/// The cap on a member's subscriptions: after `device` subscribed, the member has `subscriptions`; if that is
/// more than `cap`, the least recently used of the others (the oldest id first among equals) are replaced —
/// never `device`'s own. Returns the ones to delete.
pub fn over_cap(
    subscriptions: &[SubscriptionUse],
    device: &DeviceId,
    cap: usize,
) -> Vec<SubscriptionId> {
    let excess = subscriptions.len().saturating_sub(cap.max(1));
    let mut others: Vec<&SubscriptionUse> = subscriptions
        .iter()
        .filter(|s| &s.device_id != device)
        .collect();
    others.sort_by_key(|s| (s.last_used, s.id.get()));
    others.into_iter().take(excess).map(|s| s.id).collect()
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
        assert_eq!(ok.kind().as_str(), "webpush");
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
    fn kinds_are_stored_as_their_labels() {
        for kind in [PushKind::Fcm, PushKind::WebPush] {
            assert_eq!(PushKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(PushKind::parse("apns"), None);
    }

    fn used(id: i64, device: &str, day: i64) -> SubscriptionUse {
        SubscriptionUse {
            id: SubscriptionId(id),
            device_id: DeviceId::stored(device.to_string()),
            last_used: Timestamp::from_second(day * 86_400).unwrap(),
        }
    }

    #[test]
    fn over_the_cap_the_least_recently_used_other_devices_are_replaced() {
        let new = DeviceId::stored("new".to_string());
        // Three subscriptions with a cap of three: nothing to replace.
        let three = [used(1, "a", 5), used(2, "b", 1), used(3, "new", 9)];
        assert!(over_cap(&three, &new, 3).is_empty());
        // Five with a cap of three: the two least recently used others go, by last use then id.
        let five = [
            used(1, "a", 5),
            used(2, "b", 1),
            used(3, "c", 7),
            used(4, "d", 1),
            used(5, "new", 0),
        ];
        assert_eq!(
            over_cap(&five, &new, 3),
            vec![SubscriptionId(2), SubscriptionId(4)]
        );
        // The device that just subscribed is never replaced, even when it is the least recently used.
        assert!(!over_cap(&five, &new, 1).contains(&SubscriptionId(5)));
        assert_eq!(over_cap(&five, &new, 1).len(), 4);
        // A cap of zero counts as one.
        assert_eq!(over_cap(&five, &new, 0), over_cap(&five, &new, 1));
    }
}
