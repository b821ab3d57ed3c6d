-- Deletions too big for one write: a conversation's messages, an erased
-- user's messages and their copies in the event log. The write that decides
-- one hides at once what it removes (a deleted conversation's row is renamed
-- out of reach, to '#' and its pk, which no id can be, and its memberships
-- go; an erased user's messages and events read as erased while a row here
-- names them) and records the work here. The store's purger then removes or
-- scrubs the rows a bounded step at a time, each step a write of its own,
-- and drops the row with the last step. A row a stopped process left behind
-- is taken up again at the next start.
CREATE TABLE purges (
	pk            INTEGER PRIMARY KEY,
	-- conversation (conv_pk), messages (the user's messages) or events
	-- (the user's profile in the log, and with with_messages their messages).
	kind          TEXT NOT NULL,
	app_id        TEXT NOT NULL,
	conv_pk       INTEGER,
	user_id       TEXT,
	with_messages INTEGER NOT NULL DEFAULT 0,
	-- How far the work went: the messages.pk or events.pos it reached.
	cursor        INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL
);
CREATE INDEX purges_user ON purges (app_id, user_id) WHERE user_id IS NOT NULL;
