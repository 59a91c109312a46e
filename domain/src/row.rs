//! A row of a domain's address table (SPEC §2) and the rules on its fields (R1, R3).

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::address::{
    address_list_items, parse_address_list, AddressListError, DomainName, EmailAddress,
};
use crate::mailbox::MailboxType;
use crate::message::Message;
use crate::text::{Comment, PersonName};

/// Most aliases one row may have (SPEC Q9). Real mailboxes have a handful; a row with 10 000
/// made its domain's table page 3 MB and 1.3 s slow for everyone.
pub const MAX_ALIASES: usize = 50;

/// Parses the alias field (the edit form's, a CSV `Aliases` cell): [`parse_address_list`] and
/// at most [`MAX_ALIASES`] items. The items are counted before any is parsed, so a pasted list of
/// 10 000 costs no 10 000 parses.
pub fn parse_aliases(input: &str) -> Result<Vec<EmailAddress>, AliasesError> {
    let count = address_list_items(input).count();
    if count > MAX_ALIASES {
        return Err(AliasesError::TooMany { count });
    }
    Ok(parse_address_list(input)?)
}

/// Why an alias list is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Error)]
pub enum AliasesError {
    /// More than [`MAX_ALIASES`] items.
    #[error("{}", too_many_aliases(*.count))]
    TooMany {
        /// How many items the list has.
        count: usize,
    },
    /// An item is not an address.
    #[error(transparent)]
    Address(#[from] AddressListError),
}

fn too_many_aliases(count: usize) -> String {
    format!(
        "a row can have at most {MAX_ALIASES} aliases, this list has {count}: remove {}, or put \
         the mailbox's further addresses in a row of their own",
        count - MAX_ALIASES
    )
}

/// The editable fields of a row: everything but the primary address.
///
/// The primary address is deliberately not in here (R2): it is the row's identity — the key
/// the CSV upsert matches on and what links and certificates were issued for — so no edit can
/// change it. To change it, deactivate the row and create a new one. Functions that need it
/// take it as a separate argument.
///
/// Each field is valid on its own by construction; [`RowFields::validate`] checks the rules
/// that span fields. Deserialising does not run `validate`: call it at the boundary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowFields {
    /// Admin-friendly first name; empty on a functional row.
    pub first_name: PersonName,
    /// Admin-friendly last name; on a functional row, the mailbox's name.
    pub last_name: PersonName,
    /// Further sender addresses of the same mailbox. A set in meaning; the order is kept only
    /// so the table and CSV show them as entered.
    pub aliases: Vec<EmailAddress>,
    /// Personal or functional.
    pub mailbox_type: MailboxType,
    /// The person who receives a functional mailbox's challenges; `None` on personal rows.
    pub applicant: Option<EmailAddress>,
    /// The NAP's own note.
    pub comment: Comment,
    /// Whether the row is active (R7). New rows are active.
    pub active: bool,
}

/// Stands in for a primary address that did not parse, so the other rules can still be checked
/// and every problem reported at once. `.invalid` is reserved (RFC 2606): no row can hold it.
pub fn unparsed_primary() -> EmailAddress {
    EmailAddress::parse("unparsed-primary@primary.invalid").expect("a valid address")
}

impl RowFields {
    /// Checks the rules that span fields (SPEC §2) and returns every violation, each at its field.
    ///
    /// - at most [`MAX_ALIASES`] aliases (SPEC Q9);
    /// - no alias equals the primary address, no alias is listed twice;
    /// - personal: no applicant;
    /// - functional: an applicant that is neither the primary nor an alias, an empty first
    ///   name and a non-empty last name (the mailbox's name).
    ///
    /// Portal-wide uniqueness needs the database and is the caller's; so is R1
    /// ([`RowFields::check_administered`]).
    pub fn validate(&self, primary: &EmailAddress) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        // Deserialised fields (the wire, a later API) never went through `parse_aliases`.
        if self.aliases.len() > MAX_ALIASES {
            errors.push(FieldError::new(
                Field::Aliases,
                AliasesError::TooMany {
                    count: self.aliases.len(),
                },
            ));
        }
        let mut seen = HashSet::new();
        for alias in &self.aliases {
            if alias == primary {
                errors.push(FieldError::new(
                    Field::Aliases,
                    RowProblem::AliasIsPrimary {
                        alias: alias.clone(),
                    },
                ));
            } else if !seen.insert(alias) {
                errors.push(FieldError::new(
                    Field::Aliases,
                    RowProblem::AliasTwice {
                        alias: alias.clone(),
                    },
                ));
            }
        }
        match (self.mailbox_type, &self.applicant) {
            (MailboxType::Personal, Some(_)) => errors.push(FieldError::new(
                Field::Applicant,
                RowProblem::PersonalHasApplicant,
            )),
            (MailboxType::Personal, None) => {}
            (MailboxType::Functional, None) => errors.push(FieldError::new(
                Field::Applicant,
                RowProblem::FunctionalNeedsApplicant,
            )),
            (MailboxType::Functional, Some(applicant)) => {
                if applicant == primary {
                    errors.push(FieldError::new(
                        Field::Applicant,
                        RowProblem::ApplicantIsPrimary {
                            primary: primary.clone(),
                        },
                    ));
                } else if self.aliases.contains(applicant) {
                    errors.push(FieldError::new(
                        Field::Applicant,
                        RowProblem::ApplicantIsAlias {
                            alias: applicant.clone(),
                        },
                    ));
                }
            }
        }
        if self.mailbox_type == MailboxType::Functional {
            if !self.first_name.is_empty() {
                errors.push(FieldError::new(
                    Field::FirstName,
                    RowProblem::FunctionalHasFirstName,
                ));
            }
            if self.last_name.is_empty() {
                errors.push(FieldError::new(
                    Field::LastName,
                    RowProblem::FunctionalNeedsName,
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// R1: the primary address and every alias must lie in a domain the NAP administers
    /// (subdomains included, see [`EmailAddress::is_in`]). The applicant address is exempt:
    /// it is a person's own address, often elsewhere.
    pub fn check_administered(
        &self,
        primary: &EmailAddress,
        administered: &[DomainName],
    ) -> Result<(), Vec<FieldError>> {
        let errors: Vec<FieldError> = std::iter::once((primary, Field::PrimaryAddress))
            .chain(self.aliases.iter().map(|a| (a, Field::Aliases)))
            .filter_map(|(address, field)| {
                check_in_administered(address, administered, field).err()
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Every address of the row: the primary first, then the aliases in order.
    pub fn addresses<'a>(
        &'a self,
        primary: &'a EmailAddress,
    ) -> impl Iterator<Item = &'a EmailAddress> + 'a {
        std::iter::once(primary).chain(self.aliases.iter())
    }
}

/// R1 for one address: it must lie in one of `administered` (or a subdomain of one).
/// `field` is where the error is shown.
pub fn check_in_administered(
    address: &EmailAddress,
    administered: &[DomainName],
    field: Field,
) -> Result<(), FieldError> {
    if administered.iter().any(|d| address.is_in(d)) {
        return Ok(());
    }
    // Name the domains so the NAP sees the typo; a long list would drown the message.
    const LISTED: usize = 5;
    let mut list: Vec<&str> = administered
        .iter()
        .take(LISTED)
        .map(DomainName::as_str)
        .collect();
    if administered.len() > LISTED {
        list.push("…");
    }
    Err(FieldError::new(
        field,
        RowProblem::NotAdministered {
            address: address.clone(),
            administered: list.into_iter().map(str::to_owned).collect(),
        },
    ))
}

/// R3: a row may be deleted only while no challenge has ever been sent for it; after that the
/// challenges, links and audit trail refer to it, so it can only be deactivated.
pub fn may_delete_row(challenge_ever_sent: bool) -> Result<(), DeleteRefusal> {
    if challenge_ever_sent {
        Err(DeleteRefusal)
    } else {
        Ok(())
    }
}

/// A row's fields break a rule that spans fields (SPEC §2, R1), as data: the page words it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Error)]
pub enum RowProblem {
    /// An alias equals the primary address.
    #[error("{alias} is the primary address of this row; it cannot also be an alias")]
    AliasIsPrimary {
        /// The alias.
        alias: EmailAddress,
    },
    /// An alias is listed twice.
    #[error("{alias} is listed more than once among the aliases")]
    AliasTwice {
        /// The alias.
        alias: EmailAddress,
    },
    /// A personal row with an applicant.
    #[error("a personal mailbox has no applicant address (its owner confirms the challenges); clear it, or make the mailbox functional")]
    PersonalHasApplicant,
    /// A functional row without applicant.
    #[error("a functional mailbox needs an applicant address: the person who receives its challenges and applies for its certificates")]
    FunctionalNeedsApplicant,
    /// The applicant is the mailbox's own primary address.
    #[error("the applicant address must be a person's own address, not the mailbox's primary address {primary}")]
    ApplicantIsPrimary {
        /// The primary address.
        primary: EmailAddress,
    },
    /// The applicant is one of the mailbox's aliases.
    #[error(
        "the applicant address must be a person's own address, not the mailbox's alias {alias}"
    )]
    ApplicantIsAlias {
        /// The alias.
        alias: EmailAddress,
    },
    /// A functional row with a first name.
    #[error("a functional mailbox has no first name; put the mailbox's name in the last name")]
    FunctionalHasFirstName,
    /// A functional row without a name.
    #[error("a functional mailbox needs a name: enter it as the last name")]
    FunctionalNeedsName,
    /// R1: an address outside the NAP's domains.
    #[error("{address} is not in a domain you administer ({})", administered_list(.administered))]
    NotAdministered {
        /// The address.
        address: EmailAddress,
        /// The first few domains the NAP administers ("…" when there are more).
        administered: Vec<String>,
    },
}

fn administered_list(list: &[String]) -> String {
    if list.is_empty() {
        "you administer none".to_owned()
    } else {
        list.join(", ")
    }
}

/// A row that cannot be deleted any more (R3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Error)]
#[error(
    "challenges have been sent for this row, so it can no longer be deleted; deactivate it instead"
)]
pub struct DeleteRefusal;

/// A field of a row, so that the UI can show an error at its cell and the preview can list
/// what an edit changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The primary (sender) address.
    PrimaryAddress,
    /// First name.
    FirstName,
    /// Last name (a functional mailbox's name).
    LastName,
    /// The aliases.
    Aliases,
    /// Personal or functional.
    MailboxType,
    /// The applicant address.
    Applicant,
    /// The NAP's comment.
    Comment,
    /// Active or not.
    Active,
}

impl Field {
    /// Every field, in table order.
    pub const ALL: [Field; 8] = [
        Field::PrimaryAddress,
        Field::FirstName,
        Field::LastName,
        Field::Aliases,
        Field::MailboxType,
        Field::Applicant,
        Field::Comment,
        Field::Active,
    ];

    /// A stable key (`primary_address`, `first_name`, …), the same as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::PrimaryAddress => "primary_address",
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::Aliases => "aliases",
            Field::MailboxType => "mailbox_type",
            Field::Applicant => "applicant",
            Field::Comment => "comment",
            Field::Active => "active",
        }
    }

    /// The name a NAP reads: "primary address", "first name", …
    pub fn label(self) -> &'static str {
        match self {
            Field::PrimaryAddress => "primary address",
            Field::FirstName => "first name",
            Field::LastName => "last name",
            Field::Aliases => "aliases",
            Field::MailboxType => "mailbox type",
            Field::Applicant => "applicant address",
            Field::Comment => "comment",
            Field::Active => "active",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A rule violation at one field of a row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Where to show it.
    pub field: Field,
    /// What is wrong, as data the page words in the NAP's language.
    pub message: Message,
}

impl FieldError {
    /// An error at `field`.
    pub fn new(field: Field, message: impl Into<Message>) -> FieldError {
        FieldError {
            field,
            message: message.into(),
        }
    }
}

/// Rows and addresses for the tests of every module.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub(crate) fn addr(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    pub(crate) fn name(s: &str) -> PersonName {
        PersonName::parse(s).unwrap()
    }

    pub(crate) fn personal(aliases: &[&str]) -> RowFields {
        RowFields {
            first_name: name("Anna"),
            last_name: name("Schmidt"),
            aliases: aliases.iter().map(|a| addr(a)).collect(),
            mailbox_type: MailboxType::Personal,
            applicant: None,
            comment: Comment::empty(),
            active: true,
        }
    }

    pub(crate) fn functional(aliases: &[&str], applicant: &str) -> RowFields {
        RowFields {
            first_name: PersonName::empty(),
            last_name: name("Helpdesk"),
            aliases: aliases.iter().map(|a| addr(a)).collect(),
            mailbox_type: MailboxType::Functional,
            applicant: Some(addr(applicant)),
            comment: Comment::empty(),
            active: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    fn fields_of(result: Result<(), Vec<FieldError>>) -> Vec<Field> {
        result
            .err()
            .unwrap_or_default()
            .iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn valid_personal_and_functional_rows_pass() {
        let primary = addr("anna@example.org");
        assert_eq!(
            personal(&["a.schmidt@example.org"]).validate(&primary),
            Ok(())
        );
        let helpdesk = addr("helpdesk@example.org");
        assert_eq!(
            functional(&["support@example.org"], "anna@example.org").validate(&helpdesk),
            Ok(())
        );
    }

    #[test]
    fn alias_equal_to_primary_is_refused_at_the_aliases() {
        let primary = addr("anna@example.org");
        let errors = personal(&["ANNA@example.org"])
            .validate(&primary)
            .unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, Field::Aliases);
        assert!(errors[0]
            .message
            .to_string()
            .contains("anna@example.org is the primary address"));
    }

    #[test]
    fn duplicate_alias_is_refused() {
        let primary = addr("anna@example.org");
        let row = personal(&["a@example.org", "b@example.org", "A@example.org"]);
        let errors = row.validate(&primary).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0]
            .message
            .to_string()
            .contains("a@example.org is listed more than once"));
    }

    #[test]
    fn q9_a_row_with_51_aliases_is_refused() {
        let list = |n: usize| {
            (0..n)
                .map(|i| format!("a{i}@example.org"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        assert_eq!(parse_aliases(&list(50)).unwrap().len(), 50);
        let e = parse_aliases(&list(51)).unwrap_err();
        assert_eq!(e, AliasesError::TooMany { count: 51 });
        assert_eq!(
            e.to_string(),
            "a row can have at most 50 aliases, this list has 51: remove 1, or put the mailbox's \
             further addresses in a row of their own"
        );
        // Counted before parsing: 10 000 items, none of them parsed, one clear message.
        let e = parse_aliases(&"x ".repeat(10_000)).unwrap_err();
        assert_eq!(e, AliasesError::TooMany { count: 10_000 });
        // A bad item in a list within the bound is named as before.
        assert!(matches!(
            parse_aliases("a@example.org nope"),
            Err(AliasesError::Address(AddressListError { position: 2, .. }))
        ));

        // Fields that never went through the parser are checked by `validate`.
        let primary = addr("anna@example.org");
        let many: Vec<String> = (0..51).map(|i| format!("a{i}@example.org")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let errors = personal(&many).validate(&primary).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, Field::Aliases);
        assert!(errors[0]
            .message
            .to_string()
            .starts_with("a row can have at most 50 aliases"));
        assert_eq!(personal(&many[..50]).validate(&primary), Ok(()));
    }

    #[test]
    fn personal_row_may_not_have_an_applicant() {
        let mut row = personal(&[]);
        row.applicant = Some(addr("boss@example.org"));
        assert_eq!(
            fields_of(row.validate(&addr("anna@example.org"))),
            [Field::Applicant]
        );
    }

    #[test]
    fn functional_row_needs_an_applicant() {
        let mut row = functional(&[], "anna@example.org");
        row.applicant = None;
        assert_eq!(
            fields_of(row.validate(&addr("helpdesk@example.org"))),
            [Field::Applicant]
        );
    }

    #[test]
    fn functional_applicant_may_not_be_the_mailbox_itself() {
        let primary = addr("helpdesk@example.org");
        let own = functional(&[], "helpdesk@example.org");
        assert_eq!(fields_of(own.validate(&primary)), [Field::Applicant]);
        let alias = functional(&["support@example.org"], "support@example.org");
        assert_eq!(fields_of(alias.validate(&primary)), [Field::Applicant]);
    }

    #[test]
    fn functional_row_has_no_first_name_but_needs_a_last_name() {
        let mut row = functional(&[], "anna@example.org");
        row.first_name = name("Help");
        row.last_name = PersonName::empty();
        assert_eq!(
            fields_of(row.validate(&addr("helpdesk@example.org"))),
            [Field::FirstName, Field::LastName]
        );
    }

    #[test]
    fn all_violations_are_reported_at_once() {
        let mut row = functional(
            &["helpdesk@example.org", "x@example.org", "x@example.org"],
            "x@example.org",
        );
        row.first_name = name("Help");
        let errors = row.validate(&addr("helpdesk@example.org")).unwrap_err();
        assert_eq!(errors.len(), 4, "{errors:?}");
    }

    #[test]
    fn r01_alias_outside_administered_domains_is_refused() {
        let administered = [DomainName::parse("example.org").unwrap()];
        let row = personal(&["anna@mail.example.org", "anna@other.net"]);
        let errors = row
            .check_administered(&addr("anna@example.org"), &administered)
            .unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, Field::Aliases);
        assert_eq!(
            errors[0].message.to_string(),
            "anna@other.net is not in a domain you administer (example.org)"
        );
    }

    #[test]
    fn r01_primary_outside_administered_domains_is_refused() {
        let administered = [DomainName::parse("example.org").unwrap()];
        let errors = personal(&[])
            .check_administered(&addr("anna@badexample.org"), &administered)
            .unwrap_err();
        assert_eq!(errors[0].field, Field::PrimaryAddress);
    }

    #[test]
    fn r01_applicant_may_lie_outside_administered_domains() {
        let administered = [DomainName::parse("example.org").unwrap()];
        let row = functional(&[], "anna@elsewhere.net");
        assert_eq!(
            row.check_administered(&addr("helpdesk@example.org"), &administered),
            Ok(())
        );
    }

    #[test]
    fn r01_nap_without_domains_is_told_so() {
        let e =
            check_in_administered(&addr("a@example.org"), &[], Field::PrimaryAddress).unwrap_err();
        assert!(
            e.message.to_string().ends_with("(you administer none)"),
            "{}",
            e.message
        );
    }

    #[test]
    fn r03_row_can_be_deleted_only_while_no_challenge_was_ever_sent() {
        assert_eq!(may_delete_row(false), Ok(()));
        let refusal = may_delete_row(true).unwrap_err();
        assert!(refusal.to_string().contains("deactivate it instead"));
    }

    #[test]
    fn field_keys_match_the_wire_names() {
        for f in Field::ALL {
            assert_eq!(
                serde_json::to_string(&f).unwrap(),
                format!("\"{}\"", f.as_str())
            );
        }
        let e = FieldError::new(Field::Applicant, "x");
        assert_eq!(e.to_string(), "applicant address: x");
    }

    #[test]
    fn addresses_are_the_primary_then_the_aliases() {
        let primary = addr("anna@example.org");
        let row = personal(&["b@example.org", "c@example.org"]);
        let all: Vec<&str> = row.addresses(&primary).map(EmailAddress::as_str).collect();
        assert_eq!(all, ["anna@example.org", "b@example.org", "c@example.org"]);
    }
}
