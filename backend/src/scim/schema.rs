//! The User schema the portal publishes (RFC 7643 §4.1 and §4.3), and the attribute definitions
//! read from it, so what discovery says and what the portal accepts cannot differ.
//!
//! The core schema is RFC 7643's without `password` (the portal never stores an IdM password) and
//! `groups` (the portal has no Group resource).

use std::sync::LazyLock;

use serde_json::Value;

use super::{ENTERPRISE_SCHEMA, USER_SCHEMA};

/// The published core User schema (without `meta`, which discovery adds).
pub static USER_SCHEMA_JSON: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!("user_schema.json")).expect("user_schema.json is JSON")
});

/// The published enterprise User extension.
pub static ENTERPRISE_SCHEMA_JSON: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!("enterprise_user_schema.json"))
        .expect("enterprise_user_schema.json is JSON")
});

/// The core User attributes.
pub static USER_ATTRIBUTES: LazyLock<Vec<Attribute>> =
    LazyLock::new(|| Attribute::list(&USER_SCHEMA_JSON["attributes"]));

/// The enterprise extension's attributes.
pub static ENTERPRISE_ATTRIBUTES: LazyLock<Vec<Attribute>> =
    LazyLock::new(|| Attribute::list(&ENTERPRISE_SCHEMA_JSON["attributes"]));

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// Text.
    String,
    /// `true` / `false`.
    Boolean,
    /// A decimal number.
    Decimal,
    /// A whole number.
    Integer,
    /// An RFC 3339 time, as text.
    DateTime,
    /// Base64, as text.
    Binary,
    /// A URI, as text.
    Reference,
    /// An object of sub-attributes.
    Complex,
}

/// One attribute definition.
#[derive(Debug, Clone)]
pub struct Attribute {
    /// Its name, as the schema spells it (names are compared without regard to case).
    pub name: String,
    /// Its type.
    pub kind: Type,
    /// Whether it holds a list.
    pub multi_valued: bool,
    /// `readOnly` attributes are the service provider's; what a client sends for them is ignored.
    pub read_only: bool,
    /// Sub-attributes of a complex attribute.
    pub sub_attributes: Vec<Attribute>,
}

impl Attribute {
    fn list(attributes: &Value) -> Vec<Attribute> {
        attributes
            .as_array()
            .map(|list| list.iter().map(Attribute::from_json).collect())
            .unwrap_or_default()
    }

    fn from_json(a: &Value) -> Attribute {
        let kind = match a["type"].as_str().unwrap_or("string") {
            "boolean" => Type::Boolean,
            "decimal" => Type::Decimal,
            "integer" => Type::Integer,
            "dateTime" => Type::DateTime,
            "binary" => Type::Binary,
            "reference" => Type::Reference,
            "complex" => Type::Complex,
            _ => Type::String,
        };
        Attribute {
            name: a["name"].as_str().unwrap_or_default().to_owned(),
            kind,
            multi_valued: a["multiValued"].as_bool().unwrap_or(false),
            read_only: a["mutability"].as_str() == Some("readOnly"),
            sub_attributes: Attribute::list(&a["subAttributes"]),
        }
    }

    /// The sub-attribute called `name` (any case).
    pub fn sub(&self, name: &str) -> Option<&Attribute> {
        find(&self.sub_attributes, name)
    }
}

/// The attribute called `name` (any case) in `list`.
pub fn find<'a>(list: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    list.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// Which schema an attribute name belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The core User schema.
    Core,
    /// The enterprise extension (stored under its URN).
    Enterprise,
}

impl Scope {
    /// The attributes of this schema.
    pub fn attributes(self) -> &'static [Attribute] {
        match self {
            Scope::Core => &USER_ATTRIBUTES,
            Scope::Enterprise => &ENTERPRISE_ATTRIBUTES,
        }
    }
}

/// Splits a schema URN off an attribute path (`urn:…:enterprise:2.0:User:department` →
/// `(Enterprise, "department")`; `urn:…:core:2.0:User:userName` → `(Core, "userName")`; a bare
/// `urn:…:enterprise:2.0:User` → `(Enterprise, "")`; anything else is core).
pub fn split_urn(path: &str) -> (Scope, &str) {
    for (urn, scope) in [
        (ENTERPRISE_SCHEMA, Scope::Enterprise),
        (USER_SCHEMA, Scope::Core),
    ] {
        if path.len() >= urn.len() && path[..urn.len()].eq_ignore_ascii_case(urn) {
            let rest = &path[urn.len()..];
            if rest.is_empty() {
                return (scope, "");
            }
            if let Some(attr) = rest.strip_prefix(':') {
                return (scope, attr);
            }
        }
    }
    (Scope::Core, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r22_the_published_schema_is_the_one_checked_against() {
        let user_name = find(&USER_ATTRIBUTES, "USERNAME").expect("userName");
        assert_eq!(user_name.name, "userName");
        let emails = find(&USER_ATTRIBUTES, "emails").unwrap();
        assert!(emails.multi_valued && emails.kind == Type::Complex);
        assert_eq!(emails.sub("VALUE").unwrap().kind, Type::String);
        assert!(find(&USER_ATTRIBUTES, "password").is_none());
        let manager = find(&ENTERPRISE_ATTRIBUTES, "manager").unwrap();
        assert!(manager.sub("displayName").unwrap().read_only);
        assert_eq!(
            split_urn("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
            (Scope::Enterprise, "department")
        );
        assert_eq!(split_urn(ENTERPRISE_SCHEMA), (Scope::Enterprise, ""));
        assert_eq!(split_urn("name.givenName"), (Scope::Core, "name.givenName"));
    }
}
