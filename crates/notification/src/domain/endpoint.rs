//! Which Web Push endpoints the server may call (the SSRF rule).
//!
//! A subscription's endpoint is a URL the *client* chose, and the dispatcher POSTs to it: without a rule a
//! member could make the server call its own internal network. So an endpoint must be `https` on a public
//! address — checked when the subscription is stored and again before every send (IP literals). Host names are
//! checked at connect time too, by the push client's resolver (`crate::push::guard`), so DNS cannot rebind a
//! name to an internal address after this check.
//!
//! Only the setting `notification.allow_insecure_endpoints` lifts the rule, for tests and local development
//! against a fake push service on `http://127.0.0.1`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest endpoint URL accepted.
pub const MAX_ENDPOINT_LEN: usize = 2048;

/// Which push endpoints the server may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointPolicy {
    pub(crate) allow_insecure: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("is not a URL")]
    NotUrl,
    #[error("is longer than {MAX_ENDPOINT_LEN} characters")]
    TooLong,
    #[error("must use https")]
    NotHttps,
    #[error("must not carry a user name or password")]
    Credentials,
    #[error("has no host")]
    NoHost,
    #[error("must be on a public address, not {0}")]
    NotPublic(String),
}

impl EndpointPolicy {
    /// The policy `notification.allow_insecure_endpoints` asks for.
    pub const fn new(allow_insecure_endpoints: bool) -> Self {
        Self {
            allow_insecure: allow_insecure_endpoints,
        }
    }

    /// The production policy.
    pub const fn strict() -> Self {
        Self {
            allow_insecure: false,
        }
    }

    /// What `notification.allow_insecure_endpoints` turns on: `http` and loopback/private targets (tests).
    pub const fn insecure() -> Self {
        Self {
            allow_insecure: true,
        }
    }

    /// Checks an endpoint URL; returns it parsed.
    pub fn check(&self, endpoint: &str) -> Result<url::Url, EndpointError> {
        if endpoint.len() > MAX_ENDPOINT_LEN {
            return Err(EndpointError::TooLong);
        }
        let url = url::Url::parse(endpoint).map_err(|_| EndpointError::NotUrl)?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_insecure => {}
            _ => return Err(EndpointError::NotHttps),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(EndpointError::Credentials);
        }
        let host = url.host().ok_or(EndpointError::NoHost)?;
        if self.allow_insecure {
            return Ok(url);
        }
        match host {
            url::Host::Ipv4(ip) if !is_public(IpAddr::V4(ip)) => {
                Err(EndpointError::NotPublic(ip.to_string()))
            }
            url::Host::Ipv6(ip) if !is_public(IpAddr::V6(ip)) => {
                Err(EndpointError::NotPublic(ip.to_string()))
            }
            url::Host::Domain(name) if is_local_name(name) => {
                Err(EndpointError::NotPublic(name.to_string()))
            }
            _ => Ok(url),
        }
    }
}

/// Names that never resolve to the public internet.
fn is_local_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || [".localhost", ".local", ".internal", ".home.arpa", ".lan"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
        || !name.contains('.')
}

/// Whether `ip` is a globally routable unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            is_public_v6(v6)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link local
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64 (could reach private IPv4)
        || s[0] == 0x2002 // 6to4 (embeds an IPv4 address)
        || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0 && s[5] == 0)) // IPv4-compatible
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_on_public_addresses_passes_the_strict_policy() {
        let strict = EndpointPolicy::strict();
        assert!(
            strict
                .check("https://fcm.googleapis.com/fcm/send/abc:def")
                .is_ok()
        );
        assert!(
            strict
                .check("https://updates.push.services.mozilla.com/wpush/v2/gAAA")
                .is_ok()
        );
        assert!(strict.check("https://8.8.8.8/push").is_ok());
        for (endpoint, expected) in [
            ("http://push.example.com/x", EndpointError::NotHttps),
            ("ftp://push.example.com/x", EndpointError::NotHttps),
            ("not a url", EndpointError::NotUrl),
            (
                "https://user:pw@push.example.com/x",
                EndpointError::Credentials,
            ),
            (
                "https://127.0.0.1/x",
                EndpointError::NotPublic("127.0.0.1".into()),
            ),
            (
                "https://10.1.2.3/x",
                EndpointError::NotPublic("10.1.2.3".into()),
            ),
            (
                "https://169.254.169.254/latest/meta-data",
                EndpointError::NotPublic("169.254.169.254".into()),
            ),
            ("https://[::1]/x", EndpointError::NotPublic("::1".into())),
            (
                "https://[::ffff:192.168.0.1]/x",
                EndpointError::NotPublic("::ffff:192.168.0.1".into()),
            ),
            (
                "https://[fd00::1]/x",
                EndpointError::NotPublic("fd00::1".into()),
            ),
            (
                "https://localhost/x",
                EndpointError::NotPublic("localhost".into()),
            ),
            (
                "https://task.pinit.svc.cluster.local/x",
                EndpointError::NotPublic("task.pinit.svc.cluster.local".into()),
            ),
            ("https://task/x", EndpointError::NotPublic("task".into())),
        ] {
            assert_eq!(strict.check(endpoint), Err(expected), "{endpoint}");
        }
        assert_eq!(
            strict.check(&format!(
                "https://a.example/{}",
                "x".repeat(MAX_ENDPOINT_LEN)
            )),
            Err(EndpointError::TooLong)
        );
    }

    #[test]
    fn the_insecure_policy_allows_local_http_but_not_other_schemes() {
        let insecure = EndpointPolicy::insecure();
        assert!(insecure.check("http://127.0.0.1:9999/push/1").is_ok());
        assert!(insecure.check("https://localhost/x").is_ok());
        assert_eq!(
            insecure.check("file:///etc/passwd"),
            Err(EndpointError::NotHttps)
        );
    }
}
