package parley

import "time"

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
	ID             string  `json:"id"`
	Action         string  `json:"action"`
	UserID         string  `json:"userId"` // the user acted upon (the blocker, for blocks)
	TargetUserID   *string `json:"targetUserId"`
	ConversationID *string `json:"conversationId"`
	MessageID      *string `json:"messageId"`
	Actor          Actor   `json:"actor"`
	Reason         *string `json:"reason"`
	ExpiresAt      *int64  `json:"expiresAt"`
	CreatedAt      int64   `json:"createdAt"`
}

// MaxSearchPage is the last page a search may ask for.
const MaxSearchPage = 10000

// SearchQuery is a user search: a case-insensitive substring of the name,
// an optional badge, and a 1-based page.
type SearchQuery struct {
	Q     string
	Badge string
	Page  int
}
