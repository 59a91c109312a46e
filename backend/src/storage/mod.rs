//! All SQL of the portal, as small verb_noun functions over a connection or transaction.
//!
//! Callers (the services) open one transaction per use case and hand `&mut Conn` (a
//! transaction derefs to it) to these functions, so a use case and its audit records commit together.
//! Each statement runs on SQLite or PostgreSQL through [`run!`](crate::run) (see [`engine`]).

pub mod accounts;
pub mod api_idempotency;
pub mod api_tokens;
pub mod audit;
pub mod certificates;
pub mod challenge_rounds;
pub mod challenges;
pub mod confirmations;
pub mod deprovisionings;
pub(crate) mod direct;
pub mod domains;
pub mod engine;
pub mod instances;
pub mod links;
pub mod oidc_logins;
pub mod outbox;
pub mod rows;
pub mod scim;
pub mod sessions;
pub mod sign_in_events;
pub mod users;

pub use engine::{Conn, Db, Engine, Pooled, Tx};

/// Whether an error is a violation of a UNIQUE constraint (e.g. an address that another row has).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation)
}
