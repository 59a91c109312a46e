//! IdM deprovisioning (SPEC R22) on the wire: the domain setting its NAPs choose, the worklist's
//! proposals with their one-click accept, and the holds of the circuit breaker that operators
//! confirm or discard.
//!
//! The values are the domain crate's own types: server and browser compile the same ones.

pub use domain::deprovisioning::{
    DeprovisionMode, DeprovisionProposal, HeldDeprovisioning, HeldRow, LeaverRowKind,
};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::dates::Timed;
use crate::error::AppError;

/// What `domain` does with a leaver's personal row (its NAPs and operators may read it).
#[server(endpoint = "deprovision/mode", input = Json)]
pub async fn deprovision_setting(domain: String) -> Result<DeprovisionMode, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::deprovisioning::deprovision_mode(&portal, &viewer, &domain)
        .await
        .map_err(crate::on_server::service_error)
}

/// Any NAP of `domain` sets what it does with a leaver's personal row; answers the setting now.
#[server(endpoint = "deprovision/set_mode", input = Json)]
pub async fn set_deprovision_setting(
    domain: String,
    mode: DeprovisionMode,
) -> Result<DeprovisionMode, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::deprovisioning::set_deprovision_mode(&portal, &viewer, &domain, mode)
        .await
        .map_err(crate::on_server::service_error)
}

/// The open proposals of `domain`'s worklist: "the IdM says X left", each with when it was
/// reported in the viewer's zone (R16).
#[server(endpoint = "deprovision/proposals", input = Json)]
pub async fn deprovision_proposals(domain: String) -> Result<Timed<DeprovisionProposal>, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    let zone = crate::time_zone::ViewerZone::of_request();
    let list = backend::deprovisioning::deprovision_proposals(
        &portal,
        &viewer,
        &domain,
        backend::clock::now(),
    )
    .await
    .map_err(crate::on_server::service_error)?;
    Ok(zone.timed(list, |p| p.reported_at))
}

/// Accepts a proposal: deactivates the row and revokes the leaver's certificates in one step
/// (R19); answers how many were revoked.
#[server(endpoint = "deprovision/accept", input = Json)]
pub async fn accept_proposal(id: i64) -> Result<usize, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::deprovisioning::accept_proposal(&portal, &viewer, id)
        .await
        .map_err(crate::on_server::service_error)
}

/// Dismisses a proposal; the row stays as it is.
#[server(endpoint = "deprovision/dismiss", input = Json)]
pub async fn dismiss_proposal(id: i64) -> Result<(), AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::deprovisioning::dismiss_proposal(&portal, &viewer, id)
        .await
        .map_err(crate::on_server::service_error)
}

/// The deprovisionings the circuit breaker holds (operators only), each with when it was
/// reported in the viewer's zone (R16).
#[server(endpoint = "deprovision/holds", input = Json)]
pub async fn held_deprovisionings() -> Result<Timed<HeldDeprovisioning>, AppError> {
    let portal = expect_context::<backend::Portal>();
    crate::on_server::require_operator()?;
    let zone = crate::time_zone::ViewerZone::of_request();
    let list = backend::deprovisioning::held_deprovisionings(&portal)
        .await
        .map_err(crate::on_server::service_error)?;
    Ok(zone.timed(list, |d| d.at))
}

/// Confirms held deprovisionings (all or none; operators only); answers how many.
#[server(endpoint = "deprovision/confirm", input = Json)]
pub async fn confirm_holds(ids: Vec<i64>) -> Result<usize, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_operator()?;
    backend::deprovisioning::confirm_holds_as(&portal, &viewer, &ids)
        .await
        .map(|d| d.deprovisionings)
        .map_err(crate::on_server::service_error)
}

/// Discards held deprovisionings (all or none; operators only); answers how many.
#[server(endpoint = "deprovision/discard", input = Json)]
pub async fn discard_holds(ids: Vec<i64>) -> Result<usize, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_operator()?;
    backend::deprovisioning::discard_holds_as(&portal, &viewer, &ids)
        .await
        .map(|d| d.deprovisionings)
        .map_err(crate::on_server::service_error)
}
