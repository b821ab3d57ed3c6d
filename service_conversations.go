package parley

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"
)

// ParticipantPatch changes only the fields that are set.
type ParticipantPatch struct {
	Access *Access `json:"access"`
	Notify *Notify `json:"notify"`
}

// ConversationService manages conversations and their participants.
type ConversationService interface {
	PutConversation(ctx context.Context, appID string, by Caller, convID string, p *ConversationPatch) error
	Conversation(ctx context.Context, appID, convID string) (*Conversation, error)
	Conversations(ctx context.Context, appID string, page Page) ([]Conversation, error)
	DeleteConversation(ctx context.Context, appID, convID string) error
	// PutParticipant adds the user or overwrites their access and notify.
	PutParticipant(ctx context.Context, appID, convID, userID string, p Participant) error
	// PatchParticipant changes a current participant; from a client it is a
	// moderator's action, logged when it changes the access.
	PatchParticipant(ctx context.Context, appID string, by Caller, convID, userID string, p ParticipantPatch) error
	// RemoveParticipant removes the user, freezing their view; removing a
	// user who is not a participant does nothing. The removal is sticky:
	// no client can undo it.
	RemoveParticipant(ctx context.Context, appID string, by Caller, convID, userID string) error

	// ConversationFor is the conversation as a participant (current or
	// removed) sees it; conversation.not_found for anyone else.
	ConversationFor(ctx context.Context, appID, convID, userID string) (*Membership, error)
	// SyncConversation is a client's get-or-create: it applies the patch under
	// the client rules (sticky removals, sync setting, access, blocks) and
	// answers the conversation as the caller sees it.
	SyncConversation(ctx context.Context, appID string, by Caller, convID string, p *ConversationPatch) (*Membership, error)
}

// DefaultParticipant is how a user is added when nothing else is said.
var DefaultParticipant = Participant{Access: ReadWrite, Notify: NotifyOn}

// PutConversation implements ConversationService.
func (s *Service) PutConversation(ctx context.Context, appID string, by Caller, convID string, p *ConversationPatch) error {
	if err := Check(p, ""); err != nil {
		return err
	}
	return s.write(ctx, appID, func(w *change) error {
		at := len(w.events)
		c, created, err := w.CreateConversation(appID, convID, by.Actor, w.now)
		if err != nil {
			return err
		}
		changed := created || attributesChange(c, p)
		if err := w.SetConversation(c, p); err != nil {
			return err
		}
		ids := distinct(p.Participants)
		if err := w.requireParticipants(ids); err != nil {
			return err
		}
		if err := w.addMembers(c, ids, nil); err != nil {
			return err
		}
		if !changed {
			return nil // participant changes alone are announced by the write
		}
		return w.emitConversation(convID, created, at)
	})
}

// requireParticipants checks, in one read, that the users named in a body
// may take part: the first unknown or erased one is a bad request.
func (w *change) requireParticipants(ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	erased, err := w.Erased(w.app, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if gone, known := erased[id]; !known || gone {
			return &Error{Code: EUserNotFound, Message: ErrorMessage(ErrUserNotFound(id)),
				Fields: map[string]string{"participants": "unknown user " + id}}
		}
	}
	return nil
}

// addMembers makes the users current participants with the default access,
// leaving those who are already alone, in few statements whatever their
// number (known: their memberships, when the caller read them already).
func (w *change) addMembers(c *Conversation, ids []string, known map[string]*Member) error {
	if len(ids) == 0 {
		return nil
	}
	if known == nil {
		var err error
		if known, err = w.Members(c, ids); err != nil {
			return err
		}
	}
	var add []NewMember
	for _, id := range ids {
		if m := known[id]; !m.Current() {
			add = append(add, NewMember{UserID: id, Participant: DefaultParticipant, Frozen: Freeze(m, ReadWrite, false, c.LastSeq)})
		}
	}
	if len(add) == 0 {
		return nil
	}
	if err := w.SetMembers(w.app, c, add, w.now); err != nil {
		return err
	}
	w.participantsChanged(c.ID)
	for _, m := range add {
		w.emitMeta(EventParticipantAdded, EventData{ConversationID: c.ID, UserID: m.UserID, Access: m.Access, Notify: m.Notify},
			before(c.ID, known[m.UserID]))
	}
	return nil
}

// emitConversation records, with the conversation as it is now,
// conversation.updated, or conversation.created placed before the events
// recorded since the write's event number at (its participants joining).
// A conversation created with participants is announced after their joins
// too, with conversation.updated: each joiner's stream shows the joins
// from its own on, and conversation.updated, which names everyone, tells
// them the rest.
func (w *change) emitConversation(convID string, created bool, at int) error {
	c, err := w.complete(convID)
	if err != nil {
		return err
	}
	w.announced[convID] = true
	d, m := EventData{ConversationID: convID, Conversation: c}, &EventMeta{Seq: c.LastSeq}
	if created {
		w.emitMeta(EventConversationCreated, d, m)
		last := w.events[len(w.events)-1]
		copy(w.events[at+1:], w.events[at:len(w.events)-1])
		w.events[at] = last
		if !slices.Contains(w.convs, convID) {
			return nil // nobody joined
		}
	}
	w.emitMeta(EventConversationUpdated, d, m)
	return nil
}

// complete reads a conversation with its participants and last message.
func (w *change) complete(convID string) (*Conversation, error) {
	c, err := w.Conversation(w.app, convID)
	if err != nil {
		return nil, err
	}
	convs := []Conversation{*c}
	if err := w.Complete(convs, nil); err != nil {
		return nil, err
	}
	return &convs[0], nil
}

// setMember makes the user a current participant with p, keeping or setting
// the freeze point as the access rules say. Setting what is there already
// changes nothing.
func (w *change) setMember(c *Conversation, userID string, prev *Member, p Participant) error {
	if prev.Current() && prev.Access == p.Access && prev.Notify == p.Notify {
		return nil
	}
	w.participantsChanged(c.ID)
	if err := w.SetMember(w.app, c, userID, p, Freeze(prev, p.Access, false, c.LastSeq), w.now); err != nil {
		return err
	}
	typ := EventParticipantUpdated
	if !prev.Current() {
		typ = EventParticipantAdded
	}
	w.emitMeta(typ, EventData{ConversationID: c.ID, UserID: userID, Access: p.Access, Notify: p.Notify}, before(c.ID, prev))
	return nil
}

// removeMember removes a current participant, freezing their view.
func (w *change) removeMember(c *Conversation, userID string, prev *Member) error {
	if err := w.RemoveMember(c, userID, Freeze(prev, prev.Access, true, c.LastSeq), w.now); err != nil {
		return err
	}
	w.participantsChanged(c.ID)
	w.emitMeta(EventParticipantRemoved, EventData{ConversationID: c.ID, UserID: userID}, before(c.ID, prev))
	return nil
}

// Conversation implements ConversationService.
func (s *Service) Conversation(ctx context.Context, appID, convID string) (*Conversation, error) {
	var out *Conversation
	err := s.read(ctx, func(tx Tx) error {
		c, err := tx.Conversation(appID, convID)
		if err != nil {
			return err
		}
		convs := []Conversation{*c}
		if err := tx.Complete(convs, nil); err != nil {
			return err
		}
		out = &convs[0]
		return s.linkLast(tx, appID, s.now(), out)
	})
	return out, err
}

// Conversations implements ConversationService: newest created first.
func (s *Service) Conversations(ctx context.Context, appID string, page Page) ([]Conversation, error) {
	var out []Conversation
	err := s.read(ctx, func(tx Tx) (err error) {
		if out, err = tx.Conversations(appID, page); err != nil {
			return err
		}
		now := s.now()
		for i := range out {
			if err := s.linkLast(tx, appID, now, &out[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// DeleteConversation implements ConversationService; messages and
// memberships go with it.
func (s *Service) DeleteConversation(ctx context.Context, appID, convID string) error {
	return s.write(ctx, appID, func(w *change) error {
		// The event carries the participants it was deleted for.
		if _, err := w.LockConversation(appID, convID); err != nil {
			return err
		}
		c, err := w.complete(convID)
		if err != nil {
			return err
		}
		members, err := w.ConversationViews(c)
		if err != nil {
			return err
		}
		if ok, err := w.DeleteConversation(appID, convID); err != nil {
			return err
		} else if !ok {
			return ErrConversationNotFound(convID)
		}
		w.emitMeta(EventConversationDeleted, EventData{ConversationID: convID, Conversation: c}, &EventMeta{Before: members})
		return nil
	})
}

// PutParticipant implements ConversationService.
func (s *Service) PutParticipant(ctx context.Context, appID, convID, userID string, p Participant) error {
	return s.write(ctx, appID, func(w *change) error {
		c, m, err := w.convAndMember(convID, userID, true)
		if err != nil {
			return err
		}
		return w.setMember(c, userID, m, p)
	})
}

// PatchParticipant implements ConversationService.
func (s *Service) PatchParticipant(ctx context.Context, appID string, by Caller, convID, userID string, p ParticipantPatch) error {
	return s.write(ctx, appID, func(w *change) error {
		if err := s.moderateIn(w, appID, by, convID, userID, PermConversationsModerate); err != nil {
			return err
		}
		c, m, err := w.convAndMember(convID, userID, true)
		if err != nil {
			return err
		}
		if !m.Current() {
			return Errorf(EParticipantNotFound, "User %q is not a participant of the conversation.", userID)
		}
		next := Participant{Access: m.Access, Notify: m.Notify}
		if p.Access != nil {
			next.Access = *p.Access
		}
		if p.Notify != nil {
			next.Notify = *p.Notify
		}
		if err := w.setMember(c, userID, m, next); err != nil || !by.Actor.IsUser() || next.Access == m.Access {
			return err
		}
		_, err = w.AppendAudit(appID, AuditEntry{Action: ActionParticipantUpdate, UserID: userID,
			ConversationID: &convID, Actor: by.Actor, CreatedAt: w.now})
		return err
	})
}

// RemoveParticipant implements ConversationService.
func (s *Service) RemoveParticipant(ctx context.Context, appID string, by Caller, convID, userID string) error {
	return s.write(ctx, appID, func(w *change) error {
		if err := s.moderateIn(w, appID, by, convID, userID, PermConversationsModerate); err != nil {
			return err
		}
		c, m, err := w.convAndMember(convID, userID, false)
		if err != nil || !m.Current() {
			return err
		}
		if err := w.removeMember(c, userID, m); err != nil {
			return err
		}
		_, err = w.AppendAudit(appID, AuditEntry{Action: ActionParticipantRemove, UserID: userID,
			ConversationID: &convID, Actor: by.Actor, CreatedAt: w.now})
		return err
	})
}

// moderateIn applies a client moderator's rules to an action on userID in
// a conversation, in the contract's order: a conversation never joined,
// the permission, the caller's own removal, the target. The backend passes.
func (s *Service) moderateIn(tx Tx, appID string, by Caller, convID, userID, perm string) error {
	if by.Surface == Backend {
		return nil
	}
	if err := s.moderatorIn(tx, appID, by, convID, perm); err != nil {
		return err
	}
	_, err := s.moderationTarget(tx, appID, by, userID, Invalid("userId", "must not be yourself"), false)
	return err
}

// convAndMember locks the conversation, checks the user exists (erased
// users count as missing when live is set) and returns the membership.
func (w *change) convAndMember(convID, userID string, live bool) (*Conversation, *Member, error) {
	c, err := w.LockConversation(w.app, convID)
	if err != nil {
		return nil, nil, err
	}
	if live {
		_, err = liveUser(w, w.app, userID, false)
	} else {
		_, err = w.User(w.app, userID)
	}
	if err != nil {
		return nil, nil, err
	}
	m, err := w.Member(c, userID)
	return c, m, err
}

// ConversationFor implements ConversationService.
func (s *Service) ConversationFor(ctx context.Context, appID, convID, userID string) (*Membership, error) {
	var out *Membership
	err := s.read(ctx, func(tx Tx) error {
		c, m, err := convForMember(tx, appID, convID, userID)
		if err != nil {
			return err
		}
		out, err = s.membershipOf(tx, appID, c, m, userID)
		return err
	})
	return out, err
}

// convForMember reads a conversation and the user's membership;
// conversation.not_found when the user never took part.
func convForMember(tx Tx, appID, convID, userID string) (*Conversation, *Member, error) {
	c, err := tx.Conversation(appID, convID)
	if err != nil {
		return nil, nil, err
	}
	m, err := tx.Member(c, userID)
	if err == nil && m == nil {
		err = ErrConversationNotFound(convID)
	}
	return c, m, err
}

// membershipOf is the conversation as the member sees it.
func (s *Service) membershipOf(tx Tx, appID string, c *Conversation, m *Member, userID string) (*Membership, error) {
	convs := []Conversation{*c}
	if err := tx.Complete(convs, map[int64]*int64{c.PK: m.FrozenSeq}); err != nil {
		return nil, err
	}
	if err := s.linkLast(tx, appID, s.now(), &convs[0]); err != nil {
		return nil, err
	}
	out := &Membership{Conversation: convs[0], RemovedAt: m.RemovedAt}
	if !m.Removed {
		a := m.Access
		out.Access = &a
	}
	n, err := tx.UnreadCount(c, userID, m)
	out.UnreadMessageCount, out.IsUnread = n, n > 0
	return out, err
}

// SyncConversation implements ConversationService. Refusals, first
// applying first: a conversation the caller never took part in (404); a
// participant whom an admin removed (sticky); the sync setting, for a call
// that would change anything; the caller's silence; the caller's own
// access; unknown users; blocks.
func (s *Service) SyncConversation(ctx context.Context, appID string, by Caller, convID string, p *ConversationPatch) (*Membership, error) {
	if err := Check(p, ""); err != nil {
		return nil, err
	}
	if len(p.Participants) > MaxClientParticipants {
		return nil, Invalid("participants", fmt.Sprintf("a client adds at most %d users per call", MaxClientParticipants))
	}
	var out *Membership
	spent := false // the adds were taken from the budget (limitAdds)
	err := s.write(ctx, appID, func(w *change) error {
		settings, err := w.Settings(appID)
		if err != nil {
			return err
		}
		c, err := w.LockConversation(appID, convID)
		if ErrorCode(err) == EConversationNotFound {
			c = nil
		} else if err != nil {
			return err
		}
		var me *Member
		current := map[string]bool{}
		if c != nil {
			if me, err = w.Member(c, by.UserID); err != nil {
				return err
			} else if me == nil {
				return ErrConversationNotFound(convID)
			}
			ids, err := w.CurrentMembers(c, 0)
			if err != nil {
				return err
			}
			for _, id := range ids {
				current[id] = true
			}
		}
		var added []string
		for _, id := range distinct(p.Participants) {
			if !current[id] {
				added = append(added, id)
			}
		}
		var known map[string]*Member // the memberships of those added, when the conversation exists
		if c != nil && len(added) > 0 {
			if known, err = w.Members(c, added); err != nil {
				return err
			}
			for _, id := range added {
				if m := known[id]; m != nil && m.RemovedByAdmin {
					return Errorf(ERemovedByAdmin, "User %q was removed from this conversation by a moderator; only the backend can add them back.", id)
				}
			}
		}
		if c == nil && !slices.Contains(added, by.UserID) {
			added = append(added, by.UserID)
		}
		if c != nil && len(added) == 0 && !attributesChange(c, p) {
			out, err = s.membershipOf(w, appID, c, me, by.UserID)
			return err
		}
		if !settings.BrowserConversationSync {
			return Errorf(EConvSyncDisabled, "Conversation sync from clients is off for this app: the backend creates and changes conversations.")
		}
		if err := w.notSilenced(by.UserID); err != nil {
			return err
		}
		switch {
		case me != nil && me.Removed:
			return Errorf(ERemoved, "You were removed from this conversation.")
		case me != nil && me.Access != ReadWrite:
			return Errorf(EReadOnly, "You may read but not change this conversation.")
		}
		if err := w.requireParticipants(added); err != nil {
			return err
		}
		if err := w.checkBlocks(by.UserID, current, added); err != nil {
			return err
		}
		if !spent { // a write run again spends nothing more
			if err := s.limitAdds(w, by, added); err != nil {
				return err
			}
			spent = true
		}
		created, at := c == nil, len(w.events)
		if created {
			var fresh bool
			if c, fresh, err = w.CreateConversation(appID, convID, by.Actor, w.now); err != nil {
				return err
			} else if !fresh {
				// Another transaction created it first: the caller never took part.
				return ErrConversationNotFound(convID)
			}
		}
		if err := w.SetConversation(c, p); err != nil {
			return err
		}
		if created {
			known = map[string]*Member{} // nobody took part in a conversation this call created
		}
		if err := w.addMembers(c, added, known); err != nil {
			return err
		}
		if err := w.emitConversation(convID, created, at); err != nil {
			return err
		}
		c, me, err = convForMember(w, appID, convID, by.UserID)
		if err != nil {
			return err
		}
		out, err = s.membershipOf(w, appID, c, me, by.UserID)
		return err
	})
	return out, err
}

// limitAdds refuses, past ClientAddsPerMinute, to let clients add a user
// to one more conversation. The adds are spent in the write, so that
// concurrent calls cannot overshoot; a write that then fails keeps them
// spent, erring on the safe side.
func (s *Service) limitAdds(w *change, by Caller, added []string) error {
	perSecond := float64(ClientAddsPerMinute) / 60
	for _, id := range added {
		if id == by.UserID {
			continue // joining a conversation one creates
		}
		if ok, _ := s.adds.Take(w.app+"\x00"+id, perSecond, ClientAddsPerMinute); !ok {
			return ErrRateLimited(fmt.Sprintf("User %q was added to too many conversations in the last minute: try again later.", id),
				time.Minute/ClientAddsPerMinute)
		}
	}
	return nil
}

// checkBlocks applies the blocks to a client's change of a conversation.
// A user whom someone blocked creates, changes or adds people to no
// conversation that includes the blocker, and adds the blocker nowhere, so a
// block cannot be dodged by turning a direct conversation into a group; and
// no direct conversation (exactly two current participants) is made between
// two users when either blocked the other.
func (w *change) checkBlocks(caller string, current map[string]bool, added []string) error {
	others := slices.DeleteFunc(append(slices.Collect(maps.Keys(current)), added...), func(id string) bool { return id == caller })
	if blocked, err := w.BlockedByAny(w.app, caller, others); err != nil {
		return err
	} else if blocked {
		return Errorf(EUserBlocked, "Someone in this conversation blocked you: you cannot create or change it, or add them.")
	}
	if len(current)+len(added) != 2 || len(added) == 0 {
		return nil
	}
	pair := append(slices.Collect(maps.Keys(current)), added...)
	for _, ab := range [][2]string{{pair[0], pair[1]}, {pair[1], pair[0]}} {
		if blocked, err := w.Blocked(w.app, ab[0], ab[1]); err != nil {
			return err
		} else if blocked {
			return Errorf(EUserBlocked, "One of these users blocked the other: they cannot have a direct conversation.")
		}
	}
	return nil
}

// attributesChange reports whether the patch would change a stored attribute.
func attributesChange(c *Conversation, p *ConversationPatch) bool {
	differs := func(o Optional[string], stored *string) bool {
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
	if p.WelcomeMessages.Set && !slices.Equal(p.WelcomeMessages.Value, c.WelcomeMessages) {
		return true
	}
	return p.Custom.Set && !maps.Equal(p.Custom.Value, c.Custom)
}

func distinct(ids []string) []string {
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
