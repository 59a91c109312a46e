//! The revocation reason (R15): its words, and the choice of it wherever a certificate is revoked
//! (the user's own list, a row's list, the table's bulk revocation, the handover's dialogs).

use domain::certificate::RevocationReason;
use leptos::prelude::*;

use crate::i18n::{use_texts, Texts};

/// The reason's words in the page's language.
pub fn reason_label(t: &Texts, reason: RevocationReason) -> &'static str {
    let index = RevocationReason::ALL
        .iter()
        .position(|r| *r == reason)
        .unwrap_or(0);
    t.revocation_reasons[index]
}

/// The RFC 5280 reasons a person may pick; "no reason given" writes no reason code (R15).
#[component]
pub fn ReasonSelect(reason: RwSignal<RevocationReason>) -> impl IntoView {
    let t = use_texts();
    view! {
        <label>
            {move || t.get().certs_reason}" "
            <select name="reason" on:change=move |ev| {
                if let Ok(r) = RevocationReason::parse(&event_target_value(&ev)) {
                    reason.set(r);
                }
            }>
                {RevocationReason::ALL.into_iter().map(|r| view! {
                    <option value=r.as_str() prop:selected=move || reason.get() == r>{move || reason_label(t.get(), r)}</option>
                }).collect_view()}
            </select>
        </label>
    }
}
