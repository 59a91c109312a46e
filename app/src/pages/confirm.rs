//! The page a challenge email links to (SPEC §3, R10, R11). Opening it (GET) changes nothing —
//! mail scanners open links on their own. The logged-in user confirms with a button (POST), which
//! links the address to their user ID.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use crate::auth::use_session;
use crate::components::{encode_component, ErrorLine};
use crate::error::AppError;
use crate::i18n::use_texts;

/// What a challenge link is about, shown before confirming.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeInfo {
    /// The address whose control is being proven.
    pub address: String,
    /// The row's primary address.
    pub row_primary: String,
    /// The row's admin-friendly name.
    pub row_name: String,
    /// Whether the row is a functional mailbox (then the applicant confirms).
    pub functional: bool,
}

/// The challenge behind a link, for a logged-in user; refusals say why it cannot be confirmed.
#[server(endpoint = "challenge/info", input = Json)]
pub async fn get_challenge(token: String) -> Result<ChallengeInfo, AppError> {
    let portal = expect_context::<backend::Portal>();
    crate::on_server::require_viewer()?;
    crate::pages::confirm::service::info(&portal, &token).await
}

/// Confirms the challenge behind a link for the logged-in user (R10, R11).
#[server(endpoint = "challenge/confirm", input = Json)]
pub async fn confirm_challenge(token: String) -> Result<ChallengeInfo, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    crate::pages::confirm::service::confirm(&portal, &viewer, &token).await
}

/// `/confirm/:token`
#[component]
pub fn ConfirmPage() -> impl IntoView {
    let t = use_texts();
    let params = use_params_map();
    let token = Memo::new(move |_| params.read().get("token").unwrap_or_default());
    let session = use_session();
    let Some(viewer) = session.viewer else {
        let login = move || {
            format!(
                "/login?return_to={}",
                encode_component(&format!("/confirm/{}", token.get()))
            )
        };
        return view! {
            <section class="confirm-page">
                <h1>{move || t.get().confirm_heading}</h1>
                <p class="notice">{move || t.get().confirm_login_first}</p>
                <a class="button primary" href=login>{move || t.get().nav_login}</a>
            </section>
        }
        .into_any();
    };
    let info = Resource::new(move || token.get(), get_challenge);
    let confirm = ServerAction::<ConfirmChallenge>::new();
    let who = format!("{} ({})", viewer.user_id, viewer.display_name);
    view! {
        <section class="confirm-page">
            <h1>{move || t.get().confirm_heading}</h1>
            <Transition fallback=|| ()>
                {move || info.get().map(|r| match r {
                    Err(e) => view! { <ErrorLine error=e/> }.into_any(),
                    Ok(c) => {
                        let who = who.clone();
                        view! {
                            <dl class="facts">
                                <dt>{move || t.get().confirm_address}</dt>
                                <dd class="mono" data-testid="challenge-address">{c.address.clone()}</dd>
                                <dt>{move || t.get().confirm_mailbox}</dt>
                                <dd>{c.row_name.clone()}" "<span class="mono muted">"<"{c.row_primary.clone()}">"</span></dd>
                                <dt>{move || t.get().confirm_logged_in_as}</dt>
                                <dd>{who}</dd>
                            </dl>
                            {c.functional.then(|| view! { <p>{move || t.get().confirm_functional_for}</p> })}
                            <p>{move || t.get().confirm_explain}</p>
                            <Show
                                when=move || !matches!(confirm.value().get(), Some(Ok(_)))
                                fallback=move || view! {
                                    <p class="ok" role="status">{move || t.get().confirm_done}</p>
                                    <a class="button primary" href="/certificates">{move || t.get().confirm_go_certificates}</a>
                                }
                            >
                                <button type="button" class="primary" disabled=move || confirm.pending().get()
                                    on:click=move |_| { confirm.dispatch(ConfirmChallenge { token: token.get_untracked() }); }>
                                    {move || t.get().confirm_button}
                                </button>
                                <p class="muted">{move || t.get().confirm_not_me}</p>
                            </Show>
                            {move || confirm.value().get().and_then(Result::err).map(|e| view! { <ErrorLine error=e/> })}
                        }.into_any()
                    }
                })}
            </Transition>
        </section>
    }
    .into_any()
}

#[cfg(feature = "ssr")]
mod service {
    //! The challenge link's server functions' calls into the service.

    use backend::challenges::{challenge_for_token, confirm_challenge_from};
    use backend::roles::Viewer;
    use backend::Portal;
    use domain::mailbox::MailboxType;

    use super::ChallengeInfo;
    use crate::error::AppError;
    use crate::on_server::{request_client, service_error, with_status};

    /// What a challenge link is about; refused challenges answer with why.
    pub async fn info(portal: &Portal, token: &str) -> Result<ChallengeInfo, AppError> {
        let view = challenge_for_token(&portal.pool, token, backend::clock::now())
            .await
            .map_err(service_error)?;
        if let Some(refusal) = view.refusal {
            return Err(with_status(AppError::Refused(refusal.into())));
        }
        Ok(ChallengeInfo {
            address: view.address,
            row_primary: view.row_primary,
            row_name: view.row_name,
            functional: view.mailbox_type == MailboxType::Functional,
        })
    }

    /// Confirms for the viewer (R10, R11).
    pub async fn confirm(
        portal: &Portal,
        viewer: &Viewer,
        token: &str,
    ) -> Result<ChallengeInfo, AppError> {
        let info = info(portal, token).await?;
        confirm_challenge_from(
            &portal.pool,
            token,
            &viewer.user.user_id,
            &request_client(),
            backend::clock::now(),
        )
        .await
        .map_err(service_error)?;
        Ok(info)
    }
}
