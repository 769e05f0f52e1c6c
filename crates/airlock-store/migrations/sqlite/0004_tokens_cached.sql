-- Prompt tokens the provider read from its prompt cache (a part of
-- tokens_in, billed at the cached-input price); NULL when not reported.
ALTER TABLE request_log ADD COLUMN tokens_cached BIGINT;
