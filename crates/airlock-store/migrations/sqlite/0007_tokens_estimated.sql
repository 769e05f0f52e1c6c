-- Whether tokens_in or tokens_out are Airlock's estimate rather than the
-- provider's count: a stream the client left before the provider reported
-- its usage (output from the characters relayed, input from the request
-- body's size). cost_usd is then computed from the estimate.
ALTER TABLE request_log ADD COLUMN tokens_estimated BOOLEAN NOT NULL DEFAULT FALSE;
