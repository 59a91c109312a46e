//! The operators' part of IdM deprovisioning (SPEC R22): the deprovisionings the circuit breaker
//! held because one sync reported unusually many leavers. Confirming applies each to the rows as
//! they are then; discarding drops it (the sessions ended already). Texts in both languages.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::ErrorLine;
use crate::dates::WallTime;
use crate::deprovision_api::{
    confirm_holds, discard_holds, held_deprovisionings, HeldDeprovisioning, LeaverRowKind,
};
use crate::error::AppError;
use crate::i18n::{CurrentLang, Lang};

struct HoldTexts {
    heading: &'static str,
    intro: &'static str,
    none: &'static str,
    reported: &'static str,
    personal: &'static str,
    functional: &'static str,
    shared: &'static str,
    no_rows: &'static str,
    confirm: &'static str,
    discard: &'static str,
    confirm_all: &'static str,
    discard_all: &'static str,
    confirmed: &'static str,
    discarded: &'static str,
}

const EN: HoldTexts = HoldTexts {
    heading: "Deprovisionings held by the circuit breaker",
    intro: "The IdM reported unusually many people as gone in one sync. Their sessions have \
            ended, but no row was deactivated and no certificate revoked. Check with the IdM's \
            administrators whether the reports are right: confirming applies them to the rows as \
            they are now, discarding drops them.",
    none: "Nothing is held.",
    reported: "reported by",
    personal: "personal row: deactivate, revoke",
    functional: "functional mailbox: drop the link, revoke, ask for a new applicant",
    shared: "shared row: drop the person's links, revoke their certificates",
    no_rows: "no rows (only the sessions, which ended)",
    confirm: "Confirm",
    discard: "Discard",
    confirm_all: "Confirm all",
    discard_all: "Discard all",
    confirmed: "Confirmed:",
    discarded: "Discarded:",
};

const DE: HoldTexts = HoldTexts {
    heading: "Vom Schutzschalter angehaltene Deprovisionierungen",
    intro: "Das IdM hat in einer Synchronisation ungewöhnlich viele Personen als ausgeschieden \
            gemeldet. Ihre Sitzungen sind beendet, aber keine Zeile wurde deaktiviert und kein \
            Zertifikat gesperrt. Klären Sie mit den Administratoren des IdM, ob die Meldungen \
            stimmen: Bestätigen wendet sie auf die Zeilen an, wie sie jetzt sind; Verwerfen \
            verwirft sie.",
    none: "Nichts ist angehalten.",
    reported: "gemeldet von",
    personal: "persönliche Zeile: deaktivieren, sperren",
    functional: "Funktionspostfach: Verknüpfung entfernen, sperren, neue Antragsteller/in erbitten",
    shared: "geteilte Zeile: Verknüpfungen der Person entfernen, ihre Zertifikate sperren",
    no_rows: "keine Zeilen (nur die Sitzungen, die beendet sind)",
    confirm: "Bestätigen",
    discard: "Verwerfen",
    confirm_all: "Alle bestätigen",
    discard_all: "Alle verwerfen",
    confirmed: "Bestätigt:",
    discarded: "Verworfen:",
};

/// What the operator did last.
#[derive(Clone, Copy)]
enum Done {
    Confirmed(usize),
    Discarded(usize),
}

/// R22: the held deprovisionings with confirm and discard, each and all.
#[component]
pub fn DeprovisionHolds() -> impl IntoView {
    let CurrentLang(lang) = expect_context::<CurrentLang>();
    let h = Signal::derive(move || match lang.get() {
        Lang::En => &EN,
        Lang::De => &DE,
    });
    let reload = RwSignal::new(0u32);
    let holds = Resource::new(move || reload.get(), |_| held_deprovisionings());
    let error = RwSignal::new(None::<AppError>);
    let done = RwSignal::new(None::<Done>);
    let decide = move |ids: Vec<i64>, confirm: bool| {
        spawn_local(async move {
            let result = if confirm {
                confirm_holds(ids).await.map(Done::Confirmed)
            } else {
                discard_holds(ids).await.map(Done::Discarded)
            };
            match result {
                Ok(d) => {
                    error.set(None);
                    done.set(Some(d));
                }
                Err(e) => error.set(Some(e)),
            }
            reload.update(|r| *r += 1);
        });
    };
    view! {
        <section class="deprovision-holds" aria-labelledby="deprovision-holds-heading">
            <h2 id="deprovision-holds-heading">{move || h.get().heading}</h2>
            <Transition fallback=|| ()>
                {move || holds.get().map(|result| match result {
                    Err(e) => view! { <ErrorLine error=e/> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <p class="muted">{move || h.get().none}</p>
                    }.into_any(),
                    Ok(list) => {
                        let all: Vec<i64> = list.items.iter().map(|(d, _)| d.id).collect();
                        let zone = list.zone;
                        let all_discard = all.clone();
                        view! {
                            <p class="muted">{move || h.get().intro}</p>
                            <ul>
                                {list.items.into_iter().map(|(d, at)| held(d, at, &zone, h, decide)).collect_view()}
                            </ul>
                            <p class="actions">
                                <button type="button" class="danger" on:click=move |_| decide(all.clone(), true)>{move || h.get().confirm_all}</button>
                                " "
                                <button type="button" on:click=move |_| decide(all_discard.clone(), false)>{move || h.get().discard_all}</button>
                            </p>
                        }.into_any()
                    }
                })}
            </Transition>
            {move || done.get().map(|d| match d {
                Done::Confirmed(n) => view! { <p class="ok" role="status">{move || h.get().confirmed}" "{n}</p> },
                Done::Discarded(n) => view! { <p class="ok" role="status">{move || h.get().discarded}" "{n}</p> },
            })}
            {move || error.get().map(|e| view! { <ErrorLine error=e/> })}
        </section>
    }
}

/// One held deprovisioning; `at` is when it was reported, on the clock of `zone` (named after it).
fn held(
    d: HeldDeprovisioning,
    at: WallTime,
    zone: &str,
    h: Signal<&'static HoldTexts>,
    decide: impl Fn(Vec<i64>, bool) + Copy + 'static,
) -> impl IntoView {
    let id = d.id;
    let lang = crate::i18n::use_lang();
    let rows = if d.rows.is_empty() {
        view! { <li class="muted">{move || h.get().no_rows}</li> }.into_any()
    } else {
        d.rows
            .into_iter()
            .map(|r| {
                let kind = r.kind;
                view! {
                    <li>
                        <span class="mono">{r.primary}</span>" ("{r.domain}"): "
                        {move || match kind {
                            LeaverRowKind::Personal => h.get().personal,
                            LeaverRowKind::Functional => h.get().functional,
                            LeaverRowKind::Shared => h.get().shared,
                        }}
                    </li>
                }
            })
            .collect_view()
            .into_any()
    };
    view! {
        <li class="held-deprovisioning" data-user=d.user_id.clone()>
            <strong>{d.user_name}</strong>" (" <span class="mono">{d.user_id.clone()}</span> "), "
            {move || at.date_time(lang.get())}" "<span class="zone">{zone.to_owned()}</span>", "{move || h.get().reported}" "<span class="mono">{d.actor}</span>
            <ul>{rows}</ul>
            <button type="button" class="danger" on:click=move |_| decide(vec![id], true)>{move || h.get().confirm}</button>
            " "
            <button type="button" on:click=move |_| decide(vec![id], false)>{move || h.get().discard}</button>
        </li>
    }
}
