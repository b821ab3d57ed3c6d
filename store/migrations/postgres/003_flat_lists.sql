-- SQLite's migration 015: search postings, and the activity of memberships.
-- See there.
CREATE TABLE user_terms (
	app_id  TEXT COLLATE "C" NOT NULL,
	term    TEXT COLLATE "C" NOT NULL,
	user_id TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (app_id, term, user_id)
);
INSERT INTO user_terms (app_id, term, user_id)
	SELECT app_id, 'g' || substr(name_folded || chr(1) || chr(1), i, 3), id
	FROM users, generate_series(1, length(name_folded)) AS i WHERE name_folded <> ''
	ON CONFLICT DO NOTHING;
INSERT INTO user_terms (app_id, term, user_id)
	SELECT users.app_id, 'b' || (b.value #>> '{}'), users.id FROM users, jsonb_array_elements(users.badges::jsonb) AS b (value)
	WHERE jsonb_typeof(b.value) = 'string'
	ON CONFLICT DO NOTHING;
CREATE INDEX users_name ON users (app_id, name_folded, id) WHERE deleted = 0;

ALTER TABLE participants ADD COLUMN last_at BIGINT;
ALTER TABLE participants ADD COLUMN activity BIGINT;
ALTER TABLE conversations ADD COLUMN crowd BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN last_at BIGINT;
ALTER TABLE conversations ADD COLUMN fanned_at BIGINT;
UPDATE conversations SET
	crowd = CASE WHEN (SELECT count(*) FROM participants p WHERE p.conv_pk = conversations.pk AND p.frozen_seq IS NULL) > 32
		THEN 1 ELSE 0 END,
	last_at = (SELECT m.created_at FROM messages m WHERE m.conv_pk = conversations.pk ORDER BY m.seq DESC LIMIT 1);
UPDATE conversations SET fanned_at = last_at WHERE crowd = 0;
UPDATE participants SET last_at = (SELECT m.created_at FROM messages m WHERE m.conv_pk = participants.conv_pk
		AND m.seq <= participants.frozen_seq ORDER BY m.seq DESC LIMIT 1)
WHERE frozen_seq IS NOT NULL;
UPDATE participants SET activity = CASE WHEN frozen_seq IS NOT NULL THEN COALESCE(last_at, joined_at)
	ELSE (SELECT CASE WHEN c.crowd = 1 THEN NULL ELSE COALESCE(c.fanned_at, participants.joined_at) END
		FROM conversations c WHERE c.pk = participants.conv_pk) END;
DROP INDEX participants_user;
CREATE INDEX participants_activity ON participants (app_id, user_id, activity, conv_pk);
CREATE INDEX participants_frozen ON participants (conv_pk, frozen_seq) WHERE frozen_seq IS NOT NULL;

CREATE INDEX conversations_app ON conversations (app_id, pk);
