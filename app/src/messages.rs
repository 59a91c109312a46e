//! The server's refusals ([`Message`]) worded in the reader's language. English is the message's
//! own `Display` (what logs, the CLI and the tests read); German is written here, from the same
//! parameters, so a German page shows no English sentence.

use domain::address::{
    AddressError, DomainProblem, ATEXT_SPECIALS, MAX_ADDRESS_LEN, MAX_DOMAIN_LEN, MAX_LABEL_LEN,
    MAX_LOCAL_PART_LEN,
};
use domain::certificate::{
    CsrError, RequestRefusal, RevokeRefusal, MAX_COMMON_NAME_CHARS, MAX_RSA_BITS, MIN_RSA_BITS,
};
use domain::challenge::{ConfirmRefusal, SendRefusal};
use domain::csv::{Column, ColumnProblem, CsvColumn, FileError, MAX_DATA_LINES};
use domain::edit::Consequence;
use domain::message::Message;
use domain::row::{AliasesError, Field, FieldError, RowProblem, MAX_ALIASES};
use domain::shown_char;
use domain::text::TextError;

use crate::dates::Clock;
use crate::error::AppError;
use crate::i18n::Lang;

/// `message` in `lang`.
pub fn say(lang: Lang, message: &Message) -> String {
    match lang {
        Lang::En => message.to_string(),
        Lang::De => german(message),
    }
}

/// A server function's error in `lang`.
pub fn say_error(lang: Lang, error: &AppError) -> String {
    match (lang, error) {
        (_, AppError::Refused(message)) => say(lang, message),
        (Lang::En, e) => e.to_string(),
        (Lang::De, AppError::Unauthenticated) => "Bitte melden Sie sich an.".into(),
        (Lang::De, AppError::Forbidden) => "Das dürfen Sie nicht.".into(),
        (Lang::De, AppError::NotFound) => "Nicht gefunden.".into(),
        (Lang::De, AppError::Invalid(text)) => format!("Ungültige Anfrage: {text}"),
        (Lang::De, AppError::Internal) => "Auf dem Server ist ein Fehler aufgetreten. Bitte \
            versuchen Sie es noch einmal; wenn er bleibt, sagen Sie es den Betreibern des Portals."
            .into(),
        (Lang::De, AppError::Transport(text)) => {
            format!("Der Server ist nicht erreichbar: {text}")
        }
    }
}

/// What saving an edit does, in `lang`.
pub fn say_consequence(lang: Lang, c: &Consequence) -> String {
    if lang == Lang::En {
        return c.to_string();
    }
    match c {
        Consequence::InvalidatesPending => "alle offenen Bestätigungsanfragen dieses Eintrags \
            ungültig machen; senden Sie danach neue"
            .into(),
        Consequence::RemovesAlias { address } => {
            format!("den Alias {address} entfernen und seine Verknüpfung lösen, falls er eine hat")
        }
        Consequence::DropsAllLinks => "die Verknüpfungen aller Adressen dieses Eintrags lösen: \
            wer verknüpft war, kann kein neues Zertifikat beantragen, bis er eine neue \
            Bestätigungsanfrage bestätigt; ausgestellte Zertifikate bleiben gültig"
            .into(),
        Consequence::NewAlias { address } => format!(
            "den neuen Alias {address} unbestätigt anlegen; er braucht eine bestätigte Anfrage, \
             bevor er in ein Zertifikat kann"
        ),
        Consequence::Deactivates => "diesen Eintrag deaktivieren: keine Bestätigungsanfrage kann \
            gesendet oder bestätigt und kein Zertifikat beantragt werden, bis er wieder aktiv ist; \
            Verknüpfungen bleiben"
            .into(),
        Consequence::Reactivates => "diesen Eintrag wieder aktivieren; seine Verknüpfungen \
            bleiben, neue Bestätigungsanfragen sind nicht nötig"
            .into(),
        Consequence::SupersedesPending { count } => {
            format!("{count} offene Bestätigungsanfrage(n) ersetzen")
        }
        Consequence::DropsLink {
            primary,
            address,
            by,
        } => format!(
            "die Verknüpfung {} {address} lösen (bestätigt von {by})",
            if *primary {
                "der Primäradresse"
            } else {
                "des Alias"
            }
        ),
    }
}

/// One field error without its field's name (the page shows it at the field), in `lang`.
pub fn say_at_field(lang: Lang, error: &FieldError) -> String {
    say(lang, &error.message)
}

/// A field's name as the German page's column heads call it.
pub fn field_label_de(field: Field) -> &'static str {
    let t = Lang::De.texts();
    match field {
        Field::PrimaryAddress => t.col_primary,
        Field::FirstName => t.col_first_name,
        Field::LastName => t.col_last_name,
        Field::Aliases => t.col_aliases,
        Field::MailboxType => t.col_type,
        Field::Applicant => t.col_applicant,
        Field::Comment => t.col_comment,
        Field::Active => t.col_active,
    }
}

/// `YYYY-MM-DD` (UTC) as Germans write a date.
fn german_date(secs: i64) -> String {
    let iso = domain::time::utc_date(secs);
    let mut parts = iso.split('-');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(y), Some(m), Some(d)) => format!("{d}.{m}.{y}"),
        _ => iso,
    }
}

fn german(message: &Message) -> String {
    match message {
        Message::Address(e) => address_de(e),
        Message::AddressList(e) => {
            format!("Adresse {} der Liste: {}", e.position, address_de(&e.error))
        }
        Message::Domain(e) => format!(
            "„{}“ ist kein gültiger Domainname: {}",
            e.input,
            domain_problem_de(&e.problem)
        ),
        Message::Text(e) => text_de(e),
        Message::Aliases(AliasesError::TooMany { count }) => format!(
            "Ein Eintrag kann höchstens {MAX_ALIASES} Aliasse haben, diese Liste hat {count}: \
             entfernen Sie {}, oder legen Sie die weiteren Adressen des Postfachs in einem \
             eigenen Eintrag an",
            count - MAX_ALIASES
        ),
        Message::Aliases(AliasesError::Address(e)) => {
            format!("Adresse {} der Liste: {}", e.position, address_de(&e.error))
        }
        Message::MailboxType(e) => format!(
            "„{}“ ist kein Postfachtyp: verwenden Sie persönlich (personal) oder funktional \
             (functional)",
            e.input
        ),
        Message::Request(r) => request_de(r),
        Message::Csr(e) => csr_de(e),
        Message::Revoke(r) => match r {
            RevokeRefusal::AlreadyRevoked => "Dieses Zertifikat wurde bereits widerrufen.".into(),
            RevokeRefusal::Expired => {
                "Dieses Zertifikat ist abgelaufen; es muss nicht mehr widerrufen werden.".into()
            }
            RevokeRefusal::RowActive => "Ein NAP kann Zertifikate nur eines deaktivierten \
                Eintrags widerrufen: deaktivieren Sie den Eintrag zuerst (der Inhaber kann sein \
                Zertifikat jederzeit widerrufen)."
                .into(),
        },
        Message::Confirm(r) => match r {
            ConfirmRefusal::AlreadyConfirmed => "Diese Bestätigungsanfrage wurde bereits \
                bestätigt; jede kann nur einmal bestätigt werden. Soll die Adresse mit Ihnen \
                verknüpft werden, bitten Sie Ihren Netzwerk-Ansprechpartner (NAP), eine neue zu \
                senden."
                .into(),
            ConfirmRefusal::Superseded => "Diese Bestätigungsanfrage wurde durch eine neuere \
                oder durch eine Änderung des Eintrags ersetzt. Verwenden Sie den Link aus der \
                neuesten E-Mail, oder bitten Sie Ihren NAP, eine neue zu senden."
                .into(),
            ConfirmRefusal::Expired => "Diese Bestätigungsanfrage ist abgelaufen. Bitten Sie \
                Ihren NAP, eine neue zu senden."
                .into(),
            ConfirmRefusal::RowInactive => "Der Eintrag dieser Adresse ist deaktiviert, daher \
                kann die Anfrage jetzt nicht bestätigt werden. Bitten Sie Ihren NAP, ihn wieder \
                zu aktivieren."
                .into(),
        },
        Message::Send(r) => match r {
            SendRefusal::RowInactive => "Dieser Eintrag ist deaktiviert; aktivieren Sie ihn, \
                bevor Sie Bestätigungsanfragen senden."
                .into(),
            SendRefusal::NoApplicant => "Dieses funktionale Postfach hat keine \
                Antragsteller-Adresse, an die die Anfragen gehen könnten; tragen Sie zuerst eine \
                ein."
                .into(),
            SendRefusal::UnknownRow => {
                "Diesen Eintrag gibt es in keiner Domain, die Sie verwalten.".into()
            }
        },
        Message::Delete(_) => "Für diesen Eintrag wurden Bestätigungsanfragen gesendet, daher \
            kann er nicht mehr gelöscht werden; deaktivieren Sie ihn stattdessen."
            .into(),
        Message::File(e) => file_de(e),
        Message::Row(p) => row_de(p),
        Message::Fields(errors) => errors
            .iter()
            .map(|e| format!("{}: {}", field_label_de(e.field), german(&e.message)))
            .collect::<Vec<_>>()
            .join("; "),
        Message::NotNap => "Sie sind kein Ansprechpartner (NAP) dieser Domain.".into(),
        Message::OperatorOnly => "Das dürfen nur Betreiber.".into(),
        Message::IdmInactive => "Ihr Konto wurde vom Identitätsmanagement Ihrer Organisation \
            deaktiviert, daher lässt das Portal Sie nichts mehr tun; ist das ein Irrtum, wenden \
            Sie sich an Ihren Netzwerk-Ansprechpartner (NAP)."
            .into(),
        Message::NoSuchRow => "Diesen Eintrag gibt es nicht.".into(),
        Message::NoSuchDomain => "Diese Domain gibt es nicht.".into(),
        Message::NoSuchCertificate => "Dieses Zertifikat gibt es nicht.".into(),
        Message::RowChangedMeanwhile => "Dieser Eintrag wurde inzwischen von jemand anderem \
            geändert; prüfen Sie seinen aktuellen Stand und bearbeiten Sie ihn erneut."
            .into(),
        Message::NotLinkedToRow => "Keine Adresse dieses Postfachs ist mit Ihnen verknüpft: \
            bestätigen Sie zuerst eine Bestätigungsanfrage für eine von ihnen."
            .into(),
        Message::PasswordTooShort { min } => {
            format!("Das Passwort für die PKCS#12-Datei muss mindestens {min} Zeichen haben.")
        }
        Message::PasswordTooLong { max } => {
            format!("Das Passwort für die PKCS#12-Datei darf höchstens {max} Bytes (1 KiB) haben.")
        }
        Message::UnknownLink => "Dieser Bestätigungslink ist unbekannt. Prüfen Sie, ob Sie den \
            vollständigen Link aus der E-Mail geöffnet haben, oder bitten Sie Ihren \
            Netzwerk-Ansprechpartner (NAP), eine neue Bestätigungsanfrage zu senden."
            .into(),
        Message::TakeOverActiveRow => "Eine andere Person kann nur einen deaktivierten Eintrag \
            übernehmen: deaktivieren Sie ihn zuerst."
            .into(),
        Message::NoRowToRevoke { id } => format!(
            "Es gibt keinen Eintrag #{id} in einer Domain, die Sie verwalten; nichts wurde \
             widerrufen."
        ),
        Message::RowStillActive { primary } => format!(
            "{primary} ist noch aktiv: deaktivieren Sie den Eintrag zuerst (der Inhaber kann \
             sein Zertifikat jederzeit widerrufen); nichts wurde widerrufen."
        ),
        Message::NoSuchProposal { id } => format!(
            "Es gibt keinen offenen Vorschlag #{id} in einer Domain, die Sie verwalten (vielleicht \
             wurde inzwischen darüber entschieden)."
        ),
        Message::NoSuchHold { id } => format!(
            "Keine angehaltene Deprovisionierung #{id} wartet auf eine Entscheidung (vielleicht \
             wurde inzwischen entschieden); nichts wurde geändert."
        ),
        Message::TableChangedSincePreview => "Einträge dieser Tabelle wurden seit der Vorschau \
            geändert (oder die Datei ist nicht die der Vorschau), daher wurde nichts gespeichert; \
            lassen Sie die Datei erneut prüfen."
            .into(),
        Message::FileHasErrors { errors } => format!(
            "Die Datei hat {} Fehler, daher wurde nichts gespeichert; korrigieren Sie sie und \
             lassen Sie die Datei erneut prüfen.",
            errors.len()
        ),
        Message::TooFewCells { cells, header } => format!(
            "Diese Zeile hat {cells} Zellen, die Kopfzeile {header}: ein Trennzeichen fehlt, oder \
             eine Zelle mit Zeilenumbruch steht nicht in doppelten Anführungszeichen."
        ),
        Message::TooManyCells { cells, header } => format!(
            "Diese Zeile hat {cells} Zellen, die Kopfzeile nur {header}: eine Zelle, die das \
             Trennzeichen enthält, muss in doppelten Anführungszeichen stehen."
        ),
        Message::UnnamedColumnValue { column } => format!(
            "Spalte {column} hat in der Kopfzeile keinen Namen, aber diese Zeile hat dort einen \
             Wert."
        ),
        Message::NotAnActiveValue { value } => format!(
            "„{value}“ ist kein Wert für aktiv: schreiben Sie ja oder nein (auch true/false, 1/0, \
             yes/no); eine leere Zelle bedeutet ja."
        ),
        Message::DomainAlreadyRegistered { domain } => format!("{domain} ist bereits registriert."),
        Message::DomainNotRegistered { domain } => format!("{domain} ist nicht registriert."),
        Message::AccountExists { id } => format!("Das Konto {id} gibt es bereits."),
        Message::AccountNotFound { id } => format!("Es gibt kein Konto {id}."),
        Message::TokenNameTaken { name } => format!(
            "Ein Token namens {name} gibt es bereits (widerrufen Sie es zuerst, oder wählen Sie \
             einen anderen Namen)."
        ),
        Message::TokenNotFound { name } => format!("Es gibt kein gültiges Token namens {name}."),
        Message::ApiTokenNoDomain => "Wählen Sie mindestens eine Domain für das Token.".into(),
        Message::ApiTokenNotYourDomain => "Ein Token kann nur für Domains erzeugt werden, die Sie \
            verwalten (deren NAP Sie sind); eine der gewählten Domains gehört nicht dazu."
            .into(),
        Message::ApiTokenLifetime { days } => format!(
            "Ein Token gilt 1 bis 365 Tage (höchstens ein Jahr); {days} Tage sind nicht möglich."
        ),
        Message::ApiTokenExpiryDate { value } => {
            format!("Das Ablaufdatum muss ein Datum wie 2027-03-01 sein, nicht {value:?}.")
        }
        Message::NoSuchApiToken { id } => format!(
            "Es gibt kein gültiges API-Token Nr. {id}, das Sie widerrufen dürfen (vielleicht \
             wurde es inzwischen widerrufen)."
        ),
        Message::PrimaryTwiceInFile {
            primary,
            first_line,
        } => format!(
            "{primary} steht auch in Zeile {first_line}: jede Primäradresse darf nur einmal in der \
             Datei stehen."
        ),
        Message::AddressTwiceInFile {
            address,
            line,
            primary_there,
        } => format!(
            "{address} steht auch in Zeile {line} ({} dort): eine Adresse kann nur zu einem \
             Eintrag gehören.",
            if *primary_there {
                "als Primäradresse"
            } else {
                "als Alias"
            }
        ),
        Message::TableNotAdministered { primary, owning } => {
            format!("{primary} gehört in die Tabelle von {owning}, die Sie nicht verwalten.")
        }
        Message::OtherTable {
            primary,
            owning,
            domain,
        } => format!(
            "{primary} gehört in die Tabelle von {owning}, nicht von {domain}: laden Sie die \
             Zeile mit der Datei jener Tabelle hoch."
        ),
        Message::AddressSwap => "Dieser Eintrag und der Eintrag einer anderen Zeile nehmen sich \
            gegenseitig Adressen (direkt oder im Kreis); ein Upload kann keine Adressen tauschen: \
            laden Sie die Datei einmal ohne die verschobenen Adressen hoch, dann noch einmal mit \
            ihnen."
            .into(),
        Message::AddressUsedByRow {
            address,
            primary,
            domain,
        } => format!("{address} wird bereits vom Eintrag {primary} ({domain}) verwendet."),
        Message::AddressUsedElsewhere { address } => format!(
            "{address} wird bereits von einem Eintrag verwendet, den Sie nicht verwalten; eine \
             Adresse kann nur zu einem Eintrag gehören."
        ),
        Message::AddressTaken { address } => format!(
            "{address} wird bereits von einem anderen Eintrag verwendet; eine Adresse kann nur zu \
             einem Eintrag gehören."
        ),
        Message::TokenNameLength { max } => {
            format!("Ungültiger Token-Name: ein Token-Name hat 1 bis {max} Zeichen.")
        }
        Message::TokenNameChar { found } => format!(
            "Ungültiger Token-Name: {found:?} ist nicht erlaubt; verwenden Sie a-z, 0-9, '.', '_' \
             und '-' (z. B. entra, okta-prod, idm-sync)."
        ),
        Message::ContactGroupEmpty => "Ungültige Kontaktgruppe: Der Gruppenname ist leer.".into(),
        Message::ContactGroupTooLong { len, max } => format!(
            "Ungültige Kontaktgruppe: Der Gruppenname ist {len} Zeichen lang; erlaubt sind \
             höchstens {max}."
        ),
        // Escaped as in English (`\t`, `\u{a0}`): the character at fault stays visible.
        Message::ContactGroupWhitespace { shown } => format!(
            "Ungültige Kontaktgruppe: Der Gruppenname „{}“ enthält Leerraum oder ein \
             Steuerzeichen.",
            shown.escape_debug()
        ),
        // Not yet data: the server's English sentence, as it is.
        Message::English(text) => text.clone(),
    }
}

/// `Spalte 3 „Kommentar“`, or `Spalte 3` when the header does not name it.
fn column_de(number: usize, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("Spalte {number} „{name}“"),
        None => format!("Spalte {number}"),
    }
}

/// A CSV problem's place (`line 3, column 2 "E-Mail"`) in German.
pub fn csv_column_de(column: &CsvColumn) -> String {
    column_de(column.number, Some(&column.name))
}

fn file_de(e: &FileError) -> String {
    match e {
        FileError::Empty => "Die Datei ist leer; sie braucht eine Kopfzeile (E-Mail-Adresse, \
            Vorname, …) und eine Zeile je Eintrag."
            .into(),
        FileError::TooLarge { bytes } => format!(
            "Die Datei ist {} MiB groß; höchstens 20 MiB können auf einmal hochgeladen werden: \
             teilen Sie sie in mehrere Dateien.",
            bytes.div_ceil(1024 * 1024)
        ),
        FileError::TooManyLines { line } => format!(
            "Die Datei hat mehr als {MAX_DATA_LINES} Datenzeilen (die Grenze ist in Zeile {line} \
             erreicht); teilen Sie sie in mehrere Dateien."
        ),
        FileError::Utf16 => "Die Datei ist UTF-16-Text („Unicode-Text“); speichern Sie sie \
            stattdessen als „CSV UTF-8“ oder einfaches CSV."
            .into(),
        FileError::Binary => "Dies ist keine CSV-Datei: sie enthält Binärdaten (NUL-Bytes). Ist \
            es eine Tabelle (.xlsx, .ods), speichern Sie sie zuerst als CSV."
            .into(),
        FileError::HeaderOnly => "Die Datei hat eine Kopfzeile, aber keine Datenzeilen: es gibt \
            nichts hochzuladen."
            .into(),
        FileError::Columns { line, problems } => {
            let mut text = format!(
                "Die Kopfzeile (Zeile {line}) hat Probleme: {}",
                problems
                    .iter()
                    .map(column_problem_de)
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            if problems
                .iter()
                .any(|p| matches!(p, ColumnProblem::Unknown { .. }))
            {
                let german: Vec<&str> = Column::ALL.iter().map(|c| c.german()).collect();
                let english: Vec<&str> = Column::ALL.iter().map(|c| c.english()).collect();
                text.push_str(&format!(
                    ". Die Spalten heißen {} (auf Englisch: {}), in beliebiger Reihenfolge und \
                     Schreibweise; Aliasse dürfen auch in nummerierten Spalten stehen (Alias 1, \
                     Alias 2, …)",
                    german.join(", "),
                    english.join(", ")
                ));
            }
            text
        }
        FileError::UnclosedQuote {
            line,
            character,
            cell,
            column_name,
            last_line,
        } => format!(
            "Zeile {line}, {} (Zeichen {character}): das doppelte Anführungszeichen, das diese \
             Zelle öffnet, wird nie geschlossen, daher würde alles von dort bis zum Ende der \
             Datei (Zeilen {line} bis {last_line}) als diese eine Zelle gelesen; ergänzen Sie das \
             schließende Anführungszeichen, und schreiben Sie ein Anführungszeichen in einer \
             Zelle doppelt (\"\")",
            column_de(*cell, column_name.as_deref())
        ),
        FileError::Unreadable { line, message } => {
            format!("Die Datei kann nahe Zeile {line} nicht als CSV gelesen werden: {message}")
        }
    }
}

fn column_problem_de(p: &ColumnProblem) -> String {
    match p {
        ColumnProblem::Unknown { name, number } => format!(
            "{} ist keine Spalte der Adresstabelle",
            column_de(*number, Some(name))
        ),
        ColumnProblem::Duplicate {
            name,
            number,
            first_name,
            first_number,
        } => format!(
            "{} ist dieselbe Spalte wie {}; behalten Sie nur eine davon",
            column_de(*number, Some(name)),
            column_de(*first_number, Some(first_name))
        ),
        ColumnProblem::MissingPrimary => "es gibt keine Spalte E-Mail-Adresse („E-Mail“ oder \
            „E-Mail-Adresse“); sie enthält die Primäradresse jedes Eintrags, die sagt, um welchen \
            Eintrag es in einer Zeile geht"
            .into(),
    }
}

fn address_de(e: &AddressError) -> String {
    let no = |input: &str, why: String| format!("„{input}“ ist keine E-Mail-Adresse: {why}");
    match e {
        AddressError::Empty => {
            "Eine E-Mail-Adresse ist nötig, aber es wurde keine eingegeben.".into()
        }
        AddressError::MissingAt { input } => no(input, "es fehlt das @".into()),
        AddressError::MoreThanOneAt { input } => no(input, "sie hat mehr als ein @".into()),
        AddressError::Quoted { input } => format!(
            "„{input}“ ist keine hier akzeptierte E-Mail-Adresse: Lokalteile in \
             Anführungszeichen (\") werden nicht akzeptiert"
        ),
        AddressError::Whitespace { input } => no(
            input,
            "sie enthält ein Leerzeichen; trennen Sie mehrere Adressen durch Kommas".into(),
        ),
        AddressError::EmptyLocalPart { input } => no(input, "vor dem @ steht nichts".into()),
        AddressError::EmptyDomain { input } => no(input, "nach dem @ steht nichts".into()),
        AddressError::LocalPartCharacter { input, character } => no(
            input,
            format!(
                "der Lokalteil (vor dem @) enthält {}; erlaubt sind nur ASCII-Buchstaben, \
                 Ziffern, Punkte und {ATEXT_SPECIALS}",
                shown_char(*character)
            ),
        ),
        AddressError::LocalPartDots { input } => no(
            input,
            "der Lokalteil (vor dem @) beginnt oder endet mit einem Punkt oder hat zwei Punkte \
             hintereinander"
                .into(),
        ),
        AddressError::LocalPartTooLong { input, len } => no(
            input,
            format!(
                "der Lokalteil (vor dem @) ist {len} Zeichen lang, mehr als die erlaubten \
                 {MAX_LOCAL_PART_LEN}"
            ),
        ),
        AddressError::IpLiteral { input } => format!(
            "„{input}“ ist keine hier akzeptierte E-Mail-Adresse: IP-Adressen in eckigen \
             Klammern werden nicht akzeptiert; verwenden Sie einen Domainnamen"
        ),
        AddressError::InvalidDomain {
            input,
            domain,
            problem,
        } => no(
            input,
            format!(
                "der Domainteil „{domain}“ ist kein gültiger Domainname: {}",
                domain_problem_de(problem)
            ),
        ),
        AddressError::TooLong { input, len } => no(
            input,
            format!(
                "sie ist {len} Zeichen lang (Domain in ASCII-Form), mehr als die erlaubten \
                 {MAX_ADDRESS_LEN}"
            ),
        ),
    }
}

fn domain_problem_de(p: &DomainProblem) -> String {
    match p {
        DomainProblem::Empty => "er ist leer".into(),
        DomainProblem::IpLiteral => {
            "IP-Adressen in eckigen Klammern werden nicht akzeptiert; verwenden Sie einen \
             Domainnamen"
                .into()
        }
        DomainProblem::EmptyLabel => {
            "er beginnt oder endet mit einem Punkt oder hat zwei Punkte hintereinander".into()
        }
        DomainProblem::SingleLabel => {
            "er hat nur einen Teil; eine Domain braucht mindestens zwei, wie example.org".into()
        }
        DomainProblem::Character { character } => format!(
            "er enthält {}; erlaubt sind nur Buchstaben, Ziffern, Bindestriche und Punkte",
            shown_char(*character)
        ),
        DomainProblem::HyphenAtLabelEdge { label } => {
            format!("der Teil „{label}“ beginnt oder endet mit einem Bindestrich")
        }
        DomainProblem::LabelTooLong { label, len } => format!(
            "der Teil „{label}“ ist {len} Zeichen lang (in ASCII-Form), mehr als die erlaubten \
             {MAX_LABEL_LEN}"
        ),
        DomainProblem::TooLong { len } => format!(
            "er ist {len} Zeichen lang (in ASCII-Form), mehr als die erlaubten {MAX_DOMAIN_LEN}"
        ),
        DomainProblem::NumericTopLevel { label } => format!(
            "sein letzter Teil „{label}“ besteht nur aus Ziffern; IP-Adressen werden nicht \
             akzeptiert"
        ),
        DomainProblem::Idna => "er ist kein gültiger internationalisierter Domainname (prüfen \
            Sie ihn auf vertippte oder ungewöhnliche Zeichen)"
            .into(),
    }
}

fn text_de(e: &TextError) -> String {
    let what = |w: &str| {
        if w == "comment" {
            "Der Kommentar"
        } else {
            "Der Name"
        }
    };
    match e {
        TextError::TooLong { what: w, len, max } => {
            format!(
                "{} ist {len} Zeichen lang; erlaubt sind höchstens {max}.",
                what(w)
            )
        }
        TextError::ControlCharacter {
            what: w,
            character,
            position,
        } => format!(
            "{} enthält an Stelle {position} das Steuerzeichen {character}; entfernen Sie es.",
            what(w)
        ),
        TextError::BidiControl {
            what: w,
            character,
            name,
            position,
        } => format!(
            "{} enthält an Stelle {position} das Richtungssteuerzeichen {character} ({name}): \
             es lässt Text in anderer Reihenfolge erscheinen, als er geschrieben ist; entfernen \
             Sie es.",
            what(w)
        ),
        TextError::InvisibleCharacter {
            what: w,
            character,
            name,
            position,
        } => format!(
            "{} enthält an Stelle {position} das unsichtbare Zeichen {character} ({name}); \
             entfernen Sie es.",
            what(w)
        ),
        TextError::MisplacedJoiner {
            what: w,
            character,
            name,
            position,
        } => format!(
            "{} enthält an Stelle {position} das unsichtbare Zeichen {character} ({name}); es \
             gehört nur in Wörter von Schriften, die es brauchen (etwa Persisch oder die \
             indischen Schriften): entfernen Sie es.",
            what(w)
        ),
    }
}

fn row_de(p: &RowProblem) -> String {
    match p {
        RowProblem::AliasIsPrimary { alias } => format!(
            "{alias} ist die Absenderadresse dieses Eintrags; sie kann nicht zugleich ein Alias sein"
        ),
        RowProblem::AliasTwice { alias } => {
            format!("{alias} steht mehr als einmal unter den Aliassen")
        }
        RowProblem::PersonalHasApplicant => "Ein persönliches Postfach hat keine \
            Antragsteller-Adresse (sein Inhaber bestätigt die Anfragen); leeren Sie sie, oder \
            machen Sie das Postfach funktional"
            .into(),
        RowProblem::FunctionalNeedsApplicant => "Ein funktionales Postfach braucht eine \
            Antragsteller-Adresse: die Person, die seine Bestätigungsanfragen erhält und seine \
            Zertifikate beantragt"
            .into(),
        RowProblem::ApplicantIsPrimary { primary } => format!(
            "Die Antragsteller-Adresse muss die eigene Adresse einer Person sein, nicht die \
             Absenderadresse {primary} des Postfachs"
        ),
        RowProblem::ApplicantIsAlias { alias } => format!(
            "Die Antragsteller-Adresse muss die eigene Adresse einer Person sein, nicht der Alias \
             {alias} des Postfachs"
        ),
        RowProblem::FunctionalHasFirstName => "Ein funktionales Postfach hat keinen Vornamen; \
            tragen Sie den Namen des Postfachs als Nachnamen ein"
            .into(),
        RowProblem::FunctionalNeedsName => {
            "Ein funktionales Postfach braucht einen Namen: tragen Sie ihn als Nachnamen ein".into()
        }
        RowProblem::NotAdministered {
            address,
            administered,
        } => {
            let yours = if administered.is_empty() {
                "Sie verwalten keine".to_owned()
            } else {
                administered.join(", ")
            };
            format!("{address} liegt in keiner Domain, die Sie verwalten ({yours})")
        }
    }
}

fn csr_de(e: &CsrError) -> String {
    match e {
        CsrError::NotACsr => "Dies ist kein Zertifikatsantrag (PKCS#10): fügen Sie den Text von \
            -----BEGIN CERTIFICATE REQUEST----- bis -----END CERTIFICATE REQUEST----- ein, oder \
            laden Sie die .csr-Datei hoch."
            .into(),
        CsrError::PrivateKey => "Dies ist ein privater Schlüssel, kein Zertifikatsantrag: halten \
            Sie ihn geheim (betrachten Sie ihn als offengelegt, wenn Sie ihn irgendwohin gesendet \
            haben) und fügen Sie stattdessen den Antrag (-----BEGIN CERTIFICATE REQUEST-----) ein."
            .into(),
        CsrError::BadSignature => "Die Signatur des Antrags passt nicht zu seinem Schlüssel: der \
            Antrag wurde verändert oder beschädigt; erstellen Sie einen neuen."
            .into(),
        CsrError::UnsupportedSignature => "Der Antrag ist mit einem Verfahren signiert, das das \
            Portal nicht prüfen kann: erstellen Sie ihn erneut mit SHA-256 (openssl req -sha256)."
            .into(),
        CsrError::RsaTooShort { bits } => {
            format!("RSA-Schlüssel müssen mindestens {MIN_RSA_BITS} Bit haben; dieser hat {bits}.")
        }
        CsrError::RsaTooLong { bits } => {
            format!("RSA-Schlüssel dürfen höchstens {MAX_RSA_BITS} Bit haben; dieser hat {bits}.")
        }
        CsrError::RsaOddLength { bits } => format!(
            "Die Länge eines RSA-Schlüssels muss ein Vielfaches von 8 Bit sein; dieser hat {bits}."
        ),
        CsrError::RsaExponent => "Der öffentliche Exponent des RSA-Schlüssels muss eine ungerade \
            Zahl von mindestens 3 sein (meist 65537)."
            .into(),
        CsrError::EcCurve { curve } => {
            format!("Die EC-Kurve {curve} wird nicht akzeptiert: verwenden Sie P-256 oder P-384.")
        }
        CsrError::EcPointFormat => "Der öffentliche EC-Schlüssel ist nicht in unkomprimierter \
            Form: erstellen Sie den Antrag erneut mit den Voreinstellungen von OpenSSL."
            .into(),
        CsrError::KeyAlgorithm { algorithm } => format!(
            "{algorithm}-Schlüssel werden nicht akzeptiert: verwenden Sie RSA (2048 bis 8192 Bit) \
             oder EC P-256 oder P-384."
        ),
    }
}

/// A refused certificate request as "My client certificates" words it: its dates are days of the
/// viewer's `clock` (R16), written the way `lang` writes them. (The message's own wording, which the
/// REST API and the command line answer, writes them as UTC days.)
pub fn say_refusal_on(lang: Lang, refusal: &RequestRefusal, clock: &Clock) -> String {
    match refusal {
        RequestRefusal::StillValid {
            not_after,
            renewable_from,
        } => {
            let until = clock.wall(*not_after).date(lang);
            let from = clock.wall(*renewable_from).date(lang);
            match lang {
                Lang::En => format!(
                    "you already hold a valid certificate for this mailbox, valid until {until}; a \
                     new one can be requested from {from} on, or at once after revoking the \
                     current one"
                ),
                Lang::De => still_valid_de(&until, &from),
            }
        }
        other => say(lang, &Message::Request(other.clone())),
    }
}

fn still_valid_de(until: &str, from: &str) -> String {
    format!(
        "Sie haben bereits ein gültiges Zertifikat für dieses Postfach, gültig bis {until}; ein \
         neues können Sie ab dem {from} beantragen, oder sofort, nachdem Sie das aktuelle \
         widerrufen haben."
    )
}

fn request_de(r: &RequestRefusal) -> String {
    match r {
        RequestRefusal::StillValid {
            not_after,
            renewable_from,
        } => still_valid_de(&german_date(*not_after), &german_date(*renewable_from)),
        RequestRefusal::RowInactive => "Dieses Postfach ist deaktiviert; bis es wieder aktiviert \
            ist, kann kein Zertifikat dafür beantragt werden."
            .into(),
        RequestRefusal::NoAddressChosen => {
            "Wählen Sie mindestens eine Adresse für das Zertifikat.".into()
        }
        RequestRefusal::NotLinked { address } => format!(
            "{address} ist nicht mit Ihnen verknüpft; bestätigen Sie zuerst eine \
             Bestätigungsanfrage dafür."
        ),
        RequestRefusal::LinkSuspended { address } => format!(
            "Für {address} wurde eine neue Bestätigungsanfrage gesendet; bestätigen Sie sie (mit \
             dem Link aus der neuen E-Mail), bevor Sie ein Zertifikat für diese Adresse \
             beantragen."
        ),
        RequestRefusal::NoName => "Ihr Identitätsanbieter nennt keinen Namen für Sie (Vor- und \
            Nachname sind beide leer), und ein persönliches Zertifikat trägt Ihren Namen: bitten \
            Sie die Administratoren Ihres Identitätsanbieters, ihn einzutragen, und melden Sie \
            sich dann erneut an."
            .into(),
        RequestRefusal::NameTooLong => format!(
            "Ihr Name, wie Ihr Identitätsanbieter ihn angibt, ist länger als die \
             {MAX_COMMON_NAME_CHARS} Zeichen, die der Name eines Zertifikats haben kann: bitten \
             Sie die Administratoren Ihres Identitätsanbieters um eine kürzere Form, und melden \
             Sie sich dann erneut an."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::address::EmailAddress;

    #[test]
    fn q9_english_is_the_messages_own_sentence() {
        let e = Message::from(EmailAddress::parse("no-at").unwrap_err());
        assert_eq!(say(Lang::En, &e), e.to_string());
    }

    #[test]
    fn q9_german_words_an_address_error_with_its_input_and_no_english() {
        let e = Message::from(EmailAddress::parse("anna@@example.org").unwrap_err());
        let de = say(Lang::De, &e);
        assert!(de.contains("„anna@@example.org“"), "{de}");
        assert!(de.contains("mehr als ein @"), "{de}");
        assert!(!de.contains("not an email address"), "{de}");
    }

    #[test]
    fn q9_r01_a_refused_contact_group_reads_in_german_and_keeps_its_english() {
        let cases = [
            (
                Message::ContactGroupEmpty,
                "invalid contact group: the group name is empty",
                "Der Gruppenname ist leer",
            ),
            (
                Message::ContactGroupTooLong { len: 201, max: 200 },
                "invalid contact group: the group name is 201 characters long; at most 200 are \
                 allowed",
                "201 Zeichen lang; erlaubt sind höchstens 200",
            ),
            (
                Message::ContactGroupWhitespace {
                    shown: "nap example".into(),
                },
                "invalid contact group: the group name \"nap example\" contains whitespace or a \
                 control character",
                "„nap example“ enthält Leerraum",
            ),
        ];
        for (message, english, german) in cases {
            assert_eq!(say(Lang::En, &message), english);
            let de = say(Lang::De, &message);
            assert!(de.starts_with("Ungültige Kontaktgruppe: "), "{de}");
            assert!(de.contains(german), "{de}");
            assert!(!de.contains("group name"), "{de}");
        }
    }

    #[test]
    fn r16_q9_the_certificate_page_words_a_refusals_dates_as_days_of_the_viewers_zone() {
        use crate::dates::WallTime;
        let day = |year, month, day| WallTime {
            year,
            month,
            day,
            hour: 0,
            minute: 30,
        };
        // 2027-12-06 23:30 UTC and 2027-11-08 23:30 UTC: the next days in Berlin.
        let clock = Clock {
            zone: "Europe/Berlin".into(),
            offset_secs: 3600,
            known: vec![
                (1_825_716_600, day(2027, 11, 9)),
                (1_828_135_800, day(2027, 12, 7)),
            ],
        };
        let r = RequestRefusal::StillValid {
            not_after: 1_828_135_800,
            renewable_from: 1_825_716_600,
        };
        let en = say_refusal_on(Lang::En, &r, &clock);
        assert_eq!(
            en,
            "you already hold a valid certificate for this mailbox, valid until 7 Dec 2027; a new \
             one can be requested from 9 Nov 2027 on, or at once after revoking the current one"
        );
        let de = say_refusal_on(Lang::De, &r, &clock);
        assert!(
            de.contains("gültig bis 07.12.2027; ein neues können Sie ab dem 09.11.2027"),
            "{de}"
        );
        // The message's own wording (REST API, command line) keeps its UTC days.
        assert!(r.to_string().contains("valid until 2027-12-06"), "{r}");
        // Other refusals read as the message does.
        assert_eq!(
            say_refusal_on(Lang::De, &RequestRefusal::RowInactive, &clock),
            say(Lang::De, &Message::Request(RequestRefusal::RowInactive))
        );
    }

    #[test]
    fn q9_german_writes_a_refusals_dates_the_german_way() {
        let r = Message::Request(RequestRefusal::StillValid {
            not_after: 1_758_585_600, // 2025-09-23
            renewable_from: 1_756_166_400,
        });
        let de = say(Lang::De, &r);
        assert!(de.contains("gültig bis 23.09.2025"), "{de}");
        assert!(!de.contains("valid until"), "{de}");
    }
}
