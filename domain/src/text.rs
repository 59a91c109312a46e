//! Free-text fields of a row: the admin-friendly names and the NAP's comment (SPEC §2).

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};
use thiserror::Error;

use crate::shown_char;

/// Most characters in a first or last name.
pub const MAX_NAME_CHARS: usize = 200;
/// Most characters in a comment.
pub const MAX_COMMENT_CHARS: usize = 1000;

/// A first or last name as the NAP enters it: trimmed, at most 200 characters, no control
/// characters. May be empty (a functional mailbox has no first name).
///
/// Only shown in the table; a personal certificate's name comes from the IdM (R6).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct PersonName(String);

impl PersonName {
    /// Parses a name; surrounding whitespace is trimmed.
    pub fn parse(input: &str) -> Result<PersonName, TextError> {
        let trimmed = input.trim();
        check_text(trimmed, "name", MAX_NAME_CHARS, |_| false)?;
        Ok(PersonName(trimmed.to_owned()))
    }

    /// The empty name.
    pub fn empty() -> PersonName {
        PersonName(String::new())
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether no name was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The NAP's own note on a row: trimmed, at most 1000 characters, line breaks and tabs allowed
/// but no other control characters. Never goes into a certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Comment(String);

impl Comment {
    /// Parses a comment. Line breaks are normalised to `\n` first: browsers submit a textarea
    /// with CRLF and spreadsheets may write either, and the same text must compare equal
    /// (or every CSV round trip would report a "changed" comment).
    pub fn parse(input: &str) -> Result<Comment, TextError> {
        let normalised = input.replace("\r\n", "\n").replace('\r', "\n");
        let trimmed = normalised.trim();
        check_text(trimmed, "comment", MAX_COMMENT_CHARS, |c| {
            c == '\n' || c == '\t'
        })?;
        Ok(Comment(trimmed.to_owned()))
    }

    /// The empty comment.
    pub fn empty() -> Comment {
        Comment(String::new())
    }

    /// The comment as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether there is no comment.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Length in characters (not bytes: "Müller" is 6) and no control characters but the allowed ones.
fn check_text(
    text: &str,
    what: &'static str,
    max: usize,
    allowed_control: impl Fn(char) -> bool,
) -> Result<(), TextError> {
    if let Some((index, c)) = text
        .chars()
        .enumerate()
        .find(|&(_, c)| c.is_control() && !allowed_control(c))
    {
        return Err(TextError::ControlCharacter {
            what,
            character: shown_char(c),
            position: index + 1,
        });
    }
    let len = text.chars().count();
    if len > max {
        return Err(TextError::TooLong { what, len, max });
    }
    Ok(())
}

/// Why a name or comment is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TextError {
    /// Too many characters.
    #[error("the {what} is {len} characters long; at most {max} are allowed")]
    TooLong {
        /// "name" or "comment".
        what: &'static str,
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A control character (e.g. pasted from another program).
    #[error(
        "the {what} contains the control character {character} at position {position}; remove it"
    )]
    ControlCharacter {
        /// "name" or "comment".
        what: &'static str,
        /// The character, as `U+0007`.
        character: String,
        /// 1-based character position.
        position: usize,
    },
}

macro_rules! text_newtype_impls {
    ($ty:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        /// Deserialising goes through `parse`, so the wire cannot carry an invalid value.
        impl TryFrom<String> for $ty {
            type Error = TextError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                $ty::parse(&value)
            }
        }
    };
}

text_newtype_impls!(PersonName);
text_newtype_impls!(Comment);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_is_trimmed_and_may_be_empty() {
        assert_eq!(
            PersonName::parse("  Anna Müller ").unwrap().as_str(),
            "Anna Müller"
        );
        assert!(PersonName::parse("   ").unwrap().is_empty());
        assert_eq!(PersonName::parse("").unwrap(), PersonName::empty());
    }

    #[test]
    fn name_of_200_characters_is_accepted_and_201_refused() {
        // 'ü' is two bytes: the limit counts characters.
        assert!(PersonName::parse(&"ü".repeat(200)).is_ok());
        let e = PersonName::parse(&"ü".repeat(201)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the name is 201 characters long; at most 200 are allowed"
        );
    }

    #[test]
    fn name_with_control_character_is_refused() {
        let e = PersonName::parse("Anna\u{7}Müller").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the name contains the control character U+0007 at position 5; remove it"
        );
        assert!(PersonName::parse("Anna\nMüller").is_err());
        assert!(PersonName::parse("Anna\tMüller").is_err());
    }

    #[test]
    fn comment_allows_line_breaks_and_tabs_but_not_other_control_characters() {
        let c = Comment::parse("  first line\r\nsecond\tline\rthird \n").unwrap();
        assert_eq!(c.as_str(), "first line\nsecond\tline\nthird");
        assert!(matches!(
            Comment::parse("bell\u{7}"),
            Err(TextError::ControlCharacter { position: 5, .. })
        ));
    }

    #[test]
    fn comment_of_1000_characters_is_accepted_and_1001_refused() {
        assert!(Comment::parse(&"x".repeat(1000)).is_ok());
        assert!(matches!(
            Comment::parse(&"x".repeat(1001)),
            Err(TextError::TooLong {
                len: 1001,
                max: 1000,
                ..
            })
        ));
    }

    #[test]
    fn text_deserialises_through_parse() {
        let n: PersonName = serde_json::from_str("\" Anna \"").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"Anna\"");
        assert!(serde_json::from_str::<PersonName>("\"a\\u0000b\"").is_err());
        let c: Comment = serde_json::from_str("\"a\\r\\nb\"").unwrap();
        assert_eq!(c.as_str(), "a\nb");
    }
}
