//! Sign-in events (SPEC Q7): every attempt with a local account and its outcome, for operators.

use sqlx::FromRow;

use super::Conn;

/// What came of a sign-in attempt; the spellings are those of the table's `CHECK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInOutcome {
    /// The password was right.
    Success,
    /// Unknown account or wrong password.
    Failure,
    /// Refused without checking the password: too many recent failures.
    Throttled,
    /// Refused without checking the password: too many passwords being checked at once.
    Busy,
    /// The password was right, but the IdM says the person is inactive or deleted (R22).
    IdmInactive,
}

impl SignInOutcome {
    /// The spelling in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            SignInOutcome::Success => "success",
            SignInOutcome::Failure => "failure",
            SignInOutcome::Throttled => "throttled",
            SignInOutcome::Busy => "busy",
            SignInOutcome::IdmInactive => "idm_inactive",
        }
    }
}

/// A sign-in event as stored and listed.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SignInEvent {
    /// Database id.
    pub id: i64,
    /// When (Unix seconds).
    pub at: i64,
    /// The account id tried, or `(malformed)`.
    pub user_id: String,
    /// The client's IP address.
    pub client: String,
    /// `success`, `failure`, `throttled`, `busy` or `idm_inactive`.
    pub outcome: String,
    /// For throttled and busy: the wait the client was told.
    pub retry_after_secs: Option<i64>,
}

/// Records one attempt.
pub async fn insert_sign_in_event(
    conn: &mut Conn,
    at: i64,
    user_id: &str,
    client: &str,
    outcome: SignInOutcome,
    retry_after_secs: Option<i64>,
) -> sqlx::Result<()> {
    crate::run!(conn, ex => sqlx::query(
        "INSERT INTO sign_in_events (at, user_id, client, outcome, retry_after_secs)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(at)
    .bind(user_id)
    .bind(client)
    .bind(outcome.as_str())
    .bind(retry_after_secs)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}

/// The newest `limit` events, newest first; only those of `user_id` when given.
pub async fn list_sign_in_events(
    conn: &mut Conn,
    user_id: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<SignInEvent>> {
    crate::run!(conn, ex => sqlx::query_as(
        "SELECT id, at, user_id, client, outcome, retry_after_secs FROM sign_in_events
         WHERE $1 IS NULL OR user_id = $1
         ORDER BY id DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(ex)
    .await)
}

/// Whether `client` signed in to `user_id` successfully at or after `since`.
pub async fn has_signed_in_from(
    conn: &mut Conn,
    user_id: &str,
    client: &str,
    since: i64,
) -> sqlx::Result<bool> {
    crate::run!(conn, ex => sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sign_in_events
                        WHERE user_id = $1 AND client = $2 AND outcome = 'success' AND at >= $3)",
    )
    .bind(user_id)
    .bind(client)
    .bind(since)
    .fetch_one(ex)
    .await)
}

/// Deletes the events before `before`, and all but the newest `keep` of the rest (a bound also
/// under a flood of attempts). Returns how many were deleted.
pub async fn purge_sign_in_events(conn: &mut Conn, before: i64, keep: i64) -> sqlx::Result<u64> {
    let done = crate::run!(conn, ex => sqlx::query(
        "DELETE FROM sign_in_events
         WHERE at < $1
            OR id <= (SELECT id FROM sign_in_events ORDER BY id DESC LIMIT 1 OFFSET $2)",
    )
    .bind(before)
    .bind(keep)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(done.rows_affected())
}
