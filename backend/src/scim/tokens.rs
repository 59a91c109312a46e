//! The IdM's bearer tokens (R22): an operator makes one per IdM connection (operator page or
//! `ra-portal scim-token create`), sees it once, and may revoke it. Only its SHA-256 is stored
//! (Q8), as with session IDs; every make and revoke is in the audit trail, and each token's latest
//! use is recorded (to the minute) so an operator can tell a live connection from a dead one.

pub use crate::bearer_token::{check_name, NewToken, MAX_NAME_CHARS};
use crate::bearer_token::{due_for_touch, make_secret, well_formed};
use crate::error::ServiceError;
use crate::portal::Portal;
use crate::secret::storage_key;
use crate::storage::audit::{insert_audit_record, AuditKind, NewAuditRecord};
use crate::storage::is_unique_violation;
use crate::storage::scim::{self as store, TokenRecord};
use domain::message::Message;

/// Every token starts with this, so a leaked one is recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "rascim_";

/// The IdM connection behind a request: the token's name, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimClient {
    /// The token's name.
    pub name: String,
}

impl ScimClient {
    /// The audit trail's actor: `scim:<token name>`.
    pub fn actor(&self) -> String {
        format!("scim:{}", self.name)
    }
}

/// Makes a token called `name`; `actor` is the operator (or `cli:<user>`).
pub async fn create_token(
    portal: &Portal,
    name: &str,
    actor: &str,
    now: i64,
) -> Result<NewToken, ServiceError> {
    let name = check_name(name)?;
    let secret = make_secret(TOKEN_PREFIX)?;
    let mut tx = portal.pool.begin().await?;
    let id = match store::insert_token(&mut tx, &name, &storage_key(&secret), actor, now).await {
        Err(e) if is_unique_violation(&e) => {
            return Err(ServiceError::Invalid(Message::TokenNameTaken { name }));
        }
        other => other?,
    };
    insert_audit_record(
        &mut tx,
        &NewAuditRecord {
            actor,
            kind: AuditKind::ScimTokenCreated,
            domain_id: None,
            row_id: None,
            subject: Some(&name),
            before: None,
            after: None,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(NewToken::new(id, name, secret))
}

/// Every token, in force first.
pub async fn list_tokens(portal: &Portal) -> Result<Vec<TokenRecord>, ServiceError> {
    let mut conn = portal.pool.acquire().await?;
    Ok(store::list_tokens(&mut conn).await?)
}

/// Revokes the token in force called `name`: the IdM using it is refused from the next request.
pub async fn revoke_token(
    portal: &Portal,
    name: &str,
    actor: &str,
    now: i64,
) -> Result<TokenRecord, ServiceError> {
    let name = name.trim();
    let mut tx = portal.pool.begin().await?;
    let Some(token) = store::revoke_token(&mut tx, name, actor, now).await? else {
        return Err(ServiceError::NotFound(Message::TokenNotFound {
            name: name.to_owned(),
        }));
    };
    insert_audit_record(
        &mut tx,
        &NewAuditRecord {
            actor,
            kind: AuditKind::ScimTokenRevoked,
            domain_id: None,
            row_id: None,
            subject: Some(name),
            before: None,
            after: None,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// The IdM connection of a bearer token, if it is one in force; records its use.
pub async fn authenticate(
    portal: &Portal,
    bearer: &str,
    now: i64,
) -> Result<Option<ScimClient>, ServiceError> {
    // Nothing that cannot be a token is looked up.
    if !well_formed(TOKEN_PREFIX, bearer) {
        return Ok(None);
    }
    let mut conn = portal.pool.acquire().await?;
    let Some(token) = store::find_token_by_hash(&mut conn, &storage_key(bearer)).await? else {
        return Ok(None);
    };
    if due_for_touch(token.last_used_at, now) {
        store::touch_token(&mut conn, token.id, now).await?;
    }
    Ok(Some(ScimClient { name: token.name }))
}
