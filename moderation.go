package parley

import (
	"context"
	"time"
)

// Audit log actions.
const (
	ActionBan               = "ban"
	ActionSilence           = "silence"
	ActionReactivate        = "reactivate"
	ActionParticipantRemove = "participant.remove"
	ActionParticipantUpdate = "participant.update"
	ActionMessageDelete     = "message.delete"
	ActionBlock             = "block"
	ActionUnblock           = "unblock"
	ActionErase             = "erase"
)

// MaxReasonRunes bounds a moderation reason.
const MaxReasonRunes = 1024

// Restriction is a ban or a silence: why, and until when (nil: until
// reactivated).
type Restriction struct {
	Reason    *string `json:"reason" validate:"omitnil,max=1024"`
	ExpiresAt *int64  `json:"expiresAt"`
}

// ValidateAt checks what tags cannot: an expiry must lie in the future.
func (r *Restriction) ValidateAt(now time.Time) error {
	if r.ExpiresAt != nil && *r.ExpiresAt <= now.UnixMilli() {
		return Invalid("expiresAt", "must be in the future (Unix epoch milliseconds)")
	}
	return nil
}

// AuditEntry is one line of the append-only audit log.
type AuditEntry struct {
	ID             string
	Action         string
	UserID         string // the user acted upon (the blocker, for blocks)
	TargetUserID   *string
	ConversationID *string
	MessageID      *string
	Actor          Actor
	Reason         *string
	ExpiresAt      *int64
	CreatedAt      int64
}

// SearchQuery is a user search: a case-insensitive substring of the name,
// an optional badge, and a 1-based page.
type SearchQuery struct {
	Q     string
	Badge string
	Page  int
}

// ModerationService bans, silences, reactivates and keeps the audit log.
type ModerationService interface {
	// Ban locks the user out and, unless told otherwise, removes them from
	// every conversation in one transaction.
	Ban(ctx context.Context, appID, userID string, r Restriction, removeFromConversations bool, by Actor) error
	// Silence stops the user sending; it does nothing to a banned user.
	Silence(ctx context.Context, appID, userID string, r Restriction, by Actor) error
	// Reactivate lifts a ban or silence; with restore, the memberships that
	// bans removed since the last reactivation come back.
	Reactivate(ctx context.Context, appID, userID string, restore bool, by Actor) error
	// Restricted lists banned and silenced users (state "" for both), most
	// recently restricted first.
	Restricted(ctx context.Context, appID, state string, page Page) ([]User, error)
	// AuditLog lists entries about userID (any user when ""), newest first.
	AuditLog(ctx context.Context, appID, userID string, page Page) ([]AuditEntry, error)
	// Erase clears the user's profile, removes them everywhere, drops their
	// blocks and, with eraseMessages, their messages' text and custom data.
	Erase(ctx context.Context, appID, userID string, eraseMessages bool, by Actor) error
	// Search finds users who are not erased; last reports whether no later
	// page has results.
	Search(ctx context.Context, appID string, q SearchQuery) (users []User, last bool, err error)
}
