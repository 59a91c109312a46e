//! The operators' SCIM tokens (SPEC R22): the bearer tokens the IdM (Entra ID, Okta, Keycloak)
//! uses for the portal's SCIM endpoint. An operator makes one per connection and sees it once
//! (only its hash is kept), sees when each was last used, and revokes it. Shown on the operator
//! page, with its server functions and its texts in both languages.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::components::ErrorLine;
use crate::dates::WallTime;
use crate::error::AppError;
use crate::i18n::{CurrentLang, Lang};

/// A token as the list shows it (never its value); its times as the viewer's clock shows them
/// (R16: converted on the server, so the hydrated page writes what the server rendered).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ScimTokenInfo {
    /// The operator's name for the connection.
    pub name: String,
    /// When it was made.
    pub created: WallTime,
    /// Who made it.
    pub created_by: String,
    /// Latest use, to the minute.
    pub last_used: Option<WallTime>,
    /// When it was revoked.
    pub revoked: Option<WallTime>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
}

/// The endpoint the IdM is given, and the tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimTokens {
    /// `https://portal/scim/v2`: the IdM's "tenant URL".
    pub endpoint: String,
    /// Every token, those in force first.
    pub tokens: Vec<ScimTokenInfo>,
    /// The IANA name of the viewer's zone (`Europe/Berlin`), named in the "Made" heading.
    pub zone: String,
}

/// A token just made: the only time its value leaves the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MadeScimToken {
    /// Its name.
    pub name: String,
    /// Its value, for the IdM's secret token field.
    pub token: String,
}

/// The endpoint and every token (operators only).
#[server(endpoint = "scim/tokens")]
pub async fn list_scim_tokens() -> Result<ScimTokens, AppError> {
    let portal = expect_context::<backend::Portal>();
    crate::on_server::require_operator()?;
    let zone = crate::time_zone::ViewerZone::of_request();
    let tokens = backend::scim::tokens::list_tokens(&portal)
        .await
        .map_err(crate::on_server::service_error)?;
    Ok(ScimTokens {
        endpoint: format!("{}/scim/v2", portal.config.base_url()),
        tokens: tokens.into_iter().map(|t| info(t, &zone)).collect(),
        zone: zone.name().to_owned(),
    })
}

/// A stored token as the list shows it, its times in `zone`.
#[cfg(feature = "ssr")]
fn info(
    t: backend::storage::scim::TokenRecord,
    zone: &crate::time_zone::ViewerZone,
) -> ScimTokenInfo {
    ScimTokenInfo {
        name: t.name,
        created: zone.wall(t.created_at),
        created_by: t.created_by,
        last_used: t.last_used_at.map(|at| zone.wall(at)),
        revoked: t.revoked_at.map(|at| zone.wall(at)),
        revoked_by: t.revoked_by,
    }
}

/// Makes a token called `name` and answers it, once (operators only).
#[server(endpoint = "scim/create_token")]
pub async fn create_scim_token(name: String) -> Result<MadeScimToken, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_operator()?;
    let token = backend::scim::tokens::create_token(
        &portal,
        &name,
        &viewer.user.user_id,
        backend::clock::now(),
    )
    .await
    .map_err(crate::on_server::service_error)?;
    Ok(MadeScimToken {
        name: token.name.clone(),
        token: token.expose().to_owned(),
    })
}

/// Revokes the token in force called `name` (operators only).
#[server(endpoint = "scim/revoke_token")]
pub async fn revoke_scim_token(name: String) -> Result<(), AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_operator()?;
    backend::scim::tokens::revoke_token(&portal, &name, &viewer.user.user_id, backend::clock::now())
        .await
        .map(|_| ())
        .map_err(crate::on_server::service_error)
}

struct Texts {
    heading: &'static str,
    intro: &'static str,
    endpoint: &'static str,
    name: &'static str,
    made: &'static str,
    by: &'static str,
    last_used: &'static str,
    never: &'static str,
    state: &'static str,
    in_force: &'static str,
    revoked: &'static str,
    revoke: &'static str,
    none: &'static str,
    make_heading: &'static str,
    make: &'static str,
    shown_once: &'static str,
}

const EN: Texts = Texts {
    heading: "IdM connection (SCIM)",
    intro: "The identity provider (Entra ID, Okta, Keycloak) tells the portal through SCIM 2.0 when \
            a person is deactivated or deleted; the portal then ends their sessions and deals with \
            their rows and certificates. Give the IdM the URL below and a token made here.",
    endpoint: "Tenant URL",
    name: "Name",
    made: "Made",
    by: "by",
    last_used: "Last used",
    never: "never",
    state: "State",
    in_force: "in force",
    revoked: "revoked",
    revoke: "Revoke",
    none: "No tokens yet.",
    make_heading: "Make a token",
    make: "Make token",
    shown_once: "Copy this token into the IdM now: it is shown only this once (the portal keeps only a hash of it).",
};

const DE: Texts = Texts {
    heading: "IdM-Anbindung (SCIM)",
    intro: "Der Identity Provider (Entra ID, Okta, Keycloak) teilt dem Portal über SCIM 2.0 mit, \
            wenn eine Person deaktiviert oder gelöscht wird; das Portal beendet dann ihre Sitzungen \
            und kümmert sich um ihre Zeilen und Zertifikate. Geben Sie dem IdM die URL unten und \
            ein hier erzeugtes Token.",
    endpoint: "Tenant-URL",
    name: "Name",
    made: "Erzeugt",
    by: "von",
    last_used: "Zuletzt benutzt",
    never: "nie",
    state: "Status",
    in_force: "gültig",
    revoked: "widerrufen",
    revoke: "Widerrufen",
    none: "Noch keine Tokens.",
    make_heading: "Token erzeugen",
    make: "Token erzeugen",
    shown_once: "Kopieren Sie dieses Token jetzt in das IdM: Es wird nur dieses eine Mal angezeigt (das Portal speichert nur einen Hash davon).",
};

/// R22: the SCIM endpoint's URL, the tokens with their last use, making and revoking them.
#[component]
pub fn ScimTokensPanel() -> impl IntoView {
    let CurrentLang(lang) = expect_context::<CurrentLang>();
    let t = Signal::derive(move || match lang.get() {
        Lang::En => &EN,
        Lang::De => &DE,
    });
    let create = ServerAction::<CreateScimToken>::new();
    let revoke = ServerAction::<RevokeScimToken>::new();
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_scim_tokens(),
    );
    view! {
        <section class="scim-tokens">
            <h2>{move || t.get().heading}</h2>
            <p class="hint">{move || t.get().intro}</p>
            <Transition fallback=|| ()>
                {move || tokens.get().map(|answer| match answer {
                    Err(e) => view! { <ErrorLine error=e/> }.into_any(),
                    Ok(list) => {
                        let endpoint = list.endpoint.clone();
                        let empty = list.tokens.is_empty();
                        let zone = list.zone.clone();
                        view! {
                            <p>{move || t.get().endpoint}": "<code class="mono">{endpoint}</code></p>
                            <Show when=move || !empty fallback=move || view! { <p>{move || t.get().none}</p> }>
                                <table class="data">
                                    <thead><tr>
                                        <th>{move || t.get().name}</th>
                                        <th>{move || t.get().made}" "<span class="zone">"("{zone.clone()}")"</span></th>
                                        <th>{move || t.get().last_used}</th>
                                        <th>{move || t.get().state}</th>
                                        <th></th>
                                    </tr></thead>
                                    <tbody>
                                        <For each={let l = list.tokens.clone(); move || l.clone()} key=|k| k.clone() let:k>
                                            <tr>
                                                <td class="mono">{k.name.clone()}</td>
                                                <td>{let at = k.created; move || at.date_time(lang.get())}" "{move || t.get().by}" "{k.created_by.clone()}</td>
                                                <td>{
                                                    let used = k.last_used;
                                                    move || used.map(|at| at.date_time(lang.get())).unwrap_or_else(|| t.get().never.to_owned())
                                                }</td>
                                                <td>{
                                                    let (at, by) = (k.revoked, k.revoked_by.clone());
                                                    move || match at {
                                                        None => t.get().in_force.to_owned(),
                                                        Some(at) => format!("{} {} {} {}", t.get().revoked, at.date_time(lang.get()), t.get().by, by.clone().unwrap_or_default()),
                                                    }
                                                }</td>
                                                <td>
                                                    {k.revoked.is_none().then(|| {
                                                        let name = k.name.clone();
                                                        view! {
                                                            <ActionForm action=revoke attr:class="inline-form">
                                                                <input type="hidden" name="name" value=name/>
                                                                <button type="submit">{move || t.get().revoke}</button>
                                                            </ActionForm>
                                                        }
                                                    })}
                                                </td>
                                            </tr>
                                        </For>
                                    </tbody>
                                </table>
                            </Show>
                        }.into_any()
                    }
                })}
            </Transition>
            {move || revoke.value().get().and_then(Result::err).map(|e| view! { <ErrorLine error=e/> })}

            <h3>{move || t.get().make_heading}</h3>
            <ActionForm action=create attr:class="inline-form">
                <input type="text" name="name" placeholder="entra" required maxlength="64"
                    pattern="[a-z0-9._\\-]{1,64}" aria-label=move || t.get().name/>
                <button type="submit" class="primary">{move || t.get().make}</button>
            </ActionForm>
            {move || create.value().get().map(|answer| match answer {
                Err(e) => view! { <ErrorLine error=e/> }.into_any(),
                Ok(made) => view! {
                    <div class="notice scim-token-made" role="status">
                        <p>{move || t.get().shown_once}</p>
                        <p><span class="mono">{made.name.clone()}</span>": "<code class="mono scim-token-value">{made.token.clone()}</code></p>
                    </div>
                }.into_any(),
            })}
        </section>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use crate::time_zone::ViewerZone;

    #[test]
    fn r22_r16_scim_token_times_are_the_viewers_wall_times() {
        let berlin = ViewerZone::named(Some("Europe/Berlin"));
        // Made 2026-12-07 13:05 UTC, used 2026-07-01 12:00 UTC (summer time), never revoked.
        let t = backend::storage::scim::TokenRecord {
            id: 1,
            name: "entra".into(),
            created_at: 1_796_648_700,
            created_by: "olga".into(),
            last_used_at: Some(1_782_907_200),
            revoked_at: None,
            revoked_by: None,
        };
        let shown = info(t, &berlin);
        assert_eq!(shown.created.date_time(Lang::En), "7 Dec 2026, 14:05");
        assert_eq!(
            shown.last_used.map(|w| w.date_time(Lang::De)).as_deref(),
            Some("01.07.2026, 14:00")
        );
        assert_eq!(shown.revoked, None);
    }
}
