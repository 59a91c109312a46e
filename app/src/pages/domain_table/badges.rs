//! The challenge/link state of an address, as a small badge.

use domain::time::utc_date_time;
use leptos::prelude::*;

use crate::i18n::use_texts;
use crate::rows_api::{AddressItem, AddressStateItem, DeliveryItem};

use super::handover::LinkBadge;

/// A badge like "confirmed by anna (Anna Schmidt) at …" or "pending since …".
#[component]
pub fn StateBadge(address: AddressItem) -> impl IntoView {
    let t = use_texts();
    let (class, text) = match &address.state {
        AddressStateItem::NeverSent => ("badge never", None),
        AddressStateItem::Pending { since } => ("badge pending", Some(utc_date_time(*since))),
        AddressStateItem::Confirmed {
            user_id,
            user_name,
            at,
        } => (
            "badge confirmed",
            Some(format!("{user_id} ({user_name}), {}", utc_date_time(*at))),
        ),
        AddressStateItem::Superseded { at } => ("badge superseded", Some(utc_date_time(*at))),
        AddressStateItem::Expired { at } => ("badge expired", Some(utc_date_time(*at))),
    };
    let state = address.state.clone();
    let label = move || {
        let t = t.get();
        match state {
            AddressStateItem::NeverSent => t.state_never_sent,
            AddressStateItem::Pending { .. } => t.state_pending_since,
            AddressStateItem::Confirmed { .. } => t.state_confirmed_by,
            AddressStateItem::Superseded { .. } => t.state_superseded,
            AddressStateItem::Expired { .. } => t.state_expired,
        }
    };
    // The mail matters while the challenge waits: was it delivered, or did it fail and why?
    let pending = matches!(address.state, AddressStateItem::Pending { .. });
    let delivery = address.delivery.clone().filter(|_| pending).map(|d| {
        let (class, detail) = match &d {
            DeliveryItem::Queued(err) => ("badge mail queued", err.clone()),
            DeliveryItem::Sent => ("badge mail sent", None),
            DeliveryItem::Failed(reason) => ("badge mail failed", Some(reason.clone())),
        };
        let label = move || match d {
            DeliveryItem::Queued(_) => t.get().delivery_queued,
            DeliveryItem::Sent => t.get().delivery_sent,
            DeliveryItem::Failed(_) => t.get().delivery_failed,
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
        .filter(|_| !matches!(address.state, AddressStateItem::Confirmed { .. }))
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
