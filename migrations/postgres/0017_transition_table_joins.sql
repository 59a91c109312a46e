-- The statement triggers on mailbox_rows (0012) join the transition tables old_rows and new_rows by id.
-- PostgreSQL keeps no statistics for transition tables, and PL/pgSQL keeps a function's plans for the
-- connection's life: planned once as a nested loop, an UPDATE of 5 000 rows (a CSV upload's batch of
-- edits) compared 25 million pairs per trigger, 4 s a batch, a minute for 100 000 edited rows. With
-- nested loops off inside these two functions the join is hashed. PostgreSQL's own migration: SQLite's
-- triggers run per row.
ALTER FUNCTION row_counts_on_update() SET enable_nestloop = off;
ALTER FUNCTION row_changes_on_update() SET enable_nestloop = off;
