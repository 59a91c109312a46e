//! "My client certificates" (SPEC §5): every signed-in user's page. The rows they are linked to,
//! with a request form for those that may have a certificate now (R13, R14), and every
//! certificate they requested, revoked and expired ones included (R12), to download or revoke.

mod list;
mod reason_select;
mod request_form;

pub use list::{CertificateTable, Revoker};
pub use reason_select::ReasonSelect;

use leptos::prelude::*;

use crate::auth::use_session;
use crate::certs_api::{my_certificates, IssuedItem, MyCertificatesItem, RequestableRow};
use crate::components::{ErrorLine, RequireLogin};
use crate::i18n::use_texts;

use request_form::RequestForm;

/// `/certificates`
#[component]
pub fn MyCertificatesPage() -> impl IntoView {
    let t = use_texts();
    let viewer = use_session().viewer;
    let reload = RwSignal::new(0u32);
    let data = Resource::new(move || reload.get(), |_| my_certificates());
    let changed = Callback::new(move |_: ()| reload.update(|n| *n += 1));
    // The newest certificate stays announced across reloads: its PKCS#12 file exists only here.
    let issued = RwSignal::new(None::<IssuedItem>);
    provide_context(issued);
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
                {move || issued.get().map(|i| view! { <IssuedNotice issued=i/> })}
                <Transition fallback=|| ()>
                    {move || data.get().map(|result| match result {
                        Err(e) => view! { <ErrorLine error=e/> }.into_any(),
                        Ok(mine) => view! { <MyCertificates mine=mine changed=changed/> }.into_any(),
                    })}
                </Transition>
            </section>
        </RequireLogin>
    }
}

/// The page's content once loaded.
#[component]
fn MyCertificates(mine: MyCertificatesItem, changed: Callback<()>) -> impl IntoView {
    let t = use_texts();
    let no_rows = mine.rows.is_empty();
    let no_certificates = mine.list.certificates.is_empty();
    // The refusals' dates on the viewer's clock, for the mailbox cards (R16).
    provide_context(mine.clock);
    view! {
        <h2>{move || t.get().certs_mailboxes_heading}</h2>
        {no_rows.then(|| view! { <p class="notice">{move || t.get().certs_no_links}</p> })}
        <div class="mailbox-cards">
            {mine.rows.into_iter().map(|row| view! { <MailboxCard row=row changed=changed/> }).collect_view()}
        </div>
        <h2>{move || t.get().certs_list_heading}</h2>
        {if no_certificates {
            view! { <p class="muted">{move || t.get().certs_none_yet}</p> }.into_any()
        } else {
            view! { <CertificateTable list=mine.list revoker=Revoker::Owner changed=changed/> }.into_any()
        }}
    }
}

/// One row the user is linked to: what a certificate for it would say, and the request form.
#[component]
fn MailboxCard(row: RequestableRow, changed: Callback<()>) -> impl IntoView {
    let t = use_texts();
    let lang = crate::i18n::use_lang();
    let open = RwSignal::new(false);
    let refusal = row.refusal.clone();
    let may_request = refusal.is_none();
    let row = StoredValue::new(row);
    view! {
        <article class="mailbox-card" data-row=row.with_value(|r| r.primary.clone())>
            <header>
                <h3 class="mono">{row.with_value(|r| r.primary.clone())}</h3>
                <span>{row.with_value(|r| r.row_name.clone())}</span>
                {row.with_value(|r| r.functional).then(|| view! { <span class="badge">{move || t.get().type_functional}</span> })}
                {(!row.with_value(|r| r.active)).then(|| view! { <span class="badge inactive">{move || t.get().inactive_badge}</span> })}
            </header>
            <dl class="facts">
                <dt>{move || t.get().certs_linked_addresses}</dt>
                <dd class="mono">{row.with_value(|r| r.linked_addresses.join(", "))}</dd>
                <dt>{move || t.get().certs_subject}</dt>
                <dd class="mono">{row.with_value(|r| r.subject_preview.clone())}</dd>
            </dl>
            {refusal.map(|why| {
                let clock = use_context::<crate::dates::Clock>().unwrap_or_default();
                view! { <p class="muted refusal">{move || crate::messages::say_refusal_on(lang.get(), &why, &clock)}</p> }
            })}
            {may_request.then(|| view! {
                <Show
                    when=move || open.get()
                    fallback=move || view! {
                        <button type="button" class="primary" on:click=move |_| open.set(true)>
                            {move || t.get().certs_request_button}
                        </button>
                    }
                >
                    <RequestForm row=row.get_value() close=Callback::new(move |_| open.set(false)) changed=changed/>
                </Show>
            })}
        </article>
    }
}

/// The certificate just issued; with a server-made key, the one chance to save the PKCS#12 file
/// (R14: the key is not kept).
#[component]
fn IssuedNotice(issued: IssuedItem) -> impl IntoView {
    let t = use_texts();
    let serial = issued.certificate.serial.clone();
    let p12 = issued.pkcs12_base64.map(|b64| {
        let href = format!("data:application/x-pkcs12;base64,{b64}");
        let file = format!("{serial}.p12");
        view! {
            <p><strong>{move || t.get().certs_p12_warning}</strong></p>
            <a class="button primary" href=href download=file data-testid="p12-download">
                {move || t.get().certs_p12_download}
            </a>
            <p class="muted">{move || t.get().certs_p12_import_hint}</p>
        }
    });
    view! {
        <div class="ok issued" role="status">
            <p>
                {move || t.get().certs_issued}" "
                <span class="mono" data-testid="issued-serial">{serial.clone()}</span>
            </p>
            {p12}
        </div>
    }
}
