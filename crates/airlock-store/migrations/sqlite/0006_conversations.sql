-- Every stored turn belongs to a conversation: an OpenAI Conversations API
-- object the client made (api 'conversations', whose items live in
-- conversation_items), or the chain of previous_response_id links a first
-- turn started (api 'responses'). Ids are random (unguessable).
CREATE TABLE conversations (
    id            TEXT PRIMARY KEY,
    project_id    TEXT,
    end_user      TEXT,
    api           TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    metadata      TEXT NOT NULL
);
CREATE INDEX conversations_project ON conversations (project_id, updated_at_ms);

-- A Conversations API object's items, in order. Items added together (by
-- one turn, or one items.create call) share a turn number: history policy
-- leaves out whole turns.
CREATE TABLE conversation_items (
    conversation_id TEXT NOT NULL,
    position        BIGINT NOT NULL,
    turn            BIGINT NOT NULL,
    item_id         TEXT NOT NULL,
    item            TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, position)
);
CREATE UNIQUE INDEX conversation_items_item ON conversation_items (conversation_id, item_id);

ALTER TABLE stored_responses ADD COLUMN conversation_id TEXT;
CREATE INDEX stored_responses_conversation ON stored_responses (conversation_id, created_at_ms);

-- The conversation a turn belongs to, and how many of its oldest turns the
-- history policy left out of what the provider was sent.
ALTER TABLE request_log ADD COLUMN conversation_id TEXT;
ALTER TABLE request_log ADD COLUMN history_turns_dropped BIGINT;
