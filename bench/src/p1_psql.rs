//! P1's yardstick on PostgreSQL (SPEC §9, issue 22): the time `psql` needs to execute **the
//! portal's own writes** for the file as one SQL script in one transaction, into a migrated
//! database — the twin of `p1_sql`, which does the same with `sqlite3`.
//!
//! As there, the script is read back from the portal rather than written beside its code. Before
//! the upload the portal's database is dumped (`pg_dump`) and restored as a second database; after
//! the apply, both are dumped as one `INSERT` per row (`pg_dump --data-only --inserts`), and every
//! row the apply added or changed becomes part of `INSERT … ON CONFLICT (primary key) DO UPDATE`
//! statements of up to 500 rows each (PostgreSQL's spelling of SQLite's `INSERT OR REPLACE`), in
//! the dump's table order, which respects the foreign keys. Tables that only triggers write (the
//! per-domain row counts, the last login's groups) are left to the same triggers. The script then
//! runs on fresh copies of the database as it was before (`CREATE DATABASE … TEMPLATE`), and the
//! first result is compared table by table with the portal's, so the yardstick provably did the
//! same writes.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context;
use sqlx::{Connection, PgConnection};

use crate::p1_sql::{Counts, ScriptRun, ROWS_PER_INSERT, RUNS};
use crate::postgres::{drop_database, recreate_database, url_of};

/// Tables whose rows only triggers write: the script leaves them to the same triggers.
const KEPT_BY_TRIGGERS: &[&str] = &["row_counts", "last_login_groups"];

/// The restored copy of the portal's database before the upload, and the copies the script runs on.
const BEFORE: &str = "p1_before";
const RUN: &str = "p1_script_run";

/// The database as it was before the upload, and where the script goes.
pub struct Baseline {
    dir: tempfile::TempDir,
    /// The cluster's maintenance database (`PG_URL`).
    admin: String,
}

/// A PostgreSQL client program: from the cluster's own bin folder when scripts/postgres.sh named
/// it (the client must not be older than the server), otherwise from `PATH`.
fn client(program: &str) -> Command {
    let path = std::env::var_os("PG_BIN")
        .map(|bin| PathBuf::from(bin).join(program))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(program));
    let mut command = Command::new(path);
    command.stdin(Stdio::null());
    command
}

/// Runs a client program; its stdout, or its stderr as the error.
fn output(mut command: Command, what: &str) -> anyhow::Result<String> {
    let out = command
        .output()
        .with_context(|| format!("running {what} (apt-get install postgresql-client)"))?;
    anyhow::ensure!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

/// `psql` executing the file `script` on the database `url`, stopping at the first error.
fn psql(url: &str, script: &Path) -> Command {
    let mut command = client("psql");
    command
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f"])
        .arg(script)
        .stdout(Stdio::null());
    command
}

/// Every row of every table of `url` as `pg_dump` writes it, `INSERT INTO public.t VALUES (…);`
/// (one statement per row), grouped by table in the dump's order.
fn rows_of(url: &str) -> anyhow::Result<Vec<(String, Vec<String>)>> {
    let mut command = client("pg_dump");
    command.args(["--data-only", "--inserts", "--no-owner", "-d", url]);
    let dump = output(command, "pg_dump")?;
    let mut tables: Vec<(String, Vec<String>)> = Vec::new();
    for line in dump.lines() {
        if let Some(rest) = line.strip_prefix("INSERT INTO ") {
            let table = rest
                .split_once(' ')
                .map_or(rest, |(t, _)| t)
                .trim_start_matches("public.")
                .to_owned();
            match tables.last_mut() {
                Some((last, rows)) if *last == table => rows.push(line.to_owned()),
                _ => tables.push((table, vec![line.to_owned()])),
            }
        } else if let Some((_, rows)) = tables.last_mut() {
            // A value with a line break continues the row's statement on the next line.
            if let Some(row) = rows.last_mut().filter(|r| !r.ends_with(");")) {
                row.push('\n');
                row.push_str(line);
            }
        }
    }
    Ok(tables)
}

/// The primary key and the columns of each table of the database `url`.
async fn keys_and_columns(
    url: &str,
) -> anyhow::Result<HashMap<String, (Vec<String>, Vec<String>)>> {
    let mut db = PgConnection::connect(url).await?;
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
    )
    .fetch_all(&mut db)
    .await?;
    let keys: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, a.attname::text
         FROM pg_index i
         JOIN pg_class c ON c.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
         WHERE i.indisprimary ORDER BY c.relname, a.attnum",
    )
    .fetch_all(&mut db)
    .await?;
    let mut tables: HashMap<String, (Vec<String>, Vec<String>)> = HashMap::new();
    for (table, column) in columns {
        tables.entry(table).or_default().1.push(column);
    }
    for (table, column) in keys {
        tables.entry(table).or_default().0.push(column);
    }
    Ok(tables)
}

/// How many rows each table of `url` holds, and the rows the per-domain counts add up to.
async fn row_counts(url: &str) -> anyhow::Result<Vec<(String, i64)>> {
    let mut db = PgConnection::connect(url).await?;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    )
    .fetch_all(&mut db)
    .await?;
    let mut counts = Vec::new();
    for table in tables {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM public.\"{table}\""
        )))
        .fetch_one(&mut db)
        .await?;
        counts.push((table, n));
    }
    let rows: i64 =
        sqlx::query_scalar("SELECT CAST(COALESCE(sum(rows), 0) AS BIGINT) FROM row_counts")
            .fetch_one(&mut db)
            .await?;
    counts.push(("row_counts.rows".into(), rows));
    Ok(counts)
}

impl Baseline {
    /// Dumps the portal's database `portal` as it is now (the portal is idle: nothing is lost) and
    /// restores it as a database of its own on the same cluster.
    pub async fn take(admin: &str, portal: &str) -> anyhow::Result<Baseline> {
        let dir = tempfile::tempdir()?;
        let dump = dir.path().join("before.sql");
        let mut command = client("pg_dump");
        command
            .args(["--no-owner", "--no-privileges", "-d", portal, "-f"])
            .arg(&dump);
        output(command, "pg_dump")?;
        let baseline = Baseline {
            dir,
            admin: admin.to_owned(),
        };
        baseline.recreate(BEFORE, None).await?;
        output(
            psql(&url_of(admin, BEFORE), &dump),
            "psql restoring the dump",
        )?;
        Ok(baseline)
    }

    /// Drops the database `name` if it is there and creates it anew (as a copy of `template`).
    async fn recreate(&self, name: &str, template: Option<&str>) -> anyhow::Result<()> {
        let mut admin = PgConnection::connect(&self.admin).await.context("PG_URL")?;
        recreate_database(&mut admin, name, template).await
    }

    /// The rows of the portal's database `portal` (after the apply) that are new or changed
    /// against the copy before the upload, as a script in one transaction.
    async fn script(&self, portal: &str) -> anyhow::Result<(String, Counts)> {
        let before_url = url_of(&self.admin, BEFORE);
        let before: HashSet<String> = rows_of(&before_url)?
            .into_iter()
            .flat_map(|(_, rows)| rows)
            .collect();
        let after = rows_of(portal)?;
        let tables = keys_and_columns(&before_url).await?;
        let mut script = String::from("BEGIN;\n");
        let (mut rows, mut statements, mut written) = (0, 0, 0);
        for (table, table_rows) in &after {
            if KEPT_BY_TRIGGERS.contains(&table.as_str()) || table == "_sqlx_migrations" {
                continue;
            }
            let changed: Vec<&str> = table_rows
                .iter()
                .filter(|row| !before.contains(*row))
                .map(String::as_str)
                .collect();
            if changed.is_empty() {
                continue;
            }
            written += 1;
            let (key, columns) = tables
                .get(table)
                .with_context(|| format!("no table {table} before the upload"))?;
            // Changed rows replace the old ones, as SQLite's INSERT OR REPLACE does.
            let on_conflict = if key.is_empty() {
                String::new()
            } else {
                let set: Vec<String> = columns
                    .iter()
                    .filter(|c| !key.contains(c))
                    .map(|c| format!("\"{c}\" = EXCLUDED.\"{c}\""))
                    .collect();
                let quoted_key: Vec<String> = key.iter().map(|c| format!("\"{c}\"")).collect();
                if set.is_empty() {
                    format!(" ON CONFLICT ({}) DO NOTHING", quoted_key.join(", "))
                } else {
                    format!(
                        " ON CONFLICT ({}) DO UPDATE SET {}",
                        quoted_key.join(", "),
                        set.join(", ")
                    )
                }
            };
            for batch in changed.chunks(ROWS_PER_INSERT) {
                // `INSERT INTO public.t [OVERRIDING SYSTEM VALUE] VALUES (…);`: the part before
                // the values is the same for every row of the table.
                let (head, _) = batch[0]
                    .split_once(" VALUES (")
                    .with_context(|| format!("not an INSERT of pg_dump: {:.80}", batch[0]))?;
                script.push_str(head);
                script.push_str(" VALUES ");
                for (i, row) in batch.iter().enumerate() {
                    let values = row
                        .split_once(" VALUES ")
                        .and_then(|(_, v)| v.strip_suffix(';'))
                        .with_context(|| format!("not an INSERT of pg_dump: {row:.80}"))?;
                    if i > 0 {
                        script.push(',');
                    }
                    script.push_str(values);
                }
                script.push_str(&on_conflict);
                script.push_str(";\n");
                statements += 1;
            }
            rows += changed.len();
        }
        script.push_str("COMMIT;\n");
        Ok((
            script,
            Counts {
                rows,
                statements,
                tables: written,
            },
        ))
    }

    /// Builds the script from the portal's database `portal` after the apply and executes it
    /// [`RUNS`] times with `psql`, each on a fresh copy of the database before the upload; checks
    /// that the result holds as many rows per table as the portal's.
    pub async fn run_script(&self, portal: &str) -> anyhow::Result<ScriptRun> {
        let (script, counts) = self.script(portal).await?;
        let script_file = self.dir.path().join("writes.sql");
        std::fs::write(&script_file, &script)?;
        let expected = row_counts(portal).await?;
        let run_url = url_of(&self.admin, RUN);
        let mut times = Vec::new();
        for run in 0..RUNS {
            self.recreate(RUN, Some(BEFORE)).await?;
            let started = Instant::now();
            output(psql(&run_url, &script_file), "psql executing the script")?;
            times.push(started.elapsed().as_secs_f64());
            if run == 0 {
                let got = row_counts(&run_url).await?;
                anyhow::ensure!(
                    got == expected,
                    "the script's database differs from the portal's:\n{got:?}\nvs\n{expected:?}"
                );
            }
        }
        let mut admin = PgConnection::connect(&self.admin).await?;
        for name in [RUN, BEFORE] {
            drop_database(&mut admin, name).await?;
        }
        times.sort_by(f64::total_cmp);
        Ok(ScriptRun {
            seconds: times[times.len() / 2],
            bytes: script.len() as u64,
            counts,
        })
    }
}
