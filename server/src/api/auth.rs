//! Bearer authentication of the REST API (R21): `Authorization: Bearer raapi_…`, nothing else.
//!
//! No cookie is read (the router is mounted outside the session layer), so a browser's session
//! cannot act here and there is nothing for a cross-site page to forge: the same-origin check of
//! Q3 does not apply (security.rs lets these paths through). Without a valid token the answer is
//! 401 with `WWW-Authenticate: Bearer`; the log names the route template and why, never the token
//! (Q6). A valid token becomes a [`Caller`] for the handlers: the token's [`ApiCaller`], whose
//! viewer is a NAP of exactly the token's domains that its creator still administers.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use backend::api_tokens::{self, ApiAuthRefused, ApiCaller};
use backend::roles::Viewer;
use backend::Portal;

use super::problem::{Problem, ProblemKind};

/// The script behind a request, as the handlers take it.
#[derive(Debug, Clone)]
pub struct Caller(pub ApiCaller);

impl Caller {
    /// The viewer to call the services with.
    pub fn viewer(&self) -> &Viewer {
        &self.0.viewer
    }

    /// Refuses a read-only token (403) before any change.
    pub fn writer(&self) -> Result<&Viewer, Problem> {
        self.0
            .require_write()
            .map_err(|e| Problem::new(ProblemKind::Forbidden, e.to_string()))?;
        Ok(&self.0.viewer)
    }

    /// The domain as the token reaches it, by name as written in the path (case-insensitive);
    /// one it does not cover reads exactly like one that does not exist (404, Q1).
    pub fn domain(&self, name: &str) -> Result<&backend::storage::domains::DomainRecord, Problem> {
        let wanted =
            domain::address::DomainName::parse(name).map_err(|_| Problem::no_such_domain())?;
        self.0
            .domains
            .iter()
            .find(|d| d.name == wanted.as_str())
            .ok_or_else(Problem::no_such_domain)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Caller, Problem> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| unauthorized("The request carries no API token."))
    }
}

fn unauthorized(detail: &str) -> Problem {
    Problem::new(ProblemKind::Unauthorized, detail)
}

/// The token of an `Authorization: Bearer …` header, if the request has one.
fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Middleware: the bearer token must be an API token in force; the [`Caller`] goes to the
/// handlers.
pub async fn require_token(State(portal): State<Portal>, mut req: Request, next: Next) -> Response {
    let route = crate::metrics::route_template(&req).to_owned();
    let Some(token) = bearer(&req) else {
        tracing::warn!(method = %req.method(), route, "API request without a bearer token refused");
        return unauthorized(
            "This API takes a bearer token (Authorization: Bearer raapi_…) that a contact person \
             made on the portal's API tokens page; the request has none.",
        )
        .into_response();
    };
    match api_tokens::authenticate(&portal, token, backend::clock::now()).await {
        Ok(caller) => {
            req.extensions_mut().insert(Caller(caller));
            next.run(req).await
        }
        Err(ApiAuthRefused::Internal(cause)) => Problem::internal(&cause).into_response(),
        Err(why) => {
            tracing::warn!(method = %req.method(), route, why = %why, "API token refused");
            unauthorized(&format!("Refused: {why}.")).into_response()
        }
    }
}
