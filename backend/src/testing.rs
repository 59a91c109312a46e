//! Helpers for tests: a real SQLite file per test, migrated, removed with the guard — or, when
//! `RA_TEST_POSTGRES` names a PostgreSQL server (the test script starts a throwaway one), a new
//! database per test on it, made from a template migrated once: the same suites on either engine.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::{Connection, PgConnection};
use tempfile::TempDir;

use crate::storage::Db;

/// The variable naming the PostgreSQL server to run the tests on (a URL whose user may create
/// databases); unset or empty: SQLite files.
pub const POSTGRES_VARIABLE: &str = "RA_TEST_POSTGRES";

/// The template every test database is made from.
const TEMPLATE: &str = "ra_portal_test_template";

/// The PostgreSQL server the tests run on, if any.
pub fn postgres_server() -> Option<String> {
    std::env::var(POSTGRES_VARIABLE)
        .ok()
        .filter(|url| !url.is_empty())
}

/// Whether the tests run on PostgreSQL (for the few tests of SQLite's own machinery).
pub fn on_postgres() -> bool {
    postgres_server().is_some()
}

/// The database of a test's portal: on PostgreSQL a new database, dropped with this value; else
/// the SQLite file in the portal's data folder. Keep it alive for the test's length.
pub struct TestDatabase(Option<PostgresTestDatabase>);

impl TestDatabase {
    /// The portal's `database` setting: the URL on PostgreSQL, `None` for the SQLite default.
    pub fn setting(&self) -> Option<crate::config::DatabaseSetting> {
        self.0.as_ref().map(|d| d.url.as_str().into())
    }
}

/// The database for a test's portal (see [`TestDatabase`]).
pub async fn test_database() -> TestDatabase {
    match postgres_server() {
        Some(server) => TestDatabase(Some(fresh_postgres_database(&server).await)),
        None => TestDatabase(None),
    }
}

/// A test's database on the PostgreSQL server, dropped when the value is: each is a few MB, and
/// a run of the suites makes some three hundred.
pub struct PostgresTestDatabase {
    /// Its URL.
    pub url: String,
    server: String,
    name: String,
}

impl Drop for PostgresTestDatabase {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // A thread with a runtime of its own: `drop` cannot await, and the test's runtime may be
        // ending. FORCE ends the connections the test's pool still holds.
        let dropped = std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&server)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await
                .map_err(|e| e.to_string())?;
                admin.close().await.map_err(|e| e.to_string())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("test database not dropped (the cluster is thrown away anyway): {e}");
        }
    }
}

/// Makes a new database on `server` from the migrated template (made and migrated by the first
/// test that needs it, under an advisory lock so that parallel tests and test binaries wait for
/// it).
pub async fn fresh_postgres_database(server: &str) -> PostgresTestDatabase {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut admin = PgConnection::connect(server)
        .await
        .expect("connect to the test PostgreSQL server");
    sqlx::query("SELECT pg_advisory_lock(7405)")
        .execute(&mut admin)
        .await
        .expect("template lock");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(TEMPLATE)
            .fetch_one(&mut admin)
            .await
            .expect("look for the template");
    if !exists {
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {TEMPLATE}")))
            .execute(&mut admin)
            .await
            .expect("create the template");
        let mut template = PgConnection::connect(&database_url(server, TEMPLATE))
            .await
            .expect("connect to the template");
        crate::db::POSTGRES_MIGRATOR
            .run(&mut template)
            .await
            .expect("migrate the template");
        template.close().await.expect("close the template");
    }
    sqlx::query("SELECT pg_advisory_unlock(7405)")
        .execute(&mut admin)
        .await
        .expect("template unlock");
    let name = format!(
        "t_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        crate::clock::now()
    );
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {name} TEMPLATE {TEMPLATE}"
    )))
    .execute(&mut admin)
    .await
    .expect("create the test database");
    admin.close().await.ok();
    PostgresTestDatabase {
        url: database_url(server, &name),
        server: server.to_owned(),
        name,
    }
}

/// `server`'s URL with another database name.
fn database_url(server: &str, database: &str) -> String {
    let (base, query) = server.split_once('?').unwrap_or((server, ""));
    let base = match base.rsplit_once('/') {
        Some((head, _)) if head.contains("://") && head.len() > "postgres://".len() => head,
        _ => base,
    };
    if query.is_empty() {
        format!("{base}/{database}")
    } else {
        format!("{base}/{database}?{query}")
    }
}

/// A fresh, migrated database in its own temporary folder. Keep the value alive for the test's length.
pub struct TestDb {
    /// The pool over the test's database file.
    pub pool: Db,
    /// Keeps the folder (and the file) until the test ends.
    pub dir: TempDir,
    /// The table searches' kept matches over this database, as a portal keeps them.
    pub search_matches: crate::search_matches::SearchMatches,
    /// Drops the PostgreSQL database at the end (after the pool, declared above).
    test_database: TestDatabase,
}

impl TestDb {
    /// The `database` setting of a portal on this database: `None` for the SQLite file in `dir`
    /// (the default), the URL on PostgreSQL.
    pub fn database(&self) -> Option<crate::config::DatabaseSetting> {
        self.test_database.setting()
    }
}

/// Makes a new database file for one test.
pub async fn fresh_db() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let test_database = test_database().await;
    let pool = match &test_database.0 {
        Some(postgres) => crate::db::open_postgres(&postgres.url).await,
        None => crate::db::open(&dir.path().join("portal.sqlite3")).await,
    }
    .expect("open test database");
    TestDb {
        pool,
        dir,
        search_matches: Default::default(),
        test_database,
    }
}

/// Fills the table of `domain` with `rows` generated rows, for timing the table (SPEC P2). The rows
/// go through the same code as the edit form, in one transaction, as `viewer` (a NAP of `domain`).
///
/// One row in three has an alias, one in ten is functional, one in ten inactive (independently);
/// one row in five has a confirmed, linked primary address and one in ten a pending challenge.
pub async fn fill_domain(
    pool: &Db,
    viewer: &crate::roles::Viewer,
    domain: &str,
    rows: usize,
) -> anyhow::Result<()> {
    use domain::address::EmailAddress;
    use domain::mailbox::MailboxType;
    use domain::row::RowFields;
    use domain::text::{Comment, PersonName};

    const FIRST: [&str; 24] = [
        "Anna", "Bert", "Clara", "David", "Emma", "Felix", "Greta", "Hannah", "Ingo", "Jana",
        "Karl", "Lena", "Max", "Nina", "Otto", "Paula", "Quirin", "Rosa", "Sven", "Tina", "Uwe",
        "Vera", "Wim", "Zoe",
    ];
    const LAST: [&str; 30] = [
        "Schmidt",
        "Meyer",
        "Weber",
        "Wagner",
        "Becker",
        "Schulz",
        "Hoffmann",
        "Koch",
        "Richter",
        "Klein",
        "Wolf",
        "Neumann",
        "Schwarz",
        "Zimmermann",
        "Braun",
        "Krueger",
        "Hofmann",
        "Hartmann",
        "Lange",
        "Schmitt",
        "Werner",
        "Krause",
        "Meier",
        "Lehmann",
        "Schmid",
        "Schulze",
        "Maier",
        "Koehler",
        "Herrmann",
        "Walter",
    ];
    let mut tx = pool.begin_write().await?;
    let ctx =
        crate::rows::RowContext::load(&mut tx, viewer, crate::rows::ContextFor::Changes).await?;
    let now = crate::clock::now();
    for i in 0..rows {
        // splitmix64: every property independent of the others and of the row's position.
        let mut h = (i as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
        h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h ^= h >> 31;
        let pick = |shift: u32, n: usize| ((h >> shift) % n as u64) as usize;
        let first = FIRST[pick(0, FIRST.len())];
        let last = LAST[pick(8, LAST.len())];
        let functional = pick(16, 10) == 0;
        let primary = if functional {
            format!("team{i}@{domain}")
        } else {
            format!(
                "{}.{}{i}@{domain}",
                first.to_lowercase(),
                last.to_lowercase()
            )
        };
        let primary = EmailAddress::parse(&primary)?;
        let aliases = if pick(24, 3) == 0 {
            vec![EmailAddress::parse(&format!("alias{i}@{domain}"))?]
        } else {
            Vec::new()
        };
        let fields = RowFields {
            first_name: PersonName::parse(if functional { "" } else { first })?,
            last_name: PersonName::parse(if functional { "Team" } else { last })?,
            aliases,
            mailbox_type: if functional {
                MailboxType::Functional
            } else {
                MailboxType::Personal
            },
            applicant: functional
                .then(|| EmailAddress::parse("applicant@elsewhere.example"))
                .transpose()?,
            comment: Comment::empty(),
            active: pick(32, 10) != 0,
        };
        crate::rows::apply_create(&mut tx, &ctx, &primary, &fields, now)
            .await
            .map_err(|e| anyhow::anyhow!("row {i}: {e}"))?;
    }
    crate::run!(tx, ex => sqlx::query(
        "INSERT INTO users (id, source, given_name, family_name, first_seen_at, last_login_at)
         VALUES ('bench-user', 'local', 'Bench', 'User', 0, 0) ON CONFLICT DO NOTHING",
    )
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    // Challenges as the challenge service stores them: confirmed + linked, or pending.
    crate::run!(tx, ex => sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO challenges (row_id, address, recipient, token_hash, state, created_at, expires_at,
             resolved_at, confirmed_by)
         SELECT id, primary_address, primary_address, {},
                CASE WHEN id % 5 = 0 THEN 'confirmed' ELSE 'pending' END,
                $1 - 3600, $1 + 86400, CASE WHEN id % 5 = 0 THEN $1 - 3000 END,
                CASE WHEN id % 5 = 0 THEN 'bench-user' END
         FROM mailbox_rows WHERE id % 5 = 0 OR id % 10 = 1",
        // 32 bytes of no meaning (no token is ever looked up by them).
        if PG { "sha256(CAST(CAST(id AS TEXT) AS bytea))" } else { "randomblob(32)" }
    )))
    .bind(now)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    crate::run!(tx, ex => sqlx::query(
        "INSERT INTO links (address, row_id, user_id, challenge_id, linked_at)
         SELECT address, row_id, confirmed_by, id, resolved_at FROM challenges WHERE state = 'confirmed'",
    )
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    crate::run!(tx, ex => sqlx::query(
        "UPDATE mailbox_rows SET challenged = TRUE WHERE id IN (SELECT row_id FROM challenges)",
    )
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    tx.commit().await?;
    Ok(())
}

/// The CSV file of SPEC P1: a header and `lines` data lines for the table of `example.org`, as a
/// spreadsheet writes them (comma, CRLF, UTF-8 names with umlauts and an apostrophe). Every tenth
/// row is functional (with an applicant in `example.net`), every tenth inactive, one in five has
/// aliases (one or two). The same file for the timing test and the benchmark.
pub fn p1_csv_file(lines: usize) -> String {
    const FIRST: [&str; 8] = [
        "Anna", "Jörg", "Zoë", "Björn", "Paul", "Maren", "Ayşe", "Kai",
    ];
    const LAST: [&str; 8] = [
        "Müller",
        "Schröder",
        "Weiß",
        "Groß",
        "Nguyen",
        "O'Brien",
        "Schmidt-Hansen",
        "Kowalski",
    ];
    let mut out = String::with_capacity(lines * 90);
    out.push_str(
        "E-Mail,First Name,Last Name,Aliases,Mailbox Type,Applicant E-Mail,Comment,Active\r\n",
    );
    for i in 0..lines {
        let active = if i % 10 == 7 { "no" } else { "yes" };
        let aliases = match i % 10 {
            0 => format!("alias{i}@example.org"),
            5 => format!("alias{i}@example.org x{i}@example.org"),
            _ => String::new(),
        };
        let line = if i % 10 == 3 {
            format!(
                "team{i}@example.org,,Team {i},{aliases},functional,head{i}@example.net,Raum {i},{active}\r\n"
            )
        } else {
            let first = FIRST[i % FIRST.len()];
            let last = LAST[(i / 8) % LAST.len()];
            format!("user{i}@example.org,{first},{last},{aliases},personal,,,{active}\r\n")
        };
        out.push_str(&line);
    }
    out
}

/// A token hash (32 bytes) no other call of this process returns, for challenges tests store
/// directly.
pub fn unique_token_hash() -> Vec<u8> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{:032}", NEXT.fetch_add(1, Ordering::Relaxed)).into_bytes()
}

/// A port to hand to a child process, below Linux's ephemeral range (32768 and up): a port the
/// kernel gave out for `bind(0)` is free only until the next outgoing connection takes it, and the
/// suites' many database connections (on PostgreSQL) made that happen.
pub fn free_port() -> u16 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let seed = u64::from(std::process::id())
        .wrapping_mul(2_654_435_761)
        .wrapping_add(NEXT.fetch_add(7_919, Ordering::Relaxed));
    for i in 0..10_000_u64 {
        let port = 20_000 + (seed.wrapping_add(i.wrapping_mul(104_729)) % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between 20000 and 32000")
}
