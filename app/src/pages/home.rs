//! The start page: what the portal is for.

use leptos::prelude::*;

use crate::error::AppError;
use crate::i18n::{use_texts, Lang};

/// The start page.
#[component]
pub fn HomePage() -> impl IntoView {
    let t = use_texts();
    view! {
        <section class="home">
            <h1>{move || t.get().home_heading}</h1>
            <p class="lead">{move || t.get().home_intro}</p>
            <div class="cards">
                <article class="card">
                    <h2>{move || t.get().nav_my_domains}</h2>
                    <p>{move || t.get().home_for_naps}</p>
                </article>
                <article class="card">
                    <h2>{move || t.get().nav_my_certificates}</h2>
                    <p>{move || t.get().home_for_users}</p>
                </article>
            </div>
        </section>
    }
}

/// Remembers the chosen interface language in a cookie, so server-rendered pages use it too.
#[server(endpoint = "set_language")]
pub async fn set_language(lang: Lang) -> Result<(), AppError> {
    crate::on_server::remember_lang(lang);
    Ok(())
}
