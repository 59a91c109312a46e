-- What the address table's page query needs (list_rows; SPEC P2: a 50-row page of a 100 000-row domain,
-- filtered and sorted, within milliseconds): sort indexes, kept counts, a substring search index.

-- One index per sort key of the table, each led by the domain, so that a page is read in index order and
-- the scan stops after offset + page rows instead of sorting the whole domain. The row id (implicitly the
-- last column of every index) breaks ties, which keeps paging stable. Sorting by primary address uses
-- mailbox_rows_by_domain and by last name mailbox_rows_by_domain_name (both in 0001).

-- Sort by first name, then last name.
CREATE INDEX mailbox_rows_by_domain_first_name ON mailbox_rows (domain_id, first_name, last_name);
-- Sort (and filter) by mailbox type, then primary address.
CREATE INDEX mailbox_rows_by_domain_type ON mailbox_rows (domain_id, mailbox_type, primary_address);
-- Sort (and filter) by active, then primary address.
CREATE INDEX mailbox_rows_by_domain_active ON mailbox_rows (domain_id, active, primary_address);
-- Sort by the time of the last change.
CREATE INDEX mailbox_rows_by_domain_updated ON mailbox_rows (domain_id, updated_at);

-- The "pending" filter of the table: a row has an address with a pending challenge. Partial, so it holds
-- only the few challenges under way, not the whole history.
CREATE INDEX challenges_pending_by_row ON challenges (row_id, expires_at) WHERE state = 'pending';

-- How many rows each table has, by active flag and mailbox type: the page's total without counting
-- 100 000 rows on every page. Kept by the triggers below, so no writer can forget it.
CREATE TABLE row_counts (
    domain_id     INTEGER NOT NULL REFERENCES domains (id),
    active        INTEGER NOT NULL,         -- mailbox_rows.active
    mailbox_type  TEXT    NOT NULL,         -- mailbox_rows.mailbox_type
    rows          INTEGER NOT NULL,         -- how many rows of the domain have this active flag and type
    PRIMARY KEY (domain_id, active, mailbox_type)
) WITHOUT ROWID;

INSERT INTO row_counts (domain_id, active, mailbox_type, rows)
SELECT domain_id, active, mailbox_type, COUNT(*) FROM mailbox_rows GROUP BY domain_id, active, mailbox_type;

CREATE TRIGGER row_counts_on_insert AFTER INSERT ON mailbox_rows
BEGIN
    INSERT INTO row_counts (domain_id, active, mailbox_type, rows)
    VALUES (NEW.domain_id, NEW.active, NEW.mailbox_type, 1)
    ON CONFLICT (domain_id, active, mailbox_type) DO UPDATE SET rows = rows + 1;
END;

CREATE TRIGGER row_counts_on_delete AFTER DELETE ON mailbox_rows
BEGIN
    UPDATE row_counts SET rows = rows - 1
    WHERE domain_id = OLD.domain_id AND active = OLD.active AND mailbox_type = OLD.mailbox_type;
END;

CREATE TRIGGER row_counts_on_update AFTER UPDATE OF domain_id, active, mailbox_type ON mailbox_rows
WHEN OLD.domain_id <> NEW.domain_id OR OLD.active <> NEW.active OR OLD.mailbox_type <> NEW.mailbox_type
BEGIN
    UPDATE row_counts SET rows = rows - 1
    WHERE domain_id = OLD.domain_id AND active = OLD.active AND mailbox_type = OLD.mailbox_type;
    INSERT INTO row_counts (domain_id, active, mailbox_type, rows)
    VALUES (NEW.domain_id, NEW.active, NEW.mailbox_type, 1)
    ON CONFLICT (domain_id, active, mailbox_type) DO UPDATE SET rows = rows + 1;
END;

-- The table's search box: a substring of any address or name of a row, case-insensitively. One text per
-- row, written by the rows service whenever names or addresses change.
CREATE TABLE row_search_text (
    row_id        INTEGER PRIMARY KEY REFERENCES mailbox_rows (id) ON DELETE CASCADE, -- the row; goes with it
    domain_id     INTEGER NOT NULL,         -- the row's domain, so a search stays in one table (no index:
                                            -- a short search reads the whole table anyway)
    text          TEXT    NOT NULL          -- first name, last name and every address, lower-case, space-separated
);

-- `LIKE '%…%'` cannot use a B-tree index; a trigram index answers a search of three or more characters
-- from the index alone (shorter ones scan row_search_text). External content: the text is stored once, in
-- row_search_text, and the triggers keep the index in step with it. SQLite-only (PostgreSQL: pg_trgm).
CREATE VIRTUAL TABLE row_search USING fts5 (
    text,                                   -- row_search_text.text; the rowid is row_search_text.row_id
    content = 'row_search_text',
    content_rowid = 'row_id',
    tokenize = 'trigram'
);

CREATE TRIGGER row_search_on_insert AFTER INSERT ON row_search_text
BEGIN
    INSERT INTO row_search (rowid, text) VALUES (NEW.row_id, NEW.text);
END;

CREATE TRIGGER row_search_on_delete AFTER DELETE ON row_search_text
BEGIN
    INSERT INTO row_search (row_search, rowid, text) VALUES ('delete', OLD.row_id, OLD.text);
END;

CREATE TRIGGER row_search_on_update AFTER UPDATE ON row_search_text
BEGIN
    INSERT INTO row_search (row_search, rowid, text) VALUES ('delete', OLD.row_id, OLD.text);
    INSERT INTO row_search (rowid, text) VALUES (NEW.row_id, NEW.text);
END;
