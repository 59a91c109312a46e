//! A certificate as its owner, the domain's NAPs and operators see it, and the rows a user may
//! request one for (R12–R15, R20, R23): what the certificate services return and the pages show,
//! one set of types for the server and the browser.

use serde::{Deserialize, Serialize};

use crate::certificate::{RequestRefusal, RevocationReason};
use crate::handover::ValidationEvidence;

/// Where a certificate stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CertificateStatus {
    /// Neither revoked nor expired.
    Valid,
    /// Past its `notAfter` (and never revoked).
    Expired,
    /// Revoked (R15); stays so after expiry.
    Revoked {
        /// When (Unix seconds).
        at: i64,
        /// Why; [`RevocationReason::Unspecified`] when none was given.
        reason: RevocationReason,
        /// The user ID of who revoked it: the owner's own, or a NAP's.
        by: String,
    },
}

/// Where a certificate's key pair was made (R14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeySource {
    /// The user's own key, from a PKCS#10 request.
    Csr,
    /// Made on the server and handed over once as PKCS#12.
    Server,
}

impl KeySource {
    /// The stored spelling (the SQL `CHECK` of `certificates.key_source`).
    pub fn as_str(self) -> &'static str {
        match self {
            KeySource::Csr => "csr",
            KeySource::Server => "server",
        }
    }

    /// Reads the stored spelling back.
    pub fn parse(stored: &str) -> Option<KeySource> {
        match stored {
            "csr" => Some(KeySource::Csr),
            "server" => Some(KeySource::Server),
            _ => None,
        }
    }
}

/// A certificate as its owner, the domain's NAPs and operators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateView {
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
    /// Who requested it (R12: they keep seeing it).
    pub user_id: String,
    /// Their given and family name as the IdM gave them at their last login (the user ID when
    /// it gave none).
    pub user_name: String,
    /// Subject DN as text.
    pub subject: String,
    /// The subjectAltName addresses, in the certificate's order.
    pub addresses: Vec<String>,
    /// CSR or server-made key.
    pub key_source: KeySource,
    /// Valid from (Unix seconds).
    pub not_before: i64,
    /// Valid until (Unix seconds).
    pub not_after: i64,
    /// When it was issued (Unix seconds).
    pub issued_at: i64,
    /// Valid, expired or revoked, as of the request.
    pub status: CertificateStatus,
    /// R23: valid and near its end, judged on the server's clock (so the page and the reminder
    /// agree).
    #[serde(default)]
    pub expires_soon: bool,
    /// R20: for a NAP, which confirmation backed each address (filled where it is shown).
    #[serde(default)]
    pub evidence: Vec<ValidationEvidence>,
}

impl CertificateView {
    /// Neither revoked nor expired.
    pub fn is_valid(&self) -> bool {
        self.status == CertificateStatus::Valid
    }
}

/// A row the user is linked to, and whether a certificate can be requested for it now (R13).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestableRow {
    /// Row id, for the request.
    pub row_id: i64,
    /// Its domain.
    pub domain: String,
    /// Its primary address.
    pub primary: String,
    /// A functional mailbox: the certificate has no CN.
    pub functional: bool,
    /// The row's name: first and last name (a functional mailbox's name).
    pub row_name: String,
    /// R7: only active rows get certificates.
    pub active: bool,
    /// The row's addresses linked to this user, primary first: what a certificate may contain.
    pub linked_addresses: Vec<String>,
    /// Why a request is not possible now (inactive, still valid until …, no name); `None` when
    /// it is. As data: the page words it in the user's language.
    pub refusal: Option<RequestRefusal>,
    /// The subject a certificate would have, e.g. `CN=Anna Schmidt, givenName=Anna,
    /// surname=Schmidt` or `emailAddress=helpdesk@example.org`; empty when it cannot be made.
    pub subject_preview: String,
}

/// Everything "My client certificates" shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyCertificates {
    /// The rows the user is linked to, by domain and primary address.
    pub rows: Vec<RequestableRow>,
    /// The certificates the user requested, newest first, revoked and expired ones included.
    pub certificates: Vec<CertificateView>,
}
