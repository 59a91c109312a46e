//! Reading certificates: a user's own with the rows they may request for, a row's, and the
//! validation evidence behind them.

use domain::message::Message;
use std::collections::HashMap;

use domain::address::EmailAddress;
use domain::certificate::{
    holder_name, may_request, ExistingCert, RequestRefusal, RevocationReason,
};
use domain::handover::ValidationEvidence;
use domain::mailbox::MailboxType;

use super::{
    CertificateStatus, CertificateView, KeySource, MyCertificates, RequestableRow, ServiceError,
};
use crate::ca::Holder;
use crate::clock;
use crate::identity::display_name;
use crate::portal::Portal;
use crate::roles::{Refusal, Viewer};
use crate::storage::audit::list_issue_records_of_row;
use crate::storage::certificates::{
    self as store, CertificateRecord, CertificateRowRecord, LinkedAddressRecord,
};
use crate::storage::users::find_user;

/// "Given Family", or the user ID when the IdM gave no name.
pub(super) fn stored_reason(reason: Option<&str>) -> Result<RevocationReason, ServiceError> {
    match reason {
        None => Ok(RevocationReason::Unspecified),
        Some(name) => RevocationReason::parse(name)
            .map_err(|_| ServiceError::corrupt(format!("revocation reason {name}"))),
    }
}

pub(super) fn stored_addresses(record: &CertificateRecord) -> Result<Vec<String>, ServiceError> {
    serde_json::from_str(&record.addresses)
        .map_err(|_| ServiceError::corrupt(format!("addresses of certificate {}", record.id)))
}

/// What R13 and R15 need of a stored certificate.
pub(super) fn existing_of(record: &CertificateRecord) -> ExistingCert {
    ExistingCert {
        not_after: record.not_after,
        revoked: record.revoked_at.is_some(),
    }
}

pub(crate) fn view_of(
    record: CertificateRecord,
    now: i64,
) -> Result<CertificateView, ServiceError> {
    let addresses = stored_addresses(&record)?;
    let key_source = KeySource::parse(&record.key_source)
        .ok_or_else(|| ServiceError::corrupt(format!("key source of certificate {}", record.id)))?;
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
        expires_soon: status == CertificateStatus::Valid
            && domain::handover::expiring_soon(record.not_after, now),
        status,
        evidence: Vec::new(),
    })
}

fn views_of(
    records: Vec<CertificateRecord>,
    now: i64,
) -> Result<Vec<CertificateView>, ServiceError> {
    records.into_iter().map(|r| view_of(r, now)).collect()
}

pub(super) fn mailbox_type_of(row: &CertificateRowRecord) -> Result<MailboxType, ServiceError> {
    MailboxType::parse(&row.mailbox_type)
        .map_err(|_| ServiceError::corrupt(format!("mailbox type of row {}", row.id)))
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
) -> Result<MyCertificates, ServiceError> {
    let user_id = viewer.user.user_id.as_str();
    let now = clock::now();
    let window = portal.config.ca.renewal_window();
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
        row.refusal = refusal;
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
) -> Result<Vec<CertificateView>, ServiceError> {
    if !viewer.is_nap() && !viewer.is_operator {
        return Err(Refusal::NotNapOfDomain.into());
    }
    let mut conn = portal.pool.acquire().await?;
    store::find_certificate_row(&mut conn, row_id)
        .await?
        .filter(|row| viewer.may_read_domain(row.domain_id))
        .ok_or(ServiceError::NotFound(Message::NoSuchRow))?;
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
) -> Result<HashMap<String, Vec<ValidationEvidence>>, ServiceError> {
    let mut conn = portal.pool.acquire().await?;
    store::find_certificate_row(&mut conn, row_id)
        .await?
        .filter(|row| viewer.may_read_domain(row.domain_id))
        .ok_or(ServiceError::NotFound(Message::NoSuchRow))?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
