-- Who has a live stream open, by server process: a process counts its own
-- streams and keeps its rows fresh; a row a process stopped refreshing
-- (it died) goes stale and counts for nothing.
CREATE TABLE presence (
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    process TEXT NOT NULL,
    open INTEGER NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, user_id, process)
) WITHOUT ROWID;
CREATE INDEX presence_process ON presence (process, open);
