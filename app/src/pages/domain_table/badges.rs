//! The challenge/link state of an address, as a small badge.

use leptos::prelude::*;

use crate::i18n::{use_lang, use_texts};
use crate::rows_api::{AddressState, AddressStatus, MailDelivery};

use super::handover::LinkBadge;

/// A badge like "confirmed by anna (Anna Schmidt), 7 Dec 2026, 14:05 Europe/Berlin" or "pending
/// since …": the time on the viewer's clock, its zone named (R16).
#[component]
pub fn StateBadge(address: AddressStatus) -> impl IntoView {
    let t = use_texts();
    let lang = use_lang();
    let (class, who, at) = match &address.state {
        AddressState::NeverSent => ("badge never", None, None),
        AddressState::Pending { since } => ("badge pending", None, Some(*since)),
        AddressState::Confirmed {
            user_id,
            user_name,
            at,
        } => (
            "badge confirmed",
            Some(format!("{user_id} ({user_name}), ")),
            Some(*at),
        ),
        AddressState::Superseded { at } => ("badge superseded", None, Some(*at)),
        AddressState::Expired { at } => ("badge expired", None, Some(*at)),
    };
    let text = at.map(|at| {
        let (wall, zone) = super::context::on_clock(|clock| (clock.wall(at), clock.zone.clone()));
        let who = who.unwrap_or_default();
        move || format!("{who}{} {zone}", wall.date_time(lang.get()))
    });
    let state = address.state.clone();
    let label = move || {
        let t = t.get();
        match state {
            AddressState::NeverSent => t.state_never_sent,
            AddressState::Pending { .. } => t.state_pending_since,
            AddressState::Confirmed { .. } => t.state_confirmed_by,
            AddressState::Superseded { .. } => t.state_superseded,
            AddressState::Expired { .. } => t.state_expired,
        }
    };
    // The mail matters while the challenge waits: was it delivered, or did it fail and why?
    let pending = matches!(address.state, AddressState::Pending { .. });
    let delivery = address.delivery.clone().filter(|_| pending).map(|d| {
        let (class, detail) = match &d {
            MailDelivery::Queued { last_error: err } => ("badge mail queued", err.clone()),
            MailDelivery::Sent => ("badge mail sent", None),
            MailDelivery::Failed { reason } => ("badge mail failed", Some(reason.clone())),
        };
        let label = move || match d {
            MailDelivery::Queued { .. } => t.get().delivery_queued,
            MailDelivery::Sent => t.get().delivery_sent,
            MailDelivery::Failed { .. } => t.get().delivery_failed,
        };
        let title = detail.clone().unwrap_or_default();
        view! {
            <span class=class title=title>
                {label}{detail.map(|d| view! { ": " {d} })}
            </span>
        }
    });
    // R17: the linked user beside every state but "confirmed", which names them already.
    let link = address
        .link
        .clone()
        .filter(|_| !matches!(address.state, AddressState::Confirmed { .. }))
        .map(|link| view! { <LinkBadge link=link/> });
    view! {
        <span class=class data-address=address.address.clone()>
            {label}
            {text.map(|text| view! { " " {text} })}
        </span>
        {delivery}
        {link}
    }
}
