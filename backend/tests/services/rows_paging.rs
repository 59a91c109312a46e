//! Paging of the address table over a generated domain: every page that `list_rows` returns, for
//! every combination of filters and sort keys in both directions, is the same slice of the rows,
//! in the same order, as a plain query over the whole table gives (no index tricks, no paging).
//! Guards the two page plans of `storage::rows::list_row_page` (ids from the covering sort index,
//! or from the set of matching rows) and the indexes of migration 0004, each read by page number
//! and stepped through with the pager's anchors (the row next to which a page lies).

use backend::config::Config;
use backend::domains::register_domain;
use backend::roles::Viewer;
use backend::rows::{delete_row, list_rows, Anchor, RowQuery, SortKey, StateFilter};
use backend::search_matches::SearchMatches;
use backend::sessions::SessionUser;
use backend::storage::Db;
use backend::testing::{fill_domain, fresh_db};
use domain::mailbox::MailboxType;

const ROWS: usize = 700;
const PAGE_SIZE: u32 = 40;

/// The primary addresses of the rows matching `q`, in its order: written independently of the
/// storage module, as the filters read in SPEC §2 and the table's sort keys.
async fn naive(pool: &Db, q: &RowQuery, now: i64) -> Vec<String> {
    let state = match q.state {
        None => "TRUE",
        Some(StateFilter::Pending) => {
            "EXISTS (SELECT 1 FROM challenges c WHERE c.row_id = r.id AND c.state = 'pending'
                 AND c.expires_at > $4)"
        }
        Some(StateFilter::Confirmed) => {
            "EXISTS (SELECT 1 FROM links l WHERE l.row_id = r.id AND NOT EXISTS (
                 SELECT 1 FROM challenges c WHERE c.address = l.address AND c.state = 'pending'
                 AND c.expires_at > $4))"
        }
        Some(StateFilter::NeverSent) => {
            "EXISTS (SELECT 1 FROM addresses a WHERE a.row_id = r.id AND NOT EXISTS (
                 SELECT 1 FROM challenges c WHERE c.address = a.address AND c.row_id = r.id))"
        }
    };
    let columns = match q.sort {
        SortKey::Primary => "primary_address",
        SortKey::LastName => "last_name, first_name, id",
        SortKey::FirstName => "first_name, last_name, id",
        SortKey::Type => "mailbox_type, primary_address",
        SortKey::Active => "active, primary_address",
        SortKey::Updated => "updated_at, id",
    };
    let order = columns
        .split(", ")
        .map(|c| format!("r.{c}{}", if q.descending { " DESC" } else { "" }))
        .collect::<Vec<_>>()
        .join(", ");
    // "Contains", without LIKE's wildcards.
    let contains = if backend::testing::on_postgres() {
        "strpos(t.text, $3) > 0"
    } else {
        "instr(t.text, $3) > 0"
    };
    let sql = format!(
        "SELECT r.primary_address FROM mailbox_rows r JOIN domains d ON d.id = r.domain_id
         WHERE d.name = 'example.org'
           AND ($1 IS NULL OR r.active = $1)
           AND ($2 IS NULL OR r.mailbox_type = $2)
           AND ($3 = '' OR EXISTS (SELECT 1 FROM row_search_text t
                                   WHERE t.row_id = r.id AND {contains}))
           AND {state}
         ORDER BY {order}"
    );
    backend::run!(pool, ex => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(q.active)
        .bind(q.mailbox_type.map(MailboxType::as_str))
        .bind(q.search.trim().to_lowercase())
        .bind(now)
        .fetch_all(ex)
        .await)
    .unwrap()
}

async fn viewer(pool: &Db, user_id: &str, groups: &[&str]) -> Viewer {
    let user = SessionUser {
        user_id: user_id.into(),
        given_name: "Nora".into(),
        family_name: "Nap".into(),
        email: None,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        session_started_at: 0,
    };
    Viewer::load(pool, user, &Config::default()).await.unwrap()
}

#[tokio::test]
async fn every_page_of_every_filter_and_sort_is_the_plain_query_s_slice() {
    let db = fresh_db().await;
    register_domain(&db.pool, "cli:root", "example.org", "nap-example")
        .await
        .unwrap();
    let nora = viewer(&db.pool, "nora", &["nap-example"]).await;
    // Names with many ties (24 first, 30 last names), 10 % functional, 10 % inactive, aliases,
    // pending and confirmed challenges, links.
    fill_domain(&db.pool, &nora, "example.org", ROWS)
        .await
        .unwrap();
    let now = backend::clock::now();

    let sorts = [
        SortKey::Primary,
        SortKey::LastName,
        SortKey::FirstName,
        SortKey::Type,
        SortKey::Active,
        SortKey::Updated,
    ];
    let states = [
        None,
        Some(StateFilter::Pending),
        Some(StateFilter::Confirmed),
        Some(StateFilter::NeverSent),
    ];
    // Trigram search, short search (scan), a search of one row, and none.
    let searches = ["", "schm", "an", "team17@"];
    let mut checked = 0;
    for active in [None, Some(true), Some(false)] {
        for mailbox_type in [
            None,
            Some(MailboxType::Personal),
            Some(MailboxType::Functional),
        ] {
            for state in states {
                for search in searches {
                    for sort in sorts {
                        for descending in [false, true] {
                            let mut q = RowQuery {
                                search: search.into(),
                                active,
                                mailbox_type,
                                state,
                                sort,
                                descending,
                                page: 0,
                                page_size: PAGE_SIZE,
                                anchor: None,
                            };
                            let expected = naive(&db.pool, &q, now).await;
                            let last = (expected.len() as u32).div_ceil(PAGE_SIZE);
                            let mut pages = vec![0, 1, 3, last.saturating_sub(1), last];
                            pages.dedup();
                            for page in pages {
                                q.page = page;
                                let got = list_rows(
                                    &db.pool,
                                    &db.search_matches,
                                    &nora,
                                    "example.org",
                                    &q,
                                )
                                .await
                                .unwrap();
                                let from = (page * PAGE_SIZE) as usize;
                                let want = &expected[from.min(expected.len())
                                    ..(from + PAGE_SIZE as usize).min(expected.len())];
                                let primaries: Vec<&str> =
                                    got.rows.iter().map(|r| r.primary.as_str()).collect();
                                assert_eq!(primaries, want, "{q:?}");
                                assert_eq!(got.total as usize, expected.len(), "{q:?}");
                                checked += 1;
                            }
                            checked += step_through(
                                &db.pool,
                                &db.search_matches,
                                &nora,
                                &q,
                                &expected,
                                last,
                            )
                            .await;
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 5000, "{checked} pages");
}

/// The slice of `expected` that page `page` shows.
fn slice(expected: &[String], page: u32) -> &[String] {
    let from = (page * PAGE_SIZE) as usize;
    &expected[from.min(expected.len())..(from + PAGE_SIZE as usize).min(expected.len())]
}

/// Steps through the first pages with "next" and through the last ones with "previous", as the
/// pager does (each page from the anchor row of the page before or after), and checks each page
/// against the plain query's slice. Returns how many pages it checked.
async fn step_through(
    pool: &Db,
    search_matches: &SearchMatches,
    nora: &Viewer,
    q: &RowQuery,
    expected: &[String],
    pages: u32,
) -> usize {
    let mut checked = 0;
    let mut q = q.clone();
    q.page = 0;
    q.anchor = None;
    let mut got = list_rows(pool, search_matches, nora, "example.org", &q)
        .await
        .unwrap();
    for page in 1..pages.min(5) {
        q.page = page;
        q.anchor = got.rows.last().map(|r| Anchor::After(r.id));
        got = list_rows(pool, search_matches, nora, "example.org", &q)
            .await
            .unwrap();
        let primaries: Vec<&str> = got.rows.iter().map(|r| r.primary.as_str()).collect();
        assert_eq!(
            primaries,
            slice(expected, page),
            "next to page {page}: {q:?}"
        );
        assert_eq!(got.page, page, "{q:?}");
        checked += 1;
    }
    if pages < 2 {
        return checked;
    }
    q.page = pages - 1;
    q.anchor = None;
    got = list_rows(pool, search_matches, nora, "example.org", &q)
        .await
        .unwrap();
    for page in (pages.saturating_sub(5)..pages - 1).rev() {
        q.page = page;
        q.anchor = got.rows.first().map(|r| Anchor::Before(r.id));
        got = list_rows(pool, search_matches, nora, "example.org", &q)
            .await
            .unwrap();
        let primaries: Vec<&str> = got.rows.iter().map(|r| r.primary.as_str()).collect();
        assert_eq!(
            primaries,
            slice(expected, page),
            "back to page {page}: {q:?}"
        );
        assert_eq!(got.page, page, "{q:?}");
        checked += 1;
    }
    checked
}

/// A domain of `n` rows `user000@example.org`…, never challenged (so they can be deleted), sorted
/// by primary address with pages of `PAGE_SIZE`.
async fn small_domain(n: usize) -> (backend::testing::TestDb, Viewer, RowQuery) {
    let db = fresh_db().await;
    register_domain(&db.pool, "cli:root", "example.org", "nap-example")
        .await
        .unwrap();
    let nora = viewer(&db.pool, "nora", &["nap-example"]).await;
    for i in 0..n {
        backend::rows::create_row(
            &db.pool,
            &nora,
            "example.org",
            &format!("user{i:03}@example.org"),
            &backend::rows::RowInput {
                last_name: format!("User {i:03}"),
                ..backend::rows::RowInput::default()
            },
        )
        .await
        .unwrap();
    }
    let q = RowQuery {
        page_size: PAGE_SIZE,
        ..RowQuery::default()
    };
    (db, nora, q)
}

#[tokio::test]
async fn p2_next_page_from_a_deleted_anchor_row_is_read_by_its_number() {
    let (db, nora, mut q) = small_domain(100).await;
    let first = list_rows(&db.pool, &db.search_matches, &nora, "example.org", &q)
        .await
        .unwrap();
    let anchor = first.rows.last().unwrap().clone();
    delete_row(&db.pool, &nora, anchor.id, anchor.version)
        .await
        .unwrap();

    q.page = 1;
    q.anchor = Some(Anchor::After(anchor.id));
    let second = list_rows(&db.pool, &db.search_matches, &nora, "example.org", &q)
        .await
        .unwrap();

    // Rows 40.. of the 99 left: user041 … user080.
    assert_eq!(second.page, 1);
    assert_eq!(second.rows.first().unwrap().primary, "user041@example.org");
    assert_eq!(second.rows.len(), PAGE_SIZE as usize);
}

#[tokio::test]
async fn p2_previous_page_with_fewer_rows_before_it_than_a_page_is_the_first_page() {
    let (db, nora, mut q) = small_domain(100).await;
    q.page = 2;
    let third = list_rows(&db.pool, &db.search_matches, &nora, "example.org", &q)
        .await
        .unwrap();
    // Someone deletes 50 of the rows before it meanwhile.
    let before = list_rows(
        &db.pool,
        &db.search_matches,
        &nora,
        "example.org",
        &RowQuery {
            page_size: 50,
            ..RowQuery::default()
        },
    )
    .await
    .unwrap();
    for row in &before.rows {
        delete_row(&db.pool, &nora, row.id, row.version)
            .await
            .unwrap();
    }

    q.page = 1;
    q.anchor = Some(Anchor::Before(third.rows.first().unwrap().id));
    let previous = list_rows(&db.pool, &db.search_matches, &nora, "example.org", &q)
        .await
        .unwrap();

    // Only 30 rows precede user080: the pager is back at the first page, and it is full.
    assert_eq!(previous.page, 0);
    assert_eq!(
        previous.rows.first().unwrap().primary,
        "user050@example.org"
    );
    assert_eq!(previous.rows.len(), PAGE_SIZE as usize);
}

/// The search's matches kept for its next pages (`backend::search_matches`) are never used once
/// the rows changed: after each kind of change, the next page of the search is the plain query's
/// slice again (R16's audit is not the point here; the table shows the rows as they are, §2).
#[tokio::test]
async fn p2_kept_search_matches_follow_every_change_of_the_rows() {
    let (db, nora, mut q) = small_domain(100).await;
    q.search = "user01".into();
    q.active = Some(true);
    q.sort = SortKey::LastName;
    let now = backend::clock::now();
    let row = |primary: &'static str| {
        let pool = db.pool.clone();
        let search_matches = db.search_matches.clone();
        let nora = nora.clone();
        async move {
            let all = list_rows(
                &pool,
                &search_matches,
                &nora,
                "example.org",
                &RowQuery {
                    page_size: 200,
                    search: primary.into(),
                    ..RowQuery::default()
                },
            )
            .await
            .unwrap();
            all.rows.into_iter().find(|r| r.primary == primary).unwrap()
        }
    };
    let input = |last_name: &str, aliases: &str| backend::rows::RowInput {
        last_name: last_name.into(),
        aliases: aliases.into(),
        ..backend::rows::RowInput::default()
    };
    let check = |what: &'static str| {
        let (pool, nora, q) = (db.pool.clone(), nora.clone(), q.clone());
        let search_matches = db.search_matches.clone();
        async move {
            // Twice: the first read may find the matches anew, the second reads the kept ones.
            for _ in 0..2 {
                let page = list_rows(&pool, &search_matches, &nora, "example.org", &q)
                    .await
                    .unwrap();
                let expected = naive(&pool, &q, now).await;
                let shown: Vec<String> = page.rows.iter().map(|r| r.primary.clone()).collect();
                assert_eq!(shown, expected, "{what}");
                assert_eq!(page.total, expected.len() as u64, "{what}");
            }
        }
    };

    check("user010 … user019").await;
    backend::rows::create_row(
        &db.pool,
        &nora,
        "example.org",
        "new@example.org",
        &input("User01 New", ""),
    )
    .await
    .unwrap();
    check("a new row whose name matches").await;

    let r = row("user020@example.org").await;
    backend::rows::edit_row(
        &db.pool,
        &nora,
        r.id,
        r.version,
        &input(&r.last_name, "user01-alias@example.org"),
    )
    .await
    .unwrap();
    check("an alias that matches").await;

    let r = row("user017@example.org").await;
    backend::rows::edit_row(&db.pool, &nora, r.id, r.version, &input("Aaron", ""))
        .await
        .unwrap();
    check("a new last name: first in the sort order").await;

    let r = row("user013@example.org").await;
    backend::rows::set_active(&db.pool, &nora, &[(r.id, r.version)], false)
        .await
        .unwrap();
    check("deactivated: out of the active filter").await;

    let r = row("user012@example.org").await;
    delete_row(&db.pool, &nora, r.id, r.version).await.unwrap();
    check("deleted").await;

    let r = row("user020@example.org").await;
    backend::rows::edit_row(&db.pool, &nora, r.id, r.version, &input(&r.last_name, ""))
        .await
        .unwrap();
    check("the alias taken away").await;
}
