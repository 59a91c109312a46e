//! `ra-portal copy-to postgres://…` (issue 22, "moving up"): copies every table of this SQLite
//! portal into an empty PostgreSQL database and checks the copy, row counts table by table.
//!
//! The target is migrated with `migrations/postgres` first (the same schema: scripts/schema-check.sh
//! compares the two), then filled in one transaction, so a failure leaves it empty. Values keep
//! their ids: the audit trail goes on with its numbers, foreign keys point where they pointed, and
//! the identity sequences continue after the largest id. What triggers derive on PostgreSQL (row
//! counts, the table's change counters, the login groups) is copied as SQLite derived it, with the
//! tables' triggers off during the copy. The CA stays in `<data_dir>/ca` (it is not in the
//! database): point the new portal at the same data folder, or copy the folder with it.
//!
//! Stop the portal before the copy: what it writes afterwards is not in the copy.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Instant;

use anyhow::{bail, Context};
use futures_util::TryStreamExt;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Connection, Row, TypeInfo, ValueRef};

use crate::db::POSTGRES_MIGRATOR;

/// SQLite's full-text index of the table's search (virtual table and its shadow tables): kept by
/// triggers from `row_search_text`; PostgreSQL searches that table with `pg_trgm` instead.
const SQLITE_ONLY_TABLES: &[&str] = &[
    "row_search",
    "row_search_data",
    "row_search_idx",
    "row_search_content",
    "row_search_docsize",
    "row_search_config",
];

/// COPY data is sent in pieces of about this size.
const COPY_CHUNK_BYTES: usize = 1 << 20;

/// `SELECT COUNT(*)` of table `name`, on either engine (a macro: the query's type differs).
macro_rules! count_rows {
    ($conn:expr, $name:expr) => {
        sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {}",
            ident($name)
        )))
        .fetch_one($conn)
    };
}

/// What was copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// Each table with its rows, in the order they were copied (referenced tables first).
    pub tables: Vec<(String, u64)>,
    /// The largest audit record id, the same on both sides (0: none).
    pub last_audit_id: i64,
    /// How long the copy took, in milliseconds.
    pub millis: u128,
}

/// Copies the portal's database `source` into the empty PostgreSQL database at `url` and checks
/// that every table holds as many rows there as here. Refused, changing nothing, when the target
/// holds portal data already or when its schema differs from this one's.
pub async fn copy_to_postgres(
    source: &crate::storage::Db,
    url: &str,
) -> anyhow::Result<CopyReport> {
    let crate::storage::Engine::Sqlite(source) = source.engine() else {
        anyhow::bail!("copy-to copies a SQLite portal; this one runs on PostgreSQL already");
    };
    let started = Instant::now();
    let mut pg = PgConnection::connect(url)
        .await
        .context("cannot connect to the PostgreSQL database")?;
    // Every commit of this session durable before the next step, whatever the server's setting: the
    // copy before "copied" is reported, and the VACUUM's own commits too. With asynchronous commits
    // the VACUUM below cannot mark the copied pages all-visible: a tuple's commit must be flushed
    // before its hint bit is set, and the ANALYZE commits that VACUUM (ANALYZE) makes meanwhile keep
    // the copy's transaction among the unflushed (measured: 0 of 1 828 pages of mailbox_rows in
    // the visibility map, and the pager's page 1000 at 19 ms instead of 5 ms until a later vacuum).
    sqlx::query("SET synchronous_commit = on")
        .execute(&mut pg)
        .await?;
    POSTGRES_MIGRATOR
        .run(&mut pg)
        .await
        .context("cannot migrate the PostgreSQL database")?;

    let mut reader = source.begin().await?;
    let sqlite_tables = sqlite_tables(&mut reader).await?;
    let pg_tables = postgres_tables(&mut pg).await?;
    let names: BTreeSet<&String> = sqlite_tables.keys().chain(pg_tables.keys()).collect();
    for name in names {
        match (sqlite_tables.get(name), pg_tables.get(name)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => bail!(
                "table {name} has other columns on PostgreSQL ({}) than here ({}): \
                 is the portal newer than the target's migrations?",
                b.join(", "),
                a.join(", ")
            ),
            (Some(_), None) => bail!("table {name} is missing on PostgreSQL"),
            (None, _) => bail!("table {name} is on PostgreSQL but not here"),
        }
    }
    for name in pg_tables.keys() {
        let rows = count_rows!(&mut pg, name).await?;
        if rows > 0 {
            bail!("the target holds data already ({rows} rows in {name}): copy into an empty database");
        }
    }
    let order = referenced_first(&mut pg, pg_tables.keys()).await?;

    let mut tx = pg.begin().await?;
    switch_user_triggers(&mut tx, &order, "DISABLE").await?;
    let mut tables = Vec::with_capacity(order.len());
    for name in &order {
        let copied = copy_table(&mut reader, &mut tx, name, &pg_tables[name]).await?;
        tables.push((name.clone(), copied));
    }
    switch_user_triggers(&mut tx, &order, "ENABLE").await?;
    continue_identities(&mut tx).await?;

    // The check: as many rows there as here, table by table, and the trail's last number.
    for (name, copied) in &tables {
        let there = count_rows!(&mut *tx, name).await?;
        let here = count_rows!(&mut *reader, name).await?;
        if there != here || u64::try_from(here).ok() != Some(*copied) {
            bail!("{name}: {here} rows here, {copied} copied, {there} on PostgreSQL");
        }
    }
    let last_here: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM audit_records")
        .fetch_one(&mut *reader)
        .await?;
    let last_there: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM audit_records")
        .fetch_one(&mut *tx)
        .await?;
    if last_here != last_there {
        bail!("the audit trail ends at {last_here:?} here but at {last_there:?} on PostgreSQL");
    }
    tx.commit().await?;
    reader.rollback().await?;
    // Statistics for the planner and the visibility map now, not at autovacuum's next round:
    // without statistics the table pages on the copy were planned for empty tables (the pager's
    // pages 23 ms instead of 1.3 ms), and without the visibility map every row an index-only scan
    // passes (a table page's OFFSET) is looked up in the table as well.
    sqlx::query("VACUUM (ANALYZE)").execute(&mut pg).await?;
    Ok(CopyReport {
        tables,
        last_audit_id: last_here.unwrap_or(0),
        millis: started.elapsed().as_millis(),
    })
}

/// Turns the user triggers of `tables` off (`DISABLE`) or on again (`ENABLE`).
async fn switch_user_triggers(
    conn: &mut PgConnection,
    tables: &[String],
    switch: &str,
) -> anyhow::Result<()> {
    for name in tables {
        let sql = format!("ALTER TABLE {} {switch} TRIGGER USER", ident(name));
        sqlx::query(AssertSqlSafe(sql)).execute(&mut *conn).await?;
    }
    Ok(())
}

/// A table or column name as an SQL identifier (the names come from the catalogs).
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Tables whose SQLite rowid has a twin column `rowid` on PostgreSQL.
const ROWID_TWINS: [&str; 1] = ["scim_users"];

/// The portal's tables here and their columns (sorted), without SQLite's own and the search
/// index only SQLite has.
async fn sqlite_tables(
    conn: &mut sqlx::SqliteConnection,
) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'table'
           AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut tables = BTreeMap::new();
    for name in names {
        if SQLITE_ONLY_TABLES.contains(&name.as_str()) {
            continue;
        }
        let mut columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
            .bind(&name)
            .fetch_all(&mut *conn)
            .await?;
        // SQLite's implicit rowid, which PostgreSQL keeps as a column where the portal orders by
        // it (postgres/0016): copied like any other.
        if ROWID_TWINS.contains(&name.as_str()) {
            columns.push("rowid".to_owned());
        }
        columns.sort();
        tables.insert(name, columns);
    }
    Ok(tables)
}

/// The portal's tables on PostgreSQL and their columns (sorted).
async fn postgres_tables(conn: &mut PgConnection) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text FROM information_schema.columns c
         JOIN information_schema.tables t USING (table_schema, table_name)
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
           AND c.table_name <> '_sqlx_migrations'
         ORDER BY 1, 2",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (table, column) in columns {
        tables.entry(table).or_default().push(column);
    }
    Ok(tables)
}

/// The tables in an order in which every table comes after the tables it references.
async fn referenced_first(
    conn: &mut PgConnection,
    names: impl Iterator<Item = &String>,
) -> anyhow::Result<Vec<String>> {
    let references: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c
         WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut pending: BTreeSet<String> = names.cloned().collect();
    let mut order = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let ready: Vec<String> = pending
            .iter()
            .filter(|t| {
                references
                    .iter()
                    .all(|(from, to)| from != *t || to == *t || !pending.contains(to))
            })
            .cloned()
            .collect();
        if ready.is_empty() {
            bail!("the tables' foreign keys form a cycle: {pending:?}");
        }
        for t in ready {
            pending.remove(&t);
            order.push(t);
        }
    }
    Ok(order)
}

/// Copies one table with `COPY … FROM STDIN` (text format); returns its rows.
async fn copy_table(
    reader: &mut sqlx::SqliteConnection,
    target: &mut PgConnection,
    name: &str,
    columns: &[String],
) -> anyhow::Result<u64> {
    let list = columns
        .iter()
        .map(|c| ident(c))
        .collect::<Vec<_>>()
        .join(", ");
    let mut copy = target
        .copy_in_raw(&format!("COPY {} ({list}) FROM STDIN", ident(name)))
        .await?;
    let mut rows =
        sqlx::query(AssertSqlSafe(format!("SELECT {list} FROM {}", ident(name)))).fetch(reader);
    let mut buffer = String::with_capacity(COPY_CHUNK_BYTES + 4096);
    let mut copied = 0u64;
    let result: anyhow::Result<()> = async {
        while let Some(row) = rows.try_next().await? {
            copy_line(&row, &mut buffer).with_context(|| format!("table {name}"))?;
            copied += 1;
            if buffer.len() >= COPY_CHUNK_BYTES {
                copy.send(buffer.as_bytes()).await?;
                buffer.clear();
            }
        }
        if !buffer.is_empty() {
            copy.send(buffer.as_bytes()).await?;
        }
        Ok(())
    }
    .await;
    drop(rows);
    match result {
        Ok(()) => {
            copy.finish()
                .await
                .with_context(|| format!("PostgreSQL refused the rows of {name}"))?;
            Ok(copied)
        }
        Err(e) => {
            let _ = copy.abort(e.to_string()).await;
            Err(e)
        }
    }
}

/// One row as a line of COPY's text format: tab between values, `\N` for NULL, backslash
/// escapes in text, `\\x` and hex digits for bytes.
fn copy_line(row: &SqliteRow, line: &mut String) -> anyhow::Result<()> {
    for i in 0..row.len() {
        if i > 0 {
            line.push('\t');
        }
        let raw = row.try_get_raw(i)?;
        if raw.is_null() {
            line.push_str("\\N");
            continue;
        }
        // SQLite types each value, not each column: the value's own type says how to read it.
        match raw.type_info().name() {
            "INTEGER" => {
                let v: i64 = row.try_get(i)?;
                let _ = write!(line, "{v}");
            }
            "REAL" => {
                let v: f64 = row.try_get(i)?;
                let _ = write!(line, "{v:?}");
            }
            "BLOB" => {
                let v: Vec<u8> = row.try_get(i)?;
                line.push_str("\\\\x");
                for b in v {
                    let _ = write!(line, "{b:02x}");
                }
            }
            _ => {
                let v: String = row.try_get(i)?;
                escape_text(&v, line);
            }
        }
    }
    line.push('\n');
    Ok(())
}

/// Text as COPY's text format reads it back unchanged.
fn escape_text(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
}

/// Each identity column's sequence goes on after the largest id copied.
async fn continue_identities(conn: &mut PgConnection) -> anyhow::Result<()> {
    let identities: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (table, column) in identities {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(MAX({c}), 0) + 1, false) FROM {t}",
            c = ident(&column),
            t = ident(&table),
        )))
        .bind(&table)
        .bind(&column)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_the_way_copy_reads_it() {
        let mut out = String::new();
        escape_text("a\\b\tc\nd\re ä", &mut out);
        assert_eq!(out, "a\\\\b\\tc\\nd\\re ä");
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(ident("rows"), "\"rows\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
    }
}
