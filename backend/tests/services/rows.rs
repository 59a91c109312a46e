//! The address table (SPEC §2, R1–R8, R16) against a real SQLite file per test. Challenges and
//! links are arranged with plain SQL: their own services come later and are not under test here.

use backend::config::Config;
use backend::domains::register_domain;
use backend::roles::Viewer;
use backend::rows::{
    audit_csv, create_row, delete_row, edit_row, get_row, list_audit, list_rows, preview_edit,
    set_active, AddressState, AuditEntry, AuditFilter, AuditKind, RowInput, RowQuery, RowView,
    SortKey, StateFilter,
};
use backend::sessions::SessionUser;
use backend::storage::Db;
use backend::testing::{fresh_db, TestDb};
use backend::ServiceError;
use domain::mailbox::MailboxType;
use domain::message::Message;
use domain::row::Field;

use super::audit_records;

const NOW_SLACK: i64 = 60;

fn now() -> i64 {
    backend::clock::now()
}

pub(super) async fn viewer(pool: &Db, user_id: &str, groups: &[&str]) -> Viewer {
    let config = Config {
        operator_group: "pki-ops".into(),
        ..Config::default()
    };
    let user = SessionUser {
        user_id: user_id.into(),
        given_name: "Nora".into(),
        family_name: "Nap".into(),
        email: None,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        session_started_at: 0,
    };
    Viewer::load(pool, user, &config).await.unwrap()
}

/// Two domains with a NAP each: nora administers example.org, otto other.net; olga is an
/// operator (group `pki-ops`). Shared with the CSV tests.
pub(super) struct World {
    pub(super) db: TestDb,
    pub(super) nora: Viewer,
    pub(super) otto: Viewer,
    pub(super) olga: Viewer,
}

impl World {
    pub(super) fn pool(&self) -> &Db {
        &self.db.pool
    }
}

pub(super) async fn world() -> World {
    let db = fresh_db().await;
    register_domain(&db.pool, "cli:root", "example.org", "nap-example")
        .await
        .unwrap();
    register_domain(&db.pool, "cli:root", "other.net", "nap-other")
        .await
        .unwrap();
    let nora = viewer(&db.pool, "nora", &["nap-example"]).await;
    let otto = viewer(&db.pool, "otto", &["nap-other"]).await;
    let olga = viewer(&db.pool, "olga", &["pki-ops"]).await;
    World {
        db,
        nora,
        otto,
        olga,
    }
}

fn person(first: &str, last: &str, aliases: &str) -> RowInput {
    RowInput {
        first_name: first.into(),
        last_name: last.into(),
        aliases: aliases.into(),
        ..RowInput::default()
    }
}

fn functional(name: &str, aliases: &str, applicant: &str) -> RowInput {
    RowInput {
        last_name: name.into(),
        aliases: aliases.into(),
        mailbox_type: "functional".into(),
        applicant: applicant.into(),
        ..RowInput::default()
    }
}

fn input_of(row: &RowView) -> RowInput {
    RowInput {
        first_name: row.first_name.clone(),
        last_name: row.last_name.clone(),
        aliases: row.aliases.join(", "),
        mailbox_type: row.mailbox_type.as_str().into(),
        applicant: row.applicant.clone().unwrap_or_default(),
        comment: row.comment.clone(),
    }
}

async fn anna(w: &World) -> RowView {
    create_row(
        w.pool(),
        &w.nora,
        "example.org",
        "anna@example.org",
        &person("Anna", "Schmidt", "a.schmidt@example.org as@example.org"),
    )
    .await
    .unwrap()
}

fn field_errors(e: ServiceError) -> Vec<(Field, String)> {
    match e {
        ServiceError::Invalid(Message::Fields(errors)) => errors
            .into_iter()
            .map(|e| (e.field, e.message.to_string()))
            .collect(),
        other => panic!("expected field errors, got {other:?}"),
    }
}

async fn add_user(pool: &Db, id: &str, given: &str, family: &str) {
    backend::run!(pool, ex => sqlx::query(
        "INSERT INTO users (id, source, given_name, family_name, first_seen_at, last_login_at)
         VALUES ($1, 'local', $2, $3, 0, 0)",
    )
    .bind(id)
    .bind(given)
    .bind(family)
    .execute(ex)
    .await.map(backend::storage::engine::Done::from))
    .unwrap();
}

/// A challenge of a row as the challenge service will store it; marks the row as challenged (R3).
async fn challenge(
    pool: &Db,
    row_id: i64,
    address: &str,
    state: &str,
    created_at: i64,
    confirmed_by: Option<&str>,
) -> i64 {
    let resolved_at = (state != "pending").then_some(created_at + 10);
    let id: i64 = backend::run!(pool, ex => sqlx::query_scalar(
        "INSERT INTO challenges (row_id, address, recipient, token_hash, state, created_at,
             expires_at, resolved_at, confirmed_by)
         VALUES ($1, $2, $3, $9, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(row_id)
    .bind(address)
    .bind(address)
    .bind(state)
    .bind(created_at)
    .bind(created_at + 7 * 86_400)
    .bind(resolved_at)
    .bind(confirmed_by)
    .bind(backend::testing::unique_token_hash())
    .fetch_one(ex)
    .await)
    .unwrap();
    backend::run!(pool, ex => sqlx::query("UPDATE mailbox_rows SET challenged = TRUE WHERE id = $1")
        .bind(row_id)
        .execute(ex)
        .await.map(backend::storage::engine::Done::from))
        .unwrap();
    id
}

/// A confirmed challenge of `address` by `user` and the link it made (R11).
async fn link(pool: &Db, row_id: i64, address: &str, user: &str, at: i64) {
    let challenge_id = challenge(pool, row_id, address, "confirmed", at - 10, Some(user)).await;
    backend::run!(pool, ex => sqlx::query(
        "INSERT INTO links (address, row_id, user_id, challenge_id, linked_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(address)
    .bind(row_id)
    .bind(user)
    .bind(challenge_id)
    .bind(at)
    .execute(ex)
    .await.map(backend::storage::engine::Done::from))
    .unwrap();
}

async fn linked_addresses(pool: &Db, row_id: i64) -> Vec<(String, String)> {
    backend::run!(pool, ex => sqlx::query_as("SELECT address, user_id FROM links WHERE row_id = $1 ORDER BY address")
        .bind(row_id)
        .fetch_all(ex)
        .await)
        .unwrap()
}

async fn challenge_states(pool: &Db, row_id: i64) -> Vec<(String, String)> {
    backend::run!(pool, ex => sqlx::query_as("SELECT address, state FROM challenges WHERE row_id = $1 ORDER BY id")
        .bind(row_id)
        .fetch_all(ex)
        .await)
        .unwrap()
}

async fn kinds(pool: &Db) -> Vec<String> {
    audit_records(pool)
        .await
        .into_iter()
        .map(|r| r.kind)
        .collect()
}

fn state_of<'a>(row: &'a RowView, address: &str) -> &'a AddressState {
    &row.addresses
        .iter()
        .find(|a| a.address == address)
        .unwrap_or_else(|| panic!("{address} not in {row:?}"))
        .state
}

// ---------------------------------------------------------------------------------------------
// Creating rows
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn new_row_is_active_normalised_and_audited() {
    let w = world().await;

    let row = create_row(
        w.pool(),
        &w.nora,
        "example.org",
        " Anna@Example.ORG ",
        &person(
            " Anna ",
            "Schmidt",
            "Z.Alias@example.org; a.alias@MAIL.example.org,b@example.org",
        ),
    )
    .await
    .unwrap();

    assert_eq!(row.primary, "anna@example.org");
    assert_eq!(row.domain, "example.org");
    assert_eq!(row.first_name, "Anna");
    assert_eq!(
        row.aliases,
        [
            "z.alias@example.org",
            "a.alias@mail.example.org",
            "b@example.org"
        ],
        "kept in the order typed"
    );
    assert!(row.active && !row.challenged);
    assert_eq!(row.version, 1);
    assert_eq!(row.mailbox_type, MailboxType::Personal);
    assert_eq!(row.addresses.len(), 4);
    assert!(row.addresses[0].is_primary && row.addresses[0].address == "anna@example.org");
    assert!(row
        .addresses
        .iter()
        .all(|a| a.state == AddressState::NeverSent));
    let records = audit_records(w.pool()).await;
    let created = records.last().unwrap();
    assert_eq!(
        (created.kind.as_str(), created.actor.as_str()),
        ("row_created", "nora")
    );
    assert_eq!(created.row_id, Some(row.id));
    assert_eq!(created.subject.as_deref(), Some("anna@example.org"));
    assert!(created
        .after
        .as_deref()
        .unwrap()
        .contains("\"aliases\":[\"z.alias@example.org\""));
    assert_eq!(get_row(w.pool(), &w.nora, row.id).await.unwrap(), row);
}

#[tokio::test]
async fn idn_addresses_are_stored_in_punycode() {
    let w = world().await;
    register_domain(w.pool(), "cli:root", "müller.de", "nap-example")
        .await
        .unwrap();
    let nora = viewer(w.pool(), "nora", &["nap-example"]).await;

    let row = create_row(
        w.pool(),
        &nora,
        "müller.de",
        "Jörg@Müller.de",
        &person("", "", ""),
    )
    .await;

    // The local part must be ASCII; the domain may be an IDN.
    let e = field_errors(row.unwrap_err());
    assert_eq!(e[0].0, Field::PrimaryAddress);
    let row = create_row(
        w.pool(),
        &nora,
        "müller.de",
        "joerg@Müller.de",
        &person("", "", ""),
    )
    .await
    .unwrap();
    assert_eq!(row.primary, "joerg@xn--mller-kva.de");
    assert_eq!(row.domain, "xn--mller-kva.de");
}

#[tokio::test]
async fn every_problem_of_the_input_is_reported_at_once_at_its_field() {
    let w = world().await;

    let e = create_row(
        w.pool(),
        &w.nora,
        "example.org",
        "not-an-address",
        &RowInput {
            first_name: "Bell\u{7}".into(),
            last_name: "x".repeat(201),
            aliases: "ok@example.org broken@".into(),
            mailbox_type: "personal".into(),
            applicant: "boss@example.net".into(),
            comment: "fine".into(),
        },
    )
    .await
    .unwrap_err();

    let errors = field_errors(e);
    let fields: Vec<Field> = errors.iter().map(|(f, _)| *f).collect();
    for expected in [
        Field::PrimaryAddress,
        Field::FirstName,
        Field::LastName,
        Field::Aliases,
        Field::Applicant,
    ] {
        assert!(
            fields.contains(&expected),
            "{expected:?} missing in {errors:?}"
        );
    }
    assert!(errors
        .iter()
        .any(|(_, m)| m.contains("a personal mailbox has no applicant")));
    assert!(audit_records(w.pool())
        .await
        .iter()
        .all(|r| r.kind != "row_created"));
}

#[tokio::test]
async fn functional_rows_need_an_applicant_and_a_name() {
    let w = world().await;

    let e = create_row(
        w.pool(),
        &w.nora,
        "example.org",
        "helpdesk@example.org",
        &functional("", "", ""),
    )
    .await
    .unwrap_err();
    let fields: Vec<Field> = field_errors(e).into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, [Field::Applicant, Field::LastName]);

    let row = create_row(
        w.pool(),
        &w.nora,
        "example.org",
        "helpdesk@example.org",
        &RowInput {
            mailbox_type: "Funktional".into(),
            ..functional("Helpdesk", "support@example.org", "Anna@Elsewhere.com")
        },
    )
    .await
    .unwrap();
    assert_eq!(row.mailbox_type, MailboxType::Functional);
    assert_eq!(row.applicant.as_deref(), Some("anna@elsewhere.com"));
}

// ---------------------------------------------------------------------------------------------
// R1
// ---------------------------------------------------------------------------------------------

/// R1, Q1: by domain name, another domain's table is refused (as is a domain that does not
/// exist); by row id, another domain's row reads exactly as an unknown row (404, not 403), so a
/// NAP cannot find out which ids exist elsewhere.
#[tokio::test]
async fn r01_a_nap_of_another_domain_is_refused_by_every_function() {
    let w = world().await;
    let row = anna(&w).await;
    let records_before = audit_records(w.pool()).await.len();
    let otto = &w.otto;

    let refused = |r: Result<(), ServiceError>, what: &str| {
        assert!(
            matches!(r, Err(ServiceError::Forbidden(_))),
            "{what}: {r:?}"
        );
    };
    let unknown = |r: Result<(), ServiceError>, what: &str| {
        assert!(matches!(r, Err(ServiceError::NotFound(_))), "{what}: {r:?}");
    };
    refused(
        list_rows(
            w.pool(),
            &w.db.search_matches,
            otto,
            "example.org",
            &RowQuery::default(),
        )
        .await
        .map(|_| ()),
        "list_rows",
    );
    unknown(get_row(w.pool(), otto, row.id).await.map(|_| ()), "get_row");
    refused(
        create_row(
            w.pool(),
            otto,
            "example.org",
            "eve@example.org",
            &person("", "", ""),
        )
        .await
        .map(|_| ()),
        "create_row",
    );
    unknown(
        preview_edit(w.pool(), otto, row.id, row.version, &input_of(&row))
            .await
            .map(|_| ()),
        "preview_edit",
    );
    unknown(
        edit_row(w.pool(), otto, row.id, row.version, &person("Eve", "", ""))
            .await
            .map(|_| ()),
        "edit_row",
    );
    unknown(
        set_active(w.pool(), otto, &[(row.id, row.version)], false)
            .await
            .map(|_| ()),
        "set_active",
    );
    unknown(
        delete_row(w.pool(), otto, row.id, row.version).await,
        "delete_row",
    );
    refused(
        list_audit(w.pool(), otto, "example.org", &AuditFilter::default())
            .await
            .map(|_| ()),
        "list_audit",
    );
    // Someone with no role at all, and a domain that does not exist, say no more than that.
    let anon = viewer(w.pool(), "eve", &[]).await;
    refused(
        list_rows(
            w.pool(),
            &w.db.search_matches,
            &anon,
            "nowhere.example",
            &RowQuery::default(),
        )
        .await
        .map(|_| ()),
        "unknown domain",
    );
    assert!(matches!(
        get_row(w.pool(), &w.nora, row.id + 1000).await,
        Err(ServiceError::NotFound(_))
    ));
    assert!(matches!(
        edit_row(w.pool(), &w.nora, row.id + 1000, 1, &person("", "", "")).await,
        Err(ServiceError::NotFound(_))
    ));

    assert_eq!(get_row(w.pool(), &w.nora, row.id).await.unwrap(), row);
    assert_eq!(audit_records(w.pool()).await.len(), records_before);
}

/// Q1: for every row-id-taking function, a row of another domain and an id that no row has get
/// the same answer, word for word. Someone who may read no table at all is refused before the
/// id is looked at (the same 403 for both); an operator, who reads every table, is told that
/// changing is for the domain's NAPs.
#[tokio::test]
async fn q1_foreign_row_reads_as_unknown_for_every_row_id_function() {
    let w = world().await;
    let row = anna(&w).await;
    let unknown_id = row.id + 1000;
    let records_before = audit_records(w.pool()).await.len();

    async fn answers(w: &World, who: &Viewer, id: i64, version: i64) -> Vec<String> {
        let input = person("Eve", "", "");
        vec![
            format!("{:?}", get_row(w.pool(), who, id).await.map(|_| ())),
            format!(
                "{:?}",
                preview_edit(w.pool(), who, id, version, &input)
                    .await
                    .map(|_| ())
            ),
            format!(
                "{:?}",
                edit_row(w.pool(), who, id, version, &input)
                    .await
                    .map(|_| ())
            ),
            format!(
                "{:?}",
                set_active(w.pool(), who, &[(id, version)], false)
                    .await
                    .map(|_| ())
            ),
            format!("{:?}", delete_row(w.pool(), who, id, version).await),
        ]
    }
    let foreign = answers(&w, &w.otto, row.id, row.version).await;
    assert_eq!(foreign, answers(&w, &w.otto, unknown_id, 1).await);
    assert!(
        foreign.iter().all(|a| a == "Err(NotFound(NoSuchRow))"),
        "{foreign:?}"
    );

    let eve = viewer(w.pool(), "eve", &[]).await;
    let no_role = answers(&w, &eve, row.id, row.version).await;
    assert_eq!(no_role, answers(&w, &eve, unknown_id, 1).await);
    assert!(
        no_role.iter().all(|a| a == "Err(Forbidden(NotNap))"),
        "{no_role:?}"
    );

    // The operator reads the row, but changes are for the domain's NAPs.
    assert!(get_row(w.pool(), &w.olga, row.id).await.is_ok());
    assert!(matches!(
        edit_row(
            w.pool(),
            &w.olga,
            row.id,
            row.version,
            &person("Eve", "", "")
        )
        .await,
        Err(ServiceError::Forbidden(_))
    ));
    assert!(matches!(
        get_row(w.pool(), &w.olga, unknown_id).await,
        Err(ServiceError::NotFound(_))
    ));

    assert_eq!(get_row(w.pool(), &w.nora, row.id).await.unwrap(), row);
    assert_eq!(audit_records(w.pool()).await.len(), records_before);
}

#[tokio::test]
async fn r01_operators_read_every_table_but_change_none() {
    let w = world().await;
    let row = anna(&w).await;
    let olga = viewer(w.pool(), "olga", &["pki-ops"]).await;

    let page = list_rows(
        w.pool(),
        &w.db.search_matches,
        &olga,
        "example.org",
        &RowQuery::default(),
    )
    .await
    .unwrap();
    assert_eq!(page.rows, std::slice::from_ref(&row));
    assert_eq!(get_row(w.pool(), &olga, row.id).await.unwrap(), row);
    assert!(!list_audit(
        w.pool(),
        &olga,
        "example.org",
        &AuditFilter {
            limit: 10,
            ..AuditFilter::default()
        }
    )
    .await
    .unwrap()
    .is_empty());

    assert!(matches!(
        edit_row(w.pool(), &olga, row.id, row.version, &person("Eve", "", "")).await,
        Err(ServiceError::Forbidden(_))
    ));
    assert!(matches!(
        create_row(
            w.pool(),
            &olga,
            "example.org",
            "eve@example.org",
            &person("", "", "")
        )
        .await,
        Err(ServiceError::Forbidden(_))
    ));
}

#[tokio::test]
async fn r01_addresses_outside_administered_domains_are_refused_the_applicant_may_be_anywhere() {
    let w = world().await;

    let e = create_row(
        w.pool(),
        &w.nora,
        "example.org",
        "anna@other.net",
        &person("Anna", "", "anna@badexample.org"),
    )
    .await
    .unwrap_err();
    let errors = field_errors(e);
    assert_eq!(
        errors,
        [
            (
                Field::PrimaryAddress,
                "anna@other.net is not in a domain you administer (example.org)".to_string()
            ),
            (
                Field::Aliases,
                "anna@badexample.org is not in a domain you administer (example.org)".to_string()
            ),
        ]
    );

    let row = create_row(
        w.pool(),
        &w.nora,
        "example.org",
        "team@mail.example.org",
        &functional("Team", "", "someone@other.net"),
    )
    .await
    .unwrap();
    assert_eq!(
        row.domain, "example.org",
        "an unregistered subdomain belongs to its parent"
    );
    assert_eq!(row.applicant.as_deref(), Some("someone@other.net"));

    let e = edit_row(
        w.pool(),
        &w.nora,
        row.id,
        row.version,
        &functional("Team", "team@other.net", "someone@other.net"),
    )
    .await
    .unwrap_err();
    assert_eq!(field_errors(e)[0].0, Field::Aliases);
}

#[tokio::test]
async fn r01_a_row_goes_to_the_most_specific_registered_domain_which_must_be_administered() {
    let w = world().await;
    register_domain(w.pool(), "cli:root", "lab.example.org", "nap-lab")
        .await
        .unwrap();
    let nora = viewer(w.pool(), "nora", &["nap-example"]).await;
    let both = viewer(w.pool(), "bert", &["nap-example", "nap-lab"]).await;

    let e = create_row(
        w.pool(),
        &nora,
        "example.org",
        "x@lab.example.org",
        &person("", "", ""),
    )
    .await
    .unwrap_err();
    assert_eq!(
        field_errors(e),
        [(
            Field::PrimaryAddress,
            "x@lab.example.org belongs to the table of lab.example.org, which you do not administer"
                .to_string()
        )]
    );

    let row = create_row(
        w.pool(),
        &both,
        "example.org",
        "x@lab.example.org",
        &person("", "", ""),
    )
    .await
    .unwrap();
    assert_eq!(row.domain, "lab.example.org");
}

// ---------------------------------------------------------------------------------------------
// Uniqueness
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn addresses_are_unique_across_the_portal_and_the_error_names_the_row() {
    let w = world().await;
    register_domain(w.pool(), "cli:root", "lab.example.org", "nap-lab")
        .await
        .unwrap();
    let lara = viewer(w.pool(), "lara", &["nap-lab"]).await;
    // Nora may use an address of the subdomain as an alias (R1: it lies in example.org) …
    let row = create_row(
        w.pool(),
        &w.nora,
        "example.org",
        "anna@example.org",
        &person("Anna", "Schmidt", "anna@lab.example.org"),
    )
    .await
    .unwrap();

    // … so the subdomain's NAP cannot make it a primary address of their table.
    let e = create_row(
        w.pool(),
        &lara,
        "lab.example.org",
        "ANNA@lab.example.org",
        &person("", "", ""),
    )
    .await
    .unwrap_err();
    // Q1: the row is in a table lara does not administer, so she learns only that it is taken.
    assert_eq!(
        field_errors(e),
        [(
            Field::PrimaryAddress,
            "anna@lab.example.org is already used by a row you do not administer; an address \
             can belong to one row only"
                .to_string()
        )]
    );

    // Another row's primary as an alias, and an alias listed twice in the same row.
    let e = create_row(
        w.pool(),
        &w.nora,
        "example.org",
        "bert@example.org",
        &person("Bert", "", "anna@example.org b@example.org B@example.org"),
    )
    .await
    .unwrap_err();
    let errors = field_errors(e);
    assert!(errors.contains(&(
        Field::Aliases,
        "anna@example.org is already used by row anna@example.org (example.org)".to_string()
    )));
    assert!(errors.contains(&(
        Field::Aliases,
        "b@example.org is listed more than once among the aliases".to_string()
    )));

    // The same primary twice.
    let e = create_row(
        w.pool(),
        &w.nora,
        "example.org",
        "anna@example.org",
        &person("", "", ""),
    )
    .await
    .unwrap_err();
    assert_eq!(field_errors(e)[0].0, Field::PrimaryAddress);

    // Editing a row to keep its own addresses is no conflict; taking another row's is.
    let bert = create_row(
        w.pool(),
        &w.nora,
        "example.org",
        "bert@example.org",
        &person("Bert", "", ""),
    )
    .await
    .unwrap();
    let e = edit_row(
        w.pool(),
        &w.nora,
        bert.id,
        bert.version,
        &person("Bert", "", "anna@lab.example.org"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        field_errors(e),
        [(
            Field::Aliases,
            "anna@lab.example.org is already used by row anna@example.org (example.org)"
                .to_string()
        )]
    );
    let same = edit_row(
        w.pool(),
        &w.nora,
        row.id,
        row.version,
        &person("Anna", "S.", "anna@lab.example.org"),
    )
    .await
    .unwrap();
    assert_eq!(same.aliases, ["anna@lab.example.org"]);
}

// ---------------------------------------------------------------------------------------------
// R2, R3
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn r02_there_is_no_way_to_change_the_primary_address() {
    let w = world().await;
    let row = anna(&w).await;
    // The input type has no primary address; one sent on the wire anyway is ignored.
    let wire: RowInput = serde_json::from_str(
        r#"{"primary":"eve@example.org","first_name":"","last_name":"Evil","aliases":"",
            "mailbox_type":"functional","applicant":"boss@other.net","comment":"taken over"}"#,
    )
    .unwrap();
    assert!(!serde_json::to_string(&wire)
        .unwrap()
        .contains("eve@example.org"));

    let edited = edit_row(w.pool(), &w.nora, row.id, row.version, &wire).await;

    let edited = edited.unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(edited.primary, "anna@example.org");
    assert_eq!(edited.last_name, "Evil");
    assert_eq!(edited.addresses[0].address, "anna@example.org");
    let primaries: Vec<String> = backend::run!(w.pool(), ex => sqlx::query_scalar("SELECT primary_address FROM mailbox_rows")
        .fetch_all(ex)
        .await)
        .unwrap();
    assert_eq!(primaries, ["anna@example.org"]);
}

#[tokio::test]
async fn r16_a_deleted_rows_id_and_trail_never_pass_to_a_new_row() {
    // Arrange: the newest row of the portal is deleted (allowed: never challenged, R3).
    let w = world().await;
    let anna = anna(&w).await;
    delete_row(w.pool(), &w.nora, anna.id, anna.version)
        .await
        .unwrap();

    // Act: a new row by hand, then more by CSV.
    let bert = create_row(
        w.pool(),
        &w.nora,
        "example.org",
        "bert@example.org",
        &person("Bert", "Weber", ""),
    )
    .await
    .unwrap();
    delete_row(w.pool(), &w.nora, bert.id, bert.version)
        .await
        .unwrap();
    let file = "E-Mail,First Name,Last Name\r\ncarl@example.org,Carl,Meyer\r\n";
    let preview = backend::csv_upload::preview(w.pool(), &w.nora, "example.org", file.as_bytes())
        .await
        .unwrap();
    backend::csv_upload::apply(
        w.pool(),
        &w.nora,
        "example.org",
        file.as_bytes(),
        &preview.fingerprint,
    )
    .await
    .unwrap();

    // Assert: new ids, and each row's trail is its own.
    let carl: i64 = backend::run!(w.pool(), ex => sqlx::query_scalar(
        "SELECT id FROM mailbox_rows WHERE primary_address = 'carl@example.org'",
    )
    .fetch_one(ex)
    .await)
    .unwrap();
    assert!(
        bert.id > anna.id && carl > bert.id,
        "{} {} {carl}",
        anna.id,
        bert.id
    );
    let w = &w;
    let trail = |address: &str| {
        let filter = AuditFilter {
            row: Some(address.into()),
            ..AuditFilter::default()
        };
        async move {
            list_audit(w.pool(), &w.nora, "example.org", &filter)
                .await
                .unwrap()
                .into_iter()
                .map(|e| (e.kind, e.subject.unwrap_or_default()))
                .collect::<Vec<_>>()
        }
    };
    let subjects = |address: &str| {
        vec![
            ("row_deleted".to_string(), address.to_string()),
            ("row_created".to_string(), address.to_string()),
        ]
    };
    assert_eq!(
        trail("anna@example.org").await,
        subjects("anna@example.org")
    );
    assert_eq!(
        trail("bert@example.org").await,
        subjects("bert@example.org")
    );
    assert_eq!(
        trail("carl@example.org").await,
        [("row_created".to_string(), "carl@example.org".to_string())]
    );
}

#[tokio::test]
async fn r03_a_row_can_be_deleted_until_a_challenge_is_sent() {
    let w = world().await;
    let row = anna(&w).await;
    let bert = create_row(
        w.pool(),
        &w.nora,
        "example.org",
        "bert@example.org",
        &person("Bert", "", ""),
    )
    .await
    .unwrap();

    delete_row(w.pool(), &w.nora, row.id, row.version)
        .await
        .unwrap();

    assert!(matches!(
        get_row(w.pool(), &w.nora, row.id).await,
        Err(ServiceError::NotFound(_))
    ));
    let left: i64 = backend::run!(w.pool(), ex => sqlx::query_scalar("SELECT COUNT(*) FROM addresses WHERE row_id = $1")
        .bind(row.id)
        .fetch_one(ex)
        .await)
        .unwrap();
    assert_eq!(left, 0);
    let deleted = audit_records(w.pool()).await.pop().unwrap();
    assert_eq!(deleted.kind, "row_deleted");
    assert_eq!(deleted.row_id, Some(row.id), "the record keeps the row id");
    assert!(deleted.before.unwrap().contains("anna@example.org"));
    // Its addresses are free again.
    create_row(
        w.pool(),
        &w.nora,
        "example.org",
        "as@example.org",
        &person("", "", ""),
    )
    .await
    .unwrap();

    challenge(
        w.pool(),
        bert.id,
        "bert@example.org",
        "superseded",
        now() - 100,
        None,
    )
    .await;
    let bert = get_row(w.pool(), &w.nora, bert.id).await.unwrap();
    assert!(bert.challenged);
    let records = audit_records(w.pool()).await.len();
    let e = delete_row(w.pool(), &w.nora, bert.id, bert.version)
        .await
        .unwrap_err();
    match &e {
        ServiceError::Invalid(message @ Message::Delete(_)) => {
            assert!(message.to_string().contains("deactivate it instead"))
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("deactivate it instead"));
    assert_eq!(get_row(w.pool(), &w.nora, bert.id).await.unwrap(), bert);
    assert_eq!(audit_records(w.pool()).await.len(), records);
}

// ---------------------------------------------------------------------------------------------
// R4–R7
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn r04_alias_edit_supersedes_pending_drops_only_removed_alias_links() {
    let w = world().await;
    add_user(w.pool(), "sub-anna", "Anna", "Schmidt").await;
    let row = anna(&w).await; // aliases a.schmidt@, as@
    let t = now() - 1000;
    // Round 1 linked the primary and a.schmidt@; round 2 is pending for all three.
    link(w.pool(), row.id, "anna@example.org", "sub-anna", t).await;
    link(w.pool(), row.id, "a.schmidt@example.org", "sub-anna", t).await;
    for address in [
        "anna@example.org",
        "a.schmidt@example.org",
        "as@example.org",
    ] {
        challenge(w.pool(), row.id, address, "pending", t + 100, None).await;
    }
    let row = get_row(w.pool(), &w.nora, row.id).await.unwrap();
    let edit = person("Anna", "Schmidt", "as@example.org new@example.org");

    let preview = preview_edit(w.pool(), &w.nora, row.id, row.version, &edit)
        .await
        .unwrap();

    assert_eq!(preview.supersedes, 3);
    assert_eq!(preview.drops_links, ["a.schmidt@example.org"]);
    let said: Vec<String> = preview.consequences.iter().map(|c| c.to_string()).collect();
    assert!(said.contains(&"saving supersedes 3 pending challenges".to_string()));
    assert!(said.contains(
        &"saving drops the link of alias a.schmidt@example.org (confirmed by Anna Schmidt)"
            .to_string()
    ));
    assert!(preview
        .consequences
        .iter()
        .any(|s| s.to_string().contains("new@example.org starts unconfirmed")));
    assert_eq!(
        get_row(w.pool(), &w.nora, row.id).await.unwrap(),
        row,
        "a preview writes nothing"
    );

    let edited = edit_row(w.pool(), &w.nora, row.id, row.version, &edit)
        .await
        .unwrap();

    assert_eq!(edited.aliases, ["as@example.org", "new@example.org"]);
    assert_eq!(edited.version, row.version + 1);
    assert!(challenge_states(w.pool(), row.id)
        .await
        .iter()
        .all(|(_, s)| s != "pending"));
    let unresolved: i64 = backend::run!(w.pool(), ex => sqlx::query_scalar(
        "SELECT COUNT(*) FROM challenges WHERE row_id = $1 AND resolved_at IS NULL",
    )
    .bind(row.id)
    .fetch_one(ex)
    .await)
    .unwrap();
    assert_eq!(unresolved, 0);
    assert_eq!(
        linked_addresses(w.pool(), row.id).await,
        [("anna@example.org".to_string(), "sub-anna".to_string())],
        "the kept primary keeps its link"
    );
    // R18: the round sent after the link suspended it; the alias edit superseded that round, so the
    // kept link stays suspended (shown beside the state, R17) until a newer round is confirmed.
    assert!(matches!(
        state_of(&edited, "anna@example.org"),
        AddressState::Superseded { .. }
    ));
    let primary_link = edited.addresses[0]
        .link
        .as_ref()
        .expect("the kept link is shown");
    assert_eq!(
        (
            primary_link.user_id.as_str(),
            primary_link.user_name.as_str(),
            primary_link.suspended
        ),
        ("sub-anna", "Anna Schmidt", true)
    );
    assert!(matches!(
        state_of(&edited, "as@example.org"),
        AddressState::Superseded { .. }
    ));
    assert_eq!(
        state_of(&edited, "new@example.org"),
        &AddressState::NeverSent
    );
    let k = kinds(w.pool()).await;
    assert_eq!(k.iter().filter(|k| *k == "challenge_superseded").count(), 3);
    assert_eq!(k.iter().filter(|k| *k == "link_dropped").count(), 1);
    assert_eq!(k.iter().filter(|k| *k == "row_edited").count(), 1);
    let dropped = audit_records(w.pool())
        .await
        .into_iter()
        .find(|r| r.kind == "link_dropped")
        .unwrap();
    assert_eq!(dropped.subject.as_deref(), Some("a.schmidt@example.org"));
    assert!(dropped.before.unwrap().contains("sub-anna"));
}

#[tokio::test]
async fn r04_reordering_aliases_alone_changes_nothing() {
    let w = world().await;
    let row = anna(&w).await;
    challenge(
        w.pool(),
        row.id,
        "as@example.org",
        "pending",
        now() - 10,
        None,
    )
    .await;
    let row = get_row(w.pool(), &w.nora, row.id).await.unwrap();
    let records = audit_records(w.pool()).await.len();

    let same = edit_row(
        w.pool(),
        &w.nora,
        row.id,
        row.version,
        &person("Anna", "Schmidt", "as@example.org a.schmidt@example.org"),
    )
    .await
    .unwrap();

    assert_eq!(same.version, row.version);
    assert_eq!(challenge_states(w.pool(), row.id).await[0].1, "pending");
    assert_eq!(audit_records(w.pool()).await.len(), records);
}

#[tokio::test]
async fn r05_applicant_or_type_change_supersedes_and_drops_all_links_but_keeps_certificates() {
    let w = world().await;
    add_user(w.pool(), "sub-anna", "Anna", "Schmidt").await;
    let help = create_row(
        w.pool(),
        &w.nora,
        "example.org",
        "helpdesk@example.org",
        &functional("Helpdesk", "support@example.org", "anna@other.net"),
    )
    .await
    .unwrap();
    let t = now() - 1000;
    link(w.pool(), help.id, "helpdesk@example.org", "sub-anna", t).await;
    link(w.pool(), help.id, "support@example.org", "sub-anna", t).await;
    challenge(
        w.pool(),
        help.id,
        "helpdesk@example.org",
        "pending",
        t + 50,
        None,
    )
    .await;
    backend::run!(w.pool(), ex => sqlx::query(
        "INSERT INTO certificates (serial, row_id, user_id, subject, addresses, key_source,
             not_before, not_after, der, issued_at)
         VALUES ('01', $1, 'sub-anna', 'E=helpdesk@example.org', '[\"helpdesk@example.org\"]', 'csr', 0, 1, $2, 0)",
    )
    .bind(help.id)
    .bind(&[0_u8][..])
    .execute(ex)
    .await.map(backend::storage::engine::Done::from))
    .unwrap();
    let help = get_row(w.pool(), &w.nora, help.id).await.unwrap();
    let new_applicant = functional("Helpdesk", "support@example.org", "bert@other.net");

    let preview = preview_edit(w.pool(), &w.nora, help.id, help.version, &new_applicant)
        .await
        .unwrap();
    assert_eq!(preview.supersedes, 1);
    assert_eq!(
        preview.drops_links,
        ["helpdesk@example.org", "support@example.org"]
    );
    assert!(preview.consequences.iter().any(|s| s
        .to_string()
        .contains("saving drops the link of primary address helpdesk@example.org")));

    let edited = edit_row(w.pool(), &w.nora, help.id, help.version, &new_applicant)
        .await
        .unwrap();

    assert_eq!(edited.applicant.as_deref(), Some("bert@other.net"));
    assert!(linked_addresses(w.pool(), help.id).await.is_empty());
    assert!(challenge_states(w.pool(), help.id)
        .await
        .iter()
        .all(|(_, s)| s != "pending"));
    let certificates: i64 =
        backend::run!(w.pool(), ex => sqlx::query_scalar("SELECT COUNT(*) FROM certificates WHERE row_id = $1")
            .bind(help.id)
            .fetch_one(ex)
            .await)
            .unwrap();
    assert_eq!(certificates, 1, "issued certificates stay (R12)");
    assert!(edited
        .addresses
        .iter()
        .all(|a| matches!(a.state, AddressState::Superseded { .. })));
    assert_eq!(
        kinds(w.pool())
            .await
            .iter()
            .filter(|k| *k == "link_dropped")
            .count(),
        2
    );

    // A type change (personal → functional) does the same.
    let row = anna(&w).await;
    link(w.pool(), row.id, "as@example.org", "sub-anna", t).await;
    let row = get_row(w.pool(), &w.nora, row.id).await.unwrap();
    let e = edit_row(
        w.pool(),
        &w.nora,
        row.id,
        row.version,
        &functional(
            "Anna's team",
            "a.schmidt@example.org as@example.org",
            "anna@other.net",
        ),
    )
    .await
    .unwrap();
    assert_eq!(e.mailbox_type, MailboxType::Functional);
    assert!(linked_addresses(w.pool(), row.id).await.is_empty());
}

#[tokio::test]
async fn r06_name_edit_touches_nothing_else() {
    let w = world().await;
    add_user(w.pool(), "sub-anna", "Anna", "Schmidt").await;
    let row = anna(&w).await;
    link(
        w.pool(),
        row.id,
        "anna@example.org",
        "sub-anna",
        now() - 500,
    )
    .await;
    challenge(
        w.pool(),
        row.id,
        "as@example.org",
        "pending",
        now() - 100,
        None,
    )
    .await;
    let row = get_row(w.pool(), &w.nora, row.id).await.unwrap();
    let before_links = linked_addresses(w.pool(), row.id).await;
    let before_challenges = challenge_states(w.pool(), row.id).await;
    let records = audit_records(w.pool()).await.len();
    let mut edit = input_of(&row);
    edit.first_name = "Anne".into();
    edit.last_name = "Schmidt-Weber".into();
    edit.comment = "married".into();

    let preview = preview_edit(w.pool(), &w.nora, row.id, row.version, &edit)
        .await
        .unwrap();
    let edited = edit_row(w.pool(), &w.nora, row.id, row.version, &edit)
        .await
        .unwrap();

    assert!(preview.consequences.is_empty() && preview.supersedes == 0);
    assert_eq!(
        (edited.first_name.as_str(), edited.last_name.as_str()),
        ("Anne", "Schmidt-Weber")
    );
    assert_eq!(edited.comment, "married");
    assert_eq!(edited.version, row.version + 1);
    assert_eq!(linked_addresses(w.pool(), row.id).await, before_links);
    assert_eq!(challenge_states(w.pool(), row.id).await, before_challenges);
    assert_eq!(edited.addresses, row.addresses);
    let new: Vec<_> = audit_records(w.pool()).await.split_off(records);
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].kind, "row_edited");
    assert!(new[0]
        .before
        .as_deref()
        .unwrap()
        .contains("\"first_name\":\"Anna\""));
    assert!(new[0]
        .after
        .as_deref()
        .unwrap()
        .contains("\"first_name\":\"Anne\""));
}

#[tokio::test]
async fn r07_deactivation_and_reactivation_keep_links_and_challenges() {
    let w = world().await;
    add_user(w.pool(), "sub-anna", "Anna", "Schmidt").await;
    let row = anna(&w).await;
    link(
        w.pool(),
        row.id,
        "anna@example.org",
        "sub-anna",
        now() - 500,
    )
    .await;
    challenge(
        w.pool(),
        row.id,
        "as@example.org",
        "pending",
        now() - 100,
        None,
    )
    .await;
    let row = get_row(w.pool(), &w.nora, row.id).await.unwrap();
    let links = linked_addresses(w.pool(), row.id).await;
    let challenges = challenge_states(w.pool(), row.id).await;

    let off = set_active(w.pool(), &w.nora, &[(row.id, row.version)], false)
        .await
        .unwrap();
    assert!(!off[0].active);
    assert_eq!(off[0].version, row.version + 1);
    // Deactivating again leaves the row alone, whatever version the caller had.
    let again = set_active(w.pool(), &w.nora, &[(row.id, row.version)], false)
        .await
        .unwrap();
    assert_eq!(again, off);
    let on = set_active(w.pool(), &w.nora, &[(row.id, off[0].version)], true)
        .await
        .unwrap();

    assert!(on[0].active);
    assert_eq!(linked_addresses(w.pool(), row.id).await, links);
    assert_eq!(challenge_states(w.pool(), row.id).await, challenges);
    assert_eq!(on[0].addresses, row.addresses);
    let k = kinds(w.pool()).await;
    assert_eq!(
        k[k.len() - 2..],
        ["row_deactivated".to_string(), "row_reactivated".to_string()]
    );
    // An edit keeps the active flag (the form has none).
    let off = set_active(w.pool(), &w.nora, &[(row.id, on[0].version)], false)
        .await
        .unwrap();
    let edited = edit_row(
        w.pool(),
        &w.nora,
        row.id,
        off[0].version,
        &person("Anna", "Weber", "as@example.org"),
    )
    .await
    .unwrap();
    assert!(!edited.active);
}

#[tokio::test]
async fn r07_bulk_activation_is_all_or_nothing() {
    let w = world().await;
    let a = anna(&w).await;
    let b = create_row(
        w.pool(),
        &w.nora,
        "example.org",
        "bert@example.org",
        &person("Bert", "", ""),
    )
    .await
    .unwrap();
    let c = create_row(
        w.pool(),
        &w.nora,
        "example.org",
        "cleo@example.org",
        &person("Cleo", "", ""),
    )
    .await
    .unwrap();
    // Someone renamed Cleo meanwhile.
    let c2 = edit_row(
        w.pool(),
        &w.nora,
        c.id,
        c.version,
        &person("Cleopatra", "", ""),
    )
    .await
    .unwrap();
    let records = audit_records(w.pool()).await.len();

    let e = set_active(
        w.pool(),
        &w.nora,
        &[(a.id, a.version), (b.id, b.version), (c.id, c.version)],
        false,
    )
    .await
    .unwrap_err();

    match e {
        ServiceError::ChangedMeanwhile(_, Some(fresh)) => assert_eq!(*fresh, c2),
        other => panic!("{other:?}"),
    }
    for id in [a.id, b.id, c.id] {
        assert!(get_row(w.pool(), &w.nora, id).await.unwrap().active);
    }
    assert_eq!(
        audit_records(w.pool()).await.len(),
        records,
        "rolled back with the rows (R16)"
    );

    let done = set_active(
        w.pool(),
        &w.nora,
        &[(a.id, a.version), (b.id, b.version), (c2.id, c2.version)],
        false,
    )
    .await
    .unwrap();
    assert!(done.iter().all(|r| !r.active));
    assert_eq!(
        kinds(w.pool())
            .await
            .iter()
            .filter(|k| *k == "row_deactivated")
            .count(),
        3
    );
}

// ---------------------------------------------------------------------------------------------
// Optimistic concurrency, R16
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn two_naps_editing_the_same_version_lose_no_update() {
    let w = world().await;
    let nina = viewer(w.pool(), "nina", &["nap-example"]).await;
    let row = anna(&w).await;

    let (noras, ninas) = (person("Anna", "Nora's", ""), person("Anna", "Nina's", ""));

    let (first, second) = tokio::join!(
        edit_row(w.pool(), &w.nora, row.id, row.version, &noras),
        edit_row(w.pool(), &nina, row.id, row.version, &ninas),
    );

    let (won, lost) = match (first, second) {
        (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
        other => panic!("exactly one edit must win: {other:?}"),
    };
    assert_eq!(won.version, row.version + 1);
    match lost {
        ServiceError::ChangedMeanwhile(_, Some(fresh)) => assert_eq!(*fresh, won),
        other => panic!("{other:?}"),
    }
    assert_eq!(get_row(w.pool(), &w.nora, row.id).await.unwrap(), won);
    assert_eq!(
        kinds(w.pool())
            .await
            .iter()
            .filter(|k| *k == "row_edited")
            .count(),
        1
    );

    // The loser retries on the fresh version and wins.
    let retried = edit_row(
        w.pool(),
        &nina,
        row.id,
        won.version,
        &person("Anna", "Both", ""),
    )
    .await
    .unwrap();
    assert_eq!(retried.version, row.version + 2);
    // A stale delete and a stale preview are refused the same way.
    assert!(matches!(
        delete_row(w.pool(), &w.nora, row.id, row.version).await,
        Err(ServiceError::ChangedMeanwhile(..))
    ));
    assert!(matches!(
        preview_edit(w.pool(), &w.nora, row.id, row.version, &person("", "", "")).await,
        Err(ServiceError::ChangedMeanwhile(..))
    ));
}

#[tokio::test]
async fn r16_every_change_is_audited_and_a_failed_edit_writes_nothing() {
    let w = world().await;
    add_user(w.pool(), "sub-anna", "Anna", "Schmidt").await;
    let row = anna(&w).await;
    link(w.pool(), row.id, "as@example.org", "sub-anna", now() - 500).await;
    challenge(
        w.pool(),
        row.id,
        "anna@example.org",
        "pending",
        now() - 100,
        None,
    )
    .await;
    let row = get_row(w.pool(), &w.nora, row.id).await.unwrap();
    let records = audit_records(w.pool()).await;

    // Invalid input: alias of another domain plus a broken applicant.
    let e = edit_row(
        w.pool(),
        &w.nora,
        row.id,
        row.version,
        &RowInput {
            applicant: "broken".into(),
            ..person("Anna", "Schmidt", "x@other.net")
        },
    )
    .await
    .unwrap_err();

    assert_eq!(field_errors(e).len(), 2);
    assert_eq!(audit_records(w.pool()).await.len(), records.len());
    assert_eq!(get_row(w.pool(), &w.nora, row.id).await.unwrap(), row);
    assert_eq!(
        challenge_states(w.pool(), row.id).await.last().unwrap().1,
        "pending"
    );

    // A valid edit writes the edit and each consequence, with actor, row and domain.
    edit_row(
        w.pool(),
        &w.nora,
        row.id,
        row.version,
        &person("Anna", "Schmidt", ""),
    )
    .await
    .unwrap();
    let new: Vec<_> = audit_records(w.pool()).await.split_off(records.len());
    let new_kinds: Vec<&str> = new.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(
        new_kinds,
        ["row_edited", "challenge_superseded", "link_dropped"]
    );
    assert!(new
        .iter()
        .all(|r| r.actor == "nora" && r.row_id == Some(row.id)));
    assert!(new.iter().all(|r| r.domain_id == records[0].domain_id));
    assert!(new[0].at >= now() - NOW_SLACK);
}

// ---------------------------------------------------------------------------------------------
// The table: filters, sort, paging
// ---------------------------------------------------------------------------------------------

/// Ten rows with different names, types, activity and challenge states.
async fn table(w: &World) -> Vec<RowView> {
    add_user(w.pool(), "sub-x", "Xaver", "Link").await;
    let specs: [(&str, &str, &str, &str, bool); 10] = [
        ("anna@example.org", "Anna", "Schmidt", "", true),
        ("bert@example.org", "Bert", "Meyer", "bm@example.org", true),
        ("cleo@example.org", "Cleo", "Adams", "", false),
        (
            "dora@example.org",
            "Dora",
            "Zander",
            "d.zander@example.org",
            true,
        ),
        ("emil@example.org", "Emil", "Meyer", "", true),
        ("hannah@example.org", "Hannah", "Berg", "", false),
        ("ida@example.org", "Ida", "Kranz", "", true),
        ("jo@example.org", "Jo", "Ann", "", true),
        ("kai@example.org", "Kai", "Lot", "", true),
        ("lea@example.org", "Lea", "Fuchs", "annex@example.org", true),
    ];
    let mut rows = Vec::new();
    for (primary, first, last, aliases, active) in specs {
        let row = create_row(
            w.pool(),
            &w.nora,
            "example.org",
            primary,
            &person(first, last, aliases),
        )
        .await
        .unwrap();
        let row = if active {
            row
        } else {
            set_active(w.pool(), &w.nora, &[(row.id, row.version)], false)
                .await
                .unwrap()
                .remove(0)
        };
        rows.push(row);
    }
    rows.push(
        create_row(
            w.pool(),
            &w.nora,
            "example.org",
            "team@example.org",
            &functional("Team", "", "anna@other.net"),
        )
        .await
        .unwrap(),
    );
    // A row of another domain never shows.
    create_row(
        w.pool(),
        &w.otto,
        "other.net",
        "anna@other.net",
        &person("Anna", "Other", ""),
    )
    .await
    .unwrap();
    // bert: pending; dora: primary confirmed, alias never sent; emil: expired; ida: confirmed + a
    // new round pending (reads pending).
    let t = now();
    challenge(
        w.pool(),
        rows[1].id,
        "bert@example.org",
        "pending",
        t - 100,
        None,
    )
    .await;
    challenge(
        w.pool(),
        rows[1].id,
        "bm@example.org",
        "pending",
        t - 100,
        None,
    )
    .await;
    link(w.pool(), rows[3].id, "dora@example.org", "sub-x", t - 300).await;
    challenge(
        w.pool(),
        rows[4].id,
        "emil@example.org",
        "pending",
        t - 8 * 86_400,
        None,
    )
    .await;
    link(w.pool(), rows[6].id, "ida@example.org", "sub-x", t - 300).await;
    challenge(
        w.pool(),
        rows[6].id,
        "ida@example.org",
        "pending",
        t - 100,
        None,
    )
    .await;
    rows
}

async fn primaries(w: &World, query: RowQuery) -> Vec<String> {
    list_rows(
        w.pool(),
        &w.db.search_matches,
        &w.nora,
        "example.org",
        &query,
    )
    .await
    .unwrap()
    .rows
    .into_iter()
    .map(|r| r.primary)
    .collect()
}

fn query(f: impl FnOnce(&mut RowQuery)) -> RowQuery {
    let mut q = RowQuery::default();
    f(&mut q);
    q
}

#[tokio::test]
async fn q9_r21_a_position_whose_values_do_not_fit_the_sort_is_refused_not_read_as_null() {
    use domain::table::{Anchor, SortValue};
    let w = world().await;
    table(&w).await;
    // A REST cursor read back from a client: a last-name sort needs two texts.
    for key in [
        vec![SortValue::Text("Adler".into())],
        vec![SortValue::Int(1), SortValue::Text("Anna".into())],
        vec![],
    ] {
        let q = query(|q| {
            q.sort = SortKey::LastName;
            q.anchor = Some(Anchor::AfterValues { key, id: 1 });
        });
        let refused = list_rows(w.pool(), &w.db.search_matches, &w.nora, "example.org", &q)
            .await
            .unwrap_err();
        assert!(matches!(refused, ServiceError::Invalid(_)), "{refused:?}");
    }
    // The fitting shape is read.
    let q = query(|q| {
        q.sort = SortKey::LastName;
        q.anchor = Some(Anchor::AfterValues {
            key: vec![SortValue::Text("A".into()), SortValue::Text("A".into())],
            id: 0,
        });
    });
    assert!(!primaries(&w, q).await.is_empty());
}

#[tokio::test]
async fn list_rows_sorts_by_every_column_in_both_directions() {
    let w = world().await;
    table(&w).await;

    let all = primaries(&w, RowQuery::default()).await;
    assert_eq!(all.len(), 11);
    assert!(all.windows(2).all(|p| p[0] < p[1]), "{all:?}");
    let mut reversed = all.clone();
    reversed.reverse();
    assert_eq!(
        primaries(&w, query(|q| q.descending = true)).await,
        reversed
    );

    let by_last = primaries(&w, query(|q| q.sort = SortKey::LastName)).await;
    assert_eq!(
        by_last[..4],
        [
            "cleo@example.org",
            "jo@example.org",
            "hannah@example.org",
            "lea@example.org"
        ]
    );
    let meyers: Vec<&String> = by_last
        .iter()
        .filter(|p| *p == "bert@example.org" || *p == "emil@example.org")
        .collect();
    assert_eq!(
        meyers,
        ["bert@example.org", "emil@example.org"],
        "then first name"
    );
    let by_last_desc = primaries(
        &w,
        query(|q| {
            q.sort = SortKey::LastName;
            q.descending = true;
        }),
    )
    .await;
    assert_eq!(by_last_desc[0], "dora@example.org"); // Zander
    let by_first = primaries(&w, query(|q| q.sort = SortKey::FirstName)).await;
    assert_eq!(by_first[0], "team@example.org", "empty first name first");
    assert_eq!(by_first[1], "anna@example.org");
    let by_type = primaries(
        &w,
        query(|q| {
            q.sort = SortKey::Type;
            q.descending = true;
        }),
    )
    .await;
    assert_eq!(
        by_type[10], "team@example.org",
        "descending: personal before functional"
    );
    let by_type = primaries(&w, query(|q| q.sort = SortKey::Type)).await;
    assert_eq!(by_type[0], "team@example.org");
    assert!(
        by_type[1..].windows(2).all(|p| p[0] < p[1]),
        "then by primary address"
    );
    let by_active = primaries(&w, query(|q| q.sort = SortKey::Active)).await;
    assert_eq!(
        by_active[..2],
        ["cleo@example.org", "hannah@example.org"],
        "inactive first"
    );
    backend::run!(w.pool(), ex => sqlx::query("UPDATE mailbox_rows SET updated_at = updated_at + 100 WHERE primary_address = 'emil@example.org'")
        .execute(ex)
        .await.map(backend::storage::engine::Done::from))
        .unwrap();
    let by_updated = primaries(
        &w,
        query(|q| {
            q.sort = SortKey::Updated;
            q.descending = true;
        }),
    )
    .await;
    assert_eq!(by_updated[0], "emil@example.org");
    let by_updated = primaries(&w, query(|q| q.sort = SortKey::Updated)).await;
    assert_eq!(by_updated[10], "emil@example.org");
}

#[tokio::test]
async fn list_rows_pages_through_the_filtered_rows() {
    let w = world().await;
    table(&w).await;
    let all = primaries(&w, RowQuery::default()).await;

    let mut seen = Vec::new();
    for page in 0..4 {
        let p = list_rows(
            w.pool(),
            &w.db.search_matches,
            &w.nora,
            "example.org",
            &query(|q| {
                q.page = page;
                q.page_size = 3;
            }),
        )
        .await
        .unwrap();
        assert_eq!((p.total, p.page, p.page_size), (11, page, 3));
        seen.extend(p.rows.into_iter().map(|r| r.primary));
    }
    assert_eq!(seen, all);

    let clamped = list_rows(
        w.pool(),
        &w.db.search_matches,
        &w.nora,
        "example.org",
        &query(|q| q.page_size = 0),
    )
    .await
    .unwrap();
    assert_eq!(
        (clamped.rows.len(), clamped.page_size, clamped.total),
        (1, 1, 11)
    );
    let big = list_rows(
        w.pool(),
        &w.db.search_matches,
        &w.nora,
        "example.org",
        &query(|q| q.page_size = 100_000),
    )
    .await
    .unwrap();
    assert_eq!(big.page_size, 200);
    let beyond = list_rows(
        w.pool(),
        &w.db.search_matches,
        &w.nora,
        "example.org",
        &query(|q| q.page = 99),
    )
    .await
    .unwrap();
    assert!(beyond.rows.is_empty());
    assert_eq!(beyond.total, 11);
}

#[tokio::test]
async fn list_rows_filters_by_activity_type_search_and_state() {
    let w = world().await;
    table(&w).await;
    let total = |q: RowQuery| {
        let pool = w.pool().clone();
        let search_matches = w.db.search_matches.clone();
        let nora = w.nora.clone();
        async move {
            let page = list_rows(&pool, &search_matches, &nora, "example.org", &q)
                .await
                .unwrap();
            let mut rows: Vec<String> = page.rows.into_iter().map(|r| r.primary).collect();
            rows.sort();
            assert_eq!(page.total as usize, rows.len());
            rows
        }
    };

    assert_eq!(
        total(query(|q| q.active = Some(false))).await,
        ["cleo@example.org", "hannah@example.org"]
    );
    assert_eq!(total(query(|q| q.active = Some(true))).await.len(), 9);
    assert_eq!(
        total(query(|q| q.mailbox_type = Some(MailboxType::Functional))).await,
        ["team@example.org"]
    );
    // Substring of a name or any address, case-insensitively; three characters and more use the
    // trigram index, shorter ones a scan: both give the same answer.
    assert_eq!(
        total(query(|q| q.search = "ANN".into())).await,
        [
            "anna@example.org",
            "hannah@example.org",
            "jo@example.org",
            "lea@example.org"
        ]
    );
    assert_eq!(
        total(query(|q| q.search = "annex@".into())).await,
        ["lea@example.org"]
    );
    assert_eq!(
        total(query(|q| q.search = "bm@e".into())).await,
        ["bert@example.org"]
    );
    assert_eq!(
        total(query(|q| q.search = "ZA".into())).await,
        ["dora@example.org"]
    );
    assert_eq!(
        total(query(|q| q.search = "%".into())).await,
        Vec::<String>::new()
    );
    assert_eq!(
        total(query(|q| q.search = "\"an".into())).await,
        Vec::<String>::new()
    );
    assert_eq!(
        total(query(|q| {
            q.search = "meyer".into();
            q.active = Some(true);
        }))
        .await,
        ["bert@example.org", "emil@example.org"]
    );
    // A row matches a state if any of its addresses is in it.
    assert_eq!(
        total(query(|q| q.state = Some(StateFilter::Pending))).await,
        ["bert@example.org", "ida@example.org"]
    );
    assert_eq!(
        total(query(|q| q.state = Some(StateFilter::Confirmed))).await,
        ["dora@example.org"],
        "ida's link shows as pending while a new round is under way"
    );
    let never = total(query(|q| q.state = Some(StateFilter::NeverSent))).await;
    assert!(
        never.contains(&"dora@example.org".to_string()),
        "its alias was never sent"
    );
    assert!(!never.contains(&"bert@example.org".to_string()));
    assert!(!never.contains(&"emil@example.org".to_string()));
    assert!(!never.contains(&"ida@example.org".to_string()));
    assert_eq!(never.len(), 8);

    // What the table shows per address agrees with the filters.
    let page = list_rows(
        w.pool(),
        &w.db.search_matches,
        &w.nora,
        "example.org",
        &RowQuery::default(),
    )
    .await
    .unwrap();
    let row = |p: &str| page.rows.iter().find(|r| r.primary == p).unwrap();
    assert!(matches!(
        state_of(row("emil@example.org"), "emil@example.org"),
        AddressState::Expired { .. }
    ));
    assert!(matches!(
        state_of(row("ida@example.org"), "ida@example.org"),
        AddressState::Pending { .. }
    ));
    assert!(matches!(
        state_of(row("dora@example.org"), "dora@example.org"),
        AddressState::Confirmed { user_name, .. } if user_name == "Xaver Link"
    ));
    assert_eq!(
        state_of(row("dora@example.org"), "d.zander@example.org"),
        &AddressState::NeverSent
    );
    assert_eq!(row("bert@example.org").aliases, ["bm@example.org"]);
}

#[tokio::test]
async fn search_follows_edits_and_deletions() {
    let w = world().await;
    let row = anna(&w).await;
    let found = |s: &'static str| {
        let pool = w.pool().clone();
        let search_matches = w.db.search_matches.clone();
        let nora = w.nora.clone();
        async move {
            list_rows(
                &pool,
                &search_matches,
                &nora,
                "example.org",
                &query(|q| q.search = s.into()),
            )
            .await
            .unwrap()
            .total
        }
    };
    assert_eq!(found("schmidt").await, 1);

    let edited = edit_row(
        w.pool(),
        &w.nora,
        row.id,
        row.version,
        &person("Anna", "Weber", "aw@example.org"),
    )
    .await
    .unwrap();
    assert_eq!(found("schmidt").await, 0);
    assert_eq!(found("weber").await, 1);
    assert_eq!(found("aw@ex").await, 1);

    delete_row(w.pool(), &w.nora, edited.id, edited.version)
        .await
        .unwrap();
    assert_eq!(found("weber").await, 0);
    // The trigram index itself forgot the row (the cascade ran its trigger) and agrees with the
    // stored texts: SQLite's FTS5 table (PostgreSQL's index is inside the engine).
    if backend::testing::on_postgres() {
        return;
    }
    let indexed: i64 =
        backend::run!(w.pool(), ex => sqlx::query_scalar("SELECT COUNT(*) FROM row_search WHERE row_search MATCH '\"weber\"'")
            .fetch_one(ex)
            .await)
            .unwrap();
    assert_eq!(indexed, 0);
    backend::run!(w.pool(), ex => sqlx::query("INSERT INTO row_search (row_search, rank) VALUES ('integrity-check', 1)")
        .execute(ex)
        .await.map(backend::storage::engine::Done::from))
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// The audit trail
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn list_audit_filters_by_row_actor_kind_and_time() {
    let w = world().await;
    let nina = viewer(w.pool(), "nina", &["nap-example"]).await;
    let row = anna(&w).await;
    let bert = create_row(
        w.pool(),
        &nina,
        "example.org",
        "bert@example.org",
        &person("Bert", "", ""),
    )
    .await
    .unwrap();
    edit_row(
        w.pool(),
        &nina,
        row.id,
        row.version,
        &person("Anna", "Weber", "as@example.org"),
    )
    .await
    .unwrap();
    delete_row(w.pool(), &w.nora, bert.id, bert.version)
        .await
        .unwrap();
    create_row(
        w.pool(),
        &w.otto,
        "other.net",
        "otto@other.net",
        &person("", "", ""),
    )
    .await
    .unwrap();
    let all = AuditFilter {
        limit: 100,
        ..AuditFilter::default()
    };
    let read = |f: AuditFilter| {
        let pool = w.pool().clone();
        let nora = w.nora.clone();
        async move {
            list_audit(&pool, &nora, "example.org", &f)
                .await
                .unwrap()
                .into_iter()
                .map(|e| (e.kind, e.subject.unwrap_or_default()))
                .collect::<Vec<_>>()
        }
    };

    let everything = read(all.clone()).await;
    assert_eq!(
        everything
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>(),
        [
            "row_deleted",
            "row_edited",
            "row_created",
            "row_created",
            "domain_registered"
        ],
        "newest first, only this domain"
    );
    assert_eq!(
        read(AuditFilter {
            row: Some(" AS@example.org".into()),
            ..all.clone()
        })
        .await
        .len(),
        2,
        "an alias finds its row's records"
    );
    assert_eq!(
        read(AuditFilter {
            row: Some("bert@example.org".into()),
            ..all.clone()
        })
        .await,
        [
            ("row_deleted".to_string(), "bert@example.org".to_string()),
            ("row_created".to_string(), "bert@example.org".to_string())
        ],
        "a deleted row's trail is still found"
    );
    assert_eq!(
        read(AuditFilter {
            actor: Some("nina".into()),
            ..all.clone()
        })
        .await
        .len(),
        2
    );
    assert_eq!(
        read(AuditFilter {
            kind: Some(AuditKind::RowCreated),
            ..all.clone()
        })
        .await
        .len(),
        2
    );
    assert_eq!(
        read(AuditFilter {
            limit: 1,
            ..all.clone()
        })
        .await
        .len(),
        1
    );
    let t = now();
    assert!(read(AuditFilter {
        from: Some(t + 3600),
        ..all.clone()
    })
    .await
    .is_empty());
    assert!(read(AuditFilter {
        to: Some(t - 3600),
        ..all.clone()
    })
    .await
    .is_empty());
    assert_eq!(
        read(AuditFilter {
            from: Some(t - 3600),
            to: Some(t + 3600),
            ..all.clone()
        })
        .await
        .len(),
        5
    );
}

#[test]
fn audit_csv_quotes_per_rfc_4180_and_neutralises_formulas() {
    let entries = [
        AuditEntry {
            id: 0,
            at: 1_750_000_000,
            actor: "nora".into(),
            kind: "row_edited".into(),
            subject: Some("anna@example.org".into()),
            before: Some(r#"{"last_name":"Schmidt, \"Anna\""}"#.into()),
            after: Some("line one\nline two".into()),
        },
        AuditEntry {
            id: 0,
            at: 1_750_000_001,
            actor: "=HYPERLINK(\"http://evil\")".into(),
            kind: "row_created".into(),
            subject: Some("+49 30 1234".into()),
            before: None,
            after: Some("@SUM(A1)".into()),
        },
        AuditEntry {
            id: 0,
            at: 0,
            actor: "-2+3".into(),
            kind: "row_deleted".into(),
            subject: None,
            before: None,
            after: None,
        },
    ];

    let csv = audit_csv(&entries);

    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "time_utc,unix_time,actor,kind,subject,before,after"
    );
    assert_eq!(
        lines[1],
        "2025-06-15 15:06 UTC,1750000000,nora,row_edited,anna@example.org,\"{\"\"last_name\"\":\"\"Schmidt, \\\"\"Anna\\\"\"\"\"}\",\"line one\nline two\""
    );
    assert_eq!(
        lines[2],
        "2025-06-15 15:06 UTC,1750000001,\"'=HYPERLINK(\"\"http://evil\"\")\",row_created,'+49 30 1234,,'@SUM(A1)"
    );
    assert_eq!(lines[3], "1970-01-01 00:00 UTC,0,'-2+3,row_deleted,,,");
    assert_eq!(lines[4], "", "every line ends with CRLF");
    assert_eq!(lines.len(), 5);
}

// ---------------------------------------------------------------------------------------------
// P2 timings (not a test of speed: it prints figures; run it in release)
// ---------------------------------------------------------------------------------------------

/// Fills a 100 000-row domain and prints list_rows latencies: p50/p99 of 200 sequential calls per
/// scenario, then 32 concurrent clients. Run with
/// `cargo test --release -p backend --features testing --test services p2_ -- --ignored --nocapture`
/// (`P2_BREAKDOWN=1` also prints the time of each storage call; `P2_KEEP_DB=<file>` keeps a copy
/// of the filled database for `sqlite3`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fills 100 000 rows and prints timings; run in release"]
async fn p2_list_rows_timings_over_100_000_rows() {
    use std::time::{Duration, Instant};

    let db = fresh_db().await;
    register_domain(&db.pool, "cli:root", "example.org", "nap-example")
        .await
        .unwrap();
    let nora = viewer(&db.pool, "nora", &["nap-example"]).await;
    let started = Instant::now();
    backend::testing::fill_domain(&db.pool, &nora, "example.org", 100_000)
        .await
        .unwrap();
    println!("filled 100 000 rows in {:?}", started.elapsed());
    if let Ok(path) = std::env::var("P2_KEEP_DB") {
        backend::run!(db.pool, ex => sqlx::query("VACUUM INTO $1")
            .bind(path)
            .execute(ex)
            .await.map(backend::storage::engine::Done::from))
        .unwrap();
    }

    let scenarios: [(&str, RowQuery); 7] = [
        ("no filter, by primary", RowQuery::default()),
        ("search \"ann\"", query(|q| q.search = "ann".into())),
        (
            "inactive, by last name desc",
            query(|q| {
                q.active = Some(false);
                q.sort = SortKey::LastName;
                q.descending = true;
            }),
        ),
        ("page 1000", query(|q| q.page = 1000)),
        (
            "state pending, by updated",
            query(|q| {
                q.state = Some(StateFilter::Pending);
                q.sort = SortKey::Updated;
            }),
        ),
        ("search \"an\" (short)", query(|q| q.search = "an".into())),
        ("search \"schmidt\"", query(|q| q.search = "schmidt".into())),
    ];
    let percentile = |d: &mut Vec<Duration>, p: f64| {
        d.sort();
        d[((d.len() as f64 * p).ceil() as usize).min(d.len()) - 1]
    };
    for (name, q) in &scenarios {
        let page = list_rows(&db.pool, &db.search_matches, &nora, "example.org", q)
            .await
            .unwrap();
        let mut times = Vec::with_capacity(200);
        for _ in 0..200 {
            let t = Instant::now();
            let p = list_rows(&db.pool, &db.search_matches, &nora, "example.org", q)
                .await
                .unwrap();
            times.push(t.elapsed());
            assert_eq!(p.total, page.total);
        }
        println!(
            "{name:<32} total {:>6}  rows {:>3}  p50 {:>9.3?}  p99 {:>9.3?}",
            page.total,
            page.rows.len(),
            percentile(&mut times, 0.50),
            percentile(&mut times, 0.99)
        );
        if std::env::var("P2_BREAKDOWN").is_ok() {
            breakdown(&db.pool, q).await;
        }
    }

    // 32 clients at once, each cycling through a mix of the scenarios above.
    for (mix_name, mix) in [
        ("first four scenarios", vec![0, 1, 2, 3]),
        ("no search (1st, 3rd, 4th)", vec![0, 2, 3]),
    ] {
        let started = Instant::now();
        let mut clients = Vec::new();
        for c in 0..32 {
            let pool = db.pool.clone();
            let search_matches = db.search_matches.clone();
            let nora = nora.clone();
            let queries: Vec<RowQuery> = mix.iter().map(|&i| scenarios[i].1.clone()).collect();
            clients.push(tokio::spawn(async move {
                let mut times = Vec::new();
                for i in 0..40 {
                    let q = &queries[(c + i) % queries.len()];
                    let t = Instant::now();
                    list_rows(&pool, &search_matches, &nora, "example.org", q)
                        .await
                        .unwrap();
                    times.push(t.elapsed());
                }
                times
            }));
        }
        let mut all = Vec::new();
        for c in clients {
            all.extend(c.await.unwrap());
        }
        let elapsed = started.elapsed();
        println!(
            "32 concurrent clients, {mix_name}: {} calls, {:.0}/s, p50 {:.3?}, p99 {:.3?}",
            all.len(),
            all.len() as f64 / elapsed.as_secs_f64(),
            percentile(&mut all, 0.50),
            percentile(&mut all, 0.99)
        );
    }
}

/// Where a list_rows call spends its time: p50 of the storage calls it makes (P2_BREAKDOWN=1).
async fn breakdown(pool: &Db, q: &RowQuery) {
    use backend::storage::rows::{
        count_rows, list_address_states, list_row_page, PageStart, RowFilter,
    };
    use std::time::Instant;
    let mut conn = pool.acquire().await.unwrap();
    let filter = RowFilter {
        domain_id: 1,
        active: q.active,
        mailbox_type: q.mailbox_type.map(MailboxType::as_str),
        state: q.state,
        search: &q.search,
        now: now(),
    };
    let (mut t_page, mut t_count, mut t_addr, mut t_ctx) = (vec![], vec![], vec![], vec![]);
    for _ in 0..50 {
        let t = Instant::now();
        let rows = list_row_page(
            &mut conn,
            &filter,
            q.sort,
            q.descending,
            50,
            PageStart::Offset(i64::from(q.page) * 50),
        )
        .await
        .unwrap();
        t_page.push(t.elapsed());
        let t = Instant::now();
        count_rows(&mut conn, &filter).await.unwrap();
        t_count.push(t.elapsed());
        let ids: Vec<i64> = rows.rows.iter().map(|r| r.id).collect();
        let t = Instant::now();
        list_address_states(&mut conn, &ids).await.unwrap();
        t_addr.push(t.elapsed());
        let t = Instant::now();
        backend::storage::domains::list_domains(&mut conn)
            .await
            .unwrap();
        t_ctx.push(t.elapsed());
    }
    let (mut t_one, mut t_fifty) = (vec![], vec![]);
    for _ in 0..50 {
        let t = Instant::now();
        let _: Vec<i64> = backend::run!(conn, ex => sqlx::query_scalar("SELECT 1")
            .fetch_all(ex)
            .await)
        .unwrap();
        t_one.push(t.elapsed());
        let t = Instant::now();
        let _: Vec<i64> = backend::run!(conn, ex => sqlx::query_scalar("WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < 50) SELECT x FROM s")
            .fetch_all(ex)
            .await)
            .unwrap();
        t_fifty.push(t.elapsed());
    }
    t_one.sort();
    t_fifty.sort();
    println!(
        "    round trip {:>9.3?}  50 rows {:>9.3?}",
        t_one[25], t_fifty[25]
    );
    for v in [&mut t_page, &mut t_count, &mut t_addr, &mut t_ctx] {
        v.sort();
    }
    println!(
        "    page {:>9.3?}  count {:>9.3?}  addresses {:>9.3?}  domains {:>9.3?}",
        t_page[25], t_count[25], t_addr[25], t_ctx[25]
    );
}
