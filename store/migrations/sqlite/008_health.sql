-- One row that readiness checks write, to prove the database can be written
-- (not only read) right now: a full disk or a read-only file fails them.
CREATE TABLE health (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	checked_at INTEGER NOT NULL
);
