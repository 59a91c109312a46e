//! The state axum hands to every handler and server function: one value, cheap to clone, made
//! once at startup ([`crate::startup::Application`]); handlers take the parts they need through
//! `FromRef`.

use std::sync::Arc;

use axum::extract::FromRef;
use backend::Portal;
use leptos::config::LeptosOptions;

use crate::auth::oidc::OidcProvider;
use crate::metrics::HttpMetrics;
use crate::own_origin::OwnOrigin;

/// The state axum hands to handlers.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// Where the compiled site (WASM, JS, CSS, assets) lies, and its names.
    pub leptos_options: LeptosOptions,
    /// Database, configuration and services.
    pub portal: Portal,
    /// The origin state-changing requests must come from.
    pub own_origin: OwnOrigin,
    /// The OpenID Connect provider, when one is configured (else local accounts).
    pub oidc: Option<Arc<OidcProvider>>,
    /// Requests counted for `/metrics`.
    pub http_metrics: Arc<HttpMetrics>,
    /// Sign-in throttling and the cap on concurrent password hashes (Q7).
    pub sign_in: Arc<backend::sign_in::SignInGuard>,
}
