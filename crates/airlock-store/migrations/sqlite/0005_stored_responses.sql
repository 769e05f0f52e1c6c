-- One row per stored turn of OpenAI's Responses API: the input items the
-- client sent in that turn and the response object as answered (whose
-- `output` holds the model's items). A conversation's history is the chain
-- of `previous_id` links, oldest first. Ids are random (unguessable).
CREATE TABLE stored_responses (
    id            TEXT PRIMARY KEY,
    project_id    TEXT,
    end_user      TEXT,
    previous_id   TEXT,
    model         TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    input_items   TEXT NOT NULL,
    response      TEXT NOT NULL
);
CREATE INDEX stored_responses_project ON stored_responses (project_id, created_at_ms);
