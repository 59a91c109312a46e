//! Secrets (passwords, client secrets) as a type that cannot be printed or serialised by accident (Q6),
//! and the one way bearer secrets are stored.

pub use secrecy::{ExposeSecret, SecretString};

use sha2::{Digest, Sha256};

/// The database key of a bearer secret — a session ID, a challenge token, an IdM token: its
/// SHA-256. Only this is stored, never the secret (Q8); the secrets are 256 random bits, so a
/// fast hash is enough (nothing to guess a dictionary from).
pub fn storage_key(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}
