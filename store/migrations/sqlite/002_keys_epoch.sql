-- keys_epoch changes with every change to an app's keys (also from the
-- command line, in another process), so a server can cache the keys and
-- still see a revocation on the next request.
ALTER TABLE apps ADD COLUMN keys_epoch INTEGER NOT NULL DEFAULT 0;
