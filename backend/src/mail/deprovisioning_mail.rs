//! The mails of IdM deprovisioning (SPEC R22): the NAPs' list of one sync run per domain, and the
//! operators' note that the circuit breaker held deprovisionings. German then English, as the
//! other mails.

use super::templates::{bilingual_mail, Paragraphs, RenderedMail};

/// The subject of the operators' note: fixed text, no input in it.
pub const HELD_SUBJECT: &str =
    "RA-Portal: Deprovisionierung angehalten / deprovisioning held for an operator";

/// What a sync run did to one row of the domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// A personal row: deactivated (unless it was already) and certificates revoked.
    Deactivated {
        /// Whether this run deactivated it.
        deactivated: bool,
        /// Certificates revoked.
        revoked: i64,
    },
    /// A personal row proposed on the worklist (domain setting "propose").
    Proposed,
    /// A functional row: the applicant's links dropped and certificates revoked; a new
    /// applicant is needed (S7).
    NewApplicantNeeded {
        /// Certificates revoked.
        revoked: i64,
    },
    /// A row shared with others: only the leaver's links and certificates went.
    LinkDropped {
        /// Links dropped.
        links: i64,
        /// Certificates revoked.
        revoked: i64,
    },
    /// Held by the circuit breaker for an operator.
    Held,
    /// A proposal or a hold that a NAP or an operator decided before this mail went out.
    Decided,
}

/// One line of the NAPs' mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEntry {
    /// The leaver's name (their user ID when the IdM gave none).
    pub user: String,
    /// The row's primary address.
    pub primary: String,
    /// What happened.
    pub outcome: RunOutcome,
}

/// The subject of a run's mail; the domain is the only input, a registered domain name (letters,
/// digits, dots and hyphens), so it cannot forge a header.
pub fn run_subject(domain: &str) -> String {
    format!("RA-Portal: Abgänge laut IdM / leavers reported by the IdM: {domain}")
}

fn line_de(e: &RunEntry) -> String {
    let what = match e.outcome {
        RunOutcome::Deactivated {
            deactivated,
            revoked,
        } => format!(
            "{}{revoked} Zertifikat(e) gesperrt (Zugehörigkeit geändert)",
            if deactivated {
                "Zeile deaktiviert, "
            } else {
                ""
            }
        ),
        RunOutcome::Proposed => {
            "Vorschlag in der Arbeitsliste: bitte annehmen (deaktivieren und sperren) oder \
             verwerfen"
                .to_owned()
        }
        RunOutcome::NewApplicantNeeded { revoked } => format!(
            "Funktionspostfach bleibt aktiv; Verknüpfung entfernt, {revoked} Zertifikat(e) \
             gesperrt. Bitte tragen Sie eine neue Antragstellerin / einen neuen Antragsteller \
             ein und senden Sie die Challenge."
        ),
        RunOutcome::LinkDropped { links, revoked } => format!(
            "{links} Verknüpfung(en) entfernt, {revoked} Zertifikat(e) gesperrt; die Zeile \
             bleibt für die anderen verknüpften Personen"
        ),
        RunOutcome::Held => {
            "vom Schutzschalter angehalten: ein Operator bestätigt oder verwirft es".to_owned()
        }
        RunOutcome::Decided => {
            "bereits entschieden (siehe Arbeitsliste und Änderungsprotokoll)".to_owned()
        }
    };
    format!("- {} ({}): {what}", e.primary, e.user)
}

fn line_en(e: &RunEntry) -> String {
    let what = match e.outcome {
        RunOutcome::Deactivated {
            deactivated,
            revoked,
        } => format!(
            "{}{revoked} certificate(s) revoked (affiliation changed)",
            if deactivated { "row deactivated, " } else { "" }
        ),
        RunOutcome::Proposed => {
            "proposal on the worklist: please accept it (deactivate and revoke) or dismiss it"
                .to_owned()
        }
        RunOutcome::NewApplicantNeeded { revoked } => format!(
            "functional mailbox stays active; link dropped, {revoked} certificate(s) revoked. \
             Please enter a new applicant and send the challenge."
        ),
        RunOutcome::LinkDropped { links, revoked } => format!(
            "{links} link(s) dropped, {revoked} certificate(s) revoked; the row stays for the \
             other linked people"
        ),
        RunOutcome::Held => {
            "held by the circuit breaker: an operator confirms or discards it".to_owned()
        }
        RunOutcome::Decided => "already decided (see the worklist and the audit trail)".to_owned(),
    };
    format!("- {} ({}): {what}", e.primary, e.user)
}

/// The NAPs' mail of one sync run for one domain (R22).
pub fn run_mail(domain: &str, entries: &[RunEntry], link: &str) -> RenderedMail {
    let p = Paragraphs {
        de: vec![
            "Guten Tag,".to_owned(),
            format!(
                "das Identitätsmanagement (IdM) Ihrer Einrichtung hat Personen als ausgeschieden \
                 gemeldet. Das RA-Portal hat für die E-Mail-Domain {domain} Folgendes getan:"
            ),
            entries.iter().map(line_de).collect::<Vec<_>>().join("\n"),
            "Eine spätere Reaktivierung im IdM stellt nichts wieder her: Kehrt eine Person \
             zurück, reaktivieren Sie die Zeile in der Tabelle der Domain:"
                .to_owned(),
        ],
        en: vec![
            "Hello,".to_owned(),
            format!(
                "your organisation's identity management (IdM) reported people as gone. For the \
                 email domain {domain}, the RA portal did the following:"
            ),
            entries.iter().map(line_en).collect::<Vec<_>>().join("\n"),
            "A later re-activation in the IdM restores nothing: if a person comes back, \
             reactivate the row in the domain's table:"
                .to_owned(),
        ],
    };
    bilingual_mail(&run_subject(domain), &p, link)
}

/// The operators' note that the circuit breaker held `count` deprovisionings (R22).
pub fn held_mail(count: usize, link: &str) -> RenderedMail {
    let p = Paragraphs {
        de: vec![
            "Guten Tag,".to_owned(),
            format!(
                "das IdM hat in kurzer Zeit ungewöhnlich viele Personen als ausgeschieden \
                 gemeldet. Der Schutzschalter hat {count} Deprovisionierung(en) angehalten: \
                 deren Sitzungen sind beendet, aber keine Zeile wurde deaktiviert und kein \
                 Zertifikat gesperrt. Bitte prüfen Sie, ob die Meldungen stimmen, und \
                 bestätigen oder verwerfen Sie sie auf der Operator-Seite:"
            ),
        ],
        en: vec![
            "Hello,".to_owned(),
            format!(
                "the IdM reported unusually many people as gone within a short time. The \
                 circuit breaker held {count} deprovisioning(s): their sessions have ended, but \
                 no row was deactivated and no certificate revoked. Please check whether the \
                 reports are right, and confirm or discard them on the operator page:"
            ),
        ],
    };
    bilingual_mail(HELD_SUBJECT, &p, link)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r22_run_mail_lists_every_row_in_both_languages() {
        let entries = [
            RunEntry {
                user: "Anna Schmidt".into(),
                primary: "anna@uni.example".into(),
                outcome: RunOutcome::Deactivated {
                    deactivated: true,
                    revoked: 1,
                },
            },
            RunEntry {
                user: "Anna Schmidt".into(),
                primary: "it-support@uni.example".into(),
                outcome: RunOutcome::NewApplicantNeeded { revoked: 0 },
            },
        ];
        let m = run_mail(
            "uni.example",
            &entries,
            "https://ra.example/domains/uni.example",
        );
        assert!(m.subject.ends_with("uni.example"));
        assert!(m
            .text
            .contains("anna@uni.example (Anna Schmidt): Zeile deaktiviert"));
        assert!(m
            .text
            .contains("anna@uni.example (Anna Schmidt): row deactivated"));
        assert!(m.text.contains("Please enter a new applicant"));
        assert!(m.text.contains("neuen Antragsteller"));
        assert!(m.html.contains("<div lang=\"de\">") && m.html.contains("<div lang=\"en\">"));
    }

    #[test]
    fn r22_held_mail_names_the_count() {
        let m = held_mail(23, "https://ra.example/operator");
        assert!(m.text.contains("23 Deprovisionierung(en)"));
        assert!(m.text.contains("held 23 deprovisioning(s)"));
    }
}
