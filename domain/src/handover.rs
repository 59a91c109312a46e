//! The handover of an address (SPEC §6a, R17–R20): who may request now, the leaver's deadline,
//! and the evidence behind a certificate.
//!
//! These are the values the table, the worklist and a certificate's audit record show; the server
//! computes them and the browser renders the very same types.

use serde::{Deserialize, Serialize};

use crate::address::EmailAddress;

/// The S/MIME Baseline Requirements §4.9.1.1: a certificate must be revoked within 5 days once
/// the CA (here: the organisation's NAP) learns that its holder is no longer affiliated.
pub const LEAVER_DEADLINE_SECS: i64 = 5 * 86_400;

/// Within this much of its deadline a worklist entry is marked urgent (issue 17: "less than a day").
pub const URGENT_WITHIN_SECS: i64 = 86_400;

/// A certificate expiring within this much reads as "expiring soon" in the table (R17).
pub const EXPIRING_SOON_SECS: i64 = 30 * 86_400;

/// Most characters of the confirming client's user agent kept as evidence: enough for every real
/// browser's, bounded so a hostile client cannot fill the audit trail.
pub const MAX_USER_AGENT_CHARS: usize = 512;

/// R17, R18: the user an address is linked to, beside its challenge state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressLink {
    /// The linked user ID.
    pub user_id: String,
    /// Their name from the IdM (the user ID when the IdM gave none).
    pub user_name: String,
    /// When the link was made.
    pub since: i64,
    /// R18: a newer challenge round was sent for the address after this link was made, so the link
    /// allows no certificate request until a challenge of that round is confirmed.
    pub suspended: bool,
}

/// R18: whether a link made by confirming challenge `link_challenge` is suspended, given the newest
/// challenge sent for the address since. Challenge ids only grow, so "a newer round was sent"
/// is "a challenge with a higher id exists"; confirming that one replaces the link (R11) and the
/// link's challenge becomes the newest again.
pub fn link_suspended(link_challenge: i64, newest_challenge: Option<i64>) -> bool {
    newest_challenge.is_some_and(|newest| newest > link_challenge)
}

/// R17: a valid certificate of a row, as the table shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldCertificate {
    /// Database id.
    pub id: i64,
    /// Serial number (hex).
    pub serial: String,
    /// Who requested it (they hold its key).
    pub user_id: String,
    /// Their name from the IdM (the user ID when the IdM gave none).
    pub user_name: String,
    /// End of validity.
    pub not_after: i64,
    /// Within [`EXPIRING_SOON_SECS`] of its end.
    pub expiring_soon: bool,
}

/// Whether a certificate valid until `not_after` reads as expiring soon at `now` (R17).
pub fn expiring_soon(not_after: i64, now: i64) -> bool {
    not_after - now <= EXPIRING_SOON_SECS
}

/// R19: how urgent revoking a deactivated row's certificates is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Urgency {
    /// More than a day is left.
    Due,
    /// Less than a day is left.
    Urgent,
    /// The deadline has passed.
    Overdue,
}

/// R19: the revocation deadline of a row deactivated at `deactivated_at` and where `now` stands
/// relative to it.
pub fn leaver_deadline(deactivated_at: i64, now: i64) -> (i64, Urgency) {
    let deadline = deactivated_at.saturating_add(LEAVER_DEADLINE_SECS);
    let left = deadline - now;
    let urgency = if left <= 0 {
        Urgency::Overdue
    } else if left < URGENT_WITHIN_SECS {
        Urgency::Urgent
    } else {
        Urgency::Due
    };
    (deadline, urgency)
}

/// R19: a deactivated row that still has valid certificates, on the NAP's worklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaverItem {
    /// The row's id.
    pub row_id: i64,
    /// Its version (for the one-step revocation's "changed meanwhile" check).
    pub version: i64,
    /// Its domain.
    pub domain: String,
    /// Its primary address.
    pub primary: String,
    /// First and last name as the table shows them.
    pub name: String,
    /// When it was deactivated (the latest deactivation).
    pub deactivated_at: i64,
    /// [`LEAVER_DEADLINE_SECS`] after that.
    pub deadline: i64,
    /// Where `now` stands.
    pub urgency: Urgency,
    /// Its valid certificates.
    pub certificates: Vec<HeldCertificate>,
}

/// What the portal knows of the client that confirmed a challenge, kept as validation evidence
/// (R20). Neither is proof of anything on its own; together with the time they let an auditor
/// follow a confirmation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmingClient {
    /// The client's IP address as the portal saw it.
    pub ip: Option<String>,
    /// The `User-Agent` header, at most [`MAX_USER_AGENT_CHARS`] characters, control characters
    /// replaced.
    pub user_agent: Option<String>,
}

impl ConfirmingClient {
    /// The evidence of a request from `ip` with `user_agent` as sent: an empty agent is none, a
    /// long one is cut, control characters (which would garble a log or a table) become `?`.
    pub fn new(ip: Option<String>, user_agent: Option<&str>) -> ConfirmingClient {
        let user_agent = user_agent
            .map(str::trim)
            .filter(|ua| !ua.is_empty())
            .map(|ua| {
                ua.chars()
                    .take(MAX_USER_AGENT_CHARS)
                    .map(|c| if c.is_control() { '?' } else { c })
                    .collect()
            });
        ConfirmingClient { ip, user_agent }
    }
}

/// R20: the confirmation that backs one address of an issued certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationEvidence {
    /// The address in the certificate.
    pub address: String,
    /// The challenge whose confirmation linked it.
    pub challenge_id: i64,
    /// Where that challenge's mail went.
    pub recipient: String,
    /// When it was sent.
    pub sent_at: i64,
    /// When it was confirmed.
    pub confirmed_at: i64,
    /// The user ID that confirmed it.
    pub confirmed_by: String,
    /// The confirming client's IP address, when known.
    pub ip: Option<String>,
    /// The confirming client's user agent, when known.
    pub user_agent: Option<String>,
}

/// R18: the chosen addresses whose link is suspended by a newer round; requesting with any of them
/// is refused, naming the first.
pub fn first_suspended<'a>(
    chosen: &'a [EmailAddress],
    suspended: &[EmailAddress],
) -> Option<&'a EmailAddress> {
    chosen.iter().find(|a| suspended.contains(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    #[test]
    fn r18_a_link_is_suspended_by_any_newer_challenge_only() {
        assert!(!link_suspended(7, None));
        assert!(!link_suspended(7, Some(7)));
        assert!(!link_suspended(7, Some(3)));
        assert!(link_suspended(7, Some(8)));
    }

    #[test]
    fn r19_deadline_is_five_days_after_deactivation_urgent_in_the_last_day() {
        let at = 1_000 * DAY;
        assert_eq!(leaver_deadline(at, at), (at + 5 * DAY, Urgency::Due));
        assert_eq!(leaver_deadline(at, at + 4 * DAY).1, Urgency::Due);
        assert_eq!(leaver_deadline(at, at + 4 * DAY + 1).1, Urgency::Urgent);
        assert_eq!(leaver_deadline(at, at + 5 * DAY - 1).1, Urgency::Urgent);
        assert_eq!(leaver_deadline(at, at + 5 * DAY).1, Urgency::Overdue);
        assert_eq!(leaver_deadline(at, at + 9 * DAY).1, Urgency::Overdue);
    }

    #[test]
    fn r17_expiring_soon_within_thirty_days() {
        assert!(expiring_soon(100 * DAY, 70 * DAY));
        assert!(!expiring_soon(100 * DAY, 70 * DAY - 1));
    }

    #[test]
    fn r20_user_agent_is_bounded_and_cleaned() {
        let long = "x".repeat(5_000);
        let c = ConfirmingClient::new(Some("192.0.2.1".into()), Some(&long));
        assert_eq!(c.user_agent.unwrap().chars().count(), MAX_USER_AGENT_CHARS);
        let c = ConfirmingClient::new(None, Some("Mozilla\r\nX-Evil: 1"));
        assert_eq!(c.user_agent.as_deref(), Some("Mozilla??X-Evil: 1"));
        assert_eq!(ConfirmingClient::new(None, Some("  ")).user_agent, None);
    }
}
