package parley

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
	EventReadUpdated         = "read.updated"
	EventMessageRead         = "message.read"

	// Internal events: in the log so that every process learns of them,
	// never delivered. A stream checks its credential again on them.
	EventKeysChanged     = "app.keys_changed"
	EventSettingsChanged = "app.settings_changed"
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
	Seq       int64     `json:"-"`                // position in the log of every app, set when stored
	Pos       int64     `json:"-"`                // position among the app's events, set when stored: cursors name it
	AppID     string    `json:"-"`
	Type      string    `json:"type"`
	CreatedAt int64     `json:"createdAt"`
	Data      EventData `json:"data"`
	// Meta routes the event to the users who may receive it; never sent.
	Meta *EventMeta `json:"-"`
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
	// UnreadMessageCount is the reader's count after read.updated.
	UnreadMessageCount *int `json:"unreadMessageCount,omitempty"`
	// ConversationIDs are the conversations a ban or an erasure removed the
	// user from, or a reactivation restored.
	ConversationIDs []string `json:"conversationIds,omitempty"`
	// Report is a new report (report.created).
	Report *Report `json:"report,omitempty"`
	// ReportIDs are the reports one resolution closed, with the Resolution
	// (report.resolved).
	ReportIDs  []string          `json:"reportIds,omitempty"`
	Resolution *ReportResolution `json:"resolution,omitempty"`
}

// NewEventID returns "evt_" followed by 22 base62 characters.
func NewEventID() string { return "evt_" + RandomBase62(22) }
