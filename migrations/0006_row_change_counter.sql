-- A change counter per domain for the search's kept matching rows (`backend/src/search_matches.rs`, SPEC P2):
-- paging through a search reads a page by the ids of the matching rows found for its first page, and
-- only while the sum of the domain's counters is what it was then. So every change that can move a
-- row into, out of or within a search's matches raises it: a row added or deleted, a change of its
-- names, addresses, type, active flag or time of change, and a change of its search text (aliases).
-- Kept by triggers, like the counts, so no writer can forget it; a new bucket starts at 1, not 0,
-- so that the sum rises with it too. A challenge round (`challenged`) does not raise it: the kept
-- matches are only those of filters without an address state.
ALTER TABLE row_counts ADD COLUMN changes INTEGER NOT NULL DEFAULT 0; -- changes of the bucket's rows, ever

DROP TRIGGER row_counts_on_insert;
CREATE TRIGGER row_counts_on_insert AFTER INSERT ON mailbox_rows
BEGIN
    INSERT INTO row_counts (domain_id, active, mailbox_type, rows, changes)
    VALUES (NEW.domain_id, NEW.active, NEW.mailbox_type, 1, 1)
    ON CONFLICT (domain_id, active, mailbox_type) DO UPDATE SET rows = rows + 1, changes = changes + 1;
END;

DROP TRIGGER row_counts_on_delete;
CREATE TRIGGER row_counts_on_delete AFTER DELETE ON mailbox_rows
BEGIN
    UPDATE row_counts SET rows = rows - 1, changes = changes + 1
    WHERE domain_id = OLD.domain_id AND active = OLD.active AND mailbox_type = OLD.mailbox_type;
END;

-- Moves between buckets are counted by row_counts_on_update (0002) and raise the new bucket here;
-- the old bucket's counter stays, so the sum still rises.
CREATE TRIGGER row_changes_on_update
AFTER UPDATE OF domain_id, primary_address, first_name, last_name, mailbox_type, active, updated_at, version
ON mailbox_rows
BEGIN
    INSERT INTO row_counts (domain_id, active, mailbox_type, rows, changes)
    VALUES (NEW.domain_id, NEW.active, NEW.mailbox_type, 0, 1)
    ON CONFLICT (domain_id, active, mailbox_type) DO UPDATE SET changes = changes + 1;
END;

CREATE TRIGGER row_changes_on_search_text_update AFTER UPDATE ON row_search_text
BEGIN
    UPDATE row_counts SET changes = changes + 1 WHERE domain_id = NEW.domain_id;
END;
