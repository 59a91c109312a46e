-- Validation evidence (SPEC R20): what the portal saw of the client that confirmed a challenge, so the
-- audit record of a certificate can name, for each of its addresses, who confirmed which challenge from
-- where. Filled for confirmations from now on; older ones have neither (NULL: not recorded).
ALTER TABLE challenges ADD COLUMN confirmed_ip TEXT;         -- the confirming client's IP address
ALTER TABLE challenges ADD COLUMN confirmed_user_agent TEXT; -- its User-Agent, at most 512 characters

-- The worklist of deactivated rows that still have valid certificates (R19) finds each row's latest
-- deactivation in the audit trail: by row and kind, newest first.
CREATE INDEX audit_records_by_row_kind ON audit_records (row_id, kind, at);
