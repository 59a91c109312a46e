//! Server-only helpers for pages and server functions: the request's language, the per-response
//! Content-Security-Policy, cookies.

use axum::http::header::{ACCEPT_LANGUAGE, CONTENT_SECURITY_POLICY, COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use crate::i18n::Lang;

/// Name of the cookie that remembers the interface language (not a secret, so readable by scripts).
const LANG_COOKIE: &str = "lang";

/// The value of one cookie of the current request.
pub fn request_cookie(name: &str) -> Option<String> {
    cookie_in(&use_context::<Parts>()?.headers, name)
}

/// The value of cookie `name` in `headers`.
pub fn cookie_in(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The language of the current request: cookie, then Accept-Language, then English.
pub fn request_lang() -> Lang {
    let accept = use_context::<Parts>().and_then(|p| {
        p.headers
            .get(ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    Lang::negotiate(request_cookie(LANG_COOKIE).as_deref(), accept.as_deref())
}

/// R20: the current request's client as validation evidence: the peer's IP address (the portal
/// builds nothing from forwarded headers it cannot verify) and the `User-Agent` header.
pub fn request_client() -> domain::handover::ConfirmingClient {
    let Some(parts) = use_context::<Parts>() else {
        return domain::handover::ConfirmingClient::default();
    };
    let ip = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip().to_string());
    let user_agent = parts
        .headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    domain::handover::ConfirmingClient::new(ip, user_agent)
}

/// Sets the language cookie on the current response (one year).
pub fn remember_lang(lang: Lang) {
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.tag()
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        expect_context::<ResponseOptions>().append_header(SET_COOKIE, value);
    }
}

pub mod content_security_policy {
    //! The page's Content-Security-Policy (Q4): scripts only from the portal itself plus the inline
    //! hydration script carrying this response's nonce; WASM may be compiled; nothing may frame us.

    use super::*;
    use leptos::nonce::{provide_nonce, use_nonce};

    /// The policy for a page whose inline scripts carry `nonce`.
    pub fn for_nonce(nonce: &str) -> String {
        format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
             style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )
    }

    /// Makes a fresh nonce for this response, for leptos' inline scripts and the CSP header.
    pub fn provide_for_response() {
        provide_nonce();
        let Some(nonce) = use_nonce() else { return };
        if let (Some(resp), Ok(value)) = (
            use_context::<ResponseOptions>(),
            HeaderValue::from_str(&for_nonce(&nonce.to_string())),
        ) {
            resp.insert_header(CONTENT_SECURITY_POLICY, value);
        }
    }
}

/// The signed-in user with roles, as the server's session layer found it; `None` for anonymous
/// requests. Synchronous, so pages read it while rendering without a resource.
pub fn optional_viewer() -> Option<backend::roles::Viewer> {
    use_context::<Parts>()?
        .extensions
        .get::<backend::roles::Viewer>()
        .cloned()
}

/// The viewer with roles; anonymous requests are refused with 401 (Q1).
pub fn require_viewer() -> Result<backend::roles::Viewer, crate::error::AppError> {
    optional_viewer().ok_or_else(|| with_status(crate::error::AppError::Unauthenticated))
}

/// The viewer, who must be an operator; others are refused with 403 (Q1).
pub fn require_operator() -> Result<backend::roles::Viewer, crate::error::AppError> {
    let viewer = require_viewer()?;
    if viewer.is_operator {
        Ok(viewer)
    } else {
        Err(with_status(crate::error::AppError::Forbidden))
    }
}

/// Logs an internal error with its cause chain and gives the caller only the safe face (STYLE 5).
pub fn internal<E: std::fmt::Debug>(err: E) -> crate::error::AppError {
    tracing::error!(error = ?err, "internal error in a server function");
    with_status(crate::error::AppError::Internal)
}

/// Sets the HTTP status that matches an error on the current response, so refusals are 401/403/422
/// and not a generic 500, and returns the error.
pub fn with_status(err: crate::error::AppError) -> crate::error::AppError {
    use crate::error::AppError;
    let status = match err {
        AppError::Unauthenticated => 401,
        AppError::Forbidden => 403,
        AppError::NotFound => 404,
        AppError::Invalid(_) | AppError::Refused(_) => 422,
        AppError::Internal | AppError::Transport(_) => 500,
    };
    set_status(status);
    err
}

/// Answers a server function called over HTTP with `status`; a page that calls one while rendering
/// stays a 200 page that shows the message.
pub fn set_status(status: u16) {
    let is_server_fn_call =
        use_context::<Parts>().is_some_and(|p| p.uri.path().starts_with("/api/"));
    if let (true, Some(resp), Ok(status)) = (
        is_server_fn_call,
        use_context::<ResponseOptions>(),
        axum::http::StatusCode::from_u16(status),
    ) {
        resp.set_status(status);
    }
}

/// The one mapping of a service's error to a server function's (STYLE 5): the kind gives the
/// status, the message goes to the page as data (worded there in the reader's language), and an
/// internal failure is logged with its cause and crosses the wire as `Internal` only.
pub fn service_error(err: backend::error::ServiceError) -> crate::error::AppError {
    use crate::error::AppError;
    use backend::error::ServiceError;
    use domain::message::Message;
    set_status(err.status());
    match err {
        ServiceError::Internal(_) => {
            tracing::error!(error = ?err, "internal error in a service");
            AppError::Internal
        }
        // Q1: a missing role reads the same everywhere.
        ServiceError::Forbidden(Message::NotNap | Message::OperatorOnly) => AppError::Forbidden,
        ServiceError::Forbidden(m)
        | ServiceError::NotFound(m)
        | ServiceError::Invalid(m)
        | ServiceError::ChangedMeanwhile(m, _)
        | ServiceError::TooLarge(m) => AppError::Refused(m),
    }
}
