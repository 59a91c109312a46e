//! P1 on PostgreSQL (issue 22), on the throwaway cluster of scripts/postgres.sh (`PG_URL`; fsync
//! off, as the tests run it):
//! - [`run`]: the same upload as on SQLite, to a second `ra-portal serve` process whose
//!   `database` is a new PostgreSQL database, with `psql` executing the portal's writes as the
//!   yardstick (`p1_psql`); its figures are named "on PostgreSQL";
//! - [`copy_floor`]: how long PostgreSQL takes the SQLite portal's whole database after the upload
//!   through its fastest bulk path (`COPY`, `ra-portal copy-to`: one transaction, the tables'
//!   triggers off). A floor for what a PostgreSQL apply of a file that size can cost: it writes at
//!   least those pages and index entries.

use std::time::Instant;

use crate::portal_process::{PortalProcess, ReleaseBuild};
use crate::postgres::{drop_database, new_database};
use crate::report::{Figure, Report};

/// The database the PostgreSQL portal process runs on (dropped first if an earlier run left it).
const DATABASE: &str = "p1_portal";
/// The database the COPY floor copies into.
const COPY: &str = "p1_copy";

/// With `PG_URL`: P1's upload and yardstick with the portal on a new PostgreSQL database.
pub async fn run(build: &ReleaseBuild, report: &mut Report) -> anyhow::Result<()> {
    let Some((mut admin, url)) = new_database(DATABASE, "P1", "P1 on PostgreSQL", report).await?
    else {
        return Ok(());
    };
    let portal = PortalProcess::start(build, Some(&url)).await?;
    report.set_engine(Some("PostgreSQL"));
    let measured = crate::p1::run(&portal, report).await;
    report.set_engine(None);
    drop(portal);
    drop_database(&mut admin, DATABASE).await?;
    measured.map(|_| ())
}

/// With `PG_URL` (scripts/bench.sh runs the benchmark under scripts/postgres.sh when PostgreSQL is
/// installed): copies the portal's database into a new database there and reports the time.
pub async fn copy_floor(portal: &PortalProcess, report: &mut Report) -> anyhow::Result<()> {
    let what = "PostgreSQL taking the portal's database by COPY";
    let Some((mut admin, target)) = new_database(COPY, "P1", what, report).await? else {
        return Ok(());
    };
    // A second pool on the running portal's file, as another instance would open it.
    let source = backend::db::open(&portal.database_file()).await?;
    let started = Instant::now();
    let copied = backend::copy_to_postgres::copy_to_postgres(&source, &target).await?;
    let seconds = started.elapsed().as_secs_f64();
    let rows: u64 = copied.tables.iter().map(|(_, n)| n).sum();
    let biggest: Vec<String> = {
        let mut tables = copied.tables.clone();
        tables.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        tables
            .iter()
            .take(4)
            .map(|(t, n)| format!("{t} {n}"))
            .collect()
    };
    report.push(Figure::info(
        "P1",
        format!(
            "PostgreSQL (throwaway cluster, fsync off) taking the portal's whole database after the upload by COPY \
             (ra-portal copy-to: {rows} rows of {} tables, largest {}; one transaction, triggers off, counts checked)",
            copied.tables.len(),
            biggest.join(", ")
        ),
        format!("{seconds:.2} s"),
    ));
    source.close().await;
    drop_database(&mut admin, COPY).await?;
    Ok(())
}
