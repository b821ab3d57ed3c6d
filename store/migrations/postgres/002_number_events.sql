-- The sequencer's pass as one function: one round trip numbers a batch of
-- committed events (whole writes), moves the heads and notifies every listening process
-- (with the caller's token, so that it can ignore its own notice). It
-- takes an advisory lock for the transaction: passes of several processes
-- take turns, and a pass sees everything the previous one numbered.
CREATE FUNCTION parley_number_events(batch integer, token text) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	n integer;
BEGIN
	PERFORM pg_advisory_xact_lock(31632341464348929);
	WITH todo AS (
		SELECT rid, app_id,
			row_number() OVER (ORDER BY commit_order, rid) AS g,
			row_number() OVER (PARTITION BY app_id ORDER BY commit_order, rid) AS a
		FROM events
		-- At most about a batch, in whole writes: through the commit order of
		-- the batch-th event, so that no write's events straddle two passes.
		WHERE seq IS NULL AND commit_order <= (SELECT max(commit_order) FROM
			(SELECT commit_order FROM events WHERE seq IS NULL ORDER BY commit_order, rid LIMIT batch) b)
	), heads AS (
		SELECT app_id, pos FROM event_heads WHERE app_id = '' OR app_id IN (SELECT app_id FROM todo)
	), numbered AS (
		UPDATE events e SET
			seq = COALESCE((SELECT pos FROM heads WHERE app_id = ''), 0) + t.g,
			pos = COALESCE((SELECT h.pos FROM heads h WHERE h.app_id = t.app_id), 0) + t.a
		FROM todo t WHERE e.rid = t.rid
		RETURNING e.app_id, e.pos, e.seq
	), tops AS (
		SELECT app_id, max(pos) AS pos FROM numbered GROUP BY app_id
		UNION ALL
		SELECT '', max(seq) FROM numbered HAVING count(*) > 0
	), moved AS (
		INSERT INTO event_heads (app_id, pos) SELECT app_id, pos FROM tops
		ON CONFLICT (app_id) DO UPDATE SET pos = excluded.pos
	)
	SELECT count(*) INTO n FROM numbered;
	IF n > 0 THEN
		PERFORM pg_notify('parley_events', token);
	END IF;
	RETURN n;
END $$;
