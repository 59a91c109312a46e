//! The REST API's bulk body as a JSON array of rows (SPEC R21, R8): written as the CSV file the
//! upload reads, so that a JSON array takes exactly the path of an uploaded file — the same
//! preview, the same checks, the same one-transaction apply and the same audit trail.
//!
//! The file's columns are the fields the array's objects name (a field that no object names is a
//! column the file does not have: an existing row keeps that field, as with an uploaded file).
//! Every element must name the same fields: one that leaves out a field another names is refused
//! at its index and field, since its empty cell would clear that field (sparse objects would wipe
//! data unawares). `null` empties a text field. Values are neutralised as the download
//! neutralises them, so the upload's reading gives back exactly the value sent.

use csv::{Terminator, WriterBuilder};
use serde_json::Value;

use crate::csv_upload::{neutralise, Column, LineError};

/// The JSON field of each column, in the download's column order.
pub const FIELDS: [(&str, Column); 8] = [
    ("primary_address", Column::Primary),
    ("first_name", Column::FirstName),
    ("last_name", Column::LastName),
    ("aliases", Column::Aliases),
    ("mailbox_type", Column::MailboxType),
    ("applicant_address", Column::Applicant),
    ("comment", Column::Comment),
    ("active", Column::Active),
];

/// Most rows in one array: the file's limit (SPEC §4).
pub const MAX_ROWS: usize = crate::csv_upload::MAX_DATA_LINES;

/// A problem of one element of the array, before any row rule is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementError {
    /// 0-based position in the array.
    pub index: usize,
    /// The field, when the problem is in one.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// The array as a CSV file, and for each element the file's line where its record starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowsFile {
    /// UTF-8, comma, CRLF, header line first.
    pub bytes: Vec<u8>,
    /// `lines[i]`: the physical line (1-based) of element `i`'s record.
    pub lines: Vec<usize>,
    /// The columns written, as JSON field names (for naming an error's field).
    pub fields: Vec<&'static str>,
}

impl RowsFile {
    /// The element and field a line error of this file is at.
    pub fn locate(&self, error: &LineError) -> (Option<usize>, Option<&'static str>) {
        let index = self.lines.binary_search(&error.line).ok();
        let field = error
            .column
            .as_ref()
            .and_then(|c| self.fields.get(c.number.checked_sub(1)?).copied());
        (index, field)
    }
}

/// Why the body cannot be read as rows at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowsError {
    /// Not JSON, or not an array.
    #[error("the body must be a JSON array of row objects: {0}")]
    NotAnArray(String),
    /// An empty array.
    #[error("the array is empty: there is nothing to upload")]
    Empty,
    /// More than [`MAX_ROWS`].
    #[error("the array has {0} rows; at most {MAX_ROWS} can be sent at once: split it")]
    TooMany(usize),
    /// Elements that are not row objects, unknown fields, values of the wrong type.
    #[error("{} element(s) of the array cannot be read as rows", .0.len())]
    Elements(Vec<ElementError>),
}

/// Writes a JSON array of row objects as an upload file (see the module).
pub fn rows_as_file(body: &[u8]) -> Result<RowsFile, RowsError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| RowsError::NotAnArray(e.to_string()))?;
    let Value::Array(elements) = value else {
        return Err(RowsError::NotAnArray("it is not an array".into()));
    };
    if elements.is_empty() {
        return Err(RowsError::Empty);
    }
    if elements.len() > MAX_ROWS {
        return Err(RowsError::TooMany(elements.len()));
    }
    let mut errors = Vec::new();
    let mut present = [false; FIELDS.len()];
    for (index, element) in elements.iter().enumerate() {
        let Value::Object(map) = element else {
            errors.push(ElementError {
                index,
                field: None,
                message: "is not an object with the row's fields".into(),
            });
            continue;
        };
        for (key, value) in map {
            match FIELDS.iter().position(|(name, _)| name == key) {
                Some(i) => {
                    present[i] = true;
                    if let Err(message) = cell(FIELDS[i].1, value) {
                        errors.push(ElementError {
                            index,
                            field: Some(key.clone()),
                            message,
                        });
                    }
                }
                None => errors.push(ElementError {
                    index,
                    field: Some(key.clone()),
                    message: format!(
                        "unknown field; a row has {}",
                        FIELDS.map(|(n, _)| n).join(", ")
                    ),
                }),
            }
        }
    }
    // The primary address is the upsert's key: always a column (its absence is each line's error).
    present[0] = true;
    // A file has its columns for every line: a field one element leaves out while another names
    // it would be an empty cell, which clears that row's field. A script that sends only what
    // changed would wipe the rest unawares, so such an element is refused instead.
    for (index, element) in elements.iter().enumerate() {
        let Value::Object(map) = element else {
            continue;
        };
        for (i, (name, _)) in FIELDS.iter().enumerate().skip(1) {
            if present[i] && !map.contains_key(*name) {
                errors.push(ElementError {
                    index,
                    field: Some((*name).to_string()),
                    message: "is left out here, but another element names it: every element of \
                              one array names the same fields (send \"\" or [] to empty one; \
                              rows that change other fields go in another request)"
                        .into(),
                });
            }
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.index);
        return Err(RowsError::Elements(errors));
    }
    let columns: Vec<usize> = (0..FIELDS.len()).filter(|&i| present[i]).collect();
    let mut writer = WriterBuilder::new()
        .terminator(Terminator::CRLF)
        .from_writer(Vec::with_capacity(body.len()));
    let header: Vec<&str> = columns.iter().map(|&i| FIELDS[i].1.english()).collect();
    writer.write_record(&header).expect("writing to memory");
    let mut lines = Vec::with_capacity(elements.len());
    let mut line = 2;
    let mut cells: Vec<String> = Vec::with_capacity(columns.len());
    for element in &elements {
        let map = element.as_object().expect("checked above");
        cells.clear();
        for &i in &columns {
            let (name, column) = FIELDS[i];
            let text = match map.get(name) {
                Some(v) => cell(column, v).expect("checked above"),
                None => String::new(),
            };
            cells.push(neutralise(&text).into_owned());
        }
        lines.push(line);
        // A quoted cell may hold line breaks: the next record starts after them.
        line += 1 + cells
            .iter()
            .map(|c| c.bytes().filter(|&b| b == b'\n').count())
            .sum::<usize>();
        writer.write_record(&cells).expect("writing to memory");
    }
    Ok(RowsFile {
        bytes: writer.into_inner().expect("writing to memory"),
        lines,
        fields: columns.iter().map(|&i| FIELDS[i].0).collect(),
    })
}

/// A field's value as the file's cell: strings as they are (`null` is empty), the aliases as an
/// array of strings (or one string as the file writes it), `active` as a boolean.
fn cell(column: Column, value: &Value) -> Result<String, String> {
    match (column, value) {
        (Column::Active, Value::Bool(b)) => Ok(if *b { "yes" } else { "no" }.into()),
        (Column::Active, _) => Err("must be true or false".into()),
        (_, Value::Null) => Ok(String::new()),
        (Column::Aliases, Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.as_str()),
                _ => Err("must be an array of addresses (strings)".to_string()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|a| a.join(" ")),
        (_, Value::String(s)) => Ok(s.clone()),
        (Column::Aliases, _) => Err("must be an array of addresses (strings)".into()),
        _ => Err("must be a string".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv_upload::parse;

    #[test]
    fn r08_an_array_becomes_the_file_the_upload_reads_with_its_lines_known() {
        let body = br#"[
            {"primary_address": "a@x.example", "first_name": "=A", "aliases": ["b@x.example", "c@x.example"], "comment": "", "active": false},
            {"primary_address": "d@x.example", "first_name": "D", "aliases": [], "comment": "two\nlines", "active": true},
            {"primary_address": "e@x.example", "first_name": null, "aliases": [], "comment": "", "active": true}
        ]"#;
        let file = rows_as_file(body).unwrap();
        assert_eq!(file.lines, vec![2, 3, 5]);
        assert_eq!(
            file.fields,
            vec![
                "primary_address",
                "first_name",
                "aliases",
                "comment",
                "active"
            ]
        );
        let parsed = parse(&file.bytes).unwrap();
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let starts: Vec<usize> = parsed.lines.iter().map(|l| l.line).collect();
        assert_eq!(starts, file.lines);
        // The neutralising quote is taken off again: the value is the one sent.
        assert_eq!(parsed.lines[0].first_name.as_deref(), Some("=A"));
        assert_eq!(
            parsed.lines[0].aliases.as_deref(),
            Some("b@x.example c@x.example")
        );
        assert_eq!(parsed.lines[0].active, Some(false));
        assert_eq!(parsed.lines[1].comment.as_deref(), Some("two\nlines"));
        assert_eq!(parsed.lines[2].first_name.as_deref(), Some(""));
        assert_eq!(parsed.lines[2].active, Some(true));
        // A field no element names is a column the file does not have: the rows keep it.
        assert!(parsed.column(Column::LastName).is_none());
    }

    #[test]
    fn r08_elements_that_are_not_rows_are_named_by_index_and_field() {
        let err = rows_as_file(br#"[{"primary_address": 1}, 3, {"nick": "x"}]"#).unwrap_err();
        let RowsError::Elements(list) = err else {
            panic!("{err:?}")
        };
        let at: Vec<(usize, Option<&str>)> =
            list.iter().map(|e| (e.index, e.field.as_deref())).collect();
        assert_eq!(
            at,
            vec![(0, Some("primary_address")), (1, None), (2, Some("nick"))]
        );
        // Sparse elements: what one leaves out while another names it would be cleared.
        let err = rows_as_file(
            br#"[{"primary_address": "a@x.example", "comment": "c", "aliases": []},
                 {"primary_address": "b@x.example", "comment": "d"},
                 {"primary_address": "c@x.example", "active": null}]"#,
        )
        .unwrap_err();
        let RowsError::Elements(list) = err else {
            panic!("{err:?}")
        };
        let at: Vec<(usize, Option<&str>)> =
            list.iter().map(|e| (e.index, e.field.as_deref())).collect();
        assert_eq!(
            at,
            vec![
                (0, Some("active")),
                (1, Some("aliases")),
                (1, Some("active")),
                (2, Some("active")),
                (2, Some("aliases")),
                (2, Some("comment")),
            ]
        );
        assert_eq!(rows_as_file(b"[]"), Err(RowsError::Empty));
        assert!(matches!(rows_as_file(b"{}"), Err(RowsError::NotAnArray(_))));
    }
}
