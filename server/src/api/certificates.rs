//! A domain's certificates through the API (R12, R15, R19): list them (all, valid, expiring, or
//! valid ones of deactivated rows, the leaver worklist's) and revoke one by R15's rules — a NAP
//! revokes valid certificates of inactive rows only; the holder's own revocation is theirs alone.

use axum::extract::State;
use axum::Json;
use backend::certificates::{CertificateStatus, CertificateView};
use backend::domain_certificates::{self as service, CertificateFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::body::{bounded, ApiJson, ApiPath, ApiQuery};
use super::cursor;
use super::problem::Problem;
use super::refusals::{DomainNotFound, JsonBodyRefusals, ReadRefusals, WriteRefusals};
use super::rows::ReasonName;
use crate::app_state::AppState;

/// A certificate of the domain.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Certificate {
    /// The certificate's id.
    pub id: i64,
    /// Serial number, lower-case hex.
    pub serial: String,
    /// The row it was issued for.
    pub row_id: i64,
    /// That row's primary address.
    pub row_primary_address: String,
    /// Who requested it (and holds its key).
    pub user_id: String,
    /// Their name from the IdM.
    pub user_name: String,
    /// Subject DN.
    pub subject: String,
    /// The subjectAltName addresses.
    pub addresses: Vec<String>,
    /// Valid from (Unix seconds).
    pub not_before: i64,
    /// Valid until (Unix seconds).
    pub not_after: i64,
    /// Issued at (Unix seconds).
    pub issued_at: i64,
    /// `valid`, `expired` or `revoked`, now.
    pub status: StatusName,
    /// When revoked: when, why and by whom.
    pub revocation: Option<Revocation>,
}

/// Where a certificate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusName {
    /// Neither revoked nor expired.
    Valid,
    /// Past its end.
    Expired,
    /// Revoked.
    Revoked,
}

/// A revocation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Revocation {
    /// When (Unix seconds).
    pub at: i64,
    /// The RFC 5280 reason name (`unspecified` when none was given).
    pub reason: String,
    /// Who: the holder's user ID, a NAP's, or an API token's actor.
    pub by: String,
}

impl From<CertificateView> for Certificate {
    fn from(c: CertificateView) -> Certificate {
        let (status, revocation) = match c.status {
            CertificateStatus::Valid => (StatusName::Valid, None),
            CertificateStatus::Expired => (StatusName::Expired, None),
            CertificateStatus::Revoked { at, reason, by } => (
                StatusName::Revoked,
                Some(Revocation {
                    at,
                    reason: reason.as_str().to_owned(),
                    by,
                }),
            ),
        };
        Certificate {
            id: c.id,
            serial: c.serial,
            row_id: c.row_id,
            row_primary_address: c.row_primary,
            user_id: c.user_id,
            user_name: c.user_name,
            subject: c.subject,
            addresses: c.addresses,
            not_before: c.not_before,
            not_after: c.not_after,
            issued_at: c.issued_at,
            status,
            revocation,
        }
    }
}

/// Which certificates to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FilterName {
    /// Every certificate ever issued for the domain's rows.
    #[default]
    All,
    /// Neither revoked nor expired.
    Valid,
    /// Valid and ending within `within_days` (default 30).
    Expiring,
    /// Valid, of a deactivated row (the leaver worklist, R19).
    OfInactiveRows,
}

/// Filter and page of the certificate list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CertificateListParams {
    /// Which certificates (default `all`).
    #[param(inline)]
    pub status: Option<FilterName>,
    /// For `expiring`: the horizon in days, 1 to 825 (default 30).
    #[param(minimum = 1, maximum = 825)]
    pub within_days: Option<u32>,
    /// Certificates per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Where to continue: a previous page's `next_cursor`.
    #[param(max_length = 2048)]
    pub cursor: Option<String>,
}

/// The cursor's content: the filter and where the page ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CertificateCursor {
    status: FilterName,
    within_days: u32,
    before: i64,
}

/// One page of certificates, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CertificateList {
    /// The certificates.
    pub certificates: Vec<Certificate>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// List the domain's certificates.
#[utoipa::path(
    get, path = "/domains/{domain}/certificates", tag = "certificates",
    params(("domain" = String, Path, description = "The domain's name"), CertificateListParams),
    responses(
        (status = 200, description = "A page of certificates, newest first", body = CertificateList),
        (status = 400, description = "A parameter or the cursor cannot be read", body = Problem, content_type = "application/problem+json"),
        ReadRefusals, DomainNotFound,
    )
)]
pub async fn list_certificates(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(domain): ApiPath<String>,
    ApiQuery(p): ApiQuery<CertificateListParams>,
) -> Result<Json<CertificateList>, Problem> {
    let dom = caller.domain(&domain)?;
    bounded("cursor", p.cursor.as_deref(), 2048)?;
    if let Some(n) = p.limit.filter(|n| !(1..=service::MAX_PAGE).contains(n)) {
        return Err(Problem::bad_request(format!(
            "limit must be 1 to {}, not {n}.",
            service::MAX_PAGE
        )));
    }
    if let Some(n) = p
        .within_days
        .filter(|n| !(1..=service::MAX_EXPIRING_DAYS).contains(n))
    {
        return Err(Problem::bad_request(format!(
            "within_days must be 1 to {}, not {n}.",
            service::MAX_EXPIRING_DAYS
        )));
    }
    let (status, within_days, before) = match p.cursor.as_deref() {
        Some(c) => {
            let c: CertificateCursor = cursor::decode(c)?;
            (c.status, c.within_days, Some(c.before))
        }
        None => (
            p.status.unwrap_or_default(),
            p.within_days.unwrap_or(service::DEFAULT_EXPIRING_DAYS),
            None,
        ),
    };
    let filter = match status {
        FilterName::All => CertificateFilter::All,
        FilterName::Valid => CertificateFilter::Valid,
        FilterName::Expiring => CertificateFilter::Expiring { within_days },
        FilterName::OfInactiveRows => CertificateFilter::OfInactiveRows,
    };
    let page = service::certificates_of_domain(
        &state.portal,
        caller.viewer(),
        &dom.name,
        filter,
        before,
        p.limit.unwrap_or(50),
    )
    .await?;
    Ok(Json(CertificateList {
        certificates: page.certificates.into_iter().map(Into::into).collect(),
        next_cursor: page.next_before.map(|before| {
            cursor::encode(&CertificateCursor {
                status,
                within_days,
                before,
            })
        }),
    }))
}

/// Why to revoke.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// The RFC 5280 reason (R15).
    pub reason: ReasonName,
}

/// Revoke a certificate of an inactive row (R15).
///
/// A NAP (and so a token) revokes only valid certificates of deactivated rows; the holder is
/// mailed and the CRL lists it at once. To revoke with the deactivation in one step, use
/// `POST …/rows/{id}/deactivate` (R19).
#[utoipa::path(
    post, path = "/domains/{domain}/certificates/{id}/revoke", tag = "certificates",
    params(("domain" = String, Path, description = "The domain's name"), ("id" = i64, Path, description = "The certificate's id")),
    request_body = RevokeRequest,
    responses(
        (status = 200, description = "The certificate, revoked", body = Certificate),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such certificate in the domain", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Its row is active, or it is no longer valid (R15)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a reason the portal writes", body = Problem, content_type = "application/problem+json"),
        WriteRefusals, JsonBodyRefusals,
    )
)]
pub async fn revoke_certificate(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((domain, id)): ApiPath<(String, i64)>,
    ApiJson(body): ApiJson<RevokeRequest>,
) -> Result<Json<Certificate>, Problem> {
    let viewer = caller.writer()?;
    let dom = caller.domain(&domain)?;
    service::certificate_of_domain(&state.portal, viewer, &dom.name, id).await?;
    let view = backend::certificates::revoke_certificate_as_nap(
        &state.portal,
        viewer,
        id,
        body.reason.into(),
    )
    .await?;
    Ok(Json(view.into()))
}
