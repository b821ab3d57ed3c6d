-- Who created each conversation (key:<keyId>, cli, user:<userId>), so that a
-- backend can tell that a client took an id first. NULL for conversations
-- created before it was kept.
ALTER TABLE conversations ADD COLUMN created_by TEXT;
