//! A domain's address table (SPEC §2, R1–R8, R16): list, create, edit, deactivate/reactivate and
//! delete rows, and read the domain's audit trail.
//!
//! The rules themselves are in `domain` (parsing, [`RowFields::validate`], R1's
//! [`RowFields::check_administered`], R4–R7's [`RowEdit::between`], R3's [`may_delete_row`]); this
//! module applies them against the database. The cores of create and edit ([`apply_create`],
//! [`apply_edit`]) work on a connection inside the caller's transaction, so that the CSV upload
//! (R8) applies thousands of rows in one transaction through the very same code as the edit form.

use std::collections::{BTreeSet, HashMap};

use domain::address::{DomainName, EmailAddress};
use domain::challenge::{Challenge, ChallengeLifetime, ChallengeState};
use domain::edit::{Activation, EditConsequences, LinkDrop, RowEdit};
use domain::handover::{expiring_soon, link_suspended, AddressLink, HeldCertificate};
use domain::mailbox::MailboxType;
use domain::row::{may_delete_row, parse_aliases, Field, FieldError, RowFields};
use domain::text::{Comment, PersonName};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{Sqlite, SqlitePool, Transaction};

use crate::clock;
use crate::identity::display_name;
use crate::roles::Viewer;
use crate::search_matches::TablePages;
use crate::storage::audit::{self as audit_store, insert_audit_record, NewAuditRecord};
use crate::storage::certificates::list_held_certificates_of_rows;
use crate::storage::challenges::{
    count_pending_challenges_of_row, supersede_pending_challenges_of_row, SupersededChallenge,
};
use crate::storage::domains::list_domains;
use crate::storage::links::{delete_link, list_links_of_row, LinkRecord};
use crate::storage::rows::{
    self as store, AddressRecord, AddressStateFilter, AddressStateRecord, PageStart, RowFilter,
    RowOrder, RowRecord, RowValues,
};
use crate::storage::{is_unique_violation, Conn};

pub use crate::storage::audit::AuditKind;
pub use crate::storage::rows::Anchor;

/// Largest page of the table.
pub const MAX_PAGE_SIZE: u32 = 200;
/// Page size when a query asks for none.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Most audit records one call returns (the CSV download asks for this many).
pub const MAX_AUDIT_RECORDS: u32 = 100_000;
/// Audit records returned when a filter asks for none (`limit: 0`).
pub const DEFAULT_AUDIT_RECORDS: u32 = 100;

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

fn mail_delivery(record: &AddressStateRecord) -> Option<MailDelivery> {
    match record.mail_state.as_deref()? {
        "queued" => Some(MailDelivery::Queued {
            last_error: record.mail_error.clone(),
        }),
        "sent" => Some(MailDelivery::Sent),
        _ => Some(MailDelivery::Failed {
            reason: record.mail_error.clone().unwrap_or_default(),
        }),
    }
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

/// Why a row use case did not happen. `Display` is safe to show; [`RowError::Internal`] keeps its
/// cause as `source()` for the log only.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    /// The input breaks rules, each reported at its field, all at once.
    #[error("{}", join_field_errors(.0))]
    Fields(Vec<FieldError>),
    /// The row was changed since the version the edit is based on; holds the row as it is now.
    #[error(
        "this row was changed by someone else meanwhile; check its current state and edit it again"
    )]
    ChangedMeanwhile(Box<RowView>),
    /// There is no such row (or domain).
    #[error("there is no such row")]
    NotFound,
    /// The person is not a NAP of the row's domain (R1).
    #[error("you are not a contact person (NAP) of this domain")]
    Forbidden,
    /// R3: the row had a challenge; it can only be deactivated.
    #[error("{0}")]
    DeleteRefused(String),
    /// A database or system failure; details only in the log.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

fn join_field_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(FieldError::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl RowError {
    /// Whether this is an internal failure (log it with its cause; answer 500).
    pub fn is_internal(&self) -> bool {
        matches!(self, RowError::Internal(_))
    }

    fn internal(err: impl std::error::Error + Send + Sync + 'static) -> RowError {
        RowError::Internal(Box::new(err))
    }

    /// A stored value that the domain rules refuse: the database holds what it must not.
    fn corrupt(what: String) -> RowError {
        RowError::Internal(format!("stored data breaks the rules: {what}").into())
    }
}

impl From<sqlx::Error> for RowError {
    fn from(err: sqlx::Error) -> Self {
        RowError::internal(err)
    }
}

/// What saving an edit would do (R4–R6), for the NAP to confirm; nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditPreview {
    /// Sentences for the NAP, e.g. "saving supersedes 2 pending challenges".
    pub consequences: Vec<String>,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// start, which is as fast for page 1 000 as for page 1; if the row is gone, `page` counts.
    pub anchor: Option<Anchor>,
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

/// Which audit records of a domain to read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Only records of the row that has (or had) this address.
    pub row: Option<String>,
    /// Only records by this user ID.
    pub actor: Option<String>,
    /// Only records of this kind.
    pub kind: Option<AuditKind>,
    /// Only records at or after this time (Unix seconds).
    pub from: Option<i64>,
    /// Only records at or before this time (Unix seconds).
    pub to: Option<i64>,
    /// At most this many records, newest first: 0 means 100, more than 100 000 means 100 000.
    pub limit: u32,
}

/// One record of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When (Unix seconds).
    pub at: i64,
    /// Who: a user ID, or `cli:<verb>` / `system…`.
    pub actor: String,
    /// What: an [`AuditKind`] spelling.
    pub kind: String,
    /// About which address (or serial, account).
    pub subject: Option<String>,
    /// State before, as JSON.
    pub before: Option<String>,
    /// State after, as JSON.
    pub after: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Who acts, and where (R1)
// ---------------------------------------------------------------------------------------------

/// The person changing rows and the domains involved, worked out once per request or CSV upload.
pub(crate) struct RowContext {
    /// User ID for the audit trail.
    pub(crate) actor: String,
    /// Operators read every domain's table and trail (SPEC §1), but change none.
    reads_all: bool,
    /// The domains the person is a NAP of (R1), by id.
    administered: Vec<(i64, DomainName)>,
    /// The same names, as `RowFields::check_administered` takes them.
    pub(crate) administered_names: Vec<DomainName>,
    /// Every registered domain: a new row goes to the most specific one its primary lies in.
    /// Loaded for changes and for operators only.
    pub(crate) registered: Vec<(i64, DomainName)>,
    /// The same names, as `EmailAddress::owning_domain` takes them.
    pub(crate) registered_names: Vec<DomainName>,
}

/// What a [`RowContext`] is loaded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContextFor {
    /// Listing and reading rows and the trail.
    Reading,
    /// Creating and changing rows.
    Changes,
}

fn stored_domain(name: &str) -> Result<DomainName, RowError> {
    DomainName::parse(name).map_err(|e| RowError::corrupt(e.to_string()))
}

impl RowContext {
    /// Everything the use cases need: for changes, and for an operator's reading, the registered
    /// domains too (one query); a NAP's reading needs no query at all.
    pub(crate) async fn load(
        conn: &mut Conn,
        viewer: &Viewer,
        purpose: ContextFor,
    ) -> Result<RowContext, RowError> {
        let administered = viewer
            .nap_domains
            .iter()
            .map(|d| Ok((d.id, stored_domain(&d.name)?)))
            .collect::<Result<Vec<_>, RowError>>()?;
        let registered = if purpose == ContextFor::Changes || viewer.is_operator {
            list_domains(conn)
                .await?
                .iter()
                .map(|d| Ok((d.id, stored_domain(&d.name)?)))
                .collect::<Result<Vec<_>, RowError>>()?
        } else {
            Vec::new()
        };
        Ok(RowContext {
            actor: viewer.user.user_id.clone(),
            reads_all: viewer.is_operator,
            administered_names: administered.iter().map(|(_, n)| n.clone()).collect(),
            administered,
            registered_names: registered.iter().map(|(_, n)| n.clone()).collect(),
            registered,
        })
    }

    /// The portal itself acting on every registered domain's rows, audited as `actor`: the IdM's
    /// deprovisioning (R22) deactivates a leaver's rows through the same core as a NAP (R8).
    pub(crate) async fn for_system(conn: &mut Conn, actor: &str) -> Result<RowContext, RowError> {
        let registered = list_domains(conn)
            .await?
            .iter()
            .map(|d| Ok((d.id, stored_domain(&d.name)?)))
            .collect::<Result<Vec<_>, RowError>>()?;
        let names: Vec<DomainName> = registered.iter().map(|(_, n)| n.clone()).collect();
        Ok(RowContext {
            actor: actor.to_owned(),
            reads_all: true,
            administered: registered.clone(),
            administered_names: names.clone(),
            registered_names: names,
            registered,
        })
    }

    /// R1 for changes: only the domain's NAPs.
    pub(crate) fn require_nap_of(&self, domain_id: i64) -> Result<&DomainName, RowError> {
        self.administered
            .iter()
            .find(|(id, _)| *id == domain_id)
            .map(|(_, name)| name)
            .ok_or(RowError::Forbidden)
    }

    /// For reading: the domain's NAPs and operators.
    fn require_reader_of(&self, domain_id: i64) -> Result<&DomainName, RowError> {
        if self.reads_all {
            self.registered
                .iter()
                .find(|(id, _)| *id == domain_id)
                .map(|(_, name)| name)
                .ok_or(RowError::NotFound)
        } else {
            self.require_nap_of(domain_id)
        }
    }

    /// Q1: a row asked for by id must lie in a domain the person may read (`change`: administer),
    /// and a row they may not even read answers exactly as an unknown one, so that row ids tell
    /// nothing about other domains. Someone who may read no table at all is refused before the
    /// row is looked up: that answer does not depend on the id either. `None` is an unknown row.
    fn row_domain(
        &self,
        row_domain_id: Option<i64>,
        change: bool,
    ) -> Result<&DomainName, RowError> {
        if !self.reads_all && self.administered.is_empty() {
            return Err(RowError::Forbidden);
        }
        let domain_id = row_domain_id.ok_or(RowError::NotFound)?;
        if !self.reads_all && self.require_nap_of(domain_id).is_err() {
            return Err(RowError::NotFound);
        }
        if change {
            self.require_nap_of(domain_id)
        } else {
            self.require_reader_of(domain_id)
        }
    }

    /// A domain named in a request, by name. Someone who may not read it learns nothing about
    /// whether it is registered.
    pub(crate) fn readable_domain(&self, name: &str) -> Result<(i64, &DomainName), RowError> {
        let (list, refusal) = if self.reads_all {
            (&self.registered, RowError::NotFound)
        } else {
            (&self.administered, RowError::Forbidden)
        };
        let Ok(name) = DomainName::parse(name) else {
            return Err(refusal);
        };
        list.iter()
            .find(|(_, n)| *n == name)
            .map(|(id, n)| (*id, n))
            .ok_or(refusal)
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing and checking input
// ---------------------------------------------------------------------------------------------

/// A row's input parsed as far as it goes: the fields (a field that did not parse holds a
/// placeholder and is listed in `unparsed`) and the parse errors.
pub(crate) struct ParsedInput {
    pub(crate) fields: RowFields,
    pub(crate) errors: Vec<FieldError>,
    pub(crate) unparsed: BTreeSet<Field>,
}

/// Parses a row's input with the domain's parsers; `active` is kept from elsewhere (the form has
/// no such field; the CSV has its own column).
pub(crate) fn parse_input(input: &RowInput, active: bool) -> ParsedInput {
    let mut errors = Vec::new();
    let mut unparsed = BTreeSet::new();
    let mut fail = |field: Field, message: String| {
        errors.push(FieldError::new(field, message));
        unparsed.insert(field);
    };
    let first_name = PersonName::parse(&input.first_name).unwrap_or_else(|e| {
        fail(Field::FirstName, e.to_string());
        PersonName::empty()
    });
    let last_name = PersonName::parse(&input.last_name).unwrap_or_else(|e| {
        fail(Field::LastName, e.to_string());
        PersonName::empty()
    });
    let aliases = parse_aliases(&input.aliases).unwrap_or_else(|e| {
        fail(Field::Aliases, e.to_string());
        Vec::new()
    });
    let mailbox_type = if input.mailbox_type.trim().is_empty() {
        MailboxType::Personal
    } else {
        MailboxType::parse(&input.mailbox_type).unwrap_or_else(|e| {
            fail(Field::MailboxType, e.to_string());
            MailboxType::Personal
        })
    };
    let applicant = if input.applicant.trim().is_empty() {
        None
    } else {
        EmailAddress::parse(&input.applicant)
            .map(Some)
            .unwrap_or_else(|e| {
                fail(Field::Applicant, e.to_string());
                None
            })
    };
    let comment = Comment::parse(&input.comment).unwrap_or_else(|e| {
        fail(Field::Comment, e.to_string());
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

/// Stands in for a primary address that did not parse, so the other rules can still be checked
/// and every problem reported at once. `.invalid` is reserved (RFC 2606): no row can hold it.
fn placeholder_primary() -> EmailAddress {
    EmailAddress::parse("unparsed-primary@primary.invalid").expect("a valid address")
}

/// Every rule a row's fields must meet before they are written, as errors at fields:
/// [`RowFields::validate`], R1 ([`RowFields::check_administered`]; for a new row also that its
/// home table is one the NAP administers), and portal-wide uniqueness of its addresses.
///
/// `primary` is `None` when it did not parse; `own_row` is the row being edited (its own addresses
/// are no conflict). Errors at `unparsed` fields are left out: their parse error says it already.
/// Returns the errors and, for a new row, the domain it goes to.
async fn check_row(
    conn: &mut Conn,
    ctx: &RowContext,
    primary: Option<&EmailAddress>,
    own_row: Option<i64>,
    fields: &RowFields,
    unparsed: &BTreeSet<Field>,
) -> Result<(Vec<FieldError>, Option<i64>), RowError> {
    let placeholder;
    let checked_primary = match primary {
        Some(p) => p,
        None => {
            placeholder = placeholder_primary();
            &placeholder
        }
    };
    let mut errors: Vec<FieldError> = Vec::new();
    if let Err(found) = fields.validate(checked_primary) {
        errors.extend(found);
    }
    if let Err(found) = fields.check_administered(checked_primary, &ctx.administered_names) {
        errors.extend(
            found
                .into_iter()
                .filter(|e| primary.is_some() || e.field != Field::PrimaryAddress),
        );
    }
    // A new row belongs to the most specific registered domain its primary lies in, which may be a
    // subdomain registered for other NAPs; R1 needs that one to be administered too.
    let mut home = None;
    if let (Some(primary), None) = (primary, own_row) {
        if ctx.administered_names.iter().any(|d| primary.is_in(d)) {
            if let Some(owning) = primary.owning_domain(&ctx.registered_names) {
                let id = ctx
                    .registered
                    .iter()
                    .find(|(_, name)| name == owning)
                    .map(|(id, _)| *id);
                match id.filter(|id| ctx.require_nap_of(*id).is_ok()) {
                    Some(id) => home = Some(id),
                    None => errors.push(FieldError::new(
                        Field::PrimaryAddress,
                        format!(
                            "{primary} belongs to the table of {owning}, which you do not administer"
                        ),
                    )),
                }
            }
        }
    }
    errors.retain(|e| !unparsed.contains(&e.field));
    errors.extend(uniqueness_errors(conn, ctx, primary, own_row, fields, unparsed).await?);
    Ok((errors, home))
}

/// Addresses of the row that another row holds already, each named with that row.
async fn uniqueness_errors(
    conn: &mut Conn,
    ctx: &RowContext,
    primary: Option<&EmailAddress>,
    own_row: Option<i64>,
    fields: &RowFields,
    unparsed: &BTreeSet<Field>,
) -> Result<Vec<FieldError>, RowError> {
    let mut addresses: Vec<&str> = Vec::new();
    if let Some(p) = primary {
        addresses.push(p.as_str());
    }
    if !unparsed.contains(&Field::Aliases) {
        addresses.extend(fields.aliases.iter().map(EmailAddress::as_str));
    }
    let holders = store::find_address_holders(conn, &addresses).await?;
    let mut errors = Vec::new();
    for h in holders.iter().filter(|h| Some(h.row_id) != own_row) {
        let field = if primary.is_some_and(|p| p.as_str() == h.address) {
            Field::PrimaryAddress
        } else {
            Field::Aliases
        };
        errors.push(ctx.used_by(field, h));
    }
    Ok(errors)
}

impl RowContext {
    /// An address that row `h` holds already. Named with that row when it lies in a domain the
    /// person administers (they can go and look); otherwise only that it is taken: a NAP learns
    /// nothing about other domains' rows (Q1).
    pub(crate) fn used_by(&self, field: Field, h: &store::AddressHolder) -> FieldError {
        if self
            .administered
            .iter()
            .any(|(_, d)| d.as_str() == h.domain_name)
        {
            FieldError::new(
                field,
                format!(
                    "{} is already used by row {} ({})",
                    h.address, h.primary_address, h.domain_name
                ),
            )
        } else {
            FieldError::new(
                field,
                format!(
                    "{} is already used by a row you do not administer; an address can belong \
                     to one row only",
                    h.address
                ),
            )
        }
    }
}

/// Turns a unique violation on inserting `address` into the error that it is taken. The checks
/// before the insert find these already (naming the row where the person may know it); this
/// covers a writer that slipped in between, and says no more than that the address is taken.
async fn unique_violation_error(
    conn: &mut Conn,
    err: sqlx::Error,
    address: &str,
    field: Field,
) -> RowError {
    if !is_unique_violation(&err) {
        return err.into();
    }
    match store::find_address_holders(conn, &[address]).await {
        Ok(holders) => match holders.first() {
            Some(h) => RowError::Fields(vec![FieldError::new(
                field,
                format!(
                    "{} is already used by another row; an address can belong to one row only",
                    h.address
                ),
            )]),
            None => err.into(),
        },
        Err(e) => e.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Stored rows
// ---------------------------------------------------------------------------------------------

/// A stored row read back into the domain's types.
pub(crate) struct StoredRow {
    pub(crate) record: RowRecord,
    pub(crate) primary: EmailAddress,
    pub(crate) fields: RowFields,
}

pub(crate) fn stored_row(
    record: RowRecord,
    addresses: &[AddressRecord],
) -> Result<StoredRow, RowError> {
    let corrupt = |e: &dyn std::fmt::Display| RowError::corrupt(format!("row {}: {e}", record.id));
    let primary = EmailAddress::parse(&record.primary_address).map_err(|e| corrupt(&e))?;
    let aliases = addresses
        .iter()
        .filter(|a| a.kind == "alias")
        .map(|a| EmailAddress::parse(&a.address))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| corrupt(&e))?;
    let fields = RowFields {
        first_name: PersonName::parse_stored(&record.first_name).map_err(|e| corrupt(&e))?,
        last_name: PersonName::parse_stored(&record.last_name).map_err(|e| corrupt(&e))?,
        aliases,
        mailbox_type: MailboxType::parse(&record.mailbox_type).map_err(|e| corrupt(&e))?,
        applicant: record
            .applicant_address
            .as_deref()
            .map(EmailAddress::parse)
            .transpose()
            .map_err(|e| corrupt(&e))?,
        comment: Comment::parse_stored(&record.comment).map_err(|e| corrupt(&e))?,
        active: record.active,
    };
    Ok(StoredRow {
        record,
        primary,
        fields,
    })
}

/// Loads a row to change it: [`RowError::NotFound`] if there is none or it lies in a domain the
/// person may not read (Q1), [`RowError::Forbidden`] unless the person is a NAP of its domain
/// (R1: an operator, or someone with no table at all).
pub(crate) async fn load_row_for_change(
    conn: &mut Conn,
    ctx: &RowContext,
    row_id: i64,
) -> Result<StoredRow, RowError> {
    let record = store::find_row(conn, row_id).await?;
    ctx.row_domain(record.as_ref().map(|r| r.domain_id), true)?;
    let record = record.ok_or(RowError::NotFound)?;
    let addresses = store::list_addresses_of_row(conn, row_id).await?;
    stored_row(record, &addresses)
}

fn values_of(fields: &RowFields) -> RowValues<'_> {
    RowValues {
        first_name: fields.first_name.as_str(),
        last_name: fields.last_name.as_str(),
        mailbox_type: fields.mailbox_type.as_str(),
        applicant_address: fields.applicant.as_ref().map(EmailAddress::as_str),
        comment: fields.comment.as_str(),
        active: fields.active,
    }
}

/// What the audit trail records of a row (before and after).
pub(crate) fn row_json(primary: &EmailAddress, fields: &RowFields) -> serde_json::Value {
    json!({
        "primary": primary.as_str(),
        "first_name": fields.first_name.as_str(),
        "last_name": fields.last_name.as_str(),
        "aliases": fields.aliases.iter().map(EmailAddress::as_str).collect::<Vec<_>>(),
        "mailbox_type": fields.mailbox_type.as_str(),
        "applicant": fields.applicant.as_ref().map(EmailAddress::as_str),
        "comment": fields.comment.as_str(),
        "active": fields.active,
    })
}

/// The search text of a row: its names and addresses, lower-case (the search is case-insensitive,
/// also beyond ASCII, where SQL's `LIKE` is not).
pub(crate) fn search_text(primary: &EmailAddress, fields: &RowFields) -> String {
    let mut parts = vec![fields.first_name.as_str(), fields.last_name.as_str()];
    parts.extend(fields.addresses(primary).map(EmailAddress::as_str));
    parts.join(" ").to_lowercase()
}

/// Writes the audit records of one row's change, in the change's transaction (R16).
struct RowAudit<'a> {
    ctx: &'a RowContext,
    domain_id: i64,
    row_id: i64,
    now: i64,
}

impl RowAudit<'_> {
    async fn write(
        &self,
        conn: &mut Conn,
        kind: AuditKind,
        subject: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Result<(), RowError> {
        insert_audit_record(
            conn,
            &NewAuditRecord {
                actor: &self.ctx.actor,
                kind,
                domain_id: Some(self.domain_id),
                row_id: Some(self.row_id),
                subject: Some(subject),
                before,
                after,
            },
            self.now,
        )
        .await?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The cores of create and edit, inside the caller's transaction (shared with the CSV upload)
// ---------------------------------------------------------------------------------------------

/// Creates a row (active as `fields` says; new rows from the form are active) with a
/// `row_created` audit record, after every check of [`check_row`]. Returns its id.
///
/// Runs inside the caller's transaction; on `Err` the caller must roll it back.
pub(crate) async fn apply_create(
    conn: &mut Conn,
    ctx: &RowContext,
    primary: &EmailAddress,
    fields: &RowFields,
    now: i64,
) -> Result<i64, RowError> {
    let (errors, home) =
        check_row(conn, ctx, Some(primary), None, fields, &BTreeSet::new()).await?;
    let Some(domain_id) = home.filter(|_| errors.is_empty()) else {
        return Err(RowError::Fields(errors));
    };
    let id = match store::insert_row(conn, domain_id, primary.as_str(), &values_of(fields), now)
        .await
    {
        Ok(id) => id,
        Err(e) => {
            return Err(
                unique_violation_error(conn, e, primary.as_str(), Field::PrimaryAddress).await,
            )
        }
    };
    for (position, address) in fields.addresses(primary).enumerate() {
        let (kind, field) = if position == 0 {
            ("primary", Field::PrimaryAddress)
        } else {
            ("alias", Field::Aliases)
        };
        if let Err(e) =
            store::insert_address(conn, id, address.as_str(), kind, position as i64).await
        {
            return Err(unique_violation_error(conn, e, address.as_str(), field).await);
        }
    }
    store::put_row_search_text(conn, id, domain_id, &search_text(primary, fields)).await?;
    let audit = RowAudit {
        ctx,
        domain_id,
        row_id: id,
        now,
    };
    audit
        .write(
            conn,
            AuditKind::RowCreated,
            primary.as_str(),
            None,
            Some(row_json(primary, fields)),
        )
        .await?;
    Ok(id)
}

/// What an edit did beyond changing the row's fields.
#[derive(Debug, Clone)]
pub(crate) struct EditOutcome {
    /// What `domain::RowEdit` said the edit means; `is_unchanged()` when nothing was written.
    pub(crate) consequences: EditConsequences,
    /// The pending challenges it superseded (R4, R5).
    pub(crate) superseded: Vec<SupersededChallenge>,
    /// The links it dropped (R4, R5).
    pub(crate) dropped_links: Vec<LinkRecord>,
}

/// The links an edit drops, of those the row has.
fn links_to_drop(links: Vec<LinkRecord>, drop: &LinkDrop) -> Vec<LinkRecord> {
    match drop {
        LinkDrop::None => Vec::new(),
        LinkDrop::All => links,
        LinkDrop::Addresses(addresses) => links
            .into_iter()
            .filter(|l| addresses.iter().any(|a| a.as_str() == l.address))
            .collect(),
    }
}

/// Saves `after` over a stored row that must still be at `version`, applying R4–R7 in the same
/// transaction: supersedes pending challenges and drops links as [`RowEdit::between`] says, and
/// writes the audit records (`row_edited` with before and after, `row_deactivated` /
/// `row_reactivated`, one `challenge_superseded` and `link_dropped` per challenge and link).
/// An edit that changes nothing writes nothing (reordering aliases alone is no change, R4).
///
/// Runs inside the caller's transaction; on `Err` the caller must roll it back.
pub(crate) async fn apply_edit(
    conn: &mut Conn,
    ctx: &RowContext,
    stored: &StoredRow,
    version: i64,
    after: &RowFields,
    now: i64,
) -> Result<EditOutcome, RowError> {
    let record = &stored.record;
    ctx.require_nap_of(record.domain_id)?;
    if record.version != version {
        return Err(changed_meanwhile(conn, ctx, record.id, now).await);
    }
    let (errors, _) = check_row(
        conn,
        ctx,
        Some(&stored.primary),
        Some(record.id),
        after,
        &BTreeSet::new(),
    )
    .await?;
    if !errors.is_empty() {
        return Err(RowError::Fields(errors));
    }
    let consequences = RowEdit::between(&stored.fields, after);
    if consequences.is_unchanged() {
        return Ok(EditOutcome {
            consequences,
            superseded: Vec::new(),
            dropped_links: Vec::new(),
        });
    }
    if !store::update_row(conn, record.id, version, &values_of(after), now).await? {
        return Err(changed_meanwhile(conn, ctx, record.id, now).await);
    }
    let primary = stored.primary.as_str();
    let audit = RowAudit {
        ctx,
        domain_id: record.domain_id,
        row_id: record.id,
        now,
    };
    if consequences
        .changed_fields
        .iter()
        .any(|f| *f != Field::Active)
    {
        audit
            .write(
                conn,
                AuditKind::RowEdited,
                primary,
                Some(row_json(&stored.primary, &stored.fields)),
                Some(row_json(&stored.primary, after)),
            )
            .await?;
    }
    if let Some(activation) = consequences.activation {
        let kind = match activation {
            Activation::Deactivated => AuditKind::RowDeactivated,
            Activation::Reactivated => AuditKind::RowReactivated,
        };
        audit
            .write(
                conn,
                kind,
                primary,
                Some(json!({ "active": stored.fields.active })),
                Some(json!({ "active": after.active })),
            )
            .await?;
    }

    let superseded = if consequences.supersede_pending {
        supersede_pending_challenges_of_row(conn, record.id, now).await?
    } else {
        Vec::new()
    };
    for c in &superseded {
        audit
            .write(
                conn,
                AuditKind::ChallengeSuperseded,
                &c.address,
                Some(json!({
                    "challenge": c.id,
                    "state": "pending",
                    "recipient": c.recipient,
                    "sent_at": c.created_at,
                })),
                Some(json!({ "challenge": c.id, "state": "superseded" })),
            )
            .await?;
    }

    let dropped_links = if consequences.dropped_links == LinkDrop::None {
        Vec::new()
    } else {
        let links = list_links_of_row(conn, record.id).await?;
        links_to_drop(links, &consequences.dropped_links)
    };
    for link in &dropped_links {
        delete_link(conn, record.id, &link.address).await?;
        audit
            .write(
                conn,
                AuditKind::LinkDropped,
                &link.address,
                Some(json!({
                    "user_id": link.user_id,
                    "challenge": link.challenge_id,
                    "linked_at": link.linked_at,
                })),
                None,
            )
            .await?;
    }

    if stored.fields.aliases != after.aliases {
        sync_aliases(conn, record.id, &stored.fields.aliases, &after.aliases).await?;
    }
    if stored.fields.aliases != after.aliases
        || stored.fields.first_name != after.first_name
        || stored.fields.last_name != after.last_name
    {
        let text = search_text(&stored.primary, after);
        store::put_row_search_text(conn, record.id, record.domain_id, &text).await?;
    }
    Ok(EditOutcome {
        consequences,
        superseded,
        dropped_links,
    })
}

/// Makes a row's stored aliases `after`, in its order: removed ones go (their links are dropped
/// already), kept ones move to their new position, new ones are added.
async fn sync_aliases(
    conn: &mut Conn,
    row_id: i64,
    before: &[EmailAddress],
    after: &[EmailAddress],
) -> Result<(), RowError> {
    for removed in before.iter().filter(|a| !after.contains(a)) {
        store::delete_alias(conn, row_id, removed.as_str()).await?;
    }
    for (index, alias) in after.iter().enumerate() {
        let position = index as i64 + 1;
        match before.iter().position(|b| b == alias) {
            Some(old) if old as i64 + 1 == position => {}
            Some(_) => {
                store::update_address_position(conn, row_id, alias.as_str(), position).await?
            }
            None => {
                if let Err(e) =
                    store::insert_address(conn, row_id, alias.as_str(), "alias", position).await
                {
                    return Err(
                        unique_violation_error(conn, e, alias.as_str(), Field::Aliases).await,
                    );
                }
            }
        }
    }
    Ok(())
}

/// [`RowError::ChangedMeanwhile`] with the row as it is now.
pub(crate) async fn changed_meanwhile(
    conn: &mut Conn,
    ctx: &RowContext,
    row_id: i64,
    now: i64,
) -> RowError {
    match load_view(conn, ctx, row_id, now).await {
        Ok(view) => RowError::ChangedMeanwhile(Box::new(view)),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------------------------
// Reading rows
// ---------------------------------------------------------------------------------------------

fn address_state(a: &AddressStateRecord, now: i64) -> AddressState {
    let latest = match (
        &a.challenge_state,
        a.challenge_created_at,
        a.challenge_expires_at,
    ) {
        (Some(state), Some(created_at), Some(expires_at)) => {
            let state = ChallengeState::parse(state).unwrap_or(ChallengeState::Expired);
            let effective = ChallengeLifetime::from_secs(expires_at - created_at).map_or(
                ChallengeState::Expired,
                |lifetime| {
                    Challenge {
                        state,
                        created_at,
                        lifetime,
                    }
                    .effective_state(now)
                },
            );
            Some((effective, created_at, expires_at))
        }
        _ => None,
    };
    let resolved = a.challenge_resolved_at;
    // R18: a link suspended by a newer round does not make the address read as confirmed; the
    // newer round's state does (the link itself is shown beside it, R17).
    let usable_link = a
        .link_user_id
        .as_ref()
        .filter(|_| !link_suspended(a.link_challenge_id.unwrap_or_default(), a.challenge_id));
    match (latest, usable_link) {
        (Some((ChallengeState::Pending, since, _)), _) => AddressState::Pending { since },
        (_, Some(user_id)) => {
            let name = format!(
                "{} {}",
                a.user_given_name.as_deref().unwrap_or(""),
                a.user_family_name.as_deref().unwrap_or("")
            );
            let name = name.trim();
            AddressState::Confirmed {
                user_id: user_id.clone(),
                user_name: if name.is_empty() {
                    user_id.clone()
                } else {
                    name.to_owned()
                },
                at: a.linked_at.unwrap_or_default(),
            }
        }
        (None, None) => AddressState::NeverSent,
        (Some((ChallengeState::Expired, _, expires_at)), None) => {
            AddressState::Expired { at: expires_at }
        }
        (Some((ChallengeState::Superseded | ChallengeState::Confirmed, created_at, _)), None) => {
            AddressState::Superseded {
                at: resolved.unwrap_or(created_at),
            }
        }
    }
}

/// The link of an address as the table shows it (R17), suspended by a newer round (R18).
fn link_of(a: &AddressStateRecord) -> Option<AddressLink> {
    let user_id = a.link_user_id.clone()?;
    Some(AddressLink {
        user_name: display_name(
            a.user_given_name.as_deref().unwrap_or(""),
            a.user_family_name.as_deref().unwrap_or(""),
            &user_id,
        ),
        user_id,
        since: a.linked_at.unwrap_or_default(),
        suspended: link_suspended(a.link_challenge_id.unwrap_or_default(), a.challenge_id),
    })
}

/// The valid certificates of rows (R17), by row.
pub(crate) async fn held_certificates(
    conn: &mut Conn,
    row_ids: &[i64],
    now: i64,
) -> Result<HashMap<i64, Vec<HeldCertificate>>, RowError> {
    let mut by_row: HashMap<i64, Vec<HeldCertificate>> = HashMap::new();
    for c in list_held_certificates_of_rows(conn, row_ids, now).await? {
        by_row.entry(c.row_id).or_default().push(HeldCertificate {
            id: c.id,
            serial: c.serial,
            user_name: display_name(&c.given_name, &c.family_name, &c.user_id),
            user_id: c.user_id,
            expiring_soon: expiring_soon(c.not_after, now),
            not_after: c.not_after,
        });
    }
    Ok(by_row)
}

fn view_of(
    domain: &DomainName,
    record: RowRecord,
    addresses: &[AddressStateRecord],
    certificates: Vec<HeldCertificate>,
    now: i64,
) -> Result<RowView, RowError> {
    let mailbox_type = MailboxType::parse(&record.mailbox_type)
        .map_err(|e| RowError::corrupt(format!("row {}: {e}", record.id)))?;
    Ok(RowView {
        id: record.id,
        domain: domain.to_string(),
        aliases: addresses
            .iter()
            .filter(|a| a.kind == "alias")
            .map(|a| a.address.clone())
            .collect(),
        addresses: addresses
            .iter()
            .map(|a| AddressStatus {
                address: a.address.clone(),
                is_primary: a.kind == "primary",
                state: address_state(a, now),
                delivery: mail_delivery(a),
                link: link_of(a),
            })
            .collect(),
        certificates,
        primary: record.primary_address,
        first_name: record.first_name,
        last_name: record.last_name,
        mailbox_type,
        applicant: record.applicant_address,
        comment: record.comment,
        active: record.active,
        version: record.version,
        challenged: record.challenged,
        updated_at: record.updated_at,
    })
}

/// Builds the views of rows with one query for all their addresses.
async fn views_of(
    conn: &mut Conn,
    domain_of: impl Fn(i64) -> Result<DomainName, RowError>,
    records: Vec<RowRecord>,
    now: i64,
) -> Result<Vec<RowView>, RowError> {
    let ids: Vec<i64> = records.iter().map(|r| r.id).collect();
    let mut by_row: HashMap<i64, Vec<AddressStateRecord>> = HashMap::new();
    for a in store::list_address_states(conn, &ids).await? {
        by_row.entry(a.row_id).or_default().push(a);
    }
    let mut held = held_certificates(conn, &ids, now).await?;
    records
        .into_iter()
        .map(|r| {
            let addresses = by_row.remove(&r.id).unwrap_or_default();
            let certificates = held.remove(&r.id).unwrap_or_default();
            view_of(&domain_of(r.domain_id)?, r, &addresses, certificates, now)
        })
        .collect()
}

/// A row as the table shows it; the reader must be allowed to read its domain.
pub(crate) async fn load_view(
    conn: &mut Conn,
    ctx: &RowContext,
    row_id: i64,
    now: i64,
) -> Result<RowView, RowError> {
    let record = store::find_row(conn, row_id).await?;
    let domain = ctx
        .row_domain(record.as_ref().map(|r| r.domain_id), false)?
        .clone();
    let record = record.ok_or(RowError::NotFound)?;
    let mut views = views_of(conn, |_| Ok(domain.clone()), vec![record], now).await?;
    views.pop().ok_or(RowError::NotFound)
}

/// A transaction that takes the write lock at once: the version it reads cannot be changed by
/// another writer before it commits (optimistic concurrency without a lost update), and SQLite
/// never has to refuse its first write for a stale snapshot.
pub(crate) async fn begin_write(
    pool: &SqlitePool,
) -> Result<Transaction<'static, Sqlite>, RowError> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

// ---------------------------------------------------------------------------------------------
// The use cases
// ---------------------------------------------------------------------------------------------

/// One page of a domain's table: filtered, sorted, with every address's state. One query whatever
/// the page size: the page, its total count and the addresses of the page's rows.
pub async fn list_rows(
    pool: &SqlitePool,
    viewer: &Viewer,
    domain: &str,
    query: &RowQuery,
) -> Result<RowPage, RowError> {
    let mut conn = pool.acquire().await?;
    let ctx = RowContext::load(&mut conn, viewer, ContextFor::Reading).await?;
    let (domain_id, domain_name) = ctx.readable_domain(domain)?;
    let now = clock::now();
    let page_size = query.page_size.clamp(1, MAX_PAGE_SIZE);
    let search = query.search.trim();
    let filter = RowFilter {
        domain_id,
        active: query.active,
        mailbox_type: query.mailbox_type.map(MailboxType::as_str),
        state: query.state.map(|s| match s {
            StateFilter::Confirmed => AddressStateFilter::Confirmed,
            StateFilter::Pending => AddressStateFilter::Pending,
            StateFilter::NeverSent => AddressStateFilter::NeverSent,
        }),
        search,
        now,
    };
    let order = match query.sort {
        SortKey::Primary => RowOrder::Primary,
        SortKey::LastName => RowOrder::LastName,
        SortKey::FirstName => RowOrder::FirstName,
        SortKey::Type => RowOrder::Type,
        SortKey::Active => RowOrder::Active,
        SortKey::Updated => RowOrder::Updated,
    };
    let limit = i64::from(page_size);
    let by_number = PageStart::Offset(i64::from(query.page) * limit);
    let start = query.anchor.map_or(by_number, PageStart::Anchor);
    // A search's matches are kept for its next pages (`search_matches`).
    let options = pool.connect_options();
    let pages = TablePages {
        database: options.get_filename(),
        filter: &filter,
        order,
        descending: query.descending,
        limit,
    };
    let mut page = pages.read(&mut conn, start).await?;
    // From an anchor, the page can come out wrong when the table changed meanwhile: nothing after
    // a deleted anchor row (then the page is read by its number), or less than a page before the
    // anchor when rows before it went away (then it is the first page).
    let mut page_number = query.page;
    let again = match query.anchor {
        Some(_) if page.rows.is_empty() => Some(by_number),
        Some(Anchor::Before(_)) if (page.rows.len() as i64) < limit => {
            page_number = 0;
            Some(PageStart::Offset(0))
        }
        _ => None,
    };
    if let Some(start) = again {
        page = pages.read(&mut conn, start).await?;
    }
    let mut by_row: HashMap<i64, Vec<AddressStateRecord>> = HashMap::new();
    for a in page.addresses {
        by_row.entry(a.row_id).or_default().push(a);
    }
    let ids: Vec<i64> = page.rows.iter().map(|r| r.id).collect();
    let mut held = held_certificates(&mut conn, &ids, now).await?;
    let rows = page
        .rows
        .into_iter()
        .map(|r| {
            let addresses = by_row.remove(&r.id).unwrap_or_default();
            let certificates = held.remove(&r.id).unwrap_or_default();
            view_of(domain_name, r, &addresses, certificates, now)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RowPage {
        rows,
        total: page.total.max(0) as u64,
        page: page_number,
        page_size,
    })
}

/// One row (its domain's NAPs and operators).
pub async fn get_row(pool: &SqlitePool, viewer: &Viewer, row_id: i64) -> Result<RowView, RowError> {
    let mut conn = pool.acquire().await?;
    let ctx = RowContext::load(&mut conn, viewer, ContextFor::Reading).await?;
    load_view(&mut conn, &ctx, row_id, clock::now()).await
}

/// Adds an active row to a table the viewer administers (R1). `primary` is fixed from now on (R2);
/// the row goes to the table of the most specific registered domain it lies in.
pub async fn create_row(
    pool: &SqlitePool,
    viewer: &Viewer,
    domain: &str,
    primary: &str,
    input: &RowInput,
) -> Result<RowView, RowError> {
    let mut tx = begin_write(pool).await?;
    let ctx = RowContext::load(&mut tx, viewer, ContextFor::Changes).await?;
    let (domain_id, _) = ctx.readable_domain(domain)?;
    ctx.require_nap_of(domain_id)?;
    let now = clock::now();
    let parsed_primary = EmailAddress::parse(primary);
    let ParsedInput {
        fields,
        mut errors,
        unparsed,
    } = parse_input(input, true);
    let primary = match parsed_primary {
        Ok(p) if errors.is_empty() => p,
        parsed_primary => {
            // Report every problem at once: the parse errors and what the other rules say.
            let primary = match parsed_primary {
                Ok(p) => Some(p),
                Err(e) => {
                    errors.insert(0, FieldError::new(Field::PrimaryAddress, e.to_string()));
                    None
                }
            };
            let (more, _) =
                check_row(&mut tx, &ctx, primary.as_ref(), None, &fields, &unparsed).await?;
            errors.extend(more);
            return Err(RowError::Fields(errors));
        }
    };
    let id = apply_create(&mut tx, &ctx, &primary, &fields, now).await?;
    let view = load_view(&mut tx, &ctx, id, now).await?;
    tx.commit().await?;
    Ok(view)
}

/// Parses an edit of a stored row, reporting every problem at once.
pub(crate) async fn parse_edit(
    conn: &mut Conn,
    ctx: &RowContext,
    stored: &StoredRow,
    input: &RowInput,
) -> Result<RowFields, RowError> {
    // The form has no active field: an edit keeps the row's (R7 is set_active's).
    let ParsedInput {
        fields,
        mut errors,
        unparsed,
    } = parse_input(input, stored.fields.active);
    if errors.is_empty() {
        return Ok(fields);
    }
    let (more, _) = check_row(
        conn,
        ctx,
        Some(&stored.primary),
        Some(stored.record.id),
        &fields,
        &unparsed,
    )
    .await?;
    errors.extend(more);
    Err(RowError::Fields(errors))
}

/// What saving `input` over row `row_id` at `version` would do; nothing is written.
pub async fn preview_edit(
    pool: &SqlitePool,
    viewer: &Viewer,
    row_id: i64,
    version: i64,
    input: &RowInput,
) -> Result<EditPreview, RowError> {
    let mut conn = pool.acquire().await?;
    let ctx = RowContext::load(&mut conn, viewer, ContextFor::Reading).await?;
    let now = clock::now();
    let stored = load_row_for_change(&mut conn, &ctx, row_id).await?;
    if stored.record.version != version {
        return Err(changed_meanwhile(&mut conn, &ctx, row_id, now).await);
    }
    let after = parse_edit(&mut conn, &ctx, &stored, input).await?;
    let (errors, _) = check_row(
        &mut conn,
        &ctx,
        Some(&stored.primary),
        Some(row_id),
        &after,
        &BTreeSet::new(),
    )
    .await?;
    if !errors.is_empty() {
        return Err(RowError::Fields(errors));
    }
    let c = RowEdit::between(&stored.fields, &after);
    let supersedes = if c.supersede_pending {
        count_pending_challenges_of_row(&mut conn, row_id)
            .await?
            .max(0) as usize
    } else {
        0
    };
    let dropped = if c.dropped_links == LinkDrop::None {
        Vec::new()
    } else {
        links_to_drop(
            list_links_of_row(&mut conn, row_id).await?,
            &c.dropped_links,
        )
    };
    let mut consequences = c.describe();
    if supersedes > 0 {
        let plural = if supersedes == 1 { "" } else { "s" };
        consequences.push(format!(
            "saving supersedes {supersedes} pending challenge{plural}"
        ));
    }
    for link in &dropped {
        let what = if link.address == stored.primary.as_str() {
            "primary address"
        } else {
            "alias"
        };
        let name = format!("{} {}", link.given_name, link.family_name);
        let name = match name.trim() {
            "" => link.user_id.as_str(),
            name => name,
        };
        consequences.push(format!(
            "saving drops the link of {what} {} (confirmed by {name})",
            link.address
        ));
    }
    Ok(EditPreview {
        consequences,
        supersedes,
        drops_links: dropped.into_iter().map(|l| l.address).collect(),
    })
}

/// Saves an edit of row `row_id`, which must still be at `version` (else
/// [`RowError::ChangedMeanwhile`] with the row as it is now). The primary address is not part of
/// the input (R2); R4–R6 are applied in the same transaction; the version is bumped.
pub async fn edit_row(
    pool: &SqlitePool,
    viewer: &Viewer,
    row_id: i64,
    version: i64,
    input: &RowInput,
) -> Result<RowView, RowError> {
    let mut tx = begin_write(pool).await?;
    let ctx = RowContext::load(&mut tx, viewer, ContextFor::Changes).await?;
    let now = clock::now();
    let stored = load_row_for_change(&mut tx, &ctx, row_id).await?;
    if stored.record.version != version {
        return Err(changed_meanwhile(&mut tx, &ctx, row_id, now).await);
    }
    let after = parse_edit(&mut tx, &ctx, &stored, input).await?;
    let outcome = apply_edit(&mut tx, &ctx, &stored, version, &after, now).await?;
    let view = load_view(&mut tx, &ctx, row_id, now).await?;
    tx.commit().await?;
    tracing::info!(
        row_id,
        changed = ?outcome.consequences.changed_fields,
        superseded = outcome.superseded.len(),
        dropped_links = outcome.dropped_links.len(),
        "row edited"
    );
    Ok(view)
}

/// Deactivates (`active = false`) or reactivates rows, all in one transaction: if one row is
/// refused (stale version, not the viewer's), none changes. Links and challenges are untouched
/// (R7). A row already in that state is left alone, whatever its version: nothing is written, so
/// nothing can be lost. Returns the rows as they are afterwards, in the order given.
pub async fn set_active(
    pool: &SqlitePool,
    viewer: &Viewer,
    rows: &[(i64, i64)],
    active: bool,
) -> Result<Vec<RowView>, RowError> {
    let mut tx = begin_write(pool).await?;
    let ctx = RowContext::load(&mut tx, viewer, ContextFor::Changes).await?;
    let now = clock::now();
    apply_set_active(&mut tx, &ctx, rows, active, now).await?;
    let views = load_views(&mut tx, &ctx, rows, now).await?;
    tx.commit().await?;
    Ok(views)
}

/// The core of [`set_active`] inside the caller's transaction (shared with the handover's one-step
/// use cases, R18, R19). On `Err` the caller must roll it back.
pub(crate) async fn apply_set_active(
    conn: &mut Conn,
    ctx: &RowContext,
    rows: &[(i64, i64)],
    active: bool,
    now: i64,
) -> Result<(), RowError> {
    for &(row_id, version) in rows {
        let stored = load_row_for_change(conn, ctx, row_id).await?;
        if stored.fields.active == active {
            continue;
        }
        let after = RowFields {
            active,
            ..stored.fields.clone()
        };
        apply_edit(conn, ctx, &stored, version, &after, now).await?;
    }
    Ok(())
}

/// The rows as the table shows them, in the order given.
pub(crate) async fn load_views(
    conn: &mut Conn,
    ctx: &RowContext,
    rows: &[(i64, i64)],
    now: i64,
) -> Result<Vec<RowView>, RowError> {
    let mut views = Vec::with_capacity(rows.len());
    for &(row_id, _) in rows {
        views.push(load_view(conn, ctx, row_id, now).await?);
    }
    Ok(views)
}

/// Deletes a row at `version`, only while no challenge was ever sent for it (R3), with a
/// `row_deleted` audit record that keeps the row's id and last state.
pub async fn delete_row(
    pool: &SqlitePool,
    viewer: &Viewer,
    row_id: i64,
    version: i64,
) -> Result<(), RowError> {
    let mut tx = begin_write(pool).await?;
    let ctx = RowContext::load(&mut tx, viewer, ContextFor::Changes).await?;
    let now = clock::now();
    let stored = load_row_for_change(&mut tx, &ctx, row_id).await?;
    if stored.record.version != version {
        return Err(changed_meanwhile(&mut tx, &ctx, row_id, now).await);
    }
    may_delete_row(stored.record.challenged)
        .map_err(|refusal| RowError::DeleteRefused(refusal.to_string()))?;
    if !store::delete_unchallenged_row(&mut tx, row_id, version).await? {
        return Err(changed_meanwhile(&mut tx, &ctx, row_id, now).await);
    }
    let audit = RowAudit {
        ctx: &ctx,
        domain_id: stored.record.domain_id,
        row_id,
        now,
    };
    audit
        .write(
            &mut tx,
            AuditKind::RowDeleted,
            stored.primary.as_str(),
            Some(row_json(&stored.primary, &stored.fields)),
            None,
        )
        .await?;
    tx.commit().await?;
    Ok(())
}

/// A domain's audit trail, newest first, filtered (its NAPs and operators, R16).
pub async fn list_audit(
    pool: &SqlitePool,
    viewer: &Viewer,
    domain: &str,
    filter: &AuditFilter,
) -> Result<Vec<AuditEntry>, RowError> {
    let mut conn = pool.acquire().await?;
    let ctx = RowContext::load(&mut conn, viewer, ContextFor::Reading).await?;
    let (domain_id, _) = ctx.readable_domain(domain)?;
    let trimmed = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    // An address as typed: normalised like stored ones, so `Anna@Example.org` finds the row.
    let address = trimmed(&filter.row).map(|a| match EmailAddress::parse(&a) {
        Ok(parsed) => parsed.as_str().to_owned(),
        Err(_) => a.to_lowercase(),
    });
    let actor = trimmed(&filter.actor);
    let records = audit_store::list_audit_records(
        &mut conn,
        &audit_store::AuditQuery {
            domain_id,
            address: address.as_deref(),
            actor: actor.as_deref(),
            kind: filter.kind,
            from: filter.from,
            to: filter.to,
            limit: i64::from(match filter.limit {
                0 => DEFAULT_AUDIT_RECORDS,
                n => n.min(MAX_AUDIT_RECORDS),
            }),
        },
    )
    .await?;
    Ok(records
        .into_iter()
        .map(|r| AuditEntry {
            at: r.at,
            actor: r.actor,
            kind: r.kind,
            subject: r.subject,
            before: r.before,
            after: r.after,
        })
        .collect())
}

/// The audit trail as a CSV file (RFC 4180: comma, CRLF, quotes where needed): a header line and
/// one line per entry. Cells a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) get a
/// leading `'` (SPEC §4), so opening the file never executes what someone typed into a row.
pub fn audit_csv(entries: &[AuditEntry]) -> String {
    let mut out = String::from("time_utc,unix_time,actor,kind,subject,before,after\r\n");
    for e in entries {
        let cells = [
            domain::time::utc_date_time(e.at),
            e.at.to_string(),
            e.actor.clone(),
            e.kind.clone(),
            e.subject.clone().unwrap_or_default(),
            e.before.clone().unwrap_or_default(),
            e.after.clone().unwrap_or_default(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// One CSV cell: neutralised against formula execution, then quoted if it must be.
fn csv_cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(state: Option<&str>, link: bool) -> AddressStateRecord {
        AddressStateRecord {
            row_id: 1,
            address: "anna@example.org".into(),
            kind: "primary".into(),
            position: 0,
            challenge_state: state.map(str::to_owned),
            challenge_created_at: state.map(|_| 1000),
            challenge_expires_at: state.map(|_| 2000),
            challenge_resolved_at: state.filter(|s| *s != "pending").map(|_| 1500),
            link_user_id: link.then(|| "sub-anna".into()),
            linked_at: link.then_some(1200),
            user_given_name: link.then(|| "Anna".into()),
            user_family_name: link.then(|| "Schmidt".into()),
            mail_state: state.map(|_| "sent".into()),
            mail_error: None,
            // The link comes from challenge 1; a latest challenge other than a confirmed one is a
            // newer round (2), which suspends the link (R18).
            link_challenge_id: link.then_some(1),
            challenge_id: state.map(|s| if s == "confirmed" { 1 } else { 2 }),
        }
    }

    #[test]
    fn address_state_follows_the_latest_challenge_and_the_link() {
        assert_eq!(
            address_state(&record(None, false), 0),
            AddressState::NeverSent
        );
        assert_eq!(
            address_state(&record(Some("pending"), false), 1999),
            AddressState::Pending { since: 1000 }
        );
        assert_eq!(
            address_state(&record(Some("pending"), false), 2000),
            AddressState::Expired { at: 2000 }
        );
        assert_eq!(
            address_state(&record(Some("pending"), true), 1999),
            AddressState::Pending { since: 1000 },
            "a new round under way shows as pending"
        );
        let confirmed = AddressState::Confirmed {
            user_id: "sub-anna".into(),
            user_name: "Anna Schmidt".into(),
            at: 1200,
        };
        assert_eq!(
            address_state(&record(Some("confirmed"), true), 0),
            confirmed
        );
        assert_eq!(
            address_state(&record(Some("superseded"), true), 0),
            AddressState::Superseded { at: 1500 },
            "r18: a link suspended by a newer round (here superseded by an alias edit) does not \
             read as confirmed until a newer challenge is confirmed"
        );
        assert_eq!(
            address_state(&record(Some("pending"), true), 2000),
            AddressState::Expired { at: 2000 },
            "r18: nor once that round has expired"
        );
        assert_eq!(
            address_state(&record(Some("confirmed"), false), 0),
            AddressState::Superseded { at: 1500 },
            "a confirmation whose link was dropped no longer counts"
        );
        assert_eq!(
            address_state(&record(Some("superseded"), false), 0),
            AddressState::Superseded { at: 1500 }
        );
    }

    #[test]
    fn csv_cells_are_quoted_and_neutralised() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=1+1"), "'=1+1");
        assert_eq!(csv_cell("-2,3"), "\"'-2,3\"");
        assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
    }

    #[test]
    fn unparsable_type_hides_the_rules_that_depend_on_it() {
        let parsed = parse_input(
            &RowInput {
                mailbox_type: "shared".into(),
                applicant: "boss@example.net".into(),
                ..RowInput::default()
            },
            true,
        );
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(parsed.errors[0].field, Field::MailboxType);
        assert!(parsed.unparsed.contains(&Field::Applicant));
    }
}
