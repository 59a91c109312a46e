//! Challenges (R9, R10): what editing a row does to them.

use sqlx::FromRow;

use super::Conn;

/// A challenge that an edit superseded.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SupersededChallenge {
    /// Database id.
    pub id: i64,
    /// The address it was for.
    pub address: String,
    /// Who received it.
    pub recipient: String,
    /// When it was sent.
    pub created_at: i64,
}

/// Supersedes every pending challenge of a row (R4, R5, R9) and returns them, oldest first.
///
/// Also catches pending challenges past their lifetime that no sweeper has marked yet: they
/// could not be confirmed either way (see `domain::Challenge::supersede`).
pub async fn supersede_pending_challenges_of_row(
    conn: &mut Conn,
    row_id: i64,
    now: i64,
) -> sqlx::Result<Vec<SupersededChallenge>> {
    let mut superseded: Vec<SupersededChallenge> = crate::run!(conn, ex => sqlx::query_as(
        "UPDATE challenges SET state = 'superseded', resolved_at = $1
         WHERE row_id = $2 AND state = 'pending'
         RETURNING id, address, recipient, created_at",
    )
    .bind(now)
    .bind(row_id)
    .fetch_all(ex)
    .await)?;
    superseded.sort_by_key(|c| c.id);
    Ok(superseded)
}

/// How many pending challenges a row has (what superseding them would touch).
pub async fn count_pending_challenges_of_row(conn: &mut Conn, row_id: i64) -> sqlx::Result<i64> {
    crate::run!(conn, ex => sqlx::query_scalar("SELECT COUNT(*) FROM challenges WHERE row_id = $1 AND state = 'pending'")
        .bind(row_id)
        .fetch_one(ex)
        .await)
}
