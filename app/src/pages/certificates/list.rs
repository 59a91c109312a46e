//! A list of certificates with their state, downloads and revocation (R12, R15): the user's own
//! on "My client certificates", a row's on the NAP's table.

use domain::certificate::RevocationReason;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::certs_api::{
    revoke_as_nap, revoke_own_certificate, CertificateItem, CertificateList, CertificateStatus,
};
use crate::components::ErrorLine;
use crate::error::AppError;
use crate::i18n::{use_lang, use_texts};
use crate::pages::domain_table::handover::EvidenceList;

use super::reason_select::{reason_label, ReasonSelect};

/// Who looks at the list, which decides who may revoke what (R15).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revoker {
    /// The certificates' owner: may revoke any valid one.
    Owner,
    /// A NAP of the row's domain: may revoke only when the row is inactive.
    Nap {
        /// The row is active (then revoking is refused with the reason shown).
        row_active: bool,
    },
}

/// The certificates, newest first as given; their dates are days of the viewer's zone, named in
/// the validity heading (R16).
#[component]
pub fn CertificateTable(
    list: CertificateList,
    revoker: Revoker,
    changed: Callback<()>,
) -> impl IntoView {
    let t = use_texts();
    let nap = matches!(revoker, Revoker::Nap { .. });
    let zone = list.zone;
    view! {
        <table class="data certificates">
            <thead>
                <tr>
                    <th>{move || t.get().certs_col_serial}</th>
                    {nap.then(|| view! { <th>{move || t.get().certs_col_holder}</th> })}
                    <th>{move || t.get().certs_col_addresses}</th>
                    <th class="validity">{move || t.get().certs_col_validity}" "<span class="zone">"("{zone}")"</span></th>
                    <th>{move || t.get().certs_col_status}</th>
                    <th>{move || t.get().col_actions}</th>
                </tr>
            </thead>
            <tbody>
                {list.certificates.into_iter().map(|c| view! { <CertificateLine item=c revoker=revoker changed=changed/> }).collect_view()}
            </tbody>
        </table>
    }
}

/// One certificate.
#[component]
fn CertificateLine(
    item: CertificateItem,
    revoker: Revoker,
    changed: Callback<()>,
) -> impl IntoView {
    let t = use_texts();
    let lang = use_lang();
    let CertificateItem {
        certificate: cert,
        valid_from,
        valid_until,
        revoked,
        evidence: evidence_times,
    } = item;
    let asking = RwSignal::new(false);
    let reason = RwSignal::new(match revoker {
        Revoker::Owner => RevocationReason::Unspecified,
        Revoker::Nap { .. } => RevocationReason::AffiliationChanged,
    });
    let error = RwSignal::new(None::<AppError>);
    let busy = RwSignal::new(false);
    let id = cert.id;
    let may_revoke = cert.is_valid() && revoker != (Revoker::Nap { row_active: true });
    let nap_blocked = cert.is_valid() && revoker == (Revoker::Nap { row_active: true });
    let revoke = move |_| {
        busy.set(true);
        let why = reason.get_untracked();
        spawn_local(async move {
            let result = match revoker {
                Revoker::Owner => revoke_own_certificate(id, why).await,
                Revoker::Nap { .. } => revoke_as_nap(id, why).await,
            };
            busy.set(false);
            match result {
                Ok(_) => {
                    asking.set(false);
                    changed.run(());
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let status = cert.status.clone();
    let expires_soon = cert.expires_soon;
    let status_view = move || {
        let t = t.get();
        match &status {
            CertificateStatus::Valid if expires_soon => view! {
                <span class="badge ok">{t.certs_status_valid}</span>
                " "<span class="badge expiring">{t.certs_expires_soon}</span>
            }
            .into_any(),
            CertificateStatus::Valid => {
                view! { <span class="badge ok">{t.certs_status_valid}</span> }.into_any()
            }
            CertificateStatus::Expired => {
                view! { <span class="badge">{t.certs_status_expired}</span> }.into_any()
            }
            CertificateStatus::Revoked { reason, .. } => view! {
                <span class="badge inactive">{t.certs_status_revoked}</span>
                <span class="muted">" "{revoked.map(|at| at.date(lang.get()))}", "{reason_label(t, *reason)}</span>
            }
            .into_any(),
        }
    };
    let download = move |format: &'static str, label: &'static str| {
        view! { <a href=format!("/certificates/{id}/download?format={format}") download="">{label}</a> }
    };
    view! {
        <tr data-serial=cert.serial.clone()>
            <td class="mono">{cert.serial.clone()}</td>
            {matches!(revoker, Revoker::Nap { .. }).then(|| view! {
                <td>{cert.user_name.clone()}" "<span class="mono muted">{cert.user_id.clone()}</span></td>
            })}
            <td class="mono">{cert.addresses.join(", ")}<br/><span class="muted">{cert.subject.clone()}</span>
                {matches!(revoker, Revoker::Nap { .. }).then(|| {
                    let evidence = cert.evidence.iter().cloned().zip(evidence_times).map(|(e, (sent, confirmed))| (e, sent, confirmed)).collect::<Vec<_>>();
                    view! { <EvidenceList evidence=evidence/> }
                })}
            </td>
            <td class="validity">{move || format!("{} \u{2013} {}", valid_from.date(lang.get()), valid_until.date(lang.get()))}</td>
            <td class="status">{status_view}</td>
            <td class="actions">
                {download("pem", "PEM")}" "{download("der", "DER")}" "
                {move || download("chain", t.get().certs_download_chain)}
                {may_revoke.then(|| view! {
                    <button type="button" class="danger" on:click=move |_| asking.set(true)>{move || t.get().certs_revoke}</button>
                })}
                {nap_blocked.then(|| view! {
                    <span class="muted hint">{move || t.get().certs_nap_deactivate_first}</span>
                })}
                <Show when=move || asking.get()>
                    <div class="confirm-box" role="alertdialog">
                        <p>{move || match revoker {
                            Revoker::Owner => t.get().certs_confirm_revoke_own,
                            Revoker::Nap { .. } => t.get().certs_confirm_revoke_nap,
                        }}</p>
                        <ReasonSelect reason=reason/>
                        <button type="button" class="primary" disabled=move || busy.get() on:click=revoke>{move || t.get().certs_revoke}</button>
                        <button type="button" on:click=move |_| { asking.set(false); error.set(None); }>{move || t.get().cancel}</button>
                        {move || error.get().map(|e| view! { <ErrorLine error=e/> })}
                    </div>
                </Show>
            </td>
        </tr>
    }
}
