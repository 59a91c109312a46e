//! Certificates as files to download, and the CA's own certificate.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use domain::message::Message;

use super::{CertificateFile, CertificateFormat, ServiceError};
use crate::portal::Portal;
use crate::roles::Viewer;
use crate::storage::certificates::{self as store, CertificateRecord};

/// Whether the viewer may see a certificate (Q1): its owner, its domain's NAPs, operators.
fn may_see(viewer: &Viewer, record: &CertificateRecord) -> bool {
    record.user_id == viewer.user.user_id || viewer.may_read_domain(record.domain_id)
}

/// PEM armour of DER bytes under `label` (`CERTIFICATE`, `X509 CRL`): base64 in lines of 64
/// characters (RFC 7468).
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut pem = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    pem.push_str(&format!("-----BEGIN {label}-----\n"));
    for line in b64.as_bytes().chunks(64) {
        // Base64 is ASCII, so every chunk is valid UTF-8.
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// PEM of one DER certificate.
fn pem_of(der: &[u8]) -> String {
    pem("CERTIFICATE", der)
}

/// A certificate as a file: PEM, DER, or PEM with the CA chain. For its owner, the NAPs of its
/// domain and operators; anyone else is told there is no such certificate (Q1).
pub async fn certificate_file(
    portal: &Portal,
    viewer: &Viewer,
    certificate_id: i64,
    format: CertificateFormat,
) -> Result<CertificateFile, ServiceError> {
    let mut conn = portal.pool.acquire().await?;
    let record = store::find_certificate(&mut conn, certificate_id)
        .await?
        .filter(|r| may_see(viewer, r))
        .ok_or(ServiceError::NotFound(Message::NoSuchCertificate))?;
    let der = store::find_certificate_der(&mut conn, certificate_id)
        .await?
        .ok_or(ServiceError::NotFound(Message::NoSuchCertificate))?;
    let serial = &record.serial;
    Ok(match format {
        CertificateFormat::Pem => CertificateFile {
            file_name: format!("certificate-{serial}.pem"),
            content_type: "application/x-pem-file",
            bytes: pem_of(&der).into_bytes(),
        },
        CertificateFormat::Der => CertificateFile {
            file_name: format!("certificate-{serial}.cer"),
            // RFC 2585's type for a DER certificate.
            content_type: "application/pkix-cert",
            bytes: der,
        },
        CertificateFormat::ChainPem => {
            let mut pem = pem_of(&der);
            for ca in portal.ca.chain_der() {
                pem.push_str(&pem_of(&ca));
            }
            CertificateFile {
                file_name: format!("certificate-{serial}-chain.pem"),
                content_type: "application/x-pem-file",
                bytes: pem.into_bytes(),
            }
        }
    })
}

/// The issuing CA's certificate, DER, for the public download.
pub fn ca_certificate_der(portal: &Portal) -> Vec<u8> {
    portal.ca.chain_der().into_iter().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_has_64_character_lines_and_the_certificate_label() {
        let pem = pem_of(&[0u8; 100]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        // 100 bytes are 136 base64 characters: 64 + 64 + 8.
        let lengths: Vec<usize> = lines[1..4].iter().map(|l| l.len()).collect();
        assert_eq!(lengths, [64, 64, 8]);
        assert_eq!(lines[4], "-----END CERTIFICATE-----");
        assert!(pem.ends_with('\n'));
    }
}
