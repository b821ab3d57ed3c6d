package api

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	parley "github.com/parley-chat/parley"
)

// statuses maps every error code to its HTTP status: the one table.
var statuses = map[string]int{
	parley.EInvalid:              http.StatusBadRequest,
	parley.ETooLarge:             http.StatusRequestEntityTooLarge,
	parley.EUnsupportedMedia:     http.StatusUnsupportedMediaType,
	parley.ERateLimited:          http.StatusTooManyRequests,
	parley.ERouteNotFound:        http.StatusNotFound,
	parley.EMethodNotAllowed:     http.StatusMethodNotAllowed,
	parley.EAppNotFound:          http.StatusNotFound,
	parley.EAuthMissingToken:     http.StatusUnauthorized,
	parley.EAuthMissingIDOrToken: http.StatusUnauthorized,
	parley.EAuthInvalidToken:     http.StatusUnauthorized,
	parley.EAuthExpiredToken:     http.StatusUnauthorized,
	parley.EAuthDenied:           http.StatusForbidden,
	parley.EUserNotFound:         http.StatusNotFound,
	parley.EConversationNotFound: http.StatusNotFound,
	parley.EParticipantNotFound:  http.StatusNotFound,
	parley.EMessageNotFound:      http.StatusNotFound,
	parley.EReadOnly:             http.StatusForbidden,
	parley.ERemoved:              http.StatusForbidden,
	parley.ESenderNotParticipant: http.StatusForbidden,
	parley.ERemovedByAdmin:       http.StatusForbidden,
	parley.EUserBanned:           http.StatusForbidden,
	parley.EUserSilenced:         http.StatusForbidden,
	parley.EUserBlocked:          http.StatusForbidden,
	parley.EBlockSelf:            http.StatusBadRequest,
	parley.EUsersSyncDisabled:    http.StatusForbidden,
	parley.EConvSyncDisabled:     http.StatusForbidden,
	parley.EPermissionDenied:     http.StatusForbidden,
	parley.EBanSelf:              http.StatusBadRequest,
	parley.ESilenceSelf:          http.StatusBadRequest,
	parley.EReactivateSelf:       http.StatusBadRequest,
	parley.EConflict:             http.StatusConflict,
	parley.EInternal:             http.StatusInternalServerError,
	parley.EStorageUnavailable:   http.StatusServiceUnavailable,
	parley.ECursorExpired:        http.StatusGone,
	parley.EWebhookNotFound:      http.StatusNotFound,
	parley.EReportNotFound:       http.StatusNotFound,
	parley.EBlockedContent:       http.StatusBadRequest,
}

type errorBody struct {
	ErrorCode string            `json:"errorCode"`
	Message   string            `json:"message"`
	Fields    map[string]string `json:"fields,omitempty"`
}

// writeError writes every error response. Errors that are not application
// errors are logged and answered with a bare "internal": their text never
// reaches the client.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := parley.ErrorCode(err)
	body := errorBody{ErrorCode: code, Message: parley.ErrorMessage(err)}
	if e := (*parley.Error)(nil); errors.As(err, &e) {
		body.Fields = e.Fields
		if e.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(parley.RetrySeconds(e.RetryAfter)))
		}
	}
	status, ok := statuses[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	// A user named inside a body (a participant, a sender) is a bad request,
	// not a missing resource.
	if code == parley.EUserNotFound && len(body.Fields) > 0 {
		status = http.StatusBadRequest
	}
	if status >= 500 {
		s.Logger.LogAttrs(r.Context(), slog.LevelError, "server error", slog.String("code", code),
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	}
	writeJSON(w, status, body)
}

func notFound(what string) *parley.Error {
	return parley.Errorf(parley.ERouteNotFound, "There is no route %s.", what)
}

func (s *Server) routeNotFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, notFound(r.Method+" "+r.URL.Path))
}

// methodNotAllowed answers 405 with the methods the path takes in Allow,
// as HTTP requires (chi gives them only to its own handler).
func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.Routes != nil {
		path := r.URL.RawPath
		if path == "" {
			path = r.URL.Path
		}
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if rctx.Routes.Match(chi.NewRouteContext(), m, path) {
				allow = append(allow, m)
			}
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
	}
	s.writeError(w, r, parley.Errorf(parley.EMethodNotAllowed, "%s is not allowed on %s.", r.Method, strings.TrimSpace(r.URL.Path)))
}
