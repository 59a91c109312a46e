//! The handover of an address (SPEC §6a, R17–R20) as one-step use cases: the leaver (deactivate and
//! revoke in one transaction), reactivating with a new challenge round, renaming an inactive row for
//! a different person, and the worklist of deactivated rows that still have valid certificates.
//!
//! Each composes the cores of the row, challenge and certificate services inside one transaction,
//! so the rules stay where they are (R8: the same rules on every path) and nothing lands half.

use domain::certificate::{RevocationReason, Revoker};
use domain::handover::{leaver_deadline, LeaverItem};
use serde_json::json;

use crate::certificates::{revoke_all, Revocation};
use crate::challenges::{send_rounds, SendReport};
use crate::clock;
use crate::error::ServiceError;
use crate::portal::Portal;
use crate::roles::Viewer;
use crate::rows::{
    apply_edit, apply_set_active, begin_write, changed_meanwhile, held_certificates,
    load_row_for_change, load_view, load_views, parse_edit, AuditKind, ContextFor, RowContext,
    RowInput, RowView,
};
use crate::storage::audit::{insert_audit_record, NewAuditRecord};
use crate::storage::certificates::list_valid_certificates_of_rows;
use crate::storage::challenges::supersede_pending_challenges_of_row;
use crate::storage::links::{delete_link, list_links_of_row};
use crate::storage::Conn;
use domain::message::Message;

pub use domain::table::Deactivation;

/// R19, S2: deactivates rows (all or none, each at the version the NAP saw) and, with `revoke`,
/// revokes every valid certificate of them with that reason, in the same transaction: the CRL is
/// re-signed before the commit, the holders are mailed and the acting NAP gets a copy. Without
/// `revoke` the rows go on the worklist while they have valid certificates.
pub async fn deactivate_rows(
    portal: &Portal,
    viewer: &Viewer,
    rows: &[(i64, i64)],
    revoke: Option<RevocationReason>,
) -> Result<Deactivation, ServiceError> {
    let mut tx = begin_write(&portal.pool).await?;
    let ctx = RowContext::load(&mut tx, viewer, ContextFor::Changes).await?;
    let now = clock::now();
    apply_set_active(&mut tx, &ctx, rows, false, now).await?;
    let mut revoked = 0;
    if let Some(reason) = revoke {
        let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
        let records = list_valid_certificates_of_rows(&mut tx, &ids, now).await?;
        if !records.is_empty() {
            let revocation = Revocation {
                actor: &viewer.user.user_id,
                by: Revoker::Nap,
                reason,
                now,
                copy_to: viewer.user.email.as_deref(),
            };
            revoke_all(&mut tx, portal, &records, &revocation).await?;
            revoked = records.len();
        }
    }
    let views = load_views(&mut tx, &ctx, rows, now).await?;
    tx.commit().await?;
    if revoked > 0 {
        portal.outbox.notify_one();
    }
    tracing::info!(rows = rows.len(), revoked, "rows deactivated");
    Ok(Deactivation {
        rows: views,
        revoked,
    })
}

/// R18: reactivates rows and sends each a new challenge round, in one transaction, so that no
/// moment exists in which a reactivated row's old links allow a request before the round is out.
/// A row refused a round is reported as "send challenges" reports it and is reactivated all the
/// same; a failure of the step as a whole (a stale version, a foreign row) changes nothing.
pub async fn reactivate_and_challenge(
    portal: &Portal,
    viewer: &Viewer,
    rows: &[(i64, i64)],
) -> Result<(Vec<RowView>, SendReport), ServiceError> {
    let mut tx = begin_write(&portal.pool).await?;
    let ctx = RowContext::load(&mut tx, viewer, ContextFor::Changes).await?;
    let now = clock::now();
    apply_set_active(&mut tx, &ctx, rows, true, now).await?;
    let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
    let report = send_rounds(&mut tx, viewer, &ids, &portal.config, now).await?;
    let views = load_views(&mut tx, &ctx, rows, now).await?;
    tx.commit().await?;
    if report.challenges > 0 {
        portal.outbox.notify_one();
    }
    Ok((views, report))
}

/// R18: saves an edit of a deactivated row (typically the new person's name) and, because a
/// different person takes the mailbox over, drops every link of the row and supersedes its pending
/// challenges in the same transaction: nobody can request for it until a new round is confirmed.
/// A plain rename (R6) is [`crate::rows::edit_row`], which touches no link.
pub async fn edit_row_for_new_person(
    portal: &Portal,
    viewer: &Viewer,
    row_id: i64,
    version: i64,
    input: &RowInput,
) -> Result<RowView, ServiceError> {
    let mut tx = begin_write(&portal.pool).await?;
    let ctx = RowContext::load(&mut tx, viewer, ContextFor::Changes).await?;
    let now = clock::now();
    let stored = load_row_for_change(&mut tx, &ctx, row_id).await?;
    if stored.record.version != version {
        return Err(changed_meanwhile(&mut tx, &ctx, row_id, now).await);
    }
    if stored.fields.active {
        return Err(ServiceError::Invalid(Message::TakeOverActiveRow));
    }
    let after = parse_edit(&mut tx, &ctx, &stored, input).await?;
    let outcome = apply_edit(&mut tx, &ctx, &stored, version, &after, now).await?;
    let domain_id = stored.record.domain_id;
    // What the edit itself superseded and dropped (R4, R5) is gone and audited already; what is
    // left goes now.
    let superseded = supersede_pending_challenges_of_row(&mut tx, row_id, now).await?;
    for c in &superseded {
        let record = NewAuditRecord {
            actor: &ctx.actor,
            kind: AuditKind::ChallengeSuperseded,
            domain_id: Some(domain_id),
            row_id: Some(row_id),
            subject: Some(&c.address),
            before: Some(json!({
                "challenge": c.id,
                "state": "pending",
                "recipient": c.recipient,
                "sent_at": c.created_at,
            })),
            after: Some(json!({
                "challenge": c.id, "state": "superseded", "by": "different_person"
            })),
        };
        insert_audit_record(&mut tx, &record, now).await?;
    }
    let to_drop = list_links_of_row(&mut tx, row_id).await?;
    for link in &to_drop {
        delete_link(&mut tx, row_id, &link.address).await?;
        let record = NewAuditRecord {
            actor: &ctx.actor,
            kind: AuditKind::LinkDropped,
            domain_id: Some(domain_id),
            row_id: Some(row_id),
            subject: Some(&link.address),
            before: Some(json!({
                "user_id": link.user_id,
                "challenge": link.challenge_id,
                "linked_at": link.linked_at,
            })),
            after: Some(json!({ "reason": "different_person" })),
        };
        insert_audit_record(&mut tx, &record, now).await?;
    }
    let view = load_view(&mut tx, &ctx, row_id, now).await?;
    tx.commit().await?;
    tracing::info!(
        row_id,
        dropped_links = to_drop.len() + outcome.dropped_links.len(),
        "row handed over to a different person"
    );
    Ok(view)
}

/// R19: the worklist of a domain: its deactivated rows that still have valid certificates, with the
/// S/MIME BR deadline (5 days after the latest deactivation) and how urgent it is at `now`, the
/// most urgent first. For the domain's NAPs and operators.
pub async fn leaver_worklist(
    portal: &Portal,
    viewer: &Viewer,
    domain: &str,
    now: i64,
) -> Result<Vec<LeaverItem>, ServiceError> {
    let mut conn = portal.pool.acquire().await?;
    let ctx = RowContext::load(&mut conn, viewer, ContextFor::Reading).await?;
    let (domain_id, domain_name) = ctx.readable_domain(domain)?;
    let domain_name = domain_name.to_string();
    let rows = list_leaver_rows(&mut conn, domain_id, now).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut held = held_certificates(&mut conn, &ids, now).await?;
    let mut items: Vec<LeaverItem> = rows
        .into_iter()
        .map(|r| {
            let deactivated_at = r.deactivated_at.unwrap_or(r.updated_at);
            let (deadline, urgency) = leaver_deadline(deactivated_at, now);
            LeaverItem {
                row_id: r.id,
                version: r.version,
                domain: domain_name.clone(),
                name: format!("{} {}", r.first_name, r.last_name)
                    .trim()
                    .to_owned(),
                primary: r.primary_address,
                deactivated_at,
                deadline,
                urgency,
                certificates: held.remove(&r.id).unwrap_or_default(),
            }
        })
        .filter(|item| !item.certificates.is_empty())
        .collect();
    items.sort_by_key(|i| (i.deadline, i.row_id));
    Ok(items)
}

/// A deactivated row with a valid certificate, and when it was last deactivated.
#[derive(sqlx::FromRow)]
struct LeaverRow {
    id: i64,
    version: i64,
    primary_address: String,
    first_name: String,
    last_name: String,
    updated_at: i64,
    deactivated_at: Option<i64>,
}

/// The deactivated rows of a domain that hold a valid certificate at `now`. The deactivation time
/// comes from the audit trail (R16): the CSV upload and the form deactivate through the same core
/// and both write `row_deactivated`; a row created inactive has none and falls back to its last
/// change.
async fn list_leaver_rows(
    conn: &mut Conn,
    domain_id: i64,
    now: i64,
) -> sqlx::Result<Vec<LeaverRow>> {
    crate::run!(conn, ex => sqlx::query_as(
        "SELECT r.id, r.version, r.primary_address, r.first_name, r.last_name, r.updated_at,
                (SELECT MAX(a.at) FROM audit_records a
                 WHERE a.row_id = r.id AND a.kind = 'row_deactivated') AS deactivated_at
         FROM mailbox_rows r
         WHERE r.domain_id = $1 AND r.active = FALSE
           AND EXISTS (SELECT 1 FROM certificates c
                       LEFT JOIN revocations v ON v.certificate_id = c.id
                       WHERE c.row_id = r.id AND v.certificate_id IS NULL AND c.not_after > $2)",
    )
    .bind(domain_id)
    .bind(now)
    .fetch_all(ex)
    .await)
}
