//! CSV upload and download of a domain's address table (SPEC §4, R8).
//!
//! Two steps. [`preview`] reads the file ([`parse`]), applies the rules of the edit form to every
//! line against the table as it is, and says what each line would do: new, changed (field by
//! field, with the challenges it supersedes and the links it drops, R4–R7), unchanged, and every
//! error with its line and column; plus the table's rows the file leaves alone. [`apply`] does all
//! of it again inside one `BEGIN IMMEDIATE` transaction and writes only if there is no error and
//! the preview's fingerprint still matches: all or nothing, also if the process dies half-way
//! (SQLite rolls an uncommitted transaction back).
//!
//! Same rules, same trail (R8). Every line is checked by the edit form's own rules
//! (`RowInput::parse`, `RowFields::validate`, `check_administered`, the home-table rule,
//! portal-wide uniqueness and `RowEdit::between`), the lookups answered from the table read once
//! instead of a query per line. The writes:
//!
//! - edits that change aliases, supersede pending challenges or drop links go through
//!   `rows::apply_edit`, the core of the edit form and of deactivate/reactivate, one by one, in
//!   an order that frees an address before another row takes it;
//! - plain edits (names, comment, type, applicant, active, with no challenge or link to touch)
//!   and new rows are written in batch statements that store exactly what `rows::apply_edit` and
//!   `rows::apply_create` store, audit records included (`r08_…` tests compare both paths row by
//!   row and record by record). The one-by-one cores alone would take several times SPEC P1's
//!   budget for its 100 000 lines (bench/results.md, "Figures behind the code").

mod file;
mod plan;
mod store;

use crate::storage::Db;
use serde_json::json;

pub use domain::csv::{ApplyReport, FieldChange, LinePreview, LineStatus, Preview};
pub use file::{
    active_text, cell_value, header_name, neutralise, parse, parse_active, write_file,
    write_file_as, Column, ColumnProblem, CsvColumn, CsvLine, DownloadFormat, FileError,
    HeaderColumn, LineError, ParsedFile, TextEncoding, MAX_DATA_LINES, MAX_FILE_BYTES,
};
pub use plan::{check_lines, CheckedLine, CheckedLines};

use crate::clock;
use crate::error::ServiceError;
use crate::roles::Viewer;
use crate::rows::{apply_edit, begin_write, row_json, search_text, ContextFor, RowContext};
use crate::storage::audit::{insert_audit_record, AuditKind, NewAuditRecord};
use crate::storage::Conn;
use domain::address::EmailAddress;
use domain::edit::{Activation, RowEdit};
use domain::message::Message;
use domain::row::{Field, RowFields};

impl From<FileError> for ServiceError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::TooLarge { .. } | FileError::TooManyLines { .. } => {
                ServiceError::TooLarge(e.into())
            }
            e => ServiceError::Invalid(e.into()),
        }
    }
}

/// The plan checks every rule before anything is written; a rule that still fires while applying
/// means the plan and the rows service disagree, which is a bug, not the NAP's input.
fn plan_missed_a_rule(e: ServiceError) -> ServiceError {
    match e {
        ServiceError::Invalid(m) => {
            ServiceError::Internal(format!("the CSV plan missed a rule: {m}").into())
        }
        e => e,
    }
}

/// The domain a NAP changes: R1 for the viewer; operators who are not its NAPs may not.
fn domain_to_change(ctx: &RowContext, domain: &str) -> Result<(i64, String), ServiceError> {
    let (id, name) = ctx.readable_domain(domain)?;
    let name = name.to_string();
    ctx.require_nap_of(id)?;
    Ok((id, name))
}

/// What uploading `bytes` into the table of `domain` would do (see [`Preview`]); nothing is
/// written. Only the domain's NAPs (R1).
pub async fn preview(
    pool: &Db,
    viewer: &Viewer,
    domain: &str,
    bytes: &[u8],
) -> Result<Preview, ServiceError> {
    // A read transaction: the table is read in several queries, which must see one state.
    let mut tx = pool.begin().await?;
    let ctx = RowContext::load(&mut tx, viewer, ContextFor::Changes).await?;
    let (domain_id, domain) = domain_to_change(&ctx, domain)?;
    let file = parse(bytes)?;
    let plan = plan::plan(
        &mut tx,
        &ctx,
        domain_id,
        &domain,
        file,
        bytes,
        plan::Purpose::Preview,
    )
    .await?;
    tx.rollback().await?;
    Ok(plan.preview)
}

/// Uploads `bytes` into the table of `domain`: upsert by primary address, in one transaction,
/// only if the file has no error and `fingerprint` (from [`preview`]) still matches the file and
/// the rows it touches. Writes the rows' own audit records (as the edit form does) and one
/// `csv_applied` record with the counts.
pub async fn apply(
    pool: &Db,
    viewer: &Viewer,
    domain: &str,
    bytes: &[u8],
    fingerprint: &str,
) -> Result<ApplyReport, ServiceError> {
    let mut tx = begin_write(pool).await?;
    let report = apply_in(&mut tx, viewer, domain, bytes, Some(fingerprint)).await?;
    tx.commit().await?;
    tracing::info!(
        domain = %report.domain,
        created = report.created,
        changed = report.changed,
        unchanged = report.unchanged,
        "CSV applied"
    );
    Ok(report)
}

/// [`apply`] inside a write transaction the caller began (`rows::begin_write`) and commits: the
/// REST API's bulk apply records its `Idempotency-Key` in the same transaction, so the key is
/// claimed exactly when the rows land. `fingerprint: None` applies the file as it is now, without
/// a preview before (the API's single call plans and applies under one lock, so nothing can
/// change in between).
pub async fn apply_in(
    tx: &mut Conn,
    viewer: &Viewer,
    domain: &str,
    bytes: &[u8],
    fingerprint: Option<&str>,
) -> Result<ApplyReport, ServiceError> {
    let ctx = RowContext::load(&mut *tx, viewer, ContextFor::Changes).await?;
    let (domain_id, domain) = domain_to_change(&ctx, domain)?;
    let file = parse(bytes)?;
    let plan = plan::plan(
        &mut *tx,
        &ctx,
        domain_id,
        &domain,
        file,
        bytes,
        plan::Purpose::Apply,
    )
    .await?;
    if !plan.preview.errors.is_empty() {
        return Err(ServiceError::Invalid(Message::FileHasErrors {
            errors: plan.preview.errors,
        }));
    }
    if fingerprint.is_some_and(|f| plan.preview.fingerprint != f.trim()) {
        return Err(ServiceError::ChangedMeanwhile(
            Message::TableChangedSincePreview,
            None,
        ));
    }
    let now = clock::now();
    let (deactivated, reactivated) = plan::activation_counts(&plan);
    let mut superseded = 0;
    let mut dropped = 0;
    for (row, after) in &plan.actions.edits {
        let stored = &plan.snapshot.rows[*row];
        let outcome = apply_edit(&mut *tx, &ctx, stored, stored.record.version, after, now)
            .await
            .map_err(plan_missed_a_rule)?;
        superseded += outcome.superseded.len() as u64;
        dropped += outcome.dropped_links.len() as u64;
    }
    for batch in plan.actions.plain_edits.chunks(store::MAX_EDITS_PER_BATCH) {
        save_plain_edits(&mut *tx, &ctx.actor, &plan.snapshot, batch, now).await?;
    }
    // In address order: the indexes on the primary address and the addresses then grow at their
    // end instead of splitting pages all over (the row ids follow that order, not the file's).
    let mut creates: Vec<&(EmailAddress, RowFields)> = plan.actions.creates.iter().collect();
    creates.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    store::insert_new_rows(
        &mut *tx,
        domain_id,
        &ctx.actor,
        &creates,
        |&(primary, fields)| store::NewRow {
            primary: primary.as_str(),
            first_name: fields.first_name.as_str(),
            last_name: fields.last_name.as_str(),
            mailbox_type: fields.mailbox_type.as_str(),
            applicant: fields.applicant.as_ref().map(|a| a.as_str()),
            comment: fields.comment.as_str(),
            active: fields.active,
            aliases: fields.aliases.iter().map(|a| a.as_str()).collect(),
            search_text: search_text(primary, fields),
            audit_after: row_json(primary, fields).to_string(),
        },
        now,
    )
    .await?;
    let p = &plan.preview;
    let report = ApplyReport {
        domain: domain.clone(),
        lines: (p.new + p.changed + p.unchanged + p.invalid) as u64,
        created: plan.actions.creates.len() as u64,
        changed: (plan.actions.edits.len() + plan.actions.plain_edits.len()) as u64,
        unchanged: p.unchanged as u64,
        deactivated,
        reactivated,
        superseded_challenges: superseded,
        dropped_links: dropped,
    };
    insert_audit_record(
        &mut *tx,
        &NewAuditRecord {
            actor: &ctx.actor,
            kind: AuditKind::CsvApplied,
            domain_id: Some(domain_id),
            row_id: None,
            subject: Some(&domain),
            before: None,
            after: Some(json!({
                "lines": report.lines,
                "created": report.created,
                "changed": report.changed,
                "unchanged": report.unchanged,
                "deactivated": report.deactivated,
                "reactivated": report.reactivated,
                "superseded_challenges": report.superseded_challenges,
                "dropped_links": report.dropped_links,
                "fingerprint": plan.preview.fingerprint,
            })),
        },
        now,
    )
    .await?;
    Ok(report)
}

/// Saves edits that need nothing but the row's new values and its audit records (see
/// `plan::Actions::plain_edits`): what `rows::apply_edit` writes for them, in a few statements
/// for the whole batch instead of a few for each row.
async fn save_plain_edits(
    conn: &mut Conn,
    actor: &str,
    snapshot: &plan::Snapshot,
    batch: &[(usize, RowFields)],
    now: i64,
) -> Result<(), ServiceError> {
    let rows: Vec<store::EditedRow> = batch
        .iter()
        .map(|(row, after)| store::EditedRow {
            id: snapshot.rows[*row].record.id,
            version: snapshot.rows[*row].record.version,
            first_name: after.first_name.as_str(),
            last_name: after.last_name.as_str(),
            mailbox_type: after.mailbox_type.as_str(),
            applicant: after.applicant.as_ref().map(|a| a.as_str()),
            comment: after.comment.as_str(),
            active: after.active,
        })
        .collect();
    if store::update_rows(conn, &rows, now).await? != rows.len() as u64 {
        return Err(ServiceError::ChangedMeanwhile(
            Message::TableChangedSincePreview,
            None,
        ));
    }
    let mut records = Vec::with_capacity(batch.len());
    let mut texts = Vec::new();
    for (row, after) in batch {
        let stored = &snapshot.rows[*row];
        let c = RowEdit::between(&stored.fields, after);
        let record = |kind, before: String, after: String| store::RowAuditRecord {
            domain_id: stored.record.domain_id,
            row_id: stored.record.id,
            kind,
            subject: stored.primary.as_str(),
            before: Some(before),
            after: Some(after),
        };
        // The records, and their order, of `rows::apply_edit`.
        if c.changed_fields.iter().any(|f| *f != Field::Active) {
            records.push(record(
                AuditKind::RowEdited,
                row_json(&stored.primary, &stored.fields).to_string(),
                row_json(&stored.primary, after).to_string(),
            ));
        }
        if let Some(activation) = c.activation {
            let kind = match activation {
                Activation::Deactivated => AuditKind::RowDeactivated,
                Activation::Reactivated => AuditKind::RowReactivated,
            };
            records.push(record(
                kind,
                json!({ "active": stored.fields.active }).to_string(),
                json!({ "active": after.active }).to_string(),
            ));
        }
        if stored.fields.first_name != after.first_name
            || stored.fields.last_name != after.last_name
        {
            texts.push((
                stored.record.id,
                stored.record.domain_id,
                search_text(&stored.primary, after),
            ));
        }
    }
    store::insert_row_audit_records(conn, actor, &records, now).await?;
    store::put_row_search_texts(conn, &texts).await?;
    Ok(())
}

/// The table of `domain` as a CSV file in the upload's format (see [`write_file`]), rows by
/// primary address. Its NAPs and operators (who may read every table).
pub async fn download(pool: &Db, viewer: &Viewer, domain: &str) -> Result<String, ServiceError> {
    download_as(pool, viewer, domain, DownloadFormat::Standard).await
}

/// [`download`] in a chosen format (see [`write_file_as`]).
pub async fn download_as(
    pool: &Db,
    viewer: &Viewer,
    domain: &str,
    format: DownloadFormat,
) -> Result<String, ServiceError> {
    let mut tx = pool.begin().await?;
    let ctx = RowContext::load(&mut tx, viewer, ContextFor::Reading).await?;
    let (domain_id, _) = ctx.readable_domain(domain)?;
    let snapshot = plan::Snapshot::load(&mut tx, domain_id).await?;
    tx.rollback().await?;
    Ok(write_file_as(
        snapshot.rows.iter().map(|r| (&r.primary, &r.fields)),
        format,
    ))
}
