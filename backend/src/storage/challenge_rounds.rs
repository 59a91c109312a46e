//! Sending challenges (R9) in bulk: a "send challenges" click may cover 10 000 rows and must be
//! stored within a second (SPEC P3), so every function here takes many rows at once and does a
//! fixed number of statements per chunk instead of a few per row.
//!
//! Lists of ids go in as one JSON array parameter (`json_each`), inserts as multi-row `VALUES`
//! in chunks of a fixed size, so each statement is prepared once and reused.

use std::collections::HashMap;

use sqlx::{FromRow, QueryBuilder};

use super::audit::NewAuditRecord;
use super::Conn;

/// Most records in one multi-row `INSERT`: far below SQLite's 32 766 parameters per statement.
const INSERT_CHUNK: usize = 500;

fn json_ids(ids: &[i64]) -> String {
    serde_json::to_string(ids).expect("numbers serialise")
}

/// What a challenge round needs of a row.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct RoundRow {
    /// Database id.
    pub id: i64,
    /// The domain whose table it is in (R1).
    pub domain_id: i64,
    /// The primary address.
    pub primary_address: String,
    /// First name (for the mail's greeting).
    pub first_name: String,
    /// Last name (a functional mailbox's name).
    pub last_name: String,
    /// `personal` or `functional`.
    pub mailbox_type: String,
    /// Applicant of a functional row.
    pub applicant_address: Option<String>,
    /// R7.
    pub active: bool,
}

/// The rows with the given ids that exist, by id.
pub async fn list_rows_for_round(conn: &mut Conn, row_ids: &[i64]) -> sqlx::Result<Vec<RoundRow>> {
    if row_ids.is_empty() {
        return Ok(Vec::new());
    }
    crate::run!(conn, ex => sqlx::query_as(
        sqlx::AssertSqlSafe(crate::storage::engine::dialect(PG, "SELECT id, domain_id, primary_address, first_name, last_name, mailbox_type,
                applicant_address, active
         FROM mailbox_rows WHERE id IN (SELECT CAST(value AS BIGINT) FROM json_each($1)) ORDER BY id")),
    )
    .bind(json_ids(row_ids))
    .fetch_all(ex)
    .await)
}

/// The aliases of the given rows as `(row_id, address)`, by row and in the NAP's order.
pub async fn list_aliases_of_rows(
    conn: &mut Conn,
    row_ids: &[i64],
) -> sqlx::Result<Vec<(i64, String)>> {
    if row_ids.is_empty() {
        return Ok(Vec::new());
    }
    crate::run!(conn, ex => sqlx::query_as(
        sqlx::AssertSqlSafe(crate::storage::engine::dialect(PG, "SELECT row_id, address FROM addresses
         WHERE row_id IN (SELECT CAST(value AS BIGINT) FROM json_each($1)) AND kind = 'alias'
         ORDER BY row_id, position, address")),
    )
    .bind(json_ids(row_ids))
    .fetch_all(ex)
    .await)
}

/// The linked addresses of some rows with their users: what a new round suspends (R18).
pub async fn list_links_of_rows(
    conn: &mut Conn,
    row_ids: &[i64],
) -> sqlx::Result<Vec<(String, String)>> {
    if row_ids.is_empty() {
        return Ok(Vec::new());
    }
    crate::run!(conn, ex => sqlx::query_as(
        sqlx::AssertSqlSafe(crate::storage::engine::dialect(PG, "SELECT address, user_id FROM links WHERE row_id IN (SELECT CAST(value AS BIGINT) FROM json_each($1))")),
    )
    .bind(json_ids(row_ids))
    .fetch_all(ex)
    .await)
}

/// The active rows of a domain that have at least one address linked to nobody: what "send to
/// every unconfirmed address" covers.
pub async fn list_unconfirmed_row_ids_of_domain(
    conn: &mut Conn,
    domain_id: i64,
) -> sqlx::Result<Vec<i64>> {
    crate::run!(conn, ex => sqlx::query_scalar(
        "SELECT r.id FROM mailbox_rows r
         WHERE r.domain_id = $1 AND r.active = TRUE
           AND EXISTS (SELECT 1 FROM addresses a WHERE a.row_id = r.id
                       AND NOT EXISTS (SELECT 1 FROM links l WHERE l.address = a.address))
         ORDER BY r.id",
    )
    .bind(domain_id)
    .fetch_all(ex)
    .await)
}

/// A pending challenge that a new round superseded.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SupersededOfRow {
    /// Database id.
    pub id: i64,
    /// Its row.
    pub row_id: i64,
    /// The address it was for.
    pub address: String,
    /// Who received it.
    pub recipient: String,
    /// When it was sent.
    pub created_at: i64,
}

/// Supersedes every pending challenge of the given rows (R9: a new round replaces the old one)
/// and returns them by id. Like `challenges::supersede_pending_challenges_of_row`, for many rows
/// in one statement; it also catches pending challenges past their lifetime, which could not be
/// confirmed either way (see `domain::Challenge::supersede`).
pub async fn supersede_pending_challenges_of_rows(
    conn: &mut Conn,
    row_ids: &[i64],
    now: i64,
) -> sqlx::Result<Vec<SupersededOfRow>> {
    if row_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut superseded: Vec<SupersededOfRow> = crate::run!(conn, ex => sqlx::query_as(
        sqlx::AssertSqlSafe(crate::storage::engine::dialect(PG, "UPDATE challenges SET state = 'superseded', resolved_at = $1
         WHERE row_id IN (SELECT CAST(value AS BIGINT) FROM json_each($2)) AND state = 'pending'
         RETURNING id, row_id, address, recipient, created_at")),
    )
    .bind(now)
    .bind(json_ids(row_ids))
    .fetch_all(ex)
    .await)?;
    superseded.sort_by_key(|c| c.id);
    Ok(superseded)
}

/// A challenge to store.
#[derive(Debug, Clone)]
pub struct NewChallenge {
    /// Its row.
    pub row_id: i64,
    /// The address whose control is being proven.
    pub address: String,
    /// Where the mail goes.
    pub recipient: String,
    /// SHA-256 of the token; the token itself is never stored.
    pub token_hash: [u8; 32],
    /// When the link stops working.
    pub expires_at: i64,
}

/// Stores pending challenges sent at `now` and returns their ids by token hash (the one column
/// that tells them apart for certain, whatever order `RETURNING` gives).
pub async fn insert_challenges(
    conn: &mut Conn,
    challenges: &[NewChallenge],
    now: i64,
) -> sqlx::Result<HashMap<[u8; 32], i64>> {
    let mut ids = HashMap::with_capacity(challenges.len());
    for chunk in challenges.chunks(INSERT_CHUNK) {
        let returned: Vec<(i64, Vec<u8>)> = crate::run!(conn, ex => {
        let mut q: QueryBuilder<_> = QueryBuilder::new(
            "INSERT INTO challenges (row_id, address, recipient, token_hash, state, created_at,
                 expires_at) ",
        );
        q.push_values(chunk, |mut b, c| {
            b.push_bind(c.row_id)
                .push_bind(&c.address)
                .push_bind(&c.recipient)
                .push_bind(&c.token_hash[..])
                .push("'pending'")
                .push_bind(now)
                .push_bind(c.expires_at);
        });
        q.push(" RETURNING id, token_hash");
        q.build_query_as().fetch_all(ex).await
        })?;
        for (id, hash) in returned {
            if let Ok(hash) = <[u8; 32]>::try_from(hash.as_slice()) {
                ids.insert(hash, id);
            }
        }
    }
    Ok(ids)
}

/// Marks rows as challenged (R3: from now on they can only be deactivated, not deleted). Not an
/// edit: the version stays, so a NAP's open edit of the row is not refused for it.
pub async fn mark_rows_challenged(conn: &mut Conn, row_ids: &[i64]) -> sqlx::Result<()> {
    if row_ids.is_empty() {
        return Ok(());
    }
    crate::run!(conn, ex => sqlx::query(
        sqlx::AssertSqlSafe(crate::storage::engine::dialect(PG, "UPDATE mailbox_rows SET challenged = TRUE
         WHERE id IN (SELECT CAST(value AS BIGINT) FROM json_each($1)) AND challenged = FALSE")),
    )
    .bind(json_ids(row_ids))
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}

/// Appends many audit records at `now` in few statements; the bulk twin of
/// `audit::insert_audit_record`.
pub async fn insert_audit_records(
    conn: &mut Conn,
    records: &[NewAuditRecord<'_>],
    now: i64,
) -> sqlx::Result<()> {
    for chunk in records.chunks(INSERT_CHUNK) {
        crate::run!(conn, ex => {
        let mut q: QueryBuilder<_> = QueryBuilder::new(
            "INSERT INTO audit_records (at, actor, domain_id, row_id, kind, subject, before, after) ",
        );
        q.push_values(chunk, |mut b, r| {
            b.push_bind(now)
                .push_bind(r.actor)
                .push_bind(r.domain_id)
                .push_bind(r.row_id)
                .push_bind(r.kind.as_str())
                .push_bind(r.subject)
                .push_bind(r.before.as_ref().map(|v| v.to_string()))
                .push_bind(r.after.as_ref().map(|v| v.to_string()));
        });
        q.build().execute(ex).await.map(crate::storage::engine::Done::from)
        })?;
    }
    Ok(())
}
