//! The operators' page: register email domains and set each one's contact group.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::components::{ErrorLine, RequireLogin};
use crate::error::AppError;
use crate::i18n::use_texts;

/// A registered domain as the operator page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DomainInfo {
    /// ASCII name.
    pub name: String,
    /// The IdM group whose members are its NAPs.
    pub contact_group: String,
}

/// All domains (operators only).
#[server(endpoint = "operator/list_domains")]
pub async fn list_domains() -> Result<Vec<DomainInfo>, AppError> {
    let portal = expect_context::<backend::Portal>();
    crate::on_server::require_operator()?;
    let domains = backend::domains::list_domains(&portal.pool)
        .await
        .map_err(crate::on_server::internal)?;
    Ok(domains
        .into_iter()
        .map(|d| DomainInfo {
            name: d.name,
            contact_group: d.contact_group,
        })
        .collect())
}

/// Registers a domain with its contact group (operators only).
#[server(endpoint = "operator/register_domain")]
pub async fn register_domain(name: String, contact_group: String) -> Result<(), AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_operator()?;
    backend::domains::register_domain(&portal.pool, &viewer.user.user_id, &name, &contact_group)
        .await
        .map(|_| ())
        .map_err(crate::on_server::service_error)
}

/// Changes a domain's contact group (operators only).
#[server(endpoint = "operator/set_contact_group")]
pub async fn set_contact_group(name: String, contact_group: String) -> Result<(), AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_operator()?;
    backend::domains::set_contact_group(&portal.pool, &viewer.user.user_id, &name, &contact_group)
        .await
        .map(|_| ())
        .map_err(crate::on_server::service_error)
}

/// `/operator`
#[component]
pub fn OperatorPage() -> impl IntoView {
    let t = use_texts();
    let register = ServerAction::<RegisterDomain>::new();
    let set_group = ServerAction::<SetContactGroup>::new();
    let domains = Resource::new(
        move || (register.version().get(), set_group.version().get()),
        |_| list_domains(),
    );

    view! {
        <RequireLogin>
            <section class="operator">
                <h1>{move || t.get().operator_heading}</h1>
                <Transition fallback=|| ()>
                    {move || domains.get().map(|r| match r {
                        Err(e) => view! { <ErrorLine error=e/> }.into_any(),
                        Ok(list) => view! {
                            <table class="data">
                                <thead><tr>
                                    <th>{move || t.get().operator_domain}</th>
                                    <th>{move || t.get().operator_contact_group}</th>
                                    <th></th>
                                </tr></thead>
                                <tbody>
                                    <For each=move || list.clone() key=|d| d.clone() let:d>
                                        <tr>
                                            <td class="mono">{d.name.clone()}</td>
                                            <td colspan="2">
                                                <ActionForm action=set_group attr:class="inline-form">
                                                    <input type="hidden" name="name" value=d.name.clone()/>
                                                    <input type="text" name="contact_group" value=d.contact_group.clone()
                                                        aria-label=move || t.get().operator_contact_group/>
                                                    <button type="submit">{move || t.get().save}</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    </For>
                                </tbody>
                            </table>
                        }.into_any(),
                    })}
                </Transition>
                {move || set_group.value().get().and_then(Result::err).map(|e| view! { <ErrorLine error=e/> })}

                <h2>{move || t.get().operator_register_heading}</h2>
                <ActionForm action=register attr:class="stacked-form">
                    <label>
                        {move || t.get().operator_domain}
                        <input type="text" name="name" placeholder="uni-beispiel.de" required/>
                    </label>
                    <label>
                        {move || t.get().operator_contact_group}
                        <input type="text" name="contact_group" placeholder="nap-uni-beispiel" required/>
                    </label>
                    <button type="submit" class="primary">{move || t.get().operator_register_button}</button>
                </ActionForm>
                {move || register.value().get().and_then(Result::err).map(|e| view! { <ErrorLine error=e/> })}
                <crate::pages::scim_tokens::ScimTokensPanel/>
                <crate::pages::deprovision_holds::DeprovisionHolds/>
            </section>
        </RequireLogin>
    }
}
