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
    let parts = use_context::<Parts>()?;
    parts
        .headers
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

/// The session as the pages see it.
pub fn session_info() -> crate::auth::SessionInfo {
    let oidc = use_context::<backend::Portal>().is_some_and(|p| p.config.oidc.is_some());
    crate::auth::SessionInfo {
        viewer: optional_viewer().map(|v| crate::auth::ViewerInfo {
            display_name: format!("{} {}", v.user.given_name, v.user.family_name)
                .trim()
                .to_string(),
            user_id: v.user.user_id.clone(),
            is_operator: v.is_operator,
            nap_domains: v.nap_domains.iter().map(|d| d.name.clone()).collect(),
        }),
        login_mode: if oidc {
            crate::auth::LoginMode::Oidc
        } else {
            crate::auth::LoginMode::Local
        },
    }
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
    use axum::http::StatusCode;
    let status = match err {
        AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
        AppError::Forbidden => StatusCode::FORBIDDEN,
        AppError::NotFound => StatusCode::NOT_FOUND,
        AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::ChangedMeanwhile(_) => StatusCode::CONFLICT,
        AppError::Internal | AppError::Transport(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    // Only a server function called over HTTP answers with the error's status; a page that calls
    // one while rendering stays a 200 page that shows the message.
    let is_server_fn_call =
        use_context::<Parts>().is_some_and(|p| p.uri.path().starts_with("/api/"));
    if is_server_fn_call {
        if let Some(resp) = use_context::<ResponseOptions>() {
            resp.set_status(status);
        }
    }
    err
}

/// Maps a service refusal to its safe face: the message for input and permission refusals, a logged
/// `Internal` for failures (STYLE 5).
pub fn service_error(err: backend::error::ServiceError) -> crate::error::AppError {
    use backend::error::ServiceError;
    with_status(match err {
        ServiceError::Forbidden(_) => crate::error::AppError::Forbidden,
        e if e.is_internal() => {
            tracing::error!(error = ?e, "internal error in a service");
            crate::error::AppError::Internal
        }
        e => crate::error::AppError::Invalid(e.to_string()),
    })
}
