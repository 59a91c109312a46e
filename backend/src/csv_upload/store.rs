//! The SQL of the CSV upload: a domain's whole table read in a few queries, and new rows written
//! in batches.
//!
//! Each query returns its rows as one JSON value: sqlx's SQLite driver hands every result row from
//! its worker thread to the caller one at a time, which costs microseconds a row, more than SQLite
//! needs to read it (see `storage::rows::from_json`). For the same reason the batch updates take
//! their rows as one JSON array parameter and let SQLite walk it (`json_each`). New rows, the
//! bulk of a large upload, go in as multi-row inserts with bound parameters on the connection's
//! handle instead (`storage::direct`), which is faster still.

use crate::storage::audit::AuditKind;
use crate::storage::direct::{insert_all, with_handle};
use crate::storage::links::LinkRecord;
use crate::storage::rows::{
    from_json, row_from_tuple, AddressRecord, RowRecord, RowTuple, NEXT_ROW_ID,
};
use crate::storage::Conn;
use rusqlite::ToSql;

/// Every row of a domain, by primary address.
pub(crate) async fn list_rows_of_domain(
    conn: &mut Conn,
    domain_id: i64,
) -> sqlx::Result<Vec<RowRecord>> {
    let json: String = crate::run!(conn, ex => sqlx::query_scalar(
        sqlx::AssertSqlSafe(crate::storage::engine::dialect(PG, "SELECT json_group_array(json_array(id, domain_id, primary_address, first_name, last_name,
                    mailbox_type, applicant_address, comment, CASE WHEN active THEN 1 ELSE 0 END,
                    version, CASE WHEN challenged THEN 1 ELSE 0 END,
                    created_at, updated_at) ORDER BY primary_address)
         FROM mailbox_rows WHERE domain_id = $1")),
    )
    .bind(domain_id)
    .fetch_one(ex)
    .await)?;
    let tuples: Vec<RowTuple> = from_json(&json)?;
    Ok(tuples.into_iter().map(row_from_tuple).collect())
}

/// Every address of a domain's rows with its row: by row, primary first, then the aliases in order.
pub(crate) async fn list_addresses_of_domain(
    conn: &mut Conn,
    domain_id: i64,
) -> sqlx::Result<Vec<(i64, AddressRecord)>> {
    let json: String = crate::run!(conn, ex => sqlx::query_scalar(
        sqlx::AssertSqlSafe(crate::storage::engine::dialect(PG, "SELECT json_group_array(json_array(a.row_id, a.address, a.kind, a.position)
                    ORDER BY a.row_id, a.position, a.address)
         FROM addresses a JOIN mailbox_rows r ON r.id = a.row_id
         WHERE r.domain_id = $1")),
    )
    .bind(domain_id)
    .fetch_one(ex)
    .await)?;
    let tuples: Vec<(i64, String, String, i64)> = from_json(&json)?;
    Ok(tuples
        .into_iter()
        .map(|(row_id, address, kind, position)| {
            (
                row_id,
                AddressRecord {
                    address,
                    kind,
                    position,
                },
            )
        })
        .collect())
}

/// How many pending challenges each row of a domain has (rows with none are left out): what an
/// alias, applicant or type change would supersede, counted as `rows::preview_edit` counts.
pub(crate) async fn count_pending_challenges_of_domain(
    conn: &mut Conn,
    domain_id: i64,
) -> sqlx::Result<Vec<(i64, i64)>> {
    let json: String = crate::run!(conn, ex => sqlx::query_scalar(
        sqlx::AssertSqlSafe(crate::storage::engine::dialect(PG, "SELECT json_group_array(json_array(row_id, n)) FROM (
             SELECT c.row_id, COUNT(*) AS n
             FROM challenges c JOIN mailbox_rows r ON r.id = c.row_id
             WHERE r.domain_id = $1 AND c.state = 'pending'
             GROUP BY c.row_id) AS p")),
    )
    .bind(domain_id)
    .fetch_one(ex)
    .await)?;
    from_json(&json)
}

/// Every link of a domain's rows, with the row and the linked user's name.
pub(crate) async fn list_links_of_domain(
    conn: &mut Conn,
    domain_id: i64,
) -> sqlx::Result<Vec<(i64, LinkRecord)>> {
    let json: String = crate::run!(conn, ex => sqlx::query_scalar(
        sqlx::AssertSqlSafe(crate::storage::engine::dialect(PG, "SELECT json_group_array(json_array(l.row_id, l.address, l.user_id, l.challenge_id,
                    l.linked_at, u.given_name, u.family_name) ORDER BY l.row_id, l.address)
         FROM links l
         JOIN mailbox_rows r ON r.id = l.row_id
         JOIN users u ON u.id = l.user_id
         WHERE r.domain_id = $1")),
    )
    .bind(domain_id)
    .fetch_one(ex)
    .await)?;
    let tuples: Vec<(i64, String, String, i64, i64, String, String)> = from_json(&json)?;
    Ok(tuples
        .into_iter()
        .map(|t| {
            (
                t.0,
                LinkRecord {
                    address: t.1,
                    user_id: t.2,
                    challenge_id: t.3,
                    linked_at: t.4,
                    given_name: t.5,
                    family_name: t.6,
                },
            )
        })
        .collect())
}

/// A new row, ready to write: what `rows::apply_create` writes for one row.
pub(crate) struct NewRow<'a> {
    /// Primary address (normalised).
    pub(crate) primary: &'a str,
    /// First name.
    pub(crate) first_name: &'a str,
    /// Last name.
    pub(crate) last_name: &'a str,
    /// `personal` or `functional`.
    pub(crate) mailbox_type: &'a str,
    /// Applicant of a functional row.
    pub(crate) applicant: Option<&'a str>,
    /// The NAP's note.
    pub(crate) comment: &'a str,
    /// R7.
    pub(crate) active: bool,
    /// The aliases, in order.
    pub(crate) aliases: Vec<&'a str>,
    /// `rows::search_text` of the row.
    pub(crate) search_text: String,
    /// The `row_created` record's `after`, as `rows::row_json` makes it.
    pub(crate) audit_after: String,
}

/// Most plain edits per batch statement (see [`update_rows`]).
pub(crate) const MAX_EDITS_PER_BATCH: usize = 5_000;

/// New rows made ahead of the writer at a time (see [`insert_new_rows`]).
const NEW_ROWS_PER_BATCH: usize = 2_000;

/// Writes new rows of a domain as `rows::apply_create` does, row for row: the row (version 1,
/// never challenged), its addresses (primary at position 0, aliases 1..), its search text (the
/// trigram index follows by trigger) and a `row_created` audit record by `actor`. The checks are
/// the caller's: a unique violation here fails the batch (and so the transaction).
///
/// `make` turns each of `items` into its row (its search text and audit record are made there):
/// on a thread of its own, a batch ahead of the writer, so that making the rows and writing them
/// take one core each instead of turns on one. The writes are multi-row inserts with bound
/// parameters on the connection's handle (`storage::direct`). The rows get their ids here, as
/// `storage::rows::insert_row` gives them ([`NEXT_ROW_ID`] and on), so the addresses, texts and
/// records name their row without looking it up.
pub(crate) async fn insert_new_rows<'a, T: Sync>(
    conn: &mut Conn,
    domain_id: i64,
    actor: &str,
    items: &'a [T],
    make: impl Fn(&'a T) -> NewRow<'a> + Sync,
    now: i64,
) -> sqlx::Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    if let crate::storage::Engine::Postgres(pg) = conn.engine() {
        return insert_new_rows_postgres(pg, domain_id, actor, items, make, now).await;
    }
    with_handle(conn, |db| {
        // Inside the caller's write transaction: no other writer can take these ids meanwhile.
        let mut next_id: i64 = db.query_row(NEXT_ROW_ID, [], |r| r.get(0))?;
        std::thread::scope(|scope| {
            // One batch waits while the next is made: a few thousand rows in memory at a time.
            let (send, batches) = std::sync::mpsc::sync_channel::<Vec<NewRow<'a>>>(1);
            let make = &make;
            scope.spawn(move || {
                for chunk in items.chunks(NEW_ROWS_PER_BATCH) {
                    // The writer failed and stopped listening: nothing more to make.
                    if send.send(chunk.iter().map(make).collect()).is_err() {
                        break;
                    }
                }
            });
            for rows in batches {
                write_new_rows(db, domain_id, actor, &rows, next_id, now)?;
                next_id += rows.len() as i64;
            }
            Ok(())
        })
    })
    .await
}

/// [`insert_new_rows`] on PostgreSQL: the same records, each table's columns bound as arrays and
/// inserted by `unnest` (one statement per table and batch, however many rows: no parameter limit,
/// and one plan), inside the caller's write transaction.
async fn insert_new_rows_postgres<'a, T: Sync>(
    pg: &mut sqlx::PgConnection,
    domain_id: i64,
    actor: &str,
    items: &'a [T],
    make: impl Fn(&'a T) -> NewRow<'a> + Sync,
    now: i64,
) -> sqlx::Result<()> {
    // Inside the caller's write transaction: no other writer can take these ids meanwhile.
    let mut next_id: i64 = sqlx::query_scalar(NEXT_ROW_ID).fetch_one(&mut *pg).await?;
    for chunk in items.chunks(NEW_ROWS_PER_BATCH) {
        let rows: Vec<NewRow<'a>> = chunk.iter().map(&make).collect();
        let ids: Vec<i64> = (next_id..).take(rows.len()).collect();
        next_id += rows.len() as i64;
        let column =
            |f: for<'r> fn(&'r NewRow<'a>) -> &'r str| rows.iter().map(f).collect::<Vec<&str>>();
        sqlx::query(
            "INSERT INTO mailbox_rows (id, domain_id, primary_address, first_name, last_name,
                 mailbox_type, applicant_address, comment, active, created_at, updated_at,
                 version, challenged)
             SELECT id, $2, p, f, l, t, a, c, act, $3, $3, 1, FALSE
             FROM unnest($1::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                         $9::text[], $10::boolean[]) AS u(id, p, f, l, t, a, c, act)",
        )
        .bind(&ids)
        .bind(domain_id)
        .bind(now)
        .bind(column(|r| r.primary))
        .bind(column(|r| r.first_name))
        .bind(column(|r| r.last_name))
        .bind(column(|r| r.mailbox_type))
        .bind(
            rows.iter()
                .map(|r| r.applicant)
                .collect::<Vec<Option<&str>>>(),
        )
        .bind(column(|r| r.comment))
        .bind(rows.iter().map(|r| r.active).collect::<Vec<bool>>())
        .execute(&mut *pg)
        .await?;
        let (mut addresses, mut holders, mut positions) = (Vec::new(), Vec::new(), Vec::new());
        for (r, &id) in rows.iter().zip(&ids) {
            for (address, position) in std::iter::once(r.primary)
                .chain(r.aliases.iter().copied())
                .zip(0_i64..)
            {
                addresses.push(address);
                holders.push(id);
                positions.push(position);
            }
        }
        sqlx::query(
            "INSERT INTO addresses (address, row_id, kind, position)
             SELECT a, r, CASE WHEN p = 0 THEN 'primary' ELSE 'alias' END, p
             FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(a, r, p)",
        )
        .bind(&addresses)
        .bind(&holders)
        .bind(&positions)
        .execute(&mut *pg)
        .await?;
        sqlx::query(
            "INSERT INTO row_search_text (row_id, domain_id, text)
             SELECT r, $2, t FROM unnest($1::bigint[], $3::text[]) AS u(r, t)",
        )
        .bind(&ids)
        .bind(domain_id)
        .bind(column(|r| r.search_text.as_str()))
        .execute(&mut *pg)
        .await?;
        // WITH ORDINALITY: the records get their ids in the rows' order, as on SQLite.
        sqlx::query(
            "INSERT INTO audit_records (at, actor, domain_id, row_id, kind, subject, after)
             SELECT $2, $3, $4, r, $5, s, a
             FROM unnest($1::bigint[], $6::text[], $7::text[]) WITH ORDINALITY AS u(r, s, a, n)
             ORDER BY n",
        )
        .bind(&ids)
        .bind(now)
        .bind(actor)
        .bind(domain_id)
        .bind(AuditKind::RowCreated.as_str())
        .bind(column(|r| r.primary))
        .bind(column(|r| r.audit_after.as_str()))
        .execute(&mut *pg)
        .await?;
    }
    Ok(())
}

/// One batch of [`insert_new_rows`], the first row with id `first_id`.
fn write_new_rows(
    db: &rusqlite::Connection,
    domain_id: i64,
    actor: &str,
    rows: &[NewRow<'_>],
    first_id: i64,
    now: i64,
) -> rusqlite::Result<()> {
    let ids: Vec<i64> = (first_id..).take(rows.len()).collect();
    let created_kind = AuditKind::RowCreated.as_str();
    let addresses: Vec<(&str, i64, &str, i64)> = rows
        .iter()
        .zip(&ids)
        .flat_map(|(r, &id)| {
            std::iter::once(r.primary)
                .chain(r.aliases.iter().copied())
                .zip(0_i64..)
                .map(move |(address, position)| {
                    let kind = if position == 0 { "primary" } else { "alias" };
                    (address, id, kind, position)
                })
        })
        .collect();

    let records: Vec<[&dyn ToSql; 11]> = rows
        .iter()
        .zip(&ids)
        .map(|(r, id)| -> [&dyn ToSql; 11] {
            [
                id,
                &domain_id,
                &r.primary,
                &r.first_name,
                &r.last_name,
                &r.mailbox_type,
                &r.applicant,
                &r.comment,
                &r.active,
                &now,
                &now,
            ]
        })
        .collect();
    insert_all(
        db,
        "INSERT INTO mailbox_rows (id, domain_id, primary_address, first_name, last_name,
             mailbox_type, applicant_address, comment, active, created_at, updated_at,
             version, challenged)",
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0)",
        &records,
    )?;

    let records: Vec<[&dyn ToSql; 4]> = addresses
        .iter()
        .map(|(address, id, kind, position)| -> [&dyn ToSql; 4] { [address, id, kind, position] })
        .collect();
    insert_all(
        db,
        "INSERT INTO addresses (address, row_id, kind, position)",
        "(?, ?, ?, ?)",
        &records,
    )?;

    let records: Vec<[&dyn ToSql; 3]> = rows
        .iter()
        .zip(&ids)
        .map(|(r, id)| -> [&dyn ToSql; 3] { [id, &domain_id, &r.search_text] })
        .collect();
    insert_all(
        db,
        "INSERT INTO row_search_text (row_id, domain_id, text)",
        "(?, ?, ?)",
        &records,
    )?;

    let records: Vec<[&dyn ToSql; 7]> = rows
        .iter()
        .zip(&ids)
        .map(|(r, id)| -> [&dyn ToSql; 7] {
            [
                &now,
                &actor,
                &domain_id,
                id,
                &created_kind,
                &r.primary,
                &r.audit_after,
            ]
        })
        .collect();
    insert_all(
        db,
        "INSERT INTO audit_records (at, actor, domain_id, row_id, kind, subject, after)",
        "(?, ?, ?, ?, ?, ?, ?)",
        &records,
    )
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("strings and numbers serialise")
}

/// A stored row's new values, to save over it at `version`.
pub(crate) struct EditedRow<'a> {
    /// The row.
    pub(crate) id: i64,
    /// The version the plan read; the update is refused for a row no longer at it.
    pub(crate) version: i64,
    /// First name.
    pub(crate) first_name: &'a str,
    /// Last name.
    pub(crate) last_name: &'a str,
    /// `personal` or `functional`.
    pub(crate) mailbox_type: &'a str,
    /// Applicant of a functional row.
    pub(crate) applicant: Option<&'a str>,
    /// The NAP's note.
    pub(crate) comment: &'a str,
    /// R7.
    pub(crate) active: bool,
}

/// Overwrites the editable columns of rows and bumps their versions, as
/// `storage::rows::update_row` does one row at a time, but only for rows still at their version.
/// Returns how many rows were updated (fewer than given: someone changed one meanwhile).
pub(crate) async fn update_rows(
    conn: &mut Conn,
    rows: &[EditedRow<'_>],
    now: i64,
) -> sqlx::Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let values: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.id,
                r.version,
                r.first_name,
                r.last_name,
                r.mailbox_type,
                r.applicant,
                r.comment,
                i64::from(r.active),
            )
        })
        .collect();
    // PostgreSQL's `->>` gives text: its twin casts to the columns' types.
    let done = crate::run!(conn, ex => sqlx::query(if PG {
        "UPDATE mailbox_rows AS r SET first_name = j.value ->> 2, last_name = j.value ->> 3,
             mailbox_type = j.value ->> 4, applicant_address = j.value ->> 5,
             comment = j.value ->> 6, active = CAST(j.value ->> 7 AS BIGINT) <> 0,
             version = r.version + 1, updated_at = $1
         FROM json_array_elements(CAST($2 AS json)) AS j(value)
         WHERE r.id = CAST(j.value ->> 0 AS BIGINT) AND r.version = CAST(j.value ->> 1 AS BIGINT)"
    } else {
        "UPDATE mailbox_rows AS r SET first_name = j.value ->> 2, last_name = j.value ->> 3,
             mailbox_type = j.value ->> 4, applicant_address = j.value ->> 5,
             comment = j.value ->> 6, active = j.value ->> 7, version = r.version + 1,
             updated_at = $1
         FROM json_each($2) AS j
         WHERE r.id = j.value ->> 0 AND r.version = j.value ->> 1"
    })
    .bind(now)
    .bind(to_json(&values))
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(done.rows_affected())
}

/// An audit record of a row, to append.
pub(crate) struct RowAuditRecord<'a> {
    /// The row's domain.
    pub(crate) domain_id: i64,
    /// The row.
    pub(crate) row_id: i64,
    /// What happened.
    pub(crate) kind: AuditKind,
    /// The row's primary address.
    pub(crate) subject: &'a str,
    /// State before, as JSON text.
    pub(crate) before: Option<String>,
    /// State after, as JSON text.
    pub(crate) after: Option<String>,
}

/// Appends audit records by `actor`, in the order given (as `insert_audit_record` would, one by
/// one).
pub(crate) async fn insert_row_audit_records(
    conn: &mut Conn,
    actor: &str,
    records: &[RowAuditRecord<'_>],
    now: i64,
) -> sqlx::Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let values: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r.domain_id,
                r.row_id,
                r.kind.as_str(),
                r.subject,
                r.before.as_deref(),
                r.after.as_deref(),
            )
        })
        .collect();
    crate::run!(conn, ex => sqlx::query(if PG {
        "INSERT INTO audit_records (at, actor, domain_id, row_id, kind, subject, before, after)
         SELECT $1, $2, CAST(value ->> 0 AS BIGINT), CAST(value ->> 1 AS BIGINT), value ->> 2,
                value ->> 3, value ->> 4, value ->> 5
         FROM json_array_elements(CAST($3 AS json)) WITH ORDINALITY AS j(value, key) ORDER BY key"
    } else {
        "INSERT INTO audit_records (at, actor, domain_id, row_id, kind, subject, before, after)
         SELECT $1, $2, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5
         FROM json_each($3) ORDER BY key"
    })
    .bind(now)
    .bind(actor)
    .bind(to_json(&values))
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}

/// Sets the search text of rows (row id, domain id, text), replacing their earlier ones, as
/// `storage::rows::put_row_search_text` does one row at a time.
pub(crate) async fn put_row_search_texts(
    conn: &mut Conn,
    texts: &[(i64, i64, String)],
) -> sqlx::Result<()> {
    if texts.is_empty() {
        return Ok(());
    }
    // `WHERE true` keeps SQLite from reading the upsert's ON as a join constraint.
    crate::run!(conn, ex => sqlx::query(if PG {
        "INSERT INTO row_search_text (row_id, domain_id, text)
         SELECT CAST(value ->> 0 AS BIGINT), CAST(value ->> 1 AS BIGINT), value ->> 2
         FROM json_array_elements(CAST($1 AS json)) WITH ORDINALITY AS j(value, key) ORDER BY key
         ON CONFLICT (row_id) DO UPDATE SET domain_id = excluded.domain_id, text = excluded.text"
    } else {
        "INSERT INTO row_search_text (row_id, domain_id, text)
         SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each($1) WHERE true ORDER BY key
         ON CONFLICT (row_id) DO UPDATE SET domain_id = excluded.domain_id, text = excluded.text"
    })
    .bind(to_json(&texts))
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}
