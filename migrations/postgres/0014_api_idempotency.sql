-- Idempotency keys of the REST API's bulk apply (SPEC R21), as SQLite's 0014: the same request sent
-- again with the same `Idempotency-Key` gets the first one's answer and applies the rows once. The key
-- is recorded in the transaction that applied the rows, so it is here exactly when they landed. Two
-- requests with one key at once, on one instance or two: the second one's INSERT of the key waits on
-- the first one's uncommitted key (primary key), then fails with a unique violation once it commits,
-- and is answered from the stored answer (SQLite serialises the two by its write lock instead).
CREATE TABLE api_idempotency_keys (
    token_id        BIGINT NOT NULL REFERENCES api_tokens (id), -- the token that sent the request: keys are per token, so two clients never collide
    idempotency_key TEXT COLLATE "C" NOT NULL,  -- the client's key as sent (the header's string value; 1 to 255 printable ASCII characters)
    request_hash    BYTEA NOT NULL,    -- SHA-256 over method, path, media type and body: the same key with another request is refused (422)
    response_status BIGINT NOT NULL,   -- the HTTP status of the first answer (200), sent again with the replay
    response_body   TEXT COLLATE "C" NOT NULL,  -- the first answer's JSON (the apply report: counts only, no secret), sent again with the replay
    created_at      BIGINT NOT NULL,   -- when the first request was applied (Unix seconds)
    expires_at      BIGINT NOT NULL,   -- created_at + 24 h: from then on the key is free again and the record is deleted
    PRIMARY KEY (token_id, idempotency_key)
);
-- The clean-up deletes expired keys (every bulk apply does, before it looks its own key up).
CREATE INDEX api_idempotency_keys_expires_at ON api_idempotency_keys (expires_at);
