//! The address table's data on the wire, and the server functions that read and change it.
//!
//! The types are the domain's (`domain::table`), the very ones the service takes and returns, so
//! the browser build needs no server code and nothing is copied; each server function gets the
//! viewer, calls one service function, and maps its error (STYLE.md principle 3). Every rule is
//! checked again by the service (Q1, R1–R8).

pub use domain::challenge::SendReport;
use domain::row::{Field, FieldError};
pub use domain::table::{
    AddressState, AddressStatus, Anchor, EditPreview, MailDelivery, RowInput, RowPage, RowQuery,
    RowView, SortKey, StateFilter,
};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

use crate::dates::Clock;
use crate::error::AppError;

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

/// A page of the table with the viewer's clock for its moments (R16).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TablePage {
    /// The rows; flattened, so the answer keeps the shape it had before the clock (`rows`,
    /// `total`, …), which scripts and the P2 benchmark read.
    #[serde(flatten)]
    pub page: RowPage,
    /// The wall time of every moment the rows hold, in the viewer's zone.
    pub clock: Clock,
}

/// One page of a domain's table (NAPs of the domain only), with its moments as the viewer's
/// clock shows them (R16).
#[server(endpoint = "rows/list", input = Json)]
pub async fn list_rows(domain: String, query: RowQuery) -> Result<TablePage, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    let zone = crate::time_zone::ViewerZone::of_request();
    let page = backend::rows::list_rows(
        &portal.pool,
        &portal.search_matches,
        &viewer,
        &domain,
        &query,
    )
    .await
    .map_err(crate::on_server::service_error)?;
    let clock = zone.clock(moments_of(&page.rows), backend::clock::now());
    Ok(TablePage { page, clock })
}

/// Every moment the table writes for `rows`: the addresses' challenge states and the ends of the
/// valid certificates.
pub fn moments_of(rows: &[RowView]) -> Vec<i64> {
    rows.iter()
        .flat_map(|r| {
            let states = r.addresses.iter().filter_map(|a| match a.state {
                AddressState::NeverSent => None,
                AddressState::Pending { since } => Some(since),
                AddressState::Confirmed { at, .. }
                | AddressState::Superseded { at }
                | AddressState::Expired { at } => Some(at),
            });
            states.chain(r.certificates.iter().map(|c| c.not_after))
        })
        .collect()
}

/// Adds a row (R1, R2: the primary address is fixed from now on).
#[server(endpoint = "rows/create", input = Json)]
pub async fn create_row(
    domain: String,
    primary: String,
    form: RowInput,
) -> Result<RowView, RowSaveError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer().map_err(RowSaveError::Other)?;
    backend::rows::create_row(&portal.pool, &viewer, &domain, &primary, &form)
        .await
        .map_err(crate::rows_api::service::save_error)
}

/// What saving `form` over row `id` at `version` would do (nothing is written).
#[server(endpoint = "rows/preview_edit", input = Json)]
pub async fn preview_edit(
    id: i64,
    version: i64,
    form: RowInput,
) -> Result<EditPreview, RowSaveError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer().map_err(RowSaveError::Other)?;
    let mut preview = backend::rows::preview_edit(&portal.pool, &viewer, id, version, &form)
        .await
        .map_err(crate::rows_api::service::save_error)?;
    // Ask for a confirmation only when something would be lost: a pending challenge or a link.
    if preview.supersedes == 0 && preview.drops_links.is_empty() {
        preview.consequences.clear();
    }
    Ok(preview)
}

/// Saves an edit of row `id`, which must still be at `version` (else "changed meanwhile").
#[server(endpoint = "rows/edit", input = Json)]
pub async fn edit_row(id: i64, version: i64, form: RowInput) -> Result<RowView, RowSaveError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer().map_err(RowSaveError::Other)?;
    backend::rows::edit_row(&portal.pool, &viewer, id, version, &form)
        .await
        .map_err(crate::rows_api::service::save_error)
}

/// Deactivates or reactivates rows, all or none (R7).
#[server(endpoint = "rows/set_active", input = Json)]
pub async fn set_active(rows: Vec<(i64, i64)>, active: bool) -> Result<Vec<RowView>, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::rows::set_active(&portal.pool, &viewer, &rows, active)
        .await
        .map_err(crate::on_server::service_error)
}

/// Deletes a row that never had a challenge (R3).
#[server(endpoint = "rows/delete", input = Json)]
pub async fn delete_row(id: i64, version: i64) -> Result<(), AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::rows::delete_row(&portal.pool, &viewer, id, version)
        .await
        .map_err(crate::on_server::service_error)
}

/// Sends challenges for rows: one per address, superseding pending ones (R9).
#[server(endpoint = "challenges/send", input = Json)]
pub async fn send_challenges(row_ids: Vec<i64>) -> Result<SendReport, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    crate::rows_api::service::send(&portal, &viewer, &row_ids).await
}

/// Sends challenges for every active row of a domain that has an unconfirmed address.
#[server(endpoint = "challenges/send_unconfirmed", input = Json)]
pub async fn send_to_unconfirmed(domain: String) -> Result<SendReport, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    crate::rows_api::service::send_unconfirmed(&portal, &viewer, &domain).await
}

#[cfg(feature = "ssr")]
pub(crate) mod service {
    //! The table's server functions' calls into the services, and their errors' safe faces.

    use backend::challenges::{send_challenges, send_to_all_unconfirmed, SendReport};
    use backend::roles::Viewer;
    use backend::Portal;

    use super::RowSaveError;
    use crate::error::AppError;
    use crate::on_server::{service_error, set_status, with_status};

    /// Sends challenges for rows (R9).
    pub async fn send(
        portal: &Portal,
        viewer: &Viewer,
        row_ids: &[i64],
    ) -> Result<SendReport, AppError> {
        send_challenges(
            &portal.pool,
            viewer,
            row_ids,
            &portal.config,
            &portal.outbox,
        )
        .await
        .map_err(service_error)
    }

    /// Sends challenges for every row of `domain` with an unconfirmed address.
    pub async fn send_unconfirmed(
        portal: &Portal,
        viewer: &Viewer,
        domain: &str,
    ) -> Result<SendReport, AppError> {
        let Some(d) = viewer.nap_domains.iter().find(|d| d.name == domain) else {
            return Err(with_status(AppError::Forbidden));
        };
        send_to_all_unconfirmed(&portal.pool, viewer, d.id, &portal.config, &portal.outbox)
            .await
            .map_err(service_error)
    }

    /// The same for a form whose field errors are shown at their fields.
    pub fn save_error(err: backend::error::ServiceError) -> RowSaveError {
        match err {
            backend::error::ServiceError::Invalid(domain::message::Message::Fields(errors)) => {
                set_status(422);
                RowSaveError::Fields(errors)
            }
            e => RowSaveError::Other(service_error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::handover::HeldCertificate;
    use domain::mailbox::MailboxType;

    use super::*;
    use crate::dates::WallTime;

    fn row() -> RowView {
        let status = |address: &str, is_primary, state| AddressStatus {
            address: address.into(),
            is_primary,
            state,
            delivery: None,
            link: None,
        };
        RowView {
            id: 1,
            domain: "example.org".into(),
            primary: "anna@example.org".into(),
            first_name: "Anna".into(),
            last_name: "Schmidt".into(),
            aliases: vec!["a@example.org".into(), "b@example.org".into()],
            mailbox_type: MailboxType::Personal,
            applicant: None,
            comment: String::new(),
            active: true,
            version: 1,
            challenged: true,
            addresses: vec![
                status(
                    "anna@example.org",
                    true,
                    AddressState::Confirmed {
                        user_id: "anna".into(),
                        user_name: "Anna Schmidt".into(),
                        at: 30,
                    },
                ),
                status("a@example.org", false, AddressState::Pending { since: 20 }),
                status("b@example.org", false, AddressState::NeverSent),
            ],
            certificates: vec![HeldCertificate {
                id: 9,
                serial: "0a".into(),
                user_id: "anna".into(),
                user_name: "Anna Schmidt".into(),
                not_after: 40,
                expiring_soon: false,
            }],
            updated_at: 50,
        }
    }

    #[test]
    fn r16_the_table_sends_the_wall_time_of_every_moment_it_writes() {
        assert_eq!(moments_of(&[row()]), [30, 20, 40]);
    }

    #[test]
    fn r16_the_tables_answer_keeps_its_shape_with_the_clock_beside_it() {
        let answer = TablePage {
            page: RowPage {
                rows: vec![row()],
                total: 1,
                page: 0,
                page_size: 50,
            },
            clock: Clock {
                zone: "Europe/Berlin".into(),
                offset_secs: 3600,
                known: vec![(
                    30,
                    WallTime {
                        year: 1970,
                        month: 1,
                        day: 1,
                        hour: 1,
                        minute: 0,
                    },
                )],
            },
        };
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(json["total"], 1);
        assert_eq!(json["rows"][0]["id"], 1);
        assert_eq!(json["clock"]["zone"], "Europe/Berlin");
        assert_eq!(serde_json::from_value::<TablePage>(json).unwrap(), answer);
    }
}
