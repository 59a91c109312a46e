//! R21 on the command line, as scripts and the test harness use it: `ra-portal api-token create`
//! makes a token for a NAP (a local account's groups count) and prints only the secret on stdout;
//! it refuses a creator who is no NAP of the domain and a lifetime over a year; `list` shows it
//! without the secret; `revoke` stops it. The real binary on a real data folder.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn ra_portal(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ra-portal"))
        .args(args)
        .env("RA_PORTAL_DATA_DIR", dir)
        .env("USER", "tester")
        .env_remove("RA_PORTAL_CONFIG")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn refused(out: Output) -> String {
    assert!(!out.status.success());
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn r21_a_token_for_a_nap_is_made_listed_and_revoked_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(ra_portal(
        d,
        &[
            "domain",
            "add",
            "example.org",
            "--contact-group",
            "nap-example",
        ],
        "",
    ));
    ok(ra_portal(
        d,
        &["domain", "add", "other.org", "--contact-group", "nap-other"],
        "",
    ));
    ok(ra_portal(
        d,
        &[
            "user",
            "add",
            "--id",
            "nora",
            "--given",
            "Nora",
            "--family",
            "Nap",
            "--group",
            "nap-example",
            "--password-stdin",
        ],
        "nora's long password\n",
    ));
    let create = |extra: &[&str]| {
        let mut args = vec![
            "api-token",
            "create",
            "--creator",
            "nora",
            "--scope",
            "read-write",
            "--name",
            "schemathesis",
        ];
        args.extend_from_slice(extra);
        ra_portal(d, &args, "")
    };

    // Not her domain, not a registered domain, a person the portal knows no groups of, too long.
    let other = refused(create(&["--domain", "other.org"]));
    assert!(
        other.contains("not a contact person (NAP) of other.org"),
        "{other}"
    );
    let nowhere = refused(create(&["--domain", "nowhere.example"]));
    assert!(nowhere.contains("nowhere.example"), "{nowhere}");
    let stranger = refused(ra_portal(
        d,
        &[
            "api-token",
            "create",
            "--creator",
            "zoe",
            "--domain",
            "example.org",
            "--scope",
            "read",
            "--name",
            "x",
        ],
        "",
    ));
    assert!(stranger.contains("knows no groups of zoe"), "{stranger}");
    let long = refused(create(&["--domain", "example.org", "--days", "366"]));
    assert!(long.contains("at most one year"), "{long}");
    assert!(ok(ra_portal(d, &["api-token", "list"], "")).starts_with("no API tokens yet"));

    // Made: the secret alone on stdout, the advice on stderr.
    let made = create(&["--domain", "example.org", "--days", "1"]);
    let advice = String::from_utf8_lossy(&made.stderr).into_owned();
    let token = ok(made).trim().to_owned();
    assert!(token.starts_with("raapi_") && token.len() == 49, "{token}");
    assert!(advice.contains("shown only this once"), "{advice}");
    // Q8: only the hash is stored.
    let db = std::fs::read(d.join("portal.sqlite3")).unwrap();
    assert!(!db.windows(token.len()).any(|w| w == token.as_bytes()));

    let listed = ok(ra_portal(d, &["api-token", "list"], ""));
    assert!(
        listed.starts_with("1\tschemathesis\tnora\tread_write\texample.org\tmade "),
        "{listed}"
    );
    assert!(listed.contains("last used never\tin force"), "{listed}");
    assert!(!listed.contains(&token));

    let revoked = ok(ra_portal(d, &["api-token", "revoke", "--id", "1"], ""));
    assert!(revoked.contains("revoked the API token schemathesis (#1) of nora"));
    let listed = ok(ra_portal(d, &["api-token", "list"], ""));
    assert!(
        listed.contains("by cli:tester (revoked_by_operator)"),
        "{listed}"
    );
    let again = refused(ra_portal(d, &["api-token", "revoke", "--id", "1"], ""));
    assert!(again.contains("no API token #1 in force"), "{again}");
}
