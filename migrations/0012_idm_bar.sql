-- The IdM's bar (SPEC R22): while the IdM says a person is inactive or deleted, the portal lets
-- them neither sign in, nor request a certificate, nor confirm a challenge. An inactive User is in
-- scim_users (active = 0); a deleted one is gone from it, so its deletion is kept here.

-- The portal user IDs whose SCIM User the IdM deleted. A User that stands for the ID again and is
-- active lifts the bar (the IdM re-created the person), so a row here is never deleted.
CREATE TABLE scim_deleted_users (
    user_id    TEXT    PRIMARY KEY,   -- the portal user ID (scim_users.user_id) the deleted User stood for
    deleted_at INTEGER NOT NULL,      -- when the IdM deleted it (the latest deletion)
    deleted_by TEXT    NOT NULL       -- scim:<token name>
);

-- Deletions the IdM made before this migration, from the audit trail (its subject is the user ID).
INSERT INTO scim_deleted_users (user_id, deleted_at, deleted_by)
    SELECT subject, MAX(at), actor FROM audit_records
    WHERE kind = 'scim_user_deleted' AND subject IS NOT NULL
    GROUP BY subject;

-- A refused sign-in of a person the IdM deactivated is an outcome of its own. SQLite cannot change
-- a CHECK in place, so the table is copied into one with the longer list (nothing refers to it).
CREATE TABLE sign_in_events_new (
    id               INTEGER PRIMARY KEY,
    at               INTEGER NOT NULL,      -- when (Unix seconds)
    user_id          TEXT    NOT NULL,      -- the account id tried (lower-cased), or '(malformed)' if it cannot be one
    client           TEXT    NOT NULL,      -- the client's IP address (the peer, or per a trusted proxy's X-Forwarded-For)
    outcome          TEXT    NOT NULL CHECK (outcome IN (
                         'success',         -- the password was right; a session started
                         'failure',         -- unknown account or wrong password (which one is not said)
                         'throttled',       -- refused unchecked: too many recent failures of this client or account
                         'busy',            -- refused unchecked: too many passwords being checked at once
                         'idm_inactive'     -- the password was right, but the IdM says the person is inactive or deleted (R22)
                     )),
    retry_after_secs INTEGER               -- throttled/busy: how long the client was told to wait
);
INSERT INTO sign_in_events_new (id, at, user_id, client, outcome, retry_after_secs)
    SELECT id, at, user_id, client, outcome, retry_after_secs FROM sign_in_events;
DROP TABLE sign_in_events;
ALTER TABLE sign_in_events_new RENAME TO sign_in_events;
-- The operators' listing (newest first) and the purge.
CREATE INDEX sign_in_events_at ON sign_in_events (at);
-- "Has this client signed in to this account before?" (only 'success' counts).
CREATE INDEX sign_in_events_known_clients ON sign_in_events (user_id, client, outcome, at);
