package api

import (
	"net/http"
	"strconv"

	parley "github.com/parley-chat/parley"
)

// banBody is the body of a ban; silence takes the restriction alone.
type banBody struct {
	parley.Restriction
	RemoveFromConversations *bool `json:"removeFromConversations"`
}

type reactivateBody struct {
	RestoreConversations *bool `json:"restoreConversations"`
}

// decodeThen checks the path's user id, decodes an optional body and hands
// it to act.
func decodeThen[B any](s *Server, act func(http.ResponseWriter, *http.Request, *B)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body B
		_, err := userIDParam(r)
		if err == nil {
			err = decode(w, r, &body, true)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		act(w, r, &body)
	}
}

// The actions, shared by the backend and the moderators of the client
// surface: the service applies each surface's rules.

func (s *Server) ban(w http.ResponseWriter, r *http.Request, b *banBody) {
	remove := b.RemoveFromConversations == nil || *b.RemoveFromConversations
	s.actOnUser(w, r, func(id string) error {
		return s.Moderation.Ban(r.Context(), appID(r), caller(r), id, b.Restriction, remove)
	})
}

func (s *Server) silence(w http.ResponseWriter, r *http.Request, b *parley.Restriction) {
	s.actOnUser(w, r, func(id string) error {
		return s.Moderation.Silence(r.Context(), appID(r), caller(r), id, *b)
	})
}

func (s *Server) reactivate(w http.ResponseWriter, r *http.Request, b *reactivateBody) {
	restore := b.RestoreConversations != nil && *b.RestoreConversations
	s.actOnUser(w, r, func(id string) error {
		return s.Moderation.Reactivate(r.Context(), appID(r), caller(r), id, restore)
	})
}

// actOnUser runs act on the path's user and answers {}.
func (s *Server) actOnUser(w http.ResponseWriter, r *http.Request, act func(userID string) error) {
	id, err := userIDParam(r)
	if err == nil {
		err = act(id)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, empty)
}

// restrictedUsers lists banned and silenced users.
func (s *Server) restrictedUsers(w http.ResponseWriter, r *http.Request) {
	if !s.managerOrBackend(w, r) {
		return
	}
	state := r.URL.Query().Get("state")
	if state != "" && state != parley.StateBanned && state != parley.StateSilenced {
		s.writeError(w, r, parley.Invalid("state", "must be banned or silenced"))
		return
	}
	page, err := pageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	users, err := s.Moderation.Restricted(r.Context(), appID(r), state, page)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := newUserViews(users, s.now())
	ok(w, list[[]*parley.UserView]{out})
}

func (s *Server) auditLog(w http.ResponseWriter, r *http.Request) {
	if !s.managerOrBackend(w, r) {
		return
	}
	userID := r.URL.Query().Get("userId")
	if r.URL.Query().Has("userId") && !parley.ValidUserID(userID) {
		s.writeError(w, r, parley.Invalid("userId", "must be a valid user id"))
		return
	}
	page, err := pageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	entries, err := s.Moderation.AuditLog(r.Context(), appID(r), userID, page)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, list[[]parley.AuditEntry]{nonNil(entries)})
}

// eraseUser is DELETE /users/{userId}: erasure.
func (s *Server) eraseUser(w http.ResponseWriter, r *http.Request) {
	id, err := userIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	eraseMessages, err := boolParam(r, "eraseMessages")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Moderation.Erase(r.Context(), appID(r), id, eraseMessages, principal(r).Actor()); err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, empty)
}

// boolParam reads an optional true/false query parameter.
func boolParam(r *http.Request, name string) (bool, error) {
	q := r.URL.Query()
	if !q.Has(name) {
		return false, nil
	}
	v, err := strconv.ParseBool(q.Get(name))
	if err != nil {
		return false, parley.Invalid(name, "must be true or false")
	}
	return v, nil
}

type searchView[T any] struct {
	Results    []T  `json:"results"`
	IsLastPage bool `json:"isLastPage"`
}

// searchParams reads q, badge and page (from 1, default 1).
func searchParams(r *http.Request) (parley.SearchQuery, error) {
	q := r.URL.Query()
	sq := parley.SearchQuery{Q: q.Get("q"), Badge: q.Get("badge"), Page: 1}
	if q.Has("page") {
		n, err := strconv.Atoi(q.Get("page"))
		if err != nil || n < 1 || n > parley.MaxSearchPage {
			return sq, parley.Invalid("page", "must be a whole number from 1 to 10000")
		}
		sq.Page = n
	}
	if len(sq.Q) > 255 {
		return sq, parley.Invalid("q", "must be at most 255 bytes")
	}
	return sq, nil
}

// search runs the user search of the request's query.
func (s *Server) search(r *http.Request) ([]parley.User, bool, error) {
	q, err := searchParams(r)
	if err != nil {
		return nil, false, err
	}
	return s.Moderation.Search(r.Context(), appID(r), q)
}

func (s *Server) searchUsers(w http.ResponseWriter, r *http.Request) {
	users, last, err := s.search(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := newUserViews(users, s.now())
	ok(w, searchView[*parley.UserView]{out, last})
}

func (s *Server) userBlocks(w http.ResponseWriter, r *http.Request) {
	id, err := userIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	users, err := s.Blocks.Blocks(r.Context(), appID(r), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := newUserViews(users, s.now())
	ok(w, list[[]*parley.UserView]{out})
}

func (s *Server) putUserBlock(w http.ResponseWriter, r *http.Request) {
	s.backendBlock(w, r, s.Blocks.Block)
}

func (s *Server) deleteUserBlock(w http.ResponseWriter, r *http.Request) {
	s.backendBlock(w, r, s.Blocks.Unblock)
}

// managerOrBackend lets the backend through, and a client whose role grants
// users.manage: GET /me/moderation/users and /me/moderation/log answer as
// the backend's routes, so a moderator's console needs no admin credential.
// It answers the refusal itself.
func (s *Server) managerOrBackend(w http.ResponseWriter, r *http.Request) bool {
	by := caller(r)
	if by.Surface != parley.Client {
		return true
	}
	if err := s.Moderation.Authorize(r.Context(), appID(r), by, "", parley.PermUsersManage); err != nil {
		s.writeError(w, r, err)
		return false
	}
	return true
}
