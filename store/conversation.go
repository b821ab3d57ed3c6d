package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
)

// PutConversation implements parley.ConversationService.
func (db *DB) PutConversation(ctx context.Context, appID, convID string, p *parley.ConversationPatch) error {
	return db.update(ctx, func(tx *sqlx.Tx) error {
		now := db.now()
		c, err := convByID(tx, appID, convID)
		if parley.ErrorCode(err) == parley.EConversationNotFound {
			c, err = insertConversation(tx, appID, convID, now)
		}
		if err != nil {
			return err
		}
		if err := setConversation(tx, c.PK, p); err != nil {
			return err
		}
		for _, userID := range p.Participants {
			if _, err := liveUser(tx, appID, userID); err != nil {
				if parley.ErrorCode(err) == parley.EUserNotFound {
					return &parley.Error{Code: parley.EUserNotFound, Message: fmt.Sprintf("There is no user %q.", userID),
						Fields: map[string]string{"participants": "unknown user " + userID}}
				}
				return err
			}
			m, err := member(tx, c.PK, userID)
			if err != nil {
				return err
			}
			if m.Current() {
				continue
			}
			if err := setMember(tx, appID, c, userID, m, parley.Participant{Access: parley.ReadWrite, Notify: parley.NotifyOn}, now); err != nil {
				return err
			}
		}
		return nil
	})
}

func insertConversation(tx *sqlx.Tx, appID, convID string, now int64) (*convRow, error) {
	res, err := tx.Exec(`INSERT INTO conversations (app_id, id, created_at) VALUES (?, ?, ?)`, appID, convID, now)
	if err != nil {
		return nil, fmt.Errorf("insert conversation: %w", err)
	}
	pk, err := res.LastInsertId()
	if err != nil {
		return nil, fmt.Errorf("insert conversation: %w", err)
	}
	return &convRow{PK: pk, ID: convID, CreatedAt: now, WelcomeMessages: "[]", Custom: "{}"}, nil
}

// setConversation writes the attributes a patch sets.
func setConversation(tx *sqlx.Tx, pk int64, p *parley.ConversationPatch) error {
	sets, args := conversationSets(p)
	if len(sets) == 0 {
		return nil
	}
	if _, err := tx.Exec(`UPDATE conversations SET `+strings.Join(sets, ", ")+` WHERE pk = ?`, append(args, pk)...); err != nil {
		return fmt.Errorf("update conversation: %w", err)
	}
	return nil
}

func conversationSets(p *parley.ConversationPatch) ([]string, []any) {
	var sets []string
	var args []any
	if p.Subject.Set {
		sets, args = append(sets, "subject = ?"), append(args, p.Subject.Ptr())
	}
	if p.PhotoURL.Set {
		sets, args = append(sets, "photo_url = ?"), append(args, p.PhotoURL.Ptr())
	}
	if p.WelcomeMessages.Set {
		v := p.WelcomeMessages.Value
		if v == nil {
			v = []string{}
		}
		sets, args = append(sets, "welcome_messages = ?"), append(args, jsonText(v))
	}
	if p.Custom.Set {
		sets, args = append(sets, "custom = ?"), append(args, jsonText(p.Custom.Value))
	}
	return sets, args
}

// Conversation implements parley.ConversationService.
func (db *DB) Conversation(ctx context.Context, appID, convID string) (*parley.Conversation, error) {
	var out *parley.Conversation
	err := db.view(ctx, func(tx *sqlx.Tx) error {
		c, err := convByID(tx, appID, convID)
		if err != nil {
			return err
		}
		convs, err := loadConversations(tx, []convRow{*c}, nil)
		if err != nil {
			return err
		}
		out = &convs[0]
		return nil
	})
	return out, err
}

// Conversations implements parley.ConversationService: newest created first.
func (db *DB) Conversations(ctx context.Context, appID string, page parley.Page) ([]parley.Conversation, error) {
	var out []parley.Conversation
	err := db.view(ctx, func(tx *sqlx.Tx) error {
		before := int64(1<<63 - 1)
		if page.StartingAfter != "" {
			c, err := convByID(tx, appID, page.StartingAfter)
			if err != nil {
				return cursorError(err, parley.EConversationNotFound)
			}
			before = c.PK
		}
		var rows []convRow
		if err := tx.Select(&rows, `SELECT `+convColumns+` FROM conversations WHERE app_id = ? AND pk < ? ORDER BY pk DESC LIMIT ?`,
			appID, before, page.Limit); err != nil {
			return fmt.Errorf("list conversations: %w", err)
		}
		var err error
		out, err = loadConversations(tx, rows, nil)
		return err
	})
	return out, err
}

// DeleteConversation implements parley.ConversationService; messages and
// memberships go with it (ON DELETE CASCADE).
func (db *DB) DeleteConversation(ctx context.Context, appID, convID string) error {
	return db.update(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.Exec(`DELETE FROM conversations WHERE app_id = ? AND id = ?`, appID, convID)
		if err != nil {
			return fmt.Errorf("delete conversation: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errConversationNotFound(convID)
		}
		return nil
	})
}

// PutParticipant implements parley.ConversationService.
func (db *DB) PutParticipant(ctx context.Context, appID, convID, userID string, p parley.Participant) error {
	return db.update(ctx, func(tx *sqlx.Tx) error {
		c, m, err := convAndMember(tx, appID, convID, userID, true)
		if err != nil {
			return err
		}
		return setMember(tx, appID, c, userID, m, p, db.now())
	})
}

// PatchParticipant implements parley.ConversationService.
func (db *DB) PatchParticipant(ctx context.Context, appID, convID, userID string, p parley.ParticipantPatch, by parley.Actor) error {
	return db.update(ctx, func(tx *sqlx.Tx) error {
		c, m, err := convAndMember(tx, appID, convID, userID, true)
		if err != nil {
			return err
		}
		if !m.Current() {
			return parley.Errorf(parley.EParticipantNotFound, "User %q is not a participant of the conversation.", userID)
		}
		next := parley.Participant{Access: m.Access, Notify: m.Notify}
		if p.Access != nil {
			next.Access = *p.Access
		}
		if p.Notify != nil {
			next.Notify = *p.Notify
		}
		now := db.now()
		if err := setMember(tx, appID, c, userID, m, next, now); err != nil || !by.IsUser() || next.Access == m.Access {
			return err
		}
		_, err = appendAudit(tx, appID, parley.AuditEntry{Action: parley.ActionParticipantUpdate, UserID: userID,
			ConversationID: &convID, Actor: by, CreatedAt: now})
		return err
	})
}

// RemoveParticipant implements parley.ConversationService. The removal is
// sticky: clients cannot re-add the user.
func (db *DB) RemoveParticipant(ctx context.Context, appID, convID, userID string, by parley.Actor) error {
	return db.update(ctx, func(tx *sqlx.Tx) error {
		c, m, err := convAndMember(tx, appID, convID, userID, false)
		if err != nil || !m.Current() {
			return err
		}
		now := db.now()
		if err := removeMember(tx, c, userID, m, now); err != nil {
			return err
		}
		_, err = appendAudit(tx, appID, parley.AuditEntry{Action: parley.ActionParticipantRemove, UserID: userID,
			ConversationID: &convID, Actor: by, CreatedAt: now})
		return err
	})
}

// convAndMember reads the conversation, checks the user exists (erased users
// count as missing when live is set) and returns the user's membership.
func convAndMember(tx *sqlx.Tx, appID, convID, userID string, live bool) (*convRow, *parley.Member, error) {
	c, err := convByID(tx, appID, convID)
	if err != nil {
		return nil, nil, err
	}
	find := userByID
	if live {
		find = liveUser
	}
	if _, err := find(tx, appID, userID); err != nil {
		return nil, nil, err
	}
	m, err := member(tx, c.PK, userID)
	return c, m, err
}

// setMember makes the user a current participant with p, keeping or setting
// the freeze point as the access rules say.
func setMember(tx *sqlx.Tx, appID string, c *convRow, userID string, prev *parley.Member, p parley.Participant, now int64) error {
	frozen := parley.Freeze(prev, p.Access, false, c.LastSeq)
	_, err := tx.Exec(`INSERT INTO participants (conv_pk, app_id, user_id, access, notify, joined_at, frozen_seq)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (conv_pk, user_id) DO UPDATE SET access = excluded.access, notify = excluded.notify,
			frozen_seq = excluded.frozen_seq, removed_by_admin = 0, removed_by_ban = NULL, removed_at = NULL,
			joined_at = CASE WHEN removed_at IS NULL THEN joined_at ELSE excluded.joined_at END`,
		c.PK, appID, userID, string(p.Access), string(p.Notify), now, frozen)
	if err != nil {
		return fmt.Errorf("set participant: %w", err)
	}
	return nil
}

func removeMember(tx *sqlx.Tx, c *convRow, userID string, prev *parley.Member, now int64) error {
	frozen := parley.Freeze(prev, prev.Access, true, c.LastSeq)
	if _, err := tx.Exec(`UPDATE participants SET removed_at = ?, frozen_seq = ?, removed_by_admin = 1
		WHERE conv_pk = ? AND user_id = ?`, now, frozen, c.PK, userID); err != nil {
		return fmt.Errorf("remove participant: %w", err)
	}
	return nil
}

// member returns the user's membership, or nil if they never took part.
func member(tx *sqlx.Tx, convPK int64, userID string) (*parley.Member, error) {
	var r struct {
		Access         string `db:"access"`
		Notify         string `db:"notify"`
		RemovedAt      *int64 `db:"removed_at"`
		FrozenSeq      *int64 `db:"frozen_seq"`
		RemovedByAdmin bool   `db:"removed_by_admin"`
	}
	err := tx.Get(&r, `SELECT access, notify, removed_at, frozen_seq, removed_by_admin FROM participants
		WHERE conv_pk = ? AND user_id = ?`, convPK, userID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read participant: %w", err)
	}
	return &parley.Member{Access: parley.Access(r.Access), Notify: parley.Notify(r.Notify), Removed: r.RemovedAt != nil,
		RemovedAt: r.RemovedAt, RemovedByAdmin: r.RemovedByAdmin, FrozenSeq: r.FrozenSeq}, nil
}

const convColumns = `pk, id, subject, photo_url, welcome_messages, custom, created_at, last_seq`

type convRow struct {
	PK              int64   `db:"pk"`
	ID              string  `db:"id"`
	Subject         *string `db:"subject"`
	PhotoURL        *string `db:"photo_url"`
	WelcomeMessages string  `db:"welcome_messages"`
	Custom          string  `db:"custom"`
	CreatedAt       int64   `db:"created_at"`
	LastSeq         int64   `db:"last_seq"`
}

func convByID(tx *sqlx.Tx, appID, convID string) (*convRow, error) {
	var c convRow
	err := tx.Get(&c, `SELECT `+convColumns+` FROM conversations WHERE app_id = ? AND id = ?`, appID, convID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errConversationNotFound(convID)
	} else if err != nil {
		return nil, fmt.Errorf("read conversation: %w", err)
	}
	return &c, nil
}

func errConversationNotFound(convID string) error {
	return parley.Errorf(parley.EConversationNotFound, "There is no conversation %q.", convID)
}

// loadConversations completes conversation rows with their current
// participants and last message. views maps a conversation's pk to the
// freeze point of the reader (absent: sees everything).
func loadConversations(tx *sqlx.Tx, rows []convRow, views map[int64]*int64) ([]parley.Conversation, error) {
	out := make([]parley.Conversation, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	index := make(map[int64]int, len(rows))
	pks := make([]int64, len(rows))
	for i, r := range rows {
		index[r.PK], pks[i] = i, r.PK
		out[i] = parley.Conversation{ID: r.ID, Subject: r.Subject, PhotoURL: r.PhotoURL,
			WelcomeMessages: stringList(r.WelcomeMessages), Custom: customMap(r.Custom), CreatedAt: r.CreatedAt,
			Participants: map[string]parley.Participant{}}
	}
	q, args, err := sqlx.In(`SELECT conv_pk, user_id, access, notify FROM participants WHERE conv_pk IN (?) AND removed_at IS NULL`, pks)
	if err != nil {
		return nil, fmt.Errorf("build participants query: %w", err)
	}
	var parts []struct {
		ConvPK int64  `db:"conv_pk"`
		UserID string `db:"user_id"`
		Access string `db:"access"`
		Notify string `db:"notify"`
	}
	if err := tx.Select(&parts, q, args...); err != nil {
		return nil, fmt.Errorf("read participants: %w", err)
	}
	for _, p := range parts {
		out[index[p.ConvPK]].Participants[p.UserID] = parley.Participant{Access: parley.Access(p.Access), Notify: parley.Notify(p.Notify)}
	}
	for i, r := range rows {
		last, err := lastMessage(tx, r.PK, r.ID, views[r.PK])
		if err != nil {
			return nil, err
		}
		out[i].LastMessage = last
	}
	return out, nil
}
