//! HTTP hardening for every response and request (SPEC Q3, Q4, Q5).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, ORIGIN, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub use crate::own_origin::OwnOrigin;

/// Largest request body accepted anywhere except the CSV upload (Q5).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// CSP for responses that did not set their own (static files, API answers). Pages set a stricter one
/// with a per-response nonce for their inline hydration script.
const DEFAULT_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
     img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Adds the security headers to every response (Q4), keeping a page's own CSP.
pub async fn security_headers(State(own): State<OwnOrigin>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    set_if_missing(h, CONTENT_SECURITY_POLICY, DEFAULT_CSP);
    // Challenge URLs carry tokens: they must never leak to another site through Referer.
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if own.https() {
        h.insert(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    // Pages show personal data: no shared cache may keep them. The client files under /pkg/ set
    // their own (site_files.rs); anything else, a missing client file too, is not kept.
    set_if_missing(h, CACHE_CONTROL, "no-store");
    resp
}

fn set_if_missing(h: &mut HeaderMap, name: HeaderName, value: &'static str) {
    if !h.contains_key(&name) {
        h.insert(name, HeaderValue::from_static(value));
    }
}

/// Refuses state-changing requests that do not come from the portal's own pages (Q3): a cross-site
/// form or script cannot act for a logged-in NAP. Browsers send `Sec-Fetch-Site`; older ones at least
/// `Origin`. A request with neither is refused too, since no page of ours sends one.
pub async fn same_origin_writes(
    State(own): State<OwnOrigin>,
    req: Request,
    next: Next,
) -> Response {
    // The SCIM endpoint authenticates by bearer token and reads no cookie: a cross-site page
    // cannot make a browser send the IdM's token, so there is nothing to forge (R22).
    // The same holds for the REST API's tokens (R21).
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || crate::scim_routes::is_scim_path(req.uri().path())
        || crate::api::is_api_path(req.uri().path())
    {
        return next.run(req).await;
    }
    match origin_verdict(req.headers(), &own) {
        Ok(()) => next.run(req).await,
        Err(why) => {
            // The route template, never the path: `/confirm/{token}` carries a token (Q6).
            let route = crate::metrics::route_template(&req);
            tracing::warn!(method = %req.method(), route, why, "cross-origin write refused");
            (StatusCode::FORBIDDEN, format!("Refused: {why}.")).into_response()
        }
    }
}

fn origin_verdict(headers: &HeaderMap, own: &OwnOrigin) -> Result<(), &'static str> {
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.as_bytes() {
            b"same-origin" => Ok(()),
            _ => Err("the request came from another site"),
        };
    }
    match headers.get(ORIGIN).map(|o| o.as_bytes()) {
        Some(origin) if origin.eq_ignore_ascii_case(own.origin().as_bytes()) => Ok(()),
        Some(_) => Err("the request came from another origin"),
        None => Err("the request names no origin"),
    }
}

/// Turns a body that is too large into a clear message (Q5) instead of a bare status.
pub async fn explain_too_large(req: Request<Body>, next: Next) -> Response {
    let is_upload = req.uri().path().contains("/csv/");
    // The SCIM endpoint answers its own 413 as a SCIM Error resource, the REST API as a problem.
    if crate::scim_routes::is_scim_path(req.uri().path())
        || crate::api::is_api_path(req.uri().path())
    {
        return next.run(req).await;
    }
    let resp = next.run(req).await;
    // A server function's refusal is already written in its error type (api_guard.rs).
    let is_server_fn_answer = resp
        .headers()
        .contains_key(leptos::server_fn::error::SERVER_FN_ERROR_HEADER);
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_server_fn_answer {
        let limit = if is_upload {
            "20 MiB a CSV file may have".to_string()
        } else {
            format!("{} KiB this endpoint accepts", MAX_BODY_BYTES / 1024)
        };
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Refused: the request is larger than the {limit}."),
        )
            .into_response();
    }
    resp
}

/// Gives a refusal that has no body (axum's 405 for a method a route does not take) a message
/// saying what is wrong (Q9).
pub async fn explain_bare_refusals(req: Request<Body>, next: Next) -> Response {
    let method = req.method().clone();
    // The SCIM endpoint answers every refusal as a SCIM Error resource itself, the REST API as a
    // problem (RFC 9457).
    if crate::scim_routes::is_scim_path(req.uri().path())
        || crate::api::is_api_path(req.uri().path())
    {
        return next.run(req).await;
    }
    let resp = next.run(req).await;
    let bare = resp.status().is_client_error()
        && axum::body::HttpBody::size_hint(resp.body()).exact() == Some(0);
    if !bare {
        return resp;
    }
    let message = match resp.status() {
        StatusCode::METHOD_NOT_ALLOWED => format!("This address does not take {method} requests."),
        status => format!(
            "Refused: {}.",
            status.canonical_reason().unwrap_or("bad request")
        ),
    };
    let (mut parts, _) = resp.into_parts();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Response::from_parts(parts, Body::from(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn q3_same_origin_is_judged_by_sec_fetch_site_then_origin() {
        let own = OwnOrigin::from_base_url("https://RA.example.org/portal/");
        assert!(origin_verdict(&headers(&[("sec-fetch-site", "same-origin")]), &own).is_ok());
        assert!(origin_verdict(&headers(&[("sec-fetch-site", "cross-site")]), &own).is_err());
        assert!(origin_verdict(&headers(&[("sec-fetch-site", "same-site")]), &own).is_err());
        assert!(origin_verdict(&headers(&[("origin", "https://ra.example.org")]), &own).is_ok());
        assert!(origin_verdict(&headers(&[("origin", "https://evil.example")]), &own).is_err());
        assert!(origin_verdict(&headers(&[("origin", "http://ra.example.org")]), &own).is_err());
        assert!(origin_verdict(&headers(&[]), &own).is_err());
    }
}
