//! PATCH (RFC 7644 §3.5.2) on a stored User, in the shapes the IdMs send:
//!
//! * Entra ID: `{"op":"Replace","path":"active","value":"False"}` (capitalised op, boolean as
//!   text), `{"op":"replace","value":{"active":false,"name.givenName":"Anna"}}` (no path, the keys
//!   are paths), `emails[type eq "work"].value`, `urn:…:enterprise:2.0:User:manager`;
//! * Okta: `{"op":"replace","value":{"active":false}}`;
//! * RFC 7644: add / replace / remove with and without `path`, value objects, value filters.
//!
//! The operations are applied in order to a copy; the result is checked like a PUT body
//! ([`super::resource::normalise`]), so a PATCH can never store what a PUT could not. A path
//! naming an attribute the schema does not have, or a read-only one, is ignored like such an
//! attribute in a POST body: an IdM with an extra attribute mapping must not be kept from
//! deactivating a user by it.

use serde_json::{Map, Value};

use super::filter::{self, Equals};
use super::resource::{self, Attributes};
use super::schema::{self, Attribute, Scope};
use super::{ScimError, ScimType, ENTERPRISE_SCHEMA, MAX_OPERATIONS, PATCH_SCHEMA};

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Replace,
    Remove,
}

/// Where an operation acts.
#[derive(Debug, Clone)]
enum Target {
    /// The whole enterprise extension (its bare URN).
    Extension,
    /// An attribute (`externalId` has no definition in the schema: it is common to all resources).
    Attribute {
        scope: Scope,
        attribute: Option<&'static Attribute>,
        name: String,
        filter: Option<Equals>,
        sub: Option<String>,
    },
    /// Something the portal does not keep; the operation is ignored.
    Ignored,
}

/// Applies a PatchOp request body to `current`; returns the new attributes, checked.
pub fn apply(current: &Attributes, body: &Value) -> Result<Attributes, ScimError> {
    let Some(body) = body.as_object() else {
        return Err(ScimError::bad(
            ScimType::InvalidSyntax,
            "The body must be a PatchOp object.",
        ));
    };
    if let Some(schemas) = body.get("schemas") {
        let ok = schemas.as_array().is_some_and(|l| {
            l.iter().any(|s| {
                s.as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(PATCH_SCHEMA))
            })
        });
        if !ok {
            return Err(ScimError::bad(
                ScimType::InvalidSyntax,
                format!("schemas must list {PATCH_SCHEMA}."),
            ));
        }
    }
    let operations = body
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .and_then(|(_, v)| v.as_array())
        .ok_or_else(|| {
            ScimError::bad(
                ScimType::InvalidSyntax,
                "Operations must be a list of operations.",
            )
        })?;
    if operations.is_empty() {
        return Err(ScimError::bad(
            ScimType::InvalidSyntax,
            "Operations is empty.",
        ));
    }
    if operations.len() > MAX_OPERATIONS {
        return Err(ScimError::bad(
            ScimType::TooMany,
            format!("At most {MAX_OPERATIONS} operations fit in one PATCH."),
        ));
    }
    let mut resource = current.clone();
    for (i, operation) in operations.iter().enumerate() {
        apply_one(&mut resource, operation).map_err(|e| match e {
            ScimError::Refused {
                status,
                scim_type,
                detail,
            } => ScimError::Refused {
                status,
                scim_type,
                detail: format!("Operation {}: {detail}", i + 1),
            },
            other => other,
        })?;
    }
    resource::normalise(&Value::Object(resource))
}

fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn apply_one(resource: &mut Attributes, operation: &Value) -> Result<(), ScimError> {
    let Some(operation) = operation.as_object() else {
        return Err(ScimError::bad(
            ScimType::InvalidSyntax,
            "an operation must be an object.",
        ));
    };
    let op = match field(operation, "op").and_then(Value::as_str) {
        Some(s) if s.eq_ignore_ascii_case("add") => Op::Add,
        Some(s) if s.eq_ignore_ascii_case("replace") => Op::Replace,
        Some(s) if s.eq_ignore_ascii_case("remove") => Op::Remove,
        _ => {
            return Err(ScimError::bad(
                ScimType::InvalidSyntax,
                "op must be add, replace or remove.",
            ))
        }
    };
    let value = field(operation, "value");
    match field(operation, "path") {
        Some(Value::String(path)) if !path.trim().is_empty() => {
            let target = parse_path(path.trim())?;
            if op != Op::Remove && value.is_none() {
                return Err(ScimError::bad(
                    ScimType::InvalidSyntax,
                    "add and replace need a value.",
                ));
            }
            act(resource, op, &target, value)
        }
        None | Some(Value::Null) => {
            if op == Op::Remove {
                return Err(ScimError::bad(ScimType::NoTarget, "remove needs a path."));
            }
            // No path: the value holds attributes (or paths, as Entra ID writes them) to set.
            let Some(Value::Object(values)) = value else {
                return Err(ScimError::bad(
                    ScimType::InvalidValue,
                    "without a path, the value must be an object of attributes.",
                ));
            };
            for (key, v) in values {
                let target = parse_path(key)?;
                act(resource, op, &target, Some(v))?;
            }
            Ok(())
        }
        Some(_) => Err(ScimError::bad(
            ScimType::InvalidPath,
            "path must be a string.",
        )),
    }
}

/// Reads `[urn:…:]attribute[[filter]][.sub]`.
fn parse_path(path: &str) -> Result<Target, ScimError> {
    let invalid =
        |why: &str| ScimError::bad(ScimType::InvalidPath, format!("the path {path:?} {why}."));
    let (scope, rest) = schema::split_urn(path);
    if rest.is_empty() {
        return Ok(match scope {
            Scope::Enterprise => Target::Extension,
            Scope::Core => Target::Ignored,
        });
    }
    let (name, filter, sub) = match rest.split_once('[') {
        Some((name, tail)) => {
            let (inside, after) = tail
                .split_once(']')
                .ok_or_else(|| invalid("has an unclosed ["))?;
            let sub = match after {
                "" => None,
                s => Some(
                    s.strip_prefix('.')
                        .ok_or_else(|| invalid("has text after ] that is not .subAttribute"))?,
                ),
            };
            let filter = filter::parse(inside)
                .map_err(|e| invalid(&format!("has a filter that cannot be used: {e}")))?;
            (name, Some(filter), sub)
        }
        None => match rest.split_once('.') {
            Some((name, sub)) => (name, None, Some(sub)),
            None => (rest, None, None),
        },
    };
    let well_formed = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$'))
    };
    if !well_formed(name) || sub.is_some_and(|s| !well_formed(s)) {
        return Err(invalid("is not an attribute path"));
    }
    if scope == Scope::Core && name.eq_ignore_ascii_case("externalId") {
        if filter.is_some() || sub.is_some() {
            return Err(invalid("treats externalId, a string, as complex"));
        }
        return Ok(Target::Attribute {
            scope,
            attribute: None,
            name: "externalId".into(),
            filter: None,
            sub: None,
        });
    }
    let Some(attribute) = schema::find(scope.attributes(), name) else {
        return Ok(Target::Ignored);
    };
    if attribute.read_only {
        return Ok(Target::Ignored);
    }
    if filter.is_some() && !(attribute.multi_valued && attribute.kind == schema::Type::Complex) {
        return Err(invalid(&format!(
            "filters {}, which is not a list of complex values",
            attribute.name
        )));
    }
    let sub = match sub {
        None => None,
        Some(s) => match attribute.sub(s) {
            Some(d) if d.read_only => return Ok(Target::Ignored),
            Some(d) => Some(d.name.clone()),
            None => return Ok(Target::Ignored),
        },
    };
    Ok(Target::Attribute {
        scope,
        attribute: Some(attribute),
        name: attribute.name.clone(),
        filter,
        sub,
    })
}

fn container(
    resource: &mut Attributes,
    scope: Scope,
    create: bool,
) -> Option<&mut Map<String, Value>> {
    match scope {
        Scope::Core => Some(resource),
        Scope::Enterprise => {
            if create {
                resource
                    .entry(ENTERPRISE_SCHEMA)
                    .or_insert_with(|| Value::Object(Map::new()));
            }
            resource
                .get_mut(ENTERPRISE_SCHEMA)
                .and_then(Value::as_object_mut)
        }
    }
}

fn act(
    resource: &mut Attributes,
    op: Op,
    target: &Target,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let value = value.cloned().unwrap_or(Value::Null);
    match target {
        Target::Ignored => Ok(()),
        Target::Extension => {
            if op == Op::Remove {
                resource.remove(ENTERPRISE_SCHEMA);
                return Ok(());
            }
            let Value::Object(values) = value else {
                return Err(ScimError::bad(
                    ScimType::InvalidValue,
                    format!("the value for {ENTERPRISE_SCHEMA} must be an object."),
                ));
            };
            for (k, v) in &values {
                act(
                    resource,
                    op,
                    &parse_path(&format!("{ENTERPRISE_SCHEMA}:{k}"))?,
                    Some(v),
                )?;
            }
            Ok(())
        }
        Target::Attribute {
            scope,
            attribute,
            name,
            filter,
            sub,
        } => {
            let Some(map) = container(resource, *scope, op != Op::Remove) else {
                return Ok(());
            };
            match attribute {
                None => simple(map, op, name, value),
                Some(a) if a.multi_valued => {
                    multi(map, op, a, filter.as_ref(), sub.as_deref(), value)
                }
                Some(a) if a.kind == schema::Type::Complex => {
                    complex(map, op, a, sub.as_deref(), value);
                    Ok(())
                }
                Some(_) => simple(map, op, name, value),
            }?;
            if let Some(Value::Object(ext)) = resource.get(ENTERPRISE_SCHEMA) {
                if ext.is_empty() {
                    resource.remove(ENTERPRISE_SCHEMA);
                }
            }
            Ok(())
        }
    }
}

fn simple(map: &mut Map<String, Value>, op: Op, name: &str, value: Value) -> Result<(), ScimError> {
    if op == Op::Remove || value.is_null() {
        map.remove(name);
    } else {
        map.insert(name.to_owned(), value);
    }
    Ok(())
}

/// Sets the sub-attributes of `values` (an object) on `object`, under their schema names.
fn merge(object: &mut Map<String, Value>, attribute: &Attribute, values: &Map<String, Value>) {
    for (k, v) in values {
        let name = attribute
            .sub(k)
            .map_or_else(|| k.clone(), |d| d.name.clone());
        if v.is_null() {
            object.remove(&name);
        } else {
            object.insert(name, v.clone());
        }
    }
}

fn complex(
    map: &mut Map<String, Value>,
    op: Op,
    attribute: &Attribute,
    sub: Option<&str>,
    value: Value,
) {
    let name = attribute.name.as_str();
    match (op, sub) {
        (Op::Remove, None) => {
            map.remove(name);
        }
        (Op::Remove, Some(sub)) => {
            if let Some(Value::Object(object)) = map.get_mut(name) {
                object.remove(sub);
                if object.is_empty() {
                    map.remove(name);
                }
            }
        }
        (_, Some(sub)) => {
            let object = map.entry(name).or_insert_with(|| Value::Object(Map::new()));
            if !object.is_object() {
                *object = Value::Object(Map::new());
            }
            let object = object.as_object_mut().expect("made an object");
            if value.is_null() {
                object.remove(sub);
            } else {
                object.insert(sub.to_owned(), value);
            }
        }
        // RFC 7644 §3.5.2.1 and .3: add and replace of a complex value set the sub-attributes
        // given and leave the others.
        (_, None) => match value {
            Value::Object(values) => {
                let object = map.entry(name).or_insert_with(|| Value::Object(Map::new()));
                if !object.is_object() {
                    *object = Value::Object(Map::new());
                }
                merge(
                    object.as_object_mut().expect("made an object"),
                    attribute,
                    &values,
                );
            }
            // Not an object: left to the type check, which names what is wrong.
            other => {
                map.insert(name.to_owned(), other);
            }
        },
    }
}

/// Whether an element of a multi-valued attribute matches a value filter.
fn matches(element: &Value, attribute: &Attribute, filter: &Equals) -> bool {
    let Some(object) = element.as_object() else {
        return false;
    };
    let Some(definition) = attribute.sub(&filter.attribute) else {
        return false;
    };
    let Some(actual) = object.get(&definition.name) else {
        return false;
    };
    match (actual, &filter.value) {
        (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
        // Entra ID compares `primary eq "True"`-style texts with booleans.
        (Value::Bool(a), Value::String(b)) => {
            b.eq_ignore_ascii_case(if *a { "true" } else { "false" })
        }
        (a, b) => a == b,
    }
}

fn multi(
    map: &mut Map<String, Value>,
    op: Op,
    attribute: &Attribute,
    filter: Option<&Equals>,
    sub: Option<&str>,
    value: Value,
) -> Result<(), ScimError> {
    let name = attribute.name.clone();
    let mut items: Vec<Value> = match map.remove(&name) {
        Some(Value::Array(items)) => items,
        Some(other) => vec![other],
        None => Vec::new(),
    };
    let as_list = |v: Value| match v {
        Value::Array(list) => list,
        Value::Null => Vec::new(),
        single => vec![single],
    };
    match (op, filter, sub) {
        (Op::Remove, None, None) => {
            let values = as_list(value);
            if values.is_empty() {
                items.clear();
            } else {
                // Remove the listed values (by their `value` sub-attribute when they have one).
                let key = |v: &Value| v.get("value").cloned().unwrap_or_else(|| v.clone());
                let gone: Vec<Value> = values.iter().map(key).collect();
                items.retain(|item| !gone.contains(&key(item)));
            }
        }
        (Op::Remove, filter, sub) => {
            for item in &mut items {
                if filter.is_none_or(|f| matches(item, attribute, f)) {
                    if let (Some(sub), Some(object)) = (sub, item.as_object_mut()) {
                        object.remove(sub);
                    }
                }
            }
            match sub {
                None => items.retain(|item| !filter.is_some_and(|f| matches(item, attribute, f))),
                Some(_) => items.retain(|item| item.as_object().is_none_or(|o| !o.is_empty())),
            }
        }
        (Op::Add, None, None) => {
            for v in as_list(value) {
                if !items.contains(&v) {
                    items.push(v);
                }
            }
        }
        (Op::Replace, None, None) => items = as_list(value),
        // `emails.value` without a filter: every element (or a new one when there is none).
        (_, None, Some(sub)) => {
            if items.is_empty() {
                items.push(Value::Object(Map::new()));
            }
            for item in &mut items {
                if let Some(object) = item.as_object_mut() {
                    object.insert(sub.to_owned(), value.clone());
                }
            }
        }
        // `emails[type eq "work"].value` or `emails[type eq "work"]`: the matching elements; when
        // none matches, a new element carrying the filter's value (what Entra ID expects of both
        // add and replace).
        (_, Some(filter), sub) => {
            let mut found = false;
            for item in &mut items {
                if !matches(item, attribute, filter) {
                    continue;
                }
                found = true;
                let Some(object) = item.as_object_mut() else {
                    continue;
                };
                set_in_element(object, attribute, sub, &value)?;
            }
            if !found {
                let mut object = Map::new();
                if let Some(d) = attribute.sub(&filter.attribute) {
                    object.insert(d.name.clone(), filter.value.clone());
                }
                set_in_element(&mut object, attribute, sub, &value)?;
                items.push(Value::Object(object));
            }
        }
    }
    if !items.is_empty() {
        map.insert(name, Value::Array(items));
    }
    Ok(())
}

fn set_in_element(
    object: &mut Map<String, Value>,
    attribute: &Attribute,
    sub: Option<&str>,
    value: &Value,
) -> Result<(), ScimError> {
    match (sub, value) {
        (Some(sub), v) => {
            object.insert(sub.to_owned(), v.clone());
        }
        (None, Value::Object(values)) => merge(object, attribute, values),
        (None, _) => {
            return Err(ScimError::bad(
                ScimType::InvalidValue,
                format!(
                    "the value for an element of {} must be an object.",
                    attribute.name
                ),
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn anna() -> Attributes {
        resource::normalise(&json!({
            "userName": "anna", "active": true,
            "name": {"givenName": "Anna", "familyName": "Alt"},
            "emails": [{"value": "anna@example.org", "type": "work", "primary": true}]
        }))
        .unwrap()
    }

    fn patched(ops: Value) -> Value {
        Value::Object(
            apply(
                &anna(),
                &json!({"schemas": [PATCH_SCHEMA], "Operations": ops}),
            )
            .unwrap(),
        )
    }

    #[test]
    fn r22_entra_and_okta_deactivations_set_active_false() {
        for ops in [
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
            json!([{"op": "replace", "value": {"active": false}}]),
            json!([{"op": "replace", "value": {"Active": "false"}}]),
            json!([{"op": "add", "path": "ACTIVE", "value": false}]),
        ] {
            assert_eq!(patched(ops.clone())["active"], json!(false), "{ops}");
        }
    }

    #[test]
    fn r22_paths_values_and_filters_as_the_idms_write_them() {
        let p = patched(json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "a2@example.org"},
            {"op": "Add", "path": "emails[type eq \"home\"].value", "value": "home@example.net"},
            {"op": "replace", "value": {"name.familyName": "Neu", "displayName": "Anna Neu"}},
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "PKI"},
            {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": {"value": "m0"}},
            // Entra ID names the manager by its bare id.
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "m1"},
            {"op": "add", "path": "x-custom-attribute", "value": "ignored"},
            {"op": "remove", "path": "name.givenName"}
        ]));
        assert_eq!(
            p["emails"],
            json!([{"value": "a2@example.org", "type": "work", "primary": true},
                   {"value": "home@example.net", "type": "home"}])
        );
        assert_eq!(p["name"], json!({"familyName": "Neu"}));
        assert_eq!(p["displayName"], "Anna Neu");
        assert_eq!(
            p[ENTERPRISE_SCHEMA],
            json!({"department": "PKI", "manager": {"value": "m1"}})
        );
        assert!(p.get("x-custom-attribute").is_none());

        let p = patched(json!([
            {"op": "remove", "path": "emails[type eq \"work\"]"},
            {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "value": {"costCenter": "7"}},
            {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
            {"op": "add", "value": {"emails": [{"value": "x@example.org"}], "nickName": "An"}}
        ]));
        assert_eq!(p["emails"], json!([{"value": "x@example.org"}]));
        assert!(p.get(ENTERPRISE_SCHEMA).is_none());
        assert_eq!(p["nickName"], "An");
    }

    #[test]
    fn r22_malformed_patches_are_refused_naming_the_operation() {
        for (ops, scim_type) in [
            (json!([{"op": "move", "path": "active"}]), "invalidSyntax"),
            (json!([{"op": "remove"}]), "noTarget"),
            (
                json!([{"op": "add", "path": "emails[type sw \"w\"].value", "value": "x"}]),
                "invalidPath",
            ),
            (
                json!([{"op": "add", "path": "displayName[type eq \"w\"]", "value": "x"}]),
                "invalidPath",
            ),
            (
                json!([{"op": "add", "path": "emails[type eq \"w\"", "value": "x"}]),
                "invalidPath",
            ),
            (
                json!([{"op": "replace", "path": "active", "value": "maybe"}]),
                "invalidValue",
            ),
            (
                json!([{"op": "remove", "path": "userName"}]),
                "invalidValue",
            ),
            (json!([]), "invalidSyntax"),
        ] {
            let e = apply(&anna(), &json!({"Operations": ops})).unwrap_err();
            assert_eq!(e.to_json()["scimType"], scim_type, "{ops}: {e}");
        }
        let e = apply(
            &anna(),
            &json!({"Operations": [{"op": "add"}, {"op": "x"}]}),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("Operation 1:"), "{e}");
    }
}
