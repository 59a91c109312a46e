//! The portal's HTTP server (axum + leptos_axum) and its command line.

pub mod api;
pub mod api_docs;
pub mod api_guard;
pub mod app_state;
pub mod audit_export;
pub mod auth;
pub mod certificate_routes;
pub mod cli;
pub mod csv_routes;
pub mod memory;
pub mod metrics;
pub mod own_origin;
pub mod refusal;
pub mod scim_routes;
pub mod security;
pub mod serve;
pub mod site_files;
pub mod startup;
pub mod telemetry;
