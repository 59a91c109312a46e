//! The schema's own guarantees, checked against a real SQLite file: the database refuses what the
//! rules forbid even if a bug in the services tried it.

use backend::storage::audit::{insert_audit_record, AuditKind, NewAuditRecord};
use backend::storage::domains::{insert_domain, list_domains_of_groups};
use backend::storage::is_unique_violation;
use backend::testing::fresh_db;
use domain::address::DomainName;

async fn domain_with_row(pool: &backend::storage::Db, domain: &str, primary: &str) -> (i64, i64) {
    let mut conn = pool.acquire().await.unwrap();
    let d = insert_domain(&mut conn, &DomainName::parse(domain).unwrap(), "nap-x", 1)
        .await
        .unwrap();
    let row_id: i64 = backend::run!(conn, ex => sqlx::query_scalar(
        "INSERT INTO mailbox_rows (domain_id, primary_address, mailbox_type, created_at, updated_at)
         VALUES ($1, $2, 'personal', 1, 1) RETURNING id",
    )
    .bind(d.id)
    .bind(primary)
    .fetch_one(ex)
    .await)
    .unwrap();
    backend::run!(conn, ex => sqlx::query(
        "INSERT INTO addresses (address, row_id, kind, position) VALUES ($1, $2, 'primary', 0)",
    )
    .bind(primary)
    .bind(row_id)
    .execute(ex)
    .await.map(backend::storage::engine::Done::from))
    .unwrap();
    (d.id, row_id)
}

#[tokio::test]
async fn migrations_give_wal_mode_and_foreign_keys() {
    if backend::testing::on_postgres() {
        // SQLite's schema and its error messages; scripts/schema-check.sh checks PostgreSQL's.
        return;
    }
    let db = fresh_db().await;
    let mode: String = backend::run!(db.pool, ex => sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(ex)
        .await)
    .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = backend::run!(db.pool, ex => sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(ex)
        .await)
    .unwrap();
    assert_eq!(fk, 1);
    assert!(db.dir.path().join("portal.sqlite3").exists());
}

#[tokio::test]
async fn r16_audit_records_cannot_be_updated_or_deleted() {
    let db = fresh_db().await;
    let mut conn = db.pool.acquire().await.unwrap();
    let record = NewAuditRecord {
        actor: "nora",
        kind: AuditKind::RowCreated,
        domain_id: None,
        row_id: Some(1),
        subject: Some("anna@example.org"),
        before: None,
        after: Some(serde_json::json!({"active": true})),
    };
    insert_audit_record(&mut conn, &record, 10).await.unwrap();
    let update =
        backend::run!(conn, ex => sqlx::query("UPDATE audit_records SET actor = 'mallory'")
        .execute(ex)
        .await.map(backend::storage::engine::Done::from))
        .unwrap_err();
    assert!(update.to_string().contains("append-only"), "{update}");
    let delete = backend::run!(conn, ex => sqlx::query("DELETE FROM audit_records")
        .execute(ex)
        .await.map(backend::storage::engine::Done::from))
    .unwrap_err();
    assert!(delete.to_string().contains("append-only"), "{delete}");
    let actor: String =
        backend::run!(conn, ex => sqlx::query_scalar("SELECT actor FROM audit_records")
        .fetch_one(ex)
        .await)
        .unwrap();
    assert_eq!(actor, "nora");
}

#[tokio::test]
async fn r16_every_audit_kind_is_accepted_by_the_schema() {
    let db = fresh_db().await;
    let mut conn = db.pool.acquire().await.unwrap();
    for kind in AuditKind::ALL {
        let record = NewAuditRecord {
            actor: "system",
            kind,
            domain_id: None,
            row_id: None,
            subject: None,
            before: None,
            after: None,
        };
        insert_audit_record(&mut conn, &record, 1)
            .await
            .unwrap_or_else(|e| panic!("{kind:?} refused: {e}"));
    }
    let bad = backend::run!(conn, ex => sqlx::query("INSERT INTO audit_records (at, actor, kind) VALUES (1, 'x', 'row_renamed')")
            .execute(ex)
            .await.map(backend::storage::engine::Done::from));
    assert!(bad.is_err(), "an unknown kind must violate the CHECK");
}

#[tokio::test]
async fn r02_the_database_refuses_to_edit_a_primary_address() {
    let db = fresh_db().await;
    let (_, row_id) = domain_with_row(&db.pool, "example.org", "anna@example.org").await;
    let err =
        backend::run!(db.pool, ex => sqlx::query("UPDATE mailbox_rows SET primary_address = 'eve@example.org' WHERE id = $1")
            .bind(row_id)
            .execute(ex)
            .await.map(backend::storage::engine::Done::from))
            .unwrap_err();
    assert!(err.to_string().contains("R2"), "{err}");
    // Other fields stay editable.
    backend::run!(db.pool, ex => sqlx::query(
        "UPDATE mailbox_rows SET last_name = 'Schmidt', version = version + 1 WHERE id = $1",
    )
    .bind(row_id)
    .execute(ex)
    .await.map(backend::storage::engine::Done::from))
    .unwrap();
}

#[tokio::test]
async fn r03_a_row_with_a_challenge_cannot_be_deleted() {
    if backend::testing::on_postgres() {
        // SQLite's schema and its error messages; scripts/schema-check.sh checks PostgreSQL's.
        return;
    }
    let db = fresh_db().await;
    let (_, row_id) = domain_with_row(&db.pool, "example.org", "anna@example.org").await;
    backend::run!(db.pool, ex => sqlx::query(
        "INSERT INTO challenges (row_id, address, recipient, token_hash, state, created_at, expires_at)
         VALUES ($1, 'anna@example.org', 'anna@example.org', x'01', 'pending', 1, 2)",
    )
    .bind(row_id)
    .execute(ex)
    .await.map(backend::storage::engine::Done::from))
    .unwrap();
    let err = backend::run!(db.pool, ex => sqlx::query("DELETE FROM mailbox_rows WHERE id = $1")
        .bind(row_id)
        .execute(ex)
        .await.map(backend::storage::engine::Done::from))
    .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("foreign key"),
        "{err}"
    );
}

#[tokio::test]
async fn r09_at_most_one_pending_challenge_per_address() {
    let db = fresh_db().await;
    let (_, row_id) = domain_with_row(&db.pool, "example.org", "anna@example.org").await;
    let insert = |hash: &'static [u8], state: &'static str| {
        let pool = db.pool.clone();
        async move {
            let resolved: Option<i64> = (state != "pending").then_some(2);
            backend::run!(pool, ex => sqlx::query(
                "INSERT INTO challenges (row_id, address, recipient, token_hash, state, created_at, expires_at, resolved_at)
                 VALUES ($1, 'anna@example.org', 'anna@example.org', $2, $3, 1, 2, $4)",
            )
            .bind(row_id)
            .bind(hash)
            .bind(state)
            .bind(resolved)
            .execute(ex)
            .await.map(backend::storage::engine::Done::from))
        }
    };
    insert(b"a", "superseded").await.unwrap();
    insert(b"b", "pending").await.unwrap();
    let second = insert(b"c", "pending").await.unwrap_err();
    assert!(is_unique_violation(&second), "{second}");
}

#[tokio::test]
async fn r10_challenge_states_are_limited_to_the_lifecycle() {
    if backend::testing::on_postgres() {
        // SQLite's schema and its error messages; scripts/schema-check.sh checks PostgreSQL's.
        return;
    }
    let db = fresh_db().await;
    let (_, row_id) = domain_with_row(&db.pool, "example.org", "anna@example.org").await;
    let err = backend::run!(db.pool, ex => sqlx::query(
        "INSERT INTO challenges (row_id, address, recipient, token_hash, state, created_at, expires_at, resolved_at)
         VALUES ($1, 'anna@example.org', 'anna@example.org', x'02', 'accepted', 1, 2, 2)",
    )
    .bind(row_id)
    .execute(ex)
    .await.map(backend::storage::engine::Done::from))
    .unwrap_err();
    assert!(err.to_string().contains("CHECK"), "{err}");
    // A confirmed challenge must name who confirmed it.
    let err = backend::run!(db.pool, ex => sqlx::query(
        "INSERT INTO challenges (row_id, address, recipient, token_hash, state, created_at, expires_at, resolved_at)
         VALUES ($1, 'anna@example.org', 'anna@example.org', x'03', 'confirmed', 1, 2, 2)",
    )
    .bind(row_id)
    .execute(ex)
    .await.map(backend::storage::engine::Done::from))
    .unwrap_err();
    assert!(err.to_string().contains("CHECK"), "{err}");
}

#[tokio::test]
async fn addresses_are_unique_across_the_whole_portal() {
    let db = fresh_db().await;
    let (_, row_a) = domain_with_row(&db.pool, "example.org", "anna@example.org").await;
    let (_, _row_b) = domain_with_row(&db.pool, "example.net", "ben@example.net").await;
    // The same address as an alias of another row, in another domain's row: refused.
    let err = backend::run!(db.pool, ex => sqlx::query("INSERT INTO addresses (address, row_id, kind, position) VALUES ('ben@example.net', $1, 'alias', 1)")
        .bind(row_a)
        .execute(ex)
        .await.map(backend::storage::engine::Done::from))
        .unwrap_err();
    assert!(is_unique_violation(&err), "{err}");
}

#[tokio::test]
async fn functional_rows_need_an_applicant_and_personal_rows_refuse_one() {
    if backend::testing::on_postgres() {
        // SQLite's schema and its error messages; scripts/schema-check.sh checks PostgreSQL's.
        return;
    }
    let db = fresh_db().await;
    let (domain_id, _) = domain_with_row(&db.pool, "example.org", "anna@example.org").await;
    for (kind, applicant) in [("functional", None), ("personal", Some("boss@example.org"))] {
        let err = backend::run!(db.pool, ex => sqlx::query(
            "INSERT INTO mailbox_rows (domain_id, primary_address, mailbox_type, applicant_address, created_at, updated_at)
             VALUES ($1, 'info@example.org', $2, $3, 1, 1)",
        )
        .bind(domain_id)
        .bind(kind)
        .bind(applicant)
        .execute(ex)
        .await.map(backend::storage::engine::Done::from))
        .unwrap_err();
        assert!(err.to_string().contains("CHECK"), "{kind}: {err}");
    }
}

#[tokio::test]
async fn r01_domains_of_a_nap_are_those_of_their_groups() {
    let db = fresh_db().await;
    let mut conn = db.pool.acquire().await.unwrap();
    for (name, group) in [
        ("example.org", "nap-example"),
        ("example.net", "nap-other"),
        ("uni.de", "nap-example"),
    ] {
        insert_domain(&mut conn, &DomainName::parse(name).unwrap(), group, 1)
            .await
            .unwrap();
    }
    let mine = list_domains_of_groups(&mut conn, &["nap-example".into(), "staff".into()])
        .await
        .unwrap();
    let names: Vec<_> = mine.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["example.org", "uni.de"]);
    assert!(list_domains_of_groups(&mut conn, &[])
        .await
        .unwrap()
        .is_empty());
}
