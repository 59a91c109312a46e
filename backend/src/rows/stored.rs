//! Stored rows read back into the domain's types, and what a row is written as.

use domain::address::EmailAddress;
use domain::mailbox::MailboxType;
use domain::message::Message;
use domain::row::RowFields;
use domain::text::{Comment, PersonName};
use serde_json::json;

use super::{RowContext, ServiceError};
use crate::storage::rows::{self as store, AddressRecord, RowRecord, RowValues};
use crate::storage::Conn;

/// A stored row read back into the domain's types.
pub(crate) struct StoredRow {
    pub(crate) record: RowRecord,
    pub(crate) primary: EmailAddress,
    pub(crate) fields: RowFields,
}

pub(crate) fn stored_row(
    record: RowRecord,
    addresses: &[AddressRecord],
) -> Result<StoredRow, ServiceError> {
    let corrupt =
        |e: &dyn std::fmt::Display| ServiceError::corrupt(format!("row {}: {e}", record.id));
    let primary = EmailAddress::parse(&record.primary_address).map_err(|e| corrupt(&e))?;
    let aliases = addresses
        .iter()
        .filter(|a| a.kind == "alias")
        .map(|a| EmailAddress::parse(&a.address))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| corrupt(&e))?;
    let fields = RowFields {
        first_name: PersonName::parse_stored(&record.first_name).map_err(|e| corrupt(&e))?,
        last_name: PersonName::parse_stored(&record.last_name).map_err(|e| corrupt(&e))?,
        aliases,
        mailbox_type: MailboxType::parse(&record.mailbox_type).map_err(|e| corrupt(&e))?,
        applicant: record
            .applicant_address
            .as_deref()
            .map(EmailAddress::parse)
            .transpose()
            .map_err(|e| corrupt(&e))?,
        comment: Comment::parse_stored(&record.comment).map_err(|e| corrupt(&e))?,
        active: record.active,
    };
    Ok(StoredRow {
        record,
        primary,
        fields,
    })
}

/// Loads a row to change it: [`ServiceError::NotFound(Message::NoSuchRow)`] if there is none or it lies in a domain the
/// person may not read (Q1), [`ServiceError::Forbidden(Message::NotNap)`] unless the person is a NAP of its domain
/// (R1: an operator, or someone with no table at all).
pub(crate) async fn load_row_for_change(
    conn: &mut Conn,
    ctx: &RowContext,
    row_id: i64,
) -> Result<StoredRow, ServiceError> {
    let record = store::find_row(conn, row_id).await?;
    ctx.row_domain(record.as_ref().map(|r| r.domain_id), true)?;
    let record = record.ok_or(ServiceError::NotFound(Message::NoSuchRow))?;
    let addresses = store::list_addresses_of_row(conn, row_id).await?;
    stored_row(record, &addresses)
}

pub(super) fn values_of(fields: &RowFields) -> RowValues<'_> {
    RowValues {
        first_name: fields.first_name.as_str(),
        last_name: fields.last_name.as_str(),
        mailbox_type: fields.mailbox_type.as_str(),
        applicant_address: fields.applicant.as_ref().map(EmailAddress::as_str),
        comment: fields.comment.as_str(),
        active: fields.active,
    }
}

/// What the audit trail records of a row (before and after).
pub(crate) fn row_json(primary: &EmailAddress, fields: &RowFields) -> serde_json::Value {
    json!({
        "primary": primary.as_str(),
        "first_name": fields.first_name.as_str(),
        "last_name": fields.last_name.as_str(),
        "aliases": fields.aliases.iter().map(EmailAddress::as_str).collect::<Vec<_>>(),
        "mailbox_type": fields.mailbox_type.as_str(),
        "applicant": fields.applicant.as_ref().map(EmailAddress::as_str),
        "comment": fields.comment.as_str(),
        "active": fields.active,
    })
}

/// The search text of a row: its names and addresses, lower-case (the search is case-insensitive,
/// also beyond ASCII, where SQL's `LIKE` is not).
pub(crate) fn search_text(primary: &EmailAddress, fields: &RowFields) -> String {
    let mut parts = vec![fields.first_name.as_str(), fields.last_name.as_str()];
    parts.extend(fields.addresses(primary).map(EmailAddress::as_str));
    parts.join(" ").to_lowercase()
}
