//! Who someone is, as the identity provider (IdM) says at login: OIDC claims or a local account.
//!
//! Both logins end in the same [`Identity`], so sessions, roles and every use case after the login
//! cannot tell (and need not care) which kind of login was used (SPEC §1).

use std::fmt;

/// Most characters in an IdM group name.
pub const MAX_GROUP_CHARS: usize = 200;

/// Which kind of login vouched for an identity. Spellings are the SQL `CHECK` of `users.source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentitySource {
    /// An OpenID Connect provider.
    Oidc,
    /// A local account of the embedded default IdM.
    Local,
}

impl IdentitySource {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentitySource::Oidc => "oidc",
            IdentitySource::Local => "local",
        }
    }
}

impl fmt::Display for IdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A person's name as the portal shows it: the IdM's given and family name, or the user ID when the
/// IdM gave neither.
pub fn display_name(given: &str, family: &str, user_id: &str) -> String {
    match format!("{} {}", given.trim(), family.trim()).trim() {
        "" => user_id.to_owned(),
        name => name.to_owned(),
    }
}

/// What an IdM says about a person at login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user ID: OIDC `sub`, or the local account's id. Links and certificates point at it.
    pub user_id: String,
    /// Given name; with the family name it makes a personal certificate's Common Name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// The IdM's email claim: information only, never proof of control of an address.
    pub email: Option<String>,
    /// The IdM groups the person is in (they decide operator and NAP roles).
    pub groups: Vec<String>,
    /// Which kind of login vouched for it.
    pub source: IdentitySource,
}

/// Why a text is not a usable IdM group name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupNameError {
    /// Nothing was entered.
    #[error("the group name is empty")]
    Empty,
    /// Longer than [`MAX_GROUP_CHARS`].
    #[error("the group name is {len} characters long; at most {MAX_GROUP_CHARS} are allowed")]
    TooLong {
        /// Its length in characters.
        len: usize,
    },
    /// Whitespace or a control character, which no IdM group name the portal matches holds.
    #[error("the group name {shown:?} contains whitespace or a control character")]
    Whitespace {
        /// The name as entered (cut after 100 characters).
        shown: String,
    },
}

/// Checks an IdM group name as an operator enters it (a domain's contact group, a local account's
/// group): not empty, at most 200 characters, no whitespace or control characters.
///
/// The name is matched exactly against the IdM's groups, so it is not trimmed or case-folded: a
/// stray space would silently make a domain without NAPs, hence the refusal.
pub fn parse_group_name(input: &str) -> Result<String, GroupNameError> {
    if input.is_empty() {
        return Err(GroupNameError::Empty);
    }
    let len = input.chars().count();
    if len > MAX_GROUP_CHARS {
        return Err(GroupNameError::TooLong { len });
    }
    if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(GroupNameError::Whitespace {
            shown: input.chars().take(100).collect(),
        });
    }
    Ok(input.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r01_group_names_are_taken_exactly_or_refused_with_a_reason() {
        assert_eq!(parse_group_name("nap-example").unwrap(), "nap-example");
        assert_eq!(
            parse_group_name("CN=naps,OU=groups").unwrap(),
            "CN=naps,OU=groups"
        );
        assert_eq!(parse_group_name(""), Err(GroupNameError::Empty));
        let e = parse_group_name(" nap").unwrap_err();
        assert!(e.to_string().contains("whitespace"), "{e}");
        let e = parse_group_name("a\u{7}b").unwrap_err();
        assert!(e.to_string().contains("control"), "{e}");
        let e = parse_group_name(&"g".repeat(201)).unwrap_err();
        assert_eq!(e, GroupNameError::TooLong { len: 201 });
        assert!(parse_group_name(&"g".repeat(200)).is_ok());
    }

    #[test]
    fn identity_sources_have_the_schema_spellings() {
        assert_eq!(IdentitySource::Oidc.as_str(), "oidc");
        assert_eq!(IdentitySource::Local.as_str(), "local");
    }
}
