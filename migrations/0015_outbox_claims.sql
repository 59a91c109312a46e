-- Several portal instances on one database (issue 22): each mail of the outbox is delivered by one
-- instance at a time. An instance claims a batch of due mail (one UPDATE … RETURNING, serialised by the
-- write lock) before it sends it, and gives the claim up with the outcome. Instances show that they are
-- alive in `portal_instances`; the mail an instance claimed is free for the others once it has shown no
-- sign of life for `[mail] instance_timeout_secs` (it was killed, or its machine is gone), however long
-- an alive instance's relay takes.
CREATE TABLE portal_instances (
    id         TEXT    PRIMARY KEY,  -- a random id each process draws at start (32 hex digits)
    started_at INTEGER NOT NULL,     -- when it started (Unix seconds)
    beat_at    INTEGER NOT NULL,     -- its last sign of life (Unix seconds), renewed several times per timeout
    host       TEXT    NOT NULL,     -- host name and process id, for the operator who looks (`host:pid`)
    CHECK (beat_at >= started_at)
) WITHOUT ROWID;

ALTER TABLE mail_outbox ADD COLUMN claimed_by TEXT; -- the instance delivering it now (`portal_instances.id`, not a foreign key: a claim outlives its instance until another takes it); NULL: nobody
ALTER TABLE mail_outbox ADD COLUMN claimed_from TEXT; -- the holder before `claimed_by` when a mail was taken over from a silent instance: then the delivery journals (backend/src/mail/journal.rs) are asked whether the relay accepted it already
