//! The texts of the portal's mails. German first, then English, in one mail: the portal serves a
//! German-speaking community whose members do not all read German.
//!
//! Only the recipient goes into a header; names and addresses from the table appear in the body
//! only (HTML-escaped in the HTML part), so nothing a NAP types can forge a header.

use std::fmt::Write as _;

use domain::mailbox::MailboxType;
use domain::time::utc_date_time;

/// The subject of every challenge mail: fixed text, no input in it.
pub const CHALLENGE_SUBJECT: &str =
    "Bestätigung Ihrer E-Mail-Adresse / Please confirm your email address";

/// What a challenge mail says.
#[derive(Debug, Clone)]
pub struct ChallengeMail<'a> {
    /// The address whose control is being proven.
    pub address: &'a str,
    /// The primary address of its row (the same as `address` unless that is an alias).
    pub primary: &'a str,
    /// Personal or functional.
    pub mailbox_type: MailboxType,
    /// The row's first name (empty on functional rows).
    pub first_name: &'a str,
    /// The row's last name (a functional mailbox's name).
    pub last_name: &'a str,
    /// The confirmation link: `{base_url}/confirm/{token}`, from the configured base URL.
    pub link: &'a str,
    /// How long the link is valid, in hours.
    pub lifetime_hours: i64,
    /// The first moment at which it is no longer valid (Unix seconds).
    pub expires_at: i64,
}

/// A mail's subject and its two bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    /// The `Subject` header.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML alternative.
    pub html: String,
}

/// The confirmation link of a token: always from the configured base URL, never from a request's
/// Host header (which an attacker chooses).
pub fn confirmation_link(base_url: &str, token: &str) -> String {
    format!("{}/confirm/{token}", base_url.trim_end_matches('/'))
}

/// "7 Tage" / "7 days", or hours when the lifetime is not a whole number of days.
fn lifetime_text(hours: i64) -> (String, String) {
    match (hours % 24, hours / 24) {
        (0, 1) => ("1 Tag".into(), "1 day".into()),
        (0, days) => (format!("{days} Tage"), format!("{days} days")),
        _ if hours == 1 => ("1 Stunde".into(), "1 hour".into()),
        _ => (format!("{hours} Stunden"), format!("{hours} hours")),
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One paragraph in both languages, so the text and HTML parts say exactly the same.
struct Paragraphs {
    de: Vec<String>,
    en: Vec<String>,
}

fn paragraphs(mail: &ChallengeMail<'_>) -> Paragraphs {
    let name = format!("{} {}", mail.first_name, mail.last_name)
        .trim()
        .to_owned();
    let (life_de, life_en) = lifetime_text(mail.lifetime_hours);
    let until = utc_date_time(mail.expires_at);
    let mut de = Vec::new();
    let mut en = Vec::new();
    match mail.mailbox_type {
        MailboxType::Personal => {
            de.push(if name.is_empty() {
                "Guten Tag,".to_owned()
            } else {
                format!("Guten Tag {name},")
            });
            en.push(if name.is_empty() {
                "Hello,".to_owned()
            } else {
                format!("Hello {name},")
            });
            de.push(format!(
                "Ihre Registrierungsstelle (RA) bittet Sie zu bestätigen, dass Sie die \
                 E-Mail-Adresse {} nutzen. Danach können Sie für diese Adresse ein \
                 S/MIME-Zertifikat beantragen.",
                mail.address
            ));
            en.push(format!(
                "Your registration authority (RA) asks you to confirm that you use the email \
                 address {}. You can then request an S/MIME certificate for this address.",
                mail.address
            ));
        }
        MailboxType::Functional => {
            de.push("Guten Tag,".to_owned());
            en.push("Hello,".to_owned());
            de.push(format!(
                "Sie sind als Antragsteller/in für das Funktionspostfach „{name}“ ({}) \
                 eingetragen. Ihre Registrierungsstelle (RA) bittet Sie zu bestätigen, dass Sie \
                 die Adresse {} dieses Postfachs verwalten. Danach können Sie für das Postfach \
                 ein S/MIME-Zertifikat beantragen.",
                mail.primary, mail.address
            ));
            en.push(format!(
                "You are the applicant of the functional mailbox \"{name}\" ({}). Your \
                 registration authority (RA) asks you to confirm that you manage its address {}. \
                 You can then request an S/MIME certificate for the mailbox.",
                mail.primary, mail.address
            ));
        }
    }
    if mail.address != mail.primary && mail.mailbox_type == MailboxType::Personal {
        de.push(format!(
            "Die Adresse ist ein Alias des Postfachs {}.",
            mail.primary
        ));
        en.push(format!(
            "The address is an alias of the mailbox {}.",
            mail.primary
        ));
    }
    de.push(
        "Öffnen Sie den folgenden Link, melden Sie sich an und bestätigen Sie mit der \
         Schaltfläche „Bestätigen“:"
            .to_owned(),
    );
    en.push("Open the following link, log in and confirm with the button \"Confirm\":".to_owned());
    de.push(format!(
        "Der Link ist {life_de} gültig (bis {until}) und kann nur einmal verwendet werden. \
         Wenn Sie diese Nachricht nicht erwartet haben, ignorieren Sie sie bitte."
    ));
    en.push(format!(
        "The link is valid for {life_en} (until {until}) and can be used only once. If you did \
         not expect this message, please ignore it."
    ));
    Paragraphs { de, en }
}

/// Where the link goes: after the paragraph that asks to open it (index 2 or 3).
fn link_after(p: &[String]) -> usize {
    p.len() - 2
}

/// The challenge mail in German and English, as plain text with an HTML alternative.
pub fn challenge_mail(mail: &ChallengeMail<'_>) -> RenderedMail {
    let p = paragraphs(mail);
    let mut text = String::new();
    for (i, lang) in [&p.de, &p.en].into_iter().enumerate() {
        if i == 1 {
            text.push_str("----------------------------------------------------------------\n\n");
        }
        for (j, para) in lang.iter().enumerate() {
            text.push_str(para);
            text.push_str("\n\n");
            if j == link_after(lang) {
                let _ = write!(text, "    {}\n\n", mail.link);
            }
        }
    }
    text.push_str("-- \nRA-Portal / RA portal\n");

    let link = escape_html(mail.link);
    let mut html = String::from("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    html.push_str(&escape_html(CHALLENGE_SUBJECT));
    html.push_str("</title></head>\n<body style=\"font-family: sans-serif\">\n");
    for (i, (lang, code)) in [(&p.de, "de"), (&p.en, "en")].into_iter().enumerate() {
        if i == 1 {
            html.push_str("<hr>\n");
        }
        let _ = writeln!(html, "<div lang=\"{code}\">");
        for (j, para) in lang.iter().enumerate() {
            let _ = writeln!(html, "<p>{}</p>", escape_html(para));
            if j == link_after(lang) {
                let _ = writeln!(html, "<p><a href=\"{link}\">{link}</a></p>");
            }
        }
        html.push_str("</div>\n");
    }
    html.push_str("<p>-- <br>RA-Portal / RA portal</p>\n</body></html>\n");

    RenderedMail {
        subject: CHALLENGE_SUBJECT.to_owned(),
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail<'a>(link: &'a str) -> ChallengeMail<'a> {
        ChallengeMail {
            address: "anna@example.org",
            primary: "anna@example.org",
            mailbox_type: MailboxType::Personal,
            first_name: "Anna",
            last_name: "<Schmidt> & Co",
            link,
            lifetime_hours: 168,
            expires_at: 1_750_000_000,
        }
    }

    #[test]
    fn r09_mail_has_german_then_english_with_link_and_lifetime() {
        let m = challenge_mail(&mail("https://ra.example.org/confirm/abc"));
        assert_eq!(m.subject, CHALLENGE_SUBJECT);
        let de = m.text.find("Guten Tag Anna").unwrap();
        let en = m.text.find("Hello Anna").unwrap();
        assert!(de < en);
        assert_eq!(
            m.text.matches("https://ra.example.org/confirm/abc").count(),
            2
        );
        assert!(m.text.contains("7 Tage gültig (bis 2025-06-15 15:06 UTC)"));
        assert!(m.text.contains("valid for 7 days"));
        assert!(m
            .html
            .contains("<a href=\"https://ra.example.org/confirm/abc\">"));
    }

    #[test]
    fn names_are_escaped_in_the_html_part() {
        let m = challenge_mail(&mail("https://ra.example.org/confirm/abc"));
        assert!(
            m.html.contains("Anna &lt;Schmidt&gt; &amp; Co"),
            "{}",
            m.html
        );
        assert!(!m.html.contains("<Schmidt>"));
    }

    #[test]
    fn r09_functional_mail_names_the_mailbox() {
        let mut m = mail("http://x/confirm/t");
        m.mailbox_type = MailboxType::Functional;
        m.first_name = "";
        m.last_name = "Helpdesk";
        m.primary = "helpdesk@example.org";
        m.address = "support@example.org";
        let m = challenge_mail(&m);
        assert!(m
            .text
            .contains("Funktionspostfach „Helpdesk“ (helpdesk@example.org)"));
        assert!(m
            .text
            .contains("functional mailbox \"Helpdesk\" (helpdesk@example.org)"));
        assert!(m.text.contains("support@example.org"));
    }

    #[test]
    fn lifetimes_read_in_days_or_hours() {
        assert_eq!(lifetime_text(24), ("1 Tag".into(), "1 day".into()));
        assert_eq!(lifetime_text(168).1, "7 days");
        assert_eq!(lifetime_text(36).1, "36 hours");
        assert_eq!(lifetime_text(1).1, "1 hour");
    }

    #[test]
    fn links_come_from_the_base_url() {
        assert_eq!(
            confirmation_link("https://ra.example.org/", "tok"),
            "https://ra.example.org/confirm/tok"
        );
    }
}
