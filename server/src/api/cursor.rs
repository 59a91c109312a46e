//! Opaque page cursors: where a list continues, as base64url JSON the client passes back
//! unchanged. Opaque so that clients do not build them (their shape may change); a cursor that
//! cannot be read is a 400, and one that was tampered with can at most show the caller another
//! page of what the token may read anyway (every read checks the token's domains).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::problem::Problem;

/// The longest cursor a list takes back (its parameter's `maxLength`): lists make none longer.
pub const MAX_CHARS: usize = 2048;

/// The cursor for `position`.
pub fn encode<T: Serialize>(position: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).expect("a cursor serialises"))
}

/// The position a cursor stands for.
pub fn decode<T: DeserializeOwned>(cursor: &str) -> Result<T, Problem> {
    URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(unreadable)
}

/// The refusal of a cursor that cannot be read, or that no list gave (400).
pub fn unreadable() -> Problem {
    Problem::bad_request(
        "cursor is not one this list gave: pass a page's next_cursor back unchanged",
    )
}
