-- Attachments. An upload is a row of files that no message has taken
-- (message_pk NULL) until a message names its token; deleting the message,
-- or its conversation, deletes the file (ON DELETE CASCADE). The message
-- keeps a copy of the file's metadata (attachment, JSON), so that reading
-- messages needs no join. An upload no message took is pruned after a day.
CREATE TABLE files (
	pk           INTEGER PRIMARY KEY,
	id           TEXT NOT NULL UNIQUE,
	app_id       TEXT NOT NULL REFERENCES apps (id),
	token        TEXT NOT NULL UNIQUE,
	uploader_id  TEXT,
	message_pk   INTEGER UNIQUE REFERENCES messages (pk) ON DELETE CASCADE,
	filename     TEXT NOT NULL,
	content_type TEXT NOT NULL,
	size         INTEGER NOT NULL,
	data         BLOB NOT NULL,
	created_at   INTEGER NOT NULL
);
CREATE INDEX files_uploader ON files (app_id, uploader_id) WHERE uploader_id IS NOT NULL;
CREATE INDEX files_unattached ON files (created_at) WHERE message_pk IS NULL;

ALTER TABLE messages ADD COLUMN attachment TEXT;

-- The key of each app's signed download links: random per app, never the
-- API secret key, and in the database so that every process checks the
-- same links. Apps created from now on get theirs from crypto/rand.
ALTER TABLE apps ADD COLUMN file_secret BLOB;
UPDATE apps SET file_secret = randomblob(32);
