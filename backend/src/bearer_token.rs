//! What the portal's two kinds of bearer token share — the IdM's SCIM tokens (R22) and the NAPs'
//! API tokens (R21): how a secret is made (a prefix and 256 random bits in base64url, so a leaked
//! one is recognisable), which text can be one at all (checked before any query), the rules for
//! a token's name (it becomes part of an audit actor), a just-made token that shows its secret
//! once and never in `Debug` (Q6), and how often a use is written down.
//!
//! Only [`crate::secret::storage_key`] of a secret is ever stored (Q8).

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use domain::message::Message;

use crate::error::ServiceError;

/// Random bytes in a token: 256 bits.
const SECRET_BYTES: usize = 32;
/// Characters of [`SECRET_BYTES`] in unpadded base64url.
const SECRET_CHARS: usize = 43;
/// Longest token name.
pub const MAX_NAME_CHARS: usize = 64;
/// A token's use is written at most this often, so that a busy script is not a write per request.
pub const TOUCH_INTERVAL_SECS: i64 = 60;

/// A new secret: `prefix` and 256 random bits in base64url.
pub fn make_secret(prefix: &str) -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// Whether `value` can be a secret made by [`make_secret`] with `prefix`. Anything else is
/// refused without a query.
pub fn well_formed(prefix: &str, value: &str) -> bool {
    value.len() == prefix.len() + SECRET_CHARS
        && value.starts_with(prefix)
        && value[prefix.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether a use at `now` is to be written down, given the latest one written.
pub fn due_for_touch(last_used_at: Option<i64>, now: i64) -> bool {
    last_used_at.is_none_or(|t| now - t >= TOUCH_INTERVAL_SECS)
}

/// Checks a token name: 1 to 64 characters of a-z, 0-9, `.`, `_`, `-` (it becomes part of an
/// audit actor such as `scim:<name>`, so it holds nothing that could be read as a separator).
/// Returns it trimmed.
pub fn check_name(name: &str) -> Result<String, ServiceError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ServiceError::invalid(Message::TokenNameLength {
            max: MAX_NAME_CHARS,
        }));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')))
    {
        return Err(ServiceError::invalid(Message::TokenNameChar { found: c }));
    }
    Ok(name.to_owned())
}

/// A token as made: shown once, then only its hash exists. `Debug` does not show it (Q6).
pub struct NewToken {
    /// Its database id.
    pub id: i64,
    /// The name it was given.
    pub name: String,
    secret: String,
}

impl NewToken {
    /// A token just stored under `id`.
    pub(crate) fn new(id: i64, name: String, secret: String) -> NewToken {
        NewToken { id, name, secret }
    }

    /// The secret, for the one answer that shows it; store it nowhere.
    pub fn expose(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NewToken({}, <redacted>)", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r21_r22_token_names_are_short_plain_words() {
        assert_eq!(check_name(" entra-prod ").unwrap(), "entra-prod");
        for bad in [
            "",
            "Entra",
            "a b",
            "ä",
            &"a".repeat(65),
            "scim:x",
            "a@b",
            "a#1",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn q6_a_new_token_does_not_print() {
        let t = NewToken::new(1, "entra".into(), "rascim_secret".into());
        assert_eq!(format!("{t:?}"), "NewToken(entra, <redacted>)");
    }

    #[test]
    fn r21_r22_secrets_are_prefixed_256_random_bits_and_nothing_else_is_one() {
        let a = make_secret("raapi_").unwrap();
        assert!(well_formed("raapi_", &a), "{}", a.len());
        assert_ne!(a, make_secret("raapi_").unwrap());
        assert!(!well_formed("rascim_", &a));
        assert!(!well_formed("raapi_", &a[..a.len() - 1]));
        assert!(!well_formed("raapi_", &format!("{}=", &a[..a.len() - 1])));
        assert!(!well_formed("raapi_", "raapi_"));
    }

    #[test]
    fn r21_r22_a_use_is_written_at_most_once_a_minute() {
        assert!(due_for_touch(None, 100));
        assert!(!due_for_touch(Some(100), 159));
        assert!(due_for_touch(Some(100), 160));
    }
}
