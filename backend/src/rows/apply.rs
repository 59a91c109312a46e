//! The cores of create and edit, inside the caller's transaction (shared with the CSV upload,
//! the handover and the deprovisioning).

use std::collections::BTreeSet;

use domain::address::EmailAddress;
use domain::edit::{Activation, EditConsequences, LinkDrop, RowEdit};
use domain::row::{Field, RowFields};
use serde_json::json;

use crate::storage::Db;

use super::checks::{check_row, unique_violation_error};
use super::read::load_view;
use super::stored::{load_row_for_change, row_json, search_text, values_of, StoredRow};
use super::{AuditKind, RowContext, ServiceError};
use crate::storage::audit::{insert_audit_record, NewAuditRecord};
use crate::storage::challenges::{supersede_pending_challenges_of_row, SupersededChallenge};
use crate::storage::links::{delete_link, list_links_of_row, LinkRecord};
use crate::storage::rows as store;
use crate::storage::Conn;

/// Writes the audit records of one row's change, in the change's transaction (R16).
pub(super) struct RowAudit<'a> {
    pub(super) ctx: &'a RowContext,
    pub(super) domain_id: i64,
    pub(super) row_id: i64,
    pub(super) now: i64,
}

impl RowAudit<'_> {
    pub(super) async fn write(
        &self,
        conn: &mut Conn,
        kind: AuditKind,
        subject: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Result<(), ServiceError> {
        insert_audit_record(
            conn,
            &NewAuditRecord {
                actor: &self.ctx.actor,
                kind,
                domain_id: Some(self.domain_id),
                row_id: Some(self.row_id),
                subject: Some(subject),
                before,
                after,
            },
            self.now,
        )
        .await?;
        Ok(())
    }
}

/// Creates a row (active as `fields` says; new rows from the form are active) with a
/// `row_created` audit record, after every check of [`check_row`]. Returns its id.
///
/// Runs inside the caller's transaction; on `Err` the caller must roll it back.
pub(crate) async fn apply_create(
    conn: &mut Conn,
    ctx: &RowContext,
    primary: &EmailAddress,
    fields: &RowFields,
    now: i64,
) -> Result<i64, ServiceError> {
    let (errors, home) =
        check_row(conn, ctx, Some(primary), None, fields, &BTreeSet::new()).await?;
    let Some(domain_id) = home.filter(|_| errors.is_empty()) else {
        return Err(ServiceError::fields(errors));
    };
    let id = match store::insert_row(conn, domain_id, primary.as_str(), &values_of(fields), now)
        .await
    {
        Ok(id) => id,
        Err(e) => {
            return Err(
                unique_violation_error(conn, e, primary.as_str(), Field::PrimaryAddress).await,
            )
        }
    };
    for (position, address) in fields.addresses(primary).enumerate() {
        let (kind, field) = if position == 0 {
            ("primary", Field::PrimaryAddress)
        } else {
            ("alias", Field::Aliases)
        };
        if let Err(e) =
            store::insert_address(conn, id, address.as_str(), kind, position as i64).await
        {
            return Err(unique_violation_error(conn, e, address.as_str(), field).await);
        }
    }
    store::put_row_search_text(conn, id, domain_id, &search_text(primary, fields)).await?;
    let audit = RowAudit {
        ctx,
        domain_id,
        row_id: id,
        now,
    };
    audit
        .write(
            conn,
            AuditKind::RowCreated,
            primary.as_str(),
            None,
            Some(row_json(primary, fields)),
        )
        .await?;
    Ok(id)
}

/// What an edit did beyond changing the row's fields.
#[derive(Debug, Clone)]
pub(crate) struct EditOutcome {
    /// What `domain::RowEdit` said the edit means; `is_unchanged()` when nothing was written.
    pub(crate) consequences: EditConsequences,
    /// The pending challenges it superseded (R4, R5).
    pub(crate) superseded: Vec<SupersededChallenge>,
    /// The links it dropped (R4, R5).
    pub(crate) dropped_links: Vec<LinkRecord>,
}

/// The links an edit drops, of those the row has.
pub(super) fn links_to_drop(links: Vec<LinkRecord>, drop: &LinkDrop) -> Vec<LinkRecord> {
    match drop {
        LinkDrop::None => Vec::new(),
        LinkDrop::All => links,
        LinkDrop::Addresses(addresses) => links
            .into_iter()
            .filter(|l| addresses.iter().any(|a| a.as_str() == l.address))
            .collect(),
    }
}

/// Saves `after` over a stored row that must still be at `version`, applying R4–R7 in the same
/// transaction: supersedes pending challenges and drops links as [`RowEdit::between`] says, and
/// writes the audit records (`row_edited` with before and after, `row_deactivated` /
/// `row_reactivated`, one `challenge_superseded` and `link_dropped` per challenge and link).
/// An edit that changes nothing writes nothing (reordering aliases alone is no change, R4).
///
/// Runs inside the caller's transaction; on `Err` the caller must roll it back.
pub(crate) async fn apply_edit(
    conn: &mut Conn,
    ctx: &RowContext,
    stored: &StoredRow,
    version: i64,
    after: &RowFields,
    now: i64,
) -> Result<EditOutcome, ServiceError> {
    let record = &stored.record;
    ctx.require_nap_of(record.domain_id)?;
    if record.version != version {
        return Err(changed_meanwhile(conn, ctx, record.id, now).await);
    }
    let (errors, _) = check_row(
        conn,
        ctx,
        Some(&stored.primary),
        Some(record.id),
        after,
        &BTreeSet::new(),
    )
    .await?;
    if !errors.is_empty() {
        return Err(ServiceError::fields(errors));
    }
    let consequences = RowEdit::between(&stored.fields, after);
    if consequences.is_unchanged() {
        return Ok(EditOutcome {
            consequences,
            superseded: Vec::new(),
            dropped_links: Vec::new(),
        });
    }
    if !store::update_row(conn, record.id, version, &values_of(after), now).await? {
        return Err(changed_meanwhile(conn, ctx, record.id, now).await);
    }
    let primary = stored.primary.as_str();
    let audit = RowAudit {
        ctx,
        domain_id: record.domain_id,
        row_id: record.id,
        now,
    };
    if consequences
        .changed_fields
        .iter()
        .any(|f| *f != Field::Active)
    {
        audit
            .write(
                conn,
                AuditKind::RowEdited,
                primary,
                Some(row_json(&stored.primary, &stored.fields)),
                Some(row_json(&stored.primary, after)),
            )
            .await?;
    }
    if let Some(activation) = consequences.activation {
        let kind = match activation {
            Activation::Deactivated => AuditKind::RowDeactivated,
            Activation::Reactivated => AuditKind::RowReactivated,
        };
        audit
            .write(
                conn,
                kind,
                primary,
                Some(json!({ "active": stored.fields.active })),
                Some(json!({ "active": after.active })),
            )
            .await?;
    }

    let superseded = if consequences.supersede_pending {
        supersede_pending_challenges_of_row(conn, record.id, now).await?
    } else {
        Vec::new()
    };
    for c in &superseded {
        audit
            .write(
                conn,
                AuditKind::ChallengeSuperseded,
                &c.address,
                Some(json!({
                    "challenge": c.id,
                    "state": "pending",
                    "recipient": c.recipient,
                    "sent_at": c.created_at,
                })),
                Some(json!({ "challenge": c.id, "state": "superseded" })),
            )
            .await?;
    }

    let dropped_links = if consequences.dropped_links == LinkDrop::None {
        Vec::new()
    } else {
        let links = list_links_of_row(conn, record.id).await?;
        links_to_drop(links, &consequences.dropped_links)
    };
    for link in &dropped_links {
        delete_link(conn, record.id, &link.address).await?;
        audit
            .write(
                conn,
                AuditKind::LinkDropped,
                &link.address,
                Some(json!({
                    "user_id": link.user_id,
                    "challenge": link.challenge_id,
                    "linked_at": link.linked_at,
                })),
                None,
            )
            .await?;
    }

    if stored.fields.aliases != after.aliases {
        sync_aliases(conn, record.id, &stored.fields.aliases, &after.aliases).await?;
    }
    if stored.fields.aliases != after.aliases
        || stored.fields.first_name != after.first_name
        || stored.fields.last_name != after.last_name
    {
        let text = search_text(&stored.primary, after);
        store::put_row_search_text(conn, record.id, record.domain_id, &text).await?;
    }
    Ok(EditOutcome {
        consequences,
        superseded,
        dropped_links,
    })
}

/// Makes a row's stored aliases `after`, in its order: removed ones go (their links are dropped
/// already), kept ones move to their new position, new ones are added.
async fn sync_aliases(
    conn: &mut Conn,
    row_id: i64,
    before: &[EmailAddress],
    after: &[EmailAddress],
) -> Result<(), ServiceError> {
    for removed in before.iter().filter(|a| !after.contains(a)) {
        store::delete_alias(conn, row_id, removed.as_str()).await?;
    }
    for (index, alias) in after.iter().enumerate() {
        let position = index as i64 + 1;
        match before.iter().position(|b| b == alias) {
            Some(old) if old as i64 + 1 == position => {}
            Some(_) => {
                store::update_address_position(conn, row_id, alias.as_str(), position).await?
            }
            None => {
                if let Err(e) =
                    store::insert_address(conn, row_id, alias.as_str(), "alias", position).await
                {
                    return Err(
                        unique_violation_error(conn, e, alias.as_str(), Field::Aliases).await,
                    );
                }
            }
        }
    }
    Ok(())
}

/// [`ServiceError::ChangedMeanwhile`] with the row as it is now.
pub(crate) async fn changed_meanwhile(
    conn: &mut Conn,
    ctx: &RowContext,
    row_id: i64,
    now: i64,
) -> ServiceError {
    match load_view(conn, ctx, row_id, now).await {
        Ok(view) => ServiceError::changed_row(Box::new(view)),
        Err(e) => e,
    }
}

/// The core of [`set_active`] inside the caller's transaction (shared with the handover's one-step
/// use cases, R18, R19). On `Err` the caller must roll it back.
pub(crate) async fn apply_set_active(
    conn: &mut Conn,
    ctx: &RowContext,
    rows: &[(i64, i64)],
    active: bool,
    now: i64,
) -> Result<(), ServiceError> {
    for &(row_id, version) in rows {
        let stored = load_row_for_change(conn, ctx, row_id).await?;
        if stored.fields.active == active {
            continue;
        }
        let after = RowFields {
            active,
            ..stored.fields.clone()
        };
        apply_edit(conn, ctx, &stored, version, &after, now).await?;
    }
    Ok(())
}

/// A transaction that takes the write lock at once: the version it reads cannot be changed by
/// another writer before it commits (optimistic concurrency without a lost update), and SQLite
/// never has to refuse its first write for a stale snapshot.
pub(crate) async fn begin_write(pool: &Db) -> Result<crate::storage::Tx, ServiceError> {
    Ok(pool.begin_write().await?)
}
