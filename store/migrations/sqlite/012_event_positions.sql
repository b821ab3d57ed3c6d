-- Each app's events get positions of their own (pos: 1, 2, 3, ... per
-- app), and cursors name them: a cursor of the global seq would let one
-- tenant count another's activity. seq stays the log's global order, for
-- the tailer that hands other processes' events to this one. An app's next
-- position is one past the larger of its last stored event's and its
-- pruning horizon (read through this index, with no counter row to write).
ALTER TABLE events ADD COLUMN pos INTEGER;
UPDATE events SET pos = (SELECT n FROM (SELECT seq AS s, row_number() OVER (PARTITION BY app_id ORDER BY seq) AS n FROM events) WHERE s = events.seq);
CREATE UNIQUE INDEX events_app_pos ON events (app_id, pos);
DROP INDEX events_app;
-- Horizons move from seq to pos: what is left of an app counts from 1, so
-- nothing before it was pruned.
UPDATE event_horizons SET pruned_through = 0;
