package parley

import "context"

// ReadService keeps read pointers (API.md section 12).
type ReadService interface {
	// MarkRead moves the user's read pointer in the conversation forward to
	// the message (the newest in their view when msgID is ""). by is the
	// backend, or the user themselves.
	MarkRead(ctx context.Context, appID string, by Caller, convID, userID, msgID string) error
	// ReadPointers are the user's pointers: message id by conversation id.
	ReadPointers(ctx context.Context, appID, userID string) (map[string]string, error)
}

var _ ReadService = (*Service)(nil)

// MarkRead implements ReadService. A pointer only moves forward: marking an
// older message, or the same one again, changes nothing and emits nothing.
// Silenced users may mark as read; a message outside the user's view is
// message.not_found. A user who never took part is participant.not_found
// for the backend and conversation.not_found for the user.
func (s *Service) MarkRead(ctx context.Context, appID string, by Caller, convID, userID, msgID string) error {
	return s.write(ctx, appID, func(w *change) error {
		c, err := w.LockConversation(appID, convID)
		if err != nil {
			return err
		}
		if _, err := w.User(appID, userID); err != nil {
			return err
		}
		m, err := w.Member(c, userID)
		if err != nil {
			return err
		}
		if m == nil {
			if by.Surface == Client {
				return ErrConversationNotFound(convID)
			}
			return Errorf(EParticipantNotFound, "User %q never took part in conversation %q.", userID, convID)
		}
		var target *Message
		if msgID != "" {
			if target, err = w.Message(c, msgID); err != nil {
				return err
			}
			if !m.Sees(target.Seq) {
				return ErrMessageNotFound()
			}
		} else {
			last := []Conversation{*c}
			if err := w.Complete(last, map[int64]*int64{c.PK: m.FrozenSeq}); err != nil {
				return err
			}
			if target = last[0].LastMessage; target == nil {
				return nil // nothing to read yet
			}
		}
		moved, err := w.SetReadPointer(c, userID, target.Seq, target.ID)
		if err != nil || !moved {
			return err
		}
		m.ReadSeq = target.Seq
		n, err := w.UnreadCount(c, userID, m)
		if err != nil {
			return err
		}
		w.emit(EventReadUpdated, EventData{ConversationID: convID, MessageID: target.ID, UserID: userID, UnreadMessageCount: &n})
		w.emit(EventMessageRead, EventData{ConversationID: convID, MessageID: target.ID, UserID: userID})
		return nil
	})
}

// ReadPointers implements ReadService.
func (s *Service) ReadPointers(ctx context.Context, appID, userID string) (map[string]string, error) {
	var out map[string]string
	err := s.read(ctx, func(tx Tx) (err error) {
		out, err = tx.ReadPointers(appID, userID)
		return err
	})
	return out, err
}
