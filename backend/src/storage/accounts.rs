//! Local accounts (the embedded default IdM) and their group memberships.
//!
//! The password hash is read and written only by the functions that need it; the record type that
//! lists accounts does not carry it, so it cannot end up in a listing or a log by accident.

use sqlx::FromRow;

use super::Conn;

/// A local account as stored, without its password hash.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct AccountRecord {
    /// Login name and user ID.
    pub id: String,
    /// Given name (the IdM's given_name claim).
    pub given_name: String,
    /// Family name (the IdM's family_name claim).
    pub family_name: String,
    /// Informational email.
    pub email: Option<String>,
    /// When it was created.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

/// One group membership of a local account.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct AccountGroup {
    /// The member.
    pub account_id: String,
    /// The group.
    pub group_name: String,
}

/// Creates an account; fails with a unique violation if the id is taken.
pub async fn insert_account(
    conn: &mut Conn,
    account: &AccountRecord,
    password_hash: &str,
) -> sqlx::Result<()> {
    crate::run!(conn, ex => sqlx::query(
        "INSERT INTO local_accounts (id, password_hash, given_name, family_name, email, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&account.id)
    .bind(password_hash)
    .bind(&account.given_name)
    .bind(&account.family_name)
    .bind(&account.email)
    .bind(account.created_at)
    .bind(account.updated_at)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}

/// One account by id.
pub async fn find_account(conn: &mut Conn, id: &str) -> sqlx::Result<Option<AccountRecord>> {
    crate::run!(conn, ex => sqlx::query_as(
        "SELECT id, given_name, family_name, email, created_at, updated_at
         FROM local_accounts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(ex)
    .await)
}

/// All accounts, by id.
pub async fn list_accounts(conn: &mut Conn) -> sqlx::Result<Vec<AccountRecord>> {
    crate::run!(conn, ex => sqlx::query_as(
        "SELECT id, given_name, family_name, email, created_at, updated_at
         FROM local_accounts ORDER BY id",
    )
    .fetch_all(ex)
    .await)
}

/// The stored argon2id PHC string of an account, for checking a password at login.
pub async fn find_password_hash(conn: &mut Conn, id: &str) -> sqlx::Result<Option<String>> {
    crate::run!(conn, ex => sqlx::query_scalar("SELECT password_hash FROM local_accounts WHERE id = $1")
        .bind(id)
        .fetch_optional(ex)
        .await)
}

/// Replaces an account's password hash; false if there is no such account.
pub async fn update_account_password_hash(
    conn: &mut Conn,
    id: &str,
    password_hash: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let done = crate::run!(conn, ex => sqlx::query("UPDATE local_accounts SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(now)
            .bind(id)
            .execute(ex)
            .await.map(crate::storage::engine::Done::from))?;
    Ok(done.rows_affected() == 1)
}

/// Marks an account as changed (e.g. its groups); false if there is no such account.
pub async fn touch_account(conn: &mut Conn, id: &str, now: i64) -> sqlx::Result<bool> {
    let done = crate::run!(conn, ex => sqlx::query("UPDATE local_accounts SET updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(ex)
        .await.map(crate::storage::engine::Done::from))?;
    Ok(done.rows_affected() == 1)
}

/// The groups of one account, by name.
pub async fn list_account_groups(conn: &mut Conn, id: &str) -> sqlx::Result<Vec<String>> {
    crate::run!(conn, ex => sqlx::query_scalar(
        "SELECT group_name FROM local_account_groups WHERE account_id = $1 ORDER BY group_name",
    )
    .bind(id)
    .fetch_all(ex)
    .await)
}

/// Every membership of every account, by account and group (one query for a whole listing).
pub async fn list_all_account_groups(conn: &mut Conn) -> sqlx::Result<Vec<AccountGroup>> {
    crate::run!(conn, ex => sqlx::query_as(
        "SELECT account_id, group_name FROM local_account_groups ORDER BY account_id, group_name",
    )
    .fetch_all(ex)
    .await)
}

/// Makes `groups` the account's groups, dropping the others. `groups` must hold no duplicates.
pub async fn replace_account_groups(
    conn: &mut Conn,
    id: &str,
    groups: &[String],
) -> sqlx::Result<()> {
    crate::run!(conn, ex => sqlx::query("DELETE FROM local_account_groups WHERE account_id = $1")
        .bind(id)
        .execute(ex)
        .await.map(crate::storage::engine::Done::from))?;
    for group in groups {
        crate::run!(conn, ex => sqlx::query("INSERT INTO local_account_groups (account_id, group_name) VALUES ($1, $2)")
            .bind(id)
            .bind(group)
            .execute(ex)
            .await.map(crate::storage::engine::Done::from))?;
    }
    Ok(())
}
