//! The IdM's SCIM bearer tokens and User resources (R22).

use sqlx::FromRow;

use super::Conn;

/// A token as listed (never its value: only its hash is stored).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct TokenRecord {
    /// Database id.
    pub id: i64,
    /// The operator's name for it.
    pub name: String,
    /// When it was made.
    pub created_at: i64,
    /// Who made it.
    pub created_by: String,
    /// Latest use (to the minute).
    pub last_used_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
}

const TOKEN_COLUMNS: &str =
    "id, name, created_at, created_by, last_used_at, revoked_at, revoked_by";

/// Stores a new token; `Err` with a unique violation when a token in force has this name.
pub async fn insert_token(
    conn: &mut Conn,
    name: &str,
    token_hash: &[u8],
    created_by: &str,
    now: i64,
) -> sqlx::Result<i64> {
    crate::run!(conn, ex => sqlx::query_scalar(
        "INSERT INTO scim_tokens (name, token_hash, created_at, created_by) VALUES ($1, $2, $3, $4)
         RETURNING id",
    )
    .bind(name)
    .bind(token_hash)
    .bind(now)
    .bind(created_by)
    .fetch_one(ex)
    .await)
}

/// The token in force with this hash.
pub async fn find_token_by_hash(
    conn: &mut Conn,
    token_hash: &[u8],
) -> sqlx::Result<Option<TokenRecord>> {
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TOKEN_COLUMNS} FROM scim_tokens WHERE token_hash = $1 AND revoked_at IS NULL"
    )))
    .bind(token_hash)
    .fetch_optional(ex)
    .await)
}

/// Records a use of a token.
pub async fn touch_token(conn: &mut Conn, id: i64, now: i64) -> sqlx::Result<()> {
    crate::run!(conn, ex => sqlx::query("UPDATE scim_tokens SET last_used_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(ex)
        .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}

/// Every token, those in force first, then by name and age.
pub async fn list_tokens(conn: &mut Conn) -> sqlx::Result<Vec<TokenRecord>> {
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TOKEN_COLUMNS} FROM scim_tokens
         ORDER BY revoked_at IS NOT NULL, name, created_at DESC, id DESC"
    )))
    .fetch_all(ex)
    .await)
}

/// Revokes the token in force called `name`; returns it, or `None` when there is none.
pub async fn revoke_token(
    conn: &mut Conn,
    name: &str,
    by: &str,
    now: i64,
) -> sqlx::Result<Option<TokenRecord>> {
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE scim_tokens SET revoked_at = $1, revoked_by = $2
         WHERE name = $3 AND revoked_at IS NULL RETURNING {TOKEN_COLUMNS}"
    )))
    .bind(now)
    .bind(by)
    .bind(name)
    .fetch_optional(ex)
    .await)
}

/// A stored User resource.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ScimUserRecord {
    /// The SCIM id.
    pub id: String,
    /// userName as sent.
    pub user_name: String,
    /// externalId as sent.
    pub external_id: Option<String>,
    /// The portal user ID it stands for.
    pub user_id: String,
    /// Whether the IdM says the person is active.
    pub active: bool,
    /// JSON of the attributes.
    pub resource: String,
    /// Counts changes.
    pub version: i64,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

const USER_COLUMNS: &str =
    "id, user_name, external_id, user_id, active, resource, version, created_at, updated_at";

/// What is written of a User.
#[derive(Debug, Clone, Copy)]
pub struct ScimUserWrite<'a> {
    /// userName as sent.
    pub user_name: &'a str,
    /// externalId as sent.
    pub external_id: Option<&'a str>,
    /// The portal user ID.
    pub user_id: &'a str,
    /// Active or not.
    pub active: bool,
    /// JSON of the attributes.
    pub resource: &'a str,
}

/// Stores a new User; `Err` with a unique violation when the userName is taken.
pub async fn insert_scim_user(
    conn: &mut Conn,
    id: &str,
    user: &ScimUserWrite<'_>,
    now: i64,
) -> sqlx::Result<()> {
    crate::run!(conn, ex => sqlx::query(
        "INSERT INTO scim_users (id, user_name, user_name_key, external_id, user_id, active,
                                 resource, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9)",
    )
    .bind(id)
    .bind(user.user_name)
    .bind(user.user_name.to_lowercase())
    .bind(user.external_id)
    .bind(user.user_id)
    .bind(user.active)
    .bind(user.resource)
    .bind(now)
    .bind(now)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}

/// Replaces a User if it is still at `version`; returns whether it was.
pub async fn update_scim_user(
    conn: &mut Conn,
    id: &str,
    version: i64,
    user: &ScimUserWrite<'_>,
    now: i64,
) -> sqlx::Result<bool> {
    let done = crate::run!(conn, ex => sqlx::query(
        "UPDATE scim_users SET user_name = $1, user_name_key = $2, external_id = $3, user_id = $4,
                               active = $5, resource = $6, version = version + 1, updated_at = $7
         WHERE id = $8 AND version = $9",
    )
    .bind(user.user_name)
    .bind(user.user_name.to_lowercase())
    .bind(user.external_id)
    .bind(user.user_id)
    .bind(user.active)
    .bind(user.resource)
    .bind(now)
    .bind(id)
    .bind(version)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(done.rows_affected() == 1)
}

/// A User by its SCIM id.
pub async fn find_scim_user(conn: &mut Conn, id: &str) -> sqlx::Result<Option<ScimUserRecord>> {
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM scim_users WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await)
}

/// Deletes a User if it is still at `version`; returns whether it was.
pub async fn delete_scim_user(conn: &mut Conn, id: &str, version: i64) -> sqlx::Result<bool> {
    let done = crate::run!(conn, ex => sqlx::query("DELETE FROM scim_users WHERE id = $1 AND version = $2")
        .bind(id)
        .bind(version)
        .execute(ex)
        .await.map(crate::storage::engine::Done::from))?;
    Ok(done.rows_affected() == 1)
}

/// Which Users a list asks for.
#[derive(Debug, Clone, Copy)]
pub enum UserMatch<'a> {
    /// All.
    All,
    /// userName equal regardless of case (the key is lower case).
    UserNameKey(&'a str),
    /// externalId equal exactly.
    ExternalId(&'a str),
    /// The SCIM id.
    Id(&'a str),
}

fn push_match<DB>(q: &mut sqlx::QueryBuilder<DB>, m: UserMatch<'_>)
where
    DB: sqlx::Database,
    for<'t> &'t str: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    match m {
        UserMatch::All => {}
        UserMatch::UserNameKey(k) => {
            q.push(" WHERE user_name_key = ").push_bind(k);
        }
        UserMatch::ExternalId(e) => {
            q.push(" WHERE external_id = ").push_bind(e);
        }
        UserMatch::Id(id) => {
            q.push(" WHERE id = ").push_bind(id);
        }
    }
}

/// How many Users match.
pub async fn count_scim_users(conn: &mut Conn, m: UserMatch<'_>) -> sqlx::Result<i64> {
    crate::run!(conn, ex => {
    let mut q = sqlx::QueryBuilder::new("SELECT COUNT(*) FROM scim_users");
    push_match(&mut q, m);
    q.build_query_scalar().fetch_one(ex).await
    })
}

/// A page of matching Users in the order they were created.
pub async fn list_scim_users(
    conn: &mut Conn,
    m: UserMatch<'_>,
    offset: i64,
    limit: i64,
) -> sqlx::Result<Vec<ScimUserRecord>> {
    crate::run!(conn, ex => {
    let mut q = sqlx::QueryBuilder::new(format!("SELECT {USER_COLUMNS} FROM scim_users"));
    push_match(&mut q, m);
    // Ties of one second in creation order: SQLite's rowid (PostgreSQL's twin: postgres/0016).
    q.push(" ORDER BY created_at, rowid LIMIT ")
        .push_bind(limit)
        .push(" OFFSET ")
        .push_bind(offset);
    q.build_query_as().fetch_all(ex).await
    })
}

/// Records that the IdM deleted the User standing for `user_id` (the latest deletion wins).
pub async fn insert_deleted_user(
    conn: &mut Conn,
    user_id: &str,
    by: &str,
    now: i64,
) -> sqlx::Result<()> {
    crate::run!(conn, ex => sqlx::query(
        "INSERT INTO scim_deleted_users (user_id, deleted_at, deleted_by) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE SET deleted_at = excluded.deleted_at,
                                             deleted_by = excluded.deleted_by",
    )
    .bind(user_id)
    .bind(now)
    .bind(by)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}

/// Whether the IdM bars `user_id` (R22): no User standing for it is active, and one is inactive
/// or one was deleted. Two look-ups by index (`scim_users_by_user_id`, the primary key of
/// `scim_deleted_users`); an ID the IdM never named is not barred.
pub async fn idm_bars_user(conn: &mut Conn, user_id: &str) -> sqlx::Result<bool> {
    crate::run!(conn, ex => sqlx::query_scalar(
        "SELECT NOT EXISTS (SELECT 1 FROM scim_users WHERE user_id = $1 AND active = TRUE)
            AND (EXISTS (SELECT 1 FROM scim_users WHERE user_id = $1 AND active = FALSE)
                 OR EXISTS (SELECT 1 FROM scim_deleted_users WHERE user_id = $1))",
    )
    .bind(user_id)
    .fetch_one(ex)
    .await)
}
