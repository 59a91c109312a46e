//! Certificates on the wire (SPEC §5, R12–R15): "My client certificates" for every user, and the
//! certificates of a row for its NAPs, with the server functions that read, request and revoke.
//!
//! Wire types apart from the service's (`backend::certificates`), so the browser build needs no
//! server code. Every rule is checked by the service whatever the page shows (Q1).

use domain::certificate::RevocationReason;
use domain::handover::ValidationEvidence;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// A certificate as its owner and the domain's NAPs see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateItem {
    /// Database id (for downloads and revocation).
    pub id: i64,
    /// Serial number, lower-case hex.
    pub serial: String,
    /// The row it was issued for.
    pub row_id: i64,
    /// The row's domain.
    pub domain: String,
    /// The row's primary address.
    pub row_primary: String,
    /// Who requested it.
    pub user_id: String,
    /// Their name.
    pub user_name: String,
    /// Subject DN as text.
    pub subject: String,
    /// The addresses in subjectAltName.
    pub addresses: Vec<String>,
    /// The key was made by the server (PKCS#12), not taken from a CSR.
    pub server_key: bool,
    /// Valid from (Unix seconds).
    pub not_before: i64,
    /// Valid until (Unix seconds).
    pub not_after: i64,
    /// Issued at (Unix seconds).
    pub issued_at: i64,
    /// R23: valid and ending within 30 days (judged by the server at loading).
    #[serde(default)]
    pub expires_soon: bool,
    /// Valid, expired or revoked.
    pub status: CertificateStatusItem,
    /// R20: the confirmation behind each address (NAPs' and operators' view of a row only).
    pub evidence: Vec<ValidationEvidence>,
}

impl CertificateItem {
    /// Neither revoked nor expired.
    pub fn is_valid(&self) -> bool {
        self.status == CertificateStatusItem::Valid
    }
}

/// Where a certificate stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CertificateStatusItem {
    /// Usable.
    Valid,
    /// Past its notAfter.
    Expired,
    /// Revoked.
    Revoked {
        /// When.
        at: i64,
        /// Why.
        reason: RevocationReason,
        /// By whom (user ID).
        by: String,
    },
}

/// A row the user is linked to, and whether a certificate can be requested for it now (R13).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestableRowItem {
    /// Row id.
    pub row_id: i64,
    /// Its domain.
    pub domain: String,
    /// Its primary address.
    pub primary: String,
    /// A functional mailbox (certificate without CN).
    pub functional: bool,
    /// The row's name (first + last, or the mailbox's name).
    pub row_name: String,
    /// Active (R7).
    pub active: bool,
    /// The row's addresses linked to this user, primary first: what the certificate may contain.
    pub linked_addresses: Vec<String>,
    /// Why a request is not possible now; `None` when it is.
    pub refusal: Option<domain::certificate::RequestRefusal>,
    /// The subject the certificate will have.
    pub subject_preview: String,
}

/// Everything "My client certificates" shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyCertificatesItem {
    /// Rows the user is linked to.
    pub rows: Vec<RequestableRowItem>,
    /// Certificates the user requested, newest first (revoked and expired included, R12).
    pub certificates: Vec<CertificateItem>,
}

/// Where the key comes from (R14).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyChoiceItem {
    /// The user's own key: a PKCS#10 request, PEM text (or base64 DER).
    Csr(String),
    /// The server makes the key and hands it over once as a PKCS#12 file with this password.
    ServerKey(String),
}

/// A newly issued certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedItem {
    /// The certificate.
    pub certificate: CertificateItem,
    /// The PKCS#12 file (base64) when the server made the key: handed over once, never stored.
    pub pkcs12_base64: Option<String>,
}

/// The signed-in user's rows and certificates (R12, R13).
#[server(endpoint = "certificates/mine", input = Json)]
pub async fn my_certificates() -> Result<MyCertificatesItem, AppError> {
    use crate::certs_api::service::*;
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::certificates::my_certificates(&portal, &viewer)
        .await
        .map(to_mine)
        .map_err(crate::on_server::service_error)
}

/// Requests a certificate for `row_id` with `addresses` (R13) and the chosen key (R14).
#[server(endpoint = "certificates/request", input = Json)]
pub async fn request_certificate(
    row_id: i64,
    addresses: Vec<String>,
    key: KeyChoiceItem,
) -> Result<IssuedItem, AppError> {
    use crate::certs_api::service::*;
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    request(&portal, &viewer, row_id, addresses, key).await
}

/// Revokes one of the user's own certificates (R15).
#[server(endpoint = "certificates/revoke_own", input = Json)]
pub async fn revoke_own_certificate(
    id: i64,
    reason: RevocationReason,
) -> Result<CertificateItem, AppError> {
    use crate::certs_api::service::*;
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::certificates::revoke_own_certificate(&portal, &viewer, id, reason)
        .await
        .map(to_item)
        .map_err(crate::on_server::service_error)
}

/// Every certificate ever issued for a row (NAPs of its domain, operators; R12).
#[server(endpoint = "certificates/of_row", input = Json)]
pub async fn row_certificates(row_id: i64) -> Result<Vec<CertificateItem>, AppError> {
    use crate::certs_api::service::*;
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    let list = backend::certificates::certificates_of_row(&portal, &viewer, row_id)
        .await
        .map_err(crate::on_server::service_error)?;
    // R20: the NAP sees which confirmation backed each address.
    let mut evidence = backend::certificates::evidence_of_row(&portal, &viewer, row_id)
        .await
        .map_err(crate::on_server::service_error)?;
    Ok(list
        .into_iter()
        .map(|c| {
            let found = evidence.remove(&c.serial).unwrap_or_default();
            CertificateItem {
                evidence: found,
                ..to_item(c)
            }
        })
        .collect())
}

/// A NAP revokes one certificate of an inactive row of their domain (R15).
#[server(endpoint = "certificates/revoke_as_nap", input = Json)]
pub async fn revoke_as_nap(id: i64, reason: RevocationReason) -> Result<CertificateItem, AppError> {
    use crate::certs_api::service::*;
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::certificates::revoke_certificate_as_nap(&portal, &viewer, id, reason)
        .await
        .map(to_item)
        .map_err(crate::on_server::service_error)
}

/// A NAP revokes every valid certificate of the selected inactive rows, all or nothing (R15).
#[server(endpoint = "certificates/revoke_rows", input = Json)]
pub async fn revoke_for_rows(
    row_ids: Vec<i64>,
    reason: RevocationReason,
) -> Result<usize, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::certificates::revoke_for_rows(&portal, &viewer, &row_ids, reason)
        .await
        .map_err(crate::on_server::service_error)
}

#[cfg(feature = "ssr")]
pub(crate) mod service {
    //! Conversions between the certificates' wire types and the certificate service.

    use backend::certificates::{
        CertificateRequest, CertificateStatus, CertificateView, KeyChoice, KeySource,
        MyCertificates, RequestableRow,
    };
    use backend::roles::Viewer;
    use backend::Portal;

    use super::*;
    use crate::error::AppError;

    /// The wire's certificate from the service's.
    pub fn to_item(c: CertificateView) -> CertificateItem {
        CertificateItem {
            id: c.id,
            serial: c.serial,
            row_id: c.row_id,
            domain: c.domain,
            row_primary: c.row_primary,
            user_id: c.user_id,
            user_name: c.user_name,
            subject: c.subject,
            addresses: c.addresses,
            server_key: c.key_source == KeySource::Server,
            not_before: c.not_before,
            not_after: c.not_after,
            issued_at: c.issued_at,
            // R23: "expires soon" is judged on the server's clock, so the page and the reminder agree.
            expires_soon: c.status == CertificateStatus::Valid
                && domain::handover::expiring_soon(c.not_after, backend::clock::now()),
            status: match c.status {
                CertificateStatus::Valid => CertificateStatusItem::Valid,
                CertificateStatus::Expired => CertificateStatusItem::Expired,
                CertificateStatus::Revoked { at, reason, by } => {
                    CertificateStatusItem::Revoked { at, reason, by }
                }
            },
            evidence: Vec::new(),
        }
    }

    fn to_row(r: RequestableRow) -> RequestableRowItem {
        RequestableRowItem {
            row_id: r.row_id,
            domain: r.domain,
            primary: r.primary,
            functional: r.functional,
            row_name: r.row_name,
            active: r.active,
            linked_addresses: r.linked_addresses,
            refusal: r.refusal,
            subject_preview: r.subject_preview,
        }
    }

    /// The wire's page content from the service's.
    pub fn to_mine(m: MyCertificates) -> MyCertificatesItem {
        MyCertificatesItem {
            rows: m.rows.into_iter().map(to_row).collect(),
            certificates: m.certificates.into_iter().map(to_item).collect(),
        }
    }

    /// Requests a certificate; a server-made key comes back as base64 PKCS#12, once (R14).
    pub async fn request(
        portal: &Portal,
        viewer: &Viewer,
        row_id: i64,
        addresses: Vec<String>,
        key: KeyChoiceItem,
    ) -> Result<IssuedItem, AppError> {
        use base64::Engine;
        let key = match key {
            KeyChoiceItem::Csr(text) => KeyChoice::Csr(csr_bytes(&text)),
            KeyChoiceItem::ServerKey(password) => KeyChoice::ServerKey {
                password: password.into(),
            },
        };
        let request = CertificateRequest {
            row_id,
            addresses,
            key,
        };
        let issued = backend::certificates::request_certificate(portal, viewer, request)
            .await
            .map_err(crate::on_server::service_error)?;
        Ok(IssuedItem {
            certificate: to_item(issued.certificate),
            pkcs12_base64: issued
                .pkcs12
                .map(|p| base64::engine::general_purpose::STANDARD.encode(p)),
        })
    }

    /// A pasted CSR: PEM as it is, or base64 of a DER file the page read (the service tells a
    /// PEM from DER by itself).
    fn csr_bytes(text: &str) -> Vec<u8> {
        use base64::Engine;
        let trimmed = text.trim();
        if trimmed.starts_with("-----BEGIN") {
            return trimmed.as_bytes().to_vec();
        }
        base64::engine::general_purpose::STANDARD
            .decode(trimmed.split_whitespace().collect::<String>())
            .unwrap_or_else(|_| trimmed.as_bytes().to_vec())
    }
}
