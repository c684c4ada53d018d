//! Refresh-token families and the rule a presented refresh token is judged by (docs/adr/0005, "Refresh tokens
//! and sessions"): a live token rotates; a token already rotated yields an access token only inside the grace
//! window (a concurrent refresh of the same client won the race); after it, a token whose successor was never
//! used is issued a new successor (the client lost the answer that carried it: a crash, a dropped connection),
//! and one whose successor was used is reuse of a stolen token, which revokes the whole family.

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;

use super::MemberId;

/// A refresh-token family: one login's chain of rotated tokens. A UUID (v7) as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FamilyId(String);

impl FamilyId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<uuid::Uuid> for FamilyId {
    fn from(id: uuid::Uuid) -> Self {
        Self(id.to_string())
    }
}

impl fmt::Display for FamilyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a family was revoked (`refresh_family.revoked_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// A rotated token was presented after the grace window.
    Reuse,
    Logout,
    /// The member changed their password (every other session ends).
    PasswordChange,
    /// An operator reset the password (`pinit user reset-password`).
    PasswordReset,
    /// An operator disabled the member (`pinit user disable`).
    Disabled,
}

impl Revocation {
    pub fn as_str(self) -> &'static str {
        match self {
            Revocation::Reuse => "reuse",
            Revocation::Logout => "logout",
            Revocation::PasswordChange => "password-change",
            Revocation::PasswordReset => "password-reset",
            Revocation::Disabled => "disabled",
        }
    }
}

/// A presented refresh token, with its family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedRefresh {
    pub family: FamilyId,
    pub member: MemberId,
    pub expires_at: Timestamp,
    /// When it was exchanged for a successor, if it was.
    pub rotated_at: Option<Timestamp>,
    /// Whether that successor has been presented since (`None`: no successor is known — a token rotated before
    /// Pinit recorded successors, or one superseded by a re-issue).
    pub successor_used: Option<bool>,
    pub family_revoked: bool,
}

/// What a live token's presentation leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// Never rotated: mark it rotated and issue its successor with a new access token.
    Rotate,
    /// Rotated within the grace window: an access token, no new refresh token.
    Grace,
    /// Rotated before the grace window, and its successor never presented: the client lost the answer that
    /// carried the successor. Supersede that successor and issue another, with a new access token.
    Reissue,
    /// Rotated before the grace window, and its successor presented (or unknown): two holders of one session —
    /// one stole it. Revoke the whole family and refuse.
    Reuse,
}

/// Why a token is refused whatever its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.reason())]
pub enum DeadToken {
    Revoked,
    Expired,
}

impl DeadToken {
    /// The reason logged with the 401.
    pub fn reason(self) -> &'static str {
        match self {
            DeadToken::Revoked => "revoked refresh token",
            DeadToken::Expired => "expired refresh token",
        }
    }
}

impl PresentedRefresh {
    /// Judges the token at `now` with a `grace` window: a revoked family first, then expiry (at `expires_at`
    /// itself the token is expired), then its rotation. The grace window includes its end.
    pub fn verdict(&self, now: Timestamp, grace: Duration) -> Result<Rotation, DeadToken> {
        let now_us = now.as_microsecond();
        if self.family_revoked {
            return Err(DeadToken::Revoked);
        }
        if self.expires_at.as_microsecond() <= now_us {
            return Err(DeadToken::Expired);
        }
        let Some(rotated_at) = self.rotated_at else {
            return Ok(Rotation::Rotate);
        };
        let grace_us = i64::try_from(grace.as_micros()).unwrap_or(0);
        if now_us - rotated_at.as_microsecond() <= grace_us {
            Ok(Rotation::Grace)
        } else if self.successor_used == Some(false) {
            Ok(Rotation::Reissue)
        } else {
            Ok(Rotation::Reuse)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(10);

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    /// A token rotated at `rotated_at` whose successor was then presented (the usual chain).
    fn token(rotated_at: Option<Timestamp>, family_revoked: bool) -> PresentedRefresh {
        PresentedRefresh {
            family: FamilyId::new("0190b3c4-0000-7000-8000-000000000000"),
            member: MemberId(7),
            expires_at: at(100),
            rotated_at,
            successor_used: rotated_at.map(|_| true),
            family_revoked,
        }
    }

    #[test]
    fn a_live_token_rotates() {
        assert_eq!(
            token(None, false).verdict(at(0), GRACE),
            Ok(Rotation::Rotate)
        );
    }

    #[test]
    fn a_rotated_token_inside_the_grace_window_yields_only_an_access_token() {
        let t = token(Some(at(0)), false);
        assert_eq!(t.verdict(at(0), GRACE), Ok(Rotation::Grace));
        assert_eq!(t.verdict(at(10), GRACE), Ok(Rotation::Grace));
        // The database keeps microseconds: a fraction of one past the window is still inside it.
        let just_after = at(10)
            .checked_add(jiff::SignedDuration::from_nanos(999))
            .unwrap();
        assert_eq!(t.verdict(just_after, GRACE), Ok(Rotation::Grace));
    }

    #[test]
    fn a_rotated_token_after_the_grace_window_is_reuse() {
        let t = token(Some(at(0)), false);
        let after = at(10)
            .checked_add(jiff::SignedDuration::from_micros(1))
            .unwrap();
        assert_eq!(t.verdict(after, GRACE), Ok(Rotation::Reuse));
        assert_eq!(t.verdict(at(1), Duration::ZERO), Ok(Rotation::Reuse));
        // A successor not known (rotated before successors were recorded, or superseded): reuse too.
        let unknown = PresentedRefresh {
            successor_used: None,
            ..t
        };
        assert_eq!(unknown.verdict(after, GRACE), Ok(Rotation::Reuse));
    }

    #[test]
    fn a_rotated_token_whose_successor_was_never_presented_is_issued_another() {
        // The crash: the answer carrying the successor was lost, and the old cookie comes back later.
        let lost = PresentedRefresh {
            successor_used: Some(false),
            ..token(Some(at(0)), false)
        };
        assert_eq!(lost.verdict(at(60), GRACE), Ok(Rotation::Reissue));
        // Inside the grace window it is still the concurrent-refresh case.
        assert_eq!(lost.verdict(at(5), GRACE), Ok(Rotation::Grace));
        // Revoked or expired families stay dead.
        let revoked = PresentedRefresh {
            family_revoked: true,
            ..lost.clone()
        };
        assert_eq!(revoked.verdict(at(60), GRACE), Err(DeadToken::Revoked));
        assert_eq!(lost.verdict(at(100), GRACE), Err(DeadToken::Expired));
    }

    #[test]
    fn expired_and_revoked_tokens_are_dead_whatever_their_rotation() {
        assert_eq!(
            token(None, false).verdict(at(100), GRACE),
            Err(DeadToken::Expired)
        );
        assert_eq!(
            token(Some(at(95)), false).verdict(at(101), GRACE),
            Err(DeadToken::Expired)
        );
        assert_eq!(
            token(None, true).verdict(at(0), GRACE),
            Err(DeadToken::Revoked)
        );
        // Revocation is reported before expiry.
        assert_eq!(
            token(Some(at(0)), true).verdict(at(200), GRACE),
            Err(DeadToken::Revoked)
        );
        assert_eq!(DeadToken::Expired.to_string(), "expired refresh token");
        assert_eq!(DeadToken::Revoked.reason(), "revoked refresh token");
    }

    #[test]
    fn revocations_are_stored_by_name() {
        assert_eq!(Revocation::Reuse.as_str(), "reuse");
        assert_eq!(Revocation::Logout.as_str(), "logout");
        assert_eq!(Revocation::PasswordChange.as_str(), "password-change");
    }
}
