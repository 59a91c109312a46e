//! The operators' use cases: register email domains and say which IdM group is each one's contact
//! group (SPEC §1). Callers check [`crate::roles::Viewer::require_operator`] first; the command line
//! acts as an operator.

use crate::storage::Db;
use domain::address::DomainName;
use serde_json::json;

use crate::clock;
use crate::error::ServiceError;
use crate::identity::{parse_group_name, GroupNameError, MAX_GROUP_CHARS};
use crate::storage::audit::{insert_audit_record, AuditKind, NewAuditRecord};
use crate::storage::domains::{self as store, DomainRecord};
use crate::storage::is_unique_violation;
use domain::message::Message;

/// The contact group as entered, or why not, as a message the operator page words in the
/// reader's language (the English is the one the command line has always printed).
fn parse_contact_group(input: &str) -> Result<String, ServiceError> {
    parse_group_name(input).map_err(|e| {
        ServiceError::Invalid(match e {
            GroupNameError::Empty => Message::ContactGroupEmpty,
            GroupNameError::TooLong { len } => Message::ContactGroupTooLong {
                len,
                max: MAX_GROUP_CHARS,
            },
            GroupNameError::Whitespace { shown } => Message::ContactGroupWhitespace { shown },
        })
    })
}

fn domain_json(domain: &DomainRecord) -> serde_json::Value {
    json!({ "name": domain.name, "contact_group": domain.contact_group })
}

/// Registers an email domain with its contact group, writing a `domain_registered` audit record in
/// the same transaction (R16).
pub async fn register_domain(
    pool: &Db,
    actor: &str,
    name: &str,
    contact_group: &str,
) -> Result<DomainRecord, ServiceError> {
    let name = DomainName::parse(name)?;
    let contact_group = parse_contact_group(contact_group)?;
    let now = clock::now();
    let mut tx = pool.begin().await?;
    let domain = match store::insert_domain(&mut tx, &name, &contact_group, now).await {
        Ok(d) => d,
        Err(e) if is_unique_violation(&e) => {
            return Err(ServiceError::Invalid(Message::DomainAlreadyRegistered {
                domain: name.to_string(),
            }))
        }
        Err(e) => return Err(e.into()),
    };
    insert_audit_record(
        &mut tx,
        &NewAuditRecord {
            actor,
            kind: AuditKind::DomainRegistered,
            domain_id: Some(domain.id),
            row_id: None,
            subject: Some(&domain.name),
            before: None,
            after: Some(domain_json(&domain)),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(domain)
}

/// Makes `contact_group` the domain's contact group, writing a `domain_contact_group_changed`
/// audit record with before and after (R16). Setting the group it already has changes nothing.
pub async fn set_contact_group(
    pool: &Db,
    actor: &str,
    name: &str,
    contact_group: &str,
) -> Result<DomainRecord, ServiceError> {
    let name = DomainName::parse(name)?;
    let contact_group = parse_contact_group(contact_group)?;
    let now = clock::now();
    let mut tx = pool.begin().await?;
    let Some(before) = store::find_domain_by_name(&mut tx, &name).await? else {
        return Err(ServiceError::NotFound(Message::DomainNotRegistered {
            domain: name.to_string(),
        }));
    };
    if before.contact_group == contact_group {
        return Ok(before);
    }
    store::update_domain_contact_group(&mut tx, before.id, &contact_group, now).await?;
    let after = DomainRecord {
        contact_group,
        updated_at: now,
        ..before.clone()
    };
    insert_audit_record(
        &mut tx,
        &NewAuditRecord {
            actor,
            kind: AuditKind::DomainContactGroupChanged,
            domain_id: Some(before.id),
            row_id: None,
            subject: Some(&before.name),
            before: Some(domain_json(&before)),
            after: Some(domain_json(&after)),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Every registered domain, by name.
pub async fn list_domains(pool: &Db) -> Result<Vec<DomainRecord>, ServiceError> {
    let mut conn = pool.acquire().await?;
    Ok(store::list_domains(&mut conn).await?)
}

/// One registered domain by name (as entered; parsed first).
pub async fn find_domain(pool: &Db, name: &str) -> Result<Option<DomainRecord>, ServiceError> {
    let name = DomainName::parse(name)?;
    let mut conn = pool.acquire().await?;
    Ok(store::find_domain_by_name(&mut conn, &name).await?)
}
