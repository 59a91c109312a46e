//! The domain's setting for IdM deprovisioning (SPEC R22), in the settings area of the domain's
//! table: what a leaver's personal row gets when the IdM reports them gone. Any NAP of the domain
//! may change it; it is audited. Texts in both languages.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::ErrorLine;
use crate::deprovision_api::{deprovision_setting, set_deprovision_setting, DeprovisionMode};
use crate::error::AppError;
use crate::i18n::{CurrentLang, Lang};

struct SettingTexts {
    summary: &'static str,
    label: &'static str,
    revoke: &'static str,
    propose: &'static str,
    hint: &'static str,
    saved: &'static str,
}

const EN: SettingTexts = SettingTexts {
    summary: "Settings",
    label: "When the IdM reports that a person left:",
    revoke: "deactivate their personal rows and revoke their certificates at once",
    propose: "propose it on the worklist; a NAP accepts or dismisses it",
    hint: "Either way their sessions end at once; functional mailboxes stay active and lose only \
           the leaver's link and certificates, and you get one mail per sync run.",
    saved: "Saved.",
};

const DE: SettingTexts = SettingTexts {
    summary: "Einstellungen",
    label: "Wenn das IdM eine Person als ausgeschieden meldet:",
    revoke: "ihre persönlichen Zeilen sofort deaktivieren und ihre Zertifikate sperren",
    propose: "in der Arbeitsliste vorschlagen; eine Kontaktperson (NAP) nimmt an oder verwirft",
    hint: "In beiden Fällen enden ihre Sitzungen sofort; Funktionspostfächer bleiben aktiv und \
           verlieren nur die Verknüpfung und Zertifikate der Person, und Sie erhalten eine Mail \
           je Synchronisation.",
    saved: "Gespeichert.",
};

/// R22: the domain's "revoke at once | propose" choice, in a closed settings area.
#[component]
pub fn DeprovisionSetting(domain: Memo<String>) -> impl IntoView {
    let CurrentLang(lang) = expect_context::<CurrentLang>();
    let s = Signal::derive(move || match lang.get() {
        Lang::En => &EN,
        Lang::De => &DE,
    });
    let setting = Resource::new(move || domain.get(), deprovision_setting);
    let error = RwSignal::new(None::<AppError>);
    let saved = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let change = move |value: String| {
        let mode = if value == "propose" {
            DeprovisionMode::Propose
        } else {
            DeprovisionMode::Revoke
        };
        busy.set(true);
        saved.set(false);
        spawn_local(async move {
            match set_deprovision_setting(domain.get_untracked(), mode).await {
                Ok(_) => {
                    error.set(None);
                    saved.set(true);
                    setting.refetch();
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    view! {
        <details class="domain-settings">
            <summary>{move || s.get().summary}</summary>
            <Suspense fallback=|| ()>
                {move || setting.get().map(|answer| match answer {
                    Ok(mode) => view! {
                        <label class="deprovision-setting">
                            {move || s.get().label}" "
                            <select name="deprovision_mode" disabled=move || busy.get()
                                on:change=move |ev| change(event_target_value(&ev))>
                                <option value="revoke" selected=mode == DeprovisionMode::Revoke>{move || s.get().revoke}</option>
                                <option value="propose" selected=mode == DeprovisionMode::Propose>{move || s.get().propose}</option>
                            </select>
                        </label>
                        <p class="muted">{move || s.get().hint}</p>
                    }.into_any(),
                    Err(e) => view! { <ErrorLine error=e/> }.into_any(),
                })}
            </Suspense>
            {move || saved.get().then(|| view! { <p class="ok" role="status">{move || s.get().saved}</p> })}
            {move || error.get().map(|e| view! { <ErrorLine error=e/> })}
        </details>
    }
}
