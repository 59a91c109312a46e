//! Email addresses and domain names (SPEC §2).
//!
//! An [`EmailAddress`] can only be made by [`EmailAddress::parse`] (or by deserialising, which
//! goes through it), so holding one proves it is well-formed: trimmed, lower-case, an ASCII
//! dot-atom local part of at most 64 characters, a domain stored as ASCII (punycode) with at
//! least two labels, at most 254 characters in all.
//!
//! Deliberately narrower than RFC 5321/5322: no quoted local parts, no comments, no IP
//! literals, no single-label domains. Such addresses cannot get a publicly trusted S/MIME
//! certificate anyway, and refusing them early gives the NAP a clear message instead of a
//! CA error later.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};
use thiserror::Error;

use crate::{shown, shown_char};

/// Longest local part (before the `@`), RFC 5321 §4.5.3.1.1.
pub const MAX_LOCAL_PART_LEN: usize = 64;
/// Longest whole address, RFC 5321 §4.5.3.1.3 path limit minus the angle brackets.
pub const MAX_ADDRESS_LEN: usize = 254;
/// Longest domain name in its ASCII form, without a trailing dot.
pub const MAX_DOMAIN_LEN: usize = 253;
/// Longest domain label (the part between dots).
pub const MAX_LABEL_LEN: usize = 63;

/// The characters RFC 5322 allows in an atom (`atext`) besides letters and digits.
pub const ATEXT_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";

/// A valid, normalised email address (lower-case, domain in ASCII/punycode).
///
/// Compare and hash it directly: normalisation at parse time is what makes addresses compare
/// case-insensitively (SPEC §2).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct EmailAddress {
    /// The normalised address, e.g. `anna@xn--mller-kva.de`.
    text: String,
    /// Byte index of the single `@` in `text`.
    at: usize,
}

impl EmailAddress {
    /// Parses user input into an address, or says precisely what is wrong with it.
    ///
    /// Surrounding whitespace is trimmed; upper case is folded; an IDN domain is converted to
    /// punycode (`anna@müller.de` → `anna@xn--mller-kva.de`).
    pub fn parse(input: &str) -> Result<EmailAddress, AddressError> {
        let trimmed = input.trim();
        let input = || shown(trimmed);
        if trimmed.is_empty() {
            return Err(AddressError::Empty);
        }
        // Quotes first: a quoted local part may contain spaces and @, and "quoted local parts
        // are not accepted" is the message that helps, not "contains a space".
        if trimmed.contains('"') {
            return Err(AddressError::Quoted { input: input() });
        }
        if trimmed.chars().any(char::is_whitespace) {
            return Err(AddressError::Whitespace { input: input() });
        }
        let Some((local, domain)) = trimmed.split_once('@') else {
            return Err(AddressError::MissingAt { input: input() });
        };
        if domain.contains('@') {
            return Err(AddressError::MoreThanOneAt { input: input() });
        }
        if local.is_empty() {
            return Err(AddressError::EmptyLocalPart { input: input() });
        }
        if domain.is_empty() {
            return Err(AddressError::EmptyDomain { input: input() });
        }
        check_local_part(local).map_err(|problem| problem.into_error(input()))?;
        let domain_ascii = domain_to_ascii(domain).map_err(|problem| match problem {
            DomainProblem::IpLiteral => AddressError::IpLiteral { input: input() },
            problem => AddressError::InvalidDomain {
                input: input(),
                domain: shown(domain),
                problem,
            },
        })?;
        let text = format!("{}@{}", local.to_ascii_lowercase(), domain_ascii);
        if text.len() > MAX_ADDRESS_LEN {
            return Err(AddressError::TooLong {
                input: input(),
                len: text.len(),
            });
        }
        Ok(EmailAddress {
            at: local.len(),
            text,
        })
    }

    /// The normalised address, e.g. `anna@xn--mller-kva.de`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The part before the `@`, lower-case ASCII.
    pub fn local_part(&self) -> &str {
        &self.text[..self.at]
    }

    /// The part after the `@`, lower-case ASCII (punycode for an IDN).
    pub fn domain(&self) -> &str {
        &self.text[self.at + 1..]
    }

    /// Whether this address lies in `domain` in the sense of R1.
    ///
    /// Decision: the domain itself **and its subdomains** count, because a NAP who administers
    /// `example.org` is responsible for `mail.example.org` too. `anna@mail.example.org` is in
    /// `example.org`; `anna@badexample.org` is not (the match is on whole labels).
    pub fn is_in(&self, domain: &DomainName) -> bool {
        is_same_or_subdomain(self.domain(), domain.as_str())
    }

    /// The most specific of `domains` this address lies in (see [`EmailAddress::is_in`]).
    ///
    /// When both `example.org` and `mail.example.org` are registered, `anna@mail.example.org`
    /// belongs to the table of `mail.example.org`: the longest match wins, so every address
    /// has exactly one home table.
    pub fn owning_domain<'d>(&self, domains: &'d [DomainName]) -> Option<&'d DomainName> {
        domains
            .iter()
            .filter(|d| self.is_in(d))
            .max_by_key(|d| d.as_str().len())
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for EmailAddress {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// Deserialising goes through [`EmailAddress::parse`], so the wire cannot carry an invalid address.
impl TryFrom<String> for EmailAddress {
    type Error = AddressError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        EmailAddress::parse(&value)
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

/// Why a text is not an email address. Every message names the input (cut after 100
/// characters) and says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Error)]
pub enum AddressError {
    /// Nothing but whitespace was entered.
    #[error("an email address is required, but none was entered")]
    Empty,
    /// No `@` at all.
    #[error("\"{input}\" is not an email address: it has no @")]
    MissingAt {
        /// The offending input.
        input: String,
    },
    /// Two or more `@`.
    #[error("\"{input}\" is not an email address: it has more than one @")]
    MoreThanOneAt {
        /// The offending input.
        input: String,
    },
    /// A quoted local part such as `"anna smith"@example.org`.
    #[error("\"{input}\" is not an email address accepted here: quoted local parts (with \") are not accepted")]
    Quoted {
        /// The offending input.
        input: String,
    },
    /// Whitespace inside the address (surrounding whitespace is trimmed, not refused).
    #[error("\"{input}\" is not an email address: it contains a space; separate several addresses with commas")]
    Whitespace {
        /// The offending input.
        input: String,
    },
    /// Nothing before the `@`.
    #[error("\"{input}\" is not an email address: nothing comes before the @")]
    EmptyLocalPart {
        /// The offending input.
        input: String,
    },
    /// Nothing after the `@`.
    #[error("\"{input}\" is not an email address: nothing comes after the @")]
    EmptyDomain {
        /// The offending input.
        input: String,
    },
    /// A character outside RFC 5322 `atext` (and the dot) in the local part.
    #[error("\"{input}\" is not an email address: the local part (before the @) contains {}; only ASCII letters, digits, dots and {ATEXT_SPECIALS} are allowed", shown_char(*.character))]
    LocalPartCharacter {
        /// The offending input.
        input: String,
        /// The first character that is not allowed.
        character: char,
    },
    /// A dot at the start or end of the local part, or two in a row.
    #[error("\"{input}\" is not an email address: the local part (before the @) starts or ends with a dot or has two dots in a row")]
    LocalPartDots {
        /// The offending input.
        input: String,
    },
    /// Local part longer than 64 characters.
    #[error("\"{input}\" is not an email address: the local part (before the @) is {len} characters long, longer than the {MAX_LOCAL_PART_LEN} allowed")]
    LocalPartTooLong {
        /// The offending input.
        input: String,
        /// Its length.
        len: usize,
    },
    /// `anna@[192.0.2.1]`.
    #[error("\"{input}\" is not an email address accepted here: IP addresses in brackets are not accepted; use a domain name")]
    IpLiteral {
        /// The offending input.
        input: String,
    },
    /// The part after the `@` is not a valid domain name.
    #[error("\"{input}\" is not an email address: the domain part \"{domain}\" is not a valid domain name: {problem}")]
    InvalidDomain {
        /// The offending input.
        input: String,
        /// The part after the `@` as entered.
        domain: String,
        /// What is wrong with it.
        problem: DomainProblem,
    },
    /// Longer than 254 characters in its stored (punycode) form.
    #[error("\"{input}\" is not an email address: it is {len} characters long (domain in ASCII form), longer than the {MAX_ADDRESS_LEN} allowed")]
    TooLong {
        /// The offending input.
        input: String,
        /// The length of the normalised address.
        len: usize,
    },
}

/// What is wrong with a local part; turned into an [`AddressError`] naming the whole input.
enum LocalPartProblem {
    Character(char),
    Dots,
    TooLong(usize),
}

impl LocalPartProblem {
    fn into_error(self, input: String) -> AddressError {
        match self {
            LocalPartProblem::Character(character) => {
                AddressError::LocalPartCharacter { input, character }
            }
            LocalPartProblem::Dots => AddressError::LocalPartDots { input },
            LocalPartProblem::TooLong(len) => AddressError::LocalPartTooLong { input, len },
        }
    }
}

/// RFC 5322 dot-atom: atoms of `atext` joined by single dots.
fn check_local_part(local: &str) -> Result<(), LocalPartProblem> {
    if let Some(c) = local
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '.' || ATEXT_SPECIALS.contains(c)))
    {
        return Err(LocalPartProblem::Character(c));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(LocalPartProblem::Dots);
    }
    // All ASCII by now, so bytes are characters.
    if local.len() > MAX_LOCAL_PART_LEN {
        return Err(LocalPartProblem::TooLong(local.len()));
    }
    Ok(())
}

/// A registered email domain (e.g. `example.org`), lower-case ASCII (punycode for an IDN).
///
/// Same rules as the domain part of an [`EmailAddress`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct DomainName(String);

impl DomainName {
    /// Parses a domain name as an operator enters it; surrounding whitespace is trimmed.
    pub fn parse(input: &str) -> Result<DomainName, DomainError> {
        let trimmed = input.trim();
        domain_to_ascii(trimmed)
            .map(DomainName)
            .map_err(|problem| DomainError {
                input: shown(trimmed),
                problem,
            })
    }

    /// The domain in lower-case ASCII, e.g. `xn--mller-kva.de`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for DomainName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// Deserialising goes through [`DomainName::parse`].
impl TryFrom<String> for DomainName {
    type Error = DomainError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        DomainName::parse(&value)
    }
}

/// Why a text is not a valid domain name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Error)]
#[error("\"{input}\" is not a valid domain name: {problem}")]
pub struct DomainError {
    /// The offending input (cut after 100 characters).
    pub input: String,
    /// What is wrong with it.
    pub problem: DomainProblem,
}

/// What is wrong with a domain name; the message completes "… is not a valid domain name: ".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Error)]
pub enum DomainProblem {
    /// Nothing was entered.
    #[error("it is empty")]
    Empty,
    /// `[192.0.2.1]`.
    #[error("IP addresses in brackets are not accepted; use a domain name")]
    IpLiteral,
    /// A leading or trailing dot, or two dots in a row.
    #[error("it starts or ends with a dot or has two dots in a row")]
    EmptyLabel,
    /// Only one label, e.g. `localhost`.
    #[error("it has only one label; a domain needs at least two, like example.org")]
    SingleLabel,
    /// A character that no domain name may contain.
    #[error("it contains {}; only letters, digits, hyphens and dots are allowed", shown_char(*.character))]
    Character {
        /// The first character that is not allowed.
        character: char,
    },
    /// A label beginning or ending with `-`.
    #[error("the label \"{label}\" starts or ends with a hyphen")]
    HyphenAtLabelEdge {
        /// The offending label.
        label: String,
    },
    /// A label longer than 63 characters (in ASCII form).
    #[error("the label \"{label}\" is {len} characters long (in ASCII form), longer than the {MAX_LABEL_LEN} allowed")]
    LabelTooLong {
        /// The offending label (cut after 100 characters).
        label: String,
        /// Its length.
        len: usize,
    },
    /// Longer than 253 characters in ASCII form.
    #[error(
        "it is {len} characters long (in ASCII form), longer than the {MAX_DOMAIN_LEN} allowed"
    )]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// The last label is all digits, which is what an IP address looks like; no TLD is.
    #[error("its last label \"{label}\" is all digits; IP addresses are not accepted")]
    NumericTopLevel {
        /// The last label.
        label: String,
    },
    /// Refused by the IDNA (UTS-46) rules, e.g. a broken `xn--` label or disallowed Unicode.
    #[error("it is not a valid internationalised domain name (check for mistyped or unusual characters)")]
    Idna,
}

/// Converts a domain as entered into its stored form: lower-case ASCII, IDN labels in punycode.
fn domain_to_ascii(raw: &str) -> Result<String, DomainProblem> {
    if raw.is_empty() {
        return Err(DomainProblem::Empty);
    }
    if raw.starts_with('[') || raw.ends_with(']') {
        return Err(DomainProblem::IpLiteral);
    }
    // Checks on the form as entered first: UTS-46 would refuse these too, but only with a
    // generic error, and the NAP deserves to hear which character or dot is wrong.
    if let Some(c) = raw.chars().find(|&c| {
        (c.is_ascii() && !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
            || c.is_control()
            || c.is_whitespace()
    }) {
        return Err(DomainProblem::Character { character: c });
    }
    for label in raw.split('.') {
        if label.is_empty() {
            return Err(DomainProblem::EmptyLabel);
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(DomainProblem::HyphenAtLabelEdge {
                label: shown(label),
            });
        }
    }
    let ascii = crate::uts46::to_ascii(raw).map_err(|()| DomainProblem::Idna)?;
    check_ascii_domain(&ascii)?;
    Ok(ascii)
}

/// The rules on the stored (ASCII) form; mapping can change a name (e.g. a fullwidth dot
/// becomes a dot), so they are checked again after conversion.
fn check_ascii_domain(ascii: &str) -> Result<(), DomainProblem> {
    let labels: Vec<&str> = ascii.split('.').collect();
    for label in &labels {
        if label.is_empty() {
            return Err(DomainProblem::EmptyLabel);
        }
        if let Some(c) = label
            .chars()
            .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
        {
            return Err(DomainProblem::Character { character: c });
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(DomainProblem::HyphenAtLabelEdge {
                label: shown(label),
            });
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(DomainProblem::LabelTooLong {
                label: shown(label),
                len: label.len(),
            });
        }
    }
    if ascii.len() > MAX_DOMAIN_LEN {
        return Err(DomainProblem::TooLong { len: ascii.len() });
    }
    if labels.len() < 2 {
        return Err(DomainProblem::SingleLabel);
    }
    let top = labels[labels.len() - 1];
    if top.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DomainProblem::NumericTopLevel {
            label: top.to_owned(),
        });
    }
    Ok(())
}

/// `domain` equals `of` or ends with `.` + `of` (whole labels only).
fn is_same_or_subdomain(domain: &str, of: &str) -> bool {
    domain == of
        || (domain.len() > of.len()
            && domain.ends_with(of)
            && domain.as_bytes()[domain.len() - of.len() - 1] == b'.')
}

/// Parses a list of addresses as typed in the alias field or a CSV `Aliases` cell: separated by
/// spaces, commas or semicolons (any mix, any number). An empty list is fine.
///
/// Duplicates are kept; [`crate::RowFields::validate`] reports them at the row.
pub fn parse_address_list(input: &str) -> Result<Vec<EmailAddress>, AddressListError> {
    address_list_items(input)
        .enumerate()
        .map(|(index, item)| {
            EmailAddress::parse(item).map_err(|error| AddressListError {
                position: index + 1,
                error,
            })
        })
        .collect()
}

/// The items of an address list as [`parse_address_list`] splits it, unparsed (to count them).
pub(crate) fn address_list_items(input: &str) -> impl Iterator<Item = &str> {
    input
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|item| !item.is_empty())
}

/// An item of an address list that is not an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Error)]
#[error("address {position} of the list: {error}")]
pub struct AddressListError {
    /// 1-based position of the bad item among the list's items.
    pub position: usize,
    /// Why it is not an address (names the item).
    pub error: AddressError,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn addr(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    fn dom(s: &str) -> DomainName {
        DomainName::parse(s).unwrap()
    }

    #[test]
    fn plain_address_parses_into_its_parts() {
        let a = addr("anna.schmidt+pki@example.org");
        assert_eq!(a.as_str(), "anna.schmidt+pki@example.org");
        assert_eq!(a.local_part(), "anna.schmidt+pki");
        assert_eq!(a.domain(), "example.org");
        assert_eq!(a.to_string(), "anna.schmidt+pki@example.org");
    }

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        assert_eq!(
            addr(" \t anna@example.org\r\n").as_str(),
            "anna@example.org"
        );
    }

    #[test]
    fn upper_case_is_folded_so_addresses_compare_case_insensitively() {
        assert_eq!(
            addr("Anna.Schmidt@Example.ORG").as_str(),
            "anna.schmidt@example.org"
        );
        assert_eq!(addr("ANNA@EXAMPLE.ORG"), addr("anna@example.org"));
    }

    #[test]
    fn idn_domain_is_stored_as_punycode() {
        let a = addr("anna@müller.de");
        assert_eq!(a.as_str(), "anna@xn--mller-kva.de");
        assert_eq!(a.domain(), "xn--mller-kva.de");
        assert_eq!(addr("anna@MÜLLER.DE"), a);
        assert_eq!(addr("anna@xn--mller-kva.de"), a);
    }

    #[test]
    fn non_ascii_local_part_is_refused() {
        let e = EmailAddress::parse("müller@example.de").unwrap_err();
        assert!(matches!(
            e,
            AddressError::LocalPartCharacter {
                character: 'ü', ..
            }
        ));
    }

    #[test]
    fn local_part_of_64_characters_is_accepted_and_65_refused() {
        let ok = format!("{}@example.org", "a".repeat(64));
        assert_eq!(addr(&ok).local_part().len(), 64);
        let too_long = format!("{}@example.org", "a".repeat(65));
        let e = EmailAddress::parse(&too_long).unwrap_err();
        assert!(matches!(e, AddressError::LocalPartTooLong { len: 65, .. }));
        assert!(e
            .to_string()
            .contains("65 characters long, longer than the 64 allowed"));
    }

    /// A domain of exactly `len` characters made of labels of at most 63.
    fn domain_of_len(len: usize) -> String {
        let mut labels = Vec::new();
        let mut left = len - 4; // room for ".org"
        while left > 0 {
            let take = left.min(63);
            // A label needs a dot before the next one, so never leave exactly 1 for a "." alone.
            let take = if left - take == 1 { take - 1 } else { take };
            labels.push("d".repeat(take));
            left -= take;
            left = left.saturating_sub(1);
        }
        let d = format!("{}.org", labels.join("."));
        assert_eq!(d.len(), len, "test helper built a wrong length");
        d
    }

    #[test]
    fn address_of_254_characters_is_accepted_and_255_refused() {
        let local = "a".repeat(64);
        let ok = format!("{local}@{}", domain_of_len(254 - 65));
        assert_eq!(ok.len(), 254);
        assert_eq!(addr(&ok).as_str().len(), 254);
        let too_long = format!("{local}@{}", domain_of_len(255 - 65));
        assert_eq!(too_long.len(), 255);
        let e = EmailAddress::parse(&too_long).unwrap_err();
        assert!(matches!(e, AddressError::TooLong { len: 255, .. }), "{e:?}");
    }

    #[test]
    fn idn_length_is_counted_in_punycode() {
        // 60 'ü' are 60 characters as typed but far more than 63 in punycode.
        let e = EmailAddress::parse(&format!("anna@{}.de", "ü".repeat(60))).unwrap_err();
        assert!(
            matches!(
                e,
                AddressError::InvalidDomain {
                    problem: DomainProblem::LabelTooLong { .. },
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn dots_in_the_local_part_must_separate_atoms() {
        assert!(EmailAddress::parse("anna.b.schmidt@example.org").is_ok());
        for bad in [
            ".anna@example.org",
            "anna.@example.org",
            "an..na@example.org",
        ] {
            assert!(
                matches!(
                    EmailAddress::parse(bad),
                    Err(AddressError::LocalPartDots { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn every_atext_special_is_accepted_in_the_local_part() {
        let a = addr("o'brien!#$%&'*+-/=?^_`{|}~@example.org");
        assert_eq!(a.local_part(), "o'brien!#$%&'*+-/=?^_`{|}~");
    }

    #[test]
    fn characters_outside_atext_are_refused_in_the_local_part() {
        for (bad, c) in [
            ("an(na)@example.org", '('),
            ("an,na@example.org", ','),
            ("an\\na@example.org", '\\'),
            ("anna<@example.org", '<'),
        ] {
            match EmailAddress::parse(bad) {
                Err(AddressError::LocalPartCharacter { character, .. }) => {
                    assert_eq!(character, c, "{bad}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn quoted_local_parts_are_refused() {
        for bad in [
            "\"anna\"@example.org",
            "\"anna smith\"@example.org",
            "\"a@b\"@example.org",
        ] {
            let e = EmailAddress::parse(bad).unwrap_err();
            assert!(matches!(e, AddressError::Quoted { .. }), "{bad}: {e:?}");
        }
    }

    #[test]
    fn whitespace_inside_is_refused() {
        for bad in [
            "anna smith@example.org",
            "anna@exa mple.org",
            "anna\t@example.org",
            "anna\u{A0}@example.org",
        ] {
            let e = EmailAddress::parse(bad).unwrap_err();
            assert!(
                matches!(e, AddressError::Whitespace { .. }),
                "{bad:?}: {e:?}"
            );
        }
    }

    #[test]
    fn empty_input_is_refused() {
        assert_eq!(EmailAddress::parse(""), Err(AddressError::Empty));
        assert_eq!(EmailAddress::parse("   "), Err(AddressError::Empty));
    }

    #[test]
    fn missing_at_is_refused() {
        let e = EmailAddress::parse("anna.example.org").unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"anna.example.org\" is not an email address: it has no @"
        );
    }

    #[test]
    fn two_ats_are_refused_with_a_message_naming_the_input() {
        let e = EmailAddress::parse("anna@@x.org").unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"anna@@x.org\" is not an email address: it has more than one @"
        );
    }

    #[test]
    fn empty_local_part_or_domain_is_refused() {
        assert!(matches!(
            EmailAddress::parse("@example.org"),
            Err(AddressError::EmptyLocalPart { .. })
        ));
        assert!(matches!(
            EmailAddress::parse("anna@"),
            Err(AddressError::EmptyDomain { .. })
        ));
    }

    #[test]
    fn ip_literals_and_numeric_domains_are_refused() {
        assert!(matches!(
            EmailAddress::parse("anna@[192.0.2.1]"),
            Err(AddressError::IpLiteral { .. })
        ));
        let e = EmailAddress::parse("anna@192.0.2.1").unwrap_err();
        assert!(
            matches!(
                e,
                AddressError::InvalidDomain {
                    problem: DomainProblem::NumericTopLevel { .. },
                    ..
                }
            ),
            "{e:?}"
        );
        // Digits elsewhere are fine.
        assert!(EmailAddress::parse("anna@1und1.de").is_ok());
    }

    #[test]
    fn bad_domains_are_refused_with_the_reason() {
        let hyphen = |label: &str| DomainProblem::HyphenAtLabelEdge {
            label: label.to_owned(),
        };
        let cases = [
            ("anna@localhost", DomainProblem::SingleLabel),
            ("anna@example..org", DomainProblem::EmptyLabel),
            ("anna@.example.org", DomainProblem::EmptyLabel),
            ("anna@example.org.", DomainProblem::EmptyLabel),
            ("anna@-example.org", hyphen("-example")),
            ("anna@example-.org", hyphen("example-")),
            (
                "anna@ex_ample.org",
                DomainProblem::Character { character: '_' },
            ),
        ];
        for (input, expected) in cases {
            match EmailAddress::parse(input) {
                Err(AddressError::InvalidDomain { problem, .. }) => {
                    assert_eq!(problem, expected, "{input}")
                }
                other => panic!("{input}: {other:?}"),
            }
        }
    }

    #[test]
    fn domain_error_message_names_input_and_domain() {
        let e = EmailAddress::parse("anna@ex_ample.org").unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"anna@ex_ample.org\" is not an email address: the domain part \"ex_ample.org\" is not a valid domain name: it contains '_'; only letters, digits, hyphens and dots are allowed"
        );
    }

    #[test]
    fn label_of_63_characters_is_accepted_and_64_refused() {
        assert!(EmailAddress::parse(&format!("a@{}.org", "x".repeat(63))).is_ok());
        let e = EmailAddress::parse(&format!("a@{}.org", "x".repeat(64))).unwrap_err();
        assert!(
            matches!(
                e,
                AddressError::InvalidDomain {
                    problem: DomainProblem::LabelTooLong { len: 64, .. },
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn broken_punycode_is_refused() {
        let e = EmailAddress::parse("anna@xn--zz-zz-zz.de").unwrap_err();
        assert!(
            matches!(
                e,
                AddressError::InvalidDomain {
                    problem: DomainProblem::Idna,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn very_long_input_is_cut_in_the_message() {
        let e = EmailAddress::parse(&"x".repeat(10_000)).unwrap_err();
        assert!(e.to_string().len() < 300);
    }

    #[test]
    fn deserialising_goes_through_parse() {
        let a: EmailAddress = serde_json::from_str("\" Anna@Müller.DE \"").unwrap();
        assert_eq!(a.as_str(), "anna@xn--mller-kva.de");
        let e = serde_json::from_str::<EmailAddress>("\"anna@@x.org\"").unwrap_err();
        assert!(e.to_string().contains("more than one @"), "{e}");
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            "\"anna@xn--mller-kva.de\""
        );
    }

    #[test]
    fn domain_name_follows_the_same_rules() {
        assert_eq!(dom(" Müller.DE ").as_str(), "xn--mller-kva.de");
        assert!(matches!(
            DomainName::parse("localhost"),
            Err(DomainError {
                problem: DomainProblem::SingleLabel,
                ..
            })
        ));
        assert_eq!(
            DomainName::parse("ex ample.org").unwrap_err().to_string(),
            "\"ex ample.org\" is not a valid domain name: it contains U+0020; only letters, digits, hyphens and dots are allowed"
        );
        let d: DomainName = serde_json::from_str("\"Example.ORG\"").unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"example.org\"");
        assert!(serde_json::from_str::<DomainName>("\"[::1]\"").is_err());
    }

    #[test]
    fn subdomain_addresses_are_in_the_domain_but_lookalikes_are_not() {
        let example = dom("example.org");
        assert!(addr("anna@example.org").is_in(&example));
        assert!(addr("anna@mail.example.org").is_in(&example));
        assert!(!addr("anna@badexample.org").is_in(&example));
        assert!(!addr("anna@example.org.evil.net").is_in(&example));
        assert!(!addr("anna@example.org").is_in(&dom("mail.example.org")));
    }

    #[test]
    fn most_specific_registered_domain_owns_an_address() {
        let domains = [
            dom("example.org"),
            dom("mail.example.org"),
            dom("example.net"),
        ];
        let owner = addr("anna@x.mail.example.org").owning_domain(&domains);
        assert_eq!(owner.map(DomainName::as_str), Some("mail.example.org"));
        assert_eq!(
            addr("anna@example.org")
                .owning_domain(&domains)
                .map(DomainName::as_str),
            Some("example.org")
        );
        assert_eq!(addr("anna@example.com").owning_domain(&domains), None);
    }

    #[test]
    fn r08_alias_lists_split_on_spaces_commas_and_semicolons_in_forms_and_csv() {
        let list = parse_address_list(" a@x.org, B@x.org;c@x.org  d@x.org ,; ").unwrap();
        let got: Vec<&str> = list.iter().map(EmailAddress::as_str).collect();
        assert_eq!(got, ["a@x.org", "b@x.org", "c@x.org", "d@x.org"]);
        assert_eq!(parse_address_list("  ").unwrap(), Vec::new());
    }

    #[test]
    fn address_list_error_names_the_item_and_its_position() {
        let e = parse_address_list("a@x.org; anna@@x.org, c@x.org").unwrap_err();
        assert_eq!(e.position, 2);
        assert_eq!(
            e.to_string(),
            "address 2 of the list: \"anna@@x.org\" is not an email address: it has more than one @"
        );
    }

    /// Strings that look a lot like addresses, to reach the deeper checks often.
    fn addressish() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-zA-Z0-9.@ _\"'+-]{0,40}",
            "[a-zA-Z0-9.+-]{1,70}@[a-zA-Z0-9.üßÄé。-]{1,70}",
            "[a-zA-Z0-9.+_-]{1,20}@[a-zA-Z0-9-]{1,20}\\.[a-zA-Z0-9.-]{1,20}",
            "\\PC{0,10}@\\PC{0,20}",
        ]
    }

    /// Valid addresses built from the grammar, in mixed case.
    fn valid_address() -> impl Strategy<Value = String> {
        let atom = "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,12}";
        let local = proptest::collection::vec(atom, 1..4).prop_map(|atoms| atoms.join("."));
        let label = "[a-zA-Z0-9]([a-zA-Z0-9-]{0,20}[a-zA-Z0-9])?"
            .prop_filter("xn-- labels must be real punycode", |l| {
                !l.to_ascii_lowercase().starts_with("xn--")
            });
        let domain = (proptest::collection::vec(label, 1..4), "[a-zA-Z]{2,10}")
            .prop_map(|(labels, tld)| format!("{}.{tld}", labels.join(".")));
        (local, domain).prop_map(|(l, d)| format!("{l}@{d}"))
    }

    proptest! {
        #[test]
        fn parsing_is_idempotent_lower_case_and_bounded(input in addressish()) {
            if let Ok(a) = EmailAddress::parse(&input) {
                let again = EmailAddress::parse(a.as_str());
                prop_assert_eq!(again.as_ref(), Ok(&a));
                prop_assert_eq!(a.as_str().to_lowercase(), a.as_str());
                prop_assert!(a.as_str().is_ascii());
                prop_assert!(a.as_str().len() <= MAX_ADDRESS_LEN);
                prop_assert!(a.local_part().len() <= MAX_LOCAL_PART_LEN);
            }
        }

        #[test]
        fn generated_valid_addresses_always_parse(input in valid_address()) {
            let a = EmailAddress::parse(&input);
            prop_assert!(a.is_ok(), "{:?}", a);
            let a = a.unwrap();
            prop_assert_eq!(a.as_str(), input.to_ascii_lowercase());
        }

        #[test]
        fn address_lists_round_trip_through_their_joined_form(inputs in proptest::collection::vec(valid_address(), 0..5)) {
            let joined = inputs.join(", ");
            let parsed = parse_address_list(&joined).unwrap();
            let expected: Vec<String> = inputs.iter().map(|s| s.to_ascii_lowercase()).collect();
            let got: Vec<String> = parsed.iter().map(|a| a.as_str().to_owned()).collect();
            prop_assert_eq!(got, expected);
        }
    }
}
