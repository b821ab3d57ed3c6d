package api

import (
	"net/http"
	"strconv"

	parley "github.com/parley-chat/parley"
)

// listFilter reads TalkJS's conversation-list filters: unreadsOnly,
// lastMessageAfter and lastMessageBefore (ms).
func listFilter(r *http.Request) (parley.ListFilter, error) {
	q := r.URL.Query()
	var f parley.ListFilter
	if q.Has("unreadsOnly") {
		b, err := strconv.ParseBool(q.Get("unreadsOnly"))
		if err != nil {
			return f, parley.Invalid("unreadsOnly", "must be true or false")
		}
		f.UnreadOnly = b
	}
	for name, into := range map[string]**int64{"lastMessageAfter": &f.LastMessageAfter, "lastMessageBefore": &f.LastMessageBefore} {
		if q.Has(name) {
			n, err := strconv.ParseInt(q.Get(name), 10, 64)
			if err != nil || n < 0 {
				return f, parley.Invalid(name, "must be a time in milliseconds since 1970")
			}
			*into = &n
		}
	}
	return f, nil
}

// listParams reads a user's conversation list's paging and filters.
func listParams(r *http.Request) (parley.Page, parley.ListFilter, error) {
	page, err := pageParams(r)
	if err != nil {
		return page, parley.ListFilter{}, err
	}
	f, err := listFilter(r)
	return page, f, err
}

// markReadBy moves a participant's read pointer to the newest message in
// their view (TalkJS's readBy).
func (s *Server) markReadBy(w http.ResponseWriter, r *http.Request) {
	convID, err := conversationIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	userID, err := userIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// TalkJS sends no body; one that is sent must be an empty object.
	if err := decode(w, r, &struct{}{}, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Reads.MarkRead(r.Context(), appID(r), caller(r), convID, userID, ""); err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, struct{}{})
}

// readBody is POST /me/conversations/{id}/read's optional body.
type readBody struct {
	MessageID *string `json:"messageId"`
}

// meMarkRead moves the caller's read pointer.
func (s *Server) meMarkRead(w http.ResponseWriter, r *http.Request) {
	convID, err := conversationIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var body readBody
	if err := decode(w, r, &body, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	msgID := ""
	if body.MessageID != nil {
		if !parley.ValidID(*body.MessageID) {
			s.writeError(w, r, parley.Invalid("messageId", "must be a message id"))
			return
		}
		msgID = *body.MessageID
	}
	if err := s.Reads.MarkRead(r.Context(), appID(r), caller(r), convID, principal(r).UserID, msgID); err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, struct{}{})
}
