package parley

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// MessageService sends and manages messages.
type MessageService interface {
	// SendMessages stores every message or none and returns their ids in
	// order. The caller's surface decides the refusals and the origin; a
	// client sends one message, as itself.
	SendMessages(ctx context.Context, appID, convID string, msgs []NewMessage, by Caller) ([]string, error)
	// ImportMessages stores messages from another system with the times
	// they were sent there, every one or none, and returns their ids in
	// the order given and how many it stored (an idempotency key may
	// answer an earlier import's message).
	ImportMessages(ctx context.Context, appID, convID string, msgs []ImportedMessage) ([]string, int, error)
	// MessagesFor lists what a participant may read, newest first.
	MessagesFor(ctx context.Context, appID, convID, userID string, page Page) ([]Message, error)
	Messages(ctx context.Context, appID, convID string, page Page) ([]Message, error)
	Message(ctx context.Context, appID, convID, msgID string) (*Message, error)
	EditMessage(ctx context.Context, appID, convID, msgID string, p *MessagePatch) (*Message, error)
	DeleteMessage(ctx context.Context, appID, convID, msgID string) error
	// EditMessageAs edits the caller's own message under the write rules.
	EditMessageAs(ctx context.Context, appID string, by Caller, convID, msgID string, text *string) (*Message, error)
	// DeleteMessageAs deletes a message the caller may see: their own under
	// the write rules, another's with the messages.moderate permission.
	DeleteMessageAs(ctx context.Context, appID string, by Caller, convID, msgID string) error
}

// SendMessages implements MessageService. The write rules come first, then
// idempotency: a sender who may no longer write gets the refusal, not the
// id of an earlier message.
func (s *Service) SendMessages(ctx context.Context, appID, convID string, msgs []NewMessage, by Caller) ([]string, error) {
	if by.Surface == Backend && (len(msgs) < 1 || len(msgs) > MaxMessageBatch) {
		return nil, Errorf(EInvalid, "Send 1 to %d messages at a time.", MaxMessageBatch)
	}
	// A client sends one message: its fields are named without an index.
	field := func(i int) string {
		if by.Surface == Client {
			return ""
		}
		return strconv.Itoa(i) + "."
	}
	for i := range msgs {
		if err := Check(&msgs[i], field(i)); err != nil {
			return nil, err
		}
	}
	// Content rules filter UserMessages; the backend's SystemMessages pass.
	if slices.ContainsFunc(msgs, func(m NewMessage) bool { return m.Type == UserMessage }) {
		filter, err := s.contentFilter(ctx, appID)
		if err != nil {
			return nil, err
		}
		for i := range msgs {
			if msgs[i].Type == UserMessage {
				if msgs[i].Text, err = screen(filter, msgs[i].Text, field(i)); err != nil {
					return nil, err
				}
			}
		}
	}
	origin := OriginREST
	if by.Surface == Client {
		origin = OriginWeb
	}
	ids := make([]string, len(msgs))
	// The first sender's facts are read with the lock: one round trip on
	// PostgreSQL.
	first := ""
	if msgs[0].Sender != nil {
		first = *msgs[0].Sender
	}
	err := s.write(ctx, appID, func(w *change) error {
		var (
			c     *Conversation
			facts *SenderFacts
			err   error
		)
		if first != "" {
			c, facts, err = w.LockConversationFor(appID, convID, first)
		} else {
			c, err = w.LockConversation(appID, convID)
		}
		if err != nil {
			return err
		}
		// The clock is read again once the conversation is held: a send
		// that waited for the lock (on PostgreSQL) is no older than the one
		// it waited for, so times follow the conversation's order (as far
		// as the clocks of the servers sharing the database agree).
		w.now = s.now()
		var fresh []Message
		var stored []*string // the keys of fresh, for InsertMessages
		files := &takes{by: by}
		// Every sender is checked before anything is written. The first
		// message's sender comes first, with the facts read with the lock;
		// when several are refused, the answer names the refusal that comes
		// first in the contract's order, whichever message it is in.
		checked := map[string]bool{}
		var refused error
		for _, m := range msgs {
			if m.Sender == nil || checked[*m.Sender] {
				continue
			}
			sender := *m.Sender
			checked[sender] = true
			if sender != first {
				if facts, err = w.SenderFacts(appID, c, sender); err != nil {
					return err
				}
			}
			if err := w.checkSenderFacts(c, sender, by.Surface, facts); IsWriteRefusal(err) {
				refused = FirstRefusal(refused, err)
			} else if err != nil {
				return err
			}
		}
		if refused != nil {
			return refused
		}
		keys := &batchKeys{}
		for i, m := range msgs {
			sender := ""
			if m.Sender != nil {
				sender = *m.Sender
			}
			if ids[i], err = w.answered(keys, c, sender, m.IdempotencyKey, w.now-IdempotencyWindow+1); err != nil {
				return err
			} else if ids[i] != "" {
				continue
			}
			if m.ReferencedMessageID != nil {
				if _, err := w.Message(c, *m.ReferencedMessageID); ErrorCode(err) == EMessageNotFound {
					return Invalid(field(i)+"referencedMessageId", "must name a message of this conversation")
				} else if err != nil {
					return err
				}
			}
			ids[i] = NewMessageID()
			file, err := w.take(files, m.AttachmentToken, field(i)+"attachmentToken", ids[i])
			if err != nil {
				return err
			}
			keys.remember(sender, m.IdempotencyKey, ids[i])
			fresh = append(fresh, Message{ID: ids[i], ConversationID: convID, Type: m.Type, SenderID: m.Sender, Text: m.Text,
				Custom: m.Custom.orEmpty(), ReferencedMessageID: m.ReferencedMessageID, Origin: origin, CreatedAt: w.now, ReadBy: []string{},
				Attachment: file, Seq: c.LastSeq + int64(len(fresh)) + 1})
			stored = append(stored, m.IdempotencyKey)
		}
		if len(fresh) == 0 {
			return nil
		}
		if err := w.InsertMessages(c, fresh, stored); err != nil {
			return err
		}
		if err := w.takeFiles(c, files); err != nil {
			return err
		}
		for i := range fresh {
			w.emitMeta(EventMessageSent, EventData{ConversationID: convID, Message: &fresh[i]}, &EventMeta{Seq: fresh[i].Seq})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// ImportMessages implements MessageService. The messages take their places
// in the conversation's sequence in the order of their times (the order
// given among equal times), after its messages so far: a message older
// than the conversation's newest is refused, so the sequence stays in time
// order. The write rules are not applied (this is history), but senders
// must be users of the app, and readers (readBy, whose read pointers move
// forward to the message) participants now.
// Imports emit no events and no webhooks: a client learns of them when it
// next reads. An idempotencyKey answers its message for good, not just for
// a day, so that an interrupted import can be sent again.
func (s *Service) ImportMessages(ctx context.Context, appID, convID string, msgs []ImportedMessage) ([]string, int, error) {
	if len(msgs) < 1 || len(msgs) > MaxImportBatch {
		return nil, 0, Errorf(EInvalid, "Import 1 to %d messages at a time.", MaxImportBatch)
	}
	now := s.now()
	for i := range msgs {
		field := strconv.Itoa(i) + "."
		if err := Check(&msgs[i], field); err != nil {
			return nil, 0, err
		}
		if msgs[i].At() > now {
			return nil, 0, Invalid(field+"createdAt", "must not be in the future")
		}
	}
	order := make([]int, len(msgs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(msgs[a].At(), msgs[b].At()) })
	ids := make([]string, len(msgs))
	stored := 0
	err := s.write(ctx, appID, func(w *change) error {
		stored = 0
		c, err := w.LockConversation(appID, convID)
		if err != nil {
			return err
		}
		if err := w.importedPeople(c, msgs); err != nil {
			return err
		}
		newest := []Conversation{*c}
		if err := w.Complete(newest, nil); err != nil {
			return err
		}
		var fresh []Message
		var keyed []*string // the keys of fresh, for InsertMessages
		var readers [][]string
		files := &takes{by: BackendCaller("")}
		keys := &batchKeys{}
		for _, i := range order {
			m := msgs[i]
			field := strconv.Itoa(i) + "."
			sender := ""
			if m.Sender != nil {
				sender = *m.Sender
			}
			if ids[i], err = w.answered(keys, c, sender, m.IdempotencyKey, math.MinInt64); err != nil {
				return err
			} else if ids[i] != "" {
				continue
			}
			if last := newest[0].LastMessage; last != nil && m.At() < last.CreatedAt {
				return Invalid(field+"createdAt", "is before the conversation's newest message: import a conversation's messages oldest first, before new ones arrive")
			}
			ids[i] = NewMessageID()
			file, err := w.take(files, m.AttachmentToken, field+"attachmentToken", ids[i])
			if err != nil {
				return err
			}
			keys.remember(sender, m.IdempotencyKey, ids[i])
			fresh = append(fresh, Message{ID: ids[i], ConversationID: convID, Type: m.Type, SenderID: m.Sender, Text: m.Text,
				Custom: m.Custom.orEmpty(), Origin: OriginImport, CreatedAt: m.At(), ReadBy: []string{}, Attachment: file,
				Seq: c.LastSeq + int64(len(fresh)) + 1})
			keyed = append(keyed, m.IdempotencyKey)
			readers = append(readers, m.ReadBy)
		}
		if len(fresh) == 0 {
			return nil
		}
		if err := w.InsertMessages(c, fresh, keyed); err != nil {
			return err
		}
		if err := w.takeFiles(c, files); err != nil {
			return err
		}
		stored = len(fresh)
		for i, m := range fresh {
			for _, u := range readers[i] {
				if _, err := w.SetReadPointer(c, u, m.Seq, m.ID); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return ids, stored, nil
}

// importedPeople checks the people an import names: each sender a user of
// the app (erased or not), each reader a participant.
func (w *change) importedPeople(c *Conversation, msgs []ImportedMessage) error {
	checked := map[string]bool{}
	for i, m := range msgs {
		field := strconv.Itoa(i) + "."
		if m.Sender != nil && !checked[*m.Sender] {
			// An erased user's messages are history too.
			if _, err := w.User(w.app, *m.Sender); ErrorCode(err) == EUserNotFound {
				return &Error{Code: EUserNotFound, Message: ErrorMessage(err), Fields: map[string]string{field + "sender": "unknown user"}}
			} else if err != nil {
				return err
			}
			checked[*m.Sender] = true
		}
		if len(m.ReadBy) == 0 {
			continue
		}
		members, err := w.Members(c, m.ReadBy)
		if err != nil {
			return err
		}
		for _, u := range m.ReadBy {
			if !members[u].Current() {
				return Invalid(field+"readBy", fmt.Sprintf("%q is not a participant of this conversation", u))
			}
		}
	}
	return nil
}

// batchKeys are the idempotency keys a batch used so far: sender and key
// to the new message's id.
type batchKeys map[string]string

func (k *batchKeys) remember(sender string, key *string, id string) {
	if key != nil {
		if *k == nil {
			*k = batchKeys{}
		}
		(*k)[sender+"\x00"+*key] = id
	}
}

// answered is the id an idempotency key answers already (none without a
// key): a message of this batch, or a stored one that used it since since.
func (w *change) answered(k *batchKeys, c *Conversation, sender string, key *string, since int64) (string, error) {
	if key == nil {
		return "", nil
	}
	if id := (*k)[sender+"\x00"+*key]; id != "" {
		return id, nil
	}
	return w.IdempotentMessage(c, sender, *key, since)
}

// checkSender applies the write rules to a sender.
func (w *change) checkSender(c *Conversation, sender string, surface Surface) error {
	f, err := w.SenderFacts(w.app, c, sender)
	if err != nil {
		return err
	}
	return w.checkSenderFacts(c, sender, surface, f)
}

// checkSenderFacts is checkSender with the facts SenderFacts read.
func (w *change) checkSenderFacts(c *Conversation, sender string, surface Surface, f *SenderFacts) (err error) {
	if f != nil {
		facts := WriteFacts{Conversation: c.ID, Moderation: activeModeration(f.Moderation, w.now), Member: f.Member}
		if f.Member.Current() && f.Member.Access == ReadWrite && f.Other != "" {
			if facts.Blocked, err = w.Blocked(w.app, f.Other, sender); err != nil {
				return err
			}
		}
		return CheckWrite(facts, surface)
	}
	// Unknown, erased, or never a participant: read apart for the answer.
	mod, err := w.UserModeration(w.app, sender)
	if ErrorCode(err) == EUserNotFound && surface == Backend {
		return &Error{Code: EUserNotFound, Message: ErrorMessage(err), Fields: map[string]string{"sender": "unknown user"}}
	} else if err != nil {
		return err
	}
	m, err := w.Member(c, sender)
	if err != nil {
		return err
	}
	facts := WriteFacts{Conversation: c.ID, Moderation: activeModeration(mod, w.now), Member: m}
	if m.Current() && m.Access == ReadWrite {
		if facts.Blocked, err = w.blockedInDirect(c, sender); err != nil {
			return err
		}
	}
	return CheckWrite(facts, surface)
}

// blockedInDirect reports whether the conversation is direct (exactly two
// current participants) and the other one blocked sender.
func (w *change) blockedInDirect(c *Conversation, sender string) (bool, error) {
	ids, err := w.CurrentMembers(c, 3)
	if err != nil || len(ids) != 2 {
		return false, err
	}
	other := ids[0]
	if other == sender {
		other = ids[1]
	}
	return w.Blocked(w.app, other, sender)
}

// Messages implements MessageService: newest first.
func (s *Service) Messages(ctx context.Context, appID, convID string, page Page) ([]Message, error) {
	var out []Message
	err := s.read(ctx, func(tx Tx) error {
		c, err := tx.Conversation(appID, convID)
		if err != nil {
			return err
		}
		if out, err = tx.Messages(c, nil, page); err != nil {
			return err
		}
		return s.linkList(tx, appID, s.now(), out)
	})
	return out, err
}

// MessagesFor implements MessageService: a participant reads up to their
// freeze point; anyone else learns nothing.
func (s *Service) MessagesFor(ctx context.Context, appID, convID, userID string, page Page) ([]Message, error) {
	var out []Message
	err := s.read(ctx, func(tx Tx) error {
		c, m, err := convForMember(tx, appID, convID, userID)
		if err != nil {
			return err
		}
		if out, err = tx.Messages(c, m.FrozenSeq, page); err != nil {
			return err
		}
		return s.linkList(tx, appID, s.now(), out)
	})
	return out, err
}

// Message implements MessageService.
func (s *Service) Message(ctx context.Context, appID, convID, msgID string) (*Message, error) {
	var out *Message
	err := s.read(ctx, func(tx Tx) error {
		c, err := tx.Conversation(appID, convID)
		if err != nil {
			return err
		}
		if out, err = tx.Message(c, msgID); err != nil {
			return err
		}
		return s.link(tx, appID, s.now(), out)
	})
	return out, err
}

// EditMessage implements MessageService.
func (s *Service) EditMessage(ctx context.Context, appID, convID, msgID string, p *MessagePatch) (*Message, error) {
	if err := Check(p, ""); err != nil {
		return nil, err
	}
	var filter *ContentFilter
	if p.Text != nil {
		var err error
		if filter, err = s.contentFilter(ctx, appID); err != nil {
			return nil, err
		}
	}
	var out *Message
	err := s.write(ctx, appID, func(w *change) error {
		c, err := w.LockConversation(appID, convID)
		if err != nil {
			return err
		}
		m, err := w.Message(c, msgID)
		switch {
		case err != nil:
			return err
		case m.Deleted:
			return Errorf(EConflict, "The message was erased with its sender's data: it cannot be edited.")
		case p.Text == nil && p.Custom == nil:
			out = m // nothing to change: not an edit
			return nil
		}
		if p.Text != nil {
			m.Text = *p.Text
			if m.Type == UserMessage {
				if m.Text, err = screen(filter, m.Text, ""); err != nil {
					return err
				}
			}
		}
		if p.Custom != nil {
			m.Custom = *p.Custom
		}
		out, err = w.edit(c, m)
		return err
	})
	return out, err
}

// edit stores an edited message.
func (w *change) edit(c *Conversation, m *Message) (*Message, error) {
	m.EditedAt = &w.now
	if err := w.UpdateMessage(c, m); err != nil {
		return nil, err
	}
	w.emitMeta(EventMessageUpdated, EventData{ConversationID: c.ID, Message: m}, &EventMeta{Seq: m.Seq})
	return m, nil
}

// DeleteMessage implements MessageService: the message is gone.
func (s *Service) DeleteMessage(ctx context.Context, appID, convID, msgID string) error {
	return s.write(ctx, appID, func(w *change) error {
		c, err := w.LockConversation(appID, convID)
		if err != nil {
			return err
		}
		return w.deleteMessage(c, msgID)
	})
}

func (w *change) deleteMessage(c *Conversation, msgID string) error {
	seq, err := w.DeleteMessage(c, msgID)
	if err != nil {
		return err
	}
	w.emitMeta(EventMessageDeleted, EventData{ConversationID: c.ID, MessageID: msgID}, &EventMeta{Seq: seq})
	return nil
}

// EditMessageAs implements MessageService.
func (s *Service) EditMessageAs(ctx context.Context, appID string, by Caller, convID, msgID string, text *string) (*Message, error) {
	filter, err := s.contentFilter(ctx, appID)
	if err != nil {
		return nil, err
	}
	var out *Message
	err = s.write(ctx, appID, func(w *change) error {
		c, _, m, err := w.visibleMessage(convID, msgID, by.UserID)
		if err != nil {
			return err
		}
		if m.SenderID == nil || *m.SenderID != by.UserID {
			return Errorf(EPermissionDenied, "Only the sender may edit a message.")
		}
		if err := w.checkSender(c, by.UserID, Client); err != nil {
			return err
		}
		if text == nil {
			text = new(string)
		}
		if err := ValidateText(*text); err != nil {
			return err
		}
		if m.Text, err = screen(filter, *text, ""); err != nil {
			return err
		}
		out, err = w.edit(c, m)
		return err
	})
	return out, err
}

// DeleteMessageAs implements MessageService. One's own message goes under
// the write rules, or by a moderator's right; another's needs
// messages.moderate, and a manager's is the backend's to delete.
func (s *Service) DeleteMessageAs(ctx context.Context, appID string, by Caller, convID, msgID string) error {
	return s.write(ctx, appID, func(w *change) error {
		c, me, m, err := w.visibleMessage(convID, msgID, by.UserID)
		if err != nil {
			return err
		}
		own := m.SenderID != nil && *m.SenderID == by.UserID
		notModerator := s.permit(w, appID, by, PermMessagesModerate)
		switch {
		case own && notModerator != nil:
			if err := w.checkSender(c, by.UserID, Client); err != nil {
				return err
			}
		case !own && notModerator != nil:
			return notModerator
		case !own && m.SenderID != nil:
			sender, err := w.User(appID, *m.SenderID)
			if err != nil {
				return err
			}
			if err := s.notManager(w, appID, sender); err != nil {
				return err
			}
		}
		if me.Removed {
			return Errorf(ERemoved, "You were removed from this conversation.")
		}
		if err := w.deleteMessage(c, msgID); err != nil || own {
			return err
		}
		sender := ""
		if m.SenderID != nil {
			sender = *m.SenderID
		}
		_, err = w.AppendAudit(appID, AuditEntry{Action: ActionMessageDelete, UserID: sender,
			ConversationID: &convID, MessageID: &msgID, Actor: by.Actor, CreatedAt: w.now})
		return err
	})
}

// visibleMessage locks the conversation and reads a message as a
// participant: conversation.not_found for a conversation never joined,
// message.not_found outside the user's view.
func (w *change) visibleMessage(convID, msgID, userID string) (*Conversation, *Member, *Message, error) {
	c, err := w.LockConversation(w.app, convID)
	if err != nil {
		return nil, nil, nil, err
	}
	me, err := w.Member(c, userID)
	if err != nil {
		return nil, nil, nil, err
	} else if me == nil {
		return nil, nil, nil, ErrConversationNotFound(convID)
	}
	m, err := w.Message(c, msgID)
	if err != nil {
		return nil, nil, nil, err
	}
	if !me.Sees(m.Seq) {
		return nil, nil, nil, ErrMessageNotFound()
	}
	return c, me, m, nil
}
