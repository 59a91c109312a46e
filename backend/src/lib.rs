//! The portal's server side without HTTP: typed configuration, the SQLite database and the storage
//! functions over it, and the services that carry out SPEC.md's use cases.
//!
//! Nothing here knows about leptos or axum, so the services are tested against a real SQLite file
//! without building the web stack, and the web layer stays thin (STYLE.md, principle 3).

pub mod accounts;
pub mod api_idempotency;
pub mod api_tokens;
pub mod backup;
pub mod bearer_token;
mod blocking;
pub mod bulk_rows;
pub mod ca;
pub mod certificates;
pub mod challenges;
pub mod clock;
pub mod config;
pub mod copy_to_postgres;
pub mod csv_upload;
pub mod db;
pub mod demo;
pub mod deprovisioning;
pub mod digest;
pub mod domain_certificates;
pub mod domains;
pub mod error;
pub mod handover;
pub mod identity;
pub mod idm_bar;
pub mod mail;
pub mod portal;
pub mod private_files;
pub mod reminders;
pub mod roles;
pub mod row_lookup;
pub mod rows;
pub mod scim;
pub mod search_matches;
pub mod secret;
pub mod sessions;
pub mod sign_in;
pub mod storage;

pub use error::ServiceError;
pub use portal::Portal;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
