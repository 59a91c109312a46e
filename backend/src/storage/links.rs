//! Links: which user ID has proven control of which address (R11), and dropping them (R4, R5).

use sqlx::FromRow;

use super::Conn;

/// A link as stored, with the linked user's name for messages.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct LinkRecord {
    /// The linked address.
    pub address: String,
    /// The user ID it is linked to.
    pub user_id: String,
    /// The confirmation that made it.
    pub challenge_id: i64,
    /// When it was made.
    pub linked_at: i64,
    /// The user's given name (IdM, last login).
    pub given_name: String,
    /// The user's family name.
    pub family_name: String,
}

/// The links of a row's addresses, by address.
pub async fn list_links_of_row(conn: &mut Conn, row_id: i64) -> sqlx::Result<Vec<LinkRecord>> {
    crate::run!(conn, ex => sqlx::query_as(
        "SELECT l.address, l.user_id, l.challenge_id, l.linked_at, u.given_name, u.family_name
         FROM links l JOIN users u ON u.id = l.user_id
         WHERE l.row_id = $1 ORDER BY l.address",
    )
    .bind(row_id)
    .fetch_all(ex)
    .await)
}

/// Drops the link of one address of a row, if it has one.
pub async fn delete_link(conn: &mut Conn, row_id: i64, address: &str) -> sqlx::Result<bool> {
    let done = crate::run!(conn, ex => sqlx::query("DELETE FROM links WHERE row_id = $1 AND address = $2")
        .bind(row_id)
        .bind(address)
        .execute(ex)
        .await.map(crate::storage::engine::Done::from))?;
    Ok(done.rows_affected() == 1)
}
