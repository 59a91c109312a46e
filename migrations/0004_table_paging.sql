-- Cheap deep pages of the address table (SPEC P2). The sort indexes of 0001/0002 hold the sort columns only:
-- a page at OFFSET n filtered by active or mailbox type had to read the table row of each of the n skipped
-- entries to test the filter (≈ 1 µs each: page 1000 of the active rows took 40 ms). Each sort index is
-- replaced by one that also holds the filter columns of the table (active, mailbox_type, challenged), so the
-- page query reads the ids of a page from the index alone: skipping an entry costs a step in the index
-- (≈ 50 ns), and only the page's own rows are read from the table. Same number of indexes as before, so
-- writes (CSV upload, P1) cost about the same.
--
-- The row id is written out where the sort needs it as the last sort column (ties: stable paging); in the
-- other indexes it is implicit. Every index is led by the domain: a table is one domain's rows.

-- Sort by primary address (unique in the portal, so no tie-breaker). Replaces mailbox_rows_by_domain (0001),
-- which other queries use for "the rows of a domain" too: this one starts with the same columns.
DROP INDEX mailbox_rows_by_domain;
CREATE INDEX mailbox_rows_by_domain ON mailbox_rows (domain_id, primary_address, active, mailbox_type, challenged);

-- Sort by last name, then first name, then id (0001's mailbox_rows_by_domain_name).
DROP INDEX mailbox_rows_by_domain_name;
CREATE INDEX mailbox_rows_by_domain_name
    ON mailbox_rows (domain_id, last_name, first_name, id, active, mailbox_type, challenged);

-- Sort by first name, then last name, then id (0002).
DROP INDEX mailbox_rows_by_domain_first_name;
CREATE INDEX mailbox_rows_by_domain_first_name
    ON mailbox_rows (domain_id, first_name, last_name, id, active, mailbox_type, challenged);

-- Sort (and filter) by mailbox type, then primary address (0002).
DROP INDEX mailbox_rows_by_domain_type;
CREATE INDEX mailbox_rows_by_domain_type
    ON mailbox_rows (domain_id, mailbox_type, primary_address, active, challenged);

-- Sort (and filter) by active, then primary address (0002).
DROP INDEX mailbox_rows_by_domain_active;
CREATE INDEX mailbox_rows_by_domain_active
    ON mailbox_rows (domain_id, active, primary_address, mailbox_type, challenged);

-- Sort by the time of the last change, then id (0002).
DROP INDEX mailbox_rows_by_domain_updated;
CREATE INDEX mailbox_rows_by_domain_updated
    ON mailbox_rows (domain_id, updated_at, id, active, mailbox_type, challenged);
