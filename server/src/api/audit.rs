//! A domain's audit trail through the API (R16): filtered, newest first, in pages.

use axum::extract::State;
use axum::Json;
use backend::rows::{AuditEntry, AuditFilter, AuditKind};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::body::{bounded, ApiPath, ApiQuery};
use super::cursor;
use super::problem::Problem;
use super::refusals::{DomainNotFound, ReadRefusals};
use crate::app_state::AppState;

/// Largest page.
const MAX_LIMIT: u32 = 1000;

/// One audit record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditRecord {
    /// When (Unix seconds).
    pub at: i64,
    /// Who: a user ID, an API token's `api:<name>#<id>@<creator>`, `cli:…` or `system…`.
    pub actor: String,
    /// What, e.g. `row_created`, `certificate_revoked`.
    pub kind: String,
    /// About which address (or serial, token).
    pub subject: Option<String>,
    /// The state before, as JSON.
    pub before: Option<serde_json::Value>,
    /// The state after, as JSON.
    pub after: Option<serde_json::Value>,
}

impl From<AuditEntry> for AuditRecord {
    fn from(e: AuditEntry) -> AuditRecord {
        let json = |s: Option<String>| {
            s.map(|s| serde_json::from_str(&s).unwrap_or(serde_json::Value::String(s)))
        };
        AuditRecord {
            at: e.at,
            actor: e.actor,
            kind: e.kind,
            subject: e.subject,
            before: json(e.before),
            after: json(e.after),
        }
    }
}

/// Filter and page of the trail.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only records of the row that has (or had) this address.
    #[param(max_length = 254)]
    pub row: Option<String>,
    /// Only records by this actor.
    #[param(max_length = 300)]
    pub actor: Option<String>,
    /// Only records of this kind (e.g. `row_created`).
    #[param(max_length = 64)]
    pub kind: Option<String>,
    /// Only records at or after this time (Unix seconds).
    pub from: Option<i64>,
    /// Only records at or before this time (Unix seconds).
    pub to: Option<i64>,
    /// Records per page, 1 to 1 000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Where to continue: a previous page's `next_cursor`.
    #[param(max_length = 4096)]
    pub cursor: Option<String>,
}

/// The cursor's content: the filter and the id of the page's last record. The trail is in id
/// order (newest first); a bulk apply writes all its records in one second, so the next page
/// starts below an id, not at a time (no re-reading, no limit on records per second).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AuditCursor {
    row: Option<String>,
    actor: Option<String>,
    kind: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    before_id: Option<i64>,
}

/// One page of the trail.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditPage {
    /// The records, newest first.
    pub records: Vec<AuditRecord>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn kind_of(name: Option<&str>) -> Result<Option<AuditKind>, Problem> {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    AuditKind::ALL
        .into_iter()
        .find(|k| k.as_str() == name)
        .map(Some)
        .ok_or_else(|| {
            Problem::bad_request(format!(
                "kind must be one of the audit kinds ({}), not {name:?}.",
                AuditKind::ALL.map(AuditKind::as_str).join(", ")
            ))
        })
}

/// Read the domain's audit trail.
#[utoipa::path(
    get, path = "/domains/{domain}/audit", tag = "audit",
    params(("domain" = String, Path, description = "The domain's name"), AuditParams),
    responses(
        (status = 200, description = "A page of the trail, newest first", body = AuditPage),
        (status = 400, description = "A parameter or the cursor cannot be read", body = Problem, content_type = "application/problem+json"),
        ReadRefusals, DomainNotFound,
    )
)]
pub async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(domain): ApiPath<String>,
    ApiQuery(p): ApiQuery<AuditParams>,
) -> Result<Json<AuditPage>, Problem> {
    let dom = caller.domain(&domain)?;
    bounded("row", p.row.as_deref(), 254)?;
    bounded("actor", p.actor.as_deref(), 300)?;
    bounded("kind", p.kind.as_deref(), 64)?;
    bounded("cursor", p.cursor.as_deref(), 4096)?;
    let limit = p.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Problem::bad_request(format!(
            "limit must be 1 to {MAX_LIMIT}, not {limit}."
        )));
    }
    let position = match p.cursor.as_deref() {
        Some(c) => cursor::decode::<AuditCursor>(c)?,
        None => AuditCursor {
            row: p.row,
            actor: p.actor,
            kind: p.kind,
            from: p.from,
            to: p.to,
            before_id: None,
        },
    };
    let kind = kind_of(position.kind.as_deref())?;
    // One more than asked tells whether another page follows.
    let mut page = backend::rows::list_audit(
        &state.portal.pool,
        caller.viewer(),
        &dom.name,
        &AuditFilter {
            row: position.row.clone(),
            actor: position.actor.clone(),
            kind,
            from: position.from,
            to: position.to,
            before_id: position.before_id,
            limit: limit + 1,
        },
    )
    .await?;
    let more = page.len() > limit as usize;
    page.truncate(limit as usize);
    let next_cursor = match page.last() {
        Some(last) if more => Some(cursor::encode(&AuditCursor {
            before_id: Some(last.id),
            ..position
        })),
        _ => None,
    };
    Ok(Json(AuditPage {
        records: page.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}
