//! The certificates of one domain for its NAPs and operators (R12, R19), as the REST API lists
//! them: all, valid, expiring soon, or valid ones of deactivated rows (the leaver worklist's),
//! newest first in pages (R21). The page pages by certificate id, so a page deep down costs what
//! the first one costs.

use domain::address::DomainName;
use domain::message::Message;

use crate::certificates::{view_of, CertificateView};
use crate::clock;
use crate::error::ServiceError;
use crate::roles::Viewer;
use crate::storage::certificates::{self as store, DomainCertificates};
use crate::storage::domains::find_domain_by_name;
use crate::Portal;

/// Largest page.
pub const MAX_PAGE: u32 = 200;
/// How far ahead "expiring" looks when no horizon is given (the digest's 30 days, R23).
pub const DEFAULT_EXPIRING_DAYS: u32 = 30;
/// The farthest "expiring" may look: the longest validity the portal issues (S/MIME BR, 825 days).
pub const MAX_EXPIRING_DAYS: u32 = 825;

/// Which of a domain's certificates to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CertificateFilter {
    /// Every certificate ever issued for the domain's rows, revoked and expired ones too.
    #[default]
    All,
    /// Neither revoked nor expired.
    Valid,
    /// Valid and ending within this many days.
    Expiring {
        /// The horizon, 1..=[`MAX_EXPIRING_DAYS`].
        within_days: u32,
    },
    /// Valid, of a deactivated row (R19).
    OfInactiveRows,
}

/// One page of a domain's certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificatePage {
    /// The certificates, newest (highest id) first.
    pub certificates: Vec<CertificateView>,
    /// The id to continue below, when more may follow.
    pub next_before: Option<i64>,
}

fn not_found() -> ServiceError {
    ServiceError::NotFound(Message::NoSuchCertificate)
}

fn no_domain() -> ServiceError {
    ServiceError::NotFound(Message::NoSuchDomain)
}

/// The domain's id, when the viewer may read it. A domain that does not exist and one the viewer
/// may not read are both "no such domain" (Q1: names tell nothing).
async fn readable_domain(
    portal: &Portal,
    viewer: &Viewer,
    domain: &str,
) -> Result<i64, ServiceError> {
    let name = DomainName::parse(domain).map_err(|_| no_domain())?;
    if let Some(d) = viewer.nap_domains.iter().find(|d| d.name == name.as_str()) {
        return Ok(d.id);
    }
    if !viewer.is_operator {
        return Err(no_domain());
    }
    let mut conn = portal.pool.acquire().await?;
    find_domain_by_name(&mut conn, &name)
        .await?
        .map(|d| d.id)
        .ok_or_else(no_domain)
}

/// A page of the domain's certificates: `before` is the previous page's `next_before`, `limit`
/// is clamped to 1..=[`MAX_PAGE`].
pub async fn certificates_of_domain(
    portal: &Portal,
    viewer: &Viewer,
    domain: &str,
    filter: CertificateFilter,
    before: Option<i64>,
    limit: u32,
) -> Result<CertificatePage, ServiceError> {
    let domain_id = readable_domain(portal, viewer, domain).await?;
    let now = clock::now();
    let which = match filter {
        CertificateFilter::All => DomainCertificates::All,
        CertificateFilter::Valid => DomainCertificates::Valid,
        CertificateFilter::Expiring { within_days } => DomainCertificates::ValidUntil(
            now + i64::from(within_days.clamp(1, MAX_EXPIRING_DAYS)) * 86_400,
        ),
        CertificateFilter::OfInactiveRows => DomainCertificates::ValidOfInactiveRows,
    };
    let limit = limit.clamp(1, MAX_PAGE);
    let mut conn = portal.pool.acquire().await?;
    // One more than asked tells whether another page follows.
    let mut records = store::list_certificates_of_domain(
        &mut conn,
        domain_id,
        which,
        now,
        before,
        i64::from(limit) + 1,
    )
    .await?;
    let more = records.len() > limit as usize;
    records.truncate(limit as usize);
    let next_before = more.then(|| records.last().map(|r| r.id)).flatten();
    let certificates = records
        .into_iter()
        .map(|r| view_of(r, now))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CertificatePage {
        certificates,
        next_before,
    })
}

/// One certificate of the domain, for its NAPs and operators; one of another domain, or none,
/// is "no such certificate" alike.
pub async fn certificate_of_domain(
    portal: &Portal,
    viewer: &Viewer,
    domain: &str,
    certificate_id: i64,
) -> Result<CertificateView, ServiceError> {
    let domain_id = readable_domain(portal, viewer, domain).await?;
    let mut conn = portal.pool.acquire().await?;
    let record = store::find_certificate(&mut conn, certificate_id)
        .await?
        .filter(|r| r.domain_id == domain_id)
        .ok_or_else(not_found)?;
    view_of(record, clock::now())
}
