//! A row's input parsed with the domain's parsers, and every rule checked before it is written.

use std::collections::BTreeSet;

use domain::address::EmailAddress;
use domain::message::Message;
use domain::row::{unparsed_primary, Field, FieldError, RowFields};
use domain::table::ParsedInput;

use super::stored::StoredRow;
use super::{RowContext, RowInput, ServiceError};
use crate::storage::rows as store;
use crate::storage::{is_unique_violation, Conn};

/// Every rule a row's fields must meet before they are written, as errors at fields:
/// [`RowFields::validate`], R1 ([`RowFields::check_administered`]; for a new row also that its
/// home table is one the NAP administers), and portal-wide uniqueness of its addresses.
///
/// `primary` is `None` when it did not parse; `own_row` is the row being edited (its own addresses
/// are no conflict). Errors at `unparsed` fields are left out: their parse error says it already.
/// Returns the errors and, for a new row, the domain it goes to.
pub(super) async fn check_row(
    conn: &mut Conn,
    ctx: &RowContext,
    primary: Option<&EmailAddress>,
    own_row: Option<i64>,
    fields: &RowFields,
    unparsed: &BTreeSet<Field>,
) -> Result<(Vec<FieldError>, Option<i64>), ServiceError> {
    let placeholder;
    let checked_primary = match primary {
        Some(p) => p,
        None => {
            placeholder = unparsed_primary();
            &placeholder
        }
    };
    let mut errors: Vec<FieldError> = Vec::new();
    if let Err(found) = fields.validate(checked_primary) {
        errors.extend(found);
    }
    if let Err(found) = fields.check_administered(checked_primary, &ctx.administered_names) {
        errors.extend(
            found
                .into_iter()
                .filter(|e| primary.is_some() || e.field != Field::PrimaryAddress),
        );
    }
    // A new row belongs to the most specific registered domain its primary lies in, which may be a
    // subdomain registered for other NAPs; R1 needs that one to be administered too.
    let mut home = None;
    if let (Some(primary), None) = (primary, own_row) {
        if ctx.administered_names.iter().any(|d| primary.is_in(d)) {
            if let Some(owning) = primary.owning_domain(&ctx.registered_names) {
                let id = ctx
                    .registered
                    .iter()
                    .find(|(_, name)| name == owning)
                    .map(|(id, _)| *id);
                match id.filter(|id| ctx.require_nap_of(*id).is_ok()) {
                    Some(id) => home = Some(id),
                    None => errors.push(FieldError::new(
                        Field::PrimaryAddress,
                        Message::TableNotAdministered {
                            primary: primary.to_string(),
                            owning: owning.to_string(),
                        },
                    )),
                }
            }
        }
    }
    errors.retain(|e| !unparsed.contains(&e.field));
    errors.extend(uniqueness_errors(conn, ctx, primary, own_row, fields, unparsed).await?);
    Ok((errors, home))
}

/// Addresses of the row that another row holds already, each named with that row.
async fn uniqueness_errors(
    conn: &mut Conn,
    ctx: &RowContext,
    primary: Option<&EmailAddress>,
    own_row: Option<i64>,
    fields: &RowFields,
    unparsed: &BTreeSet<Field>,
) -> Result<Vec<FieldError>, ServiceError> {
    let mut addresses: Vec<&str> = Vec::new();
    if let Some(p) = primary {
        addresses.push(p.as_str());
    }
    if !unparsed.contains(&Field::Aliases) {
        addresses.extend(fields.aliases.iter().map(EmailAddress::as_str));
    }
    let holders = store::find_address_holders(conn, &addresses).await?;
    let mut errors = Vec::new();
    for h in holders.iter().filter(|h| Some(h.row_id) != own_row) {
        let field = if primary.is_some_and(|p| p.as_str() == h.address) {
            Field::PrimaryAddress
        } else {
            Field::Aliases
        };
        errors.push(ctx.used_by(field, h));
    }
    Ok(errors)
}

impl RowContext {
    /// An address that row `h` holds already. Named with that row when it lies in a domain the
    /// person administers (they can go and look); otherwise only that it is taken: a NAP learns
    /// nothing about other domains' rows (Q1).
    pub(crate) fn used_by(&self, field: Field, h: &store::AddressHolder) -> FieldError {
        if self
            .administered
            .iter()
            .any(|(_, d)| d.as_str() == h.domain_name)
        {
            FieldError::new(
                field,
                Message::AddressUsedByRow {
                    address: h.address.clone(),
                    primary: h.primary_address.clone(),
                    domain: h.domain_name.clone(),
                },
            )
        } else {
            FieldError::new(
                field,
                Message::AddressUsedElsewhere {
                    address: h.address.clone(),
                },
            )
        }
    }
}

/// Turns a unique violation on inserting `address` into the error that it is taken. The checks
/// before the insert find these already (naming the row where the person may know it); this
/// covers a writer that slipped in between, and says no more than that the address is taken.
pub(super) async fn unique_violation_error(
    conn: &mut Conn,
    err: sqlx::Error,
    address: &str,
    field: Field,
) -> ServiceError {
    if !is_unique_violation(&err) {
        return err.into();
    }
    match store::find_address_holders(conn, &[address]).await {
        Ok(holders) => match holders.first() {
            Some(h) => ServiceError::fields(vec![FieldError::new(
                field,
                Message::AddressTaken {
                    address: h.address.clone(),
                },
            )]),
            None => err.into(),
        },
        Err(e) => e.into(),
    }
}

/// Parses an edit of a stored row, reporting every problem at once.
pub(crate) async fn parse_edit(
    conn: &mut Conn,
    ctx: &RowContext,
    stored: &StoredRow,
    input: &RowInput,
) -> Result<RowFields, ServiceError> {
    // The form has no active field: an edit keeps the row's (R7 is set_active's).
    let ParsedInput {
        fields,
        mut errors,
        unparsed,
    } = input.parse(stored.fields.active);
    if errors.is_empty() {
        return Ok(fields);
    }
    let (more, _) = check_row(
        conn,
        ctx,
        Some(&stored.primary),
        Some(stored.record.id),
        &fields,
        &unparsed,
    )
    .await?;
    errors.extend(more);
    Err(ServiceError::fields(errors))
}
