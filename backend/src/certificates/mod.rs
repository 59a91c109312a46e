//! "My client certificates" (SPEC §5, R12–R15): users request certificates for the addresses
//! linked to them and revoke their own; NAPs see the certificates of their domains' rows and
//! revoke those of inactive rows; everybody can fetch the CRL.
//!
//! The rules are the domain crate's ([`choose_addresses`], [`may_request`], [`holder_name`],
//! [`may_revoke`], the CRL schedule); the signing is the [`CertificateAuthority`]'s. This module
//! stores their outcome, one transaction per use case, with the audit records (R16) and the
//! revocation mails in the same transaction. A revocation re-signs the CRL inside its
//! transaction, so a revocation is never stored without being published, nor the other way round.
//!
//! A server-made private key exists only in memory and in the PKCS#12 file handed back once
//! (R14); it is never stored, logged or put into an error, nor is the file's password (Q6).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use domain::address::{AddressError, EmailAddress};
use domain::certificate::{
    choose_addresses, crl_is_due, crl_next_update, holder_name, may_request, may_revoke,
    ExistingCert, RenewalWindow, RequestRefusal, RevocationReason, RevokeRefusal, Revoker,
};
use domain::handover::{first_suspended, ValidationEvidence};
use domain::mailbox::MailboxType;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::ca::csr::{parse_csr, CsrError};
use crate::ca::server_key::{pkcs12, ServerKey};
use crate::ca::{
    CaError, CertificateAuthority, CrlEntry, CrlRequest, Holder, IssueRequest, PublicKey,
};
use crate::challenges::message_id_domain;
use crate::clock;
use crate::error::ServiceError;
use crate::identity::display_name;
use crate::idm_bar::{check_not_barred, IdmInactive};
use crate::mail::templates::{revocation_mail, RevocationMail, RevokedBy};
use crate::portal::Portal;
use crate::roles::{Refusal, Viewer};
use crate::secret::{ExposeSecret, SecretString};
use crate::storage::audit::{
    insert_audit_record, list_issue_records_of_row, AuditKind, NewAuditRecord,
};
use crate::storage::certificates::{
    self as store, CertificateRecord, CertificateRowRecord, CrlRecord, LinkedAddressRecord,
    NewCertificate,
};
use crate::storage::confirmations::list_link_evidence;
use crate::storage::outbox::{insert_outbox_mails, NewOutboxMail};
use crate::storage::users::find_user;
use crate::storage::Conn;

/// SQLite write transactions begin with the write lock taken: two requests of one user wait for
/// each other, and the second sees the first one's certificate (R13).
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// The shortest password a PKCS#12 file may be protected with (R14), in characters.
pub const MIN_PKCS12_PASSWORD_CHARS: usize = 10;
/// Longest password for a server-made key's PKCS#12 file, in bytes (SPEC Q9): far beyond any
/// passphrase, and the key derivation hashes it, so a 200 KB "password" is refused, not hashed.
pub const MAX_PKCS12_PASSWORD_BYTES: usize = 1024;

/// How often [`run_crl_refresher`] looks whether the CRL is due (R15: re-signed at least daily).
const CRL_CHECK_INTERVAL: Duration = Duration::from_secs(3600);

/// Random bytes in the unique part of a Message-ID.
const MESSAGE_ID_BYTES: usize = 16;

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

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// "Given Family", or the user ID when the IdM gave no name.
fn stored_reason(reason: Option<&str>) -> Result<RevocationReason, CertificateError> {
    match reason {
        None => Ok(RevocationReason::Unspecified),
        Some(name) => RevocationReason::parse(name)
            .map_err(|_| CertificateError::corrupt(format!("revocation reason {name}"))),
    }
}

fn stored_addresses(record: &CertificateRecord) -> Result<Vec<String>, CertificateError> {
    serde_json::from_str(&record.addresses)
        .map_err(|_| CertificateError::corrupt(format!("addresses of certificate {}", record.id)))
}

/// What R13 and R15 need of a stored certificate.
fn existing_of(record: &CertificateRecord) -> ExistingCert {
    ExistingCert {
        not_after: record.not_after,
        revoked: record.revoked_at.is_some(),
    }
}

fn view_of(record: CertificateRecord, now: i64) -> Result<CertificateView, CertificateError> {
    let addresses = stored_addresses(&record)?;
    let key_source = KeySource::parse(&record.key_source).ok_or_else(|| {
        CertificateError::corrupt(format!("key source of certificate {}", record.id))
    })?;
    let status = match record.revoked_at {
        Some(at) => CertificateStatus::Revoked {
            at,
            reason: stored_reason(record.reason.as_deref())?,
            by: record.revoked_by.clone().unwrap_or_default(),
        },
        None if now >= record.not_after => CertificateStatus::Expired,
        None => CertificateStatus::Valid,
    };
    Ok(CertificateView {
        user_name: display_name(&record.given_name, &record.family_name, &record.user_id),
        id: record.id,
        serial: record.serial,
        row_id: record.row_id,
        domain: record.domain,
        row_primary: record.row_primary,
        user_id: record.user_id,
        subject: record.subject,
        addresses,
        key_source,
        not_before: record.not_before,
        not_after: record.not_after,
        issued_at: record.issued_at,
        status,
    })
}

fn views_of(
    records: Vec<CertificateRecord>,
    now: i64,
) -> Result<Vec<CertificateView>, CertificateError> {
    records.into_iter().map(|r| view_of(r, now)).collect()
}

fn mailbox_type_of(row: &CertificateRowRecord) -> Result<MailboxType, CertificateError> {
    MailboxType::parse(&row.mailbox_type)
        .map_err(|_| CertificateError::corrupt(format!("mailbox type of row {}", row.id)))
}

/// The subject a certificate for `holder` would get, as the CA writes its text (RFC 4514, most
/// specific attribute first): `CN=Anna Schmidt,SN=Schmidt,givenName=Anna[,O=…[,C=…]]` for a
/// person, `emailAddress=…` for a functional mailbox. A test holds it to the issued subject.
fn subject_preview(
    holder: &Holder,
    first_address: &str,
    organization: Option<&str>,
    country: Option<&str>,
) -> String {
    let mut parts: Vec<(&str, String)> = Vec::new();
    match holder {
        Holder::Person {
            given_name,
            surname,
        } => {
            let common_name = [given_name.as_str(), surname.as_str()]
                .into_iter()
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            parts.push(("CN", common_name));
            if !surname.is_empty() {
                parts.push(("SN", surname.clone()));
            }
            if !given_name.is_empty() {
                parts.push(("givenName", given_name.clone()));
            }
            // The CA names the organisation (and its country) in personal certificates only.
            if let Some(organization) = organization {
                parts.push(("O", organization.to_owned()));
                if let Some(country) = country {
                    parts.push(("C", country.to_owned()));
                }
            }
        }
        Holder::Mailbox => parts.push(("emailAddress", first_address.to_owned())),
    }
    parts
        .iter()
        .map(|(label, value)| format!("{label}={}", crate::ca::escape_rfc4514(value)))
        .collect::<Vec<_>>()
        .join(",")
}

/// R12, R13: the rows the viewer is linked to, with whether a certificate can be requested for
/// each now and what its subject would be, and every certificate the viewer ever requested —
/// also those of rows whose addresses have moved to someone else since.
pub async fn my_certificates(
    portal: &Portal,
    viewer: &Viewer,
) -> Result<MyCertificates, CertificateError> {
    let user_id = viewer.user.user_id.as_str();
    let now = clock::now();
    let window = renewal_window(portal);
    let mut conn = portal.pool.acquire().await?;
    let linked = store::list_linked_addresses_of_user(&mut conn, user_id).await?;
    let certificates = store::list_certificates_of_user(&mut conn, user_id).await?;
    let user = find_user(&mut conn, user_id).await?;
    drop(conn);
    let name = user
        .as_ref()
        .map(|u| holder_name(&u.given_name, &u.family_name));
    let organization = portal.config.ca.organization.as_deref();
    let country = portal.config.ca.country.as_deref();

    // The records come sorted by row, each row's addresses primary first. R18: a row offers only
    // its usable links; suspended ones are kept apart, shown when the row has nothing else.
    let mut rows: Vec<RequestableRow> = Vec::new();
    let mut suspended: Vec<Vec<String>> = Vec::new();
    for record in linked {
        let LinkedAddressRecord {
            row,
            address,
            suspended: is_suspended,
        } = record;
        if rows.last().map(|r| r.row_id) != Some(row.id) {
            let functional = mailbox_type_of(&row)? == MailboxType::Functional;
            rows.push(RequestableRow {
                row_id: row.id,
                domain: row.domain,
                primary: row.primary_address,
                functional,
                row_name: format!("{} {}", row.first_name, row.last_name)
                    .trim()
                    .to_owned(),
                active: row.active,
                linked_addresses: Vec::new(),
                refusal: None,
                subject_preview: String::new(),
            });
            suspended.push(Vec::new());
        }
        match (rows.last_mut(), suspended.last_mut()) {
            (Some(row), _) if !is_suspended => row.linked_addresses.push(address),
            (_, Some(held_back)) => held_back.push(address),
            _ => {}
        }
    }
    for (row, held_back) in rows.iter_mut().zip(suspended) {
        let only_suspended = row.linked_addresses.is_empty();
        if only_suspended {
            row.linked_addresses = held_back;
        }
        let held: Vec<ExistingCert> = certificates
            .iter()
            .filter(|c| c.row_id == row.row_id)
            .map(existing_of)
            .collect();
        let holder = if row.functional {
            Ok(Holder::Mailbox)
        } else {
            match &name {
                Some(Ok((given_name, surname))) => Ok(Holder::Person {
                    given_name: given_name.clone(),
                    surname: surname.clone(),
                }),
                Some(Err(refusal)) => Err(refusal.clone()),
                None => Err(RequestRefusal::NoName),
            }
        };
        let refusal = if row.active && only_suspended {
            EmailAddress::parse(&row.linked_addresses[0])
                .ok()
                .map(|address| RequestRefusal::LinkSuspended { address })
        } else if row.active {
            holder
                .as_ref()
                .err()
                .cloned()
                .or_else(|| may_request(&held, now, window).err())
        } else {
            Some(RequestRefusal::RowInactive)
        };
        row.refusal = refusal.map(|r| r.to_string());
        row.subject_preview = match &holder {
            Ok(holder) => subject_preview(holder, &row.linked_addresses[0], organization, country),
            Err(_) => String::new(),
        };
    }
    Ok(MyCertificates {
        rows,
        certificates: views_of(certificates, now)?,
    })
}

/// R12: every certificate ever issued for a row, newest first, for the NAPs of its domain and
/// operators. Someone who is neither a NAP nor an operator is refused (403) whatever the id; a
/// row of a domain the NAP does not administer reads as an unknown row (404), so row ids tell
/// nothing about other domains (Q1).
pub async fn certificates_of_row(
    portal: &Portal,
    viewer: &Viewer,
    row_id: i64,
) -> Result<Vec<CertificateView>, CertificateError> {
    if !viewer.is_nap() && !viewer.is_operator {
        return Err(Refusal::NotNapOfDomain.into());
    }
    let mut conn = portal.pool.acquire().await?;
    store::find_certificate_row(&mut conn, row_id)
        .await?
        .filter(|row| viewer.may_read_domain(row.domain_id))
        .ok_or(CertificateError::RowNotFound)?;
    let records = store::list_certificates_of_row(&mut conn, row_id).await?;
    views_of(records, clock::now())
}

/// R20: the validation evidence of every certificate ever issued for a row, by serial, from the
/// audit records of their issuing (its one home): for the NAPs of the row's domain and
/// operators, who see the row's certificates ([`certificates_of_row`]). A certificate issued
/// before evidence was recorded has none.
pub async fn evidence_of_row(
    portal: &Portal,
    viewer: &Viewer,
    row_id: i64,
) -> Result<HashMap<String, Vec<ValidationEvidence>>, CertificateError> {
    let mut conn = portal.pool.acquire().await?;
    store::find_certificate_row(&mut conn, row_id)
        .await?
        .filter(|row| viewer.may_read_domain(row.domain_id))
        .ok_or(CertificateError::RowNotFound)?;
    let mut evidence = HashMap::new();
    for (serial, after) in list_issue_records_of_row(&mut conn, row_id).await? {
        let found = after
            .as_deref()
            .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
            .and_then(|mut a| serde_json::from_value(a["evidence"].take()).ok())
            .unwrap_or_default();
        evidence.insert(serial, found);
    }
    Ok(evidence)
}

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
) -> Result<CertificateFile, CertificateError> {
    let mut conn = portal.pool.acquire().await?;
    let record = store::find_certificate(&mut conn, certificate_id)
        .await?
        .filter(|r| may_see(viewer, r))
        .ok_or(CertificateError::NotFound)?;
    let der = store::find_certificate_der(&mut conn, certificate_id)
        .await?
        .ok_or(CertificateError::NotFound)?;
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

// ---------------------------------------------------------------------------------------------
// Requesting (R13, R14)
// ---------------------------------------------------------------------------------------------

fn renewal_window(portal: &Portal) -> RenewalWindow {
    portal.config.ca.renewal_window()
}

/// A request as R13 allows it.
struct CheckedRequest {
    row: CertificateRowRecord,
    /// The chosen addresses in the row's order (primary first): the subjectAltName order.
    addresses: Vec<EmailAddress>,
    holder: Holder,
}

/// R13 for `user_id` asking for `chosen` on row `row_id` at `now`: the row is active, the
/// addresses are linked to the user, the user holds no other valid certificate for the row
/// (outside the renewal window), and a personal certificate has a name to carry.
async fn check_request(
    conn: &mut Conn,
    user_id: &str,
    row_id: i64,
    chosen: &[EmailAddress],
    now: i64,
    window: RenewalWindow,
) -> Result<CheckedRequest, CertificateError> {
    // R22: a session that outlived the IdM's deactivation (or began through a path that missed
    // it) gets nothing.
    check_not_barred::<CertificateError>(conn, user_id).await?;
    let row = store::find_certificate_row(conn, row_id)
        .await?
        .ok_or(CertificateError::NotLinkedToRow)?;
    let mut linked = Vec::new();
    let mut suspended = Vec::new();
    for (address, is_suspended) in
        store::list_linked_addresses_of_row(conn, user_id, row_id).await?
    {
        let address = EmailAddress::parse(&address)
            .map_err(|e| CertificateError::corrupt(format!("linked address: {e}")))?;
        if is_suspended {
            suspended.push(address);
        } else {
            linked.push(address);
        }
    }
    if linked.is_empty() && suspended.is_empty() {
        return Err(CertificateError::NotLinkedToRow);
    }
    // R18: a new round was sent since the link was made; until it is confirmed the link counts
    // for nothing, whoever holds it.
    if let Some(address) = first_suspended(chosen, &suspended) {
        if row.active {
            return Err(RequestRefusal::LinkSuspended {
                address: address.clone(),
            }
            .into());
        }
    }
    let mut addresses = choose_addresses(row.active, &linked, chosen)?;
    addresses.sort_by_key(|a| linked.iter().position(|l| l == a));
    let holder = match mailbox_type_of(&row)? {
        MailboxType::Functional => Holder::Mailbox,
        MailboxType::Personal => {
            let user = find_user(conn, user_id)
                .await?
                .ok_or(RequestRefusal::NoName)?;
            let (given_name, surname) = holder_name(&user.given_name, &user.family_name)?;
            Holder::Person {
                given_name,
                surname,
            }
        }
    };
    let held: Vec<ExistingCert> = store::list_held_certificates(conn, user_id, row_id)
        .await?
        .into_iter()
        .map(|h| ExistingCert {
            not_after: h.not_after,
            revoked: h.revoked,
        })
        .collect();
    may_request(&held, now, window)?;
    Ok(CheckedRequest {
        row,
        addresses,
        holder,
    })
}

/// A [`KeyChoice`] as far as it is checked before any key pair is made.
enum CheckedKey {
    /// The CSR's public key.
    Csr(PublicKey),
    /// A key pair is to be made, its PKCS#12 file protected by this (long enough) password.
    Server(SecretString),
}

fn check_password(password: &SecretString) -> Result<(), CertificateError> {
    // The upper bound first and in bytes: it is what the request and the hashing cost.
    if password.expose_secret().len() > MAX_PKCS12_PASSWORD_BYTES {
        return Err(CertificateError::PasswordTooLong {
            max: MAX_PKCS12_PASSWORD_BYTES,
        });
    }
    if password.expose_secret().chars().count() < MIN_PKCS12_PASSWORD_CHARS {
        return Err(CertificateError::PasswordTooShort {
            min: MIN_PKCS12_PASSWORD_CHARS,
        });
    }
    Ok(())
}

/// R13, R14: issues a certificate to the viewer for the chosen addresses of a row, with the
/// key of their CSR or a key pair made here.
///
/// Everything that can be refused is refused before a key pair is made; then, under the write
/// lock, R13 is checked again (a double submit waits for the first and is refused, so it never
/// yields two certificates), the CA signs, and the certificate is stored and audited in one
/// transaction. A server-made key goes back only inside the PKCS#12 file, which is built before
/// the commit: if that fails, no certificate exists whose key is lost.
pub async fn request_certificate(
    portal: &Portal,
    viewer: &Viewer,
    request: CertificateRequest,
) -> Result<Issued, CertificateError> {
    let user_id = viewer.user.user_id.as_str();
    let CertificateRequest {
        row_id,
        addresses,
        key,
    } = request;
    let chosen = addresses
        .iter()
        .map(|a| EmailAddress::parse(a))
        .collect::<Result<Vec<_>, _>>()?;
    // Checked when the configuration is loaded (at most 825 days).
    let validity = portal.config.ca.validity();
    let window = renewal_window(portal);
    // What can be checked of the key before the database: the CSR, or the password's length.
    let key = match key {
        KeyChoice::Csr(csr) => CheckedKey::Csr(parse_csr(&csr)?),
        KeyChoice::ServerKey { password } => {
            check_password(&password)?;
            CheckedKey::Server(password)
        }
    };
    {
        let mut conn = portal.pool.acquire().await?;
        check_request(&mut conn, user_id, row_id, &chosen, clock::now(), window).await?;
    }
    let (key, server_key) = match key {
        CheckedKey::Csr(key) => (key, None),
        CheckedKey::Server(password) => {
            // RSA key generation takes a while: off the async threads.
            let server_key = tokio::task::spawn_blocking(ServerKey::generate)
                .await
                .map_err(CertificateError::internal)??;
            (server_key.public_key(), Some((server_key, password)))
        }
    };
    let key_source = if server_key.is_some() {
        KeySource::Server
    } else {
        KeySource::Csr
    };

    let now = clock::now();
    let mut tx = portal.pool.begin_with(BEGIN_WRITE).await?;
    let checked = check_request(&mut tx, user_id, row_id, &chosen, now, window).await?;
    let issue = IssueRequest {
        key,
        holder: checked.holder,
        addresses: checked.addresses,
        not_before: now,
        not_after: validity.not_after(now),
    };
    let issued = portal.ca.issue(&issue).await?;
    let addresses: Vec<&str> = issue.addresses.iter().map(EmailAddress::as_str).collect();
    // R20: the confirmation behind each address, as it stands in this transaction.
    let evidence: Vec<ValidationEvidence> = list_link_evidence(&mut tx, checked.row.id, user_id)
        .await?
        .into_iter()
        .filter(|e| addresses.contains(&e.address.as_str()))
        .collect();
    let addresses_json = serde_json::to_string(&addresses).map_err(CertificateError::internal)?;
    let id = store::insert_certificate(
        &mut tx,
        &NewCertificate {
            serial: &issued.serial,
            row_id: checked.row.id,
            user_id,
            subject: &issued.subject,
            addresses: &addresses_json,
            key_source: key_source.as_str(),
            not_before: issued.not_before,
            not_after: issued.not_after,
            der: &issued.der,
        },
        now,
    )
    .await?;
    insert_audit_record(
        &mut tx,
        &NewAuditRecord {
            actor: user_id,
            kind: AuditKind::CertificateIssued,
            domain_id: Some(checked.row.domain_id),
            row_id: Some(checked.row.id),
            subject: Some(&issued.serial),
            before: None,
            after: Some(json!({
                "user_id": user_id,
                "subject": issued.subject,
                "addresses": addresses,
                "key_source": key_source.as_str(),
                "not_before": issued.not_before,
                "not_after": issued.not_after,
                "evidence": evidence,
            })),
        },
        now,
    )
    .await?;
    let pkcs12 = match server_key {
        Some((server_key, password)) => {
            // PBKDF2 with many iterations is CPU work too. Done before the commit: should it
            // fail, no certificate exists whose private key is lost.
            let cert_der = issued.der.clone();
            let chain = portal.ca.chain_der();
            let friendly_name = addresses[0].to_owned();
            let file = tokio::task::spawn_blocking(move || {
                pkcs12(
                    &cert_der,
                    &chain,
                    &server_key,
                    password.expose_secret(),
                    &friendly_name,
                )
            })
            .await
            .map_err(CertificateError::internal)??;
            Some(file)
        }
        None => None,
    };
    let record = store::find_certificate(&mut tx, id)
        .await?
        .ok_or(CertificateError::NotFound)?;
    tx.commit().await?;
    tracing::info!(
        serial = %issued.serial,
        row_id = checked.row.id,
        user_id,
        key_source = key_source.as_str(),
        "certificate issued"
    );
    Ok(Issued {
        certificate: view_of(record, now)?,
        pkcs12,
    })
}

// ---------------------------------------------------------------------------------------------
// Revoking (R15) and the CRL
// ---------------------------------------------------------------------------------------------

/// Who revokes, why, and when: the same for every certificate of one use case.
pub(crate) struct Revocation<'a> {
    pub(crate) actor: &'a str,
    pub(crate) by: Revoker,
    pub(crate) reason: RevocationReason,
    pub(crate) now: i64,
    /// R19: a copy of each revocation mail goes to this address too (the acting NAP's).
    pub(crate) copy_to: Option<&'a str>,
}

/// A fresh Message-ID at the sender's domain.
fn message_id(from: &str) -> Result<String, CertificateError> {
    let mut bytes = [0u8; MESSAGE_ID_BYTES];
    getrandom::fill(&mut bytes).map_err(ServiceError::from)?;
    let unique: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("<{unique}@{}>", message_id_domain(from)))
}

/// The owner's mails confirming a revocation: to the certificate's first address, to the IdM's
/// address of the owner when it is known and another one (a leaver's mailbox may be closed
/// already), and a copy to the acting NAP when asked (R19).
fn revocation_mails(
    portal: &Portal,
    record: &CertificateRecord,
    addresses: &[String],
    revocation: &Revocation<'_>,
) -> Result<Vec<NewOutboxMail>, CertificateError> {
    let rendered = revocation_mail(&RevocationMail {
        serial: &record.serial,
        subject: &record.subject,
        addresses,
        reason: revocation.reason,
        by: match revocation.by {
            Revoker::Owner => RevokedBy::Owner,
            Revoker::Nap => RevokedBy::Nap,
            Revoker::Idm => RevokedBy::Idm,
        },
        revoked_at: revocation.now,
    });
    let mut recipients: Vec<String> = addresses.iter().take(1).cloned().collect();
    let others = [record.user_email.as_deref(), revocation.copy_to];
    for email in others.into_iter().flatten().map(str::trim) {
        if !email.is_empty() && !recipients.iter().any(|r| r.eq_ignore_ascii_case(email)) {
            recipients.push(email.to_owned());
        }
    }
    recipients
        .into_iter()
        .map(|recipient| {
            Ok(NewOutboxMail {
                recipient,
                subject: rendered.subject.clone(),
                body_text: rendered.text.clone(),
                body_html: rendered.html.clone(),
                message_id: message_id(&portal.config.mail.from)?,
                challenge_id: None,
            })
        })
        .collect()
}

/// Revokes `records` inside the caller's transaction: R15 for each, the revocation, its audit
/// record and the owner's mails, then one new CRL. Any refusal or a failed signing fails the
/// whole transaction, so nothing is revoked unpublished.
pub(crate) async fn revoke_all(
    conn: &mut Conn,
    portal: &Portal,
    records: &[CertificateRecord],
    revocation: &Revocation<'_>,
) -> Result<(), CertificateError> {
    let now = revocation.now;
    let reason = revocation.reason;
    // RFC 5280: `unspecified` is not written; the column stays NULL and the CRL has no code.
    let stored_reason = reason.rfc5280_code().map(|_| reason.as_str());
    let by = match revocation.by {
        Revoker::Owner => "owner",
        Revoker::Nap => "nap",
        Revoker::Idm => "idm",
    };
    let mut mails = Vec::with_capacity(records.len() * 2);
    for record in records {
        may_revoke(revocation.by, record.row_active, &existing_of(record), now)?;
        if !store::insert_revocation(conn, record.id, stored_reason, revocation.actor, now).await? {
            return Err(RevokeRefusal::AlreadyRevoked.into());
        }
        insert_audit_record(
            conn,
            &NewAuditRecord {
                actor: revocation.actor,
                kind: AuditKind::CertificateRevoked,
                domain_id: Some(record.domain_id),
                row_id: Some(record.row_id),
                subject: Some(&record.serial),
                before: Some(json!({ "state": "valid", "user_id": record.user_id })),
                after: Some(json!({
                    "state": "revoked",
                    "reason": reason.as_str(),
                    "revoked_by": revocation.actor,
                    "as": by,
                })),
            },
            now,
        )
        .await?;
        let addresses = stored_addresses(record)?;
        mails.extend(revocation_mails(portal, record, &addresses, revocation)?);
    }
    insert_outbox_mails(conn, &mails, now).await?;
    sign_crl(conn, portal.ca.as_ref(), now).await?;
    Ok(())
}

/// Signs and stores a new CRL at `now`, inside the caller's transaction: the next CRL number,
/// every revoked certificate not yet expired, `nextUpdate` 7 days ahead (R15).
async fn sign_crl(
    conn: &mut Conn,
    ca: &dyn CertificateAuthority,
    now: i64,
) -> Result<CrlRecord, CertificateError> {
    let number = store::find_crl(conn)
        .await?
        .map_or(1, |previous| previous.crl_number.saturating_add(1));
    let entries = store::list_revoked_unexpired(conn, now)
        .await?
        .into_iter()
        .map(|r| {
            Ok(CrlEntry {
                reason: stored_reason(r.reason.as_deref())?,
                serial: r.serial,
                revoked_at: r.revoked_at,
            })
        })
        .collect::<Result<Vec<_>, CertificateError>>()?;
    let request = CrlRequest {
        number: u64::try_from(number).unwrap_or(1),
        this_update: now,
        next_update: crl_next_update(now),
        entries,
    };
    let der = ca.sign_crl(&request).await?;
    let record = CrlRecord {
        crl_number: number,
        this_update: request.this_update,
        next_update: request.next_update,
        der,
    };
    store::put_crl(conn, &record).await?;
    tracing::info!(
        crl_number = number,
        entries = request.entries.len(),
        "CRL signed"
    );
    Ok(record)
}

/// R15: the owner revokes one of their own certificates, at any time, with a reason. Someone
/// else's certificate reads as no such certificate (Q1).
pub async fn revoke_own_certificate(
    portal: &Portal,
    viewer: &Viewer,
    certificate_id: i64,
    reason: RevocationReason,
) -> Result<CertificateView, CertificateError> {
    revoke_one(portal, viewer, certificate_id, reason, Revoker::Owner).await
}

/// R15: a NAP revokes one certificate of an inactive row of their domain. A certificate of
/// another domain reads as no such certificate (Q1).
pub async fn revoke_certificate_as_nap(
    portal: &Portal,
    viewer: &Viewer,
    certificate_id: i64,
    reason: RevocationReason,
) -> Result<CertificateView, CertificateError> {
    revoke_one(portal, viewer, certificate_id, reason, Revoker::Nap).await
}

async fn revoke_one(
    portal: &Portal,
    viewer: &Viewer,
    certificate_id: i64,
    reason: RevocationReason,
    by: Revoker,
) -> Result<CertificateView, CertificateError> {
    let now = clock::now();
    let mut tx = portal.pool.begin_with(BEGIN_WRITE).await?;
    let record = store::find_certificate(&mut tx, certificate_id)
        .await?
        .filter(|r| match by {
            Revoker::Owner => r.user_id == viewer.user.user_id,
            Revoker::Nap => viewer.administers(r.domain_id),
            Revoker::Idm => false,
        })
        .ok_or(CertificateError::NotFound)?;
    let revocation = Revocation {
        actor: &viewer.user.user_id,
        by,
        reason,
        now,
        copy_to: None,
    };
    revoke_all(&mut tx, portal, std::slice::from_ref(&record), &revocation).await?;
    let record = store::find_certificate(&mut tx, certificate_id)
        .await?
        .ok_or(CertificateError::NotFound)?;
    tx.commit().await?;
    portal.outbox.notify_one();
    tracing::info!(serial = %record.serial, reason = reason.as_str(), "certificate revoked");
    view_of(record, now)
}

/// R15, S2: a NAP revokes every valid certificate of the given rows, all of which must be
/// inactive rows of their domains. All or nothing: an unknown, foreign or active row refuses
/// the whole batch, naming it. Returns how many certificates were revoked.
pub async fn revoke_for_rows(
    portal: &Portal,
    viewer: &Viewer,
    row_ids: &[i64],
    reason: RevocationReason,
) -> Result<usize, CertificateError> {
    if !viewer.is_nap() {
        return Err(Refusal::NotNapOfDomain.into());
    }
    let mut seen = HashSet::with_capacity(row_ids.len());
    let row_ids: Vec<i64> = row_ids
        .iter()
        .copied()
        .filter(|id| seen.insert(*id))
        .collect();
    let now = clock::now();
    let mut tx = portal.pool.begin_with(BEGIN_WRITE).await?;
    let rows = store::list_certificate_rows(&mut tx, &row_ids).await?;
    for id in &row_ids {
        // Unknown and foreign rows read alike: the answer tells nothing about other domains.
        let row = rows
            .iter()
            .find(|r| r.id == *id && viewer.administers(r.domain_id))
            .ok_or(CertificateError::NoSuchRow(*id))?;
        if row.active {
            return Err(CertificateError::RowActive(row.primary_address.clone()));
        }
    }
    let records = store::list_valid_certificates_of_rows(&mut tx, &row_ids, now).await?;
    if records.is_empty() {
        return Ok(0);
    }
    let revocation = Revocation {
        actor: &viewer.user.user_id,
        by: Revoker::Nap,
        reason,
        now,
        copy_to: None,
    };
    revoke_all(&mut tx, portal, &records, &revocation).await?;
    tx.commit().await?;
    portal.outbox.notify_one();
    tracing::info!(
        rows = row_ids.len(),
        certificates = records.len(),
        reason = reason.as_str(),
        "certificates of deactivated rows revoked"
    );
    Ok(records.len())
}

/// R15: the CRL to serve. Signs the first one if there is none, and a new one when the stored
/// one is due (about a day old); otherwise the stored one, without taking the write lock.
pub async fn current_crl(portal: &Portal) -> Result<Crl, CertificateError> {
    let now = clock::now();
    {
        let mut conn = portal.pool.acquire().await?;
        if let Some(crl) = store::find_crl(&mut conn).await? {
            if !crl_is_due(crl.this_update, now) {
                return Ok(crl.into());
            }
        }
    }
    let mut tx = portal.pool.begin_with(BEGIN_WRITE).await?;
    // Another request may have signed it while this one waited for the lock.
    if let Some(crl) = store::find_crl(&mut tx).await? {
        if !crl_is_due(crl.this_update, now) {
            return Ok(crl.into());
        }
    }
    let crl = sign_crl(&mut tx, portal.ca.as_ref(), now).await?;
    tx.commit().await?;
    Ok(crl.into())
}

/// Keeps the CRL fresh until `shutdown` completes: signs one at start if due, then looks every
/// hour, so it is re-signed at least daily (R15) even when nothing is revoked. A failure is
/// logged and tried again at the next look; the stored CRL stays valid for days.
pub async fn run_crl_refresher(portal: Portal, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut every_hour = tokio::time::interval(CRL_CHECK_INTERVAL);
    every_hour.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!("CRL refresher started");
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = every_hour.tick() => {}
        }
        match current_crl(&portal).await {
            Ok(crl) => tracing::debug!(
                crl_number = crl.number,
                next_update = crl.next_update,
                "CRL checked"
            ),
            Err(e) => tracing::error!(error = ?e, "could not re-sign the CRL"),
        }
    }
    tracing::info!("CRL refresher stopped");
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

    #[test]
    fn r13_subject_preview_of_a_person_and_of_a_functional_mailbox() {
        let anna = Holder::Person {
            given_name: "Anna".into(),
            surname: "Schmidt, Jr.".into(),
        };
        assert_eq!(
            subject_preview(&anna, "anna@example.org", Some("Example Uni"), Some("DE")),
            "CN=Anna Schmidt\\, Jr.,SN=Schmidt\\, Jr.,givenName=Anna,O=Example Uni,C=DE"
        );
        assert_eq!(
            subject_preview(&anna, "anna@example.org", None, Some("DE")),
            "CN=Anna Schmidt\\, Jr.,SN=Schmidt\\, Jr.,givenName=Anna"
        );
        assert_eq!(
            subject_preview(&Holder::Mailbox, "helpdesk@example.org", Some("X"), None),
            "emailAddress=helpdesk@example.org"
        );
        let one_name = Holder::Person {
            given_name: String::new(),
            surname: "Madonna".into(),
        };
        assert_eq!(
            subject_preview(&one_name, "m@example.org", None, None),
            "CN=Madonna,SN=Madonna"
        );
    }

    #[test]
    fn q6_a_short_password_is_refused_without_repeating_it() {
        let e = check_password(&SecretString::from("sehr-kurz")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the password for the PKCS#12 file must have at least 10 characters"
        );
        assert!(!format!("{e:?}").contains("sehr-kurz"));
        // Characters, not bytes: ten umlauts are ten characters.
        assert!(check_password(&SecretString::from("ääääääääää")).is_ok());
        assert!(check_password(&SecretString::from("äääääääää")).is_err());
    }

    #[test]
    fn q9_a_pkcs12_password_over_1_kib_is_refused_without_repeating_it() {
        assert!(check_password(&SecretString::from("x".repeat(1024))).is_ok());
        let e = check_password(&SecretString::from("x".repeat(1025))).unwrap_err();
        assert!(matches!(e, CertificateError::PasswordTooLong { max: 1024 }));
        assert_eq!(
            e.to_string(),
            "the password for the PKCS#12 file may have at most 1024 bytes (1 KiB)"
        );
        // Bytes, not characters: 513 umlauts are 1026 bytes. The 200 KB of the probe too.
        assert!(check_password(&SecretString::from("ä".repeat(513))).is_err());
        let huge = "geheim".repeat(200_000 / 6);
        let e = check_password(&SecretString::from(huge)).unwrap_err();
        assert!(!format!("{e:?} {e}").contains("geheim"));
    }
}
