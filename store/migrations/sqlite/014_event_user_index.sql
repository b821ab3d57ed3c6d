-- A stream resumed from an old cursor reads the user's membership changes
-- since then, and every conversation deletion: through these two partial
-- indexes, not a scan of everything the app did meanwhile. Messages carry
-- no user_id, so the first costs them nothing.
CREATE INDEX events_user ON events (app_id, user_id, pos) WHERE user_id IS NOT NULL;
CREATE INDEX events_deleted ON events (app_id, pos) WHERE type = 'conversation.deleted';
