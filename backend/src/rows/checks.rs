//! A row's input parsed with the domain's parsers, and every rule checked before it is written.

use std::collections::BTreeSet;

use domain::address::EmailAddress;
use domain::mailbox::MailboxType;
use domain::message::Message;
use domain::row::{parse_aliases, Field, FieldError, RowFields};
use domain::text::{Comment, PersonName};

use super::stored::StoredRow;
use super::{RowContext, RowInput, ServiceError};
use crate::storage::rows as store;
use crate::storage::{is_unique_violation, Conn};

/// A row's input parsed as far as it goes: the fields (a field that did not parse holds a
/// placeholder and is listed in `unparsed`) and the parse errors.
pub(crate) struct ParsedInput {
    pub(crate) fields: RowFields,
    pub(crate) errors: Vec<FieldError>,
    pub(crate) unparsed: BTreeSet<Field>,
}

/// Parses a row's input with the domain's parsers; `active` is kept from elsewhere (the form has
/// no such field; the CSV has its own column).
pub(crate) fn parse_input(input: &RowInput, active: bool) -> ParsedInput {
    let mut errors = Vec::new();
    let mut unparsed = BTreeSet::new();
    let mut fail = |field: Field, message: Message| {
        errors.push(FieldError::new(field, message));
        unparsed.insert(field);
    };
    let first_name = PersonName::parse(&input.first_name).unwrap_or_else(|e| {
        fail(Field::FirstName, e.into());
        PersonName::empty()
    });
    let last_name = PersonName::parse(&input.last_name).unwrap_or_else(|e| {
        fail(Field::LastName, e.into());
        PersonName::empty()
    });
    let aliases = parse_aliases(&input.aliases).unwrap_or_else(|e| {
        fail(Field::Aliases, e.into());
        Vec::new()
    });
    let mailbox_type = if input.mailbox_type.trim().is_empty() {
        MailboxType::Personal
    } else {
        MailboxType::parse(&input.mailbox_type).unwrap_or_else(|e| {
            fail(Field::MailboxType, e.into());
            MailboxType::Personal
        })
    };
    let applicant = if input.applicant.trim().is_empty() {
        None
    } else {
        EmailAddress::parse(&input.applicant)
            .map(Some)
            .unwrap_or_else(|e| {
                fail(Field::Applicant, e.into());
                None
            })
    };
    let comment = Comment::parse(&input.comment).unwrap_or_else(|e| {
        fail(Field::Comment, e.into());
        Comment::empty()
    });
    // A wrong type makes the applicant and name rules meaningless: they depend on it.
    if unparsed.contains(&Field::MailboxType) {
        unparsed.extend([Field::Applicant, Field::FirstName, Field::LastName]);
    }
    ParsedInput {
        fields: RowFields {
            first_name,
            last_name,
            aliases,
            mailbox_type,
            applicant,
            comment,
            active,
        },
        errors,
        unparsed,
    }
}

/// Stands in for a primary address that did not parse, so the other rules can still be checked
/// and every problem reported at once. `.invalid` is reserved (RFC 2606): no row can hold it.
fn placeholder_primary() -> EmailAddress {
    EmailAddress::parse("unparsed-primary@primary.invalid").expect("a valid address")
}

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
            placeholder = placeholder_primary();
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
                        format!(
                            "{primary} belongs to the table of {owning}, which you do not administer"
                        ),
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
                format!(
                    "{} is already used by row {} ({})",
                    h.address, h.primary_address, h.domain_name
                ),
            )
        } else {
            FieldError::new(
                field,
                format!(
                    "{} is already used by a row you do not administer; an address can belong \
                     to one row only",
                    h.address
                ),
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
                format!(
                    "{} is already used by another row; an address can belong to one row only",
                    h.address
                ),
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
    } = parse_input(input, stored.fields.active);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unparsable_type_hides_the_rules_that_depend_on_it() {
        let parsed = parse_input(
            &RowInput {
                mailbox_type: "shared".into(),
                applicant: "boss@example.net".into(),
                ..RowInput::default()
            },
            true,
        );
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(parsed.errors[0].field, Field::MailboxType);
        assert!(parsed.unparsed.contains(&Field::Applicant));
    }
}
