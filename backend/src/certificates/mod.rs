//! "My client certificates" (SPEC §5, R12–R15): users request certificates for the addresses
//! linked to them and revoke their own; NAPs see the certificates of their domains' rows and
//! revoke those of inactive rows; everybody can fetch the CRL.
//!
//! The rules are the domain crate's (`choose_addresses`, `may_request`, `holder_name`,
//! `may_revoke`, the CRL schedule); the signing is the [`CertificateAuthority`]'s. This module
//! stores their outcome, one transaction per use case, with the audit records (R16) and the
//! revocation mails in the same transaction. A revocation re-signs the CRL inside its
//! transaction, so a revocation is never stored without being published, nor the other way round.
//! One step per file: reading ([`read`]), downloads ([`files`]), requesting ([`request`]),
//! revoking ([`revoke`]) and the CRL ([`crl`]).
//!
//! A server-made private key exists only in memory and in the PKCS#12 file handed back once
//! (R14); it is never stored, logged or put into an error, nor is the file's password (Q6).
//!
//! [`CertificateAuthority`]: crate::ca::CertificateAuthority

mod crl;
mod files;
mod read;
mod request;
mod revoke;

use std::fmt;

use domain::address::AddressError;
use domain::certificate::{RequestRefusal, RevocationReason, RevokeRefusal};
use serde::{Deserialize, Serialize};

use crate::ca::csr::CsrError;
use crate::ca::CaError;
use crate::error::ServiceError;
use crate::idm_bar::IdmInactive;
use crate::roles::Refusal;
use crate::secret::SecretString;
use crate::storage::certificates::CrlRecord;

pub use crl::{current_crl, run_crl_refresher};
pub use files::{ca_certificate_der, certificate_file, pem};
pub(crate) use read::view_of;
pub use read::{certificates_of_row, evidence_of_row, my_certificates};
pub use request::request_certificate;
pub(crate) use revoke::{revoke_all, Revocation};
pub use revoke::{revoke_certificate_as_nap, revoke_for_rows, revoke_own_certificate};

/// SQLite write transactions begin with the write lock taken: two requests of one user wait for
/// each other, and the second sees the first one's certificate (R13).
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// The shortest password a PKCS#12 file may be protected with (R14), in characters.
pub const MIN_PKCS12_PASSWORD_CHARS: usize = 10;
/// Longest password for a server-made key's PKCS#12 file, in bytes (SPEC Q9): far beyond any
/// passphrase, and the key derivation hashes it, so a 200 KB "password" is refused, not hashed.
pub const MAX_PKCS12_PASSWORD_BYTES: usize = 1024;

// ---------------------------------------------------------------------------------------------
// What the use cases hand out
// ---------------------------------------------------------------------------------------------

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

    fn parse(stored: &str) -> Option<KeySource> {
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
    /// it is.
    pub refusal: Option<String>,
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

/// Where the key of a requested certificate comes from (R14).
#[derive(Debug)]
pub enum KeyChoice {
    /// The user's PKCS#10 request, PEM or DER; only its public key is used.
    Csr(Vec<u8>),
    /// The server makes the key pair and hands it over once, in a PKCS#12 file protected with
    /// this password (at least [`MIN_PKCS12_PASSWORD_CHARS`] characters).
    ServerKey {
        /// The PKCS#12 file's password; never stored or logged.
        password: SecretString,
    },
}

/// A certificate request (R13, R14).
#[derive(Debug)]
pub struct CertificateRequest {
    /// The row.
    pub row_id: i64,
    /// The addresses to certify: some or all of those linked to the user on the row.
    pub addresses: Vec<String>,
    /// Where the key comes from.
    pub key: KeyChoice,
}

/// A newly issued certificate.
#[derive(Clone, PartialEq, Eq)]
pub struct Issued {
    /// The certificate.
    pub certificate: CertificateView,
    /// The PKCS#12 file with the server-made key, certificate and chain; only for
    /// [`KeyChoice::ServerKey`], and only now: the key is not kept.
    pub pkcs12: Option<Vec<u8>>,
}

impl fmt::Debug for Issued {
    // The PKCS#12 file holds a private key: its length is all a log may see (Q6).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issued")
            .field("certificate", &self.certificate)
            .field(
                "pkcs12",
                &self.pkcs12.as_ref().map(|p| format!("{} bytes", p.len())),
            )
            .finish()
    }
}

/// How a certificate is downloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CertificateFormat {
    /// The certificate, PEM.
    Pem,
    /// The certificate, DER (`.cer`).
    Der,
    /// The certificate and then the CA chain, PEM: what a mail client imports.
    ChainPem,
}

/// A file to download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFile {
    /// Suggested file name.
    pub file_name: String,
    /// Its media type.
    pub content_type: &'static str,
    /// The content.
    pub bytes: Vec<u8>,
}

/// The CRL as currently signed (R15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crl {
    /// The signed CRL, DER.
    pub der: Vec<u8>,
    /// Its CRL number.
    pub number: u64,
    /// `thisUpdate` (Unix seconds).
    pub this_update: i64,
    /// `nextUpdate` (Unix seconds), at most 7 days later.
    pub next_update: i64,
}

impl From<CrlRecord> for Crl {
    fn from(record: CrlRecord) -> Crl {
        Crl {
            der: record.der,
            number: u64::try_from(record.crl_number).unwrap_or_default(),
            this_update: record.this_update,
            next_update: record.next_update,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why a certificate use case did not happen. `Display` is safe to show to whoever asked: it
/// never holds a password, key or database detail (Q6); [`CertificateError::Internal`] and
/// [`CertificateError::Ca`] keep their cause as `source()` for the log only.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// R13 (or R7) refuses the request; the text says what to do.
    #[error(transparent)]
    Refused(#[from] RequestRefusal),
    /// R15 refuses the revocation.
    #[error(transparent)]
    Revoke(#[from] RevokeRefusal),
    /// The CSR cannot be used; the text says why.
    #[error(transparent)]
    Csr(#[from] CsrError),
    /// A chosen address is not an email address.
    #[error(transparent)]
    InvalidAddress(#[from] AddressError),
    /// The row does not exist or none of its addresses is linked to the user; both read alike,
    /// so that row ids tell nothing.
    #[error("none of this mailbox's addresses is linked to you: confirm a challenge for one of them first")]
    NotLinkedToRow,
    /// No such certificate, or one the person may not see (existence does not leak, Q1).
    #[error("no such certificate")]
    NotFound,
    /// No such row.
    #[error("there is no such row")]
    RowNotFound,
    /// A row of a batch revocation is unknown or lies in a domain the NAP does not administer.
    #[error("there is no row #{0} in a domain you administer; nothing was revoked")]
    NoSuchRow(i64),
    /// A row of a batch revocation is still active (R15).
    #[error("{0} is still active: deactivate the row first (its owner can revoke their certificate at any time); nothing was revoked")]
    RowActive(String),
    /// The person may not do this (Q1).
    #[error(transparent)]
    Forbidden(#[from] Refusal),
    /// The IdM says the person is inactive or deleted (R22), whatever session they hold.
    #[error(transparent)]
    IdmInactive(#[from] IdmInactive),
    /// The PKCS#12 password is too short (its content is never repeated).
    #[error("the password for the PKCS#12 file must have at least {min} characters")]
    PasswordTooShort {
        /// The minimum length in characters.
        min: usize,
    },
    /// The PKCS#12 password is longer than [`MAX_PKCS12_PASSWORD_BYTES`] (Q9).
    #[error("the password for the PKCS#12 file may have at most {max} bytes (1 KiB)")]
    PasswordTooLong {
        /// The maximum length in bytes.
        max: usize,
    },
    /// The certification authority failed; nothing was issued or revoked.
    #[error(
        "the certification authority could not sign; nothing was changed, please try again later"
    )]
    Ca(#[source] CaError),
    /// A database or system failure; details only in the log.
    #[error("internal error")]
    Internal(#[source] ServiceError),
}

impl CertificateError {
    /// A failure the person cannot fix (log it with its cause; answer 500).
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            CertificateError::Internal(_) | CertificateError::Ca(_)
        )
    }

    /// The person lacks the role (answer 403).
    pub fn is_forbidden(&self) -> bool {
        matches!(self, CertificateError::Forbidden(_))
    }

    /// The certificate or row does not exist for this person (answer 404).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            CertificateError::NotFound | CertificateError::RowNotFound
        )
    }

    fn internal(err: impl std::error::Error + Send + Sync + 'static) -> CertificateError {
        CertificateError::Internal(ServiceError::internal(err))
    }

    /// A stored value that the rules refuse: the database holds what it must not.
    fn corrupt(what: String) -> CertificateError {
        CertificateError::Internal(ServiceError::Internal(
            format!("stored data breaks the rules: {what}").into(),
        ))
    }
}

impl From<sqlx::Error> for CertificateError {
    fn from(err: sqlx::Error) -> Self {
        CertificateError::Internal(err.into())
    }
}

impl From<ServiceError> for CertificateError {
    fn from(err: ServiceError) -> Self {
        CertificateError::Internal(err)
    }
}

impl From<CaError> for CertificateError {
    fn from(err: CaError) -> Self {
        CertificateError::Ca(err)
    }
}
