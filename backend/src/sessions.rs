//! Login sessions (SPEC Q2): a random session ID in the cookie, only its SHA-256 hash in the
//! database, an idle timeout and an absolute timeout, and logout.
//!
//! The web layer sets the cookie (HttpOnly, SameSite=Lax, Secure behind HTTPS) from
//! [`SessionToken::expose_cookie_value`] and calls [`find_session`] with the cookie of each request.

use std::fmt;

use crate::secret::storage_key;
use crate::storage::Db;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::config::SessionConfig;
use crate::error::ServiceError;
use crate::identity::Identity;
use crate::idm_bar::check_not_barred;
use crate::storage::domains::DomainRecord;
use crate::storage::sessions::{self as store, NewSession};
use crate::storage::users::{upsert_user, UserLogin};

// Finding the person behind a cookie with their roles is the roles' business; named here too.
pub use crate::roles::find_viewer;

/// Random bytes in a session ID: 256 bits, beyond any guessing.
const SESSION_ID_BYTES: usize = 32;
/// Length of the cookie value: 32 bytes in unpadded base64url.
const COOKIE_VALUE_CHARS: usize = 43;
/// `last_seen_at` is written at most this often, so that reading a page is not a database write.
/// The idle timeout is therefore exact to within this many seconds.
pub const TOUCH_INTERVAL_SECS: i64 = 60;

/// The session ID a browser holds in its cookie. It is a bearer secret: `Debug` shows it redacted,
/// it has no `Display` and no `Serialize`, and only [`Self::expose_cookie_value`] reveals it.
pub struct SessionToken(String);

impl SessionToken {
    /// The value to put into the session cookie (43 characters of base64url); nowhere else.
    pub fn expose_cookie_value(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

/// The person behind a valid session, as the rest of the portal sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    /// The user ID (OIDC `sub` or local account id).
    pub user_id: String,
    /// Given name from the IdM at login.
    pub given_name: String,
    /// Family name from the IdM at login.
    pub family_name: String,
    /// The IdM's email claim (information only).
    pub email: Option<String>,
    /// Groups from the IdM at login.
    pub groups: Vec<String>,
    /// When the session began (Unix seconds).
    pub session_started_at: i64,
}

fn idle_secs(config: &SessionConfig) -> i64 {
    i64::from(config.idle_minutes) * 60
}

fn absolute_secs(config: &SessionConfig) -> i64 {
    i64::from(config.absolute_hours) * 3600
}

/// Whether a cookie value can be a session ID at all; anything else is refused without a query.
fn well_formed(cookie_value: &str) -> bool {
    cookie_value.len() == COOKIE_VALUE_CHARS
        && cookie_value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Logs a person in: records the user (names and email from the IdM, `last_login_at`) and starts a
/// session, both in one transaction. Returns the token for the cookie.
///
/// Refused with [`ServiceError::IdmInactive`], changing nothing, while the IdM says the person is
/// inactive or deleted (R22, [`crate::idm_bar`]): whichever login vouched for them.
pub async fn start_session(
    pool: &Db,
    identity: &Identity,
    now: i64,
    config: &SessionConfig,
) -> Result<SessionToken, ServiceError> {
    let mut id = [0u8; SESSION_ID_BYTES];
    getrandom::fill(&mut id)?;
    let token = SessionToken(URL_SAFE_NO_PAD.encode(id));
    let groups = serde_json::to_string(&identity.groups).map_err(ServiceError::internal)?;

    // The write lock first: the bar is read and the session written as one step against a SCIM
    // write storing the User inactive (and a read that must later become a write would be
    // refused, not queued, while another write is under way).
    let mut tx = pool.begin_write().await?;
    check_not_barred::<ServiceError>(&mut tx, &identity.user_id).await?;
    upsert_user(
        &mut tx,
        &UserLogin {
            id: &identity.user_id,
            source: identity.source.as_str(),
            given_name: &identity.given_name,
            family_name: &identity.family_name,
            email: identity.email.as_deref(),
        },
        now,
    )
    .await?;
    store::insert_session(
        &mut tx,
        &NewSession {
            id_hash: &storage_key(&token.0),
            user_id: &identity.user_id,
            groups: &groups,
            created_at: now,
            expires_at: now + absolute_secs(config),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// The user of a session cookie, if the session exists and has timed out neither way.
///
/// A session unused for `idle_minutes` or older than `absolute_hours` (by the configuration in
/// force now, so shortening the timeouts takes effect at once) is deleted and refused. Use is
/// recorded at most once a minute ([`TOUCH_INTERVAL_SECS`]).
pub async fn find_session(
    pool: &Db,
    cookie_value: &str,
    now: i64,
    config: &SessionConfig,
) -> Result<Option<SessionUser>, ServiceError> {
    Ok(session_in_force(pool, cookie_value, now, config)
        .await?
        .map(|(user, _)| user))
}

/// The session's user and the domains of the user's groups, if the session exists and has timed
/// out neither way (else it is deleted); records use at most once a minute.
pub(crate) async fn session_in_force(
    pool: &Db,
    cookie_value: &str,
    now: i64,
    config: &SessionConfig,
) -> Result<Option<(SessionUser, Vec<DomainRecord>)>, ServiceError> {
    if !well_formed(cookie_value) {
        return Ok(None);
    }
    let id_hash = storage_key(cookie_value);
    let mut conn = pool.acquire().await?;
    let Some((session, domains)) = store::find_session_by_hash(&mut conn, &id_hash).await? else {
        return Ok(None);
    };
    let ends_at = session
        .expires_at
        .min(session.created_at + absolute_secs(config));
    let idle_ends_at = session.last_seen_at + idle_secs(config);
    if now >= ends_at || now >= idle_ends_at {
        store::delete_session(&mut conn, &id_hash).await?;
        return Ok(None);
    }
    if now - session.last_seen_at >= TOUCH_INTERVAL_SECS {
        store::touch_session(&mut conn, &id_hash, now).await?;
    }
    let groups = serde_json::from_str(&session.groups).map_err(ServiceError::internal)?;
    let user = SessionUser {
        user_id: session.user_id,
        given_name: session.given_name,
        family_name: session.family_name,
        email: session.email,
        groups,
        session_started_at: session.created_at,
    };
    Ok(Some((user, domains)))
}

/// Logs out: deletes the session of this cookie. Returns whether there was one.
pub async fn end_session(pool: &Db, cookie_value: &str) -> Result<bool, ServiceError> {
    if !well_formed(cookie_value) {
        return Ok(false);
    }
    let mut conn = pool.acquire().await?;
    Ok(store::delete_session(&mut conn, &storage_key(cookie_value)).await?)
}

/// Deletes every session that has timed out (idle or absolute); returns how many. Run it now and
/// then (e.g. hourly) so abandoned sessions do not pile up.
pub async fn purge_expired_sessions(
    pool: &Db,
    now: i64,
    config: &SessionConfig,
) -> Result<u64, ServiceError> {
    let mut conn = pool.acquire().await?;
    Ok(store::delete_expired_sessions(
        &mut conn,
        now,
        now - idle_secs(config),
        now - absolute_secs(config),
    )
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q6_session_tokens_do_not_print() {
        let token = SessionToken("s3cr3t-value".into());
        assert_eq!(format!("{token:?}"), "SessionToken(<redacted>)");
    }

    #[test]
    fn only_base64url_of_the_right_length_is_looked_up() {
        assert!(well_formed(&"a".repeat(43)));
        assert!(well_formed(&format!("{}-_", "A".repeat(41))));
        assert!(!well_formed(&"a".repeat(42)));
        assert!(!well_formed(&format!("{}=", "a".repeat(42))));
        assert!(!well_formed(""));
    }
}
