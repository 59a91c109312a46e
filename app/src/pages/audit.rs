//! A domain's audit trail (R16) for its NAPs: filter by row, actor, kind and time; export as CSV.

use domain::time::utc_date_time;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use crate::components::{encode_component, ErrorLine, RequireLogin};
use crate::error::AppError;
use crate::i18n::use_texts;

/// Which records to show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    /// An address of the row the records are about.
    pub row: String,
    /// User ID of who did it.
    pub actor: String,
    /// Kind (`row_edited`, `challenge_sent`, …); empty for all.
    pub kind: String,
    /// From this day on (`YYYY-MM-DD`, UTC).
    pub from: String,
    /// Up to and including this day (`YYYY-MM-DD`, UTC).
    pub to: String,
}

impl AuditQuery {
    /// As a query string, for the CSV download link.
    pub fn to_query_string(&self) -> String {
        [
            ("row", &self.row),
            ("actor", &self.actor),
            ("kind", &self.kind),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode_component(v)))
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// One record as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditItem {
    /// When (Unix seconds).
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub kind: String,
    /// About which address, serial or account.
    pub subject: Option<String>,
    /// State before (JSON).
    pub before: Option<String>,
    /// State after (JSON).
    pub after: Option<String>,
}

/// The newest records of a domain matching `query` (NAPs of the domain and operators).
#[server(endpoint = "audit/list", input = Json)]
pub async fn list_audit(domain: String, query: AuditQuery) -> Result<Vec<AuditItem>, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    let filter = crate::on_server::audit::to_filter(&query, 500)?;
    let entries = backend::rows::list_audit(&portal.pool, &viewer, &domain, &filter)
        .await
        .map_err(crate::on_server::rows::row_error)?;
    Ok(entries
        .into_iter()
        .map(|e| AuditItem {
            at: e.at,
            actor: e.actor,
            kind: e.kind,
            subject: e.subject,
            before: e.before,
            after: e.after,
        })
        .collect())
}

/// `/domains/:domain/audit`
#[component]
pub fn AuditPage() -> impl IntoView {
    let t = use_texts();
    let params = use_params_map();
    let domain = Memo::new(move |_| params.read().get("domain").unwrap_or_default());
    let draft = RwSignal::new(AuditQuery::default());
    let query = RwSignal::new(AuditQuery::default());
    let records = Resource::new(
        move || (domain.get(), query.get()),
        |(d, q)| list_audit(d, q),
    );
    let field = move |label: fn(&crate::i18n::Texts) -> &'static str,
                      get: fn(&AuditQuery) -> String,
                      set: fn(&mut AuditQuery, String),
                      kind: &'static str| {
        view! {
            <label>
                {move || label(t.get())}
                <input type=kind prop:value=move || draft.with(get)
                    on:input=move |ev| { let v = event_target_value(&ev); draft.update(|q| set(q, v)); }/>
            </label>
        }
    };
    view! {
        <RequireLogin>
            <section class="audit">
                <div class="title-line">
                    <h1>{move || t.get().audit_heading}": "<span class="mono">{move || domain.get()}</span></h1>
                    <a href=move || format!("/domains/{}", domain.get())>{move || t.get().back_to_table}</a>
                </div>
                <form class="toolbar" on:submit=move |ev| { ev.prevent_default(); query.set(draft.get_untracked()); }>
                    {field(|t| t.audit_row, |q| q.row.clone(), |q, v| q.row = v, "text")}
                    {field(|t| t.audit_actor, |q| q.actor.clone(), |q, v| q.actor = v, "text")}
                    {field(|t| t.audit_kind, |q| q.kind.clone(), |q, v| q.kind = v, "text")}
                    {field(|t| t.audit_from, |q| q.from.clone(), |q, v| q.from = v, "date")}
                    {field(|t| t.audit_to, |q| q.to.clone(), |q, v| q.to = v, "date")}
                    <button type="submit">{move || t.get().audit_filter}</button>
                    <a rel="external" download
                        href=move || format!("/domains/{}/audit.csv?{}", domain.get(), query.with(|q| q.to_query_string()))>
                        {move || t.get().audit_export}
                    </a>
                </form>
                <Transition fallback=|| ()>
                    {move || records.get().map(|r| match r {
                        Err(e) => view! { <ErrorLine error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="notice">{move || t.get().audit_empty}</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="data audit-records">
                                <thead><tr>
                                    <th>{move || t.get().audit_when}</th>
                                    <th>{move || t.get().audit_actor}</th>
                                    <th>{move || t.get().audit_kind}</th>
                                    <th>{move || t.get().audit_subject}</th>
                                    <th>{move || t.get().audit_before}</th>
                                    <th>{move || t.get().audit_after}</th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|e| view! {
                                        <tr>
                                            <td class="nowrap">{utc_date_time(e.at)}</td>
                                            <td class="mono">{e.actor}</td>
                                            <td>{e.kind}</td>
                                            <td class="mono">{e.subject.unwrap_or_default()}</td>
                                            <td class="json">{e.before.unwrap_or_default()}</td>
                                            <td class="json">{e.after.unwrap_or_default()}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    })}
                </Transition>
            </section>
        </RequireLogin>
    }
}
