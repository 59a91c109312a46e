//! The handover of an address in the table (SPEC §6a): who may request now (R17), the leaver's one
//! step and the worklist with the S/MIME BR deadline (R19), and their texts in both languages.

use domain::certificate::RevocationReason;
use domain::handover::{AddressLink, HeldCertificate, LeaverItem, Urgency, ValidationEvidence};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::certs_api::revoke_for_rows;
use crate::components::ErrorLine;
use crate::dates::{Clock, WallTime};
use crate::handover_api::leaver_worklist;
use crate::i18n::{CurrentLang, Lang};
use crate::pages::certificates::ReasonSelect;

use super::TableContext;

/// The handover's texts; a text missing in one language is a compile error.
#[allow(missing_docs)] // each field is named for what it says
pub struct HandoverTexts {
    pub linked_to: &'static str,
    pub link_suspended: &'static str,
    pub link_suspended_hint: &'static str,
    pub valid_certificate: &'static str,
    pub until: &'static str,
    pub expiring_soon: &'static str,
    pub deactivate_lists: &'static str,
    pub deactivate_no_certificates: &'static str,
    pub revoke_with_deactivation: &'static str,
    pub revoke_later_hint: &'static str,
    pub reactivate_only: &'static str,
    pub reactivate_and_send: &'static str,
    pub reactivate_hint: &'static str,
    pub different_person: &'static str,
    pub different_person_hint: &'static str,
    pub worklist_heading: &'static str,
    pub worklist_intro: &'static str,
    pub worklist_deactivated: &'static str,
    pub worklist_deadline: &'static str,
    pub worklist_overdue: &'static str,
    pub worklist_less_than_a_day: &'static str,
    pub worklist_revoke_now: &'static str,
    pub evidence_heading: &'static str,
    pub evidence_challenge: &'static str,
    pub evidence_sent_to: &'static str,
    pub evidence_confirmed: &'static str,
    pub evidence_from: &'static str,
    pub evidence_none: &'static str,
}

static EN: HandoverTexts = HandoverTexts {
    linked_to: "linked to",
    link_suspended: "suspended",
    link_suspended_hint: "A new challenge was sent after this link was made: it allows no certificate request until the new challenge is confirmed.",
    valid_certificate: "Valid certificate:",
    until: "until",
    expiring_soon: "expiring soon",
    deactivate_lists: "Valid certificates:",
    deactivate_no_certificates: "No valid certificates.",
    revoke_with_deactivation: "Revoke them now, in the same step (the holder and you get a mail)",
    revoke_later_hint: "If you do not revoke now, the rows go on the worklist: the S/MIME Baseline Requirements allow 5 days.",
    reactivate_only: "Reactivate only",
    reactivate_and_send: "Reactivate and send new challenges",
    reactivate_hint: "Sending new challenges suspends the existing links until someone confirms: use it when the mailbox may have changed hands.",
    different_person: "A different person takes over this mailbox: drop the links",
    different_person_hint: "Nobody can request a certificate for its addresses until a new challenge is confirmed.",
    worklist_heading: "Worklist: deactivated rows with valid certificates",
    worklist_intro: "Revoke these certificates: the S/MIME Baseline Requirements allow 5 days from deactivation.",
    worklist_deactivated: "deactivated",
    worklist_deadline: "revoke by",
    worklist_overdue: "overdue",
    worklist_less_than_a_day: "less than a day left",
    worklist_revoke_now: "Revoke now",
    evidence_heading: "Validation evidence",
    evidence_challenge: "challenge",
    evidence_sent_to: "sent to",
    evidence_confirmed: "confirmed",
    evidence_from: "from",
    evidence_none: "No validation evidence was recorded for this certificate.",
};

static DE: HandoverTexts = HandoverTexts {
    linked_to: "verknüpft mit",
    link_suspended: "ausgesetzt",
    link_suspended_hint: "Nach dieser Verknüpfung wurde eine neue Challenge gesendet: bis sie bestätigt ist, erlaubt die Verknüpfung keinen Zertifikatsantrag.",
    valid_certificate: "Gültiges Zertifikat:",
    until: "bis",
    expiring_soon: "läuft bald ab",
    deactivate_lists: "Gültige Zertifikate:",
    deactivate_no_certificates: "Keine gültigen Zertifikate.",
    revoke_with_deactivation: "Jetzt im selben Schritt sperren (Inhaber und Sie erhalten eine Mail)",
    revoke_later_hint: "Ohne Sperrung kommen die Zeilen auf die Arbeitsliste: die S/MIME Baseline Requirements lassen 5 Tage Zeit.",
    reactivate_only: "Nur reaktivieren",
    reactivate_and_send: "Reaktivieren und neue Challenges senden",
    reactivate_hint: "Neue Challenges setzen die bestehenden Verknüpfungen aus, bis jemand bestätigt: wählen Sie das, wenn das Postfach den Besitzer gewechselt haben kann.",
    different_person: "Eine andere Person übernimmt dieses Postfach: Verknüpfungen entfernen",
    different_person_hint: "Niemand kann Zertifikate für die Adressen beantragen, bis eine neue Challenge bestätigt ist.",
    worklist_heading: "Arbeitsliste: deaktivierte Zeilen mit gültigen Zertifikaten",
    worklist_intro: "Sperren Sie diese Zertifikate: die S/MIME Baseline Requirements lassen ab der Deaktivierung 5 Tage Zeit.",
    worklist_deactivated: "deaktiviert",
    worklist_deadline: "sperren bis",
    worklist_overdue: "überfällig",
    worklist_less_than_a_day: "weniger als ein Tag übrig",
    worklist_revoke_now: "Jetzt sperren",
    evidence_heading: "Validierungsnachweis",
    evidence_challenge: "Challenge",
    evidence_sent_to: "gesendet an",
    evidence_confirmed: "bestätigt",
    evidence_from: "von",
    evidence_none: "Für dieses Zertifikat wurde kein Validierungsnachweis aufgezeichnet.",
};

/// The handover texts of the current language, reactive.
pub fn use_handover_texts() -> Signal<&'static HandoverTexts> {
    let CurrentLang(lang) = expect_context::<CurrentLang>();
    Signal::derive(move || match lang.get() {
        Lang::En => &EN,
        Lang::De => &DE,
    })
}

/// R17, R18: "linked to anna (Anna Schmidt)", marked when a newer round suspends the link.
#[component]
pub fn LinkBadge(link: AddressLink) -> impl IntoView {
    let h = use_handover_texts();
    let suspended = link.suspended;
    view! {
        <span class="badge link" class:suspended=suspended data-user=link.user_id.clone()
            title=move || if suspended { h.get().link_suspended_hint } else { "" }>
            {move || h.get().linked_to}" "{link.user_id.clone()}" ("{link.user_name.clone()}")"
            {suspended.then(|| view! { ", " {move || h.get().link_suspended} })}
        </span>
    }
}

/// R17: a row's valid certificates: holder and expiry (the day on the viewer's clock, R16),
/// "expiring soon" marked.
#[component]
pub fn HeldCertificates(certificates: Vec<(HeldCertificate, WallTime)>) -> impl IntoView {
    let h = use_handover_texts();
    let lang = crate::i18n::use_lang();
    (!certificates.is_empty()).then(|| {
        view! {
            <ul class="held-certificates">
                {certificates.into_iter().map(|(c, until)| view! {
                    <li class="held" class:expiring=c.expiring_soon data-serial=c.serial.clone()>
                        {move || h.get().valid_certificate}" "{c.user_id.clone()}" ("{c.user_name.clone()}"), "
                        {move || h.get().until}" "{move || until.date(lang.get())}
                        {c.expiring_soon.then(|| view! { " " <span class="badge expiring">{move || h.get().expiring_soon}</span> })}
                    </li>
                }).collect_view()}
            </ul>
        }
    })
}

/// R19: what deactivating means for the rows' certificates, and the choice to revoke them in the
/// same step (checked by default) with a reason (affiliation changed by default).
#[component]
pub fn DeactivateChoice(
    certificates: Vec<(HeldCertificate, WallTime)>,
    revoke: RwSignal<bool>,
    reason: RwSignal<RevocationReason>,
) -> impl IntoView {
    let h = use_handover_texts();
    let none = certificates.is_empty();
    view! {
        <div class="deactivate-choice">
            {if none {
                view! { <p class="muted">{move || h.get().deactivate_no_certificates}</p> }.into_any()
            } else {
                view! {
                    <p>{move || h.get().deactivate_lists}</p>
                    <HeldCertificates certificates=certificates/>
                    <label class="check">
                        <input type="checkbox" name="revoke" prop:checked=move || revoke.get()
                            on:change=move |ev| revoke.set(event_target_checked(&ev))/>
                        " "{move || h.get().revoke_with_deactivation}
                    </label>
                    <Show when=move || revoke.get() fallback=move || view! { <p class="muted">{move || h.get().revoke_later_hint}</p> }>
                        <ReasonSelect reason=reason/>
                    </Show>
                }.into_any()
            }}
        </div>
    }
}

/// R19: the domain's deactivated rows that still have valid certificates, with the time left until
/// the S/MIME BR deadline; less than a day left and overdue are marked. Hidden when empty.
#[component]
pub fn Worklist(domain: Memo<String>) -> impl IntoView {
    let h = use_handover_texts();
    let ctx = expect_context::<TableContext>();
    let items = Resource::new(
        move || (domain.get(), ctx.reload.get()),
        |(domain, _)| leaver_worklist(domain),
    );
    let revoke_now = move |row_id: i64| {
        spawn_local(async move {
            match revoke_for_rows(vec![row_id], RevocationReason::AffiliationChanged).await {
                Ok(n) => {
                    ctx.revoked.set(Some(n));
                    ctx.reload.update(|r| *r += 1);
                }
                Err(e) => ctx.failed(e),
            }
        });
    };
    view! {
        <Transition fallback=|| ()>
            {move || items.get().map(|result| match result {
                Err(e) => view! { <ErrorLine error=e/> }.into_any(),
                Ok(list) if list.items.is_empty() => ().into_any(),
                Ok(list) => {
                    let clock = list.clock;
                    view! {
                        <section class="worklist" aria-labelledby="worklist-heading">
                            <h2 id="worklist-heading">{move || h.get().worklist_heading}</h2>
                            <p class="muted">{move || h.get().worklist_intro}</p>
                            <ul>
                                {list.items.into_iter().map(|item| worklist_item(item, &clock, revoke_now)).collect_view()}
                            </ul>
                        </section>
                    }.into_any()
                }
            })}
        </Transition>
    }
}

/// One leaver; its times on `clock`, the zone named after them (R16).
fn worklist_item(
    item: LeaverItem,
    clock: &Clock,
    revoke_now: impl Fn(i64) + Copy + 'static,
) -> impl IntoView {
    let h = use_handover_texts();
    let lang = crate::i18n::use_lang();
    let (deactivated, deadline) = (clock.wall(item.deactivated_at), clock.wall(item.deadline));
    let zone = clock.zone.clone();
    let held = super::context::with_ends(&item.certificates, clock);
    let row_id = item.row_id;
    let class = match item.urgency {
        Urgency::Overdue => "leaver overdue",
        Urgency::Urgent => "leaver urgent",
        Urgency::Due => "leaver",
    };
    let urgency = item.urgency;
    view! {
        <li class=class data-primary=item.primary.clone()>
            <span class="mono">{item.primary.clone()}</span>" "{item.name.clone()}
            " — "{move || h.get().worklist_deactivated}" "{move || deactivated.date_time(lang.get())}
            ", "{move || h.get().worklist_deadline}" "<strong>{move || deadline.date_time(lang.get())}</strong>" "<span class="zone">{zone}</span>
            {match urgency {
                Urgency::Overdue => Some(view! { " " <span class="badge overdue">{move || h.get().worklist_overdue}</span> }.into_any()),
                Urgency::Urgent => Some(view! { " " <span class="badge urgent">{move || h.get().worklist_less_than_a_day}</span> }.into_any()),
                Urgency::Due => None,
            }}
            <HeldCertificates certificates=held/>
            <button type="button" class="danger" on:click=move |_| revoke_now(row_id)>{move || h.get().worklist_revoke_now}</button>
        </li>
    }
}

/// R20: the confirmation behind each address of a certificate, for its NAPs: which challenge, sent
/// to whom and when, confirmed by whom, when and from where. Each comes with when it was sent and
/// confirmed as the viewer's clock shows it (R16; the list's table names the zone).
#[component]
pub fn EvidenceList(evidence: Vec<(ValidationEvidence, WallTime, WallTime)>) -> impl IntoView {
    let h = use_handover_texts();
    let lang = crate::i18n::use_lang();
    view! {
        <details class="evidence">
            <summary>{move || h.get().evidence_heading}</summary>
            {if evidence.is_empty() {
                view! { <p class="muted">{move || h.get().evidence_none}</p> }.into_any()
            } else {
                view! {
                    <ul>
                        {evidence.into_iter().map(|(e, sent, confirmed)| view! {
                            <li data-address=e.address.clone()>
                                <span class="mono">{e.address.clone()}</span>": "
                                {move || h.get().evidence_challenge}" #"{e.challenge_id}", "
                                {move || h.get().evidence_sent_to}" "<span class="mono">{e.recipient.clone()}</span>" "{move || sent.date_time(lang.get())}"; "
                                {move || h.get().evidence_confirmed}" "{move || confirmed.date_time(lang.get())}" "{e.confirmed_by.clone()}
                                {e.ip.clone().map(|ip| view! { ", "{move || h.get().evidence_from}" "<span class="mono">{ip}</span> })}
                                {e.user_agent.clone().map(|ua| view! { " " <span class="muted ua">"("{ua}")"</span> })}
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </details>
    }
}
