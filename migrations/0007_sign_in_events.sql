-- Sign-in attempts with local accounts (SPEC Q7), for operators to read (`ra-portal sign-ins`):
-- who tried which account from where, and what came of it. Never a password or a hash. Rows older
-- than 90 days are deleted by the hourly housekeeping, so the table stays bounded.
CREATE TABLE sign_in_events (
    id               INTEGER PRIMARY KEY,
    at               INTEGER NOT NULL,      -- when (Unix seconds)
    user_id          TEXT    NOT NULL,      -- the account id tried (lower-cased), or '(malformed)' if it cannot be one
    client           TEXT    NOT NULL,      -- the client's IP address (the peer, or per a trusted proxy's X-Forwarded-For)
    outcome          TEXT    NOT NULL CHECK (outcome IN (
                         'success',         -- the password was right; a session started
                         'failure',         -- unknown account or wrong password (which one is not said)
                         'throttled',       -- refused unchecked: too many recent failures of this client or account
                         'busy'             -- refused unchecked: too many passwords being checked at once
                     )),
    retry_after_secs INTEGER               -- throttled/busy: how long the client was told to wait
);
-- The operators' listing (newest first) and the purge.
CREATE INDEX sign_in_events_at ON sign_in_events (at);
-- "Has this client signed in to this account before?": such a client is spared the account's
-- throttle, so that an attacker elsewhere cannot lock the account's owner out.
CREATE INDEX sign_in_events_known_clients ON sign_in_events (user_id, client, outcome, at);
