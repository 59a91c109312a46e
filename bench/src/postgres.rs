//! P2 and P3 on PostgreSQL beside SQLite (issue 22). The seeded SQLite portal's database is copied
//! with `copy-to` into a new database on the throwaway cluster of scripts/postgres.sh (`PG_URL`:
//! fsync off, as the tests run it), a second portal opens that database with the same CA, and the
//! same measurements run on it, their figures named "on PostgreSQL".

use anyhow::Context;
use backend::config::Config;
use backend::Portal;
use sqlx::{Connection, PgConnection};

use crate::report::{Figure, Report};

/// The database the copy goes to (dropped first if an earlier run left it).
const DATABASE: &str = "bench_portal";

/// `base` (a URL naming any database of the cluster) with the database `name`.
pub fn url_of(base: &str, name: &str) -> String {
    format!("{}/{name}", base.rsplit_once('/').map_or(base, |(b, _)| b))
}

/// A new, empty database `name` on the throwaway cluster of scripts/postgres.sh (`PG_URL`), dropped
/// first if an earlier run left it: a connection to the cluster and the new database's URL.
/// Without `PG_URL` (PostgreSQL not installed): `None`, and a figure of `section` saying `what` was
/// not measured.
pub async fn new_database(
    name: &str,
    section: &'static str,
    what: &str,
    report: &mut Report,
) -> anyhow::Result<Option<(PgConnection, String)>> {
    let Ok(base) = std::env::var("PG_URL") else {
        report.push(Figure::info(
            section,
            what,
            "not measured: no PG_URL (PostgreSQL not installed)",
        ));
        return Ok(None);
    };
    let mut admin = PgConnection::connect(&base).await.context("PG_URL")?;
    recreate_database(&mut admin, name, None).await?;
    Ok(Some((admin, url_of(&base, name))))
}

/// Drops the database `name` if it is there (ending its connections) and makes it anew: empty, or a
/// copy of `template`.
pub async fn recreate_database(
    admin: &mut PgConnection,
    name: &str,
    template: Option<&str>,
) -> anyhow::Result<()> {
    drop_database(admin, name).await?;
    let create = match template {
        Some(template) => format!("CREATE DATABASE {name} TEMPLATE {template}"),
        None => format!("CREATE DATABASE {name}"),
    };
    sqlx::query(sqlx::AssertSqlSafe(create))
        .execute(admin)
        .await?;
    Ok(())
}

/// Drops the database `name` if it is there, ending its connections.
pub async fn drop_database(admin: &mut PgConnection, name: &str) -> anyhow::Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(admin)
    .await?;
    Ok(())
}

/// With `PG_URL`: copies `portal`'s database into a new database there and returns its URL;
/// `None` (and a figure saying so) without.
pub async fn copy_of(portal: &Portal, report: &mut Report) -> anyhow::Result<Option<String>> {
    let Some((_, url)) = new_database(DATABASE, "P2", "P2 and P3 on PostgreSQL", report).await?
    else {
        return Ok(None);
    };
    let copied = backend::copy_to_postgres::copy_to_postgres(&portal.pool, &url).await?;
    let rows: u64 = copied.tables.iter().map(|(_, n)| n).sum();
    report.push(Figure::info(
        "P2",
        "the seeded portal copied to PostgreSQL for P2/P3 there (copy-to)",
        format!("{rows} rows in {:.1} s", copied.millis as f64 / 1000.0),
    ));
    Ok(Some(url))
}

/// A portal on the PostgreSQL database `url` with `portal`'s configuration (and so its data folder
/// and CA) at `base_url`.
pub async fn open(portal: &Portal, url: &str, base_url: String) -> anyhow::Result<Portal> {
    let config = Config {
        base_url,
        database: Some(url.into()),
        ..(*portal.config).clone()
    };
    Portal::open(config)
        .await
        .context("opening the portal on PostgreSQL")
}
