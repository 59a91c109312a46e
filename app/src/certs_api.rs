//! Certificates on the wire (SPEC §5, R12–R15): "My client certificates" for every user, and the
//! certificates of a row for its NAPs, with the server functions that read, request and revoke.
//!
//! The certificate and the requestable rows are the domain's types (`domain::certificate_view`),
//! the very ones the service returns; only the key choice and the issued file have wire forms
//! here (a password and PKCS#12 bytes). Every rule is checked by the service whatever the page
//! shows (Q1).

use domain::certificate::RevocationReason;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

pub use domain::certificate_view::{CertificateStatus, CertificateView, KeySource, RequestableRow};

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
    pub certificate: CertificateView,
    /// The PKCS#12 file (base64) when the server made the key: handed over once, never stored.
    pub pkcs12_base64: Option<String>,
}

/// The signed-in user's rows and certificates (R12, R13).
#[server(endpoint = "certificates/mine", input = Json)]
pub async fn my_certificates() -> Result<domain::certificate_view::MyCertificates, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::certificates::my_certificates(&portal, &viewer)
        .await
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
) -> Result<CertificateView, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::certificates::revoke_own_certificate(&portal, &viewer, id, reason)
        .await
        .map_err(crate::on_server::service_error)
}

/// Every certificate ever issued for a row (NAPs of its domain, operators; R12).
#[server(endpoint = "certificates/of_row", input = Json)]
pub async fn row_certificates(row_id: i64) -> Result<Vec<CertificateView>, AppError> {
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
            CertificateView {
                evidence: found,
                ..c
            }
        })
        .collect())
}

/// A NAP revokes one certificate of an inactive row of their domain (R15).
#[server(endpoint = "certificates/revoke_as_nap", input = Json)]
pub async fn revoke_as_nap(id: i64, reason: RevocationReason) -> Result<CertificateView, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::certificates::revoke_certificate_as_nap(&portal, &viewer, id, reason)
        .await
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
    //! The certificate request's key choice and issued file between the wire and the service.

    use backend::certificates::{CertificateRequest, KeyChoice};
    use backend::roles::Viewer;
    use backend::Portal;

    use super::*;
    use crate::error::AppError;

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
            certificate: issued.certificate,
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
