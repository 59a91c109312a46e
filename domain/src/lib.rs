//! The rules of the RA portal's "My Email Domains" (SPEC.md, R1–R15) as plain Rust.
//!
//! This crate does no I/O and never reads the clock or a random generator: callers pass
//! timestamps (`i64` Unix seconds, UTC) and stored facts in, and get decisions out. That keeps
//! every rule unit-testable without a database, and lets the browser (wasm32) pre-check input
//! with the very same functions the server runs.
//!
//! Input enters as text exactly once, through a `parse` function (`EmailAddress::parse`,
//! `PersonName::parse`, …); the rest of the code holds only values that are already valid.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod address;
pub mod api_token;
pub mod certificate;
pub mod certificate_view;
pub mod challenge;
pub mod csv;
pub mod deprovisioning;
pub mod edit;
pub mod handover;
pub mod link;
pub mod mailbox;
pub mod message;
pub mod row;
pub mod table;
pub mod text;
pub mod time;
mod uts46;

pub use address::{
    parse_address_list, AddressError, AddressListError, DomainError, DomainName, DomainProblem,
    EmailAddress,
};
pub use certificate::{
    choose_addresses, crl_is_due, crl_next_update, holder_name, may_request, may_revoke,
    ExistingCert, RenewalWindow, RequestRefusal, RevocationReason, RevokeRefusal, Revoker,
    UnknownRevocationReason, Validity, ValidityError,
};
pub use challenge::{
    challenge_round, Challenge, ChallengeLifetime, ChallengeState, ConfirmRefusal, LifetimeError,
    PlannedChallenge, SendRefusal, SupersedeRefusal, UnknownChallengeState,
};
pub use edit::{Activation, Consequence, EditConsequences, LinkDrop, RowEdit};
pub use link::LinkChange;
pub use mailbox::{MailboxType, MailboxTypeError};
pub use message::Message;
pub use row::{check_in_administered, may_delete_row, DeleteRefusal, Field, FieldError, RowFields};
pub use text::{Comment, PersonName, TextError};

/// How much of a user's input an error message repeats.
///
/// Messages name the input so a NAP can find it, but a pasted 20 MiB cell must not come back
/// as a 20 MiB error message.
const SHOWN_INPUT_CHARS: usize = 100;

/// The input as an error message shows it: cut after [`SHOWN_INPUT_CHARS`] characters.
pub(crate) fn shown(input: &str) -> String {
    match input.char_indices().nth(SHOWN_INPUT_CHARS) {
        Some((cut, _)) => format!("{}…", &input[..cut]),
        None => input.to_owned(),
    }
}

/// A character as an error message shows it: invisible ones by their code point, so that
/// "contains U+00A0" is readable where "contains ' '" would not be.
pub fn shown_char(c: char) -> String {
    if c.is_control() || c.is_whitespace() || c == '\u{FEFF}' {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("'{c}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_input_is_cut_in_messages() {
        let long = "a".repeat(500);
        let s = shown(&long);
        assert_eq!(s.chars().count(), SHOWN_INPUT_CHARS + 1);
        assert!(s.ends_with('…'));
        assert_eq!(shown("short"), "short");
    }

    #[test]
    fn invisible_characters_are_shown_by_code_point() {
        assert_eq!(shown_char('\u{7}'), "U+0007");
        assert_eq!(shown_char('\u{A0}'), "U+00A0");
        assert_eq!(shown_char('ä'), "'ä'");
    }
}
