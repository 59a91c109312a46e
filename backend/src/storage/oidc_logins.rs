//! OIDC logins under way: state, nonce and PKCE verifier between the redirect to the IdP and the
//! callback. Kept server-side so the browser never holds the verifier.

use sqlx::FromRow;

use super::Conn;

/// A login under way.
#[derive(Debug, Clone, FromRow)]
pub struct OidcLogin {
    /// The OAuth `state` sent to the IdP.
    pub state: String,
    /// The nonce expected in the ID token.
    pub nonce: String,
    /// The PKCE S256 verifier.
    pub pkce_verifier: String,
    /// Local path to return to after login.
    pub return_to: String,
    /// When the login started.
    pub created_at: i64,
}

/// Records a login that is being sent to the IdP.
pub async fn insert_oidc_login(conn: &mut Conn, login: &OidcLogin) -> sqlx::Result<()> {
    crate::run!(conn, ex => sqlx::query(
        "INSERT INTO oidc_logins (state, nonce, pkce_verifier, return_to, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&login.state)
    .bind(&login.nonce)
    .bind(&login.pkce_verifier)
    .bind(&login.return_to)
    .bind(login.created_at)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}

/// Takes (reads and deletes) the login with this state, so a callback can be used only once.
pub async fn take_oidc_login(conn: &mut Conn, state: &str) -> sqlx::Result<Option<OidcLogin>> {
    crate::run!(conn, ex => sqlx::query_as(
        "DELETE FROM oidc_logins WHERE state = $1
         RETURNING state, nonce, pkce_verifier, return_to, created_at",
    )
    .bind(state)
    .fetch_optional(ex)
    .await)
}

/// Removes logins started before `cutoff` that never came back.
pub async fn delete_stale_oidc_logins(conn: &mut Conn, cutoff: i64) -> sqlx::Result<u64> {
    let done = crate::run!(conn, ex => sqlx::query("DELETE FROM oidc_logins WHERE created_at < $1")
        .bind(cutoff)
        .execute(ex)
        .await.map(crate::storage::engine::Done::from))?;
    Ok(done.rows_affected())
}
