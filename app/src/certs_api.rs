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

use crate::dates::{Clock, WallTime};
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

/// A certificate with its moments as the viewer's clock shows them (R16): converted on the server,
/// which knows the viewer's zone, so the hydrated page writes what the server rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateItem {
    /// The certificate.
    pub certificate: CertificateView,
    /// Its `notBefore`.
    pub valid_from: WallTime,
    /// Its `notAfter`.
    pub valid_until: WallTime,
    /// When it was revoked, if it was.
    pub revoked: Option<WallTime>,
    /// For each of `certificate.evidence`, in its order: when the challenge was sent, when it was
    /// confirmed.
    pub evidence: Vec<(WallTime, WallTime)>,
}

/// Certificates and the zone their times are in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateList {
    /// Newest first.
    pub certificates: Vec<CertificateItem>,
    /// The IANA name of the viewer's zone (`Europe/Berlin`), named in the validity heading.
    pub zone: String,
}

/// Everything "My client certificates" shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyCertificatesItem {
    /// The rows the user is linked to.
    pub rows: Vec<RequestableRow>,
    /// The certificates the user requested, revoked and expired ones included.
    pub list: CertificateList,
    /// The moments in the rows' refusals ("valid until …") on the viewer's clock (R16).
    pub clock: Clock,
}

/// The signed-in user's rows and certificates (R12, R13), times in the viewer's zone (R16).
#[server(endpoint = "certificates/mine", input = Json)]
pub async fn my_certificates() -> Result<MyCertificatesItem, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    let zone = crate::time_zone::ViewerZone::of_request();
    let mine = backend::certificates::my_certificates(&portal, &viewer)
        .await
        .map_err(crate::on_server::service_error)?;
    let moments: Vec<i64> = mine
        .rows
        .iter()
        .filter_map(|r| match r.refusal {
            Some(domain::certificate::RequestRefusal::StillValid {
                not_after,
                renewable_from,
            }) => Some([not_after, renewable_from]),
            _ => None,
        })
        .flatten()
        .collect();
    Ok(MyCertificatesItem {
        clock: zone.clock(moments, backend::clock::now()),
        rows: mine.rows,
        list: service::in_zone(mine.certificates, &zone),
    })
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

/// Every certificate ever issued for a row (NAPs of its domain, operators; R12), times in the
/// viewer's zone (R16).
#[server(endpoint = "certificates/of_row", input = Json)]
pub async fn row_certificates(row_id: i64) -> Result<CertificateList, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    let zone = crate::time_zone::ViewerZone::of_request();
    let list = backend::certificates::certificates_of_row(&portal, &viewer, row_id)
        .await
        .map_err(crate::on_server::service_error)?;
    // R20: the NAP sees which confirmation backed each address.
    let mut evidence = backend::certificates::evidence_of_row(&portal, &viewer, row_id)
        .await
        .map_err(crate::on_server::service_error)?;
    let list = list
        .into_iter()
        .map(|c| {
            let found = evidence.remove(&c.serial).unwrap_or_default();
            CertificateView {
                evidence: found,
                ..c
            }
        })
        .collect();
    Ok(service::in_zone(list, &zone))
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
    use crate::time_zone::ViewerZone;

    /// The certificates with their moments as `zone`'s clock shows them.
    pub fn in_zone(certificates: Vec<CertificateView>, zone: &ViewerZone) -> CertificateList {
        CertificateList {
            certificates: certificates
                .into_iter()
                .map(|c| CertificateItem {
                    valid_from: zone.wall(c.not_before),
                    valid_until: zone.wall(c.not_after),
                    revoked: match c.status {
                        CertificateStatus::Revoked { at, .. } => Some(zone.wall(at)),
                        _ => None,
                    },
                    evidence: c
                        .evidence
                        .iter()
                        .map(|e| (zone.wall(e.sent_at), zone.wall(e.confirmed_at)))
                        .collect(),
                    certificate: c,
                })
                .collect(),
            zone: zone.name().to_owned(),
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

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use domain::handover::ValidationEvidence;

    use super::service::in_zone;
    use super::*;
    use crate::i18n::Lang;
    use crate::time_zone::ViewerZone;

    fn certificate(
        status: CertificateStatus,
        evidence: Vec<ValidationEvidence>,
    ) -> CertificateView {
        CertificateView {
            id: 1,
            serial: "0a".into(),
            row_id: 2,
            domain: "example.org".into(),
            row_primary: "anna@example.org".into(),
            user_id: "anna".into(),
            user_name: "Anna Schmidt".into(),
            subject: "CN=Anna Schmidt".into(),
            addresses: vec!["anna@example.org".into()],
            key_source: KeySource::Csr,
            // 2026-12-06 23:30 UTC, 2027-12-06 23:30 UTC: already the 7th in Berlin.
            not_before: 1_796_599_800,
            not_after: 1_796_599_800 + 365 * 86_400,
            issued_at: 1_796_599_800,
            status,
            expires_soon: false,
            evidence,
        }
    }

    #[test]
    fn r16_certificate_dates_are_days_of_the_viewers_zone_not_of_utc() {
        let berlin = ViewerZone::named(Some("Europe/Berlin"));
        let revoked = CertificateStatus::Revoked {
            at: 1_796_599_800 + 86_400,
            reason: RevocationReason::KeyCompromise,
            by: "anna".into(),
        };
        let evidence = ValidationEvidence {
            address: "anna@example.org".into(),
            challenge_id: 7,
            recipient: "anna@example.org".into(),
            sent_at: 1_796_599_800 - 3_600,
            confirmed_at: 1_796_599_800,
            confirmed_by: "anna".into(),
            ip: None,
            user_agent: None,
        };
        let list = in_zone(vec![certificate(revoked, vec![evidence])], &berlin);
        assert_eq!(list.zone, "Europe/Berlin");
        let item = &list.certificates[0];
        assert_eq!(item.valid_from.date(Lang::De), "07.12.2026");
        assert_eq!(item.valid_until.date(Lang::En), "7 Dec 2027");
        assert_eq!(
            item.revoked.map(|w| w.date(Lang::De)).as_deref(),
            Some("08.12.2026")
        );
        let (sent, confirmed) = item.evidence[0];
        assert_eq!(sent.date_time(Lang::De), "06.12.2026, 23:30");
        assert_eq!(confirmed.date_time(Lang::En), "7 Dec 2026, 00:30");
    }

    #[test]
    fn r16_a_valid_certificate_has_no_revocation_time() {
        let utc = ViewerZone::named(Some("UTC"));
        let list = in_zone(vec![certificate(CertificateStatus::Valid, vec![])], &utc);
        let item = &list.certificates[0];
        assert_eq!(item.revoked, None);
        assert!(item.evidence.is_empty());
        assert_eq!(item.valid_from.date_time(Lang::En), "6 Dec 2026, 23:30");
    }
}
