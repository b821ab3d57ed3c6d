-- User search reads postings instead of every user: user_terms holds, for
-- each user, the grams of the folded name (every three characters from
-- each position, the name padded with two char(1): a name's every
-- substring of one or two characters starts one of them) under 'g', and
-- each badge under 'b'. Search takes the candidates of its rarest term and
-- checks them against the name as before.
CREATE TABLE user_terms (
	app_id  TEXT NOT NULL,
	term    TEXT NOT NULL,
	user_id TEXT NOT NULL,
	PRIMARY KEY (app_id, term, user_id)
) WITHOUT ROWID;
WITH RECURSIVE g (app_id, id, padded, i, n) AS (
	SELECT app_id, id, name_folded || char(1, 1), 1, length(name_folded) FROM users WHERE name_folded <> ''
	UNION ALL SELECT app_id, id, padded, i + 1, n FROM g WHERE i < n)
INSERT OR IGNORE INTO user_terms (app_id, term, user_id) SELECT app_id, 'g' || substr(padded, i, 3), id FROM g;
INSERT OR IGNORE INTO user_terms (app_id, term, user_id)
	SELECT users.app_id, 'b' || b.value, users.id FROM users, json_each(users.badges) b WHERE b.type = 'text';
-- Searches whose terms are all common walk the live users in name order.
CREATE INDEX users_name ON users (app_id, name_folded, id) WHERE deleted = 0;

-- A user's conversation list reads about one page of this index (see
-- store/activity.go). A membership's activity is the time of the last
-- message in its view, else when the user joined. A frozen view keeps it
-- in activity (and that message's time in last_at). A live view's sort
-- key is its conversation's fanned_at, which a send moves (with every live
-- participant's key) only once it is a minute behind; last_at on the
-- conversation is exact. A conversation of more than 32 live participants
-- is a crowd: sends write none of its rows, its live participants' keys
-- are NULL, and lists compute theirs.
ALTER TABLE participants ADD COLUMN last_at INTEGER;
ALTER TABLE participants ADD COLUMN activity INTEGER;
ALTER TABLE conversations ADD COLUMN crowd INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN last_at INTEGER;
ALTER TABLE conversations ADD COLUMN fanned_at INTEGER;
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
-- Deleting a message finds the frozen views it ended.
CREATE INDEX participants_frozen ON participants (conv_pk, frozen_seq) WHERE frozen_seq IS NOT NULL;

-- The admin list pages an app's conversations by pk, newest first: along
-- this index, rather than sorting all of the app's conversations.
CREATE INDEX conversations_app ON conversations (app_id, pk);
