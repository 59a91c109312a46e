//! The IdM's bearer tokens (R22): an operator makes one per IdM connection (operator page or
//! `ra-portal scim-token create`), sees it once, and may revoke it. Only its SHA-256 is stored
//! (Q8), as with session IDs; every make and revoke is in the audit trail, and each token's latest
//! use is recorded (to the minute) so an operator can tell a live connection from a dead one.

use std::fmt;

use crate::secret::storage_key;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::error::ServiceError;
use domain::message::Message;
use crate::portal::Portal;
use crate::storage::audit::{insert_audit_record, AuditKind, NewAuditRecord};
use crate::storage::is_unique_violation;
use crate::storage::scim::{self as store, TokenRecord};

/// Every token starts with this, so a leaked one is recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "rascim_";
/// Random bytes in a token: 256 bits.
const TOKEN_BYTES: usize = 32;
/// Longest token name.
pub const MAX_NAME_CHARS: usize = 64;
/// A token's use is written at most this often, so that a sync is not a write per request.
const TOUCH_INTERVAL_SECS: i64 = 60;

/// A token as made: shown once, then only its hash exists. `Debug` does not show it (Q6).
pub struct NewToken {
    /// The name the operator gave it.
    pub name: String,
    secret: String,
}

impl NewToken {
    /// The value for the IdM's "secret token" field; show it once, store it nowhere.
    pub fn expose(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NewToken({}, <redacted>)", self.name)
    }
}

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

/// Checks a token name: 1 to 64 characters of a-z, 0-9, `.`, `_`, `-` (it becomes part of the
/// audit actor `scim:<name>`). Returns it trimmed.
pub fn check_name(name: &str) -> Result<String, ServiceError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ServiceError::invalid(format!(
            "invalid token name: a token name has 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')))
    {
        return Err(ServiceError::invalid(format!(
            "invalid token name: {c:?} is not allowed; use a-z, 0-9, '.', '_' and '-' (e.g. entra, okta-prod)"
        )));
    }
    Ok(name.to_owned())
}

/// Makes a token called `name`; `actor` is the operator (or `cli:<user>`).
pub async fn create_token(
    portal: &Portal,
    name: &str,
    actor: &str,
    now: i64,
) -> Result<NewToken, ServiceError> {
    let name = check_name(name)?;
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes)?;
    let secret = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let mut tx = portal.pool.begin().await?;
    match store::insert_token(&mut tx, &name, &storage_key(&secret), actor, now).await {
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
    Ok(NewToken { name, secret })
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
    let well_formed = bearer.len() == TOKEN_PREFIX.len() + 43
        && bearer.starts_with(TOKEN_PREFIX)
        && bearer[TOKEN_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Ok(None);
    }
    let mut conn = portal.pool.acquire().await?;
    let Some(token) = store::find_token_by_hash(&mut conn, &storage_key(bearer)).await? else {
        return Ok(None);
    };
    if token
        .last_used_at
        .is_none_or(|t| now - t >= TOUCH_INTERVAL_SECS)
    {
        store::touch_token(&mut conn, token.id, now).await?;
    }
    Ok(Some(ScimClient { name: token.name }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r22_token_names_are_short_plain_words() {
        assert_eq!(check_name(" entra-prod ").unwrap(), "entra-prod");
        for bad in ["", "Entra", "a b", "ä", &"a".repeat(65), "scim:x"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn q6_a_new_token_does_not_print() {
        let t = NewToken {
            name: "entra".into(),
            secret: "rascim_secret".into(),
        };
        assert_eq!(format!("{t:?}"), "NewToken(entra, <redacted>)");
    }
}
