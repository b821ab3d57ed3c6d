package parley

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// The moderation console (API.md section 16): a web page that signs a
// moderator in with a short-lived user token carried by a link.

// Lifetimes of a console link's token.
const (
	DefaultConsoleTTL = time.Hour
	MinConsoleTTL     = time.Minute
	MaxConsoleTTL     = 24 * time.Hour
)

// ConsoleLinkRequest asks for a console link for a moderator.
type ConsoleLinkRequest struct {
	UserID     string `json:"userId" validate:"required,userid"`
	TTLSeconds *int   `json:"ttlSeconds" validate:"omitnil,min=60,max=86400"`
}

// TTL is the token's lifetime: the one asked for, or DefaultConsoleTTL.
func (r *ConsoleLinkRequest) TTL() time.Duration {
	if r.TTLSeconds == nil {
		return DefaultConsoleTTL
	}
	return time.Duration(*r.TTLSeconds) * time.Second
}

// ConsoleKey returns the key that signs a console link for the user: keyID
// when it names an active key, else the active key that lasts longest. It
// refuses a user who could not use the console: unknown or erased
// (user.not_found, named as the body's userId), banned, or holding neither
// reports.review nor users.manage (permission.denied; a silenced user's
// permissions are suspended: user.silenced).
func (s *Service) ConsoleKey(ctx context.Context, appID, userID, keyID string) (*Key, error) {
	sess, err := s.ClientSession(ctx, appID, userID)
	if err != nil {
		return nil, err
	}
	switch {
	case !sess.UserExists || sess.UserDeleted:
		e := ErrUserNotFound(userID).(*Error)
		e.Fields = map[string]string{"userId": "is not a user of this app"}
		return nil, e
	case sess.Moderation != nil && sess.Moderation.State == StateBanned:
		return nil, Errorf(EUserBanned, "A banned user cannot sign in to the console.")
	}
	if err := sess.May(true, PermReportsReview); err != nil {
		if sess.May(true, PermUsersManage) != nil {
			if ErrorCode(err) == EPermissionDenied {
				err = Errorf(EPermissionDenied, "The console is for users whose role grants reports.review or users.manage.")
			}
			return nil, err
		}
	}
	if len(sess.Keys) == 0 {
		return nil, Errorf(EPermissionDenied, "The app has no active key to sign the link with.")
	}
	if i := slices.IndexFunc(sess.Keys, func(k Key) bool { return k.ID == keyID }); i >= 0 {
		return &sess.Keys[i], nil
	}
	// A key without expiry outlasts any other; among those, the newest.
	k := slices.MaxFunc(sess.Keys, func(a, b Key) int {
		if c := cmp.Compare(expiry(a), expiry(b)); c != 0 {
			return c
		}
		return cmp.Compare(a.CreatedAt, b.CreatedAt)
	})
	return &k, nil
}

// expiry is when a key stops working, the far future for never.
func expiry(k Key) int64 {
	if k.ExpiresAt == nil {
		return 1<<63 - 1
	}
	return *k.ExpiresAt
}
