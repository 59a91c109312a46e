//! The append-only audit trail (R16).

use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use super::Conn;

/// What an audit record is about. The spellings are the SQL `CHECK` list of `audit_records.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// An operator registered a domain.
    DomainRegistered,
    /// An operator changed a domain's contact group.
    DomainContactGroupChanged,
    /// A NAP created a row.
    RowCreated,
    /// A NAP edited a row's fields.
    RowEdited,
    /// A NAP deleted a row that never had a challenge (R3).
    RowDeleted,
    /// A NAP deactivated a row (R7).
    RowDeactivated,
    /// A NAP reactivated a row (R7).
    RowReactivated,
    /// A NAP applied a CSV upload (one record for the upload; the rows it changed have their own).
    CsvApplied,
    /// A challenge was sent (R9).
    ChallengeSent,
    /// A challenge was confirmed (R10, R11).
    ChallengeConfirmed,
    /// A pending challenge was superseded (R4, R5, R9).
    ChallengeSuperseded,
    /// An address was linked to a user ID (R11).
    LinkMade,
    /// A link was dropped (R4, R5).
    LinkDropped,
    /// A certificate was issued (R13).
    CertificateIssued,
    /// A certificate was revoked (R15).
    CertificateRevoked,
    /// A local account was created.
    AccountCreated,
    /// A local account was changed (password, names, groups).
    AccountChanged,
    /// An operator made a SCIM bearer token for an IdM (R22); the subject is its name.
    ScimTokenCreated,
    /// An operator revoked a SCIM bearer token (R22).
    ScimTokenRevoked,
    /// The IdM created a SCIM User (R22); the subject is the portal user ID.
    ScimUserCreated,
    /// The IdM changed a SCIM User's stored resource (R22), e.g. deactivated the person.
    ScimUserChanged,
    /// The IdM deleted a SCIM User (R22).
    ScimUserDeleted,
    /// The IdM reported a user gone and the portal deprovisioned them (R22); the subject is the
    /// user ID. One record without a domain (sessions, breaker) and one per domain concerned.
    UserDeprovisioned,
    /// An operator confirmed a deprovisioning the circuit breaker held (R22).
    DeprovisioningConfirmed,
    /// An operator discarded a deprovisioning the circuit breaker held (R22).
    DeprovisioningDiscarded,
    /// A NAP accepted a deprovisioning proposal of the worklist (R22, R19).
    DeprovisionProposalAccepted,
    /// A NAP dismissed a deprovisioning proposal of the worklist (R22).
    DeprovisionProposalDismissed,
    /// A NAP changed what the domain does with a leaver's personal row (R22).
    DomainDeprovisionModeChanged,
    /// A NAP made an API token (R21); one record per domain of the token, the subject its name.
    ApiTokenCreated,
    /// The creator or an operator revoked an API token (R21).
    ApiTokenRevoked,
    /// The portal ended an API token: its creator left (R22) or is no NAP of its domains any more.
    ApiTokenEnded,
}

impl AuditKind {
    /// Every kind, for exhaustive checks against the schema.
    pub const ALL: [AuditKind; 31] = [
        AuditKind::DomainRegistered,
        AuditKind::DomainContactGroupChanged,
        AuditKind::RowCreated,
        AuditKind::RowEdited,
        AuditKind::RowDeleted,
        AuditKind::RowDeactivated,
        AuditKind::RowReactivated,
        AuditKind::CsvApplied,
        AuditKind::ChallengeSent,
        AuditKind::ChallengeConfirmed,
        AuditKind::ChallengeSuperseded,
        AuditKind::LinkMade,
        AuditKind::LinkDropped,
        AuditKind::CertificateIssued,
        AuditKind::CertificateRevoked,
        AuditKind::AccountCreated,
        AuditKind::AccountChanged,
        AuditKind::ScimTokenCreated,
        AuditKind::ScimTokenRevoked,
        AuditKind::ScimUserCreated,
        AuditKind::ScimUserChanged,
        AuditKind::ScimUserDeleted,
        AuditKind::UserDeprovisioned,
        AuditKind::DeprovisioningConfirmed,
        AuditKind::DeprovisioningDiscarded,
        AuditKind::DeprovisionProposalAccepted,
        AuditKind::DeprovisionProposalDismissed,
        AuditKind::DomainDeprovisionModeChanged,
        AuditKind::ApiTokenCreated,
        AuditKind::ApiTokenRevoked,
        AuditKind::ApiTokenEnded,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::DomainRegistered => "domain_registered",
            AuditKind::DomainContactGroupChanged => "domain_contact_group_changed",
            AuditKind::RowCreated => "row_created",
            AuditKind::RowEdited => "row_edited",
            AuditKind::RowDeleted => "row_deleted",
            AuditKind::RowDeactivated => "row_deactivated",
            AuditKind::RowReactivated => "row_reactivated",
            AuditKind::CsvApplied => "csv_applied",
            AuditKind::ChallengeSent => "challenge_sent",
            AuditKind::ChallengeConfirmed => "challenge_confirmed",
            AuditKind::ChallengeSuperseded => "challenge_superseded",
            AuditKind::LinkMade => "link_made",
            AuditKind::LinkDropped => "link_dropped",
            AuditKind::CertificateIssued => "certificate_issued",
            AuditKind::CertificateRevoked => "certificate_revoked",
            AuditKind::AccountCreated => "account_created",
            AuditKind::AccountChanged => "account_changed",
            AuditKind::ScimTokenCreated => "scim_token_created",
            AuditKind::ScimTokenRevoked => "scim_token_revoked",
            AuditKind::ScimUserCreated => "scim_user_created",
            AuditKind::ScimUserChanged => "scim_user_changed",
            AuditKind::ScimUserDeleted => "scim_user_deleted",
            AuditKind::UserDeprovisioned => "user_deprovisioned",
            AuditKind::DeprovisioningConfirmed => "deprovisioning_confirmed",
            AuditKind::DeprovisioningDiscarded => "deprovisioning_discarded",
            AuditKind::DeprovisionProposalAccepted => "deprovision_proposal_accepted",
            AuditKind::DeprovisionProposalDismissed => "deprovision_proposal_dismissed",
            AuditKind::DomainDeprovisionModeChanged => "domain_deprovision_mode_changed",
            AuditKind::ApiTokenCreated => "api_token_created",
            AuditKind::ApiTokenRevoked => "api_token_revoked",
            AuditKind::ApiTokenEnded => "api_token_ended",
        }
    }
}

/// An audit record to write.
#[derive(Debug, Clone)]
pub struct NewAuditRecord<'a> {
    /// User ID, or `cli:<verb>` / `system`.
    pub actor: &'a str,
    /// What happened.
    pub kind: AuditKind,
    /// The domain concerned, if any.
    pub domain_id: Option<i64>,
    /// The row concerned, if any.
    pub row_id: Option<i64>,
    /// An address, serial or account id the record is about.
    pub subject: Option<&'a str>,
    /// State before, as JSON.
    pub before: Option<serde_json::Value>,
    /// State after, as JSON.
    pub after: Option<serde_json::Value>,
}

/// An audit record as stored.
#[derive(Debug, Clone, FromRow)]
pub struct AuditRecord {
    /// Database id (ascending in time).
    pub id: i64,
    /// When.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// Domain concerned.
    pub domain_id: Option<i64>,
    /// Row concerned.
    pub row_id: Option<i64>,
    /// What (an `AuditKind` spelling).
    pub kind: String,
    /// Address, serial or account id.
    pub subject: Option<String>,
    /// State before, JSON.
    pub before: Option<String>,
    /// State after, JSON.
    pub after: Option<String>,
}

/// One record of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, FromRow)]
pub struct AuditEntry {
    /// The record's number: later records have larger ones.
    #[serde(default)]
    pub id: i64,
    /// When (Unix seconds).
    pub at: i64,
    /// Who: a user ID, or `cli:<verb>` / `system…`.
    pub actor: String,
    /// What: an [`AuditKind`] spelling.
    pub kind: String,
    /// About which address (or serial, account).
    pub subject: Option<String>,
    /// State before, as JSON.
    pub before: Option<String>,
    /// State after, as JSON.
    pub after: Option<String>,
}

/// Appends one record. Call it inside the transaction of the change it describes.
pub async fn insert_audit_record(
    conn: &mut Conn,
    record: &NewAuditRecord<'_>,
    now: i64,
) -> sqlx::Result<()> {
    crate::run!(conn, ex => sqlx::query(
        "INSERT INTO audit_records (at, actor, domain_id, row_id, kind, subject, before, after)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(now)
    .bind(record.actor)
    .bind(record.domain_id)
    .bind(record.row_id)
    .bind(record.kind.as_str())
    .bind(record.subject)
    .bind(record.before.as_ref().map(|v| v.to_string()))
    .bind(record.after.as_ref().map(|v| v.to_string()))
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}

/// A domain's records, newest first.
pub async fn list_audit_records_of_domain(
    conn: &mut Conn,
    domain_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<AuditRecord>> {
    crate::run!(conn, ex => sqlx::query_as(
        "SELECT id, at, actor, domain_id, row_id, kind, subject, before, after FROM audit_records
         WHERE domain_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(domain_id)
    .bind(limit)
    .fetch_all(ex)
    .await)
}

/// Which records of a domain to read.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery<'a> {
    /// The domain.
    pub domain_id: i64,
    /// Only records of the rows that have, or had, this address (normalised): rows holding it now,
    /// and rows whose records name it (a deleted row, a removed alias).
    pub address: Option<&'a str>,
    /// Only records by this actor.
    pub actor: Option<&'a str>,
    /// Only records of this kind.
    pub kind: Option<AuditKind>,
    /// Only records at or after this time.
    pub from: Option<i64>,
    /// Only records at or before this time.
    pub to: Option<i64>,
    /// Only records older than this one (a smaller id): where the API's next page starts.
    pub before_id: Option<i64>,
    /// At most this many records.
    pub limit: i64,
}

/// A domain's records matching `query`, newest first.
pub async fn list_audit_records(
    conn: &mut Conn,
    query: &AuditQuery<'_>,
) -> sqlx::Result<Vec<AuditEntry>> {
    crate::run!(conn, ex => {
    let mut q = sqlx::QueryBuilder::new(
        "SELECT id, at, actor, kind, subject, before, after FROM audit_records
         WHERE domain_id = ",
    );
    q.push_bind(query.domain_id);
    if let Some(address) = query.address {
        q.push(" AND (subject = ")
            .push_bind(address)
            .push(" OR row_id IN (SELECT row_id FROM addresses WHERE address = ")
            .push_bind(address)
            .push(") OR row_id IN (SELECT row_id FROM audit_records WHERE domain_id = ")
            .push_bind(query.domain_id)
            .push(" AND subject = ")
            .push_bind(address)
            .push(" AND row_id IS NOT NULL))");
    }
    if let Some(actor) = query.actor {
        q.push(" AND actor = ").push_bind(actor);
    }
    if let Some(kind) = query.kind {
        q.push(" AND kind = ").push_bind(kind.as_str());
    }
    if let Some(from) = query.from {
        q.push(" AND at >= ").push_bind(from);
    }
    if let Some(to) = query.to {
        q.push(" AND at <= ").push_bind(to);
    }
    if let Some(before_id) = query.before_id {
        q.push(" AND id < ").push_bind(before_id);
    }
    q.push(" ORDER BY id DESC LIMIT ").push_bind(query.limit);
    q.build_query_as().fetch_all(ex).await
    })
}

/// The `certificate_issued` records of a row: each certificate's serial with the record's `after`
/// JSON, which holds its validation evidence (R20).
pub async fn list_issue_records_of_row(
    conn: &mut Conn,
    row_id: i64,
) -> sqlx::Result<Vec<(String, Option<String>)>> {
    crate::run!(conn, ex => sqlx::query_as(
        "SELECT subject, after FROM audit_records
         WHERE row_id = $1 AND kind = 'certificate_issued' AND subject IS NOT NULL",
    )
    .bind(row_id)
    .fetch_all(ex)
    .await)
}
