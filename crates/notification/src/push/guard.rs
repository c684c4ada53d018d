//! The connect-time half of the SSRF rule ([`crate::domain::endpoint`]): the push client resolves host names
//! through [`PublicResolver`], which drops non-public addresses, so a name that passed the URL check cannot be
//! rebound to an internal address by DNS. Redirects are not followed and response bodies are capped by the
//! senders. A refusal is a [`NotPublic`] error in the send's error chain ([`refused`]): the send is
//! [`SendOutcome::Refused`](crate::domain::SendOutcome::Refused), permanent, not retried.

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::endpoint::{EndpointPolicy, is_public};

/// The resolver the push client connects through: drops non-public addresses unless `policy` allows insecure
/// endpoints.
pub(crate) fn resolver(policy: &EndpointPolicy) -> Arc<PublicResolver> {
    Arc::new(PublicResolver {
        allow_insecure: policy.allow_insecure,
    })
}

/// The guard refused to connect: `host` resolves to no public address.
#[derive(Debug, thiserror::Error)]
#[error("{host} has no public address")]
pub struct NotPublic {
    pub host: String,
}

/// The guard's refusal, if that is what made `error` (anywhere in its chain of sources).
pub(crate) fn refused<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a NotPublic> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = next {
        if let Some(refusal) = e.downcast_ref::<NotPublic>() {
            return Some(refusal);
        }
        next = e.source();
    }
    None
}

/// A DNS resolver that returns only public addresses (or all of them when insecure endpoints are allowed).
pub(crate) struct PublicResolver {
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

    #[tokio::test]
    async fn the_resolver_drops_private_addresses() {
        let strict = PublicResolver {
            allow_insecure: false,
        };
        let err = strict
            .resolve("localhost".parse().unwrap())
            .await
            .map(|_| ())
            .expect_err("localhost is not public");
        assert!(err.to_string().contains("no public address"), "{err}");
        assert_eq!(refused(&*err).map(|r| r.host.as_str()), Some("localhost"));
        let insecure = PublicResolver {
            allow_insecure: true,
        };
        let found: Vec<SocketAddr> = insecure
            .resolve("localhost".parse().unwrap())
            .await
            .map_err(|e| e.to_string())
            .expect("resolves")
            .collect();
        assert!(found.iter().all(|a| a.ip().is_loopback()), "{found:?}");
    }
}
