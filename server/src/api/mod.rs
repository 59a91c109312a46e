//! The REST API at `/api/v1` (SPEC R21): JSON for an IdM or a script, beside the UI's server
//! functions but calling the same services with the token's viewer, so the same rules apply (R8)
//! and the same audit trail is written with the token as actor.
//!
//! - auth.rs: bearer tokens only (no cookie is read, so no CSRF surface); 401 otherwise.
//! - rate_limit.rs: one token bucket per person (all their tokens); 429 with `Retry-After`.
//! - problem.rs: every refusal as RFC 9457 problem details, mapped from the services' errors
//!   in one place.
//! - body.rs, cursor.rs: reading bodies, parameters, `If-Match`; opaque page cursors.
//! - domains.rs, rows.rs, challenges.rs, certificates.rs, audit.rs: the resources; bulk.rs:
//!   many rows at once (CSV or JSON), with Idempotency-Key.
//! - openapi.rs: the OpenAPI 3.1 document, generated from the handlers (utoipa).
//!
//! The routes are mounted outside the session layer and exempt from the same-origin check of Q3
//! and from the server functions' body guard ([`is_api_path`]); they read their own bodies with
//! their own limits and answer every refusal, 404 and 405 included, as a problem. Logs name the
//! route template, never the token (Q6).

pub mod audit;
pub mod auth;
pub mod body;
pub mod bulk;
pub mod certificates;
pub mod challenges;
pub mod cursor;
pub mod domains;
pub mod openapi;
pub mod paths;
pub mod problem;
pub mod rate_limit;
pub mod refusals;
pub mod rows;

use std::sync::Arc;

use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app_state::AppState;
pub use paths::{is_api_path, API_PREFIX, OPENAPI_PATH};
use problem::{Problem, ProblemKind};

/// The API's routes with their OpenAPI description, relative to [`API_PREFIX`]. Every route here
/// requires a token.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(domains::list_domains))
        .routes(routes!(rows::list_rows, rows::create_row))
        .routes(routes!(rows::get_row, rows::update_row, rows::delete_row))
        .routes(routes!(rows::get_row_by_address, rows::upsert_row))
        .routes(routes!(rows::activate_row))
        .routes(routes!(rows::deactivate_row))
        .routes(routes!(challenges::send_challenges))
        .routes(routes!(challenges::row_challenges))
        .routes(routes!(certificates::list_certificates))
        .routes(routes!(certificates::revoke_certificate))
        .routes(routes!(audit::list_audit))
        .merge(bulk::routes())
}

/// The OpenAPI document as served.
pub fn openapi_json() -> String {
    let mut doc = routes().into_openapi();
    openapi::add_common_responses(&mut doc);
    doc.to_pretty_json()
        .expect("the OpenAPI document serialises")
}

/// The API, to be merged into the portal's router (its paths include [`API_PREFIX`]).
pub fn router(state: AppState) -> Router {
    let (api, mut doc) = routes().split_for_parts();
    openapi::add_common_responses(&mut doc);
    let doc: Arc<str> = doc
        .to_pretty_json()
        .expect("the OpenAPI document serialises")
        .into();
    let limiter = Arc::new(rate_limit::RateLimiter::new(&state.portal.config.api));
    let portal = state.portal.clone();
    // Layers apply to the routes added before them: the token check and the rate limit to the
    // resources, not to the document.
    let api = api
        .layer(middleware::from_fn_with_state(limiter, rate_limit::limit))
        .layer(middleware::from_fn_with_state(portal, auth::require_token));
    let inner = Router::new()
        .route(
            "/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move {
                    let mut resp = doc.to_string().into_response();
                    resp.headers_mut()
                        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    resp
                }
            }),
        )
        .merge(api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    Router::new().nest(API_PREFIX, inner)
}

async fn not_found() -> Problem {
    Problem::new(
        ProblemKind::NotFound,
        "The API has no such resource; /api/v1/openapi.json lists them all.",
    )
}

async fn method_not_allowed(req: Request) -> Response {
    Problem::new(
        ProblemKind::MethodNotAllowed,
        format!("This resource does not take {} requests.", req.method()),
    )
    .into_response()
}
