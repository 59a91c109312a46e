//! The CSV file itself (SPEC §4): reading what spreadsheets really write, and writing the download.
//!
//! Pure: bytes in, lines with cell values out (and back). What the values mean for the rows is the
//! rows service's business (`RowInput::parse`, R8); this module only knows columns and cells.

use std::borrow::Cow;

use csv::{ReaderBuilder, StringRecord, Terminator, WriterBuilder};
use domain::address::EmailAddress;
use domain::mailbox::MailboxType;
use domain::message::Message;
use domain::row::{Field, RowFields};
use serde::{Deserialize, Serialize};

pub use domain::csv::{
    alias_number, header_name, Column, ColumnProblem, CsvColumn, FileError, LineError,
    TextEncoding, MAX_DATA_LINES, MAX_FILE_BYTES,
};

/// One data line of the file: the cells of the columns the header names, trimmed, with the
/// formula guard of the download removed. `None` means the file has no such column (an existing
/// row keeps that field; a new row gets the default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvLine {
    /// Physical line (1-based) where the record starts.
    pub line: usize,
    /// The primary address as written (empty if the cell is).
    pub primary: String,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Aliases, separated by spaces, commas or semicolons.
    pub aliases: Option<String>,
    /// Mailbox type as written.
    pub mailbox_type: Option<String>,
    /// Applicant address as written.
    pub applicant: Option<String>,
    /// Comment.
    pub comment: Option<String>,
    /// Active; an empty cell means yes. `None` also when the cell holds no yes/no value (the
    /// error is in [`ParsedFile::errors`]).
    pub active: Option<bool>,
}

/// A column the header names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderColumn {
    /// Which column.
    pub column: Column,
    /// Its header text and position.
    pub at: CsvColumn,
}

/// A file read as far as the file format goes; the rows' rules come after (see the preview).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedFile {
    /// The encoding found.
    pub encoding: TextEncoding,
    /// The delimiter found in the header line: `,`, `;` or a tab.
    pub delimiter: char,
    /// The named columns, in file order.
    pub columns: Vec<HeaderColumn>,
    /// The data lines, in file order (lines with only empty cells are left out).
    pub lines: Vec<CsvLine>,
    /// Problems of single lines found while reading (cell counts, Active values).
    pub errors: Vec<LineError>,
}

impl ParsedFile {
    /// Where the file has `column`, if it has it.
    pub fn column(&self, column: Column) -> Option<&CsvColumn> {
        self.columns
            .iter()
            .find(|c| c.column == column)
            .map(|c| &c.at)
    }
}

/// Reads an uploaded file: size and line limits, encoding, delimiter, header, cells.
///
/// Refuses the whole file ([`FileError`]) only when no line can be read sensibly; problems of
/// single lines are collected in [`ParsedFile::errors`] so the NAP sees them all at once.
pub fn parse(bytes: &[u8]) -> Result<ParsedFile, FileError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(FileError::TooLarge { bytes: bytes.len() });
    }
    let (text, encoding) = decode(bytes)?;
    if text.trim().is_empty() {
        return Err(FileError::Empty);
    }
    let delimiter = detect_delimiter(&text);
    let mut reader = ReaderBuilder::new()
        .delimiter(delimiter as u8)
        .has_headers(false)
        // Cell counts are checked here, line by line, with a message that names the line.
        .flexible(true)
        .from_reader(text.as_bytes());
    let unreadable = |e: csv::Error| FileError::Unreadable {
        line: e.position().map_or(0, |p| p.line() as usize),
        message: e.to_string(),
    };

    let mut record = StringRecord::new();
    let mut lines_of = LineCounter::new(text.as_bytes());
    // Blank lines before the header are skipped by the reader; lines of empty cells are not.
    let header_line = loop {
        if !reader.read_record(&mut record).map_err(unreadable)? {
            return Err(FileError::Empty);
        }
        if record.iter().any(|c| !c.trim().is_empty()) {
            break lines_of.line_of(&record);
        }
    };
    let header_record = record.clone();
    // Where the last record read starts: an unclosed quote can only be in that one (it swallows
    // everything after it), so only it is scanned for one.
    let mut last_start = record_start(&record);
    let mut more = reader.read_record(&mut record).map_err(unreadable)?;
    if !more {
        // The header is the last record: a quote opened in it explains any problem it has.
        if let Some(open) = unclosed_quote(text.as_bytes(), last_start, delimiter as u8) {
            return Err(unclosed_quote_error(&text, &mut lines_of, open, None));
        }
    }
    let (columns, unnamed) = header(&header_record, header_line)?;
    let width = header_record.len();

    let mut lines = Vec::new();
    let mut errors = Vec::new();
    while more {
        last_start = record_start(&record);
        // Spreadsheets write trailing lines of empty cells (`;;;;;;;`): not data.
        if record.iter().any(|c| !c.trim().is_empty()) {
            let line = lines_of.line_of(&record);
            if lines.len() == MAX_DATA_LINES {
                return Err(FileError::TooManyLines { line });
            }
            lines.push(data_line(
                &record,
                line,
                width,
                &columns,
                &unnamed,
                &mut errors,
            ));
        }
        more = reader.read_record(&mut record).map_err(unreadable)?;
    }
    if let Some(open) = unclosed_quote(text.as_bytes(), last_start, delimiter as u8) {
        return Err(unclosed_quote_error(
            &text,
            &mut lines_of,
            open,
            Some(&columns),
        ));
    }
    if lines.is_empty() {
        return Err(FileError::HeaderOnly);
    }
    Ok(ParsedFile {
        encoding,
        delimiter,
        columns,
        lines,
        errors,
    })
}

/// Where a record starts in the text (the reader's byte offset; it may point at the line
/// break before the record).
fn record_start(record: &StringRecord) -> usize {
    record.position().map_or(0, |p| p.byte() as usize)
}

/// A double quote that opens a cell and is never closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OpenQuote {
    /// Byte offset of the quote in the text.
    at: usize,
    /// 0-based position of its cell in its record.
    cell: usize,
}

/// Reads `text` from `from` (the start of a record) as the CSV reader does — a double quote
/// opens a quoted cell only as the cell's first character, `""` inside one is a quote, CR, LF
/// and CRLF end a record outside quotes — and returns the quote that is still open at the end.
/// The reader itself ends such a cell at the end of the file without a word.
fn unclosed_quote(text: &[u8], from: usize, delimiter: u8) -> Option<OpenQuote> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        StartRecord,
        StartCell,
        InCell,
        InQuotes,
        QuoteInQuotes,
    }
    let mut state = State::StartRecord;
    let mut cell = 0;
    let mut open = 0;
    for (i, &b) in text.iter().enumerate().skip(from) {
        let line_break = b == b'\r' || b == b'\n';
        state = match state {
            State::StartRecord if line_break => State::StartRecord,
            State::StartRecord | State::StartCell => {
                if state == State::StartRecord {
                    cell = 0;
                }
                if b == b'"' {
                    open = i;
                    State::InQuotes
                } else if b == delimiter {
                    cell += 1;
                    State::StartCell
                } else if line_break {
                    State::StartRecord
                } else {
                    State::InCell
                }
            }
            State::InCell | State::QuoteInQuotes if b == delimiter => {
                cell += 1;
                State::StartCell
            }
            State::InCell | State::QuoteInQuotes if line_break => State::StartRecord,
            State::InCell => State::InCell,
            State::QuoteInQuotes if b == b'"' => State::InQuotes,
            // `"a"b` reads as `ab`: text after the closing quote belongs to the cell.
            State::QuoteInQuotes => State::InCell,
            State::InQuotes if b == b'"' => State::QuoteInQuotes,
            State::InQuotes => State::InQuotes,
        };
    }
    (state == State::InQuotes).then_some(OpenQuote { at: open, cell })
}

/// The refusal of a file with an unclosed quote: its line and character, and its column's name
/// when the quote is on a data line (`columns`) whose column the header names.
fn unclosed_quote_error(
    text: &str,
    lines_of: &mut LineCounter<'_>,
    open: OpenQuote,
    columns: Option<&[HeaderColumn]>,
) -> FileError {
    let line = lines_of.line_at(open.at);
    let line_start = text[..open.at].rfind(['\r', '\n']).map_or(0, |i| i + 1);
    let character = text[line_start..open.at].chars().count() + 1;
    let last_line = lines_of.line_at(text.trim_end_matches(['\r', '\n']).len());
    let column_name = columns.and_then(|columns| {
        columns
            .iter()
            .find(|c| c.at.number == open.cell + 1)
            .map(|c| c.at.name.clone())
    });
    FileError::UnclosedQuote {
        line,
        character,
        cell: open.cell + 1,
        column_name,
        last_line,
    }
}

/// The physical line (1-based) where a record starts, from its byte offset.
///
/// The reader's own line count is not that: after a CRLF it reports the record as starting on the
/// line before (the LF is not consumed yet), and so would every error message. Records come in
/// file order, so counting the line breaks up to each record's start is one pass over the file.
struct LineCounter<'a> {
    text: &'a [u8],
    /// Where counting stopped.
    at: usize,
    /// The line at `at`.
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a [u8]) -> Self {
        LineCounter {
            text,
            at: 0,
            line: 1,
        }
    }

    fn line_of(&mut self, record: &StringRecord) -> usize {
        let mut start = record
            .position()
            .map_or(self.at, |p| p.byte() as usize)
            .clamp(self.at, self.text.len());
        // The recorded start may be the terminator (or blank lines) before the record.
        while start < self.text.len() && matches!(self.text[start], b'\r' | b'\n') {
            start += 1;
        }
        self.line_at(start)
    }

    /// The line of the byte at `offset` (at or after every offset asked before).
    fn line_at(&mut self, offset: usize) -> usize {
        let start = offset.clamp(self.at, self.text.len());
        for i in self.at..start {
            // CRLF, LF and a lone CR each end a line.
            match self.text[i] {
                b'\n' => self.line += 1,
                b'\r' if self.text.get(i + 1) != Some(&b'\n') => self.line += 1,
                _ => {}
            }
        }
        self.at = start;
        self.line
    }
}

/// UTF-8 (a byte order mark is dropped) if the bytes are valid UTF-8, else Windows-1252, which
/// maps every byte to a character: a German "ANSI" file is never valid UTF-8 once it has an umlaut.
fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, TextEncoding), FileError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(FileError::Utf16);
    }
    if bytes.contains(&0) {
        return Err(FileError::Binary);
    }
    let (rest, bom) = match bytes.strip_prefix(&UTF8_BOM) {
        Some(rest) => (rest, true),
        None => (bytes, false),
    };
    match std::str::from_utf8(rest) {
        Ok(text) if bom => Ok((Cow::Borrowed(text), TextEncoding::Utf8WithBom)),
        Ok(text) => Ok((Cow::Borrowed(text), TextEncoding::Utf8)),
        Err(_) => {
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(rest);
            Ok((text, TextEncoding::Windows1252))
        }
    }
}

/// The delimiter that the header line uses most, outside quotes: no header name contains a comma,
/// semicolon or tab, so the header line says it unambiguously. A one-column header means comma.
/// Lines end where the reader ends them: at CRLF, LF or a lone CR (old Mac spreadsheets).
fn detect_delimiter(text: &str) -> char {
    let header = text
        .split(['\r', '\n'])
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let mut counts = [(',', 0usize), (';', 0), ('\t', 0)];
    let mut quoted = false;
    for c in header.chars() {
        if c == '"' {
            quoted = !quoted;
        } else if !quoted {
            for (d, n) in &mut counts {
                if c == *d {
                    *n += 1;
                }
            }
        }
    }
    // On a tie the first wins: comma, the format's own delimiter.
    let mut best = counts[0];
    for candidate in &counts[1..] {
        if candidate.1 > best.1 {
            best = *candidate;
        }
    }
    best.0
}

/// The header's columns, and the positions (0-based) of header cells left empty.
fn header(
    record: &StringRecord,
    line: usize,
) -> Result<(Vec<HeaderColumn>, Vec<usize>), FileError> {
    let mut columns: Vec<HeaderColumn> = Vec::new();
    let mut unnamed = Vec::new();
    let mut problems = Vec::new();
    for (index, cell) in record.iter().enumerate() {
        let name = header_name(cell);
        let number = index + 1;
        if name.is_empty() {
            unnamed.push(index);
            continue;
        }
        match Column::from_header(name) {
            None => problems.push(ColumnProblem::Unknown {
                name: name.to_owned(),
                number,
            }),
            Some(column) => {
                // Alias columns may be several (`Aliases`, `Alias 1`, `Alias 2`), each once.
                let number_of = |name: &str| alias_number(&name.to_lowercase());
                if let Some(first) = columns
                    .iter()
                    .find(|c| c.column == column && number_of(&c.at.name) == number_of(name))
                {
                    problems.push(ColumnProblem::Duplicate {
                        name: name.to_owned(),
                        number,
                        first_name: first.at.name.clone(),
                        first_number: first.at.number,
                    });
                } else {
                    columns.push(HeaderColumn {
                        column,
                        at: CsvColumn {
                            name: name.to_owned(),
                            number,
                        },
                    });
                }
            }
        }
    }
    if !columns.iter().any(|c| c.column == Column::Primary) {
        problems.push(ColumnProblem::MissingPrimary);
    }
    if problems.is_empty() {
        Ok((columns, unnamed))
    } else {
        Err(FileError::Columns { line, problems })
    }
}

/// One data record as a [`CsvLine`]; problems go to `errors`.
fn data_line(
    record: &StringRecord,
    line: usize,
    width: usize,
    columns: &[HeaderColumn],
    unnamed: &[usize],
    errors: &mut Vec<LineError>,
) -> CsvLine {
    let mut out = CsvLine {
        line,
        ..CsvLine::default()
    };
    if record.len() < width {
        errors.push(LineError {
            line,
            column: None,
            message: Message::TooFewCells {
                cells: record.len(),
                header: width,
            },
        });
    } else if record.iter().skip(width).any(|c| !c.trim().is_empty()) {
        errors.push(LineError {
            line,
            column: None,
            message: Message::TooManyCells {
                cells: record.len(),
                header: width,
            },
        });
    }
    for &index in unnamed {
        if record.get(index).is_some_and(|c| !c.trim().is_empty()) {
            errors.push(LineError {
                line,
                column: None,
                message: Message::UnnamedColumnValue { column: index + 1 },
            });
        }
    }
    for c in columns {
        let Some(raw) = record.get(c.at.number - 1) else {
            continue;
        };
        let value = cell_value(raw);
        match c.column {
            Column::Primary => out.primary = value,
            Column::FirstName => out.first_name = Some(value),
            Column::LastName => out.last_name = Some(value),
            // Numbered alias columns join the others, in file order.
            Column::Aliases => match &mut out.aliases {
                Some(aliases) if !value.is_empty() => {
                    if !aliases.is_empty() {
                        aliases.push(' ');
                    }
                    aliases.push_str(&value);
                }
                Some(_) => {}
                None => out.aliases = Some(value),
            },
            Column::MailboxType => out.mailbox_type = Some(value),
            Column::Applicant => out.applicant = Some(value),
            Column::Comment => out.comment = Some(value),
            Column::Active => match parse_active(&value) {
                Some(active) => out.active = Some(active),
                None => errors.push(LineError {
                    line,
                    column: Some(c.at.clone()),
                    message: Message::NotAnActiveValue {
                        value: shown(&value),
                    },
                }),
            },
        }
    }
    out
}

/// A cell's value: trimmed, and without the `'` the download puts before what a spreadsheet would
/// run as a formula (see [`neutralise`]).
///
/// A cell written with a space before its opening quote (`a, "Schmidt, Jr."`, as some
/// spreadsheets write it) keeps its quotes in the reader, which takes them off only when they
/// open the cell: they are taken off here, `""` inside read as one `"`, as if the space were not
/// there. The download never writes a space before a quote, so its round trip is not affected.
pub fn cell_value(raw: &str) -> String {
    let mut trimmed = raw.trim();
    let unquoted;
    if raw.starts_with(char::is_whitespace) {
        if let Some(inner) = trimmed
            .strip_prefix('"')
            .and_then(|inner| inner.strip_suffix('"'))
        {
            unquoted = inner.replace("\"\"", "\"");
            trimmed = unquoted.trim();
        }
    }
    if is_guarded(trimmed) {
        trimmed[1..].to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Whether a value starts with apostrophes followed by a formula character.
fn is_guarded(value: &str) -> bool {
    value.starts_with('\'') && starts_formula(value.trim_start_matches('\''))
}

fn starts_formula(value: &str) -> bool {
    value.starts_with(['=', '+', '-', '@'])
}

/// A cell as the download writes it: what a spreadsheet would run as a formula (`=`, `+`, `-`, `@`
/// first) gets a leading `'` (SPEC §4). So does a value that already looks guarded (`'=…`), so
/// that [`cell_value`] takes off exactly what this put on and the round trip stays lossless.
pub fn neutralise(value: &str) -> Cow<'_, str> {
    if starts_formula(value.trim_start_matches('\'')) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// `Active`: yes/no, true/false, 1/0, ja/nein in any case; empty means yes (SPEC §4).
pub fn parse_active(value: &str) -> Option<bool> {
    match value.trim().to_lowercase().as_str() {
        "" | "yes" | "true" | "1" | "ja" => Some(true),
        "no" | "false" | "0" | "nein" => Some(false),
        _ => None,
    }
}

/// How the download writes a yes/no value.
pub fn active_text(active: bool) -> &'static str {
    if active {
        "yes"
    } else {
        "no"
    }
}

/// A value as a message repeats it: cut after 100 characters.
fn shown(value: &str) -> String {
    match value.char_indices().nth(100) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}

/// The text of one field of a row as the file holds it (the download, and the preview's diff).
pub fn field_text(fields: &RowFields, field: Field, primary: &EmailAddress) -> String {
    match field {
        Field::PrimaryAddress => primary.to_string(),
        Field::Active => active_text(fields.active).to_owned(),
        _ => editable_text(fields, field),
    }
}

/// The text of one of a row's editable fields as the file holds it; empty for the primary
/// address and `Active`, which are not.
pub fn editable_text(fields: &RowFields, field: Field) -> String {
    match field {
        Field::FirstName => fields.first_name.to_string(),
        Field::LastName => fields.last_name.to_string(),
        Field::Aliases => fields
            .aliases
            .iter()
            .map(EmailAddress::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        Field::MailboxType => fields.mailbox_type.to_string(),
        Field::Applicant => fields
            .applicant
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        Field::Comment => fields.comment.to_string(),
        Field::PrimaryAddress | Field::Active => String::new(),
    }
}

/// Which spreadsheet a download is made for. Both read back unchanged (SPEC §4: the upload
/// accepts either delimiter, both header languages and both spellings of the values).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DownloadFormat {
    /// The upload's own format: comma, English header, `yes`/`no`, `personal`/`functional`.
    #[default]
    Standard,
    /// For Excel on a German Windows, which splits a double-clicked CSV file at semicolons (the
    /// list separator there) and would show a comma file as one column: semicolon, German
    /// header, `ja`/`nein`, `persönlich`/`funktional`.
    GermanExcel,
}

impl DownloadFormat {
    /// The name in the download's URL (`?format=excel-de`).
    pub fn name(self) -> &'static str {
        match self {
            DownloadFormat::Standard => "standard",
            DownloadFormat::GermanExcel => "excel-de",
        }
    }

    /// The format a URL names; `None` for a name that is none of [`DownloadFormat::name`]'s.
    pub fn from_name(name: &str) -> Option<DownloadFormat> {
        [DownloadFormat::Standard, DownloadFormat::GermanExcel]
            .into_iter()
            .find(|f| f.name() == name)
    }

    fn delimiter(self) -> u8 {
        match self {
            DownloadFormat::Standard => b',',
            DownloadFormat::GermanExcel => b';',
        }
    }

    fn header(self, column: Column) -> &'static str {
        match self {
            DownloadFormat::Standard => column.english(),
            DownloadFormat::GermanExcel => column.german(),
        }
    }

    /// A field's text; the German format spells the yes/no and type values in German.
    fn cell(self, fields: &RowFields, field: Field, primary: &EmailAddress) -> String {
        match (self, field) {
            (DownloadFormat::GermanExcel, Field::Active) => {
                if fields.active { "ja" } else { "nein" }.to_owned()
            }
            (DownloadFormat::GermanExcel, Field::MailboxType) => match fields.mailbox_type {
                MailboxType::Personal => "persönlich",
                MailboxType::Functional => "funktional",
            }
            .to_owned(),
            _ => field_text(fields, field, primary),
        }
    }
}

/// The table as a CSV file (SPEC §4) in the upload's own format ([`DownloadFormat::Standard`]).
pub fn write_file<'a>(rows: impl IntoIterator<Item = (&'a EmailAddress, &'a RowFields)>) -> String {
    write_file_as(rows, DownloadFormat::Standard)
}

/// The table as a CSV file: UTF-8 with a byte order mark (without it Excel reads the file as
/// Windows-1252 and shows "MÃ¼ller"; the upload drops it again), CRLF, a header, one line per
/// row; aliases separated by spaces, formula-like cells neutralised; delimiter, header language
/// and value spellings as `format` says.
pub fn write_file_as<'a>(
    rows: impl IntoIterator<Item = (&'a EmailAddress, &'a RowFields)>,
    format: DownloadFormat,
) -> String {
    let mut writer = WriterBuilder::new()
        .delimiter(format.delimiter())
        .terminator(Terminator::CRLF)
        .from_writer(Vec::from(UTF8_BOM));
    let header: Vec<&str> = Column::ALL.iter().map(|&c| format.header(c)).collect();
    writer.write_record(&header).expect("writing to memory");
    let mut cells: Vec<String> = Vec::with_capacity(Column::ALL.len());
    for (primary, fields) in rows {
        cells.clear();
        for column in Column::ALL {
            let text = format.cell(fields, column.field(), primary);
            cells.push(neutralise(&text).into_owned());
        }
        writer.write_record(&cells).expect("writing to memory");
    }
    let bytes = writer.into_inner().expect("writing to memory");
    String::from_utf8(bytes).expect("the cells are UTF-8")
}

/// The UTF-8 byte order mark.
const UTF8_BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_case_insensitive_trimmed_english_or_german() {
        assert_eq!(Column::from_header(" e-mail "), Some(Column::Primary));
        assert_eq!(Column::from_header("E-MAIL-ADRESSE"), Some(Column::Primary));
        assert_eq!(
            Column::from_header("postfachtyp"),
            Some(Column::MailboxType)
        );
        assert_eq!(
            Column::from_header("Antragsteller-E-Mail"),
            Some(Column::Applicant)
        );
        assert_eq!(Column::from_header("Telefon"), None);
    }

    #[test]
    fn neutralised_cells_come_back_unchanged() {
        for v in [
            "=SUM(A1)", "+49 30", "-x", "@home", "'=x", "''-y", "'plain", "plain", "", "'",
        ] {
            assert_eq!(cell_value(&neutralise(v)), v, "{v:?}");
        }
        assert_eq!(neutralise("=1+1"), "'=1+1");
        assert_eq!(neutralise("plain"), "plain");
    }

    #[test]
    fn delimiter_is_the_one_the_header_uses() {
        assert_eq!(detect_delimiter("E-Mail;Vorname;Nachname\r\n"), ';');
        assert_eq!(detect_delimiter("E-Mail\tFirst Name\n"), '\t');
        assert_eq!(detect_delimiter("E-Mail,\"A;B\"\n"), ',');
        assert_eq!(detect_delimiter("E-Mail\n"), ',');
        // Found by the fuzz target: with lone CRs the header line ended at the first LF, so the
        // commas of the data lines outvoted the header's semicolons.
        assert_eq!(detect_delimiter("E-Mail;Vorname\ra@b.de;A, B, C\r"), ';');
    }

    #[test]
    fn lone_cr_ends_lines_as_lf_does() {
        let cr = "E-Mail;Kommentar\ranna@example.org;Raum 2, Haus B, 3. OG, links, hinten\r\rbob@example.org;x\r";
        let file = parse(cr.as_bytes()).unwrap();
        assert_eq!(file, parse(cr.replace('\r', "\n").as_bytes()).unwrap());
        assert_eq!(file.delimiter, ';');
        let lines: Vec<(usize, &str, Option<&str>)> = file
            .lines
            .iter()
            .map(|l| (l.line, l.primary.as_str(), l.comment.as_deref()))
            .collect();
        assert_eq!(
            lines,
            [
                (
                    2,
                    "anna@example.org",
                    Some("Raum 2, Haus B, 3. OG, links, hinten")
                ),
                (4, "bob@example.org", Some("x")),
            ]
        );
        assert_eq!(file.errors, []);
    }

    #[test]
    fn q9_an_open_quote_is_found_where_the_reader_would_swallow_the_rest() {
        let open = |text: &str| unclosed_quote(text.as_bytes(), 0, b',');
        assert_eq!(open("a,\"b\nc\n"), Some(OpenQuote { at: 2, cell: 1 }));
        // Closed quotes, doubled quotes inside, text after the closing quote, a quote that does
        // not open its cell (the reader keeps it as text): nothing is open.
        for closed in [
            "a,\"b\"\n",
            "\"a\"\"b\",c\n",
            "\"a\"b,c",
            "a, \"b\nc",
            "a b\"c\n",
            "",
        ] {
            assert_eq!(open(closed), None, "{closed:?}");
        }
        // A quote opened on a later record, after quoted line breaks and blank lines.
        assert_eq!(
            open("\"x\ny\",z\r\n\r\n1,2,\"3"),
            Some(OpenQuote { at: 15, cell: 2 })
        );
        // The same text as the reader sees it: the last record holds the rest of the file.
        let text = "E-Mail,Comment\na@example.org,\"x\nb@example.org,y\n";
        let mut reader = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let records: Vec<StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), 2, "the third line is swallowed");
        assert_eq!(&records[1][1], "x\nb@example.org,y\n");
    }

    #[test]
    fn r08_numbered_alias_columns_and_quoted_header_names_are_read() {
        for name in [
            "Alias 1",
            "alias2",
            "ALIAS_3",
            "Alias-12",
            " \" Alias 4 \" ",
        ] {
            assert_eq!(Column::from_header(name), Some(Column::Aliases), "{name}");
        }
        for name in ["Alias", "Alias x", "Alias 1000", "Aliasse 1"] {
            assert_eq!(Column::from_header(name), None, "{name}");
        }
        assert_eq!(header_name(" \" E-MAIL \" "), "E-MAIL");
        assert_eq!(Column::from_header(" \" E-MAIL \""), Some(Column::Primary));
        assert_eq!(cell_value(" \"Lange \"\"Bobby\"\"\" "), "Lange \"Bobby\"");
        // Without the space, quotes in the cell are what the reader left: its text.
        assert_eq!(cell_value("\"x\""), "\"x\"");
    }

    #[test]
    fn active_accepts_the_four_spellings() {
        for (v, want) in [
            ("Yes", true),
            ("no", false),
            ("TRUE", true),
            ("false", false),
            ("1", true),
            ("0", false),
            ("ja", true),
            ("Nein", false),
            ("", true),
        ] {
            assert_eq!(parse_active(v), Some(want), "{v}");
        }
        assert_eq!(parse_active("maybe"), None);
    }
}
