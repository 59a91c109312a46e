-- IdM deprovisioning (SPEC R22): the domain setting, what each deprovisioning did or holds, and the
-- audit kinds for it.

-- Per domain, chosen by its NAPs: a leaver's personal row is deactivated and their certificates
-- revoked at once ('revoke', the default), or it goes on the worklist as a proposal ('propose').
ALTER TABLE domains ADD COLUMN deprovision_mode TEXT NOT NULL DEFAULT 'revoke'
    CHECK (deprovision_mode IN ('revoke', 'propose'));

-- One row per deprovisioning that changed something: the IdM said the user left.
CREATE TABLE deprovisionings (
    id             INTEGER PRIMARY KEY,
    user_id        TEXT    NOT NULL,      -- the portal user ID; no foreign key: the IdM may name someone who never logged in
    actor          TEXT    NOT NULL,      -- scim:<token name>
    at             INTEGER NOT NULL,      -- when the IdM reported it
    sessions_ended INTEGER NOT NULL,      -- how many sessions ended at once
    held           INTEGER NOT NULL CHECK (held IN (0, 1)), -- 1: the circuit breaker held its rows for an operator
    decision       TEXT    CHECK (decision IN ('confirmed', 'discarded')), -- an operator's decision on a held one
    decided_by     TEXT,
    decided_at     INTEGER,
    CHECK ((decision IS NULL) = (decided_at IS NULL)),
    CHECK (held = 1 OR decision IS NULL)
);
CREATE INDEX deprovisionings_by_at ON deprovisionings (at);
CREATE INDEX deprovisionings_by_user ON deprovisionings (user_id);
CREATE INDEX deprovisionings_undecided ON deprovisionings (held, decision);

-- What a deprovisioning did, proposes or holds, per row. `reported_at` is the claim of the NAPs'
-- mail of the sync run: set in the transaction that queues it, so no item is mailed twice, also
-- across restarts and beside a second instance.
CREATE TABLE deprovision_items (
    id                INTEGER PRIMARY KEY,
    deprovisioning_id INTEGER NOT NULL REFERENCES deprovisionings (id),
    domain_id         INTEGER NOT NULL REFERENCES domains (id),
    row_id            INTEGER NOT NULL REFERENCES mailbox_rows (id),
    primary_address   TEXT    NOT NULL,   -- as it was, for the mail and the operators' page
    kind              TEXT    NOT NULL CHECK (kind IN ('personal', 'functional', 'shared')),
    state             TEXT    NOT NULL CHECK (state IN (
                          'applied',      -- done at once
                          'proposed',     -- waits on the worklist for a NAP
                          'accepted',     -- a NAP accepted the proposal (the one-step leaver)
                          'dismissed',    -- a NAP dismissed the proposal
                          'held',         -- the circuit breaker held it for an operator
                          'confirmed',    -- an operator confirmed it (what it did is a new 'applied'/'proposed' item)
                          'discarded')),  -- an operator discarded it
    deactivated       INTEGER NOT NULL CHECK (deactivated IN (0, 1)), -- the row was deactivated
    links_dropped     INTEGER NOT NULL,   -- the leaver's links dropped
    revoked           INTEGER NOT NULL,   -- the leaver's certificates revoked
    created_at        INTEGER NOT NULL,
    decided_by        TEXT,               -- who accepted, dismissed, confirmed or discarded it
    decided_at        INTEGER,
    reported_at       INTEGER             -- when the NAPs' mail listing it was queued; NULL: not yet
);
CREATE INDEX deprovision_items_by_deprovisioning ON deprovision_items (deprovisioning_id);
CREATE INDEX deprovision_items_open ON deprovision_items (domain_id, state);
CREATE INDEX deprovision_items_unreported ON deprovision_items (reported_at);

-- New audit kinds. SQLite cannot change a CHECK in place, so the append-only table is copied into
-- one with the longer list (as 0010 did; the list below is 0010's plus this migration's).
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
                      'scim_user_created', 'scim_user_changed', 'scim_user_deleted',
                      'user_deprovisioned', 'deprovisioning_confirmed', 'deprovisioning_discarded',
                      'deprovision_proposal_accepted', 'deprovision_proposal_dismissed',
                      'domain_deprovision_mode_changed')),
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
