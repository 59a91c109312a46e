//! The texts of the portal's mails. German first, then English, in one mail: the portal serves a
//! German-speaking community whose members do not all read German.
//!
//! Only the recipient goes into a header; names and addresses from the table appear in the body
//! only (HTML-escaped in the HTML part), so nothing a NAP types can forge a header.

use std::fmt::Write as _;

use domain::certificate::RevocationReason;
use domain::mailbox::MailboxType;
use domain::time::{utc_date, utc_date_time};

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
pub(crate) struct Paragraphs {
    pub(crate) de: Vec<String>,
    pub(crate) en: Vec<String>,
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
    render(
        CHALLENGE_SUBJECT,
        &paragraphs(mail),
        Some((mail.link, link_after)),
    )
}

/// The subject of every revocation mail: fixed text, no input in it.
pub const REVOCATION_SUBJECT: &str =
    "Ihr Zertifikat wurde gesperrt / Your certificate has been revoked";

/// Who revoked a certificate, as its owner's mail says it (R15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokedBy {
    /// The owner themselves.
    Owner,
    /// A contact person (NAP) of the row's domain.
    Nap,
    /// The portal, because the organisation's identity management reported the owner gone (R22).
    Idm,
}

/// What the mail confirming a revocation to the certificate's owner says (R15).
#[derive(Debug, Clone)]
pub struct RevocationMail<'a> {
    /// Serial number, hex.
    pub serial: &'a str,
    /// Subject DN as text.
    pub subject: &'a str,
    /// The certificate's addresses.
    pub addresses: &'a [String],
    /// Why.
    pub reason: RevocationReason,
    /// Who.
    pub by: RevokedBy,
    /// When (Unix seconds).
    pub revoked_at: i64,
}

/// The German name of a revocation reason (the English one is [`RevocationReason::label`]).
fn reason_de(reason: RevocationReason) -> &'static str {
    match reason {
        RevocationReason::Unspecified => "ohne Angabe",
        RevocationReason::KeyCompromise => "privater Schlüssel kompromittiert",
        RevocationReason::AffiliationChanged => "Zugehörigkeit geändert",
        RevocationReason::Superseded => "ersetzt",
        RevocationReason::CessationOfOperation => "Nutzung beendet",
        RevocationReason::PrivilegeWithdrawn => "Berechtigung entzogen",
    }
}

fn revocation_paragraphs(mail: &RevocationMail<'_>) -> Paragraphs {
    let addresses = mail.addresses.join(", ");
    let at = utc_date_time(mail.revoked_at);
    let (by_de, by_en) = match mail.by {
        RevokedBy::Owner => ("von Ihnen selbst", "by yourself"),
        RevokedBy::Nap => (
            "von der Kontaktperson (NAP) Ihrer E-Mail-Domain",
            "by the contact person (NAP) of your email domain",
        ),
        RevokedBy::Idm => (
            "vom RA-Portal, weil das Identitätsmanagement Ihrer Einrichtung Sie als ausgeschieden \
             gemeldet hat,",
            "by the RA portal because your organisation's identity management reported that you \
             left",
        ),
    };
    let de = vec![
        "Guten Tag,".to_owned(),
        format!(
            "Ihr S/MIME-Zertifikat für {addresses} wurde am {at} {by_de} gesperrt (widerrufen)."
        ),
        format!(
            "Seriennummer: {}\nInhaber (Subject): {}\nGrund: {}",
            mail.serial,
            mail.subject,
            reason_de(mail.reason)
        ),
        "Die Sperrung steht ab sofort in der Sperrliste (CRL) der Zertifizierungsstelle. \
         Signieren Sie mit diesem Zertifikat nicht mehr; zum Entschlüsseln älterer Nachrichten \
         behalten Sie den privaten Schlüssel. Ein neues Zertifikat können Sie im RA-Portal unter \
         „Meine Client-Zertifikate“ beantragen, solange Ihre Adresse dort freigegeben ist. Wenn \
         Sie diese Sperrung nicht erwartet haben, wenden Sie sich bitte an die Kontaktperson \
         Ihrer E-Mail-Domain."
            .to_owned(),
    ];
    let en = vec![
        "Hello,".to_owned(),
        format!("Your S/MIME certificate for {addresses} was revoked on {at} {by_en}."),
        format!(
            "Serial number: {}\nSubject: {}\nReason: {}",
            mail.serial,
            mail.subject,
            mail.reason.label()
        ),
        "The revocation is published in the certification authority's revocation list (CRL) \
         at once. Do not sign with this certificate any more; keep its private key to decrypt \
         older messages. You can request a new certificate in the RA portal under \"My client \
         certificates\" as long as your address is approved there. If you did not expect this \
         revocation, please contact the contact person of your email domain."
            .to_owned(),
    ];
    Paragraphs { de, en }
}

/// The mail confirming a revocation to the certificate's owner, German then English, as plain
/// text with an HTML alternative.
pub fn revocation_mail(mail: &RevocationMail<'_>) -> RenderedMail {
    render(REVOCATION_SUBJECT, &revocation_paragraphs(mail), None)
}

/// The subject of every expiry reminder: fixed text, no input in it.
pub const REMINDER_SUBJECT: &str = "Ihr Zertifikat läuft bald ab / Your certificate expires soon";

/// What an expiry reminder says (R23).
#[derive(Debug, Clone)]
pub struct ReminderMail<'a> {
    /// Serial number, hex.
    pub serial: &'a str,
    /// The certificate's addresses.
    pub addresses: &'a [String],
    /// Its end of validity (Unix seconds).
    pub not_after: i64,
    /// Now (Unix seconds), to say how many days are left.
    pub now: i64,
    /// "My client certificates": `{base_url}/certificates`.
    pub link: &'a str,
}

/// "in 3 Tagen" / "in 3 days", counting a started day as a day.
fn days_left_text(secs: i64) -> (String, String) {
    match (secs.max(0) + 86_399) / 86_400 {
        0 | 1 => (
            "in weniger als einem Tag".into(),
            "in less than a day".into(),
        ),
        n => (format!("in {n} Tagen"), format!("in {n} days")),
    }
}

/// A mail of paragraphs in German, then English, with `link` after each language's paragraphs.
pub(crate) fn bilingual_mail(subject: &str, p: &Paragraphs, link: &str) -> RenderedMail {
    render(subject, p, Some((link, |lang| lang.len() - 1)))
}

/// A mail's link and where it stands: after the paragraph (index) the function picks from each
/// language's paragraphs.
type PlacedLink<'a> = (&'a str, fn(&[String]) -> usize);

/// A mail of paragraphs in German, then English, as plain text with an HTML alternative, with
/// its link, if any.
fn render(subject: &str, p: &Paragraphs, link: Option<PlacedLink<'_>>) -> RenderedMail {
    let link_here = |lang: &[String], j| link.filter(|(_, after)| after(lang) == j);
    let mut text = String::new();
    for (i, lang) in [&p.de, &p.en].into_iter().enumerate() {
        if i == 1 {
            text.push_str("----------------------------------------------------------------\n\n");
        }
        for (j, para) in lang.iter().enumerate() {
            text.push_str(para);
            text.push_str("\n\n");
            if let Some((link, _)) = link_here(lang, j) {
                let _ = write!(text, "    {link}\n\n");
            }
        }
    }
    text.push_str("-- \nRA-Portal / RA portal\n");

    let mut html = String::from("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    html.push_str(&escape_html(subject));
    html.push_str("</title></head>\n<body style=\"font-family: sans-serif\">\n");
    for (i, (lang, code)) in [(&p.de, "de"), (&p.en, "en")].into_iter().enumerate() {
        if i == 1 {
            html.push_str("<hr>\n");
        }
        let _ = writeln!(html, "<div lang=\"{code}\">");
        for (j, para) in lang.iter().enumerate() {
            let lines: Vec<String> = para.split('\n').map(escape_html).collect();
            let _ = writeln!(html, "<p>{}</p>", lines.join("<br>"));
            if let Some((link, _)) = link_here(lang, j) {
                let href = escape_html(link);
                let _ = writeln!(html, "<p><a href=\"{href}\">{href}</a></p>");
            }
        }
        html.push_str("</div>\n");
    }
    html.push_str("<p>-- <br>RA-Portal / RA portal</p>\n</body></html>\n");
    RenderedMail {
        subject: subject.to_owned(),
        text,
        html,
    }
}

/// The expiry reminder to a certificate's holder (R23), German then English.
pub fn reminder_mail(mail: &ReminderMail<'_>) -> RenderedMail {
    let addresses = mail.addresses.join(", ");
    let until = utc_date_time(mail.not_after);
    let (left_de, left_en) = days_left_text(mail.not_after - mail.now);
    let p = Paragraphs {
        de: vec![
            "Guten Tag,".to_owned(),
            format!(
                "Ihr S/MIME-Zertifikat für {addresses} läuft {left_de} ab (am {until}). \
                 Danach können Sie damit nicht mehr signieren, und andere können Ihnen keine \
                 verschlüsselten Nachrichten mehr schicken."
            ),
            format!("Seriennummer: {}", mail.serial),
            "Beantragen Sie rechtzeitig ein neues Zertifikat unter „Meine Client-Zertifikate“ \
             im RA-Portal. Behalten Sie den privaten Schlüssel des alten Zertifikats, um ältere \
             Nachrichten zu entschlüsseln."
                .to_owned(),
        ],
        en: vec![
            "Hello,".to_owned(),
            format!(
                "Your S/MIME certificate for {addresses} expires {left_en} (on {until}). After \
                 that you cannot sign with it, and others cannot send you encrypted messages."
            ),
            format!("Serial number: {}", mail.serial),
            "Please request a new certificate in time under \"My client certificates\" in the \
             RA portal. Keep the old certificate's private key to decrypt older messages."
                .to_owned(),
        ],
    };
    bilingual_mail(REMINDER_SUBJECT, &p, mail.link)
}

/// A deactivated row with valid certificates, as the digest lists it (R19, R23).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestLeaver {
    /// Primary address.
    pub primary: String,
    /// Name as the table shows it.
    pub name: String,
    /// How many valid certificates it still has.
    pub certificates: usize,
    /// The S/MIME BR revocation deadline (Unix seconds).
    pub deadline: i64,
}

/// A certificate that expires soon, as the digest lists it (R23).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestExpiring {
    /// Serial number, hex.
    pub serial: String,
    /// The holder's name (their user ID when the IdM gave none).
    pub holder: String,
    /// The row's primary address.
    pub primary: String,
    /// End of validity (Unix seconds).
    pub not_after: i64,
}

/// A challenge whose mail failed or which expired unconfirmed, as the digest lists it (R23).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChallenge {
    /// The address it was to prove.
    pub address: String,
    /// Where its mail went.
    pub recipient: String,
    /// When it failed or expired (Unix seconds).
    pub at: i64,
    /// The relay's reply, for a failed mail.
    pub error: Option<String>,
}

/// What a NAP's digest of one domain says (R23).
#[derive(Debug, Clone)]
pub struct DigestMail<'a> {
    /// The domain (ASCII).
    pub domain: &'a str,
    /// Since when failed and expired challenges are reported (the previous digest).
    pub since: i64,
    /// Deactivated rows that still have valid certificates.
    pub leavers: &'a [DigestLeaver],
    /// Certificates of active rows that expire within 30 days.
    pub expiring: &'a [DigestExpiring],
    /// Challenge mails that failed for good.
    pub failed: &'a [DigestChallenge],
    /// Challenges that expired unconfirmed.
    pub expired: &'a [DigestChallenge],
    /// The domain's table: `{base_url}/domains/{domain}`.
    pub link: &'a str,
}

/// A paragraph of the digest: its heading, then a line per item.
fn list<T>(heading: &str, items: &[T], line: impl Fn(&T) -> String) -> String {
    let lines = items.iter().map(line);
    std::iter::once(heading.to_owned())
        .chain(lines)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The subject of a digest; the domain is the only input in it, and it is a registered domain
/// name (letters, digits, dots and hyphens), so it cannot forge a header.
pub fn digest_subject(domain: &str) -> String {
    format!("RA-Portal: Übersicht / digest {domain}")
}

/// The NAP's digest of a domain (R23), German then English; one list per kind of news, empty
/// lists left out.
pub fn digest_mail(mail: &DigestMail<'_>) -> RenderedMail {
    let since = utc_date_time(mail.since);
    let mut de = vec![
        "Guten Tag,".to_owned(),
        format!(
            "dies ist die Übersicht des RA-Portals für die E-Mail-Domain {}.",
            mail.domain
        ),
    ];
    let mut en = vec![
        "Hello,".to_owned(),
        format!(
            "this is the RA portal's digest for the email domain {}.",
            mail.domain
        ),
    ];
    if !mail.leavers.is_empty() {
        let line = |l: &DigestLeaver, certificates: &str, deadline: &str| {
            let d = utc_date_time(l.deadline);
            format!(
                "- {} ({}): {} {certificates}, {deadline} {d}",
                l.primary, l.name, l.certificates
            )
        };
        de.push(list(
            "Deaktivierte Zeilen mit gültigen Zertifikaten (nach den S/MIME Baseline \
             Requirements bis zur Frist zu sperren):",
            mail.leavers,
            |l| line(l, "Zertifikat(e)", "Frist"),
        ));
        en.push(list(
            "Deactivated rows with valid certificates (to be revoked by the S/MIME Baseline \
             Requirements' deadline):",
            mail.leavers,
            |l| line(l, "certificate(s)", "deadline"),
        ));
    }
    if !mail.expiring.is_empty() {
        let line = |e: &DigestExpiring, until: &str| {
            let day = utc_date(e.not_after);
            format!(
                "- {} ({}), {until} {day}, {}",
                e.primary, e.holder, e.serial
            )
        };
        de.push(list(
            "Zertifikate, die in den nächsten 30 Tagen ablaufen:",
            mail.expiring,
            |e| line(e, "bis"),
        ));
        en.push(list(
            "Certificates that expire within 30 days:",
            mail.expiring,
            |e| line(e, "until"),
        ));
    }
    if !mail.failed.is_empty() {
        let line = |c: &DigestChallenge| {
            let error = c.error.as_deref().unwrap_or("-");
            let at = utc_date_time(c.at);
            format!("- {} → {}, {at}: {error}", c.address, c.recipient)
        };
        de.push(list(
            &format!("Challenge-Mails, die seit {since} nicht zugestellt werden konnten:"),
            mail.failed,
            line,
        ));
        en.push(list(
            &format!("Challenge mails that could not be delivered since {since}:"),
            mail.failed,
            line,
        ));
    }
    if !mail.expired.is_empty() {
        let line = |c: &DigestChallenge| {
            let at = utc_date_time(c.at);
            format!("- {} → {}, {at}", c.address, c.recipient)
        };
        de.push(list(
            &format!("Challenges, die seit {since} unbestätigt abgelaufen sind:"),
            mail.expired,
            line,
        ));
        en.push(list(
            &format!("Challenges that expired unconfirmed since {since}:"),
            mail.expired,
            line,
        ));
    }
    de.push(
        "Die Tabelle der Domain im RA-Portal (dort können Sie diese Übersicht auch abbestellen):"
            .to_owned(),
    );
    en.push(
        "The domain's table in the RA portal (where you can also turn this digest off):".to_owned(),
    );
    bilingual_mail(
        &digest_subject(mail.domain),
        &Paragraphs { de, en },
        mail.link,
    )
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

    fn revocation(by: RevokedBy) -> RenderedMail {
        revocation_mail(&RevocationMail {
            serial: "1a2b3c",
            subject: "CN=Anna <Schmidt>",
            addresses: &["anna@example.org".to_owned(), "a.s@example.org".to_owned()],
            reason: RevocationReason::AffiliationChanged,
            by,
            revoked_at: 1_750_000_000,
        })
    }

    #[test]
    fn r15_revocation_mail_states_serial_addresses_reason_who_and_when_in_german_then_english() {
        let m = revocation(RevokedBy::Owner);
        assert_eq!(m.subject, REVOCATION_SUBJECT);
        let de = m
            .text
            .find("Ihr S/MIME-Zertifikat für anna@example.org, a.s@example.org wurde am 2025-06-15 15:06 UTC von Ihnen selbst gesperrt")
            .unwrap();
        let en = m
            .text
            .find("Your S/MIME certificate for anna@example.org, a.s@example.org was revoked on 2025-06-15 15:06 UTC by yourself.")
            .unwrap();
        assert!(de < en);
        assert!(m.text.contains("Seriennummer: 1a2b3c"));
        assert!(m.text.contains("Serial number: 1a2b3c"));
        assert!(m.text.contains("Grund: Zugehörigkeit geändert"));
        assert!(m.text.contains("Reason: affiliation changed"));
        let nap = revocation(RevokedBy::Nap);
        assert!(nap
            .text
            .contains("von der Kontaktperson (NAP) Ihrer E-Mail-Domain gesperrt"));
        assert!(nap
            .text
            .contains("by the contact person (NAP) of your email domain."));
    }

    #[test]
    fn revocation_mail_escapes_the_subject_in_html() {
        let m = revocation(RevokedBy::Owner);
        assert!(m.html.contains("CN=Anna &lt;Schmidt&gt;"), "{}", m.html);
        assert!(!m.html.contains("<Schmidt>"));
        assert!(m.html.contains("Seriennummer: 1a2b3c<br>"));
    }

    #[test]
    fn links_come_from_the_base_url() {
        assert_eq!(
            confirmation_link("https://ra.example.org/", "tok"),
            "https://ra.example.org/confirm/tok"
        );
    }
}
