//! The browser's pre-check of a row, with the domain crate's own parsers (STYLE principle 1: never
//! a second regex in the UI). Rules that need the database (uniqueness, administered domains) are
//! left to the server.

use domain::address::EmailAddress;
use domain::mailbox::MailboxType;
use domain::row::{parse_aliases, Field, FieldError, RowProblem};
use domain::text::{Comment, PersonName};

use crate::rows_api::RowInput;

/// Every problem the browser can see in a row's input.
pub fn precheck(primary: Option<&str>, form: &RowInput) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let primary = match primary {
        Some(p) => match EmailAddress::parse(p) {
            Ok(a) => Some(a),
            Err(e) => {
                errors.push(FieldError::new(Field::PrimaryAddress, e));
                None
            }
        },
        None => None,
    };
    if let Err(e) = PersonName::parse(&form.first_name) {
        errors.push(FieldError::new(Field::FirstName, e));
    }
    if let Err(e) = PersonName::parse(&form.last_name) {
        errors.push(FieldError::new(Field::LastName, e));
    }
    if let Err(e) = Comment::parse(&form.comment) {
        errors.push(FieldError::new(Field::Comment, e));
    }
    let aliases = match parse_aliases(&form.aliases) {
        Ok(list) => list,
        Err(e) => {
            errors.push(FieldError::new(Field::Aliases, e));
            Vec::new()
        }
    };
    if let Some(p) = &primary {
        if aliases.contains(p) {
            errors.push(FieldError::new(
                Field::Aliases,
                RowProblem::AliasIsPrimary { alias: p.clone() },
            ));
        }
    }
    let kind = if form.mailbox_type.trim().is_empty() {
        Ok(MailboxType::Personal)
    } else {
        MailboxType::parse(&form.mailbox_type)
    };
    match kind {
        Err(e) => errors.push(FieldError::new(Field::MailboxType, e)),
        Ok(MailboxType::Functional) if form.applicant.trim().is_empty() => errors.push(
            FieldError::new(Field::Applicant, RowProblem::FunctionalNeedsApplicant),
        ),
        Ok(MailboxType::Functional) => {
            if let Err(e) = EmailAddress::parse(&form.applicant) {
                errors.push(FieldError::new(Field::Applicant, e));
            }
        }
        Ok(MailboxType::Personal) => {}
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
