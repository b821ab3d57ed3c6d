-- settings_version changes with every settings update, so a server can keep
-- the decoded settings and check one integer per request.
ALTER TABLE apps ADD COLUMN settings_version INTEGER NOT NULL DEFAULT 0;
