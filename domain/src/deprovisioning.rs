//! IdM deprovisioning (SPEC R22): what happens to a row when the IdM reports one of its users
//! gone, the circuit breaker that stops an IdM glitch from revoking a university's certificates,
//! and the values the worklist and the operators' page show.
//!
//! The server decides with these functions and the browser renders the very same types.

use serde::{Deserialize, Serialize};

/// A domain's choice, made by its NAPs, of what a leaver's personal row gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum DeprovisionMode {
    /// The row is deactivated and the leaver's certificates revoked at once (the default: the
    /// S/MIME BR give 5 days, and the IdM is the organisation's own word).
    #[default]
    Revoke,
    /// The row goes on the worklist as a proposal; a NAP accepts it (the one-step leaver, R19)
    /// or dismisses it.
    Propose,
}

impl DeprovisionMode {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeprovisionMode::Revoke => "revoke",
            DeprovisionMode::Propose => "propose",
        }
    }

    /// The mode of a stored spelling; `None` for anything else.
    pub fn parse(text: &str) -> Option<DeprovisionMode> {
        match text {
            "revoke" => Some(DeprovisionMode::Revoke),
            "propose" => Some(DeprovisionMode::Propose),
            _ => None,
        }
    }
}

/// What a leaver's row gets (R22), by the row and the leaver's place in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeaverRowKind {
    /// A personal row whose links are all the leaver's (or that has none left): deactivated,
    /// their certificates revoked — or proposed, per domain setting.
    Personal,
    /// A functional row whose applicant left: it stays active, the leaver's links go, their
    /// certificates are revoked, and the NAPs are asked for a new applicant (S7).
    Functional,
    /// A personal row linked to other users as well, or no longer to the leaver at all (they
    /// still hold a certificate for it): only the leaver's links and certificates go.
    Shared,
}

impl LeaverRowKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LeaverRowKind::Personal => "personal",
            LeaverRowKind::Functional => "functional",
            LeaverRowKind::Shared => "shared",
        }
    }

    /// The kind of a stored spelling; `None` for anything else.
    pub fn parse(text: &str) -> Option<LeaverRowKind> {
        match text {
            "personal" => Some(LeaverRowKind::Personal),
            "functional" => Some(LeaverRowKind::Functional),
            "shared" => Some(LeaverRowKind::Shared),
            _ => None,
        }
    }
}

/// R22: the kind of a row the leaver is linked to or holds a valid certificate for;
/// `leaver_links` and `other_links` count the row's links to the leaver and to anybody else.
pub fn leaver_row_kind(functional: bool, leaver_links: u32, other_links: u32) -> LeaverRowKind {
    if functional {
        LeaverRowKind::Functional
    } else if leaver_links > 0 && other_links == 0 {
        // Linked only to the leaver: the mailbox is the leaver's. (A row they are no longer
        // linked to, where they still hold a certificate, has moved on: only that goes.)
        LeaverRowKind::Personal
    } else {
        LeaverRowKind::Shared
    }
}

/// The circuit breaker's limits (configured in the portal's `deprovisioning` section).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerLimits {
    /// It trips when more than this many users are deprovisioned within the window.
    pub max_per_window: u32,
    /// … or more than this percentage of the users linked to any address …
    pub max_percent: u32,
    /// … but the percentage never trips it at this many or fewer (a small portal's two leavers
    /// are no glitch).
    pub percent_floor: u32,
}

/// R22: whether the `count`-th deprovisioning within the window (this one included) trips the
/// breaker, with `linked_users` users linked to any address before it.
pub fn breaker_trips(limits: &BreakerLimits, count: u64, linked_users: u64) -> bool {
    if count > u64::from(limits.max_per_window) {
        return true;
    }
    count > u64::from(limits.percent_floor)
        && count.saturating_mul(100) > linked_users.saturating_mul(u64::from(limits.max_percent))
}

/// A personal row the IdM says its user left, waiting in the worklist (R19, R22) for a NAP of a
/// domain set to "propose".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeprovisionProposal {
    /// The proposal's id (for accepting or dismissing it).
    pub id: i64,
    /// The row.
    pub row_id: i64,
    /// Its primary address.
    pub primary: String,
    /// The row's name as the table shows it.
    pub name: String,
    /// The leaver's user ID.
    pub user_id: String,
    /// Their name from the IdM (the user ID when the IdM gave none).
    pub user_name: String,
    /// When the IdM reported it.
    pub reported_at: i64,
    /// Who reported it (`scim:<token>`).
    pub reported_by: String,
    /// The leaver's certificates for the row that are valid now (accepting revokes them).
    pub certificates: usize,
}

/// One row of a deprovisioning the circuit breaker held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldRow {
    /// The row's domain.
    pub domain: String,
    /// Its primary address.
    pub primary: String,
    /// What confirming would do to it.
    pub kind: LeaverRowKind,
}

/// A deprovisioning the circuit breaker held for an operator (R22): confirming applies it to
/// the rows as they are then, discarding drops it. The sessions ended already.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldDeprovisioning {
    /// Its id.
    pub id: i64,
    /// The leaver's user ID.
    pub user_id: String,
    /// Their name from the IdM (the user ID when the portal never saw them).
    pub user_name: String,
    /// When the IdM reported it.
    pub at: i64,
    /// Who reported it (`scim:<token>`).
    pub actor: String,
    /// The rows it concerns.
    pub rows: Vec<HeldRow>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: BreakerLimits = BreakerLimits {
        max_per_window: 20,
        max_percent: 5,
        percent_floor: 5,
    };

    #[test]
    fn r22_row_kinds() {
        assert_eq!(leaver_row_kind(false, 2, 0), LeaverRowKind::Personal);
        assert_eq!(leaver_row_kind(false, 1, 1), LeaverRowKind::Shared);
        assert_eq!(leaver_row_kind(false, 0, 0), LeaverRowKind::Shared);
        assert_eq!(leaver_row_kind(false, 0, 1), LeaverRowKind::Shared);
        assert_eq!(leaver_row_kind(true, 1, 0), LeaverRowKind::Functional);
        assert_eq!(leaver_row_kind(true, 0, 2), LeaverRowKind::Functional);
    }

    #[test]
    fn r22_breaker_trips_above_the_count_or_the_share() {
        // A large portal: the absolute count decides.
        assert!(!breaker_trips(&LIMITS, 20, 100_000));
        assert!(breaker_trips(&LIMITS, 21, 100_000));
        // A mid-sized one: 5 % of 200 linked users is 10.
        assert!(!breaker_trips(&LIMITS, 10, 200));
        assert!(breaker_trips(&LIMITS, 11, 200));
        // A small one: the floor keeps a handful of leavers from tripping it.
        assert!(!breaker_trips(&LIMITS, 5, 10));
        assert!(breaker_trips(&LIMITS, 6, 10));
    }

    #[test]
    fn r22_stored_spellings_round_trip() {
        for mode in [DeprovisionMode::Revoke, DeprovisionMode::Propose] {
            assert_eq!(DeprovisionMode::parse(mode.as_str()), Some(mode));
        }
        for kind in [
            LeaverRowKind::Personal,
            LeaverRowKind::Functional,
            LeaverRowKind::Shared,
        ] {
            assert_eq!(LeaverRowKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(DeprovisionMode::parse("Revoke"), None);
    }
}
