-- The web origin a request came from (its Origin header, else its
-- Referer's scheme and host), for usage by origin per key; NULL for
-- requests no browser sent.
ALTER TABLE request_log ADD COLUMN origin TEXT;
