//! A domain's address table as the NAP sees and edits it: the row as typed, the row as shown with
//! the state of each address, the query for a page and the page. One set of types for the server
//! and the browser: the services take and return them, and the pages send and show them as they
//! are (no wire copies).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::address::EmailAddress;
use crate::edit::Consequence;
use crate::handover::{AddressLink, HeldCertificate};
use crate::mailbox::MailboxType;
use crate::message::Message;
use crate::row::{parse_aliases, Field, FieldError, RowFields};
use crate::text::{Comment, PersonName};

/// Largest page of the table.
pub const MAX_PAGE_SIZE: u32 = 200;
/// Page size when a query asks for none.
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// Raw input of a row as the NAP typed it (also what one CSV line becomes, R8). Everything but
/// the primary address, which is given once at creation and never again (R2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowInput {
    /// First name; empty on functional rows.
    pub first_name: String,
    /// Last name; the mailbox's name on functional rows.
    pub last_name: String,
    /// Aliases separated by spaces, commas or semicolons.
    pub aliases: String,
    /// `personal`/`functional` (or German); empty means personal.
    pub mailbox_type: String,
    /// Applicant address of a functional row; empty means none.
    pub applicant: String,
    /// The NAP's note.
    pub comment: String,
}

impl RowInput {
    /// The form filled with a row's current values.
    pub fn of(row: &RowView) -> RowInput {
        RowInput {
            first_name: row.first_name.clone(),
            last_name: row.last_name.clone(),
            aliases: row.aliases.join(" "),
            mailbox_type: row.mailbox_type.as_str().to_string(),
            applicant: row.applicant.clone().unwrap_or_default(),
            comment: row.comment.clone(),
        }
    }
}

/// A row's input parsed as far as it goes: the fields (a field that did not parse holds a
/// placeholder and is listed in `unparsed`) and the parse errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedInput {
    /// The fields; one that did not parse holds a placeholder.
    pub fields: RowFields,
    /// The parse errors, at their fields.
    pub errors: Vec<FieldError>,
    /// The fields whose rules cannot be judged: they did not parse, or depend on one that did not.
    pub unparsed: BTreeSet<Field>,
}

impl RowInput {
    /// Parses a row's input with the domain's parsers; `active` is kept from elsewhere (the form has
    /// no such field; the CSV has its own column). The one parser of a row: the edit form's service,
    /// the CSV upload (R8) and the browser's pre-check all call it.
    pub fn parse(&self, active: bool) -> ParsedInput {
        let mut errors = Vec::new();
        let mut unparsed = BTreeSet::new();
        let mut fail = |field: Field, message: Message| {
            errors.push(FieldError::new(field, message));
            unparsed.insert(field);
        };
        let first_name = PersonName::parse(&self.first_name).unwrap_or_else(|e| {
            fail(Field::FirstName, e.into());
            PersonName::empty()
        });
        let last_name = PersonName::parse(&self.last_name).unwrap_or_else(|e| {
            fail(Field::LastName, e.into());
            PersonName::empty()
        });
        let aliases = parse_aliases(&self.aliases).unwrap_or_else(|e| {
            fail(Field::Aliases, e.into());
            Vec::new()
        });
        let mailbox_type = if self.mailbox_type.trim().is_empty() {
            MailboxType::Personal
        } else {
            MailboxType::parse(&self.mailbox_type).unwrap_or_else(|e| {
                fail(Field::MailboxType, e.into());
                MailboxType::Personal
            })
        };
        let applicant = if self.applicant.trim().is_empty() {
            None
        } else {
            EmailAddress::parse(&self.applicant)
                .map(Some)
                .unwrap_or_else(|e| {
                    fail(Field::Applicant, e.into());
                    None
                })
        };
        let comment = Comment::parse(&self.comment).unwrap_or_else(|e| {
            fail(Field::Comment, e.into());
            Comment::empty()
        });
        // A wrong type makes the applicant and name rules meaningless: they depend on it.
        if unparsed.contains(&Field::MailboxType) {
            unparsed.extend([Field::Applicant, Field::FirstName, Field::LastName]);
        }
        ParsedInput {
            fields: RowFields {
                first_name,
                last_name,
                aliases,
                mailbox_type,
                applicant,
                comment,
                active,
            },
            errors,
            unparsed,
        }
    }
}

/// A row of the table as the NAP sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowView {
    /// Database id.
    pub id: i64,
    /// The domain whose table it is in.
    pub domain: String,
    /// The primary (sender) address.
    pub primary: String,
    /// First name.
    pub first_name: String,
    /// Last name (a functional mailbox's name).
    pub last_name: String,
    /// Aliases in the NAP's order.
    pub aliases: Vec<String>,
    /// Personal or functional.
    pub mailbox_type: MailboxType,
    /// Applicant of a functional row.
    pub applicant: Option<String>,
    /// The NAP's note.
    pub comment: String,
    /// R7.
    pub active: bool,
    /// Version for optimistic concurrency: edits send it back.
    pub version: i64,
    /// A challenge was ever sent, so the row cannot be deleted (R3).
    pub challenged: bool,
    /// Every address with its state: the primary first, then the aliases.
    pub addresses: Vec<AddressStatus>,
    /// R17: its valid certificates (holder, expiry), soonest expiry first.
    pub certificates: Vec<HeldCertificate>,
    /// Last change (Unix seconds).
    pub updated_at: i64,
}

/// One address of a row and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressStatus {
    /// The address.
    pub address: String,
    /// Whether it is the row's primary address.
    pub is_primary: bool,
    /// Its state.
    pub state: AddressState,
    /// Delivery of the latest challenge's mail, if one was sent.
    pub delivery: Option<MailDelivery>,
    /// R17, R18: the user the address is linked to (whatever its challenge state), and whether a
    /// newer round suspends that link.
    pub link: Option<AddressLink>,
}

/// Where the mail of an address's latest challenge is (SPEC §3: queued, sent, failed with reason).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MailDelivery {
    /// Waiting for the worker (perhaps after a temporary failure, whose reply is given).
    Queued {
        /// The last temporary failure, if any.
        last_error: Option<String>,
    },
    /// Accepted by the relay.
    Sent,
    /// Given up: the relay's reply.
    Failed {
        /// Why.
        reason: String,
    },
}

/// Where an address stands (SPEC §3: never sent / pending since … / confirmed by … / superseded /
/// expired), from the latest challenge of the address in its row and its link:
///
/// - a pending, unexpired challenge reads as pending, even if the address is linked (a new round
///   is under way);
/// - otherwise a linked address reads as confirmed, by the linked user;
/// - otherwise the latest challenge decides: superseded, or expired (a pending one past its
///   lifetime too). A confirmed challenge whose link was dropped since (R4, R5) no longer counts
///   and reads as superseded, at the time it was confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AddressState {
    /// No challenge was ever sent for it in this row.
    NeverSent,
    /// A challenge waits for its confirmation.
    Pending {
        /// When it was sent.
        since: i64,
    },
    /// Linked to a user.
    Confirmed {
        /// The linked user ID.
        user_id: String,
        /// Their name from the IdM (the user ID when the IdM gave none).
        user_name: String,
        /// When the link was made.
        at: i64,
    },
    /// The last challenge was superseded.
    Superseded {
        /// When.
        at: i64,
    },
    /// The last challenge expired unconfirmed.
    Expired {
        /// When.
        at: i64,
    },
}

/// What saving an edit would do (R4–R6), for the NAP to confirm; nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditPreview {
    /// What saving does beyond changing the fields, e.g. "saving drops the link of alias …".
    pub consequences: Vec<Consequence>,
    /// How many pending challenges saving supersedes.
    pub supersedes: usize,
    /// The addresses whose link saving drops.
    pub drops_links: Vec<String>,
}

/// The column the table is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum SortKey {
    /// Primary address.
    #[default]
    Primary,
    /// Last name, then first name.
    LastName,
    /// First name, then last name.
    FirstName,
    /// Mailbox type, then primary address.
    Type,
    /// Inactive first (ascending), then primary address.
    Active,
    /// Time of the last change.
    Updated,
}

/// Rows with at least one address in this state (see [`AddressState`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StateFilter {
    /// An address is confirmed (linked, no new round pending).
    Confirmed,
    /// An address has a pending, unexpired challenge.
    Pending,
    /// An address never had a challenge.
    NeverSent,
}

/// Which part of a domain's table to show.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RowQuery {
    /// Case-insensitive substring of any address or of the first or last name; empty for all.
    pub search: String,
    /// Only active / inactive rows.
    pub active: Option<bool>,
    /// Only rows of this type.
    pub mailbox_type: Option<MailboxType>,
    /// Only rows with an address in this state.
    pub state: Option<StateFilter>,
    /// Sort column.
    pub sort: SortKey,
    /// Descending order.
    pub descending: bool,
    /// Page number, 0-based.
    pub page: u32,
    /// Rows per page, clamped to 1..=200.
    pub page_size: u32,
    /// When the NAP stepped here from the next or previous page: the row next to which this page
    /// lies. The page is then found from that row instead of by counting `page` pages from the
    /// start, which is as fast for page 1 000 as for page 1; if the row is gone, `page` counts
    /// (but not for [`Anchor::AfterValues`], which does not need the row).
    pub anchor: Option<Anchor>,
}

impl RowQuery {
    /// Back to the first page: after a new search, filter or sort order the pager starts again.
    pub fn first_page(&mut self) {
        self.page = 0;
        self.anchor = None;
    }
}

impl Default for RowQuery {
    fn default() -> Self {
        RowQuery {
            search: String::new(),
            active: None,
            mailbox_type: None,
            state: None,
            sort: SortKey::Primary,
            descending: false,
            page: 0,
            page_size: DEFAULT_PAGE_SIZE,
            anchor: None,
        }
    }
}

/// One page of a domain's table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowPage {
    /// The rows of the page.
    pub rows: Vec<RowView>,
    /// How many rows match the filter in all.
    pub total: u64,
    /// The page number (0-based).
    pub page: u32,
    /// The page size used (after clamping).
    pub page_size: u32,
}

/// Where a page starts when the NAP steps to the next or the previous page: right after the last
/// row, or right before the first row, of the page they see (keyset paging). Found by a seek in
/// the sort index, such a page costs what the first page costs, however deep it lies, where an
/// `OFFSET` steps over every row before it (SPEC P2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Anchor {
    /// The rows that follow this row in the sort order.
    After(i64),
    /// The rows that precede this row in the sort order.
    Before(i64),
    /// The rows that follow a row with these sort values ([`SortKey::values_of`]) and this id in
    /// the sort order, whether that row still exists or not. The REST API's cursor carries it:
    /// a script's next page must go on where its last page ended even when someone deleted or
    /// edited that last row meanwhile (an id alone then no longer says where that was).
    AfterValues {
        /// The row's values of the sort columns, the id aside.
        key: Vec<SortValue>,
        /// The row's id, the last tie-breaker.
        id: i64,
    },
}

/// One value a row is sorted by, as an [`Anchor::AfterValues`] holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortValue {
    /// A number: a time, or a yes/no as 1/0.
    Int(i64),
    /// A text: an address, a name, a mailbox type.
    Text(String),
}

impl SortKey {
    /// What `row` is sorted by under this key, in order, the row id aside (it breaks the ties
    /// that are left): the columns the storage sorts by, with the values it holds.
    pub fn values_of(self, row: &RowView) -> Vec<SortValue> {
        let text = |s: &str| SortValue::Text(s.to_owned());
        match self {
            SortKey::Primary => vec![text(&row.primary)],
            SortKey::LastName => vec![text(&row.last_name), text(&row.first_name)],
            SortKey::FirstName => vec![text(&row.first_name), text(&row.last_name)],
            SortKey::Type => vec![text(row.mailbox_type.as_str()), text(&row.primary)],
            SortKey::Active => vec![SortValue::Int(i64::from(row.active)), text(&row.primary)],
            SortKey::Updated => vec![SortValue::Int(row.updated_at)],
        }
    }

    /// Whether `key` has the shape of [`SortKey::values_of`] for this key (a cursor read back
    /// from a client may have been changed).
    pub fn fits(self, key: &[SortValue]) -> bool {
        use SortValue::{Int, Text};
        match self {
            SortKey::Primary => matches!(key, [Text(_)]),
            SortKey::LastName | SortKey::FirstName | SortKey::Type => {
                matches!(key, [Text(_), Text(_)])
            }
            SortKey::Active => matches!(key, [Int(0 | 1), Text(_)]),
            SortKey::Updated => matches!(key, [Int(_)]),
        }
    }
}

/// What a one-step deactivation did (R19).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deactivation {
    /// The rows as they are now, in the order given.
    pub rows: Vec<RowView>,
    /// How many certificates were revoked with them.
    pub revoked: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r21_a_rows_sort_values_fit_their_sort_key_and_no_other_shape() {
        let row = RowView {
            id: 7,
            domain: "example.org".into(),
            primary: "ada@example.org".into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            aliases: vec![],
            mailbox_type: MailboxType::Personal,
            applicant: None,
            comment: String::new(),
            active: true,
            version: 1,
            challenged: false,
            addresses: vec![],
            certificates: vec![],
            updated_at: 1_700_000_000,
        };
        let keys = [
            SortKey::Primary,
            SortKey::LastName,
            SortKey::FirstName,
            SortKey::Type,
            SortKey::Active,
            SortKey::Updated,
        ];
        for key in keys {
            assert!(key.fits(&key.values_of(&row)), "{key:?}");
        }
        assert_eq!(
            SortKey::Type.values_of(&row),
            [
                SortValue::Text("personal".into()),
                SortValue::Text("ada@example.org".into())
            ]
        );
        assert!(!SortKey::Primary.fits(&[]));
        assert!(!SortKey::Updated.fits(&[SortValue::Text("1".into())]));
        assert!(!SortKey::Active.fits(&[SortValue::Int(2), SortValue::Text("a".into())]));
        // In a cursor the values are plain JSON: numbers and strings.
        let anchor = Anchor::AfterValues {
            key: SortKey::Active.values_of(&row),
            id: 7,
        };
        let json = serde_json::to_string(&anchor).unwrap();
        assert_eq!(
            json,
            r#"{"AfterValues":{"key":[1,"ada@example.org"],"id":7}}"#
        );
        assert_eq!(serde_json::from_str::<Anchor>(&json).unwrap(), anchor);
    }

    #[test]
    fn unparsable_type_hides_the_rules_that_depend_on_it() {
        let parsed = RowInput {
            mailbox_type: "shared".into(),
            applicant: "boss@example.net".into(),
            ..RowInput::default()
        }
        .parse(true);
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(parsed.errors[0].field, Field::MailboxType);
        assert!(parsed.unparsed.contains(&Field::Applicant));
    }
}
