//! Small components used by several pages.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::auth::use_session;
use crate::error::AppError;
use crate::i18n::use_texts;

/// An error message in a box that screen readers announce.
#[component]
pub fn ErrorLine(error: AppError) -> impl IntoView {
    let lang = crate::i18n::use_lang();
    view! { <p class="error" role="alert">{move || crate::messages::say_error(lang.get(), &error)}</p> }
}

/// Shows its children only to signed-in users; others get a link to the login page that brings them
/// back here. (The server functions behind the page check again: this is only for the eye, Q1.)
#[component]
pub fn RequireLogin(children: ChildrenFn) -> impl IntoView {
    let t = use_texts();
    let location = use_location();
    let login_href = move || {
        let here = format!("{}{}", location.pathname.get(), location.search.get());
        format!("/login?return_to={}", encode_component(&here))
    };
    if use_session().viewer.is_some() {
        children().into_any()
    } else {
        view! {
            <p class="notice">
                {move || t.get().please_log_in}" "
                <a href=login_href>{move || t.get().nav_login}</a>
            </p>
        }
        .into_any()
    }
}

/// Percent-encodes a query parameter value.
pub fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
