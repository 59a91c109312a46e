//! The use cases that change rows: create, preview and save an edit, deactivate/reactivate,
//! delete; one write transaction each.

use std::collections::BTreeSet;

use crate::storage::Db;
use domain::address::EmailAddress;
use domain::edit::{Consequence, LinkDrop, RowEdit};
use domain::row::{may_delete_row, Field, FieldError};
use domain::table::ParsedInput;

use super::apply::{
    apply_create, apply_edit, apply_set_active, begin_write, changed_meanwhile, links_to_drop,
    RowAudit,
};
use super::checks::{check_row, parse_edit};
use super::read::{load_view, load_views};
use super::stored::{load_row_for_change, row_json};
use super::{AuditKind, ContextFor, EditPreview, RowContext, RowInput, RowView, ServiceError};
use crate::clock;
use crate::roles::Viewer;
use crate::storage::challenges::count_pending_challenges_of_row;
use crate::storage::links::list_links_of_row;
use crate::storage::rows as store;
use crate::storage::Conn;

/// Adds an active row to a table the viewer administers (R1). `primary` is fixed from now on (R2);
/// the row goes to the table of the most specific registered domain it lies in.
pub async fn create_row(
    pool: &Db,
    viewer: &Viewer,
    domain: &str,
    primary: &str,
    input: &RowInput,
) -> Result<RowView, ServiceError> {
    let mut tx = begin_write(pool).await?;
    let ctx = RowContext::load(&mut tx, viewer, ContextFor::Changes).await?;
    let (domain_id, _) = ctx.readable_domain(domain)?;
    ctx.require_nap_of(domain_id)?;
    let now = clock::now();
    let id = create_in(&mut tx, &ctx, primary, input, true, now).await?;
    let view = load_view(&mut tx, &ctx, id, now).await?;
    tx.commit().await?;
    Ok(view)
}

/// Parses `primary` and `input` and creates the row (active or not) inside the caller's
/// transaction; every problem is reported at once. On `Err` the caller must roll back.
async fn create_in(
    conn: &mut Conn,
    ctx: &RowContext,
    primary: &str,
    input: &RowInput,
    active: bool,
    now: i64,
) -> Result<i64, ServiceError> {
    let parsed_primary = EmailAddress::parse(primary);
    let ParsedInput {
        fields,
        mut errors,
        unparsed,
    } = input.parse(active);
    let primary = match parsed_primary {
        Ok(p) if errors.is_empty() => p,
        parsed_primary => {
            // Report every problem at once: the parse errors and what the other rules say.
            let primary = match parsed_primary {
                Ok(p) => Some(p),
                Err(e) => {
                    errors.insert(0, FieldError::new(Field::PrimaryAddress, e));
                    None
                }
            };
            let (more, _) =
                check_row(conn, ctx, primary.as_ref(), None, &fields, &unparsed).await?;
            errors.extend(more);
            return Err(ServiceError::fields(errors));
        }
    };
    apply_create(conn, ctx, &primary, &fields, now).await
}

/// What [`upsert_row`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    /// There was no row with that primary address; now there is.
    Created,
    /// There was one: it was edited (or left alone when nothing changed).
    Existed,
}

/// The REST API's idempotent upsert by primary address (R21), in ONE write transaction: the row
/// of `domain`'s table whose primary address is `primary` gets `input` as an edit (R4–R6) and
/// `active` if given (R7, no revocation: as a CSV line with Active no, R8); without such a row,
/// one is created from `input` (active unless `active` says otherwise). `precondition` sees the
/// row's current version (`None`: no such row) inside the transaction, so no other writer can
/// change it before the change commits; it may refuse (If-Match). Any refusal writes nothing.
pub async fn upsert_row<E: From<ServiceError>>(
    pool: &Db,
    viewer: &Viewer,
    domain: &str,
    primary: &str,
    input: &RowInput,
    active: Option<bool>,
    precondition: impl FnOnce(Option<i64>) -> Result<(), E>,
) -> Result<(Upserted, RowView), E> {
    let mut tx = begin_write(pool).await?;
    let ctx = RowContext::load(&mut tx, viewer, ContextFor::Changes).await?;
    let (domain_id, _) = ctx.readable_domain(domain)?;
    ctx.require_nap_of(domain_id)?;
    let now = clock::now();
    // A row of another table is not this table's row (Q1: the answer tells nothing of it); the
    // create below then refuses its address as taken.
    let existing = match EmailAddress::parse(primary) {
        Ok(address) => store::find_row_by_primary(&mut tx, address.as_str())
            .await
            .map_err(ServiceError::from)?
            .filter(|record| record.domain_id == domain_id),
        Err(_) => None,
    };
    precondition(existing.as_ref().map(|record| record.version))?;
    let (upserted, row_id) = match existing {
        Some(record) => {
            let stored = load_row_for_change(&mut tx, &ctx, record.id).await?;
            let mut after = parse_edit(&mut tx, &ctx, &stored, input).await?;
            after.active = active.unwrap_or(stored.fields.active);
            let version = stored.record.version;
            apply_edit(&mut tx, &ctx, &stored, version, &after, now).await?;
            (Upserted::Existed, record.id)
        }
        None => {
            let active = active.unwrap_or(true);
            let id = create_in(&mut tx, &ctx, primary, input, active, now).await?;
            (Upserted::Created, id)
        }
    };
    let view = load_view(&mut tx, &ctx, row_id, now).await?;
    tx.commit().await.map_err(ServiceError::from)?;
    Ok((upserted, view))
}

/// What saving `input` over row `row_id` at `version` would do; nothing is written.
pub async fn preview_edit(
    pool: &Db,
    viewer: &Viewer,
    row_id: i64,
    version: i64,
    input: &RowInput,
) -> Result<EditPreview, ServiceError> {
    let mut conn = pool.acquire().await?;
    let ctx = RowContext::load(&mut conn, viewer, ContextFor::Reading).await?;
    let now = clock::now();
    let stored = load_row_for_change(&mut conn, &ctx, row_id).await?;
    if stored.record.version != version {
        return Err(changed_meanwhile(&mut conn, &ctx, row_id, now).await);
    }
    let after = parse_edit(&mut conn, &ctx, &stored, input).await?;
    let (errors, _) = check_row(
        &mut conn,
        &ctx,
        Some(&stored.primary),
        Some(row_id),
        &after,
        &BTreeSet::new(),
    )
    .await?;
    if !errors.is_empty() {
        return Err(ServiceError::fields(errors));
    }
    let c = RowEdit::between(&stored.fields, &after);
    let supersedes = if c.supersede_pending {
        count_pending_challenges_of_row(&mut conn, row_id)
            .await?
            .max(0) as usize
    } else {
        0
    };
    let dropped = if c.dropped_links == LinkDrop::None {
        Vec::new()
    } else {
        links_to_drop(
            list_links_of_row(&mut conn, row_id).await?,
            &c.dropped_links,
        )
    };
    let mut consequences = c.describe();
    if supersedes > 0 {
        consequences.push(Consequence::SupersedesPending { count: supersedes });
    }
    for link in &dropped {
        let name = format!("{} {}", link.given_name, link.family_name);
        let name = match name.trim() {
            "" => link.user_id.as_str(),
            name => name,
        };
        consequences.push(Consequence::DropsLink {
            primary: link.address == stored.primary.as_str(),
            address: link.address.clone(),
            by: name.to_owned(),
        });
    }
    Ok(EditPreview {
        consequences,
        supersedes,
        drops_links: dropped.into_iter().map(|l| l.address).collect(),
    })
}

/// Saves an edit of row `row_id`, which must still be at `version` (else
/// [`ServiceError::ChangedMeanwhile`] with the row as it is now). The primary address is not part of
/// the input (R2); R4–R6 are applied in the same transaction; the version is bumped.
pub async fn edit_row(
    pool: &Db,
    viewer: &Viewer,
    row_id: i64,
    version: i64,
    input: &RowInput,
) -> Result<RowView, ServiceError> {
    let mut tx = begin_write(pool).await?;
    let ctx = RowContext::load(&mut tx, viewer, ContextFor::Changes).await?;
    let now = clock::now();
    let stored = load_row_for_change(&mut tx, &ctx, row_id).await?;
    if stored.record.version != version {
        return Err(changed_meanwhile(&mut tx, &ctx, row_id, now).await);
    }
    let after = parse_edit(&mut tx, &ctx, &stored, input).await?;
    let outcome = apply_edit(&mut tx, &ctx, &stored, version, &after, now).await?;
    let view = load_view(&mut tx, &ctx, row_id, now).await?;
    tx.commit().await?;
    tracing::info!(
        row_id,
        changed = ?outcome.consequences.changed_fields,
        superseded = outcome.superseded.len(),
        dropped_links = outcome.dropped_links.len(),
        "row edited"
    );
    Ok(view)
}

/// Deactivates (`active = false`) or reactivates rows, all in one transaction: if one row is
/// refused (stale version, not the viewer's), none changes. Links and challenges are untouched
/// (R7). A row already in that state is left alone, whatever its version: nothing is written, so
/// nothing can be lost. Returns the rows as they are afterwards, in the order given.
pub async fn set_active(
    pool: &Db,
    viewer: &Viewer,
    rows: &[(i64, i64)],
    active: bool,
) -> Result<Vec<RowView>, ServiceError> {
    let mut tx = begin_write(pool).await?;
    let ctx = RowContext::load(&mut tx, viewer, ContextFor::Changes).await?;
    let now = clock::now();
    apply_set_active(&mut tx, &ctx, rows, active, now).await?;
    let views = load_views(&mut tx, &ctx, rows, now).await?;
    tx.commit().await?;
    Ok(views)
}

/// Deletes a row at `version`, only while no challenge was ever sent for it (R3), with a
/// `row_deleted` audit record that keeps the row's id and last state.
pub async fn delete_row(
    pool: &Db,
    viewer: &Viewer,
    row_id: i64,
    version: i64,
) -> Result<(), ServiceError> {
    let mut tx = begin_write(pool).await?;
    let ctx = RowContext::load(&mut tx, viewer, ContextFor::Changes).await?;
    let now = clock::now();
    let stored = load_row_for_change(&mut tx, &ctx, row_id).await?;
    if stored.record.version != version {
        return Err(changed_meanwhile(&mut tx, &ctx, row_id, now).await);
    }
    may_delete_row(stored.record.challenged)
        .map_err(|refusal| ServiceError::Invalid(refusal.into()))?;
    if !store::delete_unchallenged_row(&mut tx, row_id, version).await? {
        return Err(changed_meanwhile(&mut tx, &ctx, row_id, now).await);
    }
    let audit = RowAudit {
        ctx: &ctx,
        domain_id: stored.record.domain_id,
        row_id,
        now,
    };
    audit
        .write(
            &mut tx,
            AuditKind::RowDeleted,
            stored.primary.as_str(),
            Some(row_json(&stored.primary, &stored.fields)),
            None,
        )
        .await?;
    tx.commit().await?;
    Ok(())
}
