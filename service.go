package parley

import "context"

// Paging limits.
const (
	DefaultLimit = 30
	MaxLimit     = 100
	MaxLookupIDs = 100
	MaxUserBatch = 100
)

// Page selects one page of a list: at most Limit items after the item whose
// id is StartingAfter ("" for the first page).
type Page struct {
	Limit         int
	StartingAfter string
}

// Actor names who did something, for the audit log: "key:<keyId>", "cli" or
// "user:<userId>".
type Actor string

// KeyActor is the actor of a request made with a secret key or app JWT.
func KeyActor(keyID string) Actor { return Actor("key:" + keyID) }

// UserActor is the actor of a moderator acting from the client surface.
func UserActor(userID string) Actor { return Actor("user:" + userID) }

// IsUser reports whether the actor is a moderator acting from the client surface.
func (a Actor) IsUser() bool { return len(a) > 5 && a[:5] == "user:" }

// CLIActor is the actor of the command line.
const CLIActor Actor = "cli"

// AppService reads apps and their settings.
type AppService interface {
	// CheckApp returns an app.not_found error for an unknown app.
	CheckApp(ctx context.Context, appID string) error
	Settings(ctx context.Context, appID string) (Settings, error)
	UpdateSettings(ctx context.Context, appID string, p *SettingsPatch) (Settings, error)
}

// Session is what authenticating a client request needs, read at once:
// the app's settings and active keys, and the state of the claimed user.
type Session struct {
	Settings Settings
	Keys     []Key
	// UserExists is false for a user never created (or no user claimed).
	UserExists  bool
	UserDeleted bool
	Moderation  *Moderation // in force now, or nil
	Role        *string     // the user's role, which selects their permissions
}

// SessionService reads sessions.
type SessionService interface {
	ClientSession(ctx context.Context, appID, userID string) (*Session, error)
}

// KeyService finds secret keys for authentication.
type KeyService interface {
	// KeyByHash returns the key whose secret hashes to hash, active or not.
	KeyByHash(ctx context.Context, hash []byte) (*Key, error)
	// ActiveKeys returns the app's keys that may be used now.
	ActiveKeys(ctx context.Context, appID string) ([]Key, error)
}

// UserService manages users.
type UserService interface {
	PutUser(ctx context.Context, appID, userID string, p *UserPatch) error
	// PutUsers applies every patch or none.
	PutUsers(ctx context.Context, appID string, patches map[string]*UserPatch) error
	User(ctx context.Context, appID, userID string) (*User, error)
	Users(ctx context.Context, appID string, page Page) ([]User, error)
	// LiveUsers is Users without erased users.
	LiveUsers(ctx context.Context, appID string, page Page) ([]User, error)
	UsersByIDs(ctx context.Context, appID string, ids []string) ([]User, error)
	UsersByExternalIDs(ctx context.Context, appID string, externalIDs []string) ([]User, error)
	// UserConversations lists every conversation the user takes part in or
	// was removed from, by latest activity the user may see.
	UserConversations(ctx context.Context, appID, userID string, page Page) ([]Membership, error)
	// CurrentConversationIDs lists the conversations the user takes part in now.
	CurrentConversationIDs(ctx context.Context, appID, userID string) ([]string, error)
	// Touch records client activity; it writes at most about once a minute per user.
	Touch(ctx context.Context, appID, userID string) error
}

// BlockService keeps who blocked whom.
type BlockService interface {
	// Block is idempotent; the blocked user must exist.
	Block(ctx context.Context, appID, blocker, blocked string, by Actor) error
	Unblock(ctx context.Context, appID, blocker, blocked string, by Actor) error
	// Blocks lists the users userID blocked, by id.
	Blocks(ctx context.Context, appID, userID string) ([]User, error)
}

// ParticipantPatch changes only the fields that are set.
type ParticipantPatch struct {
	Access *Access `json:"access"`
	Notify *Notify `json:"notify"`
}

// ConversationService manages conversations and their participants.
type ConversationService interface {
	PutConversation(ctx context.Context, appID, convID string, p *ConversationPatch) error
	Conversation(ctx context.Context, appID, convID string) (*Conversation, error)
	Conversations(ctx context.Context, appID string, page Page) ([]Conversation, error)
	DeleteConversation(ctx context.Context, appID, convID string) error
	// PutParticipant adds the user or overwrites their access and notify.
	PutParticipant(ctx context.Context, appID, convID, userID string, p Participant) error
	// PatchParticipant changes a current participant. A change of access by
	// a moderator (a user actor) is logged.
	PatchParticipant(ctx context.Context, appID, convID, userID string, p ParticipantPatch, by Actor) error
	// RemoveParticipant removes the user, freezing their view; removing a
	// user who is not a participant does nothing.
	RemoveParticipant(ctx context.Context, appID, convID, userID string, by Actor) error

	// ConversationFor is the conversation as a participant (current or
	// removed) sees it; conversation.not_found for anyone else.
	ConversationFor(ctx context.Context, appID, convID, userID string) (*Membership, error)
	// SyncConversation is a client's get-or-create: it applies the patch under
	// the client rules (sticky removals, sync setting, access, blocks) and
	// answers the conversation as the caller sees it.
	SyncConversation(ctx context.Context, appID, convID, userID string, p *ConversationPatch, syncAllowed bool) (*Membership, error)
}

// MessageService sends and manages messages.
type MessageService interface {
	// SendMessages stores every message or none and returns their ids in
	// order. The surface decides the refusals and the origin.
	SendMessages(ctx context.Context, appID, convID string, msgs []NewMessage, s Surface) ([]string, error)
	// MessagesFor lists what a participant may read, newest first.
	MessagesFor(ctx context.Context, appID, convID, userID string, page Page) ([]Message, error)
	Messages(ctx context.Context, appID, convID string, page Page) ([]Message, error)
	Message(ctx context.Context, appID, convID, msgID string) (*Message, error)
	EditMessage(ctx context.Context, appID, convID, msgID string, p *MessagePatch) (*Message, error)
	DeleteMessage(ctx context.Context, appID, convID, msgID string) error
	// EditMessageAs edits the user's own message under the write rules.
	EditMessageAs(ctx context.Context, appID, convID, msgID, userID, text string) (*Message, error)
	// DeleteMessageAs deletes a message the user may see: their own under the
	// write rules, another's when moderation is nil (the user may moderate
	// messages; otherwise moderation is the refusal to answer).
	DeleteMessageAs(ctx context.Context, appID, convID, msgID, userID string, moderation error) error
}
