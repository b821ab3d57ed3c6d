package api

import (
	"context"
	"net/http"

	parley "github.com/parley-chat/parley"
)

type blockChange func(ctx context.Context, appID, blocker, blocked string, by parley.Actor) error

// backendBlock is PUT or DELETE /users/{userId}/blocks/{otherUserId}.
func (s *Server) backendBlock(w http.ResponseWriter, r *http.Request, change blockChange) {
	blocker, err := userIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.changeBlock(w, r, blocker, "otherUserId", change)
}

// changeBlock blocks or unblocks, for blocker, the user named by the path
// parameter param.
func (s *Server) changeBlock(w http.ResponseWriter, r *http.Request, blocker, param string, change blockChange) {
	target, err := pathID(r, param, parley.ValidUserID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := change(r.Context(), appID(r), blocker, target, principal(r).Actor()); err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, empty)
}
