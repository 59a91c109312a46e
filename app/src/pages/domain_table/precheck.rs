//! The browser's pre-check of a row: the server's own parser and rules from the domain crate
//! (`RowInput::parse`, `RowFields::validate`; STYLE principle 1: never a second copy in the UI),
//! so the browser finds and words a problem exactly as the server would. Rules that need the
//! database (uniqueness, administered domains) are left to the server.

use domain::address::EmailAddress;
use domain::row::{unparsed_primary, Field, FieldError};

use crate::rows_api::RowInput;

/// Every problem the browser can see in a row's input; `primary` is the typed primary address of
/// a new row (an edited row's is fixed).
pub fn precheck(primary: Option<&str>, form: &RowInput) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let primary = match primary.map(EmailAddress::parse) {
        Some(Ok(address)) => Some(address),
        Some(Err(e)) => {
            errors.push(FieldError::new(Field::PrimaryAddress, e));
            None
        }
        None => None,
    };
    let parsed = form.parse(true);
    errors.extend(parsed.errors);
    // As the server checks: fields that did not parse are reported by their parse error only.
    let primary = primary.unwrap_or_else(unparsed_primary);
    if let Err(found) = parsed.fields.validate(&primary) {
        errors.extend(
            found
                .into_iter()
                .filter(|e| !parsed.unparsed.contains(&e.field)),
        );
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_finds_bad_addresses_and_missing_applicants() {
        let form = RowInput {
            aliases: "ok@example.org, not an address".into(),
            mailbox_type: "functional".into(),
            // A functional mailbox's name, which the server's rules ask for too.
            last_name: "Info desk".into(),
            ..RowInput::default()
        };
        let errors = precheck(Some("info@@example.org"), &form);
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [Field::PrimaryAddress, Field::Aliases, Field::Applicant]
        );
        assert!(precheck(Some("info@example.org"), &RowInput::default()).is_empty());
    }
}
