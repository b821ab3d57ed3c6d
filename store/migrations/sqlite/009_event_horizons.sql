-- How far each app's events were pruned: a cursor before it may have
-- missed events, and is refused as expired.
CREATE TABLE event_horizons (
	app_id         TEXT PRIMARY KEY,
	pruned_through INTEGER NOT NULL
) WITHOUT ROWID;
