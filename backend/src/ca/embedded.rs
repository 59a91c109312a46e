//! The embedded default CA (SPEC §5): one issuing key and self-signed certificate that the portal
//! creates in `<data_dir>/ca/` on first start (or loads from configured PEM files), and the
//! certificate profile of the CA/Browser Forum S/MIME Baseline Requirements (multipurpose
//! generation) it signs with.
//!
//! rcgen writes and signs the certificates and CRLs; only the two extensions it has no type for
//! (certificatePolicies, authorityInformationAccess) are encoded here, with yasna.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use domain::address::EmailAddress;
use domain::time::utc_date;
use rcgen::string::Ia5String;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    CustomExtension, DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams, SanType,
    SerialNumber,
};
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::pem::Pem;
use zeroize::Zeroizing;

use super::{
    CaError, CaFuture, CertificateAuthority, CrlRequest, Holder, IssueRequest, IssuedCertificate,
    KeyAlgorithm, CA_CERTIFICATE_PATH, CRL_PATH,
};
use crate::config::CaConfig;
use crate::private_files::{ensure_private_dir, tighten, PRIVATE_FILE_MODE};

const DAY: i64 = 24 * 60 * 60;
/// A CA the portal creates is valid for ten years: long enough to outlive many 825-day
/// certificates, short enough that its key is replaced within a hardware generation.
const OWN_CA_VALIDITY: i64 = 3653 * DAY;
/// S/MIME BR §6.3.2: no subscriber certificate is valid for longer than 825 days, counted from
/// notBefore through notAfter inclusive (RFC 5280 §4.1.2.5), so notAfter is at most
/// notBefore + 825 days − 1 second.
const MAX_CERTIFICATE_VALIDITY: i64 = 825 * DAY;
/// S/MIME BR §4.9.7: a CRL's nextUpdate is at most ten days after its thisUpdate.
const MAX_CRL_VALIDITY: i64 = 10 * DAY;
/// X.520 ub-common-name: a longer name does not fit a certificate's CN.
const MAX_COMMON_NAME_CHARS: usize = 64;

/// The files of a CA the portal created itself, in `<data_dir>/ca/`.
const OWN_CERTIFICATE_FILE: &str = "ca.crt";
const OWN_KEY_FILE: &str = "ca.key";

mod oid {
    pub const GIVEN_NAME: &[u64] = &[2, 5, 4, 42];
    pub const SURNAME: &[u64] = &[2, 5, 4, 4];
    pub const EMAIL_ADDRESS: &[u64] = &[1, 2, 840, 113549, 1, 9, 1];
    pub const ORGANIZATION_IDENTIFIER: &[u64] = &[2, 5, 4, 97];
    pub const SUBJECT_KEY_IDENTIFIER: &[u64] = &[2, 5, 29, 14];
    pub const CERTIFICATE_POLICIES: &[u64] = &[2, 5, 29, 32];
    pub const AUTHORITY_INFO_ACCESS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
    pub const CA_ISSUERS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 2];
    /// S/MIME BR §7.1.6.1 reserved policy identifiers, multipurpose generation: mailbox-,
    /// sponsor- and individual-validated.
    pub const MAILBOX_MULTIPURPOSE: &[u64] = &[2, 23, 140, 1, 5, 1, 2];
    pub const SPONSOR_MULTIPURPOSE: &[u64] = &[2, 23, 140, 1, 5, 3, 2];
    pub const INDIVIDUAL_MULTIPURPOSE: &[u64] = &[2, 23, 140, 1, 5, 4, 2];
}

/// The embedded default [`CertificateAuthority`]: signs in-process with a key the portal holds.
pub struct EmbeddedCa {
    issuer: Issuer<'static, KeyPair>,
    /// The issuing certificate, then the rest of a configured chain; DER.
    chain: Vec<Vec<u8>>,
    /// The issuing certificate's subjectKeyIdentifier, which every authorityKeyIdentifier repeats.
    key_id: Vec<u8>,
    /// The issuing certificate's subject, for logs.
    subject: String,
    /// The issuing certificate's notAfter: nothing is signed to outlive it.
    not_after: i64,
    /// The sponsor of personal certificates, when configured.
    organization: Option<Organization>,
    crl_url: String,
    ca_issuers_url: String,
}

impl fmt::Debug for EmbeddedCa {
    // The signing key stays out of every log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedCa")
            .field("subject", &self.subject)
            .field("not_after", &utc_date(self.not_after))
            .field("crl_url", &self.crl_url)
            .finish_non_exhaustive()
    }
}

impl EmbeddedCa {
    /// Opens the CA: loads `config.certificate_file` and `config.key_file` when set, otherwise the
    /// portal's own CA from `<data_dir>/ca/`, creating it on first start. The CRL and CA
    /// certificate URLs written into every certificate are [`CaConfig::publication_url`], by
    /// default the portal's `base_url` with `http://`.
    pub fn open(config: &CaConfig, data_dir: &Path, base_url: &str) -> anyhow::Result<EmbeddedCa> {
        let base_url = config.publication_url(base_url);
        let base_url = base_url.as_str();
        let ca = match (&config.certificate_file, &config.key_file) {
            (Some(cert_file), Some(key_file)) => {
                let chain_pem = read_text(cert_file)?;
                let key_pem = Zeroizing::new(read_text(key_file)?);
                EmbeddedCa::from_pem(&chain_pem, &key_pem, config, base_url).with_context(|| {
                    format!(
                        "the configured CA ({} and {})",
                        cert_file.display(),
                        key_file.display()
                    )
                })?
            }
            (None, None) => {
                let dir = data_dir.join("ca");
                let (chain_pem, key_pem) = own_ca_files(&dir, config)?;
                EmbeddedCa::from_pem(&chain_pem, &key_pem, config, base_url)
                    .with_context(|| format!("the portal's own CA in {}", dir.display()))?
            }
            _ => bail!("ca.certificate_file and ca.key_file go together: set both or neither"),
        };
        tracing::info!(subject = %ca.subject, not_after = %utc_date(ca.not_after), "certification authority ready");
        Ok(ca)
    }

    fn from_pem(
        chain_pem: &str,
        key_pem: &str,
        config: &CaConfig,
        base_url: &str,
    ) -> anyhow::Result<EmbeddedCa> {
        let chain = Pem::iter_from_buffer(chain_pem.as_bytes())
            .filter_map(|pem| match pem {
                Ok(pem) if pem.label == "CERTIFICATE" => Some(Ok(pem.contents)),
                Ok(_) => None,
                Err(e) => Some(Err(anyhow!("the certificate file is not valid PEM: {e}"))),
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let Some(ca_der) = chain.first() else {
            bail!("no certificate (-----BEGIN CERTIFICATE-----) in the certificate file");
        };
        let key = KeyPair::from_pem(key_pem).map_err(|e| {
            anyhow!("the key file is not a PKCS#8 private key (-----BEGIN PRIVATE KEY-----) of RSA or ECDSA P-256/P-384: {e}")
        })?;
        let (_, cert) = x509_parser::parse_x509_certificate(ca_der)
            .map_err(|e| anyhow!("the CA certificate cannot be read: {e}"))?;
        let key_id = check_issuing_certificate(&cert, &key)?;
        let subject = cert.subject().to_string();
        let not_after = cert.validity().not_after.timestamp();
        let issuer = Issuer::from_ca_cert_der(&ca_der.as_slice().into(), key)
            .map_err(|e| anyhow!("the CA certificate cannot be used for signing: {e}"))?;
        Ok(EmbeddedCa {
            issuer,
            chain,
            key_id,
            subject,
            not_after,
            organization: Organization::from_config(config),
            crl_url: format!("{base_url}{CRL_PATH}"),
            ca_issuers_url: format!("{base_url}{CA_CERTIFICATE_PATH}"),
        })
    }

    fn issue_now(&self, request: &IssueRequest) -> Result<IssuedCertificate, CaError> {
        let Some(first_address) = request.addresses.first() else {
            return Err(CaError::Refused(
                "a certificate needs at least one email address".into(),
            ));
        };
        self.check_validity(request.not_before, request.not_after)?;
        let subject = Subject::of(&request.holder, first_address, self.organization.as_ref())?;
        let serial = random_serial()?;

        let mut params = CertificateParams::default();
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        params.not_before = datetime(request.not_before)?;
        params.not_after = datetime(request.not_after)?;
        params.distinguished_name = subject.name;
        params.subject_alt_names = request
            .addresses
            .iter()
            .map(rfc822_name)
            .collect::<Result<_, _>>()?;
        // R13 and S/MIME BR §7.1.2.3(e): signing plus the key's way of taking part in encryption.
        params.key_usages = match request.key.algorithm {
            KeyAlgorithm::Rsa { .. } => vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ],
            KeyAlgorithm::EcP256 | KeyAlgorithm::EcP384 => vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyAgreement,
            ],
        };
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::EmailProtection];
        params.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec![self.crl_url.clone()],
        }];
        let key = subject_public_key(request)?;
        params.custom_extensions = vec![
            certificate_policies(subject.policy),
            authority_information_access(&self.ca_issuers_url),
            // RFC 5280 §4.2.1.2 wants it in end-entity certificates too (rcgen writes it only
            // for CAs, together with basicConstraints).
            subject_key_identifier(&key_identifier(&key)),
        ];
        params.use_authority_key_identifier_extension = true;
        params.is_ca = IsCa::NoCa;

        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| CaError::Failed(format!("signing the certificate failed: {e}")))?;
        Ok(IssuedCertificate {
            der: cert.der().to_vec(),
            serial: serial_hex(&serial),
            subject: subject.text,
            not_before: request.not_before,
            not_after: request.not_after,
        })
    }

    fn check_validity(&self, not_before: i64, not_after: i64) -> Result<(), CaError> {
        if not_after <= not_before {
            return Err(CaError::Refused(
                "a certificate's notAfter must lie after its notBefore".into(),
            ));
        }
        if not_after - not_before + 1 > MAX_CERTIFICATE_VALIDITY {
            return Err(CaError::Refused(format!(
                "a certificate may be valid for at most 825 days including its last second \
                 (S/MIME BR §6.3.2: notAfter at most notBefore + 825 days - 1 s), not {} days and \
                 {} s",
                (not_after - not_before + 1) / DAY,
                (not_after - not_before + 1) % DAY
            )));
        }
        if not_after > self.not_after {
            return Err(CaError::Refused(format!(
                "the CA certificate expires on {}, before this certificate would ({}): renew the CA",
                utc_date(self.not_after),
                utc_date(not_after)
            )));
        }
        Ok(())
    }

    fn sign_crl_now(&self, request: &CrlRequest) -> Result<Vec<u8>, CaError> {
        if request.next_update <= request.this_update
            || request.next_update - request.this_update > MAX_CRL_VALIDITY
        {
            return Err(CaError::Refused(
                "a CRL's nextUpdate must lie after its thisUpdate, by at most 10 days (S/MIME BR §4.9.7)"
                    .into(),
            ));
        }
        let revoked_certs = request
            .entries
            .iter()
            .map(|entry| {
                Ok(RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&serial_from_hex(&entry.serial)?),
                    revocation_time: datetime(entry.revoked_at)?,
                    // R15: `unspecified` leaves the reasonCode out altogether.
                    reason_code: entry.reason.rfc5280_code().map(rcgen_reason).transpose()?,
                    invalidity_date: None,
                })
            })
            .collect::<Result<Vec<_>, CaError>>()?;
        let params = CertificateRevocationListParams {
            this_update: datetime(request.this_update)?,
            next_update: datetime(request.next_update)?,
            crl_number: SerialNumber::from_slice(&request.number.to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs,
            // The issuing certificate's own identifier, however it was computed (a configured CA
            // may use the SHA-1 method), so that relying parties match the CRL to it.
            key_identifier_method: KeyIdMethod::PreSpecified(self.key_id.clone()),
        };
        let crl = params
            .signed_by(&self.issuer)
            .map_err(|e| CaError::Failed(format!("signing the CRL failed: {e}")))?;
        Ok(crl.der().to_vec())
    }
}

impl CertificateAuthority for EmbeddedCa {
    fn chain_der(&self) -> Vec<Vec<u8>> {
        self.chain.clone()
    }

    // Signing with the CA's ECDSA key takes about a millisecond: done on the calling task.
    fn issue<'a>(&'a self, request: &'a IssueRequest) -> CaFuture<'a, IssuedCertificate> {
        Box::pin(std::future::ready(self.issue_now(request)))
    }

    fn sign_crl<'a>(&'a self, request: &'a CrlRequest) -> CaFuture<'a, Vec<u8>> {
        Box::pin(std::future::ready(self.sign_crl_now(request)))
    }
}

/// The organisation that sponsors personal certificates (S/MIME BR §7.1.4.2.2: sponsor-validated
/// subjects carry its name and registration identifier).
struct Organization {
    name: String,
    identifier: String,
    country: Option<String>,
}

impl Organization {
    fn from_config(config: &CaConfig) -> Option<Organization> {
        Some(Organization {
            name: config.organization.clone()?,
            identifier: config.organization_identifier.clone()?,
            country: config.country.clone(),
        })
    }
}

/// A certificate's subject and the policy its content makes it fall under (R13, S/MIME BR
/// §7.1.4.2 and §7.1.6.1).
struct Subject {
    name: DistinguishedName,
    /// RFC 4514 text, most specific attribute first.
    text: String,
    policy: &'static [u64],
}

impl Subject {
    fn of(
        holder: &Holder,
        first_address: &EmailAddress,
        organization: Option<&Organization>,
    ) -> Result<Subject, CaError> {
        let mut attributes: Vec<(DnType, DnValue, &str)> = Vec::new();
        let policy = match holder {
            Holder::Person {
                given_name,
                surname,
            } => {
                let (given_name, surname) = (given_name.trim(), surname.trim());
                let common_name = [given_name, surname]
                    .into_iter()
                    .filter(|part| !part.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                if common_name.is_empty() {
                    return Err(CaError::Refused(
                        "a personal certificate needs the holder's name, but the IdM gave neither a given name nor a surname".into(),
                    ));
                }
                if common_name.chars().count() > MAX_COMMON_NAME_CHARS {
                    return Err(CaError::Refused(format!(
                        "the name {common_name:?} is longer than the {MAX_COMMON_NAME_CHARS} characters a certificate's common name may hold"
                    )));
                }
                // The country is the organisation's: without an organisation it would claim a
                // country of the person that nobody verified.
                if let Some(organization) = organization {
                    if let Some(country) = &organization.country {
                        attributes.push((DnType::CountryName, printable(country)?, "C"));
                    }
                    attributes.push((
                        DnType::OrganizationName,
                        organization.name.as_str().into(),
                        "O",
                    ));
                    attributes.push((
                        custom(oid::ORGANIZATION_IDENTIFIER),
                        printable(&organization.identifier)?,
                        "organizationIdentifier",
                    ));
                }
                if !given_name.is_empty() {
                    attributes.push((custom(oid::GIVEN_NAME), given_name.into(), "givenName"));
                }
                if !surname.is_empty() {
                    attributes.push((custom(oid::SURNAME), surname.into(), "SN"));
                }
                attributes.push((DnType::CommonName, common_name.into(), "CN"));
                if organization.is_some() {
                    oid::SPONSOR_MULTIPURPOSE
                } else {
                    oid::INDIVIDUAL_MULTIPURPOSE
                }
            }
            Holder::Mailbox => {
                let email = Ia5String::try_from(first_address.as_str()).map_err(|_| {
                    CaError::Refused(format!("{first_address} is not an ASCII address"))
                })?;
                attributes.push((
                    custom(oid::EMAIL_ADDRESS),
                    DnValue::Ia5String(email),
                    "emailAddress",
                ));
                oid::MAILBOX_MULTIPURPOSE
            }
        };
        let text = attributes
            .iter()
            .rev()
            .map(|(_, value, label)| format!("{label}={}", escape_rfc4514(&dn_value_text(value))))
            .collect::<Vec<_>>()
            .join(",");
        let mut name = DistinguishedName::new();
        for (ty, value, _) in attributes {
            name.push(ty, value);
        }
        Ok(Subject { name, text, policy })
    }
}

fn custom(oid: &[u64]) -> DnType {
    DnType::CustomDnType(oid.to_vec())
}

fn printable(text: &str) -> Result<DnValue, CaError> {
    rcgen::string::PrintableString::try_from(text)
        .map(DnValue::PrintableString)
        .map_err(|_| CaError::Refused(format!("{text:?} is not a PrintableString")))
}

fn dn_value_text(value: &DnValue) -> String {
    match value {
        DnValue::Utf8String(s) => s.clone(),
        DnValue::PrintableString(s) => s.as_str().to_owned(),
        DnValue::Ia5String(s) => s.as_str().to_owned(),
        other => format!("{other:?}"),
    }
}

/// Escapes an attribute value for an RFC 4514 string (§2.4).
pub(crate) fn escape_rfc4514(value: &str) -> String {
    let last = value.chars().count().saturating_sub(1);
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if c == '\0' {
            out.push_str("\\00");
        } else {
            if special {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

fn rfc822_name(address: &EmailAddress) -> Result<SanType, CaError> {
    Ia5String::try_from(address.as_str())
        .map(SanType::Rfc822Name)
        .map_err(|_| CaError::Refused(format!("{address} is not an ASCII address")))
}

/// certificatePolicies with the one reserved S/MIME policy identifier (S/MIME BR §7.1.2.3(a):
/// present, not critical, no qualifiers needed).
fn certificate_policies(policy: &[u64]) -> CustomExtension {
    let content = yasna::construct_der(|writer| {
        writer.write_sequence(|writer| {
            writer.next().write_sequence(|writer| {
                writer
                    .next()
                    .write_oid(&yasna::models::ObjectIdentifier::from_slice(policy));
            });
        });
    });
    CustomExtension::from_oid_content(oid::CERTIFICATE_POLICIES, content)
}

/// RFC 7093 §2 method 1: the leftmost 160 bits of the SHA-256 hash of the subjectPublicKey bits.
/// (rcgen's own method hashes the whole SubjectPublicKeyInfo, which linters do not recognise.)
fn key_identifier(key: &impl rcgen::PublicKeyData) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(key.der_bytes())[..20].to_vec()
}

/// subjectKeyIdentifier ::= KeyIdentifier (OCTET STRING).
fn subject_key_identifier(key_id: &[u8]) -> CustomExtension {
    let content = yasna::construct_der(|writer| writer.write_bytes(key_id));
    CustomExtension::from_oid_content(oid::SUBJECT_KEY_IDENTIFIER, content)
}

/// authorityInformationAccess with the URL of the issuing certificate (S/MIME BR §7.1.2.3(c)), so
/// that a mail client missing the CA certificate can fetch it. There is no OCSP responder: the
/// CRL is the revocation service (R15).
fn authority_information_access(ca_issuers_url: &str) -> CustomExtension {
    let content = yasna::construct_der(|writer| {
        writer.write_sequence(|writer| {
            writer.next().write_sequence(|writer| {
                writer
                    .next()
                    .write_oid(&yasna::models::ObjectIdentifier::from_slice(
                        oid::CA_ISSUERS,
                    ));
                // accessLocation GeneralName: uniformResourceIdentifier [6] IA5String.
                writer
                    .next()
                    .write_tagged_implicit(yasna::Tag::context(6), |writer| {
                        writer.write_ia5_string(ca_issuers_url)
                    });
            });
        });
    });
    CustomExtension::from_oid_content(oid::AUTHORITY_INFO_ACCESS, content)
}

/// The request's key in rcgen's terms, checked against the algorithm it claims (which decides
/// keyUsage).
fn subject_public_key(request: &IssueRequest) -> Result<rcgen::SubjectPublicKeyInfo, CaError> {
    use rcgen::PublicKeyData;
    let key = rcgen::SubjectPublicKeyInfo::from_der(&request.key.spki_der)
        .map_err(|e| CaError::Refused(format!("the public key cannot be read: {e}")))?;
    let algorithm = key.algorithm();
    let matches = match request.key.algorithm {
        KeyAlgorithm::Rsa { .. } => [
            &rcgen::PKCS_RSA_SHA256,
            &rcgen::PKCS_RSA_SHA384,
            &rcgen::PKCS_RSA_SHA512,
        ]
        .contains(&algorithm),
        KeyAlgorithm::EcP256 => algorithm == &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyAlgorithm::EcP384 => algorithm == &rcgen::PKCS_ECDSA_P384_SHA384,
    };
    if !matches {
        return Err(CaError::Refused(format!(
            "the public key is not the {} key the request says it is",
            request.key.algorithm
        )));
    }
    Ok(key)
}

fn rcgen_reason(code: u8) -> Result<RevocationReason, CaError> {
    Ok(match code {
        1 => RevocationReason::KeyCompromise,
        3 => RevocationReason::AffiliationChanged,
        4 => RevocationReason::Superseded,
        5 => RevocationReason::CessationOfOperation,
        9 => RevocationReason::PrivilegeWithdrawn,
        other => {
            return Err(CaError::Refused(format!(
                "revocation reason code {other} is not one the portal uses"
            )))
        }
    })
}

fn datetime(secs: i64) -> Result<OffsetDateTime, CaError> {
    OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|_| CaError::Refused(format!("{secs} is not a time a certificate can hold")))
}

/// A positive 16-byte serial number with 126 random bits (S/MIME BR §7.1: at least 64 bits from
/// a CSPRNG; RFC 5280: at most 20 bytes). The top bits are fixed to `01` so the DER INTEGER is
/// always 16 bytes long and its hex form has no leading zero.
fn random_serial() -> Result<[u8; 16], CaError> {
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial)
        .map_err(|e| CaError::Failed(format!("the system random generator failed: {e}")))?;
    serial[0] = (serial[0] & 0x3f) | 0x40;
    Ok(serial)
}

/// The serial as [`IssuedCertificate::serial`] spells it: lower-case hex, no leading zeros.
fn serial_hex(serial: &[u8]) -> String {
    let hex: String = serial.iter().map(|b| format!("{b:02x}")).collect();
    match hex.trim_start_matches('0') {
        "" => "0".into(),
        trimmed => trimmed.into(),
    }
}

fn serial_from_hex(hex: &str) -> Result<Vec<u8>, CaError> {
    let refuse = || CaError::Refused(format!("{hex:?} is not a certificate serial number"));
    if hex.is_empty() || hex.len() > 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(refuse());
    }
    let padded = if hex.len() % 2 == 1 {
        format!("0{hex}")
    } else {
        hex.to_owned()
    };
    (0..padded.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&padded[i..i + 2], 16).map_err(|_| refuse()))
        .collect()
}

/// Checks that a CA certificate can issue S/MIME certificates with `key`, and returns its
/// subjectKeyIdentifier.
fn check_issuing_certificate(cert: &X509Certificate<'_>, key: &KeyPair) -> anyhow::Result<Vec<u8>> {
    let is_ca = cert
        .basic_constraints()
        .ok()
        .flatten()
        .is_some_and(|bc| bc.value.ca);
    if !is_ca {
        bail!("the certificate is not a CA certificate (basicConstraints cA is not true)");
    }
    if let Ok(Some(usage)) = cert.key_usage() {
        if !usage.value.key_cert_sign() || !usage.value.crl_sign() {
            bail!("the CA certificate's keyUsage does not allow signing certificates and CRLs (keyCertSign, cRLSign)");
        }
    }
    if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        bail!("the key does not belong to the CA certificate");
    }
    cert.iter_extensions()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        })
        .context("the CA certificate has no subjectKeyIdentifier, which issued certificates must refer to")
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The PEM texts of the portal's own CA in `dir`, made on first start.
///
/// The key is written first: a start interrupted before the certificate was written leaves a key
/// that has signed nothing, so the next start makes the certificate for it. A certificate
/// without its key is never replaced, because certificates issued under it may exist.
fn own_ca_files(dir: &Path, config: &CaConfig) -> anyhow::Result<(String, Zeroizing<String>)> {
    let cert_path = dir.join(OWN_CERTIFICATE_FILE);
    let key_path = dir.join(OWN_KEY_FILE);
    // Made by an older version with wider permissions: only the portal's user reads them (Q8).
    if dir.exists() {
        for path in [dir, key_path.as_path(), cert_path.as_path()] {
            tighten(path).with_context(|| format!("cannot make {} private", path.display()))?;
        }
    }
    let key_pem = if key_path.exists() {
        Zeroizing::new(read_text(&key_path)?)
    } else {
        if cert_path.exists() {
            bail!(
                "{} exists but its key {} does not: restore the key from a backup (a new CA would \
                 leave every issued certificate unverifiable)",
                cert_path.display(),
                key_path.display()
            );
        }
        create_private_dir(dir)?;
        // ECDSA P-384 (S/MIME BR §6.1.5): ring generates it natively (it cannot generate RSA
        // keys), signatures and CRLs stay small, and signing takes about a millisecond. The CA key
        // never leaves the server, so only verification matters for clients, and every current
        // S/MIME client verifies ECDSA chains.
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)
            .map_err(|e| anyhow!("generating the CA key failed: {e}"))?;
        let pem = Zeroizing::new(key.serialize_pem());
        write_atomically(&key_path, pem.as_bytes(), PRIVATE_FILE_MODE)?;
        pem
    };
    let cert_pem = if cert_path.exists() {
        read_text(&cert_path)?
    } else {
        let key = KeyPair::from_pem(&key_pem)
            .map_err(|e| anyhow!("{} cannot be read: {e}", key_path.display()))?;
        let pem = own_ca_certificate(&key, config)?;
        // 0600 like every file of the data folder (Q8); the certificate is public at /pki/ca.crt.
        write_atomically(&cert_path, pem.as_bytes(), PRIVATE_FILE_MODE)?;
        tracing::info!(path = %cert_path.display(), "created the portal's own CA certificate");
        pem
    };
    Ok((cert_pem, key_pem))
}

/// A self-signed CA certificate for `key` (S/MIME BR §7.1.2.1): basicConstraints cA (critical),
/// keyUsage keyCertSign + cRLSign (critical), subjectKeyIdentifier, ten years.
fn own_ca_certificate(key: &KeyPair, config: &CaConfig) -> anyhow::Result<String> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let mut name = DistinguishedName::new();
    if let Some(country) = &config.country {
        name.push(DnType::CountryName, printable(country)?);
    }
    if let Some(organization) = &config.organization {
        name.push(DnType::OrganizationName, organization.as_str());
    }
    name.push(DnType::CommonName, config.common_name.as_str());
    let mut params = CertificateParams::default();
    params.distinguished_name = name;
    params.serial_number = Some(SerialNumber::from_slice(&random_serial()?));
    params.not_before = datetime(now)?;
    params.not_after = datetime(now + OWN_CA_VALIDITY)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.use_authority_key_identifier_extension = true;
    params.key_identifier_method = KeyIdMethod::PreSpecified(key_identifier(key));
    let cert = params
        .self_signed(key)
        .map_err(|e| anyhow!("signing the CA certificate failed: {e}"))?;
    Ok(cert.pem())
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    ensure_private_dir(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// Writes `contents` to `path` so that a crash leaves either the old file or the whole new one:
/// a temporary file with the final permissions, flushed to disk, then renamed.
fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let file_name = path
        .file_name()
        .context("a file path has no file name")?
        .to_string_lossy();
    let tmp = path.with_file_name(format!("{file_name}.tmp"));
    let context = || format!("cannot write {}", path.display());
    // A leftover of an interrupted start; its content was never used.
    let _ = fs::remove_file(&tmp);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&tmp).with_context(context)?;
    file.write_all(contents).with_context(context)?;
    file.sync_all().with_context(context)?;
    drop(file);
    fs::rename(&tmp, path).with_context(context)?;
    if let Some(dir) = path.parent() {
        // Makes the rename itself durable.
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(context)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_16_positive_bytes_and_round_trip_through_hex() {
        let serial = random_serial().unwrap();
        assert_eq!(serial[0] & 0xc0, 0x40);
        let hex = serial_hex(&serial);
        assert_eq!(hex.len(), 32);
        assert_eq!(serial_from_hex(&hex).unwrap(), serial);
        assert_eq!(serial_from_hex("abc").unwrap(), vec![0x0a, 0xbc]);
        assert!(serial_from_hex("xyz").is_err());
        assert_eq!(serial_hex(&[0, 0x0f]), "f");
    }

    #[test]
    fn rfc4514_escapes_specials() {
        assert_eq!(escape_rfc4514("Müller, Anna"), "Müller\\, Anna");
        assert_eq!(escape_rfc4514("#a b "), "\\#a b\\ ");
        assert_eq!(escape_rfc4514("a+b=c"), "a\\+b=c");
    }
}
