-- Expiry reminders and the NAPs' digest (SPEC R23). Each table's primary key is also the claim that
-- lets several instances run the periodic job at once: whoever inserts the key sends the mail, in
-- the same transaction; everyone else's INSERT … ON CONFLICT DO NOTHING changes nothing.

-- The reminder steps sent per certificate, so no step is mailed twice, also across restarts.
CREATE TABLE certificate_reminders (
    certificate_id INTEGER NOT NULL REFERENCES certificates (id),
    days_before    INTEGER NOT NULL,      -- the configured step (e.g. 30, 14, 7, 1) this mail stood for
    sent_at        INTEGER NOT NULL,      -- when it was queued in the outbox
    PRIMARY KEY (certificate_id, days_before)
);

-- NAPs who turned the digest of a domain off. No row: the digest is on (the default).
CREATE TABLE digest_opt_outs (
    user_id        TEXT    NOT NULL REFERENCES users (id),
    domain_id      INTEGER NOT NULL REFERENCES domains (id),
    at             INTEGER NOT NULL,      -- when they turned it off
    PRIMARY KEY (user_id, domain_id)
);

-- One row per NAP, domain and digest period that was looked at, mailed or not: a restart (or a
-- second instance) never sends a period's digest twice, and the next digest reports what happened
-- since this one.
CREATE TABLE nap_digests (
    user_id        TEXT    NOT NULL REFERENCES users (id),
    domain_id      INTEGER NOT NULL REFERENCES domains (id),
    period         INTEGER NOT NULL,      -- floor(at / interval): the digest period it belongs to
    at             INTEGER NOT NULL,      -- when it was made
    mailed         INTEGER NOT NULL CHECK (mailed IN (0, 1)), -- 0: there was nothing to say
    PRIMARY KEY (user_id, domain_id, period)
);
CREATE INDEX nap_digests_latest ON nap_digests (user_id, domain_id, at);

-- The groups each user had at their latest login. Sessions hold them only while they last (they
-- are purged when they time out), but the digest goes to the NAPs who logged in with a domain's
-- contact group within the last weeks: a trigger keeps the latest login's groups, so the login
-- code needs no change.
CREATE TABLE last_login_groups (
    user_id        TEXT    PRIMARY KEY REFERENCES users (id),
    groups         TEXT    NOT NULL,      -- JSON array of group names, as the session got them
    logged_in_at   INTEGER NOT NULL       -- the session's start
);

INSERT INTO last_login_groups (user_id, groups, logged_in_at)
SELECT s.user_id, s.groups, s.created_at FROM sessions s
WHERE s.created_at = (SELECT MAX(t.created_at) FROM sessions t WHERE t.user_id = s.user_id)
GROUP BY s.user_id;

CREATE TRIGGER sessions_remember_login_groups AFTER INSERT ON sessions
BEGIN
    INSERT INTO last_login_groups (user_id, groups, logged_in_at)
    VALUES (NEW.user_id, NEW.groups, NEW.created_at)
    ON CONFLICT (user_id) DO UPDATE SET groups = excluded.groups, logged_in_at = excluded.logged_in_at
    WHERE excluded.logged_in_at >= last_login_groups.logged_in_at;
END;
