-- What the response cache did for a request ('hit', 'miss' or 'bypass';
-- NULL when it played no part), and for a hit what the answer cost when
-- it was made: what the request saved (its own cost_usd is 0).
ALTER TABLE request_log ADD COLUMN cache TEXT;
ALTER TABLE request_log ADD COLUMN saved_usd DOUBLE PRECISION;
