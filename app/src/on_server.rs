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
