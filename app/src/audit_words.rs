//! The audit trail in the UI's words, in English and German: event names ("Row deactivated" /
//! "Zeile deaktiviert"), field names and values, and a change as one line ("Last name: Walk →
//! Neumann"). Pure and compiled for the server and the browser, so switching the language rewords
//! the page without asking the server. Every wording is an `[English, German]` pair, so a missing
//! language is a compile error; a kind, field or code word this file does not know yet (written
//! by newer code) is shown humanised ("scim_user_removed" → "Scim user removed"), never raw.

use crate::audit_changes::{Change, Evidence, Value};
use crate::i18n::Lang;

/// Every kind of audit record the portal writes (the `audit_records.kind` CHECK list), in the
/// order the filter offers them. A kind added to `AuditKind` needs its name here (a test says so).
pub const KNOWN_KINDS: [&str; 31] = [
    "domain_registered",
    "domain_contact_group_changed",
    "row_created",
    "row_edited",
    "row_deleted",
    "row_deactivated",
    "row_reactivated",
    "csv_applied",
    "challenge_sent",
    "challenge_confirmed",
    "challenge_superseded",
    "link_made",
    "link_dropped",
    "certificate_issued",
    "certificate_revoked",
    "account_created",
    "account_changed",
    "scim_token_created",
    "scim_token_revoked",
    "scim_user_created",
    "scim_user_changed",
    "scim_user_deleted",
    "user_deprovisioned",
    "deprovisioning_confirmed",
    "deprovisioning_discarded",
    "deprovision_proposal_accepted",
    "deprovision_proposal_dismissed",
    "domain_deprovision_mode_changed",
    "api_token_created",
    "api_token_revoked",
    "api_token_ended",
];

/// The filter's choice of every kind.
pub const ALL_KINDS: [&str; 2] = ["All", "Alle"];
/// The heading of the changes column.
pub const CHANGES: [&str; 2] = ["Changes", "Änderungen"];

/// The wording of `lang` from an `[English, German]` pair.
pub fn pick(lang: Lang, [en, de]: [&'static str; 2]) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::De => de,
    }
}

/// The event of a record of `kind`.
pub fn event_name(lang: Lang, kind: &str) -> String {
    match event_words(kind) {
        Some(words) => pick(lang, words).to_owned(),
        None => humanise(kind),
    }
}

/// The `[English, German]` name of a kind, if it has one.
fn event_words(kind: &str) -> Option<[&'static str; 2]> {
    Some(match kind {
        "domain_registered" => ["Domain registered", "Domain registriert"],
        "domain_contact_group_changed" => ["Contact group changed", "Kontaktgruppe geändert"],
        "row_created" => ["Row added", "Zeile angelegt"],
        "row_edited" => ["Row edited", "Zeile bearbeitet"],
        "row_deleted" => ["Row deleted", "Zeile gelöscht"],
        "row_deactivated" => ["Row deactivated", "Zeile deaktiviert"],
        "row_reactivated" => ["Row reactivated", "Zeile reaktiviert"],
        "csv_applied" => ["CSV file applied", "CSV-Datei übernommen"],
        "challenge_sent" => ["Challenge sent", "Challenge gesendet"],
        "challenge_confirmed" => ["Challenge confirmed", "Challenge bestätigt"],
        "challenge_superseded" => ["Challenge superseded", "Challenge ersetzt"],
        "link_made" => ["Address linked to a person", "Adresse mit Person verknüpft"],
        "link_dropped" => [
            "Link to a person removed",
            "Verknüpfung mit Person aufgehoben",
        ],
        "certificate_issued" => ["Certificate issued", "Zertifikat ausgestellt"],
        "certificate_revoked" => ["Certificate revoked", "Zertifikat gesperrt"],
        "account_created" => ["Account created", "Konto angelegt"],
        "account_changed" => ["Account changed", "Konto geändert"],
        "scim_token_created" => ["SCIM token created", "SCIM-Token angelegt"],
        "scim_token_revoked" => ["SCIM token revoked", "SCIM-Token widerrufen"],
        "scim_user_created" => ["User created by the IdM", "Benutzer vom IdM angelegt"],
        "scim_user_changed" => ["User changed by the IdM", "Benutzer vom IdM geändert"],
        "scim_user_deleted" => ["User deleted by the IdM", "Benutzer vom IdM gelöscht"],
        "user_deprovisioned" => [
            "Person left: deprovisioned",
            "Person ausgeschieden: deprovisioniert",
        ],
        "deprovisioning_confirmed" => ["Deprovisioning confirmed", "Deprovisionierung bestätigt"],
        "deprovisioning_discarded" => ["Deprovisioning discarded", "Deprovisionierung verworfen"],
        "deprovision_proposal_accepted" => [
            "Leaver proposal accepted",
            "Vorschlag zu ausgeschiedener Person angenommen",
        ],
        "deprovision_proposal_dismissed" => [
            "Leaver proposal dismissed",
            "Vorschlag zu ausgeschiedener Person verworfen",
        ],
        "domain_deprovision_mode_changed" => [
            "Handling of leavers' rows changed",
            "Umgang mit Zeilen ausgeschiedener Personen geändert",
        ],
        "api_token_created" => ["API token created", "API-Token angelegt"],
        "api_token_revoked" => ["API token revoked", "API-Token widerrufen"],
        "api_token_ended" => [
            "API token ended by the portal",
            "API-Token vom Portal beendet",
        ],
        _ => return None,
    })
}

/// Who did it, readable: an API token's actor `api:<name>#<id>@<creator>` as "API token
/// idm-sync (no. 7) of nora"; any other actor (a user ID, `scim:<token>`, `cli:<verb>`, `system`)
/// as stored.
pub fn actor_text(lang: Lang, actor: &str) -> String {
    match parse_api_actor(actor) {
        Some((name, id, creator)) => match lang {
            Lang::En => format!("API token {name} (no. {id}) of {creator}"),
            Lang::De => format!("API-Token {name} (Nr. {id}) von {creator}"),
        },
        None => actor.to_owned(),
    }
}

/// The parts of an API token's actor (as `backend::api_tokens::actor_of` writes it; this crate
/// also runs in the browser, so it reads it itself): token name, token id, creator user ID.
fn parse_api_actor(actor: &str) -> Option<(&str, &str, &str)> {
    let rest = actor.strip_prefix("api:")?;
    let (name, rest) = rest.split_once('#')?;
    let (id, creator) = rest.split_once('@')?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then_some((name, id, creator))
}

/// The name of a stored field.
pub fn field_name(lang: Lang, key: &str) -> String {
    let t = lang.texts();
    let words = match key {
        "primary" => return t.col_primary.to_owned(),
        "first_name" | "given_name" => return t.col_first_name.to_owned(),
        "last_name" | "family_name" => return t.col_last_name.to_owned(),
        "aliases" => return t.col_aliases.to_owned(),
        "mailbox_type" => return t.col_type.to_owned(),
        "applicant" => return t.col_applicant.to_owned(),
        "comment" => return t.col_comment.to_owned(),
        "active" => ["Status", "Status"],
        "name" => ["Domain", "Domain"],
        "contact_group" => ["Contact group", "Kontaktgruppe"],
        "id" => ["Account", "Konto"],
        "email" => ["Email", "E-Mail"],
        "groups" => ["Groups", "Gruppen"],
        "password" => ["Password", "Passwort"],
        "state" => ["State", "Zustand"],
        "reason" => ["Reason", "Grund"],
        "by" => ["Cause", "Anlass"],
        "as" => ["Revoked as", "Gesperrt als"],
        "revoked_by" => ["Revoked by", "Gesperrt von"],
        "replaced_by" => ["Replaced by", "Ersetzt durch"],
        "user_id" => ["User ID", "Benutzerkennung"],
        "confirmed_by" => ["Confirmed by", "Bestätigt von"],
        "recipient" => ["Sent to", "Gesendet an"],
        "sent_at" => ["Sent", "Gesendet"],
        "expires_at" => ["Expires", "Läuft ab"],
        "suspends_link_of" => ["Suspends the link of", "Setzt die Verknüpfung aus von"],
        "linked_at" => ["Linked since", "Verknüpft seit"],
        "challenge" | "challenge_id" => ["Challenge no.", "Challenge Nr."],
        "subject" => ["Certificate subject", "Zertifikatsinhaber"],
        "addresses" => ["Addresses", "Adressen"],
        "key_source" => ["Key", "Schlüssel"],
        "not_before" => ["Valid from", "Gültig ab"],
        "not_after" => ["Valid until", "Gültig bis"],
        "evidence" => ["Evidence", "Nachweis"],
        "ip" => ["IP address", "IP-Adresse"],
        "user_agent" => ["Browser", "Browser"],
        "lines" => ["Lines", "Zeilen"],
        "created" => ["Added", "Angelegt"],
        "changed" => ["Changed", "Geändert"],
        "unchanged" => ["Unchanged", "Unverändert"],
        "deactivated" => ["Deactivated", "Deaktiviert"],
        "reactivated" => ["Reactivated", "Reaktiviert"],
        "superseded_challenges" => ["Challenges superseded", "Ersetzte Challenges"],
        "dropped_links" => ["Links removed", "Aufgehobene Verknüpfungen"],
        "fingerprint" => ["File fingerprint", "Fingerabdruck der Datei"],
        "value" => ["Stored as", "Gespeichert als"],
        "userName" => ["User name at the IdM", "Benutzername im IdM"],
        "externalId" => ["External ID at the IdM", "Externe ID im IdM"],
        "deprovisioning" => ["Deprovisioning no.", "Deprovisionierung Nr."],
        "sessions_ended" => ["Sessions ended", "Beendete Sitzungen"],
        "rows" => ["Rows", "Zeilen"],
        "held" => ["Held for an operator", "Für den Betrieb angehalten"],
        "count_in_window" => ["Leavers in the window", "Ausgeschiedene im Zeitfenster"],
        "linked_users" => ["Linked people", "Verknüpfte Personen"],
        "tripped" => ["Circuit breaker tripped", "Schutzschalter ausgelöst"],
        "proposal" => ["Proposal no.", "Vorschlag Nr."],
        "reported_by" => ["Reported by", "Gemeldet von"],
        "certificates_revoked" => ["Certificates revoked", "Gesperrte Zertifikate"],
        "deprovision_mode" => [
            "Leavers' personal rows",
            "Persönliche Zeilen ausgeschiedener Personen",
        ],
        "tokens_ended" => ["API tokens ended", "Beendete API-Tokens"],
        "token" => ["API token no.", "API-Token Nr."],
        "creator" => ["Made by", "Angelegt von"],
        "scope" => ["Access", "Zugriff"],
        "domains" => ["Domains", "Domains"],
        other => return humanise(other),
    };
    pick(lang, words).to_owned()
}

/// A stored code word (mailbox type, state, revocation reason, key source, role, cause).
pub fn word(lang: Lang, code: &str) -> String {
    let t = lang.texts();
    if let Some(i) = domain::certificate::RevocationReason::ALL
        .iter()
        .position(|r| r.as_str() == code)
    {
        return t.revocation_reasons[i].to_owned();
    }
    let words = match code {
        "personal" => return t.type_personal.to_owned(),
        "functional" => return t.type_functional.to_owned(),
        "pending" => return t.state_pending.to_owned(),
        "confirmed" => return t.state_confirmed.to_owned(),
        "expired" => return t.state_expired.to_owned(),
        "valid" => return t.certs_status_valid.to_owned(),
        "revoked" => return t.certs_status_revoked.to_owned(),
        "csr" => [
            "own key (certificate request)",
            "eigener Schlüssel (Zertifikatsantrag)",
        ],
        "server" => ["made by the portal", "vom Portal erzeugt"],
        "owner" => ["holder", "Inhaber"],
        "nap" => ["NAP", "NAP"],
        "new_round" => ["a new challenge round", "eine neue Challenge-Runde"],
        "different_person" => [
            "the mailbox went to a different person",
            "das Postfach ging an eine andere Person",
        ],
        "changed" => ["changed", "geändert"],
        "proposed" => ["proposed", "vorgeschlagen"],
        "accepted" => ["accepted", "angenommen"],
        "dismissed" | "discarded" => ["discarded", "verworfen"],
        "held" => ["held", "angehalten"],
        "revoke" => [
            "deactivate and revoke at once",
            "sofort deaktivieren und sperren",
        ],
        "propose" => ["propose to the NAPs", "den NAPs vorschlagen"],
        "read" => ["read only", "nur lesen"],
        "read_write" => ["read and write", "lesen und schreiben"],
        "revoked_by_creator" => [
            "revoked by the person who made it",
            "von der anlegenden Person widerrufen",
        ],
        "revoked_by_operator" => ["revoked by an operator", "vom Betrieb widerrufen"],
        "creator_left" => [
            "the person who made it left the organisation",
            "die anlegende Person ist ausgeschieden",
        ],
        "creator_not_nap" => [
            "the person who made it is no longer a NAP of its domains",
            "die anlegende Person ist nicht mehr NAP seiner Domains",
        ],
        other => return humanise(other).to_lowercase(),
    };
    pick(lang, words).to_owned()
}

/// A value as text.
pub fn value_text(lang: Lang, value: &Value) -> String {
    match value {
        Value::Text(s) => s.clone(),
        Value::List(items) => items.join(", "),
        Value::Active(true) => pick(lang, ["active", "aktiv"]).to_owned(),
        Value::Active(false) => pick(lang, ["inactive", "inaktiv"]).to_owned(),
        Value::Flag(b) => {
            let t = lang.texts();
            if *b { t.yes } else { t.no }.to_owned()
        }
        Value::Time(at) => at.date_time(lang),
        Value::Number(n) => n.to_string(),
        Value::Word(code) => word(lang, code),
        Value::Evidence(entries) => entries
            .iter()
            .map(|e| evidence_text(lang, e))
            .collect::<Vec<_>>()
            .join("; "),
        Value::Nothing => pick(lang, ["none", "keine Angabe"]).to_owned(),
    }
}

/// One address's evidence: "anna@…: sent to anna@… on 7 Dec 2026, 14:05, confirmed by anna on …".
fn evidence_text(lang: Lang, e: &Evidence) -> String {
    let (sent, confirmed) = (e.sent.date_time(lang), e.confirmed.date_time(lang));
    match lang {
        Lang::En => format!(
            "{}: sent to {} on {sent}, confirmed by {} on {confirmed}",
            e.address, e.recipient, e.by
        ),
        Lang::De => format!(
            "{}: gesendet an {} am {sent}, bestätigt von {} am {confirmed}",
            e.address, e.recipient, e.by
        ),
    }
}

/// What a change says after its field name: "Walk → Neumann", or the one value it has.
pub fn change_text(lang: Lang, change: &Change) -> String {
    match (&change.before, &change.after) {
        (Some(b), Some(a)) => format!("{} → {}", value_text(lang, b), value_text(lang, a)),
        (Some(v), None) | (None, Some(v)) => value_text(lang, v),
        (None, None) => String::new(),
    }
}

/// A change as one line: "Last name: Walk → Neumann".
pub fn change_line(lang: Lang, change: &Change) -> String {
    format!(
        "{}: {}",
        field_name(lang, &change.field),
        change_text(lang, change)
    )
}

/// A code nobody has worded yet, readable: `scim_user_removed` → "Scim user removed",
/// `keyCompromise` → "Key compromise".
pub fn humanise(code: &str) -> String {
    let mut out = String::with_capacity(code.len() + 4);
    for c in code.chars() {
        if c == '_' || c == '-' {
            out.push(' ');
        } else if c.is_uppercase() && !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = out.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "?".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::WallTime;

    const DEC_7: WallTime = WallTime {
        year: 2026,
        month: 12,
        day: 7,
        hour: 14,
        minute: 5,
    };

    fn change(field: &str, before: Option<Value>, after: Option<Value>) -> Change {
        Change {
            field: field.into(),
            before,
            after,
        }
    }

    #[test]
    fn r16_every_kind_has_a_name_in_both_languages_without_underscores() {
        for kind in KNOWN_KINDS {
            let (en, de) = (event_name(Lang::En, kind), event_name(Lang::De, kind));
            assert!(event_words(kind).is_some(), "{kind} has no name");
            assert!(!en.contains('_') && !de.contains('_'), "{kind}");
        }
        assert_eq!(event_name(Lang::En, "row_deactivated"), "Row deactivated");
        assert_eq!(event_name(Lang::De, "row_deactivated"), "Zeile deaktiviert");
    }

    /// The backend's list of kinds, against this file: a kind added there without a name here
    /// fails (it would still show, humanised, but in English on the German page).
    #[cfg(feature = "ssr")]
    #[test]
    fn r16_every_kind_the_backend_writes_is_named_and_offered_by_the_filter() {
        use backend::storage::audit::AuditKind;
        for kind in AuditKind::ALL.map(AuditKind::as_str) {
            assert_ne!(
                event_name(Lang::De, kind),
                humanise(kind),
                "{kind}: no name"
            );
            assert!(KNOWN_KINDS.contains(&kind), "{kind}: not in KNOWN_KINDS");
        }
        for kind in KNOWN_KINDS {
            assert!(AuditKind::ALL.iter().any(|k| k.as_str() == kind), "{kind}");
        }
    }

    #[test]
    fn r21_an_api_tokens_actor_reads_as_token_and_creator() {
        let actor = "api:idm-sync#7@nora@example.org";
        assert_eq!(
            actor_text(Lang::En, actor),
            "API token idm-sync (no. 7) of nora@example.org"
        );
        assert_eq!(
            actor_text(Lang::De, actor),
            "API-Token idm-sync (Nr. 7) von nora@example.org"
        );
        for other in ["nora", "scim:entra", "api:broken", "api:x#y@z"] {
            assert_eq!(actor_text(Lang::En, other), other);
        }
    }

    #[test]
    fn r16_an_unknown_kind_is_humanised_not_raw() {
        assert_eq!(
            event_name(Lang::De, "scim_user_deprovisioned"),
            "Scim user deprovisioned"
        );
        assert_eq!(humanise("keyCompromise"), "Key compromise");
        assert_eq!(humanise(""), "?");
        assert_eq!(field_name(Lang::En, "idm_source_id"), "Idm source id");
    }

    #[test]
    fn r16_a_field_change_reads_as_field_old_arrow_new() {
        let c = change(
            "last_name",
            Some(Value::Text("Walk".into())),
            Some(Value::Text("Neumann".into())),
        );
        assert_eq!(change_line(Lang::En, &c), "Last name: Walk → Neumann");
        assert_eq!(change_line(Lang::De, &c), "Nachname: Walk → Neumann");
    }

    #[test]
    fn r16_states_reasons_and_dates_are_worded_in_the_language() {
        let active = change(
            "active",
            Some(Value::Active(true)),
            Some(Value::Active(false)),
        );
        assert_eq!(change_line(Lang::En, &active), "Status: active → inactive");
        assert_eq!(change_line(Lang::De, &active), "Status: aktiv → inaktiv");
        let reason = change("reason", None, Some(Value::Word("keyCompromise".into())));
        assert_eq!(change_line(Lang::En, &reason), "Reason: key compromise");
        assert_eq!(
            change_line(Lang::De, &reason),
            "Grund: Schlüssel kompromittiert"
        );
        let until = change("not_after", None, Some(Value::Time(DEC_7)));
        assert_eq!(
            change_line(Lang::En, &until),
            "Valid until: 7 Dec 2026, 14:05"
        );
        assert_eq!(
            change_line(Lang::De, &until),
            "Gültig bis: 07.12.2026, 14:05"
        );
        let state = change(
            "state",
            Some(Value::Word("pending".into())),
            Some(Value::Word("superseded".into())),
        );
        assert_eq!(
            change_line(Lang::De, &state),
            "Zustand: ausstehend → ersetzt"
        );
        let applicant = change(
            "applicant",
            Some(Value::Text("a@example.org".into())),
            Some(Value::Nothing),
        );
        assert_eq!(
            change_line(Lang::En, &applicant),
            "Applicant: a@example.org → none"
        );
    }

    /// Records shaped as the backend writes them (rows.rs, challenges.rs, certificates.rs,
    /// csv_upload, domains.rs, accounts.rs, handover.rs, deprovisioning.rs, scim), read and worded:
    /// no code word, JSON punctuation or Unix time may show, in either language.
    #[test]
    fn r16_records_as_written_read_without_codes_json_or_unix_times() {
        let t = 1_828_135_662_i64;
        let row = r#"{"primary":"a@example.org","first_name":"Anna","last_name":"Walk","aliases":["x@example.org"],"mailbox_type":"functional","applicant":"b@example.org","comment":"","active":true}"#;
        let records: Vec<(&str, Option<String>, Option<String>)> = vec![
            ("domain_registered", None, Some(r#"{"name":"example.org","contact_group":"nap-example"}"#.into())),
            ("domain_contact_group_changed", Some(r#"{"name":"example.org","contact_group":"a"}"#.into()), Some(r#"{"name":"example.org","contact_group":"b"}"#.into())),
            ("row_created", None, Some(row.into())),
            ("row_edited", Some(row.into()), Some(row.replace("Walk", "Neumann"))),
            ("row_deleted", Some(row.into()), None),
            ("row_deactivated", Some(r#"{"active":true}"#.into()), Some(r#"{"active":false}"#.into())),
            ("csv_applied", None, Some(r#"{"lines":3,"created":1,"changed":1,"unchanged":1,"deactivated":0,"reactivated":0,"superseded_challenges":0,"dropped_links":0,"fingerprint":"ab12"}"#.into())),
            ("challenge_sent", None, Some(format!(r#"{{"recipient":"a@example.org","expires_at":{t},"suspends_link_of":"anna"}}"#))),
            ("challenge_confirmed", Some(r#"{"state":"pending","recipient":"a@example.org"}"#.into()), Some(r#"{"state":"confirmed","confirmed_by":"anna","challenge":4,"ip":"192.0.2.1","user_agent":"Mozilla/5.0"}"#.into())),
            ("challenge_superseded", Some(format!(r#"{{"challenge":4,"state":"pending","recipient":"a@example.org","sent_at":{t}}}"#)), Some(r#"{"challenge":4,"state":"superseded","by":"different_person"}"#.into())),
            ("link_made", Some(r#"{"user_id":"bob"}"#.into()), Some(r#"{"user_id":"anna","challenge_id":4}"#.into())),
            ("link_dropped", Some(format!(r#"{{"user_id":"bob","challenge":4,"linked_at":{t}}}"#)), Some(r#"{"reason":"different_person"}"#.into())),
            ("certificate_issued", None, Some(format!(r#"{{"user_id":"anna","subject":"CN=Anna Walk","addresses":["a@example.org"],"key_source":"csr","not_before":{t},"not_after":{t},"evidence":[{{"address":"a@example.org","challenge_id":4,"recipient":"a@example.org","sent_at":{t},"confirmed_at":{t},"confirmed_by":"anna","ip":null,"user_agent":null}}]}}"#))),
            ("certificate_revoked", Some(r#"{"state":"valid","user_id":"anna"}"#.into()), Some(r#"{"state":"revoked","reason":"affiliationChanged","revoked_by":"nora","as":"nap"}"#.into())),
            ("account_created", None, Some(r#"{"id":"anna","given_name":"Anna","family_name":"Walk","email":"a@example.org","groups":["g"]}"#.into())),
            ("account_changed", None, Some(r#"{"password":"changed"}"#.into())),
            ("scim_user_changed", None, Some(r#"{"user_id":"anna","userName":"anna","externalId":"e-1","active":false}"#.into())),
            ("user_deprovisioned", None, Some(r#"{"deprovisioning":2,"sessions_ended":1,"rows":1,"held":false,"breaker":{"count_in_window":1,"linked_users":9,"tripped":false}}"#.into())),
            ("deprovision_proposal_accepted", Some(r#"{"proposal":3,"state":"proposed","user_id":"anna","reported_by":"scim:entra"}"#.into()), Some(r#"{"proposal":3,"state":"accepted","deactivated":true,"certificates_revoked":1}"#.into())),
            ("domain_deprovision_mode_changed", Some(r#"{"deprovision_mode":"revoke"}"#.into()), Some(r#"{"deprovision_mode":"propose"}"#.into())),
            ("api_token_created", None, Some(format!(r#"{{"token":7,"creator":"nora","scope":"read_write","domains":["example.org"],"expires_at":{t}}}"#))),
            ("api_token_revoked", None, Some(r#"{"token":7,"creator":"nora","reason":"revoked_by_operator"}"#.into())),
            ("api_token_ended", None, Some(r#"{"token":7,"creator":"nora","reason":"creator_not_nap"}"#.into())),
            ("user_deprovisioned", None, Some(r#"{"deprovisioning":2,"sessions_ended":1,"tokens_ended":2,"rows":1,"held":false}"#.into())),
        ];
        let wall = |secs: i64| WallTime {
            year: 2027,
            month: 12,
            day: 7,
            hour: (secs % 24) as u8,
            minute: 5,
        };
        let unix = |s: &str| {
            s.split(|c: char| !c.is_ascii_digit())
                .any(|n| n.len() >= 10)
        };
        for (kind, before, after) in &records {
            let changes = crate::audit_changes::read_changes(
                Some("a@example.org"),
                before.as_deref(),
                after.as_deref(),
                &wall,
            );
            assert!(!changes.is_empty(), "{kind}: nothing to show");
            for lang in [Lang::En, Lang::De] {
                let text = std::iter::once(event_name(lang, kind))
                    .chain(changes.iter().map(|c| change_line(lang, c)))
                    .collect::<Vec<_>>()
                    .join("\n");
                assert!(
                    !text.contains('_') && !text.contains('{'),
                    "{lang:?} {kind}: {text}"
                );
                assert!(!unix(&text), "{lang:?} {kind}: {text}");
                for code in ["affiliationChanged", "userName", "externalId", "csr\n"] {
                    assert!(!text.contains(code), "{lang:?} {kind}: {text}");
                }
            }
        }
    }

    #[test]
    fn r20_evidence_names_recipient_and_times() {
        let e = Value::Evidence(vec![Evidence {
            address: "anna@example.org".into(),
            recipient: "anna@example.org".into(),
            sent: DEC_7,
            confirmed: DEC_7,
            by: "anna".into(),
        }]);
        assert_eq!(
            value_text(Lang::De, &e),
            "anna@example.org: gesendet an anna@example.org am 07.12.2026, 14:05, \
             bestätigt von anna am 07.12.2026, 14:05"
        );
    }
}
