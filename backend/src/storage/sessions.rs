//! Server-side login sessions (Q2), found by the SHA-256 hash of the cookie's session ID.

use sqlx::FromRow;

use super::domains::DomainRecord;
use super::Conn;

/// A session to store.
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    /// SHA-256 of the session ID; the ID itself is never stored.
    pub id_hash: &'a [u8],
    /// Whose session it is (a `users` row).
    pub user_id: &'a str,
    /// JSON array of the groups the IdM gave at login.
    pub groups: &'a str,
    /// Login time; also the first `last_seen_at`.
    pub created_at: i64,
    /// Absolute end.
    pub expires_at: i64,
}

/// A session with its user's names, as one lookup per request needs it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SessionRecord {
    /// The user ID.
    pub user_id: String,
    /// JSON array of groups from login.
    pub groups: String,
    /// Login time.
    pub created_at: i64,
    /// Last request seen (updated at most once a minute).
    pub last_seen_at: i64,
    /// Absolute end.
    pub expires_at: i64,
    /// The user's given name.
    pub given_name: String,
    /// The user's family name.
    pub family_name: String,
    /// The user's email claim.
    pub email: Option<String>,
}

/// Stores a new session.
pub async fn insert_session(conn: &mut Conn, session: &NewSession<'_>) -> sqlx::Result<()> {
    crate::run!(conn, ex => sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, groups, created_at, last_seen_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(session.id_hash)
    .bind(session.user_id)
    .bind(session.groups)
    .bind(session.created_at)
    .bind(session.created_at)
    .bind(session.expires_at)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}

/// The session whose ID hashes to `id_hash`, with its user and the domains whose contact group is
/// one of the session's groups (the domains its user administers, R1): everything a request needs
/// to know who asks, in one statement, so the look-up that every request makes is one round trip
/// to the database (SPEC P2).
pub async fn find_session_by_hash(
    conn: &mut Conn,
    id_hash: &[u8],
) -> sqlx::Result<Option<(SessionRecord, Vec<DomainRecord>)>> {
    /// The row of the statement: the session and its domains as one JSON array.
    #[derive(FromRow)]
    struct Found {
        #[sqlx(flatten)]
        session: SessionRecord,
        domains: String,
    }
    let found: Option<Found> = crate::run!(conn, ex => sqlx::query_as(
        sqlx::AssertSqlSafe(crate::storage::engine::dialect(PG, "SELECT s.user_id, s.groups, s.created_at, s.last_seen_at, s.expires_at,
                u.given_name, u.family_name, u.email,
                (SELECT json_group_array(json_object('id', d.id, 'name', d.name,
                            'contact_group', d.contact_group, 'created_at', d.created_at,
                            'updated_at', d.updated_at) ORDER BY d.name)
                 FROM domains d WHERE d.contact_group IN (SELECT value FROM json_each(s.groups)))
                    AS domains
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id_hash = $1")),
    )
    .bind(id_hash)
    .fetch_optional(ex)
    .await)?;
    found
        .map(|Found { session, domains }| {
            let domains =
                serde_json::from_str(&domains).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            Ok((session, domains))
        })
        .transpose()
}

/// Records that the session was used at `now`.
pub async fn touch_session(conn: &mut Conn, id_hash: &[u8], now: i64) -> sqlx::Result<()> {
    crate::run!(conn, ex => sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
        .bind(now)
        .bind(id_hash)
        .execute(ex)
        .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}

/// Ends one session; false if there was none.
pub async fn delete_session(conn: &mut Conn, id_hash: &[u8]) -> sqlx::Result<bool> {
    let done = crate::run!(conn, ex => sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(ex)
        .await.map(crate::storage::engine::Done::from))?;
    Ok(done.rows_affected() == 1)
}

/// Ends every session of a user (e.g. after a password change); returns how many.
pub async fn delete_sessions_of_user(conn: &mut Conn, user_id: &str) -> sqlx::Result<u64> {
    let done = crate::run!(conn, ex => sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(ex)
        .await.map(crate::storage::engine::Done::from))?;
    Ok(done.rows_affected())
}

/// Deletes sessions past their absolute end (`expires_at <= now`), idle since `idle_before` or
/// earlier, or started at `started_before` or earlier; returns how many.
pub async fn delete_expired_sessions(
    conn: &mut Conn,
    now: i64,
    idle_before: i64,
    started_before: i64,
) -> sqlx::Result<u64> {
    let done = crate::run!(conn, ex => sqlx::query(
        "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2 OR created_at <= $3",
    )
    .bind(now)
    .bind(idle_before)
    .bind(started_before)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(done.rows_affected())
}
