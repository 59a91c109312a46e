-- SCIM 2.0 service provider (SPEC R22): the IdM's bearer tokens, and the User resources the IdM
-- wrote, kept so that a GET answers what was written (Okta and Entra read users back).

-- Bearer tokens an operator made for an IdM. Only the SHA-256 of the token is kept (Q8): the
-- operator sees the token once, when it is made.
CREATE TABLE scim_tokens (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,          -- what the operator called it, e.g. 'entra'; the audit actor is scim:<name>
    token_hash    BLOB    NOT NULL UNIQUE,   -- SHA-256 of the token the IdM sends
    created_at    INTEGER NOT NULL,          -- when it was made
    created_by    TEXT    NOT NULL,          -- user ID of the operator, or cli:<os user>
    last_used_at  INTEGER,                   -- latest request that carried it (written at most once a minute)
    revoked_at    INTEGER,                   -- when it was revoked; a revoked token is refused
    revoked_by    TEXT                       -- who revoked it
);
-- A name names one token in force at a time; a revoked token's name may be used again.
CREATE UNIQUE INDEX scim_tokens_name_in_force ON scim_tokens (name) WHERE revoked_at IS NULL;

-- The IdM's User resources. `resource` is the JSON of the attributes the IdM wrote (without id and
-- meta, which the portal makes); the other columns are what the portal looks up or decides by.
CREATE TABLE scim_users (
    id            TEXT    PRIMARY KEY,       -- the resource's SCIM id: random, opaque, the portal's own
    user_name     TEXT    NOT NULL,          -- userName as the IdM sent it
    user_name_key TEXT    NOT NULL UNIQUE,   -- userName lower-cased: SCIM userName is unique regardless of case
    external_id   TEXT,                      -- externalId as the IdM sent it
    user_id       TEXT    NOT NULL,          -- the portal user ID (OIDC sub) it stands for (scim.user_id_attribute)
    active        INTEGER NOT NULL CHECK (active IN (0, 1)), -- 0: the IdM deactivated the person
    resource      TEXT    NOT NULL,          -- JSON of the resource as written
    version       INTEGER NOT NULL,          -- counts changes; the ETag W/"<version>"
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX scim_users_by_external_id ON scim_users (external_id);
CREATE INDEX scim_users_by_user_id ON scim_users (user_id);

-- New audit kinds for the tokens and the IdM's changes. SQLite cannot change a CHECK in place, so the
-- append-only table is copied into one with the longer list (nothing refers to it by foreign key;
-- DROP TABLE fires no DELETE trigger), and its indexes and triggers are made again.
CREATE TABLE audit_records_new (
    id            INTEGER PRIMARY KEY,
    at            INTEGER NOT NULL,          -- when
    actor         TEXT    NOT NULL,          -- user ID, or `cli:<verb>` / `scim:<token>` / `system` for what no person did
    domain_id     INTEGER REFERENCES domains (id), -- the domain concerned, for the NAPs' filtered view
    row_id        INTEGER,                   -- no foreign key: the record outlives a deleted row (R3)
    kind          TEXT    NOT NULL CHECK (kind IN (
                      'domain_registered', 'domain_contact_group_changed',
                      'row_created', 'row_edited', 'row_deleted', 'row_deactivated', 'row_reactivated',
                      'csv_applied',
                      'challenge_sent', 'challenge_confirmed', 'challenge_superseded',
                      'link_made', 'link_dropped',
                      'certificate_issued', 'certificate_revoked',
                      'account_created', 'account_changed',
                      'scim_token_created', 'scim_token_revoked',
                      'scim_user_created', 'scim_user_changed', 'scim_user_deleted')),
    subject       TEXT,                      -- what it is about: an address, a serial, an account id, a token name
    before        TEXT,                      -- JSON of the state before, when there was one
    after         TEXT                       -- JSON of the state after, when there is one
);
INSERT INTO audit_records_new (id, at, actor, domain_id, row_id, kind, subject, before, after)
    SELECT id, at, actor, domain_id, row_id, kind, subject, before, after FROM audit_records;
DROP TABLE audit_records;
ALTER TABLE audit_records_new RENAME TO audit_records;
CREATE INDEX audit_records_by_domain ON audit_records (domain_id, at);
CREATE INDEX audit_records_by_row ON audit_records (row_id, at);
CREATE INDEX audit_records_by_row_kind ON audit_records (row_id, kind, at);

CREATE TRIGGER audit_records_are_never_updated BEFORE UPDATE ON audit_records
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only (R16)');
END;

CREATE TRIGGER audit_records_are_never_deleted BEFORE DELETE ON audit_records
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only (R16)');
END;
