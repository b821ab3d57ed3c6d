-- The ordered log of every app's changes, written in the transaction of the
-- change. seq is the log position: AUTOINCREMENT so that a position is never
-- handed out twice, even if old events are pruned down to none. id (evt_ and
-- 22 random base62 characters) has no index: nothing looks events up by it
-- yet, and an index costs every write a page.
CREATE TABLE events (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	id         TEXT NOT NULL,
	app_id     TEXT NOT NULL,
	type       TEXT NOT NULL,
	data       TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX events_app ON events (app_id, seq);
