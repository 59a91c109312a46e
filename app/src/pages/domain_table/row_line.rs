//! One row of the address table, edited in place: click a cell, Enter saves, Escape cancels.
//! Before a save that has consequences (R4, R5: superseded challenges, dropped links) the NAP sees
//! them and confirms.

use domain::address::EmailAddress;
use domain::mailbox::MailboxType;
use domain::row::Field;
use leptos::ev::KeyboardEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::handover_api::{deactivate_rows, edit_row_for_new_person, reactivate_and_send};
use crate::i18n::use_texts;
use crate::rows_api::{
    delete_row, edit_row, preview_edit, send_challenges, set_active, RowInput, RowSaveError,
    RowView,
};

use super::badges::StateBadge;
use super::context::{Confirming, TableContext};
use super::handover::{use_handover_texts, DeactivateChoice, HeldCertificates};
use super::precheck::precheck;
use super::row_certificates::row_certificates_panel;
use super::row_form::{check_in_browser, RowFormFields, RowFormState};

/// A row with its cells and actions.
#[component]
pub fn RowLine(row: RowView) -> impl IntoView {
    let t = use_texts();
    let lang = crate::i18n::use_lang();
    let ctx = expect_context::<TableContext>();
    let id = row.id;
    let version = row.version;
    let row = StoredValue::new(row);
    let editing = RwSignal::new(None::<Field>);
    let whole_row = RwSignal::new(false);
    let draft = RwSignal::new(String::new());
    let chips = RwSignal::new(Vec::<String>::new());
    let errors = RwSignal::new(None::<RowSaveError>);
    let confirming = PendingConfirmation {
        row: id,
        version,
        table: ctx.confirming,
    };
    let busy = RwSignal::new(false);
    let show_certificates = RwSignal::new(false);
    let h = use_handover_texts();
    // R19: the leaver's choice in the deactivation dialog; revoking is the default.
    let revoke = RwSignal::new(true);
    let revoke_reason = RwSignal::new(domain::certificate::RevocationReason::AffiliationChanged);
    // R18: renaming a deactivated row for a different person drops its links.
    let different_person = RwSignal::new(false);
    let form_state = RowFormState::new(RowInput::of(&row.get_value()));

    let finish = move |result: Result<(), RowSaveError>| {
        busy.set(false);
        match result {
            Ok(()) => {
                editing.set(None);
                whole_row.set(false);
                errors.set(None);
                confirming.set(None);
                ctx.saved();
            }
            Err(RowSaveError::Other(e)) => {
                editing.set(None);
                whole_row.set(false);
                confirming.set(None);
                ctx.failed(e);
            }
            Err(e) => {
                confirming.set(None);
                errors.set(Some(e));
            }
        }
    };

    // Saving: first ask the server what the edit does; confirm only when it has consequences.
    let save = move |form: RowInput| {
        busy.set(true);
        spawn_local(async move {
            match preview_edit(id, version, form.clone()).await {
                Ok(p) if p.consequences.is_empty() => {
                    finish(edit_row(id, version, form).await.map(|_| ()));
                }
                Ok(p) => {
                    busy.set(false);
                    confirming.set(Some(Confirming::Save(form, p.consequences)));
                }
                Err(e) => finish(Err(e)),
            }
        });
    };

    let start_edit = move |field: Field| {
        if editing.get_untracked().is_some() || whole_row.get_untracked() {
            return;
        }
        let r = row.get_value();
        errors.set(None);
        draft.set(match field {
            Field::FirstName => r.first_name,
            Field::LastName => r.last_name,
            Field::Applicant => r.applicant.unwrap_or_default(),
            Field::Comment => r.comment,
            _ => String::new(),
        });
        chips.set(r.aliases);
        editing.set(Some(field));
    };

    let cancel = move || {
        editing.set(None);
        errors.set(None);
        confirming.set(None);
    };

    // The whole form with one field changed to the draft.
    let form_with_draft = move |field: Field| {
        let mut form = RowInput::of(&row.get_value());
        match field {
            Field::FirstName => form.first_name = draft.get_untracked(),
            Field::LastName => form.last_name = draft.get_untracked(),
            Field::Applicant => form.applicant = draft.get_untracked(),
            Field::Comment => form.comment = draft.get_untracked(),
            Field::Aliases => form.aliases = chips.get_untracked().join(" "),
            _ => {}
        }
        form
    };

    let commit = move |field: Field| {
        let form = form_with_draft(field);
        let problems: Vec<_> = precheck(None, &form)
            .into_iter()
            .filter(|e| e.field == field)
            .collect();
        if !problems.is_empty() {
            errors.set(Some(RowSaveError::Fields(problems)));
            return;
        }
        if form == RowInput::of(&row.get_value()) {
            cancel();
            return;
        }
        save(form);
    };

    let on_key = move |field: Field| {
        move |ev: KeyboardEvent| match ev.key().as_str() {
            "Enter" => {
                ev.prevent_default();
                commit(field);
            }
            "Escape" => cancel(),
            _ => {}
        }
    };

    // A text cell: shows the value, or an input while editing.
    let text_cell = move |field: Field, value: String, class: &'static str| {
        let input_ref = NodeRef::<html::Input>::new();
        Effect::new(move |_| {
            if let Some(input) = input_ref.get() {
                let _ = input.focus();
            }
        });
        let shown = value.clone();
        view! {
            <td class=class data-field=field.as_str()>
                <Show
                    when=move || editing.get() == Some(field)
                    fallback=move || view! {
                        <button type="button" class="cell" title=move || t.get().edit_hint
                            on:click=move |_| start_edit(field)>
                            {if shown.is_empty() { "\u{2014}".to_string() } else { shown.clone() }}
                        </button>
                    }
                >
                    <input type="text" class="cell-input" node_ref=input_ref
                        prop:value=draft
                        disabled=move || busy.get()
                        on:input=move |ev| draft.set(event_target_value(&ev))
                        on:keydown=on_key(field)/>
                </Show>
                {move || (editing.get() == Some(field)).then(|| errors.get().and_then(|e| e.at(field, lang.get())))
                    .flatten()
                    .map(|m| view! { <span class="field-error" role="alert">{m}</span> })}
            </td>
        }
    };

    // The aliases as chips; while editing: × removes one, Enter in the input adds one (or saves when empty).
    let alias_input_ref = NodeRef::<html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = alias_input_ref.get() {
            let _ = input.focus();
        }
    });
    let alias_key = move |ev: KeyboardEvent| match ev.key().as_str() {
        "Enter" => {
            ev.prevent_default();
            let text = draft.get_untracked();
            if text.trim().is_empty() {
                commit(Field::Aliases);
                return;
            }
            match EmailAddress::parse(&text) {
                Ok(a) => {
                    chips.update(|c| {
                        if !c.contains(&a.to_string()) {
                            c.push(a.to_string());
                        }
                    });
                    draft.set(String::new());
                    errors.set(None);
                }
                Err(e) => errors.set(Some(RowSaveError::Fields(vec![
                    domain::row::FieldError::new(Field::Aliases, e),
                ]))),
            }
        }
        "Escape" => cancel(),
        _ => {}
    };

    let r = row.get_value();
    // The valid certificates with their end on the viewer's clock (R16).
    let held = super::context::on_clock(|clock| super::context::with_ends(&r.certificates, clock));
    let held_for_dialog = held.clone();
    let inactive = !r.active;
    let primary_state = r.addresses.iter().find(|a| a.is_primary).cloned();
    let alias_states = r
        .addresses
        .iter()
        .filter(|a| !a.is_primary)
        .cloned()
        .collect::<Vec<_>>();
    let kind_label = move || match row.with_value(|r| r.mailbox_type) {
        MailboxType::Personal => t.get().type_personal,
        MailboxType::Functional => t.get().type_functional,
    };
    let is_selected = move || ctx.selected.with(|s| s.contains_key(&id));
    let toggle_selected = move |_| {
        let certificates = held_for_dialog.clone();
        ctx.selected.update(|s| {
            if s.remove(&id).is_none() {
                s.insert(id, version);
            }
        });
        ctx.selected_certificates.update(|s| {
            if s.remove(&id).is_none() {
                s.insert(id, certificates);
            }
        });
    };

    view! {
        <tr class="row" class:inactive=inactive data-primary=r.primary.clone()>
            <td class="select">
                <input type="checkbox" aria-label=r.primary.clone() prop:checked=is_selected on:change=toggle_selected/>
            </td>
            <td class="primary">
                <span class="mono">{r.primary.clone()}</span>
                {inactive.then(|| view! { <span class="badge inactive">{move || t.get().inactive_badge}</span> })}
                {primary_state.map(|a| view! { <div><StateBadge address=a/></div> })}
                <HeldCertificates certificates=held.clone()/>
            </td>
            {text_cell(Field::FirstName, r.first_name.clone(), "name")}
            {text_cell(Field::LastName, r.last_name.clone(), "name")}
            <td class="aliases" data-field="aliases">
                <Show
                    when=move || editing.get() == Some(Field::Aliases)
                    fallback=move || {
                        let states = alias_states.clone();
                        view! {
                            <button type="button" class="cell chips" title=move || t.get().edit_hint
                                on:click=move |_| start_edit(Field::Aliases)>
                                {if states.is_empty() { Some("\u{2014}") } else { None }}
                                {states.into_iter().map(|a| view! {
                                    <span class="chip">
                                        <span class="mono">{a.address.clone()}</span>
                                        <StateBadge address=a/>
                                    </span>
                                }).collect_view()}
                            </button>
                        }
                    }
                >
                    <div class="chip-editor">
                        <For each=move || chips.get() key=|c| c.clone() let:alias>
                            <span class="chip">
                                <span class="mono">{alias.clone()}</span>
                                <button type="button" class="chip-remove" aria-label={
                                        let alias = alias.clone();
                                        move || format!("{} {}", t.get().alias_remove, alias)
                                    }
                                    on:click={
                                        let alias = alias.clone();
                                        move |_| chips.update(|c| c.retain(|x| x != &alias))
                                    }>"\u{00d7}"</button>
                            </span>
                        </For>
                        <input type="text" class="cell-input" node_ref=alias_input_ref
                            placeholder=move || t.get().alias_add_placeholder
                            prop:value=draft
                            disabled=move || busy.get()
                            on:input=move |ev| draft.set(event_target_value(&ev))
                            on:keydown=alias_key/>
                    </div>
                </Show>
                {move || (editing.get() == Some(Field::Aliases)).then(|| errors.get().and_then(|e| e.at(Field::Aliases, lang.get())))
                    .flatten()
                    .map(|m| view! { <span class="field-error" role="alert">{m}</span> })}
            </td>
            <td class="type">{kind_label}</td>
            {if r.mailbox_type == MailboxType::Functional {
                text_cell(Field::Applicant, r.applicant.clone().unwrap_or_default(), "applicant").into_any()
            } else {
                view! { <td class="applicant muted">"\u{2014}"</td> }.into_any()
            }}
            {text_cell(Field::Comment, r.comment.clone(), "comment")}
            <td class="actions">
                {r.active.then(|| view! {
                    <button type="button" class="send" on:click=move |_| confirming.set(Some(Confirming::Send))>
                        {move || t.get().send_challenges}
                    </button>
                })}
                <button type="button" on:click=move |_| {
                    errors.set(None);
                    editing.set(None);
                    whole_row.set(true);
                }>{move || t.get().edit_row}</button>
                {if r.active {
                    view! { <button type="button" on:click=move |_| confirming.set(Some(Confirming::Active(false)))>{move || t.get().deactivate}</button> }.into_any()
                } else {
                    view! { <button type="button" on:click=move |_| confirming.set(Some(Confirming::Active(true)))>{move || t.get().reactivate}</button> }.into_any()
                }}
                <button type="button" class="certs" aria-expanded=move || show_certificates.get().to_string()
                    on:click=move |_| show_certificates.update(|s| *s = !*s)>
                    {move || t.get().certs_of_row}
                </button>
                <button type="button" class="danger" disabled=r.challenged
                    title=move || if row.with_value(|r| r.challenged) { t.get().delete_refused_hint } else { "" }
                    on:click=move |_| confirming.set(Some(Confirming::Delete))>
                    {move || t.get().delete}
                </button>
            </td>
        </tr>
        {move || show_certificates.get().then(|| {
            let active = row.with_value(|r| r.active);
            view! {
                <tr class="row-certs">
                    <td></td>
                    <td colspan="8">
                        <Suspense fallback=|| ()>
                            {move || Suspend::new(row_certificates_panel(id, active))}
                        </Suspense>
                    </td>
                </tr>
            }
        })}
        {move || whole_row.get().then(|| view! {
            <tr class="row-edit">
                <td></td>
                <td colspan="8">
                    <form class="row-form" on:submit=move |ev| {
                        ev.prevent_default();
                        match check_in_browser(&form_state, false) {
                            Ok(()) if different_person.get_untracked() => {
                                // The checkbox is the NAP's explicit confirmation (R18).
                                let form = form_state.form();
                                busy.set(true);
                                spawn_local(async move {
                                    finish(edit_row_for_new_person(id, version, form).await.map(|_| ()));
                                });
                            }
                            Ok(()) => save(form_state.form()),
                            Err(e) => errors.set(Some(e)),
                        }
                    }>
                        <RowFormFields state=form_state errors=errors with_primary=false/>
                        {inactive.then(|| view! {
                            <label class="check different-person">
                                <input type="checkbox" name="different_person" prop:checked=move || different_person.get()
                                    on:change=move |ev| different_person.set(event_target_checked(&ev))/>
                                " "{move || h.get().different_person}
                            </label>
                            <p class="muted">{move || h.get().different_person_hint}</p>
                        })}
                        <div class="buttons">
                            <button type="submit" class="primary" disabled=move || busy.get()>{move || t.get().save}</button>
                            <button type="button" on:click=move |_| { whole_row.set(false); errors.set(None); }>{move || t.get().cancel}</button>
                        </div>
                    </form>
                </td>
            </tr>
        })}
        {move || confirming.get().map(|c| {
            let (message, consequences): (String, Vec<String>) = match &c {
                Confirming::Save(_, list) => (
                    t.get().consequences_heading.to_string(),
                    list.iter().map(|c| crate::messages::say_consequence(lang.get(), c)).collect(),
                ),
                Confirming::Active(false) => (t.get().confirm_deactivate.to_string(), vec![]),
                Confirming::Active(true) => (t.get().confirm_reactivate.to_string(), vec![]),
                Confirming::Delete => (t.get().confirm_delete.to_string(), vec![]),
                Confirming::Send => (t.get().confirm_send.to_string(), vec![]),
                Confirming::ReactivateAndSend => (h.get().reactivate_and_send.to_string(), vec![]),
            };
            let deactivating = c == Confirming::Active(false);
            let reactivating = c == Confirming::Active(true);
            let go = move |_| {
                let c = c.clone();
                // The version the NAP saw when asked: if the row changed since, the server says so.
                let version = confirming.version_asked().unwrap_or(version);
                busy.set(true);
                spawn_local(async move {
                    let result: Result<(), RowSaveError> = match c {
                        Confirming::Save(form, _) => edit_row(id, version, form).await.map(|_| ()),
                        // R19: deactivating revokes the row's valid certificates in the same step unless the NAP unticked it.
                        Confirming::Active(false) => {
                            let reason = revoke.get_untracked().then(|| revoke_reason.get_untracked());
                            match deactivate_rows(vec![(id, version)], reason).await {
                                Ok(d) => {
                                    finish(Ok(()));
                                    // After `finish`, which clears the last outcome.
                                    ctx.revoked.set((d.revoked > 0).then_some(d.revoked));
                                    return;
                                }
                                Err(e) => Err(RowSaveError::Other(e)),
                            }
                        }
                        Confirming::Active(active) => set_active(vec![(id, version)], active).await.map(|_| ()).map_err(RowSaveError::Other),
                        Confirming::ReactivateAndSend => match reactivate_and_send(vec![(id, version)]).await {
                            Ok(report) => {
                                finish(Ok(()));
                                ctx.notice.set(None);
                                ctx.sent.set(Some(report));
                                return;
                            }
                            Err(e) => Err(RowSaveError::Other(e)),
                        },
                        Confirming::Delete => delete_row(id, version).await.map_err(RowSaveError::Other),
                        Confirming::Send => send_challenges(vec![id]).await.map(|_| ()).map_err(RowSaveError::Other),
                    };
                    finish(result);
                });
            };
            view! {
                <tr class="confirm">
                    <td></td>
                    <td colspan="8">
                        <div class="confirm-box" role="alertdialog">
                            <p>{message}</p>
                            {(!consequences.is_empty()).then(|| view! {
                                <ul>{consequences.into_iter().map(|s| view! { <li>{s}</li> }).collect_view()}</ul>
                            })}
                            {deactivating.then(|| view! {
                                <DeactivateChoice certificates=held.clone() revoke=revoke reason=revoke_reason/>
                            })}
                            {reactivating.then(|| view! { <p class="muted">{move || h.get().reactivate_hint}</p> })}
                            <button type="button" class="primary" disabled=move || busy.get() on:click=go>
                                {move || if reactivating { h.get().reactivate_only } else { t.get().confirm }}
                            </button>
                            {reactivating.then(|| view! {
                                <button type="button" class="primary send-too" disabled=move || busy.get()
                                    on:click=move |_| confirming.set(Some(Confirming::ReactivateAndSend))>
                                    {move || h.get().reactivate_and_send}
                                </button>
                            })}
                            <button type="button" on:click=move |_| cancel()>{move || t.get().cancel}</button>
                        </div>
                    </td>
                </tr>
            }
        })}
    }
}

/// The confirmation a row is asking for. It lives in the table's context, not in the row, so a
/// reload of the page underneath (a filter change, someone's save) does not close it; it keeps the
/// row version the NAP saw, so confirming after a concurrent change is refused as "changed
/// meanwhile" instead of overwriting it. One confirmation at a time in the whole table.
#[derive(Clone, Copy)]
struct PendingConfirmation {
    row: i64,
    version: i64,
    table: RwSignal<Option<(i64, i64, Confirming)>>,
}

impl PendingConfirmation {
    /// What this row asks, if anything (reactive).
    fn get(&self) -> Option<Confirming> {
        let row = self.row;
        self.table.with(|p| {
            p.as_ref()
                .filter(|(id, _, _)| *id == row)
                .map(|(_, _, c)| c.clone())
        })
    }

    /// Opens a question for this row (closing any other), or closes this row's.
    fn set(&self, c: Option<Confirming>) {
        match c {
            Some(c) => self.table.set(Some((self.row, self.version, c))),
            None => {
                if self
                    .table
                    .with_untracked(|p| p.as_ref().is_some_and(|(id, _, _)| *id == self.row))
                {
                    self.table.set(None);
                }
            }
        }
    }

    /// The row version shown when the question was asked.
    fn version_asked(&self) -> Option<i64> {
        self.table.with_untracked(|p| {
            p.as_ref()
                .filter(|(id, _, _)| *id == self.row)
                .map(|(_, v, _)| *v)
        })
    }
}
