//! The request form of one mailbox (R13, R14): which of the linked addresses go into the
//! certificate, and where the key comes from — made on the server and handed over once as a
//! PKCS#12 file with a password the user chooses, or the user's own key as a PKCS#10 request.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::certs_api::{request_certificate, IssuedItem, KeyChoiceItem, RequestableRow};
use crate::components::ErrorLine;
use crate::error::AppError;
use crate::i18n::use_texts;

/// The shortest PKCS#12 password accepted; the server checks the same.
const MIN_PASSWORD_CHARS: usize = 10;

/// Where the key comes from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum KeyMode {
    /// Made on the server, handed over as PKCS#12.
    Server,
    /// The user's own key in a CSR.
    Csr,
}

/// The form; on success the page shows the certificate (and the PKCS#12 file) and reloads.
#[component]
pub fn RequestForm(
    row: RequestableRow,
    close: Callback<()>,
    changed: Callback<()>,
) -> impl IntoView {
    let t = use_texts();
    let issued = expect_context::<RwSignal<Option<IssuedItem>>>();
    let row_id = row.row_id;
    let chosen = RwSignal::new(row.linked_addresses.clone());
    let mode = RwSignal::new(KeyMode::Server);
    let password = RwSignal::new(String::new());
    let repeat = RwSignal::new(String::new());
    let csr_text = RwSignal::new(String::new());
    // A CSR file as base64 of its bytes (PEM or DER alike); the server tells them apart.
    let csr_file = RwSignal::new(None::<(String, String)>);
    let error = RwSignal::new(None::<AppError>);
    let busy = RwSignal::new(false);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let addresses = chosen.get_untracked();
        let key = match mode.get_untracked() {
            KeyMode::Server => {
                let p = password.get_untracked();
                if p.chars().count() < MIN_PASSWORD_CHARS {
                    error.set(Some(AppError::Invalid(
                        t.get_untracked().certs_password_short.into(),
                    )));
                    return;
                }
                if p != repeat.get_untracked() {
                    error.set(Some(AppError::Invalid(
                        t.get_untracked().certs_password_mismatch.into(),
                    )));
                    return;
                }
                KeyChoiceItem::ServerKey(p)
            }
            KeyMode::Csr => match csr_file.get_untracked() {
                Some((_, b64)) => KeyChoiceItem::Csr(b64),
                None if !csr_text.get_untracked().trim().is_empty() => {
                    KeyChoiceItem::Csr(csr_text.get_untracked())
                }
                None => {
                    error.set(Some(AppError::Invalid(
                        t.get_untracked().certs_csr_missing.into(),
                    )));
                    return;
                }
            },
        };
        if addresses.is_empty() {
            error.set(Some(AppError::Invalid(
                t.get_untracked().certs_choose_address.into(),
            )));
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let result = request_certificate(row_id, addresses, key).await;
            busy.set(false);
            match result {
                Ok(item) => {
                    password.set(String::new());
                    repeat.set(String::new());
                    issued.set(Some(item));
                    close.run(());
                    changed.run(());
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };

    let addresses = row.linked_addresses.clone();
    view! {
        <form class="request-form" on:submit=submit>
            <fieldset>
                <legend>{move || t.get().certs_addresses_legend}</legend>
                {addresses.into_iter().map(|a| {
                    let value = a.clone();
                    let checked = {
                        let a = a.clone();
                        move || chosen.with(|c| c.contains(&a))
                    };
                    view! {
                        <label class="check">
                            <input type="checkbox" prop:checked=checked on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                chosen.update(|c| {
                                    c.retain(|x| x != &value);
                                    if on { c.push(value.clone()); }
                                });
                            }/>
                            <span class="mono">{a.clone()}</span>
                        </label>
                    }
                }).collect_view()}
            </fieldset>
            <fieldset>
                <legend>{move || t.get().certs_key_legend}</legend>
                <label class="check">
                    <input type="radio" name=format!("key-{row_id}") prop:checked=move || mode.get() == KeyMode::Server
                        on:change=move |_| mode.set(KeyMode::Server)/>
                    {move || t.get().certs_key_server}
                </label>
                <label class="check">
                    <input type="radio" name=format!("key-{row_id}") prop:checked=move || mode.get() == KeyMode::Csr
                        on:change=move |_| mode.set(KeyMode::Csr)/>
                    {move || t.get().certs_key_csr}
                </label>
            </fieldset>
            <Show
                when=move || mode.get() == KeyMode::Server
                fallback=move || view! { <CsrInput text=csr_text file=csr_file/> }
            >
                <p class="muted">{move || t.get().certs_server_key_explain}</p>
                <label>
                    {move || t.get().certs_password}
                    <input type="password" autocomplete="new-password" name="p12-password"
                        prop:value=password on:input=move |ev| password.set(event_target_value(&ev))/>
                </label>
                <label>
                    {move || t.get().certs_password_repeat}
                    <input type="password" autocomplete="new-password" name="p12-password-repeat"
                        prop:value=repeat on:input=move |ev| repeat.set(event_target_value(&ev))/>
                </label>
            </Show>
            {move || error.get().map(|e| view! { <ErrorLine error=e/> })}
            <div class="buttons">
                <button type="submit" class="primary" disabled=move || busy.get()>
                    {move || if busy.get() { t.get().certs_issuing } else { t.get().certs_issue_button }}
                </button>
                <button type="button" on:click=move |_| close.run(())>{move || t.get().cancel}</button>
            </div>
        </form>
    }
}

/// Paste a PEM request or pick a file (PEM or DER).
#[component]
fn CsrInput(text: RwSignal<String>, file: RwSignal<Option<(String, String)>>) -> impl IntoView {
    let t = use_texts();
    view! {
        <p class="muted">{move || t.get().certs_csr_explain}</p>
        <label>
            {move || t.get().certs_csr_paste}
            <textarea name="csr" rows="8" class="mono" placeholder="-----BEGIN CERTIFICATE REQUEST-----"
                prop:value=text on:input=move |ev| text.set(event_target_value(&ev))></textarea>
        </label>
        <label>
            {move || t.get().certs_csr_file}
            <input type="file" name="csr-file" accept=".csr,.pem,.req,.der,.p10"
                on:change=move |ev| read_csr_file(&ev, file)/>
        </label>
        {move || file.get().map(|(name, _)| view! { <p class="muted">{move || t.get().certs_csr_chosen}" "<span class="mono">{name.clone()}</span></p> })}
    }
}

/// Reads the chosen file as a data URL and keeps its base64 part.
#[cfg(feature = "hydrate")]
fn read_csr_file(ev: &leptos::ev::Event, file: RwSignal<Option<(String, String)>>) {
    use leptos::wasm_bindgen::closure::Closure;
    use leptos::wasm_bindgen::JsCast;
    use web_sys::{FileReader, HtmlInputElement};

    let Some(input) = ev
        .target()
        .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
    else {
        return;
    };
    let Some(chosen) = input.files().and_then(|f| f.get(0)) else {
        file.set(None);
        return;
    };
    let Ok(reader) = FileReader::new() else {
        return;
    };
    let name = chosen.name();
    let on_load = {
        let reader = reader.clone();
        Closure::once(move || {
            let url = reader
                .result()
                .ok()
                .and_then(|r| r.as_string())
                .unwrap_or_default();
            let b64 = url
                .split_once(',')
                .map(|(_, b)| b.to_string())
                .unwrap_or_default();
            file.set(Some((name, b64)));
        })
    };
    reader.set_onload(Some(on_load.as_ref().unchecked_ref()));
    // The reader calls back once; the closure must live until then.
    on_load.forget();
    let _ = reader.read_as_data_url(&chosen);
}

/// The server never runs this: file inputs change only in the browser.
#[cfg(not(feature = "hydrate"))]
fn read_csr_file(_ev: &leptos::ev::Event, _file: RwSignal<Option<(String, String)>>) {}
