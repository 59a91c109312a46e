//! The HTML document around every page, and the router.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{path, Lazy};

use crate::auth::{provide_session, use_session};
use crate::hydrated::mark_hydrated;
use crate::i18n::{provide_lang, use_texts, CurrentLang, Lang};
use crate::lazy_pages::{
    ApiTokensRoute, AuditRoute, CertificatesRoute, ConfirmRoute, LoginRoute, OperatorRoute,
};
use crate::pages::domain_table::DomainTablePage;
use crate::pages::home::HomePage;
use crate::pages::my_domains::MyDomainsPage;

/// The whole document, rendered on the server for every page request. `stylesheet` is the URL of
/// the CSS of the server's own build (its name holds a hash; server/src/site_files.rs). The link is
/// here, not in `App`, because only the server renders the head: the client never needs the name.
pub fn shell(options: LeptosOptions, stylesheet: String) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::on_server::content_security_policy::provide_for_response();
    let lang = initial_lang();
    let session = serde_json::to_string(&crate::auth::initial_session()).unwrap_or_default();
    view! {
        <!DOCTYPE html>
        <html lang=lang.tag()>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <link rel="stylesheet" id="leptos" href=stylesheet/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body data-session=session>
                <App/>
            </body>
        </html>
    }
}

/// The language to render in: from the request on the server, from `<html lang>` in the browser.
fn initial_lang() -> Lang {
    #[cfg(feature = "ssr")]
    {
        crate::on_server::request_lang()
    }
    #[cfg(not(feature = "ssr"))]
    {
        document()
            .document_element()
            .and_then(|html| html.get_attribute("lang"))
            .and_then(|tag| Lang::from_tag(&tag))
            .unwrap_or_default()
    }
}

/// The application: header with navigation, and the routed page.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let CurrentLang(lang) = provide_lang(initial_lang());
    provide_session();
    let t = use_texts();
    // leptos_meta may render the <title> after this component's reactive owner is gone (seen
    // as rare SSR panics, "disposed" and "no Arena is active", under concurrent requests), so the
    // title is a plain string of the first language, not a reactive read.
    let title = lang.get_untracked().texts().app_name;

    view! {
        <Title text=title/>
        <Router>
            <header class="top">
                <A href="/" attr:class="brand">{move || t.get().app_name}</A>
                <MainNav/>
                <LanguageSwitch/>
            </header>
            <main>
                // Each page marks the body hydrated itself: a lazy page (crate::lazy_pages)
                // hydrates only after its module has arrived, later than this component.
                <Routes fallback=|| { mark_hydrated(); view! { <NotFound/> } }>
                    <Route path=path!("") view=|| { mark_hydrated(); view! { <HomePage/> } }/>
                    <Route path=path!("login") view={Lazy::<LoginRoute>::new()}/>
                    <Route path=path!("domains") view=|| { mark_hydrated(); view! { <MyDomainsPage/> } }/>
                    <Route path=path!("domains/:domain") view=|| { mark_hydrated(); view! { <DomainTablePage/> } }/>
                    <Route path=path!("domains/:domain/audit") view={Lazy::<AuditRoute>::new()}/>
                    <Route path=path!("certificates") view={Lazy::<CertificatesRoute>::new()}/>
                    <Route path=path!("operator") view={Lazy::<OperatorRoute>::new()}/>
                    <Route path=path!("api-tokens") view={Lazy::<ApiTokensRoute>::new()}/>
                    <Route path=path!("confirm/:token") view={Lazy::<ConfirmRoute>::new()}/>
                </Routes>
            </main>
        </Router>
    }
}

/// The navigation: what the signed-in user may use. Only for the eye: every server function and
/// route checks the role again (Q1).
#[component]
fn MainNav() -> impl IntoView {
    let t = use_texts();
    view! {
            {
                match use_session().viewer {
                    None => view! {
                        <nav class="main-nav"></nav>
                        <a class="login-link" href="/login">{move || t.get().nav_login}</a>
                    }.into_any(),
                    Some(v) => view! {
                        <nav class="main-nav">
                            {v.is_nap().then(|| view! { <A href="/domains">{move || t.get().nav_my_domains}</A> })}
                            <A href="/certificates">{move || t.get().nav_my_certificates}</A>
                            {v.is_operator.then(|| view! { <A href="/operator">{move || t.get().nav_operator}</A> })}
                            {(v.is_nap() || v.is_operator).then(|| {
                                let CurrentLang(lang) = expect_context::<CurrentLang>();
                                view! { <A href="/api-tokens">{move || crate::pages::api_tokens::texts(lang.get()).heading}</A> }
                            })}
                        </nav>
                        <span class="who" title=v.user_id.clone()>{v.display_name.clone()}</span>
                        <form method="post" action="/auth/logout" class="logout">
                            <button type="submit">{move || t.get().nav_logout}</button>
                        </form>
                    }.into_any(),
                }
            }
    }
}

/// Switches the interface language at once and remembers the choice in a cookie.
#[component]
fn LanguageSwitch() -> impl IntoView {
    let CurrentLang(lang) = expect_context::<CurrentLang>();
    let t = use_texts();
    let remember = ServerAction::<crate::pages::home::SetLanguage>::new();
    let on_click = move |_| {
        let next = lang.get_untracked().other();
        lang.set(next);
        remember.dispatch(crate::pages::home::SetLanguage { lang: next });
        if let Some(html) = document().document_element() {
            let _ = html.set_attribute("lang", next.tag());
        }
    };
    view! {
        <button type="button" class="lang-switch" on:click=on_click>
            {move || t.get().switch_language}
        </button>
    }
}

/// The page for unknown paths.
#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        let resp = expect_context::<leptos_axum::ResponseOptions>();
        resp.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    let t = use_texts();
    view! { <p class="not-found">{move || t.get().not_found}</p> }
}
