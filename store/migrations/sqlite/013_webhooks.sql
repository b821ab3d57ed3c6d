-- Webhook endpoints. cursor is the app's event position through which
-- deliveries were queued: the event log is the outbox, written in each
-- change's transaction, and queueing reads it from there, so an
-- acknowledged change is delivered even if the process dies right after.
CREATE TABLE webhooks (
	id              TEXT PRIMARY KEY,
	app_id          TEXT NOT NULL REFERENCES apps (id),
	url             TEXT NOT NULL,
	events          TEXT NOT NULL,
	description     TEXT,
	format          TEXT NOT NULL,
	secret          TEXT NOT NULL,
	enabled         INTEGER NOT NULL DEFAULT 1,
	disabled_reason TEXT,
	created_at      INTEGER NOT NULL,
	cursor          INTEGER NOT NULL,
	last_success_at INTEGER,
	failing_since   INTEGER
) WITHOUT ROWID;
CREATE INDEX webhooks_app ON webhooks (app_id);

-- One row per event queued for an endpoint; attempts is a JSON list.
CREATE TABLE webhook_deliveries (
	webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	event_pos       INTEGER NOT NULL,
	event_id        TEXT NOT NULL,
	type            TEXT NOT NULL,
	status          TEXT NOT NULL,
	attempts        TEXT NOT NULL DEFAULT '[]',
	-- failures counts the failed attempts since the delivery was last
	-- queued (a retry or a replay starts the schedule again).
	failures        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER,
	created_at      INTEGER NOT NULL,
	PRIMARY KEY (webhook_id, event_pos)
) WITHOUT ROWID;
-- The deliverer's question, "which of this endpoint's deliveries are due",
-- reads this index alone, however many finished deliveries the endpoint has.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (webhook_id, next_attempt_at, event_pos) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (webhook_id, event_id);
