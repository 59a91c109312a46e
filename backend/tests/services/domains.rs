use backend::domains::{list_domains, register_domain, set_contact_group};
use backend::testing::fresh_db;
use backend::ServiceError;
use domain::message::Message;

use super::audit_records;

#[tokio::test]
async fn r16_registering_a_domain_writes_an_audit_record() {
    let db = fresh_db().await;

    let d = register_domain(&db.pool, "cli:root", "Example.ORG", "nap-example")
        .await
        .unwrap();

    assert_eq!(
        (d.name.as_str(), d.contact_group.as_str()),
        ("example.org", "nap-example")
    );
    let records = audit_records(&db.pool).await;
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.kind, "domain_registered");
    assert_eq!(r.actor, "cli:root");
    assert_eq!(r.domain_id, Some(d.id));
    assert_eq!(r.subject.as_deref(), Some("example.org"));
    assert_eq!(r.before, None);
    assert_eq!(
        r.after.as_deref(),
        Some(r#"{"contact_group":"nap-example","name":"example.org"}"#)
    );
}

#[tokio::test]
async fn internationalised_domains_are_stored_in_punycode() {
    let db = fresh_db().await;

    let d = register_domain(&db.pool, "cli:root", "müller.de", "nap-m")
        .await
        .unwrap();

    assert_eq!(d.name, "xn--mller-kva.de");
}

#[tokio::test]
async fn registering_a_domain_twice_is_refused_clearly() {
    let db = fresh_db().await;
    register_domain(&db.pool, "cli:root", "example.org", "nap-example")
        .await
        .unwrap();

    let e = register_domain(&db.pool, "cli:root", "EXAMPLE.org", "other")
        .await
        .unwrap_err();

    assert!(
        matches!(
            e,
            ServiceError::Invalid(Message::DomainAlreadyRegistered { .. })
        ),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "example.org is already registered");
    assert_eq!(audit_records(&db.pool).await.len(), 1);
    assert_eq!(
        list_domains(&db.pool).await.unwrap()[0].contact_group,
        "nap-example"
    );
}

#[tokio::test]
async fn bad_domain_names_and_contact_groups_are_refused_with_a_reason() {
    let db = fresh_db().await;
    let cases = [
        (
            "localhost",
            "nap",
            "\"localhost\" is not a valid domain name: it has only one label",
        ),
        (
            "exa mple.org",
            "nap",
            "is not a valid domain name: it contains U+0020",
        ),
        ("", "nap", "is not a valid domain name: it is empty"),
        (
            "example.org",
            "",
            "invalid contact group: the group name is empty",
        ),
        (
            "example.org",
            "nap example",
            "invalid contact group: the group name \"nap example\" contains whitespace",
        ),
        ("example.org", &"g".repeat(201), "at most 200"),
    ];
    for (name, group, expected) in cases {
        let e = register_domain(&db.pool, "cli:root", name, group)
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains(expected),
            "{e} does not say {expected:?}"
        );
    }
    assert!(list_domains(&db.pool).await.unwrap().is_empty());
    assert!(audit_records(&db.pool).await.is_empty());
}

#[tokio::test]
async fn r16_changing_the_contact_group_writes_before_and_after() {
    let db = fresh_db().await;
    let d = register_domain(&db.pool, "cli:root", "example.org", "nap-old")
        .await
        .unwrap();

    let changed = set_contact_group(&db.pool, "olga", "example.org", "nap-new")
        .await
        .unwrap();
    let same = set_contact_group(&db.pool, "olga", "example.org", "nap-new")
        .await
        .unwrap();

    assert_eq!(changed.contact_group, "nap-new");
    assert_eq!(same.contact_group, "nap-new");
    assert_eq!(
        list_domains(&db.pool).await.unwrap()[0].contact_group,
        "nap-new"
    );
    let records = audit_records(&db.pool).await;
    assert_eq!(
        records.len(),
        2,
        "registration and one change; the no-op writes nothing"
    );
    let r = &records[1];
    assert_eq!(
        (r.kind.as_str(), r.actor.as_str()),
        ("domain_contact_group_changed", "olga")
    );
    assert_eq!(r.domain_id, Some(d.id));
    assert!(r.before.as_deref().unwrap().contains("nap-old"));
    assert!(r.after.as_deref().unwrap().contains("nap-new"));
}

#[tokio::test]
async fn the_contact_group_of_an_unregistered_domain_cannot_be_set() {
    let db = fresh_db().await;

    let e = set_contact_group(&db.pool, "olga", "example.org", "nap")
        .await
        .unwrap_err();

    assert_eq!(e.to_string(), "example.org is not registered");
    assert!(audit_records(&db.pool).await.is_empty());
}

#[tokio::test]
async fn q6_internal_errors_show_no_details_but_keep_the_cause() {
    let db = fresh_db().await;
    db.pool.close().await;

    let e = list_domains(&db.pool).await.unwrap_err();

    assert!(e.is_internal());
    assert_eq!(e.to_string(), "internal error");
    let cause = std::error::Error::source(&e).expect("cause kept for the log");
    assert!(!cause.to_string().is_empty());
}

#[tokio::test]
async fn q9_a_refused_contact_group_is_data_the_operator_page_words_in_its_language() {
    let db = fresh_db().await;
    let e = register_domain(&db.pool, "cli:root", "example.org", "")
        .await
        .unwrap_err();
    assert!(
        matches!(e, ServiceError::Invalid(Message::ContactGroupEmpty)),
        "{e:?}"
    );
    register_domain(&db.pool, "cli:root", "example.org", "nap")
        .await
        .unwrap();
    let e = set_contact_group(&db.pool, "olga", "example.org", "nap example")
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ServiceError::Invalid(Message::ContactGroupWhitespace { ref shown }) if shown == "nap example"
        ),
        "{e:?}"
    );
    let e = set_contact_group(&db.pool, "olga", "example.org", &"g".repeat(201))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ServiceError::Invalid(Message::ContactGroupTooLong { len: 201, max: 200 })
        ),
        "{e:?}"
    );
}
