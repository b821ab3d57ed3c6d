-- An idempotency key answers for one message per conversation and sender, so
-- finding it is one lookup of a unique index, whatever the conversation's
-- length. Older duplicates lose their key first: only the newest answered.
UPDATE messages SET idempotency_key = NULL
WHERE idempotency_key IS NOT NULL AND EXISTS (
	SELECT 1 FROM messages n
	WHERE n.conv_pk = messages.conv_pk AND n.idempotency_key = messages.idempotency_key
		AND COALESCE(n.sender_id, '') = COALESCE(messages.sender_id, '') AND n.seq > messages.seq);
DROP INDEX messages_idempotency;
CREATE UNIQUE INDEX messages_idempotency_key ON messages (conv_pk, COALESCE(sender_id, ''), idempotency_key)
	WHERE idempotency_key IS NOT NULL;
