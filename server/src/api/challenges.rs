//! Challenges through the API (R9, R10, R18): send a round for rows of a domain, and read where
//! each address of a row stands.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Caller;
use super::body::{ApiJson, ApiPath};
use super::problem::{Problem, ProblemKind};
use super::refusals::{DomainNotFound, JsonBodyRefusals, ReadRefusals, RowNotFound, WriteRefusals};
use super::rows::{Address, Row};
use crate::app_state::AppState;

/// Most rows one call sends rounds for (more go in several calls).
pub const MAX_ROWS_PER_CALL: usize = 1000;

/// The rows to send a challenge round for.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// Row ids of this domain (1 to 1 000).
    #[schema(min_items = 1, max_items = 1000)]
    pub rows: Vec<i64>,
}

/// A row nothing was sent for, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RefusedRow {
    /// Its primary address, or `#<id>` for an id that is no row of this domain.
    pub row: String,
    /// Why (e.g. the row is inactive, R7).
    pub reason: String,
}

fn no_such_row(id: i64) -> RefusedRow {
    RefusedRow {
        row: format!("#{id}"),
        reason: "there is no such row in this domain".to_owned(),
    }
}

/// What sending did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SendReport {
    /// Rows a round was sent for.
    pub rows: usize,
    /// Challenges (and mails) created: one per address of each such row (R9).
    pub challenges: usize,
    /// Rows nothing was sent for.
    pub refused: Vec<RefusedRow>,
}

/// Send a challenge round for rows.
///
/// Each active row gets one challenge for every address (R9), mailed to the address itself
/// (personal) or the applicant (functional); earlier pending challenges of the row are
/// superseded, and existing links allow no request until the new round is confirmed (R18).
/// Inactive rows and ids that are no row of this domain are refused one by one; the others are
/// sent.
#[utoipa::path(
    post, path = "/domains/{domain}/challenges", tag = "challenges",
    params(("domain" = String, Path, description = "The domain's name")),
    request_body = SendRequest,
    responses(
        (status = 200, description = "What was sent and what was refused", body = SendReport),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No rows, or too many", body = Problem, content_type = "application/problem+json"),
        WriteRefusals, JsonBodyRefusals, DomainNotFound,
    )
)]
pub async fn send_challenges(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(domain): ApiPath<String>,
    ApiJson(body): ApiJson<SendRequest>,
) -> Result<Json<SendReport>, Problem> {
    let viewer = caller.writer()?;
    let dom = caller.domain(&domain)?;
    if body.rows.is_empty() || body.rows.len() > MAX_ROWS_PER_CALL {
        return Err(Problem::invalid_field(
            "rows",
            format!(
                "give 1 to {MAX_ROWS_PER_CALL} row ids, not {}",
                body.rows.len()
            ),
        ));
    }
    // Only rows of this domain's table: an id of another table the token reaches is refused like
    // an unknown one, so the path's domain means what it says.
    let portal = &state.portal;
    let mut ours = Vec::with_capacity(body.rows.len());
    let mut refused = Vec::new();
    for id in body.rows {
        let row = backend::rows::get_row(&portal.pool, viewer, id)
            .await
            .map_err(Problem::from);
        match row {
            Ok(row) if row.domain == dom.name => ours.push(id),
            Ok(_) => refused.push(no_such_row(id)),
            Err(p) if p.status == 404 => refused.push(no_such_row(id)),
            Err(p) => return Err(p),
        }
    }
    let report = if ours.is_empty() {
        backend::challenges::SendReport::default()
    } else {
        backend::challenges::send_challenges(
            &portal.pool,
            viewer,
            &ours,
            &portal.config,
            &portal.outbox,
        )
        .await?
    };
    refused.extend(report.refused.into_iter().map(|(row, reason)| RefusedRow {
        row,
        reason: reason.to_string(),
    }));
    Ok(Json(SendReport {
        rows: report.rows,
        challenges: report.challenges,
        refused,
    }))
}

/// Where each address of a row stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowChallenges {
    /// The row's id.
    pub row_id: i64,
    /// The row's primary address.
    pub primary_address: String,
    /// Whether the row is active (R7: no challenge for inactive rows).
    pub active: bool,
    /// Each address with its challenge state, link and mail delivery.
    pub addresses: Vec<Address>,
}

/// Read the challenge state of each address of a row.
#[utoipa::path(
    get, path = "/domains/{domain}/rows/{id}/challenges", tag = "challenges",
    params(("domain" = String, Path, description = "The domain's name"), ("id" = i64, Path, description = "The row's id")),
    responses(
        (status = 200, description = "Each address's state", body = RowChallenges),
        (status = 400, description = "The id is not a number", body = Problem, content_type = "application/problem+json"),
        ReadRefusals, RowNotFound,
    )
)]
pub async fn row_challenges(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((domain, id)): ApiPath<(String, i64)>,
) -> Result<Json<RowChallenges>, Problem> {
    let dom = caller.domain(&domain)?;
    let view = backend::rows::get_row(&state.portal.pool, caller.viewer(), id).await?;
    if view.domain != dom.name {
        return Err(Problem::new(
            ProblemKind::NotFound,
            "There is no such row in this domain.",
        ));
    }
    let row = Row::from(view);
    Ok(Json(RowChallenges {
        row_id: row.id,
        primary_address: row.primary_address,
        active: row.active,
        addresses: row.addresses,
    }))
}
