-- Several portal instances on one database, as SQLite's 0015. The claim is one UPDATE … RETURNING whose
-- subquery picks the due mail `FOR UPDATE SKIP LOCKED`: two instances claiming at once take different
-- mail instead of waiting for each other (SQLite serialises them by its write lock instead).
CREATE TABLE portal_instances (
    id         TEXT COLLATE "C" PRIMARY KEY,  -- a random id each process draws at start (32 hex digits)
    started_at BIGINT NOT NULL,               -- when it started (Unix seconds)
    beat_at    BIGINT NOT NULL,               -- its last sign of life (Unix seconds), renewed several times per timeout
    host       TEXT COLLATE "C" NOT NULL,     -- host name and process id, for the operator who looks (`host:pid`)
    CHECK (beat_at >= started_at)
);

ALTER TABLE mail_outbox ADD COLUMN claimed_by TEXT COLLATE "C"; -- the instance delivering it now (`portal_instances.id`, not a foreign key: a claim outlives its instance until another takes it); NULL: nobody
ALTER TABLE mail_outbox ADD COLUMN claimed_from TEXT COLLATE "C"; -- the holder before `claimed_by` when a mail was taken over from a silent instance: then the delivery journals (backend/src/mail/journal.rs) are asked whether the relay accepted it already
