package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
)

// ConversationFor implements parley.ConversationService.
func (db *DB) ConversationFor(ctx context.Context, appID, convID, userID string) (*parley.Membership, error) {
	var out *parley.Membership
	err := db.view(ctx, func(tx *sqlx.Tx) error {
		c, m, err := convForMember(tx, appID, convID, userID)
		if err != nil {
			return err
		}
		out, err = membershipOf(tx, c, m)
		return err
	})
	return out, err
}

// SyncConversation implements parley.ConversationService. Refusals, first
// applying first: a conversation the caller never took part in (404); a
// participant whom an admin removed (sticky); the sync setting, for a call
// that would change anything; the caller's own access; blocks.
func (db *DB) SyncConversation(ctx context.Context, appID, convID, userID string, p *parley.ConversationPatch, syncAllowed bool) (*parley.Membership, error) {
	var out *parley.Membership
	err := db.update(ctx, func(tx *sqlx.Tx) error {
		c, err := convByID(tx, appID, convID)
		if parley.ErrorCode(err) == parley.EConversationNotFound {
			c = nil
		} else if err != nil {
			return err
		}
		var me *parley.Member
		current := map[string]bool{}
		if c != nil {
			if me, err = member(tx, c.PK, userID); err != nil {
				return err
			} else if me == nil {
				return errConversationNotFound(convID)
			}
			if current, err = currentParticipants(tx, c.PK); err != nil {
				return err
			}
		}
		var added []string
		for _, id := range dedupe(p.Participants) {
			if current[id] {
				continue
			}
			if c != nil {
				m, err := member(tx, c.PK, id)
				if err != nil {
					return err
				}
				if m != nil && m.RemovedByAdmin {
					return parley.Errorf(parley.ERemovedByAdmin, "User %q was removed from this conversation by a moderator; only the backend can add them back.", id)
				}
			}
			added = append(added, id)
		}
		if c == nil && !contains(added, userID) {
			added = append(added, userID)
		}
		attrs := c == nil || attributesChange(c, p)
		if !attrs && len(added) == 0 {
			out, err = membershipOf(tx, c, me)
			return err
		}
		if !syncAllowed {
			return parley.Errorf(parley.EConvSyncDisabled, "Conversation sync from clients is off for this app: the backend creates and changes conversations.")
		}
		if me != nil && me.Removed {
			return parley.Errorf(parley.ERemoved, "You were removed from this conversation.")
		}
		if me != nil && me.Access != parley.ReadWrite {
			return parley.Errorf(parley.EReadOnly, "You may read but not change this conversation.")
		}
		for _, id := range added {
			if _, err := liveUser(tx, appID, id); err != nil {
				if parley.ErrorCode(err) == parley.EUserNotFound {
					return &parley.Error{Code: parley.EUserNotFound, Message: fmt.Sprintf("There is no user %q.", id),
						Fields: map[string]string{"participants": "unknown user " + id}}
				}
				return err
			}
		}
		if err := checkDirectBlocks(tx, appID, current, added); err != nil {
			return err
		}
		now := db.now()
		if c == nil {
			if c, err = insertConversation(tx, appID, convID, now); err != nil {
				return err
			}
		}
		if err := setConversation(tx, c.PK, p); err != nil {
			return err
		}
		for _, id := range added {
			m, err := member(tx, c.PK, id)
			if err != nil {
				return err
			}
			if err := setMember(tx, appID, c, id, m, parley.Participant{Access: parley.ReadWrite, Notify: parley.NotifyOn}, now); err != nil {
				return err
			}
		}
		if c, err = convByID(tx, appID, convID); err != nil {
			return err
		}
		if me, err = member(tx, c.PK, userID); err != nil {
			return err
		}
		out, err = membershipOf(tx, c, me)
		return err
	})
	return out, err
}

// checkDirectBlocks refuses to make a direct conversation (exactly two
// current participants) between two users when either blocked the other.
func checkDirectBlocks(tx *sqlx.Tx, appID string, current map[string]bool, added []string) error {
	if len(current)+len(added) != 2 || len(added) == 0 {
		return nil
	}
	var pair []string
	for id := range current {
		pair = append(pair, id)
	}
	pair = append(pair, added...)
	var n int
	if err := tx.Get(&n, `SELECT COUNT(*) FROM blocks WHERE app_id = ? AND ((blocker_id = ? AND blocked_id = ?) OR (blocker_id = ? AND blocked_id = ?))`,
		appID, pair[0], pair[1], pair[1], pair[0]); err != nil {
		return fmt.Errorf("read blocks: %w", err)
	}
	if n > 0 {
		return parley.Errorf(parley.EUserBlocked, "One of these users blocked the other: they cannot have a direct conversation.")
	}
	return nil
}

// attributesChange reports whether the patch would change a stored attribute.
func attributesChange(c *convRow, p *parley.ConversationPatch) bool {
	differs := func(o parley.Optional[string], stored *string) bool {
		if !o.Set {
			return false
		}
		if o.Null || stored == nil {
			return o.Null != (stored == nil)
		}
		return o.Value != *stored
	}
	if differs(p.Subject, c.Subject) || differs(p.PhotoURL, c.PhotoURL) {
		return true
	}
	if p.WelcomeMessages.Set && jsonText(nonNilList(p.WelcomeMessages.Value)) != jsonText(stringList(c.WelcomeMessages)) {
		return true
	}
	custom := p.Custom.Value
	if custom == nil {
		custom = parley.Custom{}
	}
	return p.Custom.Set && jsonText(custom) != jsonText(customMap(c.Custom))
}

func nonNilList(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func currentParticipants(tx *sqlx.Tx, convPK int64) (map[string]bool, error) {
	var ids []string
	if err := tx.Select(&ids, `SELECT user_id FROM participants WHERE conv_pk = ? AND removed_at IS NULL`, convPK); err != nil {
		return nil, fmt.Errorf("read participants: %w", err)
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// convForMember reads a conversation and the user's membership;
// conversation.not_found when the user never took part.
func convForMember(tx *sqlx.Tx, appID, convID, userID string) (*convRow, *parley.Member, error) {
	c, err := convByID(tx, appID, convID)
	if err != nil {
		return nil, nil, err
	}
	m, err := member(tx, c.PK, userID)
	if err == nil && m == nil {
		err = errConversationNotFound(convID)
	}
	return c, m, err
}

// membershipOf is the conversation as the member sees it.
func membershipOf(tx *sqlx.Tx, c *convRow, m *parley.Member) (*parley.Membership, error) {
	convs, err := loadConversations(tx, []convRow{*c}, map[int64]*int64{c.PK: m.FrozenSeq})
	if err != nil {
		return nil, err
	}
	out := &parley.Membership{Conversation: convs[0], RemovedAt: m.RemovedAt}
	if !m.Removed {
		a := m.Access
		out.Access = &a
	}
	return out, nil
}

func dedupe(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
