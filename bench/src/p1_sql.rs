//! P1's yardstick as SPEC §9 defines it: the time the database engine's own command-line client
//! needs to execute **the portal's own writes** for the file — rows, addresses, search texts,
//! audit records — as a SQL script in one transaction into a migrated database.
//!
//! The script is not written by hand beside the portal's code (it would drift from what the portal
//! really writes): it is read back from the portal itself. Before the upload the portal's database
//! is copied (`VACUUM INTO`); after the apply, every row of every table that is new or changed
//! against that copy is dumped by `sqlite3`'s `.mode insert` and written as `INSERT OR REPLACE`
//! statements of up to 500 rows each.
//! Tables that triggers keep (the per-domain row counts, the trigram index and its shadow tables)
//! are left out of the script: the same triggers fill them while the script runs, as they did for
//! the portal. The script then runs on fresh copies of the database as it was before the upload,
//! with the portal's connection settings (WAL, `synchronous = NORMAL`, foreign keys checked at the
//! commit), and the result is compared table by table with the portal's, so the yardstick provably
//! did the same writes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context;

/// Runs of the script; the median counts.
pub const RUNS: usize = 3;

/// Rows per `INSERT`: the script writes as a program would, a statement per batch of rows, so
/// SQLite compiles each statement (with its triggers and foreign-key checks) once per batch, not
/// once per row. (One statement a row took 14.1 s for P1's file, 5.5 times the portal's time:
/// compiling, not writing.)
pub const ROWS_PER_INSERT: usize = 500;

/// Tables whose rows only triggers write: the script leaves them to the same triggers.
const KEPT_BY_TRIGGERS: &[&str] = &["row_counts"];

/// The database as it was before the upload, and where the script goes.
pub struct Baseline {
    dir: tempfile::TempDir,
    before: PathBuf,
}

/// The portal's writes as a script, and what executing it took.
pub struct ScriptRun {
    /// Median seconds of [`RUNS`] runs of `sqlite3` executing the script.
    pub seconds: f64,
    /// Bytes of SQL.
    pub bytes: u64,
    /// What the script writes.
    pub counts: Counts,
}

/// What a script writes.
pub struct Counts {
    /// Rows written by the script itself (not by its triggers).
    pub rows: usize,
    /// `INSERT` statements.
    pub statements: usize,
    /// Tables the script writes to (not counting those its triggers write).
    pub tables: usize,
}

/// Runs `sqlite3` on `db` with `input` on stdin; its stdout.
fn sqlite3(db: &Path, input: &str) -> anyhow::Result<String> {
    use std::io::Write as _;
    let mut child = Command::new("sqlite3")
        .arg("-bail")
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running sqlite3 (apt-get install sqlite3)")?;
    let mut stdin = child.stdin.take().context("sqlite3's stdin")?;
    let input = input.to_owned();
    // Written from a thread: a large output would otherwise block sqlite3 while we write.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output()?;
    writer.join().expect("writing to sqlite3")?;
    anyhow::ensure!(
        out.status.success(),
        "sqlite3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

/// Quotes a name for SQL.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a file name as a SQL string.
fn string(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "''"))
}

/// The ordinary tables of `db` (no virtual, shadow or internal tables), in the order they were
/// made.
fn tables(db: &Path) -> anyhow::Result<Vec<String>> {
    let out = sqlite3(
        db,
        "SELECT t.name FROM pragma_table_list AS t JOIN sqlite_schema AS s ON s.name = t.name
         WHERE t.schema = 'main' AND t.type = 'table' AND t.name NOT LIKE 'sqlite_%'
         ORDER BY s.rowid;",
    )?;
    Ok(out.lines().map(str::to_owned).collect())
}

/// How many rows each table of `db` holds, including those triggers keep (the row counts and
/// their sum, and the trigram index's documents), one line per table.
fn row_counts(db: &Path) -> anyhow::Result<String> {
    let mut query = tables(db)?
        .iter()
        .map(|t| format!("SELECT '{t}', count(*) FROM {};", quoted(t)))
        .collect::<String>();
    query.push_str("SELECT 'row_counts.rows', sum(rows) FROM row_counts;");
    query.push_str("SELECT 'row_search_docsize', count(*) FROM row_search_docsize;");
    sqlite3(db, &query)
}

impl Baseline {
    /// Copies the portal's database `db` as it is now (the portal is idle: nothing is lost).
    pub fn take(db: &Path) -> anyhow::Result<Baseline> {
        let dir = tempfile::tempdir()?;
        let before = dir.path().join("before.sqlite3");
        sqlite3(db, &format!("VACUUM INTO {};", string(&before)))?;
        Ok(Baseline { dir, before })
    }

    /// The rows of `db` (the portal's database after the apply) that are new or changed against
    /// the copy, as a script of `INSERT OR REPLACE` statements in one transaction, with the
    /// portal's connection settings.
    fn script(&self, db: &Path) -> anyhow::Result<(String, Counts)> {
        // One sqlite3 run dumps every table's new and changed rows; a table without any adds nothing.
        let mut dump = format!("ATTACH {} AS b;\n", string(&self.before));
        for table in tables(db)? {
            if KEPT_BY_TRIGGERS.contains(&table.as_str()) {
                continue;
            }
            let t = quoted(&table);
            dump.push_str(&format!(
                ".mode insert {t}\nSELECT * FROM main.{t} EXCEPT SELECT * FROM b.{t};\n"
            ));
        }
        let inserts = sqlite3(db, &dump)?;
        let mut script = String::with_capacity(inserts.len() + inserts.len() / 8);
        // As the portal's pool opens its connections (backend/src/db.rs); foreign keys are checked
        // at the commit, so the order of the tables in the script does not matter.
        script.push_str(
            "PRAGMA journal_mode = WAL;\nPRAGMA synchronous = NORMAL;\nPRAGMA foreign_keys = ON;\n\
             BEGIN IMMEDIATE;\nPRAGMA defer_foreign_keys = ON;\n",
        );
        // `.mode insert` writes one statement a line (a newline inside a value is spelled
        // `char(10)`). The rows of one table go into INSERTs of up to ROWS_PER_INSERT rows each.
        let mut rows = 0;
        let mut statements = 0;
        let mut written = 0;
        let mut batch: Vec<&str> = Vec::new();
        let mut batch_table = "";
        let mut flush = |script: &mut String, table: &str, batch: &mut Vec<&str>| {
            if !batch.is_empty() {
                statements += 1;
                script.push_str(&format!("INSERT OR REPLACE INTO {table} VALUES"));
                script.push_str(&batch.join(","));
                script.push_str(";\n");
                batch.clear();
            }
        };
        for line in inserts.lines() {
            let (table, tuple) = line
                .strip_prefix("INSERT INTO ")
                .and_then(|rest| rest.split_once(" VALUES"))
                .and_then(|(table, values)| Some((table, values.strip_suffix(';')?)))
                .with_context(|| format!("not an INSERT of sqlite3's .mode insert: {line:.80}"))?;
            if table != batch_table || batch.len() == ROWS_PER_INSERT {
                flush(&mut script, batch_table, &mut batch);
                // The dump holds each table's rows together.
                if table != batch_table {
                    written += 1;
                }
                batch_table = table;
            }
            batch.push(tuple);
            rows += 1;
        }
        flush(&mut script, batch_table, &mut batch);
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

    /// Builds the script from the portal's database `db` after the apply and executes it [`RUNS`]
    /// times, each on a fresh copy of the database before the upload; checks that the result
    /// holds as many rows per table as the portal's.
    pub fn run_script(&self, db: &Path) -> anyhow::Result<ScriptRun> {
        let (script, counts) = self.script(db)?;
        let script_file = self.dir.path().join("writes.sql");
        std::fs::write(&script_file, &script)?;
        let expected = row_counts(db)?;
        let mut times = Vec::new();
        for run in 0..RUNS {
            let target = self.dir.path().join(format!("run{run}.sqlite3"));
            std::fs::copy(&self.before, &target)?;
            let started = Instant::now();
            let status = Command::new("sqlite3")
                .arg("-bail")
                .arg(&target)
                .stdin(std::fs::File::open(&script_file)?)
                .stdout(Stdio::null())
                .status()
                .context("running sqlite3")?;
            times.push(started.elapsed().as_secs_f64());
            anyhow::ensure!(status.success(), "sqlite3 could not execute the script");
            if run == 0 {
                let got = row_counts(&target)?;
                anyhow::ensure!(
                    got == expected,
                    "the script's database differs from the portal's:\n{got}\nvs\n{expected}"
                );
            }
            std::fs::remove_file(&target)?;
            let _ = std::fs::remove_file(target.with_extension("sqlite3-wal"));
            let _ = std::fs::remove_file(target.with_extension("sqlite3-shm"));
        }
        times.sort_by(f64::total_cmp);
        Ok(ScriptRun {
            seconds: times[times.len() / 2],
            bytes: script.len() as u64,
            counts,
        })
    }
}
