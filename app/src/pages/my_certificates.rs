//! "My client certificates": every signed-in user's page.

use leptos::prelude::*;

use crate::auth::use_session;
use crate::components::RequireLogin;
use crate::i18n::use_texts;

/// `/certificates`
#[component]
pub fn MyCertificatesPage() -> impl IntoView {
    let t = use_texts();
    let viewer = use_session().viewer;
    view! {
        <RequireLogin>
            <section class="my-certificates">
                <h1>{move || t.get().nav_my_certificates}</h1>
                {viewer.clone().map(|v| view! {
                    <dl class="facts">
                        <dt>{move || t.get().user_id}</dt>
                        <dd class="mono">{v.user_id.clone()}</dd>
                        <dt>{move || t.get().name_in_certificates}</dt>
                        <dd>{v.display_name.clone()}</dd>
                    </dl>
                })}
            </section>
        </RequireLogin>
    }
}
