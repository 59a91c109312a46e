//! What the portal tells a person when it refuses something, as data: the refusal and its
//! parameters, not a sentence. The server sends it as it is; the user interface words it in the
//! reader's language (app/src/messages.rs), so a German page shows German refusals.
//!
//! `Display` gives the English sentence, for logs, the CLI and the English page alike.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::address::{AddressError, AddressListError, DomainError};
use crate::certificate::{CsrError, RequestRefusal, RevokeRefusal};
use crate::challenge::{ConfirmRefusal, SendRefusal};
use crate::csv::{FileError, LineError};
use crate::mailbox::MailboxTypeError;
use crate::row::{AliasesError, DeleteRefusal, FieldError, RowProblem};
use crate::text::TextError;

/// A refusal or problem for the person who asked, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Error)]
pub enum Message {
    /// A text is not an email address.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// An item of an address list is not an address.
    #[error(transparent)]
    AddressList(#[from] AddressListError),
    /// A text is not a domain name.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// A name or comment is refused.
    #[error(transparent)]
    Text(#[from] TextError),
    /// An alias list is refused.
    #[error(transparent)]
    Aliases(#[from] AliasesError),
    /// An unknown mailbox type.
    #[error(transparent)]
    MailboxType(#[from] MailboxTypeError),
    /// A certificate request is refused (R13, R7, R18).
    #[error(transparent)]
    Request(#[from] RequestRefusal),
    /// An uploaded certificate request cannot be used.
    #[error(transparent)]
    Csr(#[from] CsrError),
    /// A revocation is refused (R15).
    #[error(transparent)]
    Revoke(#[from] RevokeRefusal),
    /// A challenge cannot be confirmed (R7, R10).
    #[error(transparent)]
    Confirm(#[from] ConfirmRefusal),
    /// No challenges can be sent for a row (R7).
    #[error(transparent)]
    Send(#[from] SendRefusal),
    /// A row can no longer be deleted (R3).
    #[error(transparent)]
    Delete(#[from] DeleteRefusal),
    /// A CSV file cannot be used as a whole (R8).
    #[error(transparent)]
    File(#[from] FileError),
    /// A row's fields break a rule that spans fields.
    #[error(transparent)]
    Row(#[from] RowProblem),
    /// The input breaks rules, each at its field, all at once.
    #[error("{}", join_fields(.0))]
    Fields(Vec<FieldError>),
    /// Only the domain's NAPs may do this (R1).
    #[error("you are not a contact person (NAP) of this domain")]
    NotNap,
    /// Only operators may do this.
    #[error("only operators may do this")]
    OperatorOnly,
    /// The IdM says the person is inactive or deleted (R22).
    #[error("your account was deactivated by your organisation's identity management, so the portal lets you do nothing more; if this is a mistake, contact your network contact (NAP)")]
    IdmInactive,
    /// No such row (or it lies in a domain the person does not administer, which reads alike).
    #[error("there is no such row")]
    NoSuchRow,
    /// No such domain.
    #[error("there is no such domain")]
    NoSuchDomain,
    /// No such certificate, or one the person may not see (Q1).
    #[error("no such certificate")]
    NoSuchCertificate,
    /// A row was changed since the version an edit is based on.
    #[error(
        "this row was changed by someone else meanwhile; check its current state and edit it again"
    )]
    RowChangedMeanwhile,
    /// None of a row's addresses is linked to the person (or there is no such row).
    #[error("none of this mailbox's addresses is linked to you: confirm a challenge for one of them first")]
    NotLinkedToRow,
    /// The PKCS#12 password is too short.
    #[error("the password for the PKCS#12 file must have at least {min} characters")]
    PasswordTooShort {
        /// The minimum length in characters.
        min: usize,
    },
    /// The PKCS#12 password is too long (Q9).
    #[error("the password for the PKCS#12 file may have at most {max} bytes (1 KiB)")]
    PasswordTooLong {
        /// The maximum length in bytes.
        max: usize,
    },
    /// A confirmation link no challenge has (mistyped, cut off, never sent); not repeated.
    #[error("This confirmation link is not known. Check that you opened the complete link from the email, or ask your network contact (NAP) to send a new challenge.")]
    UnknownLink,
    /// R19: "a different person" takes over only a deactivated row.
    #[error("a different person can take over only a deactivated row: deactivate it first")]
    TakeOverActiveRow,
    /// A row of a batch revocation is unknown or in a domain the NAP does not administer.
    #[error("there is no row #{id} in a domain you administer; nothing was revoked")]
    NoRowToRevoke {
        /// The row id asked for.
        id: i64,
    },
    /// A row of a batch revocation is still active (R15).
    #[error("{primary} is still active: deactivate the row first (its owner can revoke their certificate at any time); nothing was revoked")]
    RowStillActive {
        /// The row's primary address.
        primary: String,
    },
    /// R22: no open proposal with this id in a domain the NAP administers.
    #[error("there is no open proposal #{id} in a domain you administer (it may have been decided meanwhile)")]
    NoSuchProposal {
        /// The proposal id asked for.
        id: i64,
    },
    /// R22: no held deprovisioning waits with this id.
    #[error("no held deprovisioning #{id} waits for a decision (it may have been decided meanwhile); nothing was changed")]
    NoSuchHold {
        /// The hold id asked for.
        id: i64,
    },
    /// R8: the table changed since the CSV preview (or another file was sent).
    #[error("rows of this table were changed since the preview (or the file is not the previewed one), so nothing was saved; preview the file again")]
    TableChangedSincePreview,
    /// R8: the file has errors; nothing was saved.
    #[error("the file has {} error(s), so nothing was saved; correct them and preview the file again", .errors.len())]
    FileHasErrors {
        /// Every error, at its line.
        errors: Vec<LineError>,
    },
    /// R8: a CSV line has fewer cells than the header.
    #[error("this line has {cells} cells, the header line {header}: a delimiter is missing, or a cell with a line break is not in double quotes")]
    TooFewCells {
        /// Cells of the line.
        cells: usize,
        /// Cells of the header line.
        header: usize,
    },
    /// R8: a CSV line has more cells than the header.
    #[error("this line has {cells} cells, the header line only {header}: a cell holding the delimiter must be in double quotes")]
    TooManyCells {
        /// Cells of the line.
        cells: usize,
        /// Cells of the header line.
        header: usize,
    },
    /// R8: a value in a column the header does not name.
    #[error("column {column} has no name in the header line, but this line has a value there")]
    UnnamedColumnValue {
        /// The 1-based column.
        column: usize,
    },
    /// R8: an Active cell that is neither yes nor no.
    #[error("\"{value}\" is not a value for active: write yes or no (also true/false, 1/0, ja/nein); an empty cell means yes")]
    NotAnActiveValue {
        /// The cell as written (cut).
        value: String,
    },
    /// An operator registers a domain twice.
    #[error("{domain} is already registered")]
    DomainAlreadyRegistered {
        /// The domain.
        domain: String,
    },
    /// The domain is not registered in the portal.
    #[error("{domain} is not registered")]
    DomainNotRegistered {
        /// The domain.
        domain: String,
    },
    /// A local account with this id exists already.
    #[error("the account {id} already exists")]
    AccountExists {
        /// The account id.
        id: String,
    },
    /// No local account has this id.
    #[error("there is no account {id}")]
    AccountNotFound {
        /// The account id.
        id: String,
    },
    /// A token in force already has this name.
    #[error("a token called {name} exists already (revoke it first, or choose another name)")]
    TokenNameTaken {
        /// The name.
        name: String,
    },
    /// No token in force has this name.
    #[error("there is no token called {name} in force")]
    TokenNotFound {
        /// The name.
        name: String,
    },
    /// R21: an API token needs at least one domain.
    #[error("choose at least one domain for the token")]
    ApiTokenNoDomain,
    /// R21: an API token only for domains the creator administers now (which one is not said, Q1).
    #[error("a token can only be made for domains you administer (you are their NAP); one of the chosen domains is not")]
    ApiTokenNotYourDomain,
    /// R21: an API token lives 1 to 365 days.
    #[error("a token lives 1 to 365 days (at most one year); {days} days is not allowed")]
    ApiTokenLifetime {
        /// The lifetime asked for.
        days: i64,
    },
    /// R21: the expiry date as entered is no date.
    #[error("the expiry date must be a date like 2027-03-01, not {value:?}")]
    ApiTokenExpiryDate {
        /// What was entered (cut).
        value: String,
    },
    /// R21: no API token with this id in force that the person may revoke (unknown and foreign
    /// alike, Q1).
    #[error("there is no API token #{id} in force that you may revoke (it may have been revoked meanwhile)")]
    NoSuchApiToken {
        /// The id asked for.
        id: i64,
    },
    /// R8: a primary address on a second line of one file.
    #[error("{primary} is also on line {first_line}: each primary address may appear only once in the file")]
    PrimaryTwiceInFile {
        /// The primary address.
        primary: String,
        /// The line that has it first.
        first_line: usize,
    },
    /// R8, §2: an address on two lines of one file.
    #[error("{address} is also on line {line} ({} there): an address can belong to one row only", address_kind(.primary_there))]
    AddressTwiceInFile {
        /// The address.
        address: String,
        /// The other line.
        line: usize,
        /// Whether it is the primary address on the other line (else an alias).
        primary_there: bool,
    },
    /// R1: a new row's home table is a (sub)domain the NAP does not administer.
    #[error("{primary} belongs to the table of {owning}, which you do not administer")]
    TableNotAdministered {
        /// The new row's primary address.
        primary: String,
        /// The most specific registered domain it lies in.
        owning: String,
    },
    /// R8: a CSV line's row belongs to another table the NAP administers.
    #[error("{primary} belongs to the table of {owning}, not of {domain}: upload it with that table's file")]
    OtherTable {
        /// The new row's primary address.
        primary: String,
        /// The table it belongs to.
        owning: String,
        /// The table the file was uploaded to.
        domain: String,
    },
    /// R8: lines of one file that take addresses from each other's rows.
    #[error("this row and another line's row take addresses from each other (directly or in a circle); one upload cannot swap addresses: upload once without the moved addresses, then once more with them")]
    AddressSwap,
    /// §2: the address belongs to another row the person administers, named.
    #[error("{address} is already used by row {primary} ({domain})")]
    AddressUsedByRow {
        /// The address.
        address: String,
        /// The holding row's primary address.
        primary: String,
        /// The holding row's domain.
        domain: String,
    },
    /// §2: the address belongs to a row the person does not administer (not named, Q1).
    #[error("{address} is already used by a row you do not administer; an address can belong to one row only")]
    AddressUsedElsewhere {
        /// The address.
        address: String,
    },
    /// §2: the address was taken by another row meanwhile (a writer in between).
    #[error("{address} is already used by another row; an address can belong to one row only")]
    AddressTaken {
        /// The address.
        address: String,
    },
    /// A token name (SCIM or API) that is empty or too long.
    #[error("invalid token name: a token name has 1 to {max} characters")]
    TokenNameLength {
        /// The most characters a name may have.
        max: usize,
    },
    /// A token name with a character outside a-z, 0-9, `.`, `_`, `-`.
    #[error("invalid token name: {found:?} is not allowed; use a-z, 0-9, '.', '_' and '-' (e.g. entra, okta-prod, idm-sync)")]
    TokenNameChar {
        /// The first character not allowed.
        found: char,
    },
    /// A domain's contact group that is empty.
    #[error("invalid contact group: the group name is empty")]
    ContactGroupEmpty,
    /// A domain's contact group longer than the portal takes.
    #[error(
        "invalid contact group: the group name is {len} characters long; at most {max} are allowed"
    )]
    ContactGroupTooLong {
        /// Its length in characters.
        len: usize,
        /// The most characters a group name may have.
        max: usize,
    },
    /// A domain's contact group with whitespace or a control character, which no IdM group name
    /// the portal matches holds.
    #[error("invalid contact group: the group name {shown:?} contains whitespace or a control character")]
    ContactGroupWhitespace {
        /// The name as entered (cut after 100 characters).
        shown: String,
    },
    /// A sentence the server still writes in English only.
    #[error("{0}")]
    English(String),
}

fn address_kind(primary: &bool) -> &'static str {
    if *primary {
        "the primary address"
    } else {
        "an alias"
    }
}

fn join_fields(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(FieldError::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<String> for Message {
    fn from(text: String) -> Message {
        Message::English(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Message {
        Message::English(text.to_owned())
    }
}

impl Message {
    /// The field errors, when this is one.
    pub fn fields(&self) -> Option<&[FieldError]> {
        match self {
            Message::Fields(errors) => Some(errors),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::Field;

    #[test]
    fn q9_a_message_travels_as_data_and_reads_the_same_after() {
        let message = Message::Fields(vec![FieldError::new(
            Field::Aliases,
            crate::address::EmailAddress::parse("no-at").unwrap_err(),
        )]);
        let wire = serde_json::to_string(&message).unwrap();
        assert!(
            !wire.contains("is not an email address"),
            "data, not a sentence: {wire}"
        );
        let back: Message = serde_json::from_str(&wire).unwrap();
        assert_eq!(back, message);
        assert_eq!(
            back.to_string(),
            "aliases: \"no-at\" is not an email address: it has no @"
        );
    }
}
