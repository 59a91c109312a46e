use backend::config::Config;
use backend::domains::register_domain;
use backend::roles::{Refusal, Viewer};
use backend::sessions::SessionUser;
use backend::storage::domains::DomainRecord;
use backend::storage::Db;
use backend::testing::fresh_db;

fn user(groups: &[&str]) -> SessionUser {
    SessionUser {
        user_id: "nora".into(),
        given_name: "Nora".into(),
        family_name: "Nap".into(),
        email: None,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        session_started_at: 0,
    }
}

async fn two_domains(pool: &Db) -> (DomainRecord, DomainRecord) {
    let a = register_domain(pool, "olga", "a.example", "nap-a")
        .await
        .unwrap();
    let b = register_domain(pool, "olga", "b.example", "nap-b")
        .await
        .unwrap();
    (a, b)
}

#[tokio::test]
async fn r01_nap_administers_only_domains_of_their_groups() {
    let db = fresh_db().await;
    let (a, b) = two_domains(&db.pool).await;

    let nora = Viewer::load(&db.pool, user(&["nap-a", "staff"]), &Config::default())
        .await
        .unwrap();

    assert!(nora.is_nap());
    assert!(nora.administers(a.id));
    assert!(!nora.administers(b.id));
    assert_eq!(nora.require_nap_of(a.id).unwrap().name, "a.example");
    assert_eq!(
        nora.require_nap_of(b.id).unwrap_err(),
        Refusal::NotNapOfDomain
    );
    assert!(!nora.may_read_domain(b.id));
    assert!(!nora.is_operator);
    assert_eq!(nora.require_operator(), Err(Refusal::OperatorOnly));
}

#[tokio::test]
async fn r01_operators_are_members_of_the_configured_group_and_read_every_domain() {
    let db = fresh_db().await;
    let (a, b) = two_domains(&db.pool).await;
    let config = Config {
        operator_group: "pki-ops".into(),
        ..Config::default()
    };

    let olga = Viewer::load(&db.pool, user(&["pki-ops"]), &config)
        .await
        .unwrap();
    let default_group = Viewer::load(&db.pool, user(&["ra-operators"]), &config)
        .await
        .unwrap();

    assert!(olga.require_operator().is_ok());
    assert!(olga.may_read_domain(a.id) && olga.may_read_domain(b.id));
    assert!(
        !olga.is_nap() && !olga.administers(a.id),
        "operators do not manage tables"
    );
    assert!(
        !default_group.is_operator,
        "only the configured group counts"
    );
}

#[tokio::test]
async fn r01_a_user_without_groups_has_no_role() {
    let db = fresh_db().await;
    let (a, _) = two_domains(&db.pool).await;

    let anna = Viewer::load(&db.pool, user(&[]), &Config::default())
        .await
        .unwrap();

    assert!(!anna.is_nap() && !anna.is_operator && !anna.may_read_domain(a.id));
    assert!(anna.require_nap_of(a.id).is_err() && anna.require_operator().is_err());
}
