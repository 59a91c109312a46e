use backend::accounts::{list_accounts, verify_password};
use backend::config::Config;
use backend::demo::seed_demo;
use backend::roles::Viewer;
use backend::secret::SecretString;
use backend::sessions::{find_session, start_session};
use backend::testing::fresh_db;

use super::{assert_audit_holds_no_secret, audit_records};

#[tokio::test]
async fn demo_seeding_makes_a_nap_and_an_operator_who_can_log_in() {
    let db = fresh_db().await;
    let config = Config::default();

    let summary = seed_demo(&db.pool, &config).await.unwrap();

    assert!(summary.created);
    let shown = summary.to_string();
    assert!(shown.contains("http://127.0.0.1:3000/login"), "{shown}");
    assert!(
        shown.contains("nora") && shown.contains("demo-nora-password"),
        "{shown}"
    );
    let ids: Vec<String> = list_accounts(&db.pool)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(ids, ["anna", "ben", "nora", "olga"]);

    let nora = verify_password(&db.pool, "nora", &SecretString::from("demo-nora-password"))
        .await
        .unwrap();
    let token = start_session(&db.pool, &nora, 100, &config.session)
        .await
        .unwrap();
    let user = find_session(&db.pool, token.expose_cookie_value(), 101, &config.session)
        .await
        .unwrap()
        .unwrap();
    let nora = Viewer::load(&db.pool, user, &config).await.unwrap();
    assert_eq!(nora.nap_domains.len(), 1);
    assert_eq!(nora.nap_domains[0].name, "example.org");
    assert!(!nora.is_operator);

    let olga = verify_password(&db.pool, "olga", &SecretString::from("demo-olga-password"))
        .await
        .unwrap();
    assert_eq!(olga.groups, vec![config.operator_group.clone()]);
    assert_eq!(
        (olga.given_name.as_str(), olga.family_name.as_str()),
        ("Olga", "Operator")
    );
    assert_audit_holds_no_secret(&db.pool, &["demo-olga-password", "demo-nora-password"]).await;
}

#[tokio::test]
async fn demo_seeding_is_idempotent() {
    let db = fresh_db().await;
    let config = Config::default();
    seed_demo(&db.pool, &config).await.unwrap();
    let records = audit_records(&db.pool).await.len();

    let again = seed_demo(&db.pool, &config).await.unwrap();

    assert!(!again.created);
    assert!(
        again.to_string().contains("demo-nora-password"),
        "still says how to log in"
    );
    assert_eq!(
        audit_records(&db.pool).await.len(),
        records,
        "nothing written"
    );
    assert_eq!(list_accounts(&db.pool).await.unwrap().len(), 4);
}
