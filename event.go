package parley

import "sync"

// Event types (API.md section 11).
const (
	EventMessageSent         = "message.sent"
	EventMessageUpdated      = "message.updated"
	EventMessageDeleted      = "message.deleted"
	EventConversationCreated = "conversation.created"
	EventConversationUpdated = "conversation.updated"
	EventConversationDeleted = "conversation.deleted"
	EventParticipantAdded    = "participant.added"
	EventParticipantUpdated  = "participant.updated"
	EventParticipantRemoved  = "participant.removed"
	EventUserCreated         = "user.created"
	EventUserUpdated         = "user.updated"
	EventUserBanned          = "user.banned"
	EventUserSilenced        = "user.silenced"
	EventUserReactivated     = "user.reactivated"
	EventUserErased          = "user.erased"
	EventUserBlocked         = "user.blocked"
	EventUserUnblocked       = "user.unblocked"
)

// Event is one change, stored in the app's ordered log in the transaction
// that made the change and published after it commits. A change that
// touches many conversations at once (a ban, an erasure, a restore) is one
// event naming them in ConversationIDs, not one per conversation: it costs
// one row whatever the number, and a webhook receives one call. A change of
// a conversation's participants is participant.* and conversation.updated.
// The messages an erasure with eraseMessages empties get no event each:
// user.erased stands for them.
type Event struct {
	ID        string    `json:"id"`
	Cursor    string    `json:"cursor,omitempty"` // the position to resume after it, when read from the log
	Seq       int64     `json:"-"`                // position in the log, set when stored
	AppID     string    `json:"-"`
	Type      string    `json:"type"`
	CreatedAt int64     `json:"createdAt"`
	Data      EventData `json:"data"`
}

// EventData is what an event is about; each type sets the fields it needs.
type EventData struct {
	ConversationID string        `json:"conversationId,omitempty"`
	MessageID      string        `json:"messageId,omitempty"`
	UserID         string        `json:"userId,omitempty"`
	TargetUserID   string        `json:"targetUserId,omitempty"`
	Access         Access        `json:"access,omitempty"`
	Notify         Notify        `json:"notify,omitempty"`
	Message        *Message      `json:"message,omitempty"`
	Conversation   *Conversation `json:"conversation,omitempty"`
	User           *UserView     `json:"user,omitempty"`
	Moderation     *Moderation   `json:"moderation,omitempty"`
	Actor          Actor         `json:"actor,omitempty"`
	// ConversationIDs are the conversations a ban or an erasure removed the
	// user from, or a reactivation restored.
	ConversationIDs []string `json:"conversationIds,omitempty"`
}

// NewEventID returns "evt_" followed by 22 base62 characters.
func NewEventID() string { return "evt_" + RandomBase62(22) }

// Broker hands committed events to the subscribers of this process. It
// never waits for a subscriber: one whose buffer is full is dropped (its
// channel closed) and must catch up from the stored log.
type Broker struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// Subscription receives the events published after it was made, in commit
// order, until it is closed or dropped (C is closed then).
type Subscription struct {
	C      <-chan Event
	c      chan Event
	broker *Broker
}

// NewBroker returns a broker without subscribers.
func NewBroker() *Broker { return &Broker{subs: map[*Subscription]struct{}{}} }

// Subscribe returns a subscription whose buffer holds up to buffer events.
func (b *Broker) Subscribe(buffer int) *Subscription {
	c := make(chan Event, buffer)
	s := &Subscription{C: c, c: c, broker: b}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Close ends the subscription; closing twice does nothing.
func (s *Subscription) Close() {
	b := s.broker
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		close(s.c)
	}
}

// Publish hands events to every subscriber without blocking.
func (b *Broker) Publish(events []Event) {
	if b == nil || len(events) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		for _, e := range events {
			select {
			case s.c <- e:
				continue
			default:
			}
			delete(b.subs, s) // too slow: dropped, never waited for
			close(s.c)
			break
		}
	}
}
