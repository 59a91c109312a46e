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

use serde::{Deserialize, Serialize};

use crate::ca::CaError;
use crate::error::ServiceError;
use crate::secret::SecretString;
use crate::storage::certificates::CrlRecord;

pub use crl::{current_crl, run_crl_refresher};
pub use files::{ca_certificate_der, certificate_file, pem};
pub(crate) use read::view_of;
pub use read::{certificates_of_row, evidence_of_row, my_certificates};
pub use request::request_certificate;
pub(crate) use revoke::{revoke_all, Revocation};
pub use revoke::{revoke_certificate_as_nap, revoke_for_rows, revoke_own_certificate};

/// The shortest password a PKCS#12 file may be protected with (R14), in characters.
pub const MIN_PKCS12_PASSWORD_CHARS: usize = 10;
/// Longest password for a server-made key's PKCS#12 file, in bytes (SPEC Q9): far beyond any
/// passphrase, and the key derivation hashes it, so a 200 KB "password" is refused, not hashed.
pub const MAX_PKCS12_PASSWORD_BYTES: usize = 1024;

// ---------------------------------------------------------------------------------------------
// What the use cases hand out
// ---------------------------------------------------------------------------------------------

// A certificate and the rows a user may request for are the domain's types, shared with the
// browser (one set per concept).
pub use domain::certificate_view::{
    CertificateStatus, CertificateView, KeySource, MyCertificates, RequestableRow,
};

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

impl From<CaError> for ServiceError {
    // The certification authority failed: nothing was issued or revoked, and the person can only
    // try again later; the cause goes to the log.
    fn from(err: CaError) -> Self {
        ServiceError::internal(err)
    }
}
