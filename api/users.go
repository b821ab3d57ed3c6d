package api

import (
	"context"
	"net/http"

	parley "github.com/parley-chat/parley"
)

func (s *Server) putUser(w http.ResponseWriter, r *http.Request) {
	id, err := userIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var p parley.UserPatch
	if err := decode(w, r, &p, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Users.PutUser(r.Context(), appID(r), id, &p); err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, empty)
}

func (s *Server) putUsers(w http.ResponseWriter, r *http.Request) {
	var batch map[string]*parley.UserPatch
	if err := decode(w, r, &batch, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(batch) > parley.MaxUserBatch {
		s.writeError(w, r, parley.Errorf(parley.EInvalid, "A batch holds at most %d users.", parley.MaxUserBatch))
		return
	}
	fields := map[string]string{}
	for id, p := range batch {
		if !parley.ValidUserID(id) {
			fields[id] = "is not a valid user id"
			continue
		}
		if p == nil {
			fields[id] = "must be an object"
			continue
		}
		if err := check(p, id+"."); err != nil {
			if e, isApp := err.(*parley.Error); isApp {
				for k, v := range e.Fields {
					fields[k] = v
				}
				continue
			}
			s.writeError(w, r, err)
			return
		}
	}
	if len(fields) > 0 {
		s.writeError(w, r, &parley.Error{Code: parley.EInvalid, Message: "Some users are invalid; none was saved.", Fields: fields})
		return
	}
	if err := s.Users.PutUsers(r.Context(), appID(r), batch); err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, empty)
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	id, err := userIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.Users.User(r.Context(), appID(r), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, newUserView(u, s.now()))
}

// listUsers pages through all users, or looks users up by ids or external ids.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Has("ids") && q.Has("externalIds") {
		s.writeError(w, r, parley.Invalid("ids", "cannot be combined with externalIds"))
		return
	}
	switch {
	case q.Has("ids"):
		s.lookupUsers(w, r, "ids", parley.ValidUserID, s.Users.UsersByIDs, func(u *parley.User) string { return u.ID })
		return
	case q.Has("externalIds"):
		s.lookupUsers(w, r, "externalIds", parley.ValidExternalID, s.Users.UsersByExternalIDs,
			func(u *parley.User) string { return *u.ExternalID })
		return
	}
	page, err := pageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	users, err := s.Users.Users(r.Context(), appID(r), page)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.now()
	out := make([]userView, len(users))
	for i := range users {
		out[i] = newUserView(&users[i], now)
	}
	ok(w, list[[]userView]{out})
}

// lookupUsers answers {"data": {key: user}} for the ids in the query;
// unknown ids are left out.
func (s *Server) lookupUsers(w http.ResponseWriter, r *http.Request, param string, valid func(string) bool,
	find func(context.Context, string, []string) ([]parley.User, error), key func(*parley.User) string) {
	ids, err := idList(r, param, valid)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	users, err := find(r.Context(), appID(r), ids)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.now()
	out := make(map[string]userView, len(users))
	for i := range users {
		out[key(&users[i])] = newUserView(&users[i], now)
	}
	ok(w, list[map[string]userView]{out})
}

func (s *Server) userConversations(w http.ResponseWriter, r *http.Request) {
	id, err := userIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := pageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ms, err := s.Users.UserConversations(r.Context(), appID(r), id, page)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, list[[]membershipView]{newMembershipViews(ms)})
}
