-- Each app's events get positions of their own (pos: 1, 2, 3, ... per
-- app), and cursors name them: a cursor of the global seq would let one
-- tenant count another's activity. seq stays the log's global order, for
-- the tailer that hands other processes' events to this one.
ALTER TABLE events ADD COLUMN pos INTEGER;
UPDATE events SET pos = (SELECT n FROM (SELECT seq AS s, row_number() OVER (PARTITION BY app_id ORDER BY seq) AS n FROM events) WHERE s = events.seq);
CREATE UNIQUE INDEX events_app_pos ON events (app_id, pos);
DROP INDEX events_app;
CREATE TABLE event_positions (
	app_id   TEXT PRIMARY KEY,
	last_pos INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO event_positions (app_id, last_pos) SELECT app_id, MAX(pos) FROM events GROUP BY app_id;
-- Horizons move from seq to pos: an app pruned of every event resumes at its last position.
UPDATE event_horizons SET pruned_through = COALESCE(
	(SELECT MIN(pos) - 1 FROM events WHERE events.app_id = event_horizons.app_id),
	(SELECT last_pos FROM event_positions WHERE event_positions.app_id = event_horizons.app_id),
	0);
