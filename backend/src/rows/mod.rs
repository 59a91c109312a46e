//! A domain's address table (SPEC §2, R1–R8, R16): list, create, edit, deactivate/reactivate and
//! delete rows, and read the domain's audit trail.
//!
//! The rules themselves are in `domain` (parsing, `RowFields::validate`, R1's
//! `RowFields::check_administered`, R4–R7's `RowEdit::between`, R3's `may_delete_row`); this
//! module applies them against the database, one step per file: who acts where ([`context`]),
//! parsing and checking input ([`checks`]), stored rows read back into the domain's types
//! ([`stored`]), the cores of create and edit inside the caller's transaction ([`apply`]), reading
//! rows ([`read`]), the use cases that change rows ([`change`]) and reading the trail ([`audit`]).
//! The cores ([`apply_create`], [`apply_edit`]) work on a connection inside the caller's
//! transaction, so that the CSV upload (R8) applies thousands of rows in one transaction through
//! the very same code as the edit form.

mod apply;
mod audit;
mod change;
mod checks;
mod context;
mod read;
mod stored;

// The tests' fill_domain (feature `testing`) creates rows through the form's core.
#[cfg(feature = "testing")]
pub(crate) use apply::apply_create;
pub(crate) use apply::{apply_edit, apply_set_active, begin_write, changed_meanwhile};
pub use audit::{
    audit_csv, list_audit, AuditEntry, AuditFilter, DEFAULT_AUDIT_RECORDS, MAX_AUDIT_RECORDS,
};
pub use change::{
    create_row, delete_row, edit_row, preview_edit, set_active, upsert_row, Upserted,
};
pub(crate) use checks::parse_edit;
pub(crate) use context::{ContextFor, RowContext};
pub use read::{get_row, list_rows};
pub(crate) use read::{held_certificates, load_view, load_views};
pub(crate) use stored::{load_row_for_change, row_json, search_text, stored_row, StoredRow};

pub use crate::storage::audit::AuditKind;
// The rows' steps (child modules) name the one error as `super::ServiceError`.
use crate::error::ServiceError;

// The address table's types are the domain's, shared with the browser (one set per concept).
pub use domain::table::{
    AddressState, AddressStatus, Anchor, EditPreview, MailDelivery, RowInput, RowPage, RowQuery,
    RowView, SortKey, StateFilter, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE,
};
