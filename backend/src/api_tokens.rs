//! API tokens (SPEC R21): a NAP makes a bearer token for a script or the IdM, for some of the
//! domains they administer, to read or to read and write through `/api/v1`. It is shown once
//! (only its SHA-256 is stored, Q8), lives at most a year, is listed with its last use, and the
//! creator or any operator revokes it. Every make, revoke and end is in the audit trail.
//!
//! **A token is its creator's NAP role, narrowed.** At each request [`authenticate`] works out
//! which of the token's domains its creator still administers — the domains whose contact group
//! is among the creator's current groups (a local account's groups; for OIDC users the groups of
//! their latest login, `last_login_groups`, while that login is at most
//! [`CREATOR_LOGIN_MAX_AGE_DAYS`] old: SCIM carries no groups, so only a login tells the portal
//! of a group change; an older login leaves the token waiting, refused, until the next one) — and
//! the request reaches only those. A domain the
//! creator no longer administers (they left its contact group, or an operator gave the domain
//! another contact group) is simply out of reach; when none is left, the token is ended for good
//! (`api_token_ended`, reason `creator_not_nap`) and refused. When the IdM deprovisions the creator
//! (R22), [`end_tokens_of_leaver`] ends their tokens in the deprovisioning's transaction; while
//! the IdM bars the creator (`idm_bar`), their tokens are refused.
//!
//! **The actor.** The [`ApiCaller`] carries a [`Viewer`] to call the existing services with, so
//! every rule of the UI (R8) applies unchanged; its user ID is the audit actor
//! `api:<token name>#<token id>@<creator user ID>` (see [`actor_of`]). Token names hold only
//! a-z, 0-9, `.`, `_`, `-`, so the first `#` and the first `@` after it split the actor
//! unambiguously, and the token id tells two tokens of one name apart. Because that ID is nobody's
//! user ID, what only a person may do for themselves (their own certificates, confirming a
//! challenge) never matches a token; and the viewer is no operator, whatever the creator is.

use domain::api_token::{check_days, expires_at, ApiScope};
use domain::message::Message;

pub use crate::bearer_token::NewToken;
use crate::bearer_token::{check_name, due_for_touch, make_secret, well_formed};
use crate::error::ServiceError;
use crate::idm_bar::{check_not_barred, is_barred};
use crate::portal::Portal;
use crate::roles::Viewer;
use crate::secret::storage_key;
use crate::sessions::SessionUser;
use crate::storage::api_tokens::{self as store, ListedToken, NewTokenRecord, TokenRecord};
use crate::storage::audit::{insert_audit_record, AuditKind, NewAuditRecord};
use crate::storage::domains::DomainRecord;
use crate::storage::is_unique_violation;
use crate::storage::Conn;

/// Every API token starts with this, so a leaked one is recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "raapi_";
/// The actor of a token the portal ends because its creator is no NAP of its domains any more.
pub const SYSTEM_ACTOR: &str = "system";
/// How long an OIDC creator's groups count after their login. The IdM tells the portal of group
/// changes only at a login (SCIM carries no groups), so a token of a creator who has not logged in
/// for this long waits for a login (refused, not ended) rather than acting on old groups.
pub const CREATOR_LOGIN_MAX_AGE_DAYS: i64 = 30;

/// The oldest login whose groups still count at `now`.
fn fresh_since(now: i64) -> i64 {
    now - CREATOR_LOGIN_MAX_AGE_DAYS * 86_400
}

/// A chosen domain is not one the creator administers now (R21), or does not exist; which one is
/// not said (Q1).
fn not_your_domain() -> ServiceError {
    ServiceError::Forbidden(Message::ApiTokenNotYourDomain)
}

/// No token with this id that the person may revoke is in force (unknown and foreign read alike,
/// Q1), or it was revoked meanwhile.
fn no_such_token(id: i64) -> ServiceError {
    ServiceError::NotFound(Message::NoSuchApiToken { id })
}

/// Why a request's bearer token is refused (HTTP 401, except [`ApiAuthRefused::Internal`]: 500).
/// The texts are for the script's owner; they hold neither the token nor its name.
#[derive(Debug, thiserror::Error)]
pub enum ApiAuthRefused {
    /// Not a token the portal made (malformed, unknown, or a token of another kind).
    #[error("the bearer token is not a valid API token of this portal")]
    Unknown,
    /// Revoked by its creator or an operator.
    #[error("the API token was revoked")]
    Revoked,
    /// Past its expiry.
    #[error("the API token has expired")]
    Expired,
    /// The IdM deprovisioned the creator (R22): ended for good.
    #[error("the API token ended: the person who made it has left the organisation")]
    CreatorLeft,
    /// The IdM says the creator is inactive (R22).
    #[error(
        "the API token is suspended: the identity management deactivated the person who made it"
    )]
    CreatorBarred,
    /// The creator, an OIDC user, has not logged in for [`CREATOR_LOGIN_MAX_AGE_DAYS`]: their
    /// groups are not known well enough; the token works again after their next login.
    #[error("the API token waits for its creator: the person who made it has not logged in to the portal for 30 days, so their roles are not known; it works again once they log in")]
    CreatorLoginStale,
    /// The creator administers none of the token's domains any more (R21): ended for good.
    #[error("the API token ended: the person who made it is no longer a contact person (NAP) of its domains")]
    CreatorNotNap,
    /// A failure of the portal; details only in the log.
    #[error("internal error")]
    Internal(#[source] ServiceError),
}

impl ApiAuthRefused {
    /// Whether this is a failure of the portal (answer 500) rather than a refused token (401).
    pub fn is_internal(&self) -> bool {
        matches!(self, ApiAuthRefused::Internal(_))
    }
}

impl From<sqlx::Error> for ApiAuthRefused {
    fn from(err: sqlx::Error) -> Self {
        ApiAuthRefused::Internal(err.into())
    }
}

/// A read-only token tried to change something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this API token may only read; changes need a token with read and write access")]
pub struct ReadOnlyToken;

/// The script behind a request with a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCaller {
    /// The token's id.
    pub token_id: i64,
    /// The token's name.
    pub token_name: String,
    /// User ID of the NAP who made it.
    pub creator_id: String,
    /// The creator's name.
    pub creator_name: String,
    /// What it may do.
    pub scope: ApiScope,
    /// When it ends.
    pub expires_at: i64,
    /// Its domains the creator still administers, by name: all it reaches. Never empty.
    pub domains: Vec<DomainRecord>,
    /// For the services: user ID [`ApiCaller::actor`], no operator, NAP of exactly
    /// [`ApiCaller::domains`]. Check [`ApiCaller::require_write`] before any change.
    pub viewer: Viewer,
}

impl ApiCaller {
    /// The audit trail's actor; also `viewer.user.user_id`.
    pub fn actor(&self) -> &str {
        &self.viewer.user.user_id
    }

    /// Whether the token may change anything.
    pub fn may_write(&self) -> bool {
        self.scope.may_write()
    }

    /// Refuses a read-only token (HTTP 403).
    pub fn require_write(&self) -> Result<(), ReadOnlyToken> {
        if self.may_write() {
            Ok(())
        } else {
            Err(ReadOnlyToken)
        }
    }
}

/// The audit actor of token `token_id` called `name`, made by `creator_id`:
/// `api:<name>#<id>@<creator user ID>`.
pub fn actor_of(name: &str, token_id: i64, creator_id: &str) -> String {
    format!("api:{name}#{token_id}@{creator_id}")
}

/// The parts of an actor made by [`actor_of`]: token name, token id, creator user ID.
pub fn parse_actor(actor: &str) -> Option<(&str, i64, &str)> {
    let rest = actor.strip_prefix("api:")?;
    let (name, rest) = rest.split_once('#')?;
    let (id, creator) = rest.split_once('@')?;
    Some((name, id.parse().ok()?, creator))
}

/// A token as its lists show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenView {
    /// The stored token.
    pub token: TokenRecord,
    /// The domains it was made for, by name.
    pub domains: Vec<String>,
    /// What it may do.
    pub scope: ApiScope,
}

impl TokenView {
    /// Whether it works (as far as its own state goes: its creator's role is decided per request).
    pub fn in_force(&self, now: i64) -> bool {
        self.token.revoked_at.is_none() && now < self.token.expires_at
    }
}

fn view_of(listed: ListedToken) -> Result<TokenView, ServiceError> {
    Ok(TokenView {
        scope: stored_scope(&listed.token)?,
        domains: listed.domains,
        token: listed.token,
    })
}

fn stored_scope(token: &TokenRecord) -> Result<ApiScope, ServiceError> {
    ApiScope::parse(&token.scope)
        .ok_or_else(|| ServiceError::Internal(format!("stored scope {}", token.scope).into()))
}

/// What a NAP asks for.
#[derive(Debug, Clone)]
pub struct TokenRequest<'a> {
    /// Its name (a-z, 0-9, `.`, `_`, `-`; 1 to 64 characters).
    pub name: &'a str,
    /// The domains, by id: at least one, each administered by the creator now.
    pub domain_ids: &'a [i64],
    /// Read, or read and write.
    pub scope: ApiScope,
    /// Lifetime: 1 to 365 days (`domain::api_token::DEFAULT_DAYS` is the form's default).
    pub days: i64,
}

/// Makes a token for `creator`, a NAP of every requested domain now (its session's roles, or
/// [`creator_viewer`] on the command line); `actor` is who made it (the creator, or `cli:<os user>`).
/// The only time the secret exists outside the caller's answer is in the returned [`NewToken`].
pub async fn create_token(
    portal: &Portal,
    creator: &Viewer,
    request: &TokenRequest<'_>,
    actor: &str,
    now: i64,
) -> Result<NewToken, ServiceError> {
    let name = check_name(request.name)?;
    let days = check_days(request.days)
        .map_err(|e| ServiceError::Invalid(Message::ApiTokenLifetime { days: e.0 }))?;
    let mut domain_ids = request.domain_ids.to_vec();
    domain_ids.sort_unstable();
    domain_ids.dedup();
    if domain_ids.is_empty() {
        return Err(ServiceError::Invalid(Message::ApiTokenNoDomain));
    }
    let mut domains = Vec::with_capacity(domain_ids.len());
    for id in &domain_ids {
        let domain = creator.require_nap_of(*id).map_err(|_| not_your_domain())?;
        domains.push(domain.clone());
    }
    let secret = make_secret(TOKEN_PREFIX)?;
    let user = &creator.user;
    let creator_name = format!("{} {}", user.given_name, user.family_name)
        .trim()
        .to_owned();
    let expires = expires_at(now, days);
    let mut tx = portal.pool.begin_write().await?;
    // A person the IdM bars gets no session, and no token from the command line either (R22).
    check_not_barred::<ServiceError>(&mut tx, &user.user_id).await?;
    let record = NewTokenRecord {
        name: &name,
        secret_key: &storage_key(&secret),
        creator_id: &user.user_id,
        creator_name: &creator_name,
        scope: request.scope.as_str(),
        created_by: actor,
        expires_at: expires,
    };
    let id = match store::insert_token(&mut tx, &record, &domain_ids, now).await {
        Err(e) if is_unique_violation(&e) => {
            return Err(ServiceError::Invalid(Message::TokenNameTaken { name }))
        }
        other => other?,
    };
    let names: Vec<&str> = domains.iter().map(|d| d.name.as_str()).collect();
    let after = serde_json::json!({
        "token": id,
        "creator": user.user_id,
        "scope": request.scope.as_str(),
        "domains": names,
        "expires_at": expires,
    });
    for domain in &domains {
        insert_audit_record(
            &mut tx,
            &NewAuditRecord {
                actor,
                kind: AuditKind::ApiTokenCreated,
                domain_id: Some(domain.id),
                row_id: None,
                subject: Some(&name),
                before: None,
                after: Some(after.clone()),
            },
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(NewToken::new(id, name, secret))
}

/// The tokens `viewer` made, those not revoked first.
pub async fn list_own_tokens(
    portal: &Portal,
    viewer: &Viewer,
) -> Result<Vec<TokenView>, ServiceError> {
    let mut conn = portal.pool.acquire().await?;
    store::list_tokens(&mut conn, Some(&viewer.user.user_id))
        .await?
        .into_iter()
        .map(view_of)
        .collect()
}

/// Every token (operators only), those not revoked first.
pub async fn list_all_tokens(
    portal: &Portal,
    viewer: &Viewer,
) -> Result<Vec<TokenView>, ServiceError> {
    viewer.require_operator()?;
    list_every_token(portal).await
}

/// Every token, for the command line (whoever runs it is the portal's administrator).
pub async fn list_every_token(portal: &Portal) -> Result<Vec<TokenView>, ServiceError> {
    let mut conn = portal.pool.acquire().await?;
    store::list_tokens(&mut conn, None)
        .await?
        .into_iter()
        .map(view_of)
        .collect()
}

/// Revokes token `id`: its creator or any operator may. The next request with it is refused.
pub async fn revoke_token(
    portal: &Portal,
    viewer: &Viewer,
    id: i64,
    now: i64,
) -> Result<TokenRecord, ServiceError> {
    let actor = viewer.user.user_id.as_str();
    revoke(portal, id, actor, now, |token| {
        if token.creator_id == actor {
            Some("revoked_by_creator")
        } else if viewer.is_operator {
            Some("revoked_by_operator")
        } else {
            None
        }
    })
    .await
}

/// Revokes token `id` from the command line (as an operator would); `actor` is `cli:<os user>`.
pub async fn revoke_token_by_cli(
    portal: &Portal,
    id: i64,
    actor: &str,
    now: i64,
) -> Result<TokenRecord, ServiceError> {
    revoke(portal, id, actor, now, |_| Some("revoked_by_operator")).await
}

async fn revoke(
    portal: &Portal,
    id: i64,
    actor: &str,
    now: i64,
    reason_for: impl Fn(&TokenRecord) -> Option<&'static str>,
) -> Result<TokenRecord, ServiceError> {
    let mut tx = portal.pool.begin_write().await?;
    let Some(token) = store::find_token(&mut tx, id).await? else {
        return Err(no_such_token(id));
    };
    let Some(reason) = reason_for(&token) else {
        return Err(no_such_token(id));
    };
    let Some(token) = store::revoke_token(&mut tx, id, actor, reason, now).await? else {
        return Err(no_such_token(id));
    };
    audit_stop(&mut tx, &token, AuditKind::ApiTokenRevoked, actor, now).await?;
    tx.commit().await?;
    Ok(token)
}

/// One record per domain of a token that stopped: revoked or ended.
async fn audit_stop(
    conn: &mut Conn,
    token: &TokenRecord,
    kind: AuditKind,
    actor: &str,
    now: i64,
) -> Result<(), ServiceError> {
    let after = serde_json::json!({
        "token": token.id,
        "creator": token.creator_id,
        "reason": token.revoke_reason,
    });
    for domain in store::domains_of_token(conn, token.id).await? {
        insert_audit_record(
            conn,
            &NewAuditRecord {
                actor,
                kind,
                domain_id: Some(domain.id),
                row_id: None,
                subject: Some(&token.name),
                before: None,
                after: Some(after.clone()),
            },
            now,
        )
        .await?;
    }
    Ok(())
}

/// R22: ends every token of `user_id`, whom the IdM deprovisioned, in the caller's transaction
/// (the deprovisioning's), audited as `api_token_ended` by `actor`; returns how many.
pub async fn end_tokens_of_leaver(
    conn: &mut Conn,
    user_id: &str,
    actor: &str,
    now: i64,
) -> Result<usize, ServiceError> {
    let ended = store::revoke_tokens_of_creator(conn, user_id, actor, "creator_left", now).await?;
    for token in &ended {
        audit_stop(conn, token, AuditKind::ApiTokenEnded, actor, now).await?;
    }
    Ok(ended.len())
}

/// The caller behind a request's bearer token (the text after `Bearer `), if the token is in force
/// and its creator still administers at least one of its domains; records its use (at most once
/// a minute; skipped while another writer holds the database). See the module's text for what is
/// refused and why.
pub async fn authenticate(
    portal: &Portal,
    bearer: &str,
    now: i64,
) -> Result<ApiCaller, ApiAuthRefused> {
    // Nothing that cannot be a token is looked up.
    if !well_formed(TOKEN_PREFIX, bearer) {
        return Err(ApiAuthRefused::Unknown);
    }
    let mut conn = portal.pool.acquire().await?;
    let Some(token) = store::find_token_by_key(&mut conn, &storage_key(bearer)).await? else {
        return Err(ApiAuthRefused::Unknown);
    };
    match token.revoke_reason.as_deref() {
        None => {}
        Some("creator_left") => return Err(ApiAuthRefused::CreatorLeft),
        Some("creator_not_nap") => return Err(ApiAuthRefused::CreatorNotNap),
        Some(_) => return Err(ApiAuthRefused::Revoked),
    }
    if now >= token.expires_at {
        return Err(ApiAuthRefused::Expired);
    }
    if is_barred(&mut conn, &token.creator_id).await? {
        return Err(ApiAuthRefused::CreatorBarred);
    }
    let domains =
        store::reachable_domains(&mut conn, token.id, &token.creator_id, fresh_since(now)).await?;
    if domains.is_empty() {
        if store::oidc_login_of(&mut conn, &token.creator_id)
            .await?
            .is_some_and(|at| at < fresh_since(now))
        {
            return Err(ApiAuthRefused::CreatorLoginStale);
        }
        drop(conn);
        end_token_of_former_nap(portal, &token, now).await?;
        return Err(ApiAuthRefused::CreatorNotNap);
    }
    let scope = stored_scope(&token).map_err(ApiAuthRefused::Internal)?;
    let (given_name, family_name) = store::names_of_user(&mut conn, &token.creator_id)
        .await?
        .unwrap_or_default();
    if due_for_touch(token.last_used_at, now) {
        // Never lets the request wait behind a long write, and never refuses it: see
        // `touch_token_unless_busy`. A task of its own, so that a request dropped halfway (its
        // client went away) cannot hand the connection back with the short busy timeout still set;
        // awaited, so the use is recorded by the time the answer is out (at most a brief wait).
        let token_id = token.id;
        let touch = async move { store::touch_token_unless_busy(&mut conn, token_id, now).await };
        let not_recorded = "last use of the API token not recorded";
        match tokio::spawn(touch).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => tracing::debug!(token_id, "database busy: {not_recorded}"),
            Ok(Err(e)) => tracing::warn!(token_id, error = %e, "{not_recorded}"),
            Err(e) => tracing::warn!(token_id, error = %e, "{not_recorded}"),
        }
    }
    let actor = actor_of(&token.name, token.id, &token.creator_id);
    let viewer = Viewer {
        user: SessionUser {
            user_id: actor,
            given_name,
            family_name,
            email: None,
            groups: domains.iter().map(|d| d.contact_group.clone()).collect(),
            session_started_at: now,
        },
        is_operator: false,
        nap_domains: domains.clone(),
    };
    Ok(ApiCaller {
        token_id: token.id,
        token_name: token.name,
        creator_id: token.creator_id,
        creator_name: token.creator_name,
        scope,
        expires_at: token.expires_at,
        domains,
        viewer,
    })
}

/// Ends a token whose creator administers none of its domains any more, audited once (a
/// concurrent request that ended it first wins; this one writes nothing).
async fn end_token_of_former_nap(
    portal: &Portal,
    token: &TokenRecord,
    now: i64,
) -> Result<(), ApiAuthRefused> {
    let mut tx = portal.pool.begin_write().await?;
    // Decided again inside the write lock: a login that brought the group back wins.
    if !store::reachable_domains(&mut tx, token.id, &token.creator_id, fresh_since(now))
        .await?
        .is_empty()
    {
        return Ok(());
    }
    if let Some(ended) =
        store::revoke_token(&mut tx, token.id, SYSTEM_ACTOR, "creator_not_nap", now).await?
    {
        audit_stop(&mut tx, &ended, AuditKind::ApiTokenEnded, SYSTEM_ACTOR, now)
            .await
            .map_err(ApiAuthRefused::Internal)?;
    }
    tx.commit().await?;
    Ok(())
}

/// The roles of `user_id` as the command line sees them, for [`create_token`]: their current
/// groups at `now` (a local account's groups, else their latest login's, if fresh) and the
/// domains of those groups; never an operator. `None` when the portal knows no groups of theirs.
pub async fn creator_viewer(
    portal: &Portal,
    user_id: &str,
    now: i64,
) -> Result<Option<Viewer>, ServiceError> {
    let mut conn = portal.pool.acquire().await?;
    let groups = store::current_groups_of(&mut conn, user_id, fresh_since(now)).await?;
    if groups.is_empty() {
        return Ok(None);
    }
    let nap_domains = crate::storage::domains::list_domains_of_groups(&mut conn, &groups).await?;
    let (given_name, family_name) = store::names_of_user(&mut conn, user_id)
        .await?
        .unwrap_or_default();
    Ok(Some(Viewer {
        user: SessionUser {
            user_id: user_id.to_owned(),
            given_name,
            family_name,
            email: None,
            groups,
            session_started_at: 0,
        },
        is_operator: false,
        nap_domains,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r21_the_actor_names_token_id_and_creator_unambiguously() {
        let actor = actor_of("idm-sync", 7, "nora@example.org#x");
        assert_eq!(actor, "api:idm-sync#7@nora@example.org#x");
        assert_eq!(
            parse_actor(&actor),
            Some(("idm-sync", 7, "nora@example.org#x"))
        );
        assert_eq!(parse_actor("scim:entra"), None);
        assert_eq!(parse_actor("api:x#y@nora"), None);
    }
}
