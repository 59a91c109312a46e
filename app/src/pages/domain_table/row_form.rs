//! A form with every field of a row: adding a row, and editing a whole row at once (needed when
//! the type changes, since a functional row also needs its applicant in the same save).

use domain::row::Field;
use leptos::prelude::*;

use crate::i18n::use_texts;
use crate::rows_api::{RowInput, RowSaveError};

use super::precheck::precheck;

/// The form's fields as signals.
#[derive(Clone, Copy)]
pub struct RowFormState {
    /// Primary address (only when adding).
    pub primary: RwSignal<String>,
    /// First name.
    pub first_name: RwSignal<String>,
    /// Last name.
    pub last_name: RwSignal<String>,
    /// Aliases, separated by spaces, commas or semicolons.
    pub aliases: RwSignal<String>,
    /// `personal` or `functional`.
    pub mailbox_type: RwSignal<String>,
    /// Applicant address.
    pub applicant: RwSignal<String>,
    /// Comment.
    pub comment: RwSignal<String>,
}

impl RowFormState {
    /// A form filled with `form`.
    pub fn new(form: RowInput) -> RowFormState {
        RowFormState {
            primary: RwSignal::new(String::new()),
            first_name: RwSignal::new(form.first_name),
            last_name: RwSignal::new(form.last_name),
            aliases: RwSignal::new(form.aliases),
            mailbox_type: RwSignal::new(if form.mailbox_type.is_empty() {
                "personal".into()
            } else {
                form.mailbox_type
            }),
            applicant: RwSignal::new(form.applicant),
            comment: RwSignal::new(form.comment),
        }
    }

    /// The current values.
    pub fn form(&self) -> RowInput {
        RowInput {
            first_name: self.first_name.get_untracked(),
            last_name: self.last_name.get_untracked(),
            aliases: self.aliases.get_untracked(),
            mailbox_type: self.mailbox_type.get_untracked(),
            applicant: self.applicant.get_untracked(),
            comment: self.comment.get_untracked(),
        }
    }

    /// Empties the form (after a row was added).
    pub fn clear(&self) {
        for field in [
            self.primary,
            self.first_name,
            self.last_name,
            self.aliases,
            self.applicant,
            self.comment,
        ] {
            field.set(String::new());
        }
        self.mailbox_type.set("personal".into());
    }
}

/// The fields of a row with their errors. `with_primary` shows the primary address (adding only:
/// it cannot be edited later, R2).
#[component]
pub fn RowFormFields(
    state: RowFormState,
    errors: RwSignal<Option<RowSaveError>>,
    with_primary: bool,
) -> impl IntoView {
    let t = use_texts();
    let lang = crate::i18n::use_lang();
    let error_at = move |field: Field| {
        move || {
            errors
                .get()
                .and_then(|e| e.at(field, lang.get()))
                .map(|m| view! { <span class="field-error" role="alert">{m}</span> })
        }
    };
    let functional = move || state.mailbox_type.get() == "functional";
    view! {
        <div class="row-form-fields">
            {with_primary.then(|| view! {
                <label class="wide">
                    {move || t.get().col_primary}
                    <input type="text" name="primary" autocomplete="off" required
                        prop:value=state.primary
                        on:input=move |ev| state.primary.set(event_target_value(&ev))/>
                    {error_at(Field::PrimaryAddress)}
                </label>
            })}
            <label>
                {move || t.get().col_type}
                <select name="mailbox_type" prop:value=state.mailbox_type
                    on:change=move |ev| state.mailbox_type.set(event_target_value(&ev))>
                    <option value="personal">{move || t.get().type_personal}</option>
                    <option value="functional">{move || t.get().type_functional}</option>
                </select>
                {error_at(Field::MailboxType)}
            </label>
            <label class:hidden=functional>
                {move || t.get().col_first_name}
                <input type="text" name="first_name" prop:value=state.first_name
                    on:input=move |ev| state.first_name.set(event_target_value(&ev))/>
                {error_at(Field::FirstName)}
            </label>
            <label>
                {move || t.get().col_last_name}
                <input type="text" name="last_name" prop:value=state.last_name
                    on:input=move |ev| state.last_name.set(event_target_value(&ev))/>
                {error_at(Field::LastName)}
            </label>
            <label class="wide">
                {move || t.get().col_aliases}
                <input type="text" name="aliases" prop:value=state.aliases
                    on:input=move |ev| state.aliases.set(event_target_value(&ev))/>
                {error_at(Field::Aliases)}
            </label>
            <label class:hidden=move || !functional()>
                {move || t.get().col_applicant}
                <input type="text" name="applicant" prop:value=state.applicant
                    on:input=move |ev| state.applicant.set(event_target_value(&ev))/>
                {error_at(Field::Applicant)}
            </label>
            <label class="wide">
                {move || t.get().col_comment}
                <input type="text" name="comment" prop:value=state.comment
                    on:input=move |ev| state.comment.set(event_target_value(&ev))/>
                {error_at(Field::Comment)}
            </label>
        </div>
    }
}

/// Checks a form in the browser with the same parsers the server runs, so most mistakes show at
/// once; the server checks everything again.
pub fn check_in_browser(state: &RowFormState, with_primary: bool) -> Result<(), RowSaveError> {
    let primary = with_primary.then(|| state.primary.get_untracked());
    let errors = precheck(primary.as_deref(), &state.form());
    if errors.is_empty() {
        Ok(())
    } else {
        Err(RowSaveError::Fields(errors))
    }
}
