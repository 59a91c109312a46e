//! A row's certificates, opened from the table (R12: all users who ever requested one for it), with
//! revocation once the row is inactive (R15).

use leptos::prelude::*;

use crate::certs_api::row_certificates;
use crate::components::ErrorLine;
use crate::i18n::use_texts;
use crate::pages::certificates::{CertificateTable, Revoker};

/// The panel under a row, with its code in a module of its own (SPEC P4: the table page's first
/// load carries none of the certificate list's code). The table preloads that module once it is
/// hydrated (`preload_lazy_parts`), so opening a row's certificates does not wait for it.
#[lazy]
pub fn row_certificates_panel(row_id: i64, row_active: bool) -> AnyView {
    view! { <RowCertificates row_id row_active/> }.into_any()
}

/// The panel under a row.
#[component]
pub fn RowCertificates(row_id: i64, row_active: bool) -> impl IntoView {
    let t = use_texts();
    let reload = RwSignal::new(0u32);
    let list = Resource::new(move || reload.get(), move |_| row_certificates(row_id));
    let changed = Callback::new(move |_: ()| reload.update(|n| *n += 1));
    view! {
        <div class="row-certificates">
            <Transition fallback=|| ()>
                {move || list.get().map(|r| match r {
                    Err(e) => view! { <ErrorLine error=e/> }.into_any(),
                    Ok(list) if list.certificates.is_empty() => view! { <p class="muted">{move || t.get().certs_row_none}</p> }.into_any(),
                    Ok(list) => view! {
                        <CertificateTable list=list revoker=Revoker::Nap { row_active } changed=changed/>
                    }.into_any(),
                })}
            </Transition>
        </div>
    }
}
