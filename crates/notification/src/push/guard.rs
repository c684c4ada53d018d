//! The connect-time half of the SSRF rule ([`crate::domain::endpoint`]), the kernel's
//! ([`pinit_kernel::net::guard`]): the push client resolves host names through its public-address resolver, so a
//! name that passed the URL check cannot be rebound to an internal address by DNS. Redirects are not followed and
//! response bodies are capped by the senders. A refusal is a [`NotPublic`] error in the send's error chain
//! ([`refused`]): the send is [`SendOutcome::Refused`](crate::domain::SendOutcome::Refused), permanent, not
//! retried.

use std::sync::Arc;

pub use pinit_kernel::net::guard::{NotPublic, PublicResolver, refused};

use crate::domain::endpoint::EndpointPolicy;

/// The resolver the push client connects through: drops non-public addresses unless `policy` allows insecure
/// endpoints.
pub(crate) fn resolver(policy: &EndpointPolicy) -> Arc<PublicResolver> {
    policy.url.resolver()
}
