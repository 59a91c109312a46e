//! A User resource as the portal keeps it: the attributes of the published schema, under their
//! schema spelling, with values of their schema types; `id`, `meta` and `schemas` are the portal's
//! own and made when the resource is answered.
//!
//! What an IdM sends is checked against [`super::schema`]: names in any case are taken
//! (`username`), a single value for a list becomes a list of one, `"True"`/`"False"` (Entra ID)
//! become booleans, `null` means unassigned. Attributes the schema does not know (another
//! extension, `password`, `groups`) are dropped, so a GET answers exactly what the portal keeps.

use serde_json::{Map, Value};

use super::schema::{self, Attribute, Scope, Type};
use super::{rfc3339, ScimError, ScimType, ENTERPRISE_SCHEMA, USER_SCHEMA};

/// Longest `userName` / `externalId` accepted.
pub const MAX_ID_CHARS: usize = 1024;

/// The stored attributes of one User (no `id`, `meta`, `schemas`).
pub type Attributes = Map<String, Value>;

/// Checks and normalises a User as sent with POST or PUT (or as a PATCH left it).
pub fn normalise(body: &Value) -> Result<Attributes, ScimError> {
    let Some(object) = body.as_object() else {
        return Err(ScimError::bad(
            ScimType::InvalidSyntax,
            "The body must be a JSON object: a User resource.",
        ));
    };
    if let Some(schemas) = object.get("schemas") {
        let names_user = schemas.as_array().is_some_and(|list| {
            list.iter().any(|s| {
                s.as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(USER_SCHEMA))
            })
        });
        if !names_user {
            return Err(ScimError::bad(
                ScimType::InvalidValue,
                format!("schemas must list {USER_SCHEMA}: this endpoint keeps Users."),
            ));
        }
    }
    let mut out = Attributes::new();
    for (key, value) in object {
        if value.is_null()
            || ["schemas", "id", "meta"]
                .iter()
                .any(|k| key.eq_ignore_ascii_case(k))
        {
            continue;
        }
        if key.eq_ignore_ascii_case("externalId") {
            out.insert("externalId".into(), identifier("externalId", value)?);
            continue;
        }
        match schema::split_urn(key) {
            (Scope::Enterprise, "") => {
                let Some(ext) = value.as_object() else {
                    return Err(ScimError::bad(
                        ScimType::InvalidValue,
                        format!("{ENTERPRISE_SCHEMA} must be an object of its attributes."),
                    ));
                };
                for (name, v) in ext {
                    put(&mut out, Scope::Enterprise, name, v)?;
                }
            }
            (scope, name) => put(&mut out, scope, name, value)?,
        }
    }
    match out.get("userName") {
        Some(Value::String(_)) => {}
        _ => {
            return Err(ScimError::bad(
                ScimType::InvalidValue,
                "userName is required: a non-empty string.",
            ))
        }
    }
    let user_name = identifier("userName", &out["userName"])?;
    out.insert("userName".into(), user_name);
    Ok(out)
}

/// A `userName` or `externalId`: a non-empty string of at most [`MAX_ID_CHARS`] characters
/// without control characters.
fn identifier(name: &str, value: &Value) -> Result<Value, ScimError> {
    let Some(s) = value.as_str() else {
        return Err(ScimError::bad(
            ScimType::InvalidValue,
            format!("{name} must be a string."),
        ));
    };
    if s.trim().is_empty() || s.chars().count() > MAX_ID_CHARS || s.chars().any(char::is_control) {
        return Err(ScimError::bad(
            ScimType::InvalidValue,
            format!("{name} must have 1 to {MAX_ID_CHARS} characters and no control characters."),
        ));
    }
    Ok(Value::String(s.to_owned()))
}

/// Puts one attribute of `scope` into `out` under its schema name (read-only and unknown ones are
/// ignored, as RFC 7643 §7 lets a service provider do).
fn put(out: &mut Attributes, scope: Scope, name: &str, value: &Value) -> Result<(), ScimError> {
    let Some(attr) = schema::find(scope.attributes(), name) else {
        return Ok(());
    };
    if attr.read_only || value.is_null() {
        return Ok(());
    }
    let Some(checked) = check_value(attr, value, &attr.name)? else {
        return Ok(());
    };
    let target = match scope {
        Scope::Core => out,
        Scope::Enterprise => out
            .entry(ENTERPRISE_SCHEMA)
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("the extension is an object"),
    };
    target.insert(attr.name.clone(), checked);
    Ok(())
}

/// The value of `attr` as the portal keeps it, or `None` when it leaves the attribute unassigned.
pub fn check_value(
    attr: &Attribute,
    value: &Value,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    if !attr.multi_valued {
        return check_single(attr, value, path);
    }
    let items: Vec<&Value> = match value {
        Value::Array(list) => list.iter().collect(),
        single => vec![single],
    };
    let mut checked = Vec::with_capacity(items.len());
    for item in items {
        if let Some(v) = check_single(attr, item, path)? {
            checked.push(v);
        }
    }
    Ok((!checked.is_empty()).then_some(Value::Array(checked)))
}

fn check_single(attr: &Attribute, value: &Value, path: &str) -> Result<Option<Value>, ScimError> {
    let wrong = |what: &str| {
        Err(ScimError::bad(
            ScimType::InvalidValue,
            format!("{path} must be {what}."),
        ))
    };
    match attr.kind {
        Type::String | Type::DateTime | Type::Binary | Type::Reference => match value {
            Value::String(_) => Ok(Some(value.clone())),
            _ => wrong("a string"),
        },
        Type::Boolean => match value {
            Value::Bool(_) => Ok(Some(value.clone())),
            // Entra ID sends booleans as "True" / "False".
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(Value::Bool(true))),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(Value::Bool(false))),
            _ => wrong("true or false"),
        },
        Type::Integer => match value {
            Value::Number(n) if n.is_i64() => Ok(Some(value.clone())),
            _ => wrong("a whole number"),
        },
        Type::Decimal => match value {
            Value::Number(_) => Ok(Some(value.clone())),
            _ => wrong("a number"),
        },
        Type::Complex => {
            // Entra ID sends a reference such as `manager` as its bare id: it is the `value`.
            if let (Value::String(_), Some(sub)) = (value, attr.sub("value")) {
                let wrapped = serde_json::json!({ sub.name.clone(): value.clone() });
                return check_single(attr, &wrapped, path);
            }
            let Some(object) = value.as_object() else {
                return wrong("an object");
            };
            let mut out = Map::new();
            for (name, v) in object {
                let Some(sub) = attr.sub(name) else { continue };
                if sub.read_only {
                    continue;
                }
                let sub_path = format!("{path}.{}", sub.name);
                if let Some(v) = check_value(sub, v, &sub_path)? {
                    out.insert(sub.name.clone(), v);
                }
            }
            Ok((!out.is_empty()).then_some(Value::Object(out)))
        }
    }
}

/// Whether the person is active: `active` as stored; a User the IdM sent without it is active.
pub fn is_active(attributes: &Attributes) -> bool {
    attributes
        .get("active")
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

/// What `meta` says of a stored User.
#[derive(Debug, Clone)]
pub struct Meta<'a> {
    /// The resource's id.
    pub id: &'a str,
    /// Creation time (Unix seconds).
    pub created: i64,
    /// Last change (Unix seconds).
    pub last_modified: i64,
    /// Counts changes.
    pub version: i64,
    /// `https://portal/scim/v2`, without a trailing slash.
    pub base: &'a str,
}

/// The ETag of a version (weak: the JSON is not byte-stable).
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The User resource as answered: `schemas`, `id`, the attributes, `meta`.
pub fn render(attributes: &Attributes, meta: &Meta<'_>) -> Value {
    let mut out = Map::new();
    let mut schemas = vec![Value::from(USER_SCHEMA)];
    if attributes.contains_key(ENTERPRISE_SCHEMA) {
        schemas.push(ENTERPRISE_SCHEMA.into());
    }
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), meta.id.into());
    for (k, v) in attributes {
        out.insert(k.clone(), v.clone());
    }
    out.insert(
        "meta".into(),
        serde_json::json!({
            "resourceType": "User",
            "created": rfc3339(meta.created),
            "lastModified": rfc3339(meta.last_modified),
            "location": format!("{}/Users/{}", meta.base, meta.id),
            "version": etag(meta.version),
        }),
    );
    Value::Object(out)
}

/// The `attributes` / `excludedAttributes` of a request (RFC 7644 §3.4.2.5), as given.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    /// Only these (plus `id` and `schemas`, which are always returned).
    pub attributes: Vec<String>,
    /// All but these.
    pub excluded: Vec<String>,
}

impl Projection {
    /// From the comma-separated query parameters.
    pub fn from_lists(attributes: Option<&str>, excluded: Option<&str>) -> Projection {
        let split = |s: Option<&str>| {
            s.map(|s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
        };
        Projection {
            attributes: split(attributes),
            excluded: split(excluded),
        }
    }

    /// Applies the projection to an answered resource.
    pub fn apply(&self, resource: Value) -> Value {
        let Value::Object(full) = resource else {
            return resource;
        };
        let mut out = if self.attributes.is_empty() {
            full.clone()
        } else {
            let mut out = Map::new();
            for always in ["schemas", "id"] {
                if let Some(v) = full.get(always) {
                    out.insert(always.into(), v.clone());
                }
            }
            for path in &self.attributes {
                copy_path(&full, &mut out, path);
            }
            out
        };
        for path in &self.excluded {
            remove_path(&mut out, path);
        }
        Value::Object(out)
    }
}

/// Where a projection path points: the object key (the extension's attributes live in its own
/// object) and the attribute with an optional sub-attribute.
fn locate(path: &str) -> (Option<&'static str>, &str, Option<&str>) {
    let (scope, rest) = schema::split_urn(path);
    let container = (scope == Scope::Enterprise).then_some(ENTERPRISE_SCHEMA);
    match rest.split_once('.') {
        Some((attr, sub)) => (container, attr, Some(sub)),
        None => (container, rest, None),
    }
}

fn key_in<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a String> {
    map.keys().find(|k| k.eq_ignore_ascii_case(name))
}

fn copy_path(full: &Map<String, Value>, out: &mut Map<String, Value>, path: &str) {
    let (container, attr, sub) = locate(path);
    let (source, target) = match container {
        Some(urn) => {
            let Some(Value::Object(ext)) = full.get(urn) else {
                return;
            };
            let target = out
                .entry(urn)
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("the extension is an object");
            (ext, target)
        }
        None => (full, out),
    };
    if attr.is_empty() {
        // The bare extension URN: all of it.
        for (k, v) in source {
            target.insert(k.clone(), v.clone());
        }
        return;
    }
    let Some(key) = key_in(source, attr) else {
        return;
    };
    let value = &source[key];
    let Some(sub) = sub else {
        target.insert(key.clone(), value.clone());
        return;
    };
    let only_sub = |v: &Value| -> Option<Value> {
        let object = v.as_object()?;
        let k = key_in(object, sub)?;
        Some(serde_json::json!({ k.clone(): object[k].clone() }))
    };
    let picked = match value {
        Value::Array(items) => {
            let items: Vec<Value> = items.iter().filter_map(only_sub).collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        v => only_sub(v),
    };
    if let Some(p) = picked {
        match (target.get_mut(key), p) {
            (Some(Value::Object(existing)), Value::Object(more)) => existing.extend(more),
            (_, p) => {
                target.insert(key.clone(), p);
            }
        }
    }
}

fn remove_path(out: &mut Map<String, Value>, path: &str) {
    let (container, attr, sub) = locate(path);
    let target = match container {
        Some(urn) => match out.get_mut(urn) {
            Some(Value::Object(ext)) => ext,
            _ => return,
        },
        None => out,
    };
    if attr.is_empty() {
        return;
    }
    // `id` and `schemas` are always returned.
    if container.is_none()
        && ["id", "schemas"]
            .iter()
            .any(|k| attr.eq_ignore_ascii_case(k))
    {
        return;
    }
    let Some(key) = key_in(target, attr).cloned() else {
        return;
    };
    match sub {
        None => {
            target.remove(&key);
        }
        Some(sub) => {
            let strip = |v: &mut Value| {
                if let Some(object) = v.as_object_mut() {
                    if let Some(k) = key_in(object, sub).cloned() {
                        object.remove(&k);
                    }
                }
            };
            match target.get_mut(&key) {
                Some(Value::Array(items)) => items.iter_mut().for_each(strip),
                Some(v) => strip(v),
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn r22_what_the_idms_send_is_kept_in_schema_spelling_and_types() {
        let kept = normalise(&json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "username": "anna@example.org",
            "externalId": "00u1",
            "Active": "False",
            "emails": {"value": "anna@example.org", "Type": "work", "primary": "True"},
            "name": {"givenName": "Anna", "familyName": null},
            "password": "never kept",
            "groups": [{"value": "g"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "department": "PKI", "manager": {"value": "x", "displayName": "read only"}
            },
            "urn:example:custom": {"x": 1},
            "id": "client-chosen", "meta": {"version": "1"}
        }))
        .unwrap();
        assert_eq!(
            Value::Object(kept),
            json!({
                "userName": "anna@example.org",
                "externalId": "00u1",
                "active": false,
                "emails": [{"value": "anna@example.org", "type": "work", "primary": true}],
                "name": {"givenName": "Anna"},
                ENTERPRISE_SCHEMA: {"department": "PKI", "manager": {"value": "x"}}
            })
        );
    }

    #[test]
    fn r22_values_of_the_wrong_type_are_refused_naming_the_attribute() {
        for (body, expected) in [
            (json!({"userName": 5}), "userName must be a string"),
            (json!({"displayName": "x"}), "userName is required"),
            (json!({"userName": " "}), "userName must have"),
            (
                json!({"userName": "a", "active": "yes"}),
                "active must be true or false",
            ),
            (
                json!({"userName": "a", "emails": [{"value": 3}]}),
                "emails.value must be a string",
            ),
            (
                json!({"userName": "a", "schemas": ["urn:x"]}),
                "schemas must list",
            ),
            (json!([1]), "JSON object"),
        ] {
            let e = normalise(&body).unwrap_err();
            assert_eq!(e.http_status(), 400);
            assert!(e.to_string().contains(expected), "{body}: {e}");
        }
    }

    #[test]
    fn r22_attributes_and_excluded_attributes_shape_the_answer() {
        let full = json!({
            "schemas": [USER_SCHEMA], "id": "1", "userName": "a", "externalId": "e",
            "name": {"givenName": "A", "familyName": "B"},
            "emails": [{"value": "a@x", "type": "work"}],
            ENTERPRISE_SCHEMA: {"department": "D", "costCenter": "C"},
            "meta": {"resourceType": "User"}
        });
        let only = Projection::from_lists(
            Some("externalId, name.givenName,emails.value,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
            None,
        )
        .apply(full.clone());
        assert_eq!(
            only,
            json!({"schemas": [USER_SCHEMA], "id": "1", "externalId": "e",
                "name": {"givenName": "A"}, "emails": [{"value": "a@x"}],
                ENTERPRISE_SCHEMA: {"department": "D"}})
        );
        let without = Projection::from_lists(None, Some("name,id,emails.type,meta")).apply(full);
        assert!(without.get("name").is_none() && without.get("meta").is_none());
        assert_eq!(without["id"], "1");
        assert_eq!(without["emails"], json!([{"value": "a@x"}]));
    }
}
