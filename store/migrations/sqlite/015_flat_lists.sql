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

-- A user's conversation list reads one page of this index. activity is
-- when the membership last saw activity (its last visible message, else
-- when the user joined) and last_at when that message was written; both
-- move with each send for the live participants of a conversation of at
-- most 32 of them. A larger conversation is a crowd: a send writes no
-- participant row, its live participants keep both NULL, and their lists
-- compute them (one lookup each).
ALTER TABLE participants ADD COLUMN last_at INTEGER;
ALTER TABLE participants ADD COLUMN activity INTEGER;
ALTER TABLE conversations ADD COLUMN crowd INTEGER NOT NULL DEFAULT 0;
UPDATE conversations SET crowd = 1
WHERE (SELECT count(*) FROM participants p WHERE p.conv_pk = conversations.pk AND p.frozen_seq IS NULL) > 32;
UPDATE participants SET last_at = (SELECT m.created_at FROM messages m WHERE m.conv_pk = participants.conv_pk
		AND m.seq <= COALESCE(participants.frozen_seq, 9223372036854775807) ORDER BY m.seq DESC LIMIT 1)
WHERE frozen_seq IS NOT NULL OR (SELECT crowd FROM conversations c WHERE c.pk = participants.conv_pk) = 0;
UPDATE participants SET activity = COALESCE(last_at, joined_at)
WHERE frozen_seq IS NOT NULL OR (SELECT crowd FROM conversations c WHERE c.pk = participants.conv_pk) = 0;
-- It leads with (app_id, user_id): participants_user has nothing left to do.
DROP INDEX participants_user;
CREATE INDEX participants_activity ON participants (app_id, user_id, activity, conv_pk);
-- Deleting a message finds the frozen views it ended.
CREATE INDEX participants_frozen ON participants (conv_pk, frozen_seq) WHERE frozen_seq IS NOT NULL;

-- The admin list pages an app's conversations by pk, newest first: along
-- this index, rather than sorting all of the app's conversations.
CREATE INDEX conversations_app ON conversations (app_id, pk);
