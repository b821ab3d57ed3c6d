-- Reports of messages and users (API.md section 15). The reported message
-- or profile is kept as it was (snap_*), whatever later edits or deletion
-- do; an erasure scrubs it. A reporter has one open report per target.
CREATE TABLE reports (
	pk               INTEGER PRIMARY KEY,
	id               TEXT NOT NULL UNIQUE,
	app_id           TEXT NOT NULL,
	reporter_id      TEXT NOT NULL,
	target_type      TEXT NOT NULL,
	target_id        TEXT NOT NULL,
	target_user_id   TEXT,
	conversation_id  TEXT,
	snap_type        TEXT,
	snap_text        TEXT,
	snap_custom      TEXT,
	snap_created_at  INTEGER,
	snap_edited_at   INTEGER,
	snap_origin      TEXT,
	snap_photo_url   TEXT,
	reason           TEXT NOT NULL,
	note             TEXT,
	created_at       INTEGER NOT NULL,
	resolved_at      INTEGER,
	action           TEXT,
	resolved_by      TEXT,
	resolution_reason TEXT,
	resolution_expires_at INTEGER
);
CREATE UNIQUE INDEX reports_one_open ON reports (app_id, reporter_id, target_type, target_id) WHERE resolved_at IS NULL;
CREATE INDEX reports_open ON reports (app_id, pk) WHERE resolved_at IS NULL;
CREATE INDEX reports_resolved ON reports (app_id, pk) WHERE resolved_at IS NOT NULL;
CREATE INDEX reports_target ON reports (app_id, target_type, target_id) WHERE resolved_at IS NULL;
CREATE INDEX reports_target_user ON reports (app_id, target_user_id) WHERE target_user_id IS NOT NULL;
