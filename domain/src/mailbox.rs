//! The mailbox type of a row (SPEC §2).

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::shown;

/// Whether a row's mailbox belongs to one person or is shared.
///
/// The type decides who receives the challenges (R9) and what a certificate's subject holds (R13).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum MailboxType {
    /// One person's mailbox; that person confirms its challenges. New rows are personal.
    #[default]
    Personal,
    /// A shared or role mailbox (e.g. `helpdesk@…`); its applicant confirms and applies.
    Functional,
}

impl MailboxType {
    /// The stored and wire name: `personal` or `functional` (also the SQL `CHECK` values).
    pub fn as_str(self) -> &'static str {
        match self {
            MailboxType::Personal => "personal",
            MailboxType::Functional => "functional",
        }
    }

    /// Parses form or CSV input: `personal`/`persönlich` or `functional`/`funktional`, in any
    /// case, surrounding whitespace ignored.
    pub fn parse(input: &str) -> Result<MailboxType, MailboxTypeError> {
        match input.trim().to_lowercase().as_str() {
            "personal" | "persönlich" => Ok(MailboxType::Personal),
            "functional" | "funktional" => Ok(MailboxType::Functional),
            _ => Err(MailboxTypeError {
                input: shown(input.trim()),
            }),
        }
    }
}

impl fmt::Display for MailboxType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown mailbox type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Error)]
#[error("\"{input}\" is not a mailbox type: use personal (persönlich) or functional (funktional)")]
pub struct MailboxTypeError {
    /// The offending input.
    pub input: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r08_english_and_german_type_names_are_accepted_in_any_case() {
        for s in ["personal", "Persönlich", "PERSÖNLICH", " personal "] {
            assert_eq!(MailboxType::parse(s), Ok(MailboxType::Personal), "{s}");
        }
        for s in ["functional", "Funktional", "FUNCTIONAL"] {
            assert_eq!(MailboxType::parse(s), Ok(MailboxType::Functional), "{s}");
        }
    }

    #[test]
    fn unknown_type_is_refused_with_the_choices() {
        let e = MailboxType::parse("shared").unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"shared\" is not a mailbox type: use personal (persönlich) or functional (funktional)"
        );
    }

    #[test]
    fn wire_and_stored_names_are_lower_case_english() {
        for t in [MailboxType::Personal, MailboxType::Functional] {
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{}\"", t.as_str())
            );
            assert_eq!(MailboxType::parse(t.as_str()), Ok(t));
        }
        assert_eq!(MailboxType::default(), MailboxType::Personal);
    }
}
