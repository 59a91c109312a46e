#!/usr/bin/env python3
"""Several portal instances on one database (issue 22), with real processes.

Three `ra-portal serve` processes share one data folder (one SQLite file, one CA) and deliver
mail to the Node SMTP test server (end2end/services/smtp-server.js):

1. They start at the same moment on an empty folder: all three come up, the migrations ran once,
   there is one CA, and their CRL refreshers signed the first CRL once (number 1, still 1 after
   every restart of step 2).
2. MAILS challenge mails are queued through the REST API; while they are delivered, one instance
   after the other is killed with SIGKILL every KILL_EVERY seconds and started again. Every mail
   of the outbox must reach the SMTP server (counted by Message-ID) and end `sent`. A mail can
   arrive twice only when its process died between the relay's "250 OK" and the record of it (see
   backend/src/mail/worker.rs); such duplicates are counted and bounded by what can be in flight
   at a kill (8 mails an instance), and printed.
3. A bulk apply of BULK_ROWS rows through the API is killed halfway (once its transaction has
   written to the WAL): no row of it lands, the database passes SQLite's integrity check, and the
   instance starts again.
4. Two people each confirm a challenge and get a certificate (through the login form and the
   portal's own calls), then their rows are deactivated through the API on two instances at the
   same moment: both certificates are revoked, the CRL number rose by two (each revocation signed
   one, one after the other), and the CRL served lists both serials.

With --postgres (run under scripts/postgres.sh, which sets PG_URL) the three portals share a new
database on that PostgreSQL instead of the SQLite file (they still share the data folder: the CA and
the delivery journals); step 3 kills the apply once its transaction has written (it has a
transaction id) and wrote on for a moment, and PostgreSQL must have rolled it back.

Prints one line of figures; exits non-zero when anything fails.
  RA_PORTAL_BIN            the portal binary (default: the debug build in CARGO_TARGET_DIR)
  INSTANCES_CHECK_MAILS    challenge mails to deliver (default 5000)
  INSTANCES_CHECK_ROWS     rows of the bulk apply that is killed (default 20000)
"""

import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(HERE, "target"))
BIN = os.environ.get("RA_PORTAL_BIN", os.path.join(TARGET, "debug", "ra-portal"))
MAILS = int(os.environ.get("INSTANCES_CHECK_MAILS", "5000"))
BULK_ROWS = int(os.environ.get("INSTANCES_CHECK_ROWS", "20000"))
INSTANCES = 3
KILL_EVERY = 0.5  # seconds between two kills while mail is delivered
MAX_KILLS = 12  # then the instances finish undisturbed
RELAY_DELAY_MS = int(os.environ.get("INSTANCES_CHECK_RELAY_DELAY_MS", "10"))  # the SMTP test server takes this long to accept each mail
TIMEOUT_SECS = 2  # [mail] instance_timeout_secs: a killed instance's claims are free after this
IN_FLIGHT = 8  # WorkerSettings::concurrency: mails one instance has at the relay at once
DOMAIN = "example.org"


def fail(message):
    print(f"instances-check: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, token=None, timeout=120):
    """(status, parsed JSON or None). Connection errors raise."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")


class Portal:
    """One `ra-portal serve` process on the shared data folder."""

    def __init__(self, number, data, env):
        self.number = number
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = os.path.join(data, f"instance-{number}.log")
        self.env = dict(env, RA_PORTAL_LISTEN=f"127.0.0.1:{self.port}",
                        RA_PORTAL_BASE_URL=self.url)
        self.process = None
        # Held while the script talks to this instance: the killer waits for it.
        self.busy = threading.Lock()

    def start(self, demo=False):
        args = [BIN, "serve"] + (["--demo"] if demo else [])
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(args, env=self.env, stdout=log, stderr=log)

    def healthy(self):
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as resp:
                return resp.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def wait_healthy(self, seconds=60):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                fail(f"instance {self.number} exited ({self.process.returncode}):\n" + tail(self.log))
            if self.healthy():
                return
            time.sleep(0.05)
        fail(f"instance {self.number} not healthy after {seconds} s:\n" + tail(self.log))

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def tail(path, lines=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


POSTGRES = "--postgres" in sys.argv[1:]


def db_query(db, sql):
    """Rows of `sql` on the portals' database: the SQLite file `db`, or the PostgreSQL URL `db`."""
    if POSTGRES:
        out = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", db,
                              "-c", sql], capture_output=True, text=True, check=True).stdout
        return [tuple(int(v) if v.lstrip("-").isdigit() else v for v in line.split("\t"))
                for line in out.splitlines()]
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def postgres_database():
    """A new database on PG_URL's server for the portals; its URL."""
    server = os.environ["PG_URL"]
    name = f"instances_check_{os.getpid()}"
    subprocess.run(["psql", "-X", "-q", "-d", server, "-c", f"CREATE DATABASE {name}"], check=True)
    return server.rsplit("/", 1)[0] + "/" + name


def browser_call(portal, method, path, body=None, cookie=None, form=False):
    """(status, headers, parsed JSON or text) of a call as the portal's own page makes it: the
    session cookie and the portal's Origin; a form or a JSON body."""
    if body is None:
        data = None
    elif form:
        data = urllib.parse.urlencode(body).encode()
    else:
        data = json.dumps(body).encode()
    req = urllib.request.Request(f"{portal.url}{path}", data=data, method=method)
    req.add_header("Origin", portal.url)
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded" if form else "application/json")
    if cookie:
        req.add_header("Cookie", cookie)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=60) as resp:
            status, headers, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        status, headers, raw = e.code, e.headers, e.read()
    try:
        return status, headers, json.loads(raw)
    except ValueError:
        return status, headers, raw.decode(errors="replace")


def certificate_of(person, portal, env, smtp_api, token, row_id):
    """`person` (a new local account) confirms the challenge mail to `person`@DOMAIN on `portal` and
    gets a certificate for it (the server makes the key); its id and serial."""
    address = f"{person}@{DOMAIN}"
    password = f"{person}-instances-check-password"
    added = subprocess.run([BIN, "user", "add", "--id", person, "--given", person.title(), "--family",
                            "Revoked", "--password-stdin"], env=env, input=password + "\n",
                           capture_output=True, text=True)
    if added.returncode != 0:
        fail(f"ra-portal user add {person}: {added.stderr.strip()}")
    status, body = http("POST", f"{portal.url}/api/v1/domains/{DOMAIN}/challenges", {"rows": [row_id]}, token)
    if status != 200:
        fail(f"the challenge to {address} answered {status}: {body}")
    link = None
    for _ in range(400):
        _, mails = http("GET", f"http://127.0.0.1:{smtp_api}/api/mails?to={urllib.parse.quote(address)}")
        for mail in mails or []:
            found = re.search(r"/confirm/([A-Za-z0-9_-]+)", mail.get("text", ""))
            if found:
                link = found.group(1)
        if link:
            break
        time.sleep(0.05)
    if not link:
        fail(f"no challenge mail reached {address}")
    status, headers, body = browser_call(portal, "POST", "/auth/login", {
        "username": person, "password": password, "return_to": "/"}, form=True)
    cookie = next((c.split(";")[0] for c in headers.get_all("Set-Cookie") or []
                   if c.startswith("ra_session=")), None)
    if not cookie:
        fail(f"{person} could not log in: {status} {body}")
    status, _, body = browser_call(portal, "POST", "/api/challenge/confirm", {"token": link}, cookie)
    if status != 200:
        fail(f"{person} could not confirm the challenge: {status} {body}")
    status, _, body = browser_call(portal, "POST", "/api/certificates/request", {
        "row_id": row_id, "addresses": [address], "key": {"ServerKey": password}}, cookie)
    if status != 200:
        fail(f"{person} got no certificate: {status} {body}")
    return body["certificate"]["id"], body["certificate"]["serial"]


def main():
    if not os.access(BIN, os.X_OK):
        print(f"instances-check: no portal binary at {BIN} (cargo build -p server first)", file=sys.stderr)
        sys.exit(2)
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="ra-portal-instances.")
    data = os.path.join(work, "portal")
    portals = []
    smtp = None
    try:
        # The SMTP test server: plain SMTP on loopback, mail kept in memory.
        smtp_port, smtp_api = free_port(), free_port()
        smtp_log = open(os.path.join(work, "smtp.log"), "w")
        smtp = subprocess.Popen(
            ["node", os.path.join(HERE, "end2end", "services", "smtp-server.js")],
            env=dict(os.environ, SMTP_PORT=str(smtp_port), SMTP_API_PORT=str(smtp_api),
                     SMTP_DELAY_MS=str(RELAY_DELAY_MS)),
            stdout=subprocess.DEVNULL, stderr=smtp_log, cwd=os.path.join(HERE, "end2end"))
        for _ in range(200):
            try:
                http("GET", f"http://127.0.0.1:{smtp_api}/api/health", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        else:
            fail("the SMTP test server did not start")

        env = {k: v for k, v in os.environ.items() if not k.startswith("RA_PORTAL_")}
        if POSTGRES:
            env["RA_PORTAL_DATABASE"] = postgres_database()
        env.update(
            RA_PORTAL_DATA_DIR=data,
            RA_PORTAL_MAIL__SMTP__HOST="127.0.0.1",
            RA_PORTAL_MAIL__SMTP__PORT=str(smtp_port),
            RA_PORTAL_MAIL__SMTP__SECURITY="none",
            RA_PORTAL_MAIL__INSTANCE_TIMEOUT_SECS=str(TIMEOUT_SECS),
            # Thousands of API calls with one token; server/tests cover the limit itself.
            RA_PORTAL_API__RATE_LIMIT_PER_MINUTE="0",
            RUST_LOG=os.environ.get("RUST_LOG", "warn"),
        )

        # 1. Three instances start at the same moment on an empty folder.
        portals = [Portal(i, work, env) for i in range(INSTANCES)]
        for p in portals:
            p.start(demo=(p.number == 0))
        for p in portals:
            p.wait_healthy()
        db = env["RA_PORTAL_DATABASE"] if POSTGRES else os.path.join(data, "portal.sqlite3")
        folder = os.path.join(HERE, "migrations", *(["postgres"] if POSTGRES else []))
        migrations = len([f for f in os.listdir(folder) if f.endswith(".sql")])
        applied = db_query(db, "SELECT COUNT(*), SUM(CASE WHEN success THEN 1 ELSE 0 END) FROM _sqlx_migrations")[0]
        if applied != (migrations, migrations):
            fail(f"{migrations} migrations, but _sqlx_migrations holds {applied}")
        live = db_query(db, "SELECT COUNT(*) FROM portal_instances")[0][0]
        if live != INSTANCES:
            fail(f"{live} instances show signs of life, not {INSTANCES}")
        # The operators' view of it: each instance's /metrics counts the live ones.
        with urllib.request.urlopen(f"{portals[1].url}/metrics", timeout=10) as resp:
            metrics = resp.read().decode()
        if f"ra_portal_instances_alive {INSTANCES}" not in metrics.splitlines():
            fail(f"/metrics does not count {INSTANCES} live instances")
        # One CA: every instance serves the same CA certificate (two made at once would differ).
        certificates = set()
        for p in portals:
            with urllib.request.urlopen(f"{p.url}/pki/ca.crt", timeout=10) as resp:
                certificates.add(resp.read())
        if len(certificates) != 1:
            fail(f"the instances serve {len(certificates)} different CA certificates")
        # Each instance's CRL refresher signs the first CRL at start when there is none: once.
        for _ in range(100):
            crl = db_query(db, "SELECT crl_number FROM crl")
            if crl:
                break
            time.sleep(0.05)
        if crl != [(1,)]:
            fail(f"three refreshers starting together left CRL {crl}, not number 1")
        start_secs = time.monotonic() - started

        token = subprocess.run(
            [BIN, "api-token", "create", "--creator", "nora", "--domain", DOMAIN, "--scope",
             "read-write", "--name", "instances-check", "--days", "1"],
            env=env, capture_output=True, text=True, check=True).stdout.strip()

        # 2. MAILS challenge mails, delivered while instances are killed one after the other.
        rows = [{"primary_address": f"person{i}@{DOMAIN}", "first_name": "Test",
                 "last_name": f"Person {i}"} for i in range(MAILS)]
        status, body = http("POST", f"{portals[0].url}/api/v1/domains/{DOMAIN}/bulk", rows, token)
        if status != 200:
            fail(f"bulk create answered {status}: {body}")
        ids = []
        cursor = None
        while True:
            q = "?limit=200&search=person" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
            status, page = http("GET", f"{portals[1].url}/api/v1/domains/{DOMAIN}/rows{q}", token=token)
            if status != 200:
                fail(f"listing rows answered {status}: {page}")
            ids += [r["id"] for r in page["rows"] if r["primary_address"].startswith("person")]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        if len(ids) != MAILS:
            fail(f"{len(ids)} rows listed, {MAILS} created")

        kills = []
        stop_killing = threading.Event()

        def killer():
            victim = 0
            while len(kills) < MAX_KILLS and not stop_killing.wait(KILL_EVERY):
                p = portals[victim % INSTANCES]
                victim += 1
                with p.busy:
                    p.kill()
                    kills.append(time.monotonic())
                    p.start()

        queue_started = time.monotonic()
        killing = threading.Thread(target=killer, daemon=True)
        killing.start()
        for n, chunk in enumerate(range(0, MAILS, 1000)):
            p = portals[n % INSTANCES]
            with p.busy:
                p.wait_healthy()
                status, body = http("POST", f"{p.url}/api/v1/domains/{DOMAIN}/challenges",
                                    {"rows": ids[chunk:chunk + 1000]}, token)
            if status != 200 or body["challenges"] != len(ids[chunk:chunk + 1000]):
                fail(f"sending challenges answered {status}: {body}")
        queued_secs = time.monotonic() - queue_started

        outbox = db_query(db, "SELECT COUNT(*) FROM mail_outbox")[0][0]
        deadline = time.monotonic() + 300
        received = {}
        while time.monotonic() < deadline:
            _, received = http("GET", f"http://127.0.0.1:{smtp_api}/api/message-ids")
            if len(received) >= outbox:
                break
            time.sleep(0.2)
        stop_killing.set()
        killing.join()
        delivery_secs = time.monotonic() - queue_started
        for p in portals:
            if p.process.poll() is not None:
                p.start()
            p.wait_healthy()
        # The last records may still be on their way from the relay's answer to the database.
        for _ in range(100):
            queued = db_query(db, "SELECT COUNT(*) FROM mail_outbox WHERE state <> 'sent'")[0][0]
            if queued == 0:
                break
            time.sleep(0.1)
        _, received = http("GET", f"http://127.0.0.1:{smtp_api}/api/message-ids")
        expected = {m for (m,) in db_query(db, "SELECT message_id FROM mail_outbox")}
        missing = expected - set(received)
        strangers = set(received) - expected
        duplicates = sum(n - 1 for n in received.values())
        if os.environ.get("INSTANCES_CHECK_KEEP"):
            with open(os.path.join(work, "received.json"), "w") as f:
                json.dump(received, f)
        not_sent = db_query(db, "SELECT state, COUNT(*) FROM mail_outbox WHERE state <> 'sent' GROUP BY state")
        if missing:
            fail(f"{len(missing)} of {len(expected)} mails never arrived, e.g. {sorted(missing)[:3]}")
        if strangers:
            fail(f"{len(strangers)} mails arrived that the outbox does not hold")
        if not_sent:
            fail(f"outbox mails not recorded as sent: {not_sent}")
        # Which sends each instance noted in its delivery journal (backend/src/mail/journal.rs),
        # the killed ones' included: a mail noted twice was sent again although the journal knew.
        journals = os.path.join(data, "outbox-journal")
        noted = {}
        for name in os.listdir(journals):
            with open(os.path.join(journals, name)) as f:
                for line in f.read().split("\n"):
                    if line.isdigit():
                        noted[int(line)] = noted.get(int(line), 0) + 1
        ids_of = dict(db_query(db, "SELECT message_id, id FROM mail_outbox"))
        twice = [m for m, n in received.items() if n > 1]
        known_twice = [m for m in twice if noted.get(ids_of[m], 0) > 1]
        if known_twice:
            fail(f"{len(known_twice)} mails were sent again although a journal noted them sent")
        if duplicates > IN_FLIGHT * len(kills):
            fail(f"{duplicates} mails arrived twice; at most {IN_FLIGHT} in flight at each of {len(kills)} kills")
        if len(kills) == 0:
            fail("no instance was killed: delivery ended before the first kill")

        # 3. A bulk apply killed halfway: nothing of it lands.
        before = db_query(db, "SELECT COUNT(*) FROM mailbox_rows")[0][0]
        bulk = [{"primary_address": f"bulk{i}@{DOMAIN}", "first_name": "Bulk",
                 "last_name": f"Row {i}"} for i in range(BULK_ROWS)]
        victim = portals[2]
        wal = db + "-wal"
        wal_before = os.path.getsize(wal) if os.path.exists(wal) else 0
        answer = {}

        def apply():
            try:
                answer["status"] = http("POST", f"{victim.url}/api/v1/domains/{DOMAIN}/bulk", bulk,
                                        token, timeout=300)[0]
            except OSError as e:
                answer["error"] = str(e)

        applying = threading.Thread(target=apply, daemon=True)
        applying.start()
        # The apply's transaction writes its pages into the WAL as it goes: once that grew by
        # 4 MiB the apply is halfway through its writes (the 20 000 rows write some 20 MiB).
        # On PostgreSQL: once a connection of the database has a transaction id (it wrote), and
        # a moment later.
        grew = False
        for _ in range(6000 if not POSTGRES else 0):
            size = os.path.getsize(wal) if os.path.exists(wal) else 0
            if size - wal_before > 4 * 1024 * 1024 or size < wal_before:
                grew = True
                break
            if not applying.is_alive():
                break
            time.sleep(0.005)
        if POSTGRES:
            for _ in range(6000):
                writing = db_query(db, "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                                       "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()")[0][0]
                if writing or not applying.is_alive():
                    break
                time.sleep(0.005)
            time.sleep(0.3)
            grew = writing > 0 and applying.is_alive()
        victim.kill()
        applying.join()
        if not grew:
            fail(f"the bulk apply ended before it wrote 4 MiB ({answer}); raise INSTANCES_CHECK_ROWS")
        if "status" in answer:
            fail(f"the killed apply answered {answer['status']}")
        after = db_query(db, "SELECT COUNT(*) FROM mailbox_rows")[0][0]
        landed = db_query(db, "SELECT COUNT(*) FROM addresses WHERE address LIKE 'bulk%'")[0][0]
        integrity = "ok" if POSTGRES else db_query(db, "PRAGMA integrity_check")[0][0]
        # Started 3 + (kills) times, nothing revoked: the refreshers never signed a second CRL.
        crl = db_query(db, "SELECT crl_number FROM crl")
        if crl != [(1,)]:
            fail(f"after {len(kills)} restarts the CRL is {crl}, not still number 1")
        if after != before or landed:
            fail(f"the killed apply left rows: {before} before, {after} after, {landed} addresses")
        if integrity != "ok":
            fail(f"integrity check after the kill: {integrity}")
        victim.start()
        victim.wait_healthy()

        # 4. Two certificates revoked on two instances at the same moment (R15): each revocation
        # signs a CRL in its own transaction, one after the other; the CRL numbers rise by two and
        # the last CRL lists both.
        people = ["leaver1", "leaver2"]  # not among the demo accounts
        rows = [{"primary_address": f"{p}@{DOMAIN}", "first_name": p.title(), "last_name": "Revoked"}
                for p in people]
        status, body = http("POST", f"{portals[0].url}/api/v1/domains/{DOMAIN}/bulk", rows, token)
        if status != 200:
            fail(f"creating the rows to revoke answered {status}: {body}")
        certificates = []
        for n, person in enumerate(people):
            status, row = http("GET", f"{portals[n].url}/api/v1/domains/{DOMAIN}/rows/by-address/"
                                      f"{person}@{DOMAIN}", token=token)
            if status != 200:
                fail(f"the row of {person} answered {status}: {row}")
            certificates.append((row["id"], *certificate_of(person, portals[n], env, smtp_api, token,
                                                           row["id"])))
        crl_before = db_query(db, "SELECT crl_number FROM crl")[0][0]
        ready = threading.Barrier(len(people))
        answers = {}

        def deactivate(n, row_id):
            ready.wait()
            answers[n] = http("POST", f"{portals[n].url}/api/v1/domains/{DOMAIN}/rows/{row_id}/deactivate",
                              token=token)

        leaving = [threading.Thread(target=deactivate, args=(n, c[0])) for n, c in enumerate(certificates)]
        for t in leaving:
            t.start()
        for t in leaving:
            t.join()
        for n, (status, body) in sorted(answers.items()):
            if status != 200 or body.get("revoked") != 1:
                fail(f"deactivating {people[n]}'s row on instance {n} answered {status}: {body}")
        crl_after = db_query(db, "SELECT crl_number FROM crl")[0][0]
        if crl_after != crl_before + 2:
            fail(f"two revocations took the CRL from number {crl_before} to {crl_after}, not {crl_before + 2}")
        with urllib.request.urlopen(f"{portals[2].url}/pki/ca.crl", timeout=10) as resp:
            crl_der = resp.read()
        crl_text = subprocess.run(["openssl", "crl", "-inform", "DER", "-noout", "-text"], input=crl_der,
                                  capture_output=True, check=True).stdout.decode()
        listed = {line.split(":", 1)[1].strip().upper() for line in crl_text.splitlines()
                  if "Serial Number:" in line}
        missing = [serial for _, _, serial in certificates
                   if serial.replace(":", "").upper().lstrip("0") not in {s.lstrip("0") for s in listed}]
        if missing:
            fail(f"the CRL (number {crl_after}) misses the revoked serials {missing}; it lists {sorted(listed)}")

        print(f"instances-check{' (PostgreSQL)' if POSTGRES else ''}: {INSTANCES} instances started together (migrated once, one CRL, {start_secs:.1f} s); "
              f"{len(expected)} mails queued in {queued_secs:.1f} s and delivered in {delivery_secs:.1f} s "
              f"with {len(kills)} kills: 0 missing, {duplicates} twice (accepted by the relay after the "
              f"sender was killed, before its answer; 0 known to a journal); a {BULK_ROWS}-row apply killed "
              f"halfway left 0 rows, integrity ok; two revocations on two instances at once: CRL "
              f"{crl_before} → {crl_after}, both listed; {time.monotonic() - started:.1f} s")
    finally:
        for p in portals:
            p.stop()
        if smtp:
            smtp.terminate()
            smtp.wait()
        if os.environ.get("INSTANCES_CHECK_KEEP"):
            print(f"instances-check: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
