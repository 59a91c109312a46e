//! Challenges: proving by email that a real person controls an address (R9, R10).

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::address::EmailAddress;
use crate::mailbox::MailboxType;
use crate::row::RowFields;
use crate::shown;

/// The lifecycle of a challenge: `pending`, then exactly one of the other three (R10).
///
/// The names are the stored values; the SQL `CHECK` constraint lists the same four.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChallengeState {
    /// Sent and waiting for its confirmation.
    Pending,
    /// Confirmed by a logged-in user, who is now linked to the address.
    Confirmed,
    /// Replaced by a newer round, an alias edit, or an applicant or type change.
    Superseded,
    /// Older than the lifetime and never confirmed.
    Expired,
}

impl ChallengeState {
    /// All states, for the SQL `CHECK` and for tests.
    pub const ALL: [ChallengeState; 4] = [
        ChallengeState::Pending,
        ChallengeState::Confirmed,
        ChallengeState::Superseded,
        ChallengeState::Expired,
    ];

    /// The stored name: `pending`, `confirmed`, `superseded` or `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeState::Pending => "pending",
            ChallengeState::Confirmed => "confirmed",
            ChallengeState::Superseded => "superseded",
            ChallengeState::Expired => "expired",
        }
    }

    /// Reads a stored name back.
    pub fn parse(stored: &str) -> Result<ChallengeState, UnknownChallengeState> {
        ChallengeState::ALL
            .into_iter()
            .find(|s| s.as_str() == stored)
            .ok_or_else(|| UnknownChallengeState {
                value: shown(stored),
            })
    }
}

impl fmt::Display for ChallengeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored state name that is none of the four (a corrupt row; the `CHECK` should prevent it).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("\"{value}\" is not a challenge state")]
pub struct UnknownChallengeState {
    /// The value read.
    pub value: String,
}

/// How long a challenge can be confirmed after it was sent.
///
/// Default 7 days (SPEC R10). 24 hours ([`ChallengeLifetime::BASELINE_REQUIREMENTS`]) matches
/// the S/MIME Baseline Requirements §3.2.2.2, which limit how long a mailbox-control random
/// value may be used; a CA that must follow them to the letter configures that.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChallengeLifetime {
    secs: i64,
}

impl ChallengeLifetime {
    /// 7 days, the portal's default.
    pub const DEFAULT: ChallengeLifetime = ChallengeLifetime {
        secs: 7 * 24 * 60 * 60,
    };
    /// 24 hours, as the S/MIME Baseline Requirements §3.2.2.2 allow.
    pub const BASELINE_REQUIREMENTS: ChallengeLifetime = ChallengeLifetime { secs: 24 * 60 * 60 };

    /// A lifetime of `secs` seconds; must be positive.
    pub fn from_secs(secs: i64) -> Result<ChallengeLifetime, LifetimeError> {
        if secs > 0 {
            Ok(ChallengeLifetime { secs })
        } else {
            Err(LifetimeError { secs })
        }
    }

    /// The lifetime in seconds.
    pub fn secs(self) -> i64 {
        self.secs
    }
}

impl Default for ChallengeLifetime {
    fn default() -> Self {
        ChallengeLifetime::DEFAULT
    }
}

/// A configured lifetime that is zero or negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("a challenge lifetime must be positive, not {secs} seconds")]
pub struct LifetimeError {
    /// The refused value.
    pub secs: i64,
}

/// A stored challenge, as far as its state rules need: what the database holds plus the
/// configured lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// The stored state.
    pub state: ChallengeState,
    /// When it was sent (Unix seconds).
    pub created_at: i64,
    /// How long it can be confirmed.
    pub lifetime: ChallengeLifetime,
}

impl Challenge {
    /// The first moment at which it can no longer be confirmed: it is valid for
    /// `[created_at, created_at + lifetime)`.
    pub fn expires_at(&self) -> i64 {
        self.created_at.saturating_add(self.lifetime.secs())
    }

    /// The state as shown at `now`: a pending challenge past its lifetime reads as expired,
    /// whether or not a sweeper has stored that yet.
    pub fn effective_state(&self, now: i64) -> ChallengeState {
        match self.state {
            ChallengeState::Pending if now >= self.expires_at() => ChallengeState::Expired,
            state => state,
        }
    }

    /// R10: confirming at `now` is allowed only for a pending, unexpired challenge of an
    /// active row; returns the new state.
    ///
    /// "Only once, also when two confirmations race" needs the database: store the result with
    /// `UPDATE … SET state = 'confirmed' WHERE id = ? AND state = 'pending'` and treat zero
    /// affected rows as [`ConfirmRefusal::AlreadyConfirmed`] (or re-read the state).
    pub fn confirm(&self, now: i64, row_active: bool) -> Result<ChallengeState, ConfirmRefusal> {
        match self.effective_state(now) {
            ChallengeState::Confirmed => Err(ConfirmRefusal::AlreadyConfirmed),
            ChallengeState::Superseded => Err(ConfirmRefusal::Superseded),
            ChallengeState::Expired => Err(ConfirmRefusal::Expired),
            ChallengeState::Pending if !row_active => Err(ConfirmRefusal::RowInactive),
            ChallengeState::Pending => Ok(ChallengeState::Confirmed),
        }
    }

    /// Superseding (a new round, R4, R5) applies only to a pending challenge; returns the new state.
    ///
    /// Uses the stored state, not the effective one: a pending challenge past its lifetime that
    /// no sweeper has marked yet may be superseded too, which is harmless (it could not be
    /// confirmed either way) and lets the caller supersede with one `UPDATE … WHERE state = 'pending'`.
    pub fn supersede(&self) -> Result<ChallengeState, SupersedeRefusal> {
        match self.state {
            ChallengeState::Pending => Ok(ChallengeState::Superseded),
            state => Err(SupersedeRefusal { state }),
        }
    }
}

/// Why a challenge cannot be confirmed; the message is shown on the confirmation page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Error)]
pub enum ConfirmRefusal {
    /// It was confirmed before.
    #[error("This challenge has already been confirmed; each challenge can be confirmed only once. If the address should be linked to you, ask your network contact (NAP) to send a new challenge.")]
    AlreadyConfirmed,
    /// A newer round or an edit of the row replaced it.
    #[error("This challenge has been replaced by a newer one or by a change of the address's entry. Use the link in the most recent email, or ask your network contact (NAP) to send a new challenge.")]
    Superseded,
    /// Past its lifetime.
    #[error("This challenge has expired. Ask your network contact (NAP) to send a new challenge.")]
    Expired,
    /// The row is deactivated (R7).
    #[error("This address's entry is deactivated, so the challenge cannot be confirmed now. Ask your network contact (NAP) to reactivate it.")]
    RowInactive,
}

/// Only a pending challenge can be superseded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("only a pending challenge can be superseded; this one is {state}")]
pub struct SupersedeRefusal {
    /// The state it is in.
    pub state: ChallengeState,
}

/// One challenge of a round: for which address, and who receives the email.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedChallenge {
    /// The address whose control is being proven; confirming links it (R11).
    pub address: EmailAddress,
    /// Where the email goes: the address itself (personal) or the applicant (functional).
    pub recipient: EmailAddress,
}

/// R9: the challenges of one "send challenges" round on a row — one per address (primary
/// first, then each alias), to the address itself on a personal row and to the applicant on a
/// functional one. Refused on an inactive row (R7).
///
/// The caller supersedes every pending challenge of the row before storing these (a new round
/// replaces the old one), in the same transaction, together with one outbox mail per challenge.
pub fn challenge_round(
    primary: &EmailAddress,
    fields: &RowFields,
) -> Result<Vec<PlannedChallenge>, SendRefusal> {
    if !fields.active {
        return Err(SendRefusal::RowInactive);
    }
    let applicant = match fields.mailbox_type {
        MailboxType::Personal => None,
        // A validated functional row always has one; refuse rather than mail the mailbox itself.
        MailboxType::Functional => Some(fields.applicant.as_ref().ok_or(SendRefusal::NoApplicant)?),
    };
    Ok(fields
        .addresses(primary)
        .map(|address| PlannedChallenge {
            address: address.clone(),
            recipient: applicant.unwrap_or(address).clone(),
        })
        .collect())
}

/// The result of a "send challenges" click.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendReport {
    /// Rows a round was sent for.
    pub rows: usize,
    /// Challenges (and mails) created.
    pub challenges: usize,
    /// Rows for which nothing was sent: `(primary address, why)`; a row id that is unknown or in
    /// a domain the NAP does not administer is named `#<id>`. The reason is data, so each page
    /// words it in its reader's language.
    pub refused: Vec<(String, SendRefusal)>,
}

/// Why no challenges can be sent for a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Error)]
pub enum SendRefusal {
    /// R7.
    #[error("this row is deactivated; reactivate it before sending challenges")]
    RowInactive,
    /// A functional row without applicant (only possible for a row that failed validation).
    #[error("this functional mailbox has no applicant address to send the challenges to; enter one first")]
    NoApplicant,
    /// R1, Q1: a row id that is unknown or in a domain the NAP does not administer (alike).
    #[error("no such row in a domain you administer")]
    UnknownRow,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::fixtures::*;

    const SENT: i64 = 1_750_000_000;

    fn challenge(state: ChallengeState) -> Challenge {
        Challenge {
            state,
            created_at: SENT,
            lifetime: ChallengeLifetime::DEFAULT,
        }
    }

    #[test]
    fn r09_round_plans_one_challenge_per_address_sent_to_itself_on_a_personal_row() {
        let primary = addr("anna@example.org");
        let row = personal(&["a.schmidt@example.org", "as@mail.example.org"]);
        let round = challenge_round(&primary, &row).unwrap();
        let got: Vec<(&str, &str)> = round
            .iter()
            .map(|p| (p.address.as_str(), p.recipient.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("anna@example.org", "anna@example.org"),
                ("a.schmidt@example.org", "a.schmidt@example.org"),
                ("as@mail.example.org", "as@mail.example.org"),
            ]
        );
    }

    #[test]
    fn r09_round_on_a_functional_row_goes_to_the_applicant() {
        let primary = addr("helpdesk@example.org");
        let row = functional(&["support@example.org"], "anna@example.net");
        let round = challenge_round(&primary, &row).unwrap();
        assert_eq!(round.len(), 2);
        assert_eq!(round[0].address, primary);
        assert_eq!(round[1].address, addr("support@example.org"));
        assert!(round
            .iter()
            .all(|p| p.recipient == addr("anna@example.net")));
    }

    #[test]
    fn r09_functional_row_without_applicant_gets_no_round() {
        let mut row = functional(&[], "anna@example.net");
        row.applicant = None;
        assert_eq!(
            challenge_round(&addr("helpdesk@example.org"), &row),
            Err(SendRefusal::NoApplicant)
        );
    }

    #[test]
    fn r07_no_challenge_round_for_an_inactive_row() {
        let mut row = personal(&[]);
        row.active = false;
        assert_eq!(
            challenge_round(&addr("anna@example.org"), &row),
            Err(SendRefusal::RowInactive)
        );
    }

    #[test]
    fn r07_no_confirmation_for_an_inactive_row() {
        let refusal = challenge(ChallengeState::Pending)
            .confirm(SENT + 60, false)
            .unwrap_err();
        assert_eq!(refusal, ConfirmRefusal::RowInactive);
        assert!(refusal.to_string().contains("reactivate"));
    }

    #[test]
    fn r10_pending_unexpired_challenge_of_an_active_row_confirms() {
        assert_eq!(
            challenge(ChallengeState::Pending).confirm(SENT + 60, true),
            Ok(ChallengeState::Confirmed)
        );
    }

    #[test]
    fn r10_confirmed_challenge_cannot_be_confirmed_again() {
        let c = challenge(ChallengeState::Pending);
        let state = c.confirm(SENT + 60, true).unwrap();
        let confirmed = Challenge { state, ..c };
        assert_eq!(
            confirmed.confirm(SENT + 61, true),
            Err(ConfirmRefusal::AlreadyConfirmed)
        );
    }

    #[test]
    fn r10_superseded_challenge_cannot_be_confirmed() {
        let c = challenge(ChallengeState::Pending);
        let superseded = Challenge {
            state: c.supersede().unwrap(),
            ..c
        };
        assert_eq!(
            superseded.confirm(SENT + 60, true),
            Err(ConfirmRefusal::Superseded)
        );
    }

    #[test]
    fn r10_challenge_past_its_lifetime_reads_as_expired_and_is_refused() {
        let c = challenge(ChallengeState::Pending);
        let expiry = SENT + 7 * 24 * 3600;
        assert_eq!(c.expires_at(), expiry);
        assert_eq!(c.effective_state(expiry - 1), ChallengeState::Pending);
        assert!(c.confirm(expiry - 1, true).is_ok());
        assert_eq!(c.effective_state(expiry), ChallengeState::Expired);
        assert_eq!(c.confirm(expiry, true), Err(ConfirmRefusal::Expired));
        assert_eq!(
            challenge(ChallengeState::Expired).confirm(SENT, true),
            Err(ConfirmRefusal::Expired)
        );
    }

    #[test]
    fn r10_only_a_pending_challenge_can_be_superseded() {
        assert_eq!(
            challenge(ChallengeState::Pending).supersede(),
            Ok(ChallengeState::Superseded)
        );
        for state in [
            ChallengeState::Confirmed,
            ChallengeState::Superseded,
            ChallengeState::Expired,
        ] {
            assert_eq!(
                challenge(state).supersede(),
                Err(SupersedeRefusal { state })
            );
        }
    }

    #[test]
    fn r10_final_states_never_read_as_anything_else() {
        for state in [
            ChallengeState::Confirmed,
            ChallengeState::Superseded,
            ChallengeState::Expired,
        ] {
            assert_eq!(challenge(state).effective_state(i64::MAX), state);
        }
    }

    #[test]
    fn r10_default_lifetime_is_seven_days_and_must_be_positive() {
        assert_eq!(ChallengeLifetime::default().secs(), 604_800);
        assert_eq!(ChallengeLifetime::BASELINE_REQUIREMENTS.secs(), 86_400);
        assert_eq!(
            ChallengeLifetime::from_secs(3600).map(ChallengeLifetime::secs),
            Ok(3600)
        );
        assert!(ChallengeLifetime::from_secs(0).is_err());
    }

    #[test]
    fn r10_state_names_match_the_sql_check_values() {
        let names: Vec<&str> = ChallengeState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["pending", "confirmed", "superseded", "expired"]);
        for s in ChallengeState::ALL {
            assert_eq!(ChallengeState::parse(s.as_str()), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert!(ChallengeState::parse("Pending").is_err());
    }
}
