package api

import (
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
	ok(w, u.ViewAt(s.now()))
}

// listUsers pages through all users, or looks users up by ids or external ids.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	found, all, err := s.lookupUsers(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.now()
	if !all {
		out := make(map[string]*parley.UserView, len(found))
		for k, u := range found {
			out[k] = u.ViewAt(now)
		}
		ok(w, list[map[string]*parley.UserView]{out})
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
	ok(w, list[[]*parley.UserView]{newUserViews(users, now)})
}

// lookupUsers finds the users named by ?ids= (keyed by id) or ?externalIds=
// (keyed by external id); unknown ids are left out. all is true when the
// query names neither: the caller wants the whole list.
func (s *Server) lookupUsers(r *http.Request) (found map[string]*parley.User, all bool, err error) {
	q := r.URL.Query()
	param, valid, find := "ids", parley.ValidUserID, s.Users.UsersByIDs
	key := func(u *parley.User) string { return u.ID }
	switch {
	case q.Has("ids") && q.Has("externalIds"):
		return nil, false, parley.Invalid("ids", "cannot be combined with externalIds")
	case q.Has("externalIds"):
		param, valid, find = "externalIds", parley.ValidExternalID, s.Users.UsersByExternalIDs
		key = func(u *parley.User) string { return *u.ExternalID }
	case !q.Has("ids"):
		return nil, true, nil
	}
	ids, err := idList(r, param, valid)
	if err != nil {
		return nil, false, err
	}
	users, err := find(r.Context(), appID(r), caller(r), ids)
	if err != nil {
		return nil, false, err
	}
	found = make(map[string]*parley.User, len(users))
	for i := range users {
		found[key(&users[i])] = &users[i]
	}
	return found, false, nil
}

func (s *Server) userConversations(w http.ResponseWriter, r *http.Request) {
	id, err := userIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, f, err := listParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ms, err := s.Users.UserConversations(r.Context(), appID(r), id, page, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, list[[]parley.Membership]{nonNil(ms)})
}
