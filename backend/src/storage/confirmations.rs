//! Confirming a challenge (R10, R11): finding it by its token's hash, storing the confirmation
//! so that it happens once only, and linking the address.

use domain::handover::{ConfirmingClient, ValidationEvidence};
use sqlx::FromRow;

use super::Conn;

/// A challenge with what the confirmation page shows of its row.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ChallengeRecord {
    /// Database id.
    pub id: i64,
    /// Its row.
    pub row_id: i64,
    /// The row's domain.
    pub domain_id: i64,
    /// The address whose control is being proven.
    pub address: String,
    /// Who received the mail.
    pub recipient: String,
    /// Stored state (`pending`, …; see `domain::ChallengeState`).
    pub state: String,
    /// When it was sent.
    pub created_at: i64,
    /// When it stops working.
    pub expires_at: i64,
    /// Who confirmed it, if anyone.
    pub confirmed_by: Option<String>,
    /// The row's primary address.
    pub primary_address: String,
    /// The row's first name.
    pub first_name: String,
    /// The row's last name.
    pub last_name: String,
    /// `personal` or `functional`.
    pub mailbox_type: String,
    /// Whether the row is active (R7).
    pub active: bool,
}

/// The challenge whose token has this SHA-256 hash.
pub async fn find_challenge_by_token_hash(
    conn: &mut Conn,
    token_hash: &[u8; 32],
) -> sqlx::Result<Option<ChallengeRecord>> {
    crate::run!(conn, ex => sqlx::query_as(
        "SELECT c.id, c.row_id, r.domain_id, c.address, c.recipient, c.state, c.created_at,
                c.expires_at, c.confirmed_by, r.primary_address, r.first_name, r.last_name,
                r.mailbox_type, r.active
         FROM challenges c JOIN mailbox_rows r ON r.id = c.row_id
         WHERE c.token_hash = $1",
    )
    .bind(&token_hash[..])
    .fetch_optional(ex)
    .await)
}

/// Confirms a challenge if, and only if, it is still pending; returns whether it was. Two racing
/// confirmations cannot both see `true` (R10).
///
/// The confirming client's IP address and user agent are kept as validation evidence (R20).
pub async fn confirm_pending_challenge(
    conn: &mut Conn,
    id: i64,
    user_id: &str,
    client: &ConfirmingClient,
    now: i64,
) -> sqlx::Result<bool> {
    let done = crate::run!(conn, ex => sqlx::query(
        "UPDATE challenges SET state = 'confirmed', confirmed_by = $1, resolved_at = $2,
                confirmed_ip = $3, confirmed_user_agent = $4
         WHERE id = $5 AND state = 'pending'",
    )
    .bind(user_id)
    .bind(now)
    .bind(client.ip.as_deref())
    .bind(client.user_agent.as_deref())
    .bind(id)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(done.rows_affected() == 1)
}

/// The user ID an address is linked to, if any.
pub async fn find_link_user(conn: &mut Conn, address: &str) -> sqlx::Result<Option<String>> {
    crate::run!(conn, ex => sqlx::query_scalar("SELECT user_id FROM links WHERE address = $1")
        .bind(address)
        .fetch_optional(ex)
        .await)
}

/// Links an address to a user, replacing any earlier link of the address (R11).
pub async fn put_link(
    conn: &mut Conn,
    address: &str,
    row_id: i64,
    user_id: &str,
    challenge_id: i64,
    now: i64,
) -> sqlx::Result<()> {
    // INSERT … ON CONFLICT … DO UPDATE is spelled the same in PostgreSQL.
    crate::run!(conn, ex => sqlx::query(
        "INSERT INTO links (address, row_id, user_id, challenge_id, linked_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (address) DO UPDATE SET
             row_id = excluded.row_id,
             user_id = excluded.user_id,
             challenge_id = excluded.challenge_id,
             linked_at = excluded.linked_at",
    )
    .bind(address)
    .bind(row_id)
    .bind(user_id)
    .bind(challenge_id)
    .bind(now)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}

/// R20: the confirmations behind the links of some of a user's addresses on a row, by address:
/// the evidence an issued certificate's audit record names.
pub async fn list_link_evidence(
    conn: &mut Conn,
    row_id: i64,
    user_id: &str,
) -> sqlx::Result<Vec<ValidationEvidence>> {
    let rows: Vec<EvidenceRow> = crate::run!(conn, ex => sqlx::query_as(
        "SELECT l.address, c.id AS challenge_id, c.recipient, c.created_at AS sent_at,
                c.resolved_at AS confirmed_at, c.confirmed_by, c.confirmed_ip AS ip,
                c.confirmed_user_agent AS user_agent
         FROM links l JOIN challenges c ON c.id = l.challenge_id
         WHERE l.row_id = $1 AND l.user_id = $2
         ORDER BY l.address",
    )
    .bind(row_id)
    .bind(user_id)
    .fetch_all(ex)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|r| ValidationEvidence {
            address: r.address,
            challenge_id: r.challenge_id,
            recipient: r.recipient,
            sent_at: r.sent_at,
            // A link's challenge is confirmed: both are set (CHECK in the schema).
            confirmed_at: r.confirmed_at.unwrap_or_default(),
            confirmed_by: r.confirmed_by.unwrap_or_default(),
            ip: r.ip,
            user_agent: r.user_agent,
        })
        .collect())
}

/// A link's confirmation as [`list_link_evidence`] reads it.
#[derive(FromRow)]
struct EvidenceRow {
    address: String,
    challenge_id: i64,
    recipient: String,
    sent_at: i64,
    confirmed_at: Option<i64>,
    confirmed_by: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
}
