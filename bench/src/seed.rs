//! A realistic 100 000-row domain, written fast: one transaction of multi-row `INSERT`s that write
//! what the rows service writes when a NAP creates a row (`rows::apply_create`, crate-private;
//! one statement per row through `backend::storage` takes ~10x longer, mostly in the hand-over
//! to sqlx's connection thread): the row, its addresses, its search text (the trigram index and
//! the kept counts follow by trigger) and its `row_created` audit record, with the same columns
//! and values as the storage functions named below. The service's checks are skipped; the data
//! is valid by construction (unique lower-case ASCII addresses in the domain, names the domain's
//! parsers accept, applicants only on functional rows).
//!
//! Mix: about 20 % of the rows have one or two aliases, 10 % are functional mailboxes with an
//! applicant, 10 % are inactive; names follow a skewed distribution (common names are common),
//! with umlauts, hyphens and a few non-German names; change times are spread over three years.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::{Duration, Instant};

use std::path::Path;

use backend::storage::audit::AuditKind;
use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, QueryBuilder, Sqlite, SqliteConnection};

#[rustfmt::skip]
const FIRST_NAMES: &[&str] = &[
    "Anna", "Thomas", "Julia", "Michael", "Laura", "Andreas", "Sarah", "Stefan", "Katharina",
    "Christian", "Lisa", "Markus", "Sabine", "Jürgen", "Petra", "Frank", "Claudia", "Martin",
    "Nicole", "Matthias", "Susanne", "Alexander", "Monika", "Daniel", "Birgit", "Tobias", "Karin",
    "Sebastian", "Andrea", "Florian", "Ursula", "Jan", "Heike", "Lukas", "Renate", "Jonas",
    "Stefanie", "Felix", "Christina", "Maximilian", "Sophie", "Paul", "Marie", "Leon", "Hannah",
    "Björn", "Jörg", "Sören", "Dörte", "Günter", "Uwe", "Ines", "Kai", "Maren", "Hans-Peter",
    "Anne-Marie", "Karl-Heinz", "Zoë", "José", "Ayşe", "Mehmet", "Olga", "Piotr", "Chiara", "Luca",
    "Elif", "Dmitri", "Agnieszka", "Fatima", "Noah", "Emma", "Mia", "Ben", "Finn", "Lea", "Ole",
    "Greta", "Henrik", "Ingrid", "Wolfgang", "Gisela", "Dieter",
];

#[rustfmt::skip]
pub(crate) const LAST_NAMES: &[&str] = &[
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
    "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner",
    "Schmitz", "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier", "Köhler", "Herrmann",
    "König", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller",
    "Weiß", "Jung", "Hahn", "Schubert", "Vogel", "Friedrich", "Keller", "Günther", "Frank",
    "Berger", "Winkler", "Roth", "Beck", "Lorenz", "Baumann", "Franke", "Albrecht", "Schuster",
    "Simon", "Ludwig", "Böhm", "Winter", "Kraus", "Martin", "Schumacher", "Krämer", "Vogt", "Stein",
    "Jäger", "Otto", "Sommer", "Groß", "Seidel", "Heinrich", "Brandt", "Haas", "Schreiber", "Graf",
    "Schulte", "Dietrich", "Ziegler", "Kuhn", "Kühn", "Pohl", "Engel", "Horn", "Busch", "Bergmann",
    "Thomas", "Voigt", "Sauer", "Arnold", "Wolff", "Pfeiffer", "Schmidtke", "Schmidt-Hansen",
    "Müller-Lüdenscheidt", "von Bergen", "van der Linden", "O'Brien", "Nguyen", "Yılmaz",
    "Kowalski", "Rossi", "García", "Öztürk", "Papadopoulos", "Ivanova", "Nowak", "Dubois", "Jensen",
    "Andersson", "Kim", "Novák",
];

const UNITS: &[(&str, &str)] = &[
    ("Institut für Physik", "physik"),
    ("Institut für Chemie", "chemie"),
    ("Institut für Informatik", "informatik"),
    ("Fakultät für Mathematik", "mathematik"),
    ("Rechenzentrum", "rz"),
    ("Personalabteilung", "personal"),
    ("Universitätsbibliothek", "ub"),
    ("Dekanat Medizin", "dekanat-medizin"),
    ("Studierendensekretariat", "studsek"),
    ("Presse und Kommunikation", "presse"),
];

const FUNCTIONS: &[(&str, &str)] = &[
    ("Sekretariat", "sekretariat"),
    ("Poststelle", "post"),
    ("Helpdesk", "helpdesk"),
    ("Office", "office"),
    ("Prüfungsamt", "pruefungsamt"),
    ("Verwaltung", "verwaltung"),
    ("Leitung", "leitung"),
];

const COMMENTS: &[&str] = &[
    "Raum 2.014",
    "Vertretung bis Ende des Semesters",
    "Gastwissenschaftler, Vertrag bis 30.09.",
    "Zertifikat für Signatur von Rechnungen",
    "Hiwi",
    "Ansprechperson im Dekanat",
];

/// A small deterministic generator (xorshift64*): the same data on every run and machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `true` with probability `percent` / 100.
    fn percent(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// Skewed towards the start of a list: common names first.
    fn pick<'a, T>(&mut self, list: &'a [T]) -> &'a T {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        &list[(u.powf(1.5) * list.len() as f64) as usize % list.len()]
    }
}

/// A name as the local part of an address: lower-case ASCII, umlauts written out.
fn local_part(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        match c {
            'a'..='z' | '0'..='9' | '-' => out.push(c),
            'ä' => out.push_str("ae"),
            'ö' => out.push_str("oe"),
            'ü' => out.push_str("ue"),
            'ß' => out.push_str("ss"),
            'é' | 'ë' => out.push('e'),
            'á' => out.push('a'),
            'ı' | 'í' => out.push('i'),
            'ş' => out.push('s'),
            'ç' => out.push('c'),
            ' ' => out.push('-'),
            _ => {}
        }
    }
    out
}

/// Addresses handed out so far: every address is unique portal-wide.
struct Addresses {
    taken: HashSet<String>,
    /// The last number given to a local part (1: the bare one).
    numbered: HashMap<String, u32>,
    domain: String,
}

impl Addresses {
    /// `local@domain`, or `local2@domain`, `local3@domain`, … when taken.
    fn claim(&mut self, local: &str) -> String {
        let n = self.numbered.entry(local.to_owned()).or_insert(0);
        loop {
            *n += 1;
            let candidate = if *n == 1 {
                format!("{local}@{}", self.domain)
            } else {
                format!("{local}{n}@{}", self.domain)
            };
            if self.taken.insert(candidate.clone()) {
                return candidate;
            }
        }
    }
}

/// One generated row.
struct SeedRow {
    primary: String,
    first_name: String,
    last_name: String,
    aliases: Vec<String>,
    functional: bool,
    applicant: Option<String>,
    comment: &'static str,
    active: bool,
    changed_at: i64,
}

impl SeedRow {
    fn mailbox_type(&self) -> &'static str {
        if self.functional {
            "functional"
        } else {
            "personal"
        }
    }

    /// As `rows::search_text`: names and every address, lower-case, space-separated.
    fn search_text(&self) -> String {
        let mut parts = vec![
            self.first_name.as_str(),
            self.last_name.as_str(),
            &self.primary,
        ];
        parts.extend(self.aliases.iter().map(String::as_str));
        parts.join(" ").to_lowercase()
    }

    /// As `rows::row_json`: what the `row_created` audit record holds.
    fn json(&self) -> serde_json::Value {
        json!({
            "primary": self.primary,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "aliases": self.aliases,
            "mailbox_type": self.mailbox_type(),
            "applicant": self.applicant,
            "comment": self.comment,
            "active": self.active,
        })
    }
}

/// The rows of the domain, deterministic.
fn generate(domain: &str, count: usize, now: i64) -> Vec<SeedRow> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut addresses = Addresses {
        taken: HashSet::with_capacity(count * 2),
        numbered: HashMap::new(),
        domain: domain.to_owned(),
    };
    let mut personal_primaries: Vec<usize> = Vec::new();
    let mut rows: Vec<SeedRow> = Vec::with_capacity(count);
    for i in 0..count {
        // Every tenth row is functional; its applicant is a person of the table.
        let functional = i % 10 == 9;
        let (first_name, last_name, local, alias_locals) = if functional {
            let (unit, unit_local) = *rng.pick(UNITS);
            let (function, function_local) = *rng.pick(FUNCTIONS);
            (
                String::new(),
                format!("{function} {unit}"),
                format!("{function_local}.{unit_local}"),
                vec![
                    format!("{function_local}-{unit_local}"),
                    format!("{unit_local}.{function_local}"),
                ],
            )
        } else {
            let first = *rng.pick(FIRST_NAMES);
            let last = *rng.pick(LAST_NAMES);
            let (f, l) = (local_part(first), local_part(last));
            let initial = &f[..1];
            (
                first.to_owned(),
                last.to_owned(),
                format!("{f}.{l}"),
                vec![
                    format!("{initial}.{l}"),
                    format!("{l}.{f}"),
                    format!("{f}{l}"),
                ],
            )
        };
        let primary = addresses.claim(&local);
        let alias_count = if rng.percent(20) { 1 + rng.below(2) } else { 0 };
        let aliases = alias_locals
            .iter()
            .take(alias_count)
            .map(|l| addresses.claim(l))
            .collect();
        let applicant = functional.then(|| {
            let person = personal_primaries[rng.below(personal_primaries.len())];
            rows[person].primary.clone()
        });
        if !functional {
            personal_primaries.push(i);
        }
        rows.push(SeedRow {
            primary,
            first_name,
            last_name,
            aliases,
            functional,
            applicant,
            comment: if rng.percent(15) {
                COMMENTS[rng.below(COMMENTS.len())]
            } else {
                ""
            },
            active: !rng.percent(10),
            changed_at: now - rng.below(3 * 365 * 86_400) as i64,
        });
    }
    rows
}

/// What seeding did.
pub struct Seeded {
    pub rows: usize,
    pub addresses: usize,
    pub with_aliases: usize,
    pub functional: usize,
    pub inactive: usize,
    pub elapsed: Duration,
}

impl fmt::Display for Seeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seeded {} rows ({} addresses; {} with aliases, {} functional, {} inactive) in {:.2} s",
            self.rows,
            self.addresses,
            self.with_aliases,
            self.functional,
            self.inactive,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Rows per multi-row `INSERT`: well below SQLite's limit of bound parameters (32 766).
const CHUNK: usize = 500;

/// Seeds `count` rows into the domain `domain_id` (named [`crate::DOMAIN`]) of the database file
/// `db`, in one transaction on a connection of its own (with a large page cache; closed after,
/// so the portal's pool keeps its own settings).
pub async fn seed(domain_id: i64, count: usize, db: &Path) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    let now = backend::clock::now();
    let rows = generate(crate::DOMAIN, count, now);
    let mut seeded = Seeded {
        rows: rows.len(),
        addresses: rows.iter().map(|r| 1 + r.aliases.len()).sum(),
        with_aliases: rows.iter().filter(|r| !r.aliases.is_empty()).count(),
        functional: rows.iter().filter(|r| r.functional).count(),
        inactive: rows.iter().filter(|r| !r.active).count(),
        elapsed: Duration::ZERO,
    };
    // As `db::open`, plus a page cache that holds the indexes being built.
    let options = SqliteConnectOptions::new()
        .filename(db)
        .foreign_keys(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .pragma("cache_size", "-262144");
    let mut conn = SqliteConnection::connect_with(&options).await?;
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let first_id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM mailbox_rows")
        .fetch_one(&mut *tx)
        .await?;
    for (chunk_index, chunk) in rows.chunks(CHUNK).enumerate() {
        let base = first_id + (chunk_index * CHUNK) as i64;
        let ids = (base..).zip(chunk);
        // The columns and values of storage::rows::insert_row (version 1, never challenged).
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO mailbox_rows (id, domain_id, primary_address, first_name, last_name,
                 mailbox_type, applicant_address, comment, active, version, challenged, created_at,
                 updated_at) ",
        );
        q.push_values(ids.clone(), |mut b, (id, row)| {
            b.push_bind(id)
                .push_bind(domain_id)
                .push_bind(&row.primary)
                .push_bind(&row.first_name)
                .push_bind(&row.last_name)
                .push_bind(row.mailbox_type())
                .push_bind(row.applicant.as_deref())
                .push_bind(row.comment)
                .push_bind(row.active)
                .push_bind(1i64)
                .push_bind(false)
                .push_bind(row.changed_at)
                .push_bind(row.changed_at);
        });
        q.build().execute(&mut *tx).await?;

        // storage::rows::insert_address: the primary at 0, the aliases from 1 in order.
        let addresses = ids.clone().flat_map(|(id, row)| {
            std::iter::once((id, row.primary.as_str(), "primary", 0i64)).chain(
                row.aliases
                    .iter()
                    .enumerate()
                    .map(move |(i, a)| (id, a.as_str(), "alias", i as i64 + 1)),
            )
        });
        let mut q =
            QueryBuilder::<Sqlite>::new("INSERT INTO addresses (address, row_id, kind, position) ");
        q.push_values(addresses, |mut b, (id, address, kind, position)| {
            b.push_bind(address)
                .push_bind(id)
                .push_bind(kind)
                .push_bind(position);
        });
        q.build().execute(&mut *tx).await?;

        // storage::rows::put_row_search_text, with rows::search_text's text; the trigram index
        // follows by trigger.
        let mut q =
            QueryBuilder::<Sqlite>::new("INSERT INTO row_search_text (row_id, domain_id, text) ");
        q.push_values(ids.clone(), |mut b, (id, row)| {
            b.push_bind(id)
                .push_bind(domain_id)
                .push_bind(row.search_text());
        });
        q.build().execute(&mut *tx).await?;

        // storage::audit::insert_audit_record of a `row_created` record with rows::row_json.
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO audit_records (at, actor, domain_id, row_id, kind, subject, before, after) ",
        );
        q.push_values(ids, |mut b, (id, row)| {
            b.push_bind(row.changed_at)
                .push_bind("bench")
                .push_bind(domain_id)
                .push_bind(id)
                .push_bind(AuditKind::RowCreated.as_str())
                .push_bind(&row.primary)
                .push_bind(None::<String>)
                .push_bind(row.json().to_string());
        });
        q.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    conn.close().await?;
    seeded.elapsed = started.elapsed();
    Ok(seeded)
}
