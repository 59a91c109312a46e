//! The certification authority behind "My client certificates" (SPEC §5, R13–R15): one interface,
//! [`CertificateAuthority`], that issues certificates and signs CRLs, so that an external CA can
//! take the embedded default's place without the certificate service changing.
//!
//! What the interface is handed is already decided: the certificate service has checked R13
//! (active row, addresses linked to the user, one valid certificate per row) and R15, and taken
//! the key from a CSR or made it on the server. The CA only turns that into signed DER, following
//! the S/MIME Baseline Requirements profile it implements.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use domain::address::EmailAddress;
use domain::certificate::RevocationReason;

pub mod csr;
pub mod embedded;
pub mod server_key;

pub use csr::{parse_csr, CsrError};
pub(crate) use embedded::escape_rfc4514;
pub use embedded::EmbeddedCa;
pub use server_key::{pkcs12, ServerKey};

/// Where the CRL is published, below the base URL; named in every certificate's CRL
/// distribution point (R15). Served as DER (`application/pkix-crl`).
pub const CRL_PATH: &str = "/pki/ca.crl";

/// Where the issuing CA certificate is published, below the base URL; named in every
/// certificate's authorityInformationAccess (caIssuers). Served as DER (`application/pkix-cert`).
pub const CA_CERTIFICATE_PATH: &str = "/pki/ca.crt";

/// A boxed future, so that [`CertificateAuthority`] can be used as `Arc<dyn …>` while an external
/// CA's implementation still awaits its network calls.
pub type CaFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, CaError>> + Send + 'a>>;

/// The public key a certificate is issued for, as the CSR or the server-made key pair gives it.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// The DER `SubjectPublicKeyInfo`.
    pub spki_der: Vec<u8>,
    /// Its algorithm; decides keyUsage (RSA: digitalSignature + keyEncipherment, EC:
    /// digitalSignature + keyAgreement, R13).
    pub algorithm: KeyAlgorithm,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.algorithm)
    }
}

/// The key algorithms the portal accepts (those the S/MIME Baseline Requirements allow).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSA with a modulus of `bits` bits (2048 to 8192, a multiple of 8).
    Rsa {
        /// Modulus length.
        bits: u32,
    },
    /// ECDSA/ECDH on NIST P-256.
    EcP256,
    /// ECDSA/ECDH on NIST P-384.
    EcP384,
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyAlgorithm::Rsa { bits } => write!(f, "RSA {bits}"),
            KeyAlgorithm::EcP256 => f.write_str("EC P-256"),
            KeyAlgorithm::EcP384 => f.write_str("EC P-384"),
        }
    }
}

/// Whose certificate it is, which decides the subject (R13).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holder {
    /// A personal row: subject CN = given name + surname from the IdM, plus givenName and
    /// surname (and the configured organisation, if any).
    Person {
        /// The IdM's given name.
        given_name: String,
        /// The IdM's surname.
        surname: String,
    },
    /// A functional row: no CN, only the email address in the subject.
    Mailbox,
}

/// What to certify. Every field is already checked by the certificate service.
#[derive(Clone, Debug)]
pub struct IssueRequest {
    /// The holder's public key.
    pub key: PublicKey,
    /// Person or functional mailbox.
    pub holder: Holder,
    /// The subjectAltName rfc822Names, in this order; at least one. The first is the subject's
    /// email address for a functional row.
    pub addresses: Vec<EmailAddress>,
    /// `notBefore`, Unix seconds.
    pub not_before: i64,
    /// `notAfter`, Unix seconds (the service applies the configured validity, ≤ 825 days).
    pub not_after: i64,
}

/// A certificate the CA signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedCertificate {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Its serial number in lower-case hex without leading zeros, as `openssl x509 -serial`
    /// shows it (but lower-case).
    pub serial: String,
    /// The subject DN as text (RFC 4514), for display.
    pub subject: String,
    /// `notBefore` as signed, Unix seconds.
    pub not_before: i64,
    /// `notAfter` as signed, Unix seconds.
    pub not_after: i64,
}

/// A revoked certificate as the CRL lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlEntry {
    /// Serial number, as [`IssuedCertificate::serial`].
    pub serial: String,
    /// When it was revoked, Unix seconds.
    pub revoked_at: i64,
    /// Why; [`RevocationReason::Unspecified`] leaves the reasonCode extension out (R15).
    pub reason: RevocationReason,
}

/// A CRL to sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlRequest {
    /// The CRL number extension; grows with every CRL.
    pub number: u64,
    /// `thisUpdate`, Unix seconds.
    pub this_update: i64,
    /// `nextUpdate`, Unix seconds, at most 7 days after `this_update` (R15).
    pub next_update: i64,
    /// Every revoked certificate not yet expired.
    pub entries: Vec<CrlEntry>,
}

/// Why the CA could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// The request breaks the CA's profile (should not happen after the service's checks).
    #[error("the CA refused the request: {0}")]
    Refused(String),
    /// Signing or encoding failed, or the external CA could not be reached.
    #[error("the CA failed: {0}")]
    Failed(String),
}

/// Issues certificates and signs CRLs (SPEC §5). The embedded default is `EmbeddedCa`; an
/// external CA implements the same trait.
pub trait CertificateAuthority: Send + Sync + fmt::Debug {
    /// The issuing CA's certificate first, then any intermediates up to (and including) the root,
    /// DER: the chain a user downloads with their certificate.
    fn chain_der(&self) -> Vec<Vec<u8>>;

    /// Signs a certificate for `request`.
    fn issue<'a>(&'a self, request: &'a IssueRequest) -> CaFuture<'a, IssuedCertificate>;

    /// Signs a CRL (DER) for `request`.
    fn sign_crl<'a>(&'a self, request: &'a CrlRequest) -> CaFuture<'a, Vec<u8>>;
}
