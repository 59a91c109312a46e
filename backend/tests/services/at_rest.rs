//! SPEC Q8 at the storage level: mail bodies cleared by the outbox's bookkeeping (sent, failed for
//! good) are in no file of the database once `db::erase_cleared_content` has run — also when many
//! mails share pages, retries grow rows and pages are split and freed — while the bodies of mail
//! still queued stay (a crash must lose no mail).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use backend::db::erase_cleared_content;
use backend::storage::outbox::{
    insert_outbox_mails, mark_outbox_mail_failed, mark_outbox_mail_retry, mark_outbox_mail_sent,
    NewOutboxMail,
};
use backend::storage::Db;
use backend::testing::fresh_db;

/// What ends every token: found in one pass over the files.
const TOKEN_TAIL: &str = "Zq8xKp2vW7mN4rT9yB3cF6hJ";

/// A token-like string per mail, unique and unmistakable in the files.
fn token(i: usize) -> String {
    format!("tok{i:05}{TOKEN_TAIL}")
}

fn mail(i: usize) -> NewOutboxMail {
    // Bodies of different sizes, some larger than a page (overflow pages), like real mails with
    // long names or many aliases.
    let padding = "Lorem ipsum dolor sit amet. ".repeat(10 + (i * 37) % 200);
    NewOutboxMail {
        recipient: format!("user{i}@example.org"),
        subject: "Please confirm your address".into(),
        body_text: format!("Hello,\n{padding}\nhttps://ra.example.org/confirm/{}\n", token(i)),
        body_html: format!(
            "<p>Hello,</p><p>{padding}</p><a href=\"https://ra.example.org/confirm/{}\">confirm</a>",
            token(i)
        ),
        message_id: format!("<{i}@ra.example.org>"),
        challenge_id: None,
    }
}

/// All bytes of the files in `dir`.
fn folder_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    bytes
}

/// The mails whose whole token is somewhere in `bytes`.
fn tokens_in(bytes: &[u8]) -> BTreeSet<usize> {
    let tail = TOKEN_TAIL.as_bytes();
    let mut found = BTreeSet::new();
    for at in 8..bytes.len().saturating_sub(tail.len()) {
        if bytes[at] == tail[0]
            && &bytes[at..at + tail.len()] == tail
            && &bytes[at - 8..at - 5] == b"tok"
        {
            if let Some(i) = std::str::from_utf8(&bytes[at - 5..at])
                .ok()
                .and_then(|d| d.parse().ok())
            {
                found.insert(i);
            }
        }
    }
    found
}

async fn mail_ids(pool: &Db) -> Vec<i64> {
    backend::run!(pool, ex => sqlx::query_scalar("SELECT id FROM mail_outbox ORDER BY id")
        .fetch_all(ex)
        .await)
    .unwrap()
}

#[tokio::test]
async fn q8_cleared_mail_bodies_are_in_no_file_after_the_erase_and_queued_ones_stay() {
    if backend::testing::on_postgres() {
        // SQLite's files and WAL; PostgreSQL keeps its own files (README, "PostgreSQL": Q8 there).
        return;
    }
    let db = fresh_db().await;
    let mut cleared = Vec::new();
    let mut next = 0;
    // Rounds as the worker sees them: mail queued, some of it sent, some retried (which grows
    // rows and splits pages), some refused for good.
    for round in 0..12 {
        let mails: Vec<NewOutboxMail> = (next..next + 50).map(mail).collect();
        let mut conn = db.pool.acquire().await.unwrap();
        insert_outbox_mails(&mut conn, &mails, 1000 + round)
            .await
            .unwrap();
        drop(conn);
        next += 50;
        let ids = mail_ids(&db.pool).await;
        let mut tx = db.pool.begin().await.unwrap();
        for (n, id) in ids.iter().enumerate() {
            let i = (*id - 1) as usize;
            if cleared.contains(&i) {
                continue;
            }
            match (n + round as usize) % 5 {
                0 | 1 => {
                    mark_outbox_mail_sent(&mut tx, *id, 2000).await.unwrap();
                    cleared.push(i);
                }
                2 => mark_outbox_mail_retry(&mut tx, *id, &"421 try later ".repeat(20), 3000)
                    .await
                    .unwrap(),
                3 if n % 3 == 0 => {
                    mark_outbox_mail_failed(&mut tx, *id, "550 no such user")
                        .await
                        .unwrap();
                    cleared.push(i);
                }
                _ => {}
            }
        }
        tx.commit().await.unwrap();
    }
    assert!(
        erase_cleared_content(&db.pool).await.unwrap(),
        "the WAL was emptied"
    );

    let found = tokens_in(&folder_bytes(db.dir.path()));
    let leaked: Vec<usize> = cleared
        .iter()
        .copied()
        .filter(|i| found.contains(i))
        .collect();
    assert!(
        leaked.is_empty(),
        "{} of {} cleared tokens still in the files: {leaked:?}",
        leaked.len(),
        cleared.len()
    );
    let queued: Vec<usize> = (0..next).filter(|i| !cleared.contains(i)).collect();
    assert!(!queued.is_empty());
    for i in &queued {
        assert!(
            found.contains(i),
            "queued mail {i} must survive in the files"
        );
    }
}

/// What Q8 costs the outbox worker's bookkeeping: 10 000 mails recorded as sent in rounds of 200
/// (the worker's batch), with `secure_delete` and the erase after each round, against neither.
/// `cargo test --release -p backend --features testing --test services -- --ignored --nocapture q8_cost`
#[tokio::test]
#[ignore = "measurement: run with --ignored --nocapture"]
async fn q8_cost_of_erasing_on_the_outbox_bookkeeping() {
    for erase in [false, true] {
        let db = fresh_db().await;
        let mails: Vec<NewOutboxMail> = (0..10_000).map(mail).collect();
        let mut conn = db.pool.acquire().await.unwrap();
        insert_outbox_mails(&mut conn, &mails, 1000).await.unwrap();
        drop(conn);
        // Without: the pool's connections as they were before Q8.
        if !erase {
            // All of them held at once, so each of the pool's connections is switched.
            let mut held = Vec::new();
            for _ in 0..8 {
                let mut conn = db.pool.acquire().await.unwrap();
                backend::run!(conn, ex => sqlx::query("PRAGMA secure_delete = OFF")
                    .execute(ex)
                    .await.map(backend::storage::engine::Done::from))
                .unwrap();
                held.push(conn);
            }
        }
        let ids = mail_ids(&db.pool).await;
        let start = Instant::now();
        let mut erase_time = Duration::ZERO;
        for batch in ids.chunks(200) {
            let mut tx = db.pool.begin_write().await.unwrap();
            for id in batch {
                mark_outbox_mail_sent(&mut tx, *id, 2000).await.unwrap();
            }
            tx.commit().await.unwrap();
            if erase {
                let t = Instant::now();
                assert!(erase_cleared_content(&db.pool).await.unwrap());
                erase_time += t.elapsed();
            }
        }
        let total = start.elapsed();
        println!(
            "Q8 cost: {} — 10 000 mails recorded as sent in rounds of 200: {:.3} s ({:.1} µs a mail), of which erasing {:.3} s",
            if erase { "secure_delete + erase per round" } else { "without (before Q8)" },
            total.as_secs_f64(),
            total.as_secs_f64() * 1e6 / 10_000.0,
            erase_time.as_secs_f64()
        );
    }
}
