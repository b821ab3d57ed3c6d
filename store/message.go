package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
)

// SendMessages implements parley.MessageService: every message or none. The
// facts that allow a send (membership, access, moderation, blocks) are read
// in the transaction that writes.
func (db *DB) SendMessages(ctx context.Context, appID, convID string, msgs []parley.NewMessage, surface parley.Surface) ([]string, error) {
	var ids []string
	err := db.update(ctx, func(tx *sqlx.Tx) error {
		c, err := convByID(tx, appID, convID)
		if err != nil {
			return err
		}
		ids, err = sendMessages(tx, appID, c, msgs, surface, db.now())
		return err
	})
	return ids, err
}

func sendMessages(tx *sqlx.Tx, appID string, c *convRow, msgs []parley.NewMessage, surface parley.Surface, now int64) ([]string, error) {
	origin := parley.OriginREST
	if surface == parley.Client {
		origin = parley.OriginWeb
	}
	ids := make([]string, len(msgs))
	checked := map[string]bool{}
	seq := c.LastSeq
	for i, m := range msgs {
		if m.IdempotencyKey != nil {
			id, err := idempotentID(tx, c.PK, m.Sender, *m.IdempotencyKey, now)
			if err != nil {
				return nil, err
			} else if id != "" {
				ids[i] = id
				continue
			}
		}
		if m.Sender != nil && !checked[*m.Sender] {
			if err := checkSender(tx, appID, c.PK, *m.Sender, surface, now); err != nil {
				return nil, err
			}
			checked[*m.Sender] = true
		}
		if m.ReferencedMessageID != nil {
			if _, err := messageByID(tx, c.PK, *m.ReferencedMessageID); err != nil {
				if parley.ErrorCode(err) == parley.EMessageNotFound {
					return nil, parley.Invalid(strconv.Itoa(i)+".referencedMessageId", "must name a message of this conversation")
				}
				return nil, err
			}
		}
		seq++
		ids[i] = parley.NewMessageID()
		custom := m.Custom
		if custom == nil {
			custom = parley.Custom{}
		}
		if _, err := tx.Exec(`INSERT INTO messages (id, conv_pk, seq, type, sender_id, text, custom, referenced_message_id,
			origin, created_at, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			ids[i], c.PK, seq, m.Type, m.Sender, m.Text, jsonText(custom), m.ReferencedMessageID, origin, now, m.IdempotencyKey); err != nil {
			return nil, fmt.Errorf("insert message: %w", err)
		}
	}
	if seq != c.LastSeq {
		if _, err := tx.Exec(`UPDATE conversations SET last_seq = ? WHERE pk = ?`, seq, c.PK); err != nil {
			return nil, fmt.Errorf("advance sequence: %w", err)
		}
		c.LastSeq = seq
	}
	return ids, nil
}

// idempotentID returns the id of a message sent with the same key by the same
// sender (or the system) in this conversation within the window, or "".
func idempotentID(tx *sqlx.Tx, convPK int64, sender *string, key string, now int64) (string, error) {
	var id string
	s := ""
	if sender != nil {
		s = *sender
	}
	err := tx.Get(&id, `SELECT id FROM messages WHERE conv_pk = ? AND idempotency_key = ? AND COALESCE(sender_id, '') = ?
		AND created_at > ? ORDER BY seq LIMIT 1`, convPK, key, s, now-parley.IdempotencyWindow)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("find idempotent message: %w", err)
	}
	return id, nil
}

// checkSender applies the write rules to a sender.
func checkSender(tx *sqlx.Tx, appID string, convPK int64, sender string, surface parley.Surface, now int64) error {
	u, err := liveUser(tx, appID, sender)
	if err != nil {
		if parley.ErrorCode(err) == parley.EUserNotFound && surface == parley.Backend {
			return &parley.Error{Code: parley.EUserNotFound, Message: err.(*parley.Error).Message, Fields: map[string]string{"sender": "unknown user"}}
		}
		return err
	}
	m, err := member(tx, convPK, sender)
	if err != nil {
		return err
	}
	facts := parley.WriteFacts{Moderation: activeModeration(u.Moderation, now), Member: m}
	if m.Current() && m.Access == parley.ReadWrite {
		if facts.Blocked, err = blockedInDirect(tx, appID, convPK, sender); err != nil {
			return err
		}
	}
	return parley.CheckWrite(facts, surface)
}

// blockedInDirect reports whether the conversation is direct (exactly two
// current participants) and the other one blocked sender.
func blockedInDirect(tx *sqlx.Tx, appID string, convPK int64, sender string) (bool, error) {
	var others []string
	if err := tx.Select(&others, `SELECT user_id FROM participants WHERE conv_pk = ? AND removed_at IS NULL LIMIT 3`, convPK); err != nil {
		return false, fmt.Errorf("read participants: %w", err)
	}
	if len(others) != 2 {
		return false, nil
	}
	other := others[0]
	if other == sender {
		other = others[1]
	}
	var n int
	if err := tx.Get(&n, `SELECT COUNT(*) FROM blocks WHERE app_id = ? AND blocker_id = ? AND blocked_id = ?`, appID, other, sender); err != nil {
		return false, fmt.Errorf("read blocks: %w", err)
	}
	return n > 0, nil
}

// Messages implements parley.MessageService: newest first.
func (db *DB) Messages(ctx context.Context, appID, convID string, page parley.Page) ([]parley.Message, error) {
	var out []parley.Message
	err := db.view(ctx, func(tx *sqlx.Tx) error {
		c, err := convByID(tx, appID, convID)
		if err != nil {
			return err
		}
		out, err = messagePage(tx, c, nil, page)
		return err
	})
	return out, err
}

// MessagesFor implements parley.MessageService: a participant reads up to
// their freeze point; anyone else learns nothing.
func (db *DB) MessagesFor(ctx context.Context, appID, convID, userID string, page parley.Page) ([]parley.Message, error) {
	var out []parley.Message
	err := db.view(ctx, func(tx *sqlx.Tx) error {
		c, m, err := convForMember(tx, appID, convID, userID)
		if err != nil {
			return err
		}
		out, err = messagePage(tx, c, m.FrozenSeq, page)
		return err
	})
	return out, err
}

// messagePage lists the messages up to the freeze point upTo (nil: all),
// newest first.
func messagePage(tx *sqlx.Tx, c *convRow, upTo *int64, page parley.Page) ([]parley.Message, error) {
	before := c.LastSeq + 1
	if upTo != nil && *upTo+1 < before {
		before = *upTo + 1
	}
	if page.StartingAfter != "" {
		m, err := messageByID(tx, c.PK, page.StartingAfter)
		if err != nil || m.Seq >= before {
			return nil, parley.Invalid("startingAfter", "is not an item of this list")
		}
		before = m.Seq
	}
	var rows []messageRow
	if err := tx.Select(&rows, `SELECT `+messageColumns+` FROM messages WHERE conv_pk = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
		c.PK, before, page.Limit); err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	out := make([]parley.Message, len(rows))
	for i, r := range rows {
		out[i] = r.message(c.ID)
	}
	return out, nil
}

// Message implements parley.MessageService.
func (db *DB) Message(ctx context.Context, appID, convID, msgID string) (*parley.Message, error) {
	var out *parley.Message
	err := db.view(ctx, func(tx *sqlx.Tx) error {
		c, r, err := convMessage(tx, appID, convID, msgID)
		if err != nil {
			return err
		}
		m := r.message(c.ID)
		out = &m
		return nil
	})
	return out, err
}

// EditMessage implements parley.MessageService.
func (db *DB) EditMessage(ctx context.Context, appID, convID, msgID string, p *parley.MessagePatch) (*parley.Message, error) {
	var out *parley.Message
	err := db.update(ctx, func(tx *sqlx.Tx) error {
		c, r, err := convMessage(tx, appID, convID, msgID)
		if err != nil {
			return err
		}
		now := db.now()
		r.EditedAt = &now
		if p.Text != nil {
			r.Text = *p.Text
		}
		if p.Custom != nil {
			r.Custom = jsonText(*p.Custom)
		}
		if _, err := tx.Exec(`UPDATE messages SET text = ?, custom = ?, edited_at = ? WHERE pk = ?`, r.Text, r.Custom, now, r.PK); err != nil {
			return fmt.Errorf("edit message: %w", err)
		}
		m := r.message(c.ID)
		out = &m
		return nil
	})
	return out, err
}

// DeleteMessage implements parley.MessageService: the message is gone.
func (db *DB) DeleteMessage(ctx context.Context, appID, convID, msgID string) error {
	return db.update(ctx, func(tx *sqlx.Tx) error {
		c, err := convByID(tx, appID, convID)
		if err != nil {
			return err
		}
		res, err := tx.Exec(`DELETE FROM messages WHERE conv_pk = ? AND id = ?`, c.PK, msgID)
		if err != nil {
			return fmt.Errorf("delete message: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errMessageNotFound()
		}
		return nil
	})
}

// EditMessageAs implements parley.MessageService.
func (db *DB) EditMessageAs(ctx context.Context, appID, convID, msgID, userID, text string) (*parley.Message, error) {
	var out *parley.Message
	err := db.update(ctx, func(tx *sqlx.Tx) error {
		now := db.now()
		c, r, err := ownMessage(tx, appID, convID, msgID, userID)
		if err != nil {
			return err
		}
		if r.SenderID == nil || *r.SenderID != userID {
			return parley.Errorf(parley.EPermissionDenied, "Only the sender may edit a message.")
		}
		if err := checkSender(tx, appID, c.PK, userID, parley.Client, now); err != nil {
			return err
		}
		if err := parley.ValidateText(text); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE messages SET text = ?, edited_at = ? WHERE pk = ?`, text, now, r.PK); err != nil {
			return fmt.Errorf("edit message: %w", err)
		}
		r.Text, r.EditedAt = text, &now
		m := r.message(c.ID)
		out = &m
		return nil
	})
	return out, err
}

// DeleteMessageAs implements parley.MessageService.
func (db *DB) DeleteMessageAs(ctx context.Context, appID, convID, msgID, userID string, moderation error) error {
	return db.update(ctx, func(tx *sqlx.Tx) error {
		now := db.now()
		c, r, err := ownMessage(tx, appID, convID, msgID, userID)
		if err != nil {
			return err
		}
		own := r.SenderID != nil && *r.SenderID == userID
		if own {
			// One's own message goes under the write rules, or by a moderator's right.
			if err := checkSender(tx, appID, c.PK, userID, parley.Client, now); err != nil && moderation != nil {
				return err
			}
		} else if moderation != nil {
			return moderation
		}
		if m, err := member(tx, c.PK, userID); err != nil {
			return err
		} else if m.Removed {
			return parley.Errorf(parley.ERemoved, "You were removed from this conversation.")
		}
		if _, err := tx.Exec(`DELETE FROM messages WHERE pk = ?`, r.PK); err != nil {
			return fmt.Errorf("delete message: %w", err)
		}
		if own {
			return nil
		}
		sender := ""
		if r.SenderID != nil {
			sender = *r.SenderID
		}
		_, err = appendAudit(tx, appID, parley.AuditEntry{Action: parley.ActionMessageDelete, UserID: sender,
			ConversationID: &convID, MessageID: &msgID, Actor: parley.UserActor(userID), CreatedAt: now})
		return err
	})
}

// ownMessage reads a message as a participant: conversation.not_found for a
// conversation never joined, message.not_found outside the user's view.
func ownMessage(tx *sqlx.Tx, appID, convID, msgID, userID string) (*convRow, *messageRow, error) {
	c, m, err := convForMember(tx, appID, convID, userID)
	if err != nil {
		return nil, nil, err
	}
	r, err := messageByID(tx, c.PK, msgID)
	if err != nil {
		return nil, nil, err
	}
	if !m.Sees(r.Seq) {
		return nil, nil, errMessageNotFound()
	}
	return c, r, nil
}

// lastMessage returns the newest message up to the freeze point upTo (nil: any).
func lastMessage(tx *sqlx.Tx, convPK int64, convID string, upTo *int64) (*parley.Message, error) {
	limit := int64(1<<63 - 1)
	if upTo != nil {
		limit = *upTo
	}
	var r messageRow
	err := tx.Get(&r, `SELECT `+messageColumns+` FROM messages WHERE conv_pk = ? AND seq <= ? ORDER BY seq DESC LIMIT 1`, convPK, limit)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read last message: %w", err)
	}
	m := r.message(convID)
	return &m, nil
}

// convMessage reads a conversation and one of its messages.
func convMessage(tx *sqlx.Tx, appID, convID, msgID string) (*convRow, *messageRow, error) {
	c, err := convByID(tx, appID, convID)
	if err != nil {
		return nil, nil, err
	}
	r, err := messageByID(tx, c.PK, msgID)
	return c, r, err
}

func messageByID(tx *sqlx.Tx, convPK int64, msgID string) (*messageRow, error) {
	var r messageRow
	err := tx.Get(&r, `SELECT `+messageColumns+` FROM messages WHERE conv_pk = ? AND id = ?`, convPK, msgID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errMessageNotFound()
	} else if err != nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	return &r, nil
}

func errMessageNotFound() error {
	return parley.Errorf(parley.EMessageNotFound, "There is no such message in this conversation.")
}

const messageColumns = `pk, id, seq, type, sender_id, text, custom, referenced_message_id, origin, created_at, edited_at, deleted`

type messageRow struct {
	PK                  int64   `db:"pk"`
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
}

func (r messageRow) message(convID string) parley.Message {
	return parley.Message{ID: r.ID, ConversationID: convID, Type: r.Type, SenderID: r.SenderID, Text: r.Text,
		Custom: customMap(r.Custom), ReferencedMessageID: r.ReferencedMessageID, Origin: r.Origin,
		CreatedAt: r.CreatedAt, EditedAt: r.EditedAt, Deleted: r.Deleted, Seq: r.Seq}
}
