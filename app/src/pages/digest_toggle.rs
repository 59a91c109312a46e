//! The NAP's digest setting of a domain (SPEC R23): a checkbox beside each domain on "My email
//! domains", with its server functions and its texts in both languages.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use leptos::task::spawn_local;

use crate::components::ErrorLine;
use crate::error::AppError;
use crate::i18n::{CurrentLang, Lang};

/// Whether the signed-in NAP gets the digest of `domain` (on unless they turned it off).
#[server(endpoint = "digest/setting", input = Json)]
pub async fn digest_setting(domain: String) -> Result<bool, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::digest::digest_enabled(&portal, &viewer, &domain)
        .await
        .map_err(crate::on_server::service_error)
}

/// Turns the signed-in NAP's digest of `domain` on or off; answers the setting as it is now.
#[server(endpoint = "digest/set", input = Json)]
pub async fn set_digest_setting(domain: String, enabled: bool) -> Result<bool, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::digest::set_digest_enabled(&portal, &viewer, &domain, enabled)
        .await
        .map_err(crate::on_server::service_error)?;
    Ok(enabled)
}

struct DigestTexts {
    label: &'static str,
    hint: &'static str,
}

const EN: DigestTexts = DigestTexts {
    label: "digest by mail",
    hint: "A mail every week (unless the portal is set otherwise) listing deactivated rows with valid certificates, certificates that \
           expire soon and failed or expired challenges; none when there is nothing to say.",
};

const DE: DigestTexts = DigestTexts {
    label: "Übersicht per Mail",
    hint: "Jede Woche (sofern das Portal nicht anders eingestellt ist) eine Mail mit deaktivierten Zeilen mit gültigen Zertifikaten, bald \
           ablaufenden Zertifikaten und fehlgeschlagenen oder abgelaufenen Challenges; keine, \
           wenn es nichts zu berichten gibt.",
};

/// R23: the checkbox that turns the signed-in NAP's digest of `domain` on or off.
#[component]
pub fn DigestToggle(domain: String) -> impl IntoView {
    let CurrentLang(lang) = expect_context::<CurrentLang>();
    let d = Signal::derive(move || match lang.get() {
        Lang::En => &EN,
        Lang::De => &DE,
    });
    let setting = Resource::new(
        {
            let domain = domain.clone();
            move || domain.clone()
        },
        digest_setting,
    );
    let error = RwSignal::new(None::<AppError>);
    let busy = RwSignal::new(false);
    let change = move |enabled: bool| {
        let domain = domain.clone();
        busy.set(true);
        spawn_local(async move {
            match set_digest_setting(domain, enabled).await {
                Ok(_) => {
                    error.set(None);
                    setting.refetch();
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    view! {
        <Suspense fallback=|| ()>
            {move || setting.get().map(|answer| match answer {
                Ok(enabled) => {
                    let change = change.clone();
                    view! {
                        <label class="digest-toggle" title=move || d.get().hint>
                            <input type="checkbox" prop:checked=enabled disabled=move || busy.get()
                                on:change=move |ev| change(event_target_checked(&ev))/>
                            " "{move || d.get().label}
                        </label>
                    }.into_any()
                }
                Err(e) => view! { <ErrorLine error=e/> }.into_any(),
            })}
        </Suspense>
        {move || error.get().map(|e| view! { <ErrorLine error=e/> })}
    }
}
