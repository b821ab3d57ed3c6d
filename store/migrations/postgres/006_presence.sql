-- Who has a live stream open, by server process: a process counts its own
-- streams and keeps its rows fresh; a row a process stopped refreshing
-- (it died) goes stale and counts for nothing.
CREATE TABLE presence (
    app_id TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    process TEXT COLLATE "C" NOT NULL,
    open BIGINT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, user_id, process)
);
CREATE INDEX presence_process ON presence (process, open);
