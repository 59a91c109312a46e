//! Requesting a certificate (R13, R14): the checks, the key, the signing and the record.

use domain::address::EmailAddress;
use domain::certificate::{
    choose_addresses, holder_name, may_request, ExistingCert, RenewalWindow, RequestRefusal,
};
use domain::handover::{first_suspended, ValidationEvidence};
use domain::mailbox::MailboxType;
use domain::message::Message;
use serde_json::json;

use super::read::{mailbox_type_of, view_of};
use super::{
    CertificateRequest, Issued, KeyChoice, KeySource, ServiceError, MAX_PKCS12_PASSWORD_BYTES,
    MIN_PKCS12_PASSWORD_CHARS,
};
use crate::ca::csr::parse_csr;
use crate::ca::server_key::{pkcs12, ServerKey};
use crate::ca::{Holder, IssueRequest, PublicKey};
use crate::clock;
use crate::idm_bar::check_not_barred;
use crate::portal::Portal;
use crate::roles::Viewer;
use crate::secret::{ExposeSecret, SecretString};
use crate::storage::audit::{insert_audit_record, AuditKind, NewAuditRecord};
use crate::storage::certificates::{self as store, CertificateRowRecord, NewCertificate};
use crate::storage::confirmations::list_link_evidence;
use crate::storage::users::find_user;
use crate::storage::Conn;

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
) -> Result<CheckedRequest, ServiceError> {
    // R22: a session that outlived the IdM's deactivation (or began through a path that missed
    // it) gets nothing.
    check_not_barred::<ServiceError>(conn, user_id).await?;
    let row = store::find_certificate_row(conn, row_id)
        .await?
        .ok_or(ServiceError::Invalid(Message::NotLinkedToRow))?;
    let mut linked = Vec::new();
    let mut suspended = Vec::new();
    for (address, is_suspended) in
        store::list_linked_addresses_of_row(conn, user_id, row_id).await?
    {
        let address = EmailAddress::parse(&address)
            .map_err(|e| ServiceError::corrupt(format!("linked address: {e}")))?;
        if is_suspended {
            suspended.push(address);
        } else {
            linked.push(address);
        }
    }
    if linked.is_empty() && suspended.is_empty() {
        return Err(ServiceError::Invalid(Message::NotLinkedToRow));
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

fn check_password(password: &SecretString) -> Result<(), ServiceError> {
    // The upper bound first and in bytes: it is what the request and the hashing cost.
    if password.expose_secret().len() > MAX_PKCS12_PASSWORD_BYTES {
        return Err(ServiceError::Invalid(Message::PasswordTooLong {
            max: MAX_PKCS12_PASSWORD_BYTES,
        }));
    }
    if password.expose_secret().chars().count() < MIN_PKCS12_PASSWORD_CHARS {
        return Err(ServiceError::Invalid(Message::PasswordTooShort {
            min: MIN_PKCS12_PASSWORD_CHARS,
        }));
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
) -> Result<Issued, ServiceError> {
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
    let window = portal.config.ca.renewal_window();
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
                .map_err(ServiceError::internal)??;
            (server_key.public_key(), Some((server_key, password)))
        }
    };
    let key_source = if server_key.is_some() {
        KeySource::Server
    } else {
        KeySource::Csr
    };

    let now = clock::now();
    let mut tx = portal.pool.begin_write().await?;
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
    let addresses_json = serde_json::to_string(&addresses).map_err(ServiceError::internal)?;
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
            .map_err(ServiceError::internal)??;
            Some(file)
        }
        None => None,
    };
    let record = store::find_certificate(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound(Message::NoSuchCertificate))?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(matches!(
            e,
            ServiceError::Invalid(Message::PasswordTooLong { max: 1024 })
        ));
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
