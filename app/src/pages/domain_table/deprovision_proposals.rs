//! The worklist's IdM proposals (SPEC R22, R19): in a domain set to "propose", "the IdM says X
//! left" with a one-click accept that is the one-step leaver (deactivate and revoke), or dismiss.
//! Texts in both languages.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::ErrorLine;
use crate::dates::WallTime;
use crate::deprovision_api::{
    accept_proposal, deprovision_proposals, dismiss_proposal, DeprovisionProposal,
};
use crate::i18n::{CurrentLang, Lang};

use super::TableContext;

struct ProposalTexts {
    heading: &'static str,
    intro: &'static str,
    reports: &'static str,
    left: &'static str,
    certificates: &'static str,
    accept: &'static str,
    dismiss: &'static str,
}

const EN: ProposalTexts = ProposalTexts {
    heading: "Worklist: people the IdM reports as gone",
    intro: "Accepting deactivates the row and revokes the person's valid certificates in one step \
            (reason: affiliation changed); the S/MIME Baseline Requirements allow 5 days. Dismiss \
            it if the person stays.",
    reports: "The IdM reports that",
    left: "left",
    certificates: "valid certificate(s)",
    accept: "Accept: deactivate and revoke",
    dismiss: "Dismiss",
};

const DE: ProposalTexts = ProposalTexts {
    heading: "Arbeitsliste: Personen, die das IdM als ausgeschieden meldet",
    intro:
        "Annehmen deaktiviert die Zeile und sperrt die gültigen Zertifikate der Person in einem \
            Schritt (Grund: Zugehörigkeit geändert); die S/MIME Baseline Requirements erlauben 5 \
            Tage. Verwerfen Sie den Vorschlag, wenn die Person bleibt.",
    reports: "Das IdM meldet, dass",
    left: "ausgeschieden ist",
    certificates: "gültige(s) Zertifikat(e)",
    accept: "Annehmen: deaktivieren und sperren",
    dismiss: "Verwerfen",
};

fn texts(lang: Lang) -> &'static ProposalTexts {
    match lang {
        Lang::En => &EN,
        Lang::De => &DE,
    }
}

/// R22: the open proposals of the domain, above the table; nothing when there are none.
#[component]
pub fn DeprovisionProposals(domain: Memo<String>) -> impl IntoView {
    let CurrentLang(lang) = expect_context::<CurrentLang>();
    let p = Signal::derive(move || texts(lang.get()));
    let ctx = expect_context::<TableContext>();
    let items = Resource::new(
        move || (domain.get(), ctx.reload.get()),
        |(domain, _)| deprovision_proposals(domain),
    );
    let accept = move |id: i64| {
        spawn_local(async move {
            match accept_proposal(id).await {
                Ok(n) => {
                    ctx.revoked.set(Some(n));
                    ctx.reload.update(|r| *r += 1);
                }
                Err(e) => ctx.failed(e),
            }
        });
    };
    let dismiss = move |id: i64| {
        spawn_local(async move {
            match dismiss_proposal(id).await {
                Ok(()) => ctx.reload.update(|r| *r += 1),
                Err(e) => ctx.failed(e),
            }
        });
    };
    view! {
        <Transition fallback=|| ()>
            {move || items.get().map(|result| match result {
                Err(e) => view! { <ErrorLine error=e/> }.into_any(),
                Ok(list) if list.is_empty() => ().into_any(),
                Ok(list) => {
                    let zone = list.zone;
                    view! {
                        <section class="worklist idm-proposals" aria-labelledby="idm-proposals-heading">
                            <h2 id="idm-proposals-heading">{move || p.get().heading}</h2>
                            <p class="muted">{move || p.get().intro}</p>
                            <ul>
                                {list.items.into_iter().map(|(item, at)| proposal(item, at, &zone, p, accept, dismiss)).collect_view()}
                            </ul>
                        </section>
                    }.into_any()
                }
            })}
        </Transition>
    }
}

/// One proposal; `at` is when it was reported, on the clock of `zone` (named after it).
fn proposal(
    item: DeprovisionProposal,
    at: WallTime,
    zone: &str,
    p: Signal<&'static ProposalTexts>,
    accept: impl Fn(i64) + Copy + 'static,
    dismiss: impl Fn(i64) + Copy + 'static,
) -> impl IntoView {
    let id = item.id;
    let lang = crate::i18n::use_lang();
    view! {
        <li class="leaver idm-proposal" data-primary=item.primary.clone()>
            <span class="mono">{item.primary.clone()}</span>" "{item.name.clone()}
            " — "{move || p.get().reports}" "<strong>{item.user_name.clone()}</strong>
            " ("<span class="mono">{item.user_id.clone()}</span>") "{move || p.get().left}
            " ("{move || at.date_time(lang.get())}" "<span class="zone">{zone.to_owned()}</span>", "<span class="mono">{item.reported_by.clone()}</span>")"
            "; "{item.certificates}" "{move || p.get().certificates}" "
            <button type="button" class="danger" on:click=move |_| accept(id)>{move || p.get().accept}</button>
            " "
            <button type="button" on:click=move |_| dismiss(id)>{move || p.get().dismiss}</button>
        </li>
    }
}
