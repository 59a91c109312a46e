-- SCIM Users are listed in the order they were created (`ORDER BY created_at, rowid`): SQLite's implicit
-- rowid orders those of one second. PostgreSQL has no rowid; this column is its twin (no SQLite migration:
-- the rowid is there already). scripts/schema_check.py knows it as PostgreSQL's only extra column.
ALTER TABLE scim_users ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY;
