-- API tokens (SPEC R21): a NAP makes a bearer token for scripts and the IdM, for some of the
-- domains they administer, to read or to read and write through /api/v1. Only the SHA-256 of the
-- token is kept (Q8): the NAP sees it once, when it is made.

CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,          -- the creator's name for it (a-z, 0-9, '.', '_', '-'); part of the audit actor
    secret_key    BLOB    NOT NULL UNIQUE,   -- SHA-256 of the token the script sends (backend::secret::storage_key)
    creator_id    TEXT    NOT NULL,          -- user ID of the NAP who made it; its reach is this person's current NAP role
    creator_name  TEXT    NOT NULL,          -- the creator's name as the IdM gave it then, for the lists (no foreign key: a local account need not have logged in)
    scope         TEXT    NOT NULL CHECK (scope IN ('read', 'read_write')), -- domain::api_token::ApiScope
    created_at    INTEGER NOT NULL,          -- when it was made
    created_by    TEXT    NOT NULL,          -- who made it: the creator, or cli:<os user> when made on the command line
    expires_at    INTEGER NOT NULL,          -- refused from this time on; at most one year after created_at (R21)
    last_used_at  INTEGER,                   -- latest request that carried it (written at most once a minute)
    revoked_at    INTEGER,                   -- when it stopped for good (revoked or ended); NULL while it is not
    revoked_by    TEXT,                      -- who: the creator, an operator, cli:<os user>, or the actor that ended it (scim:<token>, system)
    revoke_reason TEXT    CHECK (revoke_reason IN (
                      'revoked_by_creator',  -- the creator revoked it
                      'revoked_by_operator', -- an operator (or the command line) revoked it
                      'creator_left',        -- the IdM deprovisioned the creator (R22)
                      'creator_not_nap')),   -- it was used when none of its domains was the creator's any more
    CHECK (expires_at > created_at AND expires_at <= created_at + 366 * 86400),
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL)),
    CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
);
-- A creator's name names one token not revoked at a time; a revoked token's name may be used again
-- (the audit actor carries the token's id as well, so records stay unambiguous).
CREATE UNIQUE INDEX api_tokens_name_in_force ON api_tokens (creator_id, name) WHERE revoked_at IS NULL;
-- "My tokens", and the leaver's tokens that deprovisioning ends.
CREATE INDEX api_tokens_by_creator ON api_tokens (creator_id, revoked_at);

-- The domains a token was made for. Which of them it reaches is decided at each request: those
-- whose contact group is still one of the creator's groups (R21: it stops when the role goes).
CREATE TABLE api_token_domains (
    token_id      INTEGER NOT NULL REFERENCES api_tokens (id),
    domain_id     INTEGER NOT NULL REFERENCES domains (id),
    PRIMARY KEY (token_id, domain_id)
);
CREATE INDEX api_token_domains_by_domain ON api_token_domains (domain_id);

-- New audit kinds. SQLite cannot change a CHECK in place, so the append-only table is copied into
-- one with the longer list (as 0010 and 0011 did; the list below is 0011's plus this migration's).
CREATE TABLE audit_records_new (
    id            INTEGER PRIMARY KEY,
    at            INTEGER NOT NULL,          -- when
    actor         TEXT    NOT NULL,          -- user ID, or `cli:<verb>` / `scim:<token>` / `api:<token>#<id>@<creator>` / `system` for what no person did
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
                      'scim_user_created', 'scim_user_changed', 'scim_user_deleted',
                      'user_deprovisioned', 'deprovisioning_confirmed', 'deprovisioning_discarded',
                      'deprovision_proposal_accepted', 'deprovision_proposal_dismissed',
                      'domain_deprovision_mode_changed',
                      'api_token_created', 'api_token_revoked', 'api_token_ended')),
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
