//! Revoking certificates (R15): by their owner, by a NAP one by one or for whole rows, and by
//! the portal for the handover and the IdM's deprovisioning; each with its mails and a new CRL.

use domain::message::Message;
use std::collections::HashSet;

use domain::certificate::{may_revoke, RevocationReason, RevokeRefusal, Revoker};
use serde_json::json;

use super::crl::sign_crl;
use super::read::{existing_of, stored_addresses, view_of};
use super::CertificateView;
use crate::clock;
use crate::error::ServiceError;
use crate::mail::message_id::message_id_domain;
use crate::mail::templates::{revocation_mail, RevocationMail, RevokedBy};
use crate::portal::Portal;
use crate::roles::{Refusal, Viewer};
use crate::storage::audit::{insert_audit_record, AuditKind, NewAuditRecord};
use crate::storage::certificates::{self as store, CertificateRecord};
use crate::storage::outbox::{insert_outbox_mails, NewOutboxMail};
use crate::storage::Conn;

/// Random bytes in the unique part of a Message-ID.
const MESSAGE_ID_BYTES: usize = 16;

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
fn message_id(from: &str) -> Result<String, ServiceError> {
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
) -> Result<Vec<NewOutboxMail>, ServiceError> {
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
) -> Result<(), ServiceError> {
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

/// R15: the owner revokes one of their own certificates, at any time, with a reason. Someone
/// else's certificate reads as no such certificate (Q1).
pub async fn revoke_own_certificate(
    portal: &Portal,
    viewer: &Viewer,
    certificate_id: i64,
    reason: RevocationReason,
) -> Result<CertificateView, ServiceError> {
    revoke_one(portal, viewer, certificate_id, reason, Revoker::Owner).await
}

/// R15: a NAP revokes one certificate of an inactive row of their domain. A certificate of
/// another domain reads as no such certificate (Q1).
pub async fn revoke_certificate_as_nap(
    portal: &Portal,
    viewer: &Viewer,
    certificate_id: i64,
    reason: RevocationReason,
) -> Result<CertificateView, ServiceError> {
    revoke_one(portal, viewer, certificate_id, reason, Revoker::Nap).await
}

async fn revoke_one(
    portal: &Portal,
    viewer: &Viewer,
    certificate_id: i64,
    reason: RevocationReason,
    by: Revoker,
) -> Result<CertificateView, ServiceError> {
    let now = clock::now();
    let mut tx = portal.pool.begin_write().await?;
    let record = store::find_certificate(&mut tx, certificate_id)
        .await?
        .filter(|r| match by {
            Revoker::Owner => r.user_id == viewer.user.user_id,
            Revoker::Nap => viewer.administers(r.domain_id),
            Revoker::Idm => false,
        })
        .ok_or(ServiceError::NotFound(Message::NoSuchCertificate))?;
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
        .ok_or(ServiceError::NotFound(Message::NoSuchCertificate))?;
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
) -> Result<usize, ServiceError> {
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
    let mut tx = portal.pool.begin_write().await?;
    let rows = store::list_certificate_rows(&mut tx, &row_ids).await?;
    for id in &row_ids {
        // Unknown and foreign rows read alike: the answer tells nothing about other domains.
        let row = rows
            .iter()
            .find(|r| r.id == *id && viewer.administers(r.domain_id))
            .ok_or(ServiceError::Invalid(Message::NoRowToRevoke { id: *id }))?;
        if row.active {
            return Err(ServiceError::Invalid(Message::RowStillActive {
                primary: row.primary_address.clone(),
            }));
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
