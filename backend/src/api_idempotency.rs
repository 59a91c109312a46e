//! The REST API's bulk apply with an `Idempotency-Key` (SPEC R21, R8; IETF
//! draft-ietf-httpapi-idempotency-key-header).
//!
//! A client (an IdM job, a script) that sends a bulk apply and loses the answer cannot tell
//! whether the rows landed. With a key it sends the same request again and gets the first
//! answer, and the rows are applied once. The key is looked up and recorded inside the apply's
//! own write transaction (`BEGIN IMMEDIATE`, [`crate::rows::begin_write`]):
//!
//! - a key is recorded exactly when its rows landed: a failed or refused apply records nothing,
//!   so the client may correct the file and send it again under the same key;
//! - two requests with one key that arrive at once are serialised by SQLite's write lock: the
//!   second waits (busy timeout) and then finds the first one's answer. The draft's 409 for "still
//!   being processed" is not needed: nobody ever sees a key half-claimed;
//! - the same key with another request (method, path, media type or body) is refused: 422.
//!
//! Keys are per API token and live 24 hours; each bulk apply deletes the expired ones first.

use crate::storage::Db;
use sha2::{Digest, Sha256};

use crate::clock;
use crate::csv_upload::{self, ApplyReport};
use crate::error::ServiceError;
use crate::roles::Viewer;
use crate::rows::begin_write;
use crate::storage::api_idempotency::{delete_expired_keys, find_key, insert_key, NewKey};

/// How long a key is remembered (the draft leaves it to the server; a day outlives any retry).
pub const KEY_LIFETIME_SECS: i64 = 24 * 60 * 60;

/// Longest key accepted (the draft names none; a UUID has 36 characters).
pub const MAX_KEY_CHARS: usize = 255;

/// Why an `Idempotency-Key` header cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Empty, or a quoted empty string.
    #[error("the Idempotency-Key header is empty; send a unique string such as a UUID, e.g. Idempotency-Key: \"8e03978e-40d5-43e8-bc93-6894a57f9324\"")]
    Empty,
    /// Longer than [`MAX_KEY_CHARS`].
    #[error("the Idempotency-Key is longer than {MAX_KEY_CHARS} characters")]
    TooLong,
    /// Not a structured-field string of printable ASCII.
    #[error("the Idempotency-Key must be a string of printable ASCII characters, in double quotes (RFC 8941), e.g. Idempotency-Key: \"8e03978e-40d5-43e8-bc93-6894a57f9324\"")]
    Malformed,
}

/// Reads the header's value: a structured-field string (`"…"`, RFC 8941 §3.3.3, as the draft
/// says), or — since many clients send it so — the bare characters. Printable ASCII only.
pub fn parse_key(value: &[u8]) -> Result<String, KeyError> {
    let text = std::str::from_utf8(value)
        .map_err(|_| KeyError::Malformed)?
        .trim_matches(' ');
    let key = match text.strip_prefix('"') {
        Some(rest) => {
            let inner = rest.strip_suffix('"').ok_or(KeyError::Malformed)?;
            let mut key = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some(e @ ('"' | '\\')) => key.push(e),
                        _ => return Err(KeyError::Malformed),
                    },
                    '"' => return Err(KeyError::Malformed),
                    c => key.push(c),
                }
            }
            key
        }
        None if text.contains('"') => return Err(KeyError::Malformed),
        None => text.to_string(),
    };
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if !key.chars().all(|c| (' '..='~').contains(&c)) {
        return Err(KeyError::Malformed);
    }
    if key.chars().count() > MAX_KEY_CHARS {
        return Err(KeyError::TooLong);
    }
    Ok(key)
}

/// What identifies a request for its key: method, path, media type and body, each with its
/// length first (so no two different requests give the same bytes).
pub fn request_hash(method: &str, path: &str, media_type: &str, body: &[u8]) -> [u8; 32] {
    let mut sha = Sha256::new();
    for part in [
        method.as_bytes(),
        path.as_bytes(),
        media_type.as_bytes(),
        body,
    ] {
        sha.update((part.len() as u64).to_be_bytes());
        sha.update(part);
    }
    sha.finalize().into()
}

/// A key as the bulk apply uses it.
#[derive(Debug, Clone, Copy)]
pub struct KeyedRequest<'a> {
    /// The API token that sent it (keys are per token).
    pub token_id: i64,
    /// The key ([`parse_key`]).
    pub key: &'a str,
    /// [`request_hash`] of the request.
    pub request_hash: &'a [u8; 32],
}

/// What a bulk apply came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkOutcome {
    /// Applied now.
    Applied(ApplyReport),
    /// The key was used before with this very request: its first answer, nothing applied.
    Replayed(ApplyReport),
    /// The key was used before with another request: nothing applied (422).
    KeyReused,
}

/// Applies a CSV file to `domain`'s table as [`csv_upload::apply`] does, in one transaction, but
/// without a preview before (the plan and the writes run under one write lock). With a key, the
/// key is looked up first and recorded with the answer in the same transaction (see the module).
pub async fn apply_once(
    pool: &Db,
    viewer: &Viewer,
    domain: &str,
    bytes: &[u8],
    keyed: Option<KeyedRequest<'_>>,
) -> Result<BulkOutcome, ServiceError> {
    let mut tx = begin_write(pool).await?;
    let now = clock::now();
    if let Some(k) = keyed {
        delete_expired_keys(&mut tx, now).await?;
        if let Some(stored) = find_key(&mut tx, k.token_id, k.key, now).await? {
            tx.rollback().await?;
            if stored.request_hash != k.request_hash.as_slice() {
                return Ok(BulkOutcome::KeyReused);
            }
            let report =
                serde_json::from_str(&stored.response_body).map_err(ServiceError::internal)?;
            return Ok(BulkOutcome::Replayed(report));
        }
    }
    let report = csv_upload::apply_in(&mut tx, viewer, domain, bytes, None).await?;
    if let Some(k) = keyed {
        let body = serde_json::to_string(&report).map_err(ServiceError::internal)?;
        insert_key(
            &mut tx,
            &NewKey {
                token_id: k.token_id,
                key: k.key,
                request_hash: k.request_hash,
                response_status: 200,
                response_body: &body,
                created_at: now,
                expires_at: now + KEY_LIFETIME_SECS,
            },
        )
        .await?;
    }
    tx.commit().await?;
    tracing::info!(
        domain = %report.domain,
        created = report.created,
        changed = report.changed,
        unchanged = report.unchanged,
        keyed = keyed.is_some(),
        "bulk applied through the API"
    );
    Ok(BulkOutcome::Applied(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r21_keys_are_structured_field_strings_or_bare_printable_ascii() {
        assert_eq!(parse_key(br#""abc-1""#).unwrap(), "abc-1");
        assert_eq!(parse_key(br#""a \"q\" \\ b""#).unwrap(), r#"a "q" \ b"#);
        assert_eq!(parse_key(b"8e03978e-40d5").unwrap(), "8e03978e-40d5");
        assert_eq!(parse_key(b"\"\""), Err(KeyError::Empty));
        assert_eq!(parse_key(b""), Err(KeyError::Empty));
        assert_eq!(parse_key(b"\"abc"), Err(KeyError::Malformed));
        assert_eq!(parse_key(b"\"a\"b\""), Err(KeyError::Malformed));
        assert_eq!(parse_key("\"ä\"".as_bytes()), Err(KeyError::Malformed));
        assert_eq!(parse_key(b"a\tb"), Err(KeyError::Malformed));
        assert_eq!(parse_key(&[b'k'; 256]), Err(KeyError::TooLong));
        assert_eq!(parse_key(&[b'k'; 255]).unwrap().len(), 255);
    }

    #[test]
    fn r21_the_request_hash_tells_every_part_apart() {
        let h = request_hash("POST", "/a", "text/csv", b"x");
        assert_eq!(h, request_hash("POST", "/a", "text/csv", b"x"));
        assert_ne!(h, request_hash("POST", "/a", "application/json", b"x"));
        assert_ne!(h, request_hash("POST", "/a", "text/csv", b"y"));
        // Moving a byte from one part into the next is another request.
        assert_ne!(
            request_hash("POST", "/ab", "c", b""),
            request_hash("POST", "/a", "bc", b"")
        );
    }
}
