//! Everybody who has logged in: the user ID and what the IdM said about them at the last login.

use sqlx::FromRow;

use super::Conn;

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct UserRecord {
    /// The user ID (OIDC `sub` or local account id).
    pub id: String,
    /// `oidc` or `local`: which kind of login made it.
    pub source: String,
    /// Given name at the last login.
    pub given_name: String,
    /// Family name at the last login.
    pub family_name: String,
    /// The IdM's email claim, information only.
    pub email: Option<String>,
    /// First login.
    pub first_seen_at: i64,
    /// Latest login.
    pub last_login_at: i64,
}

/// What a login says about a user, to store.
#[derive(Debug, Clone, Copy)]
pub struct UserLogin<'a> {
    /// The user ID.
    pub id: &'a str,
    /// `oidc` or `local`.
    pub source: &'a str,
    /// Given name from the IdM.
    pub given_name: &'a str,
    /// Family name from the IdM.
    pub family_name: &'a str,
    /// Email claim from the IdM.
    pub email: Option<&'a str>,
}

/// Records a login: creates the user, or refreshes names, email and `last_login_at` from the IdM
/// (the IdM is the source of truth for names, so a renamed person gets the new name at next login).
pub async fn upsert_user(conn: &mut Conn, login: &UserLogin<'_>, now: i64) -> sqlx::Result<()> {
    // INSERT … ON CONFLICT … DO UPDATE is spelled the same in PostgreSQL.
    crate::run!(conn, ex => sqlx::query(
        "INSERT INTO users (id, source, given_name, family_name, email, first_seen_at, last_login_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (id) DO UPDATE SET
             source = excluded.source,
             given_name = excluded.given_name,
             family_name = excluded.family_name,
             email = excluded.email,
             last_login_at = excluded.last_login_at",
    )
    .bind(login.id)
    .bind(login.source)
    .bind(login.given_name)
    .bind(login.family_name)
    .bind(login.email)
    .bind(now)
    .bind(now)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}

/// One user by user ID.
pub async fn find_user(conn: &mut Conn, id: &str) -> sqlx::Result<Option<UserRecord>> {
    crate::run!(conn, ex => sqlx::query_as(
        "SELECT id, source, given_name, family_name, email, first_seen_at, last_login_at
         FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(ex)
    .await)
}
