-- Read pointers (API.md section 12): the sequence number and id of the
-- newest message a participant has read; they only move forward.
ALTER TABLE participants ADD COLUMN read_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE participants ADD COLUMN read_message_id TEXT;
