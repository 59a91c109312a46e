//! Files of the certificate service over plain GET (SPEC §5):
//!
//! - `GET /certificates/{id}/download?format=pem|der|chain`: a certificate, for its owner, the
//!   NAPs of its row's domain and operators (R12); others get 404, so ids do not tell what exists;
//! - `GET /pki/ca.crl` (DER, the URL every certificate names) and `/pki/ca.crl.pem`: the CRL,
//!   public (R15; SPEC §1: anonymous people may read it), re-signed when due;
//! - `GET /pki/ca.crt` (DER, the certificates' caIssuers URL) and `/pki/ca.pem`: the CA certificate.

use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use backend::certificates::{
    ca_certificate_der, certificate_file, current_crl, pem, CertificateFormat,
};
use backend::roles::Viewer;
use backend::Portal;
use backend::ServiceError;
use serde::Deserialize;

/// The `format` query parameter.
#[derive(Debug, Deserialize)]
pub struct DownloadQuery {
    /// `pem` (default), `der` or `chain`.
    format: Option<String>,
}

/// A certificate as a file.
pub async fn download(
    State(portal): State<Portal>,
    viewer: Option<Extension<Viewer>>,
    Path(id): Path<i64>,
    Query(query): Query<DownloadQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(Extension(viewer)) = viewer else {
        return (StatusCode::UNAUTHORIZED, "Please log in.").into_response();
    };
    let format = match query.format.as_deref().unwrap_or("pem") {
        "pem" => CertificateFormat::Pem,
        "der" => CertificateFormat::Der,
        "chain" => CertificateFormat::ChainPem,
        other => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("unknown format {other:?}: use pem, der or chain"),
            )
                .into_response()
        }
    };
    match certificate_file(&portal, &viewer, id, format).await {
        Ok(file) => (
            [
                (CONTENT_TYPE, file.content_type.to_string()),
                (
                    CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}\"", file.file_name),
                ),
            ],
            file.bytes,
        )
            .into_response(),
        Err(e) => crate::refusal::refuse(&headers, e),
    }
}

/// The current CRL, DER.
pub async fn crl_der(State(portal): State<Portal>) -> Response {
    match current_crl(&portal).await {
        Ok(crl) => public_file("application/pkix-crl", crl.der),
        Err(e) => refusal(e),
    }
}

/// The current CRL, PEM.
pub async fn crl_pem(State(portal): State<Portal>) -> Response {
    match current_crl(&portal).await {
        Ok(crl) => public_file(
            "application/x-pem-file",
            pem("X509 CRL", &crl.der).into_bytes(),
        ),
        Err(e) => refusal(e),
    }
}

/// The CA certificate, DER.
pub async fn ca_der(State(portal): State<Portal>) -> Response {
    public_file("application/pkix-cert", ca_certificate_der(&portal))
}

/// The CA certificate, PEM.
pub async fn ca_pem(State(portal): State<Portal>) -> Response {
    public_file(
        "application/x-pem-file",
        pem("CERTIFICATE", &ca_certificate_der(&portal)).into_bytes(),
    )
}

/// A public PKI file. Relying parties cache CRLs by their nextUpdate; a short max-age keeps a
/// revocation visible to HTTP caches within minutes.
fn public_file(content_type: &'static str, bytes: Vec<u8>) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "public, max-age=300"),
        ],
        bytes,
    )
        .into_response()
}

/// A refusal with no request to word it for (public files): English.
fn refusal(e: ServiceError) -> Response {
    crate::refusal::refuse(&HeaderMap::new(), e)
}
