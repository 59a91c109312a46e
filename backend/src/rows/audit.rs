//! Reading a domain's audit trail (R16), and writing it as a CSV file.

use crate::storage::Db;
use domain::address::EmailAddress;
use serde::{Deserialize, Serialize};

use super::{AuditKind, ContextFor, RowContext, ServiceError};
use crate::roles::Viewer;
use crate::storage::audit as audit_store;
pub use crate::storage::audit::AuditEntry;

/// Most audit records one call returns (the CSV download asks for this many).
pub const MAX_AUDIT_RECORDS: u32 = 100_000;
/// Audit records returned when a filter asks for none (`limit: 0`).
pub const DEFAULT_AUDIT_RECORDS: u32 = 100;

/// Which audit records of a domain to read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Only records of the row that has (or had) this address.
    pub row: Option<String>,
    /// Only records by this user ID.
    pub actor: Option<String>,
    /// Only records of this kind.
    pub kind: Option<AuditKind>,
    /// Only records at or after this time (Unix seconds).
    pub from: Option<i64>,
    /// Only records at or before this time (Unix seconds).
    pub to: Option<i64>,
    /// Only records older than the one with this [`AuditEntry::id`]: the next page of a trail read
    /// in pages. The trail is in id order, and a bulk apply writes thousands of records in one
    /// second, so time cannot say where a page ended.
    #[serde(default)]
    pub before_id: Option<i64>,
    /// At most this many records, newest first: 0 means 100, more than 100 000 means 100 000.
    pub limit: u32,
}

/// A domain's audit trail, newest first, filtered (its NAPs and operators, R16).
pub async fn list_audit(
    pool: &Db,
    viewer: &Viewer,
    domain: &str,
    filter: &AuditFilter,
) -> Result<Vec<AuditEntry>, ServiceError> {
    let mut conn = pool.acquire().await?;
    let ctx = RowContext::load(&mut conn, viewer, ContextFor::Reading).await?;
    let (domain_id, _) = ctx.readable_domain(domain)?;
    let trimmed = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    // An address as typed: normalised like stored ones, so `Anna@Example.org` finds the row.
    let address = trimmed(&filter.row).map(|a| match EmailAddress::parse(&a) {
        Ok(parsed) => parsed.as_str().to_owned(),
        Err(_) => a.to_lowercase(),
    });
    let actor = trimmed(&filter.actor);
    let records = audit_store::list_audit_records(
        &mut conn,
        &audit_store::AuditQuery {
            domain_id,
            address: address.as_deref(),
            actor: actor.as_deref(),
            kind: filter.kind,
            from: filter.from,
            to: filter.to,
            before_id: filter.before_id,
            limit: i64::from(match filter.limit {
                0 => DEFAULT_AUDIT_RECORDS,
                n => n.min(MAX_AUDIT_RECORDS),
            }),
        },
    )
    .await?;
    Ok(records)
}

/// The audit trail as a CSV file (RFC 4180: comma, CRLF, quotes where needed): a header line and
/// one line per entry. Cells a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) get a
/// leading `'` (SPEC §4), so opening the file never executes what someone typed into a row.
pub fn audit_csv(entries: &[AuditEntry]) -> String {
    let mut out = String::from("time_utc,unix_time,actor,kind,subject,before,after\r\n");
    for e in entries {
        let cells = [
            domain::time::utc_date_time(e.at),
            e.at.to_string(),
            e.actor.clone(),
            e.kind.clone(),
            e.subject.clone().unwrap_or_default(),
            e.before.clone().unwrap_or_default(),
            e.after.clone().unwrap_or_default(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// One CSV cell: neutralised against formula execution, then quoted if it must be.
fn csv_cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_neutralised() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=1+1"), "'=1+1");
        assert_eq!(csv_cell("-2,3"), "\"'-2,3\"");
        assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
    }
}
