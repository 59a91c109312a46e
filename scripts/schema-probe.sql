-- The same writes on SQLite and PostgreSQL (scripts/schema-check.sh runs this file with sqlite3 and
-- psql and compares what it prints): what the triggers keep must come out the same on both engines.
-- Portable SQL only (TRUE/FALSE are 1/0 to SQLite; CAST(... AS INTEGER) prints flags alike).

INSERT INTO domains (id, name, contact_group, created_at, updated_at)
VALUES (1, 'a.example', 'g-a', 1, 1), (2, 'b.example', 'g-b', 1, 1);

-- Several rows in one statement (a bulk write), then one.
INSERT INTO mailbox_rows (id, domain_id, primary_address, first_name, last_name, mailbox_type,
                          applicant_address, active, created_at, updated_at)
VALUES (1, 1, 'anna@a.example', 'Anna', 'A', 'personal', NULL, TRUE, 1, 1),
       (2, 1, 'bob@a.example', 'Bob', 'B', 'personal', NULL, TRUE, 1, 1),
       (3, 1, 'info@a.example', '', 'Info', 'functional', 'anna@a.example', TRUE, 1, 1),
       (4, 2, 'carl@b.example', 'Carl', 'C', 'personal', NULL, FALSE, 1, 1),
       (6, 2, 'eve@b.example', 'Eve', 'E', 'personal', NULL, TRUE, 1, 1);
INSERT INTO mailbox_rows (id, domain_id, primary_address, first_name, last_name, mailbox_type,
                          applicant_address, active, created_at, updated_at)
VALUES (5, 2, 'dora@b.example', 'Dora', 'D', 'personal', NULL, TRUE, 1, 1);

-- Two more rows into a bucket that exists: the counts add up per statement, not per row.
INSERT INTO mailbox_rows (id, domain_id, primary_address, first_name, last_name, mailbox_type,
                          applicant_address, active, created_at, updated_at)
VALUES (7, 1, 'fritz@a.example', 'Fritz', 'F', 'personal', NULL, TRUE, 1, 1),
       (8, 1, 'gina@a.example', 'Gina', 'G', 'personal', NULL, TRUE, 1, 1);

-- A move to another bucket, a change within one, rows swapping buckets in one statement, and a
-- challenge round (which raises no change counter).
UPDATE mailbox_rows SET active = FALSE, version = version + 1, updated_at = 2 WHERE id = 2;
UPDATE mailbox_rows SET last_name = 'Bee', version = version + 1, updated_at = 3 WHERE id = 2;
UPDATE mailbox_rows SET active = NOT active, version = version + 1, updated_at = 4 WHERE domain_id = 2;
UPDATE mailbox_rows SET challenged = TRUE WHERE domain_id = 1;

-- Search texts: written, then two of one domain changed in one statement.
INSERT INTO row_search_text (row_id, domain_id, text)
VALUES (1, 1, 'anna a anna@a.example'), (2, 1, 'bob bee bob@a.example'), (4, 2, 'carl c carl@b.example');
UPDATE row_search_text SET text = text || ' alias@a.example' WHERE domain_id = 1;

-- A row deleted (its search text goes with it).
DELETE FROM mailbox_rows WHERE id = 5;

-- Two logins of one user; the older one, inserted last, does not replace the newer's groups.
INSERT INTO users (id, source, first_seen_at, last_login_at) VALUES ('u1', 'local', 1, 10);
INSERT INTO sessions (id_hash, user_id, groups, created_at, last_seen_at, expires_at)
VALUES ('session-1', 'u1', '["g-a"]', 10, 10, 100);
INSERT INTO sessions (id_hash, user_id, groups, created_at, last_seen_at, expires_at)
VALUES ('session-2', 'u1', '["g-b"]', 5, 5, 100);

-- Audit records of an early and of a late kind.
INSERT INTO audit_records (at, actor, domain_id, kind, subject)
VALUES (1, 'probe', 1, 'row_created', 'anna@a.example'), (2, 'probe', NULL, 'scim_user_deleted', 'u1');

SELECT domain_id, CAST(active AS INTEGER), mailbox_type, rows, changes FROM row_counts
ORDER BY domain_id, CAST(active AS INTEGER), mailbox_type;
SELECT user_id, groups, logged_in_at FROM last_login_groups;
SELECT COUNT(*), MIN(kind), MAX(kind) FROM audit_records;
SELECT COUNT(*) FROM row_search_text;
