package store

import (
	"fmt"

	parley "github.com/parley-chat/parley"
)

func (t *tx) Message(c *parley.Conversation, msgID string) (*parley.Message, error) {
	var r messageRow
	if err := t.get("read message", &r, `SELECT `+messageColumns+` FROM messages WHERE conv_pk = ? AND id = ?`, c.PK, c.PK, msgID); notFound(err) {
		return nil, parley.ErrMessageNotFound()
	} else if err != nil {
		return nil, err
	}
	m := []parley.Message{r.message(c.ID)}
	if err := t.fillReadBy(c.PK, m); err != nil {
		return nil, err
	}
	return &m[0], nil
}

// idempotentQuery names every column of messages_idempotency_key with
// equality, so it is one lookup of a unique index: without an ORDER BY,
// which would make SQLite walk the conversation by seq instead, its cost
// does not grow with the conversation.
const idempotentQuery = `SELECT id FROM messages
	WHERE conv_pk = ? AND COALESCE(sender_id, '') = ? AND idempotency_key = ? AND created_at >= ?`

// releaseKeyQuery takes a key from an older message, through the same index.
const releaseKeyQuery = `UPDATE messages SET idempotency_key = NULL
	WHERE conv_pk = ? AND COALESCE(sender_id, '') = COALESCE(?, '') AND idempotency_key = ?`

// IdempotentMessage finds at most one message: a key answers only for the
// newest message that used it (InsertMessages takes it from older ones).
func (t *tx) IdempotentMessage(c *parley.Conversation, sender, key string, since int64) (string, error) {
	var id string
	if err := t.get("find idempotent message", &id, idempotentQuery, c.PK, sender, key, since); err != nil && !notFound(err) {
		return "", err
	}
	return id, nil
}

// InsertMessages takes a key from any older message of the same sender
// first: that message fell out of the window (else the caller would have
// answered it), and the key is unique per conversation and sender.
func (t *tx) InsertMessages(c *parley.Conversation, msgs []parley.Message, keys []*string) error {
	if keys != nil && len(keys) != len(msgs) {
		return fmt.Errorf("insert messages: %d keys for %d messages", len(keys), len(msgs))
	}
	for i, m := range msgs {
		// Freeze points count on seq having no gaps.
		if want := c.LastSeq + int64(i) + 1; m.Seq != want {
			return fmt.Errorf("insert messages: message %d has seq %d, want %d", i, m.Seq, want)
		}
		var key *string
		if keys != nil {
			key = keys[i]
		}
		if key != nil {
			if err := t.write("release idempotency key", releaseKeyQuery, c.PK, m.SenderID, *key); err != nil {
				return err
			}
		}
		custom := m.Custom
		if custom == nil {
			custom = parley.Custom{}
		}
		if err := t.write("insert message", `INSERT INTO messages (id, conv_pk, seq, type, sender_id, text, custom,
			referenced_message_id, origin, created_at, edited_at, deleted, idempotency_key, attachment)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.ID, c.PK, m.Seq, m.Type, m.SenderID, m.Text, jsonText(custom), m.ReferencedMessageID, m.Origin, m.CreatedAt,
			m.EditedAt, m.Deleted, key, attachmentText(m.Attachment)); err != nil {
			return err
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	last := msgs[len(msgs)-1]
	if err := t.sent(c.PK, last.Seq, last.CreatedAt); err != nil {
		return err
	}
	c.LastSeq = last.Seq
	return nil
}

func (t *tx) UpdateMessage(c *parley.Conversation, m *parley.Message) error {
	custom := m.Custom
	if custom == nil {
		custom = parley.Custom{}
	}
	ok, err := t.changed("edit message", `UPDATE messages SET text = ?, custom = ?, edited_at = ? WHERE conv_pk = ? AND id = ?`,
		m.Text, jsonText(custom), m.EditedAt, c.PK, m.ID)
	if err == nil && !ok {
		return parley.ErrMessageNotFound()
	}
	return err
}

// DeleteMessage removes the row: a deleted message is gone, not marked,
// and its file with it (files.message_pk, ON DELETE CASCADE). The views it
// ended get the activity of the message before it.
func (t *tx) DeleteMessage(c *parley.Conversation, msgID string) (int64, error) {
	var seq int64
	err := t.get("delete message", &seq, `DELETE FROM messages WHERE conv_pk = ? AND id = ? RETURNING seq`, c.PK, msgID)
	if notFound(err) {
		return 0, parley.ErrMessageNotFound()
	} else if err != nil {
		return 0, err
	}
	return seq, t.unsent(c.PK, seq)
}

// Messages pages by seq, which orders a conversation without gaps.
func (t *tx) Messages(c *parley.Conversation, upTo *int64, page parley.Page) ([]parley.Message, error) {
	before := afterPage
	if upTo != nil {
		before = *upTo + 1
	}
	if page.StartingAfter != "" {
		var seq int64
		err := t.get("find message cursor", &seq, `SELECT seq FROM messages WHERE conv_pk = ? AND id = ?`, c.PK, page.StartingAfter)
		if notFound(err) || (err == nil && seq >= before) {
			return nil, parley.ErrNotInList()
		} else if err != nil {
			return nil, err
		}
		before = seq
	}
	rows, err := scanAll(t, "list messages", (*messageRow).fields, `SELECT `+messageColumns+` FROM messages WHERE conv_pk = `+intArg+`
		AND seq < `+intArg+` ORDER BY seq DESC LIMIT `+limitArg, c.PK, c.PK, before, page.Limit)
	if err != nil {
		return nil, err
	}
	out := make([]parley.Message, len(rows))
	for i, r := range rows {
		out[i] = r.message(c.ID)
	}
	return out, t.fillReadBy(c.PK, out)
}

// messageFields are a message row's columns.
const messageFields = `id, seq, type, sender_id, text, custom, referenced_message_id, origin, created_at, edited_at, deleted,
	attachment`

// messageColumns are a message row's, and whether an erasure of its sender
// waits for the purger to empty it (erasing): its one ? is the
// conversation's pk. The subquery runs once a statement.
const messageColumns = messageFields + `,
	(sender_id IS NOT NULL AND sender_id IN (SELECT p.user_id FROM purges p JOIN conversations c ON c.app_id = p.app_id
		WHERE c.pk = ` + intArg + ` AND p.kind = '` + purgeMessages + `' AND p.user_id IS NOT NULL)) AS erasing`

// erasingOf is the erasing column for rows of several conversations, the
// table's columns named with alias: correlated by the row's conversation.
func erasingOf(alias string) string {
	return `(` + alias + `sender_id IS NOT NULL AND ` + alias + `sender_id IN (SELECT p.user_id FROM purges p
		JOIN conversations c ON c.app_id = p.app_id WHERE c.pk = ` + alias + `conv_pk AND p.kind = '` + purgeMessages + `'
		AND p.user_id IS NOT NULL)) AS erasing`
}

type messageRow struct {
	ID                  string  `db:"id"`
	Seq                 int64   `db:"seq"`
	Type                string  `db:"type"`
	SenderID            *string `db:"sender_id"`
	Text                string  `db:"text"`
	Custom              string  `db:"custom"`
	ReferencedMessageID *string `db:"referenced_message_id"`
	Origin              string  `db:"origin"`
	CreatedAt           int64   `db:"created_at"`
	EditedAt            *int64  `db:"edited_at"`
	Deleted             bool    `db:"deleted"`
	Erasing             bool    `db:"erasing"`
	Attachment          *string `db:"attachment"`
}

// fields are the row's fields in the order of messageColumns.
func (r *messageRow) fields() []any {
	return []any{&r.ID, &r.Seq, &r.Type, &r.SenderID, &r.Text, &r.Custom, &r.ReferencedMessageID, &r.Origin,
		&r.CreatedAt, &r.EditedAt, &r.Deleted, &r.Attachment, &r.Erasing}
}

// message is the row as the user sees it: erased already when its erasure
// waits for the purger.
func (r messageRow) message(convID string) parley.Message {
	if r.Erasing {
		r.Text, r.Custom, r.Deleted, r.Attachment = "", "{}", true, nil
	}
	return parley.Message{ID: r.ID, ConversationID: convID, Type: r.Type, SenderID: r.SenderID, Text: r.Text,
		Custom: customMap(r.Custom), ReferencedMessageID: r.ReferencedMessageID, Origin: r.Origin,
		CreatedAt: r.CreatedAt, EditedAt: r.EditedAt, Deleted: r.Deleted, Attachment: attachmentOf(r.Attachment), Seq: r.Seq,
		ReadBy: []string{}}
}
