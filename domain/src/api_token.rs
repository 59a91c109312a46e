//! API tokens (SPEC R21): what a token may do and how long it may live. The server decides with
//! these and the browser's token form checks the very same bounds before it asks.

use serde::{Deserialize, Serialize};

/// The longest a token may live: one year (R21).
pub const MAX_DAYS: u32 = 365;
/// What the form offers when the NAP chooses nothing else.
pub const DEFAULT_DAYS: u32 = 90;

/// What a token may do in its domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ApiScope {
    /// Read rows, challenges, certificates and the audit trail; change nothing.
    Read,
    /// Everything the creator may do in the UI for those domains (R8), nothing more.
    ReadWrite,
}

impl ApiScope {
    /// The stored spelling (the `api_tokens.scope` CHECK list).
    pub fn as_str(self) -> &'static str {
        match self {
            ApiScope::Read => "read",
            ApiScope::ReadWrite => "read_write",
        }
    }

    /// The scope of a stored spelling; `None` for anything else.
    pub fn parse(text: &str) -> Option<ApiScope> {
        match text {
            "read" => Some(ApiScope::Read),
            "read_write" => Some(ApiScope::ReadWrite),
            _ => None,
        }
    }

    /// Whether a token of this scope may change anything.
    pub fn may_write(self) -> bool {
        self == ApiScope::ReadWrite
    }
}

/// A lifetime outside 1 to [`MAX_DAYS`] days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a token lives 1 to {MAX_DAYS} days (at most one year); {0} days is not allowed")]
pub struct LifetimeOutOfRange(pub i64);

/// Checks a token's lifetime in days: 1 to [`MAX_DAYS`].
pub fn check_days(days: i64) -> Result<u32, LifetimeOutOfRange> {
    u32::try_from(days)
        .ok()
        .filter(|d| (1..=MAX_DAYS).contains(d))
        .ok_or(LifetimeOutOfRange(days))
}

/// The token's end, `days` days after `now` (Unix seconds).
pub fn expires_at(now: i64, days: u32) -> i64 {
    now + i64::from(days) * 86_400
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r21_a_token_lives_one_day_to_one_year() {
        assert_eq!(check_days(1), Ok(1));
        assert_eq!(check_days(365), Ok(365));
        assert_eq!(check_days(i64::from(DEFAULT_DAYS)), Ok(90));
        for bad in [0, -1, 366, 10_000, i64::MAX] {
            assert_eq!(check_days(bad), Err(LifetimeOutOfRange(bad)));
        }
        assert_eq!(expires_at(1000, 1), 1000 + 86_400);
    }

    #[test]
    fn r21_scopes_have_their_stored_spellings() {
        for s in [ApiScope::Read, ApiScope::ReadWrite] {
            assert_eq!(ApiScope::parse(s.as_str()), Some(s));
        }
        assert_eq!(ApiScope::parse("write"), None);
        assert!(!ApiScope::Read.may_write() && ApiScope::ReadWrite.may_write());
    }
}
