//! The handover of an address (SPEC §6a, R17–R20) on the wire: the one-step leaver, reactivating
//! with a new challenge round, renaming a deactivated row for a different person, and the worklist.
//!
//! The worklist's items are the domain crate's own type ([`LeaverItem`]): server and browser compile
//! the same one, so there is nothing to copy field by field.

use domain::certificate::RevocationReason;
pub use domain::handover::{LeaverItem, Urgency};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::dates::Clock;
use crate::error::AppError;
use crate::rows_api::{RowInput, RowSaveError, RowView};
pub use domain::challenge::SendReport;
pub use domain::table::Deactivation;

/// R19, S2: deactivates rows (each at the version the NAP saw; all or none) and, with `revoke`,
/// revokes their valid certificates with that reason in the same transaction.
#[server(endpoint = "handover/deactivate", input = Json)]
pub async fn deactivate_rows(
    rows: Vec<(i64, i64)>,
    revoke: Option<RevocationReason>,
) -> Result<Deactivation, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::handover::deactivate_rows(&portal, &viewer, &rows, revoke)
        .await
        .map_err(crate::on_server::service_error)
}

/// R18: reactivates rows and sends each a new challenge round, in one step.
#[server(endpoint = "handover/reactivate_and_send", input = Json)]
pub async fn reactivate_and_send(rows: Vec<(i64, i64)>) -> Result<SendReport, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::handover::reactivate_and_challenge(&portal, &viewer, &rows)
        .await
        .map(|(_, r)| r)
        .map_err(crate::on_server::service_error)
}

/// R18: saves an edit of a deactivated row for a different person: every link of the row is
/// dropped and its pending challenges superseded, in the same transaction.
#[server(endpoint = "handover/new_person", input = Json)]
pub async fn edit_row_for_new_person(
    id: i64,
    version: i64,
    form: RowInput,
) -> Result<RowView, RowSaveError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer().map_err(RowSaveError::Other)?;
    backend::handover::edit_row_for_new_person(&portal, &viewer, id, version, &form)
        .await
        .map_err(crate::rows_api::service::save_error)
}

/// The worklist with the viewer's clock for its moments (R16).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Worklist {
    /// Most urgent first.
    pub items: Vec<LeaverItem>,
    /// The wall time of every moment the items hold, in the viewer's zone.
    pub clock: Clock,
}

/// R19: the domain's deactivated rows that still have valid certificates, most urgent first, with
/// their moments as the viewer's clock shows them (R16).
#[server(endpoint = "handover/worklist", input = Json)]
pub async fn leaver_worklist(domain: String) -> Result<Worklist, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    let zone = crate::time_zone::ViewerZone::of_request();
    let now = backend::clock::now();
    let items = backend::handover::leaver_worklist(&portal, &viewer, &domain, now)
        .await
        .map_err(crate::on_server::service_error)?;
    let moments: Vec<i64> = items
        .iter()
        .flat_map(|i| {
            [i.deactivated_at, i.deadline]
                .into_iter()
                .chain(i.certificates.iter().map(|c| c.not_after))
        })
        .collect();
    let clock = zone.clock(moments, now);
    Ok(Worklist { items, clock })
}
