//! The NAPs' API tokens and the domains each was made for (R21).

use sqlx::{AssertSqlSafe, FromRow};

use super::domains::DomainRecord;
use super::engine::{Done, Engine};
use super::{Conn, Pooled};

/// A token as stored (never its value: only its hash is stored).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct TokenRecord {
    /// Database id.
    pub id: i64,
    /// The creator's name for it.
    pub name: String,
    /// User ID of the NAP who made it.
    pub creator_id: String,
    /// The creator's name then.
    pub creator_name: String,
    /// `read` or `read_write`.
    pub scope: String,
    /// When it was made.
    pub created_at: i64,
    /// Who made it (the creator, or `cli:<os user>`).
    pub created_by: String,
    /// Refused from this time on.
    pub expires_at: i64,
    /// Latest use (to the minute).
    pub last_used_at: Option<i64>,
    /// When it stopped for good.
    pub revoked_at: Option<i64>,
    /// Who stopped it.
    pub revoked_by: Option<String>,
    /// Why: `revoked_by_creator`, `revoked_by_operator`, `creator_left`, `creator_not_nap`.
    pub revoke_reason: Option<String>,
}

const TOKEN_COLUMNS: &str = "id, name, creator_id, creator_name, scope, created_at, created_by, \
     expires_at, last_used_at, revoked_at, revoked_by, revoke_reason";

/// A token to store.
#[derive(Debug, Clone, Copy)]
pub struct NewTokenRecord<'a> {
    /// Its name.
    pub name: &'a str,
    /// `storage_key` of its secret.
    pub secret_key: &'a [u8],
    /// The NAP it acts for.
    pub creator_id: &'a str,
    /// The NAP's name.
    pub creator_name: &'a str,
    /// `read` or `read_write`.
    pub scope: &'a str,
    /// Who made it.
    pub created_by: &'a str,
    /// When it ends.
    pub expires_at: i64,
}

/// Stores a new token and its domains; `Err` with a unique violation when a token of the creator
/// not revoked has this name.
pub async fn insert_token(
    conn: &mut Conn,
    token: &NewTokenRecord<'_>,
    domain_ids: &[i64],
    now: i64,
) -> sqlx::Result<i64> {
    let id: i64 = crate::run!(conn, ex => sqlx::query_scalar(
        "INSERT INTO api_tokens
             (name, secret_key, creator_id, creator_name, scope, created_at, created_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(token.name)
    .bind(token.secret_key)
    .bind(token.creator_id)
    .bind(token.creator_name)
    .bind(token.scope)
    .bind(now)
    .bind(token.created_by)
    .bind(token.expires_at)
    .fetch_one(ex)
    .await)?;
    for domain_id in domain_ids {
        crate::run!(conn, ex => sqlx::query("INSERT INTO api_token_domains (token_id, domain_id) VALUES ($1, $2)")
            .bind(id)
            .bind(domain_id)
            .execute(ex)
            .await.map(crate::storage::engine::Done::from))?;
    }
    Ok(id)
}

/// The token whose secret has this storage key, whatever its state.
pub async fn find_token_by_key(
    conn: &mut Conn,
    secret_key: &[u8],
) -> sqlx::Result<Option<TokenRecord>> {
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE secret_key = $1"
    )))
    .bind(secret_key)
    .fetch_optional(ex)
    .await)
}

/// The token with this id, whatever its state.
pub async fn find_token(conn: &mut Conn, id: i64) -> sqlx::Result<Option<TokenRecord>> {
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await)
}

/// SQL for the groups the user bound as `user` is in now, as far as the portal can know between
/// logins: a local account's groups, else (OIDC) the groups of their latest login
/// (`last_login_groups`, kept by a trigger at each session start) if it was at `fresh_since` or
/// later — the IdM tells the portal of group changes only at a login (SCIM carries no groups), so
/// an old login's groups do not count.
fn current_groups_sql(user: &str, fresh_since: &str) -> String {
    format!(
        "SELECT g.group_name FROM local_account_groups g WHERE g.account_id = {user}
         UNION
         SELECT j.value FROM last_login_groups l, json_each(l.groups) j
         WHERE l.user_id = {user} AND l.logged_in_at >= {fresh_since}
           AND NOT EXISTS (SELECT 1 FROM local_accounts a WHERE a.id = {user})"
    )
}

/// The groups `user_id` is in now (see [`current_groups_sql`]), sorted.
pub async fn current_groups_of(
    conn: &mut Conn,
    user_id: &str,
    fresh_since: i64,
) -> sqlx::Result<Vec<String>> {
    let groups = current_groups_sql("$1", "$2");
    crate::run!(conn, ex => sqlx::query_scalar(sqlx::AssertSqlSafe(crate::storage::engine::dialect(PG, &format!(
        "SELECT group_name FROM ({groups}) AS g ORDER BY 1"
    ))))
    .bind(user_id)
    .bind(fresh_since)
    .fetch_all(ex)
    .await)
}

/// The domains of token `token_id` that `creator_id` still administers: those whose contact group
/// is one of the creator's current groups (see [`current_groups_sql`]). By name.
pub async fn reachable_domains(
    conn: &mut Conn,
    token_id: i64,
    creator_id: &str,
    fresh_since: i64,
) -> sqlx::Result<Vec<DomainRecord>> {
    let groups = current_groups_sql("$1", "$3");
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(crate::storage::engine::dialect(PG, &format!(
        "SELECT d.id, d.name, d.contact_group, d.created_at, d.updated_at
         FROM api_token_domains t JOIN domains d ON d.id = t.domain_id
         WHERE t.token_id = $2 AND d.contact_group IN ({groups})
         ORDER BY d.name"
    ))))
    .bind(creator_id)
    .bind(token_id)
    .bind(fresh_since)
    .fetch_all(ex)
    .await)
}

/// When an OIDC user last logged in (`None`: never, or a local account, whose groups are always
/// known).
pub async fn oidc_login_of(conn: &mut Conn, user_id: &str) -> sqlx::Result<Option<i64>> {
    crate::run!(conn, ex => sqlx::query_scalar(
        "SELECT l.logged_in_at FROM last_login_groups l
         WHERE l.user_id = $1 AND NOT EXISTS (SELECT 1 FROM local_accounts a WHERE a.id = $1)",
    )
    .bind(user_id)
    .fetch_optional(ex)
    .await)
}

/// Every domain the token was made for, by name.
pub async fn domains_of_token(conn: &mut Conn, token_id: i64) -> sqlx::Result<Vec<DomainRecord>> {
    crate::run!(conn, ex => sqlx::query_as(
        "SELECT d.id, d.name, d.contact_group, d.created_at, d.updated_at
         FROM api_token_domains t JOIN domains d ON d.id = t.domain_id
         WHERE t.token_id = $1 ORDER BY d.name",
    )
    .bind(token_id)
    .fetch_all(ex)
    .await)
}

/// A person's given and family name: from their latest login, else from their local account.
pub async fn names_of_user(
    conn: &mut Conn,
    user_id: &str,
) -> sqlx::Result<Option<(String, String)>> {
    crate::run!(conn, ex => sqlx::query_as(
        "SELECT given_name, family_name FROM users WHERE id = $1
         UNION ALL
         SELECT given_name, family_name FROM local_accounts WHERE id = $1
         LIMIT 1",
    )
    .bind(user_id)
    .fetch_optional(ex)
    .await)
}

/// How long recording a token's use waits for another writer (milliseconds): long enough for a
/// row edit's commit, far shorter than a bulk apply (seconds) or the pool's busy timeout (10 s).
const TOUCH_BUSY_WAIT_MS: u32 = 50;

/// Records a use of a token unless another writer holds the database longer than
/// [`TOUCH_BUSY_WAIT_MS`]; `Ok(false)` when it gave up.
///
/// Last use is information to the minute, not a rule, and it is written while a request waits:
/// with the pool's busy timeout, a read request due for its touch would wait up to 10 s behind a
/// bulk apply holding the write lock (review P1). So this one statement waits briefly and is
/// skipped when the database stays busy; the token's next request is due again and tries again.
/// The connection's usual timeout is set back afterwards, and a connection that could not be set
/// back is closed rather than handed out again. Run it where it cannot be cancelled halfway (a
/// spawned task): a dropped future would leave the short timeout on a pooled connection.
pub async fn touch_token_unless_busy(conn: &mut Pooled, id: i64, now: i64) -> sqlx::Result<bool> {
    // On PostgreSQL the update waits only for a lock on this token's row, which no long
    // transaction holds (writers serialise on an advisory lock, not on the table).
    let usual: Option<i64> = match conn.engine() {
        Engine::Sqlite(ex) => Some(
            sqlx::query_scalar("PRAGMA busy_timeout")
                .fetch_one(&mut *ex)
                .await?,
        ),
        Engine::Postgres(_) => None,
    };
    if usual.is_some() {
        crate::run!(conn, ex => sqlx::query(AssertSqlSafe(format!(
            "PRAGMA busy_timeout = {TOUCH_BUSY_WAIT_MS}"
        )))
        .execute(ex)
        .await.map(Done::from))?;
    }
    let touched = crate::run!(conn, ex => sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(ex)
        .await.map(Done::from));
    let Some(usual) = usual else {
        return touched.map(|_| true);
    };
    // `usual` is the number SQLite itself just reported, so the text holds nothing else.
    let restored = crate::run!(conn, ex => sqlx::query(AssertSqlSafe(format!("PRAGMA busy_timeout = {usual}")))
        .execute(ex)
        .await.map(Done::from));
    if restored.is_err() {
        conn.close_on_drop();
    }
    match touched {
        Ok(_) => restored.map(|_| true),
        Err(e) if is_busy(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// SQLITE_BUSY (any extended code: 5, 261, 517, 773) or SQLITE_LOCKED.
fn is_busy(err: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    db.code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 5 | 6))
}

/// A token as listed, with the names of its domains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedToken {
    /// The token.
    pub token: TokenRecord,
    /// The domains it was made for, by name.
    pub domains: Vec<String>,
}

/// The tokens of `creator_id`, or every token when `None`: those not revoked first, newest first.
pub async fn list_tokens(
    conn: &mut Conn,
    creator_id: Option<&str>,
) -> sqlx::Result<Vec<ListedToken>> {
    let tokens: Vec<TokenRecord> = crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE $1 IS NULL OR creator_id = $1
         ORDER BY revoked_at IS NOT NULL, created_at DESC, id DESC"
    )))
    .bind(creator_id)
    .fetch_all(ex)
    .await)?;
    let pairs: Vec<(i64, String)> = crate::run!(conn, ex => sqlx::query_as(
        "SELECT t.token_id, d.name
         FROM api_token_domains t JOIN domains d ON d.id = t.domain_id
         JOIN api_tokens k ON k.id = t.token_id
         WHERE $1 IS NULL OR k.creator_id = $1
         ORDER BY d.name",
    )
    .bind(creator_id)
    .fetch_all(ex)
    .await)?;
    Ok(tokens
        .into_iter()
        .map(|token| ListedToken {
            domains: pairs
                .iter()
                .filter(|(id, _)| *id == token.id)
                .map(|(_, name)| name.clone())
                .collect(),
            token,
        })
        .collect())
}

/// Stops token `id` for good, if it is not already; returns it as it is now, or `None` when it was
/// stopped already (or does not exist).
pub async fn revoke_token(
    conn: &mut Conn,
    id: i64,
    by: &str,
    reason: &str,
    now: i64,
) -> sqlx::Result<Option<TokenRecord>> {
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE api_tokens SET revoked_at = $1, revoked_by = $2, revoke_reason = $3
         WHERE id = $4 AND revoked_at IS NULL RETURNING {TOKEN_COLUMNS}"
    )))
    .bind(now)
    .bind(by)
    .bind(reason)
    .bind(id)
    .fetch_optional(ex)
    .await)
}

/// Stops every token of `creator_id` not stopped yet; returns them.
pub async fn revoke_tokens_of_creator(
    conn: &mut Conn,
    creator_id: &str,
    by: &str,
    reason: &str,
    now: i64,
) -> sqlx::Result<Vec<TokenRecord>> {
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE api_tokens SET revoked_at = $1, revoked_by = $2, revoke_reason = $3
         WHERE creator_id = $4 AND revoked_at IS NULL RETURNING {TOKEN_COLUMNS}"
    )))
    .bind(now)
    .bind(by)
    .bind(reason)
    .bind(creator_id)
    .fetch_all(ex)
    .await)
}
