-- The whole schema of the RA portal's "My email domains" part (SPEC.md sections 1-6).

-- Email domains registered by an operator. A domain's NAPs are the members of its contact group.
CREATE TABLE domains (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,  -- ASCII (punycode), lower-case, as domain::DomainName prints it
    contact_group TEXT    NOT NULL,         -- IdM group whose members are this domain's NAPs (R1)
    created_at    INTEGER NOT NULL,         -- when an operator registered it
    updated_at    INTEGER NOT NULL          -- last change of the contact group
);

-- Everybody who has logged in at least once, from OIDC or a local account. The user ID is what links and
-- certificates point at; the names come from the IdM and make a personal certificate's CN (R13).
CREATE TABLE users (
    id            TEXT    PRIMARY KEY,      -- OIDC `sub`, or the local account's id
    source        TEXT    NOT NULL CHECK (source IN ('oidc', 'local')), -- which kind of login made it
    given_name    TEXT    NOT NULL DEFAULT '', -- from the IdM at the last login
    family_name   TEXT    NOT NULL DEFAULT '', -- from the IdM at the last login
    email         TEXT,                     -- the IdM's email claim, for information only (never proof of control)
    first_seen_at INTEGER NOT NULL,         -- first login
    last_login_at INTEGER NOT NULL          -- latest login
);

-- Local accounts: the embedded default identity source when no OIDC provider is configured.
CREATE TABLE local_accounts (
    id            TEXT    PRIMARY KEY,      -- the login name and user ID
    password_hash TEXT    NOT NULL,         -- argon2id PHC string; the password itself is never stored
    given_name    TEXT    NOT NULL DEFAULT '', -- plays the role of the IdM's given_name claim
    family_name   TEXT    NOT NULL DEFAULT '', -- plays the role of the IdM's family_name claim
    email         TEXT,                     -- informational, like the IdM's email claim
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL          -- last change (e.g. password)
);

-- Group memberships of local accounts; plays the role of the OIDC groups claim.
CREATE TABLE local_account_groups (
    account_id    TEXT    NOT NULL REFERENCES local_accounts (id) ON DELETE CASCADE, -- the member
    group_name    TEXT    NOT NULL,         -- an IdM group name, e.g. a domain's contact group
    PRIMARY KEY (account_id, group_name)
);

-- Server-side login sessions (Q2). Only a hash of the session ID is stored: a copy of the database does
-- not let anyone take over a session.
CREATE TABLE sessions (
    id_hash       BLOB    PRIMARY KEY,      -- SHA-256 of the random session ID held in the cookie
    user_id       TEXT    NOT NULL REFERENCES users (id),
    groups        TEXT    NOT NULL,         -- JSON array of the user's groups as the IdM said at login
    created_at    INTEGER NOT NULL,         -- for the absolute timeout
    last_seen_at  INTEGER NOT NULL,         -- for the idle timeout
    expires_at    INTEGER NOT NULL          -- absolute end of the session
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- OIDC logins under way: what the callback needs to finish them. Short-lived; removed when used.
CREATE TABLE oidc_logins (
    state         TEXT    PRIMARY KEY,      -- the OAuth `state` (random), matched on the callback
    nonce         TEXT    NOT NULL,         -- expected in the ID token
    pkce_verifier TEXT    NOT NULL,         -- PKCE S256 verifier for this login only
    return_to     TEXT    NOT NULL,         -- local path to go back to after login (e.g. a challenge link)
    created_at    INTEGER NOT NULL          -- logins older than a few minutes are refused and purged
);

-- The rows of a domain's address table: one mailbox each (SPEC section 2).
CREATE TABLE mailbox_rows (
    id                INTEGER PRIMARY KEY,
    domain_id         INTEGER NOT NULL REFERENCES domains (id),   -- the domain its primary address lies in
    primary_address   TEXT    NOT NULL UNIQUE, -- sender address; never changes (R2, enforced by a trigger)
    first_name        TEXT    NOT NULL DEFAULT '', -- admin-friendly name; empty on functional rows
    last_name         TEXT    NOT NULL DEFAULT '', -- admin-friendly name; the mailbox's name on functional rows
    mailbox_type      TEXT    NOT NULL CHECK (mailbox_type IN ('personal', 'functional')),
    applicant_address TEXT,                    -- functional rows only: who applies and gets the challenges
    comment           TEXT    NOT NULL DEFAULT '', -- the NAP's own notes; never in a certificate
    active            INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)), -- R7
    version           INTEGER NOT NULL DEFAULT 1, -- bumped by every edit: optimistic concurrency
    challenged        INTEGER NOT NULL DEFAULT 0 CHECK (challenged IN (0, 1)), -- 1 once a challenge was sent (R3)
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    CHECK ((mailbox_type = 'personal' AND applicant_address IS NULL)
        OR (mailbox_type = 'functional' AND applicant_address IS NOT NULL))
);
CREATE INDEX mailbox_rows_by_domain ON mailbox_rows (domain_id, primary_address);
CREATE INDEX mailbox_rows_by_domain_name ON mailbox_rows (domain_id, last_name, first_name);

-- R2 in the database too: the primary address of a row is never edited.
CREATE TRIGGER mailbox_rows_primary_address_is_immutable
BEFORE UPDATE OF primary_address ON mailbox_rows
WHEN NEW.primary_address <> OLD.primary_address
BEGIN
    SELECT RAISE(ABORT, 'the primary address of a row cannot be edited (R2)');
END;

-- Every address of every row, primary and aliases, in one table so that uniqueness across the whole portal
-- is a plain UNIQUE constraint.
CREATE TABLE addresses (
    address       TEXT    PRIMARY KEY,      -- lower-case, domain in punycode; unique portal-wide
    row_id        INTEGER NOT NULL REFERENCES mailbox_rows (id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL CHECK (kind IN ('primary', 'alias')),
    position      INTEGER NOT NULL          -- 0 for the primary, 1.. for aliases in the NAP's order
);
CREATE INDEX addresses_by_row ON addresses (row_id, position);
CREATE UNIQUE INDEX addresses_one_primary_per_row ON addresses (row_id) WHERE kind = 'primary';

-- Challenges: one per address and round (R9, R10). Rows with challenges cannot be deleted (R3): the foreign
-- key has no cascade on purpose.
CREATE TABLE challenges (
    id            INTEGER PRIMARY KEY,
    row_id        INTEGER NOT NULL REFERENCES mailbox_rows (id),
    address       TEXT    NOT NULL,         -- the address whose control is being proven
    recipient     TEXT    NOT NULL,         -- where the mail went: the address, or the applicant (functional)
    token_hash    BLOB    NOT NULL UNIQUE,  -- SHA-256 of the token; the token itself is never stored
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'confirmed', 'superseded', 'expired')),
    created_at    INTEGER NOT NULL,         -- when it was sent
    expires_at    INTEGER NOT NULL,         -- created_at + the configured lifetime
    resolved_at   INTEGER,                  -- when it left `pending`
    confirmed_by  TEXT    REFERENCES users (id), -- the user ID that confirmed it
    CHECK ((state = 'confirmed') = (confirmed_by IS NOT NULL)),
    CHECK ((state = 'pending') = (resolved_at IS NULL))
);
CREATE INDEX challenges_by_row ON challenges (row_id, state);
-- At most one pending challenge per address: a new round supersedes the old one first (R9).
CREATE UNIQUE INDEX challenges_one_pending_per_address ON challenges (address) WHERE state = 'pending';
CREATE INDEX challenges_by_address ON challenges (address, created_at);

-- Links: which user ID controls which address, as proven by a confirmed challenge (R11).
CREATE TABLE links (
    address       TEXT    PRIMARY KEY REFERENCES addresses (address), -- dropped explicitly (with audit) before an address goes
    row_id        INTEGER NOT NULL REFERENCES mailbox_rows (id),
    user_id       TEXT    NOT NULL REFERENCES users (id),
    challenge_id  INTEGER NOT NULL REFERENCES challenges (id), -- the confirmation that made it
    linked_at     INTEGER NOT NULL
);
CREATE INDEX links_by_user ON links (user_id);
CREATE INDEX links_by_row ON links (row_id);

-- Issued certificates (R12-R14). The private key of a server-made key pair is never stored (R14).
CREATE TABLE certificates (
    id            INTEGER PRIMARY KEY,
    serial        TEXT    NOT NULL UNIQUE,  -- hex, as in the certificate
    row_id        INTEGER NOT NULL REFERENCES mailbox_rows (id),
    user_id       TEXT    NOT NULL REFERENCES users (id), -- who requested it: they keep seeing it (R12)
    subject       TEXT    NOT NULL,         -- the subject DN as text, for display
    addresses     TEXT    NOT NULL,         -- JSON array of the rfc822Names in subjectAltName
    key_source    TEXT    NOT NULL CHECK (key_source IN ('csr', 'server')), -- R14
    not_before    INTEGER NOT NULL,
    not_after     INTEGER NOT NULL,
    der           BLOB    NOT NULL,         -- the certificate itself
    issued_at     INTEGER NOT NULL
);
CREATE INDEX certificates_by_user ON certificates (user_id);
CREATE INDEX certificates_by_row ON certificates (row_id);

-- Revocations (R15). A certificate is revoked at most once.
CREATE TABLE revocations (
    certificate_id INTEGER PRIMARY KEY REFERENCES certificates (id),
    revoked_at     INTEGER NOT NULL,
    -- RFC 5280 reason; NULL means unspecified, whose code is left out of the CRL (never written as 0)
    reason         TEXT CHECK (reason IN ('keyCompromise', 'affiliationChanged', 'superseded',
                                          'cessationOfOperation', 'privilegeWithdrawn')),
    revoked_by     TEXT    NOT NULL         -- user ID of the owner or NAP who revoked it
);

-- The CRL as last signed; one row. Re-signed at every revocation and at least daily (R15).
CREATE TABLE crl (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    crl_number    INTEGER NOT NULL,         -- monotonically increasing CRL number extension
    this_update   INTEGER NOT NULL,
    next_update   INTEGER NOT NULL,         -- at most 7 days after this_update
    der           BLOB    NOT NULL          -- the signed CRL
);

-- Mail waiting for or done with delivery. Written in the same transaction as what caused it (a challenge,
-- a revocation), so a crash loses no mail; the worker delivers it and records the outcome.
CREATE TABLE mail_outbox (
    id              INTEGER PRIMARY KEY,
    created_at      INTEGER NOT NULL,
    recipient       TEXT    NOT NULL,       -- one address per mail
    subject         TEXT    NOT NULL,
    -- The bodies may hold a challenge link, i.e. a token: they are cleared (NULL) once the mail is sent or
    -- failed for good, so tokens stay in the database only while undelivered.
    body_text       TEXT,
    body_html       TEXT,
    message_id      TEXT    NOT NULL UNIQUE, -- Message-ID header, fixed at enqueue so a retry is the same mail
    challenge_id    INTEGER REFERENCES challenges (id), -- the challenge it carries, if any
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0, -- delivery attempts so far
    next_attempt_at INTEGER NOT NULL,       -- when the worker may try (again); backoff after temporary failures
    last_error      TEXT,                   -- the SMTP server's reply (or the local error) of the last failure
    sent_at         INTEGER                 -- when the server accepted it
);
CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at);
CREATE INDEX mail_outbox_by_challenge ON mail_outbox (challenge_id);

-- The audit trail (R16): who did what, when, before and after. Append-only, enforced by triggers.
CREATE TABLE audit_records (
    id            INTEGER PRIMARY KEY,
    at            INTEGER NOT NULL,          -- when
    actor         TEXT    NOT NULL,          -- user ID, or `cli:<verb>` / `system` for what no person did
    domain_id     INTEGER REFERENCES domains (id), -- the domain concerned, for the NAPs' filtered view
    row_id        INTEGER,                   -- no foreign key: the record outlives a deleted row (R3)
    kind          TEXT    NOT NULL CHECK (kind IN (
                      'domain_registered', 'domain_contact_group_changed',
                      'row_created', 'row_edited', 'row_deleted', 'row_deactivated', 'row_reactivated',
                      'csv_applied',
                      'challenge_sent', 'challenge_confirmed', 'challenge_superseded',
                      'link_made', 'link_dropped',
                      'certificate_issued', 'certificate_revoked',
                      'account_created', 'account_changed')),
    subject       TEXT,                      -- what it is about: an address, a serial, an account id
    before        TEXT,                      -- JSON of the state before, when there was one
    after         TEXT                       -- JSON of the state after, when there is one
);
CREATE INDEX audit_records_by_domain ON audit_records (domain_id, at);
CREATE INDEX audit_records_by_row ON audit_records (row_id, at);

CREATE TRIGGER audit_records_are_never_updated BEFORE UPDATE ON audit_records
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only (R16)');
END;

CREATE TRIGGER audit_records_are_never_deleted BEFORE DELETE ON audit_records
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only (R16)');
END;
