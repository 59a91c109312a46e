use backend::config::SessionConfig;
use backend::identity::IdentitySource;
use backend::sessions::{end_session, find_session, purge_expired_sessions, start_session};
use backend::storage::users::find_user;
use backend::storage::Db;
use backend::testing::fresh_db;
use sha2::{Digest, Sha256};

use super::identity;

const T0: i64 = 1_700_000_000;
const MINUTE: i64 = 60;
const HOUR: i64 = 3600;

fn config() -> SessionConfig {
    SessionConfig {
        idle_minutes: 60,
        absolute_hours: 12,
    }
}

async fn session_count(pool: &Db) -> i64 {
    backend::run!(pool, ex => sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(ex)
        .await)
    .unwrap()
}

async fn last_seen(pool: &Db) -> i64 {
    backend::run!(pool, ex => sqlx::query_scalar("SELECT last_seen_at FROM sessions")
        .fetch_one(ex)
        .await)
    .unwrap()
}

#[tokio::test]
async fn q2_session_id_is_random_and_stored_only_as_its_hash() {
    let db = fresh_db().await;
    let who = identity("anna", &[]);

    let a = start_session(&db.pool, &who, T0, &config()).await.unwrap();
    let b = start_session(&db.pool, &who, T0, &config()).await.unwrap();

    let cookie = a.expose_cookie_value();
    assert_eq!(cookie.len(), 43, "32 random bytes in base64url");
    assert_ne!(cookie, b.expose_cookie_value());
    assert!(
        !format!("{a:?}").contains(cookie),
        "Debug must not show the token"
    );
    let stored: Vec<Vec<u8>> =
        backend::run!(db.pool, ex => sqlx::query_scalar("SELECT id_hash FROM sessions")
        .fetch_all(ex)
        .await)
        .unwrap();
    let expected = Sha256::digest(cookie.as_bytes()).to_vec();
    assert!(stored.contains(&expected), "the hash is the key");
    let in_clear: i64 = backend::run!(db.pool, ex => sqlx::query_scalar(
        "SELECT count(*) FROM sessions WHERE CAST(id_hash AS TEXT) = $1 OR groups LIKE '%' || $1 || '%'",
    )
    .bind(cookie)
    .fetch_one(ex)
    .await)
    .unwrap();
    assert_eq!(in_clear, 0, "the session ID itself is nowhere in the table");
}

#[tokio::test]
async fn q2_a_session_gives_back_the_user_and_groups_of_the_login() {
    let db = fresh_db().await;
    let token = start_session(
        &db.pool,
        &identity("anna", &["nap-example", "staff"]),
        T0,
        &config(),
    )
    .await
    .unwrap();

    let user = find_session(&db.pool, token.expose_cookie_value(), T0 + 5, &config())
        .await
        .unwrap()
        .expect("valid session");

    assert_eq!(user.user_id, "anna");
    assert_eq!(
        (user.given_name.as_str(), user.family_name.as_str()),
        ("Anna", "Schmidt")
    );
    assert_eq!(user.email.as_deref(), Some("anna@example.org"));
    assert_eq!(user.groups, ["nap-example", "staff"]);
    assert_eq!(user.session_started_at, T0);
}

#[tokio::test]
async fn q2_logging_in_records_the_user_with_the_idm_names() {
    let db = fresh_db().await;
    start_session(&db.pool, &identity("anna", &[]), T0, &config())
        .await
        .unwrap();
    let mut renamed = identity("anna", &[]);
    renamed.family_name = "Weber".into();
    renamed.source = IdentitySource::Local;

    start_session(&db.pool, &renamed, T0 + HOUR, &config())
        .await
        .unwrap();

    let mut conn = db.pool.acquire().await.unwrap();
    let user = find_user(&mut conn, "anna")
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(user.family_name, "Weber", "names follow the IdM");
    assert_eq!(user.source, "local");
    assert_eq!((user.first_seen_at, user.last_login_at), (T0, T0 + HOUR));
}

#[tokio::test]
async fn q2_idle_session_expires() {
    let db = fresh_db().await;
    let token = start_session(&db.pool, &identity("anna", &[]), T0, &config())
        .await
        .unwrap();
    let cookie = token.expose_cookie_value();

    let used = find_session(&db.pool, cookie, T0 + 59 * MINUTE, &config())
        .await
        .unwrap();
    let still = find_session(&db.pool, cookie, T0 + 118 * MINUTE, &config())
        .await
        .unwrap();
    let idle = find_session(&db.pool, cookie, T0 + 178 * MINUTE, &config())
        .await
        .unwrap();

    assert!(
        used.is_some() && still.is_some(),
        "use keeps a session alive"
    );
    assert_eq!(idle, None, "60 minutes unused ends it");
    assert_eq!(session_count(&db.pool).await, 0, "and deletes it");
    let later = find_session(&db.pool, cookie, T0 + 179 * MINUTE, &config())
        .await
        .unwrap();
    assert_eq!(later, None);
}

#[tokio::test]
async fn q2_absolute_timeout_ends_a_session_in_use() {
    let db = fresh_db().await;
    let token = start_session(&db.pool, &identity("anna", &[]), T0, &config())
        .await
        .unwrap();
    let cookie = token.expose_cookie_value();

    let mut now = T0;
    while now < T0 + 12 * HOUR - 30 * MINUTE {
        now += 30 * MINUTE;
        assert!(
            find_session(&db.pool, cookie, now, &config())
                .await
                .unwrap()
                .is_some(),
            "at {now}"
        );
    }
    let at_end = find_session(&db.pool, cookie, T0 + 12 * HOUR, &config())
        .await
        .unwrap();

    assert_eq!(
        at_end, None,
        "12 hours after login the session ends, used or not"
    );
    assert_eq!(session_count(&db.pool).await, 0);
}

#[tokio::test]
async fn q2_shortened_timeouts_apply_to_running_sessions() {
    let db = fresh_db().await;
    let token = start_session(&db.pool, &identity("anna", &[]), T0, &config())
        .await
        .unwrap();
    let shorter = SessionConfig {
        idle_minutes: 60,
        absolute_hours: 1,
    };

    let found = find_session(&db.pool, token.expose_cookie_value(), T0 + HOUR, &shorter)
        .await
        .unwrap();

    assert_eq!(found, None);
}

#[tokio::test]
async fn q2_last_seen_is_written_at_most_once_a_minute() {
    let db = fresh_db().await;
    let token = start_session(&db.pool, &identity("anna", &[]), T0, &config())
        .await
        .unwrap();
    let cookie = token.expose_cookie_value();

    find_session(&db.pool, cookie, T0 + 59, &config())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last_seen(&db.pool).await, T0, "no write within the minute");
    find_session(&db.pool, cookie, T0 + 60, &config())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last_seen(&db.pool).await, T0 + 60);
}

#[tokio::test]
async fn q2_logout_ends_the_session() {
    let db = fresh_db().await;
    let token = start_session(&db.pool, &identity("anna", &[]), T0, &config())
        .await
        .unwrap();
    let other = start_session(&db.pool, &identity("ben", &[]), T0, &config())
        .await
        .unwrap();
    let cookie = token.expose_cookie_value();

    assert!(end_session(&db.pool, cookie).await.unwrap());

    assert_eq!(
        find_session(&db.pool, cookie, T0 + 1, &config())
            .await
            .unwrap(),
        None
    );
    assert!(
        !end_session(&db.pool, cookie).await.unwrap(),
        "a second logout finds nothing"
    );
    let ben = find_session(&db.pool, other.expose_cookie_value(), T0 + 1, &config())
        .await
        .unwrap();
    assert!(ben.is_some(), "other sessions go on");
}

#[tokio::test]
async fn q2_unknown_and_malformed_cookies_find_nothing() {
    let db = fresh_db().await;
    start_session(&db.pool, &identity("anna", &[]), T0, &config())
        .await
        .unwrap();

    for cookie in ["", "x", &"A".repeat(43), &"A".repeat(200), "' OR 1=1 --"] {
        let found = find_session(&db.pool, cookie, T0 + 1, &config())
            .await
            .unwrap();
        assert_eq!(found, None, "{cookie}");
        assert!(!end_session(&db.pool, cookie).await.unwrap());
    }
    assert_eq!(session_count(&db.pool).await, 1);
}

#[tokio::test]
async fn q2_purging_removes_only_timed_out_sessions() {
    let db = fresh_db().await;
    let who = identity("anna", &[]);
    start_session(&db.pool, &who, T0, &config()).await.unwrap();
    start_session(&db.pool, &who, T0 + 2 * HOUR, &config())
        .await
        .unwrap();
    let fresh = start_session(&db.pool, &who, T0 + 2 * HOUR + 30 * MINUTE, &config())
        .await
        .unwrap();

    let purged = purge_expired_sessions(&db.pool, T0 + 3 * HOUR, &config())
        .await
        .unwrap();

    assert_eq!(purged, 2, "idle for an hour or more");
    assert_eq!(session_count(&db.pool).await, 1);
    let left = find_session(
        &db.pool,
        fresh.expose_cookie_value(),
        T0 + 3 * HOUR,
        &config(),
    )
    .await
    .unwrap();
    assert!(left.is_some());
}

/// The one-statement look-up every request makes: the session's user with the roles that
/// `Viewer::load` works out, read afresh each time.
#[tokio::test]
async fn q1_find_viewer_gives_the_roles_of_viewer_load_and_sees_a_new_contact_group_at_once() {
    use backend::config::Config;
    use backend::domains::{register_domain, set_contact_group};
    use backend::roles::Viewer;
    use backend::sessions::find_viewer;

    let db = fresh_db().await;
    let config = Config {
        session: config(),
        operator_group: "pki-ops".into(),
        ..Config::default()
    };
    register_domain(&db.pool, "cli:root", "example.org", "nap-example")
        .await
        .unwrap();
    register_domain(&db.pool, "cli:root", "example.net", "nap-net")
        .await
        .unwrap();
    let token = start_session(
        &db.pool,
        &identity("nora", &["nap-example", "pki-ops", "staff"]),
        T0,
        &config.session,
    )
    .await
    .unwrap();
    let cookie = token.expose_cookie_value();

    let viewer = find_viewer(&db.pool, cookie, T0 + 5, &config)
        .await
        .unwrap()
        .expect("a valid session");
    let user = find_session(&db.pool, cookie, T0 + 5, &config.session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(viewer, Viewer::load(&db.pool, user, &config).await.unwrap());
    assert!(viewer.is_operator);
    let names: Vec<&str> = viewer.nap_domains.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["example.org"]);

    set_contact_group(&db.pool, "olga", "example.net", "staff")
        .await
        .unwrap();
    let viewer = find_viewer(&db.pool, cookie, T0 + 6, &config)
        .await
        .unwrap()
        .unwrap();
    let names: Vec<&str> = viewer.nap_domains.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["example.net", "example.org"], "by name, at once");
}

#[tokio::test]
async fn q2_find_viewer_refuses_a_timed_out_session_and_an_unknown_cookie() {
    use backend::config::Config;
    use backend::sessions::find_viewer;

    let db = fresh_db().await;
    let config = Config {
        session: config(),
        ..Config::default()
    };
    let token = start_session(&db.pool, &identity("anna", &[]), T0, &config.session)
        .await
        .unwrap();

    assert!(find_viewer(&db.pool, &"x".repeat(43), T0, &config)
        .await
        .unwrap()
        .is_none());
    assert!(find_viewer(
        &db.pool,
        token.expose_cookie_value(),
        T0 + 61 * MINUTE,
        &config
    )
    .await
    .unwrap()
    .is_none());
    assert_eq!(
        session_count(&db.pool).await,
        0,
        "the idle session is deleted"
    );
}
