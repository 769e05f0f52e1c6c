-- The inventory of user data: every table that can hold a person's data
-- says which end user it belongs to, and is read by project and end user
-- in id order (an export's pages, an erasure's batches) straight from an
-- index, without a scan or a sort.
ALTER TABLE files ADD COLUMN end_user TEXT;
ALTER TABLE uploads ADD COLUMN end_user TEXT;
ALTER TABLE media ADD COLUMN end_user TEXT;
ALTER TABLE cache_entries ADD COLUMN end_user TEXT;
CREATE INDEX request_log_project_user ON request_log (project_id, end_user, id);
CREATE INDEX realtime_sessions_project_user ON realtime_sessions (project_id, end_user, id);
CREATE INDEX stored_responses_project_user ON stored_responses (project_id, end_user, id);
CREATE INDEX conversations_project_user ON conversations (project_id, end_user, id);
CREATE INDEX files_project_user ON files (project_id, end_user, id);
CREATE INDEX media_project_user ON media (project_id, end_user, id);
CREATE INDEX cache_entries_project_user ON cache_entries (project_id, end_user, key);
DROP INDEX request_content_project_user;
CREATE INDEX request_content_project_user ON request_content (project_id, end_user, id);
