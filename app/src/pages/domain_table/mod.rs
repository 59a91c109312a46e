//! "My email domains" → one domain's address table (SPEC §2): server-side paging, sorting and
//! filtering (only the visible page travels), inline editing, add, delete, (de)activate, bulk.

mod badges;
mod context;
mod csv_upload;
mod deprovision_proposals;
pub(crate) mod handover;
mod precheck;
mod row_certificates;
mod row_form;
mod row_line;

use std::collections::BTreeMap;

use domain::mailbox::MailboxType;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;

use crate::certs_api::revoke_for_rows;
use crate::components::{ErrorLine, RequireLogin};
use crate::handover_api::deactivate_rows;
use crate::i18n::use_texts;
use crate::pages::certificates::ReasonSelect;
use crate::rows_api::{
    create_row, list_rows, send_challenges, send_to_unconfirmed, set_active, Anchor, RowQuery,
    SortKey, StateFilter, TablePage,
};

pub use context::TableContext;
use row_form::{check_in_browser, RowFormFields, RowFormState};
use row_line::RowLine;

/// Loads the modules of the table's lazy parts (the CSV preview, a row's certificates) once the
/// page is hydrated, while the NAP reads it: the first load stays small (SPEC P4), and the first
/// preview or certificates panel does not wait for its code. Effects run only in the browser.
fn preload_lazy_parts() {
    Effect::new(|_| {
        #[cfg(feature = "hydrate")]
        spawn_local(async {
            csv_upload::__preload_preview_of().await;
            row_certificates::__preload_row_certificates_panel().await;
        });
    });
}

/// `/domains/:domain`
#[component]
pub fn DomainTablePage() -> impl IntoView {
    let t = use_texts();
    let lang = crate::i18n::use_lang();
    let params = use_params_map();
    let domain = Memo::new(move |_| params.read().get("domain").unwrap_or_default());
    let query = RwSignal::new(RowQuery::default());
    let ctx = TableContext {
        selected: RwSignal::new(BTreeMap::new()),
        selected_certificates: RwSignal::new(BTreeMap::new()),
        reload: RwSignal::new(0),
        notice: RwSignal::new(None),
        sent: RwSignal::new(None),
        revoked: RwSignal::new(None),
        confirming: RwSignal::new(None),
    };
    provide_context(ctx);
    preload_lazy_parts();
    let page = Resource::new(
        move || (domain.get(), query.get(), ctx.reload.get()),
        |(domain, query, _)| list_rows(domain, query),
    );

    view! {
        <RequireLogin>
            <section class="domain-table">
                <div class="title-line">
                    <h1 class="mono">{move || domain.get()}</h1>
                    <a href=move || format!("/domains/{}/audit", domain.get())>{move || t.get().audit_link}</a>
                </div>
                <crate::pages::deprovision_setting::DeprovisionSetting domain=domain/>
                <deprovision_proposals::DeprovisionProposals domain=domain/>
                <handover::Worklist domain=domain/>
                <AddRow domain=domain/>
                <csv_upload::CsvUpload domain=domain/>
                {move || ctx.notice.get().map(|n| match n {
                    Ok(what) => view! {
                        <p class="ok" role="status">
                            {move || if what == "added" { t.get().row_added } else { t.get().row_saved }}
                        </p>
                    }.into_any(),
                    Err(e) => view! { <ErrorLine error=e/> }.into_any(),
                })}
                {move || ctx.sent.get().map(|r| view! {
                    <div class="ok" role="status">
                        {move || t.get().sent_report}" "{r.challenges}
                        <ul>{r.refused.iter().map(|(p, why)| { let why = domain::message::Message::Send(*why); view! { <li><span class="mono">{p.clone()}</span>": "{move || crate::messages::say(lang.get(), &why)}</li> } }).collect_view()}</ul>
                    </div>
                })}
                {move || ctx.revoked.get().map(|n| view! {
                    <p class="ok" role="status">{move || t.get().certs_revoked_count}" "{n}</p>
                })}
                <Toolbar query=query/>
                <SendAll domain=domain/>
                <BulkBar/>
                <Transition fallback=|| ()>
                    {move || page.get().map(|result| match result {
                        Err(e) => view! { <ErrorLine error=e/> }.into_any(),
                        Ok(TablePage { page: p, clock }) => {
                            // The rows' moments on the viewer's clock, for the badges (R16).
                            provide_context(clock);
                            let total = p.total;
                            let empty = p.rows.is_empty();
                            let first = p.rows.first().map(|r| r.id);
                            let last = p.rows.last().map(|r| r.id);
                            view! {
                                <table class="data rows">
                                    <thead>
                                        <tr>
                                            <th></th>
                                            <SortHeader query=query column=SortKey::Primary label=move || t.get().col_primary/>
                                            <SortHeader query=query column=SortKey::FirstName label=move || t.get().col_first_name/>
                                            <SortHeader query=query column=SortKey::LastName label=move || t.get().col_last_name/>
                                            <th>{move || t.get().col_aliases}</th>
                                            <SortHeader query=query column=SortKey::Type label=move || t.get().col_type/>
                                            <th>{move || t.get().col_applicant}</th>
                                            <th>{move || t.get().col_comment}</th>
                                            <th>{move || t.get().col_actions}</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {empty.then(|| view! { <tr><td colspan="9" class="muted">{move || t.get().no_rows}</td></tr> })}
                                        {p.rows.into_iter().map(|row| view! { <RowLine row=row/> }).collect_view()}
                                    </tbody>
                                </table>
                                <Pager query=query total=total page=p.page first=first last=last/>
                            }.into_any()
                        }
                    })}
                </Transition>
            </section>
        </RequireLogin>
    }
}

/// A column header that sorts by its column; clicking again reverses.
#[component]
fn SortHeader(
    query: RwSignal<RowQuery>,
    column: SortKey,
    label: impl Fn() -> &'static str + Send + Sync + 'static,
) -> impl IntoView {
    let arrow = move || {
        query.with(|q| match (q.sort == column, q.descending) {
            (true, false) => " \u{25b2}",
            (true, true) => " \u{25bc}",
            _ => "",
        })
    };
    let sort_attr = move || {
        query.with(|q| match (q.sort == column, q.descending) {
            (true, false) => "ascending",
            (true, true) => "descending",
            _ => "none",
        })
    };
    view! {
        <th aria-sort=sort_attr>
            <button type="button" class="sort" on:click=move |_| query.update(|q| {
                if q.sort == column {
                    q.descending = !q.descending;
                } else {
                    q.sort = column;
                    q.descending = false;
                }
                q.first_page();
            })>
                {label}{arrow}
            </button>
        </th>
    }
}

/// Search and filters.
#[component]
fn Toolbar(query: RwSignal<RowQuery>) -> impl IntoView {
    let t = use_texts();
    let search = RwSignal::new(String::new());
    let apply_search = move || {
        let text = search.get_untracked();
        query.update(|q| {
            q.search = text;
            q.first_page();
        });
    };
    view! {
        <form class="toolbar" role="search" on:submit=move |ev| { ev.prevent_default(); apply_search(); }>
            <input type="search" name="search" aria-label=move || t.get().table_search
                placeholder=move || t.get().table_search
                prop:value=search
                on:input=move |ev| search.set(event_target_value(&ev))
                on:change=move |_| apply_search()/>
            <label>
                {move || t.get().table_filter_active}
                <select on:change=move |ev| {
                    let v = event_target_value(&ev);
                    query.update(|q| { q.active = match v.as_str() { "active" => Some(true), "inactive" => Some(false), _ => None }; q.first_page(); });
                }>
                    <option value="">{move || t.get().table_all}</option>
                    <option value="active">{move || t.get().table_active_only}</option>
                    <option value="inactive">{move || t.get().table_inactive_only}</option>
                </select>
            </label>
            <label>
                {move || t.get().table_filter_type}
                <select on:change=move |ev| {
                    let v = event_target_value(&ev);
                    query.update(|q| { q.mailbox_type = MailboxType::parse(&v).ok(); q.first_page(); });
                }>
                    <option value="">{move || t.get().table_all}</option>
                    <option value="personal">{move || t.get().type_personal}</option>
                    <option value="functional">{move || t.get().type_functional}</option>
                </select>
            </label>
            <label>
                {move || t.get().table_filter_state}
                <select on:change=move |ev| {
                    let v = event_target_value(&ev);
                    query.update(|q| {
                        q.state = match v.as_str() {
                            "confirmed" => Some(StateFilter::Confirmed),
                            "pending" => Some(StateFilter::Pending),
                            "never" => Some(StateFilter::NeverSent),
                            _ => None,
                        };
                        q.first_page();
                    });
                }>
                    <option value="">{move || t.get().table_all}</option>
                    <option value="confirmed">{move || t.get().state_confirmed}</option>
                    <option value="pending">{move || t.get().state_pending}</option>
                    <option value="never">{move || t.get().state_never_sent}</option>
                </select>
            </label>
        </form>
    }
}

/// "rows 51–100 of 1234" with previous/next.
#[component]
fn Pager(
    query: RwSignal<RowQuery>,
    total: u64,
    /// The page shown (as the server found it).
    page: u32,
    /// The ids of the page's first and last rows: the pager steps from them, so the server finds
    /// the next page by a seek instead of counting every earlier row (SPEC P2).
    first: Option<i64>,
    last: Option<i64>,
) -> impl IntoView {
    let t = use_texts();
    let page_size = query.with_untracked(|q| q.page_size);
    let range = move || {
        let first = u64::from(page) * u64::from(page_size);
        let last = (first + u64::from(page_size)).min(total);
        if total == 0 {
            format!("0 {} 0", t.get().rows_of)
        } else {
            format!(
                "{}\u{2013}{} {} {}",
                first + 1,
                last,
                t.get().rows_of,
                total
            )
        }
    };
    let has_next = u64::from(page + 1) * u64::from(page_size) < total;
    let step = move |forward: bool| {
        query.update(|q| {
            if forward {
                q.page = page + 1;
                q.anchor = last.map(Anchor::After);
            } else {
                q.page = page.saturating_sub(1);
                // The first page is the first page: no anchor, so it is complete even if rows were
                // added before the one the NAP saw.
                q.anchor = if q.page == 0 {
                    None
                } else {
                    first.map(Anchor::Before)
                };
            }
        })
    };
    view! {
        <nav class="pager" aria-label="pages">
            <button type="button" disabled=page == 0 on:click=move |_| step(false)>
                {move || t.get().previous}
            </button>
            <span class="range">{range}</span>
            <button type="button" disabled=!has_next on:click=move |_| step(true)>
                {move || t.get().next}
            </button>
        </nav>
    }
}

/// Bulk deactivate / reactivate of the selected rows, after a confirmation; all or nothing.
#[component]
fn BulkBar() -> impl IntoView {
    let t = use_texts();
    let ctx = expect_context::<TableContext>();
    let confirming = RwSignal::new(None::<bool>);
    let revoking = RwSignal::new(false);
    let reason = RwSignal::new(domain::certificate::RevocationReason::AffiliationChanged);
    let count = move || ctx.selected.with(|s| s.len());
    // R15: every valid certificate of the selected (inactive) rows, all or nothing.
    let revoke = move |_| {
        let ids: Vec<i64> = ctx.selected.get_untracked().into_keys().collect();
        let why = reason.get_untracked();
        revoking.set(false);
        spawn_local(async move {
            match revoke_for_rows(ids, why).await {
                Ok(n) => {
                    ctx.selected.set(BTreeMap::new());
                    ctx.sent.set(None);
                    ctx.revoked.set(Some(n));
                    ctx.reload.update(|r| *r += 1);
                }
                Err(e) => ctx.failed(e),
            }
        });
    };
    // R19: deactivating revokes the selection's valid certificates in the same step (default).
    let revoke_too = RwSignal::new(true);
    let run = move |active: bool| {
        let rows: Vec<(i64, i64)> = ctx.selected.get_untracked().into_iter().collect();
        confirming.set(None);
        let revoke = (!active && revoke_too.get_untracked()).then(|| reason.get_untracked());
        spawn_local(async move {
            let done = if active {
                set_active(rows, true).await.map(|_| None)
            } else {
                deactivate_rows(rows, revoke).await.map(|d| Some(d.revoked))
            };
            match done {
                Ok(revoked) => {
                    ctx.selected.set(BTreeMap::new());
                    ctx.selected_certificates.set(BTreeMap::new());
                    ctx.saved();
                    ctx.revoked.set(revoked.filter(|n| *n > 0));
                }
                Err(e) => ctx.failed(e),
            }
        });
    };
    view! {
        <Show when=move || { count() > 0 }>
            <div class="bulk-bar" role="region" aria-label="selection">
                <span>{count}" "{move || t.get().selected_rows}</span>
                <button type="button" on:click=move |_| {
                    let ids: Vec<i64> = ctx.selected.get_untracked().into_keys().collect();
                    spawn_local(async move {
                        match send_challenges(ids).await {
                            Ok(report) => {
                                ctx.selected.set(BTreeMap::new());
                                ctx.saved();
                                ctx.notice.set(None);
                                ctx.sent.set(Some(report));
                            }
                            Err(e) => ctx.failed(e),
                        }
                    });
                }>{move || t.get().send_selected}</button>
                <button type="button" on:click=move |_| confirming.set(Some(false))>{move || t.get().deactivate_selected}</button>
                <button type="button" on:click=move |_| confirming.set(Some(true))>{move || t.get().reactivate_selected}</button>
                <button type="button" class="danger" on:click=move |_| revoking.set(true)>{move || t.get().certs_revoke_selected}</button>
                <button type="button" on:click=move |_| {
                    ctx.selected.set(BTreeMap::new());
                    ctx.selected_certificates.set(BTreeMap::new());
                }>{move || t.get().clear_selection}</button>
                <Show when=move || revoking.get()>
                    <span class="confirm-box inline" role="alertdialog">
                        {move || t.get().certs_confirm_revoke_rows}" "
                        <ReasonSelect reason=reason/>
                        " "
                        <button type="button" class="primary" on:click=revoke>{move || t.get().certs_revoke}</button>
                        <button type="button" on:click=move |_| revoking.set(false)>{move || t.get().cancel}</button>
                    </span>
                </Show>
                {move || confirming.get().map(|active| view! {
                    <span class="confirm-box inline" role="alertdialog">
                        {move || if active { t.get().confirm_reactivate } else { t.get().confirm_deactivate }}
                        " "
                        {(!active).then(|| {
                            let certificates: Vec<_> = ctx.selected_certificates.get_untracked().into_values().flatten().collect();
                            view! { <handover::DeactivateChoice certificates=certificates revoke=revoke_too reason=reason/> }
                        })}
                        <button type="button" class="primary" on:click=move |_| run(active)>{move || t.get().confirm}</button>
                        <button type="button" on:click=move |_| confirming.set(None)>{move || t.get().cancel}</button>
                    </span>
                })}
            </div>
        </Show>
    }
}

/// "Send to all unconfirmed": challenges for every active row with an unconfirmed address, after a
/// confirmation.
#[component]
fn SendAll(domain: Memo<String>) -> impl IntoView {
    let t = use_texts();
    let ctx = expect_context::<TableContext>();
    let asking = RwSignal::new(false);
    let go = move |_| {
        asking.set(false);
        let d = domain.get_untracked();
        spawn_local(async move {
            match send_to_unconfirmed(d).await {
                Ok(report) => {
                    ctx.saved();
                    ctx.notice.set(None);
                    ctx.sent.set(Some(report));
                }
                Err(e) => ctx.failed(e),
            }
        });
    };
    view! {
        <div class="send-all">
            <button type="button" on:click=move |_| asking.set(true)>{move || t.get().send_unconfirmed}</button>
            <Show when=move || asking.get()>
                <span class="confirm-box inline" role="alertdialog">
                    {move || t.get().confirm_send}" "
                    <button type="button" class="primary" on:click=go>{move || t.get().confirm}</button>
                    <button type="button" on:click=move |_| asking.set(false)>{move || t.get().cancel}</button>
                </span>
            </Show>
        </div>
    }
}

/// The add-row form.
#[component]
fn AddRow(domain: Memo<String>) -> impl IntoView {
    let t = use_texts();
    let ctx = expect_context::<TableContext>();
    let state = RowFormState::new(Default::default());
    let errors = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let open = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let Err(e) = check_in_browser(&state, true) {
            errors.set(Some(e));
            return;
        }
        busy.set(true);
        let (d, primary, form) = (
            domain.get_untracked(),
            state.primary.get_untracked(),
            state.form(),
        );
        spawn_local(async move {
            let result = create_row(d, primary, form).await;
            busy.set(false);
            match result {
                Ok(_) => {
                    errors.set(None);
                    state.clear();
                    ctx.notice.set(Some(Ok("added")));
                    ctx.reload.update(|n| *n += 1);
                }
                Err(e) => errors.set(Some(e)),
            }
        });
    };
    view! {
        <details class="add-row" prop:open=open on:toggle=move |_| open.update(|o| *o = !*o)>
            <summary>{move || t.get().add_row_heading}</summary>
            <form class="row-form" on:submit=submit>
                <RowFormFields state=state errors=errors with_primary=true/>
                {move || errors.get().and_then(|e| match e {
                    crate::rows_api::RowSaveError::Other(e) => Some(view! { <ErrorLine error=e/> }),
                    _ => None,
                })}
                <div class="buttons">
                    <button type="submit" class="primary" disabled=move || busy.get()>{move || t.get().add_row_button}</button>
                </div>
            </form>
        </details>
    }
}
