//! A domain's audit trail (R16) for its NAPs: filter by row, actor, kind and time; export as CSV.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use crate::audit_changes::Change;
use crate::audit_words as words;
use crate::components::{encode_component, ErrorLine, RequireLogin};
use crate::dates::WallTime;
use crate::error::AppError;
use crate::i18n::{use_texts, CurrentLang};

/// Which records to show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    /// An address of the row the records are about.
    pub row: String,
    /// User ID of who did it.
    pub actor: String,
    /// Kind as stored (`row_edited`, `challenge_sent`, …; the page picks it by name); empty for all.
    pub kind: String,
    /// From this day on (`YYYY-MM-DD`, a day of the viewer's time zone).
    pub from: String,
    /// Up to and including this day (`YYYY-MM-DD`, a day of the viewer's time zone).
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

/// One record as shown: when in the viewer's zone, what in the UI's words, and its before/after
/// as field changes (the stored JSON stays in the CSV export).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditItem {
    /// When, on the viewer's clock.
    pub at: WallTime,
    /// Who (user ID, or `cli:<verb>` / `system`).
    pub actor: String,
    /// What (the stored kind; `audit_words::event_name` names it).
    pub kind: String,
    /// About which address, serial or account.
    pub subject: Option<String>,
    /// The fields it changed, or recorded.
    pub changes: Vec<Change>,
}

/// A page of records and the time zone their times are in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditList {
    /// The IANA name of the zone (`Europe/Berlin`), shown in the "When" heading.
    pub zone: String,
    /// The records, newest first.
    pub items: Vec<AuditItem>,
}

/// The newest records of a domain matching `query` (NAPs of the domain and operators), with times
/// in the viewer's zone (the `tz` cookie, see `time_zone`).
#[server(endpoint = "audit/list", input = Json)]
pub async fn list_audit(domain: String, query: AuditQuery) -> Result<AuditList, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    let zone = crate::time_zone::ViewerZone::of_request();
    let filter = filter::to_filter(&query, 500, &zone)?;
    let entries = backend::rows::list_audit(&portal.pool, &viewer, &domain, &filter)
        .await
        .map_err(crate::on_server::service_error)?;
    let wall = |secs| zone.wall(secs);
    let items = entries
        .into_iter()
        .map(|e| AuditItem {
            at: zone.wall(e.at),
            changes: crate::audit_changes::read_changes(
                e.subject.as_deref(),
                e.before.as_deref(),
                e.after.as_deref(),
                &wall,
            ),
            actor: e.actor,
            kind: e.kind,
            subject: e.subject,
        })
        .collect();
    Ok(AuditList {
        zone: zone.name().to_owned(),
        items,
    })
}

/// `/domains/:domain/audit`
#[component]
pub fn AuditPage() -> impl IntoView {
    let t = use_texts();
    let CurrentLang(lang) = expect_context::<CurrentLang>();
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
    // The kinds by their names; the value sent is the stored kind, as before.
    let kind_filter = move || {
        view! {
            <label>
                {move || t.get().audit_kind}
                <select prop:value=move || draft.with(|q| q.kind.clone())
                    on:change=move |ev| { let v = event_target_value(&ev); draft.update(|q| q.kind = v); }>
                    <option value="">{move || words::pick(lang.get(), words::ALL_KINDS)}</option>
                    {words::KNOWN_KINDS.map(|k| view! {
                        <option value=k>{move || words::event_name(lang.get(), k)}</option>
                    }).collect_view()}
                </select>
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
                    {kind_filter()}
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
                        Ok(list) if list.items.is_empty() => view! { <p class="notice">{move || t.get().audit_empty}</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="data audit-records">
                                <thead><tr>
                                    <th class="when">{move || t.get().audit_when}" "<span class="zone">"("{list.zone}")"</span></th>
                                    <th class="who">{move || t.get().audit_actor}</th>
                                    <th class="what">{move || t.get().audit_kind}</th>
                                    <th class="about">{move || t.get().audit_subject}</th>
                                    <th>{move || words::pick(lang.get(), words::CHANGES)}</th>
                                </tr></thead>
                                <tbody>
                                    {list.items.into_iter().map(|e| view! { <AuditLine item=e/> }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    })}
                </Transition>
            </section>
        </RequireLogin>
    }
}

/// One record: time, actor, event and subject, and its changes one per line.
#[component]
fn AuditLine(item: AuditItem) -> impl IntoView {
    let CurrentLang(lang) = expect_context::<CurrentLang>();
    let AuditItem {
        at,
        actor,
        kind,
        subject,
        changes,
    } = item;
    view! {
        <tr data-kind=kind.clone()>
            <td class="when">{move || at.date_time(lang.get())}</td>
            // An API token's actor reads as the token and its creator; the stored text (what the
            // "Who" filter takes) is the tooltip.
            <td class="mono" title=actor.clone()>{
                let actor = actor.clone();
                move || words::actor_text(lang.get(), &actor)
            }</td>
            <td class="what">{
                let kind = kind.clone();
                move || words::event_name(lang.get(), &kind)
            }</td>
            <td class="mono">{subject.unwrap_or_default()}</td>
            <td>
                <ul class="changes">
                    {changes.into_iter().map(|c| {
                        let field = c.field.clone();
                        view! {
                            <li>
                                <span class="field">{move || words::field_name(lang.get(), &field)}": "</span>
                                {move || words::change_text(lang.get(), &c)}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </td>
        </tr>
    }
}

#[cfg(feature = "ssr")]
pub mod filter {
    //! The audit page's filter for the service.

    use backend::rows::AuditFilter;
    use backend::storage::audit::AuditKind;

    use super::AuditQuery;
    use crate::error::AppError;
    use crate::on_server::with_status;
    use crate::time_zone::ViewerZone;

    /// Unix seconds of the start of a `YYYY-MM-DD` day (UTC).
    fn day_start(text: &str) -> Result<i64, AppError> {
        let bad = || {
            with_status(AppError::Invalid(format!(
                "{text:?} is not a date (YYYY-MM-DD)"
            )))
        };
        let mut parts = text.split('-').map(|p| p.parse::<i64>());
        let (Some(Ok(y)), Some(Ok(m)), Some(Ok(d)), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return Err(bad());
        }
        // days-from-civil (H. Hinnant)
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Ok((era * 146_097 + doe - 719_468) * 86_400)
    }

    /// The service's filter from the page's query; at most `limit` records. The days are days of
    /// `zone`, the zone the page shows times in.
    pub fn to_filter(
        q: &AuditQuery,
        limit: u32,
        zone: &ViewerZone,
    ) -> Result<AuditFilter, AppError> {
        let some = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        let kind = match some(&q.kind) {
            None => None,
            Some(k) => Some(
                AuditKind::ALL
                    .into_iter()
                    .find(|a| a.as_str() == k)
                    .ok_or_else(|| {
                        with_status(AppError::Invalid(format!(
                            "{k:?} is not a kind of audit record; known kinds: {}",
                            AuditKind::ALL.map(|a| a.as_str()).join(", ")
                        )))
                    })?,
            ),
        };
        Ok(AuditFilter {
            row: some(&q.row),
            actor: some(&q.actor),
            kind,
            from: some(&q.from)
                .map(|d| day_start(&d).map(|s| zone.as_local(s)))
                .transpose()?,
            to: some(&q.to)
                .map(|d| day_start(&d).map(|s| zone.as_local(s + 86_399)))
                .transpose()?,
            before_id: None,
            limit,
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn days_are_read_as_utc() {
            assert_eq!(day_start("1970-01-01").unwrap(), 0);
            assert_eq!(day_start("2025-06-15").unwrap(), 1_749_945_600);
            assert!(day_start("2025-13-01").is_err());
            assert!(day_start("yesterday").is_err());
        }
    }
}
