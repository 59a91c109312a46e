//! The portal's user interface: the HTML shell, the router, the pages and their server functions.
//!
//! The same code renders on the server (feature `ssr`) and hydrates in the browser (feature
//! `hydrate`); the crates that depend on this one pick the feature, never both at once.

#![recursion_limit = "256"] // the address table's view type is deep; release builds (no erased components) need it

pub mod api_tokens_api;
pub mod audit_changes;
pub mod audit_words;
pub mod auth;
pub mod certs_api;
pub mod components;
pub mod dates;
pub mod deprovision_api;
pub mod error;
pub mod handover_api;
pub mod hydrated;
pub mod i18n;
pub mod lazy_pages;
pub mod messages;
#[cfg(feature = "ssr")]
pub mod on_server;
pub mod pages;
pub mod rows_api;
pub mod shell;
pub mod time_zone;

pub use shell::{shell, App};
