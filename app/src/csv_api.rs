//! The CSV upload's preview and outcome on the wire (SPEC §4). The file itself travels as raw bytes
//! to `POST /domains/{domain}/csv/preview` and `…/csv/apply` (plain routes, not server functions,
//! so a 20 MiB file needs no re-encoding and the upload can report progress).

use serde::{Deserialize, Serialize};

/// Header that carries the preview's fingerprint to the apply request.
pub const FINGERPRINT_HEADER: &str = "x-preview-fingerprint";

/// What applying the file would do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvPreviewItem {
    /// Identifies the state of the affected rows; apply refuses if they changed since.
    pub fingerprint: String,
    /// Lines that create a row.
    pub new: usize,
    /// Lines that change a row.
    pub changed: usize,
    /// Lines equal to their row.
    pub unchanged: usize,
    /// Every problem, with line and column.
    pub errors: Vec<domain::csv::LineError>,
    /// New and changed lines with what changes.
    pub lines: Vec<CsvLineItem>,
    /// Primary addresses of the domain's rows that the file does not mention (left alone).
    pub missing: Vec<String>,
}

/// A new or changed line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvLineItem {
    /// Line of the file.
    pub line: usize,
    /// The row's primary address.
    pub primary: String,
    /// New row (else changed).
    pub is_new: bool,
    /// `(column, before, after)` for each changed field; the page names the column in the
    /// NAP's language.
    pub changes: Vec<(domain::csv::Column, String, String)>,
    /// What saving does beyond the fields (superseded challenges, dropped links).
    pub consequences: Vec<domain::edit::Consequence>,
}

/// What applying did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvApplyItem {
    /// Rows created.
    pub created: usize,
    /// Rows changed.
    pub changed: usize,
    /// Lines that changed nothing.
    pub unchanged: usize,
}
