//! "My email domains": the domains the signed-in NAP administers.

use leptos::prelude::*;

use crate::auth::use_session;
use crate::components::RequireLogin;
use crate::i18n::{use_texts, CurrentLang};
use crate::pages::digest_toggle::DigestToggle;

/// `/domains`
#[component]
pub fn MyDomainsPage() -> impl IntoView {
    let t = use_texts();
    let CurrentLang(lang) = expect_context::<CurrentLang>();
    let nap_domains = use_session()
        .viewer
        .map(|v| v.nap_domains)
        .unwrap_or_default();
    view! {
        <RequireLogin>
            <section class="my-domains">
                <h1>{move || t.get().nav_my_domains}</h1>
                {if nap_domains.is_empty() {
                    view! { <p class="notice">{move || t.get().domains_none}</p> }.into_any()
                } else {
                    view! {
                        <ul class="domain-list">
                            {nap_domains.iter().map(|d| view! {
                                <li><a class="mono" href=format!("/domains/{d}")>{d.clone()}</a>" "<DigestToggle domain=d.clone()/></li>
                            }).collect_view()}
                        </ul>
                        <p><a class="api-tokens-link" href="/api-tokens">{move || crate::pages::api_tokens::texts(lang.get()).heading}</a></p>
                    }.into_any()
                }}
            </section>
        </RequireLogin>
    }
}
