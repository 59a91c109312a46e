//! Idempotency keys of the REST API's bulk apply (migration 0014).

use super::Conn;

/// The first answer given for a key.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredKey {
    /// SHA-256 of the request that claimed the key.
    pub request_hash: Vec<u8>,
    /// Its answer's HTTP status.
    pub response_status: i64,
    /// Its answer's JSON.
    pub response_body: String,
}

/// Deletes the keys that expired by `now`; returns how many.
pub async fn delete_expired_keys(conn: &mut Conn, now: i64) -> sqlx::Result<u64> {
    let done = crate::run!(conn, ex => sqlx::query("DELETE FROM api_idempotency_keys WHERE expires_at <= $1")
        .bind(now)
        .execute(ex)
        .await.map(crate::storage::engine::Done::from))?;
    Ok(done.rows_affected())
}

/// The unexpired record of a token's key.
pub async fn find_key(
    conn: &mut Conn,
    token_id: i64,
    key: &str,
    now: i64,
) -> sqlx::Result<Option<StoredKey>> {
    crate::run!(conn, ex => sqlx::query_as(
        "SELECT request_hash, response_status, response_body FROM api_idempotency_keys \
         WHERE token_id = $1 AND idempotency_key = $2 AND expires_at > $3",
    )
    .bind(token_id)
    .bind(key)
    .bind(now)
    .fetch_optional(ex)
    .await)
}

/// A key's record, written in the transaction that applied its request.
pub struct NewKey<'a> {
    pub token_id: i64,
    pub key: &'a str,
    pub request_hash: &'a [u8],
    pub response_status: i64,
    pub response_body: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Records a key with its answer.
pub async fn insert_key(conn: &mut Conn, key: &NewKey<'_>) -> sqlx::Result<()> {
    crate::run!(conn, ex => sqlx::query(
        "INSERT INTO api_idempotency_keys (token_id, idempotency_key, request_hash, \
         response_status, response_body, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(key.token_id)
    .bind(key.key)
    .bind(key.request_hash)
    .bind(key.response_status)
    .bind(key.response_body)
    .bind(key.created_at)
    .bind(key.expires_at)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}
