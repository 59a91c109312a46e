//! The one filter form the portal answers (RFC 7644 §3.4.2.2): `attribute eq value`, which is what
//! Entra ID (`userName eq "…"`, `externalId eq "…"`), Okta (`userName eq "…"`) and PATCH value
//! paths (`emails[type eq "work"]`) send. Attribute names and the operator are read without regard
//! to case; the value is a JSON literal (a quoted string with JSON escapes, `true`, `false`, a
//! number). Anything else is refused with `invalidFilter`, never silently widened to "everything".

use serde_json::Value;

use super::{ScimError, ScimType};

/// Longest filter accepted.
pub const MAX_FILTER_CHARS: usize = 2048;

/// `attribute eq value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Equals {
    /// The attribute path as written (e.g. `userName`, `name.familyName`, a URN-qualified name).
    pub attribute: String,
    /// The value compared with.
    pub value: Value,
}

/// Parses `attribute eq value`.
pub fn parse(filter: &str) -> Result<Equals, ScimError> {
    let invalid = |why: &str| {
        ScimError::bad(
            ScimType::InvalidFilter,
            format!(
                "The filter {filter:?} {why}; the portal answers filters of the form \
                 userName eq \"…\" or externalId eq \"…\"."
            ),
        )
    };
    if filter.chars().count() > MAX_FILTER_CHARS {
        return Err(ScimError::bad(
            ScimType::InvalidFilter,
            format!("The filter is longer than {MAX_FILTER_CHARS} characters."),
        ));
    }
    let text = filter.trim();
    let (attribute, rest) = text
        .split_once(char::is_whitespace)
        .ok_or_else(|| invalid("has no operator"))?;
    let rest = rest.trim_start();
    let (op, value_text) = rest
        .split_once(char::is_whitespace)
        .ok_or_else(|| invalid("has no value"))?;
    if !op.eq_ignore_ascii_case("eq") {
        return Err(invalid(&format!(
            "uses the operator {op:?}, which is not supported"
        )));
    }
    let valid_name = attribute
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '_' | '-' | '$'))
        && attribute
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic());
    if !valid_name {
        return Err(invalid("does not start with an attribute name"));
    }
    let mut values = serde_json::Deserializer::from_str(value_text.trim()).into_iter::<Value>();
    let value = match values.next() {
        Some(Ok(v @ (Value::String(_) | Value::Bool(_) | Value::Number(_)))) => v,
        _ => {
            return Err(invalid(
                "does not compare with a quoted string, true, false or a number",
            ))
        }
    };
    if !value_text.trim()[values.byte_offset()..].trim().is_empty() {
        return Err(invalid(
            "has more than one comparison (and, or, not are not supported)",
        ));
    }
    Ok(Equals {
        attribute: attribute.to_owned(),
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn r22_the_idms_filters_are_read() {
        assert_eq!(
            parse("userName eq \"anna@example.org\"").unwrap(),
            Equals {
                attribute: "userName".into(),
                value: json!("anna@example.org")
            }
        );
        let e = parse("  EXTERNALID   EQ  \"a \\\"b\\\" c\" ").unwrap();
        assert_eq!(
            (e.attribute.as_str(), e.value),
            ("EXTERNALID", json!("a \"b\" c"))
        );
        assert_eq!(parse("primary eq true").unwrap().value, json!(true));
    }

    #[test]
    fn r22_other_filters_are_invalid_filters() {
        for f in [
            "userName sw \"a\"",
            "userName eq \"a\" and active eq true",
            "userName eq a",
            "userName eq \"a",
            "userName",
            "(userName eq \"a\")",
            "userName pr",
            "",
        ] {
            let e = parse(f).unwrap_err();
            assert_eq!(e.to_json()["scimType"], "invalidFilter", "{f}");
        }
    }
}
