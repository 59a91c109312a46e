//! IdM deprovisioning (SPEC R22): when the IdM (through SCIM) marks a user inactive or deletes
//! them, the portal ends what that person can still do here.
//!
//! - Their sessions end at once, always.
//! - Each row they are linked to or hold a valid certificate for gets what its kind says
//!   ([`leaver_row_kind`]): a personal row linked only to them is deactivated and their
//!   certificates revoked (affiliationChanged) — or, where the domain's NAPs chose "propose", it
//!   waits on the worklist (R19) for a NAP's one-click accept; a functional row stays active,
//!   loses their links and certificates, and its NAPs are asked for a new applicant (S7); a row
//!   shared with others loses only their links and certificates.
//! - A circuit breaker ([`breaker_trips`]): when one sync deprovisions unusually many users, the
//!   rows are held (sessions still end) until an operator confirms or discards them. An IdM
//!   glitch must not revoke a university's certificates.
//! - The NAPs get one mail per domain per sync run ([`send_run_reports`]), once the run is quiet.
//!
//! Everything of one call is one transaction with its audit records (actor `scim:<token>`), and a
//! revocation re-signs the CRL before the commit, as the one-step leaver does (R19). A repeated
//! report changes nothing new; the IdM re-activating someone restores nothing (S5: the NAP
//! reactivates the row if the person is back).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use domain::certificate::{RevocationReason, Revoker};
use domain::deprovisioning::{
    breaker_trips, leaver_row_kind, DeprovisionMode, DeprovisionProposal, HeldDeprovisioning,
    HeldRow, LeaverRowKind,
};
use domain::mailbox::MailboxType;
use serde_json::json;

use crate::api_tokens::end_tokens_of_leaver;
use crate::certificates::{revoke_all, Revocation};
use crate::error::ServiceError;
use crate::identity::display_name;
use crate::mail::deprovisioning_mail::{held_mail, run_mail, RunEntry, RunOutcome, HELD_SUBJECT};
use crate::mail::message_id::message_id;
use crate::portal::Portal;
use crate::roles::{Refusal, Viewer};
use crate::rows::{apply_set_active, ContextFor, RowContext};
use crate::storage::audit::{insert_audit_record, AuditKind, NewAuditRecord};
use crate::storage::certificates::list_valid_certificates_of_user;
use crate::storage::deprovisionings::{self as store, ItemRecord, LeaverRowRecord};
use crate::storage::domains::find_domain_by_name;
use crate::storage::links::{delete_link, list_links_of_row};
use crate::storage::outbox::{insert_outbox_mails, NewOutboxMail};
use crate::storage::sessions::delete_sessions_of_user;
use crate::storage::Conn;
use domain::message::Message;

/// How often [`run_deprovisioning_job`] looks whether a sync run has gone quiet.
const JOB_INTERVAL: Duration = Duration::from_secs(60);

/// What one call of [`deprovision_user`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeprovisionReport {
    /// The portal user ID (OIDC `sub`) the IdM reported as gone.
    pub user_id: String,
    /// Nothing was left to do: a repeated report, or a user with nothing in the portal. Nothing
    /// was written.
    pub already_done: bool,
    /// How many login sessions ended.
    pub sessions_ended: u64,
    /// How many of the leaver's API tokens ended (R21).
    pub tokens_ended: usize,
    /// The circuit breaker held the revocations and deactivations for an operator.
    pub held: bool,
    /// Personal rows deactivated.
    pub rows_deactivated: usize,
    /// Personal rows put on the domain's worklist as a proposal (domain setting "propose").
    pub proposed: usize,
    /// Links of the user dropped on functional rows and rows shared with others.
    pub links_dropped: usize,
    /// Certificates of the user revoked (affiliationChanged).
    pub certificates_revoked: usize,
}

/// A refusal while the IdM's deprovisioning runs is a failure of the portal, not of the IdM's
/// request (the rows and certificates were the portal's to change): it is logged, and the IdM
/// retries.
fn failure_of_the_run(e: ServiceError) -> ServiceError {
    match e {
        ServiceError::Forbidden(_) | ServiceError::Internal(_) => e,
        e => ServiceError::Internal(Box::new(e)),
    }
}

/// A row of the leaver's and what it gets.
struct PlannedRow {
    row: LeaverRowRecord,
    kind: LeaverRowKind,
    mode: DeprovisionMode,
}

/// The leaver's rows that still need something, by [`leaver_row_kind`]. A personal row that is
/// deactivated and holds no valid certificate of theirs needs nothing (its links survive the
/// deactivation, R7); neither does any row without their links and certificates.
async fn plan(conn: &mut Conn, user_id: &str, now: i64) -> Result<Vec<PlannedRow>, ServiceError> {
    let rows = store::list_leaver_rows(conn, user_id, now).await?;
    let mut planned = Vec::with_capacity(rows.len());
    for row in rows {
        let functional = MailboxType::parse(&row.mailbox_type)
            .map_err(|e| ServiceError::Internal(format!("stored mailbox type: {e}").into()))?
            == MailboxType::Functional;
        // Counts from COUNT(*): never negative, and no row has 4 billion links.
        let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
        let kind = leaver_row_kind(functional, count(row.leaver_links), count(row.other_links));
        let needed = match kind {
            LeaverRowKind::Personal => row.active || row.valid_certificates > 0,
            LeaverRowKind::Functional | LeaverRowKind::Shared => {
                row.leaver_links > 0 || row.valid_certificates > 0
            }
        };
        if !needed {
            continue;
        }
        let mode = DeprovisionMode::parse(&row.deprovision_mode).ok_or_else(|| {
            ServiceError::Internal(
                format!("stored deprovision mode {}", row.deprovision_mode).into(),
            )
        })?;
        planned.push(PlannedRow { row, kind, mode });
    }
    Ok(planned)
}

/// R22: deprovisions `user_id` because the IdM says they left; `actor` (`scim:<token name>`) is
/// the audit trail's actor. Idempotent: a second call for the same leaver changes nothing new
/// (and reports `already_done`). All of it is one transaction.
///
/// Should that transaction fail (the CA cannot sign the CRL, the disk is full), nothing of it
/// lands and the error goes back to the IdM, which repeats the report; but the sessions still end
/// at once, in a transaction of their own with its audit record, so a leaver is never left
/// signed in (able to request a certificate) while the CA is down.
pub async fn deprovision_user(
    portal: &Portal,
    user_id: &str,
    actor: &str,
    now: i64,
) -> Result<DeprovisionReport, ServiceError> {
    match deprovision_in_one_transaction(portal, user_id, actor, now).await {
        Ok(report) => Ok(report),
        Err(e) => {
            tracing::error!(error = ?e, "deprovisioning failed; ending the sessions alone");
            if let Err(again) = end_sessions_only(portal, user_id, actor, now).await {
                tracing::error!(error = ?again, "could not end the leaver's sessions either");
            }
            Err(e)
        }
    }
}

/// The fallback of [`deprovision_user`]: the sessions end, audited, and nothing else changes.
async fn end_sessions_only(
    portal: &Portal,
    user_id: &str,
    actor: &str,
    now: i64,
) -> Result<u64, ServiceError> {
    let mut tx = portal.pool.begin_write().await?;
    let ended = delete_sessions_of_user(&mut tx, user_id).await?;
    // The leaver's API tokens end with the sessions (R21), audited on their own.
    let tokens_ended = end_tokens_of_leaver(&mut tx, user_id, actor, now).await?;
    if ended > 0 || tokens_ended > 0 {
        insert_audit_record(
            &mut tx,
            &NewAuditRecord {
                actor,
                kind: AuditKind::UserDeprovisioned,
                domain_id: None,
                row_id: None,
                subject: Some(user_id),
                before: None,
                after: Some(json!({
                    "sessions_ended": ended,
                    "tokens_ended": tokens_ended,
                    "rows": "not yet: the deprovisioning failed and waits for the IdM to repeat it",
                })),
            },
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(ended)
}

async fn deprovision_in_one_transaction(
    portal: &Portal,
    user_id: &str,
    actor: &str,
    now: i64,
) -> Result<DeprovisionReport, ServiceError> {
    let mut tx = portal.pool.begin_write().await?;
    // R22: sessions end at once, whatever the breaker says.
    let sessions_ended = delete_sessions_of_user(&mut tx, user_id).await?;
    // R21: so do the leaver's API tokens, each audited as ended (`api_token_ended`).
    let tokens_ended = end_tokens_of_leaver(&mut tx, user_id, actor, now).await?;
    let planned = plan(&mut tx, user_id, now).await?;
    let mut report = DeprovisionReport {
        user_id: user_id.to_owned(),
        sessions_ended,
        tokens_ended,
        ..DeprovisionReport::default()
    };
    if sessions_ended == 0 && tokens_ended == 0 && planned.is_empty() {
        // Nothing to do: write nothing, so a repeated report neither counts for the breaker nor
        // shows up twice in the trail or the NAPs' mail.
        report.already_done = true;
        return Ok(report);
    }

    let config = &portal.config.deprovisioning;
    let window_start = now - i64::from(config.window_minutes) * 60;
    let count = store::count_deprovisionings_since(&mut tx, window_start).await? + 1;
    let linked = store::count_linked_users(&mut tx).await?;
    let tripped = breaker_trips(
        &config.limits(),
        u64::try_from(count).unwrap_or(u64::MAX),
        u64::try_from(linked).unwrap_or(0),
    );
    // Once tripped, the breaker stays open until an operator has decided what it holds.
    let held = !planned.is_empty() && (tripped || store::exists_undecided_hold(&mut tx).await?);
    let deprovisioning_id = store::insert_deprovisioning(
        &mut tx,
        &store::NewDeprovisioning {
            user_id,
            actor,
            at: now,
            sessions_ended,
            held,
        },
    )
    .await?;
    insert_audit_record(
        &mut tx,
        &NewAuditRecord {
            actor,
            kind: AuditKind::UserDeprovisioned,
            domain_id: None,
            row_id: None,
            subject: Some(user_id),
            before: None,
            after: Some(json!({
                "deprovisioning": deprovisioning_id,
                "sessions_ended": sessions_ended,
                "tokens_ended": tokens_ended,
                "rows": planned.len(),
                "held": held,
                "breaker": { "count_in_window": count, "linked_users": linked, "tripped": tripped },
            })),
        },
        now,
    )
    .await?;
    if held {
        hold(&mut tx, deprovisioning_id, user_id, actor, &planned, now).await?;
        report.held = true;
        tracing::warn!(
            deprovisioning = deprovisioning_id,
            rows = planned.len(),
            count_in_window = count,
            linked_users = linked,
            "deprovisioning held by the circuit breaker for an operator"
        );
    } else {
        apply(
            &mut tx,
            portal,
            deprovisioning_id,
            user_id,
            actor,
            &planned,
            now,
            &mut report,
        )
        .await
        .map_err(failure_of_the_run)?;
    }
    tx.commit().await?;
    if report.certificates_revoked > 0 {
        portal.outbox.notify_one();
    }
    tracing::info!(
        deprovisioning = deprovisioning_id,
        sessions_ended,
        tokens_ended,
        held,
        deactivated = report.rows_deactivated,
        proposed = report.proposed,
        links_dropped = report.links_dropped,
        revoked = report.certificates_revoked,
        "user deprovisioned by the IdM"
    );
    Ok(report)
}

/// The breaker is open: records each row as held, with one audit record per domain.
async fn hold(
    conn: &mut Conn,
    deprovisioning_id: i64,
    user_id: &str,
    actor: &str,
    planned: &[PlannedRow],
    now: i64,
) -> Result<(), ServiceError> {
    let mut by_domain: BTreeMap<i64, Vec<serde_json::Value>> = BTreeMap::new();
    for p in planned {
        store::insert_item(
            conn,
            &store::NewItem {
                deprovisioning_id,
                domain_id: p.row.domain_id,
                row_id: p.row.id,
                primary_address: &p.row.primary_address,
                kind: p.kind.as_str(),
                state: "held",
                deactivated: false,
                links_dropped: 0,
                revoked: 0,
                now,
            },
        )
        .await?;
        by_domain.entry(p.row.domain_id).or_default().push(json!({
            "row": p.row.id, "primary": p.row.primary_address, "kind": p.kind.as_str(), "state": "held",
        }));
    }
    for (domain_id, rows) in by_domain {
        domain_record(
            conn,
            actor,
            domain_id,
            user_id,
            deprovisioning_id,
            rows,
            now,
        )
        .await?;
    }
    Ok(())
}

/// The per-domain `user_deprovisioned` record: what the NAPs' trail shows.
async fn domain_record(
    conn: &mut Conn,
    actor: &str,
    domain_id: i64,
    user_id: &str,
    deprovisioning_id: i64,
    rows: Vec<serde_json::Value>,
    now: i64,
) -> Result<(), ServiceError> {
    insert_audit_record(
        conn,
        &NewAuditRecord {
            actor,
            kind: AuditKind::UserDeprovisioned,
            domain_id: Some(domain_id),
            row_id: None,
            subject: Some(user_id),
            before: None,
            after: Some(json!({ "deprovisioning": deprovisioning_id, "rows": rows })),
        },
        now,
    )
    .await?;
    Ok(())
}

/// Does what `planned` says inside the caller's transaction: deactivates personal rows (or
/// proposes them), drops the leaver's links of functional and shared rows, and revokes the
/// leaver's valid certificates of every row acted on, all with one CRL signed before the commit.
#[allow(clippy::too_many_arguments)] // one use case's facts, passed once
async fn apply(
    conn: &mut Conn,
    portal: &Portal,
    deprovisioning_id: i64,
    user_id: &str,
    actor: &str,
    planned: &[PlannedRow],
    now: i64,
    report: &mut DeprovisionReport,
) -> Result<(), ServiceError> {
    let ctx = RowContext::for_system(conn, actor).await?;
    let mut revoke_rows = Vec::new();
    let mut by_domain: BTreeMap<i64, Vec<serde_json::Value>> = BTreeMap::new();
    for p in planned {
        let row = &p.row;
        let (state, deactivated, links_dropped) = match p.kind {
            LeaverRowKind::Personal if p.mode == DeprovisionMode::Propose => ("proposed", false, 0),
            LeaverRowKind::Personal => {
                if row.active {
                    apply_set_active(conn, &ctx, &[(row.id, row.version)], false, now).await?;
                }
                revoke_rows.push(row.id);
                ("applied", row.active, 0)
            }
            LeaverRowKind::Functional | LeaverRowKind::Shared => {
                let dropped = drop_links_of(conn, actor, row, user_id, now).await?;
                revoke_rows.push(row.id);
                ("applied", false, dropped)
            }
        };
        let revoked = if state == "applied" {
            row.valid_certificates
        } else {
            0
        };
        store::insert_item(
            conn,
            &store::NewItem {
                deprovisioning_id,
                domain_id: row.domain_id,
                row_id: row.id,
                primary_address: &row.primary_address,
                kind: p.kind.as_str(),
                state,
                deactivated,
                links_dropped,
                revoked,
                now,
            },
        )
        .await?;
        by_domain.entry(row.domain_id).or_default().push(json!({
            "row": row.id, "primary": row.primary_address, "kind": p.kind.as_str(),
            "state": state, "deactivated": deactivated, "links_dropped": links_dropped,
            "certificates_revoked": revoked,
        }));
        if state == "proposed" {
            report.proposed += 1;
        }
        if deactivated {
            report.rows_deactivated += 1;
        }
        report.links_dropped += links_dropped as usize;
    }
    for (domain_id, rows) in by_domain {
        domain_record(
            conn,
            actor,
            domain_id,
            user_id,
            deprovisioning_id,
            rows,
            now,
        )
        .await?;
    }
    if !revoke_rows.is_empty() {
        let records = list_valid_certificates_of_user(conn, user_id, &revoke_rows, now).await?;
        if !records.is_empty() {
            let revocation = Revocation {
                actor,
                by: Revoker::Idm,
                reason: RevocationReason::AffiliationChanged,
                now,
                copy_to: None,
            };
            revoke_all(conn, portal, &records, &revocation).await?;
            report.certificates_revoked += records.len();
        }
    }
    Ok(())
}

/// Drops the leaver's links of a row, each audited; returns how many.
async fn drop_links_of(
    conn: &mut Conn,
    actor: &str,
    row: &LeaverRowRecord,
    user_id: &str,
    now: i64,
) -> Result<i64, ServiceError> {
    let mut dropped = 0;
    for link in list_links_of_row(conn, row.id).await? {
        if link.user_id != user_id {
            continue;
        }
        delete_link(conn, row.id, &link.address).await?;
        insert_audit_record(
            conn,
            &NewAuditRecord {
                actor,
                kind: AuditKind::LinkDropped,
                domain_id: Some(row.domain_id),
                row_id: Some(row.id),
                subject: Some(&link.address),
                before: Some(json!({
                    "user_id": link.user_id,
                    "challenge": link.challenge_id,
                    "linked_at": link.linked_at,
                })),
                after: Some(json!({ "reason": "deprovisioned" })),
            },
            now,
        )
        .await?;
        dropped += 1;
    }
    Ok(dropped)
}

// ---------------------------------------------------------------------------------------------
// The worklist's proposals (R19, R22)
// ---------------------------------------------------------------------------------------------

fn proposal_of(item: ItemRecord, certificates: usize) -> DeprovisionProposal {
    let user_name = display_name(
        item.given_name.as_deref().unwrap_or(""),
        item.family_name.as_deref().unwrap_or(""),
        &item.user_id,
    );
    DeprovisionProposal {
        id: item.id,
        row_id: item.row_id,
        primary: item.primary_address,
        name: String::new(),
        user_id: item.user_id,
        user_name,
        reported_at: item.reported_by_idm_at,
        reported_by: item.actor,
        certificates,
    }
}

/// R22, R19: the open proposals of a domain set to "propose" ("the IdM says X left"), for its
/// NAPs and operators, oldest first.
pub async fn deprovision_proposals(
    portal: &Portal,
    viewer: &Viewer,
    domain: &str,
    now: i64,
) -> Result<Vec<DeprovisionProposal>, ServiceError> {
    let mut conn = portal.pool.acquire().await?;
    let ctx = RowContext::load(&mut conn, viewer, ContextFor::Reading).await?;
    let (domain_id, _) = ctx.readable_domain(domain)?;
    let items = store::list_items_of_domain(&mut conn, domain_id, "proposed").await?;
    let mut proposals = Vec::with_capacity(items.len());
    for item in items {
        let certificates =
            list_valid_certificates_of_user(&mut conn, &item.user_id, &[item.row_id], now)
                .await?
                .len();
        let row = crate::storage::rows::find_row(&mut conn, item.row_id).await?;
        let mut proposal = proposal_of(item, certificates);
        if let Some(row) = row {
            proposal.name = format!("{} {}", row.first_name, row.last_name)
                .trim()
                .to_owned();
        }
        proposals.push(proposal);
    }
    Ok(proposals)
}

/// R22, R19: a NAP accepts a proposal: the one-step leaver — the row is deactivated (if it still
/// is active) and the leaver's valid certificates for it revoked (affiliationChanged), the holder
/// mailed with a copy to the NAP, all in one transaction. Returns how many were revoked.
pub async fn accept_proposal(
    portal: &Portal,
    viewer: &Viewer,
    proposal_id: i64,
) -> Result<usize, ServiceError> {
    let now = crate::clock::now();
    let mut tx = portal.pool.begin_write().await?;
    let item = open_proposal(&mut tx, viewer, proposal_id).await?;
    let ctx = RowContext::load(&mut tx, viewer, ContextFor::Changes).await?;
    let row = crate::storage::rows::find_row(&mut tx, item.row_id)
        .await?
        .ok_or(ServiceError::NotFound(Message::NoSuchProposal {
            id: proposal_id,
        }))?;
    if row.active {
        apply_set_active(&mut tx, &ctx, &[(row.id, row.version)], false, now).await?;
    }
    let records = list_valid_certificates_of_user(&mut tx, &item.user_id, &[row.id], now).await?;
    if !records.is_empty() {
        let revocation = Revocation {
            actor: &viewer.user.user_id,
            by: Revoker::Nap,
            reason: RevocationReason::AffiliationChanged,
            now,
            copy_to: viewer.user.email.as_deref(),
        };
        revoke_all(&mut tx, portal, &records, &revocation).await?;
    }
    decide_proposal(
        &mut tx,
        viewer,
        &item,
        "accepted",
        row.active,
        records.len(),
        now,
    )
    .await?;
    tx.commit().await?;
    if !records.is_empty() {
        portal.outbox.notify_one();
    }
    tracing::info!(
        proposal = proposal_id,
        revoked = records.len(),
        "deprovisioning proposal accepted"
    );
    Ok(records.len())
}

/// R22: a NAP dismisses a proposal (the person has not left, or the row stays for another
/// reason); nothing else changes, and a repeated report of the IdM does not propose it again.
pub async fn dismiss_proposal(
    portal: &Portal,
    viewer: &Viewer,
    proposal_id: i64,
) -> Result<(), ServiceError> {
    let now = crate::clock::now();
    let mut tx = portal.pool.begin_write().await?;
    let item = open_proposal(&mut tx, viewer, proposal_id).await?;
    decide_proposal(&mut tx, viewer, &item, "dismissed", false, 0, now).await?;
    tx.commit().await?;
    tracing::info!(proposal = proposal_id, "deprovisioning proposal dismissed");
    Ok(())
}

/// An open proposal in a domain the viewer administers; anything else reads as none (Q1).
async fn open_proposal(
    conn: &mut Conn,
    viewer: &Viewer,
    id: i64,
) -> Result<ItemRecord, ServiceError> {
    if !viewer.is_nap() {
        return Err(Refusal::NotNapOfDomain.into());
    }
    store::find_item(conn, id)
        .await?
        .filter(|i| i.state == "proposed" && viewer.administers(i.domain_id))
        .ok_or(ServiceError::NotFound(Message::NoSuchProposal { id }))
}

async fn decide_proposal(
    conn: &mut Conn,
    viewer: &Viewer,
    item: &ItemRecord,
    to: &str,
    deactivated: bool,
    revoked: usize,
    now: i64,
) -> Result<(), ServiceError> {
    if !store::decide_item(conn, item.id, "proposed", to, &viewer.user.user_id, now).await? {
        return Err(ServiceError::NotFound(Message::NoSuchProposal {
            id: item.id,
        }));
    }
    let kind = if to == "accepted" {
        AuditKind::DeprovisionProposalAccepted
    } else {
        AuditKind::DeprovisionProposalDismissed
    };
    insert_audit_record(
        conn,
        &NewAuditRecord {
            actor: &viewer.user.user_id,
            kind,
            domain_id: Some(item.domain_id),
            row_id: Some(item.row_id),
            subject: Some(&item.primary_address),
            before: Some(json!({
                "proposal": item.id, "state": "proposed", "user_id": item.user_id,
                "reported_by": item.actor,
            })),
            after: Some(json!({
                "proposal": item.id, "state": to, "deactivated": deactivated,
                "certificates_revoked": revoked,
            })),
        },
        now,
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The circuit breaker's holds (operators)
// ---------------------------------------------------------------------------------------------

/// R22: the held deprovisionings that wait for an operator, oldest first.
pub async fn held_deprovisionings(
    portal: &Portal,
) -> Result<Vec<HeldDeprovisioning>, ServiceError> {
    let mut conn = portal.pool.acquire().await?;
    let holds = store::list_undecided_holds(&mut conn).await?;
    let ids: Vec<i64> = holds.iter().map(|h| h.id).collect();
    let mut rows: BTreeMap<i64, Vec<HeldRow>> = BTreeMap::new();
    for item in store::list_items_of_deprovisionings(&mut conn, &ids).await? {
        if item.state != "held" {
            continue;
        }
        let kind = LeaverRowKind::parse(&item.kind).ok_or_else(|| {
            ServiceError::Internal(format!("stored item kind {}", item.kind).into())
        })?;
        rows.entry(item.deprovisioning_id)
            .or_default()
            .push(HeldRow {
                domain: item.domain,
                primary: item.primary_address,
                kind,
            });
    }
    Ok(holds
        .into_iter()
        .map(|h| HeldDeprovisioning {
            user_name: display_name(
                h.given_name.as_deref().unwrap_or(""),
                h.family_name.as_deref().unwrap_or(""),
                &h.user_id,
            ),
            rows: rows.remove(&h.id).unwrap_or_default(),
            id: h.id,
            user_id: h.user_id,
            at: h.at,
            actor: h.actor,
        })
        .collect())
}

/// What an operator's decision on held deprovisionings did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HoldDecision {
    /// How many held deprovisionings were decided.
    pub deprovisionings: usize,
    /// What confirming did, summed (all zero for a discard).
    pub applied: DeprovisionReport,
}

/// R22: an operator (or `cli:<verb>`) confirms held deprovisionings: each is applied to the rows
/// as they are now, as if the breaker had not tripped (a personal row of a domain set to
/// "propose" becomes a proposal). All or nothing; audited with `actor`.
pub async fn confirm_holds(
    portal: &Portal,
    actor: &str,
    ids: &[i64],
    now: i64,
) -> Result<HoldDecision, ServiceError> {
    decide_holds(portal, actor, ids, now, true).await
}

/// R22: an operator (or `cli:<verb>`) discards held deprovisionings: nothing of them happens
/// (the sessions ended already). All or nothing; audited with `actor`.
pub async fn discard_holds(
    portal: &Portal,
    actor: &str,
    ids: &[i64],
    now: i64,
) -> Result<HoldDecision, ServiceError> {
    decide_holds(portal, actor, ids, now, false).await
}

/// [`confirm_holds`] for a signed-in operator.
pub async fn confirm_holds_as(
    portal: &Portal,
    viewer: &Viewer,
    ids: &[i64],
) -> Result<HoldDecision, ServiceError> {
    viewer.require_operator()?;
    confirm_holds(portal, &viewer.user.user_id, ids, crate::clock::now()).await
}

/// [`discard_holds`] for a signed-in operator.
pub async fn discard_holds_as(
    portal: &Portal,
    viewer: &Viewer,
    ids: &[i64],
) -> Result<HoldDecision, ServiceError> {
    viewer.require_operator()?;
    discard_holds(portal, &viewer.user.user_id, ids, crate::clock::now()).await
}

async fn decide_holds(
    portal: &Portal,
    actor: &str,
    ids: &[i64],
    now: i64,
    confirm: bool,
) -> Result<HoldDecision, ServiceError> {
    let ids: Vec<i64> = ids
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let (decision, item_state, kind) = if confirm {
        ("confirmed", "confirmed", AuditKind::DeprovisioningConfirmed)
    } else {
        ("discarded", "discarded", AuditKind::DeprovisioningDiscarded)
    };
    let mut tx = portal.pool.begin_write().await?;
    let mut decided = HoldDecision::default();
    for &id in &ids {
        let hold = store::find_deprovisioning(&mut tx, id)
            .await?
            .filter(|d| d.held && d.decision.is_none())
            .ok_or(ServiceError::NotFound(Message::NoSuchHold { id }))?;
        if !store::decide_hold(&mut tx, id, decision, actor, now).await? {
            return Err(ServiceError::NotFound(Message::NoSuchHold { id }));
        }
        let items = store::list_items_of_deprovisionings(&mut tx, &[id]).await?;
        for item in items.iter().filter(|i| i.state == "held") {
            store::decide_item(&mut tx, item.id, "held", item_state, actor, now).await?;
        }
        insert_audit_record(
            &mut tx,
            &NewAuditRecord {
                actor,
                kind,
                domain_id: None,
                row_id: None,
                subject: Some(&hold.user_id),
                before: Some(json!({
                    "deprovisioning": id, "held": true, "reported_by": hold.actor, "at": hold.at,
                })),
                after: Some(json!({ "deprovisioning": id, "decision": decision })),
            },
            now,
        )
        .await?;
        if confirm {
            // As of now: the rows as they are at the confirmation (the held ones are decided
            // above, so the plan sees them again).
            let planned = plan(&mut tx, &hold.user_id, now).await?;
            apply(
                &mut tx,
                portal,
                id,
                &hold.user_id,
                actor,
                &planned,
                now,
                &mut decided.applied,
            )
            .await?;
        }
        decided.deprovisionings += 1;
    }
    tx.commit().await?;
    if decided.applied.certificates_revoked > 0 {
        portal.outbox.notify_one();
    }
    tracing::info!(
        deprovisionings = decided.deprovisionings,
        decision,
        revoked = decided.applied.certificates_revoked,
        "held deprovisionings decided"
    );
    Ok(decided)
}

// ---------------------------------------------------------------------------------------------
// The domain setting
// ---------------------------------------------------------------------------------------------

/// R22: what `domain` does with a leaver's personal row; for its NAPs and operators.
pub async fn deprovision_mode(
    portal: &Portal,
    viewer: &Viewer,
    domain: &str,
) -> Result<DeprovisionMode, ServiceError> {
    let mut conn = portal.pool.acquire().await?;
    let ctx = RowContext::load(&mut conn, viewer, ContextFor::Reading).await?;
    let (domain_id, _) = ctx.readable_domain(domain)?;
    let stored = store::find_deprovision_mode(&mut conn, domain_id).await?;
    DeprovisionMode::parse(&stored)
        .ok_or_else(|| ServiceError::Internal(format!("stored deprovision mode {stored}").into()))
}

/// R22: any NAP of `domain` sets what it does with a leaver's personal row; audited. Setting it
/// to what it is changes and records nothing.
pub async fn set_deprovision_mode(
    portal: &Portal,
    viewer: &Viewer,
    domain: &str,
    mode: DeprovisionMode,
) -> Result<DeprovisionMode, ServiceError> {
    let now = crate::clock::now();
    let name = domain::address::DomainName::parse(domain)
        .map_err(|_| ServiceError::from(Refusal::NotNapOfDomain))?;
    let mut tx = portal.pool.begin_write().await?;
    let record = find_domain_by_name(&mut tx, &name)
        .await?
        .filter(|d| viewer.administers(d.id))
        .ok_or(ServiceError::from(Refusal::NotNapOfDomain))?;
    let before = store::find_deprovision_mode(&mut tx, record.id).await?;
    if before != mode.as_str() {
        store::update_deprovision_mode(&mut tx, record.id, mode.as_str()).await?;
        insert_audit_record(
            &mut tx,
            &NewAuditRecord {
                actor: &viewer.user.user_id,
                kind: AuditKind::DomainDeprovisionModeChanged,
                domain_id: Some(record.id),
                row_id: None,
                subject: Some(&record.name),
                before: Some(json!({ "deprovision_mode": before })),
                after: Some(json!({ "deprovision_mode": mode.as_str() })),
            },
            now,
        )
        .await?;
    }
    tx.commit().await?;
    tracing::info!(domain = %record.name, mode = mode.as_str(), "deprovision mode set");
    Ok(mode)
}

// ---------------------------------------------------------------------------------------------
// The NAPs' mail per sync run
// ---------------------------------------------------------------------------------------------

fn outcome_of(item: &ItemRecord) -> RunOutcome {
    match (item.state.as_str(), item.kind.as_str()) {
        ("proposed", _) => RunOutcome::Proposed,
        ("held", _) => RunOutcome::Held,
        // Decided before the run's mail went out (the trail says how).
        ("accepted" | "dismissed" | "confirmed" | "discarded", _) => RunOutcome::Decided,
        (_, "functional") => RunOutcome::NewApplicantNeeded {
            revoked: item.revoked,
        },
        (_, "personal") => RunOutcome::Deactivated {
            deactivated: item.deactivated,
            revoked: item.revoked,
        },
        _ => RunOutcome::LinkDropped {
            links: item.links_dropped,
            revoked: item.revoked,
        },
    }
}

/// R22: once a sync run is quiet (no deprovisioning for `deprovisioning.quiet_minutes`, or its
/// oldest news is `deprovisioning.max_run_minutes` old), mails
/// each NAP of each domain concerned one list of what the run did there, and the operators one
/// note when the breaker held something. Each item is claimed (`reported_at`) in the transaction
/// that queues the mails, so nothing is mailed twice, also across restarts. Returns how many
/// mails were queued.
pub async fn send_run_reports(portal: &Portal, now: i64) -> Result<usize, ServiceError> {
    let config = &portal.config.deprovisioning;
    let quiet = i64::from(config.quiet_minutes) * 60;
    let longest = i64::from(config.max_run_minutes) * 60;
    let (latest, items) = {
        let mut conn = portal.pool.acquire().await?;
        (
            store::latest_activity(&mut conn).await?,
            store::list_unreported_items(&mut conn).await?,
        )
    };
    let Some(oldest) = items.iter().map(|i| i.created_at).min() else {
        return Ok(0);
    };
    // The run is over when it has been quiet for a while; a sync that never pauses is reported
    // all the same once its oldest news is `max_run_minutes` old, so the NAPs are not kept waiting.
    let quiet_now = latest.is_some_and(|latest| now - latest >= quiet);
    if !quiet_now && now - oldest < longest {
        return Ok(0);
    }
    // Who gets it, read before the write lock (the group lookups are the digest's).
    let mut domains: BTreeMap<i64, (String, Vec<&ItemRecord>)> = BTreeMap::new();
    for item in &items {
        domains
            .entry(item.domain_id)
            .or_insert_with(|| (item.domain.clone(), Vec::new()))
            .1
            .push(item);
    }
    let leavers: BTreeSet<&str> = items.iter().map(|i| i.user_id.as_str()).collect();
    let groups: BTreeMap<i64, String> = {
        let mut conn = portal.pool.acquire().await?;
        crate::storage::domains::list_domains(&mut conn)
            .await?
            .into_iter()
            .map(|d| (d.id, d.contact_group))
            .collect()
    };
    let mut mails = Vec::new();
    for (domain_id, (domain, domain_items)) in &domains {
        let Some(group) = groups.get(domain_id) else {
            continue;
        };
        let naps = crate::digest::group_members(portal, group, now).await?;
        let entries: Vec<RunEntry> = domain_items
            .iter()
            .map(|i| RunEntry {
                user: display_name(
                    i.given_name.as_deref().unwrap_or(""),
                    i.family_name.as_deref().unwrap_or(""),
                    &i.user_id,
                ),
                primary: i.primary_address.clone(),
                outcome: outcome_of(i),
            })
            .collect();
        let link = format!("{}/domains/{}", portal.config.base_url(), domain);
        let rendered = run_mail(domain, &entries, &link);
        let recipients: Vec<&(String, String)> = naps
            .iter()
            .filter(|(user_id, _)| !leavers.contains(user_id.as_str()))
            .collect();
        if recipients.is_empty() {
            tracing::warn!(domain = %domain, "no NAP known to mail the deprovisioning run to");
        }
        for (_, email) in recipients {
            mails.push(NewOutboxMail {
                recipient: email.clone(),
                subject: rendered.subject.clone(),
                body_text: rendered.text.clone(),
                body_html: rendered.html.clone(),
                message_id: message_id(&portal.config.mail.from)?,
                challenge_id: None,
            });
        }
    }
    let held: BTreeSet<i64> = items
        .iter()
        .filter(|i| i.state == "held")
        .map(|i| i.deprovisioning_id)
        .collect();
    if !held.is_empty() {
        let link = format!("{}/operator", portal.config.base_url());
        let rendered = held_mail(held.len(), &link);
        for (_, email) in
            crate::digest::group_members(portal, &portal.config.operator_group, now).await?
        {
            mails.push(NewOutboxMail {
                recipient: email,
                subject: HELD_SUBJECT.to_owned(),
                body_text: rendered.text.clone(),
                body_html: rendered.html.clone(),
                message_id: message_id(&portal.config.mail.from)?,
                challenge_id: None,
            });
        }
    }

    let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
    let mut tx = portal.pool.begin_write().await?;
    let claimed = store::mark_items_reported(&mut tx, &ids, now).await?;
    if claimed != ids.len() as u64 {
        // Another instance (or a run of this job) reported some of them meanwhile: leave it to
        // the next look, which reads what is still unreported.
        return Ok(0);
    }
    insert_outbox_mails(&mut tx, &mails, now).await?;
    tx.commit().await?;
    if !mails.is_empty() {
        portal.outbox.notify_one();
    }
    tracing::info!(
        items = ids.len(),
        mails = mails.len(),
        "deprovisioning run reported"
    );
    Ok(mails.len())
}

/// The periodic job of R22: every minute, mails the NAPs of a sync run that has gone quiet, until
/// `shutdown` completes. Safe beside other instances (each item is claimed once).
pub async fn run_deprovisioning_job(portal: Portal, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut every = tokio::time::interval(JOB_INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!("deprovisioning report job started");
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = every.tick() => {}
        }
        if let Err(e) = send_run_reports(&portal, crate::clock::now()).await {
            tracing::error!(error = ?e, "could not mail the deprovisioning run");
        }
    }
    tracing::info!("deprovisioning report job stopped");
}
