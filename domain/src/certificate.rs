//! The pure rules of requesting and revoking certificates (R13, R15).
//!
//! Key handling, signing and the CRL live elsewhere; this module only decides whether a
//! request or a revocation is allowed and what it may contain.

use crate::time::utc_date;
use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::address::EmailAddress;
use crate::shown;

const DAY: i64 = 24 * 60 * 60;

/// How long an issued certificate is valid, in whole days.
///
/// Default 365; never above 825 (S/MIME Baseline Requirements §6.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Validity {
    days: u32,
}

impl Validity {
    /// 365 days, the portal's default.
    pub const DEFAULT: Validity = Validity { days: 365 };
    /// The longest validity the S/MIME Baseline Requirements allow.
    pub const MAX_DAYS: u32 = 825;

    /// A validity of `days` days: at least 1, at most [`Validity::MAX_DAYS`].
    pub fn from_days(days: u32) -> Result<Validity, ValidityError> {
        match days {
            0 => Err(ValidityError::Zero),
            d if d > Validity::MAX_DAYS => Err(ValidityError::TooLong { days }),
            days => Ok(Validity { days }),
        }
    }

    /// The validity in days.
    pub fn days(self) -> u32 {
        self.days
    }

    /// The `notAfter` of a certificate valid from `not_before` (Unix seconds): one second short
    /// of `days` whole days, because RFC 5280 and the S/MIME BR count both ends inclusively — a
    /// certificate of exactly 825 × 86 400 s would be one second over the limit.
    pub fn not_after(self, not_before: i64) -> i64 {
        not_before.saturating_add(i64::from(self.days) * DAY - 1)
    }
}

impl Default for Validity {
    fn default() -> Self {
        Validity::DEFAULT
    }
}

/// A configured validity that is not allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ValidityError {
    /// Zero days.
    #[error("a certificate validity must be at least 1 day")]
    Zero,
    /// Above 825 days.
    #[error("a certificate validity of {days} days is longer than the 825 days the S/MIME Baseline Requirements (§6.3.2) allow")]
    TooLong {
        /// The refused value.
        days: u32,
    },
}

/// How long before a certificate expires its holder may request the next one (R13).
///
/// Default 28 days: long enough to renew without a gap, short enough that senders rarely meet
/// two valid certificates for one mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RenewalWindow {
    days: u32,
}

impl RenewalWindow {
    /// 28 days, the portal's default.
    pub const DEFAULT: RenewalWindow = RenewalWindow { days: 28 };

    /// A window of `days` days (0 means: only after expiry or revocation).
    pub fn from_days(days: u32) -> RenewalWindow {
        RenewalWindow { days }
    }

    /// The window in days.
    pub fn days(self) -> u32 {
        self.days
    }

    fn secs(self) -> i64 {
        i64::from(self.days) * DAY
    }
}

impl Default for RenewalWindow {
    fn default() -> Self {
        RenewalWindow::DEFAULT
    }
}

/// A certificate a user already holds for a row, as far as R13 and R15 need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExistingCert {
    /// Its `notAfter` (Unix seconds).
    pub not_after: i64,
    /// Whether it has been revoked.
    pub revoked: bool,
}

impl ExistingCert {
    /// Neither revoked nor expired at `now`.
    pub fn is_valid(&self, now: i64) -> bool {
        !self.revoked && now < self.not_after
    }
}

/// R13: a user holds at most one valid certificate per row. `existing` are the user's
/// certificates for this row; a new one may be requested only when each of them is revoked,
/// expired, or within `window` of its expiry (parallel certificates break encryption for
/// senders, who would pick either key).
pub fn may_request(
    existing: &[ExistingCert],
    now: i64,
    window: RenewalWindow,
) -> Result<(), RequestRefusal> {
    let blocking = existing
        .iter()
        .filter(|c| c.is_valid(now) && now < c.not_after.saturating_sub(window.secs()))
        .max_by_key(|c| c.not_after);
    match blocking {
        None => Ok(()),
        Some(cert) => Err(RequestRefusal::StillValid {
            not_after: cert.not_after,
            renewable_from: cert.not_after.saturating_sub(window.secs()),
        }),
    }
}

/// R13 (and R7): the addresses a certificate may contain. The row must be active, and the
/// user chooses at least one of the addresses linked to them; duplicates are dropped, the
/// order kept (it is the subjectAltName order).
pub fn choose_addresses(
    row_active: bool,
    linked_to_user: &[EmailAddress],
    chosen: &[EmailAddress],
) -> Result<Vec<EmailAddress>, RequestRefusal> {
    if !row_active {
        return Err(RequestRefusal::RowInactive);
    }
    if let Some(address) = chosen.iter().find(|a| !linked_to_user.contains(a)) {
        return Err(RequestRefusal::NotLinked {
            address: address.clone(),
        });
    }
    let mut addresses: Vec<EmailAddress> = Vec::with_capacity(chosen.len());
    for address in chosen {
        if !addresses.contains(address) {
            addresses.push(address.clone());
        }
    }
    if addresses.is_empty() {
        return Err(RequestRefusal::NoAddressChosen);
    }
    Ok(addresses)
}

/// The longest Common Name a certificate can hold (X.520 ub-common-name).
pub const MAX_COMMON_NAME_CHARS: usize = 64;

/// R13: the name a personal certificate's subject is made of, from the IdM's given name and
/// surname (trimmed); the Common Name is both, separated by a space. One of them may be empty
/// (some people have only one name); when both are, there is nothing to put into the Common
/// Name, and when together they are longer than a Common Name can be, it cannot hold them.
pub fn holder_name(given_name: &str, surname: &str) -> Result<(String, String), RequestRefusal> {
    let (given_name, surname) = (given_name.trim(), surname.trim());
    if given_name.is_empty() && surname.is_empty() {
        return Err(RequestRefusal::NoName);
    }
    let separator = usize::from(!given_name.is_empty() && !surname.is_empty());
    if given_name.chars().count() + separator + surname.chars().count() > MAX_COMMON_NAME_CHARS {
        return Err(RequestRefusal::NameTooLong);
    }
    Ok((given_name.to_owned(), surname.to_owned()))
}

/// Why a certificate cannot be requested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Error)]
pub enum RequestRefusal {
    /// A valid certificate exists that is not yet near its expiry.
    #[error("you already hold a valid certificate for this mailbox, valid until {}; a new one can be requested from {} on, or at once after revoking the current one", utc_date(*.not_after), utc_date(*.renewable_from))]
    StillValid {
        /// The blocking certificate's `notAfter` (Unix seconds).
        not_after: i64,
        /// From when a new one can be requested (Unix seconds).
        renewable_from: i64,
    },
    /// The row is deactivated (R7).
    #[error("this mailbox is deactivated; no certificate can be requested for it until it is reactivated")]
    RowInactive,
    /// Nothing chosen.
    #[error("choose at least one address for the certificate")]
    NoAddressChosen,
    /// A chosen address is not linked to the user.
    #[error("{address} is not linked to you; confirm a challenge for it first")]
    NotLinked {
        /// The address.
        address: EmailAddress,
    },
    /// R18: a new challenge round was sent for a chosen address after it was linked to the user;
    /// the link allows no request until a challenge of that round is confirmed.
    #[error("a new challenge was sent for {address}; confirm it (use the link in the new email) before requesting a certificate for this address")]
    LinkSuspended {
        /// The address.
        address: EmailAddress,
    },
    /// A personal certificate, but the IdM gives neither a given name nor a surname.
    #[error("your identity provider gives no name for you (given name and surname are both empty), and a personal certificate carries your name: ask your identity provider's administrators to add it, then log in again")]
    NoName,
    /// A personal certificate, but the IdM's name is longer than a Common Name can be.
    #[error("your name as your identity provider gives it is longer than the {MAX_COMMON_NAME_CHARS} characters a certificate's name can hold: ask your identity provider's administrators for a shorter form, then log in again")]
    NameTooLong,
}

/// Why a certificate is revoked (RFC 5280 §5.3.1 CRLReason, the subset the portal offers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RevocationReason {
    /// No reason given: the CRL entry carries no reason code at all (R15).
    Unspecified,
    /// The private key is or may be known to someone else.
    KeyCompromise,
    /// The holder left or the mailbox changed hands.
    AffiliationChanged,
    /// Replaced by a new certificate.
    Superseded,
    /// The mailbox is no longer used.
    CessationOfOperation,
    /// The holder may no longer use the certificate.
    PrivilegeWithdrawn,
}

impl RevocationReason {
    /// Every reason, in the order a form offers them.
    pub const ALL: [RevocationReason; 6] = [
        RevocationReason::Unspecified,
        RevocationReason::KeyCompromise,
        RevocationReason::AffiliationChanged,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
        RevocationReason::PrivilegeWithdrawn,
    ];

    /// The RFC 5280 `CRLReason` code, or `None` for [`RevocationReason::Unspecified`]:
    /// RFC 5280 says `unspecified` (0) should not be used, the extension is left out instead.
    pub fn rfc5280_code(self) -> Option<u8> {
        match self {
            RevocationReason::Unspecified => None,
            RevocationReason::KeyCompromise => Some(1),
            RevocationReason::AffiliationChanged => Some(3),
            RevocationReason::Superseded => Some(4),
            RevocationReason::CessationOfOperation => Some(5),
            RevocationReason::PrivilegeWithdrawn => Some(9),
        }
    }

    /// The RFC 5280 name (`keyCompromise`, …), also stored and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "keyCompromise",
            RevocationReason::AffiliationChanged => "affiliationChanged",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessationOfOperation",
            RevocationReason::PrivilegeWithdrawn => "privilegeWithdrawn",
        }
    }

    /// The reason as a person reads it.
    pub fn label(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "no reason given",
            RevocationReason::KeyCompromise => "key compromise",
            RevocationReason::AffiliationChanged => "affiliation changed",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessation of operation",
            RevocationReason::PrivilegeWithdrawn => "privilege withdrawn",
        }
    }

    /// Reads an RFC 5280 name (case-insensitive).
    pub fn parse(input: &str) -> Result<RevocationReason, UnknownRevocationReason> {
        let input = input.trim();
        RevocationReason::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(input))
            .ok_or_else(|| UnknownRevocationReason {
                input: shown(input),
            })
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// An unknown revocation reason.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("\"{input}\" is not a revocation reason: use keyCompromise, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn or unspecified")]
pub struct UnknownRevocationReason {
    /// The offending input.
    pub input: String,
}

/// The longest a CRL is valid: `nextUpdate` is at most 7 days after `thisUpdate` (R15).
pub const CRL_VALIDITY_SECS: i64 = 7 * DAY;

/// How old a CRL may get before it is signed again. R15 asks for at least daily; a refresher
/// that looks every hour re-signs a CRL between 23 and 24 hours old, never later.
pub const CRL_RESIGN_AFTER_SECS: i64 = DAY - 60 * 60;

/// R15: the `nextUpdate` of a CRL signed at `this_update`.
pub fn crl_next_update(this_update: i64) -> i64 {
    this_update.saturating_add(CRL_VALIDITY_SECS)
}

/// R15: whether the CRL signed at `this_update` must be signed again at `now` (it is due, or
/// the clock went back, which makes its times untrustworthy).
pub fn crl_is_due(this_update: i64, now: i64) -> bool {
    now < this_update || now - this_update >= CRL_RESIGN_AFTER_SECS
}

/// Who asks to revoke a certificate. Whoever is neither is refused by the caller's
/// authorisation before this matters (Q1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Revoker {
    /// The user who requested the certificate. A NAP revoking their own certificate is this.
    Owner,
    /// A NAP of the domain the certificate's row lies in.
    Nap,
    /// The portal itself because the IdM reported the owner gone (R22): like the owner, at any
    /// time, also on a row that stays active (a functional mailbox whose applicant left).
    Idm,
}

/// R15: whether `who` may revoke `cert` of a row that is (not) `row_active`, at `now`.
///
/// The owner may revoke their valid certificates at any time; a NAP only those of an inactive
/// row (deactivating first is the deliberate step that says "this person left"). Revoked or
/// expired certificates cannot be revoked again.
pub fn may_revoke(
    who: Revoker,
    row_active: bool,
    cert: &ExistingCert,
    now: i64,
) -> Result<(), RevokeRefusal> {
    if cert.revoked {
        return Err(RevokeRefusal::AlreadyRevoked);
    }
    if now >= cert.not_after {
        return Err(RevokeRefusal::Expired);
    }
    match who {
        Revoker::Owner | Revoker::Idm => Ok(()),
        Revoker::Nap if row_active => Err(RevokeRefusal::RowActive),
        Revoker::Nap => Ok(()),
    }
}

/// The shortest RSA key accepted in a certificate request (S/MIME BR §6.1.5).
pub const MIN_RSA_BITS: u32 = 2048;
/// The longest RSA key accepted.
pub const MAX_RSA_BITS: u32 = 8192;

/// Why an uploaded certificate request cannot be used; every message says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Error)]
pub enum CsrError {
    /// Neither a PEM nor a DER PKCS#10 request.
    #[error("this is not a certificate request (PKCS#10): paste the text from -----BEGIN CERTIFICATE REQUEST----- to -----END CERTIFICATE REQUEST-----, or upload the .csr file")]
    NotACsr,
    /// A private key was pasted instead of the request.
    #[error("this is a private key, not a certificate request: keep it secret (consider it exposed if you sent it anywhere) and paste the request (-----BEGIN CERTIFICATE REQUEST-----) instead")]
    PrivateKey,
    /// The self-signature does not verify: altered, damaged or made for another key.
    #[error("the request's signature does not match its key: the request was altered or damaged; make a new one")]
    BadSignature,
    /// Signed with an algorithm that cannot be checked (e.g. MD5, or SHA-1 with ECDSA).
    #[error("the request is signed with an algorithm the portal cannot check: make it again with SHA-256 (openssl req -sha256)")]
    UnsupportedSignature,
    /// RSA modulus shorter than 2048 bits.
    #[error("RSA keys must have at least {MIN_RSA_BITS} bits; this one has {bits}")]
    RsaTooShort {
        /// The key's length.
        bits: u32,
    },
    /// RSA modulus longer than 8192 bits.
    #[error("RSA keys may have at most {MAX_RSA_BITS} bits; this one has {bits}")]
    RsaTooLong {
        /// The key's length.
        bits: u32,
    },
    /// RSA modulus not a whole number of bytes (S/MIME BR §6.1.5).
    #[error("RSA key lengths must be a multiple of 8 bits; this one has {bits}")]
    RsaOddLength {
        /// The key's length.
        bits: u32,
    },
    /// RSA public exponent even or below 3 (S/MIME BR §6.1.6).
    #[error("the RSA key's public exponent must be an odd number of at least 3 (usually 65537)")]
    RsaExponent,
    /// An EC curve other than P-256 and P-384.
    #[error("EC curve {curve} is not accepted: use P-256 or P-384")]
    EcCurve {
        /// The curve's name or OID.
        curve: String,
    },
    /// An EC point that is not in the uncompressed form certificates use.
    #[error("the EC public key is not in uncompressed form: make the request again with OpenSSL's defaults")]
    EcPointFormat,
    /// Any other key type (Ed25519, DSA, …).
    #[error("{algorithm} keys are not accepted: use RSA (2048 to 8192 bits) or EC P-256 or P-384")]
    KeyAlgorithm {
        /// The algorithm's name or OID.
        algorithm: String,
    },
}

/// Why a certificate cannot be revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Error)]
pub enum RevokeRefusal {
    /// Revoked before.
    #[error("this certificate has already been revoked")]
    AlreadyRevoked,
    /// Past its `notAfter`; a CRL need not list it.
    #[error("this certificate has expired; it no longer needs revoking")]
    Expired,
    /// A NAP tried to revoke on an active row.
    #[error("a NAP may revoke certificates only of a deactivated row: deactivate the row first (the certificate's owner can revoke it at any time)")]
    RowActive,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::fixtures::addr;

    const NOW: i64 = 1_750_000_000; // 2025-06-15

    fn cert(not_after: i64, revoked: bool) -> ExistingCert {
        ExistingCert { not_after, revoked }
    }

    #[test]
    fn r13_second_valid_certificate_is_refused() {
        let valid = cert(NOW + 100 * DAY, false);
        let refusal = may_request(&[valid], NOW, RenewalWindow::DEFAULT).unwrap_err();
        assert_eq!(
            refusal,
            RequestRefusal::StillValid {
                not_after: NOW + 100 * DAY,
                renewable_from: NOW + 72 * DAY
            }
        );
        assert_eq!(
            refusal.to_string(),
            "you already hold a valid certificate for this mailbox, valid until 2025-09-23; a new one can be requested from 2025-08-26 on, or at once after revoking the current one"
        );
    }

    #[test]
    fn r13_new_certificate_may_be_requested_within_the_renewal_window() {
        let window = RenewalWindow::DEFAULT;
        assert!(may_request(&[cert(NOW + 28 * DAY, false)], NOW, window).is_ok());
        assert!(may_request(&[cert(NOW + 28 * DAY + 1, false)], NOW, window).is_err());
        assert!(may_request(
            &[cert(NOW + 10 * DAY, false)],
            NOW,
            RenewalWindow::from_days(5)
        )
        .is_err());
    }

    #[test]
    fn r13_new_certificate_may_be_requested_after_revocation_or_expiry() {
        let revoked = cert(NOW + 300 * DAY, true);
        let expired = cert(NOW, false);
        assert!(may_request(&[revoked, expired], NOW, RenewalWindow::DEFAULT).is_ok());
        assert!(may_request(&[], NOW, RenewalWindow::DEFAULT).is_ok());
    }

    #[test]
    fn r13_validity_defaults_to_365_days_and_never_exceeds_825() {
        assert_eq!(Validity::default().days(), 365);
        assert_eq!(Validity::from_days(825).map(Validity::days), Ok(825));
        assert_eq!(
            Validity::from_days(826),
            Err(ValidityError::TooLong { days: 826 })
        );
        assert_eq!(Validity::from_days(0), Err(ValidityError::Zero));
        assert_eq!(Validity::DEFAULT.not_after(NOW), NOW + 365 * DAY - 1);
    }

    #[test]
    fn r13_only_addresses_linked_to_the_user_may_be_chosen() {
        let linked = [addr("anna@example.org"), addr("a.s@example.org")];
        let chosen = [
            addr("a.s@example.org"),
            addr("anna@example.org"),
            addr("a.s@example.org"),
        ];
        assert_eq!(
            choose_addresses(true, &linked, &chosen),
            Ok(vec![addr("a.s@example.org"), addr("anna@example.org")])
        );
        assert_eq!(
            choose_addresses(true, &linked, &[addr("bert@example.org")]),
            Err(RequestRefusal::NotLinked {
                address: addr("bert@example.org")
            })
        );
        assert_eq!(
            choose_addresses(true, &linked, &[]),
            Err(RequestRefusal::NoAddressChosen)
        );
    }

    #[test]
    fn r07_no_certificate_request_for_an_inactive_row() {
        let linked = [addr("anna@example.org")];
        assert_eq!(
            choose_addresses(false, &linked, &linked),
            Err(RequestRefusal::RowInactive)
        );
    }

    #[test]
    fn r13_personal_certificate_needs_a_name_from_the_idm() {
        assert_eq!(
            holder_name(" Anna ", "Schmidt"),
            Ok(("Anna".to_owned(), "Schmidt".to_owned()))
        );
        assert_eq!(
            holder_name("", "Madonna"),
            Ok((String::new(), "Madonna".to_owned()))
        );
        let refusal = holder_name(" ", "").unwrap_err();
        assert_eq!(refusal, RequestRefusal::NoName);
        assert!(refusal
            .to_string()
            .starts_with("your identity provider gives no name"));
        let given = "A".repeat(31);
        let surname = "ß".repeat(32);
        assert!(holder_name(&given, &surname).is_ok(), "64 characters fit");
        assert_eq!(
            holder_name(&format!("{given}A"), &surname),
            Err(RequestRefusal::NameTooLong)
        );
        assert!(holder_name("", &"ß".repeat(64)).is_ok());
    }

    #[test]
    fn r15_crl_is_resigned_within_a_day_and_valid_for_at_most_seven() {
        assert_eq!(crl_next_update(NOW), NOW + 7 * DAY);
        assert!(!crl_is_due(NOW, NOW));
        assert!(!crl_is_due(NOW, NOW + 22 * 3600));
        assert!(crl_is_due(NOW, NOW + 23 * 3600));
        assert!(crl_is_due(NOW, NOW + 2 * DAY));
        // An hourly check of a CRL just short of due re-signs it before it is a day old.
        assert!(crl_is_due(NOW, NOW + 23 * 3600 - 1 + 3600));
        assert!(crl_is_due(NOW, NOW - 1), "a clock that went back re-signs");
    }

    #[test]
    fn r15_nap_may_revoke_only_on_an_inactive_row() {
        let valid = cert(NOW + DAY, false);
        assert_eq!(
            may_revoke(Revoker::Nap, true, &valid, NOW),
            Err(RevokeRefusal::RowActive)
        );
        assert_eq!(may_revoke(Revoker::Nap, false, &valid, NOW), Ok(()));
    }

    #[test]
    fn r15_owner_may_revoke_at_any_time() {
        let valid = cert(NOW + DAY, false);
        assert_eq!(may_revoke(Revoker::Owner, true, &valid, NOW), Ok(()));
        assert_eq!(may_revoke(Revoker::Owner, false, &valid, NOW), Ok(()));
        assert_eq!(may_revoke(Revoker::Idm, true, &valid, NOW), Ok(()));
    }

    #[test]
    fn r15_revoked_or_expired_certificates_cannot_be_revoked() {
        for who in [Revoker::Owner, Revoker::Nap, Revoker::Idm] {
            assert_eq!(
                may_revoke(who, false, &cert(NOW + DAY, true), NOW),
                Err(RevokeRefusal::AlreadyRevoked)
            );
            assert_eq!(
                may_revoke(who, false, &cert(NOW, false), NOW),
                Err(RevokeRefusal::Expired)
            );
        }
    }

    #[test]
    fn r15_unspecified_reason_leaves_the_code_out() {
        assert_eq!(RevocationReason::Unspecified.rfc5280_code(), None);
    }

    #[test]
    fn r15_reason_codes_and_names_match_rfc5280() {
        let codes: Vec<(&str, Option<u8>)> = RevocationReason::ALL
            .iter()
            .map(|r| (r.as_str(), r.rfc5280_code()))
            .collect();
        assert_eq!(
            codes,
            [
                ("unspecified", None),
                ("keyCompromise", Some(1)),
                ("affiliationChanged", Some(3)),
                ("superseded", Some(4)),
                ("cessationOfOperation", Some(5)),
                ("privilegeWithdrawn", Some(9)),
            ]
        );
        for r in RevocationReason::ALL {
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
            assert_eq!(RevocationReason::parse(r.as_str()), Ok(r));
        }
        assert_eq!(
            RevocationReason::parse("KEYCOMPROMISE"),
            Ok(RevocationReason::KeyCompromise)
        );
        assert!(RevocationReason::parse("removeFromCRL").is_err());
    }

    #[test]
    fn dates_in_messages_are_utc_calendar_dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(-DAY), "1969-12-31");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(NOW), "2025-06-15");
    }
}
