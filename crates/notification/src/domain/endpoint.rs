//! Which Web Push endpoints the server may call (the SSRF rule).
//!
//! A subscription's endpoint is a URL the *client* chose, and the dispatcher POSTs to it: without a rule a
//! member could make the server call its own internal network. So an endpoint must be `https` on a public
//! address — checked when the subscription is stored and again before every send (IP literals). Host names are
//! checked at connect time too, by the push client's resolver (`pinit_kernel::net::guard`), so DNS cannot rebind a
//! name to an internal address after this check.
//!
//! Only the setting `notification.allow_insecure_endpoints` lifts the rule, for tests and local development
//! against a fake push service on `http://127.0.0.1`.

use pinit_kernel::net::guard::UrlPolicy;

pub use pinit_kernel::net::guard::{UrlError as EndpointError, is_public};

/// Longest endpoint URL accepted.
pub const MAX_ENDPOINT_LEN: usize = 2048;

/// Which push endpoints the server may call: the kernel's SSRF rule ([`pinit_kernel::net::guard`]) with the
/// endpoint's length limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointPolicy {
    pub(crate) url: UrlPolicy,
}

impl EndpointPolicy {
    /// The policy `notification.allow_insecure_endpoints` asks for.
    pub const fn new(allow_insecure_endpoints: bool) -> Self {
        Self {
            url: UrlPolicy::new(allow_insecure_endpoints),
        }
    }

    /// The production policy.
    pub const fn strict() -> Self {
        Self::new(false)
    }

    /// What `notification.allow_insecure_endpoints` turns on: `http` and loopback/private targets (tests).
    pub const fn insecure() -> Self {
        Self::new(true)
    }

    /// Checks an endpoint URL; returns it parsed.
    pub fn check(&self, endpoint: &str) -> Result<url::Url, EndpointError> {
        self.url.check(endpoint, MAX_ENDPOINT_LEN)
    }
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
            Err(EndpointError::TooLong {
                max: MAX_ENDPOINT_LEN
            })
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
