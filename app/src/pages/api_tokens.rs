//! `/api-tokens` (SPEC R21): a NAP makes bearer tokens for scripts and the IdM — name, some of
//! their domains, read or read and write, an expiry at most a year away — sees each secret once
//! (with a copy button), lists their tokens with last use and revokes them. Operators see and
//! revoke every token on the same page. Texts in both languages here; dates through `dates.rs`.

use leptos::prelude::*;

use crate::api_tokens_api::{
    ApiScope, ApiTokenInfo, ApiTokens, CreateApiToken, MadeApiToken, RevokeApiToken, TokenState,
};
use crate::audit_words::word;
use crate::components::{ErrorLine, RequireLogin};
use crate::i18n::{CurrentLang, Lang};

/// The page's words.
pub struct Texts {
    /// Navigation and heading.
    pub heading: &'static str,
    intro: &'static str,
    endpoint: &'static str,
    docs: &'static str,
    make_heading: &'static str,
    name: &'static str,
    name_hint: &'static str,
    domains: &'static str,
    access: &'static str,
    read: &'static str,
    read_write: &'static str,
    expires: &'static str,
    expires_hint: &'static str,
    make: &'static str,
    no_domains: &'static str,
    shown_once: &'static str,
    copy: &'static str,
    copied: &'static str,
    mine: &'static str,
    all: &'static str,
    none: &'static str,
    created: &'static str,
    last_used: &'static str,
    never: &'static str,
    state: &'static str,
    creator: &'static str,
    in_force: &'static str,
    expired: &'static str,
    stopped: &'static str,
    revoke: &'static str,
    revoke_confirm: &'static str,
    yes_revoke: &'static str,
    cancel: &'static str,
    revoked_done: &'static str,
}

const EN: Texts = Texts {
    heading: "API tokens",
    intro: "A token lets a script or your identity management read and change the tables of \
            your domains through the portal's REST API, by exactly the rules of this site. It \
            works only while you are a contact person (NAP) of its domains, and every change it \
            makes is in the audit trail under its name and yours.",
    endpoint: "API address",
    docs: "API documentation",
    make_heading: "Make a token",
    name: "Name",
    name_hint: "a-z, 0-9, '.', '_', '-' (e.g. idm-sync)",
    domains: "Domains",
    access: "Access",
    read: "read only",
    read_write: "read and write",
    expires: "Expires on",
    expires_hint: "at most one year from today",
    make: "Make token",
    no_domains: "You administer no domain, so you cannot make a token.",
    shown_once: "Copy the token now and keep it safe: you will not see it again (the portal keeps only a hash of it).",
    copy: "Copy",
    copied: "Copied.",
    mine: "My tokens",
    all: "Every token (operators)",
    none: "No tokens yet.",
    created: "Made",
    last_used: "Last used",
    never: "never",
    state: "State",
    creator: "Made by",
    in_force: "in force",
    expired: "expired",
    stopped: "stopped",
    revoke: "Revoke",
    revoke_confirm: "Revoke this token? Scripts using it are refused from their next request.",
    yes_revoke: "Yes, revoke",
    cancel: "Cancel",
    revoked_done: "The token is revoked.",
};

const DE: Texts = Texts {
    heading: "API-Tokens",
    intro: "Mit einem Token kann ein Skript oder Ihr Identity Management die Tabellen Ihrer \
            Domains über die REST-API des Portals lesen und ändern – nach genau den Regeln dieser \
            Seite. Es gilt nur, solange Sie Kontaktperson (NAP) seiner Domains sind, und jede \
            Änderung steht im Protokoll unter seinem und Ihrem Namen.",
    endpoint: "API-Adresse",
    docs: "API-Dokumentation",
    make_heading: "Token erzeugen",
    name: "Name",
    name_hint: "a-z, 0-9, '.', '_', '-' (z. B. idm-sync)",
    domains: "Domains",
    access: "Zugriff",
    read: "nur lesen",
    read_write: "lesen und schreiben",
    expires: "Läuft ab am",
    expires_hint: "höchstens ein Jahr ab heute",
    make: "Token erzeugen",
    no_domains: "Sie verwalten keine Domain und können daher kein Token erzeugen.",
    shown_once: "Kopieren Sie das Token jetzt und bewahren Sie es sicher auf: Sie werden es nicht wieder sehen (das Portal speichert nur einen Hash davon).",
    copy: "Kopieren",
    copied: "Kopiert.",
    mine: "Meine Tokens",
    all: "Alle Tokens (Betrieb)",
    none: "Noch keine Tokens.",
    created: "Erzeugt",
    last_used: "Zuletzt benutzt",
    never: "nie",
    state: "Status",
    creator: "Erzeugt von",
    in_force: "gültig",
    expired: "abgelaufen",
    stopped: "beendet",
    revoke: "Widerrufen",
    revoke_confirm: "Dieses Token widerrufen? Skripte damit werden ab ihrer nächsten Anfrage abgewiesen.",
    yes_revoke: "Ja, widerrufen",
    cancel: "Abbrechen",
    revoked_done: "Das Token ist widerrufen.",
};

/// The page's words in `lang` (the navigation uses `heading`).
pub fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::En => &EN,
        Lang::De => &DE,
    }
}

/// `/api-tokens`
#[component]
pub fn ApiTokensPage() -> impl IntoView {
    let CurrentLang(lang) = expect_context::<CurrentLang>();
    let t = Signal::derive(move || texts(lang.get()));
    let create = ServerAction::<CreateApiToken>::new();
    let revoke = ServerAction::<RevokeApiToken>::new();
    let answer = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| crate::api_tokens_api::list_api_tokens(),
    );
    view! {
        <RequireLogin>
            <section class="api-tokens">
                <h1>{move || t.get().heading}</h1>
                <p class="hint">{move || t.get().intro}</p>
                <Transition fallback=|| ()>
                    {move || answer.get().map(|answer| match answer {
                        Err(e) => view! { <ErrorLine error=e/> }.into_any(),
                        Ok(page) => view! { <Tokens page create revoke/> }.into_any(),
                    })}
                </Transition>
            </section>
        </RequireLogin>
    }
}

/// The form, the secret just made, and the lists.
#[component]
fn Tokens(
    page: ApiTokens,
    create: ServerAction<CreateApiToken>,
    revoke: ServerAction<RevokeApiToken>,
) -> impl IntoView {
    let CurrentLang(lang) = expect_context::<CurrentLang>();
    let t = Signal::derive(move || texts(lang.get()));
    let ApiTokens {
        domains,
        mine,
        all,
        expiry_min,
        expiry_default,
        expiry_max,
        endpoint,
        zone,
    } = page;
    let name = RwSignal::new(String::new());
    // One domain is chosen from the start when there is only one.
    let chosen = RwSignal::new(if domains.len() == 1 {
        vec![domains[0].id]
    } else {
        Vec::new()
    });
    let scope = RwSignal::new(ApiScope::Read);
    let expires = RwSignal::new(expiry_default);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(CreateApiToken {
            name: name.get_untracked(),
            domain_ids: chosen.get_untracked(),
            scope: scope.get_untracked(),
            expires_on: expires.get_untracked(),
        });
    };
    let form = if domains.is_empty() {
        view! { <p class="notice">{move || t.get().no_domains}</p> }.into_any()
    } else {
        view! {
            <form class="api-token-form" on:submit=submit>
                <label>{move || t.get().name}" "
                    <input type="text" name="name" required maxlength="64" placeholder="idm-sync"
                        pattern="[a-z0-9._\\-]{1,64}" bind:value=name/>
                    <span class="hint">{move || t.get().name_hint}</span>
                </label>
                <fieldset>
                    <legend>{move || t.get().domains}</legend>
                    {domains.into_iter().map(|d| {
                        let id = d.id;
                        view! {
                            <label class="mono">
                                <input type="checkbox" name="domain" value=d.name.clone()
                                    prop:checked=move || chosen.get().contains(&id)
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        chosen.update(|c| {
                                            c.retain(|x| *x != id);
                                            if on { c.push(id) }
                                        });
                                    }/>
                                " "{d.name}
                            </label>
                        }
                    }).collect_view()}
                </fieldset>
                <fieldset>
                    <legend>{move || t.get().access}</legend>
                    <label><input type="radio" name="scope" value="read"
                        prop:checked=move || scope.get() == ApiScope::Read
                        on:change=move |_| scope.set(ApiScope::Read)/>" "{move || t.get().read}</label>
                    <label><input type="radio" name="scope" value="read_write"
                        prop:checked=move || scope.get() == ApiScope::ReadWrite
                        on:change=move |_| scope.set(ApiScope::ReadWrite)/>" "{move || t.get().read_write}</label>
                </fieldset>
                <label>{move || t.get().expires}" "
                    <input type="date" name="expires" required min=expiry_min max=expiry_max bind:value=expires/>
                    <span class="hint">{move || t.get().expires_hint}</span>
                </label>
                <button type="submit" class="primary">{move || t.get().make}</button>
            </form>
        }.into_any()
    };
    let mine_zone = zone.clone();
    let all_list = all.map(|all| {
        view! {
            <h2>{move || t.get().all}</h2>
            <TokenTable tokens=all revoke with_creator=true zone=zone.clone()/>
        }
    });
    view! {
        <p>
            {move || t.get().endpoint}": "<code class="mono">{endpoint}</code>" · "
            <a href="/api/docs" rel="external">{move || t.get().docs}</a>
        </p>
        <h2>{move || t.get().make_heading}</h2>
        {form}
        {move || create.value().get().map(|answer| match answer {
            Err(e) => view! { <ErrorLine error=e/> }.into_any(),
            Ok(made) => view! { <MadeToken made/> }.into_any(),
        })}
        {move || revoke.value().get().map(|answer| match answer {
            Err(e) => view! { <ErrorLine error=e/> }.into_any(),
            Ok(()) => view! { <p class="notice" role="status">{move || t.get().revoked_done}</p> }.into_any(),
        })}
        <h2>{move || t.get().mine}</h2>
        <TokenTable tokens=mine revoke with_creator=false zone=mine_zone/>
        {all_list}
    }
}

/// The secret of a token just made, once, with a copy button.
#[component]
fn MadeToken(made: MadeApiToken) -> impl IntoView {
    let CurrentLang(lang) = expect_context::<CurrentLang>();
    let t = Signal::derive(move || texts(lang.get()));
    let copied = RwSignal::new(false);
    let secret = made.token.clone();
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            // The promise is not awaited: the text is in the page to copy by hand as well.
            let _ = window().navigator().clipboard().write_text(&secret);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &secret;
        copied.set(true);
    };
    view! {
        <div class="notice api-token-made" role="status">
            <p><strong>{move || t.get().shown_once}</strong></p>
            <p>
                <span class="mono">{made.name.clone()}</span>": "
                <code class="mono api-token-value">{made.token.clone()}</code>" "
                <button type="button" class="copy" on:click=copy>{move || t.get().copy}</button>
                {move || copied.get().then(|| view! { " "<span>{move || t.get().copied}</span> })}
            </p>
        </div>
    }
}

/// A list of tokens with their revoke buttons; their times are in `zone`, named in the "Made"
/// heading (R16).
#[component]
fn TokenTable(
    tokens: Vec<ApiTokenInfo>,
    revoke: ServerAction<RevokeApiToken>,
    with_creator: bool,
    zone: String,
) -> impl IntoView {
    let CurrentLang(lang) = expect_context::<CurrentLang>();
    let t = Signal::derive(move || texts(lang.get()));
    if tokens.is_empty() {
        return view! { <p>{move || t.get().none}</p> }.into_any();
    }
    // The token whose revoke waits for "yes".
    let asking = RwSignal::new(None::<i64>);
    view! {
        <table class="data api-token-list">
            <thead><tr>
                <th>{move || t.get().name}</th>
                {with_creator.then(|| view! { <th>{move || t.get().creator}</th> })}
                <th>{move || t.get().domains}</th>
                <th>{move || t.get().access}</th>
                <th>{move || t.get().created}" "<span class="zone">"("{zone}")"</span></th>
                <th>{move || t.get().expires}</th>
                <th>{move || t.get().last_used}</th>
                <th>{move || t.get().state}</th>
                <th></th>
            </tr></thead>
            <tbody>
                {tokens.into_iter().map(|k| {
                    let id = k.id;
                    let in_force = !matches!(k.state, TokenState::Stopped { .. });
                    let name = k.name.clone();
                    let (created, expires, used) = (k.created, k.expires, k.last_used);
                    let state = k.state.clone();
                    let scope = k.scope;
                    view! {
                        <tr data-token=k.name.clone()>
                            <td class="mono">{k.name.clone()}</td>
                            {with_creator.then(|| view! {
                                <td title=k.creator_id.clone()>{if k.creator_name.is_empty() { k.creator_id.clone() } else { k.creator_name.clone() }}</td>
                            })}
                            <td class="mono">{k.domains.join(", ")}</td>
                            <td>{move || match scope {
                                ApiScope::Read => t.get().read,
                                ApiScope::ReadWrite => t.get().read_write,
                            }}</td>
                            <td>{move || created.date_time(lang.get())}</td>
                            <td>{move || expires.date(lang.get())}</td>
                            <td>{move || used.map(|u| u.date_time(lang.get())).unwrap_or_else(|| t.get().never.to_owned())}</td>
                            <td>{move || match &state {
                                TokenState::InForce => t.get().in_force.to_owned(),
                                TokenState::Expired => t.get().expired.to_owned(),
                                TokenState::Stopped { reason, at, .. } => format!(
                                    "{} {}: {}", t.get().stopped, at.date(lang.get()), word(lang.get(), reason)
                                ),
                            }}</td>
                            <td>{in_force.then(|| {
                                let name = name.clone();
                                view! {
                                    <Show when=move || asking.get() == Some(id)
                                        fallback=move || view! {
                                            <button type="button" class="danger" on:click=move |_| asking.set(Some(id))>
                                                {move || t.get().revoke}
                                            </button>
                                        }>
                                        <div class="confirm-revoke" role="alertdialog" aria-label=name.clone()>
                                            <p>{move || t.get().revoke_confirm}</p>
                                            <button type="button" class="danger" on:click=move |_| {
                                                asking.set(None);
                                                revoke.dispatch(RevokeApiToken { id });
                                            }>{move || t.get().yes_revoke}</button>" "
                                            <button type="button" on:click=move |_| asking.set(None)>{move || t.get().cancel}</button>
                                        </div>
                                    </Show>
                                }
                            })}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }.into_any()
}
