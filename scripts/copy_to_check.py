#!/usr/bin/env python3
"""Moving up to PostgreSQL (issue 22): `ra-portal copy-to` against a real, throwaway PostgreSQL.

Run under scripts/postgres.sh (it sets PG_URL and the PG* variables psql reads). A demo portal is
given data of every kind (rows with awkward text, challenges and their mail, an API token, a CRL,
audit records), stopped, and copied into a fresh database. The command checks every table's row
count itself; this script also compares values byte for byte (text with tabs, line breaks,
backslashes and umlauts; the CRL's DER), checks that the identity sequences go on after the copied
ids, that PostgreSQL's triggers work on the copy, and that a second copy into the same database is
refused. Prints one line; exits non-zero when anything fails.
  RA_PORTAL_BIN  the portal binary (default: the debug build in CARGO_TARGET_DIR)
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from instances_check import BIN, Portal, fail, http  # noqa: E402  (one portal helper for both)

DOMAIN = "example.org"
AWKWARD = 'Tab\there, line\nbreak, back\\slash, "quotes", Umlaute äöü ß, \\N, emoji ✉'


def psql(database, sql):
    out = subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql],
                         capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"psql: {out.stderr.strip()}")
    return out.stdout.rstrip("\n")


def main():
    base = os.environ.get("PG_URL")
    if not base:
        print("copy-to-check: run me under scripts/postgres.sh", file=sys.stderr)
        sys.exit(2)
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="ra-portal-copy.")
    data = os.path.join(work, "portal")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RA_PORTAL_")}
    env.update(RA_PORTAL_DATA_DIR=data, RA_PORTAL_API__RATE_LIMIT_PER_MINUTE="0",
               RUST_LOG=os.environ.get("RUST_LOG", "warn"))
    portal = Portal(0, work, env)
    try:
        portal.start(demo=True)
        portal.wait_healthy()
        token = subprocess.run(
            [BIN, "api-token", "create", "--creator", "nora", "--domain", DOMAIN, "--scope",
             "read-write", "--name", "copy-check", "--days", "1"],
            env=env, capture_output=True, text=True, check=True).stdout.strip()
        rows = [{"primary_address": f"copy{i}@{DOMAIN}", "first_name": "Copy", "last_name": f"Row {i}",
                 "comment": AWKWARD if i == 0 else ""} for i in range(1000)]
        status, body = http("POST", f"{portal.url}/api/v1/domains/{DOMAIN}/bulk", rows, token)
        if status != 200:
            fail(f"bulk answered {status}: {body}")
        status, page = http("GET", f"{portal.url}/api/v1/domains/{DOMAIN}/rows?limit=200&search=copy",
                            token=token)
        ids = [r["id"] for r in page["rows"]]
        status, body = http("POST", f"{portal.url}/api/v1/domains/{DOMAIN}/challenges", {"rows": ids}, token)
        if status != 200:
            fail(f"challenges answered {status}: {body}")
        with urllib.request.urlopen(f"{portal.url}/pki/ca.crl", timeout=10) as resp:
            resp.read()
        portal.stop()

        db = os.path.join(data, "portal.sqlite3")
        con = sqlite3.connect(db)
        comment = con.execute("SELECT comment FROM mailbox_rows WHERE primary_address = ?",
                              (f"copy0@{DOMAIN}",)).fetchone()[0]
        crl_hex = con.execute("SELECT hex(der) FROM crl").fetchone()[0]
        last_audit = con.execute("SELECT MAX(id) FROM audit_records").fetchone()[0]
        con.close()
        if comment != AWKWARD:
            fail(f"the portal stored the comment as {comment!r}")

        psql("postgres", "CREATE DATABASE copy_target")
        target = base.rsplit("/", 1)[0] + "/copy_target"
        copy = subprocess.run([BIN, "copy-to", target], env=env, capture_output=True, text=True)
        if copy.returncode != 0:
            fail(f"copy-to failed:\n{copy.stdout}{copy.stderr}")
        summary = copy.stdout.strip().splitlines()[-1]
        if "each table checked" not in summary:
            fail(f"copy-to said: {copy.stdout}")

        copied = psql("copy_target", f"SELECT comment FROM mailbox_rows WHERE primary_address = 'copy0@{DOMAIN}'")
        if copied != AWKWARD:
            fail(f"the comment arrived as {copied!r}")
        if psql("copy_target", "SELECT upper(encode(der, 'hex')) FROM crl") != crl_hex:
            fail("the CRL's DER differs")
        # Ready for the planner and for index-only scans at once, not after autovacuum's next round:
        # statistics, and every page of the table in the visibility map (this cluster commits
        # asynchronously, as a server with synchronous_commit = off would).
        pages, visible = psql("copy_target", "SELECT relpages, relallvisible FROM pg_class "
                              "WHERE relname = 'mailbox_rows'").split("|")
        if int(pages) == 0 or visible != pages:
            fail(f"mailbox_rows: {visible} of {pages} pages in the visibility map after copy-to")
        if psql("copy_target", "SELECT COUNT(*) FROM pg_stats WHERE tablename = 'mailbox_rows'") == "0":
            fail("mailbox_rows has no statistics after copy-to")
        following = int(psql("copy_target", "SELECT nextval(pg_get_serial_sequence('audit_records', 'id'))"))
        if following != last_audit + 1:
            fail(f"the audit trail's next id is {following}, not {last_audit + 1}")
        for table, sql in [("challenges", "SELECT COUNT(*) FROM challenges"),
                           ("mail_outbox", "SELECT COUNT(*) FROM mail_outbox")]:
            if int(psql("copy_target", sql)) < len(ids):
                fail(f"{table}: fewer rows than the {len(ids)} challenges sent")
        # PostgreSQL's triggers keep working on the copy: a new row is counted.
        before = int(psql("copy_target", "SELECT SUM(rows) FROM row_counts"))
        psql("copy_target", "INSERT INTO mailbox_rows (domain_id, primary_address, first_name, last_name, "
             "mailbox_type, active, comment, created_at, updated_at) SELECT domain_id, 'later@example.org', "
             "'', 'Later', 'personal', TRUE, '', 0, 0 FROM mailbox_rows LIMIT 1")
        if int(psql("copy_target", "SELECT SUM(rows) FROM row_counts")) != before + 1:
            fail("row_counts' trigger does not count a row inserted after the copy")

        again = subprocess.run([BIN, "copy-to", target], env=env, capture_output=True, text=True)
        if again.returncode == 0 or "holds data already" not in again.stderr:
            fail(f"a second copy was not refused: {again.stdout}{again.stderr}")

        print(f"copy-to-check: {summary}; values alike byte for byte, statistics and visibility map made, "
              f"sequences continue, "
              f"triggers work on the copy, a second copy refused; {time.monotonic() - started:.1f} s")
    finally:
        portal.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
