-- Apps are tenants; every other row belongs to one.
CREATE TABLE apps (
	id         TEXT PRIMARY KEY,
	settings   TEXT NOT NULL,
	created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Secret keys. The secret is kept because signatures and JWTs are verified
-- with it; a bearer key is found by the SHA-256 hash of what was sent.
CREATE TABLE keys (
	id         TEXT PRIMARY KEY,
	app_id     TEXT NOT NULL REFERENCES apps (id),
	secret     TEXT NOT NULL,
	hash       BLOB NOT NULL UNIQUE,
	prefix     TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER,
	revoked_at INTEGER
) WITHOUT ROWID;
CREATE INDEX keys_app ON keys (app_id);

CREATE TABLE users (
	app_id            TEXT NOT NULL REFERENCES apps (id),
	id                TEXT NOT NULL,
	name              TEXT NOT NULL,
	email             TEXT NOT NULL DEFAULT '[]',
	phone             TEXT NOT NULL DEFAULT '[]',
	photo_url         TEXT,
	welcome_message   TEXT,
	locale            TEXT,
	role              TEXT,
	custom            TEXT NOT NULL DEFAULT '{}',
	availability_text TEXT,
	badges            TEXT NOT NULL DEFAULT '[]',
	external_id       TEXT,
	created_at        INTEGER NOT NULL,
	last_seen_at      INTEGER,
	deleted           INTEGER NOT NULL DEFAULT 0,
	mod_state         TEXT NOT NULL DEFAULT '',
	mod_reason        TEXT,
	mod_since         INTEGER,
	mod_expires_at    INTEGER,
	mod_by            TEXT,
	PRIMARY KEY (app_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX users_external_id ON users (app_id, external_id) WHERE external_id IS NOT NULL;

-- pk orders conversations by creation; last_seq is the sequence number of the
-- conversation's last message, the clock of static views.
CREATE TABLE conversations (
	pk               INTEGER PRIMARY KEY,
	app_id           TEXT NOT NULL REFERENCES apps (id),
	id               TEXT NOT NULL,
	subject          TEXT,
	photo_url        TEXT,
	welcome_messages TEXT NOT NULL DEFAULT '[]',
	custom           TEXT NOT NULL DEFAULT '{}',
	created_at       INTEGER NOT NULL,
	last_seq         INTEGER NOT NULL DEFAULT 0,
	UNIQUE (app_id, id)
);

-- One row per user who ever took part. removed_at is set while removed;
-- frozen_seq is the freeze point (NULL: reads live); removed_by_admin makes a
-- removal sticky against clients.
CREATE TABLE participants (
	conv_pk          INTEGER NOT NULL REFERENCES conversations (pk) ON DELETE CASCADE,
	app_id           TEXT NOT NULL,
	user_id          TEXT NOT NULL,
	access           TEXT NOT NULL,
	notify           TEXT NOT NULL,
	joined_at        INTEGER NOT NULL,
	removed_at       INTEGER,
	frozen_seq       INTEGER,
	removed_by_admin INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (conv_pk, user_id)
) WITHOUT ROWID;
CREATE INDEX participants_user ON participants (app_id, user_id);

CREATE TABLE messages (
	pk                    INTEGER PRIMARY KEY,
	id                    TEXT NOT NULL UNIQUE,
	conv_pk               INTEGER NOT NULL REFERENCES conversations (pk) ON DELETE CASCADE,
	seq                   INTEGER NOT NULL,
	type                  TEXT NOT NULL,
	sender_id             TEXT,
	text                  TEXT NOT NULL,
	custom                TEXT NOT NULL DEFAULT '{}',
	referenced_message_id TEXT,
	origin                TEXT NOT NULL,
	created_at            INTEGER NOT NULL,
	edited_at             INTEGER,
	deleted               INTEGER NOT NULL DEFAULT 0,
	idempotency_key       TEXT,
	UNIQUE (conv_pk, seq)
);
CREATE INDEX messages_idempotency ON messages (conv_pk, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE blocks (
	app_id     TEXT NOT NULL,
	blocker_id TEXT NOT NULL,
	blocked_id TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (app_id, blocker_id, blocked_id)
) WITHOUT ROWID;
