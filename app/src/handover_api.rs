//! The handover of an address (SPEC §6a, R17–R20) on the wire: the one-step leaver, reactivating
//! with a new challenge round, renaming a deactivated row for a different person, and the worklist.
//!
//! The worklist's items are the domain crate's own type ([`LeaverItem`]): server and browser compile
//! the same one, so there is nothing to copy field by field.

use domain::certificate::RevocationReason;
pub use domain::handover::{LeaverItem, Urgency};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::rows_api::{RowForm, RowItem, RowSaveError, SendReportItem};

/// What a one-step deactivation did (R19).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeactivationItem {
    /// The rows as they are now.
    pub rows: Vec<RowItem>,
    /// How many certificates were revoked with them.
    pub revoked: usize,
}

/// R19, S2: deactivates rows (each at the version the NAP saw; all or none) and, with `revoke`,
/// revokes their valid certificates with that reason in the same transaction.
#[server(endpoint = "handover/deactivate", input = Json)]
pub async fn deactivate_rows(
    rows: Vec<(i64, i64)>,
    revoke: Option<RevocationReason>,
) -> Result<DeactivationItem, AppError> {
    use crate::on_server::handover::handover_error;
    use crate::on_server::rows::to_item;
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::handover::deactivate_rows(&portal, &viewer, &rows, revoke)
        .await
        .map(|d| DeactivationItem {
            rows: d.rows.into_iter().map(to_item).collect(),
            revoked: d.revoked,
        })
        .map_err(handover_error)
}

/// R18: reactivates rows and sends each a new challenge round, in one step.
#[server(endpoint = "handover/reactivate_and_send", input = Json)]
pub async fn reactivate_and_send(rows: Vec<(i64, i64)>) -> Result<SendReportItem, AppError> {
    use crate::on_server::handover::handover_error;
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::handover::reactivate_and_challenge(&portal, &viewer, &rows)
        .await
        .map(|(_, r)| SendReportItem {
            rows: r.rows,
            challenges: r.challenges,
            refused: r.refused,
        })
        .map_err(handover_error)
}

/// R18: saves an edit of a deactivated row for a different person: every link of the row is
/// dropped and its pending challenges superseded, in the same transaction.
#[server(endpoint = "handover/new_person", input = Json)]
pub async fn edit_row_for_new_person(
    id: i64,
    version: i64,
    form: RowForm,
) -> Result<RowItem, RowSaveError> {
    use crate::on_server::handover::handover_save_error;
    use crate::on_server::rows::{to_input, to_item};
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer().map_err(RowSaveError::Other)?;
    backend::handover::edit_row_for_new_person(&portal, &viewer, id, version, &to_input(&form))
        .await
        .map(to_item)
        .map_err(handover_save_error)
}

/// R19: the domain's deactivated rows that still have valid certificates, most urgent first.
#[server(endpoint = "handover/worklist", input = Json)]
pub async fn leaver_worklist(domain: String) -> Result<Vec<LeaverItem>, AppError> {
    use crate::on_server::handover::handover_error;
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::handover::leaver_worklist(&portal, &viewer, &domain, backend::clock::now())
        .await
        .map_err(handover_error)
}
