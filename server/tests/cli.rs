//! The `ra-portal` binary's account and domain verbs, run as an operator would, on a database in a
//! temporary data folder.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `ra-portal` with `args` on the data folder `dir`, feeding `stdin`.
fn ra_portal(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ra-portal"))
        .args(args)
        .env("RA_PORTAL_DATA_DIR", dir)
        .env("USER", "tester")
        .env_remove("RA_PORTAL_CONFIG")
        .env_remove("RA_PORTAL_DATABASE")
        .env_remove("RA_PORTAL_OPERATOR_GROUP")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the ra-portal binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn an_operator_registers_a_domain_and_adds_a_local_account_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let added = ra_portal(
        d,
        &[
            "domain",
            "add",
            "Example.org",
            "--contact-group",
            "nap-example",
        ],
        "",
    );
    assert!(added.status.success(), "{}", stderr(&added));
    assert!(stdout(&added).contains("registered example.org with contact group nap-example"));

    let listed = ra_portal(d, &["domain", "list"], "");
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert_eq!(stdout(&listed).trim(), "example.org\tnap-example");

    let password = "a long enough secret";
    let user = ra_portal(
        d,
        &[
            "user",
            "add",
            "--id",
            "anna",
            "--given",
            "Anna",
            "--family",
            "Schmidt",
            "--email",
            "anna@example.org",
            "--group",
            "nap-example",
            "--password-stdin",
        ],
        &format!("{password}\n"),
    );
    assert!(user.status.success(), "{}", stderr(&user));

    let users = ra_portal(d, &["user", "list"], "");
    assert!(users.status.success(), "{}", stderr(&users));
    let out = stdout(&users);
    assert!(
        out.contains("anna\tAnna Schmidt\tanna@example.org\tnap-example"),
        "{out}"
    );
    assert!(
        !out.contains(password) && !out.contains("argon2"),
        "no secrets listed: {out}"
    );

    let regrouped = ra_portal(
        d,
        &["user", "set-groups", "--id", "anna", "--group", "staff"],
        "",
    );
    assert!(regrouped.status.success(), "{}", stderr(&regrouped));
    let moved = ra_portal(
        d,
        &[
            "domain",
            "set-group",
            "example.org",
            "--contact-group",
            "staff",
        ],
        "",
    );
    assert!(moved.status.success(), "{}", stderr(&moved));
    assert!(stdout(&moved).contains("example.org now has contact group staff"));
}

#[test]
fn bad_input_gives_one_clear_line_and_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let bad = ra_portal(
        d,
        &["domain", "add", "not a domain", "--contact-group", "nap"],
        "",
    );
    assert_eq!(bad.status.code(), Some(1));
    let err = stderr(&bad);
    assert!(
        err.contains("error: \"not a domain\" is not a valid domain name"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");

    let twice = ra_portal(
        d,
        &["domain", "add", "example.org", "--contact-group", "nap"],
        "",
    );
    assert!(twice.status.success(), "{}", stderr(&twice));
    let again = ra_portal(
        d,
        &["domain", "add", "example.org", "--contact-group", "nap"],
        "",
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("example.org is already registered"));

    let short = ra_portal(
        d,
        &[
            "user",
            "add",
            "--id",
            "ben",
            "--given",
            "Ben",
            "--family",
            "Weber",
            "--password-stdin",
        ],
        "short\n",
    );
    assert_eq!(short.status.code(), Some(1));
    assert!(
        stderr(&short).contains("at least 10 characters"),
        "{}",
        stderr(&short)
    );
    assert!(!stderr(&short).contains("short\n"));

    let no_password = ra_portal(
        d,
        &[
            "user", "add", "--id", "ben", "--given", "Ben", "--family", "Weber",
        ],
        "",
    );
    assert_eq!(no_password.status.code(), Some(1));
    assert!(
        stderr(&no_password).contains("--password-stdin"),
        "{}",
        stderr(&no_password)
    );
}

#[test]
fn backup_writes_a_consistent_copy_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let added = ra_portal(
        d,
        &[
            "domain",
            "add",
            "example.org",
            "--contact-group",
            "nap-example",
        ],
        "",
    );
    assert!(added.status.success(), "{}", stderr(&added));

    let target = d.join("backup.sqlite3");
    let target_arg = target.to_str().unwrap();
    let backup = ra_portal(d, &["backup", target_arg], "");
    assert!(backup.status.success(), "{}", stderr(&backup));
    assert!(
        stdout(&backup).contains("backup.sqlite3"),
        "{}",
        stdout(&backup)
    );

    // The copy is a database of its own: restored as the portal's file, it has the domain.
    let restored = tempfile::tempdir().unwrap();
    std::fs::copy(&target, restored.path().join("portal.sqlite3")).unwrap();
    let listed = ra_portal(restored.path(), &["domain", "list"], "");
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert_eq!(stdout(&listed).trim(), "example.org\tnap-example");

    let again = ra_portal(d, &["backup", target_arg], "");
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("exists already"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn r22_the_breakers_holds_are_listed_and_decided_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let listed = ra_portal(d, &["deprovisionings", "list"], "");
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert_eq!(stdout(&listed).trim(), "no deprovisioning is held");

    let all = ra_portal(d, &["deprovisionings", "confirm", "--all"], "");
    assert!(all.status.success(), "{}", stderr(&all));
    assert_eq!(stdout(&all).trim(), "no deprovisioning is held");

    // An id that is not held: one clear line, exit code 1, nothing changed.
    let unknown = ra_portal(d, &["deprovisionings", "discard", "7"], "");
    assert_eq!(unknown.status.code(), Some(1));
    let err = stderr(&unknown);
    assert!(
        err.contains("no held deprovisioning #7 waits for a decision"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");

    // Neither ids nor --all, or both: refused before anything is opened.
    let neither = ra_portal(d, &["deprovisionings", "confirm"], "");
    assert_eq!(neither.status.code(), Some(2));
    let both = ra_portal(d, &["deprovisionings", "confirm", "1", "--all"], "");
    assert_eq!(both.status.code(), Some(2));
}
