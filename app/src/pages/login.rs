//! The login page: a password form for local accounts, or a button to the organisation's IdP.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::auth::{safe_return_to, use_session, LoginMode};
use crate::components::encode_component;
use crate::i18n::use_texts;

/// `/login?return_to=…&error=…`
#[component]
pub fn LoginPage() -> impl IntoView {
    let t = use_texts();
    let query = use_query_map();
    let return_to = move || safe_return_to(&query.read().get("return_to").unwrap_or_default());
    let error = move || query.read().get("error");
    let login_mode = use_session().login_mode;

    view! {
        <section class="login">
            <h1>{move || t.get().login_heading}</h1>
            <Show when=move || error().is_some()>
                <p class="error" role="alert">
                    {move || match error().as_deref() {
                        Some("invalid") => t.get().login_invalid,
                        Some("expired") => t.get().login_flow_expired,
                        Some("deactivated") => t.get().login_idm_inactive,
                        _ => t.get().login_failed,
                    }}
                </p>
            </Show>
            {match login_mode {
                    LoginMode::Oidc => view! {
                        <p>{move || t.get().login_oidc_intro}</p>
                        <a class="button primary" rel="external"
                            href=move || format!("/auth/oidc/start?return_to={}", encode_component(&return_to()))>
                            {move || t.get().login_oidc_button}
                        </a>
                    }.into_any(),
                    _ => view! {
                        <form class="login-form" method="post" action="/auth/login">
                            <input type="hidden" name="return_to" prop:value=return_to/>
                            <label>
                                {move || t.get().login_username}
                                <input type="text" name="username" autocomplete="username" required autofocus/>
                            </label>
                            <label>
                                {move || t.get().login_password}
                                <input type="password" name="password" autocomplete="current-password" required/>
                            </label>
                            <button type="submit" class="primary">{move || t.get().login_button}</button>
                        </form>
                    }.into_any(),
                }}
        </section>
    }
}
