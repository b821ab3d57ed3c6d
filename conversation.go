package parley

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Conversation is a chat between participants.
type Conversation struct {
	ID              string   `json:"id"`
	Subject         *string  `json:"subject"`
	PhotoURL        *string  `json:"photoUrl"`
	WelcomeMessages []string `json:"welcomeMessages"`
	Custom          Custom   `json:"custom"`
	CreatedAt       int64    `json:"createdAt"`
	// CreatedBy is who created it (nil for conversations older than the
	// record), so that a backend can tell that a client took an id first.
	CreatedBy    *Actor                 `json:"createdBy"`
	LastMessage  *Message               `json:"lastMessage"`
	Participants map[string]Participant `json:"participants"` // current participants only
	// PK is the store's key of the row, opaque to everyone else.
	PK int64 `json:"-"`
	// LastSeq is the sequence number of the last message: the clock of
	// freeze points.
	LastSeq int64 `json:"-"`
}

// Participant is a current participant's access and notification setting.
type Participant struct {
	Access Access `json:"access"`
	Notify Notify `json:"notify"`
}

// Membership is one user's place in a conversation, removed ones included:
// an item of a user's conversation list.
type Membership struct {
	Conversation
	Access    *Access `json:"access"` // nil when removed
	RemovedAt *int64  `json:"removedAt"`
	// UnreadMessageCount counts the messages in the user's view after their
	// read pointer, their own left out (at most MaxUnreadCount).
	UnreadMessageCount int  `json:"unreadMessageCount"`
	IsUnread           bool `json:"isUnread"`
}

// MaxUnreadCount bounds an unread count: counting walks the unread part of
// the conversation's index, so a user who never read a busy conversation
// costs a bounded walk, not one of its whole history.
const MaxUnreadCount = 10000

// ListFilter narrows a user's conversation list (TalkJS's filters).
type ListFilter struct {
	UnreadOnly bool
	// LastMessageAfter and LastMessageBefore keep conversations whose last
	// message in the user's view was created after or before (ms).
	LastMessageAfter, LastMessageBefore *int64
}

// ConversationPatch creates or updates a conversation; absent fields are left alone.
type ConversationPatch struct {
	Participants    []string           `json:"participants"`
	Subject         Optional[string]   `json:"subject"`
	PhotoURL        Optional[string]   `json:"photoUrl"`
	WelcomeMessages Optional[[]string] `json:"welcomeMessages"`
	Custom          Optional[Custom]   `json:"custom"`
}

// Limits of conversation fields.
const (
	MaxSubjectRunes      = 1024
	MaxWelcomeMessages   = 10
	MaxPatchParticipants = 1000
)

// Validate checks every field that is set.
func (p *ConversationPatch) Validate() error {
	f := map[string]string{}
	if len(p.Participants) > MaxPatchParticipants {
		f["participants"] = fmt.Sprintf("must have at most %d entries", MaxPatchParticipants)
	}
	for _, id := range p.Participants {
		if !ValidUserID(id) {
			f["participants"] = "entries must be valid user ids"
			break
		}
	}
	if p.Subject.Set && utf8.RuneCountInString(p.Subject.Value) > MaxSubjectRunes {
		f["subject"] = fmt.Sprintf("must be at most %d characters", MaxSubjectRunes)
	}
	if p.PhotoURL.Set && !p.PhotoURL.Null && !ValidURL(p.PhotoURL.Value) {
		f["photoUrl"] = fmt.Sprintf("must be an http or https URL of at most %d bytes", MaxURLBytes)
	}
	if len(p.WelcomeMessages.Value) > MaxWelcomeMessages {
		f["welcomeMessages"] = fmt.Sprintf("must have at most %d entries", MaxWelcomeMessages)
	}
	for _, m := range p.WelcomeMessages.Value {
		if n := utf8.RuneCountInString(m); n == 0 || n > MaxWelcomeRunes {
			f["welcomeMessages"] = fmt.Sprintf("entries must be 1 to %d characters", MaxWelcomeRunes)
		}
	}
	if err := p.Custom.Value.Validate(); err != nil {
		f["custom"] = err.Error()
	}
	if len(f) > 0 {
		return &Error{Code: EInvalid, Message: "The conversation is invalid.", Fields: f}
	}
	return nil
}

// Access is what a participant may do in a conversation.
type Access string

// Access rights.
const (
	ReadWrite Access = "ReadWrite"
	Read      Access = "Read"
	NoAccess  Access = "None"
)

// Valid reports whether a is one of the three access rights.
func (a Access) Valid() bool { return a == ReadWrite || a == Read || a == NoAccess }

// ReadsLive reports whether the access sees every message, new ones included.
func (a Access) ReadsLive() bool { return a == ReadWrite || a == Read }

// Notify is a participant's notification setting: true, false or "MentionsOnly".
type Notify string

// Notification settings.
const (
	NotifyOn           Notify = "true"
	NotifyOff          Notify = "false"
	NotifyMentionsOnly Notify = "MentionsOnly"
)

// MarshalJSON writes the booleans as JSON booleans.
func (n Notify) MarshalJSON() ([]byte, error) {
	if n == NotifyMentionsOnly {
		return []byte(`"MentionsOnly"`), nil
	}
	return []byte(string(n)), nil
}

// UnmarshalJSON accepts true, false and "MentionsOnly".
func (n *Notify) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true":
		*n = NotifyOn
	case "false":
		*n = NotifyOff
	case `"MentionsOnly"`:
		*n = NotifyMentionsOnly
	default:
		return fmt.Errorf("notify must be true, false or \"MentionsOnly\"")
	}
	return nil
}

// UnmarshalJSON refuses anything but the three access rights.
func (a *Access) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil || !Access(s).Valid() {
		return fmt.Errorf("access must be \"ReadWrite\", \"Read\" or \"None\"")
	}
	*a = Access(s)
	return nil
}
