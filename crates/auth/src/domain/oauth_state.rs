//! An OAuth login in flight: the state the callback must bring back, and the checks it makes (docs/adr/0005,
//! "OAuth"): the state is used once (the store takes it out), within its lifetime, for the provider it was
//! issued for, by the browser that started the login.

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;

/// How long a started OAuth login may take.
pub const OAUTH_STATE_TTL: Duration = Duration::from_secs(5 * 60);

/// A stored OAuth state (the state itself is stored only as its digest, the key of the row).
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthState {
    pub provider: String,
    /// Digest of the browser-binding secret set as a cookie when the login started.
    pub binding_hash: String,
    /// The PKCE verifier, when the provider uses PKCE.
    pub pkce_verifier: Option<String>,
    pub expires_at: Timestamp,
}

impl fmt::Debug for OAuthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthState")
            .field("provider", &self.provider)
            .field(
                "pkce_verifier",
                &self.pkce_verifier.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Why a callback's state is refused; the message is the 400's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub enum StateRefused {
    Expired,
    OtherProvider,
    OtherBrowser,
}

impl StateRefused {
    pub fn message(self) -> &'static str {
        match self {
            StateRefused::Expired => "Invalid or expired state",
            StateRefused::OtherProvider => "State does not belong to this provider",
            StateRefused::OtherBrowser => "State does not belong to this browser",
        }
    }
}

impl OAuthState {
    /// Checks a taken state for a callback of `provider` at `now`, from a browser whose binding cookie has the
    /// digest `binding_hash` (`None` without the cookie). Expiry first, then provider, then browser; at
    /// `expires_at` itself the state is expired.
    pub fn check(
        &self,
        provider: &str,
        binding_hash: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StateRefused> {
        if self.expires_at.as_microsecond() <= now.as_microsecond() {
            return Err(StateRefused::Expired);
        }
        if self.provider != provider {
            return Err(StateRefused::OtherProvider);
        }
        if binding_hash != Some(self.binding_hash.as_str()) {
            return Err(StateRefused::OtherBrowser);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn state() -> OAuthState {
        OAuthState {
            provider: "idp".into(),
            binding_hash: "b1nd".into(),
            pkce_verifier: Some("verifier".into()),
            expires_at: at(300),
        }
    }

    #[test]
    fn a_state_is_good_for_its_provider_and_browser_until_it_expires() {
        assert_eq!(state().check("idp", Some("b1nd"), at(299)), Ok(()));
        assert_eq!(
            state().check("idp", Some("b1nd"), at(300)),
            Err(StateRefused::Expired)
        );
        assert_eq!(
            state().check("naver", Some("b1nd"), at(0)),
            Err(StateRefused::OtherProvider)
        );
        assert_eq!(
            state().check("idp", Some("other"), at(0)),
            Err(StateRefused::OtherBrowser)
        );
        assert_eq!(
            state().check("idp", None, at(0)),
            Err(StateRefused::OtherBrowser)
        );
    }

    #[test]
    fn expiry_is_checked_before_provider_and_browser() {
        assert_eq!(
            state().check("naver", None, at(301)),
            Err(StateRefused::Expired)
        );
        assert_eq!(
            state().check("naver", None, at(0)),
            Err(StateRefused::OtherProvider)
        );
        assert_eq!(
            StateRefused::Expired.to_string(),
            "Invalid or expired state"
        );
    }

    #[test]
    fn the_verifier_stays_out_of_debug() {
        let shown = format!("{:?}", state());
        assert!(!shown.contains("verifier\""), "{shown}");
        assert!(!shown.contains("b1nd"), "{shown}");
    }
}
