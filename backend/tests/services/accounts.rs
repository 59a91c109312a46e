use backend::accounts::{
    create_account, list_accounts, set_groups, set_password, verify_password, LoginRefused,
    NewAccount,
};
use backend::config::SessionConfig;
use backend::identity::IdentitySource;
use backend::secret::SecretString;
use backend::sessions::{find_session, start_session};
use backend::storage::Db;
use backend::testing::fresh_db;
use backend::ServiceError;
use domain::message::Message;

use super::{assert_audit_holds_no_secret, audit_records};

const ANNA_PASSWORD: &str = "correct horse battery";

fn anna() -> NewAccount {
    NewAccount {
        id: "anna".into(),
        given_name: "Anna".into(),
        family_name: "Schmidt".into(),
        email: Some("Anna@Example.org".into()),
        groups: vec!["nap-example".into(), "staff".into(), "nap-example".into()],
        password: SecretString::from(ANNA_PASSWORD),
    }
}

async fn with_anna() -> backend::testing::TestDb {
    let db = fresh_db().await;
    create_account(&db.pool, anna(), "cli:root").await.unwrap();
    db
}

async fn stored_hash(pool: &Db, id: &str) -> String {
    backend::run!(pool, ex => sqlx::query_scalar("SELECT password_hash FROM local_accounts WHERE id = $1")
        .bind(id)
        .fetch_one(ex)
        .await)
        .unwrap()
}

#[tokio::test]
async fn r16_creating_an_account_stores_a_hash_and_audits_without_secrets() {
    let db = with_anna().await;

    let accounts = list_accounts(&db.pool).await.unwrap();
    assert_eq!(accounts.len(), 1);
    let a = &accounts[0];
    assert_eq!((a.id.as_str(), a.given_name.as_str()), ("anna", "Anna"));
    assert_eq!(
        a.email.as_deref(),
        Some("anna@example.org"),
        "parsed at the edge"
    );
    assert_eq!(
        a.groups,
        ["nap-example", "staff"],
        "sorted, duplicates dropped"
    );
    let hash = stored_hash(&db.pool, "anna").await;
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(ANNA_PASSWORD));

    let records = audit_records(&db.pool).await;
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(
        (r.kind.as_str(), r.actor.as_str()),
        ("account_created", "cli:root")
    );
    assert_eq!(r.subject.as_deref(), Some("anna"));
    let after: serde_json::Value = serde_json::from_str(r.after.as_deref().unwrap()).unwrap();
    assert_eq!(after["groups"], serde_json::json!(["nap-example", "staff"]));
    assert_audit_holds_no_secret(&db.pool, &[ANNA_PASSWORD]).await;
}

#[tokio::test]
async fn local_login_gives_the_identity_of_the_account() {
    let db = with_anna().await;

    let who = verify_password(&db.pool, "anna", &SecretString::from(ANNA_PASSWORD))
        .await
        .unwrap();

    assert_eq!(who.user_id, "anna");
    assert_eq!(
        (who.given_name.as_str(), who.family_name.as_str()),
        ("Anna", "Schmidt")
    );
    assert_eq!(who.groups, ["nap-example", "staff"]);
    assert_eq!(who.source, IdentitySource::Local);
}

#[tokio::test]
async fn q6_wrong_password_and_unknown_user_are_refused_alike() {
    let db = with_anna().await;

    let wrong = verify_password(&db.pool, "anna", &SecretString::from("wrong password!"))
        .await
        .unwrap_err();
    let unknown = verify_password(&db.pool, "nobody", &SecretString::from(ANNA_PASSWORD))
        .await
        .unwrap_err();
    let malformed = verify_password(&db.pool, "Not An Id", &SecretString::from(ANNA_PASSWORD))
        .await
        .unwrap_err();

    for refusal in [&wrong, &unknown, &malformed] {
        assert!(
            matches!(refusal, LoginRefused::BadCredentials),
            "{refusal:?}"
        );
        assert_eq!(refusal.to_string(), wrong.to_string());
    }
    assert!(!wrong.to_string().contains("anna"));
}

#[tokio::test]
async fn a_new_password_replaces_the_old_one_and_ends_the_sessions() {
    let db = with_anna().await;
    let who = verify_password(&db.pool, "anna", &SecretString::from(ANNA_PASSWORD))
        .await
        .unwrap();
    let config = SessionConfig::default();
    let token = start_session(&db.pool, &who, 1_000, &config).await.unwrap();
    let new_password = "a much newer passphrase";

    set_password(
        &db.pool,
        "anna",
        SecretString::from(new_password),
        "cli:root",
    )
    .await
    .unwrap();

    assert!(
        verify_password(&db.pool, "anna", &SecretString::from(ANNA_PASSWORD))
            .await
            .is_err()
    );
    assert!(
        verify_password(&db.pool, "anna", &SecretString::from(new_password))
            .await
            .is_ok()
    );
    let session = find_session(&db.pool, token.expose_cookie_value(), 1_001, &config)
        .await
        .unwrap();
    assert_eq!(session, None, "a password change ends running sessions");
    let records = audit_records(&db.pool).await;
    assert_eq!(records.last().unwrap().kind, "account_changed");
    assert_audit_holds_no_secret(&db.pool, &[ANNA_PASSWORD, new_password]).await;
}

#[tokio::test]
async fn r16_setting_groups_audits_before_and_after() {
    let db = with_anna().await;

    let a = set_groups(&db.pool, "anna", &["ra-operators".into()], "cli:root")
        .await
        .unwrap();
    let again = set_groups(&db.pool, "anna", &["ra-operators".into()], "cli:root")
        .await
        .unwrap();

    assert_eq!(a.groups, ["ra-operators"]);
    assert_eq!(again.groups, ["ra-operators"]);
    let records = audit_records(&db.pool).await;
    assert_eq!(
        records.len(),
        2,
        "creation and one change; the no-op writes nothing"
    );
    let r = &records[1];
    assert_eq!(r.kind, "account_changed");
    assert_eq!(
        r.before.as_deref(),
        Some(r#"{"groups":["nap-example","staff"]}"#)
    );
    assert_eq!(r.after.as_deref(), Some(r#"{"groups":["ra-operators"]}"#));
    let listed = list_accounts(&db.pool).await.unwrap();
    assert_eq!(listed[0].groups, ["ra-operators"]);
}

#[tokio::test]
async fn bad_account_input_is_refused_with_a_clear_message_and_writes_nothing() {
    let db = with_anna().await;
    let cases: Vec<(NewAccount, &str)> = vec![
        (
            NewAccount {
                id: "Anna".into(),
                ..anna()
            },
            "invalid account id: \"Anna\" contains 'A'",
        ),
        (
            NewAccount {
                id: "".into(),
                ..anna()
            },
            "invalid account id: it is empty",
        ),
        (
            NewAccount {
                id: "x".repeat(65),
                ..anna()
            },
            "at most 64",
        ),
        (
            NewAccount {
                id: "ben".into(),
                password: SecretString::from("short"),
                ..anna()
            },
            "the password is not acceptable: it must be at least 10 characters long",
        ),
        (
            NewAccount {
                id: "ben".into(),
                groups: vec!["a b".into()],
                ..anna()
            },
            "invalid group",
        ),
        (
            NewAccount {
                id: "ben".into(),
                email: Some("ben".into()),
                ..anna()
            },
            "not an email address",
        ),
        (
            NewAccount {
                id: "ben".into(),
                given_name: "B\u{7}en".into(),
                ..anna()
            },
            "invalid given name",
        ),
        (anna(), "the account anna already exists"),
    ];
    for (account, expected) in cases {
        let e = create_account(&db.pool, account, "cli:root")
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains(expected),
            "{e} does not say {expected:?}"
        );
        assert!(!e.is_internal(), "{e:?}");
    }
    assert_eq!(list_accounts(&db.pool).await.unwrap().len(), 1);
    assert_eq!(audit_records(&db.pool).await.len(), 1);
    assert_audit_holds_no_secret(&db.pool, &[ANNA_PASSWORD, "short"]).await;
}

#[tokio::test]
async fn an_unknown_account_cannot_be_changed() {
    let db = fresh_db().await;

    let e = set_password(
        &db.pool,
        "ghost",
        SecretString::from("long enough pw"),
        "cli:root",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, ServiceError::NotFound(Message::AccountNotFound { .. })),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "there is no account ghost");
    let e = set_groups(&db.pool, "ghost", &[], "cli:root")
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "there is no account ghost");
    assert!(audit_records(&db.pool).await.is_empty());
}
