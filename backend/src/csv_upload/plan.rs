//! What a parsed file would do to a domain's table: the rules of the edit form (R1, R4–R8) applied
//! to every line against the table as it is, in memory.
//!
//! The table is read once (rows, addresses, pending challenges, links: a few queries, whatever the
//! number of lines), plus one query for the file's addresses that other tables might hold. The
//! per-row rules are the rows service's own: `RowInput::parse`, `RowFields::validate`,
//! `RowFields::check_administered`, `RowEdit::between`; only the lookups that `rows::check_row`
//! does with a query per row are answered here from the maps.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use domain::address::EmailAddress;
use domain::edit::{Activation, Consequence, EditConsequences, LinkDrop, RowEdit};
use domain::message::Message;
use domain::row::{Field, FieldError, RowFields};
use domain::table::ParsedInput;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::file::{
    editable_text, field_text, Column, CsvLine, HeaderColumn, LineError, ParsedFile,
};
use super::store;
use super::{FieldChange, LinePreview, LineStatus, Preview};
use crate::blocking;
use crate::error::ServiceError;
use crate::rows::{stored_row, RowContext, RowInput, StoredRow};
use crate::storage::links::LinkRecord;
use crate::storage::rows::{find_address_holders, AddressHolder, AddressRecord};
use crate::storage::Conn;

/// A domain's table as it is: every row, which row holds each address, pending challenges, links.
pub(crate) struct Snapshot {
    /// The rows, by primary address.
    pub(crate) rows: Vec<StoredRow>,
    by_primary: HashMap<String, usize>,
    /// Which row (index into `rows`) holds each address of the table.
    by_address: HashMap<String, usize>,
    /// Pending challenges per row id.
    pending: HashMap<i64, usize>,
    /// Links per row id.
    links: HashMap<i64, Vec<LinkRecord>>,
}

impl Snapshot {
    /// Reads the table in four queries.
    pub(crate) async fn load(conn: &mut Conn, domain_id: i64) -> Result<Snapshot, ServiceError> {
        let records = store::list_rows_of_domain(conn, domain_id).await?;
        let mut addresses: HashMap<i64, Vec<AddressRecord>> = HashMap::new();
        for (row_id, a) in store::list_addresses_of_domain(conn, domain_id).await? {
            addresses.entry(row_id).or_default().push(a);
        }
        let pending = store::count_pending_challenges_of_domain(conn, domain_id)
            .await?
            .into_iter()
            .map(|(row, n)| (row, n.max(0) as usize))
            .collect();
        let mut links: HashMap<i64, Vec<LinkRecord>> = HashMap::new();
        for (row_id, link) in store::list_links_of_domain(conn, domain_id).await? {
            links.entry(row_id).or_default().push(link);
        }
        let mut rows = Vec::with_capacity(records.len());
        let mut by_primary = HashMap::with_capacity(records.len());
        let mut by_address = HashMap::with_capacity(records.len());
        for record in records {
            let row_addresses = addresses.remove(&record.id).unwrap_or_default();
            let index = rows.len();
            by_primary.insert(record.primary_address.clone(), index);
            for a in &row_addresses {
                by_address.insert(a.address.clone(), index);
            }
            rows.push(stored_row(record, &row_addresses)?);
        }
        Ok(Snapshot {
            rows,
            by_primary,
            by_address,
            pending,
            links,
        })
    }
}

/// The writes a file makes: edits in an order that frees an address before another row takes it,
/// then the new rows.
pub(crate) struct Actions {
    /// Rows to change through `rows::apply_edit`, in the order to save them: index into the
    /// snapshot's rows, and the fields to save. The edits whose aliases change, or that supersede
    /// a challenge or drop a link.
    pub(crate) edits: Vec<(usize, RowFields)>,
    /// Plain edits (names, comment, type, applicant, active) with nothing else to do: no alias
    /// changes or moves, no pending challenge to supersede, no link to drop. `apply_edit` would
    /// only update the row and write its audit records; see `store::update_rows`.
    pub(crate) plain_edits: Vec<(usize, RowFields)>,
    /// Rows to create, in file order.
    pub(crate) creates: Vec<(EmailAddress, RowFields)>,
}

/// The outcome of planning: what the NAP is shown, and what apply writes (see [`Purpose`]).
pub(crate) struct Plan {
    pub(crate) preview: Preview,
    pub(crate) actions: Actions,
    pub(crate) snapshot: Snapshot,
}

/// Who asks for a plan: the preview shows every line, new rows with their fields (its plan has
/// no actions); apply only needs the actions, the errors, the counts and the fingerprint (its
/// plan has no `lines`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Preview,
    Apply,
}

/// One line on its way through the rules.
struct Line {
    /// Where its record starts in the file.
    line: usize,
    /// The primary address as written, kept only when it is unusable (else `primary` says it).
    written: String,
    /// The primary address, when it parsed and is the first line with it.
    primary: Option<EmailAddress>,
    /// The stored row it updates (index into the snapshot's rows).
    row: Option<usize>,
    /// The fields after saving (placeholders where `unparsed`).
    fields: RowFields,
    unparsed: BTreeSet<Field>,
    has_errors: bool,
    /// The line's own errors, until they join the plan's (in file order).
    errors: Vec<LineError>,
}

/// What the file-order pass decides for a line before the rest is checked: its primary address
/// (`None` also when an earlier line has it), its stored row, and the errors found so far.
type Decided = (Option<EmailAddress>, Option<usize>, Vec<FieldError>);

impl Line {
    /// The addresses the line's row has after saving, with the field each is in.
    fn addresses(&self) -> Vec<(&EmailAddress, Field)> {
        let Some(primary) = &self.primary else {
            return Vec::new();
        };
        let mut all = vec![(primary, Field::PrimaryAddress)];
        if !self.unparsed.contains(&Field::Aliases) {
            all.extend(self.fields.aliases.iter().map(|a| (a, Field::Aliases)));
        }
        all
    }
}

/// Collects line errors with the file's columns.
struct Errors<'f> {
    columns: &'f [HeaderColumn],
    list: Vec<LineError>,
}

impl Errors<'_> {
    /// An error at `field`: at its column when the file has it, else named in the message.
    fn field(&mut self, line: usize, e: FieldError) {
        let column = self
            .columns
            .iter()
            .find(|c| c.column == Column::of_field(e.field))
            .map(|c| c.at.clone());
        let message = match column {
            Some(_) => e.message,
            None => Message::Fields(vec![e]),
        };
        self.list.push(LineError {
            line,
            column,
            message,
        });
    }
}

/// Applies the rules to every line of `file` against the table of `domain_id` (a domain the
/// viewer administers), in memory. Nothing is written.
pub(crate) async fn plan(
    conn: &mut Conn,
    ctx: &RowContext,
    domain_id: i64,
    domain: &str,
    file: ParsedFile,
    file_bytes: &[u8],
    purpose: Purpose,
) -> Result<Plan, ServiceError> {
    let snapshot = Snapshot::load(conn, domain_id).await?;
    let ParsedFile {
        encoding,
        delimiter,
        columns,
        lines: csv_lines,
        errors: file_errors,
    } = file;
    let errors_before_line: HashMap<usize, usize> =
        file_errors.iter().fold(HashMap::new(), |mut m, e| {
            *m.entry(e.line).or_default() += 1;
            m
        });
    let mut errors = Errors {
        columns: &columns,
        list: file_errors,
    };

    // 1. Each line on its own: primary, the form's parser, the row rules (R1, §2). The lines do
    //    not depend on each other, but for a primary address on two lines: the primaries are
    //    read on every core, the lines that repeat one found in file order, then the rest of each
    //    line checked on every core again. The file's cells move into the form's input, so a
    //    line's text is held once, not twice.
    let primaries: Vec<Result<EmailAddress, FieldError>> =
        blocking::run(|| csv_lines.par_iter().map(primary_of).collect());
    let mut first_line_of: HashMap<String, usize> = HashMap::with_capacity(csv_lines.len());
    let mut decided = Vec::with_capacity(csv_lines.len());
    for (index, primary) in primaries.into_iter().enumerate() {
        let mut early = Vec::new();
        let primary = match primary {
            Ok(p) => match first_line_of.get(p.as_str()) {
                Some(&first) => {
                    let first_line = csv_lines[first].line;
                    early.push(FieldError::new(
                        Field::PrimaryAddress,
                        Message::PrimaryTwiceInFile {
                            primary: p.to_string(),
                            first_line,
                        },
                    ));
                    None
                }
                None => {
                    first_line_of.insert(p.as_str().to_owned(), index);
                    Some(p)
                }
            },
            Err(e) => {
                early.push(e);
                None
            }
        };
        let row = primary
            .as_ref()
            .and_then(|p| snapshot.by_primary.get(p.as_str()).copied());
        decided.push((primary, row, early));
    }
    let check = |(csv, (primary, row, early)): (CsvLine, Decided)| {
        let line = csv.line;
        let mut line_errors = Errors {
            columns: &columns,
            list: Vec::new(),
        };
        for e in early {
            line_errors.field(line, e);
        }
        let stored = row.map(|i: usize| &snapshot.rows[i]);
        let written = if primary.is_some() {
            String::new()
        } else {
            csv.primary.clone()
        };
        let (parsed, mut rule_errors) = own_rules(
            csv,
            primary.as_ref(),
            stored.map(|s| &s.fields),
            &mut line_errors,
        );
        if let Some(p) = &primary {
            if let Err(found) = parsed.fields.check_administered(p, &ctx.administered_names) {
                rule_errors.extend(found);
            }
            if stored.is_none() {
                rule_errors.extend(home_table_error(ctx, p, domain_id, domain));
            }
            rule_errors.retain(|e| !parsed.unparsed.contains(&e.field));
            for e in rule_errors {
                line_errors.field(line, e);
            }
        }
        let has_errors =
            !line_errors.list.is_empty() || errors_before_line.get(&line).copied().unwrap_or(0) > 0;
        Line {
            line,
            written,
            primary,
            row,
            fields: parsed.fields,
            unparsed: parsed.unparsed,
            has_errors,
            errors: line_errors.list,
        }
    };
    let mut lines: Vec<Line> =
        blocking::run(|| csv_lines.into_par_iter().zip(decided).map(check).collect());
    // In file order, as one pass over the lines would have found them.
    for line in &mut lines {
        errors.list.append(&mut line.errors);
    }

    // 2. Portal-wide uniqueness of every address (§2), in the state after saving: the file's lines
    //    among themselves, then against the rows that keep their addresses.
    let mut claimed: HashMap<&str, (usize, Field)> = HashMap::new();
    let mut found: Vec<(usize, FieldError)> = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        for (address, field) in line.addresses() {
            match claimed.get(address.as_str()) {
                Some(&(other, other_field)) if other != index => {
                    found.push((
                        index,
                        FieldError::new(
                            field,
                            Message::AddressTwiceInFile {
                                address: address.to_string(),
                                line: lines[other].line,
                                primary_there: other_field == Field::PrimaryAddress,
                            },
                        ),
                    ));
                }
                Some(_) => {}
                None => {
                    claimed.insert(address.as_str(), (index, field));
                }
            }
        }
    }
    let unknown: Vec<&str> = claimed
        .keys()
        .copied()
        .filter(|a| !snapshot.by_address.contains_key(*a))
        .collect();
    let elsewhere: HashMap<String, AddressHolder> = find_address_holders(conn, &unknown)
        .await?
        .into_iter()
        .map(|h| (h.address.clone(), h))
        .collect();
    // Edges "line `from` must be saved before line `to`": `to` takes an address `from` gives up.
    let mut must_precede: Vec<(usize, usize)> = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        for (address, field) in line.addresses() {
            if claimed.get(address.as_str()).map(|c| c.0) != Some(index) {
                continue; // a duplicate inside the file, reported above
            }
            if let Some(&holder) = snapshot.by_address.get(address.as_str()) {
                if Some(holder) == line.row {
                    continue;
                }
                let held_by = &snapshot.rows[holder];
                match first_line_of.get(held_by.primary.as_str()) {
                    // The holder's line gives the address up (it does not claim it): a move.
                    Some(&giver) => {
                        if line.row.is_some() {
                            must_precede.push((giver, index));
                        }
                    }
                    None => found.push((
                        index,
                        ctx.used_by(
                            field,
                            &AddressHolder {
                                address: address.to_string(),
                                row_id: held_by.record.id,
                                primary_address: held_by.primary.to_string(),
                                domain_name: domain.to_owned(),
                            },
                        ),
                    )),
                }
            } else if let Some(h) = elsewhere.get(address.as_str()) {
                found.push((index, ctx.used_by(field, h)));
            }
        }
    }
    let edit_order = order_edits(&lines, &must_precede, &mut found);
    for (index, e) in found {
        errors.field(lines[index].line, e);
        lines[index].has_errors = true;
    }

    // 3. What each line does, and the consequences of each change (R4–R7), counted as
    //    `rows::preview_edit` counts them.
    let keep_lines = purpose == Purpose::Preview;
    let mut tally = Tally {
        keep_lines,
        lines: Vec::with_capacity(if keep_lines { lines.len() } else { 0 }),
        ..Tally::default()
    };
    // Sized up front: grown by doubling, the list of 100 000 new rows would be copied as it grows
    // and end up to twice as large as needed.
    let mut creates = Vec::with_capacity(match purpose {
        Purpose::Preview => 0,
        Purpose::Apply => lines
            .iter()
            .filter(|l| l.primary.is_some() && l.row.is_none())
            .count(),
    });
    let mut changed_rows: HashMap<usize, RowFields> = HashMap::new();
    let mut plain_edits = Vec::new();
    let blank = RowFields {
        first_name: Default::default(),
        last_name: Default::default(),
        aliases: Vec::new(),
        mailbox_type: Default::default(),
        applicant: None,
        comment: Default::default(),
        active: true,
    };
    let mut fingerprint = Sha256::new();
    fingerprint.update(domain_id.to_be_bytes());
    fingerprint.update(Sha256::digest(file_bytes));
    // The lines give their fields away here (to the writes): only their rows are needed after.
    for line in &mut lines {
        let Some(primary) = &line.primary else {
            tally.add(LinePreview {
                line: line.line,
                primary: std::mem::take(&mut line.written),
                status: LineStatus::Invalid,
                changes: Vec::new(),
                consequences: Vec::new(),
                supersedes: 0,
                drops_links: Vec::new(),
            });
            continue;
        };
        let mut preview = LinePreview {
            line: line.line,
            primary: primary.to_string(),
            status: LineStatus::New,
            changes: Vec::new(),
            consequences: Vec::new(),
            supersedes: 0,
            drops_links: Vec::new(),
        };
        match line.row {
            None => {
                fingerprint.update(format!("new {primary}\n"));
                match purpose {
                    Purpose::Preview => {
                        preview.changes = changes(&blank, &line.fields, primary, &line.unparsed);
                    }
                    Purpose::Apply => {
                        let fields = std::mem::replace(&mut line.fields, blank.clone());
                        creates.push((primary.clone(), fields));
                    }
                }
            }
            Some(row) => {
                let stored = &snapshot.rows[row];
                let c = RowEdit::between(&stored.fields, &line.fields);
                fingerprint.update(format!(
                    "row {} {} {}\n",
                    stored.record.id, stored.record.version, primary
                ));
                if c.is_unchanged() {
                    preview.status = LineStatus::Unchanged;
                } else {
                    preview.status = LineStatus::Changed;
                    preview.changes =
                        changes(&stored.fields, &line.fields, primary, &line.unparsed);
                    let id = stored.record.id;
                    preview.supersedes = if c.supersede_pending {
                        snapshot.pending.get(&id).copied().unwrap_or(0)
                    } else {
                        0
                    };
                    let dropped = links_to_drop(
                        snapshot.links.get(&id).map_or(&[][..], Vec::as_slice),
                        &c.dropped_links,
                    );
                    preview.consequences = consequences(&c, preview.supersedes, &dropped, primary);
                    preview.drops_links = dropped.iter().map(|l| l.address.clone()).collect();
                    fingerprint.update(format!("supersedes {}\n", preview.supersedes));
                    for l in &dropped {
                        fingerprint.update(format!("drops {} {}\n", l.address, l.user_id));
                    }
                    if purpose == Purpose::Apply {
                        let fields = std::mem::replace(&mut line.fields, blank.clone());
                        let plain = stored.fields.aliases == fields.aliases
                            && preview.supersedes == 0
                            && dropped.is_empty();
                        if plain {
                            plain_edits.push((row, fields));
                        } else {
                            changed_rows.insert(row, fields);
                        }
                    }
                }
            }
        }
        tally.add(preview);
    }
    let edits = edit_order
        .into_iter()
        .filter_map(|i| lines[i].row)
        .filter_map(|row| changed_rows.remove(&row).map(|f| (row, f)))
        .collect();

    let mut missing: Vec<String> = snapshot
        .rows
        .iter()
        .filter(|r| !first_line_of.contains_key(r.primary.as_str()))
        .map(|r| r.primary.to_string())
        .collect();
    missing.sort();
    let mut errors = errors.list;
    sort_errors(&mut errors);

    let preview = Preview {
        domain: domain.to_owned(),
        fingerprint: hex(&fingerprint.finalize()),
        encoding,
        delimiter: delimiter.to_string(),
        new: tally.new,
        changed: tally.changed,
        unchanged: tally.unchanged,
        invalid: tally.invalid,
        supersedes: tally.supersedes,
        drops_links: tally.drops_links,
        lines: tally.lines,
        errors,
        missing,
    };
    Ok(Plan {
        preview,
        actions: Actions {
            edits,
            plain_edits,
            creates,
        },
        snapshot,
    })
}

/// The preview's counts, and its lines when they are kept (see [`Purpose`]).
#[derive(Default)]
struct Tally {
    keep_lines: bool,
    lines: Vec<LinePreview>,
    new: usize,
    changed: usize,
    unchanged: usize,
    invalid: usize,
    supersedes: usize,
    drops_links: usize,
}

impl Tally {
    fn add(&mut self, line: LinePreview) {
        *match line.status {
            LineStatus::New => &mut self.new,
            LineStatus::Changed => &mut self.changed,
            LineStatus::Unchanged => &mut self.unchanged,
            LineStatus::Invalid => &mut self.invalid,
        } += 1;
        self.supersedes += line.supersedes;
        self.drops_links += line.drops_links.len();
        if self.keep_lines {
            self.lines.push(line);
        }
    }
}

/// A line's primary address, or its error at the primary address.
fn primary_of(csv: &CsvLine) -> Result<EmailAddress, FieldError> {
    EmailAddress::parse(&csv.primary).map_err(|e| FieldError::new(Field::PrimaryAddress, e))
}

/// A line's primary address, or its error (into `errors`).
fn line_primary(csv: &CsvLine, errors: &mut Errors) -> Option<EmailAddress> {
    primary_of(csv).map_err(|e| errors.field(csv.line, e)).ok()
}

/// The rules a line meets on its own, with no table but the row it updates (`stored`): its
/// cells through the edit form's parser (`RowInput::parse`; a column the file lacks keeps the
/// stored value, a new row gets the default; an empty or unreadable Active cell keeps the stored
/// state, a new row is active), and, when the primary address parsed, `RowFields::validate`.
/// The parse errors go to `errors`; the rule errors are returned, unfiltered, for the caller to
/// add the rules that need the table and then drop those at fields that did not parse.
fn own_rules(
    csv: CsvLine,
    primary: Option<&EmailAddress>,
    stored: Option<&RowFields>,
    errors: &mut Errors,
) -> (ParsedInput, Vec<FieldError>) {
    let line = csv.line;
    let active = csv
        .active
        .unwrap_or_else(|| stored.is_none_or(|s| s.active));
    let mut parsed = row_input(csv, stored).parse(active);
    for e in std::mem::take(&mut parsed.errors) {
        errors.field(line, e);
    }
    let mut rule_errors = Vec::new();
    if let Some(p) = primary {
        if let Err(found) = parsed.fields.validate(p) {
            rule_errors.extend(found);
        }
    }
    (parsed, rule_errors)
}

/// One data line checked as far as it can be without a table (see [`check_lines`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedLine {
    /// Physical line (1-based) where the record starts.
    pub line: usize,
    /// The primary address, when it parsed.
    pub primary: Option<EmailAddress>,
    /// The fields the line would give a new row (placeholders where a field did not parse).
    pub fields: RowFields,
    /// Whether no error is at this line: those of reading it included.
    pub accepted: bool,
}

/// A file's lines checked as far as they can be without a table (see [`check_lines`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedLines {
    /// Every data line, in file order.
    pub lines: Vec<CheckedLine>,
    /// The file's errors and the lines' own, sorted as the preview sorts them.
    pub errors: Vec<LineError>,
}

/// The per-line checks of the preview and apply (`plan`) that need no database, as if every line
/// were a new row: the primary address, the edit form's parser and `RowFields::validate`, with
/// errors at the file's columns. Left out, because they need the table or other lines: R1
/// (administered domains and home tables), an address on two lines, portal-wide uniqueness.
///
/// For the fuzz target (`fuzz/`), which has no database; the preview runs the same functions.
pub fn check_lines(file: &ParsedFile) -> CheckedLines {
    let mut errors = Errors {
        columns: &file.columns,
        list: file.errors.clone(),
    };
    let lines = file
        .lines
        .iter()
        .map(|csv| {
            let before = errors.list.len();
            let primary = line_primary(csv, &mut errors);
            let (parsed, mut rule_errors) =
                own_rules(csv.clone(), primary.as_ref(), None, &mut errors);
            rule_errors.retain(|e| !parsed.unparsed.contains(&e.field));
            for e in rule_errors {
                errors.field(csv.line, e);
            }
            let accepted =
                errors.list.len() == before && !file.errors.iter().any(|e| e.line == csv.line);
            CheckedLine {
                line: csv.line,
                primary,
                fields: parsed.fields,
                accepted,
            }
        })
        .collect();
    let mut errors = errors.list;
    sort_errors(&mut errors);
    CheckedLines { lines, errors }
}

/// The order the preview lists errors in: by line, then by column (whole-line errors first).
fn sort_errors(errors: &mut [LineError]) {
    errors.sort_by_key(|e| (e.line, e.column.as_ref().map_or(0, |c| c.number)));
}

/// The form's input for a line: the file's cells, and for columns the file does not have, the
/// stored row's values (a new row: empty, i.e. the defaults).
fn row_input(csv: CsvLine, stored: Option<&RowFields>) -> RowInput {
    let keep = |cell: Option<String>, field: Field| match (cell, stored) {
        (Some(v), _) => v,
        (None, Some(s)) => editable_text(s, field),
        (None, None) => String::new(),
    };
    RowInput {
        first_name: keep(csv.first_name, Field::FirstName),
        last_name: keep(csv.last_name, Field::LastName),
        aliases: keep(csv.aliases, Field::Aliases),
        mailbox_type: keep(csv.mailbox_type, Field::MailboxType),
        applicant: keep(csv.applicant, Field::Applicant),
        comment: keep(csv.comment, Field::Comment),
    }
}

/// R1 for a new row, as `rows::check_row` has it: its home table (the most specific registered
/// domain it lies in) must be one the NAP administers, and for an upload, this very table.
fn home_table_error(
    ctx: &RowContext,
    primary: &EmailAddress,
    domain_id: i64,
    domain: &str,
) -> Option<FieldError> {
    if !ctx.administered_names.iter().any(|d| primary.is_in(d)) {
        return None; // check_administered says it
    }
    let owning = primary.owning_domain(&ctx.registered_names)?;
    let id = ctx
        .registered
        .iter()
        .find(|(_, name)| name == owning)
        .map(|(id, _)| *id)?;
    if ctx.require_nap_of(id).is_err() {
        return Some(FieldError::new(
            Field::PrimaryAddress,
            Message::TableNotAdministered {
                primary: primary.to_string(),
                owning: owning.to_string(),
            },
        ));
    }
    (id != domain_id).then(|| {
        FieldError::new(
            Field::PrimaryAddress,
            Message::OtherTable {
                primary: primary.to_string(),
                owning: owning.to_string(),
                domain: domain.to_owned(),
            },
        )
    })
}

/// An order of the changed rows in which every row that gives up an address is saved before the
/// row that takes it (file order otherwise). Rows that take addresses from each other in a circle
/// get an error: one upload cannot swap addresses.
fn order_edits(
    lines: &[Line],
    must_precede: &[(usize, usize)],
    errors: &mut Vec<(usize, FieldError)>,
) -> Vec<usize> {
    let edits: BTreeSet<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.row.is_some() && l.primary.is_some())
        .map(|(i, _)| i)
        .collect();
    let mut waits: BTreeMap<usize, usize> = edits.iter().map(|&i| (i, 0)).collect();
    let mut then: HashMap<usize, Vec<usize>> = HashMap::new();
    for &(from, to) in must_precede {
        if edits.contains(&from) && edits.contains(&to) {
            *waits.get_mut(&to).expect("an edit") += 1;
            then.entry(from).or_default().push(to);
        }
    }
    let mut ready: BTreeSet<usize> = waits
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(i, _)| *i)
        .collect();
    let mut order = Vec::with_capacity(edits.len());
    while let Some(next) = ready.pop_first() {
        order.push(next);
        waits.remove(&next);
        for to in then.remove(&next).unwrap_or_default() {
            let n = waits.get_mut(&to).expect("waiting");
            *n -= 1;
            if *n == 0 {
                ready.insert(to);
            }
        }
    }
    for (&index, _) in waits.iter() {
        errors.push((index, FieldError::new(Field::Aliases, Message::AddressSwap)));
    }
    order
}

/// The field-by-field differences (table order), leaving out fields that did not parse.
fn changes(
    before: &RowFields,
    after: &RowFields,
    primary: &EmailAddress,
    unparsed: &BTreeSet<Field>,
) -> Vec<FieldChange> {
    RowEdit::between(before, after)
        .changed_fields
        .into_iter()
        .filter(|f| !unparsed.contains(f))
        .map(|field| FieldChange {
            field,
            before: field_text(before, field, primary),
            after: field_text(after, field, primary),
        })
        .collect()
}

/// The links an edit drops, of those the row has (as `rows::links_to_drop`).
fn links_to_drop<'a>(links: &'a [LinkRecord], drop: &LinkDrop) -> Vec<&'a LinkRecord> {
    match drop {
        LinkDrop::None => Vec::new(),
        LinkDrop::All => links.iter().collect(),
        LinkDrop::Addresses(addresses) => links
            .iter()
            .filter(|l| addresses.iter().any(|a| a.as_str() == l.address))
            .collect(),
    }
}

/// The sentences `rows::preview_edit` shows for the same edit.
fn consequences(
    c: &EditConsequences,
    supersedes: usize,
    dropped: &[&LinkRecord],
    primary: &EmailAddress,
) -> Vec<Consequence> {
    let mut sentences = c.describe();
    if supersedes > 0 {
        sentences.push(Consequence::SupersedesPending { count: supersedes });
    }
    for link in dropped {
        let name = format!("{} {}", link.given_name, link.family_name);
        let name = match name.trim() {
            "" => link.user_id.as_str(),
            name => name,
        };
        sentences.push(Consequence::DropsLink {
            primary: link.address == primary.as_str(),
            address: link.address.clone(),
            by: name.to_owned(),
        });
    }
    sentences
}

/// Counts what the changes do, for the report.
pub(crate) fn activation_counts(plan: &Plan) -> (u64, u64) {
    let mut deactivated = 0;
    let mut reactivated = 0;
    for (row, after) in plan.actions.edits.iter().chain(&plan.actions.plain_edits) {
        match RowEdit::between(&plan.snapshot.rows[*row].fields, after).activation {
            Some(Activation::Deactivated) => deactivated += 1,
            Some(Activation::Reactivated) => reactivated += 1,
            None => {}
        }
    }
    (deactivated, reactivated)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
