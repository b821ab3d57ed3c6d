package parley

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Error codes. The first word names the area; api maps each to an HTTP status.
const (
	EInvalid              = "request.invalid"
	ETooLarge             = "request.too_large"
	EUnsupportedMedia     = "request.unsupported_media_type"
	ERateLimited          = "rate_limited"
	ERouteNotFound        = "route.not_found"
	EMethodNotAllowed     = "method.not_allowed"
	EAppNotFound          = "app.not_found"
	EAuthMissingToken     = "auth.missing_token"
	EAuthMissingIDOrToken = "auth.missing_id_or_token"
	EAuthInvalidToken     = "auth.invalid_token"
	EAuthExpiredToken     = "auth.expired_token"
	EAuthDenied           = "auth.denied"
	EUserNotFound         = "user.not_found"
	EConversationNotFound = "conversation.not_found"
	EParticipantNotFound  = "participant.not_found"
	EMessageNotFound      = "message.not_found"
	EReadOnly             = "participant.read_only"
	ERemoved              = "participant.removed"
	ESenderNotParticipant = "message.sender_not_participant"
	ERemovedByAdmin       = "participant.removed_by_admin"
	EUserBanned           = "user.banned"
	EUserSilenced         = "user.silenced"
	EUserBlocked          = "user.blocked"
	EBlockSelf            = "user.block.self"
	EUsersSyncDisabled    = "sync.users_disabled"
	EConvSyncDisabled     = "sync.conversations_disabled"
	EPermissionDenied     = "permission.denied"
	EBanSelf              = "user.ban.self"
	ESilenceSelf          = "user.silence.self"
	EReactivateSelf       = "user.reactivate.self"
	EConflict             = "conflict"
	EInternal             = "internal"
	EStorageUnavailable   = "storage.unavailable"
	ECursorExpired        = "events.cursor_expired"
	ESlowConsumer         = "events.slow_consumer"
	EWebhookNotFound      = "webhook.not_found"
	EReportNotFound       = "report.not_found"
	EBlockedContent       = "message.blocked_content"
)

// Error is the one application error: a machine code, a sentence for humans,
// and for validation errors the offending fields.
type Error struct {
	Code    string
	Message string
	Fields  map[string]string
	// RetryAfter, when set, is when the same request may succeed (Retry-After).
	RetryAfter time.Duration
}

// StorageRetry is when a write refused because the database cannot be
// written (a full disk, a read-only file) may be tried again.
const StorageRetry = 5 * time.Second

// ErrStorageUnavailable answers a write the database could not take now.
func ErrStorageUnavailable(message string) error {
	return &Error{Code: EStorageUnavailable, Message: message, RetryAfter: StorageRetry}
}

// ErrRateLimited answers a request over a limit, to be tried again after retry.
func ErrRateLimited(message string, retry time.Duration) error {
	return &Error{Code: ERateLimited, Message: message, RetryAfter: max(retry, time.Second)}
}

// RetrySeconds is how a Retry-After header states retry: whole seconds,
// rounded up, at least one.
func RetrySeconds(retry time.Duration) int {
	return max(int(math.Ceil(retry.Seconds())), 1)
}

func (e *Error) Error() string {
	return e.Message + " (" + e.Code + ")"
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a request.invalid error naming one field.
func Invalid(field, problem string) *Error {
	return &Error{Code: EInvalid, Message: "The request is invalid.", Fields: map[string]string{field: problem}}
}

// ErrorCode returns the code of an application error, or EInternal for any other error.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the human message of an application error; other errors
// get a generic sentence so that internal detail never leaves the process.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "An internal error occurred."
}

// ErrNotInList answers a startingAfter that names no item of the list.
func ErrNotInList() error { return Invalid("startingAfter", "is not an item of this list") }

// Not-found errors, one wording wherever they arise.

// ErrAppNotFound answers an unknown app.
func ErrAppNotFound() error { return Errorf(EAppNotFound, "There is no app with this id.") }

// ErrUserNotFound answers an unknown (or, where it counts, erased) user.
func ErrUserNotFound(userID string) error {
	return Errorf(EUserNotFound, "There is no user %q.", userID)
}

// ErrConversationNotFound answers an unknown conversation, or one the
// caller never took part in.
func ErrConversationNotFound(convID string) error {
	return Errorf(EConversationNotFound, "There is no conversation %q.", convID)
}

// ErrMessageNotFound answers a message that is not there, or not in view.
func ErrMessageNotFound() error {
	return Errorf(EMessageNotFound, "There is no such message in this conversation.")
}

// ErrWebhookNotFound is the error of an unknown webhook id.
func ErrReportNotFound(id string) error {
	return Errorf(EReportNotFound, "There is no report %q.", id)
}

func ErrWebhookNotFound(id string) error {
	return Errorf(EWebhookNotFound, "There is no webhook %q.", id)
}
