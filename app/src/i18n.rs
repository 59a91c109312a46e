//! Every text the user sees, in English and German, in one place.
//!
//! Texts are fields of a struct, so a text missing in one language is a compile error rather than a
//! blank on the page. The language comes from a `lang` cookie or the browser's Accept-Language on the
//! server, and from the `<html lang>` attribute the server wrote when the browser hydrates, so both
//! sides render the same words.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A language of the user interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// German.
    De,
}

impl Lang {
    /// The BCP 47 tag, as in `<html lang>` and the `lang` cookie.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    /// Reads a tag such as `de`, `de-DE` or `en-GB`; other languages give `None`.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "de" => Some(Lang::De),
            _ => None,
        }
    }

    /// Picks the language from a `lang` cookie value, else an Accept-Language header (first supported
    /// language by q-value), else English.
    pub fn negotiate(cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(lang) = cookie.and_then(Lang::from_tag) {
            return lang;
        }
        let mut best: Option<(f32, Lang)> = None;
        for part in accept_language.unwrap_or_default().split(',') {
            let mut pieces = part.split(';');
            let Some(lang) = pieces.next().and_then(Lang::from_tag) else {
                continue;
            };
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, lang)| lang).unwrap_or_default()
    }

    /// The other language, for the switch button.
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::De,
            Lang::De => Lang::En,
        }
    }

    /// All texts in this language.
    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &EN,
            Lang::De => &DE,
        }
    }
}

/// The texts of the user interface.
#[derive(Debug)]
pub struct Texts {
    /// Name of the product, in the title bar and header.
    pub app_name: &'static str,
    /// The language switch button: names the language it switches to.
    pub switch_language: &'static str,
    /// Navigation: the NAP's tab.
    pub nav_my_domains: &'static str,
    /// Navigation: every user's tab.
    pub nav_my_certificates: &'static str,
    /// Home page heading.
    pub home_heading: &'static str,
    /// Home page: what the portal is for.
    pub home_intro: &'static str,
    /// Home page: the NAP's part.
    pub home_for_naps: &'static str,
    /// Home page: the user's part.
    pub home_for_users: &'static str,
    /// 404 page.
    pub not_found: &'static str,
    /// Navigation: log in.
    pub nav_login: &'static str,
    /// Navigation: log out.
    pub nav_logout: &'static str,
    /// Navigation: the operators' page.
    pub nav_operator: &'static str,
    /// Shown instead of a page that needs a login.
    pub please_log_in: &'static str,
    /// Login page heading.
    pub login_heading: &'static str,
    /// Login form: user name.
    pub login_username: &'static str,
    /// Login form: password.
    pub login_password: &'static str,
    /// Login form: submit.
    pub login_button: &'static str,
    /// Login refused.
    pub login_invalid: &'static str,
    /// OIDC login came back too late or from another browser.
    pub login_flow_expired: &'static str,
    /// Login failed for another reason.
    pub login_failed: &'static str,
    /// Login page with an IdP.
    pub login_oidc_intro: &'static str,
    /// Button to the IdP.
    pub login_oidc_button: &'static str,
    /// Operator page heading.
    pub operator_heading: &'static str,
    /// Column: domain.
    pub operator_domain: &'static str,
    /// Column: contact group.
    pub operator_contact_group: &'static str,
    /// Register form heading.
    pub operator_register_heading: &'static str,
    /// Register button.
    pub operator_register_button: &'static str,
    /// Generic save button.
    pub save: &'static str,
    /// Shown after a save.
    pub saved: &'static str,
    /// A user who is NAP of no domain.
    pub domains_none: &'static str,
    /// Label: user ID.
    pub user_id: &'static str,
    /// Label: the CN of personal certificates.
    pub name_in_certificates: &'static str,
}

static EN: Texts = Texts {
    app_name: "RA Portal",
    switch_language: "Deutsch",
    nav_my_domains: "My email domains",
    nav_my_certificates: "My client certificates",
    home_heading: "S/MIME certificates for your organisation",
    home_intro: "This portal decides who may get an S/MIME certificate for which email address.",
    home_for_naps: "Network contact persons (NAPs) keep the table of mailboxes of their email domains and send challenge emails that prove who reads each mailbox.",
    home_for_users: "Everyone who confirmed a challenge can request and revoke certificates for their addresses under “My client certificates”.",
    not_found: "This page does not exist.",
    nav_login: "Log in",
    nav_logout: "Log out",
    nav_operator: "Domains (operator)",
    please_log_in: "Please log in to see this page.",
    login_heading: "Log in",
    login_username: "User name",
    login_password: "Password",
    login_button: "Log in",
    login_invalid: "Unknown user name or wrong password.",
    login_flow_expired: "The login took too long or was started elsewhere. Please try again.",
    login_failed: "The login did not work. Please try again; if it persists, tell the portal's operators.",
    login_oidc_intro: "Log in with the account of your organisation.",
    login_oidc_button: "Log in with your organisation's account",
    operator_heading: "Email domains of the portal",
    operator_domain: "Email domain",
    operator_contact_group: "Contact group (NAPs)",
    operator_register_heading: "Register an email domain",
    operator_register_button: "Register",
    save: "Save",
    saved: "Saved.",
    domains_none: "You are not a contact person (NAP) of any email domain.",
    user_id: "Your user ID",
    name_in_certificates: "Name in your certificates",
};

static DE: Texts = Texts {
    app_name: "RA-Portal",
    switch_language: "English",
    nav_my_domains: "Meine E-Mail-Domains",
    nav_my_certificates: "Meine Client-Zertifikate",
    home_heading: "S/MIME-Zertifikate für Ihre Einrichtung",
    home_intro: "Dieses Portal legt fest, wer für welche E-Mail-Adresse ein S/MIME-Zertifikat erhalten darf.",
    home_for_naps: "Netzwerk-Ansprechpartner (NAPs) pflegen die Postfachtabelle ihrer E-Mail-Domains und versenden Challenge-Mails, die zeigen, wer ein Postfach liest.",
    home_for_users: "Wer eine Challenge bestätigt hat, kann unter „Meine Client-Zertifikate“ Zertifikate für seine Adressen beantragen und sperren.",
    not_found: "Diese Seite gibt es nicht.",
    nav_login: "Anmelden",
    nav_logout: "Abmelden",
    nav_operator: "Domains (Betrieb)",
    please_log_in: "Bitte melden Sie sich an, um diese Seite zu sehen.",
    login_heading: "Anmelden",
    login_username: "Benutzername",
    login_password: "Passwort",
    login_button: "Anmelden",
    login_invalid: "Unbekannter Benutzername oder falsches Passwort.",
    login_flow_expired: "Die Anmeldung hat zu lange gedauert oder wurde woanders begonnen. Bitte versuchen Sie es erneut.",
    login_failed: "Die Anmeldung hat nicht funktioniert. Bitte versuchen Sie es erneut; wenn es so bleibt, wenden Sie sich an den Betrieb des Portals.",
    login_oidc_intro: "Melden Sie sich mit dem Konto Ihrer Einrichtung an.",
    login_oidc_button: "Mit dem Konto Ihrer Einrichtung anmelden",
    operator_heading: "E-Mail-Domains des Portals",
    operator_domain: "E-Mail-Domain",
    operator_contact_group: "Kontaktgruppe (NAPs)",
    operator_register_heading: "E-Mail-Domain registrieren",
    operator_register_button: "Registrieren",
    save: "Speichern",
    saved: "Gespeichert.",
    domains_none: "Sie sind für keine E-Mail-Domain Ansprechpartner (NAP).",
    user_id: "Ihre Benutzerkennung",
    name_in_certificates: "Name in Ihren Zertifikaten",
};

/// The current language, shared by every component through context.
#[derive(Debug, Clone, Copy)]
pub struct CurrentLang(pub RwSignal<Lang>);

/// Puts the language into context; call once at the root.
pub fn provide_lang(initial: Lang) -> CurrentLang {
    let lang = CurrentLang(RwSignal::new(initial));
    provide_context(lang);
    lang
}

/// The texts of the current language, reactive.
pub fn use_texts() -> Signal<&'static Texts> {
    let CurrentLang(lang) = expect_context::<CurrentLang>();
    Signal::derive(move || lang.get().texts())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_wins_over_accept_language() {
        assert_eq!(
            Lang::negotiate(Some("de"), Some("en-US,en;q=0.9")),
            Lang::De
        );
    }

    #[test]
    fn accept_language_is_read_by_q_value() {
        assert_eq!(
            Lang::negotiate(None, Some("fr;q=1.0, en;q=0.5, de-DE;q=0.8")),
            Lang::De
        );
        assert_eq!(Lang::negotiate(None, Some("de-AT")), Lang::De);
        assert_eq!(Lang::negotiate(None, Some("fr, it")), Lang::En);
        assert_eq!(Lang::negotiate(Some("xx"), None), Lang::En);
    }
}
