-- Idempotency keys of the REST API's bulk apply (SPEC R21; IETF draft-ietf-httpapi-idempotency-key-header).
-- A client that sends `Idempotency-Key: "<key>"` with `POST /api/v1/domains/{domain}/bulk` may send the
-- same request again (a timeout, a lost answer, a retrying IdM job): the portal answers it with the answer
-- of the first one and applies the rows once. The key is recorded in the same transaction as the rows it
-- applied, so a key is here exactly when its rows landed, and two requests with one key that arrive at once
-- are serialised by SQLite's write lock: the second one finds the first one's answer.
CREATE TABLE api_idempotency_keys (
    token_id        INTEGER NOT NULL REFERENCES api_tokens (id), -- the token that sent the request: keys are per token, so two clients never collide
    idempotency_key TEXT    NOT NULL,  -- the client's key as sent (the header's string value; 1 to 255 printable ASCII characters)
    request_hash    BLOB    NOT NULL,  -- SHA-256 over method, path, media type and body: the same key with another request is refused (422)
    response_status INTEGER NOT NULL,  -- the HTTP status of the first answer (200), sent again with the replay
    response_body   TEXT    NOT NULL,  -- the first answer's JSON (the apply report: counts only, no secret), sent again with the replay
    created_at      INTEGER NOT NULL,  -- when the first request was applied (Unix seconds)
    expires_at      INTEGER NOT NULL,  -- created_at + 24 h: from then on the key is free again and the record is deleted
    PRIMARY KEY (token_id, idempotency_key)
) WITHOUT ROWID;
-- The clean-up deletes expired keys (every bulk apply does, before it looks its own key up).
CREATE INDEX api_idempotency_keys_expires_at ON api_idempotency_keys (expires_at);
