//! The SSRF rule for URLs a member chose (a Web Push endpoint, a subscribed calendar): the server must not be made
//! to call its own internal network.
//!
//! Two halves, both needed:
//!
//! * [`UrlPolicy::check`] — on the URL: `https` only, no user name or password, and a host that is not a
//!   private, loopback, link-local or otherwise non-public IP literal, nor a name that never resolves publicly
//!   (`localhost`, `*.local`, `*.internal`, a name without a dot).
//! * [`UrlPolicy::resolver`] — at connect time: a reqwest DNS resolver that drops every non-public address, so a
//!   name that passed the URL check cannot be rebound by DNS to an internal address afterwards. A refusal is a
//!   [`NotPublic`] error somewhere in the request's error chain ([`refused`]).
//! * [`UrlPolicy::redirects`] — a redirect policy that re-checks every `Location` with the same rule (the
//!   resolver still guards the connection), up to a limit.
//! * [`UrlPolicy::client`] — the client builder of a sender that POSTs to such URLs (Web Push, webhooks): the
//!   resolver, no proxy, no redirects followed, a timeout per request.
//!
//! Only an `allow_insecure` policy lifts the rule (`http`, private and loopback targets) — for tests and local
//! development against a fake server on `http://127.0.0.1`; never in production.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Which URLs the server may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlPolicy {
    allow_insecure: bool,
}

/// Why a URL is refused (the messages complete "the URL …").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("is not a URL")]
    NotUrl,
    #[error("is longer than {max} characters")]
    TooLong { max: usize },
    #[error("must use https")]
    NotHttps,
    #[error("must not carry a user name or password")]
    Credentials,
    #[error("has no host")]
    NoHost,
    #[error("must be on a public address, not {0}")]
    NotPublic(String),
}

impl UrlError {
    /// A stable code of the refusal, for clients that show their own words (`URL_NOT_HTTPS`, …).
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NotUrl | Self::NoHost => "URL_INVALID",
            Self::TooLong { .. } => "URL_TOO_LONG",
            Self::NotHttps => "URL_NOT_HTTPS",
            Self::Credentials => "URL_CREDENTIALS",
            Self::NotPublic(_) => "URL_NOT_PUBLIC",
        }
    }
}

impl UrlPolicy {
    /// `allow_insecure`: what an `allow_insecure_*` setting asks for.
    pub const fn new(allow_insecure: bool) -> Self {
        Self { allow_insecure }
    }

    /// The production policy.
    pub const fn strict() -> Self {
        Self::new(false)
    }

    /// `http` and loopback/private targets allowed (tests, local development).
    pub const fn insecure() -> Self {
        Self::new(true)
    }

    pub const fn allows_insecure(&self) -> bool {
        self.allow_insecure
    }

    /// Checks a URL of at most `max_len` characters; returns it parsed.
    pub fn check(&self, text: &str, max_len: usize) -> Result<url::Url, UrlError> {
        if text.len() > max_len {
            return Err(UrlError::TooLong { max: max_len });
        }
        let url = url::Url::parse(text).map_err(|_| UrlError::NotUrl)?;
        self.check_url(&url)?;
        Ok(url)
    }

    /// Checks a parsed URL (a redirect's target).
    pub fn check_url(&self, url: &url::Url) -> Result<(), UrlError> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_insecure => {}
            _ => return Err(UrlError::NotHttps),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlError::Credentials);
        }
        let host = url.host().ok_or(UrlError::NoHost)?;
        if self.allow_insecure {
            return Ok(());
        }
        match host {
            url::Host::Ipv4(ip) if !is_public(IpAddr::V4(ip)) => {
                Err(UrlError::NotPublic(ip.to_string()))
            }
            url::Host::Ipv6(ip) if !is_public(IpAddr::V6(ip)) => {
                Err(UrlError::NotPublic(ip.to_string()))
            }
            url::Host::Domain(name) if is_local_name(name) => {
                Err(UrlError::NotPublic(name.to_string()))
            }
            _ => Ok(()),
        }
    }

    /// The resolver a client calling such URLs connects through: drops non-public addresses unless the policy
    /// allows insecure targets. (Give the client `.no_proxy()` too: a proxy resolves names itself.)
    pub fn resolver(&self) -> Arc<PublicResolver> {
        Arc::new(PublicResolver {
            allow_insecure: self.allow_insecure,
        })
    }

    /// The start of a client that POSTs to URLs of this policy (push endpoints, webhooks): the HTTPS roots
    /// ([`crate::tls::https_client`]), connections only through [`UrlPolicy::resolver`] and never through a proxy
    /// (a proxy would resolve names itself, around the guard), **no redirect followed** (a push service or a
    /// webhook receiver never needs one, an attacker's URL might use one), `timeout` per request (connect +
    /// answer; connecting at most 5 s of it). Callers add their pool size and user agent; one that must follow
    /// redirects replaces the redirect policy with [`UrlPolicy::redirects`].
    pub fn client(&self, timeout: std::time::Duration) -> reqwest::ClientBuilder {
        crate::tls::https_client()
            .timeout(timeout)
            .connect_timeout(timeout.min(std::time::Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(self.resolver())
    }

    /// Follows at most `max` redirects, each target checked like the first URL (a refused one stops with the
    /// refusal as the error).
    pub fn redirects(&self, max: usize) -> reqwest::redirect::Policy {
        let policy = *self;
        reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > max {
                return attempt.error(TooManyRedirects { max });
            }
            match policy.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(e) => {
                    let refusal = RedirectRefused {
                        url: attempt.url().to_string(),
                        reason: e,
                    };
                    attempt.error(refusal)
                }
            }
        })
    }
}

/// More redirects than [`UrlPolicy::redirects`] follows.
#[derive(Debug, thiserror::Error)]
#[error("more than {max} redirects")]
pub struct TooManyRedirects {
    pub max: usize,
}

/// A redirect to a URL the policy refuses.
#[derive(Debug, thiserror::Error)]
#[error("a redirect to {url}: the URL {reason}")]
pub struct RedirectRefused {
    pub url: String,
    pub reason: UrlError,
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

/// The guard refused to connect: `host` resolves to no public address.
#[derive(Debug, thiserror::Error)]
#[error("{host} has no public address")]
pub struct NotPublic {
    pub host: String,
}

/// The guard's refusal, if that is what made `error` (anywhere in its chain of sources).
pub fn refused<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a NotPublic> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = next {
        if let Some(refusal) = e.downcast_ref::<NotPublic>() {
            return Some(refusal);
        }
        next = e.source();
    }
    None
}

/// A DNS resolver that returns only public addresses (or all of them when insecure targets are allowed).
pub struct PublicResolver {
    allow_insecure: bool,
}

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_insecure = self.allow_insecure;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| allow_insecure || is_public(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err(
                    Box::new(NotPublic { host }) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 2048;

    #[test]
    fn only_https_on_public_addresses_passes_the_strict_policy() {
        let strict = UrlPolicy::strict();
        assert!(
            strict
                .check("https://fcm.googleapis.com/fcm/send/abc:def", MAX)
                .is_ok()
        );
        assert!(
            strict
                .check("https://calendar.google.com/calendar/ical/x/basic.ics", MAX)
                .is_ok()
        );
        assert!(strict.check("https://8.8.8.8/push", MAX).is_ok());
        for (url, expected) in [
            ("http://push.example.com/x", UrlError::NotHttps),
            ("ftp://push.example.com/x", UrlError::NotHttps),
            ("webcal://push.example.com/x", UrlError::NotHttps),
            ("not a url", UrlError::NotUrl),
            ("https://user:pw@push.example.com/x", UrlError::Credentials),
            (
                "https://127.0.0.1/x",
                UrlError::NotPublic("127.0.0.1".into()),
            ),
            ("https://10.1.2.3/x", UrlError::NotPublic("10.1.2.3".into())),
            (
                "https://169.254.169.254/latest/meta-data",
                UrlError::NotPublic("169.254.169.254".into()),
            ),
            ("https://[::1]/x", UrlError::NotPublic("::1".into())),
            (
                "https://[::ffff:192.168.0.1]/x",
                UrlError::NotPublic("::ffff:192.168.0.1".into()),
            ),
            ("https://[fd00::1]/x", UrlError::NotPublic("fd00::1".into())),
            (
                "https://localhost/x",
                UrlError::NotPublic("localhost".into()),
            ),
            (
                "https://task.pinit.svc.cluster.local/x",
                UrlError::NotPublic("task.pinit.svc.cluster.local".into()),
            ),
            ("https://task/x", UrlError::NotPublic("task".into())),
        ] {
            assert_eq!(strict.check(url, MAX), Err(expected), "{url}");
        }
        assert_eq!(
            strict.check(&format!("https://a.example/{}", "x".repeat(MAX)), MAX),
            Err(UrlError::TooLong { max: MAX })
        );
    }

    #[test]
    fn the_insecure_policy_allows_local_http_but_not_other_schemes() {
        let insecure = UrlPolicy::insecure();
        assert!(insecure.check("http://127.0.0.1:9999/push/1", MAX).is_ok());
        assert!(insecure.check("https://localhost/x", MAX).is_ok());
        assert_eq!(
            insecure.check("file:///etc/passwd", MAX),
            Err(UrlError::NotHttps)
        );
    }

    #[tokio::test]
    async fn the_resolver_drops_private_addresses() {
        let strict = UrlPolicy::strict().resolver();
        let err = strict
            .resolve("localhost".parse().unwrap())
            .await
            .map(|_| ())
            .expect_err("localhost is not public");
        assert!(err.to_string().contains("no public address"), "{err}");
        assert_eq!(refused(&*err).map(|r| r.host.as_str()), Some("localhost"));
        let found: Vec<SocketAddr> = UrlPolicy::insecure()
            .resolver()
            .resolve("localhost".parse().unwrap())
            .await
            .map_err(|e| e.to_string())
            .expect("resolves")
            .collect();
        assert!(found.iter().all(|a| a.ip().is_loopback()), "{found:?}");
    }

    #[tokio::test]
    async fn a_redirect_to_a_private_address_is_refused() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 302 Found\r\nLocation: https://10.0.0.1/x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    )
                    .await;
            }
        });
        // The first hop is allowed by an insecure policy; what it redirects to is checked by a strict one.
        let strict_redirects = reqwest::Client::builder()
            .redirect(UrlPolicy::strict().redirects(3))
            .build()
            .unwrap();
        let err = strict_redirects
            .get(format!("http://{addr}/"))
            .send()
            .await
            .expect_err("refused");
        let chain = {
            let mut s = err.to_string();
            let mut e: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&err);
            while let Some(x) = e {
                s.push_str(&format!(": {x}"));
                e = x.source();
            }
            s
        };
        assert!(
            chain.contains("must be on a public address, not 10.0.0.1"),
            "{chain}"
        );
    }
}
