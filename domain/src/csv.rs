//! The CSV upload's words (SPEC §4, R8): the table's columns as a file names them, and what can
//! be wrong with a file, its header and its lines, as data. Pure, so the page words a refusal in
//! the NAP's language and the server reads files with the same column names.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::message::Message;
use crate::row::Field;

/// Largest file accepted (SPEC §4).
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;
/// Most data lines accepted (SPEC §4), the header not counted.
pub const MAX_DATA_LINES: usize = 200_000;

/// A column of the address table as the file names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    /// `E-Mail` / `E-Mail-Adresse`: the primary address, the key of the upsert.
    Primary,
    /// `First Name` / `Vorname`.
    FirstName,
    /// `Last Name` / `Nachname`.
    LastName,
    /// `Aliases` / `Aliase`, and numbered alias columns (`Alias 1`, `Alias2`, …) as mail
    /// administration tools export them: a file may have several, merged in file order.
    Aliases,
    /// `Mailbox Type` / `Postfachtyp`.
    MailboxType,
    /// `Applicant E-Mail` / `Antragsteller-E-Mail`.
    Applicant,
    /// `Comment` / `Kommentar`.
    Comment,
    /// `Active` / `Aktiv`.
    Active,
}

impl Column {
    /// Every column, in the order the download writes them.
    pub const ALL: [Column; 8] = [
        Column::Primary,
        Column::FirstName,
        Column::LastName,
        Column::Aliases,
        Column::MailboxType,
        Column::Applicant,
        Column::Comment,
        Column::Active,
    ];

    /// The English header name (what the download writes).
    pub fn english(self) -> &'static str {
        match self {
            Column::Primary => "E-Mail",
            Column::FirstName => "First Name",
            Column::LastName => "Last Name",
            Column::Aliases => "Aliases",
            Column::MailboxType => "Mailbox Type",
            Column::Applicant => "Applicant E-Mail",
            Column::Comment => "Comment",
            Column::Active => "Active",
        }
    }

    /// The German header name.
    pub fn german(self) -> &'static str {
        match self {
            Column::Primary => "E-Mail-Adresse",
            Column::FirstName => "Vorname",
            Column::LastName => "Nachname",
            Column::Aliases => "Aliase",
            Column::MailboxType => "Postfachtyp",
            Column::Applicant => "Antragsteller-E-Mail",
            Column::Comment => "Kommentar",
            Column::Active => "Aktiv",
        }
    }

    /// The column a header cell names: trimmed (also of a pair of double quotes that the CSV
    /// reader kept, see [`header_name`]), case-insensitive, English or German, or a numbered
    /// alias column.
    pub fn from_header(name: &str) -> Option<Column> {
        let name = header_name(name).to_lowercase();
        if alias_number(&name).is_some() {
            return Some(Column::Aliases);
        }
        Column::ALL.into_iter().find(|c| {
            c.english().to_lowercase() == name
                || c.german().to_lowercase() == name
                // `E-Mail` is the same word in both languages.
                || (*c == Column::Primary && name == "e-mail")
        })
    }

    /// The row field the column holds.
    pub fn field(self) -> Field {
        match self {
            Column::Primary => Field::PrimaryAddress,
            Column::FirstName => Field::FirstName,
            Column::LastName => Field::LastName,
            Column::Aliases => Field::Aliases,
            Column::MailboxType => Field::MailboxType,
            Column::Applicant => Field::Applicant,
            Column::Comment => Field::Comment,
            Column::Active => Field::Active,
        }
    }

    /// The column that holds a row field.
    pub fn of_field(field: Field) -> Column {
        Column::ALL
            .into_iter()
            .find(|c| c.field() == field)
            .expect("every field has a column")
    }
}

/// A header cell's name: trimmed, without a byte order mark that survived decoding (a UTF-8 BOM
/// inside a Windows-1252 file), and without a pair of double quotes around it. The CSV reader
/// takes quotes off only when they open the cell; some spreadsheets write a space after the
/// delimiter (`a, " E-MAIL "`), and the quotes then stay part of the cell.
pub fn header_name(cell: &str) -> &str {
    let name = cell.trim_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
    match name
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
    {
        Some(inner) => inner.trim(),
        None => name,
    }
}

/// The number of a numbered alias column, from its lower-case name: `alias 1`, `alias1`,
/// `alias_2`, `alias-3` (the same word in German).
pub fn alias_number(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("alias")?;
    let digits = rest
        .strip_prefix([' ', '_', '-'])
        .unwrap_or(rest)
        .trim_start();
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A column as this file names it: the header text as written and its 1-based position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvColumn {
    /// The header cell as written (trimmed), e.g. `Postfachtyp`.
    pub name: String,
    /// 1-based position in the line.
    pub number: usize,
}

impl fmt::Display for CsvColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {} \"{}\"", self.number, self.name)
    }
}

/// A problem at one line of the file (and, mostly, one cell).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineError {
    /// Physical line (1-based) where the record starts; a quoted cell may span several lines.
    pub line: usize,
    /// The cell's column; `None` when the problem is the whole line, or a field whose column the
    /// file does not have (the message names the field then).
    pub column: Option<CsvColumn>,
    /// What is wrong, as data the page words in the NAP's language.
    pub message: Message,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(c) => write!(f, "line {}, {c}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// A problem with the header line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ColumnProblem {
    /// A header cell that names no column of the table. ([`FileError::Columns`] lists the valid
    /// columns once after all problems, not once per unknown column.)
    #[error("column {number} \"{name}\" is not a column of the address table")]
    Unknown {
        /// As written.
        name: String,
        /// 1-based position.
        number: usize,
    },
    /// Two header cells name the same column (perhaps once in English, once in German).
    #[error("column {number} \"{name}\" is the same column as column {first_number} \"{first_name}\"; keep only one of them")]
    Duplicate {
        /// As written, the second time.
        name: String,
        /// Its position.
        number: usize,
        /// As written, the first time.
        first_name: String,
        /// Its position.
        first_number: usize,
    },
    /// The header has no primary address column.
    #[error("there is no E-Mail column (\"E-Mail\" or \"E-Mail-Adresse\"); it holds each row's primary address, which says which row a line is about")]
    MissingPrimary,
}

/// The valid columns, as the refusal of a header with unknown columns lists them.
fn known_columns() -> String {
    let english: Vec<&str> = Column::ALL.iter().map(|c| c.english()).collect();
    let german: Vec<&str> = Column::ALL.iter().map(|c| c.german()).collect();
    format!(
        "the columns are {} (in German: {}), in any order and case; aliases may also be in \
         numbered columns (Alias 1, Alias 2, …)",
        english.join(", "),
        german.join(", ")
    )
}

/// Why a whole file is refused before any line is looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum FileError {
    /// Nothing (or only whitespace) in the file.
    #[error(
        "the file is empty; it needs a header line (E-Mail, First Name, …) and one line per row"
    )]
    Empty,
    /// Larger than [`MAX_FILE_BYTES`].
    #[error("the file is {} MiB; at most 20 MiB can be uploaded at once: split it into several files", .bytes.div_ceil(1024 * 1024))]
    TooLarge {
        /// Its size.
        bytes: usize,
    },
    /// More than [`MAX_DATA_LINES`] data lines.
    #[error("the file has more than {MAX_DATA_LINES} data lines (the limit is reached at line {line}); split it into several files")]
    TooManyLines {
        /// The physical line where the first line over the limit starts.
        line: usize,
    },
    /// UTF-16 text (Excel's "Unicode text"), which holds NUL bytes.
    #[error(
        "the file is UTF-16 text (\"Unicode text\"); save it as \"CSV UTF-8\" or plain CSV instead"
    )]
    Utf16,
    /// NUL bytes: a spreadsheet (.xlsx, .ods), an image or another binary file.
    #[error("this is not a CSV file: it contains binary data (NUL bytes). If it is a spreadsheet (.xlsx, .ods), save it as CSV first")]
    Binary,
    /// The header line is all there is.
    #[error("the file has a header line but no data lines: there is nothing to upload")]
    HeaderOnly,
    /// The header line names unknown or duplicate columns, or lacks the primary address.
    #[error("the header line (line {line}) has problems: {}", join(.problems))]
    Columns {
        /// The physical line of the header.
        line: usize,
        /// Every problem, in column order.
        problems: Vec<ColumnProblem>,
    },
    /// A cell opens with a double quote that is never closed. The CSV reader would read the
    /// rest of the file into that one cell, and the lines after it would silently vanish.
    #[error(
        "line {line}, {} (character {character}): the double quote that opens this cell is never \
         closed, so everything from there to the end of the file (lines {line} to {last_line}) \
         would be read as this one cell; add the closing double quote, and write a double quote \
         inside a cell twice (\"\")",
        cell_name(*.cell, .column_name.as_deref())
    )]
    UnclosedQuote {
        /// The physical line (1-based) of the opening quote.
        line: usize,
        /// Its 1-based character position in that line.
        character: usize,
        /// The 1-based position of its cell in the line's record.
        cell: usize,
        /// The header's name for that column, when the quote is on a data line and the header
        /// names the column.
        column_name: Option<String>,
        /// The file's last line (what would be swallowed ends there).
        last_line: usize,
    },
    /// The CSV reader gave up (in practice never: it accepts any text).
    #[error("the file cannot be read as CSV near line {line}: {message}")]
    Unreadable {
        /// Where.
        line: usize,
        /// The reader's description.
        message: String,
    },
}

fn join(problems: &[ColumnProblem]) -> String {
    let mut text = problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if problems
        .iter()
        .any(|p| matches!(p, ColumnProblem::Unknown { .. }))
    {
        text.push_str(". ");
        let mut list = known_columns();
        list[..1].make_ascii_uppercase();
        text.push_str(&list);
    }
    text
}

/// `column 3 "Comment"`, or `column 3` when the header does not name it.
fn cell_name(cell: usize, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("column {cell} \"{name}\""),
        None => format!("column {cell}"),
    }
}

/// Header that carries the preview's fingerprint to the upload page's apply request.
pub const FINGERPRINT_HEADER: &str = "x-preview-fingerprint";

/// How the file's text was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextEncoding {
    /// UTF-8 without a byte order mark.
    Utf8,
    /// UTF-8 with a byte order mark (what Excel writes as "CSV UTF-8").
    Utf8WithBom,
    /// Not valid UTF-8: read as Windows-1252 (Excel's "CSV" on a German Windows).
    Windows1252,
}

/// What a line of the file does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineStatus {
    /// Creates a row.
    New,
    /// Changes a row.
    Changed,
    /// Equal to its row: writes nothing.
    Unchanged,
    /// Cannot be matched to a row: its primary address is missing, invalid or on an earlier line.
    Invalid,
}

/// A field a line changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Which field (its column: [`Column::of_field`]).
    pub field: Field,
    /// The stored value as the file would write it (empty for a new row: then left out of the
    /// JSON, as a 200 000-line preview carries one per field).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub before: String,
    /// The value after saving.
    pub after: String,
}

/// One data line of the preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinePreview {
    /// Physical line (1-based) where the record starts.
    pub line: usize,
    /// The primary address (normalised when it parsed, else as written).
    pub primary: String,
    /// What the line does.
    pub status: LineStatus,
    /// For new and changed lines, the fields that differ from the row (a new row: from an empty
    /// personal, active row).
    pub changes: Vec<FieldChange>,
    // What is empty is left out of the JSON: the page's preview lists up to 200 000 lines.
    /// Sentences for the NAP, as the edit form's preview says them (R4–R7).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consequences: Vec<crate::edit::Consequence>,
    /// How many pending challenges saving supersedes (R4, R5).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub supersedes: usize,
    /// The addresses whose link saving drops (R4, R5).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drops_links: Vec<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl LinePreview {
    /// New and changed lines: the ones the upload page and the REST API list (the others are
    /// only counted).
    pub fn writes(&self) -> bool {
        matches!(self.status, LineStatus::New | LineStatus::Changed)
    }

    /// The consequences the upload page shows: only a line that supersedes challenges or drops
    /// links has any worth a word beside its changed fields.
    pub fn shown_consequences(&self) -> &[crate::edit::Consequence] {
        if self.supersedes == 0 && self.drops_links.is_empty() {
            &[]
        } else {
            &self.consequences
        }
    }
}

/// What applying a file would do; nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    /// The domain whose table it is.
    pub domain: String,
    /// The file and the state of the rows it touches; apply refuses if either differs.
    pub fingerprint: String,
    /// The encoding the file was read in.
    pub encoding: TextEncoding,
    /// The delimiter found: `,`, `;` or a tab.
    pub delimiter: String,
    /// Lines that create a row.
    pub new: usize,
    /// Lines that change a row.
    pub changed: usize,
    /// Lines equal to their row.
    pub unchanged: usize,
    /// Lines that cannot be matched to a row.
    pub invalid: usize,
    /// Pending challenges superseded in all.
    pub supersedes: usize,
    /// Links dropped in all.
    pub drops_links: usize,
    /// Every data line, in file order (empty in apply's own plan, which needs only the counts;
    /// only those that [write](LinePreview::writes) in the upload page's answer).
    pub lines: Vec<LinePreview>,
    /// Every error, by line and column. Apply needs none.
    pub errors: Vec<LineError>,
    /// Primary addresses of the table's rows that the file does not mention: left alone (nothing
    /// is deleted by CSV).
    pub missing: Vec<String>,
}

/// What the apply did (a replay answers the first apply's report).
// Also the REST API's answer (`BulkReport` in its OpenAPI document, which shows this type's doc
// comments), hence `u64` counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = BulkReport))]
pub struct ApplyReport {
    /// The domain.
    pub domain: String,
    /// Lines (rows) in the input.
    pub lines: u64,
    /// Rows created.
    pub created: u64,
    /// Rows changed (deactivated and reactivated ones included).
    pub changed: u64,
    /// Lines that changed nothing.
    pub unchanged: u64,
    /// Rows deactivated (R7).
    pub deactivated: u64,
    /// Rows reactivated (R7).
    pub reactivated: u64,
    /// Pending challenges superseded (R4, R5).
    pub superseded_challenges: u64,
    /// Links dropped (R4, R5).
    pub dropped_links: u64,
}
