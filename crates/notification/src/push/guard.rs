//! The connect-time half of the SSRF rule ([`crate::domain::endpoint`]), the kernel's
//! ([`pinit_kernel::net::guard`]): the push client resolves host names through its public-address resolver, so a
//! name that passed the URL check cannot be rebound to an internal address by DNS. Redirects are not followed and
//! response bodies are capped by the senders. A refusal is a [`NotPublic`] error in the send's error chain
//! ([`refused`]): the send is [`SendOutcome::Refused`](crate::domain::SendOutcome::Refused), permanent, not
//! retried.
//!
//! The push and webhook clients are built by [`UrlPolicy::client`](pinit_kernel::net::guard::UrlPolicy::client)
//! with the [`EndpointPolicy`](crate::domain::EndpointPolicy)'s rule.

pub use pinit_kernel::net::guard::{NotPublic, PublicResolver, refused};
