//! The CSV upload's reader (`csv_upload::parse`) and the per-line rules that need no database
//! (`csv_upload::check_lines`: `EmailAddress::parse`, the edit form's parser,
//! `RowFields::validate`), on arbitrary bytes.
//!
//! Besides "no panic", it checks what the code promises (each check says where):
//! - a refused file is refused for a reason that holds for its bytes;
//! - a read file: the encoding its bytes have, one of the three delimiters, named columns that
//!   are distinct (but for alias columns: `Aliases` and numbered ones) and include E-Mail, data
//!   lines in file order on physical lines after the header, cells trimmed, no more lines than
//!   the limit; a file refused for an unclosed quote has a double quote at the line it names;
//! - every error is on a data line (≥ 2: line 1 at the earliest is the header) and, when it has a
//!   column, at a column the header names;
//! - a lone CR ends a line as LF does;
//! - every address that parses is in its normal form (re-parses to itself, lower-case ASCII,
//!   within the lengths);
//! - an accepted line (no error) meets the row rules, and the download's writer gives a file
//!   that reads back to the same address and fields, accepted again.
//!
//! The size and line limits (20 MiB, 200 000 lines) are asserted but out of reach of libFuzzer's
//! inputs (4 KiB at most); `csv_size_and_line_limits_are_refused_clearly` tests them.
//!
//! Run it with `scripts/fuzz.sh` (which CI runs too).

#![no_main]

use std::collections::HashSet;

use backend::csv_upload::{
    check_lines, parse, write_file_as, CheckedLines, Column, CsvColumn, DownloadFormat, FileError,
    LineError, ParsedFile, TextEncoding, MAX_DATA_LINES, MAX_FILE_BYTES,
};
use domain::address::{
    parse_address_list, EmailAddress, MAX_ADDRESS_LEN, MAX_DOMAIN_LEN, MAX_LABEL_LEN,
    MAX_LOCAL_PART_LEN,
};
use domain::{Comment, MailboxType, PersonName};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    addresses(data);
    let result = parse(data);
    match &result {
        Ok(file) => {
            read(data, file);
            let checked = check_lines(file);
            checked_lines(file, &checked);
            round_trip(&checked);
        }
        Err(e) => refused(data, e),
    }
    lone_cr_ends_a_line(data, &result);
});

/// The bytes as one address and as an alias list: whatever parses is in normal form.
fn addresses(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(a) = EmailAddress::parse(text) {
        normal_form(&a);
    }
    if let Ok(list) = parse_address_list(text) {
        list.iter().for_each(normal_form);
    }
}

/// `domain::address`: "trimmed, lower-case, an ASCII dot-atom local part of at most 64
/// characters, a domain stored as ASCII (punycode) with at least two labels, at most 254
/// characters in all"; parsing the normal form gives it back.
fn normal_form(a: &EmailAddress) {
    let text = a.as_str();
    assert!(text.is_ascii(), "{text:?}");
    assert!(!text.bytes().any(|b| b.is_ascii_uppercase()), "{text:?}");
    assert!(text.len() <= MAX_ADDRESS_LEN, "{text:?}");
    assert_eq!(format!("{}@{}", a.local_part(), a.domain()), text);
    let local = a.local_part();
    assert!(
        !local.is_empty() && local.len() <= MAX_LOCAL_PART_LEN,
        "{text:?}"
    );
    assert!(!local.starts_with('.') && !local.ends_with('.') && !local.contains(".."));
    let domain = a.domain();
    assert!(domain.len() <= MAX_DOMAIN_LEN, "{text:?}");
    let labels: Vec<&str> = domain.split('.').collect();
    assert!(labels.len() >= 2, "{text:?}");
    for label in labels {
        assert!(
            !label.is_empty() && label.len() <= MAX_LABEL_LEN,
            "{text:?}"
        );
        assert!(!label.starts_with('-') && !label.ends_with('-'), "{text:?}");
    }
    assert_eq!(EmailAddress::parse(text).as_ref(), Ok(a), "{text:?}");
    assert_eq!(a.to_string(), text);
}

/// Physical lines as `parse` counts them: CRLF, LF and a lone CR each end one. Windows-1252 and
/// the BOM keep CR and LF as they are, so the bytes can be counted.
fn physical_lines(data: &[u8]) -> usize {
    1 + data
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && data.get(i + 1) != Some(&b'\n')))
        .count()
}

/// `parse` ends a line at CRLF, LF and a lone CR alike (`LineCounter`, and the CSV reader), as
/// spreadsheets on old Macs write it: so the same file with LF for every lone CR reads the same,
/// line numbers and errors included (a line break inside a quoted cell keeps which one it is).
fn lone_cr_ends_a_line(data: &[u8], result: &Result<ParsedFile, FileError>) {
    let lone = |i: usize| data[i] == b'\r' && data.get(i + 1) != Some(&b'\n');
    if !(0..data.len()).any(lone) {
        return;
    }
    let lf: Vec<u8> = (0..data.len())
        .map(|i| if lone(i) { b'\n' } else { data[i] })
        .collect();
    let shown = |r: &Result<ParsedFile, FileError>| format!("{r:#?}").replace("\\r", "\\n");
    assert_eq!(shown(result), shown(&parse(&lf)));
}

/// A refused file: the reason holds for its bytes.
fn refused(data: &[u8], e: &FileError) {
    assert!(!e.to_string().is_empty());
    match e {
        FileError::TooLarge { bytes } => {
            assert_eq!(*bytes, data.len());
            assert!(data.len() > MAX_FILE_BYTES);
        }
        FileError::TooManyLines { line } => {
            // The header and more than MAX_DATA_LINES data lines.
            assert!(physical_lines(data) > MAX_DATA_LINES + 1);
            assert!((2..=physical_lines(data)).contains(line), "{e:?}");
        }
        FileError::Utf16 => {
            assert!(data.starts_with(&[0xFF, 0xFE]) || data.starts_with(&[0xFE, 0xFF]))
        }
        FileError::Binary => assert!(data.contains(&0)),
        FileError::Columns { line, problems } => {
            assert!((1..=physical_lines(data)).contains(line), "{e:?}");
            assert!(!problems.is_empty());
        }
        // The quote is on the line named, at the character named (checked on UTF-8 files), and
        // what it swallows ends at the file's last line.
        FileError::UnclosedQuote {
            line,
            character,
            cell,
            last_line,
            ..
        } => {
            assert!(*line >= 1 && line <= last_line, "{e:?}");
            assert!(*last_line <= physical_lines(data), "{e:?}");
            assert!(*cell >= 1 && *character >= 1, "{e:?}");
            let rest = data.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(data);
            if let Ok(text) = std::str::from_utf8(rest) {
                let lines = split_lines(text);
                let quoted = lines[line - 1].chars().nth(character - 1);
                assert_eq!(quoted, Some('"'), "{e:?}");
            }
        }
        // The doc of `FileError::Unreadable`: the reader accepts any text (flexible cell counts,
        // and the text is valid UTF-8 with ASCII delimiters).
        FileError::Unreadable { .. } => panic!("the CSV reader gave up: {e}"),
        FileError::Empty | FileError::HeaderOnly => {}
    }
}

/// The physical lines of a text as `parse` counts them (CRLF, LF and a lone CR each end one),
/// without their line breaks.
fn split_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' | b'\n' => {
                lines.push(&text[start..i]);
                if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    lines.push(&text[start..]);
    lines
}

/// A file that was read: what `ParsedFile` and `CsvLine` say of themselves.
fn read(data: &[u8], file: &ParsedFile) {
    assert!(data.len() <= MAX_FILE_BYTES);
    assert!(!data.contains(&0), "a file with NUL bytes is binary");
    assert!(!data.starts_with(&[0xFF, 0xFE]) && !data.starts_with(&[0xFE, 0xFF]));
    let (rest, bom) = match data.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        Some(rest) => (rest, true),
        None => (data, false),
    };
    let encoding = match (std::str::from_utf8(rest).is_ok(), bom) {
        (true, true) => TextEncoding::Utf8WithBom,
        (true, false) => TextEncoding::Utf8,
        (false, _) => TextEncoding::Windows1252,
    };
    assert_eq!(file.encoding, encoding);
    assert!([',', ';', '\t'].contains(&file.delimiter));

    // The header: named columns, each once (alias columns may be several: `Aliases`, `Alias 1`,
    // … each once), E-Mail among them, in file order.
    assert!(file.column(Column::Primary).is_some());
    let mut kinds = HashSet::new();
    let mut number = 0;
    for c in &file.columns {
        let key = if c.column == Column::Aliases {
            c.at.name.to_lowercase().replace([' ', '_', '-'], "")
        } else {
            String::new()
        };
        assert!(kinds.insert((c.column, key)), "{:?} twice", c.column);
        assert!(c.at.number > number, "columns out of order");
        number = c.at.number;
        assert!(!c.at.name.is_empty() && c.at.name.trim() == c.at.name);
        assert_eq!(Column::from_header(&c.at.name), Some(c.column));
    }

    // The data lines: at least one, at most the limit, in file order after the header.
    assert!(!file.lines.is_empty() && file.lines.len() <= MAX_DATA_LINES);
    let last = physical_lines(data);
    let mut previous = 1; // the header is on line 1 at the earliest
    for l in &file.lines {
        assert!(
            l.line > previous && l.line <= last,
            "line {} after {previous}, of {last}",
            l.line
        );
        previous = l.line;
        let cells = [
            Some(&l.primary),
            l.first_name.as_ref(),
            l.last_name.as_ref(),
            l.aliases.as_ref(),
            l.mailbox_type.as_ref(),
            l.applicant.as_ref(),
            l.comment.as_ref(),
        ];
        for cell in cells.into_iter().flatten() {
            assert_eq!(cell.trim(), cell, "cells are trimmed");
        }
        // Active: `None` without the column, or when the cell is unreadable or missing, which
        // is then an error at the line.
        if file.column(Column::Active).is_none() {
            assert_eq!(l.active, None);
        } else if l.active.is_none() {
            assert!(
                file.errors.iter().any(|e| e.line == l.line),
                "line {}",
                l.line
            );
        }
    }

    // Reading reports cell counts (whole line) and Active values (at the Active column).
    for e in &file.errors {
        well_placed(e, file);
        if let Some(c) = &e.column {
            assert_eq!(Some(c), file.column(Column::Active), "{e}");
        }
    }
}

/// An error on a data line of the file and, when it has a column, at one the header names.
fn well_placed(e: &LineError, file: &ParsedFile) {
    assert!(e.line >= 2, "{e}");
    assert!(
        file.lines.iter().any(|l| l.line == e.line),
        "{e}: not a data line"
    );
    if let Some(c) = &e.column {
        let named: Vec<&CsvColumn> = file.columns.iter().map(|h| &h.at).collect();
        assert!(named.contains(&c), "{e}: not a column of the header");
    }
    assert!(!e.message.to_string().is_empty());
    assert!(!e.to_string().is_empty());
}

/// The lines checked by the row rules.
fn checked_lines(file: &ParsedFile, checked: &CheckedLines) {
    assert_eq!(checked.lines.len(), file.lines.len());
    for e in &checked.errors {
        well_placed(e, file);
    }
    // Reading's errors are all kept.
    for e in &file.errors {
        assert!(checked.errors.contains(e), "{e} lost");
    }
    // Sorted as the preview sorts them.
    let key = |e: &LineError| (e.line, e.column.as_ref().map_or(0, |c| c.number));
    assert!(checked.errors.windows(2).all(|w| key(&w[0]) <= key(&w[1])));
    let primary_column = file.column(Column::Primary);
    for (l, csv) in checked.lines.iter().zip(&file.lines) {
        assert_eq!(l.line, csv.line);
        let errors: Vec<&LineError> = checked.errors.iter().filter(|e| e.line == l.line).collect();
        assert_eq!(l.accepted, errors.is_empty(), "line {}", l.line);
        match &l.primary {
            Some(p) => normal_form(p),
            // A primary address that does not parse is an error at its column.
            None => assert!(
                errors.iter().any(|e| e.column.as_ref() == primary_column),
                "line {}: no error at the primary address",
                l.line
            ),
        }
        l.fields.aliases.iter().for_each(normal_form);
        if let Some(a) = &l.fields.applicant {
            normal_form(a);
        }
        if l.accepted {
            let p = l
                .primary
                .as_ref()
                .expect("an accepted line has a primary address");
            assert_eq!(l.fields.validate(p), Ok(()), "line {}", l.line);
            let f = &l.fields;
            assert_eq!(
                PersonName::parse(f.first_name.as_str()).as_ref(),
                Ok(&f.first_name)
            );
            assert_eq!(
                PersonName::parse(f.last_name.as_str()).as_ref(),
                Ok(&f.last_name)
            );
            assert_eq!(Comment::parse(f.comment.as_str()).as_ref(), Ok(&f.comment));
            assert_eq!(
                MailboxType::parse(f.mailbox_type.as_str()),
                Ok(f.mailbox_type)
            );
        }
    }
}

/// The accepted lines as the download writes them read back to the same rows, accepted again
/// (the round trip `write_file` promises).
fn round_trip(checked: &CheckedLines) {
    let rows: Vec<_> = checked
        .lines
        .iter()
        .filter(|l| l.accepted)
        .map(|l| (l.primary.as_ref().expect("accepted"), &l.fields))
        .collect();
    if rows.is_empty() {
        return;
    }
    // Both download formats, each with its byte order mark and its delimiter.
    for (format, delimiter) in [
        (DownloadFormat::Standard, ','),
        (DownloadFormat::GermanExcel, ';'),
    ] {
        let text = write_file_as(rows.iter().copied(), format);
        let file = parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(file.encoding, TextEncoding::Utf8WithBom);
        assert_eq!(file.delimiter, delimiter);
        let again = check_lines(&file);
        assert!(again.errors.is_empty(), "{:#?}\n{text}", again.errors);
        let back: Vec<_> = again
            .lines
            .iter()
            .map(|l| (l.primary.as_ref().expect("accepted"), &l.fields))
            .collect();
        assert_eq!(back, rows, "\n{text}");
    }
}
