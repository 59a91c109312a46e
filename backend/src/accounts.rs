//! Local accounts: the embedded default IdM, used when no OIDC provider is configured.
//!
//! Passwords are stored only as argon2id PHC strings (salt from the OS random generator). Hashing
//! is deliberately slow, so it runs on tokio's blocking pool rather than stalling other requests.
//! A login with an unknown id is checked against a dummy hash, so that it is refused with the same
//! answer and in about the same time as a wrong password: nobody learns which ids exist.

use crate::storage::Db;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use domain::address::EmailAddress;
use domain::text::PersonName;
use serde_json::json;

use crate::clock;
use crate::error::ServiceError;
use crate::identity::{parse_group_name, Identity, IdentitySource};
use crate::secret::{ExposeSecret, SecretString};
use crate::storage::accounts::{self as store, AccountRecord};
use crate::storage::audit::{insert_audit_record, AuditKind, NewAuditRecord};
use crate::storage::{is_unique_violation, sessions as session_store};
use domain::message::Message;

/// Most characters in an account id.
pub const MAX_ACCOUNT_ID_CHARS: usize = 64;
/// Fewest characters in a password.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Most characters in a password: enough for any passphrase, and a bound on hashing work.
pub const MAX_PASSWORD_CHARS: usize = 1000;

/// An argon2id hash (default parameters) of 32 random bytes that were thrown away: no password
/// matches it. Unknown ids are verified against it so they cost the same time as a wrong password.
/// A test checks that its parameters are still those new hashes get.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$PsZ57y7J3JQ9VvZ86ouA2A$UlzXlMRdlTPz1KP0MnRwxw8ph7N4x+lb8kOdOl3TzXU";

/// A local account to create.
#[derive(Debug)]
pub struct NewAccount {
    /// Login name and user ID: 1–64 characters of `a-z 0-9 . _ -`.
    pub id: String,
    /// Given name (plays the IdM's given_name claim).
    pub given_name: String,
    /// Family name (plays the IdM's family_name claim).
    pub family_name: String,
    /// Informational email address.
    pub email: Option<String>,
    /// IdM groups (e.g. a domain's contact group, the operator group).
    pub groups: Vec<String>,
    /// The initial password (at least 10 characters).
    pub password: SecretString,
}

/// A local account as listed: no password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Login name and user ID.
    pub id: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Informational email.
    pub email: Option<String>,
    /// Groups, by name.
    pub groups: Vec<String>,
    /// When it was created (Unix seconds).
    pub created_at: i64,
    /// Last change (Unix seconds).
    pub updated_at: i64,
}

/// Why a login was refused. Unknown id and wrong password are the same refusal on purpose.
#[derive(Debug, thiserror::Error)]
pub enum LoginRefused {
    /// Unknown account or wrong password: which of the two is not said.
    #[error("unknown user or wrong password")]
    BadCredentials,
    /// The check itself failed (database, stored hash unreadable); details only in the log.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// Checks an account id: 1–64 characters of lower-case ASCII letters, digits, `.`, `_` and `-`.
pub fn check_account_id(id: &str) -> Result<(), ServiceError> {
    let invalid = |why: String| Err(ServiceError::invalid(format!("invalid account id: {why}")));
    if id.is_empty() {
        return invalid("it is empty".into());
    }
    let len = id.chars().count();
    if len > MAX_ACCOUNT_ID_CHARS {
        return invalid(format!(
            "it is {len} characters long; at most {MAX_ACCOUNT_ID_CHARS} are allowed"
        ));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-'))
    {
        let shown = if c.is_control() || c.is_whitespace() {
            format!("U+{:04X}", u32::from(c))
        } else {
            format!("'{c}'")
        };
        return invalid(format!(
            "\"{}\" contains {shown}; only lower-case letters a-z, digits and . _ - are allowed",
            id.chars().take(100).collect::<String>()
        ));
    }
    Ok(())
}

/// Checks a new password's length, without ever repeating the password.
pub fn check_password(password: &SecretString) -> Result<(), ServiceError> {
    let len = password.expose_secret().chars().count();
    if len < MIN_PASSWORD_CHARS {
        return Err(ServiceError::invalid(
            "the password is not acceptable: it must be at least 10 characters long",
        ));
    }
    if len > MAX_PASSWORD_CHARS {
        return Err(ServiceError::invalid(
            "the password is not acceptable: it must be at most 1000 characters long",
        ));
    }
    Ok(())
}

/// Checks group names and returns them sorted without duplicates.
fn parse_groups(groups: &[String]) -> Result<Vec<String>, ServiceError> {
    let mut parsed = groups
        .iter()
        .map(|g| {
            parse_group_name(g).map_err(|e| ServiceError::invalid(format!("invalid group: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    parsed.sort();
    parsed.dedup();
    Ok(parsed)
}

fn parse_name(field: &'static str, input: &str) -> Result<String, ServiceError> {
    PersonName::parse(input)
        .map(|n| n.as_str().to_owned())
        .map_err(|problem| ServiceError::invalid(format!("invalid {field}: {problem}")))
}

/// Hashes a password with argon2id and a fresh random salt, off the async threads.
async fn hash_password(password: SecretString) -> Result<String, ServiceError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&salt).map_err(ServiceError::internal)?;
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(ServiceError::internal)
    })
    .await
    .map_err(ServiceError::internal)?
}

/// Creates a local account, writing an `account_created` audit record in the same transaction.
///
/// The audit record holds the id, names, email and groups; never the password or its hash.
pub async fn create_account(
    pool: &Db,
    account: NewAccount,
    actor: &str,
) -> Result<Account, ServiceError> {
    check_account_id(&account.id)?;
    let given_name = parse_name("given name", &account.given_name)?;
    let family_name = parse_name("family name", &account.family_name)?;
    let email = match account.email.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(e) => Some(
            EmailAddress::parse(e)
                .map_err(|e| ServiceError::Invalid(e.into()))?
                .as_str()
                .to_owned(),
        ),
    };
    let groups = parse_groups(&account.groups)?;
    check_password(&account.password)?;
    // Hash before the transaction: the write lock is not held during the slow part.
    let hash = hash_password(account.password).await?;

    let now = clock::now();
    let record = AccountRecord {
        id: account.id,
        given_name,
        family_name,
        email,
        created_at: now,
        updated_at: now,
    };
    let mut tx = pool.begin().await?;
    if let Err(e) = store::insert_account(&mut tx, &record, &hash).await {
        return Err(if is_unique_violation(&e) {
            ServiceError::Invalid(Message::AccountExists { id: record.id })
        } else {
            e.into()
        });
    }
    store::replace_account_groups(&mut tx, &record.id, &groups).await?;
    let account = Account {
        id: record.id,
        given_name: record.given_name,
        family_name: record.family_name,
        email: record.email,
        groups,
        created_at: now,
        updated_at: now,
    };
    insert_audit_record(
        &mut tx,
        &NewAuditRecord {
            actor,
            kind: AuditKind::AccountCreated,
            domain_id: None,
            row_id: None,
            subject: Some(&account.id),
            before: None,
            after: Some(account_json(&account)),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(account)
}

/// What an audit record says about an account: everything but secrets and timestamps.
fn account_json(account: &Account) -> serde_json::Value {
    json!({
        "id": account.id,
        "given_name": account.given_name,
        "family_name": account.family_name,
        "email": account.email,
        "groups": account.groups,
    })
}

/// Sets a new password and ends the account's sessions (a password change should shut out whoever
/// knew the old one). Writes an `account_changed` audit record saying only that it changed.
pub async fn set_password(
    pool: &Db,
    id: &str,
    password: SecretString,
    actor: &str,
) -> Result<(), ServiceError> {
    check_account_id(id)?;
    check_password(&password)?;
    let hash = hash_password(password).await?;
    let now = clock::now();
    let mut tx = pool.begin().await?;
    if !store::update_account_password_hash(&mut tx, id, &hash, now).await? {
        return Err(ServiceError::NotFound(Message::AccountNotFound {
            id: id.to_owned(),
        }));
    }
    session_store::delete_sessions_of_user(&mut tx, id).await?;
    insert_audit_record(
        &mut tx,
        &NewAuditRecord {
            actor,
            kind: AuditKind::AccountChanged,
            domain_id: None,
            row_id: None,
            subject: Some(id),
            before: None,
            after: Some(json!({ "password": "changed" })),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Makes `groups` the account's groups. Sessions keep the groups of their login; the change takes
/// effect at the next login, as with an external IdM. Writes an `account_changed` audit record
/// with the groups before and after (none if nothing changed).
pub async fn set_groups(
    pool: &Db,
    id: &str,
    groups: &[String],
    actor: &str,
) -> Result<Account, ServiceError> {
    check_account_id(id)?;
    let groups = parse_groups(groups)?;
    let now = clock::now();
    let mut tx = pool.begin().await?;
    let Some(record) = store::find_account(&mut tx, id).await? else {
        return Err(ServiceError::NotFound(Message::AccountNotFound {
            id: id.to_owned(),
        }));
    };
    let before = store::list_account_groups(&mut tx, id).await?;
    if before == groups {
        return Ok(account_of(record, groups));
    }
    store::replace_account_groups(&mut tx, id, &groups).await?;
    store::touch_account(&mut tx, id, now).await?;
    insert_audit_record(
        &mut tx,
        &NewAuditRecord {
            actor,
            kind: AuditKind::AccountChanged,
            domain_id: None,
            row_id: None,
            subject: Some(id),
            before: Some(json!({ "groups": before })),
            after: Some(json!({ "groups": groups })),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Account {
        updated_at: now,
        ..account_of(record, groups)
    })
}

fn account_of(record: AccountRecord, groups: Vec<String>) -> Account {
    Account {
        id: record.id,
        given_name: record.given_name,
        family_name: record.family_name,
        email: record.email,
        groups,
        created_at: record.created_at,
        updated_at: record.updated_at,
    }
}

/// One account with its groups, if it exists.
pub async fn find_account(pool: &Db, id: &str) -> Result<Option<Account>, ServiceError> {
    let mut conn = pool.acquire().await?;
    let Some(record) = store::find_account(&mut conn, id).await? else {
        return Ok(None);
    };
    let groups = store::list_account_groups(&mut conn, id).await?;
    Ok(Some(account_of(record, groups)))
}

/// All local accounts with their groups, by id. No password hashes.
pub async fn list_accounts(pool: &Db) -> Result<Vec<Account>, ServiceError> {
    let mut conn = pool.acquire().await?;
    let records = store::list_accounts(&mut conn).await?;
    let memberships = store::list_all_account_groups(&mut conn).await?;
    // Both lists are sorted by account id, so one pass pairs them.
    let mut memberships = memberships.into_iter().peekable();
    let mut accounts = Vec::with_capacity(records.len());
    for record in records {
        let mut groups = Vec::new();
        while let Some(m) = memberships.next_if(|m| m.account_id <= record.id) {
            if m.account_id == record.id {
                groups.push(m.group_name);
            }
        }
        accounts.push(account_of(record, groups));
    }
    Ok(accounts)
}

/// Checks a login with a local account and says who it is.
///
/// An unknown id, a malformed id and a wrong password get the same [`LoginRefused::BadCredentials`],
/// and all three run one argon2id verification, so neither the answer nor its timing tells
/// whether an account exists.
pub async fn verify_password(
    pool: &Db,
    id: &str,
    password: &SecretString,
) -> Result<Identity, LoginRefused> {
    verify_password_in_slot(pool, id, password, ()).await
}

/// [`verify_password`] holding `slot` (the sign-in guard's permit for one hash, whatever holds it)
/// until the hash is done: the hashing thread owns it, so a caller that goes away does not free it
/// early.
pub(crate) async fn verify_password_in_slot(
    pool: &Db,
    id: &str,
    password: &SecretString,
    slot: impl Send + 'static,
) -> Result<Identity, LoginRefused> {
    let internal = |e: sqlx::Error| LoginRefused::Internal(Box::new(e));
    // A malformed id cannot exist; it is still verified against the dummy for equal timing.
    let stored = if check_account_id(id).is_ok() {
        let mut conn = pool.acquire().await.map_err(internal)?;
        store::find_password_hash(&mut conn, id)
            .await
            .map_err(internal)?
    } else {
        None
    };
    let exists = stored.is_some();
    let hash = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
    let password = password.clone();
    let matches = tokio::task::spawn_blocking(move || -> Result<bool, LoginRefused> {
        let _slot = slot;
        let parsed = PasswordHash::new(&hash).map_err(|e| {
            LoginRefused::Internal(format!("a stored password hash is unreadable: {e}").into())
        })?;
        Ok(Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| LoginRefused::Internal(Box::new(e)))??;
    if !(exists && matches) {
        return Err(LoginRefused::BadCredentials);
    }

    let mut conn = pool.acquire().await.map_err(internal)?;
    let record = store::find_account(&mut conn, id)
        .await
        .map_err(internal)?
        // Deleted between the two reads: as good as unknown.
        .ok_or(LoginRefused::BadCredentials)?;
    let groups = store::list_account_groups(&mut conn, id)
        .await
        .map_err(internal)?;
    Ok(Identity {
        user_id: record.id,
        given_name: record.given_name,
        family_name: record.family_name,
        email: record.email,
        groups,
        source: IdentitySource::Local,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_follow_the_rules_with_clear_messages() {
        for ok in ["anna", "a", "anna.schmidt", "x_1-2", &"a".repeat(64)] {
            assert!(check_account_id(ok).is_ok(), "{ok}");
        }
        let e = check_account_id("").unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        let e = check_account_id("Anna").unwrap_err().to_string();
        assert!(e.contains("'A'") && e.contains("lower-case"), "{e}");
        let e = check_account_id("an na").unwrap_err().to_string();
        assert!(e.contains("U+0020"), "{e}");
        let e = check_account_id(&"a".repeat(65)).unwrap_err().to_string();
        assert!(e.contains("65 characters") && e.contains("64"), "{e}");
    }

    #[test]
    fn q6_short_passwords_are_refused_without_repeating_them() {
        let e = check_password(&SecretString::from("hunter2")).unwrap_err();
        let shown = e.to_string();
        assert!(shown.contains("at least 10 characters"), "{shown}");
        assert!(!shown.contains("hunter2") && !format!("{e:?}").contains("hunter2"));
        assert!(check_password(&SecretString::from("0123456789")).is_ok());
        assert!(check_password(&SecretString::from("x".repeat(1001))).is_err());
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_hash_costs() {
        let dummy = PasswordHash::new(DUMMY_HASH).expect("dummy parses");
        let real_string = Argon2::default()
            .hash_password(
                b"some password",
                &SaltString::encode_b64(&[7u8; 16]).unwrap(),
            )
            .unwrap()
            .to_string();
        let real = PasswordHash::new(&real_string).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
        assert_eq!(
            dummy.hash.map(|h| h.len()),
            real.hash.map(|h| h.len()),
            "same output length"
        );
    }
}
