-- What routes an event to the users who may receive it (parley.EventMeta):
-- the user it concerns, to find a user's membership changes, and the
-- sequence numbers and earlier memberships it carries. Neither is sent.
ALTER TABLE events ADD COLUMN user_id TEXT;
ALTER TABLE events ADD COLUMN meta TEXT;
