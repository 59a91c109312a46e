//! The address table's data on the wire, and the server functions that read and change it.
//!
//! These are wire types, apart from the service's own (`backend::rows`), so the browser build needs
//! no server code; each server function gets the viewer, calls one service function, and maps the
//! result (STYLE.md principle 3). Every rule is checked again by the service (Q1, R1–R8).

use domain::handover::{AddressLink, HeldCertificate};
use domain::mailbox::MailboxType;
use domain::row::{Field, FieldError};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One row of the address table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowItem {
    /// Database id.
    pub id: i64,
    /// Version for optimistic concurrency: edits send it back.
    pub version: i64,
    /// The primary (sender) address.
    pub primary: String,
    /// First name (empty on functional rows).
    pub first_name: String,
    /// Last name, or the functional mailbox's name.
    pub last_name: String,
    /// Aliases in the NAP's order.
    pub aliases: Vec<String>,
    /// Personal or functional.
    pub mailbox_type: MailboxType,
    /// Applicant of a functional row.
    pub applicant: Option<String>,
    /// The NAP's note.
    pub comment: String,
    /// Active (R7).
    pub active: bool,
    /// A challenge was ever sent, so the row cannot be deleted (R3).
    pub challenged: bool,
    /// Challenge and link state of every address, primary first.
    pub addresses: Vec<AddressItem>,
    /// R17: the row's valid certificates (holder, expiry), soonest expiry first.
    pub certificates: Vec<HeldCertificate>,
}

/// The challenge/link state of one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressItem {
    /// The address.
    pub address: String,
    /// Whether it is the row's primary address.
    pub is_primary: bool,
    /// Its state.
    pub state: AddressStateItem,
    /// Delivery of the latest challenge's mail.
    pub delivery: Option<DeliveryItem>,
    /// R17, R18: the linked user, whatever the challenge state, and whether a newer round
    /// suspends the link.
    pub link: Option<AddressLink>,
}

/// Where the latest challenge mail of an address is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryItem {
    /// Waiting for delivery (with the last temporary failure, if any).
    Queued(Option<String>),
    /// Accepted by the mail server.
    Sent,
    /// Given up, with the server's reply.
    Failed(String),
}

/// Where an address stands (SPEC §3: never sent / pending since … / confirmed by … / superseded / expired).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AddressStateItem {
    /// No challenge was ever sent.
    NeverSent,
    /// A challenge is waiting for confirmation.
    Pending {
        /// Sent at.
        since: i64,
    },
    /// Linked to a user.
    Confirmed {
        /// The linked user ID.
        user_id: String,
        /// Their name.
        user_name: String,
        /// Confirmed at.
        at: i64,
    },
    /// The last challenge was superseded.
    Superseded {
        /// At.
        at: i64,
    },
    /// The last challenge expired unconfirmed.
    Expired {
        /// At.
        at: i64,
    },
}

/// A row as the NAP typed it (create and edit).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowForm {
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Aliases separated by spaces, commas or semicolons.
    pub aliases: String,
    /// `personal` or `functional`.
    pub mailbox_type: String,
    /// Applicant address (functional rows).
    pub applicant: String,
    /// Comment.
    pub comment: String,
}

impl RowForm {
    /// The form filled with a row's current values.
    pub fn of(row: &RowItem) -> RowForm {
        RowForm {
            first_name: row.first_name.clone(),
            last_name: row.last_name.clone(),
            aliases: row.aliases.join(" "),
            mailbox_type: row.mailbox_type.as_str().to_string(),
            applicant: row.applicant.clone().unwrap_or_default(),
            comment: row.comment.clone(),
        }
    }
}

/// Sort keys of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum SortColumn {
    /// By primary address.
    #[default]
    Primary,
    /// By last name.
    LastName,
    /// By first name.
    FirstName,
    /// By mailbox type.
    Type,
    /// Active first or last.
    Active,
    /// By last change.
    Updated,
}

/// Row filter by challenge state of any of the row's addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StateFilterItem {
    /// Some address is confirmed.
    Confirmed,
    /// Some address has a pending challenge.
    Pending,
    /// Some address never had a challenge.
    NeverSent,
}

/// What part of the table to show.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TableQuery {
    /// Text search over addresses and names.
    pub search: String,
    /// Only active / inactive rows.
    pub active: Option<bool>,
    /// Only personal / functional rows.
    pub mailbox_type: Option<MailboxType>,
    /// Only rows with an address in this state.
    pub state: Option<StateFilterItem>,
    /// Sort column.
    pub sort: SortColumn,
    /// Descending order.
    pub descending: bool,
    /// Page (0-based).
    pub page: u32,
    /// Rows per page.
    pub page_size: u32,
    /// Set by the pager: the row next to which the page lies (the last row of the page before, or
    /// the first of the page after), so the server finds it without counting earlier rows.
    pub anchor: Option<PageAnchor>,
}

/// Where a page lies relative to a row of the page the NAP saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PageAnchor {
    /// The rows after this row (the "next" button).
    After(i64),
    /// The rows before this row (the "previous" button).
    Before(i64),
}

impl TableQuery {
    /// Back to the first page: after a new search, filter or sort order the pager starts again.
    pub fn first_page(&mut self) {
        self.page = 0;
        self.anchor = None;
    }
}

impl Default for TableQuery {
    fn default() -> Self {
        TableQuery {
            search: String::new(),
            active: None,
            mailbox_type: None,
            state: None,
            sort: SortColumn::Primary,
            descending: false,
            page: 0,
            page_size: 50,
            anchor: None,
        }
    }
}

/// One page of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowPageItem {
    /// The rows.
    pub rows: Vec<RowItem>,
    /// Rows matching the filter in all.
    pub total: u64,
    /// The page number (0-based); it differs from the query's when the table changed so much that
    /// the page next to the anchor is the first.
    pub page: u32,
}

/// What saving an edit will do (R4–R6), shown before the NAP confirms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditPreviewItem {
    /// What saving does, such as "saving drops the link of alias x@y" (worded by the page).
    pub consequences: Vec<domain::edit::Consequence>,
}

/// Why a row could not be saved: errors at cells, or a whole-request error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum RowSaveError {
    /// Problems at fields, all at once.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Fields(Vec<FieldError>),
    /// Anything else.
    #[error("{0}")]
    Other(AppError),
}

impl leptos::server_fn::error::FromServerFnError for RowSaveError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        RowSaveError::Other(
            <AppError as leptos::server_fn::error::FromServerFnError>::from_server_fn_error(value),
        )
    }
}

impl RowSaveError {
    /// The message for one field in `lang`, if any.
    pub fn at(&self, field: Field, lang: crate::i18n::Lang) -> Option<String> {
        match self {
            RowSaveError::Fields(errors) => {
                let messages: Vec<_> = errors
                    .iter()
                    .filter(|e| e.field == field)
                    .map(|e| crate::messages::say(lang, &e.message))
                    .collect();
                (!messages.is_empty()).then(|| messages.join(" "))
            }
            RowSaveError::Other(_) => None,
        }
    }
}

/// One page of a domain's table (NAPs of the domain only).
#[server(endpoint = "rows/list", input = Json)]
pub async fn list_rows(domain: String, query: TableQuery) -> Result<RowPageItem, AppError> {
    use crate::on_server::rows::*;
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    let page = backend::rows::list_rows(
        &portal.pool,
        &portal.search_matches,
        &viewer,
        &domain,
        &to_query(&query),
    )
    .await
    .map_err(row_error)?;
    Ok(RowPageItem {
        rows: page.rows.into_iter().map(to_item).collect(),
        total: page.total,
        page: page.page,
    })
}

/// Adds a row (R1, R2: the primary address is fixed from now on).
#[server(endpoint = "rows/create", input = Json)]
pub async fn create_row(
    domain: String,
    primary: String,
    form: RowForm,
) -> Result<RowItem, RowSaveError> {
    use crate::on_server::rows::*;
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer().map_err(RowSaveError::Other)?;
    backend::rows::create_row(&portal.pool, &viewer, &domain, &primary, &to_input(&form))
        .await
        .map(to_item)
        .map_err(row_save_error)
}

/// What saving `form` over row `id` at `version` would do (nothing is written).
#[server(endpoint = "rows/preview_edit", input = Json)]
pub async fn preview_edit(
    id: i64,
    version: i64,
    form: RowForm,
) -> Result<EditPreviewItem, RowSaveError> {
    use crate::on_server::rows::*;
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer().map_err(RowSaveError::Other)?;
    backend::rows::preview_edit(&portal.pool, &viewer, id, version, &to_input(&form))
        .await
        // Ask for a confirmation only when something would be lost: a pending challenge or a link.
        .map(|p| EditPreviewItem {
            consequences: if p.supersedes == 0 && p.drops_links.is_empty() {
                Vec::new()
            } else {
                p.consequences
            },
        })
        .map_err(row_save_error)
}

/// Saves an edit of row `id`, which must still be at `version` (else "changed meanwhile").
#[server(endpoint = "rows/edit", input = Json)]
pub async fn edit_row(id: i64, version: i64, form: RowForm) -> Result<RowItem, RowSaveError> {
    use crate::on_server::rows::*;
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer().map_err(RowSaveError::Other)?;
    backend::rows::edit_row(&portal.pool, &viewer, id, version, &to_input(&form))
        .await
        .map(to_item)
        .map_err(row_save_error)
}

/// Deactivates or reactivates rows, all or none (R7).
#[server(endpoint = "rows/set_active", input = Json)]
pub async fn set_active(rows: Vec<(i64, i64)>, active: bool) -> Result<Vec<RowItem>, AppError> {
    use crate::on_server::rows::*;
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::rows::set_active(&portal.pool, &viewer, &rows, active)
        .await
        .map(|rows| rows.into_iter().map(to_item).collect())
        .map_err(row_error)
}

/// Deletes a row that never had a challenge (R3).
#[server(endpoint = "rows/delete", input = Json)]
pub async fn delete_row(id: i64, version: i64) -> Result<(), AppError> {
    use crate::on_server::rows::*;
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::rows::delete_row(&portal.pool, &viewer, id, version)
        .await
        .map_err(row_error)
}

/// What sending challenges did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendReportItem {
    /// Rows that got challenges.
    pub rows: usize,
    /// Challenges (and mails) created.
    pub challenges: usize,
    /// Rows refused, with the reason (e.g. inactive, R7).
    pub refused: Vec<(String, String)>,
}

/// Sends challenges for rows: one per address, superseding pending ones (R9).
#[server(endpoint = "challenges/send", input = Json)]
pub async fn send_challenges(row_ids: Vec<i64>) -> Result<SendReportItem, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    crate::on_server::challenges::send(&portal, &viewer, &row_ids).await
}

/// Sends challenges for every active row of a domain that has an unconfirmed address.
#[server(endpoint = "challenges/send_unconfirmed", input = Json)]
pub async fn send_to_unconfirmed(domain: String) -> Result<SendReportItem, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    crate::on_server::challenges::send_unconfirmed(&portal, &viewer, &domain).await
}
