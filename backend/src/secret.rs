//! Secrets (passwords, client secrets) as a type that cannot be printed or serialised by accident (Q6).

pub use secrecy::{ExposeSecret, SecretString};
