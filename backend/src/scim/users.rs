//! The IdM's User resources (R22): list, read, create, replace, patch, delete.
//!
//! A User stands for the portal user whose ID is its `userName` (or its `externalId`, by
//! `scim.user_id_attribute`): the OIDC `sub` the person logs in with. When a change turns an
//! active User inactive, or deletes an active one, [`deprovision_user`] runs first, and the change
//! is stored only after it succeeded: an IdM that gets an error retries, and the retry finds the
//! User still active and deprovisions again (deprovisioning is idempotent). Re-activation changes
//! only the stored resource: nothing that deprovisioning ended comes back (S5).
//!
//! A deactivated User stays readable (Okta reads it back and fails on a 404). A deleted User's
//! user ID is remembered: while no active User stands for it, [`crate::idm_bar`] bars the person.

use serde_json::{json, Value};

use super::resource::{self, Attributes, Meta, Projection};
use super::tokens::ScimClient;
use super::{filter, schema, ScimError, ScimType, DEFAULT_COUNT, LIST_SCHEMA, MAX_RESULTS};
use crate::config::UserIdAttribute;
use crate::deprovisioning::deprovision_user;
use crate::error::ServiceError;
use crate::portal::Portal;
use crate::storage::audit::{insert_audit_record, AuditKind, NewAuditRecord};
use crate::storage::is_unique_violation;
use crate::storage::scim::{self as store, ScimUserRecord, ScimUserWrite, UserMatch};
use crate::storage::sessions::delete_sessions_of_user;

/// How often a write is tried again when another request changed the same User meanwhile.
const WRITE_ATTEMPTS: usize = 3;

/// A stored User.
#[derive(Debug, Clone)]
pub struct ScimUser {
    /// Its SCIM id.
    pub id: String,
    /// The portal user ID it stands for.
    pub user_id: String,
    /// Its attributes.
    pub attributes: Attributes,
    /// Counts changes (the ETag).
    pub version: i64,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

impl ScimUser {
    fn from_record(r: ScimUserRecord) -> Result<ScimUser, ScimError> {
        let attributes = match serde_json::from_str(&r.resource) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(ScimError::Internal(ServiceError::Internal(
                    "a stored SCIM resource is not a JSON object".into(),
                )))
            }
            Err(e) => return Err(ScimError::Internal(ServiceError::internal(e))),
        };
        Ok(ScimUser {
            id: r.id,
            user_id: r.user_id,
            attributes,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }

    /// The resource as answered; `base` is the endpoint URL (`https://portal/scim/v2`).
    pub fn to_json(&self, base: &str) -> Value {
        resource::render(
            &self.attributes,
            &Meta {
                id: &self.id,
                created: self.created_at,
                last_modified: self.updated_at,
                version: self.version,
                base,
            },
        )
    }

    /// The ETag of this version.
    pub fn etag(&self) -> String {
        resource::etag(self.version)
    }
}

/// A list or search request (RFC 7644 §3.4.2, §3.4.3), as given.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    /// `filter`.
    pub filter: Option<String>,
    /// `startIndex` (1-based).
    pub start_index: Option<i64>,
    /// `count`.
    pub count: Option<i64>,
    /// `attributes` / `excludedAttributes`.
    pub projection: Projection,
}

fn user_match(filter: &filter::Equals) -> Result<UserMatch<'_>, ScimError> {
    let (scope, name) = schema::split_urn(&filter.attribute);
    let value = filter.value.as_str();
    let unsupported = || {
        ScimError::bad(
            ScimType::InvalidFilter,
            format!(
                "The portal filters Users by userName, externalId or id with eq and a quoted \
                 string, not by {:?}.",
                filter.attribute
            ),
        )
    };
    if scope != schema::Scope::Core {
        return Err(unsupported());
    }
    match value {
        Some(_) if name.eq_ignore_ascii_case("userName") => Ok(UserMatch::UserNameKey("")),
        Some(v) if name.eq_ignore_ascii_case("externalId") => Ok(UserMatch::ExternalId(v)),
        Some(v) if name.eq_ignore_ascii_case("id") => Ok(UserMatch::Id(v)),
        _ => Err(unsupported()),
    }
}

/// A page of Users as a ListResponse.
pub async fn list_users(
    portal: &Portal,
    request: &ListRequest,
    base: &str,
) -> Result<Value, ScimError> {
    let parsed = request.filter.as_deref().map(filter::parse).transpose()?;
    // userName is compared regardless of case (RFC 7643: caseExact false): its key is lower case.
    let user_name_key = parsed
        .as_ref()
        .and_then(|f| f.value.as_str())
        .map(str::to_lowercase)
        .unwrap_or_default();
    let m = match &parsed {
        None => UserMatch::All,
        Some(f) => match user_match(f)? {
            UserMatch::UserNameKey(_) => UserMatch::UserNameKey(&user_name_key),
            other => other,
        },
    };
    let start_index = request.start_index.unwrap_or(1).max(1);
    let count = request.count.unwrap_or(DEFAULT_COUNT).clamp(0, MAX_RESULTS);
    let mut conn = portal.pool.acquire().await?;
    let total = store::count_scim_users(&mut conn, m).await?;
    let records = if count == 0 {
        Vec::new()
    } else {
        store::list_scim_users(&mut conn, m, start_index - 1, count).await?
    };
    let mut resources = Vec::with_capacity(records.len());
    for r in records {
        resources.push(
            request
                .projection
                .apply(ScimUser::from_record(r)?.to_json(base)),
        );
    }
    Ok(json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    }))
}

/// One User by its SCIM id.
pub async fn get_user(portal: &Portal, id: &str) -> Result<ScimUser, ScimError> {
    let mut conn = portal.pool.acquire().await?;
    match store::find_scim_user(&mut conn, id).await? {
        Some(r) => ScimUser::from_record(r),
        None => Err(ScimError::not_found(id)),
    }
}

/// The portal user ID a User stands for, by `scim.user_id_attribute`.
fn portal_user_id(portal: &Portal, attributes: &Attributes) -> Result<String, ScimError> {
    let (name, value) = match portal.config.scim.user_id_attribute {
        UserIdAttribute::UserName => ("userName", attributes.get("userName")),
        UserIdAttribute::ExternalId => ("externalId", attributes.get("externalId")),
    };
    match value.and_then(Value::as_str) {
        Some(v) => Ok(v.to_owned()),
        None => Err(ScimError::bad(
            ScimType::InvalidValue,
            format!(
                "{name} is required: the portal takes it for the user ID people log in with \
                 (scim.user_id_attribute)."
            ),
        )),
    }
}

fn random_id() -> Result<String, ScimError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(ServiceError::from)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// What the audit trail keeps of a User: who it is and whether active, not the whole resource.
fn audit_state(user_id: &str, attributes: &Attributes) -> Value {
    json!({
        "user_id": user_id,
        "userName": attributes.get("userName"),
        "externalId": attributes.get("externalId"),
        "active": resource::is_active(attributes),
    })
}

fn taken(attributes: &Attributes) -> ScimError {
    ScimError::Refused {
        status: 409,
        scim_type: Some(ScimType::Uniqueness),
        detail: format!(
            "The userName {} is taken by another User.",
            attributes.get("userName").unwrap_or(&Value::Null)
        ),
    }
}

/// POST /Users.
pub async fn create_user(
    portal: &Portal,
    client: &ScimClient,
    body: &Value,
    now: i64,
) -> Result<ScimUser, ScimError> {
    let attributes = resource::normalise(body)?;
    let user_id = portal_user_id(portal, &attributes)?;
    let id = random_id()?;
    let resource_json = Value::Object(attributes.clone()).to_string();
    let actor = client.actor();
    let mut tx = portal.pool.begin().await?;
    let write = ScimUserWrite {
        user_name: attributes["userName"].as_str().unwrap_or_default(),
        external_id: attributes.get("externalId").and_then(Value::as_str),
        user_id: &user_id,
        active: resource::is_active(&attributes),
        resource: &resource_json,
    };
    match store::insert_scim_user(&mut tx, &id, &write, now).await {
        Err(e) if is_unique_violation(&e) => return Err(taken(&attributes)),
        other => other?,
    }
    insert_audit_record(
        &mut tx,
        &NewAuditRecord {
            actor: &actor,
            kind: AuditKind::ScimUserCreated,
            domain_id: None,
            row_id: None,
            subject: Some(&user_id),
            before: None,
            after: Some(audit_state(&user_id, &attributes)),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ScimUser {
        id,
        user_id,
        attributes,
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

/// Refuses a write whose `If-Match` names another version (RFC 7644 §3.14).
fn check_if_match(if_match: Option<&str>, user: &ScimUser) -> Result<(), ScimError> {
    let Some(wanted) = if_match else {
        return Ok(());
    };
    let current = user.etag();
    let strong = current.trim_start_matches("W/");
    let ok = wanted
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag == current || tag.trim_start_matches("W/") == strong);
    if ok {
        Ok(())
    } else {
        Err(ScimError::status(
            412,
            format!("The User has changed: it is at version {current}, not {wanted}."),
        ))
    }
}

/// PUT /Users/{id}: the body replaces the resource.
pub async fn replace_user(
    portal: &Portal,
    client: &ScimClient,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
    now: i64,
) -> Result<ScimUser, ScimError> {
    let attributes = resource::normalise(body)?;
    change_user(
        portal,
        client,
        id,
        if_match,
        now,
        |_| Ok(attributes.clone()),
    )
    .await
}

/// PATCH /Users/{id}.
pub async fn patch_user(
    portal: &Portal,
    client: &ScimClient,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
    now: i64,
) -> Result<ScimUser, ScimError> {
    change_user(portal, client, id, if_match, now, |current| {
        super::patch::apply(current, body)
    })
    .await
}

/// Reads the User, works out its new attributes, deprovisions on active → inactive, and stores
/// the change if nobody else changed the User meanwhile (else tries again).
async fn change_user(
    portal: &Portal,
    client: &ScimClient,
    id: &str,
    if_match: Option<&str>,
    now: i64,
    new_attributes: impl Fn(&Attributes) -> Result<Attributes, ScimError>,
) -> Result<ScimUser, ScimError> {
    let actor = client.actor();
    for _ in 0..WRITE_ATTEMPTS {
        let current = get_user(portal, id).await?;
        check_if_match(if_match, &current)?;
        let attributes = new_attributes(&current.attributes)?;
        let user_id = portal_user_id(portal, &attributes)?;
        if attributes == current.attributes && user_id == current.user_id {
            return Ok(current);
        }
        let was_active = resource::is_active(&current.attributes);
        if was_active && !resource::is_active(&attributes) {
            // R22: the person the User stood for while active.
            deprovision_user(portal, &current.user_id, &actor, now).await?;
        }
        let resource_json = Value::Object(attributes.clone()).to_string();
        let mut tx = portal.pool.begin().await?;
        let write = ScimUserWrite {
            user_name: attributes["userName"].as_str().unwrap_or_default(),
            external_id: attributes.get("externalId").and_then(Value::as_str),
            user_id: &user_id,
            active: resource::is_active(&attributes),
            resource: &resource_json,
        };
        let stored = match store::update_scim_user(&mut tx, id, current.version, &write, now).await
        {
            Err(e) if is_unique_violation(&e) => return Err(taken(&attributes)),
            other => other?,
        };
        if !stored {
            // Changed by another request since it was read: read it again.
            continue;
        }
        if was_active && !write.active {
            // A sign-in between the deprovisioning's commit and this one still found the User
            // active; from this commit on the bar refuses it (crate::idm_bar), and such a session
            // ends here.
            delete_sessions_of_user(&mut tx, &current.user_id).await?;
        }
        insert_audit_record(
            &mut tx,
            &NewAuditRecord {
                actor: &actor,
                kind: AuditKind::ScimUserChanged,
                domain_id: None,
                row_id: None,
                subject: Some(&user_id),
                before: Some(audit_state(&current.user_id, &current.attributes)),
                after: Some(audit_state(&user_id, &attributes)),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        return Ok(ScimUser {
            id: current.id,
            user_id,
            attributes,
            version: current.version + 1,
            created_at: current.created_at,
            updated_at: now,
        });
    }
    Err(ScimError::Refused {
        status: 409,
        scim_type: None,
        detail: "The User is being changed by other requests at the same time; try again.".into(),
    })
}

/// DELETE /Users/{id}: deprovisions the person if the User was active, then forgets the User.
pub async fn delete_user(
    portal: &Portal,
    client: &ScimClient,
    id: &str,
    if_match: Option<&str>,
    now: i64,
) -> Result<(), ScimError> {
    let actor = client.actor();
    for _ in 0..WRITE_ATTEMPTS {
        let current = get_user(portal, id).await?;
        check_if_match(if_match, &current)?;
        if resource::is_active(&current.attributes) {
            deprovision_user(portal, &current.user_id, &actor, now).await?;
        }
        let mut tx = portal.pool.begin().await?;
        if !store::delete_scim_user(&mut tx, id, current.version).await? {
            continue;
        }
        // The bar outlives the User: until a User for this ID is active again, the person may
        // not sign in (crate::idm_bar).
        store::insert_deleted_user(&mut tx, &current.user_id, &actor, now).await?;
        delete_sessions_of_user(&mut tx, &current.user_id).await?;
        insert_audit_record(
            &mut tx,
            &NewAuditRecord {
                actor: &actor,
                kind: AuditKind::ScimUserDeleted,
                domain_id: None,
                row_id: None,
                subject: Some(&current.user_id),
                before: Some(audit_state(&current.user_id, &current.attributes)),
                after: None,
            },
            now,
        )
        .await?;
        tx.commit().await?;
        return Ok(());
    }
    Err(ScimError::status(
        409,
        "The User is being changed by other requests at the same time; try again.",
    ))
}
