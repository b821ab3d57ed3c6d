-- Which ban removed a membership (the ban's audit entry), so that a
-- reactivation can restore exactly those.
ALTER TABLE participants ADD COLUMN removed_by_ban INTEGER;
CREATE INDEX participants_ban ON participants (app_id, user_id) WHERE removed_by_ban IS NOT NULL;

-- The name folded to lower case, for case-insensitive search.
ALTER TABLE users ADD COLUMN name_folded TEXT NOT NULL DEFAULT '';
UPDATE users SET name_folded = lower(name);
CREATE INDEX users_restricted ON users (app_id, mod_since) WHERE mod_state != '';

-- The audit log is append-only: triggers refuse every update and delete.
CREATE TABLE audit_log (
	pk              INTEGER PRIMARY KEY,
	app_id          TEXT NOT NULL,
	action          TEXT NOT NULL,
	user_id         TEXT NOT NULL,
	target_user_id  TEXT,
	conversation_id TEXT,
	message_id      TEXT,
	actor           TEXT NOT NULL,
	reason          TEXT,
	expires_at      INTEGER,
	created_at      INTEGER NOT NULL
);
CREATE INDEX audit_log_app ON audit_log (app_id, pk);
CREATE INDEX audit_log_user ON audit_log (app_id, user_id, pk);
CREATE INDEX audit_log_target ON audit_log (app_id, target_user_id, pk) WHERE target_user_id IS NOT NULL;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- Erasing messages finds a sender's messages.
CREATE INDEX messages_sender ON messages (sender_id) WHERE sender_id IS NOT NULL;
